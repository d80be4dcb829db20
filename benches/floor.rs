//! The floor on its own: fetch every block of the bench chain from the stand-in the way
//! FerrumX does, decode and parse it, compute every txid and script hash, store nothing
//! (see `common/floor.rs`). Prints each run's CPU and wall time; the side-by-side bench runs
//! it too and compares it with the servers' sync CPU.
//!
//! ```text
//! cargo bench --bench floor
//! ```
//!
//! Settings (environment): `FERRUMX_BENCH_TXS` (default 1,000,000) and `FERRUMX_BENCH_CHAIN`
//! as for the side-by-side bench; `FERRUMX_FLOOR_RUNS` (default 3); `FERRUMX_FLOOR_TRANSPORT`
//! `rpc` (default) or `rest` (REST `/rest/block/<hash>.bin`, when the stand-in serves it).

#[path = "common/chain.rs"]
mod chain;
#[path = "common/floor.rs"]
mod floor;

use ferrumx_simnode::{SimNode, SimNodeOptions};
use ferrumx_testkit::env_or;

fn main() {
    let txs: u64 = env_or("FERRUMX_BENCH_TXS", 1_000_000);
    let runs: u32 = env_or("FERRUMX_FLOOR_RUNS", 3);
    let node = chain::open(txs);
    let (chain_txs, txid_xor) = chain::txid_summary(&node);
    let sim = SimNode::spawn(node, SimNodeOptions::default()).expect("start the stand-in");
    let url = sim.daemon_url();
    let transport = match std::env::var("FERRUMX_FLOOR_TRANSPORT").as_deref() {
        Ok("rest") if floor::rest_available(&url) => floor::Transport::Rest,
        Ok("rest") => {
            eprintln!("the stand-in does not serve REST: JSON-RPC instead");
            floor::Transport::Rpc
        }
        Ok("rpc") | Err(_) => floor::Transport::Rpc,
        Ok(other) => panic!("FERRUMX_FLOOR_TRANSPORT={other:?}: rpc or rest"),
    };
    println!("| run | transport | blocks | transactions | MB parsed | CPU | wall | tx/s (CPU) |");
    println!("|---|---|---|---|---|---|---|---|");
    for run in 1..=runs {
        let r = floor::run(&url, transport, 0, None).expect("the floor");
        assert_eq!(r.txs, chain_txs, "the floor saw every transaction");
        assert_eq!(r.txid_xor, txid_xor, "the floor's txids are the chain's");
        println!(
            "| {run} | {transport:?} | {} | {} | {:.0} | {:.2} s | {:.2} s | {:.0} |",
            r.blocks,
            r.txs,
            r.bytes as f64 / 1e6,
            r.cpu_secs,
            r.wall_secs,
            r.txs as f64 / r.cpu_secs.max(1e-9),
        );
    }
    sim.shutdown();
}
