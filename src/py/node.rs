//! A value as Python's `json.loads` returns it ([`Node`]): everything serde_json cannot hold
//! is kept (unbounded ints, `NaN` and the infinities, lone surrogates in strings, a repeated
//! key's first place), so that ids echo exactly and messages print Python's `str()`.

use serde_json::{Map, Value};

use super::dumps::{write_json_str, write_json_str_exact};
use super::repr::{py_float_repr, write_py_str_repr, write_seq};

/// A value as Python's `json.loads` returns it.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// `None`.
    Null,
    /// `True` or `False`.
    Bool(bool),
    /// An int, as its canonical decimal text (`-0` is `0`).
    Int(String),
    /// A float (`NaN`, `Infinity` and `-Infinity` included).
    Float(f64),
    /// A string; `lone` lists the lone surrogate escapes Python keeps (byte offset in
    /// `text` of the U+FFFD standing for each, and its code unit), so ids echo exactly.
    Str {
        /// The text, U+FFFD standing for each lone surrogate.
        text: String,
        /// The lone surrogates: byte offset in `text`, code unit.
        lone: Vec<(usize, u16)>,
    },
    /// A list.
    List(Vec<Node>),
    /// A dict: keys unique, in first-insertion order, the last value of a repeated key.
    Dict(Vec<(String, Node)>),
}

impl Node {
    /// As a `serde_json::Value`: ints beyond `u64`/`i64` become the nearest float and
    /// non-finite floats the strings `nan`, `inf`, `-inf` (their Python `str()`).
    pub fn into_value(self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(b),
            Node::Int(text) => {
                if let Ok(i) = text.parse::<i64>() {
                    Value::from(i)
                } else if let Ok(u) = text.parse::<u64>() {
                    Value::from(u)
                } else {
                    text.parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map_or(Value::Null, Value::Number)
                }
            }
            Node::Float(x) => serde_json::Number::from_f64(x)
                .map_or_else(|| Value::String(py_float_repr(x)), Value::Number),
            Node::Str { text, .. } => Value::String(text),
            // Plain loops, not iterator chains: in debug builds each adapter is a stack frame
            // per level of nesting.
            Node::List(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(item.into_value());
                }
                Value::Array(values)
            }
            Node::Dict(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (k, v) in entries {
                    map.insert(k, v.into_value());
                }
                Value::Object(map)
            }
        }
    }

    /// `json.dumps(node, separators=(',', ':'))`.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Node::Null => out.push_str("null"),
            Node::Bool(true) => out.push_str("true"),
            Node::Bool(false) => out.push_str("false"),
            Node::Int(text) => out.push_str(text),
            Node::Float(x) if x.is_nan() => out.push_str("NaN"),
            Node::Float(x) if x.is_infinite() => {
                out.push_str(if *x > 0.0 { "Infinity" } else { "-Infinity" })
            }
            Node::Float(x) => out.push_str(&py_float_repr(*x)),
            Node::Str { text, lone } => write_json_str_exact(out, text, lone),
            Node::List(items) => write_seq(out, '[', ",", ']', items, |out, item| {
                item.write_json(out);
            }),
            Node::Dict(entries) => write_seq(out, '{', ",", '}', entries, |out, (k, v)| {
                write_json_str(out, k);
                out.push(':');
                v.write_json(out);
            }),
        }
    }

    /// Python's `str()`.
    pub fn py_str(&self) -> String {
        match self {
            Node::Str { text, .. } => text.clone(),
            other => {
                let mut out = String::new();
                other.write_repr(&mut out);
                out
            }
        }
    }

    fn write_repr(&self, out: &mut String) {
        match self {
            Node::Null => out.push_str("None"),
            Node::Bool(true) => out.push_str("True"),
            Node::Bool(false) => out.push_str("False"),
            Node::Int(text) => out.push_str(text),
            Node::Float(x) => out.push_str(&py_float_repr(*x)),
            Node::Str { text, .. } => write_py_str_repr(out, text),
            Node::List(items) => write_seq(out, '[', ", ", ']', items, |out, item| {
                item.write_repr(out);
            }),
            Node::Dict(entries) => write_seq(out, '{', ", ", '}', entries, |out, (k, v)| {
                write_py_str_repr(out, k);
                out.push_str(": ");
                v.write_repr(out);
            }),
        }
    }
}

/// Key lookup in a decoded dict's entries.
pub struct Dict<'a>(pub &'a [(String, Node)]);

impl Dict<'_> {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}
