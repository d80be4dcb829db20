//! Rolling flushed blocks back with their undo data.

use bitcoin::{OutPoint, Txid};
use rocksdb::WriteBatch;

use super::error::IndexError;
use super::schema::{
    height_key, read_history_key, spender_key, tx_num_bytes, txprefix_key, Cf, HashX, Undo,
};
use super::store::{total_order, Store};

/// What a rollback changed, for notifications.
#[derive(Debug, Default)]
pub struct RolledBack {
    /// The hashXs whose history the removed blocks had extended (sorted, each once).
    pub touched: Vec<HashX>,
    /// Outputs of the remaining chain that the removed blocks had spent: unspent again.
    pub unspent: Vec<OutPoint>,
    /// The removed blocks' transactions (newest block first): their outputs are no longer
    /// funded.
    pub removed: Vec<Txid>,
}

/// Adds to `batch` everything that undoes the flushed blocks `to + 1..=tip`, newest first:
/// their history keys and created outputs go, the outputs they spent come back, and their
/// headers, tx counts, tx rows and undo rows go. `counts` are the flushed cumulative tx
/// counts (index = height).
///
/// Later operations on a key win within a batch, so an output created in one rolled-back
/// block and spent in a later one is restored by the later block's undo, then removed by the
/// earlier block's: gone, as it should be.
///
/// `spenders` rows: the rows of a block's own outputs (spent or unspendable) are one key
/// range (its tx numbers), deleted row by row; the rows of older outputs it spent are the
/// undo data's spent outputs, deleted by key (they were unspent before the block).
///
/// Reads everything first: on error, `batch` may hold part of the rollback and must be
/// dropped. Returns what the rollback changed, for notifications.
pub(crate) fn rollback(
    store: &Store,
    batch: &mut WriteBatch,
    counts: &[u64],
    tip: u32,
    to: u32,
) -> Result<RolledBack, IndexError> {
    let mut touched = Vec::new();
    let mut unspent = Vec::new();
    let mut removed = Vec::new();
    // Outputs numbered from here on go with the removed blocks.
    let kept_txs = counts
        .get(to as usize)
        .copied()
        .ok_or_else(|| IndexError::Corrupt(format!("no tx count for block {to}")))?;
    let spenders = match store.has_spenders() {
        true => Some(store.cf(Cf::Spenders)?),
        false => None,
    };
    let undo_cf = store.cf(Cf::Undo)?;
    let history = store.cf(Cf::History)?;
    let utxos = store.cf(Cf::Utxos)?;
    let outpoints = store.cf(Cf::Outpoints)?;
    let txids = store.cf(Cf::TxIds)?;
    let txprefix = store.cf(Cf::TxPrefix)?;
    let headers = store.cf(Cf::Headers)?;
    let txcounts = store.cf(Cf::TxCounts)?;
    for h in (to + 1..=tip).rev() {
        let raw = store
            .db()
            .get_pinned_cf(undo_cf, height_key(h))?
            .ok_or(IndexError::UndoMissing { height: h })?;
        let undo = Undo::decode(&raw)
            .map_err(|e| IndexError::Corrupt(format!("undo data of block {h}: {e}")))?;
        for k in &undo.history {
            batch.delete_cf(history, k);
            touched.push(read_history_key(k)?.0);
        }
        for r in &undo.spent {
            batch.put_cf(utxos, r.utxo_key(), r.utxo_value());
            batch.put_cf(outpoints, r.outpoint_key(), r.outpoint_value());
            if let Some(cf) = spenders {
                batch.delete_cf(cf, spender_key(r.tx_num, r.vout));
            }
            if r.tx_num < kept_txs {
                let funder = store.txid(r.tx_num)?.ok_or_else(|| {
                    IndexError::Corrupt(format!("no txid for tx number {}", r.tx_num))
                })?;
                unspent.push(OutPoint::new(funder, r.vout));
            }
        }
        for r in &undo.created {
            batch.delete_cf(utxos, r.utxo_key());
            batch.delete_cf(outpoints, r.outpoint_key());
        }
        let (first, end) = match (h.checked_sub(1), counts.get(h as usize)) {
            (Some(p), Some(&end)) => (counts.get(p as usize).copied().unwrap_or(end), end),
            _ => return Err(IndexError::Corrupt(format!("no tx count for block {h}"))),
        };
        for n in first..end {
            let txid = store
                .txid(n)?
                .ok_or_else(|| IndexError::Corrupt(format!("no txid for tx number {n}")))?;
            batch.delete_cf(txids, tx_num_bytes(n));
            batch.delete_cf(txprefix, txprefix_key(&txid, n));
            removed.push(txid);
        }
        if let Some(cf) = spenders {
            let end_key = spender_key(end, 0);
            let mut it = store.db().raw_iterator_cf_opt(cf, total_order());
            it.seek(spender_key(first, 0));
            while let Some(k) = it.key() {
                if k >= end_key.as_slice() {
                    break;
                }
                batch.delete_cf(cf, k);
                it.next();
            }
            it.status()?;
        }
        let key = height_key(h);
        batch.delete_cf(headers, key);
        batch.delete_cf(txcounts, key);
        batch.delete_cf(undo_cf, key);
    }
    touched.sort_unstable();
    touched.dedup();
    Ok(RolledBack {
        touched,
        unspent,
        removed,
    })
}
