//! The deterministic transaction generator: a wallet of derived addresses, a pool of coins it
//! can spend, and a mainnet-like mix of transactions (input/output counts, script types,
//! address reuse with a heavy tail, occasional very large transactions).
//!
//! Everything is drawn from one ChaCha RNG seeded from the parameters, and no hash-map is ever
//! iterated, so the same parameters always give byte-identical blocks.

use std::collections::{HashMap, VecDeque};

use bitcoin::absolute::LockTime;
use bitcoin::opcodes::all::OP_RETURN;
use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::secp256k1::{All, Secp256k1};
use bitcoin::transaction::Version;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::addrbook::AddressBook;
use crate::blockbuild::COINBASE_MATURITY;
use crate::wallet::{sign_transaction, Address, Kind};

/// Bumped whenever the generator's output for given parameters changes, so cached chain
/// files made by an older generator are regenerated rather than reused.
pub const GENERATOR_VERSION: u32 = 1;

/// Smallest output value the generator creates (above every dust limit).
pub const MIN_OUTPUT: u64 = 1_000;
/// Smallest payment the generator makes (change may be smaller, down to [`MIN_OUTPUT`]).
pub const MIN_PAYMENT: u64 = 10_000;

/// What chain to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct GenParams {
    /// Everything derives from it.
    pub seed: u64,
    /// Height of the last block.
    pub height: u32,
    /// Mean number of non-coinbase transactions per block once coins have matured.
    pub txs_per_block: u32,
    /// Timestamp of block 1.
    pub start_time: u32,
    /// Number of heavily reused script hashes.
    pub hot_addresses: u32,
    /// Probability that a payment output goes to one of the hot addresses.
    pub hot_share: f64,
    /// Keep mining past `height` until the chain holds at least this many transactions.
    pub min_txs: u64,
    /// Probability that a payment output goes to the whale, one address (a P2WPKH one,
    /// derived right after the hot addresses) that so gets a huge history: its coins are
    /// spent as any other pool coin, so it both receives and spends. 0 (the default): no
    /// whale, and the chain is the one generated before whales existed, byte for byte.
    pub whale_share: f64,
}

impl GenParams {
    /// The 150-block unit-test fixture: every script type, a few transactions per block.
    pub fn fixture(seed: u64) -> GenParams {
        GenParams {
            seed,
            height: 150,
            txs_per_block: 12,
            start_time: 1_700_000_000,
            hot_addresses: 3,
            hot_share: 0.06,
            min_txs: 0,
            whale_share: 0.0,
        }
    }

    /// A chain of at least `txs` transactions, about `txs_per_block` per block.
    pub fn sized(seed: u64, txs: u64, txs_per_block: u32) -> GenParams {
        GenParams {
            seed,
            height: COINBASE_MATURITY + 1,
            txs_per_block,
            start_time: 1_700_000_000,
            hot_addresses: 5,
            hot_share: 0.015,
            min_txs: txs,
            whale_share: 0.0,
        }
    }

    /// A chain of at least `txs` transactions with a whale taking `whale_share` of the
    /// payments (see [`GenParams::whale_share`]).
    pub fn whale(seed: u64, txs: u64, txs_per_block: u32, whale_share: f64) -> GenParams {
        GenParams {
            whale_share,
            ..GenParams::sized(seed, txs, txs_per_block)
        }
    }

    /// Whether the chain has a whale.
    pub fn has_whale(&self) -> bool {
        self.whale_share > 0.0
    }

    /// The bench chain: over 2,000,000 transactions.
    pub fn bench(seed: u64) -> GenParams {
        GenParams::sized(seed, 2_000_000, 2_000)
    }
}

/// A coin the wallet can spend.
#[derive(Clone, Debug)]
pub struct Coin {
    pub outpoint: OutPoint,
    pub txout: TxOut,
    pub addr: u32,
}

/// The generator's state.
pub struct Generator {
    pub params: GenParams,
    secp: Secp256k1<All>,
    rng: ChaCha8Rng,
    addrs: AddressBook,
    /// Address of every payment output ever made: picking from it reuses addresses in
    /// proportion to their past use (preferential attachment → heavy tail).
    used: Vec<u32>,
    pool: Vec<Coin>,
    pool_index: HashMap<OutPoint, usize>,
    /// Coinbase coins by the height at which they mature.
    immature: VecDeque<(u32, Coin)>,
    tag: u32,
    /// Kinds of a loaded chain's addresses not derived yet.
    pending: Vec<Kind>,
    /// The whale's address number, when the chain has one.
    whale: Option<u32>,
}

const KIND_WEIGHTS: [(Kind, u32); 9] = [
    (Kind::P2wpkh, 40),
    (Kind::P2tr, 20),
    (Kind::P2pkh, 12),
    (Kind::P2shP2wpkh, 8),
    (Kind::P2wsh, 6),
    (Kind::P2shMultisig, 4),
    (Kind::P2pk, 1),
    (Kind::BareMultisig, 1),
    (Kind::NonStandard, 1),
];

const HOT_KINDS: [Kind; 5] = [
    Kind::P2wpkh,
    Kind::P2pkh,
    Kind::P2tr,
    Kind::P2shP2wpkh,
    Kind::P2wsh,
];

impl Generator {
    /// A fresh generator (no coins yet).
    pub fn new(params: GenParams) -> Generator {
        let (seed, hot) = (params.seed, params.hot_addresses);
        let rng = ChaCha8Rng::seed_from_u64(params.seed);
        let mut g = Generator {
            params,
            secp: Secp256k1::new(),
            rng,
            addrs: AddressBook::new(seed, hot),
            used: Vec::new(),
            pool: Vec::new(),
            pool_index: HashMap::new(),
            immature: VecDeque::new(),
            tag: 0,
            pending: Vec::new(),
            whale: None,
        };
        for i in 0..g.params.hot_addresses {
            g.new_address(HOT_KINDS[i as usize % HOT_KINDS.len()]);
        }
        if g.params.has_whale() {
            g.whale = Some(g.new_address(Kind::P2wpkh));
        }
        g
    }

    /// Remembers the kinds of the addresses of a loaded chain (re-derived lazily by
    /// [`Generator::derive_pending`]: a chain served only for syncing never needs its keys),
    /// and reseeds the RNG from the seed and `salt` so later generation is deterministic too.
    pub fn restore_addresses(&mut self, kinds: &[Kind], salt: u64) {
        self.pending = kinds.get(self.addrs.len()..).unwrap_or_default().to_vec();
        self.rng = ChaCha8Rng::seed_from_u64(self.params.seed ^ salt.rotate_left(17));
    }

    /// Whether addresses of a loaded chain still wait to be derived.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Derives the addresses [`Generator::restore_addresses`] remembered.
    pub fn derive_pending(&mut self) {
        for k in std::mem::take(&mut self.pending) {
            self.new_address(k);
        }
    }

    /// Kinds of all addresses, in order (what a chain file stores).
    pub fn address_kinds(&self) -> Vec<Kind> {
        self.addrs
            .kinds()
            .iter()
            .chain(self.pending.iter())
            .copied()
            .collect()
    }

    /// The address owning an output script, if it is ours.
    pub fn owner_of(&self, script: &ScriptBuf) -> Option<u32> {
        self.addrs.owner_of(script)
    }

    /// Address number `i`, keys and all (derived again from the seed: the generator keeps
    /// only each address's kind and script, see [`AddressBook`]).
    pub fn address(&self, i: u32) -> Option<Address> {
        self.addrs.address(&self.secp, i)
    }

    /// The whale's output script, when the chain has a whale.
    pub fn whale_script(&self) -> Option<ScriptBuf> {
        self.whale.map(|i| self.script_of(i))
    }

    /// Number of derived addresses.
    pub fn address_count(&self) -> usize {
        self.addrs.len()
    }

    /// Coins currently spendable.
    pub fn pool_len(&self) -> usize {
        self.pool.len()
    }

    fn new_address(&mut self, kind: Kind) -> u32 {
        self.addrs.push(&self.secp, kind)
    }

    /// Output script of our address `i` (empty if there is no such address).
    fn script_of(&self, i: u32) -> ScriptBuf {
        self.addrs
            .script(i)
            .map(|s| s.to_owned())
            .unwrap_or_default()
    }

    fn pick_kind(&mut self) -> Kind {
        let total: u32 = KIND_WEIGHTS.iter().map(|(_, w)| w).sum();
        let mut x = self.rng.gen_range(0..total);
        for (k, w) in KIND_WEIGHTS {
            if x < w {
                return k;
            }
            x -= w;
        }
        Kind::P2wpkh
    }

    /// Chooses who a payment goes to: a hot address, a reused one, or a new one.
    fn pick_payee(&mut self) -> u32 {
        // Drawn only when there is a whale: without one, the draws are those of before.
        if let Some(w) = self.whale {
            if self.rng.gen_bool(self.params.whale_share.clamp(0.0, 1.0)) {
                return w;
            }
        }
        let hot = self.params.hot_addresses;
        if hot > 0 && self.rng.gen_bool(self.params.hot_share.clamp(0.0, 1.0)) {
            return self.rng.gen_range(0..hot);
        }
        if !self.used.is_empty() && self.rng.gen_bool(0.35) {
            let i = self.rng.gen_range(0..self.used.len());
            return self.used[i];
        }
        let k = self.pick_kind();
        self.new_address(k)
    }

    /// Address for a coinbase output.
    pub fn coinbase_payee(&mut self) -> (ScriptBuf, u32) {
        let kind = match self.rng.gen_range(0..10) {
            0 => Kind::P2pk,
            1..=2 => Kind::P2pkh,
            3..=4 => Kind::P2tr,
            _ => Kind::P2wpkh,
        };
        let i = if self.addrs.len() > 20 && self.rng.gen_bool(0.3) {
            let i = self.rng.gen_range(0..self.addrs.len()) as u32;
            if matches!(
                self.addrs.kind(i),
                Some(Kind::P2wsh) | Some(Kind::P2shMultisig)
            ) {
                self.new_address(kind)
            } else {
                i
            }
        } else {
            self.new_address(kind)
        };
        (self.script_of(i), i)
    }

    /// Next block timestamp after `prev_time`.
    pub fn next_time(&mut self, prev_time: u32) -> u32 {
        prev_time.saturating_add(self.rng.gen_range(1..=1_199))
    }

    /// A tag that makes coinbases (and so block hashes) unique across branches.
    pub fn next_tag(&mut self) -> u32 {
        self.tag = self.tag.wrapping_add(1);
        self.rng.gen::<u32>() ^ self.tag
    }

    fn pool_add(&mut self, coin: Coin) {
        self.pool_index.insert(coin.outpoint, self.pool.len());
        self.pool.push(coin);
    }

    fn pool_take(&mut self, i: usize) -> Coin {
        let coin = self.pool.swap_remove(i);
        self.pool_index.remove(&coin.outpoint);
        if let Some(moved) = self.pool.get(i) {
            self.pool_index.insert(moved.outpoint, i);
        }
        coin
    }

    /// Removes a coin by outpoint (it was spent by someone else).
    pub fn forget_coin(&mut self, outpoint: &OutPoint) {
        if let Some(&i) = self.pool_index.get(outpoint) {
            self.pool_take(i);
        }
    }

    /// Records a block: its coinbase output matures later; coins maturing at `height` join
    /// the pool. Ignored while a loaded chain's wallet is not derived yet (the pool is
    /// rebuilt from the UTXO set when it is).
    pub fn on_block(&mut self, height: u32, coinbase: &Transaction) {
        if self.has_pending() {
            return;
        }
        let txid = coinbase.compute_txid();
        for (vout, out) in coinbase.output.iter().enumerate() {
            if let Some(addr) = self.owner_of(&out.script_pubkey) {
                self.immature.push_back((
                    height + COINBASE_MATURITY,
                    Coin {
                        outpoint: OutPoint::new(txid, vout as u32),
                        txout: out.clone(),
                        addr,
                    },
                ));
            }
        }
        // A coinbase of height h is spendable in block h + 100, i.e. once the tip is h + 99.
        while self.immature.front().is_some_and(|(m, _)| *m <= height + 1) {
            if let Some((_, c)) = self.immature.pop_front() {
                self.pool_add(c);
            }
        }
    }

    /// Drops every coin and rebuilds the pool from `coins` (spendable outputs in a
    /// deterministic order) and the immature coinbases from `immature`.
    pub fn resync(&mut self, coins: Vec<(OutPoint, TxOut)>, immature: Vec<(u32, OutPoint, TxOut)>) {
        self.pool.clear();
        self.pool_index.clear();
        self.immature.clear();
        for (outpoint, txout) in coins {
            if let Some(addr) = self.owner_of(&txout.script_pubkey) {
                self.pool_add(Coin {
                    outpoint,
                    txout,
                    addr,
                });
            }
        }
        for (m, outpoint, txout) in immature {
            if let Some(addr) = self.owner_of(&txout.script_pubkey) {
                self.immature.push_back((
                    m,
                    Coin {
                        outpoint,
                        txout,
                        addr,
                    },
                ));
            }
        }
    }

    fn pick_input_count(&mut self) -> usize {
        let target = (self.params.txs_per_block as usize * 3).max(30);
        let n = self.pool.len();
        if n < target / 4 && self.rng.gen_bool(0.9) {
            // Starving: spend one coin and fan out.
            return 1;
        }
        let r: f64 = self.rng.gen();
        // Roughly mainnet: ~60 % one input, ~20 % two, a tail up to consolidations.
        let base = if r < 0.002 {
            self.rng.gen_range(50..=300)
        } else if r < 0.05 {
            self.rng.gen_range(5..=20)
        } else if r < 0.17 {
            self.rng.gen_range(3..=4)
        } else if r < 0.37 {
            2
        } else {
            1
        };
        base.min(n).max(1)
    }

    fn pick_output_count(&mut self) -> usize {
        let target = (self.params.txs_per_block as usize * 3).max(30);
        let r: f64 = self.rng.gen();
        if self.pool.len() < target / 4 && self.rng.gen_bool(0.6) {
            return self.rng.gen_range(10..=60);
        }
        if self.pool.len() < target && self.rng.gen_bool(0.15) {
            return self.rng.gen_range(10..=60);
        }
        if r < 0.003 {
            self.rng.gen_range(100..=600)
        } else if r < 0.05 {
            self.rng.gen_range(4..=20)
        } else if r < 0.12 {
            3
        } else if r < 0.80 {
            2
        } else {
            1
        }
    }

    fn pick_feerate(&mut self) -> u64 {
        // Mostly cheap, a tail of expensive ones: 1..=50 sat/vB.
        let x: f64 = self.rng.gen();
        (1.0 + 49.0 * x * x * x).round() as u64
    }

    /// Builds, signs and returns a new transaction spending pool coins, with its fee; its
    /// outputs join the pool at once, so later transactions may spend them (in the same block
    /// or as unconfirmed chains). `None` when the pool is empty or too poor.
    pub fn make_tx(&mut self, lock_height: u32) -> Option<(Transaction, u64)> {
        if self.pool.is_empty() {
            return None;
        }
        let n_in = self.pick_input_count();
        let mut coins = Vec::with_capacity(n_in);
        for _ in 0..n_in {
            let i = self.rng.gen_range(0..self.pool.len());
            coins.push(self.pool_take(i));
        }
        // Too poor for a typical fee? Add coins (consolidating dust), as wallets do.
        let mut value: u64 = coins.iter().map(|c| c.txout.value.to_sat()).sum();
        while value < 20_000 && !self.pool.is_empty() && coins.len() < 60 {
            let i = self.rng.gen_range(0..self.pool.len());
            let c = self.pool_take(i);
            value += c.txout.value.to_sat();
            coins.push(c);
        }
        self.build_spend(coins, lock_height, None)
    }

    /// Builds a transaction spending exactly `coins` (all of them ours) at `feerate`
    /// (random when `None`). Used for double spends and RBF replacements too.
    pub fn build_spend(
        &mut self,
        coins: Vec<Coin>,
        lock_height: u32,
        feerate: Option<u64>,
    ) -> Option<(Transaction, u64)> {
        let total_in: u64 = coins.iter().map(|c| c.txout.value.to_sat()).sum();
        let mut n_out = self.pick_output_count();
        let with_opreturn = self.rng.gen_bool(0.04);
        let feerate = feerate.unwrap_or_else(|| self.pick_feerate());
        let in_vb: u64 = coins
            .iter()
            .filter_map(|c| self.addrs.kind(c.addr))
            .map(|k| k.input_vbytes())
            .sum();
        let mut fee;
        loop {
            let vsize = 11 + in_vb + 43 * n_out as u64 + if with_opreturn { 60 } else { 0 };
            fee = feerate * vsize;
            if n_out == 1 || total_in >= fee + MIN_OUTPUT * 2 * n_out as u64 {
                break;
            }
            n_out = (n_out / 2).max(1);
        }
        if total_in < fee + MIN_OUTPUT {
            // Too poor to pay: put the coins back.
            for c in coins {
                self.pool_add(c);
            }
            return None;
        }
        let spendable = total_in - fee;
        // No more outputs than the value can fill with real payments.
        let affordable = (spendable / (2 * MIN_PAYMENT)).max(1) as usize;
        if n_out > affordable {
            n_out = affordable;
        }
        // Payments are log-uniform between MIN_PAYMENT and about twice a fair share; the
        // last output (change) takes the rest, so value does not dribble away into dust.
        let mut values: Vec<u64> = Vec::with_capacity(n_out);
        let fair = spendable / n_out as u64;
        let hi = ((fair as f64) * 1.5).max(MIN_PAYMENT as f64 + 1.0).ln();
        let lo = (MIN_PAYMENT as f64).ln().min(hi - 0.1);
        for _ in 1..n_out {
            values.push(self.rng.gen_range(lo..hi).exp() as u64);
        }
        let paid: u64 = values.iter().sum();
        let budget = spendable.saturating_sub(MIN_OUTPUT);
        if paid > budget {
            for v in values.iter_mut() {
                *v = ((*v as u128 * budget as u128) / paid.max(1) as u128) as u64;
                *v = (*v).max(MIN_OUTPUT);
            }
        }
        let paid: u64 = values.iter().sum();
        let change = spendable.saturating_sub(paid);
        match values.last_mut() {
            // Dust-sized change goes to the last payee instead, as wallets do.
            Some(last) if change < MIN_PAYMENT / 2 => {
                *last += change;
                n_out -= 1;
            }
            _ => values.push(change.max(MIN_OUTPUT)),
        }
        if values.iter().sum::<u64>() > spendable {
            // Could not fit: one output with everything.
            values = vec![spendable];
            n_out = 1;
        }
        let mut outputs = Vec::with_capacity(n_out + 1);
        let mut owners_out = Vec::with_capacity(n_out);
        for (k, v) in values.iter().enumerate() {
            let addr = if k + 1 == n_out && n_out > 1 && self.rng.gen_bool(0.7) {
                // Change: usually a fresh address of the first input's kind.
                let kind = self.addrs.kind(coins[0].addr).unwrap_or(Kind::P2wpkh);
                self.new_address(kind)
            } else {
                let a = self.pick_payee();
                // The whale is not reused by preferential attachment: its share stays put.
                if Some(a) != self.whale {
                    self.used.push(a);
                }
                a
            };
            outputs.push(TxOut {
                value: Amount::from_sat(*v),
                script_pubkey: self.script_of(addr),
            });
            owners_out.push(addr);
        }
        if with_opreturn {
            let len = self.rng.gen_range(4..=80);
            let data: Vec<u8> = (0..len).map(|_| self.rng.gen()).collect();
            let script = Builder::new()
                .push_opcode(OP_RETURN)
                .push_slice(PushBytesBuf::try_from(data).unwrap_or_default())
                .into_script();
            let pos = self.rng.gen_range(0..=outputs.len());
            outputs.insert(
                pos,
                TxOut {
                    value: Amount::ZERO,
                    script_pubkey: script,
                },
            );
            owners_out.insert(pos, u32::MAX);
        }
        let sequence = match self.rng.gen_range(0..10) {
            0..=6 => Sequence::ENABLE_RBF_NO_LOCKTIME,
            7..=8 => Sequence::MAX,
            _ => Sequence::ENABLE_LOCKTIME_NO_RBF,
        };
        let lock_time = if sequence != Sequence::MAX && self.rng.gen_bool(0.5) {
            LockTime::from_height(lock_height).unwrap_or(LockTime::ZERO)
        } else {
            LockTime::ZERO
        };
        let mut tx = Transaction {
            version: if self.rng.gen_bool(0.85) {
                Version::TWO
            } else {
                Version::ONE
            },
            lock_time,
            input: coins
                .iter()
                .map(|c| TxIn {
                    previous_output: c.outpoint,
                    script_sig: ScriptBuf::new(),
                    sequence,
                    witness: Witness::new(),
                })
                .collect(),
            output: outputs,
        };
        let spent: Vec<TxOut> = coins.iter().map(|c| c.txout.clone()).collect();
        let owners: Vec<Address> = coins
            .iter()
            .filter_map(|c| self.addrs.address(&self.secp, c.addr))
            .collect();
        let owners: Vec<&Address> = owners.iter().collect();
        if owners.len() != coins.len() {
            return None;
        }
        // Sign; if the real size needs more fee than the estimate gave, take it from the
        // largest output and sign again (signatures vary by a byte or two).
        for _ in 0..4 {
            if sign_transaction(&self.secp, &mut tx, &spent, &owners).is_err() {
                return None;
            }
            let needed = feerate * tx.vsize() as u64;
            if fee >= needed {
                break;
            }
            let extra = needed - fee + 2 * tx.input.len() as u64;
            let big = tx
                .output
                .iter_mut()
                .filter(|o| !o.script_pubkey.is_op_return())
                .max_by_key(|o| o.value)?;
            if big.value.to_sat() < extra + MIN_OUTPUT {
                return None;
            }
            big.value = Amount::from_sat(big.value.to_sat() - extra);
            fee += extra;
        }
        let txid = tx.compute_txid();
        for (vout, (out, addr)) in tx.output.iter().zip(owners_out).enumerate() {
            if addr != u32::MAX {
                self.pool_add(Coin {
                    outpoint: OutPoint::new(txid, vout as u32),
                    txout: out.clone(),
                    addr,
                });
            }
        }
        Some((tx, fee))
    }

    /// Takes the most valuable pool coin that `eligible` accepts (e.g. a confirmed one, to
    /// top up a replacement).
    pub fn take_best_coin(&mut self, eligible: impl Fn(&OutPoint) -> bool) -> Option<Coin> {
        let i = self
            .pool
            .iter()
            .enumerate()
            .filter(|(_, c)| eligible(&c.outpoint))
            .max_by_key(|(i, c)| (c.txout.value, std::cmp::Reverse(*i)))
            .map(|(i, _)| i)?;
        Some(self.pool_take(i))
    }

    /// Takes specific coins out of the pool (for a replacement or a double spend).
    pub fn take_coins(&mut self, outpoints: &[OutPoint]) -> Option<Vec<Coin>> {
        if outpoints.iter().any(|o| !self.pool_index.contains_key(o)) {
            return None;
        }
        let mut out = Vec::with_capacity(outpoints.len());
        for o in outpoints {
            let i = *self.pool_index.get(o)?;
            out.push(self.pool_take(i));
        }
        Some(out)
    }

    /// A coin for `outpoint` built from data the caller knows (used to re-spend coins that
    /// a replaced transaction spent).
    pub fn coin_for(&self, outpoint: OutPoint, txout: TxOut) -> Option<Coin> {
        let addr = self.owner_of(&txout.script_pubkey)?;
        Some(Coin {
            outpoint,
            txout,
            addr,
        })
    }

    /// Random number in `0..n` from the generator's RNG (for control decisions that must be
    /// deterministic too).
    pub fn rand_below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.rng.gen_range(0..n)
        }
    }

    /// A Bernoulli draw from the generator's RNG.
    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p.clamp(0.0, 1.0))
    }

    /// Draws a transaction count for one block (mean `txs_per_block`).
    pub fn block_tx_count(&mut self) -> u32 {
        let m = self.params.txs_per_block;
        if m == 0 {
            return 0;
        }
        self.rng.gen_range(m / 2..=m + m / 2)
    }
}
