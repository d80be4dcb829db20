//! What FerrumX knows of bitcoind's REST interface (`-rest`): `GET /rest/block/<hash>.bin` answers
//! the serialized block as is, with no JSON to parse and no hex to decode. REST is served on
//! the RPC port without credentials.
//!
//! Whether an endpoint serves REST is found out on first use and kept per endpoint
//! ([`RestState`]); it is found out again after a failover to that endpoint, and a while after
//! REST failed or was off (bitcoind may have been restarted with or without `-rest`). What
//! Bitcoin Core answers (`src/rest.cpp`, `src/httpserver.cpp`):
//! - REST off: no handler for `/rest/…`, so 404 with an empty body;
//! - an unknown block: 404, `text/plain`, `<hash> not found\r\n` (or `not available (pruned
//!   data)`);
//! - a malformed hash: 400 `Invalid hash: …`; warm-up: 503 `Service temporarily unavailable: …`;
//! - a block: 200, `application/octet-stream`, the block's bytes.
//!
//! A REST block is trusted only once its header hashes to the hash asked for. Anything else
//! (an HTTP error, a wrong, truncated or oversized block) is a [`Miss`]: the caller fetches the
//! same blocks by JSON-RPC, so REST can only make fetching faster, never wrong. The requests
//! themselves are made in `rpc`, on the endpoint's connections.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Bitcoin Core's `MAX_BLOCK_SERIALIZED_SIZE`: no valid block is larger.
pub(crate) const MAX_BLOCK_BYTES: usize = 4_000_000;
/// How long REST is left alone after it failed.
const AFTER_FAILURE: Duration = Duration::from_secs(60);
/// How long an endpoint without REST is left alone before asking again.
const AFTER_DISABLED: Duration = Duration::from_secs(600);

/// Whether an endpoint serves REST.
#[derive(Debug, Default)]
pub(crate) struct RestState(Mutex<State>);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    /// Not tried yet (or tried again after a failover): try it.
    #[default]
    Unknown,
    On,
    /// Off or failing: use JSON-RPC until then.
    Off {
        until: Instant,
    },
}

/// Why REST did not give the blocks; the caller uses JSON-RPC instead.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Miss {
    /// REST is not enabled at this endpoint (404, empty body).
    Disabled,
    /// The daemon does not have a block (404 with Core's body), or is warming up (503): the
    /// JSON-RPC call gives the daemon's own error, as without REST.
    NotNow(String),
    /// REST answered wrongly or broke (HTTP error, wrong/truncated/oversized block).
    Failed(String),
}

impl RestState {
    fn get(&self) -> State {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, s: State) -> State {
        std::mem::replace(
            &mut *self.0.lock().unwrap_or_else(PoisonError::into_inner),
            s,
        )
    }

    /// Whether to try REST now.
    pub(crate) fn wanted(&self) -> bool {
        match self.get() {
            State::Unknown | State::On => true,
            State::Off { until } => Instant::now() >= until,
        }
    }

    /// Forget what is known: find out again on the next block (after a failover).
    pub(crate) fn reset(&self) {
        self.set(State::Unknown);
    }

    /// Records how fetching through REST went; returns what to log (each change once). The
    /// log is left to the caller: this runs on a blocking thread.
    pub(crate) fn record(&self, outcome: Result<(), &Miss>) -> Option<Note> {
        match outcome {
            Ok(()) => (self.set(State::On) != State::On).then_some(Note::On),
            Err(Miss::NotNow(_)) => None,
            Err(Miss::Disabled) => {
                let before = self.set(State::Off {
                    until: Instant::now() + AFTER_DISABLED,
                });
                (!matches!(before, State::Off { .. })).then_some(Note::Disabled)
            }
            Err(Miss::Failed(reason)) => {
                self.set(State::Off {
                    until: Instant::now() + AFTER_FAILURE,
                });
                Some(Note::Failed(reason.clone()))
            }
        }
    }
}

/// A change worth a log line.
#[derive(Debug)]
pub(crate) enum Note {
    On,
    Disabled,
    Failed(String),
}

impl Note {
    /// Logs the change at `url`.
    pub(crate) fn log(&self, url: &str) {
        match self {
            Note::On => tracing::info!("daemon at {url} serves REST: fetching blocks as binary"),
            Note::Disabled => tracing::info!(
                "daemon at {url} has no REST interface (bitcoind -rest is off): fetching \
                 blocks by JSON-RPC"
            ),
            Note::Failed(reason) => tracing::warn!(
                "daemon at {url}: REST block fetch failed: {reason}; fetching by JSON-RPC, \
                 REST tried again in {} s",
                AFTER_FAILURE.as_secs()
            ),
        }
    }
}
