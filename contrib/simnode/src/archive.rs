//! Big chains from disk: generated straight into a chain file in bounded memory, and served
//! from it.
//!
//! [`generate`] makes the same chain as [`Node::generate`] for the same parameters (the same
//! generator, drawing in the same order), but writes each block to the chain file as soon as
//! it is made and keeps nothing of it: no block bytes, UTXO set, undo data, transaction
//! index, spender index or truth. What it holds grows only with the generator's wallet (one
//! compact record per address, one coin per spendable output of the wallet).
//!
//! [`open`] serves such a file (any chain file) without loading it: one pass checks the
//! checksum and builds, per block, its header, transaction ids, sizes, fees and the place of
//! its bytes in the file ([`DiskRef`]), and a compact transaction index (an 8-byte txid
//! prefix, the height and the position: 16 bytes a transaction, [`ArchiveIndex`]). Block
//! bytes are read from the file when asked for (`pread`; the page cache keeps hot blocks).
//!
//! What a node opened this way does not have for the blocks of the file (the truth that
//! only tests need): the UTXO set (`gettxout` answers null, and new blocks cannot spend the
//! file's outputs), the spender index (Core 31's `gettxspendingprevout` sees no confirmed
//! spend of them), the truth tables (history, UTXOs and balances cover only blocks connected
//! after opening), undo data (`getblock` verbosity 3 gives no prevouts for them, and a
//! reorg below the file's tip restores no coins), the wallet (its addresses are not derived:
//! the generator starts over from its hot addresses) and the mempool stored in the file.
//! Tests use [`crate::chainfile::load`], which has everything; benches syncing big chains
//! use [`open`].

use std::fs::File;
use std::io::{self, BufReader};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use bitcoin::blockdata::constants::genesis_block;
use bitcoin::consensus::serialize;
use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, Network, Txid};

use crate::blockbuild::{assemble_block, COINBASE_MATURITY};
use crate::chainfile::{self, ChainFileError, Reader, Writer};
use crate::gen::{GenParams, Generator};
use crate::node::Node;

/// Where a block's bytes are in a chain file.
#[derive(Clone, Debug)]
pub struct DiskRef {
    file: Arc<File>,
    offset: u64,
    len: u32,
}

impl DiskRef {
    /// The block's bytes.
    ///
    /// # Errors
    /// The file could not be read.
    pub fn read(&self) -> io::Result<Vec<u8>> {
        self.read_range(0, self.len)
    }

    /// `len` bytes from `start` within the block.
    ///
    /// # Errors
    /// The range is outside the block, or the file could not be read.
    pub fn read_range(&self, start: u32, len: u32) -> io::Result<Vec<u8>> {
        if u64::from(start) + u64::from(len) > u64::from(self.len) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "range outside the block",
            ));
        }
        let mut v = vec![0u8; len as usize];
        self.file
            .read_exact_at(&mut v, self.offset + u64::from(start))?;
        Ok(v)
    }

    /// Size of the block in bytes.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the block is empty (never: a block has a header).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The transaction index of a disk-backed chain: (txid prefix, height, position), sorted.
#[derive(Debug, Default)]
pub struct ArchiveIndex {
    /// Hash of each archived block, by height (index 0 is the genesis block's place).
    hashes: Vec<BlockHash>,
    txs: Vec<(u64, u32, u32)>,
}

fn prefix(txid: &Txid) -> u64 {
    let b: &[u8; 32] = txid.as_ref();
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

impl ArchiveIndex {
    /// Records the block at `height` with its transactions.
    pub(crate) fn add(&mut self, height: u32, hash: BlockHash, txids: &[Txid]) {
        if self.hashes.is_empty() {
            self.hashes.push(BlockHash::all_zeros());
        }
        debug_assert_eq!(self.hashes.len() as u32, height);
        self.hashes.push(hash);
        self.txs.extend(
            txids
                .iter()
                .enumerate()
                .map(|(i, t)| (prefix(t), height, i as u32)),
        );
    }

    /// Sorts the index for lookups.
    pub(crate) fn seal(&mut self) {
        self.txs.sort_unstable();
        self.txs.shrink_to_fit();
        self.hashes.shrink_to_fit();
    }

    /// Height of the last archived block (0 when none).
    pub fn height(&self) -> u32 {
        (self.hashes.len() as u32).saturating_sub(1)
    }

    /// Finds `txid`: each entry with its prefix is offered to `is_it` (block hash, position)
    /// until one is confirmed.
    pub(crate) fn find(
        &self,
        txid: &Txid,
        is_it: impl Fn(&BlockHash, u32) -> bool,
    ) -> Option<(BlockHash, u32)> {
        let p = prefix(txid);
        let start = self.txs.partition_point(|e| e.0 < p);
        self.txs[start..]
            .iter()
            .take_while(|e| e.0 == p)
            .filter_map(|&(_, h, pos)| Some((*self.hashes.get(h as usize)?, pos)))
            .find(|(hash, pos)| is_it(hash, *pos))
    }
}

/// What [`generate`] made.
#[derive(Clone, Debug)]
pub struct GenStats {
    pub blocks: u32,
    /// Transactions, coinbases excluded.
    pub txs: u64,
    pub bytes: u64,
    pub secs: f64,
    /// Addresses the generator derived.
    pub addresses: usize,
}

/// Generates the chain `params` describes straight into a chain file at `path` (written
/// atomically), in bounded memory: the same blocks as [`Node::generate`], each written as
/// soon as it is made.
///
/// # Errors
/// Writing failed.
pub fn generate(params: &GenParams, path: &Path) -> io::Result<GenStats> {
    let started = Instant::now();
    let mut gen = Generator::new(params.clone());
    let genesis = genesis_block(Network::Regtest);
    let mut prev = genesis.block_hash();
    let mut prev_time = genesis.header.time;
    let mut last_log = Instant::now();
    let (blocks, txs, addresses, bytes) = chainfile::write_atomically(path, |out| {
        let mut w = Writer::new(out, params)?;
        let (mut height, mut txs) = (0u32, 0u64);
        while height < params.height || txs < params.min_txs {
            let h = height + 1;
            // The draws of Node::generate → Node::mine_block → Node::build_and_connect with
            // an empty mempool, in the same order.
            let n = if h > COINBASE_MATURITY {
                gen.block_tx_count()
            } else {
                0
            };
            let time = if h == 1 {
                params.start_time
            } else {
                gen.next_time(prev_time)
            };
            let (mut fees, mut weight, mut failures) = (0u64, 4_000u64, 0);
            let mut block_txs = Vec::with_capacity(n as usize);
            let mut tx_fees = vec![0u64];
            for _ in 0..n {
                if weight > 3_600_000 || failures > 20 {
                    break;
                }
                match gen.make_tx(h.saturating_sub(1)) {
                    Some((tx, fee)) => {
                        weight += tx.weight().to_wu();
                        fees += fee;
                        tx_fees.push(fee);
                        block_txs.push(tx);
                    }
                    None => failures += 1,
                }
            }
            let (pay_to, _) = gen.coinbase_payee();
            let tag = gen.next_tag();
            let version = if h % 2 == 0 { 0x2000_0000 } else { 0x3000_0000 };
            let block = assemble_block(prev, h, time, version, block_txs, fees, pay_to, tag);
            w.block(&serialize(&block), &tx_fees)?;
            gen.on_block(h, &block.txdata[0]);
            txs += block.txdata.len() as u64 - 1;
            prev = block.block_hash();
            prev_time = time;
            height = h;
            if last_log.elapsed().as_secs() >= 30 {
                last_log = Instant::now();
                tracing::info!(height, transactions = txs, "generating");
            }
        }
        let (out, bytes) = w.finish(&gen.address_kinds(), &[])?;
        Ok((out, (height, txs, gen.address_count(), bytes)))
    })?;
    Ok(GenStats {
        blocks,
        txs,
        bytes,
        secs: started.elapsed().as_secs_f64(),
        addresses,
    })
}

/// Opens a chain file to serve it from disk (see the module's documentation for what such a
/// node knows): one pass over the file checks it and indexes it.
///
/// # Errors
/// The file is not a chain file of this format, is corrupt, or could not be read.
pub fn open(path: &Path) -> Result<Node, ChainFileError> {
    let file = Arc::new(File::open(path)?);
    let input = BufReader::with_capacity(1 << 20, file.try_clone()?);
    let (mut r, params, _) = Reader::new(input)?;
    let mut node = Node::new(params);
    let mut height = 0u32;
    while let Some(rec) = r.next_block()? {
        height += 1;
        let block = rec.block()?;
        if rec.fees.len() != block.txdata.len() {
            return Err(ChainFileError::Corrupt(
                "fee count differs from the block's",
            ));
        }
        let disk = DiskRef {
            file: file.clone(),
            offset: rec.offset,
            len: rec.raw.len() as u32,
        };
        node.push_archived(&block, disk, rec.fees)
            .map_err(|e| ChainFileError::Block {
                height,
                why: e.to_string(),
            })?;
    }
    // The trailer's wallet and mempool are not used (see the module's documentation).
    r.finish(height)?;
    node.seal_archive();
    Ok(node)
}

/// Opens `path` if it holds a chain generated with `params` (see [`open`]), else generates
/// one there first ([`generate`]). Returns the node and whether the file was reused.
///
/// # Errors
/// Generating or opening failed.
pub fn open_or_generate(params: &GenParams, path: &Path) -> Result<(Node, bool), ChainFileError> {
    if chainfile::is_current(path, params) {
        if let Ok(node) = open(path) {
            return Ok((node, true));
        }
    }
    generate(params, path)?;
    Ok((open(path)?, false))
}
