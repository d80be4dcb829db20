//! Outpoint statuses with the mempool overlaid: what the mempool alone says of an outpoint
//! ([`MempoolTxo`], ElectrumX 2.0's `spender_for_txo`) and the status a client is told
//! ([`TxoStatus`]), the index's confirmed status with the mempool overlaid as ElectrumX
//! 2.0's `_calc_txoutpoint_status` does. Uses no sibling.

use bitcoin::{OutPoint, Txid};

use crate::index::OutpointStatus;

/// What the mempool alone says of an outpoint: its funding transaction if that is in the
/// mempool (height 0, or -1 when it has an unconfirmed input), and its spender if a mempool
/// transaction spends it (likewise). A mined or unknown funder is `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MempoolTxo {
    pub funder_height: Option<i64>,
    pub spender: Option<(Txid, i64)>,
}

/// An outpoint's status as clients see it (ElectrumX 2.0's `TXOSpendStatus`): no funder
/// (it does not exist, or not yet), a funder at a height (0 or -1 in the mempool), and a
/// spender at a height (0 or -1 in the mempool) if it is spent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxoStatus {
    pub funder_height: Option<i64>,
    pub spender: Option<(Txid, i64)>,
}

impl TxoStatus {
    /// Whether some height in it is a mempool one (0 or -1): it may then change when a
    /// block confirms a transaction it does not name (a parent), or a reorg returns one.
    pub fn in_mempool(&self) -> bool {
        self.funder_height.is_some_and(|h| h <= 0) || self.spender.is_some_and(|s| s.1 <= 0)
    }

    /// The confirmed status `confirmed` alone (its spender too, if it has one).
    pub fn confirmed(confirmed: Option<&OutpointStatus>) -> TxoStatus {
        TxoStatus {
            funder_height: confirmed.map(|c| i64::from(c.funder_height)),
            spender: confirmed
                .and_then(|c| c.spender)
                .map(|s| (s.txid, i64::from(s.height))),
        }
    }

    /// ElectrumX 2.0's `_calc_txoutpoint_status`: the confirmed status if its spend is
    /// confirmed; otherwise each part from the mempool when the mempool has it, else from
    /// the chain. `mempool` is asked only in the second case (ElectrumX charges for it).
    pub fn overlay(
        confirmed: Option<&OutpointStatus>,
        op: &OutPoint,
        mempool: impl FnOnce(&OutPoint) -> MempoolTxo,
    ) -> TxoStatus {
        let oc = TxoStatus::confirmed(confirmed);
        if oc.spender.is_some() {
            return oc;
        }
        let mp = mempool(op);
        TxoStatus {
            funder_height: mp.funder_height.or(oc.funder_height),
            spender: mp.spender.or(oc.spender),
        }
    }

    /// Whether [`TxoStatus::overlay`] asks the mempool for the confirmed status `confirmed`.
    pub fn needs_mempool(confirmed: Option<&OutpointStatus>) -> bool {
        confirmed.and_then(|c| c.spender).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;

    fn txid(b: u8) -> Txid {
        Txid::from_byte_array([b; 32])
    }

    #[test]
    fn the_mempool_fills_what_the_chain_lacks() {
        let op = OutPoint::new(txid(1), 0);
        let funded = OutpointStatus {
            funder_height: 7,
            funder_tx_num: 70,
            spender: None,
        };
        let spent = OutpointStatus {
            spender: Some(crate::index::Spender {
                txid: txid(2),
                height: 9,
                tx_num: 90,
            }),
            ..funded
        };
        let mp = MempoolTxo {
            funder_height: None,
            spender: Some((txid(3), -1)),
        };
        // A confirmed spend: the mempool is not asked.
        let s = TxoStatus::overlay(Some(&spent), &op, |_| panic!("asked"));
        assert_eq!(s.spender, Some((txid(2), 9)));
        assert!(!s.in_mempool());
        assert!(!TxoStatus::needs_mempool(Some(&spent)));
        // Confirmed funder, mempool spender.
        let s = TxoStatus::overlay(Some(&funded), &op, |_| mp);
        assert_eq!(
            s,
            TxoStatus {
                funder_height: Some(7),
                spender: Some((txid(3), -1))
            }
        );
        assert!(s.in_mempool());
        // Unknown to the chain, funded in the mempool.
        let s = TxoStatus::overlay(None, &op, |_| MempoolTxo {
            funder_height: Some(0),
            spender: None,
        });
        assert_eq!(s.funder_height, Some(0));
        assert!(s.in_mempool());
        assert_eq!(
            TxoStatus::overlay(None, &op, |_| MempoolTxo::default()),
            TxoStatus::default()
        );
    }
}
