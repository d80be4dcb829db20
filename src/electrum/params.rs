//! ElectrumX 1.20's parameter checks (`server/session.py`: `non_negative_integer`,
//! `assert_boolean`, `assert_tx_hash`, `scripthash_to_hashX`, `assert_hex_str`,
//! `assert_list_or_tuple`; `lib/coins.py`: the estimatefee mode whitelist and
//! `Bitcoin.bucket_estimatefee_block_target`) with their exact error messages, all
//! [`BAD_REQUEST`](super::jsonrpc::BAD_REQUEST) (code 1).
//!
//! ElectrumX builds its messages with f-strings, i.e. Python's `str()` of the value
//! ([`py_str`]); where it converts first (`value = int(value)`), the message shows the
//! converted value: `"-1.5"` is reported as `-1 should be a non-negative integer`.
//!
//! Python ints are unbounded, so [`non_negative_integer`] returns a [`PyInt`]: a height of
//! `"99999999999999999999"` is accepted and then reported as
//! `height 99,999,999,999,999,999,999 out of range`, exactly as ElectrumX does.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

use super::jsonrpc::RpcError;
use super::version::py_str;

/// CPython's limit on the digits of an int parsed from text (`sys.get_int_max_str_digits()`,
/// Python ≥ 3.10.7): longer literals raise `ValueError`.
pub const INT_MAX_STR_DIGITS: usize = 4300;

/// A Python int of any size: sign and canonical decimal digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PyInt {
    negative: bool,
    /// ASCII digits without leading zeros; `"0"` for zero (never negative).
    digits: String,
}

impl PyInt {
    /// Zero.
    pub fn zero() -> PyInt {
        PyInt {
            negative: false,
            digits: "0".to_owned(),
        }
    }

    /// From a sign and ASCII decimal digits (leading zeros allowed). `None` if `digits` is
    /// empty or not all ASCII digits.
    pub fn from_digits(negative: bool, digits: &str) -> Option<PyInt> {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let trimmed = digits.trim_start_matches('0');
        if trimmed.is_empty() {
            return Some(PyInt::zero());
        }
        Some(PyInt {
            negative,
            digits: trimmed.to_owned(),
        })
    }

    /// Python's `int(text)` (base 10): surrounding whitespace (ASCII, and non-ASCII
    /// `str.isspace` characters), an optional sign, then decimal digits — any Unicode decimal
    /// digit, e.g. `"١٢"` is 12 — with single underscores allowed between digits. At most
    /// [`INT_MAX_STR_DIGITS`] digits. `None` where Python raises `ValueError`.
    pub fn parse(text: &str) -> Option<PyInt> {
        // CPython first maps non-ASCII spaces to ' ' and non-ASCII decimal digits to ASCII; any
        // other non-ASCII character makes the literal invalid. ASCII is kept as it is.
        let mut ascii = String::with_capacity(text.len());
        for c in text.chars() {
            if c.is_ascii() && c != '\u{7f}' {
                ascii.push(c);
            } else if is_py_space(c) {
                ascii.push(' ');
            } else {
                ascii.push(char::from(b'0' + unicode_decimal(c)?));
            }
        }
        let body =
            ascii.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'));
        let (negative, body) = match body.as_bytes().first() {
            Some(b'-') => (true, &body[1..]),
            Some(b'+') => (false, &body[1..]),
            _ => (false, body),
        };
        let mut digits = String::with_capacity(body.len());
        let mut after_digit = false;
        for b in body.bytes() {
            match b {
                b'0'..=b'9' => {
                    digits.push(char::from(b));
                    after_digit = true;
                }
                b'_' if after_digit => after_digit = false,
                _ => return None,
            }
        }
        if !after_digit || digits.len() > INT_MAX_STR_DIGITS {
            return None;
        }
        PyInt::from_digits(negative, &digits)
    }

    /// Python's `int(x)` of a float: truncation toward zero, exact however large (`int(1e20)`
    /// is `100000000000000000000`). `None` for NaN and infinities (Python raises).
    pub fn from_f64(x: f64) -> Option<PyInt> {
        if !x.is_finite() {
            return None;
        }
        let t = x.trunc();
        if t.abs() < 1e18 {
            return Some(PyInt::from(t as i64));
        }
        // |t| ≥ 1e18 > 2^53: an integer mantissa × 2^exp with exp > 0.
        let bits = t.abs().to_bits();
        let exp = ((bits >> 52) & 0x7ff) as i64 - 1075;
        let mantissa = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
        // Little-endian base-10^9 limbs.
        let mut limbs: Vec<u64> = vec![mantissa % 1_000_000_000, mantissa / 1_000_000_000];
        let mut left = exp.max(0);
        while left > 0 {
            let shift = left.min(30);
            left -= shift;
            let mut carry = 0u64;
            for limb in &mut limbs {
                let v = (*limb << shift) + carry;
                *limb = v % 1_000_000_000;
                carry = v / 1_000_000_000;
            }
            while carry > 0 {
                limbs.push(carry % 1_000_000_000);
                carry /= 1_000_000_000;
            }
        }
        let mut text = String::new();
        for (i, limb) in limbs.iter().rev().enumerate() {
            if i == 0 {
                text.push_str(&limb.to_string());
            } else {
                text.push_str(&format!("{limb:09}"));
            }
        }
        PyInt::from_digits(t < 0.0, &text)
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The value as a `u64`, if it fits.
    pub fn to_u64(&self) -> Option<u64> {
        if self.negative {
            return None;
        }
        self.digits.parse().ok()
    }

    /// The value as a `u32` (heights, counts), if it fits.
    pub fn to_u32(&self) -> Option<u32> {
        self.to_u64().and_then(|v| u32::try_from(v).ok())
    }

    /// The value as an `i64`, if it fits.
    pub fn to_i64(&self) -> Option<i64> {
        let text = if self.negative {
            format!("-{}", self.digits)
        } else {
            self.digits.clone()
        };
        text.parse().ok()
    }

    /// The value as a `u64`, saturating: negative → 0, too large → `u64::MAX`.
    pub fn saturating_u64(&self) -> u64 {
        if self.negative {
            0
        } else {
            self.to_u64().unwrap_or(u64::MAX)
        }
    }

    /// Python's `f'{n:,d}'`: thousands separated by commas, `-1,234`.
    pub fn grouped(&self) -> String {
        let sign = if self.negative { "-" } else { "" };
        format!("{sign}{}", group_digits(&self.digits))
    }

    /// The value as JSON (`json.dumps` writes any int exactly); beyond `u64`/`i64` a float,
    /// the closest a `serde_json::Value` can hold.
    pub fn to_value(&self) -> Value {
        if let Some(u) = self.to_u64() {
            Value::from(u)
        } else if let Some(i) = self.to_i64() {
            Value::from(i)
        } else {
            self.to_string()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::Null, Value::Number)
        }
    }
}

impl From<i64> for PyInt {
    fn from(v: i64) -> PyInt {
        PyInt {
            negative: v < 0,
            digits: v.unsigned_abs().to_string(),
        }
    }
}

impl From<u64> for PyInt {
    fn from(v: u64) -> PyInt {
        PyInt {
            negative: false,
            digits: v.to_string(),
        }
    }
}

impl PartialOrd for PyInt {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PyInt {
    fn cmp(&self, other: &Self) -> Ordering {
        let magnitude = self
            .digits
            .len()
            .cmp(&other.digits.len())
            .then_with(|| self.digits.cmp(&other.digits));
        match (self.negative, other.negative) {
            (false, false) => magnitude,
            (true, true) => magnitude.reverse(),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
        }
    }
}

impl fmt::Display for PyInt {
    /// Python's `str(int)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative {
            f.write_str("-")?;
        }
        f.write_str(&self.digits)
    }
}

use crate::util::group_digits;
pub use crate::util::thousands;

/// Characters Python's `str.isspace` accepts beyond ASCII (`int()` strips them).
fn is_py_space(c: char) -> bool {
    matches!(
        c,
        '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

/// The first code point (digit zero) of each run of ten Unicode decimal digits (category Nd,
/// Unicode 14 as in Python 3.11).
const DECIMAL_ZEROS: &[u32] = &[
    0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66,
    0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90,
    0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
    0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650,
    0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50,
    0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
];

/// The value of a Unicode decimal digit (Python's `unicodedata.decimal`).
fn unicode_decimal(c: char) -> Option<u8> {
    let v = u32::from(c);
    DECIMAL_ZEROS
        .iter()
        .find(|&&zero| (zero..zero + 10).contains(&v))
        .map(|&zero| (v - zero) as u8)
}

fn bad(message: String) -> RpcError {
    RpcError::bad_request(message)
}

/// Python's `int(value)` of a JSON value, `None` where Python raises `ValueError` or
/// `TypeError`: bools are 0/1, ints exact, floats truncated, strings parsed by
/// [`PyInt::parse`]; null, lists and dicts are `TypeError`.
pub fn py_int(value: &Value) -> Option<PyInt> {
    match value {
        Value::Bool(b) => Some(PyInt::from(i64::from(*b))),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(PyInt::from(i))
            } else if let Some(u) = n.as_u64() {
                Some(PyInt::from(u))
            } else {
                n.as_f64().and_then(PyInt::from_f64)
            }
        }
        Value::String(s) => PyInt::parse(s),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// ElectrumX's `non_negative_integer(value)`: `int(value)` if that is `>= 0`; otherwise
/// `{value} should be a non-negative integer`, showing the converted int if the conversion
/// worked (`-1.5` → `-1 should be …`, `" -7 "` → `-7 should be …`) and the original value if
/// it did not (`x should be …`, `[1] should be …`, `None should be …`).
///
/// # Errors
/// `BAD_REQUEST` with ElectrumX's message.
pub fn non_negative_integer(value: &Value) -> Result<PyInt, RpcError> {
    match py_int(value) {
        Some(n) if !n.is_negative() => Ok(n),
        Some(n) => Err(bad(format!("{n} should be a non-negative integer"))),
        None => Err(bad(format!(
            "{} should be a non-negative integer",
            py_str(value)
        ))),
    }
}

/// Python's `value in (False, True)`, i.e. `value == False or value == True`: true for the
/// bools and for numbers equal to 0 or 1 (`0`, `1`, `0.0`, `-0.0`, `1.0`); `Some(truthiness)`
/// then, `None` for anything else. This is the test behind ElectrumX's `"verbose" must be a
/// boolean` and `"merkle" must be a boolean`.
pub fn py_false_or_true(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => {
            let x = n
                .as_i64()
                .map(|i| i as f64)
                .or_else(|| n.as_u64().map(|u| u as f64))
                .or_else(|| n.as_f64())?;
            if x == 0.0 {
                Some(false)
            } else if x == 1.0 {
                Some(true)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// ElectrumX's `assert_boolean(value)`: [`py_false_or_true`], else
/// `{value} should be a boolean value`.
///
/// # Errors
/// `BAD_REQUEST` with ElectrumX's message.
pub fn assert_boolean(value: &Value) -> Result<bool, RpcError> {
    py_false_or_true(value)
        .ok_or_else(|| bad(format!("{} should be a boolean value", py_str(value))))
}

/// Python's `bytes.fromhex(text)`: pairs of hex digits (either case), with ASCII whitespace
/// (space, `\t`, `\n`, `\v`, `\f`, `\r`) allowed before each pair and at the end but not
/// inside a pair. `None` where Python raises `ValueError`.
pub fn py_fromhex(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 2);
    let mut i = 0;
    while i < bytes.len() {
        if matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            i += 1;
            continue;
        }
        let hi = hex_digit(bytes[i])?;
        let lo = hex_digit(*bytes.get(i + 1)?)?;
        out.push(hi << 4 | lo);
        i += 2;
    }
    Some(out)
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// ElectrumX's `hex_str_to_hash`: `bytes.fromhex(value)` reversed (display order → internal
/// order). `None` where Python raises (`TypeError` for a non-string).
pub fn hex_str_to_hash(value: &Value) -> Option<Vec<u8>> {
    let Value::String(s) = value else {
        return None;
    };
    let mut bytes = py_fromhex(s)?;
    bytes.reverse();
    Some(bytes)
}

fn hash32(value: &Value) -> Option<[u8; 32]> {
    hex_str_to_hash(value).and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
}

/// ElectrumX's `assert_tx_hash(value)`: the 32-byte hash in internal byte order, else
/// `{value} should be a transaction hash`. Like ElectrumX it tolerates whitespace between
/// byte pairs (`bytes.fromhex`); note that ElectrumX passes the *original* string on to the
/// daemon in `blockchain.transaction.get`.
///
/// # Errors
/// `BAD_REQUEST` with ElectrumX's message.
pub fn assert_tx_hash(value: &Value) -> Result<[u8; 32], RpcError> {
    hash32(value).ok_or_else(|| bad(format!("{} should be a transaction hash", py_str(value))))
}

/// ElectrumX's `scripthash_to_hashX(scripthash)` without the final truncation to `HASHX_LEN`:
/// the 32-byte script hash in internal byte order (as `sha256(script)` gives it, what
/// [`HashX::from_script_hash`](crate::index::HashX::from_script_hash) takes), else
/// `{scripthash} is not a valid script hash`.
///
/// # Errors
/// `BAD_REQUEST` with ElectrumX's message.
pub fn script_hash(value: &Value) -> Result<[u8; 32], RpcError> {
    hash32(value).ok_or_else(|| bad(format!("{} is not a valid script hash", py_str(value))))
}

/// ElectrumX's `util.is_hex_str`: a string that `bytes.fromhex` accepts and that holds no
/// whitespace (length twice the byte count) — so an even number of hex digits, possibly zero.
pub fn is_hex_str(value: &Value) -> bool {
    match value {
        // Every byte of a string `bytes.fromhex` accepts is ASCII.
        Value::String(s) => py_fromhex(s).is_some_and(|b| s.len() == 2 * b.len()),
        _ => false,
    }
}

/// ElectrumX's `assert_hex_str(value)`: [`is_hex_str`], else `{value} should be a hex string`.
///
/// # Errors
/// `BAD_REQUEST` with ElectrumX's message.
pub fn assert_hex_str(value: &Value) -> Result<(), RpcError> {
    if is_hex_str(value) {
        Ok(())
    } else {
        Err(bad(format!("{} should be a hex string", py_str(value))))
    }
}

/// ElectrumX's `assert_list_or_tuple(value)`: the list, else `{value} should be a list`.
///
/// # Errors
/// `BAD_REQUEST` with ElectrumX's message.
pub fn assert_list_or_tuple(value: &Value) -> Result<&Vec<Value>, RpcError> {
    value
        .as_array()
        .ok_or_else(|| bad(format!("{} should be a list", py_str(value))))
}

/// `Coin.ESTIMATEFEE_MODES` (Bitcoin inherits it): `None`, `CONSERVATIVE`, `ECONOMICAL`.
pub const ESTIMATEFEE_MODES: &[&str] = &["CONSERVATIVE", "ECONOMICAL"];

/// `blockchain.estimatefee`'s mode check: `mode.upper() if isinstance(mode, str) else None`,
/// then the whitelist. Absent, null and every non-string (numbers, lists, …) mean no mode;
/// a string is upper-cased (Unicode-aware, as Python's `str.upper`) and must then be one of
/// [`ESTIMATEFEE_MODES`], else `unknown estimatefee mode: {MODE}` (the upper-cased text).
///
/// # Errors
/// `BAD_REQUEST` with ElectrumX's message.
pub fn estimatefee_mode(mode: Option<&Value>) -> Result<Option<&'static str>, RpcError> {
    let Some(Value::String(s)) = mode else {
        return Ok(None);
    };
    let upper = s.to_uppercase();
    ESTIMATEFEE_MODES
        .iter()
        .find(|&&m| m == upper)
        .map(|&m| Some(m))
        .ok_or_else(|| bad(format!("unknown estimatefee mode: {upper}")))
}

/// `Bitcoin.bucket_estimatefee_block_target(n)`: the block target actually asked of the
/// daemon (and the cache key), following Core's fee-estimation buckets: 1 for `n <= 1`, `n`
/// up to 12, 25 as is, even numbers up to 48, multiples of 24 up to 1008, then 1008.
pub fn bucket_estimatefee_block_target(n: u64) -> u64 {
    match n {
        0..=1 => 1,
        2..=12 | 25 => n,
        13..=48 => n / 2 * 2,
        49..=1008 => n / 24 * 24,
        _ => 1008,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nni(v: Value) -> Result<String, String> {
        non_negative_integer(&v)
            .map(|n| n.to_string())
            .map_err(|e| {
                assert_eq!(e.code, 1);
                e.message
            })
    }

    #[test]
    fn non_negative_integers() {
        assert_eq!(nni(json!(0)), Ok("0".into()));
        assert_eq!(nni(json!(5)), Ok("5".into()));
        assert_eq!(nni(json!(u64::MAX)), Ok(u64::MAX.to_string()));
        assert_eq!(nni(json!(true)), Ok("1".into()));
        assert_eq!(nni(json!(false)), Ok("0".into()));
        assert_eq!(nni(json!(1.9)), Ok("1".into()));
        assert_eq!(nni(json!(-0.5)), Ok("0".into()));
        assert_eq!(nni(json!(1e20)), Ok("100000000000000000000".into()));
        assert_eq!(nni(json!(" 12 ")), Ok("12".into()));
        assert_eq!(nni(json!("+1_000")), Ok("1000".into()));
        assert_eq!(nni(json!("007")), Ok("7".into()));
        assert_eq!(nni(json!("-0")), Ok("0".into()));
        assert_eq!(nni(json!("\u{661}\u{662}")), Ok("12".into()));
        assert_eq!(nni(json!("\u{a0}3\u{3000}")), Ok("3".into()));
        assert_eq!(
            nni(json!("99999999999999999999")),
            Ok("99999999999999999999".into())
        );
        let msg = |s: &str| Err(format!("{s} should be a non-negative integer"));
        assert_eq!(nni(json!(-1)), msg("-1"));
        assert_eq!(nni(json!(-1.5)), msg("-1"));
        assert_eq!(nni(json!(" -7 ")), msg("-7"));
        assert_eq!(nni(json!("-1_0")), msg("-10"));
        assert_eq!(nni(json!("x")), msg("x"));
        assert_eq!(nni(json!("1.0")), msg("1.0"));
        assert_eq!(nni(json!("")), msg(""));
        assert_eq!(nni(json!("1__0")), msg("1__0"));
        assert_eq!(nni(json!("_1")), msg("_1"));
        assert_eq!(nni(json!("1_")), msg("1_"));
        assert_eq!(nni(json!("- 1")), msg("- 1"));
        assert_eq!(nni(json!("0x10")), msg("0x10"));
        assert_eq!(nni(json!("\u{1c}1")), msg("\u{1c}1"));
        assert_eq!(nni(json!(null)), msg("None"));
        assert_eq!(nni(json!([1])), msg("[1]"));
        assert_eq!(nni(json!({"a": 1})), msg("{'a': 1}"));
        assert_eq!(nni(json!(-1e20)), msg("-100000000000000000000"));
        let long = "1".repeat(INT_MAX_STR_DIGITS);
        assert_eq!(nni(json!(long.clone())), Ok(long.clone()));
        let too_long = "1".repeat(INT_MAX_STR_DIGITS + 1);
        assert_eq!(nni(json!(too_long.clone())), msg(&too_long));
        let zeros = "0".repeat(INT_MAX_STR_DIGITS + 1);
        assert_eq!(nni(json!(zeros.clone())), msg(&zeros));
    }

    #[test]
    fn exact_float_truncation() {
        assert_eq!(
            PyInt::from_f64(1e300).map(|n| n.to_string()),
            Some(format!("{:.0}", 1e300))
        );
        assert_eq!(
            PyInt::from_f64(i64::MIN as f64).map(|n| n.to_string()),
            Some("-9223372036854775808".to_owned())
        );
        assert_eq!(
            PyInt::from_f64(f64::MAX).map(|n| n.to_string()),
            Some(format!("{:.0}", f64::MAX))
        );
        assert_eq!(PyInt::from_f64(f64::NAN), None);
        assert_eq!(
            PyInt::from_f64(-0.9).map(|n| n.to_string()),
            Some("0".into())
        );
    }

    #[test]
    fn pyint_order_and_format() {
        let p = |s: &str| PyInt::parse(s).unwrap_or_else(PyInt::zero);
        assert!(p("-10") < p("-9"));
        assert!(p("-1") < p("0"));
        assert!(p("9") < p("10"));
        assert!(p("99999999999999999999") > p("18446744073709551615"));
        assert_eq!(p("99999").grouped(), "99,999");
        assert_eq!(p("-1234567").grouped(), "-1,234,567");
        assert_eq!(p("100").grouped(), "100");
        assert_eq!(p("99999999999999999999").to_u64(), None);
        assert_eq!(p("4294967296").to_u32(), None);
        assert_eq!(p("4294967295").to_u32(), Some(u32::MAX));
        assert_eq!(p("-5").saturating_u64(), 0);
        assert_eq!(p("-5").to_i64(), Some(-5));
        assert_eq!(thousands(99_999u32), "99,999");
        assert_eq!(thousands(-1234i64), "-1,234");
        assert_eq!(thousands(0u8), "0");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn booleans() {
        for (v, want) in [
            (json!(true), Some(true)),
            (json!(false), Some(false)),
            (json!(0), Some(false)),
            (json!(1), Some(true)),
            (json!(0.0), Some(false)),
            (json!(-0.0), Some(false)),
            (json!(1.0), Some(true)),
            (json!(2), None),
            (json!("true"), None),
            (json!(null), None),
            (json!([]), None),
        ] {
            assert_eq!(py_false_or_true(&v), want, "{v}");
        }
        assert_eq!(
            assert_boolean(&json!("yes")).map_err(|e| e.message),
            Err("yes should be a boolean value".to_owned())
        );
        assert_eq!(
            assert_boolean(&json!(null)).map_err(|e| e.message),
            Err("None should be a boolean value".to_owned())
        );
    }

    #[test]
    fn hashes() {
        let hex = "8e40f6a0b357a1ddaf608dc1f462c6c350fce441622069e5d137fa0a41eee610";
        let h = assert_tx_hash(&json!(hex)).unwrap_or([0; 32]);
        assert_eq!(h[0], 0x10);
        assert_eq!(h[31], 0x8e);
        // bytes.fromhex tolerates whitespace between pairs, and either case.
        let spaced = format!(
            " {} \n",
            hex.to_uppercase()
                .as_bytes()
                .chunks(2)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert_eq!(assert_tx_hash(&json!(spaced)).ok(), Some(h));
        assert_eq!(script_hash(&json!(hex)).ok(), Some(h));
        let err = |v: Value| assert_tx_hash(&v).map_err(|e| e.message).err();
        assert_eq!(
            err(json!("zz")).as_deref(),
            Some("zz should be a transaction hash")
        );
        assert_eq!(
            err(json!(&hex[1..])).as_deref(),
            Some(&*format!("{} should be a transaction hash", &hex[1..]))
        );
        assert_eq!(
            err(json!(&hex[2..])).as_deref(),
            Some(&*format!("{} should be a transaction hash", &hex[2..]))
        );
        assert_eq!(
            err(json!(5)).as_deref(),
            Some("5 should be a transaction hash")
        );
        // A space inside a pair is not accepted.
        let split_pair = format!("{} {}", &hex[..1], &hex[1..]);
        assert!(err(json!(split_pair)).is_some());
        let serr = |v: Value| script_hash(&v).map_err(|e| e.message).err();
        assert_eq!(
            serr(json!("00")).as_deref(),
            Some("00 is not a valid script hash")
        );
        assert_eq!(
            serr(json!(7)).as_deref(),
            Some("7 is not a valid script hash")
        );
        assert_eq!(
            serr(json!(null)).as_deref(),
            Some("None is not a valid script hash")
        );
    }

    #[test]
    fn hex_strings_and_lists() {
        assert!(is_hex_str(&json!("")));
        assert!(is_hex_str(&json!("00aAfF")));
        assert!(!is_hex_str(&json!("0")));
        assert!(!is_hex_str(&json!("00 11")));
        assert!(!is_hex_str(&json!("0g")));
        assert!(!is_hex_str(&json!(12)));
        assert!(!is_hex_str(&json!("é0")));
        assert_eq!(
            assert_hex_str(&json!("xyz")).map_err(|e| e.message),
            Err("xyz should be a hex string".to_owned())
        );
        assert!(assert_list_or_tuple(&json!(["00"])).is_ok());
        assert_eq!(
            assert_list_or_tuple(&json!("00")).map_err(|e| e.message),
            Err("00 should be a list".to_owned())
        );
        assert_eq!(
            assert_list_or_tuple(&json!({"a": "b"})).map_err(|e| e.message),
            Err("{'a': 'b'} should be a list".to_owned())
        );
    }

    #[test]
    fn estimatefee() {
        assert_eq!(estimatefee_mode(None).ok(), Some(None));
        assert_eq!(estimatefee_mode(Some(&json!(null))).ok(), Some(None));
        assert_eq!(estimatefee_mode(Some(&json!(5))).ok(), Some(None));
        assert_eq!(estimatefee_mode(Some(&json!(["x"]))).ok(), Some(None));
        assert_eq!(
            estimatefee_mode(Some(&json!("economical"))).ok(),
            Some(Some("ECONOMICAL"))
        );
        assert_eq!(
            estimatefee_mode(Some(&json!("Conservative"))).ok(),
            Some(Some("CONSERVATIVE"))
        );
        assert_eq!(
            estimatefee_mode(Some(&json!("unset"))).map_err(|e| e.message),
            Err("unknown estimatefee mode: UNSET".to_owned())
        );
        assert_eq!(
            estimatefee_mode(Some(&json!(""))).map_err(|e| e.message),
            Err("unknown estimatefee mode: ".to_owned())
        );
        assert_eq!(
            estimatefee_mode(Some(&json!("straße"))).map_err(|e| e.message),
            Err("unknown estimatefee mode: STRASSE".to_owned())
        );
        let buckets: Vec<u64> = [
            0,
            1,
            2,
            12,
            13,
            14,
            25,
            26,
            48,
            49,
            71,
            72,
            1008,
            1009,
            u64::MAX,
        ]
        .iter()
        .map(|&n| bucket_estimatefee_block_target(n))
        .collect();
        assert_eq!(
            buckets,
            [1, 1, 2, 12, 12, 14, 25, 26, 48, 48, 48, 72, 1008, 1008, 1008]
        );
    }
}
