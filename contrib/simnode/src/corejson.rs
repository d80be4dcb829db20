//! Bitcoin Core 29.0's verbose JSON shapes: `getblockheader`, `getblock` (verbosity 0–3)
//! and `getrawtransaction` (verbosity 0–2), built from `bitcoin` types plus the chain
//! context only a node knows (height, confirmations, chain work, median time, undo data).
//!
//! These are pure functions: the caller looks the context up and passes it in. Key order,
//! number formats and which keys are left out follow Core exactly, so that
//! `to_text()` of the result is byte-for-byte what Core 29.0 prints (checked against the
//! recordings in `tests/core_format.rs`).
//!
//! Script details (`asm`, `desc`, `type`, `address`) live in [`script`].

pub mod script;

use bitcoin::block::Header;
use bitcoin::consensus::encode::serialize_hex;
use bitcoin::hex::DisplayHex;
use bitcoin::{Block, BlockHash, Network, OutPoint, Transaction, TxOut};

use crate::json::Json;

pub use script::{
    descriptor_checksum, infer_descriptor, output_type, script_address, script_pubkey_json,
    script_to_asm, OutputType,
};

/// What a node knows about a block beyond its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockCtx {
    /// Height of the block.
    pub height: u32,
    /// `tip_height - height + 1` on the active chain, `-1` for a stale block.
    pub confirmations: i64,
    /// Total work of the chain up to and including this block, big-endian (printed as 64
    /// hex digits). See [`chainwork_bytes`].
    pub chainwork: [u8; 32],
    /// Median time of the last 11 blocks ending with this one. See [`median_time_past`].
    pub median_time: u32,
    /// The next block on the active chain; `None` at the tip and for stale blocks.
    pub next_hash: Option<BlockHash>,
    /// Network the addresses are encoded for.
    pub network: Network,
}

/// A spent output as Core's undo data holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prevout {
    /// The output that was spent (value and scriptPubKey).
    pub txout: TxOut,
    /// Height of the block that created it.
    pub height: u32,
    /// Whether it was created by a coinbase transaction (`"generated"`).
    pub coinbase: bool,
}

/// Where a confirmed (or once-confirmed) transaction sits, for `getrawtransaction`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxCtx {
    /// The block holding the transaction.
    pub blockhash: BlockHash,
    /// Confirmations of that block; `0` when the block is stale (not on the active chain).
    pub confirmations: i64,
    /// The block's time. `None` leaves out `"time"` and `"blocktime"`, as Core does for a
    /// transaction found only in a stale block.
    pub blocktime: Option<u32>,
}

/// Looks up the output an input spends (undo data); `None` when unknown.
pub type PrevoutLookup<'a> = &'a dyn Fn(&OutPoint) -> Option<Prevout>;

/// A prevout lookup that knows nothing (no fees, no `prevout` objects).
pub fn no_prevouts(_: &OutPoint) -> Option<Prevout> {
    None
}

/// `getblockheader <hash> false`: the 80-byte header as hex.
pub fn header_hex(header: &Header) -> String {
    serialize_hex(header)
}

/// `getblockheader <hash> true` (Core's `blockheaderToJSON`). `n_tx` is the number of
/// transactions in the block.
pub fn header_verbose(header: &Header, n_tx: usize, ctx: &BlockCtx) -> Json {
    let version = header.version.to_consensus();
    let bits = header.bits.to_consensus();
    let mut out = Json::obj()
        .with("hash", header.block_hash().to_string())
        .with("confirmations", ctx.confirmations)
        .with("height", ctx.height)
        .with("version", version)
        .with("versionHex", format!("{:08x}", version as u32))
        .with("merkleroot", header.merkle_root.to_string())
        .with("time", header.time)
        .with("mediantime", ctx.median_time)
        .with("nonce", header.nonce)
        .with("bits", format!("{bits:08x}"))
        .with("target", target_from_bits(bits).to_lower_hex_string())
        .with("difficulty", difficulty(bits))
        .with("chainwork", ctx.chainwork.to_lower_hex_string())
        .with("nTx", n_tx);
    if ctx.height > 0 {
        out.push("previousblockhash", header.prev_blockhash.to_string());
    }
    if let Some(next) = ctx.next_hash {
        out.push("nextblockhash", next.to_string());
    }
    out
}

/// `getblock <hash> <verbosity>` (Core's `blockToJSON`).
///
/// - 0: the serialized block as a hex string;
/// - 1: header fields plus `strippedsize`, `size`, `weight` and the txids;
/// - 2: every transaction in full, with `"fee"` for those whose prevouts `prevout` knows;
/// - 3 (and above): as 2, plus a `"prevout"` object in every input.
///
/// Core has undo data for a whole block or none; here each non-coinbase transaction gets
/// fee and prevouts only if `prevout` resolves all of its inputs.
pub fn block_verbose(
    block: &Block,
    ctx: &BlockCtx,
    verbosity: u8,
    prevout: PrevoutLookup<'_>,
) -> Json {
    if verbosity == 0 {
        return Json::Str(serialize_hex(block));
    }
    let stripped = 80
        + compact_size_len(block.txdata.len())
        + block
            .txdata
            .iter()
            .map(Transaction::base_size)
            .sum::<usize>();
    let txs = block
        .txdata
        .iter()
        .map(|tx| {
            if verbosity == 1 {
                return Json::Str(tx.compute_txid().to_string());
            }
            let undo = undo_for(tx, prevout);
            tx_details(tx, ctx.network, undo.as_deref(), verbosity >= 3)
        })
        .collect::<Vec<_>>();
    header_verbose(&block.header, block.txdata.len(), ctx)
        .with("strippedsize", stripped)
        .with("size", block.total_size())
        .with("weight", block.weight().to_wu())
        .with("tx", Json::Arr(txs))
}

/// `getrawtransaction <txid> <verbosity>` (Core's `TxToJSON`).
///
/// - 0: the serialized transaction as a hex string;
/// - 1: the decoded transaction, then `blockhash`, `confirmations`, `time`, `blocktime`
///   from `ctx` (`None` for a mempool transaction: none of these keys);
/// - 2: as 1, plus `"fee"` and a `"prevout"` object per input, when the transaction is in
///   a block (`ctx` given), is not a coinbase, and `prevout` resolves every input;
///   otherwise the same as 1, as Core does.
pub fn tx_verbose(
    tx: &Transaction,
    network: Network,
    ctx: Option<&TxCtx>,
    verbosity: u8,
    prevout: PrevoutLookup<'_>,
) -> Json {
    if verbosity == 0 {
        return Json::Str(serialize_hex(tx));
    }
    let undo = if verbosity >= 2 && ctx.is_some() {
        undo_for(tx, prevout)
    } else {
        None
    };
    let mut out = tx_details(tx, network, undo.as_deref(), undo.is_some());
    if let Some(ctx) = ctx {
        out.push("blockhash", ctx.blockhash.to_string());
        out.push("confirmations", ctx.confirmations);
        if let Some(t) = ctx.blocktime {
            out.push("time", t);
            out.push("blocktime", t);
        }
    }
    out
}

/// The spent outputs of every input of `tx`, or `None` for a coinbase or when any is
/// unknown.
fn undo_for(tx: &Transaction, prevout: PrevoutLookup<'_>) -> Option<Vec<Prevout>> {
    if tx.is_coinbase() {
        return None;
    }
    tx.input
        .iter()
        .map(|input| prevout(&input.previous_output))
        .collect()
}

/// Core's `TxToUniv` with no block hash and with hex: `txid` … `vout`, `fee` (with undo
/// data), `hex`.
fn tx_details(
    tx: &Transaction,
    network: Network,
    undo: Option<&[Prevout]>,
    show_prevout: bool,
) -> Json {
    let weight = tx.weight().to_wu();
    let coinbase = tx.is_coinbase();
    let vin = tx
        .input
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let mut entry = if coinbase {
                Json::obj().with(
                    "coinbase",
                    input.script_sig.as_bytes().to_lower_hex_string(),
                )
            } else {
                let sig = input.script_sig.as_bytes();
                Json::obj()
                    .with("txid", input.previous_output.txid.to_string())
                    .with("vout", input.previous_output.vout)
                    .with(
                        "scriptSig",
                        Json::obj()
                            .with("asm", script_to_asm(sig, true))
                            .with("hex", sig.to_lower_hex_string()),
                    )
            };
            if !input.witness.is_empty() {
                let items = input
                    .witness
                    .iter()
                    .map(|item| Json::Str(item.to_lower_hex_string()))
                    .collect::<Vec<_>>();
                entry.push("txinwitness", Json::Arr(items));
            }
            if let (true, Some(p)) = (show_prevout, undo.and_then(|u| u.get(i))) {
                entry.push(
                    "prevout",
                    Json::obj()
                        .with("generated", p.coinbase)
                        .with("height", p.height)
                        .with("value", Json::Amount(sats(&p.txout)))
                        .with(
                            "scriptPubKey",
                            script_pubkey_json(&p.txout.script_pubkey, network),
                        ),
                );
            }
            entry.with("sequence", input.sequence.0)
        })
        .collect::<Vec<_>>();
    let vout = tx
        .output
        .iter()
        .enumerate()
        .map(|(n, out)| {
            Json::obj()
                .with("value", Json::Amount(sats(out)))
                .with("n", n)
                .with(
                    "scriptPubKey",
                    script_pubkey_json(&out.script_pubkey, network),
                )
        })
        .collect::<Vec<_>>();
    let mut out = Json::obj()
        .with("txid", tx.compute_txid().to_string())
        .with("hash", tx.compute_wtxid().to_string())
        // Core 28+ keeps the version as uint32 and prints it unsigned.
        .with("version", tx.version.0 as u32)
        .with("size", tx.total_size())
        .with("vsize", weight.div_ceil(4))
        .with("weight", weight)
        .with("locktime", tx.lock_time.to_consensus_u32())
        .with("vin", Json::Arr(vin))
        .with("vout", Json::Arr(vout));
    if let Some(undo) = undo {
        let spent: i64 = undo.iter().map(|p| sats(&p.txout)).sum();
        let created: i64 = tx.output.iter().map(sats).sum();
        out.push("fee", Json::Amount(spent - created));
    }
    out.with("hex", serialize_hex(tx))
}

fn sats(out: &TxOut) -> i64 {
    i64::try_from(out.value.to_sat()).unwrap_or(i64::MAX)
}

fn compact_size_len(n: usize) -> usize {
    match n {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// The target encoded by compact `bits`, big-endian (what Core prints as `"target"`).
/// Bits beyond 256 are dropped; the sign bit is ignored.
pub fn target_from_bits(bits: u32) -> [u8; 32] {
    let mut target = [0u8; 32];
    let exponent = (bits >> 24) as usize;
    let mantissa = bits & 0x007f_ffff;
    if exponent <= 3 {
        let value = mantissa >> (8 * (3 - exponent));
        target[28..].copy_from_slice(&value.to_be_bytes());
    } else {
        // Mantissa byte k (0 = least significant) lands at little-endian byte exponent-3+k.
        for k in 0..3 {
            let le_index = exponent - 3 + k;
            if le_index < 32 {
                target[31 - le_index] = (mantissa >> (8 * k)) as u8;
            }
        }
    }
    target
}

/// Core's `GetDifficulty`: how many times harder than difficulty 1 (bits `1d00ffff`).
pub fn difficulty(bits: u32) -> f64 {
    let mut shift = (bits >> 24) & 0xff;
    let mut diff = f64::from(0xffff) / f64::from(bits & 0x00ff_ffff);
    while shift < 29 {
        diff *= 256.0;
        shift += 1;
    }
    while shift > 29 {
        diff /= 256.0;
        shift -= 1;
    }
    diff
}

/// Total chain work as the big-endian 32 bytes of [`BlockCtx::chainwork`]. In regtest
/// every block is worth 2, so the work at height `h` is `2 * (h + 1)`.
pub fn chainwork_bytes(total_work: u128) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[16..].copy_from_slice(&total_work.to_be_bytes());
    out
}

/// Core's `GetMedianTimePast`: the median of the times of a block and its up to 10
/// ancestors. `times` holds them in any order (only the last 11 are used if more are
/// given, so a window ending at the block works); 0 for an empty slice.
pub fn median_time_past(times: &[u32]) -> u32 {
    let mut window: Vec<u32> = times[times.len().saturating_sub(11)..].to_vec();
    window.sort_unstable();
    window.get(window.len() / 2).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regtest_target_and_difficulty() {
        assert_eq!(
            target_from_bits(0x207f_ffff).to_lower_hex_string(),
            "7fffff0000000000000000000000000000000000000000000000000000000000"
        );
        assert_eq!(
            crate::json::format_double(difficulty(0x207f_ffff)),
            "4.656542373906925e-10"
        );
        assert_eq!(difficulty(0x1d00_ffff), 1.0);
        assert_eq!(
            target_from_bits(0x1d00_ffff).to_lower_hex_string(),
            "00000000ffff0000000000000000000000000000000000000000000000000000"
        );
        assert_eq!(target_from_bits(0x0300_1234)[29..], [0x00, 0x12, 0x34]);
        assert_eq!(target_from_bits(0x0212_3456)[30..], [0x12, 0x34]);
    }

    #[test]
    fn chainwork_and_median() {
        assert_eq!(
            chainwork_bytes(224).to_lower_hex_string(),
            "00000000000000000000000000000000000000000000000000000000000000e0"
        );
        assert_eq!(median_time_past(&[5]), 5);
        assert_eq!(median_time_past(&[3, 1, 2]), 2);
        assert_eq!(median_time_past(&[1, 2, 3, 4]), 3);
        let times: Vec<u32> = (0..20).collect();
        assert_eq!(median_time_past(&times), 14);
        assert_eq!(median_time_past(&[]), 0);
    }

    #[test]
    fn compact_sizes() {
        assert_eq!(compact_size_len(0), 1);
        assert_eq!(compact_size_len(252), 1);
        assert_eq!(compact_size_len(253), 3);
        assert_eq!(compact_size_len(65_536), 5);
    }
}
