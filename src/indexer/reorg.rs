//! Reorganisations: how our tip relates to the daemon's, where the two chains part, and
//! rolling back to the fork point — when the daemon's chain moved to another branch, or when
//! the operator asks for it ([`ForcedReorg`], the admin RPC's `reorg`).

use bitcoin::BlockHash;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::chain::Chain;
use super::error::SyncError;
use super::prefetch::PrefetchHandle;
use crate::daemon::Daemon;
use crate::index::HashX;

/// A rollback asked for by the operator (the admin RPC's `reorg`, ElectrumX's
/// `force_chain_reorg`): the last `count` blocks are rolled back with their undo data, then
/// fetched again from the daemon and re-applied.
#[derive(Debug)]
pub struct ForcedReorg {
    pub count: u32,
    /// The fork height rolled back to, or why nothing was done.
    pub reply: oneshot::Sender<Result<u32, String>>,
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

/// A reorg: finds the fork point, rolls back to it and restarts the prefetcher after it.
/// Returns the prefetcher's new generation, the fork height and the keys the removed blocks
/// had touched.
pub(super) fn rollback<C: Chain>(
    chain: &mut C,
    daemon: &Daemon,
    rt: &Handle,
    reorg_limit: u32,
    handle: &PrefetchHandle,
) -> Result<(u64, u32, Vec<HashX>), SyncError> {
    let fork = find_fork(chain, daemon, rt, reorg_limit)?;
    let tip = chain.tip().map_or(0, |t| t.0);
    tracing::warn!(
        tip,
        fork,
        depth = tip - fork,
        "chain reorganisation: rolling back to the fork point"
    );
    chain.flush().map_err(SyncError::Index)?;
    let touched = chain.backup(fork).map_err(SyncError::Index)?;
    Ok((handle.reset(fork + 1), fork, touched))
}

/// A rollback of `count` blocks asked for by the operator: refused before the first
/// catch-up (as ElectrumX does) and beyond what the undo data covers; otherwise the blocks
/// are rolled back (flushed first, one atomic batch) and the prefetcher restarts after the
/// fork, so the daemon's blocks are applied again. Returns the prefetcher's new generation,
/// the fork height and the keys the removed blocks had touched; an error leaves the index
/// as it was.
pub(super) fn forced_reorg<C: Chain>(
    chain: &mut C,
    reorg_limit: u32,
    caught_up: bool,
    count: u32,
    handle: &PrefetchHandle,
) -> Result<(u64, u32, Vec<HashX>), String> {
    if !caught_up {
        return Err("still catching up with daemon".into());
    }
    let tip = chain.tip().map_or(0, |t| t.0);
    if count > tip {
        return Err(format!(
            "cannot roll back {count} blocks: the chain has only {tip} above the genesis block"
        ));
    }
    if count > reorg_limit {
        return Err(format!(
            "cannot roll back {count} blocks: undo data is kept for the last {reorg_limit} \
             only (REORG_LIMIT)"
        ));
    }
    let fork = tip - count;
    tracing::warn!(
        tip,
        fork,
        depth = count,
        "forced chain reorganisation (admin RPC): rolling back"
    );
    chain.flush()?;
    let touched = chain.backup(fork).map_err(|e| {
        tracing::error!("forced reorganisation failed, nothing rolled back: {e}");
        e
    })?;
    Ok((handle.reset(fork + 1), fork, touched))
}

/// Walks back from our tip until our hash equals the daemon's: that height is the fork.
fn find_fork<C: Chain>(
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
