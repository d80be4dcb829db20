//! FerrumX: an Electrum server daemon, a drop-in replacement for ElectrumX.
//!
//! Layout (rooms, as `../shared/DESIGN.md` names them):
//! - [`config`]: the environment (ElectrumX's variables) → typed, validated settings.
//! - [`daemon`]: the bitcoind JSON-RPC client (batches, retries, warm-up, failover, cookie).
//!
//! Still to come (issues 3–6): `index`, `mempool`, `electrum`, `admin`, `peers`.

pub mod config;
pub mod daemon;
