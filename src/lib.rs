//! FerrumX: an Electrum server daemon, a drop-in replacement for ElectrumX.
//!
//! Layout (rooms, as `../shared/DESIGN.md` names them):
//! - [`config`]: the environment (ElectrumX's variables) → typed, validated settings.
//! - [`daemon`]: the bitcoind JSON-RPC client (batches, retries, warm-up, failover, cookie).
//! - [`index`]: the RocksDB index (storage schema, applying a block to its caches,
//!   undo/reorg, atomic flushes) and its read API.
//! - [`indexer`]: the block processor: the prefetcher, the sync loop (catch-up, follow,
//!   reorgs, forced rollbacks, progress) over the index's narrow `Chain` interface.
//! - [`py`]: the CPython behaviour ElectrumX's answers are made of (`json.loads`/`dumps`,
//!   `str()`/`repr()`, `int()`, `f'{n:,d}'`, `ipaddress`); depends on nothing else.
//! - [`jsonrpc`]: JSON-RPC as aiorpcx speaks it (dialects, parsing, batches, errors,
//!   argument binding, encoding), for both services; builds on `py` only.
//! - [`transport`]: listeners, TLS, line and websocket framing, for both services.
//! - [`electrum`]: the Electrum protocol: version negotiation, parameter checks, methods,
//!   sessions, notifications.
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
pub mod indexer;
pub mod jsonrpc;
pub mod memory;
pub mod mempool;
pub mod py;
pub mod server;
pub mod transport;
