//! The peer table behind the admin RPC's `add_peer` and `peers`, and `getinfo`'s peer counts.
//!
//! FerrumX has no peer discovery yet: the table holds only the peers an operator adds, each
//! verified as ElectrumX's `PeerManager` does — connect (SSL first, then TCP), then
//! `server.version`, `blockchain.headers.subscribe` (their height within 5 blocks of ours
//! and their header 10 blocks below the lower tip equal to ours) and `server.features` (our
//! genesis hash, and the peer's host among its own `hosts`). A peer that answers all that is
//! good until [`STALE_SECS`] pass without another success (retried before that); a peer
//! whose answers are wrong is bad; one that cannot be reached stays "never" (or turns
//! stale). Retries back off as ElectrumX's do, and a peer is forgotten after 3 failed tries
//! in a row (10 for one that was good).
//!
//! Onion peers are kept but not verified: FerrumX does not reach Tor yet. Unlike
//! ElectrumX, private and local addresses are accepted (the operator is trusted, and the
//! table is not served to clients: `server.peers.subscribe` answers `[]`).
//!
//! Layout, each file using only files further down this list:
//! - `table`: [`PeerTable`], the peers and the task that verifies each now and then;
//! - `verify`: one verification: the connection to a peer (TCP or TLS, with the TLS
//!   verifier that accepts any certificate) and the checks of its answers;
//! - `peer`: one peer's record, its status and its `peers` row;
//! - `name`: a peer's real name (`add_peer`'s argument) and the cutting of text it sends.

mod name;
mod peer;
mod table;
mod verify;

pub use name::RealName;
pub use peer::{unix_now, STALE_SECS, WAKEUP_SECS};
pub use table::PeerTable;
