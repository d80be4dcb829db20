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

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The positional parameters of one call, with the method's help for error messages.
pub struct Params<'a> {
    pub values: &'a [Value],
    pub names: &'static [&'static str],
    pub help: &'a str,
}

impl<'a> Params<'a> {
    /// Rejects calls with too many or too few parameters as Core does (the help text as a
    /// -1 error).
    pub fn arity(&self, required: usize) -> Result<(), RpcError> {
        let given = self
            .values
            .iter()
            .rposition(|v| !v.is_null())
            .map_or(0, |i| i + 1);
        if self.values.len() > self.names.len() || given < required {
            return Err(err(RPC_MISC_ERROR, self.help.to_string()));
        }
        Ok(())
    }

    /// Parameter `i`, `None` when absent or null.
    pub fn get(&self, i: usize) -> Option<&'a Value> {
        self.values.get(i).filter(|v| !v.is_null())
    }

    fn wrong_type(&self, i: usize, v: &Value, expected: &str) -> RpcError {
        let name = self.names.get(i).copied().unwrap_or("arg");
        err(
            RPC_TYPE_ERROR,
            format!(
                "Wrong type passed:\n{{\n    \"Position {} ({})\": \"JSON value of type {} is not of expected type {}\"\n}}",
                i + 1,
                name,
                type_name(v),
                expected
            ),
        )
    }

    /// An integer parameter.
    pub fn int(&self, i: usize) -> Result<Option<i64>, RpcError> {
        match self.get(i) {
            None => Ok(None),
            Some(v @ Value::Number(n)) => match n.as_i64() {
                Some(x) => Ok(Some(x)),
                None => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(Some(f as i64)),
                    _ => Err(self.wrong_type(i, v, "number")),
                },
            },
            Some(v) => Err(self.wrong_type(i, v, "number")),
        }
    }

    /// A boolean parameter.
    pub fn bool(&self, i: usize) -> Result<Option<bool>, RpcError> {
        match self.get(i) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.wrong_type(i, v, "bool")),
        }
    }

    /// A verbosity that may be given as a number or a bool (Core's `ParseVerbosity`).
    pub fn verbosity(&self, i: usize, default: i64) -> Result<i64, RpcError> {
        match self.get(i) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(i64::from(*b)),
            Some(v @ Value::Number(_)) => self
                .int(i)
                .map(|x| x.unwrap_or(default))
                .map_err(|_| self.wrong_type(i, v, "number")),
            Some(v) => Err(self.wrong_type(i, v, "number")),
        }
    }

    /// A string parameter.
    pub fn str(&self, i: usize) -> Result<Option<&'a str>, RpcError> {
        match self.get(i) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(self.wrong_type(i, v, "string")),
        }
    }

    /// An array parameter.
    pub fn array(&self, i: usize) -> Result<Option<&'a Vec<Value>>, RpcError> {
        match self.get(i) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(v) => Err(self.wrong_type(i, v, "array")),
        }
    }

    /// An amount in BTC (number or numeric string), in satoshis (Core's `AmountFromValue`).
    pub fn amount(&self, i: usize) -> Result<Option<u64>, RpcError> {
        let Some(v) = self.get(i) else {
            return Ok(None);
        };
        let text = match v {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            other => return Err(self.wrong_type(i, other, "number")),
        };
        parse_btc(&text)
            .map(Some)
            .ok_or_else(|| err(RPC_TYPE_ERROR, "Invalid amount"))
    }

    /// A 32-byte hash in display hex (Core's `ParseHashV`).
    pub fn hash(&self, i: usize) -> Result<Option<[u8; 32]>, RpcError> {
        let name = self.names.get(i).copied().unwrap_or("hash");
        let Some(s) = self.str(i)? else {
            return Ok(None);
        };
        parse_hash(name, s).map(Some)
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
