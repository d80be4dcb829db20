//! Paying arbitrary output scripts from the stand-in's wallet: how tests fund addresses of an
//! outside wallet (e.g. the real Electrum wallet) with real, signed transactions.

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::Secp256k1;
use bitcoin::transaction::Version;
use bitcoin::{Amount, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness};

use crate::gen::{Coin, MIN_OUTPUT};
use crate::node::Node;
use crate::wallet::{sign_transaction, Address};

/// Why a payment could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FundError {
    #[error("the stand-in's wallet has too few confirmed coins to pay {0} sat")]
    TooPoor(u64),
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("the stand-in's mempool rejected the payment: {0}")]
    Rejected(String),
}

/// Pays `outputs` (script, satoshis) in one transaction spending the stand-in wallet's
/// confirmed coins, at `feerate` sat/vB, with change back to the first input's address
/// (when above dust). The transaction is accepted into the mempool (not mined); returns it
/// with its fee.
///
/// # Errors
/// Not enough confirmed coins, or the mempool rejected the transaction.
pub fn pay_to_scripts(
    node: &mut Node,
    outputs: &[(ScriptBuf, u64)],
    feerate: u64,
) -> Result<(Transaction, u64), FundError> {
    node.wallet_ready();
    let feerate = feerate.max(1);
    let wanted: u64 = outputs.iter().map(|(_, v)| v).sum();
    let out_vb: u64 = outputs.iter().map(|(s, _)| 9 + s.len() as u64).sum::<u64>() + 43;
    let mut coins: Vec<Coin> = Vec::new();
    let mut total = 0u64;
    let mut in_vb = 0u64;
    loop {
        let fee = feerate * (11 + in_vb + out_vb);
        if !coins.is_empty() && total >= wanted + fee {
            break;
        }
        match node.take_confirmed_wallet_coin() {
            Some(c) => {
                total += c.txout.value.to_sat();
                in_vb += node
                    .gen
                    .address(c.addr)
                    .map_or(150, |a| a.kind.input_vbytes());
                coins.push(c);
            }
            None => {
                node.resync_wallet();
                return Err(FundError::TooPoor(wanted));
            }
        }
    }
    let change_script = coins[0].txout.script_pubkey.clone();
    let mut tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: coins
            .iter()
            .map(|c| TxIn {
                previous_output: c.outpoint,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            })
            .collect(),
        output: outputs
            .iter()
            .map(|(s, v)| TxOut {
                value: Amount::from_sat(*v),
                script_pubkey: s.clone(),
            })
            .collect(),
    };
    let spent: Vec<TxOut> = coins.iter().map(|c| c.txout.clone()).collect();
    let owners: Vec<Address> = coins
        .iter()
        .filter_map(|c| node.gen.address(c.addr))
        .collect();
    let owner_refs: Vec<&Address> = owners.iter().collect();
    let secp = Secp256k1::new();
    // Sign with an estimated fee, then fix the change to the real size and sign again.
    let mut fee = feerate * (11 + in_vb + out_vb);
    let mut result = Err(FundError::TooPoor(wanted));
    for _ in 0..4 {
        tx.output.truncate(outputs.len());
        let change = total - wanted - fee;
        if change >= MIN_OUTPUT.max(546) {
            tx.output.push(TxOut {
                value: Amount::from_sat(change),
                script_pubkey: change_script.clone(),
            });
        }
        if let Err(e) = sign_transaction(&secp, &mut tx, &spent, &owner_refs) {
            result = Err(FundError::Sign(e.to_string()));
            break;
        }
        let real_fee = total - tx.output.iter().map(|o| o.value.to_sat()).sum::<u64>();
        let needed = feerate * tx.vsize() as u64;
        if real_fee >= needed {
            result = Ok(real_fee);
            break;
        }
        fee = needed + 2 * tx.input.len() as u64;
        if total < wanted + fee {
            break;
        }
    }
    let outcome = result.and_then(|fee| {
        node.accept_tx(&tx, 0, false)
            .map(|_| fee)
            .map_err(|r| FundError::Rejected(r.message()))
    });
    // The pool lost the coins taken above: rebuild it from the UTXO set and the mempool
    // (the change, if any, joins it as a mempool output).
    node.resync_wallet();
    outcome.map(|fee| (tx, fee))
}

/// Transactions bitcoind refuses, one per reason, built from the node's current state (for
/// broadcast tests).
#[derive(Clone, Debug)]
pub struct Refusals {
    /// A lower-fee-rate spend of a mempool transaction's coins: full RBF refuses it.
    pub conflict: Transaction,
    /// A new spend of coins a confirmed transaction already spent.
    pub double_spend: Transaction,
    /// A spend of an output nobody ever created.
    pub unknown_input: Transaction,
    /// A transaction of the chain with an output still unspent ("already in chain").
    pub in_chain: Transaction,
}

/// Builds [`Refusals`]. Needs a mempool with a transaction paying at least 4 sat/vB from
/// the stand-in's wallet, and a chain of at least four blocks.
///
/// # Panics
/// When the node lacks what the transactions are built from (a test set-up error).
pub fn refusals(n: &mut Node) -> Refusals {
    let tip = n.tip_height();
    let mut entries: Vec<_> = n.mempool.entries().cloned().collect();
    entries.sort_by_key(|e| e.txid);
    let conflict = entries
        .iter()
        .filter(|e| e.fee >= 4 * e.vsize)
        .find_map(|e| {
            let coins: Option<Vec<_>> =
                e.tx.input
                    .iter()
                    .map(|i| {
                        let op = i.previous_output;
                        n.gen.coin_for(op, n.coin(&op)?.txout.clone())
                    })
                    .collect();
            n.gen.build_spend(coins?, tip, Some(2)).map(|(t, _)| t)
        })
        .expect("a conflicting spend");
    let spent_tx = n
        .block_at(tip - 3)
        .and_then(|b| b.tx(1))
        .expect("a spending transaction in block tip - 3");
    let coins: Vec<_> = spent_tx
        .input
        .iter()
        .map(|i| {
            let op = i.previous_output;
            let (prev, _) = n.find_tx(&op.txid).expect("creating tx");
            n.gen
                .coin_for(op, prev.output[op.vout as usize].clone())
                .expect("ours")
        })
        .collect();
    let (double_spend, _) = n.gen.build_spend(coins, tip, None).expect("spend");
    let (mut unknown_input, _) = n.make_tx().expect("wallet can pay");
    unknown_input.input[0].previous_output.txid = bitcoin::Txid::from_byte_array([7; 32]);
    n.resync_wallet();
    let in_chain = (1..=tip)
        .rev()
        .flat_map(|h| {
            let b = n.block_at(h).expect("block");
            (1..b.txids.len()).map(move |i| (b.txids[i], b.tx(i).expect("tx")))
        })
        .find(|(t, tx)| {
            (0..tx.output.len() as u32).any(|v| n.coin(&bitcoin::OutPoint::new(*t, v)).is_some())
        })
        .map(|(_, tx)| tx)
        .expect("a confirmed transaction with an unspent output");
    Refusals {
        conflict,
        double_spend,
        unknown_input,
        in_chain,
    }
}
