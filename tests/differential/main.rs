//! Differential testing: FerrumX against a real ElectrumX 1.20 (`e-x==1.20.0` from PyPI,
//! installed by `contrib/electrumx/install.sh`), both serving ONE stand-in (a fixture chain
//! with mempool traffic). The same requests, pipelined, go to both servers in protocols 1.4
//! and 1.6, and the answers must be equal JSON values apart from the differences `ALLOWED`
//! lists (mirroring `docs/compatibility.md`).
//!
//! ElectrumX is found through `FERRUMX_ELECTRUMX` (the path of `electrumx_server`) or in
//! `${FERRUMX_CACHE:-$HOME/.cache/ferrumx}/electrumx-venv`. Without it the test fails when
//! `CI` is set, and is skipped (loudly) otherwise.

mod calls;
mod compare;
mod fixture;
mod notify;
mod peer;
mod raw;

use std::time::{Duration, Instant};

use bitcoin::{Transaction, Txid};
use ferrumx_simnode::{CoreVersion, GenParams, Node, ScriptHash, SimNodeOptions};
use ferrumx_testkit::electrumx::{self, require};
use ferrumx_testkit::{poll_until, touched_by, Electrum, TempDir};
use serde_json::{json, Value};

use calls::*;
use compare::*;
use fixture::*;
use notify::*;
use peer::ElectrumX;
use raw::raw_messages;

/// What may differ from ElectrumX, and why (mirrors `docs/compatibility.md`).
const ALLOWED: &[(&str, &str)] = &[
    (
        "server.version",
        "result[0] is the server's own name and version (identity)",
    ),
    (
        "server.features",
        "server_version is the server's own name and version (identity)",
    ),
    (
        "server.features",
        "protocol_max is 1.7.0: FerrumX serves protocol 1.7, as ElectrumX 2.0.0 does (at \
         every version); ElectrumX 1.20 says 1.6.0",
    ),
    (
        "blockchain.scripthash.listunspent",
        "unconfirmed outputs come in ElectrumX's Python-set order (varies between runs); \
         compared with them sorted by txid and output index (FerrumX's order)",
    ),
    (
        "equal-height reorg (notifications, and answers until the next block)",
        "FerrumX follows it and notifies the new tip and changed statuses; ElectrumX does \
         not even see it (e-x server/block_processor.py Prefetcher._prefetch_blocks fetches \
         only when the daemon's height exceeds its own) and serves the replaced block until \
         the chain grows",
    ),
    (
        "blockchain.scripthash.subscribe (notifications)",
        "FerrumX notifies only when the status changed; ElectrumX whenever a subscribed \
         script hash is touched: compared as the set of (script hash, new status) pairs",
    ),
];

const VERSIONS: [&str; 2] = ["1.4", "1.6"];

#[test]
fn answers_equal_a_real_electrumx() {
    let Some(exe) = require(
        electrumx::electrumx_server(),
        "ElectrumX 1.20 is not installed (run contrib/electrumx/install.sh, or set \
         FERRUMX_ELECTRUMX to its electrumx_server)",
    ) else {
        return;
    };
    let started = Instant::now();
    let banner_dir = TempDir::new("differential-banner");
    let banner = banner_dir.write(
        "banner.txt",
        "Welcome!\n$DAEMON_VERSION $DAEMON_SUBVERSION $DONATION_ADDRESS\n",
    );
    let banner = banner.to_str().expect("utf-8").to_string();
    let max_send = MAX_SEND.to_string();
    let extra = [
        ("MAX_SEND", max_send.as_str()),
        ("BANNER_FILE", banner.as_str()),
        (
            "DONATION_ADDRESS",
            "bcrt1qdonationaddressxxxxxxxxxxxxxxxxxxxx",
        ),
    ];
    let mut node = Node::generate(GenParams::fixture(23));
    long_history(&mut node);
    let (too_long, wide_tx) = oversized(&mut node);
    let traffic = node.add_traffic(150);
    assert!(traffic.len() > 100, "{} mempool txs", traffic.len());
    let core31 = SimNodeOptions {
        core_version: CoreVersion::V31,
        ..SimNodeOptions::default()
    };
    let fx = Electrum::start_with("differential", node, core31, &extra);
    let ex = ElectrumX::start(&exe, &fx.sim.daemon_url(), &extra);
    eprintln!("both servers up in {:.1?}", started.elapsed());
    let pair = Pair {
        fx: fx.tcp,
        ex: ex.port,
    };
    let mut report = Report::default();

    let (tip, shs, only_mempool, txs, mempool_txs) = fx.sim.with_node(|n| {
        let (shs, only) = all_script_hashes(n);
        let mut mem: Vec<Txid> = n.mempool.entries().map(|e| e.txid).collect();
        mem.sort();
        (n.tip_height(), shs, only, chain_txs(n), mem)
    });
    eprintln!(
        "tip {tip}, {} script hashes ({only_mempool} only in the mempool), {} confirmed and \
         {} mempool transactions",
        shs.len(),
        txs.len(),
        mempool_txs.len()
    );

    // Warm ElectrumX's header-merkle cache (its cold-cache race, DESIGN.md §5).
    let (plain_headers, proofs) = header_calls(tip);
    // (A proof to the tip builds the whole cache; cp_height 0 would ask for no proof.)
    let warm = [call("blockchain.block.header", json!([1, tip]))];
    pair.compare_sequential(&mut report, "warm proof", "1.4", &warm);

    // Protocol 1.5: the cheap sections only (its methods are 1.4's).
    pair.compare(&mut report, "misc", "1.5", &misc_calls("1.5", tip), 1);
    pair.compare(&mut report, "headers", "1.5", &plain_headers, 1);
    pair.compare(&mut report, "header proofs", "1.5", &proofs, 2);

    // Raw messages: framing, JSON-RPC shapes, batches.
    raw_messages(&pair, &mut report);

    for version in VERSIONS {
        pair.compare(&mut report, "misc", version, &misc_calls(version, tip), 1);
        pair.compare(&mut report, "headers", version, &plain_headers, 1);
        pair.compare(&mut report, "header proofs", version, &proofs, 2);

        // Every script hash, every method.
        let mut calls = Vec::new();
        for sh in &shs {
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
        for sh in shs.iter().step_by(50) {
            calls.push(call(
                "blockchain.scripthash.unsubscribe",
                json!([sh.to_string()]),
            ));
        }
        pair.compare(&mut report, "script hashes", version, &calls, 4);

        // Transactions: raw and verbose; merkle proofs; ids from positions.
        let mut calls = Vec::new();
        for (i, (txid, h, _)) in txs.iter().enumerate() {
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
        for t in &mempool_txs {
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
        for (i, (_, h, pos)) in txs.iter().enumerate() {
            let last_in_block = txs.get(i + 1).is_none_or(|n| n.1 != *h);
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
        pair.compare(&mut report, "transactions", version, &calls, 4);
    }

    // -- The response limits (the sections above ask these too, among everything else; here
    // they are asked on their own and FerrumX's answers are checked to be the refusals).
    let too_long = too_long.to_string();
    let mut oversized_calls: Vec<Call> = ["get_history", "subscribe", "listunspent", "get_balance"]
        .iter()
        .map(|m| call(&format!("blockchain.scripthash.{m}"), json!([too_long])))
        .collect();
    oversized_calls.push(call(
        "blockchain.transaction.get",
        json!([wide_tx.to_string(), true]),
    ));
    oversized_calls.push(call(
        "blockchain.transaction.get",
        json!([wide_tx.to_string()]),
    ));
    for version in VERSIONS {
        pair.compare_sequential(&mut report, "oversized", version, &oversized_calls);
        let got = run_sequential(pair.fx, version, &oversized_calls);
        let history_too_large = Err((1, "history too large".to_owned()));
        // aiorpcx's message, sic (no closing parenthesis).
        let response_too_large = Err((-32600, "response too large (over 350,000 bytes".to_owned()));
        assert_eq!(got[0], history_too_large, "[{version}] get_history");
        assert_eq!(got[1], history_too_large, "[{version}] subscribe");
        assert_eq!(got[2], response_too_large, "[{version}] listunspent");
        assert!(got[3].is_ok(), "[{version}] get_balance: {:?}", got[3]);
        assert_eq!(got[4], response_too_large, "[{version}] verbose wide tx");
        assert!(got[5].is_ok(), "[{version}] raw wide tx: {:?}", got[5]);
    }

    // -- Notifications, part 1: subscribers before the broadcasts.
    let mut subs: Vec<(String, Subscriber, Subscriber)> = VERSIONS
        .iter()
        .map(|v| {
            (
                v.to_string(),
                Subscriber::new(pair.fx, v, &shs),
                Subscriber::new(pair.ex, v, &shs),
            )
        })
        .collect();
    for (v, f, e) in &subs {
        assert_eq!(f.status, e.status, "[{v}] subscription statuses");
        assert_eq!(f.tip, e.tip, "[{v}] headers.subscribe");
    }

    // -- Broadcasts: refusals to both, then one accepted transaction to each server alone.
    let refused = fx.sim.with_node(refused_txs);
    for version in VERSIONS {
        let mut calls: Vec<Call> = refused
            .iter()
            .map(|(_, tx)| call("blockchain.transaction.broadcast", json!([hex_of(tx)])))
            .collect();
        // Packages (1.6; an unknown method in 1.4): each refused transaction alone, all of
        // them together, and with `verbose`.
        for (_, tx) in &refused {
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
        pair.compare(&mut report, "refused broadcasts", version, &calls, 1);
    }
    let (tx_ex, tx_fx, touched) = fx.sim.with_node(|n| {
        let (a, _) = n.make_tx().expect("wallet can pay");
        let (b, _) = n.make_tx().expect("wallet can pay");
        let mut t = touched_by(n, &a);
        t.extend(touched_by(n, &b));
        (a, b, t)
    });
    let mut accepted = Vec::new();
    for (port, tx, name) in [(pair.ex, &tx_ex, "ElectrumX"), (pair.fx, &tx_fx, "FerrumX")] {
        let r = session(port, "1.4").call("blockchain.transaction.broadcast", json!([hex_of(tx)]));
        assert_eq!(
            r,
            Ok(json!(tx.compute_txid().to_string())),
            "broadcast to {name}"
        );
        accepted.push(tx.compute_txid());
    }
    let out_sh = |tx: &Transaction| ScriptHash::of(&tx.output[0].script_pubkey);
    for port in [pair.fx, pair.ex] {
        for tx in [&tx_ex, &tx_fx] {
            poll_until(
                "the broadcast transactions in both mempools",
                Duration::from_secs(60),
                || sees_in_mempool(port, &out_sh(tx), &tx.compute_txid()).then_some(()),
            );
        }
    }
    let touched: Vec<ScriptHash> = touched.into_iter().collect();
    for version in VERSIONS {
        let mut calls = script_hash_calls(&touched);
        for t in &accepted {
            calls.push(call("blockchain.transaction.get", json!([t.to_string()])));
            calls.push(call(
                "blockchain.transaction.get",
                json!([t.to_string(), true]),
            ));
        }
        calls.push(call("mempool.get_info", json!([])));
        pair.compare(&mut report, "after broadcasts", version, &calls, 1);
    }

    // -- Notifications, part 2: the broadcasts, a block, traffic, reorgs.
    let mut notified = 0;
    let events: [(&str, Event); 7] = [
        ("broadcasts", Box::new(|_: &mut Node| {})),
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
    ];
    for (i, (what, event)) in events.iter().enumerate() {
        let new_tip = fx.sim.with_node(|n| {
            event(n);
            n.tip_height()
        });
        let equal_height = what.starts_with("equal-height");
        let after_equal_height = i > 0 && events[i - 1].0.starts_with("equal-height");
        std::thread::sleep(Duration::from_millis(500));
        // All subscribers at once: each until it is at the new tip (ElectrumX not after an
        // equal-height reorg: it does not see one), then until 2.5 s pass without a
        // notification.
        let mut drained: Vec<Vec<(String, Value)>> = std::thread::scope(|s| {
            let handles: Vec<_> = subs
                .iter_mut()
                .flat_map(|(_, f, e)| [(f, true), (e, false)])
                .map(|(sub, is_fx)| {
                    s.spawn(move || {
                        let deadline = Instant::now() + Duration::from_secs(60);
                        let mut notes = sub.drain(Duration::from_millis(2500));
                        let at_tip = |notes: &[(String, Value)], sub: &Subscriber| {
                            notes
                                .iter()
                                .rev()
                                .find(|(m, _)| m == "blockchain.headers.subscribe")
                                .map_or(sub.tip["height"].clone(), |(_, p)| p[0]["height"].clone())
                                == json!(new_tip)
                        };
                        while !(at_tip(&notes, sub) || (equal_height && !is_fx))
                            && Instant::now() < deadline
                        {
                            notes.extend(sub.drain(Duration::from_millis(2500)));
                        }
                        notes
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("drain"))
                .collect()
        });
        drained.reverse();
        for (v, f, e) in &mut subs {
            let fnotes = drained.pop().expect("FerrumX's notifications");
            let enotes = drained.pop().expect("ElectrumX's notifications");
            notified += fnotes.len() + enotes.len();
            let mut fs = seen(f, fnotes);
            let mut es = seen(e, enotes);
            // On a loaded machine a server may refresh its mempool only after the quiet
            // window (ElectrumX re-adds a reorg's transactions on its next mempool poll): while
            // the two clients know different statuses, keep draining both, for at most 30 s.
            // What they were notified is then compared as before.
            let settle = Instant::now() + Duration::from_secs(30);
            while !equal_height && f.status != e.status && Instant::now() < settle {
                let (fmore, emore) = std::thread::scope(|s| {
                    let fx = s.spawn(|| f.drain(Duration::from_millis(2500)));
                    let ex = e.drain(Duration::from_millis(2500));
                    (fx.join().expect("drain"), ex)
                });
                notified += fmore.len() + emore.len();
                fs.absorb(seen(f, fmore));
                es.absorb(seen(e, emore));
            }
            eprintln!(
                "[{v}] {what}: FerrumX {} changed, {} unchanged, headers {:?}; ElectrumX {} \
                 changed, {} unchanged, headers {:?}",
                fs.changed.len(),
                fs.unchanged,
                fs.heights,
                es.changed.len(),
                es.unchanged,
                es.heights
            );
            *report
                .compared
                .entry((format!("notifications ({what})"), v.clone()))
                .or_default() += 1;
            assert_eq!(
                f.tip["height"],
                json!(new_tip),
                "[{v}] {what}: FerrumX's tip"
            );
            if equal_height {
                // Allowed: ElectrumX does not see an equal-height reorg (its prefetcher
                // fetches only when the daemon's height grows): no notification at all.
                assert_eq!(fs.heights, vec![json!(new_tip)], "[{v}] {what}: FerrumX");
                if es != Seen::default() {
                    report.diffs.push(format!(
                        "[{v}] notifications after {what}: ElectrumX saw it: {es:?}"
                    ));
                }
                continue;
            }
            // Allowed: ElectrumX repeats unchanged statuses (FerrumX does not).
            es.unchanged = fs.unchanged;
            // The heights notified on the way depend on when each server polled.
            es.heights = fs.heights.clone();
            if after_equal_height {
                // ElectrumX's client learns the equal-height reorg's changes now, too.
                es.changed.clear();
                let mut fs = fs;
                fs.changed.clear();
                if fs != es {
                    report.diffs.push(format!(
                        "[{v}] notifications after {what}:\n    FerrumX:   {fs:?}\n    \
                         ElectrumX: {es:?}"
                    ));
                }
            } else if fs != es {
                report.diffs.push(format!(
                    "[{v}] notifications after {what}:\n    FerrumX:   {fs:?}\n    ElectrumX: {es:?}"
                ));
            }
            // What each client knows in the end is the same.
            if f.status != e.status || f.tip != e.tip {
                let differing: Vec<_> = f
                    .status
                    .iter()
                    .filter(|(k, s)| e.status.get(*k) != Some(s))
                    .map(|(k, s)| format!("{k}: FerrumX {s}, ElectrumX {:?}", e.status.get(k)))
                    .take(10)
                    .collect();
                report.diffs.push(format!(
                    "[{v}] after {what}, the clients know different statuses or tips: tips \
                     FerrumX {}, ElectrumX {}; {differing:?}",
                    f.tip, e.tip
                ));
            }
        }
        if !equal_height {
            // The final statuses equal a fresh subscription's on both.
            let again = script_hash_calls(&shs[..shs.len().min(200)]);
            pair.compare(&mut report, &format!("after {what}"), "1.6", &again, 2);
        }
    }
    eprintln!("{notified} notifications received");
    eprintln!("ElectrumX 'caught up' lines: {}", ex.count("caught up"));

    // The report.
    eprintln!("compared requests per (method, version):");
    let mut total = 0;
    for ((m, v), n) in &report.compared {
        eprintln!("  {m} [{v}]: {n}");
        total += n;
    }
    for (m, why) in ALLOWED {
        eprintln!("allowed difference: {m}: {why}");
    }
    eprintln!(
        "{total} requests compared in {:.1?}, {} differences",
        started.elapsed(),
        report.diffs.len()
    );
    assert!(
        report.diffs.is_empty(),
        "{} of {total} answers differ from ElectrumX 1.20's:\n{}",
        report.diffs.len(),
        report
            .diffs
            .iter()
            .take(60)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
