//! A whale: one script hash paid by and spending in most transactions of a chain (tens of
//! thousands of history entries, hundreds of unspent outputs). Its status, balance, history,
//! mempool and unspent outputs are the stand-in's truth through new mempool transactions, a
//! block and a reorg — the incremental paths (a status extended after a block from the kept
//! SHA-256 state, the mempool part hashed on the confirmed part's state, the cache cleared by
//! a reorg) checked on a history long enough to matter.

use std::time::Instant;

use ferrumx_simnode::GenParams;
use ferrumx_testkit::Kind;

use super::*;

/// History entries the whale has at least (the chain is sized for it).
const MIN_ENTRIES: usize = 20_000;

/// What the server must answer for `sh` now, from the stand-in's truth and mempool.
fn want_now(e: &Electrum, sh: &ScriptHash) -> Want {
    e.sim.with_node(|n| want_for(n, &MempoolView::of(n), sh))
}

/// Waits for the whale's status notification to reach `want`'s status (the server saw the
/// change), then checks every answer for it on a fresh session and the subscribed one.
fn settle_and_check(e: &Electrum, sub: &mut Client, label: &str, sh: &ScriptHash) -> Want {
    let want = want_now(e, sh);
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .unwrap_or_else(|| panic!("{label}: no notification of the whale's new status"));
        let (method, params) = sub
            .notification(left)
            .unwrap_or_else(|| panic!("{label}: no notification of the whale's new status"));
        if method == "blockchain.scripthash.subscribe" && params[1] == want.status {
            assert_eq!(params[0], json!(sh.to_string()), "{label}");
            break;
        }
    }
    let mut fresh = e.session(Kind::Tcp, "1.4");
    check_script_hashes(&mut fresh, std::slice::from_ref(&want));
    check_script_hashes(sub, std::slice::from_ref(&want));
    want
}

/// Adds mempool transactions until one more touches the whale (half the payments go to it).
fn touch(e: &Electrum, whale: &ScriptHash) {
    for _ in 0..20 {
        let touched = e.sim.with_node(|n| {
            let before = MempoolView::of(n).summaries(whale).len();
            n.add_traffic(5);
            MempoolView::of(n).summaries(whale).len() > before
        });
        if touched {
            return;
        }
    }
    panic!("no new mempool transaction touched the whale");
}

#[test]
fn a_whale_answers_the_truth_through_mempool_blocks_and_a_reorg() {
    let mut node = Node::generate(GenParams::whale(21, 26_000, 60, 0.5));
    node.add_traffic(20);
    let whale = ScriptHash::of(&node.gen.whale_script().expect("the chain has a whale"));
    let (entries, utxos) = (
        node.truth.history_len(&whale),
        node.truth.utxos(&whale, None).len(),
    );
    eprintln!("whale: {entries} history entries, {utxos} unspent outputs");
    assert!(entries >= MIN_ENTRIES, "{entries} entries");
    assert!(utxos >= 100, "{utxos} unspent outputs");
    // Room for the whole history in one answer (about 99 bytes an entry, as ElectrumX).
    let e = Electrum::start("methods-whale", node, &[("MAX_SEND", "10000000")]);
    let mut sub = e.session(Kind::Tcp, "1.4");
    let first = want_now(&e, &whale);
    assert_eq!(
        sub.call("blockchain.scripthash.subscribe", json!([first.sh])),
        Ok(first.status.clone())
    );
    check_script_hashes(&mut sub, std::slice::from_ref(&first));

    touch(&e, &whale);
    settle_and_check(&e, &mut sub, "mempool", &whale);

    // A block confirming the mempool (the history extended from the kept state), then more
    // mempool transactions on top of the longer confirmed part.
    e.sim.with_node(|n| drop(n.mine(1).expect("mine")));
    settle_and_check(&e, &mut sub, "block", &whale);
    touch(&e, &whale);
    settle_and_check(&e, &mut sub, "mempool after the block", &whale);

    // A reorg replacing the last two blocks by three (entries moved, dropped, returned to
    // the mempool), then a block on the new branch.
    e.sim.with_node(|n| drop(n.reorg(2, 3).expect("reorg")));
    settle_and_check(&e, &mut sub, "reorg", &whale);
    touch(&e, &whale);
    settle_and_check(&e, &mut sub, "mempool after the reorg", &whale);
    e.sim.with_node(|n| drop(n.mine(1).expect("mine")));
    let last = settle_and_check(&e, &mut sub, "block after the reorg", &whale);
    let n = last.history.as_array().map_or(0, Vec::len);
    assert!(
        n > entries,
        "{n} entries at the end, {entries} at the start"
    );
}
