//! One peer's record ([`Peer`]): what it told us, when it was last good, its status and
//! its row in the admin RPC's `peers`. Uses no sibling.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::sync::Notify;

/// A good peer turns stale after this long without a successful verification.
pub const STALE_SECS: u64 = 3 * 3600;
/// The unit of retry pauses.
pub const WAKEUP_SECS: u64 = 300;
/// Seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One peer server.
#[derive(Clone, Debug)]
pub(super) struct Peer {
    pub(super) host: String,
    pub(super) tcp_port: Option<u16>,
    pub(super) ssl_port: Option<u16>,
    pub(super) server_version: Option<String>,
    pub(super) protocol_min: String,
    pub(super) protocol_max: String,
    pub(super) pruning: Option<u64>,
    pub(super) source: String,
    pub(super) ip_addr: Option<String>,
    /// Unix times; 0 for never.
    pub(super) last_good: f64,
    pub(super) last_try: f64,
    pub(super) try_count: u32,
    pub(super) bad: bool,
    /// Wakes its monitor (a new `add_peer` of the same host).
    pub(super) retry: Arc<Notify>,
}

impl Peer {
    pub(super) fn is_tor(&self) -> bool {
        self.host.to_ascii_lowercase().ends_with(".onion")
    }

    pub(super) fn status(&self, now: f64) -> &'static str {
        if self.bad {
            "bad"
        } else if self.last_good > now - STALE_SECS as f64 {
            "good"
        } else if self.last_good > 0.0 {
            "stale"
        } else {
            "never"
        }
    }

    /// ElectrumX's `Peer.serialize()` plus `status`, as `rpc_data` gives it.
    pub(super) fn to_json(&self, now: f64) -> Value {
        let mut ports = serde_json::Map::new();
        if let Some(p) = self.tcp_port {
            ports.insert("tcp_port".into(), json!(p));
        }
        if let Some(p) = self.ssl_port {
            ports.insert("ssl_port".into(), json!(p));
        }
        json!({
            "host": self.host,
            "features": {
                "hosts": {self.host.clone(): ports},
                "pruning": self.pruning,
                "server_version": self.server_version,
                "protocol_min": self.protocol_min,
                "protocol_max": self.protocol_max,
                "ssl_port": self.ssl_port,
                "tcp_port": self.tcp_port,
            },
            "source": self.source,
            "ip_addr": self.ip_addr,
            "last_good": self.last_good,
            "last_try": self.last_try,
            "try_count": self.try_count,
            "status": self.status(now),
        })
    }

    /// Whether `other` names the same server (host, or its address, as ElectrumX's
    /// `Peer.matches`).
    pub(super) fn matches(&self, host: &str) -> bool {
        self.host.eq_ignore_ascii_case(host) || self.ip_addr.as_deref() == Some(host)
    }
}
