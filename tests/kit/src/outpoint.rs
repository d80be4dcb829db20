//! Protocol 1.7's outpoint statuses from the stand-in's truth (its chain, its
//! `-txospenderindex` stand-in `node.spenders`, its mempool), never from a server: the status
//! dict `blockchain.outpoint.get_status` must answer, and outpoints in every state to ask.
//! Used by `tests/outpoints.rs` and `tests/differential/`.

use std::collections::BTreeSet;

use bitcoin::hashes::Hash;
use bitcoin::{OutPoint, Transaction, Txid};
use ferrumx_simnode::Node;
use serde_json::{json, Value};

/// Whether a transaction has an input spending a mempool transaction.
fn unconfirmed_inputs(n: &Node, tx: &Transaction) -> bool {
    tx.input
        .iter()
        .any(|i| n.mempool.contains(&i.previous_output.txid))
}

/// The status dict of `op` by the stand-in's truth: `{}`, `{"funder_height": h}` or with
/// `spender_txhash` and `spender_height` (mempool heights 0, or -1 with unconfirmed inputs).
pub fn outpoint_status(n: &Node, op: &OutPoint) -> Value {
    let height = |tx: &Transaction| if unconfirmed_inputs(n, tx) { -1 } else { 0 };
    let mempool_spender = || {
        let t = n.mempool.spender(op)?;
        Some((t, height(&n.mempool.get(&t)?.tx)))
    };
    let shape = |funder: i64, spender: Option<(Txid, i64)>| match spender {
        None => json!({"funder_height": funder}),
        Some((t, h)) => {
            json!({"funder_height": funder, "spender_txhash": t.to_string(), "spender_height": h})
        }
    };
    if let Some(e) = n.mempool.get(&op.txid) {
        if op.vout as usize >= e.tx.output.len() {
            return json!({});
        }
        return shape(height(&e.tx), mempool_spender());
    }
    let Some((hash, index)) = n.txindex_lookup(&op.txid) else {
        return json!({});
    };
    if !n.is_active(&hash) {
        return json!({});
    }
    let Some(block) = n.block(&hash) else {
        return json!({});
    };
    let Some(tx) = block.tx(index as usize) else {
        return json!({});
    };
    if op.vout as usize >= tx.output.len() || block.height == 0 {
        return json!({});
    }
    let funder = i64::from(block.height);
    match n.spenders.get(op) {
        Some((h, pos)) => {
            let t = n.block_at(h).expect("spender's block").txids[pos as usize];
            shape(funder, Some((t, i64::from(h))))
        }
        None => shape(funder, mempool_spender()),
    }
}

/// Outpoints in every state: outputs and prevouts of the mempool's transactions (created
/// with confirmed and with unconfirmed parents, spent in the mempool) and of the last
/// `recent` blocks' (unspent, spent in a block, OP_RETURN), one past each such
/// transaction's outputs (out of range), and outpoints of transactions that do not exist.
pub fn outpoints_in_every_state(n: &Node, recent: u32) -> BTreeSet<OutPoint> {
    let mut u = BTreeSet::new();
    let add_tx = |u: &mut BTreeSet<OutPoint>, txid: Txid, tx: &Transaction| {
        for vout in 0..=tx.output.len() as u32 {
            u.insert(OutPoint::new(txid, vout));
        }
        if !tx.is_coinbase() {
            u.extend(tx.input.iter().map(|i| i.previous_output));
        }
    };
    for e in n.mempool.entries() {
        add_tx(&mut u, e.txid, &e.tx);
    }
    let tip = n.tip_height();
    for h in tip.saturating_sub(recent)..=tip {
        let b = n.block_at(h).expect("block");
        for (i, txid) in b.txids.iter().enumerate() {
            let tx = b.tx(i).expect("tx");
            add_tx(&mut u, *txid, &tx);
        }
    }
    for b in 1..=3u8 {
        u.insert(OutPoint::new(Txid::from_byte_array([b; 32]), 0));
    }
    u
}

/// A mempool transaction without mempool parents, and a child of it whose only mempool
/// parent it is and whose first output is in `watched` (mining the parent alone moves that
/// output's funder from -1 to 0).
pub fn parent_with_lone_child(n: &Node, watched: &BTreeSet<OutPoint>) -> Option<(Txid, Txid)> {
    let mut txids = n.mempool.sorted_txids();
    txids.sort();
    for p in txids {
        if !n.mempool.parents(&p).is_empty() {
            continue;
        }
        for c in n.mempool.children(&p) {
            if n.mempool.parents(&c).len() == 1 && watched.contains(&OutPoint::new(c, 0)) {
                return Some((p, c));
            }
        }
    }
    None
}
