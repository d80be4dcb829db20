//! One verification of a peer, as ElectrumX's `PeerManager._verify_peer` does it: connect
//! (TCP, or TLS with a verifier that accepts any certificate, as ElectrumX does), then
//! `server.version`, `blockchain.headers.subscribe`, `blockchain.block.header` and
//! `server.features` over a newline-framed JSON-RPC connection bounded in time and bytes.
//! Uses `name` (to cut the peer's text) and `peer` (the record it verifies).

use std::sync::Arc;
use std::time::Duration;

use bitcoin::consensus::serialize;
use bitcoin::hex::DisplayHex;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::name::peer_text;
use super::peer::Peer;
use crate::electrum::shared::{ElectrumState, SERVER_VERSION};
use crate::electrum::version::ProtocolVersion;

/// Time allowed for each connection and each answer.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes a peer may send us during one verification.
const MAX_READ: u64 = 4 << 20;
/// Their tip may differ from ours by this many blocks.
const MAX_TIP_HEIGHT_DIFF: u64 = 5;
/// The header compared is this far below the lower of the two tips.
const MAX_CHAINSPLIT_LEN: u64 = 10;

/// Why a verification failed.
#[derive(Debug)]
pub(super) enum VerifyError {
    /// The peer answered wrongly: mark it bad.
    Bad(String),
    /// It could not be reached, or did not answer in time: try again later.
    Unreachable(String),
}

/// Connects to `peer` at `port` and checks its answers.
pub(super) async fn verify(
    state: &ElectrumState,
    peer: &Peer,
    port: u16,
    tls: bool,
) -> Result<Found, VerifyError> {
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
        check(state, PeerConn::new(stream), peer, ip_addr).await
    } else {
        check(state, PeerConn::new(tcp), peer, ip_addr).await
    }
}

/// ElectrumX's `_verify_peer`, without asking for the peer's own peers (no discovery).
async fn check<S: AsyncRead + AsyncWrite + Unpin>(
    state: &ElectrumState,
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
    let ours = u64::from(state.index.tip().map_or(0, |t| t.0));
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
        .and_then(|h| state.index.header(h).ok().flatten())
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
    let genesis = state.config.genesis_hash().to_string();
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

/// What a successful verification learnt.
pub(super) struct Found {
    pub(super) server_version: String,
    pub(super) ip_addr: Option<String>,
    pub(super) protocols: Option<(String, String)>,
    pub(super) pruning: Option<u64>,
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
