//! The prefetcher: pulls raw blocks from bitcoind ahead of the block processor, in batches,
//! bounded by bytes of memory, so processing never waits on the daemon while the daemon has
//! blocks to give.
//!
//! It runs as a tokio task. The processor receives [`Fetched`] messages; after a reorg it
//! calls [`PrefetchHandle::reset`] with the next height it needs, and blocks fetched for the
//! old branch (an older `generation`) are to be ignored.

use std::sync::Arc;
use std::time::Duration;

use bitcoin::BlockHash;
use tokio::sync::{mpsc, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::daemon::{self, Daemon};

/// Bytes of raw blocks asked for in one `getblock` batch.
const BATCH_BYTES: usize = 16 << 20;
/// Most blocks in one batch.
const MAX_BATCH: u32 = 500;
/// Blocks in the first batch, while their size is unknown (ElectrumX also starts with 10).
const FIRST_BATCH: usize = 10;

/// A block fetched for the processor. Dropping it returns its bytes to the budget.
#[derive(Debug)]
pub struct FetchedBlock {
    pub height: u32,
    pub hash: BlockHash,
    pub raw: Vec<u8>,
    /// The reset generation it was fetched for.
    pub generation: u64,
    /// The daemon's height when it was fetched (for progress and ETA).
    pub daemon_height: u32,
    _permit: Option<OwnedSemaphorePermit>,
}

/// What the prefetcher tells the processor.
#[derive(Debug)]
pub enum Fetched {
    Block(FetchedBlock),
    /// Everything up to the daemon's height (`daemon_height`) has been sent; `best_hash` is
    /// the daemon's block at that height (sent again when it changes at the same height, so
    /// the processor can notice an equal-height reorg).
    CaughtUp {
        daemon_height: u32,
        best_hash: Option<BlockHash>,
        generation: u64,
    },
    /// The daemon failed in a way retries cannot fix (e.g. a bad answer).
    Failed(daemon::Error),
}

/// The processor's side: receive blocks, reset after a reorg.
pub struct PrefetchHandle {
    pub rx: mpsc::Receiver<Fetched>,
    reset: watch::Sender<(u64, u32)>,
}

impl PrefetchHandle {
    /// Restarts fetching at `next_height` (after a reorg); returns the new generation.
    pub fn reset(&self, next_height: u32) -> u64 {
        let mut generation = 0;
        self.reset.send_modify(|(g, h)| {
            *g += 1;
            *h = next_height;
            generation = *g;
        });
        generation
    }
}

/// Starts the prefetcher at `next_height`, keeping at most `budget_bytes` of fetched blocks
/// in memory, polling the daemon every `poll` once caught up — or at once when `wake` is
/// notified (ZMQ).
pub fn spawn(
    daemon: Daemon,
    next_height: u32,
    budget_bytes: usize,
    poll: Duration,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) -> PrefetchHandle {
    let (tx, rx) = mpsc::channel(1024);
    let (reset, reset_rx) = watch::channel((0u64, next_height));
    tokio::spawn(run(
        daemon,
        tx,
        reset_rx,
        budget_bytes,
        poll,
        wake,
        shutdown,
    ));
    PrefetchHandle { rx, reset }
}

async fn run(
    daemon: Daemon,
    tx: mpsc::Sender<Fetched>,
    mut reset: watch::Receiver<(u64, u32)>,
    budget_bytes: usize,
    poll: Duration,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let budget_kib = (budget_bytes / 1024).clamp(1024, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(budget_kib));
    let (mut generation, mut next) = *reset.borrow_and_update();
    // Until a batch has shown the real block size, assume big blocks: guessing small ones
    // made the first batch MAX_BATCH blocks, all fetched before the processor got any (and,
    // resuming a mainnet sync, ~1.5 GB of hex: over the HTTP client's 1 GiB answer limit).
    let mut avg_block = BATCH_BYTES / FIRST_BATCH;
    let mut reported: Option<(u64, u32, Option<BlockHash>)> = None;
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        // Compare generations rather than rely on `has_changed`: a `changed()` that woke the
        // wait below has already marked the value seen.
        let (g, h) = *reset.borrow_and_update();
        if g != generation {
            (generation, next) = (g, h);
            reported = None;
        }
        let daemon_height = match daemon.block_count().await {
            Ok(h) => h,
            Err(daemon::Error::Shutdown) => return,
            Err(e) => {
                let _ = tx.send(Fetched::Failed(e)).await;
                return;
            }
        };
        if next > daemon_height {
            let best_hash = match daemon.block_hash(daemon_height).await {
                Ok(h) => Some(h),
                Err(daemon::Error::Shutdown) => return,
                Err(_) => None,
            };
            if reported != Some((generation, daemon_height, best_hash)) {
                reported = Some((generation, daemon_height, best_hash));
                let msg = Fetched::CaughtUp {
                    daemon_height,
                    best_hash,
                    generation,
                };
                if tx.send(msg).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = reset.changed() => {}
                _ = wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
            continue;
        }
        let count = ((BATCH_BYTES / avg_block.max(1)) as u32)
            .clamp(1, MAX_BATCH)
            .min(daemon_height - next + 1);
        let hashes = match daemon.block_hashes(next, count).await {
            Ok(h) => h,
            Err(daemon::Error::Shutdown) => return,
            // The chain may have shrunk under us (a reorg to a shorter tip): ask again.
            Err(e) if e.rpc_code() == Some(-8) => continue,
            Err(e) => {
                let _ = tx.send(Fetched::Failed(e)).await;
                return;
            }
        };
        let blocks = match daemon.raw_blocks(&hashes).await {
            Ok(b) => b,
            Err(daemon::Error::Shutdown) => return,
            // A block vanished (reorg while fetching): start over from the height.
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                let _ = tx.send(Fetched::Failed(e)).await;
                return;
            }
        };
        let total: usize = blocks.iter().map(Vec::len).sum();
        avg_block = (total / blocks.len().max(1)).max(200);
        for (hash, raw) in hashes.into_iter().zip(blocks) {
            let kib = (raw.len() / 1024 + 1).min(budget_kib) as u32;
            let permit = tokio::select! {
                _ = shutdown.cancelled() => return,
                p = permits.clone().acquire_many_owned(kib) => p.ok(),
            };
            let block = FetchedBlock {
                height: next,
                hash,
                raw,
                generation,
                daemon_height,
                _permit: permit,
            };
            if tx.send(Fetched::Block(block)).await.is_err() {
                return;
            }
            next += 1;
            if reset.borrow().0 != generation {
                break;
            }
        }
    }
}
