//! The script-hash methods, fees and the mempool, broadcasts and packages.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferrumx_simnode::GenParams;
use ferrumx_testkit::oracle::fee_histogram;
use ferrumx_testkit::{touched_by, Kind, Shared};

use super::*;

/// A fixture chain plus 300 mempool transactions (chains of unconfirmed parents included),
/// served by a server named `name`.
pub(super) fn start(name: &str) -> Electrum {
    let mut node = Node::generate(GenParams::fixture(11));
    let traffic = node.add_traffic(300);
    assert!(
        traffic.len() > 200,
        "{} mempool transactions",
        traffic.len()
    );
    Electrum::start(name, node, &[])
}

/// The server of the read-only tests below (nothing here changes its chain or mempool).
pub(super) static SCRIPTHASH: Shared<Electrum> = Shared::new(|| start("methods-scripthash"));

/// ElectrumX's broadcast rejection for `raw`, with the stand-in's own message for it.
fn rejected(daemon: &Daemon, raw: &str) -> RpcErr {
    let (_, message) = daemon.error("sendrawtransaction", &[json!(raw)]);
    bad(format!(
        "the transaction was rejected by network rules.\n\n{message}\n[{raw}]"
    ))
}

/// A parent from the stand-in's wallet and a child spending one of its outputs.
pub(super) fn parent_and_child(n: &mut Node) -> (Transaction, Transaction) {
    for _ in 0..20 {
        let (parent, _) = n.make_tx().expect("wallet can pay");
        let ptxid = parent.compute_txid();
        let coins = (0..parent.output.len() as u32)
            .find_map(|v| n.gen.take_coins(&[OutPoint::new(ptxid, v)]));
        if let Some(coins) = coins {
            if let Some((child, _)) = n.gen.build_spend(coins, n.tip_height(), None) {
                n.resync_wallet();
                return (parent, child);
            }
        }
        n.resync_wallet();
    }
    panic!("no parent with a spendable output");
}

fn amount_btc(sats: u64) -> f64 {
    sats as f64 / 100_000_000.0
}

/// Waits for one scripthash notification per script hash in `want` (alias → status) and
/// checks each status; then that no other comes.
fn expect_notifications(sub: &mut Client, want: &BTreeMap<String, Value>) {
    let mut got: BTreeMap<String, Value> = BTreeMap::new();
    while got.len() < want.len() {
        let (method, params) = sub
            .notification(WAIT)
            .unwrap_or_else(|| panic!("notifications: got {got:?}, want {want:?}"));
        assert_eq!(method, "blockchain.scripthash.subscribe");
        let alias = params[0].as_str().expect("alias").to_string();
        assert!(want.contains_key(&alias), "notified {alias}, not touched");
        assert!(
            got.insert(alias.clone(), params[1].clone()).is_none(),
            "{alias} notified twice"
        );
    }
    assert_eq!(&got, want, "notified statuses (left) vs computed (right)");
    assert!(
        sub.notification(Duration::from_millis(400)).is_none(),
        "one notification per change"
    );
}

/// Balance, history, mempool, listunspent and status of every script hash (confirmed ones,
/// mempool-only ones, chains of unconfirmed parents, and two nobody uses), on tcp at 1.6.
#[test]
fn every_script_hash_answers_as_the_truth() {
    let e = SCRIPTHASH.get();
    let mut c = e.session(Kind::Tcp, "1.6");
    let (wants0, only_mempool) = wants(&e);
    let unconfirmed_parents = e.sim.with_node(|n| {
        MempoolView::of(n)
            .txs
            .values()
            .filter(|m| m.has_unconfirmed_inputs)
            .count()
    });
    assert!(unconfirmed_parents > 10, "{unconfirmed_parents} chained");
    assert!(
        only_mempool > 10,
        "{only_mempool} mempool-only script hashes"
    );
    let t = Instant::now();
    check_script_hashes(&mut c, &wants0);
    eprintln!(
        "{} script hashes ({only_mempool} only in the mempool) x 5 methods in {:?}",
        wants0.len(),
        t.elapsed()
    );
}

/// Sessions of other versions and transports see the same: wss at protocol 1.4.
#[test]
fn script_hashes_answer_alike_over_wss_at_1_4() {
    let e = SCRIPTHASH.get();
    let (wants0, _) = wants(&e);
    let mut c14 = e.session(Kind::Wss, "1.4");
    check_script_hashes(&mut c14, &wants0[..200]);
}

/// The fee histogram: computed at the first mempool synchronisation (then every 120 s), so
/// compared with the mempool as the server started; ElectrumX's compaction (the harness's
/// oracle) of the stand-in's fees and sizes.
#[test]
fn the_fee_histogram_is_electrumx_s_compaction_of_the_mempool() {
    let e = SCRIPTHASH.get();
    let histogram = e.sim.with_node(|n| {
        let view = MempoolView::of(n);
        fee_histogram(view.txs.values().map(|m| (m.fee, m.vsize)))
    });
    assert!(histogram.len() >= 2, "histogram {histogram:?}");
    let mut c = e.session(Kind::Tcp, "1.6");
    let got = poll("the fee histogram", || {
        let h = ok(c.call("mempool.get_fee_histogram", json!([])), "histogram");
        let h: Vec<(f64, u64)> = h
            .as_array()
            .expect("list")
            .iter()
            .map(|p| (p[0].as_f64().expect("rate"), p[1].as_u64().expect("size")))
            .collect();
        (!h.is_empty()).then_some(h)
    });
    assert_eq!(
        got, histogram,
        "fee histogram (left: server, right: computed)"
    );
}

/// `mempool.get_info` (1.6) and `blockchain.relayfee` (1.4): the stand-in's own answers.
#[test]
fn mempool_info_and_relay_fee_are_the_daemon_s() {
    let e = SCRIPTHASH.get();
    let daemon = Daemon::of(&e);
    let mut c = e.session(Kind::Tcp, "1.6");
    let mut c14 = e.session(Kind::Wss, "1.4");
    let info = daemon.call("getmempoolinfo", &[]).expect("getmempoolinfo");
    assert_eq!(
        c.call("mempool.get_info", json!([])),
        Ok(json!({
            "mempoolminfee": info["mempoolminfee"],
            "minrelaytxfee": info["minrelaytxfee"],
            "incrementalrelayfee": info["incrementalrelayfee"],
        }))
    );
    let network = daemon.call("getnetworkinfo", &[]).expect("getnetworkinfo");
    assert_eq!(
        c14.call("blockchain.relayfee", json!([])),
        Ok(network["relayfee"].clone())
    );
}

/// `blockchain.estimatefee`: the stand-in's `estimatesmartfee` for ElectrumX's bucketed
/// target and upper-cased mode (anything not a string is no mode); its errors.
#[test]
fn estimatefee_asks_the_daemon_for_electrumx_s_target_and_mode() {
    let e = SCRIPTHASH.get();
    let daemon = Daemon::of(&e);
    let mut c = e.session(Kind::Tcp, "1.6");
    let modes: [(Value, Option<&str>); 6] = [
        (Value::Null, None),
        (json!("CONSERVATIVE"), Some("CONSERVATIVE")),
        (json!("ECONOMICAL"), Some("ECONOMICAL")),
        (json!("economical"), Some("ECONOMICAL")),
        (json!("Conservative"), Some("CONSERVATIVE")),
        // Not a string: ElectrumX treats it as no mode.
        (json!(5), None),
    ];
    let mut calls = Vec::new();
    let mut expected = Vec::new();
    for number in [
        0u64, 1, 2, 5, 12, 13, 24, 25, 26, 48, 49, 100, 1008, 1009, 100_000,
    ] {
        for (mode, upper) in &modes {
            let mut params = vec![json!(bucket(number))];
            params.extend(upper.map(|m| json!(m)));
            let answer = daemon
                .call("estimatesmartfee", &params)
                .expect("estimatesmartfee");
            expected.push(Ok(answer.get("feerate").cloned().unwrap_or(json!(-1))));
            calls.push((
                "blockchain.estimatefee",
                if mode.is_null() {
                    json!([number])
                } else {
                    json!([number, mode])
                },
            ));
        }
    }
    assert_eq!(c.pipelined(&calls), expected, "estimatefee");
    assert_eq!(
        c.call("blockchain.estimatefee", json!([2, "bogus"])),
        Err(bad("unknown estimatefee mode: BOGUS"))
    );
    assert_eq!(
        c.call("blockchain.estimatefee", json!([-1, "bogus"])),
        Err(bad("-1 should be a non-negative integer"))
    );
}

/// No BANNER_FILE, no DONATION_ADDRESS: the default banner names the server, the donation
/// address is empty.
#[test]
fn without_banner_file_or_donation_address() {
    let e = SCRIPTHASH.get();
    let mut c = e.session(Kind::Tcp, "1.6");
    let version = ok(c.call("server.features", json!([])), "features")["server_version"].clone();
    assert_eq!(
        c.call("server.banner", json!([])),
        Ok(json!(format!(
            "You are connected to an {} server.",
            version.as_str().expect("server_version")
        )))
    );
    assert_eq!(c.call("server.donation_address", json!([])), Ok(json!("")));
}

/// Unsubscribing (1.4.2 and later) a subscribed script hash answers true, one never
/// subscribed false.
#[test]
fn unsubscribe_answers_whether_the_script_hash_was_subscribed() {
    let e = SCRIPTHASH.get();
    let touched: BTreeMap<String, Value> = e.sim.with_node(|n| {
        let view = MempoolView::of(n);
        let first = n.mempool.sorted_txids()[0];
        let tx = n.mempool.get(&first).expect("entry").tx.clone();
        touched_by(n, &tx)
            .iter()
            .map(|sh| (sh.to_string(), want_for(n, &view, sh).status))
            .collect()
    });
    assert!(touched.len() >= 2, "{touched:?}");
    let mut sub = e.session(Kind::Ssl, "1.6");
    for (sh, status) in &touched {
        assert_eq!(
            sub.call("blockchain.scripthash.subscribe", json!([sh])),
            Ok(status.clone()),
            "subscribe {sh}"
        );
    }
    for sh in touched.keys().skip(1) {
        assert_eq!(
            sub.call("blockchain.scripthash.unsubscribe", json!([sh])),
            Ok(json!(true))
        );
    }
    assert_eq!(
        sub.call(
            "blockchain.scripthash.unsubscribe",
            json!([ScriptHash([9; 32]).to_string()])
        ),
        Ok(json!(false))
    );
}

/// Rejections, each with the stand-in's own message for the same transaction: garbage,
/// arguments that are not hex, a conflict, a double spend of a confirmed output, an unknown
/// input, a transaction already confirmed. Nothing reaches the mempool.
#[test]
fn rejected_broadcasts_carry_the_daemon_s_message() {
    let e = SCRIPTHASH.get();
    let daemon = Daemon::of(&e);
    let mut c = e.session(Kind::Tcp, "1.6");
    let garbage = "00".repeat(40);
    assert_eq!(
        c.call("blockchain.transaction.broadcast", json!([garbage])),
        Err(rejected(&daemon, &garbage))
    );
    assert_eq!(
        c.call("blockchain.transaction.broadcast", json!(["not hex"])),
        Err(bad("not hex should be a hex string"))
    );
    assert_eq!(
        c.call("blockchain.transaction.broadcast", json!(["abc"])),
        Err(bad("abc should be a hex string"))
    );
    assert_eq!(
        c.call("blockchain.transaction.broadcast", json!([5])),
        Err(bad("5 should be a hex string"))
    );
    let refusals = e.sim.with_node(ferrumx_simnode::fund::refusals);
    let (conflict, confirmed_double_spend, unknown_input, in_chain) = (
        refusals.conflict,
        refusals.double_spend,
        refusals.unknown_input,
        refusals.in_chain,
    );
    for (what, tx) in [
        ("conflict", &conflict),
        ("double spend", &confirmed_double_spend),
        ("unknown input", &unknown_input),
        ("already confirmed", &in_chain),
    ] {
        let raw = hex_of(tx);
        let got = c.call("blockchain.transaction.broadcast", json!([raw]));
        let want = rejected(&daemon, &raw);
        assert_eq!(got, Err(want), "{what}");
    }
    assert!(e
        .sim
        .with_node(|n| !n.mempool.contains(&conflict.compute_txid())));
}

/// The statuses a session subscribed to `touched` must have now.
fn statuses(e: &Electrum, touched: &BTreeSet<ScriptHash>) -> BTreeMap<String, Value> {
    e.sim.with_node(|n| {
        let view = MempoolView::of(n);
        touched
            .iter()
            .map(|sh| (sh.to_string(), want_for(n, &view, sh).status))
            .collect()
    })
}

/// A valid broadcast (its own server): accepted, in the stand-in's mempool, then in the
/// server's, and subscribers of every script hash it touches are notified once with the new
/// status; sent again, its txid again; then every script hash answers as the truth.
#[test]
fn a_broadcast_is_relayed_and_notifies_every_touched_script_hash_once() {
    let e = start("methods-broadcast");
    let mut c = e.session(Kind::Tcp, "1.6");
    let (tx, touched) = e.sim.with_node(|n| {
        let (tx, _) = n.make_tx().expect("wallet can pay");
        let touched = touched_by(n, &tx);
        (tx, touched)
    });
    let txid = tx.compute_txid();
    let mut sub = e.session(Kind::Ssl, "1.6");
    let before = statuses(&e, &touched);
    for (sh, status) in &before {
        assert_eq!(
            sub.call("blockchain.scripthash.subscribe", json!([sh])),
            Ok(status.clone()),
            "subscribe {sh}"
        );
    }
    let raw = hex_of(&tx);
    assert_eq!(
        c.call("blockchain.transaction.broadcast", json!([raw])),
        Ok(json!(txid.to_string()))
    );
    assert!(e.sim.with_node(|n| n.mempool.contains(&txid)));
    let paid = ScriptHash::of(&tx.output[0].script_pubkey).to_string();
    poll("the broadcast transaction in get_mempool", || {
        let m = ok(
            c.call("blockchain.scripthash.get_mempool", json!([paid])),
            "get_mempool",
        );
        m.as_array()
            .expect("list")
            .iter()
            .any(|x| x["tx_hash"] == json!(txid.to_string()))
            .then_some(())
    });
    let after = statuses(&e, &touched);
    let changed: BTreeMap<String, Value> = after
        .iter()
        .filter(|(sh, st)| before.get(*sh) != Some(*st))
        .map(|(sh, st)| (sh.clone(), st.clone()))
        .collect();
    assert_eq!(changed.len(), touched.len(), "every touched status changes");
    expect_notifications(&mut sub, &changed);
    // Sent again: already in the mempool, Core answers its txid.
    assert_eq!(
        c.call("blockchain.transaction.broadcast", json!([raw])),
        Ok(json!(txid.to_string()))
    );
    // Everything again, against the stand-in's mempool now.
    let (wants1, _) = wants(&e);
    check_script_hashes(&mut c, &wants1);
}

/// Electrum clients older than 3.3.3 get a warning instead of the txid (ElectrumX's markup
/// and link; FerrumX's own wording, a documented difference); the transaction is relayed.
#[test]
fn electrum_clients_before_3_3_3_get_a_warning_instead_of_the_txid() {
    let e = start("methods-old-client");
    let mut c = e.session(Kind::Tcp, "1.6");
    let version = ok(c.call("server.features", json!([])), "features")["server_version"].clone();
    let mut old = e.connect(Kind::Tcp);
    assert_eq!(
        old.call("server.version", json!(["3.3.2", "1.4"])),
        Ok(json!([version, "1.4"]))
    );
    let (tx2, _) = e.sim.with_node(|n| n.make_tx()).expect("wallet can pay");
    let warning = ok(
        old.call("blockchain.transaction.broadcast", json!([hex_of(&tx2)])),
        "old client broadcast",
    );
    let warning = warning.as_str().expect("a string");
    assert!(
        warning.starts_with("<br/><br/>") && warning.contains("https://electrum.org/"),
        "{warning}"
    );
    assert!(e.sim.with_node(|n| n.mempool.contains(&tx2.compute_txid())));
}

/// Packages (1.6, their own server): a parent and its child; verbose (bitcoind's own
/// answer, passed through); an invalid child; a bad topology; bad arguments; then every
/// script hash answers as the truth.
#[test]
fn packages_are_submitted_and_answered_as_the_daemon_answers() {
    let e = start("methods-packages");
    let daemon = Daemon::of(&e);
    let mut c = e.session(Kind::Tcp, "1.6");
    let (parent, child) = e.sim.with_node(parent_and_child);
    assert_eq!(
        c.call(
            "blockchain.transaction.broadcast_package",
            json!([[hex_of(&parent), hex_of(&child)]])
        ),
        Ok(json!({"success": true}))
    );
    assert!(e
        .sim
        .with_node(|n| n.mempool.contains(&parent.compute_txid())
            && n.mempool.contains(&child.compute_txid())));
    // verbose: bitcoind's own answer, passed through.
    let (parent2, child2, fees) = e.sim.with_node(|n| {
        let (p, c) = parent_and_child(n);
        let view = MempoolView::of(n);
        let fee_of = |tx: &Transaction| {
            let value_in: u64 = tx
                .input
                .iter()
                .map(|i| {
                    let op = i.previous_output;
                    n.coin(&op)
                        .map(|c| c.txout.value.to_sat())
                        .or_else(|| {
                            view.txs
                                .get(&op.txid)
                                .map(|m| m.tx.output[op.vout as usize].value.to_sat())
                        })
                        .unwrap_or_else(|| p.output[op.vout as usize].value.to_sat())
                })
                .sum();
            value_in - tx.output.iter().map(|o| o.value.to_sat()).sum::<u64>()
        };
        let fees = (fee_of(&p), fee_of(&c));
        (p, c, fees)
    });
    let verbose = ok(
        c.call(
            "blockchain.transaction.broadcast_package",
            json!([[hex_of(&parent2), hex_of(&child2)], true]),
        ),
        "verbose package",
    );
    assert_eq!(verbose["package_msg"], json!("success"), "{verbose}");
    for (tx, fee) in [(&parent2, fees.0), (&child2, fees.1)] {
        let r = &verbose["tx-results"][tx.compute_wtxid().to_string()];
        assert_eq!(r["txid"], json!(tx.compute_txid().to_string()), "{verbose}");
        assert_eq!(
            r["vsize"],
            json!(tx.weight().to_wu().div_ceil(4)),
            "{verbose}"
        );
        assert_eq!(
            r["fees"]["base"].as_f64(),
            Some(amount_btc(fee)),
            "{verbose}"
        );
    }
    let (parent3, bad_child) = e.sim.with_node(|n| {
        let (p, mut c) = parent_and_child(n);
        let mut extra = c.input[0].clone();
        extra.previous_output = OutPoint::new(Txid::from_byte_array([8; 32]), 0);
        c.input.push(extra);
        (p, c)
    });
    let got = c.call(
        "blockchain.transaction.broadcast_package",
        json!([[hex_of(&parent3), hex_of(&bad_child)]]),
    );
    let (_, child_error) = daemon.error("sendrawtransaction", &[json!(hex_of(&bad_child))]);
    assert_eq!(
        got,
        Ok(json!({"success": false, "errors": [
            {"txid": bad_child.compute_txid().to_string(), "error": child_error}
        ]}))
    );
    let reversed = json!([hex_of(&child), hex_of(&parent)]);
    let got = c.call(
        "blockchain.transaction.broadcast_package",
        json!([reversed]),
    );
    let (_, topology) = daemon.error("submitpackage", &[reversed]);
    assert_eq!(
        got,
        Err(bad(format!(
            "the tx package was rejected by network rules.\n\n{topology}."
        )))
    );
    assert_eq!(
        c.call("blockchain.transaction.broadcast_package", json!(["abc"])),
        Err(bad("abc should be a list"))
    );
    assert_eq!(
        c.call("blockchain.transaction.broadcast_package", json!([["zz"]])),
        Err(bad("zz should be a hex string"))
    );

    // -- Everything again, against the stand-in's mempool now.
    let last = ScriptHash::of(&child2.output[0].script_pubkey).to_string();
    poll("the package in get_mempool", || {
        let m = ok(
            c.call("blockchain.scripthash.get_mempool", json!([last])),
            "get_mempool",
        );
        m.as_array()
            .expect("list")
            .iter()
            .any(|x| x["tx_hash"] == json!(child2.compute_txid().to_string()))
            .then_some(())
    });
    let (wants1, _) = wants(&e);
    check_script_hashes(&mut c, &wants1);
}
