//! ElectrumX 1.20's parameter checks (`server/session.py`: `non_negative_integer`,
//! `assert_boolean`, `assert_tx_hash`, `scripthash_to_hashX`, `assert_hex_str`,
//! `assert_list_or_tuple`; `lib/coins.py`: the estimatefee mode whitelist and
//! `Bitcoin.bucket_estimatefee_block_target`) with their exact error messages, all
//! [`BAD_REQUEST`](crate::jsonrpc::BAD_REQUEST) (code 1).
//!
//! ElectrumX builds its messages with f-strings, i.e. Python's `str()` of the value
//! ([`py_str`]); where it converts first (`value = int(value)`), the message shows the
//! converted value: `"-1.5"` is reported as `-1 should be a non-negative integer`.
//!
//! Python ints are unbounded, so [`non_negative_integer`] returns a [`PyInt`]: a height of
//! `"99999999999999999999"` is accepted and then reported as
//! `height 99,999,999,999,999,999,999 out of range`, exactly as ElectrumX does.

use serde_json::Value;

use crate::jsonrpc::RpcError;
use crate::py::{py_false_or_true, py_fromhex, py_int, py_str, PyInt};

fn bad(message: String) -> RpcError {
    RpcError::bad_request(message)
}

/// ElectrumX's `non_negative_integer(value)`: `int(value)` if that is `>= 0`; otherwise
/// `{value} should be a non-negative integer`, showing the converted int if the conversion
/// worked (`-1.5` → `-1 should be …`, `" -7 "` → `-7 should be …`) and the original value if
/// it did not (`x should be …`, `[1] should be …`, `None should be …`).
///
/// # Errors
/// `BAD_REQUEST` with ElectrumX's message.
pub fn non_negative_integer(value: &Value) -> Result<PyInt, RpcError> {
    match py_int(value) {
        Some(n) if !n.is_negative() => Ok(n),
        Some(n) => Err(bad(format!("{n} should be a non-negative integer"))),
        None => Err(bad(format!(
            "{} should be a non-negative integer",
            py_str(value)
        ))),
    }
}

/// ElectrumX's `assert_boolean(value)`: [`py_false_or_true`], else
/// `{value} should be a boolean value`.
///
/// # Errors
/// `BAD_REQUEST` with ElectrumX's message.
pub fn assert_boolean(value: &Value) -> Result<bool, RpcError> {
    py_false_or_true(value)
        .ok_or_else(|| bad(format!("{} should be a boolean value", py_str(value))))
}

/// ElectrumX's `hex_str_to_hash`: `bytes.fromhex(value)` reversed (display order → internal
/// order). `None` where Python raises (`TypeError` for a non-string).
pub fn hex_str_to_hash(value: &Value) -> Option<Vec<u8>> {
    let Value::String(s) = value else {
        return None;
    };
    let mut bytes = py_fromhex(s)?;
    bytes.reverse();
    Some(bytes)
}

fn hash32(value: &Value) -> Option<[u8; 32]> {
    hex_str_to_hash(value).and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
}

/// ElectrumX's `assert_tx_hash(value)`: the 32-byte hash in internal byte order, else
/// `{value} should be a transaction hash`. Like ElectrumX it tolerates whitespace between
/// byte pairs (`bytes.fromhex`); note that ElectrumX passes the *original* string on to the
/// daemon in `blockchain.transaction.get`.
///
/// # Errors
/// `BAD_REQUEST` with ElectrumX's message.
pub fn assert_tx_hash(value: &Value) -> Result<[u8; 32], RpcError> {
    hash32(value).ok_or_else(|| bad(format!("{} should be a transaction hash", py_str(value))))
}

/// ElectrumX's `scripthash_to_hashX(scripthash)` without the final truncation to `HASHX_LEN`:
/// the 32-byte script hash in internal byte order (as `sha256(script)` gives it, what
/// [`HashX::from_script_hash`](crate::index::HashX::from_script_hash) takes), else
/// `{scripthash} is not a valid script hash`.
///
/// # Errors
/// `BAD_REQUEST` with ElectrumX's message.
pub fn script_hash(value: &Value) -> Result<[u8; 32], RpcError> {
    hash32(value).ok_or_else(|| bad(format!("{} is not a valid script hash", py_str(value))))
}

/// ElectrumX's `util.is_hex_str`: a string that `bytes.fromhex` accepts and that holds no
/// whitespace (length twice the byte count) — so an even number of hex digits, possibly zero.
pub fn is_hex_str(value: &Value) -> bool {
    match value {
        // Every byte of a string `bytes.fromhex` accepts is ASCII.
        Value::String(s) => py_fromhex(s).is_some_and(|b| s.len() == 2 * b.len()),
        _ => false,
    }
}

/// ElectrumX's `assert_hex_str(value)`: [`is_hex_str`], else `{value} should be a hex string`.
///
/// # Errors
/// `BAD_REQUEST` with ElectrumX's message.
pub fn assert_hex_str(value: &Value) -> Result<(), RpcError> {
    if is_hex_str(value) {
        Ok(())
    } else {
        Err(bad(format!("{} should be a hex string", py_str(value))))
    }
}

/// ElectrumX 2.0's `assert_hex_str(value, allow_odd_len=True)` (`server.ping`'s `data`): as
/// [`assert_hex_str`], but a string of an odd number of characters is checked with a `0`
/// in front.
///
/// # Errors
/// `BAD_REQUEST` with ElectrumX's message.
pub fn assert_hex_str_allow_odd_len(value: &Value) -> Result<(), RpcError> {
    let ok = match value {
        Value::String(s) if s.chars().count() % 2 == 1 => {
            is_hex_str(&Value::String(format!("0{s}")))
        }
        other => is_hex_str(other),
    };
    if ok {
        Ok(())
    } else {
        Err(bad(format!("{} should be a hex string", py_str(value))))
    }
}

/// ElectrumX's `assert_list_or_tuple(value)`: the list, else `{value} should be a list`.
///
/// # Errors
/// `BAD_REQUEST` with ElectrumX's message.
pub fn assert_list_or_tuple(value: &Value) -> Result<&Vec<Value>, RpcError> {
    value
        .as_array()
        .ok_or_else(|| bad(format!("{} should be a list", py_str(value))))
}

/// `Coin.ESTIMATEFEE_MODES` (Bitcoin inherits it): `None`, `CONSERVATIVE`, `ECONOMICAL`.
pub const ESTIMATEFEE_MODES: &[&str] = &["CONSERVATIVE", "ECONOMICAL"];

/// `blockchain.estimatefee`'s mode check: `mode.upper() if isinstance(mode, str) else None`,
/// then the whitelist. Absent, null and every non-string (numbers, lists, …) mean no mode;
/// a string is upper-cased (Unicode-aware, as Python's `str.upper`) and must then be one of
/// [`ESTIMATEFEE_MODES`], else `unknown estimatefee mode: {MODE}` (the upper-cased text).
///
/// # Errors
/// `BAD_REQUEST` with ElectrumX's message.
pub fn estimatefee_mode(mode: Option<&Value>) -> Result<Option<&'static str>, RpcError> {
    let Some(Value::String(s)) = mode else {
        return Ok(None);
    };
    let upper = s.to_uppercase();
    ESTIMATEFEE_MODES
        .iter()
        .find(|&&m| m == upper)
        .map(|&m| Some(m))
        .ok_or_else(|| bad(format!("unknown estimatefee mode: {upper}")))
}

/// `Bitcoin.bucket_estimatefee_block_target(n)`: the block target actually asked of the
/// daemon (and the cache key), following Core's fee-estimation buckets: 1 for `n <= 1`, `n`
/// up to 12, 25 as is, even numbers up to 48, multiples of 24 up to 1008, then 1008.
pub fn bucket_estimatefee_block_target(n: u64) -> u64 {
    match n {
        0..=1 => 1,
        2..=12 | 25 => n,
        13..=48 => n / 2 * 2,
        49..=1008 => n / 24 * 24,
        _ => 1008,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::py::INT_MAX_STR_DIGITS;
    use serde_json::json;

    fn nni(v: Value) -> Result<String, String> {
        non_negative_integer(&v)
            .map(|n| n.to_string())
            .map_err(|e| {
                assert_eq!(e.code, 1);
                e.message
            })
    }

    #[test]
    fn non_negative_integers() {
        assert_eq!(nni(json!(0)), Ok("0".into()));
        assert_eq!(nni(json!(5)), Ok("5".into()));
        assert_eq!(nni(json!(u64::MAX)), Ok(u64::MAX.to_string()));
        assert_eq!(nni(json!(true)), Ok("1".into()));
        assert_eq!(nni(json!(false)), Ok("0".into()));
        assert_eq!(nni(json!(1.9)), Ok("1".into()));
        assert_eq!(nni(json!(-0.5)), Ok("0".into()));
        assert_eq!(nni(json!(1e20)), Ok("100000000000000000000".into()));
        assert_eq!(nni(json!(" 12 ")), Ok("12".into()));
        assert_eq!(nni(json!("+1_000")), Ok("1000".into()));
        assert_eq!(nni(json!("007")), Ok("7".into()));
        assert_eq!(nni(json!("-0")), Ok("0".into()));
        assert_eq!(nni(json!("\u{661}\u{662}")), Ok("12".into()));
        assert_eq!(nni(json!("\u{a0}3\u{3000}")), Ok("3".into()));
        assert_eq!(
            nni(json!("99999999999999999999")),
            Ok("99999999999999999999".into())
        );
        let msg = |s: &str| Err(format!("{s} should be a non-negative integer"));
        assert_eq!(nni(json!(-1)), msg("-1"));
        assert_eq!(nni(json!(-1.5)), msg("-1"));
        assert_eq!(nni(json!(" -7 ")), msg("-7"));
        assert_eq!(nni(json!("-1_0")), msg("-10"));
        assert_eq!(nni(json!("x")), msg("x"));
        assert_eq!(nni(json!("1.0")), msg("1.0"));
        assert_eq!(nni(json!("")), msg(""));
        assert_eq!(nni(json!("1__0")), msg("1__0"));
        assert_eq!(nni(json!("_1")), msg("_1"));
        assert_eq!(nni(json!("1_")), msg("1_"));
        assert_eq!(nni(json!("- 1")), msg("- 1"));
        assert_eq!(nni(json!("0x10")), msg("0x10"));
        assert_eq!(nni(json!("\u{1c}1")), msg("\u{1c}1"));
        assert_eq!(nni(json!(null)), msg("None"));
        assert_eq!(nni(json!([1])), msg("[1]"));
        assert_eq!(nni(json!({"a": 1})), msg("{'a': 1}"));
        assert_eq!(nni(json!(-1e20)), msg("-100000000000000000000"));
        let long = "1".repeat(INT_MAX_STR_DIGITS);
        assert_eq!(nni(json!(long.clone())), Ok(long.clone()));
        let too_long = "1".repeat(INT_MAX_STR_DIGITS + 1);
        assert_eq!(nni(json!(too_long.clone())), msg(&too_long));
        let zeros = "0".repeat(INT_MAX_STR_DIGITS + 1);
        assert_eq!(nni(json!(zeros.clone())), msg(&zeros));
    }

    #[test]
    fn booleans() {
        for (v, want) in [
            (json!(true), Some(true)),
            (json!(false), Some(false)),
            (json!(0), Some(false)),
            (json!(1), Some(true)),
            (json!(0.0), Some(false)),
            (json!(-0.0), Some(false)),
            (json!(1.0), Some(true)),
            (json!(2), None),
            (json!("true"), None),
            (json!(null), None),
            (json!([]), None),
        ] {
            assert_eq!(py_false_or_true(&v), want, "{v}");
        }
        assert_eq!(
            assert_boolean(&json!("yes")).map_err(|e| e.message),
            Err("yes should be a boolean value".to_owned())
        );
        assert_eq!(
            assert_boolean(&json!(null)).map_err(|e| e.message),
            Err("None should be a boolean value".to_owned())
        );
    }

    #[test]
    fn hashes() {
        let hex = "8e40f6a0b357a1ddaf608dc1f462c6c350fce441622069e5d137fa0a41eee610";
        let h = assert_tx_hash(&json!(hex)).unwrap_or([0; 32]);
        assert_eq!(h[0], 0x10);
        assert_eq!(h[31], 0x8e);
        // bytes.fromhex tolerates whitespace between pairs, and either case.
        let spaced = format!(
            " {} \n",
            hex.to_uppercase()
                .as_bytes()
                .chunks(2)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert_eq!(assert_tx_hash(&json!(spaced)).ok(), Some(h));
        assert_eq!(script_hash(&json!(hex)).ok(), Some(h));
        let err = |v: Value| assert_tx_hash(&v).map_err(|e| e.message).err();
        assert_eq!(
            err(json!("zz")).as_deref(),
            Some("zz should be a transaction hash")
        );
        assert_eq!(
            err(json!(&hex[1..])).as_deref(),
            Some(&*format!("{} should be a transaction hash", &hex[1..]))
        );
        assert_eq!(
            err(json!(&hex[2..])).as_deref(),
            Some(&*format!("{} should be a transaction hash", &hex[2..]))
        );
        assert_eq!(
            err(json!(5)).as_deref(),
            Some("5 should be a transaction hash")
        );
        // A space inside a pair is not accepted.
        let split_pair = format!("{} {}", &hex[..1], &hex[1..]);
        assert!(err(json!(split_pair)).is_some());
        let serr = |v: Value| script_hash(&v).map_err(|e| e.message).err();
        assert_eq!(
            serr(json!("00")).as_deref(),
            Some("00 is not a valid script hash")
        );
        assert_eq!(
            serr(json!(7)).as_deref(),
            Some("7 is not a valid script hash")
        );
        assert_eq!(
            serr(json!(null)).as_deref(),
            Some("None is not a valid script hash")
        );
    }

    #[test]
    fn hex_strings_and_lists() {
        assert!(is_hex_str(&json!("")));
        assert!(is_hex_str(&json!("00aAfF")));
        assert!(!is_hex_str(&json!("0")));
        assert!(!is_hex_str(&json!("00 11")));
        assert!(!is_hex_str(&json!("0g")));
        assert!(!is_hex_str(&json!(12)));
        assert!(!is_hex_str(&json!("é0")));
        assert_eq!(
            assert_hex_str(&json!("xyz")).map_err(|e| e.message),
            Err("xyz should be a hex string".to_owned())
        );
        // `allow_odd_len` (ElectrumX 2.0's `server.ping` data), as its `is_hex_str` answers.
        for (text, ok) in [
            ("", true),
            ("0", true),
            ("abc", true),
            ("ABC", true),
            ("00000", true),
            (" ab", false),
            ("ab ", false),
            ("a b", false),
            (" a", false),
            ("x", false),
            ("é", false),
            ("0é0", false),
        ] {
            assert_eq!(
                assert_hex_str_allow_odd_len(&json!(text)).is_ok(),
                ok,
                "{text:?}"
            );
        }
        assert_eq!(
            assert_hex_str_allow_odd_len(&json!(5)).map_err(|e| e.message),
            Err("5 should be a hex string".to_owned())
        );
        assert!(assert_list_or_tuple(&json!(["00"])).is_ok());
        assert_eq!(
            assert_list_or_tuple(&json!("00")).map_err(|e| e.message),
            Err("00 should be a list".to_owned())
        );
        assert_eq!(
            assert_list_or_tuple(&json!({"a": "b"})).map_err(|e| e.message),
            Err("{'a': 'b'} should be a list".to_owned())
        );
    }

    #[test]
    fn estimatefee() {
        assert_eq!(estimatefee_mode(None).ok(), Some(None));
        assert_eq!(estimatefee_mode(Some(&json!(null))).ok(), Some(None));
        assert_eq!(estimatefee_mode(Some(&json!(5))).ok(), Some(None));
        assert_eq!(estimatefee_mode(Some(&json!(["x"]))).ok(), Some(None));
        assert_eq!(
            estimatefee_mode(Some(&json!("economical"))).ok(),
            Some(Some("ECONOMICAL"))
        );
        assert_eq!(
            estimatefee_mode(Some(&json!("Conservative"))).ok(),
            Some(Some("CONSERVATIVE"))
        );
        assert_eq!(
            estimatefee_mode(Some(&json!("unset"))).map_err(|e| e.message),
            Err("unknown estimatefee mode: UNSET".to_owned())
        );
        assert_eq!(
            estimatefee_mode(Some(&json!(""))).map_err(|e| e.message),
            Err("unknown estimatefee mode: ".to_owned())
        );
        assert_eq!(
            estimatefee_mode(Some(&json!("straße"))).map_err(|e| e.message),
            Err("unknown estimatefee mode: STRASSE".to_owned())
        );
        let buckets: Vec<u64> = [
            0,
            1,
            2,
            12,
            13,
            14,
            25,
            26,
            48,
            49,
            71,
            72,
            1008,
            1009,
            u64::MAX,
        ]
        .iter()
        .map(|&n| bucket_estimatefee_block_target(n))
        .collect();
        assert_eq!(
            buckets,
            [1, 1, 2, 12, 12, 14, 25, 26, 48, 48, 48, 72, 1008, 1008, 1008]
        );
    }
}
