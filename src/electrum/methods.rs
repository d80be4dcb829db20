//! The Electrum methods, as ElectrumX 1.20 serves them at protocol 1.4 to 1.6: which exist
//! at which version, their signatures (for argument binding), parameter checks with
//! ElectrumX's messages, their answers, and their cost (ElectrumX's `bump_cost` figures,
//! for throttling).

use std::sync::Arc;

use bitcoin::consensus::serialize;
use bitcoin::hashes::Hash;
use bitcoin::hex::DisplayHex;
use bitcoin::{BlockHash, Txid};
use serde_json::{json, Value};

use super::history::{Confirmed, HistoryError};
use super::merkle;
use super::params;
use super::session::SessionState;
use super::shared::{
    features_hosts, Counters, ElectrumState, METHOD_SLOTS, SERVER_VERSION, SERVER_VERSION_SHORT,
};
use super::version::{self, ProtocolVersion};
use crate::daemon;
use crate::index::HashX;
use crate::jsonrpc::{RpcError, Signature, BAD_REQUEST, DAEMON_ERROR};
use crate::py::{self, thousands, PyInt};

/// Most headers one `blockchain.block.headers` returns.
pub const MAX_CHUNK_SIZE: u64 = 2016;

/// Every method FerrumX serves to Electrum clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    BlockHeader,
    BlockHeaders,
    EstimateFee,
    HeadersSubscribe,
    RelayFee,
    GetBalance,
    GetHistory,
    GetMempool,
    ListUnspent,
    Subscribe,
    Unsubscribe,
    Broadcast,
    BroadcastPackage,
    TxGet,
    TxGetMerkle,
    TxIdFromPos,
    FeeHistogram,
    MempoolInfo,
    AddPeer,
    Banner,
    DonationAddress,
    Features,
    PeersSubscribe,
    Ping,
    Version,
}

/// Every method ElectrumX 1.20 serves, by name (at some protocol version: see
/// [`Method::lookup`]). Public for the tests that go over every method.
pub const METHODS: [(&str, Method); 25] = [
    ("blockchain.block.header", Method::BlockHeader),
    ("blockchain.block.headers", Method::BlockHeaders),
    ("blockchain.estimatefee", Method::EstimateFee),
    ("blockchain.headers.subscribe", Method::HeadersSubscribe),
    ("blockchain.relayfee", Method::RelayFee),
    ("blockchain.scripthash.get_balance", Method::GetBalance),
    ("blockchain.scripthash.get_history", Method::GetHistory),
    ("blockchain.scripthash.get_mempool", Method::GetMempool),
    ("blockchain.scripthash.listunspent", Method::ListUnspent),
    ("blockchain.scripthash.subscribe", Method::Subscribe),
    ("blockchain.scripthash.unsubscribe", Method::Unsubscribe),
    ("blockchain.transaction.broadcast", Method::Broadcast),
    (
        "blockchain.transaction.broadcast_package",
        Method::BroadcastPackage,
    ),
    ("blockchain.transaction.get", Method::TxGet),
    ("blockchain.transaction.get_merkle", Method::TxGetMerkle),
    ("blockchain.transaction.id_from_pos", Method::TxIdFromPos),
    ("mempool.get_fee_histogram", Method::FeeHistogram),
    ("mempool.get_info", Method::MempoolInfo),
    ("server.add_peer", Method::AddPeer),
    ("server.banner", Method::Banner),
    ("server.donation_address", Method::DonationAddress),
    ("server.features", Method::Features),
    ("server.peers.subscribe", Method::PeersSubscribe),
    ("server.ping", Method::Ping),
    ("server.version", Method::Version),
];

impl Method {
    /// The method called `name` at protocol `v`, if it exists there.
    pub fn lookup(name: &str, v: &ProtocolVersion) -> Option<Method> {
        let m = METHODS.iter().find(|(n, _)| *n == name)?.1;
        let served = match m {
            Method::RelayFee => !v.at_least(&[1, 6]),
            Method::Unsubscribe => v.at_least(&[1, 4, 2]),
            Method::BroadcastPackage | Method::MempoolInfo => v.at_least(&[1, 6]),
            _ => true,
        };
        served.then_some(m)
    }

    /// The method's name (what ElectrumX counts requests by).
    pub fn name(self) -> &'static str {
        METHODS
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("invalid method", |(n, _)| n)
    }

    /// The slot of [`Counters`] that counts requests of `method` (`None`: a method not served
    /// at the session's version, ElectrumX's `invalid method`).
    fn slot(method: Option<Method>) -> usize {
        method.map_or(METHODS.len(), |m| m as usize)
    }

    /// Counts a request of `method` (lock-free).
    pub fn count_request(counters: &Counters, method: Option<Method>) {
        counters.count_request(Method::slot(method));
    }

    /// ElectrumX's `request counts`: requests by method name, in name order, methods never
    /// requested left out.
    pub fn request_counts(counters: &Counters) -> Vec<(&'static str, u64)> {
        let mut counts: Vec<(&'static str, u64)> = METHODS
            .iter()
            .map(|(name, m)| (*name, Some(*m)))
            .chain([("invalid method", None)])
            .map(|(name, m)| (name, counters.requests_in(Method::slot(m))))
            .filter(|(_, n)| *n > 0)
            .collect();
        counts.sort_unstable_by_key(|(name, _)| *name);
        counts
    }

    /// The Python signature of ElectrumX's handler, for argument binding.
    pub fn signature(self) -> Signature {
        const fn sig(names: &'static [&'static str], required: usize) -> Signature {
            Signature {
                names,
                required,
                varargs: false,
                varkw: false,
            }
        }
        match self {
            Method::BlockHeader => sig(&["height", "cp_height"], 1),
            Method::BlockHeaders => sig(&["start_height", "count", "cp_height"], 2),
            Method::EstimateFee => sig(&["number", "mode"], 1),
            Method::GetBalance
            | Method::GetHistory
            | Method::GetMempool
            | Method::ListUnspent
            | Method::Subscribe
            | Method::Unsubscribe => sig(&["scripthash"], 1),
            Method::Broadcast => sig(&["raw_tx"], 1),
            Method::BroadcastPackage => sig(&["raw_txs", "verbose"], 1),
            Method::TxGet => sig(&["tx_hash", "verbose"], 1),
            Method::TxGetMerkle => sig(&["tx_hash", "height"], 2),
            Method::TxIdFromPos => sig(&["height", "tx_pos", "merkle"], 2),
            Method::AddPeer => sig(&["features"], 1),
            Method::Version => Signature {
                names: &["client_name", "protocol_version"],
                required: 0,
                varargs: true,
                varkw: true,
            },
            Method::HeadersSubscribe
            | Method::RelayFee
            | Method::FeeHistogram
            | Method::MempoolInfo
            | Method::Banner
            | Method::DonationAddress
            | Method::Features
            | Method::PeersSubscribe
            | Method::Ping => sig(&[], 0),
        }
    }
}

/// A failed call: the error for the client, and whether to disconnect after sending it
/// (aiorpcx's `ReplyAndDisconnect`).
#[derive(Debug)]
pub struct CallFailure {
    pub error: RpcError,
    pub disconnect: bool,
}

impl From<RpcError> for CallFailure {
    fn from(error: RpcError) -> CallFailure {
        CallFailure {
            error,
            disconnect: false,
        }
    }
}

pub type Outcome = Result<Value, CallFailure>;

fn bad(message: impl Into<String>) -> CallFailure {
    RpcError::new(BAD_REQUEST, message).into()
}

// Every method's counter slot, and `invalid method`'s, exists.
const _: () = assert!(METHODS.len() < METHOD_SLOTS);

/// What a call may use: the shared state and its session (which its cost is charged to).
pub struct Call<'a> {
    pub shared: &'a Arc<ElectrumState>,
    pub session: &'a Arc<SessionState>,
}

/// ElectrumX's wrapping of a daemon failure: `daemon error: DaemonError({...})`.
pub fn daemon_failure(e: &daemon::Error) -> CallFailure {
    RpcError::new(
        DAEMON_ERROR,
        format!("daemon error: {}", daemon_error_repr(e)),
    )
    .into()
}

/// Python's repr of ElectrumX's `DaemonError` for `e`.
fn daemon_error_repr(e: &daemon::Error) -> String {
    match e {
        daemon::Error::Rpc { code, message } => format!(
            "DaemonError({{'code': {code}, 'message': {}}})",
            py::py_str_repr(message)
        ),
        other => format!("DaemonError({})", py::py_str_repr(&client_safe(other))),
    }
}

/// What a client may be told of a failure that is not the daemon's own answer: never the
/// daemon's address (an operator's private detail).
fn client_safe(e: &daemon::Error) -> String {
    match e {
        daemon::Error::Unreachable { .. } => "daemon unreachable".to_string(),
        other => other.to_string(),
    }
}

/// The daemon's message of a rejection (what ElectrumX puts in broadcast errors).
fn daemon_message(e: &daemon::Error) -> String {
    match e {
        daemon::Error::Rpc { message, .. } => message.clone(),
        other => client_safe(other),
    }
}

fn hex_hash(h: &[u8; 32]) -> String {
    let mut r = *h;
    r.reverse();
    r.to_lower_hex_string()
}

fn arg(args: &[Option<Value>], i: usize) -> Option<&Value> {
    args.get(i).and_then(Option::as_ref)
}

/// A required argument (binding guarantees it; `null` otherwise).
fn req(args: &[Option<Value>], i: usize) -> &Value {
    static NULL: Value = Value::Null;
    arg(args, i).unwrap_or(&NULL)
}

/// Python truthiness of a JSON value.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

impl Call<'_> {
    /// Charges `cost` to the session at once, as ElectrumX's `bump_cost` does: what a
    /// request has incurred stays charged even if REQUEST_TIMEOUT cuts it off (most methods
    /// charge before their slow part).
    fn bump(&mut self, cost: f64) {
        self.session.bump_cost(cost);
    }

    /// Runs `method` with bound `args` (one entry per signature name, `None` when not
    /// given; extra positional arguments after them for `server.version`).
    pub async fn run(&mut self, method: Method, args: &[Option<Value>]) -> Outcome {
        match method {
            Method::Version => self.server_version(args),
            Method::Banner => self.banner().await,
            Method::DonationAddress => {
                self.bump(0.1);
                Ok(json!(self.shared.config.donation_address))
            }
            Method::Features => {
                self.bump(0.2);
                Ok(self.features())
            }
            Method::PeersSubscribe => {
                self.bump(1.0);
                Ok(json!([]))
            }
            Method::AddPeer => {
                self.bump(100.0);
                Ok(json!(false))
            }
            Method::Ping => {
                self.bump(0.1);
                Ok(Value::Null)
            }
            Method::HeadersSubscribe => {
                self.session.subscribe_headers();
                self.bump(0.25);
                Ok(self.shared.hsub())
            }
            Method::BlockHeader => self.block_header(args).await,
            Method::BlockHeaders => self.block_headers(args).await,
            Method::EstimateFee => self.estimatefee(args).await,
            Method::RelayFee => {
                self.bump(1.0);
                let info = self.network_info().await?;
                Ok(info.get("relayfee").cloned().unwrap_or(Value::Null))
            }
            Method::MempoolInfo => self.mempool_info().await,
            Method::FeeHistogram => {
                self.bump(1.0);
                let h: Vec<Value> = self
                    .shared
                    .mempool
                    .fee_histogram()
                    .into_iter()
                    .map(|(rate, size)| json!([rate, size]))
                    .collect();
                Ok(Value::Array(h))
            }
            Method::GetBalance => self.get_balance(args).await,
            Method::GetHistory => self.get_history(args, true).await,
            Method::GetMempool => self.get_history(args, false).await,
            Method::ListUnspent => self.listunspent(args).await,
            Method::Subscribe => self.subscribe(args).await,
            Method::Unsubscribe => {
                self.bump(0.1);
                let sh = params::script_hash(req(args, 0))?;
                Ok(json!(self
                    .session
                    .unsubscribe(&HashX::from_script_hash(&sh))))
            }
            Method::Broadcast => self.broadcast(args).await,
            Method::BroadcastPackage => self.broadcast_package(args).await,
            Method::TxGet => self.transaction_get(args).await,
            Method::TxGetMerkle => self.transaction_merkle(args).await,
            Method::TxIdFromPos => self.id_from_pos(args).await,
        }
    }

    fn server_version(&mut self, args: &[Option<Value>]) -> Outcome {
        self.bump(0.5);
        if !self.session.mark_version_seen() {
            return Err(bad("server.version already sent"));
        }
        let client_name = arg(args, 0);
        if truthy(client_name) {
            let name = py::py_str(client_name.unwrap_or(&Value::Null));
            if let Some(filter) = &self.shared.config.drop_client {
                if filter.matches(&name) {
                    return Err(CallFailure {
                        error: RpcError::new(BAD_REQUEST, format!("unsupported client: {name}")),
                        disconnect: true,
                    });
                }
            }
            self.session.set_client(name.chars().take(17).collect());
        }
        let requested = arg(args, 1);
        let negotiated = version::negotiate(requested);
        if negotiated.is_none() {
            self.maybe_crash_old_client();
        }
        match negotiated {
            Some(v) => {
                let answer = json!([SERVER_VERSION, v.to_string()]);
                self.session.set_protocol(v);
                Ok(answer)
            }
            None => Err(CallFailure {
                error: RpcError::new(
                    BAD_REQUEST,
                    format!(
                        "unsupported protocol version: {}",
                        py::py_str(requested.unwrap_or(&Value::Null))
                    ),
                ),
                disconnect: true,
            }),
        }
    }

    /// ElectrumX's `maybe_crash_old_client` (Bitcoin's `CRASH_CLIENT_VER` (3, 2, 3)): a
    /// client named with a version up to 3.2.3 asking for a protocol version nothing
    /// supports (or one up to 1.2, which negotiation never yields) is first sent the two
    /// notifications that crash vulnerable Electrum versions.
    fn maybe_crash_old_client(&self) {
        let client = version::protocol_tuple(&self.session.client());
        if client != ProtocolVersion::invalid() && client <= ProtocolVersion::new(&[3, 2, 3]) {
            self.session.notify("blockchain.relayfee", &[]);
            self.session.notify("blockchain.estimatefee", &[]);
        }
    }

    fn features(&self) -> Value {
        let s = &self.shared.config;
        json!({
            "hosts": features_hosts(s),
            "pruning": null,
            "server_version": SERVER_VERSION,
            "protocol_min": ProtocolVersion::min_supported().to_string(),
            "protocol_max": ProtocolVersion::max_supported().to_string(),
            "genesis_hash": s.genesis_hash().to_string(),
            "hash_function": "sha256",
            "services": s.report_services.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
        })
    }

    async fn network_info(&self) -> Result<Value, CallFailure> {
        if let Some(v) = self.shared.network_info.get() {
            return Ok(v);
        }
        let v = self
            .shared
            .daemon
            .call_json("getnetworkinfo", vec![])
            .await
            .map_err(|e| daemon_failure(&e))?;
        self.shared.network_info.set(v.clone());
        Ok(v)
    }

    async fn banner(&mut self) -> Outcome {
        self.bump(0.5);
        let default = format!("You are connected to an {SERVER_VERSION} server.");
        let s = &self.shared.config;
        let file = if self.session.is_tor(s) {
            s.tor_banner_file.as_ref()
        } else {
            s.banner_file.as_ref()
        };
        let Some(file) = file else {
            return Ok(json!(default));
        };
        let text = match tokio::fs::read(file).await.map(String::from_utf8) {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                tracing::error!(file = %file.display(), "reading banner file: {e}");
                return Ok(json!(default));
            }
            Err(e) => {
                tracing::error!(file = %file.display(), "reading banner file: {e}");
                return Ok(json!(default));
            }
        };
        let info = self.network_info().await?;
        let v = info.get("version").and_then(Value::as_u64).unwrap_or(0);
        let daemon_version = format!("{}.{}.{}", v / 10_000, (v % 10_000) / 100, v % 100);
        let subversion = info
            .get("subversion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let text = text
            .replace("$SERVER_VERSION", SERVER_VERSION_SHORT)
            .replace("$SERVER_SUBVERSION", SERVER_VERSION)
            .replace("$DAEMON_VERSION", &daemon_version)
            .replace("$DAEMON_SUBVERSION", &subversion)
            .replace("$DONATION_ADDRESS", &s.donation_address);
        Ok(json!(text))
    }

    /// Reads `f` on a blocking thread (RocksDB reads).
    async fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&ElectrumState) -> R + Send + 'static,
    ) -> Result<R, CallFailure> {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || f(&shared))
            .await
            .map_err(|e| bad(format!("internal error: {e}")))
    }

    fn db_height(&self) -> u32 {
        self.shared.index.tip().map_or(0, |t| t.0)
    }

    async fn raw_header(&self, height: &PyInt) -> Result<String, CallFailure> {
        let header = match height.to_u32() {
            Some(h) => self
                .blocking(move |s| s.index.header(h))
                .await?
                .map_err(|e| bad(format!("db error: {e}")))?,
            None => None,
        };
        match header {
            Some(header) => Ok(serialize(&header).to_lower_hex_string()),
            None => Err(bad(format!("height {} out of range", height.grouped()))),
        }
    }

    /// ElectrumX's `_merkle_proof`: the branch and root proving header `height` in the
    /// headers up to `cp_height`.
    async fn merkle_proof(&self, cp_height: &PyInt, height: &PyInt) -> Result<Value, CallFailure> {
        let max_height = self.db_height();
        let max = PyInt::from(u64::from(max_height));
        if !(height <= cp_height && *cp_height <= max) {
            return Err(bad(format!(
                "require header height {} <= cp_height {} <= chain height {}",
                height.grouped(),
                cp_height.grouped(),
                thousands(max_height)
            )));
        }
        // Both are at most the chain height here.
        let (Some(cp), Some(index)) = (cp_height.to_u32(), height.to_u32()) else {
            return Err(bad("height out of range"));
        };
        let length = cp + 1;
        let (branch, root) = self
            .blocking(move |s| s.header_branch_and_root(length, index))
            .await?
            .map_err(|e| bad(format!("db error: {e}")))?;
        Ok(json!({
            "branch": branch.iter().map(hex_hash).collect::<Vec<_>>(),
            "root": hex_hash(&root),
        }))
    }

    async fn block_header(&mut self, args: &[Option<Value>]) -> Outcome {
        let height = params::non_negative_integer(req(args, 0))?;
        let cp_height = match arg(args, 1) {
            None => PyInt::zero(),
            Some(v) => params::non_negative_integer(v)?,
        };
        let hex = self.raw_header(&height).await?;
        let no_proof = cp_height == PyInt::zero();
        self.bump(if no_proof { 0.25 } else { 1.25 });
        if no_proof {
            return Ok(json!(hex));
        }
        let mut result = json!({ "header": hex });
        let proof = self.merkle_proof(&cp_height, &height).await?;
        merge(&mut result, proof);
        Ok(result)
    }

    async fn block_headers(&mut self, args: &[Option<Value>]) -> Outcome {
        let start = params::non_negative_integer(req(args, 0))?;
        let count = params::non_negative_integer(req(args, 1))?;
        let cp_height = match arg(args, 2) {
            None => PyInt::zero(),
            Some(v) => params::non_negative_integer(v)?,
        };
        let count = count.saturating_u64();
        let mut cost = count as f64 / 50.0;
        let count = count.min(MAX_CHUNK_SIZE);
        let headers = match start.to_u32() {
            Some(start) if start <= self.db_height() => self
                .blocking(move |s| s.index.headers(start, count as usize))
                .await?
                .map_err(|e| bad(format!("db error: {e}")))?,
            _ => Vec::new(),
        };
        let n = headers.len() as u64;
        let hexes: Vec<String> = headers
            .iter()
            .map(|h| serialize(h).to_lower_hex_string())
            .collect();
        let mut result = if self.session.with_protocol(|v| v.at_least(&[1, 6])) {
            json!({"count": n, "max": MAX_CHUNK_SIZE, "headers": hexes})
        } else {
            json!({"hex": hexes.concat(), "count": n, "max": MAX_CHUNK_SIZE})
        };
        if n > 0 && cp_height != PyInt::zero() {
            cost += 1.0;
            let last = PyInt::from(start.saturating_u64() + n - 1);
            let proof = self.merkle_proof(&cp_height, &last).await?;
            merge(&mut result, proof);
        }
        self.bump(cost);
        Ok(result)
    }

    async fn estimatefee(&mut self, args: &[Option<Value>]) -> Outcome {
        let number = params::non_negative_integer(req(args, 0))?;
        let mode = params::estimatefee_mode(arg(args, 1))?.map(str::to_string);
        self.bump(0.1);
        let number = params::bucket_estimatefee_block_target(number.saturating_u64());
        let tip = self.shared.index.tip().map(|t| t.1);
        let slot = self.shared.fee_slot((number, mode.clone()));
        let mut cached = slot.lock().await;
        if let (Some((at, v)), Some(tip)) = (cached.as_ref(), tip) {
            if *at == tip {
                return Ok(v.clone());
            }
        }
        self.bump(2.0);
        let target = u32::try_from(number).unwrap_or(u32::MAX);
        let mut params = vec![json!(target)];
        params.extend(mode.as_ref().map(|m| json!(m)));
        let answer = self
            .shared
            .daemon
            .call_json("estimatesmartfee", params)
            .await
            .map_err(|e| daemon_failure(&e))?;
        let feerate = answer.get("feerate").cloned().unwrap_or(json!(-1));
        *cached = tip.map(|tip| (tip, feerate.clone()));
        Ok(feerate)
    }

    async fn mempool_info(&mut self) -> Outcome {
        self.bump(1.0);
        let info = match self.shared.mempool_info.get() {
            Some(v) => v,
            None => {
                let v = self
                    .shared
                    .daemon
                    .call_json("getmempoolinfo", vec![])
                    .await
                    .map_err(|e| daemon_failure(&e))?;
                self.shared.mempool_info.set(v.clone());
                v
            }
        };
        let field = |k: &str| info.get(k).cloned().unwrap_or(Value::Null);
        Ok(json!({
            "mempoolminfee": field("mempoolminfee"),
            "minrelaytxfee": field("minrelaytxfee"),
            "incrementalrelayfee": field("incrementalrelayfee"),
        }))
    }

    /// The confirmed history of `sh`, with ElectrumX's cost.
    async fn confirmed(&mut self, sh: [u8; 32]) -> Result<Arc<Confirmed>, CallFailure> {
        let got = self
            .blocking(move |s| s.histories.get(&s.index, &sh))
            .await?;
        let mut cost = 0.1;
        let result = match got {
            Ok((c, cached)) => {
                if !cached {
                    cost += 0.1 + c.entries.len() as f64 * 0.001;
                }
                Ok(c)
            }
            Err(HistoryError::TooLarge) => Err(bad("history too large")),
            Err(HistoryError::Index(e)) => Err(bad(format!("db error: {e}"))),
        };
        self.bump(cost);
        result
    }

    async fn get_balance(&mut self, args: &[Option<Value>]) -> Outcome {
        let sh = params::script_hash(req(args, 0))?;
        let utxos = self
            .blocking(move |s| s.index.utxos(&sh))
            .await?
            .map_err(|e| bad(format!("db error: {e}")))?;
        let confirmed: u64 = utxos.iter().map(|u| u.value).sum();
        let unconfirmed = self
            .shared
            .mempool
            .balance_delta(&HashX::from_script_hash(&sh));
        self.bump(1.0 + utxos.len() as f64 / 50.0);
        Ok(json!({"confirmed": confirmed, "unconfirmed": unconfirmed}))
    }

    fn unconfirmed(&mut self, x: &HashX) -> Vec<Value> {
        let result: Vec<Value> = self
            .shared
            .mempool
            .summaries(x)
            .iter()
            .map(|tx| {
                json!({
                    "tx_hash": tx.txid.to_string(),
                    "height": if tx.has_unconfirmed_inputs { -1 } else { 0 },
                    "fee": tx.fee,
                })
            })
            .collect();
        self.bump(0.25 + result.len() as f64 / 50.0);
        result
    }

    async fn get_history(&mut self, args: &[Option<Value>], confirmed: bool) -> Outcome {
        let sh = params::script_hash(req(args, 0))?;
        let x = HashX::from_script_hash(&sh);
        let mut out: Vec<Value> = Vec::new();
        if confirmed {
            let c = self.confirmed(sh).await?;
            out.extend(
                c.entries
                    .iter()
                    .map(|(txid, height)| json!({"tx_hash": txid.to_string(), "height": height})),
            );
        }
        out.extend(self.unconfirmed(&x));
        Ok(Value::Array(out))
    }

    async fn listunspent(&mut self, args: &[Option<Value>]) -> Outcome {
        let sh = params::script_hash(req(args, 0))?;
        let x = HashX::from_script_hash(&sh);
        let utxos = self
            .blocking(move |s| s.index.utxos(&sh))
            .await?
            .map_err(|e| bad(format!("db error: {e}")))?;
        let mempool = &self.shared.mempool;
        // Already in FerrumX's documented order (txid as displayed, then output index);
        // `Txid`'s own `Ord` compares the internal byte order, which is not that.
        let unconfirmed = mempool.utxos(&x);
        self.bump(1.0 + (utxos.len() + unconfirmed.len()) as f64 / 50.0);
        let spends = mempool.potential_spends(&x);
        let confirmed = utxos
            .iter()
            .filter(|u| !spends.contains(&bitcoin::OutPoint::new(u.txid, u.vout)))
            .map(|u| {
                json!({"tx_hash": u.txid.to_string(), "tx_pos": u.vout, "height": u.height,
                       "value": u.value})
            });
        let unconfirmed = unconfirmed
            .iter()
            .filter(|u| !spends.contains(&bitcoin::OutPoint::new(u.txid, u.vout)))
            .map(|u| {
                json!({"tx_hash": u.txid.to_string(), "tx_pos": u.vout, "height": 0,
                       "value": u.value})
            });
        Ok(Value::Array(confirmed.chain(unconfirmed).collect()))
    }

    /// ElectrumX's `address_status`, with its cost.
    /// Also says whether the status has mempool transactions.
    async fn status(&mut self, sh: [u8; 32]) -> Result<(Option<[u8; 32]>, bool), CallFailure> {
        let c = self.confirmed(sh).await?;
        let mempool = self.shared.mempool.summaries(&HashX::from_script_hash(&sh));
        let status = c.status(&mempool);
        let len = c.entries.len() + mempool.len();
        // ElectrumX: 0.1 plus 2e-5 per character of the status string (~68 each).
        self.bump(0.1 + len as f64 * 68.0 * 0.000_02);
        Ok((status, !mempool.is_empty()))
    }

    async fn subscribe(&mut self, args: &[Option<Value>]) -> Outcome {
        let alias = req(args, 0);
        let sh = params::script_hash(alias)?;
        let (status, has_mempool) = self.status(sh).await?;
        let x = HashX::from_script_hash(&sh);
        let alias = alias.as_str().unwrap_or_default();
        self.session.subscribe(x, sh, alias, status, has_mempool);
        Ok(status_json(status))
    }

    async fn broadcast(&mut self, args: &[Option<Value>]) -> Outcome {
        params::assert_hex_str(req(args, 0))?;
        let raw_tx = req(args, 0).as_str().unwrap_or_default().to_string();
        self.bump(0.25 + raw_tx.len() as f64 / 5000.0);
        match self.shared.daemon.broadcast(&raw_tx).await {
            Ok(txid) => {
                self.shared.count_tx_sent(1);
                self.session.count_tx_sent(1);
                if let Some(warning) = old_client_warning(&self.session.client()) {
                    tracing::info!(%txid, "sent tx; warned the user to upgrade their client");
                    return Ok(json!(warning));
                }
                tracing::info!(%txid, "sent tx");
                Ok(json!(txid.to_string()))
            }
            Err(daemon::Error::Shutdown) => Err(bad("server shutting down")),
            Err(e) => {
                let message = daemon_message(&e);
                tracing::info!("error sending transaction: {message}");
                Err(bad(format!(
                    "the transaction was rejected by network rules.\n\n{message}\n[{raw_tx}]"
                )))
            }
        }
    }

    async fn broadcast_package(&mut self, args: &[Option<Value>]) -> Outcome {
        let list = params::assert_list_or_tuple(req(args, 0))?;
        let mut raw_txs = Vec::with_capacity(list.len());
        for v in list {
            params::assert_hex_str(v)?;
            raw_txs.push(v.as_str().unwrap_or_default().to_string());
        }
        let verbose = truthy(arg(args, 1));
        self.bump(0.25 + raw_txs.iter().map(|t| t.len() as f64 / 5000.0).sum::<f64>());
        let result = match self.shared.daemon.submit_package(&raw_txs).await {
            Ok(r) => r,
            Err(e) => {
                let message = daemon_message(&e);
                tracing::info!("error submitting package: {message}");
                return Err(bad(format!(
                    "the tx package was rejected by network rules.\n\n{message}."
                )));
            }
        };
        self.shared.count_tx_sent(raw_txs.len() as u64);
        self.session.count_tx_sent(raw_txs.len() as u64);
        tracing::info!(txs = raw_txs.len(), "broadcast package");
        if verbose {
            return Ok(result);
        }
        let success = result.get("package_msg").and_then(Value::as_str) == Some("success");
        let mut response = json!({ "success": success });
        let errors: Vec<Value> = result
            .get("tx-results")
            .and_then(Value::as_object)
            .map(|m| {
                m.values()
                    .filter(|tx| truthy(tx.get("error")))
                    .map(|tx| {
                        json!({
                            "txid": tx.get("txid").cloned().unwrap_or(Value::Null),
                            "error": tx.get("error").cloned().unwrap_or(Value::Null),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !errors.is_empty() {
            merge(&mut response, json!({ "errors": errors }));
        }
        Ok(response)
    }

    async fn transaction_get(&mut self, args: &[Option<Value>]) -> Outcome {
        let hash = params::assert_tx_hash(req(args, 0))?;
        let verbose = match arg(args, 1) {
            None => false,
            Some(v) => {
                py::py_false_or_true(v).ok_or_else(|| bad("\"verbose\" must be a boolean"))?
            }
        };
        self.bump(1.0);
        let txid = Txid::from_byte_array(hash);
        let daemon = &self.shared.daemon;
        let first = if verbose {
            daemon.raw_transaction_verbose(txid, None).await
        } else {
            daemon
                .raw_transaction(txid, None)
                .await
                .map(|raw| json!(raw.to_lower_hex_string()))
        };
        match first {
            Ok(v) => Ok(v),
            // Not in the mempool and the daemon has no txindex: if we know the block, ask
            // in it (then Core adds `in_active_chain`, which a txindex answer lacks).
            Err(e) if e.is_not_found() => {
                let pos = self
                    .blocking(move |s| s.index.tx_position(&txid))
                    .await?
                    .map_err(|e| bad(format!("db error: {e}")))?;
                let Some(pos) = pos else {
                    return Err(daemon_failure(&e));
                };
                let block: Option<BlockHash> = self
                    .blocking(move |s| s.index.block_hash(pos.height))
                    .await?
                    .map_err(|e| bad(format!("db error: {e}")))?;
                let Some(block) = block else {
                    return Err(daemon_failure(&e));
                };
                let second = if verbose {
                    daemon
                        .raw_transaction_verbose(txid, Some(block))
                        .await
                        .map(|mut v| {
                            if let Some(o) = v.as_object_mut() {
                                o.shift_remove("in_active_chain");
                            }
                            v
                        })
                } else {
                    daemon
                        .raw_transaction(txid, Some(block))
                        .await
                        .map(|raw| json!(raw.to_lower_hex_string()))
                };
                second.map_err(|_| daemon_failure(&e))
            }
            Err(e) => Err(daemon_failure(&e)),
        }
    }

    /// Txids of the block at `height`, with ElectrumX's error above the tip.
    async fn block_txids(&mut self, height: &PyInt) -> Result<Arc<Vec<Txid>>, CallFailure> {
        let tip = self.db_height();
        let too_high = || {
            bad(format!(
                "db error: DBError('block {} not on disk (>{})')",
                height.grouped(),
                thousands(tip)
            ))
        };
        let Some(h) = height.to_u32() else {
            return Err(too_high());
        };
        if h == 0 {
            // The genesis coinbase is not a transaction (bitcoind will not serve it, and
            // its output is unspendable); as in ElectrumX's index, height 0 holds none.
            self.bump(0.25);
            return Ok(Arc::new(Vec::new()));
        }
        let txids = self
            .blocking(move |s| s.block_txids(h))
            .await?
            .map_err(|e| bad(format!("db error: {e}")))?
            .ok_or_else(too_high)?;
        self.bump(0.25 + txids.len() as f64 * 0.0001);
        Ok(txids)
    }

    fn branch(&mut self, txids: &[Txid], pos: usize) -> Result<Vec<String>, CallFailure> {
        let hashes: Vec<[u8; 32]> = txids.iter().map(|t| t.to_byte_array()).collect();
        let (branch, _root) = merkle::branch_and_root(&hashes, pos).map_err(bad)?;
        self.bump(txids.len() as f64 / 2500.0);
        Ok(branch.iter().map(hex_hash).collect())
    }

    async fn transaction_merkle(&mut self, args: &[Option<Value>]) -> Outcome {
        let hash = params::assert_tx_hash(req(args, 0))?;
        let height = params::non_negative_integer(req(args, 1))?;
        let txid = Txid::from_byte_array(hash);
        let txids = self.block_txids(&height).await?;
        let Some(pos) = txids.iter().position(|t| *t == txid) else {
            return Err(bad(format!(
                "tx {txid} not in block at height {}",
                height.grouped()
            )));
        };
        let branch = self.branch(&txids, pos)?;
        Ok(json!({"block_height": height.to_value(), "merkle": branch, "pos": pos}))
    }

    async fn id_from_pos(&mut self, args: &[Option<Value>]) -> Outcome {
        let tx_pos = params::non_negative_integer(req(args, 1))?;
        let height = params::non_negative_integer(req(args, 0))?;
        let merkle = match arg(args, 2) {
            None => false,
            Some(v) => {
                py::py_false_or_true(v).ok_or_else(|| bad("\"merkle\" must be a boolean"))?
            }
        };
        let txids = self.block_txids(&height).await?;
        let pos = tx_pos.to_u64().and_then(|p| usize::try_from(p).ok());
        let Some((pos, txid)) = pos.and_then(|p| txids.get(p).map(|t| (p, t))) else {
            return Err(bad(format!(
                "no tx at position {} in block at height {}",
                tx_pos.grouped(),
                height.grouped()
            )));
        };
        if merkle {
            let branch = self.branch(&txids, pos)?;
            Ok(json!({"tx_hash": txid.to_string(), "merkle": branch}))
        } else {
            Ok(json!(txid.to_string()))
        }
    }
}

/// A status as JSON: hex, or null for no history.
pub fn status_json(status: Option<[u8; 32]>) -> Value {
    match status {
        Some(s) => json!(s.to_lower_hex_string()),
        None => Value::Null,
    }
}

/// Appends `extra`'s fields to `target` (both objects).
fn merge(target: &mut Value, extra: Value) {
    if let (Some(t), Value::Object(e)) = (target.as_object_mut(), extra) {
        for (k, v) in e {
            t.insert(k, v);
        }
    }
}

/// A warning to Electrum clients older than 3.3.3 (vulnerable to phishing servers), returned
/// instead of the txid of a successful broadcast, as ElectrumX does (in our words).
fn old_client_warning(client: &str) -> Option<&'static str> {
    let v = version::protocol_tuple(client);
    if v != ProtocolVersion::new(&[0]) && v < ProtocolVersion::new(&[3, 3, 3]) {
        Some(
            "<br/><br/>The transaction was broadcast.<br/><br/>This version of Electrum has \
             known vulnerabilities: please upgrade it from https://electrum.org/<br/><br/>",
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_methods_correspond_one_to_one() {
        let v14 = ProtocolVersion::min_supported();
        let v16 = ProtocolVersion::max_supported();
        let mut seen = std::collections::HashSet::new();
        for (name, m) in METHODS {
            assert!(seen.insert(m), "{m:?} twice");
            assert_eq!(m.name(), name);
            let found = Method::lookup(name, &v16).or_else(|| Method::lookup(name, &v14));
            assert_eq!(found, Some(m), "{name}");
        }
        // Version-dependent methods.
        assert_eq!(Method::lookup("blockchain.relayfee", &v16), None);
        assert_eq!(Method::lookup("mempool.get_info", &v14), None);
        assert_eq!(
            Method::lookup("blockchain.scripthash.unsubscribe", &v14),
            None
        );
        assert_eq!(Method::lookup("no.such.method", &v16), None);
    }

    #[test]
    fn daemon_errors_are_shown_as_electrumx_shows_them_without_the_daemons_address() {
        let rpc = daemon::Error::Rpc {
            code: -5,
            message: "No such mempool or blockchain transaction. Use gettransaction for \
                      wallet transactions."
                .into(),
        };
        assert_eq!(
            daemon_failure(&rpc).error.message,
            "daemon error: DaemonError({'code': -5, 'message': 'No such mempool or blockchain \
             transaction. Use gettransaction for wallet transactions.'})"
        );
        let down = daemon::Error::Unreachable {
            url: "http://10.1.2.3:8332/".into(),
            reason: "connection refused by 10.1.2.3".into(),
        };
        let shown = daemon_failure(&down).error.message;
        assert_eq!(shown, "daemon error: DaemonError('daemon unreachable')");
        assert_eq!(daemon_message(&down), "daemon unreachable");
    }
}
