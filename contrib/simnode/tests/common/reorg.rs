//! Checks one reorganisation: chain RPCs after it, and where every transaction of the old
//! branch and the old mempool ended up, all against the node's own blocks.

use std::collections::HashMap;

use bitcoincore_rpc::bitcoin::absolute::LockTime;
use bitcoincore_rpc::bitcoin::{BlockHash, OutPoint, Transaction, Txid};
use bitcoincore_rpc::json::GetChainTipsResultStatus;
use bitcoincore_rpc::{Client, RpcApi};
use ferrumx_simnode::node::TxLocation;
use ferrumx_simnode::SimNode;
use serde_json::json;

use super::{ids, pool_view, rpc_error};

/// What several reorganisations did to the old branches' transactions.
#[derive(Default, Debug)]
pub struct ReorgTally {
    /// Transactions of the old branch confirmed again at another height.
    pub moved: usize,
    /// Transactions of the old branch back in the mempool.
    pub back_in_mempool: usize,
    /// Transactions of the old branch whose coins the new branch spends otherwise.
    pub double_spent: usize,
}

/// Where a transaction of the old branch or the old mempool ended up.
enum Fate {
    Confirmed(BlockHash, u32),
    Mempool,
    Gone,
}

/// Adds traffic, replaces the last `depth` blocks by `depth + 1` new ones (through
/// `simnode_reorg` when `via_rpc`, else [`ferrumx_simnode::Node::reorg`]) and checks the
/// result; counts moved, re-pooled and double-spent transactions into `tally`.
pub fn check_reorg(sim: &SimNode, c: &Client, depth: u32, via_rpc: bool, tally: &mut ReorgTally) {
    sim.with_node(|n| n.add_traffic(15));
    let (old_tip, old_hashes, old_txs, old_pool) = sim.with_node(|n| {
        let tip = n.tip_height();
        let hashes: Vec<BlockHash> = (0..=tip).map(|h| n.hash_at(h).expect("hash")).collect();
        let txs: Vec<(Transaction, u32)> = (tip - depth + 1..=tip)
            .flat_map(|h| {
                let b = n.block_at(h).and_then(|b| b.block()).expect("block");
                b.txdata.into_iter().skip(1).map(move |t| (t, h))
            })
            .collect();
        let pool: Vec<Transaction> = n.mempool.entries().map(|e| e.tx.clone()).collect();
        (tip, hashes, txs, pool)
    });
    let new_blocks = depth + 1;
    let returned: Vec<BlockHash> = if via_rpc {
        c.call("simnode_reorg", &[json!(depth), json!(new_blocks)])
            .unwrap()
    } else {
        sim.with_node(|n| n.reorg(depth, new_blocks))
            .expect("reorg")
    };
    let fork = old_tip - depth;
    let new_tip = fork + new_blocks;
    assert_eq!(returned.len() as u32, new_blocks);
    assert_eq!(c.get_block_count().unwrap(), u64::from(new_tip));
    assert_eq!(
        c.get_best_block_hash().unwrap(),
        returned[new_blocks as usize - 1]
    );
    for (i, h) in returned.iter().enumerate() {
        assert_eq!(
            c.get_block_hash(u64::from(fork) + 1 + i as u64).unwrap(),
            *h
        );
    }
    assert_eq!(
        c.get_block_hash(u64::from(fork)).unwrap(),
        old_hashes[fork as usize]
    );
    for stale in &old_hashes[fork as usize + 1..] {
        assert_eq!(c.get_block_header_info(stale).unwrap().confirmations, -1);
        assert_eq!(c.get_block_info(stale).unwrap().confirmations, -1);
    }
    let old_tip_hash = old_hashes[old_tip as usize];
    let tips = c.get_chain_tips().unwrap();
    let active: Vec<_> = tips
        .iter()
        .filter(|t| t.status == GetChainTipsResultStatus::Active)
        .collect();
    assert_eq!(active.len(), 1);
    assert_eq!(
        (active[0].hash, active[0].height),
        (returned[new_blocks as usize - 1], u64::from(new_tip))
    );
    let fork_tip = tips
        .iter()
        .find(|t| t.hash == old_tip_hash)
        .expect("old tip listed");
    assert_eq!(fork_tip.status, GetChainTipsResultStatus::ValidFork);
    assert_eq!(
        (fork_tip.height, fork_tip.branch_length),
        (u64::from(old_tip), depth as usize)
    );

    // The node's new branch and mempool, and the fate of every old transaction.
    let (fates, pool, ds) = sim.with_node(|n| {
        let mut spent_by: HashMap<OutPoint, Txid> = HashMap::new();
        let mut at: HashMap<Txid, (BlockHash, u32)> = HashMap::new();
        for h in fork + 1..=n.tip_height() {
            let b = n.block_at(h).and_then(|b| b.block()).expect("block");
            assert_eq!(b.header.prev_blockhash, n.hash_at(h - 1).expect("parent"));
            for tx in &b.txdata {
                let txid = tx.compute_txid();
                at.insert(txid, (b.block_hash(), h));
                if let (true, LockTime::Blocks(l)) = (tx.is_lock_time_enabled(), tx.lock_time) {
                    assert!(
                        l.to_consensus_u32() < h,
                        "{txid} is not final at height {h}"
                    );
                }
                for i in tx.input.iter().filter(|_| !tx.is_coinbase()) {
                    spent_by.insert(i.previous_output, txid);
                }
            }
        }
        let pool = pool_view(n);
        let pool_spends: HashMap<OutPoint, Txid> = pool
            .iter()
            .flat_map(|(t, p)| p.tx.input.iter().map(move |i| (i.previous_output, *t)))
            .collect();
        let alive = |t: &Txid| match n.find_tx(t) {
            Some((_, TxLocation::Mempool)) => true,
            Some((_, TxLocation::Block { hash, .. })) => n.is_active(&hash),
            None => false,
        };
        let mut ds = 0;
        let mut fates = Vec::new();
        let old = old_txs.iter().map(|(t, h)| (t, Some(*h)));
        for (tx, old_h) in old.chain(old_pool.iter().map(|t| (t, None))) {
            let txid = tx.compute_txid();
            let fate = if let Some((hash, h)) = at.get(&txid) {
                Fate::Confirmed(*hash, *h)
            } else if pool.contains_key(&txid) {
                Fate::Mempool
            } else {
                let confirmed_conflict = tx
                    .input
                    .iter()
                    .any(|i| spent_by.get(&i.previous_output).is_some_and(|s| *s != txid));
                let pool_conflict = tx
                    .input
                    .iter()
                    .any(|i| pool_spends.contains_key(&i.previous_output));
                let orphaned = tx.input.iter().any(|i| !alive(&i.previous_output.txid));
                assert!(
                    confirmed_conflict || pool_conflict || orphaned,
                    "{txid} was dropped although it is still valid"
                );
                ds += usize::from(confirmed_conflict && old_h.is_some());
                Fate::Gone
            };
            fates.push((tx.clone(), old_h, fate));
        }
        (fates, ids(pool.keys().copied()), ds)
    });
    assert_eq!(ids(c.get_raw_mempool().unwrap()), pool);
    tally.double_spent += ds;

    for (tx, old_h, fate) in &fates {
        let txid = tx.compute_txid();
        let was_confirmed = old_h.is_some();
        match fate {
            Fate::Confirmed(hash, h) => {
                let info = c.get_raw_transaction_info(&txid, None).unwrap();
                assert_eq!(info.blockhash, Some(*hash));
                assert_eq!(info.confirmations, Some(new_tip - h + 1));
                tally.moved += usize::from(old_h.is_some_and(|o| o != *h));
            }
            Fate::Mempool => {
                let info = c.get_raw_transaction_info(&txid, None).unwrap();
                assert_eq!((info.blockhash, info.confirmations), (None, None));
                tally.back_in_mempool += usize::from(was_confirmed);
            }
            // A transaction once confirmed (maybe in an earlier reorg's stale branch) is still
            // found through the txindex, in a stale block; one never confirmed is not found.
            Fate::Gone => match c.get_raw_transaction_info(&txid, None) {
                Ok(info) => {
                    let stale = info.blockhash.expect("in a block");
                    assert_eq!(c.get_block_header_info(&stale).unwrap().confirmations, -1);
                    assert_eq!(info.confirmations, Some(0));
                }
                Err(e) => {
                    assert!(!was_confirmed, "{txid} lost from the txindex: {e:?}");
                    assert_eq!(rpc_error(&e).map(|e| e.0), Some(-5));
                }
            },
        }
    }
}
