//! Typed access to the variables, with ElectrumX's reading rules and errors that name the
//! variable.

use std::collections::HashMap;
use std::time::Duration;

use super::error::{invalid, ConfigError};

/// The variables, plus the warnings collected while reading them.
pub(crate) struct Env<'a> {
    vars: &'a HashMap<String, String>,
    pub(crate) warnings: Vec<String>,
}

impl<'a> Env<'a> {
    pub(crate) fn new(vars: &'a HashMap<String, String>) -> Env<'a> {
        Env {
            vars,
            warnings: Vec::new(),
        }
    }

    /// The raw value, if set (even if empty).
    pub(crate) fn get(&self, var: &str) -> Option<&'a str> {
        self.vars.get(var).map(String::as_str)
    }

    /// The value if set and not empty.
    pub(crate) fn non_empty(&self, var: &str) -> Option<&'a str> {
        self.get(var).filter(|v| !v.is_empty())
    }

    /// A required value: unset is [`ConfigError::Missing`], blank is invalid.
    pub(crate) fn required(&self, var: &'static str) -> Result<&'a str, ConfigError> {
        match self.get(var) {
            None => Err(ConfigError::Missing(var)),
            Some(value) if value.trim().is_empty() => Err(invalid(var, "is set but empty")),
            Some(value) => Ok(value),
        }
    }

    /// ElectrumX's boolean: true when the value has anything but whitespace, so `0`, `no`
    /// and `false` are true too (with a warning, since that surprises people).
    pub(crate) fn boolean(&mut self, var: &'static str, default: bool) -> bool {
        let Some(value) = self.get(var) else {
            return default;
        };
        let trimmed = value.trim();
        let looks_false = ["0", "false", "no", "off", "n", "f"]
            .iter()
            .any(|word| trimmed.eq_ignore_ascii_case(word));
        if looks_false {
            self.warnings.push(format!(
                "{var}={trimmed} counts as true: any non-empty value is true (as in ElectrumX); \
                 set it empty or unset it for false"
            ));
        }
        !trimmed.is_empty()
    }

    /// A non-negative integer (Python `int()` syntax), or `default` when unset.
    pub(crate) fn integer<T: TryFrom<u64>>(
        &self,
        var: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        Ok(self.optional_integer(var)?.unwrap_or(default))
    }

    /// A non-negative integer (Python `int()` syntax), or `None` when unset.
    pub(crate) fn optional_integer<T: TryFrom<u64>>(
        &self,
        var: &'static str,
    ) -> Result<Option<T>, ConfigError> {
        let Some(raw) = self.get(var) else {
            return Ok(None);
        };
        let too_large = || invalid(var, format!("{raw:?} is too large"));
        match parse_python_int(raw) {
            Err(IntError::NotAnInteger) => Err(invalid(var, format!("{raw:?} is not an integer"))),
            Err(IntError::TooLarge) => Err(too_large()),
            Ok(n) if n < 0 => Err(invalid(var, format!("{raw:?} must not be negative"))),
            Ok(n) => u64::try_from(n)
                .ok()
                .and_then(|n| T::try_from(n).ok())
                .map(Some)
                .ok_or_else(too_large),
        }
    }

    /// An integer that must be at least `min`.
    pub(crate) fn integer_at_least(
        &self,
        var: &'static str,
        default: u64,
        min: u64,
    ) -> Result<u64, ConfigError> {
        let value = self.integer(var, default)?;
        if value < min {
            return Err(invalid(var, format!("{value} must be at least {min}")));
        }
        Ok(value)
    }

    /// An integer that must be at most `max`.
    pub(crate) fn integer_at_most(
        &self,
        var: &'static str,
        default: u8,
        max: u8,
    ) -> Result<u8, ConfigError> {
        let value = self.integer(var, default)?;
        if value > max {
            return Err(invalid(var, format!("{value} must be at most {max}")));
        }
        Ok(value)
    }

    /// A whole number of seconds.
    pub(crate) fn seconds(&self, var: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.integer(var, default).map(Duration::from_secs)
    }

    /// A whole number of milliseconds.
    pub(crate) fn millis(&self, var: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.integer(var, default).map(Duration::from_millis)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum IntError {
    NotAnInteger,
    TooLarge,
}

/// Python's `int(text)`: surrounding whitespace, one optional sign, decimal digits with
/// single underscores between them.
fn parse_python_int(text: &str) -> Result<i128, IntError> {
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return Err(IntError::NotAnInteger);
    }
    let mut value: i128 = 0;
    for byte in digits.bytes() {
        match byte {
            b'_' => {}
            b'0'..=b'9' => {
                value = value
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(i128::from(byte - b'0')))
                    .ok_or(IntError::TooLarge)?;
            }
            _ => return Err(IntError::NotAnInteger),
        }
    }
    Ok(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_int_syntax() {
        assert_eq!(parse_python_int(" 42\n"), Ok(42));
        assert_eq!(parse_python_int("+7"), Ok(7));
        assert_eq!(parse_python_int("-7"), Ok(-7));
        assert_eq!(parse_python_int("1_000_000"), Ok(1_000_000));
        assert_eq!(parse_python_int("007"), Ok(7));
        for bad in [
            "", " ", "1.5", "1e3", "_1", "1_", "1__0", "0x10", "--1", "1,000", "ten",
        ] {
            assert_eq!(parse_python_int(bad), Err(IntError::NotAnInteger), "{bad}");
        }
        assert_eq!(parse_python_int(&"9".repeat(60)), Err(IntError::TooLarge));
    }

    fn env_of(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn booleans_as_electrumx() {
        let vars = env_of(&[("A", "yes"), ("B", " "), ("C", "0"), ("D", "")]);
        let mut env = Env::new(&vars);
        assert!(env.boolean("A", false));
        assert!(!env.boolean("B", true));
        assert!(env.boolean("C", false));
        assert!(!env.boolean("D", true));
        assert!(env.boolean("UNSET", true));
        assert!(!env.boolean("UNSET", false));
        assert_eq!(env.warnings.len(), 1, "{:?}", env.warnings);
        assert!(env.warnings[0].starts_with("C=0 counts as true"));
    }

    #[test]
    fn integers_name_the_variable() {
        let vars = env_of(&[("N", "-1"), ("X", "x"), ("B", "300"), ("E", "")]);
        let env = Env::new(&vars);
        let err = |r: Result<u8, ConfigError>| r.map_err(|e| e.to_string());
        assert_eq!(
            err(env.integer("N", 0)),
            Err("N: \"-1\" must not be negative".into())
        );
        assert_eq!(
            err(env.integer("X", 0)),
            Err("X: \"x\" is not an integer".into())
        );
        assert_eq!(
            err(env.integer("B", 0)),
            Err("B: \"300\" is too large".into())
        );
        assert_eq!(
            err(env.integer("E", 0)),
            Err("E: \"\" is not an integer".into())
        );
        assert_eq!(err(env.integer("UNSET", 9)), Ok(9));
        assert_eq!(
            env.integer_at_most("B", 0, 32).map_err(|e| e.to_string()),
            Err("B: \"300\" is too large".into())
        );
    }
}
