//! Protocol 1.7's outpoint family through a live server: `blockchain.outpoint.get_status`
//! and `subscribe` answered for every outpoint state, and subscribers notified of exactly the
//! changes, once, through mempool arrivals, a block, RBF, an eviction and a reorg — every
//! expected status computed here from the stand-in's truth (its chain, its `-txospenderindex`
//! stand-in `node.spenders`, its mempool), never from the server's answers.
//!
//! Unlike ElectrumX 2.0.0, FerrumX also sends the changes no transaction touched directly (a
//! funder or spender going from -1 to 0 when its parent is mined, and back in a reorg): the
//! expectations here are the truth's, so those are required (docs/compatibility.md).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bitcoin::OutPoint;
use ferrumx_simnode::truth::is_unspendable;
use ferrumx_simnode::{GenParams, Node};
use ferrumx_testkit::outpoint::{
    outpoint_status, outpoints_in_every_state, parent_with_lone_child,
};
use ferrumx_testkit::{Client, Electrum, Kind, WAIT};
use serde_json::{json, Value};

const SUBSCRIBE: &str = "blockchain.outpoint.subscribe";
const GET: &str = "blockchain.outpoint.get_status";
/// How long nothing more may arrive after the last expected notification.
const QUIET: Duration = Duration::from_millis(700);

struct Sess {
    c: Client,
    /// Outpoint → the status last told.
    subs: BTreeMap<OutPoint, Value>,
}

fn world(n: &Node, u: &BTreeSet<OutPoint>) -> BTreeMap<OutPoint, Value> {
    u.iter().map(|op| (*op, outpoint_status(n, op))).collect()
}

/// Reads `c`'s outpoint notifications until `want` are all there (at most `WAIT`), then for
/// `QUIET` more; `server.ping` noise set aside.
fn read(c: &mut Client, want: usize) -> Vec<Value> {
    let mut got = Vec::new();
    let deadline = Instant::now() + WAIT;
    let mut quiet_end: Option<Instant> = None;
    loop {
        if quiet_end.is_none() && got.len() >= want {
            quiet_end = Some(Instant::now() + QUIET);
        }
        let end = quiet_end.unwrap_or(deadline);
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return got;
        }
        match c.notification(left) {
            Some((method, params)) if method == SUBSCRIBE => got.push(params),
            Some((method, _)) if method == "server.ping" => {}
            Some((method, params)) => panic!("unexpected {method} {params}"),
            None => return got,
        }
    }
}

/// Runs `op` on the stand-in, then checks each session receives exactly its changed
/// statuses, once. Returns `op`'s result and the outpoints the first session was notified of.
fn step<R>(
    e: &Electrum,
    sessions: &mut [Sess],
    u: &BTreeSet<OutPoint>,
    label: &str,
    op: impl FnOnce(&mut Node) -> R,
) -> (R, BTreeSet<OutPoint>) {
    let (r, new) = e.sim.with_node(|n| {
        let r = op(n);
        (r, world(n, u))
    });
    let first: BTreeSet<OutPoint> = sessions[0]
        .subs
        .iter()
        .filter(|(op, last)| new[*op] != **last)
        .map(|(op, _)| *op)
        .collect();
    let mut total = 0;
    for (i, s) in sessions.iter_mut().enumerate() {
        let want: BTreeMap<(String, u32), Value> = s
            .subs
            .iter()
            .filter(|(op, last)| new[*op] != **last)
            .map(|(op, _)| ((op.txid.to_string(), op.vout), new[op].clone()))
            .collect();
        let got = read(&mut s.c, want.len());
        let mut seen: BTreeMap<(String, u32), Value> = BTreeMap::new();
        for params in &got {
            let key = (
                params[0].as_str().expect("tx_hash").to_owned(),
                params[1].as_u64().expect("txout_idx") as u32,
            );
            assert!(
                seen.insert(key.clone(), params[2].clone()).is_none(),
                "{label}: session {i}: {key:?} notified twice: {got:?}"
            );
        }
        assert_eq!(seen, want, "{label}: session {i}");
        total += want.len();
        for (op, last) in s.subs.iter_mut() {
            *last = new[op].clone();
        }
    }
    eprintln!("{label}: {total} notifications");
    (r, first)
}

#[test]
fn outpoint_statuses_and_notifications_follow_the_truth() {
    let mut node = Node::generate(GenParams::fixture(71));
    node.add_traffic(40);
    let e = Electrum::start("outpoints", node, &[]);
    let (u, now) = e.sim.with_node(|n| {
        let u = outpoints_in_every_state(n, 8);
        let w = world(n, &u);
        (u, w)
    });
    // Every state is there.
    let count = |f: &dyn Fn(&Value) -> bool| now.values().filter(|v| f(v)).count();
    let fh = |v: &Value| v["funder_height"].as_i64();
    let sh = |v: &Value| v["spender_height"].as_i64();
    assert!(
        count(&|v| *v == json!({})) >= 10,
        "non-existent, out of range"
    );
    assert!(
        count(&|v| fh(v) > Some(0) && sh(v).is_none()) >= 5,
        "unspent"
    );
    assert!(count(&|v| sh(v) > Some(0)) >= 5, "spent in a block");
    assert!(
        count(&|v| fh(v) > Some(0) && sh(v) == Some(0)) >= 1,
        "spent in the mempool"
    );
    assert!(count(&|v| fh(v) == Some(0)) >= 1, "created in the mempool");
    assert!(
        count(&|v| fh(v) == Some(-1)) >= 1,
        "with an unconfirmed parent"
    );
    let op_return = e.sim.with_node(|n| {
        u.iter()
            .filter(|op| {
                n.txindex_lookup(&op.txid)
                    .and_then(|(hash, i)| n.block(&hash)?.tx(i as usize))
                    .and_then(|tx| tx.output.get(op.vout as usize).cloned())
                    .is_some_and(|o| is_unspendable(&o.script_pubkey))
            })
            .count()
    });
    assert!(op_return >= 1, "an OP_RETURN output");

    // get_status of every one, on one session.
    let mut c = e.session(Kind::Tcp, "1.7");
    let calls: Vec<(&str, Value)> = u
        .iter()
        .map(|op| (GET, json!([op.txid.to_string(), op.vout, ""])))
        .collect();
    for (op, got) in u.iter().zip(c.call_many(&calls)) {
        assert_eq!(got.expect("get_status"), now[op], "get_status {op}");
    }
    // Two sessions subscribe: one to everything, one to every third outpoint.
    let mut sessions: Vec<Sess> = Vec::new();
    for (kind, every) in [(Kind::Tcp, 1), (Kind::Ssl, 3)] {
        let mut c = e.session(kind, "1.7");
        let ops: Vec<OutPoint> = u.iter().copied().step_by(every).collect();
        let calls: Vec<(&str, Value)> = ops
            .iter()
            .map(|op| (SUBSCRIBE, json!([op.txid.to_string(), op.vout, "51"])))
            .collect();
        let mut subs = BTreeMap::new();
        for (op, got) in ops.iter().zip(c.call_many(&calls)) {
            assert_eq!(got.expect("subscribe"), now[op], "subscribe {op}");
            subs.insert(*op, now[op].clone());
        }
        sessions.push(Sess { c, subs });
    }

    let mut total = 0;
    let (_, changed) = step(&e, &mut sessions, &u, "mempool arrivals", |n| {
        n.add_traffic(10);
    });
    total += changed.len();
    // A block mining a parent and not its child: the child's outputs go from -1 to 0 though
    // nothing touched them (ElectrumX 2.0.0 would not say so).
    let ((parent, child), changed) = step(&e, &mut sessions, &u, "a parent mined alone", |n| {
        let (p, c) = parent_with_lone_child(n, &u).expect("a parent with a lone child");
        let entry = n.mempool.get(&p).expect("parent").clone();
        n.build_and_connect(vec![entry.tx.clone()], entry.fee, 4_000 + entry.weight, 0)
            .expect("block");
        (p, c)
    });
    assert!(
        changed.contains(&OutPoint::new(child, 0)),
        "the child {child} of {parent} was notified"
    );
    total += changed.len();
    let (_, changed) = step(&e, &mut sessions, &u, "rbf", |n| {
        let mut txids = n.mempool.sorted_txids();
        txids.sort();
        let replaced = txids.iter().any(|t| {
            let ours = u.iter().any(|op| op.txid == *t);
            ours && n.rbf_replace(t).is_ok()
        });
        assert!(replaced, "an RBF of a watched transaction");
    });
    total += changed.len();
    let (_, changed) = step(&e, &mut sessions, &u, "eviction", |n| {
        let mut txids = n.mempool.sorted_txids();
        txids.sort();
        let t = txids
            .into_iter()
            .find(|t| u.iter().any(|op| op.txid == *t))
            .expect("a watched mempool transaction");
        n.evict(&t).expect("evict");
    });
    total += changed.len();
    let (_, changed) = step(&e, &mut sessions, &u, "a block", |n| {
        n.mine(1).expect("mine");
    });
    total += changed.len();
    let (_, changed) = step(&e, &mut sessions, &u, "a reorg", |n| {
        n.reorg(2, 3).expect("reorg");
    });
    total += changed.len();
    assert!(total > 0);
}
