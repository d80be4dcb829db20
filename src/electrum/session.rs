//! One client connection: reads JSON-RPC messages, runs requests concurrently (up to the
//! session's allowance), writes responses and notifications through one queue, and keeps
//! the session's state (negotiated version, client name, subscriptions) for the
//! notifier and the admin interface.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use bitcoin::hex::DisplayHex;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::cost::{
    self, Concurrency, CostCell, Excessive, Group, Limits, SessionCost, CONNECTION_COST,
    ERROR_COST, PARSE_ERROR_COST,
};
use super::jsonrpc::{self, Detector, Incoming, Request, RpcError, BAD_REQUEST, PARSE_ERROR};
use super::methods::{Call, Failure, Method};
use super::shared::{Settings, Shared};
use super::transport::{Connection, MessageWriter, RecvError};
use super::version::ProtocolVersion;
use crate::config::Protocol;
use crate::index::HashX;

/// Messages queued for a session's writer before it counts as too slow and is dropped.
pub const OUTGOING_QUEUE: usize = 1_000;
/// Requests of one session waiting for a concurrency slot before FerrumX stops reading from
/// it until some have started (a memory bound: aiorpcX has none; each waiting request is
/// still subject to REQUEST_TIMEOUT from the moment it was read).
pub const MAX_QUEUED: usize = 1_000;

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
    limits: Limits,
    anon_logs: bool,
    /// The session's cost, shared with its groups.
    cost: Arc<CostCell>,
    /// Its groups (set once, when it joins the registry).
    groups: OnceLock<Vec<Arc<Group>>>,
    concurrency: Arc<Concurrency>,
    /// Requests received and not answered yet.
    unanswered: AtomicU64,
    log_me: AtomicBool,
    /// When the last message was received.
    last_recv: Mutex<Instant>,
    /// Set once a request has been refused for excessive resource usage.
    excessive: AtomicBool,
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
    /// A new session, throttled by `limits` (its cost is 0 until
    /// [`SessionState::start_costing`]).
    pub fn new(
        id: u64,
        peer: SocketAddr,
        kind: Protocol,
        outgoing: mpsc::Sender<Outgoing>,
        closing: CancellationToken,
        limits: Limits,
        anon_logs: bool,
    ) -> SessionState {
        let now = Instant::now();
        SessionState {
            id,
            peer,
            kind,
            started: now,
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
            limits,
            anon_logs,
            cost: Arc::new(CostCell::new(SessionCost::new(&limits, now))),
            groups: OnceLock::new(),
            concurrency: Arc::new(Concurrency::new(limits.initial_concurrent)),
            unanswered: AtomicU64::new(0),
            log_me: AtomicBool::new(false),
            last_recv: Mutex::new(now),
            excessive: AtomicBool::new(false),
        }
    }

    // --- Resource accounting (see `cost.rs`).

    /// The session's cost cell (what its groups add up).
    pub fn cost_cell(&self) -> Arc<CostCell> {
        self.cost.clone()
    }

    /// Sets the session's groups (once; later calls are ignored).
    pub fn set_groups(&self, groups: Vec<Arc<Group>>) {
        let _ = self.groups.set(groups);
    }

    /// The session's groups.
    pub fn groups(&self) -> &[Arc<Group>] {
        self.groups.get().map_or(&[], Vec::as_slice)
    }

    /// The names of the session's groups (none for private addresses, as in ElectrumX).
    pub fn group_names(&self) -> Vec<String> {
        self.groups().iter().map(|g| g.name().to_owned()).collect()
    }

    /// Called once the session has joined its groups: computes its throttle (a client
    /// reconnecting from a costly subnet starts throttled), then charges the connection
    /// cost, in ElectrumX's order.
    pub fn start_costing(&self) {
        self.recalc_concurrency();
        self.cost.lock().set(CONNECTION_COST);
    }

    /// The session's cost now (decayed to this instant).
    pub fn cost(&self) -> f64 {
        self.cost.lock().cost_at(Instant::now())
    }

    /// The cost as last decayed (what its groups count and keep when it leaves).
    pub fn recorded_cost(&self) -> f64 {
        self.cost.lock().cost()
    }

    /// The cost the session bears for the other members of its groups.
    pub fn extra_cost(&self) -> f64 {
        let own = self.recorded_cost();
        cost::extra_cost(self.groups(), own)
    }

    /// Adds to the session's cost, recomputing its throttle when the cost has moved enough.
    pub fn bump_cost(&self, delta: f64) {
        let recalc = self.cost.lock().bump(delta);
        if recalc {
            self.recalc_concurrency();
        }
    }

    /// Charges `bytes` of traffic.
    pub fn bump_bandwidth(&self, bytes: u64) {
        if bytes > 0 {
            self.bump_cost(self.limits.bandwidth_cost(bytes));
        }
    }

    /// Counts an error answered to the client and charges its cost.
    pub fn bump_errors(&self, cost: f64) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.bump_cost(cost);
    }

    /// Sets how fast the cost decays (from the subscription count, every 300 s).
    pub fn set_decay_per_sec(&self, rate: f64) {
        self.cost.lock().set_decay_per_sec(rate);
    }

    /// aiorpcX's `recalc_concurrency`: decays the cost, then sets the sleep and the
    /// concurrency from it and the groups' share.
    pub fn recalc_concurrency(&self) {
        let own = self.cost.lock().decay(Instant::now());
        // Groups lock the members' cells: no cell lock may be held here.
        let extra = cost::extra_cost(self.groups(), own);
        let Some(throttle) = self.limits.throttle(own + extra) else {
            return;
        };
        self.cost.lock().set_fraction(throttle.fraction);
        let old = self.concurrency.max_concurrent();
        if (throttle.concurrency - old).abs() > 1 {
            tracing::info!(
                session = self.id,
                from = old,
                to = throttle.concurrency,
                "session concurrency changed"
            );
        }
        self.concurrency.set_target(throttle.concurrency);
    }

    /// How many requests may run at once (0: the next one is refused).
    pub fn max_concurrent(&self) -> i64 {
        self.concurrency.max_concurrent()
    }

    /// Whether the session is throttled below 80 % of INITIAL_CONCURRENT.
    pub fn throttled(&self) -> bool {
        (self.max_concurrent() as f64) < self.limits.initial_concurrent as f64 * 0.8
    }

    /// The sleep before each request now.
    pub fn request_delay(&self) -> std::time::Duration {
        let fraction = self.cost.lock().fraction();
        self.limits.sleep(fraction)
    }

    /// Requests received and not answered yet.
    pub fn unanswered_requests(&self) -> u64 {
        self.unanswered.load(Ordering::Relaxed)
    }

    /// Whether every incoming message is logged (the admin `log` command).
    pub fn log_me(&self) -> bool {
        self.log_me.load(Ordering::Relaxed)
    }

    /// Toggles [`SessionState::log_me`]; returns the new value.
    pub fn toggle_log(&self) -> bool {
        !self.log_me.fetch_xor(true, Ordering::Relaxed)
    }

    pub fn set_log(&self, on: bool) {
        self.log_me.store(on, Ordering::Relaxed);
    }

    /// When the session last received a message (SESSION_TIMEOUT counts from it).
    pub fn last_recv(&self) -> Instant {
        *self.last_recv.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn touch(&self) {
        *self.last_recv.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    /// ElectrumX's session flags: the transport's initial (`T`, `S`, `W`), `C` while
    /// closing, `L` when logged, then the concurrency.
    pub fn flags(&self) -> String {
        let mut flags = self.kind.name().to_uppercase()[..1].to_owned();
        if self.closing.is_cancelled() {
            flags.push('C');
        }
        if self.log_me() {
            flags.push('L');
        }
        flags.push_str(&self.max_concurrent().to_string());
        flags
    }

    /// The peer for logs: redacted under ANON_LOGS.
    pub fn peer_for_log(&self) -> String {
        if self.anon_logs {
            "xx.xx.xx.xx:xx".to_owned()
        } else {
            self.peer.to_string()
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
                if let Err(e) = writer.send(&m).await {
                    tracing::debug!(session = state.id, "write failed: {e}");
                    break;
                }
                state.send_count.fetch_add(1, Ordering::Relaxed);
                state.send_size.fetch_add(m.len() as u64, Ordering::Relaxed);
                state.bump_bandwidth(m.len() as u64);
            }
            Some(Outgoing::Close) | None => break,
        }
    }
    state.closing.cancel();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), writer.close()).await;
}

/// A request's outcome, and whether to disconnect after answering it; `None` when it is
/// abandoned without an answer (the session is closing).
type Settled = Option<(Result<Value, RpcError>, bool)>;

/// A request read and not answered yet.
struct Job {
    req: Request,
    /// REQUEST_TIMEOUT counts from when the request was read.
    deadline: tokio::time::Instant,
    /// Its batch and its place in it.
    batch: Option<(Arc<Mutex<BatchAnswer>>, usize)>,
}

/// A batch's answer, assembled as its items finish.
struct BatchAnswer {
    collector: jsonrpc::BatchCollector,
    ids: Vec<Option<jsonrpc::Id>>,
    outcomes: Vec<Option<Settled>>,
    left: usize,
}

impl BatchAnswer {
    /// Records item `i`; once all are in, the answer (items in batch order; nothing if one
    /// was abandoned) and whether to disconnect.
    fn record(
        &mut self,
        i: usize,
        outcome: Settled,
        max_send: usize,
    ) -> Option<(Option<Vec<u8>>, bool)> {
        if let Some(slot) = self.outcomes.get_mut(i) {
            *slot = Some(outcome);
            self.left = self.left.saturating_sub(1);
        }
        if self.left > 0 {
            return None;
        }
        let mut reply = None;
        let mut disconnect = false;
        for (id, outcome) in self.ids.iter().zip(&self.outcomes) {
            let Some(Some((outcome, d))) = outcome else {
                return Some((None, false));
            };
            disconnect |= d;
            if let Some(id) = id {
                if let Some(r) = self.collector.add(id, outcome.as_ref(), max_send) {
                    reply = Some(r);
                }
            }
        }
        Some((reply, disconnect))
    }
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
    let (jobs, queue) = mpsc::channel::<Job>(MAX_QUEUED);
    let dispatcher = tokio::spawn(dispatch(shared.clone(), state.clone(), queue));
    let mut detector = Detector::new();
    let mut writer_ends = false;
    let mut received = 0u64;
    loop {
        let msg = tokio::select! {
            _ = state.closing.cancelled() => break,
            m = reader.recv() => m,
        };
        // Every byte read costs, oversized and discarded ones included (as aiorpcX charges
        // each chunk it receives).
        let now_received = reader.bytes_received();
        let delta = now_received.saturating_sub(received);
        received = now_received;
        state.recv_size.fetch_add(delta, Ordering::Relaxed);
        state.bump_bandwidth(delta);
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
        let deadline = tokio::time::Instant::now() + shared.settings.request_timeout;
        state.touch();
        state.recv_count.fetch_add(1, Ordering::Relaxed);
        if state.log_me() {
            tracing::info!(
                session = state.id,
                "request received: {}",
                String::from_utf8_lossy(&msg)
            );
        }
        let parsed = jsonrpc::parse(&msg, &mut detector);
        state.set_rpc(&detector);
        match parsed {
            Err(fault) => {
                tracing::debug!(session = state.id, "bad message: {}", fault.message);
                if fault.fatal {
                    state.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                state.bump_errors(if fault.code == PARSE_ERROR {
                    PARSE_ERROR_COST
                } else {
                    ERROR_COST
                });
                if let Some(reply) = fault.reply {
                    if !state.send(reply).await {
                        break;
                    }
                }
            }
            Ok(Incoming::Single(req)) => {
                // server.version, and anything before it, is handled before the next
                // message is read: later requests see the negotiated version.
                if req.method == "server.version" || !state.version_seen() {
                    state.unanswered.fetch_add(1, Ordering::Relaxed);
                    let go_on = handle_in_order(&shared, &state, req, deadline).await;
                    state.unanswered.fetch_sub(1, Ordering::Relaxed);
                    if !go_on {
                        // The reply and the close are queued (or the writer is gone):
                        // let the writer send them; cancelling now could drop the reply.
                        writer_ends = true;
                        break;
                    }
                    continue;
                }
                let job = Job {
                    req,
                    deadline,
                    batch: None,
                };
                if !queue_job(&state, &jobs, job).await {
                    break;
                }
            }
            Ok(Incoming::Batch(batch)) => {
                let jsonrpc::Batch {
                    requests,
                    collector,
                } = batch;
                let answer = Arc::new(Mutex::new(BatchAnswer {
                    collector,
                    ids: requests.iter().map(|r| r.id.clone()).collect(),
                    outcomes: vec![None; requests.len()],
                    left: requests.len(),
                }));
                let mut open = true;
                for (i, req) in requests.into_iter().enumerate() {
                    let job = Job {
                        req,
                        deadline,
                        batch: Some((answer.clone(), i)),
                    };
                    if !queue_job(&state, &jobs, job).await {
                        open = false;
                        break;
                    }
                }
                if !open {
                    break;
                }
            }
        }
    }
    if !writer_ends {
        state.closing.cancel();
    }
    drop(jobs);
    let _ = dispatcher.await;
    let _ = writer_task.await;
}

/// Queues a request for the dispatcher (waiting while [`MAX_QUEUED`] are); false when the
/// session is closing.
async fn queue_job(state: &SessionState, jobs: &mpsc::Sender<Job>, job: Job) -> bool {
    state.unanswered.fetch_add(1, Ordering::Relaxed);
    tokio::select! {
        _ = state.closing.cancelled() => false,
        r = jobs.send(job) => r.is_ok(),
    }
}

/// Starts the session's requests in the order they were read, as aiorpcX does (its tasks
/// start in order and its semaphore is first come, first served): each waits for a
/// concurrency slot within its deadline, then runs in its own task holding the slot.
async fn dispatch(shared: Arc<Shared>, state: Arc<SessionState>, mut queue: mpsc::Receiver<Job>) {
    loop {
        let job = tokio::select! {
            _ = state.closing.cancelled() => return,
            j = queue.recv() => match j {
                Some(j) => j,
                None => return,
            },
        };
        let entered = tokio::select! {
            _ = state.closing.cancelled() => return,
            r = tokio::time::timeout_at(job.deadline, state.concurrency.enter()) => r,
        };
        let (shared, state) = (shared.clone(), state.clone());
        match entered {
            Ok(Ok(slot)) => {
                tokio::spawn(async move {
                    let outcome = tokio::select! {
                        _ = state.closing.cancelled() => None,
                        r = tokio::time::timeout_at(job.deadline, run(&shared, &state, &job.req)) => {
                            Some(r.unwrap_or_else(|_| timed_out(&shared, &state, &job.req)))
                        }
                    };
                    drop(slot);
                    complete(&shared, &state, job, outcome).await;
                });
            }
            Ok(Err(Excessive)) => {
                let outcome = refuse(&state);
                tokio::spawn(async move { complete(&shared, &state, job, outcome).await });
            }
            Err(_) => {
                let outcome = Some(timed_out(&shared, &state, &job.req));
                tokio::spawn(async move { complete(&shared, &state, job, outcome).await });
            }
        }
    }
}

/// Sleeps as the session's cost says, then runs the request.
async fn run(
    shared: &Arc<Shared>,
    state: &Arc<SessionState>,
    req: &Request,
) -> (Result<Value, RpcError>, bool) {
    let delay = state.request_delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    handle(shared, state, req).await
}

/// REQUEST_TIMEOUT passed: aiorpcX's "server busy" (the session goes on).
fn timed_out(
    shared: &Shared,
    state: &SessionState,
    req: &Request,
) -> (Result<Value, RpcError>, bool) {
    tracing::info!(
        session = state.id,
        method = %req.method,
        "request timed out after {} s",
        shared.settings.request_timeout.as_secs()
    );
    (Err(RpcError::server_busy()), false)
}

/// The concurrency is zero: the first such request is refused and the session closed; the
/// others are abandoned.
fn refuse(state: &SessionState) -> Settled {
    if state.excessive.swap(true, Ordering::SeqCst) {
        return None;
    }
    if state.anon_logs {
        tracing::info!(
            session = state.id,
            groups = state.groups().len(),
            "closing session: excessive resource usage"
        );
    } else {
        tracing::info!(
            session = state.id,
            ip = %state.peer.ip(),
            groups = ?state.group_names(),
            "closing session: excessive resource usage"
        );
    }
    Some((Err(RpcError::excessive_resource_usage()), true))
}

/// Answers a finished request (or its batch, once complete). Every error answered costs
/// [`ERROR_COST`].
async fn complete(shared: &Arc<Shared>, state: &Arc<SessionState>, job: Job, outcome: Settled) {
    if let Some((Err(_), _)) = &outcome {
        shared.counters.errors.fetch_add(1, Ordering::Relaxed);
        state.bump_errors(ERROR_COST);
    }
    let max_send = shared.settings.max_send;
    match job.batch {
        None => {
            if let Some((outcome, disconnect)) = outcome {
                let reply = job.req.response(outcome.as_ref(), max_send);
                finish(state, reply, disconnect).await;
            }
        }
        Some((answer, i)) => {
            let done = answer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .record(i, outcome, max_send);
            if let Some((reply, disconnect)) = done {
                finish(state, reply, disconnect).await;
            }
        }
    }
    state.unanswered.fetch_sub(1, Ordering::Relaxed);
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
/// anything before it), throttled like any other. False when the session must end.
async fn handle_in_order(
    shared: &Arc<Shared>,
    state: &Arc<SessionState>,
    req: Request,
    deadline: tokio::time::Instant,
) -> bool {
    let gated = async {
        let slot = state.concurrency.enter().await?;
        let done = run(shared, state, &req).await;
        drop(slot);
        Ok::<_, Excessive>(done)
    };
    let outcome = tokio::select! {
        _ = state.closing.cancelled() => None,
        r = tokio::time::timeout_at(deadline, gated) => match r {
            Ok(Ok(done)) => Some(done),
            Ok(Err(Excessive)) => refuse(state),
            Err(_) => Some(timed_out(shared, state, &req)),
        },
    };
    let Some((outcome, disconnect)) = outcome else {
        return false;
    };
    if outcome.is_err() {
        shared.counters.errors.fetch_add(1, Ordering::Relaxed);
        state.bump_errors(ERROR_COST);
    }
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

/// Runs one request: its outcome, and whether to disconnect after answering. The method's
/// cost is charged to the session.
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
        } else if shared.settings.drop_client_unknown
            && req.method != "server.version"
            && state.client() == "unknown"
        {
            // DROP_CLIENT_UNKNOWN (ElectrumX 1.16–1.18): a client that did not name itself
            // in server.version is dropped at its next request.
            tracing::info!(
                session = state.id,
                "closing session: the client did not identify itself"
            );
            Err(Failure {
                error: RpcError::new(BAD_REQUEST, "use server.version to identify client"),
                disconnect: true,
            })
        } else {
            shared
                .counters
                .count_method(method.map_or("invalid method", Method::name));
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
                        let outcome = call.run(m, &args).await;
                        state.bump_cost(call.cost);
                        outcome
                    }
                },
            }
        };
    match outcome {
        Ok(v) => (Ok(v), false),
        Err(f) => (Err(f.error), f.disconnect),
    }
}
