//! The server's top level: `run(config, shutdown)` wires the rooms together — daemon check,
//! index, block processor — and returns when the shutdown token fires (SIGINT/SIGTERM) or a
//! fatal error stops the block processor.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::daemon::{Daemon, DaemonOptions};
use crate::index::Index;
use crate::sync::{self, SyncEvent, SyncOptions};

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("daemon: {0}")]
    Daemon(#[from] crate::daemon::Error),
    #[error("database: {0}")]
    Index(#[from] crate::index::IndexError),
    #[error("{0}")]
    Sync(#[from] sync::SyncError),
    #[error("internal: {0}")]
    Internal(String),
}

/// Bytes of raw blocks the prefetcher may hold (ElectrumX keeps a few batches in flight).
const PREFETCH_BYTES: usize = 64 << 20;

/// Runs the server until `shutdown` is cancelled or a fatal error occurs.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), ServerError> {
    let network = config.net.bitcoin_network();
    let daemon = Daemon::with_options(
        config.daemon_endpoints.clone(),
        network,
        DaemonOptions {
            shutdown: shutdown.clone(),
            ..DaemonOptions::default()
        },
    );
    match daemon.check_network().await {
        Ok(()) => {}
        Err(crate::daemon::Error::Shutdown) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    if let Ok(info) = daemon.network_info().await {
        tracing::info!(
            version = info.version,
            subversion = %info.subversion,
            "connected to the daemon"
        );
    }
    let db_dir = config.db_dir.clone();
    let cache_bytes = (config.cache_mb as usize).saturating_mul(1 << 20);
    let reorg_limit = config.reorg_limit;
    let mut index = tokio::task::spawn_blocking(move || {
        Index::open(&db_dir, network, cache_bytes, reorg_limit)
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))??;
    match index.flushed_tip() {
        Some((h, hash)) => tracing::info!(height = h, %hash, "database opened"),
        None => tracing::info!("new database"),
    }
    let opts = SyncOptions {
        prefetch_bytes: PREFETCH_BYTES,
        poll: config.daemon_poll_interval_blocks,
        reorg_limit,
        progress_every: Duration::from_secs(10),
    };
    let rt = tokio::runtime::Handle::current();
    let stop = shutdown.clone();
    let processor = tokio::task::spawn_blocking(move || {
        sync::run(
            &mut index,
            &daemon,
            &rt,
            &opts,
            &stop,
            |event| match event {
                SyncEvent::CaughtUp { height } => {
                    tracing::info!(height, "index caught up; client services may start");
                }
                SyncEvent::NewTip { .. } => {}
            },
        )
    });
    let result = processor
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    shutdown.cancel();
    result.map_err(ServerError::from)
}
