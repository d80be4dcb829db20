//! Bulk flushes: a flush of many blocks (the initial sync) written as sorted table files and
//! ingested, instead of a write batch through the write-ahead log and the memtables.
//!
//! A write batch of a whole flush costs RocksDB three passes over the rows: the write-ahead
//! log (written and fsynced), the memtables (one skip-list insert per row, which dominated
//! the sync's profile), and later the memtable flush that turns them into table files. A
//! bulk flush does the last pass only, on sorted runs ([`CfRows`]), one table file per
//! column family, two at a time; RocksDB then adds each file to its manifest.
//!
//! RocksDB's C API ingests into one column family at a time, so atomicity across column
//! families is ours, by a journal (redo) record:
//!
//! 1. **Stage.** Each column family's rows go to `bulk/<cf>.sst` in the database directory
//!    (leftovers of an earlier attempt removed first); each file is synced, then the
//!    directory. A crash here leaves the database as it was; `recover` removes the files.
//! 2. **Commit point.** `meta` `bulk` := the new state record, one synced write-ahead-log
//!    write. From here on the flush happens, whatever comes.
//! 3. **Ingest** the files one by one (moved: hard-linked into the database, then their
//!    names in `bulk/` removed).
//! 4. **Seal.** One synced batch writes the state record and deletes `meta` `bulk`.
//!
//! At open (`recover`), a journal means a crash between 2 and 4: the files still in `bulk/`
//! are ingested (again, if the crash came between RocksDB's manifest write and its removal
//! of the name outside: puts and deletes of the same rows twice leave the same content, and
//! nothing else was written since), then step 4 is taken. Without a journal, `bulk/` is
//! removed. Readers never see a half-ingested flush: the writer holds the view lock (under
//! which readers take their snapshots) from step 3 to the end of step 4, and recovery runs
//! before any reader exists.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rocksdb::{SstFileWriter, WriteBatch};

use super::cache::{Cache, Span};
use super::error::IndexError;
use super::rows::{CfRows, Row};
use super::schema::{Cf, StateRecord, BULK_KEY, STATE_KEY};
use super::store::Store;
use super::view::{Shared, View};

/// The staging directory, inside the database directory (hard links need the same file
/// system; RocksDB ignores directories it did not make).
pub(crate) const BULK_DIR: &str = "bulk";

/// A flush of several blocks whose cache holds at least this many bytes is a bulk flush
/// (sorted table files, ingested): every flush of the initial sync with CACHE_MB ≥ 1, never
/// a flush at the tip (one block).
pub const BULK_MIN_BYTES: usize = 512 << 10;

/// The column families a flush writes (all but `meta`), the largest first: the order in
/// which a bulk flush's writers take them.
pub(crate) const ORDER: [Cf; 9] = [
    Cf::History,
    Cf::Spenders,
    Cf::TxIds,
    Cf::Undo,
    Cf::TxPrefix,
    Cf::Outpoints,
    Cf::Utxos,
    Cf::Headers,
    Cf::TxCounts,
];

/// Where a bulk flush may be stopped on purpose, as a crash would stop it (tests of the
/// crash windows): after staging, after the commit point, or after ingesting that many
/// column families' files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkStop {
    Staged,
    Journaled,
    Ingested(usize),
}

fn file_err(path: &Path) -> impl FnOnce(std::io::Error) -> IndexError + '_ {
    move |source| IndexError::File {
        path: path.to_path_buf(),
        source,
    }
}

fn staging(store: &Store) -> PathBuf {
    store.path().join(BULK_DIR)
}

fn staged_file(dir: &Path, cf: Cf) -> PathBuf {
    dir.join(format!("{}.sst", cf.name()))
}

/// Removes the staging directory and what is in it.
fn clear(dir: &Path) -> Result<(), IndexError> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(file_err(dir)(e)),
        _ => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> Result<(), IndexError> {
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(file_err(dir))
}

/// Writes one column family's sorted rows to a table file with its options (compression,
/// filters, prefix extractor); RocksDB syncs the file when it is finished.
fn write_table(store: &Store, rows: &CfRows<'_>, path: &Path) -> Result<(), IndexError> {
    let opts = store.cf_options(rows.cf);
    let mut w = SstFileWriter::create(&opts);
    w.open(path)?;
    for row in rows.iter() {
        match row {
            Row::Put(k, v) => w.put(k, v)?,
            Row::Delete(k) => w.delete(k)?,
        }
    }
    w.finish()?;
    Ok(())
}

/// Threads writing table files. Each holds one column family's sorted rows at a time, so
/// this also bounds the memory a bulk flush adds to the cache's.
const WRITERS: usize = 2;

/// Step 1: the rows of `cfs` (made by `make`, sorted) as table files in the staging
/// directory, synced; [`WRITERS`] column families at a time, the largest first. Returns the
/// column families staged (those with rows) and the bytes of their keys and values.
fn stage<'a>(
    store: &Store,
    cfs: &[Cf],
    make: &(dyn Fn(Cf) -> Result<CfRows<'a>, IndexError> + Sync),
) -> Result<(Vec<Cf>, usize), IndexError> {
    let dir = staging(store);
    clear(&dir)?;
    fs::create_dir_all(&dir).map_err(file_err(&dir))?;
    let next = AtomicUsize::new(0);
    let work = |staged: &mut Vec<Cf>, bytes: &mut usize| -> Result<(), IndexError> {
        while let Some(&cf) = cfs.get(next.fetch_add(1, Ordering::Relaxed)) {
            let rows = make(cf)?;
            if !rows.is_empty() {
                write_table(store, &rows, &staged_file(&dir, cf))?;
                staged.push(cf);
                *bytes += rows.data_bytes();
            }
        }
        Ok(())
    };
    let results: Vec<Result<(Vec<Cf>, usize), IndexError>> = std::thread::scope(|s| {
        let jobs: Vec<_> = (0..WRITERS)
            .map(|_| {
                s.spawn(|| {
                    let (mut staged, mut bytes) = (Vec::new(), 0);
                    work(&mut staged, &mut bytes).map(|()| (staged, bytes))
                })
            })
            .collect();
        jobs.into_iter()
            .map(|j| {
                j.join().unwrap_or_else(|_| {
                    Err(IndexError::Corrupt(
                        "writing a table file panicked".to_string(),
                    ))
                })
            })
            .collect()
    });
    let (mut staged, mut bytes) = (Vec::new(), 0);
    for r in results {
        let (s, b) = r?;
        staged.extend(s);
        bytes += b;
    }
    sync_dir(&dir)?;
    Ok((staged, bytes))
}

/// Steps 3 and 4 for the staged files of `cfs` that are still there (all of them, or in
/// recovery those not yet ingested), then the staging directory is removed. `stop` ends it
/// early on purpose (tests).
fn ingest_and_seal(
    store: &Store,
    cfs: &[Cf],
    state: &[u8],
    stop: Option<BulkStop>,
) -> Result<bool, IndexError> {
    let dir = staging(store);
    for (i, &cf) in cfs.iter().enumerate() {
        if stop == Some(BulkStop::Ingested(i)) {
            return Ok(false);
        }
        let path = staged_file(&dir, cf);
        if path.exists() {
            store.ingest(cf, &path)?;
        }
    }
    if stop.is_some() {
        return Ok(false);
    }
    let meta = store.cf(Cf::Meta)?;
    let mut batch = WriteBatch::default();
    batch.put_cf(meta, STATE_KEY, state);
    batch.delete_cf(meta, BULK_KEY);
    store.write_synced(batch)?;
    clear(&dir)?;
    Ok(true)
}

/// Steps 1 and 2 of a bulk flush of the rows of `cfs` (made by `make`) committing to the
/// encoded state record `state`: returns the column families staged and the bytes of their
/// keys and values, or `None` if `stop` stopped it (before the commit point, or right after
/// it). The caller then takes the readers' view lock and calls [`finish`].
pub(crate) fn prepare<'a>(
    store: &Store,
    cfs: &[Cf],
    make: &(dyn Fn(Cf) -> Result<CfRows<'a>, IndexError> + Sync),
    state: &[u8],
    stop: Option<BulkStop>,
) -> Result<Option<(Vec<Cf>, usize)>, IndexError> {
    let (cfs, bytes) = stage(store, cfs, make)?;
    if stop == Some(BulkStop::Staged) {
        return Ok(None);
    }
    let mut batch = WriteBatch::default();
    batch.put_cf(store.cf(Cf::Meta)?, BULK_KEY, state);
    store.write_synced(batch)?;
    if stop == Some(BulkStop::Journaled) {
        return Ok(None);
    }
    Ok(Some((cfs, bytes)))
}

/// Steps 3 and 4 of a bulk flush [`prepare`]d (call it under the readers' view lock):
/// whether it completed (`false` only when `stop` stopped it).
pub(crate) fn finish(
    store: &Store,
    cfs: &[Cf],
    state: &[u8],
    stop: Option<BulkStop>,
) -> Result<bool, IndexError> {
    ingest_and_seal(store, cfs, state, stop)
}

/// At open, before the state record is read: finishes a bulk flush that passed its commit
/// point (its journal is there), or removes the staged files of one that did not. Returns
/// the height of the flush finished, if any.
pub(crate) fn recover(store: &Store) -> Result<Option<u32>, IndexError> {
    let dir = staging(store);
    let journal = store.db().get_cf(store.cf(Cf::Meta)?, BULK_KEY)?;
    let Some(state) = journal else {
        clear(&dir)?;
        return Ok(None);
    };
    let record = StateRecord::decode(&state)?;
    ingest_and_seal(store, &Cf::ALL, &state, None)?;
    Ok(Some(record.height))
}

/// A whole bulk flush of the rows of `cache` in `span` (its history keys sorted in place
/// first), committing to `state` and `view`:
/// the table files are written and the journal committed outside the readers' view lock,
/// ingested and sealed under it, and `view` published. The bytes of keys and values written,
/// or `None` if `stop` stopped it.
pub(crate) fn flush(
    shared: &Shared,
    cache: &mut Cache,
    span: &Span,
    state: &StateRecord,
    view: &View,
    stop: Option<BulkStop>,
) -> Result<Option<usize>, IndexError> {
    let state = state.encode();
    let store = &shared.store;
    cache.sort_history();
    let cache = &*cache;
    let make = |cf| cache.cf_rows(span, cf);
    let Some((cfs, bytes)) = prepare(store, &ORDER, &make, &state, stop)? else {
        return Ok(None);
    };
    let mut published = shared.view_mut();
    if !finish(store, &cfs, &state, stop)? {
        return Ok(None);
    }
    *published = view.clone();
    Ok(Some(bytes))
}
