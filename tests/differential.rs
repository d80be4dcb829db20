//! Differential testing: FerrumX against a real ElectrumX 1.20 (`e-x==1.20.0` from PyPI,
//! installed by `contrib/electrumx/install.sh`), both serving ONE stand-in (a fixture chain
//! with mempool traffic). The same requests, pipelined, go to both servers in protocols 1.4
//! and 1.6, and the answers must be equal JSON values apart from the differences `ALLOWED`
//! lists (mirroring `docs/compatibility.md`).
//!
//! ElectrumX is found through `FERRUMX_ELECTRUMX` (the path of `electrumx_server`) or in
//! `${FERRUMX_CACHE:-$HOME/.cache/ferrumx}/electrumx-venv`. Without it the test fails when
//! `CI` is set, and is skipped (loudly) otherwise.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant};

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::hashes::Hash;
use bitcoin::{Transaction, Txid};
use ferrumx_simnode::{GenParams, Node, ScriptHash};
use ferrumx_testkit::electrumx::{self, require, side_by_side_env};
use ferrumx_testkit::{
    free_port, poll_until, prevout_script, sort_unconfirmed, touched_by, Client, Electrum, Process,
    RpcErr, TempDir,
};
use serde_json::{json, Value};

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

/// Payments (one transaction each) to one script, mined 100 to a block: its history.
const LONG_HISTORY: usize = 1_100;

/// Gives one script hash a history of more than 1,000 entries (the issue asks for such
/// histories in the comparison; the fixture's hot script hashes have fewer).
fn long_history(node: &mut Node) {
    let script = bitcoin::ScriptBuf::new_p2wsh(&bitcoin::WScriptHash::from_byte_array([0x42; 32]));
    for i in 0..LONG_HISTORY {
        ferrumx_simnode::fund::pay_to_scripts(node, &[(script.clone(), 20_000 + i as u64)], 2)
            .expect("pay the long-history script");
        if i % 100 == 99 {
            node.mine(1).expect("mine");
        }
    }
    node.mine(1).expect("mine");
    let sh = ferrumx_simnode::ScriptHash::of(&script);
    let n = node.truth.history(&sh, None).len();
    assert!(n >= 1_000, "the long history has {n} entries");
}

/// MAX_SEND for both servers: ElectrumX's floor, so that the limits are reached with a
/// test-sized chain. A history is refused above `MAX_SEND / 99` entries (ElectrumX's
/// "history too large"), a response above MAX_SEND bytes ("response too large").
const MAX_SEND: usize = 350_000;
/// Payments to the script of [`oversized`]: more entries than a history may have.
const TOO_LONG_HISTORY: usize = MAX_SEND / 99 + 65;
/// Outputs of the wide transaction of [`oversized`]: its verbose form (one JSON object per
/// output, about 250 bytes each) exceeds MAX_SEND; its raw hex (31 bytes an output) does not.
const WIDE_OUTPUTS: usize = 2_000;

/// What reaches the response limits: a script hash whose history is too long to send, and
/// a transaction too wide to send verbose. Returns them (both mined).
fn oversized(node: &mut Node) -> (ferrumx_simnode::ScriptHash, Txid) {
    let script = bitcoin::ScriptBuf::new_p2wsh(&bitcoin::WScriptHash::from_byte_array([0x43; 32]));
    for i in 0..TOO_LONG_HISTORY {
        ferrumx_simnode::fund::pay_to_scripts(node, &[(script.clone(), 20_000 + i as u64)], 2)
            .expect("pay the over-long history's script");
        if i % 250 == 249 {
            node.mine(1).expect("mine");
        }
    }
    let wide = bitcoin::ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([0x44; 20]));
    let outputs = vec![(wide, 1_000); WIDE_OUTPUTS];
    let (tx, _) = ferrumx_simnode::fund::pay_to_scripts(node, &outputs, 2).expect("wide tx");
    node.mine(1).expect("mine");
    let sh = ferrumx_simnode::ScriptHash::of(&script);
    assert!(node.truth.history(&sh, None).len() > MAX_SEND / 99);
    (sh, tx.compute_txid())
}

// ----------------------------------------------------------------------------------------
// ElectrumX as a child process.

/// A running ElectrumX, killed on drop (its log printed if the test fails).
struct ElectrumX {
    process: Process,
    port: u16,
    _dir: TempDir,
}

impl ElectrumX {
    fn start(exe: &Path, daemon_url: &str, extra: &[(&str, &str)]) -> ElectrumX {
        let dir = TempDir::new("differential-electrumx");
        let db = dir.path().join("db");
        std::fs::create_dir_all(&db).expect("db dir");
        let port = free_port();
        let mut polls = vec![
            ("DAEMON_POLL_INTERVAL_BLOCKS", "100"),
            ("DAEMON_POLL_INTERVAL_MEMPOOL", "100"),
        ];
        polls.extend_from_slice(extra);
        let services = format!("tcp://127.0.0.1:{port}");
        let vars = side_by_side_env(&db, daemon_url, &services, &polls);
        let ex = ElectrumX {
            process: Process::spawn("electrumx", exe, &vars),
            port,
            _dir: dir,
        };
        ex.wait_for("TCP server listening on", Duration::from_secs(180));
        ex
    }

    /// Waits for a log line (either pipe) containing `needle` (any since the start).
    fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        match self
            .process
            .wait_line(0, timeout, |_, l| l.text.contains(needle))
        {
            Ok((_, line)) => line.text,
            Err(e) => panic!("ElectrumX did not log {needle:?}: {e}"),
        }
    }

    fn count(&self, needle: &str) -> usize {
        self.process.count_any(needle)
    }
}

// ----------------------------------------------------------------------------------------
// Sending the same requests to both servers.

type Res = Result<Value, RpcErr>;
/// Something done to the stand-in's chain or mempool.
type Event = Box<dyn Fn(&mut Node)>;
type Call = (String, Value);

fn call(method: &str, params: Value) -> Call {
    (method.to_string(), params)
}

/// A session that negotiated `version`.
fn session(port: u16, version: &str) -> Client {
    let mut c = Client::tcp(port);
    c.negotiate("ferrumx-differential", version);
    c
}

/// `calls` on one server: split over `conns` sessions, each pipelining in chunks.
fn run_on(port: u16, version: &str, calls: &[Call], conns: usize) -> Vec<Res> {
    let per = calls.len().div_ceil(conns.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = calls
            .chunks(per)
            .map(|part| {
                s.spawn(move || {
                    let mut c = session(port, version);
                    // A sliding window of two chunks in flight, so that ElectrumX's send
                    // buffer keeps filling (it holds back a short tail up to 1 s).
                    let mut out = Vec::with_capacity(part.len());
                    let mut in_flight: VecDeque<Vec<u64>> = VecDeque::new();
                    for chunk in part.chunks(200) {
                        in_flight.push_back(
                            chunk.iter().map(|(m, p)| c.request(m, p.clone())).collect(),
                        );
                        if in_flight.len() > 1 {
                            let ids = in_flight.pop_front().expect("chunk");
                            out.extend(ids.into_iter().map(|id| c.response(id)));
                        }
                    }
                    for ids in in_flight {
                        out.extend(ids.into_iter().map(|id| c.response(id)));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("client thread"))
            .collect()
    })
}

/// `calls` sent one at a time on one session.
fn run_sequential(port: u16, version: &str, calls: &[Call]) -> Vec<Res> {
    let mut c = session(port, version);
    calls.iter().map(|(m, p)| c.call(m, p.clone())).collect()
}

/// Removes the allowed differences from both answers.
fn normalize(method: &str, fx: &mut Res, ex: &mut Res) -> Result<(), String> {
    match method {
        "server.version" => {
            if let (Ok(f), Ok(e)) = (fx.as_mut(), ex.as_mut()) {
                let (fname, ename) = (f[0].clone(), e[0].clone());
                if !fname.as_str().is_some_and(|s| s.starts_with("FerrumX ")) {
                    return Err(format!("FerrumX's name {fname}"));
                }
                if ename != json!("ElectrumX 1.20.0") {
                    return Err(format!("ElectrumX's name {ename}"));
                }
                f[0] = Value::Null;
                e[0] = Value::Null;
            }
        }
        "server.features" => {
            if let (Ok(Value::Object(f)), Ok(Value::Object(e))) = (fx.as_mut(), ex.as_mut()) {
                let fname = f.remove("server_version").unwrap_or_default();
                let ename = e.remove("server_version").unwrap_or_default();
                if !fname.as_str().is_some_and(|s| s.starts_with("FerrumX ")) {
                    return Err(format!("FerrumX's server_version {fname}"));
                }
                if ename != json!("ElectrumX 1.20.0") {
                    return Err(format!("ElectrumX's server_version {ename}"));
                }
                let (fmax, emax) = (f.remove("protocol_max"), e.remove("protocol_max"));
                if fmax != Some(json!("1.7.0")) {
                    return Err(format!("FerrumX's protocol_max {fmax:?}"));
                }
                if emax != Some(json!("1.6.0")) {
                    return Err(format!("ElectrumX's protocol_max {emax:?}"));
                }
            }
        }
        "blockchain.scripthash.listunspent" => {
            for v in [fx, ex].into_iter().flatten() {
                sort_unconfirmed(v);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Counts and differences of the whole run.
#[derive(Default)]
struct Report {
    compared: BTreeMap<(String, String), usize>,
    diffs: Vec<String>,
}

impl Report {
    fn compare(
        &mut self,
        section: &str,
        version: &str,
        calls: &[Call],
        fx: Vec<Res>,
        ex: Vec<Res>,
    ) {
        assert_eq!(fx.len(), calls.len());
        assert_eq!(ex.len(), calls.len());
        // FERRUMX_DIFF_SHOW=<text>: print the requests containing <text> with both answers.
        let show = std::env::var("FERRUMX_DIFF_SHOW").ok();
        for ((m, p), (mut f, mut e)) in calls.iter().zip(fx.into_iter().zip(ex)) {
            if let Some(t) = &show {
                if format!("{m} {p}").contains(t.as_str()) {
                    eprintln!(
                        "[{version}] {section}: {m} {p}\n    FerrumX:   {}\n    ElectrumX: {}",
                        short(&f),
                        short(&e)
                    );
                }
            }
            *self
                .compared
                .entry((m.clone(), version.to_string()))
                .or_default() += 1;
            if let Err(why) = normalize(m, &mut f, &mut e) {
                self.diffs
                    .push(format!("[{version}] {section}: {m} {p}: {why}"));
                continue;
            }
            if f != e {
                let text = format!(
                    "[{version}] {section}: {m} {p}\n    FerrumX:   {}\n    ElectrumX: {}",
                    short(&f),
                    short(&e)
                );
                self.diffs.push(text);
            }
        }
    }
}

fn short(r: &Res) -> String {
    let s = match r {
        Ok(v) => format!("{v}"),
        Err((c, m)) => format!("error {c} {m:?}"),
    };
    if s.len() > 600 {
        format!("{}…({} chars)", &s[..600], s.len())
    } else {
        s
    }
}

struct Pair {
    fx: u16,
    ex: u16,
}

impl Pair {
    /// The same calls to both, in parallel, pipelined.
    fn both(&self, version: &str, calls: &[Call], conns: usize) -> (Vec<Res>, Vec<Res>) {
        std::thread::scope(|s| {
            let f = s.spawn(|| {
                let t = Instant::now();
                (run_on(self.fx, version, calls, conns), t.elapsed())
            });
            let e = s.spawn(|| {
                let t = Instant::now();
                (run_on(self.ex, version, calls, conns), t.elapsed())
            });
            let (f, ft) = f.join().expect("fx");
            let (e, et) = e.join().expect("ex");
            eprintln!("    FerrumX {ft:.1?}, ElectrumX {et:.1?}");
            (f, e)
        })
    }

    fn compare(&self, r: &mut Report, section: &str, version: &str, calls: &[Call], conns: usize) {
        let t = Instant::now();
        let (f, e) = self.both(version, calls, conns);
        r.compare(section, version, calls, f, e);
        eprintln!(
            "[{version}] {section}: {} requests in {:.1?}",
            calls.len(),
            t.elapsed()
        );
    }

    fn compare_sequential(&self, r: &mut Report, section: &str, version: &str, calls: &[Call]) {
        let (f, e) = std::thread::scope(|s| {
            let f = s.spawn(|| run_sequential(self.fx, version, calls));
            let e = s.spawn(|| run_sequential(self.ex, version, calls));
            (f.join().expect("fx"), e.join().expect("ex"))
        });
        r.compare(section, version, calls, f, e);
    }
}

// ----------------------------------------------------------------------------------------
// What to ask.

/// Every script hash of the chain and of the mempool, plus two nobody uses.
fn all_script_hashes(n: &Node) -> (Vec<ScriptHash>, usize) {
    let mut set: BTreeSet<ScriptHash> = n.truth.script_hashes().copied().collect();
    let confirmed = set.len();
    for e in n.mempool.entries() {
        for out in &e.tx.output {
            set.insert(ScriptHash::of(&out.script_pubkey));
        }
        for i in &e.tx.input {
            set.insert(ScriptHash::of(&prevout_script(n, &i.previous_output)));
        }
    }
    set.insert(ScriptHash([0x42; 32]));
    set.insert(ScriptHash::of(bitcoin::Script::from_bytes(b"never used")));
    let only_mempool = set.len() - confirmed - 2;
    (set.into_iter().collect(), only_mempool)
}

/// Confirmed transactions (txid, height, position), in chain order.
fn chain_txs(n: &Node) -> Vec<(Txid, u32, usize)> {
    (0..=n.tip_height())
        .flat_map(|h| {
            let b = n.block_at(h).expect("block");
            b.txids
                .iter()
                .enumerate()
                .map(move |(i, t)| (*t, h, i))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn hex_of(tx: &Transaction) -> String {
    serialize_hex(tx)
}

fn header_calls(tip: u32) -> (Vec<Call>, Vec<Call>) {
    let t = i64::from(tip);
    let mut plain = Vec::new();
    let mut proofs = Vec::new();
    let heights = [
        0,
        1,
        2,
        7,
        50,
        99,
        100,
        101,
        120,
        t - 2,
        t - 1,
        t,
        t + 1,
        t + 100,
        -1,
    ];
    for h in heights {
        plain.push(call("blockchain.block.header", json!([h])));
        plain.push(call("blockchain.block.header", json!([h, 0])));
        for cp in [h, h + 1, h - 1, t, t + 1, 2 * t, -1] {
            proofs.push(call("blockchain.block.header", json!([h, cp])));
        }
    }
    let ranges = [
        (0, 0),
        (0, 1),
        (0, 10),
        (0, t + 1),
        (0, 2016),
        (0, 2017),
        (0, 100_000),
        (1, 1),
        (5, 20),
        (100, 3),
        (t - 3, 10),
        (t, 1),
        (t, 0),
        (t + 1, 1),
        (t + 2, 5),
        (-1, 1),
        (3, -1),
    ];
    for (s, c) in ranges {
        plain.push(call("blockchain.block.headers", json!([s, c])));
        plain.push(call("blockchain.block.headers", json!([s, c, 0])));
        for cp in [s + c - 1, s + c, t, t + 1, s, 0.max(s - 1)] {
            proofs.push(call("blockchain.block.headers", json!([s, c, cp])));
        }
    }
    // Named arguments and strings for numbers.
    plain.push(call(
        "blockchain.block.header",
        json!({"height": 4, "cp_height": 0}),
    ));
    plain.push(call("blockchain.block.header", json!(["4"])));
    plain.push(call("blockchain.block.header", json!([4.0])));
    plain.push(call("blockchain.block.header", json!([4.5])));
    plain.push(call("blockchain.block.header", json!([true])));
    plain.push(call("blockchain.block.headers", json!(["1", "2"])));
    plain.push(call("blockchain.block.header", json!([null])));
    proofs.push(call(
        "blockchain.block.header",
        json!({"height": 4, "cp_height": t}),
    ));
    proofs.push(call("blockchain.block.header", json!([4, "50"])));
    (plain, proofs)
}

fn misc_calls(version: &str, tip: u32) -> Vec<Call> {
    let mut v = vec![
        call("server.ping", json!([])),
        call("server.banner", json!([])),
        call("server.donation_address", json!([])),
        call("server.features", json!([])),
        call("server.peers.subscribe", json!([])),
        call("server.add_peer", json!([{}])),
        call(
            "server.add_peer",
            json!([{"hosts": {"example.com": {"tcp_port": 50001}}}]),
        ),
        call("blockchain.headers.subscribe", json!([])),
        call("blockchain.headers.subscribe", json!([true])),
        call("mempool.get_fee_histogram", json!([])),
        call("mempool.get_info", json!([])),
        call("blockchain.relayfee", json!([])),
        call("blockchain.transaction.broadcast_package", json!([[]])),
        call("blockchain.transaction.broadcast_package", json!([["00"]])),
        call("blockchain.transaction.broadcast_package", json!(["00"])),
        call(
            "blockchain.scripthash.unsubscribe",
            json!(["00".repeat(32)]),
        ),
        call("server.version", json!(["again", version])),
    ];
    for target in [-1, 0, 1, 2, 3, 5, 6, 10, 25, 144, 1008, 1009, 100_000] {
        v.push(call("blockchain.estimatefee", json!([target])));
    }
    for mode in [
        "ECONOMICAL",
        "CONSERVATIVE",
        "economical",
        "UNSET",
        "bad",
        "",
    ] {
        for target in [1, 2, 6] {
            v.push(call("blockchain.estimatefee", json!([target, mode])));
        }
    }
    v.push(call("blockchain.estimatefee", json!(["2"])));
    v.push(call("blockchain.estimatefee", json!([2, 5])));
    v.push(call("blockchain.estimatefee", json!([])));
    v.push(call("blockchain.estimatefee", json!([2.5])));
    // Errors: arity, names, types, unknown methods.
    let sh = "00".repeat(32);
    let t = tip;
    for (m, p) in [
        ("blockchain.block.header", json!([])),
        ("blockchain.block.headers", json!([1])),
        ("blockchain.block.header", json!([1, 2, 3])),
        ("blockchain.transaction.get_merkle", json!(["x"])),
        ("blockchain.scripthash.get_balance", json!([sh, 1])),
        ("server.ping", json!([1])),
        ("server.add_peer", json!([])),
        ("blockchain.block.header", json!({"cp_height": 5})),
        ("blockchain.block.headers", json!({})),
        (
            "blockchain.block.header",
            json!({"height": 1, "foo": 2, "bar": 3}),
        ),
        (
            "blockchain.scripthash.get_balance",
            json!({"scripthash": sh, "x": 1}),
        ),
        ("server.ping", json!("x")),
        ("server.ping", json!(5)),
        ("server.ping", json!({})),
        ("server.ping", Value::Null),
        ("blockchain.nonsense", json!([])),
        ("", json!([])),
        (
            "blockchain.address.get_balance",
            json!(["mzBc4XEFSdzCDcTxAgf6EZXgsZWpztRhef"]),
        ),
        ("blockchain.numblocks.subscribe", json!([])),
        ("blockchain.utxo.get_address", json!([])),
        ("server.version", json!(["x", "1.3"])),
        ("blockchain.scripthash.get_balance", json!([])),
        ("blockchain.scripthash.get_balance", json!(["zz"])),
        (
            "blockchain.scripthash.get_balance",
            json!(["00".repeat(31)]),
        ),
        (
            "blockchain.scripthash.get_balance",
            json!(["00".repeat(33)]),
        ),
        ("blockchain.scripthash.get_balance", json!([5])),
        (
            "blockchain.scripthash.get_balance",
            json!(["0".repeat(63) + "g"]),
        ),
        (
            "blockchain.scripthash.get_balance",
            json!(["AB".repeat(32)]),
        ),
        ("blockchain.scripthash.get_history", json!([null])),
        ("blockchain.scripthash.listunspent", json!([[]])),
        ("blockchain.scripthash.get_mempool", json!([{}])),
        ("blockchain.scripthash.subscribe", json!(["xyz"])),
        ("blockchain.transaction.get", json!([])),
        ("blockchain.transaction.get", json!(["00".repeat(32)])),
        ("blockchain.transaction.get", json!(["00".repeat(32), true])),
        ("blockchain.transaction.get", json!(["zz"])),
        ("blockchain.transaction.get", json!([5])),
        ("blockchain.transaction.get", json!(["00".repeat(31)])),
        (
            "blockchain.transaction.get",
            json!(["00".repeat(32), "yes"]),
        ),
        ("blockchain.transaction.get", json!(["00".repeat(32), 1])),
        (
            "blockchain.transaction.get_merkle",
            json!(["00".repeat(32), 5]),
        ),
        (
            "blockchain.transaction.get_merkle",
            json!(["00".repeat(32), t + 1]),
        ),
        (
            "blockchain.transaction.get_merkle",
            json!(["00".repeat(32), -1]),
        ),
        ("blockchain.transaction.get_merkle", json!(["zz", 5])),
        (
            "blockchain.transaction.get_merkle",
            json!(["00".repeat(32), "5"]),
        ),
        ("blockchain.transaction.id_from_pos", json!([])),
        ("blockchain.transaction.id_from_pos", json!([t + 1, 0])),
        ("blockchain.transaction.id_from_pos", json!([-1, 0])),
        ("blockchain.transaction.id_from_pos", json!([1, -1])),
        ("blockchain.transaction.id_from_pos", json!([1, 1])),
        ("blockchain.transaction.id_from_pos", json!([1, 0, "x"])),
        ("blockchain.transaction.id_from_pos", json!(["1", "0"])),
        ("blockchain.transaction.broadcast", json!([])),
        ("blockchain.transaction.broadcast", json!([5])),
        ("blockchain.transaction.broadcast", json!(["zz"])),
        ("blockchain.transaction.broadcast", json!([""])),
        ("blockchain.transaction.broadcast", json!(["00".repeat(40)])),
        ("blockchain.transaction.broadcast", json!(["00", "extra"])),
    ] {
        v.push(call(m, p));
    }
    v
}

/// Transactions the stand-in refuses: (what, tx): the stand-in's [`Refusals`], one already
/// in the mempool, and one with a broken signature.
///
/// [`Refusals`]: ferrumx_simnode::fund::Refusals
fn refused_txs(n: &mut Node) -> Vec<(&'static str, Transaction)> {
    let r = ferrumx_simnode::fund::refusals(n);
    let mut entries: Vec<_> = n.mempool.entries().cloned().collect();
    entries.sort_by_key(|e| e.txid);
    let in_mempool = entries[0].tx.clone();
    let mut bad_sig = entries[1].tx.clone();
    bad_sig.output[0].value = bitcoin::Amount::from_sat(bad_sig.output[0].value.to_sat() - 1);
    vec![
        ("conflict", r.conflict),
        ("double spend", r.double_spend),
        ("unknown input", r.unknown_input),
        ("already confirmed", r.in_chain),
        ("already in the mempool", in_mempool),
        ("bad signature", bad_sig),
    ]
}

fn script_hash_calls(shs: &[ScriptHash]) -> Vec<Call> {
    let mut calls = Vec::new();
    for sh in shs {
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
    calls
}

/// Whether the server at `port` has `txid` in the mempool history of `sh`.
fn sees_in_mempool(port: u16, sh: &ScriptHash, txid: &Txid) -> bool {
    let mut c = session(port, "1.6");
    let m = c
        .call("blockchain.scripthash.get_mempool", json!([sh.to_string()]))
        .expect("get_mempool");
    m.as_array()
        .is_some_and(|a| a.iter().any(|e| e["tx_hash"] == json!(txid.to_string())))
}

// ----------------------------------------------------------------------------------------
// Notifications.

/// A subscriber session: every script hash and the headers.
struct Subscriber {
    client: Client,
    /// The status each script hash has as far as the client knows.
    status: BTreeMap<String, Value>,
    tip: Value,
}

impl Subscriber {
    fn new(port: u16, version: &str, shs: &[ScriptHash]) -> Subscriber {
        let mut client = session(port, version);
        let tip = client
            .call("blockchain.headers.subscribe", json!([]))
            .expect("headers.subscribe");
        let mut status = BTreeMap::new();
        for chunk in shs.chunks(250) {
            let ids: Vec<(String, u64)> = chunk
                .iter()
                .map(|sh| {
                    let sh = sh.to_string();
                    let id = client.request("blockchain.scripthash.subscribe", json!([sh]));
                    (sh, id)
                })
                .collect();
            for (sh, id) in ids {
                // The over-long history's subscription is refused ("history too large"):
                // the refusal is compared like a status.
                let answer = match client.response(id) {
                    Ok(status) => status,
                    Err((code, message)) => json!({"refused": [code, message]}),
                };
                status.insert(sh, answer);
            }
        }
        Subscriber {
            client,
            status,
            tip,
        }
    }

    /// Notifications until none came for `quiet`.
    fn drain(&mut self, quiet: Duration) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        while let Some(n) = self.client.notification(quiet) {
            out.push(n);
        }
        out
    }
}

/// What one event changed, as a client sees it.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    /// Script hashes whose status changed → their last status.
    changed: BTreeMap<String, Value>,
    /// Heights of the header notifications, in order.
    heights: Vec<Value>,
    /// The last header notified.
    last_header: Option<Value>,
    /// Notifications that repeated the status the client already knew.
    unchanged: usize,
    /// Notifications of other methods.
    other: Vec<(String, Value)>,
}

impl Seen {
    /// Adds what a later drain saw.
    fn absorb(&mut self, later: Seen) {
        self.changed.extend(later.changed);
        self.heights.extend(later.heights);
        if later.last_header.is_some() {
            self.last_header = later.last_header;
        }
        self.unchanged += later.unchanged;
        self.other.extend(later.other);
    }
}

fn seen(sub: &mut Subscriber, notes: Vec<(String, Value)>) -> Seen {
    let mut s = Seen::default();
    for (method, params) in notes {
        match method.as_str() {
            "blockchain.scripthash.subscribe" => {
                let sh = params[0].as_str().expect("script hash").to_string();
                let new = params[1].clone();
                let known = sub.status.get(&sh).cloned().unwrap_or(Value::Null);
                if known == new {
                    s.unchanged += 1;
                } else {
                    sub.status.insert(sh.clone(), new.clone());
                    s.changed.insert(sh, new);
                }
            }
            "blockchain.headers.subscribe" => {
                s.heights.push(params[0]["height"].clone());
                s.last_header = Some(params[0].clone());
                sub.tip = params[0].clone();
            }
            _ => s.other.push((method, params)),
        }
    }
    // A script hash that changed and changed back is unchanged in the end.
    s
}

// ----------------------------------------------------------------------------------------

/// Raw lines (after `server.version`), all pipelined; the messages each server sends back
/// until a final fence are compared as multisets (ElectrumX answers concurrently, so their
/// order is not defined).
fn raw_messages(pair: &Pair, report: &mut Report) {
    let lines: Vec<String> = [
        "not json",
        "{",
        "[]",
        "[1, 2]",
        "5",
        "\"x\"",
        "null",
        "{}",
        r#"{"id": 1}"#,
        r#"{"jsonrpc": "2.0", "id": 2}"#,
        r#"{"jsonrpc": "2.0", "id": 3, "method": 5}"#,
        r#"{"jsonrpc": "2.0", "id": 4, "method": "server.ping", "params": 5}"#,
        r#"{"jsonrpc": "2.0", "id": "str-id", "method": "server.ping"}"#,
        r#"{"jsonrpc": "2.0", "id": 5.5, "method": "server.ping", "params": []}"#,
        r#"{"jsonrpc": "2.0", "id": [1], "method": "server.ping", "params": []}"#,
        r#"{"jsonrpc": "2.0", "id": {"a": 1}, "method": "server.ping", "params": []}"#,
        r#"{"jsonrpc": "2.0", "id": null, "method": "server.ping", "params": []}"#,
        r#"{"jsonrpc": "2.0", "method": "server.ping", "params": []}"#,
        r#"{"jsonrpc": "1.0", "id": 6, "method": "server.ping", "params": []}"#,
        r#"{"id": 7, "method": "server.ping", "params": []}"#,
        r#"{"jsonrpc": "2.0", "id": 8, "method": "server.ping", "params": [], "extra": 1}"#,
        r#"{"jsonrpc": "2.0", "id": 9, "result": 5}"#,
        r#"{"jsonrpc": "2.0", "id": 10, "error": {"code": 1, "message": "x"}}"#,
        r#"[{"jsonrpc": "2.0", "id": 11, "method": "server.ping", "params": []}, {"jsonrpc": "2.0", "id": 12, "method": "blockchain.block.header", "params": [1]}]"#,
        r#"[{"jsonrpc": "2.0", "id": 13, "method": "server.ping", "params": []}, {"jsonrpc": "2.0", "method": "server.ping", "params": []}]"#,
        r#"[{"jsonrpc": "2.0", "method": "server.ping", "params": []}]"#,
        r#"[{"jsonrpc": "2.0", "id": 14, "method": "nonsense", "params": []}, 5]"#,
        r#"[[{"jsonrpc": "2.0", "id": 15, "method": "server.ping"}]]"#,
        r#"{"jsonrpc": "2.0", "id": 16, "method": "server.version", "params": ["x", "1.4"]}"#,
        r#"{"jsonrpc": "2.0", "id": 17, "method": "server.ping", "params": []}   "#,
        "\u{feff}{\"jsonrpc\": \"2.0\", \"id\": 18, \"method\": \"server.ping\"}",
        r#"{"jsonrpc": "2.0", "id": 19, "method": "blockchain.block.header", "params": [1], "id": 20}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let fence = r#"{"jsonrpc": "2.0", "id": "fence", "method": "server.ping", "params": []}"#;
    let collect = |port: u16| -> Vec<String> {
        let mut c = session(port, "1.4");
        for l in &lines {
            c.send_raw(l);
        }
        c.send_raw(fence);
        let mut got = Vec::new();
        // Two fences: the second sent once the first came back, so that answers the server
        // finished after the first fence are counted too.
        let mut fences = 0;
        while fences < 2 {
            match c.recv() {
                None => {
                    got.push("<closed>".to_string());
                    break;
                }
                Some(m) if m["id"] == json!("fence") => {
                    fences += 1;
                    std::thread::sleep(Duration::from_millis(300));
                    c.send_raw(fence);
                }
                Some(m) => got.push(m.to_string()),
            }
        }
        got.sort();
        got
    };
    let (f, e) = std::thread::scope(|s| {
        let f = s.spawn(|| collect(pair.fx));
        let e = s.spawn(|| collect(pair.ex));
        (f.join().expect("fx"), e.join().expect("ex"))
    });
    *report
        .compared
        .entry(("raw messages".to_string(), "1.4".to_string()))
        .or_default() += lines.len();
    let only_f: Vec<_> = f.iter().filter(|m| !e.contains(m)).collect();
    let only_e: Vec<_> = e.iter().filter(|m| !f.contains(m)).collect();
    if !only_f.is_empty() || !only_e.is_empty() || f.len() != e.len() {
        report.diffs.push(format!(
            "raw messages: {} from FerrumX, {} from ElectrumX\n    only FerrumX:   {only_f:?}\n    \
             only ElectrumX: {only_e:?}",
            f.len(),
            e.len()
        ));
    }
}

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
    let fx = Electrum::start("differential", node, &extra);
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
