//! Saved chains: a generated chain written once and reused by benches, CI and demos.
//!
//! Layout (all integers little-endian):
//! `b"FXSIMCH1"`, u32 format version, u32 generator version, the [`GenParams`], u32 address
//! count + one kind byte per address, u32 block count + (u32 length, consensus bytes) per
//! block from height 1, u32 mempool count + (u32 length, bytes) per transaction, then the
//! SHA-256 of everything before it. A file whose checksum, magic or version does not match
//! is rejected whole; a cached file from another generator version is regenerated.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::{sha256, Hash};
use bitcoin::{Block, Transaction};

use crate::gen::GenParams;
use crate::node::Node;
use crate::wallet::Kind;

const MAGIC: &[u8; 8] = b"FXSIMCH1";
const VERSION: u32 = 2;

/// Why a chain file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ChainFileError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("not a simnode chain file (bad magic)")]
    Magic,
    #[error("unsupported chain file version {0}")]
    Version(u32),
    #[error("chain file is truncated or corrupt: {0}")]
    Corrupt(&'static str),
    #[error("chain file checksum mismatch")]
    Checksum,
    #[error("block {height} of the chain file does not connect: {why}")]
    Block { height: u32, why: String },
}

fn put_u32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn kind_code(k: Kind) -> u8 {
    Kind::ALL.iter().position(|x| *x == k).unwrap_or(0) as u8
}

/// Serializes the node's active chain (from height 1), wallet layout and mempool.
pub fn encode(node: &Node) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(MAGIC);
    put_u32(&mut v, VERSION);
    put_u32(&mut v, crate::gen::GENERATOR_VERSION);
    let p = &node.gen.params;
    v.extend_from_slice(&p.seed.to_le_bytes());
    put_u32(&mut v, p.height);
    put_u32(&mut v, p.txs_per_block);
    put_u32(&mut v, p.start_time);
    put_u32(&mut v, p.hot_addresses);
    v.extend_from_slice(&p.hot_share.to_bits().to_le_bytes());
    v.extend_from_slice(&p.min_txs.to_le_bytes());
    let kinds = node.gen.address_kinds();
    put_u32(&mut v, kinds.len() as u32);
    v.extend(kinds.iter().map(|k| kind_code(*k)));
    put_u32(&mut v, node.tip_height());
    for h in 1..=node.tip_height() {
        if let Some(b) = node.block_at(h) {
            put_u32(&mut v, b.raw.len() as u32);
            v.extend_from_slice(&b.raw);
        }
    }
    let txs: Vec<Transaction> = node
        .mempool
        .mining_order()
        .iter()
        .filter_map(|t| node.mempool.get(t).map(|e| e.tx.clone()))
        .collect();
    put_u32(&mut v, txs.len() as u32);
    for tx in txs {
        let raw = serialize(&tx);
        put_u32(&mut v, raw.len() as u32);
        v.extend_from_slice(&raw);
    }
    let sum = sha256::Hash::hash(&v);
    v.extend_from_slice(sum.as_byte_array());
    v
}

/// Writes the chain atomically (temporary file, then rename).
pub fn save(node: &Node, path: &Path) -> io::Result<()> {
    let data = encode(node);
    let tmp = path.with_extension("tmp");
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&data)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ChainFileError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.data.len())
            .ok_or(ChainFileError::Corrupt("unexpected end"))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, ChainFileError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, ChainFileError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

/// Parameters stored in a chain file, without loading the chain.
pub fn read_params(data: &[u8]) -> Result<GenParams, ChainFileError> {
    read_header(data).map(|(p, _)| p)
}

/// Parameters and generator version stored in a chain file.
pub fn read_header(data: &[u8]) -> Result<(GenParams, u32), ChainFileError> {
    let mut r = Reader { data, pos: 0 };
    if r.take(8)? != MAGIC {
        return Err(ChainFileError::Magic);
    }
    let version = r.u32()?;
    if version != VERSION {
        return Err(ChainFileError::Version(version));
    }
    let generator = r.u32()?;
    let params = GenParams {
        seed: r.u64()?,
        height: r.u32()?,
        txs_per_block: r.u32()?,
        start_time: r.u32()?,
        hot_addresses: r.u32()?,
        hot_share: f64::from_bits(r.u64()?),
        min_txs: r.u64()?,
    };
    Ok((params, generator))
}

/// Rebuilds a node from a chain file's bytes: every block is connected (and so validated)
/// again, the wallet is re-derived and the mempool resubmitted.
pub fn decode(data: &[u8]) -> Result<Node, ChainFileError> {
    if data.len() < 32 {
        return Err(ChainFileError::Corrupt("too short"));
    }
    let (body, sum) = data.split_at(data.len() - 32);
    if sha256::Hash::hash(body).as_byte_array() != sum {
        return Err(ChainFileError::Checksum);
    }
    let params = read_params(body)?;
    let mut r = Reader {
        data: body,
        pos: 8 + 4 + 4 + 8 + 4 * 4 + 8 + 8,
    };
    let n_kinds = r.u32()? as usize;
    let kinds: Vec<Kind> = r
        .take(n_kinds)?
        .iter()
        .map(|c| Kind::ALL.get(*c as usize).copied().unwrap_or(Kind::P2wpkh))
        .collect();
    let n_blocks = r.u32()?;
    let mut node = Node::new(params);
    node.gen.restore_addresses(&kinds, u64::from(n_blocks));
    for height in 1..=n_blocks {
        let len = r.u32()? as usize;
        let block: Block =
            deserialize(r.take(len)?).map_err(|_| ChainFileError::Corrupt("bad block"))?;
        node.connect_block(block)
            .map_err(|e| ChainFileError::Block {
                height,
                why: e.to_string(),
            })?;
    }
    let n_tx = r.u32()?;
    let mut txs = Vec::new();
    for _ in 0..n_tx {
        let len = r.u32()? as usize;
        let tx: Transaction =
            deserialize(r.take(len)?).map_err(|_| ChainFileError::Corrupt("bad transaction"))?;
        txs.push(tx);
    }
    for tx in &txs {
        let _ = node.accept_tx(tx, 0, false);
    }
    // The wallet is derived on first use (mining, traffic, reorgs): see Node::wallet_ready.
    Ok(node)
}

/// Reads a chain file.
pub fn load(path: &Path) -> Result<Node, ChainFileError> {
    decode(&fs::read(path)?)
}

/// Loads `path` if it holds a chain generated with `params`, else generates one and saves
/// it there. Returns the node and whether it was loaded from the cache.
pub fn load_or_generate(params: &GenParams, path: &Path) -> Result<(Node, bool), ChainFileError> {
    if let Ok(data) = fs::read(path) {
        let current = read_header(&data)
            .is_ok_and(|(p, g)| p == *params && g == crate::gen::GENERATOR_VERSION);
        if current {
            if let Ok(node) = decode(&data) {
                return Ok((node, true));
            }
        }
    }
    let node = Node::generate(params.clone());
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    save(&node, path)?;
    Ok((node, false))
}
