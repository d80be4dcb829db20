//! Protocol 1.7's outpoint family: what to ask (every outpoint state), its argument
//! errors, and how FerrumX's outpoint notifications are compared with ElectrumX 2.0.0's
//! (which computes, and never sends, the changes no transaction touched directly: there
//! FerrumX is checked against the stand-in's truth).

use std::collections::{BTreeMap, BTreeSet};

use bitcoin::hex::DisplayHex;
use bitcoin::{OutPoint, TxOut};
use ferrumx_simnode::Node;
use ferrumx_testkit::{outpoint_status, outpoints_in_every_state};
use serde_json::{json, Value};

use crate::compare::{call, Call};

/// The output `op` names, in the mempool or the active chain.
fn output(n: &Node, op: &OutPoint) -> Option<TxOut> {
    if let Some(e) = n.mempool.get(&op.txid) {
        return e.tx.output.get(op.vout as usize).cloned();
    }
    let (hash, index) = n.txindex_lookup(&op.txid)?;
    if !n.is_active(&hash) {
        return None;
    }
    let tx = n.block(&hash)?.tx(index as usize)?;
    tx.output.get(op.vout as usize).cloned()
}

/// The state an outpoint's status shows, for the report.
fn state(n: &Node, op: &OutPoint, status: &Value) -> &'static str {
    if output(n, op).is_some_and(|o| o.script_pubkey.is_op_return()) {
        return "OP_RETURN";
    }
    let funder = status["funder_height"].as_i64();
    let spender = status["spender_height"].as_i64();
    match (funder, spender) {
        (None, _) if n.mempool.contains(&op.txid) || n.txindex_lookup(&op.txid).is_some() => {
            "out of range"
        }
        (None, _) => "non-existent",
        (Some(-1), None) => "created in the mempool, unconfirmed parents",
        (Some(0), None) => "created in the mempool, confirmed parents",
        (Some(_), None) => "unspent",
        (Some(_), Some(h)) if h > 0 => "spent in a block",
        (Some(_), Some(_)) => "spent in the mempool",
    }
}

/// At most this many outpoints of each state are asked about (the last blocks hold the
/// fixture's 2,000-output transaction and its long histories).
const PER_STATE: usize = 300;

/// Outpoints in every state, each with its scriptPubKey (hex; `""` when there is no such
/// output) as `spk_hint`: the kit's set (the mempool's, the last 8 blocks', out of range,
/// non-existent) and every OP_RETURN output of the chain, at most [`PER_STATE`] of each
/// state (the first by txid). Prints how many are in each state and fails if one is
/// missing.
pub fn outpoints(n: &Node) -> Vec<(OutPoint, String)> {
    let mut set = outpoints_in_every_state(n, 8);
    for h in 1..=n.tip_height() {
        let b = n.block_at(h).expect("block");
        for (i, txid) in b.txids.iter().enumerate() {
            let tx = b.tx(i).expect("tx");
            for (vout, o) in tx.output.iter().enumerate() {
                if o.script_pubkey.is_op_return() {
                    set.insert(OutPoint::new(*txid, vout as u32));
                }
            }
        }
    }
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    let out: Vec<(OutPoint, String)> = set
        .into_iter()
        .filter(|op| {
            let count = states
                .entry(state(n, op, &outpoint_status(n, op)))
                .or_default();
            *count += 1;
            *count <= PER_STATE
        })
        .map(|op| {
            let hint = output(n, &op)
                .map(|o| o.script_pubkey.as_bytes().to_lower_hex_string())
                .unwrap_or_default();
            (op, hint)
        })
        .collect();
    eprintln!(
        "outpoints by state (at most {PER_STATE} of each asked): {states:?}; {} asked",
        out.len()
    );
    for s in [
        "OP_RETURN",
        "out of range",
        "non-existent",
        "created in the mempool, unconfirmed parents",
        "created in the mempool, confirmed parents",
        "unspent",
        "spent in a block",
        "spent in the mempool",
    ] {
        assert!(states.contains_key(s), "no outpoint {s}");
    }
    out
}

/// `get_status` and `subscribe` of each outpoint.
pub fn outpoint_calls(ops: &[(OutPoint, String)]) -> Vec<Call> {
    let mut calls = Vec::new();
    for (op, hint) in ops {
        let p = json!([op.txid.to_string(), op.vout, hint]);
        calls.push(call("blockchain.outpoint.get_status", p.clone()));
        calls.push(call("blockchain.outpoint.subscribe", p));
    }
    calls
}

/// The outpoint family's arguments, `unsubscribe` first (a pipelined unsubscription races
/// its subscription on both servers); `some` is an existing outpoint.
pub fn outpoint_argument_calls(some: &(OutPoint, String)) -> Vec<Call> {
    let (op, hint) = some;
    let t = op.txid.to_string();
    let mut v = Vec::new();
    for m in [
        "blockchain.outpoint.unsubscribe",
        "blockchain.outpoint.get_status",
        "blockchain.outpoint.subscribe",
    ] {
        for p in [
            json!([]),
            json!([t]),
            json!([t, op.vout]),
            json!([t, op.vout, hint]),
            json!([t, op.vout, ""]),
            json!([t, op.vout, "zz"]),
            json!([t, op.vout, "abc"]),
            json!([t, op.vout, 5]),
            json!([t, op.vout, hint, 1]),
            json!([t, -1, ""]),
            json!([t, "0", ""]),
            json!([t, 1.5, ""]),
            json!([t, 4_294_967_295u64, ""]),
            json!([t.to_uppercase(), op.vout, ""]),
            json!(["zz", 0, ""]),
            json!([&t[2..], 0, ""]),
            json!([5, 0, ""]),
            json!({"tx_hash": t, "txout_idx": op.vout, "spk_hint": hint}),
            json!({"tx_hash": t, "txout_idx": op.vout}),
        ] {
            v.push(call(m, p));
        }
    }
    v
}

/// An output index above 2^32 - 1, subscribed then unsubscribed on one session (sent one at
/// a time): ElectrumX 2.0.0 keeps the subscription (`true`), FerrumX keeps none (`false`):
/// the allowed difference, checked exactly in `compare::normalize`.
pub fn huge_index_calls(some: &(OutPoint, String)) -> Vec<Call> {
    let p = json!([some.0.txid.to_string(), 4_294_967_296u64, ""]);
    vec![
        call("blockchain.outpoint.get_status", p.clone()),
        call("blockchain.outpoint.subscribe", p.clone()),
        call("blockchain.outpoint.unsubscribe", p),
    ]
}

/// What FerrumX's client knew of the outpoints before an event and after it, the truth
/// after it, and which outpoints are OP_RETURN outputs.
pub struct OutpointState<'a> {
    pub before: &'a BTreeMap<String, Value>,
    pub after: &'a BTreeMap<String, Value>,
    pub truth: &'a BTreeMap<String, Value>,
    pub op_return: &'a BTreeSet<String>,
}

/// The OP_RETURN outputs among `ops` (by their `spk_hint`), as keys.
pub fn op_returns(ops: &[(OutPoint, String)]) -> BTreeSet<String> {
    ops.iter()
        .filter(|(_, hint)| hint.starts_with("6a"))
        .map(|(op, _)| key(op))
        .collect()
}

/// The outpoint notifications one event caused (key `txid:vout` → the new status), for
/// FerrumX (`f`) and ElectrumX 2.0.0 (`e`). Allowed: FerrumX sends changes ElectrumX 2.0.0
/// misses, each the truth and either differing from the status before only in a height
/// going between -1 and 0 (a parent mined, or back in a reorg), or of an OP_RETURN output
/// (2.0.0 answers their statuses but never counts them touched by a block: its
/// `block_processor.py` skips unspendable outputs before `add_touched_outpoint`, connecting
/// and disconnecting); ElectrumX 2.0.0 may later re-send a status FerrumX already sent.
/// Anything else is a difference.
pub fn compare_outpoint_notes(
    f: &BTreeMap<String, Value>,
    e: &BTreeMap<String, Value>,
    st: &OutpointState,
) -> Vec<String> {
    let (before, f_known, truth) = (st.before, st.after, st.truth);
    let mut diffs = Vec::new();
    for (k, ev) in e {
        let ok = f.get(k) == Some(ev) || (f.get(k).is_none() && f_known.get(k) == Some(ev));
        if !ok {
            diffs.push(format!(
                "outpoint {k}: ElectrumX 2.0.0 notified {ev}, FerrumX {:?}",
                f.get(k)
            ));
        }
    }
    for (k, fv) in f {
        if e.contains_key(k) {
            continue;
        }
        let old = before.get(k).cloned().unwrap_or(Value::Null);
        let missed = only_mempool_height(&old, fv) || st.op_return.contains(k);
        if truth.get(k) != Some(fv) || !missed {
            diffs.push(format!(
                "outpoint {k}: FerrumX notified {fv} (before {old}, the truth {:?}), ElectrumX \
                 2.0.0 nothing",
                truth.get(k)
            ));
        }
    }
    diffs
}

/// Whether `a` and `b` differ only in heights going between -1 and 0.
fn only_mempool_height(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return false;
    };
    if a.keys().ne(b.keys()) {
        return false;
    }
    a.iter().all(|(k, av)| {
        let bv = &b[k];
        av == bv
            || (k.ends_with("_height")
                && matches!(
                    (av.as_i64(), bv.as_i64()),
                    (Some(-1), Some(0)) | (Some(0), Some(-1))
                ))
    })
}

/// The truth of `keys` (`txid:vout`).
pub fn truth_of(n: &Node, ops: &[(OutPoint, String)]) -> BTreeMap<String, Value> {
    ops.iter()
        .map(|(op, _)| (key(op), outpoint_status(n, op)))
        .collect()
}

/// The key of an outpoint in the subscribers' maps.
pub fn key(op: &OutPoint) -> String {
    format!("{}:{}", op.txid, op.vout)
}
