//! The block processor (ElectrumX's `BlockProcessor` and `Prefetcher`): takes blocks from
//! the [`prefetch`]er, applies them to the index, flushes (by cache size during initial
//! sync, after every block once caught up), detects reorgs by prev-hash mismatch and rolls
//! back to the fork point, rolls back on the operator's demand ([`ForcedReorg`]), logs
//! progress like ElectrumX, and stops cleanly on shutdown.
//!
//! The index is reached through the narrow [`Chain`] trait, so the driver can be tested with
//! a fake and the index knows nothing of the daemon.
//!
//! Layout, one job per file: this file is the run loop; `prefetch` (raw blocks from the
//! daemon, ahead of the loop, bounded by bytes), `reorg` (tip against the daemon's, the
//! fork point, rollbacks), `progress` (progress log lines and the [`SyncStatus`] the admin
//! RPC reads), `chain` (the [`Chain`] trait and its impl for the index), `error`. The loop
//! uses all of them; `reorg` uses `chain`, `error` and `prefetch`; `progress` uses `chain`;
//! none of them uses this file.

mod chain;
mod error;
mod prefetch;
mod progress;
mod reorg;

use std::sync::Arc;
use std::time::Duration;

use bitcoin::BlockHash;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::daemon::Daemon;
use crate::index::HashX;
use prefetch::Fetched;
use progress::Progress;
use reorg::TipVsDaemon;

pub use chain::{AdvanceError, Chain, FlushInfo};
pub use error::SyncError;
pub use progress::SyncStatus;
pub use reorg::ForcedReorg;

/// Events the rest of the server may want (new tip → notifications).
#[derive(Clone, Debug)]
pub enum SyncEvent {
    /// Caught up with the daemon for the first time (client services may start).
    CaughtUp { height: u32 },
    /// Blocks above `fork` were rolled back (and flushed); the new branch follows.
    Reorg { fork: u32 },
    /// A new tip was applied and flushed once caught up. `touched`: the script-hash keys
    /// whose history changed since the previous event (this block's, and those of blocks a
    /// reorg removed on the way), sorted, each once.
    NewTip {
        height: u32,
        hash: BlockHash,
        touched: Vec<HashX>,
    },
}

/// Settings of the driver.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    pub prefetch_bytes: usize,
    pub poll: Duration,
    /// Notified (by ZMQ) when the daemon has a new block: look at once.
    pub wake: Arc<Notify>,
    pub reorg_limit: u32,
    pub progress_every: Duration,
}

/// Runs the driver on the current thread (call it from `spawn_blocking`) until `shutdown`,
/// then flushes and returns. `events` is called after each flushed tip once caught up.
pub fn run<C: Chain>(
    chain: &mut C,
    daemon: &Daemon,
    rt: &Handle,
    opts: &SyncOptions,
    shutdown: &CancellationToken,
    events: impl FnMut(SyncEvent),
) -> Result<(), SyncError> {
    let (_keep, reorgs) = mpsc::unbounded_channel();
    run_with(
        chain,
        daemon,
        rt,
        opts,
        shutdown,
        &SyncStatus::default(),
        reorgs,
        events,
    )
}

/// What the driver waits for.
enum Next {
    Fetched(Option<Fetched>),
    Reorg(ForcedReorg),
    /// Nobody can ask for rollbacks any more.
    ReorgsClosed,
}

/// [`run`], reporting to `status` and taking forced rollbacks from `reorgs` between blocks.
#[allow(clippy::too_many_arguments)]
pub fn run_with<C: Chain>(
    chain: &mut C,
    daemon: &Daemon,
    rt: &Handle,
    opts: &SyncOptions,
    shutdown: &CancellationToken,
    status: &SyncStatus,
    mut reorgs: mpsc::UnboundedReceiver<ForcedReorg>,
    mut events: impl FnMut(SyncEvent),
) -> Result<(), SyncError> {
    let next = chain.tip().map_or(0, |(h, _)| h + 1);
    let mut handle = {
        let _guard = rt.enter();
        prefetch::spawn(
            daemon.clone(),
            next,
            opts.prefetch_bytes,
            opts.poll,
            opts.wake.clone(),
            shutdown.child_token(),
        )
    };
    let mut generation = 0u64;
    let mut caught_up = false;
    let mut daemon_behind_warned = false;
    // Touched by rollbacks since the last NewTip (once caught up).
    let mut rolled_back: Vec<HashX> = Vec::new();
    let mut progress = Progress::new(chain, opts.progress_every);
    let mut reorgs_open = true;
    loop {
        let next = rt.block_on(async {
            tokio::select! {
                biased;
                r = reorgs.recv(), if reorgs_open => match r {
                    Some(r) => Next::Reorg(r),
                    None => Next::ReorgsClosed,
                },
                m = handle.rx.recv() => Next::Fetched(m),
            }
        });
        let msg = match next {
            Next::Fetched(Some(m)) => m,
            Next::ReorgsClosed => {
                reorgs_open = false;
                continue;
            }
            Next::Fetched(None) if shutdown.is_cancelled() => break,
            Next::Fetched(None) => return Err(SyncError::PrefetcherGone),
            Next::Reorg(r) => {
                if shutdown.is_cancelled() {
                    let _ = r.reply.send(Err("the server is shutting down".into()));
                    break;
                }
                if r.reply.is_closed() {
                    // The admin client was already told it was not taken (it waited too
                    // long): do not roll back behind its back.
                    continue;
                }
                let done =
                    reorg::forced_reorg(chain, opts.reorg_limit, caught_up, r.count, &handle);
                let reply = match done {
                    Ok((g, fork, touched)) => {
                        generation = g;
                        rolled_back.extend(touched);
                        status.rolled_back();
                        events(SyncEvent::Reorg { fork });
                        Ok(fork)
                    }
                    Err(e) => Err(e),
                };
                let _ = r.reply.send(reply);
                continue;
            }
        };
        if shutdown.is_cancelled() {
            break;
        }
        match msg {
            Fetched::Failed(e) => return Err(SyncError::Daemon(e)),
            Fetched::CaughtUp {
                daemon_height,
                best_hash,
                generation: g,
            } if g == generation => {
                status.set_daemon_height(daemon_height);
                match reorg::tip_vs_daemon(chain, daemon_height, best_hash) {
                    TipVsDaemon::Forked => {
                        let (g, fork, touched) =
                            reorg::rollback(chain, daemon, rt, opts.reorg_limit, &handle)?;
                        status.rolled_back();
                        generation = g;
                        if caught_up {
                            rolled_back.extend(touched);
                        }
                        events(SyncEvent::Reorg { fork });
                        continue;
                    }
                    TipVsDaemon::Behind { ours } if !daemon_behind_warned => {
                        daemon_behind_warned = true;
                        tracing::warn!(
                            daemon_height,
                            height = ours,
                            "the daemon's chain is shorter than ours but on it (a lagging \
                             daemon, or a tip being invalidated): waiting for it"
                        );
                    }
                    TipVsDaemon::Behind { .. } => {}
                    TipVsDaemon::Level => daemon_behind_warned = false,
                }
                let info = chain.flush().map_err(SyncError::Index)?;
                status.flushed(&info);
                if !caught_up {
                    caught_up = true;
                    status.set_caught_up();
                    progress.caught_up(chain, daemon_height, &info);
                    let height = chain.tip().map_or(0, |t| t.0);
                    events(SyncEvent::CaughtUp { height });
                }
            }
            Fetched::CaughtUp { .. } => {}
            Fetched::Block(b) if b.generation != generation => {}
            Fetched::Block(b) => match chain.advance(&b.raw) {
                Ok(touched) => {
                    status.set_daemon_height(b.daemon_height);
                    if caught_up {
                        let info = chain.flush().map_err(SyncError::Index)?;
                        status.flushed(&info);
                        tracing::info!(height = b.height, hash = %b.hash, "new block");
                        let mut touched = touched;
                        if !rolled_back.is_empty() {
                            touched.append(&mut rolled_back);
                            touched.sort_unstable();
                            touched.dedup();
                        }
                        events(SyncEvent::NewTip {
                            height: b.height,
                            hash: b.hash,
                            touched,
                        });
                    } else if chain.needs_flush() {
                        let info = chain.flush().map_err(SyncError::Index)?;
                        status.flushed(&info);
                        progress.flushed(&info);
                    }
                    if !caught_up {
                        progress.tick(chain, b.height, b.daemon_height);
                    }
                }
                Err(AdvanceError::NotOnTip) => {
                    let (g, fork, touched) =
                        reorg::rollback(chain, daemon, rt, opts.reorg_limit, &handle)?;
                    status.rolled_back();
                    generation = g;
                    if caught_up {
                        rolled_back.extend(touched);
                    }
                    events(SyncEvent::Reorg { fork });
                }
                Err(AdvanceError::Fatal(e)) => return Err(SyncError::Index(e)),
            },
        }
    }
    // Shutdown: the current block is done; make it durable.
    let info = chain.flush().map_err(SyncError::Index)?;
    tracing::info!(height = info.height, "flushed on shutdown");
    handle.rx.close();
    Ok(())
}
