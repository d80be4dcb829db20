//! FerrumX: an Electrum server daemon, a drop-in replacement for ElectrumX.
//!
//! Layout (rooms, as `../shared/DESIGN.md` names them):
//! - [`config`]: the environment (ElectrumX's variables) → typed, validated settings.
//! - [`daemon`]: the bitcoind JSON-RPC client (batches, retries, warm-up, failover, cookie).
//! - [`index`]: the RocksDB index (storage schema, block processor, undo/reorg, atomic
//!   flushes) and its read API.
//! - [`electrum`]: the Electrum protocol: transports, JSON-RPC, methods, notifications.
//! - [`mempool`]: the daemon's mempool, per script hash, and the fee histogram.
//! - [`admin`]: the local admin RPC (`rpc` in SERVICES), its peer table, and the pieces of
//!   the `ferrumx_rpc` CLI.
//!
//! Still to come: peer discovery.

pub mod admin;
pub mod config;
pub mod daemon;
pub mod electrum;
pub mod index;
pub mod memory;
pub mod mempool;
pub mod prefetch;
pub mod server;
pub mod sync;
pub mod util;
