//! The bitcoind JSON-RPC client: everything FerrumX learns about the chain and the mempool
//! comes through here.
//!
//! [`Daemon`] is cheap to clone and shared by the indexer, the mempool poller and the
//! Electrum sessions. Its methods are async; the blocking `bitcoincore-rpc` exchanges run on
//! `spawn_blocking` threads, at most [`DaemonOptions::max_connections`] at a time.
//!
//! Failures are handled as ElectrumX does:
//! - connection failures, HTTP failures, non-JSON answers and warm-up (-28) are retried with
//!   exponential backoff ([`DaemonOptions::retry_base`] doubling up to
//!   [`DaemonOptions::retry_cap`]), failing over round-robin to the next endpoint after each
//!   failure. An outage is logged once at warn when it starts and once at info when the
//!   daemon answers again. Logs carry `http://host:port/` only, never credentials.
//! - error answers (-5 not found, -8 out of range, -25/-26/-27 broadcast rejections, ...)
//!   are returned at once as [`Error::Rpc`] with the daemon's code and message.
//! - answers of the wrong shape are [`Error::BadResponse`].
//! - cancelling [`DaemonOptions::shutdown`] ends every wait with [`Error::Shutdown`].
//!
//! Layout, each file using only files further down this list:
//! - [`zmq`]: the ZMQ notification listener (uses [`Daemon`] to find the publisher's host);
//! - `client`: [`Daemon`], the typed calls (one method per bitcoind RPC FerrumX uses);
//! - `retry`: the endpoint pool and its retry loop (backoff, failover, outage logs);
//! - `rpc`: one endpoint's connections, cookie, one JSON-RPC exchange, REST block requests;
//! - `rest`: whether an endpoint serves bitcoind's REST interface, what its answers mean;
//! - `http`: one HTTP/1.1 connection, replies read whole into buffers, bounded;
//! - `decode`: answer validation and typed results;
//! - `options`: [`DaemonOptions`] and [`DaemonStats`];
//! - `error`.
//!
//! `mod.rs` is the door: declarations and re-exports only.

mod client;
mod decode;
mod error;
mod http;
mod options;
mod rest;
mod retry;
mod rpc;
pub mod zmq;

pub use client::Daemon;
pub use decode::{ChainTip, MempoolInfo, NetworkInfo, SmartFee, TipStatus};
pub use error::{codes, Error};
pub use options::{DaemonOptions, DaemonStats};
