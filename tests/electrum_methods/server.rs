//! Version negotiation, the methods of each protocol version, `server.*`, every class of
//! parameter error, JSON-RPC framing.

use std::collections::BTreeSet;

use ferrumx_simnode::GenParams;
use ferrumx_testkit::{Fixture, Kind, Shared, TempDir};

use super::*;

const TEMPLATE: &str = "Welcome to FerrumX $SERVER_VERSION ($SERVER_SUBVERSION) on bitcoind \
                        $DAEMON_VERSION $DAEMON_SUBVERSION — donate to $DONATION_ADDRESS; \
                        $SERVER_VERSION again, $UNKNOWN stays.\n";
const REPORT: &str =
    "tcp://example.com:50001,ssl://example.com:50002,wss://electrum.example.org:50004";
const DONATION: &str = "bcrt1qdonationaddressexample";

/// The server of the tests below (REPORT_SERVICES, BANNER_FILE, DONATION_ADDRESS set), what
/// the test knows about its chain, and the banner file's directory.
struct Settings {
    e: Electrum,
    chain: Chain,
    banner: TempDir,
}

impl Fixture for Settings {
    fn at_exit(&self) {
        self.e
            .server
            .kill_at_exit(&[self.e.dir.path(), self.banner.path()]);
    }
    fn dump(&self) {
        self.e.dump();
    }
}

static SERVER: Shared<Settings> = Shared::new(|| {
    let banner = TempDir::created("methods-banner");
    let file = banner.write("banner.txt", TEMPLATE);
    let e = Electrum::start(
        "methods-server",
        Node::generate(GenParams::fixture(14)),
        &[
            ("REPORT_SERVICES", REPORT),
            ("BANNER_FILE", file.to_str().expect("utf-8")),
            ("DONATION_ADDRESS", DONATION),
        ],
    );
    let chain = Chain::of(&e);
    Settings { e, chain, banner }
});

/// The server's name and version, as `server.version` gives it.
fn server_version(e: &Electrum) -> Value {
    let mut c = e.connect(Kind::Tcp);
    ok(
        c.call("server.version", json!(["c", "1.4"])),
        "server.version",
    )[0]
    .clone()
}

/// Python's `str()` of the simple JSON values used below.
fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => {
            let s = n.to_string();
            assert!(
                n.is_i64() || n.is_u64() || s.contains('.') || s.contains('e'),
                "{s}"
            );
            s
        }
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let inner: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::String(s) => format!("'{s}'"),
                    other => py_str(other),
                })
                .collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Object(_) => panic!("not needed"),
    }
}

/// ElectrumX's `util.protocol_tuple`.
fn protocol_tuple(v: &Value) -> Vec<u64> {
    match v {
        Value::String(s) => s
            .split('.')
            .map(|p| p.parse::<u64>())
            .collect::<Result<Vec<u64>, _>>()
            .unwrap_or_else(|_| vec![0]),
        _ => vec![0],
    }
}

/// ElectrumX's negotiation (`util.protocol_version` with PROTOCOL_MIN (1, 4), PROTOCOL_MAX
/// (1, 6, 0), then `version_string`): the version agreed for the `protocol_version`
/// argument, `None` when there is none.
fn negotiated(req: &Value) -> Option<String> {
    let (min, max) = (vec![1, 4], vec![1, 7, 0]);
    let (client_min, client_max) = match req {
        Value::Null => (min.clone(), min.clone()),
        Value::Array(a) if a.len() == 2 => (protocol_tuple(&a[0]), protocol_tuple(&a[1])),
        other => (protocol_tuple(other), protocol_tuple(other)),
    };
    let result = client_max.min(max);
    if result < client_min.max(min) || result == [0] {
        return None;
    }
    let mut parts: Vec<String> = result.iter().map(u64::to_string).collect();
    while parts.len() < 2 {
        parts.push("0".into());
    }
    Some(parts.join("."))
}

/// A new connection's first request: the raw notifications sent before its answer, the
/// answer, and (when `closes`) that the server then closed the connection — else that the
/// session goes on.
fn first_request(
    e: &Electrum,
    method: &str,
    params: Value,
    closes: bool,
) -> (Vec<String>, Result<Value, RpcErr>) {
    let mut c = e.connect(Kind::Tcp);
    let msg = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": &params});
    c.send_raw(&msg.to_string());
    let mut notes = Vec::new();
    let answer = loop {
        let line = c
            .recv_raw()
            .unwrap_or_else(|| panic!("{method} {params}: closed without an answer"));
        let v: Value = serde_json::from_str(&line).expect("JSON");
        if v.get("id").is_some() {
            break v;
        }
        notes.push(line);
    };
    assert_eq!(answer["id"], json!(1), "{answer}");
    let result = match answer.get("error") {
        Some(err) => Err((
            err["code"].as_i64().expect("code"),
            err["message"].as_str().expect("message").to_string(),
        )),
        None => Ok(answer["result"].clone()),
    };
    if closes {
        assert!(c.closed(), "{method} {params}: closed");
    } else {
        // `server.ping` answers null, and from 1.7 `{"data": ""}`.
        let at_1_7 = method == "server.version"
            && result.as_ref().is_ok_and(|r| {
                r.get(1)
                    .is_some_and(|v| protocol_tuple(v) >= protocol_tuple(&json!("1.7")))
            });
        let pong_result = if at_1_7 {
            json!({"data": ""})
        } else {
            Value::Null
        };
        c.send_raw(r#"{"jsonrpc":"2.0","id":2,"method":"server.ping","params":[]}"#);
        let pong: Value = c.recv().expect("ping answered");
        assert_eq!(
            pong,
            json!({"jsonrpc": "2.0", "result": pong_result, "id": 2})
        );
    }
    (notes, result)
}

/// A JSON-RPC 2.0 error message without an id (aiorpcx's answer to an unparsable message).
fn v2_error(code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": null})
}

/// A JSON-RPC 1.0 error message.
fn v1_error(code: i64, message: &str, id: Value) -> Value {
    json!({"result": null, "error": {"code": code, "message": message}, "id": id})
}

const CRASH_NOTES: [&str; 2] = [
    r#"{"jsonrpc":"2.0","method":"blockchain.relayfee"}"#,
    r#"{"jsonrpc":"2.0","method":"blockchain.estimatefee"}"#,
];

/// `server.version` as the first request: every way of asking a version, agreed as
/// ElectrumX's `util.protocol_version` agrees it (ElectrumX 2.0.0: PROTOCOL_MIN 1.4,
/// PROTOCOL_MAX 1.7.0),
/// refused with its message (and the connection closed) otherwise; named arguments.
#[test]
fn version_negotiation_is_electrumx_s() {
    let f = SERVER.get();
    let e = &f.e;
    let mut requests = vec![
        json!([]),
        json!(["c"]),
        json!(["c", null]),
        json!(["", "1.6"]),
        json!(["c", "1.4"]),
        json!(["c", "1.4.2"]),
        json!(["c", ["1.4", "1.4.2"]]),
        json!(["c", "1.5"]),
        json!(["c", "1.6"]),
        json!(["c", "1.6.0"]),
        json!(["c", "1.6.1"]),
        json!(["c", ["1.4", "1.6"]]),
        json!(["c", ["1.5", "1.9"]]),
        json!(["c", ["1.4", "2"]]),
        json!(["c", "1.6", "extra", {"ignored": true}]),
        json!(["c", "1.7"]),
        json!(["c", "1.7.0"]),
        json!(["c", ["1.7", "1.8"]]),
    ];
    let unsupported = [
        json!(["c", "1.3"]),
        json!(["c", "1.7.1"]),
        json!(["c", ["1.8", "1.9"]]),
        json!(["c", ["1.5", "1.4"]]),
        json!(["c", "2"]),
        json!(["c", "junk"]),
        json!(["c", ""]),
        json!(["c", 1.4]),
        json!(["c", ["1.4"]]),
        json!(["c", ["1.4", "1.6", "1.7"]]),
    ];
    requests.extend(unsupported.iter().cloned());
    let mut server_version = None;
    for params in &requests {
        let req = params.get(1).cloned().unwrap_or(Value::Null);
        let want = negotiated(&req);
        let (notes, got) = first_request(e, "server.version", params.clone(), want.is_none());
        assert!(notes.is_empty(), "{params}: {notes:?}");
        match want {
            Some(v) => {
                let got = ok(got, params);
                assert_eq!(got[1], json!(v), "{params}");
                server_version = Some(got[0].clone());
            }
            None => assert_eq!(
                got,
                Err(bad(format!(
                    "unsupported protocol version: {}",
                    py_str(&req)
                ))),
                "{params}"
            ),
        }
    }
    let server_version = server_version.expect("negotiated");
    assert!(unsupported.iter().all(|r| negotiated(&r[1]).is_none()));
    // Named arguments (server.version takes **kwargs).
    let (_, got) = first_request(
        e,
        "server.version",
        json!({"client_name": "c", "protocol_version": "1.6", "other": 1}),
        false,
    );
    assert_eq!(got, Ok(json!([server_version, "1.6"])));
}

/// Old Electrum clients (<= 3.2.3) asking an unsupported version are first sent the two
/// notifications that crash them (ElectrumX's `maybe_crash_old_client`); not when the
/// version is supported.
#[test]
fn old_clients_asking_an_unsupported_version_are_sent_the_crash_notifications() {
    let f = SERVER.get();
    let e = &f.e;
    let server_version = server_version(e);
    for (client, crash) in [
        ("3.2.0", true),
        ("3.2.3", true),
        ("3.3.0", false),
        ("electrum", false),
    ] {
        let (notes, got) = first_request(e, "server.version", json!([client, "1.2"]), true);
        assert_eq!(
            got,
            Err(bad("unsupported protocol version: 1.2")),
            "{client}"
        );
        let want: Vec<&str> = if crash { CRASH_NOTES.to_vec() } else { vec![] };
        assert_eq!(notes, want, "{client}");
    }
    let (notes, got) = first_request(e, "server.version", json!(["3.2.0", "1.4"]), false);
    assert!(notes.is_empty());
    assert_eq!(got, Ok(json!([server_version, "1.4"])));
}

/// Anything before `server.version`: the two notifications, the error, the close.
#[test]
fn requests_before_server_version_are_refused_and_closed() {
    let f = SERVER.get();
    let e = &f.e;
    for (method, params) in [
        ("server.ping", json!([])),
        ("blockchain.block.header", json!([1])),
        ("no.such.method", json!([])),
    ] {
        let (notes, got) = first_request(e, method, params, true);
        assert_eq!(notes, CRASH_NOTES.to_vec(), "{method}");
        assert_eq!(
            got,
            Err(bad("use server.version to identify client")),
            "{method}"
        );
    }
}

/// The methods each protocol version has (`relayfee` before 1.6, `unsubscribe` from 1.4.2,
/// `mempool.get_info` and packages from 1.6), the headers' shape, one `server.version` per
/// session.
#[test]
fn each_protocol_version_has_its_methods() {
    let f = SERVER.get();
    let (e, chain) = (&f.e, &f.chain);
    let daemon = Daemon::of(e);
    let server_version = server_version(e);
    let relayfee = daemon.call("getnetworkinfo", &[]).expect("getnetworkinfo")["relayfee"].clone();
    let info = daemon.call("getmempoolinfo", &[]).expect("getmempoolinfo");
    let some_sh = ScriptHash([3; 32]).to_string();
    for (asked, v) in [
        (json!("1.4"), "1.4"),
        (json!(["1.4", "1.4.2"]), "1.4.2"),
        (json!("1.5"), "1.5"),
        (json!("1.6"), "1.6"),
    ] {
        let mut c = e.connect(Kind::Tcp);
        assert_eq!(
            c.call("server.version", json!(["c", asked])),
            Ok(json!([server_version, v]))
        );
        let at_least = |w: &str| protocol_tuple(&json!(v)) >= protocol_tuple(&json!(w));
        let expect = |present: bool, method: &str, answer: Result<Value, RpcErr>| {
            if present {
                answer
            } else {
                Err(unknown_method(method))
            }
        };
        assert_eq!(
            c.call("blockchain.relayfee", json!([])),
            expect(
                !at_least("1.6"),
                "blockchain.relayfee",
                Ok(relayfee.clone())
            ),
            "{v}"
        );
        assert_eq!(
            c.call("blockchain.scripthash.unsubscribe", json!([some_sh])),
            expect(
                at_least("1.4.2"),
                "blockchain.scripthash.unsubscribe",
                Ok(json!(false))
            ),
            "{v}"
        );
        assert_eq!(
            c.call("mempool.get_info", json!([])),
            expect(
                at_least("1.6"),
                "mempool.get_info",
                Ok(json!({
                    "mempoolminfee": info["mempoolminfee"],
                    "minrelaytxfee": info["minrelaytxfee"],
                    "incrementalrelayfee": info["incrementalrelayfee"],
                }))
            ),
            "{v}"
        );
        assert_eq!(
            c.call("blockchain.transaction.broadcast_package", json!([["zz"]])),
            expect(
                at_least("1.6"),
                "blockchain.transaction.broadcast_package",
                Err(bad("zz should be a hex string"))
            ),
            "{v}"
        );
        assert_eq!(
            c.call("blockchain.block.headers", json!([3, 4])),
            Ok(headers_answer(chain, 3, 4, at_least("1.6"))),
            "{v}"
        );
        // Only the first server.version counts.
        assert_eq!(
            c.call("server.version", json!(["c", "1.6"])),
            Err(bad("server.version already sent")),
            "{v}"
        );
        assert_eq!(c.call("server.ping", json!([])), Ok(Value::Null));
    }
}

/// `server.features`: REPORT_SERVICES as hosts and services, the genesis hash, the
/// protocol range.
#[test]
fn server_features_report_the_settings() {
    let f = SERVER.get();
    let (e, chain) = (&f.e, &f.chain);
    let server_version = server_version(e);
    let (report, mut c) = (REPORT, e.session(Kind::Tcp, "1.6"));
    let mut hosts = serde_json::Map::new();
    let services: Vec<&str> = report.split(',').collect();
    for s in &services {
        let (protocol, rest) = s.split_once("://").expect("service");
        let (host, port) = rest.rsplit_once(':').expect("port");
        let entry = hosts.entry(host.to_string()).or_insert_with(|| json!({}));
        entry[format!("{protocol}_port")] = json!(port.parse::<u16>().expect("port"));
    }
    let genesis = display(&chain.hashes[0]);
    assert_eq!(
        genesis,
        bitcoin::constants::genesis_block(bitcoin::Network::Regtest)
            .block_hash()
            .to_string()
    );
    assert_eq!(
        c.call("server.features", json!([])),
        Ok(json!({
            "hosts": hosts,
            "pruning": null,
            "server_version": server_version,
            "protocol_min": "1.4",
            "protocol_max": "1.7.0",
            "genesis_hash": genesis,
            "hash_function": "sha256",
            "services": services,
        }))
    );
}

/// `server.banner` is BANNER_FILE with ElectrumX's substitutions; `server.donation_address`
/// is DONATION_ADDRESS.
#[test]
fn banner_and_donation_address_come_from_the_settings() {
    let f = SERVER.get();
    let e = &f.e;
    let daemon = Daemon::of(e);
    let server_version = server_version(e);
    let (template, donation) = (TEMPLATE, DONATION);
    let mut c = e.session(Kind::Tcp, "1.6");
    let network = daemon.call("getnetworkinfo", &[]).expect("getnetworkinfo");
    let dv = network["version"].as_u64().expect("version");
    let text = template
        .replace("$SERVER_VERSION", env!("CARGO_PKG_VERSION"))
        .replace(
            "$SERVER_SUBVERSION",
            server_version.as_str().expect("string"),
        )
        .replace(
            "$DAEMON_VERSION",
            &format!("{}.{}.{}", dv / 10_000, dv % 10_000 / 100, dv % 100),
        )
        .replace(
            "$DAEMON_SUBVERSION",
            network["subversion"].as_str().expect("subversion"),
        )
        .replace("$DONATION_ADDRESS", donation);
    assert!(
        text.contains("29.0.0") && !text.contains("$SERVER"),
        "{text}"
    );
    assert_eq!(c.call("server.banner", json!([])), Ok(json!(text)));
    assert_eq!(
        c.call("server.donation_address", json!([])),
        Ok(json!(donation))
    );
}

/// `server.peers.subscribe` (no peers), `server.add_peer` (refused), `server.ping`.
#[test]
fn peers_add_peer_and_ping() {
    let f = SERVER.get();
    let mut c = f.e.session(Kind::Tcp, "1.6");
    assert_eq!(c.call("server.peers.subscribe", json!([])), Ok(json!([])));
    assert_eq!(
        c.call("server.add_peer", json!([{"hosts": {}}])),
        Ok(json!(false))
    );
    assert_eq!(c.call("server.ping", json!([])), Ok(Value::Null));
}

/// `blockchain.estimatefee` without fee data (-1), as the stand-in says.
#[test]
fn estimatefee_without_data_is_minus_one() {
    let f = SERVER.get();
    let e = &f.e;
    let daemon = Daemon::of(e);
    let mut c = e.session(Kind::Tcp, "1.6");
    e.sim.with_node(|n| {
        n.fee_overrides
            .insert((3, "unset".into()), Some((12_345, 3)));
        n.fee_overrides.insert((9, "unset".into()), None);
    });
    let mut seen = BTreeSet::new();
    for number in [1u64, 2, 3, 5, 9, 11] {
        let answer = daemon
            .call("estimatesmartfee", &[json!(bucket(number))])
            .expect("estimatesmartfee");
        let want = answer.get("feerate").cloned().unwrap_or(json!(-1));
        seen.insert(want.to_string());
        assert_eq!(
            c.call("blockchain.estimatefee", json!([number])),
            Ok(want),
            "{number}"
        );
    }
    assert!(seen.contains("-1") && seen.len() > 1, "{seen:?}");
}

/// Script hashes as `bytes.fromhex` reads them (either case, spaces between byte pairs);
/// everything else refused by every script-hash method with ElectrumX's message.
#[test]
fn script_hash_arguments_are_read_as_bytes_fromhex() {
    let f = SERVER.get();
    let chain = &f.chain;
    let mut c = f.e.session(Kind::Tcp, "1.6");
    let sh = ScriptHash::of(&chain.txs[120][1].output[0].script_pubkey).to_string();
    let balance = ok(
        c.call("blockchain.scripthash.get_balance", json!([sh])),
        "balance",
    );
    let spaced: String = sh
        .as_bytes()
        .chunks(2)
        .map(|p| std::str::from_utf8(p).expect("hex"))
        .collect::<Vec<_>>()
        .join(" ");
    // bytes.fromhex accepts either case and whitespace between byte pairs.
    for alias in [sh.to_uppercase(), spaced] {
        assert_eq!(
            c.call("blockchain.scripthash.get_balance", json!([alias])),
            Ok(balance.clone())
        );
    }
    let bad_shs = [
        json!("zz"),
        json!(&sh[2..]),
        json!(format!("{sh}00")),
        json!(format!("{}x", &sh[1..])),
        json!(5),
        json!(null),
        json!(true),
        json!(["a"]),
    ];
    for method in [
        "blockchain.scripthash.get_balance",
        "blockchain.scripthash.get_history",
        "blockchain.scripthash.get_mempool",
        "blockchain.scripthash.listunspent",
        "blockchain.scripthash.subscribe",
        "blockchain.scripthash.unsubscribe",
    ] {
        for v in &bad_shs {
            assert_eq!(
                c.call(method, json!([v])),
                Err(bad(format!("{} is not a valid script hash", py_str(v)))),
                "{method} {v}"
            );
        }
    }
}

/// Heights and counts as Python's `int()` reads them (strings, truncated floats, bools),
/// refusals with ElectrumX's message, heights beyond any chain exact however large.
#[test]
fn integer_arguments_are_read_as_python_s_int() {
    let f = SERVER.get();
    let (chain, tip) = (&f.chain, f.chain.tip);
    let mut c = f.e.session(Kind::Tcp, "1.6");
    // Python's int(): strings, floats (truncated) and bools are heights too.
    let header = |h: usize| Ok(json!(chain.headers[h]));
    for (v, h) in [
        (json!("5"), 5),
        (json!(" 7 "), 7),
        (json!("+8"), 8),
        (json!("1_0"), 10),
        (json!(5.7), 5),
        (json!(0.3), 0),
        (json!(true), 1),
        (json!(false), 0),
    ] {
        assert_eq!(
            c.call("blockchain.block.header", json!([v])),
            header(h),
            "{v}"
        );
    }
    for cp in [json!(false), json!(0), json!("0"), json!(0.9)] {
        assert_eq!(
            c.call("blockchain.block.header", json!([5, cp])),
            header(5),
            "{cp}"
        );
    }
    for (h, cp, cp_n) in [
        (json!("5"), json!("10"), 10u32),
        (json!(0), json!(true), 1),
        (json!(3), json!(9.99), 9),
    ] {
        let got = ok(c.call("blockchain.block.header", json!([h, cp])), "proof");
        let hn = h
            .as_u64()
            .or_else(|| h.as_str().and_then(|s| s.parse().ok()))
            .expect("h");
        chain.check_proof(&got, hn as u32, cp_n);
    }
    for v in [
        json!(-1),
        json!(-1.5),
        json!("-1"),
        json!("abc"),
        json!(""),
        json!("1e3"),
        json!("0x10"),
        json!("5.0"),
        json!(null),
        json!([1]),
        json!({}),
    ] {
        let shown = match v.as_f64() {
            Some(x) if v.is_f64() => (x.trunc() as i64).to_string(),
            _ => py_str(&v),
        };
        let want = Err(bad(format!("{shown} should be a non-negative integer")));
        assert_eq!(
            c.call("blockchain.block.header", json!([v])),
            want,
            "header {v}"
        );
        assert_eq!(
            c.call("blockchain.block.header", json!([1, v])),
            want,
            "cp {v}"
        );
        assert_eq!(
            c.call("blockchain.block.headers", json!([v, 1])),
            want,
            "start {v}"
        );
        assert_eq!(
            c.call("blockchain.block.headers", json!([0, v])),
            want,
            "count {v}"
        );
        assert_eq!(
            c.call("blockchain.estimatefee", json!([v])),
            want,
            "estimatefee {v}"
        );
        assert_eq!(
            c.call("blockchain.transaction.id_from_pos", json!([v, 0])),
            want,
            "id_from_pos {v}"
        );
    }
    // Heights beyond any chain, exact however large (Python ints).
    let huge = "1000000000000000000000000000000";
    assert_eq!(
        c.call("blockchain.block.header", json!([huge])),
        Err(bad(format!("height {} out of range", grouped(huge))))
    );
    assert_eq!(
        c.call("blockchain.block.header", json!([1e30])),
        Err(bad(format!(
            "height {} out of range",
            grouped("1000000000000000019884624838656")
        )))
    );
    assert_eq!(
        c.call("blockchain.block.header", json!([1, huge])),
        Err(bad(format!(
            "require header height 1 <= cp_height {} <= chain height {}",
            grouped(huge),
            grouped(tip)
        )))
    );
    assert_eq!(
        c.call("blockchain.block.headers", json!([huge, 5])),
        Ok(headers_answer(chain, u64::MAX, 5, true))
    );
    assert_eq!(
        c.call("blockchain.block.headers", json!([tip - 1, huge])),
        Ok(headers_answer(chain, u64::from(tip - 1), 2016, true))
    );
}

/// Missing, extra and named arguments (aiorpcx's messages), unknown methods; named
/// arguments bound by name.
#[test]
fn argument_counts_and_names_are_bound_as_aiorpcx_binds_them() {
    let f = SERVER.get();
    let (chain, tip) = (&f.chain, f.chain.tip);
    let mut c = f.e.session(Kind::Tcp, "1.6");
    let sh = ScriptHash::of(&chain.txs[120][1].output[0].script_pubkey).to_string();
    let balance = ok(
        c.call("blockchain.scripthash.get_balance", json!([sh])),
        "balance",
    );
    // Missing, extra and named arguments (aiorpcx's messages), unknown methods.
    let (header, headers) = ("blockchain.block.header", "blockchain.block.headers");
    let (balance_m, merkle_m) = (
        "blockchain.scripthash.get_balance",
        "blockchain.transaction.get_merkle",
    );
    let cases = [
        (header, json!([]), too_few(header, 0, 1)),
        (headers, json!([1]), too_few(headers, 1, 2)),
        (header, json!([1, 2, 3]), too_many(header, 3, 2)),
        (merkle_m, json!(["x"]), too_few(merkle_m, 1, 2)),
        (balance_m, json!([sh, 1]), too_many(balance_m, 2, 1)),
        ("server.ping", json!([1]), too_many("server.ping", 1, 0)),
        (
            "server.add_peer",
            json!([]),
            too_few("server.add_peer", 0, 1),
        ),
        (
            header,
            json!({"cp_height": 5}),
            missing(header, &["height"]),
        ),
        (
            headers,
            json!({}),
            missing(headers, &["start_height", "count"]),
        ),
        (
            header,
            json!({"height": 1, "foo": 2, "bar": 3}),
            excess(header, &["foo", "bar"]),
        ),
        (
            balance_m,
            json!({"scripthash": sh, "x": 1}),
            excess(balance_m, &["x"]),
        ),
        (
            "server.ping",
            json!("x"),
            invalid_args("invalid request arguments: x"),
        ),
        (
            "server.ping",
            json!(5),
            invalid_args("invalid request arguments: 5"),
        ),
        (
            "blockchain.nonsense",
            json!([]),
            unknown_method("blockchain.nonsense"),
        ),
        ("", json!([]), unknown_method("")),
    ];
    for (method, params, want) in cases {
        assert_eq!(
            c.call(method, params.clone()),
            Err(want),
            "{method} {params}"
        );
    }
    let named = ok(
        c.call(
            "blockchain.block.header",
            json!({"height": 4, "cp_height": tip}),
        ),
        "named",
    );
    chain.check_proof(&named, 4, tip);
    assert_eq!(
        c.call(
            "blockchain.scripthash.get_balance",
            json!({"scripthash": sh})
        ),
        Ok(balance.clone())
    );
    assert_eq!(
        c.call(
            "blockchain.transaction.id_from_pos",
            json!({"tx_pos": 0, "height": 3})
        ),
        Ok(json!(chain.txs[3][0].compute_txid().to_string()))
    );
}

/// Batches (answers for the requests only, errors in place), invalid JSON and an empty
/// batch (aiorpcx's errors without an id); the session goes on.
#[test]
fn batches_and_invalid_json_are_answered_as_aiorpcx_answers() {
    let f = SERVER.get();
    let chain = &f.chain;
    let mut c = f.e.session(Kind::Tcp, "1.6");
    c.send_raw(
        &json!([
            {"jsonrpc": "2.0", "id": "a", "method": "server.ping"},
            {"jsonrpc": "2.0", "id": 7, "method": "blockchain.block.header", "params": [3]},
            {"jsonrpc": "2.0", "method": "server.ping"},
            {"jsonrpc": "2.0", "id": 8, "method": "blockchain.nonsense", "params": []},
            {"jsonrpc": "2.0", "id": 9, "method": "blockchain.block.header", "params": [-1]}
        ])
        .to_string(),
    );
    let line = c.recv_raw().expect("batch answer");
    let answers: Vec<Value> = serde_json::from_str(&line).expect("a JSON array");
    assert_eq!(answers.len(), 4, "{line}");
    let by_id: HashMap<String, &Value> = answers.iter().map(|a| (a["id"].to_string(), a)).collect();
    assert_eq!(
        by_id["\"a\""],
        &json!({"jsonrpc": "2.0", "result": null, "id": "a"})
    );
    assert_eq!(
        by_id["7"],
        &json!({"jsonrpc": "2.0", "result": chain.headers[3], "id": 7})
    );
    assert_eq!(
        by_id["8"]["error"],
        json!({"code": -32601, "message": "unknown method \"blockchain.nonsense\""})
    );
    assert_eq!(
        by_id["9"]["error"],
        json!({"code": 1, "message": "-1 should be a non-negative integer"})
    );
    c.send_raw("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ");
    assert_eq!(c.recv(), Some(v2_error(-32700, "invalid JSON")));
    c.send_raw("[]");
    assert_eq!(c.recv(), Some(v2_error(-32600, "batch is empty")));
    assert_eq!(c.call("server.ping", json!([])), Ok(Value::Null));
}

/// JSON-RPC 1.0: answered in 1.0's shape.
#[test]
fn jsonrpc_1_0_is_answered_in_1_0_s_shape() {
    let f = SERVER.get();
    let (e, chain) = (&f.e, &f.chain);
    let server_version = server_version(e);
    let mut v1 = e.connect(Kind::Tcp);
    v1.send_raw(
        r#"{"jsonrpc": "1.0", "id": 1, "method": "server.version", "params": ["c", "1.4"]}"#,
    );
    assert_eq!(
        v1.recv(),
        Some(json!({"result": [server_version, "1.4"], "error": null, "id": 1}))
    );
    v1.send_raw(r#"{"id": 2, "method": "blockchain.block.header", "params": [2]}"#);
    assert_eq!(
        v1.recv(),
        Some(json!({"result": chain.headers[2], "error": null, "id": 2}))
    );
    v1.send_raw(r#"{"id": 3, "method": "blockchain.block.header", "params": [-1]}"#);
    assert_eq!(
        v1.recv(),
        Some(v1_error(1, "-1 should be a non-negative integer", json!(3)))
    );
    v1.send_raw("nonsense");
    assert_eq!(
        v1.recv(),
        Some(v1_error(-32700, "invalid JSON", Value::Null))
    );
}
