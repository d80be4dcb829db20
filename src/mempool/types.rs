//! The mempool's values: what queries return ([`TxSummary`], [`MempoolUtxo`], [`RecentTx`],
//! [`MempoolStats`]) and why a refresh fails ([`RefreshError`]). Uses no sibling.

use bitcoin::Txid;

use crate::daemon;
use crate::index::IndexError;

/// A mempool transaction touching a script hash (ElectrumX's `MemPoolTxSummary`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TxSummary {
    pub txid: Txid,
    /// Satoshis.
    pub fee: u64,
    /// Some input spends a transaction that is in the mempool (height -1 in Electrum).
    pub has_unconfirmed_inputs: bool,
}

/// A mempool output paying a script hash (spent by another mempool transaction or not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MempoolUtxo {
    pub txid: Txid,
    pub vout: u32,
    /// Satoshis.
    pub value: u64,
}

/// A transaction as `mempool.recent` shows it (ElectrumX 2.0's `RecentMemPoolTx`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecentTx {
    pub txid: Txid,
    /// Satoshis.
    pub fee: u64,
    pub vsize: u64,
}

/// Sizes, for logs and the admin RPC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MempoolStats {
    /// Transactions held.
    pub txs: usize,
    /// Sum of their virtual sizes.
    pub vbytes: u64,
    /// Distinct script-hash keys they touch.
    pub hashxs: usize,
}

/// Why a refresh did not complete.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The index's flushed height is not the daemon's (ElectrumX's `DBSyncError`): try again
    /// once the block processor has caught up. Touched script hashes are kept.
    #[error("the index (height {index:?}) is not at the daemon's height {daemon}")]
    IndexNotSynced { index: Option<u32>, daemon: u32 },
    /// A daemon call failed (after the client's own retries).
    #[error("daemon: {0}")]
    Daemon(#[from] daemon::Error),
    /// An index read failed.
    #[error("index: {0}")]
    Index(#[from] IndexError),
    /// A worker task panicked or was cancelled.
    #[error("mempool task failed: {0}")]
    Task(String),
}
