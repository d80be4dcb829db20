//! FerrumX: an Electrum server daemon, a drop-in replacement for ElectrumX.
//!
//! Layout (rooms, as `../shared/DESIGN.md` names them):
//! - [`config`]: the environment (ElectrumX's variables) → typed, validated settings.
//! - [`daemon`]: the bitcoind JSON-RPC client (batches, retries, warm-up, failover, cookie).
//! - [`index`]: the RocksDB index (storage schema, block processor, undo/reorg, atomic
//!   flushes) and its read API.
//!
//! Still to come (issues 3–6): `mempool`, `electrum`, `admin`, `peers`.

pub mod config;
pub mod daemon;
pub mod index;
pub mod prefetch;
pub mod server;
pub mod sync;
