//! The `electrum` room: the Electrum protocol — 1.4–1.6 as ElectrumX 1.20 serves it, 1.7 as
//! ElectrumX 2.0.0 does — version negotiation, parameter checks, the methods, sessions,
//! status hashes and notifications, over the [`transport`](crate::transport) and
//! [`jsonrpc`](crate::jsonrpc) rooms it shares with the admin RPC.
//!
//! Only this room knows the Electrum methods.

pub mod cost;
pub mod history;
pub mod history_json;
pub mod manager;
pub mod merkle;
pub mod methods;
mod noise;
pub mod outbox;
mod outpoint_notify;
pub mod outpoints;
pub mod params;
pub mod registry;
mod serve;
pub mod session;
pub mod shared;
mod subs;
pub mod version;
