//! Test oracles written from ElectrumX 1.20's code (and Python's), independently of
//! FerrumX's (which they check): one place per rule, used by every test that needs it.
//!
//! ## Digit grouping
//!
//! Python's `f'{n:,d}'` (ElectrumX's messages and admin texts): [`grouped`].
//!
//! ## The compact fee histogram (`mempool.get_fee_histogram`)
//!
//! ElectrumX 1.20, `electrumx/server/mempool.py`:
//!
//! ```python
//! def _update_histogram(self, bin_size):
//!     histogram = defaultdict(int)
//!     for tx in self.txs.values():
//!         fee_rate = tx.fee / tx.size
//!         fee_rate = math.floor(10 * fee_rate) / 10
//!         histogram[fee_rate] += tx.size
//!     compact = self._compress_histogram(histogram, bin_size=bin_size)
//!
//! def _compress_histogram(cls, histogram, *, bin_size):
//!     compact = []
//!     cum_size = 0
//!     prev_fee_rate = None
//!     for fee_rate, size in sorted(histogram.items(), reverse=True):
//!         if size > 2 * bin_size and prev_fee_rate is not None and cum_size > 0:
//!             compact.append((prev_fee_rate, cum_size))
//!             cum_size = 0
//!             bin_size *= 1.1
//!         cum_size += size
//!         if cum_size > bin_size:
//!             compact.append((fee_rate, cum_size))
//!             cum_size = 0
//!             bin_size *= 1.1
//!         prev_fee_rate = fee_rate
//!     return compact
//! ```
//!
//! with `bin_size = coin.MEMPOOL_COMPACT_HISTOGRAM_BINSIZE = 30_000` (`lib/coins.py`) and
//! `tx.size` the virtual size. Python's numbers, modelled here:
//! - `fee / size` of two ints is their correctly rounded quotient; so is the f64 division
//!   of the two (exact below 2^53) operands;
//! - `math.floor(x)` is an int `k` (exact in f64 below 2^53), and `k / 10` its correctly
//!   rounded quotient, the f64 division `k / 10.0`;
//! - `bin_size` is the int 30,000 until the first `*= 1.1`, a float after; an int compared
//!   with a float compares exactly, as f64 does for these (small) ints;
//! - the dict merges equal floats; `sorted(..., reverse=True)` walks them from the highest.
//!
//! The unit tests below hold the vectors of ElectrumX's own `test_compress_histogram`, as
//! ElectrumX 1.20's `MemPool._compress_histogram` answers them (checked by running it).

/// Python's `f'{n:,d}'` of the integer `n` is written as (any size: it is given as text, or
/// as anything that displays as decimal digits with an optional `-`).
pub fn grouped(n: impl std::fmt::Display) -> String {
    let s = n.to_string();
    let (sign, digits) = match s.strip_prefix('-') {
        Some(d) => ("-", d.to_string()),
        None => ("", s.clone()),
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// ElectrumX's `MEMPOOL_COMPACT_HISTOGRAM_BINSIZE` for Bitcoin.
pub const HISTOGRAM_BIN_SIZE: u64 = 30_000;

/// `mempool.get_fee_histogram` for a mempool of `(fee, vsize)` pairs, as ElectrumX 1.20
/// computes it (bin size [`HISTOGRAM_BIN_SIZE`]).
pub fn fee_histogram(txs: impl IntoIterator<Item = (u64, u64)>) -> Vec<(f64, u64)> {
    // `histogram[fee_rate] += tx.size`: a list of (rate, size) with equal rates merged.
    let mut histogram: Vec<(f64, u64)> = Vec::new();
    for (fee, size) in txs {
        let fee_rate = fee as f64 / size as f64;
        let fee_rate = (10.0 * fee_rate).floor() / 10.0;
        match histogram.iter_mut().find(|(rate, _)| *rate == fee_rate) {
            Some((_, total)) => *total += size,
            None => histogram.push((fee_rate, size)),
        }
    }
    compress_histogram(histogram, HISTOGRAM_BIN_SIZE)
}

/// ElectrumX's `_compress_histogram` of `(fee rate, size)` entries (distinct rates, in any
/// order) with first bin size `bin_size`.
pub fn compress_histogram(mut histogram: Vec<(f64, u64)>, bin_size: u64) -> Vec<(f64, u64)> {
    // `sorted(histogram.items(), reverse=True)`.
    histogram.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut bin_size = bin_size as f64;
    let mut compact = Vec::new();
    let mut cum_size = 0u64;
    let mut prev_fee_rate: Option<f64> = None;
    for (fee_rate, size) in histogram {
        match prev_fee_rate {
            Some(prev) if size as f64 > 2.0 * bin_size && cum_size > 0 => {
                compact.push((prev, cum_size));
                cum_size = 0;
                bin_size *= 1.1;
            }
            _ => {}
        }
        cum_size += size;
        if cum_size as f64 > bin_size {
            compact.push((fee_rate, cum_size));
            cum_size = 0;
            bin_size *= 1.1;
        }
        prev_fee_rate = Some(fee_rate);
    }
    compact
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Python: `f'{0:,d}'`, `f'{999:,d}'`, `f'{1000:,d}'`, `f'{-1234567:,d}'`, a 31-digit int.
    #[test]
    fn grouped_as_python() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(-1_234_567), "-1,234,567");
        assert_eq!(
            grouped("1000000000000000000000000000000"),
            "1,000,000,000,000,000,000,000,000,000,000"
        );
    }

    /// ElectrumX's `test_compress_histogram` vectors, with what ElectrumX 1.20 answers.
    #[test]
    fn electrumx_vectors() {
        let h: Vec<(f64, u64)> = [
            (10, 100_000),
            (11, 1_000),
            (12, 10_000_000),
            (13, 1_000),
            (14, 1_000),
            (15, 1_000),
            (16, 1_000),
            (17, 1_000),
            (18, 900_000),
            (19, 1_000),
            (20, 1_000),
            (21, 75_000),
            (22, 1_000),
        ]
        .iter()
        .map(|&(r, s)| (f64::from(r), s))
        .collect();
        assert_eq!(
            compress_histogram(h.clone(), 100_000),
            vec![
                (19.0, 78_000),
                (18.0, 900_000),
                (13.0, 5_000),
                (12.0, 10_000_000)
            ]
        );
        assert_eq!(
            compress_histogram(h, 30_000),
            vec![
                (22.0, 1_000),
                (21.0, 75_000),
                (19.0, 2_000),
                (18.0, 900_000),
                (13.0, 5_000),
                (12.0, 10_000_000),
                (10.0, 101_000)
            ]
        );
        let h = vec![
            (11.0, 50_000),
            (10.1, 1_000),
            (10.0, 500_000),
            (1.2, 40_000),
            (1.1, 30_000),
            (1.0, 10_000_000),
        ];
        assert_eq!(
            compress_histogram(h, 100_000),
            vec![
                (10.1, 51_000),
                (10.0, 500_000),
                (1.1, 70_000),
                (1.0, 10_000_000)
            ]
        );
    }

    /// Rates round down to a tenth, equal rates are summed, and an unfilled last bin is
    /// dropped (as ElectrumX does).
    #[test]
    fn rates_round_down_and_merge() {
        assert!(fee_histogram(vec![(1_000, 200); 10]).is_empty());
        // 200 txs of 200 vB at 5 sat/vB (and 5.04: the same tenth) = 40,000 vB > 30,000.
        let mut txs = vec![(1_000, 200); 199];
        txs.push((1_008, 200));
        assert_eq!(fee_histogram(txs), vec![(5.0, 40_000)]);
        // 7.09 sat/vB is 7.0; 0.99 is 0.9.
        assert_eq!(fee_histogram(vec![(1_000, 141); 300]), vec![(7.0, 42_300)]);
        assert_eq!(fee_histogram(vec![(140, 141); 300]), vec![(0.9, 42_300)]);
    }
}
