//! A failed call, and the one conversion from each error the methods meet (the index and
//! the caches in front of it, histories, the daemon, a blocking task) to what the client is
//! told, in ElectrumX's words.

use crate::daemon;
use crate::electrum::history::HistoryError;
use crate::jsonrpc::{RpcError, BAD_REQUEST, DAEMON_ERROR};
use crate::py;

use super::backend::DbError;

/// ElectrumX 2.0's `RPC_ERROR_HISTORY_TOO_LONG`: the code of "history too large" at
/// protocol 1.7 (up to 1.6 it is `BAD_REQUEST`, as in ElectrumX 1.20).
pub const HISTORY_TOO_LONG: i64 = 10_001;

/// A failed call: the error for the client, and whether to disconnect after sending it
/// (aiorpcx's `ReplyAndDisconnect`).
#[derive(Debug)]
pub struct CallFailure {
    pub error: RpcError,
    pub disconnect: bool,
}

/// What a method answers.
pub type Outcome = Result<serde_json::Value, CallFailure>;

impl CallFailure {
    /// An error after which the session is closed.
    pub fn and_disconnect(error: RpcError) -> CallFailure {
        CallFailure {
            error,
            disconnect: true,
        }
    }
}

/// A `BAD_REQUEST` (code 1) failure: ElectrumX's `RPCError(BAD_REQUEST, message)`.
pub fn bad(message: impl Into<String>) -> CallFailure {
    RpcError::new(BAD_REQUEST, message).into()
}

impl From<RpcError> for CallFailure {
    fn from(error: RpcError) -> CallFailure {
        CallFailure {
            error,
            disconnect: false,
        }
    }
}

/// A failed index read: `db error: …` (code 1).
impl From<DbError> for CallFailure {
    fn from(e: DbError) -> CallFailure {
        bad(e.to_string())
    }
}

/// `history too large` or `db error: …` (code 1).
impl From<HistoryError> for CallFailure {
    fn from(e: HistoryError) -> CallFailure {
        bad(e.to_string())
    }
}

/// ElectrumX's wrapping of a daemon failure: `daemon error: DaemonError({...})` (code 2).
impl From<daemon::Error> for CallFailure {
    fn from(e: daemon::Error) -> CallFailure {
        RpcError::new(
            DAEMON_ERROR,
            format!("daemon error: {}", daemon_error_repr(&e)),
        )
        .into()
    }
}

/// A history read's failure at protocol 1.7: "history too large" with code
/// [`HISTORY_TOO_LONG`]; other failures as below 1.7.
pub fn history_failure_v17(e: HistoryError) -> CallFailure {
    match e {
        HistoryError::TooLarge => RpcError::new(HISTORY_TOO_LONG, e.to_string()).into(),
        other => other.into(),
    }
}

/// A blocking read that did not finish (it panicked, or the runtime is shutting down).
impl From<tokio::task::JoinError> for CallFailure {
    fn from(e: tokio::task::JoinError) -> CallFailure {
        bad(format!("internal error: {e}"))
    }
}

/// Python's repr of ElectrumX's `DaemonError` for `e`.
fn daemon_error_repr(e: &daemon::Error) -> String {
    match e {
        daemon::Error::Rpc { code, message } => format!(
            "DaemonError({{'code': {code}, 'message': {}}})",
            py::py_str_repr(message)
        ),
        other => format!("DaemonError({})", py::py_str_repr(&client_safe(other))),
    }
}

/// What a client may be told of a failure that is not the daemon's own answer: never the
/// daemon's address (an operator's private detail).
fn client_safe(e: &daemon::Error) -> String {
    match e {
        daemon::Error::Unreachable { .. } => "daemon unreachable".to_string(),
        other => other.to_string(),
    }
}

/// The daemon's message of a rejection (what ElectrumX puts in broadcast errors).
pub fn daemon_message(e: &daemon::Error) -> String {
    match e {
        daemon::Error::Rpc { message, .. } => message.clone(),
        other => client_safe(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_errors_are_shown_as_electrumx_shows_them_without_the_daemons_address() {
        let rpc = daemon::Error::Rpc {
            code: -5,
            message: "No such mempool or blockchain transaction. Use gettransaction for \
                      wallet transactions."
                .into(),
        };
        let failure = CallFailure::from(rpc);
        assert_eq!(failure.error.code, DAEMON_ERROR);
        assert_eq!(
            failure.error.message,
            "daemon error: DaemonError({'code': -5, 'message': 'No such mempool or blockchain \
             transaction. Use gettransaction for wallet transactions.'})"
        );
        let down = daemon::Error::Unreachable {
            url: "http://10.1.2.3:8332/".into(),
            reason: "connection refused by 10.1.2.3".into(),
        };
        let shown = CallFailure::from(down.clone()).error.message;
        assert_eq!(shown, "daemon error: DaemonError('daemon unreachable')");
        assert_eq!(daemon_message(&down), "daemon unreachable");
    }

    #[test]
    fn index_and_history_errors_are_db_errors_with_code_1() {
        let e = CallFailure::from(DbError("no such row".into()));
        assert_eq!(
            (e.error.code, e.error.message.as_str()),
            (1, "db error: no such row")
        );
        let e = CallFailure::from(HistoryError::TooLarge);
        assert_eq!(
            (e.error.code, e.error.message.as_str()),
            (1, "history too large")
        );
        let e = CallFailure::from(HistoryError::Index("x".into()));
        assert_eq!(e.error.message, "db error: x");
        assert!(!e.disconnect);
    }
}
