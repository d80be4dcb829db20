//! The block processor's errors, one enum per boundary: [`SyncError`] (why the run loop
//! stopped: the server exits with it) and [`ForcedReorgError`] (why an operator's rollback
//! was not done: the admin RPC's `reorg` answers with it). What the [`Chain`] trait's
//! methods return is the index's own [`IndexError`].
//!
//! [`Chain`]: super::Chain

use std::time::Duration;

use crate::daemon;
use crate::index::IndexError;

/// Why syncing stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("daemon: {0}")]
    Daemon(#[from] daemon::Error),
    /// A block the index cannot apply (other than a reorg), or a failed flush or rollback.
    #[error("index: {0}")]
    Index(#[from] IndexError),
    #[error("reorg of {depth} blocks at height {tip} is deeper than REORG_LIMIT {limit}; refusing to guess (re-sync or raise REORG_LIMIT)")]
    ReorgTooDeep { depth: u32, tip: u32, limit: u32 },
    #[error("the prefetcher stopped")]
    PrefetcherGone,
    /// Upgrading the database needs our own blocks again, and the daemon lacks some.
    #[error(
        "the daemon does not have blocks {from}..={to} of the indexed chain (pruned, or a branch \
         it no longer keeps), which upgrading the database to the spender index needs: point \
         DAEMON_URL at a node that has them, or remove DB_DIRECTORY to resync"
    )]
    UpgradeBlocksMissing { from: u32, to: u32 },
}

/// Why a rollback the operator asked for (the admin RPC's `reorg`) was not done; the text is
/// the admin client's answer. Nothing was rolled back.
#[derive(Debug, thiserror::Error)]
pub enum ForcedReorgError {
    /// Refused before the first catch-up with the daemon, as ElectrumX does.
    #[error("still catching up with daemon")]
    CatchingUp,
    /// More blocks than the chain has above the genesis block.
    #[error("cannot roll back {count} blocks: the chain has only {tip} above the genesis block")]
    BeyondGenesis { count: u32, tip: u32 },
    /// More blocks than the undo data covers.
    #[error(
        "cannot roll back {count} blocks: undo data is kept for the last {limit} only \
         (REORG_LIMIT)"
    )]
    BeyondUndo { count: u32, limit: u32 },
    /// The flush before the rollback, or the rollback itself, failed.
    #[error("{0}")]
    Index(#[from] IndexError),
    /// The server stopped before the rollback was taken.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The block processor is gone (it stopped with an error).
    #[error("the block processor has stopped")]
    Stopped,
    /// The block processor did not get to it in time (busy with a long flush); it will not
    /// do it later.
    #[error("the block processor did not take the reorg within {} s", .wait.as_secs())]
    NotTaken { wait: Duration },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The admin client and operators see these: the same words as before the errors were
    /// typed (`docs/operations.md` shows the REORG_LIMIT one).
    #[test]
    fn forced_reorg_messages() {
        let cases = [
            (
                ForcedReorgError::CatchingUp,
                "still catching up with daemon",
            ),
            (
                ForcedReorgError::BeyondGenesis {
                    count: 200,
                    tip: 150,
                },
                "cannot roll back 200 blocks: the chain has only 150 above the genesis block",
            ),
            (
                ForcedReorgError::BeyondUndo { count: 9, limit: 8 },
                "cannot roll back 9 blocks: undo data is kept for the last 8 only (REORG_LIMIT)",
            ),
            (
                ForcedReorgError::Index(IndexError::UndoMissing { height: 7 }),
                "no undo data for block 7 (was REORG_LIMIT lowered?)",
            ),
            (
                ForcedReorgError::ShuttingDown,
                "the server is shutting down",
            ),
            (ForcedReorgError::Stopped, "the block processor has stopped"),
            (
                ForcedReorgError::NotTaken {
                    wait: Duration::from_secs(120),
                },
                "the block processor did not take the reorg within 120 s",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }

    #[test]
    fn sync_messages() {
        let e = SyncError::from(IndexError::UndoMissing { height: 7 });
        assert_eq!(
            e.to_string(),
            "index: no undo data for block 7 (was REORG_LIMIT lowered?)"
        );
        let e = SyncError::ReorgTooDeep {
            depth: 9,
            tip: 150,
            limit: 8,
        };
        assert_eq!(
            e.to_string(),
            "reorg of 9 blocks at height 150 is deeper than REORG_LIMIT 8; refusing to guess \
             (re-sync or raise REORG_LIMIT)"
        );
    }
}
