//! Writing JSON-RPC messages as aiorpcx does (`json.dumps(payload, separators=(',', ':'))`):
//! responses, notifications from the server and batch answers, in each [`Dialect`]'s
//! envelope.

use std::fmt::Write as _;

use serde_json::Value;

use super::answer::Answer;
use super::dialect::Dialect;
use super::error::RpcError;
use crate::py::dumps::{dumps, write_json_str, write_value};
use crate::py::repr::write_seq;

/// A request id exactly as the client sent it, kept as the text Python's `json.dumps` writes
/// for it (so ids serde_json cannot hold, like `123456789012345678901234567890` or `NaN`,
/// are echoed as ElectrumX echoes them).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Id(String);

impl Id {
    /// The id of a JSON value (how ElectrumX would write it back).
    pub fn from_value(value: &Value) -> Id {
        Id(dumps(value))
    }

    /// An id from the JSON text `json.dumps` wrote for it.
    pub(super) fn from_json(text: String) -> Id {
        Id(text)
    }

    /// The id as JSON text.
    pub fn as_json(&self) -> &str {
        &self.0
    }
}

/// The response message for a result or error (no size limit applied), as aiorpcx's
/// `response_message` writes it in `dialect`; `id` `None` is written as `null`.
pub fn encode_response(
    dialect: Dialect,
    id: Option<&Id>,
    outcome: Result<&Value, &RpcError>,
) -> Vec<u8> {
    encode_with(dialect, id, outcome.map(Body::Value))
}

/// [`encode_response`] for an [`Answer`].
pub fn encode_answer(
    dialect: Dialect,
    id: Option<&Id>,
    outcome: Result<&Answer, &RpcError>,
) -> Vec<u8> {
    encode_with(dialect, id, outcome.map(Body::Answer))
}

/// The length [`encode_answer`] would give a successful `answer` whose JSON length is
/// `json_len`.
pub(super) fn answer_len(dialect: Dialect, id: Option<&Id>, json_len: usize) -> usize {
    let id = id.map_or("null", Id::as_json);
    let envelope = match dialect {
        Dialect::V1 => "{\"result\":,\"error\":null,\"id\":}".len(),
        Dialect::V2 | Dialect::Loose => "{\"jsonrpc\":\"2.0\",\"result\":,\"id\":}".len(),
    };
    envelope + json_len + id.len()
}

enum Body<'a> {
    Value(&'a Value),
    Answer(&'a Answer),
}

fn encode_with(dialect: Dialect, id: Option<&Id>, outcome: Result<Body<'_>, &RpcError>) -> Vec<u8> {
    let capacity = match &outcome {
        Ok(Body::Answer(a)) => a.known_len().map_or(64, |n| answer_len(dialect, id, n)),
        _ => 64,
    };
    let mut out = String::with_capacity(capacity);
    let id = id.map_or("null", Id::as_json);
    let write_result = |out: &mut String, result: Body<'_>| match result {
        Body::Value(v) => write_value(out, v),
        Body::Answer(a) => a.write(out),
    };
    match (dialect, outcome) {
        (Dialect::V1, Ok(result)) => {
            out.push_str("{\"result\":");
            write_result(&mut out, result);
            out.push_str(",\"error\":null,\"id\":");
        }
        (Dialect::V1, Err(error)) => {
            out.push_str("{\"result\":null,\"error\":");
            write_error(&mut out, error);
            out.push_str(",\"id\":");
        }
        (Dialect::V2 | Dialect::Loose, Ok(result)) => {
            out.push_str("{\"jsonrpc\":\"2.0\",\"result\":");
            write_result(&mut out, result);
            out.push_str(",\"id\":");
        }
        (Dialect::V2 | Dialect::Loose, Err(error)) => {
            out.push_str("{\"jsonrpc\":\"2.0\",\"error\":");
            write_error(&mut out, error);
            out.push_str(",\"id\":");
        }
    }
    out.push_str(id);
    out.push('}');
    out.into_bytes()
}

fn write_error(out: &mut String, error: &RpcError) {
    let _ = write!(out, "{{\"code\":{},\"message\":", error.code);
    write_json_str(out, &error.message);
    out.push('}');
}

/// A notification from the server (`RPCSession.send_notification(method, args)`): V2/Loose
/// `{"jsonrpc":"2.0","method":M,"params":[…]}` without `"params"` when there are none (as
/// ElectrumX's empty `blockchain.relayfee`/`blockchain.estimatefee` notifications to old
/// clients), V1 `{"method":M,"params":[…],"id":null}`.
pub fn encode_notification(dialect: Dialect, method: &str, params: &[Value]) -> Vec<u8> {
    let mut out = String::with_capacity(64);
    let write_params = |out: &mut String| write_seq(out, '[', ",", ']', params, write_value);
    match dialect {
        Dialect::V1 => {
            out.push_str("{\"method\":");
            write_json_str(&mut out, method);
            out.push_str(",\"params\":");
            write_params(&mut out);
            out.push_str(",\"id\":null}");
        }
        Dialect::V2 | Dialect::Loose => {
            out.push_str("{\"jsonrpc\":\"2.0\",\"method\":");
            write_json_str(&mut out, method);
            if !params.is_empty() {
                out.push_str(",\"params\":");
                write_params(&mut out);
            }
            out.push('}');
        }
    }
    out.into_bytes()
}

/// A batch answer: the parts joined with `", "` (comma *and space*) inside `[` `]`.
pub fn join_batch(parts: &[Vec<u8>]) -> Vec<u8> {
    let len = parts.iter().map(|p| p.len() + 2).sum::<usize>() + 2;
    let mut out = Vec::with_capacity(len);
    out.push(b'[');
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(part);
    }
    out.push(b']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap_or_default()
    }

    #[test]
    fn envelopes() {
        let id = Id::from_value(&json!(7));
        let err = RpcError::bad_request("x should be a non-negative integer");
        assert_eq!(
            text(encode_response(Dialect::V2, Some(&id), Ok(&json!(null)))),
            r#"{"jsonrpc":"2.0","result":null,"id":7}"#
        );
        assert_eq!(
            text(encode_response(Dialect::Loose, None, Err(&err))),
            r#"{"jsonrpc":"2.0","error":{"code":1,"message":"x should be a non-negative integer"},"id":null}"#
        );
        assert_eq!(
            text(encode_response(
                Dialect::V1,
                Some(&id),
                Ok(&json!([1.0, "é"]))
            )),
            r#"{"result":[1.0,"\u00e9"],"error":null,"id":7}"#
        );
        assert_eq!(
            text(encode_response(Dialect::V1, Some(&id), Err(&err))),
            r#"{"result":null,"error":{"code":1,"message":"x should be a non-negative integer"},"id":7}"#
        );
    }

    #[test]
    fn notifications_and_batches() {
        assert_eq!(
            text(encode_notification(Dialect::V2, "blockchain.relayfee", &[])),
            r#"{"jsonrpc":"2.0","method":"blockchain.relayfee"}"#
        );
        assert_eq!(
            text(encode_notification(Dialect::V1, "m", &[json!(1)])),
            r#"{"method":"m","params":[1],"id":null}"#
        );
        assert_eq!(
            text(join_batch(&[b"{}".to_vec(), b"[]".to_vec()])),
            "[{}, []]"
        );
        assert_eq!(Id::from_value(&json!("é")).as_json(), r#""\u00e9""#);
    }
}
