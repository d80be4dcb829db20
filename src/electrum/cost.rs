//! Resource accounting and throttling, as ElectrumX 1.20 configures aiorpcX 0.25's
//! `SessionBase`: every session has a *cost* that requests, errors and bandwidth raise and
//! time lowers; between COST_SOFT_LIMIT and COST_HARD_LIMIT its concurrency falls linearly
//! from INITIAL_CONCURRENT to zero and each request first sleeps up to REQUEST_SLEEP; at
//! zero concurrency its next request is refused ("excessive resource usage") and the session
//! closed. Sessions from one IP subnet share a *group*: each bears the others' costs, and a
//! group keeps the cost of the sessions that left it, so reconnecting does not reset it.
//!
//! The figures (see `docs/environment.md`, "Resource limits"):
//!
//! - A new session costs 5.0. Each byte received or sent costs `1 / BANDWIDTH_UNIT_COST`.
//!   Each request costs what its method says (ElectrumX's figures: fixed costs in
//!   `methods/table.rs`, the rest in the handlers); each error answered costs 100 more, a
//!   message that is not JSON 1,000.
//! - Cost decays continuously at `COST_HARD_LIMIT / 10,000` per second at first; every 300 s
//!   the rate becomes `COST_HARD_LIMIT / (10,000 + 5 × subscriptions)` (subscriptions have a
//!   running cost, so they slow the decay).
//! - The throttle is recomputed when the cost has moved by more than 100 since the last
//!   computation, when the session starts, and every 300 s: with `cost` the session's own
//!   (decayed) cost plus its groups' share ([`extra_cost`]),
//!   `fraction = max(0, (cost − soft) / (hard − soft))`,
//!   `concurrency = max(0, ⌈(1 − fraction) × INITIAL_CONCURRENT⌉)` and each request first
//!   sleeps `fraction × REQUEST_SLEEP`. With `hard − soft ≤ 0` (both limits 0) nothing is
//!   throttled.
//! - A group member's share is `Σ (group cost − own cost) × weight` over its groups, where a
//!   group's cost is its members' costs plus its retained cost. Every session joins the
//!   group of the five-minute timeslice it connected in (`t0`, `t1`, …; weight 0.03, for
//!   every address) and, unless its address is private, its subnet group (weight 1.0), as
//!   ElectrumX's documentation describes. A leaving session adds its cost to its
//!   groups' retained cost; every 300 s retained costs fall by `300 × COST_HARD_LIMIT /
//!   5,000` and groups with neither members nor retained cost are forgotten.
//!
//! Layout: `cost/model.rs` has the figures, the limits, the throttle and a session's
//! decaying cost; `cost/groups.rs` the groups, which keep running totals of their members'
//! costs (so a share costs O(1) and the cost round O(sessions)), and the cell through which
//! a session's cost reaches them; `cost/concurrency.rs` the limiter of concurrent requests.
//! This file names the groups (timeslices, subnets as Python writes them) and re-exports
//! the rest; the submodules never use this file.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::py::ipaddress::{ipv6_text, is_private};

mod concurrency;
mod groups;
mod model;

pub use concurrency::{Concurrency, Excessive, Slot};
pub use groups::{extra_cost, CostCell, Groups, SessionGroup};
pub use model::{
    Limits, SessionCost, Throttle, CONNECTION_COST, ERROR_COST, PARSE_ERROR_COST, RECALC_DRIFT,
    RECALC_PERIOD, SUBNET_WEIGHT, TIMESLICE_WEIGHT,
};

/// The length of a connection timeslice.
pub const TIMESLICE: Duration = Duration::from_secs(300);

/// The timeslice group of a session that connected `since_start` after the server started:
/// `t0` for the first five minutes, `t1` for the next, and so on.
pub fn timeslice_group(since_start: Duration) -> String {
    format!("t{}", since_start.as_secs() / TIMESLICE.as_secs())
}

/// The subnet group of a client address: the network of `ip` with the given prefix length,
/// written as Python's `ipaddress` writes it (`203.0.113.0/24`, `2001:db8:1::/48`). `None`
/// for private addresses (Python 3.11's `is_private`), which ElectrumX leaves out of every
/// group, unless `include_private` (SESSION_GROUP_PRIVATE).
pub fn subnet_group(
    ip: IpAddr,
    v4_prefix: u8,
    v6_prefix: u8,
    include_private: bool,
) -> Option<String> {
    if !include_private && is_private(ip) {
        return None;
    }
    match ip {
        IpAddr::V4(v4) => {
            let prefix = v4_prefix.min(32);
            let bits = u32::from(v4);
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            Some(format!("{}/{prefix}", Ipv4Addr::from(bits & mask)))
        }
        IpAddr::V6(v6) => {
            let prefix = v6_prefix.min(128);
            let bits = u128::from(v6);
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            Some(format!(
                "{}/{prefix}",
                ipv6_text(Ipv6Addr::from(bits & mask))
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;

    fn limits(soft: f64, hard: f64, initial: usize, sleep_ms: u64) -> Limits {
        Limits {
            soft,
            hard,
            initial_concurrent: initial,
            request_sleep: Duration::from_millis(sleep_ms),
            bandwidth_unit_cost: 5000,
        }
    }

    #[test]
    fn concurrency_and_sleep_fall_linearly_between_the_limits() {
        let l = limits(1000.0, 3000.0, 10, 2000);
        // Below the soft limit: full concurrency, no sleep.
        let t = l.throttle(500.0).expect("enabled");
        assert_eq!((t.fraction, t.concurrency), (0.0, 10));
        assert_eq!(l.sleep(t.fraction), Duration::ZERO);
        // A quarter of the way: fraction 0.25, ⌈7.5⌉ = 8, sleep 500 ms.
        let t = l.throttle(1500.0).expect("enabled");
        assert_eq!((t.fraction, t.concurrency), (0.25, 8));
        assert_eq!(l.sleep(t.fraction), Duration::from_millis(500));
        // Half-way: ⌈5⌉ = 5, 1 s.
        let t = l.throttle(2000.0).expect("enabled");
        assert_eq!((t.fraction, t.concurrency), (0.5, 5));
        assert_eq!(l.sleep(t.fraction), Duration::from_millis(1000));
        // 0.95: ⌈0.5⌉ = 1; 1.9 s.
        let t = l.throttle(2900.0).expect("enabled");
        assert_eq!(t.concurrency, 1);
        assert_eq!(l.sleep(t.fraction), Duration::from_millis(1900));
        // At and past the hard limit: 0.
        assert_eq!(l.throttle(3000.0).map(|t| t.concurrency), Some(0));
        assert_eq!(l.throttle(9000.0).map(|t| t.concurrency), Some(0));
        // ElectrumX's defaults: 1000/10000/10; cost 5500 is half-way.
        let d = Limits::default();
        assert_eq!(d.throttle(5500.0).map(|t| t.concurrency), Some(5));
        assert_eq!(d.sleep(0.5), Duration::from_millis(1250));
    }

    #[test]
    fn zero_limits_disable_throttling() {
        let l = limits(0.0, 0.0, 10, 2500);
        assert!(!l.enabled());
        assert_eq!(l.throttle(1e12), None);
        // Soft 0 with a hard limit throttles from the first unit of cost.
        let l = limits(0.0, 100.0, 10, 1000);
        assert_eq!(l.throttle(50.0).map(|t| t.concurrency), Some(5));
    }

    #[test]
    fn cost_decays_over_time_and_drift_triggers_recalculation() {
        let l = limits(1000.0, 10_000.0, 10, 2500);
        let t0 = Instant::now();
        let mut c = SessionCost::new(&l, t0);
        assert!(!c.bump(60.0));
        assert!(!c.bump(40.0), "exactly 100 is not more than 100");
        assert!(c.bump(0.5));
        // 1.0 per second (10,000 / 10,000): 100.5 after 30 s is 70.5.
        assert_eq!(c.decay(t0 + Duration::from_secs(30)), 70.5);
        assert!(!c.bump(10.0), "drift counts from the last recalculation");
        // Never below zero.
        assert_eq!(c.cost_at(t0 + Duration::from_secs(1000)), 0.0);
        assert!(!c.bump(-1e9));
        assert_eq!(c.cost(), 0.0);
        // Subscriptions slow the decay: 2,000 subscriptions → 10,000 / 20,000 per second.
        assert_eq!(l.decay_per_sec(2000), 0.5);
        c.set(100.0);
        c.decay(t0 + Duration::from_secs(30));
        c.set_decay_per_sec(l.decay_per_sec(2000));
        assert_eq!(c.decay(t0 + Duration::from_secs(50)), 90.0);
        // Bandwidth: 100 KB at 5,000 bytes per unit is 20.
        assert_eq!(l.bandwidth_cost(100_000), 20.0);
    }

    fn cell(cost: f64) -> Arc<CostCell> {
        let mut c = SessionCost::new(&Limits::default(), Instant::now());
        c.set(cost);
        Arc::new(CostCell::new(c))
    }

    #[test]
    fn groups_share_costs_and_retain_them_after_members_leave() {
        let groups = Groups::default();
        let (a, b) = (cell(300.0), cell(200.0));
        let ga = groups.join("203.0.113.0/24", SUBNET_WEIGHT, 1, a.clone());
        let gb = groups.join("203.0.113.0/24", SUBNET_WEIGHT, 2, b.clone());
        assert!(Arc::ptr_eq(&ga, &gb));
        // Each bears the other's cost.
        assert_eq!(extra_cost(std::slice::from_ref(&ga), 300.0), 200.0);
        assert_eq!(extra_cost(std::slice::from_ref(&gb), 200.0), 300.0);
        // A weight scales the share.
        let light = groups.join("light", 0.03, 1, a.clone());
        groups.join("light", 0.03, 3, cell(1000.0));
        assert!((extra_cost(std::slice::from_ref(&light), 300.0) - 30.0).abs() < 1e-9);
        // Session 1 leaves with cost 300: its groups keep it.
        Groups::leave(&[ga.clone(), light.clone()], 1, 300.0);
        assert_eq!(ga.retained_cost(), 300.0);
        assert_eq!(ga.member_ids(), vec![2]);
        assert_eq!(extra_cost(std::slice::from_ref(&gb), 200.0), 300.0);
        // A newcomer from the subnet starts with the group's whole cost as its share.
        let g3 = groups.join("203.0.113.0/24", SUBNET_WEIGHT, 4, cell(0.0));
        assert_eq!(extra_cost(&[g3], 0.0), 500.0);
        // Retained costs fall; empty groups without cost are forgotten.
        Groups::leave(std::slice::from_ref(&gb), 2, 200.0);
        Groups::leave(std::slice::from_ref(&gb), 4, 0.0);
        assert_eq!(groups.refund(450.0), 0);
        assert_eq!(gb.retained_cost(), 50.0);
        assert_eq!(groups.refund(100.0), 1, "the subnet group went");
        assert!(groups.get("203.0.113.0/24").is_none());
        assert!(groups.get("light").is_some(), "session 3 is still in it");
        // ElectrumX's refund: 300 s × hard / 5,000 = 600 with the default hard limit.
        assert_eq!(Limits::default().group_refund(RECALC_PERIOD), 600.0);
    }

    #[test]
    fn timeslice_groups_are_five_minutes_long() {
        assert_eq!(timeslice_group(Duration::ZERO), "t0");
        assert_eq!(timeslice_group(Duration::from_secs(299)), "t0");
        assert_eq!(timeslice_group(Duration::from_secs(300)), "t1");
        assert_eq!(timeslice_group(Duration::from_secs(3 * 300 + 1)), "t3");
    }

    #[test]
    fn subnet_group_names_are_pythons() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(
            subnet_group(ip("8.8.4.4"), 24, 48, false).as_deref(),
            Some("8.8.4.0/24")
        );
        assert_eq!(
            subnet_group(ip("8.8.4.4"), 16, 48, false).as_deref(),
            Some("8.8.0.0/16")
        );
        assert_eq!(
            subnet_group(ip("8.8.4.4"), 0, 48, false).as_deref(),
            Some("0.0.0.0/0")
        );
        assert_eq!(
            subnet_group(ip("8.8.4.4"), 32, 48, false).as_deref(),
            Some("8.8.4.4/32")
        );
        assert_eq!(
            subnet_group(ip("2a00:1450:4001:80b::200e"), 24, 48, false).as_deref(),
            Some("2a00:1450:4001::/48")
        );
        assert_eq!(
            subnet_group(ip("2a00:0:0:1:0:0:0:5"), 24, 128, false).as_deref(),
            Some("2a00:0:0:1::5/128")
        );
        assert_eq!(
            subnet_group(ip("2a00:0:0:1:0:0:5:5"), 24, 128, false).as_deref(),
            Some("2a00::1:0:0:5:5/128")
        );
        assert_eq!(
            subnet_group(ip("2a00:1:0:1:0:1:0:1"), 24, 128, false).as_deref(),
            Some("2a00:1:0:1:0:1:0:1/128")
        );
        // Private addresses are in no group, unless asked.
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            assert_eq!(subnet_group(ip(private), 24, 48, false), None, "{private}");
        }
        assert_eq!(
            subnet_group(ip("127.0.1.1"), 24, 48, true).as_deref(),
            Some("127.0.1.0/24")
        );
        assert_eq!(
            subnet_group(ip("::1"), 24, 48, true).as_deref(),
            Some("::/48")
        );
        // 100.64/10 is not private in Python 3.11.
        assert!(!is_private(ip("100.64.0.1")));
        assert!(is_private(ip("2001:db8::1")));
        assert!(!is_private(ip("2002::1")));
    }

    #[tokio::test]
    async fn concurrency_follows_its_target_and_refuses_at_zero() {
        let c = Arc::new(Concurrency::new(3));
        let a = c.enter().await.expect("1");
        let b = c.enter().await.expect("2");
        let d = c.enter().await.expect("3");
        // Lowered to 1 while 3 run: a fourth waits until two have finished and one more.
        c.set_target(1);
        let c2 = c.clone();
        let waiter = tokio::spawn(async move { c2.enter().await.map(|_| ()) });
        tokio::task::yield_now().await;
        drop(a);
        drop(b);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "two withdrawn, one still running");
        drop(d);
        assert_eq!(waiter.await.expect("join"), Ok(()));
        // Raised again: more slots at the next entry.
        c.set_target(2);
        let x = c.enter().await.expect("x");
        let y = c.enter().await.expect("y");
        drop((x, y));
        // Zero: the next entry is refused.
        c.set_target(0);
        assert_eq!(c.enter().await.err(), Some(Excessive));
        // Requests waiting when the target reaches zero are refused at once.
        let c = Arc::new(Concurrency::new(1));
        let held = c.enter().await.expect("held");
        let c2 = c.clone();
        let waiter = tokio::spawn(async move { c2.enter().await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        c.set_target(0);
        assert_eq!(waiter.await.expect("join"), Err(Excessive));
        drop(held);
    }
}
