//! Helpers for the `bitcoincore-rpc` client tests: one generated fixture chain shared by every
//! test of the binary, clients with timeouts, error classification, raw HTTP and values
//! computed straight from the node's blocks and transactions (never from RPC answers).

#![allow(dead_code)]

pub mod reorg;

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bitcoincore_rpc::bitcoin::{self, Block, OutPoint, Transaction, TxOut, Txid};
use bitcoincore_rpc::jsonrpc;
use bitcoincore_rpc::jsonrpc::simple_http::Error as HttpError;
use bitcoincore_rpc::{Auth, Client};
use ferrumx_simnode::chainfile;
use ferrumx_simnode::{GenParams, Node, SimNode, SimNodeOptions};

/// Core's message for a confirmed transaction asked for without a block hash or txindex.
pub const NO_TXINDEX: &str = "No such mempool transaction. Use -txindex or provide a block hash to enable blockchain transaction queries. Use gettransaction for wallet transactions.";
/// Core's message for an unknown transaction.
pub const NO_SUCH_TX: &str =
    "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.";

/// Seed of the shared fixture chain: `SIMNODE_TEST_SEED`, else 29.
pub fn seed() -> u64 {
    std::env::var("SIMNODE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(29)
}

/// Client-side timeout of every request.
pub const TIMEOUT: Duration = Duration::from_secs(20);

static CHAIN: OnceLock<Vec<u8>> = OnceLock::new();

/// A fresh node holding the shared 150-block fixture chain (generated once per test binary).
pub fn fixture() -> Node {
    let bytes =
        CHAIN.get_or_init(|| chainfile::encode(&Node::generate(GenParams::fixture(seed()))));
    chainfile::decode(bytes).expect("fixture chain decodes")
}

/// Serves `node` on 127.0.0.1 with the default user and password.
pub fn serve(node: Node) -> SimNode {
    SimNode::spawn(node, SimNodeOptions::default()).expect("simnode starts")
}

/// A client for `url` with `auth` and [`TIMEOUT`].
pub fn client_for(url: &str, auth: Auth) -> Client {
    let (user, pass) = auth.get_user_pass().expect("credentials");
    let mut builder = jsonrpc::simple_http::Builder::new()
        .timeout(TIMEOUT)
        .url(url)
        .expect("url");
    if let Some(user) = user {
        builder = builder.auth(user, pass);
    }
    Client::from_jsonrpc(jsonrpc::Client::with_transport(builder.build()))
}

/// A client logged in with the node's user and password.
pub fn client(sim: &SimNode) -> Client {
    let (user, pass) = sim.user_pass().expect("password auth on");
    client_for(&sim.url(), Auth::UserPass(user, pass))
}

/// The JSON-RPC error (code, message) of a failed call, if it was one.
pub fn rpc_error(e: &bitcoincore_rpc::Error) -> Option<(i32, String)> {
    match e {
        bitcoincore_rpc::Error::JsonRpc(jsonrpc::Error::Rpc(r)) => {
            Some((r.code, r.message.clone()))
        }
        _ => None,
    }
}

/// The transport-level error of a failed call, if it was one.
pub fn transport_error(e: &bitcoincore_rpc::Error) -> Option<&jsonrpc::simple_http::Error> {
    match e {
        bitcoincore_rpc::Error::JsonRpc(jsonrpc::Error::Transport(t)) => t.downcast_ref(),
        _ => None,
    }
}

/// The connection was refused (the node is down).
pub fn refused(e: &bitcoincore_rpc::Error) -> bool {
    matches!(transport_error(e), Some(HttpError::SocketError(io))
        if io.kind() == std::io::ErrorKind::ConnectionRefused)
}

/// The answer was not JSON.
pub fn parse_error(e: &bitcoincore_rpc::Error) -> bool {
    matches!(transport_error(e), Some(HttpError::Json(_)))
        || matches!(e, bitcoincore_rpc::Error::JsonRpc(jsonrpc::Error::Json(_)))
}

/// Polls `f` every 20 ms until it returns true or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Asserts that `r` failed with JSON-RPC error `code`; returns the message.
#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(r: bitcoincore_rpc::Result<T>, code: i32) -> String {
    match r {
        Ok(v) => panic!("expected error {code}, got {v:?}"),
        Err(e) => match rpc_error(&e) {
            Some((c, m)) if c == code => m,
            _ => panic!("expected error {code}, got {e:?}"),
        },
    }
}

/// POSTs `body` to `/` over a plain TCP connection (Basic auth when given); returns the HTTP
/// status and the body.
pub fn raw_post(addr: SocketAddr, auth: Option<(&str, &str)>, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
    s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    s.set_write_timeout(Some(TIMEOUT)).expect("timeout");
    let mut req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some((u, p)) = auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        req.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A set of txids.
pub fn ids<I: IntoIterator<Item = Txid>>(it: I) -> BTreeSet<Txid> {
    it.into_iter().collect()
}

/// Block subsidy at `height` (regtest halves every 150 blocks).
pub fn subsidy(height: u32) -> u64 {
    (50 * 100_000_000u64) >> (height / 150)
}

/// A transaction from the generator's wallet (`Node::make_tx`), with its fee; it must pay
/// at least the 1 sat/vB relay fee on its real size.
pub fn relayable_tx(n: &mut Node) -> (Transaction, u64) {
    let (tx, fee) = n.make_tx().expect("generator builds a transaction");
    assert!(fee >= tx.vsize() as u64, "fee {fee} below the relay fee");
    (tx, fee)
}

/// The active chain's blocks, parsed from the node's raw bytes, from height 0.
pub fn active_blocks(node: &Node) -> Vec<Block> {
    (0..=node.tip_height())
        .map(|h| node.block_at(h).and_then(|b| b.block()).expect("block"))
        .collect()
}

/// The output `op` refers to, from whatever transaction the node knows (mempool or blocks).
pub fn prev_output(node: &Node, op: &OutPoint) -> TxOut {
    let (tx, _) = node.find_tx(&op.txid).expect("previous transaction known");
    tx.output[op.vout as usize].clone()
}

/// Fee of a non-coinbase transaction: its inputs' values minus its outputs'.
pub fn fee_of(node: &Node, tx: &Transaction) -> u64 {
    let value_in: u64 = tx
        .input
        .iter()
        .map(|i| prev_output(node, &i.previous_output).value.to_sat())
        .sum();
    let value_out: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
    value_in - value_out
}

/// The mempool's transactions, each with its fee and the mempool transactions it spends.
pub struct PoolTx {
    pub tx: Transaction,
    pub fee: u64,
    pub vsize: u64,
    pub parents: BTreeSet<Txid>,
}

/// The node's mempool, recomputed from its transactions.
pub fn pool_view(node: &Node) -> HashMap<Txid, PoolTx> {
    let txs: Vec<Transaction> = node.mempool.entries().map(|e| e.tx.clone()).collect();
    let ids: BTreeSet<Txid> = txs.iter().map(Transaction::compute_txid).collect();
    txs.into_iter()
        .map(|tx| {
            let parents = tx
                .input
                .iter()
                .map(|i| i.previous_output.txid)
                .filter(|t| ids.contains(t))
                .collect();
            let v = PoolTx {
                fee: fee_of(node, &tx),
                vsize: tx.vsize() as u64,
                parents,
                tx,
            };
            (v.tx.compute_txid(), v)
        })
        .collect()
}

/// In-mempool ancestors of `txid` in `view`.
pub fn ancestors(view: &HashMap<Txid, PoolTx>, txid: &Txid) -> BTreeSet<Txid> {
    let mut out = BTreeSet::new();
    let mut todo: Vec<Txid> = view[txid].parents.iter().copied().collect();
    while let Some(t) = todo.pop() {
        if out.insert(t) {
            todo.extend(view[&t].parents.iter().copied());
        }
    }
    out
}

/// In-mempool descendants of `txid` in `view`.
pub fn descendants(view: &HashMap<Txid, PoolTx>, txid: &Txid) -> BTreeSet<Txid> {
    let mut out = BTreeSet::new();
    let mut todo = vec![*txid];
    while let Some(t) = todo.pop() {
        for (id, p) in view {
            if p.parents.contains(&t) && out.insert(*id) {
                todo.push(*id);
            }
        }
    }
    out
}

/// `a` pays a strictly higher fee rate than `b` (fee, vsize pairs).
pub fn higher_rate(a: (u64, u64), b: (u64, u64)) -> bool {
    u128::from(a.0) * u128::from(b.1) > u128::from(b.0) * u128::from(a.1)
}

/// Difficulty of compact `bits`, computed by the `bitcoin` crate (independently of the
/// stand-in's own `corejson::difficulty`).
pub fn difficulty(bits: u32) -> f64 {
    bitcoin::Target::from_compact(bitcoin::CompactTarget::from_consensus(bits)).difficulty_float()
}

/// Median time past of the block at `height` in `blocks` (itself and the ten before it).
pub fn median_time(blocks: &[Block], height: usize) -> u32 {
    let mut times: Vec<u32> = blocks[height.saturating_sub(10)..=height]
        .iter()
        .map(|b| b.header.time)
        .collect();
    times.sort_unstable();
    times[times.len() / 2]
}

/// Cumulative chain work up to and including each block, big-endian bytes.
pub fn chainworks(blocks: &[Block]) -> Vec<[u8; 32]> {
    let mut acc = bitcoin::pow::Work::from_be_bytes([0; 32]);
    blocks
        .iter()
        .map(|b| {
            acc = acc + b.header.work();
            acc.to_be_bytes()
        })
        .collect()
}

/// Satoshis of a BTC amount in a JSON number.
pub fn sats(v: &serde_json::Value) -> u64 {
    let btc = v.as_f64().expect("amount");
    (btc * 1e8).round() as u64
}

/// A unique scratch directory under the system temp dir.
pub fn scratch_dir(name: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("simnode-{name}-{}-{nanos}", std::process::id()))
}
