//! The comparisons of a chain and mempool that stand still: every method at one version,
//! with one ElectrumX.

use bitcoin::{OutPoint, Txid};
use ferrumx_simnode::ScriptHash;
use serde_json::json;

use crate::calls::{header_calls, misc_calls, script_hash_calls};
use crate::calls17::script_pubkey_calls;
use crate::compare::{below_1_7, call, Call, Pair, Peer, Report};
use crate::outpoints::outpoint_calls;

/// What the comparisons ask about.
pub struct Ctx {
    pub tip: u32,
    /// Every script hash of the chain and the mempool, and two nobody uses.
    pub shs: Vec<ScriptHash>,
    /// The scriptPubKeys (hex) of those, with the empty script.
    pub spks: Vec<(ScriptHash, String)>,
    /// Confirmed transactions (txid, height, position), in chain order.
    pub txs: Vec<(Txid, u32, usize)>,
    /// Mempool transactions, sorted.
    pub mempool_txs: Vec<Txid>,
    /// Outpoints in every state, with their `spk_hint`.
    pub outpoints: Vec<(OutPoint, String)>,
    /// The 1.7 methods' calls (sent at every version).
    pub calls_1_7: Vec<Call>,
    /// An output index past 32 bits subscribed and unsubscribed (sent one at a time).
    pub huge_index: Vec<Call>,
}

impl Ctx {
    /// The script family of `version` for every script: script hashes up to 1.6,
    /// scriptPubKeys at 1.7 (and a few script-hash calls, which 1.7 does not have).
    pub fn script_calls(&self, version: &str) -> Vec<Call> {
        if below_1_7(version) {
            let mut calls = script_hash_calls(&self.shs);
            for sh in self.shs.iter().step_by(50) {
                calls.push(call(
                    "blockchain.scripthash.unsubscribe",
                    json!([sh.to_string()]),
                ));
            }
            calls
        } else {
            let mut calls = script_pubkey_calls(&self.spks);
            calls.extend(script_hash_calls(&self.shs[..10]));
            calls.push(call(
                "blockchain.scripthash.unsubscribe",
                json!([self.shs[0].to_string()]),
            ));
            calls
        }
    }
}

/// Every method at `version`: misc (server methods, fees, errors), headers and proofs,
/// the scripts, transactions.
pub fn statics(pair: &Pair, report: &mut Report, version: &str, ctx: &Ctx) {
    let tip = ctx.tip;
    let (plain_headers, proofs) = header_calls(tip);
    let mut misc = misc_calls(version, tip);
    if pair.peer == Peer::V200 {
        misc.extend(ctx.calls_1_7.iter().cloned());
    }
    pair.compare(report, "misc", version, &misc, 1);
    pair.compare(report, "headers", version, &plain_headers, 1);
    pair.compare(report, "header proofs", version, &proofs, 2);
    pair.compare(report, "scripts", version, &ctx.script_calls(version), 4);
    if pair.peer == Peer::V200 {
        // Every outpoint state at 1.7; a few below (an unknown method there).
        let ops = if below_1_7(version) {
            &ctx.outpoints[..3]
        } else {
            &ctx.outpoints[..]
        };
        pair.compare(report, "outpoints", version, &outpoint_calls(ops), 2);
        pair.compare_sequential(
            report,
            "outpoint index past 32 bits",
            version,
            &ctx.huge_index,
        );
    }

    // Transactions: raw and verbose; merkle proofs; ids from positions.
    let mut calls = Vec::new();
    for (i, (txid, h, _)) in ctx.txs.iter().enumerate() {
        calls.push(call(
            "blockchain.transaction.get",
            json!([txid.to_string()]),
        ));
        if i % 3 == 0 {
            calls.push(call(
                "blockchain.transaction.get",
                json!([txid.to_string(), true]),
            ));
        }
        calls.push(call(
            "blockchain.transaction.get_merkle",
            json!([txid.to_string(), h]),
        ));
        if i % 17 == 0 {
            calls.push(call(
                "blockchain.transaction.get_merkle",
                json!([txid.to_string(), h + 1]),
            ));
            calls.push(call(
                "blockchain.transaction.get",
                json!([txid.to_string(), false]),
            ));
        }
    }
    for t in &ctx.mempool_txs {
        calls.push(call("blockchain.transaction.get", json!([t.to_string()])));
        calls.push(call(
            "blockchain.transaction.get",
            json!([t.to_string(), true]),
        ));
        calls.push(call(
            "blockchain.transaction.get_merkle",
            json!([t.to_string(), tip]),
        ));
    }
    let mut last_h = u32::MAX;
    for (i, (_, h, pos)) in ctx.txs.iter().enumerate() {
        let last_in_block = ctx.txs.get(i + 1).is_none_or(|n| n.1 != *h);
        if *pos == 0 || last_in_block || i % 5 == 0 {
            calls.push(call("blockchain.transaction.id_from_pos", json!([h, pos])));
            calls.push(call(
                "blockchain.transaction.id_from_pos",
                json!([h, pos, true]),
            ));
        }
        if last_in_block && *h != last_h {
            last_h = *h;
            calls.push(call(
                "blockchain.transaction.id_from_pos",
                json!([h, pos + 1, h % 2 == 0]),
            ));
        }
    }
    pair.compare(report, "transactions", version, &calls, 4);
}
