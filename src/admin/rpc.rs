//! The admin RPC's transport: listeners for SERVICES' `rpc` entries, newline-framed
//! JSON-RPC 2.0 (batches too), arguments by position or by name (`electrumx_rpc` sends them
//! by name), and errors with aiorpcx's codes and messages: `-32700` for bad JSON, `-32600`
//! for a malformed request, `-32601` `unknown method "…"`, `-32602` for wrong arguments,
//! and `1` (ElectrumX's BAD_REQUEST) for bad values.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use super::{commands, Admin};
use crate::config::Protocol;
use crate::jsonrpc::{self, Params, RpcError, Signature, INVALID_REQUEST, PARSE_ERROR};
use crate::transport::{Connection, Listener, RecvError};

/// Largest request line accepted when MAX_RECV is 0 ("no limit") — the admin port is
/// local, but a stray client must not exhaust memory.
const MAX_LINE: usize = 16 << 20;

/// An admin connection that sends nothing for this long is closed (a forgotten client must
/// not hold a task until shutdown).
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Binds every `rpc` service of SERVICES and serves it until shutdown.
///
/// # Errors
/// A one-line message when a service cannot be bound.
pub async fn start(admin: Arc<Admin>) -> Result<(), String> {
    let max_recv = match admin.config.max_recv {
        0 => MAX_LINE,
        n => n.max(64 << 10),
    };
    let services: Vec<_> = admin
        .config
        .services
        .iter()
        .filter(|s| s.protocol == Protocol::Rpc)
        .cloned()
        .collect();
    let mut listeners = Vec::new();
    for s in &services {
        let l = Listener::bind(s, None, max_recv)
            .await
            .map_err(|e| format!("cannot listen on {s}: {e}"))?;
        for addr in l.local_addrs() {
            tracing::info!(service = "rpc", %addr, "admin RPC listening");
        }
        listeners.push(l);
    }
    for l in listeners {
        tokio::spawn(accept_loop(l, admin.clone()));
    }
    Ok(())
}

async fn accept_loop(listener: Listener, admin: Arc<Admin>) {
    let shutdown = admin.shutdown.clone();
    loop {
        let incoming = tokio::select! {
            _ = shutdown.cancelled() => return,
            i = listener.accept() => i,
        };
        match incoming {
            Ok(incoming) => {
                let admin = admin.clone();
                tokio::spawn(async move {
                    match incoming.handshake().await {
                        Ok(conn) => serve(conn, admin).await,
                        Err(e) => tracing::debug!("admin RPC connection failed: {e}"),
                    }
                });
            }
            Err(e) => {
                tracing::warn!("admin RPC: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// What the connection does after answering.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct After {
    /// Shut the server down (`stop`), once the answer is written.
    pub stop: bool,
}

async fn serve(conn: Connection, admin: Arc<Admin>) {
    let Connection {
        mut reader,
        mut writer,
        ..
    } = conn;
    let shutdown: CancellationToken = admin.shutdown.clone();
    loop {
        let msg = tokio::select! {
            _ = shutdown.cancelled() => break,
            m = tokio::time::timeout(IDLE_TIMEOUT, reader.recv()) => match m {
                Ok(m) => m,
                Err(_) => {
                    tracing::debug!("admin RPC: closing an idle connection");
                    break;
                }
            },
        };
        let msg = match msg {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(RecvError::TooLarge { limit }) => {
                tracing::warn!(limit, "admin RPC: dropping an oversized request");
                continue;
            }
            Err(RecvError::Io(e)) => {
                tracing::debug!("admin RPC: read failed: {e}");
                break;
            }
        };
        let (reply, after) = handle_message(&admin, &msg).await;
        if let Some(reply) = reply {
            if let Err(e) = writer.send(reply.to_string().into_bytes()).await {
                tracing::debug!("admin RPC: write failed: {e}");
                break;
            }
        }
        if after.stop {
            tracing::info!(
                "shutting down (admin RPC stop): finishing the current block and flushing"
            );
            let _ = writer.close().await;
            admin.shutdown.cancel();
            break;
        }
    }
    let _ = writer.close().await;
}

/// One message (a request or a batch): the reply to send, if any.
pub(super) async fn handle_message(admin: &Admin, msg: &[u8]) -> (Option<Value>, After) {
    let Ok(text) = std::str::from_utf8(msg) else {
        let e = RpcError::new(PARSE_ERROR, "messages must be encoded in UTF-8");
        return (Some(error_reply(&e, &Value::Null)), After::default());
    };
    let parsed: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => {
            let e = RpcError::new(PARSE_ERROR, "invalid JSON");
            return (Some(error_reply(&e, &Value::Null)), After::default());
        }
    };
    match parsed {
        Value::Array(items) if items.is_empty() => {
            let e = RpcError::new(INVALID_REQUEST, "batch is empty");
            (Some(error_reply(&e, &Value::Null)), After::default())
        }
        Value::Array(items) => {
            let mut replies = Vec::new();
            let mut after = After::default();
            for item in items {
                let (reply, a) = handle_request(admin, item).await;
                after.stop |= a.stop;
                replies.extend(reply);
            }
            let reply = (!replies.is_empty()).then_some(Value::Array(replies));
            (reply, after)
        }
        single => handle_request(admin, single).await,
    }
}

/// One request object: its reply (none for a notification).
async fn handle_request(admin: &Admin, request: Value) -> (Option<Value>, After) {
    let Value::Object(mut request) = request else {
        let e = RpcError::invalid_request("request object must be a dictionary");
        return (Some(error_reply(&e, &Value::Null)), After::default());
    };
    let id = match request.get("id") {
        None => None,
        Some(id @ (Value::Null | Value::Number(_) | Value::String(_))) => Some(id.clone()),
        Some(other) => {
            let e = RpcError::invalid_request(format!("invalid \"id\": {other}"));
            return (Some(error_reply(&e, &Value::Null)), After::default());
        }
    };
    let reply_id = id.clone().unwrap_or(Value::Null);
    if let Some(v) = request.get("jsonrpc") {
        if v != "2.0" && v != "1.0" {
            let e = RpcError::invalid_request("\"jsonrpc\" is not \"2.0\"");
            return (Some(error_reply(&e, &reply_id)), After::default());
        }
    }
    let method = match request.remove("method") {
        Some(Value::String(m)) => m,
        _ => {
            let e = RpcError::invalid_request("missing or non-string \"method\"");
            return (Some(error_reply(&e, &reply_id)), After::default());
        }
    };
    let params = match request.remove("params") {
        None | Some(Value::Null) => Value::Array(Vec::new()),
        Some(p @ (Value::Array(_) | Value::Object(_))) => p,
        Some(other) => {
            let e = RpcError::invalid_args(format!("invalid request arguments: {other}"));
            return (Some(error_reply(&e, &reply_id)), After::default());
        }
    };
    let (outcome, after) = match commands::Command::lookup(&method) {
        None => (Err(RpcError::unknown_method(&method)), After::default()),
        Some(cmd) => match bind(&method, cmd.signature(), params) {
            Err(e) => (Err(e), After::default()),
            Ok(args) => commands::run(admin, cmd, args).await,
        },
    };
    // A notification (no "id") gets no answer, whatever the outcome.
    if id.is_none() {
        return (None, after);
    }
    let reply = match outcome {
        Ok(result) => json!({"jsonrpc": "2.0", "result": result, "id": reply_id}),
        Err(e) => error_reply(&e, &reply_id),
    };
    (Some(reply), after)
}

fn error_reply(e: &RpcError, id: &Value) -> Value {
    json!({"jsonrpc": "2.0", "error": {"code": e.code, "message": e.message}, "id": id})
}

/// The arguments in signature order (`None` where an optional one was left out), bound as
/// aiorpcx binds them (the Electrum side's binding; commands take no `*args`/`**kwargs`).
fn bind(method: &str, sig: Signature, params: Value) -> Result<Vec<Option<Value>>, RpcError> {
    let params = match params {
        Value::Object(named) => Params::Named(named),
        Value::Array(args) => Params::List(args),
        _ => Params::List(Vec::new()),
    };
    jsonrpc::bind(method, &sig, &params)
}

/// A request in the shape `ferrumx_rpc` and `electrumx_rpc` send (arguments by name).
pub fn request(id: u64, method: &str, params: Map<String, Value>) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: Signature = Signature {
        names: &["items", "limit"],
        required: 1,
        varargs: false,
        varkw: false,
    };

    #[test]
    fn binding_as_aiorpcx() {
        assert_eq!(
            bind("query", SIG, json!(["a"])),
            Ok(vec![Some(json!("a")), None])
        );
        assert_eq!(
            bind("query", SIG, json!({"limit": 5, "items": []})),
            Ok(vec![Some(json!([])), Some(json!(5))])
        );
        let e = bind("query", SIG, json!([])).expect_err("too few");
        assert_eq!(e.code, -32602);
        assert_eq!(
            e.message,
            "0 arguments passed to method \"query\" but it requires 1"
        );
        let e = bind("query", SIG, json!([1, 2, 3])).expect_err("too many");
        assert_eq!(
            e.message,
            "3 arguments passed to method query taking at most 2"
        );
        let e = bind("query", SIG, json!({"limit": 1})).expect_err("missing");
        assert_eq!(e.message, "method \"query\" requires parameter \"items\"");
        let e = bind("query", SIG, json!({"items": [], "x": 1, "a": 2})).expect_err("excess");
        assert_eq!(
            e.message,
            "method \"query\" does not take parameters \"a\", \"x\""
        );
    }
}
