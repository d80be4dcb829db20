//! The REST interface (`bitcoind -rest`) against what Bitcoin Core's `src/rest.cpp` and
//! `src/httpserver.cpp` answer, over raw TCP, as Core 29 and as Core 31: off by default (404,
//! empty body, as for any unregistered path), no credentials, Core's status codes, content
//! types and bodies, and the faults a client must survive.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bitcoin::hashes::Hash as _;
use bitcoin::hex::DisplayHex as _;
use ferrumx_simnode::http::RestFault;
use ferrumx_simnode::{CoreVersion, GenParams, Node, SimNode, SimNodeOptions};

struct Reply {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("text body")
    }
}

/// `GET path` without credentials, on a connection of its own; reads to the close.
fn get(addr: SocketAddr, path: &str) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole head")
        + 4;
    let head = String::from_utf8(raw[..end].to_vec()).expect("head");
    let status = head[9..12].parse().expect("status");
    let header = |name: &str| {
        head.split("\r\n")
            .filter_map(|l| l.split_once(": "))
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_string())
    };
    let body = raw[end..].to_vec();
    if let Some(n) = header("Content-Length") {
        assert_eq!(n.parse::<usize>().expect("length"), body.len(), "{path}");
    }
    Reply {
        status,
        content_type: header("Content-Type"),
        body,
    }
}

fn serve(core: CoreVersion, rest: bool) -> SimNode {
    let node = Node::generate(GenParams::fixture(3));
    let options = SimNodeOptions {
        core_version: core,
        rest,
        ..SimNodeOptions::default()
    };
    SimNode::spawn(node, options).expect("simnode starts")
}

fn assert_rest_error(r: &Reply, status: u16, message: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.content_type.as_deref(), Some("text/plain"));
    assert_eq!(r.text(), format!("{message}\r\n"));
}

#[test]
fn rest_is_off_by_default_as_in_core() {
    for core in [CoreVersion::V29, CoreVersion::V31] {
        let sim = serve(core, false);
        let hash = sim.with_node(|n| n.tip_hash());
        for path in [
            format!("/rest/block/{hash}.bin"),
            "/rest/blockhashbyheight/1.hex".to_string(),
            "/rest/chaininfo.json".to_string(),
        ] {
            let r = get(sim.addr(), &path);
            assert_eq!((r.status, r.body.len()), (404, 0), "{path}");
        }
        assert_eq!(sim.control().rest_blocks(), 0);
    }
}

#[test]
fn rest_answers_as_core() {
    for core in [CoreVersion::V29, CoreVersion::V31] {
        let sim = serve(core, true);
        let addr = sim.addr();
        let (tip, hash, raw, hash5) = sim.with_node(|n| {
            let hash = n.tip_hash();
            let raw = n.block(&hash).expect("tip").raw.clone();
            (n.tip_height(), hash, raw, n.hash_at(5).expect("5"))
        });

        let r = get(addr, &format!("/rest/block/{hash}.bin"));
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type.as_deref(), Some("application/octet-stream"));
        assert_eq!(r.body, raw);
        assert_eq!(sim.control().rest_blocks(), 1);
        assert_eq!(sim.control().rpc_blocks(), 0);

        let r = get(addr, &format!("/rest/block/{hash}.hex?x=1"));
        assert_eq!(
            (r.status, r.content_type.as_deref()),
            (200, Some("text/plain"))
        );
        assert_eq!(r.text(), format!("{}\n", raw.to_lower_hex_string()));

        let r = get(addr, &format!("/rest/block/notxdetails/{hash}.json"));
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        assert!(r.text().ends_with('\n'));
        let json: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
        assert_eq!(json["hash"], hash.to_string());
        assert_eq!(json["height"], tip);

        let r = get(addr, &format!("/rest/block/{hash}"));
        assert_rest_error(
            &r,
            404,
            "output format not found (available: .bin, .hex, .json)",
        );
        let r = get(addr, &format!("/rest/block/{hash}.xml"));
        assert_rest_error(&r, 400, &format!("Invalid hash: {hash}.xml"));
        let r = get(addr, "/rest/block/abcd.bin");
        assert_rest_error(&r, 400, "Invalid hash: abcd");
        let unknown = bitcoin::BlockHash::from_byte_array([7; 32]);
        let r = get(addr, &format!("/rest/block/{unknown}.bin"));
        assert_rest_error(&r, 404, &format!("{unknown} not found"));

        let r = get(addr, "/rest/blockhashbyheight/5.hex");
        assert_eq!((r.status, r.text()), (200, format!("{hash5}\n").as_str()));
        let r = get(addr, "/rest/blockhashbyheight/5.bin");
        assert_eq!(r.body, hash5.to_byte_array());
        let r = get(addr, "/rest/blockhashbyheight/5.json");
        assert_eq!(r.text(), format!("{{\"blockhash\":\"{hash5}\"}}\n"));
        let r = get(addr, &format!("/rest/blockhashbyheight/{}.bin", tip + 1));
        assert_rest_error(&r, 404, "Block height out of range");
        let r = get(addr, "/rest/blockhashbyheight/-1.bin");
        assert_rest_error(&r, 400, "Invalid height: -1");
        let r = get(addr, "/rest/blockhashbyheight/x<y>.bin");
        assert_rest_error(&r, 400, "Invalid height: xy");

        let r = get(addr, "/rest/chaininfo.json");
        assert_eq!(r.status, 200);
        let json: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
        assert_eq!(json["blocks"], tip);
        let r = get(addr, "/rest/chaininfo.bin");
        assert_rest_error(&r, 404, "output format not found (available: json)");

        // Endpoints not served here answer as unregistered.
        assert_eq!(get(addr, "/rest/mempool/info.json").status, 404);

        sim.control().set_warmup(Some("Loading block index…"));
        let r = get(addr, &format!("/rest/block/{hash}.bin"));
        assert_rest_error(
            &r,
            503,
            "Service temporarily unavailable: Loading block index…",
        );
        sim.control().set_warmup(None);
    }
}

#[test]
fn rest_faults_break_replies_as_asked() {
    let sim = serve(CoreVersion::V29, true);
    let addr = sim.addr();
    let (hash, raw) = sim.with_node(|n| {
        let hash = n.hash_at(3).expect("3");
        (hash, n.block(&hash).expect("b").raw.clone())
    });
    let path = format!("/rest/block/{hash}.bin");
    sim.control().set_rest_fault(Some(RestFault::WrongBlock));
    let r = get(addr, &path);
    assert_eq!(r.status, 200);
    assert_ne!(r.body, raw);
    assert!(!r.body.is_empty());
    sim.control().set_rest_fault(Some(RestFault::Oversized));
    let r = get(addr, &path);
    assert_eq!(r.body.len(), 4_000_001);
    assert_eq!(r.body[..raw.len()], raw[..]);
    sim.control().set_rest_fault(Some(RestFault::Status(500)));
    assert_rest_error(&get(addr, &path), 500, "simnode: REST fault");
    sim.control().set_rest_fault(None);
    assert_eq!(get(addr, &path).body, raw);
    // Truncated: half the announced body, then the close.
    sim.control().set_rest_fault(Some(RestFault::Truncated));
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.contains(&format!("Content-Length: {}", raw.len())),
        "{text}"
    );
    let end = got.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    assert_eq!(got.len() - end, raw.len() / 2);
}
