//! A cache that makes header proofs (`cp_height`) cheap without ElectrumX's concurrency bug.
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
//! # Concurrency
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

use super::tree::{branch_and_root, branch_and_root_levels, parent, root_levels, Hash32};

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
