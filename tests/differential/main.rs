//! Differential testing: FerrumX against a real ElectrumX 1.20 (`e-x==1.20.0` from PyPI,
//! installed by `contrib/electrumx/install.sh`) and a real ElectrumX 2.0.0 (`install.sh
//! 2.0.0`), all three serving ONE stand-in answering as Bitcoin Core 31 (a fixture chain
//! with mempool traffic). The same requests, pipelined, go to FerrumX and ElectrumX 1.20 in
//! protocols 1.4 (and 1.5) and 1.6, and to FerrumX and ElectrumX 2.0.0 in 1.4, 1.6 and 1.7;
//! the answers must be equal JSON values apart from the differences `ALLOWED` lists
//! (mirroring `docs/compatibility.md`). Then the notifications of mempool changes, blocks,
//! RBF and reorgs: at 1.4 and 1.6 against 1.20, at 1.7 against 2.0.0.
//!
//! ElectrumX 1.20 is found through `FERRUMX_ELECTRUMX` (the path of `electrumx_server`) or
//! in `${FERRUMX_CACHE:-$HOME/.cache/ferrumx}/electrumx-venv`, 2.0.0 through
//! `FERRUMX_ELECTRUMX2` or in `electrumx2-venv` beside it. Without either the test fails
//! when `CI` is set, and is skipped (loudly) otherwise.

mod calls;
mod calls17;
mod compare;
mod fixture;
mod limits;
mod notify;
mod outpoints;
mod peer;
mod raw;
mod sections;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bitcoin::{Transaction, Txid};
use ferrumx_simnode::{CoreVersion, GenParams, Node, ScriptHash, SimNodeOptions};
use ferrumx_testkit::electrumx::{self, require};
use ferrumx_testkit::{poll_until, touched_by, Electrum, TempDir};
use serde_json::json;

use calls::*;
use calls17::*;
use compare::*;
use fixture::*;
use limits::oversized_checks;
use notify::*;
use outpoints::{huge_index_calls, outpoint_argument_calls, outpoints};
use peer::ElectrumX;
use raw::raw_messages;
use sections::{statics, Ctx};

/// What may differ from ElectrumX (1.20 and 2.0.0), and why (mirrors
/// `docs/compatibility.md`). Each is checked exactly in `compare::normalize`,
/// `calls17::compare_recent` or `notify::follow`.
const ALLOWED: &[(&str, &str)] = &[
    (
        "server.version",
        "result[0] is the server's own name and version (identity); ElectrumX's must be \
         'ElectrumX 1.20.0' or 'ElectrumX 2.0.0'",
    ),
    (
        "server.features",
        "server_version is the server's own name and version (identity)",
    ),
    (
        "server.features (ElectrumX 1.20 only)",
        "protocol_max is 1.7.0: FerrumX serves protocol 1.7, as ElectrumX 2.0.0 does (at \
         every version); ElectrumX 1.20 says 1.6.0",
    ),
    (
        "blockchain.scripthash.listunspent, blockchain.scriptpubkey.listunspent",
        "unconfirmed outputs come in ElectrumX's Python-set order (varies between runs); \
         compared with them sorted by txid and output index (FerrumX's order)",
    ),
    (
        "\"history too large\" at 1.4-1.6 (ElectrumX 2.0.0 only)",
        "FerrumX keeps 1.20's code 1; 2.0.0 answers code 10001 at every version \
         (compatibility.md, ElectrumX 2.0.0 and 1.4-1.6 clients)",
    ),
    (
        "server.ping with arguments at 1.4-1.6 (ElectrumX 2.0.0 only)",
        "FerrumX keeps 1.20's -32602 invalid arguments; 2.0.0 takes and ignores them (null)",
    ),
    (
        "blockchain.transaction.get_merkle above the tip at 1.4-1.6 (ElectrumX 2.0.0 only)",
        "FerrumX keeps 1.20's \"db error: DBError('block N not on disk (>T)')\"; 2.0.0 \
         says \"height N out of range\" (same code)",
    ),
    (
        "mempool.recent",
        "transactions first seen in one mempool refresh come in ElectrumX 2.0.0's dict \
         order (filled in set order); FerrumX's in acceptance order: both must be the same \
         number of distinct current mempool entries with the stand-in's fee and vsize",
    ),
    (
        "server.ping notifications at 1.7",
        "the noise after mempool refreshes is random on both servers: counted, not compared",
    ),
    (
        "equal-height reorg (notifications, and answers until the next block)",
        "FerrumX follows it and notifies the new tip and changed statuses; ElectrumX (1.20 \
         and 2.0.0) does not even see it (e-x server/block_processor.py \
         Prefetcher._prefetch_blocks fetches only when the daemon's height exceeds its own) \
         and serves the replaced block until the chain grows",
    ),
    (
        "blockchain.scripthash.subscribe, blockchain.scriptpubkey.subscribe, \
         blockchain.outpoint.subscribe (notifications)",
        "FerrumX notifies only when the status changed; ElectrumX whenever a subscribed \
         script hash or outpoint is touched: compared as the set of (key, new status) pairs",
    ),
    (
        "blockchain.outpoint.subscribe (notifications, ElectrumX 2.0.0)",
        "2.0.0 computes and never sends the changes no transaction touched directly (a \
         funder or spender height going between -1 and 0 when a parent is mined, or back in \
         a reorg): FerrumX sends them; each such notification must be the stand-in's truth \
         and differ from the status before only in that height, and every status FerrumX's \
         client knows after each event must be the truth",
    ),
    (
        "blockchain.outpoint.subscribe of an OP_RETURN output (notifications, ElectrumX 2.0.0)",
        "2.0.0 answers an OP_RETURN output's status ({\"funder_height\": h}) but never \
         notifies the changes blocks alone make (moved or dropped by a reorg): \
         block_processor.py skips unspendable outputs before add_touched_outpoint, when \
         connecting and disconnecting; FerrumX sends them, each the stand-in's truth",
    ),
    (
        "blockchain.outpoint.unsubscribe of an output index past 32 bits (ElectrumX 2.0.0)",
        "2.0.0 kept the subscription (true); FerrumX keeps none, such an outpoint never \
         exists (false)",
    ),
];

/// The versions compared with ElectrumX 1.20 (and 1.5's cheap sections).
const VERSIONS: [&str; 2] = ["1.4", "1.6"];
/// The versions compared with ElectrumX 2.0.0.
const VERSIONS_2: [&str; 3] = ["1.4", "1.6", "1.7"];

#[test]
fn answers_equal_a_real_electrumx() {
    let Some(exe) = require(
        electrumx::electrumx_server(),
        "ElectrumX 1.20 is not installed (run contrib/electrumx/install.sh, or set \
         FERRUMX_ELECTRUMX to its electrumx_server)",
    ) else {
        return;
    };
    let Some(exe2) = require(
        electrumx::electrumx2_server(),
        "ElectrumX 2.0.0 is not installed (run contrib/electrumx/install.sh 2.0.0, or set \
         FERRUMX_ELECTRUMX2 to its electrumx_server)",
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
    // Core 31: ElectrumX 2.0 refuses an older one; 1.20 and FerrumX accept it.
    let core31 = SimNodeOptions {
        core_version: CoreVersion::V31,
        ..SimNodeOptions::default()
    };
    let fx = Electrum::start_with("differential", node, core31, &extra);
    // Both ElectrumX sync at once.
    let mut extra2 = extra.to_vec();
    extra2.push(("DB_ENGINE", "leveldb"));
    let url = fx.sim.daemon_url();
    let (ex, ex2) = std::thread::scope(|s| {
        let one = s.spawn(|| ElectrumX::start(&exe, &url, &extra));
        let two = s.spawn(|| ElectrumX::start(&exe2, &url, &extra2));
        (
            one.join().expect("ElectrumX 1.20"),
            two.join().expect("ElectrumX 2.0.0"),
        )
    });
    eprintln!("all three servers up in {:.1?}", started.elapsed());
    let pair = Pair {
        fx: fx.tcp,
        ex: ex.port,
        peer: Peer::V120,
    };
    let pair2 = Pair {
        fx: fx.tcp,
        ex: ex2.port,
        peer: Peer::V200,
    };
    let mut report = Report::default();

    let (refused, fresh) = fx.sim.with_node(|n| {
        let refused = refused_txs(n);
        // A transaction the stand-in would accept, never broadcast (testmempoolaccept).
        let fresh = n.make_tx().expect("wallet can pay").0;
        (refused, fresh)
    });
    let ctx = fx.sim.with_node(|n| {
        let (shs, only) = all_script_hashes(n);
        let mut mempool_txs: Vec<Txid> = n.mempool.entries().map(|e| e.txid).collect();
        mempool_txs.sort();
        let spks = script_pubkeys(&shs, &ferrumx_testkit::output_scripts(n));
        eprintln!(
            "tip {}, {} script hashes ({only} only in the mempool), {} scriptPubKeys, {} \
             mempool transactions",
            n.tip_height(),
            shs.len(),
            spks.len(),
            mempool_txs.len()
        );
        let ops = outpoints(n);
        let some = ops
            .iter()
            .find(|(_, hint)| !hint.is_empty())
            .expect("an outpoint with an output")
            .clone();
        let mut calls = calls_1_7(&refused, &fresh);
        calls.extend(outpoint_argument_calls(&some));
        Ctx {
            tip: n.tip_height(),
            shs,
            spks,
            txs: chain_txs(n),
            mempool_txs,
            outpoints: ops,
            calls_1_7: calls,
            huge_index: huge_index_calls(&some),
        }
    });
    let tip = ctx.tip;

    // Warm each ElectrumX's header-merkle cache (its cold-cache race, DESIGN.md §5).
    // (A proof to the tip builds the whole cache; cp_height 0 would ask for no proof.)
    let warm = [call("blockchain.block.header", json!([1, tip]))];
    pair.compare_sequential(&mut report, "warm proof", "1.4", &warm);
    pair2.compare_sequential(&mut report, "warm proof", "1.4", &warm);

    // The two ElectrumX at once, each with its versions.
    let report2 = std::thread::scope(|s| {
        let two = s.spawn(|| {
            let mut r = Report::default();
            raw_messages(&pair2, &mut r);
            for version in VERSIONS_2 {
                statics(&pair2, &mut r, version, &ctx);
            }
            r
        });
        // Protocol 1.5: the cheap sections only (its methods are 1.4's).
        let (plain_headers, proofs) = header_calls(tip);
        pair.compare(&mut report, "misc", "1.5", &misc_calls("1.5", tip), 1);
        pair.compare(&mut report, "headers", "1.5", &plain_headers, 1);
        pair.compare(&mut report, "header proofs", "1.5", &proofs, 2);
        // Raw messages: framing, JSON-RPC shapes, batches.
        raw_messages(&pair, &mut report);
        for version in VERSIONS {
            statics(&pair, &mut report, version, &ctx);
        }
        two.join().expect("ElectrumX 2.0.0's comparisons")
    });
    report.merge(report2);

    // mempool.recent at 1.7 (all the mempool came in one refresh of each server).
    let mempool = mempool_fees(&fx.sim);
    let recent = [call("mempool.recent", json!([]))];
    let (f, e) = pair2.both("1.7", &recent, 1);
    compare_recent(&mut report, "1.7", (f[0].clone(), e[0].clone()), &mempool);

    // -- The response limits (the sections above ask these too, among everything else; here
    // they are asked on their own and FerrumX's answers are checked to be the refusals).
    oversized_checks(
        &[(&pair, &VERSIONS[..]), (&pair2, &VERSIONS_2[..])],
        &mut report,
        &too_long,
        &wide_tx,
    );

    // -- Notifications, part 1: subscribers before the broadcasts.
    let mut watches: Vec<Watch> = VERSIONS
        .iter()
        .map(|v| (v, &pair))
        .chain([(&"1.7", &pair2)])
        .map(|(v, p)| Watch {
            version: v.to_string(),
            peer: p.peer,
            f: Subscriber::new(p.fx, v, &ctx.shs, &ctx.spks, &ctx.outpoints),
            e: Subscriber::new(p.ex, v, &ctx.shs, &ctx.spks, &ctx.outpoints),
        })
        .collect();
    for w in &watches {
        let v = format!("{}, {}", w.version, w.peer.name());
        assert_eq!(w.f.status, w.e.status, "[{v}] subscription statuses");
        assert_eq!(w.f.tip, w.e.tip, "[{v}] headers.subscribe");
    }

    // -- Broadcasts: refusals to both, then one accepted transaction to each server alone.
    for (p, versions) in [(&pair, &VERSIONS[..]), (&pair2, &VERSIONS_2[..])] {
        for version in versions {
            p.compare(
                &mut report,
                "refused broadcasts",
                version,
                &refused_broadcasts(&refused),
                1,
            );
        }
    }
    let (txs, touched, touched_spks) = fx.sim.with_node(|n| {
        let txs: Vec<Transaction> = (0..3)
            .map(|_| n.make_tx().expect("wallet can pay").0)
            .collect();
        let touched: BTreeSet<ScriptHash> = txs.iter().flat_map(|t| touched_by(n, t)).collect();
        let spks = touched_scripts(n, &txs);
        (txs, touched, spks)
    });
    let ports = [
        (pair.ex, "ElectrumX 1.20"),
        (pair2.ex, "ElectrumX 2.0.0"),
        (pair.fx, "FerrumX"),
    ];
    for ((port, name), tx) in ports.iter().zip(&txs) {
        let r = session(*port, "1.4").call("blockchain.transaction.broadcast", json!([hex_of(tx)]));
        assert_eq!(
            r,
            Ok(json!(tx.compute_txid().to_string())),
            "broadcast to {name}"
        );
    }
    let out_sh = |tx: &Transaction| ScriptHash::of(&tx.output[0].script_pubkey);
    for (port, _) in ports {
        for tx in &txs {
            poll_until(
                "the broadcast transactions in every mempool",
                Duration::from_secs(60),
                || sees_in_mempool(port, &out_sh(tx), &tx.compute_txid()).then_some(()),
            );
        }
    }
    let touched: Vec<ScriptHash> = touched.into_iter().collect();
    for (p, versions) in [(&pair, &VERSIONS[..]), (&pair2, &VERSIONS_2[..])] {
        for version in versions {
            let mut calls = if below_1_7(version) {
                script_hash_calls(&touched)
            } else {
                script_pubkey_calls(&touched_spks)
            };
            for t in &txs {
                let t = t.compute_txid().to_string();
                calls.push(call("blockchain.transaction.get", json!([t])));
                calls.push(call("blockchain.transaction.get", json!([t, true])));
            }
            calls.push(call("mempool.get_info", json!([])));
            p.compare(&mut report, "after broadcasts", version, &calls, 1);
        }
    }

    // -- Notifications, part 2: the broadcasts, a block, traffic, RBF, reorgs.
    let notified = follow(
        &fx.sim,
        &events(ctx.outpoints.iter().map(|(op, _)| *op).collect()),
        &mut watches,
        &mut report,
        &ctx.outpoints,
        &|report: &mut Report, section: &str| {
            let again = script_hash_calls(&ctx.shs[..ctx.shs.len().min(200)]);
            pair.compare(report, section, "1.6", &again, 2);
            let again = script_pubkey_calls(&ctx.spks[..ctx.spks.len().min(200)]);
            pair2.compare(report, section, "1.7", &again, 2);
        },
    );
    eprintln!("{notified} notifications received");
    for w in &watches {
        eprintln!(
            "[{}, {}] server.ping noise: FerrumX {}, ElectrumX {}",
            w.version,
            w.peer.name(),
            w.f.pings,
            w.e.pings
        );
    }
    eprintln!(
        "'caught up' lines: ElectrumX 1.20 {}, 2.0.0 {}",
        ex.count("caught up"),
        ex2.count("caught up")
    );

    // The report.
    eprintln!("compared requests per (method, version, peer):");
    let mut total = 0;
    for ((m, v, p), n) in &report.compared {
        eprintln!("  {m} [{v}, {p}]: {n}");
        total += n;
    }
    for peer in [Peer::V120, Peer::V200] {
        let n: usize = report
            .compared
            .iter()
            .filter(|((_, _, p), _)| *p == peer.name())
            .map(|(_, n)| n)
            .sum();
        eprintln!("{n} compared with {}", peer.name());
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
        "{} of {total} answers differ from ElectrumX's:\n{}",
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
