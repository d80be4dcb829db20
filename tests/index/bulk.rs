//! Bulk flushes (sorted table files, ingested, committed by a journal record): the same
//! database as write batches, and every crash window of one — before the commit point, after
//! it, between the ingestion of one column family's file and the next, before the seal, and
//! a file ingested twice — reopens at a whole flush and ends identical to an uninterrupted
//! sync.

use std::path::Path;

use ferrumx::index::{BulkStop, Index, BULK_MIN_BYTES};
use ferrumx_simnode::{GenParams, Node};

use super::{check_against_truth, fresh_digest, open, sync_to, TempDir, SMALL_CACHE};

/// The staging directory of bulk flushes, inside the database directory.
fn staging(dir: &TempDir) -> std::path::PathBuf {
    dir.path().join("bulk")
}

/// Files in a directory (none if it does not exist).
fn files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

/// Syncs the whole chain with `cache` bytes, every flush of several blocks a bulk flush
/// (`bulk`) or none; the digest and the number of bulk flushes.
fn sync_with(node: &Node, cache: usize, bulk: bool) -> ([u8; 32], usize) {
    let dir = TempDir::new("bulk-sync");
    let mut index = open(&dir, cache);
    index.set_bulk_min_bytes(if bulk { 0 } else { usize::MAX });
    let mut bulks = 0;
    for h in 1..=node.tip_height() {
        index.advance(&node.block_at(h).unwrap().raw).unwrap();
        if index.needs_flush() {
            bulks += usize::from(index.flush().unwrap().bulk);
        }
    }
    bulks += usize::from(index.flush().unwrap().bulk);
    check_against_truth(&index.reader(), node);
    assert!(files_in(&staging(&dir)).is_empty());
    (index.content_digest().unwrap(), bulks)
}

#[test]
fn bulk_flushes_write_the_same_database_as_write_batches() {
    let mut node = Node::generate(GenParams::fixture(21));
    let want = fresh_digest(&node);
    let (batches, none) = sync_with(&node, SMALL_CACHE, false);
    assert_eq!(none, 0);
    assert_eq!(batches, want);
    let (bulk, bulks) = sync_with(&node, SMALL_CACHE, true);
    assert!(bulks >= 3, "only {bulks} bulk flushes");
    assert_eq!(bulk, want, "bulk flushes of {SMALL_CACHE} bytes");
    let (one, bulks) = sync_with(&node, 1 << 30, true);
    assert_eq!(bulks, 1);
    assert_eq!(one, want, "one bulk flush");

    // Rollbacks over ingested rows, then tip flushes (one block: write batches) and bulk
    // flushes mixed, equal a fresh index of the final chain.
    let dir = TempDir::new("bulk-reorg");
    let mut index = open(&dir, SMALL_CACHE);
    index.set_bulk_min_bytes(0);
    sync_to(&mut index, &node, node.tip_height());
    index.flush().unwrap();
    for depth in [2, 5] {
        node.add_traffic(20);
        node.mine(3).expect("mine");
        sync_to(&mut index, &node, node.tip_height());
        assert!(index.flush().unwrap().bulk);
        let tip = node.tip_height();
        node.reorg(depth, depth + 1).expect("reorg");
        let fork = tip - depth;
        index.backup(fork).unwrap();
        for h in fork + 1..=node.tip_height() {
            index.advance(&node.block_at(h).unwrap().raw).unwrap();
            assert!(!index.flush().unwrap().bulk, "one block is a write batch");
        }
        check_against_truth(&index.reader(), &node);
        assert_eq!(index.content_digest().unwrap(), fresh_digest(&node));
    }
}

#[test]
fn the_initial_sync_flushes_in_bulk_and_the_tip_does_not() {
    // Big enough for a cache of 1 MB to fill several times.
    let node = Node::generate(GenParams::sized(22, 5_000, 30));
    let dir = TempDir::new("bulk-default");
    // A cache of 1 MB (CACHE_MB=1) fills past the bulk threshold.
    let mut index = open(&dir, 1 << 20);
    let mut flushed = Vec::new();
    for h in 1..=node.tip_height() {
        index.advance(&node.block_at(h).unwrap().raw).unwrap();
        if index.cache_bytes() >= BULK_MIN_BYTES {
            flushed.push(index.flush().unwrap().bulk);
        }
    }
    assert!(
        flushed.len() >= 3 && flushed.iter().all(|b| *b),
        "{flushed:?}"
    );
    index.flush().unwrap();
    // One block, even a big one, is a write batch.
    let mut node = node;
    node.add_traffic(200);
    node.mine(1).expect("mine");
    index
        .advance(&node.block_at(node.tip_height()).unwrap().raw)
        .unwrap();
    let stats = index.flush().unwrap();
    assert!(!stats.bulk && stats.blocks == 1, "{stats:?}");
    check_against_truth(&index.reader(), &node);
}

/// The digest of an index of the node's chain up to `height`, flushed once.
fn digest_at(node: &Node, height: u32) -> [u8; 32] {
    let dir = TempDir::new("bulk-at");
    let mut index = open(&dir, 1 << 30);
    index.set_bulk_min_bytes(usize::MAX);
    sync_to(&mut index, node, height);
    index.flush().unwrap();
    index.content_digest().unwrap()
}

#[test]
fn a_bulk_flush_stopped_anywhere_reopens_at_a_whole_flush() {
    let node = Node::generate(GenParams::fixture(23));
    let want = fresh_digest(&node);
    let (at_90, at_130) = (digest_at(&node, 90), digest_at(&node, 130));
    // Column families with rows in the flush of 91..=130: all but `meta`.
    let stops = [
        (BulkStop::Staged, 90),
        (BulkStop::Journaled, 130),
        (BulkStop::Ingested(0), 130),
        (BulkStop::Ingested(1), 130),
        (BulkStop::Ingested(4), 130),
        (BulkStop::Ingested(8), 130),
        (BulkStop::Ingested(100), 130),
    ];
    for (stop, resumes_at) in stops {
        let dir = TempDir::new("bulk-stop");
        {
            let mut index = open(&dir, 1 << 30);
            sync_to(&mut index, &node, 90);
            index.flush().unwrap();
            sync_to(&mut index, &node, 130);
            assert!(index.flush_stopped_at(stop).unwrap(), "{stop:?}");
            if matches!(stop, BulkStop::Staged | BulkStop::Journaled) {
                assert!(!files_in(&staging(&dir)).is_empty(), "{stop:?}");
            }
            // Dropped as a kill -9 would leave it (nothing more is written).
        }
        let mut index = open(&dir, SMALL_CACHE);
        assert_eq!(
            index.tip(),
            Some((resumes_at, node.hash_at(resumes_at).unwrap())),
            "{stop:?}"
        );
        assert_eq!(index.reader().tip(), index.tip(), "{stop:?}");
        let expected = if resumes_at == 90 { at_90 } else { at_130 };
        assert_eq!(index.content_digest().unwrap(), expected, "{stop:?}");
        assert!(files_in(&staging(&dir)).is_empty(), "{stop:?}");
        index.set_bulk_min_bytes(0);
        sync_to(&mut index, &node, node.tip_height());
        index.flush().unwrap();
        assert_eq!(index.content_digest().unwrap(), want, "{stop:?}");
        check_against_truth(&index.reader(), &node);
    }
}

/// Opens the raw RocksDB of an index (closed) and runs `f` on its `meta` column family.
fn with_raw_meta(dir: &Path, f: impl FnOnce(&rocksdb::DB, &rocksdb::ColumnFamily)) {
    let names = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir).unwrap();
    let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), dir, &names).unwrap();
    f(&db, db.cf_handle("meta").unwrap());
}

/// A crash after RocksDB recorded an ingestion but before it removed the file's name in the
/// staging directory: recovery ingests that file again, which changes nothing.
#[test]
fn a_file_ingested_twice_changes_nothing() {
    let node = Node::generate(GenParams::fixture(24));
    let want = fresh_digest(&node);
    let dir = TempDir::new("bulk-twice");
    let aside = TempDir::new("bulk-aside");
    {
        let mut index = open(&dir, 1 << 30);
        sync_to(&mut index, &node, 100);
        index.flush().unwrap();
        sync_to(&mut index, &node, 140);
        assert!(index.flush_stopped_at(BulkStop::Journaled).unwrap());
    }
    // Keep a copy of the staged files, let recovery ingest them all and seal.
    std::fs::create_dir_all(aside.path()).unwrap();
    for f in files_in(&staging(&dir)) {
        std::fs::copy(&f, aside.path().join(f.file_name().unwrap())).unwrap();
    }
    let digest_140 = {
        let index = open(&dir, SMALL_CACHE);
        assert_eq!(index.tip(), Some((140, node.hash_at(140).unwrap())));
        index.content_digest().unwrap()
    };
    assert_eq!(digest_140, digest_at(&node, 140));
    // Put the files and the journal back, as if the crash had come after the ingestions
    // but before the names outside and the journal were removed.
    std::fs::create_dir_all(staging(&dir)).unwrap();
    for f in files_in(aside.path()) {
        std::fs::copy(&f, staging(&dir).join(f.file_name().unwrap())).unwrap();
    }
    with_raw_meta(dir.path(), |db, meta| {
        let state = db.get_cf(meta, b"state").unwrap().unwrap();
        db.put_cf(meta, b"bulk", state).unwrap();
    });
    let mut index = open(&dir, SMALL_CACHE);
    assert_eq!(index.tip(), Some((140, node.hash_at(140).unwrap())));
    assert_eq!(index.content_digest().unwrap(), digest_140);
    assert!(files_in(&staging(&dir)).is_empty());
    sync_to(&mut index, &node, node.tip_height());
    index.flush().unwrap();
    assert_eq!(index.content_digest().unwrap(), want);
    check_against_truth(&index.reader(), &node);
}

/// Readers on another thread see only whole flushes while bulk flushes ingest one column
/// family after another.
#[test]
fn readers_never_see_half_a_bulk_flush() {
    let node = Node::generate(GenParams::fixture(25));
    let dir = TempDir::new("bulk-readers");
    let mut index: Index = open(&dir, SMALL_CACHE);
    index.set_bulk_min_bytes(0);
    let reader = index.reader();
    // The busiest script hashes.
    let mut hot: Vec<_> = node.truth.script_hashes().copied().collect();
    hot.sort_by_key(|sh| std::cmp::Reverse(node.truth.history_len(sh)));
    hot.truncate(5);
    let truth = &node.truth;
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let checker = s.spawn(|| {
            let mut consistent = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for sh in &hot {
                    let before = reader.tip().unwrap().0;
                    let history = reader.history(&sh.0, 0, usize::MAX).unwrap();
                    let utxos = reader.utxos(&sh.0).unwrap();
                    let after = reader.tip().unwrap().0;
                    let h = history.last().map_or(0, |e| e.1);
                    assert!(h <= after, "saw height {h} beyond the flushed tip {after}");
                    if before == after {
                        let want: Vec<_> = truth
                            .history(sh, Some(after))
                            .iter()
                            .map(|e| (e.txid, e.height))
                            .collect();
                        assert_eq!(history, want);
                        let balance: u64 = utxos.iter().map(|u| u.value).sum();
                        assert_eq!(balance, truth.balance(sh, Some(after)));
                        consistent += 1;
                    }
                }
            }
            consistent
        });
        sync_to(&mut index, &node, node.tip_height());
        index.flush().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(checker.join().unwrap() > 0, "no consistent reads");
    });
    check_against_truth(&index.reader(), &node);
}

/// Set in the child process of [`kill9_inside_bulk_flushes_ends_identical`]: the database
/// directory and the chain file it syncs.
const KILL_CHILD: &str = "FERRUMX_BULK_KILL_CHILD";

/// The child: syncs the chain in `chain` into the index at `dir`, every flush a bulk flush
/// (a 256 KB cache), then exits.
fn kill_child(spec: &str) {
    let (dir, chain) = spec.split_once('\n').expect("dir and chain");
    let node = ferrumx_simnode::chainfile::load(Path::new(chain)).expect("chain");
    let mut index = Index::open(
        Path::new(dir),
        bitcoin::Network::Regtest,
        256 << 10,
        super::REORG_LIMIT,
    )
    .expect("open");
    index.set_bulk_min_bytes(0);
    sync_to(&mut index, &node, node.tip_height());
    index.flush().expect("flush");
}

/// kill -9 of a process syncing with bulk flushes, 0–3 ms after a flush's staging directory
/// appears (inside the staging) or, every other round, after its journal is written (inside
/// the ingestions or the seal), again and again until it finishes: each restart opens at a whole flush (the tip never goes down), and the
/// end equals an uninterrupted sync and the truth.
#[test]
fn kill9_inside_bulk_flushes_ends_identical() {
    if let Ok(spec) = std::env::var(KILL_CHILD) {
        kill_child(&spec);
        return;
    }
    let node = Node::generate(GenParams::sized(26, 5_000, 30));
    let want = fresh_digest(&node);
    let files = TempDir::new("bulk-kill-chain");
    std::fs::create_dir_all(files.path()).unwrap();
    let chain = files.path().join("chain");
    ferrumx_simnode::chainfile::save(&node, &chain).unwrap();
    let dir = TempDir::new("bulk-kill");
    let mut rng = ferrumx_testkit::rng::Rng::new(26);
    let (mut kills, mut journaled, mut last) = (0, 0, 0);
    let mut digests = std::collections::HashMap::new();
    for round in 0.. {
        assert!(round < 200, "the child never finished");
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "bulk::kill9_inside_bulk_flushes_ends_identical",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(
                KILL_CHILD,
                format!("{}\n{}", dir.path().display(), chain.display()),
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Wait for a flush's staging directory (or the end).
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "round {round}: the child failed: {status}"
                );
                break true;
            }
            if staging(&dir).exists() {
                break false;
            }
            std::thread::sleep(std::time::Duration::from_micros(100));
        };
        if finished {
            break;
        }
        // Every other round after the flush's first write to the write-ahead log: its
        // journal, the commit point (inside the ingestions or the seal).
        if round % 2 == 1 {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
            let done = || !staging(&dir).exists();
            ferrumx_testkit::wait_for_wal_writes(dir.path(), 1, until, done);
            journaled += 1;
        }
        std::thread::sleep(std::time::Duration::from_micros(rng.below(3000) as u64));
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        let index = open(&dir, SMALL_CACHE);
        let (h, hash) = index.tip().unwrap();
        assert_eq!(node.hash_at(h), Some(hash), "round {round}");
        assert!(h >= last, "round {round}: reopened at {h}, below {last}");
        assert!(files_in(&staging(&dir)).is_empty(), "round {round}");
        let at_h = *digests.entry(h).or_insert_with(|| digest_at(&node, h));
        assert_eq!(index.content_digest().unwrap(), at_h, "round {round}");
        last = h;
    }
    eprintln!(
        "{kills} kills inside bulk flushes ({journaled} after the journal), the last one \
         reopened at {last}"
    );
    assert!(kills >= 5, "only {kills} kills");
    let index = open(&dir, SMALL_CACHE);
    assert_eq!(index.tip(), Some((node.tip_height(), node.tip_hash())));
    assert_eq!(index.content_digest().unwrap(), want);
    check_against_truth(&index.reader(), &node);
}
