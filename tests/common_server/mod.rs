//! Helpers of the process-level tests (`tests/server.rs`, `tests/electrum_golden.rs`): the
//! `ferrumx_server` binary as a child process (killed on drop, its stdout and stderr
//! collected line by line), temporary database directories, a deterministic RNG, and checks
//! of a database against the stand-in's truth. Each test binary uses a different part.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bitcoin::{Network, Txid};
use ferrumx::index::{Index, IndexReader};
use ferrumx_simnode::Node;

#[path = "../common/mod.rs"]
mod common;
pub use common::TempDir;

/// Longest wait for any one thing the server should do (generous: debug build, 2 cores,
/// other builds running).
pub const STEP: Duration = Duration::from_secs(90);

/// SplitMix64: a deterministic RNG for kill moments (no dependency needed).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The environment of one server run. Starts from an empty environment: only what is set
/// here reaches the child.
#[derive(Clone, Debug)]
pub struct ServerEnv {
    vars: Vec<(String, String)>,
}

impl ServerEnv {
    /// COIN=Bitcoin, NET=regtest, ALLOW_ROOT=1, LOG_LEVEL=info, DB_DIRECTORY, DAEMON_URL,
    /// and a 100 ms block poll so that new blocks and reorgs are seen quickly.
    pub fn new(db: &Path, daemon_url: &str) -> ServerEnv {
        ServerEnv { vars: Vec::new() }
            .set("COIN", "Bitcoin")
            .set("NET", "regtest")
            .set("ALLOW_ROOT", "1")
            .set("LOG_LEVEL", "info")
            .set("DB_DIRECTORY", db.to_str().expect("utf-8 path"))
            .set("DAEMON_URL", daemon_url)
            .set("DAEMON_POLL_INTERVAL_BLOCKS", "100")
    }

    pub fn set(mut self, name: &str, value: &str) -> ServerEnv {
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.to_string(), value.to_string()));
        self
    }

    pub fn unset(mut self, name: &str) -> ServerEnv {
        self.vars.retain(|(n, _)| n != name);
        self
    }
}

/// One line of the server's output, with when the test saw it.
#[derive(Clone, Debug)]
pub struct Line {
    pub at: Instant,
    pub text: String,
}

impl Line {
    /// The integer value of `name=` in a tracing line (`height=123`).
    pub fn field(&self, name: &str) -> Option<u64> {
        let key = format!("{name}=");
        let mut rest = self.text.as_str();
        while let Some(i) = rest.find(&key) {
            let boundary = i == 0 || rest.as_bytes()[i - 1] == b' ';
            let after = &rest[i + key.len()..];
            if boundary {
                let digits: String = after
                    .trim_start_matches('"')
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                return digits.parse().ok();
            }
            rest = after;
        }
        None
    }
}

#[derive(Default)]
struct Stream {
    lines: Vec<Line>,
    eof: bool,
}

/// Lines of one pipe, filled by a reader thread.
#[derive(Default)]
struct Collected {
    stream: Mutex<Stream>,
    cv: Condvar,
}

impl Collected {
    fn spawn(pipe: impl Read + Send + 'static) -> Arc<Collected> {
        let c = Arc::new(Collected::default());
        let c2 = Arc::clone(&c);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(text) = line else { break };
                let mut s = c2.stream.lock().unwrap();
                s.lines.push(Line {
                    at: Instant::now(),
                    text,
                });
                c2.cv.notify_all();
            }
            c2.stream.lock().unwrap().eof = true;
            c2.cv.notify_all();
        });
        c
    }

    fn lines(&self) -> Vec<Line> {
        self.stream.lock().unwrap().lines.clone()
    }

    /// The first line at or after `from` matching `pred`, waiting up to `timeout`.
    fn wait(
        &self,
        from: usize,
        timeout: Duration,
        mut pred: impl FnMut(&Line) -> bool,
    ) -> Result<(usize, Line), String> {
        let deadline = Instant::now() + timeout;
        let mut s = self.stream.lock().unwrap();
        let mut i = from;
        loop {
            while i < s.lines.len() {
                if pred(&s.lines[i]) {
                    return Ok((i, s.lines[i].clone()));
                }
                i += 1;
            }
            if s.eof {
                return Err("the server's output ended".to_string());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!("nothing matched within {timeout:?}"));
            }
            s = self.cv.wait_timeout(s, deadline - now).unwrap().0;
        }
    }
}

/// A running `ferrumx_server`. Killed (SIGKILL) and reaped on drop; its output is printed
/// then if the test is failing, or always with `FERRUMX_TEST_LOGS=1` (and `--nocapture`).
pub struct Server {
    child: Child,
    pub started: Instant,
    name: String,
    out: Arc<Collected>,
    err: Arc<Collected>,
    /// Lines before this index have been consumed by `wait_for`.
    cursor: usize,
    status: Option<ExitStatus>,
}

impl Server {
    pub fn start(name: &str, env: &ServerEnv) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferrumx_server"))
            .env_clear()
            .envs(env.vars.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ferrumx_server");
        let started = Instant::now();
        let out = Collected::spawn(child.stdout.take().expect("stdout"));
        let err = Collected::spawn(child.stderr.take().expect("stderr"));
        Server {
            child,
            started,
            name: name.to_string(),
            out,
            err,
            cursor: 0,
            status: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the next stdout line (after the last one waited for) containing `needle`
    /// and satisfying `pred`; panics after `timeout` or if the server's output ends.
    pub fn wait_for_where(
        &mut self,
        needle: &str,
        timeout: Duration,
        mut pred: impl FnMut(&Line) -> bool,
    ) -> Line {
        match self
            .out
            .wait(self.cursor, timeout, |l| l.text.contains(needle) && pred(l))
        {
            Ok((i, line)) => {
                self.cursor = i + 1;
                line
            }
            Err(e) => panic!("[{}] waiting for {needle:?}: {e}", self.name),
        }
    }

    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> Line {
        self.wait_for_where(needle, timeout, |_| true)
    }

    /// Waits for "caught up with the daemon" (first catch-up) and returns its height.
    pub fn wait_caught_up(&mut self) -> u32 {
        let line = self.wait_for("caught up with the daemon", STEP);
        line.field("height").expect("height in the caught-up line") as u32
    }

    /// Waits for the "new block" line of `height` (following the tip).
    pub fn wait_new_block(&mut self, height: u32) -> Line {
        self.wait_for_where("new block", STEP, |l| {
            l.field("height") == Some(u64::from(height))
        })
    }

    /// Every stdout line so far.
    pub fn stdout(&self) -> Vec<Line> {
        self.out.lines()
    }

    /// Every stderr line so far.
    pub fn stderr(&self) -> Vec<Line> {
        self.err.lines()
    }

    /// How many stdout lines so far contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        let s = self.out.stream.lock().unwrap();
        s.lines.iter().filter(|l| l.text.contains(needle)).count()
    }

    /// Stdout lines containing `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<Line> {
        self.stdout()
            .into_iter()
            .filter(|l| l.text.contains(needle))
            .collect()
    }

    /// The exit status if the process has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    /// Waits for the process to exit on its own (and for its output to end).
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                // The pipes close with the process; let the readers finish.
                let _ = self.out.wait(usize::MAX, Duration::from_secs(5), |_| false);
                let _ = self.err.wait(usize::MAX, Duration::from_secs(5), |_| false);
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "[{}] did not exit within {timeout:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the server.
    pub fn signal(&mut self, signal: libc::c_int) {
        assert!(
            self.try_status().is_none(),
            "[{}] exited before signal {signal}",
            self.name
        );
        let pid = libc::pid_t::try_from(self.pid()).expect("pid");
        // SAFETY: signalling our own child, which has not been reaped yet (so the pid cannot
        // have been reused).
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill -{signal} {pid}");
    }

    /// SIGTERM (kill -TERM), then waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit(STEP)
    }

    /// SIGKILL (kill -9), then reaps the process and reads the rest of its output.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait");
        self.status = Some(status);
        self.wait_exit(STEP);
    }

    fn dump(&self) {
        eprintln!("----- [{}] stdout -----", self.name);
        for l in self.stdout() {
            eprintln!("{}", l.text);
        }
        eprintln!("----- [{}] stderr -----", self.name);
        for l in self.stderr() {
            eprintln!("{}", l.text);
        }
    }
}

/// Starts a server with the environment `env_for` makes (with fresh free ports, returned
/// beside it) and waits with `ready`. The ports are free when picked but released before
/// the server binds them, so another test can take one first: the server then exits at
/// start-up ("cannot listen on …") and is started again, up to three times, on other ports
/// (its database resumes).
pub fn start_on_free_ports<P>(
    name: &str,
    mut env_for: impl FnMut() -> (ServerEnv, P),
    mut ready: impl FnMut(&mut Server),
) -> (Server, P) {
    for attempt in 1..=3 {
        let (env, ports) = env_for();
        let mut server = Server::start(name, &env);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ready(&mut server)));
        let mut exited = || {
            (0..100).any(|_| {
                let gone = server.try_status().is_some();
                if !gone {
                    std::thread::sleep(Duration::from_millis(20));
                }
                gone
            })
        };
        match outcome {
            Ok(()) => return (server, ports),
            Err(p) if attempt < 3 && exited() => {
                eprintln!("[{name}] the server exited before listening; again on other ports");
                drop(p);
            }
            Err(p) => std::panic::resume_unwind(p),
        }
    }
    unreachable!("three attempts")
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() || std::env::var_os("FERRUMX_TEST_LOGS").is_some() {
            self.dump();
        }
    }
}

/// Opens a database written by the server (which must have exited).
pub fn open_index(dir: &Path, reorg_limit: u32) -> Index {
    Index::open(dir, Network::Regtest, 1 << 20, reorg_limit).expect("open the server's index")
}

/// The content digest of a database written by the server.
pub fn digest_of(dir: &Path, reorg_limit: u32) -> [u8; 32] {
    open_index(dir, reorg_limit)
        .content_digest()
        .expect("digest")
}

/// An index of the node's chain built in this process, straight from its blocks (no
/// daemon, no server): the reference the server's database must equal.
pub fn fresh_digest(node: &Node, reorg_limit: u32) -> [u8; 32] {
    let dir = TempDir::new("fresh");
    let mut index =
        Index::open(dir.path(), Network::Regtest, 1 << 30, reorg_limit).expect("open fresh");
    for h in 1..=node.tip_height() {
        index
            .advance(&node.block_at(h).expect("block").raw)
            .expect("advance");
    }
    index.flush().expect("flush");
    index.content_digest().expect("digest")
}

/// Every script hash's history, UTXOs and balance at `height` (the tip if `None`) equal the
/// truth; with `every` > 1 only every `every`-th script hash is checked. Returns how many
/// were checked.
pub fn check_queries(
    reader: &IndexReader,
    node: &Node,
    height: Option<u32>,
    every: usize,
) -> usize {
    let truth = &node.truth;
    let mut checked = 0;
    let mut hashes: Vec<_> = truth.script_hashes().collect();
    hashes.sort_by_key(|sh| sh.0);
    for sh in hashes.into_iter().step_by(every.max(1)) {
        let want: Vec<(Txid, u32)> = truth
            .history(sh, height)
            .iter()
            .map(|h| (h.txid, h.height))
            .collect();
        let got = reader.history(&sh.0, 0, usize::MAX).expect("history");
        assert_eq!(got, want, "history of {sh}");
        let want_utxos: Vec<_> = truth
            .utxos(sh, height)
            .iter()
            .map(|u| (u.outpoint.txid, u.outpoint.vout, u.height, u.value))
            .collect();
        let got_utxos: Vec<_> = reader
            .utxos(&sh.0)
            .expect("utxos")
            .iter()
            .map(|u| (u.txid, u.vout, u.height, u.value))
            .collect();
        assert_eq!(got_utxos, want_utxos, "utxos of {sh}");
        assert_eq!(
            reader.balance(&sh.0).expect("balance"),
            truth.balance(sh, height),
            "balance of {sh}"
        );
        checked += 1;
    }
    checked
}

/// The index equals the node's active chain: tip, every header, every block's txids and
/// every transaction's position; and every script hash's queries equal the truth.
pub fn check_against_truth(reader: &IndexReader, node: &Node) {
    let tip = node.tip_height();
    assert_eq!(reader.tip(), Some((tip, node.tip_hash())), "tip");
    let checked = check_queries(reader, node, None, 1);
    assert!(checked > 100, "only {checked} script hashes");
    let headers = reader.headers(0, tip as usize + 1).expect("headers");
    assert_eq!(headers.len() as u32, tip + 1, "header count");
    for h in 0..=tip {
        let block = node.block_at(h).expect("block");
        assert_eq!(headers[h as usize], block.header, "header {h}");
        assert_eq!(
            reader.block_txids(h).expect("block txids").as_ref(),
            Some(&block.txids),
            "txids of block {h}"
        );
        for (pos, txid) in block.txids.iter().enumerate() {
            let p = reader
                .tx_position(txid)
                .expect("tx_position")
                .expect("known tx");
            assert_eq!((p.height, p.pos), (h, pos as u32), "position of {txid}");
        }
    }
    assert_eq!(reader.header(tip + 1).expect("header"), None);
}

/// Cumulative transaction counts of the node's chain by height (for progress estimates).
pub fn cumulative_txs(node: &Node) -> Vec<u64> {
    let mut total = 0;
    (0..=node.tip_height())
        .map(|h| {
            total += node.block_at(h).expect("block").txids.len() as u64;
            total
        })
        .collect()
}

/// Sizes of the write-ahead log files (`*.log`) in a RocksDB directory.
pub fn wal_sizes(dir: &Path) -> HashMap<PathBuf, u64> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return HashMap::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .filter_map(|p| Some((p.clone(), std::fs::metadata(&p).ok()?.len())))
        .collect()
}
