//! Checking and decoding the daemon's answers. Every answer is validated (JSON types, hex,
//! lengths, and that a block or transaction hashes to what was asked); anything else is
//! [`Error::BadResponse`], never a panic.

use std::str::FromStr;

use bitcoin::block::Header;
use bitcoin::consensus::encode::deserialize;
use bitcoin::{Amount, BlockHash, Transaction, Txid};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::error::Error;

/// Size of a serialized block header.
const HEADER_LEN: usize = 80;

/// `getnetworkinfo`, the parts FerrumX uses.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkInfo {
    /// e.g. 290000 for Core 29.0.
    pub version: u64,
    /// e.g. `/Satoshi:29.0.0/`.
    pub subversion: String,
    /// Minimum relay fee rate per kvB (`blockchain.relayfee` answers it in BTC).
    pub relay_fee: Amount,
    /// `incrementalfee` per kvB, when the daemon reports it.
    pub incremental_fee: Option<Amount>,
}

/// `getmempoolinfo`.
#[derive(Clone, Debug, PartialEq)]
pub struct MempoolInfo {
    /// Whether the mempool has been loaded from disk (Core ≥ 0.19; `true` when absent).
    pub loaded: bool,
    /// Transactions.
    pub size: u64,
    /// Sum of virtual sizes.
    pub bytes: u64,
    /// Memory usage.
    pub usage: u64,
    /// `maxmempool` in bytes.
    pub max_mempool: u64,
    /// The fee rate (per kvB) below which transactions are not accepted now.
    pub mempool_min_fee: Amount,
    /// `-minrelaytxfee` per kvB.
    pub min_relay_tx_fee: Amount,
}

/// `estimatesmartfee`.
#[derive(Clone, Debug, PartialEq)]
pub struct SmartFee {
    /// Fee rate per kvB; `None` when the daemon has no estimate (ElectrumX answers -1).
    pub fee_rate: Option<Amount>,
    /// The target the estimate is for (0 when there is none).
    pub blocks: u32,
    /// The daemon's explanations when there is no estimate.
    pub errors: Vec<String>,
}

/// One entry of `getchaintips`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainTip {
    pub height: u32,
    pub hash: BlockHash,
    /// Length of the branch from the active chain (0 for the active tip).
    pub branch_len: u32,
    pub status: TipStatus,
}

/// `getchaintips` status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TipStatus {
    Active,
    ValidFork,
    ValidHeaders,
    HeadersOnly,
    Invalid,
    /// A status this version does not know, as the daemon wrote it.
    Other(String),
}

impl TipStatus {
    fn parse(s: String) -> TipStatus {
        match s.as_str() {
            "active" => TipStatus::Active,
            "valid-fork" => TipStatus::ValidFork,
            "valid-headers" => TipStatus::ValidHeaders,
            "headers-only" => TipStatus::HeadersOnly,
            "invalid" => TipStatus::Invalid,
            _ => TipStatus::Other(s),
        }
    }
}

/// The JSON text of an answer (`null` when the daemon sent no result).
fn text(raw: Option<&RawValue>) -> &str {
    raw.map_or("null", RawValue::get)
}

/// Any deserializable answer.
pub(crate) fn value<T: DeserializeOwned>(raw: Option<&RawValue>, what: &str) -> Result<T, Error> {
    serde_json::from_str(text(raw)).map_err(|e| Error::bad(format!("{what}: {e}")))
}

/// A JSON string, borrowed (hex never needs escapes).
fn string<'a>(raw: Option<&'a RawValue>, what: &str) -> Result<&'a str, Error> {
    serde_json::from_str::<&str>(text(raw)).map_err(|_| Error::bad(format!("{what}: not a string")))
}

fn hash<H: FromStr>(s: &str, what: &str) -> Result<H, Error> {
    if s.len() != 64 {
        return Err(Error::bad(format!(
            "{what}: expected 64 hex digits, got {} characters",
            s.len()
        )));
    }
    H::from_str(s).map_err(|_| Error::bad(format!("{what}: not hex")))
}

/// Hex decoded with `faster-hex` (SIMD, chosen at run time): blocks come as hex from
/// `getblock`, and a scalar decoder was 3.5% of sync CPU.
fn hex_bytes(s: &str, what: &str) -> Result<Vec<u8>, Error> {
    if s.len() % 2 != 0 {
        return Err(Error::bad(format!(
            "{what}: bad hex: odd length {}",
            s.len()
        )));
    }
    let mut out = vec![0u8; s.len() / 2];
    faster_hex::hex_decode(s.as_bytes(), &mut out)
        .map_err(|e| Error::bad(format!("{what}: bad hex: {e}")))?;
    Ok(out)
}

/// A block hash (`getblockhash`, `getbestblockhash`).
pub(crate) fn block_hash(raw: Option<&RawValue>) -> Result<BlockHash, Error> {
    hash(string(raw, "block hash")?, "block hash")
}

/// A txid (`sendrawtransaction`).
pub(crate) fn txid(raw: Option<&RawValue>) -> Result<Txid, Error> {
    hash(string(raw, "txid")?, "txid")
}

/// `getblockcount`.
pub(crate) fn height(raw: Option<&RawValue>) -> Result<u32, Error> {
    value(raw, "block count")
}

/// `getblock <hash> 0`: the block's bytes, whose header must hash to `expected`. The rest is
/// parsed by the indexer.
pub(crate) fn raw_block(raw: Option<&RawValue>, expected: &BlockHash) -> Result<Vec<u8>, Error> {
    let what = "raw block";
    checked_block(hex_bytes(string(raw, what)?, what)?, expected)
}

/// A serialized block (from `getblock` or REST), whose header must hash to `expected`.
pub(crate) fn checked_block(bytes: Vec<u8>, expected: &BlockHash) -> Result<Vec<u8>, Error> {
    let what = "raw block";
    let header = bytes
        .get(..HEADER_LEN)
        .filter(|_| bytes.len() > HEADER_LEN)
        .ok_or_else(|| Error::bad(format!("{what} {expected}: only {} bytes", bytes.len())))?;
    let got = deserialize::<Header>(header)
        .map_err(|e| Error::bad(format!("{what} {expected}: {e}")))?
        .block_hash();
    if got != *expected {
        return Err(Error::bad(format!("asked for block {expected}, got {got}")));
    }
    Ok(bytes)
}

/// `getblockheader <hash> false`.
pub(crate) fn header(raw: Option<&RawValue>, expected: &BlockHash) -> Result<Header, Error> {
    let what = "block header";
    let bytes = hex_bytes(string(raw, what)?, what)?;
    if bytes.len() != HEADER_LEN {
        return Err(Error::bad(format!("{what}: {} bytes", bytes.len())));
    }
    let header: Header = deserialize(&bytes).map_err(|e| Error::bad(format!("{what}: {e}")))?;
    if header.block_hash() != *expected {
        return Err(Error::bad(format!(
            "asked for header {expected}, got {}",
            header.block_hash()
        )));
    }
    Ok(header)
}

/// `getrawtransaction <txid> false`: bytes that decode to a transaction with that txid.
pub(crate) fn raw_tx(raw: Option<&RawValue>, expected: &Txid) -> Result<Vec<u8>, Error> {
    let what = "raw transaction";
    let bytes = hex_bytes(string(raw, what)?, what)?;
    let tx: Transaction =
        deserialize(&bytes).map_err(|e| Error::bad(format!("{what} {expected}: {e}")))?;
    let got = tx.compute_txid();
    if got != *expected {
        return Err(Error::bad(format!(
            "asked for transaction {expected}, got {got}"
        )));
    }
    Ok(bytes)
}

/// `getrawtransaction <txid> true`: passed through, once known to be that transaction.
pub(crate) fn verbose_tx(raw: Option<&RawValue>, expected: &Txid) -> Result<Value, Error> {
    let v: Value = value(raw, "verbose transaction")?;
    match v.get("txid").and_then(Value::as_str) {
        Some(t) if t == expected.to_string() => Ok(v),
        Some(t) => Err(Error::bad(format!(
            "asked for transaction {expected}, got {t}"
        ))),
        None => Err(Error::bad("verbose transaction: no txid")),
    }
}

/// `getrawmempool`.
pub(crate) fn txids(raw: Option<&RawValue>) -> Result<Vec<Txid>, Error> {
    let list: Vec<&str> = value_borrowed(raw, "mempool txids")?;
    list.into_iter().map(|s| hash(s, "mempool txid")).collect()
}

fn value_borrowed<'a, T: Deserialize<'a>>(
    raw: Option<&'a RawValue>,
    what: &str,
) -> Result<T, Error> {
    serde_json::from_str(text(raw)).map_err(|e| Error::bad(format!("{what}: {e}")))
}

/// A JSON object passed through (`submitpackage`).
pub(crate) fn object(raw: Option<&RawValue>, what: &str) -> Result<Value, Error> {
    let v: Value = value(raw, what)?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(Error::bad(format!("{what}: not an object")))
    }
}

fn amount(btc: f64, what: &str) -> Result<Amount, Error> {
    Amount::from_btc(btc).map_err(|e| Error::bad(format!("{what}: {btc}: {e}")))
}

#[derive(Deserialize)]
struct RawNetworkInfo {
    version: u64,
    subversion: String,
    relayfee: f64,
    incrementalfee: Option<f64>,
}

pub(crate) fn network_info(raw: Option<&RawValue>) -> Result<NetworkInfo, Error> {
    let r: RawNetworkInfo = value(raw, "network info")?;
    Ok(NetworkInfo {
        version: r.version,
        subversion: r.subversion,
        relay_fee: amount(r.relayfee, "relayfee")?,
        incremental_fee: r
            .incrementalfee
            .map(|f| amount(f, "incrementalfee"))
            .transpose()?,
    })
}

#[derive(Deserialize)]
struct RawMempoolInfo {
    loaded: Option<bool>,
    size: u64,
    bytes: u64,
    usage: u64,
    maxmempool: u64,
    mempoolminfee: f64,
    minrelaytxfee: f64,
}

pub(crate) fn mempool_info(raw: Option<&RawValue>) -> Result<MempoolInfo, Error> {
    let r: RawMempoolInfo = value(raw, "mempool info")?;
    Ok(MempoolInfo {
        loaded: r.loaded.unwrap_or(true),
        size: r.size,
        bytes: r.bytes,
        usage: r.usage,
        max_mempool: r.maxmempool,
        mempool_min_fee: amount(r.mempoolminfee, "mempoolminfee")?,
        min_relay_tx_fee: amount(r.minrelaytxfee, "minrelaytxfee")?,
    })
}

#[derive(Deserialize)]
struct RawSmartFee {
    feerate: Option<f64>,
    #[serde(default)]
    errors: Vec<String>,
    blocks: u32,
}

pub(crate) fn smart_fee(raw: Option<&RawValue>) -> Result<SmartFee, Error> {
    let r: RawSmartFee = value(raw, "fee estimate")?;
    Ok(SmartFee {
        fee_rate: r.feerate.map(|f| amount(f, "feerate")).transpose()?,
        blocks: r.blocks,
        errors: r.errors,
    })
}

#[derive(Deserialize)]
struct RawChainTip {
    height: u32,
    hash: String,
    branchlen: u32,
    status: String,
}

pub(crate) fn chain_tips(raw: Option<&RawValue>) -> Result<Vec<ChainTip>, Error> {
    let tips: Vec<RawChainTip> = value(raw, "chain tips")?;
    tips.into_iter()
        .map(|t| {
            Ok(ChainTip {
                height: t.height,
                hash: hash(&t.hash, "chain tip hash")?,
                branch_len: t.branchlen,
                status: TipStatus::parse(t.status),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).unwrap()
    }

    #[test]
    fn bad_answers_are_errors() {
        assert!(block_hash(Some(&raw("12"))).is_err());
        assert!(block_hash(None).is_err());
        assert!(block_hash(Some(&raw("\"abcd\""))).is_err());
        let not_hex = format!("\"{}\"", "zz".repeat(32));
        assert!(block_hash(Some(&raw(&not_hex))).is_err());
        assert!(height(Some(&raw("-1"))).is_err());
        assert!(height(Some(&raw("\"5\""))).is_err());
        let genesis = bitcoin::constants::genesis_block(bitcoin::Network::Regtest);
        let hash = genesis.block_hash();
        assert!(raw_block(Some(&raw("\"00\"")), &hash).is_err());
        assert!(raw_block(Some(&raw("\"0g\"")), &hash).is_err());
        let bytes = bitcoin::consensus::serialize(&genesis);
        let hex = format!(
            "\"{}\"",
            bitcoin::hex::DisplayHex::to_lower_hex_string(&bytes)
        );
        assert_eq!(raw_block(Some(&raw(&hex)), &hash).unwrap(), bytes);
        let other = bitcoin::constants::genesis_block(bitcoin::Network::Bitcoin).block_hash();
        assert!(raw_block(Some(&raw(&hex)), &other).is_err());
        assert!(smart_fee(Some(&raw(r#"{"feerate":-1,"blocks":2}"#))).is_err());
        let fee = smart_fee(Some(&raw(r#"{"errors":["x"],"blocks":0}"#))).unwrap();
        assert_eq!(fee.fee_rate, None);
        assert!(txids(Some(&raw(r#"["00"]"#))).is_err());
        assert!(object(Some(&raw("[]")), "x").is_err());
    }
}
