//! The real Electrum wallet (Debian's `electrum` 4.3.4, protocol 1.4, command-line daemon on
//! regtest) against FerrumX over TCP and SSL: a wallet restored from a fixed seed, funded by
//! the stand-in with real transactions across several blocks (before and after the wallet
//! connects, one left unconfirmed), must show exactly the balance, history and UTXOs the
//! stand-in's truth says; then it pays through FerrumX, and must follow the payment into the
//! mempool, into a block and through a reorg.
//!
//! Checked against the stand-in (never against FerrumX's own answers): confirmed and
//! unconfirmed balance as Electrum 4.3 sums them, every `onchain_history` entry (txid,
//! height, confirmations, value), every `listunspent` coin (outpoint, value, height), the
//! payment reaching the stand-in's mempool, height 0 / -1 (unconfirmed parent) for mempool
//! transactions, 1- and 3-block reorgs, SSL with the self-signed certificate pinned by
//! fingerprint, dynamic fees from `blockchain.estimatefee`, and a clean Electrum log (no
//! failed merkle or header check, no disconnection, no error).
//!
//! Peer-missing policy: without `electrum` on PATH the tests FAIL when `CI` is set and are
//! skipped loudly otherwise (`apt-get install electrum`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use bitcoin::hashes::{sha256, Hash};
use bitcoin::{Network, OutPoint, ScriptBuf, Txid};
use ferrumx_simnode::fund::pay_to_scripts;
use ferrumx_simnode::{GenParams, Node, ScriptHash};
use ferrumx_testkit::electrumx::require;
use ferrumx_testkit::Electrum;
use serde_json::Value;

/// A fixed Electrum seed (segwit: P2WPKH addresses), for the TCP wallet.
const SEED_SEGWIT: &str = "gym praise ten simple will lesson always junior castle use unusual give";
/// A fixed Electrum seed (standard: P2PKH addresses), for the SSL wallet.
const SEED_STANDARD: &str =
    "finger license day arrow huge expire boring drum tag talent vacant blue";

/// The bound on one `electrum` command.
const CMD_TIMEOUT: Duration = Duration::from_secs(60);
/// The bound on waiting for the wallet to reach an expected state.
const SYNC_WAIT: Duration = Duration::from_secs(60);

/// Whether `electrum` can run here; applies the peer-missing policy.
fn electrum_available() -> bool {
    let found = Command::new("electrum")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    require(
        found.then_some(()),
        "electrum not installed (apt-get install --no-install-recommends electrum)",
    )
    .is_some()
}

/// One Electrum data directory (`-D`), its wallet file, and the daemon when running.
struct Wallet {
    dir: PathBuf,
    wallet: PathBuf,
    daemon: Option<Child>,
}

impl Wallet {
    /// Restores the wallet of `seed` offline in a fresh directory.
    fn restore(name: &str, seed: &str) -> Wallet {
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

    fn wallet_arg(&self) -> String {
        self.wallet.to_str().expect("utf-8").to_string()
    }

    /// Runs `electrum --regtest -D DIR args...` with a timeout; its stdout, or the error.
    fn cli(&self, args: &[&str]) -> Result<String, String> {
        let out = self.dir.join("cli.out");
        let err = self.dir.join("cli.err");
        let mut child = Command::new("electrum")
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
    fn wcall(&self, args: &[&str]) -> Value {
        let path = self.wallet_arg();
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["-w", &path]);
        let out = self.cli(&a).unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{args:?}: {e}: {out:?}"))
    }

    /// The wallet's addresses (`receiving` or change), parsed.
    fn addresses(&self, change: bool) -> Vec<bitcoin::Address> {
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
    fn start_daemon(&mut self, port: u16, proto: &str, fingerprint: Option<&str>) {
        let log = File::create(self.dir.join("daemon.log")).expect("daemon log");
        let mut cmd = Command::new("electrum");
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
        assert_eq!(loaded.trim(), "true", "load_wallet");
    }

    /// The daemon's output and its log files.
    fn daemon_log(&self) -> String {
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
    fn assert_log_clean(&self) {
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
    fn wait_synced(&self, tip: u32) {
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
    fn view(&self) -> View {
        let bal = self.wcall(&["getbalance"]);
        let hist = self.wcall(&["onchain_history"]);
        let utxos = self.wcall(&["listunspent"]);
        let mut history = BTreeMap::new();
        for item in hist["transactions"].as_array().expect("transactions") {
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
    fn wait_view(&self, what: &str, mut expected: impl FnMut() -> View) -> View {
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

/// A BTC amount as Electrum prints it ("1.5", "-0.00012", with msat digits) → satoshis.
fn sats(v: &Value) -> i64 {
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        other => panic!("not an amount: {other}"),
    };
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r.to_string()),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let mut frac = frac.to_string();
    while frac.len() < 8 {
        frac.push('0');
    }
    let (frac, msat) = frac.split_at(8);
    assert!(msat.chars().all(|c| c == '0'), "sub-satoshi amount {v}");
    let n =
        int.parse::<i64>().expect("amount") * 100_000_000 + frac.parse::<i64>().expect("amount");
    if neg {
        -n
    } else {
        n
    }
}

/// What the wallet shows: balances (sat), history txid → (height, confirmations, value) and
/// UTXOs outpoint → (value, height).
#[derive(Debug, PartialEq, Eq)]
struct View {
    confirmed: i64,
    unconfirmed: i64,
    history: BTreeMap<Txid, (i64, i64, i64)>,
    unspent: BTreeMap<OutPoint, (i64, i64)>,
}

/// The view Electrum must show for `scripts`, computed from the stand-in's truth and mempool
/// (Electrum's rules: unconfirmed height 0, or -1 with an unconfirmed input; coins spent by
/// mempool transactions are gone; balances as `AddressSynchronizer.get_balance` sums them).
fn expected_view(n: &Node, scripts: &BTreeSet<ScriptBuf>) -> View {
    let tip = i64::from(n.tip_height());
    let mut history: BTreeMap<Txid, (i64, i64, i64)> = BTreeMap::new();
    let mut unspent = BTreeMap::new();
    for s in scripts {
        let sh = ScriptHash::of(s);
        for h in n.truth.history(&sh, None) {
            let height = i64::from(h.height);
            history.insert(h.txid, (height, tip - height + 1, 0));
        }
        for u in n.truth.utxos(&sh, None) {
            unspent.insert(u.outpoint, (u.value as i64, i64::from(u.height)));
        }
    }
    // Values of confirmed transactions: our outputs minus our inputs.
    for (txid, entry) in history.iter_mut() {
        let (tx, _) = n.find_tx(txid).expect("confirmed tx");
        entry.2 = wallet_delta(n, &tx, scripts);
    }
    for e in n.mempool.entries() {
        let mut ours = false;
        let mut unconf_parent = false;
        for input in &e.tx.input {
            if n.mempool.contains(&input.previous_output.txid) {
                unconf_parent = true;
            }
            if let Some(c) = n.prevout_lookup(&input.previous_output) {
                if scripts.contains(&c.txout.script_pubkey) {
                    ours = true;
                    unspent.remove(&input.previous_output);
                }
            }
        }
        for (vout, o) in e.tx.output.iter().enumerate() {
            if scripts.contains(&o.script_pubkey) {
                ours = true;
                let height = if unconf_parent { -1 } else { 0 };
                unspent.insert(
                    OutPoint::new(e.txid, vout as u32),
                    (o.value.to_sat() as i64, height),
                );
            }
        }
        if ours {
            let height = if unconf_parent { -1 } else { 0 };
            history.insert(e.txid, (height, 0, wallet_delta(n, &e.tx, scripts)));
        }
    }
    // Mempool outputs spent in the mempool were added then removed above only when the
    // spender came later in iteration order: drop any still listed.
    unspent.retain(|op, _| n.mempool.spender(op).is_none());
    // Electrum 4.3 (`AddressSynchronizer.get_balance`) sums the unspent coins: confirmed
    // ones are confirmed; an unconfirmed one counts as confirmed up to the value of our
    // confirmed coins its transaction spends (change of our own payments), the rest as
    // unconfirmed.
    let mut confirmed = 0i64;
    let mut unconfirmed = 0i64;
    for (op, (value, height)) in &unspent {
        if *height > 0 {
            confirmed += value;
            continue;
        }
        let tx = &n.mempool.get(&op.txid).expect("mempool tx").tx;
        let confirmed_spent: i64 = tx
            .input
            .iter()
            .filter(|i| !n.mempool.contains(&i.previous_output.txid))
            .filter_map(|i| n.prevout_lookup(&i.previous_output))
            .filter(|c| scripts.contains(&c.txout.script_pubkey))
            .map(|c| c.txout.value.to_sat() as i64)
            .sum();
        if confirmed_spent >= *value {
            confirmed += value;
        } else {
            confirmed += confirmed_spent;
            unconfirmed += value - confirmed_spent;
        }
    }
    View {
        confirmed,
        unconfirmed,
        history,
        unspent,
    }
}

/// What `tx` adds to (or takes from) the wallet of `scripts`.
fn wallet_delta(n: &Node, tx: &bitcoin::Transaction, scripts: &BTreeSet<ScriptBuf>) -> i64 {
    let out: i64 = tx
        .output
        .iter()
        .filter(|o| scripts.contains(&o.script_pubkey))
        .map(|o| o.value.to_sat() as i64)
        .sum();
    let inp: i64 = tx
        .input
        .iter()
        .filter_map(|i| n.prevout_lookup(&i.previous_output))
        .filter(|c| scripts.contains(&c.txout.script_pubkey))
        .map(|c| c.txout.value.to_sat() as i64)
        .sum();
    out - inp
}

/// Pays `outs` from the stand-in's wallet (fee rate `feerate` sat/vB); the txid.
fn fund(n: &mut Node, outs: &[(&bitcoin::Address, u64)], feerate: u64) -> Txid {
    let outputs: Vec<(ScriptBuf, u64)> =
        outs.iter().map(|(a, v)| (a.script_pubkey(), *v)).collect();
    let (tx, _) = pay_to_scripts(n, &outputs, feerate).expect("fund");
    tx.compute_txid()
}

fn script_set(addrs: &[&[bitcoin::Address]]) -> BTreeSet<ScriptBuf> {
    addrs
        .iter()
        .flat_map(|a| a.iter().map(bitcoin::Address::script_pubkey))
        .collect()
}

#[test]
fn electrum_wallet_over_tcp() {
    if !electrum_available() {
        return;
    }
    let started = Instant::now();
    let mut w = Wallet::restore("tcp", SEED_SEGWIT);
    let recv = w.addresses(false);
    let change = w.addresses(true);
    assert!(recv.len() >= 8 && change.len() >= 3, "gap limits");
    let scripts = script_set(&[&recv, &change]);

    // Funding before FerrumX starts: several blocks, generated traffic around it, address
    // reuse, several of our outputs in one transaction, change addresses too.
    let mut node = Node::generate(GenParams::fixture(61));
    let t1 = fund(
        &mut node,
        &[(&recv[0], 150_000_000), (&recv[1], 25_000_000)],
        3,
    );
    node.add_traffic(4);
    node.mine(1).expect("mine");
    let t2 = fund(
        &mut node,
        &[(&recv[2], 1_230_000), (&change[0], 30_000_000)],
        7,
    );
    let t3 = fund(&mut node, &[(&recv[0], 4_321)], 1);
    node.add_traffic(4);
    node.mine(1).expect("mine");
    node.add_traffic(3);
    node.mine(1).expect("mine");
    let t4 = fund(&mut node, &[(&recv[5], 77_777_777)], 2);
    node.mine(1).expect("mine");
    let tip = node.tip_height();
    for t in [t1, t2, t3, t4] {
        assert!(node.locate(&t).is_some(), "{t} confirmed");
    }

    let e = Electrum::start("electrum-wallet-tcp", node, &[]);
    w.start_daemon(e.tcp, "t", None);
    w.wait_synced(tip);
    let v = w.wait_view("initial sync", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    assert_eq!(v.history.len(), 4, "{v:#?}");
    assert_eq!(
        v.confirmed,
        150_000_000 + 25_000_000 + 1_230_000 + 30_000_000 + 4_321 + 77_777_777
    );
    eprintln!(
        "[electrum tcp] initial sync checked after {:?}",
        started.elapsed()
    );

    // Funding while the wallet is connected: one confirmed, one left unconfirmed.
    let t5 = e.sim.with_node(|n| {
        let t = fund(n, &[(&recv[3], 50_000_000)], 4);
        n.add_traffic(3);
        n.mine(1).expect("mine");
        t
    });
    let t6 = e
        .sim
        .with_node(|n| fund(n, &[(&recv[4], 7_000_000), (&change[1], 1_000_000)], 5));
    let v = w.wait_view("notified funding", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    assert_eq!(v.history[&t5].0, i64::from(tip + 1));
    assert_eq!(v.history[&t6].0, 0, "unconfirmed funding at height 0");
    assert_eq!(v.unconfirmed, 8_000_000);
    eprintln!(
        "[electrum tcp] notified funding checked after {:?}",
        started.elapsed()
    );

    // Pay through FerrumX to an address of the stand-in's choosing.
    let dest = e.sim.with_node(|n| {
        let a = n.gen.address(7).expect("stand-in address");
        bitcoin::Address::from_script(&a.script_pubkey, Network::Regtest).expect("address")
    });
    let raw = w.wcall_raw(&["payto", &dest.to_string(), "0.12345", "--feerate", "2"]);
    let txid_s = w.cli(&["broadcast", raw.trim()]).expect("broadcast");
    let paid = Txid::from_str(txid_s.trim().trim_matches('"')).expect("txid");
    assert!(
        e.sim.with_node(|n| n.mempool.contains(&paid)),
        "the payment reached the stand-in's mempool"
    );
    let v = w.wait_view("payment unconfirmed", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    assert!(
        v.history[&paid].0 <= 0,
        "unconfirmed payment: {:?}",
        v.history[&paid]
    );
    assert!(
        v.history[&paid].2 < -12_345_000,
        "payment value {:?}",
        v.history[&paid]
    );

    // A second payment spending the first one's unconfirmed change: an unconfirmed parent,
    // so the server reports it at height -1.
    let change_coin = v
        .unspent
        .keys()
        .find(|op| op.txid == paid)
        .copied()
        .expect("the payment's change");
    let dest2 = e.sim.with_node(|n| {
        let a = n.gen.address(8).expect("stand-in address");
        bitcoin::Address::from_script(&a.script_pubkey, Network::Regtest).expect("address")
    });
    let raw = w.wcall_raw(&[
        "payto",
        &dest2.to_string(),
        "0.01",
        "--feerate",
        "3",
        "--from_coins",
        &format!("{}:{}", change_coin.txid, change_coin.vout),
    ]);
    let txid_s = w.cli(&["broadcast", raw.trim()]).expect("broadcast");
    let paid2 = Txid::from_str(txid_s.trim().trim_matches('"')).expect("txid");
    assert!(e.sim.with_node(|n| n.mempool.contains(&paid2)));
    let v = w.wait_view("chained payment unconfirmed", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    assert_eq!(v.history[&paid2].0, -1, "unconfirmed parent: height -1");

    let mined = e.sim.with_node(|n| {
        n.mine(1).expect("mine");
        n.tip_height()
    });
    let v = w.wait_view("payment confirmed", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    assert_eq!(v.history[&paid].0, i64::from(mined));
    assert_eq!(
        v.history[&t6].0,
        i64::from(mined),
        "the unconfirmed funding was mined too"
    );
    assert_eq!(
        v.history[&paid2].0,
        i64::from(mined),
        "the chained payment too"
    );

    // A reorg dropping that block; the payment returns to the mempool or is re-mined.
    let where_now = e.sim.with_node(|n| {
        n.reorg(1, 2).expect("reorg");
        match n.locate(&paid) {
            Some(ferrumx_simnode::node::TxLocation::Mempool) => "mempool".to_string(),
            Some(ferrumx_simnode::node::TxLocation::Block { hash, .. }) => {
                format!("block {}", n.block(&hash).map_or(0, |b| b.height))
            }
            None => "gone".to_string(),
        }
    });
    eprintln!("[electrum tcp] after the reorg the payment is in the {where_now}");
    w.wait_view("after reorg", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    // And once more, mined for good.
    e.sim.with_node(|n| n.mine(1).expect("mine"));
    let v = w.wait_view("after reorg and mining", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    assert!(v.history[&paid].0 > 0, "payment confirmed at the end");

    // A deeper reorg (3 blocks replaced by 4), then the wallet must agree again.
    e.sim.with_node(|n| n.reorg(3, 4).expect("reorg"));
    w.wait_view("after a 3-block reorg", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    w.assert_log_clean();
    drop(w); // the daemon stops before the server does
    eprintln!("[electrum tcp] done in {:?}", started.elapsed());
}

#[test]
fn electrum_wallet_over_ssl() {
    if !electrum_available() {
        return;
    }
    let started = Instant::now();
    let mut w = Wallet::restore("ssl", SEED_STANDARD);
    let recv = w.addresses(false);
    let change = w.addresses(true);
    let scripts = script_set(&[&recv, &change]);
    let mut node = Node::generate(GenParams::fixture(62));
    fund(
        &mut node,
        &[(&recv[0], 200_000_000), (&recv[2], 3_000_000)],
        2,
    );
    node.mine(1).expect("mine");
    fund(&mut node, &[(&change[0], 12_345_678)], 3);
    node.mine(1).expect("mine");
    fund(&mut node, &[(&recv[1], 5_000_000)], 2);
    let tip = node.tip_height();

    let e = Electrum::start("electrum-wallet-ssl", node, &[]);
    // Pin FerrumX's self-signed certificate by its SHA-256 fingerprint (Electrum would trust
    // it on first use anyway and store it in DIR/certs).
    let fp = sha256::Hash::hash(&e.cert_der).to_string();
    w.start_daemon(e.ssl, "s", Some(&fp));
    w.wait_synced(tip);
    let v = w.wait_view("ssl sync", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    assert_eq!(v.confirmed, 200_000_000 + 3_000_000 + 12_345_678);
    assert_eq!(v.unconfirmed, 5_000_000);
    assert_eq!(v.history.len(), 3);
    let pinned = std::fs::read_to_string(w.dir.join("regtest").join("certs").join("127.0.0.1"))
        .expect("Electrum pinned the certificate in DIR/regtest/certs/127.0.0.1");
    assert!(pinned.contains("BEGIN CERTIFICATE"), "pinned: {pinned}");

    // Over SSL too: a block confirming the pending funding, then a payment (P2PKH inputs)
    // through FerrumX, confirmed by the next block.
    e.sim.with_node(|n| n.mine(1).expect("mine"));
    w.wait_view("ssl: funding confirmed", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    let dest = e.sim.with_node(|n| {
        let a = n.gen.address(9).expect("stand-in address");
        bitcoin::Address::from_script(&a.script_pubkey, Network::Regtest).expect("address")
    });
    // Dynamic fees this time: the rate comes from FerrumX's `blockchain.estimatefee`.
    let info: Value =
        serde_json::from_str(w.cli(&["getinfo"]).expect("getinfo").trim()).expect("getinfo JSON");
    let fee_per_kb = info["fee_per_kb"]
        .as_u64()
        .unwrap_or_else(|| panic!("Electrum got no fee estimate from FerrumX: {info}"));
    let raw = w.wcall_raw(&["payto", &dest.to_string(), "1.1"]);
    let txid_s = w.cli(&["broadcast", raw.trim()]).expect("broadcast");
    let paid = Txid::from_str(txid_s.trim().trim_matches('"')).expect("txid");
    let (fee, vsize) = e.sim.with_node(|n| {
        let entry = n.mempool.get(&paid).expect("the payment is in the mempool");
        (entry.fee, entry.vsize)
    });
    let rate = fee * 1000 / vsize;
    assert!(
        rate * 100 >= fee_per_kb * 95 && rate * 100 <= fee_per_kb * 105,
        "payment fee rate {rate} sat/kvB, Electrum's estimate {fee_per_kb}"
    );
    let v = w.wait_view("ssl: payment unconfirmed", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    assert_eq!(v.history[&paid].0, 0);
    let mined = e.sim.with_node(|n| {
        n.mine(1).expect("mine");
        n.tip_height()
    });
    let v = w.wait_view("ssl: payment confirmed", || {
        e.sim.with_node(|n| expected_view(n, &scripts))
    });
    assert_eq!(v.history[&paid].0, i64::from(mined));
    assert_eq!(v.history.len(), 4);
    w.assert_log_clean();
    drop(w);
    eprintln!("[electrum ssl] done in {:?}", started.elapsed());
}

impl Wallet {
    /// A wallet command (`-w PATH` added) whose output is raw text.
    fn wcall_raw(&self, args: &[&str]) -> String {
        let path = self.wallet_arg();
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["-w", &path]);
        self.cli(&a).unwrap_or_else(|e| panic!("{e}"))
    }
}
