//! The key layout: every column family, its keys and values, and their encodings.
//!
//! Only this file knows how rows are spelled; `store`, `apply`, `backup` and `query` go
//! through the helpers below. Integers in keys are big-endian so that RocksDB's byte order is
//! numeric order (chain order for tx numbers and heights); integers in values are
//! little-endian. `docs/storage.md` explains the choices.
//!
//! | column family | key | value |
//! |---|---|---|
//! | `meta` | `b"state"` | [`StateRecord`] (92 bytes, checksummed) |
//! | `headers` | height (4) | block header (80) |
//! | `txcounts` | height (4) | cumulative tx count after the block (5) |
//! | `txids` | tx_num (5) | txid (32, internal byte order) |
//! | `txprefix` | txid\[..6\] ‖ tx_num (5) | empty |
//! | `history` | hashX (11) ‖ tx_num (5) | empty |
//! | `utxos` | hashX (11) ‖ tx_num (5) ‖ vout (4) | value (8, LE) |
//! | `outpoints` | txid\[..6\] ‖ vout (4) ‖ tx_num (5) | hashX (11) ‖ value (8, LE) |
//! | `undo` | height (4) | [`Undo`] of the block |
//! | `spenders` | funder tx_num (5) ‖ vout (4) | spender tx_num (5), or empty for an unspendable output |
//!
//! `meta` also holds `b"upgrade"` (the next height, u32 LE) while a database of version
//! [`DB_VERSION_PRE_SPENDERS`] is being upgraded (`upgrade.rs`).

use bitcoin::hashes::{sha256, sha256d, Hash};
use bitcoin::{BlockHash, Script, Txid};

use super::error::IndexError;

/// Version of the layout below; a database of another version is refused at open, but for
/// [`DB_VERSION_PRE_SPENDERS`], which is upgraded in place.
pub const DB_VERSION: u32 = 2;
/// The previous layout: everything above but the `spenders` column family (no such family
/// in the database at all). Opened and upgraded in place (`upgrade.rs`).
pub const DB_VERSION_PRE_SPENDERS: u32 = 1;
/// Bytes of the script hash kept in keys (as ElectrumX).
pub const HASHX_LEN: usize = 11;
/// Bytes of a txid kept in the outpoint and tx-prefix keys.
pub const TXID_PREFIX_LEN: usize = 6;
/// Bytes of a tx number (2^40 ≈ 1.1 × 10^12 transactions).
pub const TX_NUM_LEN: usize = 5;
/// Largest tx number that fits in [`TX_NUM_LEN`] bytes, plus one.
pub const TX_NUM_LIMIT: u64 = 1 << (8 * TX_NUM_LEN);

/// Column families, in the order the content digest visits them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cf {
    Meta,
    Headers,
    TxCounts,
    TxIds,
    TxPrefix,
    History,
    Utxos,
    Outpoints,
    Undo,
    Spenders,
}

impl Cf {
    pub(crate) const ALL: [Cf; 10] = [
        Cf::Meta,
        Cf::Headers,
        Cf::TxCounts,
        Cf::TxIds,
        Cf::TxPrefix,
        Cf::History,
        Cf::Utxos,
        Cf::Outpoints,
        Cf::Undo,
        Cf::Spenders,
    ];

    /// The column families of a [`DB_VERSION_PRE_SPENDERS`] database.
    pub(crate) const PRE_SPENDERS: [Cf; 9] = [
        Cf::Meta,
        Cf::Headers,
        Cf::TxCounts,
        Cf::TxIds,
        Cf::TxPrefix,
        Cf::History,
        Cf::Utxos,
        Cf::Outpoints,
        Cf::Undo,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Cf::Meta => "meta",
            Cf::Headers => "headers",
            Cf::TxCounts => "txcounts",
            Cf::TxIds => "txids",
            Cf::TxPrefix => "txprefix",
            Cf::History => "history",
            Cf::Utxos => "utxos",
            Cf::Outpoints => "outpoints",
            Cf::Undo => "undo",
            Cf::Spenders => "spenders",
        }
    }

    /// Whether LZ4 shrinks this column family's table files enough to be worth its CPU:
    /// not those made of hashes, txids and amounts (see `store::cf_options`).
    pub(crate) fn compressible(self) -> bool {
        matches!(
            self,
            Cf::History | Cf::Spenders | Cf::Undo | Cf::TxPrefix | Cf::Meta | Cf::TxCounts
        )
    }

    /// Length of the prefix that prefix seeks use (and bloom filters cover), if any.
    pub(crate) fn prefix_len(self) -> Option<usize> {
        match self {
            Cf::History | Cf::Utxos => Some(HASHX_LEN),
            Cf::Outpoints => Some(TXID_PREFIX_LEN + 4),
            Cf::TxPrefix => Some(TXID_PREFIX_LEN),
            _ => None,
        }
    }
}

/// Global transaction number: the position of a transaction in the chain, from 0 (the genesis
/// coinbase).
pub type TxNum = u64;

/// The stored prefix of an Electrum script hash (`sha256(scriptPubKey)`, internal byte order):
/// its first [`HASHX_LEN`] bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct HashX(pub [u8; HASHX_LEN]);

impl HashX {
    /// The key of a 32-byte script hash (internal byte order, as `sha256(script)` gives it).
    pub fn from_script_hash(sh: &[u8; 32]) -> HashX {
        let mut x = [0u8; HASHX_LEN];
        x.copy_from_slice(&sh[..HASHX_LEN]);
        HashX(x)
    }

    /// The key of an output script.
    pub fn of_script(script: &Script) -> HashX {
        HashX::from_script_hash(&sha256::Hash::hash(script.as_bytes()).to_byte_array())
    }
}

/// ElectrumX's rule: outputs whose script starts with `OP_RETURN`, or `OP_FALSE OP_RETURN`,
/// can never be spent and are not indexed.
pub fn is_unspendable(script: &Script) -> bool {
    let b = script.as_bytes();
    b.first() == Some(&0x6a) || b.starts_with(&[0x00, 0x6a])
}

fn corrupt(what: impl Into<String>) -> IndexError {
    IndexError::Corrupt(what.into())
}

/// `tx_num` as 5 big-endian bytes.
pub(crate) fn tx_num_bytes(n: TxNum) -> [u8; TX_NUM_LEN] {
    let b = n.to_be_bytes();
    [b[3], b[4], b[5], b[6], b[7]]
}

/// Reads 5 big-endian bytes.
pub(crate) fn read_tx_num(b: &[u8]) -> Result<TxNum, IndexError> {
    if b.len() != TX_NUM_LEN {
        return Err(corrupt(format!("tx number of {} bytes", b.len())));
    }
    Ok(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
}

/// Key of the `headers`, `txcounts` and `undo` column families.
pub(crate) fn height_key(h: u32) -> [u8; 4] {
    h.to_be_bytes()
}

pub(crate) fn read_height_key(b: &[u8]) -> Result<u32, IndexError> {
    let a: [u8; 4] = b
        .try_into()
        .map_err(|_| corrupt(format!("height key of {} bytes", b.len())))?;
    Ok(u32::from_be_bytes(a))
}

pub(crate) fn txid_prefix(txid: &Txid) -> [u8; TXID_PREFIX_LEN] {
    let mut p = [0u8; TXID_PREFIX_LEN];
    p.copy_from_slice(&txid.as_byte_array()[..TXID_PREFIX_LEN]);
    p
}

pub(crate) fn read_txid(b: &[u8]) -> Result<Txid, IndexError> {
    let a: [u8; 32] = b
        .try_into()
        .map_err(|_| corrupt(format!("txid of {} bytes", b.len())))?;
    Ok(Txid::from_byte_array(a))
}

/// `txprefix` key: `txid[..6] ‖ tx_num`.
pub(crate) fn txprefix_key(txid: &Txid, n: TxNum) -> [u8; TXID_PREFIX_LEN + TX_NUM_LEN] {
    let mut k = [0u8; TXID_PREFIX_LEN + TX_NUM_LEN];
    k[..TXID_PREFIX_LEN].copy_from_slice(&txid_prefix(txid));
    k[TXID_PREFIX_LEN..].copy_from_slice(&tx_num_bytes(n));
    k
}

/// Length of a `history` key: `hashX ‖ tx_num`.
pub(crate) const HISTORY_KEY_LEN: usize = HASHX_LEN + TX_NUM_LEN;

/// `history` key: `hashX ‖ tx_num`; the value is empty.
pub(crate) fn history_key(x: &HashX, n: TxNum) -> [u8; HISTORY_KEY_LEN] {
    let mut k = [0u8; HISTORY_KEY_LEN];
    k[..HASHX_LEN].copy_from_slice(&x.0);
    k[HASHX_LEN..].copy_from_slice(&tx_num_bytes(n));
    k
}

/// The hashX and tx number of a `history` key.
pub(crate) fn read_history_key(k: &[u8]) -> Result<(HashX, TxNum), IndexError> {
    if k.len() != HISTORY_KEY_LEN {
        return Err(corrupt(format!("history key of {} bytes", k.len())));
    }
    let mut x = [0u8; HASHX_LEN];
    x.copy_from_slice(&k[..HASHX_LEN]);
    Ok((HashX(x), read_tx_num(&k[HASHX_LEN..])?))
}

/// The tx number and output index of a `utxos` key (`hashX ‖ tx_num ‖ vout`).
pub(crate) fn read_utxo_key(k: &[u8]) -> Result<(TxNum, u32), IndexError> {
    if k.len() != HASHX_LEN + TX_NUM_LEN + 4 {
        return Err(corrupt(format!("utxo key of {} bytes", k.len())));
    }
    let n = read_tx_num(&k[HASHX_LEN..HASHX_LEN + TX_NUM_LEN])?;
    let mut v = [0u8; 4];
    v.copy_from_slice(&k[HASHX_LEN + TX_NUM_LEN..]);
    Ok((n, u32::from_be_bytes(v)))
}

pub(crate) fn read_value(b: &[u8]) -> Result<u64, IndexError> {
    let a: [u8; 8] = b
        .try_into()
        .map_err(|_| corrupt(format!("utxo value of {} bytes", b.len())))?;
    Ok(u64::from_le_bytes(a))
}

/// `outpoints` seek prefix: `txid[..6] ‖ vout`.
pub(crate) fn outpoint_prefix(txid: &Txid, vout: u32) -> [u8; TXID_PREFIX_LEN + 4] {
    let mut k = [0u8; TXID_PREFIX_LEN + 4];
    k[..TXID_PREFIX_LEN].copy_from_slice(&txid_prefix(txid));
    k[TXID_PREFIX_LEN..].copy_from_slice(&vout.to_be_bytes());
    k
}

/// Length of a `spenders` key: `funder tx_num ‖ vout`.
pub(crate) const SPENDER_KEY_LEN: usize = TX_NUM_LEN + 4;

/// `spenders` key: the funding transaction's number and the output index. Keys sort by
/// funder, so a block's own outputs are one key range (`spender_key(first, 0)` up to
/// `spender_key(end, 0)`).
pub(crate) fn spender_key(funder: TxNum, vout: u32) -> [u8; SPENDER_KEY_LEN] {
    let mut k = [0u8; SPENDER_KEY_LEN];
    k[..TX_NUM_LEN].copy_from_slice(&tx_num_bytes(funder));
    k[TX_NUM_LEN..].copy_from_slice(&vout.to_be_bytes());
    k
}

/// A `spenders` value: the spending transaction's number, or `None` (an empty value) for
/// an output that can never be spent (ElectrumX's [`is_unspendable`] rule): such a row says
/// only that the output exists.
pub(crate) fn read_spender_value(v: &[u8]) -> Result<Option<TxNum>, IndexError> {
    if v.is_empty() {
        return Ok(None);
    }
    read_tx_num(v).map(Some)
}

/// Key in `meta` of the upgrade's progress: the next height whose block the spender index
/// still needs (u32 LE). Present only while a [`DB_VERSION_PRE_SPENDERS`] database is being
/// upgraded; written in the same batches as the rows.
pub(crate) const UPGRADE_KEY: &[u8] = b"upgrade";

/// One unspent output, as both of its rows (`utxos` and `outpoints`) and undo data hold it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UtxoRow {
    pub txid_prefix: [u8; TXID_PREFIX_LEN],
    pub vout: u32,
    pub tx_num: TxNum,
    pub hashx: HashX,
    pub value: u64,
}

/// Encoded size of a [`UtxoRow`] in undo data.
const UTXO_ROW_LEN: usize = TXID_PREFIX_LEN + 4 + TX_NUM_LEN + HASHX_LEN + 8;

impl UtxoRow {
    /// `outpoints` key: `txid[..6] ‖ vout ‖ tx_num`.
    pub(crate) fn outpoint_key(&self) -> [u8; TXID_PREFIX_LEN + 4 + TX_NUM_LEN] {
        let mut k = [0u8; TXID_PREFIX_LEN + 4 + TX_NUM_LEN];
        k[..TXID_PREFIX_LEN].copy_from_slice(&self.txid_prefix);
        k[TXID_PREFIX_LEN..TXID_PREFIX_LEN + 4].copy_from_slice(&self.vout.to_be_bytes());
        k[TXID_PREFIX_LEN + 4..].copy_from_slice(&tx_num_bytes(self.tx_num));
        k
    }

    /// `outpoints` value: `hashX ‖ value`.
    pub(crate) fn outpoint_value(&self) -> [u8; HASHX_LEN + 8] {
        let mut v = [0u8; HASHX_LEN + 8];
        v[..HASHX_LEN].copy_from_slice(&self.hashx.0);
        v[HASHX_LEN..].copy_from_slice(&self.value.to_le_bytes());
        v
    }

    /// `utxos` key: `hashX ‖ tx_num ‖ vout`.
    pub(crate) fn utxo_key(&self) -> [u8; HASHX_LEN + TX_NUM_LEN + 4] {
        let mut k = [0u8; HASHX_LEN + TX_NUM_LEN + 4];
        k[..HASHX_LEN].copy_from_slice(&self.hashx.0);
        k[HASHX_LEN..HASHX_LEN + TX_NUM_LEN].copy_from_slice(&tx_num_bytes(self.tx_num));
        k[HASHX_LEN + TX_NUM_LEN..].copy_from_slice(&self.vout.to_be_bytes());
        k
    }

    /// `utxos` value: the amount in satoshis.
    pub(crate) fn utxo_value(&self) -> [u8; 8] {
        self.value.to_le_bytes()
    }

    /// Rebuilds a row from an `outpoints` key and value.
    pub(crate) fn from_outpoint_row(k: &[u8], v: &[u8]) -> Result<UtxoRow, IndexError> {
        if k.len() != TXID_PREFIX_LEN + 4 + TX_NUM_LEN || v.len() != HASHX_LEN + 8 {
            return Err(corrupt(format!(
                "outpoint row of {}+{} bytes",
                k.len(),
                v.len()
            )));
        }
        let mut txid_prefix = [0u8; TXID_PREFIX_LEN];
        txid_prefix.copy_from_slice(&k[..TXID_PREFIX_LEN]);
        let mut vout = [0u8; 4];
        vout.copy_from_slice(&k[TXID_PREFIX_LEN..TXID_PREFIX_LEN + 4]);
        let mut x = [0u8; HASHX_LEN];
        x.copy_from_slice(&v[..HASHX_LEN]);
        Ok(UtxoRow {
            txid_prefix,
            vout: u32::from_be_bytes(vout),
            tx_num: read_tx_num(&k[TXID_PREFIX_LEN + 4..])?,
            hashx: HashX(x),
            value: read_value(&v[HASHX_LEN..])?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.outpoint_key());
        out.extend_from_slice(&self.outpoint_value());
    }

    fn decode(b: &[u8]) -> Result<UtxoRow, IndexError> {
        let split = TXID_PREFIX_LEN + 4 + TX_NUM_LEN;
        UtxoRow::from_outpoint_row(&b[..split], &b[split..])
    }
}

/// What undoing one block needs: the outputs it spent (restored), the outputs it created
/// (removed) and its history keys (removed). Its transactions' rows (`txids`, `txprefix`) are
/// found through the block's tx-number range.
///
/// Encoding: for each of `spent`, `created` (each row: the `outpoints` key ‖ value, 34
/// bytes) and `history` (each: the 16-byte key), a count (u32 LE) then the records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Undo {
    pub spent: Vec<UtxoRow>,
    pub created: Vec<UtxoRow>,
    pub history: Vec<[u8; HISTORY_KEY_LEN]>,
}

impl Undo {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            12 + (self.spent.len() + self.created.len()) * UTXO_ROW_LEN
                + self.history.len() * HISTORY_KEY_LEN,
        );
        for rows in [&self.spent, &self.created] {
            out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
            for r in rows {
                r.encode(&mut out);
            }
        }
        out.extend_from_slice(&(self.history.len() as u32).to_le_bytes());
        for k in &self.history {
            out.extend_from_slice(k);
        }
        out
    }

    pub(crate) fn decode(mut b: &[u8]) -> Result<Undo, IndexError> {
        fn count(b: &mut &[u8], record: usize) -> Result<usize, IndexError> {
            let (n, rest) = b
                .split_first_chunk::<4>()
                .ok_or_else(|| corrupt("undo data truncated"))?;
            let n = u32::from_le_bytes(*n) as usize;
            if rest.len() < n.saturating_mul(record) {
                return Err(corrupt("undo data truncated"));
            }
            *b = rest;
            Ok(n)
        }
        let mut undo = Undo::default();
        for which in 0..2 {
            let n = count(&mut b, UTXO_ROW_LEN)?;
            let (recs, rest) = b.split_at(n * UTXO_ROW_LEN);
            let rows = recs
                .chunks_exact(UTXO_ROW_LEN)
                .map(UtxoRow::decode)
                .collect::<Result<Vec<_>, _>>()?;
            if which == 0 {
                undo.spent = rows;
            } else {
                undo.created = rows;
            }
            b = rest;
        }
        let n = count(&mut b, HISTORY_KEY_LEN)?;
        let (recs, rest) = b.split_at(n * HISTORY_KEY_LEN);
        for k in recs.chunks_exact(HISTORY_KEY_LEN) {
            let mut key = [0u8; HISTORY_KEY_LEN];
            key.copy_from_slice(k);
            undo.history.push(key);
        }
        if !rest.is_empty() {
            return Err(corrupt("undo data has trailing bytes"));
        }
        Ok(undo)
    }
}

/// Key in `meta` of a bulk flush's journal: the state record the flush commits to (the
/// [`StateRecord`] encoding). Present only between the moment a bulk flush's table files are
/// staged and synced (its commit point) and the synced batch that writes that state record
/// under [`STATE_KEY`] once they are all ingested; at open it means "finish the ingestion".
pub(crate) const BULK_KEY: &[u8] = b"bulk";

/// Key of the state record in `meta`.
pub(crate) const STATE_KEY: &[u8] = b"state";
const STATE_MAGIC: &[u8; 8] = b"FRMXIDX\x01";
const STATE_LEN: usize = 8 + 4 + 32 + 4 + 32 + 8 + 4;

/// The only thing trusted at open: what the last completed flush (or backup) wrote, in the
/// same atomic batch as its data.
///
/// Encoding (92 bytes): magic `FRMXIDX\x01` ‖ db version (u32 LE) ‖ genesis hash (32) ‖
/// height (u32 LE) ‖ tip hash (32) ‖ tx count (u64 LE) ‖ first 4 bytes of the sha256d of
/// everything before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StateRecord {
    pub version: u32,
    pub genesis: BlockHash,
    pub height: u32,
    pub tip: BlockHash,
    pub tx_count: u64,
}

impl StateRecord {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(STATE_LEN);
        out.extend_from_slice(STATE_MAGIC);
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(self.genesis.as_byte_array());
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(self.tip.as_byte_array());
        out.extend_from_slice(&self.tx_count.to_le_bytes());
        let check = sha256d::Hash::hash(&out);
        out.extend_from_slice(&check.as_byte_array()[..4]);
        out
    }

    /// Decodes and checks the record. The version is returned as found; the caller decides.
    pub(crate) fn decode(b: &[u8]) -> Result<StateRecord, IndexError> {
        if b.len() != STATE_LEN {
            return Err(corrupt(format!(
                "state record of {} bytes, expected {STATE_LEN}",
                b.len()
            )));
        }
        if &b[..8] != STATE_MAGIC {
            return Err(corrupt("state record has a bad magic"));
        }
        let check = sha256d::Hash::hash(&b[..STATE_LEN - 4]);
        if b[STATE_LEN - 4..] != check.as_byte_array()[..4] {
            return Err(corrupt("state record fails its checksum"));
        }
        let u32_at = |i: usize| {
            let mut a = [0u8; 4];
            a.copy_from_slice(&b[i..i + 4]);
            u32::from_le_bytes(a)
        };
        let hash_at = |i: usize| {
            let mut a = [0u8; 32];
            a.copy_from_slice(&b[i..i + 32]);
            BlockHash::from_byte_array(a)
        };
        let mut count = [0u8; 8];
        count.copy_from_slice(&b[80..88]);
        Ok(StateRecord {
            version: u32_at(8),
            genesis: hash_at(12),
            height: u32_at(44),
            tip: hash_at(48),
            tx_count: u64::from_le_bytes(count),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: u8) -> UtxoRow {
        UtxoRow {
            txid_prefix: [i; TXID_PREFIX_LEN],
            vout: u32::from(i) * 1000,
            tx_num: u64::from(i) << 33,
            hashx: HashX([i ^ 0x5a; HASHX_LEN]),
            value: u64::from(i) * 12_345_678,
        }
    }

    #[test]
    fn tx_num_round_trip_and_order() {
        for n in [0u64, 1, 255, 256, 1 << 32, TX_NUM_LIMIT - 1] {
            assert_eq!(read_tx_num(&tx_num_bytes(n)).ok(), Some(n));
        }
        assert!(tx_num_bytes(256) > tx_num_bytes(255));
        assert!(read_tx_num(&[1, 2, 3]).is_err());
    }

    #[test]
    fn keys_sort_in_chain_order() {
        let x = HashX([7; HASHX_LEN]);
        assert!(history_key(&x, 300) > history_key(&x, 299));
        let a = UtxoRow {
            tx_num: 5,
            vout: 300,
            ..row(1)
        };
        let b = UtxoRow {
            tx_num: 6,
            vout: 0,
            ..row(1)
        };
        assert!(b.utxo_key() > a.utxo_key());
        assert_eq!(read_utxo_key(&a.utxo_key()).ok(), Some((5, 300)));
        assert_eq!(read_history_key(&history_key(&x, 77)).ok(), Some((x, 77)));
    }

    #[test]
    fn utxo_row_round_trip() {
        let r = row(9);
        let back = UtxoRow::from_outpoint_row(&r.outpoint_key(), &r.outpoint_value());
        assert_eq!(back.ok(), Some(r));
        assert!(UtxoRow::from_outpoint_row(&r.outpoint_key()[1..], &r.outpoint_value()).is_err());
    }

    #[test]
    fn undo_round_trip_and_truncation() {
        let undo = Undo {
            spent: vec![row(1), row(2)],
            created: vec![row(3)],
            history: vec![history_key(&HashX([4; HASHX_LEN]), 99)],
        };
        let enc = undo.encode();
        assert_eq!(Undo::decode(&enc).ok(), Some(undo));
        for cut in 0..enc.len() {
            assert!(Undo::decode(&enc[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = enc.clone();
        long.push(0);
        assert!(Undo::decode(&long).is_err());
        assert!(Undo::decode(&[0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn state_record_round_trip_and_corruption() {
        let s = StateRecord {
            version: DB_VERSION,
            genesis: BlockHash::from_byte_array([1; 32]),
            height: 123_456,
            tip: BlockHash::from_byte_array([2; 32]),
            tx_count: 1_000_000_007,
        };
        let enc = s.encode();
        assert_eq!(enc.len(), STATE_LEN);
        assert_eq!(StateRecord::decode(&enc).ok(), Some(s));
        for i in 0..enc.len() {
            let mut bad = enc.clone();
            bad[i] ^= 0x10;
            assert!(StateRecord::decode(&bad).is_err(), "flip at {i}");
        }
        assert!(StateRecord::decode(&enc[..50]).is_err());
        assert!(StateRecord::decode(&[]).is_err());
    }

    #[test]
    fn unspendable_rule() {
        use bitcoin::ScriptBuf;
        assert!(is_unspendable(&ScriptBuf::from_bytes(vec![0x6a, 1, 2])));
        assert!(is_unspendable(&ScriptBuf::from_bytes(vec![0x00, 0x6a])));
        assert!(!is_unspendable(&ScriptBuf::from_bytes(vec![0x00, 0x14])));
        assert!(!is_unspendable(&ScriptBuf::new()));
    }
}
