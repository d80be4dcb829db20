//! Transaction and mempool methods (submitting transactions: `submit.rs`).

use std::collections::BTreeSet;

use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, OutPoint, Transaction, Txid};

use super::chain::block_prevouts;
use super::params::{err, Params, RPC_INVALID_ADDRESS_OR_KEY, RPC_INVALID_PARAMETER};
use super::NodeRpc;
use crate::cluster::Chunks;
use crate::corejson::{self, Prevout, TxCtx};
use crate::http::RpcError;
use crate::json::Json;
use crate::mempool::cmp_uint256;
use crate::node::{Node, TxLocation};

const NO_SUCH_TX: &str =
    "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.";
const NO_TXINDEX: &str = "No such mempool transaction. Use -txindex or provide a block hash to enable blockchain transaction queries. Use gettransaction for wallet transactions.";

fn prevout_of(node: &Node, op: &OutPoint) -> Option<Prevout> {
    node.prevout_lookup(op).map(|c| Prevout {
        txout: c.txout,
        height: c.height,
        coinbase: c.coinbase,
    })
}

pub fn getrawtransaction(rpc: &NodeRpc, p: &Params) -> Result<Json, RpcError> {
    // Core's order: the txid ("parameter 1" in its errors), the genesis coinbase, the
    // verbosity, then the block hash ("parameter 3").
    let txid = p
        .hash_as(0, "parameter 1")?
        .map(Txid::from_byte_array)
        .ok_or_else(|| err(-1, p.help.to_string()))?;
    let network = rpc.lock().network;
    let genesis_cb = bitcoin::blockdata::constants::genesis_block(network).txdata[0].compute_txid();
    if txid == genesis_cb {
        return Err(err(
            RPC_INVALID_ADDRESS_OR_KEY,
            "The genesis block coinbase is not considered an ordinary transaction and cannot be retrieved",
        ));
    }
    let verbosity = p.verbosity(1, 0)?;
    let in_block = p.hash_as(2, "parameter 3")?.map(BlockHash::from_byte_array);
    let node = rpc.lock();
    let (tx, location) = match in_block {
        Some(bh) => {
            let b = node
                .block(&bh)
                .ok_or_else(|| err(RPC_INVALID_ADDRESS_OR_KEY, "Block hash not found"))?;
            let idx = b.txids.iter().position(|t| *t == txid).ok_or_else(|| {
                err(
                    RPC_INVALID_ADDRESS_OR_KEY,
                    "No such transaction found in the provided block. Use gettransaction for wallet transactions.",
                )
            })?;
            let tx = b
                .tx(idx)
                .ok_or_else(|| err(RPC_INVALID_ADDRESS_OR_KEY, NO_SUCH_TX))?;
            (
                tx,
                TxLocation::Block {
                    hash: bh,
                    index: idx as u32,
                },
            )
        }
        None => match node.find_tx(&txid) {
            Some((tx, TxLocation::Mempool)) => (tx, TxLocation::Mempool),
            Some(found) if node.txindex => found,
            _ if !node.txindex => return Err(err(RPC_INVALID_ADDRESS_OR_KEY, NO_TXINDEX)),
            _ => return Err(err(RPC_INVALID_ADDRESS_OR_KEY, NO_SUCH_TX)),
        },
    };
    if verbosity <= 0 {
        return Ok(corejson::tx_verbose(
            &tx,
            node.network,
            None,
            0,
            &corejson::no_prevouts,
        ));
    }
    match location {
        TxLocation::Mempool => Ok(corejson::tx_verbose(
            &tx,
            node.network,
            None,
            verbosity.min(2) as u8,
            &|op| prevout_of(&node, op),
        )),
        TxLocation::Block { hash, .. } => {
            let b = node
                .block(&hash)
                .ok_or_else(|| err(RPC_INVALID_ADDRESS_OR_KEY, NO_SUCH_TX))?;
            let active = node.is_active(&hash);
            let ctx = TxCtx {
                blockhash: hash,
                confirmations: if active { node.confirmations(&hash) } else { 0 },
                blocktime: active.then_some(b.header.time),
            };
            let prevouts = if verbosity >= 2 {
                b.block()
                    .map(|blk| block_prevouts(b, &blk))
                    .unwrap_or_default()
            } else {
                Default::default()
            };
            let json = corejson::tx_verbose(
                &tx,
                node.network,
                Some(&ctx),
                verbosity.min(2) as u8,
                &|op| prevouts.get(op).cloned(),
            );
            if in_block.is_some() {
                // Core puts "in_active_chain" first when a block hash was given.
                if let Json::Obj(mut entries) = json {
                    entries.insert(0, ("in_active_chain".to_string(), Json::Bool(active)));
                    return Ok(Json::Obj(entries));
                }
            }
            Ok(json)
        }
    }
}

fn signals_rbf(tx: &Transaction) -> bool {
    tx.input.iter().any(|i| i.sequence.0 < 0xffff_fffe)
}

/// Core's `entryToJSON` for one mempool transaction; `chunks` (Core 31) adds the
/// transaction's chunk.
pub fn mempool_entry_json(node: &Node, txid: &Txid, chunks: Option<&Chunks>) -> Option<Json> {
    let pool = &node.mempool;
    let e = pool.get(txid)?;
    let ancestors = pool.ancestors(txid);
    let descendants = pool.descendants(txid);
    let sum = |set: &BTreeSet<Txid>, f: &dyn Fn(&crate::mempool::MempoolEntry) -> u64| -> u64 {
        set.iter().filter_map(|t| pool.get(t)).map(f).sum()
    };
    let anc_size = e.vsize + sum(&ancestors, &|x| x.vsize);
    let anc_fee = e.fee + sum(&ancestors, &|x| x.fee);
    let desc_size = e.vsize + sum(&descendants, &|x| x.vsize);
    let desc_fee = e.fee + sum(&descendants, &|x| x.fee);
    let mut depends: Vec<String> = pool.parents(txid).iter().map(|t| t.to_string()).collect();
    depends.sort();
    let mut children: Vec<Txid> = pool.children(txid).into_iter().collect();
    children.sort_by(cmp_uint256);
    let replaceable = signals_rbf(&e.tx)
        || ancestors
            .iter()
            .filter_map(|t| pool.get(t))
            .any(|a| signals_rbf(&a.tx));
    let chunk = chunks.and_then(|c| c.of_tx.get(txid));
    let mut out = Json::obj()
        .with("vsize", e.vsize)
        .with("weight", e.weight)
        .with("time", e.time)
        .with("height", e.height)
        .with("descendantcount", descendants.len() + 1)
        .with("descendantsize", desc_size)
        .with("ancestorcount", ancestors.len() + 1)
        .with("ancestorsize", anc_size)
        .with("wtxid", e.wtxid.to_string());
    let mut fees = Json::obj()
        .with("base", Json::Amount(e.fee as i64))
        .with("modified", Json::Amount(e.fee as i64))
        .with("ancestor", Json::Amount(anc_fee as i64))
        .with("descendant", Json::Amount(desc_fee as i64));
    if let Some(c) = chunk {
        out.push("chunkweight", c.weight);
        fees.push("chunk", Json::Amount(c.fee as i64));
    }
    Some(
        out.with("fees", fees)
            .with(
                "depends",
                Json::Arr(depends.into_iter().map(Json::Str).collect()),
            )
            .with(
                "spentby",
                Json::Arr(children.iter().map(|t| Json::Str(t.to_string())).collect()),
            )
            .with("bip125-replaceable", replaceable)
            .with("unbroadcast", e.unbroadcast),
    )
}

pub fn getrawmempool(rpc: &NodeRpc, p: &Params) -> Result<Json, RpcError> {
    let verbose = p.bool(0)?.unwrap_or(false);
    let with_seq = p.bool(1)?.unwrap_or(false);
    let node = rpc.lock();
    // Core 31 lists its cluster mempool in mining order.
    let chunks = node
        .core
        .cluster_mempool()
        .then(|| Chunks::of(&node.mempool));
    let order = match &chunks {
        Some(c) => c.mining_order.clone(),
        None => node.mempool.sorted_txids(),
    };
    if verbose {
        if with_seq {
            return Err(err(
                RPC_INVALID_PARAMETER,
                "Verbose results cannot contain mempool sequence values.",
            ));
        }
        let mut out = Json::obj();
        for t in &order {
            if let Some(j) = mempool_entry_json(&node, t, chunks.as_ref()) {
                out.push(&t.to_string(), j);
            }
        }
        return Ok(out);
    }
    let txids = Json::Arr(order.iter().map(|t| Json::Str(t.to_string())).collect());
    if with_seq {
        return Ok(Json::obj()
            .with("txids", txids)
            .with("mempool_sequence", node.mempool.sequence));
    }
    Ok(txids)
}

pub fn getmempoolentry(rpc: &NodeRpc, p: &Params) -> Result<Json, RpcError> {
    let txid = p
        .hash_as(0, "parameter 1")?
        .map(Txid::from_byte_array)
        .ok_or_else(|| err(-1, p.help.to_string()))?;
    let node = rpc.lock();
    let chunks = node
        .core
        .cluster_mempool()
        .then(|| Chunks::of(&node.mempool));
    mempool_entry_json(&node, &txid, chunks.as_ref())
        .ok_or_else(|| err(RPC_INVALID_ADDRESS_OR_KEY, "Transaction not in mempool"))
}

pub fn getmempoolinfo(rpc: &NodeRpc) -> Result<Json, RpcError> {
    let node = rpc.lock();
    let pool = &node.mempool;
    let bytes: u64 = pool.entries().map(|e| e.vsize).sum();
    let total_fee: u64 = pool.entries().map(|e| e.fee).sum();
    // Core's DynamicMemoryUsage: roughly the transactions plus per-entry overhead.
    let usage: u64 = pool
        .entries()
        .map(|e| e.weight / 2 + 600 + 64 * e.tx.input.len() as u64)
        .sum();
    let unbroadcast = pool.entries().filter(|e| e.unbroadcast).count();
    let min_fee = Json::Amount(node.core.min_relay_feerate() as i64);
    let info = Json::obj()
        .with("loaded", true)
        .with("size", pool.len())
        .with("bytes", bytes)
        .with("usage", usage)
        .with("total_fee", Json::Amount(total_fee as i64))
        .with("maxmempool", 300_000_000i64)
        .with("mempoolminfee", min_fee.clone())
        .with("minrelaytxfee", min_fee.clone())
        .with("incrementalrelayfee", min_fee)
        .with("unbroadcastcount", unbroadcast)
        .with("fullrbf", true);
    if !node.core.cluster_mempool() {
        return Ok(info);
    }
    // Core 31's policy settings (defaults) and cluster limits.
    Ok(info
        .with("permitbaremultisig", true)
        .with("maxdatacarriersize", 100_000i64)
        .with("limitclustercount", 64i64)
        .with("limitclustersize", 101_000i64)
        .with("optimal", true))
}

pub fn estimatesmartfee(rpc: &NodeRpc, p: &Params) -> Result<Json, RpcError> {
    let target = p.int(0)?.unwrap_or(0);
    if !(1..=1008).contains(&target) {
        return Err(err(
            RPC_INVALID_PARAMETER,
            "Invalid conf_target, must be between 1 and 1008",
        ));
    }
    let mode = p.str(1)?.unwrap_or("unset").to_ascii_lowercase();
    if !["unset", "economical", "conservative"].contains(&mode.as_str()) {
        return Err(err(
            RPC_INVALID_PARAMETER,
            "Invalid estimate_mode parameter, must be one of: \"unset\", \"economical\", \"conservative\"",
        ));
    }
    let node = rpc.lock();
    let no_data = || {
        Json::obj()
            .with(
                "errors",
                Json::Arr(vec!["Insufficient data or no feerate found".into()]),
            )
            .with("blocks", 0i64)
    };
    if !node.fee_overrides.is_empty() {
        let key = (target as u16, mode.clone());
        let found = node
            .fee_overrides
            .get(&key)
            .or_else(|| {
                node.fee_overrides
                    .get(&(target as u16, "unset".to_string()))
            })
            .cloned()
            .or_else(|| {
                // Nearest recorded target at or below this one.
                node.fee_overrides
                    .iter()
                    .filter(|((t, m), _)| *t <= target as u16 && (*m == mode || m == "unset"))
                    .max_by_key(|((t, _), _)| *t)
                    .map(|(_, v)| *v)
            });
        return Ok(match found.flatten() {
            Some((rate, blocks)) => Json::obj()
                .with("feerate", Json::Amount(rate as i64))
                .with("blocks", i64::from(blocks)),
            None => no_data(),
        });
    }
    let blocks = target.clamp(2, 1008) as u32;
    // One window for every target, so a longer target is never dearer (as with Core).
    let mut rates = node.recent_feerates(ESTIMATE_WINDOW);
    if rates.len() < 10 {
        return Ok(no_data());
    }
    rates.sort_unstable();
    // Shorter targets need a higher percentile; conservative adds a margin.
    let pct = 0.5 + 0.4 / f64::from(blocks);
    let idx = ((rates.len() - 1) as f64 * pct).round() as usize;
    let mut rate = rates[idx.min(rates.len() - 1)].max(1000);
    if mode == "conservative" {
        rate += rate / 5;
    }
    Ok(Json::obj()
        .with("feerate", Json::Amount(rate as i64))
        .with("blocks", i64::from(blocks)))
}

/// Blocks whose fee rates feed `estimatesmartfee` on generated chains.
const ESTIMATE_WINDOW: u32 = 50;
