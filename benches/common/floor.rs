//! The floor: the work no indexer syncing from bitcoind can avoid, done as leanly as we can.
//!
//! It fetches blocks from the daemon with the calls FerrumX makes — JSON-RPC batches of
//! `getblockhash` then `getblock <hash> 0` (about 16 MB a batch, at most 500 blocks, the first
//! batch of 10), or REST `GET /rest/block/<hash>.bin` where the daemon serves it — decodes
//! the hex (SIMD, `faster-hex`), checks each block's hash, parses every transaction from the
//! slice, computes every txid and the script hash (SHA-256) of every output script, and stores
//! nothing (the hashes are folded into a checksum so that none of the work can be skipped).
//! One thread, one keep-alive connection, buffered reads, one reused buffer per reply.
//!
//! Its CPU time is the thread's own (`CLOCK_THREAD_CPUTIME_ID`), so it can run inside a
//! bench process that also runs the stand-in.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use base64::Engine as _;
use bitcoin::hashes::{sha256, sha256d, Hash, HashEngine};
use serde::Deserialize;

/// How the floor fetches blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// JSON-RPC batches (`getblockhash`, `getblock` verbosity 0).
    Rpc,
    /// `getblockhash` batches, then `/rest/block/<hash>.bin` (bitcoind with `-rest`).
    Rest,
}

/// What the floor did.
#[derive(Clone, Debug, Default)]
pub struct FloorResult {
    pub blocks: u32,
    /// Transactions, coinbases included.
    pub txs: u64,
    pub outputs: u64,
    /// Raw block bytes parsed.
    pub bytes: u64,
    pub cpu_secs: f64,
    pub wall_secs: f64,
    /// XOR of every txid (internal byte order): compared with the stand-in's own txids.
    pub txid_xor: [u8; 32],
    /// XOR of every script hash.
    pub script_hash_xor: [u8; 32],
}

const BATCH_BYTES: usize = 16 << 20;
const MAX_BATCH: usize = 500;
const FIRST_BATCH: usize = 10;
/// Largest reply accepted.
const MAX_BODY: usize = 1 << 30;

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// This thread's CPU time in seconds.
pub fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// A keep-alive HTTP/1.1 client for one daemon (bodies with `Content-Length`).
struct Http {
    conn: BufReader<TcpStream>,
    host: String,
    auth: Option<String>,
    line: Vec<u8>,
    body: Vec<u8>,
}

impl Http {
    /// `url`: `http://[user:pass@]host:port/`.
    fn connect(url: &str) -> io::Result<Http> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("the daemon URL must start with http://"))?;
        let rest = rest.trim_end_matches('/');
        let (auth, host) = match rest.rsplit_once('@') {
            Some((userpass, host)) => (
                Some(base64::engine::general_purpose::STANDARD.encode(userpass)),
                host,
            ),
            None => (None, rest),
        };
        let stream = TcpStream::connect(host)?;
        stream.set_nodelay(true)?;
        Ok(Http {
            conn: BufReader::with_capacity(1 << 20, stream),
            host: host.to_string(),
            auth,
            line: Vec::new(),
            body: Vec::new(),
        })
    }

    fn request(&mut self, method: &str, path: &str, body: &[u8]) -> io::Result<&[u8]> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        if let Some(a) = &self.auth {
            head.push_str("Authorization: Basic ");
            head.push_str(a);
            head.push_str("\r\n");
        }
        if !body.is_empty() {
            head.push_str("Content-Type: application/json\r\n");
        }
        head.push_str("\r\n");
        let stream = self.conn.get_mut();
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        self.read_response()?;
        Ok(&self.body)
    }

    fn read_line(&mut self) -> io::Result<()> {
        self.line.clear();
        let n = (&mut self.conn)
            .take(64 << 10)
            .read_until(b'\n', &mut self.line)?;
        if n == 0 || !self.line.ends_with(b"\n") {
            return Err(bad("connection closed or header line too long"));
        }
        Ok(())
    }

    fn read_response(&mut self) -> io::Result<()> {
        self.read_line()?;
        let status = self
            .line
            .get(9..12)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| bad("bad status line"))?;
        let mut length = None;
        for _ in 0..100 {
            self.read_line()?;
            if self.line == b"\r\n" || self.line == b"\n" {
                break;
            }
            let text = String::from_utf8_lossy(&self.line);
            if let Some((k, v)) = text.split_once(':') {
                if k.trim().eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse::<usize>().ok();
                } else if k.trim().eq_ignore_ascii_case("transfer-encoding") {
                    return Err(bad("chunked replies are not supported"));
                }
            }
        }
        let length = length.ok_or_else(|| bad("reply without Content-Length"))?;
        if length > MAX_BODY {
            return Err(bad("reply too large"));
        }
        self.body.resize(length, 0);
        self.conn.read_exact(&mut self.body)?;
        if status != 200 {
            return Err(bad(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(200)])
            )));
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct Item<'a> {
    #[serde(borrow)]
    result: Option<&'a str>,
    id: usize,
}

#[derive(Deserialize)]
struct Count {
    result: u32,
}

/// Items of a batch reply, each `result` string by id (0..n).
fn batch_results<'a>(body: &'a [u8], n: usize) -> io::Result<Vec<&'a str>> {
    let items: Vec<Item<'a>> =
        serde_json::from_slice(body).map_err(|e| bad(format!("batch reply: {e}")))?;
    let mut out = vec![""; n];
    for it in items {
        let slot = out
            .get_mut(it.id)
            .ok_or_else(|| bad("batch reply: unknown id"))?;
        *slot = it.result.ok_or_else(|| bad("batch reply: an error item"))?;
    }
    if out.iter().any(|s| s.is_empty()) {
        return Err(bad("batch reply: missing items"));
    }
    Ok(out)
}

fn batch_request(method: &str, params: impl Iterator<Item = String>) -> Vec<u8> {
    let mut body = Vec::with_capacity(64 * MAX_BATCH);
    body.push(b'[');
    for (i, p) in params.enumerate() {
        if i > 0 {
            body.push(b',');
        }
        let _ = write!(
            body,
            r#"{{"jsonrpc":"1.0","id":{i},"method":"{method}","params":[{p}]}}"#
        );
    }
    body.push(b']');
    body
}

fn varint(b: &[u8], p: &mut usize) -> io::Result<u64> {
    let first = *b.get(*p).ok_or_else(|| bad("truncated"))?;
    let (len, v) = match first {
        0xfd => (3, u64::from(u16::from_le_bytes(arr(b, *p + 1)?))),
        0xfe => (5, u64::from(u32::from_le_bytes(arr(b, *p + 1)?))),
        0xff => (9, u64::from_le_bytes(arr(b, *p + 1)?)),
        x => (1, u64::from(x)),
    };
    *p += len;
    Ok(v)
}

fn arr<const N: usize>(b: &[u8], at: usize) -> io::Result<[u8; N]> {
    b.get(at..at + N)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| bad("truncated"))
}

fn skip(b: &[u8], p: &mut usize, n: u64) -> io::Result<()> {
    let end = (*p as u64)
        .checked_add(n)
        .filter(|e| *e <= b.len() as u64)
        .ok_or_else(|| bad("truncated"))?;
    *p = end as usize;
    Ok(())
}

fn xor_into(acc: &mut [u8; 32], h: &[u8; 32]) {
    for (a, b) in acc.iter_mut().zip(h) {
        *a ^= b;
    }
}

/// Parses one block from its bytes: its hash must be `expect` (internal byte order); every
/// txid and output script hash is computed and folded into `r`.
fn parse_block(b: &[u8], expect: &[u8; 32], r: &mut FloorResult) -> io::Result<()> {
    let header = b.get(..80).ok_or_else(|| bad("truncated header"))?;
    if sha256d::Hash::hash(header).as_byte_array() != expect {
        return Err(bad("block hash differs from the one asked for"));
    }
    let mut p = 80;
    let n = varint(b, &mut p)?;
    for _ in 0..n {
        let start = p;
        skip(b, &mut p, 4)?;
        let segwit = b.get(p) == Some(&0) && b.get(p + 1) == Some(&1);
        if segwit {
            p += 2;
        }
        let body_start = p;
        let n_in = varint(b, &mut p)?;
        for _ in 0..n_in {
            skip(b, &mut p, 36)?;
            let len = varint(b, &mut p)?;
            skip(b, &mut p, len + 4)?;
        }
        let n_out = varint(b, &mut p)?;
        for _ in 0..n_out {
            skip(b, &mut p, 8)?;
            let len = varint(b, &mut p)?;
            let s = p;
            skip(b, &mut p, len)?;
            xor_into(
                &mut r.script_hash_xor,
                sha256::Hash::hash(&b[s..p]).as_byte_array(),
            );
            r.outputs += 1;
        }
        let body_end = p;
        if segwit {
            for _ in 0..n_in {
                let items = varint(b, &mut p)?;
                for _ in 0..items {
                    let len = varint(b, &mut p)?;
                    skip(b, &mut p, len)?;
                }
            }
        }
        skip(b, &mut p, 4)?;
        let txid = if segwit {
            let mut e = sha256d::Hash::engine();
            e.input(&b[start..start + 4]);
            e.input(&b[body_start..body_end]);
            e.input(&b[p - 4..p]);
            sha256d::Hash::from_engine(e)
        } else {
            sha256d::Hash::hash(&b[start..p])
        };
        xor_into(&mut r.txid_xor, txid.as_byte_array());
        r.txs += 1;
    }
    if p != b.len() {
        return Err(bad("bytes after the last transaction"));
    }
    r.blocks += 1;
    r.bytes += b.len() as u64;
    Ok(())
}

/// Hex of a hash in display order (reversed) → internal bytes.
fn hash_from_display(hex: &str) -> io::Result<[u8; 32]> {
    let mut h = [0u8; 32];
    faster_hex::hex_decode(hex.as_bytes(), &mut h).map_err(|_| bad("bad block hash"))?;
    h.reverse();
    Ok(h)
}

/// Fetches and parses blocks `from..=to` (all of the chain up to the daemon's height when
/// `to` is `None`) from the daemon at `url` (`http://user:pass@host:port/`).
///
/// # Errors
/// The daemon could not be reached, answered an error, or sent a bad block.
pub fn run(url: &str, transport: Transport, from: u32, to: Option<u32>) -> io::Result<FloorResult> {
    let cpu0 = thread_cpu_secs();
    let wall0 = Instant::now();
    let mut http = Http::connect(url)?;
    let to = match to {
        Some(t) => t,
        None => {
            let body = http.request(
                "POST",
                "/",
                br#"{"jsonrpc":"1.0","id":0,"method":"getblockcount","params":[]}"#,
            )?;
            serde_json::from_slice::<Count>(body)
                .map_err(|e| bad(format!("getblockcount: {e}")))?
                .result
        }
    };
    let mut r = FloorResult::default();
    let mut raw = Vec::new();
    let mut rest_path = String::new();
    let mut next = from;
    let mut batch = FIRST_BATCH;
    while next <= to {
        let n = batch.min((to - next + 1) as usize);
        let req = batch_request(
            "getblockhash",
            (next..next + n as u32).map(|h| h.to_string()),
        );
        let hashes: Vec<String> = batch_results(http.request("POST", "/", &req)?, n)?
            .into_iter()
            .map(str::to_string)
            .collect();
        match transport {
            Transport::Rpc => {
                let req = batch_request("getblock", hashes.iter().map(|h| format!("\"{h}\",0")));
                let body = http.request("POST", "/", &req)?;
                let hexes = batch_results(body, n)?;
                for (hex, hash) in hexes.iter().zip(&hashes) {
                    raw.resize(hex.len() / 2, 0);
                    faster_hex::hex_decode(hex.as_bytes(), &mut raw)
                        .map_err(|_| bad("bad block hex"))?;
                    parse_block(&raw, &hash_from_display(hash)?, &mut r)?;
                }
            }
            Transport::Rest => {
                for hash in &hashes {
                    rest_path.clear();
                    let _ = std::fmt::Write::write_fmt(
                        &mut rest_path,
                        format_args!("/rest/block/{hash}.bin"),
                    );
                    let path = std::mem::take(&mut rest_path);
                    let body = http.request("GET", &path, b"")?;
                    parse_block(body, &hash_from_display(hash)?, &mut r)?;
                    rest_path = path;
                }
            }
        }
        next += n as u32;
        let avg = (r.bytes / u64::from(r.blocks.max(1))).max(1) as usize;
        batch = (BATCH_BYTES / avg).clamp(1, MAX_BATCH);
    }
    r.cpu_secs = thread_cpu_secs() - cpu0;
    r.wall_secs = wall0.elapsed().as_secs_f64();
    Ok(r)
}

/// Whether the daemon answers REST (`/rest/chaininfo.json`, bitcoind with `-rest`).
pub fn rest_available(url: &str) -> bool {
    Http::connect(url)
        .and_then(|mut h| h.request("GET", "/rest/chaininfo.json", b"").map(|_| ()))
        .is_ok()
}
