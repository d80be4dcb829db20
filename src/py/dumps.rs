//! Python's `json.dumps(value, separators=(',', ':'))` as aiorpcx calls it: compact, keys in
//! insertion order, `ensure_ascii` (everything outside `' '..='~'` is `\uXXXX`, lowercase
//! hex, surrogate pairs above the BMP), floats as Python's `repr` (`1e-05`, `50.0`).

use std::fmt::Write as _;

use serde_json::Value;

use super::repr::{write_py_number, write_seq};

/// `json.dumps(value, separators=(',', ':'))` (ensure_ascii, Python float repr): the bytes
/// ElectrumX would send for a result.
pub fn dumps(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// [`dumps`], appended to `out`.
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_py_number(out, n),
        Value::String(s) => write_json_str(out, s),
        Value::Array(items) => write_seq(out, '[', ",", ']', items, write_value),
        Value::Object(map) => write_seq(out, '{', ",", '}', map, |out, (k, v)| {
            write_json_str(out, k);
            out.push(':');
            write_value(out, v);
        }),
    }
}

/// A JSON string as `json.dumps` (ensure_ascii) writes it.
pub fn write_json_str(out: &mut String, s: &str) {
    write_json_str_exact(out, s, &[]);
}

/// [`write_json_str`] for a decoded string whose lone surrogates are listed in `lone`.
pub fn write_json_str_exact(out: &mut String, s: &str, lone: &[(usize, u16)]) {
    out.push('"');
    let mut lone = lone.iter().peekable();
    // Characters written as themselves are copied a run at a time: `s[run..at]`.
    let mut run = 0;
    for (at, c) in s.char_indices() {
        let surrogate = lone.next_if(|(pos, _)| *pos == at).map(|&(_, unit)| unit);
        if surrogate.is_none() && matches!(c, ' '..='~') && c != '"' && c != '\\' {
            continue;
        }
        out.push_str(&s[run..at]);
        run = at + c.len_utf8();
        if let Some(unit) = surrogate {
            let _ = write!(out, "\\u{unit:04x}");
            continue;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push_str(&s[run..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_json() {
        let v = json!({"b": [1e-05, 50.0, 1e16, -0.0, u64::MAX, -3], "a": "\u{7f}\n\u{1}/\"\\😀"});
        assert_eq!(
            dumps(&v),
            r#"{"b":[1e-05,50.0,1e+16,-0.0,18446744073709551615,-3],"a":"\u007f\n\u0001/\"\\\ud83d\ude00"}"#
        );
    }

    #[test]
    fn strings_escape_only_what_python_escapes() {
        // Plain runs before, between and after escapes.
        assert_eq!(
            dumps(&json!("ab\"cd\\ef\u{e9}gh\u{1F600}ij\tkl ~")),
            r#""ab\"cd\\ef\u00e9gh\ud83d\ude00ij\tkl ~""#
        );
        assert_eq!(dumps(&json!("")), r#""""#);
    }
}
