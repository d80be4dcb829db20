//! The `jsonrpc` room: JSON-RPC exactly as ElectrumX 1.20 speaks it through aiorpcx 0.25
//! (`aiorpcx/jsonrpc.py`: `JSONRPCAutoDetect`, `JSONRPCv1`, `JSONRPCv2`, `JSONRPCLoose`,
//! `JSONRPCConnection`, `handler_invocation`), for the server side of a connection,
//! whatever carries the messages. Both services use it: the Electrum sessions
//! (`electrum::serve`) and the admin RPC (`admin::rpc`, ElectrumX's `LocalRPC`, which is an
//! aiorpcx session too).
//!
//! Files: `dialect` (V1/V2/Loose and detection), `parse` (one received message: requests,
//! batches, responses from the client, faults), `request` (a request and its single
//! answer), `batch` (a batch's answer), `bind` (argument binding), `encode` (responses and
//! notifications as aiorpcx writes them), `error` (codes and messages); each uses only files
//! further down this list: `parse`, `batch`, `bind`, `request`, `encode`, `dialect`,
//! `error`. Python's `json.loads`/`json.dumps` and `str()` come from the [`py`](crate::py)
//! room; this room depends on nothing else.
//!
//! # What aiorpcx does, and this room reproduces
//!
//! **Decoding.** A message is decoded as strict UTF-8 (else parse error `-32700`
//! `messages must be encoded in UTF-8`) and parsed by Python's `json.loads` (else `-32700`
//! `invalid JSON`). Python's parser is not serde_json's: it accepts `NaN`, `Infinity` and
//! `-Infinity`, unbounded integers, lone surrogate escapes and any nesting that fits its
//! recursion limit; an integer literal of more than 4,300 digits or nesting beyond the
//! recursion limit raise exceptions aiorpcx does not catch, which kill the connection's
//! message loop. [`parse`] follows it (a [`Fault`] with `fatal` set for the latter).
//!
//! **Dialect detection** ([`Detector`]). A connection starts as `JSONRPCAutoDetect`. The
//! first message that is valid JSON fixes the dialect for the rest of the connection (a
//! message that fails to decode leaves it undetected): a dict with `"jsonrpc": "2.0"` is
//! [`Dialect::V2`], with `"jsonrpc": "1.0"` [`Dialect::V1`], without either but holding both
//! `"result"` and `"error"` V1, anything else (including non-dicts) [`Dialect::Loose`]. For a
//! batch, if all items agree that dialect wins, else V2 if any item says V2, else V1 if any
//! says V1, else Loose (also for `[]`). Undetected, errors are written as V2.
//!
//! - V2 requires `"jsonrpc": "2.0"` on every later message, ids must be numbers (bools
//!   included), strings or null, params a list or dict (absent = `[]`), batches allowed.
//! - Loose is V2 without the `"jsonrpc"` check; it writes V2 messages.
//! - V1 requires an `"id"` key (any type), params must be a list (absent is an error), batches
//!   are refused as `request object must be a dictionary`.
//!
//! In every dialect a request whose id is absent or `null` is a notification: it is never
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

mod answer;
mod batch;
mod bind;
mod dialect;
mod encode;
mod error;
mod parse;
mod request;

pub use answer::{Answer, JsonBody};
pub use batch::{Batch, BatchCollector, BatchDone};
pub use bind::{bind, Signature};
pub use dialect::{Detector, Dialect};
pub use encode::{encode_answer, encode_notification, encode_response, join_batch, Id};
pub use error::{
    RpcError, BAD_REQUEST, DAEMON_ERROR, ERROR_CODE_UNAVAILABLE, EXCESSIVE_RESOURCE_USAGE,
    INTERNAL_ERROR, INVALID_ARGS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR, SERVER_BUSY,
};
pub use parse::{parse, Fault, Parsed};
pub use request::{Params, Request};
