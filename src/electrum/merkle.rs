//! Merkle branches and roots as ElectrumX 1.20 computes them (`lib/merkle.py`), and a cache
//! that makes header proofs (`cp_height`) cheap without ElectrumX's concurrency bug.
//!
//! # The tree
//!
//! Bitcoin's: leaves are hashes in internal byte order, a parent is
//! `sha256d(left ‖ right)`, and a level with an odd number of nodes pairs its last node with
//! itself. The branch for leaf `index` is the sibling at each level, deepest first (a node
//! without a sibling gets itself); the protocol layer writes each hash reversed in hex.
//!
//! # The header cache
//!
//! `blockchain.block.header(s)` with a `cp_height` proves a header against the root of the
//! block hashes `0..=cp_height` (ElectrumX's `db.header_branch_and_root(cp_height + 1,
//! height)`). Recomputing that tree costs a hash of the whole chain per request (~900,000
//! hashes on mainnet). [`HeaderMerkleCache`] keeps the roots of complete, aligned segments of
//! `2^bits` block hashes and every complete node above them (a "mountain range": segment
//! roots, their parents, and so on, each level as long as the level below halved). A proof
//! then reads at most two segments from the [`BlockHashSource`] — the one holding `index` and
//! the incomplete last one — and hashes at most `2 × 2^bits` nodes in them plus two per level
//! above: O(2^bits + depth).
//!
//! [`DEFAULT_SEGMENT_BITS`] is 8: 256 hashes (8 KiB) per segment read, ~64 bytes of cache per
//! 256 blocks (~225 KiB at mainnet's height), and about 510 double-SHA256 compressions of 64
//! bytes per proof plus the reads. ElectrumX instead keeps one level in the middle of the
//! tree and hashes ~180 KB per proof; smaller segments would save little more hashing but
//! cost more source calls on the first fill, larger ones more hashing per proof.
//!
//! ## Concurrency
//!
//! The cache state sits behind a mutex that is never held while the source is read. Every
//! [`HeaderMerkleCache::truncate`] bumps a version. A proof notes the version before its first
//! read and, after all reads, computes its upper branch under the lock only if the version is
//! unchanged, else starts again; cache extensions are inserted only under the version their
//! reads began in. So no proof or cached segment ever mixes hashes read before and after a
//! truncation. (ElectrumX 1.20's `MerkleCache` has no such guard: concurrent cold-cache
//! requests and a reorg can interleave its awaits and return wrong proofs.)
//!
//! The owner's part of the contract: call `truncate(h)` *after* the source serves the new
//! chain from height `h`. A proof computed in the short window between the source's switch and
//! that call may still combine segments of the old chain with hashes of the new one (never
//! cached). To close even that window, bracket the switch with
//! [`HeaderMerkleCache::begin_reorg`], which makes proofs wait for the switch to finish and
//! retry any proof that overlapped it.

use std::sync::{Condvar, Mutex, MutexGuard};

use bitcoin::hashes::{sha256d, Hash};

/// A 32-byte hash in internal byte order.
pub type Hash32 = [u8; 32];

/// `sha256d(left ‖ right)`.
fn parent(left: &Hash32, right: &Hash32) -> Hash32 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(left);
    buf[32..].copy_from_slice(right);
    sha256d::Hash::hash(&buf).to_byte_array()
}

/// ElectrumX's `Merkle.branch_length(n)`: `ceil(log2(n))`, the depth of a tree of `n >= 1`
/// leaves.
pub fn branch_length(count: usize) -> u32 {
    if count <= 1 {
        0
    } else {
        usize::BITS - (count - 1).leading_zeros()
    }
}

/// The branch and root over `hashes` for `index`, iterating exactly `levels` levels (at
/// least `branch_length(hashes.len())`): ElectrumX's `Merkle.branch_and_root(hashes, index,
/// length=levels)`. `hashes` must be non-empty and `index` in range.
fn branch_and_root_levels(
    hashes: &[Hash32],
    mut index: usize,
    levels: u32,
) -> (Vec<Hash32>, Hash32) {
    let mut level: Vec<Hash32> = hashes.to_vec();
    let mut branch = Vec::with_capacity(levels as usize);
    for _ in 0..levels {
        if level.len() % 2 == 1 {
            let last = level[level.len() - 1];
            level.push(last);
        }
        branch.push(level[index ^ 1]);
        index >>= 1;
        // The parents replace the level in place.
        let half = level.len() / 2;
        for i in 0..half {
            level[i] = parent(&level[2 * i], &level[2 * i + 1]);
        }
        level.truncate(half);
    }
    (branch, level[0])
}

/// The root of `hashes` with exactly `levels` levels.
fn root_levels(hashes: &[Hash32], levels: u32) -> Hash32 {
    branch_and_root_levels(hashes, 0, levels).1
}

/// ElectrumX's `Merkle.branch_and_root(hashes, index)`: the merkle branch of `hashes[index]`
/// (deepest first) and the root, all in internal byte order. A single hash is its own root
/// with an empty branch.
///
/// # Errors
/// `hashes` is empty or `index` out of range (ElectrumX's `ValueError`).
pub fn branch_and_root(hashes: &[Hash32], index: usize) -> Result<(Vec<Hash32>, Hash32), String> {
    if index >= hashes.len() {
        return Err(format!(
            "index {index} out of range for {} hashes",
            hashes.len()
        ));
    }
    Ok(branch_and_root_levels(
        hashes,
        index,
        branch_length(hashes.len()),
    ))
}

/// ElectrumX's `Merkle.root(hashes)`.
///
/// # Errors
/// `hashes` is empty.
pub fn root(hashes: &[Hash32]) -> Result<Hash32, String> {
    if hashes.is_empty() {
        return Err("no hashes".to_owned());
    }
    Ok(root_levels(hashes, branch_length(hashes.len())))
}

/// ElectrumX's `Merkle.root_from_proof(hash, branch, index)`: folds a branch up to the root
/// (what a client does to verify a proof).
///
/// # Errors
/// `index` has bits beyond the branch's depth.
pub fn root_from_branch(hash: &Hash32, branch: &[Hash32], index: usize) -> Result<Hash32, String> {
    let mut hash = *hash;
    let mut index = index;
    for sibling in branch {
        hash = if index & 1 == 1 {
            parent(sibling, &hash)
        } else {
            parent(&hash, sibling)
        };
        index >>= 1;
    }
    if index != 0 {
        return Err("index out of range for branch".to_owned());
    }
    Ok(hash)
}

/// Where the header cache reads block hashes from (the index's headers).
pub trait BlockHashSource {
    /// The hashes of the `count` blocks from height `start`, in internal byte order.
    ///
    /// # Errors
    /// The blocks are not all there, or reading failed.
    fn block_hashes(&self, start: u32, count: u32) -> Result<Vec<Hash32>, String>;
}

/// The default segment size of [`HeaderMerkleCache`]: `2^8` block hashes.
pub const DEFAULT_SEGMENT_BITS: u32 = 8;

/// Block hashes read per source call while filling the cache (512 KiB), or one segment if
/// larger.
const FILL_HASHES: u32 = 16_384;

/// A proof that keeps colliding with truncations gives up after this many attempts.
const MAX_ATTEMPTS: usize = 64;

/// Header merkle proofs in O(segment + depth): see the module documentation.
#[derive(Debug)]
pub struct HeaderMerkleCache {
    bits: u32,
    state: Mutex<State>,
    /// Signalled when a reorganisation ends.
    reorg_done: Condvar,
    /// Serialises cache fills, so concurrent cold proofs read the chain once.
    fill: Mutex<()>,
}

#[derive(Debug, Default)]
struct State {
    /// Bumped by every truncation.
    version: u64,
    /// Reorganisations in progress ([`HeaderMerkleCache::begin_reorg`]).
    reorgs: u32,
    /// `levels[0]`: roots of the complete segments `0..n`; `levels[j][i]`: the node over
    /// segments `i << j .. (i + 1) << j`. Always `levels[j].len() == levels[0].len() >> j`.
    levels: Vec<Vec<Hash32>>,
}

impl State {
    fn segments(&self) -> u32 {
        self.levels.first().map_or(0, |l| l.len() as u32)
    }

    /// Appends a complete segment's root and every node it completes above it.
    fn push_segment(&mut self, root: Hash32) {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(root);
        let mut j = 1;
        loop {
            let want = self.levels[j - 1].len() / 2;
            let have = self.levels.get(j).map_or(0, Vec::len);
            if want <= have {
                return;
            }
            if self.levels.len() == j {
                self.levels.push(Vec::new());
            }
            let below = &self.levels[j - 1];
            let node = parent(&below[2 * have], &below[2 * have + 1]);
            self.levels[j].push(node);
            j += 1;
        }
    }

    fn truncate_segments(&mut self, keep: u32) {
        for (j, level) in self.levels.iter_mut().enumerate() {
            level.truncate((keep as usize) >> j);
        }
        while self.levels.last().is_some_and(Vec::is_empty) {
            self.levels.pop();
        }
        self.version += 1;
    }

    /// The complete node `p` at `level` above the segments, if cached.
    fn node(&self, level: usize, p: usize) -> Option<Hash32> {
        self.levels.get(level).and_then(|l| l.get(p)).copied()
    }
}

/// Holds a reorganisation open: see [`HeaderMerkleCache::begin_reorg`].
#[derive(Debug)]
#[must_use = "the reorganisation ends when the guard is dropped"]
pub struct ReorgGuard<'a> {
    cache: &'a HeaderMerkleCache,
}

impl Drop for ReorgGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.cache.lock();
        state.reorgs = state.reorgs.saturating_sub(1);
        state.version += 1;
        drop(state);
        self.cache.reorg_done.notify_all();
    }
}

impl Default for HeaderMerkleCache {
    fn default() -> Self {
        HeaderMerkleCache::new()
    }
}

impl HeaderMerkleCache {
    /// An empty cache with segments of `2^DEFAULT_SEGMENT_BITS` hashes; it fills on demand.
    pub fn new() -> HeaderMerkleCache {
        HeaderMerkleCache::with_segment_bits(DEFAULT_SEGMENT_BITS)
    }

    /// An empty cache with segments of `2^bits` hashes (`bits` clamped to 1..=20).
    pub fn with_segment_bits(bits: u32) -> HeaderMerkleCache {
        HeaderMerkleCache {
            bits: bits.clamp(1, 20),
            state: Mutex::new(State::default()),
            reorg_done: Condvar::new(),
            fill: Mutex::new(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Complete segments cached.
    pub fn cached_segments(&self) -> u32 {
        self.lock().segments()
    }

    /// Forgets every cached segment holding a block at `height` or above (call after the
    /// source serves a reorganised chain from `height`). Proofs under way that read anything
    /// before this call start again.
    pub fn truncate(&self, height: u32) {
        self.lock().truncate_segments(height >> self.bits);
    }

    /// Starts a reorganisation from `height`: truncates as [`truncate`](Self::truncate), and
    /// until the guard is dropped, new proofs wait and proofs under way will start again. Hold
    /// it while the source switches to the new chain.
    pub fn begin_reorg(&self, height: u32) -> ReorgGuard<'_> {
        let mut state = self.lock();
        state.reorgs += 1;
        state.truncate_segments(height >> self.bits);
        ReorgGuard { cache: self }
    }

    /// Fills the cache for proofs up to `length` block hashes (e.g. at start-up, as ElectrumX
    /// populates its header merkle cache), so the first proof does not read the whole chain.
    ///
    /// # Errors
    /// The source failed.
    pub fn prefill(&self, source: &dyn BlockHashSource, length: u32) -> Result<(), String> {
        self.fill(source, length >> self.bits)
    }

    /// Waits out any reorganisation, then returns the version and complete-segment count.
    fn snapshot(&self) -> (u64, u32) {
        let mut state = self.lock();
        while state.reorgs > 0 {
            state = self
                .reorg_done
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
        (state.version, state.segments())
    }

    /// The branch for block `index` and the root of the tree of block hashes `0..length`,
    /// as ElectrumX's `db.header_branch_and_root(length, index)`; for a `cp_height` proof,
    /// `length = cp_height + 1`.
    ///
    /// # Errors
    /// `length` is 0 or `index >= length`, or the source failed.
    pub fn branch_and_root(
        &self,
        source: &dyn BlockHashSource,
        length: u32,
        index: u32,
    ) -> Result<(Vec<Hash32>, Hash32), String> {
        if index >= length {
            return Err(format!("index {index} not below length {length}"));
        }
        let seg_len = 1u32 << self.bits;
        if length <= seg_len {
            let hashes = read(source, 0, length)?;
            return branch_and_root(&hashes, index as usize);
        }
        for _ in 0..MAX_ATTEMPTS {
            let (version, have) = self.snapshot();
            let complete = length >> self.bits;
            if have < complete {
                self.fill(source, complete)?;
                continue;
            }
            // The leaves: index's segment, and the incomplete last one if different.
            let seg = index >> self.bits;
            let seg_start = seg << self.bits;
            let leaves = read(source, seg_start, seg_len.min(length - seg_start))?;
            let (mut branch, seg_root) =
                branch_and_root_levels(&leaves, (index - seg_start) as usize, self.bits);
            let last = (length - 1) >> self.bits;
            let partial = if length % seg_len == 0 {
                None
            } else if last == seg {
                Some(seg_root)
            } else {
                let start = last << self.bits;
                Some(root_levels(
                    &read(source, start, length - start)?,
                    self.bits,
                ))
            };
            let state = self.lock();
            if state.version != version || state.reorgs > 0 {
                continue;
            }
            let Some(root) =
                upper_branch(&state, seg as usize, last as usize, partial, &mut branch)
            else {
                continue;
            };
            return Ok((branch, root));
        }
        Err("header merkle cache kept changing".to_owned())
    }

    /// Extends the cache to `target` complete segments (or stops if a truncation
    /// intervenes; the caller then re-checks).
    fn fill(&self, source: &dyn BlockHashSource, target: u32) -> Result<(), String> {
        let _filling = self.fill.lock().unwrap_or_else(|e| e.into_inner());
        let (version, mut have) = self.snapshot();
        while have < target {
            let per_call = (FILL_HASHES >> self.bits).max(1);
            let end = target.min(have.saturating_add(per_call));
            let hashes = read(source, have << self.bits, (end - have) << self.bits)?;
            let roots: Vec<Hash32> = hashes
                .chunks_exact(1 << self.bits)
                .map(|segment| root_levels(segment, self.bits))
                .collect();
            let mut state = self.lock();
            if state.version != version || state.reorgs > 0 || state.segments() != have {
                return Ok(());
            }
            for r in roots {
                state.push_segment(r);
            }
            have = end;
        }
        Ok(())
    }
}

/// Completes `branch` above the segment level for segment `seg` in a tree of segments
/// `0..=last`, where every segment is complete and cached except, with `partial`, the last,
/// whose root is given. Returns the root (`None` if the cache lacks a node, i.e. it was
/// truncated under us).
fn upper_branch(
    state: &State,
    seg: usize,
    last: usize,
    partial: Option<Hash32>,
    branch: &mut Vec<Hash32>,
) -> Option<Hash32> {
    // edge: the node on the right edge of the current level (the last one), computed
    // bottom-up since it may cover the incomplete segment.
    let mut edge = match partial {
        Some(root) => root,
        None => state.node(0, last)?,
    };
    let mut level = 0;
    let mut p = seg;
    let mut last_p = last;
    while last_p > 0 {
        let sibling = p ^ 1;
        let hash = if sibling >= last_p {
            // The sibling is the edge node, or missing (then the node pairs with itself, and
            // p is the edge node).
            edge
        } else {
            state.node(level, sibling)?
        };
        branch.push(hash);
        // The next edge node: its left child is complete unless it is the edge itself.
        edge = if last_p % 2 == 0 {
            parent(&edge, &edge)
        } else {
            parent(&state.node(level, last_p - 1)?, &edge)
        };
        p >>= 1;
        last_p >>= 1;
        level += 1;
    }
    Some(edge)
}

/// Reads exactly `count` hashes.
fn read(source: &dyn BlockHashSource, start: u32, count: u32) -> Result<Vec<Hash32>, String> {
    let hashes = source.block_hashes(start, count)?;
    if hashes.len() != count as usize {
        return Err(format!(
            "asked for {count} block hashes from height {start}, got {}",
            hashes.len()
        ));
    }
    Ok(hashes)
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
