//! The `ferrumx-simnode` command: generate a chain file, serve it (with cookie auth and
//! periodic mining), stop cleanly on SIGTERM, and fail clearly on bad input.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrumx-simnode");

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("simnode-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Reads stdout until the `DAEMON_URL=` line; returns "host:port".
fn daemon_addr(child: &mut Child) -> String {
    let out = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(url) = line.strip_prefix("DAEMON_URL=") {
            // http://user:pass@127.0.0.1:PORT/
            let hostport = url
                .trim_end_matches('/')
                .rsplit('@')
                .next()
                .expect("host")
                .to_string();
            std::thread::spawn(move || for _ in lines {});
            return hostport;
        }
    }
    panic!("no DAEMON_URL line");
}

fn call(addr: &str, auth_b64: &str, body: &str) -> serde_json::Value {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Basic {auth_b64}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    let body = resp.split("\r\n\r\n").nth(1).expect("body");
    serde_json::from_str(body).expect("json")
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn block_count(addr: &str, auth: &str) -> i64 {
    call(
        addr,
        auth,
        r#"{"id":1,"method":"getblockcount","params":[]}"#,
    )["result"]
        .as_i64()
        .expect("count")
}

#[test]
fn generate_then_serve_with_cookie_mining_and_clean_stop() {
    let dir = tempdir("serve");
    let chain = dir.join("c.chain");
    let st = Command::new(BIN)
        .args([
            "generate",
            "--blocks",
            "120",
            "--txs-per-block",
            "5",
            "--out",
        ])
        .arg(&chain)
        .status()
        .expect("run generate");
    assert!(st.success());
    assert!(chain.exists());

    let datadir = dir.join("data");
    let mut child = Command::new(BIN)
        .args([
            "--port",
            "0",
            "--mine-every",
            "1",
            "--traffic",
            "3",
            "--chain-file",
        ])
        .arg(&chain)
        .arg("--datadir")
        .arg(&datadir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let addr = daemon_addr(&mut child);
    let pass = b64("user:pass");
    assert_eq!(block_count(&addr, &pass), 120);
    // The cookie works too.
    let cookie = std::fs::read_to_string(datadir.join(".cookie")).expect("cookie file");
    assert!(cookie.starts_with("__cookie__:"));
    let by_cookie = b64(cookie.trim());
    assert_eq!(block_count(&addr, &by_cookie), 120);
    // It mines on its own.
    let started = Instant::now();
    while block_count(&addr, &pass) < 122 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no blocks mined"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let mempool = call(
        &addr,
        &pass,
        r#"{"id":2,"method":"getrawmempool","params":[]}"#,
    );
    assert!(mempool["result"].is_array());
    // SIGTERM: exits 0 and removes its cookie.
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    assert!(!datadir.join(".cookie").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_fails_with_one_clear_line() {
    let dir = tempdir("bad");
    let missing = dir.join("missing.chain");
    let out = Command::new(BIN)
        .args(["--port", "0", "--chain-file"])
        .arg(&missing)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("ferrumx-simnode: ") && last.contains("missing.chain"),
        "{err}"
    );

    let garbage = dir.join("garbage.chain");
    std::fs::write(&garbage, vec![7u8; 4096]).expect("write");
    let out = Command::new(BIN)
        .args(["--port", "0", "--chain-file"])
        .arg(&garbage)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum"));

    let out = Command::new(BIN)
        .args(["--port", "notaport"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
