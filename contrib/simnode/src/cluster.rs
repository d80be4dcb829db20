//! Core 31's cluster mempool, as far as its RPC answers show it: every cluster (connected
//! group of unconfirmed transactions) is linearized and cut into chunks; `getmempoolentry`
//! reports each transaction's chunk (`chunkweight`, `fees.chunk`) and `getrawmempool` lists
//! the mempool in mining order.
//!
//! Linearization: repeatedly the remaining ancestor set with the highest fee rate (fee per
//! weight unit), parents first — optimal for the small clusters a regtest mempool holds.
//! Chunking: a transaction joins the chunk before it while its own chunk's fee rate is
//! strictly higher (Core's `ChunkLinearization`). Mining order (Core's
//! `CompareMainTransactions`): chunk fee rate, highest first; then the size of the
//! equal-fee-rate chunks of the cluster up to this one, smallest first; then the greatest txid
//! (as `uint256`) of the chunk, lowest first; then the place in the linearization.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use bitcoin::Txid;

use crate::mempool::{cmp_uint256, Mempool};

/// A fee and a size (weight units), compared as a fee rate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeeFrac {
    pub fee: u64,
    pub weight: u64,
}

impl FeeFrac {
    fn add(self, o: FeeFrac) -> FeeFrac {
        FeeFrac {
            fee: self.fee + o.fee,
            weight: self.weight + o.weight,
        }
    }

    /// Compares fee rates (`fee / weight`) exactly.
    pub fn cmp_rate(&self, o: &FeeFrac) -> Ordering {
        (u128::from(self.fee) * u128::from(o.weight))
            .cmp(&(u128::from(o.fee) * u128::from(self.weight)))
    }
}

/// The chunks of the whole mempool.
#[derive(Clone, Debug, Default)]
pub struct Chunks {
    /// Each transaction's chunk (total fee and weight).
    pub of_tx: HashMap<Txid, FeeFrac>,
    /// Every transaction in mining order.
    pub mining_order: Vec<Txid>,
}

/// One chunk while ordering: its fee rate, sort keys and transactions.
struct Chunk {
    rate: FeeFrac,
    prefix_weight: u64,
    max_txid: Txid,
    txs: Vec<Txid>,
}

impl Chunks {
    /// Linearizes and chunks every cluster of `pool`.
    pub fn of(pool: &Mempool) -> Chunks {
        let mut of_tx = HashMap::new();
        let mut all: Vec<Chunk> = Vec::new();
        let mut seen: BTreeSet<Txid> = BTreeSet::new();
        let mut txids: Vec<Txid> = pool.entries().map(|e| e.txid).collect();
        txids.sort();
        for start in txids {
            if seen.contains(&start) {
                continue;
            }
            let cluster = cluster_of(pool, start);
            seen.extend(cluster.iter().copied());
            let lin = linearize(pool, &cluster);
            let chunks = chunk(pool, &lin);
            // Equal-fee-rate runs of chunks: the prefix size key.
            let mut prev: Option<FeeFrac> = None;
            let mut prefix = 0u64;
            for (rate, txs) in chunks {
                if prev.is_some_and(|p| p.cmp_rate(&rate) == Ordering::Equal) {
                    prefix += rate.weight;
                } else {
                    prefix = rate.weight;
                }
                prev = Some(rate);
                for t in &txs {
                    of_tx.insert(*t, rate);
                }
                let max_txid = txs
                    .iter()
                    .copied()
                    .max_by(cmp_uint256)
                    .unwrap_or(Txid::from_raw_hash(bitcoin::hashes::Hash::all_zeros()));
                all.push(Chunk {
                    rate,
                    prefix_weight: prefix,
                    max_txid,
                    txs,
                });
            }
        }
        all.sort_by(|a, b| {
            b.rate
                .cmp_rate(&a.rate)
                .then(a.prefix_weight.cmp(&b.prefix_weight))
                .then_with(|| cmp_uint256(&a.max_txid, &b.max_txid))
        });
        let mining_order = all.into_iter().flat_map(|c| c.txs).collect();
        Chunks {
            of_tx,
            mining_order,
        }
    }
}

/// The connected component of `start` (parents and children, transitively).
fn cluster_of(pool: &Mempool, start: Txid) -> BTreeSet<Txid> {
    let mut out = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(t) = stack.pop() {
        if out.insert(t) {
            stack.extend(pool.parents(&t));
            stack.extend(pool.children(&t));
        }
    }
    out
}

fn fee_frac(pool: &Mempool, t: &Txid) -> FeeFrac {
    pool.get(t)
        .map(|e| FeeFrac {
            fee: e.fee,
            weight: e.weight,
        })
        .unwrap_or_default()
}

/// Ancestor-set linearization of one cluster.
fn linearize(pool: &Mempool, cluster: &BTreeSet<Txid>) -> Vec<Txid> {
    let mut left: BTreeSet<Txid> = cluster.clone();
    let mut out = Vec::with_capacity(cluster.len());
    while !left.is_empty() {
        // The remaining ancestor set (with the tx itself) of the best fee rate; ties: the
        // smaller set, then the lower txid.
        let mut best: Option<(FeeFrac, Vec<Txid>)> = None;
        for t in &left {
            let mut set: Vec<Txid> = pool
                .ancestors(t)
                .into_iter()
                .filter(|a| left.contains(a))
                .collect();
            set.push(*t);
            let rate = set
                .iter()
                .fold(FeeFrac::default(), |acc, x| acc.add(fee_frac(pool, x)));
            let better = match &best {
                None => true,
                Some((r, s)) => match rate.cmp_rate(r) {
                    Ordering::Greater => true,
                    Ordering::Less => false,
                    Ordering::Equal => rate.weight < r.weight && set.len() <= s.len(),
                },
            };
            if better {
                best = Some((rate, set));
            }
        }
        let Some((_, set)) = best else { break };
        // Parents first: fewer remaining ancestors first.
        let mut set: Vec<(usize, Txid)> = set
            .into_iter()
            .map(|t| {
                let n = pool
                    .ancestors(&t)
                    .iter()
                    .filter(|a| left.contains(*a))
                    .count();
                (n, t)
            })
            .collect();
        set.sort();
        for (_, t) in set {
            left.remove(&t);
            out.push(t);
        }
    }
    out
}

/// Core's chunking of a linearization.
fn chunk(pool: &Mempool, lin: &[Txid]) -> Vec<(FeeFrac, Vec<Txid>)> {
    let mut out: Vec<(FeeFrac, Vec<Txid>)> = Vec::new();
    for t in lin {
        let mut cur = (fee_frac(pool, t), vec![*t]);
        while let Some((rate, _)) = out.last() {
            if cur.0.cmp_rate(rate) != Ordering::Greater {
                break;
            }
            let Some((rate, mut txs)) = out.pop() else {
                break;
            };
            txs.extend(cur.1);
            cur = (rate.add(cur.0), txs);
        }
        out.push(cur);
    }
    out
}

/// Core's `ImprovesFeerateDiagram` for a replacement: the diagram (cumulative fee over
/// cumulative weight, best fee rate first) of `new` must be nowhere below that of `old` and
/// somewhere above it; the shorter diagram continues flat.
pub fn improves_diagram(old: &[FeeFrac], new: FeeFrac) -> bool {
    let mut old: Vec<FeeFrac> = old.to_vec();
    old.sort_by(|a, b| b.cmp_rate(a));
    // Breakpoints of the old diagram.
    let mut points = vec![(0u64, 0u64)];
    for c in &old {
        let (w, f) = points[points.len() - 1];
        points.push((w + c.weight, f + c.fee));
    }
    // `new`'s diagram at weight `w`, times `new.weight` (exact).
    let new_at = |w: u64| -> u128 {
        if w >= new.weight {
            u128::from(new.fee) * u128::from(new.weight.max(1))
        } else {
            u128::from(new.fee) * u128::from(w)
        }
    };
    let scale = u128::from(new.weight.max(1));
    let mut strictly = false;
    // Old breakpoints against the new line.
    for &(w, f) in &points {
        let (n, o) = (new_at(w), u128::from(f) * scale);
        if n < o {
            return false;
        }
        strictly |= n > o;
    }
    // The new breakpoint against the old diagram (interpolated, times the segment weight).
    let w = new.weight;
    let old_at = points
        .windows(2)
        .find(|p| p[1].0 >= w)
        .map(|p| {
            let ((w0, f0), (w1, f1)) = (p[0], p[1]);
            let span = u128::from(w1 - w0).max(1);
            (
                u128::from(f0) * span + u128::from(f1 - f0) * u128::from(w - w0),
                span,
            )
        })
        .unwrap_or_else(|| (u128::from(points[points.len() - 1].1), 1));
    let (n, o) = (u128::from(new.fee) * old_at.1, old_at.0);
    if n < o {
        return false;
    }
    strictly || n > o
}

#[cfg(test)]
mod tests {
    use super::{improves_diagram, FeeFrac};

    fn ff(fee: u64, weight: u64) -> FeeFrac {
        FeeFrac { fee, weight }
    }

    #[test]
    fn diagram() {
        // Same size, more fee: better.
        assert!(improves_diagram(&[ff(100, 400)], ff(200, 400)));
        // Same fee and size: not strictly better.
        assert!(!improves_diagram(&[ff(100, 400)], ff(100, 400)));
        // More fee but a much lower fee rate over a larger size: worse at the start.
        assert!(!improves_diagram(&[ff(1000, 400)], ff(1100, 4000)));
        // Smaller and richer than two old chunks.
        assert!(improves_diagram(&[ff(100, 400), ff(50, 400)], ff(200, 400)));
    }
}
