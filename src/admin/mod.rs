//! The admin room: the local RPC server behind SERVICES' `rpc` entries (ElectrumX's
//! `LocalRPC`), served from start-up — during the initial sync too — and the pieces of the
//! `ferrumx_rpc` command-line client.
//!
//! Commands, with ElectrumX's arguments and answers (see `docs/operations.md`):
//! `add_peer`, `daemon_url`, `disconnect`, `getinfo`, `groups`, `log`, `peers`, `query`,
//! `reorg`, `sessions`, `stop`.
//!
//! Layout: `rpc` (the service: connections over the shared `transport` room, messages
//! through the shared `jsonrpc` room, as ElectrumX's `LocalRPC`), `commands` (what each
//! command does), `views` (`getinfo` and the `sessions` and `groups` rows, for the commands
//! and for LOG_SESSIONS, which this room logs), `query` (`query`'s lookups), `peers` (the
//! peer table and peer verification), `text` (tables, durations, amounts and JSON for
//! people, in the CLI and the log), `client` (the CLI's argument parsing and exchange).

pub mod client;
mod commands;
pub mod peers;
pub mod query;
mod rpc;
pub mod text;
pub mod views;

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::electrum::manager::Registry;
use crate::electrum::shared::ElectrumState;
use crate::indexer::{ForcedReorg, SyncStatus};

pub use peers::PeerTable;
pub use rpc::start;
pub use views::log_sessions;

/// The default port of the `rpc` service and of `ferrumx_rpc` (ElectrumX's).
pub const DEFAULT_PORT: u16 = 8000;

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
