//! bitcoind's ZMQ notifications as a doorbell: with polling slowed to a minute, a block
//! published by the stand-in's ZMQ (found through `getzmqnotifications`) is indexed at once;
//! without ZMQ the same block waits for the poll. Of the topics published, only those used
//! are subscribed to (the stand-in's XPUB socket records the subscriptions).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bitcoin::hashes::{sha256, Hash};
use ferrumx_simnode::{GenParams, Node, SimNode, SimNodeOptions};
use ferrumx_testkit::{free_port, Client, Server, ServerEnv, TempDir};
use serde_json::json;

fn start(name: &str, zmq: bool) -> (SimNode, Server, TempDir, u16) {
    start_with(
        name,
        SimNodeOptions {
            zmq_publish: zmq,
            ..SimNodeOptions::default()
        },
    )
}

fn start_with(name: &str, options: SimNodeOptions) -> (SimNode, Server, TempDir, u16) {
    let node = Node::generate(GenParams::fixture(61));
    let sim = SimNode::spawn(node, options).expect("stand-in");
    let dir = TempDir::new(name);
    let port = free_port();
    let env = ServerEnv::new(dir.path(), &sim.daemon_url())
        .set("SERVICES", &format!("tcp://127.0.0.1:{port}"))
        .set("DAEMON_POLL_INTERVAL_BLOCKS", "60000")
        .set("DAEMON_POLL_INTERVAL_MEMPOOL", "60000");
    let mut server = Server::start(name, &env);
    server.wait_caught_up();
    server.wait_for("listening service=", Duration::from_secs(30));
    (sim, server, dir, port)
}

/// Waits until the server's subscriptions have reached the stand-in (the log line saying
/// it listens comes first), so that nothing published from now on is missed.
fn wait_subscribed(sim: &SimNode) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.zmq_subscriptions().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "subscriptions: {:?}",
            sim.zmq_subscriptions()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until some output line (before or after the cursor) contains `needle`.
fn wait_logged(server: &Server, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.count(needle) == 0 {
        assert!(Instant::now() < deadline, "no {needle:?} in the log");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn zmq_hashblock_wakes_the_block_poller() {
    let (sim, mut server, _dir, _) = start("zmq-on", true);
    wait_logged(&server, "listening to the daemon's ZMQ notifications");
    wait_subscribed(&sim);
    for round in 0..3 {
        let height = sim.with_node(|n| n.tip_height()) + 1;
        let mined = Instant::now();
        sim.with_node(|n| n.mine(1)).expect("mine");
        let line = server.wait_for_where("new block", Duration::from_secs(10), |l| {
            l.field("height") == Some(u64::from(height))
        });
        let took = line.at.duration_since(mined);
        eprintln!("round {round}: block {height} indexed {took:?} after it was mined");
        assert!(
            took < Duration::from_secs(5),
            "block {height} took {took:?}: ZMQ did not wake the poller (poll is 60 s)"
        );
    }
}

#[test]
fn zmq_subscribes_only_to_the_topics_it_uses() {
    // The stand-in publishes hashblock, hashtx, rawblock, rawtx and sequence on one port,
    // as bitcoind with every -zmqpub* option there: hashblock and hashtx are enough.
    let (sim, mut server, _dir, _) = start_with(
        "zmq-topics",
        SimNodeOptions {
            zmq_publish: true,
            zmq_all_topics: true,
            ..SimNodeOptions::default()
        },
    );
    wait_logged(&server, "listening to the daemon's ZMQ notifications");
    wait_subscribed(&sim);
    // A block still wakes the poller at once.
    let height = sim.with_node(|n| n.tip_height()) + 1;
    let mined = Instant::now();
    sim.with_node(|n| n.mine(1)).expect("mine");
    let line = server.wait_for_where("new block", Duration::from_secs(10), |l| {
        l.field("height") == Some(u64::from(height))
    });
    let took = line.at.duration_since(mined);
    assert!(
        took < Duration::from_secs(5),
        "block {height} took {took:?}"
    );
    let subscribed: BTreeSet<String> = sim.zmq_subscriptions().into_iter().collect();
    let used: BTreeSet<String> = ["hashblock", "hashtx"].map(String::from).into();
    assert_eq!(subscribed, used);
}

#[test]
fn without_zmq_a_block_waits_for_the_poll() {
    let (sim, server, _dir, _) = start("zmq-off", false);
    wait_logged(&server, "publishes no ZMQ notifications");
    let height = sim.with_node(|n| n.tip_height()) + 1;
    sim.with_node(|n| n.mine(1)).expect("mine");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        server
            .lines_with("new block")
            .iter()
            .filter(|l| l.field("height") == Some(u64::from(height)))
            .count(),
        0,
        "nothing but the 60 s poll could have found the block"
    );
}

#[test]
fn zmq_hashtx_wakes_the_mempool_poller() {
    let (sim, server, _dir, port) = start("zmq-mempool", true);
    wait_logged(&server, "listening to the daemon's ZMQ notifications");
    wait_subscribed(&sim);
    let mut client = Client::tcp(port);
    client
        .call("server.version", json!(["zmq-test", "1.4"]))
        .expect("version");
    for round in 0..3 {
        // A new mempool transaction; the script hash of its first output.
        let (txid, sh) = sim.with_node(|n| {
            let before: Vec<_> = n.mempool.entries().map(|e| e.txid).collect();
            n.add_traffic(1);
            let entry = n
                .mempool
                .entries()
                .find(|e| !before.contains(&e.txid))
                .expect("a new mempool transaction");
            let mut sh =
                sha256::Hash::hash(entry.tx.output[0].script_pubkey.as_bytes()).to_byte_array();
            sh.reverse();
            (
                entry.txid,
                bitcoin::hex::DisplayHex::to_lower_hex_string(&sh[..]),
            )
        });
        let added = Instant::now();
        loop {
            let mempool = client
                .call("blockchain.scripthash.get_mempool", json!([sh]))
                .expect("get_mempool");
            let seen = mempool
                .as_array()
                .is_some_and(|m| m.iter().any(|e| e["tx_hash"] == json!(txid.to_string())));
            if seen {
                break;
            }
            assert!(
                added.elapsed() < Duration::from_secs(5),
                "round {round}: {txid} not served within 5 s (the mempool poll is 60 s)"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "round {round}: {txid} served {:?} after it entered the mempool",
            added.elapsed()
        );
    }
}

#[test]
fn zmq_follows_the_daemon_when_it_changes() {
    // Two stand-ins with the same chain: the first without ZMQ, the second publishing it.
    let a = SimNode::spawn(
        Node::generate(GenParams::fixture(61)),
        SimNodeOptions::default(),
    )
    .expect("stand-in a");
    let b = SimNode::spawn(
        Node::generate(GenParams::fixture(61)),
        SimNodeOptions {
            zmq_publish: true,
            ..SimNodeOptions::default()
        },
    )
    .expect("stand-in b");
    assert_eq!(a.with_node(|n| n.tip_hash()), b.with_node(|n| n.tip_hash()));
    let dir = TempDir::new("zmq-follow");
    let (tcp, rpc) = (free_port(), free_port());
    let env = ServerEnv::new(dir.path(), &a.daemon_url())
        .set(
            "SERVICES",
            &format!("tcp://127.0.0.1:{tcp},rpc://127.0.0.1:{rpc}"),
        )
        .set("DAEMON_POLL_INTERVAL_BLOCKS", "60000")
        .set("DAEMON_POLL_INTERVAL_MEMPOOL", "60000");
    let mut server = Server::start("zmq-follow", &env);
    server.wait_caught_up();
    server.wait_for("listening service=", Duration::from_secs(30));
    wait_logged(&server, "publishes no ZMQ notifications");
    assert_eq!(
        server.count("listening to the daemon's ZMQ notifications"),
        0
    );

    // Switch to the second daemon: its ZMQ is found, and its next block is indexed at once
    // although the block poll is a minute.
    // The admin RPC is line-framed JSON-RPC, as the tcp service.
    let answer = Client::tcp(rpc).call("daemon_url", json!({"daemon_url": b.daemon_url()}));
    assert!(answer.is_ok(), "{answer:?}");
    wait_logged(&server, "listening to the daemon's ZMQ notifications");
    wait_subscribed(&b);
    let height = b.with_node(|n| n.tip_height()) + 1;
    let mined = Instant::now();
    b.with_node(|n| n.mine(1)).expect("mine");
    let line = server.wait_for_where("new block", Duration::from_secs(10), |l| {
        l.field("height") == Some(u64::from(height))
    });
    let took = line.at.duration_since(mined);
    assert!(
        took < Duration::from_secs(5),
        "block {height} took {took:?} after the switch: ZMQ did not follow the daemon"
    );
}
