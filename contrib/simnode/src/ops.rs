//! Control operations for tests and demos: mempool traffic, RBF replacements, evictions and
//! reorganisations onto a different branch.

use std::collections::{HashMap, HashSet};

use bitcoin::absolute::LockTime;
use bitcoin::{BlockHash, OutPoint, Transaction, TxOut, Txid};

use crate::accept::feerate;
use crate::node::{Node, TxLocation};

/// Why a control operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("transaction {0} is not in the mempool")]
    NotInMempool(Txid),
    #[error("transaction {0} spends outputs the generator's wallet cannot sign for")]
    NotOurs(Txid),
    #[error("reorg depth {depth} must be between 1 and the tip height {tip} minus 1")]
    BadDepth { depth: u32, tip: u32 },
    #[error("could not build a replacement: {0}")]
    Replacement(String),
    #[error("block rejected: {0}")]
    Block(#[from] crate::node::BlockError),
}

impl Node {
    /// Adds `n` generated transactions to the mempool (spending confirmed coins and, so
    /// forming chains, unconfirmed ones). Returns the accepted txids.
    pub fn add_traffic(&mut self, n: u32) -> Vec<Txid> {
        self.wallet_ready();
        let mut out = Vec::new();
        let height = self.tip_height();
        for _ in 0..n {
            // Now and then a wallet bumps the fee of one of its unconfirmed payments.
            if !self.mempool.is_empty() && self.gen.chance(0.05) {
                let txids = self.mempool.sorted_txids();
                let pick = txids[self.gen.rand_below(txids.len())];
                if let Ok(new) = self.rbf_replace(&pick) {
                    out.retain(|t| self.mempool.contains(t));
                    out.push(new);
                    continue;
                }
            }
            let Some((tx, _fee)) = self.gen.make_tx(height) else {
                break;
            };
            match self.accept_tx(&tx, 0, false) {
                Ok(a) => out.push(a.txid),
                Err(_) => self.resync_wallet(),
            }
        }
        out
    }

    /// Replaces mempool transaction `txid` by one spending the same coins at a higher fee
    /// rate (BIP 125 / full RBF). Returns the replacement's txid.
    pub fn rbf_replace(&mut self, txid: &Txid) -> Result<Txid, OpError> {
        self.wallet_ready();
        let entry = self
            .mempool
            .get(txid)
            .cloned()
            .ok_or(OpError::NotInMempool(*txid))?;
        let mut coins = Vec::new();
        for input in &entry.tx.input {
            let op = input.previous_output;
            let out = self.spendable_output(&op).ok_or(OpError::NotOurs(*txid))?;
            coins.push(self.gen.coin_for(op, out).ok_or(OpError::NotOurs(*txid))?);
        }
        let replaced_fees: u64 = self
            .mempool
            .descendants(txid)
            .iter()
            .filter_map(|t| self.mempool.get(t))
            .map(|e| e.fee)
            .sum::<u64>()
            + entry.fee;
        let mut rate = (feerate(entry.fee, entry.vsize) / 1000 + 2).max(2);
        let tip = self.tip_height();
        let mut last_err = String::from("the replacement's fee stayed too low");
        for _ in 0..12 {
            let Some((tx, fee)) = self.gen.build_spend(coins.clone(), tip, Some(rate)) else {
                // `build_spend` put the coins back in the wallet's pool although the mempool
                // still spends them (and earlier attempts added outputs of transactions that
                // were never accepted): rebuild the pool from the UTXO set and the mempool,
                // then add a confirmed coin (BIP 125 allows new confirmed inputs).
                self.resync_wallet();
                match self.take_confirmed_wallet_coin() {
                    Some(c) => {
                        coins.push(c);
                        continue;
                    }
                    None => {
                        self.resync_wallet();
                        return Err(OpError::Replacement("wallet could not pay the fee".into()));
                    }
                }
            };
            let vsize = tx.vsize() as u64;
            if fee > replaced_fees + vsize {
                match self.accept_tx(&tx, 0, false) {
                    Ok(a) => {
                        self.resync_wallet();
                        return Ok(a.txid);
                    }
                    Err(r) => last_err = r.message(),
                }
            }
            // Doubling alone may never catch up when the descendants paid much more than the
            // transaction itself: jump to the rate that pays for everything replaced (the next
            // attempt's size differs a little, hence the margin).
            let needed = (replaced_fees + vsize).div_ceil(vsize.max(1)) + 2;
            rate = (rate * 2).max(needed);
        }
        self.resync_wallet();
        Err(OpError::Replacement(last_err))
    }

    /// The output `op` points to, if it is unspent in the chain or a mempool output.
    fn spendable_output(&self, op: &OutPoint) -> Option<TxOut> {
        if let Some(c) = self.coin(op) {
            return Some(c.txout.clone());
        }
        self.mempool
            .get(&op.txid)
            .and_then(|e| e.tx.output.get(op.vout as usize).cloned())
    }

    /// Evicts `txid` and its descendants from the mempool; returns what was removed.
    pub fn evict(&mut self, txid: &Txid) -> Result<Vec<Txid>, OpError> {
        if !self.mempool.contains(txid) {
            return Err(OpError::NotInMempool(*txid));
        }
        let removed = self
            .mempool
            .remove_with_descendants(txid)
            .into_iter()
            .map(|e| e.txid)
            .collect();
        self.resync_wallet();
        Ok(removed)
    }

    /// Replaces the last `depth` blocks by `new_blocks` different ones: some of the old
    /// transactions move to other blocks, some are left out (back to the mempool), some are
    /// double-spent by new transactions, and fresh generated transactions fill the blocks.
    /// Transactions of the old branch that are still valid, and the old mempool, are
    /// resubmitted to the mempool afterwards. Returns the new branch's hashes.
    pub fn reorg(&mut self, depth: u32, new_blocks: u32) -> Result<Vec<BlockHash>, OpError> {
        self.wallet_ready();
        let tip = self.tip_height();
        if depth == 0 || depth >= tip {
            return Err(OpError::BadDepth { depth, tip });
        }
        let new_blocks = new_blocks.max(1);
        // Old branch out, old mempool aside.
        let mut old_blocks = Vec::new();
        for _ in 0..depth {
            if let Some(b) = self.disconnect_tip() {
                old_blocks.push(b);
            }
        }
        old_blocks.reverse();
        let old_txs: Vec<Transaction> = old_blocks
            .iter()
            .flat_map(|b| b.txdata.iter().skip(1).cloned())
            .collect();
        let old_mempool: Vec<Transaction> = self
            .mempool
            .mining_order()
            .iter()
            .filter_map(|t| self.mempool.get(t).map(|e| e.tx.clone()))
            .collect();
        self.mempool = Default::default();
        self.resync_wallet();

        // Decide the fate of each old transaction.
        let mut double_spends = Vec::new();
        let mut plan: Vec<(usize, Transaction)> = Vec::new(); // (new block index, tx)
        let mut leftover: Vec<Transaction> = Vec::new();
        let mut cursor = 0usize;
        for tx in old_txs {
            let r = self.gen.rand_below(100);
            if r < 12 {
                // Double spend it, if the wallet owns all of its inputs at the fork.
                let ops: Vec<OutPoint> = tx.input.iter().map(|i| i.previous_output).collect();
                if let Some(coins) = self.gen.take_coins(&ops) {
                    let tip = self.tip_height();
                    if let Some((ds, _)) = self.gen.build_spend(coins, tip, None) {
                        double_spends.push(ds);
                        continue;
                    }
                }
                leftover.push(tx);
            } else if r < 25 {
                leftover.push(tx);
            } else {
                if self.gen.chance(0.3) {
                    cursor += 1;
                }
                plan.push((cursor.min(new_blocks as usize - 1), tx));
            }
        }
        let extra = self.gen.params.txs_per_block / 4;
        let mut hashes = Vec::new();
        for i in 0..new_blocks as usize {
            let mut candidates: Vec<Transaction> = Vec::new();
            if i == 0 {
                candidates.append(&mut double_spends);
            }
            candidates.extend(plan.iter().filter(|(b, _)| *b == i).map(|(_, t)| t.clone()));
            let height = self.tip_height() + 1;
            let (txs, fees, weight) = self.select_valid(candidates, height, &mut leftover);
            for tx in &txs {
                for input in &tx.input {
                    self.gen.forget_coin(&input.previous_output);
                }
            }
            let h = self.build_and_connect(txs, fees, weight, extra)?;
            hashes.push(h);
            self.resync_wallet();
        }
        // Survivors back to the mempool; conflicts are dropped. `leftover` is not in
        // topological order (transactions `select_valid` rejected come after their children
        // left out earlier), so retry until a pass accepts nothing more.
        let mut pending: Vec<Transaction> = leftover.into_iter().chain(old_mempool).collect();
        loop {
            let before = pending.len();
            pending.retain(|tx| self.accept_tx(tx, 0, false).is_err());
            if pending.len() == before || pending.is_empty() {
                break;
            }
        }
        self.resync_wallet();
        Ok(hashes)
    }

    /// Keeps the candidates that are final at `height` and whose inputs are available in
    /// order (UTXO set or earlier in the same block, each spent once); the rest go to
    /// `rejected`. Returns (txs, fees, weight).
    fn select_valid(
        &self,
        candidates: Vec<Transaction>,
        height: u32,
        rejected: &mut Vec<Transaction>,
    ) -> (Vec<Transaction>, u64, u64) {
        let mut created: HashMap<OutPoint, u64> = HashMap::new();
        let mut spent: HashSet<OutPoint> = HashSet::new();
        let mut out = Vec::new();
        let mut fees = 0u64;
        let mut weight = 4_000u64;
        for tx in candidates {
            let mut value_in = 0u64;
            // A transaction moved to a lower height than its old block may not be final there
            // (the generator locks many to the height they were made at).
            let mut ok = is_final(&tx, height);
            for input in &tx.input {
                let op = input.previous_output;
                let v = created
                    .get(&op)
                    .copied()
                    .or_else(|| self.coin(&op).map(|c| c.txout.value.to_sat()));
                match v {
                    Some(v) if ok && !spent.contains(&op) => value_in += v,
                    _ => {
                        ok = false;
                        break;
                    }
                }
                if let Some(c) = self.coin(&op) {
                    if c.coinbase && height - c.height < crate::blockbuild::COINBASE_MATURITY {
                        ok = false;
                        break;
                    }
                }
            }
            let value_out: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
            if !ok || value_in < value_out {
                rejected.push(tx);
                continue;
            }
            for input in &tx.input {
                spent.insert(input.previous_output);
            }
            let txid = tx.compute_txid();
            for (vout, o) in tx.output.iter().enumerate() {
                created.insert(OutPoint::new(txid, vout as u32), o.value.to_sat());
            }
            fees += value_in - value_out;
            weight += tx.weight().to_wu();
            out.push(tx);
        }
        (out, fees, weight)
    }

    /// Where `txid` is: mempool, active block or stale block.
    pub fn locate(&self, txid: &Txid) -> Option<TxLocation> {
        self.find_tx(txid).map(|(_, l)| l)
    }
}

/// Whether `tx` may be included in a block at `height` (Core's `IsFinalTx` for height locks;
/// the generator makes no time locks and the stand-in's clock is past any of them).
fn is_final(tx: &Transaction, height: u32) -> bool {
    match tx.lock_time {
        LockTime::Blocks(h) if tx.is_lock_time_enabled() => h.to_consensus_u32() < height,
        _ => true,
    }
}
