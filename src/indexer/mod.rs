//! The block processor (ElectrumX's `BlockProcessor` and `Prefetcher`): takes blocks from
//! the prefetcher, applies them to the index, flushes (by cache size during initial sync,
//! after every block once caught up), detects reorgs by prev-hash mismatch and rolls back
//! to the fork point, rolls back on the operator's demand ([`ForcedReorg`]), logs progress
//! like ElectrumX, and stops cleanly on shutdown.
//!
//! The index is reached through the narrow [`Chain`] trait, so the driver can be tested with
//! a fake and the index knows nothing of the daemon.
//!
//! Layout, one job per file: this file is the run loop; `prefetch` (raw blocks from the
//! daemon, ahead of the loop, bounded by bytes), `reorg` (our tip against the daemon's, the
//! fork point, the one rollback taken for a fork and for the operator), `upgrade` (building
//! the spender index of a previous-layout database from our blocks, before the sync),
//! `progress` (progress log lines and the [`SyncStatus`] the admin RPC reads), `chain` (the
//! [`Chain`] trait, [`Changes`], and its impl for the index), `error` (one error enum per
//! boundary). This file uses all of them; `reorg` uses `chain` and `error`; `upgrade` uses
//! `chain`, `error` and `progress`; `progress` uses `chain`; none uses this file or
//! `prefetch`. Outside the room: `index` and `daemon`, and `config` for [`SyncOptions::new`].

mod chain;
mod error;
mod prefetch;
mod progress;
mod reorg;
mod upgrade;

use std::sync::Arc;
use std::time::Duration;

use bitcoin::{BlockHash, OutPoint, Txid};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::daemon::Daemon;
use crate::index::{HashX, IndexError};
use prefetch::{Fetched, FetchedBlock, PrefetchHandle};
use progress::Progress;
use reorg::{Cause, TipVsDaemon};
use upgrade::Upgraded;

pub use chain::{Chain, Changes, FlushInfo};
pub use error::{ForcedReorgError, SyncError};
pub use progress::SyncStatus;
pub use reorg::ForcedReorg;

/// Bytes of raw blocks the prefetcher may hold (ElectrumX keeps a few batches in flight).
const PREFETCH_BYTES: usize = 64 << 20;
/// How often a `syncing` progress line is logged during the initial sync.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Events the rest of the server may want (new tip → notifications).
#[derive(Clone, Debug)]
pub enum SyncEvent {
    /// Caught up with the daemon for the first time (client services may start).
    CaughtUp { height: u32 },
    /// Blocks above `fork` were rolled back (and flushed); the new branch follows.
    Reorg { fork: u32 },
    /// A new tip was applied and flushed once caught up. `touched`: the script-hash keys
    /// whose history changed since the previous event (this block's, and those of blocks a
    /// reorg removed on the way), sorted, each once. `spent` and `funders` likewise (sorted,
    /// each once): the outpoints whose confirmed spender changed, and the transactions
    /// whose outputs' confirmed funder changed (see [`Changes`]).
    NewTip {
        height: u32,
        hash: BlockHash,
        touched: Vec<HashX>,
        spent: Vec<OutPoint>,
        funders: Vec<Txid>,
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

impl SyncOptions {
    /// The server's settings: DAEMON_POLL_INTERVAL_BLOCKS and REORG_LIMIT from `config`;
    /// `wake` is notified by ZMQ when the daemon has a new block.
    pub fn new(config: &Config, wake: Arc<Notify>) -> SyncOptions {
        SyncOptions {
            prefetch_bytes: PREFETCH_BYTES,
            poll: config.daemon_poll_interval_blocks,
            wake,
            reorg_limit: config.reorg_limit,
            progress_every: PROGRESS_EVERY,
        }
    }
}

/// What the driver waits for.
enum Next {
    Fetched(Option<Fetched>),
    Reorg(ForcedReorg),
    /// Nobody can ask for rollbacks any more.
    ReorgsClosed,
}

/// Runs the block processor on the current thread (call it from `spawn_blocking`) until
/// `shutdown`, then flushes and returns. It reports to `status`, takes the operator's
/// rollbacks from `reorgs` between blocks, and calls `events` as the chain moves.
///
/// # Errors
/// Why syncing stopped: the daemon failed in a way retries cannot fix, the index could not
/// apply a block or write, or a reorg was deeper than REORG_LIMIT.
#[allow(clippy::too_many_arguments)]
pub fn run<C: Chain>(
    chain: &mut C,
    daemon: &Daemon,
    rt: &Handle,
    opts: &SyncOptions,
    shutdown: &CancellationToken,
    status: &SyncStatus,
    mut reorgs: mpsc::UnboundedReceiver<ForcedReorg>,
    events: impl FnMut(SyncEvent),
) -> Result<(), SyncError> {
    // A database of the previous layout first gets its spender index.
    if upgrade::run(chain, daemon, rt, shutdown, status, opts.progress_every)? == Upgraded::Stopped
    {
        return Ok(());
    }
    let next = chain.tip().map_or(0, |(h, _)| h + 1);
    let prefetch = {
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
    let progress = Progress::new(chain, opts.progress_every);
    let mut driver = Driver {
        chain,
        daemon,
        rt,
        opts,
        status,
        events,
        prefetch,
        progress,
        generation: 0,
        caught_up: false,
        daemon_behind_warned: false,
        rolled_back: Changes::default(),
    };
    let mut reorgs_open = true;
    loop {
        let next = rt.block_on(async {
            tokio::select! {
                biased;
                r = reorgs.recv(), if reorgs_open => match r {
                    Some(r) => Next::Reorg(r),
                    None => Next::ReorgsClosed,
                },
                m = driver.prefetch.rx.recv() => Next::Fetched(m),
            }
        });
        match next {
            Next::ReorgsClosed => reorgs_open = false,
            Next::Reorg(r) if shutdown.is_cancelled() => {
                let _ = r.reply.send(Err(ForcedReorgError::ShuttingDown));
                break;
            }
            // The admin client was already told it was not taken (it waited too long): do
            // not roll back behind its back.
            Next::Reorg(r) if r.reply.is_closed() => {}
            Next::Reorg(r) => {
                let done = driver.forced_reorg(r.count);
                let _ = r.reply.send(done);
            }
            Next::Fetched(None) if shutdown.is_cancelled() => break,
            Next::Fetched(None) => return Err(SyncError::PrefetcherGone),
            Next::Fetched(Some(_)) if shutdown.is_cancelled() => break,
            Next::Fetched(Some(msg)) => driver.take(msg)?,
        }
    }
    driver.finish()
}

/// The run loop's state between messages.
struct Driver<'a, C, E> {
    chain: &'a mut C,
    daemon: &'a Daemon,
    rt: &'a Handle,
    opts: &'a SyncOptions,
    status: &'a SyncStatus,
    events: E,
    prefetch: PrefetchHandle,
    progress: Progress,
    /// The prefetcher's generation: messages of older ones were fetched for a branch rolled
    /// back since.
    generation: u64,
    caught_up: bool,
    daemon_behind_warned: bool,
    /// Changed by rollbacks since the last NewTip (once caught up).
    rolled_back: Changes,
}

impl<C: Chain, E: FnMut(SyncEvent)> Driver<'_, C, E> {
    /// One message of the prefetcher.
    fn take(&mut self, msg: Fetched) -> Result<(), SyncError> {
        match msg {
            Fetched::Failed(e) => Err(SyncError::Daemon(e)),
            Fetched::CaughtUp {
                daemon_height,
                best_hash,
                generation,
            } if generation == self.generation => self.at_daemon_tip(daemon_height, best_hash),
            Fetched::Block(b) if b.generation == self.generation => self.apply(b),
            // Fetched for a branch rolled back since.
            Fetched::CaughtUp { .. } | Fetched::Block(_) => Ok(()),
        }
    }

    /// We have every block the daemon offered: a reorg if its best block is not ours, else
    /// flush, and the first time, tell the server we caught up.
    fn at_daemon_tip(
        &mut self,
        daemon_height: u32,
        best_hash: Option<BlockHash>,
    ) -> Result<(), SyncError> {
        self.status.set_daemon_height(daemon_height);
        match reorg::tip_vs_daemon(&*self.chain, daemon_height, best_hash) {
            TipVsDaemon::Forked => return self.follow_fork(),
            TipVsDaemon::Behind { ours } if !self.daemon_behind_warned => {
                self.daemon_behind_warned = true;
                tracing::warn!(
                    daemon_height,
                    height = ours,
                    "the daemon's chain is shorter than ours but on it (a lagging \
                     daemon, or a tip being invalidated): waiting for it"
                );
            }
            TipVsDaemon::Behind { .. } => {}
            TipVsDaemon::Level => self.daemon_behind_warned = false,
        }
        let info = self.chain.flush()?;
        self.status.flushed(&info);
        if !self.caught_up {
            self.caught_up = true;
            self.status.set_caught_up();
            self.progress.caught_up(&*self.chain, daemon_height, &info);
            let height = self.chain.tip().map_or(0, |t| t.0);
            (self.events)(SyncEvent::CaughtUp { height });
        }
        Ok(())
    }

    /// The next block: applied; once caught up, flushed and announced; during the initial
    /// sync, flushed when the caches are over budget. One that does not connect is a reorg.
    fn apply(&mut self, b: FetchedBlock) -> Result<(), SyncError> {
        let mut changes = match self.chain.advance(&b.raw) {
            Ok(changes) => changes,
            Err(IndexError::NotOnTip { .. }) => return self.follow_fork(),
            Err(e) => return Err(e.into()),
        };
        self.status.set_daemon_height(b.daemon_height);
        if self.caught_up {
            let info = self.chain.flush()?;
            self.status.flushed(&info);
            tracing::info!(height = b.height, hash = %b.hash, "new block");
            changes.merge(std::mem::take(&mut self.rolled_back));
            (self.events)(SyncEvent::NewTip {
                height: b.height,
                hash: b.hash,
                touched: changes.touched,
                spent: changes.spent,
                funders: changes.funders,
            });
        } else {
            if self.chain.needs_flush() {
                let info = self.chain.flush()?;
                self.status.flushed(&info);
                self.progress.flushed(&info);
            }
            self.progress.tick(&*self.chain, b.height, b.daemon_height);
        }
        Ok(())
    }

    /// The daemon's chain left ours: roll back to where they part (refused beyond
    /// REORG_LIMIT); the prefetcher then brings the daemon's branch.
    fn follow_fork(&mut self) -> Result<(), SyncError> {
        let fork = reorg::find_fork(&*self.chain, self.daemon, self.rt, self.opts.reorg_limit)?;
        self.roll_back(fork, Cause::Fork)?;
        Ok(())
    }

    /// The operator's rollback of `count` blocks; returns the fork height. Refused, with
    /// nothing changed, before the first catch-up and beyond what the undo data covers.
    fn forced_reorg(&mut self, count: u32) -> Result<u32, ForcedReorgError> {
        let fork = reorg::forced_fork(&*self.chain, self.caught_up, count, self.opts.reorg_limit)?;
        self.roll_back(fork, Cause::Forced)?;
        Ok(fork)
    }

    /// Rolls back to `fork` (see [`reorg::roll_back`]), then restarts the prefetcher after
    /// it, so the daemon's blocks are applied again, and tells the server.
    fn roll_back(&mut self, fork: u32, cause: Cause) -> Result<(), IndexError> {
        let changes = reorg::roll_back(&mut *self.chain, fork, cause)?;
        self.generation = self.prefetch.reset(fork + 1);
        if self.caught_up {
            self.rolled_back.merge(changes);
        }
        self.status.rolled_back();
        (self.events)(SyncEvent::Reorg { fork });
        Ok(())
    }

    /// Shutdown: the current block is done; make it durable.
    fn finish(mut self) -> Result<(), SyncError> {
        let info = self.chain.flush()?;
        tracing::info!(height = info.height, "flushed on shutdown");
        self.prefetch.rx.close();
        Ok(())
    }
}
