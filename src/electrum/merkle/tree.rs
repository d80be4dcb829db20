//! Merkle branches and roots as ElectrumX 1.20 computes them (`lib/merkle.py`).
//!
//! Bitcoin's tree: leaves are hashes in internal byte order, a parent is
//! `sha256d(left ‖ right)`, and a level with an odd number of nodes pairs its last node with
//! itself. The branch for leaf `index` is the sibling at each level, deepest first (a node
//! without a sibling gets itself); the protocol layer writes each hash reversed in hex.

use bitcoin::hashes::{sha256d, Hash};

/// A 32-byte hash in internal byte order.
pub type Hash32 = [u8; 32];

/// `sha256d(left ‖ right)`.
pub(super) fn parent(left: &Hash32, right: &Hash32) -> Hash32 {
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
pub(super) fn branch_and_root_levels(
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
pub(super) fn root_levels(hashes: &[Hash32], levels: u32) -> Hash32 {
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
