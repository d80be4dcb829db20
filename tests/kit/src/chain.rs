//! Expected values computed from the stand-in's own data (never from the server's answers).

use std::collections::BTreeSet;

use ferrumx_simnode::{Node, ScriptHash};
use serde_json::{json, Value};

/// The script of the output `op` spends (any transaction the stand-in knows: mempool,
/// active chain or stale block).
pub fn prevout_script(n: &Node, op: &bitcoin::OutPoint) -> bitcoin::ScriptBuf {
    let (tx, _) = n
        .find_tx(&op.txid)
        .unwrap_or_else(|| panic!("the prevout {op} is of no known transaction"));
    tx.output
        .get(op.vout as usize)
        .unwrap_or_else(|| panic!("the prevout {op} does not exist"))
        .script_pubkey
        .clone()
}

/// The script hashes `tx` touches: every output's (`OP_RETURN` included, as ElectrumX's
/// mempool counts them) and every spent output's.
pub fn touched_by(n: &Node, tx: &bitcoin::Transaction) -> BTreeSet<ScriptHash> {
    let mut out: BTreeSet<ScriptHash> = tx
        .output
        .iter()
        .map(|o| ScriptHash::of(&o.script_pubkey))
        .collect();
    if !tx.is_coinbase() {
        for i in &tx.input {
            out.insert(ScriptHash::of(&prevout_script(n, &i.previous_output)));
        }
    }
    out
}

/// Sorts the unconfirmed part (height 0) of a `listunspent` list, whose order ElectrumX
/// leaves to Python's set iteration.
pub fn sort_unconfirmed(list: &mut Value) {
    if let Some(list) = list.as_array_mut() {
        let split = list
            .iter()
            .position(|u| u["height"] == json!(0))
            .unwrap_or(list.len());
        list[split..].sort_by_key(|u| (u["tx_hash"].to_string(), u["tx_pos"].as_u64()));
    }
}

/// The kind of a script, as reports name it (the kinds the stand-in makes).
pub fn script_kind(s: &bitcoin::Script) -> &'static str {
    if s.is_p2pkh() {
        "p2pkh"
    } else if s.is_p2sh() {
        "p2sh"
    } else if s.is_p2wpkh() {
        "p2wpkh"
    } else if s.is_p2wsh() {
        "p2wsh"
    } else if s.is_p2tr() {
        "p2tr"
    } else if s.is_op_return() {
        "op_return"
    } else if s.is_multisig() {
        "bare multisig"
    } else if s.is_p2pk() {
        "p2pk"
    } else {
        "other"
    }
}

/// The script of every output of the stand-in's chain and mempool, by script hash.
pub fn output_scripts(n: &Node) -> std::collections::BTreeMap<ScriptHash, bitcoin::ScriptBuf> {
    let mut txs: Vec<bitcoin::Transaction> = n.mempool.entries().map(|e| e.tx.clone()).collect();
    for h in 0..=n.tip_height() {
        let raw = &n.block_at(h).expect("block").raw;
        let block: bitcoin::Block = bitcoin::consensus::deserialize(raw).expect("block");
        txs.extend(block.txdata);
    }
    let mut out = std::collections::BTreeMap::new();
    for tx in &txs {
        for o in &tx.output {
            out.insert(ScriptHash::of(&o.script_pubkey), o.script_pubkey.clone());
        }
    }
    out
}
