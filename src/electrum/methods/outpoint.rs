//! The outpoint family (protocol 1.7): `blockchain.outpoint.subscribe`, `get_status`,
//! `unsubscribe` — ElectrumX 2.0.0's `phandle_txoutpoint_*`, answered from FerrumX's own
//! spender index (the confirmed status) with the mempool overlaid, never from bitcoind.
//! `spk_hint` is checked and ignored, as ElectrumX does.

use bitcoin::{OutPoint, Txid};
use serde_json::json;

use crate::electrum::outpoints::{status_cost, status_json};
use crate::mempool::TxoStatus;
use crate::py::PyInt;

use super::backend::Backend;
use super::call::Call;
use super::failure::{CallFailure, Outcome};

impl<B: Backend> Call<'_, B> {
    /// `blockchain.outpoint.get_status`: the status, without subscribing.
    pub(super) async fn outpoint_get_status(&self, txid: Txid, txout_idx: &PyInt) -> Outcome {
        let status = match txout_idx.to_u32() {
            Some(vout) => self.outpoint_status(OutPoint::new(txid, vout)).await?,
            None => self.no_such_output(),
        };
        Ok(status_json(&status))
    }

    /// `blockchain.outpoint.subscribe`: the status now, and a notification at each change
    /// (kept for an outpoint that does not exist yet).
    pub(super) async fn outpoint_subscribe(&self, txid: Txid, txout_idx: &PyInt) -> Outcome {
        let Some(vout) = txout_idx.to_u32() else {
            // No transaction has that many outputs: nothing to watch (docs/compatibility.md).
            return Ok(status_json(&self.no_such_output()));
        };
        let op = OutPoint::new(txid, vout);
        let status = self.outpoint_status(op).await?;
        self.session.outpoints.subscribe(op, status);
        Ok(status_json(&status))
    }

    /// `blockchain.outpoint.unsubscribe`: whether there was a subscription.
    pub(super) fn outpoint_unsubscribe(&self, txid: Txid, txout_idx: &PyInt) -> Outcome {
        let was = txout_idx.to_u32().is_some_and(|vout| {
            self.session
                .outpoints
                .unsubscribe(&OutPoint::new(txid, vout))
        });
        Ok(json!(was))
    }

    /// ElectrumX 2.0's `_calc_txoutpoint_status` with its cost: the confirmed status from
    /// the index, the mempool overlaid unless the spend is confirmed.
    async fn outpoint_status(&self, op: OutPoint) -> Result<TxoStatus, CallFailure> {
        let confirmed = self.blocking(move |b| b.outpoint_status(&op)).await??;
        self.bump(status_cost(confirmed.as_ref()));
        Ok(TxoStatus::overlay(confirmed.as_ref(), &op, |op| {
            self.backend.spender_for_txo(op)
        }))
    }

    /// An output index past any transaction's: not funded, charged as ElectrumX charges a
    /// transaction without that output (`getrawtransaction`, then the mempool).
    fn no_such_output(&self) -> TxoStatus {
        self.bump(status_cost(None));
        TxoStatus::default()
    }
}
