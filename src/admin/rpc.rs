//! The admin service: SERVICES' `rpc` entries, ElectrumX's `LocalRPC`. Like every ElectrumX
//! session, `LocalRPC` is an aiorpcx JSON-RPC session (`JSONRPCAutoDetect`, newline
//! framing), with no response size limit and no request timeout; so this service uses the
//! same [`transport`](crate::transport) and [`jsonrpc`](crate::jsonrpc) rooms as the
//! Electrum sessions — dialect detection, batches, aiorpcx's errors and messages, argument
//! binding by position or by name (`electrumx_rpc` sends them by name) — and answers with
//! aiorpcx's bytes. Each request is bound to its command's signature and run in turn.
//!
//! As in ElectrumX (`SessionBase.handle_request`), a notification (a request without an id)
//! runs no command: it has no handler, and its `unknown method` error is not sent.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::commands::{self, Command};
use super::state::{Admin, After};
use crate::config::Protocol;
use crate::jsonrpc::{self, Answer, Batch, BatchDone, Detector, Parsed, Request, RpcError};
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

async fn serve(conn: Connection, admin: Arc<Admin>) {
    let Connection {
        mut reader,
        mut writer,
        ..
    } = conn;
    let shutdown: CancellationToken = admin.shutdown.clone();
    let mut detector = Detector::new();
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
        let Handled {
            reply,
            after,
            close,
        } = handle_message(&*admin, &msg, &mut detector).await;
        if let Some(reply) = reply {
            if let Err(e) = writer.send(reply).await {
                tracing::debug!("admin RPC: write failed: {e}");
                break;
            }
        }
        if close {
            break;
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

/// What one message led to.
struct Handled {
    /// The answer to send, if any.
    reply: Option<Vec<u8>>,
    /// What the commands asked for.
    after: After,
    /// aiorpcx's message loop would have died on this message: close the connection.
    close: bool,
}

/// What runs a command once its arguments are bound: the server ([`Admin`]), or a
/// stand-in in unit tests.
trait Run {
    async fn run(&self, cmd: Command, args: Vec<Option<Value>>)
        -> (Result<Value, RpcError>, After);
}

impl Run for Admin {
    async fn run(
        &self,
        cmd: Command,
        args: Vec<Option<Value>>,
    ) -> (Result<Value, RpcError>, After) {
        commands::run(self, cmd, args).await
    }
}

/// One message (a request or a batch), as aiorpcx's `JSONRPCConnection.receive_message` and
/// `RPCSession` handle it for `LocalRPC`: no response size limit.
async fn handle_message(admin: &impl Run, msg: &[u8], detector: &mut Detector) -> Handled {
    match jsonrpc::parse(msg, detector) {
        Err(fault) => {
            tracing::debug!("admin RPC: bad message: {}", fault.message);
            Handled {
                reply: fault.reply,
                after: After::default(),
                close: fault.fatal,
            }
        }
        Ok(Parsed::Single(req)) => {
            let (outcome, after) = handle_request(admin, &req).await;
            Handled {
                reply: req.response(outcome.as_ref(), 0),
                after,
                close: false,
            }
        }
        Ok(Parsed::Batch(Batch {
            requests,
            mut collector,
        })) => {
            let mut handled = Handled {
                reply: None,
                after: After::default(),
                close: false,
            };
            for (i, req) in requests.iter().enumerate() {
                let (outcome, after) = handle_request(admin, req).await;
                handled.after.stop |= after.stop;
                let outcome = outcome.map(Answer::Value);
                if let Some(BatchDone::Reply(reply)) =
                    collector.record(i, Some(outcome.as_ref()), 0)
                {
                    handled.reply = Some(reply);
                }
            }
            handled
        }
    }
}

/// One request: ElectrumX's `SessionBase.handle_request` then aiorpcx's
/// `handler_invocation` — the command, its arguments bound to its signature. A notification
/// has no handler (ElectrumX runs no command for it).
async fn handle_request(admin: &impl Run, req: &Request) -> (Result<Value, RpcError>, After) {
    let command = if req.is_notification() {
        None
    } else {
        Command::lookup(&req.method)
    };
    let Some(cmd) = command else {
        return (Err(RpcError::unknown_method(&req.method)), After::default());
    };
    match jsonrpc::bind(&req.method, &cmd.signature(), &req.params) {
        Err(e) => (Err(e), After::default()),
        Ok(args) => admin.run(cmd, args).await,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::{json, Value};

    use super::*;
    use crate::jsonrpc::{Params, RpcError, Signature};

    const SIG: Signature = Signature {
        names: &["items", "limit"],
        required: 1,
        varargs: false,
        varkw: false,
    };

    /// The commands' arguments are bound by the Electrum side's binder.
    fn bind(method: &str, sig: Signature, params: Value) -> Result<Vec<Option<Value>>, RpcError> {
        let params = match params {
            Value::Object(named) => Params::Named(named),
            Value::Array(args) => Params::List(args),
            _ => Params::List(Vec::new()),
        };
        crate::jsonrpc::bind(method, &sig, &params)
    }

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

    /// Commands as a server with no peers and no session 998 answers them; records what ran.
    #[derive(Default)]
    struct Fake(Mutex<Vec<Command>>);

    impl Run for Fake {
        async fn run(
            &self,
            cmd: Command,
            args: Vec<Option<Value>>,
        ) -> (Result<Value, RpcError>, After) {
            self.0.lock().unwrap().push(cmd);
            match (cmd, args.first()) {
                (Command::Peers, _) => (Ok(json!([])), After::default()),
                (Command::Disconnect, Some(Some(Value::Array(_)))) => {
                    (Ok(json!(["unknown: 998"])), After::default())
                }
                (Command::Disconnect, _) => (
                    Err(RpcError::bad_request("expected a list of session IDs")),
                    After::default(),
                ),
                (Command::Stop, _) => (Ok(json!("stopping")), After { stop: true }),
                _ => (Err(RpcError::internal()), After::default()),
            }
        }
    }

    /// Each case is one connection: the lines sent, and what ElectrumX 1.20's `LocalRPC`
    /// answered to them (recorded from `electrumx_server` with `SERVICES=rpc://`; `None`:
    /// it closed the connection).
    #[tokio::test]
    async fn answers_are_electrumx_local_rpc_answers() {
        let deep = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
        let cases: Vec<(Vec<&[u8]>, Option<&str>)> = vec![
            (vec![b"{not json"], Some(r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"invalid JSON"},"id":null}"#)),
            (vec![b"\xff\xfe"], Some(r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"messages must be encoded in UTF-8"},"id":null}"#)),
            (vec![br#"{"jsonrpc":"2.0","id":1,"method":"nosuch"}"#], Some(r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"unknown method \"nosuch\""},"id":1}"#)),
            (vec![br#"{"jsonrpc":"2.0","id":null,"method":"peers"}"#], Some("")),
            (vec![br#"{"jsonrpc":"2.0","id":1,"method":"peers","params":null}"#], Some(r#"{"jsonrpc":"2.0","error":{"code":-32602,"message":"invalid request arguments: None"},"id":1}"#)),
            (vec![br#"{"jsonrpc":"2.0","id":1,"method":5}"#], Some(r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"method must be a string"},"id":1}"#)),
            (vec![br#"{"jsonrpc":"2.0","id":1,"method":"peers","params":"x"}"#], Some(r#"{"jsonrpc":"2.0","error":{"code":-32602,"message":"invalid request arguments: x"},"id":1}"#)),
            (vec![br#"{"jsonrpc":"1.0","id":1,"method":"peers","params":[]}"#], Some(r#"{"result":[],"error":null,"id":1}"#)),
            (vec![br#"{"jsonrpc":"1.0","id":1,"method":"peers"}"#], Some(r#"{"result":null,"error":{"code":-32602,"message":"invalid request arguments: None"},"id":1}"#)),
            (vec![br#"{"id":1,"method":"peers"}"#], Some(r#"{"jsonrpc":"2.0","result":[],"id":1}"#)),
            (vec![br#"{"jsonrpc":"2.5","id":1,"method":"peers"}"#], Some(r#"{"jsonrpc":"2.0","result":[],"id":1}"#)),
            (vec![br#"[{"jsonrpc":"2.0","id":6,"method":"peers"},{"jsonrpc":"2.0","id":7,"method":"disconnect","params":[["998"]]}]"#], Some(r#"[{"jsonrpc":"2.0","result":[],"id":6}, {"jsonrpc":"2.0","result":["unknown: 998"],"id":7}]"#)),
            (vec![b"[]"], Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"batch is empty"},"id":null}"#)),
            (vec![b"[1,2]"], Some(r#"[{"jsonrpc":"2.0","error":{"code":-32600,"message":"request object must be a dictionary"},"id":null}, {"jsonrpc":"2.0","error":{"code":-32600,"message":"request object must be a dictionary"},"id":null}]"#)),
            (vec![br#"[{"jsonrpc":"2.0","method":"peers"}, 5]"#], Some("")),
            (vec![br#"{"jsonrpc":"2.0","id":[1],"method":"peers"}"#], Some(r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"invalid \"id\": [1]"},"id":null}"#)),
            (vec![br#"{"jsonrpc":"2.0","id":1.5,"method":"peers"}"#], Some(r#"{"jsonrpc":"2.0","result":[],"id":1.5}"#)),
            (vec!["{\"jsonrpc\":\"2.0\",\"id\":\"\u{e9}\",\"method\":\"nosuch\"}".as_bytes()], Some(r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"unknown method \"nosuch\""},"id":"\u00e9"}"#)),
            (vec![br#"{"jsonrpc":"2.0","id":12345678901234567890123,"method":"nosuch"}"#], Some(r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"unknown method \"nosuch\""},"id":12345678901234567890123}"#)),
            (vec![br#"{"jsonrpc":"2.0","id":3,"method":"peers","params":[1]}"#], Some(r#"{"jsonrpc":"2.0","error":{"code":-32602,"message":"1 argument passed to method peers taking at most 0"},"id":3}"#)),
            (vec![br#"{"jsonrpc":"2.0","id":4,"method":"peers","params":{"x":1}}"#], Some(r#"{"jsonrpc":"2.0","error":{"code":-32602,"message":"method \"peers\" does not take parameter \"x\""},"id":4}"#)),
            (vec![br#"{"jsonrpc":"2.0","id":5,"method":"disconnect","params":{"session_ids":"3"}}"#], Some(r#"{"jsonrpc":"2.0","error":{"code":1,"message":"expected a list of session IDs"},"id":5}"#)),
            (vec![br#"{"jsonrpc":"2.0","result":1,"id":1}"#, br#"{"jsonrpc":"2.0","id":9,"method":"peers"}"#], Some(r#"{"jsonrpc":"2.0","result":[],"id":9}"#)),
            (vec![br#"{"jsonrpc":"2.0","method":"nosuch"}"#, br#"{"jsonrpc":"2.0","id":9,"method":"peers"}"#], Some(r#"{"jsonrpc":"2.0","result":[],"id":9}"#)),
            (vec![deep.as_bytes(), br#"{"jsonrpc":"2.0","id":9,"method":"peers"}"#], None),
        ];
        for (lines, want) in cases {
            let fake = Fake::default();
            let mut detector = Detector::new();
            let mut sent = String::new();
            let mut closed = false;
            for line in &lines {
                let handled = handle_message(&fake, line, &mut detector).await;
                if let Some(reply) = handled.reply {
                    sent.push_str(&String::from_utf8(reply).unwrap());
                }
                if handled.close {
                    closed = true;
                    break;
                }
            }
            let got = (!closed).then_some(sent.as_str());
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(lines[0]));
        }
    }

    /// ElectrumX runs no command for a notification (it has no handler): `stop` without an
    /// id does not stop the server.
    #[tokio::test]
    async fn notifications_run_no_command() {
        let fake = Fake::default();
        let mut detector = Detector::new();
        let handled = handle_message(
            &fake,
            br#"{"jsonrpc":"2.0","method":"stop"}"#,
            &mut detector,
        )
        .await;
        assert!(handled.reply.is_none() && !handled.after.stop && !handled.close);
        let batch =
            br#"[{"jsonrpc":"2.0","method":"stop"},{"jsonrpc":"2.0","id":1,"method":"peers"}]"#;
        let handled = handle_message(&fake, batch, &mut detector).await;
        assert!(!handled.after.stop);
        assert_eq!(
            handled.reply.map(String::from_utf8),
            Some(Ok(r#"[{"jsonrpc":"2.0","result":[],"id":1}]"#.to_owned()))
        );
        assert_eq!(*fake.0.lock().unwrap(), vec![Command::Peers]);
        let handled = handle_message(
            &fake,
            br#"{"jsonrpc":"2.0","id":2,"method":"stop"}"#,
            &mut detector,
        )
        .await;
        assert!(handled.after.stop);
    }
}
