//! The peer table behind the admin RPC's `add_peer` and `peers`, and `getinfo`'s peer counts.
//!
//! FerrumX has no peer discovery yet: the table holds only the peers an operator adds, each
//! verified as ElectrumX's `PeerManager` does — connect (SSL first, then TCP), then
//! `server.version`, `blockchain.headers.subscribe` (their height within 5 blocks of ours
//! and their header 10 blocks below the lower tip equal to ours) and `server.features` (our
//! genesis hash, and the peer's host among its own `hosts`). A peer that answers all that is
//! good until [`STALE_SECS`] pass without another success (retried before that); a peer
//! whose answers are wrong is bad; one that cannot be reached stays "never" (or turns
//! stale). Retries back off as ElectrumX's do, and a peer is forgotten after 3 failed tries
//! in a row (10 for one that was good).
//!
//! Onion peers are kept but not verified: FerrumX does not reach Tor yet. Unlike
//! ElectrumX, private and local addresses are accepted (the operator is trusted, and the
//! table is not served to clients: `server.peers.subscribe` answers `[]`).

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitcoin::consensus::serialize;
use bitcoin::hex::DisplayHex;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::is_valid_hostname;
use crate::electrum::shared::{ElectrumState, SERVER_VERSION};
use crate::electrum::version::ProtocolVersion;

/// A good peer turns stale after this long without a successful verification.
pub const STALE_SECS: u64 = 3 * 3600;
/// The unit of retry pauses.
pub const WAKEUP_SECS: u64 = 300;
/// Time allowed for each connection and each answer.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes a peer may send us during one verification.
const MAX_READ: u64 = 4 << 20;
/// Their tip may differ from ours by this many blocks.
const MAX_TIP_HEIGHT_DIFF: u64 = 5;
/// The header compared is this far below the lower of the two tips.
const MAX_CHAINSPLIT_LEN: u64 = 10;

/// Seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// What an `add_peer` argument says: ElectrumX's "real name", e.g.
/// `"electrum.example.com v1.4 s t50001"`: the host, then `t[PORT]` / `s[PORT]` (the
/// network's default port when left out), `vVERSION` and `pPRUNING`. Other items are
/// ignored, as ElectrumX ignores them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealName {
    pub host: String,
    pub tcp_port: Option<u16>,
    pub ssl_port: Option<u16>,
    pub protocol: Option<String>,
    pub pruning: Option<u64>,
}

impl RealName {
    /// Parses a real name; `defaults` are the network's (TCP, SSL) peer ports.
    ///
    /// # Errors
    /// A one-line reason: no host, an invalid host, a bad port, or no port at all.
    pub fn parse(text: &str, defaults: (u16, u16)) -> Result<RealName, String> {
        let mut parts = text.split_whitespace();
        let host = parts.next().ok_or("no host given")?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.parse::<IpAddr>().is_err() && !is_valid_hostname(host) {
            return Err(format!("invalid host {host:?}"));
        }
        let mut name = RealName {
            host: host.to_string(),
            tcp_port: None,
            ssl_port: None,
            protocol: None,
            pruning: None,
        };
        for part in parts {
            // Split after the first character (a peer may send any UTF-8).
            let first = part.chars().next().map_or(0, char::len_utf8);
            let (letter, rest) = part.split_at(first);
            match letter {
                "t" | "s" => {
                    let port = if rest.is_empty() {
                        if letter == "t" {
                            defaults.0
                        } else {
                            defaults.1
                        }
                    } else {
                        match rest.parse::<u16>() {
                            Ok(p) if p > 0 => p,
                            _ => return Err(format!("bad port in {part:?}")),
                        }
                    };
                    if letter == "t" {
                        name.tcp_port = Some(port);
                    } else {
                        name.ssl_port = Some(port);
                    }
                }
                "v" => name.protocol = Some(rest.to_string()),
                "p" => name.pruning = rest.parse().ok().filter(|&p| p > 0),
                _ => {}
            }
        }
        if name.tcp_port.is_none() && name.ssl_port.is_none() {
            return Err("no port given: add t[PORT] and/or s[PORT]".into());
        }
        Ok(name)
    }
}

/// Text that came from a peer (or quotes it), cut to at most [`PEER_TEXT_MAX`] characters
/// before it is logged or kept: a peer may send megabytes.
fn peer_text(text: &str) -> String {
    match text.char_indices().nth(PEER_TEXT_MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Characters of a peer's text kept by [`peer_text`].
const PEER_TEXT_MAX: usize = 100;

/// One peer server.
#[derive(Clone, Debug)]
struct Peer {
    host: String,
    tcp_port: Option<u16>,
    ssl_port: Option<u16>,
    server_version: Option<String>,
    protocol_min: String,
    protocol_max: String,
    pruning: Option<u64>,
    source: String,
    ip_addr: Option<String>,
    /// Unix times; 0 for never.
    last_good: f64,
    last_try: f64,
    try_count: u32,
    bad: bool,
    /// Wakes its monitor (a new `add_peer` of the same host).
    retry: Arc<Notify>,
}

impl Peer {
    fn is_tor(&self) -> bool {
        self.host.to_ascii_lowercase().ends_with(".onion")
    }

    fn status(&self, now: f64) -> &'static str {
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
    fn to_json(&self, now: f64) -> Value {
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
    fn matches(&self, host: &str) -> bool {
        self.host.eq_ignore_ascii_case(host) || self.ip_addr.as_deref() == Some(host)
    }
}

/// The peer table. Cheap to share (`Arc`); peers are verified on tasks of their own.
pub struct PeerTable {
    peers: Mutex<Vec<Peer>>,
    shared: Arc<ElectrumState>,
    defaults: (u16, u16),
    /// FORCE_PROXY: every connection would go through Tor, which FerrumX cannot do yet.
    force_proxy: bool,
    shutdown: CancellationToken,
}

/// Why a verification failed.
#[derive(Debug)]
enum VerifyError {
    /// The peer answered wrongly: mark it bad.
    Bad(String),
    /// It could not be reached, or did not answer in time: try again later.
    Unreachable(String),
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
                r = self.verify(&known, port, tls) => r,
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

    /// Connects to `peer` at `port` and checks its answers.
    async fn verify(&self, peer: &Peer, port: u16, tls: bool) -> Result<Found, VerifyError> {
        let unreachable = |e: std::io::Error| VerifyError::Unreachable(e.to_string());
        let tcp = tokio::time::timeout(TIMEOUT, TcpStream::connect((peer.host.as_str(), port)))
            .await
            .map_err(|_| VerifyError::Unreachable("timed out connecting".into()))?
            .map_err(unreachable)?;
        let ip_addr = tcp.peer_addr().ok().map(|a| a.ip().to_string());
        if tls {
            let name = ServerName::try_from(peer.host.clone())
                .map_err(|e| VerifyError::Unreachable(format!("TLS server name: {e}")))?;
            let config = tls_config()
                .map_err(|e| VerifyError::Unreachable(format!("TLS configuration: {e}")))?;
            let connector = tokio_rustls::TlsConnector::from(config);
            let stream = tokio::time::timeout(TIMEOUT, connector.connect(name, tcp))
                .await
                .map_err(|_| VerifyError::Unreachable("timed out in the TLS handshake".into()))?
                .map_err(unreachable)?;
            self.check(PeerConn::new(stream), peer, ip_addr).await
        } else {
            self.check(PeerConn::new(tcp), peer, ip_addr).await
        }
    }

    /// ElectrumX's `_verify_peer`, without asking for the peer's own peers (no discovery).
    async fn check<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut conn: PeerConn<S>,
        peer: &Peer,
        ip_addr: Option<String>,
    ) -> Result<Found, VerifyError> {
        let versions = json!([
            SERVER_VERSION,
            [
                ProtocolVersion::min_supported().version_string(),
                ProtocolVersion::max_supported().version_string()
            ]
        ]);
        let result = conn.call("server.version", versions).await?;
        let server_version = match result.as_array().map(Vec::as_slice) {
            Some([Value::String(v), Value::String(_)]) => peer_text(v),
            _ => {
                return Err(VerifyError::Bad(format!(
                    "bad server.version result: {result}"
                )))
            }
        };

        let tip = conn.call("blockchain.headers.subscribe", json!([])).await?;
        if !tip.is_object() {
            return Err(VerifyError::Bad(
                "blockchain.headers.subscribe returned bad result type".into(),
            ));
        }
        let theirs = tip["height"]
            .as_u64()
            .ok_or_else(|| VerifyError::Bad(format!("invalid height {}", tip["height"])))?;
        let ours = u64::from(self.shared.index.tip().map_or(0, |t| t.0));
        if ours.abs_diff(theirs) > MAX_TIP_HEIGHT_DIFF {
            return Err(VerifyError::Bad(format!(
                "bad height {} (ours: {})",
                crate::py::thousands(theirs),
                crate::py::thousands(ours)
            )));
        }
        let check_height = ours.min(theirs).saturating_sub(MAX_CHAINSPLIT_LEN);
        let ours_hex = u32::try_from(check_height)
            .ok()
            .and_then(|h| self.shared.index.header(h).ok().flatten())
            .map(|h| serialize(&h).to_lower_hex_string())
            .ok_or_else(|| VerifyError::Unreachable("our header is not readable".into()))?;
        let theirs_hex = conn
            .call("blockchain.block.header", json!([check_height]))
            .await?;
        if theirs_hex.as_str() != Some(ours_hex.as_str()) {
            return Err(VerifyError::Bad(format!(
                "our header {ours_hex} and theirs {theirs_hex} differ"
            )));
        }

        let features = conn.call("server.features", json!([])).await?;
        let hosts = features["hosts"]
            .as_object()
            .ok_or_else(|| VerifyError::Bad("server.features returned bad result type".into()))?;
        let genesis = self.shared.config.genesis_hash().to_string();
        if features["genesis_hash"].as_str() != Some(genesis.as_str()) {
            return Err(VerifyError::Bad("incorrect genesis hash".into()));
        }
        let lower = peer.host.to_ascii_lowercase();
        if !hosts.keys().any(|h| h.to_ascii_lowercase() == lower) {
            let listed: Vec<String> = hosts.keys().map(|h| h.to_ascii_lowercase()).collect();
            return Err(VerifyError::Bad(format!(
                "not listed in own hosts list {listed:?}"
            )));
        }
        let text = |k: &str| features[k].as_str().map(str::to_string);
        let protocols = match (text("protocol_min"), text("protocol_max")) {
            (Some(min), Some(max)) => Some((
                crate::electrum::version::protocol_tuple(&min).version_string(),
                crate::electrum::version::protocol_tuple(&max).version_string(),
            )),
            _ => None,
        };
        Ok(Found {
            server_version,
            ip_addr,
            protocols,
            pruning: features["pruning"].as_u64().filter(|&p| p > 0),
        })
    }
}

/// What a successful verification learnt.
struct Found {
    server_version: String,
    ip_addr: Option<String>,
    protocols: Option<(String, String)>,
    pruning: Option<u64>,
}

/// A newline-framed JSON-RPC client connection to a peer, bounded in time and bytes.
struct PeerConn<S> {
    reader: BufReader<tokio::io::Take<tokio::io::ReadHalf<S>>>,
    writer: tokio::io::WriteHalf<S>,
    next_id: u64,
}

impl<S: AsyncRead + AsyncWrite + Unpin> PeerConn<S> {
    fn new(stream: S) -> PeerConn<S> {
        let (r, w) = tokio::io::split(stream);
        PeerConn {
            reader: BufReader::new(r.take(MAX_READ)),
            writer: w,
            next_id: 0,
        }
    }

    async fn call(&mut self, method: &str, params: Value) -> Result<Value, VerifyError> {
        tokio::time::timeout(TIMEOUT, self.exchange(method, params))
            .await
            .map_err(|_| VerifyError::Unreachable(format!("no answer to {method} in time")))?
    }

    async fn exchange(&mut self, method: &str, params: Value) -> Result<Value, VerifyError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut line =
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        line.push('\n');
        let io = |e: std::io::Error| VerifyError::Unreachable(e.to_string());
        self.writer.write_all(line.as_bytes()).await.map_err(io)?;
        self.writer.flush().await.map_err(io)?;
        loop {
            let mut buf = Vec::new();
            let n = self.reader.read_until(b'\n', &mut buf).await.map_err(io)?;
            if n == 0 || buf.last() != Some(&b'\n') {
                return Err(VerifyError::Unreachable("connection closed".into()));
            }
            let msg: Value = serde_json::from_slice(&buf)
                .map_err(|_| VerifyError::Bad(format!("{method}: an answer that is not JSON")))?;
            // Notifications (e.g. of a new block after headers.subscribe) are not answers.
            if msg.get("id") != Some(&json!(id)) {
                continue;
            }
            if let Some(err) = msg.get("error").filter(|e| !e.is_null()) {
                // ElectrumX logs RPC errors and tries the next port.
                return Err(VerifyError::Unreachable(format!("RPC error: {err}")));
            }
            return Ok(msg.get("result").cloned().unwrap_or(Value::Null));
        }
    }
}

/// TLS as ElectrumX connects to peers: encrypted, certificate not checked (peers commonly
/// use self-signed certificates); handshake signatures are still verified.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORTS: (u16, u16) = (51001, 51002);

    #[test]
    fn peer_text_is_cut_at_a_character_boundary() {
        assert_eq!(peer_text("short"), "short");
        let long = "é".repeat(150);
        let cut = peer_text(&long);
        assert_eq!(cut.chars().count(), PEER_TEXT_MAX + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn non_ascii_real_name_parts_are_ignored_not_a_panic() {
        let n = RealName::parse("h.example ét s ü t", PORTS).expect("parse");
        assert_eq!((n.tcp_port, n.ssl_port), (Some(PORTS.0), Some(PORTS.1)));
    }

    #[test]
    fn real_names_parse_like_electrumx() {
        let n = RealName::parse("ecdsa.net v1.0 s110 t", PORTS).expect("parse");
        assert_eq!(n.host, "ecdsa.net");
        assert_eq!((n.tcp_port, n.ssl_port), (Some(51001), Some(110)));
        assert_eq!(n.protocol.as_deref(), Some("1.0"));
        let n = RealName::parse("x s t p10000 v1.4.2 h8080", PORTS).expect("parse");
        assert_eq!(
            (n.tcp_port, n.ssl_port, n.pruning),
            (Some(51001), Some(51002), Some(10000))
        );
        let n = RealName::parse("  127.0.0.1   t50001 ", PORTS).expect("parse");
        assert_eq!(
            (n.host.as_str(), n.tcp_port, n.ssl_port),
            ("127.0.0.1", Some(50001), None)
        );
        let n = RealName::parse("[::1] s", PORTS).expect("parse");
        assert_eq!(n.host, "::1");
    }

    #[test]
    fn bad_real_names_are_refused() {
        for bad in [
            "",
            "   ",
            "h.example",
            "bad_host! t",
            "a.b tfoo",
            "a.b t99999",
            "a.b t0",
            "1.2.3 t",
        ] {
            assert!(RealName::parse(bad, PORTS).is_err(), "{bad:?}");
        }
    }
}
