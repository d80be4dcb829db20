//! The index: the confirmed chain in RocksDB, in the shape Electrum queries need.
//!
//! [`Index`] is the writer, owned by the one block-processor task: it parses raw blocks
//! ([`Index::advance`]), keeps what they change in a cache bounded by bytes, writes the cache
//! atomically and synced together with the state record ([`Index::flush`]: one sorted write
//! batch at the tip, sorted table files ingested during the initial sync) and rolls
//! blocks back with their undo data ([`Index::backup`]). [`IndexReader`] (cheap to clone,
//! `Send + Sync`) answers queries from other threads, from flushed and consistent state
//! only.
//!
//! What is stored, and why, is in `docs/storage.md`; the key layout is in `schema`.
//!
//! Layout, each file using only files further down this list:
//! - `mod.rs`: [`Index`], the writer (open, advance, flush, back up, upgrade);
//! - `query`: [`IndexReader`], the read API; `snap` (one query's snapshot), `status` (an
//!   outpoint's funder and spender);
//! - `upgrade` (building the spender index of a previous-layout database);
//! - `apply` (block → cache) and `backup` (undo);
//! - `bulk` (bulk flushes: sorted table files, a journal, ingestion, recovery at open);
//! - `cache`: unflushed changes, bounded by bytes, and the sorted rows of a flush;
//! - `rows`: one column family's rows of a flush, sorted;
//! - `summary`: what the writer reports ([`BlockSummary`], [`FlushStats`], [`CacheStats`]);
//! - `view`: what the writer shares with its readers (the store and the flushed view, checked
//!   at open);
//! - `store`: RocksDB, column families, synced batches, digest;
//! - `schema`: keys, values, state record, undo encoding;
//! - `error`.
//!
//! The block processor that drives the writer (prefetching, reorgs, progress) is
//! `crate::indexer`.

mod apply;
mod backup;
mod bulk;
mod cache;
mod error;
mod query;
mod rawblock;
mod rows;
mod schema;
mod snap;
mod status;
mod store;
mod summary;
mod upgrade;
mod view;

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bitcoin::block::Header;
use bitcoin::blockdata::constants::genesis_block;
use bitcoin::consensus::serialize;
use bitcoin::{BlockHash, Network};
use rocksdb::WriteBatch;

pub use backup::RolledBack;
#[doc(hidden)]
pub use bulk::BulkStop;
pub use bulk::BULK_MIN_BYTES;
pub use error::IndexError;
pub use query::{IndexReader, TxPosition, Utxo};
pub use schema::{
    is_unspendable, HashX, TxNum, DB_VERSION, DB_VERSION_PRE_SPENDERS, HASHX_LEN, TXID_PREFIX_LEN,
};
pub use snap::HistoryEntry;
pub use status::{OutpointStatus, Spender};
pub use store::{BLOCK_CACHE_BYTES, MAX_OPEN_FILES, MEMTABLE_BYTES};
pub use summary::{BlockSummary, CacheStats, FlushStats};
pub use upgrade::UpgradeProgress;

use cache::{Cache, Span};
use schema::{Cf, STATE_KEY};
use store::Store;
use upgrade::Upgrade;
use view::{Shared, View};

/// The index writer. One per database, used by one task; see the module docs.
pub struct Index {
    shared: Arc<Shared>,
    network: Network,
    genesis: BlockHash,
    reorg_limit: u32,
    cache_budget: usize,
    /// A flush of more than one block holding at least this many bytes is a bulk flush.
    bulk_min_bytes: usize,
    /// Tip including unflushed blocks.
    tip: Option<(u32, BlockHash)>,
    /// Transactions including unflushed blocks.
    tx_count: u64,
    /// The writer's copy of the flushed view.
    flushed: View,
    cache: Cache,
    /// The spender index being built, for a database of the previous layout.
    upgrade: Option<Upgrade>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("path", &self.shared.store.path())
            .field("network", &self.network)
            .field("tip", &self.tip)
            .field("flushed", &self.flushed.tip)
            .finish_non_exhaustive()
    }
}

impl Index {
    /// Opens the index at `dir`, creating it (with the genesis block of `network` indexed and
    /// flushed) if the directory holds none. The cache is flushed when it holds more than
    /// `cache_bytes` (see [`Index::needs_flush`]); undo data is kept for the last
    /// `reorg_limit` blocks. A database of the previous layout
    /// ([`DB_VERSION_PRE_SPENDERS`]) opens with its spender index to build
    /// ([`Index::upgrade_progress`]) before blocks can be applied.
    ///
    /// # Errors
    /// The database cannot be opened (e.g. another process holds it), its state record is
    /// missing while it has data, corrupt, of another [`DB_VERSION`] (and not the previous
    /// one) or of another network, or its tx counts or tip header disagree with the state
    /// record.
    pub fn open(
        dir: &Path,
        network: Network,
        cache_bytes: usize,
        reorg_limit: u32,
    ) -> Result<Index, IndexError> {
        Index::open_layout(dir, network, cache_bytes, reorg_limit, &Cf::ALL)
    }

    /// Opens (or creates) a database in the previous layout ([`DB_VERSION_PRE_SPENDERS`]: no
    /// spender index) and keeps writing it that way, exactly as the version before the
    /// spender index did: the same rows through the same code, without the `spenders`
    /// column family. Only for tests of the upgrade and for measuring what the spender
    /// index costs; the server never calls it.
    ///
    /// # Errors
    /// As [`Index::open`]; a database of the current layout is refused.
    #[doc(hidden)]
    pub fn open_pre_spenders(
        dir: &Path,
        network: Network,
        cache_bytes: usize,
        reorg_limit: u32,
    ) -> Result<Index, IndexError> {
        Index::open_layout(dir, network, cache_bytes, reorg_limit, &Cf::PRE_SPENDERS)
    }

    fn open_layout(
        dir: &Path,
        network: Network,
        cache_bytes: usize,
        reorg_limit: u32,
        cfs: &'static [Cf],
    ) -> Result<Index, IndexError> {
        let store = Store::open(dir, cfs)?;
        if let Some(height) = bulk::recover(&store)? {
            tracing::info!(height, "finished a bulk flush interrupted by a crash");
        }
        let genesis = genesis_block(network);
        let genesis_hash = genesis.block_hash();
        let expected = match store.has_spenders() {
            true => DB_VERSION,
            false => DB_VERSION_PRE_SPENDERS,
        };
        let mut upgrade = None;
        let mut view = match store.read_state()? {
            Some(state) => {
                let upgradable = state.version == DB_VERSION_PRE_SPENDERS && store.has_spenders();
                if state.version != expected && !upgradable {
                    return Err(IndexError::Version {
                        found: state.version,
                        expected,
                    });
                }
                let view = View::load(&store, &state, network, genesis_hash)?;
                if upgradable {
                    upgrade = Some(Upgrade::resume(&store, state.height, cache_bytes)?);
                }
                view
            }
            None if !store.is_empty()? => {
                return Err(IndexError::Corrupt(
                    "the database has data but no state record".to_string(),
                ))
            }
            None => View::default(),
        };
        view.upgrading = upgrade.as_ref().map(|u| u.progress().next);
        let mut index = Index {
            shared: Arc::new(Shared {
                store,
                view: RwLock::new(view.clone()),
            }),
            network,
            genesis: genesis_hash,
            reorg_limit,
            cache_budget: cache_bytes,
            bulk_min_bytes: BULK_MIN_BYTES,
            tip: view.tip,
            tx_count: view.tx_count,
            flushed: view,
            cache: Cache::default(),
            upgrade,
        };
        if index.tip.is_none() {
            index.advance(&serialize(&genesis))?;
            index.flush()?;
        }
        Ok(index)
    }

    /// The network the index belongs to.
    pub fn network(&self) -> Network {
        self.network
    }

    /// Blocks whose undo data is kept.
    pub fn reorg_limit(&self) -> u32 {
        self.reorg_limit
    }

    /// Height and hash of the last block applied, flushed or not (`Some` once opened).
    pub fn tip(&self) -> Option<(u32, BlockHash)> {
        self.tip
    }

    /// Height and hash of the last flushed block: where a restart resumes.
    pub fn flushed_tip(&self) -> Option<(u32, BlockHash)> {
        self.flushed.tip
    }

    /// Transactions indexed, flushed or not.
    pub fn tx_count(&self) -> u64 {
        self.tx_count
    }

    /// Applies the next block (raw, as `getblock <hash> 0` gives it) to the cache.
    ///
    /// # Errors
    /// [`IndexError::NotOnTip`] if its parent is not the tip (nothing changes: back up or
    /// fetch the right block); [`IndexError::BadBlock`] if it does not parse or its merkle
    /// root is wrong; [`IndexError::MissingUtxo`] if it spends an unknown output. After any
    /// error the index is as it was before the call.
    pub fn advance(&mut self, raw_block: &[u8]) -> Result<BlockSummary, IndexError> {
        self.refuse_while_upgrading()?;
        let height = self.tip.map_or(0, |(h, _)| h + 1);
        let parsed = apply::parse_block(raw_block, height)?;
        let hash = parsed.header.block_hash();
        match self.tip {
            Some((h, tip)) if parsed.header.prev_blockhash != tip => {
                return Err(IndexError::NotOnTip {
                    height: h,
                    tip,
                    block: hash,
                    prev: parsed.header.prev_blockhash,
                })
            }
            None if hash != self.genesis => {
                return Err(IndexError::BadBlock {
                    height,
                    reason: format!("{hash} is not the genesis block of {}", self.network),
                })
            }
            _ => {}
        }
        let keep_undo_from = self.undo_floor(height);
        let applied = apply::apply_block(
            &self.shared.store,
            &mut self.cache,
            &parsed,
            height,
            self.tx_count,
            keep_undo_from,
        )?;
        self.tx_count += parsed.txids.len() as u64;
        self.tip = Some((height, hash));
        Ok(BlockSummary {
            height,
            hash,
            txs: parsed.txids.len(),
            touched: applied.touched,
            spent: applied.spent,
            txids: parsed.txids,
        })
    }

    /// [`IndexError::Upgrading`] while the spender index is being built.
    fn refuse_while_upgrading(&self) -> Result<(), IndexError> {
        match &self.upgrade {
            Some(u) => Err(IndexError::Upgrading {
                next: u.progress().next,
                tip: u.progress().tip,
            }),
            None => Ok(()),
        }
    }

    /// Lowest height whose undo data is kept when the tip is at `tip`.
    fn undo_floor(&self, tip: u32) -> u32 {
        (tip + 1).saturating_sub(self.reorg_limit)
    }

    /// Whether the cache (or the upgrade's unwritten rows) holds more than its budget.
    pub fn needs_flush(&self) -> bool {
        self.cache_bytes() >= self.cache_budget
    }

    /// Estimated bytes the cache (or the upgrade's unwritten rows) holds.
    pub fn cache_bytes(&self) -> usize {
        self.cache.bytes() + self.upgrade.as_ref().map_or(0, Upgrade::bytes)
    }

    /// Sizes of the cache, for progress logs.
    pub fn cache_stats(&self) -> CacheStats {
        CacheStats {
            bytes: self.cache.bytes(),
            blocks: self.cache.blocks(),
            txs: self.cache.txids.len(),
            utxo_adds: self.cache.adds.len(),
            utxo_spends: self.cache.db_spends.len(),
            history: self.cache.history.len(),
        }
    }

    /// Writes every unflushed block, with the new state record, atomically and synced;
    /// readers see the new state from then on. A no-op when nothing is unflushed.
    ///
    /// A flush of one block, or of less than [`BULK_MIN_BYTES`] of cache (the tip), is one
    /// write batch, sorted; a larger one (the initial sync) is a bulk flush: sorted table
    /// files ingested, committed by a journal record (see `docs/storage.md`).
    ///
    /// # Errors
    /// The write failed; the cache is kept, so the flush can be retried.
    pub fn flush(&mut self) -> Result<FlushStats, IndexError> {
        let bulk = self.cache.blocks() > 1 && self.cache.bytes() >= self.bulk_min_bytes;
        Ok(self.flush_as(bulk, None)?.unwrap_or_default())
    }

    /// A bulk flush stopped at `stop` as a crash would stop it (drop the index and reopen it
    /// next); whether there was anything to flush. Only for tests of the crash windows.
    ///
    /// # Errors
    /// As [`Index::flush`].
    #[doc(hidden)]
    pub fn flush_stopped_at(&mut self, stop: BulkStop) -> Result<bool, IndexError> {
        Ok(self.flush_as(true, Some(stop))?.is_none())
    }

    /// Sets the cache size from which a flush of several blocks is a bulk flush (default
    /// [`BULK_MIN_BYTES`]). For tests and benches.
    #[doc(hidden)]
    pub fn set_bulk_min_bytes(&mut self, bytes: usize) {
        self.bulk_min_bytes = bytes;
    }

    /// The flush, as a bulk flush or a write batch; `None` if `stop` stopped it.
    fn flush_as(
        &mut self,
        bulk: bool,
        stop: Option<BulkStop>,
    ) -> Result<Option<FlushStats>, IndexError> {
        let start = Instant::now();
        let Some((height, tip)) = self.tip else {
            return Ok(Some(FlushStats::default()));
        };
        if self.tip == self.flushed.tip {
            return Ok(Some(FlushStats {
                height,
                ..FlushStats::default()
            }));
        }
        let store = &self.shared.store;
        let keep_undo_from = self.undo_floor(height);
        let span = Span {
            first_height: self.flushed.tip.map_or(0, |(h, _)| h + 1),
            first_tx_num: self.flushed.tx_count,
            keep_undo_from,
            // Undo rows that fell out of the window (at most REORG_LIMIT of them).
            drop_undo: match self.flushed.tip {
                Some((old, _)) => self.undo_floor(old)..keep_undo_from.min(old + 1),
                None => 0..0,
            },
            spenders: store.has_spenders(),
        };
        let view = self
            .flushed
            .extended((height, tip), self.tx_count, &self.cache.counts);
        let stats = FlushStats {
            height,
            blocks: self.cache.blocks(),
            txs: self.cache.txids.len(),
            utxo_adds: self.cache.adds.len(),
            utxo_spends: self.cache.db_spends.len(),
            history: self.cache.history.len(),
            batch_bytes: 0,
            bulk,
            elapsed: Duration::ZERO,
        };
        let batch_bytes = match bulk {
            true => match self.commit_bulk(&span, view, stop)? {
                Some(bytes) => bytes,
                None => return Ok(None),
            },
            false => {
                let batch = self.cache.to_batch(store, &span)?;
                self.commit(batch, view)?
            }
        };
        self.cache.clear();
        Ok(Some(FlushStats {
            batch_bytes,
            elapsed: start.elapsed(),
            ..stats
        }))
    }

    /// Writes `batch` plus the state record of `view`, and publishes `view` to readers
    /// under the view lock (so a reader's snapshot and view always agree).
    fn commit(&mut self, mut batch: WriteBatch, view: View) -> Result<usize, IndexError> {
        let store = &self.shared.store;
        let state = view.state_record(self.genesis, store.has_spenders())?;
        batch.put_cf(store.cf(Cf::Meta)?, STATE_KEY, state.encode());
        let bytes = batch.size_in_bytes();
        {
            let mut shared = self.shared.view_mut();
            store.write_synced(batch)?;
            *shared = view.clone();
        }
        self.flushed = view;
        Ok(bytes)
    }

    /// [`Index::commit`] as a bulk flush of the cache's rows of `span` (`bulk::flush`).
    fn commit_bulk(
        &mut self,
        span: &Span,
        view: View,
        stop: Option<BulkStop>,
    ) -> Result<Option<usize>, IndexError> {
        let state = view.state_record(self.genesis, self.shared.store.has_spenders())?;
        let bytes = bulk::flush(&self.shared, &mut self.cache, span, &state, &view, stop)?;
        if bytes.is_some() {
            self.flushed = view;
        }
        Ok(bytes)
    }

    /// Rolls the index back so that `to_height` is the tip, flushing first; then blocks of
    /// the new branch can be applied from `to_height + 1`. One atomic batch.
    ///
    /// # Errors
    /// [`IndexError::ReorgTooDeep`] if more than `reorg_limit` blocks would go (nothing
    /// changes); [`IndexError::BadBackupTarget`] if `to_height` is above the tip; errors of
    /// [`Index::flush`]; [`IndexError::UndoMissing`] or corruption if undo data is missing
    /// or bad (nothing is rolled back then).
    pub fn backup(&mut self, to_height: u32) -> Result<RolledBack, IndexError> {
        self.refuse_while_upgrading()?;
        let Some((tip, _)) = self.tip else {
            return Err(IndexError::BadBackupTarget {
                tip: 0,
                to: to_height,
            });
        };
        if to_height > tip {
            return Err(IndexError::BadBackupTarget { tip, to: to_height });
        }
        if to_height == tip {
            return Ok(RolledBack::default());
        }
        if tip - to_height > self.reorg_limit {
            return Err(IndexError::ReorgTooDeep {
                tip,
                to: to_height,
                limit: self.reorg_limit,
            });
        }
        self.flush()?;
        let store = &self.shared.store;
        let mut batch = WriteBatch::default();
        let rolled = backup::rollback(store, &mut batch, &self.flushed.counts, tip, to_height)?;
        let header = store
            .header(to_height)?
            .ok_or_else(|| IndexError::Corrupt(format!("no header at height {to_height}")))?;
        let counts: Vec<u64> = self
            .flushed
            .counts
            .get(..=to_height as usize)
            .ok_or_else(|| IndexError::Corrupt(format!("no tx count at height {to_height}")))?
            .to_vec();
        let tx_count = counts.last().copied().unwrap_or(0);
        let new_tip = (to_height, header.block_hash());
        let view = View {
            tip: Some(new_tip),
            tx_count,
            counts: Arc::new(counts),
            upgrading: None,
        };
        self.commit(batch, view)?;
        self.tip = Some(new_tip);
        self.tx_count = tx_count;
        Ok(rolled)
    }

    /// Where the upgrade of a previous-layout database stands: `Some` until its spender
    /// index is built and written, `None` for a database of the current layout. While
    /// `Some`, [`Index::advance`] and [`Index::backup`] are refused: give it the blocks of
    /// heights `next..=tip` ([`Index::upgrade_block`]), flushing when
    /// [`Index::needs_flush`] and at the end ([`Index::upgrade_flush`]).
    pub fn upgrade_progress(&self) -> Option<UpgradeProgress> {
        self.upgrade.as_ref().map(Upgrade::progress)
    }

    /// Adds the block at the upgrade's next height (raw, as `getblock <hash> 0` gives it;
    /// it must be the block of our header at that height) to the spender index being built.
    ///
    /// # Errors
    /// No upgrade is pending, the block is not ours or does not parse, a read failed, or an
    /// input spends a transaction the index does not hold (a damaged index). Nothing is
    /// added then.
    pub fn upgrade_block(&mut self, raw_block: &[u8]) -> Result<(), IndexError> {
        let Some(upgrade) = self.upgrade.as_mut() else {
            return Err(IndexError::Corrupt("no upgrade is pending".to_string()));
        };
        upgrade.add_block(&self.shared.store, &self.flushed.counts, raw_block)
    }

    /// Writes the rows of the blocks given so far with the upgrade's progress, in one synced
    /// atomic batch; once every block up to the tip has been given, with the state record of
    /// [`DB_VERSION`]: the upgrade is then over. A no-op without an upgrade.
    ///
    /// # Errors
    /// The write failed; the rows are kept, so it can be retried.
    pub fn upgrade_flush(&mut self) -> Result<FlushStats, IndexError> {
        let start = Instant::now();
        let Some(upgrade) = self.upgrade.as_mut() else {
            return Ok(FlushStats::default());
        };
        let mut batch = WriteBatch::default();
        upgrade.write_to(&self.shared.store, &mut batch)?;
        let done = upgrade.done();
        let view = View {
            upgrading: (!done).then_some(upgrade.progress().next),
            ..self.flushed.clone()
        };
        let batch_bytes = self.commit(batch, view)?;
        if let Some(u) = self.upgrade.as_mut() {
            u.written();
        }
        if done {
            self.upgrade = None;
        }
        Ok(FlushStats {
            height: self.flushed.tip.map_or(0, |t| t.0),
            batch_bytes,
            elapsed: start.elapsed(),
            ..FlushStats::default()
        })
    }

    /// The header at `height`, flushed or not.
    ///
    /// # Errors
    /// Reading or decoding the flushed header failed.
    pub fn header(&self, height: u32) -> Result<Option<Header>, IndexError> {
        let first_unflushed = self.flushed.tip.map_or(0, |(h, _)| h + 1);
        if height < first_unflushed {
            return self.shared.store.header(height);
        }
        Ok(self
            .cache
            .headers
            .get((height - first_unflushed) as usize)
            .copied())
    }

    /// The hash of the block at `height`, flushed or not (e.g. to find a fork point).
    ///
    /// # Errors
    /// As [`Index::header`].
    pub fn block_hash(&self, height: u32) -> Result<Option<BlockHash>, IndexError> {
        Ok(self.header(height)?.map(|h| h.block_hash()))
    }

    /// A reader of the flushed state, for other threads.
    pub fn reader(&self) -> IndexReader {
        IndexReader::new(self.shared.clone())
    }

    /// SHA-256 over the whole flushed database (every column family, every key and value, in
    /// order): equal digests mean equal databases. For tests and consistency checks; it
    /// reads everything.
    ///
    /// # Errors
    /// A read failed.
    pub fn content_digest(&self) -> Result<[u8; 32], IndexError> {
        self.shared.store.digest()
    }
}
