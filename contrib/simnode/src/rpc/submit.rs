//! Submitting transactions: `sendrawtransaction`, `testmempoolaccept`, `submitpackage`.

use std::collections::BTreeSet;

use bitcoin::{OutPoint, Transaction, Txid};
use serde_json::Value;

use super::params::{
    decode_hex, err, Params, RPC_DESERIALIZATION_ERROR, RPC_INVALID_PARAMETER, RPC_TYPE_ERROR,
};
use super::NodeRpc;
use crate::accept::{
    exceeds_max_fee, feerate, is_burn, AcceptOptions, Accepted, Reject, DEFAULT_MAX_FEERATE,
    RPC_TRANSACTION_ERROR, RPC_VERIFY_ALREADY_IN_UTXO_SET,
};
use crate::http::RpcError;
use crate::json::Json;
use crate::mempool::cmp_uint256;

/// Core's `MAX_PACKAGE_COUNT`.
const MAX_PACKAGE_COUNT: usize = 25;
/// Core's `MAX_PACKAGE_WEIGHT`.
const MAX_PACKAGE_WEIGHT: u64 = 404_000;

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
