//! What every session shares: the index, the daemon, the mempool, and the caches the
//! methods use (histories, block txids, header merkle segments, daemon answers), plus the
//! configuration and the counters the admin interface reads. The methods see it through
//! their narrow interface, [`Backend`](super::methods::Backend) (implemented beside it, in
//! `methods/backend.rs`).

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bitcoin::consensus::serialize;
use bitcoin::hashes::Hash;
use bitcoin::hex::DisplayHex;
use bitcoin::{BlockHash, Txid};
use lru::LruCache;
use serde_json::{json, Value};

use super::history::HistoryCache;
use super::merkle::{BlockHashSource, HeaderMerkleCache, TxMerkleCache};
use crate::config::Config;
use crate::daemon::Daemon;
use crate::index::{IndexError, IndexReader};
use crate::mempool::Mempool;

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
/// An `estimatefee` cache key: (bucketed target, mode). Bucketing bounds the keys (about
/// 60 targets × 3 modes).
pub type FeeKey = (u64, Option<&'static str>);
/// One key's cached estimate and the block it is good for; its lock is held across the
/// daemon call, so each key asks the daemon once per block however many sessions ask,
/// while other keys go on.
pub type FeeSlot = tokio::sync::Mutex<Option<(BlockHash, Value)>>;

/// The shared state of all sessions (not to be confused with the index's own shared state).
pub struct ElectrumState {
    /// The server's configuration (the settings the methods and sessions read).
    pub config: Arc<Config>,
    pub index: IndexReader,
    pub daemon: Daemon,
    pub mempool: Arc<Mempool>,
    pub histories: HistoryCache,
    pub header_merkle: HeaderMerkleCache,
    /// Blocks' merkle trees split at 32 leaves (transaction branches).
    pub tx_merkle: TxMerkleCache,
    block_txids: Mutex<LruCache<u32, BlockTxids>>,
    /// `blockchain.headers.subscribe`'s answer for the notified tip.
    hsub: RwLock<Value>,
    /// `getnetworkinfo` and `getmempoolinfo`, cached a minute (as ElectrumX caches them).
    pub network_info: TimedValue,
    pub mempool_info: TimedValue,
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
            tx_merkle: TxMerkleCache::default(),
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

    /// `blockchain.headers.subscribe`'s answer: the `{"hex", "height"}` of the notified tip.
    pub fn hsub(&self) -> Value {
        self.hsub.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Txids of the block at `height`, in block order (cached; a cached entry is used only
    /// while that block is still the chain's at `height`). `None` above the tip.
    ///
    /// # Errors
    /// Reading the index failed.
    pub fn block_txids(&self, height: u32) -> Result<Option<Arc<Vec<Txid>>>, IndexError> {
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

    /// Blocks whose txids are cached now.
    pub fn block_txids_cached(&self) -> usize {
        self.block_txids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// The branch and root proving block `index` among blocks `0..length`.
    ///
    /// # Errors
    /// Reading headers failed.
    pub fn header_branch_and_root(
        &self,
        length: u32,
        index: u32,
    ) -> Result<(Vec<[u8; 32]>, [u8; 32]), String> {
        self.header_merkle
            .branch_and_root(&IndexHashes(&self.index), length, index)
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
        // Histories lost entries: none of the cached ones may be extended (history.rs).
        self.histories.clear();
    }

    /// The `estimatefee` cache slot of `key`.
    pub fn fee_slot(&self, key: FeeKey) -> Arc<FeeSlot> {
        self.fee_estimates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .clone()
    }

    pub fn count_tx_sent(&self, n: u64) {
        self.counters.txs_sent.fetch_add(n, Ordering::Relaxed);
    }
}
