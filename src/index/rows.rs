//! The rows of one flush, per column family and sorted by key: what RocksDB writes fastest.
//!
//! A flush used to put its rows into a `WriteBatch` in the cache's own order (hash-map order
//! for UTXOs, script order within blocks for history), so every insert into a memtable's
//! skip list searched from the top. Sorted per column family, each insert lands right
//! after the previous one (the skip list's remembered splice), and the same sorted runs can
//! be written straight into table files (`bulk`), with no memtable at all.
//!
//! Keys are at most [`MAX_KEY`] bytes and kept inline, so sorting compares without chasing
//! pointers; values live in one arena per column family.

use rocksdb::WriteBatch;

use super::error::IndexError;
use super::schema::Cf;
use super::store::Store;

/// The longest key of any column family written by a flush (`utxos`: 20 bytes).
pub(crate) const MAX_KEY: usize = 20;

/// One put or delete.
#[derive(Clone, Copy, Debug)]
struct Op {
    key: [u8; MAX_KEY],
    key_len: u8,
    /// A delete (no value).
    delete: bool,
    value_len: u32,
    value_at: usize,
}

impl Op {
    fn key(&self) -> &[u8] {
        &self.key[..self.key_len as usize]
    }
}

/// Puts and deletes of one column family.
#[derive(Debug)]
pub(crate) struct CfRows {
    pub cf: Cf,
    ops: Vec<Op>,
    values: Vec<u8>,
    sorted: bool,
}

/// A put (with its value) or a delete, as read back.
pub(crate) enum Row<'a> {
    Put(&'a [u8], &'a [u8]),
    Delete(&'a [u8]),
}

impl CfRows {
    pub(crate) fn new(cf: Cf) -> CfRows {
        CfRows {
            cf,
            ops: Vec::new(),
            values: Vec::new(),
            sorted: true,
        }
    }

    /// Makes room for `ops` more rows with `value_bytes` more bytes of values.
    pub(crate) fn reserve(&mut self, ops: usize, value_bytes: usize) {
        self.ops.reserve_exact(ops);
        self.values.reserve_exact(value_bytes);
    }

    /// Adds a put of `key` (with `value`), or a delete of it if `delete`.
    pub(crate) fn push(
        &mut self,
        key: &[u8],
        value: &[u8],
        delete: bool,
    ) -> Result<(), IndexError> {
        let mut k = [0u8; MAX_KEY];
        k.get_mut(..key.len())
            .ok_or_else(|| {
                IndexError::Corrupt(format!(
                    "a {}-byte key in {} (at most {MAX_KEY})",
                    key.len(),
                    self.cf.name()
                ))
            })?
            .copy_from_slice(key);
        let op = Op {
            key: k,
            key_len: key.len() as u8,
            delete,
            value_len: value.len() as u32,
            value_at: self.values.len(),
        };
        if self.ops.last().is_some_and(|last| last.key() >= key) {
            self.sorted = false;
        }
        self.values.extend_from_slice(value);
        self.ops.push(op);
        Ok(())
    }

    /// Sorts by key; of several operations on one key, the last one pushed is kept (as a
    /// write batch would leave it).
    pub(crate) fn sort(&mut self) {
        if !self.sorted {
            // Stable: equal keys stay in the order they were pushed.
            self.ops.sort_by(|a, b| a.key().cmp(b.key()));
            let mut kept: Vec<Op> = Vec::with_capacity(self.ops.len());
            for op in self.ops.drain(..) {
                match kept.last_mut() {
                    Some(last) if last.key() == op.key() => *last = op,
                    _ => kept.push(op),
                }
            }
            self.ops = kept;
            self.sorted = true;
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The rows in key order (after [`CfRows::sort`]).
    pub(crate) fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.ops.iter().map(|op| match op.delete {
            true => Row::Delete(op.key()),
            false => Row::Put(
                op.key(),
                &self.values[op.value_at..op.value_at + op.value_len as usize],
            ),
        })
    }

    /// Bytes of keys and values.
    pub(crate) fn data_bytes(&self) -> usize {
        self.ops.iter().map(|op| op.key_len as usize).sum::<usize>() + self.values.len()
    }
}

/// A write batch of `rows` (each sorted), column family by column family.
pub(crate) fn to_batch(store: &Store, rows: &[CfRows]) -> Result<WriteBatch, IndexError> {
    let mut batch = WriteBatch::default();
    for c in rows.iter().filter(|c| !c.is_empty()) {
        let handle = store.cf(c.cf)?;
        for row in c.iter() {
            match row {
                Row::Put(k, v) => batch.put_cf(handle, k, v),
                Row::Delete(k) => batch.delete_cf(handle, k),
            }
        }
    }
    Ok(batch)
}
