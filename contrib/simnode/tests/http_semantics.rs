//! The JSON-RPC front end against Bitcoin Core 29.0's recorded answers, over raw TCP.
//!
//! The recordings (`NAME.req`, `NAME.http`, `NAME.json`) are read from `$SIMNODE_CORE_V29_RPC`,
//! else `tests/data/bitcoind-core-v29/rpc` in this crate, else the shared
//! `bitcoind-core-v29/rpc` beside the workspace. Only exchanges whose answer depends on HTTP and
//! JSON-RPC semantics alone are replayed; a small fake handler supplies the same values Core
//! gave, so bodies are compared byte for byte, and headers too except the `Date` value.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use ferrumx_simnode::http::{Auth, Control, Handler, RpcError, RpcServer, RunningServer};
use ferrumx_simnode::json::Json;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const USER: &str = "simnode";
const PASSWORD: &str = "correct horse";
const LIMIT: Duration = Duration::from_secs(20);

fn recordings() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var_os("SIMNODE_CORE_V29_RPC").map(PathBuf::from),
        Some(manifest.join("data/bitcoind-core-v29/rpc")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("getblockcount.req").is_file())
        .expect("Core 29 recordings not found; set SIMNODE_CORE_V29_RPC to their rpc/ directory")
}

/// getblockcount, getblockhash, getrawtransaction (always unknown) and `echo` (returns its
/// positional params) with Core's messages; the block hashes come from the recorded chain.
struct Fake {
    hashes: Vec<String>,
    height: AtomicI64,
}

impl Fake {
    fn new() -> Fake {
        let chain = recordings().join("../chain.jsonl");
        let text = std::fs::read_to_string(&chain).expect("chain.jsonl");
        let hashes = text
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("chain line");
                v["hash"].as_str().expect("hash").to_string()
            })
            .collect();
        Fake {
            hashes,
            height: AtomicI64::new(164),
        }
    }
}

impl Handler for Fake {
    fn call(&self, method: &str, params: &[Value]) -> Result<Json, RpcError> {
        let height = self.height.load(Ordering::SeqCst);
        match method {
            "getblockcount" => Ok(Json::Int(height)),
            "getblockhash" => {
                let h = params.first().and_then(Value::as_i64).ok_or_else(|| {
                    RpcError::new(-3, "JSON value of type string is not of expected type number")
                })?;
                if !(0..=height).contains(&h) {
                    return Err(RpcError::new(-8, "Block height out of range"));
                }
                Ok(Json::Str(self.hashes[h as usize].clone()))
            }
            "getrawtransaction" => Err(RpcError::new(
                -5,
                "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.",
            )),
            "echo" => Ok(Json::Arr(params.iter().map(Json::from_value).collect())),
            _ => Err(RpcError::new(-32601, "Method not found")),
        }
    }

    fn param_names(&self, method: &str) -> Option<&'static [&'static str]> {
        match method {
            "getblockcount" => Some(&[]),
            "getblockhash" => Some(&["height"]),
            "getrawtransaction" => Some(&["txid", "verbose|verbosity", "blockhash"]),
            "echo" => Some(&["a", "b|bee", "c"]),
            _ => None,
        }
    }
}

async fn start(control: &Control, auth: Vec<Auth>) -> (RunningServer, Arc<Fake>) {
    let fake = Arc::new(Fake::new());
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let server = RpcServer::start(addr, auth, fake.clone(), control.clone())
        .await
        .expect("server starts");
    (server, fake)
}

fn user_pass() -> Vec<Auth> {
    vec![Auth::UserPass {
        user: USER.into(),
        password: PASSWORD.into(),
    }]
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

fn post(path: &str, body: &[u8], authorization: Option<&str>, extra: &str) -> Vec<u8> {
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    if let Some(a) = authorization {
        head.push_str(&format!("Authorization: {a}\r\n"));
    }
    head.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    ));
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

#[derive(Debug)]
struct Response {
    status_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        let found = self
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name));
        found.map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// Splits `status line CRLF headers CRLF CRLF`.
fn parse_head(head: &str) -> (String, Vec<(String, String)>) {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default().to_string();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once(": ").expect("header line");
            (k.to_string(), v.to_string())
        })
        .collect();
    (status_line, headers)
}

struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        Client {
            stream: TcpStream::connect(addr).await.expect("connect"),
            buf: Vec::new(),
        }
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// `true` once the server has closed the connection (EOF or reset).
    async fn closed(&mut self) -> bool {
        !self.fill().await
    }

    async fn read_response(&mut self) -> Response {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            assert!(self.fill().await, "connection closed before a response");
        };
        let head = String::from_utf8(self.buf.drain(..end).collect()).expect("UTF-8 head");
        let (status_line, headers) = parse_head(&head);
        let mut response = Response {
            status_line,
            headers,
            body: Vec::new(),
        };
        let length = response
            .header("Content-Length")
            .map(|v| v.parse::<usize>().expect("length"));
        match length {
            Some(n) => {
                while self.buf.len() < n {
                    assert!(self.fill().await, "connection closed inside a body");
                }
                response.body = self.buf.drain(..n).collect();
            }
            // 1xx and 204 have no body.
            None if response.status_line.contains(" 204 ")
                || response.status_line.contains(" 1") => {}
            None => {
                while self.fill().await {}
                response.body = std::mem::take(&mut self.buf);
            }
        }
        response
    }

    async fn exchange(&mut self, request: &[u8]) -> Response {
        self.stream.write_all(request).await.expect("write");
        self.read_response().await
    }

    async fn call(&mut self, body: &str) -> Response {
        let auth = basic(USER, PASSWORD);
        self.exchange(&post("/", body.as_bytes(), Some(&auth), ""))
            .await
    }
}

struct Recording {
    status_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn recording(name: &str) -> Recording {
    let dir = recordings();
    let head = std::fs::read_to_string(dir.join(format!("{name}.http"))).expect("NAME.http");
    let (status_line, headers) = parse_head(&head);
    let body = std::fs::read(dir.join(format!("{name}.json"))).expect("NAME.json");
    Recording {
        status_line,
        headers,
        body,
    }
}

fn request_body(name: &str) -> Vec<u8> {
    std::fs::read(recordings().join(format!("{name}.req"))).expect("NAME.req")
}

fn assert_like_core(name: &str, got: &Response, want: &Recording) {
    assert_eq!(got.status_line, want.status_line, "{name}: status line");
    let masked = |headers: &[(String, String)]| -> Vec<(String, String)> {
        let date = |(k, v): &(String, String)| {
            let v = if k == "Date" {
                "<date>".to_string()
            } else {
                v.clone()
            };
            (k.clone(), v)
        };
        headers.iter().map(date).collect()
    };
    assert_eq!(
        masked(&got.headers),
        masked(&want.headers),
        "{name}: headers"
    );
    if let Some(date) = got.header("Date") {
        assert!(
            httpdate::parse_http_date(date).is_ok(),
            "{name}: Date {date}"
        );
    }
    if !want.body.is_empty() {
        let want_json: Value = serde_json::from_slice(&want.body).expect("recorded JSON");
        assert_eq!(got.json(), want_json, "{name}: body as JSON");
    }
    assert_eq!(
        String::from_utf8_lossy(&got.body),
        String::from_utf8_lossy(&want.body),
        "{name}: body bytes"
    );
}

#[tokio::test]
async fn recorded_exchanges_are_answered_as_core_did() {
    timeout(LIMIT, async {
        let control = Control::new();
        let (server, _fake) = start(&control, user_pass()).await;
        let names = [
            "parse_error_truncated_json",
            "jsonrpc2_getblockcount",
            "jsonrpc2_getblockhash_out_of_range",
            "jsonrpc2_getrawtransaction_unknown",
            "jsonrpc2_method_not_found",
            "jsonrpc2_notification_no_id",
            "method_not_found",
            "electrumx_method_not_found",
            "electrumx_getblockcount",
            "electrumx_batch_getblockhash",
            "batch_getblockhash",
            "batch_getblockhash_jsonrpc2",
            "batch_getblockhash_one_out_of_range",
            "getblockcount",
            "getblockhash_0",
            "getblockhash_tip",
            "getblockhash_out_of_range",
            "getblockhash_negative",
        ];
        let auth = basic(USER, PASSWORD);
        for name in names {
            let mut client = Client::connect(server.local_addr()).await;
            let calls = control.calls();
            let got = client
                .exchange(&post("/", &request_body(name), Some(&auth), ""))
                .await;
            assert_like_core(name, &got, &recording(name));
            if name == "jsonrpc2_notification_no_id" {
                assert_eq!(
                    control.calls(),
                    calls + 1,
                    "a notification is still executed"
                );
            }
        }
        server.shutdown().await;
    })
    .await
    .expect("in time");
}

#[tokio::test]
async fn wrong_or_missing_credentials_get_401() {
    timeout(LIMIT, async {
        let control = Control::new();
        let (server, _fake) = start(&control, user_pass()).await;
        let name = "unauthorized_wrong_password";
        let mut client = Client::connect(server.local_addr()).await;
        let wrong = basic(USER, "wrong");
        let began = Instant::now();
        let got = client
            .exchange(&post("/", &request_body(name), Some(&wrong), ""))
            .await;
        assert!(
            began.elapsed() >= Duration::from_millis(250),
            "Core sleeps 250 ms"
        );
        assert_like_core(name, &got, &recording(name));
        for bad in ["", "Basic", "basic x", "Basic !!!!", "Bearer abc"] {
            let got = client.exchange(&post("/", b"{}", Some(bad), "")).await;
            assert_eq!(got.status_line, "HTTP/1.1 401 Unauthorized", "{bad:?}");
        }
        let got = client.exchange(&post("/", b"{}", None, "")).await;
        assert_like_core("no Authorization header", &got, &recording(name));
        server.shutdown().await;
    })
    .await
    .expect("in time");
}

#[tokio::test]
async fn warmup_answers_every_call_with_minus_28() {
    timeout(LIMIT, async {
        let control = Control::new();
        let (server, fake) = start(&control, user_pass()).await;
        let mut client = Client::connect(server.local_addr()).await;
        let runs: [(&str, &[&str], i64); 2] = [
            (
                "warmup_firststart",
                &["1_loading_banlist", "2_verifying_blocks"],
                0,
            ),
            (
                "warmup_restart",
                &[
                    "1_rpc_server_started",
                    "2_loading_banlist",
                    "3_verifying_blocks",
                    "4_loading_wallet",
                ],
                164,
            ),
        ];
        for (run, steps, height) in runs {
            let body = String::from_utf8(request_body(run)).expect("UTF-8");
            for step in steps {
                let name = format!("{run}_{step}");
                let want = recording(&name);
                let recorded: Value = serde_json::from_slice(&want.body).expect("JSON");
                let message = recorded["error"]["message"].as_str().expect("message");
                control.set_warmup(Some(message));
                assert_like_core(&name, &client.call(&body).await, &want);
                // Every method, known or not, and every batch item is refused the same way.
                let batch = client.call(r#"[{"method":"nosuch","id":1},{"method":"getblockhash","params":{"height":0},"id":2}]"#).await;
                let errors = batch.json();
                assert_eq!(errors[0]["error"]["code"], -28);
                assert_eq!(errors[1]["error"]["message"], message);
            }
            control.set_warmup(None);
            fake.height.store(height, Ordering::SeqCst);
            let ready = client.call(&body).await;
            let want = std::fs::read(recordings().join(format!("{run}_ready.json"))).expect("ready");
            assert_eq!(ready.status_line, "HTTP/1.1 200 OK");
            assert_eq!(ready.body, want, "{run}_ready");
        }
        server.shutdown().await;
    })
    .await
    .expect("in time");
}

#[tokio::test]
async fn keep_alive_and_connection_headers() {
    timeout(LIMIT, async {
        let control = Control::new();
        let (server, _fake) = start(&control, user_pass()).await;
        let addr = server.local_addr();
        let mut client = Client::connect(addr).await;
        let served = control.requests_served();
        for id in 0..5 {
            let got = client
                .call(&format!(r#"{{"method":"getblockcount","id":{id}}}"#))
                .await;
            assert_eq!(
                got.body,
                format!("{{\"result\":164,\"error\":null,\"id\":{id}}}\n").into_bytes()
            );
        }
        // Errors and refusals keep the connection open too.
        assert_eq!(
            client
                .call(r#"{"method":"nosuch","id":1}"#)
                .await
                .status_line,
            "HTTP/1.1 404 Not Found"
        );
        let wrong = basic(USER, "nope");
        let got = client.exchange(&post("/", b"{}", Some(&wrong), "")).await;
        assert_eq!(got.status_line, "HTTP/1.1 401 Unauthorized");
        assert_eq!(
            client
                .call(r#"{"method":"getblockcount","id":9}"#)
                .await
                .json()["id"],
            9
        );
        assert_eq!(control.requests_served(), served + 8);

        // HTTP/1.1 with `Connection: close`: echoed, then closed.
        let auth = basic(USER, PASSWORD);
        let body = br#"{"method":"getblockcount","id":1}"#;
        let got = client
            .exchange(&post("/", body, Some(&auth), "Connection: close\r\n"))
            .await;
        let names: Vec<&str> = got.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["Content-Type", "Date", "Content-Length", "Connection"]
        );
        assert_eq!(got.header("Connection"), Some("close"));
        assert!(client.closed().await);

        // HTTP/1.0 without keep-alive: no Date, no Content-Length, the body ends at the close.
        let request = String::from_utf8(post("/", body, Some(&auth), "")).expect("UTF-8");
        let request = request.replacen("HTTP/1.1", "HTTP/1.0", 1);
        let mut client = Client::connect(addr).await;
        let got = client.exchange(request.as_bytes()).await;
        assert_eq!(got.status_line, "HTTP/1.0 200 OK");
        assert_eq!(
            got.headers,
            [("Content-Type".to_string(), "application/json".to_string())]
        );
        assert_eq!(got.json()["result"], 164);

        // HTTP/1.0 with keep-alive: answered with keep-alive and a length, and kept open.
        let request = request.replacen("Host:", "Connection: keep-alive\r\nHost:", 1);
        let mut client = Client::connect(addr).await;
        for _ in 0..2 {
            let got = client.exchange(request.as_bytes()).await;
            let names: Vec<&str> = got.headers.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(names, ["Content-Type", "Connection", "Content-Length"]);
        }
        server.shutdown().await;
    })
    .await
    .expect("in time");
}

#[tokio::test]
async fn cookie_auth_like_bitcoind() {
    timeout(LIMIT, async {
        let dir = std::env::temp_dir().join(format!("simnode-cookie-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(".cookie");
        let control = Control::new();
        let mut auth = user_pass();
        auth.push(Auth::Cookie { path: path.clone() });
        let (server, _fake) = start(&control, auth).await;
        let cookie = std::fs::read_to_string(&path).expect("cookie written");
        let (user, password) = cookie.split_once(':').expect("user:password");
        assert_eq!(user, "__cookie__");
        assert_eq!(password.len(), 64);
        assert!(password
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        let mut client = Client::connect(server.local_addr()).await;
        let body = br#"{"jsonrpc":"2.0","method":"getblockcount","id":"c"}"#;
        let got = client
            .exchange(&post("/", body, Some(&basic(user, password)), ""))
            .await;
        assert_eq!(
            got.body,
            b"{\"jsonrpc\":\"2.0\",\"result\":164,\"id\":\"c\"}\n"
        );
        // rpcuser/rpcpassword still work alongside the cookie.
        let got = client
            .exchange(&post("/", body, Some(&basic(USER, PASSWORD)), ""))
            .await;
        assert_eq!(got.status_line, "HTTP/1.1 200 OK");
        let got = client
            .exchange(&post("/", body, Some(&basic(user, PASSWORD)), ""))
            .await;
        assert_eq!(got.status_line, "HTTP/1.1 401 Unauthorized");
        server.shutdown().await;
        assert!(!path.exists(), "the cookie is removed at shutdown");
        let _ = std::fs::remove_dir(&dir);
    })
    .await
    .expect("in time");
}

#[tokio::test]
async fn methods_paths_and_malformed_requests() {
    timeout(LIMIT, async {
        let control = Control::new();
        let (server, _fake) = start(&control, user_pass()).await;
        let addr = server.local_addr();
        let mut client = Client::connect(addr).await;
        let got = client.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert_eq!(got.status_line, "HTTP/1.1 405 Method Not Allowed");
        let names: Vec<&str> = got.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["Date", "Content-Length", "Content-Type"]);
        assert_eq!(got.header("Content-Type"), Some("text/html; charset=ISO-8859-1"));
        assert_eq!(got.body, b"JSONRPC server handles only POST requests");
        let got = client.exchange(b"DELETE / HTTP/1.1\r\n\r\n").await;
        assert_eq!((got.status_line.as_str(), got.body.len()), ("HTTP/1.1 405 Method Not Allowed", 0));
        let auth = basic(USER, PASSWORD);
        let body = br#"{"method":"getblockcount","id":1}"#;
        let got = client.exchange(&post("/wallet/w1", body, Some(&auth), "")).await;
        assert_eq!(got.json()["result"], 164);
        for path in ["/rest/chaininfo.json", "/?x=1", "/wallet"] {
            let got = client.exchange(&post(path, body, Some(&auth), "")).await;
            assert_eq!(got.status_line, "HTTP/1.1 404 Not Found", "{path}");
            assert!(got.body.is_empty());
        }
        // A chunked body, and `Expect: 100-continue`.
        let chunked = "POST / HTTP/1.1\r\nAuthorization: {auth}\r\nTransfer-Encoding: chunked\r\n\r\n\
                       10\r\n{\"method\":\"getbl\r\n11\r\nockcount\",\"id\":2}\r\n0\r\n\r\n";
        let got = client.exchange(chunked.replace("{auth}", &auth).as_bytes()).await;
        assert_eq!(got.json()["id"], 2);
        let head = format!("POST / HTTP/1.1\r\nAuthorization: {auth}\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n", body.len());
        client.stream.write_all(head.as_bytes()).await.expect("write");
        assert_eq!(client.read_response().await.status_line, "HTTP/1.1 100 Continue");
        assert_eq!(client.exchange(body).await.json()["result"], 164);

        // libevent's error pages, each followed by a close.
        let page = |code: &str| format!("<HTML><HEAD>\n<TITLE>{code}</TITLE>\n</HEAD><BODY>\n<H1>{}</H1>\n</BODY></HTML>\n", &code[4..]);
        let cases: [(&[u8], &str); 4] = [
            (b"PATCH / HTTP/1.1\r\n\r\n", "501 Not Implemented"),
            (b"POST /\r\n\r\n", "400 Bad Request"),
            (b"POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\n", "400 Bad Request"),
            (b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", "413 Request Entity Too Large"),
        ];
        for (request, code) in cases {
            let mut client = Client::connect(addr).await;
            let got = client.exchange(request).await;
            assert_eq!(got.status_line, format!("HTTP/1.1 {code}"));
            let names: Vec<&str> = got.headers.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(names, ["Content-Type", "Connection", "Date", "Content-Length"]);
            assert_eq!(String::from_utf8_lossy(&got.body), page(code));
            assert!(client.closed().await, "{code}: closed");
        }
        let mut client = Client::connect(addr).await;
        let huge = format!("POST / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(9000));
        assert_eq!(client.exchange(huge.as_bytes()).await.status_line, "HTTP/1.1 400 Bad Request");
        server.shutdown().await;
    })
    .await
    .expect("in time");
}

#[tokio::test]
async fn go_down_refuses_and_come_up_serves_the_same_port() {
    timeout(LIMIT, async {
        let control = Control::new();
        let (server, _fake) = start(&control, user_pass()).await;
        let addr = server.local_addr();
        let mut open = Client::connect(addr).await;
        assert_eq!(
            open.call(r#"{"method":"getblockcount","id":1}"#)
                .await
                .json()["result"],
            164
        );
        assert!(control.is_up());
        control.go_down().await;
        assert!(!control.is_up());
        let refused = TcpStream::connect(addr)
            .await
            .expect_err("refused while down");
        assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
        assert!(
            open.closed().await,
            "open keep-alive connections are dropped"
        );
        control.come_up().await.expect("listening again");
        assert!(control.is_up());
        let mut client = Client::connect(addr).await;
        assert_eq!(
            client
                .call(r#"{"method":"getblockcount","id":2}"#)
                .await
                .json()["id"],
            2
        );
        // Down and up again, several times.
        for _ in 0..3 {
            control.go_down().await;
            assert!(TcpStream::connect(addr).await.is_err());
            control.come_up().await.expect("up");
        }
        let mut client = Client::connect(addr).await;
        assert_eq!(
            client
                .call(r#"{"method":"getblockcount","id":3}"#)
                .await
                .json()["id"],
            3
        );
        server.shutdown().await;
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "closed after shutdown"
        );
    })
    .await
    .expect("in time");
}

#[tokio::test]
async fn slow_and_garbage_answers() {
    timeout(LIMIT, async {
        let control = Control::new();
        let (server, _fake) = start(&control, user_pass()).await;
        let mut client = Client::connect(server.local_addr()).await;
        control.set_delay(Duration::from_millis(300));
        let began = Instant::now();
        let got = client.call(r#"{"method":"getblockcount","id":1}"#).await;
        assert!(began.elapsed() >= Duration::from_millis(300));
        assert_eq!(got.json()["result"], 164);
        control.set_delay(Duration::ZERO);
        control.set_garbage(true);
        for _ in 0..3 {
            let got = client.call(r#"{"method":"getblockcount","id":1}"#).await;
            assert_eq!(got.status_line, "HTTP/1.1 200 OK");
            assert!(!got.body.is_empty());
            assert!(
                serde_json::from_slice::<Value>(&got.body).is_err(),
                "not JSON"
            );
        }
        control.set_garbage(false);
        assert_eq!(
            client
                .call(r#"{"method":"getblockcount","id":1}"#)
                .await
                .json()["result"],
            164
        );
        server.shutdown().await;
    })
    .await
    .expect("in time");
}

#[tokio::test]
async fn named_params_envelopes_and_batches() {
    timeout(LIMIT, async {
        let control = Control::new();
        let (server, fake) = start(&control, user_pass()).await;
        let mut client = Client::connect(server.local_addr()).await;
        let got = client.call(r#"{"method":"getblockhash","params":{"height":1},"id":1}"#).await;
        assert_eq!(got.json()["result"], fake.hashes[1]);
        let got = client.call(r#"{"jsonrpc":"2.0","method":"echo","params":{"c":3,"bee":2},"id":2}"#).await;
        assert_eq!(got.json(), json!({"jsonrpc": "2.0", "result": [null, 2, 3], "id": 2}));
        let got = client.call(r#"{"method":"echo","params":{"args":[1],"c":3},"id":3}"#).await;
        assert_eq!(got.json()["result"], json!([1, null, 3]));
        let got = client.call(r#"{"method":"getblockhash","params":{"hieght":1},"id":4}"#).await;
        assert_eq!(got.status_line, "HTTP/1.1 500 Internal Server Error");
        assert_eq!(got.json()["error"], json!({"code": -8, "message": "Unknown named parameter hieght"}));
        let got = client.call(r#"{"method":"nosuch","params":{"a":1},"id":5}"#).await;
        assert_eq!(got.status_line, "HTTP/1.1 404 Not Found");

        // Envelope errors are -32600 with HTTP 400; the id is kept when given.
        let got = client.call(r#"{"jsonrpc":"3.0","method":"getblockcount","id":6}"#).await;
        assert_eq!(got.status_line, "HTTP/1.1 400 Bad Request");
        assert_eq!(got.body, b"{\"result\":null,\"error\":{\"code\":-32600,\"message\":\"JSON-RPC version not supported\"},\"id\":6}\n");
        let got = client.call(r#"{"id":7,"method":"getblockcount","params":5}"#).await;
        assert_eq!(got.json()["error"]["message"], "Params must be an array or object");
        let got = client.call(r#"{"jsonrpc":"2.0","id":null,"method":"getblockcount"}"#).await;
        assert_eq!(got.body, b"{\"jsonrpc\":\"2.0\",\"result\":164,\"id\":null}\n");
        let got = client.call(r#""just a string""#).await;
        assert_eq!(got.status_line, "HTTP/1.1 500 Internal Server Error");
        assert_eq!(got.json()["error"]["message"], "Top-level object parse error");
        let got = client.call("").await;
        assert_eq!(got.json()["error"], json!({"code": -32700, "message": "Parse error"}));

        // Batches: always 200; `[]` for an empty one, 204 when all are notifications.
        let got = client.call("[]").await;
        assert_eq!((got.status_line.as_str(), got.body.as_slice()), ("HTTP/1.1 200 OK", &b"[]\n"[..]));
        let got = client.call(r#"[{"jsonrpc":"2.0","method":"getblockcount"},{"jsonrpc":"2.0","method":"nosuch"}]"#).await;
        assert_eq!(got.status_line, "HTTP/1.1 204 No Content");
        assert_eq!(got.headers.len(), 1);
        let got = client.call(r#"[{"jsonrpc":"2.0","method":"getblockcount"},{"id":"x","method":"nosuch"},{"pizza":1}]"#).await;
        assert_eq!(got.status_line, "HTTP/1.1 200 OK");
        assert_eq!(
            got.json(),
            json!([
                {"result": null, "error": {"code": -32601, "message": "Method not found"}, "id": "x"},
                {"result": null, "error": {"code": -32600, "message": "Missing method"}}
            ])
        );
        // Ids come back as sent.
        let got = client.call(r#"{"method":"getblockcount","id":18446744073709551615}"#).await;
        assert!(got.body.ends_with(b"\"id\":18446744073709551615}\n"));
        let got = client.call(r#"{"method":"getblockcount","id":{"k":[1,"\u00e9\n"]}}"#).await;
        assert!(got.body.ends_with("\"id\":{\"k\":[1,\"é\\n\"]}}\n".as_bytes()));
        server.shutdown().await;
    })
    .await
    .expect("in time");
}
