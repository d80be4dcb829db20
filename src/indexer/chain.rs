//! What the block processor needs of the index: the narrow [`Chain`] trait (so the driver
//! can be tested with a fake chain, and the index knows nothing of the daemon or of the
//! driver), and its implementation for [`Index`]. Its errors are the index's own
//! [`IndexError`].

use std::time::Duration;

use bitcoin::{BlockHash, OutPoint, Txid};

use crate::index::{HashX, Index, IndexError, UpgradeProgress};

/// What an applied block or a rollback changed, for notifications.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// The script-hash keys whose history changed.
    pub touched: Vec<HashX>,
    /// The outpoints whose confirmed spender changed: spent by an applied block, unspent
    /// again by a rollback.
    pub spent: Vec<OutPoint>,
    /// The transactions whose outputs' confirmed funder changed: mined in an applied
    /// block, removed by a rollback.
    pub funders: Vec<Txid>,
}

impl Changes {
    /// Adds `other`'s changes to these (sorted, each once).
    pub fn merge(&mut self, mut other: Changes) {
        self.touched.append(&mut other.touched);
        self.spent.append(&mut other.spent);
        self.funders.append(&mut other.funders);
        self.touched.sort_unstable();
        self.touched.dedup();
        self.spent.sort_unstable();
        self.spent.dedup();
        self.funders.sort_unstable();
        self.funders.dedup();
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.touched.is_empty() && self.spent.is_empty() && self.funders.is_empty()
    }
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
    /// Applies the next block; returns what it changed (the script-hash keys whose history
    /// it extended, the outpoints it spent, its transactions).
    /// [`IndexError::NotOnTip`] when its parent is not our tip (a reorg: the driver looks
    /// for the fork point); any other error stops the driver.
    fn advance(&mut self, raw: &[u8]) -> Result<Changes, IndexError>;
    /// Whether the caches are over budget.
    fn needs_flush(&self) -> bool;
    /// Bytes held by the caches.
    fn cache_bytes(&self) -> usize;
    /// Transactions indexed so far (flushed or not).
    fn tx_count(&self) -> u64;
    /// Writes everything to disk atomically.
    fn flush(&mut self) -> Result<FlushInfo, IndexError>;
    /// Rolls back to `height` (the fork point) with undo data; returns what the removed
    /// blocks had changed.
    fn backup(&mut self, height: u32) -> Result<Changes, IndexError>;
    /// Where the upgrade of a previous-layout database stands (`None`: nothing to do, the
    /// blocks can be applied). See [`Index::upgrade_progress`].
    fn upgrade_progress(&self) -> Option<UpgradeProgress>;
    /// Adds our block at the upgrade's next height (raw) to the spender index being built.
    fn upgrade_block(&mut self, raw: &[u8]) -> Result<(), IndexError>;
    /// Writes what the upgrade has built so far (all of it: the upgrade is over once every
    /// block was given).
    fn upgrade_flush(&mut self) -> Result<FlushInfo, IndexError>;
}

impl Chain for Index {
    fn tip(&self) -> Option<(u32, BlockHash)> {
        Index::tip(self)
    }

    fn block_hash(&self, height: u32) -> Option<BlockHash> {
        Index::block_hash(self, height).ok().flatten()
    }

    fn advance(&mut self, raw: &[u8]) -> Result<Changes, IndexError> {
        let summary = Index::advance(self, raw)?;
        Ok(Changes {
            touched: summary.touched,
            spent: summary.spent,
            funders: summary.txids,
        })
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

    fn backup(&mut self, height: u32) -> Result<Changes, IndexError> {
        let rolled = Index::backup(self, height)?;
        Ok(Changes {
            touched: rolled.touched,
            spent: rolled.unspent,
            funders: rolled.removed,
        })
    }

    fn upgrade_progress(&self) -> Option<UpgradeProgress> {
        Index::upgrade_progress(self)
    }

    fn upgrade_block(&mut self, raw: &[u8]) -> Result<(), IndexError> {
        Index::upgrade_block(self, raw)
    }

    fn upgrade_flush(&mut self) -> Result<FlushInfo, IndexError> {
        let stats = Index::upgrade_flush(self)?;
        Ok(FlushInfo {
            height: stats.height,
            tx_count: Index::tx_count(self),
            bytes: stats.batch_bytes,
            took: stats.elapsed,
        })
    }
}
