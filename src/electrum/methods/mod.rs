//! The Electrum methods: as ElectrumX 1.20 serves them at protocol 1.4 to 1.6, and as
//! ElectrumX 2.0.0 serves them at 1.7 (docs/compatibility.md lists where 2.0.0 answers a
//! 1.4–1.6 client otherwise, and what FerrumX does there).
//!
//! - [`table`]: one row per method — which versions serve it, request or client
//!   notification, its signature (for argument binding), its fixed cost (ElectrumX's
//!   `bump_cost` figures) — and request counting.
//! - [`request`]: bound arguments checked once, with ElectrumX's messages, into a typed
//!   [`Request`].
//! - [`dispatch`](mod@dispatch): a call's fixed cost, its request, its handler.
//! - The handlers, by family: [`server`] (`server.*`), [`headers`] (block headers, header
//!   proofs, `headers.subscribe`), [`scripthash`] (`blockchain.scripthash.*`, up to 1.6),
//!   [`scriptpubkey`] (`blockchain.scriptpubkey.*`, 1.7), [`transactions`]
//!   (`blockchain.transaction.*`), [`fees`] (fee estimates, relay fee, `mempool.*`),
//!   [`outpoint`] (`blockchain.outpoint.*`, 1.7: the spender index with the mempool
//!   overlaid).
//! - [`call`]: what a handler works with ([`Call`]: the backend and the session).
//! - [`backend`]: the narrow interface over the index, the mempool and the daemon that the
//!   handlers use ([`Backend`]), and its implementation for the server's `ElectrumState`;
//!   the unit tests (`tests/`) drive the handlers with a fake instead.
//! - [`failure`]: a failed call, and the one conversion from each error type to what the
//!   client is told.
//!
//! Within `methods/`: `table` and `backend` use no other file of it; `request` uses `table`;
//! `failure` uses `backend`; `call` uses `backend` and `failure`; each family uses `call`,
//! `backend`, `failure` (and the script families the `request` type of a script hash);
//! `dispatch` uses them all. No family uses another but `scriptpubkey`, which is
//! `scripthash`'s reads under 1.7's names and shapes (as in ElectrumX 2.0).
//!
//! A new family is a file of handlers, its rows in [`table::TABLE`] (versions, signature,
//! fixed cost), a [`Method`] and a [`Request`] variant per method, and its arms in
//! `Request::parse` and `dispatch`.

pub mod backend;
pub mod call;
pub mod dispatch;
pub mod failure;
pub mod fees;
pub mod headers;
pub mod outpoint;
pub mod request;
pub mod scripthash;
pub mod scriptpubkey;
pub mod server;
pub mod table;
pub mod transactions;

#[cfg(test)]
mod tests;

pub use backend::{Backend, DaemonCalls, DbError, IndexReads, MempoolReads};
pub use call::Call;
pub use failure::{CallFailure, Outcome};
pub use headers::MAX_CHUNK_SIZE;
pub use request::Request;
pub use table::{FixedCost, Invocation, Method, Row, Versions, TABLE};
