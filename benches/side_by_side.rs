//! Side by side: ElectrumX 1.20 and FerrumX sync the same chain from the same stand-in, then
//! serve the same request load, in one run. Reports sync rates (overall and per tenth of the
//! chain), requests/s, p50/p99 latency, peak RSS, CPU time and database size for both,
//! FerrumX's ratio to ElectrumX, and the floor (`common/floor.rs`: the same blocks fetched
//! the same way, parsed, every txid and script hash computed, nothing stored) with each
//! server's sync CPU over the floor's.
//!
//! ```text
//! cargo bench --bench side_by_side
//! ```
//!
//! Settings (environment):
//! - `FERRUMX_ELECTRUMX`: path of `electrumx_server` (default: the venv that
//!   `contrib/electrumx/install.sh` makes under `~/.cache/ferrumx`);
//! - `FERRUMX_BENCH_TXS`: transactions in the chain (default 1,000,000), generated once
//!   into `FERRUMX_BENCH_CHAIN` (default `~/.cache/ferrumx/bench-<txs>.v3.chain`) and served
//!   from that file (`ferrumx_simnode::archive`: bounded memory for any size);
//! - `FERRUMX_BENCH_CACHE_MB`: CACHE_MB for both servers (default: each one's default);
//! - `FERRUMX_BENCH_SECS`: seconds of request load per server (default 30);
//! - `FERRUMX_BENCH_CONNS`, `FERRUMX_BENCH_INFLIGHT`: client connections and requests in
//!   flight on each (default 8 and 4);
//! - `FERRUMX_BENCH_ONLY`: `ferrumx` or `electrumx` to run one side only;
//! - `FERRUMX_BENCH_REST`: `1` (default) serves bitcoind's REST interface from the stand-in,
//!   as `bitcoind -rest` does (FerrumX then fetches blocks as binary; ElectrumX does not use
//!   REST), `0` leaves it off (every block comes by JSON-RPC).
//! - `FERRUMX_FLOOR_TRANSPORT`: `rest` (the default when the stand-in serves REST) or `rpc`
//!   for the floor.
//!
//! The sync rate per tenth of the chain (by transactions) is read from the servers' progress
//! log lines (FerrumX every 10 s, ElectrumX every 30 s and at each flush), interpolated
//! between two lines; the last tenth ends when the server listens (caught up, flushed).
//! Neither server answers clients while it syncs, and what it fetches is no guide (both
//! prefetch far ahead).
//!
//! The stand-in serves the chain from disk, so it holds no wallet: the mempool is empty
//! (`get_mempool` answers `[]`), and the request mix's script hashes are drawn from the
//! outputs of 400 random blocks (the generator's few hot addresses left out: their histories
//! exceed ElectrumX's MAX_SEND).
//!
//! The servers run one after the other (the machine has few cores), each alone with the
//! stand-in, with their default CACHE_MB, and the load goes over websockets: ElectrumX pads
//! and holds back small responses on raw TCP (up to 1 s, against traffic analysis) but not on
//! websockets, so websockets measure the servers' work rather than that delay.

#[path = "common/chain.rs"]
mod chain;
#[path = "common/floor.rs"]
mod floor;

#[path = "common/kind.rs"]
mod kind;
use ferrumx_testkit::env_or;
use kind::Kind;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrumx_simnode::truth::is_unspendable;
use ferrumx_simnode::{Node, ScriptHash, SimNode, SimNodeOptions};
use ferrumx_testkit::electrumx::side_by_side_env;
use ferrumx_testkit::oracle::grouped as thousands;
use ferrumx_testkit::process::{cpu_secs, memory, Line};
use ferrumx_testkit::server::server_exe;
use ferrumx_testkit::{electrumx, free_port, Process, Rng};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// Script hashes in the request mix.
const SCRIPT_HASHES: usize = 4_000;
/// Confirmed transactions in the request mix.
const TXS: usize = 4_000;

// ----------------------------------------------------------------------------------------
// The request mix.

/// Requests of the load, drawn from the chain's real contents.
struct Workload {
    requests: Vec<Value>,
}

impl Workload {
    /// A wallet-like mix: script-hash queries (history, balance, UTXOs, mempool), headers
    /// with and without checkpoints, header ranges, transactions and merkle proofs.
    fn new(node: &Node, count: usize) -> Workload {
        let mut rng = Rng::new(0x5eed);
        let tip = node.tip_height();
        // Script hashes from the outputs of random blocks (the chain is served from disk:
        // there is no truth table to draw from), without the hot addresses.
        let hot: Vec<ScriptHash> = (0..node.gen.params.hot_addresses)
            .filter_map(|i| node.gen.address(i))
            .map(|a| ScriptHash::of(&a.script_pubkey))
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        let mut shs = Vec::with_capacity(SCRIPT_HASHES);
        for _ in 0..400 {
            let h = 1 + rng.below(tip as usize) as u32;
            let Some(block) = node.block_at(h).and_then(|b| b.block()) else {
                continue;
            };
            for _ in 0..SCRIPT_HASHES / 400 {
                let tx = &block.txdata[rng.below(block.txdata.len())];
                let out = &tx.output[rng.below(tx.output.len())];
                let sh = ScriptHash::of(&out.script_pubkey);
                if !is_unspendable(&out.script_pubkey) && !hot.contains(&sh) && seen.insert(sh) {
                    shs.push(sh.to_string());
                }
            }
        }
        assert!(!shs.is_empty(), "no script hash drawn from the chain");
        let mut txs = Vec::with_capacity(TXS);
        while txs.len() < TXS {
            let h = 1 + rng.below(tip as usize) as u32;
            let Some(b) = node.block_at(h) else { continue };
            let i = rng.below(b.txids.len());
            txs.push((b.txids[i].to_string(), h));
        }
        let mut requests = Vec::with_capacity(count);
        for _ in 0..count {
            let sh = &shs[rng.below(shs.len())];
            let (txid, height) = &txs[rng.below(txs.len())];
            let h = rng.below(tip as usize + 1) as u32;
            let r = match rng.below(100) {
                0..=24 => json!(["blockchain.scripthash.get_history", [sh]]),
                25..=39 => json!(["blockchain.scripthash.get_balance", [sh]]),
                40..=54 => json!(["blockchain.scripthash.listunspent", [sh]]),
                55..=59 => json!(["blockchain.scripthash.get_mempool", [sh]]),
                60..=67 => json!(["blockchain.transaction.get", [txid]]),
                68..=77 => json!(["blockchain.transaction.get_merkle", [txid, height]]),
                78..=84 => json!(["blockchain.block.header", [h]]),
                85..=89 => json!(["blockchain.block.header", [h, tip]]),
                90..=94 => json!(["blockchain.block.headers", [h.saturating_sub(50), 100]]),
                95..=96 => json!(["blockchain.transaction.id_from_pos", [*height, 0, true]]),
                _ => json!(["server.ping", []]),
            };
            requests.push(r);
        }
        Workload { requests }
    }
}

// ----------------------------------------------------------------------------------------
// A server under test.

struct Running {
    process: Process,
    port: u16,
}

impl Running {
    fn start(kind: Kind, db: &Path, daemon_url: &str, cache_mb: Option<u64>) -> Running {
        let port = free_port();
        let exe = match kind {
            Kind::ElectrumX => electrumx::electrumx_server_for_bench(),
            Kind::FerrumX => server_exe(),
        };
        let services = format!("ws://127.0.0.1:{port}");
        let cache = cache_mb.map(|m| m.to_string());
        let extra: Vec<(&str, &str)> = cache.iter().map(|m| ("CACHE_MB", m.as_str())).collect();
        let vars = side_by_side_env(db, daemon_url, &services, &extra);
        Running {
            process: Process::spawn(kind.name(), &exe, &vars),
            port,
        }
    }

    /// Waits until the websocket port accepts: both servers listen only once caught up and
    /// their mempool is synchronized.
    fn wait_serving(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(status) = self.process.try_status() {
                panic!("the server exited ({status}) before serving");
            }
            if Instant::now() > deadline {
                panic!("the server did not serve within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Peak resident memory so far, in MiB.
    fn peak_rss_mib(&self) -> f64 {
        memory(self.process.pid()).1 as f64 / (1 << 20) as f64
    }

    /// CPU time used so far (user + system), in seconds.
    fn cpu_secs(&self) -> f64 {
        cpu_secs(self.process.pid())
    }
}

fn dir_size(p: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(p) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

// ----------------------------------------------------------------------------------------
// The load.

struct LoadResult {
    requests: usize,
    errors: usize,
    secs: f64,
    latencies_us: Vec<u32>,
}

impl LoadResult {
    fn percentile_ms(&self, p: f64) -> f64 {
        ferrumx_testkit::quantile_ms(&self.latencies_us, p)
    }
}

/// One connection: `server.version`, then requests from `reqs` (cycled, starting at
/// `offset`) with `inflight` outstanding, until `until`. Only responses after `measure_from`
/// are counted.
async fn connection(
    port: u16,
    reqs: Arc<Vec<String>>,
    offset: usize,
    inflight: usize,
    measure_from: Instant,
    until: Instant,
) -> (usize, usize, Vec<u32>) {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://127.0.0.1:{port}/"), stream)
        .await
        .expect("websocket handshake");
    let (mut tx, mut rx) = ws.split();
    let hello = r#"{"jsonrpc":"2.0","id":0,"method":"server.version","params":["bench","1.4"]}"#;
    tx.send(Message::text(hello)).await.expect("send");
    let _ = rx.next().await;
    let mut sent_at: std::collections::HashMap<u64, Instant> = std::collections::HashMap::new();
    let mut next_id = 1u64;
    let mut cursor = offset;
    let (mut done, mut errors, mut lat) = (0usize, 0usize, Vec::new());
    let send_one = |cursor: &mut usize, next_id: &mut u64| {
        let body = &reqs[*cursor % reqs.len()];
        *cursor += 1;
        let id = *next_id;
        *next_id += 1;
        (id, format!(r#"{{"jsonrpc":"2.0","id":{id},{body}}}"#))
    };
    for _ in 0..inflight {
        let (id, m) = send_one(&mut cursor, &mut next_id);
        sent_at.insert(id, Instant::now());
        tx.send(Message::text(m)).await.expect("send");
    }
    while Instant::now() < until {
        let msg = match tokio::time::timeout(Duration::from_secs(30), rx.next()).await {
            Ok(Some(Ok(m))) => m,
            other => panic!("connection ended or stalled: {other:?}"),
        };
        let text = match msg {
            Message::Text(t) => t.to_string(),
            Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
            _ => continue,
        };
        let v: Value = serde_json::from_str(&text).expect("JSON response");
        let Some(id) = v.get("id").and_then(Value::as_u64) else {
            continue;
        };
        let Some(t0) = sent_at.remove(&id) else {
            continue;
        };
        let now = Instant::now();
        if now >= measure_from {
            done += 1;
            if v.get("error").is_some_and(|e| !e.is_null()) {
                errors += 1;
            }
            lat.push((now - t0).as_micros().min(u128::from(u32::MAX)) as u32);
        }
        let (id, m) = send_one(&mut cursor, &mut next_id);
        sent_at.insert(id, Instant::now());
        tx.send(Message::text(m)).await.expect("send");
    }
    (done, errors, lat)
}

fn run_load(port: u16, work: &Workload, conns: usize, inflight: usize, secs: u64) -> LoadResult {
    let bodies: Vec<String> = work
        .requests
        .iter()
        .map(|r| format!(r#""method":{},"params":{}"#, r[0], r[1]))
        .collect();
    let bodies = Arc::new(bodies);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let warmup = Duration::from_secs(3);
    let start = Instant::now();
    let measure_from = start + warmup;
    let until = measure_from + Duration::from_secs(secs);
    let per_conn = bodies.len() / conns.max(1);
    let results = rt.block_on(async {
        let tasks: Vec<_> = (0..conns)
            .map(|c| {
                tokio::spawn(connection(
                    port,
                    bodies.clone(),
                    c * per_conn,
                    inflight,
                    measure_from,
                    until,
                ))
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("load task"));
        }
        out
    });
    let mut r = LoadResult {
        requests: 0,
        errors: 0,
        secs: secs as f64,
        latencies_us: Vec::new(),
    };
    for (done, errors, lat) in results {
        r.requests += done;
        r.errors += errors;
        r.latencies_us.extend(lat);
    }
    r.latencies_us.sort_unstable();
    r
}

// ----------------------------------------------------------------------------------------

/// What every measurement needs to know about the run.
struct Setup<'a> {
    sim: &'a SimNode,
    work: &'a Workload,
    root: &'a Path,
    /// Transactions (coinbases included) in blocks `0..=h`, by `h`.
    cumulative: &'a [u64],
    cache_mb: Option<u64>,
    load: (usize, usize, u64),
}

struct Outcome {
    kind: Kind,
    sync_secs: f64,
    sync_cpu_secs: f64,
    sync_rss_mib: f64,
    db_mib: f64,
    /// Transactions per second in each tenth of the chain (by transactions); `None` for a
    /// tenth that ends in the same block as the one before (a chain of a few big blocks).
    tenths: Vec<Option<f64>>,
    load: LoadResult,
    peak_rss_mib: f64,
}

/// The server's progress as its log shows it: (when the bench saw the line, the height its
/// index had reached). FerrumX: `height=` in its `syncing`, `flushed caches` and `caught up`
/// lines; ElectrumX: `our height: N` and `flush #… Height N`.
fn progress(lines: &[Line]) -> Vec<(Instant, u32)> {
    let number_after = |text: &str, key: &str| -> Option<u32> {
        let rest = &text[text.find(key)? + key.len()..];
        let digits: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .filter(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    lines
        .iter()
        .filter_map(|l| {
            let t = &l.text;
            let h = if t.contains("syncing") || t.contains("flushed caches") {
                l.field("height").map(|h| h as u32)
            } else if t.contains("our height: ") {
                number_after(t, "our height: ")
            } else if t.contains("flush #") {
                number_after(t, "Height ")
            } else {
                None
            };
            Some((l.at, h?))
        })
        .collect()
}

/// The sync rate per tenth of the chain (by transactions): when the index crossed each
/// tenth's last block, interpolated between the progress lines around it; the last tenth
/// ends at `done`. `None` for a tenth that ends in the same block as the one before.
fn tenths(
    samples: &[(Instant, u32)],
    cumulative: &[u64],
    started: Instant,
    done: Instant,
) -> Vec<Option<f64>> {
    let total = *cumulative.last().unwrap_or(&0);
    let tip = cumulative.len().saturating_sub(1) as u32;
    let mut points = vec![(started, 0u32)];
    points.extend(samples.iter().filter(|(_, h)| *h < tip));
    points.push((done, tip));
    let crossed = |height: u32| -> Instant {
        for w in points.windows(2) {
            let ((t0, h0), (t1, h1)) = (w[0], w[1]);
            if h0 < height && height <= h1 {
                let f = f64::from(height - h0) / f64::from(h1 - h0);
                return t0 + t1.saturating_duration_since(t0).mul_f64(f);
            }
        }
        done
    };
    let mut bounds = vec![(started, 0u64)];
    for k in 1..=10u64 {
        let target = total * k / 10;
        let h = cumulative.partition_point(|c| *c < target) as u32;
        let t = if k == 10 { done } else { crossed(h) };
        bounds.push((t, cumulative.get(h as usize).copied().unwrap_or(total)));
    }
    bounds
        .windows(2)
        .map(|w| {
            let ((t0, n0), (t1, n1)) = (w[0], w[1]);
            (n1 > n0).then(|| {
                (n1 - n0) as f64 / t1.saturating_duration_since(t0).as_secs_f64().max(1e-3)
            })
        })
        .collect()
}

fn measure(kind: Kind, setup: &Setup<'_>) -> Outcome {
    let (conns, inflight, secs) = setup.load;
    let db = setup.root.join(match kind {
        Kind::ElectrumX => "electrumx-db",
        Kind::FerrumX => "ferrumx-db",
    });
    let _ = std::fs::remove_dir_all(&db);
    std::fs::create_dir_all(&db).expect("db dir");
    eprintln!("[{}] syncing ...", kind.name());
    let started = Instant::now();
    let mut server = Running::start(kind, &db, &setup.sim.daemon_url(), setup.cache_mb);
    server.wait_serving(Duration::from_secs(4 * 3600));
    let done = Instant::now();
    let sync_secs = started.elapsed().as_secs_f64();
    let sync_cpu_secs = server.cpu_secs();
    let sync_rss_mib = server.peak_rss_mib();
    let db_mib = dir_size(&db) as f64 / (1 << 20) as f64;
    let samples = progress(&server.process.output());
    let tenths = tenths(&samples, setup.cumulative, started, done);
    eprintln!(
        "[{}] synced in {sync_secs:.1} s ({sync_cpu_secs:.1} s CPU), peak RSS {sync_rss_mib:.0} MiB; load for {secs} s ...",
        kind.name()
    );
    let load = run_load(server.port, setup.work, conns, inflight, secs);
    let peak_rss_mib = server.peak_rss_mib();
    drop(server);
    // Every request of the mix is valid: an error means the comparison is not like for like.
    assert_eq!(load.errors, 0, "{} answered errors", kind.name());
    assert!(load.requests > 0, "{} answered no request", kind.name());
    let _ = std::fs::remove_dir_all(&db);
    Outcome {
        kind,
        sync_secs,
        sync_cpu_secs,
        sync_rss_mib,
        db_mib,
        tenths,
        load,
        peak_rss_mib,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken from the command line.
    let txs: u64 = env_or("FERRUMX_BENCH_TXS", 1_000_000);
    let secs: u64 = env_or("FERRUMX_BENCH_SECS", 30);
    let conns: usize = env_or("FERRUMX_BENCH_CONNS", 8);
    let inflight: usize = env_or("FERRUMX_BENCH_INFLIGHT", 4);
    let cache_mb: Option<u64> = std::env::var("FERRUMX_BENCH_CACHE_MB").ok().map(|v| {
        v.trim()
            .parse()
            .expect("FERRUMX_BENCH_CACHE_MB is a number")
    });
    let kinds = kind::chosen("FERRUMX_BENCH_ONLY", [Kind::ElectrumX, Kind::FerrumX]);
    let cache = chain::cache_dir();
    let node = chain::open(txs);
    let (chain_txs, txid_xor) = chain::txid_summary(&node);
    let height = node.tip_height();
    let mut cumulative = Vec::with_capacity(height as usize + 1);
    let mut sum = 0u64;
    for h in 0..=height {
        sum += node.block_at(h).map_or(0, |b| b.txids.len() as u64);
        cumulative.push(sum);
    }
    let work = Workload::new(&node, 100_000);
    let rest = env_or("FERRUMX_BENCH_REST", 1u8) != 0;
    eprintln!(
        "stand-in REST (bitcoind -rest): {} (FERRUMX_BENCH_REST={})",
        if rest { "on" } else { "off" },
        u8::from(rest)
    );
    let options = SimNodeOptions {
        rest,
        ..SimNodeOptions::default()
    };
    let sim = SimNode::spawn(node, options).expect("start the stand-in");

    // The floor, before the servers (the chain file is in the page cache for all three).
    // As FerrumX: REST where the stand-in serves it, unless told otherwise.
    let transport = match std::env::var("FERRUMX_FLOOR_TRANSPORT").as_deref() {
        Ok("rpc") => floor::Transport::Rpc,
        _ if floor::rest_available(&sim.daemon_url()) => floor::Transport::Rest,
        Ok("rest") => {
            eprintln!("the stand-in does not serve REST: the floor uses JSON-RPC");
            floor::Transport::Rpc
        }
        _ => floor::Transport::Rpc,
    };
    eprintln!("[floor] fetching and parsing the chain ({transport:?}) ...");
    let fl = floor::run(&sim.daemon_url(), transport, 0, None).expect("the floor");
    assert_eq!(fl.txs, chain_txs, "the floor saw every transaction");
    assert_eq!(fl.txid_xor, txid_xor, "the floor's txids are the chain's");

    let root = cache.join("bench-run");
    let setup = Setup {
        sim: &sim,
        work: &work,
        root: &root,
        cumulative: &cumulative,
        cache_mb,
        load: (conns, inflight, secs),
    };
    let mut outcomes = Vec::new();
    for kind in kinds {
        outcomes.push(measure(kind, &setup));
    }
    let _ = std::fs::remove_dir_all(&root);

    println!();
    println!(
        "chain: {} transactions in {} blocks (seed 1, served from disk); CACHE_MB: {}; load: {conns} websocket connections x {inflight} in flight, {secs} s after 3 s warm-up",
        thousands(chain_txs),
        thousands(u64::from(height) + 1),
        cache_mb.map_or("each server's default".to_string(), |m| m.to_string()),
    );
    println!(
        "stand-in REST: {} (FERRUMX_BENCH_REST); blocks served through REST: {}, by getblock: {}",
        if rest { "on" } else { "off" },
        thousands(sim.control().rest_blocks()),
        thousands(sim.control().rpc_blocks()),
    );
    println!();
    println!("| | sync time | sync rate | sync CPU | peak RSS (sync) | DB size | requests/s | p50 | p99 | errors | peak RSS (after load) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for o in &outcomes {
        println!(
            "| {} | {:.1} s | {} tx/s | {:.1} s | {:.0} MiB | {:.0} MiB | {} | {:.2} ms | {:.2} ms | {} | {:.0} MiB |",
            o.kind.name(),
            o.sync_secs,
            thousands((chain_txs as f64 / o.sync_secs) as u64),
            o.sync_cpu_secs,
            o.sync_rss_mib,
            o.db_mib,
            thousands((o.load.requests as f64 / o.load.secs) as u64),
            o.load.percentile_ms(0.5),
            o.load.percentile_ms(0.99),
            o.load.errors,
            o.peak_rss_mib,
        );
    }
    if let [ex, fx] = &outcomes[..] {
        let rps = |o: &Outcome| o.load.requests as f64 / o.load.secs;
        println!(
            "| FerrumX / ElectrumX | {:.3}x | {:.2}x | {:.3}x | {:.3}x | {:.3}x | {:.2}x | {:.3}x | {:.3}x | | {:.3}x |",
            fx.sync_secs / ex.sync_secs,
            ex.sync_secs / fx.sync_secs,
            fx.sync_cpu_secs / ex.sync_cpu_secs,
            fx.sync_rss_mib / ex.sync_rss_mib,
            fx.db_mib / ex.db_mib,
            rps(fx) / rps(ex),
            fx.load.percentile_ms(0.5) / ex.load.percentile_ms(0.5),
            fx.load.percentile_ms(0.99) / ex.load.percentile_ms(0.99),
            fx.peak_rss_mib / ex.peak_rss_mib,
        );
    }

    println!();
    println!(
        "floor ({transport:?}): {} blocks, {} transactions, {:.0} MB parsed in {:.2} s CPU ({:.2} s wall), {} tx/s of CPU",
        fl.blocks,
        thousands(fl.txs),
        fl.bytes as f64 / 1e6,
        fl.cpu_secs,
        fl.wall_secs,
        thousands((fl.txs as f64 / fl.cpu_secs.max(1e-9)) as u64),
    );
    println!();
    println!("| | sync CPU | floor CPU | sync CPU / floor CPU |");
    println!("|---|---|---|---|");
    for o in &outcomes {
        println!(
            "| {} | {:.1} s | {:.2} s | {:.2}x |",
            o.kind.name(),
            o.sync_cpu_secs,
            fl.cpu_secs,
            o.sync_cpu_secs / fl.cpu_secs.max(1e-9),
        );
    }

    println!();
    println!("sync rate per tenth of the chain (tx/s; from the servers' progress lines, interpolated; the last tenth until listening):");
    println!();
    println!("| | 1st | 2nd | 3rd | 4th | 5th | 6th | 7th | 8th | 9th | 10th | last / first |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for o in &outcomes {
        let cells: Vec<String> = o
            .tenths
            .iter()
            .map(|r| r.map_or("-".to_string(), |r| thousands(r as u64)))
            .collect();
        let ratio = match (o.tenths[0], o.tenths[9]) {
            (Some(first), Some(last)) => format!("{:.2}", last / first.max(1e-9)),
            _ => "-".to_string(),
        };
        println!("| {} | {} | {ratio} |", o.kind.name(), cells.join(" | "));
    }
    sim.shutdown();
}
