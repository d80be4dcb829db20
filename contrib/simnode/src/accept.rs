//! Mempool acceptance with Core's checks, reject reasons and RPC error codes
//! (`sendrawtransaction`, `testmempoolaccept`, `submitpackage`).
//!
//! The checks run in the order of Core 29.0's `MemPoolAccept` (`PreChecks`, then
//! `ReplacementChecks`, then the script checks), so that a transaction with several problems
//! is rejected for the one Core reports. Not modelled: standardness of scripts and outputs
//! (`scriptpubkey`, `dust`, `bare-multisig`, ...), BIP 68 sequence locks, sigop-adjusted
//! sizes, TRUC (version 3) rules, the descendant limit and package feerates.

use std::collections::{BTreeSet, HashSet};

use bitcoin::hashes::Hash;
use bitcoin::script::Instruction;
use bitcoin::secp256k1::{schnorr, Message, Secp256k1, XOnlyPublicKey};
use bitcoin::sighash::{Prevouts, SighashCache, TapSighashType};
use bitcoin::{OutPoint, Script, Transaction, TxOut, Txid, Wtxid};

use crate::blockbuild::COINBASE_MATURITY;
use crate::node::Node;

/// Core's `RPC_TRANSACTION_ERROR`.
pub const RPC_TRANSACTION_ERROR: i64 = -25;
/// Core's `RPC_TRANSACTION_REJECTED`.
pub const RPC_TRANSACTION_REJECTED: i64 = -26;
/// Core's `RPC_VERIFY_ALREADY_IN_UTXO_SET`.
pub const RPC_VERIFY_ALREADY_IN_UTXO_SET: i64 = -27;

/// Core's default `maxfeerate` for `sendrawtransaction`: 0.10 BTC/kvB.
pub const DEFAULT_MAX_FEERATE: u64 = 10_000_000;
/// Core's default ancestor/descendant count limit.
pub const ANCESTOR_LIMIT: usize = 25;
/// Core's `MAX_REPLACEMENT_CANDIDATES` (BIP 125 rule 5).
pub const MAX_REPLACEMENT_CANDIDATES: usize = 100;
/// Core's `MAX_STANDARD_TX_WEIGHT`.
const MAX_STANDARD_TX_WEIGHT: u64 = 400_000;
/// Core's `MIN_STANDARD_TX_NONWITNESS_SIZE`.
const MIN_STANDARD_TX_NONWITNESS_SIZE: usize = 65;
/// Core's `MAX_MONEY`.
const MAX_MONEY: u64 = 21_000_000 * 100_000_000;
/// Core's `ScriptErrorString(SCRIPT_ERR_SIG_NULLFAIL)`: what Core reports for a wrong ECDSA
/// signature (libbitcoinconsensus does not say which script error it hit).
const NULLFAIL: &str = "Signature must be zero for failed CHECK(MULTI)SIG operation";

/// A rejection: RPC error code, Core's reject reason and optional details.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    pub code: i64,
    pub reason: String,
    pub details: Option<String>,
}

impl Reject {
    /// A rejection with its RPC error code.
    pub fn new(code: i64, reason: &str, details: Option<String>) -> Reject {
        Reject {
            code,
            reason: reason.to_string(),
            details,
        }
    }

    /// A mempool policy or consensus rejection (`RPC_TRANSACTION_REJECTED`, -26).
    pub fn rejected(reason: &str, details: Option<String>) -> Reject {
        Reject::new(RPC_TRANSACTION_REJECTED, reason, details)
    }

    /// Whether Core classes it `TX_MISSING_INPUTS` (`testmempoolaccept` says "missing-inputs").
    pub fn is_missing_inputs(&self) -> bool {
        self.reason == "bad-txns-inputs-missingorspent"
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

/// How one transaction is validated.
#[derive(Clone, Copy, Debug, Default)]
pub struct AcceptOptions {
    /// `maxfeerate` in sat/kvB (0 = no limit), checked after everything else as Core's
    /// `BroadcastTransaction` does.
    pub max_feerate: u64,
    /// Validate only; the mempool is left as it is.
    pub test_only: bool,
    /// Reject conflicts with "bip125-replacement-disallowed" instead of trying a replacement
    /// (Core's package test-accept).
    pub no_replacement: bool,
    /// `submitpackage`'s `maxfeerate` (sat/kvB, 0 = none): a higher fee rate is rejected as
    /// "max feerate exceeded" right after Core's `PreChecks`.
    pub client_max_feerate: u64,
}

/// Fee rate in sat/kvB as Core's `CFeeRate(fee, vsize)`.
pub fn feerate(fee: u64, vsize: u64) -> u64 {
    (fee * 1000).checked_div(vsize).unwrap_or(0)
}

/// Core 29.0's `CFeeRate::GetFee(vsize)`: the fee at `sat_per_kvb` for `vsize`, rounded up,
/// at least 1 sat when the rate is not zero.
pub fn fee_at(sat_per_kvb: u64, vsize: u64) -> u64 {
    let fee = (u128::from(sat_per_kvb) * u128::from(vsize)).div_ceil(1000);
    let fee = u64::try_from(fee).unwrap_or(u64::MAX);
    if fee == 0 && vsize != 0 && sat_per_kvb > 0 {
        1
    } else {
        fee
    }
}

/// Whether a fee exceeds `maxfeerate` (0 = no limit) as Core checks it.
pub fn exceeds_max_fee(fee: u64, vsize: u64, max_feerate: u64) -> bool {
    let max_fee = fee_at(max_feerate, vsize);
    max_fee > 0 && fee > max_fee
}

/// `CFeeRate::ToString()`: "0.00001000 BTC/kvB".
pub fn feerate_string(sat_per_kvb: u64) -> String {
    format!("{} BTC/kvB", crate::json::format_amount(sat_per_kvb as i64))
}

/// Core's `FormatMoney`: like `ValueFromAmount` but with trailing zeros trimmed to at least
/// two decimals ("0.00001", "1.00", "0.1234"), as in reject details.
pub fn format_money(sats: u64) -> String {
    let mut s = format!("{}.{:08}", sats / 100_000_000, sats % 100_000_000);
    while s.ends_with('0') && s.len() >= 3 && s.as_bytes()[s.len() - 3] != b'.' {
        s.pop();
    }
    s
}

/// Core's `CScript::IsUnspendable() || !HasValidOps()`: the outputs `maxburnamount` limits.
pub fn is_burn(script: &Script) -> bool {
    let b = script.as_bytes();
    if b.first() == Some(&0x6a) || b.len() > 10_000 {
        return true;
    }
    script.instructions().any(|i| match i {
        Err(_) => true,
        Ok(Instruction::Op(op)) => op.to_u8() > 0xb9,
        Ok(Instruction::PushBytes(_)) => false,
    })
}

impl Node {
    /// Validates `tx` against the chain and mempool as Core's `AcceptToMemoryPool` does and,
    /// unless `test_only`, adds it (evicting what it replaces). `max_feerate` (sat/kvB, 0 = no
    /// limit) is `sendrawtransaction`'s `maxfeerate`. A transaction already in the mempool
    /// (same wtxid) is `Ok` with `already` set.
    pub fn accept_tx(
        &mut self,
        tx: &Transaction,
        max_feerate: u64,
        test_only: bool,
    ) -> Result<Accepted, Reject> {
        self.accept_tx_with(
            tx,
            AcceptOptions {
                max_feerate,
                test_only,
                ..AcceptOptions::default()
            },
        )
    }

    /// [`Node::accept_tx`] with all options.
    pub fn accept_tx_with(
        &mut self,
        tx: &Transaction,
        opts: AcceptOptions,
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
        }
        // CheckTransaction.
        if tx.input.is_empty() {
            return Err(Reject::rejected("bad-txns-vin-empty", None));
        }
        if tx.output.is_empty() {
            return Err(Reject::rejected("bad-txns-vout-empty", None));
        }
        if tx.base_size() * 4 > 4_000_000 {
            return Err(Reject::rejected("bad-txns-oversize", None));
        }
        let mut value_out = 0u64;
        for o in &tx.output {
            let v = o.value.to_sat();
            if v > MAX_MONEY {
                return Err(Reject::rejected("bad-txns-vout-toolarge", None));
            }
            value_out += v;
            if value_out > MAX_MONEY {
                return Err(Reject::rejected("bad-txns-txouttotal-toolarge", None));
            }
        }
        let mut seen = HashSet::new();
        if !tx.input.iter().all(|i| seen.insert(i.previous_output)) {
            return Err(Reject::rejected("bad-txns-inputs-duplicate", None));
        }
        if tx.is_coinbase() {
            return Err(Reject::rejected("coinbase", None));
        }
        if tx.input.iter().any(|i| i.previous_output.is_null()) {
            return Err(Reject::rejected("bad-txns-prevout-null", None));
        }
        // IsStandardTx (the transaction-level part).
        if !(1..=3).contains(&tx.version.0) {
            return Err(Reject::rejected("version", None));
        }
        if tx.weight().to_wu() > MAX_STANDARD_TX_WEIGHT {
            return Err(Reject::rejected("tx-size", None));
        }
        if tx.base_size() < MIN_STANDARD_TX_NONWITNESS_SIZE {
            return Err(Reject::rejected("tx-size-small", None));
        }
        let next_height = self.tip_height() + 1;
        if tx.is_lock_time_enabled() && !lock_time_final(tx, next_height) {
            return Err(Reject::rejected("non-final", None));
        }
        if self.mempool.contains(&txid) {
            return Err(Reject::rejected(
                "txn-same-nonwitness-data-in-mempool",
                None,
            ));
        }
        // Conflicts with mempool spends.
        let mut conflicts: BTreeSet<Txid> = BTreeSet::new();
        for input in &tx.input {
            if let Some(other) = self.mempool.spender(&input.previous_output) {
                if opts.no_replacement {
                    return Err(Reject::rejected("bip125-replacement-disallowed", None));
                }
                conflicts.insert(other);
            }
        }
        // Do all inputs exist (UTXO set or mempool outputs)?
        let mut spent: Vec<(TxOut, Option<(u32, bool)>)> = Vec::with_capacity(tx.input.len());
        for input in &tx.input {
            let op = input.previous_output;
            if let Some(c) = self.coin(&op) {
                spent.push((c.txout.clone(), Some((c.height, c.coinbase))));
            } else if let Some(o) = self
                .mempool
                .get(&op.txid)
                .and_then(|e| e.tx.output.get(op.vout as usize))
            {
                spent.push((o.clone(), None));
            } else {
                // Are the inputs missing because the transaction is already confirmed?
                let known = (0..tx.output.len() as u32)
                    .any(|vout| self.coin(&OutPoint::new(txid, vout)).is_some());
                if known {
                    return Err(Reject::rejected("txn-already-known", None));
                }
                return Err(Reject::new(
                    RPC_TRANSACTION_ERROR,
                    "bad-txns-inputs-missingorspent",
                    None,
                ));
            }
        }
        // CheckTxInputs.
        let mut value_in = 0u64;
        for (out, origin) in &spent {
            if let Some((height, true)) = origin {
                if next_height - height < COINBASE_MATURITY {
                    return Err(Reject::rejected(
                        "bad-txns-premature-spend-of-coinbase",
                        Some(format!(
                            "tried to spend coinbase at depth {}",
                            next_height - height
                        )),
                    ));
                }
            }
            value_in += out.value.to_sat();
            if value_in > MAX_MONEY {
                return Err(Reject::rejected("bad-txns-inputvalues-outofrange", None));
            }
        }
        if value_in < value_out {
            return Err(Reject::rejected(
                "bad-txns-in-belowout",
                Some(format!(
                    "value in ({}) < value out ({})",
                    format_money(value_in),
                    format_money(value_out)
                )),
            ));
        }
        let fee = value_in - value_out;
        let min_fee = fee_at(self.core.min_relay_feerate(), vsize);
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
        // Spending an output of a transaction it replaces is impossible (Core's
        // `EntriesAndTxidsDisjoint`: the first ancestor, in txid order, that is a conflict).
        if let Some(c) = ancestors.iter().find(|a| conflicts.contains(*a)) {
            return Err(Reject::rejected(
                "bad-txns-spends-conflicting-tx",
                Some(format!("{txid} spends conflicting transaction {c}")),
            ));
        }
        if opts.client_max_feerate > 0 && feerate(fee, vsize) > opts.client_max_feerate {
            return Err(Reject::rejected("max feerate exceeded", None));
        }
        let replaced = if conflicts.is_empty() {
            BTreeSet::new()
        } else if self.core.cluster_mempool() {
            self.replacement_checks_v31(&txid, fee, tx.weight().to_wu(), vsize, &conflicts)?
        } else {
            self.replacement_checks(tx, &txid, fee, vsize, &conflicts)?
        };
        verify_scripts(tx, &spent.iter().map(|s| s.0.clone()).collect::<Vec<_>>()).map_err(
            |why| {
                Reject::rejected(
                    &format!("mandatory-script-verify-flag-failed ({why})"),
                    None,
                )
            },
        )?;
        if exceeds_max_fee(fee, vsize, opts.max_feerate) {
            return Err(Reject::new(
                RPC_TRANSACTION_ERROR,
                "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)",
                None,
            ));
        }
        if !opts.test_only {
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
/// (sighash over all prevouts, Schnorr signature on the output key). The error is the text of
/// Core's `ScriptErrorString` for the failure.
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
            // libbitcoinconsensus only says that the script failed; a wrong ECDSA signature is
            // what Core reports most often (NULLFAIL under its standard flags).
            .map_err(|_| NULLFAIL.to_string())?;
        }
    }
    Ok(())
}
