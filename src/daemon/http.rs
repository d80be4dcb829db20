//! A minimal blocking HTTP/1.1 client for bitcoind: one keep-alive connection, requests
//! written whole, replies read into buffers in large reads (never byte by byte) and handed
//! on as one slice to parse.
//!
//! Every reply is bounded: in size (a caller's limit on the body, fixed limits on the status
//! line and headers), in time (each read waits at most the stall timeout, the whole reply at
//! most the reply deadline), and in shape (a body shorter than announced, a malformed chunk or
//! header is an [`HttpError`], and the connection is not used again).
//!
//! bitcoind (libevent's evhttp) answers with `Content-Length`; chunked bodies and bodies
//! ended by the connection closing are read too (a proxy may send them).

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Longest status or header line read.
const MAX_LINE: usize = 8 * 1024;
/// Most header lines read.
const MAX_HEADERS: usize = 100;
/// The read buffer: replies come in reads of up to this much.
const BUFFER: usize = 256 * 1024;
/// How much of a body is reserved before its bytes arrive (it grows as they do).
const INITIAL_RESERVE: usize = 16 << 20;

/// Why an exchange failed. The connection is not reused after any of them.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("no complete reply within {0:?}")]
    Deadline(Duration),
    #[error("reply body over the limit of {limit} bytes")]
    TooBig { limit: usize },
    #[error("reply ended after {got} of {expected} body bytes")]
    Truncated { got: usize, expected: usize },
    #[error("malformed HTTP reply: {0}")]
    Malformed(String),
}

/// A reply: status, `Content-Type` (if any) and the whole body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// A request to send: method, path, extra headers and body.
pub(crate) struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// `Authorization` header value, if any.
    pub auth: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
    /// Largest body accepted.
    pub max_body: usize,
}

/// Time limits of one exchange.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Longest wait for any one read, write or connect.
    pub stall: Duration,
    /// Longest time for a whole reply.
    pub reply: Duration,
}

/// One keep-alive connection.
pub(crate) struct Connection {
    reader: BufReader<TcpStream>,
    /// `host:port`, for the `Host` header.
    host: String,
    limits: Limits,
    /// Whether the previous exchange left the connection usable.
    reusable: bool,
}

impl Connection {
    /// Connects to `host:port`, trying each address it resolves to.
    pub(crate) fn connect(host: &str, port: u16, limits: Limits) -> Result<Connection, HttpError> {
        let addrs = (host, port)
            .to_socket_addrs()
            .map_err(|e| HttpError::Connect(format!("cannot resolve {host}: {e}")))?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, limits.stall) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_write_timeout(Some(limits.stall))?;
                    return Ok(Connection {
                        reader: BufReader::with_capacity(BUFFER, stream),
                        host: format!("{host}:{port}"),
                        limits,
                        reusable: true,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(HttpError::Connect(match last {
            Some(e) => e.to_string(),
            None => format!("{host} resolves to no address"),
        }))
    }

    /// Whether the connection may carry another exchange.
    pub(crate) fn is_reusable(&self) -> bool {
        self.reusable
    }

    /// Sends `req` and reads the whole reply.
    pub(crate) fn exchange(&mut self, req: &Request<'_>) -> Result<Reply, HttpError> {
        // Until the reply is read whole, the connection is in an unknown state.
        self.reusable = false;
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\n",
            req.method, req.path, self.host
        );
        if let Some(auth) = req.auth {
            head.push_str("Authorization: ");
            head.push_str(auth);
            head.push_str("\r\n");
        }
        if let Some(ct) = req.content_type {
            head.push_str("Content-Type: ");
            head.push_str(ct);
            head.push_str("\r\n");
        }
        if req.method != "GET" || !req.body.is_empty() {
            head.push_str(&format!("Content-Length: {}\r\n", req.body.len()));
        }
        head.push_str("\r\n");
        let stream = self.reader.get_mut();
        let mut out = Vec::with_capacity(head.len() + req.body.len());
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(req.body);
        stream.write_all(&out)?;
        stream.flush()?;
        let deadline = Instant::now() + self.limits.reply;
        let reply = self.read_reply(req.max_body, deadline, req.method == "HEAD")?;
        Ok(reply)
    }

    /// Sets the socket's read timeout to what is left of the stall and reply limits.
    fn arm(&mut self, deadline: Instant) -> Result<(), HttpError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HttpError::Deadline(self.limits.reply));
        }
        self.reader
            .get_ref()
            .set_read_timeout(Some(left.min(self.limits.stall)))?;
        Ok(())
    }

    /// Maps a timed-out read to a clear error.
    fn timed_out(&self, e: io::Error, deadline: Instant) -> HttpError {
        if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            if Instant::now() >= deadline {
                HttpError::Deadline(self.limits.reply)
            } else {
                HttpError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no data for {:?}", self.limits.stall),
                ))
            }
        } else {
            HttpError::Io(e)
        }
    }

    /// Waits (until `deadline`) for the reader's buffer to hold bytes, or for the end of the
    /// stream (an empty buffer); retries reads interrupted by a signal.
    fn fill(&mut self, deadline: Instant) -> Result<(), HttpError> {
        loop {
            self.arm(deadline)?;
            match self.reader.fill_buf() {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.timed_out(e, deadline)),
            }
        }
    }

    /// One CRLF- (or LF-) terminated line, without its terminator, at most [`MAX_LINE`].
    fn line(&mut self, deadline: Instant) -> Result<String, HttpError> {
        let mut line = Vec::new();
        loop {
            self.fill(deadline)?;
            let available = self.reader.buffer();
            if available.is_empty() {
                return Err(HttpError::Malformed(if line.is_empty() {
                    "connection closed before a reply".to_string()
                } else {
                    "connection closed inside the headers".to_string()
                }));
            }
            let (used, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    line.extend_from_slice(&available[..i]);
                    (i + 1, true)
                }
                None => {
                    line.extend_from_slice(available);
                    (available.len(), false)
                }
            };
            self.reader.consume(used);
            if line.len() > MAX_LINE {
                return Err(HttpError::Malformed(format!(
                    "header line over {MAX_LINE} bytes"
                )));
            }
            if done {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return String::from_utf8(line)
                    .map_err(|_| HttpError::Malformed("header line is not text".to_string()));
            }
        }
    }

    fn read_reply(
        &mut self,
        max_body: usize,
        deadline: Instant,
        head_only: bool,
    ) -> Result<Reply, HttpError> {
        let status_line = self.line(deadline)?;
        let (version, status) = parse_status(&status_line)?;
        let mut keep_alive = version == "HTTP/1.1";
        let mut length = None;
        let mut chunked = false;
        let mut content_type = None;
        let mut headers = 0;
        loop {
            let line = self.line(deadline)?;
            if line.is_empty() {
                break;
            }
            headers += 1;
            if headers > MAX_HEADERS {
                return Err(HttpError::Malformed(format!("over {MAX_HEADERS} headers")));
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(HttpError::Malformed(format!(
                    "header without a colon: {line:?}"
                )));
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                let n: u64 = value
                    .parse()
                    .map_err(|_| HttpError::Malformed(format!("Content-Length {value:?}")))?;
                length = Some(n);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.to_string());
            } else if name.eq_ignore_ascii_case("connection") {
                let v = value.to_ascii_lowercase();
                if v.contains("close") {
                    keep_alive = false;
                } else if v.contains("keep-alive") {
                    keep_alive = true;
                }
            }
        }
        let no_body = head_only || status == 204 || status == 304 || (100..200).contains(&status);
        let body = if no_body {
            Vec::new()
        } else if chunked {
            self.chunked(max_body, deadline)?
        } else if let Some(n) = length {
            let n = usize::try_from(n)
                .ok()
                .filter(|&n| n <= max_body)
                .ok_or(HttpError::TooBig { limit: max_body })?;
            self.body(n, deadline)?
        } else {
            // Ended by the connection closing.
            keep_alive = false;
            self.until_close(max_body, deadline)?
        };
        self.reusable = keep_alive;
        Ok(Reply {
            status,
            content_type,
            body,
        })
    }

    /// Appends exactly `n` bytes to `out`.
    fn read_into(
        &mut self,
        out: &mut Vec<u8>,
        n: usize,
        deadline: Instant,
    ) -> Result<(), HttpError> {
        let target = out.len() + n;
        let expected = n;
        let start = out.len();
        while out.len() < target {
            self.fill(deadline)?;
            let available = self.reader.buffer();
            if available.is_empty() {
                return Err(HttpError::Truncated {
                    got: out.len() - start,
                    expected,
                });
            }
            let take = available.len().min(target - out.len());
            out.extend_from_slice(&available[..take]);
            self.reader.consume(take);
        }
        Ok(())
    }

    fn body(&mut self, n: usize, deadline: Instant) -> Result<Vec<u8>, HttpError> {
        let mut out = Vec::with_capacity(n.min(INITIAL_RESERVE));
        self.read_into(&mut out, n, deadline)?;
        Ok(out)
    }

    fn chunked(&mut self, max_body: usize, deadline: Instant) -> Result<Vec<u8>, HttpError> {
        let mut out = Vec::new();
        loop {
            let line = self.line(deadline)?;
            let size = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| HttpError::Malformed(format!("chunk size {size:?}")))?;
            if size == 0 {
                break;
            }
            if size > max_body.saturating_sub(out.len()) {
                return Err(HttpError::TooBig { limit: max_body });
            }
            out.reserve(size.min(INITIAL_RESERVE));
            self.read_into(&mut out, size, deadline)?;
            if !self.line(deadline)?.is_empty() {
                return Err(HttpError::Malformed(
                    "chunk not followed by CRLF".to_string(),
                ));
            }
        }
        // Trailers, up to the blank line.
        for _ in 0..=MAX_HEADERS {
            if self.line(deadline)?.is_empty() {
                return Ok(out);
            }
        }
        Err(HttpError::Malformed(format!("over {MAX_HEADERS} trailers")))
    }

    fn until_close(&mut self, max_body: usize, deadline: Instant) -> Result<Vec<u8>, HttpError> {
        let mut out = Vec::new();
        loop {
            self.fill(deadline)?;
            let available = self.reader.buffer();
            if available.is_empty() {
                return Ok(out);
            }
            if available.len() > max_body - out.len() {
                return Err(HttpError::TooBig { limit: max_body });
            }
            out.extend_from_slice(available);
            let n = available.len();
            self.reader.consume(n);
        }
    }
}

/// `HTTP/1.1 200 OK` → (`HTTP/1.1`, 200).
fn parse_status(line: &str) -> Result<(&str, u16), HttpError> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed(format!("status line {line:?}")));
    }
    let status = code
        .parse::<u16>()
        .ok()
        .filter(|c| (100..1000).contains(c))
        .ok_or_else(|| HttpError::Malformed(format!("status line {line:?}")))?;
    Ok((version, status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;
    use std::thread;

    /// A one-shot server answering `reply` to the first request, closing 300 ms later.
    fn serve(reply: &'static [u8]) -> u16 {
        serve_for(reply, Duration::from_millis(300))
    }

    /// As [`serve`], closing `hold` after answering.
    fn serve_for(reply: &'static [u8], hold: Duration) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply);
            thread::sleep(hold);
        });
        port
    }

    fn get(port: u16, max_body: usize) -> Result<Reply, HttpError> {
        let limits = Limits {
            stall: Duration::from_millis(200),
            reply: Duration::from_secs(2),
        };
        let mut c = Connection::connect("127.0.0.1", port, limits)?;
        c.exchange(&Request {
            method: "GET",
            path: "/",
            auth: None,
            content_type: None,
            body: b"",
            max_body,
        })
    }

    #[test]
    fn replies_and_their_bounds() {
        let r = get(
            serve(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"),
            10,
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abc"[..]));
        let chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n";
        let r = get(serve(chunked), 10).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"abc"[..]));
        let r = get(serve_for(b"HTTP/1.0 200 OK\r\n\r\nxyz", Duration::ZERO), 10).unwrap();
        assert_eq!(r.body, b"xyz");
        let big = get(serve(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"), 10);
        assert!(
            matches!(big, Err(HttpError::TooBig { limit: 10 })),
            "{big:?}"
        );
        let big = get(serve(chunked), 2);
        assert!(
            matches!(big, Err(HttpError::TooBig { limit: 2 })),
            "{big:?}"
        );
        // A body shorter than announced, then the stall timeout while the server holds on.
        let short = get(
            serve(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"),
            10,
        );
        assert!(matches!(short, Err(HttpError::Io(_))), "{short:?}");
        let cut = serve_for(
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc",
            Duration::ZERO,
        );
        let cut = get(cut, 10);
        assert!(
            matches!(
                cut,
                Err(HttpError::Truncated {
                    got: 3,
                    expected: 9
                })
            ),
            "{cut:?}"
        );
        let bad = get(serve(b"SMTP ready\r\n\r\n"), 10);
        assert!(matches!(bad, Err(HttpError::Malformed(_))), "{bad:?}");
    }
}
