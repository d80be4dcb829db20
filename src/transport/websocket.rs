//! WebSocket framing (`ws`, `wss`) over tungstenite: one text or binary message is one
//! message; pings answered automatically; a close frame ends the stream; an oversized
//! message fails the connection (close code 1009), as the `websockets` library does (see the
//! room's documentation).

use std::future::poll_fn;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use tracing::debug;

use super::error::RecvError;
use super::stream::{ignore_not_connected, Counted, MaybeTls, SharedStream};

/// The initial read buffer of a websocket (tungstenite's default, 128 KiB, is allocated and
/// zeroed up front for every session; it grows when a frame needs more). 1 KiB as for line
/// framing (`lines.rs`): a wallet's requests are a few hundred bytes, and at 4 KiB the buffer
/// was 3 KiB of every idle ws session's 10 KiB (`benches/load.rs`, heap).
const WS_READ_BUFFER_SIZE: usize = 1024;

type Ws = WebSocketStream<Counted<SharedStream>>;

/// Completes the WebSocket handshake on `stream` (after TLS, for wss) with limits from
/// `max_recv`; bytes written are added to `written`.
///
/// # Errors
/// The handshake failed (I/O error, not a WebSocket upgrade request…).
pub(super) async fn accept(
    stream: MaybeTls,
    max_recv: usize,
    written: Arc<AtomicU64>,
) -> io::Result<(WsReader, WsWriter)> {
    let shared = SharedStream::new(stream);
    let counted = Counted::new(shared.clone(), written);
    let ws = tokio_tungstenite::accept_async_with_config(counted, Some(websocket_config(max_recv)))
        .await
        .map_err(ws_to_io)?;
    let (sink, stream) = ws.split();
    let too_large = Arc::new(AtomicBool::new(false));
    Ok((
        WsReader {
            stream,
            limit: max_recv,
            done: false,
            too_large: too_large.clone(),
            received: 0,
        },
        WsWriter {
            sink,
            shared,
            too_large,
        },
    ))
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

/// The receiving half of a WebSocket.
pub(super) struct WsReader {
    stream: SplitStream<Ws>,
    limit: usize,
    /// The stream has ended (close frame, EOF or an oversized message).
    done: bool,
    /// Shared with the writer: close with 1009 (message too big).
    too_large: Arc<AtomicBool>,
    /// Payload bytes of the text and binary messages received.
    received: u64,
}

impl WsReader {
    /// MAX_RECV; 0 for none.
    pub(super) fn limit(&self) -> usize {
        self.limit
    }

    /// The payload of the text and binary messages received so far (as aiorpcX counts them).
    pub(super) fn received(&self) -> u64 {
        self.received
    }

    /// The next message (see [`MessageReader::recv`](super::MessageReader::recv)).
    pub(super) async fn recv(&mut self) -> Result<Option<Vec<u8>>, RecvError> {
        loop {
            if self.done {
                return Ok(None);
            }
            let message = match self.stream.next().await {
                None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => {
                    self.done = true;
                    return Ok(None);
                }
                Some(Err(WsError::Capacity(e))) => {
                    debug!("websocket message too large: {e}");
                    self.done = true;
                    self.too_large.store(true, Ordering::Relaxed);
                    return Err(RecvError::TooLarge { limit: self.limit });
                }
                Some(Err(WsError::Io(e))) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.done = true;
                    return Ok(None);
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Err(RecvError::Io(ws_to_io(e)));
                }
                Some(Ok(message)) => message,
            };
            let bytes = match message {
                Message::Text(_) | Message::Binary(_) => Vec::from(message.into_data()),
                Message::Close(_) => {
                    self.done = true;
                    return Ok(None);
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            };
            self.received += bytes.len() as u64;
            return Ok(Some(bytes));
        }
    }
}

/// The sending half of a WebSocket.
pub(super) struct WsWriter {
    sink: SplitSink<Ws, Message>,
    /// The socket under the WebSocket, to shut it down after the close frame.
    shared: SharedStream,
    too_large: Arc<AtomicBool>,
}

impl WsWriter {
    /// Sends one message as a text frame, or a binary frame if it is not valid UTF-8 (as
    /// aiorpcX does); no copy.
    pub(super) async fn send(&mut self, msg: Vec<u8>) -> io::Result<()> {
        let message = match String::from_utf8(msg) {
            Ok(text) => Message::text(text),
            Err(e) => Message::binary(e.into_bytes()),
        };
        self.sink.send(message).await.map_err(ws_to_io)
    }

    /// See [`MaybeTls::reset_on_close`].
    pub(super) fn reset_on_close(&self) {
        self.shared.reset_on_close();
    }

    /// Sends the close frame (code 1009 when the reader refused an oversized message, none
    /// otherwise), then shuts the socket's sending direction down.
    pub(super) async fn close(&mut self) -> io::Result<()> {
        let mut result = Ok(());
        if self.too_large.load(Ordering::Relaxed) {
            let frame = CloseFrame {
                code: CloseCode::Size,
                reason: "message too big".into(),
            };
            result = self.sink.feed(Message::Close(Some(frame))).await;
        }
        if result.is_ok() {
            result = self.sink.close().await;
        }
        let shared = &self.shared;
        let shutdown = ignore_not_connected(poll_fn(|cx| shared.poll_shut(cx)).await);
        result.map_err(ws_to_io).and(shutdown)
    }
}
