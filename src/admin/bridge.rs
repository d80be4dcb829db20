//! The admin RPC's only contact with the session layer's resource accounting (costs,
//! session groups, logging of sessions, throttling). Everything the commands need from it
//! goes through these small functions, so a change there is a change to this file alone.
//!
//! Figures that can be unknown are `Option`s: they are shown as `null` in the JSON answers
//! and `-` in the CLI's tables, never as invented numbers.

use std::sync::Arc;

use crate::electrum::manager::Registry;
use crate::electrum::session::SessionState;

/// A session group, as the `groups` command shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// ElectrumX's name: the IP subnet (e.g. `203.0.113.0/24`).
    pub name: String,
    pub session_ids: Vec<u64>,
    /// Cost of the group's live sessions.
    pub cost: Option<f64>,
    /// Cost remembered from sessions that left.
    pub retained_cost: Option<f64>,
}

/// The live session `id`.
pub fn session(registry: &Registry, id: u64) -> Option<Arc<SessionState>> {
    registry.get(id)
}

/// Every session group.
pub fn groups(registry: &Registry) -> Vec<Group> {
    registry
        .groups()
        .into_iter()
        .map(|g| Group {
            name: g.name,
            session_ids: g.session_ids,
            cost: Some(g.cost),
            retained_cost: Some(g.retained_cost),
        })
        .collect()
}

/// The session ids of the group called `name` (already lower-cased), if it exists.
pub fn group_members(registry: &Registry, name: &str) -> Option<Vec<u64>> {
    registry.group_members(name)
}

/// The session's cost now (after decay).
pub fn cost(session: &SessionState) -> Option<f64> {
    Some(session.cost())
}

/// The cost the session bears for the other members of its groups.
pub fn extra_cost(session: &SessionState) -> Option<f64> {
    Some(session.extra_cost())
}

/// Whether the session's requests are being logged.
pub fn log_me(session: &SessionState) -> bool {
    session.log_me()
}

/// Toggles logging of the session's requests; whether they are logged now.
pub fn toggle_log(session: &SessionState) -> bool {
    session.toggle_log()
}

/// Sets whether the session's requests are logged (`log all`, `log none`).
pub fn set_log(session: &SessionState, on: bool) {
    session.set_log(on);
}

/// Sets whether sessions that connect from now on are logged (`log all/none/new`).
pub fn set_log_new(registry: &Registry, on: bool) {
    registry.set_log_new(on);
}

/// Whether sessions that connect from now on are logged.
pub fn log_new(registry: &Registry) -> bool {
    registry.log_new()
}

/// Requests of the session received and not answered yet.
pub fn pending_requests(session: &SessionState) -> Option<u64> {
    Some(session.unanswered_requests())
}

/// ElectrumX's session flags: transport initial, `C` closing, `L` logged, concurrency.
pub fn flags(session: &SessionState) -> String {
    session.flags()
}
