//! The daemon's mempool, per script hash, and the fee histogram: ElectrumX 1.20's
//! `server/mempool.py`, reimplemented.
//!
//! [`Mempool`] is shared as `Arc<Mempool>`. One task ([`Mempool::run`]) polls the daemon
//! and keeps it in step; the Electrum sessions query it ([`Mempool::summaries`],
//! [`Mempool::balance_delta`], [`Mempool::utxos`], [`Mempool::potential_spends`],
//! [`Mempool::fee_histogram`], [`Mempool::spender_for_txo`]), each query holding a read
//! lock for microseconds.
//!
//! What ElectrumX does, and so FerrumX:
//! - A refresh takes the daemon's height before and after `getrawmempool` and goes on only
//!   when both agree and equal the index's flushed height; otherwise the index is "not
//!   synced" (ElectrumX's `DBSyncError`) and the caller tries again later. Script hashes
//!   touched meanwhile are kept and reported by the next successful refresh.
//! - Transactions that left are dropped; only new ones are fetched. Each input is resolved
//!   from the confirmed UTXO set (the index) or from a mempool parent; a transaction whose
//!   parent is missing is deferred until a pass accepts nothing more, then dropped (logged
//!   as `N txs dropped`) and fetched again on the next refresh.
//! - Per transaction: prevouts, (hashX, value) of inputs and outputs, fee
//!   (`max(0, in − out)`) and vsize. Every output counts, `OP_RETURN` ones included, and so
//!   does every spent input's script hash.
//! - `has_unconfirmed_inputs` is decided at query time: some input spends a transaction that
//!   is in the mempool now.
//! - The fee histogram ([`histogram`]) is recomputed after a successful refresh at most every
//!   [`HISTOGRAM_REFRESH`] (Bitcoin's `MEMPOOL_HISTOGRAM_REFRESH_SECS`) and cached.
//! - Logs: "beginning processing of daemon mempool", "synced in …s", then every
//!   [`LOG_STATUS_INTERVAL`] "N txs X.XX MB touching K addresses".
//!
//! Deliberate differences:
//! - New transactions are accepted once all batches are fetched (ElectrumX accepts each
//!   batch as it arrives and finishes the deferred ones at the end); the accepted set is the
//!   same. If the index moves during a refresh, FerrumX inserts nothing new (ElectrumX may
//!   have inserted some batches already); the removals already made are kept and their
//!   script hashes reported by the next successful refresh.
//! - Prevouts are looked up in one index snapshot per batch, and that snapshot's height is
//!   checked too (ElectrumX reads the UTXO DB without a snapshot).
//! - A raw transaction that does not parse is skipped with a warning (ElectrumX's task
//!   would die on the exception). Daemon errors other than "not found" fail the refresh,
//!   retried next round (ElectrumX replaces every per-transaction error by "missing").
//! - [`Mempool::utxos`] is sorted (txid in displayed order, then output index); ElectrumX's
//!   `unordered_UTXOs` iterates a Python `set` of tx hashes, an order that changes from run
//!   to run (hash randomisation), with each transaction's outputs in index order.
//!
//! Layout, each file using only files further down this list:
//! - `mod.rs`: [`Mempool`], the shared handle (the poll loop, the queries);
//! - `refresh`: one refresh against the daemon, and the script hashes it touched;
//! - `state`: the transactions held, their per-script-hash maps and the mempool spender of
//!   each outpoint they spend (ElectrumX 2.0's `txo_to_spender`);
//! - `types`: the values queries return and [`RefreshError`];
//! - `outpoints`: an outpoint's status with the mempool overlaid ([`TxoStatus`], ElectrumX
//!   2.0's `_calc_txoutpoint_status`) and the mempool's part ([`MempoolTxo`]);
//! - [`histogram`]: the fee histogram's compaction (uses nothing).

pub mod histogram;
mod outpoints;
mod refresh;
mod state;
mod types;

use std::collections::HashSet;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use bitcoin::{OutPoint, Txid};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::daemon::{self, Daemon};
use crate::index::{HashX, IndexReader};

pub use outpoints::{MempoolTxo, TxoStatus};
pub use refresh::{FETCH_BATCH, FETCH_CONCURRENCY};
pub use types::{MempoolStats, MempoolUtxo, RecentTx, RefreshError, TxSummary};

use refresh::Touched;
use state::State;

/// Bitcoin's `MEMPOOL_HISTOGRAM_REFRESH_SECS` in ElectrumX: the fee histogram is recomputed
/// at most this often.
pub const HISTOGRAM_REFRESH: Duration = Duration::from_secs(120);

/// ElectrumX's `log_status_secs`: how often the mempool's size is logged.
pub const LOG_STATUS_INTERVAL: Duration = Duration::from_secs(60);

/// The daemon's mempool, as the Electrum methods need it. See the module docs.
#[derive(Default)]
pub struct Mempool {
    /// Shared with the blocking threads of a refresh or a histogram update.
    state: Arc<RwLock<State>>,
    histogram: RwLock<Arc<Vec<(f64, u64)>>>,
    /// Touched since the last successful refresh.
    touched: Touched,
    /// Refreshes run one at a time (only they write the state).
    refreshing: tokio::sync::Mutex<()>,
    /// Notified to refresh at once (a new block, a ZMQ transaction notification).
    wake: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Mempool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mempool")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Mempool {
    /// An empty mempool.
    pub fn new() -> Mempool {
        Mempool::default()
    }

    /// Makes [`Mempool::run`] refresh now instead of at its next interval (after a new
    /// block, so that notifications need not wait for the poll).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The notifier behind [`Mempool::wake`], for other wakers (ZMQ).
    pub fn waker(&self) -> Arc<tokio::sync::Notify> {
        self.wake.clone()
    }

    /// One refresh against the daemon (see the module docs). Returns the script-hash keys
    /// touched since the previous successful refresh: those of every transaction added or
    /// removed since.
    ///
    /// # Errors
    /// [`RefreshError::IndexNotSynced`] when the index is not at the daemon's height (the
    /// touched set is kept for the next call); daemon and index failures.
    pub async fn refresh(
        &self,
        daemon: &Daemon,
        index: &IndexReader,
    ) -> Result<HashSet<HashX>, RefreshError> {
        self.refresh_at(daemon, index).await.map(|(t, _, _)| t)
    }

    /// See [`Mempool::refresh`]; also returns the outpoints touched since the previous
    /// successful refresh (the prevouts and outputs of every transaction added or removed
    /// since: ElectrumX 2.0's `touched_outpoints`) and the daemon height the mempool was
    /// taken at.
    async fn refresh_at(
        &self,
        daemon: &Daemon,
        index: &IndexReader,
    ) -> Result<(HashSet<HashX>, HashSet<OutPoint>, u32), RefreshError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let height = refresh::refresh(&self.state, &self.touched, daemon, index).await?;
        let outpoints = self
            .state
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take_touched_outpoints();
        Ok((self.touched.take(), outpoints, height))
    }

    /// Keeps the mempool in step until `shutdown`: a refresh every `interval` (ElectrumX's
    /// `DAEMON_POLL_INTERVAL_MEMPOOL`), `on_touched(touched, outpoints, daemon_height)`
    /// after each successful one (with empty sets too: the mempool is then synchronized at
    /// that height; `outpoints` as [`Mempool::refresh_at`] gives them), the fee histogram recomputed at most every [`HISTOGRAM_REFRESH`], sizes
    /// logged every [`LOG_STATUS_INTERVAL`]. Failed refreshes are retried next round; the
    /// first of a run of failures is logged at warn, the rest at debug.
    pub async fn run(
        self: Arc<Self>,
        daemon: Daemon,
        index: IndexReader,
        interval: Duration,
        shutdown: CancellationToken,
        mut on_touched: impl FnMut(HashSet<HashX>, HashSet<OutPoint>, u32) + Send + 'static,
    ) {
        info!("beginning processing of daemon mempool.  This can take some time...");
        let start = Instant::now();
        let mut synced = false;
        let mut failing = false;
        let mut last_histogram: Option<Instant> = None;
        let mut last_status: Option<Instant> = None;
        loop {
            let result = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = self.refresh_at(&daemon, &index) => r,
            };
            match result {
                Ok((touched, outpoints, height)) => {
                    if failing {
                        info!("mempool refreshes work again");
                        failing = false;
                    }
                    if !synced {
                        info!("synced in {:.2}s", start.elapsed().as_secs_f64());
                        synced = true;
                    }
                    on_touched(touched, outpoints, height);
                    if last_histogram.is_none_or(|t| t.elapsed() >= HISTOGRAM_REFRESH) {
                        let compact = tokio::select! {
                            _ = shutdown.cancelled() => break,
                            c = self.update_fee_histogram() => c,
                        };
                        info!("compact fee histogram: {compact:?}");
                        last_histogram = Some(Instant::now());
                    }
                    if last_status.is_none_or(|t| t.elapsed() >= LOG_STATUS_INTERVAL) {
                        let s = self.stats();
                        info!(
                            "{} txs {:.2} MB touching {} addresses",
                            crate::py::thousands(s.txs as u64),
                            s.vbytes as f64 / 1_000_000.0,
                            crate::py::thousands(s.hashxs as u64)
                        );
                        last_status = Some(Instant::now());
                    }
                }
                Err(RefreshError::IndexNotSynced { index, daemon }) => {
                    debug!(?index, daemon, "waiting for DB to sync");
                }
                Err(RefreshError::Daemon(daemon::Error::Shutdown)) => break,
                Err(e) if !failing => {
                    warn!(error = %e, "mempool refresh failed; retrying every {interval:?}");
                    failing = true;
                }
                Err(e) => debug!(error = %e, "mempool refresh failed again"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(interval) => {}
                _ = self.wake.notified() => {}
            }
        }
        debug!("mempool task stopped");
    }

    /// Recomputes the compact fee histogram (on a blocking thread), caches it for
    /// [`Mempool::fee_histogram`] and returns it. [`Mempool::run`] calls it on its schedule.
    pub async fn update_fee_histogram(&self) -> Vec<(f64, u64)> {
        let state = Arc::clone(&self.state);
        let computed = tokio::task::spawn_blocking(move || {
            let pairs = state
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .fees_and_sizes();
            histogram::compact_histogram(pairs, histogram::BIN_SIZE)
        })
        .await;
        match computed {
            Ok(compact) => {
                *self.histogram.write().unwrap_or_else(|e| e.into_inner()) =
                    Arc::new(compact.clone());
                compact
            }
            Err(e) => {
                warn!(error = %e, "fee histogram computation failed");
                self.fee_histogram()
            }
        }
    }

    /// ElectrumX's `transaction_summaries`: the mempool transactions touching `x`, sorted by
    /// (has unconfirmed inputs, txid in displayed byte order), as the protocol wants them.
    pub fn summaries(&self, x: &HashX) -> Vec<TxSummary> {
        self.read().summaries(x)
    }

    /// ElectrumX's `balance_delta`: what the mempool pays to `x` minus what it spends from
    /// it (satoshis; may be negative).
    pub fn balance_delta(&self, x: &HashX) -> i64 {
        self.read().balance_delta(x)
    }

    /// ElectrumX's `unordered_UTXOs`: every mempool output paying `x`, whether or not another
    /// mempool transaction spends it (the caller filters with
    /// [`Mempool::potential_spends`]). Sorted by txid in displayed byte order, then output
    /// index; ElectrumX's order is arbitrary (see the module docs).
    pub fn utxos(&self, x: &HashX) -> Vec<MempoolUtxo> {
        self.read().utxos(x)
    }

    /// ElectrumX's `potential_spends`: every outpoint spent by a mempool transaction
    /// touching `x`; includes every mempool spend of `x`'s outputs.
    pub fn potential_spends(&self, x: &HashX) -> HashSet<OutPoint> {
        self.read().potential_spends(x)
    }

    /// ElectrumX 2.0's `get_recently_added_txs` (`mempool.recent`): the last `count`
    /// transactions to enter the mempool that are still in it, the newest first. Among
    /// transactions first seen in the same refresh, the order is that of their acceptance
    /// (parents before children).
    pub fn recent(&self, count: usize) -> Vec<RecentTx> {
        self.read().recent(count)
    }

    /// ElectrumX 2.0's `spender_for_txo`: what the mempool alone says of `op` (see
    /// [`MempoolTxo`]).
    pub fn spender_for_txo(&self, op: &OutPoint) -> MempoolTxo {
        self.read().spender_for_txo(op)
    }

    /// The cached compact fee histogram (`mempool.get_fee_histogram`): `(fee rate in sat/vB,
    /// vsize)` pairs from the highest rate down; empty before the first computation.
    pub fn fee_histogram(&self) -> Vec<(f64, u64)> {
        self.histogram
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .clone()
    }

    /// Transactions, vbytes and script-hash keys held.
    pub fn stats(&self) -> MempoolStats {
        let s = self.read();
        MempoolStats {
            txs: s.txs.len(),
            vbytes: s.vbytes,
            hashxs: s.by_hashx.len(),
        }
    }

    /// Whether `txid` is held.
    pub fn contains(&self, txid: &Txid) -> bool {
        self.read().txs.contains_key(txid)
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        // Writers replace whole entries between consistent points; a panic elsewhere leaves
        // nothing half-made that a reader could trip on.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }
}
