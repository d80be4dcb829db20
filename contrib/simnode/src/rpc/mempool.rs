//! Transaction and mempool methods.

use std::collections::BTreeSet;

use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, OutPoint, Transaction, Txid};
use serde_json::Value;

use super::chain::block_prevouts;
use super::params::{
    decode_hex, err, Params, RPC_DESERIALIZATION_ERROR, RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER, RPC_TYPE_ERROR,
};
use super::NodeRpc;
use crate::accept::{
    exceeds_max_fee, feerate, is_burn, AcceptOptions, Accepted, Reject, DEFAULT_MAX_FEERATE,
    RPC_TRANSACTION_ERROR, RPC_VERIFY_ALREADY_IN_UTXO_SET,
};
use crate::cluster::Chunks;
use crate::corejson::{self, Prevout, TxCtx};
use crate::http::RpcError;
use crate::json::Json;
use crate::mempool::cmp_uint256;
use crate::node::{Node, TxLocation};

/// Core's `MAX_PACKAGE_COUNT`.
const MAX_PACKAGE_COUNT: usize = 25;
/// Core's `MAX_PACKAGE_WEIGHT`.
const MAX_PACKAGE_WEIGHT: u64 = 404_000;

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

fn decode_tx(hex: &str) -> Option<Transaction> {
    let bytes = decode_hex(hex)?;
    let tx: Transaction = bitcoin::consensus::deserialize(&bytes).ok()?;
    if tx.input.is_empty() {
        return None;
    }
    Some(tx)
}

fn reject_error(r: &Reject) -> RpcError {
    err(r.code, r.message())
}

/// `maxfeerate` (sat/kvB) with Core's default of 0.10 BTC/kvB.
fn max_feerate_param(p: &Params, i: usize) -> Result<u64, RpcError> {
    Ok(p.fee_rate(i)?.unwrap_or(DEFAULT_MAX_FEERATE))
}

/// The raw transactions of `testmempoolaccept`/`submitpackage`, decoded; a non-string item
/// is a -3 as UniValue's `get_str()` throws it.
fn decode_all(raw: &[Value]) -> Result<Vec<Transaction>, RpcError> {
    let mut txs = Vec::with_capacity(raw.len());
    for v in raw {
        let Some(hex) = v.as_str() else {
            return Err(err(
                RPC_TYPE_ERROR,
                format!(
                    "JSON value of type {} is not of expected type string",
                    match v {
                        Value::Null => "null",
                        Value::Bool(_) => "bool",
                        Value::Number(_) => "number",
                        Value::Array(_) => "array",
                        Value::Object(_) => "object",
                        Value::String(_) => "string",
                    }
                ),
            ));
        };
        txs.push(decode_tx(hex).ok_or_else(|| {
            err(
                RPC_DESERIALIZATION_ERROR,
                format!("TX decode failed: {hex} Make sure the tx has at least one input."),
            )
        })?);
    }
    Ok(txs)
}

/// `maxburnamount`: unspendable outputs (Core's `IsUnspendable() || !HasValidOps()`) may
/// carry at most this much.
fn check_burn(tx: &Transaction, max_burn: u64) -> Result<(), RpcError> {
    if tx
        .output
        .iter()
        .any(|o| is_burn(&o.script_pubkey) && o.value.to_sat() > max_burn)
    {
        return Err(err(
            RPC_TRANSACTION_ERROR,
            "Unspendable output exceeds maximum configured by user (maxburnamount)",
        ));
    }
    Ok(())
}

/// Core's `sendrawtransaction` and `BroadcastTransaction`: a transaction whose outputs are in
/// the UTXO set is -27; one whose txid is in the mempool (whatever its witness) answers that
/// txid; otherwise full validation, then `maxfeerate`, then it enters the mempool.
pub fn sendrawtransaction(rpc: &NodeRpc, p: &Params) -> Result<Json, RpcError> {
    let max_burn = p.amount(2)?.unwrap_or(0);
    let hex = p.str(0)?.unwrap_or("");
    let tx = decode_tx(hex).ok_or_else(|| {
        err(
            RPC_DESERIALIZATION_ERROR,
            "TX decode failed. Make sure the tx has at least one input.",
        )
    })?;
    check_burn(&tx, max_burn)?;
    let max_feerate = max_feerate_param(p, 1)?;
    let txid = tx.compute_txid();
    let mut node = rpc.lock();
    let confirmed =
        (0..tx.output.len() as u32).any(|vout| node.coin(&OutPoint::new(txid, vout)).is_some());
    if confirmed {
        return Err(err(
            RPC_VERIFY_ALREADY_IN_UTXO_SET,
            "Transaction outputs already in utxo set",
        ));
    }
    if node.mempool.contains(&txid) {
        return Ok(Json::Str(txid.to_string()));
    }
    let ok = node
        .accept_tx(&tx, max_feerate, false)
        .map_err(|r| reject_error(&r))?;
    Ok(Json::Str(ok.txid.to_string()))
}

/// Core's package rules checked before any transaction (`IsWellFormedPackage`, sorted).
fn package_error(txs: &[Transaction]) -> Option<&'static str> {
    let weight: u64 = txs.iter().map(|t| t.weight().to_wu()).sum();
    if weight > MAX_PACKAGE_WEIGHT {
        return Some("package-too-large");
    }
    let txids: Vec<Txid> = txs.iter().map(Transaction::compute_txid).collect();
    let mut later: BTreeSet<Txid> = txids.iter().copied().collect();
    if later.len() != txs.len() {
        return Some("package-contains-duplicates");
    }
    for (tx, txid) in txs.iter().zip(&txids) {
        later.remove(txid);
        if tx
            .input
            .iter()
            .any(|i| later.contains(&i.previous_output.txid))
        {
            return Some("package-not-sorted");
        }
    }
    let mut inputs = BTreeSet::new();
    for tx in txs {
        if !tx.input.iter().all(|i| inputs.insert(i.previous_output)) {
            return Some("conflict-in-package");
        }
    }
    None
}

/// Core's `testmempoolaccept`. One transaction: full validation (replacements allowed), a
/// transaction already in the mempool is refused. Several: a package test, which stops at the
/// first failing transaction (the others then get only `txid` and `wtxid`) and allows no
/// replacement. `maxfeerate` is checked afterwards, in order; from the first transaction over
/// it on, the others are left unevaluated.
pub fn testmempoolaccept(rpc: &NodeRpc, p: &Params) -> Result<Json, RpcError> {
    let raw = p.array(0)?.ok_or_else(|| err(-1, p.help.to_string()))?;
    if raw.is_empty() || raw.len() > MAX_PACKAGE_COUNT {
        return Err(err(
            RPC_INVALID_PARAMETER,
            format!("Array must contain between 1 and {MAX_PACKAGE_COUNT} transactions."),
        ));
    }
    let max_feerate = max_feerate_param(p, 1)?;
    let txs = decode_all(raw)?;
    let head = |tx: &Transaction| {
        Json::obj()
            .with("txid", tx.compute_txid().to_string())
            .with("wtxid", tx.compute_wtxid().to_string())
    };
    let single = txs.len() == 1;
    if !single {
        if let Some(why) = package_error(&txs) {
            return Ok(Json::Arr(
                txs.iter()
                    .map(|tx| head(tx).with("package-error", why))
                    .collect(),
            ));
        }
    }
    let mut node = rpc.lock();
    let saved = node.mempool.clone();
    // Per transaction: `Some(Ok)`, `Some(Err)` or `None` (not evaluated).
    let mut outcomes: Vec<Option<Result<Accepted, Reject>>> = vec![None; txs.len()];
    for (k, tx) in txs.iter().enumerate() {
        let txid = tx.compute_txid();
        let outcome = match node.mempool.get(&txid) {
            Some(e) if e.wtxid == tx.compute_wtxid() => {
                Err(Reject::rejected("txn-already-in-mempool", None))
            }
            _ => node.accept_tx_with(
                tx,
                AcceptOptions {
                    max_feerate: 0,
                    // A package is tried on a copy of the mempool, so that children see
                    // their parents.
                    test_only: single,
                    no_replacement: !single,
                    client_max_feerate: 0,
                },
            ),
        };
        let failed = outcome.is_err();
        outcomes[k] = Some(outcome);
        if failed && !single {
            // Only the failing transaction of a package gets a result.
            outcomes.iter_mut().take(k).for_each(|o| *o = None);
            break;
        }
    }
    node.mempool = saved;
    drop(node);
    let mut out = Vec::with_capacity(txs.len());
    let mut exit_early = false;
    for (tx, outcome) in txs.iter().zip(outcomes) {
        let mut j = head(tx);
        match outcome {
            _ if exit_early => {}
            None => {}
            Some(Ok(a)) if exceeds_max_fee(a.fee, a.vsize, max_feerate) => {
                j.push("allowed", false);
                j.push("reject-reason", "max-fee-exceeded");
                exit_early = true;
            }
            Some(Ok(a)) => {
                j.push("allowed", true);
                j.push("vsize", a.vsize);
                j.push(
                    "fees",
                    Json::obj()
                        .with("base", Json::Amount(a.fee as i64))
                        .with(
                            "effective-feerate",
                            Json::Amount(feerate(a.fee, a.vsize) as i64),
                        )
                        .with(
                            "effective-includes",
                            Json::Arr(vec![Json::Str(a.wtxid.to_string())]),
                        ),
                );
            }
            Some(Err(r)) => {
                j.push("allowed", false);
                if r.is_missing_inputs() {
                    j.push("reject-reason", "missing-inputs");
                } else {
                    j.push("reject-reason", r.reason.as_str());
                    j.push("reject-details", r.message());
                }
            }
        }
        out.push(j);
    }
    Ok(Json::Arr(out))
}

/// Core's `submitpackage`: a child with its parents (or one transaction). Each transaction is
/// tried on its own, in order, as Core does first; one already in the mempool is reported with
/// its base fee only, one whose txid is there with another witness with `other-wtxid`.
/// (Core would retry fee-rate failures as a package with the package fee rate; with the
/// stand-in's mempool never full, only "mempool min fee not met" could change, and it cannot
/// happen.)
pub fn submitpackage(rpc: &NodeRpc, p: &Params) -> Result<Json, RpcError> {
    let raw = p.array(0)?.ok_or_else(|| err(-1, p.help.to_string()))?;
    if raw.is_empty() || raw.len() > MAX_PACKAGE_COUNT {
        return Err(err(
            RPC_INVALID_PARAMETER,
            format!("Array must contain between 1 and {MAX_PACKAGE_COUNT} transactions."),
        ));
    }
    let max_feerate = p.fee_rate(1)?.unwrap_or(DEFAULT_MAX_FEERATE);
    let max_burn = p.amount(2)?.unwrap_or(0);
    let mut txs = Vec::new();
    for v in raw {
        let tx = decode_all(std::slice::from_ref(v))?.remove(0);
        check_burn(&tx, max_burn)?;
        txs.push(tx);
    }
    // Child-with-parents: every earlier tx must be a parent of the last one.
    if let Some((child, parents)) = txs.split_last() {
        let spent: BTreeSet<Txid> = child.input.iter().map(|i| i.previous_output.txid).collect();
        let parent_ids: BTreeSet<Txid> = parents.iter().map(|t| t.compute_txid()).collect();
        let parents_depend = parents.iter().any(|t| {
            t.input
                .iter()
                .any(|i| parent_ids.contains(&i.previous_output.txid))
        });
        if parents.iter().any(|t| !spent.contains(&t.compute_txid())) || parents_depend {
            return Err(err(
                RPC_TRANSACTION_ERROR,
                "package topology disallowed. not child-with-parents or parents depend on each other.",
            ));
        }
    }
    let mut node = rpc.lock();
    let mut results = Json::obj();
    // Core collects them in a std::set<uint256>: sorted as uint256, each once.
    let mut replaced_all: Vec<Txid> = Vec::new();
    let mut failed = false;
    for tx in &txs {
        let txid = tx.compute_txid();
        let wtxid = tx.compute_wtxid();
        let mut entry = Json::obj().with("txid", txid.to_string());
        if let Some(other) = node
            .mempool
            .get(&txid)
            .map(|e| e.wtxid)
            .filter(|w| *w != wtxid)
        {
            entry.push("other-wtxid", other.to_string());
            results.push(&wtxid.to_string(), entry);
            continue;
        }
        let outcome = node.accept_tx_with(
            tx,
            AcceptOptions {
                client_max_feerate: max_feerate,
                ..AcceptOptions::default()
            },
        );
        match outcome {
            Ok(a) => {
                let mut fees = Json::obj().with("base", Json::Amount(a.fee as i64));
                if !a.already {
                    fees.push(
                        "effective-feerate",
                        Json::Amount(feerate(a.fee, a.vsize) as i64),
                    );
                    fees.push(
                        "effective-includes",
                        Json::Arr(vec![Json::Str(a.wtxid.to_string())]),
                    );
                }
                entry.push("vsize", a.vsize);
                entry.push("fees", fees);
                replaced_all.extend(a.replaced);
            }
            Err(r) => {
                failed = true;
                entry.push("error", r.message());
            }
        }
        results.push(&wtxid.to_string(), entry);
    }
    replaced_all.sort_by(cmp_uint256);
    replaced_all.dedup();
    Ok(Json::obj()
        .with(
            "package_msg",
            if failed {
                "transaction failed"
            } else {
                "success"
            },
        )
        .with("tx-results", results)
        .with(
            "replaced-transactions",
            Json::Arr(
                replaced_all
                    .iter()
                    .map(|t| Json::Str(t.to_string()))
                    .collect(),
            ),
        ))
}
