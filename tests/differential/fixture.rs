//! The chain both servers index: the fixture, a long history and what reaches the
//! response limits.

use bitcoin::hashes::Hash;
use std::collections::BTreeSet;

use bitcoin::{OutPoint, Txid};
use ferrumx_simnode::Node;

use crate::compare::Event;

/// Payments (one transaction each) to one script, mined 100 to a block: its history.
pub const LONG_HISTORY: usize = 1_100;

/// Gives one script hash a history of more than 1,000 entries (the issue asks for such
/// histories in the comparison; the fixture's hot script hashes have fewer).
pub fn long_history(node: &mut Node) {
    let script = bitcoin::ScriptBuf::new_p2wsh(&bitcoin::WScriptHash::from_byte_array([0x42; 32]));
    for i in 0..LONG_HISTORY {
        ferrumx_simnode::fund::pay_to_scripts(node, &[(script.clone(), 20_000 + i as u64)], 2)
            .expect("pay the long-history script");
        if i % 100 == 99 {
            node.mine(1).expect("mine");
        }
    }
    node.mine(1).expect("mine");
    let sh = ferrumx_simnode::ScriptHash::of(&script);
    let n = node.truth.history(&sh, None).len();
    assert!(n >= 1_000, "the long history has {n} entries");
}

/// MAX_SEND for both servers: ElectrumX's floor, so that the limits are reached with a
/// test-sized chain. A history is refused above `MAX_SEND / 99` entries (ElectrumX's
/// "history too large"), a response above MAX_SEND bytes ("response too large").
pub const MAX_SEND: usize = 350_000;
/// Payments to the script of [`oversized`]: more entries than a history may have.
pub const TOO_LONG_HISTORY: usize = MAX_SEND / 99 + 65;
/// Outputs of the wide transaction of [`oversized`]: its verbose form (one JSON object per
/// output, about 250 bytes each) exceeds MAX_SEND; its raw hex (31 bytes an output) does not.
pub const WIDE_OUTPUTS: usize = 2_000;

/// What reaches the response limits: a script hash whose history is too long to send, and
/// a transaction too wide to send verbose. Returns the script and the transaction (both
/// mined).
pub fn oversized(node: &mut Node) -> (bitcoin::ScriptBuf, Txid) {
    let script = bitcoin::ScriptBuf::new_p2wsh(&bitcoin::WScriptHash::from_byte_array([0x43; 32]));
    for i in 0..TOO_LONG_HISTORY {
        ferrumx_simnode::fund::pay_to_scripts(node, &[(script.clone(), 20_000 + i as u64)], 2)
            .expect("pay the over-long history's script");
        if i % 250 == 249 {
            node.mine(1).expect("mine");
        }
    }
    let wide = bitcoin::ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([0x44; 20]));
    let outputs = vec![(wide, 1_000); WIDE_OUTPUTS];
    let (tx, _) = ferrumx_simnode::fund::pay_to_scripts(node, &outputs, 2).expect("wide tx");
    node.mine(1).expect("mine");
    let sh = ferrumx_simnode::ScriptHash::of(&script);
    assert!(node.truth.history(&sh, None).len() > MAX_SEND / 99);
    (script, tx.compute_txid())
}

/// What the notification part does to the chain and mempool, in order: the broadcasts
/// (already made), a block mining a parent and not its child (whose outputs, in `watched`,
/// go from funder height -1 to 0: the change ElectrumX 2.0.0 does not send), a block,
/// traffic, an RBF replacement, a reorg, blocks, an equal-height reorg and a block after it.
pub fn events(watched: BTreeSet<OutPoint>) -> Vec<(&'static str, Event)> {
    vec![
        ("broadcasts", Box::new(|_: &mut Node| {})),
        (
            "a parent mined alone",
            Box::new(move |n: &mut Node| {
                let (p, _) = ferrumx_testkit::outpoint::parent_with_lone_child(n, &watched)
                    .expect("a parent, a lone child");
                let entry = n.mempool.get(&p).expect("parent").clone();
                n.build_and_connect(vec![entry.tx.clone()], entry.fee, 4_000 + entry.weight, 0)
                    .expect("block");
            }),
        ),
        (
            "mine 1",
            Box::new(|n: &mut Node| {
                n.mine(1).expect("mine");
            }),
        ),
        (
            "traffic 30",
            Box::new(|n: &mut Node| {
                n.add_traffic(30);
            }),
        ),
        (
            "rbf",
            Box::new(|n: &mut Node| {
                let mut txids: Vec<Txid> = n.mempool.entries().map(|e| e.txid).collect();
                txids.sort();
                let replaced = txids.iter().any(|t| n.rbf_replace(t).is_ok());
                assert!(replaced, "no mempool transaction could be replaced");
            }),
        ),
        (
            "reorg 2 -> 3",
            Box::new(|n: &mut Node| {
                n.reorg(2, 3).expect("reorg");
            }),
        ),
        (
            "mine 2",
            Box::new(|n: &mut Node| {
                n.add_traffic(10);
                n.mine(2).expect("mine");
            }),
        ),
        (
            "equal-height reorg 1 -> 1",
            Box::new(|n: &mut Node| {
                n.reorg(1, 1).expect("reorg");
            }),
        ),
        (
            "mine 1 after the equal-height reorg",
            Box::new(|n: &mut Node| {
                n.add_traffic(10);
                n.mine(1).expect("mine");
            }),
        ),
    ]
}
