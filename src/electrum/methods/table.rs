//! The method table: every method FerrumX serves to Electrum clients, one row each — its
//! name, the protocol versions it is served at (ElectrumX 2.0.0's `set_request_handlers`),
//! whether it is a request or a client notification, its Python signature (for argument
//! binding) and its fixed cost (ElectrumX's `bump_cost` at the top of each handler) — and
//! its slot in the request counts. The one place a method is declared; the handlers are in
//! the family files.
//!
//! A name may have several rows when its handler differs by version or by invocation:
//! `server.ping` is three (no arguments up to 1.6, `pong_len`/`data` at 1.7, and at 1.7 a
//! client notification too). Request counts are kept per row and reported per name.

use crate::electrum::shared::{Counters, METHOD_SLOTS};
use crate::electrum::version::ProtocolVersion;
use crate::jsonrpc::Signature;

/// Every method FerrumX serves to Electrum clients (one per row of [`TABLE`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    BlockHeader,
    BlockHeaders,
    EstimateFee,
    HeadersSubscribe,
    RelayFee,
    GetBalance,
    GetHistory,
    GetMempool,
    ListUnspent,
    Subscribe,
    Unsubscribe,
    Broadcast,
    BroadcastPackage,
    TxGet,
    TxGetMerkle,
    TxIdFromPos,
    FeeHistogram,
    MempoolInfo,
    AddPeer,
    Banner,
    DonationAddress,
    Features,
    PeersSubscribe,
    Ping,
    Version,
    // Protocol 1.7.
    SpkGetBalance,
    SpkGetHistory,
    SpkGetMempool,
    SpkListUnspent,
    SpkSubscribe,
    SpkUnsubscribe,
    TestMempoolAccept,
    MempoolRecent,
    /// `server.ping(pong_len=0, data="")` as a request at 1.7.
    PingPong,
    /// `server.ping(data="")` as a client notification at 1.7 (never answered).
    PingNotification,
    OutpointGetStatus,
    OutpointSubscribe,
    OutpointUnsubscribe,
}

/// The protocol versions a row is served at: `from <= v < below` in Python's tuple order
/// (so `(1, 6, 5)` is below `(1, 7)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions {
    pub from: &'static [i64],
    /// `None`: served at every later version.
    pub below: Option<&'static [i64]>,
}

impl Versions {
    /// Whether `v` is in the range.
    pub fn contain(&self, v: &ProtocolVersion) -> bool {
        v.at_least(self.from) && self.below.is_none_or(|b| !v.at_least(b))
    }
}

/// Every version FerrumX negotiates.
const ALL: Versions = Versions {
    from: &[1, 4],
    below: None,
};
/// ElectrumX: `ptuple < (1, 7)` (the script-hash family).
const BELOW_1_7: Versions = Versions {
    from: &[1, 4],
    below: Some(&[1, 7]),
};
/// ElectrumX: `(1, 4, 2) <= ptuple < (1, 7)`.
const FROM_1_4_2_BELOW_1_7: Versions = Versions {
    from: &[1, 4, 2],
    below: Some(&[1, 7]),
};
/// ElectrumX: `blockchain.relayfee`, "removed in 1.6".
const BELOW_1_6: Versions = Versions {
    from: &[1, 4],
    below: Some(&[1, 6]),
};
const FROM_1_6: Versions = Versions {
    from: &[1, 6],
    below: None,
};
const FROM_1_7: Versions = Versions {
    from: &[1, 7],
    below: None,
};

/// Whether a row answers requests or takes client notifications (ElectrumX's
/// `request_handlers` and, from 2.0, `notification_handlers`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invocation {
    Request,
    Notification,
}

/// What a method costs whatever its arguments and answer, charged to the session as
/// ElectrumX's handler charges it: before the arguments are checked (so an invalid call
/// pays it too), or once they have passed. What depends on the answer (history lengths,
/// transaction sizes, cache misses) is charged by the handler as it incurs it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FixedCost {
    pub before_checks: f64,
    pub after_checks: f64,
}

/// One method: everything the server knows of it before its handler runs.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub name: &'static str,
    pub method: Method,
    pub versions: Versions,
    pub invocation: Invocation,
    /// The Python signature of ElectrumX's handler, for argument binding.
    pub signature: Signature,
    pub cost: FixedCost,
}

/// A positional-or-keyword signature: `names`, the first `required` without default.
const fn sig(names: &'static [&'static str], required: usize) -> Signature {
    Signature {
        names,
        required,
        varargs: false,
        varkw: false,
    }
}

const NONE: Signature = sig(&[], 0);
const SCRIPTHASH: Signature = sig(&["scripthash"], 1);
const SPK: Signature = sig(&["spk"], 1);
/// `blockchain.outpoint.get_status` and `subscribe`.
const OUTPOINT: Signature = sig(&["tx_hash", "txout_idx", "spk_hint"], 3);
/// No fixed cost: the handler charges what its answer costs.
const FREE: FixedCost = FixedCost {
    before_checks: 0.0,
    after_checks: 0.0,
};

const fn before(cost: f64) -> FixedCost {
    FixedCost {
        before_checks: cost,
        after_checks: 0.0,
    }
}

const fn after(cost: f64) -> FixedCost {
    FixedCost {
        before_checks: 0.0,
        after_checks: cost,
    }
}

/// A request row.
const fn request(
    name: &'static str,
    method: Method,
    versions: Versions,
    signature: Signature,
    cost: FixedCost,
) -> Row {
    Row {
        name,
        method,
        versions,
        invocation: Invocation::Request,
        signature,
        cost,
    }
}

/// The table (ElectrumX 2.0.0's handlers, figures and version gates; 1.20's up to 1.6).
pub const TABLE: &[Row] = &[
    request(
        "blockchain.block.header",
        Method::BlockHeader,
        ALL,
        sig(&["height", "cp_height"], 1),
        FREE,
    ),
    request(
        "blockchain.block.headers",
        Method::BlockHeaders,
        ALL,
        sig(&["start_height", "count", "cp_height"], 2),
        FREE,
    ),
    // Plus 2.0 when the daemon is asked (not cached for the tip).
    request(
        "blockchain.estimatefee",
        Method::EstimateFee,
        ALL,
        sig(&["number", "mode"], 1),
        after(0.1),
    ),
    request(
        "blockchain.headers.subscribe",
        Method::HeadersSubscribe,
        ALL,
        NONE,
        before(0.25),
    ),
    request(
        "blockchain.relayfee",
        Method::RelayFee,
        BELOW_1_6,
        NONE,
        before(1.0),
    ),
    request(
        "blockchain.scripthash.get_balance",
        Method::GetBalance,
        BELOW_1_7,
        SCRIPTHASH,
        FREE,
    ),
    request(
        "blockchain.scripthash.get_history",
        Method::GetHistory,
        BELOW_1_7,
        SCRIPTHASH,
        FREE,
    ),
    request(
        "blockchain.scripthash.get_mempool",
        Method::GetMempool,
        BELOW_1_7,
        SCRIPTHASH,
        FREE,
    ),
    request(
        "blockchain.scripthash.listunspent",
        Method::ListUnspent,
        BELOW_1_7,
        SCRIPTHASH,
        FREE,
    ),
    request(
        "blockchain.scripthash.subscribe",
        Method::Subscribe,
        BELOW_1_7,
        SCRIPTHASH,
        FREE,
    ),
    request(
        "blockchain.scripthash.unsubscribe",
        Method::Unsubscribe,
        FROM_1_4_2_BELOW_1_7,
        SCRIPTHASH,
        before(0.1),
    ),
    request(
        "blockchain.scriptpubkey.get_balance",
        Method::SpkGetBalance,
        FROM_1_7,
        SPK,
        FREE,
    ),
    request(
        "blockchain.scriptpubkey.get_history",
        Method::SpkGetHistory,
        FROM_1_7,
        SPK,
        FREE,
    ),
    request(
        "blockchain.scriptpubkey.get_mempool",
        Method::SpkGetMempool,
        FROM_1_7,
        SPK,
        FREE,
    ),
    request(
        "blockchain.scriptpubkey.listunspent",
        Method::SpkListUnspent,
        FROM_1_7,
        SPK,
        FREE,
    ),
    request(
        "blockchain.scriptpubkey.subscribe",
        Method::SpkSubscribe,
        FROM_1_7,
        SPK,
        FREE,
    ),
    // The scriptPubKey is checked before the 0.1 is charged (unlike scripthash's).
    request(
        "blockchain.scriptpubkey.unsubscribe",
        Method::SpkUnsubscribe,
        FROM_1_7,
        SPK,
        after(0.1),
    ),
    request(
        "blockchain.transaction.broadcast",
        Method::Broadcast,
        ALL,
        sig(&["raw_tx"], 1),
        FREE,
    ),
    request(
        "blockchain.transaction.broadcast_package",
        Method::BroadcastPackage,
        FROM_1_6,
        sig(&["raw_txs", "verbose"], 1),
        FREE,
    ),
    request(
        "blockchain.transaction.get",
        Method::TxGet,
        ALL,
        sig(&["tx_hash", "verbose"], 1),
        after(1.0),
    ),
    request(
        "blockchain.transaction.get_merkle",
        Method::TxGetMerkle,
        ALL,
        sig(&["tx_hash", "height"], 2),
        FREE,
    ),
    request(
        "blockchain.transaction.id_from_pos",
        Method::TxIdFromPos,
        ALL,
        sig(&["height", "tx_pos", "merkle"], 2),
        FREE,
    ),
    request(
        "blockchain.transaction.testmempoolaccept",
        Method::TestMempoolAccept,
        FROM_1_7,
        sig(&["raw_txs"], 1),
        FREE,
    ),
    request(
        "mempool.get_fee_histogram",
        Method::FeeHistogram,
        ALL,
        NONE,
        before(1.0),
    ),
    request(
        "mempool.get_info",
        Method::MempoolInfo,
        FROM_1_6,
        NONE,
        before(1.0),
    ),
    request(
        "mempool.recent",
        Method::MempoolRecent,
        FROM_1_7,
        NONE,
        before(1.0),
    ),
    request(
        "server.add_peer",
        Method::AddPeer,
        ALL,
        sig(&["features"], 1),
        before(100.0),
    ),
    request("server.banner", Method::Banner, ALL, NONE, before(0.5)),
    request(
        "server.donation_address",
        Method::DonationAddress,
        ALL,
        NONE,
        before(0.1),
    ),
    request("server.features", Method::Features, ALL, NONE, before(0.2)),
    request(
        "server.peers.subscribe",
        Method::PeersSubscribe,
        ALL,
        NONE,
        before(1.0),
    ),
    // ElectrumX 1.20's `ping(self)` up to 1.6 (2.0 takes and ignores `pong_len`/`data`
    // there: see docs/compatibility.md).
    request("server.ping", Method::Ping, BELOW_1_7, NONE, before(0.1)),
    request(
        "server.ping",
        Method::PingPong,
        FROM_1_7,
        sig(&["pong_len", "data"], 0),
        before(0.1),
    ),
    Row {
        name: "server.ping",
        method: Method::PingNotification,
        versions: FROM_1_7,
        invocation: Invocation::Notification,
        signature: sig(&["data"], 0),
        cost: before(0.1),
    },
    request(
        "server.version",
        Method::Version,
        ALL,
        Signature {
            names: &["client_name", "protocol_version"],
            required: 0,
            varargs: true,
            varkw: true,
        },
        before(0.5),
    ),
    // The outpoint family (1.7): the status's cost is the handler's (`methods/outpoint.rs`);
    // `unsubscribe` charges 0.1 once its arguments passed.
    request(
        "blockchain.outpoint.get_status",
        Method::OutpointGetStatus,
        FROM_1_7,
        OUTPOINT,
        FREE,
    ),
    request(
        "blockchain.outpoint.subscribe",
        Method::OutpointSubscribe,
        FROM_1_7,
        OUTPOINT,
        FREE,
    ),
    request(
        "blockchain.outpoint.unsubscribe",
        Method::OutpointUnsubscribe,
        FROM_1_7,
        sig(&["tx_hash", "txout_idx"], 2),
        after(0.1),
    ),
];

// Every row's counter slot, and `invalid method`'s, exists.
const _: () = assert!(TABLE.len() < METHOD_SLOTS);

impl Method {
    /// The method a request named `name` calls at protocol `v`, if served there.
    pub fn lookup(name: &str, v: &ProtocolVersion) -> Option<Method> {
        Method::find(name, v, Invocation::Request)
    }

    /// The method a client notification named `name` calls at protocol `v`, if any
    /// (ElectrumX 2.0's `notification_handlers`: `server.ping` at 1.7; before 2.0 none).
    pub fn lookup_notification(name: &str, v: &ProtocolVersion) -> Option<Method> {
        Method::find(name, v, Invocation::Notification)
    }

    fn find(name: &str, v: &ProtocolVersion, invocation: Invocation) -> Option<Method> {
        TABLE
            .iter()
            .find(|r| r.name == name && r.invocation == invocation && r.versions.contain(v))
            .map(|r| r.method)
    }

    /// The method's row (every method has one: see the tests).
    fn row(self) -> &'static Row {
        TABLE.iter().find(|r| r.method == self).unwrap_or(&TABLE[0])
    }

    /// The method's name (what ElectrumX counts requests by).
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// The slot of [`Counters`] that counts requests of `method` (`None`: a method not served
    /// at the session's version, ElectrumX's `invalid method`).
    fn slot(method: Option<Method>) -> usize {
        method.map_or(TABLE.len(), |m| m as usize)
    }

    /// Counts a request of `method` (lock-free).
    pub fn count_request(counters: &Counters, method: Option<Method>) {
        counters.count_request(Method::slot(method));
    }

    /// ElectrumX's `request counts`: requests by method name, in name order, methods never
    /// requested left out.
    pub fn request_counts(counters: &Counters) -> Vec<(&'static str, u64)> {
        let mut counts: std::collections::BTreeMap<&'static str, u64> = Default::default();
        let rows = TABLE.iter().map(|r| (r.name, Some(r.method)));
        for (name, m) in rows.chain([("invalid method", None)]) {
            let n = counters.requests_in(Method::slot(m));
            if n > 0 {
                *counts.entry(name).or_default() += n;
            }
        }
        counts.into_iter().collect()
    }

    /// The Python signature of ElectrumX's handler, for argument binding.
    pub fn signature(self) -> Signature {
        self.row().signature
    }

    /// The method's fixed cost (ElectrumX's figures). Methods with none here charge only
    /// what their answer costs (see their handlers).
    pub fn fixed_cost(self) -> FixedCost {
        self.row().cost
    }
}

/// Every method name served at some protocol version, each once, in table order (for the
/// tests that go over every method).
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for r in TABLE {
        if !names.contains(&r.name) {
            names.push(r.name);
        }
    }
    names
}
