//! The index's error type.

use std::path::PathBuf;

use bitcoin::{BlockHash, OutPoint};

/// Everything that can go wrong in the index. Corrupt or unexpected data on disk is always an
/// error of this type, never a panic.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// RocksDB failed (I/O, lock held by another process, ...).
    #[error("database error: {0}")]
    Db(#[from] rocksdb::Error),
    /// The database could not be opened.
    #[error("cannot open the index at {path}: {source}")]
    Open {
        path: PathBuf,
        source: rocksdb::Error,
    },
    /// A file of the index outside RocksDB (a bulk flush's staged table files) could not be
    /// written, read or removed.
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The database holds data that cannot be right (bad lengths, checksums, gaps).
    #[error("corrupt index: {0}")]
    Corrupt(String),
    /// The database was written by another layout version (one this FerrumX cannot
    /// upgrade in place).
    #[error(
        "the index was written in format version {found}, this FerrumX reads version \
         {expected}: remove the database directory to resync"
    )]
    Version { found: u32, expected: u32 },
    /// The spender index of a database of the previous layout is still being built
    /// (`Index::upgrade_block`): blocks cannot be applied or rolled back, nor outpoints
    /// queried, until it is done.
    #[error(
        "the spender index is being built (the upgrade is at height {next} of {tip}); \
         try again when it is done"
    )]
    Upgrading { next: u32, tip: u32 },
    /// The database belongs to another network.
    #[error(
        "the index belongs to another network (its genesis block is {found}, {network}'s is \
         {expected}): check NET, or use another DB_DIRECTORY"
    )]
    WrongNetwork {
        network: bitcoin::Network,
        found: BlockHash,
        expected: BlockHash,
    },
    /// The block does not extend the current tip (a reorg, or blocks out of order).
    #[error(
        "block {block} does not extend the tip {tip} at height {height}: its parent is {prev}"
    )]
    NotOnTip {
        height: u32,
        tip: BlockHash,
        block: BlockHash,
        prev: BlockHash,
    },
    /// The block bytes do not parse, or do not match their header.
    #[error("bad block at height {height}: {reason}")]
    BadBlock { height: u32, reason: String },
    /// A block spends an output the index does not know (a bad chain, or a damaged index).
    #[error("block at height {height} spends {outpoint}, which is not in the UTXO set")]
    MissingUtxo { height: u32, outpoint: OutPoint },
    /// A rollback was asked for deeper than the undo data kept.
    #[error(
        "cannot roll back from height {tip} to {to}: that is deeper than REORG_LIMIT ({limit}); \
         the chain reorganised beyond what this index can undo (raise REORG_LIMIT and resync)"
    )]
    ReorgTooDeep { tip: u32, to: u32, limit: u32 },
    /// A rollback target above the tip.
    #[error("cannot roll back to height {to}: the tip is at {tip}")]
    BadBackupTarget { tip: u32, to: u32 },
    /// The undo data of a block that must be undone is missing.
    #[error("no undo data for block {height} (was REORG_LIMIT lowered?)")]
    UndoMissing { height: u32 },
    /// The tx-number space (5 bytes) is exhausted.
    #[error("transaction numbers exhausted")]
    TxNumOverflow,
}
