//! An accepted connection ([`Accepted`]), its handshake, and the framed [`Connection`] the
//! services read and write messages through: a [`MessageReader`] and a [`MessageWriter`]
//! that may live in different tasks, whatever the framing.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::error::RecvError;
use super::lines::{LineReader, LineWriter};
use super::stream::{Counted, MaybeTls};
use super::websocket::{self, WsReader, WsWriter};
use crate::config::Protocol;

/// An accepted TCP connection whose TLS / WebSocket handshake has not been done yet.
pub struct Accepted {
    /// The client's address.
    pub peer: SocketAddr,
    /// The service's protocol.
    pub protocol: Protocol,
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    max_recv: usize,
}

impl fmt::Debug for Accepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accepted")
            .field("peer", &self.peer)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl Accepted {
    /// A connection accepted by a service's listener.
    pub(super) fn new(
        peer: SocketAddr,
        protocol: Protocol,
        stream: TcpStream,
        tls: Option<TlsAcceptor>,
        max_recv: usize,
    ) -> Accepted {
        Accepted {
            peer,
            protocol,
            stream,
            tls,
            max_recv,
        }
    }

    /// Completes the TLS and/or WebSocket handshake (caller wraps it in a timeout),
    /// returning the framed connection.
    ///
    /// # Errors
    /// The handshake failed (I/O error, not TLS, not a WebSocket upgrade request…); the
    /// connection is dropped.
    pub async fn handshake(self) -> io::Result<Connection> {
        let Accepted {
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
            let (reader, writer) = websocket::accept(stream, max_recv, written.clone()).await?;
            (ReaderInner::Ws(reader), WriterInner::Ws(writer))
        } else {
            let (read, write) = tokio::io::split(stream);
            (
                ReaderInner::Lines(LineReader::new(read, max_recv)),
                WriterInner::Lines(LineWriter::new(Counted::new(write, written.clone()))),
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

/// The receiving half of a [`Connection`].
pub struct MessageReader {
    inner: ReaderInner,
}

enum ReaderInner {
    Lines(LineReader),
    Ws(WsReader),
}

impl fmt::Debug for MessageReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, limit) = match &self.inner {
            ReaderInner::Lines(lines) => ("lines", lines.limit()),
            ReaderInner::Ws(ws) => ("websocket", ws.limit()),
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
    /// next line (the rest of the oversized one is discarded, see the room's documentation);
    /// for websockets the next call returns `Ok(None)`. [`RecvError::Io`] when the
    /// connection failed; a TLS peer that closes without close_notify is treated as EOF.
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, RecvError> {
        match &mut self.inner {
            ReaderInner::Lines(lines) => lines.recv().await,
            ReaderInner::Ws(ws) => ws.recv().await,
        }
    }

    /// Bytes received so far, for bandwidth accounting: for lines, every byte read from
    /// the (decrypted) stream, newlines and discarded bytes included; for websockets, the
    /// payload of the text and binary messages (as aiorpcX counts them).
    pub fn bytes_received(&self) -> u64 {
        match &self.inner {
            ReaderInner::Lines(lines) => lines.received(),
            ReaderInner::Ws(ws) => ws.received(),
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
    Lines(LineWriter),
    Ws(WsWriter),
}

impl fmt::Debug for MessageWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.inner {
            WriterInner::Lines(_) => "lines",
            WriterInner::Ws(_) => "websocket",
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
        let msg = msg.into();
        if self.closed {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "connection closed",
            ));
        }
        match &mut self.inner {
            WriterInner::Lines(lines) => lines.send(msg).await,
            WriterInner::Ws(ws) => ws.send(msg).await,
        }
    }

    /// Drops the connection with a reset instead of a graceful close, for a client that stopped
    /// reading: what is still queued for it (up to the kernel's send buffer, megabytes) is
    /// thrown away at once rather than kept for minutes by a closed socket that cannot deliver
    /// it, and the client learns of the close from the reset even though it does not read
    /// (a FIN would wait behind the unread data).
    pub fn abort(self, reader: MessageReader) {
        match (self.inner, reader.inner) {
            (WriterInner::Lines(w), ReaderInner::Lines(r)) => {
                let (read, write) = (r.into_inner(), w.into_inner());
                if read.is_pair_of(&write) {
                    read.unsplit(write).reset_on_close();
                }
            }
            (WriterInner::Ws(w), _) => w.reset_on_close(),
            // Halves of different connections: nothing to reset (cannot happen).
            (WriterInner::Lines(_), ReaderInner::Ws(_)) => {}
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
            WriterInner::Lines(lines) => lines.close().await,
            WriterInner::Ws(ws) => ws.close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::net::{TcpListener, TcpSocket};

    /// A line-framed connection whose peer has a 4 KiB receive buffer and never reads, with
    /// our writes stalled behind megabytes it has not read; then `end` ends it. The error
    /// the peer's socket holds shortly after (none while it believes the connection open).
    async fn stalled_then(end: fn(Connection) -> Option<Connection>) -> Option<io::ErrorKind> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("rcvbuf");
        let (peer, accepted) = tokio::join!(socket.connect(addr), listener.accept());
        let peer = peer.expect("connect");
        let (stream, from) = accepted.expect("accept");
        let conn = Accepted::new(from, Protocol::Tcp, stream, None, 0)
            .handshake()
            .await
            .expect("handshake");
        let Connection {
            peer: addr,
            protocol,
            reader,
            mut writer,
        } = conn;
        // Write until nothing moves for half a second.
        loop {
            let send = writer.send(vec![b'x'; 64 * 1024]);
            if tokio::time::timeout(Duration::from_millis(500), send)
                .await
                .is_err()
            {
                break;
            }
        }
        let conn = Connection {
            peer: addr,
            protocol,
            reader,
            writer,
        };
        if let Some(mut conn) = end(conn) {
            let _ = tokio::time::timeout(Duration::from_secs(1), conn.writer.close()).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        peer.take_error().expect("SO_ERROR").map(|e| e.kind())
    }

    #[tokio::test]
    async fn abort_resets_a_connection_whose_peer_stopped_reading() {
        // Aborted: the peer learns at once, the unread megabytes thrown away.
        let aborted = stalled_then(|c| {
            c.writer.abort(c.reader);
            None
        })
        .await;
        assert_eq!(aborted, Some(io::ErrorKind::ConnectionReset));
        // Closed gracefully: the FIN waits behind the unread data; the peer knows nothing.
        assert_eq!(stalled_then(Some).await, None);
    }
}
