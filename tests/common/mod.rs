//! The smallest shared test helpers: a temporary directory removed on drop, and a daemon
//! client for a running stand-in.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use bitcoin::Network;
use ferrumx::config::{DaemonAuth, DaemonEndpoint, Secret};
use ferrumx::daemon::Daemon;
use ferrumx_simnode::SimNode;

/// A directory path under the system's temporary directory, unique to this process and
/// call, removed (with its contents) on drop. Not created: the code under test creates it.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "ferrumx-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A regtest daemon client for `sim` (password auth).
pub fn daemon_for(sim: &SimNode) -> Daemon {
    let (user, password) = sim.user_pass().expect("password auth");
    Daemon::new(
        vec![DaemonEndpoint {
            host: "127.0.0.1".into(),
            port: sim.addr().port(),
            auth: DaemonAuth::UserPass {
                user,
                password: Secret(password),
            },
        }],
        Network::Regtest,
    )
}
