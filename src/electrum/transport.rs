//! Listeners and message framing for the client services (`tcp`, `ssl`, `ws`, `wss`, and the
//! line-framed `rpc`), giving the session layer a transport-independent [`Connection`]: a
//! [`MessageReader`] and a [`MessageWriter`] that may live in different tasks.
//!
//! # What ElectrumX 1.20 does, and what this module does
//!
//! ElectrumX serves `tcp`/`ssl` through aiorpcX 0.25's raw-socket transport with a
//! `NewlineFramer(max_size=MAX_RECV)`, and `ws`/`wss` through aiorpcX's websocket transport
//! (the `websockets` library).
//!
//! **Line framing** (`tcp`, `ssl`, `rpc`):
//! - A message is the bytes before a `\n`. An empty line is an empty message (aiorpcX hands
//!   `b''` to the JSON-RPC layer, which answers it with a parse error), so [`MessageReader::recv`]
//!   returns `Ok(Some(vec![]))` for it. aiorpcX does not strip `\r`; JSON ignores a trailing
//!   `\r` as whitespace, so stripping one trailing `\r`, as done here, changes nothing a client
//!   can see. The `\r` still counts towards the size limit.
//! - Oversized lines: aiorpcX buffers received chunks until one contains a `\n`; when the
//!   buffered bytes of a line exceed `max_size` without a `\n`, it drops them, raises
//!   `MemoryError("dropping message over N bytes and re-synchronizing")` and discards
//!   everything up to and including the next `\n`; while discarding, every further
//!   `max_size` bytes without a `\n` raise the error again. The session logs each error as a
//!   warning and keeps reading: no reply is sent, no error cost is charged and the connection
//!   stays open. This module does the same: [`RecvError::TooLarge`] is returned as soon as a
//!   line exceeds `max_recv` bytes (without waiting for its end), then again for every further
//!   `max_recv` bytes discarded without a `\n`, and the line after the next `\n` is read
//!   normally. One deliberate difference: aiorpcX only checks the size when a chunk
//!   *without* a `\n` arrives, so a line slightly over the limit whose `\n` comes in the same
//!   socket read is accepted by it (how much over depends on the kernel's chunking); here the
//!   limit is exact: a line of more than `max_recv` bytes before its `\n` is always refused.
//! - Memory is bounded by `max_recv` plus one read buffer ([`READ_BUFFER_SIZE`]), whatever
//!   the peer sends. `max_recv == 0` means no limit, as in aiorpcX (the operator's explicit
//!   choice; it lets a peer use unbounded memory, as it does in ElectrumX).
//! - A partial line at end of stream is dropped (aiorpcX never delivers it either).
//!
//! **Websockets** (`ws`, `wss`): one text or binary message is one message (text as its
//! UTF-8 bytes); pings are answered automatically; a close frame ends the stream. Outgoing
//! messages are text frames (binary if not valid UTF-8, as aiorpcX does), without a newline.
//! The message and frame size limits are set from `max_recv` (ElectrumX leaves the
//! `websockets` default of 1 MiB in place instead; with `max_recv == 0` tungstenite's
//! defaults apply: 64 MiB messages, 16 MiB frames). An oversized message cannot be skipped
//! in a websocket stream: as `websockets` does, the connection is failed: `recv` returns
//! [`RecvError::TooLarge`] once, then `Ok(None)`, and [`MessageWriter::close`] sends close
//! code 1009 (message too big).
//!
//! **Not reproduced here**: ElectrumX 1.20 wraps `tcp`/`ssl` sessions in `PaddedRSTransport`,
//! which pads outgoing JSON with spaces to power-of-two packet sizes (at least 1024 bytes)
//! and may hold small responses back for up to a second to coalesce them (a traffic-analysis
//! countermeasure; clients do not depend on it). The `websockets` library also pings idle
//! clients every 20 s. Neither is done by this module.
//!
//! **Listening** follows asyncio's `create_server`, which ElectrumX uses: every address the
//! host resolves to (all interfaces: `0.0.0.0` and `::`), `SO_REUSEADDR`, `IPV6_V6ONLY` on
//! IPv6 sockets, a backlog of 100, `TCP_NODELAY` on accepted sockets; an address whose family
//! the machine lacks (`EADDRNOTAVAIL`, or no socket of that family) is skipped, any other
//! bind error fails the whole service.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf, ReadHalf, WriteHalf,
};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use tracing::debug;

use crate::config::{Protocol, Service, ServiceHost};

/// The listen backlog asyncio's `create_server` uses by default.
const BACKLOG: u32 = 100;

/// Bytes read from a line-framed socket at a time; the memory a connection may use beyond
/// `max_recv`.
pub const READ_BUFFER_SIZE: usize = 16 * 1024;

/// The initial read buffer of a websocket (tungstenite's default, 128 KiB, is allocated and
/// zeroed up front for every session; it grows when a frame needs more).
const WS_READ_BUFFER_SIZE: usize = 4 * 1024;

// ---------------------------------------------------------------------------------------
// TLS configuration
// ---------------------------------------------------------------------------------------

/// Why SSL_CERTFILE / SSL_KEYFILE could not be turned into a TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// A file could not be read (missing, unreadable).
    #[error("cannot read {var} {}: {source}", path.display())]
    Read {
        /// `SSL_CERTFILE` or `SSL_KEYFILE`.
        var: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// A file is not well-formed PEM.
    #[error("{var} {}: malformed PEM: {detail}", path.display())]
    Pem {
        var: &'static str,
        path: PathBuf,
        detail: String,
    },
    /// The certificate file holds no `CERTIFICATE` block.
    #[error("SSL_CERTFILE {}: no PEM certificate (BEGIN CERTIFICATE) in the file", path.display())]
    NoCertificate { path: PathBuf },
    /// A certificate could not be parsed.
    #[error("SSL_CERTFILE {}: invalid certificate: {detail}", path.display())]
    BadCertificate { path: PathBuf, detail: String },
    /// The key file holds no private key block.
    #[error(
        "SSL_KEYFILE {}: no PEM private key (BEGIN RSA PRIVATE KEY, EC PRIVATE KEY or \
         PRIVATE KEY) in the file",
        path.display()
    )]
    NoKey { path: PathBuf },
    /// The key file holds only an encrypted private key.
    #[error(
        "SSL_KEYFILE {}: the private key is encrypted; an unencrypted key is required",
        path.display()
    )]
    EncryptedKey { path: PathBuf },
    /// The private key is of a kind or on a curve that is not supported, or is corrupt.
    #[error("SSL_KEYFILE {}: unsupported or invalid private key: {detail}", path.display())]
    UnsupportedKey { path: PathBuf, detail: String },
    /// The private key is not the certificate's.
    #[error(
        "SSL_KEYFILE {} does not match the certificate in SSL_CERTFILE {}",
        keyfile.display(),
        certfile.display()
    )]
    KeyMismatch { certfile: PathBuf, keyfile: PathBuf },
    /// Anything else rustls refused.
    #[error("cannot use SSL_CERTFILE {} with SSL_KEYFILE {}: {detail}", certfile.display(), keyfile.display())]
    Other {
        certfile: PathBuf,
        keyfile: PathBuf,
        detail: String,
    },
}

/// Loads SSL_CERTFILE/SSL_KEYFILE (PEM; certificate chain; RSA (PKCS#1), SEC1 EC or PKCS#8
/// private key). TLS 1.2 and 1.3, ring provider.
///
/// The certificate file holds the server certificate first, then any intermediates; other
/// PEM blocks in it (a key, say) are ignored. The first private key in the key file is used.
/// Supported keys are those of rustls' ring provider: RSA (2048 bits or more), ECDSA P-256
/// and P-384, and Ed25519.
///
/// # Errors
/// A [`TlsConfigError`] whose one-line `Display` names the file and the problem.
pub fn load_tls_config(
    certfile: &Path,
    keyfile: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsConfigError> {
    let cert_pem = std::fs::read(certfile).map_err(|source| TlsConfigError::Read {
        var: "SSL_CERTFILE",
        path: certfile.to_owned(),
        source,
    })?;
    let key_pem = std::fs::read(keyfile).map_err(|source| TlsConfigError::Read {
        var: "SSL_KEYFILE",
        path: keyfile.to_owned(),
        source,
    })?;

    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|e| TlsConfigError::Pem {
            var: "SSL_CERTFILE",
            path: certfile.to_owned(),
            detail: pem_problem(&e),
        })?;
    if chain.is_empty() {
        return Err(TlsConfigError::NoCertificate {
            path: certfile.to_owned(),
        });
    }

    let key = match PrivateKeyDer::from_pem_slice(&key_pem) {
        Ok(key) => key,
        // An encrypted key is either not found (PKCS#8 "ENCRYPTED PRIVATE KEY") or breaks
        // the PEM parser (the legacy "Proc-Type: 4,ENCRYPTED" header of OpenSSL's RSA/EC
        // forms).
        Err(_) if looks_encrypted(&key_pem) => {
            return Err(TlsConfigError::EncryptedKey {
                path: keyfile.to_owned(),
            })
        }
        Err(pem::Error::NoItemsFound) => {
            return Err(TlsConfigError::NoKey {
                path: keyfile.to_owned(),
            })
        }
        Err(e) => {
            return Err(TlsConfigError::Pem {
                var: "SSL_KEYFILE",
                path: keyfile.to_owned(),
                detail: pem_problem(&e),
            })
        }
    };

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Load the key on its own first so that a bad key is reported as such, not as whatever
    // the combined check says.
    if let Err(e) = provider.key_provider.load_private_key(key.clone_key()) {
        return Err(TlsConfigError::UnsupportedKey {
            path: keyfile.to_owned(),
            detail: e.to_string(),
        });
    }
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsConfigError::Other {
            certfile: certfile.to_owned(),
            keyfile: keyfile.to_owned(),
            detail: e.to_string(),
        })?;
    let config = builder
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => TlsConfigError::KeyMismatch {
                certfile: certfile.to_owned(),
                keyfile: keyfile.to_owned(),
            },
            rustls::Error::InvalidCertificate(e) => TlsConfigError::BadCertificate {
                path: certfile.to_owned(),
                detail: match e {
                    rustls::CertificateError::BadEncoding => {
                        "not a DER-encoded X.509 certificate".to_owned()
                    }
                    e => format!("{e:?}"),
                },
            },
            e => TlsConfigError::Other {
                certfile: certfile.to_owned(),
                keyfile: keyfile.to_owned(),
                detail: e.to_string(),
            },
        })?;
    Ok(Arc::new(config))
}

/// A PEM parse error in words (the library's `Display` shows markers as byte lists).
fn pem_problem(e: &pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "no \"-----END {}-----\" line",
            String::from_utf8_lossy(end_marker)
        ),
        pem::Error::IllegalSectionStart { line } => {
            format!("bad BEGIN line {:?}", String::from_utf8_lossy(line))
        }
        pem::Error::Base64Decode(detail) => format!("bad base64: {detail}"),
        e => e.to_string(),
    }
}

/// Whether PEM text holds an encrypted private key, in PKCS#8 or OpenSSL's legacy form.
fn looks_encrypted(pem: &[u8]) -> bool {
    let contains = |needle: &[u8]| pem.windows(needle.len()).any(|w| w == needle);
    contains(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || contains(b"Proc-Type: 4,ENCRYPTED")
}

// ---------------------------------------------------------------------------------------
// Listening
// ---------------------------------------------------------------------------------------

/// The listening sockets of one service.
pub struct Listener {
    protocol: Protocol,
    sockets: Vec<TcpListener>,
    /// Where the next accept starts looking, so that no socket starves the others.
    next: AtomicUsize,
    tls: Option<TlsAcceptor>,
    max_recv: usize,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("protocol", &self.protocol)
            .field("local_addrs", &self.local_addrs())
            .field("max_recv", &self.max_recv)
            .finish_non_exhaustive()
    }
}

impl Listener {
    /// Binds the service (all addresses its host resolves to; SO_REUSEADDR as asyncio does).
    /// `tls` must be Some for ssl/wss.
    ///
    /// All interfaces means `0.0.0.0` and `::`; a name is resolved with the system resolver.
    /// `max_recv` is the message size limit of the connections accepted (MAX_RECV; ElectrumX
    /// uses 1,000,000 for `rpc` whatever MAX_RECV says).
    ///
    /// # Errors
    /// `InvalidInput` when `tls` is missing for `ssl`/`wss`; a resolution failure; the first
    /// bind or listen error other than an unavailable address family (its message names the
    /// address); `AddrNotAvailable` when no address could be bound.
    pub async fn bind(
        service: &Service,
        tls: Option<Arc<rustls::ServerConfig>>,
        max_recv: usize,
    ) -> io::Result<Listener> {
        let protocol = service.protocol;
        let tls = if protocol.uses_tls() {
            match tls {
                Some(config) => Some(TlsAcceptor::from(config)),
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{service}: a TLS configuration is required"),
                    ))
                }
            }
        } else {
            None
        };
        let addrs = bind_addresses(&service.host, service.port).await?;
        let mut sockets = Vec::with_capacity(addrs.len());
        let mut skipped: Option<io::Error> = None;
        for addr in addrs {
            match bind_one(addr)? {
                Ok(listener) => sockets.push(listener),
                Err(e) => {
                    debug!("{service}: skipping {addr}: {e}");
                    skipped = Some(e);
                }
            }
        }
        if sockets.is_empty() {
            let why = skipped.map_or_else(|| "no address".to_owned(), |e| e.to_string());
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("{service}: nothing to listen on: {why}"),
            ));
        }
        let listener = Listener {
            protocol,
            sockets,
            next: AtomicUsize::new(0),
            tls,
            max_recv,
        };
        debug!("{service}: listening on {:?}", listener.local_addrs());
        Ok(listener)
    }

    /// The addresses actually bound (with the real port when the service's port was 0).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.sockets
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .collect()
    }

    /// The service's protocol.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Next TCP connection; cheap (no handshake here, so one slow client never delays
    /// accepting others).
    ///
    /// Cancel-safe. Serves the listening sockets in turn.
    ///
    /// # Errors
    /// The `accept` error of a listening socket. Most are transient (`ECONNABORTED`,
    /// `EMFILE`…): the caller should log, perhaps pause briefly, and call again.
    pub async fn accept(&self) -> io::Result<Incoming> {
        let (stream, peer) = poll_fn(|cx| self.poll_accept(cx)).await?;
        if let Err(e) = stream.set_nodelay(true) {
            debug!("{peer}: cannot set TCP_NODELAY: {e}");
        }
        Ok(Incoming {
            peer,
            protocol: self.protocol,
            stream,
            tls: self.tls.clone(),
            max_recv: self.max_recv,
        })
    }

    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let n = self.sockets.len();
        let start = self.next.load(Ordering::Relaxed);
        for i in 0..n {
            let idx = (start + i) % n;
            if let Poll::Ready(result) = self.sockets[idx].poll_accept(cx) {
                self.next.store((idx + 1) % n, Ordering::Relaxed);
                return Poll::Ready(result);
            }
        }
        Poll::Pending
    }
}

/// The socket addresses a service host stands for, in resolution order, without duplicates.
async fn bind_addresses(host: &ServiceHost, port: u16) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = match host {
        ServiceHost::AllInterfaces => vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
        ],
        ServiceHost::Ip(ip) => vec![SocketAddr::new(*ip, port)],
        ServiceHost::Name(name) => tokio::net::lookup_host((name.as_str(), port))
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("cannot resolve {name}: {e}")))?
            .collect(),
    };
    let mut unique = Vec::with_capacity(addrs.len());
    for addr in addrs {
        if !unique.contains(&addr) {
            unique.push(addr);
        }
    }
    Ok(unique)
}

/// Binds one address as asyncio does. The outer error fails the service; the inner one
/// means the address family is not available here and the address is skipped.
fn bind_one(addr: SocketAddr) -> io::Result<Result<TcpListener, io::Error>> {
    let socket = match if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    } {
        Ok(socket) => socket,
        // asyncio: "Assume it's a bad family/type/protocol combination."
        Err(e) => return Ok(Err(e)),
    };
    let context = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("error while attempting to bind on address {addr}: {e}"),
        )
    };
    socket.set_reuseaddr(true).map_err(context)?;
    if addr.is_ipv6() {
        set_ipv6_only(&socket).map_err(context)?;
    }
    if let Err(e) = socket.bind(addr) {
        if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) {
            // asyncio (bpo-30945): assume the family is not enabled.
            return Ok(Err(context(e)));
        }
        return Err(context(e));
    }
    socket.listen(BACKLOG).map(Ok).map_err(context)
}

/// Sets IPV6_V6ONLY, as asyncio does on every IPv6 listening socket (so that `::` and
/// `0.0.0.0` can both be bound on one port).
fn set_ipv6_only(socket: &TcpSocket) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: the descriptor belongs to `socket`, which outlives the call; the option value
    // points to a live c_int whose size is passed along with it.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

// ---------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------

/// An accepted TCP connection whose TLS / WebSocket handshake has not been done yet.
pub struct Incoming {
    /// The client's address.
    pub peer: SocketAddr,
    /// The service's protocol.
    pub protocol: Protocol,
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    max_recv: usize,
}

impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("peer", &self.peer)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl Incoming {
    /// Completes the TLS and/or WebSocket handshake (caller wraps it in a timeout),
    /// returning the framed connection.
    ///
    /// # Errors
    /// The handshake failed (I/O error, not TLS, not a WebSocket upgrade request…); the
    /// connection is dropped.
    pub async fn handshake(self) -> io::Result<Connection> {
        let Incoming {
            peer,
            protocol,
            stream,
            tls,
            max_recv,
        } = self;
        let stream = match tls {
            Some(acceptor) if protocol.uses_tls() => {
                MaybeTls::Tls(Box::new(acceptor.accept(stream).await?))
            }
            _ => MaybeTls::Plain(stream),
        };
        let written = Arc::new(AtomicU64::new(0));
        let (reader, writer) = if protocol.is_websocket() {
            let shared = SharedStream(Arc::new(Mutex::new(stream)));
            let counted = Counted {
                inner: shared.clone(),
                written: written.clone(),
            };
            let ws = tokio_tungstenite::accept_async_with_config(
                counted,
                Some(websocket_config(max_recv)),
            )
            .await
            .map_err(ws_to_io)?;
            let (sink, stream) = ws.split();
            let too_large = Arc::new(AtomicBool::new(false));
            (
                ReaderInner::Ws {
                    stream,
                    limit: max_recv,
                    done: false,
                    too_large: too_large.clone(),
                    received: 0,
                },
                WriterInner::Ws {
                    sink,
                    shared,
                    too_large,
                },
            )
        } else {
            let (read, write) = tokio::io::split(stream);
            (
                ReaderInner::Lines(LineReader::new(read, max_recv)),
                WriterInner::Lines(Counted {
                    inner: write,
                    written: written.clone(),
                }),
            )
        };
        Ok(Connection {
            peer,
            protocol,
            reader: MessageReader { inner: reader },
            writer: MessageWriter {
                inner: writer,
                closed: false,
                written,
            },
        })
    }
}

/// WebSocket limits from MAX_RECV (tungstenite's defaults when it is 0, "no limit").
fn websocket_config(max_recv: usize) -> WebSocketConfig {
    let config = WebSocketConfig::default().read_buffer_size(WS_READ_BUFFER_SIZE);
    if max_recv == 0 {
        config
    } else {
        config
            .max_message_size(Some(max_recv))
            .max_frame_size(Some(max_recv))
    }
}

/// A WebSocket error as an I/O error.
fn ws_to_io(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            io::Error::new(io::ErrorKind::NotConnected, "websocket closed")
        }
        e => io::Error::new(io::ErrorKind::InvalidData, e),
    }
}

/// A framed client connection.
#[derive(Debug)]
pub struct Connection {
    /// The client's address.
    pub peer: SocketAddr,
    /// The service's protocol.
    pub protocol: Protocol,
    /// Incoming messages.
    pub reader: MessageReader,
    /// Outgoing messages.
    pub writer: MessageWriter,
}

/// Why [`MessageReader::recv`] returned no message.
#[derive(Debug, thiserror::Error)]
pub enum RecvError {
    /// A message exceeded MAX_RECV. For lines, the stream stays usable (see the module
    /// documentation); for websockets, the connection is finished.
    #[error("dropping message over {} bytes", crate::util::thousands(*limit as u64))]
    TooLarge { limit: usize },
    /// The connection failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// The receiving half of a [`Connection`].
pub struct MessageReader {
    inner: ReaderInner,
}

enum ReaderInner {
    Lines(LineReader),
    Ws {
        stream: SplitStream<WebSocketStream<Counted<SharedStream>>>,
        limit: usize,
        /// The stream has ended (close frame, EOF or an oversized message).
        done: bool,
        /// Shared with the writer: close with 1009 (message too big).
        too_large: Arc<AtomicBool>,
        received: u64,
    },
}

impl fmt::Debug for MessageReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, limit) = match &self.inner {
            ReaderInner::Lines(lines) => ("lines", lines.limit),
            ReaderInner::Ws { limit, .. } => ("websocket", *limit),
        };
        f.debug_struct("MessageReader")
            .field("framing", &kind)
            .field("limit", &limit)
            .field("bytes_received", &self.bytes_received())
            .finish()
    }
}

impl MessageReader {
    /// The next message: one line without its `\n` (and without a trailing `\r`) for
    /// tcp/ssl; one text or binary message for ws/wss (ping/pong handled internally, close →
    /// Ok(None)). Ok(None) at EOF.
    ///
    /// Cancel-safe: a partly received line is kept for the next call.
    ///
    /// When a websocket peer sends a close frame, the reply is queued: call
    /// [`MessageWriter::close`] after `Ok(None)` to send it and end the connection cleanly.
    ///
    /// # Errors
    /// [`RecvError::TooLarge`] for a message over MAX_RECV: for lines, call again to get the
    /// next line (the rest of the oversized one is discarded, see the module documentation);
    /// for websockets the next call returns `Ok(None)`. [`RecvError::Io`] when the
    /// connection failed; a TLS peer that closes without close_notify is treated as EOF.
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, RecvError> {
        match &mut self.inner {
            ReaderInner::Lines(lines) => lines.recv().await,
            ReaderInner::Ws {
                stream,
                limit,
                done,
                too_large,
                received,
            } => loop {
                if *done {
                    return Ok(None);
                }
                let message = match stream.next().await {
                    None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => {
                        *done = true;
                        return Ok(None);
                    }
                    Some(Err(WsError::Capacity(e))) => {
                        debug!("websocket message too large: {e}");
                        *done = true;
                        too_large.store(true, Ordering::Relaxed);
                        return Err(RecvError::TooLarge { limit: *limit });
                    }
                    Some(Err(WsError::Io(e))) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        *done = true;
                        return Ok(None);
                    }
                    Some(Err(e)) => {
                        *done = true;
                        return Err(RecvError::Io(ws_to_io(e)));
                    }
                    Some(Ok(message)) => message,
                };
                let bytes = match message {
                    Message::Text(_) | Message::Binary(_) => Vec::from(message.into_data()),
                    Message::Close(_) => {
                        *done = true;
                        return Ok(None);
                    }
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                };
                *received += bytes.len() as u64;
                return Ok(Some(bytes));
            },
        }
    }

    /// Bytes received so far, for bandwidth accounting: for lines, every byte read from
    /// the (decrypted) stream, newlines and discarded bytes included; for websockets, the
    /// payload of the text and binary messages (as aiorpcX counts them).
    pub fn bytes_received(&self) -> u64 {
        match &self.inner {
            ReaderInner::Lines(lines) => lines.received,
            ReaderInner::Ws { received, .. } => *received,
        }
    }
}

/// Newline framing over a byte stream, with aiorpcX's handling of oversized lines.
struct LineReader {
    src: BufReader<ReadHalf<MaybeTls>>,
    /// The part of the current line received so far (never more than `limit` bytes).
    line: Vec<u8>,
    /// MAX_RECV; 0 for none.
    limit: usize,
    /// Skipping the rest of an oversized line.
    discarding: bool,
    /// Bytes skipped since the last [`RecvError::TooLarge`].
    discarded: usize,
    received: u64,
}

impl LineReader {
    fn new(read: ReadHalf<MaybeTls>, limit: usize) -> LineReader {
        LineReader {
            src: BufReader::with_capacity(READ_BUFFER_SIZE, read),
            line: Vec::new(),
            limit,
            discarding: false,
            discarded: 0,
            received: 0,
        }
    }

    async fn recv(&mut self) -> Result<Option<Vec<u8>>, RecvError> {
        let limit = self.limit;
        let over = |len: usize| limit != 0 && len > limit;
        loop {
            let chunk = match self.src.fill_buf().await {
                Ok(chunk) => chunk,
                // A TLS peer that hangs up without close_notify.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(e) => return Err(RecvError::Io(e)),
            };
            if chunk.is_empty() {
                // EOF: a partial line is dropped, as aiorpcX does.
                return Ok(None);
            }
            match chunk.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    let consumed = end + 1;
                    let result = if self.discarding {
                        // The end of an oversized line: back in sync.
                        self.discarding = false;
                        self.discarded = 0;
                        None
                    } else if over(self.line.len() + end) {
                        self.line = Vec::new();
                        Some(Err(RecvError::TooLarge { limit }))
                    } else {
                        let mut message = if self.line.is_empty() {
                            chunk[..end].to_vec()
                        } else {
                            let mut line = std::mem::take(&mut self.line);
                            line.extend_from_slice(&chunk[..end]);
                            line
                        };
                        if message.last() == Some(&b'\r') {
                            message.pop();
                        }
                        Some(Ok(Some(message)))
                    };
                    self.src.consume(consumed);
                    self.received += consumed as u64;
                    if let Some(result) = result {
                        return result;
                    }
                }
                None => {
                    let n = chunk.len();
                    let result = if self.discarding {
                        self.discarded += n;
                        if over(self.discarded) {
                            self.discarded = 0;
                            Some(RecvError::TooLarge { limit })
                        } else {
                            None
                        }
                    } else if over(self.line.len() + n) {
                        self.line = Vec::new();
                        self.discarding = true;
                        self.discarded = 0;
                        Some(RecvError::TooLarge { limit })
                    } else {
                        // Grow geometrically, but never past the limit.
                        let needed = self.line.len() + n;
                        if needed > self.line.capacity() {
                            let mut want = needed.max(self.line.capacity() * 2);
                            if self.limit != 0 {
                                want = want.min(self.limit);
                            }
                            self.line.reserve_exact(want - self.line.len());
                        }
                        self.line.extend_from_slice(chunk);
                        None
                    };
                    self.src.consume(n);
                    self.received += n as u64;
                    if let Some(e) = result {
                        return Err(e);
                    }
                }
            }
        }
    }
}

/// The sending half of a [`Connection`].
pub struct MessageWriter {
    inner: WriterInner,
    closed: bool,
    /// Bytes handed to the socket (TLS: to the TLS layer) so far.
    written: Arc<AtomicU64>,
}

enum WriterInner {
    Lines(Counted<WriteHalf<MaybeTls>>),
    Ws {
        sink: SplitSink<WebSocketStream<Counted<SharedStream>>, Message>,
        /// The socket under the WebSocket, to shut it down after the close frame.
        shared: SharedStream,
        too_large: Arc<AtomicBool>,
    },
}

impl fmt::Debug for MessageWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.inner {
            WriterInner::Lines(_) => "lines",
            WriterInner::Ws { .. } => "websocket",
        };
        f.debug_struct("MessageWriter")
            .field("framing", &kind)
            .field("closed", &self.closed)
            .finish()
    }
}

impl MessageWriter {
    /// Bytes written to the socket so far, shared: it moves while a [`MessageWriter::send`]
    /// makes progress, so a caller can tell a slow client from one that stopped reading.
    pub fn progress(&self) -> Arc<AtomicU64> {
        self.written.clone()
    }

    /// Sends one message: appends `\n` for tcp/ssl; one text frame for ws/wss. Flushes.
    ///
    /// A websocket message that is not valid UTF-8 goes as a binary frame (as aiorpcX does).
    /// The message is framed in place (no copy).
    ///
    /// # Errors
    /// The connection failed or was closed.
    pub async fn send(&mut self, msg: impl Into<Vec<u8>>) -> io::Result<()> {
        let mut msg = msg.into();
        if self.closed {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "connection closed",
            ));
        }
        match &mut self.inner {
            WriterInner::Lines(write) => {
                msg.push(b'\n');
                write.write_all(&msg).await?;
                write.flush().await
            }
            WriterInner::Ws { sink, .. } => {
                let message = match String::from_utf8(msg) {
                    Ok(text) => Message::text(text),
                    Err(e) => Message::binary(e.into_bytes()),
                };
                sink.send(message).await.map_err(ws_to_io)
            }
        }
    }

    /// Graceful close (TLS close_notify / WebSocket close frame), then shuts the socket down.
    ///
    /// Shuts down the sending direction; the socket itself is released when both halves are
    /// dropped. A websocket close frame carries code 1009 when the reader refused an
    /// oversized message, none otherwise; the peer's reply close frame, if any, ends the
    /// reader's stream. Calling it again does nothing.
    ///
    /// # Errors
    /// Sending the close frame or the shutdown failed (the peer is usually gone already).
    pub async fn close(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        match &mut self.inner {
            WriterInner::Lines(write) => ignore_not_connected(write.shutdown().await),
            WriterInner::Ws {
                sink,
                shared,
                too_large,
            } => {
                let mut result = Ok(());
                if too_large.load(Ordering::Relaxed) {
                    let frame = CloseFrame {
                        code: CloseCode::Size,
                        reason: "message too big".into(),
                    };
                    result = sink.feed(Message::Close(Some(frame))).await;
                }
                if result.is_ok() {
                    result = sink.close().await;
                }
                let shutdown = ignore_not_connected(poll_fn(|cx| shared.poll_shut(cx)).await);
                result.map_err(ws_to_io).and(shutdown)
            }
        }
    }
}

/// A shutdown of a socket the peer has already torn down is not a failure.
fn ignore_not_connected(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        other => other,
    }
}

// ---------------------------------------------------------------------------------------
// Byte streams
// ---------------------------------------------------------------------------------------

/// A TCP stream, plain or inside TLS.
enum MaybeTls {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl AsyncRead for MaybeTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTls::Plain(s) => s.is_write_vectored(),
            MaybeTls::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A stream that counts the bytes written through it (see [`MessageWriter::progress`]).
struct Counted<S> {
    inner: S,
    written: Arc<AtomicU64>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &polled {
            self.written.fetch_add(*n as u64, Ordering::Relaxed);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The stream under a WebSocket, shared so that [`MessageWriter::close`] can shut it down
/// after the close frame (the split WebSocket halves give no access to it). The lock is only
/// held for one non-blocking poll at a time.
#[derive(Clone)]
struct SharedStream(Arc<Mutex<MaybeTls>>);

impl SharedStream {
    fn with<R>(&self, f: impl FnOnce(Pin<&mut MaybeTls>) -> R) -> R {
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(Pin::new(&mut *guard))
    }

    fn poll_shut(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|s| s.poll_shutdown(cx))
    }
}

impl AsyncRead for SharedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.with(|s| s.poll_read(cx, buf))
    }
}

impl AsyncWrite for SharedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.with(|s| s.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|s| s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|s| s.poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(
            RecvError::TooLarge { limit: 1_000_000 }.to_string(),
            "dropping message over 1,000,000 bytes"
        );
    }

    /// A connected pair: our side as a [`LineReader`], the peer's as a plain stream.
    async fn line_pair(limit: usize) -> (LineReader, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let (server, _) = accepted.expect("accept");
        let (read, _write) = tokio::io::split(MaybeTls::Plain(server));
        (LineReader::new(read, limit), client.expect("connect"))
    }

    #[tokio::test]
    async fn line_buffer_never_exceeds_the_limit() {
        let limit = 100_000;
        let (mut reader, mut peer) = line_pair(limit).await;
        let writer = tokio::spawn(async move {
            let chunk = vec![b'x'; 7_000];
            for _ in 0..200 {
                peer.write_all(&chunk).await.expect("write");
            }
            peer.write_all(b"\nok\n").await.expect("write");
            peer
        });
        let mut errors = 0;
        loop {
            assert!(reader.line.capacity() <= limit);
            match reader.recv().await {
                Err(RecvError::TooLarge { limit: l }) => {
                    assert_eq!(l, limit);
                    errors += 1;
                }
                Ok(Some(message)) => {
                    assert_eq!(message, b"ok");
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        // 1,400,000 bytes: the first error after 100,000, then one per further 100,000.
        assert!((10..=14).contains(&errors), "{errors} errors");
        assert_eq!(reader.received, 1_400_004);
        drop(writer.await);
    }

    #[tokio::test]
    async fn zero_limit_means_unlimited() {
        let (mut reader, mut peer) = line_pair(0).await;
        let big = vec![b'y'; 300_000];
        let sent = big.clone();
        tokio::spawn(async move {
            peer.write_all(&sent).await.expect("write");
            peer.write_all(b"\n").await.expect("write");
        });
        assert_eq!(reader.recv().await.expect("recv"), Some(big));
        assert_eq!(reader.recv().await.expect("recv"), None);
    }
}
