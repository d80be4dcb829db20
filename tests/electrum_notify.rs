//! Notifications over real sockets (tcp, ssl, ws, wss; protocols 1.4 to 1.7), checked against
//! statuses computed here from the stand-in's truth and mempool, never from the server's
//! answers. At 1.7 (ElectrumX 2.0.0) subscriptions are by scriptPubKey
//! (`blockchain.scriptpubkey.subscribe`, notified under that name with the script hash), and
//! the server adds `server.ping` notifications as noise, at random: a 1.7 session may receive
//! those (each with 128 zeros) besides exactly the expected ones.
//!
//! The status of a script hash is the SHA-256 of `txid:height:` for each confirmed transaction
//! in chain order, then `txid:0:` or `txid:-1:` for each mempool transaction touching it,
//! sorted by (has unconfirmed inputs, txid as displayed); null without history. After every
//! change on the stand-in each session must receive EXACTLY the notifications of the
//! subscriptions whose status changed, each once with the new status (plus one
//! `blockchain.headers.subscribe` when the tip changed, before them), and nothing else during a
//! quiet period after the last expected one.
//!
//! FerrumX notifies a script hash only when its status really changed (DESIGN §3); ElectrumX
//! 1.20 re-sends the status of every touched subscription even when it did not change.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::hashes::{sha256, Hash};
use bitcoin::hex::DisplayHex;
use bitcoin::secp256k1::Secp256k1;
use bitcoin::{Transaction, Txid};
use ferrumx_simnode::truth::is_unspendable;
use ferrumx_simnode::wallet::{Address, Kind as AddrKind};
use ferrumx_simnode::{GenParams, Node, ScriptHash, SimNode, SimNodeOptions};
use ferrumx_testkit::{
    free_port, listening_ports, prevout_script, Client, Electrum, Kind, Server, ServerEnv, TempDir,
    WAIT,
};
use serde_json::{json, Value};

/// How long nothing more may arrive after the last expected notification.
const QUIET: Duration = Duration::from_millis(500);
/// The bound on each notification while another session is stuck.
const PROMPT: Duration = Duration::from_secs(5);

const HEADERS: &str = "blockchain.headers.subscribe";
const SCRIPTHASH: &str = "blockchain.scripthash.subscribe";
const SCRIPTPUBKEY: &str = "blockchain.scriptpubkey.subscribe";
const PING: &str = "server.ping";

// ---------------------------------------------------------------------------------------------
// The expected side: statuses computed from the stand-in.
// ---------------------------------------------------------------------------------------------

/// Script hashes `tx` touches: its outputs' and its spent outputs'. Mempool transactions count
/// every output, `OP_RETURN` included (ElectrumX's mempool does); blocks index only spendable
/// outputs (`with_unspendable` false).
fn tx_touches(n: &Node, tx: &Transaction, with_unspendable: bool) -> HashSet<ScriptHash> {
    let mut out = HashSet::new();
    for o in &tx.output {
        if with_unspendable || !is_unspendable(&o.script_pubkey) {
            out.insert(ScriptHash::of(&o.script_pubkey));
        }
    }
    if !tx.is_coinbase() {
        for i in &tx.input {
            out.insert(ScriptHash::of(&prevout_script(n, &i.previous_output)));
        }
    }
    out
}

/// For each script hash the mempool touches: (has unconfirmed inputs, txid as displayed) of
/// each touching transaction, sorted as the status orders them.
fn mempool_index(n: &Node) -> HashMap<ScriptHash, Vec<(bool, String)>> {
    let mut out: HashMap<ScriptHash, Vec<(bool, String)>> = HashMap::new();
    for e in n.mempool.entries() {
        let unconfirmed =
            e.tx.input
                .iter()
                .any(|i| n.mempool.contains(&i.previous_output.txid));
        for sh in tx_touches(n, &e.tx, true) {
            out.entry(sh)
                .or_default()
                .push((unconfirmed, e.txid.to_string()));
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

/// The Electrum status of `sh` on the stand-in now.
fn status_of(
    n: &Node,
    mempool: &HashMap<ScriptHash, Vec<(bool, String)>>,
    sh: &ScriptHash,
) -> Option<String> {
    let mut s = String::new();
    for h in n.truth.history(sh, None) {
        write!(s, "{}:{}:", h.txid, h.height).expect("write");
    }
    for (unconfirmed, txid) in mempool.get(sh).into_iter().flatten() {
        let height = if *unconfirmed { -1 } else { 0 };
        write!(s, "{txid}:{height}:").expect("write");
    }
    (!s.is_empty()).then(|| {
        sha256::Hash::hash(s.as_bytes())
            .to_byte_array()
            .to_lower_hex_string()
    })
}

fn status_json(s: &Option<String>) -> Value {
    s.as_ref().map_or(Value::Null, |s| json!(s))
}

/// The stand-in's state as Electrum sees it: tip and the statuses of the subscribed hashes.
#[derive(Clone)]
struct Snap {
    height: u32,
    header: String,
    status: HashMap<ScriptHash, Option<String>>,
}

impl Snap {
    fn take(n: &Node, universe: &BTreeSet<ScriptHash>) -> Snap {
        let mempool = mempool_index(n);
        let tip = n.tip().expect("tip");
        Snap {
            height: tip.height,
            header: serialize_hex(&tip.header),
            status: universe
                .iter()
                .map(|sh| (*sh, status_of(n, &mempool, sh)))
                .collect(),
        }
    }

    fn header_json(&self) -> Value {
        json!({"height": self.height, "hex": self.header})
    }
}

/// Runs `op` on the stand-in and snapshots the result in the same critical section.
fn act<R>(
    e: &Electrum,
    universe: &BTreeSet<ScriptHash>,
    op: impl FnOnce(&mut Node) -> R,
) -> (R, Snap) {
    e.sim.with_node(|n| {
        let r = op(n);
        (r, Snap::take(n, universe))
    })
}

/// Script hashes of the wallet's next `count` addresses, in every kind: no history yet, and
/// the generator pays new addresses in this order.
fn future_addresses(n: &mut Node, count: u32) -> Vec<ScriptHash> {
    n.wallet_ready();
    let secp = Secp256k1::new();
    let start = n.gen.address_count() as u32;
    let seed = n.gen.params.seed;
    let mut out = Vec::new();
    for i in start..start + count {
        for k in AddrKind::ALL {
            out.push(ScriptHash::of(
                &Address::derive(&secp, seed, i, k).script_pubkey,
            ));
        }
    }
    out
}

/// Script hashes nothing will ever pay.
fn never_used(count: usize) -> Vec<ScriptHash> {
    (0..count)
        .map(|i| {
            ScriptHash(
                sha256::Hash::hash(format!("ferrumx-notify-unused-{i}").as_bytes()).to_byte_array(),
            )
        })
        .collect()
}

/// Every script hash the mempool touches, sorted.
fn mempool_hashes(n: &Node) -> Vec<ScriptHash> {
    let mut v: Vec<ScriptHash> = mempool_index(n).into_keys().collect();
    v.sort();
    v
}

/// Every `every`-th script hash with confirmed history, sorted.
fn history_hashes(n: &Node, every: usize) -> Vec<ScriptHash> {
    let mut v: Vec<ScriptHash> = n.truth.script_hashes().copied().collect();
    v.sort();
    v.into_iter().step_by(every.max(1)).collect()
}

/// Script hashes whose history has an entry in the last `blocks` blocks.
fn recent_hashes(n: &Node, blocks: u32) -> Vec<ScriptHash> {
    let from = n.tip_height().saturating_sub(blocks - 1);
    let mut v: Vec<ScriptHash> = n
        .truth
        .script_hashes()
        .filter(|sh| {
            n.truth
                .history(sh, None)
                .last()
                .is_some_and(|h| h.height >= from)
        })
        .copied()
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// The observed side: sessions and what they receive.
// ---------------------------------------------------------------------------------------------

/// A client session and what the test believes it is subscribed to.
struct Sess {
    name: String,
    c: Client,
    /// Script hash → the last status the session was told.
    subs: BTreeMap<ScriptHash, Option<String>>,
    headers: bool,
    /// Protocol 1.7: the scriptPubKeys (hex) it subscribes by.
    spks: Option<HashMap<ScriptHash, String>>,
}

impl Sess {
    fn open(e: &Electrum, kind: Kind, version: &str) -> Sess {
        Sess {
            name: format!("{kind:?}/{version}"),
            c: e.session(kind, version),
            subs: BTreeMap::new(),
            headers: false,
            spks: None,
        }
    }

    /// A session at protocol 1.7, subscribing by the scriptPubKeys of `spks`.
    fn open_1_7(e: &Electrum, kind: Kind, spks: &HashMap<ScriptHash, String>) -> Sess {
        Sess {
            spks: Some(spks.clone()),
            ..Sess::open(e, kind, "1.7")
        }
    }

    /// The notification method of its subscriptions.
    fn method(&self) -> &'static str {
        if self.spks.is_some() {
            SCRIPTPUBKEY
        } else {
            SCRIPTHASH
        }
    }

    /// Subscribes to headers; the answer must be the stand-in's tip.
    fn subscribe_headers(&mut self, snap: &Snap) {
        let r = self.c.call(HEADERS, json!([])).expect("headers.subscribe");
        assert_eq!(r, snap.header_json(), "{}: headers.subscribe", self.name);
        self.headers = true;
    }

    /// Subscribes to `shs` (pipelined); each answer must be the computed status.
    fn subscribe(&mut self, shs: &[ScriptHash], snap: &Snap) {
        let calls: Vec<(&str, Value)> = shs
            .iter()
            .map(|sh| match &self.spks {
                Some(spks) => (SCRIPTPUBKEY, json!([spks[sh]])),
                None => (SCRIPTHASH, json!([sh.to_string()])),
            })
            .collect();
        let answers = self.c.call_many(&calls);
        for (sh, a) in shs.iter().zip(answers) {
            let want = snap
                .status
                .get(sh)
                .expect("status of a hash in the universe");
            assert_eq!(
                a.unwrap_or_else(|e| panic!("{}: subscribe {sh}: {e:?}", self.name)),
                status_json(want),
                "{}: status of {sh} answered to subscribe",
                self.name
            );
            self.subs.insert(*sh, want.clone());
        }
    }
}

/// What one session should receive after a change.
#[derive(Clone, Debug)]
struct Expect {
    header: Option<Value>,
    /// Alias (as subscribed) → new status.
    statuses: BTreeMap<String, Value>,
    /// The method the statuses come under.
    method: &'static str,
    /// Whether `server.ping` noise may come too (protocol 1.7).
    pings: bool,
}

impl Expect {
    fn for_session(s: &Sess, old: &Snap, new: &Snap) -> Expect {
        let header = (s.headers && (old.height, &old.header) != (new.height, &new.header))
            .then(|| new.header_json());
        let statuses = s
            .subs
            .iter()
            .filter_map(|(sh, last)| {
                let now = new.status.get(sh).expect("status");
                (now != last).then(|| (sh.to_string(), status_json(now)))
            })
            .collect();
        Expect {
            header,
            statuses,
            method: s.method(),
            pings: s.spks.is_some(),
        }
    }

    fn len(&self) -> usize {
        self.statuses.len() + usize::from(self.header.is_some())
    }

    fn satisfied_by(&self, got: &[Got]) -> bool {
        let headers = got.iter().filter(|g| g.method == HEADERS).count();
        if headers < usize::from(self.header.is_some()) {
            return false;
        }
        let seen: HashSet<&str> = got
            .iter()
            .filter(|g| g.method == self.method)
            .filter_map(|g| g.params[0].as_str())
            .collect();
        self.statuses.keys().all(|k| seen.contains(k.as_str()))
    }
}

/// A received notification.
#[derive(Clone, Debug)]
struct Got {
    at: Instant,
    method: String,
    params: Value,
}

/// Reads notifications of `c` until `done(received)` or `deadline`.
fn read_until(c: &mut Client, deadline: Instant, mut done: impl FnMut(&[Got]) -> bool) -> Vec<Got> {
    let mut got = Vec::new();
    while !done(&got) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match c.notification(left) {
            Some((method, params)) => got.push(Got {
                at: Instant::now(),
                method,
                params,
            }),
            None => break,
        }
    }
    got
}

/// Collects each session's notifications (one reader thread per session): until every
/// expectation is met (at most `WAIT`), then for `QUIET` more.
fn collect(sessions: &mut [Sess], expects: &[Expect]) -> Vec<Vec<Got>> {
    let deadline = Instant::now() + WAIT;
    let mut got: Vec<Vec<Got>> = std::thread::scope(|s| {
        let handles: Vec<_> = sessions
            .iter_mut()
            .zip(expects)
            .map(|(sess, ex)| {
                s.spawn(move || read_until(&mut sess.c, deadline, |g| ex.satisfied_by(g)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("reader"))
            .collect()
    });
    let quiet_end = Instant::now() + QUIET;
    let extra: Vec<Vec<Got>> = std::thread::scope(|s| {
        let handles: Vec<_> = sessions
            .iter_mut()
            .map(|sess| s.spawn(move || read_until(&mut sess.c, quiet_end, |_| false)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("reader"))
            .collect()
    });
    for (g, x) in got.iter_mut().zip(extra) {
        g.extend(x);
    }
    got
}

/// Panics unless `got` is exactly `ex`: the header notification (if any) once and first, each
/// changed status once with its new value, nothing else.
fn check(label: &str, name: &str, ex: &Expect, got: &[Got]) {
    let mut problems = Vec::new();
    // Protocol 1.7's noise: `server.ping` with 128 zeros, whenever; set aside.
    let noise = |g: &Got| ex.pings && g.method == PING && g.params == json!(["0".repeat(128)]);
    let got: Vec<Got> = got.iter().filter(|g| !noise(g)).cloned().collect();
    let got = got.as_slice();
    let headers: Vec<&Got> = got.iter().filter(|g| g.method == HEADERS).collect();
    match (&ex.header, headers.as_slice()) {
        (None, []) => {}
        (Some(want), [one]) => {
            if one.params != json!([want]) {
                problems.push(format!("header notification {} != [{want}]", one.params));
            }
            if got.first().map(|g| &g.method) != Some(&HEADERS.to_string()) {
                problems.push("the header notification is not the first".into());
            }
        }
        (want, got_h) => problems.push(format!(
            "{} header notifications ({:?}), expected {:?}",
            got_h.len(),
            got_h.iter().map(|g| &g.params).collect::<Vec<_>>(),
            want
        )),
    }
    let mut seen: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for g in got {
        match g.method.as_str() {
            HEADERS => {}
            m if m == ex.method => {
                let alias = g.params[0].as_str().unwrap_or("?").to_string();
                seen.entry(alias).or_default().push(g.params[1].clone());
            }
            other => problems.push(format!("unexpected notification {other} {}", g.params)),
        }
    }
    for (alias, vals) in &seen {
        match ex.statuses.get(alias) {
            None => problems.push(format!("unexpected {alias}: {vals:?}")),
            Some(want) if vals.len() > 1 => problems.push(format!(
                "{alias} notified {} times: {vals:?} (want {want})",
                vals.len()
            )),
            Some(want) if &vals[0] != want => {
                problems.push(format!("{alias}: status {} != {want}", vals[0]))
            }
            Some(_) => {}
        }
    }
    for (alias, want) in &ex.statuses {
        if !seen.contains_key(alias) {
            problems.push(format!("missing {alias} (status {want})"));
        }
    }
    assert!(
        problems.is_empty(),
        "[{label}] session {name}: {} expected, {} received:\n  {}",
        ex.len(),
        got.len(),
        problems.join("\n  ")
    );
}

/// What one step saw.
struct Step<R> {
    r: R,
    expects: Vec<Expect>,
    got: Vec<Vec<Got>>,
    old: Snap,
    new: Snap,
}

/// One change on the stand-in (`op`), then every session must receive exactly the expected
/// notifications; the sessions' statuses are then updated.
fn step<R>(
    e: &Electrum,
    sessions: &mut [Sess],
    world: &mut Snap,
    universe: &BTreeSet<ScriptHash>,
    label: &str,
    op: impl FnOnce(&mut Node) -> R,
) -> Step<R> {
    let (r, new) = act(e, universe, op);
    let expects: Vec<Expect> = sessions
        .iter()
        .map(|s| Expect::for_session(s, world, &new))
        .collect();
    let total: usize = expects.iter().map(Expect::len).sum();
    assert!(
        total > 0,
        "[{label}] the change must be visible to some subscription"
    );
    let started = Instant::now();
    let got = collect(sessions, &expects);
    for ((s, ex), g) in sessions.iter_mut().zip(&expects).zip(&got) {
        check(label, &s.name, ex, g);
        for (sh, last) in s.subs.iter_mut() {
            *last = new.status[sh].clone();
        }
    }
    let last = got.iter().flatten().map(|g| g.at).max();
    eprintln!(
        "[{label}] {total} notifications over {} sessions, the last after {:?}",
        sessions.len(),
        last.map(|l| l.duration_since(started))
    );
    let old = std::mem::replace(world, new.clone());
    Step {
        r,
        expects,
        got,
        old,
        new,
    }
}

/// The aliases notified to any session in a step.
fn notified<R>(s: &Step<R>) -> HashSet<ScriptHash> {
    s.expects
        .iter()
        .flat_map(|e| e.statuses.keys())
        .map(|a| ScriptHash::from_hex(a).expect("alias"))
        .collect()
}

/// Opens one session per `(kind, version)` of `specs`; session `i` subscribes to headers and
/// to `shs(i)`, each answer checked against `world`.
fn open_sessions(
    e: &Electrum,
    specs: &[(Kind, &str)],
    world: &Snap,
    shs: impl Fn(usize) -> Vec<ScriptHash>,
) -> Vec<Sess> {
    specs
        .iter()
        .enumerate()
        .map(|(i, (kind, v))| {
            let mut s = Sess::open(e, *kind, v);
            s.subscribe_headers(world);
            s.subscribe(&shs(i), world);
            s
        })
        .collect()
}

/// Session `i`'s share of the universe: three in four, a different quarter left out by each.
fn share(universe: &BTreeSet<ScriptHash>, i: usize) -> Vec<ScriptHash> {
    universe
        .iter()
        .enumerate()
        .filter(|(j, _)| (j + i) % 4 != 0)
        .map(|(_, sh)| *sh)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Scenarios.
// ---------------------------------------------------------------------------------------------

/// The scene of the mempool and block tests: a fixture chain with 60 mempool transactions;
/// a universe of script hashes (every sixth with history, every one the mempool touches,
/// the wallet's next addresses, three never used); five sessions over every transport and
/// version, each subscribed to headers and to three quarters of the universe.
struct Scene {
    e: Electrum,
    universe: BTreeSet<ScriptHash>,
    world: Snap,
    sessions: Vec<Sess>,
}

fn scene(name: &str) -> Scene {
    let mut node = Node::generate(GenParams::fixture(51));
    node.add_traffic(60);
    let e = Electrum::start(name, node, &[]);
    let universe: BTreeSet<ScriptHash> = e.sim.with_node(|n| {
        let mut u: BTreeSet<ScriptHash> = history_hashes(n, 6).into_iter().collect();
        u.extend(mempool_hashes(n));
        u.extend(future_addresses(n, 6));
        u.extend(never_used(3));
        u
    });
    let (_, world) = act(&e, &universe, |_| ());
    let specs = [
        (Kind::Tcp, "1.4"),
        (Kind::Ssl, "1.6"),
        (Kind::Ws, "1.4"),
        (Kind::Wss, "1.6"),
        (Kind::Tcp, "1.6"),
    ];
    let sessions = open_sessions(&e, &specs, &world, |i| share(&universe, i));
    let nulls = world.status.values().filter(|s| s.is_none()).count();
    let in_mempool = e.sim.with_node(|n| mempool_hashes(n).len());
    eprintln!(
        "{} script hashes ({nulls} without history, {in_mempool} touched by the mempool), {} subscriptions",
        universe.len(),
        sessions.iter().map(|s| s.subs.len()).sum::<usize>()
    );
    assert!(nulls >= 50 && in_mempool >= 50, "a meaningful universe");
    Scene {
        e,
        universe,
        world,
        sessions,
    }
}

/// New mempool transactions, some paying addresses that had no history: each session gets
/// exactly the changed statuses, once.
#[test]
fn new_mempool_transactions_notify_exactly_the_changed_statuses() {
    let Scene {
        e,
        universe,
        mut world,
        mut sessions,
    } = scene("notify-traffic");
    let s = step(
        &e,
        &mut sessions,
        &mut world,
        &universe,
        "add_traffic",
        |n| n.add_traffic(15),
    );
    assert!(!s.r.is_empty());
    let fresh = universe
        .iter()
        .filter(|sh| s.old.status[sh].is_none() && s.new.status[sh].is_some())
        .count();
    assert!(
        fresh > 0,
        "some hash without history got its first transaction"
    );
}

/// RBF: the replaced transaction's and the replacement's script hashes.
#[test]
fn an_rbf_replacement_notifies_the_replaced_and_the_replacing_script_hashes() {
    let Scene {
        e,
        universe,
        mut world,
        mut sessions,
    } = scene("notify-rbf");
    let universe_ref = &universe;
    let s = step(
        &e,
        &mut sessions,
        &mut world,
        &universe,
        "rbf_replace",
        |n| {
            let mut candidates = n.mempool.sorted_txids();
            candidates.sort();
            for old in candidates {
                let old_tx = n.mempool.get(&old).expect("entry").tx.clone();
                let old_touch = tx_touches(n, &old_tx, true);
                if old_touch.iter().all(|sh| !universe_ref.contains(sh)) {
                    continue;
                }
                if let Ok(new) = n.rbf_replace(&old) {
                    let new_tx = n.mempool.get(&new).expect("replacement").tx.clone();
                    let new_touch = tx_touches(n, &new_tx, true);
                    return (old, old_touch, new, new_touch);
                }
            }
            panic!("no mempool transaction could be replaced");
        },
    );
    let (old, old_touch, new, new_touch) = &s.r;
    let changed = notified(&s);
    assert!(
        changed
            .iter()
            .any(|sh| old_touch.contains(sh) && !new_touch.contains(sh)),
        "a script hash only the replaced {old} touched was notified"
    );
    assert!(
        changed.iter().any(|sh| new_touch.contains(sh)),
        "a script hash the replacement {new} touches was notified"
    );
}

/// Eviction of a transaction with descendants.
#[test]
fn an_eviction_with_descendants_notifies_exactly_the_changed_statuses() {
    let Scene {
        e,
        universe,
        mut world,
        mut sessions,
    } = scene("notify-evict");
    let universe_ref = &universe;
    let s = step(&e, &mut sessions, &mut world, &universe, "evict", |n| {
        let mut txids = n.mempool.sorted_txids();
        txids.sort();
        let pick = txids
            .iter()
            .copied()
            .filter(|t| {
                let tx = &n.mempool.get(t).expect("entry").tx;
                tx_touches(n, tx, true)
                    .iter()
                    .any(|sh| universe_ref.contains(sh))
            })
            .max_by_key(|t| n.mempool.descendants(t).len())
            .expect("a transaction to evict");
        n.evict(&pick).expect("evict")
    });
    assert!(s.r.len() >= 2, "evicted with descendants: {:?}", s.r);
}

/// A block with a parent but not its child: the child's status goes from -1 to 0 although
/// the block does not touch the child's script hash (statuses with mempool transactions
/// are re-checked on a new tip, as ElectrumX does).
#[test]
fn a_block_confirming_a_parent_but_not_its_child_renotifies_the_child() {
    let Scene {
        e,
        universe,
        mut world,
        mut sessions,
    } = scene("notify-parent");
    let universe_ref = &universe;
    let s = step(
        &e,
        &mut sessions,
        &mut world,
        &universe,
        "mine parent only",
        |n| {
            let (parent, child_sh) = parent_with_lone_child(n, universe_ref)
                .expect("a mempool parent whose child only it feeds");
            let e = n.mempool.get(&parent).expect("parent").clone();
            n.build_and_connect(vec![e.tx.clone()], e.fee, 4_000 + e.weight, 0)
                .expect("block");
            (parent, child_sh, tx_touches(n, &e.tx, false))
        },
    );
    let (parent, child_sh, block_touch) = &s.r;
    assert!(!block_touch.contains(child_sh));
    assert!(
        notified(&s).contains(child_sh),
        "the child of {parent} (script hash {child_sh}) was notified"
    );
    assert_eq!(s.new.height, s.old.height + 1);
}

/// A block confirming the whole mempool: each transaction moving from the mempool to the
/// block changes its script hashes' statuses once (block and mempool refresh coalesced).
#[test]
fn a_block_confirming_the_whole_mempool_notifies_each_status_once() {
    let Scene {
        e,
        universe,
        mut world,
        mut sessions,
    } = scene("notify-mine-all");
    let s = step(&e, &mut sessions, &mut world, &universe, "mine all", |n| {
        let before: Vec<Txid> = n.mempool.sorted_txids();
        n.mine(1).expect("mine");
        assert!(n.mempool.is_empty());
        before
    });
    assert!(s.r.len() > 20);
    let moved: usize = s.expects.iter().map(|x| x.statuses.len()).sum();
    eprintln!(
        "mine all: {} txs confirmed, {moved} status notifications",
        s.r.len()
    );
    assert!(s.got.iter().all(|g| g.iter().any(|g| g.method == HEADERS)));
}

/// A mempool transaction whose only in-mempool parent has no in-mempool parent itself, with
/// an output script hash in `universe` that the parent does not touch: (parent, that hash).
fn parent_with_lone_child(n: &Node, universe: &BTreeSet<ScriptHash>) -> Option<(Txid, ScriptHash)> {
    let mut txids = n.mempool.sorted_txids();
    txids.sort();
    for p in txids {
        if !n.mempool.parents(&p).is_empty() {
            continue;
        }
        let ptx = &n.mempool.get(&p)?.tx;
        let block_touch = tx_touches(n, ptx, false);
        for c in n.mempool.children(&p) {
            if n.mempool.parents(&c).len() != 1 {
                continue;
            }
            let ctx = &n.mempool.get(&c)?.tx;
            for o in &ctx.output {
                let sh = ScriptHash::of(&o.script_pubkey);
                if universe.contains(&sh) && !block_touch.contains(&sh) {
                    return Some((p, sh));
                }
            }
        }
    }
    None
}

/// Reorgs of depth 1, 2 and 5 (longer new branches) and of depth 2 at equal height.
#[test]
fn reorgs_notify_the_new_tip_and_exactly_the_changed_statuses() {
    let mut node = Node::generate(GenParams::fixture(52));
    node.add_traffic(40);
    let e = Electrum::start("notify-reorg", node, &[]);
    let universe: BTreeSet<ScriptHash> = e.sim.with_node(|n| {
        let mut u: BTreeSet<ScriptHash> = recent_hashes(n, 8).into_iter().collect();
        u.extend(mempool_hashes(n));
        u.extend(future_addresses(n, 4));
        u
    });
    let (_, mut world) = act(&e, &universe, |_| ());
    let specs = [(Kind::Tcp, "1.4"), (Kind::Wss, "1.6"), (Kind::Ws, "1.6")];
    let mut sessions = open_sessions(&e, &specs, &world, |i| share(&universe, i));
    eprintln!(
        "{} script hashes, {} subscriptions",
        universe.len(),
        sessions.iter().map(|s| s.subs.len()).sum::<usize>()
    );
    // The mempool into a block first, so the reorgs move, return and double-spend it.
    step(&e, &mut sessions, &mut world, &universe, "mine", |n| {
        n.mine(1)
    });
    // Fates of the old branches' transactions, over all reorgs.
    let (mut moved, mut returned, mut gone) = (0, 0, 0);
    for (depth, new_blocks) in [(1, 2), (2, 3), (5, 6), (2, 2)] {
        let label = format!("reorg({depth}, {new_blocks})");
        let s = step(&e, &mut sessions, &mut world, &universe, &label, |n| {
            let tip = n.tip_height();
            let txids_from = |n: &Node, from: u32| -> Vec<Txid> {
                (from..=n.tip_height())
                    .flat_map(|h| n.block_at(h).expect("block").txids[1..].to_vec())
                    .collect()
            };
            let old = txids_from(n, tip - depth + 1);
            n.reorg(depth, new_blocks).expect("reorg");
            let new: HashSet<Txid> = txids_from(n, tip - depth + 1).into_iter().collect();
            let m = old.iter().filter(|t| new.contains(*t)).count();
            let r = old.iter().filter(|t| n.mempool.contains(t)).count();
            (m, r, old.len() - m - r)
        });
        eprintln!(
            "{label}: old branch transactions: {} in the new branch, {} back in the mempool, \
             {} gone (double-spent or conflicted)",
            s.r.0, s.r.1, s.r.2
        );
        moved += s.r.0;
        returned += s.r.1;
        gone += s.r.2;
        assert_eq!(s.new.height, s.old.height - depth + new_blocks);
        // Equal height: ElectrumX 1.20 does not notify headers subscribers when the height
        // does not change (its `height_changed`); FerrumX deliberately notifies the new tip
        // whenever the tip's hash changes, which `Expect` requires here.
        assert!(
            s.expects.iter().all(|x| x.header.is_some()),
            "{label}: every session is sent the new tip"
        );
        assert!(
            !notified(&s).is_empty(),
            "{label}: some subscribed status changed"
        );
        step(
            &e,
            &mut sessions,
            &mut world,
            &universe,
            &format!("traffic after {label}"),
            |n| n.add_traffic(12),
        );
    }
    assert!(
        moved > 0 && returned > 0 && gone > 0,
        "the reorgs moved ({moved}), returned ({returned}) and dropped ({gone}) transactions"
    );
}

/// The scriptPubKey (hex) of every output of the stand-in's chain and mempool, of the
/// wallet's next `future` addresses of every kind, and of `unused` scripts nothing pays, by
/// script hash.
fn script_pubkeys(n: &mut Node, future: u32, unused: usize) -> HashMap<ScriptHash, String> {
    let mut out: HashMap<ScriptHash, String> = HashMap::new();
    let mut add = |script: &bitcoin::Script| {
        out.insert(
            ScriptHash::of(script),
            script.as_bytes().to_lower_hex_string(),
        );
    };
    let mut txs: Vec<Transaction> = n.mempool.entries().map(|e| e.tx.clone()).collect();
    for h in 0..=n.tip_height() {
        let raw = &n.block_at(h).expect("block").raw;
        let block: bitcoin::Block = bitcoin::consensus::deserialize(raw).expect("block");
        txs.extend(block.txdata);
    }
    for tx in &txs {
        for o in &tx.output {
            add(&o.script_pubkey);
        }
    }
    n.wallet_ready();
    let secp = Secp256k1::new();
    let start = n.gen.address_count() as u32;
    let seed = n.gen.params.seed;
    for i in start..start + future {
        for k in AddrKind::ALL {
            add(&Address::derive(&secp, seed, i, k).script_pubkey);
        }
    }
    for i in 0..unused {
        let script = bitcoin::ScriptBuf::from_bytes(format!("ferrumx-unused-{i}").into_bytes());
        add(&script);
    }
    out
}

/// A change made on the stand-in.
type Change = Box<dyn FnOnce(&mut Node)>;

/// Protocol 1.7 (ElectrumX 2.0.0): sessions subscribed by scriptPubKey are notified as
/// `blockchain.scriptpubkey.subscribe` (script hash, status) — exactly the changed statuses,
/// once each — through mempool changes, a block and reorgs, beside a 1.6 session notified
/// as before; `server.ping` noise (128 zeros) is allowed to 1.7 sessions only.
#[test]
fn protocol_1_7_scriptpubkey_subscriptions_follow_mempool_blocks_and_reorgs() {
    let mut node = Node::generate(GenParams::fixture(53));
    node.add_traffic(40);
    let e = Electrum::start("notify-1-7", node, &[]);
    let (universe, spks) = e.sim.with_node(|n| {
        let spks = script_pubkeys(n, 4, 3);
        let mut u: BTreeSet<ScriptHash> = recent_hashes(n, 8).into_iter().collect();
        u.extend(mempool_hashes(n));
        u.extend(future_addresses(n, 4));
        let unused: Vec<ScriptHash> = (0..3)
            .map(|i| {
                ScriptHash::of(bitcoin::Script::from_bytes(
                    format!("ferrumx-unused-{i}").as_bytes(),
                ))
            })
            .collect();
        u.extend(unused);
        (u, spks)
    });
    assert!(
        universe.iter().all(|sh| spks.contains_key(sh)),
        "every subscribed script hash has a known scriptPubKey"
    );
    let (_, mut world) = act(&e, &universe, |_| ());
    let mut sessions = vec![
        Sess::open_1_7(&e, Kind::Tcp, &spks),
        Sess::open_1_7(&e, Kind::Wss, &spks),
        Sess::open(&e, Kind::Ssl, "1.6"),
        // Headers only: one notification per block, so ElectrumX 2.0's rule adds a ping.
        Sess::open_1_7(&e, Kind::Ws, &spks),
    ];
    for (i, s) in sessions.iter_mut().enumerate() {
        s.subscribe_headers(&world);
        if i < 3 {
            s.subscribe(&share(&universe, i), &world);
        }
    }
    eprintln!(
        "{} script hashes, {} subscriptions",
        universe.len(),
        sessions.iter().map(|s| s.subs.len()).sum::<usize>()
    );
    let steps: [(&str, Change); 5] = [
        ("traffic", Box::new(|n: &mut Node| drop(n.add_traffic(15)))),
        (
            "mine",
            Box::new(|n: &mut Node| drop(n.mine(1).expect("mine"))),
        ),
        (
            "traffic again",
            Box::new(|n: &mut Node| drop(n.add_traffic(12))),
        ),
        (
            "reorg(2, 3)",
            Box::new(|n: &mut Node| drop(n.reorg(2, 3).expect("reorg"))),
        ),
        (
            "traffic after the reorg",
            Box::new(|n: &mut Node| drop(n.add_traffic(12))),
        ),
    ];
    let mut by_spk = 0;
    for (label, op) in steps {
        let s = step(&e, &mut sessions, &mut world, &universe, label, op);
        by_spk += s.expects[..2]
            .iter()
            .map(|x| x.statuses.len())
            .sum::<usize>();
        for (ex, got) in s.expects.iter().zip(&s.got) {
            let wrong = if ex.pings { SCRIPTHASH } else { SCRIPTPUBKEY };
            assert!(got.iter().all(|g| g.method != wrong), "{label}: {wrong}");
        }
        assert!(
            s.got[2].iter().all(|g| g.method != PING),
            "{label}: no noise below 1.7"
        );
        if s.new.header != s.old.header {
            assert!(
                s.got[3].iter().any(|g| g.method == PING),
                "{label}: a ping pads a lone header notification at 1.7"
            );
        }
    }
    assert!(by_spk > 20, "{by_spk} scriptpubkey notifications");
}

/// `blockchain.scripthash.unsubscribe` (protocol 1.4.2 on) stops one session's notifications
/// for that script hash; other sessions still get theirs. Protocol 1.4 does not know it.
#[test]
fn unsubscribe_stops_notifications_for_that_session_only() {
    let mut node = Node::generate(GenParams::fixture(53));
    node.add_traffic(40);
    let e = Electrum::start("notify-unsub", node, &[]);
    let shs: Vec<ScriptHash> = e.sim.with_node(|n| mempool_hashes(n));
    let universe: BTreeSet<ScriptHash> = shs.iter().copied().collect();
    let (_, mut world) = act(&e, &universe, |_| ());
    let specs = [(Kind::Tcp, "1.4.2"), (Kind::Ws, "1.6"), (Kind::Ssl, "1.4")];
    let mut sessions = open_sessions(&e, &specs, &world, |_| shs.clone());
    let dropped: Vec<ScriptHash> = shs.iter().step_by(2).copied().collect();
    for sess in &mut sessions[..2] {
        let calls: Vec<(&str, Value)> = dropped
            .iter()
            .map(|sh| ("blockchain.scripthash.unsubscribe", json!([sh.to_string()])))
            .collect();
        for (sh, r) in dropped.iter().zip(sess.c.call_many(&calls)) {
            assert_eq!(r, Ok(json!(true)), "{}: unsubscribe {sh}", sess.name);
            sess.subs.remove(sh);
        }
        // Again: no longer subscribed.
        let again = sess.c.call(
            "blockchain.scripthash.unsubscribe",
            json!([dropped[0].to_string()]),
        );
        assert_eq!(again, Ok(json!(false)), "{}: second unsubscribe", sess.name);
        let never = sess.c.call(
            "blockchain.scripthash.unsubscribe",
            json!([never_used(1)[0].to_string()]),
        );
        assert_eq!(never, Ok(json!(false)), "{}: never subscribed", sess.name);
    }
    let old = &mut sessions[2];
    let r = old.c.call(
        "blockchain.scripthash.unsubscribe",
        json!([dropped[0].to_string()]),
    );
    assert_eq!(
        r.map_err(|e| e.0),
        Err(-32601),
        "protocol 1.4 has no unsubscribe"
    );
    let s = step(
        &e,
        &mut sessions,
        &mut world,
        &universe,
        "mine after unsubscribe",
        |n| n.mine(1),
    );
    // The dropped hashes changed (everything left the mempool) and reached only the session
    // still subscribed to them.
    let dropped_aliases: HashSet<String> = dropped.iter().map(ToString::to_string).collect();
    // (Counted on what each session received, not on the expectations built from the test's
    // own model, where the dropped hashes were removed.)
    for (i, (x, got)) in s.expects.iter().zip(&s.got).enumerate() {
        let hits = got
            .iter()
            .filter(|g| g.method == SCRIPTHASH)
            .filter(|g| {
                g.params[0]
                    .as_str()
                    .is_some_and(|a| dropped_aliases.contains(a))
            })
            .count();
        if i < 2 {
            assert_eq!(hits, 0);
        } else {
            assert_eq!(
                hits,
                dropped.len(),
                "the 1.4 session still gets every dropped hash"
            );
        }
        assert!(!x.statuses.is_empty());
    }
}

/// A session that never reads does not delay anyone else's notifications or answers; the
/// server closes it once nothing could be sent to it for SEND_TIMEOUT (its unsent answers
/// are bounded meanwhile: see tests/slow_readers.rs).
/// The server's log line when it closes a session that stopped reading (SEND_TIMEOUT 3 s).
const STUCK_CLOSED: &str = "closing session: nothing could be sent for 3 s";

#[test]
fn a_session_that_never_reads_does_not_stall_the_others() {
    let node = Node::generate(GenParams::fixture(54));
    // Throttling off: the stuck session must fill its queue, not be slowed down.
    let e = Electrum::start(
        "notify-stuck",
        node,
        &[
            ("COST_SOFT_LIMIT", "100000000"),
            ("COST_HARD_LIMIT", "1000000000"),
            ("SEND_TIMEOUT", "3"),
        ],
    );
    let tip0 = e.sim.with_node(|n| n.tip_height());

    // The stuck client: headers and a few script hashes, then lots of big answers it never
    // reads (each ~24 KB: every header of the chain).
    let mut stuck = TcpStream::connect(("127.0.0.1", e.tcp)).expect("connect");
    stuck.set_nodelay(true).expect("nodelay");
    let mut msgs = String::new();
    msgs.push_str(r#"{"jsonrpc":"2.0","id":0,"method":"server.version","params":["stuck","1.6"]}"#);
    msgs.push('\n');
    msgs.push_str(
        r#"{"jsonrpc":"2.0","id":1,"method":"blockchain.headers.subscribe","params":[]}"#,
    );
    msgs.push('\n');
    for (i, sh) in e
        .sim
        .with_node(|n| history_hashes(n, 10))
        .iter()
        .enumerate()
    {
        writeln!(
            msgs,
            r#"{{"jsonrpc":"2.0","id":{},"method":"blockchain.scripthash.subscribe","params":["{sh}"]}}"#,
            i + 2
        )
        .expect("write");
    }
    for i in 0..2_000 {
        writeln!(
            msgs,
            r#"{{"jsonrpc":"2.0","id":{},"method":"blockchain.block.headers","params":[0,2016]}}"#,
            10_000 + i
        )
        .expect("write");
    }
    let mut w = stuck.try_clone().expect("clone");
    w.set_write_timeout(Some(WAIT)).expect("timeout");
    let writer = std::thread::spawn(move || {
        // Blocks once the server stops reading; fails when it closes the connection.
        let _ = w.write_all(msgs.as_bytes());
    });

    let mut good: Vec<(String, Client)> =
        [(Kind::Tcp, "1.6"), (Kind::Ssl, "1.4"), (Kind::Ws, "1.6")]
            .iter()
            .map(|(k, v)| {
                let mut c = e.session(*k, v);
                let h = c.call(HEADERS, json!([])).expect("headers.subscribe");
                assert_eq!(h["height"], json!(tip0));
                (format!("{k:?}/{v}"), c)
            })
            .collect();

    // Blocks every 200 ms until the server has closed the stuck session (and at least 10).
    let final_height = AtomicU32::new(0);
    let mined: Mutex<Vec<(u32, Instant)>> = Mutex::new(Vec::new());
    let slowest_answer = Mutex::new(Duration::ZERO);
    let results: Vec<Vec<Got>> = std::thread::scope(|s| {
        let handles: Vec<_> = good
            .iter_mut()
            .enumerate()
            .map(|(i, (_, c))| {
                let (final_height, slowest_answer) = (&final_height, &slowest_answer);
                s.spawn(move || {
                    let deadline = Instant::now() + 3 * WAIT;
                    let mut got: Vec<Got> = Vec::new();
                    loop {
                        let fin = final_height.load(Ordering::SeqCst);
                        let top = got
                            .iter()
                            .filter_map(|g| g.params[0]["height"].as_u64())
                            .max()
                            .unwrap_or(0);
                        if fin != 0 && top >= u64::from(fin) {
                            break;
                        }
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        let Some((method, params)) =
                            c.notification(left.min(Duration::from_millis(200)))
                        else {
                            continue;
                        };
                        got.push(Got {
                            at: Instant::now(),
                            method,
                            params: params.clone(),
                        });
                        // The first session also asks for each new header: answered promptly.
                        if i == 0 {
                            let h = params[0]["height"].as_u64().expect("height");
                            let t = Instant::now();
                            let hex = c
                                .call("blockchain.block.header", json!([h]))
                                .expect("header");
                            let took = t.elapsed();
                            assert_eq!(hex, params[0]["hex"]);
                            let mut slow = slowest_answer.lock().unwrap();
                            *slow = (*slow).max(took);
                        }
                    }
                    got
                })
            })
            .collect();
        let started = Instant::now();
        let mut closed = false;
        for i in 0..100 {
            let (h, t) = e.sim.with_node(|n| {
                n.add_traffic(2);
                n.mine(1).expect("mine");
                (n.tip_height(), Instant::now())
            });
            mined.lock().unwrap().push((h, t));
            closed = e.server.count(STUCK_CLOSED) > 0;
            if (closed && i >= 10) || started.elapsed() > Duration::from_secs(20) {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        final_height.store(e.sim.with_node(|n| n.tip_height()), Ordering::SeqCst);
        assert!(closed, "the server closed the session that does not read");
        handles
            .into_iter()
            .map(|h| h.join().expect("reader"))
            .collect()
    });
    let mined = mined.into_inner().unwrap();
    let fin = final_height.load(Ordering::SeqCst);
    let headers: HashMap<u32, String> = e.sim.with_node(|n| {
        (tip0 + 1..=fin)
            .map(|h| (h, serialize_hex(&n.block_at(h).expect("block").header)))
            .collect()
    });
    let mut worst = Duration::ZERO;
    let mut delays: Vec<Duration> = Vec::new();
    for ((name, _), got) in good.iter().zip(&results) {
        let heights: Vec<u32> = got
            .iter()
            .map(|g| {
                assert_eq!(g.method, HEADERS, "{name}: {g:?}");
                let h = g.params[0]["height"].as_u64().expect("height") as u32;
                assert_eq!(g.params[0]["hex"], json!(headers[&h]), "{name}: header {h}");
                h
            })
            .collect();
        assert!(
            heights.windows(2).all(|w| w[0] < w[1]),
            "{name}: each tip once, in order: {heights:?}"
        );
        assert_eq!(heights.last(), Some(&fin), "{name}: the final tip");
        for (h, t) in &mined {
            let arrived = got
                .iter()
                .find(|g| g.params[0]["height"].as_u64().expect("height") >= u64::from(*h))
                .unwrap_or_else(|| panic!("{name}: nothing for block {h}"))
                .at;
            let delay = arrived.saturating_duration_since(*t);
            worst = worst.max(delay);
            delays.push(delay);
            assert!(delay < PROMPT, "{name}: block {h} notified after {delay:?}");
        }
    }
    assert_eq!(
        e.server.count(STUCK_CLOSED),
        1,
        "the stuck session is closed once (one log line)"
    );
    let slowest = *slowest_answer.lock().unwrap();
    assert!(
        slowest < PROMPT,
        "answers to a good session took up to {slowest:?}"
    );
    delays.sort();
    eprintln!(
        "stuck session: {} blocks mined; notification delays: median {:?}, slowest {worst:?}; \
         slowest answer {slowest:?}",
        mined.len(),
        delays[delays.len() / 2]
    );

    // The stuck connection ends (EOF or reset) once drained.
    stuck.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut buf = vec![0u8; 1 << 20];
    let mut drained = 0usize;
    let ended = loop {
        match stuck.read(&mut buf) {
            Ok(0) => break true,
            Ok(k) => drained += k,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break false
            }
            Err(_) => break true,
        }
    };
    assert!(
        ended,
        "the stuck connection was closed ({drained} bytes drained)"
    );
    writer.join().expect("writer");
    // And the others are still served.
    let (_, c) = &mut good[0];
    assert_eq!(c.call("server.ping", json!([])), Ok(Value::Null));
}

/// Client services start only once the index has caught up: before, the server listens on
/// no client port; after, it serves connections.
#[test]
fn client_services_start_only_after_catching_up() {
    let node = Node::generate(GenParams::fixture(55));
    let tip = node.tip_height();
    let sim = SimNode::spawn(node, SimNodeOptions::default()).expect("stand-in");
    // A slow daemon: catching up takes seconds.
    sim.control().set_delay(Duration::from_millis(300));
    let dir = TempDir::new("notify-catchup");
    let db = dir.path().join("db");
    std::fs::create_dir_all(&db).expect("db dir");
    let port = free_port();
    let env = ServerEnv::new(&db, &sim.daemon_url())
        .set("SERVICES", &format!("tcp://127.0.0.1:{port}"))
        .set("DAEMON_POLL_INTERVAL_MEMPOOL", "100");
    let mut server = Server::start("notify-catchup", &env);
    server.wait_for_where("database", WAIT, |l| {
        l.text.contains("new database") || l.text.contains("database opened")
    });
    // Not listening: checked on the server's own sockets (the port was free when picked,
    // but another test's process may take it meanwhile, so a connection proves nothing).
    let pid = server.pid();
    let mut refused = 0;
    let mut last_refused = Instant::now();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(1500) {
        assert!(
            !listening_ports(pid).contains(&port),
            "listening before the index caught up"
        );
        assert_eq!(
            server.count("caught up with the daemon"),
            0,
            "caught up already: the delay is too short for this test"
        );
        refused += 1;
        last_refused = Instant::now();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(refused >= 5, "{refused} checks");
    sim.control().set_delay(Duration::ZERO);
    let deadline = Instant::now() + WAIT;
    let stream = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
                assert!(Instant::now() < deadline, "never accepted connections");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    let accepted = Instant::now();
    drop(stream);
    // The probe sees the server's listening socket now (so its silence before meant it).
    assert!(
        listening_ports(pid).contains(&port),
        "the server's listening socket is not seen"
    );
    // The caught-up line was written before listening started.
    let caught = server.wait_for("caught up with the daemon", Duration::from_secs(5));
    assert_eq!(caught.field("height"), Some(u64::from(tip)));
    assert!(
        caught.at > last_refused,
        "refused attempts were all before catching up"
    );
    eprintln!(
        "catch-up: not listening at {refused} checks before the index caught up; the first accepted \
         {:?} after the caught-up line",
        accepted.saturating_duration_since(caught.at)
    );
    let mut c = Client::tcp(port);
    let v = c
        .call("server.version", json!(["ferrumx-tests", "1.6"]))
        .expect("server.version");
    assert_eq!(v[1], json!("1.6"));
    let h = c.call(HEADERS, json!([])).expect("headers.subscribe");
    assert_eq!(h["height"], json!(tip));
}

/// 1,000 subscriptions over 20 sessions and a block touching most of them: every expected
/// notification arrives, once; prints how long notifying took.
#[test]
fn a_thousand_subscriptions_over_twenty_sessions() {
    let mut node = Node::generate(GenParams::fixture(56));
    node.add_traffic(400);
    let e = Electrum::start("notify-scale", node, &[]);
    let universe: BTreeSet<ScriptHash> = e.sim.with_node(|n| {
        let mut u: BTreeSet<ScriptHash> = mempool_hashes(n).into_iter().take(1_000).collect();
        for sh in history_hashes(n, 1) {
            if u.len() >= 1_000 {
                break;
            }
            u.insert(sh);
        }
        u
    });
    assert_eq!(universe.len(), 1_000);
    let (_, mut world) = act(&e, &universe, |_| ());
    let all: Vec<ScriptHash> = universe.iter().copied().collect();
    let chunks: Vec<&[ScriptHash]> = all.chunks(50).collect();
    let specs: Vec<(Kind, &str)> = (0..chunks.len())
        .map(|i| (Kind::ALL[i % 4], if i % 2 == 0 { "1.6" } else { "1.4" }))
        .collect();
    let mut sessions = open_sessions(&e, &specs, &world, |i| chunks[i].to_vec());
    assert_eq!(sessions.len(), 20);
    let height = world.height + 1;
    let s = step(
        &e,
        &mut sessions,
        &mut world,
        &universe,
        "mine 1,000",
        |n| {
            n.mine(1).expect("mine");
        },
    );
    let changed: usize = s.expects.iter().map(|x| x.statuses.len()).sum();
    assert!(
        changed >= 500,
        "the block touched {changed} of the subscriptions"
    );
    let new_block = e
        .server
        .lines_with("new block")
        .into_iter()
        .find(|l| l.field("height") == Some(u64::from(height)))
        .expect("new block line");
    let last = s
        .got
        .iter()
        .flatten()
        .map(|g| g.at)
        .max()
        .expect("notifications");
    let first = s
        .got
        .iter()
        .flatten()
        .map(|g| g.at)
        .min()
        .expect("notifications");
    eprintln!(
        "scale: {changed} status + 20 header notifications; after the \"new block\" line: first {:?}, last {:?}",
        first.saturating_duration_since(new_block.at),
        last.saturating_duration_since(new_block.at)
    );
}
