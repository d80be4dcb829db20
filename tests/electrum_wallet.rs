//! The real Electrum wallet (Debian's `electrum` 4.3.4, protocol 1.4, command-line daemon on
//! regtest) against FerrumX over TCP and SSL: the two scenarios of the harness
//! (`ferrumx_testkit::wallet::scenario`, where the assertions are listed): restore a funded
//! wallet, balance/history/UTXOs against the stand-in's truth, pay through FerrumX, follow
//! the payment into a block and through reorgs, with a clean Electrum log.
//!
//! Peer-missing policy: without `electrum` on PATH the tests FAIL when `CI` is set and are
//! skipped loudly otherwise (`apt-get install electrum`).

use std::process::{Command, Stdio};

use ferrumx_testkit::electrumx::require;
use ferrumx_testkit::wallet::scenario::{self, Flavour};
use ferrumx_testkit::wallet::Program;

/// Debian's Electrum 4.3.4, if it can run here (applies the peer-missing policy).
fn electrum43() -> Option<Flavour> {
    let found = Command::new("electrum")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    require(
        found.then_some(()),
        "electrum not installed (apt-get install --no-install-recommends electrum)",
    )?;
    Some(Flavour {
        program: Program::installed(),
        name: "electrum",
        protocol: "1.4",
        // Electrum 4.3's `getinfo` shows the rate its default fee policy pays.
        default_fee_rate: |info| info["fee_per_kb"].as_u64(),
        // A plain string.
        coin_list: str::to_string,
    })
}

#[test]
fn electrum_wallet_over_tcp() {
    if let Some(f) = electrum43() {
        scenario::over_tcp(&f);
    }
}

#[test]
fn electrum_wallet_over_ssl() {
    if let Some(f) = electrum43() {
        scenario::over_ssl(&f);
    }
}
