//! The admin RPC's `query`: what the index knows of addresses, scripts and script hashes,
//! in ElectrumX's lines (`History #0: height 1,234 tx_hash …`, `UTXO #1: …`, `Balance: …`),
//! followed — only when there are any — by the script hash's mempool transactions.

use bitcoin::address::NetworkUnchecked;
use bitcoin::hashes::{sha256, Hash};
use bitcoin::hex::{DisplayHex, FromHex};
use bitcoin::{Address, Network, ScriptBuf};

use super::text::coins;
use crate::electrum::shared::ElectrumState;
use crate::index::HashX;
use crate::py::thousands;

/// ElectrumX's default `--limit`.
pub const DEFAULT_LIMIT: u64 = 1000;

/// What one `query` item names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// The script hash (internal byte order) and the label line.
    Known { sh: [u8; 32], label: String },
    /// Not an address of the network, a hex script or a script hash.
    Unknown(String),
}

/// The coin's short name as ElectrumX prints balances (`BTC`, `XTN` for the test networks).
pub fn short_name(network: Network) -> &'static str {
    match network {
        Network::Bitcoin => "BTC",
        _ => "XTN",
    }
}

/// Reads one item: 64 hex digits are a script hash (as Electrum shows them, byte-reversed);
/// other hex is a script (as ElectrumX reads hex first); anything else must be an address
/// of `network` (any type the `bitcoin` crate knows: P2PKH, P2SH, segwit v0, taproot…).
pub fn parse_item(item: &str, network: Network) -> Item {
    if item.len() == 64 {
        if let Ok(mut sh) = <[u8; 32]>::from_hex(item) {
            sh.reverse();
            return Item::Known {
                sh,
                label: format!("Script hash: {item}"),
            };
        }
    }
    if !item.is_empty() {
        if let Ok(script) = Vec::<u8>::from_hex(item) {
            return Item::Known {
                sh: sha256::Hash::hash(&script).to_byte_array(),
                label: format!("Script: {item}"),
            };
        }
    }
    match item.parse::<Address<NetworkUnchecked>>() {
        Ok(a) => match a.require_network(network) {
            Ok(a) => Item::Known {
                sh: script_hash(&a.script_pubkey()),
                label: format!("Address: {item}"),
            },
            Err(_) => Item::Unknown(format!("{item}: not an address of the {network} network")),
        },
        Err(_) => Item::Unknown(format!(
            "{item}: not an address, a hex script or a script hash"
        )),
    }
}

fn script_hash(script: &ScriptBuf) -> [u8; 32] {
    sha256::Hash::hash(script.as_bytes()).to_byte_array()
}

/// The lines of `query` for `items`, at most `limit` history entries and UTXOs each (a
/// `limit` of 0 lists no history and every UTXO, as ElectrumX does). Blocking: it reads
/// the index.
///
/// # Errors
/// An index read failed.
pub fn run(shared: &ElectrumState, items: &[String], limit: u64) -> Result<Vec<String>, String> {
    let network = shared.daemon.network();
    let unit = short_name(network);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut lines = Vec::new();
    for item in items {
        let (sh, label) = match parse_item(item, network) {
            Item::Known { sh, label } => (sh, label),
            Item::Unknown(why) => {
                lines.push(why);
                continue;
            }
        };
        lines.push(label);
        let index = &shared.index;
        let history = index.history(&sh, 0, limit).map_err(|e| e.to_string())?;
        for (n, (txid, height)) in history.iter().enumerate() {
            lines.push(format!(
                "History #{}: height {} tx_hash {txid}",
                thousands(n as u64),
                thousands(*height)
            ));
        }
        if history.is_empty() {
            lines.push("No history found".into());
        }
        let utxos = index.utxos(&sh).map_err(|e| e.to_string())?;
        for (i, u) in utxos.iter().enumerate() {
            let n = i + 1;
            lines.push(format!(
                "UTXO #{}: tx_hash {} tx_pos {} height {} value {}",
                thousands(n as u64),
                u.txid,
                thousands(u.vout),
                thousands(u.height),
                thousands(u.value)
            ));
            if n == limit {
                break;
            }
        }
        if utxos.is_empty() {
            lines.push("No UTXOs found".into());
        }
        let balance = utxos.iter().fold(0u64, |a, u| a.saturating_add(u.value));
        lines.push(format!("Balance: {} {unit}", coins(balance)));
        // FerrumX's addition: the mempool, when it holds something for the script hash.
        let x = HashX::from_script_hash(&sh);
        let mempool = shared.mempool.summaries(&x);
        for (n, tx) in mempool.iter().take(limit).enumerate() {
            let height = if tx.has_unconfirmed_inputs { -1 } else { 0 };
            lines.push(format!(
                "Mempool #{}: height {height} tx_hash {} fee {}",
                thousands(n as u64),
                tx.txid,
                thousands(tx.fee)
            ));
        }
        if !mempool.is_empty() {
            let delta = shared.mempool.balance_delta(&x);
            let sign = if delta < 0 { "-" } else { "+" };
            lines.push(format!(
                "Mempool balance change: {sign}{} {unit}",
                coins(delta.unsigned_abs())
            ));
        }
    }
    Ok(lines)
}

/// The script hash of `item` as Electrum shows it, if it names one (for messages).
pub fn shown_script_hash(sh: &[u8; 32]) -> String {
    let mut r = *sh;
    r.reverse();
    r.to_lower_hex_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_read_as_electrumx_reads_them() {
        // A P2WPKH script (BIP 173's test vector key) and its regtest address.
        let script = "0014751e76e8199196d454941c45d1b3a323f1433bd6";
        let bytes = Vec::<u8>::from_hex(script).expect("hex");
        let want = sha256::Hash::hash(&bytes).to_byte_array();
        let addr = Address::from_script(&ScriptBuf::from(bytes), Network::Regtest)
            .expect("address")
            .to_string();
        assert!(addr.starts_with("bcrt1q"), "{addr}");
        let addr = addr.as_str();
        assert_eq!(
            parse_item(addr, Network::Regtest),
            Item::Known {
                sh: want,
                label: format!("Address: {addr}")
            }
        );
        assert_eq!(
            parse_item(script, Network::Regtest),
            Item::Known {
                sh: want,
                label: format!("Script: {script}")
            }
        );
        let shown = shown_script_hash(&want);
        assert_eq!(
            parse_item(&shown, Network::Regtest),
            Item::Known {
                sh: want,
                label: format!("Script hash: {shown}")
            }
        );
        assert!(matches!(
            parse_item(addr, Network::Bitcoin),
            Item::Unknown(why) if why.contains("not an address of the bitcoin network")
        ));
        assert!(matches!(
            parse_item("zz", Network::Regtest),
            Item::Unknown(_)
        ));
        assert!(matches!(parse_item("", Network::Regtest), Item::Unknown(_)));
        assert!(matches!(
            parse_item("abc", Network::Regtest),
            Item::Unknown(_)
        ));
    }
}
