//! The peer table ([`PeerTable`]): the peers an operator added, and per peer a task that
//! verifies it now and then (see [`verify`](super::verify)), backs off on failures and
//! forgets it after too many. Uses `verify`, `peer` and `name`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::name::{peer_text, RealName};
use super::peer::{unix_now, Peer, STALE_SECS, WAKEUP_SECS};
use super::verify::{verify, VerifyError};
use crate::electrum::shared::ElectrumState;
use crate::electrum::version::ProtocolVersion;

/// The peer table. Cheap to share (`Arc`); peers are verified on tasks of their own.
pub struct PeerTable {
    peers: Mutex<Vec<Peer>>,
    shared: Arc<ElectrumState>,
    defaults: (u16, u16),
    /// FORCE_PROXY: every connection would go through Tor, which FerrumX cannot do yet.
    force_proxy: bool,
    shutdown: CancellationToken,
}

impl PeerTable {
    /// An empty table; `defaults` are the network's (TCP, SSL) peer ports.
    pub fn new(
        shared: Arc<ElectrumState>,
        defaults: (u16, u16),
        force_proxy: bool,
        shutdown: CancellationToken,
    ) -> PeerTable {
        PeerTable {
            peers: Mutex::new(Vec::new()),
            shared,
            defaults,
            force_proxy,
            shutdown,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Peer>> {
        self.peers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a peer from its real name (or updates the ports of a known one and retries it
    /// now), with `source`, and starts verifying it.
    ///
    /// # Errors
    /// The real name does not parse (see [`RealName::parse`]).
    pub fn add(self: &Arc<Self>, real_name: &str, source: &str) -> Result<(), String> {
        let name = RealName::parse(real_name, self.defaults)?;
        let mut peers = self.lock();
        if let Some(p) = peers.iter_mut().find(|p| p.matches(&name.host)) {
            if p.tcp_port != name.tcp_port || p.ssl_port != name.ssl_port {
                tracing::info!("ports changed for {}", p.host);
                p.tcp_port = name.tcp_port;
                p.ssl_port = name.ssl_port;
            }
            p.retry.notify_one();
            return Ok(());
        }
        let protocol = name.protocol.as_deref().map_or_else(
            || ProtocolVersion::invalid().version_string(),
            |v| crate::electrum::version::protocol_tuple(v).version_string(),
        );
        let peer = Peer {
            host: name.host.clone(),
            tcp_port: name.tcp_port,
            ssl_port: name.ssl_port,
            server_version: None,
            protocol_min: protocol.clone(),
            protocol_max: protocol,
            pruning: name.pruning,
            source: source.to_string(),
            ip_addr: None,
            last_good: 0.0,
            last_try: 0.0,
            try_count: 0,
            bad: false,
            retry: Arc::new(Notify::new()),
        };
        tracing::info!("accepted new peer {} from {source}", peer.host);
        let verify = !peer.is_tor() && !self.force_proxy;
        if !verify {
            tracing::info!(
                "peer {} is not verified: FerrumX cannot reach Tor yet (onion host or \
                 FORCE_PROXY)",
                peer.host
            );
        }
        let (host, retry) = (peer.host.clone(), peer.retry.clone());
        peers.push(peer);
        drop(peers);
        if verify {
            tokio::spawn(self.clone().monitor(host, retry));
        }
        Ok(())
    }

    /// `peers`: every peer, ElectrumX's order (good ones first, most recently good first).
    pub fn rpc_data(&self) -> Value {
        let now = unix_now();
        let mut peers = self.lock().clone();
        peers.sort_by(|a, b| a.bad.cmp(&b.bad).then(b.last_good.total_cmp(&a.last_good)));
        Value::Array(peers.iter().map(|p| p.to_json(now)).collect())
    }

    /// `getinfo`'s `peers`: counts by status.
    pub fn info(&self) -> Value {
        let now = unix_now();
        let peers = self.lock();
        let count = |s: &str| peers.iter().filter(|p| p.status(now) == s).count();
        json!({
            "bad": count("bad"),
            "good": count("good"),
            "never": count("never"),
            "stale": count("stale"),
            "total": peers.len(),
        })
    }

    /// Verifies the peer now and then until it is forgotten or the server stops.
    async fn monitor(self: Arc<Self>, host: String, retry: Arc<Notify>) {
        loop {
            let Some(pause) = self.try_peer(&host).await else {
                return;
            };
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = retry.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One round of attempts (SSL, then TCP); the pause before the next round, or `None`
    /// once the peer is forgotten.
    async fn try_peer(&self, host: &str) -> Option<Duration> {
        let (ports, known) = {
            let mut peers = self.lock();
            let p = peers.iter_mut().find(|p| p.host == host)?;
            p.try_count += 1;
            let ports: Vec<(bool, u16)> = [(true, p.ssl_port), (false, p.tcp_port)]
                .into_iter()
                .filter_map(|(tls, port)| port.map(|port| (tls, port)))
                .collect();
            (ports, p.clone())
        };
        let mut good = None;
        for (tls, port) in ports {
            self.update(host, |p| p.last_try = unix_now());
            let kind = if tls { "SSL" } else { "TCP" };
            let started = std::time::Instant::now();
            let attempt = tokio::select! {
                _ = self.shutdown.cancelled() => return None,
                r = verify(&self.shared, &known, port, tls) => r,
            };
            match attempt {
                Ok(found) => {
                    tracing::info!(
                        "[{host}:{port} {kind}] verified in {:.1}s",
                        started.elapsed().as_secs_f64()
                    );
                    good = Some(found);
                    break;
                }
                Err(VerifyError::Bad(why)) => {
                    let why = peer_text(&why);
                    tracing::error!("[{host}:{port} {kind}] marking bad: ({why})");
                    self.update(host, |p| p.bad = true);
                    break;
                }
                Err(VerifyError::Unreachable(why)) => {
                    let why = peer_text(&why);
                    tracing::info!("[{host}:{port} {kind}] {why}");
                }
            }
        }
        let mut peers = self.lock();
        let idx = peers.iter().position(|p| p.host == host)?;
        let p = &mut peers[idx];
        if let Some(found) = good {
            p.try_count = 0;
            p.last_good = unix_now();
            p.source = "peer".into();
            p.bad = false;
            p.ip_addr = found.ip_addr.or(p.ip_addr.take());
            p.server_version = Some(found.server_version);
            if let Some((min, max)) = found.protocols {
                p.protocol_min = min;
                p.protocol_max = max;
            }
            p.pruning = found.pruning;
            return Some(Duration::from_secs(STALE_SECS - WAKEUP_SECS * 2));
        }
        let try_limit = if p.last_good > 0.0 && !p.bad { 10 } else { 3 };
        if p.try_count >= try_limit {
            let desc = if p.bad { "bad" } else { "unreachable" };
            tracing::info!("forgetting {desc} peer: {host}");
            peers.remove(idx);
            return None;
        }
        let exp = p.try_count.min(16);
        Some(Duration::from_secs(WAKEUP_SECS.saturating_mul(1u64 << exp)))
    }

    fn update(&self, host: &str, f: impl FnOnce(&mut Peer)) {
        if let Some(p) = self.lock().iter_mut().find(|p| p.host == host) {
            f(p);
        }
    }
}
