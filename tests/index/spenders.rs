//! The spender index beyond the status checks every other test makes
//! (`ferrumx_testkit::check_spenders`): what applying and rolling back blocks report for
//! notifications. What the index costs is measured by `cargo bench --bench spender_cost`.

use std::collections::HashSet;

use bitcoin::{OutPoint, Txid};
use ferrumx_simnode::{GenParams, Node};

use super::{open, sync_to, TempDir};

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
