//! The session manager: the client listeners (SERVICES), and the notifier that turns new
//! blocks, reorgs and mempool changes into `headers.subscribe` and `scripthash.subscribe`
//! notifications (`scriptpubkey.subscribe` at protocol 1.7; `outpoint.subscribe`:
//! `outpoint_notify.rs`). The registry of sessions, their groups and the periodic housekeeping are
//! in `registry.rs` (re-exported here).
//!
//! Notifications of a block wait for the first mempool refresh at the block's height, so a
//! transaction that left the mempool for the block is notified once, not twice (ElectrumX's
//! `Notifications` does the same).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::history::{self, status_json, HistoryError};
use super::noise;
use super::outpoint_notify::notify_outpoints;
use super::outpoints::OutpointTouches;
pub use super::registry::{housekeeping, GroupInfo, Registry};
use super::serve::serve;
use super::session::SessionState;
use super::shared::ElectrumState;
use crate::config::Config;
use crate::config::{Protocol, Service};
use crate::index::HashX;
use crate::py::thousands;
use crate::transport::{self, Listener};

/// Time allowed for a TLS or WebSocket handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);
/// At shutdown, how long sessions may take to finish the requests they have read and send
/// their answers before the rest are closed.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// What the notifier is told.
#[derive(Debug)]
pub enum ChainEvent {
    /// A new tip, flushed; `touched` keys changed history (the caller has already
    /// invalidated their cached histories); `outpoints`: the outpoints whose confirmed
    /// spender changed and the transactions whose confirmed funder did.
    Block {
        height: u32,
        touched: Vec<HashX>,
        outpoints: OutpointTouches,
    },
    /// A mempool refresh at the daemon's `height`; `outpoints`: the outpoints whose mempool
    /// spender or funder changed.
    Mempool {
        height: u32,
        touched: HashSet<HashX>,
        outpoints: OutpointTouches,
    },
}

/// Binds every client service of SERVICES (tcp, ssl, ws, wss).
///
/// # Errors
/// A one-line message: the TLS files cannot be loaded, or a port cannot be bound.
pub async fn bind_services(config: &Config) -> Result<Vec<Listener>, String> {
    let client: Vec<&Service> = config
        .services
        .iter()
        .filter(|s| s.protocol != Protocol::Rpc)
        .collect();
    let tls = if client.iter().any(|s| s.protocol.uses_tls()) {
        match (&config.ssl_certfile, &config.ssl_keyfile) {
            (Some(cert), Some(key)) => {
                Some(transport::load_tls_config(cert, key).map_err(|e| e.to_string())?)
            }
            _ => return Err("SSL_CERTFILE and SSL_KEYFILE are required for ssl/wss".into()),
        }
    } else {
        None
    };
    let mut listeners = Vec::new();
    for s in client {
        let tls = if s.protocol.uses_tls() {
            tls.clone()
        } else {
            None
        };
        let l = Listener::bind(s, tls, config.max_recv)
            .await
            .map_err(|e| format!("cannot listen on {s}: {e}"))?;
        for addr in l.local_addrs() {
            tracing::info!(service = %s.protocol, %addr, "listening");
        }
        listeners.push(l);
    }
    Ok(listeners)
}

/// Accepts connections on `listener` until `shutdown`, serving each in its own task (which
/// drains its session at `shutdown`: see `serve`). While the registry is paused
/// (MAX_SESSIONS) nothing is accepted: new connections wait in the listening socket's
/// backlog.
pub async fn accept_loop(
    listener: Listener,
    shared: Arc<ElectrumState>,
    registry: Arc<Registry>,
    shutdown: CancellationToken,
) {
    let mut paused = registry.watch_paused();
    loop {
        if *paused.borrow_and_update() {
            tracing::debug!(protocol = %listener.protocol(), "not accepting (MAX_SESSIONS)");
            tokio::select! {
                _ = shutdown.cancelled() => return,
                r = paused.wait_for(|p| !*p) => if r.is_err() { return },
            }
            continue;
        }
        let incoming = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = paused.changed() => continue,
            i = listener.accept() => i,
        };
        let incoming = match incoming {
            Ok(i) => i,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(protocol = %listener.protocol(), "accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (shared, registry, shutdown) = (shared.clone(), registry.clone(), shutdown.clone());
        tokio::spawn(async move {
            let peer = incoming.peer;
            let kind = incoming.protocol;
            // Boxed for its duration only: the TLS and WebSocket handshakes' futures would
            // otherwise be part of this task's for the session's whole life.
            let handshake = Box::pin(incoming.handshake());
            let conn = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    tracing::debug!("{kind} handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!("{kind} handshake timed out");
                    return;
                }
            };
            // Stopping: no new session.
            if shutdown.is_cancelled() {
                return;
            }
            let id = registry.next_id();
            let state = Arc::new(SessionState::new(
                id,
                peer,
                kind,
                registry.session_token(),
                registry.limits(),
                registry.config().anon_logs,
            ));
            state.set_log(registry.log_new());
            // As ElectrumX: the count before this session.
            tracing::info!(
                session = id,
                "{kind} {}, {} total",
                state.peer_for_log(),
                thousands(registry.len() as u64)
            );
            registry.add(state.clone());
            state.start_costing();
            serve(conn, shared, state.clone(), &shutdown).await;
            registry.remove(id);
            let mut notes = Vec::new();
            if state.throttled() {
                notes.push("while throttled".to_owned());
            }
            let sent = state.send_size.load(Ordering::Relaxed);
            if sent >= 1_000_000 {
                notes.push(format!(
                    "after sending {} bytes in {} messages",
                    thousands(sent),
                    thousands(state.send_count.load(Ordering::Relaxed))
                ));
            }
            if !notes.is_empty() {
                tracing::info!(session = id, "disconnected {}", notes.join(", "));
            }
        });
    }
}

/// The sessions' part of a clean stop, once `shutdown` has fired (the listeners have then
/// stopped accepting, and each session stops reading): waits up to [`DRAIN_TIMEOUT`] for
/// the sessions to finish the requests they had read, send the answers and close; then
/// closes whatever is left.
pub async fn drain_sessions(registry: &Registry, shutdown: &CancellationToken) {
    shutdown.cancelled().await;
    let open = registry.len();
    if open > 0 {
        tracing::info!(
            sessions = open,
            "letting sessions finish their requests (at most {} s)",
            DRAIN_TIMEOUT.as_secs()
        );
    }
    if tokio::time::timeout(DRAIN_TIMEOUT, registry.emptied())
        .await
        .is_err()
    {
        tracing::info!(sessions = registry.len(), "closing the sessions still open");
    }
    registry.close_all();
    let _ = tokio::time::timeout(Duration::from_secs(2), registry.emptied()).await;
}

/// Holds back notifications until block and mempool agree on the height (ElectrumX's
/// `Notifications._maybe_notify`).
#[derive(Default)]
struct Coalescer {
    mempool: BTreeMap<u32, HashSet<HashX>>,
    blocks: BTreeMap<u32, HashSet<HashX>>,
    highest_block: Option<u32>,
}

impl Coalescer {
    fn on_block(&mut self, height: u32, touched: Vec<HashX>) -> Option<(u32, HashSet<HashX>)> {
        self.blocks.entry(height).or_default().extend(touched);
        self.highest_block = Some(height);
        self.maybe_notify()
    }

    fn on_mempool(
        &mut self,
        height: u32,
        touched: HashSet<HashX>,
    ) -> Option<(u32, HashSet<HashX>)> {
        self.mempool.entry(height).or_default().extend(touched);
        self.maybe_notify()
    }

    fn maybe_notify(&mut self) -> Option<(u32, HashSet<HashX>)> {
        let common = self
            .mempool
            .keys()
            .rev()
            .find(|h| self.blocks.contains_key(h))
            .copied();
        let height = match common {
            Some(h) => h,
            None => {
                let top = *self.mempool.keys().next_back()?;
                if Some(top) != self.highest_block {
                    return None;
                }
                top
            }
        };
        // Unlike ElectrumX, which drops the touched sets of older mempool refreshes, keep
        // them: a transaction seen by a refresh at an older height may still be in the
        // mempool, and then no later refresh reports it.
        let mut touched = HashSet::new();
        for map in [&mut self.mempool, &mut self.blocks] {
            let old: Vec<u32> = map.range(..=height).map(|(h, _)| *h).collect();
            for h in old {
                if let Some(t) = map.remove(&h) {
                    touched.extend(t);
                }
            }
        }
        Some((height, touched))
    }
}

/// The notifier: applies events in order and notifies sessions.
pub async fn notify_loop(
    shared: Arc<ElectrumState>,
    registry: Arc<Registry>,
    mut events: mpsc::UnboundedReceiver<ChainEvent>,
    shutdown: CancellationToken,
) {
    let mut notified_tip = shared.index.tip();
    // The tip we start at counts as notified (ElectrumX's `Notifications.start` sets
    // `_highest_block`): without it, mempool changes would wait for the first new block.
    let mut coalescer = Coalescer {
        highest_block: notified_tip.map(|(h, _)| h),
        ..Coalescer::default()
    };
    // Touched script hashes not notified yet (see below).
    let mut pending: HashSet<HashX> = HashSet::new();
    let mut last_mempool_round = Instant::now();
    // Likewise for outpoints: kept from every event until the next notification round
    // (which the coalescer holds back as for script hashes), then re-checked.
    let mut pending_outpoints = OutpointTouches::default();
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            e = events.recv() => match e { Some(e) => e, None => return },
        };
        let ready = match event {
            ChainEvent::Block {
                height,
                touched,
                outpoints,
            } => {
                pending_outpoints.extend(outpoints);
                coalescer.on_block(height, touched)
            }
            ChainEvent::Mempool {
                height,
                touched,
                outpoints,
            } => {
                pending_outpoints.extend(outpoints);
                coalescer.on_mempool(height, touched)
            }
        };
        let Some((height, touched)) = ready else {
            continue;
        };
        pending.extend(touched);
        let tip = shared.index.tip();
        let tip_changed = tip != notified_tip;
        if !tip_changed && pending.is_empty() && pending_outpoints.is_empty() {
            mempool_noise(&registry, &mut last_mempool_round);
            continue;
        }
        // Notify a consistent state only: the index at the height block and mempool agreed
        // on. (The mempool refreshes only while the index holds the daemon's very block at
        // the daemon's height, so agreeing on the height is agreeing on the chain; a lower
        // index tip here means blocks are still being applied after a rollback.) What was
        // touched meanwhile waits for the round the coming blocks trigger, so clients never
        // see an intermediate tip or statuses.
        if tip.map(|t| t.0) != Some(height) {
            tracing::debug!(height, ?tip, "notifications wait for the chain to settle");
            continue;
        }
        notified_tip = tip;
        let touched = std::mem::take(&mut pending);
        let sent = notify_sessions(&shared, &registry, tip_changed, &touched).await;
        let outpoints = std::mem::take(&mut pending_outpoints);
        notify_outpoints(&shared, &registry.all(), tip_changed, &outpoints).await;
        if tip_changed {
            for s in registry.all() {
                noise::after_block(&s, sent.get(&s.id).copied().unwrap_or(0));
            }
        } else {
            mempool_noise(&registry, &mut last_mempool_round);
        }
    }
}

/// Protocol 1.7's noise after a mempool round ([`noise::after_mempool`]).
fn mempool_noise(registry: &Registry, last: &mut Instant) {
    let since = last.elapsed();
    *last = Instant::now();
    for s in registry.all() {
        noise::after_mempool(&s, since);
    }
}

/// Notifies every session of a new tip (when `tip_changed`) and of the subscriptions whose
/// status changed among `touched` (and, on a new tip, among those with mempool
/// transactions). Each status is computed once, however many sessions subscribe to it.
/// Returns how many notifications each session (by id) was sent.
pub async fn notify_sessions(
    shared: &Arc<ElectrumState>,
    registry: &Registry,
    tip_changed: bool,
    touched: &HashSet<HashX>,
) -> HashMap<u64, usize> {
    let sessions = registry.all();
    let mut sent: HashMap<u64, usize> = HashMap::new();
    if tip_changed {
        let hsub = shared.refresh_hsub();
        let params = [hsub];
        for s in sessions.iter().filter(|s| s.headers_subscribed()) {
            s.notify("blockchain.headers.subscribe", &params);
            *sent.entry(s.id).or_default() += 1;
        }
    }
    // What each session must re-check, and the distinct script hashes among them.
    let mut work: Vec<(Arc<SessionState>, Vec<HashX>)> = Vec::new();
    let mut distinct: HashMap<HashX, [u8; 32]> = HashMap::new();
    for s in &sessions {
        let subs = s.subs_to_check(touched, tip_changed);
        if subs.is_empty() {
            continue;
        }
        let mut xs = Vec::with_capacity(subs.len());
        for (x, sh) in subs {
            distinct.insert(x, sh);
            xs.push(x);
        }
        work.push((s.clone(), xs));
    }
    if distinct.is_empty() {
        return sent;
    }
    let statuses = compute_statuses(shared, distinct).await;
    let max_send = shared.config.max_send;
    for (s, xs) in work {
        let mut changed = 0usize;
        let mut cost = 0.0;
        // At 1.7: ElectrumX 2.0's notification name and history limit.
        let (method, limit) = s.with_protocol(|v| {
            let method = if v.at_least(&[1, 7]) {
                "blockchain.scriptpubkey.subscribe"
            } else {
                "blockchain.scripthash.subscribe"
            };
            (method, history::limit_at(max_send, v))
        });
        for x in xs {
            let Some(computed) = statuses.get(&x) else {
                continue;
            };
            let status = match computed.status {
                Ok(_) if computed.confirmed >= limit => Err(()),
                other => other,
            };
            if status.is_ok() {
                cost += status_cost(computed.entries);
            }
            if let Some((alias, status)) = s.update_status(&x, status, computed.has_mempool) {
                changed += 1;
                let params = [serde_json::Value::String(alias), status_json(status)];
                if !s.notify(method, &params) {
                    break;
                }
            }
        }
        // Each session pays for the statuses it re-checked, as if it had computed them.
        s.bump_cost(cost);
        if changed > 0 {
            tracing::debug!(session = s.id, changed, "notified of address changes");
            *sent.entry(s.id).or_default() += changed;
        }
    }
    sent
}

/// What re-checking a subscription's status costs a session: ElectrumX's `address_status`
/// with a cached history (0.1), plus 0.1 and 2e-5 per character of the status text (about 68
/// per entry), as `methods/scripthash.rs` charges `subscribe`.
fn status_cost(entries: usize) -> f64 {
    0.1 + 0.1 + entries as f64 * 68.0 * 0.000_02
}

/// A subscribed script hash's status, computed once for every session.
struct Computed {
    /// `Err` when its history can no longer be served.
    status: Result<Option<[u8; 32]>, ()>,
    /// Whether it has mempool transactions.
    has_mempool: bool,
    /// History entries, confirmed and mempool.
    entries: usize,
    /// Confirmed history entries (a 1.7 session's limit is lower: [`history::limit_at`]).
    confirmed: usize,
}

type Statuses = HashMap<HashX, Computed>;

/// Statuses of `keys` (history reads on blocking threads, in chunks).
async fn compute_statuses(shared: &Arc<ElectrumState>, keys: HashMap<HashX, [u8; 32]>) -> Statuses {
    const CHUNK: usize = 256;
    let keys: Vec<(HashX, [u8; 32])> = keys.into_iter().collect();
    let mut tasks = Vec::new();
    for chunk in keys.chunks(CHUNK) {
        let chunk = chunk.to_vec();
        let shared = shared.clone();
        tasks.push(tokio::task::spawn_blocking(move || {
            chunk
                .into_iter()
                .filter_map(|(x, sh)| {
                    let mempool = shared.mempool.summaries(&x);
                    let mut confirmed = 0;
                    let status = match shared.histories.get(&shared.index, &sh) {
                        Ok((c, _)) => {
                            confirmed = c.entries.len();
                            Ok(c.status(&mempool))
                        }
                        // No longer servable: the subscription ends (notified as null).
                        Err(HistoryError::TooLarge) => Err(()),
                        // A database error is no reason to drop a client's subscription:
                        // this round skips it (its status is re-checked on the next change).
                        Err(HistoryError::Index(e)) => {
                            tracing::warn!("status of a subscribed script hash: {e}");
                            return None;
                        }
                    };
                    let computed = Computed {
                        status,
                        has_mempool: !mempool.is_empty(),
                        entries: confirmed + mempool.len(),
                        confirmed,
                    };
                    Some((x, computed))
                })
                .collect::<Vec<_>>()
        }));
    }
    let mut out = HashMap::new();
    for t in tasks {
        match t.await {
            Ok(v) => out.extend(v),
            Err(e) => tracing::warn!("computing subscription statuses: {e}"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(i: u8) -> HashX {
        HashX([i; crate::index::HASHX_LEN])
    }

    #[test]
    fn block_notifications_wait_for_the_mempool_at_that_height() {
        let mut c = Coalescer::default();
        // Mempool at 100 first (nothing from blocks yet): notified, it is the tip's.
        assert_eq!(c.on_block(100, vec![]), None);
        let (h, t) = c
            .on_mempool(100, [x(1)].into())
            .expect("mempool at the tip");
        assert_eq!((h, t), (100, [x(1)].into()));
        // A block at 101: held until the mempool has been seen at 101.
        assert_eq!(c.on_block(101, vec![x(2)]), None);
        // A late mempool refresh at 100 is not enough, but what it touched is kept.
        assert_eq!(c.on_mempool(100, [x(3)].into()), None);
        let (h, t) = c.on_mempool(101, [x(4)].into()).expect("both at 101");
        assert_eq!(h, 101);
        assert_eq!(t, [x(2), x(3), x(4)].into());
        // Later mempool refreshes at the same height go straight through.
        let (h, t) = c.on_mempool(101, [x(5)].into()).expect("tip unchanged");
        assert_eq!((h, t), (101, [x(5)].into()));
    }
}
