//! The read API over the flushed index, for the protocol layer.
//!
//! Every call takes a RocksDB snapshot and a copy of the flushed [`View`] under the view
//! lock (microseconds), then reads without any lock: readers never see a half-written flush
//! or rollback, never block the writer for longer than that, and the writer blocks them only
//! while its batch is written.

use std::sync::Arc;

use bitcoin::block::Header;
use bitcoin::{BlockHash, OutPoint, Txid};

use super::error::IndexError;
use super::schema::{
    height_key, outpoint_prefix, read_height_key, read_tx_num, read_txid, read_utxo_key,
    read_value, tx_num_bytes, Cf, HashX, TxNum, UtxoRow,
};
use super::snap::{height_of, tx_nums_with_prefix, HistoryEntry, Snap};
use super::status::{status, OutpointStatus};
use super::store::decode_header;
use super::view::{Shared, View};

/// One confirmed unspent output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utxo {
    pub txid: Txid,
    pub vout: u32,
    pub height: u32,
    /// Satoshis.
    pub value: u64,
    pub tx_num: TxNum,
}

/// Where a confirmed transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxPosition {
    pub tx_num: TxNum,
    pub height: u32,
    /// Index in its block.
    pub pos: u32,
}

/// [`IndexReader::unspent_outputs`]' answer: the snapshot's tip height, and per outpoint its
/// (script-hash key, value) if unspent.
pub type UnspentOutputs = (Option<u32>, Vec<Option<(HashX, u64)>>);

/// Reads the flushed index. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct IndexReader {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for IndexReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexReader")
            .field("tip", &self.tip())
            .finish_non_exhaustive()
    }
}

impl IndexReader {
    pub(crate) fn new(shared: Arc<Shared>) -> IndexReader {
        IndexReader { shared }
    }

    fn view(&self) -> View {
        self.shared
            .view
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs `f` on a snapshot and the view that goes with it.
    fn with<R>(
        &self,
        f: impl FnOnce(&Snap<'_>, &View) -> Result<R, IndexError>,
    ) -> Result<R, IndexError> {
        let store = &self.shared.store;
        let (snap, view) = {
            let guard = self.shared.view.read().unwrap_or_else(|e| e.into_inner());
            (store.db().snapshot(), guard.clone())
        };
        f(&Snap { snap, store }, &view)
    }

    /// Height and hash of the flushed tip.
    pub fn tip(&self) -> Option<(u32, BlockHash)> {
        self.view().tip
    }

    /// Confirmed transactions of the flushed chain.
    pub fn tx_count(&self) -> u64 {
        self.view().tx_count
    }

    /// History of a script hash (32 bytes, internal order) in chain order: entries
    /// `start..start + limit`. Skipping costs one key step per entry; for long histories
    /// page with [`IndexReader::history_after`] instead.
    ///
    /// # Errors
    /// A read failed or met corrupt data.
    pub fn history(
        &self,
        sh: &[u8; 32],
        start: usize,
        limit: usize,
    ) -> Result<Vec<(Txid, u32)>, IndexError> {
        self.with(|s, v| {
            let nums = s.history_nums(&HashX::from_script_hash(sh), 0, start, limit)?;
            Ok(s.entries(v, &nums)?
                .into_iter()
                .map(|e| (e.txid, e.height))
                .collect())
        })
    }

    /// History entries after tx number `after` (from the start with `None`), at most
    /// `limit`: one seek, then one step per entry, whatever the history's length.
    ///
    /// # Errors
    /// As [`IndexReader::history`].
    pub fn history_after(
        &self,
        sh: &[u8; 32],
        after: Option<TxNum>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, IndexError> {
        let from = after.map_or(0, |n| n.saturating_add(1));
        self.with(|s, v| {
            let nums = s.history_nums(&HashX::from_script_hash(sh), from, 0, limit)?;
            s.entries(v, &nums)
        })
    }

    /// Number of history entries (counts keys; no txid is read).
    ///
    /// # Errors
    /// As [`IndexReader::history`].
    pub fn history_len(&self, sh: &[u8; 32]) -> Result<usize, IndexError> {
        let x = HashX::from_script_hash(sh);
        self.with(|s, _| {
            let mut it = s.iter(Cf::History, true)?;
            it.seek(x.0);
            let mut n = 0;
            while it.key().is_some_and(|k| k.starts_with(&x.0)) {
                n += 1;
                it.next();
            }
            it.status()?;
            Ok(n)
        })
    }

    /// (tx number, vout, value) of each unspent output of `x`, in chain order.
    fn utxo_rows(s: &Snap<'_>, x: &HashX) -> Result<Vec<(TxNum, u32, u64)>, IndexError> {
        let mut it = s.iter(Cf::Utxos, true)?;
        it.seek(x.0);
        let mut rows = Vec::new();
        while let Some((k, v)) = it.item() {
            if !k.starts_with(&x.0) {
                break;
            }
            let (n, vout) = read_utxo_key(k)?;
            rows.push((n, vout, read_value(v)?));
            it.next();
        }
        it.status()?;
        Ok(rows)
    }

    /// Unspent outputs of a script hash, in chain order (tx number, then output index).
    ///
    /// # Errors
    /// As [`IndexReader::history`].
    pub fn utxos(&self, sh: &[u8; 32]) -> Result<Vec<Utxo>, IndexError> {
        let x = HashX::from_script_hash(sh);
        self.with(|s, v| {
            let rows = Self::utxo_rows(s, &x)?;
            let nums: Vec<TxNum> = rows.iter().map(|r| r.0).collect();
            let txids = s.txids(&nums)?;
            rows.into_iter()
                .zip(txids)
                .map(|((tx_num, vout, value), txid)| {
                    Ok(Utxo {
                        txid,
                        vout,
                        height: height_of(v, tx_num)?,
                        value,
                        tx_num,
                    })
                })
                .collect()
        })
    }

    /// Confirmed balance of a script hash in satoshis.
    ///
    /// # Errors
    /// As [`IndexReader::history`].
    pub fn balance(&self, sh: &[u8; 32]) -> Result<u64, IndexError> {
        let x = HashX::from_script_hash(sh);
        self.with(|s, _| {
            Ok(Self::utxo_rows(s, &x)?
                .iter()
                .fold(0u64, |acc, r| acc.saturating_add(r.2)))
        })
    }

    /// The header at `height`, if flushed.
    ///
    /// # Errors
    /// A read failed or the header is corrupt.
    pub fn header(&self, height: u32) -> Result<Option<Header>, IndexError> {
        self.with(|s, v| {
            if v.tip.is_none_or(|(h, _)| height > h) {
                return Ok(None);
            }
            match s.get(Cf::Headers, &height_key(height))? {
                Some(b) => Ok(Some(decode_header(&b, height)?)),
                None => Err(IndexError::Corrupt(format!("header {height} missing"))),
            }
        })
    }

    /// The hash of the block at `height`, if flushed.
    ///
    /// # Errors
    /// As [`IndexReader::header`].
    pub fn block_hash(&self, height: u32) -> Result<Option<BlockHash>, IndexError> {
        Ok(self.header(height)?.map(|h| h.block_hash()))
    }

    /// Up to `count` consecutive headers from `start` (fewer at the tip).
    ///
    /// # Errors
    /// As [`IndexReader::header`].
    pub fn headers(&self, start: u32, count: usize) -> Result<Vec<Header>, IndexError> {
        self.with(|s, v| {
            let mut out = Vec::new();
            let Some((tip, _)) = v.tip else {
                return Ok(out);
            };
            if count == 0 || start > tip {
                return Ok(out);
            }
            let end = u64::from(tip).min(u64::from(start) + count as u64 - 1);
            let mut it = s.iter(Cf::Headers, false)?;
            it.seek(height_key(start));
            for h in u64::from(start)..=end {
                let h = h as u32;
                match it.item() {
                    Some((k, b)) if read_height_key(k)? == h => out.push(decode_header(b, h)?),
                    _ => {
                        it.status()?;
                        return Err(IndexError::Corrupt(format!("header {h} missing")));
                    }
                }
                it.next();
            }
            Ok(out)
        })
    }

    /// Txids of the block at `height` in block order, if flushed (for merkle proofs).
    ///
    /// # Errors
    /// A read failed, or a txid is missing or corrupt.
    pub fn block_txids(&self, height: u32) -> Result<Option<Vec<Txid>>, IndexError> {
        self.with(|s, v| {
            let Some((first, n)) = v.block_range(height) else {
                return Ok(None);
            };
            let mut it = s.iter(Cf::TxIds, false)?;
            it.seek(tx_num_bytes(first));
            let mut out = Vec::with_capacity(n as usize);
            for num in first..first + n {
                match it.item() {
                    Some((k, b)) if read_tx_num(k)? == num => out.push(read_txid(b)?),
                    _ => {
                        it.status()?;
                        return Err(IndexError::Corrupt(format!("txid of tx {num} missing")));
                    }
                }
                it.next();
            }
            Ok(Some(out))
        })
    }

    /// Where a confirmed transaction is (the first occurrence if a txid was mined twice,
    /// as before BIP 30).
    ///
    /// # Errors
    /// A read failed or met corrupt data.
    pub fn tx_position(&self, txid: &Txid) -> Result<Option<TxPosition>, IndexError> {
        self.with(|s, v| {
            let nums = tx_nums_with_prefix(&mut s.iter(Cf::TxPrefix, true)?, txid)?;
            for (n, t) in nums.iter().zip(s.txids(&nums)?) {
                if t == *txid {
                    let height = height_of(v, *n)?;
                    let (first, _) = v
                        .block_range(height)
                        .ok_or_else(|| IndexError::Corrupt(format!("no block {height}")))?;
                    return Ok(Some(TxPosition {
                        tx_num: *n,
                        height,
                        pos: (n - first) as u32,
                    }));
                }
            }
            Ok(None)
        })
    }

    /// The txid of tx number `n`, if flushed.
    ///
    /// # Errors
    /// A read failed or the txid is missing or corrupt.
    pub fn tx_hash(&self, n: TxNum) -> Result<Option<Txid>, IndexError> {
        self.with(|s, v| {
            if n >= v.tx_count {
                return Ok(None);
            }
            Ok(s.txids(&[n])?.into_iter().next())
        })
    }

    /// The height of the block holding tx number `n`, if flushed.
    pub fn tx_height(&self, n: TxNum) -> Option<u32> {
        self.view().height_of(n)
    }

    /// The flushed unspent outputs at `outpoints` (for the mempool: what a transaction's
    /// confirmed inputs spend), each as (script-hash key, value), or `None` where the output
    /// is spent or never existed; all read from one snapshot, whose tip height is returned
    /// with them.
    ///
    /// # Errors
    /// A read failed or met corrupt data.
    pub fn unspent_outputs(&self, outpoints: &[OutPoint]) -> Result<UnspentOutputs, IndexError> {
        self.with(|s, v| {
            let mut it = s.iter(Cf::Outpoints, true)?;
            let mut out = Vec::with_capacity(outpoints.len());
            for op in outpoints {
                let prefix = outpoint_prefix(&op.txid, op.vout);
                let mut candidates = Vec::new();
                it.seek(prefix);
                while let Some((k, val)) = it.item() {
                    if !k.starts_with(&prefix) {
                        break;
                    }
                    candidates.push(UtxoRow::from_outpoint_row(k, val)?);
                    it.next();
                }
                it.status()?;
                let nums: Vec<TxNum> = candidates.iter().map(|c| c.tx_num).collect();
                let found = candidates
                    .iter()
                    .zip(s.txids(&nums)?)
                    .find(|(_, t)| *t == op.txid)
                    .map(|(c, _)| (c.hashx, c.value));
                out.push(found);
            }
            Ok((v.tip.map(|t| t.0), out))
        })
    }

    /// The confirmed status of the output `vout` of `txid` (ElectrumX 2.0.0's
    /// `_calc_oc_txo_status`, from the index instead of bitcoind): `None` if no confirmed
    /// transaction has that txid or it has no such output; else its funding height and, if
    /// a confirmed transaction spent it, that spender's txid and height.
    ///
    /// # Errors
    /// [`IndexError::Upgrading`] while the spender index of an upgraded database is being
    /// built; a read failed or met corrupt data.
    pub fn outpoint_status(&self, op: &OutPoint) -> Result<Option<OutpointStatus>, IndexError> {
        Ok(self
            .outpoint_statuses(std::slice::from_ref(op))?
            .pop()
            .flatten())
    }

    /// [`IndexReader::outpoint_status`] of each of `outpoints`, all from one snapshot (for a
    /// notifier recomputing the statuses a block may have changed).
    ///
    /// # Errors
    /// As [`IndexReader::outpoint_status`].
    pub fn outpoint_statuses(
        &self,
        outpoints: &[OutPoint],
    ) -> Result<Vec<Option<OutpointStatus>>, IndexError> {
        self.with(|s, v| {
            if let Some(next) = v.upgrading {
                return Err(IndexError::Upgrading {
                    next,
                    tip: v.tip.map_or(0, |t| t.0),
                });
            }
            outpoints.iter().map(|op| status(s, v, op)).collect()
        })
    }
}
