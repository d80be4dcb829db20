//! The fees and mempool family: `blockchain.estimatefee`, `blockchain.relayfee`,
//! `mempool.get_fee_histogram`, `mempool.get_info`, `mempool.recent` (1.7). Their fixed
//! costs are in the method table.

use serde_json::{json, Value};

use crate::electrum::params;
use crate::py::PyInt;

use super::backend::Backend;
use super::call::Call;
use super::failure::Outcome;

/// How many transactions `mempool.recent` lists (ElectrumX 2.0's `count=10`).
pub const RECENT: usize = 10;

impl<B: Backend> Call<'_, B> {
    /// `blockchain.estimatefee(number, mode=None)`: the daemon's `estimatesmartfee` fee
    /// rate (-1 when it has none), asked once per block per (bucketed target, mode).
    pub(super) async fn estimatefee(&self, number: &PyInt, mode: Option<&'static str>) -> Outcome {
        let number = params::bucket_estimatefee_block_target(number.saturating_u64());
        let tip = self.backend.tip().map(|t| t.1);
        let slot = self.backend.fee_slot((number, mode));
        let mut cached = slot.lock().await;
        if let (Some((at, v)), Some(tip)) = (cached.as_ref(), tip) {
            if *at == tip {
                return Ok(v.clone());
            }
        }
        self.bump(2.0);
        let target = u32::try_from(number).unwrap_or(u32::MAX);
        let answer = self.backend.estimate_smart_fee(target, mode).await?;
        let feerate = answer.get("feerate").cloned().unwrap_or(json!(-1));
        *cached = tip.map(|tip| (tip, feerate.clone()));
        Ok(feerate)
    }

    /// `blockchain.relayfee` (before protocol 1.6): the daemon's `relayfee`.
    pub(super) async fn relayfee(&self) -> Outcome {
        let info = self.backend.network_info().await?;
        Ok(info.get("relayfee").cloned().unwrap_or(Value::Null))
    }

    /// `mempool.get_fee_histogram`.
    pub(super) fn fee_histogram(&self) -> Outcome {
        let h: Vec<Value> = self
            .backend
            .fee_histogram()
            .into_iter()
            .map(|(rate, size)| json!([rate, size]))
            .collect();
        Ok(Value::Array(h))
    }

    /// `mempool.recent` (protocol 1.7): the last [`RECENT`] transactions to enter the
    /// mempool, the newest first, as `{"txid", "fee", "vsize"}`.
    pub(super) fn mempool_recent(&self) -> Outcome {
        let recent: Vec<Value> = self
            .backend
            .mempool_recent(RECENT)
            .iter()
            .map(|t| json!({"txid": t.txid.to_string(), "fee": t.fee, "vsize": t.vsize}))
            .collect();
        Ok(Value::Array(recent))
    }

    /// `mempool.get_info` (protocol 1.6): three fields of the daemon's `getmempoolinfo`.
    pub(super) async fn mempool_info(&self) -> Outcome {
        let info = self.backend.mempool_info().await?;
        let field = |k: &str| info.get(k).cloned().unwrap_or(Value::Null);
        Ok(json!({
            "mempoolminfee": field("mempoolminfee"),
            "minrelaytxfee": field("minrelaytxfee"),
            "incrementalrelayfee": field("incrementalrelayfee"),
        }))
    }
}
