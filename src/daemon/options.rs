//! How the client retries and connects ([`DaemonOptions`]) and what it counted
//! ([`DaemonStats`]): plain values, used by `retry` and by the client in `mod.rs`.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How the client retries and connects. `Default` gives the production values.
#[derive(Clone, Debug)]
pub struct DaemonOptions {
    /// First pause after a failed round of all endpoints (0.5 s); doubled after each round.
    pub retry_base: Duration,
    /// Longest pause between rounds (10 s).
    pub retry_cap: Duration,
    /// Longest wait for each connect, read and write (60 s): a daemon that sends nothing for
    /// this long has stalled.
    pub timeout: Duration,
    /// Longest time to read one whole reply (10 min): a reply trickling in slower fails.
    pub reply_timeout: Duration,
    /// Largest JSON-RPC reply read (1 GiB); a larger one is a bad answer. REST blocks are
    /// bounded by the largest valid block (4,000,000 bytes).
    pub max_reply_bytes: usize,
    /// Requests in flight at once, across endpoints (8); also the idle connections kept
    /// per endpoint.
    pub max_connections: usize,
    /// Cancel to make every waiting or retrying call return [`Error::Shutdown`](super::Error::Shutdown).
    pub shutdown: CancellationToken,
}

impl Default for DaemonOptions {
    fn default() -> DaemonOptions {
        DaemonOptions {
            retry_base: Duration::from_millis(500),
            retry_cap: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            reply_timeout: Duration::from_secs(600),
            max_reply_bytes: 1 << 30,
            max_connections: 8,
            shutdown: CancellationToken::new(),
        }
    }
}

/// Counters since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DaemonStats {
    /// HTTP requests attempted (a batch is one).
    pub requests: u64,
    /// Attempts that failed and were retried (transport failures and warm-up).
    pub retries: u64,
    /// Outages: runs of failures ended by an answer; each was logged once at warn.
    pub outages: u64,
    /// Moves to the next endpoint.
    pub failovers: u64,
    /// Blocks fetched through REST (`/rest/block/<hash>.bin`).
    pub rest_blocks: u64,
    /// Blocks fetched by JSON-RPC (`getblock <hash> 0`).
    pub rpc_blocks: u64,
}
