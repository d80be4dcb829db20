//! The server's top level: `run(config, shutdown)` wires the rooms together — daemon check,
//! index, the admin RPC (from then on, during the initial sync too), block processor,
//! mempool, client services (once caught up) and notifications — and returns when the
//! shutdown token fires (SIGINT/SIGTERM, or the admin `stop`) or a fatal error stops the
//! block processor.
//!
//! A clean stop: the listeners stop accepting and every session stops reading; the
//! sessions finish the requests they have read and send the answers (for at most
//! `DRAIN_TIMEOUT`, then the rest are closed) while the block processor finishes its block
//! and flushes; the daemon client stops waiting only once the sessions are done, so a
//! request in flight still gets the daemon's answer.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::admin::{self, Admin, PeerTable};
use crate::config::Config;
use crate::daemon::{Daemon, DaemonOptions};
use crate::electrum::manager::{
    accept_loop, bind_services, drain_sessions, housekeeping, notify_loop, ChainEvent, Registry,
};
use crate::electrum::outpoints::OutpointTouches;
use crate::electrum::shared::ElectrumState;
use crate::index::Index;
use crate::indexer::{self, SyncEvent, SyncOptions, SyncStatus};
use crate::mempool::Mempool;

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("daemon: {0}")]
    Daemon(#[from] crate::daemon::Error),
    #[error("database: {0}")]
    Index(#[from] crate::index::IndexError),
    #[error("{0}")]
    Sync(#[from] indexer::SyncError),
    #[error("services: {0}")]
    Services(String),
    #[error("internal: {0}")]
    Internal(String),
}

/// Runs the server until `shutdown` is cancelled or a fatal error occurs.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), ServerError> {
    let config = Arc::new(config);
    let network = config.net.bitcoin_network();
    // The registry of client sessions. At shutdown they drain; only then does the daemon
    // client stop waiting (at once when there are no sessions).
    let registry = Arc::new(Registry::new(config.clone()));
    let daemon_stop = CancellationToken::new();
    let drained = tokio::spawn({
        let (registry, shutdown, daemon_stop) =
            (registry.clone(), shutdown.clone(), daemon_stop.clone());
        async move {
            drain_sessions(&registry, &shutdown).await;
            daemon_stop.cancel();
        }
    });
    let daemon = Daemon::with_options(
        config.daemon_endpoints.clone(),
        network,
        DaemonOptions {
            shutdown: daemon_stop,
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
    let mempool = Arc::new(Mempool::new());
    // ZMQ, when the daemon in use publishes it, wakes the block and mempool pollers at once.
    let block_wake = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(crate::daemon::zmq::follow(
        daemon.clone(),
        block_wake.clone(),
        mempool.waker(),
        shutdown.clone(),
    ));
    let opts = SyncOptions::new(&config, block_wake.clone());

    // The protocol side: the sessions' shared state, the notifier's events, and the services
    // task that starts listening once the index has caught up and the mempool is
    // synchronized.
    let shared = Arc::new(ElectrumState::new(
        config.clone(),
        index.reader(),
        daemon.clone(),
        mempool.clone(),
    ));

    // The admin RPC, served from now on (ElectrumX's LocalRPC).
    let status = Arc::new(SyncStatus::default());
    let (reorgs_tx, reorgs_rx) = mpsc::unbounded_channel();
    let peers = Arc::new(PeerTable::new(
        shared.clone(),
        config.net.peer_default_ports(),
        config.force_proxy,
        shutdown.clone(),
    ));
    let admin = Arc::new(Admin {
        config: config.clone(),
        shared: shared.clone(),
        registry: registry.clone(),
        sync: status.clone(),
        reorgs: reorgs_tx,
        peers,
        shutdown: shutdown.clone(),
        started: std::time::SystemTime::now(),
    });
    if let Err(e) = admin::start(admin.clone()).await {
        shutdown.cancel();
        return Err(ServerError::Services(e));
    }

    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (caught_up_tx, caught_up_rx) = oneshot::channel::<()>();
    let services = tokio::spawn(services(
        admin,
        shared.clone(),
        registry,
        events_tx.clone(),
        events_rx,
        caught_up_rx,
        shutdown.clone(),
    ));

    let rt = tokio::runtime::Handle::current();
    let stop = shutdown.clone();
    let notify_shared = shared.clone();
    let processor = tokio::task::spawn_blocking(move || {
        let mut caught_up_tx = Some(caught_up_tx);
        indexer::run(
            &mut index,
            &daemon,
            &rt,
            &opts,
            &stop,
            &status,
            reorgs_rx,
            |event| match event {
                SyncEvent::CaughtUp { height } => {
                    tracing::info!(height, "index caught up; starting client services");
                    if let Some(tx) = caught_up_tx.take() {
                        let _ = tx.send(());
                    }
                }
                SyncEvent::Reorg { fork } => notify_shared.on_reorg(fork),
                SyncEvent::NewTip {
                    height,
                    touched,
                    spent,
                    funders,
                    ..
                } => {
                    // Before anyone is notified: forget what the block changed.
                    notify_shared.histories.invalidate(&touched);
                    notify_shared.mempool.wake();
                    let outpoints = OutpointTouches {
                        outpoints: spent.into_iter().collect(),
                        funders: funders.into_iter().collect(),
                    };
                    let _ = events_tx.send(ChainEvent::Block {
                        height,
                        touched,
                        outpoints,
                    });
                }
            },
        )
    });
    let result = processor
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    shutdown.cancel();
    let services = services
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    // The sessions have drained (or been closed).
    let _ = drained.await;
    result?;
    services
}

/// Starts the client services once the index has caught up (`caught_up`) and the mempool
/// has been synchronized (with the session manager's periodic work and LOG_SESSIONS), then
/// runs the notifier until shutdown.
async fn services(
    admin: Arc<Admin>,
    shared: Arc<ElectrumState>,
    registry: Arc<Registry>,
    events_tx: mpsc::UnboundedSender<ChainEvent>,
    events_rx: mpsc::UnboundedReceiver<ChainEvent>,
    caught_up: oneshot::Receiver<()>,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    tokio::select! {
        _ = shutdown.cancelled() => return Ok(()),
        r = caught_up => if r.is_err() { return Ok(()) },
    }
    shared.refresh_hsub();
    let prefill = shared.clone();
    let started = std::time::Instant::now();
    match tokio::task::spawn_blocking(move || prefill.prefill_header_merkle()).await {
        Ok(Ok(())) => tracing::info!(
            ms = started.elapsed().as_millis() as u64,
            "header merkle cache filled"
        ),
        Ok(Err(e)) => tracing::warn!("filling the header merkle cache: {e}"),
        Err(e) => tracing::warn!("filling the header merkle cache: {e}"),
    }
    let (synced_tx, synced_rx) = oneshot::channel::<()>();
    let mut synced_tx = Some(synced_tx);
    tokio::spawn(shared.mempool.clone().run(
        shared.daemon.clone(),
        shared.index.clone(),
        admin.config.daemon_poll_interval_mempool,
        shutdown.clone(),
        move |touched, outpoints, height| {
            if let Some(tx) = synced_tx.take() {
                let _ = tx.send(());
            }
            let outpoints = OutpointTouches {
                outpoints,
                funders: HashSet::new(),
            };
            let _ = events_tx.send(ChainEvent::Mempool {
                height,
                touched,
                outpoints,
            });
        },
    ));
    tokio::select! {
        _ = shutdown.cancelled() => return Ok(()),
        r = synced_rx => if r.is_err() { return Ok(()) },
    }
    let listeners = match bind_services(&admin.config).await {
        Ok(l) => l,
        Err(e) => {
            shutdown.cancel();
            return Err(ServerError::Services(e));
        }
    };
    tokio::spawn(housekeeping(registry.clone(), shutdown.clone()));
    tokio::spawn(admin::log_sessions(admin.clone(), shutdown.clone()));
    for l in listeners {
        tokio::spawn(accept_loop(
            l,
            shared.clone(),
            registry.clone(),
            shutdown.clone(),
        ));
    }
    notify_loop(shared, registry, events_rx, shutdown).await;
    Ok(())
}
