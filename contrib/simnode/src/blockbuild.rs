//! Assembling regtest blocks: coinbase (BIP34 height, witness commitment), merkle root and a
//! nonce that meets the regtest target.

use bitcoin::absolute::LockTime;
use bitcoin::block::{Header, Version};
use bitcoin::blockdata::opcodes::all::OP_RETURN;
use bitcoin::hashes::Hash;
use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::transaction::Version as TxVersion;
use bitcoin::{
    Amount, Block, BlockHash, CompactTarget, OutPoint, ScriptBuf, Sequence, Transaction, TxIn,
    TxMerkleNode, TxOut, Witness,
};

/// Regtest's `nBits`.
pub const REGTEST_BITS: u32 = 0x207f_ffff;
/// Regtest halves the subsidy every 150 blocks.
pub const HALVING_INTERVAL: u32 = 150;
/// Blocks before a coinbase output may be spent.
pub const COINBASE_MATURITY: u32 = 100;

/// Block subsidy at `height` on regtest, in satoshis.
pub fn subsidy(height: u32) -> u64 {
    let halvings = height / HALVING_INTERVAL;
    if halvings >= 64 {
        0
    } else {
        (50 * 100_000_000u64) >> halvings
    }
}

/// The coinbase transaction of a block at `height`, paying `value` to `script_pubkey`.
/// `with_witness` adds the witness reserved value (the commitment output is added by
/// [`assemble_block`]).
fn coinbase(
    height: u32,
    tag: u32,
    value: u64,
    script_pubkey: ScriptBuf,
    with_witness: bool,
) -> Transaction {
    let mut extra = PushBytesBuf::new();
    let _ = extra.extend_from_slice(&tag.to_le_bytes());
    let script_sig = Builder::new()
        .push_int(i64::from(height))
        .push_slice(extra)
        .into_script();
    let mut witness = Witness::new();
    if with_witness {
        witness.push([0u8; 32]);
    }
    Transaction {
        version: TxVersion::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig,
            sequence: Sequence::MAX,
            witness,
        }],
        output: vec![TxOut {
            value: Amount::from_sat(value),
            script_pubkey,
        }],
    }
}

/// Builds a block on `prev` at `height` holding `txs` after a coinbase that pays subsidy plus
/// `fees` to `pay_to`, and grinds the nonce until the header meets the regtest target.
#[allow(clippy::too_many_arguments)]
pub fn assemble_block(
    prev: BlockHash,
    height: u32,
    time: u32,
    version: i32,
    txs: Vec<Transaction>,
    fees: u64,
    pay_to: ScriptBuf,
    tag: u32,
) -> Block {
    let has_witness = txs
        .iter()
        .any(|t| t.input.iter().any(|i| !i.witness.is_empty()));
    let cb = coinbase(height, tag, subsidy(height) + fees, pay_to, has_witness);
    let mut txdata = Vec::with_capacity(txs.len() + 1);
    txdata.push(cb);
    txdata.extend(txs);
    let mut block = Block {
        header: Header {
            version: Version::from_consensus(version),
            prev_blockhash: prev,
            merkle_root: TxMerkleNode::all_zeros(),
            time,
            bits: CompactTarget::from_consensus(REGTEST_BITS),
            nonce: 0,
        },
        txdata,
    };
    if has_witness {
        if let Some(root) = block.witness_root() {
            let commitment = Block::compute_witness_commitment(&root, &[0u8; 32]);
            let mut data = PushBytesBuf::new();
            let _ = data.extend_from_slice(&[0xaa, 0x21, 0xa9, 0xed]);
            let _ = data.extend_from_slice(commitment.as_byte_array());
            let script = Builder::new()
                .push_opcode(OP_RETURN)
                .push_slice(data)
                .into_script();
            block.txdata[0].output.push(TxOut {
                value: Amount::ZERO,
                script_pubkey: script,
            });
        }
    }
    if let Some(root) = block.compute_merkle_root() {
        block.header.merkle_root = root;
    }
    let target = block.header.target();
    while !target.is_met_by(block.header.block_hash()) {
        block.header.nonce = block.header.nonce.wrapping_add(1);
    }
    block
}
