//! Harness of the Electrum protocol tests: the stand-in serving a chain, the real
//! `ferrumx_server` listening on tcp, ssl, ws and wss (a fresh self-signed certificate), and
//! a blocking JSON-RPC client for each transport that keeps notifications apart from
//! responses.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use ferrumx_simnode::{Node, ScriptHash, SimNode, SimNodeOptions};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::common_server::{start_on_free_ports, Server, ServerEnv, TempDir};

#[path = "../common_tls/mod.rs"]
mod tls;

/// The bound on every wait for the server.
pub const WAIT: Duration = Duration::from_secs(30);

/// A port free now on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The client transports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Tcp,
    Ssl,
    Ws,
    Wss,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Tcp, Kind::Ssl, Kind::Ws, Kind::Wss];
}

/// The stand-in and a server synced to it, serving all four transports.
pub struct Electrum {
    pub sim: SimNode,
    pub server: Server,
    pub tcp: u16,
    pub ssl: u16,
    pub ws: u16,
    pub wss: u16,
    pub cert_der: Vec<u8>,
    pub dir: TempDir,
}

impl Electrum {
    /// Serves `node`, starts the server with `extra` environment variables, and waits until
    /// it has caught up and listens.
    pub fn start(name: &str, node: Node, extra: &[(&str, &str)]) -> Electrum {
        let tip = node.tip_height();
        let sim = SimNode::spawn(node, SimNodeOptions::default()).expect("stand-in");
        let dir = TempDir::new(name);
        std::fs::create_dir_all(dir.path()).expect("temp dir");
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("self-signed");
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        std::fs::write(&cert_path, cert.pem()).expect("write cert");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");
        let db = dir.path().join("db");
        std::fs::create_dir_all(&db).expect("db dir");
        let (server, (tcp, ssl, ws, wss)) = start_on_free_ports(
            name,
            || {
                let ports = (free_port(), free_port(), free_port(), free_port());
                let (tcp, ssl, ws, wss) = ports;
                let services = format!(
                    "tcp://127.0.0.1:{tcp},ssl://127.0.0.1:{ssl},ws://127.0.0.1:{ws},\
                     wss://127.0.0.1:{wss}"
                );
                let mut env = ServerEnv::new(&db, &sim.daemon_url())
                    .set("SERVICES", &services)
                    .set("SSL_CERTFILE", cert_path.to_str().expect("utf-8"))
                    .set("SSL_KEYFILE", key_path.to_str().expect("utf-8"))
                    .set("DAEMON_POLL_INTERVAL_MEMPOOL", "100")
                    // Protocol tests send thousands of requests (many of them errors) on one
                    // session: no throttling unless a test sets limits (as differential.rs).
                    .set("COST_SOFT_LIMIT", "0")
                    .set("COST_HARD_LIMIT", "0");
                for (k, v) in extra {
                    env = env.set(k, v);
                }
                (env, ports)
            },
            |server| {
                assert_eq!(server.wait_caught_up(), tip);
                for _ in 0..4 {
                    server.wait_for("listening", WAIT);
                }
            },
        );
        Electrum {
            sim,
            server,
            tcp,
            ssl,
            ws,
            wss,
            cert_der: cert.der().to_vec(),
            dir,
        }
    }

    /// A connected client (no `server.version` sent yet).
    pub fn connect(&self, kind: Kind) -> Client {
        match kind {
            Kind::Tcp => Client::tcp(self.tcp),
            Kind::Ssl => Client::ssl(self.ssl, &self.cert_der),
            Kind::Ws => Client::ws(self.ws, None),
            Kind::Wss => Client::ws(self.wss, Some(&self.cert_der)),
        }
    }

    /// A client that has negotiated `version` (e.g. "1.4", "1.6").
    pub fn session(&self, kind: Kind, version: &str) -> Client {
        let mut c = self.connect(kind);
        let v = c
            .call("server.version", json!(["ferrumx-tests", version]))
            .expect("server.version");
        assert_eq!(v[1], json!(version), "negotiated {v}");
        c
    }
}

fn tls_client(cert: &[u8]) -> rustls::ClientConnection {
    let config = tls::client_config(cert, rustls::DEFAULT_VERSIONS);
    rustls::ClientConnection::new(config, "localhost".try_into().expect("name"))
        .expect("tls client")
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

enum Conn {
    Tcp(BufReader<TcpStream>),
    Tls(Box<BufReader<TlsStream>>),
    Ws(Box<tungstenite::WebSocket<Box<dyn ReadWrite>>>),
}

/// What the WebSocket client runs over (a TcpStream or a TLS stream).
pub trait ReadWrite: std::io::Read + std::io::Write + Send {}
impl<T: std::io::Read + std::io::Write + Send> ReadWrite for T {}

/// A blocking Electrum client: `call` sends a request and waits for its response, keeping
/// notifications that arrive meanwhile for [`Client::notification`].
pub struct Client {
    conn: Conn,
    /// The socket (a clone), to set read timeouts whatever the transport.
    sock: TcpStream,
    /// A line read in part before a timeout.
    partial: Vec<u8>,
    next_id: u64,
    pub notifications: VecDeque<(String, Value)>,
    /// Responses read while waiting for another id.
    responses: Vec<Value>,
}

/// A JSON-RPC error: (code, message).
pub type RpcErr = (i64, String);

fn stream(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    s.set_nodelay(true).expect("nodelay");
    s
}

impl Client {
    pub fn tcp(port: u16) -> Client {
        let s = stream(port);
        let sock = s.try_clone().expect("clone");
        Client::new(Conn::Tcp(BufReader::new(s)), sock)
    }

    pub fn ssl(port: u16, cert: &[u8]) -> Client {
        let s = stream(port);
        let sock = s.try_clone().expect("clone");
        let tls = rustls::StreamOwned::new(tls_client(cert), s);
        Client::new(Conn::Tls(Box::new(BufReader::new(tls))), sock)
    }

    /// ws, or wss when `cert` is given.
    pub fn ws(port: u16, cert: Option<&[u8]>) -> Client {
        let tcp = stream(port);
        let sock = tcp.try_clone().expect("clone");
        let (io, scheme): (Box<dyn ReadWrite>, &str) = match cert {
            Some(c) => (
                Box::new(rustls::StreamOwned::new(tls_client(c), tcp)),
                "wss",
            ),
            None => (Box::new(tcp), "ws"),
        };
        let url = format!("{scheme}://localhost:{port}/");
        let (ws, _) = tungstenite::client::client(url, io).expect("websocket handshake");
        Client::new(Conn::Ws(Box::new(ws)), sock)
    }

    fn new(conn: Conn, sock: TcpStream) -> Client {
        Client {
            conn,
            sock,
            partial: Vec::new(),
            next_id: 1,
            notifications: VecDeque::new(),
            responses: Vec::new(),
        }
    }

    /// Sends one raw message (a newline is added on line transports).
    pub fn send_raw(&mut self, text: &str) {
        match &mut self.conn {
            Conn::Tcp(r) => {
                let s = r.get_mut();
                s.write_all(text.as_bytes()).expect("write");
                s.write_all(b"\n").expect("write");
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

    /// The next message, or `None` when the server closed the connection. Panics after
    /// the read timeout.
    pub fn recv_raw(&mut self) -> Option<String> {
        match self.read_message() {
            Recv::Msg(m) => Some(m),
            Recv::Closed => None,
            Recv::Timeout => panic!("no message from the server within the read timeout"),
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

    /// The next JSON message (notification or response), `None` at close.
    pub fn recv(&mut self) -> Option<Value> {
        let text = self.recv_raw()?;
        Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON {text:?}: {e}")))
    }

    fn stash(&mut self, m: Value) {
        if m.get("id").is_some_and(|id| !id.is_null()) {
            self.responses.push(m);
        } else {
            let method = m["method"].as_str().unwrap_or_default().to_string();
            self.notifications.push_back((method, m["params"].clone()));
        }
    }

    /// Sends a request and returns its id.
    pub fn request(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_raw(&msg.to_string());
        id
    }

    /// Waits for the response with `id`.
    pub fn response(&mut self, id: u64) -> Result<Value, RpcErr> {
        loop {
            if let Some(i) = self.responses.iter().position(|m| m["id"] == json!(id)) {
                let m = self.responses.swap_remove(i);
                if let Some(e) = m.get("error") {
                    return Err((
                        e["code"].as_i64().expect("code"),
                        e["message"].as_str().expect("message").to_string(),
                    ));
                }
                return Ok(m["result"].clone());
            }
            let m = self
                .recv()
                .unwrap_or_else(|| panic!("connection closed waiting for response {id}"));
            self.stash(m);
        }
    }

    /// One request, waited for.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, RpcErr> {
        let id = self.request(method, params);
        self.response(id)
    }

    /// Many requests pipelined; their results in order.
    pub fn call_many(&mut self, calls: &[(&str, Value)]) -> Vec<Result<Value, RpcErr>> {
        let ids: Vec<u64> = calls
            .iter()
            .map(|(m, p)| self.request(m, p.clone()))
            .collect();
        ids.into_iter().map(|id| self.response(id)).collect()
    }

    /// The next notification, waiting at most `timeout`; `None` if none came.
    pub fn notification(&mut self, timeout: Duration) -> Option<(String, Value)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(n) = self.notifications.pop_front() {
                return Some(n);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.set_timeout(left.max(Duration::from_millis(1)));
            let got = self.try_recv();
            self.set_timeout(WAIT);
            match got {
                Some(m) => self.stash(m),
                None => return None,
            }
        }
    }

    /// Like [`Client::recv`], but `None` on a read timeout (or close) too.
    fn try_recv(&mut self) -> Option<Value> {
        match self.read_message() {
            Recv::Msg(text) => Some(serde_json::from_str(&text).expect("JSON")),
            Recv::Closed | Recv::Timeout => None,
        }
    }

    fn set_timeout(&mut self, t: Duration) {
        self.sock.set_read_timeout(Some(t)).expect("timeout");
    }

    /// Whether the server has closed the connection (reads until EOF, at most `WAIT`).
    pub fn closed(&mut self) -> bool {
        loop {
            match self.recv_raw() {
                None => return true,
                Some(text) => {
                    let m: Value = serde_json::from_str(&text).expect("JSON");
                    self.stash(m);
                }
            }
        }
    }
}

enum Recv {
    Msg(String),
    Closed,
    Timeout,
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
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

/// The script of the output `op` spends (any transaction the stand-in knows: mempool,
/// active chain or stale block).
pub fn prevout_script(n: &Node, op: &bitcoin::OutPoint) -> bitcoin::ScriptBuf {
    let (tx, _) = n
        .find_tx(&op.txid)
        .unwrap_or_else(|| panic!("the prevout {op} is of no known transaction"));
    tx.output
        .get(op.vout as usize)
        .unwrap_or_else(|| panic!("the prevout {op} does not exist"))
        .script_pubkey
        .clone()
}

/// The script hashes `tx` touches: every output's (`OP_RETURN` included, as ElectrumX's
/// mempool counts them) and every spent output's.
pub fn touched_by(n: &Node, tx: &bitcoin::Transaction) -> std::collections::BTreeSet<ScriptHash> {
    let mut out: std::collections::BTreeSet<ScriptHash> = tx
        .output
        .iter()
        .map(|o| ScriptHash::of(&o.script_pubkey))
        .collect();
    if !tx.is_coinbase() {
        for i in &tx.input {
            out.insert(ScriptHash::of(&prevout_script(n, &i.previous_output)));
        }
    }
    out
}

/// Sorts the unconfirmed part (height 0) of a `listunspent` list, whose order ElectrumX
/// leaves to Python's set iteration.
pub fn sort_unconfirmed(list: &mut Value) {
    if let Some(list) = list.as_array_mut() {
        let split = list
            .iter()
            .position(|u| u["height"] == json!(0))
            .unwrap_or(list.len());
        list[split..].sort_by_key(|u| (u["tx_hash"].to_string(), u["tx_pos"].as_u64()));
    }
}

/// Polls `f` every 50 ms until it gives `Some`, for at most `timeout`.
pub fn poll_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
