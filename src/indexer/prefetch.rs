//! The prefetcher: pulls raw blocks from bitcoind ahead of the block processor, in batches,
//! bounded by bytes of memory, so processing never waits on the daemon while the daemon has
//! blocks to give.
//!
//! Up to [`IN_FLIGHT`] batches are fetched at once (each on its own daemon connection, through
//! REST or JSON-RPC as the daemon client chooses) and handed on in height order. Each batch
//! reserves its estimated bytes from the memory budget before it is asked for; its blocks
//! then carry their share of that reservation to the processor, so fetched blocks, in flight
//! or queued, stay within the budget (give or take one batch's misestimate).
//!
//! It runs as a tokio task. The processor receives [`Fetched`] messages; after a reorg it
//! calls [`PrefetchHandle::reset`] with the next height it needs, and blocks fetched for the
//! old branch (an older `generation`) are to be ignored.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::BlockHash;
use tokio::sync::{mpsc, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::daemon::{self, Daemon};

/// Bytes of raw blocks asked for in one `getblock` batch.
const BATCH_BYTES: usize = 16 << 20;
/// Most blocks in one batch.
const MAX_BATCH: u32 = 500;
/// Blocks in the first batch, while their size is unknown (ElectrumX also starts with 10).
const FIRST_BATCH: usize = 10;
/// Batches fetched at once.
const IN_FLIGHT: usize = 4;

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

/// A batch being fetched.
struct Batch {
    start: u32,
    hashes: Vec<BlockHash>,
    daemon_height: u32,
    task: JoinHandle<Result<Vec<Vec<u8>>, daemon::Error>>,
    /// The batch's share of the budget, in KiB; split among its blocks when they arrive.
    reserved: OwnedSemaphorePermit,
}

/// The batches in flight, oldest first; dropping it abandons them.
#[derive(Default)]
struct Pipeline(VecDeque<Batch>);

impl Pipeline {
    fn clear(&mut self) {
        for batch in self.0.drain(..) {
            batch.task.abort();
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.clear();
    }
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
    // The next height to ask for (`next` is the next to hand on).
    let mut ask = next;
    let mut pipeline = Pipeline::default();
    // Until a batch has shown the real block size, assume big blocks: guessing small ones
    // made the first batch MAX_BATCH blocks, all fetched before the processor got any (and,
    // resuming a mainnet sync, ~1.5 GB of hex: over the HTTP client's 1 GiB answer limit).
    // A guess from small blocks (a chain's first blocks are coinbases only) once asked for
    // 500 blocks a batch just where they became 1 MB, four batches in flight: 2 GB held
    // against a 64 MB budget. A REST batch now stops at twice its reservation (below); a
    // JSON-RPC batch comes whole, sized by the guess.
    let mut block_guess = BATCH_BYTES / FIRST_BATCH;
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
            ask = next;
            pipeline.clear();
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
        // Ask for more while there is room in flight and in the budget.
        while pipeline.0.len() < IN_FLIGHT && ask <= daemon_height {
            let count = ((BATCH_BYTES / block_guess.max(1)) as u32)
                .clamp(1, MAX_BATCH)
                .min(daemon_height - ask + 1);
            let want_kib = (count as usize * block_guess / 1024 + 1).min(budget_kib) as u32;
            let reserved = if pipeline.0.is_empty() {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    p = permits.clone().acquire_many_owned(want_kib) => match p {
                        Ok(p) => p,
                        Err(_) => return,
                    },
                }
            } else {
                match permits.clone().try_acquire_many_owned(want_kib) {
                    Ok(p) => p,
                    // Full: hand on what is in flight first.
                    Err(_) => break,
                }
            };
            let hashes = match daemon.block_hashes(ask, count).await {
                Ok(h) => h,
                Err(daemon::Error::Shutdown) => return,
                // The chain may have shrunk under us (a reorg to a shorter tip): ask again.
                Err(e) if e.rpc_code() == Some(-8) => break,
                Err(e) => {
                    let _ = tx.send(Fetched::Failed(e)).await;
                    return;
                }
            };
            let fetcher = daemon.clone();
            let asked = hashes.clone();
            // Through REST the batch stops at twice its reservation: when the guess was low,
            // the rest of it is asked again with a better one.
            let most = (want_kib as usize * 1024).saturating_mul(2);
            let task = tokio::spawn(async move { fetcher.raw_blocks_upto(&asked, most).await });
            pipeline.0.push_back(Batch {
                start: ask,
                hashes,
                daemon_height,
                task,
                reserved,
            });
            ask += count;
        }
        let Some(batch) = pipeline.0.pop_front() else {
            if next <= daemon_height {
                // The tip moved down under us (-8): ask again.
                ask = next;
                continue;
            }
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
        };
        let Batch {
            start,
            hashes,
            daemon_height,
            task,
            mut reserved,
        } = batch;
        let fetched = tokio::select! {
            _ = shutdown.cancelled() => return,
            joined = task => joined.unwrap_or_else(|e| {
                Err(daemon::Error::BadResponse(format!("block fetch task failed: {e}")))
            }),
        };
        let blocks = match fetched {
            Ok(b) => b,
            Err(daemon::Error::Shutdown) => return,
            // A block vanished (reorg while fetching): start over from the height.
            Err(e) if e.is_not_found() => {
                pipeline.clear();
                ask = next;
                continue;
            }
            Err(e) => {
                let _ = tx.send(Fetched::Failed(e)).await;
                return;
            }
        };
        debug_assert_eq!(start, next);
        let mut hashes = hashes;
        if blocks.len() < hashes.len() {
            // Cut short at its byte bound: the batches asked after it start too far on.
            hashes.truncate(blocks.len());
            pipeline.clear();
            ask = start + blocks.len() as u32;
        }
        let total: usize = blocks.iter().map(Vec::len).sum();
        block_guess = (total / blocks.len().max(1)).max(200);
        for (hash, raw) in hashes.into_iter().zip(blocks) {
            let kib = (raw.len() / 1024 + 1).min(budget_kib);
            // The block's share of the batch's reservation; past an underestimate, what the
            // budget has free now (never waiting: later batches hold reservations too).
            let permit = match reserved.split(kib) {
                Some(p) => Some(p),
                None => {
                    let extra = kib - reserved.num_permits();
                    match permits.clone().try_acquire_many_owned(extra as u32) {
                        Ok(p) => {
                            let mut whole = reserved.split(reserved.num_permits());
                            if let Some(w) = whole.as_mut() {
                                w.merge(p);
                            }
                            whole
                        }
                        Err(_) => reserved.split(reserved.num_permits()),
                    }
                }
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
