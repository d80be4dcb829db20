//! Bad and odd blocks, readers while the writer runs, touched script hashes, throughput.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bitcoin::hashes::Hash;
use bitcoin::Txid;
use ferrumx::index::{IndexError, IndexReader};
use ferrumx_simnode::{GenParams, Node};

use super::{check_against_truth, fresh_digest, open, sync_to, TempDir};

#[test]
fn readers_see_consistent_flushed_state_while_the_writer_runs() {
    let node = Node::generate(GenParams::fixture(16));
    let dir = TempDir::new("readers");
    let mut index = open(&dir, 1 << 30);
    sync_to(&mut index, &node, 100);
    index.flush().unwrap();
    // The busiest script hashes.
    let mut hot: Vec<_> = node.truth.script_hashes().copied().collect();
    hot.sort_by_key(|sh| std::cmp::Reverse(node.truth.history_len(sh)));
    hot.truncate(5);
    let truth = Arc::new(node.truth.clone());
    let reader = index.reader();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let checker = {
        let (truth, hot, stop) = (truth.clone(), hot.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut consistent = 0;
            while !stop.load(Ordering::Relaxed) {
                for sh in &hot {
                    let before = reader.tip().unwrap().0;
                    let history = reader.history(&sh.0, 0, usize::MAX).unwrap();
                    let balance = reader.balance(&sh.0).unwrap();
                    let after = reader.tip().unwrap().0;
                    // Flushed state only, whole blocks only.
                    let h = history.last().map_or(0, |e| e.1);
                    assert!(h <= after, "saw height {h} beyond the flushed tip {after}");
                    if before == after {
                        let want: Vec<(Txid, u32)> = truth
                            .history(sh, Some(after))
                            .iter()
                            .map(|e| (e.txid, e.height))
                            .collect();
                        assert_eq!(history, want);
                        assert_eq!(balance, truth.balance(sh, Some(after)));
                        consistent += 1;
                    }
                }
            }
            consistent
        })
    };
    for h in 101..=node.tip_height() {
        index.advance(&node.block_at(h).unwrap().raw).unwrap();
        assert_eq!(
            index.reader().tip().unwrap().0,
            h - 1,
            "unflushed block visible"
        );
        index.flush().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let consistent = checker.join().expect("checker");
    assert!(consistent > 0);
    check_against_truth(&index.reader(), &node);
}

#[test]
fn outputs_created_and_spent_between_flushes_never_reach_the_database() {
    // Cached: every block flushed at the end only. Synced block by block: every block
    // flushed. The same database either way, so nothing transient was left behind.
    let node = Node::generate(GenParams::fixture(17));
    let dir = TempDir::new("perblock");
    let mut index = open(&dir, 0);
    sync_to(&mut index, &node, node.tip_height());
    assert_eq!(index.cache_stats().blocks, 0);
    assert_eq!(index.content_digest().unwrap(), fresh_digest(&node));
    // Spends within the cache were resolved in memory.
    let dir2 = TempDir::new("cached");
    let mut index = open(&dir2, 1 << 30);
    sync_to(&mut index, &node, node.tip_height());
    let stats = index.cache_stats();
    assert!(stats.utxo_spends == 0, "{stats:?}");
    let spent: usize = (1..=node.tip_height())
        .flat_map(|h| node.block_at(h).unwrap().block().unwrap().txdata)
        .filter(|tx| !tx.is_coinbase())
        .map(|tx| tx.input.len())
        .sum();
    assert!(spent > 100);
    let flush = index.flush().unwrap();
    assert_eq!(flush.utxo_spends, 0);
    assert_eq!(flush.blocks, 150);
}

#[test]
fn bad_blocks_change_nothing() {
    let node = Node::generate(GenParams::fixture(18));
    let dir = TempDir::new("bad");
    let mut index = open(&dir, 1 << 30);
    sync_to(&mut index, &node, 120);
    let stats = index.cache_stats();
    let raw = &node.block_at(121).unwrap().raw;
    // Truncated, trailing bytes, wrong merkle root.
    for bad in [
        raw[..raw.len() - 1].to_vec(),
        [raw.as_slice(), &[0]].concat(),
        {
            let mut b = raw.clone();
            b[40] ^= 1;
            b
        },
    ] {
        let err = index.advance(&bad).unwrap_err();
        assert!(
            matches!(err, IndexError::BadBlock { height: 121, .. }),
            "{err}"
        );
    }
    // A block two ahead does not connect.
    let err = index.advance(&node.block_at(122).unwrap().raw).unwrap_err();
    assert!(matches!(err, IndexError::NotOnTip { .. }), "{err}");
    assert_eq!(index.cache_stats(), stats);
    assert_eq!(index.tip().unwrap().0, 120);

    // A block spending a real output (from the cache), then one nobody knows: refused
    // whole, the real output still unspent.
    let real = node
        .truth
        .script_hashes()
        .find_map(|sh| {
            let u = node.truth.utxos(sh, Some(120));
            u.iter().find(|u| u.height > 100).copied()
        })
        .expect("an unspent output");
    let spend = |op: bitcoin::OutPoint| bitcoin::Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![bitcoin::TxIn {
            previous_output: op,
            ..Default::default()
        }],
        output: vec![bitcoin::TxOut {
            value: bitcoin::Amount::from_sat(1000),
            script_pubkey: bitcoin::ScriptBuf::from_bytes(vec![0x51]),
        }],
    };
    let unknown = bitcoin::OutPoint::new(Txid::from_byte_array([9; 32]), 0);
    let coinbase = node.block_at(121).unwrap().block().unwrap().txdata[0].clone();
    let mut block = bitcoin::consensus::deserialize::<bitcoin::Block>(&block_with_coinbase(
        node.hash_at(120).unwrap(),
        coinbase,
    ))
    .unwrap();
    block.txdata.push(spend(real.outpoint));
    block.txdata.push(spend(unknown));
    block.header.merkle_root = block.compute_merkle_root().unwrap();
    let err = index
        .advance(&bitcoin::consensus::serialize(&block))
        .unwrap_err();
    assert!(
        matches!(err, IndexError::MissingUtxo { height: 121, outpoint } if outpoint == unknown),
        "{err}"
    );
    assert_eq!(index.cache_stats(), stats);
    sync_to(&mut index, &node, node.tip_height());
    index.flush().unwrap();
    check_against_truth(&index.reader(), &node);
}

#[test]
fn reader_is_send_sync_and_touched_is_reported() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<IndexReader>();
    let node = Node::generate(GenParams::fixture(19));
    let dir = TempDir::new("touched");
    let mut index = open(&dir, 1 << 30);
    sync_to(&mut index, &node, 140);
    let block = node.block_at(141).unwrap();
    let summary = index.advance(&block.raw).unwrap();
    assert_eq!(summary.txs, block.txids.len());
    let want: HashSet<_> = node
        .truth
        .script_hashes()
        .filter(|sh| {
            node.truth
                .history(sh, Some(141))
                .last()
                .is_some_and(|e| e.height == 141)
        })
        .map(|sh| ferrumx::index::HashX::from_script_hash(&sh.0))
        .collect();
    let got: HashSet<_> = summary.touched.iter().copied().collect();
    assert_eq!(got, want);
    assert_eq!(got.len(), summary.touched.len());
}

/// A block on `prev` holding only `coinbase` (no proof of work: the index does not check it).
fn block_with_coinbase(prev: bitcoin::BlockHash, coinbase: bitcoin::Transaction) -> Vec<u8> {
    use bitcoin::block::{Header, Version};
    use bitcoin::{Block, CompactTarget, TxMerkleNode};
    let mut block = Block {
        header: Header {
            version: Version::TWO,
            prev_blockhash: prev,
            merkle_root: TxMerkleNode::all_zeros(),
            time: 1_800_000_000,
            bits: CompactTarget::from_consensus(0x207f_ffff),
            nonce: 0,
        },
        txdata: vec![coinbase],
    };
    block.header.merkle_root = block.compute_merkle_root().unwrap();
    bitcoin::consensus::serialize(&block)
}

#[test]
fn repeated_coinbase_replaces_the_earlier_outputs() {
    use bitcoin::{absolute, transaction, Amount, ScriptBuf, Sequence, TxIn, TxOut, Witness};
    let node = Node::generate(GenParams::fixture(20));
    let script = ScriptBuf::from_bytes(vec![0x51]); // OP_TRUE
    let sh = ferrumx_simnode::ScriptHash::of(&script);
    // Pre-BIP 34 style: the same coinbase twice (mainnet blocks 91812/91842).
    let coinbase = bitcoin::Transaction {
        version: transaction::Version::ONE,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: bitcoin::OutPoint::null(),
            script_sig: ScriptBuf::from_bytes(vec![0x04, 1, 2, 3, 4]),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(5_000_000_000),
            script_pubkey: script,
        }],
    };
    let txid = coinbase.compute_txid();
    let mut digests = Vec::new();
    for flush_between in [false, true] {
        let dir = TempDir::new("bip30");
        let mut index = open(&dir, 1 << 30);
        sync_to(&mut index, &node, node.tip_height());
        let a = block_with_coinbase(node.tip_hash(), coinbase.clone());
        let sa = index.advance(&a).unwrap();
        if flush_between {
            index.flush().unwrap();
        }
        let b = block_with_coinbase(sa.hash, coinbase.clone());
        let sb = index.advance(&b).unwrap();
        index.flush().unwrap();
        let reader = index.reader();
        let utxos = reader.utxos(&sh.0).unwrap();
        assert_eq!(utxos.len(), 1, "flush between: {flush_between}");
        assert_eq!((utxos[0].txid, utxos[0].height), (txid, sb.height));
        assert_eq!(reader.balance(&sh.0).unwrap(), 5_000_000_000);
        assert_eq!(
            reader.history(&sh.0, 0, 10).unwrap(),
            vec![(txid, sa.height), (txid, sb.height)]
        );
        digests.push(index.content_digest().unwrap());
        // Rolled back: the first one is unspent again.
        index.backup(sa.height).unwrap();
        let utxos = index.reader().utxos(&sh.0).unwrap();
        assert_eq!(utxos.len(), 1);
        assert_eq!(utxos[0].height, sa.height);
    }
    assert_eq!(digests[0], digests[1]);
}

/// Rough throughput in this (debug) build: `FERRUMX_INDEX_TXS=50000 cargo test -p ferrumx
/// --test index -- --ignored --nocapture`. The real sync bench goes through the daemon.
#[test]
#[ignore]
fn throughput() {
    let txs: u64 = std::env::var("FERRUMX_INDEX_TXS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    let t = Instant::now();
    let node = Node::generate(GenParams::sized(3, txs, 500));
    eprintln!(
        "generated {} blocks in {:?}",
        node.tip_height(),
        t.elapsed()
    );
    let all: usize = (1..=node.tip_height())
        .map(|h| node.block_at(h).unwrap().txids.len())
        .sum();
    for (label, cache) in [("cache 1 MB", 1usize << 20), ("cache 64 MB", 64 << 20)] {
        let dir = TempDir::new("throughput");
        let mut index = open(&dir, cache);
        let t = Instant::now();
        let flushes = sync_to(&mut index, &node, node.tip_height());
        index.flush().unwrap();
        let took = t.elapsed();
        eprintln!(
            "{label}: {all} txs, {} blocks in {took:?}: {:.0} tx/s, {:.0} blocks/s, {} flushes",
            node.tip_height(),
            all as f64 / took.as_secs_f64(),
            f64::from(node.tip_height()) / took.as_secs_f64(),
            flushes + 1
        );
        let t = Instant::now();
        let reader = index.reader();
        let mut n = 0;
        for sh in node.truth.script_hashes() {
            n += reader.history(&sh.0, 0, usize::MAX).unwrap().len();
            n += reader.utxos(&sh.0).unwrap().len();
        }
        eprintln!(
            "  queried {} script hashes ({n} rows) in {:?}",
            node.truth.script_hashes().count(),
            t.elapsed()
        );
    }
}
