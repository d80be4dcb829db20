//! The response limits asked on their own (the sections ask these too, among everything
//! else): both servers compared, and FerrumX's answers checked to be the refusals.

use bitcoin::hex::DisplayHex;
use bitcoin::{ScriptBuf, Txid};
use ferrumx_simnode::ScriptHash;
use serde_json::json;

use crate::compare::{below_1_7, call, run_sequential, Call, Pair, Report};

/// The over-long history's script (`too_long`) through every script method of `version`,
/// and the wide transaction `wide_tx`, raw and verbose.
fn oversized_calls(version: &str, too_long: &ScriptBuf, wide_tx: &Txid) -> Vec<Call> {
    let (family, arg) = if below_1_7(version) {
        ("scripthash", ScriptHash::of(too_long).to_string())
    } else {
        ("scriptpubkey", too_long.as_bytes().to_lower_hex_string())
    };
    let mut calls: Vec<Call> = ["get_history", "subscribe", "listunspent", "get_balance"]
        .iter()
        .map(|m| call(&format!("blockchain.{family}.{m}"), json!([arg])))
        .collect();
    calls.push(call(
        "blockchain.transaction.get",
        json!([wide_tx.to_string(), true]),
    ));
    calls.push(call(
        "blockchain.transaction.get",
        json!([wide_tx.to_string()]),
    ));
    calls
}

/// Compares the oversized answers at each pair's versions; FerrumX's are "history too large"
/// (code 1 up to 1.6, ElectrumX 1.20's; 10001 at 1.7, 2.0.0's) and "response too large".
pub fn oversized_checks(
    pairs: &[(&Pair, &[&str])],
    report: &mut Report,
    too_long: &ScriptBuf,
    wide_tx: &Txid,
) {
    for (pair, versions) in pairs {
        for version in versions.iter() {
            let calls = oversized_calls(version, too_long, wide_tx);
            pair.compare_sequential(report, "oversized", version, &calls);
            let got = run_sequential(pair.fx, version, &calls);
            let code = if below_1_7(version) { 1 } else { 10001 };
            let history_too_large = Err((code, "history too large".to_owned()));
            // aiorpcx's message, sic (no closing parenthesis).
            let response_too_large =
                Err((-32600, "response too large (over 350,000 bytes".to_owned()));
            assert_eq!(got[0], history_too_large, "[{version}] get_history");
            assert_eq!(got[1], history_too_large, "[{version}] subscribe");
            assert_eq!(got[2], response_too_large, "[{version}] listunspent");
            assert!(got[3].is_ok(), "[{version}] get_balance: {:?}", got[3]);
            assert_eq!(got[4], response_too_large, "[{version}] verbose wide tx");
            assert!(got[5].is_ok(), "[{version}] raw wide tx: {:?}", got[5]);
        }
    }
}
