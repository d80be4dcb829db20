//! Python built-ins applied to JSON values as `json.loads` gives them: `int(value)`,
//! `bool(value)`, `value in (False, True)` and `bytes.fromhex(text)`.

use serde_json::Value;

use super::int::PyInt;

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

/// Python's `bool(value)` (what `if value:` tests): false for `None`, `False`, zero, and
/// empty strings, lists and dicts; true for anything else.
pub fn py_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn int_of_values() {
        let int = |v: Value| py_int(&v).map(|n| n.to_string());
        assert_eq!(int(json!(true)), Some("1".into()));
        assert_eq!(int(json!(-1.5)), Some("-1".into()));
        assert_eq!(int(json!(" +1_000 ")), Some("1000".into()));
        assert_eq!(int(json!("1.0")), None);
        assert_eq!(int(json!(null)), None);
        assert_eq!(int(json!([1])), None);
    }

    #[test]
    fn fromhex() {
        assert_eq!(py_fromhex(" 0a FF\n"), Some(vec![0x0a, 0xff]));
        assert_eq!(py_fromhex(""), Some(vec![]));
        assert_eq!(py_fromhex("0 a"), None);
        assert_eq!(py_fromhex("0g"), None);
        assert_eq!(py_fromhex("abc"), None);
    }
}
