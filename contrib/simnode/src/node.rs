//! The simulated node: block tree with an active chain, UTXO set with undo data, a
//! transaction index, the mempool, the truth tables and the generator that feeds them.
//!
//! Everything the JSON-RPC methods and the control API need goes through [`Node`]; it is
//! plain data behind one lock (see [`crate::SimNode`]).

use std::borrow::Cow;
use std::collections::HashMap;

use bitcoin::block::Header;
use bitcoin::consensus::{deserialize, serialize, Encodable};
use bitcoin::hashes::Hash;
use bitcoin::pow::Work;
use bitcoin::{Block, BlockHash, Network, OutPoint, Transaction, TxOut, Txid};

use crate::archive::{ArchiveIndex, DiskRef};
use crate::blockbuild::{assemble_block, subsidy, COINBASE_MATURITY};
use crate::gen::{GenParams, Generator};
use crate::mempool::{Mempool, MempoolEntry};
use crate::spenders::SpenderIndex;
use crate::truth::Truth;
use crate::version::CoreVersion;

/// An unspent (or, in undo data, a spent) output with its origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoinEntry {
    pub txout: TxOut,
    pub height: u32,
    pub coinbase: bool,
}

/// A block as the node stores it.
#[derive(Clone, Debug)]
pub struct StoredBlock {
    pub hash: BlockHash,
    pub header: Header,
    pub height: u32,
    /// Consensus serialization; empty for a block of a disk-backed chain (see `disk` and
    /// [`StoredBlock::bytes`], which serves both).
    pub raw: Vec<u8>,
    /// Where the block's bytes are in the chain file, for a block of a disk-backed chain
    /// ([`crate::archive`]); `None` when `raw` holds them.
    pub disk: Option<DiskRef>,
    /// Byte range of each transaction in `raw`.
    pub tx_ranges: Vec<(u32, u32)>,
    pub txids: Vec<Txid>,
    pub chainwork: Work,
    pub median_time: u32,
    /// Coins spent by the block, in input order (coinbase excluded): Core's undo data.
    pub undo: Vec<CoinEntry>,
    /// Fee of each transaction (0 for the coinbase).
    pub fees: Vec<u64>,
    /// Virtual size of each transaction.
    pub vsizes: Vec<u32>,
    /// Status reported by `getchaintips` when this block is a stale tip.
    pub stale_status: &'static str,
}

impl StoredBlock {
    /// The block's consensus bytes: `raw`, or read from the chain file for a block of a
    /// disk-backed chain.
    ///
    /// # Errors
    /// The chain file could not be read.
    pub fn bytes(&self) -> std::io::Result<Cow<'_, [u8]>> {
        match &self.disk {
            Some(d) => d.read().map(Cow::Owned),
            None => Ok(Cow::Borrowed(&self.raw)),
        }
    }

    /// Serialized size of the block.
    pub fn size(&self) -> usize {
        self.disk.as_ref().map_or(self.raw.len(), |d| d.len())
    }

    /// Parses the block.
    pub fn block(&self) -> Option<Block> {
        deserialize(&self.bytes().ok()?).ok()
    }

    /// Parses transaction `i`.
    pub fn tx(&self, i: usize) -> Option<Transaction> {
        let (start, len) = *self.tx_ranges.get(i)?;
        match &self.disk {
            Some(d) => deserialize(&d.read_range(start, len).ok()?).ok(),
            None => deserialize(self.raw.get(start as usize..(start + len) as usize)?).ok(),
        }
    }

    /// Serialized size of transaction `i`.
    pub fn tx_size(&self, i: usize) -> usize {
        self.tx_ranges.get(i).map_or(0, |r| r.1 as usize)
    }
}

/// Where a transaction was found.
#[derive(Clone, Debug)]
pub enum TxLocation {
    Mempool,
    /// In a block (active or stale), at position `index`.
    Block {
        hash: BlockHash,
        index: u32,
    },
}

/// Why a block could not be connected.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error("block does not extend the tip")]
    NotOnTip,
    #[error("bad merkle root")]
    BadMerkleRoot,
    #[error("high-hash (proof of work failed)")]
    HighHash,
    #[error("bad-txns-inputs-missingorspent in {0}")]
    MissingInputs(Txid),
    #[error("bad-txns-premature-spend-of-coinbase in {0}")]
    PrematureCoinbase(Txid),
    #[error("bad-txns-in-belowout in {0}")]
    ValueOut(Txid),
    #[error("bad-cb-amount")]
    CoinbaseAmount,
    #[error("empty block")]
    Empty,
}

/// The node.
pub struct Node {
    pub network: Network,
    /// Whether `getrawtransaction` may look up confirmed transactions without a block hash.
    pub txindex: bool,
    /// Which Bitcoin Core the node answers as (set by [`crate::SimNodeOptions::core_version`]).
    pub core: CoreVersion,
    /// Whether Core 31's `-txospenderindex` is on (`getindexinfo`, `gettxspendingprevout`);
    /// meaningless as Core 29, which has no such index.
    pub txospenderindex: bool,
    /// The spends of the active chain (kept whatever `txospenderindex` says: it is the
    /// stand-in's truth about confirmed spends).
    pub spenders: SpenderIndex,
    blocks: HashMap<BlockHash, StoredBlock>,
    active: Vec<BlockHash>,
    txindex_map: HashMap<Txid, (BlockHash, u32)>,
    /// The transaction index of a disk-backed chain's blocks (compact; empty otherwise).
    archive: ArchiveIndex,
    coins: HashMap<OutPoint, CoinEntry>,
    pub mempool: Mempool,
    pub truth: Truth,
    pub gen: Generator,
    /// Fixed `estimatesmartfee` answers (target, mode) → (feerate sat/kvB, blocks), e.g. from
    /// a recorded node; when empty, estimates come from recent blocks.
    pub fee_overrides: HashMap<(u16, String), Option<(u64, u16)>>,
    /// Clock for mempool entry times (seconds); `None` = system time.
    pub fixed_time: Option<u64>,
}

/// Work of a regtest-style header.
fn header_work(h: &Header) -> Work {
    h.work()
}

impl Node {
    /// A node holding only the regtest genesis block, with a generator for `params`.
    pub fn new(params: GenParams) -> Node {
        let genesis = bitcoin::blockdata::constants::genesis_block(Network::Regtest);
        let mut node = Node {
            network: Network::Regtest,
            txindex: true,
            core: CoreVersion::default(),
            txospenderindex: true,
            spenders: SpenderIndex::default(),
            blocks: HashMap::new(),
            active: Vec::new(),
            txindex_map: HashMap::new(),
            archive: ArchiveIndex::default(),
            coins: HashMap::new(),
            mempool: Mempool::default(),
            truth: Truth::new(),
            gen: Generator::new(params),
            fee_overrides: HashMap::new(),
            fixed_time: None,
        };
        let hash = genesis.block_hash();
        let stored = node.store(
            &genesis,
            0,
            Work::from_be_bytes([0; 32]),
            Vec::new(),
            vec![0],
            None,
        );
        node.blocks.insert(hash, stored);
        node.active.push(hash);
        node.truth.connect_block(0, &genesis);
        node
    }

    /// Generates the whole chain `params` describes.
    pub fn generate(params: GenParams) -> Node {
        let target = params.height;
        let min_txs = params.min_txs;
        let mut node = Node::new(params);
        let mut txs = 0u64;
        let mut last_log = std::time::Instant::now();
        while node.tip_height() < target || txs < min_txs {
            let h = node.tip_height() + 1;
            let n = if h > COINBASE_MATURITY {
                node.gen.block_tx_count()
            } else {
                0
            };
            match node.mine_block(n) {
                Ok(_) => {
                    txs += node.tip().map_or(0, |b| b.txids.len() as u64 - 1);
                    if last_log.elapsed() >= std::time::Duration::from_secs(30) {
                        last_log = std::time::Instant::now();
                        tracing::info!(height = h, transactions = txs, "generating");
                    }
                }
                Err(e) => {
                    tracing::error!(height = h, error = %e, "generated block rejected");
                    break;
                }
            }
        }
        node
    }

    /// Current time for mempool entries.
    pub fn now(&self) -> u64 {
        self.fixed_time.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        })
    }

    fn store(
        &self,
        block: &Block,
        height: u32,
        prev_work: Work,
        undo: Vec<CoinEntry>,
        fees: Vec<u64>,
        disk: Option<DiskRef>,
    ) -> StoredBlock {
        let raw = if disk.is_some() {
            Vec::new()
        } else {
            serialize(block)
        };
        let mut tx_ranges = Vec::with_capacity(block.txdata.len());
        let mut off = 80 + bitcoin::VarInt(block.txdata.len() as u64).size();
        for tx in &block.txdata {
            let len = tx.total_size();
            tx_ranges.push((off as u32, len as u32));
            off += len;
        }
        let hash = block.block_hash();
        let median_time = self.median_time_with(block.header.time, &block.header.prev_blockhash);
        StoredBlock {
            hash,
            header: block.header,
            height,
            raw,
            disk,
            tx_ranges,
            txids: block.txdata.iter().map(|t| t.compute_txid()).collect(),
            vsizes: block.txdata.iter().map(|t| t.vsize() as u32).collect(),
            chainwork: prev_work + header_work(&block.header),
            median_time,
            undo,
            fees,
            stale_status: "valid-fork",
        }
    }

    /// Median of the block's time and the ten before it.
    fn median_time_with(&self, time: u32, prev: &BlockHash) -> u32 {
        let mut times = vec![time];
        let mut cur = *prev;
        while times.len() < 11 {
            match self.blocks.get(&cur) {
                Some(b) => {
                    times.push(b.header.time);
                    cur = b.header.prev_blockhash;
                }
                None => break,
            }
        }
        times.sort_unstable();
        times[times.len() / 2]
    }

    /// Height of the active tip.
    pub fn tip_height(&self) -> u32 {
        (self.active.len() as u32).saturating_sub(1)
    }

    /// Hash of the active tip.
    pub fn tip_hash(&self) -> BlockHash {
        self.active
            .last()
            .copied()
            .unwrap_or_else(BlockHash::all_zeros)
    }

    /// The active tip's block.
    pub fn tip(&self) -> Option<&StoredBlock> {
        self.active.last().and_then(|h| self.blocks.get(h))
    }

    /// Active block hash at `height`.
    pub fn hash_at(&self, height: u32) -> Option<BlockHash> {
        self.active.get(height as usize).copied()
    }

    /// Any known block (active or stale).
    pub fn block(&self, hash: &BlockHash) -> Option<&StoredBlock> {
        self.blocks.get(hash)
    }

    /// Active block at `height`.
    pub fn block_at(&self, height: u32) -> Option<&StoredBlock> {
        self.hash_at(height).and_then(|h| self.blocks.get(&h))
    }

    /// Whether `hash` is on the active chain.
    pub fn is_active(&self, hash: &BlockHash) -> bool {
        self.blocks
            .get(hash)
            .is_some_and(|b| self.active.get(b.height as usize) == Some(hash))
    }

    /// `confirmations` as Core reports it: -1 for stale blocks.
    pub fn confirmations(&self, hash: &BlockHash) -> i64 {
        match self.blocks.get(hash) {
            Some(b) if self.is_active(hash) => i64::from(self.tip_height() - b.height) + 1,
            _ => -1,
        }
    }

    /// Hash of the active block after `hash`.
    pub fn next_hash(&self, hash: &BlockHash) -> Option<BlockHash> {
        let b = self.blocks.get(hash)?;
        if !self.is_active(hash) {
            return None;
        }
        self.hash_at(b.height + 1)
    }

    /// The unspent coin at `outpoint` in the active chain.
    pub fn coin(&self, outpoint: &OutPoint) -> Option<&CoinEntry> {
        self.coins.get(outpoint)
    }

    /// Takes the wallet's most valuable confirmed coin that the mempool does not spend.
    pub fn take_confirmed_wallet_coin(&mut self) -> Option<crate::gen::Coin> {
        let (coins, mempool) = (&self.coins, &self.mempool);
        self.gen
            .take_best_coin(|op| coins.contains_key(op) && mempool.spender(op).is_none())
    }

    /// Number of coins in the UTXO set.
    pub fn coin_count(&self) -> usize {
        self.coins.len()
    }

    /// All known blocks (active and stale).
    pub fn all_blocks(&self) -> impl Iterator<Item = &StoredBlock> {
        self.blocks.values()
    }

    /// Finds a transaction: mempool first, then the transaction index (active blocks win over
    /// stale ones; a transaction only in a stale block is still found, as Core's txindex does).
    pub fn find_tx(&self, txid: &Txid) -> Option<(Transaction, TxLocation)> {
        if let Some(e) = self.mempool.get(txid) {
            return Some((e.tx.clone(), TxLocation::Mempool));
        }
        let (hash, index) = self.tx_location(txid)?;
        let b = self.blocks.get(&hash)?;
        Some((b.tx(index as usize)?, TxLocation::Block { hash, index }))
    }

    /// Whether the txindex knows `txid` (confirmed or in a stale block).
    pub fn txindex_lookup(&self, txid: &Txid) -> Option<(BlockHash, u32)> {
        self.tx_location(txid)
    }

    /// The transaction index: blocks connected in memory first, then a disk-backed chain's
    /// compact index (a txid prefix, checked against the block's txids).
    fn tx_location(&self, txid: &Txid) -> Option<(BlockHash, u32)> {
        if let Some(l) = self.txindex_map.get(txid) {
            return Some(*l);
        }
        self.archive.find(txid, |hash, pos| {
            self.blocks
                .get(hash)
                .and_then(|b| b.txids.get(pos as usize))
                == Some(txid)
        })
    }

    /// Appends a block of a disk-backed chain (its bytes stay in the chain file at `disk`):
    /// it must extend the active tip. Nothing is validated (the file's checksum was), the
    /// UTXO set, the spender index and the truth do not learn it (see [`crate::archive`]).
    pub(crate) fn push_archived(
        &mut self,
        block: &Block,
        disk: DiskRef,
        fees: Vec<u64>,
    ) -> Result<BlockHash, BlockError> {
        if block.header.prev_blockhash != self.tip_hash() {
            return Err(BlockError::NotOnTip);
        }
        let height = self.tip_height() + 1;
        let prev_work = self
            .tip()
            .map_or(Work::from_be_bytes([0; 32]), |b| b.chainwork);
        let stored = self.store(block, height, prev_work, Vec::new(), fees, Some(disk));
        let hash = stored.hash;
        self.archive.add(height, hash, &stored.txids);
        self.blocks.insert(hash, stored);
        self.active.push(hash);
        self.truth.connect_untracked(height);
        Ok(hash)
    }

    /// Seals a disk-backed chain's transaction index once every block is pushed.
    pub(crate) fn seal_archive(&mut self) {
        self.archive.seal();
    }

    /// Whether the node serves a disk-backed chain ([`crate::archive`]): its blocks up to
    /// [`Node::archived_height`] have no UTXO set, spender index, truth or undo data here.
    pub fn is_archived(&self) -> bool {
        self.archived_height() > 0
    }

    /// Height of the last block of a disk-backed chain (0 for a chain held in memory).
    pub fn archived_height(&self) -> u32 {
        self.archive.height()
    }

    /// The output a transaction input spends, for verbose output: from the block's undo data
    /// when the spending tx is in block `in_block`, else from the UTXO set or the mempool.
    pub fn prevout_lookup(&self, outpoint: &OutPoint) -> Option<CoinEntry> {
        if let Some(c) = self.coins.get(outpoint) {
            return Some(c.clone());
        }
        if let Some(e) = self.mempool.get(&outpoint.txid) {
            let txout = e.tx.output.get(outpoint.vout as usize)?.clone();
            return Some(CoinEntry {
                txout,
                height: 0x7fff_ffff,
                coinbase: false,
            });
        }
        // Spent: find the creating transaction.
        let (hash, index) = self.tx_location(&outpoint.txid)?;
        let b = self.blocks.get(&hash)?;
        let tx = b.tx(index as usize)?;
        Some(CoinEntry {
            txout: tx.output.get(outpoint.vout as usize)?.clone(),
            height: b.height,
            coinbase: tx.is_coinbase(),
        })
    }

    /// Connects `block` on top of the active tip, validating links, merkle root, proof of
    /// work, input existence, coinbase maturity and values. Mempool transactions it confirms
    /// or conflicts with are removed.
    pub fn connect_block(&mut self, block: Block) -> Result<BlockHash, BlockError> {
        if block.header.prev_blockhash != self.tip_hash() {
            return Err(BlockError::NotOnTip);
        }
        if block.txdata.is_empty() {
            return Err(BlockError::Empty);
        }
        if !block.check_merkle_root() {
            return Err(BlockError::BadMerkleRoot);
        }
        if block.header.validate_pow(block.header.target()).is_err() {
            return Err(BlockError::HighHash);
        }
        let height = self.tip_height() + 1;
        // Validate and compute the coin changes without touching state.
        let BlockSpends {
            undo,
            fees,
            mut created,
            spent,
        } = resolve_spends(&block, height, |op| self.coins.get(op).cloned())?;
        let total_fees: u64 = fees.iter().sum();
        let cb_out: u64 = block.txdata[0]
            .output
            .iter()
            .map(|o| o.value.to_sat())
            .sum();
        if cb_out > subsidy(height) + total_fees {
            return Err(BlockError::CoinbaseAmount);
        }
        // Apply.
        for op in &spent {
            if self.coins.remove(op).is_none() {
                created.remove(op);
            }
        }
        self.coins.extend(created);
        let prev_work = self
            .tip()
            .map_or(Work::from_be_bytes([0; 32]), |b| b.chainwork);
        let stored = self.store(&block, height, prev_work, undo, fees, None);
        let hash = stored.hash;
        for (i, txid) in stored.txids.iter().enumerate() {
            self.txindex_map.insert(*txid, (hash, i as u32));
        }
        self.blocks.insert(hash, stored);
        self.active.push(hash);
        self.spenders.connect(height, &block);
        self.truth.connect_block(height, &block);
        // Mempool: drop confirmed transactions and conflicts (with descendants).
        for tx in block.txdata.iter().skip(1) {
            let txid = tx.compute_txid();
            if self.mempool.contains(&txid) {
                self.mempool.remove_one(&txid);
            }
            for input in &tx.input {
                if let Some(conflict) = self.mempool.spender(&input.previous_output) {
                    self.mempool.remove_with_descendants(&conflict);
                }
            }
        }
        self.gen.on_block(height, &block.txdata[0]);
        Ok(hash)
    }

    /// Disconnects the active tip (it stays known as a stale block) and returns it.
    pub fn disconnect_tip(&mut self) -> Option<Block> {
        if self.active.len() <= 1 {
            return None;
        }
        let hash = self.active.pop()?;
        let stored = self.blocks.get(&hash)?;
        let block = stored.block()?;
        let undo = stored.undo.clone();
        // Undo transaction by transaction, last first (as Core's DisconnectBlock), so an
        // output created and spent inside the block is not resurrected.
        let mut end = undo.len();
        for tx in block.txdata.iter().rev() {
            let txid = tx.compute_txid();
            for vout in 0..tx.output.len() as u32 {
                self.coins.remove(&OutPoint::new(txid, vout));
            }
            if tx.is_coinbase() {
                continue;
            }
            let start = end.saturating_sub(tx.input.len());
            for (input, coin) in tx.input.iter().zip(&undo[start..end]) {
                self.coins.insert(input.previous_output, coin.clone());
            }
            end = start;
        }
        self.spenders.disconnect(&block);
        self.truth.disconnect_tip();
        Some(block)
    }

    /// Mines one block: the mempool in mining order (fee rate, parents first) as far as the
    /// weight limit allows, then `extra` freshly generated transactions when the whole mempool
    /// fitted. Returns the new block's hash.
    pub fn mine_block(&mut self, extra: u32) -> Result<BlockHash, BlockError> {
        self.wallet_ready();
        let mut txs = Vec::new();
        let mut fees = 0u64;
        let mut weight = 4_000u64;
        let order = self.mempool.mining_order();
        let mut taken = std::collections::HashSet::new();
        for txid in &order {
            let Some(e) = self.mempool.get(txid) else {
                continue;
            };
            if weight + e.weight > 3_990_000 {
                continue;
            }
            if !self.mempool.parents(txid).iter().all(|p| taken.contains(p)) {
                continue;
            }
            taken.insert(*txid);
            weight += e.weight;
            fees += e.fee;
            txs.push(e.tx.clone());
        }
        let extra = if taken.len() == order.len() { extra } else { 0 };
        self.build_and_connect(txs, fees, weight, extra)
    }

    /// Assembles a block from `txs` (paying `fees`, weighing `weight`) plus up to `extra`
    /// generated transactions, and connects it.
    pub fn build_and_connect(
        &mut self,
        mut txs: Vec<Transaction>,
        mut fees: u64,
        mut weight: u64,
        extra: u32,
    ) -> Result<BlockHash, BlockError> {
        let height = self.tip_height() + 1;
        let prev = self.tip_hash();
        let prev_time = self.tip().map_or(1_700_000_000, |b| b.header.time);
        let time = if height == 1 {
            self.gen.params.start_time
        } else {
            self.gen.next_time(prev_time)
        };
        let mut failures = 0;
        for _ in 0..extra {
            if weight > 3_600_000 || failures > 20 {
                break;
            }
            match self.gen.make_tx(height.saturating_sub(1)) {
                Some((tx, fee)) => {
                    weight += tx.weight().to_wu();
                    fees += fee;
                    txs.push(tx);
                }
                None => failures += 1,
            }
        }
        let (pay_to, _) = self.gen.coinbase_payee();
        let tag = self.gen.next_tag();
        let version = if height % 2 == 0 {
            0x2000_0000
        } else {
            0x3000_0000
        };
        let block = assemble_block(prev, height, time, version, txs, fees, pay_to, tag);
        self.connect_block(block)
    }

    /// Mines `n` blocks from the mempool (no extra generated transactions).
    pub fn mine(&mut self, n: u32) -> Result<Vec<BlockHash>, BlockError> {
        (0..n).map(|_| self.mine_block(0)).collect()
    }

    /// Adds a block that is not on the active chain (e.g. a recorded stale block); its
    /// transactions are indexed unless the index already knows them.
    pub fn add_stale_block(&mut self, block: &Block, status: &'static str) -> Option<BlockHash> {
        let parent = self.blocks.get(&block.header.prev_blockhash)?;
        let height = parent.height + 1;
        let prev_work = parent.chainwork;
        // Undo data as Core kept it when it connected the block: each spent output, found
        // earlier in the block or through the creating transaction.
        let (undo, fees) = match resolve_spends(block, height, |op| self.prevout_lookup(op)) {
            Ok(s) => (s.undo, s.fees),
            Err(_) => (Vec::new(), vec![0; block.txdata.len()]),
        };
        let mut stored = self.store(block, height, prev_work, undo, fees, None);
        stored.stale_status = status;
        let hash = stored.hash;
        for (i, txid) in stored.txids.iter().enumerate() {
            if self.tx_location(txid).is_none() {
                self.txindex_map.insert(*txid, (hash, i as u32));
            }
        }
        self.blocks.insert(hash, stored);
        Some(hash)
    }

    /// A new signed transaction from the generator's wallet (not submitted), with its fee.
    pub fn make_tx(&mut self) -> Option<(Transaction, u64)> {
        self.wallet_ready();
        let h = self.tip_height();
        self.gen.make_tx(h)
    }

    /// Derives a loaded chain's wallet on first need (and rebuilds its coin pool).
    pub fn wallet_ready(&mut self) {
        if self.gen.has_pending() {
            self.gen.derive_pending();
            self.resync_wallet();
        }
    }

    /// Rebuilds the generator's coin pool from the UTXO set and the mempool (after a reorg,
    /// an eviction or loading a chain): confirmed mature coins and mempool outputs that
    /// nothing in the mempool spends, in a deterministic order.
    pub fn resync_wallet(&mut self) {
        if self.gen.has_pending() {
            self.gen.derive_pending();
        }
        let tip = self.tip_height();
        let mut coins: Vec<(u32, OutPoint, TxOut, bool)> = self
            .coins
            .iter()
            .filter(|(op, c)| {
                self.gen.owner_of(&c.txout.script_pubkey).is_some()
                    && self.mempool.spender(op).is_none()
            })
            .map(|(op, c)| (c.height, *op, c.txout.clone(), c.coinbase))
            .collect();
        for e in self.mempool.entries() {
            for (vout, out) in e.tx.output.iter().enumerate() {
                let op = OutPoint::new(e.txid, vout as u32);
                if self.gen.owner_of(&out.script_pubkey).is_some()
                    && self.mempool.spender(&op).is_none()
                {
                    coins.push((u32::MAX, op, out.clone(), false));
                }
            }
        }
        coins.sort_by_key(|a| (a.0, a.1));
        let mut mature = Vec::new();
        let mut immature = Vec::new();
        for (h, op, out, cb) in coins {
            if cb && h + COINBASE_MATURITY > tip + 1 {
                immature.push((h + COINBASE_MATURITY, op, out));
            } else {
                mature.push((op, out));
            }
        }
        self.gen.resync(mature, immature);
    }

    /// Fee rates (sat/kvB) of the non-coinbase transactions of the last `n` active blocks.
    pub fn recent_feerates(&self, n: u32) -> Vec<u64> {
        let mut out = Vec::new();
        let tip = self.tip_height();
        for h in tip.saturating_sub(n.saturating_sub(1))..=tip {
            let Some(b) = self.block_at(h) else { continue };
            for (fee, vsize) in b.fees.iter().zip(&b.vsizes).skip(1) {
                if let Some(rate) = (fee * 1000).checked_div(u64::from(*vsize)) {
                    out.push(rate);
                }
            }
        }
        out
    }

    /// Inserts a validated transaction into the mempool.
    pub fn insert_mempool(&mut self, tx: Transaction, fee: u64, unbroadcast: bool) {
        let txid = tx.compute_txid();
        let entry = MempoolEntry {
            wtxid: tx.compute_wtxid(),
            vsize: tx.vsize() as u64,
            weight: tx.weight().to_wu(),
            fee,
            time: self.now(),
            height: self.tip_height(),
            unbroadcast,
            seq: 0,
            txid,
            tx,
        };
        self.mempool.insert(entry);
    }

    /// Serialized size of a transaction (helper for RPC shapes).
    pub fn tx_total_size(tx: &Transaction) -> usize {
        let mut v = Vec::new();
        let _ = tx.consensus_encode(&mut v);
        v.len()
    }
}

/// What a block spends and creates, resolved input by input.
struct BlockSpends {
    /// Spent coins in input order (coinbase excluded): Core's undo data.
    undo: Vec<CoinEntry>,
    /// Fee of each transaction (0 for the coinbase).
    fees: Vec<u64>,
    /// Spendable outputs the block creates (spent ones included).
    created: HashMap<OutPoint, CoinEntry>,
    /// Outpoints the block spends, in input order.
    spent: Vec<OutPoint>,
}

/// Resolves every input of `block` at `height`: outputs created earlier in the block first,
/// then `lookup`. Checks that each output is spent once, exists, is mature, and that no
/// transaction creates value.
fn resolve_spends(
    block: &Block,
    height: u32,
    lookup: impl Fn(&OutPoint) -> Option<CoinEntry>,
) -> Result<BlockSpends, BlockError> {
    let mut out = BlockSpends {
        undo: Vec::new(),
        fees: vec![0],
        created: HashMap::new(),
        spent: Vec::new(),
    };
    let mut spent_set = std::collections::HashSet::new();
    for (i, tx) in block.txdata.iter().enumerate() {
        let txid = tx.compute_txid();
        if i > 0 {
            let mut value_in = 0u64;
            for input in &tx.input {
                let op = input.previous_output;
                if !spent_set.insert(op) {
                    return Err(BlockError::MissingInputs(txid));
                }
                let coin = out
                    .created
                    .get(&op)
                    .cloned()
                    .or_else(|| lookup(&op))
                    .ok_or(BlockError::MissingInputs(txid))?;
                if coin.coinbase && height - coin.height < COINBASE_MATURITY {
                    return Err(BlockError::PrematureCoinbase(txid));
                }
                value_in += coin.txout.value.to_sat();
                out.undo.push(coin);
                out.spent.push(op);
            }
            let value_out: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
            if value_in < value_out {
                return Err(BlockError::ValueOut(txid));
            }
            out.fees.push(value_in - value_out);
        }
        for (vout, o) in tx.output.iter().enumerate() {
            if !crate::truth::is_unspendable(&o.script_pubkey) {
                out.created.insert(
                    OutPoint::new(txid, vout as u32),
                    CoinEntry {
                        txout: o.clone(),
                        height,
                        coinbase: i == 0,
                    },
                );
            }
        }
    }
    Ok(out)
}
