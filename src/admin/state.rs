//! What the admin commands act on ([`Admin`]: handles on the server's parts) and what a
//! connection does after an answer ([`After`]). Uses `peers` only.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::peers::PeerTable;
use crate::config::Config;
use crate::electrum::manager::Registry;
use crate::electrum::shared::ElectrumState;
use crate::indexer::{ForcedReorg, SyncStatus};

/// Everything the commands act on.
pub struct Admin {
    pub config: Arc<Config>,
    pub shared: Arc<ElectrumState>,
    pub registry: Arc<Registry>,
    pub sync: Arc<SyncStatus>,
    /// To the block processor: forced rollbacks (`reorg`).
    pub reorgs: mpsc::UnboundedSender<ForcedReorg>,
    pub peers: Arc<PeerTable>,
    /// Cancelled by `stop`, as SIGINT/SIGTERM do.
    pub shutdown: CancellationToken,
    pub started: SystemTime,
}

/// What the connection does after answering a command.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct After {
    /// Shut the server down (`stop`), once the answer is written.
    pub stop: bool,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin").finish_non_exhaustive()
    }
}
