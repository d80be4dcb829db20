//! The mempool room against the bitcoind stand-in and a real, synced index.
//!
//! Expected values come from the stand-in's own mempool (every transaction, its fee and
//! vsize as Core accounts them) and its UTXO set, never from the code under test: per script
//! hash the summaries (order, fees, unconfirmed parents), the balance delta, the mempool
//! outputs and the potential spends; the touched sets after traffic, evictions, RBF
//! replacements, blocks and reorgs; the refusal while the index is behind the daemon; the
//! fee histogram against the harness's independent oracle (ElectrumX's algorithm); the run loop; and
//! `IndexReader::unspent_outputs`. One ignored test syncs a mempool of 100,000 transactions
//! and reports its time and memory.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use bitcoin::{Network, OutPoint, Script, Txid};
use ferrumx::daemon::Daemon;
use ferrumx::index::{HashX, Index, IndexReader};
use ferrumx::mempool::{Mempool, MempoolUtxo, RefreshError, TxSummary};
use ferrumx_simnode::truth::is_unspendable;
use ferrumx_simnode::{GenParams, Node, ScriptHash, SimNode, SimNodeOptions};
use ferrumx_testkit::oracle::fee_histogram;
use ferrumx_testkit::{daemon_for, TempDir};
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// A stand-in, an index synced from its blocks, a daemon client and the mempool under test.
struct Fixture {
    sim: SimNode,
    index: Index,
    daemon: Daemon,
    mempool: Mempool,
    _dir: TempDir,
}

impl Fixture {
    fn new(node: Node) -> Fixture {
        let sim = SimNode::spawn(node, SimNodeOptions::default()).expect("stand-in");
        let dir = TempDir::new("index");
        let index = Index::open(dir.path(), Network::Regtest, 64 << 20, 10).expect("open index");
        let daemon = daemon_for(&sim);
        let mut f = Fixture {
            sim,
            index,
            daemon,
            mempool: Mempool::new(),
            _dir: dir,
        };
        f.sync_index();
        f
    }

    /// The 150-block fixture chain of `seed`.
    fn small(seed: u64) -> Fixture {
        Fixture::new(Node::generate(GenParams::fixture(seed)))
    }

    /// Brings the index to the stand-in's tip (rolling back to the fork point first after a
    /// reorg) and flushes.
    fn sync_index(&mut self) {
        let index = &mut self.index;
        self.sim.with_node(|n| {
            let mut fork = index.tip().expect("tip").0;
            while index.block_hash(fork).expect("hash") != n.hash_at(fork) {
                fork -= 1;
            }
            if fork < index.tip().expect("tip").0 {
                index.backup(fork).expect("backup");
            }
            for h in fork + 1..=n.tip_height() {
                index
                    .advance(&n.block_at(h).expect("block").raw)
                    .expect("advance");
            }
            index.flush().expect("flush");
            assert_eq!(index.tip(), Some((n.tip_height(), n.tip_hash())));
        });
    }

    fn reader(&self) -> IndexReader {
        self.index.reader()
    }

    async fn refresh(&self) -> Result<HashSet<HashX>, RefreshError> {
        self.mempool.refresh(&self.daemon, &self.reader()).await
    }

    fn model(&self) -> Model {
        self.sim.with_node(|n| Model::of(n))
    }

    fn node<R>(&self, f: impl FnOnce(&mut Node) -> R) -> R {
        self.sim.with_node(f)
    }
}

// ---------------------------------------------------------------------------------------
// The expected mempool, from the stand-in
// ---------------------------------------------------------------------------------------

fn hx(script: &Script) -> HashX {
    HashX::from_script_hash(&ScriptHash::of(script).0)
}

/// One stand-in mempool transaction, resolved by brute force.
#[derive(Clone, Debug)]
struct ModelTx {
    fee: u64,
    vsize: u64,
    prevouts: Vec<OutPoint>,
    ins: Vec<(HashX, u64)>,
    outs: Vec<(HashX, u64)>,
    has_unconfirmed_inputs: bool,
}

impl ModelTx {
    fn hashxs(&self) -> BTreeSet<HashX> {
        self.ins.iter().chain(&self.outs).map(|p| p.0).collect()
    }
}

/// The stand-in's mempool in ElectrumX's terms, plus what listunspent and get_balance must
/// give per script hash.
#[derive(Clone, Debug, Default)]
struct Model {
    txs: HashMap<Txid, ModelTx>,
    height: u32,
}

impl Model {
    fn of(n: &Node) -> Model {
        let mut txs = HashMap::new();
        for e in n.mempool.entries() {
            let prevouts: Vec<OutPoint> = e.tx.input.iter().map(|i| i.previous_output).collect();
            let ins: Vec<(HashX, u64)> = prevouts
                .iter()
                .map(|op| {
                    let out = match n.mempool.get(&op.txid) {
                        Some(parent) => parent.tx.output[op.vout as usize].clone(),
                        None => n.coin(op).expect("a confirmed coin").txout.clone(),
                    };
                    (hx(&out.script_pubkey), out.value.to_sat())
                })
                .collect();
            let outs: Vec<(HashX, u64)> =
                e.tx.output
                    .iter()
                    .map(|o| (hx(&o.script_pubkey), o.value.to_sat()))
                    .collect();
            let value_in: u64 = ins.iter().map(|p| p.1).sum();
            let value_out: u64 = outs.iter().map(|p| p.1).sum();
            assert_eq!(
                value_in - value_out,
                e.fee,
                "the stand-in's fee of {}",
                e.txid
            );
            let has_unconfirmed_inputs = prevouts.iter().any(|p| n.mempool.contains(&p.txid));
            txs.insert(
                e.txid,
                ModelTx {
                    fee: e.fee,
                    vsize: e.vsize,
                    prevouts,
                    ins,
                    outs,
                    has_unconfirmed_inputs,
                },
            );
        }
        Model {
            txs,
            height: n.tip_height(),
        }
    }

    fn hashxs(&self) -> BTreeSet<HashX> {
        self.txs.values().flat_map(ModelTx::hashxs).collect()
    }

    fn touching<'a>(&'a self, x: &'a HashX) -> impl Iterator<Item = (&'a Txid, &'a ModelTx)> + 'a {
        self.txs.iter().filter(move |(_, t)| t.hashxs().contains(x))
    }

    fn summaries(&self, x: &HashX) -> Vec<TxSummary> {
        let mut v: Vec<TxSummary> = self
            .touching(x)
            .map(|(txid, t)| TxSummary {
                txid: *txid,
                fee: t.fee,
                has_unconfirmed_inputs: t.has_unconfirmed_inputs,
            })
            .collect();
        // ElectrumX: key=(has_unconfirmed_inputs, hash[::-1]); the displayed hex sorts alike.
        v.sort_by_key(|s| (s.has_unconfirmed_inputs, s.txid.to_string()));
        v
    }

    fn balance_delta(&self, x: &HashX) -> i64 {
        let mut d = 0i64;
        for t in self.txs.values() {
            for (h, v) in &t.outs {
                if h == x {
                    d += *v as i64;
                }
            }
            for (h, v) in &t.ins {
                if h == x {
                    d -= *v as i64;
                }
            }
        }
        d
    }

    fn utxos(&self, x: &HashX) -> Vec<MempoolUtxo> {
        let mut v = Vec::new();
        for (txid, t) in &self.txs {
            for (vout, (h, value)) in t.outs.iter().enumerate() {
                if h == x {
                    v.push(MempoolUtxo {
                        txid: *txid,
                        vout: vout as u32,
                        value: *value,
                    });
                }
            }
        }
        v.sort_by_key(|u| (u.txid.to_string(), u.vout));
        v
    }

    fn potential_spends(&self, x: &HashX) -> HashSet<OutPoint> {
        self.touching(x)
            .flat_map(|(_, t)| t.prevouts.iter().copied())
            .collect()
    }

    /// The script hashes of the transactions in one model and not the other, each taken from
    /// the model that has it: what a refresh from `self` to `now` touches.
    fn touched_to(&self, now: &Model) -> HashSet<HashX> {
        let mut out = HashSet::new();
        for (txid, t) in &self.txs {
            if !now.txs.contains_key(txid) {
                out.extend(t.hashxs());
            }
        }
        for (txid, t) in &now.txs {
            if !self.txs.contains_key(txid) {
                out.extend(t.hashxs());
            }
        }
        out
    }
}

/// Every query of the mempool against the model, for every script hash it touches, and the
/// listunspent / get_balance combination (index + mempool, as ElectrumX's session does it)
/// against the stand-in's confirmed UTXO set.
fn check(f: &Fixture, m: &Model) {
    let mp = &f.mempool;
    let stats = mp.stats();
    let xs = m.hashxs();
    assert_eq!(stats.txs, m.txs.len(), "transactions");
    assert_eq!(
        stats.vbytes,
        m.txs.values().map(|t| t.vsize).sum::<u64>(),
        "vbytes"
    );
    assert_eq!(stats.hashxs, xs.len(), "script hashes");
    for txid in m.txs.keys() {
        assert!(mp.contains(txid), "{txid} held");
    }
    for x in &xs {
        assert_eq!(mp.summaries(x), m.summaries(x), "summaries of {x:?}");
        assert_eq!(
            mp.balance_delta(x),
            m.balance_delta(x),
            "balance delta of {x:?}"
        );
        assert_eq!(mp.utxos(x), m.utxos(x), "utxos of {x:?}");
        assert_eq!(
            mp.potential_spends(x),
            m.potential_spends(x),
            "spends of {x:?}"
        );
    }
    let nobody = HashX([0xee; 11]);
    assert!(mp.summaries(&nobody).is_empty());
    assert_eq!(mp.balance_delta(&nobody), 0);
    assert!(mp.utxos(&nobody).is_empty());
    assert!(mp.potential_spends(&nobody).is_empty());

    // listunspent and get_balance as ElectrumX composes them, for every script hash that
    // has an output in the mempool or a confirmed coin spent by it.
    let reader = f.reader();
    f.sim.with_node(|n| {
        let mut script_hashes: HashMap<HashX, ScriptHash> = HashMap::new();
        for e in n.mempool.entries() {
            for o in &e.tx.output {
                script_hashes.insert(hx(&o.script_pubkey), ScriptHash::of(&o.script_pubkey));
            }
            for i in &e.tx.input {
                if let Some(c) = n.coin(&i.previous_output) {
                    let s = &c.txout.script_pubkey;
                    script_hashes.insert(hx(s), ScriptHash::of(s));
                }
            }
        }
        let spent_in_mempool: HashSet<OutPoint> = n
            .mempool
            .entries()
            .flat_map(|e| e.tx.input.iter().map(|i| i.previous_output))
            .collect();
        for (x, sh) in &script_hashes {
            // Brute force: confirmed coins not spent by the mempool, then mempool outputs not
            // spent by the mempool.
            let mut want: BTreeSet<(Txid, u32, u64)> = n
                .truth
                .utxos(sh, None)
                .iter()
                .filter(|u| !spent_in_mempool.contains(&u.outpoint))
                .map(|u| (u.outpoint.txid, u.outpoint.vout, u.value))
                .collect();
            for e in n.mempool.entries() {
                for (vout, o) in e.tx.output.iter().enumerate() {
                    let op = OutPoint::new(e.txid, vout as u32);
                    if hx(&o.script_pubkey) == *x && !spent_in_mempool.contains(&op) {
                        want.insert((e.txid, vout as u32, o.value.to_sat()));
                    }
                }
            }
            let spends = mp.potential_spends(x);
            let confirmed = reader.utxos(&sh.0).expect("index utxos");
            let got: BTreeSet<(Txid, u32, u64)> = confirmed
                .iter()
                .map(|u| (u.txid, u.vout, u.value))
                .chain(mp.utxos(x).iter().map(|u| (u.txid, u.vout, u.value)))
                .filter(|(t, v, _)| !spends.contains(&OutPoint::new(*t, *v)))
                .collect();
            assert_eq!(got, want, "listunspent of {sh}");
            let unconfirmed: i64 = n
                .mempool
                .entries()
                .flat_map(|e| e.tx.output.iter())
                .filter(|o| hx(&o.script_pubkey) == *x)
                .map(|o| o.value.to_sat() as i64)
                .sum::<i64>()
                - n.truth
                    .utxos(sh, None)
                    .iter()
                    .filter(|u| spent_in_mempool.contains(&u.outpoint))
                    .map(|u| u.value as i64)
                    .sum::<i64>()
                - n.mempool
                    .entries()
                    .flat_map(|e| e.tx.input.iter())
                    .filter_map(|i| {
                        let p = n.mempool.get(&i.previous_output.txid)?;
                        p.tx.output.get(i.previous_output.vout as usize)
                    })
                    .filter(|o| hx(&o.script_pubkey) == *x)
                    .map(|o| o.value.to_sat() as i64)
                    .sum::<i64>();
            assert_eq!(
                mp.balance_delta(x),
                unconfirmed,
                "unconfirmed balance of {sh}"
            );
        }
    });
}

/// Adds stand-in traffic until its mempool holds `target` transactions (`add_traffic` stops
/// early when its wallet picks coins too poor to pay a fee, so call it again); returns the
/// mempool's size.
fn fill(n: &mut Node, target: usize) -> usize {
    let mut stalls = 0;
    while n.mempool.len() < target && stalls < 5 {
        let before = n.mempool.len();
        let want = (target - before).min(5_000) as u32;
        n.add_traffic(want);
        if n.mempool.len() <= before {
            stalls += 1;
        }
    }
    n.mempool.len()
}

/// Checks a refresh's touched set against the change since `last`, and the mempool against
/// the stand-in; `last` becomes the current model.
fn step(f: &Fixture, what: &str, last: &mut Model, got: HashSet<HashX>) {
    let now = f.model();
    assert_eq!(got, last.touched_to(&now), "touched after {what}");
    check(f, &now);
    *last = now;
}

/// A mempool transaction with in-mempool children, if any (else any transaction).
fn pick_with_children(n: &Node) -> Option<Txid> {
    let txids = n.mempool.sorted_txids();
    txids
        .iter()
        .find(|t| !n.mempool.children(t).is_empty())
        .or(txids.first())
        .copied()
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

/// A first refresh reports every touched script hash, and every query then agrees with the
/// stand-in, including chains of unconfirmed transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_refresh_matches_the_stand_in() {
    let f = Fixture::small(31);
    f.node(|n| fill(n, 300));
    let m = f.model();
    assert!(m.txs.len() >= 250, "traffic accepted: {}", m.txs.len());
    assert!(
        m.txs.values().filter(|t| t.has_unconfirmed_inputs).count() >= 10,
        "the traffic holds unconfirmed chains"
    );
    let touched = f.refresh().await.expect("refresh");
    assert_eq!(touched, m.hashxs().into_iter().collect::<HashSet<_>>());
    check(&f, &m);
    // Nothing changed: nothing touched.
    assert!(f.refresh().await.expect("refresh").is_empty());
    check(&f, &m);
}

/// The small fixture chain of seed 32 with 200 transactions of traffic, refreshed once (the
/// touched set and the queries checked); the model the mempool now equals.
async fn after_traffic() -> (Fixture, Model) {
    let f = Fixture::small(32);
    f.node(|n| n.add_traffic(200));
    let mut last = Model::default();
    let t = f.refresh().await.expect("refresh");
    step(&f, "the first traffic", &mut last, t);
    (f, last)
}

/// Touched sets equal the script hashes of the transactions added: more traffic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touched_sets_follow_new_traffic() {
    let (f, mut last) = after_traffic().await;
    f.node(|n| n.add_traffic(60));
    let t = f.refresh().await.expect("refresh");
    assert!(!t.is_empty());
    step(&f, "more traffic", &mut last, t);
}

/// Touched sets follow an eviction (with the evicted transaction's descendants).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touched_sets_follow_an_eviction() {
    let (f, mut last) = after_traffic().await;
    let evicted = f.node(|n| {
        let txid = pick_with_children(n).expect("a mempool tx");
        n.evict(&txid).expect("evict")
    });
    assert!(!evicted.is_empty());
    let t = f.refresh().await.expect("refresh");
    step(&f, "an eviction", &mut last, t);
    for txid in &evicted {
        assert!(!f.mempool.contains(txid));
    }
}

/// Touched sets follow an RBF replacement: the replaced transaction's and the replacement's
/// script hashes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touched_sets_follow_an_rbf_replacement() {
    let (f, mut last) = after_traffic().await;
    let (old, new) = f.node(|n| {
        let txids = n.mempool.sorted_txids();
        let mut out = None;
        for txid in txids.iter().rev() {
            if let Ok(new) = n.rbf_replace(txid) {
                out = Some((*txid, new));
                break;
            }
        }
        out.expect("a replaceable transaction")
    });
    let t = f.refresh().await.expect("refresh");
    step(&f, "an RBF replacement", &mut last, t);
    assert!(!f.mempool.contains(&old) && f.mempool.contains(&new));
}

/// A block: refused while the index lags (nothing changes meanwhile), then everything mined
/// is touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_is_refused_until_indexed_then_touches_what_it_mined() {
    let (mut f, mut last) = after_traffic().await;
    let tip = f.node(|n| {
        n.mine(1).expect("mine");
        n.tip_height()
    });
    match f.refresh().await {
        Err(RefreshError::IndexNotSynced { index, daemon }) => {
            assert_eq!((index, daemon), (Some(tip - 1), tip));
        }
        other => panic!("expected IndexNotSynced, got {other:?}"),
    }
    assert_eq!(
        f.mempool.stats().txs,
        last.txs.len(),
        "nothing changed meanwhile"
    );
    f.sync_index();
    let t = f.refresh().await.expect("refresh");
    step(&f, "a block", &mut last, t);
}

/// A reorg after traffic around a block: some confirmed transactions come back, others are
/// double-spent; the touched set is the change either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touched_sets_follow_a_reorg() {
    let (mut f, mut last) = after_traffic().await;
    f.node(|n| {
        n.add_traffic(40);
        n.mine(1).expect("mine");
        n.add_traffic(30);
    });
    f.sync_index();
    let t = f.refresh().await.expect("refresh");
    step(&f, "traffic around a block", &mut last, t);
    f.node(|n| n.reorg(2, 3)).expect("reorg");
    f.sync_index();
    let t = f.refresh().await.expect("refresh");
    step(&f, "a reorg", &mut last, t);
    assert!(f.mempool.stats().txs > 0);
}

/// The index moves on while a refresh is fetching: the refresh fails with IndexNotSynced
/// after it has removed what left the mempool, and the next successful refresh still
/// reports those script hashes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touched_script_hashes_survive_a_failed_refresh() {
    let mut f = Fixture::small(33);
    f.node(|n| n.add_traffic(120));
    f.refresh().await.expect("refresh");
    let before = f.model();
    let evicted = f.node(|n| {
        let txid = pick_with_children(n).expect("a mempool tx");
        let gone = n.evict(&txid).expect("evict");
        n.add_traffic(20);
        gone
    });
    // Every answer takes 1.5 s: the refresh is still waiting for its transactions when the
    // index moves to a new block.
    let delay = Duration::from_millis(1_500);
    f.sim.control().set_delay(delay);
    let requests = f.daemon.stats().requests;
    let mempool = Arc::new(std::mem::take(&mut f.mempool));
    let task = {
        let (mp, daemon, reader) = (Arc::clone(&mempool), f.daemon.clone(), f.reader());
        tokio::spawn(async move { mp.refresh(&daemon, &reader).await })
    };
    // getblockcount, getrawmempool, getblockcount, getblockhash, then the
    // getrawtransaction batch.
    let start = Instant::now();
    while f.daemon.stats().requests < requests + 5 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the refresh stalled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for txid in &evicted {
        assert!(!mempool.contains(txid), "removed before fetching");
    }
    f.node(|n| n.mine(1)).expect("mine");
    f.sync_index();
    match task.await.expect("join") {
        Err(RefreshError::IndexNotSynced { index, daemon }) => {
            assert_eq!((index, daemon), (Some(before.height + 1), before.height));
        }
        other => panic!("expected IndexNotSynced, got {other:?}"),
    }
    f.sim.control().set_delay(Duration::ZERO);
    f.mempool = Arc::try_unwrap(mempool).expect("sole owner");
    let t = f.refresh().await.expect("refresh");
    let now = f.model();
    let evicted_xs: HashSet<HashX> = evicted
        .iter()
        .flat_map(|t| before.txs[t].hashxs())
        .collect();
    assert!(
        t.is_superset(&evicted_xs),
        "the failed refresh's removals are reported"
    );
    assert_eq!(t, before.touched_to(&now));
    check(&f, &now);
}

/// A mempool of over 3,000 transactions: several bins, equal to the independent
/// computation, printed as ElectrumX prints it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fee_histogram_matches_an_independent_computation() {
    let f = Fixture::new(Node::generate(GenParams::sized(34, 6_000, 60)));
    let start = Instant::now();
    let added = f.node(|n| fill(n, 3_500));
    eprintln!("add_traffic: {added} txs in {:.1?}", start.elapsed());
    assert!(
        f.mempool.fee_histogram().is_empty(),
        "nothing before the first computation"
    );
    let start = Instant::now();
    f.refresh().await.expect("refresh");
    eprintln!(
        "refresh of {} txs: {:.1?}",
        f.mempool.stats().txs,
        start.elapsed()
    );
    let (pairs, count) = f.node(|n| {
        let p: Vec<(u64, u64)> = n.mempool.entries().map(|e| (e.fee, e.vsize)).collect();
        (p, n.mempool.len())
    });
    assert!(count >= 3_000, "mempool of {count}");
    let got = f.mempool.update_fee_histogram().await;
    let want = fee_histogram(pairs.iter().copied());
    assert_eq!(got, want);
    assert_eq!(f.mempool.fee_histogram(), want, "cached");
    assert!(got.len() >= 5, "several bins: {got:?}");
    assert!(got.windows(2).all(|w| w[0].0 > w[1].0), "rates decrease");
    let total: u64 = pairs.iter().map(|p| p.1).sum();
    assert!(got.iter().map(|b| b.1).sum::<u64>() <= total);
    // JSON as Python's json module writes these floats: always with a fraction.
    let json = serde_json::to_string(&got).expect("json");
    for (rate, size) in &got {
        let python = if rate.fract() == 0.0 {
            format!("[{rate:.1},{size}]")
        } else {
            format!("[{rate},{size}]")
        };
        assert!(json.contains(&python), "{python} in {json}");
    }
}

/// `IndexReader::unspent_outputs`: unspent, spent, OP_RETURN and never-existing outpoints,
/// and the snapshot's height.
#[test]
fn unspent_outputs_of_the_index() {
    let f = Fixture::small(35);
    let reader = f.reader();
    f.sim.with_node(|n| {
        let mut queries: Vec<(OutPoint, Option<(HashX, u64)>)> = Vec::new();
        let mut spent = 0;
        let mut op_return = 0;
        for h in 101..=n.tip_height() {
            let block = n.block_at(h).expect("block").block().expect("parse");
            for tx in &block.txdata {
                let txid = tx.compute_txid();
                for (vout, o) in tx.output.iter().enumerate() {
                    let op = OutPoint::new(txid, vout as u32);
                    let want = if is_unspendable(&o.script_pubkey) {
                        op_return += 1;
                        None
                    } else {
                        let c = n.coin(&op);
                        spent += usize::from(c.is_none());
                        c.map(|c| (hx(&c.txout.script_pubkey), c.txout.value.to_sat()))
                    };
                    queries.push((op, want));
                }
                // Past the last output, and a transaction that never existed.
                queries.push((OutPoint::new(txid, tx.output.len() as u32), None));
                let mut bogus = txid.to_byte_array();
                bogus[0] ^= 0x55;
                queries.push((OutPoint::new(Txid::from_byte_array(bogus), 0), None));
            }
        }
        assert!(
            spent > 100 && op_return > 0,
            "spent {spent}, OP_RETURN {op_return}"
        );
        let ops: Vec<OutPoint> = queries.iter().map(|q| q.0).collect();
        let (height, got) = reader.unspent_outputs(&ops).expect("lookup");
        assert_eq!(height, Some(n.tip_height()));
        assert_eq!(got.len(), queries.len());
        for ((op, want), got) in queries.iter().zip(got) {
            assert_eq!(&got, want, "{op}");
        }
        assert_eq!(reader.unspent_outputs(&[]).expect("empty").1, Vec::new());
    });
}

type Reports = tokio::sync::mpsc::UnboundedReceiver<(HashSet<HashX>, u32)>;

async fn next(rx: &mut Reports) -> (HashSet<HashX>, u32) {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("a report in time")
        .expect("the loop runs")
}

/// The background loop: the first report holds everything at the daemon's height, later
/// ones what changed (empty when nothing did), the histogram is computed once synced, and
/// cancelling stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_loop_reports_and_stops() {
    let f = Fixture::small(36);
    f.node(|n| n.add_traffic(150));
    let m = f.model();
    let mempool = Arc::new(Mempool::new());
    let shutdown = CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(Arc::clone(&mempool).run(
        f.daemon.clone(),
        f.reader(),
        Duration::from_millis(50),
        shutdown.clone(),
        move |touched, _outpoints, height| {
            let _ = tx.send((touched, height));
        },
    ));
    let (touched, height) = next(&mut rx).await;
    assert_eq!(height, m.height);
    assert_eq!(touched, m.hashxs().into_iter().collect::<HashSet<_>>());
    let (touched, _) = next(&mut rx).await;
    assert!(touched.is_empty(), "quiet mempool, empty report");
    let pairs: Vec<(u64, u64)> = m.txs.values().map(|t| (t.fee, t.vsize)).collect();
    assert_eq!(
        mempool.fee_histogram(),
        fee_histogram(pairs.iter().copied())
    );

    f.node(|n| n.add_traffic(10));
    let now = f.model();
    let want = m.touched_to(&now);
    let mut got = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got != want {
        assert!(Instant::now() < deadline, "the change is reported in time");
        let (touched, _) = next(&mut rx).await;
        got.extend(touched);
        assert!(got.is_subset(&want), "only what changed is reported");
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops in time")
        .expect("join");
}

/// Counts live heap bytes, to measure what the mempool holds (the difference when it is
/// dropped).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is kept.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        let p = std::alloc::System.alloc(layout);
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        std::alloc::System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        let p = std::alloc::System.alloc_zeroed(layout);
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        let p = std::alloc::System.realloc(ptr, layout, new);
        if !p.is_null() {
            LIVE.fetch_add(new, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Fills the stand-in's mempool quickly, for the scale test: `add_traffic` slows down as
/// its mempool grows (its RBF step sorts the whole mempool by ancestors, and rejected
/// transactions rebuild the wallet), so transactions are built with the stand-in's wallet and
/// inserted without its acceptance checks. Coins are spent first in, first out: the
/// confirmed ones, then the outputs of the new transactions, so unconfirmed chains stay a few
/// generations deep; every fourth transaction has two inputs. Returns the mempool's size.
fn fill_fast(n: &mut Node, target: usize) -> usize {
    n.wallet_ready();
    let tip = n.tip_height();
    let mut confirmed: Vec<OutPoint> = n
        .truth
        .script_hashes()
        .flat_map(|sh| n.truth.utxos(sh, None))
        .map(|u| u.outpoint)
        .collect();
    confirmed.sort();
    let mut queue: std::collections::VecDeque<OutPoint> = confirmed.into();
    let mut made = 0usize;
    while n.mempool.len() < target {
        let Some(op) = queue.pop_front() else { break };
        if n.mempool.spender(&op).is_some() {
            continue;
        }
        let Some(mut coins) = n.gen.take_coins(&[op]) else {
            continue;
        };
        made += 1;
        if made % 4 == 0 {
            while let Some(p) = queue.pop_front() {
                if let Some(c) = n.gen.take_coins(&[p]) {
                    coins.extend(c);
                    break;
                }
            }
        }
        let Some((tx, fee)) = n.gen.build_spend(coins, tip, None) else {
            continue;
        };
        let txid = tx.compute_txid();
        queue.extend((0..tx.output.len() as u32).map(|v| OutPoint::new(txid, v)));
        n.insert_mempool(tx, fee, false);
    }
    n.mempool.len()
}

/// 100,000 mempool transactions (`MEMPOOL_SCALE_TXS` to change): sync time and the heap the
/// mempool holds (reported, not asserted), and the result against the stand-in.
/// `cargo test --test mempool scale -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow: generates a chain and 100,000 mempool transactions"]
async fn scale_100k_mempool() {
    let target: usize = std::env::var("MEMPOOL_SCALE_TXS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let start = Instant::now();
    let f = Fixture::new(Node::generate(GenParams::sized(
        37,
        target as u64 / 4,
        2_000,
    )));
    eprintln!("chain generated and indexed in {:.1?}", start.elapsed());
    let start = Instant::now();
    let total = f.node(|n| fill_fast(n, target));
    eprintln!("stand-in mempool: {total} txs in {:.1?}", start.elapsed());
    assert!(total >= target, "the stand-in made {total} mempool txs");

    // A ticker on the same runtime: how late does it get while the mempool syncs?
    let stop = CancellationToken::new();
    let ticker = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            while !stop.is_cancelled() {
                let t = Instant::now();
                tokio::time::sleep(Duration::from_millis(5)).await;
                worst = worst.max(t.elapsed().saturating_sub(Duration::from_millis(5)));
            }
            worst
        })
    };
    let live_before = LIVE.load(Ordering::Relaxed);
    let start = Instant::now();
    let touched = f.refresh().await.expect("refresh");
    let took = start.elapsed();
    stop.cancel();
    let worst = ticker.await.expect("ticker");
    eprintln!("a 5 ms ticker on the same runtime was at worst {worst:.1?} late");
    let stats = f.mempool.stats();
    eprintln!(
        "refresh: {} txs, {:.2} MB of vbytes, {} script hashes, {} touched, in {:.2?} ({:.0} tx/s)",
        stats.txs,
        stats.vbytes as f64 / 1e6,
        stats.hashxs,
        touched.len(),
        took,
        stats.txs as f64 / took.as_secs_f64(),
    );
    drop(touched);
    eprintln!(
        "live heap after the refresh: +{:.1} MB",
        LIVE.load(Ordering::Relaxed).saturating_sub(live_before) as f64 / 1e6
    );
    let start = Instant::now();
    assert!(f.refresh().await.expect("refresh").is_empty());
    eprintln!("an unchanged refresh: {:.2?}", start.elapsed());
    let start = Instant::now();
    let h = f.mempool.update_fee_histogram().await;
    eprintln!("histogram ({} bins): {:.2?}", h.len(), start.elapsed());
    let m = f.model();
    assert_eq!(stats.txs, m.txs.len());
    let pairs: Vec<(u64, u64)> = m.txs.values().map(|t| (t.fee, t.vsize)).collect();
    assert_eq!(h, fee_histogram(pairs.iter().copied()));
    // Spot checks of the queries on the busiest script hashes.
    let mut busiest: HashMap<HashX, usize> = HashMap::new();
    for t in m.txs.values() {
        for x in t.hashxs() {
            *busiest.entry(x).or_default() += 1;
        }
    }
    let mut busiest: Vec<(usize, HashX)> = busiest.into_iter().map(|(x, c)| (c, x)).collect();
    busiest.sort_unstable_by(|a, b| b.cmp(a));
    let start = Instant::now();
    for (_, x) in busiest.iter().take(5) {
        assert_eq!(f.mempool.summaries(x), m.summaries(x));
        assert_eq!(f.mempool.balance_delta(x), m.balance_delta(x));
        assert_eq!(f.mempool.utxos(x), m.utxos(x));
    }
    eprintln!(
        "the five busiest script hashes ({} to {} txs) checked in {:.2?}",
        busiest.get(4).map_or(0, |b| b.0),
        busiest.first().map_or(0, |b| b.0),
        start.elapsed()
    );

    // What a synced mempool holds: a second one, synced and dropped.
    let second = Mempool::new();
    let start = Instant::now();
    second
        .refresh(&f.daemon, &f.reader())
        .await
        .expect("refresh");
    let took = start.elapsed();
    let held = LIVE.load(Ordering::Relaxed);
    drop(second);
    let freed = held.saturating_sub(LIVE.load(Ordering::Relaxed));
    eprintln!(
        "a second mempool synced in {took:.2?}; it held {:.1} MB ({} bytes per tx)",
        freed as f64 / 1e6,
        freed / stats.txs.max(1)
    );

    // A block clears part of it.
    let mut f = f;
    f.node(|n| n.mine(1)).expect("mine");
    f.sync_index();
    let start = Instant::now();
    let t = f.refresh().await.expect("refresh");
    eprintln!(
        "after a block: {} txs left, {} touched, in {:.2?}",
        f.mempool.stats().txs,
        t.len(),
        start.elapsed()
    );
    assert_eq!(t, m.touched_to(&f.model()));
}

/// An equal-height reorg the index has not applied yet: the heights agree but the blocks do
/// not, so the refresh must wait (ElectrumX, comparing heights only, would go on against the
/// old block's UTXOs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_equal_height_reorg_not_yet_indexed_is_not_synced() {
    let mut f = Fixture::small(34);
    f.node(|n| n.add_traffic(30));
    f.refresh().await.expect("refresh");
    let height = f.node(|n| n.tip_height());
    f.node(|n| n.reorg(1, 1)).expect("reorg");
    match f.refresh().await {
        Err(RefreshError::IndexNotSynced { index, daemon }) => {
            assert_eq!((index, daemon), (Some(height), height));
        }
        other => panic!("expected IndexNotSynced, got {other:?}"),
    }
    f.sync_index();
    f.refresh()
        .await
        .expect("refresh once the index has the new block");
}
