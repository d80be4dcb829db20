//! What every session shares: the index, the daemon, the mempool, and the caches the
//! methods use (histories, block txids, header merkle segments, daemon answers), plus the
//! configuration and the counters the admin interface reads. [`ElectrumState`] is the
//! methods' [`Backend`]: the impls at the end of this file are all the methods see of it.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bitcoin::block::Header;
use bitcoin::consensus::serialize;
use bitcoin::hashes::Hash;
use bitcoin::hex::DisplayHex;
use bitcoin::{BlockHash, OutPoint, Txid};
use lru::LruCache;
use serde_json::{json, Value};

use super::history::{Confirmed, HistoryCache, HistoryError};
use super::merkle::{BlockHashSource, HeaderMerkleCache};
use super::methods::backend::{
    Backend, DaemonCalls, DbError, FeeKey, FeeSlot, IndexReads, MempoolReads,
};
use crate::config::Config;
use crate::daemon::{self, Daemon};
use crate::index::{HashX, IndexReader, Utxo};
use crate::mempool::{Mempool, MempoolUtxo, TxSummary};

/// The server's name and version, as `server.version` and `server.features` give it.
pub const SERVER_VERSION: &str = concat!("FerrumX ", env!("CARGO_PKG_VERSION"));
/// Just the version (`$SERVER_VERSION` in banners).
pub const SERVER_VERSION_SHORT: &str = env!("CARGO_PKG_VERSION");

/// A cached daemon answer, good for a minute (as ElectrumX caches `getnetworkinfo` and
/// `getmempoolinfo`).
#[derive(Default)]
pub struct TimedValue(Mutex<Option<(Instant, Value)>>);

impl TimedValue {
    const TTL: Duration = Duration::from_secs(60);

    pub fn get(&self) -> Option<Value> {
        let guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .filter(|(at, _)| at.elapsed() < Self::TTL)
            .map(|(_, v)| v.clone())
    }

    pub fn set(&self, v: Value) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), v));
    }
}

/// Slots of the per-method request counts in [`Counters`]: one per method of the method
/// table and one for requests of no method served (`methods::Method::count_request` maps
/// them), with room to spare.
pub const METHOD_SLOTS: usize = 64;

/// Counters for the admin interface.
#[derive(Debug)]
pub struct Counters {
    pub txs_sent: AtomicU64,
    /// Requests by method (ElectrumX's `request counts`), one slot per method, counted
    /// without a lock.
    methods: [AtomicU64; METHOD_SLOTS],
    /// Lookups and hits of the block-txids cache.
    pub txids_lookups: AtomicU64,
    pub txids_hits: AtomicU64,
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            txs_sent: AtomicU64::new(0),
            methods: std::array::from_fn(|_| AtomicU64::new(0)),
            txids_lookups: AtomicU64::new(0),
            txids_hits: AtomicU64::new(0),
        }
    }
}

impl Counters {
    /// Counts one request in method slot `slot` (below [`METHOD_SLOTS`]; others are not
    /// counted).
    pub fn count_request(&self, slot: usize) {
        if let Some(n) = self.methods.get(slot) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The requests counted in method slot `slot`.
    pub fn requests_in(&self, slot: usize) -> u64 {
        self.methods
            .get(slot)
            .map_or(0, |n| n.load(Ordering::Relaxed))
    }
}

/// Block hashes from the index, for header proofs.
struct IndexHashes<'a>(&'a IndexReader);

impl BlockHashSource for IndexHashes<'_> {
    fn block_hashes(&self, start: u32, count: u32) -> Result<Vec<[u8; 32]>, String> {
        let headers = self
            .0
            .headers(start, count as usize)
            .map_err(|e| e.to_string())?;
        if headers.len() != count as usize {
            return Err(format!(
                "only got {} headers starting at {start}, not {count}",
                headers.len()
            ));
        }
        Ok(headers
            .iter()
            .map(|h| h.block_hash().to_byte_array())
            .collect())
    }
}

/// A block's txids, with the block they were read for.
type BlockTxids = (BlockHash, Arc<Vec<Txid>>);

/// The shared state of all sessions (not to be confused with the index's own shared state).
pub struct ElectrumState {
    /// The server's configuration (the settings the methods and sessions read).
    pub config: Arc<Config>,
    pub index: IndexReader,
    pub daemon: Daemon,
    pub mempool: Arc<Mempool>,
    pub histories: HistoryCache,
    pub header_merkle: HeaderMerkleCache,
    block_txids: Mutex<LruCache<u32, BlockTxids>>,
    /// `blockchain.headers.subscribe`'s answer for the notified tip.
    hsub: RwLock<Value>,
    network_info: TimedValue,
    mempool_info: TimedValue,
    /// `estimatefee` answers by (target, mode), good while the tip is the given block.
    fee_estimates: Mutex<HashMap<FeeKey, Arc<FeeSlot>>>,
    pub counters: Counters,
}

/// Blocks whose txids are cached (ElectrumX keeps 1,000).
const BLOCK_TXIDS_CACHED: usize = 1_000;

impl ElectrumState {
    pub fn new(
        config: Arc<Config>,
        index: IndexReader,
        daemon: Daemon,
        mempool: Arc<Mempool>,
    ) -> ElectrumState {
        let histories = HistoryCache::new(config.max_send);
        let shared = ElectrumState {
            config,
            index,
            daemon,
            mempool,
            histories,
            header_merkle: HeaderMerkleCache::new(),
            block_txids: Mutex::new(LruCache::new(
                NonZeroUsize::new(BLOCK_TXIDS_CACHED).unwrap_or(NonZeroUsize::MIN),
            )),
            hsub: RwLock::new(Value::Null),
            network_info: TimedValue::default(),
            mempool_info: TimedValue::default(),
            fee_estimates: Mutex::new(HashMap::new()),
            counters: Counters::default(),
        };
        shared.refresh_hsub();
        shared
    }

    /// Sets the header-subscription answer to the index's flushed tip; returns it.
    pub fn refresh_hsub(&self) -> Value {
        let v = match self.index.tip() {
            Some((height, _)) => match self.index.header(height) {
                Ok(Some(h)) => {
                    json!({"hex": serialize(&h).to_lower_hex_string(), "height": height})
                }
                _ => Value::Null,
            },
            None => Value::Null,
        };
        *self.hsub.write().unwrap_or_else(|e| e.into_inner()) = v.clone();
        v
    }

    /// Blocks whose txids are cached now.
    pub fn block_txids_cached(&self) -> usize {
        self.block_txids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Fills the header-proof cache for the whole chain (at start-up, as ElectrumX does), so
    /// the first `cp_height` request does not read every header.
    ///
    /// # Errors
    /// Reading headers failed.
    pub fn prefill_header_merkle(&self) -> Result<(), String> {
        match self.index.tip() {
            Some((height, _)) => self
                .header_merkle
                .prefill(&IndexHashes(&self.index), height + 1),
            None => Ok(()),
        }
    }

    /// After a reorg to `fork`: drop what described the removed blocks.
    pub fn on_reorg(&self, fork: u32) {
        self.header_merkle.truncate(fork + 1);
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

    /// Cached; a cached entry is used only while that block is still the chain's at
    /// `height`.
    fn block_txids(&self, height: u32) -> Result<Option<Arc<Vec<Txid>>>, DbError> {
        let Some(hash) = self.index.block_hash(height)? else {
            return Ok(None);
        };
        self.counters.txids_lookups.fetch_add(1, Ordering::Relaxed);
        {
            let mut cache = self.block_txids.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((h, txids)) = cache.get(&height) {
                if *h == hash {
                    self.counters.txids_hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(Some(txids.clone()));
                }
            }
        }
        let Some(txids) = self.index.block_txids(height)? else {
            return Ok(None);
        };
        // The block may have been replaced between the two reads: cache only if not.
        let txids = Arc::new(txids);
        if self.index.block_hash(height)? == Some(hash) {
            self.block_txids
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .put(height, (hash, txids.clone()));
        }
        Ok(Some(txids))
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
        self.header_merkle
            .branch_and_root(&IndexHashes(&self.index), length, index)
            .map_err(DbError)
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
}

impl ElectrumState {
    /// A daemon answer cached a minute in `cache`, else asked with `method`.
    async fn cached_json(
        &self,
        cache: &TimedValue,
        method: &'static str,
    ) -> Result<Value, daemon::Error> {
        if let Some(v) = cache.get() {
            return Ok(v);
        }
        let v = self.daemon.call_json(method, vec![]).await?;
        cache.set(v.clone());
        Ok(v)
    }
}

impl DaemonCalls for ElectrumState {
    async fn network_info(&self) -> Result<Value, daemon::Error> {
        self.cached_json(&self.network_info, "getnetworkinfo").await
    }

    async fn mempool_info(&self) -> Result<Value, daemon::Error> {
        self.cached_json(&self.mempool_info, "getmempoolinfo").await
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
        self.hsub.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn fee_slot(&self, key: FeeKey) -> Arc<FeeSlot> {
        self.fee_estimates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .clone()
    }

    fn count_tx_sent(&self, n: u64) {
        self.counters.txs_sent.fetch_add(n, Ordering::Relaxed);
    }
}
