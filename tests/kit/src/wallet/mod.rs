//! The real Electrum wallet as a command-line daemon on regtest, driven from a test: a
//! [`Wallet`] is one Electrum data directory (`-D`) holding one restored wallet, its daemon
//! on one server (`--oneserver`, TCP or SSL with a pinned fingerprint), and what it shows
//! ([`View`]: balances, history, coins); [`expected_view`] is what it must show, computed
//! from the stand-in's truth and mempool with Electrum's rules. Used by
//! `tests/electrum_wallet.rs` (Debian's Electrum 4.3.4, protocol 1.4) and
//! `tests/electrum_wallet17.rs` (a checkout of Electrum's `protocol_1.7` branch), through
//! the two scenarios of [`scenario`]; a [`Program`] says which Electrum runs.
//!
//! Who uses whom: [`scenario`] uses this module and `view`; this module uses `view` (and
//! re-exports it); `view` uses neither.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use bitcoin::{Network, OutPoint, Txid};
use serde_json::Value;

pub mod scenario;
mod view;

pub use view::{expected_view, fund, sats, script_set, wallet_delta, View};

/// The bound on one `electrum` command.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(60);
/// The bound on waiting for the wallet to reach an expected state.
pub const SYNC_WAIT: Duration = Duration::from_secs(60);

/// How to run one Electrum: a program, the arguments before Electrum's own, and extra
/// environment variables.
#[derive(Clone, Debug)]
pub struct Program {
    exe: OsString,
    pre: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
}

impl Program {
    /// Debian's `electrum` on `PATH`.
    pub fn installed() -> Program {
        Program {
            exe: "electrum".into(),
            pre: Vec::new(),
            env: Vec::new(),
        }
    }

    /// `python CHECKOUT/run_electrum` (a git checkout run in place, its dependencies in
    /// `python`'s virtualenv), writing no bytecode into the checkout.
    pub fn checkout(python: &Path, checkout: &Path) -> Program {
        Program {
            exe: python.into(),
            pre: vec![checkout.join("run_electrum").into()],
            env: vec![("PYTHONDONTWRITEBYTECODE".into(), "1".into())],
        }
    }

    /// A command running this Electrum with `args`.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.exe);
        c.args(&self.pre);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }
}

/// One Electrum data directory (`-D`), its wallet file, and the daemon when running.
pub struct Wallet {
    program: Program,
    pub dir: PathBuf,
    pub wallet: PathBuf,
    daemon: Option<Child>,
}

impl Wallet {
    /// Restores the wallet of `seed` offline in a fresh directory, with `program`.
    pub fn restore(program: Program, name: &str, seed: &str) -> Wallet {
        // Short path: the daemon's RPC socket lives in it (Unix socket paths are short).
        let mut base = std::env::temp_dir();
        if base.as_os_str().len() > 60 {
            base = PathBuf::from("/tmp");
        }
        let dir = base.join(format!("fxew-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("electrum dir");
        let wallet = dir.join("wallet");
        let w = Wallet {
            program,
            dir,
            wallet,
            daemon: None,
        };
        let path = w.wallet_arg();
        w.cli(&["--offline", "restore", seed, "-w", &path])
            .expect("restore");
        w.cli(&["--offline", "setconfig", "log_to_file", "true"])
            .expect("setconfig");
        w
    }

    pub fn wallet_arg(&self) -> String {
        self.wallet.to_str().expect("utf-8").to_string()
    }

    /// Runs `electrum --regtest -D DIR args...` with a timeout; its stdout, or the error.
    pub fn cli(&self, args: &[&str]) -> Result<String, String> {
        let out = self.dir.join("cli.out");
        let err = self.dir.join("cli.err");
        let mut child = self
            .program
            .command()
            .arg("--regtest")
            .arg("-D")
            .arg(&self.dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(File::create(&out).expect("out"))
            .stderr(File::create(&err).expect("err"))
            .spawn()
            .expect("spawn electrum");
        let deadline = Instant::now() + CMD_TIMEOUT;
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("electrum {args:?} timed out"));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = std::fs::read_to_string(&out).unwrap_or_default();
        let stderr = std::fs::read_to_string(&err).unwrap_or_default();
        if status.success() {
            Ok(stdout)
        } else {
            Err(format!("electrum {args:?}: {status}: {stdout}{stderr}"))
        }
    }

    /// A wallet command (`-w PATH` added) whose output is JSON.
    pub fn wcall(&self, args: &[&str]) -> Value {
        let path = self.wallet_arg();
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["-w", &path]);
        let out = self.cli(&a).unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{args:?}: {e}: {out:?}"))
    }

    /// The wallet's addresses (`receiving` or change), parsed.
    pub fn addresses(&self, change: bool) -> Vec<bitcoin::Address> {
        let flag = if change { "--change" } else { "--receiving" };
        let v = self.wcall(&["--offline", "listaddresses", flag]);
        v.as_array()
            .expect("address list")
            .iter()
            .map(|a| {
                bitcoin::Address::from_str(a.as_str().expect("string"))
                    .expect("address")
                    .require_network(Network::Regtest)
                    .expect("regtest address")
            })
            .collect()
    }

    /// Starts the daemon (in the foreground, as our child) on one server, `proto` `t` or
    /// `s`, optionally pinning the certificate's SHA-256 fingerprint; waits until it answers
    /// and then loads the wallet.
    pub fn start_daemon(&mut self, port: u16, proto: &str, fingerprint: Option<&str>) {
        let log = File::create(self.dir.join("daemon.log")).expect("daemon log");
        let mut cmd = self.program.command();
        cmd.arg("--regtest").arg("-D").arg(&self.dir).args([
            "daemon",
            "-1",
            "-s",
            &format!("127.0.0.1:{port}:{proto}"),
        ]);
        if let Some(f) = fingerprint {
            cmd.args(["--serverfingerprint", f]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn electrum daemon");
        self.daemon = Some(child);
        let deadline = Instant::now() + CMD_TIMEOUT;
        loop {
            if self.cli(&["getinfo"]).is_ok() {
                break;
            }
            if let Some(s) = self
                .daemon
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("electrum daemon exited: {s}\n{}", self.daemon_log());
            }
            assert!(
                Instant::now() < deadline,
                "electrum daemon did not answer\n{}",
                self.daemon_log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let path = self.wallet_arg();
        let loaded = self
            .cli(&["load_wallet", "-w", &path])
            .expect("load_wallet");
        // Electrum 4.3 answers `true`, later versions the wallet's path.
        assert!(
            loaded.trim() == "true" || loaded.trim() == path,
            "load_wallet: {loaded}"
        );
    }

    /// The daemon's output and its log files.
    pub fn daemon_log(&self) -> String {
        let mut s = std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default();
        if let Ok(rd) = std::fs::read_dir(self.dir.join("regtest").join("logs")) {
            for e in rd.flatten() {
                s.push_str(&format!("\n--- {}\n", e.path().display()));
                s.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
        s
    }

    /// Asserts that Electrum's log holds no sign of a server problem: no failed SPV
    /// (merkle or header) check, no disconnection, no error or traceback.
    pub fn assert_log_clean(&self) {
        let log = self.daemon_log();
        let bad: Vec<&str> = log
            .lines()
            .filter(|l| {
                let l = l.to_ascii_lowercase();
                [
                    " error |",
                    " warning |",
                    " critical |",
                    "traceback",
                    "disconnecting",
                    "verification failed",
                    "merkle",
                    "mismatch",
                ]
                .iter()
                .any(|p| l.contains(p))
                    && !l.contains("requested merkle")
            })
            .collect();
        assert!(
            bad.is_empty(),
            "Electrum logged problems:\n{}",
            bad.join("\n")
        );
    }

    /// Waits until the daemon is connected, at `tip`, and the wallet is synchronized.
    pub fn wait_synced(&self, tip: u32) {
        let deadline = Instant::now() + SYNC_WAIT;
        loop {
            let info: Value = self
                .cli(&["getinfo"])
                .ok()
                .and_then(|o| serde_json::from_str(o.trim()).ok())
                .unwrap_or(Value::Null);
            let synced = info["connected"] == Value::Bool(true)
                && info["blockchain_height"] == tip
                && info["server_height"] == tip
                && self.wcall(&["is_synchronized"]) == Value::Bool(true);
            if synced {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "electrum did not sync to {tip}: {info}\n{}",
                self.daemon_log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The wallet as Electrum shows it.
    pub fn view(&self) -> View {
        let bal = self.wcall(&["getbalance"]);
        let hist = self.wcall(&["onchain_history"]);
        let utxos = self.wcall(&["listunspent"]);
        let mut history = BTreeMap::new();
        // Electrum 4.3: {"transactions": [...], "summary": ...}; later versions: the list.
        let items = match hist.get("transactions") {
            Some(t) => t,
            None => &hist,
        };
        for item in items.as_array().expect("transactions") {
            let txid = Txid::from_str(item["txid"].as_str().expect("txid")).expect("txid");
            let height = item["height"].as_i64().expect("height");
            let confirmations = item["confirmations"].as_i64().expect("confirmations");
            let value = sats(&item["bc_value"]);
            history.insert(txid, (height, confirmations, value));
        }
        let mut unspent = BTreeMap::new();
        for u in utxos.as_array().expect("utxos") {
            let txid =
                Txid::from_str(u["prevout_hash"].as_str().expect("prevout_hash")).expect("txid");
            let vout = u["prevout_n"].as_u64().expect("prevout_n") as u32;
            let height = u["height"].as_i64().expect("height");
            unspent.insert(OutPoint::new(txid, vout), (sats(&u["value"]), height));
        }
        View {
            confirmed: sats(&bal["confirmed"]),
            unconfirmed: if bal.get("unconfirmed").is_some() {
                sats(&bal["unconfirmed"])
            } else {
                0
            },
            history,
            unspent,
        }
    }

    /// Waits until Electrum's view equals `expected()` (recomputed each time).
    pub fn wait_view(&self, what: &str, mut expected: impl FnMut() -> View) -> View {
        let deadline = Instant::now() + SYNC_WAIT;
        loop {
            let want = expected();
            let got = self.view();
            if got == want {
                return got;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{what}: Electrum's wallet never matched the stand-in's truth\n\
                     expected {want:#?}\ngot {got:#?}\n--- Electrum log:\n{}",
                    self.daemon_log()
                );
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Wallet {
    fn drop(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = self.cli(&["stop"]);
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if !std::thread::panicking() && std::env::var_os("ELECTRUM_WALLET_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("electrum dir kept: {}", self.dir.display());
        }
    }
}

impl Wallet {
    /// A wallet command (`-w PATH` added) whose output is raw text.
    pub fn wcall_raw(&self, args: &[&str]) -> String {
        let path = self.wallet_arg();
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["-w", &path]);
        self.cli(&a).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Asserts that Electrum's log says every connection negotiated protocol `version`
    /// (after `server.version`, Electrum logs `connection established. version: V` where
    /// V is the server's answer, `['FerrumX x.y.z', '1.7']`).
    pub fn assert_negotiated(&self, version: &str) {
        let log = self.daemon_log();
        let want = format!(", '{version}']");
        let got: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("connection established. version:"))
            .collect();
        assert!(
            !got.is_empty() && got.iter().all(|l| l.contains(&want)),
            "Electrum did not negotiate protocol {version}: {got:#?}"
        );
    }
}
