//! Every Electrum method, and every difference between protocol versions, over real sockets
//! against the real `ferrumx_server`, with every expected answer computed here from the
//! stand-in's own data — its truth tables (history, UTXOs and balance per script hash), its
//! blocks and its mempool (transactions, prevouts, fees, sizes) and its own JSON-RPC answers
//! — never from the server's answers. ElectrumX 1.20 (`server/session.py`, `mempool.py`,
//! `lib/util.py`, aiorpcx 0.25) is the reference for shapes, orders and messages up to
//! protocol 1.6, ElectrumX 2.0.0 at 1.7.
//!
//! One `#[test]` per behaviour, by family (a failure names both):
//! - [`scripthash`]: a fixture chain plus 300 mempool transactions (chains of unconfirmed
//!   parents included): balance, history, mempool, listunspent and status of every script
//!   hash, the fee histogram, fees, mempool info, rejections, unsubscribe (one shared
//!   server); broadcasts, the notifications they cause and packages, each on its own server
//!   and followed by every script hash again.
//! - [`chain`]: headers and their proofs, raw and verbose transactions, merkle branches,
//!   positions and their errors (one shared server); `transaction.get` against a stand-in
//!   without `-txindex` (its own).
//! - [`server`]: negotiation, per-version method sets, `server.*` (REPORT_SERVICES,
//!   BANNER_FILE, DONATION_ADDRESS), every parameter error class, JSON-RPC framing (one
//!   shared server).
//! - [`limits`]: MAX_SEND / MAX_RECV on a long chain with a hot script hash (one shared
//!   server).
//! - [`scriptpubkey`]: protocol 1.7 (ElectrumX 2.0.0): the `blockchain.scriptpubkey.*`
//!   family for every script of the chain and mempool, every script type, in 1.7's shapes;
//!   per-version availability, `server.ping`'s `pong_len`, `server.features`, argument
//!   errors, "history too large" (code 10001); `testmempoolaccept` against the stand-in's
//!   own verdicts and `mempool.recent` through broadcasts and a block (their own server).
//!
//! A shared server ([`ferrumx_testkit::Shared`]) is started by the first test that needs it
//! and serves its family's read-only tests; tests that change the chain or the mempool start
//! their own.
//!
//! Not checkable here: the fee histogram after the mempool changes (ElectrumX, and FerrumX,
//! recompute it only every 120 s), so it is compared with the mempool the server started
//! with.

mod chain;
mod limits;
mod scripthash;
mod scriptpubkey;
mod server;
mod whale;

use std::collections::{BTreeSet, HashMap};

use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::{sha256, sha256d, Hash};
use bitcoin::hex::{DisplayHex, FromHex};
use bitcoin::{OutPoint, Transaction, Txid};
use bitcoincore_rpc::RpcApi;
use ferrumx_simnode::{Node, ScriptHash};
use ferrumx_testkit::oracle::grouped;
use ferrumx_testkit::{poll_until, Client, Electrum, RpcErr, WAIT};
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
