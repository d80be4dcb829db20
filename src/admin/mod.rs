//! The admin room: the local RPC server behind SERVICES' `rpc` entries (ElectrumX's
//! `LocalRPC`), served from start-up — during the initial sync too — and the pieces of the
//! `ferrumx_rpc` command-line client.
//!
//! Commands, with ElectrumX's arguments and answers (see `docs/operations.md`):
//! `add_peer`, `daemon_url`, `disconnect`, `getinfo`, `groups`, `log`, `peers`, `query`,
//! `reorg`, `sessions`, `stop`.
//!
//! Layout, each file using only files further down this list (and `mod.rs`, the door, only
//! declaring and re-exporting them):
//! - `client`: the CLI's argument parsing and exchange (`ferrumx_rpc`);
//! - `rpc`: the service: connections over the shared `transport` room, messages through the
//!   shared `jsonrpc` room, as ElectrumX's `LocalRPC`;
//! - `commands`: what each command does;
//! - `views`: `getinfo` and the `sessions` and `groups` rows, for the commands and for
//!   LOG_SESSIONS, which this room logs;
//! - `state`: [`Admin`], what the commands act on, and what a connection does after an
//!   answer;
//! - [`peers`]: the peer table and peer verification (a room of its own files);
//! - `query`: `query`'s lookups;
//! - `text`: tables, durations, amounts and JSON for people, in the CLI and the log.

pub mod client;
mod commands;
pub mod peers;
pub mod query;
mod rpc;
mod state;
pub mod text;
pub mod views;

pub use client::DEFAULT_PORT;
pub use peers::PeerTable;
pub use rpc::start;
pub use state::Admin;
pub use views::log_sessions;
