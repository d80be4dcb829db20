//! Cost-based throttling against the real server on loopback, checked against the figures
//! ElectrumX documents (docs/environment.md, "Resource limits"): a session's requests sleep
//! `fraction × REQUEST_SLEEP` and run at most `⌈(1 − fraction) × INITIAL_CONCURRENT⌉` at once,
//! where `fraction = (cost − COST_SOFT_LIMIT) / (COST_HARD_LIMIT − COST_SOFT_LIMIT)`; at the
//! hard limit it is refused ("excessive resource usage", code -101) and closed; its subnet
//! group keeps its cost, so reconnecting from the subnet starts where it left off; a client
//! on another subnet is not slowed (every session also bears 3 % of the costs of its
//! connection timeslice's group, which the bounds below allow for).
//!
//! Costs are injected with `blockchain.block.headers` from above the tip, which ElectrumX
//! prices at `count / 50` whatever it returns (nothing, here), plus the fixed figures: 5.0 for
//! a connection, 0.5 for `server.version`, 0.1 for `server.ping`. Loopback addresses are
//! private, so the server runs with SESSION_GROUP_PRIVATE=1; 127.0.0.0/8 is all loopback, so
//! clients bound to 127.0.X.Y sit in the /24 groups 127.0.X.0/24.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrumx_simnode::{GenParams, Node};
use ferrumx_testkit::{outcome, p50, Client, Electrum, Received, WAIT};
use serde_json::{json, Value};

const SOFT: f64 = 1000.0;
const HARD: f64 = 3000.0;
const SLEEP_MS: f64 = 1000.0;
const INITIAL: f64 = 10.0;
/// The documented costs.
const CONNECTION: f64 = 5.0;
const VERSION: f64 = 0.5;
const PING: f64 = 0.1;
const BANDWIDTH_UNIT: f64 = 5000.0;
/// Every session also joins the group of its connection timeslice (`t0` here), bearing this
/// share of the other members' costs, as ElectrumX documents.
const TIMESLICE_WEIGHT: f64 = 0.03;
/// An upper bound of the costs the test's sessions put into `t0`: two flooders driven to the
/// hard limit (with the overshoot of their last requests), the returning session's 2,000,
/// and the small ones.
const T0_BOUND: f64 = 3.0 * HARD + 2000.0;

/// The documented throttle at `cost`: (fraction, concurrency, sleep).
fn model(cost: f64) -> (f64, i64, Duration) {
    let fraction = ((cost - SOFT) / (HARD - SOFT)).max(0.0);
    let concurrency = (((1.0 - fraction) * INITIAL).ceil() as i64).max(0);
    (
        fraction,
        concurrency,
        Duration::from_secs_f64(fraction * SLEEP_MS / 1000.0),
    )
}

fn start() -> Electrum {
    Electrum::start(
        "throttle",
        Node::generate(GenParams::fixture(91)),
        &[
            ("COST_SOFT_LIMIT", "1000"),
            ("COST_HARD_LIMIT", "3000"),
            ("REQUEST_SLEEP", "1000"),
            ("INITIAL_CONCURRENT", "10"),
            ("REQUEST_TIMEOUT", "120"),
            ("SESSION_GROUP_PRIVATE", "1"),
        ],
    )
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("ip")
}

/// Adds `cost` to the session (headers asked for above the tip: no answer data).
fn inject(c: &mut Client, tip: u32, cost: f64) {
    let count = (cost * 50.0).round() as u64;
    let r = c
        .call("blockchain.block.headers", json!([tip + 1, count]))
        .expect("headers above the tip");
    assert_eq!(r["count"], json!(0), "{r}");
}

/// The next "session concurrency changed" line of session `id`: (from, to).
fn concurrency_change(e: &mut Electrum, session: u64) -> (u64, u64) {
    let line = e
        .server
        .wait_for_where("session concurrency changed", WAIT, |l| {
            l.field("session") == Some(session)
        });
    (
        line.field("from").expect("from"),
        line.field("to").expect("to"),
    )
}

/// Pipelines `n` pings; when each answer was read (sorted), from the sending.
fn burst(c: &mut Client, n: usize) -> Vec<Duration> {
    let sent = Instant::now();
    let mut ids: Vec<u64> = (0..n)
        .map(|_| c.request("server.ping", json!([])))
        .collect();
    let mut arrivals = Vec::new();
    while !ids.is_empty() {
        let Received::Msg(m) = c.read(WAIT) else {
            panic!("no answer to {ids:?}");
        };
        let id = m["id"].as_u64().expect("id");
        assert!(ids.contains(&id), "{m}");
        ids.retain(|i| *i != id);
        assert_eq!(outcome(&m), Ok(Value::Null));
        arrivals.push(sent.elapsed());
    }
    arrivals.sort();
    arrivals
}

/// How many answers came within half a sleep of the first.
fn in_first_wave(arrivals: &[Duration], sleep: Duration) -> usize {
    arrivals
        .iter()
        .filter(|a| **a < arrivals[0] + sleep / 2)
        .count()
}

/// Pings `polite` until `stop`, returning each round trip.
fn polite_pings(mut polite: Client, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let mut samples = Vec::new();
    while !stop.load(Ordering::SeqCst) || samples.len() < 20 {
        let (r, took) = polite.timed_call("server.ping", json!([]));
        assert_eq!(r, Ok(Value::Null), "the polite client is served");
        samples.push(took);
        std::thread::sleep(Duration::from_millis(20));
    }
    samples
}

#[test]
fn costs_throttle_then_disconnect_and_are_remembered_per_subnet_not_beyond() {
    let mut e = start();
    let tip = e.sim.with_node(|n| n.tip_height());

    // A polite client on another subnet: its unloaded latency first.
    let mut polite = Client::tcp_from(ip("127.0.1.1"), e.tcp);
    polite.version("polite");
    let baseline: Vec<Duration> = (0..20)
        .map(|_| polite.timed_call("server.ping", json!([])).1)
        .collect();
    let base = p50(&baseline);
    let stop = Arc::new(AtomicBool::new(false));
    let pinger = {
        let stop = stop.clone();
        std::thread::spawn(move || polite_pings(polite, stop))
    };

    // --- One session driven through the model, step by step.
    let mut f = Client::tcp_from(ip("127.0.0.1"), e.tcp);
    let fid = e.session_id(f.local);
    f.version("flooder");
    let mut cost = CONNECTION + VERSION;

    // To a quarter of the way: concurrency 10 → 8, requests sleep 250 ms.
    inject(&mut f, tip, SOFT + 500.0 - cost);
    cost = SOFT + 500.0;
    let (fraction, concurrency, sleep) = model(cost);
    assert_eq!((fraction, concurrency), (0.25, 8));
    assert_eq!(concurrency_change(&mut e, fid), (10, 8));
    let (r, took) = f.timed_call("server.ping", json!([]));
    assert_eq!(r, Ok(Value::Null));
    cost += PING;
    // Bandwidth adds a few thousandths to the fraction: at least the model's sleep, less a
    // millisecond of rounding.
    assert!(
        took + Duration::from_millis(1) >= sleep,
        "ping took {took:?}, the model sleeps {sleep:?}"
    );
    let slack = base * 5 + Duration::from_millis(250);
    assert!(
        took <= sleep + slack,
        "ping took {took:?}: {sleep:?} of sleep and at most {slack:?} more"
    );

    // Three quarters: concurrency 8 → 3, 750 ms.
    inject(&mut f, tip, SOFT + 1500.0 - cost);
    cost = SOFT + 1500.0;
    let (_, concurrency, sleep) = model(cost);
    assert_eq!(concurrency, 3);
    assert_eq!(concurrency_change(&mut e, fid), (8, 3));
    // As in aiorpcX, a slot is withdrawn only when a request finishes while more slots are
    // in circulation than the target: of the ten, the first injection and the ping finished
    // over a target of 8 and the second injection over 3, taking three away. Seven remain,
    // so a burst of ten runs seven at once (each sleeping 750 ms), then three…
    let tick = Duration::from_millis(1);
    let arrivals = burst(&mut f, 10);
    assert!(
        arrivals[0] + tick >= sleep,
        "{arrivals:?} vs sleep {sleep:?}"
    );
    assert_eq!(in_first_wave(&arrivals, sleep), 7, "{arrivals:?}");
    assert!(arrivals[7] + 2 * tick >= sleep * 2, "{arrivals:?}");
    // …and once they have finished, six pipelined pings run three at a time: two waves.
    let arrivals = burst(&mut f, 6);
    cost += 16.0 * PING;
    assert!(
        arrivals[0] + tick >= sleep,
        "{arrivals:?} vs sleep {sleep:?}"
    );
    assert!(
        arrivals[3] + 2 * tick >= sleep * 2,
        "the fourth waited for a slot: {arrivals:?}"
    );
    assert_eq!(
        in_first_wave(&arrivals, sleep),
        3,
        "three at a time: {arrivals:?}"
    );

    // Past the hard limit: the request that crosses it is answered, the next refused.
    inject(&mut f, tip, HARD + 100.0 - cost);
    assert_eq!(model(HARD + 100.0).1, 0);
    assert_eq!(concurrency_change(&mut e, fid), (3, 0));
    assert_eq!(
        f.call("server.ping", json!([])),
        Err((-101, "excessive resource usage".to_owned()))
    );
    assert!(f.closed_within(WAIT), "closed after the refusal");
    let line = e
        .server
        .wait_for("closing session: excessive resource usage", WAIT);
    assert_eq!(line.field("session"), Some(fid));
    assert!(line.text.contains("127.0.0.0/24"), "{}", line.text);

    // --- A pipelining flooder on a third subnet: served while under the hard limit, then
    // refused once and closed.
    let mut g = Client::tcp_from(ip("127.0.3.1"), e.tcp);
    g.version("pipeliner");
    let ids: Vec<u64> = (0..80)
        .map(|_| g.request("blockchain.block.headers", json!([0, 2016])))
        .collect();
    let mut ok = 0usize;
    let mut per_request = 0.0;
    let mut refused = 0usize;
    loop {
        match g.read(WAIT) {
            Received::Msg(m) => {
                let id = m["id"].as_u64().expect("id");
                assert!(ids.contains(&id));
                match outcome(&m) {
                    Ok(v) => {
                        assert_eq!(refused, 0, "nothing is answered after the refusal");
                        ok += 1;
                        let request = json!({"jsonrpc": "2.0", "id": id, "method":
                            "blockchain.block.headers", "params": [0, 2016]});
                        let bytes = m.to_string().len() + request.to_string().len() + 1;
                        per_request = 2016.0 / 50.0 + bytes as f64 / BANDWIDTH_UNIT;
                        assert_eq!(v["count"], json!(tip + 1));
                    }
                    Err(err) => {
                        assert_eq!(err, (-101, "excessive resource usage".to_owned()));
                        refused += 1;
                    }
                }
            }
            Received::Closed => break,
            Received::Timeout => panic!("the pipelining flooder was neither served nor closed"),
        }
    }
    assert_eq!(refused, 1, "one refusal, then the connection closed");
    // Disconnected when its cost reached the hard limit: after about (hard − start) / cost
    // of a request answers (give or take the drift of 100 before a recalculation and the
    // requests in flight).
    let expected = (HARD - CONNECTION - VERSION) / per_request;
    assert!(
        (ok as f64) >= expected - 4.0 && (ok as f64) <= expected + 4.0,
        "{ok} answers before the refusal; the model says about {expected:.1}"
    );

    stop.store(true, Ordering::SeqCst);
    let loaded = pinger.join().expect("polite client");
    let bound = base * 5 + Duration::from_millis(50);
    assert!(
        p50(&loaded) <= bound,
        "the polite client's p50 went from {base:?} to {:?} (bound {bound:?})",
        p50(&loaded)
    );

    // --- The subnet remembers: reconnecting from it, even from another address in it, is
    // refused at the first request.
    for from in ["127.0.0.1", "127.0.0.2"] {
        let mut again = Client::tcp_from(ip(from), e.tcp);
        assert_eq!(
            again.call("server.version", json!(["flooder", "1.4"])),
            Err((-101, "excessive resource usage".to_owned())),
            "from {from}"
        );
        assert!(again.closed_within(WAIT), "from {from}");
    }

    // --- Below the hard limit, a reconnection starts throttled by what its subnet kept:
    // 2,000 of cost left behind put the new session half-way (concurrency 5, 500 ms).
    let mut h = Client::tcp_from(ip("127.0.2.1"), e.tcp);
    let hid = e.session_id(h.local);
    h.version("returning");
    inject(&mut h, tip, 2000.0 - CONNECTION - VERSION);
    // Half-way is concurrency 5; the timeslice group's share may take it one step lower.
    let (_, lowest, _) = model(2000.0 + TIMESLICE_WEIGHT * T0_BOUND);
    assert_eq!(lowest, 4);
    let (from, to) = concurrency_change(&mut e, hid);
    assert!(from == 10 && (4..=5).contains(&to), "{from} -> {to}");
    drop(h);
    // The group holds 2,000 plus the bandwidth of four messages (under 0.1).
    let (_, concurrency, sleep) = model(2000.0);
    assert_eq!(concurrency, 5);
    let mut back = Client::tcp_from(ip("127.0.2.2"), e.tcp);
    let back_id = e.session_id(back.local);
    let (from, to) = concurrency_change(&mut e, back_id);
    assert!(from == 10 && (4..=5).contains(&to), "{from} -> {to}");
    let (r, took) = back.timed_call("server.version", json!(["returning", "1.4"]));
    assert!(r.is_ok(), "{r:?}");
    assert!(
        took + Duration::from_millis(1) >= sleep,
        "the returning client's first request took {took:?}, the model sleeps {sleep:?}"
    );
    // Whereas a newcomer on a fresh subnet is not slowed.
    let mut fresh = Client::tcp_from(ip("127.0.4.1"), e.tcp);
    let (r, took) = fresh.timed_call("server.version", json!(["fresh", "1.4"]));
    assert!(r.is_ok(), "{r:?}");
    assert!(took < sleep, "a fresh subnet's first request took {took:?}");
}
