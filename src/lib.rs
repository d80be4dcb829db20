//! FerrumX: an Electrum server daemon, a drop-in replacement for ElectrumX.
//!
//! The rooms, in layers (each uses only rooms above it; `docs/architecture.md` is the map:
//! the data flow from the daemon to the sessions, who may use whom, and where each piece of
//! ElectrumX lives here):
//! - [`py`]: the CPython behaviour ElectrumX's answers are made of (`json.loads`/`dumps`,
//!   `str()`/`repr()`, `int()`, `f'{n:,d}'`, `ipaddress`); depends on nothing else.
//! - [`config`]: the environment (ElectrumX's variables) → typed, validated settings.
//! - [`memory`]: handing freed memory back to the operating system; the allocator's counters.
//! - [`jsonrpc`]: JSON-RPC as aiorpcx speaks it (dialects, parsing, batches, errors,
//!   argument binding, encoding), for both services; builds on `py` only.
//! - [`transport`]: listeners, TLS, line and websocket framing, for both services.
//! - [`daemon`]: the bitcoind JSON-RPC client (batches, retries, warm-up, failover, cookie)
//!   and its ZMQ doorbell.
//! - [`index`]: the RocksDB index (storage schema, applying a block to its caches,
//!   undo/reorg, atomic flushes) and its read API.
//! - [`indexer`]: the block processor: the prefetcher, the sync loop (catch-up, follow,
//!   reorgs, forced rollbacks, progress) over the index's narrow `Chain` interface.
//! - [`mempool`]: the daemon's mempool, per script hash, and the fee histogram.
//! - [`electrum`]: the Electrum protocol: version negotiation, parameter checks, methods,
//!   sessions, cost and throttling, notifications.
//! - [`admin`]: the local admin RPC (`rpc` in SERVICES), the operator's views, the peer
//!   table, and the pieces of the `ferrumx_rpc` CLI.
//! - [`server`]: start-up, wiring the rooms together, shutdown.
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
