//! Hostile input, fuzz-style (cargo fuzz needs a nightly toolchain these machines cannot
//! fetch, so this is a deterministic random search on stable): hundreds of thousands of
//! random and mutated messages through the JSON-RPC parser, argument binding of every
//! method, the parameter checks and version negotiation — none may panic or hang — and a
//! live server fed garbage, deep nesting, invalid UTF-8, huge numbers and floods on one
//! connection keeps answering correctly on it and on others.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ferrumx::electrum::methods::Method;
use ferrumx::electrum::params;
use ferrumx::electrum::version::{self, ProtocolVersion};
use ferrumx::jsonrpc::{self, Detector, Parsed};
use ferrumx::py;
use ferrumx_simnode::{GenParams, Node};
use ferrumx_testkit::{methods, Client, Electrum, Kind, Rng, Shared, WAIT};
use serde_json::{json, Value};

/// Every method the server serves (from its own table), and one it does not.
fn method_names() -> Vec<&'static str> {
    let mut names = methods::names();
    assert!(names.len() >= 25, "{names:?}");
    names.push("no.such.method");
    names
}

/// A random JSON value, nested at most `depth`.
fn value(r: &mut Rng, depth: u32) -> Value {
    match r.below(if depth == 0 { 7 } else { 9 }) {
        0 => Value::Null,
        1 => json!(r.below(2) == 0),
        2 => json!(r.next_u64() as i64),
        3 => json!((r.next_u64() % 3000) as i64 - 1000),
        4 => json!(f64::from_bits(r.next_u64()).clamp(-1e300, 1e300)),
        5 => {
            let pool = [
                "",
                "0",
                "-1",
                "1.5",
                " 12 ",
                "1_000",
                "x",
                "zz",
                "00",
                "1.6",
                "1.4.2",
                "CONSERVATIVE",
                "economical",
                "\u{0}",
                "🙂",
                "deadbeef",
            ];
            json!(pool[r.below(pool.len())])
        }
        6 => json!("ab".repeat(r.below(40))),
        7 => Value::Array((0..r.below(4)).map(|_| value(r, depth - 1)).collect()),
        _ => {
            let mut m = serde_json::Map::new();
            for _ in 0..r.below(3) {
                let keys = ["height", "cp_height", "x", "scripthash", "verbose", "self"];
                m.insert(keys[r.below(keys.len())].to_string(), value(r, depth - 1));
            }
            Value::Object(m)
        }
    }
}

fn request(r: &mut Rng, methods: &[&str]) -> Value {
    let mut m = serde_json::Map::new();
    if r.below(10) > 0 {
        m.insert("jsonrpc".into(), json!(["2.0", "1.0", "3"][r.below(3)]));
    }
    if r.below(10) > 0 {
        m.insert("id".into(), value(r, 1));
    }
    if r.below(20) > 0 {
        m.insert("method".into(), json!(methods[r.below(methods.len())]));
    }
    if r.below(10) > 0 {
        let params = if r.below(4) == 0 {
            value(r, 2)
        } else {
            Value::Array((0..r.below(5)).map(|_| value(r, 2)).collect())
        };
        m.insert("params".into(), params);
    }
    Value::Object(m)
}

/// Mutates bytes: flips, deletions, insertions, truncation.
fn mutate(r: &mut Rng, mut bytes: Vec<u8>) -> Vec<u8> {
    for _ in 0..r.below(4) {
        if bytes.is_empty() {
            break;
        }
        let i = r.below(bytes.len());
        match r.below(4) {
            0 => bytes[i] ^= 1 << r.below(8),
            1 => {
                bytes.remove(i);
            }
            2 => bytes.insert(i, (r.next_u64() & 0xff) as u8),
            _ => bytes.truncate(i),
        }
    }
    bytes
}

#[test]
fn random_messages_never_panic_the_protocol_layer() {
    let mut r = Rng::new(0x5eed);
    let methods = method_names();
    let versions = [
        ProtocolVersion::new(&[1, 4]),
        ProtocolVersion::new(&[1, 4, 2]),
        ProtocolVersion::new(&[1, 6]),
        ProtocolVersion::new(&[1, 7]),
    ];
    let started = Instant::now();
    let (mut requests, mut bound, mut answered) = (0usize, 0usize, 0usize);
    for i in 0..150_000 {
        let msg = if r.below(3) == 0 {
            let batch: Vec<Value> = (0..r.below(4)).map(|_| request(&mut r, &methods)).collect();
            Value::Array(batch)
        } else {
            request(&mut r, &methods)
        };
        let mut bytes = serde_json::to_vec(&msg).expect("encode");
        if i % 2 == 0 {
            bytes = mutate(&mut r, bytes);
        }
        let mut detector = Detector::new();
        let reqs = match jsonrpc::parse(&bytes, &mut detector) {
            Ok(Parsed::Single(req)) => vec![req],
            Ok(Parsed::Batch(b)) => b.requests,
            Err(_) => continue,
        };
        for req in reqs {
            requests += 1;
            let v = &versions[r.below(versions.len())];
            let Some(m) = Method::lookup(&req.method, v) else {
                continue;
            };
            let Ok(args) = jsonrpc::bind(&req.method, &m.signature(), &req.params) else {
                continue;
            };
            bound += 1;
            for a in args.iter().flatten() {
                let _ = params::non_negative_integer(a);
                let _ = params::script_hash(a);
                let _ = params::assert_tx_hash(a);
                let _ = params::assert_boolean(a);
                let _ = params::assert_hex_str(a);
                let _ = params::estimatefee_mode(Some(a));
                let _ = version::negotiate(Some(a));
                let _ = py::py_str(a);
                let _ = py::py_repr(a);
            }
            // Any answer is one JSON object carrying an id: the result as given, or (over
            // the size limit) the "response too large" error.
            let result = json!(args);
            // Compared after the same encode-decode on both sides.
            let want: Value = py::loads(result.to_string().as_bytes())
                .map(py::Node::into_value)
                .expect("re-decode");
            if let Some(bytes) = req.response(Ok(&result), 1_000) {
                answered += 1;
                // Read as a client of ElectrumX must read it: Python's json (an id such as
                // -Infinity, which Python's json.loads accepts, is echoed as Python writes it,
                // as ElectrumX does).
                let m: Value = py::loads(&bytes)
                    .map(py::Node::into_value)
                    .unwrap_or_else(|e| {
                        panic!(
                            "invalid JSON answer {:?}: {e:?}",
                            String::from_utf8_lossy(&bytes)
                        )
                    });
                assert!(m.get("id").is_some(), "{m}");
                assert!(
                    m["result"] == want || m["error"]["code"] == json!(-32600),
                    "{m} for {result}"
                );
            }
        }
    }
    eprintln!(
        "{requests} requests parsed, {bound} bound to a method, {answered} answered, in {:?}",
        started.elapsed()
    );
    assert!(bound > 10_000, "the search reached the methods ({bound})");
    assert!(answered > 5_000, "answers were encoded ({answered})");
}

#[test]
fn random_bytes_never_panic_the_parser() {
    let mut r = Rng::new(77);
    for _ in 0..50_000 {
        let len = r.below(64);
        let bytes: Vec<u8> = (0..len).map(|_| (r.next_u64() & 0xff) as u8).collect();
        let _ = jsonrpc::parse(&bytes, &mut Detector::new());
    }
}

#[test]
fn deep_nesting_and_huge_numbers_never_panic_the_parser() {
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = "{\"a\":".repeat(50_000) + "1" + &"}".repeat(50_000);
    let huge_int = format!(
        "{{\"id\":1,\"method\":\"blockchain.block.header\",\"params\":[{}]}}",
        "9".repeat(10_000)
    );
    for text in [deep_array.as_str(), deep_object.as_str(), huge_int.as_str()] {
        let _ = jsonrpc::parse(text.as_bytes(), &mut Detector::new());
    }
}

/// The live server the attacks below are made on (MAX_RECV=100,000); nothing changes its
/// chain.
static HOSTILE: Shared<Electrum> = Shared::new(|| {
    Electrum::start(
        "hostile",
        Node::generate(GenParams::fixture(71)),
        &[("MAX_RECV", "100000")],
    )
});

/// Sends raw bytes on a fresh TCP connection (after server.version), then checks the
/// server still answers `server.ping` on that connection if it stayed open (it must not
/// hang), and always on another one.
fn survives(what: &str, attack: &[u8]) {
    let e = HOSTILE.get();
    let mut raw = TcpStream::connect(("127.0.0.1", e.tcp)).expect("connect");
    raw.set_write_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    raw.set_read_timeout(Some(WAIT)).expect("timeout");
    raw.write_all(b"{\"id\":0,\"method\":\"server.version\",\"params\":[\"x\",\"1.4\"]}\n")
        .expect("write");
    let _ = raw.write_all(attack);
    let _ = raw.write_all(b"\n");
    // The attacked connection itself: either closed, or it still answers a ping (it must
    // not hang).
    let _ = raw.write_all(b"{\"id\":\"after\",\"method\":\"server.ping\",\"params\":[]}\n");
    let fate = answered_or_closed(&mut raw, "after");
    eprintln!("{what}: the attacked connection was {fate}");
    drop(raw);
    // Another connection is served normally meanwhile.
    let mut ok = e.session(Kind::Tcp, "1.4");
    assert_eq!(
        ok.call("server.ping", json!([])).expect("ping"),
        Value::Null,
        "{what}"
    );
}

#[test]
fn garbage_bytes() {
    survives("garbage", b"\xff\xfe\xfd garbage \x00\n");
}

#[test]
fn an_unterminated_request() {
    survives(
        "unterminated",
        b"{\"id\":1,\"method\":\"server.ping\",\"params\":[]\n",
    );
}

#[test]
fn two_hundred_thousand_open_brackets() {
    survives(
        "open brackets",
        format!("{}\n", "[".repeat(200_000)).as_bytes(),
    );
}

#[test]
fn a_height_of_five_thousand_digits() {
    survives(
        "huge height",
        format!(
            "{{\"id\":2,\"method\":\"blockchain.block.header\",\"params\":[{}]}}\n",
            "9".repeat(5_000)
        )
        .as_bytes(),
    );
}

#[test]
fn a_megabyte_without_a_newline() {
    survives("a megabyte", &vec![b'x'; 1_000_000]);
}

#[test]
fn empty_lines_and_messages_that_are_not_requests() {
    survives("odd messages", b"\n\n\n[]\n[1,2,3]\n{}\nnull\n\"str\"\n");
}

#[test]
fn two_thousand_pings_in_one_write() {
    let flood: String = (0..2000)
        .map(|i| format!("{{\"id\":{i},\"method\":\"server.ping\"}}\n"))
        .collect();
    survives("ping flood", flood.as_bytes());
}

/// On one connection: a bad line (a parse error), an oversized one (dropped without an
/// answer), then a good request, answered.
#[test]
fn a_bad_line_and_an_oversized_one_leave_the_connection_served() {
    let e = HOSTILE.get();
    let mut c: Client = e.session(Kind::Tcp, "1.6");
    c.send_raw("{not json");
    assert_eq!(
        c.recv(),
        Some(
            json!({"jsonrpc": "2.0", "error": {"code": -32700, "message": "invalid JSON"}, "id": null})
        )
    );
    c.send_raw(&"y".repeat(200_000));
    let tip = c
        .call("blockchain.headers.subscribe", json!([]))
        .expect("still served");
    assert_eq!(tip["height"], json!(e.sim.with_node(|n| n.tip_height())));
    assert!(
        c.notification(Duration::from_secs(1)).is_none(),
        "nothing answers the oversized line"
    );
}

/// Reads `raw` until the answer to the request with id `id` (which must be `null`, a ping's
/// result) or the end of the connection; panics if neither comes within the read timeout.
fn answered_or_closed(raw: &mut TcpStream, id: &str) -> &'static str {
    let mut reader = BufReader::new(raw);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return "closed",
            Ok(_) => {
                let Ok(m) = serde_json::from_slice::<Value>(&line) else {
                    panic!(
                        "invalid JSON from the server: {:?}",
                        String::from_utf8_lossy(&line)
                    );
                };
                if m["id"] == json!(id) {
                    assert_eq!(m["result"], Value::Null, "the ping's answer: {m}");
                    assert!(m.get("error").is_none(), "the ping's answer: {m}");
                    return "still served";
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("the attacked connection neither answered nor closed: {e}")
            }
            Err(_) => return "closed (reset)",
        }
    }
}
