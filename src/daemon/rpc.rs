//! Connections to one endpoint and the blocking JSON-RPC exchanges over them. Everything here
//! runs on `spawn_blocking` threads.
//!
//! The HTTP is FerrumX's own (`http`): `bitcoincore-rpc`'s `simple_http` transport parsed
//! each reply with `serde_json::from_reader` straight off the socket, one `Read::bytes` call
//! per byte, which cost a quarter of sync CPU. Replies are now read whole into a buffer (in
//! large reads, bounded in size and time) and parsed from the slice. The JSON-RPC envelopes
//! stay `jsonrpc`'s (`Request`, `Response`, through `bitcoincore-rpc`'s re-export).
//!
//! Each endpoint keeps a few idle keep-alive connections. A connection is made (the URL
//! resolved, the cookie file read) only when none is idle, and all of an endpoint's idle
//! connections are dropped after a transport failure, so that a restarted bitcoind's new
//! cookie is read on the next attempt. The same connections carry REST requests (`rest`).

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use base64::Engine as _;
use bitcoin::BlockHash;
use bitcoincore_rpc::jsonrpc::{Request as RpcRequest, Response};
use serde_json::value::{to_raw_value, RawValue};
use serde_json::{json, Value};

use super::decode;
use super::error::{codes, Error};
use super::http::{self, Connection, HttpError, Limits, Reply};
use super::options::DaemonOptions;
use super::rest::{Miss, RestState, MAX_BLOCK_BYTES};
use crate::config::{DaemonAuth, DaemonEndpoint};

/// Why one attempt failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Connection refused or reset, timeout, DNS, unreadable cookie, an HTTP error, a body
    /// that is not JSON-RPC: retried (on the next endpoint, if there are several).
    Transport(String),
    /// -28, the node is starting (its status message): retried.
    WarmingUp(String),
    /// The daemon answered: the result goes to the caller as is.
    Answer(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Answer(e)
    }
}

impl Failure {
    /// What to log (never holds credentials).
    pub(crate) fn reason(&self) -> String {
        match self {
            Failure::Transport(s) | Failure::WarmingUp(s) => s.clone(),
            Failure::Answer(e) => e.to_string(),
        }
    }
}

/// A JSON-RPC result: the raw JSON text, or `None` for a missing/`null` result.
pub(crate) type RawResult = Option<Box<RawValue>>;

/// One configured bitcoind and its idle connections.
pub(crate) struct Endpoint {
    config: DaemonEndpoint,
    /// `http://host:port/`, without credentials.
    pub(crate) url: String,
    idle: Mutex<Vec<Conn>>,
    max_idle: usize,
    limits: Limits,
    /// Largest JSON-RPC reply body read.
    max_reply: usize,
    /// Whether this endpoint serves REST (found out on first use).
    pub(crate) rest: RestState,
}

/// One connection and its credentials (read when it was made).
pub(crate) struct Conn {
    http: Connection,
    /// The `Authorization` header value.
    auth: Option<String>,
    next_id: u64,
}

/// What a job runs on: a connection of an endpoint.
pub(crate) struct Link<'a> {
    pub(crate) conn: &'a mut Conn,
    pub(crate) endpoint: &'a Endpoint,
}

impl Endpoint {
    /// The daemon's host name or address, as configured.
    pub(crate) fn host(&self) -> &str {
        &self.config.host
    }

    pub(crate) fn new(
        config: DaemonEndpoint,
        options: &DaemonOptions,
        max_idle: usize,
    ) -> Endpoint {
        Endpoint {
            url: config.url(),
            config,
            idle: Mutex::new(Vec::new()),
            max_idle,
            limits: Limits {
                stall: options.timeout,
                reply: options.reply_timeout,
            },
            max_reply: options.max_reply_bytes,
            rest: RestState::default(),
        }
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Conn>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `job` on an idle connection or a new one. Blocking.
    pub(crate) fn run<T>(
        &self,
        job: impl FnOnce(&mut Link<'_>) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let pooled = self.idle().pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => self.connect()?,
        };
        let result = job(&mut Link {
            conn: &mut conn,
            endpoint: self,
        });
        if let Err(Failure::Transport(_)) = result {
            self.idle().clear();
        } else if conn.http.is_reusable() {
            let mut idle = self.idle();
            if idle.len() < self.max_idle {
                idle.push(conn);
            }
        }
        result
    }

    fn open(&self) -> Result<Connection, HttpError> {
        let host = self
            .config
            .host
            .trim_start_matches('[')
            .trim_end_matches(']');
        Connection::connect(host, self.config.port, self.limits)
    }

    /// A new connection: resolves the host and reads the cookie file now.
    fn connect(&self) -> Result<Conn, Failure> {
        let auth = match &self.config.auth {
            DaemonAuth::UserPass { user, password } => Some(basic(user, &password.0)),
            DaemonAuth::CookieFile(path) => Some(basic_cookie(&read_cookie(path)?)),
            DaemonAuth::None => None,
        };
        let http = self.open().map_err(|e| Failure::Transport(e.to_string()))?;
        Ok(Conn {
            http,
            auth,
            next_id: 0,
        })
    }
}

impl Link<'_> {
    /// A GET of `path` (REST: no credentials), its body at most `max_body` bytes.
    pub(crate) fn get(&mut self, path: &str, max_body: usize) -> Result<Reply, HttpError> {
        self.reopen()?;
        self.conn.http.exchange(&http::Request {
            method: "GET",
            path,
            auth: None,
            content_type: None,
            body: b"",
            max_body,
        })
    }

    /// POSTs a JSON-RPC body and returns the reply's body, checked as `simple_http` did: a
    /// body that is not JSON with a status other than 200 is that HTTP error.
    fn post<T: serde::de::DeserializeOwned>(&mut self, body: &[u8]) -> Result<T, Failure> {
        self.reopen()
            .map_err(|e| Failure::Transport(e.to_string()))?;
        let reply = self
            .conn
            .http
            .exchange(&http::Request {
                method: "POST",
                path: "/",
                auth: self.conn.auth.as_deref(),
                content_type: Some("application/json"),
                body,
                max_body: self.endpoint.max_reply,
            })
            .map_err(|e| match e {
                HttpError::TooBig { limit } => {
                    Failure::Answer(Error::bad(format!("JSON-RPC answer over {limit} bytes")))
                }
                e => Failure::Transport(e.to_string()),
            })?;
        match serde_json::from_slice(&reply.body) {
            Ok(v) => Ok(v),
            Err(_) if reply.status == 401 => Err(Failure::Transport(
                "HTTP 401 Unauthorized (check the user and password, or the cookie file)"
                    .to_string(),
            )),
            Err(_) if reply.status != 200 => {
                Err(Failure::Transport(format!("HTTP status {}", reply.status)))
            }
            Err(e) => Err(Failure::Transport(format!("answer is not JSON-RPC: {e}"))),
        }
    }

    /// A new connection in place of one the last exchange left unusable (closed by the
    /// daemon, or broken by a failed REST request).
    fn reopen(&mut self) -> Result<(), HttpError> {
        if !self.conn.http.is_reusable() {
            self.conn.http = self.endpoint.open()?;
        }
        Ok(())
    }

    fn id(&mut self) -> Value {
        self.conn.next_id += 1;
        json!(self.conn.next_id)
    }
}

fn basic(user: &str, password: &str) -> String {
    basic_cookie(&format!("{user}:{password}"))
}

fn basic_cookie(user_password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_password)
    )
}

/// bitcoind's `.cookie`: `__cookie__:<hex>`. Its contents are never logged.
fn read_cookie(path: &Path) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::Transport(format!("cannot read cookie file {}: {e}", path.display()))
    })?;
    let cookie = text.trim_end_matches(['\r', '\n']);
    if cookie.contains(':') {
        Ok(cookie.to_string())
    } else {
        Err(Failure::Transport(format!(
            "cookie file {} is not user:password",
            path.display()
        )))
    }
}

/// An error answer: -28 is retried, anything else goes to the caller.
fn rpc_failure(code: i32, message: String) -> Failure {
    if code == codes::IN_WARMUP {
        Failure::WarmingUp(message)
    } else {
        Failure::Answer(Error::Rpc { code, message })
    }
}

fn encode_params(params: &[Value]) -> Result<Box<RawValue>, Failure> {
    to_raw_value(params).map_err(|e| Failure::Answer(Error::bad(format!("params: {e}"))))
}

fn encode<T: serde::Serialize>(requests: &T) -> Result<Vec<u8>, Failure> {
    serde_json::to_vec(requests).map_err(|e| Failure::Answer(Error::bad(format!("request: {e}"))))
}

fn check_envelope(response: &Response, id: &Value) -> Result<(), Failure> {
    if response.jsonrpc.as_deref().is_some_and(|v| v != "2.0") {
        return Err(Failure::Transport("answer is not JSON-RPC 2.0".to_string()));
    }
    if response.id != *id {
        return Err(Failure::Transport(
            "answer id does not match the request".to_string(),
        ));
    }
    Ok(())
}

/// One call in one HTTP request.
pub(crate) fn call(
    link: &mut Link<'_>,
    method: &str,
    params: &[Value],
) -> Result<RawResult, Failure> {
    let params = encode_params(params)?;
    let request = RpcRequest {
        method,
        params: Some(&params),
        id: link.id(),
        jsonrpc: Some("2.0"),
    };
    let response: Response = link.post(&encode(&request)?)?;
    check_envelope(&response, &request.id)?;
    match response.error {
        Some(e) => Err(rpc_failure(e.code, e.message)),
        None => Ok(response.result),
    }
}

/// Calls of one method in one HTTP request (a JSON-RPC batch), answers in request order.
/// Any -28 makes the whole batch a [`Failure::WarmingUp`]; other error answers are per item.
pub(crate) fn batch(
    link: &mut Link<'_>,
    method: &str,
    params: &[Vec<Value>],
) -> Result<Vec<Result<RawResult, Error>>, Failure> {
    if params.is_empty() {
        return Ok(Vec::new());
    }
    let encoded = params
        .iter()
        .map(|p| encode_params(p))
        .collect::<Result<Vec<_>, _>>()?;
    let first = link.conn.next_id + 1;
    let requests: Vec<RpcRequest<'_>> = encoded
        .iter()
        .map(|p| RpcRequest {
            method,
            params: Some(p),
            id: link.id(),
            jsonrpc: Some("2.0"),
        })
        .collect();
    let responses: Vec<Response> = link.post(&encode(&requests)?)?;
    if responses.len() != requests.len() {
        return Err(Failure::Answer(Error::bad(format!(
            "{} answers to a batch of {}",
            responses.len(),
            requests.len()
        ))));
    }
    // Answers may come in any order: place each by its id.
    let mut slots: Vec<Option<Response>> = (0..requests.len()).map(|_| None).collect();
    for response in responses {
        let slot = response
            .id
            .as_u64()
            .and_then(|id| id.checked_sub(first))
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| slots.get_mut(i))
            .filter(|s| s.is_none())
            .ok_or_else(|| Failure::Transport("batch answer ids do not match".to_string()))?;
        *slot = Some(response);
    }
    let mut out = Vec::with_capacity(slots.len());
    for (request, response) in requests.iter().zip(slots) {
        let response = response
            .ok_or_else(|| Failure::Transport("batch answer ids do not match".to_string()))?;
        check_envelope(&response, &request.id)?;
        out.push(match response.error {
            Some(e) => match rpc_failure(e.code, e.message) {
                Failure::Answer(e) => Err(e),
                other => return Err(other),
            },
            None => Ok(response.result),
        });
    }
    Ok(out)
}

/// The serialized blocks `hashes`, in order, through REST (`GET /rest/block/<hash>.bin`) on
/// `link`'s connection; see `rest` for what each answer means. Stops asking once the blocks
/// fetched reach `max_bytes` (so it may return only the first of `hashes`, at least one).
pub(crate) fn rest_blocks(
    link: &mut Link<'_>,
    hashes: &[BlockHash],
    max_bytes: usize,
) -> Result<Vec<Vec<u8>>, Miss> {
    let mut total = 0usize;
    let mut blocks = Vec::with_capacity(hashes.len());
    for hash in hashes {
        if total >= max_bytes {
            break;
        }
        let block = rest_block(link, hash)?;
        // The whole batch within the bound of one JSON-RPC answer, as by getblock.
        total += block.len();
        if total > link.endpoint.max_reply {
            return Err(Miss::Failed(format!(
                "blocks over {} bytes in one batch",
                link.endpoint.max_reply
            )));
        }
        blocks.push(block);
    }
    Ok(blocks)
}

fn rest_block(link: &mut Link<'_>, hash: &BlockHash) -> Result<Vec<u8>, Miss> {
    let path = format!("/rest/block/{hash}.bin");
    let reply = link.get(&path, MAX_BLOCK_BYTES).map_err(|e| match e {
        HttpError::TooBig { limit } => Miss::Failed(format!("block {hash} over {limit} bytes")),
        e => Miss::Failed(format!("block {hash}: {e}")),
    })?;
    let text = || String::from_utf8_lossy(&reply.body).trim_end().to_string();
    match reply.status {
        200 if reply.content_type.as_deref() != Some("application/octet-stream") => {
            Err(Miss::Failed(format!(
                "block {hash}: Content-Type {:?}, not application/octet-stream",
                reply.content_type.as_deref().unwrap_or("")
            )))
        }
        200 => decode::checked_block(reply.body, hash).map_err(|e| Miss::Failed(e.to_string())),
        404 if reply.body.is_empty() => Err(Miss::Disabled),
        404 | 503 => Err(Miss::NotNow(text())),
        status => Err(Miss::Failed(format!(
            "block {hash}: HTTP status {status}: {}",
            text().chars().take(200).collect::<String>()
        ))),
    }
}
