//! The mempool as FerrumX holds it: per transaction what the Electrum methods need, and per
//! script-hash key the transactions touching it (ElectrumX's `txs` and `hashXs` maps), and
//! per spent outpoint its mempool spender (ElectrumX 2.0's `txo_to_spender`).

use std::collections::{HashMap, HashSet, VecDeque};

use bitcoin::{OutPoint, Txid};

use super::outpoints::MempoolTxo;
use super::types::{MempoolUtxo, RecentTx, TxSummary};
use crate::index::HashX;

/// One accepted mempool transaction (ElectrumX's `MemPoolTx`). No raw bytes are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    /// The outputs it spends (coinbase-like null prevouts left out, as ElectrumX does).
    pub prevouts: Box<[OutPoint]>,
    /// (hashX, value) of each spent output, in input order.
    pub ins: Box<[(HashX, u64)]>,
    /// (hashX, value) of each output, in output order; every output counts, `OP_RETURN`
    /// ones included (ElectrumX's mempool does not skip unspendable outputs).
    pub outs: Box<[(HashX, u64)]>,
    /// Inputs minus outputs, never below 0 (satoshis).
    pub fee: u64,
    /// Virtual size (weight / 4, rounded up).
    pub vsize: u64,
}

impl Entry {
    /// The distinct hashXs the transaction touches, inputs and outputs.
    pub fn hashxs(&self) -> Vec<HashX> {
        let mut xs: Vec<HashX> = self
            .ins
            .iter()
            .chain(self.outs.iter())
            .map(|p| p.0)
            .collect();
        xs.sort_unstable();
        xs.dedup();
        xs
    }
}

/// The whole mempool view.
#[derive(Debug, Default)]
pub(super) struct State {
    pub txs: HashMap<Txid, Entry>,
    /// hashX → the txids of the transactions touching it (each once, in arrival order).
    /// Vectors: most hashXs have one or two; removals are batched so a long list is
    /// scanned once per batch, not once per removed transaction.
    pub by_hashx: HashMap<HashX, Vec<Txid>>,
    /// Sum of the vsizes.
    pub vbytes: u64,
    /// Txids in the order they were inserted (ElectrumX 2.0's `txs` dict order, which
    /// `mempool.recent` reads), with those removed since still in it until [`State::remove`]
    /// compacts it (at most about twice the transactions held).
    arrivals: VecDeque<Txid>,
    /// Outpoint → the mempool transaction spending it (ElectrumX 2.0's `txo_to_spender`).
    pub spenders: HashMap<OutPoint, Txid>,
    /// The outpoints whose mempool spender or funder changed since [`State::take_touched_outpoints`]:
    /// the prevouts and the outputs of every transaction inserted or removed (as ElectrumX
    /// 2.0's `touched_outpoints`). Bounded by the mempool's churn between two successful
    /// refreshes, which take it.
    touched_outpoints: HashSet<OutPoint>,
}

impl State {
    /// Adds a new transaction; adds the hashXs it touches to `touched`.
    pub fn insert(&mut self, txid: Txid, entry: Entry, touched: &mut HashSet<HashX>) {
        if self.txs.contains_key(&txid) {
            return;
        }
        for x in entry.hashxs() {
            touched.insert(x);
            match self.by_hashx.get_mut(&x) {
                Some(list) => list.push(txid),
                None => {
                    self.by_hashx.insert(x, vec![txid]);
                }
            }
        }
        self.vbytes += entry.vsize;
        self.touch_outpoints(&txid, &entry);
        for p in entry.prevouts.iter() {
            self.spenders.insert(*p, txid);
        }
        self.txs.insert(txid, entry);
        self.arrivals.push_back(txid);
    }

    /// Removes transactions; adds the hashXs they touched to `touched`.
    pub fn remove(&mut self, txids: &[Txid], touched: &mut HashSet<HashX>) {
        let mut gone: HashSet<Txid> = HashSet::with_capacity(txids.len());
        let mut affected: HashSet<HashX> = HashSet::new();
        for txid in txids {
            if let Some(entry) = self.txs.remove(txid) {
                self.vbytes = self.vbytes.saturating_sub(entry.vsize);
                self.touch_outpoints(txid, &entry);
                for p in entry.prevouts.iter() {
                    // A conflicting transaction inserted since may own it now.
                    if self.spenders.get(p) == Some(txid) {
                        self.spenders.remove(p);
                    }
                }
                affected.extend(entry.hashxs());
                gone.insert(*txid);
            }
        }
        for x in &affected {
            if let Some(list) = self.by_hashx.get_mut(x) {
                list.retain(|t| !gone.contains(t));
                if list.is_empty() {
                    self.by_hashx.remove(x);
                } else if list.capacity() > 4 * list.len() {
                    list.shrink_to_fit();
                }
            }
        }
        touched.extend(affected);
        if self.arrivals.len() > 2 * self.txs.len() + 64 {
            self.compact_arrivals();
        }
        // Give memory back after a big block cleared most of a big mempool.
        shrink(&mut self.txs);
        shrink(&mut self.by_hashx);
        shrink(&mut self.spenders);
    }

    /// Records the prevouts and outputs of `entry` (transaction `txid`) as touched.
    fn touch_outpoints(&mut self, txid: &Txid, entry: &Entry) {
        self.touched_outpoints
            .extend(entry.prevouts.iter().copied());
        self.touched_outpoints
            .extend((0..entry.outs.len() as u32).map(|vout| OutPoint::new(*txid, vout)));
    }

    /// The outpoints touched since the last call (see [`State::touched_outpoints`]).
    pub fn take_touched_outpoints(&mut self) -> HashSet<OutPoint> {
        std::mem::take(&mut self.touched_outpoints)
    }

    /// ElectrumX 2.0's `spender_for_txo`: what the mempool alone says of `op` — its funder
    /// if that is a mempool transaction (height 0, or -1 with an unconfirmed input; nothing
    /// more when `op` is past its outputs), and its mempool spender (likewise).
    pub fn spender_for_txo(&self, op: &OutPoint) -> MempoolTxo {
        let unconfirmed_inputs =
            |e: &Entry| e.prevouts.iter().any(|p| self.txs.contains_key(&p.txid));
        let funder_height = match self.txs.get(&op.txid) {
            None => None,
            Some(funder) if funder.outs.len() <= op.vout as usize => {
                return MempoolTxo::default();
            }
            Some(funder) => Some(-i64::from(unconfirmed_inputs(funder))),
        };
        let spender = self.spenders.get(op).and_then(|txid| {
            let e = self.txs.get(txid)?;
            Some((*txid, -i64::from(unconfirmed_inputs(e))))
        });
        MempoolTxo {
            funder_height,
            spender,
        }
    }

    fn entries_of<'a>(&'a self, x: &HashX) -> impl Iterator<Item = (&'a Txid, &'a Entry)> + 'a {
        self.by_hashx
            .get(x)
            .into_iter()
            .flatten()
            .filter_map(|t| self.txs.get_key_value(t))
    }

    /// ElectrumX's `transaction_summaries`: sorted by (has unconfirmed inputs, txid in
    /// displayed byte order).
    pub fn summaries(&self, x: &HashX) -> Vec<TxSummary> {
        let mut out: Vec<TxSummary> = self
            .entries_of(x)
            .map(|(txid, e)| TxSummary {
                txid: *txid,
                fee: e.fee,
                has_unconfirmed_inputs: e.prevouts.iter().any(|p| self.txs.contains_key(&p.txid)),
            })
            .collect();
        out.sort_by_cached_key(|s| (s.has_unconfirmed_inputs, displayed(&s.txid)));
        out
    }

    /// ElectrumX's `balance_delta`: outputs to `x` minus spends from `x`.
    pub fn balance_delta(&self, x: &HashX) -> i64 {
        let mut delta: i128 = 0;
        for (_, e) in self.entries_of(x) {
            delta -= e
                .ins
                .iter()
                .filter(|p| p.0 == *x)
                .map(|p| i128::from(p.1))
                .sum::<i128>();
            delta += e
                .outs
                .iter()
                .filter(|p| p.0 == *x)
                .map(|p| i128::from(p.1))
                .sum::<i128>();
        }
        i64::try_from(delta).unwrap_or(if delta < 0 { i64::MIN } else { i64::MAX })
    }

    /// ElectrumX's `unordered_UTXOs`: every mempool output paying `x`, spent or not; sorted by
    /// txid in displayed byte order, then output index.
    pub fn utxos(&self, x: &HashX) -> Vec<MempoolUtxo> {
        let mut out: Vec<MempoolUtxo> = Vec::new();
        for (txid, e) in self.entries_of(x) {
            for (vout, (hx, value)) in e.outs.iter().enumerate() {
                if hx == x {
                    out.push(MempoolUtxo {
                        txid: *txid,
                        vout: vout as u32,
                        value: *value,
                    });
                }
            }
        }
        out.sort_by_cached_key(|u| (displayed(&u.txid), u.vout));
        out
    }

    /// ElectrumX's `potential_spends`: every prevout of every transaction touching `x`.
    pub fn potential_spends(&self, x: &HashX) -> HashSet<OutPoint> {
        self.entries_of(x)
            .flat_map(|(_, e)| e.prevouts.iter().copied())
            .collect()
    }

    /// ElectrumX 2.0's `get_recently_added_txs`: the last `count` transactions inserted that
    /// are still held, the newest first.
    pub fn recent(&self, count: usize) -> Vec<RecentTx> {
        let mut seen: HashSet<Txid> = HashSet::new();
        self.arrivals
            .iter()
            .rev()
            .filter_map(|t| self.txs.get(t).map(|e| (t, e)))
            .filter(|(t, _)| seen.insert(**t))
            .take(count)
            .map(|(t, e)| RecentTx {
                txid: *t,
                fee: e.fee,
                vsize: e.vsize,
            })
            .collect()
    }

    /// Drops from [`State::arrivals`] the transactions no longer held, and the earlier
    /// arrivals of those removed and inserted again.
    fn compact_arrivals(&mut self) {
        let mut seen: HashSet<Txid> = HashSet::with_capacity(self.txs.len());
        let mut kept: VecDeque<Txid> = VecDeque::with_capacity(self.txs.len());
        for t in self.arrivals.iter().rev() {
            if self.txs.contains_key(t) && seen.insert(*t) {
                kept.push_front(*t);
            }
        }
        self.arrivals = kept;
    }

    /// `(fee, vsize)` of every transaction.
    pub fn fees_and_sizes(&self) -> Vec<(u64, u64)> {
        self.txs.values().map(|e| (e.fee, e.vsize)).collect()
    }
}

/// A txid's bytes in displayed order (the reverse of the internal order).
pub(super) fn displayed(txid: &Txid) -> [u8; 32] {
    use bitcoin::hashes::Hash;
    let mut b = txid.to_byte_array();
    b.reverse();
    b
}

fn shrink<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>) {
    if map.capacity() > 4 * map.len() + 1024 {
        map.shrink_to(2 * map.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;

    fn txid(b: u8, last: u8) -> Txid {
        let mut a = [0u8; 32];
        a[0] = b;
        a[31] = last;
        Txid::from_byte_array(a)
    }

    fn entry(prevouts: Vec<OutPoint>, ins: Vec<(HashX, u64)>, outs: Vec<(HashX, u64)>) -> Entry {
        let fee = ins
            .iter()
            .map(|p| p.1)
            .sum::<u64>()
            .saturating_sub(outs.iter().map(|p| p.1).sum());
        Entry {
            prevouts: prevouts.into(),
            ins: ins.into(),
            outs: outs.into(),
            fee,
            vsize: 100,
        }
    }

    #[test]
    fn queries_and_removal() {
        let a = HashX([1; 11]);
        let b = HashX([2; 11]);
        let conf = OutPoint::new(txid(9, 9), 0);
        // t1 spends a confirmed coin of `a`, pays `b` 600 and `a` 300 (change).
        let t1 = txid(1, 0xff);
        // t2 spends t1's output 0 (b), pays `b` 500.
        let t2 = txid(2, 0x00);
        let mut s = State::default();
        let mut touched = HashSet::new();
        s.insert(
            t1,
            entry(vec![conf], vec![(a, 1_000)], vec![(b, 600), (a, 300)]),
            &mut touched,
        );
        s.insert(
            t2,
            entry(vec![OutPoint::new(t1, 0)], vec![(b, 600)], vec![(b, 500)]),
            &mut touched,
        );
        assert_eq!(touched, HashSet::from([a, b]));
        assert_eq!(s.balance_delta(&a), -700);
        assert_eq!(s.balance_delta(&b), 500);
        assert_eq!(s.balance_delta(&HashX([3; 11])), 0);
        let sb = s.summaries(&b);
        assert_eq!(sb.len(), 2);
        assert_eq!(
            (sb[0].txid, sb[0].fee, sb[0].has_unconfirmed_inputs),
            (t1, 100, false)
        );
        assert_eq!(
            (sb[1].txid, sb[1].fee, sb[1].has_unconfirmed_inputs),
            (t2, 100, true)
        );
        // Displayed order: t2 (…00 displayed first byte 0x00) before t1 (0xff) when equal.
        let u = s.utxos(&b);
        assert_eq!(
            u.iter().map(|u| (u.txid, u.vout)).collect::<Vec<_>>(),
            vec![(t2, 0), (t1, 0)]
        );
        assert_eq!(
            s.potential_spends(&b),
            HashSet::from([conf, OutPoint::new(t1, 0)])
        );
        assert_eq!(s.vbytes, 200);

        let mut touched = HashSet::new();
        s.remove(&[t1], &mut touched);
        assert_eq!(touched, HashSet::from([a, b]));
        assert!(!s.by_hashx.contains_key(&a));
        // t2 now looks confirmed-funded, as in ElectrumX (has_ui is computed at query time).
        assert!(!s.summaries(&b)[0].has_unconfirmed_inputs);
        s.remove(&[t2, t2], &mut touched);
        assert!(s.txs.is_empty() && s.by_hashx.is_empty());
        assert_eq!(s.vbytes, 0);
    }

    #[test]
    fn recent_is_the_newest_still_held() {
        let a = HashX([1; 11]);
        let mut s = State::default();
        let mut touched = HashSet::new();
        let ids: Vec<Txid> = (0..100u8).map(|i| txid(i, i)).collect();
        for (i, t) in ids.iter().enumerate() {
            let mut e = entry(vec![], vec![], vec![(a, 1)]);
            e.fee = i as u64;
            s.insert(*t, e, &mut touched);
        }
        let got = |s: &State, n| s.recent(n).iter().map(|r| r.txid).collect::<Vec<_>>();
        assert_eq!(got(&s, 3), vec![ids[99], ids[98], ids[97]]);
        assert_eq!(
            s.recent(1),
            vec![RecentTx {
                txid: ids[99],
                fee: 99,
                vsize: 100
            }]
        );
        // Removed ones are skipped; older ones take their place.
        s.remove(&ids[95..99], &mut touched);
        assert_eq!(got(&s, 3), vec![ids[99], ids[94], ids[93]]);
        // Re-inserted: the newest again, once.
        s.insert(ids[96], entry(vec![], vec![], vec![(a, 1)]), &mut touched);
        assert_eq!(got(&s, 3), vec![ids[96], ids[99], ids[94]]);
        // Compaction keeps the order and drops the duplicate.
        s.remove(&ids[..90], &mut touched);
        assert!(s.arrivals.len() <= 2 * s.txs.len() + 64);
        s.compact_arrivals();
        assert_eq!(s.arrivals.len(), s.txs.len());
        assert_eq!(
            got(&s, 20),
            [96, 99, 94, 93, 92, 91, 90].map(|i| ids[i]).to_vec()
        );
        assert_eq!(got(&s, 0), vec![]);
    }

    #[test]
    fn spenders_and_touched_outpoints() {
        let a = HashX([1; 11]);
        let conf = OutPoint::new(txid(9, 9), 0);
        let (t1, t2, t3) = (txid(1, 1), txid(2, 2), txid(3, 3));
        let mut s = State::default();
        let mut touched = HashSet::new();
        // t1 spends a confirmed coin, has two outputs; t2 spends t1:0.
        s.insert(
            t1,
            entry(vec![conf], vec![(a, 1_000)], vec![(a, 600), (a, 300)]),
            &mut touched,
        );
        s.insert(
            t2,
            entry(vec![OutPoint::new(t1, 0)], vec![(a, 600)], vec![(a, 500)]),
            &mut touched,
        );
        assert_eq!(
            s.take_touched_outpoints(),
            HashSet::from([
                conf,
                OutPoint::new(t1, 0),
                OutPoint::new(t1, 1),
                OutPoint::new(t2, 0)
            ])
        );
        assert!(s.take_touched_outpoints().is_empty());
        // A confirmed coin spent in the mempool: no funder here, spender t1 at 0.
        assert_eq!(
            s.spender_for_txo(&conf),
            MempoolTxo {
                funder_height: None,
                spender: Some((t1, 0))
            }
        );
        // t1:0 funded at 0, spent by t2 which has an unconfirmed input (-1).
        assert_eq!(
            s.spender_for_txo(&OutPoint::new(t1, 0)),
            MempoolTxo {
                funder_height: Some(0),
                spender: Some((t2, -1))
            }
        );
        assert_eq!(
            s.spender_for_txo(&OutPoint::new(t2, 0)),
            MempoolTxo {
                funder_height: Some(-1),
                spender: None
            }
        );
        // Past the outputs: nothing at all.
        assert_eq!(
            s.spender_for_txo(&OutPoint::new(t1, 2)),
            MempoolTxo::default()
        );
        // RBF: t3 replaces t2 (t2 removed, then t3 inserted).
        s.remove(&[t2], &mut touched);
        s.insert(
            t3,
            entry(vec![OutPoint::new(t1, 0)], vec![(a, 600)], vec![(a, 400)]),
            &mut touched,
        );
        assert_eq!(
            s.take_touched_outpoints(),
            HashSet::from([
                OutPoint::new(t1, 0),
                OutPoint::new(t2, 0),
                OutPoint::new(t3, 0)
            ])
        );
        assert_eq!(
            s.spender_for_txo(&OutPoint::new(t1, 0)).spender,
            Some((t3, -1))
        );
        // t1 mined (removed): t3's funder and t1's outputs are no longer the mempool's.
        s.remove(&[t1], &mut touched);
        assert_eq!(
            s.spender_for_txo(&OutPoint::new(t1, 0)),
            MempoolTxo {
                funder_height: None,
                spender: Some((t3, 0))
            }
        );
        assert_eq!(s.spender_for_txo(&conf), MempoolTxo::default());
        s.remove(&[t3], &mut touched);
        assert!(s.spenders.is_empty());
    }
}
