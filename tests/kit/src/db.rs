//! Checks of a database the server wrote (opened here once the server has exited) against
//! the stand-in's truth, or against an index built in this process from the stand-in's
//! blocks.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bitcoin::hashes::Hash;
use bitcoin::{Network, OutPoint, Txid};
use ferrumx::index::{Index, IndexReader};
use ferrumx_simnode::Node;

use crate::TempDir;

/// Opens a database written by the server (which must have exited).
pub fn open_index(dir: &Path, reorg_limit: u32) -> Index {
    Index::open(dir, Network::Regtest, 1 << 20, reorg_limit).expect("open the server's index")
}

/// The content digest of a database written by the server.
pub fn digest_of(dir: &Path, reorg_limit: u32) -> [u8; 32] {
    open_index(dir, reorg_limit)
        .content_digest()
        .expect("digest")
}

/// An index of the node's chain built in this process, straight from its blocks (no
/// daemon, no server): the reference the server's database must equal.
pub fn fresh_digest(node: &Node, reorg_limit: u32) -> [u8; 32] {
    let dir = TempDir::new("fresh");
    let mut index =
        Index::open(dir.path(), Network::Regtest, 1 << 30, reorg_limit).expect("open fresh");
    for h in 1..=node.tip_height() {
        index
            .advance(&node.block_at(h).expect("block").raw)
            .expect("advance");
    }
    index.flush().expect("flush");
    index.content_digest().expect("digest")
}

/// Every script hash's history, UTXOs and balance at `height` (the tip if `None`) equal the
/// truth; with `every` > 1 only every `every`-th script hash is checked. Returns how many
/// were checked.
pub fn check_queries(
    reader: &IndexReader,
    node: &Node,
    height: Option<u32>,
    every: usize,
) -> usize {
    let truth = &node.truth;
    let mut checked = 0;
    let mut hashes: Vec<_> = truth.script_hashes().collect();
    hashes.sort_by_key(|sh| sh.0);
    for sh in hashes.into_iter().step_by(every.max(1)) {
        let want: Vec<(Txid, u32)> = truth
            .history(sh, height)
            .iter()
            .map(|h| (h.txid, h.height))
            .collect();
        let got = reader.history(&sh.0, 0, usize::MAX).expect("history");
        assert_eq!(got, want, "history of {sh}");
        let want_utxos: Vec<_> = truth
            .utxos(sh, height)
            .iter()
            .map(|u| (u.outpoint.txid, u.outpoint.vout, u.height, u.value))
            .collect();
        let got_utxos: Vec<_> = reader
            .utxos(&sh.0)
            .expect("utxos")
            .iter()
            .map(|u| (u.txid, u.vout, u.height, u.value))
            .collect();
        assert_eq!(got_utxos, want_utxos, "utxos of {sh}");
        assert_eq!(
            reader.balance(&sh.0).expect("balance"),
            truth.balance(sh, height),
            "balance of {sh}"
        );
        checked += 1;
    }
    checked
}

/// The index equals the node's active chain: tip, every header, every block's txids and
/// every transaction's position; and every script hash's queries equal the truth.
pub fn check_against_truth(reader: &IndexReader, node: &Node) {
    let tip = node.tip_height();
    assert_eq!(reader.tip(), Some((tip, node.tip_hash())), "tip");
    let checked = check_queries(reader, node, None, 1);
    assert!(checked > 100, "only {checked} script hashes");
    let headers = reader.headers(0, tip as usize + 1).expect("headers");
    assert_eq!(headers.len() as u32, tip + 1, "header count");
    for h in 0..=tip {
        let block = node.block_at(h).expect("block");
        assert_eq!(headers[h as usize], block.header, "header {h}");
        assert_eq!(
            reader.block_txids(h).expect("block txids").as_ref(),
            Some(&block.txids),
            "txids of block {h}"
        );
        for (pos, txid) in block.txids.iter().enumerate() {
            let p = reader
                .tx_position(txid)
                .expect("tx_position")
                .expect("known tx");
            assert_eq!((p.height, p.pos), (h, pos as u32), "position of {txid}");
        }
    }
    assert_eq!(reader.header(tip + 1).expect("header"), None);
    let spenders = check_spenders(reader, node);
    assert!(spenders.spent > 100, "{spenders:?}");
}

/// What the spender index answers, as (funder height, spender txid and height).
pub type Status = Option<(u32, Option<(Txid, u32)>)>;

/// Outputs checked by [`check_spenders`]: all, spent, unspendable (`OP_RETURN`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpendersChecked {
    pub outputs: usize,
    pub spent: usize,
    pub unspendable: usize,
}

/// Every output of the node's active chain has the status its own spender index (the
/// stand-in's `-txospenderindex`, kept apart from FerrumX) gives: funded at its block's
/// height, and spent by the active-chain transaction that spent it, at that height; one past
/// a transaction's last output, the genesis coinbase's output and an unknown transaction have
/// none. All from one snapshot (`outpoint_statuses`), and the first outputs one by one too.
pub fn check_spenders(reader: &IndexReader, node: &Node) -> SpendersChecked {
    let mut asked = Vec::new();
    let mut want: Vec<Status> = Vec::new();
    let mut checked = SpendersChecked::default();
    for h in 0..=node.tip_height() {
        let stored = node.block_at(h).expect("block");
        let block = stored.block().expect("block parses");
        for (tx, txid) in block.txdata.iter().zip(&stored.txids) {
            for vout in 0..=tx.output.len() as u32 {
                let op = OutPoint::new(*txid, vout);
                let expect = match tx.output.get(vout as usize) {
                    Some(out) if h > 0 => {
                        let spender = node.spenders.get(&op).map(|(sh, pos)| {
                            let b = node.block_at(sh).expect("spender's block");
                            (b.txids[pos as usize], sh)
                        });
                        checked.outputs += 1;
                        checked.spent += usize::from(spender.is_some());
                        checked.unspendable += usize::from(out.script_pubkey.is_op_return());
                        Some((h, spender))
                    }
                    _ => None,
                };
                asked.push(op);
                want.push(expect);
            }
        }
    }
    asked.push(OutPoint::new(Txid::from_byte_array([0x42; 32]), 0));
    want.push(None);
    let status = |s: Option<ferrumx::index::OutpointStatus>| -> Status {
        s.map(|s| (s.funder_height, s.spender.map(|sp| (sp.txid, sp.height))))
    };
    let got: Vec<Status> = reader
        .outpoint_statuses(&asked)
        .expect("outpoint statuses")
        .into_iter()
        .map(status)
        .collect();
    for ((op, g), w) in asked.iter().zip(&got).zip(&want) {
        assert_eq!(g, w, "status of {op}");
    }
    for (op, w) in asked.iter().zip(&want).take(200) {
        let one = status(reader.outpoint_status(op).expect("outpoint status"));
        assert_eq!(&one, w, "status of {op}, asked alone");
    }
    checked
}

/// Cumulative transaction counts of the node's chain by height (for progress estimates).
pub fn cumulative_txs(node: &Node) -> Vec<u64> {
    let mut total = 0;
    (0..=node.tip_height())
        .map(|h| {
            total += node.block_at(h).expect("block").txids.len() as u64;
            total
        })
        .collect()
}

/// Sizes of the write-ahead log files (`*.log`) in a RocksDB directory.
pub fn wal_sizes(dir: &Path) -> HashMap<PathBuf, u64> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return HashMap::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .filter_map(|p| Some((p.clone(), std::fs::metadata(&p).ok()?.len())))
        .collect()
}

/// Waits until the `k`-th write to the write-ahead logs of `dir` (counted as growths seen by
/// polling every 200 µs), or until `done()` or `until`; whether the writes were seen. What
/// places a kill -9 inside a flush.
pub fn wait_for_wal_writes(
    dir: &Path,
    k: usize,
    until: std::time::Instant,
    done: impl Fn() -> bool,
) -> bool {
    let mut seen = 0;
    let mut sizes = wal_sizes(dir);
    while std::time::Instant::now() < until && seen < k && !done() {
        std::thread::sleep(std::time::Duration::from_micros(200));
        let now = wal_sizes(dir);
        if now
            .iter()
            .any(|(p, &len)| len > sizes.get(p).copied().unwrap_or(0))
        {
            seen += 1;
        }
        sizes = now;
    }
    seen >= k
}
