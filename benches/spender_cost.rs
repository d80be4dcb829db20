//! What the spender index (protocol 1.7's outpoint methods) costs: the same sync of the same
//! chain with it and without it (the previous layout's code path, `Index::open_pre_spenders`),
//! alternating, each run in a process of its own so that its peak memory is its own. Reports
//! every run (wall time, CPU time of the whole process including RocksDB's threads, flushes,
//! peak cache, peak RSS, table bytes after compaction) and each round's ratios, then the
//! in-place upgrade's rate (a database without it brought up to date from its blocks).
//!
//! ```text
//! cargo bench --bench spender_cost
//! ```
//!
//! Settings (environment):
//! - `FERRUMX_BENCH_TXS`: transactions in the chain (default 1,000,000); the chain is the
//!   side-by-side bench's, generated once into `FERRUMX_BENCH_CHAIN` (default
//!   `~/.cache/ferrumx/bench-<txs>.v3.chain`) and read from that file block by block
//!   (`benches/common/chain.rs`: bounded memory for any size);
//! - `FERRUMX_SPENDER_ROUNDS`: rounds, each one run without and one with (default 3);
//! - `FERRUMX_SPENDER_CACHE_MB`: the index's cache budget, as CACHE_MB (default 1,200, the
//!   server's default).
//!
//! One run alone, in this process (e.g. under `valgrind --tool=callgrind`, whose instruction
//! counts are repeatable on a busy machine): `FERRUMX_SPENDER_CHILD=with` (or `without`,
//! `upgrade`) on the bench's executable, after a first run has saved the chain.
//!
//! The blocks are fed straight from the chain file (no daemon, no JSON; each block's bytes
//! read from the page cache as it is indexed, in both runs alike), so the figures are the
//! index's own cost; through the daemon the difference is diluted by the stand-in's and the
//! prefetcher's work.

#[path = "common/chain.rs"]
#[allow(dead_code)] // txid_summary: the floor's and side_by_side's
mod chain;
use ferrumx_testkit::env_or;
use std::borrow::Cow;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use bitcoin::Network;
use ferrumx::index::Index;
use ferrumx_simnode::Node;
use ferrumx_testkit::oracle::grouped as thousands;
use ferrumx_testkit::process::{cpu_secs, memory};
use ferrumx_testkit::TempDir;
use serde_json::{json, Value};

const REORG_LIMIT: u32 = 200;
/// Set in a child: which run it is (`with`, `without`, `upgrade`).
const CHILD: &str = "FERRUMX_SPENDER_CHILD";

/// The active chain's blocks above genesis, in order.
fn active(node: &Node) -> impl Iterator<Item = &ferrumx_simnode::node::StoredBlock> {
    (1..=node.tip_height()).filter_map(|h| node.block_at(h))
}

/// A block's bytes, read from the chain file.
fn raw(b: &ferrumx_simnode::node::StoredBlock) -> Cow<'_, [u8]> {
    b.bytes().expect("a block of the chain file")
}

/// Bytes of each column family's table files after a full compaction.
fn table_bytes(dir: &Path) -> Vec<(String, u64)> {
    let names = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir).expect("list cfs");
    let mut opts = rocksdb::Options::default();
    opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
    let db = rocksdb::DB::open_cf(&opts, dir, &names).expect("open for sizes");
    names
        .iter()
        .map(|n| {
            let cf = db.cf_handle(n).expect("cf");
            db.compact_range_cf(cf, None::<&[u8]>, None::<&[u8]>);
            let bytes = db
                .property_int_value_cf(cf, "rocksdb.total-sst-files-size")
                .expect("size")
                .unwrap_or(0);
            (n.clone(), bytes)
        })
        .collect()
}

/// One run, in this (child) process; prints one JSON line.
fn child(kind: &str, node: &Node, cache: usize) {
    let me = std::process::id();
    let dir = TempDir::new("spender-cost");
    // Resets this process's peak resident memory (Linux: `clear_refs` 5): the chain loaded
    // before is not the index's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (mut rss_before, _) = memory(me);
    let inputs: usize = active(node)
        .filter_map(|b| b.block())
        .flat_map(|b| b.txdata.into_iter().skip(1))
        .map(|tx| tx.input.len())
        .sum();
    let (mut flushes, mut peak_cache) = (0usize, 0usize);
    let t;
    let took;
    let cpu_before;
    if kind == "upgrade" {
        // The previous version's database (not timed), then the upgrade (timed).
        {
            let mut index =
                Index::open_pre_spenders(dir.path(), Network::Regtest, cache, REORG_LIMIT)
                    .expect("open without");
            for b in active(node) {
                index.advance(&raw(b)).expect("advance");
                if index.needs_flush() {
                    index.flush().expect("flush");
                }
            }
            index.flush().expect("flush");
        }
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        rss_before = memory(me).0;
        let mut index =
            Index::open(dir.path(), Network::Regtest, cache, REORG_LIMIT).expect("open");
        cpu_before = cpu_secs(me);
        t = Instant::now();
        for b in active(node) {
            index.upgrade_block(&raw(b)).expect("upgrade block");
            peak_cache = peak_cache.max(index.cache_bytes());
            if index.needs_flush() {
                index.upgrade_flush().expect("upgrade flush");
                flushes += 1;
            }
        }
        index.upgrade_flush().expect("upgrade flush");
        took = t.elapsed();
    } else {
        let open = if kind == "with" {
            Index::open
        } else {
            Index::open_pre_spenders
        };
        let mut index = open(dir.path(), Network::Regtest, cache, REORG_LIMIT).expect("open");
        cpu_before = cpu_secs(me);
        t = Instant::now();
        for b in active(node) {
            index.advance(&raw(b)).expect("advance");
            peak_cache = peak_cache.max(index.cache_bytes());
            if index.needs_flush() {
                index.flush().expect("flush");
                flushes += 1;
            }
        }
        index.flush().expect("flush");
        took = t.elapsed();
    }
    let cpu = cpu_secs(me) - cpu_before;
    let (_, hwm) = memory(me);
    let tables = table_bytes(dir.path());
    println!(
        "{}",
        json!({
            "kind": kind,
            "secs": took.as_secs_f64(),
            "cpu": cpu,
            "flushes": flushes + 1,
            "peak_cache": peak_cache,
            "peak_rss_growth": hwm.saturating_sub(rss_before),
            "inputs": inputs,
            "tables": tables.iter().map(|(n, b)| json!([n, b])).collect::<Vec<_>>(),
        })
    );
}

fn spawn(kind: &str) -> Value {
    // The running executable itself, even if a rebuild has replaced the file meanwhile.
    let out = Command::new("/proc/self/exe")
        .env(CHILD, kind)
        .output()
        .expect("run a child");
    assert!(
        out.status.success(),
        "{kind} run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{kind} said {line:?}: {e}"))
}

fn table(run: &Value, name: &str) -> u64 {
    run["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| name.is_empty() || t[0] == name)
        .filter_map(|t| t[1].as_u64())
        .sum()
}

fn describe(run: &Value, txs: usize) -> String {
    let secs = run["secs"].as_f64().unwrap_or(0.0);
    format!(
        "{:>7}: {secs:6.2} s ({:>7} tx/s), CPU {:6.2} s, {} flushes, peak cache {} MB, peak RSS \
         +{} MB, tables {} MB (spenders {} MB)",
        run["kind"].as_str().unwrap_or("?"),
        thousands((txs as f64 / secs) as u64),
        run["cpu"].as_f64().unwrap_or(0.0),
        run["flushes"],
        run["peak_cache"].as_u64().unwrap_or(0) >> 20,
        run["peak_rss_growth"].as_u64().unwrap_or(0) >> 20,
        table(run, "") >> 20,
        table(run, "spenders") >> 20,
    )
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken from the command line.
    let txs: u64 = env_or("FERRUMX_BENCH_TXS", 1_000_000);
    let rounds: usize = env_or("FERRUMX_SPENDER_ROUNDS", 3);
    let cache_mb: usize = env_or("FERRUMX_SPENDER_CACHE_MB", 1_200);
    if let Ok(kind) = std::env::var(CHILD) {
        // Opened by the parent first (generated if missing): here it is only opened.
        let node = chain::open(txs);
        child(&kind, &node, cache_mb << 20);
        return;
    }
    let node = chain::open(txs);
    let chain_txs: usize = active(&node).map(|b| b.txids.len()).sum();
    eprintln!(
        "chain: {} blocks, {} transactions; cache {cache_mb} MB; {rounds} rounds",
        node.tip_height(),
        thousands(chain_txs as u64),
    );
    drop(node);
    let ratio = |a: &Value, b: &Value, k: &str| {
        a[k].as_f64().unwrap_or(0.0) / b[k].as_f64().unwrap_or(1.0).max(f64::MIN_POSITIVE)
    };
    let mut rows = Vec::new();
    for round in 1..=rounds {
        let without = spawn("without");
        eprintln!("round {round} {}", describe(&without, chain_txs));
        let with = spawn("with");
        eprintln!("round {round} {}", describe(&with, chain_txs));
        let inputs = with["inputs"].as_u64().unwrap_or(1).max(1);
        let row = format!(
            "round {round}: with/without: wall {:.3}, CPU {:.3}, peak RSS growth {:.3}, peak \
             cache {:.3}, disk {:.3}; spenders {:.2} bytes per input ({} inputs)",
            ratio(&with, &without, "secs"),
            ratio(&with, &without, "cpu"),
            ratio(&with, &without, "peak_rss_growth"),
            ratio(&with, &without, "peak_cache"),
            table(&with, "") as f64 / table(&without, "").max(1) as f64,
            table(&with, "spenders") as f64 / inputs as f64,
            thousands(inputs),
        );
        eprintln!("{row}");
        rows.push(row);
    }
    let up = spawn("upgrade");
    let secs = up["secs"].as_f64().unwrap_or(0.0);
    let inputs = up["inputs"].as_u64().unwrap_or(0);
    let upgrade = format!(
        "upgrade of the database without it (blocks from the chain file): {secs:.2} s, {} inputs/s, \
         {:.1} s per million inputs, CPU {:.2} s, peak RSS +{} MB",
        thousands((inputs as f64 / secs.max(1e-9)) as u64),
        secs * 1e6 / inputs.max(1) as f64,
        up["cpu"].as_f64().unwrap_or(0.0),
        up["peak_rss_growth"].as_u64().unwrap_or(0) >> 20,
    );
    println!("\n== spender index cost: every round ==");
    for r in &rows {
        println!("{r}");
    }
    println!("{upgrade}");
}
