//! Protocol 1.7 (ElectrumX 2.0.0's answers): the `blockchain.scriptpubkey.*` family,
//! `server.ping`, `server.features`, `testmempoolaccept`, `mempool.recent`, and which
//! methods each version has.

use std::collections::BTreeMap;

use ferrumx_testkit::{output_scripts, script_kind, Kind};

use super::limits::LIMITS;
use super::scripthash::{parent_and_child, start, SCRIPTHASH};
use super::*;

/// The scriptPubKey (hex) of every output of the stand-in's chain and mempool, by script
/// hash, with the kind of script it is.
fn script_pubkeys(n: &Node) -> HashMap<ScriptHash, (String, &'static str)> {
    output_scripts(n)
        .into_iter()
        .map(|(sh, s)| (sh, (s.as_bytes().to_lower_hex_string(), script_kind(&s))))
        .collect()
}

/// The five 1.7 answers a script must have: the script-hash family's, wrapped.
fn spk_answers(w: &Want) -> [Value; 5] {
    [
        w.balance.clone(),
        json!({"history": w.history}),
        json!({"history": w.mempool}),
        json!({"utxos": w.listunspent}),
        w.status.clone(),
    ]
}

const SPK_METHODS: [&str; 5] = [
    "blockchain.scriptpubkey.get_balance",
    "blockchain.scriptpubkey.get_history",
    "blockchain.scriptpubkey.get_mempool",
    "blockchain.scriptpubkey.listunspent",
    "blockchain.scriptpubkey.subscribe",
];

/// Balance, history, mempool, listunspent and status of the script of every script hash of
/// the chain and the mempool (every script type the stand-in makes, `OP_RETURN` ones
/// included), by scriptPubKey at 1.7 over tcp and ws; plus the empty script and one nobody
/// pays.
#[test]
fn every_script_pubkey_answers_as_the_truth_at_1_7() {
    let e = SCRIPTHASH.get();
    let (wants0, _) = wants(&e);
    let scripts = e.sim.with_node(|n| script_pubkeys(n));
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut cases: Vec<(String, &Want)> = Vec::new();
    for w in &wants0 {
        let sh = ScriptHash::from_hex(&w.sh).expect("script hash");
        if let Some((spk, kind)) = scripts.get(&sh) {
            *kinds.entry(kind).or_default() += 1;
            cases.push((spk.clone(), w));
        }
    }
    eprintln!("{} scripts by kind: {kinds:?}", cases.len());
    for kind in ["p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "op_return"] {
        assert!(kinds.contains_key(kind), "no {kind} script in {kinds:?}");
    }
    // The empty script and a script nobody pays: no history.
    let nothing = e.sim.with_node(|n| {
        let view = MempoolView::of(n);
        [b"".as_slice(), b"ferrumx never paid".as_slice()].map(|s| {
            (
                s.to_lower_hex_string(),
                want_for(n, &view, &ScriptHash::of(bitcoin::Script::from_bytes(s))),
            )
        })
    });
    for (_, w) in &nothing {
        assert_eq!(w.status, Value::Null);
    }
    cases.extend(nothing.iter().map(|(spk, w)| (spk.clone(), w)));
    for (kind, slice) in [
        (Kind::Tcp, &cases[..]),
        (Kind::Ws, &cases[..cases.len().min(150)]),
    ] {
        let mut c = e.session(kind, "1.7");
        let calls: Vec<(&str, Value)> = slice
            .iter()
            .flat_map(|(spk, _)| SPK_METHODS.iter().map(move |m| (*m, json!([spk]))))
            .collect();
        let answers = c.pipelined(&calls);
        for ((spk, w), got) in slice.iter().zip(answers.chunks(SPK_METHODS.len())) {
            for ((method, got), want) in SPK_METHODS.iter().zip(got).zip(spk_answers(w)) {
                assert_eq!(
                    got.as_ref(),
                    Ok(&want),
                    "{method} {spk} (script hash {}; left: server, right: computed)",
                    w.sh
                );
            }
        }
    }
}

/// Which methods each version has (ElectrumX 2.0.0's `set_request_handlers`), and the 1.7
/// answers of the methods every version has that 1.7 changed: `server.ping` and
/// `server.features`. A `server.ping` notification is never answered.
#[test]
fn protocol_1_7_methods_replace_the_script_hash_family() {
    let e = SCRIPTHASH.get();
    let sh = ScriptHash([3; 32]).to_string();
    let spk = "0014".to_string() + &"5a".repeat(20);
    let mut c17 = e.session(Kind::Tcp, "1.7");
    let mut c16 = e.session(Kind::Tcp, "1.6");
    for m in [
        "blockchain.scripthash.get_balance",
        "blockchain.scripthash.get_history",
        "blockchain.scripthash.get_mempool",
        "blockchain.scripthash.listunspent",
        "blockchain.scripthash.subscribe",
        "blockchain.scripthash.unsubscribe",
    ] {
        assert_eq!(c17.call(m, json!([sh])), Err(unknown_method(m)), "1.7");
    }
    assert_eq!(
        c17.call("blockchain.relayfee", json!([])),
        Err(unknown_method("blockchain.relayfee"))
    );
    for m in SPK_METHODS
        .iter()
        .chain(&["blockchain.scriptpubkey.unsubscribe"])
    {
        assert_eq!(c16.call(m, json!([spk])), Err(unknown_method(m)), "1.6");
    }
    for m in SPK_METHODS {
        assert!(c17.call(m, json!([spk])).is_ok(), "{m} at 1.7");
    }
    for (m, p) in [
        ("blockchain.transaction.testmempoolaccept", json!([["00"]])),
        ("mempool.recent", json!([])),
    ] {
        assert_eq!(c16.call(m, p), Err(unknown_method(m)), "1.6");
    }
    assert!(c17.call("mempool.get_info", json!([])).is_ok());
    assert_eq!(
        c17.call("blockchain.transaction.broadcast_package", json!([["zz"]])),
        Err(bad("zz should be a hex string"))
    );
    // scriptpubkey.unsubscribe: whether there was a subscription.
    assert_eq!(
        c17.call("blockchain.scriptpubkey.unsubscribe", json!([spk])),
        Ok(json!(true))
    );
    assert_eq!(
        c17.call("blockchain.scriptpubkey.unsubscribe", json!([spk])),
        Ok(json!(false))
    );

    // server.features: no hash_function at 1.7, the rest as at 1.6.
    let mut f16 = ok(c16.call("server.features", json!([])), "features 1.6");
    let f17 = ok(c17.call("server.features", json!([])), "features 1.7");
    assert_eq!(f16["protocol_max"], json!("1.7.0"));
    assert_eq!(f16["hash_function"], json!("sha256"));
    f16.as_object_mut()
        .expect("object")
        .shift_remove("hash_function");
    assert_eq!(f17, f16);

    // server.ping: pong_len zeros at 1.7; null, and no arguments, at 1.6.
    assert_eq!(c17.call("server.ping", json!([])), Ok(json!({"data": ""})));
    assert_eq!(
        c17.call("server.ping", json!({"pong_len": 5, "data": "abc"})),
        Ok(json!({"data": "00000"}))
    );
    assert_eq!(
        c17.call("server.ping", json!([1, "x"])),
        Err(bad("x should be a hex string"))
    );
    assert_eq!(
        c17.call("server.ping", json!(["a"])),
        Err(bad("a should be a non-negative integer"))
    );
    assert_eq!(
        c17.call("server.ping", json!([1_000_001])),
        Err(bad("pong_len value too high"))
    );
    assert_eq!(
        c17.call("server.ping", json!([1, "", 3])),
        Err(too_many("server.ping", 3, 2))
    );
    assert_eq!(
        c16.call("server.ping", json!([1])),
        Err(too_many("server.ping", 1, 0))
    );
    assert_eq!(c16.call("server.ping", json!([])), Ok(Value::Null));
    // Notifications: never answered, whatever their arguments (the next answer is the
    // request's).
    for note in [
        r#"{"jsonrpc":"2.0","method":"server.ping","params":["ab"]}"#,
        r#"{"jsonrpc":"2.0","method":"server.ping","params":[5]}"#,
        r#"{"jsonrpc":"2.0","method":"server.ping"}"#,
        r#"{"jsonrpc":"2.0","method":"blockchain.scriptpubkey.subscribe","params":["00"]}"#,
    ] {
        for c in [&mut c17, &mut c16] {
            c.send_raw(note);
            c.send_raw(r#"{"jsonrpc":"2.0","id":"after","method":"server.donation_address"}"#);
            let next = c.recv().expect("an answer");
            assert_eq!(next["id"], json!("after"), "{note}: {next}");
        }
    }
    // A subscription sent as a notification does not subscribe (ElectrumX runs no
    // notification but server.ping's).
    assert_eq!(
        c17.call("blockchain.scriptpubkey.unsubscribe", json!(["00"])),
        Ok(json!(false))
    );
}

/// Argument errors of the 1.7 methods, in ElectrumX 2.0's words.
#[test]
fn protocol_1_7_arguments_are_checked_as_electrumx_2_0_checks_them() {
    let e = SCRIPTHASH.get();
    let mut c = e.session(Kind::Wss, "1.7");
    for m in SPK_METHODS
        .iter()
        .chain(&["blockchain.scriptpubkey.unsubscribe"])
    {
        for (arg, message) in [
            (json!("abc"), "abc should be a hex string"),
            (json!("0 0"), "0 0 should be a hex string"),
            (json!(5), "5 should be a hex string"),
            (json!(null), "None should be a hex string"),
        ] {
            assert_eq!(c.call(m, json!([arg])), Err(bad(message)), "{m}");
        }
        assert_eq!(c.call(m, json!([])), Err(too_few(m, 0, 1)));
        assert_eq!(c.call(m, json!(["00", 1])), Err(too_many(m, 2, 1)));
        assert_eq!(
            c.call(m, json!({"scripthash": "00"})),
            Err(missing(m, &["spk"]))
        );
        assert_eq!(
            c.call(m, json!({"spk": "00", "x": 1})),
            Err(excess(m, &["x"]))
        );
        assert!(c.call(m, json!({"spk": "00"})).is_ok(), "{m} by name");
    }
    let m = "blockchain.transaction.testmempoolaccept";
    assert_eq!(c.call(m, json!(["00"])), Err(bad("00 should be a list")));
    assert_eq!(
        c.call(m, json!([["00", "0g"]])),
        Err(bad("0g should be a hex string"))
    );
    assert_eq!(c.call(m, json!([])), Err(too_few(m, 0, 1)));
    assert_eq!(
        c.call("mempool.recent", json!([1])),
        Err(too_many("mempool.recent", 1, 0))
    );
}

/// A history too large at 1.7: ElectrumX 2.0's code 10001 (1.20's code 1 below 1.7, as
/// `limits.rs` checks); what does not read the confirmed history still answers.
#[test]
fn a_history_too_large_is_error_10001_at_1_7() {
    let f = LIMITS.get();
    let spk =
        f.e.sim
            .with_node(|n| script_pubkeys(n).get(&f.hot).map(|s| s.0.clone()))
            .expect("the hot script");
    let mut c = f.e.session(Kind::Tcp, "1.7");
    let too_large = Err((10_001, "history too large".to_string()));
    for m in [
        "blockchain.scriptpubkey.get_history",
        "blockchain.scriptpubkey.subscribe",
    ] {
        assert_eq!(c.call(m, json!([spk])), too_large, "{m}");
    }
    assert_eq!(
        c.call("blockchain.scriptpubkey.get_mempool", json!([spk])),
        Ok(json!({"history": f.hot_want.mempool}))
    );
    assert_eq!(
        c.call("blockchain.scriptpubkey.get_balance", json!([spk])),
        Ok(f.hot_want.balance.clone())
    );
}

/// ElectrumX 2.0's reshaping of the daemon's `testmempoolaccept` items, done here from the
/// stand-in's own answer.
fn reshaped(items: &Value) -> Value {
    let list = items.as_array().expect("a list");
    Value::Array(
        list.iter()
            .map(|i| {
                let mut out = serde_json::Map::new();
                out.insert("txid".into(), i["txid"].clone());
                out.insert("wtxid".into(), i["wtxid"].clone());
                if let Some(a) = i.get("allowed").filter(|a| a.is_boolean()) {
                    out.insert("allowed".into(), a.clone());
                }
                let reason = ["package-error", "reject-details", "reject-reason"]
                    .iter()
                    .filter_map(|k| i.get(*k))
                    .find(|v| v.as_str().is_some_and(|s| !s.is_empty()));
                if let Some(r) = reason {
                    out.insert("reason".into(), r.clone());
                }
                Value::Object(out)
            })
            .collect(),
    )
}

/// `testmempoolaccept` (its own server): a valid transaction, a parent and child as a
/// package, the stand-in's refusals, undecodable and empty input — each the stand-in's own
/// verdict reshaped, or its error as ElectrumX passes it; nothing enters the mempool. Then
/// `mempool.recent` through broadcasts and a block.
#[test]
fn testmempoolaccept_and_mempool_recent_follow_the_daemon() {
    let e = start("methods-1-7-mempool");
    let daemon = Daemon::of(&e);
    let mut c = e.session(Kind::Tcp, "1.7");
    let m = "blockchain.transaction.testmempoolaccept";
    let (tx, refusals, (parent, child)) = e.sim.with_node(|n| {
        let (tx, _) = n.make_tx().expect("wallet can pay");
        (tx, ferrumx_simnode::fund::refusals(n), parent_and_child(n))
    });
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("valid", vec![hex_of(&tx)]),
        ("package", vec![hex_of(&parent), hex_of(&child)]),
        ("conflict", vec![hex_of(&refusals.conflict)]),
        ("double spend", vec![hex_of(&refusals.double_spend)]),
        ("unknown input", vec![hex_of(&refusals.unknown_input)]),
        ("already confirmed", vec![hex_of(&refusals.in_chain)]),
        ("undecodable", vec!["00".repeat(40)]),
        ("empty", vec![]),
    ];
    let mut allowed = 0;
    for (what, raws) in &cases {
        let want = match daemon.call("testmempoolaccept", &[json!(raws)]) {
            Ok(items) => Ok(reshaped(&items)),
            Err(err) => Err(daemon_error(&err)),
        };
        if let Ok(items) = &want {
            allowed += items
                .as_array()
                .expect("list")
                .iter()
                .filter(|i| i["allowed"] == json!(true))
                .count();
        }
        assert_eq!(c.call(m, json!([raws])), want, "{what}");
    }
    assert!(allowed >= 3, "{allowed} allowed");
    assert!(e.sim.with_node(|n| !n.mempool.contains(&tx.compute_txid())));

    // mempool.recent: ten of the mempool's transactions with their fees and sizes...
    let recent = |c: &mut Client| ok(c.call("mempool.recent", json!([])), "mempool.recent");
    let view = e.sim.with_node(|n| MempoolView::of(n));
    let first = recent(&mut c);
    let first = first.as_array().expect("list");
    assert_eq!(first.len(), view.txs.len().min(10));
    for r in first {
        let txid: Txid = r["txid"].as_str().expect("txid").parse().expect("txid");
        let m = &view.txs[&txid];
        assert_eq!(
            r,
            &json!({"txid": txid.to_string(), "fee": m.fee, "vsize": m.vsize})
        );
    }
    // ... the newest first once broadcast ...
    let (tx2, _) = e.sim.with_node(|n| n.make_tx()).expect("wallet can pay");
    for t in [&tx, &tx2] {
        let txid = t.compute_txid().to_string();
        assert_eq!(
            c.call("blockchain.transaction.broadcast", json!([hex_of(t)])),
            Ok(json!(txid))
        );
        poll("the broadcast at the head of mempool.recent", || {
            (recent(&mut c)[0]["txid"] == json!(txid)).then_some(())
        });
    }
    let now = recent(&mut c);
    assert_eq!(now[1]["txid"], json!(tx.compute_txid().to_string()));
    assert_eq!(
        now[0]["vsize"],
        json!(tx2.weight().to_wu().div_ceil(4)),
        "{now}"
    );
    // ... and nothing once a block has taken them all.
    e.sim.with_node(|n| n.mine(1).expect("mine"));
    poll("an empty mempool.recent after the block", || {
        (recent(&mut c) == json!([])).then_some(())
    });
}
