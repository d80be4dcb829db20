//! The two wallet scenarios, run by `tests/electrum_wallet.rs` (Debian's Electrum 4.3.4)
//! and `tests/electrum_wallet17.rs` (Electrum's `protocol_1.7` branch) with the same
//! assertions: a wallet restored from a fixed seed, funded by the stand-in with real
//! transactions across several blocks (before and after the wallet connects, one left
//! unconfirmed), must show exactly the balance, history and UTXOs the stand-in's truth
//! says; then it pays through FerrumX, and must follow the payment into the mempool, into a
//! block and through reorgs.
//!
//! Checked against the stand-in (never against FerrumX's own answers): the protocol version
//! negotiated, confirmed and unconfirmed balance as Electrum sums them, every
//! `onchain_history` entry (txid, height, confirmations, value), every `listunspent` coin
//! (outpoint, value, height), the payment reaching the stand-in's mempool, height 0 / -1
//! (unconfirmed parent) for mempool transactions, 1- and 3-block reorgs, SSL with the
//! self-signed certificate pinned by fingerprint, dynamic fees from
//! `blockchain.estimatefee`, and a clean Electrum log (no failed merkle or header check, no
//! disconnection, no error).

use std::str::FromStr;
use std::time::Instant;

use bitcoin::hashes::{sha256, Hash};
use bitcoin::{Network, Txid};
use ferrumx_simnode::{GenParams, Node};
use serde_json::Value;

use super::{expected_view, fund, script_set, Program, Wallet};
use crate::Electrum;

/// A fixed Electrum seed (segwit: P2WPKH addresses), for the TCP wallet.
const SEED_SEGWIT: &str = "gym praise ten simple will lesson always junior castle use unusual give";
/// A fixed Electrum seed (standard: P2PKH addresses), for the SSL wallet.
const SEED_STANDARD: &str =
    "finger license day arrow huge expire boring drum tag talent vacant blue";

/// Which Electrum runs the scenarios, and what differs between its versions.
pub struct Flavour {
    pub program: Program,
    /// A short name, for directories, the server's name and progress lines.
    pub name: &'static str,
    /// The protocol version it must negotiate with FerrumX (`server.version`).
    pub protocol: &'static str,
    /// The fee rate (sat/kvB) Electrum pays by default, read from its `getinfo` answer
    /// (from FerrumX's `blockchain.estimatefee`); `None` when it has no estimate.
    pub default_fee_rate: fn(&Value) -> Option<u64>,
    /// The argument of `payto --from_coins` for a list of coins `TXID:N,...`.
    pub coin_list: fn(&str) -> String,
}

/// The TCP scenario (a P2WPKH wallet): funding before and while the wallet is connected,
/// payments through FerrumX (one spending an unconfirmed parent), a block, 1- and 3-block
/// reorgs; the wallet's view equal to the stand-in's truth after each step.
pub fn over_tcp(f: &Flavour) {
    let started = Instant::now();
    let mut w = Wallet::restore(f.program.clone(), &format!("{}-tcp", f.name), SEED_SEGWIT);
    let recv = w.addresses(false);
    let change = w.addresses(true);
    assert!(recv.len() >= 8 && change.len() >= 3, "gap limits");
    let scripts = script_set(&[&recv, &change]);

    // Funding before FerrumX starts: several blocks, generated traffic around it, address
    // reuse, several of our outputs in one transaction, change addresses too.
    let mut node = Node::generate(GenParams::fixture(61));
    let t1 = fund(
        &mut node,
        &[(&recv[0], 150_000_000), (&recv[1], 25_000_000)],
        3,
    );
    node.add_traffic(4);
    node.mine(1).expect("mine");
    let t2 = fund(
        &mut node,
        &[(&recv[2], 1_230_000), (&change[0], 30_000_000)],
        7,
    );
    let t3 = fund(&mut node, &[(&recv[0], 4_321)], 1);
    node.add_traffic(4);
    node.mine(1).expect("mine");
    node.add_traffic(3);
    node.mine(1).expect("mine");
    let t4 = fund(&mut node, &[(&recv[5], 77_777_777)], 2);
    node.mine(1).expect("mine");
    let tip = node.tip_height();
    for t in [t1, t2, t3, t4] {
        assert!(node.locate(&t).is_some(), "{t} confirmed");
    }

    let e = Electrum::start(&format!("{}-wallet-tcp", f.name), node, &[]);
    w.start_daemon(e.tcp, "t", None);
    w.wait_synced(tip);
    w.assert_negotiated(f.protocol);
    let v = w.wait_view("initial sync", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    assert_eq!(v.history.len(), 4, "{v:#?}");
    assert_eq!(
        v.confirmed,
        150_000_000 + 25_000_000 + 1_230_000 + 30_000_000 + 4_321 + 77_777_777
    );
    eprintln!(
        "[{} tcp] initial sync checked after {:?}",
        f.name,
        started.elapsed()
    );

    // Funding while the wallet is connected: one confirmed, one left unconfirmed.
    let t5 = e.sim.with_node(|n| {
        let t = fund(n, &[(&recv[3], 50_000_000)], 4);
        n.add_traffic(3);
        n.mine(1).expect("mine");
        t
    });
    let t6 = e
        .sim
        .with_node(|n| fund(n, &[(&recv[4], 7_000_000), (&change[1], 1_000_000)], 5));
    let v = w.wait_view("notified funding", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    assert_eq!(v.history[&t5].0, i64::from(tip + 1));
    assert_eq!(v.history[&t6].0, 0, "unconfirmed funding at height 0");
    assert_eq!(v.unconfirmed, 8_000_000);
    eprintln!(
        "[{} tcp] notified funding checked after {:?}",
        f.name,
        started.elapsed()
    );

    // Pay through FerrumX to an address of the stand-in's choosing.
    let dest = e.sim.with_node(|n| {
        let a = n.gen.address(7).expect("stand-in address");
        bitcoin::Address::from_script(&a.script_pubkey, Network::Regtest).expect("address")
    });
    let raw = w.wcall_raw(&["payto", &dest.to_string(), "0.12345", "--feerate", "2"]);
    let txid_s = w.cli(&["broadcast", raw.trim()]).expect("broadcast");
    let paid = Txid::from_str(txid_s.trim().trim_matches('"')).expect("txid");
    assert!(
        e.sim.with_node(|n| n.mempool.contains(&paid)),
        "the payment reached the stand-in's mempool"
    );
    let v = w.wait_view("payment unconfirmed", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    assert!(
        v.history[&paid].0 <= 0,
        "unconfirmed payment: {:?}",
        v.history[&paid]
    );
    assert!(
        v.history[&paid].2 < -12_345_000,
        "payment value {:?}",
        v.history[&paid]
    );

    // A second payment spending the first one's unconfirmed change: an unconfirmed parent,
    // so the server reports it at height -1.
    let change_coin = v
        .unspent
        .keys()
        .find(|op| op.txid == paid)
        .copied()
        .expect("the payment's change");
    let dest2 = e.sim.with_node(|n| {
        let a = n.gen.address(8).expect("stand-in address");
        bitcoin::Address::from_script(&a.script_pubkey, Network::Regtest).expect("address")
    });
    let raw = w.wcall_raw(&[
        "payto",
        &dest2.to_string(),
        "0.01",
        "--feerate",
        "3",
        "--from_coins",
        &(f.coin_list)(&format!("{}:{}", change_coin.txid, change_coin.vout)),
    ]);
    let txid_s = w.cli(&["broadcast", raw.trim()]).expect("broadcast");
    let paid2 = Txid::from_str(txid_s.trim().trim_matches('"')).expect("txid");
    assert!(e.sim.with_node(|n| n.mempool.contains(&paid2)));
    let v = w.wait_view("chained payment unconfirmed", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    assert_eq!(v.history[&paid2].0, -1, "unconfirmed parent: height -1");

    let mined = e.sim.with_node(|n| {
        n.mine(1).expect("mine");
        n.tip_height()
    });
    let v = w.wait_view("payment confirmed", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    assert_eq!(v.history[&paid].0, i64::from(mined));
    assert_eq!(
        v.history[&t6].0,
        i64::from(mined),
        "the unconfirmed funding was mined too"
    );
    assert_eq!(
        v.history[&paid2].0,
        i64::from(mined),
        "the chained payment too"
    );

    // A reorg dropping that block; the payment returns to the mempool or is re-mined.
    let where_now = e.sim.with_node(|n| {
        n.reorg(1, 2).expect("reorg");
        match n.locate(&paid) {
            Some(ferrumx_simnode::node::TxLocation::Mempool) => "mempool".to_string(),
            Some(ferrumx_simnode::node::TxLocation::Block { hash, .. }) => {
                format!("block {}", n.block(&hash).map_or(0, |b| b.height))
            }
            None => "gone".to_string(),
        }
    });
    eprintln!(
        "[{} tcp] after the reorg the payment is in the {where_now}",
        f.name
    );
    w.wait_view("after reorg", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    // And once more, mined for good.
    e.sim.with_node(|n| n.mine(1).expect("mine"));
    let v = w.wait_view("after reorg and mining", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    assert!(v.history[&paid].0 > 0, "payment confirmed at the end");

    // A deeper reorg (3 blocks replaced by 4), then the wallet must agree again.
    e.sim.with_node(|n| n.reorg(3, 4).expect("reorg"));
    w.wait_view("after a 3-block reorg", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    w.assert_log_clean();
    drop(w); // the daemon stops before the server does
    eprintln!("[{} tcp] done in {:?}", f.name, started.elapsed());
}

/// The SSL scenario (a P2PKH wallet, FerrumX's self-signed certificate pinned): sync with a
/// pending funding, a block, a payment at the fee rate Electrum took from FerrumX's
/// `blockchain.estimatefee`, confirmed by the next block, then a 2-block reorg.
pub fn over_ssl(f: &Flavour) {
    let started = Instant::now();
    let mut w = Wallet::restore(f.program.clone(), &format!("{}-ssl", f.name), SEED_STANDARD);
    let recv = w.addresses(false);
    let change = w.addresses(true);
    let scripts = script_set(&[&recv, &change]);
    let mut node = Node::generate(GenParams::fixture(62));
    fund(
        &mut node,
        &[(&recv[0], 200_000_000), (&recv[2], 3_000_000)],
        2,
    );
    node.mine(1).expect("mine");
    fund(&mut node, &[(&change[0], 12_345_678)], 3);
    node.mine(1).expect("mine");
    fund(&mut node, &[(&recv[1], 5_000_000)], 2);
    let tip = node.tip_height();

    let e = Electrum::start(&format!("{}-wallet-ssl", f.name), node, &[]);
    // Pin FerrumX's self-signed certificate by its SHA-256 fingerprint (Electrum would trust
    // it on first use anyway and store it in DIR/certs).
    let fp = sha256::Hash::hash(&e.cert_der).to_string();
    w.start_daemon(e.ssl, "s", Some(&fp));
    w.wait_synced(tip);
    w.assert_negotiated(f.protocol);
    let v = w.wait_view("ssl sync", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    assert_eq!(v.confirmed, 200_000_000 + 3_000_000 + 12_345_678);
    assert_eq!(v.unconfirmed, 5_000_000);
    assert_eq!(v.history.len(), 3);
    let pinned = std::fs::read_to_string(w.dir.join("regtest").join("certs").join("127.0.0.1"))
        .expect("Electrum pinned the certificate in DIR/regtest/certs/127.0.0.1");
    assert!(pinned.contains("BEGIN CERTIFICATE"), "pinned: {pinned}");

    // Over SSL too: a block confirming the pending funding, then a payment (P2PKH inputs)
    // through FerrumX, confirmed by the next block.
    e.sim.with_node(|n| n.mine(1).expect("mine"));
    w.wait_view("ssl: funding confirmed", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    let dest = e.sim.with_node(|n| {
        let a = n.gen.address(9).expect("stand-in address");
        bitcoin::Address::from_script(&a.script_pubkey, Network::Regtest).expect("address")
    });
    // Dynamic fees this time: the rate comes from FerrumX's `blockchain.estimatefee`.
    let info: Value =
        serde_json::from_str(w.cli(&["getinfo"]).expect("getinfo").trim()).expect("getinfo JSON");
    let fee_per_kb = (f.default_fee_rate)(&info)
        .unwrap_or_else(|| panic!("Electrum got no fee estimate from FerrumX: {info}"));
    let raw = w.wcall_raw(&["payto", &dest.to_string(), "1.1"]);
    let txid_s = w.cli(&["broadcast", raw.trim()]).expect("broadcast");
    let paid = Txid::from_str(txid_s.trim().trim_matches('"')).expect("txid");
    let (fee, vsize) = e.sim.with_node(|n| {
        let entry = n.mempool.get(&paid).expect("the payment is in the mempool");
        (entry.fee, entry.vsize)
    });
    let rate = fee * 1000 / vsize;
    assert!(
        rate * 100 >= fee_per_kb * 95 && rate * 100 <= fee_per_kb * 105,
        "payment fee rate {rate} sat/kvB, Electrum's estimate {fee_per_kb}"
    );
    let v = w.wait_view("ssl: payment unconfirmed", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    assert_eq!(v.history[&paid].0, 0);
    let mined = e.sim.with_node(|n| {
        n.mine(1).expect("mine");
        n.tip_height()
    });
    let v = w.wait_view("ssl: payment confirmed", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    assert_eq!(v.history[&paid].0, i64::from(mined));
    assert_eq!(v.history.len(), 4);

    // A 2-block reorg replacing the payment's block (by 3), over SSL too.
    e.sim.with_node(|n| n.reorg(2, 3).expect("reorg"));
    w.wait_view("ssl: after a 2-block reorg", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    w.assert_log_clean();
    drop(w);
    eprintln!("[{} ssl] done in {:?}", f.name, started.elapsed());
}
