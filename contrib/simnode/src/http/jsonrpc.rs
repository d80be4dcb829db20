//! JSON-RPC semantics of Bitcoin Core 29.0 (`httprpc.cpp`, `rpc/request.cpp`, `rpc/server.cpp`):
//! legacy 1.0/1.1 versus 2.0 envelopes, HTTP status per error code, notifications, batches,
//! warm-up, and named parameters. No sockets here: a request body goes in, a [`Reply`] comes out.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{Control, Handler, RpcError};
use crate::json::Json;

const RPC_INVALID_PARAMETER: i64 = -8;
const RPC_IN_WARMUP: i64 = -28;
const RPC_INVALID_REQUEST: i64 = -32600;
const RPC_METHOD_NOT_FOUND: i64 = -32601;
const RPC_PARSE_ERROR: i64 = -32700;

/// The answer to one HTTP request body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `application/json` with this status; the body ends with a newline.
    Json { status: u16, body: String },
    /// 204 with no body: a 2.0 notification, or a batch of nothing but notifications.
    NoContent,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    /// 1.0/1.1, or no `jsonrpc` key: both `result` and `error`, errors as HTTP errors.
    Legacy,
    /// `"jsonrpc":"2.0"`: one of `result`/`error`, HTTP 200.
    V2,
}

/// Core's `JSONRPCRequest` envelope state. Core reuses one across a batch, so an item that is
/// not an object is answered with the id and version of the item before it; so do we.
struct Envelope {
    /// `None` when the request had no `id` key (then the reply has none either).
    id: Option<Value>,
    version: Version,
}

impl Envelope {
    fn new() -> Envelope {
        Envelope {
            id: Some(Value::Null),
            version: Version::Legacy,
        }
    }

    fn is_notification(&self) -> bool {
        self.id.is_none() && self.version == Version::V2
    }
}

struct Call<'a> {
    method: &'a str,
    params: &'a Value,
}

static NO_PARAMS: Value = Value::Array(Vec::new());

fn invalid(message: &str) -> RpcError {
    RpcError::new(RPC_INVALID_REQUEST, message)
}

/// `JSONRPCRequest::parse`: fills the envelope as far as it gets, then checks method and params.
fn parse<'a>(env: &mut Envelope, request: &'a Value) -> Result<Call<'a>, RpcError> {
    let Value::Object(obj) = request else {
        return Err(invalid("Invalid Request object"));
    };
    env.id = obj.get("id").cloned();
    env.version = Version::Legacy;
    match obj.get("jsonrpc") {
        None | Some(Value::Null) => {}
        Some(Value::String(v)) if v == "1.0" => {}
        Some(Value::String(v)) if v == "2.0" => env.version = Version::V2,
        Some(Value::String(_)) => return Err(invalid("JSON-RPC version not supported")),
        Some(_) => return Err(invalid("jsonrpc field must be a string")),
    }
    let method = match obj.get("method") {
        None | Some(Value::Null) => return Err(invalid("Missing method")),
        Some(Value::String(m)) => m.as_str(),
        Some(_) => return Err(invalid("Method must be a string")),
    };
    let params = match obj.get("params") {
        None | Some(Value::Null) => &NO_PARAMS,
        Some(p @ (Value::Array(_) | Value::Object(_))) => p,
        Some(_) => return Err(invalid("Params must be an array or object")),
    };
    Ok(Call { method, params })
}

/// `CRPCTable::execute`: warm-up first, then the method, named params mapped to positions.
fn execute(handler: &dyn Handler, control: &Control, call: &Call) -> Result<Json, RpcError> {
    if let Some(status) = control.warmup() {
        return Err(RpcError::new(RPC_IN_WARMUP, status));
    }
    let positional: Cow<'_, [Value]> = match call.params {
        Value::Object(named) => {
            let names = handler
                .param_names(call.method)
                .ok_or_else(|| RpcError::new(RPC_METHOD_NOT_FOUND, "Method not found"))?;
            Cow::Owned(named_to_positional(
                named,
                names,
                handler.named_only(call.method),
            )?)
        }
        Value::Array(items) => Cow::Borrowed(items.as_slice()),
        _ => Cow::Borrowed(&[]),
    };
    control.count_call();
    if call.method == "getblock" {
        control.count_rpc_block();
    }
    handler.call(call.method, &positional)
}

/// `transformNamedArguments`: `names` in positional order, aliases separated by `|`; holes
/// between given parameters become `null`; an `args` array supplies leading positions.
/// `named_only` (Core's `OBJ_NAMED_PARAMS`): named parameters gathered into the options
/// object at the given position.
pub(crate) fn named_to_positional(
    named: &Map<String, Value>,
    names: &[&str],
    named_only: Option<(usize, &[&str])>,
) -> Result<Vec<Value>, RpcError> {
    let mut left: Vec<(&str, &Value)> = named.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut take = |key: &str| {
        let i = left.iter().position(|(k, _)| *k == key)?;
        Some(left.remove(i))
    };
    // Core's `argNames`: the named-only ones just before the object they go into.
    let mut expanded: Vec<(&str, bool)> = Vec::new();
    for (i, pattern) in names.iter().enumerate() {
        if let Some((_, inner)) = named_only.filter(|(at, _)| *at == i) {
            expanded.extend(inner.iter().map(|n| (*n, true)));
        }
        expanded.push((pattern, false));
    }
    let mut out = Vec::new();
    let mut options = serde_json::Map::new();
    let (mut hole, mut initial_hole) = (0usize, 0usize);
    let mut initial_param = None;
    for (pattern, is_named_only) in expanded {
        let found = pattern.split('|').find_map(&mut take);
        if is_named_only {
            if let Some((key, value)) = found {
                options.insert(key.to_string(), value.clone());
            }
            continue;
        }
        if !options.is_empty() || found.is_some() {
            out.extend(std::iter::repeat_n(Value::Null, hole));
            hole = 0;
            initial_param.get_or_insert(pattern);
        } else {
            hole += 1;
            if out.is_empty() {
                initial_hole = hole;
            }
        }
        if let Some((key, value)) = found {
            if !options.is_empty() {
                return Err(RpcError::new(
                    RPC_INVALID_PARAMETER,
                    format!("Parameter {key} conflicts with other parameters"),
                ));
            }
            out.push(value.clone());
        }
        if !options.is_empty() {
            out.push(Value::Object(std::mem::take(&mut options)));
        }
    }
    if let Some((_, Value::Array(args))) = take("args") {
        if let Some(param) = initial_param.filter(|_| initial_hole < args.len()) {
            return Err(RpcError::new(
                RPC_INVALID_PARAMETER,
                format!("Parameter {param} specified twice both as positional and named argument"),
            ));
        }
        let named_args = std::mem::replace(&mut out, args.clone());
        if named_args.len() > out.len() {
            let from = out.len();
            out.extend_from_slice(&named_args[from..]);
        }
    }
    if let Some((key, _)) = left.first() {
        return Err(RpcError::new(
            RPC_INVALID_PARAMETER,
            format!("Unknown named parameter {key}"),
        ));
    }
    Ok(out)
}

/// `JSONRPCReplyObj` as text: `jsonrpc` first in 2.0, `id` last and only if the request had one.
fn reply_object(env: &Envelope, outcome: &Result<Json, RpcError>) -> String {
    let mut s = String::from("{");
    if env.version == Version::V2 {
        s.push_str("\"jsonrpc\":\"2.0\",");
    }
    match outcome {
        Ok(result) => {
            s.push_str("\"result\":");
            result.write(&mut s);
            if env.version == Version::Legacy {
                s.push_str(",\"error\":null");
            }
        }
        Err(e) => {
            if env.version == Version::Legacy {
                s.push_str("\"result\":null,");
            }
            s.push_str("\"error\":");
            Json::obj()
                .with("code", e.code)
                .with("message", e.message.as_str())
                .write(&mut s);
        }
    }
    if let Some(id) = &env.id {
        s.push_str(",\"id\":");
        write_value(id, &mut s);
    }
    s.push('}');
    s
}

/// Writes a request value back compactly; numbers as serde_json read them.
fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(entries) => {
            out.push('{');
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                Json::Str(k.clone()).write(out);
                out.push(':');
                write_value(item, out);
            }
            out.push('}');
        }
        other => Json::from_value(other).write(out),
    }
}

/// `JSONErrorReply`: HTTP 400 for -32600, 404 for -32601, 500 for anything else.
fn error_reply(env: &Envelope, error: RpcError) -> Reply {
    let status = match error.code {
        RPC_INVALID_REQUEST => 400,
        RPC_METHOD_NOT_FOUND => 404,
        _ => 500,
    };
    Reply::Json {
        status,
        body: reply_object(env, &Err(error)) + "\n",
    }
}

/// `HTTPReq_JSONRPC` after authentication: one request body to one reply.
pub(crate) fn process(body: &[u8], handler: &dyn Handler, control: &Control) -> Reply {
    let mut env = Envelope::new();
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return error_reply(&env, RpcError::new(RPC_PARSE_ERROR, "Parse error"));
    };
    match &request {
        Value::Object(_) => {
            let call = match parse(&mut env, &request) {
                Ok(call) => call,
                Err(e) => return error_reply(&env, e),
            };
            let outcome = execute(handler, control, &call);
            if env.version == Version::Legacy {
                if let Err(e) = outcome {
                    return error_reply(&env, e);
                }
            }
            if env.is_notification() {
                return Reply::NoContent;
            }
            Reply::Json {
                status: 200,
                body: reply_object(&env, &outcome) + "\n",
            }
        }
        Value::Array(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                let outcome = parse(&mut env, item).and_then(|c| execute(handler, control, &c));
                if !env.is_notification() {
                    parts.push(reply_object(&env, &outcome));
                }
            }
            // Core answers an empty batch with `[]`, an all-notification batch with 204.
            if parts.is_empty() && !items.is_empty() {
                return Reply::NoContent;
            }
            Reply::Json {
                status: 200,
                body: format!("[{}]\n", parts.join(",")),
            }
        }
        _ => error_reply(
            &env,
            RpcError::new(RPC_PARSE_ERROR, "Top-level object parse error"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Echo;
    impl Handler for Echo {
        fn call(&self, method: &str, params: &[Value]) -> Result<Json, RpcError> {
            match method {
                "echo" => Ok(Json::from_value(&Value::Array(params.to_vec()))),
                _ => Err(RpcError::new(RPC_METHOD_NOT_FOUND, "Method not found")),
            }
        }
        fn param_names(&self, method: &str) -> Option<&'static [&'static str]> {
            (method == "echo").then_some(&["a", "b|bee", "c"])
        }
    }

    fn run(body: &str) -> Reply {
        process(body.as_bytes(), &Echo, &Control::new())
    }

    fn json(status: u16, body: &str) -> Reply {
        Reply::Json {
            status,
            body: format!("{body}\n"),
        }
    }

    #[test]
    fn envelopes() {
        assert_eq!(
            run(r#"{"jsonrpc":2,"method":"echo"}"#),
            json(
                400,
                r#"{"result":null,"error":{"code":-32600,"message":"jsonrpc field must be a string"}}"#
            )
        );
        assert_eq!(
            run(r#"{"jsonrpc":"2.0","id":[1.5,"x"],"method":"echo","params":[1]}"#),
            json(200, r#"{"jsonrpc":"2.0","result":[1],"id":[1.5,"x"]}"#)
        );
        assert_eq!(
            run(r#"{"method":"echo","params":[true]}"#),
            json(200, r#"{"result":[true],"error":null}"#)
        );
        assert_eq!(
            run("7"),
            json(
                500,
                r#"{"result":null,"error":{"code":-32700,"message":"Top-level object parse error"},"id":null}"#
            )
        );
        assert_eq!(run("[]"), json(200, "[]"));
        assert_eq!(
            run(r#"[{"jsonrpc":"2.0","method":"echo"}]"#),
            Reply::NoContent
        );
    }

    #[test]
    fn batch_items_reuse_the_previous_envelope() {
        assert_eq!(
            run(r#"[{"id":7,"method":"echo"},3,{"pizza":1,"id":8},{"jsonrpc":"2.1","id":9}]"#),
            json(
                200,
                concat!(
                    r#"[{"result":[],"error":null,"id":7},"#,
                    r#"{"result":null,"error":{"code":-32600,"message":"Invalid Request object"},"id":7},"#,
                    r#"{"result":null,"error":{"code":-32600,"message":"Missing method"},"id":8},"#,
                    r#"{"result":null,"error":{"code":-32600,"message":"JSON-RPC version not supported"},"id":9}]"#
                )
            )
        );
        // After a 2.0 notification, a non-object item is itself treated as one and dropped.
        assert_eq!(
            run(
                r#"[{"jsonrpc":"2.0","method":"echo"},"x",{"jsonrpc":"2.0","method":"echo","id":1}]"#
            ),
            json(200, r#"[{"jsonrpc":"2.0","result":[],"id":1}]"#)
        );
    }

    #[test]
    fn named_params_like_core() {
        let names = &["a", "b|bee", "c"];
        let map = |v: Value| v.as_object().cloned().unwrap();
        let t = |v: Value| named_to_positional(&map(v), names, None);
        assert_eq!(
            t(json!({"c": 3})).unwrap(),
            vec![Value::Null, Value::Null, json!(3)]
        );
        assert_eq!(t(json!({"bee": 2})).unwrap(), vec![Value::Null, json!(2)]);
        assert_eq!(t(json!({})).unwrap(), Vec::<Value>::new());
        assert_eq!(
            t(json!({"args": [1, 2], "c": 3})).unwrap(),
            vec![json!(1), json!(2), json!(3)]
        );
        assert_eq!(
            t(json!({"args": [1], "a": 0})).unwrap_err().message,
            "Parameter a specified twice both as positional and named argument"
        );
        assert_eq!(
            t(json!({"zz": 1})).unwrap_err(),
            RpcError::new(-8, "Unknown named parameter zz")
        );
    }
}
