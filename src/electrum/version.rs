//! Protocol version negotiation exactly as ElectrumX 2.0.0 does it (`lib/util.py`:
//! `protocol_tuple`, `version_string`, `protocol_version`, unchanged since 1.20; only
//! `PROTOCOL_MAX` moved, from `(1, 6, 0)` to `(1, 7, 0)`).
//!
//! A protocol version is a Python tuple of ints compared lexicographically, where a shorter
//! prefix is smaller: `(1, 7) < (1, 7, 0)`. The distinction is visible on the wire:
//! `server.version` answers `version_string(min(client_max, (1, 7, 0)))`, so a client asking
//! for `"1.7"` negotiates `"1.7"`, one asking for `["1.4", "1.8"]` negotiates `"1.7.0"`, one
//! asking for `"1.7.1"` nothing, and `server.features` reports `protocol_max` as `"1.7.0"`.
//! That is why [`ProtocolVersion`] keeps every part the client sent instead of a fixed
//! `(major, minor, patch)`.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

use crate::py::PyInt;

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

    /// ElectrumX's `PROTOCOL_MAX`, `(1, 7, 0)`.
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

/// ElectrumX's `ElectrumX.PROTOCOL_MIN` (1.20 and 2.0.0).
pub const PROTOCOL_MIN: &[i64] = &[1, 4];
/// ElectrumX 2.0.0's `ElectrumX.PROTOCOL_MAX`: note the third part, which makes
/// `server.features` say `"protocol_max": "1.7.0"`.
pub const PROTOCOL_MAX: &[i64] = &[1, 7, 0];

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
/// Python's `str()` of the raw argument ([`py_str`](crate::py::py_str)) and disconnects.
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

/// [`protocol_version`] between ElectrumX 2.0.0's [`PROTOCOL_MIN`] and [`PROTOCOL_MAX`]: the
/// version `server.version` negotiates for its second argument, `None` if unsupported.
pub fn negotiate(client_req: Option<&Value>) -> Option<ProtocolVersion> {
    protocol_version(
        client_req,
        &ProtocolVersion::min_supported(),
        &ProtocolVersion::max_supported(),
    )
    .0
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
        assert_eq!(ProtocolVersion::max_supported().to_string(), "1.7.0");
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

    /// Expected answers computed by ElectrumX 2.0.0's own `util.protocol_version` with its
    /// `PROTOCOL_MIN` and `PROTOCOL_MAX`.
    #[test]
    fn negotiation() {
        let cases: &[(Option<Value>, Option<&str>, &[i64])] = &[
            (None, Some("1.4"), &[1, 4]),
            (Some(json!(null)), Some("1.4"), &[1, 4]),
            (Some(json!("1.4")), Some("1.4"), &[1, 4]),
            (Some(json!("1.4.2")), Some("1.4.2"), &[1, 4, 2]),
            (Some(json!("1.6")), Some("1.6"), &[1, 6]),
            (Some(json!("1.7")), Some("1.7"), &[1, 7]),
            (Some(json!("1.7.0")), Some("1.7.0"), &[1, 7, 0]),
            (Some(json!("1.7.1")), None, &[1, 7, 1]),
            (Some(json!("1.8")), None, &[1, 8]),
            (Some(json!("2")), None, &[2]),
            (Some(json!(["1.4", "1.4"])), Some("1.4"), &[1, 4]),
            (Some(json!(["1.4", "1.7"])), Some("1.7"), &[1, 4]),
            (Some(json!(["1.4", "1.8"])), Some("1.7.0"), &[1, 4]),
            (Some(json!(["1.0", "1.5"])), Some("1.5"), &[1, 0]),
            (Some(json!(["1.2", "1.4"])), Some("1.4"), &[1, 2]),
            (Some(json!("1.3")), None, &[1, 3]),
            (Some(json!(["1.7", "1.8"])), Some("1.7.0"), &[1, 7]),
            (Some(json!("1.4x")), None, &[0]),
            (Some(json!(1.4)), None, &[0]),
            (Some(json!(["1.4"])), None, &[0]),
            (Some(json!(["1.4", "1.5", "1.6"])), None, &[0]),
            (Some(json!({"a": 1})), None, &[0]),
            (Some(json!(["1.4", 5])), None, &[1, 4]),
            (Some(json!([5, "1.5"])), Some("1.5"), &[0]),
            (Some(json!("1.6.0")), Some("1.6.0"), &[1, 6, 0]),
            (Some(json!("1.6.1")), Some("1.6.1"), &[1, 6, 1]),
            (Some(json!("1.5.9")), Some("1.5.9"), &[1, 5, 9]),
            (Some(json!(" 1.5 ")), Some("1.5"), &[1, 5]),
            (Some(json!(["1.4", "1.6.0.1"])), Some("1.6.0.1"), &[1, 4]),
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
}
