//! Session groups (ElectrumX's `SessionGroup`) and the cell through which a session's cost
//! reaches them.
//!
//! Each group keeps a running total of its members' costs: every change of a member's
//! recorded cost (a bump, a decay, the connection cost) is added to the totals of its groups
//! as it happens, under the member's cell lock. So a member's share of its groups costs
//! O(its groups) — two — instead of a walk over every member (the timeslice group holds every
//! session of five minutes), and the 300 s cost round is O(sessions) instead of
//! O(sessions²).
//!
//! Totals are kept in fixed point (units of 2⁻³²), so adding and taking away a member's cost
//! is exact: a group's total is always exactly the sum of its members' costs as recorded,
//! without floating-point drift however long the group lives (a whole cost is represented
//! exactly, so the figures are today's model's to well under a millionth).
//!
//! Lock order: the groups' map, then a cell, then a group. A group never locks a cell.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::model::SessionCost;

/// Fixed-point units per unit of cost.
const SCALE: f64 = 4_294_967_296.0;
/// The largest cost a total counts (2⁶⁸, far beyond any hard limit): with it, the total of
/// up to 2²⁶ members cannot overflow.
const MAX_COST: f64 = 295_147_905_179_352_825_856.0;

/// `cost` in fixed point (negative and NaN costs count as 0).
fn fixed(cost: f64) -> i128 {
    // `as` maps NaN to 0.
    (cost.clamp(0.0, MAX_COST) * SCALE).round() as i128
}

fn float(units: i128) -> f64 {
    units as f64 / SCALE
}

#[derive(Debug)]
struct GroupInner {
    /// Each member's cost as last recorded, in fixed point.
    members: BTreeMap<u64, i128>,
    /// Their sum.
    total: i128,
    /// Cost kept from members that left.
    retained: f64,
}

/// Sessions that share their costs (ElectrumX's `SessionGroup`).
#[derive(Debug)]
pub struct SessionGroup {
    name: String,
    weight: f64,
    /// Creation order (groups are listed in it).
    seq: u64,
    inner: Mutex<GroupInner>,
}

impl SessionGroup {
    fn lock(&self) -> MutexGuard<'_, GroupInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn weight(&self) -> f64 {
        self.weight
    }

    /// The members' costs (0 when it has none).
    pub fn session_cost(&self) -> f64 {
        float(self.lock().total)
    }

    /// The cost kept from members that left.
    pub fn retained_cost(&self) -> f64 {
        self.lock().retained
    }

    /// Retained plus members' costs.
    pub fn cost(&self) -> f64 {
        let inner = self.lock();
        inner.retained + float(inner.total)
    }

    /// The group's cost less `own` (a member's fixed-point cost): what it adds to that
    /// member's cost, before its weight.
    fn others(&self, own: i128) -> f64 {
        let inner = self.lock();
        inner.retained + float(inner.total - own)
    }

    /// The members' session ids, ascending.
    pub fn member_ids(&self) -> Vec<u64> {
        self.lock().members.keys().copied().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().members.is_empty()
    }

    /// Adds member `id` with `cost` (replacing it if it was one).
    fn add(&self, id: u64, cost: i128) {
        let inner = &mut *self.lock();
        let old = inner.members.insert(id, cost).unwrap_or(0);
        inner.total += cost - old;
    }

    /// Records member `id`'s new `cost`; nothing if it is not a member (any more).
    fn record(&self, id: u64, cost: i128) {
        let inner = &mut *self.lock();
        if let Some(old) = inner.members.get_mut(&id) {
            inner.total += cost - std::mem::replace(old, cost);
        }
    }

    /// Member `id` leaves; the group keeps `cost`.
    fn leave(&self, id: u64, cost: f64) {
        let inner = &mut *self.lock();
        inner.retained += cost;
        if let Some(old) = inner.members.remove(&id) {
            inner.total -= old;
        }
    }
}

/// What a session of cost `own` owes through its groups: `Σ (group cost − own) × weight`.
pub fn extra_cost(groups: &[Arc<SessionGroup>], own: f64) -> f64 {
    share(groups.iter(), fixed(own))
}

fn share<'a>(groups: impl Iterator<Item = &'a Arc<SessionGroup>>, own: i128) -> f64 {
    groups.fold(0.0, |sum, g| sum + g.others(own) * g.weight)
}

#[derive(Debug)]
struct CellInner {
    cost: SessionCost,
    /// The groups joined, each with the id the session has in it.
    groups: Vec<(Arc<SessionGroup>, u64)>,
}

impl CellInner {
    /// Records the cost in the groups' totals (after every change of it).
    fn record(&self) {
        let cost = fixed(self.cost.cost());
        for (g, id) in &self.groups {
            g.record(*id, cost);
        }
    }

    fn share(&self) -> f64 {
        share(self.groups.iter().map(|(g, _)| g), fixed(self.cost.cost()))
    }
}

/// A session's cost and the groups it has joined: every change of the cost reaches the
/// groups' totals at once.
#[derive(Debug)]
pub struct CostCell(Mutex<CellInner>);

impl CostCell {
    pub fn new(cost: SessionCost) -> CostCell {
        CostCell(Mutex::new(CellInner {
            cost,
            groups: Vec::new(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, CellInner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cost as last decayed (what the groups count).
    pub fn cost(&self) -> f64 {
        self.lock().cost.cost()
    }

    /// The cost decayed to `now`, without recording it.
    pub fn cost_at(&self, now: Instant) -> f64 {
        self.lock().cost.cost_at(now)
    }

    /// Adds `delta` (never below 0); true when the throttle should be recomputed.
    pub fn bump(&self, delta: f64) -> bool {
        let mut inner = self.lock();
        let recalc = inner.cost.bump(delta);
        inner.record();
        recalc
    }

    /// Sets the cost outright (the connection cost of a new session).
    pub fn set(&self, cost: f64) {
        let mut inner = self.lock();
        inner.cost.set(cost);
        inner.record();
    }

    /// Applies the decay up to `now` and marks a recomputation; returns the own cost and
    /// what the groups add to it ([`extra_cost`]), the throttle's input.
    pub fn decay_with_share(&self, now: Instant) -> (f64, f64) {
        let mut inner = self.lock();
        let own = inner.cost.decay(now);
        inner.record();
        (own, inner.share())
    }

    /// What the groups add to the session's recorded cost.
    pub fn extra_cost(&self) -> f64 {
        self.lock().share()
    }

    pub fn set_decay_per_sec(&self, rate: f64) {
        self.lock().cost.set_decay_per_sec(rate);
    }

    pub fn fraction(&self) -> f64 {
        self.lock().cost.fraction()
    }

    pub fn set_fraction(&self, fraction: f64) {
        self.lock().cost.set_fraction(fraction);
    }

    /// The groups joined.
    pub fn groups(&self) -> Vec<Arc<SessionGroup>> {
        self.lock().groups.iter().map(|(g, _)| g.clone()).collect()
    }

    /// Becomes member `id` of `group`.
    fn join(&self, group: &Arc<SessionGroup>, id: u64) {
        let mut inner = self.lock();
        group.add(id, fixed(inner.cost.cost()));
        inner.groups.push((group.clone(), id));
    }

    /// Leaves every group joined; they keep the recorded cost. Later changes of the cost
    /// reach no group.
    pub fn leave_groups(&self) {
        let mut inner = self.lock();
        let cost = inner.cost.cost();
        for (g, id) in std::mem::take(&mut inner.groups) {
            g.leave(id, cost);
        }
    }
}

/// Every group by name.
#[derive(Debug, Default)]
pub struct Groups {
    map: Mutex<HashMap<String, Arc<SessionGroup>>>,
    next_seq: AtomicU64,
}

impl Groups {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<SessionGroup>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds session `id` (its cost `cell`) to the group `name`, made with `weight` if new.
    pub fn join(&self, name: &str, weight: f64, id: u64, cell: Arc<CostCell>) -> Arc<SessionGroup> {
        // Under the map's lock, so that a refund cannot forget the group meanwhile.
        let mut map = self.lock();
        let group = map
            .entry(name.to_owned())
            .or_insert_with(|| {
                Arc::new(SessionGroup {
                    name: name.to_owned(),
                    weight,
                    seq: self.next_seq.fetch_add(1, Ordering::Relaxed),
                    inner: Mutex::new(GroupInner {
                        members: BTreeMap::new(),
                        total: 0,
                        retained: 0.0,
                    }),
                })
            })
            .clone();
        cell.join(&group, id);
        group
    }

    /// Session `id` leaves `groups`, which keep its `cost`.
    pub fn leave(groups: &[Arc<SessionGroup>], id: u64, cost: f64) {
        for g in groups {
            g.leave(id, cost);
        }
    }

    /// Lowers every retained cost by `amount` (not below 0) and forgets the groups left
    /// with neither members nor retained cost; returns how many were forgotten.
    pub fn refund(&self, amount: f64) -> usize {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, g| {
            let mut inner = g.lock();
            inner.retained = (inner.retained - amount).max(0.0);
            !(inner.retained == 0.0 && inner.members.is_empty())
        });
        before - map.len()
    }

    pub fn get(&self, name: &str) -> Option<Arc<SessionGroup>> {
        self.lock().get(name).cloned()
    }

    /// Every group, in creation order.
    pub fn all(&self) -> Vec<Arc<SessionGroup>> {
        let mut all: Vec<Arc<SessionGroup>> = self.lock().values().cloned().collect();
        all.sort_by_key(|g| g.seq);
        all
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::model::{Limits, SUBNET_WEIGHT, TIMESLICE_WEIGHT};
    use super::*;

    fn cell(cost: f64) -> Arc<CostCell> {
        let mut c = SessionCost::new(&Limits::default(), Instant::now());
        c.set(cost);
        Arc::new(CostCell::new(c))
    }

    #[test]
    fn changes_of_a_members_cost_reach_its_groups_at_once() {
        let groups = Groups::default();
        let (a, b) = (cell(0.0), cell(0.0));
        let g = groups.join("t0", TIMESLICE_WEIGHT, 1, a.clone());
        groups.join("t0", TIMESLICE_WEIGHT, 2, b.clone());
        let s = groups.join("203.0.113.0/24", SUBNET_WEIGHT, 2, b.clone());
        a.set(5.0);
        assert!(!a.bump(0.1));
        assert!(b.bump(250.0));
        assert!((g.session_cost() - 255.1).abs() < 1e-9);
        assert_eq!(s.session_cost(), 250.0);
        assert!((a.extra_cost() - 250.0 * TIMESLICE_WEIGHT).abs() < 1e-9);
        assert!((b.extra_cost() - 5.1 * TIMESLICE_WEIGHT).abs() < 1e-9);
        // A decay is recorded too: 1.0 per second with the default hard limit.
        let (own, extra) = b.decay_with_share(Instant::now() + Duration::from_secs(50));
        assert!((own - 200.0).abs() < 1e-3, "{own}");
        assert!((extra - 5.1 * TIMESLICE_WEIGHT).abs() < 1e-9);
        assert!((s.session_cost() - own).abs() < 1e-9);
        // Leaving: the groups keep the cost, the totals forget the member; nothing the
        // cell does afterwards reaches them.
        b.leave_groups();
        assert_eq!(s.session_cost(), 0.0);
        assert!((s.retained_cost() - own).abs() < 1e-9);
        assert!((g.session_cost() - 5.1).abs() < 1e-9);
        b.bump(1e6);
        assert!((g.cost() - 5.1 - own).abs() < 1e-9);
        assert!(b.groups().is_empty());
    }

    #[test]
    fn totals_do_not_drift() {
        let groups = Groups::default();
        let cells: Vec<Arc<CostCell>> = (0..10).map(|_| cell(0.0)).collect();
        let g = (0..10u64)
            .map(|id| groups.join("t0", TIMESLICE_WEIGHT, id, cells[id as usize].clone()))
            .last()
            .expect("joined");
        for round in 0..10_000 {
            for c in &cells {
                c.bump(0.1 + f64::from(round % 7) * 0.013);
            }
        }
        for c in &cells {
            c.bump(-1e12);
        }
        // Back to exactly zero, with every member still in.
        assert_eq!(g.session_cost(), 0.0);
        assert_eq!(g.member_ids().len(), 10);
    }

    /// The share of a member and a change of its cost touch its own groups only, never the
    /// other members: with another member's cell locked, both still complete. (Summing the
    /// members, as a group did before it kept a running total, would wait here.)
    #[test]
    fn a_members_share_does_not_visit_the_other_members() {
        let groups = Arc::new(Groups::default());
        let (a, b) = (cell(10.0), cell(20.0));
        groups.join("t0", TIMESLICE_WEIGHT, 1, a.clone());
        groups.join("t0", TIMESLICE_WEIGHT, 2, b.clone());
        let held = b.lock();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            a.bump(1.0);
            let share = a.decay_with_share(Instant::now()).1;
            let _ = tx.send(share);
        });
        let share = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the share was computed without the other member");
        assert!((share - 20.0 * TIMESLICE_WEIGHT).abs() < 1e-9);
        drop(held);
    }

    /// ElectrumX's 300 s round over 10,000 sessions, all in one timeslice group and each in
    /// a subnet group: each session's cost decayed and its share computed. Linear now (a few
    /// milliseconds); summing members made it quadratic (13.8 s in a debug build on the
    /// reference machine, against 0.15 s for 1,000 sessions).
    #[test]
    fn a_cost_round_over_10000_sessions_is_linear() {
        let groups = Groups::default();
        let mut cells = Vec::new();
        for id in 0..10_000u64 {
            let c = cell(5.0 + id as f64);
            groups.join("t0", TIMESLICE_WEIGHT, id, c.clone());
            let subnet = format!("198.{}.{}.0/24", id / 256, id % 256);
            groups.join(&subnet, SUBNET_WEIGHT, id, c.clone());
            cells.push(c);
        }
        let started = Instant::now();
        let now = Instant::now();
        let mut total = 0.0;
        for c in &cells {
            let (own, extra) = c.decay_with_share(now);
            total += own + extra;
        }
        let took = started.elapsed();
        eprintln!("a cost round over 10,000 sessions took {took:?}");
        assert!(total > 0.0);
        assert!(took < Duration::from_secs(2), "{took:?}");
    }
}
