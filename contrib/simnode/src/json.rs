//! An ordered JSON value that prints numbers the way Bitcoin Core's `UniValue` does.
//!
//! Core prints amounts with exactly eight decimals (`0.00001000`), doubles with 16
//! significant digits (`4.656542373906925e-10`) and keeps object keys in insertion
//! order. `serde_json::Value` can do none of that without crate-wide feature flags
//! (`arbitrary_precision` would leak into every crate of the workspace), so responses
//! are built as [`Json`] and written with [`Json::write`]. Requests are still parsed
//! with `serde_json`.

use std::fmt::Write as _;

/// A JSON value as Bitcoin Core prints it.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    /// A double, printed like C++ `ostream << setprecision(16)` (`%.16g`).
    Float(f64),
    /// An amount in satoshis, printed in BTC with eight decimals.
    Amount(i64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// An empty object, to be filled with [`Json::push`].
    pub fn obj() -> Json {
        Json::Obj(Vec::new())
    }

    /// Appends `key: value` to an object (no-op on other variants).
    pub fn push(&mut self, key: &str, value: impl Into<Json>) -> &mut Json {
        if let Json::Obj(entries) = self {
            entries.push((key.to_string(), value.into()));
        }
        self
    }

    /// Builder form of [`Json::push`].
    pub fn with(mut self, key: &str, value: impl Into<Json>) -> Json {
        self.push(key, value);
        self
    }

    /// Looks a key up in an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Writes compact JSON (no spaces), as Core's `UniValue::write()`.
    pub fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Json::Float(f) => out.push_str(&format_double(*f)),
            Json::Amount(sats) => out.push_str(&format_amount(*sats)),
            Json::Str(s) => write_string(s, out),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Obj(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(k, out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    /// Compact JSON text.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }

    /// Converts to a `serde_json::Value` (amounts and floats become f64).
    pub fn to_value(&self) -> serde_json::Value {
        // Re-parse our own output: keeps one number formatting path.
        serde_json::from_str(&self.to_text()).unwrap_or(serde_json::Value::Null)
    }

    /// Converts a parsed `serde_json::Value` (e.g. a request's `id`) into [`Json`].
    pub fn from_value(v: &serde_json::Value) -> Json {
        match v {
            serde_json::Value::Null => Json::Null,
            serde_json::Value::Bool(b) => Json::Bool(*b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Json::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Json::Float(u as f64)
                } else {
                    Json::Float(n.as_f64().unwrap_or(0.0))
                }
            }
            serde_json::Value::String(s) => Json::Str(s.clone()),
            serde_json::Value::Array(a) => Json::Arr(a.iter().map(Json::from_value).collect()),
            serde_json::Value::Object(o) => Json::Obj(
                o.iter()
                    .map(|(k, v)| (k.clone(), Json::from_value(v)))
                    .collect(),
            ),
        }
    }
}

/// Formats satoshis as Core's `ValueFromAmount`: sign, integer BTC, eight decimals.
pub fn format_amount(sats: i64) -> String {
    let sign = if sats < 0 { "-" } else { "" };
    let abs = sats.unsigned_abs();
    format!("{sign}{}.{:08}", abs / 100_000_000, abs % 100_000_000)
}

/// Formats a double as C++ `ostream` with `setprecision(16)`, i.e. `%.16g`.
pub fn format_double(f: f64) -> String {
    if !f.is_finite() {
        return "null".to_string();
    }
    if f == 0.0 {
        return "0".to_string();
    }
    const P: i32 = 16;
    // Scientific form with P significant digits gives the decimal exponent after rounding.
    let sci = format!("{:.*e}", (P - 1) as usize, f);
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse::<i32>().unwrap_or(0)),
        None => (sci.clone(), 0),
    };
    if !(-4..P).contains(&exp) {
        let m = strip_zeros(&mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (P - 1 - exp).max(0) as usize;
        strip_zeros(&format!("{:.*}", decimals, f))
    }
}

fn strip_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    if !s
        .bytes()
        .any(|b| b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f)
    {
        // Fast path (hex blobs, hashes): nothing to escape.
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl From<bool> for Json {
    fn from(b: bool) -> Json {
        Json::Bool(b)
    }
}
impl From<i64> for Json {
    fn from(i: i64) -> Json {
        Json::Int(i)
    }
}
impl From<i32> for Json {
    fn from(i: i32) -> Json {
        Json::Int(i64::from(i))
    }
}
impl From<u32> for Json {
    fn from(i: u32) -> Json {
        Json::Int(i64::from(i))
    }
}
impl From<usize> for Json {
    fn from(i: usize) -> Json {
        Json::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}
impl From<u64> for Json {
    fn from(i: u64) -> Json {
        Json::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}
impl From<f64> for Json {
    fn from(f: f64) -> Json {
        Json::Float(f)
    }
}
impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::Str(s.to_string())
    }
}
impl From<String> for Json {
    fn from(s: String) -> Json {
        Json::Str(s)
    }
}
impl From<Vec<Json>> for Json {
    fn from(v: Vec<Json>) -> Json {
        Json::Arr(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_have_eight_decimals() {
        assert_eq!(format_amount(1000), "0.00001000");
        assert_eq!(format_amount(5_000_000_000), "50.00000000");
        assert_eq!(format_amount(-141), "-0.00000141");
        assert_eq!(format_amount(0), "0.00000000");
    }

    #[test]
    fn doubles_like_setprecision_16() {
        assert_eq!(
            format_double(4.656542373906925e-10),
            "4.656542373906925e-10"
        );
        assert_eq!(format_double(1.0), "1");
        assert_eq!(format_double(0.5), "0.5");
        assert_eq!(format_double(123456.0), "123456");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(0.00001), "1e-05");
        assert_eq!(format_double(1e16), "1e+16");
        assert_eq!(format_double(0.1), "0.1");
    }

    #[test]
    fn objects_keep_order_and_escape() {
        let j = Json::obj()
            .with("b", 1i64)
            .with("a", "x\"\n…")
            .with("c", Json::Arr(vec![Json::Null, Json::Amount(1)]));
        assert_eq!(
            j.to_text(),
            "{\"b\":1,\"a\":\"x\\\"\\n…\",\"c\":[null,0.00000001]}"
        );
    }
}
