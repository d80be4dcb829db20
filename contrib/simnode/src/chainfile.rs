//! Saved chains: a generated chain written once and reused by benches, CI and demos.
//!
//! Layout (format 3, or 4 for a chain with a whale; all integers little-endian):
//! - header: `b"FXSIMCH1"`, u32 format version, u32 generator version, the [`GenParams`]
//!   (format 4 adds [`GenParams::whale_share`] at their end: a chain without a whale is
//!   written as format 3, byte for byte what it was before whales, and a format-3 file reads
//!   as a chain without one);
//! - one record per block from height 1, written as the block is made (so a chain of any
//!   size is generated in bounded memory, see [`crate::archive`]): `b'B'`, u32 length, the
//!   block's consensus bytes, u32 transaction count, one u64 fee per transaction (0 for the
//!   coinbase);
//! - `b'E'`, u32 block count, u32 address count + one kind byte per address, u32 mempool
//!   count + (u32 length, bytes) per transaction;
//! - the SHA-256 of everything before it.
//!
//! A file whose checksum, magic or version does not match is rejected whole; a cached file
//! of another format or generator version is regenerated, never misread. Every length is
//! bounded before anything is allocated for it.
//!
//! A chain file is read two ways: [`decode`]/[`load`] rebuild a [`Node`] holding the whole
//! chain in memory (every block connected and so validated again, the truth rebuilt), for
//! tests; [`crate::archive::open`] serves a big chain from the file.

use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::{sha256, Hash, HashEngine};
use bitcoin::{Block, Transaction};

use crate::gen::GenParams;
use crate::node::Node;
use crate::wallet::Kind;

const MAGIC: &[u8; 8] = b"FXSIMCH1";
const VERSION: u32 = 3;
/// The format of a chain with a whale (its share follows the other parameters).
const VERSION_WHALE: u32 = 4;
/// Bytes of a format-3 header (magic, versions, parameters).
pub const HEADER_LEN: usize = 8 + 4 + 4 + 8 + 4 * 4 + 8 + 8;
/// Bytes of a format-4 header (the whale's share after the rest).
pub const HEADER_LEN_WHALE: usize = HEADER_LEN + 8;
/// Largest block record accepted (regtest blocks weigh at most 4,000,000).
const MAX_BLOCK: u32 = 8_000_000;
/// Largest mempool transaction accepted.
const MAX_TX: u32 = 4_000_000;
/// Most addresses a chain file may list.
const MAX_ADDRESSES: u32 = 1 << 30;

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

fn kind_code(k: Kind) -> u8 {
    Kind::ALL.iter().position(|x| *x == k).unwrap_or(0) as u8
}

fn put_params(v: &mut Vec<u8>, p: &GenParams) {
    v.extend_from_slice(&p.seed.to_le_bytes());
    v.extend_from_slice(&p.height.to_le_bytes());
    v.extend_from_slice(&p.txs_per_block.to_le_bytes());
    v.extend_from_slice(&p.start_time.to_le_bytes());
    v.extend_from_slice(&p.hot_addresses.to_le_bytes());
    v.extend_from_slice(&p.hot_share.to_bits().to_le_bytes());
    v.extend_from_slice(&p.min_txs.to_le_bytes());
    if p.has_whale() {
        v.extend_from_slice(&p.whale_share.to_bits().to_le_bytes());
    }
}

/// The format a chain generated with `p` is written in.
fn version_for(p: &GenParams) -> u32 {
    if p.has_whale() {
        VERSION_WHALE
    } else {
        VERSION
    }
}

/// Writes a chain file record by record, hashing as it goes.
pub struct Writer<W: Write> {
    out: W,
    engine: sha256::HashEngine,
    written: u64,
    blocks: u32,
}

impl<W: Write> Writer<W> {
    /// Starts a chain file for `params` (the header).
    ///
    /// # Errors
    /// Writing failed.
    pub fn new(out: W, params: &GenParams) -> io::Result<Writer<W>> {
        let mut w = Writer {
            out,
            engine: sha256::HashEngine::default(),
            written: 0,
            blocks: 0,
        };
        let mut h = Vec::with_capacity(HEADER_LEN_WHALE);
        h.extend_from_slice(MAGIC);
        h.extend_from_slice(&version_for(params).to_le_bytes());
        h.extend_from_slice(&crate::gen::GENERATOR_VERSION.to_le_bytes());
        put_params(&mut h, params);
        w.put(&h)?;
        Ok(w)
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.engine.input(b);
        self.written += b.len() as u64;
        Ok(())
    }

    /// Appends the next block (consensus bytes) and the fee of each of its transactions.
    /// Returns the offset of the block's bytes in the file.
    ///
    /// # Errors
    /// Writing failed.
    pub fn block(&mut self, raw: &[u8], fees: &[u64]) -> io::Result<u64> {
        let mut head = [0u8; 5];
        head[0] = b'B';
        head[1..].copy_from_slice(&(raw.len() as u32).to_le_bytes());
        self.put(&head)?;
        let offset = self.written;
        self.put(raw)?;
        let mut tail = Vec::with_capacity(4 + 8 * fees.len());
        tail.extend_from_slice(&(fees.len() as u32).to_le_bytes());
        for f in fees {
            tail.extend_from_slice(&f.to_le_bytes());
        }
        self.put(&tail)?;
        self.blocks += 1;
        Ok(offset)
    }

    /// Writes the trailer (address kinds, mempool) and the checksum; returns the output and
    /// the file's size.
    ///
    /// # Errors
    /// Writing failed.
    pub fn finish(mut self, kinds: &[Kind], mempool: &[Transaction]) -> io::Result<(W, u64)> {
        let mut t = Vec::with_capacity(16 + kinds.len());
        t.push(b'E');
        t.extend_from_slice(&self.blocks.to_le_bytes());
        t.extend_from_slice(&(kinds.len() as u32).to_le_bytes());
        t.extend(kinds.iter().map(|k| kind_code(*k)));
        t.extend_from_slice(&(mempool.len() as u32).to_le_bytes());
        for tx in mempool {
            let raw = serialize(tx);
            t.extend_from_slice(&(raw.len() as u32).to_le_bytes());
            t.extend_from_slice(&raw);
        }
        self.put(&t)?;
        let sum = sha256::Hash::from_engine(self.engine);
        self.out.write_all(sum.as_byte_array())?;
        self.out.flush()?;
        Ok((self.out, self.written + 32))
    }
}

/// Serializes the node's active chain (from height 1), wallet layout and mempool.
pub fn encode(node: &Node) -> Vec<u8> {
    let mut v = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = encode_to(node, &mut v);
    v
}

fn encode_to<W: Write>(node: &Node, out: W) -> io::Result<W> {
    let mut w = Writer::new(out, &node.gen.params)?;
    for h in 1..=node.tip_height() {
        if let Some(b) = node.block_at(h) {
            w.block(&b.bytes()?, &b.fees)?;
        }
    }
    let txs: Vec<Transaction> = node
        .mempool
        .mining_order()
        .iter()
        .filter_map(|t| node.mempool.get(t).map(|e| e.tx.clone()))
        .collect();
    Ok(w.finish(&node.gen.address_kinds(), &txs)?.0)
}

/// Writes `path` atomically (a temporary file beside it, then rename) with `write`.
pub fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(BufWriter<fs::File>) -> io::Result<(BufWriter<fs::File>, T)>,
) -> io::Result<T> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let out = BufWriter::with_capacity(1 << 20, fs::File::create(&tmp)?);
    let (out, t) = write(out)?;
    let f = out.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    Ok(t)
}

/// Writes the chain atomically (temporary file, then rename).
pub fn save(node: &Node, path: &Path) -> io::Result<()> {
    write_atomically(path, |out| Ok((encode_to(node, out)?, ())))
}

/// Reads a chain file record by record, hashing as it goes.
pub struct Reader<R: Read> {
    input: R,
    engine: sha256::HashEngine,
    read: u64,
}

/// A block record.
pub struct BlockRecord {
    /// Offset of the block's bytes in the file.
    pub offset: u64,
    /// The block's consensus bytes.
    pub raw: Vec<u8>,
    /// Fee of each transaction.
    pub fees: Vec<u64>,
}

impl BlockRecord {
    /// The block its bytes hold.
    ///
    /// # Errors
    /// [`ChainFileError::Corrupt`] when they are not a block.
    pub fn block(&self) -> Result<Block, ChainFileError> {
        deserialize(&self.raw).map_err(|_| ChainFileError::Corrupt("bad block"))
    }
}

/// What follows the blocks.
pub struct Trailer {
    pub kinds: Vec<Kind>,
    pub mempool: Vec<Transaction>,
}

impl<R: Read> Reader<R> {
    /// Reads and checks the header: magic, format version. Returns the reader, the
    /// parameters and the generator version.
    ///
    /// # Errors
    /// Not a chain file, another format version, or a read error.
    pub fn new(input: R) -> Result<(Reader<R>, GenParams, u32), ChainFileError> {
        let mut r = Reader {
            input,
            engine: sha256::HashEngine::default(),
            read: 0,
        };
        if r.take(8)? != MAGIC {
            return Err(ChainFileError::Magic);
        }
        let version = r.u32()?;
        if version != VERSION && version != VERSION_WHALE {
            return Err(ChainFileError::Version(version));
        }
        let generator = r.u32()?;
        let mut params = GenParams {
            seed: r.u64()?,
            height: r.u32()?,
            txs_per_block: r.u32()?,
            start_time: r.u32()?,
            hot_addresses: r.u32()?,
            hot_share: f64::from_bits(r.u64()?),
            min_txs: r.u64()?,
            whale_share: 0.0,
        };
        if version == VERSION_WHALE {
            params.whale_share = f64::from_bits(r.u64()?);
            // A format-4 file always has a whale (a share in (0, 1]).
            if !(params.whale_share > 0.0 && params.whale_share <= 1.0) {
                return Err(ChainFileError::Corrupt("bad whale share"));
            }
        }
        Ok((r, params, generator))
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), ChainFileError> {
        self.input.read_exact(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => ChainFileError::Corrupt("unexpected end"),
            _ => ChainFileError::Io(e),
        })?;
        self.engine.input(buf);
        self.read += buf.len() as u64;
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<Vec<u8>, ChainFileError> {
        let mut v = vec![0u8; n];
        self.fill(&mut v)?;
        Ok(v)
    }

    fn u8(&mut self) -> Result<u8, ChainFileError> {
        let mut b = [0u8; 1];
        self.fill(&mut b)?;
        Ok(b[0])
    }

    fn u32(&mut self) -> Result<u32, ChainFileError> {
        let mut b = [0u8; 4];
        self.fill(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> Result<u64, ChainFileError> {
        let mut b = [0u8; 8];
        self.fill(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// The next block record, or `None` at the end of the blocks.
    ///
    /// # Errors
    /// A bad record or a read error.
    pub fn next_block(&mut self) -> Result<Option<BlockRecord>, ChainFileError> {
        match self.u8()? {
            b'B' => {}
            b'E' => return Ok(None),
            _ => return Err(ChainFileError::Corrupt("bad record tag")),
        }
        let len = self.u32()?;
        if len > MAX_BLOCK {
            return Err(ChainFileError::Corrupt("block too large"));
        }
        let offset = self.read;
        let raw = self.take(len as usize)?;
        let n = self.u32()?;
        // Every transaction takes at least 60 bytes.
        if u64::from(n) * 60 > u64::from(len) {
            return Err(ChainFileError::Corrupt("too many fees for the block"));
        }
        let mut fees = Vec::with_capacity(n as usize);
        for _ in 0..n {
            fees.push(self.u64()?);
        }
        Ok(Some(BlockRecord { offset, raw, fees }))
    }

    /// Reads the trailer after the last block, checks the block count and the checksum, and
    /// that nothing follows.
    ///
    /// # Errors
    /// A bad trailer, a wrong count or checksum, or a read error.
    pub fn finish(mut self, blocks_read: u32) -> Result<Trailer, ChainFileError> {
        if self.u32()? != blocks_read {
            return Err(ChainFileError::Corrupt("block count"));
        }
        let n_kinds = self.u32()?;
        if n_kinds > MAX_ADDRESSES {
            return Err(ChainFileError::Corrupt("too many addresses"));
        }
        let kinds = self
            .take(n_kinds as usize)?
            .iter()
            .map(|c| Kind::ALL.get(*c as usize).copied().unwrap_or(Kind::P2wpkh))
            .collect();
        let n_tx = self.u32()?;
        let mut mempool = Vec::new();
        for _ in 0..n_tx {
            let len = self.u32()?;
            if len > MAX_TX {
                return Err(ChainFileError::Corrupt("transaction too large"));
            }
            let tx: Transaction = deserialize(&self.take(len as usize)?)
                .map_err(|_| ChainFileError::Corrupt("bad transaction"))?;
            mempool.push(tx);
        }
        let expected = sha256::Hash::from_engine(self.engine);
        let mut sum = [0u8; 32];
        self.input
            .read_exact(&mut sum)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => ChainFileError::Corrupt("unexpected end"),
                _ => ChainFileError::Io(e),
            })?;
        if &sum != expected.as_byte_array() {
            return Err(ChainFileError::Checksum);
        }
        let mut extra = [0u8; 1];
        if self.input.read(&mut extra)? != 0 {
            return Err(ChainFileError::Corrupt("data after the checksum"));
        }
        Ok(Trailer { kinds, mempool })
    }
}

/// Parameters stored in a chain file, without loading the chain.
pub fn read_params(data: &[u8]) -> Result<GenParams, ChainFileError> {
    read_header(data).map(|(p, _)| p)
}

/// Parameters and generator version stored in a chain file.
pub fn read_header(data: &[u8]) -> Result<(GenParams, u32), ChainFileError> {
    Reader::new(data).map(|(_, p, g)| (p, g))
}

/// Whether the file at `path` is a chain file of this format made by this generator from
/// `params` (reads only its header).
pub fn is_current(path: &Path, params: &GenParams) -> bool {
    let len = if params.has_whale() {
        HEADER_LEN_WHALE
    } else {
        HEADER_LEN
    };
    let mut head = vec![0u8; len];
    let read = fs::File::open(path).and_then(|mut f| f.read_exact(&mut head));
    read.is_ok()
        && read_header(&head).is_ok_and(|(p, g)| p == *params && g == crate::gen::GENERATOR_VERSION)
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
    let (mut r, params, _) = Reader::new(data)?;
    let mut node = Node::new(params);
    let mut height = 0u32;
    while let Some(rec) = r.next_block()? {
        height += 1;
        let block = rec.block()?;
        node.connect_block(block)
            .map_err(|e| ChainFileError::Block {
                height,
                why: e.to_string(),
            })?;
        let fees = node.block_at(height).map(|b| &b.fees);
        if fees != Some(&rec.fees) {
            return Err(ChainFileError::Block {
                height,
                why: "fees differ from the file's".to_string(),
            });
        }
    }
    let trailer = r.finish(height)?;
    node.gen
        .restore_addresses(&trailer.kinds, u64::from(height));
    for tx in &trailer.mempool {
        let _ = node.accept_tx(tx, 0, false);
    }
    // The wallet is derived on first use (mining, traffic, reorgs): see Node::wallet_ready.
    Ok(node)
}

/// Reads a chain file into memory (see [`decode`]).
pub fn load(path: &Path) -> Result<Node, ChainFileError> {
    decode(&fs::read(path)?)
}

/// Loads `path` into memory if it holds a chain generated with `params`, else generates one
/// and saves it there. Returns the node and whether it was loaded from the cache.
pub fn load_or_generate(params: &GenParams, path: &Path) -> Result<(Node, bool), ChainFileError> {
    if is_current(path, params) {
        if let Ok(node) = load(path) {
            return Ok((node, true));
        }
    }
    let node = Node::generate(params.clone());
    save(&node, path)?;
    Ok((node, false))
}
