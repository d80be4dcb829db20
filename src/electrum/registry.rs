//! The registry of live sessions: their groups and costs (MAX_SESSIONS pauses the
//! listeners), closing them all at shutdown, and the session manager's periodic work (the
//! cost round, idle sessions, giving freed memory back). What operators see of the
//! sessions (the `sessions` and `groups` tables, `getinfo`, LOG_SESSIONS) is made in the
//! admin room from what this registry lists.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::cost::{self, Groups, Limits, RECALC_PERIOD, SUBNET_WEIGHT, TIMESLICE_WEIGHT};
use super::session::SessionState;
use crate::config::Config;
use crate::py::thousands;

/// How soon after sessions end the allocator is asked to give their memory back.
const TRIM_PERIOD: Duration = Duration::from_secs(5);

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

/// The session count at which paused listeners resume: 95 % of `max_sessions`, rounded
/// down (ElectrumX's `max_sessions * 19 // 20`).
pub fn low_watermark(max_sessions: usize) -> usize {
    max_sessions / 20 * 19 + max_sessions % 20 * 19 / 20
}

/// All live sessions, their groups, and whether the listeners are paused (MAX_SESSIONS).
/// The session settings (MAX_SESSIONS, the subnet groups, the cost limits, ANON_LOGS,
/// SESSION_TIMEOUT and how often it is checked) are read from the [`Config`] it is made
/// with.
pub struct Registry {
    config: Arc<Config>,
    limits: Limits,
    sessions: Mutex<HashMap<u64, Arc<SessionState>>>,
    /// The number of live sessions, for those waiting for it to fall (shutdown).
    count: watch::Sender<usize>,
    next_id: AtomicU64,
    groups: Groups,
    /// True while the listeners must not accept (MAX_SESSIONS reached).
    paused: watch::Sender<bool>,
    /// Whether new sessions start logged (the admin `log new` / `all` / `none`).
    log_new: AtomicBool,
    /// When the registry was made: timeslice groups count from here.
    started: Instant,
    /// Sessions that have ended.
    ended: AtomicU64,
    /// The parent of every session's `closing` token: cancelled to close them all.
    close_all: CancellationToken,
}

impl Registry {
    /// A registry applying `config`'s session settings.
    pub fn new(config: Arc<Config>) -> Registry {
        Registry {
            limits: Limits::from_config(&config),
            config,
            sessions: Mutex::new(HashMap::new()),
            count: watch::channel(0).0,
            next_id: AtomicU64::new(0),
            groups: Groups::default(),
            paused: watch::channel(false).0,
            log_new: AtomicBool::new(false),
            started: Instant::now(),
            ended: AtomicU64::new(0),
            close_all: CancellationToken::new(),
        }
    }

    /// The settings applied.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The throttling settings.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The subnet group of a client address, if it gets one.
    pub fn group_name(&self, ip: IpAddr) -> Option<String> {
        cost::subnet_group(
            ip,
            self.config.session_group_by_subnet_ipv4,
            self.config.session_group_by_subnet_ipv6,
            self.config.session_group_private,
        )
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A token for a new session's `closing`: cancelled with the session, or by
    /// [`Registry::close_all`].
    pub fn session_token(&self) -> CancellationToken {
        self.close_all.child_token()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<SessionState>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a session: it joins its timeslice group and its subnet group (none for
    /// private addresses unless SESSION_GROUP_PRIVATE), and the listeners pause if
    /// MAX_SESSIONS is reached.
    pub fn add(&self, s: Arc<SessionState>) {
        let slice = cost::timeslice_group(s.started.saturating_duration_since(self.started));
        self.groups
            .join(&slice, TIMESLICE_WEIGHT, s.id, s.cost_cell());
        if let Some(name) = self.group_name(s.peer.ip()) {
            self.groups.join(&name, SUBNET_WEIGHT, s.id, s.cost_cell());
        }
        let mut sessions = self.lock();
        sessions.insert(s.id, s);
        self.count.send_replace(sessions.len());
        self.manage_listeners(sessions.len());
    }

    /// Unregisters a session: its groups keep its cost; paused listeners resume once the
    /// count is down to 95 % of MAX_SESSIONS.
    pub fn remove(&self, id: u64) {
        let mut sessions = self.lock();
        if let Some(s) = sessions.remove(&id) {
            s.cost_cell().leave_groups();
            self.ended.fetch_add(1, Ordering::Relaxed);
        }
        self.count.send_replace(sessions.len());
        self.manage_listeners(sessions.len());
    }

    /// ElectrumX's `_manage_servers`, run at every session change (`count` sessions now).
    fn manage_listeners(&self, count: usize) {
        let max = self.config.max_sessions;
        let paused = *self.paused.borrow();
        if !paused && count >= max {
            tracing::info!(
                "MAX_SESSIONS ({}) reached: not accepting connections until there are {} \
                 sessions or fewer",
                thousands(max as u64),
                thousands(low_watermark(max) as u64)
            );
            self.paused.send_replace(true);
        } else if paused && count <= low_watermark(max) {
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

    /// The live sessions, oldest first (as ElectrumX lists them).
    pub fn by_age(&self) -> Vec<Arc<SessionState>> {
        let mut sessions = self.all();
        sessions.sort_by_key(|s| (s.started, s.id));
        sessions
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

    /// Waits until no session is left.
    pub async fn emptied(&self) {
        let mut count = self.count.subscribe();
        // The sender lives as long as `self`.
        let _ = count.wait_for(|n| *n == 0).await;
    }

    /// Closes every session at once, and every session made from now on.
    pub fn close_all(&self) {
        self.close_all.cancel();
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
    /// is set from its subscription count and its throttle recomputed. O(sessions): a
    /// session's group share is read from its groups' running totals.
    pub fn recalc_round(&self) {
        let limits = self.limits;
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
}

/// The session manager's periodic work, until `shutdown`: every 300 s the cost round
/// ([`Registry::recalc_round`]), every SESSION_TIMEOUT_CHECK (60 s) closing sessions idle
/// for SESSION_TIMEOUT, and a few seconds after sessions have ended, giving the memory they
/// freed back to the system.
pub async fn housekeeping(registry: Arc<Registry>, shutdown: CancellationToken) {
    let c = registry.config();
    tracing::info!(
        max_sessions = c.max_sessions,
        session_timeout_s = c.session_timeout.as_secs(),
        cost_soft_limit = c.cost_soft_limit,
        cost_hard_limit = c.cost_hard_limit,
        bandwidth_unit_cost = c.bandwidth_unit_cost,
        request_sleep_ms = c.request_sleep.as_millis() as u64,
        request_timeout_s = c.request_timeout.as_secs(),
        initial_concurrent = c.initial_concurrent,
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
        let mut tick = interval_after(c.session_timeout_check);
        loop {
            tick.tick().await;
            let closed = registry.close_stale(Instant::now(), c.session_timeout);
            if !closed.is_empty() {
                let ids: Vec<String> = closed.iter().map(u64::to_string).collect();
                tracing::info!("closing idle sessions: {}", ids.join(", "));
            }
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
        _ = trim => {}
    }
}

/// An interval whose first tick is one `period` from now.
pub fn interval_after(period: Duration) -> tokio::time::Interval {
    let period = period.max(Duration::from_millis(1));
    let mut i = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_resume_at_95_percent() {
        assert_eq!(low_watermark(4), 3);
        assert_eq!(low_watermark(1000), 950);
        assert_eq!(low_watermark(19), 18);
        assert_eq!(low_watermark(1), 0);
        // No overflow near the top.
        assert_eq!(
            low_watermark(usize::MAX),
            usize::MAX / 20 * 19 + 15 * 19 / 20
        );
    }
}
