//! Building the spender index of a database written before it existed (the index's
//! in-place upgrade, `Index::upgrade_block`): the blocks of our own chain, heights
//! `next..=tip`, fetched again from the daemon by the hashes of our own headers (in batches,
//! the next batch fetched while the current one is applied), fed to the index in order and
//! flushed when the cache budget is reached; progress lines like the sync's. A kill -9
//! resumes from the last flush; a shutdown flushes first. The sync starts when it is done.

use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::chain::Chain;
use super::error::SyncError;
use super::progress::SyncStatus;
use crate::daemon::{self, Daemon};
use crate::index::IndexError;

/// Bytes of raw blocks asked for in one `getblock` batch (as the prefetcher).
const BATCH_BYTES: usize = 16 << 20;
/// Most blocks in one batch.
const MAX_BATCH: u32 = 500;
/// Blocks in the first batch, while their size is unknown.
const FIRST_BATCH: usize = 10;

/// Whether the upgrade ran to its end or was stopped by a shutdown (flushed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Upgraded {
    Done,
    Stopped,
}

/// Blocks `from..from + count` asked of the daemon.
struct Batch {
    from: u32,
    count: u32,
    task: JoinHandle<Result<Vec<Vec<u8>>, daemon::Error>>,
}

/// Asks the daemon for our blocks `from..` (at most `tip`), about [`BATCH_BYTES`] of them.
fn ask<C: Chain>(
    chain: &C,
    daemon: &Daemon,
    rt: &Handle,
    from: u32,
    tip: u32,
    avg_block: usize,
) -> Result<Batch, IndexError> {
    let count = ((BATCH_BYTES / avg_block.max(1)) as u32)
        .clamp(1, MAX_BATCH)
        .min(tip - from + 1);
    let hashes = (from..from + count)
        .map(|h| {
            chain
                .block_hash(h)
                .ok_or_else(|| IndexError::Corrupt(format!("no header at height {h}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let d = daemon.clone();
    let task = rt.spawn(async move { d.raw_blocks(&hashes).await });
    Ok(Batch { from, count, task })
}

/// Builds the spender index if the chain's database needs it (see the module docs).
///
/// # Errors
/// The daemon failed, or does not have some of our blocks (a one-line refusal that says
/// what to do); the index could not apply a block or write.
pub(super) fn run<C: Chain>(
    chain: &mut C,
    daemon: &Daemon,
    rt: &Handle,
    shutdown: &CancellationToken,
    status: &SyncStatus,
    every: Duration,
) -> Result<Upgraded, SyncError> {
    let Some(first) = chain.upgrade_progress() else {
        return Ok(Upgraded::Done);
    };
    tracing::info!(
        from = first.next,
        tip = first.tip,
        "upgrading the database in place: building the spender index from the blocks it \
         holds, fetched again from the daemon (resumable; the sync starts when it is done)"
    );
    let started = Instant::now();
    let mut last_log = Instant::now();
    let mut avg_block = BATCH_BYTES / FIRST_BATCH;
    let mut pending: Option<Batch> = None;
    let result = loop {
        let Some(p) = chain.upgrade_progress() else {
            break Ok(Upgraded::Done);
        };
        if p.next > p.tip {
            let info = chain.upgrade_flush()?;
            status.flushed(&info);
            continue;
        }
        if shutdown.is_cancelled() {
            break Ok(Upgraded::Stopped);
        }
        let mut batch = match pending.take() {
            Some(b) => b,
            None => ask(&*chain, daemon, rt, p.next, p.tip, avg_block)?,
        };
        let after = batch.from + batch.count;
        if after <= p.tip {
            pending = Some(ask(&*chain, daemon, rt, after, p.tip, avg_block)?);
        }
        let fetched = rt.block_on(async {
            tokio::select! {
                _ = shutdown.cancelled() => None,
                r = &mut batch.task => Some(r),
            }
        });
        let blocks = match fetched {
            None | Some(Ok(Err(daemon::Error::Shutdown))) => break Ok(Upgraded::Stopped),
            Some(Ok(Ok(blocks))) => blocks,
            Some(Ok(Err(e))) if e.is_not_found() => {
                break Err(SyncError::UpgradeBlocksMissing {
                    from: batch.from,
                    to: after - 1,
                })
            }
            Some(Ok(Err(e))) => break Err(e.into()),
            Some(Err(_)) => break Err(SyncError::PrefetcherGone),
        };
        let total: usize = blocks.iter().map(Vec::len).sum();
        avg_block = (total / blocks.len().max(1)).max(200);
        for raw in &blocks {
            chain.upgrade_block(raw)?;
            if chain.needs_flush() {
                let info = chain.upgrade_flush()?;
                status.flushed(&info);
                tracing::info!(
                    height = info.height,
                    mb = info.bytes >> 20,
                    ms = info.took.as_millis() as u64,
                    "flushed spender index"
                );
            }
        }
        if last_log.elapsed() >= every {
            last_log = Instant::now();
            log_progress(chain.upgrade_progress(), first.next, started);
        }
    };
    if let Some(b) = pending {
        b.task.abort();
    }
    match result {
        Ok(Upgraded::Stopped) => {
            let info = chain.upgrade_flush()?;
            tracing::info!(
                height = info.height,
                "upgrade stopped and flushed; it resumes at the next start"
            );
            Ok(Upgraded::Stopped)
        }
        Ok(Upgraded::Done) => {
            let secs = started.elapsed().as_secs_f64();
            tracing::info!(
                blocks = first.tip + 1 - first.next,
                seconds = format!("{secs:.1}"),
                "spender index built: the database is upgraded"
            );
            Ok(Upgraded::Done)
        }
        Err(e) => Err(e),
    }
}

/// A progress line: where the upgrade is, its rate, and an estimate of what is left.
fn log_progress(p: Option<crate::index::UpgradeProgress>, from: u32, started: Instant) {
    let Some(p) = p else { return };
    let secs = started.elapsed().as_secs_f64().max(1e-3);
    let blocks_per_sec = f64::from(p.next.saturating_sub(from)) / secs;
    let eta = if blocks_per_sec > 0.0 {
        format!("{:.0}s", f64::from(p.tip + 1 - p.next) / blocks_per_sec)
    } else {
        "unknown".to_string()
    };
    tracing::info!(
        height = p.next.saturating_sub(1),
        tip = p.tip,
        rows = p.rows,
        rows_per_sec = (p.rows as f64 / secs) as u64,
        eta,
        "upgrading: building the spender index"
    );
}
