//! Small typed values: LOG_LEVEL, PEER_DISCOVERY, DROP_CLIENT.

use std::fmt;

use regex::Regex;

/// LOG_LEVEL: Python's level names (case-insensitive), plus FerrumX's `trace`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// FerrumX only: more than `debug`.
    Trace,
    /// `debug` (also Python's `notset`, which on the root logger shows everything).
    Debug,
    /// `info`, the default.
    Info,
    /// `warning` or `warn`.
    Warning,
    /// `error`.
    Error,
    /// `critical` or `fatal`: FerrumX logs nothing above error, so as `error`.
    Critical,
}

impl LogLevel {
    /// Parses a level name as Python's `logging` accepts it (after ElectrumX upper-cases it).
    ///
    /// # Errors
    /// A one-line reason for an unknown name.
    pub fn parse(value: &str) -> Result<LogLevel, String> {
        match value.to_ascii_uppercase().as_str() {
            "TRACE" => Ok(LogLevel::Trace),
            "DEBUG" | "NOTSET" => Ok(LogLevel::Debug),
            "INFO" => Ok(LogLevel::Info),
            "WARNING" | "WARN" => Ok(LogLevel::Warning),
            "ERROR" => Ok(LogLevel::Error),
            "CRITICAL" | "FATAL" => Ok(LogLevel::Critical),
            _ => Err(format!(
                "unknown level {value:?}: use debug, info, warning, error or critical"
            )),
        }
    }

    /// The `tracing` level directive (`trace`, `debug`, `info`, `warn` or `error`).
    pub fn as_directive(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warn",
            LogLevel::Error | LogLevel::Critical => "error",
        }
    }
}

/// PEER_DISCOVERY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerDiscovery {
    /// `on` (the default, and ElectrumX's reading of any unknown value): find and verify
    /// peers.
    On,
    /// `off` or empty: serve the hard-coded peer list.
    Off,
    /// `self`: serve only this server.
    SelfOnly,
}

impl PeerDiscovery {
    /// ElectrumX's reading: trimmed and case-insensitive; `off` or empty is off, `self` is
    /// self, anything else is on. The flag is false when the value was none of `on`, `off`,
    /// `self` or empty (worth a warning).
    pub fn parse(value: &str) -> (PeerDiscovery, bool) {
        match value.trim().to_ascii_lowercase().as_str() {
            "off" | "" => (PeerDiscovery::Off, true),
            "self" => (PeerDiscovery::SelfOnly, true),
            "on" => (PeerDiscovery::On, true),
            _ => (PeerDiscovery::On, false),
        }
    }
}

/// DROP_CLIENT: clients whose `server.version` client name matches are disconnected.
///
/// Matching follows Python's `re.match`: the pattern must match at the start of the name,
/// not necessarily all of it. The syntax is the `regex` crate's, which is Python's for
/// everything but look-around and back-references (those are refused at start).
#[derive(Clone)]
pub struct ClientFilter {
    pattern: String,
    anchored: Regex,
}

impl ClientFilter {
    /// Compiles `pattern`.
    ///
    /// # Errors
    /// The compiler's complaint, on one line.
    pub fn new(pattern: &str) -> Result<ClientFilter, String> {
        Regex::new(pattern).map_err(|e| one_line_regex_error(&e))?;
        let anchored =
            Regex::new(&format!("^(?:{pattern})")).map_err(|e| one_line_regex_error(&e))?;
        Ok(ClientFilter {
            pattern: pattern.to_owned(),
            anchored,
        })
    }

    /// The pattern as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether a client name is to be dropped.
    pub fn matches(&self, client_name: &str) -> bool {
        self.anchored.is_match(client_name)
    }
}

impl fmt::Debug for ClientFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientFilter").field(&self.pattern).finish()
    }
}

impl PartialEq for ClientFilter {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

/// The `regex` crate's syntax errors span several lines (pattern, caret, message); keep the
/// message.
fn one_line_regex_error(error: &regex::Error) -> String {
    let text = error.to_string();
    let reason = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .map(str::to_owned)
        .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "));
    format!("invalid regular expression: {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels() {
        assert_eq!(LogLevel::parse("info"), Ok(LogLevel::Info));
        assert_eq!(LogLevel::parse("Warn"), Ok(LogLevel::Warning));
        assert_eq!(LogLevel::parse("FATAL"), Ok(LogLevel::Critical));
        assert_eq!(
            LogLevel::parse("trace").map(LogLevel::as_directive),
            Ok("trace")
        );
        assert!(LogLevel::parse("10").is_err());
        assert!(LogLevel::parse(" info").is_err());
    }

    #[test]
    fn peer_discovery() {
        assert_eq!(PeerDiscovery::parse(" OFF "), (PeerDiscovery::Off, true));
        assert_eq!(PeerDiscovery::parse(""), (PeerDiscovery::Off, true));
        assert_eq!(
            PeerDiscovery::parse("Self"),
            (PeerDiscovery::SelfOnly, true)
        );
        assert_eq!(PeerDiscovery::parse("on"), (PeerDiscovery::On, true));
        assert_eq!(PeerDiscovery::parse("no"), (PeerDiscovery::On, false));
    }

    #[test]
    fn drop_client_matches_like_python_re_match() {
        let filter = ClientFilter::new(r"1\.[0-2]\.\d+");
        let filter = filter.unwrap_or_else(|e| panic!("{e}"));
        assert!(filter.matches("1.2.3"));
        assert!(filter.matches("1.0.10 extra"));
        assert!(!filter.matches("electrum 1.2.3"));
        assert!(!filter.matches("1.3.0"));
        let alternation = ClientFilter::new("a|b").unwrap_or_else(|e| panic!("{e}"));
        assert!(alternation.matches("b1") && !alternation.matches("cb"));
    }

    #[test]
    fn bad_patterns_give_one_line() {
        for bad in [r"1\.[0-2", "(?<=a)b", r"(a)\1"] {
            let e = ClientFilter::new(bad).err().unwrap_or_default();
            assert!(e.starts_with("invalid regular expression: "), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
