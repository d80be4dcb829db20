//! The narrow interface the methods are written against: what they read from the index (and
//! the caches in front of it), from the mempool, and what they ask the daemon — as
//! [`indexer::Chain`](crate::indexer::Chain) is for the block processor. The server's
//! [`ElectrumState`] implements it (here, so that `shared.rs` knows nothing of the methods);
//! unit tests drive the handlers with a fake holding known values.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use bitcoin::block::Header;
use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, OutPoint, Txid};
use serde_json::{json, Value};

use crate::config::Config;
use crate::daemon;
use crate::electrum::history::{Confirmed, HistoryError};
use crate::electrum::merkle;
use crate::electrum::shared::{ElectrumState, FeeKey, FeeSlot, TimedValue};
use crate::index::{HashX, IndexError, OutpointStatus, Utxo};
use crate::mempool::{MempoolTxo, MempoolUtxo, RecentTx, TxSummary};

/// A failed read of the index or of a cache in front of it, as clients are told of it:
/// `db error: {text}`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("db error: {0}")]
pub struct DbError(pub String);

impl From<IndexError> for DbError {
    fn from(e: IndexError) -> DbError {
        DbError(e.to_string())
    }
}

/// The index as the methods read it: the flushed chain, and the caches in front of it.
/// Blocking (RocksDB reads): the methods call these off the async workers.
pub trait IndexReads: Send + Sync + 'static {
    /// Height and hash of the flushed tip (`None` before the first block).
    fn tip(&self) -> Option<(u32, BlockHash)>;
    /// The header at `height` (`None` above the tip).
    fn header(&self, height: u32) -> Result<Option<Header>, DbError>;
    /// Up to `count` headers from `start` (fewer at the tip).
    fn headers(&self, start: u32, count: usize) -> Result<Vec<Header>, DbError>;
    /// The hash of the block at `height` (`None` above the tip).
    fn block_hash(&self, height: u32) -> Result<Option<BlockHash>, DbError>;
    /// The txids of the block at `height`, in block order (`None` above the tip).
    fn block_txids(&self, height: u32) -> Result<Option<Arc<Vec<Txid>>>, DbError>;
    /// The height of the block holding confirmed transaction `txid`, if indexed.
    fn tx_height(&self, txid: &Txid) -> Result<Option<u32>, DbError>;
    /// The confirmed unspent outputs of script hash `sh` (internal byte order).
    fn utxos(&self, sh: &[u8; 32]) -> Result<Vec<Utxo>, DbError>;
    /// The confirmed history of `sh`, and whether it came from the cache (which costs less).
    fn confirmed_history(&self, sh: &[u8; 32]) -> Result<(Arc<Confirmed>, bool), HistoryError>;
    /// The branch and root proving block `index` among the block hashes `0..length`
    /// (ElectrumX's `header_branch_and_root`), hashes in internal byte order.
    fn header_proof(&self, length: u32, index: u32) -> Result<(Vec<[u8; 32]>, [u8; 32]), DbError>;
    /// The confirmed status of `op` from the spender index (`None`: no such output in the
    /// chain).
    fn outpoint_status(&self, op: &OutPoint) -> Result<Option<OutpointStatus>, DbError>;
}

/// The mempool as the methods read it (in memory, never blocking for long).
pub trait MempoolReads: Send + Sync {
    /// The mempool transactions touching `x`, in the canonical order of statuses.
    fn mempool_txs(&self, x: &HashX) -> Vec<TxSummary>;
    /// What the mempool adds to (or takes from) `x`'s confirmed balance, in satoshis.
    fn mempool_balance_delta(&self, x: &HashX) -> i64;
    /// The mempool's outputs paying `x`, in FerrumX's documented order.
    fn mempool_utxos(&self, x: &HashX) -> Vec<MempoolUtxo>;
    /// The outpoints of `x` that mempool transactions spend.
    fn mempool_spends(&self, x: &HashX) -> HashSet<OutPoint>;
    /// The fee histogram: (fee rate, vsize) pairs, compacted as ElectrumX does.
    fn fee_histogram(&self) -> Vec<(f64, u64)>;
    /// The last `count` transactions to enter the mempool, the newest first.
    fn mempool_recent(&self, count: usize) -> Vec<RecentTx>;
    /// What the mempool alone says of `op` (ElectrumX 2.0's `spender_for_txo`).
    fn spender_for_txo(&self, op: &OutPoint) -> MempoolTxo;
}

/// What the methods ask the daemon.
pub trait DaemonCalls: Send + Sync {
    /// `getnetworkinfo` as the daemon wrote it (may be cached for a minute, as ElectrumX does).
    fn network_info(&self) -> impl Future<Output = Result<Value, daemon::Error>> + Send;
    /// `getmempoolinfo` as the daemon wrote it (may be cached for a minute).
    fn mempool_info(&self) -> impl Future<Output = Result<Value, daemon::Error>> + Send;
    /// `estimatesmartfee <target> [<mode>]`'s answer object.
    fn estimate_smart_fee(
        &self,
        target: u32,
        mode: Option<&str>,
    ) -> impl Future<Output = Result<Value, daemon::Error>> + Send;
    /// `sendrawtransaction <hex>`.
    fn broadcast(&self, raw_tx: &str) -> impl Future<Output = Result<Txid, daemon::Error>> + Send;
    /// `submitpackage [<hex>, ...]`'s answer object.
    fn submit_package(
        &self,
        raw_txs: &[String],
    ) -> impl Future<Output = Result<Value, daemon::Error>> + Send;
    /// `testmempoolaccept [<hex>, ...]`'s answer, as the daemon wrote it.
    fn test_mempool_accept(
        &self,
        raw_txs: &[String],
    ) -> impl Future<Output = Result<Value, daemon::Error>> + Send;
    /// `getrawtransaction <txid> false [<block>]`: the transaction's bytes.
    fn raw_transaction(
        &self,
        txid: Txid,
        block: Option<BlockHash>,
    ) -> impl Future<Output = Result<Vec<u8>, daemon::Error>> + Send;
    /// `getrawtransaction <txid> true [<block>]`, as the daemon wrote it.
    fn raw_transaction_verbose(
        &self,
        txid: Txid,
        block: Option<BlockHash>,
    ) -> impl Future<Output = Result<Value, daemon::Error>> + Send;
}

/// Everything a method may use besides its session: the three above, the configuration,
/// and the server-wide state the methods keep.
pub trait Backend: IndexReads + MempoolReads + DaemonCalls {
    /// The settings the methods read (banner files, donation address, services, DROP_CLIENT).
    fn config(&self) -> &Config;
    /// `blockchain.headers.subscribe`'s answer: the tip sessions were last notified of.
    fn notified_tip(&self) -> Value;
    /// The `estimatefee` cache slot of `key`.
    fn fee_slot(&self, key: FeeKey) -> Arc<FeeSlot>;
    /// Counts transactions sent (the admin `getinfo`'s `txs sent`).
    fn count_tx_sent(&self, n: u64);
    /// The merkle branch of `txids[index]` in the block at `height` (internal byte order,
    /// deepest first), as [`merkle::branch_and_root`] computes it; the server answers from
    /// its cache of blocks' split trees ([`merkle::TxMerkleCache`]).
    ///
    /// # Errors
    /// `index` is out of range.
    fn tx_branch(
        &self,
        height: u32,
        txids: &Arc<Vec<Txid>>,
        index: usize,
    ) -> Result<Vec<merkle::Hash32>, String> {
        let _ = height;
        let hashes: Vec<merkle::Hash32> = txids.iter().map(|t| t.to_byte_array()).collect();
        merkle::branch_and_root(&hashes, index).map(|(branch, _)| branch)
    }
}

/// The methods' view of the index: the reader, and the caches in front of it.
impl IndexReads for ElectrumState {
    fn tip(&self) -> Option<(u32, BlockHash)> {
        self.index.tip()
    }

    fn header(&self, height: u32) -> Result<Option<Header>, DbError> {
        Ok(self.index.header(height)?)
    }

    fn headers(&self, start: u32, count: usize) -> Result<Vec<Header>, DbError> {
        Ok(self.index.headers(start, count)?)
    }

    fn block_hash(&self, height: u32) -> Result<Option<BlockHash>, DbError> {
        Ok(self.index.block_hash(height)?)
    }

    /// Cached ([`ElectrumState::block_txids`]).
    fn block_txids(&self, height: u32) -> Result<Option<Arc<Vec<Txid>>>, DbError> {
        Ok(ElectrumState::block_txids(self, height)?)
    }

    fn tx_height(&self, txid: &Txid) -> Result<Option<u32>, DbError> {
        Ok(self.index.tx_position(txid)?.map(|p| p.height))
    }

    fn utxos(&self, sh: &[u8; 32]) -> Result<Vec<Utxo>, DbError> {
        Ok(self.index.utxos(sh)?)
    }

    fn confirmed_history(&self, sh: &[u8; 32]) -> Result<(Arc<Confirmed>, bool), HistoryError> {
        self.histories.get(&self.index, sh)
    }

    fn header_proof(&self, length: u32, index: u32) -> Result<(Vec<[u8; 32]>, [u8; 32]), DbError> {
        self.header_branch_and_root(length, index).map_err(DbError)
    }

    fn outpoint_status(&self, op: &OutPoint) -> Result<Option<OutpointStatus>, DbError> {
        Ok(self.index.outpoint_status(op)?)
    }
}

impl MempoolReads for ElectrumState {
    fn mempool_txs(&self, x: &HashX) -> Vec<TxSummary> {
        self.mempool.summaries(x)
    }

    fn mempool_balance_delta(&self, x: &HashX) -> i64 {
        self.mempool.balance_delta(x)
    }

    fn mempool_utxos(&self, x: &HashX) -> Vec<MempoolUtxo> {
        self.mempool.utxos(x)
    }

    fn mempool_spends(&self, x: &HashX) -> HashSet<OutPoint> {
        self.mempool.potential_spends(x)
    }

    fn fee_histogram(&self) -> Vec<(f64, u64)> {
        self.mempool.fee_histogram()
    }

    fn mempool_recent(&self, count: usize) -> Vec<RecentTx> {
        self.mempool.recent(count)
    }

    fn spender_for_txo(&self, op: &OutPoint) -> MempoolTxo {
        self.mempool.spender_for_txo(op)
    }
}

/// A daemon answer cached a minute in `cache`, else asked with `method`.
async fn cached_json(
    state: &ElectrumState,
    cache: &TimedValue,
    method: &'static str,
) -> Result<Value, daemon::Error> {
    if let Some(v) = cache.get() {
        return Ok(v);
    }
    let v = state.daemon.call_json(method, vec![]).await?;
    cache.set(v.clone());
    Ok(v)
}

impl DaemonCalls for ElectrumState {
    async fn network_info(&self) -> Result<Value, daemon::Error> {
        cached_json(self, &self.network_info, "getnetworkinfo").await
    }

    async fn mempool_info(&self) -> Result<Value, daemon::Error> {
        cached_json(self, &self.mempool_info, "getmempoolinfo").await
    }

    async fn estimate_smart_fee(
        &self,
        target: u32,
        mode: Option<&str>,
    ) -> Result<Value, daemon::Error> {
        let mut params = vec![json!(target)];
        params.extend(mode.map(|m| json!(m)));
        self.daemon.call_json("estimatesmartfee", params).await
    }

    async fn broadcast(&self, raw_tx: &str) -> Result<Txid, daemon::Error> {
        self.daemon.broadcast(raw_tx).await
    }

    async fn submit_package(&self, raw_txs: &[String]) -> Result<Value, daemon::Error> {
        self.daemon.submit_package(raw_txs).await
    }

    async fn test_mempool_accept(&self, raw_txs: &[String]) -> Result<Value, daemon::Error> {
        self.daemon
            .call_json("testmempoolaccept", vec![json!(raw_txs)])
            .await
    }

    async fn raw_transaction(
        &self,
        txid: Txid,
        block: Option<BlockHash>,
    ) -> Result<Vec<u8>, daemon::Error> {
        self.daemon.raw_transaction(txid, block).await
    }

    async fn raw_transaction_verbose(
        &self,
        txid: Txid,
        block: Option<BlockHash>,
    ) -> Result<Value, daemon::Error> {
        self.daemon.raw_transaction_verbose(txid, block).await
    }
}

impl Backend for ElectrumState {
    fn config(&self) -> &Config {
        &self.config
    }

    fn notified_tip(&self) -> Value {
        self.hsub()
    }

    fn fee_slot(&self, key: FeeKey) -> Arc<FeeSlot> {
        ElectrumState::fee_slot(self, key)
    }

    fn count_tx_sent(&self, n: u64) {
        ElectrumState::count_tx_sent(self, n);
    }

    fn tx_branch(
        &self,
        height: u32,
        txids: &Arc<Vec<Txid>>,
        index: usize,
    ) -> Result<Vec<merkle::Hash32>, String> {
        self.tx_merkle.branch(height, txids, index)
    }
}
