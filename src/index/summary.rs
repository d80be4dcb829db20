//! What the writer reports: of an applied block ([`BlockSummary`]), of a flush
//! ([`FlushStats`]) and of its cache ([`CacheStats`]).

use std::time::Duration;

use bitcoin::{BlockHash, OutPoint, Txid};

use super::schema::HashX;

/// What one block did, for logs and notifications.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockSummary {
    pub height: u32,
    pub hash: BlockHash,
    /// Transactions in the block.
    pub txs: usize,
    /// The hashXs whose history the block extended (sorted, each once). Readers see them
    /// only after the flush that writes the block: notify after it.
    pub touched: Vec<HashX>,
    /// The outputs the block's inputs spent (in block order): each gained a spender.
    pub spent: Vec<OutPoint>,
    /// The block's transactions (in block order): their outputs gained a funder.
    pub txids: Vec<Txid>,
}

/// What a flush wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushStats {
    /// The flushed height afterwards.
    pub height: u32,
    /// Blocks written.
    pub blocks: usize,
    /// Transactions written.
    pub txs: usize,
    /// UTXOs added and flushed UTXOs removed.
    pub utxo_adds: usize,
    pub utxo_spends: usize,
    /// History entries added.
    pub history: usize,
    /// Bytes of the write batch (of keys and values, for a bulk flush).
    pub batch_bytes: usize,
    /// Written as sorted table files and ingested (a bulk flush), not as a write batch.
    pub bulk: bool,
    /// Time taken, write and fsync included.
    pub elapsed: Duration,
}

/// Sizes of the unflushed cache, for progress logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Estimated bytes held (compared with the budget).
    pub bytes: usize,
    pub blocks: usize,
    pub txs: usize,
    pub utxo_adds: usize,
    pub utxo_spends: usize,
    pub history: usize,
}
