//! Protocol 1.7's outpoint subscriptions (`blockchain.outpoint.subscribe`): one session's
//! set ([`OutpointSubs`], each with the status it was last told), what a chain or mempool
//! change touched ([`OutpointTouches`]), the status as clients see it ([`status_json`]) and
//! what computing one costs ([`status_cost`]). Uses no file of `electrum`; the handlers are
//! in `methods/outpoint.rs`, the notifications in `outpoint_notify.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use bitcoin::{OutPoint, Txid};
use serde_json::{json, Map, Value};

use crate::index::OutpointStatus;
use crate::mempool::TxoStatus;

/// ElectrumX 2.0's `_convert_txospendstatus_to_protocol_dict`: `{}`, `{"funder_height": h}`
/// or `{"funder_height": h, "spender_txhash": t, "spender_height": h}` (a spender without a
/// funder is not shown).
pub fn status_json(s: &TxoStatus) -> Value {
    let mut d = Map::new();
    if let Some(h) = s.funder_height {
        d.insert("funder_height".into(), json!(h));
        if let Some((txid, height)) = s.spender {
            d.insert("spender_txhash".into(), json!(txid.to_string()));
            d.insert("spender_height".into(), json!(height));
        }
    }
    Value::Object(d)
}

/// What computing an outpoint's status costs, as ElectrumX 2.0's `_calc_txoutpoint_status`
/// charges it when its on-chain status is not cached: 0.1; 1.0 for the funding transaction
/// (`getrawtransaction`); 1.0 more for its spender (`gettxspendingprevout`) when the output
/// exists in the chain; 0.1 more when the mempool is asked (the spend is not confirmed).
/// FerrumX reads its own index each time, so it charges what ElectrumX charges without its
/// cache (docs/compatibility.md).
pub fn status_cost(confirmed: Option<&OutpointStatus>) -> f64 {
    let mut cost = 0.1 + 1.0;
    if confirmed.is_some() {
        cost += 1.0;
    }
    if TxoStatus::needs_mempool(confirmed) {
        cost += 0.1;
    }
    cost
}

/// What changed since the last notifications, for outpoint subscriptions: outpoints whose
/// spender or funder changed (a mempool refresh's, a block's or rollback's spent outpoints),
/// and transactions mined or rolled back (all their outputs' funder changed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutpointTouches {
    pub outpoints: HashSet<OutPoint>,
    pub funders: HashSet<Txid>,
}

impl OutpointTouches {
    /// Adds `other`'s.
    pub fn extend(&mut self, other: OutpointTouches) {
        self.outpoints.extend(other.outpoints);
        self.funders.extend(other.funders);
    }

    pub fn is_empty(&self) -> bool {
        self.outpoints.is_empty() && self.funders.is_empty()
    }

    /// Whether `op` may have changed.
    pub fn contains(&self, op: &OutPoint) -> bool {
        self.outpoints.contains(op) || self.funders.contains(&op.txid)
    }
}

/// One session's outpoint subscriptions, each with the status last sent (or answered to
/// `subscribe`). Counted with its script-hash subscriptions (ElectrumX 2.0's
/// `sub_count_total`), which is what bounds them: they slow the decay of its cost.
#[derive(Debug, Default)]
pub struct OutpointSubs(Mutex<HashMap<OutPoint, TxoStatus>>);

impl OutpointSubs {
    fn lock(&self) -> MutexGuard<'_, HashMap<OutPoint, TxoStatus>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds (or refreshes) the subscription to `op` with the status just answered.
    pub fn subscribe(&self, op: OutPoint, status: TxoStatus) {
        self.lock().insert(op, status);
    }

    /// Removes the subscription to `op`; whether there was one.
    pub fn unsubscribe(&self, op: &OutPoint) -> bool {
        self.lock().remove(op).is_some()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The subscriptions whose status may have changed: those `touched`, and (on a new tip,
    /// `tip_changed`) those whose last status had a mempool height (ElectrumX 2.0's
    /// `mempool_txoutpoint_statuses`: a parent mined or returned by a reorg changes them
    /// though nothing touched them).
    pub fn to_check(&self, touched: &OutpointTouches, tip_changed: bool) -> Vec<OutPoint> {
        self.lock()
            .iter()
            .filter(|(op, last)| touched.contains(op) || (tip_changed && last.in_mempool()))
            .map(|(op, _)| *op)
            .collect()
    }

    /// Records `status` for `op`; whether it differs from the last one sent (a
    /// notification is then due). False when `op` is no longer subscribed.
    pub fn update(&self, op: &OutPoint, status: TxoStatus) -> bool {
        match self.lock().get_mut(op) {
            Some(last) if *last != status => {
                *last = status;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;

    fn op(b: u8, vout: u32) -> OutPoint {
        OutPoint::new(Txid::from_byte_array([b; 32]), vout)
    }

    #[test]
    fn statuses_as_clients_see_them() {
        assert_eq!(status_json(&TxoStatus::default()), json!({}));
        let funded = TxoStatus {
            funder_height: Some(-1),
            spender: None,
        };
        assert_eq!(status_json(&funded), json!({"funder_height": -1}));
        let spent = TxoStatus {
            funder_height: Some(5),
            spender: Some((op(7, 0).txid, 0)),
        };
        assert_eq!(
            serde_json::to_string(&status_json(&spent)).unwrap(),
            format!(
                r#"{{"funder_height":5,"spender_txhash":"{}","spender_height":0}}"#,
                op(7, 0).txid
            )
        );
        // A spender without a funder is not shown (ElectrumX's dict).
        let orphan = TxoStatus {
            funder_height: None,
            spender: spent.spender,
        };
        assert_eq!(status_json(&orphan), json!({}));
    }

    #[test]
    fn what_is_checked_and_what_is_notified() {
        let subs = OutpointSubs::default();
        let mempool = TxoStatus {
            funder_height: Some(0),
            spender: None,
        };
        subs.subscribe(op(1, 0), TxoStatus::default());
        subs.subscribe(op(2, 3), mempool);
        assert_eq!(subs.len(), 2);
        let none = OutpointTouches::default();
        assert!(subs.to_check(&none, false).is_empty());
        // A new tip re-checks the mempool statuses only.
        assert_eq!(subs.to_check(&none, true), vec![op(2, 3)]);
        // A mined funder touches every output of it.
        let mined = OutpointTouches {
            outpoints: HashSet::new(),
            funders: [op(1, 9).txid].into(),
        };
        assert_eq!(subs.to_check(&mined, false), vec![op(1, 0)]);
        // Notified once per change.
        assert!(!subs.update(&op(2, 3), mempool));
        let confirmed = TxoStatus {
            funder_height: Some(8),
            spender: None,
        };
        assert!(subs.update(&op(2, 3), confirmed));
        assert!(!subs.update(&op(2, 3), confirmed));
        assert!(!subs.update(&op(9, 9), confirmed));
        assert!(subs.unsubscribe(&op(2, 3)));
        assert!(!subs.unsubscribe(&op(2, 3)));
        assert_eq!(subs.len(), 1);
    }
}
