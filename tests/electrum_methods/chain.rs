//! Headers and their proofs, transactions raw and verbose, merkle branches and positions.

use ferrumx_simnode::GenParams;
use ferrumx_testkit::{Fixture, Guard, Kind, Shared};

use super::*;

/// The server of the read-only tests below and what the test knows about its chain.
struct ChainServer {
    e: Electrum,
    chain: Chain,
}

impl Fixture for ChainServer {
    fn at_exit(&self) {
        self.e.at_exit();
    }
    fn dump(&self) {
        self.e.dump();
    }
}

/// A fixture chain with 40 mempool transactions.
static CHAIN: Shared<ChainServer> = Shared::new(|| {
    let mut node = Node::generate(GenParams::fixture(12));
    node.add_traffic(40);
    let e = Electrum::start("methods-chain", node, &[]);
    let chain = Chain::of(&e);
    ChainServer { e, chain }
});

/// The fixture, its chain, and sessions at 1.4 (tcp) and 1.6 (ws).
fn sessions() -> (Guard<ChainServer>, Client, Client) {
    let f = CHAIN.get();
    let c = f.e.session(Kind::Tcp, "1.4");
    let c6 = f.e.session(Kind::Ws, "1.6");
    (f, c, c6)
}

/// `blockchain.headers.subscribe` answers the tip; every header, at 1.4 and 1.6 (pipelined).
#[test]
fn headers_subscribe_and_every_header() {
    let (f, mut c, mut c6) = sessions();
    let (chain, tip) = (&f.chain, f.chain.tip);
    assert_eq!(
        c.call("blockchain.headers.subscribe", json!([])),
        Ok(json!({"hex": chain.headers[tip as usize], "height": tip}))
    );
    let calls: Vec<(&str, Value)> = (0..=tip)
        .map(|h| ("blockchain.block.header", json!([h])))
        .collect();
    let want: Vec<Result<Value, RpcErr>> = chain.headers.iter().map(|h| Ok(json!(h))).collect();
    assert_eq!(c.pipelined(&calls), want);
    assert_eq!(c6.pipelined(&calls), want);
}

/// Header proofs up to many checkpoints, pipelined (FerrumX must be right under any
/// concurrency): the header, a branch folding to the root of block hashes `0..=cp`, nothing
/// else.
#[test]
fn header_proofs_fold_to_the_checkpoint_root() {
    let (f, _, mut c6) = sessions();
    let (chain, tip) = (&f.chain, f.chain.tip);
    let mut pairs = Vec::new();
    for cp in [
        1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129,
    ] {
        for h in [0, cp / 2, cp - 1, cp] {
            pairs.push((h, cp));
        }
    }
    for h in [0, 1, 64, 100, tip - 1, tip] {
        pairs.push((h, tip));
        pairs.push((h, tip - 1));
    }
    pairs.retain(|(h, cp)| h <= cp && *cp <= tip);
    let calls: Vec<(&str, Value)> = pairs
        .iter()
        .map(|(h, cp)| ("blockchain.block.header", json!([h, cp])))
        .collect();
    for ((h, cp), got) in pairs.iter().zip(c6.pipelined(&calls)) {
        let got = ok(got, format!("header {h} cp {cp}"));
        assert_eq!(got["header"], json!(chain.headers[*h as usize]));
        chain.check_proof(&got, *h, *cp);
        assert_eq!(got.as_object().map(|o| o.len()), Some(3), "{got}");
    }
}

/// Chunks of headers: both shapes (1.4's hex, 1.6's list), clipped at the tip, none past
/// it, with and without proofs (keys in ElectrumX's order).
#[test]
fn header_chunks_in_both_shapes_with_and_without_proofs() {
    let (f, mut c, mut c6) = sessions();
    let (chain, tip) = (&f.chain, f.chain.tip);
    let past = u64::from(tip) + 1;
    let ranges = [
        (0u64, 0u64),
        (0, 1),
        (0, 10),
        (0, 2016),
        (0, 5000),
        (7, 100),
        (100, 2016),
        (u64::from(tip), 1),
        (u64::from(tip), 5),
        (past, 5),
        (past + 50, 0),
        (1_000_000, 10),
    ];
    for (client, v16) in [(&mut c, false), (&mut c6, true)] {
        for &(start, count) in &ranges {
            let want = headers_answer(chain, start, count, v16);
            let n = want["count"].as_u64().expect("count");
            assert_eq!(
                client.call("blockchain.block.headers", json!([start, count])),
                Ok(want.clone()),
                "headers {start} {count} at 1.6: {v16}"
            );
            let last = (start + n).saturating_sub(1) as u32;
            for cp in [tip, last.max(1)] {
                let got = client.call("blockchain.block.headers", json!([start, count, cp]));
                if n == 0 {
                    // No headers, no proof (and no check of cp_height).
                    assert_eq!(got, Ok(want.clone()), "headers {start} {count} cp {cp}");
                    continue;
                }
                let mut got = ok(got, format!("headers {start} {count} cp {cp}"));
                chain.check_proof(&got, last, cp);
                let o = got.as_object_mut().expect("object");
                let keys: Vec<&String> = o.keys().collect();
                let want_keys: Vec<&str> = if v16 {
                    vec!["count", "max", "headers", "branch", "root"]
                } else {
                    vec!["hex", "count", "max", "branch", "root"]
                };
                assert_eq!(keys, want_keys, "key order");
                o.shift_remove("branch");
                o.shift_remove("root");
                assert_eq!(got, want, "headers {start} {count} cp {cp}");
            }
        }
    }
}

/// Checkpoints out of order or past the tip, heights past the tip: ElectrumX's messages.
#[test]
fn header_errors_are_electrumx_s() {
    let (f, mut c, mut c6) = sessions();
    let (chain, tip) = (&f.chain, f.chain.tip);
    let past = u64::from(tip) + 1;
    let require = |h: u64, cp: u64| {
        bad(format!(
            "require header height {} <= cp_height {} <= chain height {}",
            grouped(h),
            grouped(cp),
            grouped(tip)
        ))
    };
    assert_eq!(
        c.call("blockchain.block.headers", json!([10, 20, 15])),
        Err(require(29, 15))
    );
    assert_eq!(
        c6.call("blockchain.block.headers", json!([10, 20, past])),
        Err(require(29, past))
    );
    assert_eq!(
        c6.call("blockchain.block.headers", json!([past, 5, past + 9])),
        Ok(headers_answer(chain, past, 5, true))
    );
    assert_eq!(
        c.call("blockchain.block.header", json!([10, 5])),
        Err(require(10, 5))
    );
    assert_eq!(
        c.call("blockchain.block.header", json!([5, past])),
        Err(require(5, past))
    );
    assert_eq!(
        c.call("blockchain.block.header", json!([past])),
        Err(bad(format!("height {} out of range", grouped(past))))
    );
    assert_eq!(
        c.call("blockchain.block.header", json!([past, past])),
        Err(bad(format!("height {} out of range", grouped(past))))
    );
}

/// Transactions raw and verbose, confirmed and unconfirmed: the stand-in's own answers (its
/// error for the genesis coinbase, passed on as ElectrumX does).
#[test]
fn transactions_raw_and_verbose_are_the_daemon_s() {
    let (f, mut c, _) = sessions();
    let chain = &f.chain;
    let daemon = Daemon::of(&f.e);
    let all: Vec<&Transaction> = chain.txs.iter().flatten().chain(&chain.mempool).collect();
    let calls: Vec<(&str, Value)> = all
        .iter()
        .flat_map(|tx| {
            let t = tx.compute_txid().to_string();
            [
                ("blockchain.transaction.get", json!([t])),
                ("blockchain.transaction.get", json!([t, true])),
            ]
        })
        .collect();
    let answers = c.pipelined(&calls);
    let genesis_coinbase = chain.txs[0][0].compute_txid();
    for (tx, got) in all.iter().zip(answers.chunks(2)) {
        let txid = tx.compute_txid();
        let t = txid.to_string();
        let raw = daemon.call("getrawtransaction", &[json!(t), json!(0)]);
        let verbose = daemon.call("getrawtransaction", &[json!(t), json!(1)]);
        if txid == genesis_coinbase {
            // Core refuses it; ElectrumX passes the error on.
            assert_eq!(
                got[0],
                Err(daemon_error(&raw.expect_err("genesis coinbase")))
            );
            assert_eq!(
                got[1],
                Err(daemon_error(&verbose.expect_err("genesis coinbase")))
            );
            continue;
        }
        assert_eq!(raw, Ok(json!(hex_of(tx))), "the stand-in's raw {t}");
        assert_eq!(got[0], raw, "raw {t}");
        assert_eq!(got[1], Ok(verbose.expect("verbose")), "verbose {t}");
    }
}

/// `verbose` as ElectrumX checks it (`in (False, True)`), unknown transactions (the
/// daemon's error) and arguments that are not transaction hashes.
#[test]
fn transaction_get_arguments_and_errors() {
    let (f, mut c, _) = sessions();
    let chain = &f.chain;
    let daemon = Daemon::of(&f.e);
    // `verbose` is checked with `in (False, True)`: 0 and 1 pass, as bools.
    let t = chain.txs[120][1].compute_txid().to_string();
    assert_eq!(
        c.call("blockchain.transaction.get", json!([t, 0])),
        Ok(json!(hex_of(&chain.txs[120][1])))
    );
    assert_eq!(
        c.call("blockchain.transaction.get", json!([t, 1])),
        daemon.call("getrawtransaction", &[json!(t), json!(1)])
    );
    for bad_verbose in [json!("yes"), json!(2), json!(null), json!([])] {
        assert_eq!(
            c.call("blockchain.transaction.get", json!([t, bad_verbose])),
            Err(bad("\"verbose\" must be a boolean"))
        );
    }
    let unknown = Txid::from_byte_array([0x5a; 32]).to_string();
    assert_eq!(
        c.call("blockchain.transaction.get", json!([unknown])),
        Err(daemon_error(
            &daemon.error("getrawtransaction", &[json!(unknown), json!(0)])
        ))
    );
    assert_eq!(
        c.call("blockchain.transaction.get", json!([unknown, true])),
        Err(daemon_error(
            &daemon.error("getrawtransaction", &[json!(unknown), json!(1)])
        ))
    );
    for bad_hash in [
        json!("zz"),
        json!(&unknown[1..]),
        json!(format!("{unknown}00")),
        json!(7),
    ] {
        let shown = match &bad_hash {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert_eq!(
            c.call("blockchain.transaction.get", json!([bad_hash])),
            Err(bad(format!("{shown} should be a transaction hash")))
        );
    }
}

/// Merkle branches and positions, for every confirmed transaction: each branch folds to its
/// block's merkle root, `id_from_pos` names it (with the same branch when asked), one past
/// the last is refused. The genesis coinbase is not one (bitcoind will not serve it):
/// height 0 holds no transaction, as in ElectrumX's index.
#[test]
fn merkle_branches_and_ids_from_positions_for_every_transaction() {
    let (f, _, mut c6) = sessions();
    let chain = &f.chain;
    let no_txs: Vec<bitcoin::Transaction> = Vec::new();
    let block_txs = |h: usize, txs| if h == 0 { &no_txs } else { txs };
    let genesis_coinbase = chain.txs[0][0].compute_txid().to_string();
    assert_eq!(
        c6.call(
            "blockchain.transaction.get_merkle",
            json!([genesis_coinbase, 0])
        ),
        Err(bad(format!(
            "tx {genesis_coinbase} not in block at height 0"
        )))
    );
    let mut calls: Vec<(&str, Value)> = Vec::new();
    for (h, txs) in chain.txs.iter().enumerate() {
        let txs = block_txs(h, txs);
        for (pos, tx) in txs.iter().enumerate() {
            let t = tx.compute_txid().to_string();
            calls.push(("blockchain.transaction.get_merkle", json!([t, h])));
            calls.push(("blockchain.transaction.id_from_pos", json!([h, pos])));
            calls.push(("blockchain.transaction.id_from_pos", json!([h, pos, true])));
        }
        let n = txs.len();
        calls.push(("blockchain.transaction.id_from_pos", json!([h, n])));
        calls.push(("blockchain.transaction.id_from_pos", json!([h, n, true])));
    }
    let answers = c6.pipelined(&calls);
    let mut answers = answers.into_iter();
    let mut checked = 0;
    for (h, txs) in chain.txs.iter().enumerate() {
        let txs = block_txs(h, txs);
        for (pos, tx) in txs.iter().enumerate() {
            let txid = tx.compute_txid();
            let t = txid.to_string();
            let merkle = ok(answers.next().expect("answer"), format!("get_merkle {t}"));
            assert_eq!(merkle["block_height"], json!(h));
            assert_eq!(merkle["pos"], json!(pos));
            assert_eq!(
                fold_branch(txid.to_byte_array(), &merkle["merkle"], pos as u64),
                chain.roots[h],
                "get_merkle {t} folds to block {h}'s merkle root"
            );
            assert_eq!(
                answers.next().expect("answer"),
                Ok(json!(t)),
                "id_from_pos {h} {pos}"
            );
            let with = ok(
                answers.next().expect("answer"),
                format!("id_from_pos {h} {pos} true"),
            );
            assert_eq!(with["tx_hash"], json!(t));
            assert_eq!(with["merkle"], merkle["merkle"]);
            assert_eq!(with.as_object().map(|o| o.len()), Some(2));
            checked += 1;
        }
        let missing = bad(format!(
            "no tx at position {} in block at height {}",
            grouped(txs.len()),
            grouped(h)
        ));
        assert_eq!(answers.next().expect("answer"), Err(missing.clone()));
        assert_eq!(answers.next().expect("answer"), Err(missing));
    }
    assert!(checked > 500, "{checked} transactions");
}

/// `get_merkle` and `id_from_pos` errors: wrong block, unknown transaction, heights past
/// the tip or beyond any integer width, ElectrumX's order of argument checks.
#[test]
fn merkle_and_position_errors_are_electrumx_s() {
    let (f, mut c, _) = sessions();
    let (chain, tip) = (&f.chain, f.chain.tip);
    let past = u64::from(tip) + 1;
    let unknown = Txid::from_byte_array([0x5a; 32]).to_string();
    let some = chain.txs[130][2].compute_txid().to_string();
    assert_eq!(
        c.call("blockchain.transaction.get_merkle", json!([some, 131])),
        Err(bad(format!("tx {some} not in block at height 131")))
    );
    assert_eq!(
        c.call("blockchain.transaction.get_merkle", json!([unknown, 5])),
        Err(bad(format!("tx {unknown} not in block at height 5")))
    );
    let not_on_disk = |h: u64| {
        bad(format!(
            "db error: DBError('block {} not on disk (>{})')",
            grouped(h),
            grouped(tip)
        ))
    };
    assert_eq!(
        c.call("blockchain.transaction.get_merkle", json!([some, past])),
        Err(not_on_disk(past))
    );
    assert_eq!(
        c.call("blockchain.transaction.id_from_pos", json!([past, 0])),
        Err(not_on_disk(past))
    );
    assert_eq!(
        c.call("blockchain.transaction.id_from_pos", json!([past, 0, true])),
        Err(not_on_disk(past))
    );
    let huge = "1000000000000000000000000000000";
    assert_eq!(
        c.call("blockchain.transaction.id_from_pos", json!([huge, 0])),
        Err(bad(format!(
            "db error: DBError('block {} not on disk (>{})')",
            grouped(huge),
            grouped(tip)
        )))
    );
    assert_eq!(
        c.call("blockchain.transaction.id_from_pos", json!([5, huge, true])),
        Err(bad(format!(
            "no tx at position {} in block at height 5",
            grouped(huge)
        )))
    );
    // ElectrumX checks tx_pos, then height, then merkle.
    assert_eq!(
        c.call("blockchain.transaction.id_from_pos", json!([-1, -2, "x"])),
        Err(bad("-2 should be a non-negative integer"))
    );
    assert_eq!(
        c.call("blockchain.transaction.id_from_pos", json!([-1, 0, "x"])),
        Err(bad("-1 should be a non-negative integer"))
    );
    assert_eq!(
        c.call("blockchain.transaction.id_from_pos", json!([5, 0, "x"])),
        Err(bad("\"merkle\" must be a boolean"))
    );
    assert_eq!(
        c.call("blockchain.transaction.id_from_pos", json!(["5", 0.9, 0])),
        Ok(json!(chain.txs[5][0].compute_txid().to_string()))
    );
    assert_eq!(
        c.call("blockchain.transaction.get_merkle", json!(["zz", 5])),
        Err(bad("zz should be a transaction hash"))
    );
    assert_eq!(
        c.call("blockchain.transaction.get_merkle", json!([some, -5])),
        Err(bad("-5 should be a non-negative integer"))
    );
}

/// Against a stand-in without `-txindex` (its own server, which the test switches to and
/// from `-txindex` to learn what a node with it answers): the raw and verbose transactions
/// are what a node with `-txindex` answers, confirmed or not.
#[test]
fn transaction_get_without_txindex() {
    let mut node = Node::generate(GenParams::fixture(13));
    node.add_traffic(20);
    node.txindex = false;
    let e = Electrum::start("methods-no-txindex", node, &[]);
    let daemon = Daemon::of(&e);
    let chain = Chain::of(&e);
    let mut c = e.session(Kind::Tcp, "1.6");
    let sample: Vec<&Transaction> = chain
        .txs
        .iter()
        .flatten()
        .step_by(3)
        .chain(&chain.mempool)
        .collect();
    // What a node with -txindex answers (the stand-in switched to it for the question).
    let with_txindex = |t: &str, verbose: bool| {
        e.sim.with_node(|n| n.txindex = true);
        let v = daemon.call("getrawtransaction", &[json!(t), json!(u8::from(verbose))]);
        e.sim.with_node(|n| n.txindex = false);
        v.map_err(|e| daemon_error(&e))
    };
    let confirmed = chain.txs[140][1].compute_txid().to_string();
    // The stand-in does refuse it without a block hash.
    let refused = daemon.error("getrawtransaction", &[json!(confirmed), json!(1)]);
    assert_eq!(refused.0, -5, "{refused:?}");
    for (i, tx) in sample.into_iter().enumerate() {
        let t = tx.compute_txid().to_string();
        let raw = with_txindex(&t, false);
        if i > 0 {
            assert_eq!(raw, Ok(json!(hex_of(tx))), "the stand-in's raw {t}");
        }
        assert_eq!(
            c.call("blockchain.transaction.get", json!([t])),
            raw,
            "raw {t}"
        );
        assert_eq!(
            c.call("blockchain.transaction.get", json!([t, true])),
            with_txindex(&t, true),
            "verbose {t}"
        );
    }
    let unknown = Txid::from_byte_array([0x5b; 32]).to_string();
    assert_eq!(
        c.call("blockchain.transaction.get", json!([unknown])),
        Err(daemon_error(
            &daemon.error("getrawtransaction", &[json!(unknown), json!(0)])
        ))
    );
}
