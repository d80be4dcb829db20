//! The cost model's figures: what costs what, the throttling settings, the throttle a cost
//! gives, and one session's decaying cost (see `cost.rs` for the model in words).

use std::time::{Duration, Instant};

use crate::config::{defaults, Config};

/// The cost of a new session (ElectrumX's "connection cost").
pub const CONNECTION_COST: f64 = 5.0;
/// The cost of an answered error (aiorpcX's `error_base_cost`).
pub const ERROR_COST: f64 = 100.0;
/// The cost of a message that is not JSON (ten times [`ERROR_COST`]).
pub const PARSE_ERROR_COST: f64 = 1000.0;
/// The cost drift that triggers a throttle recomputation.
pub const RECALC_DRIFT: f64 = 100.0;
/// How often every session's throttle is recomputed and retained group costs fall.
pub const RECALC_PERIOD: Duration = Duration::from_secs(300);
/// The weight of the subnet group.
pub const SUBNET_WEIGHT: f64 = 1.0;
/// The weight of the connection-timeslice group (ElectrumX's documented `t<N>` groups).
pub const TIMESLICE_WEIGHT: f64 = 0.03;

/// The throttling settings (COST_SOFT_LIMIT, COST_HARD_LIMIT, INITIAL_CONCURRENT,
/// REQUEST_SLEEP, BANDWIDTH_UNIT_COST).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    pub soft: f64,
    pub hard: f64,
    pub initial_concurrent: usize,
    pub request_sleep: Duration,
    /// Bytes that cost 1.0 (at least 1).
    pub bandwidth_unit_cost: u64,
}

impl Default for Limits {
    /// ElectrumX's defaults (`config::defaults`).
    fn default() -> Limits {
        Limits {
            soft: defaults::COST_SOFT_LIMIT as f64,
            hard: defaults::COST_HARD_LIMIT as f64,
            initial_concurrent: defaults::INITIAL_CONCURRENT,
            request_sleep: Duration::from_millis(defaults::REQUEST_SLEEP_MS),
            bandwidth_unit_cost: defaults::BANDWIDTH_UNIT_COST,
        }
    }
}

impl Limits {
    /// The server's limits.
    pub fn from_config(config: &Config) -> Limits {
        Limits {
            soft: config.cost_soft_limit as f64,
            hard: config.cost_hard_limit as f64,
            initial_concurrent: config.initial_concurrent,
            request_sleep: config.request_sleep,
            bandwidth_unit_cost: config.bandwidth_unit_cost.max(1),
        }
    }
}

/// Where a session's cost puts it between the limits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Throttle {
    /// `(cost − soft) / (hard − soft)`, at least 0 (above 1 past the hard limit).
    pub fraction: f64,
    /// The concurrency allowed; 0 means the next request is refused.
    pub concurrency: i64,
}

impl Limits {
    /// Whether costs throttle at all (`hard − soft > 0`).
    pub fn enabled(&self) -> bool {
        self.hard - self.soft > 0.0
    }

    /// The throttle for a total cost (own plus groups'), `None` when throttling is off.
    pub fn throttle(&self, cost: f64) -> Option<Throttle> {
        let range = self.hard - self.soft;
        if range <= 0.0 {
            return None;
        }
        let fraction = ((cost - self.soft) / range).max(0.0);
        let concurrency = ((1.0 - fraction) * self.initial_concurrent as f64).ceil();
        // `as` saturates: a huge INITIAL_CONCURRENT stays huge, a negative value is 0.
        Some(Throttle {
            fraction,
            concurrency: (concurrency as i64).max(0),
        })
    }

    /// The sleep before a request at `fraction`.
    pub fn sleep(&self, fraction: f64) -> Duration {
        if fraction > 0.0 && fraction.is_finite() {
            self.request_sleep.mul_f64(fraction.min(1e6))
        } else {
            Duration::ZERO
        }
    }

    /// The cost of `bytes` of traffic.
    pub fn bandwidth_cost(&self, bytes: u64) -> f64 {
        bytes as f64 / self.bandwidth_unit_cost.max(1) as f64
    }

    /// The decay per second of a new session.
    pub fn initial_decay_per_sec(&self) -> f64 {
        self.hard / 10_000.0
    }

    /// The decay per second of a session with `subs` subscriptions (set every
    /// [`RECALC_PERIOD`]).
    pub fn decay_per_sec(&self, subs: usize) -> f64 {
        self.hard / (10_000.0 + 5.0 * subs as f64)
    }

    /// What retained group costs lose every `period`.
    pub fn group_refund(&self, period: Duration) -> f64 {
        period.as_secs_f64() * self.hard / 5000.0
    }
}

/// One session's cost.
#[derive(Clone, Debug)]
pub struct SessionCost {
    cost: f64,
    /// The cost at the last recomputation.
    last: f64,
    /// When the cost was last decayed.
    at: Instant,
    decay_per_sec: f64,
    fraction: f64,
}

impl SessionCost {
    pub fn new(limits: &Limits, now: Instant) -> SessionCost {
        SessionCost {
            cost: 0.0,
            last: 0.0,
            at: now,
            decay_per_sec: limits.initial_decay_per_sec(),
            fraction: 0.0,
        }
    }

    /// The cost as last decayed (what groups add up).
    pub fn cost(&self) -> f64 {
        self.cost
    }

    /// The cost decayed to `now`, without recording it.
    pub fn cost_at(&self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.cost - elapsed * self.decay_per_sec).max(0.0)
    }

    /// Adds `delta` (never below 0); true when the throttle should be recomputed.
    pub fn bump(&mut self, delta: f64) -> bool {
        if delta.is_finite() {
            self.cost = (self.cost + delta).max(0.0);
        }
        (self.cost - self.last).abs() > RECALC_DRIFT
    }

    /// Sets the cost outright (the connection cost of a new session).
    pub fn set(&mut self, cost: f64) {
        self.cost = cost;
    }

    /// Applies the decay up to `now` and marks a recomputation; returns the cost.
    pub fn decay(&mut self, now: Instant) -> f64 {
        self.cost = self.cost_at(now);
        self.at = now;
        self.last = self.cost;
        self.cost
    }

    pub fn set_decay_per_sec(&mut self, rate: f64) {
        self.decay_per_sec = rate;
    }

    pub fn decay_per_sec(&self) -> f64 {
        self.decay_per_sec
    }

    pub fn fraction(&self) -> f64 {
        self.fraction
    }

    pub fn set_fraction(&mut self, fraction: f64) {
        self.fraction = fraction;
    }
}
