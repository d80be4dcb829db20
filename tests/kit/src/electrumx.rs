//! Where the ElectrumX peers are installed: 1.20 at `FERRUMX_ELECTRUMX` (the path of
//! `electrumx_server`), else in the virtualenv `contrib/electrumx/install.sh` makes in
//! `${FERRUMX_CACHE:-$HOME/.cache/ferrumx}/electrumx-venv`; 2.0 (protocol 1.7) at
//! `FERRUMX_ELECTRUMX2`, else in `electrumx2-venv` beside it (`install.sh 2.0.0`). Used by the
//! differential and admin tests and the side-by-side bench. And what a test does when a peer
//! is missing.

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

/// `electrumx_server` for a bench, which cannot run without it: stops with what to do when it
/// is not installed.
pub fn electrumx_server_for_bench() -> PathBuf {
    let p = electrumx_server_location().unwrap_or_default();
    assert!(
        p.is_file(),
        "ElectrumX not found at {} (run contrib/electrumx/install.sh or set FERRUMX_ELECTRUMX)",
        p.display()
    );
    p
}

/// Where ElectrumX 2.0's `electrumx_server` is expected (it may not exist).
pub fn electrumx2_server_location() -> Option<PathBuf> {
    match std::env::var_os("FERRUMX_ELECTRUMX2") {
        Some(p) => Some(PathBuf::from(p)),
        None => Some(cache_dir()?.join("electrumx2-venv/bin/electrumx_server")),
    }
}

/// ElectrumX 2.0's `electrumx_server`, if installed.
pub fn electrumx2_server() -> Option<PathBuf> {
    electrumx2_server_location().filter(|p| p.is_file())
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

/// The environment both ElectrumX and FerrumX are started with when they run side by side
/// (the differential test, the bench): regtest Bitcoin from `daemon_url`, the database in
/// `db`, `services`, no throttling, no peers, running as root allowed, `info` logs, and
/// `PATH` (ElectrumX's venv finds Python through it). `extra` adds or replaces variables.
pub fn side_by_side_env(
    db: &std::path::Path,
    daemon_url: &str,
    services: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut vars: Vec<(String, String)> = [
        ("PATH", path.to_string_lossy().as_ref()),
        ("COIN", "Bitcoin"),
        ("NET", "regtest"),
        ("DB_DIRECTORY", db.to_string_lossy().as_ref()),
        ("DAEMON_URL", daemon_url),
        ("SERVICES", services),
        ("COST_SOFT_LIMIT", "0"),
        ("COST_HARD_LIMIT", "0"),
        ("PEER_DISCOVERY", "off"),
        ("PEER_ANNOUNCE", ""),
        ("ALLOW_ROOT", "1"),
        ("LOG_LEVEL", "info"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (k, v) in extra {
        vars.retain(|(n, _)| n != k);
        vars.push(((*k).to_owned(), (*v).to_owned()));
    }
    vars
}
