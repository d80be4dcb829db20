//! Raw lines: framing, JSON-RPC shapes, batches.

use std::time::Duration;

use serde_json::json;

use crate::compare::{session, Pair, Report};

/// Raw lines (after `server.version`), all pipelined; the messages each server sends back
/// until a final fence are compared as multisets (ElectrumX answers concurrently, so their
/// order is not defined).
pub fn raw_messages(pair: &Pair, report: &mut Report) {
    let lines: Vec<String> = [
        "not json",
        "{",
        "[]",
        "[1, 2]",
        "5",
        "\"x\"",
        "null",
        "{}",
        r#"{"id": 1}"#,
        r#"{"jsonrpc": "2.0", "id": 2}"#,
        r#"{"jsonrpc": "2.0", "id": 3, "method": 5}"#,
        r#"{"jsonrpc": "2.0", "id": 4, "method": "server.ping", "params": 5}"#,
        r#"{"jsonrpc": "2.0", "id": "str-id", "method": "server.ping"}"#,
        r#"{"jsonrpc": "2.0", "id": 5.5, "method": "server.ping", "params": []}"#,
        r#"{"jsonrpc": "2.0", "id": [1], "method": "server.ping", "params": []}"#,
        r#"{"jsonrpc": "2.0", "id": {"a": 1}, "method": "server.ping", "params": []}"#,
        r#"{"jsonrpc": "2.0", "id": null, "method": "server.ping", "params": []}"#,
        r#"{"jsonrpc": "2.0", "method": "server.ping", "params": []}"#,
        r#"{"jsonrpc": "1.0", "id": 6, "method": "server.ping", "params": []}"#,
        r#"{"id": 7, "method": "server.ping", "params": []}"#,
        r#"{"jsonrpc": "2.0", "id": 8, "method": "server.ping", "params": [], "extra": 1}"#,
        r#"{"jsonrpc": "2.0", "id": 9, "result": 5}"#,
        r#"{"jsonrpc": "2.0", "id": 10, "error": {"code": 1, "message": "x"}}"#,
        r#"[{"jsonrpc": "2.0", "id": 11, "method": "server.ping", "params": []}, {"jsonrpc": "2.0", "id": 12, "method": "blockchain.block.header", "params": [1]}]"#,
        r#"[{"jsonrpc": "2.0", "id": 13, "method": "server.ping", "params": []}, {"jsonrpc": "2.0", "method": "server.ping", "params": []}]"#,
        r#"[{"jsonrpc": "2.0", "method": "server.ping", "params": []}]"#,
        r#"[{"jsonrpc": "2.0", "id": 14, "method": "nonsense", "params": []}, 5]"#,
        r#"[[{"jsonrpc": "2.0", "id": 15, "method": "server.ping"}]]"#,
        r#"{"jsonrpc": "2.0", "id": 16, "method": "server.version", "params": ["x", "1.4"]}"#,
        r#"{"jsonrpc": "2.0", "id": 17, "method": "server.ping", "params": []}   "#,
        "\u{feff}{\"jsonrpc\": \"2.0\", \"id\": 18, \"method\": \"server.ping\"}",
        r#"{"jsonrpc": "2.0", "id": 19, "method": "blockchain.block.header", "params": [1], "id": 20}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let fence = r#"{"jsonrpc": "2.0", "id": "fence", "method": "server.ping", "params": []}"#;
    let collect = |port: u16| -> Vec<String> {
        let mut c = session(port, "1.4");
        for l in &lines {
            c.send_raw(l);
        }
        c.send_raw(fence);
        let mut got = Vec::new();
        // Two fences: the second sent once the first came back, so that answers the server
        // finished after the first fence are counted too.
        let mut fences = 0;
        while fences < 2 {
            match c.recv() {
                None => {
                    got.push("<closed>".to_string());
                    break;
                }
                Some(m) if m["id"] == json!("fence") => {
                    fences += 1;
                    std::thread::sleep(Duration::from_millis(300));
                    c.send_raw(fence);
                }
                Some(m) => got.push(m.to_string()),
            }
        }
        got.sort();
        got
    };
    let (f, e) = std::thread::scope(|s| {
        let f = s.spawn(|| collect(pair.fx));
        let e = s.spawn(|| collect(pair.ex));
        (f.join().expect("fx"), e.join().expect("ex"))
    });
    report.count("raw messages", "1.4", pair.peer, lines.len());
    let only_f: Vec<_> = f.iter().filter(|m| !e.contains(m)).collect();
    let only_e: Vec<_> = e.iter().filter(|m| !f.contains(m)).collect();
    if !only_f.is_empty() || !only_e.is_empty() || f.len() != e.len() {
        report.diffs.push(format!(
            "raw messages: {} from FerrumX, {} from {}\n    only FerrumX:   {only_f:?}\n    \
             only ElectrumX: {only_e:?}",
            f.len(),
            e.len(),
            pair.peer.name()
        ));
    }
}
