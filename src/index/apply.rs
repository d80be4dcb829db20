//! Applying one block to the index: parses a raw block, checks it against its header,
//! assigns tx numbers, spends and creates UTXOs, records history, the spender of every
//! output it spends (and its unspendable outputs) and the block's undo data — all into the
//! [`Cache`], all or nothing. It stays in the index because it writes the key
//! layout (`schema`) into the index's own cache; the block processor (`crate::indexer`)
//! reaches it only through [`Index::advance`](super::Index::advance).

use bitcoin::{merkle_tree, OutPoint};

use super::cache::{Cache, CachedUtxo, OutPointMap};
use super::error::IndexError;
use super::rawblock::{self, RawBlock};
use super::schema::{
    history_key, is_unspendable, read_history_key, spender_key, tx_num_bytes, HashX, TxNum, Undo,
    SPENDER_KEY_LEN, TX_NUM_LEN, TX_NUM_LIMIT,
};
use super::store::Store;

/// Parses `raw` (the whole of it, in place: `rawblock`) and checks the merkle root.
pub(crate) fn parse_block(raw: &[u8], height: u32) -> Result<RawBlock<'_>, IndexError> {
    let bad = |reason: String| IndexError::BadBlock { height, reason };
    let block = rawblock::parse(raw).map_err(|e| bad(format!("does not parse: {e}")))?;
    let root = merkle_tree::calculate_root(block.txids.iter().map(|t| t.to_raw_hash()))
        .ok_or_else(|| bad("has no transactions".to_string()))?;
    if root != block.header.merkle_root.to_raw_hash() {
        return Err(bad(format!(
            "merkle root {} does not match the header's {}",
            root, block.header.merkle_root
        )));
    }
    if !block.txs.first().is_some_and(|tx| block.is_coinbase(tx)) {
        return Err(bad("first transaction is not a coinbase".to_string()));
    }
    Ok(block)
}

/// What applying a block changed, for notifications.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// The hashXs whose history the block extended (sorted, each once).
    pub touched: Vec<HashX>,
    /// The outputs its inputs spent, in block order.
    pub spent: Vec<OutPoint>,
}

/// Applies the block at `height`, whose first transaction gets `first_tx_num`, to `cache`.
/// Nothing in the cache changes unless the whole block is applied. The `spenders` rows are
/// recorded only when the store has that column family (not for a previous-layout writer).
///
/// The genesis block (height 0) gets its tx number and rows but its outputs are not indexed
/// (its coinbase cannot be spent), as ElectrumX does.
pub(crate) fn apply_block(
    store: &Store,
    cache: &mut Cache,
    block: &RawBlock<'_>,
    height: u32,
    first_tx_num: TxNum,
    keep_undo_from: u32,
) -> Result<Applied, IndexError> {
    let txs = &block.txs;
    let end_tx_num = first_tx_num + txs.len() as u64;
    if end_tx_num >= TX_NUM_LIMIT {
        return Err(IndexError::TxNumOverflow);
    }
    // Outputs created in this block and not (yet) spent in it.
    let mut local: OutPointMap<CachedUtxo> = OutPointMap::default();
    let mut cache_spent: Vec<OutPoint> = Vec::new();
    let mut db_spent = Vec::new();
    let mut undo = Undo::default();
    let mut finder = store.utxo_finder()?;
    let mut hashxs: Vec<HashX> = Vec::new();
    let record = store.has_spenders();
    let mut spends: Vec<([u8; SPENDER_KEY_LEN], [u8; TX_NUM_LEN])> = Vec::new();
    let mut unspendable: Vec<[u8; SPENDER_KEY_LEN]> = Vec::new();
    let mut spent: Vec<OutPoint> = Vec::new();
    let indexed = if height == 0 { &[][..] } else { &txs[..] };
    for (i, (tx, txid)) in indexed.iter().zip(&block.txids).enumerate() {
        let tx_num = first_tx_num + i as u64;
        hashxs.clear();
        if !block.is_coinbase(tx) {
            for &op in block.inputs(tx) {
                spent.push(op);
                if let Some(u) = local.remove(&op) {
                    // Created and spent in this block: undoing the creation is enough (the
                    // spender row goes with the block's own key range).
                    if record {
                        spends.push((spender_key(u.tx_num, op.vout), tx_num_bytes(tx_num)));
                    }
                    hashxs.push(u.hashx);
                    continue;
                }
                let row = if let Some(u) = cache.adds.get(&op) {
                    cache_spent.push(op);
                    u.row(&op)
                } else {
                    let row = finder.find(&op, false)?.ok_or(IndexError::MissingUtxo {
                        height,
                        outpoint: op,
                    })?;
                    db_spent.push(row);
                    row
                };
                if record {
                    spends.push((spender_key(row.tx_num, op.vout), tx_num_bytes(tx_num)));
                }
                hashxs.push(row.hashx);
                undo.spent.push(row);
            }
        }
        for (vout, out) in block.outputs(tx).iter().enumerate() {
            if is_unspendable(out.script) {
                // Never spent, but it exists: an empty `spenders` row says so.
                if record {
                    unspendable.push(spender_key(tx_num, vout as u32));
                }
                continue;
            }
            let hashx = HashX::of_script(out.script);
            let op = OutPoint::new(*txid, vout as u32);
            if i == 0 {
                // BIP 30: a coinbase repeating an earlier coinbase's txid (mainnet blocks
                // 91842 and 91880) replaces its unspent outputs, as in Bitcoin Core; the
                // same database results whatever the flush schedule.
                let old = match cache.adds.get(&op) {
                    Some(u) => {
                        cache_spent.push(op);
                        Some(u.row(&op))
                    }
                    _ => finder.find(&op, true)?.inspect(|r| db_spent.push(*r)),
                };
                undo.spent.extend(old);
            }
            let u = CachedUtxo {
                tx_num,
                hashx,
                value: out.value,
            };
            undo.created.push(u.row(&op));
            local.insert(op, u);
            hashxs.push(hashx);
        }
        hashxs.sort_unstable();
        hashxs.dedup();
        undo.history
            .extend(hashxs.iter().map(|x| history_key(x, tx_num)));
    }
    drop(finder);

    // Commit: from here on nothing fails.
    for op in &cache_spent {
        cache.adds.remove(op);
    }
    cache.adds.extend(local);
    cache.db_spends.extend(db_spent);
    cache.extend_history(&undo.history);
    cache.txids.extend_from_slice(&block.txids);
    cache.headers.push(block.header);
    cache.counts.push(end_tx_num);
    cache.spends.extend_from_slice(&spends);
    cache.unspendable.extend_from_slice(&unspendable);
    let mut touched: Vec<HashX> = undo
        .history
        .iter()
        .filter_map(|k| read_history_key(k).ok().map(|(x, _)| x))
        .collect();
    touched.sort_unstable();
    touched.dedup();
    cache.push_undo(height, undo.encode(), keep_undo_from);
    Ok(Applied { touched, spent })
}
