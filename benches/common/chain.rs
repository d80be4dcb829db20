//! The bench chain: generated once into `~/.cache/ferrumx/bench-<txs>.v3.chain` (straight
//! into the file, in bounded memory) and served from disk.

use std::path::PathBuf;
use std::time::Instant;

use ferrumx_simnode::{archive, GenParams, Node};
use ferrumx_testkit::electrumx;

/// Where caches go.
pub fn cache_dir() -> PathBuf {
    electrumx::cache_dir().unwrap_or_else(|| PathBuf::from("target/ferrumx-cache"))
}

/// The bench chain of at least `txs` transactions (2,000 a block, seed 1), opened from disk
/// (`FERRUMX_BENCH_CHAIN` or the cache); generated first when missing or stale.
pub fn open(txs: u64) -> Node {
    let cache = cache_dir();
    std::fs::create_dir_all(&cache).expect("cache dir");
    let path = std::env::var_os("FERRUMX_BENCH_CHAIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache.join(format!("bench-{txs}.v3.chain")));
    let params = GenParams::sized(1, txs, 2_000);
    eprintln!("chain: {} ...", path.display());
    let t = Instant::now();
    let (node, reused) =
        archive::open_or_generate(&params, &path).expect("open or generate the chain");
    let (rss, peak) = ferrumx_testkit::process::memory(std::process::id());
    eprintln!(
        "chain {} in {:.1} s; this process: RSS {} MiB, peak {} MiB",
        if reused {
            "opened"
        } else {
            "generated and opened"
        },
        t.elapsed().as_secs_f64(),
        rss >> 20,
        peak >> 20,
    );
    node
}

/// Transactions in the chain (coinbases included) and the XOR of their txids.
pub fn txid_summary(node: &Node) -> (u64, [u8; 32]) {
    let mut xor = [0u8; 32];
    let mut n = 0u64;
    for h in 0..=node.tip_height() {
        let Some(b) = node.block_at(h) else { continue };
        for t in &b.txids {
            n += 1;
            for (a, x) in xor.iter_mut().zip(t.as_ref() as &[u8; 32]) {
                *a ^= x;
            }
        }
    }
    (n, xor)
}
