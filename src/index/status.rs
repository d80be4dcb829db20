//! An outpoint's confirmed status: whether the output exists in the flushed chain, at which
//! height it was funded, and which transaction spent it, at which height. It answers what
//! ElectrumX 2.0.0's `_calc_oc_txo_status` asks bitcoind (`getrawtransaction` with
//! `-txindex`, then `gettxspendingprevout` with `-txospenderindex`), from the index alone.
//!
//! An output exists when its transaction is in the chain and it has a row: in `outpoints`
//! (unspent) or in `spenders` (spent: the spender's tx number; unspendable: empty). So an
//! index past the transaction's last output, the genesis coinbase's output (never indexed,
//! and bitcoind does not serve that transaction either) and an unknown transaction are all
//! "not funded".

use bitcoin::{OutPoint, Txid};

use super::error::IndexError;
use super::schema::{outpoint_prefix, read_spender_value, spender_key, tx_num_bytes, Cf, TxNum};
use super::snap::{height_of, tx_nums_with_prefix, Snap};
use super::view::View;

/// The confirmed transaction that spent an output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spender {
    pub txid: Txid,
    pub height: u32,
    /// Its position in the chain.
    pub tx_num: TxNum,
}

/// What the flushed chain says of an existing output (ElectrumX 2.0's `TXOSpendStatus`
/// without the mempool): funded at `funder_height`, and spent by `spender` if that is
/// `Some`. A missing output is no status at all (`None` from the reader).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutpointStatus {
    pub funder_height: u32,
    /// The funding transaction's position in the chain.
    pub funder_tx_num: TxNum,
    pub spender: Option<Spender>,
}

/// The tx number of the last confirmed transaction with `txid` (a txid mined twice before
/// BIP 30: the later one, whose outputs replaced the earlier one's, as bitcoind's `-txindex`
/// keeps the later one too).
fn last_tx_num(s: &Snap<'_>, txid: &Txid) -> Result<Option<TxNum>, IndexError> {
    let nums = tx_nums_with_prefix(&mut s.iter(Cf::TxPrefix, true)?, txid)?;
    let txids = s.txids(&nums)?;
    Ok(nums
        .iter()
        .zip(txids)
        .rev()
        .find(|(_, t)| t == txid)
        .map(|(n, _)| *n))
}

/// The status of `op` in the snapshot `s` with its view `v`.
pub(crate) fn status(
    s: &Snap<'_>,
    v: &View,
    op: &OutPoint,
) -> Result<Option<OutpointStatus>, IndexError> {
    let Some(funder) = last_tx_num(s, &op.txid)? else {
        return Ok(None);
    };
    let funder_height = height_of(v, funder)?;
    let spender = match s.get(Cf::Spenders, &spender_key(funder, op.vout))? {
        Some(value) => match read_spender_value(&value)? {
            Some(n) => {
                let txid = s
                    .txids(&[n])?
                    .into_iter()
                    .next()
                    .ok_or_else(|| IndexError::Corrupt(format!("no txid for tx number {n}")))?;
                Some(Spender {
                    txid,
                    height: height_of(v, n)?,
                    tx_num: n,
                })
            }
            // Unspendable: it exists, and never will be spent.
            None => None,
        },
        None => {
            let mut key = outpoint_prefix(&op.txid, op.vout).to_vec();
            key.extend_from_slice(&tx_num_bytes(funder));
            if s.get(Cf::Outpoints, &key)?.is_none() {
                return Ok(None);
            }
            None
        }
    };
    Ok(Some(OutpointStatus {
        funder_height,
        funder_tx_num: funder,
        spender,
    }))
}
