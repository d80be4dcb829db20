//! Listening as asyncio's `create_server` does (which ElectrumX uses): every address the
//! service's host resolves to, `SO_REUSEADDR`, `IPV6_V6ONLY` on IPv6 sockets, a backlog of
//! 100, `TCP_NODELAY` on accepted sockets (see the room's documentation).

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_rustls::TlsAcceptor;
use tracing::debug;

use super::connection::Accepted;
use crate::config::{Protocol, Service, ServiceHost};

/// The listen backlog asyncio's `create_server` uses by default.
const BACKLOG: u32 = 100;

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
    pub async fn accept(&self) -> io::Result<Accepted> {
        let (stream, peer) = poll_fn(|cx| self.poll_accept(cx)).await?;
        if let Err(e) = stream.set_nodelay(true) {
            debug!("{peer}: cannot set TCP_NODELAY: {e}");
        }
        Ok(Accepted::new(
            peer,
            self.protocol,
            stream,
            self.tls.clone(),
            self.max_recv,
        ))
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
