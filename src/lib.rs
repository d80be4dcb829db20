//! FerrumX: an Electrum server daemon, a drop-in replacement for ElectrumX.
//!
//! Layout (rooms, as `../shared/DESIGN.md` names them):
//! - [`config`]: the environment (ElectrumX's variables) → typed, validated settings.
//! - [`daemon`]: the bitcoind JSON-RPC client (batches, retries, warm-up, failover, cookie).
//! - [`index`]: the RocksDB index (storage schema, block processor, undo/reorg, atomic
//!   flushes) and its read API.
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
pub mod jsonrpc;
pub mod memory;
pub mod mempool;
pub mod prefetch;
pub mod py;
pub mod server;
pub mod sync;
pub mod transport;
