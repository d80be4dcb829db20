//! `simnode_*` control methods, for shell demos and tests written in other languages.
//! The Rust API ([`crate::SimNode`], [`crate::node::Node`]) offers the same and more.

use std::path::Path;
use std::time::Duration;

use super::params::{err, Params, RPC_INVALID_PARAMETER};
use super::{NodeRpc, RPC_METHOD_NOT_FOUND};
use crate::http::RpcError;
use crate::json::Json;
use crate::truth::ScriptHash;

fn misc(e: impl std::fmt::Display) -> RpcError {
    err(-1, e.to_string())
}

fn later(f: impl std::future::Future<Output = ()> + Send + 'static) -> Result<(), RpcError> {
    let handle = tokio::runtime::Handle::try_current().map_err(misc)?;
    handle.spawn(f);
    Ok(())
}

fn count(p: &Params, i: usize, default: i64, max: i64) -> Result<u32, RpcError> {
    let n = p.int(i)?.unwrap_or(default);
    if !(0..=max).contains(&n) {
        return Err(err(
            RPC_INVALID_PARAMETER,
            format!(
                "{} must be between 0 and {max}",
                p.names.get(i).unwrap_or(&"value")
            ),
        ));
    }
    Ok(n as u32)
}

pub fn call(rpc: &NodeRpc, method: &str, p: &Params) -> Result<Json, RpcError> {
    match method {
        "simnode_mine" => {
            let n = count(p, 0, 1, 10_000)?;
            let hashes = rpc.lock().mine(n).map_err(misc)?;
            Ok(Json::Arr(
                hashes.iter().map(|h| Json::Str(h.to_string())).collect(),
            ))
        }
        "simnode_addtraffic" => {
            let n = count(p, 0, 10, 100_000)?;
            let txids = rpc.lock().add_traffic(n);
            Ok(Json::Arr(
                txids.iter().map(|t| Json::Str(t.to_string())).collect(),
            ))
        }
        "simnode_rbf" => {
            let txid = p.txid(0)?.ok_or_else(|| err(-1, p.help.to_string()))?;
            let new = rpc.lock().rbf_replace(&txid).map_err(misc)?;
            Ok(Json::Str(new.to_string()))
        }
        "simnode_evict" => {
            let txid = p.txid(0)?.ok_or_else(|| err(-1, p.help.to_string()))?;
            let gone = rpc.lock().evict(&txid).map_err(misc)?;
            Ok(Json::Arr(
                gone.iter().map(|t| Json::Str(t.to_string())).collect(),
            ))
        }
        "simnode_reorg" => {
            let depth = count(p, 0, 1, 10_000)?;
            let new_blocks = count(p, 1, i64::from(depth) + 1, 10_000)?;
            let hashes = rpc.lock().reorg(depth, new_blocks).map_err(misc)?;
            Ok(Json::Arr(
                hashes.iter().map(|h| Json::Str(h.to_string())).collect(),
            ))
        }
        "simnode_down" => {
            // Answer first, then go down; come back after the given time.
            let secs = count(p, 0, 5, 3600)?;
            let control = rpc.control.clone();
            later(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                control.go_down().await;
                tokio::time::sleep(Duration::from_secs(u64::from(secs))).await;
                let _ = control.come_up().await;
            })?;
            Ok(Json::Null)
        }
        "simnode_slow" => {
            let ms = count(p, 0, 0, 600_000)?;
            rpc.control.set_delay(Duration::from_millis(u64::from(ms)));
            Ok(Json::Null)
        }
        "simnode_garbage" => {
            let secs = count(p, 0, 5, 3600)?;
            let control = rpc.control.clone();
            later(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                control.set_garbage(true);
                tokio::time::sleep(Duration::from_secs(u64::from(secs))).await;
                control.set_garbage(false);
            })?;
            Ok(Json::Null)
        }
        "simnode_warmup" => {
            let message = p.str(0)?.unwrap_or("Loading block index…").to_string();
            let secs = count(p, 1, 5, 3600)?;
            let control = rpc.control.clone();
            control.set_warmup(Some(&message));
            later(async move {
                tokio::time::sleep(Duration::from_secs(u64::from(secs))).await;
                control.set_warmup(None);
            })?;
            Ok(Json::Null)
        }
        "simnode_truth" => {
            let text = p.str(0)?.ok_or_else(|| err(-1, p.help.to_string()))?;
            let sh = ScriptHash::from_hex(text)
                .ok_or_else(|| err(RPC_INVALID_PARAMETER, "scripthash must be 64 hex digits"))?;
            let height = p.int(1)?.map(|h| h.max(0) as u32);
            let node = rpc.lock();
            let history = node
                .truth
                .history(&sh, height)
                .iter()
                .map(|h| {
                    Json::obj()
                        .with("tx_hash", h.txid.to_string())
                        .with("height", h.height)
                })
                .collect();
            let utxos = node
                .truth
                .utxos(&sh, height)
                .iter()
                .map(|u| {
                    Json::obj()
                        .with("tx_hash", u.outpoint.txid.to_string())
                        .with("tx_pos", u.outpoint.vout)
                        .with("height", u.height)
                        .with("value", u.value)
                })
                .collect();
            Ok(Json::obj()
                .with("history", Json::Arr(history))
                .with("utxos", Json::Arr(utxos))
                .with("balance", node.truth.balance(&sh, height)))
        }
        "simnode_save" => {
            let path = p.str(0)?.ok_or_else(|| err(-1, p.help.to_string()))?;
            let node = rpc.lock();
            crate::chainfile::save(&node, Path::new(path)).map_err(misc)?;
            Ok(Json::Null)
        }
        _ => Err(err(RPC_METHOD_NOT_FOUND, "Method not found")),
    }
}
