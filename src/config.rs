//! Configuration from ElectrumX's environment variables (being written).

use std::fmt;
use std::path::PathBuf;

/// A secret (password, cookie) whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How to authenticate to one bitcoind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaemonAuth {
    /// `rpcuser`/`rpcpassword` (or `rpcauth`).
    UserPass { user: String, password: Secret },
    /// bitcoind's `.cookie` file, re-read on every (re)connection since bitcoind rewrites it
    /// at each start.
    CookieFile(PathBuf),
    /// No credentials (only useful against test doubles).
    None,
}

/// One bitcoind JSON-RPC endpoint from DAEMON_URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonEndpoint {
    pub host: String,
    pub port: u16,
    pub auth: DaemonAuth,
}

impl DaemonEndpoint {
    /// `http://host:port/` (no credentials: safe to log unless ANON_LOGS).
    pub fn url(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("http://[{}]:{}/", self.host, self.port)
        } else {
            format!("http://{}:{}/", self.host, self.port)
        }
    }
}
