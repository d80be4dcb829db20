//! Blockchain methods: chain info, block hashes, headers, blocks, tips, indexes.

use std::collections::{HashMap, HashSet};

use bitcoin::hashes::Hash;
use bitcoin::hex::DisplayHex;
use bitcoin::{BlockHash, OutPoint};

use super::params::{err, Params, RPC_INVALID_ADDRESS_OR_KEY, RPC_INVALID_PARAMETER};
use super::NodeRpc;
use crate::corejson::{self, BlockCtx, Prevout};
use crate::http::RpcError;
use crate::json::Json;
use crate::node::{Node, StoredBlock};
use crate::version::CoreVersion;

/// Hex of a 32-byte big-endian number.
fn hex32(b: &[u8; 32]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Core's `BlockCtx` for a stored block.
pub fn block_ctx(node: &Node, b: &StoredBlock) -> BlockCtx {
    BlockCtx {
        height: b.height,
        confirmations: node.confirmations(&b.hash),
        chainwork: b.chainwork.to_be_bytes(),
        median_time: b.median_time,
        next_hash: node.next_hash(&b.hash),
        network: node.network,
    }
}

/// Prevouts of a block's inputs from its undo data.
pub fn block_prevouts(b: &StoredBlock, block: &bitcoin::Block) -> HashMap<OutPoint, Prevout> {
    block
        .txdata
        .iter()
        .skip(1)
        .flat_map(|t| t.input.iter().map(|i| i.previous_output))
        .zip(b.undo.iter())
        .map(|(op, c)| {
            (
                op,
                Prevout {
                    txout: c.txout.clone(),
                    height: c.height,
                    coinbase: c.coinbase,
                },
            )
        })
        .collect()
}

pub fn getblockchaininfo(rpc: &NodeRpc) -> Result<Json, RpcError> {
    let node = rpc.lock();
    let tip = node.tip().ok_or_else(|| err(-1, "no tip"))?;
    let bits = tip.header.bits.to_consensus();
    let size_on_disk: u64 = node.all_blocks().map(|b| b.size() as u64 + 8).sum();
    Ok(Json::obj()
        .with("chain", "regtest")
        .with("blocks", tip.height)
        .with("headers", tip.height)
        .with("bestblockhash", tip.hash.to_string())
        .with("bits", format!("{bits:08x}"))
        .with("target", hex32(&corejson::target_from_bits(bits)))
        .with("difficulty", corejson::difficulty(bits))
        .with("time", tip.header.time)
        .with("mediantime", tip.median_time)
        .with("verificationprogress", Json::Int(1))
        .with("initialblockdownload", false)
        .with("chainwork", hex32(&tip.chainwork.to_be_bytes()))
        .with("size_on_disk", size_on_disk)
        .with("pruned", false)
        .with("warnings", Json::Arr(vec![])))
}

pub fn getnetworkinfo(rpc: &NodeRpc) -> Result<Json, RpcError> {
    let core = rpc.lock().core;
    let relay_fee = Json::Amount(core.min_relay_feerate() as i64);
    let network = |name: &str, limited: bool| {
        Json::obj()
            .with("name", name)
            .with("limited", limited)
            .with("reachable", !limited)
            .with("proxy", "")
            .with("proxy_randomize_credentials", false)
    };
    Ok(Json::obj()
        .with("version", core.number())
        .with("subversion", core.subversion())
        .with("protocolversion", 70016i64)
        .with("localservices", "0000000000000c09")
        .with(
            "localservicesnames",
            Json::Arr(vec![
                "NETWORK".into(),
                "WITNESS".into(),
                "NETWORK_LIMITED".into(),
                "P2P_V2".into(),
            ]),
        )
        .with("localrelay", true)
        .with("timeoffset", 0i64)
        .with("networkactive", true)
        .with("connections", 0i64)
        .with("connections_in", 0i64)
        .with("connections_out", 0i64)
        .with(
            "networks",
            Json::Arr(vec![
                network("ipv4", false),
                network("ipv6", false),
                network("onion", true),
                network("i2p", true),
                network("cjdns", true),
            ]),
        )
        .with("relayfee", relay_fee.clone())
        .with("incrementalfee", relay_fee)
        .with("localaddresses", Json::Arr(vec![]))
        .with("warnings", Json::Arr(vec![])))
}

pub fn getblockcount(rpc: &NodeRpc) -> Result<Json, RpcError> {
    Ok(Json::Int(i64::from(rpc.lock().tip_height())))
}

pub fn getbestblockhash(rpc: &NodeRpc) -> Result<Json, RpcError> {
    Ok(Json::Str(rpc.lock().tip_hash().to_string()))
}

pub fn getblockhash(rpc: &NodeRpc, p: &Params) -> Result<Json, RpcError> {
    let h = p.int(0)?.unwrap_or(-1);
    let node = rpc.lock();
    if h < 0 || h > i64::from(node.tip_height()) {
        return Err(err(RPC_INVALID_PARAMETER, "Block height out of range"));
    }
    node.hash_at(h as u32)
        .map(|x| Json::Str(x.to_string()))
        .ok_or_else(|| err(RPC_INVALID_PARAMETER, "Block height out of range"))
}

fn find_block<'a>(node: &'a Node, hash: &BlockHash) -> Result<&'a StoredBlock, RpcError> {
    node.block(hash)
        .ok_or_else(|| err(RPC_INVALID_ADDRESS_OR_KEY, "Block not found"))
}

pub fn getblockheader(rpc: &NodeRpc, p: &Params) -> Result<Json, RpcError> {
    // Core names the parameter "hash" in its ParseHashV errors.
    let hash = p
        .hash_as(0, "hash")?
        .map(BlockHash::from_byte_array)
        .ok_or_else(|| err(-1, p.help.to_string()))?;
    let verbose = p.bool(1)?.unwrap_or(true);
    let node = rpc.lock();
    let b = find_block(&node, &hash)?;
    if !verbose {
        return Ok(Json::Str(corejson::header_hex(&b.header)));
    }
    Ok(corejson::header_verbose(
        &b.header,
        b.txids.len(),
        &block_ctx(&node, b),
    ))
}

pub fn getblock(rpc: &NodeRpc, p: &Params) -> Result<Json, RpcError> {
    let hash = p.blockhash(0)?.ok_or_else(|| err(-1, p.help.to_string()))?;
    let verbosity = p.verbosity(1, 1)?;
    let node = rpc.lock();
    let b = find_block(&node, &hash)?;
    if verbosity <= 0 {
        if let Some(disk) = b.disk.clone() {
            // A disk-backed chain's block: read it without holding the node.
            drop(node);
            let raw = disk
                .read()
                .map_err(|e| err(-1, format!("Block not available ({e})")))?;
            return Ok(Json::Str(raw.to_lower_hex_string()));
        }
        return Ok(Json::Str(b.raw.to_lower_hex_string()));
    }
    let block = b
        .block()
        .ok_or_else(|| err(-1, "Block not available (corrupt)"))?;
    let prevouts = if verbosity >= 2 {
        block_prevouts(b, &block)
    } else {
        HashMap::new()
    };
    let lookup = |op: &OutPoint| prevouts.get(op).cloned();
    let json = corejson::block_verbose(
        &block,
        &block_ctx(&node, b),
        verbosity.clamp(1, 3) as u8,
        &lookup,
    );
    match (node.core, json) {
        // Core 31 describes the coinbase between "weight" and "tx".
        (CoreVersion::V31, Json::Obj(mut entries)) => {
            let at = entries
                .iter()
                .position(|(k, _)| k == "tx")
                .unwrap_or(entries.len());
            if let Some(cb) = block.txdata.first() {
                entries.insert(at, ("coinbase_tx".to_string(), coinbase_tx(cb)));
            }
            Ok(Json::Obj(entries))
        }
        (_, json) => Ok(json),
    }
}

/// Core 31's `coinbase_tx` of a verbose block: the coinbase's version, lock time, input
/// sequence and scriptSig, and its first witness item when it has one.
fn coinbase_tx(tx: &bitcoin::Transaction) -> Json {
    let mut out = Json::obj()
        .with("version", i64::from(tx.version.0))
        .with("locktime", tx.lock_time.to_consensus_u32());
    if let Some(input) = tx.input.first() {
        out.push("sequence", input.sequence.0);
        out.push(
            "coinbase",
            input.script_sig.as_bytes().to_lower_hex_string(),
        );
        if let Some(w) = input.witness.nth(0) {
            out.push("witness", w.to_lower_hex_string());
        }
    }
    out
}

pub fn getchaintips(rpc: &NodeRpc) -> Result<Json, RpcError> {
    let node = rpc.lock();
    let parents: HashSet<BlockHash> = node.all_blocks().map(|b| b.header.prev_blockhash).collect();
    let mut tips: Vec<&StoredBlock> = node
        .all_blocks()
        .filter(|b| !parents.contains(&b.hash) || b.hash == node.tip_hash())
        .collect();
    tips.sort_by(|a, b| b.height.cmp(&a.height).then(a.hash.cmp(&b.hash)));
    let mut out = Vec::new();
    for t in tips {
        // Walk back to the active chain.
        let mut cur = t;
        let mut branchlen = 0i64;
        while !node.is_active(&cur.hash) {
            branchlen += 1;
            match node.block(&cur.header.prev_blockhash) {
                Some(b) => cur = b,
                None => break,
            }
        }
        let status = if branchlen == 0 {
            "active"
        } else {
            t.stale_status
        };
        out.push(
            Json::obj()
                .with("height", t.height)
                .with("hash", t.hash.to_string())
                .with("branchlen", branchlen)
                .with("status", status),
        );
    }
    Ok(Json::Arr(out))
}

pub fn getindexinfo(rpc: &NodeRpc, p: &Params) -> Result<Json, RpcError> {
    let name = p.str(0)?;
    let node = rpc.lock();
    let mut out = Json::obj();
    let indexes = [
        ("txindex", node.txindex),
        (
            "txospenderindex",
            node.core.has_txospenderindex() && node.txospenderindex,
        ),
    ];
    for (index, enabled) in indexes {
        // An empty name lists every index, as no name does.
        if enabled && name.is_none_or(|n| n.is_empty() || n == index) {
            out.push(
                index,
                Json::obj()
                    .with("synced", true)
                    .with("best_block_height", node.tip_height()),
            );
        }
    }
    Ok(out)
}

pub fn getzmqnotifications(rpc: &NodeRpc) -> Result<Json, RpcError> {
    Ok(Json::Arr(
        rpc.zmq
            .iter()
            .map(|z| {
                Json::obj()
                    .with("type", z.kind.as_str())
                    .with("address", z.address.as_str())
                    .with("hwm", z.hwm)
            })
            .collect(),
    ))
}
