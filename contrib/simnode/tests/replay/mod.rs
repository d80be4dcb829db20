//! What the replays of recorded Bitcoin Core exchanges share (`recorded_rpc.rs` for Core 29.0,
//! `recorded_core31.rs` for Core 31.0): reading a recording, one raw HTTP/1.1 exchange, and
//! the comparison — status, `Content-Type`, the body as JSON and then byte for byte, with only
//! the listed live values masked.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

/// Per-socket-operation limit.
pub const IO_LIMIT: Duration = Duration::from_secs(20);

/// Inherently live values: (recording, JSON pointer into the body, why it cannot match).
/// Each must be present in both answers with the same JSON type; its value is not compared.
pub type Live = [(&'static str, &'static str, &'static str)];

/// How a recording is replayed.
#[derive(Clone, Copy, Debug)]
pub enum How {
    /// Send `NAME.req` with valid credentials.
    Plain,
    /// Send `NAME.req` with a wrong password.
    WrongPassword,
    /// Send the shared request `REQ.req` while the node is in warm-up with the `-28` message
    /// of the recorded answer (`sim.control().set_warmup(Some(msg))`).
    Warmup(&'static str),
    /// Send the shared request `REQ.req` after the warm-up ended (`set_warmup(None)`). These
    /// recordings have no `.http`: Core answered them with 200.
    Ready(&'static str),
}

pub use How::*;

pub fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The recorded exchange: request body, status, `Content-Type` and body.
pub struct Recording {
    pub request: String,
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

pub fn recording(rpc: &Path, name: &str, how: How) -> Recording {
    let request = match how {
        Plain | WrongPassword => read_text(&rpc.join(format!("{name}.req"))),
        Warmup(req) | Ready(req) => read_text(&rpc.join(format!("{req}.req"))),
    };
    let body = read_text(&rpc.join(format!("{name}.json")));
    let http = rpc.join(format!("{name}.http"));
    let (status, content_type) = if http.is_file() {
        let text = read_text(&http);
        let head =
            parse_head(&text).unwrap_or_else(|| panic!("{}: bad status line", http.display()));
        (head.0, head.1)
    } else {
        assert!(matches!(how, Ready(_)), "{name}: no .http recorded");
        (200, Some("application/json".to_string()))
    };
    Recording {
        request,
        status,
        content_type,
        body,
    }
}

/// Status code and `Content-Type` of an HTTP response head.
pub fn parse_head(head: &str) -> Option<(u16, Option<String>)> {
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let content_type = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.trim().to_string());
    Some((status, content_type))
}

/// One raw HTTP/1.1 exchange: status, `Content-Type`, body.
pub fn exchange(
    addr: SocketAddr,
    user: &str,
    password: &str,
    body: &str,
) -> Result<(u16, Option<String>, String), String> {
    let mut s = TcpStream::connect_timeout(&addr, IO_LIMIT).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(IO_LIMIT))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(IO_LIMIT))
        .map_err(|e| e.to_string())?;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8(raw).map_err(|_| "response is not UTF-8".to_string())?;
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no end of headers in {text:?}"))?;
    let (status, content_type) =
        parse_head(head).ok_or_else(|| format!("bad status line in {head:?}"))?;
    let length = head
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.trim().parse::<usize>())
        .transpose()
        .map_err(|e| format!("bad Content-Length: {e}"))?
        .unwrap_or(0);
    if rest.len() != length {
        return Err(format!(
            "Content-Length {length} but {} body bytes",
            rest.len()
        ));
    }
    Ok((status, content_type, rest.to_string()))
}

/// Byte spans of the scalar values at `pointers` (JSON pointers) in the JSON text `text`.
pub fn value_spans(text: &str, pointers: &[&str]) -> Result<Vec<(String, usize, usize)>, String> {
    struct Walk<'a> {
        b: &'a [u8],
        i: usize,
        pointers: &'a [&'a str],
        found: Vec<(String, usize, usize)>,
    }
    impl Walk<'_> {
        fn ws(&mut self) {
            while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
        }
        fn string(&mut self) -> Result<String, String> {
            let start = self.i;
            if self.b.get(self.i) != Some(&b'"') {
                return Err(format!("expected a string at {start}"));
            }
            self.i += 1;
            while self.i < self.b.len() {
                match self.b[self.i] {
                    b'\\' => self.i += 2,
                    b'"' => {
                        self.i += 1;
                        return serde_json::from_slice(&self.b[start..self.i])
                            .map_err(|e| e.to_string());
                    }
                    _ => self.i += 1,
                }
            }
            Err("unterminated string".into())
        }
        fn value(&mut self, path: &str) -> Result<(), String> {
            self.ws();
            let start = self.i;
            match self.b.get(self.i) {
                Some(b'{') => {
                    self.i += 1;
                    self.ws();
                    if self.b.get(self.i) == Some(&b'}') {
                        self.i += 1;
                        return Ok(());
                    }
                    loop {
                        self.ws();
                        let key = self.string()?;
                        self.ws();
                        if self.b.get(self.i) != Some(&b':') {
                            return Err(format!("expected ':' at {}", self.i));
                        }
                        self.i += 1;
                        let escaped = key.replace('~', "~0").replace('/', "~1");
                        self.value(&format!("{path}/{escaped}"))?;
                        self.ws();
                        match self.b.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                return Ok(());
                            }
                            _ => return Err(format!("expected ',' or '}}' at {}", self.i)),
                        }
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    self.ws();
                    if self.b.get(self.i) == Some(&b']') {
                        self.i += 1;
                        return Ok(());
                    }
                    let mut n = 0;
                    loop {
                        self.value(&format!("{path}/{n}"))?;
                        n += 1;
                        self.ws();
                        match self.b.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                return Ok(());
                            }
                            _ => return Err(format!("expected ',' or ']' at {}", self.i)),
                        }
                    }
                }
                Some(b'"') => {
                    self.string()?;
                }
                Some(_) => {
                    while self.i < self.b.len()
                        && !matches!(self.b[self.i], b',' | b'}' | b']')
                        && !self.b[self.i].is_ascii_whitespace()
                    {
                        self.i += 1;
                    }
                    if self.i == start {
                        return Err(format!("expected a value at {start}"));
                    }
                }
                None => return Err("unexpected end".into()),
            }
            if self.pointers.contains(&path) {
                self.found.push((path.to_string(), start, self.i));
            }
            Ok(())
        }
    }
    let mut w = Walk {
        b: text.as_bytes(),
        i: 0,
        pointers,
        found: Vec::new(),
    };
    w.value("")?;
    Ok(w.found)
}

/// `text` with the values at `pointers` replaced by `"<live>"`; every pointer must be found
/// exactly once.
pub fn mask(text: &str, pointers: &[&str]) -> Result<String, String> {
    let spans = value_spans(text, pointers)?;
    for p in pointers {
        let n = spans.iter().filter(|(q, _, _)| q == p).count();
        if n != 1 {
            return Err(format!("live value {p} found {n} times"));
        }
    }
    let mut out = text.to_string();
    let mut spans = spans;
    spans.sort_by_key(|s| std::cmp::Reverse(s.1));
    for (_, start, end) in spans {
        out.replace_range(start..end, "\"<live>\"");
    }
    Ok(out)
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "real",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Paths where two JSON values differ (at most a few).
pub fn differences(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    if out.len() >= 8 {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => differences(&format!("{path}/{k}"), p, q, out),
                    (p, q) => out.push(format!(
                        "{path}/{k}: got {}, Core {}",
                        p.map_or("nothing".into(), |v| trim(&v.to_string())),
                        q.map_or("nothing".into(), |v| trim(&v.to_string()))
                    )),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differences(&format!("{path}/{i}"), p, q, out);
            }
        }
        _ if a != b => out.push(format!(
            "{path}: got {}, Core {}",
            trim(&a.to_string()),
            trim(&b.to_string())
        )),
        _ => {}
    }
}

pub fn trim(s: &str) -> String {
    if s.len() <= 300 {
        return s.to_string();
    }
    let mut end = 300;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Compares one answer with its recording; `Err` describes every mismatch.
pub fn compare(
    live_values: &Live,
    name: &str,
    want: &Recording,
    status: u16,
    ctype: Option<String>,
    body: &str,
) -> Result<(), String> {
    let mut problems = Vec::new();
    if status != want.status {
        problems.push(format!("HTTP status {status}, Core {}", want.status));
    }
    if ctype != want.content_type {
        problems.push(format!(
            "Content-Type {ctype:?}, Core {:?}",
            want.content_type
        ));
    }
    let live: Vec<&str> = live_values
        .iter()
        .filter(|(n, _, _)| *n == name)
        .map(|(_, p, _)| *p)
        .collect();
    if want.body.is_empty() {
        if !body.is_empty() {
            problems.push(format!("body {:?}, Core sent none", trim(body)));
        }
        return if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        };
    }
    let parsed = (
        serde_json::from_str::<Value>(body),
        serde_json::from_str::<Value>(&want.body),
    );
    match parsed {
        (Ok(mut got), Ok(mut core)) => {
            for p in &live {
                match (got.pointer_mut(p), core.pointer_mut(p)) {
                    (Some(g), Some(c)) => {
                        if kind(g) != kind(c) {
                            problems.push(format!(
                                "live {p}: got a {}, Core a {}",
                                kind(g),
                                kind(c)
                            ));
                        }
                        *g = Value::Null;
                        *c = Value::Null;
                    }
                    (g, c) => problems.push(format!(
                        "live {p}: present in answer {}, in recording {}",
                        g.is_some(),
                        c.is_some()
                    )),
                }
            }
            let mut diffs = Vec::new();
            differences("", &got, &core, &mut diffs);
            if !diffs.is_empty() {
                problems.push(format!("JSON differs: {}", diffs.join(" | ")));
            } else {
                // JSON-equal: now the text, live values masked (byte-exact when none).
                match (mask(body, &live), mask(&want.body, &live)) {
                    (Ok(a), Ok(b)) if a == b => {}
                    (Ok(a), Ok(b)) => {
                        let at = a
                            .bytes()
                            .zip(b.bytes())
                            .position(|(x, y)| x != y)
                            .unwrap_or(a.len().min(b.len()));
                        let from = at.saturating_sub(60);
                        problems.push(format!(
                            "JSON-equal but text differs at byte {at}: got {:?}, Core {:?}",
                            a.get(from..(at + 60).min(a.len())).unwrap_or(""),
                            b.get(from..(at + 60).min(b.len())).unwrap_or("")
                        ));
                    }
                    (a, b) => problems.push(format!("masking: {:?} / {:?}", a.err(), b.err())),
                }
            }
        }
        (Err(e), _) => problems.push(format!("answer is not JSON ({e}): {:?}", trim(body))),
        (_, Err(e)) => problems.push(format!("recording is not JSON: {e}")),
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Runs `f` on its own thread and fails if it takes longer than `limit`.
pub fn bounded(limit: Duration, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(limit) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("replay took longer than {limit:?}"),
    }
}

/// The live values of every recording set (Core 29.0 and 31.0 have the same).
pub const LIVE: &Live = &[
    (
        "uptime",
        "/result",
        "seconds since the answering process started",
    ),
    (
        "getblockchaininfo",
        "/result/size_on_disk",
        "bytes of Core's blk*.dat/rev*.dat files, preallocation and undo data included",
    ),
    (
        "getmempoolinfo",
        "/result/usage",
        "Core's DynamicMemoryUsage: depends on its allocator and container internals",
    ),
    (
        "electrumx_getmempoolinfo",
        "/result/usage",
        "Core's DynamicMemoryUsage: depends on its allocator and container internals",
    ),
    (
        "getrawmempool_false_mempool_sequence",
        "/result/mempool_sequence",
        "counts every mempool addition and removal since Core started (the whole scenario)",
    ),
];

/// The scenario's three last transactions (`mp_opreturn`, `mp_pkg_parent`, `mp_pkg_child`
/// of the Core 29.0 recording's `scenario.json`): some answers were recorded before they were
/// sent.
pub const LAST_TXS: &[&str] = &[
    "b8e7ff09a5510c3efe7bb0043f74950723ca90ecea58db1093b3e11c17e4f63b",
    "419fac80d09878d30a80b2cc2ce49a414cfb363d2bc9d7184cfdf8014e2df258",
    "607eb405b09e396c8261d2adf2315ea5f323b28de7b4811130fe16d19d1c1891",
];

/// The recorded node as it was before [`LAST_TXS`] were sent: its mempool without them (9
/// transactions).
pub fn without_last_txs(node: &mut ferrumx_simnode::Node) {
    let last: Vec<bitcoin::Txid> = LAST_TXS.iter().map(|t| t.parse().expect("txid")).collect();
    for txid in &last {
        assert!(
            node.mempool.contains(txid),
            "{txid} is not in the recorded mempool"
        );
    }
    for txid in &last {
        node.mempool.remove_with_descendants(txid);
    }
    assert_eq!(
        node.mempool.len(),
        9,
        "mempool before the last transactions"
    );
}

/// The recordings (`NAME.json`) in an `rpc/` directory, by name.
pub fn names_in(rpc: &Path) -> BTreeSet<String> {
    std::fs::read_dir(rpc)
        .unwrap_or_else(|e| panic!("{}: {e}", rpc.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
        .collect()
}

/// Replays recording `name` of `rpc` against `sim` as `how` says (putting the node in and out
/// of warm-up around it), with `user`/`password` (a wrong one for [`WrongPassword`]). How it
/// was compared, and the difference if any.
pub fn replay_one(
    sim: &ferrumx_simnode::SimNode,
    rpc: &Path,
    name: &str,
    how: How,
    (user, password): (&str, &str),
) -> (&'static str, Result<(), String>) {
    let want = recording(rpc, name, how);
    match how {
        Warmup(_) => {
            let core: Value = serde_json::from_str(&want.body).expect("warm-up answer");
            let msg = core["error"]["message"].as_str().expect("warm-up message");
            sim.control().set_warmup(Some(msg));
        }
        Ready(_) => sim.control().set_warmup(None),
        Plain | WrongPassword => {}
    }
    let password = match how {
        WrongPassword => "not-the-password",
        _ => password,
    };
    let outcome = exchange(sim.addr(), user, password, &want.request)
        .and_then(|(status, ctype, body)| compare(LIVE, name, &want, status, ctype, &body));
    if let Warmup(_) = how {
        sim.control().set_warmup(None);
    }
    let mode = if LIVE.iter().any(|(n, _, _)| *n == name) {
        "JSON-equal + text with live values masked"
    } else if want.body.is_empty() {
        "empty body"
    } else {
        "byte-exact"
    };
    (mode, outcome)
}
