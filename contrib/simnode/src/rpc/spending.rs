//! `gettxspendingprevout`: who spends an output.
//!
//! Core 29.0 searches only the mempool and rebuilds each result as
//! `{"txid" (lower case), "vout"[, "spendingtxid"]}`. Core 31.0 takes options
//! (`mempool_only`, `return_spending_tx`, also as named parameters), answers confirmed spends
//! of the active chain from its `-txospenderindex` (with the block hash), and echoes each
//! request object as sent with the answer appended (recorded in
//! `data/bitcoind-core-v31/rpc/gettxspendingprevout_*`).

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::hashes::Hash;
use bitcoin::{OutPoint, Transaction, Txid};
use serde_json::Value;

use super::params::{
    err, parse_hash, type_name, Params, RPC_INVALID_PARAMETER, RPC_MISC_ERROR, RPC_TYPE_ERROR,
};
use super::NodeRpc;
use crate::http::RpcError;
use crate::json::Json;
use crate::node::Node;
use crate::version::CoreVersion;

/// Core's `RPCTypeCheckObj(o, fields, fAllowNull, fStrict=true)`: every field present (unless
/// `allow_null`) with its type, then no other key.
fn check_obj(
    o: &serde_json::Map<String, Value>,
    fields: &[(&str, &str)],
    allow_null: bool,
) -> Result<(), RpcError> {
    for (name, expected) in fields {
        match o.get(*name) {
            None | Some(Value::Null) if allow_null => {}
            None => return Err(err(RPC_TYPE_ERROR, format!("Missing {name}"))),
            Some(v) if type_name(v) != *expected => {
                return Err(err(
                    RPC_TYPE_ERROR,
                    format!(
                        "JSON value of type {} for field {name} is not of expected type {expected}",
                        type_name(v)
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    if let Some(key) = o.keys().find(|k| !fields.iter().any(|(n, _)| n == *k)) {
        return Err(err(RPC_TYPE_ERROR, format!("Unexpected key {key}")));
    }
    Ok(())
}

/// One requested outpoint: the object as sent and the outpoint it names.
struct Request<'a> {
    object: &'a serde_json::Map<String, Value>,
    outpoint: OutPoint,
}

/// The outputs argument, checked as Core does, item by item.
fn outpoints(items: &[Value]) -> Result<Vec<Request<'_>>, RpcError> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(o) = item else {
            return Err(err(
                RPC_TYPE_ERROR,
                format!(
                    "JSON value of type {} is not of expected type object",
                    type_name(item)
                ),
            ));
        };
        check_obj(o, &[("txid", "string"), ("vout", "number")], false)?;
        let txid = parse_hash("txid", o["txid"].as_str().unwrap_or_default())?;
        // UniValue's getInt<int>: an integer within 32 bits.
        let vout = o["vout"]
            .as_i64()
            .filter(|v| i32::try_from(*v).is_ok())
            .ok_or_else(|| err(RPC_MISC_ERROR, "JSON integer out of range"))?;
        if vout < 0 {
            return Err(err(
                RPC_INVALID_PARAMETER,
                "Invalid parameter, vout cannot be negative",
            ));
        }
        out.push(Request {
            object: o,
            outpoint: OutPoint::new(Txid::from_byte_array(txid), vout as u32),
        });
    }
    Ok(out)
}

/// The options object (Core 31), defaults applied: (`mempool_only`, `return_spending_tx`).
fn options(p: &Params, index: bool) -> Result<(bool, bool), RpcError> {
    let empty = serde_json::Map::new();
    let o = match p.get(1) {
        None => &empty,
        Some(Value::Object(o)) => o,
        // The type was checked before the method ran.
        Some(v) => {
            return Err(err(
                RPC_TYPE_ERROR,
                format!(
                    "JSON value of type {} is not of expected type object",
                    type_name(v)
                ),
            ))
        }
    };
    check_obj(
        o,
        &[("mempool_only", "bool"), ("return_spending_tx", "bool")],
        true,
    )?;
    let flag = |k: &str| o.get(k).and_then(Value::as_bool);
    Ok((
        flag("mempool_only").unwrap_or(!index),
        flag("return_spending_tx").unwrap_or(false),
    ))
}

/// The confirmed spender of `outpoint` on the active chain: its transaction and block hash.
fn confirmed_spender(node: &Node, outpoint: &OutPoint) -> Option<(Transaction, String)> {
    let (height, pos) = node.spenders.get(outpoint)?;
    let b = node.block_at(height)?;
    Some((b.tx(pos as usize)?, b.hash.to_string()))
}

pub fn gettxspendingprevout(rpc: &NodeRpc, p: &Params) -> Result<Json, RpcError> {
    let items = p.array(0)?.ok_or_else(|| err(-1, p.help.to_string()))?;
    if items.is_empty() {
        return Err(err(
            RPC_INVALID_PARAMETER,
            "Invalid parameter, outputs are missing",
        ));
    }
    let node = rpc.lock();
    let core = node.core;
    let index = core.has_txospenderindex() && node.txospenderindex;
    let (mempool_only, return_tx) = match core {
        CoreVersion::V29 => (true, false),
        CoreVersion::V31 => options(p, index)?,
    };
    let requests = outpoints(items)?;
    let mempool_tx = |txid: &Txid| node.mempool.get(txid).map(|e| e.tx.clone());
    let mut results = Vec::with_capacity(requests.len());
    let mut missing = Vec::new();
    for (k, r) in requests.iter().enumerate() {
        let mut o = match core {
            CoreVersion::V29 => Json::obj()
                .with("txid", r.outpoint.txid.to_string())
                .with("vout", r.outpoint.vout),
            CoreVersion::V31 => Json::from_value(&Value::Object(r.object.clone())),
        };
        match node.mempool.spender(&r.outpoint) {
            Some(spender) => {
                o.push("spendingtxid", spender.to_string());
                if return_tx {
                    if let Some(tx) = mempool_tx(&spender) {
                        o.push("spendingtx", serialize_hex(&tx));
                    }
                }
            }
            None if !mempool_only => missing.push(k),
            None => {}
        }
        results.push(o);
    }
    if let Some(first) = missing.first() {
        if !index {
            let op = requests[*first].outpoint;
            return Err(err(
                RPC_MISC_ERROR,
                format!(
                    "No spending tx for the outpoint {}:{} in mempool, and txospenderindex is unavailable.",
                    op.txid, op.vout
                ),
            ));
        }
    }
    for k in missing {
        if let Some((tx, blockhash)) = confirmed_spender(&node, &requests[k].outpoint) {
            let o = &mut results[k];
            o.push("spendingtxid", tx.compute_txid().to_string());
            o.push("blockhash", blockhash);
            if return_tx {
                o.push("spendingtx", serialize_hex(&tx));
            }
        }
    }
    Ok(Json::Arr(results))
}
