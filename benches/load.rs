//! Serving at scale, side by side: ElectrumX 1.20 and FerrumX synced to the same stand-in
//! chain, both running, then loaded one at a time by a Rust load generator — many concurrent
//! wallet-like sessions (one request in flight each) over raw TCP and over websockets — and
//! measured for memory per idle session and per subscription.
//!
//! ```text
//! cargo bench --bench load
//! ```
//!
//! Reports, per server and transport: requests/s, p50/p99 latency, the server's CPU time in
//! the measured window and so its capacity in requests/s per core (requests per CPU second);
//! then the resident memory one idle session adds (RSS delta over N sessions, each past
//! `server.version`) and what one script-hash subscription adds (RSS delta over M
//! subscriptions spread over those sessions).
//!
//! Settings (environment):
//! - `FERRUMX_ELECTRUMX`: path of `electrumx_server` (default: the venv that
//!   `contrib/electrumx/install.sh` makes under `~/.cache/ferrumx`);
//! - `FERRUMX_LOAD_TXS`: transactions in the chain (default 200,000), generated once into
//!   `~/.cache/ferrumx/bench-<txs>.v3.chain` (or `FERRUMX_BENCH_CHAIN`) and served from that
//!   file (`benches/common/chain.rs`, as the side-by-side bench does; the stand-in then
//!   holds no wallet, so the mempool is empty);
//! - `FERRUMX_LOAD_SESSIONS`: concurrent sessions of the request load (default 1,000; 0
//!   skips the request load);
//! - `FERRUMX_LOAD_SECS`: measured seconds per server and transport (default 20, after 5 s
//!   of warm-up);
//! - `FERRUMX_LOAD_TRANSPORTS`: `tcp,ws` (default), or one of them;
//! - `FERRUMX_LOAD_IDLE`: idle sessions of the memory measurement (default 10,000; 0 skips
//!   the memory part), `FERRUMX_LOAD_SUBS`: subscriptions spread over them (default 100,000),
//!   `FERRUMX_LOAD_MEMORY_TRANSPORTS`: over which transports (default `tcp`: ElectrumX's
//!   websocket library closes a connection that leaves its pings unanswered for 20 s, and
//!   an idle client here does not read, so ws sessions do not stay idle on it);
//! - `FERRUMX_LOAD_ONLY`: `ferrumx` or `electrumx` to run one side only.
//!
//! Both servers get the same limits: `MAX_SESSIONS=20000` (above every session count here),
//! `COST_SOFT_LIMIT=0` and `COST_HARD_LIMIT=0` (no cost throttling), `INITIAL_CONCURRENT`
//! and `MAX_SEND` at their defaults (10 and 1,000,000). The bench raises its open-file limit
//! to the hard limit; the servers inherit it.
//!
//! ElectrumX 1.20 pads small answers on raw TCP and holds them back (`PaddedRSTransport`:
//! an answer under 1,024 bytes waits until the session's buffer reaches 1,024 bytes or 1 s
//! has passed since its last send), so with one request in flight a TCP session of
//! ElectrumX gets about one small answer a second whatever the server's capacity: the TCP
//! figures measure that policy, the websocket ones (not padded) the servers' work.

#[path = "common/chain.rs"]
#[allow(dead_code)] // txid_summary: the floor's and side_by_side's
mod chain;
#[path = "common/kind.rs"]
mod kind;
use ferrumx_testkit::env_or;
use kind::Kind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrumx_simnode::truth::is_unspendable;
use ferrumx_simnode::{Node, ScriptHash, SimNode, SimNodeOptions};
use ferrumx_testkit::electrumx::side_by_side_env;
use ferrumx_testkit::oracle::grouped as thousands;
use ferrumx_testkit::process::{cpu_secs, memory};
use ferrumx_testkit::server::server_exe;
use ferrumx_testkit::{electrumx, free_port, Process, Rng};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Script hashes in the request mix.
const SCRIPT_HASHES: usize = 4_000;
/// Confirmed transactions in the request mix.
const TXS: usize = 4_000;
/// Seconds of warm-up before the measured window.
const WARMUP_SECS: u64 = 5;

/// Raises this process's open-file soft limit to the hard limit (children inherit it).
fn raise_fd_limit() -> u64 {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 {
            rl.rlim_cur = rl.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
        }
    }
    rl.rlim_cur
}

/// CPU time (user + system) this process has used, in seconds.
fn own_cpu_secs() -> f64 {
    cpu_secs(std::process::id())
}

// ----------------------------------------------------------------------------------------
// The request mix.

/// The wallet mix: script-hash queries (history, balance, UTXOs, mempool, subscribe), headers
/// with and without checkpoints, header ranges, transactions and merkle proofs, fee
/// estimates, drawn from the chain's real contents. Each body is `"method":..,"params":..`.
fn request_mix(node: &Node, all: &[ScriptHash], count: usize) -> Vec<String> {
    let mut rng = Rng::new(0x5eed);
    let shs: Vec<String> = (0..SCRIPT_HASHES.min(all.len()))
        .map(|_| all[rng.below(all.len())].to_string())
        .collect();
    let tip = node.tip_height();
    let mut txs = Vec::with_capacity(TXS);
    while txs.len() < TXS {
        let h = 1 + rng.below(tip as usize) as u32;
        let Some(b) = node.block_at(h) else { continue };
        let i = rng.below(b.txids.len());
        txs.push((b.txids[i].to_string(), h));
    }
    (0..count)
        .map(|_| {
            let sh = &shs[rng.below(shs.len())];
            let (txid, height) = &txs[rng.below(txs.len())];
            let h = rng.below(tip as usize + 1) as u32;
            let (method, params) = match rng.below(100) {
                0..=19 => ("blockchain.scripthash.get_history", json!([sh])),
                20..=32 => ("blockchain.scripthash.get_balance", json!([sh])),
                33..=45 => ("blockchain.scripthash.listunspent", json!([sh])),
                46..=49 => ("blockchain.scripthash.get_mempool", json!([sh])),
                50..=57 => ("blockchain.scripthash.subscribe", json!([sh])),
                58..=64 => ("blockchain.transaction.get", json!([txid])),
                65..=72 => ("blockchain.transaction.get_merkle", json!([txid, height])),
                73..=79 => ("blockchain.block.header", json!([h])),
                80..=83 => ("blockchain.block.header", json!([h, tip])),
                84..=87 => (
                    "blockchain.block.headers",
                    json!([h.saturating_sub(50), 100]),
                ),
                88..=92 => ("blockchain.estimatefee", json!([1 + rng.below(25)])),
                93..=94 => (
                    "blockchain.transaction.id_from_pos",
                    json!([*height, 0, true]),
                ),
                95..=96 => ("blockchain.headers.subscribe", json!([])),
                _ => ("server.ping", json!([])),
            };
            format!(r#""method":"{method}","params":{params}"#)
        })
        .collect()
}

/// Every script hash the chain's outputs pay (those with a history), sorted: read from the
/// blocks, the chain being served from disk without a truth table.
fn chain_script_hashes(node: &Node) -> Vec<ScriptHash> {
    let mut seen = std::collections::HashSet::new();
    for h in 0..=node.tip_height() {
        let Some(block) = node.block_at(h).and_then(|b| b.block()) else {
            continue;
        };
        for out in block.txdata.iter().flat_map(|tx| &tx.output) {
            if !is_unspendable(&out.script_pubkey) {
                seen.insert(ScriptHash::of(&out.script_pubkey));
            }
        }
    }
    let mut all: Vec<_> = seen.into_iter().collect();
    all.sort();
    all
}

// ----------------------------------------------------------------------------------------
// One client connection, over either transport.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Transport {
    Tcp,
    Ws,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Ws => "ws",
        }
    }
}

type WsStream = WebSocketStream<TcpStream>;

enum Conn {
    Tcp(BufReader<OwnedReadHalf>, OwnedWriteHalf, String),
    Ws(SplitSink<WsStream, Message>, SplitStream<WsStream>),
}

impl Conn {
    async fn open(transport: Transport, port: u16) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        Ok(match transport {
            Transport::Tcp => {
                let (r, w) = stream.into_split();
                Conn::Tcp(BufReader::new(r), w, String::new())
            }
            Transport::Ws => {
                let (ws, _) =
                    tokio_tungstenite::client_async(format!("ws://127.0.0.1:{port}/"), stream)
                        .await
                        .map_err(std::io::Error::other)?;
                let (tx, rx) = ws.split();
                Conn::Ws(tx, rx)
            }
        })
    }

    async fn send(&mut self, text: String) -> std::io::Result<()> {
        match self {
            Conn::Tcp(_, w, _) => {
                let mut line = text.into_bytes();
                line.push(b'\n');
                w.write_all(&line).await
            }
            Conn::Ws(tx, _) => tx
                .send(Message::text(text))
                .await
                .map_err(std::io::Error::other),
        }
    }

    /// The next message, as JSON.
    async fn recv(&mut self) -> std::io::Result<Value> {
        let text = match self {
            Conn::Tcp(r, _, buf) => {
                buf.clear();
                if r.read_line(buf).await? == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                std::mem::take(buf)
            }
            Conn::Ws(_, rx) => loop {
                match rx.next().await {
                    Some(Ok(Message::Text(t))) => break t.to_string(),
                    Some(Ok(Message::Binary(b))) => break String::from_utf8_lossy(&b).into_owned(),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(std::io::Error::other(e)),
                    None => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                }
            },
        };
        serde_json::from_str(&text).map_err(std::io::Error::other)
    }

    /// Sends request `id` and waits for its answer (notifications are skipped).
    async fn call(&mut self, id: u64, body: &str) -> std::io::Result<Value> {
        self.send(format!(r#"{{"jsonrpc":"2.0","id":{id},{body}}}"#))
            .await?;
        loop {
            let v = self.recv().await?;
            if v.get("id").and_then(Value::as_u64) == Some(id) {
                return Ok(v);
            }
        }
    }

    /// A session past `server.version`.
    async fn session(transport: Transport, port: u16) -> std::io::Result<Conn> {
        let mut c = Conn::open(transport, port).await?;
        c.call(0, r#""method":"server.version","params":["load","1.4"]"#)
            .await?;
        Ok(c)
    }
}

// ----------------------------------------------------------------------------------------
// The request load.

struct LoadResult {
    requests: usize,
    errors: usize,
    secs: f64,
    latencies_us: Vec<u32>,
    server_cpu: f64,
    bench_cpu: f64,
}

impl LoadResult {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.secs
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        ferrumx_testkit::quantile_ms(&self.latencies_us, p)
    }
}

/// One wallet session: one request in flight, the next sent when its answer arrives, until
/// `until`; answers after `measure_from` counted.
async fn wallet(
    mut conn: Conn,
    reqs: Arc<Vec<String>>,
    offset: usize,
    measure_from: Instant,
    until: Instant,
) -> (usize, usize, Vec<u32>) {
    let (mut done, mut errors, mut lat) = (0usize, 0usize, Vec::new());
    let mut id = 1u64;
    while Instant::now() < until {
        let body = &reqs[(offset + id as usize) % reqs.len()];
        let t0 = Instant::now();
        let v = match tokio::time::timeout(Duration::from_secs(60), conn.call(id, body)).await {
            Ok(Ok(v)) => v,
            other => panic!("session ended or stalled: {other:?}"),
        };
        id += 1;
        let now = Instant::now();
        if t0 >= measure_from && now <= until {
            done += 1;
            if v.get("error").is_some_and(|e| !e.is_null()) {
                errors += 1;
            }
            lat.push((now - t0).as_micros().min(u128::from(u32::MAX)) as u32);
        }
    }
    (done, errors, lat)
}

/// `n` sessions that have negotiated a version, opened one after the other.
fn open_sessions(
    rt: &tokio::runtime::Runtime,
    transport: Transport,
    port: u16,
    n: usize,
) -> Vec<Conn> {
    rt.block_on(async {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(
                Conn::session(transport, port)
                    .await
                    .expect("open a session"),
            );
        }
        out
    })
}

fn run_load(
    rt: &tokio::runtime::Runtime,
    pid: u32,
    port: u16,
    transport: Transport,
    reqs: &Arc<Vec<String>>,
    sessions: usize,
    secs: u64,
) -> LoadResult {
    let conns: Vec<Conn> = open_sessions(rt, transport, port, sessions);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(WARMUP_SECS);
    let until = measure_from + Duration::from_secs(secs);
    let per = reqs.len() / sessions.max(1);
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, c)| rt.spawn(wallet(c, reqs.clone(), i * per, measure_from, until)))
        .collect();
    // CPU time of the measured window, read on this thread while the runtime works.
    std::thread::sleep(measure_from.saturating_duration_since(Instant::now()));
    let (cpu0, own0) = (cpu_secs(pid), own_cpu_secs());
    std::thread::sleep(until.saturating_duration_since(Instant::now()));
    let (cpu1, own1) = (cpu_secs(pid), own_cpu_secs());
    let results = rt.block_on(async {
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
        server_cpu: cpu1 - cpu0,
        bench_cpu: own1 - own0,
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
// Memory per idle session and per subscription.

struct MemoryResult {
    sessions: usize,
    subs: usize,
    rss_before: u64,
    rss_idle: u64,
    rss_subs: u64,
    /// The allocator's bytes in use at the same three points (FerrumX's admin `getinfo`
    /// `heap.allocated`, glibc's `mallinfo2`); `None` for ElectrumX (Python's own allocator
    /// takes its arenas straight from the system, outside malloc's counters).
    heap: Option<[u64; 3]>,
    subscribe_secs: f64,
}

impl MemoryResult {
    fn per_session(&self) -> f64 {
        self.rss_idle.saturating_sub(self.rss_before) as f64 / self.sessions.max(1) as f64
    }
    /// Negative when the RSS fell while subscribing (transient memory handed back).
    fn per_sub(&self) -> f64 {
        (self.rss_subs as f64 - self.rss_idle as f64) / self.subs.max(1) as f64
    }
    /// Heap bytes per idle session and per subscription (deltas of the allocator's
    /// counters).
    fn heap_per(&self) -> Option<(f64, f64)> {
        let [before, idle, subs] = self.heap?;
        Some((
            (idle as f64 - before as f64) / self.sessions.max(1) as f64,
            (subs as f64 - idle as f64) / self.subs.max(1) as f64,
        ))
    }
}

/// FerrumX's heap in use by the allocator's own counters: the admin RPC's `getinfo`
/// (`heap.allocated`) over `port`. Read after the RSS has settled, so that what sessions
/// are still doing (handshakes) has finished.
fn heap_allocated(port: u16) -> u64 {
    use std::io::{BufRead, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("admin RPC");
    s.write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"getinfo\",\"params\":[]}\n")
        .expect("admin request");
    let mut line = String::new();
    std::io::BufReader::new(s)
        .read_line(&mut line)
        .expect("admin answer");
    let v: Value = serde_json::from_str(&line).expect("admin JSON");
    v["result"]["heap"]["allocated"]
        .as_u64()
        .unwrap_or_else(|| panic!("getinfo has no heap.allocated: {line}"))
}

/// Waits for the server's RSS to settle (two readings 1 s apart within 1 %, at most 10 s).
fn settled_rss(pid: u32) -> u64 {
    let mut last = memory(pid).0;
    for _ in 0..10 {
        std::thread::sleep(Duration::from_secs(1));
        let now = memory(pid).0;
        if now.abs_diff(last) * 100 <= last {
            return now;
        }
        last = now;
    }
    last
}

/// Sends `method` for each script hash of `shs` on `c`, `inflight` at a time; every answer
/// must be a result.
async fn requests(mut c: Conn, method: &str, shs: &[String], inflight: usize) -> Conn {
    for (k, chunk) in shs.chunks(inflight).enumerate() {
        for (j, sh) in chunk.iter().enumerate() {
            let id = 1 + (k * inflight + j) as u64;
            c.send(format!(
                r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":["{sh}"]}}"#
            ))
            .await
            .expect("send");
        }
        let mut answered = 0;
        while answered < chunk.len() {
            let v = c.recv().await.expect("answer");
            if v.get("id").is_some() {
                assert!(
                    v.get("error").is_none_or(Value::is_null),
                    "{method} failed: {v}"
                );
                answered += 1;
            }
        }
    }
    c
}

fn measure_memory(
    rt: &tokio::runtime::Runtime,
    pid: u32,
    port: u16,
    transport: Transport,
    shs: &[String],
    sessions: usize,
    admin: Option<u16>,
) -> MemoryResult {
    // First the same script hashes are read (get_history, 50 sessions with 20 in flight),
    // so that the caches answering them (FerrumX's RocksDB block cache and history cache,
    // ElectrumX's LevelDB and history caches) are as full before the measurement as after
    // it: the deltas are what holding sessions and subscriptions costs, not what reading
    // histories does. The allocator and the runtime warm up on those sessions too.
    rt.block_on(async {
        let per = shs.len().div_ceil(50);
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let mine: Vec<String> = shs.iter().skip(i * per).take(per).cloned().collect();
                tokio::spawn(async move {
                    let c = Conn::session(transport, port).await.expect("session");
                    requests(c, "blockchain.scripthash.get_history", &mine, 20).await
                })
            })
            .collect();
        for t in tasks {
            drop(t.await.expect("warm-up"));
        }
    });
    let rss_before = settled_rss(pid);
    let heap_before = admin.map(heap_allocated);
    let mut conns = open_sessions(rt, transport, port, sessions);
    let rss_idle = settled_rss(pid);
    let heap_idle = admin.map(heap_allocated);
    // Subscriptions spread over the sessions, 5 in flight per session.
    let t = Instant::now();
    let per = shs.len().div_ceil(sessions.max(1));
    rt.block_on(async {
        // At most 100 sessions subscribing at a time: 10,000 sessions with 5 in flight each
        // at once would outlast ElectrumX's REQUEST_TIMEOUT.
        let gate = Arc::new(tokio::sync::Semaphore::new(100));
        let mut tasks = Vec::new();
        for (i, c) in conns.drain(..).enumerate() {
            let mine: Vec<String> = shs.iter().skip(i * per).take(per).cloned().collect();
            let gate = gate.clone();
            tasks.push(tokio::spawn(async move {
                let _turn = gate.acquire_owned().await.expect("gate");
                requests(c, "blockchain.scripthash.subscribe", &mine, 5).await
            }));
        }
        for t in tasks {
            conns.push(t.await.expect("subscriber"));
        }
    });
    let subscribe_secs = t.elapsed().as_secs_f64();
    let rss_subs = settled_rss(pid);
    let heap_subs = admin.map(heap_allocated);
    drop(conns);
    let heap = match (heap_before, heap_idle, heap_subs) {
        (Some(a), Some(b), Some(c)) => Some([a, b, c]),
        _ => None,
    };
    MemoryResult {
        sessions,
        subs: shs.len(),
        rss_before,
        rss_idle,
        rss_subs,
        heap,
        subscribe_secs,
    }
}

// ----------------------------------------------------------------------------------------
// The servers.

struct Running {
    kind: Kind,
    exe: PathBuf,
    vars: Vec<(String, String)>,
    process: Process,
    tcp: u16,
    ws: u16,
    /// The admin RPC's port.
    rpc: u16,
    sync_secs: f64,
}

impl Running {
    fn start(kind: Kind, db: &Path, daemon_url: &str) -> Running {
        let _ = std::fs::remove_dir_all(db);
        std::fs::create_dir_all(db).expect("db dir");
        let (tcp, ws, rpc) = (free_port(), free_port(), free_port());
        let exe = match kind {
            Kind::ElectrumX => electrumx::electrumx_server_for_bench(),
            Kind::FerrumX => server_exe(),
        };
        let services = format!("tcp://127.0.0.1:{tcp},ws://127.0.0.1:{ws},rpc://127.0.0.1:{rpc}");
        let vars = side_by_side_env(db, daemon_url, &services, &[("MAX_SESSIONS", "20000")]);
        eprintln!("[{}] syncing ...", kind.name());
        let started = Instant::now();
        let mut r = Running {
            kind,
            process: Process::spawn(kind.name(), &exe, &vars),
            exe,
            vars,
            tcp,
            ws,
            rpc,
            sync_secs: 0.0,
        };
        r.wait_serving(Duration::from_secs(4 * 3600));
        r.sync_secs = started.elapsed().as_secs_f64();
        eprintln!("[{}] serving after {:.1} s", kind.name(), r.sync_secs);
        r
    }

    /// Stops the server (SIGKILL) and starts it again on its synced database: a fresh
    /// process for each memory measurement, so that no earlier phase's freed memory hides
    /// what sessions and subscriptions take.
    fn restart(&mut self) {
        self.process.signal(libc::SIGTERM);
        self.process.wait_exit(Duration::from_secs(120));
        self.process = Process::spawn(self.kind.name(), &self.exe, &self.vars);
        self.wait_serving(Duration::from_secs(600));
    }

    fn port(&self, t: Transport) -> u16 {
        match t {
            Transport::Tcp => self.tcp,
            Transport::Ws => self.ws,
        }
    }

    fn wait_serving(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let up = |p| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok();
            if up(self.tcp) && up(self.ws) {
                return;
            }
            if let Some(status) = self.process.try_status() {
                panic!("{} exited ({status}) before serving", self.kind.name());
            }
            assert!(Instant::now() < deadline, "not serving within {timeout:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn main() {
    let txs: u64 = env_or("FERRUMX_LOAD_TXS", 200_000);
    let sessions: usize = env_or("FERRUMX_LOAD_SESSIONS", 1_000);
    let secs: u64 = env_or("FERRUMX_LOAD_SECS", 20);
    let idle: usize = env_or("FERRUMX_LOAD_IDLE", 10_000);
    let subs: usize = env_or("FERRUMX_LOAD_SUBS", 100_000);
    let transports: Vec<Transport> = std::env::var("FERRUMX_LOAD_TRANSPORTS")
        .unwrap_or_else(|_| "tcp,ws".into())
        .split(',')
        .map(|t| match t.trim() {
            "tcp" => Transport::Tcp,
            "ws" => Transport::Ws,
            other => panic!("FERRUMX_LOAD_TRANSPORTS: {other:?} is neither tcp nor ws"),
        })
        .collect();
    let memory_transports: Vec<Transport> = std::env::var("FERRUMX_LOAD_MEMORY_TRANSPORTS")
        .unwrap_or_else(|_| "tcp".into())
        .split(',')
        .map(|t| match t.trim() {
            "tcp" => Transport::Tcp,
            "ws" => Transport::Ws,
            other => panic!("FERRUMX_LOAD_MEMORY_TRANSPORTS: {other:?} is neither tcp nor ws"),
        })
        .collect();
    let kinds = kind::chosen("FERRUMX_LOAD_ONLY", [Kind::ElectrumX, Kind::FerrumX]);
    let fds = raise_fd_limit();
    let cache = chain::cache_dir();
    let node = chain::open(txs);
    let chain_txs: usize = node.all_blocks().map(|b| b.txids.len()).sum();
    let height = node.tip_height();
    let chain_shs = chain_script_hashes(&node);
    let reqs = Arc::new(request_mix(&node, &chain_shs, 100_000));
    // Distinct script hashes to subscribe to: the chain's, then made-up ones (no history).
    let mut sub_shs: Vec<String> = {
        let mut all = chain_shs;
        let mut rng = Rng::new(0x50b5);
        for i in (1..all.len()).rev() {
            all.swap(i, rng.below(i + 1));
        }
        all.iter().take(subs).map(ToString::to_string).collect()
    };
    let real_subs = sub_shs.len();
    let mut rng = Rng::new(0xfa4e);
    while sub_shs.len() < subs {
        let bytes: Vec<String> = (0..4).map(|_| format!("{:016x}", rng.next_u64())).collect();
        sub_shs.push(bytes.concat());
    }
    let sim = SimNode::spawn(node, SimNodeOptions::default()).expect("start the stand-in");
    let root = cache.join("load-run");
    let mut servers: Vec<Running> = kinds
        .iter()
        .map(|&k| {
            let db = root.join(match k {
                Kind::ElectrumX => "electrumx-db",
                Kind::FerrumX => "ferrumx-db",
            });
            Running::start(k, &db, &sim.daemon_url())
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let load_avg = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let mut loads = Vec::new();
    for &t in transports.iter().filter(|_| sessions > 0) {
        for s in &servers {
            eprintln!(
                "[{}] {} sessions over {} for {secs} s (load average {})",
                s.kind.name(),
                sessions,
                t.name(),
                load_avg().trim()
            );
            let r = run_load(&rt, s.process.pid(), s.port(t), t, &reqs, sessions, secs);
            assert_eq!(r.errors, 0, "{} answered errors", s.kind.name());
            loads.push((s.kind, t, r));
        }
    }
    println!();
    println!(
        "chain: {} transactions in {} blocks (seed 1), served from disk, empty mempool; open-file limit {fds}; load average at the end {}",
        thousands(chain_txs as u64),
        thousands(u64::from(height) + 1),
        load_avg().trim(),
    );
    println!(
        "load: {sessions} sessions, one request in flight each, {secs} s after {WARMUP_SECS} s of warm-up; the load generator on one thread"
    );
    println!();
    println!("| server | transport | requests/s | p50 | p99 | server CPU | requests per CPU second | load generator CPU |");
    println!("|---|---|---|---|---|---|---|---|");
    for (k, t, r) in &loads {
        println!(
            "| {} | {} | {} | {:.2} ms | {:.2} ms | {:.1} s ({:.0} %) | {} | {:.1} s |",
            k.name(),
            t.name(),
            thousands(r.rps() as u64),
            r.percentile_ms(0.5),
            r.percentile_ms(0.99),
            r.server_cpu,
            100.0 * r.server_cpu / r.secs,
            thousands((r.requests as f64 / r.server_cpu.max(1e-9)) as u64),
            r.bench_cpu,
        );
    }
    for &t in &transports {
        let find = |k: Kind| loads.iter().find(|(kk, tt, _)| *kk == k && *tt == t);
        if let (Some((_, _, ex)), Some((_, _, fx))) = (find(Kind::ElectrumX), find(Kind::FerrumX)) {
            println!(
                "| FerrumX / ElectrumX | {} | {:.2}x | {:.3}x | {:.3}x | | {:.2}x | |",
                t.name(),
                fx.rps() / ex.rps(),
                fx.percentile_ms(0.5) / ex.percentile_ms(0.5),
                fx.percentile_ms(0.99) / ex.percentile_ms(0.99),
                (fx.requests as f64 / fx.server_cpu) / (ex.requests as f64 / ex.server_cpu),
            );
        }
    }
    // Before the memory part restarts them.
    let peaks: Vec<(Kind, u64)> = servers
        .iter()
        .map(|s| (s.kind, memory(s.process.pid()).1))
        .collect();
    let mut mems = Vec::new();
    if idle > 0 {
        for &t in &memory_transports {
            for s in &mut servers {
                s.restart();
                eprintln!(
                    "[{}] memory: {idle} idle {} sessions, then {subs} subscriptions (load average {})",
                    s.kind.name(),
                    t.name(),
                    load_avg().trim()
                );
                let admin = (s.kind == Kind::FerrumX).then_some(s.rpc);
                let m = measure_memory(&rt, s.process.pid(), s.port(t), t, &sub_shs, idle, admin);
                eprintln!(
                    "[{}] {:.1} KiB per idle session, {:.0} bytes per subscription (RSS {} -> {} -> {} bytes; heap {:?})",
                    s.kind.name(),
                    m.per_session() / 1024.0,
                    m.per_sub(),
                    m.rss_before,
                    m.rss_idle,
                    m.rss_subs,
                    m.heap,
                );
                mems.push((s.kind, t, m));
            }
        }
    }
    drop(servers);
    let _ = std::fs::remove_dir_all(&root);
    sim.shutdown();

    if !mems.is_empty() {
        println!();
        println!(
            "memory: {idle} idle sessions, then {subs} script-hash subscriptions spread over them ({real_subs} with history, the rest made up)"
        );
        println!();
        println!("| server | transport | RSS before | with idle sessions | per idle session | with subscriptions | per subscription | sessions and subscriptions | subscribing took |");
        println!("|---|---|---|---|---|---|---|---|---|");
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        for (k, t, m) in &mems {
            println!(
                "| {} RSS | {} | {:.1} MiB | {:.1} MiB | {:.1} KiB ({:.0} bytes) | {:.1} MiB | {:.0} bytes | {:.1} MB | {:.1} s |",
                k.name(),
                t.name(),
                mib(m.rss_before),
                mib(m.rss_idle),
                m.per_session() / 1024.0,
                m.per_session(),
                mib(m.rss_subs),
                m.per_sub(),
                m.rss_subs.saturating_sub(m.rss_before) as f64 / 1e6,
                m.subscribe_secs,
            );
            if let (Some([before, idle, subs]), Some((per_session, per_sub))) =
                (m.heap, m.heap_per())
            {
                println!(
                    "| {} heap | {} | {:.1} MiB | {:.1} MiB | {:.1} KiB ({:.0} bytes) | {:.1} MiB | {:.0} bytes | {:.1} MB | |",
                    k.name(),
                    t.name(),
                    mib(before),
                    mib(idle),
                    per_session / 1024.0,
                    per_session,
                    mib(subs),
                    per_sub,
                    subs.saturating_sub(before) as f64 / 1e6,
                );
            }
        }
        println!();
        println!("(heap: the allocator's bytes in use, from FerrumX's admin `getinfo`; \"sessions and subscriptions\": what the idle sessions and their subscriptions added together, in MB of 10^6 bytes)");
    }
    println!();
    for (k, peak) in peaks {
        println!(
            "{}: peak RSS {:.0} MiB (sync and request load)",
            k.name(),
            peak as f64 / (1 << 20) as f64
        );
    }
}
