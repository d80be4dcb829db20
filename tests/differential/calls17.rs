//! What to ask at protocol 1.7 (ElectrumX 2.0.0): scriptPubKeys of every script type,
//! `server.ping` with `pong_len`/`data`, `testmempoolaccept`, `mempool.recent`, and their
//! errors. Sent at 1.4 and 1.6 too, where they are unknown methods on both servers.

use std::collections::{BTreeMap, BTreeSet};

use bitcoin::hex::DisplayHex;
use bitcoin::{ScriptBuf, Transaction};
use ferrumx_simnode::{Node, ScriptHash};
use ferrumx_testkit::{prevout_script, script_kind};
use serde_json::json;

use crate::calls::hex_of;
use crate::compare::{call, Call, Peer, Report, Res};
use crate::fixture::MAX_SEND;

/// The scriptPubKeys (hex) of `shs` (every script hash the comparison asks about), plus the
/// empty script; the script hashes nobody pays get a script nobody pays. Prints how many of
/// each kind there are, and fails if a kind the stand-in makes is missing.
pub fn script_pubkeys(
    shs: &[ScriptHash],
    scripts: &BTreeMap<ScriptHash, ScriptBuf>,
) -> Vec<(ScriptHash, String)> {
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for sh in shs {
        let script = match scripts.get(sh) {
            Some(s) => s.clone(),
            None => ScriptBuf::from_bytes(b"never used".to_vec()),
        };
        *kinds.entry(script_kind(&script)).or_default() += 1;
        out.push((
            ScriptHash::of(&script),
            script.as_bytes().to_lower_hex_string(),
        ));
    }
    out.push((ScriptHash::of(bitcoin::Script::new()), String::new()));
    eprintln!("scriptPubKeys by kind: {kinds:?}");
    for kind in ["p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "op_return"] {
        assert!(kinds.contains_key(kind), "no {kind} script in the chain");
    }
    out.sort();
    out.dedup();
    out
}

/// The scriptPubKey family for each of `spks`, and an unsubscription of every 50th.
pub fn script_pubkey_calls(spks: &[(ScriptHash, String)]) -> Vec<Call> {
    let mut calls = Vec::new();
    for (_, spk) in spks {
        for m in [
            "blockchain.scriptpubkey.get_balance",
            "blockchain.scriptpubkey.get_history",
            "blockchain.scriptpubkey.get_mempool",
            "blockchain.scriptpubkey.listunspent",
            "blockchain.scriptpubkey.subscribe",
        ] {
            calls.push(call(m, json!([spk])));
        }
    }
    for (_, spk) in spks.iter().step_by(50) {
        calls.push(call("blockchain.scriptpubkey.unsubscribe", json!([spk])));
    }
    calls
}

/// Protocol 1.7's methods with good and bad arguments: `server.ping`'s `pong_len` and
/// `data`, `testmempoolaccept` of the refused transactions, of `fresh` (one the stand-in
/// would accept) and of malformed lists, and the scriptPubKey family's argument errors.
pub fn calls_1_7(refused: &[(&'static str, Transaction)], fresh: &Transaction) -> Vec<Call> {
    let max_send = MAX_SEND as i64;
    let mut v = Vec::new();
    // The scriptPubKey family's arguments; unsubscribe first: an unsubscription pipelined
    // right behind a subscription to the same script races it on both servers (each stores
    // a subscription once its status is computed), so the positive case is left to the
    // scripts section, where the unsubscriptions come long after.
    for m in [
        "blockchain.scriptpubkey.unsubscribe",
        "blockchain.scriptpubkey.get_balance",
        "blockchain.scriptpubkey.get_history",
        "blockchain.scriptpubkey.get_mempool",
        "blockchain.scriptpubkey.listunspent",
        "blockchain.scriptpubkey.subscribe",
    ] {
        for p in [
            json!([]),
            json!(["zz"]),
            json!(["0"]),
            json!(["AB"]),
            json!([5]),
            json!([null]),
            json!(["00", 1]),
            json!({"spk": "00"}),
            json!({"scriptpubkey": "00"}),
        ] {
            v.push(call(m, p));
        }
    }
    for p in [
        json!([]),
        json!([0]),
        json!([5]),
        json!([0, ""]),
        json!([0, "ab"]),
        json!([3, "abc"]),
        json!([2, "zz"]),
        json!([2, "AB"]),
        json!([max_send]),
        json!([max_send + 1]),
        json!([-1]),
        json!(["3"]),
        json!([1.5]),
        json!([null]),
        json!([3, 5]),
        json!([1, "00", 2]),
        json!({"pong_len": 3}),
        json!({"data": "0011"}),
        json!({"pong_len": 2, "data": "ff"}),
        json!({"pong": 2}),
    ] {
        v.push(call("server.ping", p));
    }
    let mut all: Vec<String> = refused.iter().map(|(_, tx)| hex_of(tx)).collect();
    for (_, tx) in refused {
        v.push(call(
            "blockchain.transaction.testmempoolaccept",
            json!([[hex_of(tx)]]),
        ));
    }
    v.push(call(
        "blockchain.transaction.testmempoolaccept",
        json!([[hex_of(fresh)]]),
    ));
    all.push(hex_of(fresh));
    v.push(call(
        "blockchain.transaction.testmempoolaccept",
        json!([all]),
    ));
    for p in [
        json!([[]]),
        json!([["zz"]]),
        json!([["00"]]),
        json!([["0"]]),
        json!([[5]]),
        json!(["00"]),
        json!([]),
        json!([[hex_of(fresh)], true]),
        json!({"raw_txs": [hex_of(fresh)]}),
    ] {
        v.push(call("blockchain.transaction.testmempoolaccept", p));
    }
    v.push(call("mempool.recent", json!([1])));
    v.push(call("server.features", json!([])));
    v
}

/// `mempool.recent` (with `mempool`, the stand-in's entries by txid: fee and vsize), compared
/// under its allowed difference: transactions first seen in one mempool refresh come in
/// ElectrumX 2.0.0's dict order, so both answers must be the same number of distinct current
/// mempool entries, each with the stand-in's fee and vsize (the order is not compared).
pub fn compare_recent(
    report: &mut Report,
    version: &str,
    (fx, ex): (Res, Res),
    mempool: &BTreeMap<String, (u64, u64)>,
) {
    report.count("mempool.recent", version, Peer::V200, 1);
    let valid = |r: &Res| -> Result<BTreeSet<String>, String> {
        let list = r.as_ref().map_err(|e| format!("{e:?}"))?;
        let list = list.as_array().ok_or("not a list")?;
        let mut seen = BTreeSet::new();
        for e in list {
            let txid = e["txid"].as_str().ok_or("no txid")?.to_string();
            let (fee, vsize) = mempool
                .get(&txid)
                .ok_or(format!("{txid} not in the mempool"))?;
            if *e != json!({"txid": txid, "fee": fee, "vsize": vsize}) {
                return Err(format!("{e} (the stand-in: fee {fee}, vsize {vsize})"));
            }
            if !seen.insert(txid.clone()) {
                return Err(format!("{txid} twice"));
            }
        }
        Ok(seen)
    };
    let want = mempool.len().min(10);
    match (valid(&fx), valid(&ex)) {
        (Ok(f), Ok(e)) if f.len() == want && e.len() == want => {}
        (f, e) => report.diffs.push(format!(
            "[{version}, ElectrumX 2.0.0] mempool.recent: FerrumX {f:?}, ElectrumX {e:?} \
             (want {want} entries)"
        )),
    }
}

/// The scripts `txs` pay and spend: (script hash, scriptPubKey hex), sorted.
pub fn touched_scripts(n: &Node, txs: &[Transaction]) -> Vec<(ScriptHash, String)> {
    let mut out = BTreeMap::new();
    for tx in txs {
        let spent = tx
            .input
            .iter()
            .map(|i| prevout_script(n, &i.previous_output));
        for s in tx
            .output
            .iter()
            .map(|o| o.script_pubkey.clone())
            .chain(spent)
        {
            out.insert(ScriptHash::of(&s), s.as_bytes().to_lower_hex_string());
        }
    }
    out.into_iter().collect()
}

/// The stand-in's mempool: txid → (fee, vsize).
pub fn mempool_fees(sim: &ferrumx_simnode::SimNode) -> BTreeMap<String, (u64, u64)> {
    sim.with_node(|n| {
        n.mempool
            .entries()
            .map(|e| (e.txid.to_string(), (e.fee, e.vsize)))
            .collect()
    })
}
