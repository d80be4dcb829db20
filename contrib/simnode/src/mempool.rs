//! The stand-in's mempool: entries with Core's accounting (size, weight, fees, ancestors and
//! descendants) and Core's ordering of `getrawmempool`.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use bitcoin::{OutPoint, Transaction, Txid, Wtxid};

/// One mempool transaction.
#[derive(Clone, Debug)]
pub struct MempoolEntry {
    pub tx: Transaction,
    pub txid: Txid,
    pub wtxid: Wtxid,
    pub vsize: u64,
    pub weight: u64,
    pub fee: u64,
    /// Unix time it entered.
    pub time: u64,
    /// Chain height when it entered.
    pub height: u32,
    pub unbroadcast: bool,
    /// Insertion order.
    pub seq: u64,
}

/// Transactions by txid, plus who spends what.
#[derive(Clone, Debug, Default)]
pub struct Mempool {
    entries: HashMap<Txid, MempoolEntry>,
    spent_by: HashMap<OutPoint, Txid>,
    next_seq: u64,
    /// Core's `mempool_sequence`: bumped on every addition and removal.
    pub sequence: u64,
}

impl Mempool {
    /// Number of transactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of `txid`.
    pub fn get(&self, txid: &Txid) -> Option<&MempoolEntry> {
        self.entries.get(txid)
    }

    /// Whether `txid` is in the mempool.
    pub fn contains(&self, txid: &Txid) -> bool {
        self.entries.contains_key(txid)
    }

    /// The mempool transaction spending `outpoint`.
    pub fn spender(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.spent_by.get(outpoint).copied()
    }

    /// Adds an entry (the caller has validated it).
    pub fn insert(&mut self, mut entry: MempoolEntry) {
        entry.seq = self.next_seq;
        self.next_seq += 1;
        self.sequence += 1;
        for input in &entry.tx.input {
            self.spent_by.insert(input.previous_output, entry.txid);
        }
        self.entries.insert(entry.txid, entry);
    }

    /// Overrides an entry's recorded fields (entry time, height, unbroadcast), e.g. to
    /// reproduce a recorded node's mempool.
    pub fn restamp(
        &mut self,
        txid: &Txid,
        time: Option<u64>,
        height: Option<u32>,
        unbroadcast: Option<bool>,
    ) {
        if let Some(e) = self.entries.get_mut(txid) {
            if let Some(t) = time {
                e.time = t;
            }
            if let Some(h) = height {
                e.height = h;
            }
            if let Some(u) = unbroadcast {
                e.unbroadcast = u;
            }
        }
    }

    /// Removes one transaction (not its descendants).
    pub fn remove_one(&mut self, txid: &Txid) -> Option<MempoolEntry> {
        let e = self.entries.remove(txid)?;
        self.sequence += 1;
        for input in &e.tx.input {
            if self.spent_by.get(&input.previous_output) == Some(txid) {
                self.spent_by.remove(&input.previous_output);
            }
        }
        Some(e)
    }

    /// Removes a transaction and all its descendants; returns them.
    pub fn remove_with_descendants(&mut self, txid: &Txid) -> Vec<MempoolEntry> {
        let mut all: Vec<Txid> = self.descendants(txid).into_iter().collect();
        if self.contains(txid) {
            all.push(*txid);
        }
        all.iter().filter_map(|t| self.remove_one(t)).collect()
    }

    /// In-mempool parents of `txid`.
    pub fn parents(&self, txid: &Txid) -> BTreeSet<Txid> {
        self.entries
            .get(txid)
            .map(|e| {
                e.tx.input
                    .iter()
                    .map(|i| i.previous_output.txid)
                    .filter(|p| self.entries.contains_key(p))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// In-mempool children of `txid`.
    pub fn children(&self, txid: &Txid) -> BTreeSet<Txid> {
        self.entries
            .get(txid)
            .map(|e| {
                (0..e.tx.output.len() as u32)
                    .filter_map(|vout| self.spent_by.get(&OutPoint::new(*txid, vout)).copied())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// All in-mempool ancestors of `txid` (not itself).
    pub fn ancestors(&self, txid: &Txid) -> BTreeSet<Txid> {
        self.walk(txid, |t| self.parents(t))
    }

    /// All in-mempool descendants of `txid` (not itself).
    pub fn descendants(&self, txid: &Txid) -> BTreeSet<Txid> {
        self.walk(txid, |t| self.children(t))
    }

    fn walk(&self, txid: &Txid, next: impl Fn(&Txid) -> BTreeSet<Txid>) -> BTreeSet<Txid> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<Txid> = next(txid).into_iter().collect();
        while let Some(t) = stack.pop() {
            if seen.insert(t) {
                stack.extend(next(&t));
            }
        }
        seen
    }

    /// Txids in Core's order (`CompareDepthAndScore`): fewer ancestors first, then higher
    /// fee rate (base fee over vsize, compared exactly), then the *higher* txid first: Core's
    /// `CompareTxMemPoolEntryByScore` breaks ties with `b.hash < a.hash`, `uint256`'s `<`
    /// being a `memcmp` of the internal bytes (the recorded Core 29.0 lists six 2 sat/vB
    /// transactions in that order).
    pub fn sorted_txids(&self) -> Vec<Txid> {
        let mut v: Vec<(usize, &MempoolEntry)> = self
            .entries
            .values()
            .map(|e| (self.ancestors(&e.txid).len() + 1, e))
            .collect();
        v.sort_by(|(ca, a), (cb, b)| {
            ca.cmp(cb).then_with(|| {
                // Higher fee/size first: a.fee * b.vsize vs b.fee * a.vsize.
                let f1 = u128::from(a.fee) * u128::from(b.vsize);
                let f2 = u128::from(b.fee) * u128::from(a.vsize);
                match f2.cmp(&f1) {
                    Ordering::Equal => cmp_uint256(&b.txid, &a.txid),
                    o => o,
                }
            })
        });
        v.into_iter().map(|(_, e)| e.txid).collect()
    }

    /// All entries, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = &MempoolEntry> {
        self.entries.values()
    }

    /// Entries in an order where parents precede children and, among ready ones, higher fee
    /// rate comes first (for mining).
    pub fn mining_order(&self) -> Vec<Txid> {
        let mut order = Vec::with_capacity(self.entries.len());
        let mut done: BTreeSet<Txid> = BTreeSet::new();
        let sorted = self.sorted_by_feerate();
        // Repeatedly take the best entry whose parents are all taken.
        let mut remaining = sorted;
        while !remaining.is_empty() {
            let mut next_round = Vec::new();
            let mut progressed = false;
            for t in remaining {
                if self.parents(&t).iter().all(|p| done.contains(p)) {
                    done.insert(t);
                    order.push(t);
                    progressed = true;
                } else {
                    next_round.push(t);
                }
            }
            if !progressed {
                break;
            }
            remaining = next_round;
        }
        order
    }

    fn sorted_by_feerate(&self) -> Vec<Txid> {
        let mut v: Vec<&MempoolEntry> = self.entries.values().collect();
        v.sort_by(|a, b| {
            let f1 = u128::from(a.fee) * u128::from(b.vsize);
            let f2 = u128::from(b.fee) * u128::from(a.vsize);
            f2.cmp(&f1).then_with(|| a.seq.cmp(&b.seq))
        });
        v.into_iter().map(|e| e.txid).collect()
    }
}

/// Core's `uint256` ordering: `memcmp` of the internal (little-endian) byte arrays.
pub fn cmp_uint256(a: &Txid, b: &Txid) -> Ordering {
    use bitcoin::hashes::Hash;
    let (x, y) = (a.as_byte_array(), b.as_byte_array());
    x.cmp(y)
}
