//! One blocking Electrum (JSON-RPC) client for every transport: tcp (from any loopback source
//! address), ssl, ws and wss. Requests and their responses are matched by id; notifications
//! that arrive meanwhile are kept apart ([`Client::notification`]); every read has a
//! deadline, and a closed connection is told from a silent one.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::net::{connect_from, WAIT};
use crate::tls;

/// A JSON-RPC error: (code, message).
pub type RpcErr = (i64, String);

/// What one read gave.
#[derive(Debug)]
pub enum Received {
    Msg(Value),
    Closed,
    Timeout,
}

/// A response's result or error. An `error` member, if present, must be a JSON-RPC error
/// object (code and message).
pub fn outcome(m: &Value) -> Result<Value, RpcErr> {
    match m.get("error") {
        Some(e) => Err((
            e["code"].as_i64().expect("code"),
            e["message"].as_str().expect("message").to_owned(),
        )),
        None => Ok(m["result"].clone()),
    }
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// What the WebSocket client runs over (a TcpStream or a TLS stream).
pub trait ReadWrite: std::io::Read + std::io::Write + Send {}
impl<T: std::io::Read + std::io::Write + Send> ReadWrite for T {}

enum Conn {
    Tcp(BufReader<TcpStream>),
    Tls(Box<BufReader<TlsStream>>),
    Ws(Box<tungstenite::WebSocket<Box<dyn ReadWrite>>>),
}

enum Recv {
    Msg(String),
    Closed,
    Timeout,
}

/// A blocking Electrum client; see the module documentation.
pub struct Client {
    conn: Conn,
    /// The socket (a clone), to set read timeouts whatever the transport.
    sock: TcpStream,
    /// A line read in part before a timeout.
    partial: Vec<u8>,
    next_id: u64,
    /// Notifications received and not yet taken: (method, params).
    pub notifications: VecDeque<(String, Value)>,
    /// Responses read while waiting for another id.
    responses: Vec<Value>,
    /// The client's own address (as the server sees it).
    pub local: SocketAddr,
}

fn stream(s: TcpStream) -> TcpStream {
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    s.set_nodelay(true).expect("nodelay");
    s
}

fn connect(port: u16) -> TcpStream {
    stream(TcpStream::connect(("127.0.0.1", port)).expect("connect"))
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Reads up to a newline into `partial` (kept across timeouts).
fn read_line(r: &mut impl BufRead, partial: &mut Vec<u8>) -> Recv {
    match r.read_until(b'\n', partial) {
        Ok(_) if partial.last() == Some(&b'\n') => {
            partial.pop();
            let line = String::from_utf8(std::mem::take(partial)).expect("utf-8");
            Recv::Msg(line)
        }
        Ok(_) => Recv::Closed,
        Err(e) if is_timeout(&e) => Recv::Timeout,
        Err(_) => Recv::Closed,
    }
}

impl Client {
    /// The tcp service on `port` of 127.0.0.1.
    pub fn tcp(port: u16) -> Client {
        Client::over_tcp(connect(port))
    }

    /// The tcp service on `port` of 127.0.0.1, connecting from `src` (any 127.x.y.z).
    pub fn tcp_from(src: Ipv4Addr, port: u16) -> Client {
        Client::over_tcp(stream(connect_from(src, port)))
    }

    fn over_tcp(s: TcpStream) -> Client {
        let sock = s.try_clone().expect("clone");
        Client::new(Conn::Tcp(BufReader::new(s)), sock)
    }

    /// The ssl service on `port`, trusting `cert` (DER) only.
    pub fn ssl(port: u16, cert: &[u8]) -> Client {
        let s = connect(port);
        let sock = s.try_clone().expect("clone");
        let tls = rustls::StreamOwned::new(tls::client_connection(cert), s);
        Client::new(Conn::Tls(Box::new(BufReader::new(tls))), sock)
    }

    /// The ws service on `port`, or wss when `cert` is given.
    pub fn ws(port: u16, cert: Option<&[u8]>) -> Client {
        let tcp = connect(port);
        let sock = tcp.try_clone().expect("clone");
        let (io, scheme): (Box<dyn ReadWrite>, &str) = match cert {
            Some(c) => (
                Box::new(rustls::StreamOwned::new(tls::client_connection(c), tcp)),
                "wss",
            ),
            None => (Box::new(tcp), "ws"),
        };
        let url = format!("{scheme}://localhost:{port}/");
        let (ws, _) = tungstenite::client::client(url, io).expect("websocket handshake");
        Client::new(Conn::Ws(Box::new(ws)), sock)
    }

    fn new(conn: Conn, sock: TcpStream) -> Client {
        let local = sock.local_addr().expect("local addr");
        Client {
            conn,
            sock,
            partial: Vec::new(),
            next_id: 1,
            notifications: VecDeque::new(),
            responses: Vec::new(),
            local,
        }
    }

    /// Sends one raw message (a newline is added on line transports).
    pub fn send_raw(&mut self, text: &str) {
        match &mut self.conn {
            Conn::Tcp(r) => {
                let mut line = Vec::with_capacity(text.len() + 1);
                line.extend_from_slice(text.as_bytes());
                line.push(b'\n');
                r.get_mut().write_all(&line).expect("write");
            }
            Conn::Tls(r) => {
                let s = r.get_mut();
                s.write_all(text.as_bytes()).expect("write");
                s.write_all(b"\n").expect("write");
                s.flush().expect("flush");
            }
            Conn::Ws(ws) => ws.send(Message::text(text)).expect("ws send"),
        }
    }

    fn read_message(&mut self) -> Recv {
        match &mut self.conn {
            Conn::Tcp(r) => read_line(r, &mut self.partial),
            Conn::Tls(r) => read_line(r.as_mut(), &mut self.partial),
            Conn::Ws(ws) => loop {
                match ws.read() {
                    Ok(Message::Text(t)) => return Recv::Msg(t.to_string()),
                    Ok(Message::Binary(b)) => {
                        return Recv::Msg(String::from_utf8(b.to_vec()).expect("utf-8"))
                    }
                    Ok(Message::Close(_)) => return Recv::Closed,
                    Ok(_) => continue,
                    Err(tungstenite::Error::Io(e)) if is_timeout(&e) => return Recv::Timeout,
                    Err(_) => return Recv::Closed,
                }
            },
        }
    }

    fn set_timeout(&mut self, t: Duration) {
        self.sock
            .set_read_timeout(Some(t.max(Duration::from_millis(1))))
            .expect("timeout");
    }

    /// The next message, or `None` when the server closed the connection. Panics after
    /// [`WAIT`].
    pub fn recv_raw(&mut self) -> Option<String> {
        match self.read_message() {
            Recv::Msg(m) => Some(m),
            Recv::Closed => None,
            Recv::Timeout => panic!("no message from the server within the read timeout"),
        }
    }

    /// The next JSON message (notification or response), `None` at close. Panics after
    /// [`WAIT`] or on a message that is not JSON.
    pub fn recv(&mut self) -> Option<Value> {
        let text = self.recv_raw()?;
        Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON {text:?}: {e}")))
    }

    /// The next message (not kept: the caller has it), waiting at most `timeout`.
    pub fn read(&mut self, timeout: Duration) -> Received {
        self.set_timeout(timeout);
        let got = self.read_message();
        self.set_timeout(WAIT);
        match got {
            Recv::Msg(text) => Received::Msg(
                serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("bad JSON from the server {text:?}: {e}")),
            ),
            Recv::Closed => Received::Closed,
            Recv::Timeout => Received::Timeout,
        }
    }

    fn stash(&mut self, m: Value) {
        if m.get("id").is_some_and(|id| !id.is_null()) {
            self.responses.push(m);
        } else {
            let method = m["method"].as_str().unwrap_or_default().to_string();
            self.notifications.push_back((method, m["params"].clone()));
        }
    }

    fn take_response(&mut self, id: u64) -> Option<Value> {
        let i = self.responses.iter().position(|m| m["id"] == json!(id))?;
        Some(self.responses.swap_remove(i))
    }

    /// Sends a request (JSON-RPC 2.0, the next id); its id.
    pub fn request(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_raw(&msg.to_string());
        id
    }

    /// The whole response message with `id` (notifications read meanwhile are kept). Panics
    /// if the connection closes first, or after [`WAIT`] without a message.
    pub fn response_message(&mut self, id: u64) -> Value {
        loop {
            if let Some(m) = self.take_response(id) {
                return m;
            }
            let m = self
                .recv()
                .unwrap_or_else(|| panic!("connection closed waiting for response {id}"));
            self.stash(m);
        }
    }

    /// The response with `id`: its result or error.
    pub fn response(&mut self, id: u64) -> Result<Value, RpcErr> {
        outcome(&self.response_message(id))
    }

    /// The response to `id`, `None` if none came within `timeout` or the connection closed
    /// first.
    pub fn try_response(&mut self, id: u64, timeout: Duration) -> Option<Result<Value, RpcErr>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(m) = self.take_response(id) {
                return Some(outcome(&m));
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.read(left) {
                Received::Msg(m) => self.stash(m),
                Received::Closed | Received::Timeout => return None,
            }
        }
    }

    /// One request, waited for.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, RpcErr> {
        let id = self.request(method, params);
        self.response(id)
    }

    /// A call and how long its answer took.
    pub fn timed_call(&mut self, method: &str, params: Value) -> (Result<Value, RpcErr>, Duration) {
        let t = Instant::now();
        let r = self.call(method, params);
        (r, t.elapsed())
    }

    /// Many requests pipelined at once; their results in order.
    pub fn call_many(&mut self, calls: &[(&str, Value)]) -> Vec<Result<Value, RpcErr>> {
        let ids: Vec<u64> = calls
            .iter()
            .map(|(m, p)| self.request(m, p.clone()))
            .collect();
        ids.into_iter().map(|id| self.response(id)).collect()
    }

    /// Many requests pipelined in chunks of 400 (so that neither side's socket buffers fill
    /// while the other waits); their whole response messages in order.
    pub fn pipelined_messages(&mut self, calls: &[(&str, Value)]) -> Vec<Value> {
        let mut out = Vec::with_capacity(calls.len());
        for chunk in calls.chunks(400) {
            let ids: Vec<u64> = chunk
                .iter()
                .map(|(m, p)| self.request(m, p.clone()))
                .collect();
            out.extend(ids.into_iter().map(|id| self.response_message(id)));
        }
        out
    }

    /// [`Client::pipelined_messages`]' results.
    pub fn pipelined(&mut self, calls: &[(&str, Value)]) -> Vec<Result<Value, RpcErr>> {
        self.pipelined_messages(calls).iter().map(outcome).collect()
    }

    /// `server.version` as `client` asking `version` (e.g. "1.4", "1.6"); panics unless
    /// exactly that version is agreed.
    pub fn negotiate(&mut self, client: &str, version: &str) {
        let v = self
            .call("server.version", json!([client, version]))
            .unwrap_or_else(|e| panic!("server.version as {client:?}: {e:?}"));
        assert_eq!(v[1], json!(version), "negotiated {v}");
    }

    /// `server.version` as `client`, protocol 1.4; panics unless accepted.
    pub fn version(&mut self, client: &str) {
        self.negotiate(client, "1.4");
    }

    /// The next notification, waiting at most `timeout`; `None` if none came.
    pub fn notification(&mut self, timeout: Duration) -> Option<(String, Value)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(n) = self.notifications.pop_front() {
                return Some(n);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.read(left) {
                Received::Msg(m) => self.stash(m),
                Received::Closed | Received::Timeout => return None,
            }
        }
    }

    /// Whether the server has closed the connection: reads (keeping what comes) until EOF;
    /// panics after [`WAIT`] without a message.
    pub fn closed(&mut self) -> bool {
        loop {
            match self.recv() {
                None => return true,
                Some(m) => self.stash(m),
            }
        }
    }

    /// Whether the server closes the connection within `timeout` (messages read meanwhile
    /// are kept).
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            match self.read(left) {
                Received::Msg(m) => self.stash(m),
                Received::Closed => return true,
                Received::Timeout => return false,
            }
        }
    }
}
