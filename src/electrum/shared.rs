//! What every session shares: the index, the daemon, the mempool, and the caches the
//! methods use (histories, block txids, header merkle segments, daemon answers), plus the
//! settings the methods need.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bitcoin::consensus::serialize;
use bitcoin::hashes::Hash;
use bitcoin::hex::DisplayHex;
use bitcoin::{BlockHash, Txid};
use lru::LruCache;
use serde_json::{json, Value};

use super::cost::Limits;
use super::history::HistoryCache;
use super::merkle::{BlockHashSource, HeaderMerkleCache};
use crate::config::{ClientFilter, Config};
use crate::config::{Service, ServiceHost};
use crate::daemon::Daemon;
use crate::index::IndexReader;
use crate::mempool::Mempool;

/// The server's name and version, as `server.version` and `server.features` give it.
pub const SERVER_VERSION: &str = concat!("FerrumX ", env!("CARGO_PKG_VERSION"));
/// Just the version (`$SERVER_VERSION` in banners).
pub const SERVER_VERSION_SHORT: &str = env!("CARGO_PKG_VERSION");

/// The settings the methods read (from [`Config`]).
#[derive(Clone, Debug)]
pub struct Settings {
    pub max_send: usize,
    pub max_recv: usize,
    pub donation_address: String,
    pub banner_file: Option<PathBuf>,
    pub tor_banner_file: Option<PathBuf>,
    pub report_services: Vec<Service>,
    pub drop_client: Option<ClientFilter>,
    pub drop_client_unknown: bool,
    pub genesis_hash: BlockHash,
    pub initial_concurrent: usize,
    pub request_timeout: Duration,
    pub session_timeout: Duration,
    pub send_timeout: Duration,
    pub anon_logs: bool,
    /// MAX_SESSIONS: listeners pause at this many sessions.
    pub max_sessions: usize,
    pub cost_soft_limit: u64,
    pub cost_hard_limit: u64,
    pub request_sleep: Duration,
    pub bandwidth_unit_cost: u64,
    pub session_group_by_subnet_ipv4: u8,
    pub session_group_by_subnet_ipv6: u8,
    /// SESSION_GROUP_PRIVATE (FerrumX): private addresses get subnet groups too.
    pub session_group_private: bool,
    /// LOG_SESSIONS; `None` when 0.
    pub log_sessions: Option<Duration>,
    /// TOR_PROXY_HOST when TOR_PROXY_PORT is set: connections from it are Tor's.
    pub tor_proxy: Option<String>,
}

impl Settings {
    pub fn from_config(config: &Config) -> Settings {
        let network = config.net.bitcoin_network();
        Settings {
            max_send: config.max_send,
            max_recv: config.max_recv,
            donation_address: config.donation_address.clone(),
            banner_file: config.banner_file.clone(),
            tor_banner_file: config.tor_banner_file.clone(),
            report_services: config.report_services.clone(),
            drop_client: config.drop_client.clone(),
            drop_client_unknown: config.drop_client_unknown,
            genesis_hash: bitcoin::constants::genesis_block(network).block_hash(),
            initial_concurrent: config.initial_concurrent,
            request_timeout: config.request_timeout,
            session_timeout: config.session_timeout,
            send_timeout: config.send_timeout,
            anon_logs: config.anon_logs,
            max_sessions: config.max_sessions,
            cost_soft_limit: config.cost_soft_limit,
            cost_hard_limit: config.cost_hard_limit,
            request_sleep: config.request_sleep,
            bandwidth_unit_cost: config.bandwidth_unit_cost,
            session_group_by_subnet_ipv4: config.session_group_by_subnet_ipv4,
            session_group_by_subnet_ipv6: config.session_group_by_subnet_ipv6,
            session_group_private: config.session_group_private,
            log_sessions: config.log_sessions,
            tor_proxy: config.tor_proxy_port.map(|_| config.tor_proxy_host.clone()),
        }
    }

    /// The throttling settings.
    pub fn limits(&self) -> Limits {
        Limits {
            soft: self.cost_soft_limit as f64,
            hard: self.cost_hard_limit as f64,
            initial_concurrent: self.initial_concurrent,
            request_sleep: self.request_sleep,
            bandwidth_unit_cost: self.bandwidth_unit_cost.max(1),
        }
    }

    /// `server.features`' `hosts`: per reported host, its ports by protocol (ElectrumX's
    /// shape: `{"host": {"tcp_port": 50001, "ssl_port": 50002}}`).
    pub fn features_hosts(&self) -> Value {
        let mut hosts = serde_json::Map::new();
        for s in &self.report_services {
            let host = match &s.host {
                ServiceHost::Ip(ip) => ip.to_string(),
                other => other.to_string(),
            };
            let entry = hosts
                .entry(host)
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if let Value::Object(ports) = entry {
                ports.insert(format!("{}_port", s.protocol), json!(s.port));
            }
        }
        Value::Object(hosts)
    }
}

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

/// Counters for the admin interface.
#[derive(Debug, Default)]
pub struct Counters {
    pub txs_sent: AtomicU64,
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    /// Requests by method (ElectrumX's `request counts`: a method this server does not serve
    /// at the session's version counts as `invalid method`).
    methods: Mutex<BTreeMap<&'static str, u64>>,
    /// Lookups and hits of the block-txids cache.
    pub txids_lookups: AtomicU64,
    pub txids_hits: AtomicU64,
}

impl Counters {
    /// Counts one request of `method` (its canonical name).
    pub fn count_method(&self, method: &'static str) {
        *self
            .methods
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(method)
            .or_insert(0) += 1;
    }

    /// Requests by method, in name order.
    pub fn method_counts(&self) -> Vec<(&'static str, u64)> {
        self.methods
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect()
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
pub type FeeKey = (u64, Option<String>);
/// One key's cached estimate and the block it is good for; its lock is held across the
/// daemon call, so each key asks the daemon once per block however many sessions ask,
/// while other keys go on.
pub type FeeSlot = tokio::sync::Mutex<Option<(BlockHash, Value)>>;

/// The shared state of all sessions.
pub struct Shared {
    pub settings: Settings,
    pub index: IndexReader,
    pub daemon: Daemon,
    pub mempool: Arc<Mempool>,
    pub histories: HistoryCache,
    pub header_merkle: HeaderMerkleCache,
    block_txids: Mutex<LruCache<u32, BlockTxids>>,
    /// `blockchain.headers.subscribe`'s answer for the notified tip.
    hsub: RwLock<Value>,
    pub network_info: TimedValue,
    pub mempool_info: TimedValue,
    /// `estimatefee` answers by (target, mode), good while the tip is the given block.
    fee_estimates: Mutex<HashMap<FeeKey, Arc<FeeSlot>>>,
    pub counters: Counters,
}

/// Blocks whose txids are cached (ElectrumX keeps 1,000).
const BLOCK_TXIDS_CACHED: usize = 1_000;

impl Shared {
    pub fn new(
        settings: Settings,
        index: IndexReader,
        daemon: Daemon,
        mempool: Arc<Mempool>,
    ) -> Shared {
        let histories = HistoryCache::new(settings.max_send);
        let shared = Shared {
            settings,
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

    /// The `{"hex", "height"}` of the notified tip.
    pub fn hsub(&self) -> Value {
        self.hsub.read().unwrap_or_else(|e| e.into_inner()).clone()
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

    /// Txids of the block at `height`, in block order (cached; a cached entry is used only
    /// while that block is still the chain's at `height`). `None` above the tip.
    pub fn block_txids(&self, height: u32) -> Result<Option<Arc<Vec<Txid>>>, String> {
        let Some(hash) = self.index.block_hash(height).map_err(|e| e.to_string())? else {
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
        let Some(txids) = self.index.block_txids(height).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        // The block may have been replaced between the two reads: cache only if not.
        let txids = Arc::new(txids);
        if self.index.block_hash(height).map_err(|e| e.to_string())? == Some(hash) {
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
