//! The script-hash family: `blockchain.scripthash.get_balance`, `get_history`,
//! `get_mempool`, `listunspent`, `subscribe`, `unsubscribe` — confirmed data from the
//! index (histories through the history cache), unconfirmed from the mempool.

use std::sync::Arc;

use bitcoin::OutPoint;
use serde_json::{json, Value};

use crate::electrum::history::{self, status_json, Confirmed, HistoryError};
use crate::electrum::history_json::HistoryJson;
use crate::index::HashX;
use crate::jsonrpc::Answer;

use super::backend::Backend;
use super::call::Call;
use super::failure::{history_failure_v17, CallFailure, Outcome};
use super::request::ScriptHashArg;

impl<B: Backend> Call<'_, B> {
    /// `blockchain.scripthash.get_balance`.
    pub(super) async fn get_balance(&self, sh: [u8; 32]) -> Outcome {
        let utxos = self.blocking(move |b| b.utxos(&sh)).await??;
        let confirmed: u64 = utxos.iter().map(|u| u.value).sum();
        let unconfirmed = self
            .backend
            .mempool_balance_delta(&HashX::from_script_hash(&sh));
        self.bump(1.0 + utxos.len() as f64 / 50.0);
        Ok(json!({"confirmed": confirmed, "unconfirmed": unconfirmed}))
    }

    /// `blockchain.scripthash.get_history` (`confirmed`: the confirmed part first) and
    /// `get_mempool` (the mempool part only).
    pub(super) async fn get_history(&self, sh: [u8; 32], confirmed: bool) -> Outcome {
        let x = HashX::from_script_hash(&sh);
        let mut out: Vec<Value> = Vec::new();
        if confirmed {
            let c = self.confirmed(sh).await?;
            out.extend(
                c.entries
                    .iter()
                    .map(|(txid, height)| json!({"tx_hash": txid.to_string(), "height": height})),
            );
        }
        out.extend(self.unconfirmed(&x));
        Ok(Value::Array(out))
    }

    /// `get_history`'s answer written from the cached history (see [`HistoryJson`]), in
    /// `{"history": …}` when `wrapped` (`blockchain.scriptpubkey.get_history`): the same
    /// text, costs and errors as [`Call::get_history`]'s value.
    pub(super) async fn history_answer(
        &self,
        sh: [u8; 32],
        wrapped: bool,
    ) -> Result<Answer, CallFailure> {
        let c = self.confirmed(sh).await?;
        let mempool = self.unconfirmed(&HashX::from_script_hash(&sh));
        Ok(Answer::Body(Box::new(HistoryJson::new(
            c, &mempool, wrapped,
        ))))
    }

    /// `blockchain.scripthash.listunspent`: confirmed then mempool outputs, without those
    /// a mempool transaction spends.
    pub(super) async fn listunspent(&self, sh: [u8; 32]) -> Outcome {
        let x = HashX::from_script_hash(&sh);
        let utxos = self.blocking(move |b| b.utxos(&sh)).await??;
        // Already in FerrumX's documented order (txid as displayed, then output index);
        // `Txid`'s own `Ord` compares the internal byte order, which is not that.
        let unconfirmed = self.backend.mempool_utxos(&x);
        self.bump(1.0 + (utxos.len() + unconfirmed.len()) as f64 / 50.0);
        let spends = self.backend.mempool_spends(&x);
        let confirmed = utxos
            .iter()
            .filter(|u| !spends.contains(&OutPoint::new(u.txid, u.vout)))
            .map(|u| {
                json!({"tx_hash": u.txid.to_string(), "tx_pos": u.vout, "height": u.height,
                       "value": u.value})
            });
        let unconfirmed = unconfirmed
            .iter()
            .filter(|u| !spends.contains(&OutPoint::new(u.txid, u.vout)))
            .map(|u| {
                json!({"tx_hash": u.txid.to_string(), "tx_pos": u.vout, "height": 0,
                       "value": u.value})
            });
        Ok(Value::Array(confirmed.chain(unconfirmed).collect()))
    }

    /// `blockchain.scripthash.subscribe`: the status now, and notifications of changes.
    pub(super) async fn subscribe(&self, sh: &ScriptHashArg) -> Outcome {
        let (status, has_mempool) = self.status(sh.sh).await?;
        let x = HashX::from_script_hash(&sh.sh);
        self.session
            .subscribe(x, sh.sh, &sh.text, status, has_mempool);
        Ok(status_json(status))
    }

    /// `blockchain.scripthash.unsubscribe` (protocol 1.4.2): whether there was one.
    pub(super) fn unsubscribe(&self, sh: [u8; 32]) -> Outcome {
        Ok(json!(self
            .session
            .unsubscribe(&HashX::from_script_hash(&sh))))
    }

    /// The confirmed history of `sh`, with ElectrumX's cost (less when cached). At protocol
    /// 1.7, ElectrumX 2.0's limit and error code ([`history::limit_at`]).
    async fn confirmed(&self, sh: [u8; 32]) -> Result<Arc<Confirmed>, CallFailure> {
        let got = self.blocking(move |b| b.confirmed_history(&sh)).await?;
        let mut cost = 0.1;
        if let Ok((c, false)) = &got {
            cost += 0.1 + c.entries.len() as f64 * 0.001;
        }
        self.bump(cost);
        let max_send = self.backend.config().max_send;
        let (v17, limit) = self
            .session
            .with_protocol(|v| (v.at_least(&[1, 7]), history::limit_at(max_send, v)));
        if !v17 {
            return Ok(got?.0);
        }
        match got {
            Ok((c, _)) if c.entries.len() < limit => Ok(c),
            Ok(_) => Err(history_failure_v17(HistoryError::TooLarge)),
            Err(e) => Err(history_failure_v17(e)),
        }
    }

    /// The mempool part of a history, with its cost.
    fn unconfirmed(&self, x: &HashX) -> Vec<Value> {
        let result: Vec<Value> = self
            .backend
            .mempool_txs(x)
            .iter()
            .map(|tx| {
                json!({
                    "tx_hash": tx.txid.to_string(),
                    "height": if tx.has_unconfirmed_inputs { -1 } else { 0 },
                    "fee": tx.fee,
                })
            })
            .collect();
        self.bump(0.25 + result.len() as f64 / 50.0);
        result
    }

    /// ElectrumX's `address_status`, with its cost; also whether the status has mempool
    /// transactions.
    async fn status(&self, sh: [u8; 32]) -> Result<(Option<[u8; 32]>, bool), CallFailure> {
        let c = self.confirmed(sh).await?;
        let mempool = self.backend.mempool_txs(&HashX::from_script_hash(&sh));
        let status = c.status(&mempool);
        let len = c.entries.len() + mempool.len();
        // ElectrumX: 0.1 plus 2e-5 per character of the status string (~68 each).
        self.bump(0.1 + len as f64 * 68.0 * 0.000_02);
        Ok((status, !mempool.is_empty()))
    }
}
