//! Confirmed histories and status hashes, cached per script-hash key.
//!
//! A status is `sha256` of `"txid:height:"` for each confirmed transaction in chain order,
//! then `"txid:0:"` or `"txid:-1:"` for each mempool transaction in the mempool's canonical
//! order (`-1`: it has unconfirmed inputs). The cache keeps, per key, the confirmed entries
//! and the SHA-256 state after hashing them, so a status after a mempool change costs only
//! the mempool part. A block marks exactly the keys it touched stale, and a stale history is
//! extended, not read again: the entries after its last transaction number are read (one
//! seek) and fed to the kept SHA-256 state, so a status after a block costs what the block
//! added, however long the history (histories only grow while blocks are added; a reorg
//! drops the whole cache, and an extension that overlapped one is not kept).
//!
//! As ElectrumX, a history is read up to `MAX_SEND / 99` entries (a JSON entry is about 99
//! bytes), and one that reaches that limit is refused with "history too large" — for
//! `get_history`, `subscribe` and notifications alike. The refusal is cached too. At
//! protocol 1.7 the limit is ElectrumX 2.0's, one or two entries lower ([`limit_at`]).

use std::fmt::Write as _;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use bitcoin::hashes::{sha256, Hash, HashEngine};
use bitcoin::hex::DisplayHex;
use bitcoin::Txid;
use lru::LruCache;
use serde_json::Value;

use super::version::ProtocolVersion;
use crate::index::{HashX, HistoryEntry, IndexError, IndexReader, TxNum};
use crate::mempool::TxSummary;

/// The confirmed part of a history.
#[derive(Clone)]
pub struct Confirmed {
    /// (txid, height) in chain order.
    pub entries: Vec<(Txid, u32)>,
    /// SHA-256 state after `"txid:height:"` of every entry.
    engine: sha256::HashEngine,
    /// The last entry's transaction number, when known (an extension reads after it).
    last: Option<TxNum>,
}

impl std::fmt::Debug for Confirmed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Confirmed")
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl Confirmed {
    /// The confirmed part of a history of `entries` (in chain order).
    pub fn new(entries: Vec<(Txid, u32)>) -> Confirmed {
        let mut c = Confirmed {
            entries: Vec::new(),
            engine: sha256::HashEngine::default(),
            last: None,
        };
        c.extend(entries);
        c
    }

    /// The confirmed part of a history of index entries (in chain order).
    fn from_index(entries: Vec<HistoryEntry>) -> Confirmed {
        let mut c = Confirmed::new(Vec::new());
        c.append(entries);
        c
    }

    fn extend(&mut self, entries: Vec<(Txid, u32)>) {
        self.entries.reserve(entries.len());
        let mut text = String::with_capacity(80);
        for (txid, height) in entries {
            text.clear();
            push_txid(&mut text, &txid);
            let _ = write!(text, ":{height}:");
            self.engine.input(text.as_bytes());
            self.entries.push((txid, height));
        }
    }

    /// Appends index entries that follow the last one.
    fn append(&mut self, entries: Vec<HistoryEntry>) {
        if let Some(e) = entries.last() {
            self.last = Some(e.tx_num);
        }
        self.extend(entries.into_iter().map(|e| (e.txid, e.height)).collect());
    }

    /// The status with `mempool` (in canonical order) appended; `None` when there is no
    /// history at all.
    pub fn status(&self, mempool: &[TxSummary]) -> Option<[u8; 32]> {
        if self.entries.is_empty() && mempool.is_empty() {
            return None;
        }
        let mut engine = self.engine.clone();
        for tx in mempool {
            let height = if tx.has_unconfirmed_inputs { "-1" } else { "0" };
            engine.input(format!("{}:{height}:", tx.txid).as_bytes());
        }
        Some(sha256::Hash::from_engine(engine).to_byte_array())
    }
}

/// Appends `txid` as displayed (its bytes reversed, lower-case hex), with the vectorised
/// encoder: a million of them are most of a whale's answer.
pub fn push_txid(out: &mut String, txid: &Txid) {
    let mut bytes: [u8; 32] = txid.to_byte_array();
    bytes.reverse();
    let mut hex = [0u8; 64];
    match faster_hex::hex_encode(&bytes, &mut hex) {
        Ok(s) => out.push_str(s),
        // Cannot happen (the buffer is exactly twice the input); the slow way then.
        Err(_) => {
            out.push_str(&txid.to_string());
        }
    }
}

/// The number of confirmed entries at which a history is refused at protocol `v`: ElectrumX
/// 1.20's `MAX_SEND // 99` up to 1.6 (what [`HistoryCache`] reads up to), ElectrumX 2.0's
/// `(MAX_SEND - 100) // 99` ("deduct a bit for overhead") at 1.7 — never above the first.
pub fn limit_at(max_send: usize, v: &ProtocolVersion) -> usize {
    if v.at_least(&[1, 7]) {
        (max_send.saturating_sub(100) / 99).max(1)
    } else {
        (max_send / 99).max(1)
    }
}

/// A status as clients are sent it: hex, or null for no history.
pub fn status_json(status: Option<[u8; 32]>) -> Value {
    match status {
        Some(s) => Value::String(s.to_lower_hex_string()),
        None => Value::Null,
    }
}

/// Why a history cannot be served.
#[derive(Clone, Debug, thiserror::Error)]
pub enum HistoryError {
    /// It has at least the limit's number of entries.
    #[error("history too large")]
    TooLarge,
    #[error("db error: {0}")]
    Index(String),
}

impl From<IndexError> for HistoryError {
    fn from(e: IndexError) -> HistoryError {
        HistoryError::Index(e.to_string())
    }
}

#[derive(Clone)]
enum Cached {
    Ok(Arc<Confirmed>),
    /// A block touched the key since: extend it before use.
    Stale(Arc<Confirmed>),
    TooLarge,
}

struct Inner {
    lru: LruCache<HashX, Cached>,
    /// Sum of the entries held (bounded by `max_entries`).
    entries: usize,
    /// Bumped by every invalidation: a read that started before one must not be cached.
    epoch: u64,
    /// Bumped by every [`HistoryCache::clear`] (reorgs): an extension that overlapped one
    /// is thrown away and the history read whole.
    clears: u64,
}

/// Confirmed histories of recently asked keys. `Send + Sync`.
pub struct HistoryCache {
    inner: Mutex<Inner>,
    limit: usize,
    max_entries: usize,
    /// Counters for `getinfo`-style statistics.
    lookups: std::sync::atomic::AtomicU64,
    hits: std::sync::atomic::AtomicU64,
}

/// Most keys held (ElectrumX's history cache holds 1,000).
const MAX_KEYS: usize = 1_000;
/// Most entries held across all keys (about 44 bytes each).
const MAX_ENTRIES: usize = 2_000_000;

impl HistoryCache {
    /// A cache refusing histories of `max_send / 99` entries or more.
    pub fn new(max_send: usize) -> HistoryCache {
        HistoryCache {
            inner: Mutex::new(Inner {
                lru: LruCache::new(NonZeroUsize::new(MAX_KEYS).unwrap_or(NonZeroUsize::MIN)),
                entries: 0,
                epoch: 0,
                clears: 0,
            }),
            limit: (max_send / 99).max(1),
            max_entries: MAX_ENTRIES,
            lookups: Default::default(),
            hits: Default::default(),
        }
    }

    /// The most entries a history may have minus one (ElectrumX's `limited_history` limit).
    pub fn limit(&self) -> usize {
        self.limit
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The confirmed history of `sh` (a 32-byte script hash, internal order), from the
    /// cache or read from the index. Blocking (RocksDB reads): call off the async workers
    /// for long histories. Returns also whether it came from the cache.
    ///
    /// # Errors
    /// [`HistoryError::TooLarge`] at or above the limit; index read failures.
    pub fn get(
        &self,
        index: &IndexReader,
        sh: &[u8; 32],
    ) -> Result<(Arc<Confirmed>, bool), HistoryError> {
        use std::sync::atomic::Ordering::Relaxed;
        let x = HashX::from_script_hash(sh);
        self.lookups.fetch_add(1, Relaxed);
        let (epoch, clears, stale) = {
            let mut inner = self.lock();
            match inner.lru.get(&x) {
                Some(Cached::Ok(c)) => {
                    self.hits.fetch_add(1, Relaxed);
                    return Ok((c.clone(), true));
                }
                Some(Cached::TooLarge) => {
                    self.hits.fetch_add(1, Relaxed);
                    return Err(HistoryError::TooLarge);
                }
                Some(Cached::Stale(_)) | None => {}
            }
            // Taken out while it is extended, so that it is extended in place (no copy of a
            // long history) unless a request still holds it; meanwhile other readers of
            // the key read it whole.
            let stale = match inner.lru.pop(&x) {
                Some(Cached::Stale(c)) => {
                    inner.entries -= c.entries.len().min(inner.entries);
                    Some(c)
                }
                _ => None,
            };
            (inner.epoch, inner.clears, stale)
        };
        let result = match stale.filter(|c| c.last.is_some()) {
            Some(old) => {
                let added = index.history_after(sh, old.last, self.limit - old.entries.len())?;
                if old.entries.len() + added.len() >= self.limit {
                    Cached::TooLarge
                } else {
                    let mut c = Arc::unwrap_or_clone(old);
                    c.append(added);
                    Cached::Ok(Arc::new(c))
                }
            }
            None => {
                let entries = index.history_after(sh, None, self.limit)?;
                if entries.len() >= self.limit {
                    Cached::TooLarge
                } else {
                    Cached::Ok(Arc::new(Confirmed::from_index(entries)))
                }
            }
        };
        let mut inner = self.lock();
        if inner.clears != clears {
            // A reorg overlapped the read: what it extended may have been rolled back.
            drop(inner);
            return self.get(index, sh);
        }
        match &result {
            _ if inner.epoch == epoch => self.insert(&mut inner, x, result.clone()),
            // A block was flushed meanwhile, maybe before the read: what was read is still
            // a prefix of the history, to be extended before use.
            Cached::Ok(c) => self.insert(&mut inner, x, Cached::Stale(c.clone())),
            Cached::Stale(_) | Cached::TooLarge => {}
        }
        match result {
            Cached::Ok(c) | Cached::Stale(c) => Ok((c, false)),
            Cached::TooLarge => Err(HistoryError::TooLarge),
        }
    }

    /// Caches `value` for `x`, keeping the sum of entries under the bound.
    fn insert(&self, inner: &mut Inner, x: HashX, value: Cached) {
        let n = match &value {
            Cached::Ok(c) | Cached::Stale(c) => c.entries.len(),
            Cached::TooLarge => 0,
        };
        if let Some((_, Cached::Ok(c) | Cached::Stale(c))) = inner.lru.push(x, value) {
            inner.entries -= c.entries.len().min(inner.entries);
        }
        inner.entries += n;
        while inner.entries > self.max_entries {
            match inner.lru.pop_lru() {
                Some((_, Cached::Ok(c) | Cached::Stale(c))) => {
                    inner.entries -= c.entries.len().min(inner.entries);
                }
                Some((_, Cached::TooLarge)) => {}
                None => break,
            }
        }
    }

    /// Marks the histories of `touched` keys stale (after the flush of a block that added
    /// to them, before anyone is notified): the next read extends them. Reorgs go through
    /// [`HistoryCache::clear`] first.
    pub fn invalidate<'a>(&self, touched: impl IntoIterator<Item = &'a HashX>) {
        let mut inner = self.lock();
        inner.epoch += 1;
        for x in touched {
            match inner.lru.peek_mut(x) {
                Some(slot @ Cached::Ok(_)) => {
                    if let Cached::Ok(c) = slot.clone() {
                        *slot = Cached::Stale(c);
                    }
                }
                Some(Cached::Stale(_)) | None => {}
                Some(Cached::TooLarge) => {
                    inner.lru.pop(x);
                }
            }
        }
    }

    /// Forgets everything (after a reorg: histories may have lost entries, so none may be
    /// extended).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.clears += 1;
        inner.lru.clear();
        inner.entries = 0;
    }

    /// (keys held, lookups, hits).
    pub fn stats(&self) -> (usize, u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.lock().lru.len(),
            self.lookups.load(Relaxed),
            self.hits.load(Relaxed),
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A txid whose bytes are all `i` but the first and last (not a palindrome: the byte
    /// order shows). Shared with `history_json`'s tests.
    pub(crate) fn txid(i: u8) -> Txid {
        let mut b = [i; 32];
        b[0] = 0x01;
        b[31] = 0xfe;
        Txid::from_byte_array(b)
    }

    #[test]
    fn status_is_sha256_of_the_electrum_status_string() {
        let c = Confirmed::new(vec![(txid(1), 5), (txid(2), 7)]);
        let mempool = [
            TxSummary {
                txid: txid(3),
                fee: 100,
                has_unconfirmed_inputs: false,
            },
            TxSummary {
                txid: txid(4),
                fee: 100,
                has_unconfirmed_inputs: true,
            },
        ];
        let text = format!("{}:5:{}:7:{}:0:{}:-1:", txid(1), txid(2), txid(3), txid(4));
        let want = sha256::Hash::hash(text.as_bytes()).to_byte_array();
        assert_eq!(c.status(&mempool), Some(want));
        let confirmed_only = format!("{}:5:{}:7:", txid(1), txid(2));
        assert_eq!(
            c.status(&[]),
            Some(sha256::Hash::hash(confirmed_only.as_bytes()).to_byte_array())
        );
        assert_eq!(Confirmed::new(vec![]).status(&[]), None);
    }
}
