//! The HTTP/1.1 JSON-RPC front end, answering as Bitcoin Core 29.0's `bitcoind` does.
//!
//! Start it with [`RpcServer::start`], giving it the credentials ([`Auth`]), the methods
//! ([`Handler`]) and a [`Control`] through which tests and demos make it misbehave at runtime:
//! in warm-up (every call gets -28), down (connections refused), slow, or answering garbage.
//!
//! Layout:
//! - `wire`: HTTP/1.x framing with libevent's limits, quirks and header order.
//! - `jsonrpc`: envelopes, batches, HTTP status per error, notifications, named parameters.
//! - this file: the public types, authentication, the listener and each connection's loop.
//!
//! What Core checks, in its order: the method (libevent answers 501 to methods it does not
//! allow; Core 405 to `DELETE`), the path (`/` or `/wallet/…`, else 404), POST only (405
//! "JSONRPC server handles only POST requests"), Basic credentials (401 with
//! `WWW-Authenticate`, after 250 ms when they are wrong), then the JSON-RPC body.
//!
//! Known differences: requests are parsed with `serde_json`, so a non-integer numeric `id` is
//! echoed as serde_json prints it (`1e2` comes back as `100.0`), duplicate keys keep the last
//! value where Core keeps the first, nesting deeper than 128 is a parse error, and an `id`
//! object comes back with sorted keys. The wallet path is accepted but not passed to the
//! [`Handler`]. There is no work queue, so never a 503.

mod jsonrpc;
mod rest;
mod wire;

use std::fmt;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use rand::{Rng as _, RngCore as _};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::json::Json;
pub use rest::RestFault;
use wire::{Incoming, Method};

/// A JSON-RPC error object, as Core's `JSONRPCError(code, message)`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} (code {code})")]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    /// An error with Core's code and message, e.g. `RpcError::new(-8, "Block height out of range")`.
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
        }
    }
}

/// The RPC methods behind the front end. Calls run on a blocking thread, one per request.
pub trait Handler: Send + Sync + 'static {
    /// Runs `method` with positional `params` (named params already mapped to positions by the
    /// front end). An unknown method answers `RpcError::new(-32601, "Method not found")`.
    fn call(&self, method: &str, params: &[serde_json::Value]) -> Result<Json, RpcError>;

    /// The parameter names of `method` in positional order, used to map JSON-RPC named params
    /// (an object) to positions as Core does; `"a|b"` names one parameter with an alias.
    /// `None` means the method is unknown (the call then gets -32601).
    fn param_names(&self, method: &str) -> Option<&'static [&'static str]>;

    /// Named-only parameters of `method` (Core's `OBJ_NAMED_PARAMS`): given by name, they are
    /// gathered into an options object at the returned position.
    fn named_only(&self, _method: &str) -> Option<(usize, &'static [&'static str])> {
        None
    }

    /// A block's serialization, for REST; `None` when unknown.
    fn raw_block(&self, _hash: &bitcoin::BlockHash) -> Option<Vec<u8>> {
        None
    }

    /// The active chain's block hash at `height`, for REST; `None` above the tip.
    fn active_hash(&self, _height: u32) -> Option<bitcoin::BlockHash> {
        None
    }
}

/// A way to log in. Several may be enabled at once, as Core accepts `rpcuser`/`rpcpassword`
/// together with the cookie.
#[derive(Clone)]
pub enum Auth {
    /// Fixed `rpcuser`/`rpcpassword`.
    UserPass { user: String, password: String },
    /// Core's cookie: `__cookie__:<64 random hex>` written to `path` at start (through
    /// `path.tmp`, mode 0600), removed at shutdown.
    Cookie { path: PathBuf },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::UserPass { user, .. } => f
                .debug_struct("UserPass")
                .field("user", user)
                .field("password", &"<hidden>")
                .finish(),
            Auth::Cookie { path } => f.debug_struct("Cookie").field("path", path).finish(),
        }
    }
}

/// A user name and password the server accepts.
struct Credential {
    user: String,
    password: String,
}

/// Runtime switches and counters shared between a server and whoever drives it; clones share
/// state. Use one `Control` per running server.
#[derive(Clone, Debug, Default)]
pub struct Control(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    settings: Mutex<Settings>,
    served: AtomicU64,
    calls: AtomicU64,
    rest_blocks: AtomicU64,
    rpc_blocks: AtomicU64,
    /// What the driver asks for (`up`), with a sequence number to acknowledge.
    want: watch::Sender<Want>,
    /// What the server did.
    status: watch::Sender<Status>,
}

impl Default for Shared {
    fn default() -> Shared {
        Shared {
            settings: Mutex::default(),
            served: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            rest_blocks: AtomicU64::new(0),
            rpc_blocks: AtomicU64::new(0),
            want: watch::channel(Want { up: true, seq: 0 }).0,
            status: watch::channel(Status::default()).0,
        }
    }
}

#[derive(Debug, Default)]
struct Settings {
    warmup: Option<String>,
    delay: Duration,
    garbage: bool,
    /// bitcoind's `-rest`.
    rest: bool,
    rest_fault: Option<RestFault>,
}

#[derive(Clone, Copy, Debug)]
struct Want {
    up: bool,
    seq: u64,
}

#[derive(Clone, Debug, Default)]
struct Status {
    /// A server is running with this control.
    attached: bool,
    /// It is listening.
    up: bool,
    /// The last `Want::seq` it acted on.
    ack: u64,
    /// Why the last attempt to listen again failed.
    bind_error: Option<(io::ErrorKind, String)>,
}

impl Control {
    /// A control in the normal state: up, no warm-up, no delay, real answers.
    pub fn new() -> Control {
        Control::default()
    }

    fn settings(&self) -> MutexGuard<'_, Settings> {
        self.0.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Some(status)`: every call is answered with -28 and that message, as Core does while
    /// starting ("Loading banlist…", "Verifying blocks…"); `None` ends the warm-up.
    pub fn set_warmup(&self, status: Option<&str>) {
        self.settings().warmup = status.map(str::to_string);
    }

    /// The current warm-up message, if any.
    pub fn warmup(&self) -> Option<String> {
        self.settings().warmup.clone()
    }

    /// Sleeps this long before each answer (zero for none).
    pub fn set_delay(&self, delay: Duration) {
        self.settings().delay = delay;
    }

    /// Answers every authenticated request with HTTP 200 and random bytes that are not JSON.
    pub fn set_garbage(&self, on: bool) {
        self.settings().garbage = on;
    }

    /// Closes the listening socket, so new connections are refused, and drops every open
    /// connection. Returns once done (at once if no server is running).
    pub async fn go_down(&self) {
        let _ = self.set_up(false).await;
    }

    /// Listens again on the same address (with `SO_REUSEADDR`). Returns once listening.
    ///
    /// # Errors
    /// The bind failed (e.g. another process took the port); the server stays down until the
    /// next `come_up`.
    pub async fn come_up(&self) -> io::Result<()> {
        self.set_up(true).await
    }

    async fn set_up(&self, up: bool) -> io::Result<()> {
        let mut status = self.0.status.subscribe();
        let mut seq = 0;
        self.0.want.send_modify(|w| {
            w.up = up;
            w.seq += 1;
            seq = w.seq;
        });
        let Ok(done) = status.wait_for(|s| !s.attached || s.ack >= seq).await else {
            return Ok(());
        };
        match &done.bind_error {
            Some((kind, message)) if done.attached && up => {
                Err(io::Error::new(*kind, message.clone()))
            }
            _ => Ok(()),
        }
    }

    /// Whether a server with this control is listening.
    pub fn is_up(&self) -> bool {
        let status = self.0.status.borrow();
        status.attached && status.up
    }

    /// HTTP requests answered so far (every status, counted just before the answer is sent).
    pub fn requests_served(&self) -> u64 {
        self.0.served.load(Ordering::SeqCst)
    }

    /// Calls that reached the [`Handler`] (a batch counts each item; warm-up answers don't).
    pub fn calls(&self) -> u64 {
        self.0.calls.load(Ordering::SeqCst)
    }

    fn count_call(&self) {
        self.0.calls.fetch_add(1, Ordering::SeqCst);
    }
}

/// Everything a connection needs.
struct Ctx {
    handler: Arc<dyn Handler>,
    credentials: Vec<Credential>,
    control: Control,
}

/// The JSON-RPC server.
pub struct RpcServer;

impl RpcServer {
    /// Listens on `addr` (port 0 picks one) and serves until [`RunningServer::shutdown`] or
    /// drop. Writes the cookie file of each [`Auth::Cookie`].
    ///
    /// # Errors
    /// Binding failed or a cookie file could not be written.
    pub async fn start(
        addr: SocketAddr,
        auth: Vec<Auth>,
        handler: Arc<dyn Handler>,
        control: Control,
    ) -> io::Result<RunningServer> {
        let listener = bind(addr)?;
        let local = listener.local_addr()?;
        let mut credentials = Vec::new();
        let mut cookies = Vec::new();
        for a in auth {
            match a {
                Auth::UserPass { user, password } => {
                    credentials.push(Credential { user, password })
                }
                Auth::Cookie { path } => match write_cookie(&path) {
                    Ok(password) => {
                        tracing::info!(path = %path.display(), "generated RPC authentication cookie");
                        credentials.push(Credential {
                            user: "__cookie__".to_string(),
                            password,
                        });
                        cookies.push(path);
                    }
                    Err(e) => {
                        remove_cookies(&mut cookies);
                        return Err(e);
                    }
                },
            }
        }
        let shared = &control.0;
        shared.want.send_modify(|w| w.up = true);
        let ack = shared.want.borrow().seq;
        shared.status.send_replace(Status {
            attached: true,
            up: true,
            ack,
            bind_error: None,
        });
        let (stop, stop_rx) = watch::channel(false);
        let ctx = Arc::new(Ctx {
            handler,
            credentials,
            control,
        });
        tracing::info!(%local, "JSON-RPC server listening");
        let task = tokio::spawn(supervise(listener, local, ctx, stop_rx));
        Ok(RunningServer {
            addr: local,
            stop,
            task: Some(task),
            cookies,
        })
    }
}

/// A started server. Dropping it stops it too, without waiting.
pub struct RunningServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    cookies: Vec<PathBuf>,
}

impl RunningServer {
    /// The address it listens on (the real port when started with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening, drops every connection, removes the cookie files, and waits for all that.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "JSON-RPC server task failed");
            }
        }
        remove_cookies(&mut self.cookies);
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        remove_cookies(&mut self.cookies);
    }
}

/// A listening socket with `SO_REUSEADDR`, so the port can be taken again after `go_down`.
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Core's `GenerateAuthCookie`: 32 random bytes as hex, written to `<path>.tmp` then renamed.
fn write_cookie(path: &Path) -> io::Result<String> {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let password: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(format!("__cookie__:{password}").as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    Ok(password)
}

fn remove_cookies(cookies: &mut Vec<PathBuf>) {
    for path in cookies.drain(..) {
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), error = %e, "could not remove the RPC cookie");
        }
    }
}

/// Accepts connections and follows the control's up/down requests until stopped.
async fn supervise(
    listener: TcpListener,
    addr: SocketAddr,
    ctx: Arc<Ctx>,
    mut stop: watch::Receiver<bool>,
) {
    let shared = &ctx.control.0;
    let mut want_rx = shared.want.subscribe();
    let mut listener = Some(listener);
    let mut conns = JoinSet::new();
    'run: loop {
        let want = *want_rx.borrow_and_update();
        let mut bind_error = None;
        if want.up && listener.is_none() {
            match bind(addr) {
                Ok(l) => {
                    tracing::info!(%addr, "JSON-RPC server up again");
                    listener = Some(l);
                }
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "JSON-RPC server could not listen again");
                    bind_error = Some((e.kind(), e.to_string()));
                }
            }
        } else if !want.up && listener.is_some() {
            listener = None;
            conns.shutdown().await;
            tracing::info!(%addr, "JSON-RPC server down: listener closed, connections dropped");
        }
        shared.status.send_replace(Status {
            attached: true,
            up: listener.is_some(),
            ack: want.seq,
            bind_error,
        });
        loop {
            tokio::select! {
                _ = stop.changed() => break 'run,
                changed = want_rx.changed() => match changed {
                    Ok(()) => continue 'run,
                    Err(_) => break 'run,
                },
                accepted = accept(listener.as_ref()) => match accepted {
                    Ok((stream, peer)) => {
                        conns.spawn(serve_connection(stream, peer, Arc::clone(&ctx)));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(joined) = conns.join_next(), if !conns.is_empty() => {
                    if let Err(e) = joined {
                        if e.is_panic() {
                            tracing::error!("a JSON-RPC connection task panicked");
                        }
                    }
                }
            }
        }
    }
    drop(listener);
    conns.shutdown().await;
    shared.status.send_replace(Status::default());
    tracing::info!(%addr, "JSON-RPC server stopped");
}

async fn accept(listener: Option<&TcpListener>) -> io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Reads requests and answers them in turn until either side closes.
async fn serve_connection(stream: TcpStream, peer: SocketAddr, ctx: Arc<Ctx>) {
    let _ = stream.set_nodelay(true);
    let mut conn = wire::Conn::new(stream);
    loop {
        let (bytes, close) = match conn.read_request().await {
            Incoming::Gone => return,
            Incoming::Fail { status, meta } => {
                tracing::debug!(%peer, status, "malformed HTTP request");
                (wire::encode_error_page(meta, status), true)
            }
            Incoming::Request(request) => {
                let meta = request.meta();
                match answer(request, peer, &ctx).await {
                    Answer::Page(status) => (wire::encode_error_page(meta, status), true),
                    Answer::Reply(reply) => wire::encode_reply(meta, reply),
                    Answer::Raw(bytes) => (bytes, true),
                }
            }
        };
        let delay = ctx.control.settings().delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        ctx.control.0.served.fetch_add(1, Ordering::SeqCst);
        if !conn.write_all(&bytes).await {
            return;
        }
        if close {
            conn.close().await;
            return;
        }
    }
}

enum Answer {
    /// libevent's HTML error page.
    Page(u16),
    Reply(wire::Reply),
    /// These bytes as they are, then close (a broken reply, for tests).
    Raw(Vec<u8>),
}

fn plain(status: u16, body: &str) -> Answer {
    Answer::Reply(wire::Reply {
        status,
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    })
}

fn unauthorized() -> Answer {
    Answer::Reply(wire::Reply {
        status: 401,
        headers: vec![("WWW-Authenticate", "Basic realm=\"jsonrpc\"".to_string())],
        body: Vec::new(),
    })
}

fn json_reply(status: u16, body: Vec<u8>) -> Answer {
    Answer::Reply(wire::Reply {
        status,
        headers: vec![("Content-Type", "application/json".to_string())],
        body,
    })
}

/// `http_request_cb` then `HTTPReq_JSONRPC`.
async fn answer(request: wire::Request, peer: SocketAddr, ctx: &Arc<Ctx>) -> Answer {
    if !request.method.allowed() {
        return Answer::Page(501);
    }
    if request.method == Method::Delete {
        return plain(405, "");
    }
    tracing::debug!(%peer, method = ?request.method, uri = %request.uri, "HTTP request");
    if request.uri.starts_with("/rest/") {
        let ctx = Arc::clone(ctx);
        let work = move || rest::answer(&request.uri, ctx.handler.as_ref(), &ctx.control);
        return match tokio::task::spawn_blocking(work).await {
            Ok(Some(answer)) => answer,
            Ok(None) | Err(_) => plain(500, "Unhandled request"),
        };
    }
    if request.uri != "/" && !request.uri.starts_with("/wallet/") {
        return plain(404, "");
    }
    if request.method != Method::Post {
        return plain(405, "JSONRPC server handles only POST requests");
    }
    let Some(authorization) = request.header("Authorization") else {
        return unauthorized();
    };
    if !authorized(authorization, &ctx.credentials) {
        tracing::warn!(%peer, "ThreadRPCServer incorrect password attempt");
        tokio::time::sleep(Duration::from_millis(250)).await;
        return unauthorized();
    }
    if ctx.control.settings().garbage {
        return json_reply(200, garbage());
    }
    let body = request.body;
    let ctx = Arc::clone(ctx);
    let work = move || jsonrpc::process(&body, ctx.handler.as_ref(), &ctx.control);
    match tokio::task::spawn_blocking(work).await {
        Ok(jsonrpc::Reply::Json { status, body }) => json_reply(status, body.into_bytes()),
        Ok(jsonrpc::Reply::NoContent) => plain(204, ""),
        Err(e) => {
            // Core's answer when a handler leaves a request unanswered.
            tracing::error!(error = %e, "JSON-RPC handler failed");
            plain(500, "Unhandled request")
        }
    }
}

/// Core's `RPCAuthorized`: `Basic ` (case-sensitive), base64 of `user:password`.
fn authorized(header: &str, credentials: &[Credential]) -> bool {
    let Some(encoded) = header.strip_prefix("Basic ") else {
        return false;
    };
    let encoded = encoded.trim_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return false;
    };
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return false;
    };
    let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
    credentials.iter().fold(false, |ok, c| {
        let user_ok = same(c.user.as_bytes(), user);
        let password_ok = same(c.password.as_bytes(), password);
        ok | (user_ok & password_ok)
    })
}

/// Compares without stopping at the first difference (Core's `TimingResistantEqual`).
fn same(a: &[u8], b: &[u8]) -> bool {
    let diff = (0..a.len().max(b.len())).fold(a.len() ^ b.len(), |acc, i| {
        acc | usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0))
    });
    diff == 0
}

/// Random bytes that no JSON parser accepts (the first byte is never valid UTF-8).
fn garbage() -> Vec<u8> {
    let mut rng = rand::thread_rng();
    let len = rng.gen_range(16..64);
    std::iter::once(0xff)
        .chain((0..len).map(|_| rng.gen()))
        .collect()
}
