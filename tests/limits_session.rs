//! The session limits against the real server on loopback: MAX_SESSIONS pauses accepting
//! until the count falls to 95 %; SESSION_TIMEOUT closes sessions idle that long (checked
//! every SESSION_TIMEOUT_CHECK: ElectrumX's 60 s, one here); REQUEST_TIMEOUT answers a slow
//! request "server busy" and the session goes on; DROP_CLIENT and DROP_CLIENT_UNKNOWN drop
//! clients by the name they give; LOG_SESSIONS logs the sessions table, without any client
//! address under ANON_LOGS; a clean stop answers the requests in flight before closing.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrumx_simnode::{GenParams, Node};
use ferrumx_testkit::{listening_ports, Client, Electrum, Received, WAIT};
use serde_json::{json, Value};

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("ip")
}

#[test]
fn max_sessions_stops_accepting_until_the_count_falls_to_95_percent() {
    let mut e = Electrum::start(
        "max-sessions",
        Node::generate(GenParams::fixture(92)),
        &[("MAX_SESSIONS", "4")],
    );
    let mut clients: Vec<Client> = (0..4)
        .map(|i| {
            let mut c = Client::tcp_from(ip("127.0.0.1"), e.tcp);
            c.version(&format!("client {i}"));
            c
        })
        .collect();
    // 95 % of 4, rounded down, is 3.
    e.server.wait_for(
        "MAX_SESSIONS (4) reached: not accepting connections until there are 3 sessions or \
         fewer",
        WAIT,
    );
    // A fifth connection completes in the kernel's backlog but nobody serves it.
    let mut fifth = Client::tcp_from(ip("127.0.0.1"), e.tcp);
    let id = fifth.request("server.version", json!(["fifth", "1.4"]));
    match fifth.read(Duration::from_secs(2)) {
        Received::Timeout => {}
        other => panic!("the fifth connection was served while paused: {other:?}"),
    }
    // The sessions already there are served as before.
    assert_eq!(clients[1].call("server.ping", json!([])), Ok(Value::Null));
    // Down to 3: accepting again, and the waiting connection is served.
    drop(clients.remove(0));
    e.server.wait_for("accepting connections again", WAIT);
    let answer = fifth.try_response(id, WAIT).expect("served once resumed");
    assert_eq!(answer.expect("version")[1], json!("1.4"));
    // Four again: paused again.
    e.server.wait_for("MAX_SESSIONS (4) reached", WAIT);
}

/// A server with SESSION_TIMEOUT=2 and REQUEST_TIMEOUT=1.
fn with_timeouts(name: &str, seed: u64) -> Electrum {
    Electrum::start(
        name,
        Node::generate(GenParams::fixture(seed)),
        &[
            ("SESSION_TIMEOUT", "2"),
            ("SESSION_TIMEOUT_CHECK", "1"),
            ("REQUEST_TIMEOUT", "1"),
        ],
    )
}

/// REQUEST_TIMEOUT: a broadcast while the daemon takes 3 s to answer is answered "server
/// busy" after a second, with a log line; the session goes on.
#[test]
fn a_slow_request_is_answered_server_busy_and_the_session_goes_on() {
    let mut e = with_timeouts("request-timeout", 93);
    let mut slow = Client::tcp_from(ip("127.0.0.1"), e.tcp);
    slow.version("slow");
    e.sim.control().set_delay(Duration::from_secs(3));
    let (r, took) = slow.timed_call("blockchain.transaction.broadcast", json!(["00"]));
    e.sim.control().set_delay(Duration::ZERO);
    assert_eq!(r, Err((-102, "server busy - request timed out".to_owned())));
    assert!(
        took >= Duration::from_millis(999),
        "answered after {took:?}"
    );
    e.server.wait_for("request timed out after 1 s", WAIT);
    // The session goes on.
    assert_eq!(slow.call("server.ping", json!([])), Ok(Value::Null));
}

/// SESSION_TIMEOUT: in the first round that finds a session idle (each second here, with
/// SESSION_TIMEOUT_CHECK=1), the idle session is closed, the active one is not.
#[test]
fn idle_sessions_are_closed_active_ones_are_not() {
    let mut e = with_timeouts("session-timeout", 95);
    let mut idle = Client::tcp_from(ip("127.0.0.1"), e.tcp);
    let idle_id = e.session_id(idle.local);
    idle.version("idle");
    let mut active = Client::tcp_from(ip("127.0.0.1"), e.tcp);
    let active_id = e.session_id(active.local);
    active.version("active");
    let stop = Arc::new(AtomicBool::new(false));
    let pinger = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                assert_eq!(active.call("server.ping", json!([])), Ok(Value::Null));
                std::thread::sleep(Duration::from_millis(500));
            }
            active
        })
    };
    let line = e.server.wait_for("closing idle sessions", WAIT);
    let ids: Vec<u64> = line
        .text
        .split("closing idle sessions: ")
        .nth(1)
        .expect("ids")
        .split(", ")
        .map(|s| s.trim().parse().expect("id"))
        .collect();
    assert!(ids.contains(&idle_id), "{}", line.text);
    assert!(!ids.contains(&active_id), "{}", line.text);
    assert!(idle.closed_within(WAIT), "the idle session was closed");
    stop.store(true, Ordering::SeqCst);
    let mut active = pinger.join().expect("the active session kept being served");
    assert_eq!(active.call("server.ping", json!([])), Ok(Value::Null));
}

/// DROP_CLIENT, DROP_CLIENT_UNKNOWN, LOG_SESSIONS every second, ANON_LOGS, subnet groups
/// for loopback, and low cost limits (to reach the hard limit quickly).
fn with_drops_and_anonymous_logs(name: &str) -> Electrum {
    Electrum::start(
        name,
        Node::generate(GenParams::fixture(94)),
        &[
            ("DROP_CLIENT", "bad"),
            ("DROP_CLIENT_UNKNOWN", "1"),
            ("LOG_SESSIONS", "1"),
            ("ANON_LOGS", "1"),
            ("SESSION_GROUP_PRIVATE", "1"),
            ("COST_SOFT_LIMIT", "1000"),
            ("COST_HARD_LIMIT", "2000"),
        ],
    )
}

/// Nowhere in the server's logs (ANON_LOGS): the clients' addresses, nor the subnet of the
/// one on 127.0.1.x (its group's name).
fn no_address_in_the_logs(e: &Electrum, locals: &[SocketAddr]) {
    let mut all = e.server.stdout();
    all.extend(e.server.stderr());
    for l in &all {
        assert!(!l.text.contains("127.0.1."), "{}", l.text);
        for local in locals {
            assert!(!l.text.contains(&local.to_string()), "{}", l.text);
        }
    }
}

/// DROP_CLIENT matches at the start of the name (Python's re.match); DROP_CLIENT_UNKNOWN
/// drops a client that gave no name at its next request; other clients are served; no
/// address reaches the logs.
#[test]
fn clients_are_dropped_by_the_name_they_give() {
    let e = with_drops_and_anonymous_logs("drop-client");
    let mut locals = Vec::new();
    let mut bad = Client::tcp_from(ip("127.0.0.1"), e.tcp);
    locals.push(bad.local);
    assert_eq!(
        bad.call("server.version", json!(["badwallet 4.0", "1.4"])),
        Err((1, "unsupported client: badwallet 4.0".to_owned()))
    );
    assert!(bad.closed_within(WAIT), "dropped");
    let mut good = Client::tcp_from(ip("127.0.1.1"), e.tcp);
    locals.push(good.local);
    good.version("not bad");
    assert_eq!(good.call("server.ping", json!([])), Ok(Value::Null));

    // DROP_CLIENT_UNKNOWN: a client that gave no name is dropped at its next request.
    let mut unnamed = Client::tcp_from(ip("127.0.0.1"), e.tcp);
    locals.push(unnamed.local);
    let v = unnamed
        .call("server.version", json!(["", "1.4"]))
        .expect("version");
    assert_eq!(v[1], json!("1.4"));
    assert_eq!(
        unnamed.call("server.ping", json!([])),
        Err((1, "use server.version to identify client".to_owned()))
    );
    assert!(unnamed.closed_within(WAIT), "dropped");

    no_address_in_the_logs(&e, &locals);
}

/// LOG_SESSIONS logs the sessions table with the peer redacted (ANON_LOGS); the refusal at
/// the hard limit logs the session's groups (its timeslice and its subnet) without naming
/// them; no address reaches the logs.
#[test]
fn logged_sessions_and_refusals_never_show_addresses() {
    let mut e = with_drops_and_anonymous_logs("anon-logs");
    let tip = e.sim.with_node(|n| n.tip_height());
    let mut good = Client::tcp_from(ip("127.0.1.1"), e.tcp);
    let locals = vec![good.local];
    good.version("not bad");
    e.server.wait_for("Flags", WAIT);
    let row = e.server.wait_for("not bad", WAIT);
    assert!(row.text.contains("xx.xx.xx.xx:xx"), "{}", row.text);
    assert!(
        row.text.contains(" T10 "),
        "flags: tcp, concurrency 10: {}",
        row.text
    );
    e.server.wait_for("\"sessions\"", WAIT);

    // The refusal at the hard limit logs the session's groups (its timeslice and its
    // subnet) without naming them.
    let r = good.call("blockchain.block.headers", json!([tip + 1, 100_000]));
    assert_eq!(r.expect("headers")["count"], json!(0));
    assert_eq!(
        good.call("server.ping", json!([])),
        Err((-101, "excessive resource usage".to_owned()))
    );
    let line = e
        .server
        .wait_for("closing session: excessive resource usage", WAIT);
    assert!(line.text.contains("groups=2"), "{}", line.text);

    no_address_in_the_logs(&e, &locals);
}

/// SIGTERM while a request waits for the daemon: it is answered, then the connection is
/// closed, nothing more is accepted, and the server exits 0.
#[test]
fn a_clean_stop_answers_the_requests_in_flight_then_exits() {
    let mut e = Electrum::start("drain", Node::generate(GenParams::fixture(95)), &[]);
    let mut c = Client::tcp_from(ip("127.0.0.1"), e.tcp);
    c.version("in flight");
    // A transaction of the chain, which the daemon now takes 3 s to give.
    let (txid, raw) = e.sim.with_node(|n| {
        let block = n.block_at(1).expect("block 1");
        let tx = block.tx(0).expect("coinbase");
        let raw = bitcoin::consensus::serialize(&tx);
        (
            tx.compute_txid().to_string(),
            bitcoin::hex::DisplayHex::to_lower_hex_string(&raw[..]),
        )
    });
    e.sim.control().set_delay(Duration::from_secs(3));
    let id = c.request("blockchain.transaction.get", json!([txid]));
    // The request is in flight (waiting for the daemon) when SIGTERM comes.
    std::thread::sleep(Duration::from_secs(1));
    let stopping = Instant::now();
    let pid = e.server.pid();
    assert!(
        listening_ports(pid).contains(&e.tcp),
        "listening before the stop"
    );
    e.server.signal(libc::SIGTERM);
    // It is answered (with the daemon's answer), then the connection is closed.
    assert_eq!(c.try_response(id, WAIT), Some(Ok(json!(raw))));
    assert!(c.closed_within(WAIT), "closed after the answer");
    // Nothing more is accepted: the server's listening socket is gone (seen on its own
    // sockets; a connection attempt to a free ephemeral port can connect to itself).
    assert!(!listening_ports(pid).contains(&e.tcp), "still accepting");
    // And the server exits 0, within the 5 s allowed to sessions and a few more to stop.
    let status = e.server.wait_exit(WAIT);
    let took = stopping.elapsed();
    assert!(status.success(), "exit {status}");
    assert!(took < Duration::from_secs(10), "stopped after {took:?}");
    e.server
        .wait_for("letting sessions finish their requests (at most 5 s)", WAIT);
}
