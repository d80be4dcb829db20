//! Reorganisations: how our tip relates to the daemon's, where the two chains part, and the
//! one rollback both kinds take — when the daemon's chain moved to another branch, or when
//! the operator asks for it ([`ForcedReorg`], the admin RPC's `reorg`).

use std::time::Duration;

use bitcoin::BlockHash;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

use super::chain::{Chain, Changes};
use super::error::{ForcedReorgError, SyncError};
use crate::daemon::Daemon;
use crate::index::IndexError;

/// A rollback asked for by the operator (the admin RPC's `reorg`, ElectrumX's
/// `force_chain_reorg`): the last `count` blocks are rolled back with their undo data, then
/// fetched again from the daemon and re-applied. Sent with [`ForcedReorg::request`].
#[derive(Debug)]
pub struct ForcedReorg {
    pub(super) count: u32,
    /// The fork height rolled back to, or why nothing was done.
    pub(super) reply: oneshot::Sender<Result<u32, ForcedReorgError>>,
}

impl ForcedReorg {
    /// Asks the block processor listening on `to` to roll back the last `count` blocks and
    /// waits up to `wait` for it to be done; returns the fork height rolled back to. If it
    /// does not answer in time it will not roll back later.
    ///
    /// # Errors
    /// Why nothing was rolled back (the admin client's answer).
    pub async fn request(
        to: &mpsc::UnboundedSender<ForcedReorg>,
        count: u32,
        wait: Duration,
    ) -> Result<u32, ForcedReorgError> {
        let (reply, answer) = oneshot::channel();
        to.send(ForcedReorg { count, reply })
            .map_err(|_| ForcedReorgError::Stopped)?;
        match tokio::time::timeout(wait, answer).await {
            Ok(Ok(done)) => done,
            Ok(Err(_)) => Err(ForcedReorgError::Stopped),
            Err(_) => Err(ForcedReorgError::NotTaken { wait }),
        }
    }
}

/// Why blocks are rolled back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cause {
    /// The daemon's chain parts from ours at the fork point.
    Fork,
    /// The operator asked for it ([`ForcedReorg`]).
    Forced,
}

/// Rolls `chain` back so that `fork` is its tip: flushes first, then undoes the blocks above
/// it with their undo data in one atomic batch. Returns what the removed blocks had
/// changed. An error leaves the chain as it was (flushed, perhaps).
pub(super) fn roll_back<C: Chain>(
    chain: &mut C,
    fork: u32,
    cause: Cause,
) -> Result<Changes, IndexError> {
    let tip = chain.tip().map_or(0, |t| t.0);
    let depth = tip.saturating_sub(fork);
    match cause {
        Cause::Fork => tracing::warn!(
            tip,
            fork,
            depth,
            "chain reorganisation: rolling back to the fork point"
        ),
        Cause::Forced => tracing::warn!(
            tip,
            fork,
            depth,
            "forced chain reorganisation (admin RPC): rolling back"
        ),
    }
    chain.flush()?;
    chain.backup(fork).inspect_err(|e| {
        if cause == Cause::Forced {
            tracing::error!("forced reorganisation failed, nothing rolled back: {e}");
        }
    })
}

/// Where a rollback of `count` blocks asked for by the operator goes: refused before the
/// first catch-up (as ElectrumX does), below the genesis block and beyond what the undo data
/// covers (`reorg_limit` blocks).
pub(super) fn forced_fork<C: Chain>(
    chain: &C,
    caught_up: bool,
    count: u32,
    reorg_limit: u32,
) -> Result<u32, ForcedReorgError> {
    if !caught_up {
        return Err(ForcedReorgError::CatchingUp);
    }
    let tip = chain.tip().map_or(0, |t| t.0);
    if count > tip {
        return Err(ForcedReorgError::BeyondGenesis { count, tip });
    }
    if count > reorg_limit {
        return Err(ForcedReorgError::BeyondUndo {
            count,
            limit: reorg_limit,
        });
    }
    Ok(tip - count)
}

/// How our tip relates to the daemon's best block once we have everything it offered.
pub(super) enum TipVsDaemon {
    /// The daemon's best block is not ours at its height: a reorg (at the same height, or
    /// onto a shorter chain).
    Forked,
    /// The daemon's chain is a prefix of ours: it lags (a failover daemon catching up) or
    /// our tip was invalidated without a replacement yet. Rolling back on this would throw
    /// away good blocks whenever a lagging daemon answers, so we wait: a replacement block
    /// arrives as a fork the prefetcher notices.
    Behind { ours: u32 },
    /// Same tip (or nothing to compare).
    Level,
}

/// How our tip relates to the daemon's best block, `best_hash` at `daemon_height`.
pub(super) fn tip_vs_daemon<C: Chain>(
    chain: &C,
    daemon_height: u32,
    best_hash: Option<BlockHash>,
) -> TipVsDaemon {
    let (Some(best), Some((ours, tip_hash))) = (best_hash, chain.tip()) else {
        return TipVsDaemon::Level;
    };
    let ours_there = match daemon_height.cmp(&ours) {
        std::cmp::Ordering::Equal => Some(tip_hash),
        std::cmp::Ordering::Less => chain.block_hash(daemon_height),
        // Cannot happen once caught up; the next message settles it.
        std::cmp::Ordering::Greater => return TipVsDaemon::Level,
    };
    match ours_there {
        Some(h) if h != best => TipVsDaemon::Forked,
        _ if daemon_height < ours => TipVsDaemon::Behind { ours },
        _ => TipVsDaemon::Level,
    }
}

/// Walks back from our tip until our hash equals the daemon's: that height is the fork.
pub(super) fn find_fork<C: Chain>(
    chain: &C,
    daemon: &Daemon,
    rt: &Handle,
    limit: u32,
) -> Result<u32, SyncError> {
    let tip = chain.tip().map_or(0, |t| t.0);
    let mut h = tip;
    loop {
        let ours = chain.block_hash(h);
        let theirs = match rt.block_on(daemon.block_hash(h)) {
            Ok(x) => Some(x),
            // Beyond the daemon's (shorter) chain.
            Err(e) if e.rpc_code() == Some(-8) => None,
            Err(e) => return Err(e.into()),
        };
        if ours.is_some() && ours == theirs {
            return Ok(h);
        }
        if tip - h >= limit || h == 0 {
            return Err(SyncError::ReorgTooDeep {
                depth: tip - h + 1,
                tip,
                limit,
            });
        }
        h -= 1;
    }
}

#[cfg(test)]
mod tests {
    use bitcoin::hashes::Hash;

    use super::*;
    use crate::index::{HashX, UpgradeProgress};
    use crate::indexer::chain::FlushInfo;

    /// A chain of `tip + 1` blocks that records what is done to it.
    struct Fake {
        tip: u32,
        calls: Vec<String>,
        fail_backup: bool,
    }

    impl Fake {
        fn new(tip: u32) -> Fake {
            Fake {
                tip,
                calls: Vec::new(),
                fail_backup: false,
            }
        }
    }

    impl Chain for Fake {
        fn tip(&self) -> Option<(u32, BlockHash)> {
            Some((self.tip, BlockHash::all_zeros()))
        }
        fn block_hash(&self, _: u32) -> Option<BlockHash> {
            None
        }
        fn advance(&mut self, _: &[u8]) -> Result<Changes, IndexError> {
            unreachable!("not used by rollbacks")
        }
        fn needs_flush(&self) -> bool {
            false
        }
        fn cache_bytes(&self) -> usize {
            0
        }
        fn tx_count(&self) -> u64 {
            0
        }
        fn flush(&mut self) -> Result<FlushInfo, IndexError> {
            self.calls.push("flush".into());
            Ok(FlushInfo::default())
        }
        fn backup(&mut self, height: u32) -> Result<Changes, IndexError> {
            self.calls.push(format!("backup {height}"));
            if self.fail_backup {
                return Err(IndexError::UndoMissing { height });
            }
            self.tip = height;
            Ok(Changes {
                touched: vec![HashX([1; crate::index::HASHX_LEN])],
                ..Changes::default()
            })
        }
        fn upgrade_progress(&self) -> Option<UpgradeProgress> {
            None
        }
        fn upgrade_block(&mut self, _: &[u8]) -> Result<(), IndexError> {
            unreachable!("not used by rollbacks")
        }
        fn upgrade_flush(&mut self) -> Result<FlushInfo, IndexError> {
            unreachable!("not used by rollbacks")
        }
    }

    #[test]
    fn forced_rollbacks_are_refused_before_catch_up_and_beyond_the_undo_data() {
        let chain = Fake::new(150);
        let refused = |caught_up, count| {
            forced_fork(&chain, caught_up, count, 8)
                .expect_err("refused")
                .to_string()
        };
        assert_eq!(refused(false, 1), "still catching up with daemon");
        assert_eq!(
            refused(true, 9),
            "cannot roll back 9 blocks: undo data is kept for the last 8 only (REORG_LIMIT)"
        );
        assert_eq!(
            forced_fork(&Fake::new(5), true, 6, 8)
                .expect_err("refused")
                .to_string(),
            "cannot roll back 6 blocks: the chain has only 5 above the genesis block"
        );
        assert_eq!(forced_fork(&chain, true, 8, 8).expect("allowed"), 142);
        assert_eq!(forced_fork(&chain, true, 0, 8).expect("allowed"), 150);
        assert_eq!(forced_fork(&Fake::new(5), true, 5, 8).expect("allowed"), 0);
    }

    #[test]
    fn a_rollback_flushes_then_backs_up_to_the_fork() {
        for cause in [Cause::Fork, Cause::Forced] {
            let mut chain = Fake::new(150);
            let touched = roll_back(&mut chain, 147, cause).expect("rolled back");
            assert_eq!(chain.calls, ["flush", "backup 147"]);
            assert_eq!(touched.touched, vec![HashX([1; crate::index::HASHX_LEN])]);
            assert_eq!(chain.tip, 147);

            let mut chain = Fake::new(150);
            chain.fail_backup = true;
            let e = roll_back(&mut chain, 147, cause).expect_err("failed");
            assert!(matches!(e, IndexError::UndoMissing { height: 147 }));
            assert_eq!(chain.tip, 150);
        }
    }
}
