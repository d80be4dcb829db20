//! HTTP/1.x framing the way libevent's `evhttp` (Bitcoin Core's HTTP server) does it.
//!
//! Only what a JSON-RPC client can observe is reproduced: the 8 KiB limit on the request line
//! plus headers and the 32 MiB limit on the body (Core's `MAX_HEADERS_SIZE` and `MAX_SIZE`),
//! chunked request bodies, `Expect: 100-continue`, the 30 s idle timeout after which the
//! connection is dropped without a reply, the order and spelling of the reply headers, and the
//! keep-alive rules of HTTP/1.0 and 1.1. Malformed requests get libevent's HTML error page and
//! the connection is closed.

use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Request line plus headers, in bytes (Core's `MAX_HEADERS_SIZE`).
const MAX_HEADERS_SIZE: usize = 8192;
/// Largest request body (Core's `MAX_SIZE`, 32 MiB).
const MAX_BODY_SIZE: u64 = 0x0200_0000;
/// Core's `-rpcservertimeout` default: a connection silent this long is dropped.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// What libevent labels a reply with when the server set no `Content-Type`.
const DEFAULT_CONTENT_TYPE: &str = "text/html; charset=ISO-8859-1";

/// Request methods libevent parses; anything else is `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Head,
    Put,
    Delete,
    Options,
    Trace,
    Connect,
    Patch,
    Unknown,
}

impl Method {
    fn parse(token: &[u8]) -> Method {
        match token {
            b"GET" => Method::Get,
            b"POST" => Method::Post,
            b"HEAD" => Method::Head,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"CONNECT" => Method::Connect,
            b"PATCH" => Method::Patch,
            _ => Method::Unknown,
        }
    }

    /// libevent reads a body only for these.
    fn may_have_body(self) -> bool {
        !matches!(self, Method::Head | Method::Trace | Method::Unknown)
    }

    /// libevent's default `allowed_methods` (Core does not change them); others get 501.
    pub(crate) fn allowed(self) -> bool {
        matches!(
            self,
            Method::Get | Method::Post | Method::Head | Method::Put | Method::Delete
        )
    }
}

/// A parsed request.
#[derive(Debug)]
pub(crate) struct Request {
    pub method: Method,
    /// The request target exactly as sent (Core matches paths on it, query string included).
    pub uri: String,
    pub major: u8,
    pub minor: u8,
    /// In arrival order; names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// First header of that name, compared case-insensitively (`evhttp_find_header`).
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    /// What the reply's framing depends on, kept once the body has been handed on.
    pub fn meta(&self) -> Meta {
        Meta {
            major: self.major,
            minor: self.minor,
            head: self.method == Method::Head,
            keep_alive: is_keep_alive(&self.headers),
            close: is_close(&self.headers),
        }
    }
}

/// The parts of a request that shape the reply's status line and headers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta {
    major: u8,
    minor: u8,
    head: bool,
    /// `Connection: keep-alive` was sent.
    keep_alive: bool,
    /// `Connection: close` was sent.
    close: bool,
}

/// What reading the next request gave.
pub(crate) enum Incoming {
    Request(Request),
    /// Clean end, I/O error or timeout: libevent drops the connection without a reply.
    Gone,
    /// libevent answers with an HTML error page (400, 413 or 417), then closes.
    Fail {
        status: u16,
        meta: Meta,
    },
}

/// A reply as Core hands it to `evhttp_send_reply`: status, the headers Core set itself, body.
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// One client connection with its read buffer.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
}

enum LineError {
    Gone,
    TooLong,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            buf: Vec::new(),
            start: 0,
        }
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Reads more bytes; `false` on end of stream, error or timeout.
    async fn fill(&mut self) -> bool {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let mut chunk = [0u8; 16 * 1024];
        match tokio::time::timeout(IO_TIMEOUT, self.stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            _ => false,
        }
    }

    /// One line ended by LF or CRLF, without its end (`EVBUFFER_EOL_CRLF`), at most `budget` bytes.
    async fn read_line(&mut self, budget: usize) -> Result<Vec<u8>, LineError> {
        loop {
            if let Some(i) = self.buffered().iter().position(|&b| b == b'\n') {
                let mut line = self.buffered()[..i].to_vec();
                self.start += i + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return if line.len() > budget {
                    Err(LineError::TooLong)
                } else {
                    Ok(line)
                };
            }
            if self.buffered().len() > budget {
                return Err(LineError::TooLong);
            }
            if !self.fill().await {
                return Err(LineError::Gone);
            }
        }
    }

    async fn read_exact(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.buffered().len() < n {
            if !self.fill().await {
                return None;
            }
        }
        let out = self.buffered()[..n].to_vec();
        self.start += n;
        Some(out)
    }

    /// Writes all of `bytes`; `false` if the peer is gone or too slow.
    pub async fn write_all(&mut self, bytes: &[u8]) -> bool {
        matches!(
            tokio::time::timeout(IO_TIMEOUT, self.stream.write_all(bytes)).await,
            Ok(Ok(()))
        )
    }

    /// Closes our side after the last reply, then reads what the client still sends for a
    /// moment, so that unread input does not turn the close into a reset that could destroy
    /// the reply before the client has read it.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(IO_TIMEOUT, self.stream.shutdown()).await;
        let drain = async {
            let mut chunk = [0u8; 16 * 1024];
            let mut left = 1usize << 20;
            while left > 0 {
                match self.stream.read(&mut chunk).await {
                    Ok(n) if n > 0 => left = left.saturating_sub(n),
                    _ => break,
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
    }

    /// Reads the next request: request line, headers, then the body.
    pub async fn read_request(&mut self) -> Incoming {
        let fail = |status: u16, req: &Request| Incoming::Fail {
            status,
            meta: req.meta(),
        };
        let mut req = Request {
            method: Method::Unknown,
            uri: String::new(),
            major: 0,
            minor: 0,
            headers: Vec::new(),
            body: Vec::new(),
        };
        let line = match self.read_line(MAX_HEADERS_SIZE).await {
            Ok(line) => line,
            Err(LineError::Gone) => return Incoming::Gone,
            Err(LineError::TooLong) => return fail(400, &req),
        };
        if !parse_request_line(&line, &mut req) {
            return fail(400, &req);
        }
        let mut size = line.len();
        loop {
            let line = match self.read_line(MAX_HEADERS_SIZE.saturating_sub(size)).await {
                Ok(line) => line,
                Err(LineError::Gone) => return Incoming::Gone,
                Err(LineError::TooLong) => return fail(400, &req),
            };
            size += line.len();
            if line.is_empty() {
                break;
            }
            if !add_header_line(&mut req.headers, &line) {
                return fail(400, &req);
            }
        }
        if !req.method.may_have_body() {
            return Incoming::Request(req);
        }
        let chunked = req
            .header("Transfer-Encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let length = if chunked {
            None
        } else {
            match content_length(&req) {
                Err(()) => return fail(400, &req),
                Ok(0) => return Incoming::Request(req),
                Ok(n) => Some(n),
            }
        };
        if (req.major, req.minor) >= (1, 1) {
            if let Some(expect) = req.header("Expect") {
                if !expect.eq_ignore_ascii_case("100-continue") {
                    return fail(417, &req);
                }
                if length.is_some_and(|n| n > MAX_BODY_SIZE) {
                    return fail(413, &req);
                }
                if self.buffered().is_empty() {
                    let line = format!("HTTP/{}.{} 100 Continue\r\n\r\n", req.major, req.minor);
                    if !self.write_all(line.as_bytes()).await {
                        return Incoming::Gone;
                    }
                }
            }
        }
        match length {
            Some(n) if n > MAX_BODY_SIZE => fail(413, &req),
            Some(n) => match self.read_exact(n as usize).await {
                Some(body) => {
                    req.body = body;
                    Incoming::Request(req)
                }
                None => Incoming::Gone,
            },
            None => match self.read_chunked(&mut req, size).await {
                Ok(()) => Incoming::Request(req),
                Err(None) => Incoming::Gone,
                // libevent reports every chunk error as "data too long".
                Err(Some(())) => fail(413, &req),
            },
        }
    }

    /// A chunked body and its trailer; `Err(Some)` for malformed or too large, `Err(None)` if gone.
    async fn read_chunked(&mut self, req: &mut Request, mut size: usize) -> Result<(), Option<()>> {
        let gone = |e: LineError| match e {
            LineError::Gone => None,
            LineError::TooLong => Some(()),
        };
        loop {
            let line = self.read_line(MAX_HEADERS_SIZE).await.map_err(gone)?;
            if line.is_empty() {
                continue; // the CRLF that ends the previous chunk
            }
            let n = chunk_size(&line).ok_or(Some(()))?;
            if n == 0 {
                break;
            }
            if (req.body.len() as u64).saturating_add(n) > MAX_BODY_SIZE {
                return Err(Some(()));
            }
            let data = self.read_exact(n as usize).await.ok_or(None)?;
            req.body.extend_from_slice(&data);
        }
        loop {
            let line = self
                .read_line(MAX_HEADERS_SIZE.saturating_sub(size))
                .await
                .map_err(gone)?;
            size += line.len();
            if line.is_empty() {
                return Ok(());
            }
            if !add_header_line(&mut req.headers, &line) {
                return Err(Some(()));
            }
        }
    }
}

/// `METHOD SP URI SP HTTP/x.y`, trailing spaces ignored, the URI running to the last space.
fn parse_request_line(line: &[u8], req: &mut Request) -> bool {
    let end = line.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    let line = &line[..end];
    if line.len() < b"GET / HTTP/1.0".len() {
        return false;
    }
    let Some(sp) = line.iter().position(|&b| b == b' ') else {
        return false;
    };
    let (method, rest) = (&line[..sp], &line[sp + 1..]);
    let Some(last) = rest.iter().rposition(|&b| b == b' ') else {
        return false;
    };
    if last == 0 {
        return false;
    }
    let Some((major, minor)) = parse_version(&rest[last + 1..]) else {
        return false;
    };
    req.method = Method::parse(method);
    req.uri = String::from_utf8_lossy(&rest[..last]).into_owned();
    req.major = major;
    req.minor = minor;
    true
}

/// `HTTP/<major>.<minor>` with nothing after; major at most 1.
fn parse_version(v: &[u8]) -> Option<(u8, u8)> {
    let v = std::str::from_utf8(v.strip_prefix(b"HTTP/")?).ok()?;
    let (major, minor) = v.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(major) || !digits(minor) {
        return None;
    }
    let major: u32 = major.parse().ok()?;
    let minor: u32 = minor.parse().ok()?;
    if major > 1 {
        return None;
    }
    Some((major as u8, minor.min(255) as u8))
}

/// `Name: value` (or a continuation line) as `evhttp_parse_headers_` takes it.
fn add_header_line(headers: &mut Vec<(String, String)>, line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    let trim_end = |s: &str| s.trim_end_matches([' ', '\t', '\r', '\n']).to_string();
    if text.starts_with([' ', '\t']) {
        let Some((_, value)) = headers.last_mut() else {
            return false;
        };
        value.push(' ');
        value.push_str(&trim_end(text.trim_start_matches([' ', '\t'])));
        return true;
    }
    let Some((name, value)) = text.split_once(':') else {
        return false;
    };
    headers.push((name.to_string(), trim_end(value.trim_start_matches(' '))));
    true
}

/// The body length from `Content-Length`; an absent header means no body.
fn content_length(req: &Request) -> Result<u64, ()> {
    let Some(v) = req.header("Content-Length") else {
        return Ok(0);
    };
    let v = v.trim_start();
    let digits = v.strip_prefix('+').unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    // Like strtoll, an overlong number saturates (and then exceeds the body limit).
    Ok(digits.parse::<u64>().unwrap_or(u64::MAX))
}

/// A chunk-size line: hex digits, optionally followed by a space and anything.
fn chunk_size(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?.trim_start();
    let text = text.strip_prefix('+').unwrap_or(text);
    let text = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let end = text
        .bytes()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(text.len());
    if end == 0 || !(end == text.len() || text.as_bytes()[end] == b' ') {
        return None;
    }
    u64::from_str_radix(&text[..end], 16).ok()
}

fn find<'a, K: AsRef<str>>(headers: &'a [(K, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn is_keep_alive(headers: &[(String, String)]) -> bool {
    find(headers, "Connection")
        .is_some_and(|v| v.len() >= 10 && v.as_bytes()[..10].eq_ignore_ascii_case(b"keep-alive"))
}

fn is_close(headers: &[(String, String)]) -> bool {
    find(headers, "Connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
}

/// libevent's reason phrases for the codes this server sends.
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Request Entity Too Large",
        417 => "Expectation Failed",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown Status",
    }
}

/// Serialises a reply as `evhttp_send_reply` does; also says whether to close afterwards.
pub(crate) fn encode_reply(meta: Meta, reply: Reply) -> (Vec<u8>, bool) {
    let headers = reply
        .headers
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    encode(meta, reply.status, headers, reply.body)
}

/// libevent's own error page (`evhttp_send_error`); the connection is always closed after it.
pub(crate) fn encode_error_page(meta: Meta, status: u16) -> Vec<u8> {
    let phrase = reason(status);
    let body = format!(
        "<HTML><HEAD>\n<TITLE>{status} {phrase}</TITLE>\n</HEAD><BODY>\n<H1>{phrase}</H1>\n</BODY></HTML>\n"
    );
    let headers = vec![
        ("Content-Type".to_string(), "text/html".to_string()),
        ("Connection".to_string(), "close".to_string()),
    ];
    // The page is always sent as HTTP/1.1 (libevent bumps 1.0 and unparsed requests).
    let meta = Meta {
        major: 1,
        minor: meta.minor.max(1),
        ..meta
    };
    encode(meta, status, headers, body.into_bytes()).0
}

/// `evhttp_make_header_response`: the headers libevent adds, in the order it adds them.
fn encode(
    meta: Meta,
    status: u16,
    mut headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> (Vec<u8>, bool) {
    let needs_body = status != 204 && status != 304 && !(100..200).contains(&status) && !meta.head;
    let add = |headers: &mut Vec<(String, String)>, k: &str, v: String| {
        headers.push((k.to_string(), v));
    };
    if meta.major == 1 {
        if meta.minor >= 1 && find(&headers, "Date").is_none() {
            add(
                &mut headers,
                "Date",
                httpdate::fmt_http_date(SystemTime::now()),
            );
        }
        if meta.minor == 0 && meta.keep_alive {
            add(&mut headers, "Connection", "keep-alive".to_string());
        }
        if (meta.minor >= 1 || meta.keep_alive)
            && needs_body
            && find(&headers, "Transfer-Encoding").is_none()
            && find(&headers, "Content-Length").is_none()
        {
            add(&mut headers, "Content-Length", body.len().to_string());
        }
    }
    if needs_body && find(&headers, "Content-Type").is_none() {
        add(
            &mut headers,
            "Content-Type",
            DEFAULT_CONTENT_TYPE.to_string(),
        );
    }
    if meta.close {
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case("Connection"));
        add(&mut headers, "Connection", "close".to_string());
    }
    let close = ((meta.major, meta.minor) < (1, 1) && !meta.keep_alive)
        || meta.close
        || find(&headers, "Connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    let mut out = format!(
        "HTTP/{}.{} {} {}\r\n",
        meta.major,
        meta.minor,
        status,
        reason(status)
    );
    for (k, v) in &headers {
        out.push_str(k);
        out.push_str(": ");
        out.push_str(v);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    // As libevent, the body goes out even for HEAD (it only leaves out Content-Length).
    bytes.extend_from_slice(&body);
    (bytes, close)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(line: &str) -> Option<Request> {
        let mut r = Request {
            method: Method::Unknown,
            uri: String::new(),
            major: 0,
            minor: 0,
            headers: Vec::new(),
            body: Vec::new(),
        };
        parse_request_line(line.as_bytes(), &mut r).then_some(r)
    }

    #[test]
    fn request_lines() {
        let r = req("POST /wallet/a b HTTP/1.1  ").unwrap();
        assert_eq!(
            (r.method, r.uri.as_str(), r.major, r.minor),
            (Method::Post, "/wallet/a b", 1, 1)
        );
        assert!(req("GET / HTTP/2.0").is_none());
        assert!(req("GET /index.htmlHTTP/1.1").is_none());
        assert_eq!(req("GET   HTTP/1.1").unwrap().uri, " ");
        assert!(req("GET /").is_none());
        assert!(req("GET / HTTP/1.1x").is_none());
        assert_eq!(req("FETCH / HTTP/1.0").unwrap().method, Method::Unknown);
    }

    #[test]
    fn headers_and_sizes() {
        let mut h = Vec::new();
        assert!(add_header_line(&mut h, b"Content-Length:   12 \t"));
        assert!(add_header_line(&mut h, b"\t more"));
        assert_eq!(h[0], ("Content-Length".into(), "12 more".into()));
        assert!(!add_header_line(&mut h, b"no colon"));
        assert_eq!(chunk_size(b"1a"), Some(26));
        assert_eq!(chunk_size(b"0x10 ext"), Some(16));
        assert_eq!(chunk_size(b"10;ext"), None);
        assert_eq!(chunk_size(b"zz"), None);
    }

    #[test]
    fn reply_headers_follow_libevent() {
        let meta = |minor, keep_alive, close| Meta {
            major: 1,
            minor,
            head: false,
            keep_alive,
            close,
        };
        let reply = |status| Reply {
            status,
            headers: vec![("WWW-Authenticate", "Basic realm=\"jsonrpc\"".into())],
            body: Vec::new(),
        };
        let (bytes, close) = encode_reply(meta(1, false, false), reply(401));
        let text = String::from_utf8(bytes).unwrap();
        let names: Vec<&str> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split(':').next())
            .collect();
        assert_eq!(
            names,
            [
                "WWW-Authenticate",
                "Date",
                "Content-Length",
                "Content-Type",
                ""
            ]
        );
        assert!(!close);
        let (bytes, close) = encode_reply(meta(0, false, false), reply(200));
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.0 200 OK\r\nWWW-Authenticate"));
        assert!(!text.contains("Date") && !text.contains("Content-Length") && close);
        let (bytes, close) = encode_reply(meta(1, false, true), reply(204));
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.ends_with("Connection: close\r\n\r\n") && close);
        assert!(!text.contains("Content-Type"));
    }
}
