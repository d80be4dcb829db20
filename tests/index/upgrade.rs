//! The in-place upgrade of a database of the previous layout (no spender index, format
//! version 1) to the current one, in process: written by the previous layout's code path
//! (`Index::open_pre_spenders`: the same rows through the same code, without the `spenders`
//! column family, version 1 in the state record), then opened by the current code, its
//! blocks given again, interrupted (unflushed work lost, as a kill -9 loses it) and resumed:
//! the result equals a fresh sync, byte for byte, and answers like the truth. The server
//! doing it with the daemon, killed by kill -9, is `tests/upgrade.rs`.

use bitcoin::{Network, OutPoint};
use ferrumx::index::{Index, IndexError, DB_VERSION_PRE_SPENDERS};
use ferrumx_simnode::{GenParams, Node};

use super::{check_against_truth, fresh_digest, open, TempDir, REORG_LIMIT, SMALL_CACHE};

/// The column families and the state record's version of a closed database.
fn layout(dir: &TempDir) -> (Vec<String>, u32) {
    let names = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).unwrap();
    let db =
        rocksdb::DB::open_cf_for_read_only(&rocksdb::Options::default(), dir.path(), &names, false)
            .unwrap();
    let state = db
        .get_cf(db.cf_handle("meta").unwrap(), b"state")
        .unwrap()
        .unwrap();
    let version = u32::from_le_bytes(state[8..12].try_into().unwrap());
    (names, version)
}

/// A database of the previous layout holding the node's chain, written with a small cache
/// (many flushes), as the previous version would have.
fn previous_layout(node: &Node, tag: &str) -> TempDir {
    let dir = TempDir::new(tag);
    let mut index =
        Index::open_pre_spenders(dir.path(), Network::Regtest, SMALL_CACHE, REORG_LIMIT).unwrap();
    for h in 1..=node.tip_height() {
        index.advance(&node.block_at(h).unwrap().raw).unwrap();
        if index.needs_flush() {
            index.flush().unwrap();
        }
    }
    index.flush().unwrap();
    drop(index);
    let (names, version) = layout(&dir);
    assert!(!names.iter().any(|n| n == "spenders"), "{names:?}");
    assert_eq!(version, DB_VERSION_PRE_SPENDERS);
    dir
}

#[test]
fn an_interrupted_upgrade_resumes_and_equals_a_fresh_sync() {
    let node = Node::generate(GenParams::fixture(21));
    let tip = node.tip_height();
    let want = fresh_digest(&node);
    let dir = previous_layout(&node, "upgrade");

    // Opened by the current code (a 2 KB cache: flushes every few blocks): the upgrade is
    // pending, and nothing else is allowed.
    let mut index = open(&dir, 2 * 1024);
    let p = index.upgrade_progress().expect("an upgrade is pending");
    assert_eq!((p.next, p.tip), (1, tip));
    let err = index.advance(&node.block_at(tip).unwrap().raw).unwrap_err();
    assert!(
        matches!(err, IndexError::Upgrading { next: 1, .. }),
        "{err}"
    );
    assert!(matches!(
        index.backup(tip - 1),
        Err(IndexError::Upgrading { .. })
    ));
    let op = OutPoint::new(node.block_at(5).unwrap().txids[0], 0);
    assert!(matches!(
        index.reader().outpoint_status(&op),
        Err(IndexError::Upgrading { .. })
    ));
    // Not our block: refused, nothing added.
    let err = index
        .upgrade_block(&node.block_at(2).unwrap().raw)
        .unwrap_err();
    assert!(
        matches!(err, IndexError::BadBlock { height: 1, .. }),
        "{err}"
    );

    // Part of the way, flushing on budget (blocks 1..=100 hold only coinbases); then blocks
    // given but never flushed (a crash).
    let mut budget_flushes = 0;
    for h in 1..=130 {
        index.upgrade_block(&node.block_at(h).unwrap().raw).unwrap();
        if index.needs_flush() {
            index.upgrade_flush().unwrap();
            budget_flushes += 1;
        }
    }
    index.upgrade_flush().unwrap();
    let resumed_at = 131;
    for h in resumed_at..=140 {
        index.upgrade_block(&node.block_at(h).unwrap().raw).unwrap();
    }
    assert!(budget_flushes > 2, "{budget_flushes} flushes on budget");
    drop(index);

    // Resumed where the last flush left it.
    let mut index = open(&dir, 1 << 30);
    let p = index.upgrade_progress().expect("still pending");
    assert_eq!((p.next, p.tip), (resumed_at, tip));
    for h in resumed_at..=tip {
        index.upgrade_block(&node.block_at(h).unwrap().raw).unwrap();
    }
    // Every block given: one more is refused.
    assert!(index
        .upgrade_block(&node.block_at(tip).unwrap().raw)
        .is_err());
    index.upgrade_flush().unwrap();
    assert_eq!(index.upgrade_progress(), None);
    assert_eq!(index.content_digest().unwrap(), want);
    check_against_truth(&index.reader(), &node);
    drop(index);
    let (names, version) = layout(&dir);
    assert!(names.iter().any(|n| n == "spenders"), "{names:?}");
    assert_eq!(version, ferrumx::index::DB_VERSION);

    // Upgraded, it syncs on like any other.
    let mut index = open(&dir, SMALL_CACHE);
    assert_eq!(index.upgrade_progress(), None);
    assert_eq!(index.tip().map(|t| t.0), Some(tip));
    index.backup(tip - 3).unwrap();
    for h in tip - 2..=tip {
        index.advance(&node.block_at(h).unwrap().raw).unwrap();
    }
    index.flush().unwrap();
    assert_eq!(index.content_digest().unwrap(), want);
}

#[test]
fn the_previous_layout_writer_refuses_a_current_database() {
    let dir = TempDir::new("current");
    drop(open(&dir, SMALL_CACHE));
    let err = Index::open_pre_spenders(dir.path(), Network::Regtest, SMALL_CACHE, REORG_LIMIT)
        .unwrap_err();
    assert!(
        matches!(err, IndexError::Open { .. } | IndexError::Version { .. }),
        "{err}"
    );
}
