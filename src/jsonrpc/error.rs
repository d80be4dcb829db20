//! JSON-RPC error codes (aiorpcx's and ElectrumX's) and the error object ([`RpcError`]) with
//! aiorpcx's and ElectrumX's standard messages.

use crate::py::thousands;

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
            thousands(max_response_size as u64)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
