//! The index driven directly with the stand-in's raw blocks (no daemon, no server): every
//! query against the generator's truth, reorgs against a fresh index of the final chain
//! (full-content digest), interrupted flushes and torn write-ahead logs, refusals at open,
//! concurrent readers and odd blocks.
//!
//! Layout: this file (helpers, sync and reorg tests), `crash` (interrupted flushes, torn
//! logs, checks at open), `bulk` (bulk flushes: same content as write batches, every crash
//! window), `blocks` (bad blocks, repeated coinbases, readers while the writer
//! runs, touched script hashes, throughput), `upgrade` (a previous-layout database upgraded
//! in place, interrupted and resumed), `spenders` (the spender index: what blocks and
//! rollbacks report, its cost).

mod blocks;
mod bulk;
mod crash;
mod spenders;
mod upgrade;

use std::time::Instant;

use bitcoin::hashes::Hash;
use bitcoin::{Network, Txid};
use ferrumx::index::{HashX, Index, IndexError, IndexReader};
use ferrumx_simnode::{GenParams, Node};
use ferrumx_testkit::TempDir;

const REORG_LIMIT: u32 = 8;
/// Small enough that a fixture sync flushes many times.
const SMALL_CACHE: usize = 48 * 1024;

fn open(dir: &TempDir, cache: usize) -> Index {
    Index::open(dir.path(), Network::Regtest, cache, REORG_LIMIT).expect("open index")
}

/// Applies the node's blocks from the index tip + 1 to `to`, flushing when the cache asks;
/// returns the number of flushes.
fn sync_to(index: &mut Index, node: &Node, to: u32) -> usize {
    let from = index.tip().map_or(0, |t| t.0 + 1);
    let mut flushes = 0;
    for h in from..=to {
        let block = node.block_at(h).expect("block");
        let summary = index.advance(&block.raw).expect("advance");
        assert_eq!((summary.height, summary.hash), (h, block.hash));
        if index.needs_flush() {
            index.flush().expect("flush");
            flushes += 1;
        }
    }
    flushes
}

/// A fresh index of the node's whole chain, flushed; its digest.
fn fresh_digest(node: &Node) -> [u8; 32] {
    let dir = TempDir::new("fresh");
    let mut index = open(&dir, 1 << 30);
    sync_to(&mut index, node, node.tip_height());
    index.flush().expect("flush");
    index.content_digest().expect("digest")
}

/// Every query against the truth, for every script hash and block.
fn check_against_truth(reader: &IndexReader, node: &Node) {
    let tip = node.tip_height();
    assert_eq!(reader.tip(), Some((tip, node.tip_hash())));
    let truth = &node.truth;
    let mut checked = 0;
    for sh in truth.script_hashes() {
        let want: Vec<(Txid, u32)> = truth
            .history(sh, None)
            .iter()
            .map(|h| (h.txid, h.height))
            .collect();
        assert_eq!(reader.history(&sh.0, 0, usize::MAX).unwrap(), want, "{sh}");
        assert_eq!(reader.history_len(&sh.0).unwrap(), want.len(), "{sh}");
        let mut paged = Vec::new();
        loop {
            let page = reader.history(&sh.0, paged.len(), 7).unwrap();
            assert!(page.len() <= 7);
            if page.is_empty() {
                break;
            }
            paged.extend(page);
        }
        assert_eq!(paged, want, "pages of 7, {sh}");
        let mut after = None;
        let mut cursor_paged = Vec::new();
        loop {
            let page = reader.history_after(&sh.0, after, 7).unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.tx_num);
            cursor_paged.extend(page.iter().map(|e| (e.txid, e.height)));
        }
        assert_eq!(cursor_paged, want, "cursor pages of 7, {sh}");

        let want_utxos: Vec<_> = truth
            .utxos(sh, None)
            .iter()
            .map(|u| (u.outpoint.txid, u.outpoint.vout, u.height, u.value))
            .collect();
        let got: Vec<_> = reader
            .utxos(&sh.0)
            .unwrap()
            .iter()
            .map(|u| (u.txid, u.vout, u.height, u.value))
            .collect();
        assert_eq!(got, want_utxos, "utxos of {sh}");
        assert_eq!(reader.balance(&sh.0).unwrap(), truth.balance(sh, None));
        checked += 1;
    }
    assert!(checked > 100, "only {checked} script hashes");
    // A script hash nobody uses.
    let nobody = [0xabu8; 32];
    assert!(reader.history(&nobody, 0, 10).unwrap().is_empty());
    assert!(reader.utxos(&nobody).unwrap().is_empty());
    assert_eq!(reader.balance(&nobody).unwrap(), 0);

    let all = reader.headers(0, 10_000).unwrap();
    assert_eq!(all.len() as u32, tip + 1);
    for h in 0..=tip {
        let block = node.block_at(h).unwrap();
        assert_eq!(reader.header(h).unwrap(), Some(block.header));
        assert_eq!(all[h as usize], block.header);
        assert_eq!(reader.block_hash(h).unwrap(), Some(block.hash));
        assert_eq!(reader.block_txids(h).unwrap().as_ref(), Some(&block.txids));
        for (pos, txid) in block.txids.iter().enumerate() {
            let p = reader.tx_position(txid).unwrap().expect("tx position");
            assert_eq!((p.height, p.pos), (h, pos as u32), "{txid}");
            assert_eq!(reader.tx_hash(p.tx_num).unwrap(), Some(*txid));
            assert_eq!(reader.tx_height(p.tx_num), Some(h));
        }
    }
    assert_eq!(reader.header(tip + 1).unwrap(), None);
    assert_eq!(reader.block_txids(tip + 1).unwrap(), None);
    assert_eq!(reader.headers(tip, 5).unwrap().len(), 1);
    assert!(reader.headers(tip + 1, 5).unwrap().is_empty());
    assert!(reader.headers(3, 0).unwrap().is_empty());
    let unknown = Txid::from_byte_array([0x42; 32]);
    assert_eq!(reader.tx_position(&unknown).unwrap(), None);
    assert_eq!(reader.tx_hash(reader.tx_count()).unwrap(), None);
    let spenders = ferrumx_testkit::check_spenders(reader, node);
    assert!(
        spenders.spent > 100 && spenders.unspendable > 0,
        "{spenders:?}"
    );
}

#[test]
fn fixture_sync_matches_truth() {
    let node = Node::generate(GenParams::fixture(11));
    let tip = node.tip_height();
    assert_eq!(tip, 150);
    let dir = TempDir::new("sync");
    let mut index = open(&dir, SMALL_CACHE);
    assert_eq!(index.tip(), Some((0, node.hash_at(0).unwrap())));
    let txs: usize = (1..=tip)
        .map(|h| node.block_at(h).unwrap().txids.len())
        .sum();
    let start = Instant::now();
    let flushes = sync_to(&mut index, &node, tip);
    let stats = index.flush().expect("flush");
    let took = start.elapsed();
    eprintln!(
        "indexed {tip} blocks, {txs} txs in {took:?} ({:.0} blocks/s, {:.0} tx/s) with {} \
         flushes; last flush {stats:?}",
        f64::from(tip) / took.as_secs_f64(),
        txs as f64 / took.as_secs_f64(),
        flushes + 1
    );
    assert!(flushes >= 3, "only {flushes} flushes mid-sync");
    assert_eq!(index.flushed_tip(), index.tip());
    assert_eq!(index.cache_stats().blocks, 0);
    check_against_truth(&index.reader(), &node);

    // The same from one flush at the end: same bytes.
    assert_eq!(index.content_digest().unwrap(), fresh_digest(&node));

    // Reopened: the same tip, the same answers.
    let digest = index.content_digest().unwrap();
    drop(index);
    let index = open(&dir, SMALL_CACHE);
    assert_eq!(index.tip(), Some((tip, node.tip_hash())));
    assert_eq!(index.content_digest().unwrap(), digest);
    check_against_truth(&index.reader(), &node);
}

/// The keys of script hashes with history above `fork` in the node's current chain: what a
/// rollback to `fork` touches.
fn touched_above(node: &Node, fork: u32) -> Vec<HashX> {
    let mut v: Vec<HashX> = node
        .truth
        .script_hashes()
        .filter(|sh| node.truth.history(sh, None).iter().any(|h| h.height > fork))
        .map(|sh| HashX::from_script_hash(&sh.0))
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Finds the fork point by comparing block hashes, backs up to it and applies the new branch.
/// `touched` is what the removed blocks touched (computed from the old chain's truth).
fn follow_reorg(index: &mut Index, node: &Node, touched: &[HashX]) -> u32 {
    let (mut h, _) = index.tip().unwrap();
    while index.block_hash(h).unwrap() != node.hash_at(h) {
        h -= 1;
    }
    assert_eq!(
        index.backup(h).expect("backup").touched,
        touched,
        "touched by the rollback"
    );
    assert_eq!(index.tip(), Some((h, node.hash_at(h).unwrap())));
    assert_eq!(index.flushed_tip(), index.tip());
    sync_to(index, node, node.tip_height());
    index.flush().expect("flush");
    h
}

#[test]
fn reorgs_equal_a_fresh_index() {
    let mut node = Node::generate(GenParams::fixture(12));
    let dir = TempDir::new("reorg");
    let mut index = open(&dir, SMALL_CACHE);
    sync_to(&mut index, &node, node.tip_height());
    // Part of the chain is still unflushed: backup must flush it first.
    for depth in [1, 2, 5, REORG_LIMIT] {
        node.add_traffic(20);
        node.mine(1).expect("mine");
        sync_to(&mut index, &node, node.tip_height());
        let old_tip = node.tip_height();
        let touched = touched_above(&node, old_tip - depth);
        node.reorg(depth, depth + 1).expect("reorg");
        let fork = follow_reorg(&mut index, &node, &touched);
        assert_eq!(fork, old_tip - depth, "depth {depth}");
        check_against_truth(&index.reader(), &node);
        assert_eq!(
            index.content_digest().unwrap(),
            fresh_digest(&node),
            "after a reorg of depth {depth}"
        );
    }

    // One block deeper than the limit: refused, nothing changes.
    let before = index.content_digest().unwrap();
    let tip = index.tip().unwrap();
    node.reorg(REORG_LIMIT + 1, REORG_LIMIT + 2).expect("reorg");
    let fork = tip.0 - REORG_LIMIT - 1;
    assert_eq!(index.block_hash(fork).unwrap(), node.hash_at(fork));
    assert_ne!(index.block_hash(fork + 1).unwrap(), node.hash_at(fork + 1));
    let err = index.backup(fork).unwrap_err();
    assert!(matches!(err, IndexError::ReorgTooDeep { .. }), "{err}");
    assert!(err.to_string().contains("REORG_LIMIT"), "{err}");
    assert_eq!(index.tip(), Some(tip));
    assert_eq!(index.content_digest().unwrap(), before);
    // The next block of the new branch does not connect either.
    let next = node.block_at(tip.0 + 1).unwrap();
    let err = index.advance(&next.raw).unwrap_err();
    assert!(matches!(err, IndexError::NotOnTip { .. }), "{err}");
    assert_eq!(index.tip(), Some(tip));
    assert!(matches!(
        index.backup(tip.0 + 1),
        Err(IndexError::BadBackupTarget { .. })
    ));
}

#[test]
fn backup_undoes_unflushed_blocks_and_many_at_once() {
    let node = Node::generate(GenParams::fixture(13));
    let dir = TempDir::new("backup");
    let mut index = open(&dir, 1 << 30);
    sync_to(&mut index, &node, 140);
    index.flush().unwrap();
    // Blocks 141..=148 never flushed before the backup asks for it.
    sync_to(&mut index, &node, 148);
    index.backup(140).unwrap();
    assert_eq!(index.tip(), Some((140, node.hash_at(140).unwrap())));
    // Identical to never having gone further, except undo rows of the window.
    sync_to(&mut index, &node, 150);
    index.flush().unwrap();
    assert_eq!(index.content_digest().unwrap(), fresh_digest(&node));
}
