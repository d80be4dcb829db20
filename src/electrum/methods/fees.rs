//! The fees and mempool family: `blockchain.estimatefee`, `blockchain.relayfee`,
//! `mempool.get_fee_histogram`, `mempool.get_info`. Their fixed costs are in the method
//! table.

use serde_json::{json, Value};

use crate::electrum::params;
use crate::py::PyInt;

use super::backend::Backend;
use super::call::Call;
use super::failure::Outcome;

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
