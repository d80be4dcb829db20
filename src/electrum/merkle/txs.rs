//! Transaction merkle branches from a per-block cache of the tree's upper levels.
//!
//! A branch computed from the txids alone costs a hash per transaction of the block (2,000
//! double SHA-256s for a 2,000-transaction block: most of a `get_merkle`'s CPU). The tree
//! splits at level [`SUBTREE_BITS`]: each node there is the root of 32 consecutive leaves.
//! Those nodes are computed once per block and cached; a branch is then the 5 siblings
//! inside its leaf's 32-leaf subtree (31 hashes) followed by the branch of the subtree's
//! node among the cached ones (one hash per 64 transactions): the same branch, about 20
//! times fewer hashes for a 2,000-transaction block.
//!
//! Why the split gives the same nodes: at every level below the split, each full subtree
//! has an even number of nodes, so only the last subtree (the only one that may be short)
//! can hold the level's odd last node, which Bitcoin's tree pairs with itself — exactly what
//! computing that subtree on its own does.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, Weak};

use bitcoin::hashes::Hash;
use bitcoin::Txid;
use lru::LruCache;

use super::tree::{branch_and_root, branch_and_root_levels, branch_length, root_levels, Hash32};

/// Leaves per cached node: 2^5 = 32.
pub const SUBTREE_BITS: u32 = 5;

/// Blocks whose split level is cached (as many as the txids cache holds: at 32 bytes per
/// 32 transactions, 1 byte a transaction).
const BLOCKS_CACHED: usize = 1_000;

/// The nodes at level `bits` of the tree over `hashes` (each the root of `2^bits`
/// consecutive leaves, the last of what remains).
pub(super) fn split_level(hashes: &[Hash32], bits: u32) -> Vec<Hash32> {
    hashes
        .chunks(1 << bits)
        .map(|chunk| root_levels(chunk, bits))
        .collect()
}

/// The branch of leaf `index` (deepest first) of a tree of `count` leaves, from the leaves
/// of its subtree (`chunk`: the `2^bits` leaves from `index` rounded down to a multiple of
/// `2^bits`, fewer at the end) and the tree's nodes at level `bits` (`upper`, as
/// [`split_level`] computes them): the same as [`branch_and_root`]'s branch over all the
/// leaves. `count` must be over `2^bits` and `index` below it.
pub(super) fn branch_from_split(
    chunk: &[Hash32],
    upper: &[Hash32],
    count: usize,
    index: usize,
    bits: u32,
) -> Vec<Hash32> {
    let (mut branch, _) = branch_and_root_levels(chunk, index & ((1 << bits) - 1), bits);
    let levels = branch_length(count) - bits;
    let (top, _) = branch_and_root_levels(upper, index >> bits, levels);
    branch.extend(top);
    branch
}

/// The leaves of `index`'s subtree of `2^bits` leaves.
pub(super) fn subtree<T>(leaves: &[T], index: usize, bits: u32) -> &[T] {
    let start = index & !((1usize << bits) - 1);
    &leaves[start..leaves.len().min(start + (1 << bits))]
}

/// A block's cached split level, and the txids it was computed from (the txids cache hands
/// out the same `Arc` while it holds the block: a different one is a different read, maybe
/// of another block at that height, and the level is computed again).
struct Entry {
    txids: Weak<Vec<Txid>>,
    upper: Arc<Vec<Hash32>>,
}

/// The cache of blocks' split levels, by height (see the module documentation).
pub struct TxMerkleCache {
    blocks: Mutex<LruCache<u32, Entry>>,
}

impl Default for TxMerkleCache {
    fn default() -> TxMerkleCache {
        TxMerkleCache {
            blocks: Mutex::new(LruCache::new(
                NonZeroUsize::new(BLOCKS_CACHED).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }
}

impl TxMerkleCache {
    /// Blocks whose split level is held.
    pub fn len(&self) -> usize {
        self.blocks.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no block is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The merkle branch of `txids[index]` in the block at `height` (internal byte order,
    /// deepest first), as [`branch_and_root`] computes it.
    ///
    /// # Errors
    /// `index` is out of range.
    pub fn branch(
        &self,
        height: u32,
        txids: &Arc<Vec<Txid>>,
        index: usize,
    ) -> Result<Vec<Hash32>, String> {
        let leaves =
            |range: &[Txid]| -> Vec<Hash32> { range.iter().map(|t| t.to_byte_array()).collect() };
        if txids.len() <= 1 << SUBTREE_BITS || index >= txids.len() {
            return branch_and_root(&leaves(txids), index).map(|(branch, _)| branch);
        }
        let cached = {
            let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
            blocks
                .get(&height)
                .filter(|e| Weak::ptr_eq(&e.txids, &Arc::downgrade(txids)))
                .map(|e| e.upper.clone())
        };
        let upper = match cached {
            Some(upper) => upper,
            None => {
                let upper = Arc::new(split_level(&leaves(txids), SUBTREE_BITS));
                self.blocks.lock().unwrap_or_else(|e| e.into_inner()).put(
                    height,
                    Entry {
                        txids: Arc::downgrade(txids),
                        upper: upper.clone(),
                    },
                );
                upper
            }
        };
        let chunk = leaves(subtree(txids, index, SUBTREE_BITS));
        Ok(branch_from_split(
            &chunk,
            &upper,
            txids.len(),
            index,
            SUBTREE_BITS,
        ))
    }
}
