//! Merkle trees as ElectrumX 1.20 uses them: transaction branches ([`tree`]) and header
//! proofs to a `cp_height` from a segment cache ([`headers`]).

pub mod headers;
pub mod tree;
pub mod txs;

#[cfg(test)]
mod tests;

pub use headers::{BlockHashSource, HeaderMerkleCache, ReorgGuard, DEFAULT_SEGMENT_BITS};
pub use tree::{branch_and_root, branch_length, root, root_from_branch, Hash32};
pub use txs::TxMerkleCache;
