//! Every Electrum method, and every difference between protocol versions, over real sockets
//! against the real `ferrumx_server`, with every expected answer computed here from the
//! stand-in's own data — its truth tables (history, UTXOs and balance per script hash), its
//! blocks and its mempool (transactions, prevouts, fees, sizes) and its own JSON-RPC answers
//! — never from the server's answers. ElectrumX 1.20 (`server/session.py`, `mempool.py`,
//! `lib/util.py`, aiorpcx 0.25) is the reference for shapes, orders and messages.
//!
//! Five servers, one per test, each reused for many checks:
//! - `scripthash_methods_match_the_truth`: a fixture chain plus 300 mempool transactions
//!   (chains of unconfirmed parents included); balance, history, mempool, listunspent and
//!   status of every script hash; fee histogram, fees, mempool info; then broadcasts,
//!   rejections, packages and the notifications they cause, and everything again.
//! - `headers_and_transactions_match_the_chain`: headers and their proofs, raw and verbose
//!   transactions, merkle branches, positions, and their errors.
//! - `transaction_get_without_txindex`: the stand-in without `-txindex`.
//! - `versions_server_methods_params_and_framing`: negotiation, per-version method sets,
//!   `server.*` (REPORT_SERVICES, BANNER_FILE, DONATION_ADDRESS), every parameter error
//!   class, JSON-RPC framing.
//! - `limits`: MAX_SEND / MAX_RECV on a long chain with a hot script hash.
//!
//! Not checkable here: the fee histogram after the mempool changes (ElectrumX, and FerrumX,
//! recompute it only every 120 s), so it is compared with the mempool the server started
//! with.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::{sha256, sha256d, Hash};
use bitcoin::hex::{DisplayHex, FromHex};
use bitcoin::{OutPoint, Transaction, Txid};
use bitcoincore_rpc::RpcApi;
use ferrumx_simnode::{GenParams, Node, ScriptHash};
use ferrumx_testkit::oracle::fee_histogram;
use ferrumx_testkit::{poll_until, touched_by, Client, Electrum, Kind, RpcErr, TempDir, WAIT};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------
// The stand-in's own JSON-RPC, for the answers the server passes through.

/// A JSON-RPC client of the stand-in (not of the server under test).
struct Daemon(bitcoincore_rpc::Client);

impl Daemon {
    fn of(e: &Electrum) -> Daemon {
        let (user, pass) = e.sim.user_pass().expect("password auth");
        let client =
            bitcoincore_rpc::Client::new(&e.sim.url(), bitcoincore_rpc::Auth::UserPass(user, pass))
                .expect("stand-in client");
        Daemon(client)
    }

    /// A call: its result, or Core's (code, message).
    fn call(&self, method: &str, params: &[Value]) -> Result<Value, RpcErr> {
        match self.0.call::<Value>(method, params) {
            Ok(v) => Ok(v),
            Err(bitcoincore_rpc::Error::JsonRpc(bitcoincore_rpc::jsonrpc::Error::Rpc(e))) => {
                Err((i64::from(e.code), e.message))
            }
            Err(e) => panic!("stand-in {method}: {e}"),
        }
    }

    /// The message of a call that must fail.
    fn error(&self, method: &str, params: &[Value]) -> RpcErr {
        match self.call(method, params) {
            Err(e) => e,
            Ok(v) => panic!("stand-in {method} {params:?} unexpectedly answered {v}"),
        }
    }
}

/// Python's `repr()` of a str (what ElectrumX's `DaemonError` repr shows).
fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::new();
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// ElectrumX's `daemon_request` failure: code 2, `daemon error: DaemonError({...})`.
fn daemon_error(e: &RpcErr) -> RpcErr {
    (
        2,
        format!(
            "daemon error: DaemonError({{'code': {}, 'message': {}}})",
            e.0,
            py_repr(&e.1)
        ),
    )
}

/// Python's `f'{n:,d}'`.
fn grouped(n: impl std::fmt::Display) -> String {
    let s = n.to_string();
    let (sign, digits) = match s.strip_prefix('-') {
        Some(d) => ("-", d.to_string()),
        None => ("", s.clone()),
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

fn bad(message: impl Into<String>) -> RpcErr {
    (1, message.into())
}

fn invalid_args(message: impl Into<String>) -> RpcErr {
    (-32602, message.into())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// aiorpcx's `handler_invocation` errors.
fn too_few(method: &str, n: usize, required: usize) -> RpcErr {
    invalid_args(format!(
        "{n} argument{} passed to method \"{method}\" but it requires {required}",
        plural(n)
    ))
}

fn too_many(method: &str, n: usize, max: usize) -> RpcErr {
    invalid_args(format!(
        "{n} argument{} passed to method {method} taking at most {max}",
        plural(n)
    ))
}

fn quoted_sorted(names: &[&str]) -> String {
    let mut v: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    v.sort();
    v.join(", ")
}

fn missing(method: &str, names: &[&str]) -> RpcErr {
    invalid_args(format!(
        "method \"{method}\" requires parameter{} {}",
        plural(names.len()),
        quoted_sorted(names)
    ))
}

fn excess(method: &str, names: &[&str]) -> RpcErr {
    invalid_args(format!(
        "method \"{method}\" does not take parameter{} {}",
        plural(names.len()),
        quoted_sorted(names)
    ))
}

fn unknown_method(method: &str) -> RpcErr {
    (-32601, format!("unknown method \"{method}\""))
}

/// Polls `f` until it gives `Some`, for at most `WAIT`.
fn poll<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    poll_until(what, WAIT, f)
}

/// [`Electrum::start`] with the node `make` builds.
fn start(name: &str, make: impl FnOnce() -> Node, extra: &[(&str, &str)]) -> Electrum {
    Electrum::start(name, make(), extra)
}

fn ok(r: Result<Value, RpcErr>, what: impl std::fmt::Display) -> Value {
    r.unwrap_or_else(|e| panic!("{what}: error {e:?}"))
}

fn hex_of(tx: &Transaction) -> String {
    serialize(tx).to_lower_hex_string()
}

/// A hash given in Electrum's display form (reversed hex), in internal byte order.
fn from_display(s: &str) -> [u8; 32] {
    let mut b = <[u8; 32]>::from_hex(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    b.reverse();
    b
}

fn sha256d_pair(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut v = Vec::with_capacity(64);
    v.extend_from_slice(a);
    v.extend_from_slice(b);
    sha256d::Hash::hash(&v).to_byte_array()
}

/// Folds a merkle branch (display hex, as Electrum sends it) from `leaf` at `index`.
fn fold_branch(leaf: [u8; 32], branch: &Value, mut index: u64) -> [u8; 32] {
    let mut h = leaf;
    for b in branch.as_array().expect("branch is a list") {
        let b = from_display(b.as_str().expect("branch hash"));
        h = if index & 1 == 1 {
            sha256d_pair(&b, &h)
        } else {
            sha256d_pair(&h, &b)
        };
        index >>= 1;
    }
    assert_eq!(index, 0, "branch too short");
    h
}

/// Bitcoin's merkle root (the last hash of an odd level paired with itself).
fn merkle_root(mut level: Vec<[u8; 32]>) -> [u8; 32] {
    assert!(!level.is_empty());
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            level.push(*level.last().expect("non-empty"));
        }
        level = level
            .chunks(2)
            .map(|p| sha256d_pair(&p[0], &p[1]))
            .collect();
    }
    level[0]
}

fn display(h: &[u8; 32]) -> String {
    let mut r = *h;
    r.reverse();
    r.to_lower_hex_string()
}

// ---------------------------------------------------------------------------------------
// Expected script-hash answers, from the stand-in's truth and mempool.

/// A mempool transaction as ElectrumX's mempool sees it.
#[derive(Clone, Debug)]
struct MTx {
    tx: Transaction,
    /// (script hash, value) of each spent output.
    ins: Vec<(ScriptHash, u64)>,
    /// (script hash, value) of each output, unspendable ones included (ElectrumX's mempool
    /// indexes every output).
    outs: Vec<(ScriptHash, u64)>,
    /// `max(0, in - out)`.
    fee: u64,
    vsize: u64,
    has_unconfirmed_inputs: bool,
}

/// The stand-in's mempool, per script hash.
struct MempoolView {
    txs: HashMap<Txid, MTx>,
    by_sh: HashMap<ScriptHash, BTreeSet<Txid>>,
    /// Every outpoint some mempool transaction spends.
    spent: BTreeSet<OutPoint>,
}

impl MempoolView {
    fn of(n: &Node) -> MempoolView {
        let mut txs = HashMap::new();
        let mut by_sh: HashMap<ScriptHash, BTreeSet<Txid>> = HashMap::new();
        let mut spent = BTreeSet::new();
        for e in n.mempool.entries() {
            let txid = e.tx.compute_txid();
            let mut ins = Vec::new();
            let mut has_ui = false;
            for input in &e.tx.input {
                let op = input.previous_output;
                let out = match n.coin(&op) {
                    Some(c) => c.txout.clone(),
                    None => {
                        has_ui = true;
                        let parent = n.mempool.get(&op.txid).expect("prevout in the mempool");
                        parent.tx.output[op.vout as usize].clone()
                    }
                };
                ins.push((ScriptHash::of(&out.script_pubkey), out.value.to_sat()));
                spent.insert(op);
            }
            let outs: Vec<(ScriptHash, u64)> =
                e.tx.output
                    .iter()
                    .map(|o| (ScriptHash::of(&o.script_pubkey), o.value.to_sat()))
                    .collect();
            let value_in: u64 = ins.iter().map(|p| p.1).sum();
            let value_out: u64 = outs.iter().map(|p| p.1).sum();
            for (sh, _) in ins.iter().chain(&outs) {
                by_sh.entry(*sh).or_default().insert(txid);
            }
            txs.insert(
                txid,
                MTx {
                    ins,
                    outs,
                    fee: value_in.saturating_sub(value_out),
                    vsize: e.tx.weight().to_wu().div_ceil(4),
                    has_unconfirmed_inputs: has_ui,
                    tx: e.tx.clone(),
                },
            );
        }
        MempoolView { txs, by_sh, spent }
    }

    /// The mempool transactions of `sh` in ElectrumX's order: (has unconfirmed inputs,
    /// txid as displayed).
    fn summaries(&self, sh: &ScriptHash) -> Vec<(Txid, &MTx)> {
        let mut v: Vec<(Txid, &MTx)> = self
            .by_sh
            .get(sh)
            .into_iter()
            .flatten()
            .map(|t| (*t, &self.txs[t]))
            .collect();
        v.sort_by_key(|(t, m)| (m.has_unconfirmed_inputs, t.to_string()));
        v
    }
}

/// What the five script-hash methods must answer for one script hash.
#[derive(Debug)]
struct Want {
    sh: String,
    balance: Value,
    history: Value,
    mempool: Value,
    listunspent: Value,
    status: Value,
}

fn want_for(n: &Node, view: &MempoolView, sh: &ScriptHash) -> Want {
    let confirmed = n.truth.history(sh, None);
    let summaries = view.summaries(sh);
    let mempool: Vec<Value> = summaries
        .iter()
        .map(|(t, m)| {
            json!({"tx_hash": t.to_string(), "height": -i64::from(m.has_unconfirmed_inputs),
                   "fee": m.fee})
        })
        .collect();
    let mut history: Vec<Value> = confirmed
        .iter()
        .map(|h| json!({"tx_hash": h.txid.to_string(), "height": h.height}))
        .collect();
    history.extend(mempool.iter().cloned());
    let mut status = String::new();
    for h in &confirmed {
        status.push_str(&format!("{}:{}:", h.txid, h.height));
    }
    for (t, m) in &summaries {
        status.push_str(&format!("{t}:{}:", -i64::from(m.has_unconfirmed_inputs)));
    }
    let status = if status.is_empty() {
        Value::Null
    } else {
        json!(sha256::Hash::hash(status.as_bytes())
            .to_byte_array()
            .to_lower_hex_string())
    };
    let mut delta: i64 = 0;
    for (_, m) in &summaries {
        delta -= m
            .ins
            .iter()
            .filter(|p| p.0 == *sh)
            .map(|p| p.1 as i64)
            .sum::<i64>();
        delta += m
            .outs
            .iter()
            .filter(|p| p.0 == *sh)
            .map(|p| p.1 as i64)
            .sum::<i64>();
    }
    let balance = json!({"confirmed": n.truth.balance(sh, None), "unconfirmed": delta});
    // Confirmed UTXOs in chain order, less those the mempool spends; then mempool outputs
    // paying `sh` that no mempool transaction spends (FerrumX's documented order for these:
    // txid as displayed, then output index; ElectrumX's is a Python set's).
    let mut unspent: Vec<Value> = n
        .truth
        .utxos(sh, None)
        .iter()
        .filter(|u| !view.spent.contains(&u.outpoint))
        .map(|u| {
            json!({"tx_hash": u.outpoint.txid.to_string(), "tx_pos": u.outpoint.vout,
                   "height": u.height, "value": u.value})
        })
        .collect();
    let mut unconfirmed: Vec<(String, u32, u64)> = Vec::new();
    for (t, m) in &summaries {
        for (vout, (osh, value)) in m.outs.iter().enumerate() {
            let op = OutPoint::new(*t, vout as u32);
            if osh == sh && !view.spent.contains(&op) {
                unconfirmed.push((t.to_string(), vout as u32, *value));
            }
        }
    }
    unconfirmed.sort();
    unspent.extend(unconfirmed.into_iter().map(
        |(t, vout, value)| json!({"tx_hash": t, "tx_pos": vout, "height": 0, "value": value}),
    ));
    Want {
        sh: sh.to_string(),
        balance,
        history: Value::Array(history),
        mempool: Value::Array(mempool),
        listunspent: Value::Array(unspent),
        status,
    }
}

/// Every script hash of the truth and of the mempool, plus two nobody uses.
fn all_script_hashes(n: &Node, view: &MempoolView) -> Vec<ScriptHash> {
    let mut set: BTreeSet<ScriptHash> = n.truth.script_hashes().copied().collect();
    set.extend(view.by_sh.keys().copied());
    set.insert(ScriptHash([0x42; 32]));
    set.insert(ScriptHash::of(bitcoin::Script::from_bytes(b"never used")));
    set.into_iter().collect()
}

fn wants(e: &Electrum) -> (Vec<Want>, usize) {
    e.sim.with_node(|n| {
        let view = MempoolView::of(n);
        let only_mempool = view
            .by_sh
            .keys()
            .filter(|sh| n.truth.history_len(sh) == 0)
            .count();
        let shs = all_script_hashes(n, &view);
        (
            shs.iter().map(|sh| want_for(n, &view, sh)).collect(),
            only_mempool,
        )
    })
}

/// Asks the five script-hash methods for every script hash (pipelined) and compares.
fn check_script_hashes(c: &mut Client, wants: &[Want]) {
    let methods = [
        "blockchain.scripthash.get_balance",
        "blockchain.scripthash.get_history",
        "blockchain.scripthash.get_mempool",
        "blockchain.scripthash.listunspent",
        "blockchain.scripthash.subscribe",
    ];
    let calls: Vec<(&str, Value)> = wants
        .iter()
        .flat_map(|w| methods.iter().map(move |m| (*m, json!([w.sh]))))
        .collect();
    let answers = c.pipelined(&calls);
    for (w, got) in wants.iter().zip(answers.chunks(methods.len())) {
        let expected = [
            &w.balance,
            &w.history,
            &w.mempool,
            &w.listunspent,
            &w.status,
        ];
        for ((method, got), want) in methods.iter().zip(got).zip(expected) {
            assert_eq!(
                got.as_ref(),
                Ok(want),
                "{method} {} (left: server, right: computed)",
                w.sh
            );
        }
    }
}

// ---------------------------------------------------------------------------------------

/// Bitcoin's `bucket_estimatefee_block_target` in ElectrumX.
fn bucket(n: u64) -> u64 {
    match n {
        0 | 1 => 1,
        2..=12 => n,
        25 => 25,
        13..=48 => n / 2 * 2,
        49..=1008 => n / 24 * 24,
        _ => 1008,
    }
}

// ---------------------------------------------------------------------------------------

/// ElectrumX's broadcast rejection for `raw`, with the stand-in's own message for it.
fn rejected(daemon: &Daemon, raw: &str) -> RpcErr {
    let (_, message) = daemon.error("sendrawtransaction", &[json!(raw)]);
    bad(format!(
        "the transaction was rejected by network rules.\n\n{message}\n[{raw}]"
    ))
}

/// A parent from the stand-in's wallet and a child spending one of its outputs.
fn parent_and_child(n: &mut Node) -> (Transaction, Transaction) {
    for _ in 0..20 {
        let (parent, _) = n.make_tx().expect("wallet can pay");
        let ptxid = parent.compute_txid();
        let coins = (0..parent.output.len() as u32)
            .find_map(|v| n.gen.take_coins(&[OutPoint::new(ptxid, v)]));
        if let Some(coins) = coins {
            if let Some((child, _)) = n.gen.build_spend(coins, n.tip_height(), None) {
                n.resync_wallet();
                return (parent, child);
            }
        }
        n.resync_wallet();
    }
    panic!("no parent with a spendable output");
}

fn amount_btc(sats: u64) -> f64 {
    sats as f64 / 100_000_000.0
}

/// Waits for one scripthash notification per script hash in `want` (alias → status) and
/// checks each status; then that no other comes.
fn expect_notifications(sub: &mut Client, want: &BTreeMap<String, Value>) {
    let mut got: BTreeMap<String, Value> = BTreeMap::new();
    while got.len() < want.len() {
        let (method, params) = sub
            .notification(WAIT)
            .unwrap_or_else(|| panic!("notifications: got {got:?}, want {want:?}"));
        assert_eq!(method, "blockchain.scripthash.subscribe");
        let alias = params[0].as_str().expect("alias").to_string();
        assert!(want.contains_key(&alias), "notified {alias}, not touched");
        assert!(
            got.insert(alias.clone(), params[1].clone()).is_none(),
            "{alias} notified twice"
        );
    }
    assert_eq!(&got, want, "notified statuses (left) vs computed (right)");
    assert!(
        sub.notification(Duration::from_millis(400)).is_none(),
        "one notification per change"
    );
}

#[test]
fn scripthash_methods_match_the_truth() {
    let started = Instant::now();
    let e = start(
        "methods-scripthash",
        || {
            let mut node = Node::generate(GenParams::fixture(11));
            let traffic = node.add_traffic(300);
            assert!(
                traffic.len() > 200,
                "{} mempool transactions",
                traffic.len()
            );
            node
        },
        &[],
    );
    let daemon = Daemon::of(&e);
    let mut c = e.session(Kind::Tcp, "1.6");

    // -- Every script hash: balance, history, mempool, listunspent, status.
    let (wants0, only_mempool) = wants(&e);
    let (unconfirmed_parents, histogram) = e.sim.with_node(|n| {
        let view = MempoolView::of(n);
        let chained = view
            .txs
            .values()
            .filter(|m| m.has_unconfirmed_inputs)
            .count();
        (
            chained,
            fee_histogram(view.txs.values().map(|m| (m.fee, m.vsize))),
        )
    });
    assert!(unconfirmed_parents > 10, "{unconfirmed_parents} chained");
    assert!(
        only_mempool > 10,
        "{only_mempool} mempool-only script hashes"
    );
    let t = Instant::now();
    check_script_hashes(&mut c, &wants0);
    eprintln!(
        "{} script hashes ({only_mempool} only in the mempool) x 5 methods in {:?}",
        wants0.len(),
        t.elapsed()
    );
    // Sessions of other versions and transports see the same.
    let mut c14 = e.session(Kind::Wss, "1.4");
    check_script_hashes(&mut c14, &wants0[..200]);

    // -- The fee histogram: computed at the first mempool synchronisation (then every 120
    // s), so compared with the mempool as the server started.
    assert!(histogram.len() >= 2, "histogram {histogram:?}");
    let got = poll("the fee histogram", || {
        let h = ok(c.call("mempool.get_fee_histogram", json!([])), "histogram");
        let h: Vec<(f64, u64)> = h
            .as_array()
            .expect("list")
            .iter()
            .map(|p| (p[0].as_f64().expect("rate"), p[1].as_u64().expect("size")))
            .collect();
        (!h.is_empty()).then_some(h)
    });
    assert_eq!(
        got, histogram,
        "fee histogram (left: server, right: computed)"
    );

    // -- Fees and mempool information: the stand-in's own answers.
    let info = daemon.call("getmempoolinfo", &[]).expect("getmempoolinfo");
    assert_eq!(
        c.call("mempool.get_info", json!([])),
        Ok(json!({
            "mempoolminfee": info["mempoolminfee"],
            "minrelaytxfee": info["minrelaytxfee"],
            "incrementalrelayfee": info["incrementalrelayfee"],
        }))
    );
    let network = daemon.call("getnetworkinfo", &[]).expect("getnetworkinfo");
    assert_eq!(
        c14.call("blockchain.relayfee", json!([])),
        Ok(network["relayfee"].clone())
    );
    let modes: [(Value, Option<&str>); 6] = [
        (Value::Null, None),
        (json!("CONSERVATIVE"), Some("CONSERVATIVE")),
        (json!("ECONOMICAL"), Some("ECONOMICAL")),
        (json!("economical"), Some("ECONOMICAL")),
        (json!("Conservative"), Some("CONSERVATIVE")),
        // Not a string: ElectrumX treats it as no mode.
        (json!(5), None),
    ];
    let mut calls = Vec::new();
    let mut expected = Vec::new();
    for number in [
        0u64, 1, 2, 5, 12, 13, 24, 25, 26, 48, 49, 100, 1008, 1009, 100_000,
    ] {
        for (mode, upper) in &modes {
            let mut params = vec![json!(bucket(number))];
            params.extend(upper.map(|m| json!(m)));
            let answer = daemon
                .call("estimatesmartfee", &params)
                .expect("estimatesmartfee");
            expected.push(Ok(answer.get("feerate").cloned().unwrap_or(json!(-1))));
            calls.push((
                "blockchain.estimatefee",
                if mode.is_null() {
                    json!([number])
                } else {
                    json!([number, mode])
                },
            ));
        }
    }
    assert_eq!(c.pipelined(&calls), expected, "estimatefee");
    assert_eq!(
        c.call("blockchain.estimatefee", json!([2, "bogus"])),
        Err(bad("unknown estimatefee mode: BOGUS"))
    );
    assert_eq!(
        c.call("blockchain.estimatefee", json!([-1, "bogus"])),
        Err(bad("-1 should be a non-negative integer"))
    );
    // No BANNER_FILE, no DONATION_ADDRESS here.
    let version = ok(c.call("server.features", json!([])), "features")["server_version"].clone();
    assert_eq!(
        c.call("server.banner", json!([])),
        Ok(json!(format!(
            "You are connected to an {} server.",
            version.as_str().expect("server_version")
        )))
    );
    assert_eq!(c.call("server.donation_address", json!([])), Ok(json!("")));

    // -- A valid broadcast: accepted, in the stand-in's mempool, then in the server's, and
    // subscribers of every script hash it touches are notified once with the new status.
    let (tx, touched) = e.sim.with_node(|n| {
        let (tx, _) = n.make_tx().expect("wallet can pay");
        let touched = touched_by(n, &tx);
        (tx, touched)
    });
    let txid = tx.compute_txid();
    let mut sub = e.session(Kind::Ssl, "1.6");
    let before: BTreeMap<String, Value> = e.sim.with_node(|n| {
        let view = MempoolView::of(n);
        touched
            .iter()
            .map(|sh| (sh.to_string(), want_for(n, &view, sh).status))
            .collect()
    });
    for (sh, status) in &before {
        assert_eq!(
            sub.call("blockchain.scripthash.subscribe", json!([sh])),
            Ok(status.clone()),
            "subscribe {sh}"
        );
    }
    let raw = hex_of(&tx);
    assert_eq!(
        c.call("blockchain.transaction.broadcast", json!([raw])),
        Ok(json!(txid.to_string()))
    );
    assert!(e.sim.with_node(|n| n.mempool.contains(&txid)));
    let paid = ScriptHash::of(&tx.output[0].script_pubkey).to_string();
    poll("the broadcast transaction in get_mempool", || {
        let m = ok(
            c.call("blockchain.scripthash.get_mempool", json!([paid])),
            "get_mempool",
        );
        m.as_array()
            .expect("list")
            .iter()
            .any(|x| x["tx_hash"] == json!(txid.to_string()))
            .then_some(())
    });
    let after: BTreeMap<String, Value> = e.sim.with_node(|n| {
        let view = MempoolView::of(n);
        touched
            .iter()
            .map(|sh| (sh.to_string(), want_for(n, &view, sh).status))
            .collect()
    });
    let changed: BTreeMap<String, Value> = after
        .iter()
        .filter(|(sh, st)| before.get(*sh) != Some(*st))
        .map(|(sh, st)| (sh.clone(), st.clone()))
        .collect();
    assert_eq!(changed.len(), touched.len(), "every touched status changes");
    expect_notifications(&mut sub, &changed);
    // Sent again: already in the mempool, Core answers its txid.
    assert_eq!(
        c.call("blockchain.transaction.broadcast", json!([raw])),
        Ok(json!(txid.to_string()))
    );
    // Electrum clients older than 3.3.3 get a warning instead of the txid (ElectrumX's
    // markup and link; FerrumX's own wording, a documented difference).
    let mut old = e.connect(Kind::Tcp);
    assert_eq!(
        old.call("server.version", json!(["3.3.2", "1.4"])),
        Ok(json!([version, "1.4"]))
    );
    let (tx2, _) = e.sim.with_node(|n| n.make_tx()).expect("wallet can pay");
    let warning = ok(
        old.call("blockchain.transaction.broadcast", json!([hex_of(&tx2)])),
        "old client broadcast",
    );
    let warning = warning.as_str().expect("a string");
    assert!(
        warning.starts_with("<br/><br/>") && warning.contains("https://electrum.org/"),
        "{warning}"
    );
    assert!(e.sim.with_node(|n| n.mempool.contains(&tx2.compute_txid())));
    // Unsubscribed (1.4.2 and later) script hashes are no longer notified.
    for sh in touched.iter().skip(1) {
        assert_eq!(
            sub.call("blockchain.scripthash.unsubscribe", json!([sh.to_string()])),
            Ok(json!(true))
        );
    }
    assert_eq!(
        sub.call(
            "blockchain.scripthash.unsubscribe",
            json!([ScriptHash([9; 32]).to_string()])
        ),
        Ok(json!(false))
    );

    // -- Rejections, each with the stand-in's own message for the same transaction.
    let garbage = "00".repeat(40);
    assert_eq!(
        c.call("blockchain.transaction.broadcast", json!([garbage])),
        Err(rejected(&daemon, &garbage))
    );
    assert_eq!(
        c.call("blockchain.transaction.broadcast", json!(["not hex"])),
        Err(bad("not hex should be a hex string"))
    );
    assert_eq!(
        c.call("blockchain.transaction.broadcast", json!(["abc"])),
        Err(bad("abc should be a hex string"))
    );
    assert_eq!(
        c.call("blockchain.transaction.broadcast", json!([5])),
        Err(bad("5 should be a hex string"))
    );
    let refusals = e.sim.with_node(ferrumx_simnode::fund::refusals);
    let (conflict, confirmed_double_spend, unknown_input, in_chain) = (
        refusals.conflict,
        refusals.double_spend,
        refusals.unknown_input,
        refusals.in_chain,
    );
    for (what, tx) in [
        ("conflict", &conflict),
        ("double spend", &confirmed_double_spend),
        ("unknown input", &unknown_input),
        ("already confirmed", &in_chain),
    ] {
        let raw = hex_of(tx);
        let got = c.call("blockchain.transaction.broadcast", json!([raw]));
        let want = rejected(&daemon, &raw);
        assert_eq!(got, Err(want), "{what}");
    }
    assert!(e
        .sim
        .with_node(|n| !n.mempool.contains(&conflict.compute_txid())));

    // -- Packages (1.6): a parent and its child; an invalid child; a bad topology.
    let (parent, child) = e.sim.with_node(parent_and_child);
    assert_eq!(
        c.call(
            "blockchain.transaction.broadcast_package",
            json!([[hex_of(&parent), hex_of(&child)]])
        ),
        Ok(json!({"success": true}))
    );
    assert!(e
        .sim
        .with_node(|n| n.mempool.contains(&parent.compute_txid())
            && n.mempool.contains(&child.compute_txid())));
    // verbose: bitcoind's own answer, passed through.
    let (parent2, child2, fees) = e.sim.with_node(|n| {
        let (p, c) = parent_and_child(n);
        let view = MempoolView::of(n);
        let fee_of = |tx: &Transaction| {
            let value_in: u64 = tx
                .input
                .iter()
                .map(|i| {
                    let op = i.previous_output;
                    n.coin(&op)
                        .map(|c| c.txout.value.to_sat())
                        .or_else(|| {
                            view.txs
                                .get(&op.txid)
                                .map(|m| m.tx.output[op.vout as usize].value.to_sat())
                        })
                        .unwrap_or_else(|| p.output[op.vout as usize].value.to_sat())
                })
                .sum();
            value_in - tx.output.iter().map(|o| o.value.to_sat()).sum::<u64>()
        };
        let fees = (fee_of(&p), fee_of(&c));
        (p, c, fees)
    });
    let verbose = ok(
        c.call(
            "blockchain.transaction.broadcast_package",
            json!([[hex_of(&parent2), hex_of(&child2)], true]),
        ),
        "verbose package",
    );
    assert_eq!(verbose["package_msg"], json!("success"), "{verbose}");
    for (tx, fee) in [(&parent2, fees.0), (&child2, fees.1)] {
        let r = &verbose["tx-results"][tx.compute_wtxid().to_string()];
        assert_eq!(r["txid"], json!(tx.compute_txid().to_string()), "{verbose}");
        assert_eq!(
            r["vsize"],
            json!(tx.weight().to_wu().div_ceil(4)),
            "{verbose}"
        );
        assert_eq!(
            r["fees"]["base"].as_f64(),
            Some(amount_btc(fee)),
            "{verbose}"
        );
    }
    let (parent3, bad_child) = e.sim.with_node(|n| {
        let (p, mut c) = parent_and_child(n);
        let mut extra = c.input[0].clone();
        extra.previous_output = OutPoint::new(Txid::from_byte_array([8; 32]), 0);
        c.input.push(extra);
        (p, c)
    });
    let got = c.call(
        "blockchain.transaction.broadcast_package",
        json!([[hex_of(&parent3), hex_of(&bad_child)]]),
    );
    let (_, child_error) = daemon.error("sendrawtransaction", &[json!(hex_of(&bad_child))]);
    assert_eq!(
        got,
        Ok(json!({"success": false, "errors": [
            {"txid": bad_child.compute_txid().to_string(), "error": child_error}
        ]}))
    );
    let reversed = json!([hex_of(&child), hex_of(&parent)]);
    let got = c.call(
        "blockchain.transaction.broadcast_package",
        json!([reversed]),
    );
    let (_, topology) = daemon.error("submitpackage", &[reversed]);
    assert_eq!(
        got,
        Err(bad(format!(
            "the tx package was rejected by network rules.\n\n{topology}."
        )))
    );
    assert_eq!(
        c.call("blockchain.transaction.broadcast_package", json!(["abc"])),
        Err(bad("abc should be a list"))
    );
    assert_eq!(
        c.call("blockchain.transaction.broadcast_package", json!([["zz"]])),
        Err(bad("zz should be a hex string"))
    );

    // -- Everything again, against the stand-in's mempool now.
    let last = ScriptHash::of(&child2.output[0].script_pubkey).to_string();
    poll("the package in get_mempool", || {
        let m = ok(
            c.call("blockchain.scripthash.get_mempool", json!([last])),
            "get_mempool",
        );
        m.as_array()
            .expect("list")
            .iter()
            .any(|x| x["tx_hash"] == json!(child2.compute_txid().to_string()))
            .then_some(())
    });
    let (wants1, _) = wants(&e);
    check_script_hashes(&mut c, &wants1);
    eprintln!("scripthash test: {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------
// Headers and transactions.

/// What the test knows about the chain, from the stand-in.
struct Chain {
    tip: u32,
    /// Raw header hex by height.
    headers: Vec<String>,
    /// Block hash (internal bytes) by height.
    hashes: Vec<[u8; 32]>,
    /// Header merkle root (internal bytes) by height.
    roots: Vec<[u8; 32]>,
    /// Transactions by height, in block order.
    txs: Vec<Vec<Transaction>>,
    mempool: Vec<Transaction>,
}

impl Chain {
    fn of(e: &Electrum) -> Chain {
        e.sim.with_node(|n| {
            let tip = n.tip_height();
            let mut chain = Chain {
                tip,
                headers: Vec::new(),
                hashes: Vec::new(),
                roots: Vec::new(),
                txs: Vec::new(),
                mempool: Vec::new(),
            };
            for h in 0..=tip {
                let b = n.block_at(h).expect("block");
                chain
                    .headers
                    .push(serialize(&b.header).to_lower_hex_string());
                chain.hashes.push(b.header.block_hash().to_byte_array());
                chain.roots.push(b.header.merkle_root.to_byte_array());
                let block: bitcoin::Block = deserialize(&b.raw).expect("block parses");
                chain.txs.push(block.txdata);
            }
            let mut mempool: Vec<Transaction> = n.mempool.entries().map(|e| e.tx.clone()).collect();
            mempool.sort_by_key(Transaction::compute_txid);
            chain.mempool = mempool;
            chain
        })
    }

    /// The merkle root of block hashes `0..=cp`, display hex.
    fn header_root(&self, cp: u32) -> String {
        display(&merkle_root(self.hashes[..=cp as usize].to_vec()))
    }

    /// Checks a header proof (`branch`, `root`) of `height` up to `cp`.
    fn check_proof(&self, answer: &Value, height: u32, cp: u32) {
        assert_eq!(
            answer["root"],
            json!(self.header_root(cp)),
            "root of 0..={cp}"
        );
        let folded = fold_branch(
            self.hashes[height as usize],
            &answer["branch"],
            u64::from(height),
        );
        assert_eq!(
            display(&folded),
            self.header_root(cp),
            "proof of {height} in 0..={cp}"
        );
    }
}

/// `blockchain.block.headers` as ElectrumX answers it at `v16` or before, proof aside.
fn headers_answer(chain: &Chain, start: u64, count: u64, v16: bool) -> Value {
    let available = (u64::from(chain.tip) + 1).saturating_sub(start);
    let n = count.min(2016).min(available);
    let hexes: Vec<String> = (start..start + n)
        .map(|h| chain.headers[h as usize].clone())
        .collect();
    if v16 {
        json!({"count": n, "max": 2016, "headers": hexes})
    } else {
        json!({"hex": hexes.concat(), "count": n, "max": 2016})
    }
}

#[test]
fn headers_and_transactions_match_the_chain() {
    let started = Instant::now();
    let e = start(
        "methods-chain",
        || {
            let mut node = Node::generate(GenParams::fixture(12));
            node.add_traffic(40);
            node
        },
        &[],
    );
    let daemon = Daemon::of(&e);
    let chain = Chain::of(&e);
    let tip = chain.tip;
    let mut c = e.session(Kind::Tcp, "1.4");
    let mut c6 = e.session(Kind::Ws, "1.6");

    // -- Headers.
    assert_eq!(
        c.call("blockchain.headers.subscribe", json!([])),
        Ok(json!({"hex": chain.headers[tip as usize], "height": tip}))
    );
    let calls: Vec<(&str, Value)> = (0..=tip)
        .map(|h| ("blockchain.block.header", json!([h])))
        .collect();
    let want: Vec<Result<Value, RpcErr>> = chain.headers.iter().map(|h| Ok(json!(h))).collect();
    assert_eq!(c.pipelined(&calls), want);
    assert_eq!(c6.pipelined(&calls), want);
    // Proofs, pipelined (FerrumX must be right under any concurrency).
    let mut pairs = Vec::new();
    for cp in [
        1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129,
    ] {
        for h in [0, cp / 2, cp - 1, cp] {
            pairs.push((h, cp));
        }
    }
    for h in [0, 1, 64, 100, tip - 1, tip] {
        pairs.push((h, tip));
        pairs.push((h, tip - 1));
    }
    pairs.retain(|(h, cp)| h <= cp && *cp <= tip);
    let calls: Vec<(&str, Value)> = pairs
        .iter()
        .map(|(h, cp)| ("blockchain.block.header", json!([h, cp])))
        .collect();
    for ((h, cp), got) in pairs.iter().zip(c6.pipelined(&calls)) {
        let got = ok(got, format!("header {h} cp {cp}"));
        assert_eq!(got["header"], json!(chain.headers[*h as usize]));
        chain.check_proof(&got, *h, *cp);
        assert_eq!(got.as_object().map(|o| o.len()), Some(3), "{got}");
    }
    // Chunks: both shapes, clipped at the tip, none past it, with and without proofs.
    let past = u64::from(tip) + 1;
    let ranges = [
        (0u64, 0u64),
        (0, 1),
        (0, 10),
        (0, 2016),
        (0, 5000),
        (7, 100),
        (100, 2016),
        (u64::from(tip), 1),
        (u64::from(tip), 5),
        (past, 5),
        (past + 50, 0),
        (1_000_000, 10),
    ];
    for (client, v16) in [(&mut c, false), (&mut c6, true)] {
        for &(start, count) in &ranges {
            let want = headers_answer(&chain, start, count, v16);
            let n = want["count"].as_u64().expect("count");
            assert_eq!(
                client.call("blockchain.block.headers", json!([start, count])),
                Ok(want.clone()),
                "headers {start} {count} at 1.6: {v16}"
            );
            let last = (start + n).saturating_sub(1) as u32;
            for cp in [tip, last.max(1)] {
                let got = client.call("blockchain.block.headers", json!([start, count, cp]));
                if n == 0 {
                    // No headers, no proof (and no check of cp_height).
                    assert_eq!(got, Ok(want.clone()), "headers {start} {count} cp {cp}");
                    continue;
                }
                let mut got = ok(got, format!("headers {start} {count} cp {cp}"));
                chain.check_proof(&got, last, cp);
                let o = got.as_object_mut().expect("object");
                let keys: Vec<&String> = o.keys().collect();
                let want_keys: Vec<&str> = if v16 {
                    vec!["count", "max", "headers", "branch", "root"]
                } else {
                    vec!["hex", "count", "max", "branch", "root"]
                };
                assert_eq!(keys, want_keys, "key order");
                o.shift_remove("branch");
                o.shift_remove("root");
                assert_eq!(got, want, "headers {start} {count} cp {cp}");
            }
        }
    }
    let require = |h: u64, cp: u64| {
        bad(format!(
            "require header height {} <= cp_height {} <= chain height {}",
            grouped(h),
            grouped(cp),
            grouped(tip)
        ))
    };
    assert_eq!(
        c.call("blockchain.block.headers", json!([10, 20, 15])),
        Err(require(29, 15))
    );
    assert_eq!(
        c6.call("blockchain.block.headers", json!([10, 20, past])),
        Err(require(29, past))
    );
    assert_eq!(
        c6.call("blockchain.block.headers", json!([past, 5, past + 9])),
        Ok(headers_answer(&chain, past, 5, true))
    );
    assert_eq!(
        c.call("blockchain.block.header", json!([10, 5])),
        Err(require(10, 5))
    );
    assert_eq!(
        c.call("blockchain.block.header", json!([5, past])),
        Err(require(5, past))
    );
    assert_eq!(
        c.call("blockchain.block.header", json!([past])),
        Err(bad(format!("height {} out of range", grouped(past))))
    );
    assert_eq!(
        c.call("blockchain.block.header", json!([past, past])),
        Err(bad(format!("height {} out of range", grouped(past))))
    );

    // -- Transactions: raw and verbose (the stand-in's own answer), confirmed and unconfirmed.
    let all: Vec<&Transaction> = chain.txs.iter().flatten().chain(&chain.mempool).collect();
    let calls: Vec<(&str, Value)> = all
        .iter()
        .flat_map(|tx| {
            let t = tx.compute_txid().to_string();
            [
                ("blockchain.transaction.get", json!([t])),
                ("blockchain.transaction.get", json!([t, true])),
            ]
        })
        .collect();
    let answers = c.pipelined(&calls);
    let genesis_coinbase = chain.txs[0][0].compute_txid();
    for (tx, got) in all.iter().zip(answers.chunks(2)) {
        let txid = tx.compute_txid();
        let t = txid.to_string();
        let raw = daemon.call("getrawtransaction", &[json!(t), json!(0)]);
        let verbose = daemon.call("getrawtransaction", &[json!(t), json!(1)]);
        if txid == genesis_coinbase {
            // Core refuses it; ElectrumX passes the error on.
            assert_eq!(
                got[0],
                Err(daemon_error(&raw.expect_err("genesis coinbase")))
            );
            assert_eq!(
                got[1],
                Err(daemon_error(&verbose.expect_err("genesis coinbase")))
            );
            continue;
        }
        assert_eq!(raw, Ok(json!(hex_of(tx))), "the stand-in's raw {t}");
        assert_eq!(got[0], raw, "raw {t}");
        assert_eq!(got[1], Ok(verbose.expect("verbose")), "verbose {t}");
    }
    // `verbose` is checked with `in (False, True)`: 0 and 1 pass, as bools.
    let t = chain.txs[120][1].compute_txid().to_string();
    assert_eq!(
        c.call("blockchain.transaction.get", json!([t, 0])),
        Ok(json!(hex_of(&chain.txs[120][1])))
    );
    assert_eq!(
        c.call("blockchain.transaction.get", json!([t, 1])),
        daemon.call("getrawtransaction", &[json!(t), json!(1)])
    );
    for bad_verbose in [json!("yes"), json!(2), json!(null), json!([])] {
        assert_eq!(
            c.call("blockchain.transaction.get", json!([t, bad_verbose])),
            Err(bad("\"verbose\" must be a boolean"))
        );
    }
    let unknown = Txid::from_byte_array([0x5a; 32]).to_string();
    assert_eq!(
        c.call("blockchain.transaction.get", json!([unknown])),
        Err(daemon_error(
            &daemon.error("getrawtransaction", &[json!(unknown), json!(0)])
        ))
    );
    assert_eq!(
        c.call("blockchain.transaction.get", json!([unknown, true])),
        Err(daemon_error(
            &daemon.error("getrawtransaction", &[json!(unknown), json!(1)])
        ))
    );
    for bad_hash in [
        json!("zz"),
        json!(&unknown[1..]),
        json!(format!("{unknown}00")),
        json!(7),
    ] {
        let shown = match &bad_hash {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert_eq!(
            c.call("blockchain.transaction.get", json!([bad_hash])),
            Err(bad(format!("{shown} should be a transaction hash")))
        );
    }

    // -- Merkle branches and positions, for every confirmed transaction. The genesis
    // coinbase is not one (bitcoind will not serve it): height 0 holds no transaction, as
    // in ElectrumX's index.
    let no_txs: Vec<bitcoin::Transaction> = Vec::new();
    let block_txs = |h: usize, txs| if h == 0 { &no_txs } else { txs };
    let genesis_coinbase = chain.txs[0][0].compute_txid().to_string();
    assert_eq!(
        c6.call(
            "blockchain.transaction.get_merkle",
            json!([genesis_coinbase, 0])
        ),
        Err(bad(format!(
            "tx {genesis_coinbase} not in block at height 0"
        )))
    );
    let mut calls: Vec<(&str, Value)> = Vec::new();
    for (h, txs) in chain.txs.iter().enumerate() {
        let txs = block_txs(h, txs);
        for (pos, tx) in txs.iter().enumerate() {
            let t = tx.compute_txid().to_string();
            calls.push(("blockchain.transaction.get_merkle", json!([t, h])));
            calls.push(("blockchain.transaction.id_from_pos", json!([h, pos])));
            calls.push(("blockchain.transaction.id_from_pos", json!([h, pos, true])));
        }
        let n = txs.len();
        calls.push(("blockchain.transaction.id_from_pos", json!([h, n])));
        calls.push(("blockchain.transaction.id_from_pos", json!([h, n, true])));
    }
    let answers = c6.pipelined(&calls);
    let mut answers = answers.into_iter();
    let mut checked = 0;
    for (h, txs) in chain.txs.iter().enumerate() {
        let txs = block_txs(h, txs);
        for (pos, tx) in txs.iter().enumerate() {
            let txid = tx.compute_txid();
            let t = txid.to_string();
            let merkle = ok(answers.next().expect("answer"), format!("get_merkle {t}"));
            assert_eq!(merkle["block_height"], json!(h));
            assert_eq!(merkle["pos"], json!(pos));
            assert_eq!(
                fold_branch(txid.to_byte_array(), &merkle["merkle"], pos as u64),
                chain.roots[h],
                "get_merkle {t} folds to block {h}'s merkle root"
            );
            assert_eq!(
                answers.next().expect("answer"),
                Ok(json!(t)),
                "id_from_pos {h} {pos}"
            );
            let with = ok(
                answers.next().expect("answer"),
                format!("id_from_pos {h} {pos} true"),
            );
            assert_eq!(with["tx_hash"], json!(t));
            assert_eq!(with["merkle"], merkle["merkle"]);
            assert_eq!(with.as_object().map(|o| o.len()), Some(2));
            checked += 1;
        }
        let missing = bad(format!(
            "no tx at position {} in block at height {}",
            grouped(txs.len()),
            grouped(h)
        ));
        assert_eq!(answers.next().expect("answer"), Err(missing.clone()));
        assert_eq!(answers.next().expect("answer"), Err(missing));
    }
    assert!(checked > 500, "{checked} transactions");
    // Errors.
    let some = chain.txs[130][2].compute_txid().to_string();
    assert_eq!(
        c.call("blockchain.transaction.get_merkle", json!([some, 131])),
        Err(bad(format!("tx {some} not in block at height 131")))
    );
    assert_eq!(
        c.call("blockchain.transaction.get_merkle", json!([unknown, 5])),
        Err(bad(format!("tx {unknown} not in block at height 5")))
    );
    let not_on_disk = |h: u64| {
        bad(format!(
            "db error: DBError('block {} not on disk (>{})')",
            grouped(h),
            grouped(tip)
        ))
    };
    assert_eq!(
        c.call("blockchain.transaction.get_merkle", json!([some, past])),
        Err(not_on_disk(past))
    );
    assert_eq!(
        c.call("blockchain.transaction.id_from_pos", json!([past, 0])),
        Err(not_on_disk(past))
    );
    assert_eq!(
        c.call("blockchain.transaction.id_from_pos", json!([past, 0, true])),
        Err(not_on_disk(past))
    );
    let huge = "1000000000000000000000000000000";
    assert_eq!(
        c.call("blockchain.transaction.id_from_pos", json!([huge, 0])),
        Err(bad(format!(
            "db error: DBError('block {} not on disk (>{})')",
            grouped(huge),
            grouped(tip)
        )))
    );
    assert_eq!(
        c.call("blockchain.transaction.id_from_pos", json!([5, huge, true])),
        Err(bad(format!(
            "no tx at position {} in block at height 5",
            grouped(huge)
        )))
    );
    // ElectrumX checks tx_pos, then height, then merkle.
    assert_eq!(
        c.call("blockchain.transaction.id_from_pos", json!([-1, -2, "x"])),
        Err(bad("-2 should be a non-negative integer"))
    );
    assert_eq!(
        c.call("blockchain.transaction.id_from_pos", json!([-1, 0, "x"])),
        Err(bad("-1 should be a non-negative integer"))
    );
    assert_eq!(
        c.call("blockchain.transaction.id_from_pos", json!([5, 0, "x"])),
        Err(bad("\"merkle\" must be a boolean"))
    );
    assert_eq!(
        c.call("blockchain.transaction.id_from_pos", json!(["5", 0.9, 0])),
        Ok(json!(chain.txs[5][0].compute_txid().to_string()))
    );
    assert_eq!(
        c.call("blockchain.transaction.get_merkle", json!(["zz", 5])),
        Err(bad("zz should be a transaction hash"))
    );
    assert_eq!(
        c.call("blockchain.transaction.get_merkle", json!([some, -5])),
        Err(bad("-5 should be a non-negative integer"))
    );
    eprintln!("chain test: {:?}", started.elapsed());
}

#[test]
fn transaction_get_without_txindex() {
    let e = start(
        "methods-no-txindex",
        || {
            let mut node = Node::generate(GenParams::fixture(13));
            node.add_traffic(20);
            node.txindex = false;
            node
        },
        &[],
    );
    let daemon = Daemon::of(&e);
    let chain = Chain::of(&e);
    let mut c = e.session(Kind::Tcp, "1.6");
    let sample: Vec<&Transaction> = chain
        .txs
        .iter()
        .flatten()
        .step_by(3)
        .chain(&chain.mempool)
        .collect();
    // What a node with -txindex answers (the stand-in switched to it for the question).
    let with_txindex = |t: &str, verbose: bool| {
        e.sim.with_node(|n| n.txindex = true);
        let v = daemon.call("getrawtransaction", &[json!(t), json!(u8::from(verbose))]);
        e.sim.with_node(|n| n.txindex = false);
        v.map_err(|e| daemon_error(&e))
    };
    let confirmed = chain.txs[140][1].compute_txid().to_string();
    // The stand-in does refuse it without a block hash.
    let refused = daemon.error("getrawtransaction", &[json!(confirmed), json!(1)]);
    assert_eq!(refused.0, -5, "{refused:?}");
    for (i, tx) in sample.into_iter().enumerate() {
        let t = tx.compute_txid().to_string();
        let raw = with_txindex(&t, false);
        if i > 0 {
            assert_eq!(raw, Ok(json!(hex_of(tx))), "the stand-in's raw {t}");
        }
        assert_eq!(
            c.call("blockchain.transaction.get", json!([t])),
            raw,
            "raw {t}"
        );
        assert_eq!(
            c.call("blockchain.transaction.get", json!([t, true])),
            with_txindex(&t, true),
            "verbose {t}"
        );
    }
    let unknown = Txid::from_byte_array([0x5b; 32]).to_string();
    assert_eq!(
        c.call("blockchain.transaction.get", json!([unknown])),
        Err(daemon_error(
            &daemon.error("getrawtransaction", &[json!(unknown), json!(0)])
        ))
    );
}

// ---------------------------------------------------------------------------------------
// Versions, server methods, parameters, framing.

/// Python's `str()` of the simple JSON values used below.
fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => {
            let s = n.to_string();
            assert!(
                n.is_i64() || n.is_u64() || s.contains('.') || s.contains('e'),
                "{s}"
            );
            s
        }
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let inner: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::String(s) => format!("'{s}'"),
                    other => py_str(other),
                })
                .collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Object(_) => panic!("not needed"),
    }
}

/// ElectrumX's `util.protocol_tuple`.
fn protocol_tuple(v: &Value) -> Vec<u64> {
    match v {
        Value::String(s) => s
            .split('.')
            .map(|p| p.parse::<u64>())
            .collect::<Result<Vec<u64>, _>>()
            .unwrap_or_else(|_| vec![0]),
        _ => vec![0],
    }
}

/// ElectrumX's negotiation (`util.protocol_version` with PROTOCOL_MIN (1, 4), PROTOCOL_MAX
/// (1, 6, 0), then `version_string`): the version agreed for the `protocol_version`
/// argument, `None` when there is none.
fn negotiated(req: &Value) -> Option<String> {
    let (min, max) = (vec![1, 4], vec![1, 6, 0]);
    let (client_min, client_max) = match req {
        Value::Null => (min.clone(), min.clone()),
        Value::Array(a) if a.len() == 2 => (protocol_tuple(&a[0]), protocol_tuple(&a[1])),
        other => (protocol_tuple(other), protocol_tuple(other)),
    };
    let result = client_max.min(max);
    if result < client_min.max(min) || result == [0] {
        return None;
    }
    let mut parts: Vec<String> = result.iter().map(u64::to_string).collect();
    while parts.len() < 2 {
        parts.push("0".into());
    }
    Some(parts.join("."))
}

/// A new connection's first request: the raw notifications sent before its answer, the
/// answer, and (when `closes`) that the server then closed the connection — else that the
/// session goes on.
fn first_request(
    e: &Electrum,
    method: &str,
    params: Value,
    closes: bool,
) -> (Vec<String>, Result<Value, RpcErr>) {
    let mut c = e.connect(Kind::Tcp);
    let msg = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": &params});
    c.send_raw(&msg.to_string());
    let mut notes = Vec::new();
    let answer = loop {
        let line = c
            .recv_raw()
            .unwrap_or_else(|| panic!("{method} {params}: closed without an answer"));
        let v: Value = serde_json::from_str(&line).expect("JSON");
        if v.get("id").is_some() {
            break v;
        }
        notes.push(line);
    };
    assert_eq!(answer["id"], json!(1), "{answer}");
    let result = match answer.get("error") {
        Some(err) => Err((
            err["code"].as_i64().expect("code"),
            err["message"].as_str().expect("message").to_string(),
        )),
        None => Ok(answer["result"].clone()),
    };
    if closes {
        assert!(c.closed(), "{method} {params}: closed");
    } else {
        c.send_raw(r#"{"jsonrpc":"2.0","id":2,"method":"server.ping","params":[]}"#);
        let pong: Value = c.recv().expect("ping answered");
        assert_eq!(pong, json!({"jsonrpc": "2.0", "result": null, "id": 2}));
    }
    (notes, result)
}

/// A JSON-RPC 2.0 error message without an id (aiorpcx's answer to an unparsable message).
fn v2_error(code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": null})
}

/// A JSON-RPC 1.0 error message.
fn v1_error(code: i64, message: &str, id: Value) -> Value {
    json!({"result": null, "error": {"code": code, "message": message}, "id": id})
}

const CRASH_NOTES: [&str; 2] = [
    r#"{"jsonrpc":"2.0","method":"blockchain.relayfee"}"#,
    r#"{"jsonrpc":"2.0","method":"blockchain.estimatefee"}"#,
];

#[test]
fn versions_server_methods_params_and_framing() {
    let dir = TempDir::new("methods-banner");
    std::fs::create_dir_all(dir.path()).expect("dir");
    let banner = dir.path().join("banner.txt");
    let template = "Welcome to FerrumX $SERVER_VERSION ($SERVER_SUBVERSION) on bitcoind \
                    $DAEMON_VERSION $DAEMON_SUBVERSION — donate to $DONATION_ADDRESS; \
                    $SERVER_VERSION again, $UNKNOWN stays.\n";
    std::fs::write(&banner, template).expect("banner file");
    let report = "tcp://example.com:50001,ssl://example.com:50002,wss://electrum.example.org:50004";
    let donation = "bcrt1qdonationaddressexample";
    let e = start(
        "methods-server",
        || Node::generate(GenParams::fixture(14)),
        &[
            ("REPORT_SERVICES", report),
            ("BANNER_FILE", banner.to_str().expect("utf-8")),
            ("DONATION_ADDRESS", donation),
        ],
    );
    let daemon = Daemon::of(&e);
    let chain = Chain::of(&e);
    let tip = chain.tip;

    // -- Negotiation.
    let mut requests = vec![
        json!([]),
        json!(["c"]),
        json!(["c", null]),
        json!(["", "1.6"]),
        json!(["c", "1.4"]),
        json!(["c", "1.4.2"]),
        json!(["c", ["1.4", "1.4.2"]]),
        json!(["c", "1.5"]),
        json!(["c", "1.6"]),
        json!(["c", "1.6.0"]),
        json!(["c", "1.6.1"]),
        json!(["c", ["1.4", "1.6"]]),
        json!(["c", ["1.5", "1.9"]]),
        json!(["c", ["1.4", "2"]]),
        json!(["c", "1.6", "extra", {"ignored": true}]),
    ];
    let unsupported = [
        json!(["c", "1.3"]),
        json!(["c", ["1.7", "1.8"]]),
        json!(["c", ["1.5", "1.4"]]),
        json!(["c", "2"]),
        json!(["c", "junk"]),
        json!(["c", ""]),
        json!(["c", 1.4]),
        json!(["c", ["1.4"]]),
        json!(["c", ["1.4", "1.6", "1.7"]]),
    ];
    requests.extend(unsupported.iter().cloned());
    let mut server_version = None;
    for params in &requests {
        let req = params.get(1).cloned().unwrap_or(Value::Null);
        let want = negotiated(&req);
        let (notes, got) = first_request(&e, "server.version", params.clone(), want.is_none());
        assert!(notes.is_empty(), "{params}: {notes:?}");
        match want {
            Some(v) => {
                let got = ok(got, params);
                assert_eq!(got[1], json!(v), "{params}");
                server_version = Some(got[0].clone());
            }
            None => assert_eq!(
                got,
                Err(bad(format!(
                    "unsupported protocol version: {}",
                    py_str(&req)
                ))),
                "{params}"
            ),
        }
    }
    let server_version = server_version.expect("negotiated");
    assert!(unsupported.iter().all(|r| negotiated(&r[1]).is_none()));
    // Named arguments (server.version takes **kwargs).
    let (_, got) = first_request(
        &e,
        "server.version",
        json!({"client_name": "c", "protocol_version": "1.6", "other": 1}),
        false,
    );
    assert_eq!(got, Ok(json!([server_version, "1.6"])));
    // Old Electrum clients (<= 3.2.3) asking an unsupported version are first sent the two
    // notifications that crash them (ElectrumX's `maybe_crash_old_client`).
    for (client, crash) in [
        ("3.2.0", true),
        ("3.2.3", true),
        ("3.3.0", false),
        ("electrum", false),
    ] {
        let (notes, got) = first_request(&e, "server.version", json!([client, "1.2"]), true);
        assert_eq!(
            got,
            Err(bad("unsupported protocol version: 1.2")),
            "{client}"
        );
        let want: Vec<&str> = if crash { CRASH_NOTES.to_vec() } else { vec![] };
        assert_eq!(notes, want, "{client}");
    }
    let (notes, got) = first_request(&e, "server.version", json!(["3.2.0", "1.4"]), false);
    assert!(notes.is_empty());
    assert_eq!(got, Ok(json!([server_version, "1.4"])));
    // Anything before server.version: the two notifications, the error, the close.
    for (method, params) in [
        ("server.ping", json!([])),
        ("blockchain.block.header", json!([1])),
        ("no.such.method", json!([])),
    ] {
        let (notes, got) = first_request(&e, method, params, true);
        assert_eq!(notes, CRASH_NOTES.to_vec(), "{method}");
        assert_eq!(
            got,
            Err(bad("use server.version to identify client")),
            "{method}"
        );
    }

    // -- The methods of each protocol version.
    let relayfee = daemon.call("getnetworkinfo", &[]).expect("getnetworkinfo")["relayfee"].clone();
    let info = daemon.call("getmempoolinfo", &[]).expect("getmempoolinfo");
    let some_sh = ScriptHash([3; 32]).to_string();
    for (asked, v) in [
        (json!("1.4"), "1.4"),
        (json!(["1.4", "1.4.2"]), "1.4.2"),
        (json!("1.5"), "1.5"),
        (json!("1.6"), "1.6"),
    ] {
        let mut c = e.connect(Kind::Tcp);
        assert_eq!(
            c.call("server.version", json!(["c", asked])),
            Ok(json!([server_version, v]))
        );
        let at_least = |w: &str| protocol_tuple(&json!(v)) >= protocol_tuple(&json!(w));
        let expect = |present: bool, method: &str, answer: Result<Value, RpcErr>| {
            if present {
                answer
            } else {
                Err(unknown_method(method))
            }
        };
        assert_eq!(
            c.call("blockchain.relayfee", json!([])),
            expect(
                !at_least("1.6"),
                "blockchain.relayfee",
                Ok(relayfee.clone())
            ),
            "{v}"
        );
        assert_eq!(
            c.call("blockchain.scripthash.unsubscribe", json!([some_sh])),
            expect(
                at_least("1.4.2"),
                "blockchain.scripthash.unsubscribe",
                Ok(json!(false))
            ),
            "{v}"
        );
        assert_eq!(
            c.call("mempool.get_info", json!([])),
            expect(
                at_least("1.6"),
                "mempool.get_info",
                Ok(json!({
                    "mempoolminfee": info["mempoolminfee"],
                    "minrelaytxfee": info["minrelaytxfee"],
                    "incrementalrelayfee": info["incrementalrelayfee"],
                }))
            ),
            "{v}"
        );
        assert_eq!(
            c.call("blockchain.transaction.broadcast_package", json!([["zz"]])),
            expect(
                at_least("1.6"),
                "blockchain.transaction.broadcast_package",
                Err(bad("zz should be a hex string"))
            ),
            "{v}"
        );
        assert_eq!(
            c.call("blockchain.block.headers", json!([3, 4])),
            Ok(headers_answer(&chain, 3, 4, at_least("1.6"))),
            "{v}"
        );
        // Only the first server.version counts.
        assert_eq!(
            c.call("server.version", json!(["c", "1.6"])),
            Err(bad("server.version already sent")),
            "{v}"
        );
        assert_eq!(c.call("server.ping", json!([])), Ok(Value::Null));
    }

    // -- server.* methods.
    let mut c = e.session(Kind::Tcp, "1.6");
    let mut hosts = serde_json::Map::new();
    let services: Vec<&str> = report.split(',').collect();
    for s in &services {
        let (protocol, rest) = s.split_once("://").expect("service");
        let (host, port) = rest.rsplit_once(':').expect("port");
        let entry = hosts.entry(host.to_string()).or_insert_with(|| json!({}));
        entry[format!("{protocol}_port")] = json!(port.parse::<u16>().expect("port"));
    }
    let genesis = display(&chain.hashes[0]);
    assert_eq!(
        genesis,
        bitcoin::constants::genesis_block(bitcoin::Network::Regtest)
            .block_hash()
            .to_string()
    );
    assert_eq!(
        c.call("server.features", json!([])),
        Ok(json!({
            "hosts": hosts,
            "pruning": null,
            "server_version": server_version,
            "protocol_min": "1.4",
            "protocol_max": "1.6.0",
            "genesis_hash": genesis,
            "hash_function": "sha256",
            "services": services,
        }))
    );
    let network = daemon.call("getnetworkinfo", &[]).expect("getnetworkinfo");
    let dv = network["version"].as_u64().expect("version");
    let text = template
        .replace("$SERVER_VERSION", env!("CARGO_PKG_VERSION"))
        .replace(
            "$SERVER_SUBVERSION",
            server_version.as_str().expect("string"),
        )
        .replace(
            "$DAEMON_VERSION",
            &format!("{}.{}.{}", dv / 10_000, dv % 10_000 / 100, dv % 100),
        )
        .replace(
            "$DAEMON_SUBVERSION",
            network["subversion"].as_str().expect("subversion"),
        )
        .replace("$DONATION_ADDRESS", donation);
    assert!(
        text.contains("29.0.0") && !text.contains("$SERVER"),
        "{text}"
    );
    assert_eq!(c.call("server.banner", json!([])), Ok(json!(text)));
    assert_eq!(
        c.call("server.donation_address", json!([])),
        Ok(json!(donation))
    );
    assert_eq!(c.call("server.peers.subscribe", json!([])), Ok(json!([])));
    assert_eq!(
        c.call("server.add_peer", json!([{"hosts": {}}])),
        Ok(json!(false))
    );
    assert_eq!(c.call("server.ping", json!([])), Ok(Value::Null));

    // -- estimatefee without data (-1), as the stand-in says.
    e.sim.with_node(|n| {
        n.fee_overrides
            .insert((3, "unset".into()), Some((12_345, 3)));
        n.fee_overrides.insert((9, "unset".into()), None);
    });
    let mut seen = BTreeSet::new();
    for number in [1u64, 2, 3, 5, 9, 11] {
        let answer = daemon
            .call("estimatesmartfee", &[json!(bucket(number))])
            .expect("estimatesmartfee");
        let want = answer.get("feerate").cloned().unwrap_or(json!(-1));
        seen.insert(want.to_string());
        assert_eq!(
            c.call("blockchain.estimatefee", json!([number])),
            Ok(want),
            "{number}"
        );
    }
    assert!(seen.contains("-1") && seen.len() > 1, "{seen:?}");

    // -- Parameter errors, each class ElectrumX distinguishes.
    let sh = ScriptHash::of(&chain.txs[120][1].output[0].script_pubkey).to_string();
    let balance = ok(
        c.call("blockchain.scripthash.get_balance", json!([sh])),
        "balance",
    );
    let spaced: String = sh
        .as_bytes()
        .chunks(2)
        .map(|p| std::str::from_utf8(p).expect("hex"))
        .collect::<Vec<_>>()
        .join(" ");
    // bytes.fromhex accepts either case and whitespace between byte pairs.
    for alias in [sh.to_uppercase(), spaced] {
        assert_eq!(
            c.call("blockchain.scripthash.get_balance", json!([alias])),
            Ok(balance.clone())
        );
    }
    let bad_shs = [
        json!("zz"),
        json!(&sh[2..]),
        json!(format!("{sh}00")),
        json!(format!("{}x", &sh[1..])),
        json!(5),
        json!(null),
        json!(true),
        json!(["a"]),
    ];
    for method in [
        "blockchain.scripthash.get_balance",
        "blockchain.scripthash.get_history",
        "blockchain.scripthash.get_mempool",
        "blockchain.scripthash.listunspent",
        "blockchain.scripthash.subscribe",
        "blockchain.scripthash.unsubscribe",
    ] {
        for v in &bad_shs {
            assert_eq!(
                c.call(method, json!([v])),
                Err(bad(format!("{} is not a valid script hash", py_str(v)))),
                "{method} {v}"
            );
        }
    }
    // Python's int(): strings, floats (truncated) and bools are heights too.
    let header = |h: usize| Ok(json!(chain.headers[h]));
    for (v, h) in [
        (json!("5"), 5),
        (json!(" 7 "), 7),
        (json!("+8"), 8),
        (json!("1_0"), 10),
        (json!(5.7), 5),
        (json!(0.3), 0),
        (json!(true), 1),
        (json!(false), 0),
    ] {
        assert_eq!(
            c.call("blockchain.block.header", json!([v])),
            header(h),
            "{v}"
        );
    }
    for cp in [json!(false), json!(0), json!("0"), json!(0.9)] {
        assert_eq!(
            c.call("blockchain.block.header", json!([5, cp])),
            header(5),
            "{cp}"
        );
    }
    for (h, cp, cp_n) in [
        (json!("5"), json!("10"), 10u32),
        (json!(0), json!(true), 1),
        (json!(3), json!(9.99), 9),
    ] {
        let got = ok(c.call("blockchain.block.header", json!([h, cp])), "proof");
        let hn = h
            .as_u64()
            .or_else(|| h.as_str().and_then(|s| s.parse().ok()))
            .expect("h");
        chain.check_proof(&got, hn as u32, cp_n);
    }
    for v in [
        json!(-1),
        json!(-1.5),
        json!("-1"),
        json!("abc"),
        json!(""),
        json!("1e3"),
        json!("0x10"),
        json!("5.0"),
        json!(null),
        json!([1]),
        json!({}),
    ] {
        let shown = match v.as_f64() {
            Some(x) if v.is_f64() => (x.trunc() as i64).to_string(),
            _ => py_str(&v),
        };
        let want = Err(bad(format!("{shown} should be a non-negative integer")));
        assert_eq!(
            c.call("blockchain.block.header", json!([v])),
            want,
            "header {v}"
        );
        assert_eq!(
            c.call("blockchain.block.header", json!([1, v])),
            want,
            "cp {v}"
        );
        assert_eq!(
            c.call("blockchain.block.headers", json!([v, 1])),
            want,
            "start {v}"
        );
        assert_eq!(
            c.call("blockchain.block.headers", json!([0, v])),
            want,
            "count {v}"
        );
        assert_eq!(
            c.call("blockchain.estimatefee", json!([v])),
            want,
            "estimatefee {v}"
        );
        assert_eq!(
            c.call("blockchain.transaction.id_from_pos", json!([v, 0])),
            want,
            "id_from_pos {v}"
        );
    }
    // Heights beyond any chain, exact however large (Python ints).
    let huge = "1000000000000000000000000000000";
    assert_eq!(
        c.call("blockchain.block.header", json!([huge])),
        Err(bad(format!("height {} out of range", grouped(huge))))
    );
    assert_eq!(
        c.call("blockchain.block.header", json!([1e30])),
        Err(bad(format!(
            "height {} out of range",
            grouped("1000000000000000019884624838656")
        )))
    );
    assert_eq!(
        c.call("blockchain.block.header", json!([1, huge])),
        Err(bad(format!(
            "require header height 1 <= cp_height {} <= chain height {}",
            grouped(huge),
            grouped(tip)
        )))
    );
    assert_eq!(
        c.call("blockchain.block.headers", json!([huge, 5])),
        Ok(headers_answer(&chain, u64::MAX, 5, true))
    );
    assert_eq!(
        c.call("blockchain.block.headers", json!([tip - 1, huge])),
        Ok(headers_answer(&chain, u64::from(tip - 1), 2016, true))
    );
    // Missing, extra and named arguments (aiorpcx's messages), unknown methods.
    let (header, headers) = ("blockchain.block.header", "blockchain.block.headers");
    let (balance_m, merkle_m) = (
        "blockchain.scripthash.get_balance",
        "blockchain.transaction.get_merkle",
    );
    let cases = [
        (header, json!([]), too_few(header, 0, 1)),
        (headers, json!([1]), too_few(headers, 1, 2)),
        (header, json!([1, 2, 3]), too_many(header, 3, 2)),
        (merkle_m, json!(["x"]), too_few(merkle_m, 1, 2)),
        (balance_m, json!([sh, 1]), too_many(balance_m, 2, 1)),
        ("server.ping", json!([1]), too_many("server.ping", 1, 0)),
        (
            "server.add_peer",
            json!([]),
            too_few("server.add_peer", 0, 1),
        ),
        (
            header,
            json!({"cp_height": 5}),
            missing(header, &["height"]),
        ),
        (
            headers,
            json!({}),
            missing(headers, &["start_height", "count"]),
        ),
        (
            header,
            json!({"height": 1, "foo": 2, "bar": 3}),
            excess(header, &["foo", "bar"]),
        ),
        (
            balance_m,
            json!({"scripthash": sh, "x": 1}),
            excess(balance_m, &["x"]),
        ),
        (
            "server.ping",
            json!("x"),
            invalid_args("invalid request arguments: x"),
        ),
        (
            "server.ping",
            json!(5),
            invalid_args("invalid request arguments: 5"),
        ),
        (
            "blockchain.nonsense",
            json!([]),
            unknown_method("blockchain.nonsense"),
        ),
        ("", json!([]), unknown_method("")),
    ];
    for (method, params, want) in cases {
        assert_eq!(
            c.call(method, params.clone()),
            Err(want),
            "{method} {params}"
        );
    }
    let named = ok(
        c.call(
            "blockchain.block.header",
            json!({"height": 4, "cp_height": tip}),
        ),
        "named",
    );
    chain.check_proof(&named, 4, tip);
    assert_eq!(
        c.call(
            "blockchain.scripthash.get_balance",
            json!({"scripthash": sh})
        ),
        Ok(balance.clone())
    );
    assert_eq!(
        c.call(
            "blockchain.transaction.id_from_pos",
            json!({"tx_pos": 0, "height": 3})
        ),
        Ok(json!(chain.txs[3][0].compute_txid().to_string()))
    );

    // -- Framing: batches, JSON-RPC 1.0, invalid JSON.
    c.send_raw(
        &json!([
            {"jsonrpc": "2.0", "id": "a", "method": "server.ping"},
            {"jsonrpc": "2.0", "id": 7, "method": "blockchain.block.header", "params": [3]},
            {"jsonrpc": "2.0", "method": "server.ping"},
            {"jsonrpc": "2.0", "id": 8, "method": "blockchain.nonsense", "params": []},
            {"jsonrpc": "2.0", "id": 9, "method": "blockchain.block.header", "params": [-1]}
        ])
        .to_string(),
    );
    let line = c.recv_raw().expect("batch answer");
    let answers: Vec<Value> = serde_json::from_str(&line).expect("a JSON array");
    assert_eq!(answers.len(), 4, "{line}");
    let by_id: HashMap<String, &Value> = answers.iter().map(|a| (a["id"].to_string(), a)).collect();
    assert_eq!(
        by_id["\"a\""],
        &json!({"jsonrpc": "2.0", "result": null, "id": "a"})
    );
    assert_eq!(
        by_id["7"],
        &json!({"jsonrpc": "2.0", "result": chain.headers[3], "id": 7})
    );
    assert_eq!(
        by_id["8"]["error"],
        json!({"code": -32601, "message": "unknown method \"blockchain.nonsense\""})
    );
    assert_eq!(
        by_id["9"]["error"],
        json!({"code": 1, "message": "-1 should be a non-negative integer"})
    );
    c.send_raw("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ");
    assert_eq!(c.recv(), Some(v2_error(-32700, "invalid JSON")));
    c.send_raw("[]");
    assert_eq!(c.recv(), Some(v2_error(-32600, "batch is empty")));
    assert_eq!(c.call("server.ping", json!([])), Ok(Value::Null));
    // JSON-RPC 1.0: answered in 1.0's shape.
    let mut v1 = e.connect(Kind::Tcp);
    v1.send_raw(
        r#"{"jsonrpc": "1.0", "id": 1, "method": "server.version", "params": ["c", "1.4"]}"#,
    );
    assert_eq!(
        v1.recv(),
        Some(json!({"result": [server_version, "1.4"], "error": null, "id": 1}))
    );
    v1.send_raw(r#"{"id": 2, "method": "blockchain.block.header", "params": [2]}"#);
    assert_eq!(
        v1.recv(),
        Some(json!({"result": chain.headers[2], "error": null, "id": 2}))
    );
    v1.send_raw(r#"{"id": 3, "method": "blockchain.block.header", "params": [-1]}"#);
    assert_eq!(
        v1.recv(),
        Some(v1_error(1, "-1 should be a non-negative integer", json!(3)))
    );
    v1.send_raw("nonsense");
    assert_eq!(
        v1.recv(),
        Some(v1_error(-32700, "invalid JSON", Value::Null))
    );
}

// ---------------------------------------------------------------------------------------
// Limits.

#[test]
fn limits() {
    // A long chain (more than 2,016 headers) where one hot script hash is in most
    // transactions: its history passes MAX_SEND / 99 entries.
    let params = GenParams {
        hot_addresses: 1,
        hot_share: 0.9,
        ..GenParams::sized(15, 4_000, 2)
    };
    let max_send = 350_000usize;
    let e = start(
        "methods-limits",
        || {
            let mut node = Node::generate(params.clone());
            node.add_traffic(30);
            node
        },
        &[("MAX_SEND", "350000"), ("MAX_RECV", "400000")],
    );
    let chain = Chain::of(&e);
    let tip = chain.tip;
    assert!(tip > 2016 + 10, "tip {tip}");
    let (hot, hot_want, normal_want) = e.sim.with_node(|n| {
        let view = MempoolView::of(n);
        let hot = *n
            .truth
            .script_hashes()
            .max_by_key(|sh| n.truth.history_len(sh))
            .expect("script hashes");
        let normal = *n
            .truth
            .script_hashes()
            .find(|sh| (2..10).contains(&n.truth.history_len(sh)))
            .expect("a normal script hash");
        assert!(
            n.truth.history_len(&hot) >= max_send / 99,
            "{}",
            n.truth.history_len(&hot)
        );
        eprintln!(
            "limits: tip {}, hot script hash with {} history entries (limit {})",
            n.tip_height(),
            n.truth.history_len(&hot),
            max_send / 99
        );
        (hot, want_for(n, &view, &hot), want_for(n, &view, &normal))
    });
    let mut c = e.session(Kind::Tcp, "1.4");
    let too_large = Err(bad("history too large"));
    let sh = hot.to_string();
    assert_eq!(
        c.call("blockchain.scripthash.get_history", json!([sh])),
        too_large
    );
    assert_eq!(
        c.call("blockchain.scripthash.subscribe", json!([sh])),
        too_large
    );
    // What does not read the confirmed history still answers.
    assert_eq!(
        c.call("blockchain.scripthash.get_mempool", json!([sh])),
        Ok(hot_want.mempool)
    );
    assert_eq!(
        c.call("blockchain.scripthash.get_balance", json!([sh])),
        Ok(hot_want.balance)
    );
    assert_eq!(
        c.call("blockchain.scripthash.listunspent", json!([sh])),
        Ok(hot_want.listunspent)
    );
    check_script_hashes(&mut c, &[normal_want]);

    // Chunks of headers: clipped at 2,016 and at the tip, each under MAX_SEND.
    let mut c6 = e.session(Kind::Tcp, "1.6");
    for (client, v16) in [(&mut c, false), (&mut c6, true)] {
        for (start, count) in [(0u64, 5000u64), (1, 2016), (u64::from(tip) - 10, 2016)] {
            let want = headers_answer(&chain, start, count, v16);
            assert_eq!(
                client.call("blockchain.block.headers", json!([start, count])),
                Ok(want.clone())
            );
            let n = want["count"].as_u64().expect("count");
            assert_eq!(n, count.min(2016).min(u64::from(tip) + 1 - start));
            let last = (start + n - 1) as u32;
            let mut got = ok(
                client.call("blockchain.block.headers", json!([start, count, tip])),
                "headers with proof",
            );
            chain.check_proof(&got, last, tip);
            let o = got.as_object_mut().expect("object");
            o.shift_remove("branch");
            o.shift_remove("root");
            assert_eq!(got, want);
        }
    }
    // A batch's answers count together: the second chunk goes over MAX_SEND.
    let response_too_large = (
        -32600,
        format!("response too large (over {} bytes", grouped(max_send)),
    );
    c.send_raw(
        &json!([
            {"jsonrpc": "2.0", "id": 1, "method": "blockchain.block.headers", "params": [0, 2016]},
            {"jsonrpc": "2.0", "id": 2, "method": "blockchain.block.headers", "params": [0, 2016]}
        ])
        .to_string(),
    );
    let line = c.recv_raw().expect("batch answer");
    let answers: Vec<Value> = serde_json::from_str(&line).expect("array");
    assert_eq!(answers.len(), 2);
    let want = headers_answer(&chain, 0, 2016, false);
    let results: Vec<&Value> = answers
        .iter()
        .filter(|a| a.get("result").is_some())
        .collect();
    let errors: Vec<&Value> = answers
        .iter()
        .filter(|a| a.get("error").is_some())
        .collect();
    assert_eq!(results.len(), 1, "{}", &line[..200]);
    assert_eq!(errors.len(), 1, "{}", &line[..200]);
    assert_eq!(results[0]["result"], want);
    assert_eq!(
        errors[0]["error"],
        json!({"code": response_too_large.0, "message": response_too_large.1})
    );
    // A single answer over MAX_SEND: a rejection quoting a 360,000-character transaction.
    let huge_tx = "00".repeat(180_000);
    assert_eq!(
        c.call("blockchain.transaction.broadcast", json!([huge_tx])),
        Err(response_too_large.clone())
    );
    // A message over MAX_RECV is dropped without an answer; the connection goes on.
    let oversized =
        json!({"jsonrpc": "2.0", "id": 4242, "method": "blockchain.transaction.broadcast",
                           "params": ["00".repeat(230_000)]})
        .to_string();
    assert!(oversized.len() > 400_000);
    c.send_raw(&oversized);
    c.send_raw(r#"{"jsonrpc":"2.0","id":5001,"method":"server.ping","params":[]}"#);
    let garbage = json!({"jsonrpc": "2.0", "id": 5002, "method": "blockchain.transaction.broadcast",
                         "params": ["00"]});
    c.send_raw(&garbage.to_string());
    let mut ids = Vec::new();
    while ids.len() < 2 {
        let m = c.recv().expect("answers");
        ids.push(m["id"].clone());
    }
    ids.sort_by_key(|v| v.as_i64());
    assert_eq!(ids, vec![json!(5001), json!(5002)]);
    // Nor later: the next message is a final ping's answer, and nothing follows it.
    let fence = c.request("server.ping", json!([]));
    let m = c.recv().expect("the final ping's answer");
    assert_eq!(
        m["id"],
        json!(fence),
        "only the final ping is answered: {m}"
    );
    assert_eq!(m["result"], Value::Null, "{m}");
    assert!(c.notification(Duration::from_millis(300)).is_none());
}
