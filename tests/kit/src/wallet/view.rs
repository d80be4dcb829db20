//! What an Electrum wallet shows ([`View`]: balances, history, coins), what it must show
//! ([`expected_view`], from the stand-in's truth and mempool with Electrum's rules), and
//! the stand-in side of funding it ([`fund`]).

use std::collections::{BTreeMap, BTreeSet};

use bitcoin::{OutPoint, ScriptBuf, Txid};
use ferrumx_simnode::fund::pay_to_scripts;
use ferrumx_simnode::{Node, ScriptHash};
use serde_json::Value;

/// A BTC amount as Electrum prints it ("1.5", "-0.00012", with msat digits) → satoshis.
pub fn sats(v: &Value) -> i64 {
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        other => panic!("not an amount: {other}"),
    };
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r.to_string()),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let mut frac = frac.to_string();
    while frac.len() < 8 {
        frac.push('0');
    }
    let (frac, msat) = frac.split_at(8);
    assert!(msat.chars().all(|c| c == '0'), "sub-satoshi amount {v}");
    let n =
        int.parse::<i64>().expect("amount") * 100_000_000 + frac.parse::<i64>().expect("amount");
    if neg {
        -n
    } else {
        n
    }
}

/// What the wallet shows: balances (sat), history txid → (height, confirmations, value) and
/// UTXOs outpoint → (value, height).
#[derive(Debug, PartialEq, Eq)]
pub struct View {
    pub confirmed: i64,
    pub unconfirmed: i64,
    pub history: BTreeMap<Txid, (i64, i64, i64)>,
    pub unspent: BTreeMap<OutPoint, (i64, i64)>,
}

/// The view Electrum must show for `scripts`, computed from the stand-in's truth and mempool
/// (Electrum's rules: unconfirmed height 0, or -1 with an unconfirmed input; coins spent by
/// mempool transactions are gone; balances as `AddressSynchronizer.get_balance` sums them).
pub fn expected_view(n: &Node, scripts: &BTreeSet<ScriptBuf>) -> View {
    let tip = i64::from(n.tip_height());
    let mut history: BTreeMap<Txid, (i64, i64, i64)> = BTreeMap::new();
    let mut unspent = BTreeMap::new();
    for s in scripts {
        let sh = ScriptHash::of(s);
        for h in n.truth.history(&sh, None) {
            let height = i64::from(h.height);
            history.insert(h.txid, (height, tip - height + 1, 0));
        }
        for u in n.truth.utxos(&sh, None) {
            unspent.insert(u.outpoint, (u.value as i64, i64::from(u.height)));
        }
    }
    // Values of confirmed transactions: our outputs minus our inputs.
    for (txid, entry) in history.iter_mut() {
        let (tx, _) = n.find_tx(txid).expect("confirmed tx");
        entry.2 = wallet_delta(n, &tx, scripts);
    }
    for e in n.mempool.entries() {
        let mut ours = false;
        let mut unconf_parent = false;
        for input in &e.tx.input {
            if n.mempool.contains(&input.previous_output.txid) {
                unconf_parent = true;
            }
            if let Some(c) = n.prevout_lookup(&input.previous_output) {
                if scripts.contains(&c.txout.script_pubkey) {
                    ours = true;
                    unspent.remove(&input.previous_output);
                }
            }
        }
        for (vout, o) in e.tx.output.iter().enumerate() {
            if scripts.contains(&o.script_pubkey) {
                ours = true;
                let height = if unconf_parent { -1 } else { 0 };
                unspent.insert(
                    OutPoint::new(e.txid, vout as u32),
                    (o.value.to_sat() as i64, height),
                );
            }
        }
        if ours {
            let height = if unconf_parent { -1 } else { 0 };
            history.insert(e.txid, (height, 0, wallet_delta(n, &e.tx, scripts)));
        }
    }
    // Mempool outputs spent in the mempool were added then removed above only when the
    // spender came later in iteration order: drop any still listed.
    unspent.retain(|op, _| n.mempool.spender(op).is_none());
    // Electrum 4.3 (`AddressSynchronizer.get_balance`) sums the unspent coins: confirmed
    // ones are confirmed; an unconfirmed one counts as confirmed up to the value of our
    // confirmed coins its transaction spends (change of our own payments), the rest as
    // unconfirmed.
    let mut confirmed = 0i64;
    let mut unconfirmed = 0i64;
    for (op, (value, height)) in &unspent {
        if *height > 0 {
            confirmed += value;
            continue;
        }
        let tx = &n.mempool.get(&op.txid).expect("mempool tx").tx;
        let confirmed_spent: i64 = tx
            .input
            .iter()
            .filter(|i| !n.mempool.contains(&i.previous_output.txid))
            .filter_map(|i| n.prevout_lookup(&i.previous_output))
            .filter(|c| scripts.contains(&c.txout.script_pubkey))
            .map(|c| c.txout.value.to_sat() as i64)
            .sum();
        if confirmed_spent >= *value {
            confirmed += value;
        } else {
            confirmed += confirmed_spent;
            unconfirmed += value - confirmed_spent;
        }
    }
    View {
        confirmed,
        unconfirmed,
        history,
        unspent,
    }
}

/// What `tx` adds to (or takes from) the wallet of `scripts`.
pub fn wallet_delta(n: &Node, tx: &bitcoin::Transaction, scripts: &BTreeSet<ScriptBuf>) -> i64 {
    let out: i64 = tx
        .output
        .iter()
        .filter(|o| scripts.contains(&o.script_pubkey))
        .map(|o| o.value.to_sat() as i64)
        .sum();
    let inp: i64 = tx
        .input
        .iter()
        .filter_map(|i| n.prevout_lookup(&i.previous_output))
        .filter(|c| scripts.contains(&c.txout.script_pubkey))
        .map(|c| c.txout.value.to_sat() as i64)
        .sum();
    out - inp
}

/// Pays `outs` from the stand-in's wallet (fee rate `feerate` sat/vB); the txid.
pub fn fund(n: &mut Node, outs: &[(&bitcoin::Address, u64)], feerate: u64) -> Txid {
    let outputs: Vec<(ScriptBuf, u64)> =
        outs.iter().map(|(a, v)| (a.script_pubkey(), *v)).collect();
    let (tx, _) = pay_to_scripts(n, &outputs, feerate).expect("fund");
    tx.compute_txid()
}

/// The scriptPubKeys of `addrs`.
pub fn script_set(addrs: &[&[bitcoin::Address]]) -> BTreeSet<ScriptBuf> {
    addrs
        .iter()
        .flat_map(|a| a.iter().map(bitcoin::Address::script_pubkey))
        .collect()
}
