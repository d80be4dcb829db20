//! The `ferrumx_server` binary as a process, against the bitcoind stand-in on 127.0.0.1:
//! a sync checked against the generator's truth, kill -9 at many moments of a sync (and
//! clean stops by SIGTERM/SIGINT), reorgs followed through the daemon (live, while stopped,
//! during the initial sync, killed while rolling back, and one deeper than REORG_LIMIT),
//! daemon outages and failover, and bad configurations. After each run the test opens the
//! database itself and compares it with the truth or with a fresh index (content digest).
//!
//! Every server runs with an empty environment plus what `ServerEnv` sets, in a fresh
//! temporary DB_DIRECTORY, and is killed when its guard drops (also on a failed assertion,
//! which then prints the server's output).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bitcoin::{OutPoint, Txid};
use ferrumx_simnode::{chainfile, GenParams, Node, SimNode};
use ferrumx_testkit::{
    check_against_truth, check_queries, cumulative_txs, digest_of, fresh_digest, open_index, serve,
    wait_for_wal_writes, Rng, Server, ServerEnv, TempDir, STEP,
};

/// Whether a log line is a warning (tracing's plain-text level column).
fn is_warning(text: &str) -> bool {
    text.contains(" WARN ")
}

/// A ~10,000-transaction chain synced with CACHE_MB=1 (several flushes mid-sync), two new
/// blocks followed, then SIGTERM: exit 0, and every query equals the truth.
#[test]
fn sync_equals_truth() {
    let started = Instant::now();
    let sim = serve(Node::generate(GenParams::sized(31, 10_000, 60)));
    let (tip, txs) =
        sim.with_node(|n| (n.tip_height(), cumulative_txs(n)[n.tip_height() as usize]));
    let dir = TempDir::new("sync");
    let env = ServerEnv::new(dir.path(), &sim.daemon_url()).set("CACHE_MB", "1");
    let mut server = Server::start("sync", &env);
    let opened = server.wait_for("database opened", STEP);
    assert_eq!(opened.field("height"), Some(0));
    let caught = server.wait_for("caught up with the daemon", STEP);
    assert_eq!(caught.field("height"), Some(u64::from(tip)));
    let flushes = server.lines_with("flushed caches");
    assert!(
        flushes.len() >= 3,
        "only {} flushes during the sync of {txs} transactions with CACHE_MB=1",
        flushes.len()
    );
    assert!(flushes.iter().all(|l| l.at <= caught.at));
    eprintln!(
        "synced {tip} blocks, {txs} txs in {:?} with {} mid-sync flushes",
        caught.at - opened.at,
        flushes.len()
    );

    // Following the tip: each new block is flushed and logged.
    sim.with_node(|n| {
        n.add_traffic(40);
        n.mine(2)
    })
    .expect("mine");
    server.wait_new_block(tip + 1);
    server.wait_new_block(tip + 2);

    let status = server.terminate();
    assert!(status.success(), "SIGTERM must exit 0, got {status}");
    server.wait_for("flushed on shutdown", STEP);
    assert!(server.stderr().is_empty(), "stderr: {:?}", server.stderr());
    assert!(
        !server.stdout().iter().any(|l| is_warning(&l.text)),
        "no warnings expected"
    );

    let index = open_index(dir.path(), 8000);
    assert_eq!(
        index.tip(),
        Some((tip + 2, sim.with_node(|n| n.tip_hash())))
    );
    sim.with_node(|n| check_against_truth(&index.reader(), n));
    eprintln!("sync_equals_truth: {:?}", started.elapsed());
}

/// A second server on the same DB_DIRECTORY is refused (RocksDB's lock) with one line, and
/// nothing changes: the first goes on following the tip and its database equals the truth.
#[test]
fn a_second_server_on_the_same_database_is_refused() {
    let sim = serve(Node::generate(GenParams::fixture(31)));
    let tip = sim.with_node(|n| n.tip_height());
    let dir = TempDir::new("lock");
    let env = ServerEnv::new(dir.path(), &sim.daemon_url());
    let mut server = Server::start("lock", &env);
    assert_eq!(server.wait_caught_up(), tip);
    let mut second = Server::start("lock-second", &env);
    assert!(!second.wait_exit(STEP).success());
    let err = second.stderr();
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(
        err[0].text.contains("cannot open the index"),
        "{}",
        err[0].text
    );
    drop(second);
    sim.with_node(|n| {
        n.add_traffic(20);
        n.mine(1)
    })
    .expect("mine");
    server.wait_new_block(tip + 1);
    assert!(server.terminate().success());
    let index = open_index(dir.path(), 8000);
    sim.with_node(|n| check_against_truth(&index.reader(), n));
}

/// What one crash round does, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Moment {
    /// kill -9 at a random moment before the database is opened (process start, daemon
    /// check, database creation or recovery).
    Startup,
    /// kill -9 at a random moment of the remaining sync, placed by the uninterrupted sync's
    /// duration (in a debug build mostly while blocks are fetched and decoded).
    Timed,
    /// CACHE_MB=0 (a flush per block): kill -9 0–3 ms after the k-th block's flush was
    /// logged (k ≤ 10): while the next block is processed or flushed.
    AfterBlocks,
    /// CACHE_MB=0: kill -9 0–2 ms after the k-th write to the write-ahead log began
    /// (k ≤ 8): inside a one-block flush.
    SmallFlush,
    /// CACHE_MB=1: kill -9 0–2 ms after the first write to the write-ahead log began: inside
    /// a flush of about 2,300 transactions.
    BigFlush,
    /// Not a kill: SIGTERM or SIGINT (alternately) at a `Timed` moment with CACHE_MB=1:
    /// exit 0 after flushing, and the next run resumes exactly there.
    Stop,
}

/// One round of the crash test.
#[derive(Debug)]
struct Round {
    round: usize,
    moment: Moment,
    cache_mb: &'static str,
    /// Height the run resumed at (`None` if stopped before it said).
    resumed: Option<u64>,
    /// Flushes the run logged before it was stopped.
    flushes: usize,
    /// The run had not caught up when stopped.
    mid_sync: bool,
}

/// Sleeps until `until` or until `done()`, polling.
fn sleep_until(until: Instant, mut done: impl FnMut() -> bool) {
    while Instant::now() < until && !done() {
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// kill -9 at 24 moments of a sync (deterministic RNG: at startup, at random moments of the
/// remaining sync, after k blocks, inside one-block and ~2,300-transaction flushes), and a
/// few clean stops by SIGTERM/SIGINT, restarting each time: every run resumes at or after
/// the previous one (exactly where a clean stop flushed), every fourth crashed database opens
/// here and answers like the truth at its height, and the final database equals an
/// uninterrupted sync's, byte for byte, and the truth.
#[test]
fn kill9_during_sync_ends_identical_to_an_uninterrupted_sync() {
    const KILLS: usize = 24;
    const REORG_LIMIT: u32 = 50;
    let started = Instant::now();
    // ~370 blocks (101 without transactions), 30 transactions per block.
    let sim = serve(Node::generate(GenParams::sized(32, 8_000, 30)));
    let url = sim.daemon_url();
    let env_for = |dir: &TempDir, cache_mb: &str| {
        ServerEnv::new(dir.path(), &url)
            .set("CACHE_MB", cache_mb)
            .set("REORG_LIMIT", &REORG_LIMIT.to_string())
    };
    let mut counts = sim.with_node(|n| cumulative_txs(n));
    let first_txs = counts[counts.len() - 1] - counts[0];
    // More chain, should the crashed database catch up before enough kills.
    let extend = |counts: &mut Vec<u64>| {
        sim.with_node(|n| {
            for _ in 0..40 {
                n.add_traffic(30);
                n.mine(1).expect("mine");
            }
        });
        *counts = sim.with_node(|n| cumulative_txs(n));
    };

    // The uninterrupted sync: its digest, and how long it takes (to place the kills).
    let ref_dir = TempDir::new("crash-ref");
    let mut reference = Server::start("reference", &env_for(&ref_dir, "1"));
    let opened = reference.wait_for("database opened", STEP);
    let caught = reference.wait_for("caught up with the daemon", STEP);
    let t_open = opened.at - reference.started();
    let t_sync = caught.at - opened.at;
    assert!(reference.terminate().success());
    drop(reference);
    let mut want = digest_of(ref_dir.path(), REORG_LIMIT);
    assert_eq!(
        want,
        sim.with_node(|n| fresh_digest(n, REORG_LIMIT)),
        "the server's uninterrupted sync differs from an index built in this process"
    );
    eprintln!("uninterrupted sync: database open after {t_open:?}, synced in {t_sync:?}");

    let dir = TempDir::new("crash");
    let mut rng = Rng::new(0x00c0_ffee_5eed_0001);
    let mut rounds: Vec<Round> = Vec::new();
    let mut last_height = 0u64;
    let mut extended = false;
    // Where the last clean stop flushed.
    let mut stopped_at: Option<u64> = None;
    let kills = |rounds: &[Round]| {
        rounds
            .iter()
            .filter(|r| r.mid_sync && r.moment != Moment::Stop)
            .count()
    };
    let mut round = 0usize;
    while kills(&rounds) < KILLS {
        assert!(
            round < 3 * KILLS,
            "{round} rounds and still not {KILLS} kills"
        );
        let mut moment = match round {
            0 | 1 => Moment::Startup,
            r if r % 9 == 8 => Moment::Stop,
            r => [
                Moment::Timed,
                Moment::AfterBlocks,
                Moment::SmallFlush,
                Moment::Timed,
                Moment::AfterBlocks,
                if r % 12 < 6 {
                    Moment::BigFlush
                } else {
                    Moment::SmallFlush
                },
            ][(r - 2) % 6],
        };
        let cache_mb = match moment {
            Moment::AfterBlocks | Moment::SmallFlush => "0",
            Moment::BigFlush | Moment::Stop => "1",
            Moment::Startup | Moment::Timed => ["0", "1"][round % 2],
        };
        let tip = counts.len() as u64 - 1;
        let mut server = Server::start(&format!("crash-{round}"), &env_for(&dir, cache_mb));
        let mut resumed = None;
        if moment == Moment::Startup {
            std::thread::sleep(t_open.mul_f64(rng.unit()));
        } else {
            let opened = server.wait_for("database opened", STEP);
            let h = opened.field("height").expect("height");
            assert!(
                h >= last_height,
                "round {round} resumed at {h}, below the previous {last_height}"
            );
            if let Some(stopped) = stopped_at.take() {
                assert_eq!(h, stopped, "round {round} after a clean stop at {stopped}");
            }
            last_height = h;
            resumed = Some(h);
            if h == tip {
                // Nothing left to sync: a kill would prove nothing.
                drop(server);
                extend(&mut counts);
                extended = true;
                round += 1;
                continue;
            }
            let left = (counts[tip as usize] - counts[h as usize]) as f64 / first_txs as f64;
            let budget = t_sync.mul_f64(left);
            let caught_up = |s: &Server| s.count("caught up with the daemon") > 0;
            let give_up = Instant::now() + budget * 2 + Duration::from_secs(10);
            match moment {
                Moment::Timed | Moment::Stop => {
                    sleep_until(opened.at + budget.mul_f64(rng.unit()), || {
                        caught_up(&server)
                    });
                }
                Moment::AfterBlocks => {
                    let k = 1 + (rng.unit() * 10.0) as usize;
                    sleep_until(give_up, || {
                        server.count("flushed caches") >= k || caught_up(&server)
                    });
                    std::thread::sleep(Duration::from_micros((rng.unit() * 3000.0) as u64));
                }
                Moment::SmallFlush | Moment::BigFlush => {
                    let k = match moment {
                        Moment::SmallFlush => 1 + (rng.unit() * 8.0) as usize,
                        _ => 1,
                    };
                    if !wait_for_wal_writes(dir.path(), k, give_up, || caught_up(&server)) {
                        moment = Moment::Timed;
                    }
                    std::thread::sleep(Duration::from_micros((rng.unit() * 2000.0) as u64));
                }
                Moment::Startup => unreachable!(),
            }
        }
        if moment == Moment::Stop {
            let stops = rounds.iter().filter(|r| r.moment == Moment::Stop).count();
            let signal = [libc::SIGTERM, libc::SIGINT][stops % 2];
            let asked = Instant::now();
            server.signal(signal);
            let status = server.wait_exit(STEP);
            assert!(
                status.success(),
                "round {round}: signal {signal} gave {status}"
            );
            let took = asked.elapsed();
            assert!(
                took < Duration::from_secs(10),
                "round {round}: stopping took {took:?}"
            );
            let line = server.wait_for("flushed on shutdown", STEP);
            stopped_at = Some(line.field("height").expect("height"));
        } else {
            server.kill9();
        }
        let finished = server.count("caught up with the daemon") > 0;
        rounds.push(Round {
            round,
            moment,
            cache_mb,
            resumed,
            flushes: server.count("flushed caches"),
            mid_sync: !finished,
        });
        drop(server);
        if finished {
            extend(&mut counts);
            extended = true;
        }
        // Every fourth crashed database, opened here: its state record describes its data,
        // which answers like the truth at its height.
        if round % 4 == 3 && moment != Moment::Stop {
            let index = open_index(dir.path(), REORG_LIMIT);
            let (h, hash) = index.tip().expect("tip");
            sim.with_node(|n| {
                assert_eq!(n.hash_at(h), Some(hash), "crashed database's tip");
                check_queries(&index.reader(), n, Some(h), 7);
            });
        }
        round += 1;
    }

    // The last run, to the end.
    let mut server = Server::start("crash-final", &env_for(&dir, "1"));
    let opened = server.wait_for("database opened", STEP);
    let h = opened.field("height").expect("height");
    assert!(h >= last_height);
    if let Some(stopped) = stopped_at {
        assert_eq!(h, stopped, "the final run after a clean stop at {stopped}");
    }
    let tip = sim.with_node(|n| n.tip_height());
    assert_eq!(server.wait_caught_up(), tip);
    assert!(server.terminate().success());
    drop(server);

    for r in &rounds {
        eprintln!(
            "round {:2}: {:<11} CACHE_MB={} resumed at {:>4}, {:>3} flushes logged{}",
            r.round,
            format!("{:?}", r.moment),
            r.cache_mb,
            r.resumed.map_or("-".to_string(), |h| h.to_string()),
            r.flushes,
            if r.mid_sync { "" } else { ", had caught up" }
        );
    }
    let count = |m: Moment| {
        rounds
            .iter()
            .filter(|r| r.mid_sync && r.moment == m)
            .count()
    };
    let resumes: HashSet<u64> = rounds.iter().filter_map(|r| r.resumed).collect();
    eprintln!(
        "{} kills during the sync: {} at startup, {} timed, {} after k blocks, {} in a \
         one-block flush, {} in a big flush; {} clean stops; {} resume heights; chain \
         extended: {extended}",
        kills(&rounds),
        count(Moment::Startup),
        count(Moment::Timed),
        count(Moment::AfterBlocks),
        count(Moment::SmallFlush),
        count(Moment::BigFlush),
        rounds.iter().filter(|r| r.moment == Moment::Stop).count(),
        resumes.len(),
    );
    assert!(
        count(Moment::SmallFlush) + count(Moment::BigFlush) >= 5,
        "too few kills in a flush"
    );
    assert!(
        resumes.len() >= 8,
        "the sync hardly progressed between kills"
    );

    if extended {
        // The chain grew: the reference is an uninterrupted index of the final chain, built
        // in this process (as the first reference was, byte for byte, on the first chain).
        want = sim.with_node(|n| fresh_digest(n, REORG_LIMIT));
    }
    let index = open_index(dir.path(), REORG_LIMIT);
    assert_eq!(
        index.content_digest().expect("digest"),
        want,
        "the database after {} kills differs from an uninterrupted sync's",
        kills(&rounds)
    );
    sim.with_node(|n| check_against_truth(&index.reader(), n));
    eprintln!("kill9 test: {:?}", started.elapsed());
}

/// What a reorg did to the old branch's transactions.
#[derive(Debug, Default)]
struct ReorgStats {
    moved: usize,
    double_spent: usize,
}

/// Non-coinbase transactions of heights `from..=to`: txid → (height, inputs).
fn branch_txs(node: &Node, from: u32, to: u32) -> HashMap<Txid, (u32, Vec<OutPoint>)> {
    let mut out = HashMap::new();
    for h in from..=to {
        let block = node.block_at(h).expect("block").block().expect("parse");
        for tx in block.txdata.iter().skip(1) {
            let inputs = tx.input.iter().map(|i| i.previous_output).collect();
            out.insert(tx.compute_txid(), (h, inputs));
        }
    }
    out
}

fn reorg_stats(
    old: &HashMap<Txid, (u32, Vec<OutPoint>)>,
    new: &HashMap<Txid, (u32, Vec<OutPoint>)>,
) -> ReorgStats {
    let spent_by_new: HashMap<OutPoint, Txid> = new
        .iter()
        .flat_map(|(txid, (_, ins))| ins.iter().map(move |op| (*op, *txid)))
        .collect();
    let mut stats = ReorgStats::default();
    for (txid, (h, ins)) in old {
        match new.get(txid) {
            Some((nh, _)) if nh != h => stats.moved += 1,
            Some(_) => {}
            None => {
                if ins
                    .iter()
                    .any(|op| spent_by_new.get(op).is_some_and(|t| t != txid))
                {
                    stats.double_spent += 1;
                }
            }
        }
    }
    stats
}

const REORG_LIMIT_8: u32 = 8;

/// The fixture chain of seed 33 served, a database for it and the server's environment
/// (CACHE_MB=1, REORG_LIMIT=8).
fn reorg_scene(tag: &str) -> (SimNode, TempDir, ServerEnv) {
    let sim = serve(Node::generate(GenParams::fixture(33)));
    let dir = TempDir::new(tag);
    let env = ServerEnv::new(dir.path(), &sim.daemon_url())
        .set("CACHE_MB", "1")
        .set("REORG_LIMIT", &REORG_LIMIT_8.to_string());
    (sim, dir, env)
}

/// Three blocks full of transactions, each followed by the server.
fn three_full_blocks(sim: &SimNode, server: &mut Server, tip: &mut u32) {
    for _ in 0..3 {
        sim.with_node(|n| {
            n.add_traffic(150);
            n.mine(1).expect("mine");
        });
        *tip += 1;
        server.wait_new_block(*tip);
    }
}

/// The database (the server stopped) equals a fresh index of the final chain and answers
/// like the truth; its digest.
fn equals_a_fresh_index(sim: &SimNode, dir: &TempDir, what: &str) -> [u8; 32] {
    let index = open_index(dir.path(), REORG_LIMIT_8);
    let digest = index.content_digest().expect("digest");
    sim.with_node(|n| {
        assert_eq!(digest, fresh_digest(n, REORG_LIMIT_8), "{what}");
        check_against_truth(&index.reader(), n);
    });
    digest
}

/// Reorgs of depth 1, 2, 5 and REORG_LIMIT (8) followed by the running server (moved and
/// double-spent transactions included): the database then equals a fresh index of the final
/// chain and answers like the truth.
#[test]
fn reorgs_up_to_the_limit_are_followed_live() {
    const LIMIT: u32 = REORG_LIMIT_8;
    let started = Instant::now();
    let (sim, dir, env) = reorg_scene("reorg");
    let mut server = Server::start("reorg", &env);
    let mut tip = sim.with_node(|n| n.tip_height());
    assert_eq!(server.wait_caught_up(), tip);
    let mut total = ReorgStats::default();
    for depth in [1, 2, 5, LIMIT] {
        sim.with_node(|n| {
            n.add_traffic(30);
            n.mine(1).expect("mine");
        });
        tip += 1;
        server.wait_new_block(tip);
        let fork = tip - depth;
        let old = sim.with_node(|n| branch_txs(n, fork + 1, tip));
        sim.with_node(|n| n.reorg(depth, depth + 1)).expect("reorg");
        let new = sim.with_node(|n| branch_txs(n, fork + 1, tip + 1));
        let stats = reorg_stats(&old, &new);
        total.moved += stats.moved;
        total.double_spent += stats.double_spent;
        let line = server.wait_for("chain reorganisation", STEP);
        assert_eq!(line.field("depth"), Some(u64::from(depth)), "{}", line.text);
        assert_eq!(line.field("fork"), Some(u64::from(fork)), "{}", line.text);
        tip += 1;
        server.wait_new_block(tip);
        eprintln!("reorg of depth {depth}: {stats:?}");
    }
    assert!(total.moved > 0, "no transaction moved between blocks");
    assert!(total.double_spent > 0, "no transaction was double-spent");
    three_full_blocks(&sim, &mut server, &mut tip);
    let status = server.terminate();
    assert!(status.success(), "SIGTERM must exit 0, got {status}");
    drop(server);
    equals_a_fresh_index(&sim, &dir, "after the reorgs");
    eprintln!("reorg test: {:?}", started.elapsed());
}

/// A reorg of depth 3 while the server was stopped (seen when it restarts, before it has
/// caught up; the new branch holds fewer transactions than the old one: the index's tx count
/// goes down), then one of depth 5 with kill -9 as its rollback is written, and a restart:
/// the database then equals a fresh index of the final chain and answers like the truth.
#[test]
fn a_reorg_while_stopped_and_a_kill_during_a_rollback_end_as_a_fresh_index() {
    let started = Instant::now();
    let (sim, dir, env) = reorg_scene("reorg-stopped");
    let mut server = Server::start("reorg-stopped", &env);
    let mut tip = sim.with_node(|n| n.tip_height());
    assert_eq!(server.wait_caught_up(), tip);
    three_full_blocks(&sim, &mut server, &mut tip);
    let status = server.terminate();
    assert!(status.success(), "SIGTERM must exit 0, got {status}");
    drop(server);

    // A reorg while the server is down, seen when it restarts, before it has caught up. The
    // new branch holds fewer transactions than the old one: the index's tx count goes down.
    let fork = tip - 3;
    let old_txs = sim.with_node(|n| branch_txs(n, fork + 1, tip).len());
    sim.with_node(|n| n.reorg(3, 4)).expect("reorg");
    let new_txs = sim.with_node(|n| branch_txs(n, fork + 1, tip + 1).len());
    assert!(
        new_txs < old_txs,
        "{new_txs} txs in the new branch, {old_txs} in the old"
    );
    let mut server = Server::start("reorg-restart", &env);
    let line = server.wait_for("chain reorganisation", STEP);
    assert_eq!(line.field("fork"), Some(u64::from(fork)), "{}", line.text);
    tip += 1;
    assert_eq!(server.wait_caught_up(), tip);

    // kill -9 as the rollback of a reorg is written (the first write after it: every block is
    // already flushed), then a restart.
    sim.with_node(|n| n.reorg(5, 6)).expect("reorg");
    assert!(wait_for_wal_writes(
        dir.path(),
        1,
        Instant::now() + STEP,
        || false
    ));
    server.kill9();
    assert_eq!(server.count("chain reorganisation"), 2);
    drop(server);
    let mut server = Server::start("reorg-killed", &env);
    tip += 1;
    assert_eq!(server.wait_caught_up(), tip);
    assert!(server.terminate().success());
    drop(server);

    equals_a_fresh_index(&sim, &dir, "after the reorgs");
    eprintln!("reorg while stopped test: {:?}", started.elapsed());
}

/// A reorg one deeper than REORG_LIMIT stops the server with an error naming REORG_LIMIT
/// (exit != 0, one line on stderr) and leaves the database as it was.
#[test]
fn a_reorg_deeper_than_reorg_limit_stops_the_server_and_changes_nothing() {
    const LIMIT: u32 = REORG_LIMIT_8;
    let (sim, dir, env) = reorg_scene("reorg-deep");
    let mut server = Server::start("reorg-deep-sync", &env);
    let tip = sim.with_node(|n| n.tip_height());
    assert_eq!(server.wait_caught_up(), tip);
    assert!(server.terminate().success());
    drop(server);
    let digest = digest_of(dir.path(), LIMIT);

    // One deeper than REORG_LIMIT: a clear error, exit != 0, nothing changed.
    let mut server = Server::start("reorg-deep", &env);
    assert_eq!(server.wait_caught_up(), tip);
    sim.with_node(|n| n.reorg(LIMIT + 1, LIMIT + 2))
        .expect("reorg");
    let status = server.wait_exit(STEP);
    assert!(!status.success(), "a too-deep reorg must stop the server");
    let stderr = server.stderr();
    assert_eq!(stderr.len(), 1, "one error line: {stderr:?}");
    assert!(
        stderr[0].text.contains("REORG_LIMIT") && stderr[0].text.contains("deeper"),
        "{}",
        stderr[0].text
    );
    assert!(server
        .stdout()
        .iter()
        .any(|l| l.text.contains("ERROR") && l.text.contains("REORG_LIMIT")));
    drop(server);
    assert_eq!(
        digest_of(dir.path(), LIMIT),
        digest,
        "a refused reorg must leave the database as it was"
    );
}

/// A reorg of depth 5 while the server is still in its initial sync, with the blocks to roll
/// back only in its cache (CACHE_MB=1): the stand-in answers slowly until the server has
/// the hashes of the old branch, which then changes under it. The server flushes, rolls back
/// and ends equal to a fresh index of the final chain and to the truth.
#[test]
fn reorg_during_initial_sync_rolls_back_unflushed_blocks() {
    const LIMIT: u32 = 8;
    let started = Instant::now();
    let sim = serve(Node::generate(GenParams::sized(37, 3_000, 60)));
    let tip = sim.with_node(|n| n.tip_height());
    sim.control().set_delay(Duration::from_millis(400));
    let dir = TempDir::new("reorg-sync");
    let env = ServerEnv::new(dir.path(), &sim.daemon_url())
        .set("CACHE_MB", "1")
        .set("REORG_LIMIT", &LIMIT.to_string());
    let mut server = Server::start("reorg-sync", &env);
    // The first batch is 10 blocks; once the stand-in has answered the `getblockhash` batch
    // for the rest, the server will fetch (by hash) and apply the old branch.
    let rest = u64::from(tip - 10);
    sleep_until(Instant::now() + STEP, || sim.control().calls() >= rest + 20);
    let fork = tip - 5;
    sim.with_node(|n| n.reorg(5, 6)).expect("reorg");
    sim.control().set_delay(Duration::ZERO);
    let caught = server.wait_for("caught up with the daemon", STEP);
    assert_eq!(caught.field("height"), Some(u64::from(tip + 1)));
    let reorgs = server.lines_with("chain reorganisation");
    assert_eq!(reorgs.len(), 1, "{reorgs:?}");
    let reorg = &reorgs[0];
    assert!(
        reorg.at < caught.at,
        "the reorg came after the initial sync"
    );
    assert_eq!(reorg.field("tip"), Some(u64::from(tip)), "{}", reorg.text);
    assert_eq!(reorg.field("fork"), Some(u64::from(fork)), "{}", reorg.text);
    let flushed: Vec<u64> = server
        .lines_with("flushed caches")
        .iter()
        .filter(|l| l.at < reorg.at)
        .filter_map(|l| l.field("height"))
        .collect();
    assert!(
        flushed.last().is_none_or(|&h| h <= u64::from(fork)),
        "the rolled-back blocks should have been unflushed; flushes: {flushed:?}"
    );
    let status = server.terminate();
    assert!(status.success(), "SIGTERM must exit 0, got {status}");
    drop(server);
    let index = open_index(dir.path(), LIMIT);
    sim.with_node(|n| {
        assert_eq!(
            index.content_digest().expect("digest"),
            fresh_digest(n, LIMIT)
        );
        check_against_truth(&index.reader(), n);
    });
    eprintln!("reorg during sync test: {:?}", started.elapsed());
}

/// The daemon goes down for 2 s once the server has indexed 5 blocks (while it fetches the
/// next ones): one warning, then the sync resumes and ends equal to the truth. SIGTERM while
/// the daemon is down again (after the sync) still exits 0 at once.
#[test]
fn daemon_outage_mid_sync_is_survived() {
    let started = Instant::now();
    let sim = serve(Node::generate(GenParams::sized(34, 3_000, 60)));
    let tip = sim.with_node(|n| n.tip_height());
    let dir = TempDir::new("outage");
    // CACHE_MB=0: a flush (and a log line) per block, to go down in the middle.
    let env = ServerEnv::new(dir.path(), &sim.daemon_url()).set("CACHE_MB", "0");
    let mut server = Server::start("outage", &env);
    server.wait_for_where("flushed caches", STEP, |l| l.field("height") >= Some(5));
    sim.go_down();
    let down_at = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    sim.come_up().expect("come up");
    let up_at = Instant::now();
    let caught = server.wait_for("caught up with the daemon", STEP);
    assert_eq!(caught.field("height"), Some(u64::from(tip)));
    assert!(
        caught.at >= up_at,
        "caught up {:?} after the outage began, before it ended",
        caught.at - down_at
    );
    let warnings = |server: &Server| -> Vec<String> {
        server
            .stdout()
            .into_iter()
            .filter(|l| is_warning(&l.text))
            .map(|l| l.text)
            .collect()
    };
    let first = warnings(&server);
    assert_eq!(first.len(), 1, "one warning per outage: {first:?}");
    assert!(first[0].contains("unreachable"), "{}", first[0]);
    assert_eq!(server.count("answering again"), 1);

    // Down again while following the tip; SIGTERM in the middle of the retries.
    sim.go_down();
    server.wait_for("unreachable", STEP);
    let asked = Instant::now();
    let status = server.terminate();
    assert!(status.success(), "SIGTERM must exit 0, got {status}");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(warnings(&server).len(), 2, "{:?}", warnings(&server));
    assert!(server.stderr().is_empty(), "{:?}", server.stderr());
    drop(server);
    let index = open_index(dir.path(), 8000);
    sim.with_node(|n| check_against_truth(&index.reader(), n));
    drop(index);

    eprintln!("outage test: {:?}", started.elapsed());
}

/// A daemon down from the start: the server waits for it with nothing on disk (no
/// DB_DIRECTORY), and SIGTERM exits 0.
#[test]
fn sigterm_while_waiting_for_an_absent_daemon_exits_0_with_nothing_on_disk() {
    let sim = serve(Node::generate(GenParams::fixture(34)));
    sim.go_down();
    let fresh = TempDir::new("outage-start");
    let mut server = Server::start(
        "outage-start",
        &ServerEnv::new(fresh.path(), &sim.daemon_url()),
    );
    server.wait_for("unreachable", STEP);
    let status = server.terminate();
    assert!(status.success(), "SIGTERM must exit 0, got {status}");
    assert!(
        !fresh.path().exists(),
        "DB_DIRECTORY created before the daemon answered"
    );
}

/// DAEMON_URL lists two stand-ins serving the same chain; the first goes down once the
/// server has indexed 5 blocks, and stays down: the sync finishes through the second.
#[test]
fn second_daemon_url_takes_over() {
    let started = Instant::now();
    let node = Node::generate(GenParams::sized(35, 3_000, 60));
    let copy = chainfile::decode(&chainfile::encode(&node)).expect("chain file");
    assert_eq!(copy.tip_hash(), node.tip_hash());
    let tip = node.tip_height();
    let first = serve(node);
    let second = serve(copy);
    let dir = TempDir::new("failover");
    let urls = format!("{},{}", first.daemon_url(), second.daemon_url());
    let env = ServerEnv::new(dir.path(), &urls).set("CACHE_MB", "0");
    let mut server = Server::start("failover", &env);
    server.wait_for_where("flushed caches", STEP, |l| l.field("height") >= Some(5));
    first.go_down();
    assert!(
        first.control().requests_served() > 0,
        "the first URL was in use"
    );
    let second_before = second.control().requests_served();
    assert_eq!(server.wait_caught_up(), tip);
    assert!(!first.control().is_up());
    assert!(
        second.control().requests_served() > second_before,
        "the second URL served the sync"
    );
    let failover = server.lines_with("failing over to");
    assert!(!failover.is_empty(), "no failover logged");
    let second_url = format!("http://{}/", second.addr());
    assert!(
        failover[0].text.contains(&second_url),
        "{}",
        failover[0].text
    );
    let status = server.terminate();
    assert!(status.success(), "SIGTERM must exit 0, got {status}");
    drop(server);
    let index = open_index(dir.path(), 8000);
    second.with_node(|n| check_against_truth(&index.reader(), n));
    eprintln!("failover test: {:?}", started.elapsed());
}

/// Runs the server with `env` and expects it to stop with exit != 0 and exactly one stderr
/// line containing every one of `needles`; returns that line.
fn expect_refusal(name: &str, env: &ServerEnv, needles: &[&str]) -> String {
    let mut server = Server::start(name, env);
    let status = server.wait_exit(STEP);
    assert!(!status.success(), "[{name}] exit {status}");
    let stderr = server.stderr();
    assert_eq!(stderr.len(), 1, "[{name}] one line on stderr: {stderr:?}");
    for needle in needles {
        assert!(
            stderr[0].text.contains(needle),
            "[{name}] {needle:?} not in {:?}",
            stderr[0].text
        );
    }
    stderr[0].text.clone()
}

/// The environment of a server that would run (the daemon is never reached) on `db`.
fn good_env(db: &std::path::Path) -> ServerEnv {
    ServerEnv::new(db, "http://user:pass@127.0.0.1:9/")
}

/// Each required variable missing: the server stops with one line naming it, exit != 0,
/// no credentials shown, and nothing on disk.
#[test]
fn a_missing_required_variable_is_refused_with_one_line() {
    let tmp = TempDir::new("config-missing");
    let db = tmp.path().join("db");
    let good = good_env(&db);
    for (name, env, needle) in [
        (
            "no-daemon-url",
            good.clone().unset("DAEMON_URL"),
            "DAEMON_URL",
        ),
        (
            "no-db-directory",
            good.clone().unset("DB_DIRECTORY"),
            "DB_DIRECTORY",
        ),
        ("no-coin", good.clone().unset("COIN"), "COIN"),
    ] {
        let line = expect_refusal(name, &env, &[needle]);
        assert!(!line.contains("pass"), "credentials in {line:?}");
        assert!(!db.exists(), "[{name}] DB_DIRECTORY was created");
    }
}

/// Each malformed value: the server stops with one line naming the variable, exit != 0,
/// no credentials shown, and nothing on disk.
#[test]
fn a_malformed_value_is_refused_with_one_line() {
    let tmp = TempDir::new("config-malformed");
    let db = tmp.path().join("db");
    let good = good_env(&db);
    for (name, env, needle) in [
        (
            "bad-daemon-url",
            good.clone()
                .set("DAEMON_URL", "http://user:pass@127.0.0.1:x/"),
            "DAEMON_URL",
        ),
        ("bad-coin", good.clone().set("COIN", "Litecoin"), "COIN"),
        ("bad-net", good.clone().set("NET", "moonnet"), "NET"),
        ("bad-cache", good.clone().set("CACHE_MB", "-1"), "CACHE_MB"),
        (
            "bad-reorg-limit",
            good.clone().set("REORG_LIMIT", "x"),
            "REORG_LIMIT",
        ),
    ] {
        let line = expect_refusal(name, &env, &[needle]);
        assert!(!line.contains("pass"), "credentials in {line:?}");
        assert!(!db.exists(), "[{name}] DB_DIRECTORY was created");
    }
}

/// As root without ALLOW_ROOT: refused with one line naming it (the tests run as root in CI;
/// as another user there is nothing to check).
#[test]
fn root_without_allow_root_is_refused_with_one_line() {
    let tmp = TempDir::new("config-root");
    let db = tmp.path().join("db");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        expect_refusal("root", &good_env(&db).unset("ALLOW_ROOT"), &["ALLOW_ROOT"]);
        assert!(!db.exists());
    }
}

/// NET=mainnet against the regtest stand-in: the genesis hashes differ; refused with one
/// line naming NET, no credentials shown, nothing on disk.
#[test]
fn the_wrong_network_is_refused_with_one_line() {
    let tmp = TempDir::new("config-net");
    let db = tmp.path().join("db");
    let sim = serve(Node::generate(GenParams::fixture(36)));
    let env = ServerEnv::new(&db, &sim.daemon_url()).set("NET", "mainnet");
    let line = expect_refusal("wrong-net", &env, &["wrong network", "NET"]);
    assert!(!line.contains("pass"), "credentials in {line:?}");
    assert!(
        !db.exists(),
        "DB_DIRECTORY was created for the wrong network"
    );
}
