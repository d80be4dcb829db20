//! Sending the same requests to both servers, and comparing the answers.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use ferrumx_simnode::Node;
use ferrumx_testkit::{sort_unconfirmed, Client, RpcErr};
use serde_json::{json, Value};

pub type Res = Result<Value, RpcErr>;
/// Something done to the stand-in's chain or mempool.
pub type Event = Box<dyn Fn(&mut Node)>;
pub type Call = (String, Value);

pub fn call(method: &str, params: Value) -> Call {
    (method.to_string(), params)
}

/// A session that negotiated `version`.
pub fn session(port: u16, version: &str) -> Client {
    let mut c = Client::tcp(port);
    c.negotiate("ferrumx-differential", version);
    c
}

/// `calls` on one server: split over `conns` sessions, each pipelining in chunks.
pub fn run_on(port: u16, version: &str, calls: &[Call], conns: usize) -> Vec<Res> {
    let per = calls.len().div_ceil(conns.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = calls
            .chunks(per)
            .map(|part| {
                s.spawn(move || {
                    let mut c = session(port, version);
                    // A sliding window of two chunks in flight, so that ElectrumX's send
                    // buffer keeps filling (it holds back a short tail up to 1 s).
                    let mut out = Vec::with_capacity(part.len());
                    let mut in_flight: VecDeque<Vec<u64>> = VecDeque::new();
                    for chunk in part.chunks(200) {
                        in_flight.push_back(
                            chunk.iter().map(|(m, p)| c.request(m, p.clone())).collect(),
                        );
                        if in_flight.len() > 1 {
                            let ids = in_flight.pop_front().expect("chunk");
                            out.extend(ids.into_iter().map(|id| c.response(id)));
                        }
                    }
                    for ids in in_flight {
                        out.extend(ids.into_iter().map(|id| c.response(id)));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("client thread"))
            .collect()
    })
}

/// `calls` sent one at a time on one session.
pub fn run_sequential(port: u16, version: &str, calls: &[Call]) -> Vec<Res> {
    let mut c = session(port, version);
    calls.iter().map(|(m, p)| c.call(m, p.clone())).collect()
}

/// The ElectrumX a comparison is with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// ElectrumX 1.20 (protocols 1.4-1.6): the reference below 1.7.
    V120,
    /// ElectrumX 2.0.0 (protocols 1.4-1.7): the reference at 1.7.
    V200,
}

impl Peer {
    /// Its name in `server.version` and `server.features`.
    pub fn name(self) -> &'static str {
        match self {
            Peer::V120 => "ElectrumX 1.20.0",
            Peer::V200 => "ElectrumX 2.0.0",
        }
    }
}

/// Whether `version` is a protocol below 1.7 (where FerrumX answers as ElectrumX 1.20).
pub fn below_1_7(version: &str) -> bool {
    version != "1.7"
}

/// Removes the allowed differences (`ALLOWED` in main.rs) from both answers of `method`
/// called with `params` at `version`; each is checked exactly: an answer that is not the
/// documented one is an error.
pub fn normalize(
    peer: Peer,
    version: &str,
    (method, params): (&str, &Value),
    fx: &mut Res,
    ex: &mut Res,
) -> Result<(), String> {
    match method {
        "server.version" => {
            if let (Ok(f), Ok(e)) = (fx.as_mut(), ex.as_mut()) {
                let (fname, ename) = (f[0].clone(), e[0].clone());
                if !fname.as_str().is_some_and(|s| s.starts_with("FerrumX ")) {
                    return Err(format!("FerrumX's name {fname}"));
                }
                if ename != json!(peer.name()) {
                    return Err(format!("ElectrumX's name {ename}"));
                }
                f[0] = Value::Null;
                e[0] = Value::Null;
            }
        }
        "server.features" => {
            if let (Ok(Value::Object(f)), Ok(Value::Object(e))) = (fx.as_mut(), ex.as_mut()) {
                let fname = f.remove("server_version").unwrap_or_default();
                let ename = e.remove("server_version").unwrap_or_default();
                if !fname.as_str().is_some_and(|s| s.starts_with("FerrumX ")) {
                    return Err(format!("FerrumX's server_version {fname}"));
                }
                if ename != json!(peer.name()) {
                    return Err(format!("ElectrumX's server_version {ename}"));
                }
                if peer == Peer::V120 {
                    let (fmax, emax) = (f.remove("protocol_max"), e.remove("protocol_max"));
                    if fmax != Some(json!("1.7.0")) {
                        return Err(format!("FerrumX's protocol_max {fmax:?}"));
                    }
                    if emax != Some(json!("1.6.0")) {
                        return Err(format!("ElectrumX's protocol_max {emax:?}"));
                    }
                }
            }
        }
        "blockchain.scripthash.listunspent" => {
            for v in [&mut *fx, &mut *ex].into_iter().flatten() {
                sort_unconfirmed(v);
            }
        }
        "blockchain.scriptpubkey.listunspent" => {
            for v in [&mut *fx, &mut *ex].into_iter().flatten() {
                sort_unconfirmed(&mut v["utxos"]);
            }
        }
        // An output index past 32 bits: ElectrumX 2.0.0 kept the subscription, FerrumX none
        // (it can never be notified).
        "blockchain.outpoint.unsubscribe"
            if params
                .get(1)
                .and_then(Value::as_u64)
                .is_some_and(|i| i > u64::from(u32::MAX))
                && *fx == Ok(json!(false))
                && *ex == Ok(json!(true)) =>
        {
            *ex = fx.clone();
        }
        _ => {}
    }
    if peer == Peer::V200 && below_1_7(version) {
        keep_1_20(method, params, fx, ex)?;
    }
    Ok(())
}

/// Where ElectrumX 2.0.0 answers a 1.4-1.6 client otherwise than 1.20 and FerrumX keeps
/// 1.20's answer (compatibility.md, "ElectrumX 2.0.0 and 1.4-1.6 clients"): both answers
/// must be exactly the documented ones; they are then made equal.
fn keep_1_20(method: &str, params: &Value, fx: &mut Res, ex: &mut Res) -> Result<(), String> {
    let too_large =
        |r: &Res, code: i64| matches!(r, Err((c, m)) if *c == code && m == "history too large");
    if too_large(fx, 1) && too_large(ex, 10001) {
        // "history too large": 1.20's code 1, 2.0.0's 10001.
        *ex = fx.clone();
    } else if method == "server.ping" && fx != ex {
        // Arguments: 1.20 takes none, 2.0.0 takes `pong_len` and `data` at every version
        // and ignores them below 1.7.
        let refused = |r: &Res, most: usize| {
            matches!(r, Err((-32602, m)) if m.ends_with(&format!(
                "arguments passed to method server.ping taking at most {most}"
            )))
        };
        let ignored = *ex == Ok(Value::Null) && matches!(fx, Err((-32602, _)));
        let fewer = refused(fx, 0) && refused(ex, 2) && {
            let n = |r: &Res| {
                r.as_ref()
                    .err()
                    .map(|(_, m)| m.split(' ').next().map(str::to_owned))
            };
            n(fx) == n(ex)
        };
        if !(ignored || fewer) {
            return Err(format!(
                "server.ping with arguments: FerrumX {}, ElectrumX {}",
                short(fx),
                short(ex)
            ));
        }
        *ex = fx.clone();
    } else if method == "blockchain.transaction.get_merkle" {
        // Above the tip: 1.20's db error, 2.0.0's "height N out of range".
        let height = params.get(1).cloned().unwrap_or_default();
        let out_of_range = format!("height {height} out of range");
        if let (Err((fc, fm)), Err((ec, em))) = (&*fx, &*ex) {
            if fc == ec && fm.starts_with("db error: DBError('block ") && *em == out_of_range {
                *ex = fx.clone();
            }
        }
    }
    Ok(())
}

/// Counts and differences of the whole run.
#[derive(Default)]
pub struct Report {
    /// Requests compared per (method, version, peer).
    pub compared: BTreeMap<(String, String, &'static str), usize>,
    pub diffs: Vec<String>,
}

impl Report {
    /// Counts one more comparison of `what` at `version` with `peer`.
    pub fn count(&mut self, what: &str, version: &str, peer: Peer, n: usize) {
        *self
            .compared
            .entry((what.to_string(), version.to_string(), peer.name()))
            .or_default() += n;
    }

    /// Adds another report's counts and differences.
    pub fn merge(&mut self, other: Report) {
        for ((m, v, p), n) in other.compared {
            *self.compared.entry((m, v, p)).or_default() += n;
        }
        self.diffs.extend(other.diffs);
    }

    pub fn compare(
        &mut self,
        peer: Peer,
        section: &str,
        version: &str,
        calls: &[Call],
        fx: Vec<Res>,
        ex: Vec<Res>,
    ) {
        assert_eq!(fx.len(), calls.len());
        assert_eq!(ex.len(), calls.len());
        // FERRUMX_DIFF_SHOW=<text>: print the requests containing <text> with both answers.
        let show = std::env::var("FERRUMX_DIFF_SHOW").ok();
        for ((m, p), (mut f, mut e)) in calls.iter().zip(fx.into_iter().zip(ex)) {
            if let Some(t) = &show {
                if format!("{m} {p}").contains(t.as_str()) {
                    eprintln!(
                        "[{version}] {section}: {m} {p}\n    FerrumX:   {}\n    ElectrumX: {}",
                        short(&f),
                        short(&e)
                    );
                }
            }
            self.count(m, version, peer, 1);
            let ename = peer.name();
            if let Err(why) = normalize(peer, version, (m, p), &mut f, &mut e) {
                self.diffs
                    .push(format!("[{version}, {ename}] {section}: {m} {p}: {why}"));
                continue;
            }
            if f != e {
                let text = format!(
                    "[{version}, {ename}] {section}: {m} {p}\n    FerrumX:   {}\n    ElectrumX: {}",
                    short(&f),
                    short(&e)
                );
                self.diffs.push(text);
            }
        }
    }
}

pub fn short(r: &Res) -> String {
    let s = match r {
        Ok(v) => format!("{v}"),
        Err((c, m)) => format!("error {c} {m:?}"),
    };
    if s.len() > 600 {
        format!("{}…({} chars)", &s[..600], s.len())
    } else {
        s
    }
}

/// FerrumX and one ElectrumX.
pub struct Pair {
    pub fx: u16,
    pub ex: u16,
    pub peer: Peer,
}

impl Pair {
    /// The same calls to both, in parallel, pipelined.
    pub fn both(&self, version: &str, calls: &[Call], conns: usize) -> (Vec<Res>, Vec<Res>) {
        std::thread::scope(|s| {
            let f = s.spawn(|| {
                let t = Instant::now();
                (run_on(self.fx, version, calls, conns), t.elapsed())
            });
            let e = s.spawn(|| {
                let t = Instant::now();
                (run_on(self.ex, version, calls, conns), t.elapsed())
            });
            let (f, ft) = f.join().expect("fx");
            let (e, et) = e.join().expect("ex");
            eprintln!("    FerrumX {ft:.1?}, {} {et:.1?}", self.peer.name());
            (f, e)
        })
    }

    pub fn compare(
        &self,
        r: &mut Report,
        section: &str,
        version: &str,
        calls: &[Call],
        conns: usize,
    ) {
        let t = Instant::now();
        let (f, e) = self.both(version, calls, conns);
        r.compare(self.peer, section, version, calls, f, e);
        eprintln!(
            "[{version}, {}] {section}: {} requests in {:.1?}",
            self.peer.name(),
            calls.len(),
            t.elapsed()
        );
    }

    pub fn compare_sequential(&self, r: &mut Report, section: &str, version: &str, calls: &[Call]) {
        let (f, e) = std::thread::scope(|s| {
            let f = s.spawn(|| run_sequential(self.fx, version, calls));
            let e = s.spawn(|| run_sequential(self.ex, version, calls));
            (f.join().expect("fx"), e.join().expect("ex"))
        });
        r.compare(self.peer, section, version, calls, f, e);
    }
}
