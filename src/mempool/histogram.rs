//! The compact fee histogram of `mempool.get_fee_histogram`, computed exactly as ElectrumX
//! 1.20 does (`MemPool._update_histogram` and `_compress_histogram`).
//!
//! 1. Each transaction's fee rate `fee / vsize` (sat/vB, a float) is rounded *down* to 0.1
//!    sat/vB: `floor(10 × rate) / 10`, with the same IEEE-754 double operations Python
//!    performs, so the keys are the very floats ElectrumX gets. Vsizes are summed per key.
//! 2. Keys are walked from the highest fee rate down, accumulating vsize; a bin is closed
//!    (emitted as `(rate, cumulative vsize)`, `rate` being the lowest rate in it) as soon as
//!    its cumulative size exceeds the bin size, which then grows by 1.1×. The first bin size
//!    is [`BIN_SIZE`] vbytes.
//! 3. The "big lump" rule: when a single key holds more than twice the current bin size,
//!    the bin accumulated so far (if not empty) is closed first at the previous key's rate,
//!    so that the lump gets a bin of its own.
//!
//! Serialized with `serde_json`, the rates print as Python's `json` prints floats for every
//! value that can occur here (multiples of 0.1 below 10^16): `2.0`, `12.5`, `0.1`, `0.0`.

use std::collections::BTreeMap;

/// ElectrumX's `MEMPOOL_COMPACT_HISTOGRAM_BINSIZE` (the `Coin` default, which Bitcoin keeps):
/// the first bin's minimum size, in vbytes.
pub const BIN_SIZE: u64 = 30_000;

/// The fee-rate key of a transaction: its fee rate in sat/vB, rounded down to 0.1, as the
/// same float Python computes with `math.floor(10 * (fee / size)) / 10`. `None` for a zero
/// size (which Python would refuse with `ZeroDivisionError`; no transaction has it).
pub fn fee_rate_key(fee: u64, vsize: u64) -> Option<f64> {
    if vsize == 0 {
        return None;
    }
    // `fee / size` on Python ints is the correctly rounded quotient; so is the f64 division
    // of the two (exactly representable below 2^53) operands.
    let rate = fee as f64 / vsize as f64;
    Some((10.0 * rate).floor() / 10.0)
}

/// The compact histogram of `(fee, vsize)` pairs with first bin size `bin_size` vbytes:
/// `(fee rate, vsize)` bins from the highest fee rate down.
pub fn compact_histogram(
    txs: impl IntoIterator<Item = (u64, u64)>,
    bin_size: u64,
) -> Vec<(f64, u64)> {
    // Keyed by the float's bits: for the non-negative, finite keys that occur, their order
    // is the numeric order and their equality Python's float equality.
    let mut histogram: BTreeMap<u64, u64> = BTreeMap::new();
    for (fee, vsize) in txs {
        if let Some(key) = fee_rate_key(fee, vsize) {
            *histogram.entry(key.to_bits()).or_insert(0) += vsize;
        }
    }
    compress(
        histogram
            .iter()
            .rev()
            .map(|(&k, &v)| (f64::from_bits(k), v)),
        bin_size,
    )
}

/// ElectrumX's `_compress_histogram` over `(fee rate, vsize)` pairs given from the highest
/// rate down.
pub fn compress(
    descending: impl IntoIterator<Item = (f64, u64)>,
    bin_size: u64,
) -> Vec<(f64, u64)> {
    let mut compact = Vec::new();
    // Python starts with the int and multiplies it by 1.1 (a float from then on); sizes are
    // far below 2^53, so every int/float comparison below is exact in f64 as in Python.
    let mut bin = bin_size as f64;
    let mut cum: u64 = 0;
    let mut prev_rate: Option<f64> = None;
    for (rate, size) in descending {
        if size as f64 > 2.0 * bin && cum > 0 {
            if let Some(prev) = prev_rate {
                compact.push((prev, cum));
                cum = 0;
                bin *= 1.1;
            }
        }
        cum += size;
        if cum as f64 > bin {
            compact.push((rate, cum));
            cum = 0;
            bin *= 1.1;
        }
        prev_rate = Some(rate);
    }
    compact
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(h: &[(u32, u64)]) -> Vec<(f64, u64)> {
        let mut v: Vec<(f64, u64)> = h.iter().map(|&(r, s)| (f64::from(r), s)).collect();
        v.sort_by(|a, b| b.0.total_cmp(&a.0));
        v
    }

    /// ElectrumX 1.20's own test vectors (`tests/server/test_mempool.py`).
    #[test]
    fn electrumx_vectors() {
        let h = ints(&[
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
        ]);
        assert_eq!(
            compress(h.clone(), 100_000),
            vec![
                (19.0, 78_000),
                (18.0, 900_000),
                (13.0, 5_000),
                (12.0, 10_000_000)
            ]
        );
        assert_eq!(
            compress(h, 30_000),
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
            compress(h, 100_000),
            vec![
                (10.1, 51_000),
                (10.0, 500_000),
                (1.1, 70_000),
                (1.0, 10_000_000)
            ]
        );
    }

    #[test]
    fn rates_round_down_to_a_tenth() {
        assert_eq!(fee_rate_key(1_000, 141), Some(7.0)); // 7.09...
        assert_eq!(fee_rate_key(141, 141), Some(1.0));
        assert_eq!(fee_rate_key(140, 141), Some(0.9)); // 0.9929...
        assert_eq!(fee_rate_key(0, 200), Some(0.0));
        assert_eq!(fee_rate_key(25, 10), Some(2.5));
        assert_eq!(fee_rate_key(3, 10), Some(0.3));
        assert_eq!(fee_rate_key(7, 10), Some(0.7));
        assert_eq!(fee_rate_key(1, 0), None);
        // Every key is the float nearest k/10, so it prints as the short decimal.
        for fee in 0..3_000u64 {
            let key = fee_rate_key(fee, 97).expect("key");
            let k = (10 * fee) / 97;
            assert_eq!(key, k as f64 / 10.0, "fee {fee}");
        }
    }

    #[test]
    fn empty_and_small_mempools() {
        assert!(compact_histogram(Vec::new(), BIN_SIZE).is_empty());
        // Below one bin: nothing is emitted (ElectrumX drops the last, unfilled bin).
        assert!(compact_histogram(vec![(1_000, 200); 10], BIN_SIZE).is_empty());
        // 200 txs of 200 vB at 5 sat/vB = 40,000 vB > 30,000: one bin.
        assert_eq!(
            compact_histogram(vec![(1_000, 200); 200], BIN_SIZE),
            vec![(5.0, 40_000)]
        );
    }

    /// serde_json prints these floats as Python's `json` does (`2.0`, not `2`).
    #[test]
    fn json_floats_print_like_python() {
        let v = vec![
            (12.5, 30_123u64),
            (2.0, 1),
            (0.1, 2),
            (0.0, 3),
            (1234567.8, 4),
            (0.3, 5),
        ];
        assert_eq!(
            serde_json::to_string(&v).expect("json"),
            "[[12.5,30123],[2.0,1],[0.1,2],[0.0,3],[1234567.8,4],[0.3,5]]"
        );
        // No fee exceeds the 21M BTC supply and no vsize is below 1, so keys stay below
        // 10^16, where Python would switch to `1e+16` and serde_json to `1e16`.
        let key = fee_rate_key(2_100_000_000_000_000, 1).expect("key");
        assert_eq!(
            serde_json::to_string(&key).expect("json"),
            "2100000000000000.0"
        );
    }
}
