//! Notifications of outpoint subscriptions (`blockchain.outpoint.subscribe` with
//! `[tx_hash, txout_idx, status]`): after a new tip or a mempool refresh, each session's
//! subscriptions that may have changed ([`OutpointSubs::to_check`]) are recomputed — each
//! distinct outpoint once, from one index snapshot — and notified when their status differs
//! from the one last sent. Unlike ElectrumX 2.0.0, which computes the changes of
//! subscriptions nothing touched (a funder going from -1 to 0 when its parent is mined, and
//! back in a reorg) but sends only the touched ones, FerrumX sends every change, once
//! (docs/compatibility.md).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bitcoin::OutPoint;
use serde_json::{json, Value};

use super::outpoints::{status_cost, status_json, OutpointSubs, OutpointTouches};
use super::session::SessionState;
use super::shared::ElectrumState;
use crate::mempool::TxoStatus;

/// A status computed once for every session, with what computing it costs each session.
type Statuses = HashMap<OutPoint, (TxoStatus, f64)>;

/// Notifies the sessions in `sessions` of their outpoint subscriptions that changed among
/// those `touched` (and, when `tip_changed`, among those with a mempool height).
pub async fn notify_outpoints(
    shared: &Arc<ElectrumState>,
    sessions: &[Arc<SessionState>],
    tip_changed: bool,
    touched: &OutpointTouches,
) {
    let mut work: Vec<(&Arc<SessionState>, Vec<OutPoint>)> = Vec::new();
    let mut distinct: HashSet<OutPoint> = HashSet::new();
    for s in sessions {
        let ops = s.outpoints.to_check(touched, tip_changed);
        if !ops.is_empty() {
            distinct.extend(ops.iter().copied());
            work.push((s, ops));
        }
    }
    if distinct.is_empty() {
        return;
    }
    let Some(statuses) = compute(shared, distinct.into_iter().collect()).await else {
        return;
    };
    for (s, ops) in work {
        notify_session(s, &s.outpoints, &statuses, ops);
    }
}

/// Sends `s` the changes among `ops`, and charges it for re-checking them.
fn notify_session(s: &SessionState, subs: &OutpointSubs, statuses: &Statuses, ops: Vec<OutPoint>) {
    let mut cost = 0.0;
    let mut changed = 0usize;
    for op in ops {
        let Some((status, c)) = statuses.get(&op) else {
            continue;
        };
        cost += c;
        if subs.update(&op, *status) {
            changed += 1;
            let params: [Value; 3] = [
                json!(op.txid.to_string()),
                json!(op.vout),
                status_json(status),
            ];
            if !s.notify("blockchain.outpoint.subscribe", &params) {
                break;
            }
        }
    }
    s.bump_cost(cost);
    if changed > 0 {
        tracing::debug!(session = s.id, changed, "notified of outpoint changes");
    }
}

/// The statuses of `ops` (one index snapshot, on a blocking thread; the mempool overlaid).
/// `None` when the index cannot answer (a read failed, or the spender index is being built):
/// this round is skipped, the subscriptions keep their last status and are re-checked on
/// the next change.
async fn compute(shared: &Arc<ElectrumState>, ops: Vec<OutPoint>) -> Option<Statuses> {
    let shared = shared.clone();
    let computed = tokio::task::spawn_blocking(move || {
        let confirmed = shared.index.outpoint_statuses(&ops)?;
        Ok::<_, crate::index::IndexError>(
            ops.iter()
                .zip(confirmed)
                .map(|(op, c)| {
                    let status =
                        TxoStatus::overlay(c.as_ref(), op, |op| shared.mempool.spender_for_txo(op));
                    (*op, (status, status_cost(c.as_ref())))
                })
                .collect::<Statuses>(),
        )
    })
    .await;
    match computed {
        Ok(Ok(statuses)) => Some(statuses),
        Ok(Err(e)) => {
            tracing::warn!("statuses of subscribed outpoints: {e}");
            None
        }
        Err(e) => {
            tracing::warn!("computing outpoint statuses: {e}");
            None
        }
    }
}
