//! What to ask.

use std::collections::BTreeSet;

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Transaction, Txid};
use ferrumx_simnode::{Node, ScriptHash};
use ferrumx_testkit::prevout_script;
use serde_json::{json, Value};

use crate::compare::{call, session, Call};

/// Every script hash of the chain and of the mempool, plus two nobody uses.
pub fn all_script_hashes(n: &Node) -> (Vec<ScriptHash>, usize) {
    let mut set: BTreeSet<ScriptHash> = n.truth.script_hashes().copied().collect();
    let confirmed = set.len();
    for e in n.mempool.entries() {
        for out in &e.tx.output {
            set.insert(ScriptHash::of(&out.script_pubkey));
        }
        for i in &e.tx.input {
            set.insert(ScriptHash::of(&prevout_script(n, &i.previous_output)));
        }
    }
    set.insert(ScriptHash([0x42; 32]));
    set.insert(ScriptHash::of(bitcoin::Script::from_bytes(b"never used")));
    let only_mempool = set.len() - confirmed - 2;
    (set.into_iter().collect(), only_mempool)
}

/// Confirmed transactions (txid, height, position), in chain order.
pub fn chain_txs(n: &Node) -> Vec<(Txid, u32, usize)> {
    (0..=n.tip_height())
        .flat_map(|h| {
            let b = n.block_at(h).expect("block");
            b.txids
                .iter()
                .enumerate()
                .map(move |(i, t)| (*t, h, i))
                .collect::<Vec<_>>()
        })
        .collect()
}

pub fn hex_of(tx: &Transaction) -> String {
    serialize_hex(tx)
}

pub fn header_calls(tip: u32) -> (Vec<Call>, Vec<Call>) {
    let t = i64::from(tip);
    let mut plain = Vec::new();
    let mut proofs = Vec::new();
    let heights = [
        0,
        1,
        2,
        7,
        50,
        99,
        100,
        101,
        120,
        t - 2,
        t - 1,
        t,
        t + 1,
        t + 100,
        -1,
    ];
    for h in heights {
        plain.push(call("blockchain.block.header", json!([h])));
        plain.push(call("blockchain.block.header", json!([h, 0])));
        for cp in [h, h + 1, h - 1, t, t + 1, 2 * t, -1] {
            proofs.push(call("blockchain.block.header", json!([h, cp])));
        }
    }
    let ranges = [
        (0, 0),
        (0, 1),
        (0, 10),
        (0, t + 1),
        (0, 2016),
        (0, 2017),
        (0, 100_000),
        (1, 1),
        (5, 20),
        (100, 3),
        (t - 3, 10),
        (t, 1),
        (t, 0),
        (t + 1, 1),
        (t + 2, 5),
        (-1, 1),
        (3, -1),
    ];
    for (s, c) in ranges {
        plain.push(call("blockchain.block.headers", json!([s, c])));
        plain.push(call("blockchain.block.headers", json!([s, c, 0])));
        for cp in [s + c - 1, s + c, t, t + 1, s, 0.max(s - 1)] {
            proofs.push(call("blockchain.block.headers", json!([s, c, cp])));
        }
    }
    // Named arguments and strings for numbers.
    plain.push(call(
        "blockchain.block.header",
        json!({"height": 4, "cp_height": 0}),
    ));
    plain.push(call("blockchain.block.header", json!(["4"])));
    plain.push(call("blockchain.block.header", json!([4.0])));
    plain.push(call("blockchain.block.header", json!([4.5])));
    plain.push(call("blockchain.block.header", json!([true])));
    plain.push(call("blockchain.block.headers", json!(["1", "2"])));
    plain.push(call("blockchain.block.header", json!([null])));
    proofs.push(call(
        "blockchain.block.header",
        json!({"height": 4, "cp_height": t}),
    ));
    proofs.push(call("blockchain.block.header", json!([4, "50"])));
    (plain, proofs)
}

pub fn misc_calls(version: &str, tip: u32) -> Vec<Call> {
    let mut v = vec![
        call("server.ping", json!([])),
        call("server.banner", json!([])),
        call("server.donation_address", json!([])),
        call("server.features", json!([])),
        call("server.peers.subscribe", json!([])),
        call("server.add_peer", json!([{}])),
        call(
            "server.add_peer",
            json!([{"hosts": {"example.com": {"tcp_port": 50001}}}]),
        ),
        call("blockchain.headers.subscribe", json!([])),
        call("blockchain.headers.subscribe", json!([true])),
        call("mempool.get_fee_histogram", json!([])),
        call("mempool.get_info", json!([])),
        call("blockchain.relayfee", json!([])),
        call("blockchain.transaction.broadcast_package", json!([[]])),
        call("blockchain.transaction.broadcast_package", json!([["00"]])),
        call("blockchain.transaction.broadcast_package", json!(["00"])),
        call(
            "blockchain.scripthash.unsubscribe",
            json!(["00".repeat(32)]),
        ),
        call("server.version", json!(["again", version])),
    ];
    for target in [-1, 0, 1, 2, 3, 5, 6, 10, 25, 144, 1008, 1009, 100_000] {
        v.push(call("blockchain.estimatefee", json!([target])));
    }
    for mode in [
        "ECONOMICAL",
        "CONSERVATIVE",
        "economical",
        "UNSET",
        "bad",
        "",
    ] {
        for target in [1, 2, 6] {
            v.push(call("blockchain.estimatefee", json!([target, mode])));
        }
    }
    v.push(call("blockchain.estimatefee", json!(["2"])));
    v.push(call("blockchain.estimatefee", json!([2, 5])));
    v.push(call("blockchain.estimatefee", json!([])));
    v.push(call("blockchain.estimatefee", json!([2.5])));
    // Errors: arity, names, types, unknown methods.
    let sh = "00".repeat(32);
    let t = tip;
    for (m, p) in [
        ("blockchain.block.header", json!([])),
        ("blockchain.block.headers", json!([1])),
        ("blockchain.block.header", json!([1, 2, 3])),
        ("blockchain.transaction.get_merkle", json!(["x"])),
        ("blockchain.scripthash.get_balance", json!([sh, 1])),
        ("server.ping", json!([1])),
        ("server.add_peer", json!([])),
        ("blockchain.block.header", json!({"cp_height": 5})),
        ("blockchain.block.headers", json!({})),
        (
            "blockchain.block.header",
            json!({"height": 1, "foo": 2, "bar": 3}),
        ),
        (
            "blockchain.scripthash.get_balance",
            json!({"scripthash": sh, "x": 1}),
        ),
        ("server.ping", json!("x")),
        ("server.ping", json!(5)),
        ("server.ping", json!({})),
        ("server.ping", Value::Null),
        ("blockchain.nonsense", json!([])),
        ("", json!([])),
        (
            "blockchain.address.get_balance",
            json!(["mzBc4XEFSdzCDcTxAgf6EZXgsZWpztRhef"]),
        ),
        ("blockchain.numblocks.subscribe", json!([])),
        ("blockchain.utxo.get_address", json!([])),
        ("server.version", json!(["x", "1.3"])),
        ("blockchain.scripthash.get_balance", json!([])),
        ("blockchain.scripthash.get_balance", json!(["zz"])),
        (
            "blockchain.scripthash.get_balance",
            json!(["00".repeat(31)]),
        ),
        (
            "blockchain.scripthash.get_balance",
            json!(["00".repeat(33)]),
        ),
        ("blockchain.scripthash.get_balance", json!([5])),
        (
            "blockchain.scripthash.get_balance",
            json!(["0".repeat(63) + "g"]),
        ),
        (
            "blockchain.scripthash.get_balance",
            json!(["AB".repeat(32)]),
        ),
        ("blockchain.scripthash.get_history", json!([null])),
        ("blockchain.scripthash.listunspent", json!([[]])),
        ("blockchain.scripthash.get_mempool", json!([{}])),
        ("blockchain.scripthash.subscribe", json!(["xyz"])),
        ("blockchain.transaction.get", json!([])),
        ("blockchain.transaction.get", json!(["00".repeat(32)])),
        ("blockchain.transaction.get", json!(["00".repeat(32), true])),
        ("blockchain.transaction.get", json!(["zz"])),
        ("blockchain.transaction.get", json!([5])),
        ("blockchain.transaction.get", json!(["00".repeat(31)])),
        (
            "blockchain.transaction.get",
            json!(["00".repeat(32), "yes"]),
        ),
        ("blockchain.transaction.get", json!(["00".repeat(32), 1])),
        (
            "blockchain.transaction.get_merkle",
            json!(["00".repeat(32), 5]),
        ),
        (
            "blockchain.transaction.get_merkle",
            json!(["00".repeat(32), t + 1]),
        ),
        (
            "blockchain.transaction.get_merkle",
            json!(["00".repeat(32), -1]),
        ),
        ("blockchain.transaction.get_merkle", json!(["zz", 5])),
        (
            "blockchain.transaction.get_merkle",
            json!(["00".repeat(32), "5"]),
        ),
        ("blockchain.transaction.id_from_pos", json!([])),
        ("blockchain.transaction.id_from_pos", json!([t + 1, 0])),
        ("blockchain.transaction.id_from_pos", json!([-1, 0])),
        ("blockchain.transaction.id_from_pos", json!([1, -1])),
        ("blockchain.transaction.id_from_pos", json!([1, 1])),
        ("blockchain.transaction.id_from_pos", json!([1, 0, "x"])),
        ("blockchain.transaction.id_from_pos", json!(["1", "0"])),
        ("blockchain.transaction.broadcast", json!([])),
        ("blockchain.transaction.broadcast", json!([5])),
        ("blockchain.transaction.broadcast", json!(["zz"])),
        ("blockchain.transaction.broadcast", json!([""])),
        ("blockchain.transaction.broadcast", json!(["00".repeat(40)])),
        ("blockchain.transaction.broadcast", json!(["00", "extra"])),
    ] {
        v.push(call(m, p));
    }
    v
}

/// Transactions the stand-in refuses: (what, tx): the stand-in's [`Refusals`], one already
/// in the mempool, and one with a broken signature.
///
/// [`Refusals`]: ferrumx_simnode::fund::Refusals
pub fn refused_txs(n: &mut Node) -> Vec<(&'static str, Transaction)> {
    let r = ferrumx_simnode::fund::refusals(n);
    let mut entries: Vec<_> = n.mempool.entries().cloned().collect();
    entries.sort_by_key(|e| e.txid);
    let in_mempool = entries[0].tx.clone();
    let mut bad_sig = entries[1].tx.clone();
    bad_sig.output[0].value = bitcoin::Amount::from_sat(bad_sig.output[0].value.to_sat() - 1);
    vec![
        ("conflict", r.conflict),
        ("double spend", r.double_spend),
        ("unknown input", r.unknown_input),
        ("already confirmed", r.in_chain),
        ("already in the mempool", in_mempool),
        ("bad signature", bad_sig),
    ]
}

pub fn script_hash_calls(shs: &[ScriptHash]) -> Vec<Call> {
    let mut calls = Vec::new();
    for sh in shs {
        let sh = sh.to_string();
        for m in [
            "blockchain.scripthash.get_balance",
            "blockchain.scripthash.get_history",
            "blockchain.scripthash.get_mempool",
            "blockchain.scripthash.listunspent",
            "blockchain.scripthash.subscribe",
        ] {
            calls.push(call(m, json!([sh])));
        }
    }
    calls
}

/// Whether the server at `port` has `txid` in the mempool history of `sh`.
pub fn sees_in_mempool(port: u16, sh: &ScriptHash, txid: &Txid) -> bool {
    let mut c = session(port, "1.6");
    let m = c
        .call("blockchain.scripthash.get_mempool", json!([sh.to_string()]))
        .expect("get_mempool");
    m.as_array()
        .is_some_and(|a| a.iter().any(|e| e["tx_hash"] == json!(txid.to_string())))
}

/// The refused transactions broadcast one by one, and as packages (1.6; an unknown method
/// in 1.4): each alone, all of them together, and with `verbose`.
pub fn refused_broadcasts(refused: &[(&'static str, Transaction)]) -> Vec<Call> {
    let mut calls: Vec<Call> = refused
        .iter()
        .map(|(_, tx)| call("blockchain.transaction.broadcast", json!([hex_of(tx)])))
        .collect();
    for (_, tx) in refused {
        calls.push(call(
            "blockchain.transaction.broadcast_package",
            json!([[hex_of(tx)]]),
        ));
    }
    let all: Vec<String> = refused.iter().map(|(_, tx)| hex_of(tx)).collect();
    calls.push(call(
        "blockchain.transaction.broadcast_package",
        json!([all]),
    ));
    calls.push(call(
        "blockchain.transaction.broadcast_package",
        json!([all, true]),
    ));
    calls.push(call(
        "blockchain.transaction.broadcast_package",
        json!([[hex_of(&refused[4].1)], true]),
    ));
    calls
}
