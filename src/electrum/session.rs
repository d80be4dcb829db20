//! One client connection: reads JSON-RPC messages, runs requests concurrently (up to the
//! session's allowance), writes responses and notifications through one queue, and keeps
//! the session's state (negotiated version, client name, subscriptions) for the
//! notifier and the admin interface.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bitcoin::hex::DisplayHex;
use serde_json::Value;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use super::jsonrpc::{self, Detector, Incoming, Request, RpcError, BAD_REQUEST};
use super::methods::{Call, Failure, Method};
use super::shared::{Settings, Shared};
use super::transport::{Connection, MessageWriter, RecvError};
use super::version::ProtocolVersion;
use crate::config::Protocol;
use crate::index::HashX;

/// Messages queued for a session's writer before it counts as too slow and is dropped.
pub const OUTGOING_QUEUE: usize = 1_000;

/// One script-hash subscription.
#[derive(Clone, Debug)]
pub struct Sub {
    /// The script hash (internal byte order).
    pub sh: [u8; 32],
    /// The client's spelling of it, when not the canonical lowercase hex (notifications
    /// echo what the client sent, as ElectrumX does).
    alias: Option<Box<str>>,
    /// The status last sent (or answered to `subscribe`).
    pub last: Option<[u8; 32]>,
    /// Whether that status had mempool transactions (it may then change when another
    /// transaction confirms: re-checked on every new block, as ElectrumX does).
    pub has_mempool: bool,
}

impl Sub {
    /// The script hash as notifications name it.
    pub fn alias(&self) -> String {
        match &self.alias {
            Some(a) => a.to_string(),
            None => {
                let mut r = self.sh;
                r.reverse();
                r.to_lower_hex_string()
            }
        }
    }
}

/// What the writer sends.
#[derive(Debug)]
pub enum Outgoing {
    Message(Vec<u8>),
    /// Send nothing more; close the connection.
    Close,
}

/// A session's state, shared by its request tasks, the notifier and the admin interface.
pub struct SessionState {
    pub id: u64,
    pub peer: SocketAddr,
    pub kind: Protocol,
    pub started: Instant,
    version: Mutex<ProtocolVersion>,
    sv_seen: AtomicBool,
    client: Mutex<String>,
    subs: Mutex<HashMap<HashX, Sub>>,
    headers: AtomicBool,
    txs_sent: AtomicU64,
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    pub send_count: AtomicU64,
    pub send_size: AtomicU64,
    pub recv_count: AtomicU64,
    pub recv_size: AtomicU64,
    /// The JSON-RPC dialect notifications are written in (detected from the client).
    rpc: Mutex<jsonrpc::Protocol>,
    outgoing: mpsc::Sender<Outgoing>,
    /// Cancelled to close the session.
    pub closing: CancellationToken,
}

impl std::fmt::Debug for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionState")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl SessionState {
    pub fn new(
        id: u64,
        peer: SocketAddr,
        kind: Protocol,
        outgoing: mpsc::Sender<Outgoing>,
        closing: CancellationToken,
    ) -> SessionState {
        SessionState {
            id,
            peer,
            kind,
            started: Instant::now(),
            version: Mutex::new(ProtocolVersion::min_supported()),
            sv_seen: AtomicBool::new(false),
            client: Mutex::new("unknown".into()),
            subs: Mutex::new(HashMap::new()),
            headers: AtomicBool::new(false),
            txs_sent: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            send_count: AtomicU64::new(0),
            send_size: AtomicU64::new(0),
            recv_count: AtomicU64::new(0),
            recv_size: AtomicU64::new(0),
            rpc: Mutex::new(jsonrpc::Protocol::V2),
            outgoing,
            closing,
        }
    }

    /// The negotiated protocol version (1.4 until `server.version`).
    pub fn protocol(&self) -> ProtocolVersion {
        self.version
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_protocol(&self, v: ProtocolVersion) {
        *self.version.lock().unwrap_or_else(|e| e.into_inner()) = v;
    }

    /// Records that `server.version` was received; false if it had been already.
    pub fn mark_version_seen(&self) -> bool {
        !self.sv_seen.swap(true, Ordering::SeqCst)
    }

    pub fn version_seen(&self) -> bool {
        self.sv_seen.load(Ordering::SeqCst)
    }

    pub fn client(&self) -> String {
        self.client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_client(&self, name: String) {
        *self.client.lock().unwrap_or_else(|e| e.into_inner()) = name;
    }

    pub fn subscribe_headers(&self) {
        self.headers.store(true, Ordering::SeqCst);
    }

    pub fn headers_subscribed(&self) -> bool {
        self.headers.load(Ordering::SeqCst)
    }

    fn subs(&self) -> std::sync::MutexGuard<'_, HashMap<HashX, Sub>> {
        self.subs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds (or refreshes) a subscription with the status just answered.
    pub fn subscribe(
        &self,
        x: HashX,
        sh: [u8; 32],
        alias: &str,
        status: Option<[u8; 32]>,
        has_mempool: bool,
    ) {
        let mut canonical = sh;
        canonical.reverse();
        let alias = (alias != canonical.to_lower_hex_string()).then(|| alias.into());
        self.subs().insert(
            x,
            Sub {
                sh,
                alias,
                last: status,
                has_mempool,
            },
        );
    }

    /// Removes a subscription; whether there was one.
    pub fn unsubscribe(&self, x: &HashX) -> bool {
        self.subs().remove(x).is_some()
    }

    pub fn sub_count(&self) -> usize {
        self.subs().len()
    }

    /// The subscriptions (key, script hash) among `touched`, and (when `with_mempool`)
    /// those whose status had mempool transactions.
    pub fn subs_to_check(
        &self,
        touched: &std::collections::HashSet<HashX>,
        with_mempool: bool,
    ) -> Vec<(HashX, [u8; 32])> {
        let subs = self.subs();
        if touched.len() < subs.len() && !with_mempool {
            touched
                .iter()
                .filter_map(|x| subs.get(x).map(|s| (*x, s.sh)))
                .collect()
        } else {
            subs.iter()
                .filter(|(x, s)| touched.contains(x) || (with_mempool && s.has_mempool))
                .map(|(x, s)| (*x, s.sh))
                .collect()
        }
    }

    /// Records a new status for `x`; returns its alias if it differs from the last one
    /// (then a notification is due). An `Err` status (its history can no longer be served)
    /// ends the subscription and is notified as null, as ElectrumX does.
    pub fn update_status(
        &self,
        x: &HashX,
        status: Result<Option<[u8; 32]>, ()>,
        has_mempool: bool,
    ) -> Option<(String, Option<[u8; 32]>)> {
        let mut subs = self.subs();
        match status {
            Ok(status) => {
                let sub = subs.get_mut(x)?;
                sub.has_mempool = has_mempool;
                if sub.last == status {
                    return None;
                }
                sub.last = status;
                Some((sub.alias(), status))
            }
            Err(()) => subs.remove(x).map(|sub| (sub.alias(), None)),
        }
    }

    pub fn count_tx_sent(&self, n: u64) {
        self.txs_sent.fetch_add(n, Ordering::Relaxed);
    }

    pub fn txs_sent(&self) -> u64 {
        self.txs_sent.load(Ordering::Relaxed)
    }

    /// Whether the connection comes from our Tor proxy (TOR_BANNER_FILE applies).
    pub fn is_tor(&self, settings: &Settings) -> bool {
        let Some(proxy) = &settings.tor_proxy else {
            return false;
        };
        let ip = self.peer.ip();
        match proxy.parse::<IpAddr>() {
            Ok(p) => p == ip,
            Err(_) => proxy.eq_ignore_ascii_case("localhost") && ip.is_loopback(),
        }
    }

    /// Queues a message without waiting (notifications). False if the session is gone or
    /// too far behind (it is then closed).
    pub fn try_send(&self, msg: Vec<u8>) -> bool {
        match self.outgoing.try_send(Outgoing::Message(msg)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                // Once: the session stays registered until its writer has given up.
                if !self.closing.is_cancelled() {
                    tracing::warn!(
                        session = self.id,
                        "closing session: its outgoing queue is full (client too slow)"
                    );
                    self.closing.cancel();
                }
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Queues a message, waiting while the queue is full (responses: the session's own
    /// requests wait for its own client).
    pub async fn send(&self, msg: Vec<u8>) -> bool {
        self.outgoing.send(Outgoing::Message(msg)).await.is_ok()
    }

    /// Sends `msg` (if any), then closes.
    pub async fn send_and_close(&self, msg: Option<Vec<u8>>) {
        if let Some(m) = msg {
            let _ = self.outgoing.send(Outgoing::Message(m)).await;
        }
        let _ = self.outgoing.send(Outgoing::Close).await;
    }

    /// Sends a notification.
    pub fn notify(&self, method: &str, params: &[Value]) -> bool {
        let rpc = *self.rpc.lock().unwrap_or_else(|e| e.into_inner());
        self.try_send(jsonrpc::encode_notification(rpc, method, params))
    }

    fn set_rpc(&self, detector: &Detector) {
        *self.rpc.lock().unwrap_or_else(|e| e.into_inner()) = detector.writer();
    }
}

/// Writes queued messages until the queue ends, a `Close` arrives or the socket fails.
async fn write_loop(
    mut writer: MessageWriter,
    mut rx: mpsc::Receiver<Outgoing>,
    state: Arc<SessionState>,
) {
    loop {
        let msg = tokio::select! {
            m = rx.recv() => m,
            _ = state.closing.cancelled() => None,
        };
        match msg {
            Some(Outgoing::Message(m)) => {
                state.send_count.fetch_add(1, Ordering::Relaxed);
                state.send_size.fetch_add(m.len() as u64, Ordering::Relaxed);
                if let Err(e) = writer.send(&m).await {
                    tracing::debug!(session = state.id, "write failed: {e}");
                    break;
                }
            }
            Some(Outgoing::Close) | None => break,
        }
    }
    state.closing.cancel();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), writer.close()).await;
}

/// Serves one connection until the client leaves, the session is closed or `shutdown`.
pub async fn serve(
    conn: Connection,
    shared: Arc<Shared>,
    state: Arc<SessionState>,
    rx: mpsc::Receiver<Outgoing>,
) {
    let Connection {
        mut reader, writer, ..
    } = conn;
    let writer_task = tokio::spawn(write_loop(writer, rx, state.clone()));
    let concurrency = Arc::new(Semaphore::new(shared.settings.initial_concurrent.max(1)));
    let mut detector = Detector::new();
    let mut writer_ends = false;
    loop {
        let msg = tokio::select! {
            _ = state.closing.cancelled() => break,
            m = reader.recv() => m,
        };
        let msg = match msg {
            Ok(Some(m)) => m,
            Ok(None) => break,
            // As aiorpcx: the oversized message is dropped with a warning, no reply, and
            // the stream re-synchronises at the next newline.
            Err(RecvError::TooLarge { limit }) => {
                tracing::warn!(session = state.id, limit, "dropping an oversized message");
                continue;
            }
            Err(RecvError::Io(e)) => {
                tracing::debug!(session = state.id, "read failed: {e}");
                break;
            }
        };
        state.recv_count.fetch_add(1, Ordering::Relaxed);
        state
            .recv_size
            .fetch_add(msg.len() as u64, Ordering::Relaxed);
        let parsed = jsonrpc::parse(&msg, &mut detector);
        state.set_rpc(&detector);
        match parsed {
            Err(fault) => {
                tracing::debug!(session = state.id, "bad message: {}", fault.message);
                state.errors.fetch_add(1, Ordering::Relaxed);
                if let Some(reply) = fault.reply {
                    if !state.send(reply).await {
                        break;
                    }
                }
                if fault.fatal {
                    break;
                }
            }
            Ok(Incoming::Single(req)) => {
                // server.version, and anything before it, is handled before the next
                // message is read: later requests see the negotiated version.
                if req.method == "server.version" || !state.version_seen() {
                    if !handle_in_order(&shared, &state, req).await {
                        // The reply and the close are queued (or the writer is gone):
                        // let the writer send them; cancelling now could drop the reply.
                        writer_ends = true;
                        break;
                    }
                    continue;
                }
                let Ok(permit) = concurrency.clone().acquire_owned().await else {
                    break;
                };
                let (shared, state) = (shared.clone(), state.clone());
                tokio::spawn(async move {
                    let (outcome, disconnect) = handle(&shared, &state, &req).await;
                    let reply = req.response(outcome.as_ref(), shared.settings.max_send);
                    finish(&state, reply, disconnect).await;
                    drop(permit);
                });
            }
            Ok(Incoming::Batch(batch)) => {
                let Ok(permit) = concurrency.clone().acquire_owned().await else {
                    break;
                };
                let (shared, state) = (shared.clone(), state.clone());
                tokio::spawn(async move {
                    let jsonrpc::Batch {
                        requests,
                        mut collector,
                    } = batch;
                    let mut reply = None;
                    let mut disconnect = false;
                    for req in &requests {
                        let (outcome, d) = handle(&shared, &state, req).await;
                        disconnect |= d;
                        if let Some(id) = &req.id {
                            let max = shared.settings.max_send;
                            if let Some(r) = collector.add(id, outcome.as_ref(), max) {
                                reply = Some(r);
                            }
                        }
                    }
                    finish(&state, reply, disconnect).await;
                    drop(permit);
                });
            }
        }
    }
    if !writer_ends {
        state.closing.cancel();
    }
    let _ = writer_task.await;
}

/// Sends a reply (if any), then closes the session if asked to.
async fn finish(state: &SessionState, reply: Option<Vec<u8>>, disconnect: bool) {
    if disconnect {
        state.send_and_close(reply).await;
    } else if let Some(r) = reply {
        state.send(r).await;
    }
}

/// Handles a request that must complete before the next is read (server.version, or
/// anything before it). False when the session must end.
async fn handle_in_order(shared: &Arc<Shared>, state: &Arc<SessionState>, req: Request) -> bool {
    let (outcome, disconnect) = handle(shared, state, &req).await;
    let reply = req.response(outcome.as_ref(), shared.settings.max_send);
    if disconnect {
        state.send_and_close(reply).await;
        return false;
    }
    match reply {
        Some(r) => state.send(r).await,
        None => !state.closing.is_cancelled(),
    }
}

/// Runs one request: its outcome, and whether to disconnect after answering.
async fn handle(
    shared: &Arc<Shared>,
    state: &Arc<SessionState>,
    req: &Request,
) -> (Result<Value, RpcError>, bool) {
    state.requests.fetch_add(1, Ordering::Relaxed);
    shared.counters.requests.fetch_add(1, Ordering::Relaxed);
    let method = Method::lookup(&req.method, &state.protocol());
    let outcome: Result<Value, Failure> =
        if !state.version_seen() && method != Some(Method::Version) {
            // ElectrumX: the first message must be server.version; old Electrum clients that
            // skip it are sent the two notifications that crash them, then the error.
            tracing::info!(
                session = state.id,
                "closing session: server.version must be the first message"
            );
            state.notify("blockchain.relayfee", &[]);
            state.notify("blockchain.estimatefee", &[]);
            Err(Failure {
                error: RpcError::new(BAD_REQUEST, "use server.version to identify client"),
                disconnect: true,
            })
        } else {
            match method {
                None => Err(RpcError::unknown_method(&req.method).into()),
                Some(m) => match jsonrpc::bind(&req.method, &m.signature(), &req.params) {
                    Err(e) => Err(e.into()),
                    Ok(args) => {
                        let mut call = Call {
                            shared,
                            session: state,
                            cost: 0.0,
                        };
                        call.run(m, &args).await
                    }
                },
            }
        };
    match outcome {
        Ok(v) => (Ok(v), false),
        Err(f) => {
            state.errors.fetch_add(1, Ordering::Relaxed);
            shared.counters.errors.fetch_add(1, Ordering::Relaxed);
            (Err(f.error), f.disconnect)
        }
    }
}
