//! Serving the chain and mempool recorded from a real Bitcoin Core 29.0
//! (bundled in this crate's `data/bitcoind-core-v29/`, see [`core_v29_dir`]): active blocks, stale blocks, mempool entries as Core printed
//! them, and the node state that cannot be derived from blocks (fee estimates, ZMQ
//! endpoints), taken from the recorded answers. Core 31.0 was recorded on the same chain and
//! mempool ([`core_v31_dir`]).

use std::fs;
use std::path::Path;

use bitcoin::consensus::deserialize;
use bitcoin::{Block, Transaction};
use serde_json::Value;

use crate::gen::GenParams;
use crate::node::Node;
use crate::rpc::params::{decode_hex, parse_btc};
use crate::rpc::ZmqEndpoint;

/// Why the recording could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RecordedError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{file} line {line}: {why}")]
    Bad {
        file: &'static str,
        line: usize,
        why: String,
    },
}

fn read(dir: &Path, name: &str) -> Result<String, RecordedError> {
    let path = dir.join(name);
    fs::read_to_string(&path).map_err(|source| RecordedError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn lines(text: &str) -> impl Iterator<Item = (usize, Result<Value, serde_json::Error>)> + '_ {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, serde_json::from_str(l)))
}

fn hex_field<T: bitcoin::consensus::Decodable>(
    v: &Value,
    key: &str,
    file: &'static str,
    line: usize,
) -> Result<T, RecordedError> {
    let bad = |why: &str| RecordedError::Bad {
        file,
        line,
        why: why.to_string(),
    };
    let s = v
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| bad("missing hex"))?;
    let bytes = decode_hex(s).ok_or_else(|| bad("bad hex"))?;
    deserialize(&bytes).map_err(|_| bad("does not decode"))
}

/// The recording of Bitcoin Core 29.0 bundled with the stand-in (`data/bitcoind-core-v29`
/// in this crate: chain, stale blocks, mempool, scenario labels and RPC exchanges).
pub fn core_v29_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/bitcoind-core-v29"
    ))
}

/// The exchanges recorded from Bitcoin Core 31.0 on the same chain and mempool
/// (`data/bitcoind-core-v31`: `rpc/` and a README; the chain is [`core_v29_dir`]'s).
pub fn core_v31_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/bitcoind-core-v31"
    ))
}

/// Loads the recording in `dir` into a node. The node's own wallet (seed 0) owns nothing in
/// it, so generated traffic starts once blocks mined by the stand-in mature.
pub fn load(dir: &Path) -> Result<(Node, Vec<ZmqEndpoint>), RecordedError> {
    let mut node = Node::new(GenParams::fixture(0));
    let chain = read(dir, "chain.jsonl")?;
    for (line, v) in lines(&chain) {
        let v = v.map_err(|e| RecordedError::Bad {
            file: "chain.jsonl",
            line,
            why: e.to_string(),
        })?;
        if v.get("height").and_then(Value::as_u64) == Some(0) {
            continue;
        }
        let block: Block = hex_field(&v, "block_hex", "chain.jsonl", line)?;
        node.connect_block(block).map_err(|e| RecordedError::Bad {
            file: "chain.jsonl",
            line,
            why: e.to_string(),
        })?;
    }
    let orphaned = read(dir, "orphaned.jsonl")?;
    for (line, v) in lines(&orphaned) {
        let v = v.map_err(|e| RecordedError::Bad {
            file: "orphaned.jsonl",
            line,
            why: e.to_string(),
        })?;
        let block: Block = hex_field(&v, "block_hex", "orphaned.jsonl", line)?;
        // The recorded stale branches were made with `invalidateblock`.
        node.add_stale_block(&block, "invalid");
    }
    let mempool = read(dir, "mempool.jsonl")?;
    let mut pending: Vec<(Transaction, Value)> = Vec::new();
    for (line, v) in lines(&mempool) {
        let v = v.map_err(|e| RecordedError::Bad {
            file: "mempool.jsonl",
            line,
            why: e.to_string(),
        })?;
        let tx: Transaction = hex_field(&v, "hex", "mempool.jsonl", line)?;
        pending.push((tx, v.get("entry").cloned().unwrap_or(Value::Null)));
    }
    // Parents before children: retry until nothing more is accepted.
    while !pending.is_empty() {
        let before = pending.len();
        let mut rest = Vec::new();
        for (tx, entry) in pending {
            match node.accept_tx(&tx, 0, false) {
                Ok(a) => node.mempool.restamp(
                    &a.txid,
                    entry.get("time").and_then(Value::as_u64),
                    entry
                        .get("height")
                        .and_then(Value::as_u64)
                        .map(|h| h as u32),
                    entry.get("unbroadcast").and_then(Value::as_bool),
                ),
                Err(_) => rest.push((tx, entry)),
            }
        }
        if rest.len() == before {
            let why = format!("{} transactions do not connect", rest.len());
            return Err(RecordedError::Bad {
                file: "mempool.jsonl",
                line: 0,
                why,
            });
        }
        pending = rest;
    }
    // Fee estimates as the recorded node answered them.
    if let Ok(entries) = fs::read_dir(dir.join("rpc")) {
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.contains("estimatesmartfee") && n.ends_with(".req"))
            .collect();
        names.sort();
        for name in names {
            let stem = name.trim_end_matches(".req");
            let (Ok(req), Ok(resp)) = (
                read(&dir.join("rpc"), &name),
                read(&dir.join("rpc"), &format!("{stem}.json")),
            ) else {
                continue;
            };
            let (Ok(req), Ok(resp)) = (
                serde_json::from_str::<Value>(&req),
                serde_json::from_str::<Value>(&resp),
            ) else {
                continue;
            };
            let Some(target) = req["params"].get(0).and_then(Value::as_u64) else {
                continue;
            };
            let mode = req["params"]
                .get(1)
                .and_then(Value::as_str)
                .unwrap_or("unset")
                .to_ascii_lowercase();
            let result = &resp["result"];
            if result.is_null() || stem.contains("nodata") {
                continue;
            }
            let answer = match result.get("feerate") {
                Some(f) => parse_btc(&f.to_string()).map(|r| {
                    (
                        r,
                        result.get("blocks").and_then(Value::as_u64).unwrap_or(0) as u16,
                    )
                }),
                None => None,
            };
            node.fee_overrides.insert((target as u16, mode), answer);
        }
    }
    node.resync_wallet();
    Ok((node, zmq_endpoints(dir)))
}

/// The ZMQ endpoints a recorded node reported (`rpc/getzmqnotifications.json` in `dir`):
/// configuration, not chain state, so each recording has its own.
pub fn zmq_endpoints(dir: &Path) -> Vec<ZmqEndpoint> {
    let mut zmq = Vec::new();
    if let Ok(text) = read(&dir.join("rpc"), "getzmqnotifications.json") {
        if let Ok(v) = serde_json::from_str::<Value>(&text) {
            for z in v["result"].as_array().into_iter().flatten() {
                zmq.push(ZmqEndpoint {
                    kind: z["type"].as_str().unwrap_or_default().to_string(),
                    address: z["address"].as_str().unwrap_or_default().to_string(),
                    hwm: z["hwm"].as_u64().unwrap_or(1000) as u32,
                });
            }
        }
    }
    zmq
}
