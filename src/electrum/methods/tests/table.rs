//! The method table: one row per method, the version gates of ElectrumX 2.0.0's
//! `set_request_handlers`, request counts per name.

use crate::electrum::methods::table::{names, Method, TABLE};
use crate::electrum::shared::Counters;
use crate::electrum::version::ProtocolVersion;

fn v(parts: &[i64]) -> ProtocolVersion {
    ProtocolVersion::new(parts)
}

/// One row per method, so that every method has a counter slot of its own below
/// `invalid method`'s.
#[test]
fn each_method_has_one_row() {
    let mut seen = std::collections::HashSet::new();
    for r in TABLE {
        assert!(seen.insert(r.method), "{:?} twice", r.method);
        assert!((r.method as usize) < TABLE.len(), "{:?}", r.method);
        assert_eq!(r.method.name(), r.name);
        assert_eq!(r.method.signature(), r.signature);
    }
}

/// ElectrumX 2.0.0's `set_request_handlers`, version by version.
#[test]
fn methods_per_version_are_electrumx_2_0_s() {
    let served = |version: &[i64]| -> Vec<&str> {
        let p = v(version);
        names()
            .into_iter()
            .filter(|n| Method::lookup(n, &p).is_some())
            .collect()
    };
    let always = [
        "blockchain.block.header",
        "blockchain.block.headers",
        "blockchain.estimatefee",
        "blockchain.headers.subscribe",
        "blockchain.transaction.broadcast",
        "blockchain.transaction.get",
        "blockchain.transaction.get_merkle",
        "blockchain.transaction.id_from_pos",
        "mempool.get_fee_histogram",
        "server.add_peer",
        "server.banner",
        "server.donation_address",
        "server.features",
        "server.peers.subscribe",
        "server.ping",
        "server.version",
    ];
    let sh = |unsub: bool| {
        let mut m = vec![
            "blockchain.scripthash.get_balance",
            "blockchain.scripthash.get_history",
            "blockchain.scripthash.get_mempool",
            "blockchain.scripthash.listunspent",
            "blockchain.scripthash.subscribe",
        ];
        if unsub {
            m.push("blockchain.scripthash.unsubscribe");
        }
        m
    };
    let set = |mut m: Vec<&'static str>| {
        m.sort_unstable();
        m
    };
    let mut want14 = always.to_vec();
    want14.extend(sh(false));
    want14.push("blockchain.relayfee");
    let mut want142 = want14.clone();
    want142.push("blockchain.scripthash.unsubscribe");
    let mut want16 = always.to_vec();
    want16.extend(sh(true));
    want16.extend([
        "blockchain.transaction.broadcast_package",
        "mempool.get_info",
    ]);
    let mut want17 = always.to_vec();
    want17.extend([
        "blockchain.transaction.broadcast_package",
        "mempool.get_info",
        "blockchain.transaction.testmempoolaccept",
        "blockchain.scriptpubkey.get_balance",
        "blockchain.scriptpubkey.get_history",
        "blockchain.scriptpubkey.get_mempool",
        "blockchain.scriptpubkey.listunspent",
        "blockchain.scriptpubkey.subscribe",
        "blockchain.scriptpubkey.unsubscribe",
        "mempool.recent",
        "blockchain.outpoint.get_status",
        "blockchain.outpoint.subscribe",
        "blockchain.outpoint.unsubscribe",
    ]);
    let check = |version: &[i64], want: &Vec<&'static str>| {
        let mut got = served(version);
        got.sort_unstable();
        assert_eq!(got, set(want.clone()), "{version:?}");
    };
    check(&[1, 4], &want14);
    check(&[1, 4, 1], &want14);
    check(&[1, 4, 2], &want142);
    check(&[1, 5], &want142);
    check(&[1, 6], &want16);
    check(&[1, 6, 0], &want16);
    check(&[1, 6, 99], &want16);
    check(&[1, 7], &want17);
    check(&[1, 7, 0], &want17);
    // server.ping's three rows.
    assert_eq!(
        Method::lookup("server.ping", &v(&[1, 6])),
        Some(Method::Ping)
    );
    assert_eq!(
        Method::lookup("server.ping", &v(&[1, 7])),
        Some(Method::PingPong)
    );
    assert_eq!(
        Method::lookup_notification("server.ping", &v(&[1, 6])),
        None
    );
    assert_eq!(
        Method::lookup_notification("server.ping", &v(&[1, 7])),
        Some(Method::PingNotification)
    );
    assert_eq!(
        Method::lookup_notification("server.version", &v(&[1, 7])),
        None
    );
    assert_eq!(Method::lookup("no.such.method", &v(&[1, 7])), None);
}

#[test]
fn request_counts_are_per_name() {
    let counters = Counters::default();
    Method::count_request(&counters, Some(Method::Ping));
    Method::count_request(&counters, Some(Method::PingPong));
    Method::count_request(&counters, Some(Method::PingNotification));
    Method::count_request(&counters, None);
    Method::count_request(&counters, Some(Method::Banner));
    assert_eq!(
        Method::request_counts(&counters),
        vec![
            ("invalid method", 1),
            ("server.banner", 1),
            ("server.ping", 3)
        ]
    );
}
