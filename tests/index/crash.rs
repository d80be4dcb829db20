//! Interrupted flushes, torn write-ahead logs, and what `Index::open` refuses.

use std::path::{Path, PathBuf};

use bitcoin::hashes::{sha256d, Hash};
use bitcoin::Network;
use ferrumx::index::{Index, IndexError};
use ferrumx_simnode::{GenParams, Node};

use super::{check_against_truth, fresh_digest, open, sync_to, TempDir, REORG_LIMIT, SMALL_CACHE};

#[test]
fn interrupted_flush_resumes_to_the_same_index() {
    let node = Node::generate(GenParams::fixture(14));
    let want = fresh_digest(&node);
    let dir = TempDir::new("crash");
    {
        let mut index = open(&dir, 1 << 30);
        sync_to(&mut index, &node, 90);
        index.flush().unwrap();
        sync_to(&mut index, &node, 130);
        // Dropped without flushing: 91..=130 were only in memory.
    }
    let mut index = open(&dir, SMALL_CACHE);
    assert_eq!(index.tip(), Some((90, node.hash_at(90).unwrap())));
    assert_eq!(index.flushed_tip(), index.tip());
    assert_eq!(index.reader().tip(), index.tip());
    sync_to(&mut index, &node, node.tip_height());
    index.flush().unwrap();
    assert_eq!(index.content_digest().unwrap(), want);
    check_against_truth(&index.reader(), &node);
}

/// The newest write-ahead log file in `dir`.
fn newest_wal(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .max()
        .expect("a WAL file")
}

#[test]
fn torn_flush_batch_is_rolled_back() {
    let node = Node::generate(GenParams::fixture(15));
    let want = fresh_digest(&node);
    let dir = TempDir::new("torn");
    {
        let mut index = open(&dir, 1 << 30);
        sync_to(&mut index, &node, 120);
        index.flush().unwrap();
    }
    // Reopening recovers the log into table files and starts a new log, so the next flush
    // batch is the only record of the newest log.
    let digest_120 = {
        let mut index = open(&dir, 1 << 30);
        let d = index.content_digest().unwrap();
        sync_to(&mut index, &node, 140);
        index.flush().unwrap();
        d
    };
    let wal = newest_wal(dir.path());
    let len = std::fs::metadata(&wal).unwrap().len();
    assert!(
        len > 1000,
        "the flush batch should be in {wal:?} ({len} bytes)"
    );
    // A write torn half-way (power loss during the flush).
    let f = std::fs::OpenOptions::new().write(true).open(&wal).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);

    let mut index = open(&dir, SMALL_CACHE);
    assert_eq!(index.tip(), Some((120, node.hash_at(120).unwrap())));
    assert_eq!(index.content_digest().unwrap(), digest_120);
    sync_to(&mut index, &node, node.tip_height());
    index.flush().unwrap();
    assert_eq!(index.content_digest().unwrap(), want);
}

/// Opens the raw RocksDB of an index (closed) and runs `f` on its `meta` column family.
fn with_raw_meta(dir: &Path, f: impl FnOnce(&rocksdb::DB, &rocksdb::ColumnFamily)) {
    let names = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir).unwrap();
    let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), dir, &names).unwrap();
    f(&db, db.cf_handle("meta").unwrap());
}

fn reseal(state: &mut [u8]) {
    let n = state.len();
    let check = sha256d::Hash::hash(&state[..n - 4]);
    state[n - 4..].copy_from_slice(&check.as_byte_array()[..4]);
}

#[test]
fn open_checks_network_version_and_state() {
    let dir = TempDir::new("open");
    let tip = {
        let index = open(&dir, 1 << 20);
        index.tip().unwrap()
    };
    assert_eq!(
        tip.1,
        bitcoin::blockdata::constants::genesis_block(Network::Regtest).block_hash()
    );
    // Another network.
    for network in [Network::Bitcoin, Network::Testnet, Network::Signet] {
        let err = Index::open(dir.path(), network, 1 << 20, REORG_LIMIT).unwrap_err();
        assert!(matches!(err, IndexError::WrongNetwork { .. }), "{err}");
    }
    // Another layout version.
    let mut original = Vec::new();
    with_raw_meta(dir.path(), |db, meta| {
        original = db.get_cf(meta, b"state").unwrap().unwrap();
        let mut v = original.clone();
        v[8..12].copy_from_slice(&99u32.to_le_bytes());
        reseal(&mut v);
        db.put_cf(meta, b"state", v).unwrap();
    });
    let err = Index::open(dir.path(), Network::Regtest, 1 << 20, REORG_LIMIT).unwrap_err();
    assert!(
        matches!(err, IndexError::Version { found: 99, .. }),
        "{err}"
    );
    // Corrupt state records: a flipped bit, truncated, empty, a state claiming more blocks.
    let mut claims_more = original.clone();
    claims_more[44..48].copy_from_slice(&5u32.to_le_bytes());
    reseal(&mut claims_more);
    let mut flipped = original.clone();
    flipped[50] ^= 4;
    for bad in [flipped, original[..40].to_vec(), Vec::new(), claims_more] {
        with_raw_meta(dir.path(), |db, meta| {
            db.put_cf(meta, b"state", &bad).unwrap()
        });
        let err = Index::open(dir.path(), Network::Regtest, 1 << 20, REORG_LIMIT).unwrap_err();
        assert!(matches!(err, IndexError::Corrupt(_)), "{err}");
    }
    // No state record but data.
    with_raw_meta(dir.path(), |db, meta| db.delete_cf(meta, b"state").unwrap());
    let err = Index::open(dir.path(), Network::Regtest, 1 << 20, REORG_LIMIT).unwrap_err();
    assert!(matches!(err, IndexError::Corrupt(_)), "{err}");
    // Restored: opens again.
    with_raw_meta(dir.path(), |db, meta| {
        db.put_cf(meta, b"state", &original).unwrap()
    });
    let index = open(&dir, 1 << 20);
    assert_eq!(index.tip(), Some(tip));
    // A second writer on the same directory is refused (RocksDB's lock).
    let err = Index::open(dir.path(), Network::Regtest, 1 << 20, REORG_LIMIT).unwrap_err();
    assert!(matches!(err, IndexError::Open { .. }), "{err}");
}
