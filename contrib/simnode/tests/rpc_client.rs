//! The stand-in through `bitcoincore-rpc` 0.19, the client FerrumX uses: every Core method it
//! serves, batches, authentication, Core's error codes, no-txindex mode and the control API
//! (mining, traffic, RBF, eviction, reorgs, outages). Expected values are computed from the
//! node's own blocks and transactions, never from earlier RPC answers.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use bitcoincore_rpc::bitcoin::hashes::Hash;
use bitcoincore_rpc::bitcoin::{
    Amount, Block, BlockHash, Network, OutPoint, Transaction, Txid, VarInt,
};
use bitcoincore_rpc::json::{EstimateMode, GetChainTipsResultStatus, IndexStatus};
use bitcoincore_rpc::jsonrpc::simple_http::Error as HttpError;
use bitcoincore_rpc::{Auth, RpcApi};
use common::reorg::{check_reorg, ReorgTally};
use common::*;
use ferrumx_simnode::rpc::ZmqEndpoint;
use ferrumx_simnode::{SimNode, SimNodeOptions};
use serde_json::{json, Value};

#[test]
fn chain_methods_match_the_node() {
    let zmq = vec![
        ZmqEndpoint {
            kind: "pubhashblock".into(),
            address: "tcp://127.0.0.1:28332".into(),
            hwm: 1000,
        },
        ZmqEndpoint {
            kind: "pubrawtx".into(),
            address: "tcp://127.0.0.1:28333".into(),
            hwm: 500,
        },
    ];
    let started = Instant::now();
    let options = SimNodeOptions {
        zmq: zmq.clone(),
        ..SimNodeOptions::default()
    };
    let sim = SimNode::spawn(fixture(), options).expect("spawn");
    let c = client(&sim);
    let blocks = sim.with_node(|n| active_blocks(n));
    let tip = blocks.len() - 1;
    assert_eq!(tip, 150);
    let hashes: Vec<BlockHash> = blocks.iter().map(Block::block_hash).collect();
    for w in blocks.windows(2) {
        assert_eq!(w[1].header.prev_blockhash, w[0].block_hash());
    }
    let works = chainworks(&blocks);

    let info = c.get_blockchain_info().unwrap();
    assert_eq!(info.chain, Network::Regtest);
    assert_eq!((info.blocks, info.headers), (tip as u64, tip as u64));
    assert_eq!(info.best_block_hash, hashes[tip]);
    assert_eq!(info.median_time, u64::from(median_time(&blocks, tip)));
    assert_eq!(info.chain_work, works[tip].to_vec());
    assert_eq!(
        info.difficulty,
        difficulty(blocks[tip].header.bits.to_consensus())
    );
    assert_eq!(info.verification_progress, 1.0);
    assert!(!info.initial_block_download && !info.pruned);

    let net = c.get_network_info().unwrap();
    assert_eq!(net.version, 290000);
    assert_eq!(net.subversion, "/Satoshi:29.0.0/");
    assert_eq!(net.relay_fee, Amount::from_sat(1000));
    assert_eq!(net.incremental_fee, Amount::from_sat(1000));
    assert!(net.local_relay && net.network_active);

    assert_eq!(c.get_block_count().unwrap(), tip as u64);
    assert_eq!(c.get_best_block_hash().unwrap(), hashes[tip]);
    for (h, b) in blocks.iter().enumerate() {
        let hash = hashes[h];
        assert_eq!(c.get_block_hash(h as u64).unwrap(), hash);
        assert_eq!(c.get_block(&hash).unwrap(), *b);
        assert_eq!(c.get_block_header(&hash).unwrap(), b.header);
        if h % 10 != 0 && h + 3 < tip {
            continue;
        }
        let hi = c.get_block_header_info(&hash).unwrap();
        assert_eq!((hi.hash, hi.height), (hash, h));
        assert_eq!(hi.confirmations, (tip - h + 1) as i32);
        assert_eq!(hi.version, b.header.version);
        assert_eq!(hi.merkle_root, b.header.merkle_root);
        assert_eq!(
            (hi.time, hi.nonce),
            (b.header.time as usize, b.header.nonce)
        );
        assert_eq!(hi.median_time, Some(median_time(&blocks, h) as usize));
        assert_eq!(hi.bits, format!("{:08x}", b.header.bits.to_consensus()));
        assert_eq!(hi.difficulty, difficulty(b.header.bits.to_consensus()));
        assert_eq!(hi.chainwork, works[h].to_vec());
        assert_eq!(hi.n_tx, b.txdata.len());
        assert_eq!(hi.previous_block_hash, h.checked_sub(1).map(|p| hashes[p]));
        assert_eq!(hi.next_block_hash, hashes.get(h + 1).copied());

        let bi = c.get_block_info(&hash).unwrap();
        assert_eq!((bi.hash, bi.height), (hash, h));
        assert_eq!(bi.confirmations, (tip - h + 1) as i32);
        assert_eq!(
            bi.tx,
            b.txdata
                .iter()
                .map(|t| t.compute_txid())
                .collect::<Vec<_>>()
        );
        assert_eq!(bi.size, b.total_size());
        let stripped = 80
            + VarInt(b.txdata.len() as u64).size()
            + b.txdata.iter().map(Transaction::base_size).sum::<usize>();
        assert_eq!(bi.strippedsize, Some(stripped));
        assert_eq!(bi.weight as u64, b.weight().to_wu());
        assert_eq!(bi.version, b.header.version.to_consensus());
        assert_eq!(bi.merkleroot, b.header.merkle_root);
        assert_eq!(bi.chainwork, works[h].to_vec());
        assert_eq!(bi.mediantime, Some(median_time(&blocks, h) as usize));
        assert_eq!(bi.previousblockhash, h.checked_sub(1).map(|p| hashes[p]));
        assert_eq!(bi.nextblockhash, hashes.get(h + 1).copied());
    }

    // getblock verbosity 2: every transaction, with the fee of the non-coinbase ones.
    for h in [101, 125, tip] {
        let fees: Vec<u64> =
            sim.with_node(|n| blocks[h].txdata[1..].iter().map(|t| fee_of(n, t)).collect());
        let v: Value = c
            .call("getblock", &[json!(hashes[h].to_string()), json!(2)])
            .unwrap();
        assert_eq!(v["height"], json!(h));
        let txs = v["tx"].as_array().expect("tx array");
        assert_eq!(txs.len(), blocks[h].txdata.len());
        for (i, (tj, tx)) in txs.iter().zip(&blocks[h].txdata).enumerate() {
            assert_eq!(tj["txid"], json!(tx.compute_txid().to_string()));
            assert_eq!(tj["hash"], json!(tx.compute_wtxid().to_string()));
            match i {
                0 => assert!(tj.get("fee").is_none(), "coinbase has no fee"),
                _ => assert_eq!(sats(&tj["fee"]), fees[i - 1], "fee of tx {i} at {h}"),
            }
        }
    }

    let tips = c.get_chain_tips().unwrap();
    assert_eq!(tips.len(), 1);
    assert_eq!((tips[0].height, tips[0].hash), (tip as u64, hashes[tip]));
    assert_eq!(tips[0].branch_length, 0);
    assert_eq!(tips[0].status, GetChainTipsResultStatus::Active);

    assert!(c.uptime().unwrap() <= started.elapsed().as_secs() + 1);

    let synced = Some(IndexStatus {
        synced: true,
        best_block_height: tip as u32,
    });
    assert_eq!(c.get_index_info().unwrap().txindex, synced);
    let only: Value = c.call("getindexinfo", &[json!("txindex")]).unwrap();
    assert_eq!(
        only,
        json!({"txindex": {"synced": true, "best_block_height": tip}})
    );
    let none: Value = c.call("getindexinfo", &[json!("coinstatsindex")]).unwrap();
    assert_eq!(none, json!({}));

    let z = c.get_zmq_notifications().unwrap();
    assert_eq!(z.len(), zmq.len());
    for (got, want) in z.iter().zip(&zmq) {
        assert_eq!(got.notification_type, want.kind);
        assert_eq!(got.address, want.address);
        assert_eq!(got.hwm, u64::from(want.hwm));
    }
    let zv: Value = c.call("getzmqnotifications", &[]).unwrap();
    assert_eq!(
        zv[1],
        json!({"type": "pubrawtx", "address": "tcp://127.0.0.1:28333", "hwm": 500})
    );

    // estimatesmartfee: within the fee rates the chain's transactions paid, never below the
    // relay fee; shorter targets and conservative mode never cheaper.
    let rates: Vec<u64> = sim.with_node(|n| {
        blocks[101..]
            .iter()
            .flat_map(|b| b.txdata[1..].iter())
            .map(|t| fee_of(n, t) * 1000 / t.vsize() as u64)
            .collect()
    });
    let max_rate = *rates.iter().max().expect("transactions");
    let mut estimates = Vec::new();
    for target in [1u16, 2, 6, 25, 144, 1008] {
        let eco = c
            .estimate_smart_fee(target, Some(EstimateMode::Economical))
            .unwrap();
        let cons = c
            .estimate_smart_fee(target, Some(EstimateMode::Conservative))
            .unwrap();
        let plain = c.estimate_smart_fee(target, None).unwrap();
        let rate = eco.fee_rate.expect("estimate").to_sat();
        assert!(eco.errors.is_none());
        assert!((1000..=max_rate).contains(&rate), "target {target}: {rate}");
        assert!(cons.fee_rate.expect("estimate").to_sat() >= rate);
        assert_eq!(plain.fee_rate, eco.fee_rate);
        assert!(eco.blocks >= i64::from(target.max(2)));
        estimates.push(rate);
    }
    // A longer target is never dearer, as with Core's estimator.
    assert!(estimates.windows(2).all(|w| w[1] <= w[0]), "{estimates:?}");
    assert_eq!(estimates.len(), 6);
    expect_code(c.estimate_smart_fee(0, None), -8);
}

#[test]
fn transactions_match_the_node() {
    let sim = serve(fixture());
    let c = client(&sim);
    let (blocks, tip) = sim.with_node(|n| (active_blocks(n), n.tip_height()));
    for h in [101u32, 120, 149, tip] {
        let b = &blocks[h as usize];
        let hash = b.block_hash();
        let fees: Vec<u64> =
            sim.with_node(|n| b.txdata[1..].iter().map(|t| fee_of(n, t)).collect());
        for (i, tx) in b.txdata.iter().enumerate() {
            let txid = tx.compute_txid();
            assert_eq!(c.get_raw_transaction(&txid, None).unwrap(), *tx);
            assert_eq!(c.get_raw_transaction(&txid, Some(&hash)).unwrap(), *tx);
            let info = c.get_raw_transaction_info(&txid, None).unwrap();
            assert_eq!(info.in_active_chain, None);
            assert_eq!(info.hex, bitcoincore_rpc::bitcoin::consensus::serialize(tx));
            assert_eq!((info.txid, info.hash), (txid, tx.compute_wtxid()));
            assert_eq!((info.size, info.vsize), (tx.total_size(), tx.vsize()));
            assert_eq!(info.version, tx.version.0 as u32);
            assert_eq!(info.locktime, tx.lock_time.to_consensus_u32());
            assert_eq!(info.blockhash, Some(hash));
            assert_eq!(info.confirmations, Some(tip - h + 1));
            assert_eq!(info.blocktime, Some(b.header.time as usize));
            assert_eq!(info.vin.len(), tx.input.len());
            assert_eq!(info.vin[0].is_coinbase(), i == 0);
            for (vo, o) in info.vout.iter().zip(&tx.output) {
                assert_eq!(vo.value, o.value);
                assert_eq!(vo.script_pub_key.hex, o.script_pubkey.to_bytes());
            }
            let with_block = c.get_raw_transaction_info(&txid, Some(&hash)).unwrap();
            assert_eq!(with_block.in_active_chain, Some(true));
            if i == 0 {
                continue;
            }
            let v: Value = c
                .call(
                    "getrawtransaction",
                    &[json!(txid.to_string()), json!(2), json!(hash.to_string())],
                )
                .unwrap();
            assert_eq!(v["in_active_chain"], json!(true));
            assert_eq!(sats(&v["fee"]), fees[i - 1]);
            let prevouts: Vec<u64> = sim.with_node(|n| {
                tx.input
                    .iter()
                    .map(|x| prev_output(n, &x.previous_output).value.to_sat())
                    .collect()
            });
            for (vin, value) in v["vin"].as_array().expect("vin").iter().zip(prevouts) {
                assert_eq!(sats(&vin["prevout"]["value"]), value);
            }
        }
        // A transaction of another block is not in this one.
        let other = blocks[h as usize - 1].txdata[0].compute_txid();
        let m = expect_code(c.get_raw_transaction(&other, Some(&hash)), -5);
        assert!(
            m.starts_with("No such transaction found in the provided block"),
            "{m}"
        );
    }
    let unknown = Txid::from_byte_array([0x42; 32]);
    assert_eq!(
        expect_code(c.get_raw_transaction(&unknown, None), -5),
        NO_SUCH_TX
    );
    let nowhere = BlockHash::from_byte_array([0x42; 32]);
    let m = expect_code(
        c.get_raw_transaction(&blocks[120].txdata[0].compute_txid(), Some(&nowhere)),
        -5,
    );
    assert_eq!(m, "Block hash not found");
    let genesis_cb = blocks[0].txdata[0].compute_txid();
    expect_code(c.get_raw_transaction(&genesis_cb, None), -5);
}

#[test]
fn mempool_methods_match_the_node() {
    let sim = serve(fixture());
    let c = client(&sim);
    let added = sim.with_node(|n| n.add_traffic(40));
    assert!(added.len() >= 30, "only {} accepted", added.len());
    let (view, height) = sim.with_node(|n| (pool_view(n), n.tip_height()));
    assert_eq!(ids(view.keys().copied()), ids(added.iter().copied()));
    assert!(
        view.values().any(|p| !p.parents.is_empty()),
        "traffic spends unconfirmed outputs"
    );

    assert_eq!(
        ids(c.get_raw_mempool().unwrap()),
        ids(added.iter().copied())
    );
    let verbose = c.get_raw_mempool_verbose().unwrap();
    assert_eq!(ids(verbose.keys().copied()), ids(added.iter().copied()));
    for (txid, e) in &verbose {
        let p = &view[txid];
        let anc = ancestors(&view, txid);
        let desc = descendants(&view, txid);
        let children = ids(view
            .iter()
            .filter(|(_, q)| q.parents.contains(txid))
            .map(|(t, _)| *t));
        assert_eq!(e.fees.base, Amount::from_sat(p.fee));
        assert_eq!(e.fees.modified, Amount::from_sat(p.fee));
        let anc_fee: u64 = anc.iter().map(|t| view[t].fee).sum::<u64>() + p.fee;
        let desc_fee: u64 = desc.iter().map(|t| view[t].fee).sum::<u64>() + p.fee;
        assert_eq!(e.fees.ancestor, Amount::from_sat(anc_fee));
        assert_eq!(e.fees.descendant, Amount::from_sat(desc_fee));
        assert_eq!(e.vsize, p.vsize);
        assert_eq!(e.weight, Some(p.tx.weight().to_wu()));
        assert_eq!(e.height, u64::from(height));
        assert_eq!(
            e.wtxid.to_byte_array(),
            p.tx.compute_wtxid().to_byte_array()
        );
        assert_eq!(ids(e.depends.iter().copied()), p.parents);
        assert_eq!(ids(e.spent_by.iter().copied()), children);
        assert_eq!(e.ancestor_count, anc.len() as u64 + 1);
        assert_eq!(e.descendant_count, desc.len() as u64 + 1);
        let anc_size: u64 = anc.iter().map(|t| view[t].vsize).sum::<u64>() + p.vsize;
        assert_eq!(e.ancestor_size, anc_size);
        let signals = |t: &Transaction| t.input.iter().any(|i| i.sequence.0 < 0xffff_fffe);
        let rbf = signals(&p.tx) || anc.iter().any(|a| signals(&view[a].tx));
        assert_eq!(e.bip125_replaceable, rbf);
        assert_eq!(c.get_mempool_entry(txid).unwrap(), *e);
        assert_eq!(c.get_raw_transaction(txid, None).unwrap(), p.tx);
        let info = c.get_raw_transaction_info(txid, None).unwrap();
        assert_eq!((info.blockhash, info.confirmations), (None, None));
    }
    let mi = c.get_mempool_info().unwrap();
    assert_eq!(mi.size, view.len());
    assert_eq!(mi.bytes as u64, view.values().map(|p| p.vsize).sum::<u64>());
    let total: u64 = view.values().map(|p| p.fee).sum();
    assert_eq!(mi.total_fee, Some(Amount::from_sat(total)));
    let confirmed = sim.with_node(|n| n.tip().expect("tip").txids[0]);
    let m = expect_code(c.get_mempool_entry(&confirmed), -5);
    assert_eq!(m, "Transaction not in mempool");
}

#[test]
fn send_generated_transactions() {
    let sim = serve(fixture());
    let c = client(&sim);
    let (tx, fee) = sim.with_node(relayable_tx);
    let txid = tx.compute_txid();
    assert_eq!(sim.with_node(|n| fee_of(n, &tx)), fee);

    let test = c.test_mempool_accept(&[&tx]).unwrap();
    assert_eq!(test.len(), 1);
    assert!(test[0].allowed, "{:?}", test[0].reject_reason);
    assert_eq!(test[0].txid, txid);
    assert_eq!(test[0].vsize, Some(tx.vsize() as u64));
    assert_eq!(
        test[0].fees.as_ref().map(|f| f.base),
        Some(Amount::from_sat(fee))
    );
    assert!(
        c.get_raw_mempool().unwrap().is_empty(),
        "testmempoolaccept adds nothing"
    );

    assert_eq!(c.send_raw_transaction(&tx).unwrap(), txid);
    assert_eq!(
        c.get_mempool_entry(&txid).unwrap().fees.base,
        Amount::from_sat(fee)
    );
    assert_eq!(
        c.send_raw_transaction(&tx).unwrap(),
        txid,
        "resending is fine"
    );

    // submitpackage: a parent and a child spending one of its outputs.
    let (parent, child, pfee, cfee) = sim.with_node(|n| {
        let tip = n.tip_height();
        let (parent, pfee) = relayable_tx(n);
        let ptxid = parent.compute_txid();
        let coins = (0..parent.output.len() as u32)
            .find_map(|v| n.gen.take_coins(&[OutPoint::new(ptxid, v)]))
            .expect("an output of ours");
        let (child, cfee) = n.gen.build_spend(coins, tip, Some(20)).expect("child");
        (parent, child, pfee, cfee)
    });
    let hexes = [parent.clone(), child.clone()]
        .map(|t| bitcoincore_rpc::bitcoin::consensus::encode::serialize_hex(&t));
    let v: Value = c.call("submitpackage", &[json!(hexes)]).unwrap();
    assert_eq!(v["package_msg"], json!("success"), "{v}");
    for (t, f) in [(&parent, pfee), (&child, cfee)] {
        let r = &v["tx-results"][t.compute_wtxid().to_string()];
        assert_eq!(r["txid"], json!(t.compute_txid().to_string()));
        assert_eq!(sats(&r["fees"]["base"]), f);
        assert_eq!(
            c.get_mempool_entry(&t.compute_txid()).unwrap().fees.base,
            Amount::from_sat(f)
        );
    }
    let ce = c.get_mempool_entry(&child.compute_txid()).unwrap();
    assert_eq!(ce.depends, vec![parent.compute_txid()]);
    let grandparent = parent.input.iter().any(|i| i.previous_output.txid == txid);
    assert_eq!(ce.ancestor_count, 2 + u64::from(grandparent));
    let pool = ids(c.get_raw_mempool().unwrap());
    assert_eq!(
        pool,
        ids([txid, parent.compute_txid(), child.compute_txid()])
    );
}

#[test]
fn core_error_codes() {
    let sim = serve(fixture());
    let c = client(&sim);
    let tip = sim.with_node(|n| n.tip_height());

    assert_eq!(
        expect_code(c.get_block_hash(u64::from(tip) + 1), -8),
        "Block height out of range"
    );
    expect_code(c.call::<Value>("getblockhash", &[json!(-1)]), -8);

    let nowhere = BlockHash::from_byte_array([0x42; 32]);
    assert_eq!(
        expect_code(c.get_block_header(&nowhere), -5),
        "Block not found"
    );
    assert_eq!(expect_code(c.get_block(&nowhere), -5), "Block not found");
    let unknown = Txid::from_byte_array([0x42; 32]);
    assert_eq!(
        expect_code(c.get_raw_transaction(&unknown, None), -5),
        NO_SUCH_TX
    );

    assert_eq!(
        expect_code(c.call::<Value>("getfoo", &[]), -32601),
        "Method not found"
    );

    let m = expect_code(c.send_raw_transaction("00ff"), -22);
    assert_eq!(
        m,
        "TX decode failed. Make sure the tx has at least one input."
    );

    // Missing inputs: a signed transaction whose first input points nowhere.
    let (mut orphan, _) = sim.with_node(relayable_tx);
    orphan.input[0].previous_output = OutPoint::new(unknown, 0);
    assert_eq!(
        expect_code(c.send_raw_transaction(&orphan), -25),
        "bad-txns-inputs-missingorspent"
    );

    // A double spend paying a lower fee rate than the mempool transaction it conflicts with.
    let (first, low) = sim.with_node(|n| {
        let first = (0..200)
            .map(|_| {
                // Forget the unsubmitted ones: only confirmed coins are wanted here.
                n.resync_wallet();
                relayable_tx(n)
            })
            .find(|(t, fee)| fee * 1000 / t.vsize() as u64 >= 4000 && t.input.len() < 5)
            .expect("a transaction paying 4 sat/vB or more")
            .0;
        let coins = first
            .input
            .iter()
            .map(|i| {
                let out = n.coin(&i.previous_output).expect("confirmed coin");
                let out = out.txout.clone();
                n.gen.coin_for(i.previous_output, out).expect("ours")
            })
            .collect();
        let tip = n.tip_height();
        let (low, _) = n
            .gen
            .build_spend(coins, tip, Some(1))
            .expect("double spend");
        n.resync_wallet();
        (first, low)
    });
    assert_eq!(
        c.send_raw_transaction(&first).unwrap(),
        first.compute_txid()
    );
    let m = expect_code(c.send_raw_transaction(&low), -26);
    assert!(
        m.starts_with("insufficient fee, rejecting replacement"),
        "{m}"
    );
    let test = c.test_mempool_accept(&[&low]).unwrap();
    assert!(!test[0].allowed);
    assert_eq!(test[0].reject_reason.as_deref(), Some("insufficient fee"));
    assert_eq!(
        ids(c.get_raw_mempool().unwrap()),
        ids([first.compute_txid()])
    );

    // Already confirmed: a transaction of the tip block with an unspent output.
    let confirmed = sim.with_node(|n| {
        let b = n.tip().expect("tip").block().expect("block");
        b.txdata
            .into_iter()
            .skip(1)
            .find(|t| {
                let id = t.compute_txid();
                (0..t.output.len() as u32).any(|v| n.coin(&OutPoint::new(id, v)).is_some())
            })
            .expect("a confirmed transaction with an unspent output")
    });
    let m = expect_code(c.send_raw_transaction(&confirmed), -27);
    assert_eq!(m, "Transaction outputs already in utxo set");

    sim.control().set_warmup(Some("Loading block index…"));
    assert_eq!(
        expect_code(c.get_block_count(), -28),
        "Loading block index…"
    );
    assert_eq!(
        expect_code(c.get_best_block_hash(), -28),
        "Loading block index…"
    );
    sim.control().set_warmup(None);
    assert_eq!(c.get_block_count().unwrap(), u64::from(tip));
}

#[test]
fn batches() {
    let sim = serve(fixture());
    let (user, pass) = sim.user_pass().expect("user");
    let (tip, genesis) = sim.with_node(|n| (n.tip_height(), n.block_at(0).expect("genesis").hash));
    let body = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "getblockcount"},
        {"jsonrpc": "2.0", "id": 2, "method": "getblockhash", "params": [0]},
        {"jsonrpc": "2.0", "id": 3, "method": "getblockhash", "params": [100000]},
        {"jsonrpc": "2.0", "id": "x", "method": "nosuchmethod", "params": []},
        {"id": 5, "method": "getblockcount", "params": []}
    ])
    .to_string();
    let (status, text) = raw_post(sim.addr(), Some((&user, &pass)), &body);
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).expect("JSON array");
    let items = v.as_array().expect("array");
    assert_eq!(items.len(), 5);
    assert_eq!(items[0]["id"], json!(1));
    assert_eq!(items[0]["result"], json!(tip));
    assert_eq!(items[1]["result"], json!(genesis.to_string()));
    assert_eq!(items[2]["error"]["code"], json!(-8));
    assert_eq!(items[3]["id"], json!("x"));
    assert_eq!(items[3]["error"]["code"], json!(-32601));
    assert_eq!(items[4]["result"], json!(tip));
    assert_eq!(
        items[4]["error"],
        Value::Null,
        "legacy items carry error: null"
    );

    let (status, _) = raw_post(sim.addr(), None, &body);
    assert_eq!(status, 401);

    // The same through the client's JSON-RPC layer.
    let c = client(&sim);
    let jc = c.get_jsonrpc_client();
    let p0 = serde_json::value::to_raw_value(&[0]).expect("params");
    let p1 = serde_json::value::to_raw_value(&[tip]).expect("params");
    let empty = serde_json::value::to_raw_value(&[0u8; 0]).expect("params");
    let reqs = [
        jc.build_request("getblockhash", Some(&p0)),
        jc.build_request("getblockhash", Some(&p1)),
        jc.build_request("getblockcount", Some(&empty)),
        jc.build_request("getblockhash", Some(&p1)),
    ];
    let out = jc.send_batch(&reqs).expect("batch");
    let res: Vec<_> = out.into_iter().map(|r| r.expect("answered")).collect();
    assert_eq!(res[0].result::<BlockHash>().unwrap(), genesis);
    let tip_hash = sim.with_node(|n| n.tip_hash());
    assert_eq!(res[1].result::<BlockHash>().unwrap(), tip_hash);
    assert_eq!(res[2].result::<u32>().unwrap(), tip);
    assert_eq!(res[3].result::<BlockHash>().unwrap(), tip_hash);
}

#[test]
fn password_and_cookie_auth() {
    let sim = serve(fixture());
    let tip = sim.with_node(|n| n.tip_height());
    let wrong = client_for(&sim.url(), Auth::UserPass("user".into(), "wrong".into()));
    let e = wrong.get_block_count().expect_err("wrong password");
    assert!(
        matches!(transport_error(&e), Some(HttpError::HttpErrorCode(401))),
        "{e:?}"
    );
    assert_eq!(client(&sim).get_block_count().unwrap(), u64::from(tip));

    let dir = scratch_dir("cookie");
    let options = SimNodeOptions {
        user_pass: None,
        cookie_dir: Some(dir.clone()),
        ..SimNodeOptions::default()
    };
    let sim = SimNode::spawn(fixture(), options).expect("spawn");
    let path = sim.cookie_path().expect("cookie path");
    let cookie = std::fs::read_to_string(&path).expect("cookie written");
    let secret = cookie.strip_prefix("__cookie__:").expect("cookie user");
    assert_eq!(secret.len(), 64);
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    let c = client_for(&sim.url(), Auth::CookieFile(path.clone()));
    assert_eq!(c.get_block_count().unwrap(), u64::from(tip));
    let bad = client_for(
        &sim.url(),
        Auth::UserPass("__cookie__".into(), "0".repeat(64)),
    );
    let e = bad.get_block_count().expect_err("wrong cookie");
    assert!(
        matches!(transport_error(&e), Some(HttpError::HttpErrorCode(401))),
        "{e:?}"
    );
    sim.shutdown();
    assert!(!path.exists(), "cookie removed at shutdown");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_txindex() {
    let mut node = fixture();
    node.txindex = false;
    let sim = serve(node);
    let c = client(&sim);
    let added = sim.with_node(|n| n.add_traffic(3));
    let b = sim.with_node(|n| n.block_at(120).expect("block").block().expect("block"));
    let hash = b.block_hash();
    for tx in &b.txdata {
        let txid = tx.compute_txid();
        assert_eq!(
            expect_code(c.get_raw_transaction(&txid, None), -5),
            NO_TXINDEX
        );
        assert_eq!(
            expect_code(c.get_raw_transaction_info(&txid, None), -5),
            NO_TXINDEX
        );
        assert_eq!(c.get_raw_transaction(&txid, Some(&hash)).unwrap(), *tx);
        let info = c.get_raw_transaction_info(&txid, Some(&hash)).unwrap();
        assert_eq!(
            (info.in_active_chain, info.blockhash),
            (Some(true), Some(hash))
        );
    }
    let pool = sim.with_node(|n| pool_view(n));
    for txid in &added {
        assert_eq!(c.get_raw_transaction(txid, None).unwrap(), pool[txid].tx);
    }
    assert_eq!(c.get_index_info().unwrap().txindex, None);
}

#[test]
fn mining_through_both_control_apis() {
    let sim = serve(fixture());
    let c = client(&sim);
    let h0 = sim.with_node(|n| n.tip_height());
    sim.with_node(|n| n.add_traffic(30));
    let view = sim.with_node(|n| pool_view(n));
    assert!(
        view.values().any(|p| !p.parents.is_empty()),
        "traffic forms chains"
    );
    assert_eq!(ids(c.get_raw_mempool().unwrap()), ids(view.keys().copied()));

    let mined = sim.with_node(|n| n.mine(1)).expect("mined");
    assert_eq!(c.get_block_count().unwrap(), u64::from(h0) + 1);
    assert_eq!(c.get_best_block_hash().unwrap(), mined[0]);
    let block = c.get_block(&mined[0]).unwrap();
    let order: Vec<Txid> = block.txdata[1..].iter().map(|t| t.compute_txid()).collect();
    assert_eq!(ids(order.iter().copied()), ids(view.keys().copied()));
    let pos: HashMap<Txid, usize> = order.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    for (i, t) in order.iter().enumerate() {
        assert!(view[t].parents.iter().all(|p| pos[p] < i), "parents first");
    }
    // Transactions without unconfirmed parents come by fee rate, highest first.
    let roots: Vec<(u64, u64)> = order
        .iter()
        .filter(|t| view[*t].parents.is_empty())
        .map(|t| (view[t].fee, view[t].vsize))
        .collect();
    for w in roots.windows(2) {
        assert!(!higher_rate(w[1], w[0]), "{:?} before {:?}", w[0], w[1]);
    }
    let first = (view[&order[0]].fee, view[&order[0]].vsize);
    assert!(view
        .values()
        .filter(|p| p.parents.is_empty())
        .all(|p| !higher_rate((p.fee, p.vsize), first)));
    let fees: u64 = view.values().map(|p| p.fee).sum();
    let cb: u64 = block.txdata[0]
        .output
        .iter()
        .map(|o| o.value.to_sat())
        .sum();
    assert_eq!(cb, subsidy(h0 + 1) + fees);
    assert!(c.get_raw_mempool().unwrap().is_empty());

    // The same through the simnode_* methods.
    let added: Vec<Txid> = c.call("simnode_addtraffic", &[json!(20)]).unwrap();
    assert!(added.len() >= 15, "only {} accepted", added.len());
    assert_eq!(
        ids(c.get_raw_mempool().unwrap()),
        ids(added.iter().copied())
    );
    let pool = sim.with_node(|n| ids(n.mempool.entries().map(|e| e.txid)));
    assert_eq!(pool, ids(added.iter().copied()));
    let mined: Vec<BlockHash> = c.call("simnode_mine", &[json!(2)]).unwrap();
    assert_eq!(mined.len(), 2);
    assert_eq!(c.get_block_count().unwrap(), u64::from(h0) + 3);
    let chain = sim.with_node(|n| [n.hash_at(h0 + 2), n.hash_at(h0 + 3)]);
    assert_eq!(chain, [Some(mined[0]), Some(mined[1])]);
    let b1 = c.get_block_info(&mined[0]).unwrap();
    assert_eq!(ids(b1.tx[1..].iter().copied()), ids(added.iter().copied()));
    assert_eq!(
        c.get_block_info(&mined[1]).unwrap().n_tx,
        1,
        "empty mempool, coinbase only"
    );
    assert!(c.get_raw_mempool().unwrap().is_empty());
}

#[test]
fn rbf_and_eviction() {
    let sim = serve(fixture());
    let c = client(&sim);
    sim.with_node(|n| n.add_traffic(40));

    // Replace the transaction with the most descendants; they go too.
    for via_rpc in [false, true] {
        let view = sim.with_node(|n| pool_view(n));
        let old = *view
            .keys()
            .max_by_key(|t| (descendants(&view, t).len(), *t))
            .expect("mempool");
        let gone = descendants(&view, &old);
        let new = if via_rpc {
            c.call::<Txid>("simnode_rbf", &[json!(old.to_string())])
                .unwrap()
        } else {
            sim.with_node(|n| n.rbf_replace(&old)).expect("replaced")
        };
        let pool = ids(c.get_raw_mempool().unwrap());
        assert!(!pool.contains(&old) && pool.contains(&new));
        assert!(
            gone.iter().all(|t| !pool.contains(t)),
            "descendants replaced too"
        );
        let rest: BTreeSet<Txid> = view
            .keys()
            .filter(|t| **t != old && !gone.contains(*t))
            .copied()
            .collect();
        assert!(rest.is_subset(&pool));
        let new_tx = c.get_raw_transaction(&new, None).unwrap();
        let spent = |t: &Transaction| {
            t.input
                .iter()
                .map(|i| i.previous_output)
                .collect::<BTreeSet<_>>()
        };
        // The same coins, plus confirmed ones when the original's could not pay for
        // everything replaced (BIP 125 allows new confirmed inputs, never unconfirmed ones).
        let (new_in, old_in) = (spent(&new_tx), spent(&view[&old].tx));
        assert!(
            old_in.is_subset(&new_in),
            "the replacement spends the same coins"
        );
        for extra in new_in.difference(&old_in) {
            assert!(
                sim.with_node(|n| n.coin(extra).is_some()),
                "{extra} is confirmed"
            );
        }
        let new_fee = sim.with_node(|n| fee_of(n, &new_tx));
        let entry = c.get_mempool_entry(&new).unwrap();
        assert_eq!(entry.fees.base, Amount::from_sat(new_fee));
        let replaced: u64 = gone.iter().map(|t| view[t].fee).sum::<u64>() + view[&old].fee;
        assert!(new_fee > replaced, "{new_fee} <= {replaced}");
        assert!(higher_rate(
            (new_fee, new_tx.vsize() as u64),
            (view[&old].fee, view[&old].vsize)
        ));
    }
    let m = expect_code(c.call::<Txid>("simnode_rbf", &[json!("42".repeat(32))]), -1);
    assert!(m.contains("not in the mempool"), "{m}");

    // Eviction removes a transaction and its descendants, nothing else.
    sim.with_node(|n| n.add_traffic(20));
    for via_rpc in [false, true] {
        let view = sim.with_node(|n| pool_view(n));
        let victim = *view
            .keys()
            .max_by_key(|t| (descendants(&view, t).len(), *t))
            .expect("mempool");
        let mut expected = descendants(&view, &victim);
        expected.insert(victim);
        let removed = if via_rpc {
            c.call::<Vec<Txid>>("simnode_evict", &[json!(victim.to_string())])
                .unwrap()
        } else {
            sim.with_node(|n| n.evict(&victim)).expect("evicted")
        };
        assert_eq!(ids(removed), expected);
        let left: BTreeSet<Txid> = view
            .keys()
            .filter(|t| !expected.contains(*t))
            .copied()
            .collect();
        assert_eq!(ids(c.get_raw_mempool().unwrap()), left);
        expect_code(c.get_mempool_entry(&victim), -5);
    }
    let m = expect_code(
        c.call::<Value>("simnode_evict", &[json!("42".repeat(32))]),
        -1,
    );
    assert!(m.contains("not in the mempool"), "{m}");
}

#[test]
fn reorgs_of_depth_1_2_and_5() {
    let sim = serve(fixture());
    let c = client(&sim);
    let mut tally = ReorgTally::default();
    check_reorg(&sim, &c, 1, false, &mut tally);
    check_reorg(&sim, &c, 2, true, &mut tally);
    check_reorg(&sim, &c, 5, false, &mut tally);
    let tips = c.get_chain_tips().unwrap();
    assert_eq!(tips.len(), 4, "active tip plus three stale branches");
    assert!(tally.moved > 0, "{tally:?}");
    assert!(tally.back_in_mempool > 0, "{tally:?}");
    assert!(tally.double_spent > 0, "{tally:?}");
    // Bad depths are refused.
    let m = expect_code(c.call::<Value>("simnode_reorg", &[json!(0)]), -1);
    assert!(m.contains("reorg depth"), "{m}");
}

#[test]
fn outages_slowness_garbage_and_warmup() {
    let sim = serve(fixture());
    let c = client(&sim);
    let tip = u64::from(sim.with_node(|n| n.tip_height()));
    let limit = Duration::from_secs(10);

    // Down and up again, through the Rust API.
    sim.go_down();
    let e = c.get_block_count().expect_err("down");
    assert!(refused(&e), "{e:?}");
    sim.come_up().expect("up again");
    assert_eq!(c.get_block_count().unwrap(), tip);

    // ... and through simnode_down (down 50 ms after answering, for one second).
    assert_eq!(
        c.call::<Value>("simnode_down", &[json!(1)]).unwrap(),
        Value::Null
    );
    assert!(wait_until(limit, || c
        .get_block_count()
        .is_err_and(|e| refused(&e))));
    assert!(wait_until(limit, || c.get_block_count().is_ok()));

    // Slow.
    let delay = Duration::from_millis(400);
    sim.control().set_delay(delay);
    let t = Instant::now();
    assert_eq!(c.get_block_count().unwrap(), tip);
    assert!(t.elapsed() >= delay);
    sim.control().set_delay(Duration::ZERO);
    let _: Value = c.call("simnode_slow", &[json!(400)]).unwrap();
    let t = Instant::now();
    assert_eq!(c.get_block_count().unwrap(), tip);
    assert!(t.elapsed() >= delay);
    let _: Value = c.call("simnode_slow", &[json!(0)]).unwrap();
    let t = Instant::now();
    assert_eq!(c.get_block_count().unwrap(), tip);
    assert!(t.elapsed() < delay, "delay off again");

    // Garbage: a parse error, promptly.
    sim.control().set_garbage(true);
    let t = Instant::now();
    let e = c.get_block_count().expect_err("garbage");
    assert!(parse_error(&e), "{e:?}");
    assert!(t.elapsed() < limit);
    sim.control().set_garbage(false);
    assert_eq!(c.get_block_count().unwrap(), tip);
    let _: Value = c.call("simnode_garbage", &[json!(1)]).unwrap();
    assert!(wait_until(limit, || c
        .get_block_count()
        .is_err_and(|e| parse_error(&e))));
    assert!(wait_until(limit, || c.get_block_count().is_ok()));

    // Warm-up through simnode_warmup (the Rust API is covered by core_error_codes).
    let _: Value = c
        .call("simnode_warmup", &[json!("Verifying blocks…"), json!(1)])
        .unwrap();
    assert_eq!(expect_code(c.get_block_count(), -28), "Verifying blocks…");
    assert!(wait_until(limit, || c.get_block_count().is_ok()));
}
