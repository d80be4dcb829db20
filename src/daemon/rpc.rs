//! Connections to one endpoint and the blocking JSON-RPC exchanges over them, with
//! `bitcoincore-rpc`'s client (its `jsonrpc` HTTP transport) underneath. Everything here runs
//! on `spawn_blocking` threads.
//!
//! Each endpoint keeps a few idle keep-alive connections. A connection is made (the URL
//! resolved, the cookie file read) only when none is idle, and all of an endpoint's idle
//! connections are dropped after a transport failure, so that a restarted bitcoind's new
//! cookie is read on the next attempt.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bitcoincore_rpc::jsonrpc::{self, simple_http, Response};
use bitcoincore_rpc::Client;
use serde_json::value::{to_raw_value, RawValue};
use serde_json::Value;

use super::error::{codes, Error};
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
    idle: Mutex<Vec<Client>>,
    max_idle: usize,
    timeout: Duration,
}

impl Endpoint {
    /// The daemon's host name or address, as configured.
    pub(crate) fn host(&self) -> &str {
        &self.config.host
    }

    pub(crate) fn new(config: DaemonEndpoint, timeout: Duration, max_idle: usize) -> Endpoint {
        Endpoint {
            url: config.url(),
            config,
            idle: Mutex::new(Vec::new()),
            max_idle,
            timeout,
        }
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Client>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `job` on an idle connection or a new one. Blocking.
    pub(crate) fn run<T>(
        &self,
        job: impl FnOnce(&Client) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let pooled = self.idle().pop();
        let client = match pooled {
            Some(c) => c,
            None => self.connect()?,
        };
        let result = job(&client);
        if let Err(Failure::Transport(_)) = result {
            self.idle().clear();
        } else {
            let mut idle = self.idle();
            if idle.len() < self.max_idle {
                idle.push(client);
            }
        }
        result
    }

    /// A new client: resolves the host and reads the cookie file now.
    fn connect(&self) -> Result<Client, Failure> {
        let mut builder = simple_http::Builder::new()
            .timeout(self.timeout)
            .url(&self.url)
            .map_err(|e| Failure::Transport(e.to_string()))?;
        match &self.config.auth {
            DaemonAuth::UserPass { user, password } => {
                builder = builder.auth(user.as_str(), Some(password.0.as_str()));
            }
            DaemonAuth::CookieFile(path) => builder = builder.cookie_auth(read_cookie(path)?),
            DaemonAuth::None => {}
        }
        let client = jsonrpc::Client::with_transport(builder.build());
        Ok(Client::from_jsonrpc(client))
    }
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

fn classify(e: jsonrpc::Error) -> Failure {
    match e {
        jsonrpc::Error::Rpc(r) => rpc_failure(r.code, r.message),
        jsonrpc::Error::Transport(t) => Failure::Transport(describe_transport(t.as_ref())),
        // The transport's "body is not JSON-RPC" (our requests always serialize).
        jsonrpc::Error::Json(e) => Failure::Transport(format!("answer is not JSON-RPC: {e}")),
        jsonrpc::Error::EmptyBatch => Failure::Answer(Error::bad("empty batch")),
        // Wrong ids or versions: the conversation is broken; try again on a fresh connection.
        other => Failure::Transport(other.to_string()),
    }
}

fn describe_transport(e: &(dyn std::error::Error + Send + Sync + 'static)) -> String {
    match e.downcast_ref::<simple_http::Error>() {
        Some(simple_http::Error::HttpErrorCode(401)) => {
            "HTTP 401 Unauthorized (check the user and password, or the cookie file)".to_string()
        }
        Some(simple_http::Error::HttpErrorCode(code)) => format!("HTTP status {code}"),
        Some(simple_http::Error::SocketError(e)) => e.to_string(),
        _ => e.to_string(),
    }
}

fn encode_params(params: &[Value]) -> Result<Box<RawValue>, Failure> {
    to_raw_value(params).map_err(|e| Failure::Answer(Error::bad(format!("params: {e}"))))
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
pub(crate) fn call(client: &Client, method: &str, params: &[Value]) -> Result<RawResult, Failure> {
    let params = encode_params(params)?;
    let jc = client.get_jsonrpc_client();
    let request = jc.build_request(method, Some(&params));
    let id = request.id.clone();
    let response = jc.send_request(request).map_err(classify)?;
    check_envelope(&response, &id)?;
    match response.error {
        Some(e) => Err(rpc_failure(e.code, e.message)),
        None => Ok(response.result),
    }
}

/// Calls of one method in one HTTP request (a JSON-RPC batch), answers in request order.
/// Any -28 makes the whole batch a [`Failure::WarmingUp`]; other error answers are per item.
pub(crate) fn batch(
    client: &Client,
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
    let jc = client.get_jsonrpc_client();
    let requests: Vec<_> = encoded
        .iter()
        .map(|p| jc.build_request(method, Some(p)))
        .collect();
    let responses = jc.send_batch(&requests).map_err(classify)?;
    let mut out = Vec::with_capacity(responses.len());
    for (i, (request, response)) in requests.iter().zip(responses).enumerate() {
        let response = response.ok_or_else(|| {
            Failure::Answer(Error::bad(format!(
                "no answer to item {i} of a batch of {}",
                requests.len()
            )))
        })?;
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
