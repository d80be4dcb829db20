//! FerrumX's test harness (`ferrumx-testkit`, a dev-only workspace crate): everything the
//! integration tests (`tests/`) and the benches (`benches/`) share, compiled once instead of
//! once per test binary.
//!
//! | module | what it owns |
//! |---|---|
//! | [`tmp`] | [`TempDir`]: a unique directory under the system's temporary directory, removed on drop |
//! | [`rng`] | [`Rng`]: SplitMix64, the deterministic randomness of tests and benches |
//! | [`net`] | [`free_port`], [`WAIT`], connecting from a chosen loopback source address |
//! | [`process`] | [`Process`]: a child process with an empty environment, its output collected line by line, killed on drop; memory and CPU time of a process |
//! | [`server`] | [`Server`] (`ferrumx_server` as a process), [`ServerEnv`], [`start_on_free_ports`] (the port-race retry), [`STEP`] |
//! | [`electrum`] | [`Electrum`]: the stand-in and a server synced to it on tcp, ssl, ws and wss; [`Kind`]; [`serve`] (the stand-in alone) |
//! | [`client`] | [`Client`]: one blocking JSON-RPC client for every transport (notifications kept apart, reads with deadlines, a chosen source address) |
//! | [`tls`] | self-signed certificates and a TLS client configuration that trusts exactly one |
//! | [`shared`] | [`Shared`]: one fixture per test binary, started once, shared by its read-only tests, its processes killed when the binary exits |
//! | [`electrumx`] | where ElectrumX 1.20 is installed, and the peer-missing policy (`CI`) |
//! | [`daemon`] | [`daemon_for`]: FerrumX's bitcoind client for a running stand-in |
//! | [`db`] | checks of a database the server wrote: [`open_index`], [`digest_of`], [`fresh_digest`], [`check_against_truth`], ... |
//! | [`chain`] | answers computed from the stand-in's data: [`prevout_script`], [`touched_by`], [`sort_unconfirmed`] |
//! | [`wait`] | [`poll_until`], [`p50`] |
//! | [`oracle`] | independent oracles: ElectrumX's compact fee histogram, rewritten from ElectrumX 1.20 |
//! | [`methods`] | the Electrum method names, from the table the server exports |
//! | [`wallet`] | the real Electrum wallet as a command-line daemon ([`wallet::Wallet`], any version: [`wallet::Program`]), what it must show ([`wallet::expected_view`]), and the wallet scenarios ([`wallet::scenario`]) |
//!
//! Who may use whom: tests and benches use this crate; it uses `ferrumx` (only in
//! [`daemon`], [`db`] and [`methods`]: the rest drives the server from outside, as a
//! process on sockets) and `ferrumx-simnode`. `src/` unit tests must not use it (they would
//! link a second copy of `ferrumx`).

pub mod chain;
pub mod client;
pub mod daemon;
pub mod db;
pub mod electrum;
pub mod electrumx;
pub mod methods;
pub mod net;
pub mod oracle;
pub mod outpoint;
pub mod process;
pub mod rng;
pub mod server;
pub mod settings;
pub mod shared;
pub mod tls;
pub mod tmp;
pub mod wait;
pub mod wallet;

pub use chain::{output_scripts, prevout_script, script_kind, sort_unconfirmed, touched_by};
pub use client::{outcome, Client, Received, RpcErr};
pub use daemon::daemon_for;
pub use db::{
    check_against_truth, check_queries, check_spenders, cumulative_txs, digest_of, fresh_digest,
    open_index, wait_for_wal_writes, wal_sizes, SpendersChecked,
};
pub use electrum::{serve, Electrum, Kind};
pub use net::{free_port, listening_ports, WAIT};
pub use outpoint::{outpoint_status, outpoints_in_every_state};
pub use process::{Line, Process};
pub use rng::Rng;
pub use server::{start_on_free_ports, Server, ServerEnv, STEP};
pub use settings::env_or;
pub use shared::{Fixture, Guard, Shared};
pub use tmp::TempDir;
pub use wait::{p50, poll_until, quantile_ms};
