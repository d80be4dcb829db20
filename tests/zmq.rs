//! bitcoind's ZMQ notifications as a doorbell: with polling slowed to a minute, a block
//! published by the stand-in's ZMQ (found through `getzmqnotifications`) is indexed at once;
//! without ZMQ the same block waits for the poll.

mod common_server;

use std::time::{Duration, Instant};

use common_server::{Server, ServerEnv, TempDir};
use ferrumx_simnode::{GenParams, Node, SimNode, SimNodeOptions};

fn start(name: &str, zmq: bool) -> (SimNode, Server, TempDir) {
    let node = Node::generate(GenParams::fixture(61));
    let sim = SimNode::spawn(
        node,
        SimNodeOptions {
            zmq_publish: zmq,
            ..SimNodeOptions::default()
        },
    )
    .expect("stand-in");
    let dir = TempDir::new(name);
    let env = ServerEnv::new(dir.path(), &sim.daemon_url())
        .set("DAEMON_POLL_INTERVAL_BLOCKS", "60000")
        .set("DAEMON_POLL_INTERVAL_MEMPOOL", "60000");
    let mut server = Server::start(name, &env);
    server.wait_caught_up();
    (sim, server, dir)
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
    let (sim, mut server, _dir) = start("zmq-on", true);
    wait_logged(&server, "listening to the daemon's ZMQ notifications");
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
fn without_zmq_a_block_waits_for_the_poll() {
    let (sim, server, _dir) = start("zmq-off", false);
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
