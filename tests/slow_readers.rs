//! Clients that stop reading cannot exhaust the server's memory (issue 11, §0).
//!
//! The attack, as measured against ElectrumX 1.20: twenty clients each subscribe to 1,000
//! script hashes, then keep sending `get_history` for a busy script hash (answers of about
//! 175 KB) and never read a byte. Shown here against the real server:
//! - its memory stays bounded while they attack (each session's unsent bytes and the
//!   requests read ahead of them are bounded; the session stops reading meanwhile),
//! - every attacker is disconnected once nothing could be sent to it for SEND_TIMEOUT, with
//!   a log line, by a reset (nothing it will not read is left queued in the kernel),
//! - a polite client is served at its usual pace throughout,
//! - the memory goes back down once the attackers are gone,
//! - and an idle session (tcp or ws) costs a few tens of kilobytes, not a 128 KiB buffer.

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bitcoin::hashes::Hash as _;
use ferrumx_simnode::{GenParams, Node, ScriptHash};
use ferrumx_testkit::process::memory;
use ferrumx_testkit::{p50, Client, Electrum, Kind};
use serde_json::json;

/// Attacking clients.
const ATTACKERS: usize = 20;
/// Script hashes each attacker subscribes to.
const SUBSCRIPTIONS: usize = 1_000;
/// Payments to the busy script: its history answer is about 175 KB.
const BUSY_HISTORY: usize = 1_800;
/// SEND_TIMEOUT for the test (ElectrumX's is 20 s; shorter keeps the test short).
const SEND_TIMEOUT: u64 = 5;
/// The longest the attackers keep at it: each stops once the server has disconnected it.
/// (The time to fill the socket buffers comes before SEND_TIMEOUT; on a loaded 2-core
/// machine with a debug build that can take a while.)
const ATTACK_LIMIT: Duration = Duration::from_secs(120);
/// The receive buffer each attacker asks for before connecting: little is buffered in the
/// kernel for it, so the server's writes stall soon, as with a real client that stopped
/// reading on a slow link.
const ATTACKER_RCVBUF: u32 = 4096;

const MIB: f64 = 1024.0 * 1024.0;

/// A chain with one script hash whose history answer is about 175 KB.
fn chain() -> (Node, ScriptHash) {
    let mut node = Node::generate(GenParams::fixture(1107));
    let script = bitcoin::ScriptBuf::new_p2wsh(&bitcoin::WScriptHash::from_byte_array([0x51; 32]));
    for i in 0..BUSY_HISTORY {
        ferrumx_simnode::fund::pay_to_scripts(&mut node, &[(script.clone(), 20_000 + i as u64)], 2)
            .expect("pay the busy script");
        if i % 50 == 49 {
            node.mine(1).expect("mine");
        }
    }
    node.mine(1).expect("mine");
    let sh = ScriptHash::of(&script);
    assert_eq!(node.truth.history(&sh, None).len(), BUSY_HISTORY);
    (node, sh)
}

/// A connection to the server with a small receive buffer (set before connecting, so that
/// the window the client advertises stays small).
fn connect_small(port: u16) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let stream = rt
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.set_recv_buffer_size(ATTACKER_RCVBUF)?;
            socket.connect(([127, 0, 0, 1], port).into()).await
        })
        .expect("connect");
    let stream = stream.into_std().expect("std stream");
    stream.set_nonblocking(false).expect("blocking");
    stream
}

/// One attacker: subscribes, then pipelines `get_history` without ever reading, until the
/// server closes the connection (a write fails) or `until`. Returns when the server's close
/// was seen, if it was.
fn attack(port: u16, n: usize, busy: &str, until: Instant) -> Option<Instant> {
    let mut s = connect_small(port);
    s.set_write_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut out = String::new();
    out.push_str(&format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"server.version\",\"params\":[\"attacker-{n}\",\"1.4\"]}}\n"
    ));
    for i in 0..SUBSCRIPTIONS {
        let sh = format!("{:016x}{:048x}", n, i);
        out.push_str(&format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"blockchain.scripthash.subscribe\",\"params\":[\"{sh}\"]}}\n",
            i + 1
        ));
    }
    let mut pending = out.into_bytes();
    let mut id = 10_000u64;
    loop {
        if Instant::now() >= until {
            return None;
        }
        if pending.is_empty() {
            for _ in 0..50 {
                id += 1;
                pending.extend_from_slice(
                    format!(
                        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"blockchain.scripthash.get_history\",\"params\":[\"{busy}\"]}}\n"
                    )
                    .as_bytes(),
                );
            }
        }
        match s.write(&pending) {
            Ok(0) => return Some(Instant::now()),
            Ok(k) => {
                pending.drain(..k);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                // The server stopped reading us: that is the backpressure.
            }
            Err(_) => return Some(Instant::now()),
        }
    }
}

/// The server's sockets on `port` that are closing with bytes still queued for the peer
/// (from /proc/net/tcp: FIN-WAIT-1, CLOSING or LAST-ACK, tx_queue > 0), as (state, queued).
fn closing_with_unsent_bytes(port: u16) -> Vec<(String, u64)> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
            let state = *f.get(3)?;
            let tx = u64::from_str_radix(f.get(4)?.split(':').next()?, 16).ok()?;
            let closing = matches!(state, "04" | "0B" | "09");
            (local_port == port && closing && tx > 0).then(|| (state.to_owned(), tx))
        })
        .collect()
}

#[test]
fn clients_that_stop_reading_are_bounded_and_dropped_while_a_polite_client_is_served() {
    let (node, busy) = chain();
    let busy_hex = busy.to_string();
    let send_timeout = SEND_TIMEOUT.to_string();
    let e = Electrum::start(
        "slow-readers",
        node,
        &[
            ("SEND_TIMEOUT", send_timeout.as_str()),
            ("MAX_SESSIONS", "1000"),
        ],
    );
    let pid = e.server.pid();

    // The busy history really is about 175 KB.
    let mut polite = e.session(Kind::Tcp, "1.4");
    let history = polite
        .call("blockchain.scripthash.get_history", json!([busy_hex]))
        .expect("history");
    let size = serde_json::to_string(&history).expect("json").len();
    assert!(
        (150_000..200_000).contains(&size),
        "history of {size} bytes"
    );

    // The polite client's pace before the attack.
    let probe = |c: &mut Client| {
        let t = Instant::now();
        let r = c
            .call("blockchain.scripthash.get_balance", json!([busy_hex]))
            .expect("balance");
        assert!(r["confirmed"].as_u64().is_some(), "{r}");
        t.elapsed()
    };
    let baseline: Vec<Duration> = (0..50).map(|_| probe(&mut polite)).collect();
    let baseline = p50(&baseline);
    let (rss_before, _) = memory(pid);

    // The attack.
    let started = Instant::now();
    let until = started + ATTACK_LIMIT;
    let attackers: Vec<_> = (0..ATTACKERS)
        .map(|n| {
            let busy = busy_hex.clone();
            let port = e.tcp;
            std::thread::spawn(move || attack(port, n, &busy, until))
        })
        .collect();
    let peak = Arc::new(Mutex::new(rss_before));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                let (rss, _) = memory(pid);
                let mut p = peak.lock().expect("peak");
                *p = (*p).max(rss);
                drop(p);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let mut during = Vec::new();
    while attackers.iter().any(|a| !a.is_finished()) {
        during.push(probe(&mut polite));
        std::thread::sleep(Duration::from_millis(20));
    }
    let closed: Vec<Option<Instant>> = attackers
        .into_iter()
        .map(|a| a.join().expect("attacker"))
        .collect();
    sampling.store(false, Ordering::Relaxed);
    sampler.join().expect("sampler");
    let peak = *peak.lock().expect("peak");

    // Every attacker was disconnected, none before SEND_TIMEOUT without progress (the time
    // to fill the socket buffers comes first), each with a log line.
    let mut last = Duration::ZERO;
    for (n, c) in closed.iter().enumerate() {
        let at = c.unwrap_or_else(|| panic!("attacker {n} not disconnected in {ATTACK_LIMIT:?}"));
        let after = at - started;
        assert!(
            after >= Duration::from_secs(SEND_TIMEOUT),
            "attacker {n} disconnected after {after:?}"
        );
        last = last.max(after);
    }
    println!("attackers disconnected within {last:?} of the attack's start");
    // Reset, not closed: no socket of the server is left holding megabytes the attackers
    // will never read (a graceful close would leave each in FIN-WAIT-1 for minutes).
    let lingering = closing_with_unsent_bytes(e.tcp);
    assert!(
        lingering.is_empty(),
        "closed sockets still sending: {lingering:?}"
    );
    let logged = e
        .server
        .count("closing session: nothing could be sent for 5 s");
    assert_eq!(logged, ATTACKERS, "send-timeout log lines");

    // Memory stayed bounded. Per attacker: its unsent bytes (at most 256 KiB plus one
    // answer), the answers of its 10 running requests (175 KB each) and 1 MiB of requests
    // read ahead: about 3 MiB; allow twice that for the allocator.
    let grown = peak.saturating_sub(rss_before) as f64 / MIB;
    println!(
        "rss before {:.1} MiB, peak {:.1} MiB (+{grown:.1} MiB for {ATTACKERS} attackers)",
        rss_before as f64 / MIB,
        peak as f64 / MIB
    );
    assert!(grown < 6.0 * ATTACKERS as f64, "grew by {grown:.1} MiB");

    // The polite client was served at its pace.
    let during_p50 = p50(&during);
    println!(
        "polite p50: {baseline:?} before, {during_p50:?} during ({} probes)",
        during.len()
    );
    assert!(
        during_p50 <= baseline * 5 + Duration::from_millis(50),
        "polite p50 {during_p50:?} against {baseline:?} before"
    );

    // Once they are gone, the memory comes back down (the registry has the allocator give
    // it back a few seconds after sessions stop ending).
    let bound = rss_before as f64 / MIB + 16.0;
    let mut settled = Vec::new();
    for _ in 0..30 {
        std::thread::sleep(Duration::from_secs(1));
        settled.push(memory(pid).0 as f64 / MIB);
        if settled.last().is_some_and(|&m| m <= bound) {
            break;
        }
    }
    println!("rss each second after the attack: {settled:.1?} MiB");
    let last = settled.last().copied().unwrap_or(f64::MAX);
    assert!(
        last <= bound,
        "rss {last:.1} MiB 30 s after the attack, {:.1} MiB before",
        rss_before as f64 / MIB
    );
    // And the polite client is still served.
    probe(&mut polite);
}

/// What an idle session costs the server, per transport.
#[test]
fn an_idle_session_costs_tens_of_kilobytes() {
    let e = Electrum::start(
        "idle-sessions",
        Node::generate(GenParams::fixture(1108)),
        &[],
    );
    let pid = e.server.pid();
    const N: usize = 300;
    for kind in [Kind::Tcp, Kind::Ws] {
        // Warm up the allocator and the runtime with a few sessions first.
        let warm: Vec<_> = (0..20).map(|_| e.session(kind, "1.4")).collect();
        drop(warm);
        std::thread::sleep(Duration::from_millis(300));
        let (before, _) = memory(pid);
        let sessions: Vec<_> = (0..N).map(|_| e.session(kind, "1.4")).collect();
        std::thread::sleep(Duration::from_millis(300));
        let (after, _) = memory(pid);
        let per = after.saturating_sub(before) as f64 / N as f64 / 1024.0;
        println!("{kind:?}: {per:.1} KiB per idle session");
        assert!(per < 48.0, "{kind:?}: {per:.1} KiB per idle session");
        drop(sessions);
    }
}
