//! Where the ElectrumX 1.20 peer is installed: `FERRUMX_ELECTRUMX` (the path of
//! `electrumx_server`), else the virtualenv `contrib/electrumx/install.sh` makes in
//! `${FERRUMX_CACHE:-$HOME/.cache/ferrumx}/electrumx-venv`. Used by the differential and
//! admin tests and the side-by-side bench. And what a test does when a peer is missing.

use std::path::PathBuf;

/// The directory of cached test and bench artefacts.
pub fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("FERRUMX_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/ferrumx")))
}

/// Where `electrumx_server` is expected (it may not exist).
pub fn electrumx_server_location() -> Option<PathBuf> {
    match std::env::var_os("FERRUMX_ELECTRUMX") {
        Some(p) => Some(PathBuf::from(p)),
        None => Some(cache_dir()?.join("electrumx-venv/bin/electrumx_server")),
    }
}

/// `electrumx_server`, if installed.
pub fn electrumx_server() -> Option<PathBuf> {
    electrumx_server_location().filter(|p| p.is_file())
}

/// `electrumx_rpc` (ElectrumX's own admin CLI), if installed beside `electrumx_server`.
pub fn electrumx_rpc() -> Option<PathBuf> {
    let p = electrumx_server_location()?.with_file_name("electrumx_rpc");
    p.is_file().then_some(p)
}

/// The peer-missing policy: `found` as is; when a peer is missing, the test fails if `CI`
/// is set (`why` says what is missing and how to install it), and is skipped loudly
/// otherwise (the caller returns on `None`).
pub fn require<T>(found: Option<T>, why: &str) -> Option<T> {
    if found.is_some() {
        return found;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{why}: cannot run (CI is set)"
    );
    eprintln!("##############################################################");
    eprintln!("## skipped: {why}");
    eprintln!("##############################################################");
    None
}
