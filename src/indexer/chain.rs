//! What the block processor needs of the index: the narrow [`Chain`] trait (so the driver
//! can be tested with a fake chain, and the index knows nothing of the daemon or of the
//! driver), and its implementation for [`Index`]. Its errors are the index's own
//! [`IndexError`].

use std::time::Duration;

use bitcoin::BlockHash;

use crate::index::{HashX, Index, IndexError};

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
    /// [`IndexError::NotOnTip`] when its parent is not our tip (a reorg: the driver looks
    /// for the fork point); any other error stops the driver.
    fn advance(&mut self, raw: &[u8]) -> Result<Vec<HashX>, IndexError>;
    /// Whether the caches are over budget.
    fn needs_flush(&self) -> bool;
    /// Bytes held by the caches.
    fn cache_bytes(&self) -> usize;
    /// Transactions indexed so far (flushed or not).
    fn tx_count(&self) -> u64;
    /// Writes everything to disk atomically.
    fn flush(&mut self) -> Result<FlushInfo, IndexError>;
    /// Rolls back to `height` (the fork point) with undo data; returns the script-hash keys
    /// whose history the removed blocks had extended.
    fn backup(&mut self, height: u32) -> Result<Vec<HashX>, IndexError>;
}

impl Chain for Index {
    fn tip(&self) -> Option<(u32, BlockHash)> {
        Index::tip(self)
    }

    fn block_hash(&self, height: u32) -> Option<BlockHash> {
        Index::block_hash(self, height).ok().flatten()
    }

    fn advance(&mut self, raw: &[u8]) -> Result<Vec<HashX>, IndexError> {
        Ok(Index::advance(self, raw)?.touched)
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

    fn flush(&mut self) -> Result<FlushInfo, IndexError> {
        let stats = Index::flush(self)?;
        Ok(FlushInfo {
            height: stats.height,
            tx_count: Index::tx_count(self),
            bytes: stats.batch_bytes,
            took: stats.elapsed,
        })
    }

    fn backup(&mut self, height: u32) -> Result<Vec<HashX>, IndexError> {
        Index::backup(self, height)
    }
}
