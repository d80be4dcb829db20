//! What the block processor needs of the index: the narrow [`Chain`] trait (so the driver
//! can be tested with a fake chain, and the index knows nothing of the daemon or of the
//! driver), and its implementation for [`Index`].

use std::time::Duration;

use bitcoin::BlockHash;

use crate::index::{HashX, Index, IndexError};

/// Why a block could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum AdvanceError {
    /// Its previous-block hash is not our tip: a reorg.
    #[error("block does not connect to the tip")]
    NotOnTip,
    /// Anything else (corrupt block, storage failure): fatal.
    #[error("{0}")]
    Fatal(String),
}

/// Figures of one flush, for the logs.
#[derive(Clone, Debug, Default)]
pub struct FlushInfo {
    pub height: u32,
    pub tx_count: u64,
    pub bytes: usize,
    pub took: Duration,
}

/// What the driver needs from the index (one writer).
pub trait Chain: Send {
    /// Height and hash of the last applied block (flushed or not).
    fn tip(&self) -> Option<(u32, BlockHash)>;
    /// Our hash at `height` on our chain.
    fn block_hash(&self, height: u32) -> Option<BlockHash>;
    /// Applies the next block; returns the script-hash keys whose history it extended.
    fn advance(&mut self, raw: &[u8]) -> Result<Vec<HashX>, AdvanceError>;
    /// Whether the caches are over budget.
    fn needs_flush(&self) -> bool;
    /// Bytes held by the caches.
    fn cache_bytes(&self) -> usize;
    /// Transactions indexed so far (flushed or not).
    fn tx_count(&self) -> u64;
    /// Writes everything to disk atomically.
    fn flush(&mut self) -> Result<FlushInfo, String>;
    /// Rolls back to `height` (the fork point) with undo data; returns the script-hash keys
    /// whose history the removed blocks had extended.
    fn backup(&mut self, height: u32) -> Result<Vec<HashX>, String>;
}

impl Chain for Index {
    fn tip(&self) -> Option<(u32, BlockHash)> {
        Index::tip(self)
    }

    fn block_hash(&self, height: u32) -> Option<BlockHash> {
        Index::block_hash(self, height).ok().flatten()
    }

    fn advance(&mut self, raw: &[u8]) -> Result<Vec<HashX>, AdvanceError> {
        match Index::advance(self, raw) {
            Ok(summary) => Ok(summary.touched),
            Err(IndexError::NotOnTip { .. }) => Err(AdvanceError::NotOnTip),
            Err(e) => Err(AdvanceError::Fatal(e.to_string())),
        }
    }

    fn needs_flush(&self) -> bool {
        Index::needs_flush(self)
    }

    fn cache_bytes(&self) -> usize {
        Index::cache_bytes(self)
    }

    fn tx_count(&self) -> u64 {
        Index::tx_count(self)
    }

    fn flush(&mut self) -> Result<FlushInfo, String> {
        let stats = Index::flush(self).map_err(|e| e.to_string())?;
        Ok(FlushInfo {
            height: stats.height,
            tx_count: Index::tx_count(self),
            bytes: stats.batch_bytes,
            took: stats.elapsed,
        })
    }

    fn backup(&mut self, height: u32) -> Result<Vec<HashX>, String> {
        Index::backup(self, height).map_err(|e| e.to_string())
    }
}
