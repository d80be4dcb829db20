//! Python's `int`: unbounded integers ([`PyInt`]), `int(text)` as CPython parses it, `int(x)`
//! of a float, and the `f'{n:,d}'` format ([`thousands`], [`group_digits`]).

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

use super::unicode;

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
            } else if unicode::is_non_ascii_space(c) {
                ascii.push(' ');
            } else {
                ascii.push(char::from(b'0' + unicode::decimal(c)?));
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

/// Groups a string of decimal digits by thousands: `"1234567"` → `"1,234,567"`.
pub fn group_digits(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Python's `f'{n:,d}'` for machine integers (ElectrumX's messages and logs): `99999` →
/// `"99,999"`, `-1234` → `"-1,234"`.
pub fn thousands(n: impl Into<i128>) -> String {
    let n: i128 = n.into();
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", group_digits(&n.unsigned_abs().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_as_python_prints_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(-1234), "-1,234");
        assert_eq!(thousands(12_345_678u64), "12,345,678");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
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
}
