//! Mempool acceptance with Core's checks, reject reasons and RPC error codes
//! (`sendrawtransaction`, `testmempoolaccept`, `submitpackage`).

use std::collections::{BTreeSet, HashSet};

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{schnorr, Message, Secp256k1, XOnlyPublicKey};
use bitcoin::sighash::{Prevouts, SighashCache, TapSighashType};
use bitcoin::{Transaction, TxOut, Txid, Wtxid};

use crate::blockbuild::COINBASE_MATURITY;
use crate::json::format_amount;
use crate::node::Node;

/// Core's `RPC_TRANSACTION_ERROR`.
pub const RPC_TRANSACTION_ERROR: i64 = -25;
/// Core's `RPC_TRANSACTION_REJECTED`.
pub const RPC_TRANSACTION_REJECTED: i64 = -26;
/// Core's `RPC_VERIFY_ALREADY_IN_UTXO_SET`.
pub const RPC_VERIFY_ALREADY_IN_UTXO_SET: i64 = -27;

/// Minimum relay fee and incremental relay fee, sat/kvB (Core's defaults).
pub const MIN_RELAY_FEERATE: u64 = 1_000;
/// Core's default `maxfeerate` for `sendrawtransaction`: 0.10 BTC/kvB.
pub const DEFAULT_MAX_FEERATE: u64 = 10_000_000;
/// Core's default ancestor/descendant count limit.
pub const ANCESTOR_LIMIT: usize = 25;

/// A rejection: RPC error code, Core's reject reason and optional details.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    pub code: i64,
    pub reason: String,
    pub details: Option<String>,
}

impl Reject {
    fn new(code: i64, reason: &str, details: Option<String>) -> Reject {
        Reject {
            code,
            reason: reason.to_string(),
            details,
        }
    }

    fn rejected(reason: &str, details: Option<String>) -> Reject {
        Reject::new(RPC_TRANSACTION_REJECTED, reason, details)
    }

    /// The RPC error message: `reason` or `reason, details` (Core's `ValidationState::ToString`).
    pub fn message(&self) -> String {
        match &self.details {
            Some(d) => format!("{}, {}", self.reason, d),
            None => self.reason.clone(),
        }
    }
}

/// A transaction that was (or would be) accepted.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub txid: Txid,
    pub wtxid: Wtxid,
    pub vsize: u64,
    pub fee: u64,
    /// Mempool transactions it replaced (with their descendants).
    pub replaced: Vec<Txid>,
    /// Whether it was already in the mempool.
    pub already: bool,
}

/// Fee rate in sat/kvB as Core's `CFeeRate(fee, vsize)`.
pub fn feerate(fee: u64, vsize: u64) -> u64 {
    (fee * 1000).checked_div(vsize).unwrap_or(0)
}

/// `CFeeRate::ToString()`: "0.00001000 BTC/kvB".
pub fn feerate_string(sat_per_kvb: u64) -> String {
    format!("{} BTC/kvB", format_amount(sat_per_kvb as i64))
}

impl Node {
    /// Validates `tx` against the chain and mempool as Core's `AcceptToMemoryPool` does and,
    /// unless `test_only`, adds it (evicting what it replaces). `max_feerate` (sat/kvB, 0 = no
    /// limit) is `sendrawtransaction`'s `maxfeerate`.
    pub fn accept_tx(
        &mut self,
        tx: &Transaction,
        max_feerate: u64,
        test_only: bool,
    ) -> Result<Accepted, Reject> {
        let txid = tx.compute_txid();
        let wtxid = tx.compute_wtxid();
        let vsize = tx.vsize() as u64;
        if let Some(e) = self.mempool.get(&txid) {
            if e.wtxid == wtxid {
                return Ok(Accepted {
                    txid,
                    wtxid,
                    vsize: e.vsize,
                    fee: e.fee,
                    replaced: Vec::new(),
                    already: true,
                });
            }
            return Err(Reject::rejected(
                "txn-same-nonwitness-data-in-mempool",
                None,
            ));
        }
        for vout in 0..tx.output.len() as u32 {
            if self.coin(&bitcoin::OutPoint::new(txid, vout)).is_some() {
                return Err(Reject::new(
                    RPC_VERIFY_ALREADY_IN_UTXO_SET,
                    "Transaction outputs already in utxo set",
                    None,
                ));
            }
        }
        if tx.output.is_empty() {
            return Err(Reject::rejected("bad-txns-vout-empty", None));
        }
        if tx.is_coinbase() {
            return Err(Reject::rejected("coinbase", None));
        }
        let mut seen = HashSet::new();
        if !tx.input.iter().all(|i| seen.insert(i.previous_output)) {
            return Err(Reject::rejected("bad-txns-inputs-duplicate", None));
        }
        let next_height = self.tip_height() + 1;
        if !tx.is_lock_time_enabled() || lock_time_final(tx, next_height) {
            // final
        } else {
            return Err(Reject::rejected("non-final", None));
        }
        // Inputs: UTXO set or mempool outputs; conflicts with mempool spends.
        let mut spent = Vec::with_capacity(tx.input.len());
        let mut conflicts: BTreeSet<Txid> = BTreeSet::new();
        let mut value_in = 0u64;
        for input in &tx.input {
            let op = input.previous_output;
            if let Some(other) = self.mempool.spender(&op) {
                conflicts.insert(other);
            }
            let out: TxOut = if let Some(c) = self.coin(&op) {
                if c.coinbase && next_height - c.height < COINBASE_MATURITY {
                    return Err(Reject::rejected(
                        "bad-txns-premature-spend-of-coinbase",
                        Some(format!(
                            "tried to spend coinbase at depth {}",
                            next_height - c.height
                        )),
                    ));
                }
                c.txout.clone()
            } else if let Some(o) = self
                .mempool
                .get(&op.txid)
                .and_then(|e| e.tx.output.get(op.vout as usize))
            {
                o.clone()
            } else {
                return Err(Reject::new(
                    RPC_TRANSACTION_ERROR,
                    "bad-txns-inputs-missingorspent",
                    None,
                ));
            };
            value_in += out.value.to_sat();
            spent.push(out);
        }
        // Spending an output of a transaction it conflicts with is impossible.
        for c in &conflicts {
            let mut doomed = self.mempool.descendants(c);
            doomed.insert(*c);
            if tx
                .input
                .iter()
                .any(|i| doomed.contains(&i.previous_output.txid))
            {
                return Err(Reject::rejected("bad-txns-spends-conflicting-tx", None));
            }
        }
        let value_out: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
        if value_in < value_out {
            return Err(Reject::rejected(
                "bad-txns-in-belowout",
                Some(format!(
                    "value in ({}) < value out ({})",
                    format_amount(value_in as i64),
                    format_amount(value_out as i64)
                )),
            ));
        }
        let fee = value_in - value_out;
        let min_fee = MIN_RELAY_FEERATE * vsize / 1000;
        if fee < min_fee {
            return Err(Reject::rejected(
                "min relay fee not met",
                Some(format!("{fee} < {min_fee}")),
            ));
        }
        // Ancestor limit.
        let parents: BTreeSet<Txid> = tx
            .input
            .iter()
            .map(|i| i.previous_output.txid)
            .filter(|t| self.mempool.contains(t))
            .collect();
        let mut ancestors = parents.clone();
        for p in &parents {
            ancestors.extend(self.mempool.ancestors(p));
        }
        if ancestors.len() + 1 > ANCESTOR_LIMIT {
            return Err(Reject::rejected(
                "too-long-mempool-chain",
                Some(format!(
                    "too many unconfirmed ancestors [limit: {ANCESTOR_LIMIT}]"
                )),
            ));
        }
        // Replacement (full RBF): higher fee rate than each conflict, and pays for all.
        let mut replaced: BTreeSet<Txid> = BTreeSet::new();
        if !conflicts.is_empty() {
            let new_rate = feerate(fee, vsize);
            for c in &conflicts {
                if let Some(e) = self.mempool.get(c) {
                    let old_rate = feerate(e.fee, e.vsize);
                    if new_rate <= old_rate {
                        return Err(Reject::rejected(
                            "insufficient fee",
                            Some(format!(
                                "rejecting replacement {txid}; new feerate {} <= old feerate {}",
                                feerate_string(new_rate),
                                feerate_string(old_rate)
                            )),
                        ));
                    }
                }
                replaced.insert(*c);
                replaced.extend(self.mempool.descendants(c));
            }
            let old_fees: u64 = replaced
                .iter()
                .filter_map(|t| self.mempool.get(t))
                .map(|e| e.fee)
                .sum();
            if fee < old_fees {
                return Err(Reject::rejected(
                    "insufficient fee",
                    Some(format!(
                        "rejecting replacement {txid}, less fees than conflicting txs; {} < {}",
                        format_amount(fee as i64),
                        format_amount(old_fees as i64)
                    )),
                ));
            }
            let needed = MIN_RELAY_FEERATE * vsize / 1000;
            if fee - old_fees < needed {
                return Err(Reject::rejected(
                    "insufficient fee",
                    Some(format!(
                        "rejecting replacement {txid}, not enough additional fees to relay; {} < {}",
                        format_amount((fee - old_fees) as i64),
                        format_amount(needed as i64)
                    )),
                ));
            }
        }
        verify_scripts(tx, &spent).map_err(|why| {
            Reject::rejected(
                "mandatory-script-verify-flag-failed",
                Some(format!("({why})"))
                    .map(|s| s.trim_matches(|c| c == '(' || c == ')').to_string()),
            )
        })?;
        if max_feerate > 0 && feerate(fee, vsize) > max_feerate {
            return Err(Reject::new(
                RPC_TRANSACTION_ERROR,
                "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)",
                None,
            ));
        }
        if !test_only {
            for r in &replaced {
                self.mempool.remove_one(r);
            }
            self.insert_mempool(tx.clone(), fee, true);
        }
        Ok(Accepted {
            txid,
            wtxid,
            vsize,
            fee,
            replaced: replaced.into_iter().collect(),
            already: false,
        })
    }
}

fn lock_time_final(tx: &Transaction, next_height: u32) -> bool {
    use bitcoin::absolute::LockTime;
    match tx.lock_time {
        LockTime::Blocks(h) => h.to_consensus_u32() < next_height,
        // Time locks: the stand-in's clock is far past any generated time lock.
        LockTime::Seconds(_) => true,
    }
}

/// Verifies every input's script: libbitcoinconsensus (Core's own interpreter, pre-taproot
/// rules) for everything but taproot key-path spends, which are checked here against BIP 341
/// (sighash over all prevouts, Schnorr signature on the output key).
pub fn verify_scripts(tx: &Transaction, spent: &[TxOut]) -> Result<(), String> {
    let raw = bitcoin::consensus::serialize(tx);
    let secp = Secp256k1::verification_only();
    let mut cache = SighashCache::new(tx);
    for (i, out) in spent.iter().enumerate() {
        if out.script_pubkey.is_p2tr() {
            let w = &tx.input[i].witness;
            if w.len() != 1 {
                // Script-path spends are not verified by the stand-in.
                continue;
            }
            let sig_bytes = w.nth(0).unwrap_or_default();
            let (sig, ty) = match sig_bytes.len() {
                64 => (sig_bytes, TapSighashType::Default),
                65 => (
                    &sig_bytes[..64],
                    TapSighashType::from_consensus_u8(sig_bytes[64])
                        .map_err(|_| "Invalid Schnorr signature hash type".to_string())?,
                ),
                _ => return Err("Invalid Schnorr signature size".to_string()),
            };
            let sig = schnorr::Signature::from_slice(sig)
                .map_err(|_| "Invalid Schnorr signature".to_string())?;
            let key = XOnlyPublicKey::from_slice(&out.script_pubkey.as_bytes()[2..34])
                .map_err(|_| "Invalid Schnorr signature".to_string())?;
            let h = cache
                .taproot_key_spend_signature_hash(i, &Prevouts::All(spent), ty)
                .map_err(|e| e.to_string())?;
            let msg = Message::from_digest(h.to_byte_array());
            secp.verify_schnorr(&sig, &msg, &key)
                .map_err(|_| "Invalid Schnorr signature".to_string())?;
        } else {
            bitcoin::consensus::validation::verify_script_with_flags(
                &out.script_pubkey,
                i,
                out.value,
                &raw,
                bitcoinconsensus::VERIFY_ALL,
            )
            .map_err(|e| format!("script verification failed: {e}"))?;
        }
    }
    Ok(())
}
