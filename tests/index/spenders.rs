//! The spender index beyond the status checks every other test makes
//! (`ferrumx_testkit::check_spenders`): what applying and rolling back blocks report for
//! notifications, and what the index costs (an ignored measurement).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bitcoin::{Network, OutPoint, Txid};
use ferrumx::index::Index;
use ferrumx_simnode::{GenParams, Node};

use super::{open, sync_to, TempDir, REORG_LIMIT};

#[test]
fn blocks_and_rollbacks_report_the_outpoints_they_change() {
    let node = Node::generate(GenParams::fixture(22));
    let tip = node.tip_height();
    let dir = TempDir::new("changes");
    let mut index = open(&dir, 1 << 30);
    sync_to(&mut index, &node, tip - 3);
    let mut spent_by = Vec::new();
    for h in tip - 2..=tip {
        let stored = node.block_at(h).unwrap();
        let block = stored.block().unwrap();
        let summary = index.advance(&stored.raw).unwrap();
        let inputs: Vec<OutPoint> = block
            .txdata
            .iter()
            .skip(1)
            .flat_map(|tx| tx.input.iter().map(|i| i.previous_output))
            .collect();
        assert!(!inputs.is_empty(), "block {h} spends nothing");
        assert_eq!(summary.spent, inputs, "spent by block {h}");
        assert_eq!(summary.txids, stored.txids, "txids of block {h}");
        spent_by.push((stored.txids.clone(), inputs));
    }
    // Rolled back: every output the removed blocks spent that an older block created is
    // unspent again; the removed blocks' transactions lose their outputs.
    let rolled = index.backup(tip - 3).unwrap();
    let removed: HashSet<Txid> = spent_by.iter().flat_map(|(t, _)| t.clone()).collect();
    let want_unspent: HashSet<OutPoint> = spent_by
        .iter()
        .flat_map(|(_, i)| i.clone())
        .filter(|op| !removed.contains(&op.txid))
        .collect();
    assert_eq!(
        rolled.unspent.iter().copied().collect::<HashSet<_>>(),
        want_unspent
    );
    assert_eq!(rolled.unspent.len(), want_unspent.len(), "each once");
    assert_eq!(
        rolled.removed.iter().copied().collect::<HashSet<_>>(),
        removed
    );
    assert_eq!(rolled.removed.len(), removed.len());
    // And their statuses say so.
    let reader = index.reader();
    for op in &want_unspent {
        let s = reader.outpoint_status(op).unwrap().expect("still funded");
        assert_eq!(s.spender, None, "{op}");
    }
    for txid in &removed {
        assert_eq!(
            reader.outpoint_status(&OutPoint::new(*txid, 0)).unwrap(),
            None
        );
    }
}

/// Bytes of the table files of each column family after a full compaction, and in total.
fn table_bytes(dir: &TempDir) -> Vec<(String, u64)> {
    let names = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).unwrap();
    let mut opts = rocksdb::Options::default();
    opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
    let db = rocksdb::DB::open_cf(&opts, dir.path(), &names).unwrap();
    names
        .iter()
        .map(|n| {
            let cf = db.cf_handle(n).unwrap();
            db.compact_range_cf(cf, None::<&[u8]>, None::<&[u8]>);
            let bytes = db
                .property_int_value_cf(cf, "rocksdb.total-sst-files-size")
                .unwrap()
                .unwrap_or(0);
            (n.clone(), bytes)
        })
        .collect()
}

/// Resets this process's peak resident memory (Linux: `clear_refs` 5), then reads it later.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's peak (`VmHWM`) or current (`VmRSS`) resident memory.
fn rss(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

struct Run {
    took: Duration,
    flushes: usize,
    peak_cache: usize,
    /// Peak resident memory during the run above what the process held before it.
    peak_rss: u64,
    tables: Vec<(String, u64)>,
}

fn run(node: &Node, spenders: bool, cache: usize) -> Run {
    let dir = TempDir::new("cost");
    let open = if spenders {
        Index::open
    } else {
        Index::open_pre_spenders
    };
    reset_peak();
    let before = rss("VmRSS:");
    let mut index = open(dir.path(), Network::Regtest, cache, REORG_LIMIT).unwrap();
    let t = Instant::now();
    let (mut flushes, mut peak_cache) = (0, 0);
    for h in 1..=node.tip_height() {
        index.advance(&node.block_at(h).unwrap().raw).unwrap();
        peak_cache = peak_cache.max(index.cache_bytes());
        if index.needs_flush() {
            index.flush().unwrap();
            flushes += 1;
        }
    }
    index.flush().unwrap();
    let took = t.elapsed();
    let peak_rss = rss("VmHWM:").saturating_sub(before);
    drop(index);
    Run {
        took,
        flushes: flushes + 1,
        peak_cache,
        peak_rss,
        tables: table_bytes(&dir),
    }
}

/// What the spender index costs, as ratios against the same sync without it (the
/// previous layout's code path), in this (debug) build:
/// `FERRUMX_INDEX_TXS=100000 cargo test -p ferrumx --test index spender_index_cost --
/// --ignored --nocapture`. Also the in-process upgrade's rate (no daemon).
#[test]
#[ignore]
fn spender_index_cost() {
    let txs: u64 = std::env::var("FERRUMX_INDEX_TXS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    let cache: usize = 16 << 20;
    let node = Node::generate(GenParams::sized(4, txs, 500));
    let blocks: Vec<_> = (1..=node.tip_height())
        .map(|h| node.block_at(h).unwrap().block().unwrap())
        .collect();
    let all_txs: usize = blocks.iter().map(|b| b.txdata.len()).sum();
    let inputs: usize = blocks
        .iter()
        .flat_map(|b| b.txdata.iter().skip(1))
        .map(|tx| tx.input.len())
        .sum();
    let op_returns: usize = blocks
        .iter()
        .flat_map(|b| &b.txdata)
        .flat_map(|tx| &tx.output)
        .filter(|o| ferrumx::index::is_unspendable(&o.script_pubkey))
        .count();
    eprintln!(
        "chain: {} blocks, {all_txs} txs, {inputs} inputs, {op_returns} unspendable outputs; \
         cache {} MB",
        node.tip_height(),
        cache >> 20
    );
    // Alternate, twice each, and keep each one's best time (the machine is shared).
    let mut without = run(&node, false, cache);
    let mut with = run(&node, true, cache);
    {
        let w = run(&node, false, cache);
        if w.took < without.took {
            without.took = w.took;
        }
        let s = run(&node, true, cache);
        if s.took < with.took {
            with.took = s.took;
        }
    }
    let total = |r: &Run| r.tables.iter().map(|t| t.1).sum::<u64>();
    let spenders = with
        .tables
        .iter()
        .find(|t| t.0 == "spenders")
        .map_or(0, |t| t.1);
    let rate = |r: &Run| all_txs as f64 / r.took.as_secs_f64();
    eprintln!(
        "without: {:?} ({:.0} tx/s), {} flushes, peak cache {} KB, peak RSS {} MB, tables {} KB",
        without.took,
        rate(&without),
        without.flushes,
        without.peak_cache >> 10,
        without.peak_rss >> 20,
        total(&without) >> 10
    );
    eprintln!(
        "with:    {:?} ({:.0} tx/s), {} flushes, peak cache {} KB, peak RSS {} MB, tables {} KB \
         (spenders {} KB)",
        with.took,
        rate(&with),
        with.flushes,
        with.peak_cache >> 10,
        with.peak_rss >> 20,
        total(&with) >> 10,
        spenders >> 10
    );
    eprintln!(
        "spenders: {:.2} bytes per row ({} rows: inputs + unspendable outputs), {:.2} bytes per \
         input",
        spenders as f64 / (inputs + op_returns) as f64,
        inputs + op_returns,
        spenders as f64 / inputs as f64
    );
    eprintln!(
        "ratios with/without ({} MB cache): sync time {:.3}, sync rate {:.3}, disk {:.3}, \
         flushes {} / {}",
        cache >> 20,
        with.took.as_secs_f64() / without.took.as_secs_f64(),
        rate(&with) / rate(&without),
        total(&with) as f64 / total(&without) as f64,
        with.flushes,
        without.flushes,
    );
    // The whole chain in one cache: what the spender rows add to memory.
    let big_without = run(&node, false, 1 << 30);
    let big_with = run(&node, true, 1 << 30);
    eprintln!(
        "one flush: cache {} KB / {} KB (ratio {:.3}), peak RSS growth {} MB / {} MB (ratio \
         {:.3}), time {:?} / {:?}",
        big_with.peak_cache >> 10,
        big_without.peak_cache >> 10,
        big_with.peak_cache as f64 / big_without.peak_cache as f64,
        big_with.peak_rss >> 20,
        big_without.peak_rss >> 20,
        big_with.peak_rss as f64 / big_without.peak_rss.max(1) as f64,
        big_with.took,
        big_without.took
    );

    // The upgrade of the database without it, in process.
    let dir = TempDir::new("cost-upgrade");
    {
        let mut index =
            Index::open_pre_spenders(dir.path(), Network::Regtest, cache, REORG_LIMIT).unwrap();
        sync_to(&mut index, &node, node.tip_height());
        index.flush().unwrap();
    }
    let mut index = open(&dir, cache);
    let t = Instant::now();
    for h in 1..=node.tip_height() {
        index.upgrade_block(&node.block_at(h).unwrap().raw).unwrap();
        if index.needs_flush() {
            index.upgrade_flush().unwrap();
        }
    }
    index.upgrade_flush().unwrap();
    let took = t.elapsed();
    eprintln!(
        "upgrade (blocks in memory): {took:?}, {:.0} inputs/s, {:.1} s per million inputs",
        inputs as f64 / took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / inputs as f64
    );
}
