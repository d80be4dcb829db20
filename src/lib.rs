//! FerrumX: an Electrum server daemon, a drop-in replacement for ElectrumX.
//!
//! Layout (rooms, as `../shared/DESIGN.md` names them):
//! - [`config`]: the environment (ElectrumX's variables) → typed, validated settings.
//! - [`daemon`]: the bitcoind JSON-RPC client (retries, warm-up, failover).

pub mod config;
pub mod daemon;
