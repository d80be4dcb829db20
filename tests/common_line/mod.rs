//! A blocking line-framed JSON-RPC client for the resource-limit tests: it can connect from
//! a chosen loopback source address (127.0.0.0/8 is all loopback on Linux, so clients on
//! different /24 subnets land in different session groups), read with a deadline, and tell
//! a closed connection from a silent one.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The bound on every wait for the server.
pub const WAIT: Duration = Duration::from_secs(30);

/// What a read gave.
#[derive(Debug)]
pub enum Read {
    Msg(Value),
    Closed,
    Timeout,
}

/// A JSON-RPC error: (code, message).
pub type RpcErr = (i64, String);

pub struct LineClient {
    w: TcpStream,
    r: BufReader<TcpStream>,
    partial: Vec<u8>,
    next_id: u64,
    /// Responses read while waiting for another id.
    stash: Vec<Value>,
    /// The client's own address.
    pub local: SocketAddr,
}

/// `127.0.0.1:port` from `src` (any 127.x.y.z).
pub fn connect_from(src: Ipv4Addr, port: u16) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stream = rt
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(IpAddr::V4(src), 0))?;
            socket
                .connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
                .await
        })
        .unwrap_or_else(|e| panic!("connect from {src} to port {port}: {e}"));
    let stream = stream.into_std().expect("std stream");
    stream.set_nonblocking(false).expect("blocking");
    stream
}

impl LineClient {
    /// Connects to the tcp service on `port` from `src`.
    pub fn from(src: Ipv4Addr, port: u16) -> LineClient {
        LineClient::new(connect_from(src, port))
    }

    pub fn new(stream: TcpStream) -> LineClient {
        stream.set_nodelay(true).expect("nodelay");
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        let local = stream.local_addr().expect("local addr");
        let r = BufReader::new(stream.try_clone().expect("clone"));
        LineClient {
            w: stream,
            r,
            partial: Vec::new(),
            next_id: 1,
            stash: Vec::new(),
            local,
        }
    }

    /// Sends a request; its id.
    pub fn send(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let mut line = msg.to_string().into_bytes();
        line.push(b'\n');
        self.w.write_all(&line).expect("write");
        id
    }

    /// The next message, waiting at most `timeout`.
    pub fn read(&mut self, timeout: Duration) -> Read {
        self.r
            .get_ref()
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .expect("timeout");
        let got = self.r.read_until(b'\n', &mut self.partial);
        match got {
            Ok(_) if self.partial.last() == Some(&b'\n') => {
                let line = std::mem::take(&mut self.partial);
                Read::Msg(serde_json::from_slice(&line).expect("JSON from the server"))
            }
            Ok(_) => Read::Closed,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Read::Timeout
            }
            Err(_) => Read::Closed,
        }
    }

    fn take_stashed(&mut self, id: u64) -> Option<Result<Value, RpcErr>> {
        let i = self.stash.iter().position(|m| m["id"] == json!(id))?;
        Some(outcome(&self.stash.swap_remove(i)))
    }

    /// The response to `id` (notifications skipped), `None` if none came within `timeout`
    /// or the connection closed first.
    pub fn try_response(&mut self, id: u64, timeout: Duration) -> Option<Result<Value, RpcErr>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.take_stashed(id) {
                return Some(r);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.read(left) {
                Read::Msg(m) if m.get("id").is_some_and(|i| !i.is_null()) => self.stash.push(m),
                Read::Msg(_) => {}
                Read::Closed | Read::Timeout => return None,
            }
        }
    }

    /// The response to `id`; panics if none within [`WAIT`].
    pub fn response(&mut self, id: u64) -> Result<Value, RpcErr> {
        self.try_response(id, WAIT)
            .unwrap_or_else(|| panic!("no response to request {id}"))
    }

    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, RpcErr> {
        let id = self.send(method, params);
        self.response(id)
    }

    /// A call and how long its answer took.
    pub fn timed_call(&mut self, method: &str, params: Value) -> (Result<Value, RpcErr>, Duration) {
        let t = Instant::now();
        let r = self.call(method, params);
        (r, t.elapsed())
    }

    /// `server.version` as `client`, protocol 1.4; panics unless accepted.
    pub fn version(&mut self, client: &str) {
        let v = self
            .call("server.version", json!([client, "1.4"]))
            .unwrap_or_else(|e| panic!("server.version as {client:?}: {e:?}"));
        assert_eq!(v[1], json!("1.4"));
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
                Read::Msg(m) => self.stash.push(m),
                Read::Closed => return true,
                Read::Timeout => return false,
            }
        }
    }
}

/// A response's result or error.
pub fn outcome(m: &Value) -> Result<Value, RpcErr> {
    match m.get("error") {
        Some(e) if !e.is_null() => Err((
            e["code"].as_i64().expect("code"),
            e["message"].as_str().expect("message").to_owned(),
        )),
        _ => Ok(m["result"].clone()),
    }
}

/// The median.
pub fn p50(samples: &[Duration]) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    s[s.len() / 2]
}
