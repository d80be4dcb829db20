//! Protocol version negotiation exactly as ElectrumX 1.20 does it (`lib/util.py`:
//! `protocol_tuple`, `version_string`, `protocol_version`), and Python's `str()`/`repr()` of
//! JSON values, which ElectrumX's error messages use (`f'{value} should be ...'`).
//!
//! A protocol version is a Python tuple of ints compared lexicographically, where a shorter
//! prefix is smaller: `(1, 6) < (1, 6, 0)`. The distinction is visible on the wire:
//! `server.version` answers `version_string(min(client_max, (1, 6, 0)))`, so a client asking
//! for `"1.6"` negotiates `"1.6"`, one asking for `"1.7"` negotiates `"1.6.0"`, and
//! `server.features` reports `protocol_max` as `"1.6.0"`. That is why [`ProtocolVersion`] keeps
//! every part the client sent instead of a fixed `(major, minor, patch)`.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};

use serde_json::Value;

use super::params::PyInt;

/// A protocol version as `util.protocol_tuple` makes it: a tuple of Python ints, ordered like
/// Python tuples (lexicographically, a proper prefix first). Parts are exact Python ints, so a
/// client's `"1.4.99999999999999999999"` or `"1.-1"` survives negotiation unchanged, as in
/// ElectrumX.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProtocolVersion(pub Vec<PyInt>);

impl ProtocolVersion {
    /// A version from small parts, e.g. `ProtocolVersion::new(&[1, 4, 2])`.
    pub fn new(parts: &[i64]) -> ProtocolVersion {
        ProtocolVersion(parts.iter().map(|&p| PyInt::from(p)).collect())
    }

    /// ElectrumX's `PROTOCOL_MIN`, `(1, 4)`.
    pub fn min_supported() -> ProtocolVersion {
        ProtocolVersion::new(PROTOCOL_MIN)
    }

    /// ElectrumX's `PROTOCOL_MAX`, `(1, 6, 0)`.
    pub fn max_supported() -> ProtocolVersion {
        ProtocolVersion::new(PROTOCOL_MAX)
    }

    /// `(0,)`: what `protocol_tuple` returns for anything it cannot parse.
    pub fn invalid() -> ProtocolVersion {
        ProtocolVersion::new(&[0])
    }

    /// Python's `self >= other` for tuples, with `other` given as small parts: how ElectrumX
    /// chooses its method table (`ptuple >= (1, 4, 2)`, `ptuple >= (1, 6)`).
    pub fn at_least(&self, other: &[i64]) -> bool {
        *self >= ProtocolVersion::new(other)
    }

    /// `util.version_string`: parts joined by dots, padded with zeros to at least two parts:
    /// `(1, 4)` → `"1.4"`, `(1, 6, 0)` → `"1.6.0"`, `(2,)` → `"2.0"`.
    pub fn version_string(&self) -> String {
        let mut parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        while parts.len() < 2 {
            parts.push("0".to_owned());
        }
        parts.join(".")
    }
}

impl PartialOrd for ProtocolVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ProtocolVersion {
    /// Python tuple comparison: element-wise, then the shorter tuple first.
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl fmt::Display for ProtocolVersion {
    /// The version string (`util.version_string`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.version_string())
    }
}

/// ElectrumX 1.20's `ElectrumX.PROTOCOL_MIN`.
pub const PROTOCOL_MIN: &[i64] = &[1, 4];
/// ElectrumX 1.20's `ElectrumX.PROTOCOL_MAX`: note the third part, which makes
/// `server.features` say `"protocol_max": "1.6.0"`.
pub const PROTOCOL_MAX: &[i64] = &[1, 6, 0];

/// `util.protocol_tuple(s)` for a string: `tuple(int(part) for part in s.split('.'))`, or `(0,)`
/// if any part is not a Python int literal (Python's `int()` rules: surrounding whitespace,
/// a sign, underscores between digits and Unicode decimal digits are all accepted, so
/// `" 1.+4"` is `(1, 4)`; `""` and `"1."` are `(0,)`).
pub fn protocol_tuple(s: &str) -> ProtocolVersion {
    let parts: Option<Vec<PyInt>> = s.split('.').map(PyInt::parse).collect();
    parts.map_or_else(ProtocolVersion::invalid, ProtocolVersion)
}

/// `util.protocol_tuple` of any JSON value: only strings have `.split`, anything else is `(0,)`.
pub fn protocol_tuple_of(value: &Value) -> ProtocolVersion {
    match value {
        Value::String(s) => protocol_tuple(s),
        _ => ProtocolVersion::invalid(),
    }
}

/// `util.protocol_version(client_req, min_tuple, max_tuple)`: the negotiated version (`None`
/// if unsupported) and the client's minimum.
///
/// `client_req` is `server.version`'s second argument: absent or JSON `null` means
/// `min_tuple` for both ends; a list of exactly two items is `[client_min, client_max]`; any
/// other value is both ends. The result is `min(client_max, max_tuple)`, rejected if it is
/// below `max(client_min, min_tuple)` or equals `(0,)`.
///
/// On `None` ElectrumX replies `unsupported protocol version: {protocol_version}` with
/// Python's `str()` of the raw argument ([`py_str`]) and disconnects.
pub fn protocol_version(
    client_req: Option<&Value>,
    min_tuple: &ProtocolVersion,
    max_tuple: &ProtocolVersion,
) -> (Option<ProtocolVersion>, ProtocolVersion) {
    let (client_min, client_max) = match client_req {
        None | Some(Value::Null) => (min_tuple.clone(), min_tuple.clone()),
        Some(Value::Array(pair)) if pair.len() == 2 => {
            (protocol_tuple_of(&pair[0]), protocol_tuple_of(&pair[1]))
        }
        Some(other) => {
            let t = protocol_tuple_of(other);
            (t.clone(), t)
        }
    };
    let result = (&client_max).min(max_tuple).clone();
    let floor = (&client_min).max(min_tuple);
    if result < *floor || result == ProtocolVersion::invalid() {
        (None, client_min)
    } else {
        (Some(result), client_min)
    }
}

/// [`protocol_version`] between ElectrumX 1.20's [`PROTOCOL_MIN`] and [`PROTOCOL_MAX`]: the
/// version `server.version` negotiates for its second argument, `None` if unsupported.
pub fn negotiate(client_req: Option<&Value>) -> Option<ProtocolVersion> {
    protocol_version(
        client_req,
        &ProtocolVersion::min_supported(),
        &ProtocolVersion::max_supported(),
    )
    .0
}

/// Python's `str()` of a JSON value as `json.loads` would have produced it: `None`, `True`,
/// `1`, `1.0`, `1e-05`, a string as itself, lists and dicts with `repr()` of their items
/// (`['1.4', '1.7']`, `{'a': 1}`).
///
/// This is what ElectrumX's f-strings print, e.g. `f'{value} should be a non-negative integer'`.
pub fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr()` of a JSON value (strings quoted as Python quotes them).
pub fn py_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

fn write_repr(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => write_py_number(out, n),
        Value::String(s) => write_py_str_repr(out, s),
        Value::Array(items) => write_seq(out, '[', ", ", ']', items, write_repr),
        Value::Object(map) => write_seq(out, '{', ", ", '}', map, |out, (k, v)| {
            write_py_str_repr(out, k);
            out.push_str(": ");
            write_repr(out, v);
        }),
    }
}

/// Writes `items` with `write`, separated by `sep`, between `open` and `close`: the shape of
/// every list and dict that `json.dumps` and Python's `repr()` write.
pub(super) fn write_seq<I: IntoIterator>(
    out: &mut String,
    open: char,
    sep: &str,
    close: char,
    items: I,
    mut write: impl FnMut(&mut String, I::Item),
) {
    out.push(open);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        write(out, item);
    }
    out.push(close);
}

/// Python's `str()` of a JSON number: an int as decimal digits, a float as [`py_float_repr`].
pub fn py_number_str(n: &serde_json::Number) -> String {
    let mut out = String::new();
    write_py_number(&mut out, n);
    out
}

/// [`py_number_str`], appended to `out`.
pub(super) fn write_py_number(out: &mut String, n: &serde_json::Number) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else {
        out.push_str(&py_float_repr(n.as_f64().unwrap_or(f64::NAN)));
    }
}

/// Python's `repr(float)` (also its `str()`): the shortest digits that round-trip, in fixed
/// notation when the decimal exponent is in `-4..16` (`0.0001`, `1000000000000000.0`), else
/// in exponent notation with a signed exponent of at least two digits (`1e-05`, `1e+16`,
/// `1.5e+300`); `nan`, `inf`, `-inf`; `-0.0`.
///
/// `json.dumps` uses the same text for finite floats (and `NaN`, `Infinity`, `-Infinity`).
pub fn py_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x == 0.0 {
        return format!("{sign}0.0");
    }
    // Rust prints the shortest round-trip digits, as Python's repr does; only the layout
    // differs.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let decpt = exp + 1; // value = 0.DIGITS × 10^decpt
    let n = digits.len() as i32;
    if decpt <= -4 || decpt > 16 {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{dot}{rest}e{esign}{:02}", exp.unsigned_abs())
    } else if decpt <= 0 {
        format!(
            "{sign}0.{}{digits}",
            "0".repeat(decpt.unsigned_abs() as usize)
        )
    } else if decpt >= n {
        format!("{sign}{digits}{}.0", "0".repeat((decpt - n) as usize))
    } else {
        let (int, frac) = digits.split_at(decpt as usize);
        format!("{sign}{int}.{frac}")
    }
}

/// Python's `repr()` of a string: single quotes unless the text contains `'` and no `"`;
/// backslash, the quote, `\t`, `\n`, `\r` escaped; other non-printable characters as `\xNN`,
/// `\uNNNN` or `\UNNNNNNNN`; printable non-ASCII characters kept.
///
/// Printability follows Python's `str.isprintable` for ASCII, Latin-1, the separators, the
/// common format characters, private use and noncharacters; code points unassigned in
/// Python's Unicode database are (unlike Python) treated as printable.
pub fn py_str_repr(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_py_str_repr(&mut out, s);
    out
}

/// [`py_str_repr`], appended to `out`.
pub(super) fn write_py_str_repr(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if py_is_printable(c) => out.push(c),
            c => {
                let v = u32::from(c);
                let _ = if v < 0x100 {
                    write!(out, "\\x{v:02x}")
                } else if v < 0x10000 {
                    write!(out, "\\u{v:04x}")
                } else {
                    write!(out, "\\U{v:08x}")
                };
            }
        }
    }
    out.push(quote);
}

/// Non-printable ranges (Python's `str.isprintable` is false) beyond ASCII: C1 controls and
/// NBSP, the separators (Zs, Zl, Zp), format characters (Cf), private use (Co) and
/// noncharacters, plus the wholly unassigned planes.
const NON_PRINTABLE: &[(u32, u32)] = &[
    (0x80, 0xa0),
    (0xad, 0xad),
    (0x600, 0x605),
    (0x61c, 0x61c),
    (0x6dd, 0x6dd),
    (0x70f, 0x70f),
    (0x890, 0x891),
    (0x8e2, 0x8e2),
    (0x1680, 0x1680),
    (0x180e, 0x180e),
    (0x2000, 0x200f),
    (0x2028, 0x202f),
    (0x205f, 0x2064),
    (0x2066, 0x206f),
    (0x3000, 0x3000),
    (0xe000, 0xf8ff),
    (0xfdd0, 0xfdef),
    (0xfeff, 0xfeff),
    (0xfff9, 0xfffb),
    (0x110bd, 0x110bd),
    (0x110cd, 0x110cd),
    (0x13430, 0x13438),
    (0x1bca0, 0x1bca3),
    (0x1d173, 0x1d17a),
    (0x3134b, 0xe00ff),
    (0xe01f0, 0x10ffff),
];

fn py_is_printable(c: char) -> bool {
    let v = u32::from(c);
    if v < 0x80 {
        return (0x20..0x7f).contains(&v);
    }
    if v & 0xfffe == 0xfffe {
        return false;
    }
    !NON_PRINTABLE.iter().any(|&(lo, hi)| (lo..=hi).contains(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(parts: &[i64]) -> ProtocolVersion {
        ProtocolVersion::new(parts)
    }

    #[test]
    fn version_strings() {
        assert_eq!(v(&[1, 4]).version_string(), "1.4");
        assert_eq!(v(&[1, 6, 0]).version_string(), "1.6.0");
        assert_eq!(v(&[1]).version_string(), "1.0");
        assert_eq!(v(&[0]).version_string(), "0.0");
        assert_eq!(ProtocolVersion::max_supported().to_string(), "1.6.0");
    }

    #[test]
    fn tuples() {
        assert_eq!(protocol_tuple("1.4"), v(&[1, 4]));
        assert_eq!(protocol_tuple("1.4.2"), v(&[1, 4, 2]));
        assert_eq!(protocol_tuple(" 1. +4 "), v(&[1, 4]));
        assert_eq!(protocol_tuple("1.4_0"), v(&[1, 40]));
        assert_eq!(protocol_tuple("1.-1"), v(&[1, -1]));
        assert_eq!(protocol_tuple("\u{661}.\u{664}"), v(&[1, 4]));
        for bad in ["", "1.", ".4", "1..4", "1.4a", "x", "1._4", "1.4_", "1.0x1"] {
            assert_eq!(protocol_tuple(bad), ProtocolVersion::invalid(), "{bad:?}");
        }
        assert_eq!(protocol_tuple_of(&json!(1.4)), ProtocolVersion::invalid());
        assert_eq!(protocol_tuple_of(&json!(null)), ProtocolVersion::invalid());
        let huge = protocol_tuple("1.4.99999999999999999999999");
        assert_eq!(huge.version_string(), "1.4.99999999999999999999999");
        assert!(huge > v(&[1, 4, 2]) && huge < v(&[1, 5]));
    }

    #[test]
    fn ordering_is_pythons() {
        assert!(v(&[1, 6]) < v(&[1, 6, 0]));
        assert!(v(&[1, 4, 2]) < v(&[1, 5]));
        assert!(v(&[1, -1]) < v(&[1]).max(v(&[1, 0])));
        assert!(v(&[0]) < v(&[1, 4]));
        assert!(v(&[1, 10]) > v(&[1, 9, 9]));
        assert!(v(&[1, 6]).at_least(&[1, 6]));
        assert!(!v(&[1, 4, 1]).at_least(&[1, 4, 2]));
    }

    /// Expected answers computed by ElectrumX 1.20's own `util.protocol_version`.
    #[test]
    fn negotiation() {
        let cases: &[(Option<Value>, Option<&str>, &[i64])] = &[
            (None, Some("1.4"), &[1, 4]),
            (Some(json!(null)), Some("1.4"), &[1, 4]),
            (Some(json!("1.4")), Some("1.4"), &[1, 4]),
            (Some(json!("1.4.2")), Some("1.4.2"), &[1, 4, 2]),
            (Some(json!("1.6")), Some("1.6"), &[1, 6]),
            (Some(json!("1.7")), None, &[1, 7]),
            (Some(json!("2")), None, &[2]),
            (Some(json!(["1.4", "1.4"])), Some("1.4"), &[1, 4]),
            (Some(json!(["1.4", "1.7"])), Some("1.6.0"), &[1, 4]),
            (Some(json!(["1.0", "1.5"])), Some("1.5"), &[1, 0]),
            (Some(json!(["1.2", "1.4"])), Some("1.4"), &[1, 2]),
            (Some(json!("1.3")), None, &[1, 3]),
            (Some(json!(["1.7", "1.8"])), None, &[1, 7]),
            (Some(json!("1.4x")), None, &[0]),
            (Some(json!(1.4)), None, &[0]),
            (Some(json!(["1.4"])), None, &[0]),
            (Some(json!(["1.4", "1.5", "1.6"])), None, &[0]),
            (Some(json!({"a": 1})), None, &[0]),
            (Some(json!(["1.4", 5])), None, &[1, 4]),
            (Some(json!([5, "1.5"])), Some("1.5"), &[0]),
            (Some(json!("1.6.0")), Some("1.6.0"), &[1, 6, 0]),
            (Some(json!("1.5.9")), Some("1.5.9"), &[1, 5, 9]),
            (Some(json!(" 1.5 ")), Some("1.5"), &[1, 5]),
            (Some(json!(["1.4", "1.6.0.1"])), Some("1.6.0"), &[1, 4]),
            (Some(json!(["1.4", "1.-1"])), None, &[1, 4]),
        ];
        for (req, want, want_min) in cases {
            let (got, client_min) = protocol_version(
                req.as_ref(),
                &ProtocolVersion::min_supported(),
                &ProtocolVersion::max_supported(),
            );
            assert_eq!(got.map(|p| p.version_string()).as_deref(), *want, "{req:?}");
            assert_eq!(client_min, v(want_min), "{req:?}");
            assert_eq!(
                negotiate(req.as_ref())
                    .map(|p| p.version_string())
                    .as_deref(),
                *want
            );
        }
        let huge = negotiate(Some(&json!("1.4.99999999999999999999999")));
        assert_eq!(
            huge.map(|p| p.version_string()).as_deref(),
            Some("1.4.99999999999999999999999")
        );
    }

    #[test]
    fn python_str_and_repr() {
        assert_eq!(py_str(&json!(["1.4", "1.7"])), "['1.4', '1.7']");
        assert_eq!(py_str(&json!(null)), "None");
        assert_eq!(py_str(&json!(true)), "True");
        assert_eq!(py_str(&json!(1.0)), "1.0");
        assert_eq!(py_str(&json!(-5)), "-5");
        assert_eq!(py_str(&json!("x y")), "x y");
        assert_eq!(py_repr(&json!("x y")), "'x y'");
        assert_eq!(
            py_str(&json!({"a": 1, "b": [null, true, 1.5]})),
            "{'a': 1, 'b': [None, True, 1.5]}"
        );
        assert_eq!(py_str(&json!({})), "{}");
        assert_eq!(py_str(&json!([])), "[]");
        assert_eq!(py_str(&json!(["it's"])), "[\"it's\"]");
        assert_eq!(py_str(&json!(["say \"hi\""])), "['say \"hi\"']");
        assert_eq!(py_str(&json!(["both '\""])), "['both \\'\"']");
        assert_eq!(py_str(&json!(["\\"])), "['\\\\']");
        assert_eq!(
            py_str_repr(
                "\t\n\r\u{1}\u{7f}\u{80}\u{a0}\u{ad} é \u{2028} 😀 \u{e000} \u{f0000} \u{fffe}"
            ),
            "'\\t\\n\\r\\x01\\x7f\\x80\\xa0\\xad é \\u2028 😀 \\ue000 \\U000f0000 \\ufffe'"
        );
    }

    #[test]
    fn float_repr() {
        let cases = [
            (1e-05, "1e-05"),
            (50.0, "50.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1.5e300, "1.5e+300"),
            (123456789.123, "123456789.123"),
            (0.1, "0.1"),
            (-2.5e-7, "-2.5e-07"),
            (1234567890123456.8, "1234567890123456.8"),
            (12345678901234567.0, "1.2345678901234568e+16"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (0.00012, "0.00012"),
            (100.0, "100.0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ];
        for (x, want) in cases {
            assert_eq!(py_float_repr(x), want, "{x:e}");
        }
    }
}
