//! `corejson` against answers recorded from a real Bitcoin Core 29.0 (regtest).
//!
//! The chain, the stale blocks and the mempool are loaded from the recording set in
//! `data/bitcoind-core-v29` (bundled with the stand-in); every context value (height, confirmations, chain
//! work, median time, next block, prevouts) is derived here from the block data alone.
//! Each listed recording is then recomputed and compared with Core's `result`, both as
//! parsed JSON and as exact text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bitcoin::consensus::encode::deserialize_hex;
use bitcoin::{Block, BlockHash, Network, OutPoint, Transaction, Txid};
use ferrumx_simnode::corejson::{
    block_verbose, chainwork_bytes, header_hex, header_verbose, median_time_past, no_prevouts,
    tx_verbose, BlockCtx, Prevout, TxCtx,
};
use ferrumx_simnode::json::Json;
use serde_json::Value;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/bitcoind-core-v29");

/// Every recording of a verbose block, header or transaction answer.
const RECORDINGS: &[&str] = &[
    "getblockheader_verbose_true",
    "getblockheader_verbose_false",
    "getblockheader_orphaned_verbose_true",
    "getblock_verbosity_0",
    "getblock_verbosity_1",
    "getblock_verbosity_2",
    "getblock_verbosity_3",
    "getblock_genesis_verbosity_1",
    "getblock_orphaned_verbosity_1",
    "electrumx_getblock_true",
    "electrumx_getblock_false",
    "getrawtransaction_confirmed_true",
    "getrawtransaction_confirmed_false",
    "getrawtransaction_confirmed_verbosity_2",
    "getrawtransaction_coinbase_true",
    "getrawtransaction_mempool_true",
    "getrawtransaction_mempool_false",
    "getrawtransaction_only_in_orphaned_block_evicted_nonfinal",
    "getrawtransaction_only_in_orphaned_block_replaced",
    "getrawtransaction_rbf_replaced_original",
    "getrawtransaction_remined_after_reorg2",
    "electrumx_getrawtransaction_0",
    "electrumx_getrawtransaction_1",
];

struct Entry {
    height: u32,
    block: Block,
    active: bool,
}

struct Chain {
    /// Active chain, index = height.
    active: Vec<BlockHash>,
    blocks: HashMap<BlockHash, Entry>,
    /// Outputs created on the active chain.
    outputs: HashMap<OutPoint, Prevout>,
    mempool: HashMap<Txid, Transaction>,
}

fn data_dir() -> PathBuf {
    let dir = Path::new(DATA).to_path_buf();
    assert!(
        dir.join("README.md").exists(),
        "Core 29.0 recordings not found at {}",
        dir.display()
    );
    dir
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}"))
}

fn load() -> Chain {
    let dir = data_dir();
    let mut chain = Chain {
        active: Vec::new(),
        blocks: HashMap::new(),
        outputs: HashMap::new(),
        mempool: HashMap::new(),
    };
    for row in jsonl(&dir.join("chain.jsonl")) {
        let block: Block = deserialize_hex(str_of(&row, "block_hex")).unwrap();
        let hash = block.block_hash();
        assert_eq!(hash.to_string(), str_of(&row, "hash"));
        assert_eq!(header_hex(&block.header), str_of(&row, "header_hex"));
        let height = row["height"].as_u64().unwrap() as u32;
        assert_eq!(
            height as usize,
            chain.active.len(),
            "chain.jsonl out of order"
        );
        for (i, tx) in block.txdata.iter().enumerate() {
            let txid = tx.compute_txid();
            for (vout, txout) in tx.output.iter().enumerate() {
                chain.outputs.insert(
                    OutPoint::new(txid, vout as u32),
                    Prevout {
                        txout: txout.clone(),
                        height,
                        coinbase: i == 0,
                    },
                );
            }
        }
        chain.active.push(hash);
        chain.blocks.insert(
            hash,
            Entry {
                height,
                block,
                active: true,
            },
        );
    }
    // Stale blocks: the file lists parents before children.
    for row in jsonl(&dir.join("orphaned.jsonl")) {
        let block: Block = deserialize_hex(str_of(&row, "block_hex")).unwrap();
        let hash = block.block_hash();
        assert_eq!(hash.to_string(), str_of(&row, "hash"));
        let parent = &chain.blocks[&block.header.prev_blockhash];
        let height = parent.height + 1;
        assert_eq!(u64::from(height), row["height"].as_u64().unwrap());
        chain.blocks.insert(
            hash,
            Entry {
                height,
                block,
                active: false,
            },
        );
    }
    for row in jsonl(&dir.join("mempool.jsonl")) {
        let tx: Transaction = deserialize_hex(str_of(&row, "hex")).unwrap();
        assert_eq!(tx.compute_txid().to_string(), str_of(&row, "txid"));
        chain.mempool.insert(tx.compute_txid(), tx);
    }
    chain
}

impl Chain {
    fn tip_height(&self) -> u32 {
        self.active.len() as u32 - 1
    }

    fn block_ctx(&self, hash: &BlockHash) -> BlockCtx {
        let entry = &self.blocks[hash];
        let mut times = Vec::new();
        let mut cursor = Some(*hash);
        while let Some(h) = cursor.filter(|_| times.len() < 11) {
            let e = &self.blocks[&h];
            times.push(e.block.header.time);
            cursor = (e.height > 0).then_some(e.block.header.prev_blockhash);
        }
        let (confirmations, next_hash) = if entry.active {
            (
                i64::from(self.tip_height() - entry.height + 1),
                self.active.get(entry.height as usize + 1).copied(),
            )
        } else {
            (-1, None)
        };
        BlockCtx {
            height: entry.height,
            confirmations,
            // Regtest: every block is worth 2.
            chainwork: chainwork_bytes(2 * (u128::from(entry.height) + 1)),
            median_time: median_time_past(&times),
            next_hash,
            network: Network::Regtest,
        }
    }

    /// Like Core with -txindex: the active chain first, then stale blocks, then mempool.
    fn find_tx(&self, txid: &Txid) -> Option<(Transaction, Option<TxCtx>)> {
        let in_block = |active: bool| {
            self.blocks.iter().find_map(|(hash, e)| {
                if e.active != active {
                    return None;
                }
                let tx = e.block.txdata.iter().find(|t| t.compute_txid() == *txid)?;
                let ctx = if active {
                    TxCtx {
                        blockhash: *hash,
                        confirmations: i64::from(self.tip_height() - e.height + 1),
                        blocktime: Some(e.block.header.time),
                    }
                } else {
                    TxCtx {
                        blockhash: *hash,
                        confirmations: 0,
                        blocktime: None,
                    }
                };
                Some((tx.clone(), Some(ctx)))
            })
        };
        in_block(true)
            .or_else(|| in_block(false))
            .or_else(|| self.mempool.get(txid).map(|tx| (tx.clone(), None)))
    }

    fn prevout(&self, outpoint: &OutPoint) -> Option<Prevout> {
        self.outputs.get(outpoint).cloned()
    }
}

/// `true`, `false`, 0, 1, 2, 3 as a verbosity.
fn verbosity(v: &Value) -> u8 {
    match v {
        Value::Bool(b) => u8::from(*b),
        Value::Number(n) => n.as_u64().unwrap() as u8,
        Value::Null => 0,
        other => panic!("verbosity {other}"),
    }
}

/// Recomputes the answer of a recorded request; `None` where Core answered an error.
fn answer(chain: &Chain, req: &Value) -> Option<Json> {
    let params = req["params"].as_array().unwrap();
    let method = req["method"].as_str().unwrap();
    match method {
        "getblockheader" => {
            let hash: BlockHash = params[0].as_str().unwrap().parse().unwrap();
            let entry = chain.blocks.get(&hash)?;
            let verbose = !matches!(params.get(1), Some(Value::Bool(false)));
            Some(if verbose {
                header_verbose(
                    &entry.block.header,
                    entry.block.txdata.len(),
                    &chain.block_ctx(&hash),
                )
            } else {
                Json::Str(header_hex(&entry.block.header))
            })
        }
        "getblock" => {
            let hash: BlockHash = params[0].as_str().unwrap().parse().unwrap();
            let entry = chain.blocks.get(&hash)?;
            let level = params.get(1).map_or(1, verbosity);
            let lookup = |o: &OutPoint| chain.prevout(o);
            Some(block_verbose(
                &entry.block,
                &chain.block_ctx(&hash),
                level,
                &lookup,
            ))
        }
        "getrawtransaction" => {
            let txid: Txid = params[0].as_str().unwrap().parse().unwrap();
            let level = params.get(1).map_or(0, verbosity);
            let (tx, ctx) = chain.find_tx(&txid)?;
            let lookup = |o: &OutPoint| chain.prevout(o);
            Some(tx_verbose(
                &tx,
                Network::Regtest,
                ctx.as_ref(),
                level,
                &lookup,
            ))
        }
        other => panic!("unexpected method {other}"),
    }
}

/// The exact text of `result` in a recorded body `{"result":…,"error":null,"id":…}`.
fn result_text(body: &str) -> Option<&str> {
    let rest = body.trim_end().strip_prefix("{\"result\":")?;
    let end = rest.rfind(",\"error\":null,\"id\":")?;
    Some(&rest[..end])
}

#[test]
fn recordings_match_byte_for_byte() {
    let chain = load();
    assert_eq!(chain.tip_height(), 164);
    let rpc = data_dir().join("rpc");
    let mut checked = 0;
    for name in RECORDINGS {
        let req: Value = serde_json::from_str(
            &std::fs::read_to_string(rpc.join(format!("{name}.req"))).unwrap(),
        )
        .unwrap();
        let body = std::fs::read_to_string(rpc.join(format!("{name}.json"))).unwrap();
        let recorded: Value = serde_json::from_str(&body).unwrap();
        let ours = answer(&chain, &req);
        if recorded["error"].is_null() {
            let ours = ours.unwrap_or_else(|| panic!("{name}: not found in the recorded data"));
            assert_eq!(ours.to_value(), recorded["result"], "{name}: JSON differs");
            assert_eq!(
                ours.to_text(),
                result_text(&body).unwrap(),
                "{name}: text differs"
            );
        } else {
            // Core did not find it (e.g. an RBF-replaced original): neither must we.
            assert!(ours.is_none(), "{name}: Core answered an error");
        }
        checked += 1;
    }
    assert_eq!(checked, RECORDINGS.len());
}

#[test]
fn verbose_block_txs_equal_verbose_transactions() {
    // getblock 2/3 embeds the same transaction objects as getrawtransaction 1/2, minus
    // the block keys. Check every block, stale or not, so no script in the chain panics.
    let chain = load();
    for (hash, entry) in &chain.blocks {
        let ctx = chain.block_ctx(hash);
        let lookup = |o: &OutPoint| chain.prevout(o);
        let block = block_verbose(&entry.block, &ctx, 3, &lookup).to_value();
        let txs = block["tx"].as_array().unwrap();
        assert_eq!(txs.len(), entry.block.txdata.len());
        assert_eq!(block["nTx"], txs.len());
        for (tx, json) in entry.block.txdata.iter().zip(txs) {
            let ctx = TxCtx {
                blockhash: *hash,
                confirmations: 1,
                blocktime: Some(1),
            };
            let mut single = tx_verbose(tx, Network::Regtest, Some(&ctx), 2, &lookup).to_value();
            let obj = single.as_object_mut().unwrap();
            for key in ["blockhash", "confirmations", "time", "blocktime"] {
                obj.remove(key);
            }
            assert_eq!(&single, json, "{}", tx.compute_txid());
        }
        // Verbosity 2 has fees but no prevout objects.
        let v2 = block_verbose(&entry.block, &ctx, 2, &lookup).to_text();
        assert!(!v2.contains("\"prevout\""));
        if entry.active && entry.block.txdata.len() > 1 {
            assert!(v2.contains("\"fee\""), "{hash}");
        }
    }
}

#[test]
fn mempool_transactions_have_no_block_keys() {
    let chain = load();
    for tx in chain.mempool.values() {
        let lookup = |o: &OutPoint| chain.prevout(o);
        let v1 = tx_verbose(tx, Network::Regtest, None, 1, &no_prevouts);
        // No undo data for mempool transactions: verbosity 2 is verbosity 1 (as Core).
        let v2 = tx_verbose(tx, Network::Regtest, None, 2, &lookup);
        assert_eq!(v1, v2);
        for key in ["blockhash", "confirmations", "time", "blocktime", "fee"] {
            assert!(v1.get(key).is_none(), "{key}");
        }
        assert_eq!(
            tx_verbose(tx, Network::Regtest, None, 0, &no_prevouts),
            Json::Str(bitcoin::consensus::encode::serialize_hex(tx))
        );
    }
}
