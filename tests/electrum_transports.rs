//! Every client transport (tcp, ssl, ws, wss) serves the same protocol: a session on each
//! negotiates, answers, and receives header notifications.

use std::time::Duration;

use ferrumx_simnode::{GenParams, Node};
use ferrumx_testkit::{Electrum, Kind, WAIT};
use serde_json::json;

#[test]
fn all_four_transports_serve_and_notify() {
    let node = Node::generate(GenParams::fixture(41));
    let e = Electrum::start("transports", node, &[]);
    let tip = e.sim.with_node(|n| n.tip_height());
    let mut clients: Vec<_> = Kind::ALL
        .iter()
        .map(|k| (k, e.session(*k, "1.6")))
        .collect();
    for (kind, c) in &mut clients {
        let h = c
            .call("blockchain.headers.subscribe", json!([]))
            .expect("subscribe");
        assert_eq!(h["height"], json!(tip), "{kind:?}");
        let ping = c.call("server.ping", json!([])).expect("ping");
        assert_eq!(ping, json!(null), "{kind:?}");
    }
    let mined = e.sim.with_node(|n| n.mine(1)).expect("mine");
    for (kind, c) in &mut clients {
        let (method, params) = c
            .notification(WAIT)
            .unwrap_or_else(|| panic!("{kind:?}: no notification"));
        assert_eq!(method, "blockchain.headers.subscribe", "{kind:?}");
        assert_eq!(params[0]["height"], json!(tip + 1), "{kind:?}");
        let header = c
            .call("blockchain.block.header", json!([tip + 1]))
            .expect("header");
        assert_eq!(params[0]["hex"], header, "{kind:?}");
        assert!(
            c.notification(Duration::from_millis(300)).is_none(),
            "{kind:?}: once"
        );
    }
    assert_eq!(mined.len(), 1);
}
