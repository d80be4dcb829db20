//! Core 31 mode on generated chains (not only the recorded one): what ElectrumX 2.0 relies on.
//! Every expected value is computed from the node's blocks and mempool (brute force), never
//! from the stand-in's own indexes: `gettxspendingprevout` knows every confirmed spend of the
//! active chain (with its block) and every mempool spend, follows reorgs, and without
//! `-txospenderindex` answers as Core does; `getrawmempool` lists the mempool in a valid mining
//! order with consistent chunks; Core 29 mode keeps Core 29's answers.

mod common;

use std::collections::{BTreeSet, HashMap};

use bitcoincore_rpc::bitcoin::hashes::Hash;
use bitcoincore_rpc::bitcoin::{OutPoint, Txid};
use bitcoincore_rpc::RpcApi;
use common::{client, expect_code, fixture, seed};
use ferrumx_simnode::{CoreVersion, Node, SimNode, SimNodeOptions};
use serde_json::{json, Value};

fn serve_as(node: Node, core: CoreVersion, txospenderindex: bool) -> SimNode {
    SimNode::spawn(
        node,
        SimNodeOptions {
            core_version: core,
            txospenderindex,
            ..SimNodeOptions::default()
        },
    )
    .expect("simnode starts")
}

/// Outpoint → (spending txid, block hash) over the active chain, read from the blocks.
fn confirmed_spends(node: &Node) -> HashMap<OutPoint, (Txid, String)> {
    let mut out = HashMap::new();
    for h in 1..=node.tip_height() {
        let b = node.block_at(h).expect("block");
        let block = b.block().expect("block decodes");
        for tx in block.txdata.iter().skip(1) {
            for i in &tx.input {
                out.insert(
                    i.previous_output,
                    (tx.compute_txid(), block.block_hash().to_string()),
                );
            }
        }
    }
    out
}

/// Outpoint → spending txid over the mempool, read from the transactions.
fn mempool_spends(node: &Node) -> HashMap<OutPoint, Txid> {
    node.mempool
        .entries()
        .flat_map(|e| e.tx.input.iter().map(move |i| (i.previous_output, e.txid)))
        .collect()
}

/// Every outpoint worth asking about: the spent ones (block and mempool), every output of
/// the last blocks and of the mempool (many unspent), and two that do not exist.
fn interesting(node: &Node) -> Vec<OutPoint> {
    let mut set: BTreeSet<OutPoint> = confirmed_spends(node).into_keys().collect();
    set.extend(mempool_spends(node).into_keys());
    for h in node.tip_height().saturating_sub(5)..=node.tip_height() {
        let block = node.block_at(h).and_then(|b| b.block()).expect("block");
        for tx in &block.txdata {
            let txid = tx.compute_txid();
            set.extend((0..tx.output.len() as u32 + 1).map(|v| OutPoint::new(txid, v)));
        }
    }
    for e in node.mempool.entries() {
        set.extend((0..e.tx.output.len() as u32 + 1).map(|v| OutPoint::new(e.txid, v)));
    }
    set.insert(OutPoint::new(Txid::all_zeros(), 3));
    set.into_iter().collect()
}

fn ask(c: &bitcoincore_rpc::Client, ops: &[OutPoint], options: Option<Value>) -> Vec<Value> {
    let outputs: Vec<Value> = ops
        .iter()
        .map(|op| json!({"txid": op.txid.to_string(), "vout": op.vout}))
        .collect();
    let mut params = vec![Value::Array(outputs)];
    params.extend(options);
    let got: Value = c.call("gettxspendingprevout", &params).expect("answer");
    got.as_array().expect("array").clone()
}

/// Checks every answer against the brute-force truth; `with_options` asks for the spending
/// transactions too (Core 31), else the call has only the outputs (Core 29, or the defaults).
fn check_spends(
    sim: &SimNode,
    c: &bitcoincore_rpc::Client,
    mempool_only: bool,
    with_options: bool,
) -> usize {
    let (ops, blocks, pool) =
        sim.with_node(|n| (interesting(n), confirmed_spends(n), mempool_spends(n)));
    let options = json!({"mempool_only": mempool_only, "return_spending_tx": true});
    let answers = ask(c, &ops, with_options.then_some(options));
    assert_eq!(answers.len(), ops.len());
    let mut spent = 0;
    for (op, a) in ops.iter().zip(&answers) {
        let mut want = json!({"txid": op.txid.to_string(), "vout": op.vout});
        if let Some(t) = pool.get(op) {
            want["spendingtxid"] = json!(t.to_string());
        } else if let Some((t, b)) = blocks.get(op).filter(|_| !mempool_only) {
            want["spendingtxid"] = json!(t.to_string());
            want["blockhash"] = json!(b);
        }
        let got_tx = a
            .get("spendingtx")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut a = a.clone();
        if let Some(o) = a.as_object_mut() {
            o.remove("spendingtx");
        }
        assert_eq!(a, want, "{op}");
        if let Some(t) = want.get("spendingtxid") {
            spent += 1;
            if !with_options {
                assert!(got_tx.is_none());
                continue;
            }
            let raw = got_tx.expect("spendingtx with return_spending_tx");
            let tx: bitcoincore_rpc::bitcoin::Transaction =
                bitcoincore_rpc::bitcoin::consensus::encode::deserialize_hex(&raw).expect("tx");
            assert_eq!(tx.compute_txid().to_string(), t.as_str().expect("txid"));
            assert!(tx.input.iter().any(|i| i.previous_output == *op));
        }
    }
    spent
}

#[test]
fn spends_of_a_generated_chain_through_traffic_and_reorgs() {
    let sim = serve_as(fixture(), CoreVersion::V31, true);
    let c = client(&sim);
    let info: Value = c.call("getnetworkinfo", &[]).expect("getnetworkinfo");
    assert_eq!(info["version"], json!(310000));
    let tip = sim.with_node(|n| n.tip_height());
    let index: Value = c.call("getindexinfo", &[]).expect("getindexinfo");
    assert_eq!(
        index,
        json!({
            "txindex": {"synced": true, "best_block_height": tip},
            "txospenderindex": {"synced": true, "best_block_height": tip},
        })
    );
    sim.with_node(|n| n.add_traffic(40));
    let spent = check_spends(&sim, &c, false, true);
    assert!(
        spent > 100,
        "only {spent} spent outpoints checked (seed {})",
        seed()
    );
    check_spends(&sim, &c, true, true);
    // No options: mempool_only defaults to false with the index.
    let ops = sim.with_node(|n| interesting(n));
    assert_eq!(
        ask(&c, &ops, None),
        ask(&c, &ops, Some(json!({"mempool_only": false})))
    );
    for depth in [1, 3] {
        sim.with_node(|n| n.reorg(depth, depth + 1)).expect("reorg");
        sim.with_node(|n| n.add_traffic(10));
        check_spends(&sim, &c, false, true);
        sim.with_node(|n| n.mine(2)).expect("mine");
        check_spends(&sim, &c, false, true);
    }
    sim.shutdown();
}

#[test]
fn without_the_txospenderindex() {
    let sim = serve_as(fixture(), CoreVersion::V31, false);
    let c = client(&sim);
    sim.with_node(|n| n.add_traffic(20));
    let index: Value = c
        .call("getindexinfo", &["txospenderindex".into()])
        .expect("info");
    assert_eq!(index, json!({}));
    // Default: mempool only, block spends hidden, no error.
    check_spends(&sim, &c, true, true);
    check_spends(&sim, &c, true, false);
    let ops = sim.with_node(|n| interesting(n));
    assert_eq!(
        ask(&c, &ops, None),
        ask(&c, &ops, Some(json!({"mempool_only": true})))
    );
    // mempool_only false: fails at the first outpoint without a mempool spender.
    let (blocks, pool) = sim.with_node(|n| (confirmed_spends(n), mempool_spends(n)));
    let in_block = blocks
        .keys()
        .find(|op| !pool.contains_key(op))
        .expect("a block spend");
    let in_pool = *pool.keys().next().expect("a mempool spend");
    let outputs = json!([
        {"txid": in_pool.txid.to_string(), "vout": in_pool.vout},
        {"txid": in_block.txid.to_string(), "vout": in_block.vout},
    ]);
    let message = expect_code(
        c.call::<Value>(
            "gettxspendingprevout",
            &[outputs, json!({"mempool_only": false})],
        ),
        -1,
    );
    assert_eq!(
        message,
        format!(
            "No spending tx for the outpoint {}:{} in mempool, and txospenderindex is unavailable.",
            in_block.txid, in_block.vout
        )
    );
    sim.shutdown();
}

#[test]
fn mining_order_and_chunks_of_a_generated_mempool() {
    let sim = serve_as(fixture(), CoreVersion::V31, true);
    let c = client(&sim);
    sim.with_node(|n| n.add_traffic(60));
    let order: Vec<String> = c
        .call::<Vec<String>>("getrawmempool", &[])
        .expect("getrawmempool");
    let verbose: Value = c.call("getrawmempool", &[true.into()]).expect("verbose");
    let entries = verbose.as_object().expect("object");
    let keys: Vec<&String> = entries.keys().collect();
    assert_eq!(
        keys,
        order.iter().collect::<Vec<_>>(),
        "same order both ways"
    );
    let in_pool: BTreeSet<String> =
        sim.with_node(|n| n.mempool.entries().map(|e| e.txid.to_string()).collect());
    assert_eq!(order.iter().cloned().collect::<BTreeSet<_>>(), in_pool);
    // Parents first; chunk fee rates never increase along the order; a chunk's members agree.
    let mut seen = BTreeSet::new();
    let mut last_rate: Option<(u64, u64)> = None;
    for t in &order {
        let e = &entries[t];
        for parent in e["depends"].as_array().expect("depends") {
            assert!(
                seen.contains(parent.as_str().expect("txid")),
                "{t} before its parent"
            );
        }
        seen.insert(Value::String(t.clone()).as_str().expect("txid").to_string());
        let fee = common::sats(&e["fees"]["chunk"]);
        let weight = e["chunkweight"].as_u64().expect("chunkweight");
        assert!(weight >= e["weight"].as_u64().expect("weight"));
        if let Some((f, w)) = last_rate {
            assert!(
                u128::from(fee) * u128::from(w) <= u128::from(f) * u128::from(weight),
                "{t}: chunk fee rate rises along the mining order"
            );
        }
        last_rate = Some((fee, weight));
    }
    let info: Value = c.call("getmempoolinfo", &[]).expect("getmempoolinfo");
    assert_eq!(info["minrelaytxfee"], json!(0.000001));
    assert_eq!(info["limitclustercount"], json!(64));
    sim.shutdown();
}

#[test]
fn core_29_mode_keeps_core_29_answers() {
    let sim = serve_as(fixture(), CoreVersion::V29, true);
    let c = client(&sim);
    sim.with_node(|n| n.add_traffic(20));
    let info: Value = c.call("getnetworkinfo", &[]).expect("getnetworkinfo");
    assert_eq!(
        (&info["version"], &info["subversion"]),
        (&json!(290000), &json!("/Satoshi:29.0.0/"))
    );
    let index: Value = c.call("getindexinfo", &[]).expect("getindexinfo");
    assert!(index.get("txospenderindex").is_none());
    // Core 29: the mempool only, one parameter, results rebuilt (lower-case txid first).
    check_spends(&sim, &c, true, false);
    let help = expect_code(
        c.call::<Value>(
            "gettxspendingprevout",
            &[json!([]), json!({"mempool_only": false})],
        ),
        -1,
    );
    assert!(help.starts_with("gettxspendingprevout outputs"), "{help}");
    let pool = sim.with_node(|n| mempool_spends(n));
    let (op, spender) = pool.iter().next().expect("a mempool spend");
    let upper = op.txid.to_string().to_uppercase();
    let got: Value = c
        .call(
            "gettxspendingprevout",
            &[json!([{"vout": op.vout, "txid": upper}])],
        )
        .expect("answer");
    assert_eq!(
        serde_json::to_string(&got).expect("text"),
        format!(
            "[{{\"txid\":\"{}\",\"vout\":{},\"spendingtxid\":\"{spender}\"}}]",
            op.txid, op.vout
        )
    );
    let verbose: Value = c.call("getrawmempool", &[true.into()]).expect("verbose");
    for (_, e) in verbose.as_object().expect("object") {
        assert!(e.get("chunkweight").is_none());
    }
    sim.shutdown();
}
