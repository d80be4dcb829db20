//! Electrum's `protocol_1.7` branch (spesmilo/electrum, PROTOCOL_VERSION_MIN = MAX = '1.7':
//! it refuses every server that stops at 1.6) as a wallet against FerrumX, over TCP and
//! SSL: it must negotiate 1.7, and then pass the same two scenarios as Debian's Electrum 4.3
//! in `tests/electrum_wallet.rs` (`ferrumx_testkit::wallet::scenario`, where the assertions
//! are listed): restore a funded wallet, balance/history/UTXOs against the stand-in's
//! truth, pay through FerrumX, follow the payment into a block and through reorgs, with a
//! clean Electrum log.
//!
//! The branch is on no package registry and the project carries no code from elsewhere, so
//! the test runs a checkout of it in place: `FERRUMX_ELECTRUM17=/path/to/checkout`, its
//! Python dependencies in the virtualenv `contrib/electrum17/install.sh CHECKOUT` makes
//! (`${FERRUMX_CACHE:-~/.cache/ferrumx}/electrum17-venv`; `FERRUMX_ELECTRUM17_PYTHON`
//! points at another python). Where `FERRUMX_ELECTRUM17` is unset the tests say so loudly
//! and pass, even with `CI` set (CI covers protocol 1.7 through ElectrumX 2.0.0); where it
//! is set they really run, and a missing virtualenv or checkout fails them.
//!
//!     FERRUMX_ELECTRUM17=/path/to/checkout cargo test -p ferrumx --test electrum_wallet17

use std::path::PathBuf;

use ferrumx_testkit::electrumx::cache_dir;
use ferrumx_testkit::wallet::scenario::{self, Flavour};
use ferrumx_testkit::wallet::Program;

/// The checkout of the `protocol_1.7` branch and the python to run it with, or `None`
/// (said loudly) when `FERRUMX_ELECTRUM17` is unset.
fn electrum17() -> Option<Flavour> {
    let Some(checkout) = std::env::var_os("FERRUMX_ELECTRUM17").map(PathBuf::from) else {
        eprintln!("##############################################################");
        eprintln!("## skipped: FERRUMX_ELECTRUM17 is unset (the path of a checkout of");
        eprintln!("## spesmilo/electrum's protocol_1.7 branch; see contrib/electrum17/)");
        eprintln!("##############################################################");
        return None;
    };
    let version = std::fs::read_to_string(checkout.join("electrum/version.py"))
        .unwrap_or_else(|e| panic!("FERRUMX_ELECTRUM17={}: {e}", checkout.display()));
    assert!(
        version.contains("PROTOCOL_VERSION_MIN = '1.7'"),
        "FERRUMX_ELECTRUM17={}: not the protocol_1.7 branch (electrum/version.py)",
        checkout.display()
    );
    let python = match std::env::var_os("FERRUMX_ELECTRUM17_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => cache_dir()
            .expect("HOME or FERRUMX_CACHE")
            .join("electrum17-venv/bin/python"),
    };
    assert!(
        python.is_file(),
        "{} missing: run contrib/electrum17/install.sh {}",
        python.display(),
        checkout.display()
    );
    Some(Flavour {
        program: Program::checkout(&python, &checkout),
        name: "electrum17",
        protocol: "1.7",
        // Its default fee policy is `eta:2`: the rate FerrumX's `blockchain.estimatefee`
        // gave for 2 blocks, shown by `getinfo` in `fee_estimates` (target → sat/kvB).
        default_fee_rate: |info| info["fee_estimates"]["2"].as_u64(),
        // A JSON argument in this branch (4.3 took a plain string): a JSON string.
        coin_list: |coins| serde_json::Value::String(coins.to_string()).to_string(),
    })
}

#[test]
fn electrum17_wallet_over_tcp() {
    if let Some(f) = electrum17() {
        scenario::over_tcp(&f);
    }
}

#[test]
fn electrum17_wallet_over_ssl() {
    if let Some(f) = electrum17() {
        scenario::over_ssl(&f);
    }
}
