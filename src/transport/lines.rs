//! Line framing (`tcp`, `ssl`, `rpc`) as aiorpcX's `NewlineFramer` does it: a message is the
//! bytes before a `\n`; oversized lines are dropped and the stream re-synchronised at the
//! next newline, memory bounded by MAX_RECV plus one read buffer (see the room's
//! documentation).

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};

use super::error::RecvError;
use super::stream::{ignore_not_connected, Counted, MaybeTls};

/// Most bytes read from a line-framed socket at a time; the memory a connection may use
/// beyond `max_recv`.
pub const READ_BUFFER_SIZE: usize = 16 * 1024;

/// The read buffer of a session that sends little (a wallet's requests are a few hundred
/// bytes): it grows to [`READ_BUFFER_SIZE`] only while reads fill it, and goes back to this
/// size once everything read has been taken, so an idle session holds 1 KiB, not 16.
pub const SMALL_READ_BUFFER_SIZE: usize = 1024;

/// A read half with its read buffer (sized as [`SMALL_READ_BUFFER_SIZE`] says).
struct Input {
    src: ReadHalf<MaybeTls>,
    /// Bytes read and not yet taken: `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    /// The last read filled the buffer (more is probably waiting: read in large pieces).
    filled: bool,
}

impl Input {
    /// The bytes read and not yet taken, reading more when there are none (an empty slice
    /// at EOF): [`SMALL_READ_BUFFER_SIZE`] at a time, [`READ_BUFFER_SIZE`] while the
    /// previous read filled the buffer.
    async fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.buf.len() {
            self.pos = 0;
            self.buf.clear();
            let want = if self.filled {
                READ_BUFFER_SIZE
            } else {
                SMALL_READ_BUFFER_SIZE
            };
            if self.buf.capacity() > want {
                self.buf.shrink_to(want);
            }
            self.buf.reserve_exact(want);
            let room = self.buf.capacity();
            let n = self.src.read_buf(&mut self.buf).await?;
            self.filled = n >= room;
        }
        Ok(&self.buf[self.pos..])
    }

    /// Takes `n` bytes of what [`Input::fill_buf`] returned.
    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

/// Newline framing over a byte stream, with aiorpcX's handling of oversized lines.
pub(super) struct LineReader {
    src: Input,
    /// The part of the current line received so far (never more than `limit` bytes).
    line: Vec<u8>,
    /// MAX_RECV; 0 for none.
    limit: usize,
    /// Skipping the rest of an oversized line.
    discarding: bool,
    /// Bytes skipped since the last [`RecvError::TooLarge`].
    discarded: usize,
    /// Bytes read from the stream so far.
    received: u64,
}

impl LineReader {
    pub(super) fn new(read: ReadHalf<MaybeTls>, limit: usize) -> LineReader {
        LineReader {
            src: Input {
                src: read,
                buf: Vec::new(),
                pos: 0,
                filled: false,
            },
            line: Vec::new(),
            limit,
            discarding: false,
            discarded: 0,
            received: 0,
        }
    }

    /// The read half (anything buffered and not returned is dropped).
    pub(super) fn into_inner(self) -> ReadHalf<MaybeTls> {
        self.src.src
    }

    /// MAX_RECV; 0 for none.
    pub(super) fn limit(&self) -> usize {
        self.limit
    }

    /// Every byte read from the (decrypted) stream so far, newlines and discarded bytes
    /// included.
    pub(super) fn received(&self) -> u64 {
        self.received
    }

    /// The next line (see [`MessageReader::recv`](super::MessageReader::recv)).
    pub(super) async fn recv(&mut self) -> Result<Option<Vec<u8>>, RecvError> {
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

/// The sending side of line framing.
pub(super) struct LineWriter(Counted<WriteHalf<MaybeTls>>);

impl LineWriter {
    pub(super) fn new(write: Counted<WriteHalf<MaybeTls>>) -> LineWriter {
        LineWriter(write)
    }

    /// The write half.
    pub(super) fn into_inner(self) -> WriteHalf<MaybeTls> {
        self.0.into_inner()
    }

    /// Sends one message and its `\n` (appended in place, no copy), then flushes.
    pub(super) async fn send(&mut self, mut msg: Vec<u8>) -> io::Result<()> {
        msg.push(b'\n');
        self.0.write_all(&msg).await?;
        self.0.flush().await
    }

    /// Shuts the sending direction down (TLS: after close_notify).
    pub(super) async fn close(&mut self) -> io::Result<()> {
        ignore_not_connected(self.0.shutdown().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::{TcpListener, TcpStream};

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
    async fn an_idle_reader_holds_a_small_buffer() {
        let (mut reader, mut peer) = line_pair(1_000_000).await;
        let big = vec![b'z'; 200_000];
        let sent = big.clone();
        let writer = tokio::spawn(async move {
            peer.write_all(&sent).await.expect("write");
            peer.write_all(b"\nok\n").await.expect("write");
            peer
        });
        assert_eq!(reader.recv().await.expect("recv"), Some(big));
        assert_eq!(reader.recv().await.expect("recv"), Some(b"ok".to_vec()));
        assert!(reader.src.buf.capacity() <= READ_BUFFER_SIZE);
        // Nothing more comes: the read waits with the small buffer.
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), reader.recv());
        assert!(waiting.await.is_err(), "nothing was sent");
        assert_eq!(reader.src.buf.capacity(), SMALL_READ_BUFFER_SIZE);
        let mut peer = writer.await.expect("writer");
        peer.write_all(b"next\n").await.expect("write");
        assert_eq!(reader.recv().await.expect("recv"), Some(b"next".to_vec()));
        assert_eq!(reader.received, 200_000 + 1 + 3 + 5);
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
