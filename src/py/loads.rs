//! Python's `json.loads(message.decode())` ([`loads`]), into a [`Node`] tree: strict UTF-8,
//! Python's `json` grammar (`json.scanner` and `json.decoder`, strict mode), with what it
//! accepts beyond JSON (`NaN`, `Infinity`, `-Infinity`, lone surrogate escapes) and the
//! exceptions CPython raises (over 4,300 digits in an int literal, nesting past the
//! recursion limit).

use std::collections::HashMap;

use super::int::INT_MAX_STR_DIGITS;
use super::node::Node;

/// Python's recursion limit as `json.loads` meets it inside aiorpcx's message loop (1,000
/// frames minus the ~25 already in use): deeper nesting raises `RecursionError`. The exact
/// figure depends on the Python version.
pub const MAX_NESTING: usize = 975;

/// Why `json.loads(message.decode())` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// `UnicodeDecodeError`: not strict UTF-8.
    Utf8,
    /// `json.JSONDecodeError`: not JSON as Python's `json` reads it.
    Json,
    /// An exception aiorpcx does not catch (`RecursionError`, the int digit limit's
    /// `ValueError`): it kills the connection's message loop.
    Fatal(&'static str),
}

/// `json.loads(message.decode())`.
///
/// # Errors
/// A [`LoadError`] where Python raises.
pub fn loads(message: &[u8]) -> Result<Node, LoadError> {
    let text = std::str::from_utf8(message).map_err(|_| LoadError::Utf8)?;
    let mut parser = Parser {
        src: text,
        text: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    parser.skip_ws();
    let node = parser.value()?;
    parser.skip_ws();
    if parser.pos != parser.text.len() {
        return Err(LoadError::Json);
    }
    Ok(node)
}

/// Dicts up to this many keys are scanned for a repeated key instead of indexed (requests
/// have four or five), saving a hash map per dict decoded.
const SMALL_DICT: usize = 16;

/// `dict[key] = value` while decoding: a repeated key keeps its first place and takes the
/// last value. Small dicts are scanned; `index` (key → place) is built once one grows past
/// [`SMALL_DICT`] keys.
fn set_entry(
    entries: &mut Vec<(String, Node)>,
    index: &mut HashMap<String, usize>,
    key: String,
    value: Node,
) {
    let repeated = if entries.len() < SMALL_DICT {
        entries.iter().position(|(k, _)| *k == key)
    } else {
        if index.is_empty() {
            *index = (entries.iter().enumerate())
                .map(|(i, (k, _))| (k.clone(), i))
                .collect();
        }
        index.get(&key).copied()
    };
    match repeated {
        Some(i) => entries[i].1 = value,
        None => {
            if !index.is_empty() {
                index.insert(key.clone(), entries.len());
            }
            entries.push((key, value));
        }
    }
}

/// A recursive-descent parser with Python's `json` grammar (`json.scanner` and
/// `json.decoder`, strict mode).
struct Parser<'a> {
    /// The message, for slicing out strings and numbers (always at ASCII bytes).
    src: &'a str,
    /// The same, as bytes.
    text: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, literal: &[u8]) -> bool {
        if self.text[self.pos..].starts_with(literal) {
            self.pos += literal.len();
            true
        } else {
            false
        }
    }

    // `value`, `nested`, `list` and `dict` recurse: what they do besides recursing is kept in
    // other functions, so that their stack frames stay small (deep nesting must fit a
    // thread's stack, in debug builds too).

    fn value(&mut self) -> Result<Node, LoadError> {
        match self.peek() {
            Some(b'{') => self.nested(Self::dict),
            Some(b'[') => self.nested(Self::list),
            _ => self.scalar(),
        }
    }

    /// Anything but a list or a dict.
    fn scalar(&mut self) -> Result<Node, LoadError> {
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                let mut lone = Vec::new();
                let text = self.string(&mut lone)?;
                Ok(Node::Str { text, lone })
            }
            Some(b'n') if self.eat(b"null") => Ok(Node::Null),
            Some(b't') if self.eat(b"true") => Ok(Node::Bool(true)),
            Some(b'f') if self.eat(b"false") => Ok(Node::Bool(false)),
            Some(b'N') if self.eat(b"NaN") => Ok(Node::Float(f64::NAN)),
            Some(b'I') if self.eat(b"Infinity") => Ok(Node::Float(f64::INFINITY)),
            Some(b'-') if self.eat(b"-Infinity") => Ok(Node::Float(f64::NEG_INFINITY)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(LoadError::Json),
        }
    }

    fn nested(&mut self, f: fn(&mut Self) -> Result<Node, LoadError>) -> Result<Node, LoadError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(LoadError::Fatal(
                "RecursionError decoding deeply nested JSON",
            ));
        }
        let node = f(self);
        self.depth -= 1;
        node
    }

    fn list(&mut self) -> Result<Node, LoadError> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Node::List(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Node::List(items));
                }
                _ => return Err(LoadError::Json),
            }
        }
    }

    fn dict(&mut self) -> Result<Node, LoadError> {
        self.pos += 1; // '{'
        let mut entries: Vec<(String, Node)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Node::Dict(entries));
        }
        loop {
            let key = self.key()?;
            let value = self.value()?;
            set_entry(&mut entries, &mut index, key, value);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Node::Dict(entries));
                }
                _ => return Err(LoadError::Json),
            }
        }
    }

    /// A dict key and its colon, with the whitespace around them.
    fn key(&mut self) -> Result<String, LoadError> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(LoadError::Json);
        }
        self.pos += 1;
        let key = self.string(&mut Vec::new())?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(LoadError::Json);
        }
        self.pos += 1;
        self.skip_ws();
        Ok(key)
    }

    /// The rest of a string after its opening quote; lone surrogates are noted in `lone`.
    fn string(&mut self, lone: &mut Vec<(usize, u16)>) -> Result<String, LoadError> {
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // Both ends are at ASCII bytes (or the end), so on char boundaries.
            out.push_str(self.src.get(start..self.pos).ok_or(LoadError::Json)?);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escape = self.peek().ok_or(LoadError::Json)?;
                    self.pos += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let unit = self.hex4()?;
                            match self.unicode_escape(unit) {
                                Some(c) => out.push(c),
                                None => {
                                    lone.push((out.len(), unit as u16));
                                    out.push(char::REPLACEMENT_CHARACTER);
                                }
                            }
                        }
                        _ => return Err(LoadError::Json),
                    }
                }
                // A control character, or the end of the text.
                _ => return Err(LoadError::Json),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, LoadError> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .ok_or(LoadError::Json)?;
        let mut v = 0u32;
        for &d in digits {
            v = v << 4 | char::from(d).to_digit(16).ok_or(LoadError::Json)?;
        }
        self.pos += 4;
        Ok(v)
    }

    /// A `\uXXXX` escape (already read): a high surrogate directly followed by a `\u` low
    /// surrogate combine into one character; `None` for a lone surrogate (which Python keeps
    /// in its string).
    fn unicode_escape(&mut self, unit: u32) -> Option<char> {
        if (0xd800..0xdc00).contains(&unit) && self.text[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            match self.hex4() {
                Ok(low) if (0xdc00..0xe000).contains(&low) => {
                    return char::from_u32(0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00));
                }
                _ => self.pos = save,
            }
        }
        char::from_u32(unit)
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`: an int without fraction and exponent,
    /// else a float (`float()`: overflow is infinity).
    fn number(&mut self) -> Result<Node, LoadError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(LoadError::Json),
        }
        let int_end = self.pos;
        let mut is_float = false;
        if self.peek() == Some(b'.') && self.text.get(self.pos + 1).is_some_and(u8::is_ascii_digit)
        {
            self.pos += 1;
            self.digits();
            is_float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.digits();
                is_float = true;
            } else {
                self.pos = save;
            }
        }
        let text = self.src.get(start..self.pos).ok_or(LoadError::Json)?;
        if is_float {
            return text
                .parse::<f64>()
                .map(Node::Float)
                .map_err(|_| LoadError::Json);
        }
        let digits = &self.text[start + usize::from(negative)..int_end];
        if digits.len() > INT_MAX_STR_DIGITS {
            return Err(LoadError::Fatal(
                "ValueError: integer literal over 4,300 digits",
            ));
        }
        Ok(Node::Int(if digits == b"0" {
            "0".to_owned()
        } else {
            text.to_owned()
        }))
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_python_accepts_and_refuses() {
        let json = |s: &str| loads(s.as_bytes()).map(|n| n.to_json());
        assert_eq!(
            json(" [NaN, -Infinity, 1E400, -0, 1.50] "),
            Ok("[NaN,-Infinity,Infinity,0,1.5]".into())
        );
        assert_eq!(
            json(r#"{"a":1,"b":2,"a":3}"#),
            Ok(r#"{"a":3,"b":2}"#.into())
        );
        assert_eq!(json(r#""\ud800x""#), Ok(r#""\ud800x""#.into()));
        assert_eq!(
            json("123456789012345678901234567890"),
            Ok("123456789012345678901234567890".into())
        );
        assert_eq!(json("[1,]"), Err(LoadError::Json));
        assert_eq!(json("01"), Err(LoadError::Json));
        assert_eq!(json("\"\t\""), Err(LoadError::Json));
        assert_eq!(loads(b"\xff").err(), Some(LoadError::Utf8));
        let digits = "7".repeat(INT_MAX_STR_DIGITS + 1);
        assert!(matches!(json(&digits), Err(LoadError::Fatal(_))));
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_NESTING + 1),
            "]".repeat(MAX_NESTING + 1)
        );
        assert!(matches!(json(&deep), Err(LoadError::Fatal(_))));
        let ok = format!("{}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        assert!(json(&ok).is_ok());
    }
}
