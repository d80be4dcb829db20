//! The block processor's driver: takes blocks from the [`prefetch`](crate::prefetch)er,
//! applies them to the index, flushes (by cache size during initial sync, after every block
//! once caught up), detects reorgs by prev-hash mismatch and rolls back to the fork point,
//! logs progress like ElectrumX, and stops cleanly on shutdown.
//!
//! The index is reached through the narrow [`Chain`] trait, so the driver can be tested with
//! a fake and the index knows nothing of the daemon.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::BlockHash;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_util::sync::CancellationToken;

use crate::daemon::{self, Daemon};
use crate::index::HashX;
use crate::prefetch::{self, Fetched};

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

/// What the driver shows the admin RPC (`getinfo`, `reorg`): updated as it goes, read
/// from any thread.
#[derive(Debug, Default)]
pub struct SyncStatus {
    caught_up: AtomicBool,
    /// The daemon's height when last heard, plus one (0: not heard yet).
    daemon_height: AtomicU64,
    flushes: AtomicU64,
}

impl SyncStatus {
    /// Whether the first catch-up with the daemon has happened.
    pub fn caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Acquire)
    }

    /// The daemon's height as last reported by the prefetcher (ElectrumX's cached height).
    pub fn daemon_height(&self) -> Option<u32> {
        match self.daemon_height.load(Ordering::Relaxed) {
            0 => None,
            h => u32::try_from(h - 1).ok(),
        }
    }

    /// Flushes that wrote blocks (or a rollback) since start.
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    fn set_daemon_height(&self, h: u32) {
        self.daemon_height
            .store(u64::from(h) + 1, Ordering::Relaxed);
    }

    fn flushed(&self, info: &FlushInfo) {
        if info.bytes > 0 {
            self.flushes.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A rollback asked for by the operator (the admin RPC's `reorg`, ElectrumX's
/// `force_chain_reorg`): the last `count` blocks are rolled back with their undo data, then
/// fetched again from the daemon and re-applied.
#[derive(Debug)]
pub struct ForcedReorg {
    pub count: u32,
    /// The fork height rolled back to, or why nothing was done.
    pub reply: oneshot::Sender<Result<u32, String>>,
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
                let done = forced_reorg(chain, opts, caught_up, r.count, &handle);
                let reply = match done {
                    Ok((g, fork, touched)) => {
                        generation = g;
                        rolled_back.extend(touched);
                        status.flushes.fetch_add(1, Ordering::Relaxed);
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
                match tip_vs_daemon(chain, daemon_height, best_hash) {
                    TipVsDaemon::Forked => {
                        let (g, fork, touched) = rollback(chain, daemon, rt, opts, &handle)?;
                        status.flushes.fetch_add(1, Ordering::Relaxed);
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
                    status.caught_up.store(true, Ordering::Release);
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
                    let (g, fork, touched) = rollback(chain, daemon, rt, opts, &handle)?;
                    status.flushes.fetch_add(1, Ordering::Relaxed);
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

/// How our tip relates to the daemon's best block once we have everything it offered.
enum TipVsDaemon {
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

fn tip_vs_daemon<C: Chain>(
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
fn rollback<C: Chain>(
    chain: &mut C,
    daemon: &Daemon,
    rt: &Handle,
    opts: &SyncOptions,
    handle: &prefetch::PrefetchHandle,
) -> Result<(u64, u32, Vec<HashX>), SyncError> {
    let fork = find_fork(chain, daemon, rt, opts.reorg_limit)?;
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
fn forced_reorg<C: Chain>(
    chain: &mut C,
    opts: &SyncOptions,
    caught_up: bool,
    count: u32,
    handle: &prefetch::PrefetchHandle,
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
    if count > opts.reorg_limit {
        return Err(format!(
            "cannot roll back {count} blocks: undo data is kept for the last {} only \
             (REORG_LIMIT)",
            opts.reorg_limit
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

/// ElectrumX-style progress logging.
struct Progress {
    every: Duration,
    start_height: u32,
    started: Instant,
    start_txs: u64,
    last_log: Instant,
    last_flush: Instant,
    flush_txs: u64,
}

impl Progress {
    fn new<C: Chain>(chain: &C, every: Duration) -> Progress {
        Progress {
            every,
            start_height: chain.tip().map_or(0, |t| t.0),
            started: Instant::now(),
            start_txs: chain.tx_count(),
            last_log: Instant::now(),
            last_flush: Instant::now(),
            flush_txs: chain.tx_count(),
        }
    }

    fn tick<C: Chain>(&mut self, chain: &C, height: u32, daemon_height: u32) {
        if self.last_log.elapsed() < self.every {
            return;
        }
        self.last_log = Instant::now();
        let txs = chain.tx_count();
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        // Saturating: a rollback (reorg) can leave fewer transactions than at the start.
        let rate = txs.saturating_sub(self.start_txs) as f64 / elapsed;
        let recent = txs.saturating_sub(self.flush_txs) as f64
            / self.last_flush.elapsed().as_secs_f64().max(1e-3);
        let blocks_per_sec = f64::from(height.saturating_sub(self.start_height)) / elapsed;
        let eta = if blocks_per_sec > 0.0 {
            format!(
                "{:.0}s",
                f64::from(daemon_height.saturating_sub(height)) / blocks_per_sec
            )
        } else {
            "unknown".to_string()
        };
        tracing::info!(
            height,
            daemon_height,
            tx_count = txs,
            cache_mb = chain.cache_bytes() >> 20,
            tx_per_sec = rate as u64,
            tx_per_sec_since_flush = recent as u64,
            eta,
            "syncing"
        );
    }

    fn flushed(&mut self, info: &FlushInfo) {
        tracing::info!(
            height = info.height,
            tx_count = info.tx_count,
            mb = info.bytes >> 20,
            ms = info.took.as_millis() as u64,
            "flushed caches"
        );
        self.last_flush = Instant::now();
        self.flush_txs = info.tx_count;
    }

    fn caught_up<C: Chain>(&mut self, chain: &C, daemon_height: u32, info: &FlushInfo) {
        // Saturating: a reorg before the first catch-up can lower the count below the start.
        let txs = chain.tx_count().saturating_sub(self.start_txs);
        let secs = self.started.elapsed().as_secs_f64();
        tracing::info!(
            height = info.height,
            daemon_height,
            tx_indexed = txs,
            seconds = format!("{secs:.1}"),
            tx_per_sec = (txs as f64 / secs.max(1e-3)) as u64,
            "caught up with the daemon"
        );
    }
}

impl Chain for crate::index::Index {
    fn tip(&self) -> Option<(u32, BlockHash)> {
        crate::index::Index::tip(self)
    }

    fn block_hash(&self, height: u32) -> Option<BlockHash> {
        crate::index::Index::block_hash(self, height).ok().flatten()
    }

    fn advance(&mut self, raw: &[u8]) -> Result<Vec<HashX>, AdvanceError> {
        match crate::index::Index::advance(self, raw) {
            Ok(summary) => Ok(summary.touched),
            Err(crate::index::IndexError::NotOnTip { .. }) => Err(AdvanceError::NotOnTip),
            Err(e) => Err(AdvanceError::Fatal(e.to_string())),
        }
    }

    fn needs_flush(&self) -> bool {
        crate::index::Index::needs_flush(self)
    }

    fn cache_bytes(&self) -> usize {
        crate::index::Index::cache_bytes(self)
    }

    fn tx_count(&self) -> u64 {
        crate::index::Index::tx_count(self)
    }

    fn flush(&mut self) -> Result<FlushInfo, String> {
        let stats = crate::index::Index::flush(self).map_err(|e| e.to_string())?;
        Ok(FlushInfo {
            height: stats.height,
            tx_count: crate::index::Index::tx_count(self),
            bytes: stats.batch_bytes,
            took: stats.elapsed,
        })
    }

    fn backup(&mut self, height: u32) -> Result<Vec<HashX>, String> {
        crate::index::Index::backup(self, height).map_err(|e| e.to_string())
    }
}
