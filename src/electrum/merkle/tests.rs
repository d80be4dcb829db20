//! The tree against a naive ElectrumX `Merkle`, and the header cache against full
//! recomputation, under truncations and racing reorganisations.

use super::headers::*;
use super::tree::*;
use bitcoin::hashes::{sha256d, Hash};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

fn leaf(chain: u8, i: u32) -> Hash32 {
    let mut buf = [0u8; 5];
    buf[0] = chain;
    buf[1..].copy_from_slice(&i.to_le_bytes());
    sha256d::Hash::hash(&buf).to_byte_array()
}

/// ElectrumX's `Merkle.branch_and_root`, written as directly as possible.
fn naive(hashes: &[Hash32], index: usize) -> (Vec<Hash32>, Hash32) {
    let mut hashes = hashes.to_vec();
    let mut index = index;
    let mut branch = Vec::new();
    let depth = (hashes.len() as f64).log2().ceil() as usize;
    for _ in 0..depth {
        if hashes.len() % 2 == 1 {
            hashes.push(*hashes.last().unwrap_or(&[0; 32]));
        }
        branch.push(hashes[index ^ 1]);
        index >>= 1;
        hashes = (0..hashes.len())
            .step_by(2)
            .map(|n| {
                let mut v = hashes[n].to_vec();
                v.extend_from_slice(&hashes[n + 1]);
                sha256d::Hash::hash(&v).to_byte_array()
            })
            .collect();
    }
    (branch, hashes[0])
}

struct Chain {
    hashes: RwLock<Vec<Hash32>>,
    reads: AtomicU64,
}

impl Chain {
    fn new(id: u8, n: u32) -> Chain {
        Chain {
            hashes: RwLock::new((0..n).map(|i| leaf(id, i)).collect()),
            reads: AtomicU64::new(0),
        }
    }

    fn snapshot(&self) -> Vec<Hash32> {
        self.hashes.read().map(|h| h.clone()).unwrap_or_default()
    }
}

impl BlockHashSource for Chain {
    fn block_hashes(&self, start: u32, count: u32) -> Result<Vec<Hash32>, String> {
        self.reads.fetch_add(u64::from(count), Ordering::Relaxed);
        let h = self.hashes.read().map_err(|e| e.to_string())?;
        let end = start as usize + count as usize;
        h.get(start as usize..end)
            .map(<[Hash32]>::to_vec)
            .ok_or_else(|| format!("no blocks {start}..{end}"))
    }
}

#[test]
fn plain_branches_match_electrumx() {
    for n in 1..=40usize {
        let hashes: Vec<Hash32> = (0..n as u32).map(|i| leaf(0, i)).collect();
        for i in 0..n {
            let (branch, root_) = branch_and_root(&hashes, i).unwrap_or_default();
            assert_eq!((branch.clone(), root_), naive(&hashes, i), "n={n} i={i}");
            assert_eq!(root_from_branch(&hashes[i], &branch, i), Ok(root_));
            assert_eq!(root(&hashes), Ok(root_));
        }
    }
    let one = [leaf(0, 0)];
    assert_eq!(branch_and_root(&one, 0), Ok((vec![], one[0])));
    assert!(branch_and_root(&one, 1).is_err());
    assert!(branch_and_root(&[], 0).is_err());
    assert!(root(&[]).is_err());
    assert!(root_from_branch(&one[0], &[], 1).is_err());
    assert_eq!(branch_length(1), 0);
    assert_eq!(branch_length(2), 1);
    assert_eq!(branch_length(3), 2);
    assert_eq!(branch_length(1024), 10);
    assert_eq!(branch_length(1025), 11);
}

#[test]
fn bitcoin_block_merkle_root() {
    // Block 100000: four transactions; txids in display order.
    let txids = [
        "8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87",
        "fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4",
        "6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4",
        "e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d",
    ];
    let hashes: Vec<Hash32> = txids
        .iter()
        .map(|t| {
            let mut b = [0u8; 32];
            for (i, byte) in b.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).unwrap_or(0);
            }
            b.reverse();
            b
        })
        .collect();
    let mut r = root(&hashes).unwrap_or_default();
    r.reverse();
    let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766"
    );
}

fn check_cache(bits: u32, lengths: &[u32]) {
    let max = lengths.iter().copied().max().unwrap_or(1);
    let chain = Chain::new(1, max);
    let all = chain.snapshot();
    let cache = HeaderMerkleCache::with_segment_bits(bits);
    for &length in lengths {
        let hashes = &all[..length as usize];
        let mut indexes: Vec<u32> = vec![0, length / 2, length - 1];
        let s = 1u32 << bits;
        for k in [s - 1, s, s + 1, 2 * s - 1, 2 * s, 3 * s + 1] {
            if k < length {
                indexes.push(k);
            }
        }
        if length <= 70 {
            indexes = (0..length).collect();
        }
        for index in indexes {
            let got = cache.branch_and_root(&chain, length, index);
            let want = naive(hashes, index as usize);
            assert_eq!(
                got,
                Ok(want.clone()),
                "bits={bits} length={length} index={index}"
            );
            assert_eq!(
                root_from_branch(&hashes[index as usize], &want.0, index as usize),
                Ok(want.1)
            );
        }
    }
}

#[test]
fn cache_matches_full_recomputation() {
    let mut lengths: Vec<u32> = (1..=70).collect();
    for p in 3..=11 {
        let n = 1u32 << p;
        lengths.extend([n - 1, n, n + 1]);
    }
    lengths.extend([1000, 1500, 2047, 2049, 3000]);
    for bits in [1, 2, 3, 5] {
        check_cache(bits, &lengths);
    }
    check_cache(
        DEFAULT_SEGMENT_BITS,
        &[1, 255, 256, 257, 511, 512, 513, 1000, 4097, 5000],
    );
}

#[test]
fn cache_is_cheap_once_warm() {
    let chain = Chain::new(2, 20_000);
    let cache = HeaderMerkleCache::new();
    let length = 19_999;
    let _ = cache.branch_and_root(&chain, length, 5);
    let before = chain.reads.load(Ordering::Relaxed);
    let _ = cache.branch_and_root(&chain, length, 12_345);
    let reads = chain.reads.load(Ordering::Relaxed) - before;
    assert!(reads <= 2 * 256, "{reads} hashes read for a warm proof");
    // Shorter lengths reuse the cache too.
    let got = cache.branch_and_root(&chain, 10_001, 10_000);
    assert_eq!(got, Ok(naive(&chain.snapshot()[..10_001], 10_000)));
}

#[test]
fn prefill_then_cheap_proofs() {
    let chain = Chain::new(10, 5000);
    let cache = HeaderMerkleCache::with_segment_bits(6);
    assert!(cache.prefill(&chain, 4999).is_ok());
    assert_eq!(cache.cached_segments(), 4999 / 64);
    let before = chain.reads.load(Ordering::Relaxed);
    let got = cache.branch_and_root(&chain, 4999, 17);
    assert_eq!(got, Ok(naive(&chain.snapshot()[..4999], 17)));
    assert!(chain.reads.load(Ordering::Relaxed) - before <= 2 * 64);
    assert!(cache.prefill(&chain, 5001).is_ok());
    assert!(cache.prefill(&chain, 6000).is_err());
}

#[test]
fn errors() {
    let chain = Chain::new(3, 100);
    let cache = HeaderMerkleCache::with_segment_bits(3);
    assert!(cache.branch_and_root(&chain, 0, 0).is_err());
    assert!(cache.branch_and_root(&chain, 10, 10).is_err());
    assert!(cache.branch_and_root(&chain, 101, 5).is_err());
    assert!(cache.branch_and_root(&chain, 6, 5).is_ok());
}

#[test]
fn truncate_drops_segments() {
    let chain = Chain::new(4, 1000);
    let cache = HeaderMerkleCache::with_segment_bits(4);
    assert!(cache.branch_and_root(&chain, 1000, 3).is_ok());
    assert_eq!(cache.cached_segments(), 1000 / 16);
    cache.truncate(100); // segments 0..6 hold heights < 96; segment 6 holds 96..112
    assert_eq!(cache.cached_segments(), 6);
    cache.truncate(96);
    assert_eq!(cache.cached_segments(), 6);
    cache.truncate(95);
    assert_eq!(cache.cached_segments(), 5);
    // Reorganise heights >= 95 and check the proofs follow the new chain.
    {
        let mut h = chain.hashes.write().unwrap_or_else(|e| e.into_inner());
        for (i, x) in h.iter_mut().enumerate().skip(95) {
            *x = leaf(9, i as u32);
        }
    }
    cache.truncate(95);
    let all = chain.snapshot();
    for (length, index) in [(1000, 3), (1000, 500), (96, 95), (500, 94)] {
        assert_eq!(
            cache.branch_and_root(&chain, length, index),
            Ok(naive(&all[..length as usize], index as usize))
        );
    }
    cache.truncate(0);
    assert_eq!(cache.cached_segments(), 0);
}

/// Proofs racing reorganisations between two chains sharing a prefix: with the switch
/// bracketed by `begin_reorg`, every proof is a correct proof of one chain or the other,
/// and proofs after the race are correct for the final chain.
#[test]
fn proofs_race_reorgs() {
    const N: u32 = 3000;
    const FORK: u32 = 1234;
    let a: Vec<Hash32> = (0..N).map(|i| leaf(5, i)).collect();
    let b: Vec<Hash32> = (0..N)
        .map(|i| if i < FORK { leaf(5, i) } else { leaf(6, i) })
        .collect();
    let chain = Arc::new(Chain {
        hashes: RwLock::new(a.clone()),
        reads: AtomicU64::new(0),
    });
    let cache = Arc::new(HeaderMerkleCache::with_segment_bits(4));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for t in 0..4u32 {
        let (chain, cache, stop) = (chain.clone(), cache.clone(), stop.clone());
        let (a, b) = (a.clone(), b.clone());
        workers.push(std::thread::spawn(move || {
            let mut n = 0u32;
            let mut checked = 0;
            while !stop.load(Ordering::Relaxed) || checked < 50 {
                n = n.wrapping_mul(1_103_515_245).wrapping_add(12_345 + t);
                let length = FORK + 1 + n % (N - FORK - 1);
                let index = (n >> 7) % length;
                let got = cache.branch_and_root(&*chain, length, index);
                let ok_a = got == Ok(naive(&a[..length as usize], index as usize));
                let ok_b = got == Ok(naive(&b[..length as usize], index as usize));
                assert!(ok_a || ok_b, "mixed proof length={length} index={index}");
                checked += 1;
            }
        }));
    }
    for round in 0..80 {
        let next = if round % 2 == 0 { &b } else { &a };
        {
            let _reorg = cache.begin_reorg(FORK);
            let mut h = chain.hashes.write().unwrap_or_else(|e| e.into_inner());
            h.clone_from(next);
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        assert!(w.join().is_ok());
    }
    // The last switch (round 79) left chain A; the cache must not hold B's segments.
    for (length, index) in [(N, N - 1), (N, 5), (FORK + 100, FORK + 50)] {
        assert_eq!(
            cache.branch_and_root(&*chain, length, index),
            Ok(naive(&a[..length as usize], index as usize))
        );
    }
}

/// With plain `truncate` after each switch (no guard), proofs may be mixed during the
/// switch window, but the cache is never left holding the old chain.
#[test]
fn truncate_after_switch_never_poisons() {
    const N: u32 = 2000;
    const FORK: u32 = 700;
    let a: Vec<Hash32> = (0..N).map(|i| leaf(7, i)).collect();
    let b: Vec<Hash32> = (0..N)
        .map(|i| if i < FORK { leaf(7, i) } else { leaf(8, i) })
        .collect();
    let chain = Arc::new(Chain {
        hashes: RwLock::new(a.clone()),
        reads: AtomicU64::new(0),
    });
    let cache = Arc::new(HeaderMerkleCache::with_segment_bits(3));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for t in 0..3u32 {
        let (chain, cache, stop) = (chain.clone(), cache.clone(), stop.clone());
        workers.push(std::thread::spawn(move || {
            let mut n = t;
            while !stop.load(Ordering::Relaxed) {
                n = n.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let length = 1 + n % N;
                let _ = cache.branch_and_root(&*chain, length, (n >> 5) % length);
            }
        }));
    }
    for round in 0..30 {
        let next = if round % 2 == 0 { &b } else { &a };
        chain
            .hashes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clone_from(next);
        cache.truncate(FORK);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        assert!(w.join().is_ok());
    }
    // Round 29 switched to A.
    for (length, index) in [(N, N - 1), (N, FORK), (FORK + 9, 3)] {
        assert_eq!(
            cache.branch_and_root(&*chain, length, index),
            Ok(naive(&a[..length as usize], index as usize))
        );
    }
}

/// Branches from a tree split at 2^bits leaves are the naive ones, for every leaf of trees of
/// every size around the split's edges (full, short and single-leaf last subtrees).
#[test]
fn split_branches_are_the_naive_ones() {
    use super::txs::{branch_from_split, split_level, subtree};
    for bits in [1u32, 2, 5] {
        let size = 1usize << bits;
        let counts: Vec<usize> = (size + 1..=4 * size + 3)
            .chain([7 * size + 1, 33 * size - 1, 64 * size])
            .collect();
        for count in counts {
            let hashes: Vec<Hash32> = (0..count as u32).map(|i| leaf(7, i)).collect();
            let upper = split_level(&hashes, bits);
            assert_eq!(upper.len(), count.div_ceil(size));
            for index in 0..count {
                let chunk = subtree(&hashes, index, bits);
                let got = branch_from_split(chunk, &upper, count, index, bits);
                assert_eq!(
                    got,
                    naive(&hashes, index).0,
                    "bits {bits}, {count} leaves, leaf {index}"
                );
            }
        }
    }
}

/// The cache answers as the tree does, from the first read of a block and from its cached
/// split level, and a different read of the block (another `Arc`) is computed again.
#[test]
fn tx_merkle_cache_answers_as_the_tree() {
    use super::txs::TxMerkleCache;
    use bitcoin::Txid;
    let cache = TxMerkleCache::default();
    for count in [1usize, 2, 32, 33, 100, 2_001] {
        let txids: Arc<Vec<Txid>> = Arc::new(
            (0..count as u32)
                .map(|i| Txid::from_byte_array(leaf(3, i)))
                .collect(),
        );
        let hashes: Vec<Hash32> = txids.iter().map(|t| t.to_byte_array()).collect();
        for index in [0, count / 2, count - 1, count / 3] {
            for _ in 0..2 {
                assert_eq!(
                    cache.branch(9, &txids, index),
                    Ok(naive(&hashes, index).0),
                    "{count} txids, index {index}"
                );
            }
        }
        assert!(cache.branch(9, &txids, count).is_err());
    }
    // Another block at the same height (a reorg): not the cached level.
    let other: Arc<Vec<Txid>> = Arc::new(
        (0..100u32)
            .map(|i| Txid::from_byte_array(leaf(4, i)))
            .collect(),
    );
    let hashes: Vec<Hash32> = other.iter().map(|t| t.to_byte_array()).collect();
    assert_eq!(cache.branch(9, &other, 50), Ok(naive(&hashes, 50).0));
}
