//! Python's `str()` and `repr()` of values as `json.loads` returns them — what ElectrumX's
//! f-strings print in its messages (`f'{value} should be ...'`, `{e!r}`) — and of floats,
//! whose `repr` `json.dumps` also writes.

use std::fmt::Write as _;

use serde_json::Value;

use super::unicode;

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
pub fn write_seq<I: IntoIterator>(
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
pub fn write_py_number(out: &mut String, n: &serde_json::Number) {
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
pub fn write_py_str_repr(out: &mut String, s: &str) {
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
            c if unicode::is_printable(c) => out.push(c),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
