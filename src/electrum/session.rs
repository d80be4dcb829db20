//! One client session's state — negotiated version, client name, subscriptions, cost and
//! throttle, counters, the outgoing queue — shared by its request tasks, the notifier and
//! the admin interface. The connection itself is served by `serve.rs`.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bitcoin::hex::DisplayHex;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::cost::{Concurrency, CostCell, Limits, SessionCost, SessionGroup, CONNECTION_COST};
use super::outbox::{Outbox, Refused};
use super::outpoints::OutpointSubs;
use super::subs::{Sub, Subs};
use super::version::ProtocolVersion;
use crate::config::{Config, Protocol};
use crate::index::HashX;
use crate::jsonrpc::{self, Detector};

/// Requests of one session waiting for a concurrency slot before FerrumX stops reading from
/// it until some have started (a memory bound: aiorpcX has none; each waiting request is
/// still subject to REQUEST_TIMEOUT from the moment it was read).
pub const MAX_QUEUED: usize = 1_000;
/// Bytes of such requests (as received) before FerrumX stops reading; a single larger
/// message is still taken alone.
pub const MAX_QUEUED_BYTES: usize = 1024 * 1024;

/// A session's state, shared by its request tasks, the notifier and the admin interface.
pub struct SessionState {
    pub id: u64,
    pub peer: SocketAddr,
    pub kind: Protocol,
    pub started: Instant,
    version: Mutex<ProtocolVersion>,
    sv_seen: AtomicBool,
    client: Mutex<String>,
    subs: Mutex<Subs>,
    /// Protocol 1.7's outpoint subscriptions.
    pub outpoints: OutpointSubs,
    headers: AtomicBool,
    txs_sent: AtomicU64,
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    pub send_count: AtomicU64,
    pub send_size: AtomicU64,
    pub recv_count: AtomicU64,
    pub recv_size: AtomicU64,
    /// The JSON-RPC dialect notifications are written in (detected from the client).
    rpc: Mutex<jsonrpc::Dialect>,
    /// Messages not yet written, bounded in bytes.
    pub(super) outbox: Outbox,
    /// Bytes of requests read and not started (see [`MAX_QUEUED_BYTES`]).
    pub(super) queued_bytes: Arc<Semaphore>,
    /// Cancelled to close the session.
    pub closing: CancellationToken,
    limits: Limits,
    pub(super) anon_logs: bool,
    /// The session's cost, and the groups it has joined (which follow the cost).
    cost: Arc<CostCell>,
    pub(super) concurrency: Arc<Concurrency>,
    /// Requests received and not answered yet.
    pub(super) unanswered: AtomicU64,
    log_me: AtomicBool,
    /// When the last message was received.
    last_recv: Mutex<Instant>,
    /// Set once a request has been refused for excessive resource usage.
    pub(super) excessive: AtomicBool,
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
            subs: Mutex::new(Subs::default()),
            outpoints: OutpointSubs::default(),
            headers: AtomicBool::new(false),
            txs_sent: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            send_count: AtomicU64::new(0),
            send_size: AtomicU64::new(0),
            recv_count: AtomicU64::new(0),
            recv_size: AtomicU64::new(0),
            rpc: Mutex::new(jsonrpc::Dialect::V2),
            outbox: Outbox::default(),
            queued_bytes: Arc::new(Semaphore::new(MAX_QUEUED_BYTES)),
            closing,
            limits,
            anon_logs,
            cost: Arc::new(CostCell::new(SessionCost::new(&limits, now))),
            concurrency: Arc::new(Concurrency::new(limits.initial_concurrent)),
            unanswered: AtomicU64::new(0),
            log_me: AtomicBool::new(false),
            last_recv: Mutex::new(now),
            excessive: AtomicBool::new(false),
        }
    }

    // --- Resource accounting (see `cost.rs`).

    /// The session's cost cell (what joins its groups).
    pub fn cost_cell(&self) -> Arc<CostCell> {
        self.cost.clone()
    }

    /// The session's groups (none once it has left them).
    pub fn groups(&self) -> Vec<Arc<SessionGroup>> {
        self.cost.groups()
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
        self.cost.set(CONNECTION_COST);
    }

    /// The session's cost now (decayed to this instant).
    pub fn cost(&self) -> f64 {
        self.cost.cost_at(Instant::now())
    }

    /// The cost the session bears for the other members of its groups.
    pub fn extra_cost(&self) -> f64 {
        self.cost.extra_cost()
    }

    /// Adds to the session's cost, recomputing its throttle when the cost has moved enough.
    pub fn bump_cost(&self, delta: f64) {
        if self.cost.bump(delta) {
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
        self.cost.set_decay_per_sec(rate);
    }

    /// aiorpcX's `recalc_concurrency`: decays the cost, then sets the sleep and the
    /// concurrency from it and the groups' share.
    pub fn recalc_concurrency(&self) {
        let (own, extra) = self.cost.decay_with_share(Instant::now());
        let Some(throttle) = self.limits.throttle(own + extra) else {
            return;
        };
        self.cost.set_fraction(throttle.fraction);
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
        let fraction = self.cost.fraction();
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

    pub(super) fn touch(&self) {
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

    /// Runs `f` with the negotiated protocol version (1.4 until `server.version`), without
    /// copying it.
    pub fn with_protocol<R>(&self, f: impl FnOnce(&ProtocolVersion) -> R) -> R {
        f(&self.version.lock().unwrap_or_else(|e| e.into_inner()))
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

    /// The client's name as ElectrumX 1.20 keeps it and both versions show it: its first 17
    /// characters (`unknown` until named).
    pub fn client(&self) -> String {
        self.client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .chars()
            .take(17)
            .collect()
    }

    /// The client's name as ElectrumX 2.0 keeps it (`client_longname`): its first 100
    /// characters.
    pub fn client_long(&self) -> String {
        self.client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Names the client (`server.version`'s first 100 characters).
    pub fn set_client(&self, name: String) {
        *self.client.lock().unwrap_or_else(|e| e.into_inner()) = name;
    }

    pub fn subscribe_headers(&self) {
        self.headers.store(true, Ordering::SeqCst);
    }

    pub fn headers_subscribed(&self) -> bool {
        self.headers.load(Ordering::SeqCst)
    }

    fn subs(&self) -> std::sync::MutexGuard<'_, Subs> {
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
        let mut subs = self.subs();
        subs.map.insert(x, Sub::new(&sh, status, has_mempool));
        if alias == canonical.to_lower_hex_string() {
            subs.aliases.remove(&x);
        } else {
            subs.aliases.insert(x, alias.into());
        }
    }

    /// Removes a subscription; whether there was one.
    pub fn unsubscribe(&self, x: &HashX) -> bool {
        self.subs().remove(x).is_some()
    }

    /// Subscriptions to script hashes and to outpoints (ElectrumX 2.0's
    /// `sub_count_total`: what the cost decay, `sessions` and `getinfo` count).
    pub fn sub_count(&self) -> usize {
        self.subs().map.len() + self.outpoints.len()
    }

    /// The subscriptions (key, script hash) among `touched`, and (when `with_mempool`)
    /// those whose status had mempool transactions.
    pub fn subs_to_check(
        &self,
        touched: &std::collections::HashSet<HashX>,
        with_mempool: bool,
    ) -> Vec<(HashX, [u8; 32])> {
        let subs = &self.subs().map;
        if touched.len() < subs.len() && !with_mempool {
            touched
                .iter()
                .filter_map(|x| subs.get(x).map(|s| (*x, s.sh(x))))
                .collect()
        } else {
            subs.iter()
                .filter(|(x, s)| touched.contains(x) || (with_mempool && s.has_mempool()))
                .map(|(x, s)| (*x, s.sh(x)))
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
                let sub = subs.map.get_mut(x)?;
                let changed = sub.last() != status;
                sub.set(status, has_mempool);
                if !changed {
                    return None;
                }
                let sub = sub.clone();
                Some((subs.alias(x, &sub), status))
            }
            Err(()) => subs.remove(x).map(|alias| (alias, None)),
        }
    }

    pub fn count_tx_sent(&self, n: u64) {
        self.txs_sent.fetch_add(n, Ordering::Relaxed);
    }

    pub fn txs_sent(&self) -> u64 {
        self.txs_sent.load(Ordering::Relaxed)
    }

    /// Whether the connection comes from our Tor proxy (TOR_BANNER_FILE applies).
    pub fn is_tor(&self, config: &Config) -> bool {
        let Some(proxy) = config.tor_proxy() else {
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
        match self.outbox.try_send(msg) {
            Ok(()) => true,
            Err(Refused::Full) => {
                // Once: the session stays registered until its writer has given up.
                if !self.closing.is_cancelled() {
                    tracing::warn!(
                        session = self.id,
                        unsent = self.outbox.unsent(),
                        "closing session: too many bytes waiting to be sent (client too slow)"
                    );
                    self.closing.cancel();
                }
                false
            }
            Err(Refused::Closed) => false,
        }
    }

    /// Queues a message, waiting while the session's unsent bytes are over the limit
    /// (responses: the session's own requests wait for its own client). False when the
    /// session is closing.
    pub async fn send(&self, msg: Vec<u8>) -> bool {
        tokio::select! {
            _ = self.closing.cancelled() => false,
            sent = self.outbox.send(msg) => sent,
        }
    }

    /// Sends `msg` (if any), then closes.
    pub async fn send_and_close(&self, msg: Option<Vec<u8>>) {
        if let Some(m) = msg {
            self.send(m).await;
        }
        self.outbox.close();
    }

    /// Bytes queued for the client and not yet written.
    pub fn unsent_bytes(&self) -> usize {
        self.outbox.unsent()
    }

    /// Sends a notification.
    pub fn notify(&self, method: &str, params: &[Value]) -> bool {
        let rpc = *self.rpc.lock().unwrap_or_else(|e| e.into_inner());
        self.try_send(jsonrpc::encode_notification(rpc, method, params))
    }

    pub(super) fn set_rpc(&self, detector: &Detector) {
        *self.rpc.lock().unwrap_or_else(|e| e.into_inner()) = detector.writer();
    }
}
