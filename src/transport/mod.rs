//! The `transport` room: listeners and message framing for every service (`tcp`, `ssl`,
//! `ws`, `wss`, and the admin `rpc`), giving the Electrum sessions and the admin RPC the same
//! transport-independent [`Connection`]: a [`MessageReader`] and a [`MessageWriter`] that
//! may live in different tasks. What the messages say is the [`jsonrpc`](crate::jsonrpc)
//! room's business; this room only carries them.
//!
//! Files: `listen` (binding and accepting: [`Listener`], [`Accepted`]), `tls` (SSL_CERTFILE
//! and SSL_KEYFILE → a rustls configuration), `connection` (the handshake and the framed
//! [`Connection`]), `lines` (newline framing), `websocket` (WebSocket framing), `stream`
//! (plain or TLS streams, write counting), `error` ([`RecvError`]); each uses only files
//! further down this list: `listen`, `connection`, `websocket`, `lines`, `stream`, `error`
//! (`tls` stands alone). It depends only on `config` (the service kind) and `py` (the
//! number format of its one message).
//!
//! # What ElectrumX 1.20 does, and what this room does
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
//!   stays open. This room does the same: [`RecvError::TooLarge`] is returned as soon as a
//!   line exceeds `max_recv` bytes (without waiting for its end), then again for every further
//!   `max_recv` bytes discarded without a `\n`, and the line after the next `\n` is read
//!   normally. One deliberate difference: aiorpcX only checks the size when a chunk
//!   *without* a `\n` arrives, so a line slightly over the limit whose `\n` comes in the same
//!   socket read is accepted by it (how much over depends on the kernel's chunking); here the
//!   limit is exact: a line of more than `max_recv` bytes before its `\n` is always refused.
//! - Memory is bounded by `max_recv` plus one read buffer ([`READ_BUFFER_SIZE`]; 1 KiB,
//!   [`SMALL_READ_BUFFER_SIZE`], while the peer sends little), whatever
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
//! clients every 20 s. Neither is done here.
//!
//! **Listening** follows asyncio's `create_server`, which ElectrumX uses: every address the
//! host resolves to (all interfaces: `0.0.0.0` and `::`), `SO_REUSEADDR`, `IPV6_V6ONLY` on
//! IPv6 sockets, a backlog of 100, `TCP_NODELAY` on accepted sockets; an address whose family
//! the machine lacks (`EADDRNOTAVAIL`, or no socket of that family) is skipped, any other
//! bind error fails the whole service.

mod connection;
mod error;
mod lines;
mod listen;
mod stream;
mod tls;
mod websocket;

pub use connection::{Accepted, Connection, MessageReader, MessageWriter};
pub use error::RecvError;
pub use lines::{READ_BUFFER_SIZE, SMALL_READ_BUFFER_SIZE};
pub use listen::Listener;
pub use tls::{load_tls_config, TlsConfigError};
