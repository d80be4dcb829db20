//! JSON-RPC exactly as ElectrumX 1.20 speaks it through aiorpcx 0.25 (`aiorpcx/jsonrpc.py`:
//! `JSONRPCAutoDetect`, `JSONRPCv1`, `JSONRPCv2`, `JSONRPCLoose`, `JSONRPCConnection`,
//! `handler_invocation`), for the server side of a connection.
//!
//! # What aiorpcx does, and this module reproduces
//!
//! **Decoding.** A message is decoded as strict UTF-8 (else parse error `-32700`
//! `messages must be encoded in UTF-8`) and parsed by Python's `json.loads` (else `-32700`
//! `invalid JSON`). Python's parser is not serde_json's: it accepts `NaN`, `Infinity` and
//! `-Infinity`, unbounded integers, lone surrogate escapes and any nesting that fits its
//! recursion limit; an integer literal of more than 4,300 digits or nesting beyond the
//! recursion limit raise exceptions aiorpcx does not catch, which kill the connection's
//! message loop. [`parse`] follows it (a [`Fault`] with `fatal` set for the latter).
//!
//! **Protocol detection** ([`Detector`]). A connection starts as `JSONRPCAutoDetect`. The
//! first message that is valid JSON fixes the protocol for the rest of the connection (a
//! message that fails to decode leaves it undetected): a dict with `"jsonrpc": "2.0"` is
//! [`Protocol::V2`], with `"jsonrpc": "1.0"` [`Protocol::V1`], without either but holding both
//! `"result"` and `"error"` V1, anything else (including non-dicts) [`Protocol::Loose`]. For a
//! batch, if all items agree that protocol wins, else V2 if any item says V2, else V1 if any
//! says V1, else Loose (also for `[]`). Undetected, errors are written as V2.
//!
//! - V2 requires `"jsonrpc": "2.0"` on every later message, ids must be numbers (bools
//!   included), strings or null, params a list or dict (absent = `[]`), batches allowed.
//! - Loose is V2 without the `"jsonrpc"` check; it writes V2 messages.
//! - V1 requires an `"id"` key (any type), params must be a list (absent is an error), batches
//!   are refused as `request object must be a dictionary`.
//!
//! In every protocol a request whose id is absent or `null` is a notification: it is never
//! answered, but errors found while parsing it are (with id `null`).
//!
//! **Request errors**, in the order aiorpcx checks: id (`-32600` `request has no "id"` (V1),
//! `invalid "id": {id}`), `"jsonrpc"` (`-32600` `"jsonrpc" is not "2.0"`), params (`-32602`
//! `invalid request arguments: {params}`), method (`-32601` `method must be a string`);
//! non-dict messages `-32600` `request object must be a dictionary`, `[]` `-32600`
//! `batch is empty`. Values in messages are Python's `str()`.
//!
//! **Responses from the client** (dicts without `"method"`, batches of them) are never
//! answered: aiorpcx finds no matching request, logs and counts an error. A response batch
//! whose ids Python cannot sort (mixed strings/numbers/nulls, or two nulls) raises `TypeError`,
//! which kills the connection's message loop like the decoding exceptions above.
//!
//! **Encoding.** `json.dumps(payload, separators=(',', ':'))`: compact, keys in insertion
//! order, `ensure_ascii` (everything outside `' '..='~'` is `\uXXXX`, lowercase hex,
//! surrogate pairs above the BMP), floats as Python's `repr` (`1e-05`, `50.0`). Envelopes:
//!
//! - V2/Loose: `{"jsonrpc":"2.0","result":R,"id":I}`,
//!   `{"jsonrpc":"2.0","error":{"code":C,"message":M},"id":I}`, notifications
//!   `{"jsonrpc":"2.0","method":M,"params":[…]}` with `params` omitted when empty.
//! - V1: `{"result":R,"error":null,"id":I}`, `{"result":null,"error":{…},"id":I}`,
//!   notifications `{"method":M,"params":[…],"id":null}`.
//!
//! A batch answer joins the item answers with `", "` (comma *and space*) inside `[` `]`:
//! first the errors found while parsing the batch, in batch order, then the answers in the
//! order they complete; it is sent once every request with an id is answered (so a batch of
//! only notifications and invalid items is never answered when it holds at least one valid
//! notification; a batch of only invalid items is answered at once).
//!
//! **Response size** (`JSONRPCConnection.max_response_size`, which ElectrumX sets to
//! `MAX_SEND`; 0 means unlimited, as for LocalRPC). A single answer (result or error) longer
//! than the limit is replaced by the error `-32600`
//! `response too large (over {limit:,d} bytes` — sic, with no closing parenthesis. In a
//! batch the check is cumulative: each answer adds its length plus 2 to a running total (the
//! parse errors do not count) and once the total exceeds the limit that answer and every later
//! one is replaced by the same error.
//!
//! **Handler errors** raised by aiorpcx's session loop: `-32601` `unknown method "{method}"`,
//! `-32602` argument binding errors ([`bind`]), `-32603` `internal server error` (an
//! unexpected exception), `-102` `server busy - request timed out` (`REQUEST_TIMEOUT`),
//! `-101` `excessive resource usage` (cost hard limit; the session is then closed).

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::params::INT_MAX_STR_DIGITS;
use super::version::{py_float_repr, write_py_number, write_py_str_repr, write_seq};

/// ElectrumX's `BAD_REQUEST`: a request ElectrumX's own checks refused.
pub const BAD_REQUEST: i64 = 1;
/// ElectrumX's `DAEMON_ERROR`: the daemon refused (`daemon error: {e!r}`).
pub const DAEMON_ERROR: i64 = 2;
/// JSON-RPC parse error.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC invalid request.
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC method not found.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC invalid params (aiorpcx's `INVALID_ARGS`).
pub const INVALID_ARGS: i64 = -32602;
/// JSON-RPC internal error.
pub const INTERNAL_ERROR: i64 = -32603;
/// aiorpcx: an error response from the other side without a usable code.
pub const ERROR_CODE_UNAVAILABLE: i64 = -100;
/// aiorpcx: the session exceeded its cost hard limit.
pub const EXCESSIVE_RESOURCE_USAGE: i64 = -101;
/// aiorpcx: the request timed out.
pub const SERVER_BUSY: i64 = -102;

/// Python's recursion limit as `json.loads` meets it inside aiorpcx's message loop (1,000
/// frames minus the ~25 already in use): deeper nesting raises `RecursionError`. The exact
/// figure depends on the Python version.
pub const MAX_NESTING: usize = 975;

/// A JSON-RPC error object: `{"code": code, "message": message}`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} (code {code})")]
pub struct RpcError {
    /// The error code.
    pub code: i64,
    /// The message.
    pub message: String,
}

impl RpcError {
    /// Any code and message.
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
        }
    }

    /// ElectrumX's `RPCError(BAD_REQUEST, message)`.
    pub fn bad_request(message: impl Into<String>) -> RpcError {
        RpcError::new(BAD_REQUEST, message)
    }

    /// ElectrumX's `RPCError(DAEMON_ERROR, message)`.
    pub fn daemon_error(message: impl Into<String>) -> RpcError {
        RpcError::new(DAEMON_ERROR, message)
    }

    /// aiorpcx's `RPCError.invalid_request(message)` (`-32600`).
    pub fn invalid_request(message: impl Into<String>) -> RpcError {
        RpcError::new(INVALID_REQUEST, message)
    }

    /// aiorpcx's `RPCError.invalid_args(message)` (`-32602`).
    pub fn invalid_args(message: impl Into<String>) -> RpcError {
        RpcError::new(INVALID_ARGS, message)
    }

    /// `handler_invocation` for a method with no handler: `unknown method "{method}"`.
    pub fn unknown_method(method: &str) -> RpcError {
        RpcError::new(METHOD_NOT_FOUND, format!("unknown method \"{method}\""))
    }

    /// aiorpcx's answer to an unexpected exception in a handler.
    pub fn internal() -> RpcError {
        RpcError::new(INTERNAL_ERROR, "internal server error")
    }

    /// aiorpcx's answer to a request that outlived `processing_timeout` (`REQUEST_TIMEOUT`).
    pub fn server_busy() -> RpcError {
        RpcError::new(SERVER_BUSY, "server busy - request timed out")
    }

    /// aiorpcx's answer when the session's cost passes the hard limit (then it disconnects).
    pub fn excessive_resource_usage() -> RpcError {
        RpcError::new(EXCESSIVE_RESOURCE_USAGE, "excessive resource usage")
    }

    /// `JSONRPCConnection._oversized_response_message`: `-32600`
    /// `response too large (over {limit:,d} bytes` (no closing parenthesis, as in aiorpcx).
    pub fn response_too_large(max_response_size: usize) -> RpcError {
        RpcError::invalid_request(format!(
            "response too large (over {} bytes",
            super::params::thousands(max_response_size as u64)
        ))
    }
}

/// The JSON-RPC dialect of a connection (aiorpcx's protocol classes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `JSONRPCv1`.
    V1,
    /// `JSONRPCv2`.
    V2,
    /// `JSONRPCLoose`: V2 without the `"jsonrpc"` check.
    Loose,
}

impl Protocol {
    fn allows_batches(self) -> bool {
        self != Protocol::V1
    }
}

/// The per-connection protocol state: `JSONRPCAutoDetect` until the first message that is
/// valid JSON, then that message's protocol for good.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Detector {
    detected: Option<Protocol>,
}

impl Detector {
    /// A new connection: not yet detected.
    pub fn new() -> Detector {
        Detector::default()
    }

    /// A connection whose protocol is already fixed.
    pub fn fixed(protocol: Protocol) -> Detector {
        Detector {
            detected: Some(protocol),
        }
    }

    /// The detected protocol, if any message has been valid JSON yet.
    pub fn protocol(&self) -> Option<Protocol> {
        self.detected
    }

    /// The protocol answers are written in: the detected one, V2 before detection.
    pub fn writer(&self) -> Protocol {
        self.detected.unwrap_or(Protocol::V2)
    }
}

/// A request id exactly as the client sent it, kept as the text Python's `json.dumps` writes
/// for it (so ids serde_json cannot hold, like `123456789012345678901234567890` or `NaN`,
/// are echoed as ElectrumX echoes them).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Id(String);

impl Id {
    /// The id of a JSON value (how ElectrumX would write it back).
    pub fn from_value(value: &Value) -> Id {
        let mut out = String::new();
        write_value(&mut out, value);
        Id(out)
    }

    /// The id as JSON text.
    pub fn as_json(&self) -> &str {
        &self.0
    }
}

/// A request's arguments: a list, or (V2 and Loose) a dict of named arguments.
#[derive(Clone, Debug, PartialEq)]
pub enum Params {
    /// Positional arguments.
    List(Vec<Value>),
    /// Named arguments, in the client's order.
    Named(Map<String, Value>),
}

/// A request or notification from the client.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The id; `None` for a notification (no `"id"`, or `"id": null`).
    pub id: Option<Id>,
    /// The method name.
    pub method: String,
    /// The arguments.
    pub params: Params,
    protocol: Protocol,
}

impl Request {
    /// Whether this is a notification (never answered).
    pub fn is_notification(&self) -> bool {
        self.id.is_none()
    }

    /// The protocol the request arrived in (answers are written in it).
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The message answering this single (non-batch) request, as aiorpcx's
    /// `JSONRPCConnection._send_result`: the result or error, or the `response too large`
    /// error if longer than `max_response_size` (0 = unlimited). `None` for a notification.
    pub fn response(
        &self,
        outcome: Result<&Value, &RpcError>,
        max_response_size: usize,
    ) -> Option<Vec<u8>> {
        let id = self.id.as_ref()?;
        let message = encode_response(self.protocol, Some(id), outcome);
        if max_response_size > 0 && message.len() > max_response_size {
            let error = RpcError::response_too_large(max_response_size);
            return Some(encode_response(self.protocol, Some(id), Err(&error)));
        }
        Some(message)
    }
}

/// A batch of requests, and the answer being assembled for it.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The valid requests and notifications, in batch order.
    pub requests: Vec<Request>,
    /// Assembles the answer; call [`BatchCollector::record`] once per request.
    pub collector: BatchCollector,
}

/// aiorpcx's batch answer assembly (`JSONRPCConnection._receive_request_batch`), answers
/// taken in batch order whatever order they complete in.
///
/// Memory stays bounded by the size limit: each answer is encoded as it is recorded and
/// only its length kept once the answers before it certainly exceed the limit (it will be
/// sent as the `response too large` error), so a batch of many large results never holds
/// more than about `max_response_size` bytes of them.
#[derive(Clone, Debug)]
pub struct BatchCollector {
    protocol: Protocol,
    /// The errors of the batch's invalid items: sent first, not counted in the size limit.
    errors: Vec<Vec<u8>>,
    /// One per request of the batch, in batch order.
    items: Vec<BatchItem>,
    /// Requests not recorded yet.
    left: usize,
    /// Recorded answers' lengths plus 2 (the separator), by position: prefix sums tell when
    /// the cumulative limit is certainly exceeded.
    sizes: PrefixSums,
    /// Positions whose encoded answer is still held.
    kept: std::collections::BTreeSet<usize>,
    /// An item was abandoned (the session is closing): no answer.
    abandoned: bool,
}

#[derive(Clone, Debug)]
enum BatchItem {
    /// A notification: never answered.
    Notification,
    /// Not recorded yet.
    Pending(Id),
    /// Recorded: the answer's length, and the answer while it may still be sent.
    Answered {
        id: Id,
        len: usize,
        part: Option<Vec<u8>>,
    },
}

/// How a batch ended (see [`BatchCollector::record`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchDone {
    /// The answer to send.
    Reply(Vec<u8>),
    /// Nothing to send (the batch held no request with an id).
    Silent,
    /// An item was abandoned: send nothing, the session is closing.
    Abandoned,
}

impl BatchCollector {
    fn new(protocol: Protocol, errors: Vec<Vec<u8>>, requests: &[Request]) -> BatchCollector {
        let items = requests
            .iter()
            .map(|r| match &r.id {
                Some(id) => BatchItem::Pending(id.clone()),
                None => BatchItem::Notification,
            })
            .collect();
        BatchCollector {
            protocol,
            errors,
            items,
            left: requests.len(),
            sizes: PrefixSums::new(requests.len()),
            kept: Default::default(),
            abandoned: false,
        }
    }

    /// Records the outcome of the request at `index` in the batch (`None`: abandoned). Once
    /// every request is recorded, the batch's end. `max_response_size` (0 = unlimited) is
    /// applied cumulatively as aiorpcx does (see the module documentation); pass the same
    /// value every time.
    pub fn record(
        &mut self,
        index: usize,
        outcome: Option<Result<&Value, &RpcError>>,
        max_response_size: usize,
    ) -> Option<BatchDone> {
        let item = self.items.get_mut(index)?;
        match item {
            BatchItem::Answered { .. } => return None,
            BatchItem::Notification => self.abandoned |= outcome.is_none(),
            BatchItem::Pending(id) => match outcome {
                None => self.abandoned = true,
                Some(outcome) => {
                    let id = id.clone();
                    let part = encode_response(self.protocol, Some(&id), outcome);
                    let len = part.len();
                    *item = BatchItem::Answered {
                        id,
                        len,
                        part: Some(part),
                    };
                    self.sizes.add(index, len as u64 + 2);
                    self.kept.insert(index);
                    self.drop_excess(max_response_size);
                }
            },
        }
        self.left = self.left.saturating_sub(1);
        (self.left == 0).then(|| self.finish(max_response_size))
    }

    /// Bytes of encoded answers held now.
    pub fn held(&self) -> usize {
        self.items
            .iter()
            .map(|i| match i {
                BatchItem::Answered { part: Some(p), .. } => p.len(),
                _ => 0,
            })
            .sum()
    }

    /// Drops the held answers whose position's cumulative size already exceeds the limit
    /// (it only grows as answers are recorded): those are sent as errors.
    fn drop_excess(&mut self, max: usize) {
        if max == 0 {
            return;
        }
        while let Some(&last) = self.kept.last() {
            if self.sizes.prefix(last) <= max as u64 {
                break;
            }
            self.kept.remove(&last);
            if let Some(BatchItem::Answered { part, .. }) = self.items.get_mut(last) {
                *part = None;
            }
        }
    }

    fn finish(&mut self, max: usize) -> BatchDone {
        if self.abandoned {
            return BatchDone::Abandoned;
        }
        if !self
            .items
            .iter()
            .any(|i| matches!(i, BatchItem::Answered { .. }))
        {
            return BatchDone::Silent;
        }
        let mut parts = std::mem::take(&mut self.errors);
        let mut size = 0usize;
        for item in std::mem::take(&mut self.items) {
            let BatchItem::Answered { id, len, part } = item else {
                continue;
            };
            size += len + 2;
            match part {
                Some(part) if max == 0 || size <= max => parts.push(part),
                _ => {
                    let error = RpcError::response_too_large(max);
                    parts.push(encode_response(self.protocol, Some(&id), Err(&error)));
                }
            }
        }
        BatchDone::Reply(join_batch(&parts))
    }
}

/// Prefix sums over positions that are filled in any order (a Fenwick tree).
#[derive(Clone, Debug)]
struct PrefixSums(Vec<u64>);

impl PrefixSums {
    fn new(n: usize) -> PrefixSums {
        PrefixSums(vec![0; n + 1])
    }

    fn add(&mut self, index: usize, value: u64) {
        let mut i = index + 1;
        while i < self.0.len() {
            self.0[i] += value;
            i += i & i.wrapping_neg();
        }
    }

    /// The sum of the values at positions `0..=index`.
    fn prefix(&self, index: usize) -> u64 {
        let mut i = (index + 1).min(self.0.len().saturating_sub(1));
        let mut sum = 0;
        while i > 0 {
            sum += self.0[i];
            i -= i & i.wrapping_neg();
        }
        sum
    }
}

/// What a message asks of the server.
#[derive(Clone, Debug)]
pub enum Incoming {
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
    fn reply(protocol: Protocol, code: i64, message: String, id: Option<&Id>) -> Fault {
        let error = RpcError::new(code, message);
        let reply = encode_response(protocol, id, Err(&error));
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
/// protocol if it is not yet known.
///
/// # Errors
/// A [`Fault`] when aiorpcx refuses the whole message; send its `reply` if any, close the
/// connection if it is `fatal`.
pub fn parse(message: &[u8], detector: &mut Detector) -> Result<Incoming, Fault> {
    let node = match decode(message) {
        Ok(node) => node,
        Err(Decode::Utf8) => {
            return Err(Fault::reply(
                detector.writer(),
                PARSE_ERROR,
                "messages must be encoded in UTF-8".to_owned(),
                None,
            ))
        }
        Err(Decode::Json) => {
            return Err(Fault::reply(
                detector.writer(),
                PARSE_ERROR,
                "invalid JSON".to_owned(),
                None,
            ))
        }
        Err(Decode::Fatal(why)) => return Err(Fault::fatal(why)),
    };
    let protocol = *detector.detected.get_or_insert_with(|| detect(&node));
    match node {
        Node::Dict(entries) => {
            if Dict(&entries).get("method").is_some() {
                process_request(protocol, entries)
                    .map(Incoming::Single)
                    .map_err(|e| e.into_fault(protocol))
            } else {
                Err(unsolicited_response(protocol, &Dict(&entries)))
            }
        }
        Node::List(items) if protocol.allows_batches() => {
            if items.is_empty() {
                return Err(Fault::reply(
                    protocol,
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
                Err(response_batch(protocol, items))
            } else {
                request_batch(protocol, items)
            }
        }
        _ => Err(Fault::reply(
            protocol,
            INVALID_REQUEST,
            "request object must be a dictionary".to_owned(),
            None,
        )),
    }
}

/// `JSONRPCAutoDetect.detect_protocol` on a decoded message.
fn detect(node: &Node) -> Protocol {
    fn of_item(node: &Node) -> Protocol {
        let Node::Dict(entries) = node else {
            return Protocol::Loose;
        };
        let dict = Dict(entries);
        match dict.get("jsonrpc") {
            Some(Node::Str { text: v, .. }) if v == "2.0" => return Protocol::V2,
            Some(Node::Str { text: v, .. }) if v == "1.0" => return Protocol::V1,
            _ => {}
        }
        if dict.get("result").is_some() && dict.get("error").is_some() {
            Protocol::V1
        } else {
            Protocol::Loose
        }
    }
    match node {
        Node::List(items) => {
            let protocols: Vec<Protocol> = items.iter().map(of_item).collect();
            match protocols.first() {
                Some(&first) if protocols.iter().all(|&p| p == first) => first,
                _ if protocols.contains(&Protocol::V2) => Protocol::V2,
                _ if protocols.contains(&Protocol::V1) => Protocol::V1,
                _ => Protocol::Loose,
            }
        }
        other => of_item(other),
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

    fn encode(&self, protocol: Protocol) -> Vec<u8> {
        let error = RpcError::new(self.code, self.message.clone());
        encode_response(protocol, self.id.as_ref(), Err(&error))
    }

    fn into_fault(self, protocol: Protocol) -> Fault {
        let reply = self.encode(protocol);
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
        other => Some(Id(other.to_json())),
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
    protocol: Protocol,
    mut entries: Vec<(String, Node)>,
) -> Result<Request, ItemError> {
    let dict = Dict(&entries);
    // The id first.
    let id = match protocol {
        Protocol::V1 => match dict.get("id") {
            Some(id) => Some(id),
            None => {
                return Err(ItemError::new(
                    INVALID_REQUEST,
                    "request has no \"id\"".to_owned(),
                    None,
                ))
            }
        },
        Protocol::V2 | Protocol::Loose => v2_message_id(&dict, false)?,
    }
    .and_then(node_id);
    // Then "jsonrpc" (V2 only).
    if protocol == Protocol::V2
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
    let params = match (protocol, take(&mut entries, "params")) {
        (Protocol::V1, Some(Node::List(items))) => Params::List(into_values(items)),
        (Protocol::V2 | Protocol::Loose, None) => Params::List(Vec::new()),
        (Protocol::V2 | Protocol::Loose, Some(Node::List(items))) => {
            Params::List(into_values(items))
        }
        (Protocol::V2 | Protocol::Loose, Some(Node::Dict(named))) => Params::Named(
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
        protocol,
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
fn request_batch(protocol: Protocol, items: Vec<Node>) -> Result<Incoming, Fault> {
    let mut requests = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        let outcome = match item {
            Node::Dict(entries) => process_request(protocol, entries),
            _ => Err(ItemError::new(
                INVALID_REQUEST,
                "request object must be a dictionary".to_owned(),
                None,
            )),
        };
        match outcome {
            Ok(request) => requests.push(request),
            Err(error) => errors.push(error.encode(protocol)),
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
    let collector = BatchCollector::new(protocol, errors, &requests);
    Ok(Incoming::Batch(Batch {
        requests,
        collector,
    }))
}

/// `JSONRPC._process_response` for V2 and Loose (V1 never gets here for a batch): `Ok(true)`
/// for an error response with id null, `Ok(false)` for other valid responses.
fn check_response(protocol: Protocol, dict: &Dict<'_>) -> Result<(Option<Id>, bool), String> {
    let id = v2_message_id(dict, true).map_err(|e| e.message)?;
    if protocol == Protocol::V2
        && !matches!(dict.get("jsonrpc"), Some(Node::Str { text: v, .. }) if v == "2.0")
    {
        return Err("\"jsonrpc\" is not \"2.0\"".to_owned());
    }
    let is_error = match protocol {
        Protocol::V2 => match (dict.get("result"), dict.get("error")) {
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
        Protocol::Loose | Protocol::V1 => {
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
fn unsolicited_response(protocol: Protocol, dict: &Dict<'_>) -> Fault {
    let message = match protocol {
        Protocol::V1 => match dict.get("id") {
            None => "response to unsent request (ID: None)".to_owned(),
            Some(id) => format!("response to unsent request (ID: {})", id.py_str()),
        },
        Protocol::V2 | Protocol::Loose => match check_response(protocol, dict) {
            Ok((None, true)) => "diagnostic error received".to_owned(),
            Ok((id, _)) => format!(
                "response to unsent request (ID: {})",
                id.map_or_else(|| "None".to_owned(), |i| i.0)
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
fn response_batch(protocol: Protocol, items: Vec<Node>) -> Fault {
    let mut kinds = Vec::with_capacity(items.len());
    for item in &items {
        let Node::Dict(entries) = item else {
            return Fault::silent(
                INVALID_REQUEST,
                "request object must be a dictionary".to_owned(),
            );
        };
        let dict = Dict(entries);
        if let Err(message) = check_response(protocol, &dict) {
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

fn join_batch(parts: &[Vec<u8>]) -> Vec<u8> {
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

/// The response message for a result or error (no size limit applied), as aiorpcx's
/// `response_message` writes it in `protocol`; `id` `None` is written as `null`.
pub fn encode_response(
    protocol: Protocol,
    id: Option<&Id>,
    outcome: Result<&Value, &RpcError>,
) -> Vec<u8> {
    let mut out = String::with_capacity(64);
    let id = id.map_or("null", Id::as_json);
    match (protocol, outcome) {
        (Protocol::V1, Ok(result)) => {
            out.push_str("{\"result\":");
            write_value(&mut out, result);
            out.push_str(",\"error\":null,\"id\":");
        }
        (Protocol::V1, Err(error)) => {
            out.push_str("{\"result\":null,\"error\":");
            write_error(&mut out, error);
            out.push_str(",\"id\":");
        }
        (Protocol::V2 | Protocol::Loose, Ok(result)) => {
            out.push_str("{\"jsonrpc\":\"2.0\",\"result\":");
            write_value(&mut out, result);
            out.push_str(",\"id\":");
        }
        (Protocol::V2 | Protocol::Loose, Err(error)) => {
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
pub fn encode_notification(protocol: Protocol, method: &str, params: &[Value]) -> Vec<u8> {
    let mut out = String::with_capacity(64);
    let write_params = |out: &mut String| write_seq(out, '[', ",", ']', params, write_value);
    match protocol {
        Protocol::V1 => {
            out.push_str("{\"method\":");
            write_json_str(&mut out, method);
            out.push_str(",\"params\":");
            write_params(&mut out);
            out.push_str(",\"id\":null}");
        }
        Protocol::V2 | Protocol::Loose => {
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

/// `json.dumps(value, separators=(',', ':'))` (ensure_ascii, Python float repr): the bytes
/// ElectrumX would send for a result.
pub fn to_python_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_py_number(out, n),
        Value::String(s) => write_json_str(out, s),
        Value::Array(items) => write_seq(out, '[', ",", ']', items, write_value),
        Value::Object(map) => write_seq(out, '{', ",", '}', map, |out, (k, v)| {
            write_json_str(out, k);
            out.push(':');
            write_value(out, v);
        }),
    }
}

/// A JSON string as `json.dumps` (ensure_ascii) writes it.
fn write_json_str(out: &mut String, s: &str) {
    write_json_str_exact(out, s, &[]);
}

/// [`write_json_str`] for a decoded string whose lone surrogates are listed in `lone`.
fn write_json_str_exact(out: &mut String, s: &str, lone: &[(usize, u16)]) {
    out.push('"');
    let mut lone = lone.iter().peekable();
    // Characters written as themselves are copied a run at a time: `s[run..at]`.
    let mut run = 0;
    for (at, c) in s.char_indices() {
        let surrogate = lone.next_if(|(pos, _)| *pos == at).map(|&(_, unit)| unit);
        if surrogate.is_none() && matches!(c, ' '..='~') && c != '"' && c != '\\' {
            continue;
        }
        out.push_str(&s[run..at]);
        run = at + c.len_utf8();
        if let Some(unit) = surrogate {
            let _ = write!(out, "\\u{unit:04x}");
            continue;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// Binding rules of a handler, as aiorpcx's `signature_info` reads a Python signature
/// (the bound method's, so without `self`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The positional-or-keyword parameters, in order.
    pub names: &'static [&'static str],
    /// How many of the first `names` have no default.
    pub required: usize,
    /// Whether it takes `*args` (extra positional arguments are accepted and ignored).
    pub varargs: bool,
    /// Whether it takes `**kwargs` (unknown named arguments are accepted and ignored).
    pub varkw: bool,
}

/// aiorpcx's `handler_invocation` argument checks: the arguments for `sig.names`, in order,
/// `None` where an optional one was not given (extra positional or named arguments accepted
/// by `*args`/`**kwargs` are dropped; no ElectrumX handler reads them).
///
/// # Errors
/// `-32602` with aiorpcx's messages:
/// - `{n} argument(s) passed to method "{method}" but it requires {required}`;
/// - `{n} argument(s) passed to method {method} taking at most {max}` (method not quoted);
/// - `method "{method}" requires parameter(s) "a", "b"` (missing names, sorted);
/// - `method "{method}" does not take parameter(s) "x", "y"` (unknown names, sorted);
///
/// and `-32603` `internal server error` for a named argument `self` to a handler with
/// `**kwargs` (Python's `TypeError: got multiple values for argument 'self'`).
pub fn bind(
    method: &str,
    sig: &Signature,
    params: &Params,
) -> Result<Vec<Option<Value>>, RpcError> {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    match params {
        Params::List(args) => {
            let n = args.len();
            if n < sig.required {
                return Err(RpcError::invalid_args(format!(
                    "{n} argument{} passed to method \"{method}\" but it requires {}",
                    plural(n),
                    sig.required
                )));
            }
            if !sig.varargs && n > sig.names.len() {
                return Err(RpcError::invalid_args(format!(
                    "{n} argument{} passed to method {method} taking at most {}",
                    plural(n),
                    sig.names.len()
                )));
            }
            Ok((0..sig.names.len()).map(|i| args.get(i).cloned()).collect())
        }
        Params::Named(args) => {
            let quoted = |names: Vec<&str>| {
                let mut names: Vec<String> =
                    names.into_iter().map(|n| format!("\"{n}\"")).collect();
                names.sort();
                names.join(", ")
            };
            let required = &sig.names[..sig.required.min(sig.names.len())];
            let missing: Vec<&str> = required
                .iter()
                .copied()
                .filter(|name| !args.contains_key(*name))
                .collect();
            if !missing.is_empty() {
                return Err(RpcError::invalid_args(format!(
                    "method \"{method}\" requires parameter{} {}",
                    plural(missing.len()),
                    quoted(missing)
                )));
            }
            if sig.varkw {
                if args.contains_key("self") {
                    return Err(RpcError::internal());
                }
            } else {
                let excess: Vec<&str> = args
                    .keys()
                    .map(String::as_str)
                    .filter(|k| !sig.names.contains(k))
                    .collect();
                if !excess.is_empty() {
                    return Err(RpcError::invalid_args(format!(
                        "method \"{method}\" does not take parameter{} {}",
                        plural(excess.len()),
                        quoted(excess)
                    )));
                }
            }
            Ok(sig
                .names
                .iter()
                .map(|name| args.get(*name).cloned())
                .collect())
        }
    }
}

// ---------------------------------------------------------------------------------------
// Python's json.loads, into a tree that keeps what serde_json cannot hold.

/// A value as Python's `json.loads` returns it.
#[derive(Clone, Debug, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    /// An int, as its canonical decimal text (`-0` is `0`).
    Int(String),
    Float(f64),
    /// A string; `lone` lists the lone surrogate escapes Python keeps (byte offset in
    /// `text` of the U+FFFD standing for each, and its code unit), so ids echo exactly.
    Str {
        text: String,
        lone: Vec<(usize, u16)>,
    },
    List(Vec<Node>),
    /// A dict: keys unique, in first-insertion order, the last value of a repeated key.
    Dict(Vec<(String, Node)>),
}

impl Node {
    /// As a `serde_json::Value`: ints beyond `u64`/`i64` become the nearest float and
    /// non-finite floats the strings `nan`, `inf`, `-inf` (their Python `str()`).
    fn into_value(self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(b),
            Node::Int(text) => {
                if let Ok(i) = text.parse::<i64>() {
                    Value::from(i)
                } else if let Ok(u) = text.parse::<u64>() {
                    Value::from(u)
                } else {
                    text.parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map_or(Value::Null, Value::Number)
                }
            }
            Node::Float(x) => serde_json::Number::from_f64(x)
                .map_or_else(|| Value::String(py_float_repr(x)), Value::Number),
            Node::Str { text, .. } => Value::String(text),
            // Plain loops, not iterator chains: in debug builds each adapter is a stack frame
            // per level of nesting.
            Node::List(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(item.into_value());
                }
                Value::Array(values)
            }
            Node::Dict(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (k, v) in entries {
                    map.insert(k, v.into_value());
                }
                Value::Object(map)
            }
        }
    }

    /// `json.dumps(node, separators=(',', ':'))`.
    fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Node::Null => out.push_str("null"),
            Node::Bool(true) => out.push_str("true"),
            Node::Bool(false) => out.push_str("false"),
            Node::Int(text) => out.push_str(text),
            Node::Float(x) if x.is_nan() => out.push_str("NaN"),
            Node::Float(x) if x.is_infinite() => {
                out.push_str(if *x > 0.0 { "Infinity" } else { "-Infinity" })
            }
            Node::Float(x) => out.push_str(&py_float_repr(*x)),
            Node::Str { text, lone } => write_json_str_exact(out, text, lone),
            Node::List(items) => write_seq(out, '[', ",", ']', items, |out, item| {
                item.write_json(out);
            }),
            Node::Dict(entries) => write_seq(out, '{', ",", '}', entries, |out, (k, v)| {
                write_json_str(out, k);
                out.push(':');
                v.write_json(out);
            }),
        }
    }

    /// Python's `str()`.
    fn py_str(&self) -> String {
        match self {
            Node::Str { text, .. } => text.clone(),
            other => {
                let mut out = String::new();
                other.write_repr(&mut out);
                out
            }
        }
    }

    fn write_repr(&self, out: &mut String) {
        match self {
            Node::Null => out.push_str("None"),
            Node::Bool(true) => out.push_str("True"),
            Node::Bool(false) => out.push_str("False"),
            Node::Int(text) => out.push_str(text),
            Node::Float(x) => out.push_str(&py_float_repr(*x)),
            Node::Str { text, .. } => write_py_str_repr(out, text),
            Node::List(items) => write_seq(out, '[', ", ", ']', items, |out, item| {
                item.write_repr(out);
            }),
            Node::Dict(entries) => write_seq(out, '{', ", ", '}', entries, |out, (k, v)| {
                write_py_str_repr(out, k);
                out.push_str(": ");
                v.write_repr(out);
            }),
        }
    }
}

/// Key lookup in a decoded dict.
struct Dict<'a>(&'a [(String, Node)]);

impl Dict<'_> {
    fn get(&self, key: &str) -> Option<&Node> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

enum Decode {
    Utf8,
    Json,
    Fatal(&'static str),
}

/// `json.loads(message.decode())`.
fn decode(message: &[u8]) -> Result<Node, Decode> {
    let text = std::str::from_utf8(message).map_err(|_| Decode::Utf8)?;
    let mut parser = Parser {
        src: text,
        text: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    parser.skip_ws();
    let node = parser.value()?;
    parser.skip_ws();
    if parser.pos != parser.text.len() {
        return Err(Decode::Json);
    }
    Ok(node)
}

/// Dicts up to this many keys are scanned for a repeated key instead of indexed (requests
/// have four or five), saving a hash map per dict decoded.
const SMALL_DICT: usize = 16;

/// `dict[key] = value` while decoding: a repeated key keeps its first place and takes the
/// last value. Small dicts are scanned; `index` (key → place) is built once one grows past
/// [`SMALL_DICT`] keys.
fn set_entry(
    entries: &mut Vec<(String, Node)>,
    index: &mut HashMap<String, usize>,
    key: String,
    value: Node,
) {
    let repeated = if entries.len() < SMALL_DICT {
        entries.iter().position(|(k, _)| *k == key)
    } else {
        if index.is_empty() {
            *index = (entries.iter().enumerate())
                .map(|(i, (k, _))| (k.clone(), i))
                .collect();
        }
        index.get(&key).copied()
    };
    match repeated {
        Some(i) => entries[i].1 = value,
        None => {
            if !index.is_empty() {
                index.insert(key.clone(), entries.len());
            }
            entries.push((key, value));
        }
    }
}

/// A recursive-descent parser with Python's `json` grammar (`json.scanner` and
/// `json.decoder`, strict mode).
struct Parser<'a> {
    /// The message, for slicing out strings and numbers (always at ASCII bytes).
    src: &'a str,
    /// The same, as bytes.
    text: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, literal: &[u8]) -> bool {
        if self.text[self.pos..].starts_with(literal) {
            self.pos += literal.len();
            true
        } else {
            false
        }
    }

    // `value`, `nested`, `list` and `dict` recurse: what they do besides recursing is kept in
    // other functions, so that their stack frames stay small (deep nesting must fit a
    // thread's stack, in debug builds too).

    fn value(&mut self) -> Result<Node, Decode> {
        match self.peek() {
            Some(b'{') => self.nested(Self::dict),
            Some(b'[') => self.nested(Self::list),
            _ => self.scalar(),
        }
    }

    /// Anything but a list or a dict.
    fn scalar(&mut self) -> Result<Node, Decode> {
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                let mut lone = Vec::new();
                let text = self.string(&mut lone)?;
                Ok(Node::Str { text, lone })
            }
            Some(b'n') if self.eat(b"null") => Ok(Node::Null),
            Some(b't') if self.eat(b"true") => Ok(Node::Bool(true)),
            Some(b'f') if self.eat(b"false") => Ok(Node::Bool(false)),
            Some(b'N') if self.eat(b"NaN") => Ok(Node::Float(f64::NAN)),
            Some(b'I') if self.eat(b"Infinity") => Ok(Node::Float(f64::INFINITY)),
            Some(b'-') if self.eat(b"-Infinity") => Ok(Node::Float(f64::NEG_INFINITY)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(Decode::Json),
        }
    }

    fn nested(&mut self, f: fn(&mut Self) -> Result<Node, Decode>) -> Result<Node, Decode> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(Decode::Fatal("RecursionError decoding deeply nested JSON"));
        }
        let node = f(self);
        self.depth -= 1;
        node
    }

    fn list(&mut self) -> Result<Node, Decode> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Node::List(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Node::List(items));
                }
                _ => return Err(Decode::Json),
            }
        }
    }

    fn dict(&mut self) -> Result<Node, Decode> {
        self.pos += 1; // '{'
        let mut entries: Vec<(String, Node)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Node::Dict(entries));
        }
        loop {
            let key = self.key()?;
            let value = self.value()?;
            set_entry(&mut entries, &mut index, key, value);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Node::Dict(entries));
                }
                _ => return Err(Decode::Json),
            }
        }
    }

    /// A dict key and its colon, with the whitespace around them.
    fn key(&mut self) -> Result<String, Decode> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(Decode::Json);
        }
        self.pos += 1;
        let key = self.string(&mut Vec::new())?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(Decode::Json);
        }
        self.pos += 1;
        self.skip_ws();
        Ok(key)
    }

    /// The rest of a string after its opening quote; lone surrogates are noted in `lone`.
    fn string(&mut self, lone: &mut Vec<(usize, u16)>) -> Result<String, Decode> {
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // Both ends are at ASCII bytes (or the end), so on char boundaries.
            out.push_str(self.src.get(start..self.pos).ok_or(Decode::Json)?);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escape = self.peek().ok_or(Decode::Json)?;
                    self.pos += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let unit = self.hex4()?;
                            match self.unicode_escape(unit) {
                                Some(c) => out.push(c),
                                None => {
                                    lone.push((out.len(), unit as u16));
                                    out.push(char::REPLACEMENT_CHARACTER);
                                }
                            }
                        }
                        _ => return Err(Decode::Json),
                    }
                }
                // A control character, or the end of the text.
                _ => return Err(Decode::Json),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, Decode> {
        let digits = self.text.get(self.pos..self.pos + 4).ok_or(Decode::Json)?;
        let mut v = 0u32;
        for &d in digits {
            v = v << 4 | char::from(d).to_digit(16).ok_or(Decode::Json)?;
        }
        self.pos += 4;
        Ok(v)
    }

    /// A `\uXXXX` escape (already read): a high surrogate directly followed by a `\u` low
    /// surrogate combine into one character; `None` for a lone surrogate (which Python keeps
    /// in its string).
    fn unicode_escape(&mut self, unit: u32) -> Option<char> {
        if (0xd800..0xdc00).contains(&unit) && self.text[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            match self.hex4() {
                Ok(low) if (0xdc00..0xe000).contains(&low) => {
                    return char::from_u32(0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00));
                }
                _ => self.pos = save,
            }
        }
        char::from_u32(unit)
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`: an int without fraction and exponent,
    /// else a float (`float()`: overflow is infinity).
    fn number(&mut self) -> Result<Node, Decode> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Decode::Json),
        }
        let int_end = self.pos;
        let mut is_float = false;
        if self.peek() == Some(b'.') && self.text.get(self.pos + 1).is_some_and(u8::is_ascii_digit)
        {
            self.pos += 1;
            self.digits();
            is_float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.digits();
                is_float = true;
            } else {
                self.pos = save;
            }
        }
        let text = self.src.get(start..self.pos).ok_or(Decode::Json)?;
        if is_float {
            return text
                .parse::<f64>()
                .map(Node::Float)
                .map_err(|_| Decode::Json);
        }
        let digits = &self.text[start + usize::from(negative)..int_end];
        if digits.len() > INT_MAX_STR_DIGITS {
            return Err(Decode::Fatal(
                "ValueError: integer literal over 4,300 digits",
            ));
        }
        Ok(Node::Int(if digits == b"0" {
            "0".to_owned()
        } else {
            text.to_owned()
        }))
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap_or_default()
    }

    /// A batch of `n` requests with ids 0..n answered out of order with results of
    /// different sizes: memory held stays near the limit, and the answer is aiorpcx's
    /// (computed here independently: in batch order, an item is replaced by the error once
    /// the running total of the real answers' lengths plus 2 exceeds the limit).
    #[test]
    fn batch_answers_are_held_only_while_they_may_be_sent() {
        let n = 200usize;
        let body: String = (0..n)
            .map(|i| format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"m","params":[]}}"#))
            .collect::<Vec<_>>()
            .join(",");
        let Ok(Incoming::Batch(mut batch)) =
            parse(format!("[{body}]").as_bytes(), &mut Detector::new())
        else {
            panic!("a batch");
        };
        let result = |i: usize| Value::String("r".repeat(1000 + (i * 7919) % 3000));
        let max = 40_000;
        // A fixed permutation: (i * 73) mod 200 visits every position.
        let mut reply = None;
        let mut most = 0;
        for k in 0..n {
            let i = (k * 73) % n;
            let r = result(i);
            reply = batch.collector.record(i, Some(Ok(&r)), max);
            most = most.max(batch.collector.held());
        }
        // Never much more than the limit held (one answer's worth of slack).
        assert!(most <= max + 4_100, "held {most} bytes");
        let mut expected = Vec::new();
        let mut size = 0;
        for i in 0..n {
            let id = Id::from_value(&json!(i));
            let part = encode_response(Protocol::V2, Some(&id), Ok(&result(i)));
            size += part.len() + 2;
            if size > max {
                let e = RpcError::response_too_large(max);
                expected.push(encode_response(Protocol::V2, Some(&id), Err(&e)));
            } else {
                expected.push(part);
            }
        }
        let expected: Vec<String> = expected.into_iter().map(text).collect();
        let expected = format!("[{}]", expected.join(", "));
        assert_eq!(reply, Some(BatchDone::Reply(expected.into_bytes())));
    }

    #[test]
    fn envelopes() {
        let id = Id::from_value(&json!(7));
        let err = RpcError::bad_request("x should be a non-negative integer");
        assert_eq!(
            text(encode_response(Protocol::V2, Some(&id), Ok(&json!(null)))),
            r#"{"jsonrpc":"2.0","result":null,"id":7}"#
        );
        assert_eq!(
            text(encode_response(Protocol::Loose, None, Err(&err))),
            r#"{"jsonrpc":"2.0","error":{"code":1,"message":"x should be a non-negative integer"},"id":null}"#
        );
        assert_eq!(
            text(encode_response(
                Protocol::V1,
                Some(&id),
                Ok(&json!([1.0, "é"]))
            )),
            r#"{"result":[1.0,"\u00e9"],"error":null,"id":7}"#
        );
        assert_eq!(
            text(encode_response(Protocol::V1, Some(&id), Err(&err))),
            r#"{"result":null,"error":{"code":1,"message":"x should be a non-negative integer"},"id":7}"#
        );
    }

    #[test]
    fn error_texts() {
        assert_eq!(
            RpcError::unknown_method("no.such.method").message,
            "unknown method \"no.such.method\""
        );
        assert_eq!(RpcError::unknown_method("x").code, -32601);
        assert_eq!(
            RpcError::response_too_large(1_000_000).message,
            "response too large (over 1,000,000 bytes"
        );
        assert_eq!(RpcError::response_too_large(5).code, INVALID_REQUEST);
        assert_eq!(
            RpcError::internal(),
            RpcError::new(-32603, "internal server error")
        );
        assert_eq!(
            RpcError::server_busy(),
            RpcError::new(-102, "server busy - request timed out")
        );
        assert_eq!(
            RpcError::excessive_resource_usage(),
            RpcError::new(-101, "excessive resource usage")
        );
    }

    #[test]
    fn python_json() {
        let v = json!({"b": [1e-05, 50.0, 1e16, -0.0, u64::MAX, -3], "a": "\u{7f}\n\u{1}/\"\\😀"});
        assert_eq!(
            to_python_json(&v),
            r#"{"b":[1e-05,50.0,1e+16,-0.0,18446744073709551615,-3],"a":"\u007f\n\u0001/\"\\\ud83d\ude00"}"#
        );
    }

    #[test]
    fn strings_escape_only_what_python_escapes() {
        // Plain runs before, between and after escapes.
        assert_eq!(
            to_python_json(&json!("ab\"cd\\ef\u{e9}gh\u{1F600}ij\tkl ~")),
            r#""ab\"cd\\ef\u00e9gh\ud83d\ude00ij\tkl ~""#
        );
        assert_eq!(to_python_json(&json!("")), r#""""#);
        // Lone surrogates in an id are echoed as sent, amid plain text and real characters.
        let mut d = Detector::new();
        let msg = r#"{"method":"m","id":"a\ud800b\udc00\ufffdc\ud83d\ude00d\udbff"}"#;
        let Ok(Incoming::Single(req)) = parse(msg.as_bytes(), &mut d) else {
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
        let Ok(Incoming::Single(req)) = parse(msg.as_bytes(), &mut Detector::new()) else {
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
        assert_eq!(d.writer(), Protocol::V2);
        assert!(parse(b"{", &mut d).is_err());
        assert_eq!(d.protocol(), None);
        assert!(parse(
            br#"{"jsonrpc":"1.0","method":"a","params":[],"id":1}"#,
            &mut d
        )
        .is_ok());
        assert_eq!(d.protocol(), Some(Protocol::V1));
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
        assert_eq!(d.protocol(), Some(Protocol::V1));
    }

    #[test]
    fn notifications_are_never_answered() {
        let mut d = Detector::new();
        let Ok(Incoming::Single(req)) =
            parse(br#"{"jsonrpc":"2.0","method":"a","id":null}"#, &mut d)
        else {
            panic!("expected a request");
        };
        assert!(req.is_notification());
        assert_eq!(req.response(Ok(&json!(1)), 0), None);
    }

    #[test]
    fn bind_positional_and_named() {
        const HEADER: Signature = Signature {
            names: &["height", "cp_height"],
            required: 1,
            varargs: false,
            varkw: false,
        };
        assert_eq!(
            bind("h", &HEADER, &Params::List(vec![json!(5)])),
            Ok(vec![Some(json!(5)), None])
        );
        let named = json!({"cp_height": 2, "height": 1});
        let Value::Object(map) = named else { return };
        assert_eq!(
            bind("h", &HEADER, &Params::Named(map)),
            Ok(vec![Some(json!(1)), Some(json!(2))])
        );
        assert_eq!(
            bind("h", &HEADER, &Params::List(vec![])).map_err(|e| e.message),
            Err("0 arguments passed to method \"h\" but it requires 1".to_owned())
        );
    }
}
