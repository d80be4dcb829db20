//! The block processor's errors at its boundaries.

use crate::daemon;

/// Why syncing stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("daemon: {0}")]
    Daemon(#[from] daemon::Error),
    #[error("index: {0}")]
    Index(String),
    #[error("reorg of {depth} blocks at height {tip} is deeper than REORG_LIMIT {limit}; refusing to guess (re-sync or raise REORG_LIMIT)")]
    ReorgTooDeep { depth: u32, tip: u32, limit: u32 },
    #[error("the prefetcher stopped")]
    PrefetcherGone,
}
