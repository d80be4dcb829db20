//! Stand-in benchmarks: chain generation speed, chain-file load speed, and `getblock`
//! (verbosity 0) throughput over loopback.
//!
//! `cargo bench -p ferrumx-simnode` — sizes via environment:
//! - `SIMNODE_BENCH_TXS` (default 50000): transactions to generate;
//! - `SIMNODE_BENCH_PER_BLOCK` (default 1000): mean transactions per block;
//! - `SIMNODE_BENCH_CLIENTS` (default 4): concurrent keep-alive connections;
//! - `SIMNODE_BENCH_CHAIN`: serve this chain file instead of generating one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ferrumx_simnode::{chainfile, GenParams, Node, SimNode, SimNodeOptions};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A minimal keep-alive JSON-RPC client: POSTs `body`, returns the response body length.
struct Conn {
    reader: BufReader<TcpStream>,
    auth: String,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).ok();
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        Conn {
            reader: BufReader::new(s),
            // base64("user:pass")
            auth: "dXNlcjpwYXNz".to_string(),
        }
    }

    fn call(&mut self, body: &str) -> Vec<u8> {
        let req = format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
            self.auth,
            body.len(),
            body
        );
        self.reader
            .get_mut()
            .write_all(req.as_bytes())
            .expect("write");
        let mut len = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("read header");
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l
                .split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            {
                len = v.1.trim().parse().expect("length");
            }
        }
        let mut buf = vec![0u8; len];
        self.reader.read_exact(&mut buf).expect("read body");
        buf
    }
}

fn main() {
    let txs = env_u64("SIMNODE_BENCH_TXS", 50_000);
    let per_block = env_u64("SIMNODE_BENCH_PER_BLOCK", 1_000) as u32;
    let clients = env_u64("SIMNODE_BENCH_CLIENTS", 4).max(1) as usize;

    let node = match std::env::var("SIMNODE_BENCH_CHAIN") {
        Ok(path) => {
            let t = Instant::now();
            let node = chainfile::load(std::path::Path::new(&path)).expect("chain file");
            let n: usize = (1..=node.tip_height())
                .filter_map(|h| node.block_at(h))
                .map(|b| b.txids.len())
                .sum();
            let s = t.elapsed().as_secs_f64();
            println!(
                "load   {path}: {n} txs in {s:.1} s = {:.0} tx/s",
                n as f64 / s
            );
            node
        }
        Err(_) => {
            let t = Instant::now();
            let node = Node::generate(GenParams::sized(1, txs, per_block));
            let gen_s = t.elapsed().as_secs_f64();
            let n: usize = (1..=node.tip_height())
                .filter_map(|h| node.block_at(h))
                .map(|b| b.txids.len() - 1)
                .sum();
            println!(
                "generate: {n} txs, {} blocks in {gen_s:.2} s = {:.0} tx/s",
                node.tip_height(),
                n as f64 / gen_s
            );
            let t = Instant::now();
            let bytes = chainfile::encode(&node);
            let enc_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let reloaded = chainfile::decode(&bytes).expect("decode");
            let dec_s = t.elapsed().as_secs_f64();
            assert_eq!(reloaded.tip_hash(), node.tip_hash());
            println!(
                "chain file: {:.1} MB, save {enc_s:.2} s, load {dec_s:.2} s = {:.0} tx/s",
                bytes.len() as f64 / 1e6,
                n as f64 / dec_s
            );
            node
        }
    };

    let tip = node.tip_height();
    let sim = SimNode::spawn(node, SimNodeOptions::default()).expect("serve");
    let addr = sim.addr();
    let mut c = Conn::new(addr);
    let hashes: Vec<String> = (0..=tip)
        .map(|h| {
            let body = c.call(&format!(
                "{{\"jsonrpc\":\"1.0\",\"id\":{h},\"method\":\"getblockhash\",\"params\":[{h}]}}"
            ));
            let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
            v["result"].as_str().expect("hash").to_string()
        })
        .collect();

    // getblock verbosity 0 for every block, split across keep-alive connections.
    let t = Instant::now();
    let total_bytes: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|k| {
                let hashes = &hashes;
                scope.spawn(move || {
                    let mut c = Conn::new(addr);
                    let mut bytes = 0;
                    for (i, h) in hashes.iter().enumerate().skip(k).step_by(clients) {
                        let body = c.call(&format!(
                            "{{\"jsonrpc\":\"1.0\",\"id\":{i},\"method\":\"getblock\",\"params\":[\"{h}\",0]}}"
                        ));
                        bytes += body.len();
                    }
                    bytes
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("client")).sum()
    });
    let s = t.elapsed().as_secs_f64();
    println!(
        "getblock verbosity 0: {} blocks over {clients} connections in {s:.2} s = {:.0} blocks/s, {:.1} MB/s of JSON",
        hashes.len(),
        hashes.len() as f64 / s,
        total_bytes as f64 / s / 1e6
    );

    // ElectrumX-style batched getblockhash (its prefetcher asks for ranges). A fresh
    // connection: the first one sat idle past the server's 30 s timeout, as Core's would.
    let mut c = Conn::new(addr);
    let t = Instant::now();
    let mut done = 0;
    for start in (0..=tip).step_by(100) {
        let end = (start + 99).min(tip);
        let batch: Vec<String> = (start..=end)
            .map(|h| format!("{{\"method\":\"getblockhash\",\"id\":{h},\"params\":[{h}]}}"))
            .collect();
        c.call(&format!("[{}]", batch.join(",")));
        done += end - start + 1;
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "batched getblockhash (100 per batch): {done} in {s:.3} s = {:.0} hashes/s",
        f64::from(done) / s
    );
    sim.shutdown();
}
