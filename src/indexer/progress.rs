//! What operators see of the sync: ElectrumX-style progress lines in the log ([`Progress`])
//! and the figures the admin RPC's `getinfo` and `reorg` read ([`SyncStatus`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::chain::{Chain, FlushInfo};

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

    pub(super) fn set_caught_up(&self) {
        self.caught_up.store(true, Ordering::Release);
    }

    pub(super) fn set_daemon_height(&self, h: u32) {
        self.daemon_height
            .store(u64::from(h) + 1, Ordering::Relaxed);
    }

    /// A flush happened; it counts if it wrote anything.
    pub(super) fn flushed(&self, info: &FlushInfo) {
        if info.bytes > 0 {
            self.flushes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A rollback was written (one atomic batch).
    pub(super) fn rolled_back(&self) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
    }
}

/// ElectrumX-style progress logging.
pub(super) struct Progress {
    every: Duration,
    start_height: u32,
    started: Instant,
    start_txs: u64,
    last_log: Instant,
    last_flush: Instant,
    flush_txs: u64,
}

impl Progress {
    pub(super) fn new<C: Chain>(chain: &C, every: Duration) -> Progress {
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

    /// A block was applied during the initial sync: a `syncing` line every `every`.
    pub(super) fn tick<C: Chain>(&mut self, chain: &C, height: u32, daemon_height: u32) {
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

    /// The caches were flushed during the initial sync (over budget).
    pub(super) fn flushed(&mut self, info: &FlushInfo) {
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

    /// The first catch-up with the daemon.
    pub(super) fn caught_up<C: Chain>(&mut self, chain: &C, daemon_height: u32, info: &FlushInfo) {
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
