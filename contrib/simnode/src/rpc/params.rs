//! Parameter checking with Core's error codes and messages.

use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, Txid};
use serde_json::Value;

use crate::http::RpcError;

/// Core's `RPC_MISC_ERROR`.
pub const RPC_MISC_ERROR: i64 = -1;
/// Core's `RPC_TYPE_ERROR`.
pub const RPC_TYPE_ERROR: i64 = -3;
/// Core's `RPC_INVALID_ADDRESS_OR_KEY` (also "not found").
pub const RPC_INVALID_ADDRESS_OR_KEY: i64 = -5;
/// Core's `RPC_INVALID_PARAMETER`.
pub const RPC_INVALID_PARAMETER: i64 = -8;
/// Core's `RPC_DESERIALIZATION_ERROR`.
pub const RPC_DESERIALIZATION_ERROR: i64 = -22;

/// An error object.
pub fn err(code: i64, message: impl Into<String>) -> RpcError {
    RpcError {
        code,
        message: message.into(),
    }
}

/// The JSON type's name as Core's messages say it (`UniValue::uvTypeName`).
pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// What UniValue's `get_str()`, `get_bool()`, `getInt()`... throw on a value of the wrong
/// type, which Core answers as a -3 with the bare message.
fn plain_type_error(v: &Value, expected: &str) -> RpcError {
    err(
        RPC_TYPE_ERROR,
        format!(
            "JSON value of type {} is not of expected type {expected}",
            type_name(v)
        ),
    )
}

/// The type an argument is checked against before the method runs (Core's
/// `RPCArg::MatchesType`); `Unchecked` for `AMOUNT` arguments and those declared with
/// `skip_type_check` (the `verbosity|verbose` ones), which the method checks itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgType {
    Str,
    Num,
    Bool,
    Arr,
    Obj,
    Unchecked,
}

impl ArgType {
    fn expected(self) -> Option<&'static str> {
        match self {
            ArgType::Str => Some("string"),
            ArgType::Num => Some("number"),
            ArgType::Bool => Some("bool"),
            ArgType::Arr => Some("array"),
            ArgType::Obj => Some("object"),
            ArgType::Unchecked => None,
        }
    }
}

/// One argument: its type and whether it is required.
pub type ArgSpec = (ArgType, bool);

/// The positional parameters of one call, with the method's help for error messages.
pub struct Params<'a> {
    pub values: &'a [Value],
    /// Argument names in Core's form (`"verbosity|verbose"` for an alias).
    pub names: &'static [&'static str],
    /// Type and requiredness of each argument (same length as `names`).
    pub specs: &'static [ArgSpec],
    pub help: &'a str,
}

impl<'a> Params<'a> {
    /// Core's `RPCHelpMan::HandleRequest` checks, before the method runs: the number of
    /// arguments (null ones included) must be between the required count and the declared
    /// count, else the help comes back as a -1 error; then every argument's type, all
    /// mismatches in one -3 error (a required argument given as null is a mismatch).
    pub fn check(&self) -> Result<(), RpcError> {
        let required = self
            .specs
            .iter()
            .rposition(|(_, required)| *required)
            .map_or(0, |i| i + 1);
        if self.values.len() < required || self.values.len() > self.names.len() {
            return Err(err(RPC_MISC_ERROR, self.help.to_string()));
        }
        let mut mismatches = Vec::new();
        for (i, (ty, required)) in self.specs.iter().enumerate() {
            let v = self.values.get(i).unwrap_or(&Value::Null);
            if !required && v.is_null() {
                continue;
            }
            let Some(expected) = ty.expected() else {
                continue;
            };
            if type_name(v) != expected {
                mismatches.push(format!(
                    "\"Position {} ({})\": \"JSON value of type {} is not of expected type {expected}\"",
                    i + 1,
                    self.names.get(i).copied().unwrap_or("arg"),
                    type_name(v),
                ));
            }
        }
        if mismatches.is_empty() {
            return Ok(());
        }
        // UniValue's `write(4)` of the mismatch object.
        Err(err(
            RPC_TYPE_ERROR,
            format!(
                "Wrong type passed:\n{{\n    {}\n}}",
                mismatches.join(",\n    ")
            ),
        ))
    }

    /// Parameter `i`, `None` when absent or null.
    pub fn get(&self, i: usize) -> Option<&'a Value> {
        self.values.get(i).filter(|v| !v.is_null())
    }

    /// An integer parameter as Core's `getInt<int>()` reads it: a number written as an
    /// integer within 32 bits, else -1 "JSON integer out of range" (`1.0` and `1e3` too).
    pub fn int(&self, i: usize) -> Result<Option<i64>, RpcError> {
        match self.get(i) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(x) if i32::try_from(x).is_ok() => Ok(Some(x)),
                _ => Err(err(RPC_MISC_ERROR, "JSON integer out of range")),
            },
            Some(v) => Err(plain_type_error(v, "number")),
        }
    }

    /// A boolean parameter.
    pub fn bool(&self, i: usize) -> Result<Option<bool>, RpcError> {
        match self.get(i) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(plain_type_error(v, "bool")),
        }
    }

    /// A verbosity that may be given as a number or a bool (Core's `ParseVerbosity`).
    pub fn verbosity(&self, i: usize, default: i64) -> Result<i64, RpcError> {
        match self.get(i) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(i64::from(*b)),
            Some(_) => self.int(i).map(|x| x.unwrap_or(default)),
        }
    }

    /// A string parameter.
    pub fn str(&self, i: usize) -> Result<Option<&'a str>, RpcError> {
        match self.get(i) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(plain_type_error(v, "string")),
        }
    }

    /// An array parameter.
    pub fn array(&self, i: usize) -> Result<Option<&'a Vec<Value>>, RpcError> {
        match self.get(i) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(v) => Err(plain_type_error(v, "array")),
        }
    }

    /// An amount in BTC (number or numeric string), in satoshis, with Core's
    /// `AmountFromValue` errors.
    pub fn amount(&self, i: usize) -> Result<Option<u64>, RpcError> {
        let Some(v) = self.get(i) else {
            return Ok(None);
        };
        let text = match v {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => return Err(err(RPC_TYPE_ERROR, "Amount is not a number or string")),
        };
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let well_formed = digits
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
            && digits.bytes().next().is_some_and(|c| c.is_ascii_digit());
        let value: Option<f64> = if well_formed {
            digits.parse().ok()
        } else {
            None
        };
        let Some(value) = value.filter(|f| f.is_finite()) else {
            return Err(err(RPC_TYPE_ERROR, "Invalid amount"));
        };
        if (negative && value != 0.0) || value > 21_000_000.0 {
            return Err(err(RPC_TYPE_ERROR, "Amount out of range"));
        }
        parse_btc(digits)
            .map(Some)
            .ok_or_else(|| err(RPC_TYPE_ERROR, "Invalid amount"))
    }

    /// Core's `ParseFeeRate`: an amount per kvB below 1 BTC/kvB.
    pub fn fee_rate(&self, i: usize) -> Result<Option<u64>, RpcError> {
        let rate = self.amount(i)?;
        if rate.is_some_and(|r| r >= 100_000_000) {
            return Err(err(
                RPC_INVALID_PARAMETER,
                "Fee rates larger than or equal to 1BTC/kvB are not accepted",
            ));
        }
        Ok(rate)
    }

    /// A 32-byte hash in display hex (Core's `ParseHashV`), named in errors after the
    /// parameter.
    pub fn hash(&self, i: usize) -> Result<Option<[u8; 32]>, RpcError> {
        let name = self.names.get(i).copied().unwrap_or("hash");
        self.hash_as(i, name)
    }

    /// A 32-byte hash, named `label` in errors (Core passes e.g. "parameter 1" or "hash").
    pub fn hash_as(&self, i: usize, label: &str) -> Result<Option<[u8; 32]>, RpcError> {
        let Some(s) = self.str(i)? else {
            return Ok(None);
        };
        parse_hash(label, s).map(Some)
    }

    /// A block hash parameter.
    pub fn blockhash(&self, i: usize) -> Result<Option<BlockHash>, RpcError> {
        Ok(self.hash(i)?.map(BlockHash::from_byte_array))
    }

    /// A txid parameter.
    pub fn txid(&self, i: usize) -> Result<Option<Txid>, RpcError> {
        Ok(self.hash(i)?.map(Txid::from_byte_array))
    }
}

/// Parses display hex into internal byte order, with Core's messages.
pub fn parse_hash(name: &str, s: &str) -> Result<[u8; 32], RpcError> {
    if s.len() != 64 {
        return Err(err(
            RPC_INVALID_PARAMETER,
            format!("{name} must be of length 64 (not {}, for '{s}')", s.len()),
        ));
    }
    let mut out = [0u8; 32];
    for (k, chunk) in s.as_bytes().chunks(2).enumerate() {
        let byte = std::str::from_utf8(chunk)
            .ok()
            .and_then(|t| u8::from_str_radix(t, 16).ok())
            .ok_or_else(|| {
                err(
                    RPC_INVALID_PARAMETER,
                    format!("{name} must be hexadecimal string (not '{s}')"),
                )
            })?;
        out[31 - k] = byte;
    }
    Ok(out)
}

/// Parses a decimal BTC amount with at most 8 decimals into satoshis.
pub fn parse_btc(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.starts_with('-') {
        return None;
    }
    let f: f64 = s.parse().ok()?;
    if !f.is_finite() || !(0.0..=21_000_000.0).contains(&f) {
        return None;
    }
    let sats = (f * 1e8).round();
    if ((sats / 1e8) - f).abs() > 1e-9 {
        return None;
    }
    Some(sats as u64)
}

/// Decodes hex into bytes; `None` on odd length or a non-hex character.
pub fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|c| {
            std::str::from_utf8(c)
                .ok()
                .and_then(|t| u8::from_str_radix(t, 16).ok())
        })
        .collect()
}
