//! The registry of live sessions: their groups and costs (MAX_SESSIONS pauses the
//! listeners), what the admin interface shows of them, and the session manager's periodic
//! work (the cost round, idle sessions, LOG_SESSIONS).

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::cost::{self, Groups, Limits, RECALC_PERIOD, SUBNET_WEIGHT, TIMESLICE_WEIGHT};
use super::session::SessionState;
use super::shared::{Settings, Shared};
use crate::py::thousands;

/// How often sessions are checked against SESSION_TIMEOUT (ElectrumX's granularity).
pub const STALE_CHECK_PERIOD: Duration = Duration::from_secs(60);
/// How soon after sessions end the allocator is asked to give their memory back.
const TRIM_PERIOD: Duration = Duration::from_secs(5);

/// The session settings the registry applies (from [`Settings`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// MAX_SESSIONS.
    pub max_sessions: usize,
    pub subnet_ipv4: u8,
    pub subnet_ipv6: u8,
    /// SESSION_GROUP_PRIVATE.
    pub group_private: bool,
    pub limits: Limits,
    pub anon_logs: bool,
}

impl Default for Policy {
    /// ElectrumX's defaults.
    fn default() -> Policy {
        Policy {
            max_sessions: 1000,
            subnet_ipv4: 24,
            subnet_ipv6: 48,
            group_private: false,
            limits: Limits::default(),
            anon_logs: false,
        }
    }
}

impl Policy {
    pub fn from_settings(settings: &Settings) -> Policy {
        Policy {
            max_sessions: settings.max_sessions,
            subnet_ipv4: settings.session_group_by_subnet_ipv4,
            subnet_ipv6: settings.session_group_by_subnet_ipv6,
            group_private: settings.session_group_private,
            limits: settings.limits(),
            anon_logs: settings.anon_logs,
        }
    }

    /// The subnet group of a client address, if it gets one.
    pub fn group_name(&self, ip: IpAddr) -> Option<String> {
        cost::subnet_group(ip, self.subnet_ipv4, self.subnet_ipv6, self.group_private)
    }

    /// The session count at which paused listeners resume (95 % of MAX_SESSIONS, rounded
    /// down).
    pub fn low_watermark(&self) -> usize {
        self.max_sessions / 20 * 19 + self.max_sessions % 20 * 19 / 20
    }
}

/// A session group, as the admin interface shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupInfo {
    /// The subnet, as `203.0.113.0/24` or `2001:db8:1::/48`, or the timeslice, as `t0`.
    pub name: String,
    /// Its live members, ascending.
    pub session_ids: Vec<u64>,
    /// The live members' costs (not including `retained_cost`).
    pub cost: f64,
    /// Cost kept from members that left (it decays every 300 s).
    pub retained_cost: f64,
}

/// All live sessions, their groups, and whether the listeners are paused (MAX_SESSIONS).
///
/// [`Registry::default`] uses ElectrumX's default settings; [`Registry::new`] (or
/// [`Registry::configure`], which [`housekeeping`] calls) applies the server's.
pub struct Registry {
    sessions: Mutex<HashMap<u64, Arc<SessionState>>>,
    next_id: AtomicU64,
    groups: Groups,
    policy: RwLock<Policy>,
    /// True while the listeners must not accept (MAX_SESSIONS reached).
    paused: watch::Sender<bool>,
    /// Whether new sessions start logged (the admin `log new` / `all` / `none`).
    log_new: AtomicBool,
    /// When the registry was made: timeslice groups count from here.
    started: Instant,
    /// Sessions that have ended.
    ended: AtomicU64,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::with_policy(Policy::default())
    }
}

impl Registry {
    /// A registry applying `settings`.
    pub fn new(settings: &Settings) -> Registry {
        Registry::with_policy(Policy::from_settings(settings))
    }

    pub fn with_policy(policy: Policy) -> Registry {
        Registry {
            sessions: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            groups: Groups::default(),
            policy: RwLock::new(policy),
            paused: watch::channel(false).0,
            log_new: AtomicBool::new(false),
            started: Instant::now(),
            ended: AtomicU64::new(0),
        }
    }

    /// Applies `settings` from now on.
    pub fn configure(&self, settings: &Settings) {
        *self.policy.write().unwrap_or_else(|e| e.into_inner()) = Policy::from_settings(settings);
    }

    pub fn policy(&self) -> Policy {
        self.policy
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<SessionState>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a session: it joins its timeslice group and its subnet group (none for
    /// private addresses unless SESSION_GROUP_PRIVATE), and the listeners pause if MAX_SESSIONS is reached.
    pub fn add(&self, s: Arc<SessionState>) {
        let policy = self.policy();
        let slice = cost::timeslice_group(s.started.saturating_duration_since(self.started));
        let mut groups = vec![self
            .groups
            .join(&slice, TIMESLICE_WEIGHT, s.id, s.cost_cell())];
        if let Some(name) = policy.group_name(s.peer.ip()) {
            groups.push(self.groups.join(&name, SUBNET_WEIGHT, s.id, s.cost_cell()));
        }
        s.set_groups(groups);
        let mut sessions = self.lock();
        sessions.insert(s.id, s);
        self.manage_listeners(sessions.len(), &policy);
    }

    /// Unregisters a session: its groups keep its cost; paused listeners resume once the
    /// count is down to 95 % of MAX_SESSIONS.
    pub fn remove(&self, id: u64) {
        let policy = self.policy();
        let mut sessions = self.lock();
        if let Some(s) = sessions.remove(&id) {
            Groups::leave(s.groups(), id, s.recorded_cost());
            self.ended.fetch_add(1, Ordering::Relaxed);
        }
        self.manage_listeners(sessions.len(), &policy);
    }

    /// ElectrumX's `_manage_servers`, run at every session change (`count` sessions now).
    fn manage_listeners(&self, count: usize, policy: &Policy) {
        let paused = *self.paused.borrow();
        if !paused && count >= policy.max_sessions {
            tracing::info!(
                "MAX_SESSIONS ({}) reached: not accepting connections until there are {} \
                 sessions or fewer",
                thousands(policy.max_sessions as u64),
                thousands(policy.low_watermark() as u64)
            );
            self.paused.send_replace(true);
        } else if paused && count <= policy.low_watermark() {
            tracing::info!(sessions = count, "accepting connections again");
            self.paused.send_replace(false);
        }
    }

    /// Whether the listeners are paused (MAX_SESSIONS).
    pub fn paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// Follows [`Registry::paused`].
    pub fn watch_paused(&self) -> watch::Receiver<bool> {
        self.paused.subscribe()
    }

    pub fn all(&self) -> Vec<Arc<SessionState>> {
        self.lock().values().cloned().collect()
    }

    /// The live session `id`.
    pub fn get(&self, id: u64) -> Option<Arc<SessionState>> {
        self.lock().get(&id).cloned()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Every session group, in creation order.
    pub fn groups(&self) -> Vec<GroupInfo> {
        self.groups
            .all()
            .iter()
            .map(|g| GroupInfo {
                name: g.name().to_owned(),
                session_ids: g.member_ids(),
                cost: g.session_cost(),
                retained_cost: g.retained_cost(),
            })
            .collect()
    }

    /// The live members of the group `name`, if it exists.
    pub fn group_members(&self, name: &str) -> Option<Vec<u64>> {
        self.groups.get(name).map(|g| g.member_ids())
    }

    /// The number of groups.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Whether sessions that connect from now on have their requests logged.
    pub fn log_new(&self) -> bool {
        self.log_new.load(Ordering::Relaxed)
    }

    pub fn set_log_new(&self, on: bool) {
        self.log_new.store(on, Ordering::Relaxed);
    }

    /// ElectrumX's `_recalc_concurrency` round (every [`RECALC_PERIOD`]): retained group
    /// costs fall (groups left empty and costless are forgotten), each session's decay rate
    /// is set from its subscription count and its throttle recomputed.
    pub fn recalc_round(&self) {
        let limits = self.policy().limits;
        self.groups.refund(limits.group_refund(RECALC_PERIOD));
        for s in self.all() {
            s.set_decay_per_sec(limits.decay_per_sec(s.sub_count()));
            s.recalc_concurrency();
        }
    }

    /// Closes the sessions that have received nothing for `timeout` (at `now`); returns
    /// their ids.
    pub fn close_stale(&self, now: Instant, timeout: Duration) -> Vec<u64> {
        let Some(cutoff) = now.checked_sub(timeout) else {
            return Vec::new();
        };
        let mut stale: Vec<Arc<SessionState>> = self
            .all()
            .into_iter()
            .filter(|s| s.last_recv() < cutoff)
            .collect();
        stale.sort_by_key(|s| s.id);
        for s in &stale {
            s.closing.cancel();
        }
        stale.iter().map(|s| s.id).collect()
    }

    /// The sessions table (ElectrumX's `sessions` columns), oldest first; peers redacted
    /// when `anon`.
    pub fn sessions_table(&self, anon: bool) -> Vec<String> {
        let mut sessions = self.all();
        sessions.sort_by_key(|s| (s.started, s.id));
        let mut lines = vec![format!(
            "{:<6} {:<5} {:>17} {:>5} {:>7} {:>7} {:>5} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7} \
             {:>9} {:>21}",
            "ID",
            "Flags",
            "Client",
            "Proto",
            "Cost",
            "XCost",
            "Reqs",
            "Txs",
            "Subs",
            "Recv",
            "Recv KB",
            "Sent",
            "Sent KB",
            "Time",
            "Peer"
        )];
        let n = |v: u64| thousands(v);
        for s in sessions {
            let peer = if anon {
                "xx.xx.xx.xx:xx".to_owned()
            } else {
                s.peer.to_string()
            };
            let client: String = s.client().chars().take(17).collect();
            lines.push(format!(
                "{:<6} {:<5} {:>17} {:>5} {:>7} {:>7} {:>5} {:>5} {:>7} {:>7} {:>7} {:>7} \
                 {:>7} {:>9} {:>21}",
                s.id,
                s.flags(),
                client,
                s.protocol().to_string(),
                thousands(s.cost() as i64),
                thousands(s.extra_cost() as i64),
                n(s.unanswered_requests()),
                n(s.txs_sent()),
                n(s.sub_count() as u64),
                n(s.recv_count.load(Ordering::Relaxed)),
                n(s.recv_size.load(Ordering::Relaxed) / 1024),
                n(s.send_count.load(Ordering::Relaxed)),
                n(s.send_size.load(Ordering::Relaxed) / 1024),
                formatted_time(s.started.elapsed()),
                peer
            ));
        }
        lines
    }
}

/// A duration as `1d02h03m04s` (days and leading zero units left out).
pub fn formatted_time(d: Duration) -> String {
    let mut t = d.as_secs();
    let mut out = String::new();
    for (unit, secs, width) in [("d", 86_400u64, 1usize), ("h", 3600, 2), ("m", 60, 2)] {
        let v = t / secs;
        if !out.is_empty() || v > 0 {
            out.push_str(&format!("{v:0width$}{unit}"));
        }
        t %= secs;
    }
    out.push_str(&format!("{t:02}s"));
    out
}

/// The session manager's periodic work, until `shutdown`: every 300 s the cost round
/// ([`Registry::recalc_round`]), every 60 s closing sessions idle for SESSION_TIMEOUT, and
/// every LOG_SESSIONS seconds the sessions table in the log. Applies `shared`'s settings to
/// `registry` at once (before the returned future first runs).
pub fn housekeeping(
    shared: Arc<Shared>,
    registry: Arc<Registry>,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    registry.configure(&shared.settings);
    async move {
        let s = &shared.settings;
        tracing::info!(
            max_sessions = s.max_sessions,
            session_timeout_s = s.session_timeout.as_secs(),
            cost_soft_limit = s.cost_soft_limit,
            cost_hard_limit = s.cost_hard_limit,
            bandwidth_unit_cost = s.bandwidth_unit_cost,
            request_sleep_ms = s.request_sleep.as_millis() as u64,
            request_timeout_s = s.request_timeout.as_secs(),
            initial_concurrent = s.initial_concurrent,
            "session limits"
        );
        let recalc = async {
            let mut tick = interval_after(RECALC_PERIOD);
            loop {
                tick.tick().await;
                registry.recalc_round();
            }
        };
        let stale = async {
            let mut tick = interval_after(STALE_CHECK_PERIOD);
            loop {
                tick.tick().await;
                let closed = registry.close_stale(Instant::now(), shared.settings.session_timeout);
                if !closed.is_empty() {
                    let ids: Vec<String> = closed.iter().map(u64::to_string).collect();
                    tracing::info!("closing idle sessions: {}", ids.join(", "));
                }
            }
        };
        let log = async {
            let Some(every) = shared.settings.log_sessions else {
                return std::future::pending::<()>().await;
            };
            let mut tick = interval_after(every);
            loop {
                tick.tick().await;
                log_sessions(&shared, &registry);
            }
        };
        // Sessions that ended leave their memory free but held by the allocator: give it
        // back (see `crate::memory`) once no more have ended for a period, so that a wave
        // of disconnections is trimmed once, after it.
        let trim = async {
            let mut tick = interval_after(TRIM_PERIOD);
            let (mut seen, mut due) = (0, false);
            loop {
                tick.tick().await;
                let ended = registry.ended.load(Ordering::Relaxed);
                if ended != seen {
                    (seen, due) = (ended, true);
                } else if due {
                    due = false;
                    let _ = tokio::task::spawn_blocking(crate::memory::release_free).await;
                }
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = recalc => {}
            _ = stale => {}
            _ = log => {}
            _ = trim => {}
        }
    }
}

/// An interval whose first tick is one `period` from now.
fn interval_after(period: Duration) -> tokio::time::Interval {
    let period = period.max(Duration::from_millis(1));
    let mut i = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    i
}

/// LOG_SESSIONS: the sessions table, then a one-line summary (no addresses under
/// ANON_LOGS).
fn log_sessions(shared: &Shared, registry: &Registry) {
    let anon = shared.settings.anon_logs;
    for line in registry.sessions_table(anon) {
        tracing::info!("{line}");
    }
    let sessions = registry.all();
    let summary = serde_json::json!({
        "sessions": {
            "count": sessions.len(),
            "count with subs": sessions.iter().filter(|s| s.sub_count() > 0).count(),
            "errors": sessions.iter().map(|s| s.errors.load(Ordering::Relaxed)).sum::<u64>(),
            "logged": sessions.iter().filter(|s| s.log_me()).count(),
            "pending requests": sessions.iter().map(|s| s.unanswered_requests()).sum::<u64>(),
            "subs": sessions.iter().map(|s| s.sub_count()).sum::<usize>(),
        },
        "groups": registry.group_count(),
        "paused": registry.paused(),
        "request total": shared.counters.requests.load(Ordering::Relaxed),
        "txs sent": shared.counters.txs_sent.load(Ordering::Relaxed),
    });
    tracing::info!("{summary}");
}
