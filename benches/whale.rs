//! A whale: one script hash with about a million history entries (issue 13, goal 8), served by
//! FerrumX and ElectrumX 1.20 in turn, each synced from the same stand-in on the same chain.
//! Prints every figure of every run for both servers:
//! - the whale's first `blockchain.scripthash.subscribe` (its whole history read), then the
//!   status on fresh sessions (the history cached);
//! - `get_balance` and `listunspent` (goal: < 50 ms);
//! - `get_history` with MAX_SEND raised: time, answer size, and the server's RSS before,
//!   at its peak during the answer (sampled every millisecond) and after;
//! - after a new mempool transaction paying or spending the whale, and after a new block:
//!   the time until the subscribed session is notified (the server's poll interval included)
//!   and the status on fresh sessions (goal: < 10 ms, incremental).
//!
//! ```text
//! cargo bench --bench whale
//! ```
//!
//! Settings (environment):
//! - `FERRUMX_WHALE_TXS`: transactions in the chain (default 1,300,000) and
//!   `FERRUMX_WHALE_SHARE` the whale's share of payments (default 0.5: it is in about 80 % of
//!   the transactions), generated once (seed 1, 2,000 transactions a block) into
//!   `FERRUMX_WHALE_CHAIN` (default `~/.cache/ferrumx/whale-<txs>.v4.chain`) and served from
//!   that file;
//! - `FERRUMX_WHALE_MAX_SEND`: MAX_SEND for both servers (default 200,000,000: the whale's
//!   history is about 100 bytes an entry, and both refuse a history of MAX_SEND / 99
//!   entries);
//! - `FERRUMX_WHALE_RUNS`: repetitions of each timed request (default 5);
//! - `FERRUMX_BENCH_ONLY`: `ferrumx` or `electrumx` to run one side only;
//! - `FERRUMX_ELECTRUMX`, `FERRUMX_SERVER_BIN`, `FERRUMX_CACHE` as for the other benches.
//!
//! The chain is served from disk, so the stand-in first mines 101 blocks on top of it (their
//! coinbases pay its wallet, which then pays the whale in new transactions); both servers
//! sync the whole chain. Small requests go over websockets (ElectrumX holds back small
//! answers on raw TCP), `get_history` over TCP (its answer is larger than a websocket
//! client's message limit).

#[path = "common/kind.rs"]
mod kind;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrumx_simnode::{archive, GenParams, ScriptHash, SimNode, SimNodeOptions};
use ferrumx_testkit::electrumx::{self, side_by_side_env};
use ferrumx_testkit::oracle::grouped as thousands;
use ferrumx_testkit::process::{cpu_secs, memory};
use ferrumx_testkit::server::server_exe;
use ferrumx_testkit::{env_or, free_port, Client, Process};
use kind::Kind;
use serde_json::{json, Value};

fn cache_dir() -> PathBuf {
    electrumx::cache_dir().unwrap_or_else(|| PathBuf::from("target/ferrumx-cache"))
}

struct Running {
    process: Process,
    tcp: u16,
    ws: u16,
}

impl Running {
    fn start(kind: Kind, db: &Path, daemon_url: &str, max_send: usize) -> Running {
        let (tcp, ws) = (free_port(), free_port());
        let exe = match kind {
            Kind::ElectrumX => electrumx::electrumx_server_for_bench(),
            Kind::FerrumX => server_exe(),
        };
        let services = format!("tcp://127.0.0.1:{tcp},ws://127.0.0.1:{ws}");
        let max_send = max_send.to_string();
        let vars = side_by_side_env(
            db,
            daemon_url,
            &services,
            &[("MAX_SEND", max_send.as_str()), ("REQUEST_TIMEOUT", "600")],
        );
        Running {
            process: Process::spawn(kind.name(), &exe, &vars),
            tcp,
            ws,
        }
    }

    fn wait_serving(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while std::net::TcpStream::connect(("127.0.0.1", self.ws)).is_err() {
            if let Some(status) = self.process.try_status() {
                panic!("the server exited ({status}) before serving");
            }
            assert!(Instant::now() < deadline, "not serving within {timeout:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn session(&self, ws: bool) -> Client {
        let mut c = if ws {
            Client::ws(self.ws, None)
        } else {
            Client::tcp(self.tcp)
        };
        c.negotiate("whale-bench", "1.4");
        c
    }
}

fn mib(b: u64) -> f64 {
    b as f64 / (1u64 << 20) as f64
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn list(v: &[Duration]) -> String {
    v.iter().map(|d| ms(*d)).collect::<Vec<_>>().join(", ")
}

/// Times `method` on the whale `runs` times, each on a fresh websocket session; the answers
/// must all agree. Returns the times and the (last) answer.
fn timed(r: &Running, method: &str, sh: &str, runs: usize) -> (Vec<Duration>, Value) {
    let mut times = Vec::new();
    let mut last = Value::Null;
    for _ in 0..runs {
        let mut c = r.session(true);
        let (got, t) = c.timed_call(method, json!([sh]));
        let got = got.unwrap_or_else(|e| panic!("{method}: {e:?}"));
        times.push(t);
        last = got;
    }
    (times, last)
}

/// Waits for the whale's status notification on `sub` (at most 120 s): the time since
/// `since`, as text.
fn notified(sub: &mut Client, sh: &str, since: Instant) -> String {
    let deadline = since + Duration::from_secs(120);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match sub.notification(left) {
            Some((method, params))
                if method == "blockchain.scripthash.subscribe" && params[0] == json!(sh) =>
            {
                return ms(since.elapsed());
            }
            Some(_) => {}
            None => break,
        }
    }
    "none within 120 s".to_string()
}

fn measure(kind: Kind, sim: &SimNode, root: &Path, sh: &str, max_send: usize, runs: usize) {
    let db = root.join(kind.name());
    let _ = std::fs::remove_dir_all(&db);
    std::fs::create_dir_all(&db).expect("db dir");
    let name = kind.name();
    println!("\n## {name}");
    let t = Instant::now();
    let mut r = Running::start(kind, &db, &sim.daemon_url(), max_send);
    r.wait_serving(Duration::from_secs(3_600));
    let pid = r.process.pid();
    println!(
        "[{name}] synced and serving in {:.1} s (CPU {:.1} s, peak RSS {:.0} MiB)",
        t.elapsed().as_secs_f64(),
        cpu_secs(pid),
        mib(memory(pid).1)
    );

    // The first subscription reads the whole history; then fresh sessions.
    let mut sub = r.session(true);
    let (status, first) = sub.timed_call("blockchain.scripthash.subscribe", json!([sh]));
    println!(
        "[{name}] first subscribe (history read whole): {} -> {status:?}",
        ms(first)
    );
    let (t, _) = timed(&r, "blockchain.scripthash.subscribe", sh, runs);
    println!("[{name}] subscribe, fresh sessions: {}", list(&t));
    let (t, balance) = timed(&r, "blockchain.scripthash.get_balance", sh, runs);
    println!("[{name}] get_balance: {} -> {balance}", list(&t));
    let (t, utxos) = timed(&r, "blockchain.scripthash.listunspent", sh, runs);
    println!(
        "[{name}] listunspent: {} -> {} outputs",
        list(&t),
        utxos.as_array().map_or(0, Vec::len)
    );

    // get_history over TCP, the server's RSS sampled while it answers.
    for run in 0..runs.min(3) {
        let mut c = r.session(false);
        let before = memory(pid).0;
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut peak = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    peak = peak.max(memory(pid).0);
                    std::thread::sleep(Duration::from_millis(1));
                }
                peak
            })
        };
        let t = Instant::now();
        let id = c.request("blockchain.scripthash.get_history", json!([sh]));
        let answer = c
            .try_response(id, Duration::from_secs(600))
            .expect("a get_history answer within 600 s");
        let took = t.elapsed();
        stop.store(true, Ordering::Relaxed);
        let peak = sampler.join().expect("sampler");
        let after = memory(pid).0;
        let bytes = answer
            .as_ref()
            .ok()
            .and_then(|v| serde_json::to_string(v).ok())
            .map_or(0, |s| s.len());
        let what = match &answer {
            Ok(v) => format!("{} entries", thousands(v.as_array().map_or(0, Vec::len))),
            Err(e) => format!("error {e:?}"),
        };
        println!(
            "[{name}] get_history #{}: {} ({what}, ~{:.1} MB of JSON); RSS before {:.0} MiB, peak {:.0} MiB (+{:.0}), after {:.0} MiB",
            run + 1,
            ms(took),
            bytes as f64 / 1e6,
            mib(before),
            mib(peak),
            mib(peak.saturating_sub(before)),
            mib(after)
        );
    }

    // A new mempool transaction touching the whale.
    let since = Instant::now();
    let added = sim.with_node(|n| {
        let script = n.gen.whale_script().expect("whale");
        for _ in 0..50 {
            for txid in n.add_traffic(2) {
                let touches = n
                    .mempool
                    .get(&txid)
                    .is_some_and(|e| e.tx.output.iter().any(|o| o.script_pubkey == script));
                if touches {
                    return true;
                }
            }
        }
        false
    });
    assert!(added, "no mempool transaction paid the whale");
    let wait = notified(&mut sub, sh, since);
    println!(
        "[{name}] mempool transaction -> notification: {} (poll included)",
        wait
    );
    let (t, _) = timed(&r, "blockchain.scripthash.subscribe", sh, runs);
    println!(
        "[{name}] subscribe after the mempool change, fresh sessions: {}",
        list(&t)
    );
    let (t, _) = timed(&r, "blockchain.scripthash.get_balance", sh, runs);
    println!(
        "[{name}] get_balance after the mempool change: {}",
        list(&t)
    );

    // A new block confirming it.
    let since = Instant::now();
    sim.with_node(|n| drop(n.mine(1).expect("mine")));
    let wait = notified(&mut sub, sh, since);
    println!(
        "[{name}] new block -> notification: {} (poll included)",
        wait
    );
    let (t, _) = timed(&r, "blockchain.scripthash.subscribe", sh, runs);
    println!(
        "[{name}] subscribe after the block, fresh sessions: {}",
        list(&t)
    );
    let (t, _) = timed(&r, "blockchain.scripthash.listunspent", sh, runs);
    println!("[{name}] listunspent after the block: {}", list(&t));
    println!(
        "[{name}] end: CPU {:.1} s, RSS {:.0} MiB, peak RSS {:.0} MiB",
        cpu_secs(pid),
        mib(memory(pid).0),
        mib(memory(pid).1)
    );
    drop(r);
    let _ = std::fs::remove_dir_all(&db);
}

fn main() {
    let txs: u64 = env_or("FERRUMX_WHALE_TXS", 1_300_000);
    let share: f64 = env_or("FERRUMX_WHALE_SHARE", 0.5);
    let max_send: usize = env_or("FERRUMX_WHALE_MAX_SEND", 200_000_000);
    let runs: usize = env_or("FERRUMX_WHALE_RUNS", 5);
    let kinds = kind::chosen("FERRUMX_BENCH_ONLY", [Kind::FerrumX, Kind::ElectrumX]);
    let params = GenParams::whale(1, txs, 2_000, share);
    let path = std::env::var_os("FERRUMX_WHALE_CHAIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join(format!("whale-{txs}.v4.chain")));
    eprintln!("chain: {} ...", path.display());
    let t = Instant::now();
    let (mut node, reused) = archive::open_or_generate(&params, &path).expect("the chain");
    eprintln!(
        "chain {} in {:.1} s",
        if reused { "opened" } else { "generated" },
        t.elapsed().as_secs_f64()
    );
    let script = node.gen.whale_script().expect("the chain has a whale");
    let sh = ScriptHash::of(&script).to_string();
    // Coinbases for the wallet, mature for new transactions.
    node.mine(101).expect("mine");
    let height = node.tip_height();
    let sim = SimNode::spawn(node, SimNodeOptions::default()).expect("start the stand-in");
    let root = cache_dir().join("whale-run");
    println!(
        "chain: {} ({} blocks, whale share {share}); whale script hash {sh}; MAX_SEND {}; {runs} runs of each request; load at start: {}",
        path.display(),
        thousands(height),
        thousands(max_send),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
    );
    for kind in kinds {
        measure(kind, &sim, &root, &sh, max_send, runs);
    }
    println!(
        "\nload at end: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let _ = std::fs::remove_dir_all(&root);
}
