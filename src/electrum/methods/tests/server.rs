//! The `server.*` family.

use serde_json::json;

use super::{assert_cost, config, Fake, Harness};
use crate::electrum::shared::SERVER_VERSION;
use crate::electrum::version::ProtocolVersion;

#[tokio::test]
async fn version_negotiates_names_the_client_and_is_answered_once() {
    let h = Harness::new(Fake::with_chain(1));
    let answer = h
        .ok(
            "server.version",
            &[json!("Electrum wallet for tests"), json!(["1.4", "1.6"])],
        )
        .await;
    assert_eq!(answer, json!([SERVER_VERSION, "1.6"]));
    // ElectrumX keeps 17 characters of the name.
    assert_eq!(h.session.client(), "Electrum wallet f");
    assert!(h
        .session
        .with_protocol(|v| *v == ProtocolVersion::new(&[1, 6])));
    assert_eq!(
        h.bad("server.version", &[json!("x"), json!("1.4")]).await,
        "server.version already sent"
    );
    // 0.5 each, charged before anything is checked.
    assert_cost(h.cost(), 1.0);
}

#[tokio::test]
async fn unsupported_versions_and_dropped_clients_are_disconnected() {
    let h = Harness::new(Fake::with_chain(1));
    let got = h
        .call("server.version", &[json!("4.5"), json!("1.0")])
        .await;
    assert_eq!(
        got,
        Err((1, "unsupported protocol version: 1.0".into(), true))
    );
    // A client not vulnerable to the crash is not sent the crashing notifications.
    assert_eq!(h.session.unsent_bytes(), 0);

    let old = Harness::new(Fake::with_chain(1));
    let got = old
        .call("server.version", &[json!("3.2.3"), json!("1.0")])
        .await;
    assert!(matches!(got, Err((1, _, true))), "{got:?}");
    assert!(
        old.session.unsent_bytes() > 0,
        "the two notifications are queued"
    );

    let mut fake = Fake::with_chain(1);
    fake.config = config(&[("DROP_CLIENT", "^Electrum 2")]);
    let h = Harness::new(fake);
    let got = h
        .call("server.version", &[json!("Electrum 2.9"), json!("1.4")])
        .await;
    assert_eq!(
        got,
        Err((1, "unsupported client: Electrum 2.9".into(), true))
    );
}

#[tokio::test]
async fn banner_substitutes_electrumx_variables() {
    let path =
        std::env::temp_dir().join(format!("ferrumx-methods-banner-{}.txt", std::process::id()));
    std::fs::write(
        &path,
        "v$SERVER_VERSION d$DAEMON_VERSION s$DAEMON_SUBVERSION a$DONATION_ADDRESS",
    )
    .unwrap();
    let mut fake = Fake::with_chain(1);
    fake.config = config(&[
        ("BANNER_FILE", path.to_str().unwrap()),
        ("DONATION_ADDRESS", "bcrt1qdonate"),
    ]);
    fake.network_info = json!({"version": 290100, "subversion": "/Satoshi:29.1.0/"});
    let h = Harness::new(fake);
    let banner = h.ok("server.banner", &[]).await;
    std::fs::remove_file(&path).unwrap();
    let want = format!(
        "v{} d29.1.0 s/Satoshi:29.1.0/ abcrt1qdonate",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(banner, json!(want));
    assert_cost(h.cost(), 0.5);

    let plain = Harness::new(Fake::with_chain(1));
    assert_eq!(
        plain.ok("server.banner", &[]).await,
        json!(format!("You are connected to an {SERVER_VERSION} server."))
    );
    assert!(
        plain.fake.calls().is_empty(),
        "no daemon call without a file"
    );
}

#[tokio::test]
async fn features_describe_the_server_and_its_reported_services() {
    let mut fake = Fake::with_chain(1);
    fake.config = config(&[(
        "REPORT_SERVICES",
        "tcp://electrum.example.com:50001,wss://electrum.example.com:50004",
    )]);
    let h = Harness::new(fake);
    let f = h.ok("server.features", &[]).await;
    // Bitcoin Core's regtest genesis block.
    assert_eq!(
        f["genesis_hash"],
        "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
    );
    assert_eq!(
        f["hosts"],
        json!({"electrum.example.com": {"tcp_port": 50001, "wss_port": 50004}})
    );
    assert_eq!(f["protocol_min"], "1.4");
    // ElectrumX 2.0.0's PROTOCOL_MAX, at every version.
    assert_eq!(f["protocol_max"], "1.7.0");
    assert_eq!(f["server_version"], SERVER_VERSION);
    assert_eq!(f["hash_function"], "sha256");
    assert_eq!(f["pruning"], json!(null));
    assert_cost(h.cost(), 0.2);
    // At 1.7 without `hash_function`, the rest the same, in the same order.
    let h17 = Harness::at(fake_with_services(), &[1, 7]);
    let f17 = h17.ok("server.features", &[]).await;
    let mut want = f.as_object().unwrap().clone();
    want.shift_remove("hash_function");
    assert_eq!(f17.as_object().unwrap(), &want);
    let keys: Vec<&String> = f17.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "hosts",
            "pruning",
            "server_version",
            "protocol_min",
            "protocol_max",
            "genesis_hash",
            "services"
        ]
    );
    assert_cost(h17.cost(), 0.2);
}

fn fake_with_services() -> Fake {
    let mut fake = Fake::with_chain(1);
    fake.config = config(&[(
        "REPORT_SERVICES",
        "tcp://electrum.example.com:50001,wss://electrum.example.com:50004",
    )]);
    fake
}

/// `server.ping` at 1.7 (ElectrumX 2.0's `phandle_ping`): `data` checked first (hex, odd
/// lengths allowed), then `pong_len` (a non-negative integer, at most MAX_SEND); 0.1 charged
/// before the checks. As a client notification it checks `data` and answers nothing.
#[tokio::test]
async fn ping_at_1_7_pongs_and_checks_its_arguments() {
    let mut fake = Fake::with_chain(1);
    fake.config = config(&[("MAX_SEND", "350000")]);
    let h = Harness::at(fake, &[1, 7]);
    assert_eq!(h.ok("server.ping", &[]).await, json!({"data": ""}));
    assert_eq!(
        h.ok("server.ping", &[json!(3), json!("abc")]).await,
        json!({"data": "000"})
    );
    assert_eq!(
        h.ok("server.ping", &[json!("2")]).await,
        json!({"data": "00"})
    );
    let full = h.ok("server.ping", &[json!(350_000)]).await;
    assert_eq!(full["data"].as_str().map(str::len), Some(350_000));
    assert_eq!(
        h.bad("server.ping", &[json!(350_001)]).await,
        "pong_len value too high"
    );
    assert_eq!(
        h.bad("server.ping", &[json!(-1), json!("zz")]).await,
        "zz should be a hex string"
    );
    assert_eq!(
        h.bad("server.ping", &[json!(-1), json!("ab")]).await,
        "-1 should be a non-negative integer"
    );
    assert_eq!(
        h.bad("server.ping", &[json!(0), json!(null)]).await,
        "None should be a hex string"
    );
    assert_cost(h.cost(), 0.8);

    let note = crate::electrum::methods::Method::PingNotification;
    let call = crate::electrum::methods::Call {
        backend: &h.fake,
        session: &h.session,
    };
    assert_eq!(call.run(note, &[None]).await.unwrap(), json!(null));
    assert_eq!(
        call.run(note, &[Some(json!("0a1"))]).await.unwrap(),
        json!(null)
    );
    let refused = call.run(note, &[Some(json!(7))]).await.unwrap_err();
    assert_eq!(refused.error.message, "7 should be a hex string");
    assert_cost(h.cost(), 1.1);

    // Up to 1.6, 1.20's ping: no arguments, null.
    let h16 = Harness::new(Fake::with_chain(1));
    assert_eq!(h16.ok("server.ping", &[]).await, json!(null));
}

#[tokio::test]
async fn the_small_ones_answer_and_cost_what_electrumx_says() {
    let mut fake = Fake::with_chain(1);
    fake.config = config(&[("DONATION_ADDRESS", "bcrt1qdonate")]);
    let h = Harness::new(fake);
    let mut want = 0.0;
    for (name, args, answer, cost) in [
        ("server.ping", vec![], json!(null), 0.1),
        (
            "server.donation_address",
            vec![],
            json!("bcrt1qdonate"),
            0.1,
        ),
        ("server.peers.subscribe", vec![], json!([]), 1.0),
        (
            "server.add_peer",
            vec![json!({"hosts": {}})],
            json!(false),
            100.0,
        ),
    ] {
        assert_eq!(h.ok(name, &args).await, answer, "{name}");
        want += cost;
        assert_cost(h.cost(), want);
    }
}
