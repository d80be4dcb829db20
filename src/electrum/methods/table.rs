//! The method table: every method FerrumX serves to Electrum clients, by name, at which
//! protocol versions, with its Python signature (for argument binding), its fixed cost
//! (ElectrumX's `bump_cost` at the top of each handler), and its slot in the request
//! counts. The one place a method is declared; the handlers are in the family files.

use crate::electrum::shared::{Counters, METHOD_SLOTS};
use crate::electrum::version::ProtocolVersion;
use crate::jsonrpc::Signature;

/// Every method FerrumX serves to Electrum clients.
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
}

/// Every method ElectrumX 1.20 serves, by name (at some protocol version: see
/// [`Method::lookup`]). Public for the tests that go over every method.
pub const METHODS: [(&str, Method); 25] = [
    ("blockchain.block.header", Method::BlockHeader),
    ("blockchain.block.headers", Method::BlockHeaders),
    ("blockchain.estimatefee", Method::EstimateFee),
    ("blockchain.headers.subscribe", Method::HeadersSubscribe),
    ("blockchain.relayfee", Method::RelayFee),
    ("blockchain.scripthash.get_balance", Method::GetBalance),
    ("blockchain.scripthash.get_history", Method::GetHistory),
    ("blockchain.scripthash.get_mempool", Method::GetMempool),
    ("blockchain.scripthash.listunspent", Method::ListUnspent),
    ("blockchain.scripthash.subscribe", Method::Subscribe),
    ("blockchain.scripthash.unsubscribe", Method::Unsubscribe),
    ("blockchain.transaction.broadcast", Method::Broadcast),
    (
        "blockchain.transaction.broadcast_package",
        Method::BroadcastPackage,
    ),
    ("blockchain.transaction.get", Method::TxGet),
    ("blockchain.transaction.get_merkle", Method::TxGetMerkle),
    ("blockchain.transaction.id_from_pos", Method::TxIdFromPos),
    ("mempool.get_fee_histogram", Method::FeeHistogram),
    ("mempool.get_info", Method::MempoolInfo),
    ("server.add_peer", Method::AddPeer),
    ("server.banner", Method::Banner),
    ("server.donation_address", Method::DonationAddress),
    ("server.features", Method::Features),
    ("server.peers.subscribe", Method::PeersSubscribe),
    ("server.ping", Method::Ping),
    ("server.version", Method::Version),
];

// Every method's counter slot, and `invalid method`'s, exists.
const _: () = assert!(METHODS.len() < METHOD_SLOTS);

/// What a method costs whatever its arguments and answer, charged to the session as
/// ElectrumX's handler charges it: before the arguments are checked (so an invalid call
/// pays it too), or once they have passed. What depends on the answer (history lengths,
/// transaction sizes, cache misses) is charged by the handler as it incurs it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FixedCost {
    pub before_checks: f64,
    pub after_checks: f64,
}

impl Method {
    /// The method called `name` at protocol `v`, if it exists there.
    pub fn lookup(name: &str, v: &ProtocolVersion) -> Option<Method> {
        let m = METHODS.iter().find(|(n, _)| *n == name)?.1;
        let served = match m {
            Method::RelayFee => !v.at_least(&[1, 6]),
            Method::Unsubscribe => v.at_least(&[1, 4, 2]),
            Method::BroadcastPackage | Method::MempoolInfo => v.at_least(&[1, 6]),
            _ => true,
        };
        served.then_some(m)
    }

    /// The method's name (what ElectrumX counts requests by).
    pub fn name(self) -> &'static str {
        METHODS
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("invalid method", |(n, _)| n)
    }

    /// The slot of [`Counters`] that counts requests of `method` (`None`: a method not served
    /// at the session's version, ElectrumX's `invalid method`).
    fn slot(method: Option<Method>) -> usize {
        method.map_or(METHODS.len(), |m| m as usize)
    }

    /// Counts a request of `method` (lock-free).
    pub fn count_request(counters: &Counters, method: Option<Method>) {
        counters.count_request(Method::slot(method));
    }

    /// ElectrumX's `request counts`: requests by method name, in name order, methods never
    /// requested left out.
    pub fn request_counts(counters: &Counters) -> Vec<(&'static str, u64)> {
        let mut counts: Vec<(&'static str, u64)> = METHODS
            .iter()
            .map(|(name, m)| (*name, Some(*m)))
            .chain([("invalid method", None)])
            .map(|(name, m)| (name, counters.requests_in(Method::slot(m))))
            .filter(|(_, n)| *n > 0)
            .collect();
        counts.sort_unstable_by_key(|(name, _)| *name);
        counts
    }

    /// The Python signature of ElectrumX's handler, for argument binding.
    pub fn signature(self) -> Signature {
        const fn sig(names: &'static [&'static str], required: usize) -> Signature {
            Signature {
                names,
                required,
                varargs: false,
                varkw: false,
            }
        }
        match self {
            Method::BlockHeader => sig(&["height", "cp_height"], 1),
            Method::BlockHeaders => sig(&["start_height", "count", "cp_height"], 2),
            Method::EstimateFee => sig(&["number", "mode"], 1),
            Method::GetBalance
            | Method::GetHistory
            | Method::GetMempool
            | Method::ListUnspent
            | Method::Subscribe
            | Method::Unsubscribe => sig(&["scripthash"], 1),
            Method::Broadcast => sig(&["raw_tx"], 1),
            Method::BroadcastPackage => sig(&["raw_txs", "verbose"], 1),
            Method::TxGet => sig(&["tx_hash", "verbose"], 1),
            Method::TxGetMerkle => sig(&["tx_hash", "height"], 2),
            Method::TxIdFromPos => sig(&["height", "tx_pos", "merkle"], 2),
            Method::AddPeer => sig(&["features"], 1),
            Method::Version => Signature {
                names: &["client_name", "protocol_version"],
                required: 0,
                varargs: true,
                varkw: true,
            },
            Method::HeadersSubscribe
            | Method::RelayFee
            | Method::FeeHistogram
            | Method::MempoolInfo
            | Method::Banner
            | Method::DonationAddress
            | Method::Features
            | Method::PeersSubscribe
            | Method::Ping => sig(&[], 0),
        }
    }

    /// The method's fixed cost (ElectrumX's figures). Methods with none here charge only
    /// what their answer costs (see their handlers).
    pub fn fixed_cost(self) -> FixedCost {
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
        match self {
            Method::Version | Method::Banner => before(0.5),
            Method::DonationAddress | Method::Ping | Method::Unsubscribe => before(0.1),
            Method::Features => before(0.2),
            Method::HeadersSubscribe => before(0.25),
            Method::PeersSubscribe
            | Method::RelayFee
            | Method::FeeHistogram
            | Method::MempoolInfo => before(1.0),
            Method::AddPeer => before(100.0),
            // Plus 2.0 when the daemon is asked (not cached for the tip).
            Method::EstimateFee => after(0.1),
            Method::TxGet => after(1.0),
            Method::BlockHeader
            | Method::BlockHeaders
            | Method::GetBalance
            | Method::GetHistory
            | Method::GetMempool
            | Method::ListUnspent
            | Method::Subscribe
            | Method::Broadcast
            | Method::BroadcastPackage
            | Method::TxGetMerkle
            | Method::TxIdFromPos => FixedCost::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_methods_correspond_one_to_one() {
        let v14 = ProtocolVersion::min_supported();
        let v16 = ProtocolVersion::max_supported();
        let mut seen = std::collections::HashSet::new();
        for (name, m) in METHODS {
            assert!(seen.insert(m), "{m:?} twice");
            assert_eq!(m.name(), name);
            let found = Method::lookup(name, &v16).or_else(|| Method::lookup(name, &v14));
            assert_eq!(found, Some(m), "{name}");
        }
        // Version-dependent methods.
        assert_eq!(Method::lookup("blockchain.relayfee", &v16), None);
        assert_eq!(Method::lookup("mempool.get_info", &v14), None);
        assert_eq!(
            Method::lookup("blockchain.scripthash.unsubscribe", &v14),
            None
        );
        assert_eq!(Method::lookup("no.such.method", &v16), None);
    }
}
