//! The daemon room's error type, and the JSON-RPC error codes of Bitcoin Core that callers
//! act on.

use bitcoin::{BlockHash, Network};

/// Bitcoin Core's JSON-RPC error codes (`src/rpc/protocol.h`) that FerrumX looks at.
pub mod codes {
    /// `RPC_INVALID_ADDRESS_OR_KEY`: block or transaction not found.
    pub const NOT_FOUND: i32 = -5;
    /// `RPC_INVALID_PARAMETER`: e.g. "Block height out of range".
    pub const INVALID_PARAMETER: i32 = -8;
    /// `RPC_DESERIALIZATION_ERROR`: "TX decode failed".
    pub const DESERIALIZATION_ERROR: i32 = -22;
    /// `RPC_VERIFY_ERROR` (`RPC_TRANSACTION_ERROR`): missing or spent inputs.
    pub const VERIFY_ERROR: i32 = -25;
    /// `RPC_VERIFY_REJECTED`: rejected by mempool policy or consensus.
    pub const VERIFY_REJECTED: i32 = -26;
    /// `RPC_VERIFY_ALREADY_IN_CHAIN`: outputs already in the UTXO set.
    pub const VERIFY_ALREADY_IN_CHAIN: i32 = -27;
    /// `RPC_IN_WARMUP`: the node is starting ("Loading block index…"); retried, never
    /// returned.
    pub const IN_WARMUP: i32 = -28;
    /// `RPC_METHOD_NOT_FOUND`.
    pub const METHOD_NOT_FOUND: i32 = -32601;
}

/// Why a daemon call failed.
///
/// Connection failures, HTTP failures, non-JSON bodies and warm-up (-28) are retried inside
/// the client and never show up here, except as [`Error::Unreachable`] when the caller set a
/// limit ([`super::Daemon::give_up_after`]) or as [`Error::Shutdown`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The daemon answered with a JSON-RPC error: passed on as it came (code and message), e.g.
    /// to a wallet whose broadcast was rejected.
    #[error("daemon error {code}: {message}")]
    Rpc { code: i32, message: String },
    /// No endpoint answered within the caller's limit. `reason` is the last failure; it never
    /// holds credentials.
    #[error("daemon at {url} unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    /// The daemon answered, but with something that is not what the method returns (wrong
    /// type, bad hex, a block or transaction that does not hash to what was asked, ...).
    #[error("bad daemon response: {0}")]
    BadResponse(String),
    /// The daemon's genesis block is not the one of the configured network.
    #[error(
        "daemon is on the wrong network: {network} has genesis block {expected}, the daemon's \
         is {got} (check COIN/NET and DAEMON_URL)"
    )]
    WrongNetwork {
        network: Network,
        expected: BlockHash,
        got: BlockHash,
    },
    /// Shutdown was requested while the call was waiting or retrying.
    #[error("shutting down")]
    Shutdown,
}

impl Error {
    /// The JSON-RPC error code, for [`Error::Rpc`].
    pub fn rpc_code(&self) -> Option<i32> {
        match self {
            Error::Rpc { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether this is the daemon saying "not found" (-5).
    pub fn is_not_found(&self) -> bool {
        self.rpc_code() == Some(codes::NOT_FOUND)
    }

    pub(crate) fn bad(what: impl Into<String>) -> Error {
        Error::BadResponse(what.into())
    }
}
