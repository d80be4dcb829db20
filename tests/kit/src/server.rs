//! `ferrumx_server` as a child process: its environment, waits on its log, signals, and the
//! retry when a free port was taken before the server bound it.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use crate::process::{Line, Pipe, Process};

/// Longest wait for any one thing the server should do (generous: debug build, 2 cores,
/// other builds running).
pub const STEP: Duration = Duration::from_secs(90);

/// The `ferrumx_server` binary: `FERRUMX_SERVER_BIN`, else the one cargo built beside this
/// test or bench (`target/<profile>/ferrumx_server`, the parent of `deps/` where test and
/// bench binaries live). Cargo builds a package's binaries before its integration tests and
/// benches.
pub fn server_exe() -> PathBuf {
    binary("FERRUMX_SERVER_BIN", "ferrumx_server")
}

/// The `ferrumx_rpc` binary, found like [`server_exe`] (`FERRUMX_RPC_BIN` overrides).
pub fn rpc_exe() -> PathBuf {
    binary("FERRUMX_RPC_BIN", "ferrumx_rpc")
}

fn binary(var: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var) {
        return PathBuf::from(p);
    }
    let me = std::env::current_exe().expect("the test binary's path");
    let p = me
        .parent()
        .and_then(Path::parent)
        .map(|profile| profile.join(name))
        .unwrap_or_default();
    assert!(
        p.is_file(),
        "{name} not found at {} (beside {}): build it with cargo, or set {var}",
        p.display(),
        me.display()
    );
    p
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

/// A running `ferrumx_server`. Killed (SIGKILL) and reaped on drop; its output is printed
/// then if the test is failing, or always with `FERRUMX_TEST_LOGS=1` (and `--nocapture`).
pub struct Server {
    process: Process,
    /// Lines (of both pipes) before this index have been consumed by `wait_for`.
    cursor: usize,
}

impl Server {
    pub fn start(name: &str, env: &ServerEnv) -> Server {
        Server {
            process: Process::spawn(name, &server_exe(), &env.vars),
            cursor: 0,
        }
    }

    /// When the process was started.
    pub fn started(&self) -> std::time::Instant {
        self.process.started
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The process (for what `Server` does not wrap).
    pub fn process(&self) -> &Process {
        &self.process
    }

    /// Waits for the next stdout line (after the last one waited for) containing `needle`
    /// and satisfying `pred`; panics after `timeout` or if the server's output ends.
    pub fn wait_for_where(
        &mut self,
        needle: &str,
        timeout: Duration,
        mut pred: impl FnMut(&Line) -> bool,
    ) -> Line {
        match self.process.wait_line(self.cursor, timeout, |pipe, l| {
            pipe == Pipe::Stdout && l.text.contains(needle) && pred(l)
        }) {
            Ok((i, line)) => {
                self.cursor = i + 1;
                line
            }
            Err(e) => panic!("[{}] waiting for {needle:?}: {e}", self.process.name()),
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
        self.process.stdout()
    }

    /// Every stderr line so far.
    pub fn stderr(&self) -> Vec<Line> {
        self.process.stderr()
    }

    /// How many stdout lines so far contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.process.count_stdout(needle)
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
        self.process.try_status()
    }

    /// Waits for the process to exit on its own (and for its output to end).
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        self.process.wait_exit(timeout)
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the server.
    pub fn signal(&mut self, signal: libc::c_int) {
        self.process.signal(signal);
    }

    /// SIGTERM (kill -TERM), then waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit(STEP)
    }

    /// SIGKILL (kill -9), then reaps the process and reads the rest of its output.
    pub fn kill9(&mut self) {
        self.process.kill9(STEP);
    }

    /// See [`Process::kill_at_exit`].
    pub fn kill_at_exit(&self, dirs: &[&Path]) {
        self.process.kill_at_exit(dirs);
    }

    /// Prints the server's output.
    pub fn dump(&self) {
        self.process.dump();
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
