//! A block read in place from its raw bytes: the header, every txid, every input's outpoint
//! and every output's amount and script (borrowed from the bytes), in a handful of flat
//! arrays per block.
//!
//! The block processor used to decode each block into `bitcoin::Block` (a vector per
//! transaction, per input script, per witness and per output script) and then serialize each
//! transaction again to hash its txid: a fifth of the sync's CPU in the profile, for values it
//! reads once. Here each transaction is walked once: its txid is the double SHA-256 of its
//! bytes without the segwit marker, flag and witnesses, hashed from the slice as it lies.
//!
//! The rules are `bitcoin`'s decoder's (the bytes come from the daemon, so they are checked
//! as any untrusted input): minimal compact sizes, the segwit flag 1 and at least one witness
//! when it is set, every byte consumed; `tests` compares both decoders on valid blocks, on
//! every truncation and on random corruptions.

use std::ops::Range;

use bitcoin::block::Header;
use bitcoin::consensus::deserialize;
use bitcoin::hashes::{sha256d, Hash, HashEngine};
use bitcoin::{OutPoint, Script, Txid};

/// Why raw bytes are not a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One transaction's inputs and outputs: ranges into the block's arrays.
#[derive(Clone, Debug)]
pub(crate) struct RawTx {
    pub inputs: Range<usize>,
    pub outputs: Range<usize>,
}

/// An output: amount in satoshis and script.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawOutput<'a> {
    pub value: u64,
    pub script: &'a Script,
}

/// A block read from its bytes.
#[derive(Debug)]
pub(crate) struct RawBlock<'a> {
    pub header: Header,
    pub txids: Vec<Txid>,
    pub txs: Vec<RawTx>,
    inputs: Vec<OutPoint>,
    outputs: Vec<RawOutput<'a>>,
}

impl<'a> RawBlock<'a> {
    /// The outpoints the `i`th transaction spends.
    pub(crate) fn inputs(&self, tx: &RawTx) -> &[OutPoint] {
        self.inputs.get(tx.inputs.clone()).unwrap_or_default()
    }

    /// The `i`th transaction's outputs.
    pub(crate) fn outputs(&self, tx: &RawTx) -> &[RawOutput<'a>] {
        self.outputs.get(tx.outputs.clone()).unwrap_or_default()
    }

    /// Whether `tx` is a coinbase (one input, spending the null outpoint), as
    /// `Transaction::is_coinbase` says.
    pub(crate) fn is_coinbase(&self, tx: &RawTx) -> bool {
        matches!(self.inputs(tx), [only] if only.is_null())
    }
}

/// Bytes read so far, with checked reads.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| {
                ParseError(format!(
                    "ends early: {n} bytes wanted at offset {} of {}",
                    self.at,
                    self.b.len()
                ))
            })?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ParseError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn byte(&mut self) -> Result<u8, ParseError> {
        Ok(self.array::<1>()?[0])
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.b.get(self.at + ahead).copied()
    }

    /// A compact size, minimally encoded (as consensus decoding demands).
    fn compact(&mut self) -> Result<u64, ParseError> {
        let (n, min) = match self.byte()? {
            0xff => (u64::from_le_bytes(self.array()?), 0x1_0000_0000),
            0xfe => (u64::from(u32::from_le_bytes(self.array()?)), 0x1_0000),
            0xfd => (u64::from(u16::from_le_bytes(self.array()?)), 0xfd),
            b => return Ok(u64::from(b)),
        };
        if n < min {
            return Err(ParseError(format!(
                "non-minimal compact size {n} at offset {}",
                self.at
            )));
        }
        Ok(n)
    }

    /// A compact size used as a length of `unit`-byte items: no more than the bytes left.
    fn count(&mut self, unit: usize) -> Result<usize, ParseError> {
        let n = self.compact()?;
        let left = (self.b.len() - self.at) as u64;
        if n.saturating_mul(unit as u64) > left {
            return Err(ParseError(format!(
                "a count of {n} at offset {} with {left} bytes left",
                self.at
            )));
        }
        Ok(n as usize)
    }

    fn bytes(&mut self) -> Result<&'a [u8], ParseError> {
        let n = self.count(1)?;
        self.take(n)
    }
}

/// The smallest input and output (an empty script each).
const MIN_INPUT: usize = 32 + 4 + 1 + 4;
const MIN_OUTPUT: usize = 8 + 1;

/// Reads a whole block from `raw` (every byte must belong to it).
pub(crate) fn parse(raw: &[u8]) -> Result<RawBlock<'_>, ParseError> {
    let mut r = Reader { b: raw, at: 0 };
    let header: Header =
        deserialize(r.take(80)?).map_err(|e| ParseError(format!("bad header: {e}")))?;
    let n = r.count(4 + 1 + 1 + 4)?;
    let mut block = RawBlock {
        header,
        txids: Vec::with_capacity(n),
        txs: Vec::with_capacity(n),
        // About two inputs and two and a half outputs a transaction; grown as needed.
        inputs: Vec::with_capacity(n * 2),
        outputs: Vec::with_capacity(n * 3),
    };
    for _ in 0..n {
        tx(&mut r, &mut block)?;
    }
    if r.at != raw.len() {
        return Err(ParseError(format!(
            "{} bytes after the last transaction",
            raw.len() - r.at
        )));
    }
    Ok(block)
}

/// Reads one transaction into `block`.
fn tx<'a>(r: &mut Reader<'a>, block: &mut RawBlock<'a>) -> Result<(), ParseError> {
    let start = r.at;
    r.take(4)?;
    // A zero where the input count goes is the segwit marker (a transaction without inputs
    // cannot be serialized otherwise); the flag must then be 1.
    let segwit = r.peek(0) == Some(0);
    if segwit {
        r.take(1)?;
        let flag = r.byte()?;
        if flag != 1 {
            return Err(ParseError(format!("unsupported segwit flag {flag}")));
        }
    }
    let body = r.at;
    let n_in = r.count(MIN_INPUT)?;
    let first_in = block.inputs.len();
    for _ in 0..n_in {
        let txid = Txid::from_byte_array(r.array()?);
        let vout = u32::from_le_bytes(r.array()?);
        r.bytes()?;
        r.take(4)?;
        block.inputs.push(OutPoint { txid, vout });
    }
    let n_out = r.count(MIN_OUTPUT)?;
    let first_out = block.outputs.len();
    for _ in 0..n_out {
        let value = u64::from_le_bytes(r.array()?);
        let script = Script::from_bytes(r.bytes()?);
        block.outputs.push(RawOutput { value, script });
    }
    let body_end = r.at;
    if segwit {
        let mut witnessed = false;
        for _ in 0..n_in {
            let items = r.count(1)?;
            witnessed |= items > 0;
            for _ in 0..items {
                r.bytes()?;
            }
        }
        // As `bitcoin` decodes: a transaction without inputs needs no witness.
        if n_in > 0 && !witnessed {
            return Err(ParseError(
                "segwit flag set but no witnesses present".to_string(),
            ));
        }
    }
    let locktime = r.take(4)?;
    let mut e = sha256d::Hash::engine();
    match segwit {
        true => {
            e.input(&r.b[start..start + 4]);
            e.input(&r.b[body..body_end]);
            e.input(locktime);
        }
        false => e.input(&r.b[start..r.at]),
    }
    block
        .txids
        .push(Txid::from_raw_hash(sha256d::Hash::from_engine(e)));
    block.txs.push(RawTx {
        inputs: first_in..block.inputs.len(),
        outputs: first_out..block.outputs.len(),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::absolute::LockTime;
    use bitcoin::consensus::serialize;
    use bitcoin::{
        transaction, Amount, Block, BlockHash, CompactTarget, ScriptBuf, Sequence, Transaction,
        TxIn, TxMerkleNode, TxOut, Witness,
    };

    /// Header, txids, inputs, (amount, script) outputs and coinbase flags of each transaction.
    type Decoded = (
        Header,
        Vec<Txid>,
        Vec<Vec<OutPoint>>,
        Vec<Vec<(u64, Vec<u8>)>>,
        Vec<bool>,
    );

    /// What `bitcoin`'s own decoder makes of `raw`, in this module's terms.
    fn reference(raw: &[u8]) -> Option<Decoded> {
        let block: Block = deserialize(raw).ok()?;
        Some((
            block.header,
            block.txdata.iter().map(|t| t.compute_txid()).collect(),
            block
                .txdata
                .iter()
                .map(|t| t.input.iter().map(|i| i.previous_output).collect())
                .collect(),
            block
                .txdata
                .iter()
                .map(|t| {
                    t.output
                        .iter()
                        .map(|o| (o.value.to_sat(), o.script_pubkey.to_bytes()))
                        .collect()
                })
                .collect(),
            block.txdata.iter().map(|t| t.is_coinbase()).collect(),
        ))
    }

    fn ours(raw: &[u8]) -> Option<Decoded> {
        let b = parse(raw).ok()?;
        Some((
            b.header,
            b.txids.clone(),
            b.txs.iter().map(|t| b.inputs(t).to_vec()).collect(),
            b.txs
                .iter()
                .map(|t| {
                    b.outputs(t)
                        .iter()
                        .map(|o| (o.value, o.script.to_bytes()))
                        .collect()
                })
                .collect(),
            b.txs.iter().map(|t| b.is_coinbase(t)).collect(),
        ))
    }

    /// A block with a coinbase, legacy and segwit spends, several outputs (OP_RETURN and
    /// empty scripts among them), a witness with empty items, a segwit transaction without
    /// inputs and long scripts (3-byte compact sizes).
    fn sample_block() -> Vec<u8> {
        let mut n = 0u8;
        let mut txid = || {
            n += 1;
            Txid::from_byte_array([n; 32])
        };
        let out = |v: u64, s: Vec<u8>| TxOut {
            value: Amount::from_sat(v),
            script_pubkey: ScriptBuf::from_bytes(s),
        };
        let input = |t: Txid, vout: u32, sig: Vec<u8>, wit: Vec<Vec<u8>>| TxIn {
            previous_output: OutPoint { txid: t, vout },
            script_sig: ScriptBuf::from_bytes(sig),
            sequence: Sequence(0xffff_fffe),
            witness: Witness::from_slice(&wit),
        };
        let tx = |input: Vec<TxIn>, output: Vec<TxOut>| Transaction {
            version: transaction::Version::TWO,
            lock_time: LockTime::from_consensus(77),
            input,
            output,
        };
        let coinbase = tx(
            vec![input(
                Txid::all_zeros(),
                u32::MAX,
                vec![3, 1, 2, 3],
                vec![vec![0; 32]],
            )],
            vec![out(50, vec![0x51]), out(0, vec![0x6a, 0x24, 0xaa])],
        );
        let legacy = tx(
            vec![
                input(txid(), 0, vec![0x47; 72], vec![]),
                input(txid(), 7, vec![], vec![]),
            ],
            vec![
                out(1, vec![0x76; 25]),
                out(2, vec![]),
                out(3, vec![0x00, 0x14, 9, 9]),
            ],
        );
        let segwit = tx(
            vec![
                input(txid(), 1, vec![], vec![vec![1; 71], vec![2; 33]]),
                input(txid(), 2, vec![], vec![]),
                input(txid(), 3, vec![], vec![vec![], vec![]]),
            ],
            vec![out(4, vec![0x52; 300]), out(u64::MAX, vec![0x6a])],
        );
        let no_inputs = tx(vec![], vec![out(5, vec![0x53])]);
        let big_script = tx(
            vec![input(txid(), 4, vec![0x01; 3_000], vec![vec![5; 600]])],
            vec![out(6, vec![0x54; 253])],
        );
        let txdata = vec![coinbase, legacy, segwit, no_inputs, big_script];
        let block = Block {
            header: Header {
                version: bitcoin::block::Version::TWO,
                prev_blockhash: BlockHash::from_byte_array([9; 32]),
                merkle_root: TxMerkleNode::from_byte_array([8; 32]),
                time: 1_700_000_000,
                bits: CompactTarget::from_consensus(0x207f_ffff),
                nonce: 5,
            },
            txdata,
        };
        serialize(&block)
    }

    #[test]
    fn reads_what_bitcoin_reads() {
        let raw = sample_block();
        let want = reference(&raw).expect("bitcoin decodes the sample");
        assert_eq!(want.1.len(), 5);
        assert_eq!(ours(&raw), Some(want));
    }

    /// Every truncation and every extension is refused, as `bitcoin` refuses them.
    #[test]
    fn refuses_every_truncation() {
        let raw = sample_block();
        for end in 0..raw.len() {
            assert!(
                parse(&raw[..end]).is_err(),
                "accepted {end} of {} bytes",
                raw.len()
            );
            assert!(reference(&raw[..end]).is_none());
        }
        let mut longer = raw.clone();
        longer.push(0);
        assert!(parse(&longer).is_err());
    }

    /// Random corruptions (bytes changed, inserted, removed): both decoders accept the same
    /// ones and read the same values from them; none panics.
    #[test]
    fn agrees_with_bitcoin_on_corruptions() {
        let raw = sample_block();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut b = raw.clone();
            for _ in 0..(next() % 3 + 1) {
                let at = (next() as usize) % b.len();
                match next() % 4 {
                    0 => b.insert(at, next() as u8),
                    1 => {
                        b.remove(at);
                    }
                    // Small values: counts, flags and lengths are where the rules are.
                    2 => b[at] = (next() % 4) as u8,
                    _ => b[at] = next() as u8,
                }
            }
            let (o, r) = (ours(&b), reference(&b));
            accepted += usize::from(o.is_some());
            assert_eq!(
                o,
                r,
                "disagree on {}",
                bitcoin::hex::DisplayHex::to_lower_hex_string(&b[..])
            );
        }
        // Changes inside scripts and amounts keep blocks valid: both paths are exercised.
        assert!(accepted > 100, "only {accepted} corruptions decoded");
    }

    #[test]
    fn refuses_non_minimal_sizes_and_bad_flags() {
        let raw = sample_block();
        // The transaction count (5) as 0xfd 0x05 0x00.
        let mut b = raw[..80].to_vec();
        b.extend_from_slice(&[0xfd, 5, 0]);
        b.extend_from_slice(&raw[81..]);
        assert!(parse(&b).is_err() && reference(&b).is_none());
        // The coinbase's segwit flag (after its version) as 2.
        let mut b = raw.clone();
        assert_eq!(&b[85..87], &[0, 1]);
        b[86] = 2;
        assert!(parse(&b).is_err() && reference(&b).is_none());
    }
}
