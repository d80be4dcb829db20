//! The handlers driven directly, without a server or a socket: a fake backend holding known
//! values, a session, and expected answers computed independently in each test (hashes with
//! `sha256`/`sha256d` by hand, JSON written out).

mod fees;
mod headers;
mod outpoint;
mod scripthash;
mod scriptpubkey;
mod server;
mod table;
mod transactions;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bitcoin::block::{Header, Version};
use bitcoin::hashes::{sha256d, Hash};
use bitcoin::{BlockHash, CompactTarget, OutPoint, TxMerkleNode, Txid};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::backend::{Backend, DaemonCalls, DbError, IndexReads, MempoolReads};
use super::call::Call;
use super::table::Method;
use crate::config::{Config, Protocol};
use crate::daemon;
use crate::electrum::cost::Limits;
use crate::electrum::history::{Confirmed, HistoryError};
use crate::electrum::merkle;
use crate::electrum::session::SessionState;
use crate::electrum::shared::{FeeKey, FeeSlot};
use crate::electrum::version::ProtocolVersion;
use crate::index::{HashX, OutpointStatus, Utxo};
use crate::mempool::{MempoolTxo, MempoolUtxo, RecentTx, TxSummary};

/// A 32-byte value made of one repeated byte.
pub(super) fn bytes32(b: u8) -> [u8; 32] {
    [b; 32]
}

pub(super) fn txid(b: u8) -> Txid {
    Txid::from_byte_array(bytes32(b))
}

/// A hash as clients write it (reversed, hex), written out by hand.
pub(super) fn display_hex(h: &[u8; 32]) -> String {
    h.iter().rev().map(|b| format!("{b:02x}")).collect()
}

/// The Electrum status, computed here, of a history of tx 1 at height 5 and tx 2 at 7, with
/// tx 3 (confirmed inputs: 0) and tx 4 (an unconfirmed input: -1) in the mempool: the
/// sha256 of `txid:height:` for each, in hex.
pub(super) fn status_of_1_2_and_mempool_3_4() -> String {
    use bitcoin::hashes::{sha256, Hash};
    let status = format!(
        "{}:5:{}:7:{}:0:{}:-1:",
        display_hex(&bytes32(1)),
        display_hex(&bytes32(2)),
        display_hex(&bytes32(3)),
        display_hex(&bytes32(4))
    );
    sha256::Hash::hash(status.as_bytes())
        .to_byte_array()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `sha256d(left ‖ right)`.
pub(super) fn sha256d_pair(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut buf = left.to_vec();
    buf.extend_from_slice(right);
    sha256d::Hash::hash(&buf).to_byte_array()
}

/// The settings of the tests: regtest, plus `extra` variables.
pub(super) fn config(extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = [
        ("COIN", "Bitcoin"),
        ("NET", "regtest"),
        ("DB_DIRECTORY", "/nonexistent/db"),
        ("DAEMON_URL", "u:p@localhost"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    vars.insert("ALLOW_ROOT".into(), "1".into());
    Config::from_vars(&vars).unwrap_or_else(|e| panic!("test config: {e}"))
}

/// A confirmed history as the fake holds it: (txid, height) in chain order, or why it
/// cannot be served.
pub(super) type FakeHistory = Result<Vec<(Txid, u32)>, HistoryError>;

/// Everything the handlers can read, as plain values.
pub(super) struct Fake {
    pub config: Config,
    /// The chain's headers, by height (the tip is the last).
    pub headers: Vec<Header>,
    /// Each block's txids, by height.
    pub txids: Vec<Vec<Txid>>,
    /// Confirmed histories by script hash (internal order); a missing one is empty.
    pub histories: HashMap<[u8; 32], FakeHistory>,
    pub utxos: HashMap<[u8; 32], Vec<Utxo>>,
    /// Every index read fails with this.
    pub db_failure: Option<String>,
    pub mempool_txs: HashMap<HashX, Vec<TxSummary>>,
    pub mempool_utxos: HashMap<HashX, Vec<MempoolUtxo>>,
    pub mempool_delta: HashMap<HashX, i64>,
    pub mempool_spends: HashSet<OutPoint>,
    pub histogram: Vec<(f64, u64)>,
    /// The mempool's transactions in arrival order (the newest last).
    pub arrivals: Vec<RecentTx>,
    /// Confirmed outpoint statuses (a missing one: no such output in the chain).
    pub outpoints: HashMap<OutPoint, OutpointStatus>,
    /// What the mempool says of outpoints (a missing one: nothing).
    pub mempool_txos: HashMap<OutPoint, MempoolTxo>,
    pub network_info: Value,
    pub mempool_info: Value,
    /// `estimatesmartfee` answers by (target, mode).
    pub fee_estimates: HashMap<(u32, Option<String>), Value>,
    pub broadcast: Result<Txid, daemon::Error>,
    pub package: Result<Value, daemon::Error>,
    pub mempool_accept: Result<Value, daemon::Error>,
    /// `getrawtransaction` answers by (txid, block asked in); others are "not found".
    pub raw_txs: HashMap<(Txid, Option<BlockHash>), Vec<u8>>,
    pub verbose_txs: HashMap<(Txid, Option<BlockHash>), Value>,
    /// The daemon calls made, in order.
    pub daemon_calls: Mutex<Vec<String>>,
    fee_slots: Mutex<HashMap<FeeKey, Arc<FeeSlot>>>,
    pub txs_sent: AtomicU64,
    pub notified_tip: Value,
}

/// A regtest-like header on `prev`, distinct per `n`.
pub(super) fn header(prev: BlockHash, n: u32) -> Header {
    Header {
        version: Version::from_consensus(0x2000_0000),
        prev_blockhash: prev,
        merkle_root: TxMerkleNode::from_byte_array(bytes32(n as u8)),
        time: 1_700_000_000 + n,
        bits: CompactTarget::from_consensus(0x207f_ffff),
        nonce: n,
    }
}

fn not_found() -> daemon::Error {
    daemon::Error::Rpc {
        code: -5,
        message: "No such mempool or blockchain transaction".into(),
    }
}

impl Fake {
    /// A chain of `blocks` blocks (heights `0..blocks`), block `h` holding `h` txids
    /// (`txid(10 * h + i)`), the genesis block none; nothing else.
    pub fn with_chain(blocks: u32) -> Fake {
        let mut headers: Vec<Header> = Vec::new();
        for n in 0..blocks {
            let prev = headers
                .last()
                .map_or(BlockHash::all_zeros(), Header::block_hash);
            headers.push(header(prev, n));
        }
        let txids = (0..blocks)
            .map(|h| (0..h).map(|i| txid((10 * h + i) as u8)).collect())
            .collect();
        Fake {
            config: config(&[]),
            headers,
            txids,
            histories: HashMap::new(),
            utxos: HashMap::new(),
            db_failure: None,
            mempool_txs: HashMap::new(),
            mempool_utxos: HashMap::new(),
            mempool_delta: HashMap::new(),
            mempool_spends: HashSet::new(),
            histogram: Vec::new(),
            arrivals: Vec::new(),
            outpoints: HashMap::new(),
            mempool_txos: HashMap::new(),
            network_info: json!({}),
            mempool_info: json!({}),
            fee_estimates: HashMap::new(),
            broadcast: Err(not_found()),
            package: Err(not_found()),
            mempool_accept: Ok(json!([])),
            raw_txs: HashMap::new(),
            verbose_txs: HashMap::new(),
            daemon_calls: Mutex::new(Vec::new()),
            fee_slots: Mutex::new(HashMap::new()),
            txs_sent: AtomicU64::new(0),
            notified_tip: Value::Null,
        }
    }

    fn read<T>(&self, f: impl FnOnce() -> T) -> Result<T, DbError> {
        match &self.db_failure {
            Some(e) => Err(DbError(e.clone())),
            None => Ok(f()),
        }
    }

    fn called(&self, what: String) {
        self.daemon_calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(what);
    }

    pub fn calls(&self) -> Vec<String> {
        self.daemon_calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl IndexReads for Fake {
    fn tip(&self) -> Option<(u32, BlockHash)> {
        let h = self.headers.last()?;
        Some((self.headers.len() as u32 - 1, h.block_hash()))
    }

    fn header(&self, height: u32) -> Result<Option<Header>, DbError> {
        self.read(|| self.headers.get(height as usize).copied())
    }

    fn headers(&self, start: u32, count: usize) -> Result<Vec<Header>, DbError> {
        self.read(|| {
            self.headers
                .iter()
                .skip(start as usize)
                .take(count)
                .copied()
                .collect()
        })
    }

    fn block_hash(&self, height: u32) -> Result<Option<BlockHash>, DbError> {
        self.read(|| self.headers.get(height as usize).map(Header::block_hash))
    }

    fn block_txids(&self, height: u32) -> Result<Option<Arc<Vec<Txid>>>, DbError> {
        self.read(|| self.txids.get(height as usize).cloned().map(Arc::new))
    }

    fn tx_height(&self, txid: &Txid) -> Result<Option<u32>, DbError> {
        self.read(|| {
            self.txids
                .iter()
                .position(|block| block.contains(txid))
                .map(|h| h as u32)
        })
    }

    fn utxos(&self, sh: &[u8; 32]) -> Result<Vec<Utxo>, DbError> {
        self.read(|| self.utxos.get(sh).cloned().unwrap_or_default())
    }

    fn confirmed_history(&self, sh: &[u8; 32]) -> Result<(Arc<Confirmed>, bool), HistoryError> {
        if let Some(e) = &self.db_failure {
            return Err(HistoryError::Index(e.clone()));
        }
        match self.histories.get(sh) {
            None => Ok((Arc::new(Confirmed::new(Vec::new())), false)),
            Some(Ok(entries)) => Ok((Arc::new(Confirmed::new(entries.clone())), false)),
            Some(Err(e)) => Err(e.clone()),
        }
    }

    fn header_proof(&self, length: u32, index: u32) -> Result<(Vec<[u8; 32]>, [u8; 32]), DbError> {
        let hashes: Vec<[u8; 32]> = self.headers[..length as usize]
            .iter()
            .map(|h| h.block_hash().to_byte_array())
            .collect();
        merkle::branch_and_root(&hashes, index as usize).map_err(DbError)
    }

    fn outpoint_status(&self, op: &OutPoint) -> Result<Option<OutpointStatus>, DbError> {
        self.read(|| self.outpoints.get(op).copied())
    }
}

impl MempoolReads for Fake {
    fn mempool_txs(&self, x: &HashX) -> Vec<TxSummary> {
        self.mempool_txs.get(x).cloned().unwrap_or_default()
    }

    fn mempool_balance_delta(&self, x: &HashX) -> i64 {
        self.mempool_delta.get(x).copied().unwrap_or(0)
    }

    fn mempool_utxos(&self, x: &HashX) -> Vec<MempoolUtxo> {
        self.mempool_utxos.get(x).cloned().unwrap_or_default()
    }

    fn mempool_spends(&self, _x: &HashX) -> HashSet<OutPoint> {
        self.mempool_spends.clone()
    }

    fn fee_histogram(&self) -> Vec<(f64, u64)> {
        self.histogram.clone()
    }

    fn mempool_recent(&self, count: usize) -> Vec<RecentTx> {
        self.arrivals.iter().rev().take(count).copied().collect()
    }

    fn spender_for_txo(&self, op: &OutPoint) -> MempoolTxo {
        self.mempool_txos.get(op).copied().unwrap_or_default()
    }
}

impl DaemonCalls for Fake {
    async fn network_info(&self) -> Result<Value, daemon::Error> {
        self.called("getnetworkinfo".into());
        Ok(self.network_info.clone())
    }

    async fn mempool_info(&self) -> Result<Value, daemon::Error> {
        self.called("getmempoolinfo".into());
        Ok(self.mempool_info.clone())
    }

    async fn estimate_smart_fee(
        &self,
        target: u32,
        mode: Option<&str>,
    ) -> Result<Value, daemon::Error> {
        self.called(format!("estimatesmartfee {target} {mode:?}"));
        let key = (target, mode.map(str::to_owned));
        Ok(self
            .fee_estimates
            .get(&key)
            .cloned()
            .unwrap_or_else(|| json!({"errors": ["Insufficient data or no feerate found"]})))
    }

    async fn broadcast(&self, raw_tx: &str) -> Result<Txid, daemon::Error> {
        self.called(format!("sendrawtransaction {raw_tx}"));
        self.broadcast.clone()
    }

    async fn submit_package(&self, raw_txs: &[String]) -> Result<Value, daemon::Error> {
        self.called(format!("submitpackage {}", raw_txs.join(",")));
        self.package.clone()
    }

    async fn test_mempool_accept(&self, raw_txs: &[String]) -> Result<Value, daemon::Error> {
        self.called(format!("testmempoolaccept {}", raw_txs.join(",")));
        self.mempool_accept.clone()
    }

    async fn raw_transaction(
        &self,
        txid: Txid,
        block: Option<BlockHash>,
    ) -> Result<Vec<u8>, daemon::Error> {
        self.called(format!("getrawtransaction {txid} false {block:?}"));
        self.raw_txs
            .get(&(txid, block))
            .cloned()
            .ok_or_else(not_found)
    }

    async fn raw_transaction_verbose(
        &self,
        txid: Txid,
        block: Option<BlockHash>,
    ) -> Result<Value, daemon::Error> {
        self.called(format!("getrawtransaction {txid} true {block:?}"));
        self.verbose_txs
            .get(&(txid, block))
            .cloned()
            .ok_or_else(not_found)
    }
}

impl Backend for Fake {
    fn config(&self) -> &Config {
        &self.config
    }

    fn notified_tip(&self) -> Value {
        self.notified_tip.clone()
    }

    fn fee_slot(&self, key: FeeKey) -> Arc<FeeSlot> {
        self.fee_slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .clone()
    }

    fn count_tx_sent(&self, n: u64) {
        self.txs_sent.fetch_add(n, Ordering::Relaxed);
    }
}

/// A fake backend and one session (protocol 1.6, cost not decaying, so that a test reads
/// exactly what was charged).
pub(super) struct Harness {
    pub fake: Arc<Fake>,
    pub session: Arc<SessionState>,
}

/// A failed call as a test looks at it: code, message, whether the session is closed.
pub(super) type Failure = (i64, String, bool);

impl Harness {
    /// The harness at protocol 1.6.0.
    pub fn new(fake: Fake) -> Harness {
        Harness::at(fake, &[1, 6, 0])
    }

    /// The harness at protocol `version`.
    pub fn at(fake: Fake, version: &[i64]) -> Harness {
        let peer = "192.0.2.1:50000".parse().unwrap_or_else(|e| panic!("{e}"));
        let session = SessionState::new(
            1,
            peer,
            Protocol::Tcp,
            CancellationToken::new(),
            Limits::default(),
            false,
        );
        session.set_decay_per_sec(0.0);
        session.set_protocol(ProtocolVersion::new(version));
        Harness {
            fake: Arc::new(fake),
            session: Arc::new(session),
        }
    }

    /// Calls method `name` (as served at the session's protocol) with positional `args`,
    /// padded with "not given" to its signature, as binding would.
    pub async fn call(&self, name: &str, args: &[Value]) -> Result<Value, Failure> {
        let method = self
            .session
            .with_protocol(|v| Method::lookup(name, v))
            .unwrap_or_else(|| panic!("{name} not served"));
        let mut bound: Vec<Option<Value>> = args.iter().cloned().map(Some).collect();
        while bound.len() < method.signature().names.len() {
            bound.push(None);
        }
        let call = Call {
            backend: &self.fake,
            session: &self.session,
        };
        call.run(method, &bound)
            .await
            .map_err(|f| (f.error.code, f.error.message, f.disconnect))
    }

    /// Like [`call`](Self::call), expecting success.
    pub async fn ok(&self, name: &str, args: &[Value]) -> Value {
        self.call(name, args)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"))
    }

    /// Like [`call`](Self::call), expecting a `BAD_REQUEST` without disconnection: its
    /// message.
    pub async fn bad(&self, name: &str, args: &[Value]) -> String {
        match self.call(name, args).await {
            Err((1, message, false)) => message,
            other => panic!("{name}: {other:?}"),
        }
    }

    /// What the session has been charged so far.
    pub fn cost(&self) -> f64 {
        self.session.cost()
    }
}

/// Asserts two costs are equal up to float rounding.
pub(super) fn assert_cost(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-9, "cost {got}, expected {want}");
}
