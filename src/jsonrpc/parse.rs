//! Reading one received message as aiorpcx's `JSONRPCConnection.receive_message` does for a
//! server ([`parse`]): decoding, dialect detection, requests, batches, responses from the
//! client, and the errors of each (see the room's documentation).

use serde_json::Value;

use super::batch::{Batch, BatchCollector};
use super::dialect::{Detector, Dialect};
use super::encode::{encode_response, join_batch, Id};
use super::error::{RpcError, INVALID_ARGS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR};
use super::request::{Params, Request};
use crate::py::{loads, Dict, LoadError, Node};

/// What a message asks of the server.
#[derive(Clone, Debug)]
pub enum Parsed {
    /// One request or notification.
    Single(Request),
    /// A batch (at least one valid item).
    Batch(Batch),
}

/// A message aiorpcx refuses as a whole (its `ProtocolError`, or an uncaught exception).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The code: `PARSE_ERROR`, `INVALID_REQUEST`, …; 0 for a batch whose items were all
    /// invalid. ElectrumX adds `error_base_cost` to the session's cost for every fault, ten
    /// times more for `PARSE_ERROR`.
    pub code: i64,
    /// The reason (aiorpcx logs it).
    pub message: String,
    /// The message to send back, if aiorpcx answers.
    pub reply: Option<Vec<u8>>,
    /// aiorpcx's message loop would die on an uncaught exception (`RecursionError`, the int
    /// digit limit's `ValueError`, `TypeError` sorting a response batch): no answer, and the
    /// connection is no longer served; close it.
    pub fatal: bool,
}

impl Fault {
    fn reply(dialect: Dialect, code: i64, message: String, id: Option<&Id>) -> Fault {
        let error = RpcError::new(code, message);
        let reply = encode_response(dialect, id, Err(&error));
        Fault {
            code,
            message: error.message,
            reply: Some(reply),
            fatal: false,
        }
    }

    fn silent(code: i64, message: String) -> Fault {
        Fault {
            code,
            message,
            reply: None,
            fatal: false,
        }
    }

    fn fatal(message: &str) -> Fault {
        Fault {
            code: 0,
            message: message.to_owned(),
            reply: None,
            fatal: true,
        }
    }
}

/// Handles one received message (one line, without its newline, or one WebSocket message)
/// as aiorpcx's `JSONRPCConnection.receive_message` does for a server, detecting the
/// dialect if it is not yet known.
///
/// # Errors
/// A [`Fault`] when aiorpcx refuses the whole message; send its `reply` if any, close the
/// connection if it is `fatal`.
pub fn parse(message: &[u8], detector: &mut Detector) -> Result<Parsed, Fault> {
    let node = match loads(message) {
        Ok(node) => node,
        Err(LoadError::Utf8) => {
            return Err(Fault::reply(
                detector.writer(),
                PARSE_ERROR,
                "messages must be encoded in UTF-8".to_owned(),
                None,
            ))
        }
        Err(LoadError::Json) => {
            return Err(Fault::reply(
                detector.writer(),
                PARSE_ERROR,
                "invalid JSON".to_owned(),
                None,
            ))
        }
        Err(LoadError::Fatal(why)) => return Err(Fault::fatal(why)),
    };
    let dialect = detector.detect(&node);
    match node {
        Node::Dict(entries) => {
            if Dict(&entries).get("method").is_some() {
                process_request(dialect, entries)
                    .map(Parsed::Single)
                    .map_err(|e| e.into_fault(dialect))
            } else {
                Err(unsolicited_response(dialect, &Dict(&entries)))
            }
        }
        Node::List(items) if dialect.allows_batches() => {
            if items.is_empty() {
                return Err(Fault::reply(
                    dialect,
                    INVALID_REQUEST,
                    "batch is empty".to_owned(),
                    None,
                ));
            }
            let all_responses = items.iter().all(|item| match item {
                Node::Dict(entries) => entries
                    .iter()
                    .any(|(k, _)| k.as_str() == "result" || k.as_str() == "error"),
                _ => false,
            });
            if all_responses {
                Err(response_batch(dialect, items))
            } else {
                request_batch(dialect, items)
            }
        }
        _ => Err(Fault::reply(
            dialect,
            INVALID_REQUEST,
            "request object must be a dictionary".to_owned(),
            None,
        )),
    }
}

/// An error found in one request: aiorpcx's `ProtocolError` with the request's id if known.
struct ItemError {
    code: i64,
    message: String,
    id: Option<Id>,
}

impl ItemError {
    fn new(code: i64, message: String, id: Option<Id>) -> ItemError {
        ItemError { code, message, id }
    }

    fn encode(&self, dialect: Dialect) -> Vec<u8> {
        let error = RpcError::new(self.code, self.message.clone());
        encode_response(dialect, self.id.as_ref(), Err(&error))
    }

    fn into_fault(self, dialect: Dialect) -> Fault {
        let reply = self.encode(dialect);
        Fault {
            code: self.code,
            message: self.message,
            reply: Some(reply),
            fatal: false,
        }
    }
}

/// The id of a request (`None` for `null`: a notification).
fn node_id(node: &Node) -> Option<Id> {
    match node {
        Node::Null => None,
        other => Some(Id::from_json(other.to_json())),
    }
}

/// `JSONRPC._message_id` for the request/response parsing of V2 and Loose.
fn v2_message_id<'d>(dict: &'d Dict<'_>, require_id: bool) -> Result<Option<&'d Node>, ItemError> {
    match dict.get("id") {
        Some(id @ (Node::List(_) | Node::Dict(_))) => Err(ItemError::new(
            INVALID_REQUEST,
            format!("invalid \"id\": {}", id.py_str()),
            None,
        )),
        Some(id) => Ok(Some(id)),
        None if require_id => Err(ItemError::new(
            INVALID_REQUEST,
            "request has no \"id\"".to_owned(),
            None,
        )),
        None => Ok(None),
    }
}

/// `JSONRPC._process_request` for one dict (any other item is
/// `request object must be a dictionary`, found by `_message_id`).
fn process_request(
    dialect: Dialect,
    mut entries: Vec<(String, Node)>,
) -> Result<Request, ItemError> {
    let dict = Dict(&entries);
    // The id first.
    let id = match dialect {
        Dialect::V1 => match dict.get("id") {
            Some(id) => Some(id),
            None => {
                return Err(ItemError::new(
                    INVALID_REQUEST,
                    "request has no \"id\"".to_owned(),
                    None,
                ))
            }
        },
        Dialect::V2 | Dialect::Loose => v2_message_id(&dict, false)?,
    }
    .and_then(node_id);
    // Then "jsonrpc" (V2 only).
    if dialect == Dialect::V2
        && !matches!(dict.get("jsonrpc"), Some(Node::Str { text: v, .. }) if v == "2.0")
    {
        return Err(ItemError::new(
            INVALID_REQUEST,
            "\"jsonrpc\" is not \"2.0\"".to_owned(),
            id,
        ));
    }
    // Then the arguments (evaluated before the method's type is checked), moved out of the
    // message rather than copied.
    let params = match (dialect, take(&mut entries, "params")) {
        (Dialect::V1, Some(Node::List(items))) => Params::List(into_values(items)),
        (Dialect::V2 | Dialect::Loose, None) => Params::List(Vec::new()),
        (Dialect::V2 | Dialect::Loose, Some(Node::List(items))) => Params::List(into_values(items)),
        (Dialect::V2 | Dialect::Loose, Some(Node::Dict(named))) => Params::Named(
            named
                .into_iter()
                .map(|(k, v)| (k, v.into_value()))
                .collect(),
        ),
        (_, other) => {
            let shown = other
                .as_ref()
                .map_or_else(|| "None".to_owned(), Node::py_str);
            return Err(ItemError::new(
                INVALID_ARGS,
                format!("invalid request arguments: {shown}"),
                id,
            ));
        }
    };
    let Some(Node::Str { text: method, .. }) = take(&mut entries, "method") else {
        return Err(ItemError::new(
            METHOD_NOT_FOUND,
            "method must be a string".to_owned(),
            id,
        ));
    };
    Ok(Request {
        id,
        method,
        params,
        dialect,
    })
}

/// Moves the value of `key` out of a decoded dict (leaving `null`).
fn take(entries: &mut [(String, Node)], key: &str) -> Option<Node> {
    entries
        .iter_mut()
        .find(|(k, _)| k == key)
        .map(|(_, v)| std::mem::replace(v, Node::Null))
}

fn into_values(items: Vec<Node>) -> Vec<Value> {
    items.into_iter().map(Node::into_value).collect()
}

/// `JSONRPCConnection._receive_request_batch`.
fn request_batch(dialect: Dialect, items: Vec<Node>) -> Result<Parsed, Fault> {
    let mut requests = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        let outcome = match item {
            Node::Dict(entries) => process_request(dialect, entries),
            _ => Err(ItemError::new(
                INVALID_REQUEST,
                "request object must be a dictionary".to_owned(),
                None,
            )),
        };
        match outcome {
            Ok(request) => requests.push(request),
            Err(error) => errors.push(error.encode(dialect)),
        }
    }
    if requests.is_empty() {
        // Only invalid items (the batch is not empty): all the errors, at once.
        return Err(Fault {
            code: 0,
            message: String::new(),
            reply: Some(join_batch(&errors)),
            fatal: false,
        });
    }
    let collector = BatchCollector::new(dialect, errors, &requests);
    Ok(Parsed::Batch(Batch {
        requests,
        collector,
    }))
}

/// `JSONRPC._process_response` for V2 and Loose (V1 never gets here for a batch): `Ok(true)`
/// for an error response with id null, `Ok(false)` for other valid responses.
fn check_response(dialect: Dialect, dict: &Dict<'_>) -> Result<(Option<Id>, bool), String> {
    let id = v2_message_id(dict, true).map_err(|e| e.message)?;
    if dialect == Dialect::V2
        && !matches!(dict.get("jsonrpc"), Some(Node::Str { text: v, .. }) if v == "2.0")
    {
        return Err("\"jsonrpc\" is not \"2.0\"".to_owned());
    }
    let is_error = match dialect {
        Dialect::V2 => match (dict.get("result"), dict.get("error")) {
            (Some(_), Some(_)) => {
                return Err("response contains both \"result\" and \"error\"".to_owned())
            }
            (Some(_), None) => false,
            (None, None) => {
                return Err("response contains neither \"result\" nor \"error\"".to_owned())
            }
            (None, Some(error)) => {
                let ok = match error {
                    Node::Dict(entries) => {
                        let e = Dict(entries);
                        matches!(e.get("code"), Some(Node::Int(_) | Node::Bool(_)))
                            && matches!(e.get("message"), Some(Node::Str { .. }))
                    }
                    _ => false,
                };
                if !ok {
                    return Err(format!(
                        "ill-formed response error object: {}",
                        error.py_str()
                    ));
                }
                true
            }
        },
        Dialect::Loose | Dialect::V1 => {
            let error = dict.get("error").filter(|e| !matches!(e, Node::Null));
            let result = dict.get("result");
            match (error, result) {
                (Some(_), Some(r)) if !matches!(r, Node::Null) => {
                    return Err("response contains both \"result\" and \"error\"".to_owned())
                }
                (Some(_), _) => true,
                (None, None) => {
                    return Err("response contains neither \"result\" nor \"error\"".to_owned())
                }
                (None, Some(_)) => false,
            }
        }
    };
    Ok((id.and_then(node_id), is_error))
}

/// A single response from the client: aiorpcx never sent it a request, so it is only logged.
fn unsolicited_response(dialect: Dialect, dict: &Dict<'_>) -> Fault {
    let message = match dialect {
        Dialect::V1 => match dict.get("id") {
            None => "response to unsent request (ID: None)".to_owned(),
            Some(id) => format!("response to unsent request (ID: {})", id.py_str()),
        },
        Dialect::V2 | Dialect::Loose => match check_response(dialect, dict) {
            Ok((None, true)) => "diagnostic error received".to_owned(),
            Ok((id, _)) => format!(
                "response to unsent request (ID: {})",
                id.map_or_else(|| "None".to_owned(), |i| i.as_json().to_owned())
            ),
            Err(_) => {
                let id = dict
                    .get("id")
                    .map_or_else(|| "None".to_owned(), Node::py_str);
                format!("response to unsent request (ID: {id})")
            }
        },
    };
    Fault::silent(INVALID_REQUEST, message)
}

/// `JSONRPCConnection._receive_response_batch`: never answered; fatal if Python's `sorted`
/// of the ids would raise `TypeError`.
fn response_batch(dialect: Dialect, items: Vec<Node>) -> Fault {
    let mut kinds = Vec::with_capacity(items.len());
    for item in &items {
        let Node::Dict(entries) = item else {
            return Fault::silent(
                INVALID_REQUEST,
                "request object must be a dictionary".to_owned(),
            );
        };
        let dict = Dict(entries);
        if let Err(message) = check_response(dialect, &dict) {
            return Fault::silent(INVALID_REQUEST, message);
        }
        kinds.push(match dict.get("id") {
            Some(Node::Str { .. }) => 1u8,
            Some(Node::Null) | None => 2,
            Some(_) => 0, // numbers and bools compare with each other
        });
    }
    // A comparison sort must compare some pair of incomparable ids if there are two kinds, or
    // two `None`s.
    let nulls = kinds.iter().filter(|&&k| k == 2).count();
    let mixed = kinds.windows(2).any(|w| w[0] != w[1]);
    if kinds.len() >= 2 && (mixed || nulls >= 2) {
        return Fault::fatal("TypeError sorting the ids of a response batch");
    }
    Fault::silent(INVALID_REQUEST, "response to unsent batch".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap_or_default()
    }

    #[test]
    fn lone_surrogates_in_ids_are_echoed_as_sent() {
        // Lone surrogates in an id are echoed as sent, amid plain text and real characters.
        let mut d = Detector::new();
        let msg = r#"{"method":"m","id":"a\ud800b\udc00\ufffdc\ud83d\ude00d\udbff"}"#;
        let Ok(Parsed::Single(req)) = parse(msg.as_bytes(), &mut d) else {
            panic!("expected a request");
        };
        assert_eq!(
            req.id.as_ref().map(Id::as_json),
            Some(r#""a\ud800b\udc00\ufffdc\ud83d\ude00d\udbff""#)
        );
    }

    #[test]
    fn large_dicts_keep_first_positions_and_last_values() {
        let keys: String = (0..40).map(|i| format!("\"k{i}\":{i},")).collect();
        let msg = format!(
            "{{\"method\":\"a\",\"params\":{{{keys}\"k3\":\"x\",\"k39\":null,\"k40\":40,\"k0\":[]}},\"id\":1,\"method\":\"b\"}}"
        );
        let Ok(Parsed::Single(req)) = parse(msg.as_bytes(), &mut Detector::new()) else {
            panic!("expected a request");
        };
        assert_eq!(req.method, "b");
        let Params::Named(map) = &req.params else {
            panic!("expected named arguments");
        };
        let names: Vec<String> = (0..=40).map(|i| format!("k{i}")).collect();
        assert_eq!(
            map.keys().collect::<Vec<_>>(),
            names.iter().collect::<Vec<_>>()
        );
        assert_eq!(map["k0"], json!([]));
        assert_eq!(map["k1"], json!(1));
        assert_eq!(map["k3"], json!("x"));
        assert_eq!(map["k39"], json!(null));
        assert_eq!(map["k40"], json!(40));
    }

    #[test]
    fn detection_is_fixed_by_the_first_valid_message() {
        let mut d = Detector::new();
        assert_eq!(d.writer(), Dialect::V2);
        assert!(parse(b"{", &mut d).is_err());
        assert_eq!(d.dialect(), None);
        assert!(parse(
            br#"{"jsonrpc":"1.0","method":"a","params":[],"id":1}"#,
            &mut d
        )
        .is_ok());
        assert_eq!(d.dialect(), Some(Dialect::V1));
        let fault = parse(b"{", &mut d)
            .err()
            .unwrap_or_else(|| Fault::fatal(""));
        assert_eq!(
            fault.reply.map(text).as_deref(),
            Some(r#"{"result":null,"error":{"code":-32700,"message":"invalid JSON"},"id":null}"#)
        );
        assert!(parse(
            br#"{"jsonrpc":"2.0","method":"a","params":[],"id":2}"#,
            &mut d
        )
        .is_ok());
        assert_eq!(d.dialect(), Some(Dialect::V1));
    }

    #[test]
    fn notifications_are_never_answered() {
        let mut d = Detector::new();
        let Ok(Parsed::Single(req)) = parse(br#"{"jsonrpc":"2.0","method":"a","id":null}"#, &mut d)
        else {
            panic!("expected a request");
        };
        assert!(req.is_notification());
        assert_eq!(req.response(Ok(&json!(1)), 0), None);
    }
}
