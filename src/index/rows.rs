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
use super::schema::{Cf, SPENDER_KEY_LEN, TXID_PREFIX_LEN, TX_NUM_LEN};
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
    /// Order of pushing: of several operations on one key, the last wins.
    seq: u32,
    value_at: usize,
}

impl Op {
    fn key(&self) -> &[u8] {
        &self.key[..self.key_len as usize]
    }

    /// The key as integers that order as the key's bytes do: the zero-padded bytes (big
    /// endian), then the length (of two keys equal once padded, the shorter is a prefix of
    /// the other and sorts first). Comparing these is a few instructions where comparing
    /// slices is a `memcmp` call, which dominated a flush's sort.
    fn order(&self) -> (u128, u32, u8) {
        let (head, tail) = self.key.split_at(16);
        let mut h = [0u8; 16];
        h.copy_from_slice(head);
        let mut t = [0u8; 4];
        t.copy_from_slice(tail);
        (u128::from_be_bytes(h), u32::from_be_bytes(t), self.key_len)
    }
}

/// A column family's rows: operations pushed one by one, or keys already sorted and unique
/// with empty values, borrowed where they are kept (the cache's history keys, sorted in
/// place: no copy).
#[derive(Debug)]
enum Body<'a> {
    Ops {
        ops: Vec<Op>,
        values: Vec<u8>,
        sorted: bool,
    },
    Keys(&'a [[u8; 16]]),
    /// Puts of fixed-length keys with short values, each row packed into 16 bytes (key,
    /// value, zeros, and the value's length in the last byte), sorted as `u128`s: keys
    /// must not repeat. For `spenders` and `txprefix`, a third of a sync's rows.
    Packed {
        key_len: usize,
        rows: Vec<[u8; 16]>,
    },
}

/// The key length of a column family whose rows are packed (see `Body::Packed`).
fn packed_key_len(cf: Cf) -> Option<usize> {
    match cf {
        Cf::Spenders => Some(SPENDER_KEY_LEN),
        Cf::TxPrefix => Some(TXID_PREFIX_LEN + TX_NUM_LEN),
        _ => None,
    }
}

/// Puts and deletes of one column family.
#[derive(Debug)]
pub(crate) struct CfRows<'a> {
    pub cf: Cf,
    body: Body<'a>,
}

/// A put (with its value) or a delete, as read back.
pub(crate) enum Row<'a> {
    Put(&'a [u8], &'a [u8]),
    Delete(&'a [u8]),
}

impl<'a> CfRows<'a> {
    pub(crate) fn new(cf: Cf) -> CfRows<'a> {
        let body = match packed_key_len(cf) {
            Some(key_len) => Body::Packed {
                key_len,
                rows: Vec::new(),
            },
            None => Body::Ops {
                ops: Vec::new(),
                values: Vec::new(),
                sorted: true,
            },
        };
        CfRows { cf, body }
    }

    /// Puts of `keys` with empty values; `keys` must be sorted (as bytes) and unique, as
    /// [`sort_keys`] leaves them.
    pub(crate) fn sorted_keys(cf: Cf, keys: &'a [[u8; 16]]) -> CfRows<'a> {
        debug_assert!(keys.windows(2).all(|w| w[0] < w[1]));
        CfRows {
            cf,
            body: Body::Keys(keys),
        }
    }

    /// Makes room for `ops` more rows with `value_bytes` more bytes of values.
    pub(crate) fn reserve(&mut self, more: usize, value_bytes: usize) {
        match &mut self.body {
            Body::Ops { ops, values, .. } => {
                ops.reserve_exact(more);
                values.reserve_exact(value_bytes);
            }
            Body::Packed { rows, .. } => rows.reserve_exact(more),
            Body::Keys(_) => {}
        }
    }

    /// Adds a put of `key` (with `value`), or a delete of it if `delete`.
    pub(crate) fn push(
        &mut self,
        key: &[u8],
        value: &[u8],
        delete: bool,
    ) -> Result<(), IndexError> {
        let name = self.cf.name();
        let (ops, values, sorted) = match &mut self.body {
            Body::Ops {
                ops,
                values,
                sorted,
            } => (ops, values, sorted),
            Body::Packed { key_len, rows } => {
                return push_packed(rows, *key_len, key, value, delete)
                    .map_err(|what| IndexError::Corrupt(format!("{what} in {name}")))
            }
            Body::Keys(_) => {
                return Err(IndexError::Corrupt(format!(
                    "a row pushed to the sorted keys of {name}"
                )))
            }
        };
        let mut k = [0u8; MAX_KEY];
        k.get_mut(..key.len())
            .ok_or_else(|| {
                IndexError::Corrupt(format!(
                    "a {}-byte key in {name} (at most {MAX_KEY})",
                    key.len(),
                ))
            })?
            .copy_from_slice(key);
        let op = Op {
            key: k,
            key_len: key.len() as u8,
            delete,
            value_len: u32::try_from(value.len()).map_err(|_| {
                IndexError::Corrupt(format!("a {}-byte value in {name}", value.len()))
            })?,
            seq: u32::try_from(ops.len()).map_err(|_| {
                IndexError::Corrupt(format!("over 2^32 rows in one flush of {name}"))
            })?,
            value_at: values.len(),
        };
        if ops.last().is_some_and(|last| last.order() >= op.order()) {
            *sorted = false;
        }
        values.extend_from_slice(value);
        ops.push(op);
        Ok(())
    }

    /// Sorts by key; of several operations on one key, the last one pushed is kept (as a
    /// write batch would leave it).
    ///
    /// # Errors
    /// Packed rows (`spenders`, `txprefix`) with a repeated key: the index's own bug.
    pub(crate) fn sort(&mut self) -> Result<(), IndexError> {
        let (ops, sorted) = match &mut self.body {
            Body::Ops { ops, sorted, .. } => (ops, sorted),
            Body::Packed { key_len, rows } => {
                rows.sort_unstable_by_key(|r| u128::from_be_bytes(*r));
                let n = *key_len;
                return match rows.windows(2).find(|w| w[0][..n] == w[1][..n]) {
                    Some(w) => Err(IndexError::Corrupt(format!(
                        "two rows of key {:02x?} in one flush of {}",
                        &w[0][..n],
                        self.cf.name()
                    ))),
                    None => Ok(()),
                };
            }
            Body::Keys(_) => return Ok(()),
        };
        if !*sorted {
            // Unstable, but equal keys stay in the order they were pushed (`seq`).
            ops.sort_unstable_by_key(|op| (op.order(), op.seq));
            // Of each run of equal keys keep the last, in place (no second array).
            let mut kept: usize = 0;
            for i in 0..ops.len() {
                let op = ops[i];
                match kept.checked_sub(1).map(|k| &mut ops[k]) {
                    Some(last) if last.order() == op.order() => *last = op,
                    _ => {
                        ops[kept] = op;
                        kept += 1;
                    }
                }
            }
            ops.truncate(kept);
            *sorted = true;
        }
        Ok(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        match &self.body {
            Body::Ops { ops, .. } => ops.is_empty(),
            Body::Keys(keys) => keys.is_empty(),
            Body::Packed { rows, .. } => rows.is_empty(),
        }
    }

    /// The rows in key order (after [`CfRows::sort`]).
    pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = Row<'_>> + '_> {
        match &self.body {
            Body::Ops { ops, values, .. } => Box::new(ops.iter().map(|op| match op.delete {
                true => Row::Delete(op.key()),
                false => Row::Put(
                    op.key(),
                    &values[op.value_at..op.value_at + op.value_len as usize],
                ),
            })),
            Body::Keys(keys) => Box::new(keys.iter().map(|k| Row::Put(&k[..], &[]))),
            Body::Packed { key_len, rows } => Box::new(rows.iter().map(move |r| {
                let end = *key_len + usize::from(r[15]);
                Row::Put(&r[..*key_len], &r[*key_len..end])
            })),
        }
    }

    /// Bytes of keys and values.
    pub(crate) fn data_bytes(&self) -> usize {
        match &self.body {
            Body::Ops { ops, values, .. } => {
                ops.iter().map(|op| op.key_len as usize).sum::<usize>() + values.len()
            }
            Body::Keys(keys) => keys.len() * 16,
            Body::Packed { key_len, rows } => {
                rows.iter().map(|r| key_len + usize::from(r[15])).sum()
            }
        }
    }
}

/// Packs a put of `key` (exactly `key_len` bytes) and `value` into one 16-byte row.
fn push_packed(
    rows: &mut Vec<[u8; 16]>,
    key_len: usize,
    key: &[u8],
    value: &[u8],
    delete: bool,
) -> Result<(), String> {
    if delete {
        return Err("a delete among packed rows".to_string());
    }
    if key.len() != key_len || key_len + value.len() > 15 {
        return Err(format!(
            "a {}-byte key with a {}-byte value (packed: {key_len}-byte keys)",
            key.len(),
            value.len()
        ));
    }
    let mut r = [0u8; 16];
    r[..key_len].copy_from_slice(key);
    r[key_len..key_len + value.len()].copy_from_slice(value);
    r[15] = value.len() as u8;
    rows.push(r);
    Ok(())
}

/// Sorts 16-byte keys as their bytes order and removes repeats, in place: a sort of `u128`s,
/// the cheapest there is.
pub(crate) fn sort_keys(keys: &mut Vec<[u8; 16]>) {
    keys.sort_unstable_by_key(|k| u128::from_be_bytes(*k));
    keys.dedup();
}

/// A write batch of `rows` (each sorted), column family by column family.
pub(crate) fn to_batch(store: &Store, rows: &[CfRows<'_>]) -> Result<WriteBatch, IndexError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Sorted and deduplicated rows equal what a map keyed by the bytes (byte order, the
    /// last write of a key winning) holds, for keys of every length up to [`MAX_KEY`],
    /// prefixes of each other and with zero bytes (where padding could confuse an order).
    #[test]
    fn sorts_as_bytes_do_and_keeps_the_last_write() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut rows = CfRows::new(Cf::History);
        let mut model: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        for i in 0..20_000u32 {
            let len = (next() % (MAX_KEY as u64 + 1)) as usize;
            // Few distinct bytes: many equal keys, prefixes and zero bytes.
            let key: Vec<u8> = (0..len).map(|_| (next() % 3) as u8).collect();
            let delete = next() % 4 == 0;
            let value = i.to_be_bytes();
            rows.push(&key, if delete { &[] } else { &value }, delete)
                .expect("short key");
            model.insert(key, (!delete).then(|| value.to_vec()));
        }
        assert!(matches!(rows.body, Body::Ops { sorted: false, .. }));
        rows.sort().expect("sorted");
        let got: Vec<(Vec<u8>, Option<Vec<u8>>)> = rows
            .iter()
            .map(|r| match r {
                Row::Put(k, v) => (k.to_vec(), Some(v.to_vec())),
                Row::Delete(k) => (k.to_vec(), None),
            })
            .collect();
        let want: Vec<(Vec<u8>, Option<Vec<u8>>)> = model.into_iter().collect();
        assert_eq!(got, want);
    }

    #[test]
    fn sorted_keys_are_the_bytes_order() {
        let mut seed = 7u64;
        let mut keys: Vec<[u8; 16]> = (0..5_000)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let mut k = [0u8; 16];
                k[..8].copy_from_slice(&(seed >> 60).to_be_bytes());
                k[8..].copy_from_slice(&(seed >> 3).to_le_bytes());
                k
            })
            .collect();
        keys.extend_from_slice(&keys.clone()[..100]);
        let mut want = keys.clone();
        want.sort();
        want.dedup();
        sort_keys(&mut keys);
        assert_eq!(keys, want);
        let rows = CfRows::sorted_keys(Cf::History, &keys);
        assert_eq!(rows.data_bytes(), want.len() * 16);
        let got: Vec<Vec<u8>> = rows
            .iter()
            .map(|r| match r {
                Row::Put(k, v) => {
                    assert!(v.is_empty());
                    k.to_vec()
                }
                Row::Delete(_) => panic!("a delete"),
            })
            .collect();
        assert_eq!(got, want.iter().map(|k| k.to_vec()).collect::<Vec<_>>());
    }

    /// Packed rows (spenders: 9-byte keys, 5-byte or empty values) come out in the bytes'
    /// order with their values; a repeated key or a wrong length is refused.
    #[test]
    fn packed_rows_sort_as_bytes_do() {
        let mut rows = CfRows::new(Cf::Spenders);
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut seed = 99u64;
        for _ in 0..10_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let key = (seed >> 20).to_be_bytes()[..].repeat(2)[..SPENDER_KEY_LEN].to_vec();
            if model.contains_key(&key) {
                continue;
            }
            let value = match seed % 3 {
                0 => vec![],
                _ => (seed as u32).to_le_bytes()[..].repeat(2)[..TX_NUM_LEN].to_vec(),
            };
            rows.push(&key, &value, false).expect("fits");
            model.insert(key, value);
        }
        rows.sort().expect("no repeats");
        let got: Vec<(Vec<u8>, Vec<u8>)> = rows
            .iter()
            .map(|r| match r {
                Row::Put(k, v) => (k.to_vec(), v.to_vec()),
                Row::Delete(_) => panic!("a delete"),
            })
            .collect();
        assert_eq!(got, model.into_iter().collect::<Vec<_>>());
        let mut dup = CfRows::new(Cf::TxPrefix);
        dup.push(&[1; 11], &[], false).expect("fits");
        dup.push(&[1; 11], &[], false).expect("fits");
        assert!(dup.sort().is_err());
        assert!(dup.push(&[1; 10], &[], false).is_err());
        assert!(dup.push(&[1; 11], &[1; 5], false).is_err());
        assert!(dup.push(&[1; 11], &[], true).is_err());
    }

    #[test]
    fn refuses_a_long_key() {
        let mut rows = CfRows::new(Cf::Utxos);
        assert!(rows.push(&[1; MAX_KEY + 1], &[], false).is_err());
        assert!(rows.push(&[1; MAX_KEY], &[], false).is_ok());
    }
}
