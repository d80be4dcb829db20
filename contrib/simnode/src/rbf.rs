//! Replacement (RBF) rules of `AcceptToMemoryPool`, for [`crate::accept`]: Core 29.0's full-RBF
//! checks and Core 31.0's cluster-mempool ones.

use std::collections::{BTreeSet, HashSet};

use bitcoin::{Transaction, Txid};

use crate::accept::{
    fee_at, feerate, feerate_string, format_money, Reject, MAX_REPLACEMENT_CANDIDATES,
};
use crate::cluster::{improves_diagram, Chunks, FeeFrac};
use crate::node::Node;

impl Node {
    /// Core 29.0's `ReplacementChecks` (full RBF): a higher fee rate than each direct conflict
    /// (rule 6), at most 100 transactions evicted (rule 5), no new unconfirmed inputs (rule 2),
    /// more fees than all evicted ones plus relay of its own size (rules 3 and 4). Returns the
    /// transactions to evict.
    pub(crate) fn replacement_checks(
        &self,
        tx: &Transaction,
        txid: &Txid,
        fee: u64,
        vsize: u64,
        conflicts: &BTreeSet<Txid>,
    ) -> Result<BTreeSet<Txid>, Reject> {
        let new_rate = feerate(fee, vsize);
        for c in conflicts {
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
        }
        let replaced = self.conflicts_with_descendants(txid, conflicts)?;
        let parents_of_conflicts: HashSet<Txid> = replaced
            .iter()
            .filter_map(|t| self.mempool.get(t))
            .flat_map(|e| e.tx.input.iter().map(|i| i.previous_output.txid))
            .collect();
        for (j, input) in tx.input.iter().enumerate() {
            let parent = input.previous_output.txid;
            if !parents_of_conflicts.contains(&parent) && self.mempool.contains(&parent) {
                return Err(Reject::rejected(
                    "replacement-adds-unconfirmed",
                    Some(format!(
                        "replacement {txid} adds unconfirmed input, idx {j}"
                    )),
                ));
            }
        }
        self.pays_for_rbf(txid, fee, vsize, &replaced)?;
        Ok(replaced)
    }

    /// Core 31's `ReplacementChecks` (cluster mempool): at most 100 transactions evicted, more
    /// fees than all of them plus relay of its own size, then a strictly better fee-rate
    /// diagram. (Rule 2, no new unconfirmed inputs, and the fee-rate-per-conflict rule are
    /// gone.) The diagram compared is that of the evicted transactions' chunks against the
    /// replacement alone.
    pub(crate) fn replacement_checks_v31(
        &self,
        txid: &Txid,
        fee: u64,
        weight: u64,
        vsize: u64,
        conflicts: &BTreeSet<Txid>,
    ) -> Result<BTreeSet<Txid>, Reject> {
        let replaced = self.conflicts_with_descendants(txid, conflicts)?;
        self.pays_for_rbf(txid, fee, vsize, &replaced)?;
        let chunks = Chunks::of(&self.mempool);
        let mut old: Vec<FeeFrac> = Vec::new();
        for t in chunks.mining_order.iter().filter(|t| replaced.contains(*t)) {
            let Some(e) = self.mempool.get(t) else {
                continue;
            };
            let rate = chunks.of_tx.get(t).copied().unwrap_or_default();
            // Each evicted transaction at its chunk's fee rate.
            let fee_part = (u128::from(rate.fee) * u128::from(e.weight))
                .checked_div(u128::from(rate.weight))
                .unwrap_or(0);
            old.push(FeeFrac {
                fee: u64::try_from(fee_part).unwrap_or(u64::MAX),
                weight: e.weight,
            });
        }
        let new = FeeFrac { fee, weight };
        if !improves_diagram(&old, new) {
            return Err(Reject::rejected(
                "replacement-failed",
                Some("insufficient feerate: does not improve feerate diagram".to_string()),
            ));
        }
        Ok(replaced)
    }

    /// The direct conflicts and their descendants (BIP 125 rule 5: at most 100).
    fn conflicts_with_descendants(
        &self,
        txid: &Txid,
        conflicts: &BTreeSet<Txid>,
    ) -> Result<BTreeSet<Txid>, Reject> {
        let mut count = 0usize;
        let mut replaced: BTreeSet<Txid> = BTreeSet::new();
        for c in conflicts {
            let descendants = self.mempool.descendants(c);
            count += descendants.len() + 1;
            if count > MAX_REPLACEMENT_CANDIDATES {
                return Err(Reject::rejected(
                    "too many potential replacements",
                    Some(format!(
                        "rejecting replacement {txid}; too many potential replacements ({count} > {MAX_REPLACEMENT_CANDIDATES})"
                    )),
                ));
            }
            replaced.insert(*c);
            replaced.extend(descendants);
        }
        Ok(replaced)
    }

    /// Core's `PaysForRBF` (rules 3 and 4): more fees than everything evicted, and the
    /// difference pays the incremental relay fee for the replacement's size.
    fn pays_for_rbf(
        &self,
        txid: &Txid,
        fee: u64,
        vsize: u64,
        replaced: &BTreeSet<Txid>,
    ) -> Result<(), Reject> {
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
                    format_money(fee),
                    format_money(old_fees)
                )),
            ));
        }
        let needed = fee_at(self.core.min_relay_feerate(), vsize);
        if fee - old_fees < needed {
            return Err(Reject::rejected(
                "insufficient fee",
                Some(format!(
                    "rejecting replacement {txid}, not enough additional fees to relay; {} < {}",
                    format_money(fee - old_fees),
                    format_money(needed)
                )),
            ));
        }
        Ok(())
    }
}
