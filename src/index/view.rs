//! The flushed state the writer ([`Index`](super::Index)) shares with its readers
//! ([`IndexReader`](super::IndexReader)): the store and the view of what is flushed.

use std::sync::{Arc, RwLock, RwLockWriteGuard};

use bitcoin::{BlockHash, Network};

use super::error::IndexError;
use super::schema::{StateRecord, TxNum, DB_VERSION, DB_VERSION_PRE_SPENDERS};
use super::store::Store;

/// The flushed state, as readers see it: every read takes a RocksDB snapshot and a copy of
/// this under the same lock, and flushes replace both under that lock.
#[derive(Clone, Debug, Default)]
pub(crate) struct View {
    pub tip: Option<(u32, BlockHash)>,
    pub tx_count: u64,
    /// Cumulative tx counts; index = height.
    pub counts: Arc<Vec<u64>>,
    /// While the `spenders` column family is still being built (a database of the previous
    /// layout being upgraded), the next height it needs: outpoint queries are refused until
    /// it is done.
    pub upgrading: Option<u32>,
}

impl View {
    /// The view of a database whose state record is `state`, checked: the network
    /// (`genesis`), the tx counts (gapless, growing, ending at the record's count) and the
    /// tip header (hashing to the record's tip). The version is the caller's to check.
    pub(crate) fn load(
        store: &Store,
        state: &StateRecord,
        network: Network,
        genesis: BlockHash,
    ) -> Result<View, IndexError> {
        if state.genesis != genesis {
            return Err(IndexError::WrongNetwork {
                network,
                found: state.genesis,
                expected: genesis,
            });
        }
        let counts = store.load_counts(state)?;
        let header = store.header(state.height)?.ok_or_else(|| {
            IndexError::Corrupt(format!("no header at the tip height {}", state.height))
        })?;
        if header.block_hash() != state.tip {
            return Err(IndexError::Corrupt(format!(
                "the header at height {} is not the state record's tip {}",
                state.height, state.tip
            )));
        }
        Ok(View {
            tip: Some((state.height, state.tip)),
            tx_count: state.tx_count,
            counts: Arc::new(counts),
            upgrading: None,
        })
    }

    /// This view with blocks of cumulative tx counts `counts` added: the tip `tip` and
    /// `tx_count` transactions after them.
    pub(crate) fn extended(&self, tip: (u32, BlockHash), tx_count: u64, counts: &[u64]) -> View {
        let mut all = Vec::with_capacity(self.counts.len() + counts.len());
        all.extend_from_slice(&self.counts);
        all.extend_from_slice(counts);
        View {
            tip: Some(tip),
            tx_count,
            counts: Arc::new(all),
            upgrading: None,
        }
    }

    /// The state record written with this view: the current layout version unless `spenders`
    /// is false (a previous-layout writer) or the upgrade is pending.
    pub(crate) fn state_record(
        &self,
        genesis: BlockHash,
        spenders: bool,
    ) -> Result<StateRecord, IndexError> {
        let Some((height, tip)) = self.tip else {
            return Err(IndexError::Corrupt("commit without a tip".to_string()));
        };
        let version = match spenders && self.upgrading.is_none() {
            true => DB_VERSION,
            false => DB_VERSION_PRE_SPENDERS,
        };
        Ok(StateRecord {
            version,
            genesis,
            height,
            tip,
            tx_count: self.tx_count,
        })
    }

    /// Height of the block holding tx number `n`.
    pub(crate) fn height_of(&self, n: TxNum) -> Option<u32> {
        if n >= self.tx_count {
            return None;
        }
        Some(self.counts.partition_point(|&c| c <= n) as u32)
    }

    /// First tx number and tx count of the block at `height`.
    pub(crate) fn block_range(&self, height: u32) -> Option<(TxNum, u64)> {
        let end = *self.counts.get(height as usize)?;
        let first = match height.checked_sub(1) {
            Some(p) => *self.counts.get(p as usize)?,
            None => 0,
        };
        Some((first, end - first))
    }
}

/// What the writer shares with its readers: the store and the flushed view.
pub(crate) struct Shared {
    pub(super) store: Store,
    pub(super) view: RwLock<View>,
}

impl Shared {
    pub(super) fn view_mut(&self) -> RwLockWriteGuard<'_, View> {
        // A view is always replaced whole, so a panic elsewhere cannot leave it half-made.
        self.view.write().unwrap_or_else(|e| e.into_inner())
    }
}
