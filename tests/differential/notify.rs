//! Subscribers, what a notification changed as a client sees it, and following the
//! notifications of FerrumX and an ElectrumX through changes of the chain and mempool.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bitcoin::OutPoint;
use ferrumx_simnode::{ScriptHash, SimNode};
use ferrumx_testkit::Client;
use serde_json::{json, Value};

use crate::compare::{below_1_7, session, Event, Peer, Report};
use crate::outpoints::{compare_outpoint_notes, key, op_returns, truth_of, OutpointState};

/// A subscriber session: every script (by script hash up to 1.6, by scriptPubKey at 1.7)
/// and the headers.
pub struct Subscriber {
    pub client: Client,
    /// The status each script hash has as far as the client knows.
    pub status: BTreeMap<String, Value>,
    pub tip: Value,
    /// `server.ping` notifications received (protocol 1.7's noise; not compared).
    pub pings: usize,
    /// At 1.7: the status each subscribed outpoint (`txid:vout`) has as far as the client
    /// knows.
    pub outpoints: BTreeMap<String, Value>,
}

impl Subscriber {
    /// Subscribes to the headers and to `shs` (below 1.7) or `spks` (at 1.7: the script
    /// hash each notification names, and the scriptPubKey) and the outpoints `ops` (with
    /// their `spk_hint`).
    pub fn new(
        port: u16,
        version: &str,
        shs: &[ScriptHash],
        spks: &[(ScriptHash, String)],
        ops: &[(OutPoint, String)],
    ) -> Subscriber {
        let mut client = session(port, version);
        let tip = client
            .call("blockchain.headers.subscribe", json!([]))
            .expect("headers.subscribe");
        let keys: Vec<(String, &str, Value)> = if below_1_7(version) {
            shs.iter()
                .map(|sh| {
                    let sh = sh.to_string();
                    (sh.clone(), "blockchain.scripthash.subscribe", json!([sh]))
                })
                .collect()
        } else {
            spks.iter()
                .map(|(sh, spk)| {
                    (
                        sh.to_string(),
                        "blockchain.scriptpubkey.subscribe",
                        json!([spk]),
                    )
                })
                .collect()
        };
        let mut status = BTreeMap::new();
        for chunk in keys.chunks(250) {
            let ids: Vec<(String, u64)> = chunk
                .iter()
                .map(|(sh, m, p)| (sh.clone(), client.request(m, p.clone())))
                .collect();
            for (sh, id) in ids {
                // The over-long history's subscription is refused ("history too large"):
                // the refusal is compared like a status.
                let answer = match client.response(id) {
                    Ok(status) => status,
                    Err((code, message)) => json!({"refused": [code, message]}),
                };
                status.insert(sh, answer);
            }
        }
        let mut outpoints = BTreeMap::new();
        if !below_1_7(version) {
            for chunk in ops.chunks(250) {
                let ids: Vec<(String, u64)> = chunk
                    .iter()
                    .map(|(op, hint)| {
                        let p = json!([op.txid.to_string(), op.vout, hint]);
                        (key(op), client.request("blockchain.outpoint.subscribe", p))
                    })
                    .collect();
                for (k, id) in ids {
                    let answer = client.response(id).expect("outpoint.subscribe");
                    outpoints.insert(k, answer);
                }
            }
        }
        Subscriber {
            client,
            status,
            tip,
            pings: 0,
            outpoints,
        }
    }

    /// Notifications until none came for `quiet`.
    pub fn drain(&mut self, quiet: Duration) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        while let Some(n) = self.client.notification(quiet) {
            out.push(n);
        }
        out
    }
}

/// What one event changed, as a client sees it.
#[derive(Debug, Default, PartialEq)]
pub struct Seen {
    /// Script hashes whose status changed → their last status.
    pub changed: BTreeMap<String, Value>,
    /// Heights of the header notifications, in order.
    pub heights: Vec<Value>,
    /// The last header notified.
    pub last_header: Option<Value>,
    /// Notifications that repeated the status the client already knew.
    pub unchanged: usize,
    /// Notifications of other methods.
    pub other: Vec<(String, Value)>,
    /// Outpoints (`txid:vout`) whose status changed → their last status.
    pub outpoints: BTreeMap<String, Value>,
}

impl Seen {
    /// Adds what a later drain saw.
    pub fn absorb(&mut self, later: Seen) {
        self.changed.extend(later.changed);
        self.heights.extend(later.heights);
        if later.last_header.is_some() {
            self.last_header = later.last_header;
        }
        self.unchanged += later.unchanged;
        self.other.extend(later.other);
        self.outpoints.extend(later.outpoints);
    }
}

pub fn seen(sub: &mut Subscriber, notes: Vec<(String, Value)>) -> Seen {
    let mut s = Seen::default();
    for (method, params) in notes {
        match method.as_str() {
            "blockchain.scripthash.subscribe" | "blockchain.scriptpubkey.subscribe" => {
                let sh = params[0].as_str().expect("script hash").to_string();
                let new = params[1].clone();
                let known = sub.status.get(&sh).cloned().unwrap_or(Value::Null);
                if known == new {
                    s.unchanged += 1;
                } else {
                    sub.status.insert(sh.clone(), new.clone());
                    s.changed.insert(sh, new);
                }
            }
            "blockchain.headers.subscribe" => {
                s.heights.push(params[0]["height"].clone());
                s.last_header = Some(params[0].clone());
                sub.tip = params[0].clone();
            }
            "blockchain.outpoint.subscribe" => {
                let k = format!("{}:{}", params[0].as_str().unwrap_or("?"), params[1]);
                let new = params[2].clone();
                if sub.outpoints.get(&k) == Some(&new) {
                    s.unchanged += 1;
                } else {
                    sub.outpoints.insert(k.clone(), new.clone());
                    s.outpoints.insert(k, new);
                }
            }
            // Protocol 1.7's noise: `data` is zeros.
            "server.ping"
                if params.as_array().is_some_and(|a| {
                    a.len() == 1 && a[0].as_str().is_some_and(|d| d.bytes().all(|b| b == b'0'))
                }) =>
            {
                sub.pings += 1;
            }
            _ => s.other.push((method, params)),
        }
    }
    // A script hash that changed and changed back is unchanged in the end.
    s
}

/// FerrumX's and an ElectrumX's subscribers at one version.
pub struct Watch {
    pub version: String,
    pub peer: Peer,
    pub f: Subscriber,
    pub e: Subscriber,
}

/// Applies each event to the stand-in and compares what every watch's two subscribers are
/// notified; after each event (but an equal-height reorg) `after` compares fresh answers.
/// Returns the number of notifications received.
pub fn follow(
    sim: &SimNode,
    events: &[(&str, Event)],
    watches: &mut [Watch],
    report: &mut Report,
    ops: &[(OutPoint, String)],
    after: &dyn Fn(&mut Report, &str),
) -> usize {
    let mut notified = 0;
    let op_return = op_returns(ops);
    for (i, (what, event)) in events.iter().enumerate() {
        let new_tip = sim.with_node(|n| {
            event(n);
            n.tip_height()
        });
        let equal_height = what.starts_with("equal-height");
        let after_equal_height = i > 0 && events[i - 1].0.starts_with("equal-height");
        std::thread::sleep(Duration::from_millis(500));
        // All subscribers at once: each until it is at the new tip (ElectrumX not after an
        // equal-height reorg: it does not see one), then until 2.5 s pass without a
        // notification.
        let mut drained: Vec<Vec<(String, Value)>> = std::thread::scope(|s| {
            let handles: Vec<_> = watches
                .iter_mut()
                .flat_map(|w| [(&mut w.f, true), (&mut w.e, false)])
                .map(|(sub, is_fx)| {
                    s.spawn(move || {
                        let deadline = Instant::now() + Duration::from_secs(60);
                        let mut notes = sub.drain(Duration::from_millis(2500));
                        let at_tip = |notes: &[(String, Value)], sub: &Subscriber| {
                            notes
                                .iter()
                                .rev()
                                .find(|(m, _)| m == "blockchain.headers.subscribe")
                                .map_or(sub.tip["height"].clone(), |(_, p)| p[0]["height"].clone())
                                == json!(new_tip)
                        };
                        while !(at_tip(&notes, sub) || (equal_height && !is_fx))
                            && Instant::now() < deadline
                        {
                            notes.extend(sub.drain(Duration::from_millis(2500)));
                        }
                        notes
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("drain"))
                .collect()
        });
        drained.reverse();
        for w in watches.iter_mut() {
            let (v, f, e) = (
                format!("{}, {}", w.version, w.peer.name()),
                &mut w.f,
                &mut w.e,
            );
            let fnotes = drained.pop().expect("FerrumX's notifications");
            let enotes = drained.pop().expect("ElectrumX's notifications");
            notified += fnotes.len() + enotes.len();
            let f_before = f.outpoints.clone();
            let mut fs = seen(f, fnotes);
            let mut es = seen(e, enotes);
            // On a loaded machine a server may refresh its mempool only after the quiet
            // window (ElectrumX re-adds a reorg's transactions on its next mempool poll): while
            // the two clients know different statuses, keep draining both, for at most 30 s.
            // What they were notified is then compared as before.
            let settle = Instant::now() + Duration::from_secs(30);
            while !equal_height && f.status != e.status && Instant::now() < settle {
                let (fmore, emore) = std::thread::scope(|s| {
                    let fx = s.spawn(|| f.drain(Duration::from_millis(2500)));
                    let ex = e.drain(Duration::from_millis(2500));
                    (fx.join().expect("drain"), ex)
                });
                notified += fmore.len() + emore.len();
                fs.absorb(seen(f, fmore));
                es.absorb(seen(e, emore));
            }
            eprintln!(
                "[{v}] {what}: FerrumX {} changed, {} unchanged, headers {:?}; ElectrumX {} \
                 changed, {} unchanged, headers {:?}",
                fs.changed.len(),
                fs.unchanged,
                fs.heights,
                es.changed.len(),
                es.unchanged,
                es.heights
            );
            report.count(&format!("notifications ({what})"), &w.version, w.peer, 1);
            if !f.outpoints.is_empty() {
                // Outpoints: FerrumX's statuses are the truth's; ElectrumX 2.0.0's
                // notifications are FerrumX's but for the changes it misses.
                let truth = sim.with_node(|n| truth_of(n, ops));
                eprintln!(
                    "[{v}] {what}: outpoints: FerrumX {} changed, ElectrumX {} changed",
                    fs.outpoints.len(),
                    es.outpoints.len()
                );
                let wrong: Vec<_> = f
                    .outpoints
                    .iter()
                    .filter(|(k, st)| truth.get(*k) != Some(st))
                    .map(|(k, st)| format!("{k}: FerrumX {st}, the truth {:?}", truth.get(k)))
                    .take(10)
                    .collect();
                if !wrong.is_empty() {
                    report.diffs.push(format!(
                        "[{v}] after {what}, FerrumX's client knows outpoint statuses that are \
                         not the truth: {wrong:?}"
                    ));
                }
                let st = OutpointState {
                    before: &f_before,
                    after: &f.outpoints,
                    truth: &truth,
                    op_return: &op_return,
                };
                // (After an equal-height reorg ElectrumX sends nothing at all: below.)
                if !equal_height {
                    for d in compare_outpoint_notes(&fs.outpoints, &es.outpoints, &st) {
                        report
                            .diffs
                            .push(format!("[{v}] notifications after {what}: {d}"));
                    }
                }
                fs.outpoints.clear();
                es.outpoints.clear();
            }
            assert_eq!(
                f.tip["height"],
                json!(new_tip),
                "[{v}] {what}: FerrumX's tip"
            );
            if equal_height {
                // Allowed: ElectrumX does not see an equal-height reorg (its prefetcher
                // fetches only when the daemon's height grows): no notification at all.
                assert_eq!(fs.heights, vec![json!(new_tip)], "[{v}] {what}: FerrumX");
                if es != Seen::default() {
                    report.diffs.push(format!(
                        "[{v}] notifications after {what}: ElectrumX saw it: {es:?}"
                    ));
                }
                continue;
            }
            // Allowed: ElectrumX repeats unchanged statuses (FerrumX does not).
            es.unchanged = fs.unchanged;
            // The heights notified on the way depend on when each server polled.
            es.heights = fs.heights.clone();
            if after_equal_height {
                // ElectrumX's client learns the equal-height reorg's changes now, too.
                es.changed.clear();
                let mut fs = fs;
                fs.changed.clear();
                if fs != es {
                    report.diffs.push(format!(
                        "[{v}] notifications after {what}:\n    FerrumX:   {fs:?}\n    \
                         ElectrumX: {es:?}"
                    ));
                }
            } else if fs != es {
                report.diffs.push(format!(
                    "[{v}] notifications after {what}:\n    FerrumX:   {fs:?}\n    ElectrumX: {es:?}"
                ));
            }
            // What each client knows in the end is the same.
            if f.status != e.status || f.tip != e.tip {
                let differing: Vec<_> = f
                    .status
                    .iter()
                    .filter(|(k, s)| e.status.get(*k) != Some(s))
                    .map(|(k, s)| format!("{k}: FerrumX {s}, ElectrumX {:?}", e.status.get(k)))
                    .take(10)
                    .collect();
                report.diffs.push(format!(
                    "[{v}] after {what}, the clients know different statuses or tips: tips \
                     FerrumX {}, ElectrumX {}; {differing:?}",
                    f.tip, e.tip
                ));
            }
        }
        if !equal_height {
            // The final statuses equal a fresh subscription's on both.
            after(report, &format!("after {what}"));
        }
    }
    notified
}
