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
