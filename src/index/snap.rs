//! One query's view of the flushed index: a RocksDB snapshot and the store
//! ([`Snap`]), with the reads several queries share (txids of tx numbers, history keys).
//! [`IndexReader`](super::IndexReader) takes one per call, under the view lock.

use bitcoin::Txid;
use rocksdb::{DBRawIteratorWithThreadMode, ReadOptions, SnapshotWithThreadMode, DB};

use super::error::IndexError;
use super::schema::{
    history_key, read_history_key, read_tx_num, read_txid, tx_num_bytes, txid_prefix, Cf, HashX,
    TxNum,
};
use super::store::Store;
use super::view::View;

/// One confirmed history entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Position in the chain (continue a paged read after it).
    pub tx_num: TxNum,
    pub txid: Txid,
    pub height: u32,
}

/// A snapshot and the store, for one query.
pub(crate) struct Snap<'a> {
    pub snap: SnapshotWithThreadMode<'a, DB>,
    pub store: &'a Store,
}

impl Snap<'_> {
    pub(crate) fn opts(&self) -> ReadOptions {
        let mut opts = ReadOptions::default();
        opts.set_snapshot(&self.snap);
        opts
    }

    /// An iterator over `cf` in the snapshot; with `prefix`, bounded to keys sharing the
    /// seek key's prefix.
    pub(crate) fn iter(
        &self,
        cf: Cf,
        prefix: bool,
    ) -> Result<DBRawIteratorWithThreadMode<'_, DB>, IndexError> {
        let mut opts = ReadOptions::default();
        if prefix {
            opts.set_prefix_same_as_start(true);
        } else {
            opts.set_total_order_seek(true);
        }
        Ok(self.snap.raw_iterator_cf_opt(self.store.cf(cf)?, opts))
    }

    pub(crate) fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, IndexError> {
        Ok(self
            .store
            .db()
            .get_cf_opt(self.store.cf(cf)?, key, &self.opts())?)
    }

    /// Txids of tx numbers (all below the view's tx count).
    pub(crate) fn txids(&self, nums: &[TxNum]) -> Result<Vec<Txid>, IndexError> {
        let keys: Vec<[u8; 5]> = nums.iter().map(|n| tx_num_bytes(*n)).collect();
        let sorted = nums.windows(2).all(|w| w[0] < w[1]);
        let opts = self.opts();
        let values = self.store.db().batched_multi_get_cf_opt(
            self.store.cf(Cf::TxIds)?,
            &keys,
            sorted,
            &opts,
        );
        values
            .into_iter()
            .zip(nums)
            .map(|(v, n)| match v? {
                Some(v) => read_txid(&v),
                None => Err(IndexError::Corrupt(format!("no txid for tx number {n}"))),
            })
            .collect()
    }

    /// Tx numbers of `x`'s history from `from` on, skipping `skip`, at most `limit`.
    pub(crate) fn history_nums(
        &self,
        x: &HashX,
        from: TxNum,
        mut skip: usize,
        limit: usize,
    ) -> Result<Vec<TxNum>, IndexError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let mut it = self.iter(Cf::History, true)?;
        it.seek(history_key(x, from));
        while let Some(k) = it.key() {
            if !k.starts_with(&x.0) || out.len() >= limit {
                break;
            }
            if skip > 0 {
                skip -= 1;
            } else {
                out.push(read_history_key(k)?.1);
            }
            it.next();
        }
        it.status()?;
        Ok(out)
    }

    pub(crate) fn entries(
        &self,
        view: &View,
        nums: &[TxNum],
    ) -> Result<Vec<HistoryEntry>, IndexError> {
        let txids = self.txids(nums)?;
        nums.iter()
            .zip(txids)
            .map(|(&tx_num, txid)| {
                Ok(HistoryEntry {
                    tx_num,
                    txid,
                    height: height_of(view, tx_num)?,
                })
            })
            .collect()
    }
}

pub(crate) fn height_of(view: &View, n: TxNum) -> Result<u32, IndexError> {
    view.height_of(n)
        .ok_or_else(|| IndexError::Corrupt(format!("tx number {n} beyond the flushed tip")))
}

/// The tx numbers whose txid starts as `txid` does (`txprefix` rows), in chain order: the
/// candidates for `txid`, to be checked against their full txids. `it` iterates `txprefix`.
///
/// # Errors
/// A read failed or met a corrupt key.
pub(crate) fn tx_nums_with_prefix(
    it: &mut DBRawIteratorWithThreadMode<'_, DB>,
    txid: &Txid,
) -> Result<Vec<TxNum>, IndexError> {
    let prefix = txid_prefix(txid);
    it.seek(prefix);
    let mut nums = Vec::new();
    while let Some(k) = it.key() {
        if !k.starts_with(&prefix) {
            break;
        }
        nums.push(read_tx_num(&k[prefix.len()..])?);
        it.next();
    }
    it.status()?;
    Ok(nums)
}
