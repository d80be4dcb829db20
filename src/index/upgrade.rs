//! Upgrading a database of the previous layout ([`DB_VERSION_PRE_SPENDERS`]: no `spenders`
//! column family) in place, so that operators never resync for the spender index.
//!
//! What the index already holds says which transaction has which number and where each
//! block's transactions start; what it lacks is which transaction spent each output, which
//! only the blocks say. So the block of every height `1..=tip` is read again (the block
//! processor fetches them from the daemon by the hashes of our own headers, see
//! `crate::indexer`), checked against our header, and its rows are added: for each input,
//! `spender_key(funder, vout) → spender`; for each unspendable output, an empty row. The
//! funder's number comes from a map of recent transactions (most outputs are spent soon
//! after they are created), else from `txprefix` (the last occurrence before the spender,
//! as a repeated coinbase replaced the earlier one).
//!
//! Rows go to the database in batches bounded by the cache budget, each with the progress
//! (`UPGRADE_KEY`: the next height) in the same synced batch, so a kill -9 anywhere resumes
//! from the last batch. The last batch also writes the state record of [`DB_VERSION`] and
//! deletes the progress key: from then on the database is exactly what a fresh sync of the
//! same chain writes (the undo data needs no change: a rollback finds a block's `spenders`
//! rows through its tx numbers and its spent outputs).

use std::collections::HashMap;
use std::mem::size_of;

use bitcoin::{OutPoint, Txid};
use rocksdb::{DBRawIteratorWithThreadMode, ReadOptions, WriteBatch, DB};

use super::apply::parse_block;
use super::error::IndexError;
use super::schema::{
    is_unspendable, spender_key, tx_num_bytes, Cf, TxNum, SPENDER_KEY_LEN, TX_NUM_LEN, UPGRADE_KEY,
};
#[cfg(doc)]
use super::schema::{DB_VERSION, DB_VERSION_PRE_SPENDERS};
use super::snap::tx_nums_with_prefix;
use super::store::Store;

/// Estimated bytes of one entry of the recent-transactions map (key, value, control byte,
/// and the load factor's slack).
const RECENT_ENTRY_BYTES: usize = (size_of::<(Txid, TxNum)>() + 1) * 8 / 7;

/// The progress of an upgrade: what is done, what is left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpgradeProgress {
    /// The next height whose block is needed.
    pub next: u32,
    /// The last height to do (the index's tip).
    pub tip: u32,
    /// Inputs and unspendable outputs recorded since this process started the upgrade.
    pub rows: u64,
}

/// An upgrade in progress (see the module docs).
#[derive(Debug)]
pub(crate) struct Upgrade {
    next: u32,
    tip: u32,
    rows: u64,
    spends: Vec<([u8; SPENDER_KEY_LEN], [u8; TX_NUM_LEN])>,
    unspendable: Vec<[u8; SPENDER_KEY_LEN]>,
    /// Txid → tx number of recent transactions, in two generations: when `young` is full
    /// it becomes `old` (and the older one is dropped), so memory is bounded.
    young: HashMap<Txid, TxNum>,
    old: HashMap<Txid, TxNum>,
    recent_cap: usize,
}

impl Upgrade {
    /// Resumes (or starts) the upgrade of a database whose tip is at `tip`, with the
    /// recent-transactions map bounded by about `budget` bytes.
    pub(crate) fn resume(store: &Store, tip: u32, budget: usize) -> Result<Upgrade, IndexError> {
        let next = match store.db().get_pinned_cf(store.cf(Cf::Meta)?, UPGRADE_KEY)? {
            Some(v) => {
                let b: [u8; 4] = v.as_ref().try_into().map_err(|_| {
                    IndexError::Corrupt(format!("upgrade progress of {} bytes", v.len()))
                })?;
                u32::from_le_bytes(b)
            }
            None => 1,
        };
        if next == 0 || next > tip.saturating_add(1) {
            return Err(IndexError::Corrupt(format!(
                "upgrade progress at height {next}, beyond the tip {tip}"
            )));
        }
        Ok(Upgrade {
            next,
            tip,
            rows: 0,
            spends: Vec::new(),
            unspendable: Vec::new(),
            young: HashMap::new(),
            old: HashMap::new(),
            recent_cap: (budget / 2 / RECENT_ENTRY_BYTES).max(1024),
        })
    }

    pub(crate) fn progress(&self) -> UpgradeProgress {
        UpgradeProgress {
            next: self.next,
            tip: self.tip,
            rows: self.rows,
        }
    }

    /// Whether every block has been read (the last batch may still be unwritten).
    pub(crate) fn done(&self) -> bool {
        self.next > self.tip
    }

    /// Estimated bytes held: the rows not yet written (the recent map is bounded apart).
    pub(crate) fn bytes(&self) -> usize {
        self.spends.capacity() * (SPENDER_KEY_LEN + TX_NUM_LEN)
            + self.unspendable.capacity() * SPENDER_KEY_LEN
    }

    /// Adds the rows of the block at the next height, `raw`; `counts` are the cumulative tx
    /// counts (index = height). The block must be the one our header at that height names.
    pub(crate) fn add_block(
        &mut self,
        store: &Store,
        counts: &[u64],
        raw: &[u8],
    ) -> Result<(), IndexError> {
        let height = self.next;
        if height > self.tip {
            return Err(IndexError::Corrupt(format!(
                "upgrade given a block above the tip {}",
                self.tip
            )));
        }
        let block = parse_block(raw, height)?;
        let hash = block.header.block_hash();
        let ours = store
            .header(height)?
            .ok_or_else(|| IndexError::Corrupt(format!("no header at height {height}")))?;
        if ours.block_hash() != hash {
            return Err(IndexError::BadBlock {
                height,
                reason: format!("{hash} is not our block {}", ours.block_hash()),
            });
        }
        let (first, end) = match (counts.get(height as usize - 1), counts.get(height as usize)) {
            (Some(&f), Some(&e)) => (f, e),
            _ => {
                return Err(IndexError::Corrupt(format!(
                    "no tx count for block {height}"
                )))
            }
        };
        if end - first != block.txids.len() as u64 {
            return Err(IndexError::Corrupt(format!(
                "block {height} has {} transactions, the index {}",
                block.txids.len(),
                end - first
            )));
        }
        let mut spends = Vec::new();
        let mut unspendable = Vec::new();
        let mut opts = ReadOptions::default();
        opts.set_prefix_same_as_start(true);
        let mut it = store
            .db()
            .raw_iterator_cf_opt(store.cf(Cf::TxPrefix)?, opts);
        for (i, (tx, txid)) in block.txs.iter().zip(&block.txids).enumerate() {
            let tx_num = first + i as u64;
            if !block.is_coinbase(tx) {
                for op in block.inputs(tx) {
                    let funder = self.funder(store, &mut it, op, tx_num, height)?;
                    spends.push((spender_key(funder, op.vout), tx_num_bytes(tx_num)));
                }
            }
            for (vout, out) in block.outputs(tx).iter().enumerate() {
                if is_unspendable(out.script) {
                    unspendable.push(spender_key(tx_num, vout as u32));
                }
            }
            self.remember(*txid, tx_num);
        }
        self.rows += (spends.len() + unspendable.len()) as u64;
        self.spends.append(&mut spends);
        self.unspendable.append(&mut unspendable);
        self.next += 1;
        Ok(())
    }

    fn remember(&mut self, txid: Txid, tx_num: TxNum) {
        if self.young.len() >= self.recent_cap {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(txid, tx_num);
    }

    /// The tx number of the transaction `op` spends from, for a spender numbered `before`:
    /// the last one with that txid before it.
    fn funder(
        &self,
        store: &Store,
        it: &mut DBRawIteratorWithThreadMode<'_, DB>,
        op: &OutPoint,
        before: TxNum,
        height: u32,
    ) -> Result<TxNum, IndexError> {
        if let Some(&n) = self.young.get(&op.txid).or_else(|| self.old.get(&op.txid)) {
            return Ok(n);
        }
        let nums = tx_nums_with_prefix(it, &op.txid)?;
        for &n in nums.iter().rev().filter(|&&n| n < before) {
            if store.txid(n)? == Some(op.txid) {
                return Ok(n);
            }
        }
        Err(IndexError::MissingUtxo {
            height,
            outpoint: *op,
        })
    }

    /// Adds the rows read so far to `batch`, with the progress unless the upgrade is done
    /// (then the caller writes the new state record and the progress key goes).
    pub(crate) fn write_to(
        &mut self,
        store: &Store,
        batch: &mut WriteBatch,
    ) -> Result<(), IndexError> {
        let spenders = store.cf(Cf::Spenders)?;
        for (k, v) in &self.spends {
            batch.put_cf(spenders, k, v);
        }
        for k in &self.unspendable {
            batch.put_cf(spenders, k, []);
        }
        let meta = store.cf(Cf::Meta)?;
        if self.done() {
            batch.delete_cf(meta, UPGRADE_KEY);
        } else {
            batch.put_cf(meta, UPGRADE_KEY, self.next.to_le_bytes());
        }
        Ok(())
    }

    /// Forgets the rows written (after a successful batch).
    pub(crate) fn written(&mut self) {
        self.spends = Vec::new();
        self.unspendable = Vec::new();
    }
}
