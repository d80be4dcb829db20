//! What the blocks applied since the last flush changed, held in memory and bounded by
//! bytes (CACHE_MB): new UTXOs, spends of flushed UTXOs, history keys, tx hashes, headers,
//! tx counts, spender rows and undo data. [`Cache::cf_rows`] turns it into the sorted rows
//! of one flush, a column family at a time.

use std::collections::{HashMap, VecDeque};
use std::mem::size_of;

use super::error::IndexError;
use super::rows::{sort_keys, to_batch, CfRows};
use super::schema::{
    height_key, tx_num_bytes, txid_prefix, txprefix_key, Cf, HashX, TxNum, UtxoRow, HASHX_LEN,
    HISTORY_KEY_LEN, SPENDER_KEY_LEN, TX_NUM_LEN,
};
use super::store::Store;
use bitcoin::block::Header;
use bitcoin::consensus::serialize;
use bitcoin::hashes::Hash;
use bitcoin::{OutPoint, Txid};
use rocksdb::WriteBatch;

/// A map keyed by outpoint. Its keys are txids: hashed already, but chosen by whoever makes
/// transactions, so the hasher is still seeded per process (`foldhash`'s fast hasher: a few
/// multiplications, where the standard library's SipHash took a tenth of the block
/// processor's time in the sync's profile).
pub(crate) type OutPointMap<V> = HashMap<OutPoint, V, foldhash::fast::RandomState>;

/// An unflushed unspent output (the outpoint is the map key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CachedUtxo {
    pub tx_num: TxNum,
    pub hashx: HashX,
    pub value: u64,
}

impl CachedUtxo {
    pub(crate) fn row(&self, op: &OutPoint) -> UtxoRow {
        UtxoRow {
            txid_prefix: txid_prefix(&op.txid),
            vout: op.vout,
            tx_num: self.tx_num,
            hashx: self.hashx,
            value: self.value,
        }
    }
}

/// Unflushed changes. Blocks `first_height..=first_height + headers.len() - 1` are in it,
/// with tx numbers from `first_tx_num`.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    /// Outputs created since the flush and still unspent.
    pub adds: OutPointMap<CachedUtxo>,
    /// Flushed outputs spent since the flush (their rows are deleted at the flush).
    pub db_spends: Vec<UtxoRow>,
    /// New `history` keys (appended by blocks: sorted only by [`Cache::sort_history`], for a
    /// bulk flush).
    pub history: Vec<[u8; HISTORY_KEY_LEN]>,
    /// Whether `history` is sorted and without repeats.
    history_sorted: bool,
    /// Txids of the new tx numbers, in order.
    pub txids: Vec<Txid>,
    /// Headers of the new blocks, in order.
    pub headers: Vec<Header>,
    /// Cumulative tx counts of the new blocks.
    pub counts: Vec<u64>,
    /// New `spenders` rows of spent outputs: key ‖ the spender's tx number.
    pub spends: Vec<([u8; SPENDER_KEY_LEN], [u8; TX_NUM_LEN])>,
    /// New `spenders` rows (empty values) of unspendable outputs.
    pub unspendable: Vec<[u8; SPENDER_KEY_LEN]>,
    /// Encoded undo data of the most recent blocks, oldest first (only those the next flush
    /// may still keep: at most REORG_LIMIT of them).
    pub undo: VecDeque<(u32, Vec<u8>)>,
    undo_bytes: usize,
}

/// Estimated bytes of one `adds` slot (entry plus hashbrown's control byte).
const ADD_SLOT_BYTES: usize = size_of::<(OutPoint, CachedUtxo)>() + 1;

impl Cache {
    /// Estimated heap bytes held (allocated capacity, not just length).
    pub(crate) fn bytes(&self) -> usize {
        self.adds.capacity() * ADD_SLOT_BYTES
            + self.db_spends.capacity() * size_of::<UtxoRow>()
            + self.history.capacity() * HISTORY_KEY_LEN
            + self.txids.capacity() * size_of::<Txid>()
            + self.headers.capacity() * size_of::<Header>()
            + self.counts.capacity() * size_of::<u64>()
            + self.spends.capacity() * (SPENDER_KEY_LEN + TX_NUM_LEN)
            + self.unspendable.capacity() * SPENDER_KEY_LEN
            + self.undo.capacity() * size_of::<(u32, Vec<u8>)>()
            + self.undo_bytes
    }

    /// Number of blocks held.
    pub(crate) fn blocks(&self) -> usize {
        self.headers.len()
    }

    /// Adds a block's undo data and drops any that the next flush would not keep anyway
    /// (blocks below `keep_from`).
    pub(crate) fn push_undo(&mut self, height: u32, undo: Vec<u8>, keep_from: u32) {
        self.undo_bytes += undo.capacity();
        self.undo.push_back((height, undo));
        while self.undo.front().is_some_and(|(h, _)| *h < keep_from) {
            if let Some((_, u)) = self.undo.pop_front() {
                self.undo_bytes -= u.capacity();
            }
        }
    }

    /// Adds history keys (a block's).
    pub(crate) fn extend_history(&mut self, keys: &[[u8; HISTORY_KEY_LEN]]) {
        self.history.extend_from_slice(keys);
        self.history_sorted = keys.is_empty() && self.history_sorted;
    }

    /// Sorts the history keys in place, so that a flush writes them without a sorted copy
    /// (they are the most numerous rows: about 40 % of a sync's).
    pub(crate) fn sort_history(&mut self) {
        if !self.history_sorted {
            sort_keys(&mut self.history);
            self.history_sorted = true;
        }
    }

    /// Forgets everything (after a successful flush), releasing the memory.
    pub(crate) fn clear(&mut self) {
        *self = Cache::default();
    }

    /// The rows of column family `cf` that a flush of the cache writes (see [`Span`]),
    /// sorted by key.
    pub(crate) fn cf_rows(&self, span: &Span, cf: Cf) -> Result<CfRows<'_>, IndexError> {
        if cf == Cf::History && self.history_sorted {
            return Ok(CfRows::sorted_keys(cf, &self.history));
        }
        let mut rows = CfRows::new(cf);
        let undo_bytes = self.undo.iter().map(|(_, u)| u.len()).sum();
        let (ops, value_bytes) = match cf {
            Cf::Meta => (0, 0),
            Cf::Headers => (self.headers.len(), self.headers.len() * 80),
            Cf::TxCounts => (self.counts.len(), self.counts.len() * TX_NUM_LEN),
            Cf::TxIds => (self.txids.len(), self.txids.len() * 32),
            Cf::TxPrefix => (self.txids.len(), 0),
            Cf::History => (self.history.len(), 0),
            Cf::Utxos | Cf::Outpoints => (
                self.adds.len() + self.db_spends.len(),
                self.adds.len() * (HASHX_LEN + 8),
            ),
            Cf::Spenders => (
                self.spends.len() + self.unspendable.len(),
                self.spends.len() * TX_NUM_LEN,
            ),
            Cf::Undo => (self.undo.len() + span.drop_undo.len(), undo_bytes),
        };
        rows.reserve(ops, value_bytes);
        let put = |rows: &mut CfRows, k: &[u8], v: &[u8]| rows.push(k, v, false);
        match cf {
            Cf::Meta => {}
            Cf::Headers => {
                for (i, h) in self.headers.iter().enumerate() {
                    put(
                        &mut rows,
                        &height_key(span.first_height + i as u32),
                        &serialize(h),
                    )?;
                }
            }
            Cf::TxCounts => {
                for (i, c) in self.counts.iter().enumerate() {
                    let key = height_key(span.first_height + i as u32);
                    put(&mut rows, &key, &tx_num_bytes(*c))?;
                }
            }
            Cf::TxIds => {
                for (i, txid) in self.txids.iter().enumerate() {
                    let n = span.first_tx_num + i as u64;
                    put(&mut rows, &tx_num_bytes(n), txid.as_byte_array())?;
                }
            }
            Cf::TxPrefix => {
                for (i, txid) in self.txids.iter().enumerate() {
                    let n = span.first_tx_num + i as u64;
                    put(&mut rows, &txprefix_key(txid, n), &[])?;
                }
            }
            Cf::History => {
                for k in &self.history {
                    put(&mut rows, k, &[])?;
                }
            }
            Cf::Utxos | Cf::Outpoints => {
                let utxos = cf == Cf::Utxos;
                for (op, u) in &self.adds {
                    let row = u.row(op);
                    match utxos {
                        true => put(&mut rows, &row.utxo_key(), &row.utxo_value())?,
                        false => put(&mut rows, &row.outpoint_key(), &row.outpoint_value())?,
                    }
                }
                for row in &self.db_spends {
                    match utxos {
                        true => rows.push(&row.utxo_key(), &[], true)?,
                        false => rows.push(&row.outpoint_key(), &[], true)?,
                    }
                }
            }
            Cf::Spenders if span.spenders => {
                for (k, v) in &self.spends {
                    put(&mut rows, k, v)?;
                }
                for k in &self.unspendable {
                    put(&mut rows, k, &[])?;
                }
            }
            Cf::Spenders => {}
            Cf::Undo => {
                for h in span.drop_undo.clone() {
                    rows.push(&height_key(h), &[], true)?;
                }
                for (h, u) in &self.undo {
                    if *h >= span.keep_undo_from {
                        put(&mut rows, &height_key(*h), u)?;
                    }
                }
            }
        }
        rows.sort()?;
        Ok(rows)
    }
}

impl Cache {
    /// The rows of a flush of `span` as one write batch, column family by column family,
    /// each sorted.
    pub(crate) fn to_batch(&self, store: &Store, span: &Span) -> Result<WriteBatch, IndexError> {
        let rows = Cf::ALL
            .iter()
            .map(|&cf| self.cf_rows(span, cf))
            .collect::<Result<Vec<_>, _>>()?;
        to_batch(store, &rows)
    }
}

/// What a flush of the cache covers: blocks from `first_height`, tx numbers from
/// `first_tx_num`; undo data of blocks below `keep_undo_from` left out, the undo rows of
/// `drop_undo` (fallen out of the window) deleted; `spenders` rows only if `spenders` (not
/// a previous-layout writer).
#[derive(Clone, Debug)]
pub(crate) struct Span {
    pub first_height: u32,
    pub first_tx_num: TxNum,
    pub keep_undo_from: u32,
    pub drop_undo: std::ops::Range<u32>,
    pub spenders: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_is_bounded_and_counted() {
        let mut c = Cache::default();
        let empty = c.bytes();
        for h in 0..20u32 {
            c.push_undo(h, vec![0u8; 100], h.saturating_sub(4));
        }
        assert_eq!(c.undo.len(), 5);
        assert_eq!(c.undo.front().map(|u| u.0), Some(15));
        assert!(c.bytes() >= empty + 500);
        c.clear();
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn bytes_grow_with_adds() {
        let mut c = Cache::default();
        for i in 0..1000u32 {
            c.adds.insert(
                OutPoint::new(Txid::from_byte_array([7; 32]), i),
                CachedUtxo {
                    tx_num: 1,
                    hashx: HashX([0; 11]),
                    value: 5,
                },
            );
        }
        assert!(c.bytes() >= 1000 * ADD_SLOT_BYTES);
    }
}
