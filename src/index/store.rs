//! RocksDB underneath the index: column families and their options, the state record,
//! synced atomic writes, ingestion of table files, point and prefix reads, and the content
//! digest.
//!
//! Durability of a write batch rests on one RocksDB guarantee: a `WriteBatch` is one record
//! in the write-ahead log, checksummed, and recovery (`WALRecoveryMode::PointInTime`)
//! replays whole records only, stopping at the first torn or corrupt one. Every flush at the
//! tip and every rollback is a single batch that also carries the new state record, written
//! with `sync = true` (the WAL is fsynced before `write` returns), so after a crash the
//! database holds exactly the batches that completed, state record included. The WAL is on
//! for every batch (`disableWAL` is never used), so column families flushed to SST files at
//! different moments still recover together. Bulk flushes (the initial sync) ingest table
//! files instead; their atomicity across column families is `bulk`'s journal.

use std::path::{Path, PathBuf};

use bitcoin::block::Header;
use bitcoin::consensus::deserialize;
use bitcoin::hashes::{sha256, Hash, HashEngine};
use bitcoin::{OutPoint, Txid};
use rocksdb::{
    BlockBasedOptions, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType,
    DBRawIteratorWithThreadMode, DBRecoveryMode, IngestExternalFileOptions, IteratorMode, Options,
    ReadOptions, SliceTransform, WriteBatch, WriteOptions, DB,
};

use super::error::IndexError;
use super::schema::{
    height_key, outpoint_prefix, read_height_key, read_tx_num, read_txid, tx_num_bytes, Cf,
    StateRecord, TxNum, UtxoRow, STATE_KEY,
};

/// Memtables of all column families together (RocksDB's `db_write_buffer_size`).
pub const MEMTABLE_BYTES: usize = 128 << 20;
/// The block cache shared by all column families.
pub const BLOCK_CACHE_BYTES: usize = 64 << 20;
/// RocksDB's open-file limit (table files kept open).
pub const MAX_OPEN_FILES: i32 = 512;

/// The database and its column families.
pub(crate) struct Store {
    db: DB,
    path: PathBuf,
    /// The column families opened: [`Cf::ALL`], or [`Cf::PRE_SPENDERS`] for a database
    /// written in the previous layout on purpose (tests of the upgrade).
    cfs: &'static [Cf],
    /// The block cache (to build a column family's options again, for table files written
    /// outside the database: `bulk`).
    cache: rocksdb::Cache,
}

fn db_options() -> Options {
    let mut o = Options::default();
    o.create_if_missing(true);
    o.create_missing_column_families(true);
    o.set_wal_recovery_mode(DBRecoveryMode::PointInTime);
    o.set_max_open_files(MAX_OPEN_FILES);
    o.set_db_write_buffer_size(MEMTABLE_BYTES);
    o.set_keep_log_file_num(4);
    o.increase_parallelism(2);
    o
}

fn cf_options(cf: Cf, cache: &rocksdb::Cache) -> Options {
    let mut o = Options::default();
    // LZ4 where it pays: measured on the 1M-transaction bench chain, it saves 10 % of
    // `history`, 8 % of `spenders`, 13 % of `undo` and 2 % of `txprefix`, and nothing at all
    // of `txids`, `utxos`, `outpoints` and `headers` (random txids, script hashes and
    // amounts), where it only cost CPU: ~5 % of the sync's (docs/storage.md).
    o.set_compression_type(match cf.compressible() {
        true => DBCompressionType::Lz4,
        false => DBCompressionType::None,
    });
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_bloom_filter(10.0, false);
    if let Some(n) = cf.prefix_len() {
        // These column families are only ever read by prefix: filter on the prefix.
        o.set_prefix_extractor(SliceTransform::create_fixed_prefix(n));
        o.set_memtable_prefix_bloom_ratio(0.05);
        table.set_whole_key_filtering(false);
    }
    o.set_block_based_table_factory(&table);
    o
}

impl Store {
    /// Opens (creating if needed) the database at `dir` with the column families `cfs`
    /// (missing ones are created).
    pub(crate) fn open(dir: &Path, cfs: &'static [Cf]) -> Result<Store, IndexError> {
        let open_err = |source| IndexError::Open {
            path: dir.to_path_buf(),
            source,
        };
        if let Err(e) = std::fs::create_dir_all(dir) {
            return Err(IndexError::Corrupt(format!(
                "cannot create {}: {e}",
                dir.display()
            )));
        }
        let cache = rocksdb::Cache::new_lru_cache(BLOCK_CACHE_BYTES);
        let descriptors = cfs
            .iter()
            .map(|c| ColumnFamilyDescriptor::new(c.name(), cf_options(*c, &cache)));
        let db = DB::open_cf_descriptors(&db_options(), dir, descriptors).map_err(open_err)?;
        Ok(Store {
            db,
            path: dir.to_path_buf(),
            cfs,
            cache,
        })
    }

    /// Whether the `spenders` column family is open (not a previous-layout writer).
    pub(crate) fn has_spenders(&self) -> bool {
        self.cfs.contains(&Cf::Spenders)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn db(&self) -> &DB {
        &self.db
    }

    pub(crate) fn cf(&self, c: Cf) -> Result<&ColumnFamily, IndexError> {
        self.db
            .cf_handle(c.name())
            .ok_or_else(|| IndexError::Corrupt(format!("column family {} missing", c.name())))
    }

    /// The options of column family `c`: a table file written with them (`bulk`) has the
    /// same compression, filters and prefix extractor as one RocksDB writes itself.
    pub(crate) fn cf_options(&self, c: Cf) -> Options {
        cf_options(c, &self.cache)
    }

    /// Ingests the table file at `file` into `c`, moving it (a hard link, then the name
    /// outside is removed): one atomic change of the database's manifest. The file's rows
    /// are newer than every row before and visible to snapshots taken after.
    pub(crate) fn ingest(&self, c: Cf, file: &Path) -> Result<(), IndexError> {
        let mut opts = IngestExternalFileOptions::default();
        opts.set_move_files(true);
        Ok(self
            .db
            .ingest_external_file_cf_opts(self.cf(c)?, &opts, vec![file])?)
    }

    /// Writes `batch` atomically, with the WAL synced before returning.
    pub(crate) fn write_synced(&self, batch: WriteBatch) -> Result<(), IndexError> {
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        Ok(self.db.write_opt(batch, &opts)?)
    }

    /// The state record, if the database has one.
    pub(crate) fn read_state(&self) -> Result<Option<StateRecord>, IndexError> {
        match self.db.get_pinned_cf(self.cf(Cf::Meta)?, STATE_KEY)? {
            Some(v) => Ok(Some(StateRecord::decode(&v)?)),
            None => Ok(None),
        }
    }

    /// Whether no column family holds a row.
    pub(crate) fn is_empty(&self) -> Result<bool, IndexError> {
        for &c in self.cfs {
            let mut it = self.db.raw_iterator_cf_opt(self.cf(c)?, total_order());
            it.seek_to_first();
            if it.valid() {
                return Ok(false);
            }
            it.status()?;
        }
        Ok(true)
    }

    /// The cumulative tx counts of heights `0..=height`, checked for gaps, order and the
    /// state record's tx count.
    pub(crate) fn load_counts(&self, state: &StateRecord) -> Result<Vec<u64>, IndexError> {
        let mut counts = Vec::with_capacity(state.height as usize + 1);
        let mut it = self
            .db
            .raw_iterator_cf_opt(self.cf(Cf::TxCounts)?, total_order());
        it.seek_to_first();
        while let Some((k, v)) = it.item() {
            let h = read_height_key(k)?;
            if h > state.height {
                return Err(IndexError::Corrupt(format!(
                    "tx count of height {h} beyond the state record's height {}",
                    state.height
                )));
            }
            if h as usize != counts.len() {
                return Err(IndexError::Corrupt(format!(
                    "tx count of height {h} missing"
                )));
            }
            let c = read_tx_num(v)?;
            if counts.last().is_some_and(|&prev| c <= prev) || c == 0 {
                return Err(IndexError::Corrupt(format!(
                    "tx count of height {h} does not grow"
                )));
            }
            counts.push(c);
            it.next();
        }
        it.status()?;
        if counts.len() != state.height as usize + 1 || counts.last() != Some(&state.tx_count) {
            return Err(IndexError::Corrupt(format!(
                "tx counts end at height {} with {:?} transactions, the state record says \
                 height {} with {}",
                counts.len() as i64 - 1,
                counts.last(),
                state.height,
                state.tx_count
            )));
        }
        Ok(counts)
    }

    /// The header at `height` (flushed data).
    pub(crate) fn header(&self, height: u32) -> Result<Option<Header>, IndexError> {
        match self
            .db
            .get_pinned_cf(self.cf(Cf::Headers)?, height_key(height))?
        {
            Some(v) => Ok(Some(decode_header(&v, height)?)),
            None => Ok(None),
        }
    }

    /// The txid of flushed tx number `n`.
    pub(crate) fn txid(&self, n: TxNum) -> Result<Option<Txid>, IndexError> {
        match self
            .db
            .get_pinned_cf(self.cf(Cf::TxIds)?, tx_num_bytes(n))?
        {
            Some(v) => Ok(Some(read_txid(&v)?)),
            None => Ok(None),
        }
    }

    /// A reusable finder of flushed UTXOs by outpoint (one iterator for a whole block: no
    /// write happens while a block is processed).
    pub(crate) fn utxo_finder(&self) -> Result<UtxoFinder<'_>, IndexError> {
        let mut opts = ReadOptions::default();
        opts.set_prefix_same_as_start(true);
        Ok(UtxoFinder {
            it: self.db.raw_iterator_cf_opt(self.cf(Cf::Outpoints)?, opts),
            store: self,
            candidates: Vec::new(),
        })
    }

    /// SHA-256 over every column family open, in [`Cf::ALL`] order (then `default`): for
    /// each, its name, then every key and value in key order, each preceded by its length
    /// (u32 LE).
    pub(crate) fn digest(&self) -> Result<[u8; 32], IndexError> {
        let mut engine = sha256::Hash::engine();
        let names = self.cfs.iter().map(|c| c.name()).chain(["default"]);
        for name in names {
            let cf = self
                .db
                .cf_handle(name)
                .ok_or_else(|| IndexError::Corrupt(format!("column family {name} missing")))?;
            engine.input(&(name.len() as u32).to_le_bytes());
            engine.input(name.as_bytes());
            for item in self
                .db
                .iterator_cf_opt(cf, total_order(), IteratorMode::Start)
            {
                let (k, v) = item?;
                engine.input(&(k.len() as u32).to_le_bytes());
                engine.input(&k);
                engine.input(&(v.len() as u32).to_le_bytes());
                engine.input(&v);
            }
        }
        Ok(sha256::Hash::from_engine(engine).to_byte_array())
    }
}

/// Read options for whole-column-family scans (ignoring prefix filters).
pub(crate) fn total_order() -> ReadOptions {
    let mut opts = ReadOptions::default();
    opts.set_total_order_seek(true);
    opts
}

pub(crate) fn decode_header(v: &[u8], height: u32) -> Result<Header, IndexError> {
    if v.len() != 80 {
        return Err(IndexError::Corrupt(format!(
            "header {height} has {} bytes",
            v.len()
        )));
    }
    deserialize(v).map_err(|e| IndexError::Corrupt(format!("header {height}: {e}")))
}

/// Finds flushed UTXOs by outpoint, through the `outpoints` column family.
pub(crate) struct UtxoFinder<'a> {
    it: DBRawIteratorWithThreadMode<'a, DB>,
    store: &'a Store,
    candidates: Vec<UtxoRow>,
}

impl UtxoFinder<'_> {
    /// The flushed unspent output at `op`, if any.
    ///
    /// Rows matching `txid[..6] ‖ vout` are candidates. Unless `verify`, a single candidate
    /// is taken as the output: valid blocks only spend outputs that exist, and an output not
    /// in the cache is in the database, so it is among the candidates. With several
    /// candidates (a prefix collision), or with `verify` (the output may not exist), each
    /// candidate's txid is read to pick the right one.
    pub(crate) fn find(
        &mut self,
        op: &OutPoint,
        verify: bool,
    ) -> Result<Option<UtxoRow>, IndexError> {
        let prefix = outpoint_prefix(&op.txid, op.vout);
        self.candidates.clear();
        self.it.seek(prefix);
        while let Some((k, v)) = self.it.item() {
            if !k.starts_with(&prefix) {
                break;
            }
            self.candidates.push(UtxoRow::from_outpoint_row(k, v)?);
            self.it.next();
        }
        self.it.status()?;
        if self.candidates.is_empty() || (self.candidates.len() == 1 && !verify) {
            return Ok(self.candidates.first().copied());
        }
        for c in &self.candidates {
            if self.store.txid(c.tx_num)? == Some(op.txid) {
                return Ok(Some(*c));
            }
        }
        Ok(None)
    }
}
