//! The `electrum` room: the Electrum protocol (1.4–1.6) as ElectrumX 1.20 serves it —
//! transports (TCP, SSL, WS, WSS), JSON-RPC framing, version negotiation, parameter checks,
//! the methods, status hashes and notifications.
//!
//! Only this room knows the wire protocol.

pub mod cost;
pub mod history;
pub mod jsonrpc;
pub mod manager;
pub mod merkle;
pub mod methods;
pub mod outbox;
pub mod params;
pub mod registry;
mod serve;
pub mod session;
pub mod shared;
pub mod transport;
pub mod version;
