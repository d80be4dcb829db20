//! The transactions family: `blockchain.transaction.broadcast`, `broadcast_package`,
//! `get`, `get_merkle`, `id_from_pos`, `testmempoolaccept` (1.7) — the daemon for
//! transactions themselves, the index for where they are and for merkle branches.

use std::sync::Arc;

use bitcoin::hex::DisplayHex;
use bitcoin::Txid;
use serde_json::{json, Value};

use crate::daemon;
use crate::electrum::version::{self, ProtocolVersion};
use crate::jsonrpc::RpcError;
use crate::py::{self, thousands, PyInt};

use super::backend::Backend;
use super::call::{hex_hash, merge, Call};
use super::failure::{bad, daemon_message, CallFailure, Outcome};

impl<B: Backend> Call<'_, B> {
    /// `blockchain.transaction.broadcast(raw_tx)`: the txid, or the daemon's rejection in
    /// ElectrumX's words (code 1).
    pub(super) async fn broadcast(&self, raw_tx: &str) -> Outcome {
        self.bump(0.25 + raw_tx.len() as f64 / 5000.0);
        match self.backend.broadcast(raw_tx).await {
            Ok(txid) => {
                self.backend.count_tx_sent(1);
                self.session.count_tx_sent(1);
                // ElectrumX 1.20 reads the first 17 characters of the client's name, 2.0 the
                // first 100.
                let client = if self.session.with_protocol(|v| v.at_least(&[1, 7])) {
                    self.session.client_long()
                } else {
                    self.session.client()
                };
                if let Some(warning) = old_client_warning(&client) {
                    tracing::info!(%txid, "sent tx; warned the user to upgrade their client");
                    return Ok(json!(warning));
                }
                tracing::info!(%txid, "sent tx");
                Ok(json!(txid.to_string()))
            }
            Err(daemon::Error::Shutdown) => Err(bad("server shutting down")),
            Err(e) => {
                let message = daemon_message(&e);
                tracing::info!("error sending transaction: {message}");
                Err(bad(format!(
                    "the transaction was rejected by network rules.\n\n{message}\n[{raw_tx}]"
                )))
            }
        }
    }

    /// `blockchain.transaction.broadcast_package(raw_txs, verbose=False)` (protocol 1.6):
    /// the daemon's `submitpackage` answer if `verbose`, else ElectrumX's summary of it.
    pub(super) async fn broadcast_package(&self, raw_txs: &[String], verbose: bool) -> Outcome {
        self.bump(0.25 + raw_txs.iter().map(|t| t.len() as f64 / 5000.0).sum::<f64>());
        let result = match self.backend.submit_package(raw_txs).await {
            Ok(r) => r,
            Err(e) => {
                let message = daemon_message(&e);
                tracing::info!("error submitting package: {message}");
                return Err(bad(format!(
                    "the tx package was rejected by network rules.\n\n{message}."
                )));
            }
        };
        self.backend.count_tx_sent(raw_txs.len() as u64);
        self.session.count_tx_sent(raw_txs.len() as u64);
        tracing::info!(txs = raw_txs.len(), "broadcast package");
        if verbose {
            return Ok(result);
        }
        let success = result.get("package_msg").and_then(Value::as_str) == Some("success");
        let mut response = json!({ "success": success });
        let errors: Vec<Value> = result
            .get("tx-results")
            .and_then(Value::as_object)
            .map(|m| {
                m.values()
                    .filter(|tx| tx.get("error").is_some_and(py::py_truthy))
                    .map(|tx| {
                        json!({
                            "txid": tx.get("txid").cloned().unwrap_or(Value::Null),
                            "error": tx.get("error").cloned().unwrap_or(Value::Null),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !errors.is_empty() {
            merge(&mut response, json!({ "errors": errors }));
        }
        Ok(response)
    }

    /// `blockchain.transaction.testmempoolaccept(raw_txs)` (protocol 1.7): the daemon's
    /// `testmempoolaccept` verdict on each transaction, in ElectrumX 2.0's shape — `txid`,
    /// `wtxid`, `allowed` when the daemon says true or false, and `reason`: the first of
    /// `package-error`, `reject-details`, `reject-reason` that is not empty. A daemon error
    /// is `daemon error: DaemonError({...})` (code 2).
    pub(super) async fn test_mempool_accept(&self, raw_txs: &[String]) -> Outcome {
        self.bump(0.25 + raw_txs.iter().map(|t| t.len() as f64 / 5000.0).sum::<f64>());
        let result = self.backend.test_mempool_accept(raw_txs).await?;
        // ElectrumX indexes the daemon's items without checking them: anything but a list
        // of objects with `txid` and `wtxid` is its "internal server error".
        let items = result.as_array().ok_or_else(RpcError::internal)?;
        let mut response = Vec::with_capacity(items.len());
        for item in items {
            let field = |name: &str| item.get(name).cloned().ok_or_else(RpcError::internal);
            let mut answer = json!({"txid": field("txid")?, "wtxid": field("wtxid")?});
            // `orig_item.get("allowed") in (True, False)`.
            if let Some(allowed) = item
                .get("allowed")
                .filter(|a| py::py_false_or_true(a).is_some())
            {
                merge(&mut answer, json!({"allowed": allowed}));
            }
            let reason = ["package-error", "reject-details", "reject-reason"]
                .iter()
                .filter_map(|k| item.get(*k))
                .find(|v| py::py_truthy(v));
            if let Some(reason) = reason {
                merge(&mut answer, json!({"reason": reason}));
            }
            response.push(answer);
        }
        Ok(Value::Array(response))
    }

    /// `blockchain.transaction.get(tx_hash, verbose=False)`: from the daemon, asking in
    /// the block the index knows when the daemon has no txindex.
    pub(super) async fn transaction_get(&self, txid: Txid, verbose: bool) -> Outcome {
        let first = self.raw_transaction(txid, None, verbose).await;
        match first {
            Ok(v) => Ok(v),
            // Not in the mempool and the daemon has no txindex: if we know the block, ask
            // in it (then Core adds `in_active_chain`, which a txindex answer lacks).
            Err(e) if e.is_not_found() => {
                let Some(height) = self.blocking(move |b| b.tx_height(&txid)).await?? else {
                    return Err(e.into());
                };
                let Some(block) = self.blocking(move |b| b.block_hash(height)).await?? else {
                    return Err(e.into());
                };
                let second = self.raw_transaction(txid, Some(block), verbose).await;
                second
                    .map(|mut v| {
                        if let Some(o) = v.as_object_mut() {
                            o.shift_remove("in_active_chain");
                        }
                        v
                    })
                    .map_err(|_| e.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The daemon's transaction: hex, or its verbose object.
    async fn raw_transaction(
        &self,
        txid: Txid,
        block: Option<bitcoin::BlockHash>,
        verbose: bool,
    ) -> Result<Value, daemon::Error> {
        if verbose {
            self.backend.raw_transaction_verbose(txid, block).await
        } else {
            let raw = self.backend.raw_transaction(txid, block).await?;
            Ok(json!(raw.to_lower_hex_string()))
        }
    }

    /// `blockchain.transaction.get_merkle(tx_hash, height)`. At 1.7, ElectrumX 2.0 reads the
    /// block's header first: above the tip its error is `height … out of range`.
    pub(super) async fn transaction_merkle(&self, txid: Txid, height: &PyInt) -> Outcome {
        let tip = self.db_height();
        if self.session.with_protocol(|v| v.at_least(&[1, 7]))
            && height.to_u32().is_none_or(|h| h > tip)
        {
            return Err(bad(format!("height {} out of range", height.grouped())));
        }
        let txids = self.block_txids(height).await?;
        let Some(pos) = txids.iter().position(|t| *t == txid) else {
            return Err(bad(format!(
                "tx {txid} not in block at height {}",
                height.grouped()
            )));
        };
        let branch = self.branch(height, &txids, pos)?;
        Ok(json!({"block_height": height.to_value(), "merkle": branch, "pos": pos}))
    }

    /// `blockchain.transaction.id_from_pos(height, tx_pos, merkle=False)`.
    pub(super) async fn id_from_pos(
        &self,
        height: &PyInt,
        tx_pos: &PyInt,
        merkle: bool,
    ) -> Outcome {
        let txids = self.block_txids(height).await?;
        let pos = tx_pos.to_u64().and_then(|p| usize::try_from(p).ok());
        let Some((pos, txid)) = pos.and_then(|p| txids.get(p).map(|t| (p, t))) else {
            return Err(bad(format!(
                "no tx at position {} in block at height {}",
                tx_pos.grouped(),
                height.grouped()
            )));
        };
        if merkle {
            let branch = self.branch(height, &txids, pos)?;
            Ok(json!({"tx_hash": txid.to_string(), "merkle": branch}))
        } else {
            Ok(json!(txid.to_string()))
        }
    }

    /// Txids of the block at `height`, with ElectrumX's error above the tip.
    async fn block_txids(&self, height: &PyInt) -> Result<Arc<Vec<Txid>>, CallFailure> {
        let tip = self.db_height();
        let too_high = || {
            bad(format!(
                "db error: DBError('block {} not on disk (>{})')",
                height.grouped(),
                thousands(tip)
            ))
        };
        let Some(h) = height.to_u32() else {
            return Err(too_high());
        };
        if h == 0 {
            // The genesis coinbase is not a transaction (bitcoind will not serve it, and
            // its output is unspendable); as in ElectrumX's index, height 0 holds none.
            self.bump(0.25);
            return Ok(Arc::new(Vec::new()));
        }
        let txids = self
            .blocking(move |b| b.block_txids(h))
            .await??
            .ok_or_else(too_high)?;
        self.bump(0.25 + txids.len() as f64 * 0.0001);
        Ok(txids)
    }

    /// The merkle branch of `txids[pos]`, in hex, with its cost.
    fn branch(
        &self,
        height: &PyInt,
        txids: &Arc<Vec<Txid>>,
        pos: usize,
    ) -> Result<Vec<String>, CallFailure> {
        // `block_txids` found the block: its height is a u32.
        let height = height.to_u32().unwrap_or_default();
        let branch = self.backend.tx_branch(height, txids, pos).map_err(bad)?;
        self.bump(txids.len() as f64 / 2500.0);
        Ok(branch.iter().map(hex_hash).collect())
    }
}

/// A warning to Electrum clients older than 3.3.3 (vulnerable to phishing servers), returned
/// instead of the txid of a successful broadcast, as ElectrumX does (in our words).
fn old_client_warning(client: &str) -> Option<&'static str> {
    let v = version::protocol_tuple(client);
    if v != ProtocolVersion::new(&[0]) && v < ProtocolVersion::new(&[3, 3, 3]) {
        Some(
            "<br/><br/>The transaction was broadcast.<br/><br/>This version of Electrum has \
             known vulnerabilities: please upgrade it from https://electrum.org/<br/><br/>",
        )
    } else {
        None
    }
}
