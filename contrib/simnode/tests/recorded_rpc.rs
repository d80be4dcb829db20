//! Every JSON-RPC exchange recorded from a real Bitcoin Core 29.0 (`contrib/simnode/data/bitcoind-core-v29/rpc`),
//! replayed over raw HTTP/1.1 against `SimNode` serving the recorded chain.
//!
//! For each recording the HTTP status and `Content-Type` must equal Core's, and the body parsed
//! as JSON must equal Core's, except for the inherently live values listed in [`LIVE`]. The raw
//! text is compared too, byte for byte, with only those live values masked: recordings without
//! an entry in [`LIVE`] are therefore compared byte-exact (key order, number formatting, the
//! trailing newline).
//!
//! Most recordings were taken from the final state that `recorded::load` rebuilds (chain at
//! height 164, 12 mempool transactions). The others were taken at other moments; [`PLAN`]
//! says, for every recording, which node state answers it and why.

mod replay;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferrumx_simnode::{recorded, GenParams, Node, SimNode, SimNodeOptions};
use serde_json::Value;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/bitcoind-core-v29");

/// Our own credentials; those of the recording do not matter.
const USER: &str = "replay";
const PASSWORD: &str = "recorded-core-29";
/// Limit for the whole replay (loading the chain twice included).
const TEST_LIMIT: Duration = Duration::from_secs(300);

/// Which node state answers a recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// A fresh node holding only the genesis block (`Node::new(GenParams::fixture(0))`): the
    /// recorded Core was started on an empty regtest data directory.
    Fresh,
    /// The recorded chain, with a mempool that lacks the last three transactions of the
    /// scenario log (`mp_opreturn`, `mp_pkg_parent`, `mp_pkg_child`): the state in which
    /// Core was sent `sendrawtransaction_ok` and then `submitpackage` (both 05:30:41, ids 1
    /// and 2, before every final-state capture at 05:30:48). Replaying them brings this node
    /// to the final mempool, which is checked afterwards.
    BeforeLastTxs,
    /// The final state `recorded::load` rebuilds. Calls that would change it either fail
    /// (double spends, already confirmed, garbage) or are no-ops (`*_already_in_mempool`), as
    /// they did on Core, so one node answers all of them in recorded order.
    Final,
}

use replay::{
    bounded, compare, exchange, names_in, read_text, recording, replay_one, trim, without_last_txs,
    How, How::*, LIVE,
};
use State::*;

/// Every recording, in the order Core answered them (the `Date` of each `.http`, then the
/// JSON-RPC id).
const PLAN: &[(&str, State, How)] = &[
    // 05:27:44, first start of Core on an empty data directory: the answer `0` of
    // `warmup_firststart_ready` is the height of a node holding only genesis.
    (
        "warmup_firststart_1_loading_banlist",
        Fresh,
        Warmup("warmup_firststart"),
    ),
    (
        "warmup_firststart_2_verifying_blocks",
        Fresh,
        Warmup("warmup_firststart"),
    ),
    ("warmup_firststart_ready", Fresh, Ready("warmup_firststart")),
    // 05:27:51, still before any block: no fee data at all.
    ("estimatesmartfee_2_nodata", Fresh, Plain),
    // 05:30:41: the last transactions of the scenario are submitted.
    ("sendrawtransaction_ok", BeforeLastTxs, Plain),
    ("submitpackage", BeforeLastTxs, Plain),
    // 05:30:48 and 05:30:49: the final state, ids 1..72.
    ("getblockchaininfo", Final, Plain),
    ("getnetworkinfo", Final, Plain),
    ("getblockcount", Final, Plain),
    ("getbestblockhash", Final, Plain),
    ("getblockhash_0", Final, Plain),
    ("getblockhash_tip", Final, Plain),
    ("getblockhash_out_of_range", Final, Plain),
    ("getblockhash_negative", Final, Plain),
    ("getchaintips", Final, Plain),
    ("getzmqnotifications", Final, Plain),
    ("getindexinfo", Final, Plain),
    ("uptime", Final, Plain),
    ("getblockheader_verbose_true", Final, Plain),
    ("getblockheader_verbose_false", Final, Plain),
    ("getblockheader_unknown", Final, Plain),
    ("getblock_verbosity_0", Final, Plain),
    ("getblock_verbosity_1", Final, Plain),
    ("getblock_verbosity_2", Final, Plain),
    ("getblock_verbosity_3", Final, Plain),
    ("getblock_unknown", Final, Plain),
    ("getblock_genesis_verbosity_1", Final, Plain),
    ("getblock_orphaned_verbosity_1", Final, Plain),
    ("getblockheader_orphaned_verbose_true", Final, Plain),
    ("getrawtransaction_confirmed_false", Final, Plain),
    ("getrawtransaction_confirmed_true", Final, Plain),
    ("getrawtransaction_confirmed_verbosity_2", Final, Plain),
    ("getrawtransaction_mempool_false", Final, Plain),
    ("getrawtransaction_mempool_true", Final, Plain),
    ("getrawtransaction_unknown", Final, Plain),
    ("getrawtransaction_unknown_verbose", Final, Plain),
    ("getrawtransaction_coinbase_true", Final, Plain),
    ("getrawtransaction_rbf_replaced_original", Final, Plain),
    (
        "getrawtransaction_only_in_orphaned_block_replaced",
        Final,
        Plain,
    ),
    (
        "getrawtransaction_only_in_orphaned_block_evicted_nonfinal",
        Final,
        Plain,
    ),
    ("getrawtransaction_remined_after_reorg2", Final, Plain),
    ("getrawmempool_false", Final, Plain),
    ("getrawmempool_true", Final, Plain),
    ("getrawmempool_false_mempool_sequence", Final, Plain),
    ("getmempoolinfo", Final, Plain),
    ("getmempoolentry", Final, Plain),
    ("getmempoolentry_parent", Final, Plain),
    ("getmempoolentry_unknown", Final, Plain),
    ("estimatesmartfee_2", Final, Plain),
    ("estimatesmartfee_6", Final, Plain),
    ("estimatesmartfee_1008", Final, Plain),
    ("estimatesmartfee_0_invalid", Final, Plain),
    // Spends outputs that are now confirmed and unspent: -27 in the final state.
    ("sendrawtransaction_already_confirmed", Final, Plain),
    // A confirmed transaction whose inputs were spent by itself: -25.
    (
        "sendrawtransaction_already_confirmed_outputs_spent",
        Final,
        Plain,
    ),
    // `mp_cpfp_child1_highfee`, in the final mempool: Core answers its txid, nothing changes.
    ("sendrawtransaction_already_in_mempool", Final, Plain),
    ("sendrawtransaction_garbage", Final, Plain),
    ("sendrawtransaction_garbage_nonhex", Final, Plain),
    // Spends the first input of `mp_rbf_replacement` at a lower fee rate: rejected against
    // the final mempool's `mp_rbf_replacement`.
    ("sendrawtransaction_doublespend_mempool", Final, Plain),
    ("jsonrpc2_getblockcount", Final, Plain),
    ("jsonrpc2_getrawtransaction_unknown", Final, Plain),
    ("jsonrpc2_getblockhash_out_of_range", Final, Plain),
    ("jsonrpc2_method_not_found", Final, Plain),
    ("electrumx_getblockcount", Final, Plain),
    ("electrumx_getrawmempool", Final, Plain),
    ("electrumx_getnetworkinfo", Final, Plain),
    ("electrumx_getmempoolinfo", Final, Plain),
    ("electrumx_estimatesmartfee_2", Final, Plain),
    ("electrumx_getblock_true", Final, Plain),
    ("electrumx_getblock_false", Final, Plain),
    ("electrumx_getrawtransaction_0", Final, Plain),
    ("electrumx_getrawtransaction_1", Final, Plain),
    ("electrumx_getrawtransaction_unknown", Final, Plain),
    ("electrumx_method_not_found", Final, Plain),
    ("method_not_found", Final, Plain),
    ("getblockhash_wrong_param_type", Final, Plain),
    ("getblockhash_missing_param", Final, Plain),
    ("unauthorized_wrong_password", Final, WrongPassword),
    ("parse_error_truncated_json", Final, Plain),
    ("jsonrpc2_notification_no_id", Final, Plain),
    ("batch_getblockhash", Final, Plain),
    ("batch_getblockhash_jsonrpc2", Final, Plain),
    ("batch_getblockhash_one_out_of_range", Final, Plain),
    ("electrumx_batch_getblockhash", Final, Plain),
    (
        "electrumx_batch_getrawtransaction_known_and_unknown",
        Final,
        Plain,
    ),
    ("electrumx_batch_getblock_raw", Final, Plain),
    // 05:31:00: spends an output of `A_to_B_legacy_0` that block 112 spent: -25.
    (
        "sendrawtransaction_doublespend_confirmed_input",
        Final,
        Plain,
    ),
    // 05:31:20: Core restarted on the same data directory; once ready it serves the same
    // chain and (from mempool.dat) the same mempool, so the final state answers.
    (
        "warmup_restart_1_rpc_server_started",
        Final,
        Warmup("warmup_restart"),
    ),
    (
        "warmup_restart_2_loading_banlist",
        Final,
        Warmup("warmup_restart"),
    ),
    (
        "warmup_restart_3_verifying_blocks",
        Final,
        Warmup("warmup_restart"),
    ),
    (
        "warmup_restart_4_loading_wallet",
        Final,
        Warmup("warmup_restart"),
    ),
    ("warmup_restart_ready", Final, Ready("warmup_restart")),
    // 05:31:43, after the restart (fee estimates persisted in fee_estimates.dat).
    ("estimatesmartfee_6_economical", Final, Plain),
    ("estimatesmartfee_6_conservative", Final, Plain),
    // The package `submitpackage` sent, now in the mempool: base fees only, nothing changes.
    ("submitpackage_already_in_mempool", Final, Plain),
    ("submitpackage_garbage", Final, Plain),
];

fn data_dir() -> PathBuf {
    let dir = PathBuf::from(DATA);
    assert!(
        dir.join("rpc").is_dir() && dir.join("chain.jsonl").is_file(),
        "the Core 29.0 recordings are missing: expected {} (bundled with the \
         stand-in); this test needs them and is never skipped",
        dir.display()
    );
    dir
}

fn spawn(node: Node, zmq: &[ferrumx_simnode::rpc::ZmqEndpoint]) -> SimNode {
    SimNode::spawn(
        node,
        SimNodeOptions {
            user_pass: Some((USER.to_string(), PASSWORD.to_string())),
            zmq: zmq.to_vec(),
            ..Default::default()
        },
    )
    .expect("SimNode starts")
}

#[test]
fn every_recording_is_planned() {
    let rpc = data_dir().join("rpc");
    let on_disk = names_in(&rpc);
    let planned: BTreeSet<String> = PLAN.iter().map(|(n, _, _)| n.to_string()).collect();
    assert_eq!(PLAN.len(), planned.len(), "a recording is planned twice");
    assert_eq!(
        planned,
        on_disk,
        "PLAN must list exactly the recordings in {}",
        rpc.display()
    );
    for (name, _, _) in LIVE {
        assert!(
            planned.contains(*name),
            "LIVE names an unknown recording {name}"
        );
    }
}

#[test]
fn every_recording_replays_like_core() {
    bounded(TEST_LIMIT, replay_all);
}

fn replay_all() {
    let dir = data_dir();
    let rpc = dir.join("rpc");
    let started = Instant::now();

    let (final_node, zmq) = recorded::load(&dir).expect("recorded chain loads");
    let (mut before, _) = recorded::load(&dir).expect("recorded chain loads");
    without_last_txs(&mut before);
    eprintln!("loaded the recording twice in {:?}", started.elapsed());

    let fresh = spawn(Node::new(GenParams::fixture(0)), &zmq);
    let before = spawn(before, &zmq);
    let fin = spawn(final_node, &zmq);

    let mut failures = Vec::new();
    let mut report = Vec::new();
    for (name, state, how) in PLAN {
        let sim = match state {
            Fresh => &fresh,
            BeforeLastTxs => &before,
            Final => &fin,
        };
        let (mode, outcome) = replay_one(sim, &rpc, name, *how, (USER, PASSWORD));
        report.push(format!("{name} [{state:?}]: {mode}"));
        if let Err(e) = outcome {
            failures.push(format!("{name}: {e}"));
        }
    }

    // The state reached by replaying the last transactions is Core's final mempool, in
    // Core's order.
    let want = recording(&rpc, "getrawmempool_false", Plain);
    if let Err(e) =
        exchange(before.addr(), USER, PASSWORD, &want.request).and_then(|(status, ctype, body)| {
            compare(LIVE, "getrawmempool_false", &want, status, ctype, &body)
        })
    {
        failures.push(format!(
            "getrawmempool_false after replaying the last transactions: {e}"
        ));
    }

    eprintln!("{}", report.join("\n"));
    fresh.shutdown();
    before.shutdown();
    fin.shutdown();
    assert!(
        failures.is_empty(),
        "{} of {} recordings differ from Core 29.0:\n{}",
        failures.len(),
        PLAN.len(),
        failures.join("\n")
    );
}

/// Request params taken from a recording's `.req`.
fn recorded_params(rpc: &Path, name: &str) -> Vec<Value> {
    let req: Value =
        serde_json::from_str(&read_text(&rpc.join(format!("{name}.req")))).expect("request");
    req["params"].as_array().cloned().unwrap_or_default()
}

/// Answers that no recording shows, on the final state, as Core 29.0's source gives them
/// (`rpc/mempool.cpp`, `rpc/util.cpp`, `validation.cpp`, `policy/rbf.cpp`); the inputs come
/// from the recordings.
#[test]
fn unrecorded_answers_follow_core_source() {
    bounded(TEST_LIMIT, || {
        let dir = data_dir();
        let rpc = dir.join("rpc");
        let (node, zmq) = recorded::load(&dir).expect("recorded chain loads");
        let sim = spawn(node, &zmq);
        let in_mempool = recorded_params(&rpc, "sendrawtransaction_already_in_mempool");
        let spent = recorded_params(&rpc, "sendrawtransaction_already_confirmed_outputs_spent");
        let low_fee = recorded_params(&rpc, "sendrawtransaction_doublespend_mempool");
        let package = recorded_params(&rpc, "submitpackage_already_in_mempool");
        let block_111 = "035db03d4cd5898fa98acf12478994d98a4fc1c7784a0a1e0abe39c4a6876504";
        let block_111_hex: Value =
            serde_json::from_str::<Value>(&read_text(&rpc.join("getblock_verbosity_0.json")))
                .expect("recorded getblock")["result"]
                .clone();
        let rbf_message = serde_json::from_str::<Value>(&read_text(
            &rpc.join("sendrawtransaction_doublespend_mempool.json"),
        ))
        .expect("recorded rejection")["error"]["message"]
            .as_str()
            .expect("message")
            .to_string();
        let ok = |result: Value| (200u16, serde_json::json!({"result": result, "error": null}));
        let fail = |status: u16, code: i64, message: &str| {
            (
                status,
                serde_json::json!({"result": null, "error": {"code": code, "message": message}}),
            )
        };
        let cases: Vec<(&str, Value, (u16, Value))> = vec![
            (
                // A transaction already in the mempool is refused by a test accept.
                "testmempoolaccept",
                serde_json::json!([[in_mempool[0]]]),
                ok(serde_json::json!([{
                    "txid": "4277d6c7d5ae82bfeea2c96ed68a6c5ba46c21532a1d6d8c0f15d7eb25d66620",
                    "wtxid": "8ef3c4a47df02538255fbffd3bcad74281069141d1aeec70f0a9606b9f7d18ae",
                    "allowed": false,
                    "reject-reason": "txn-already-in-mempool",
                    "reject-details": "txn-already-in-mempool",
                }])),
            ),
            (
                // TX_MISSING_INPUTS: "missing-inputs" and no details.
                "testmempoolaccept",
                serde_json::json!([[spent[0]]]),
                ok(serde_json::json!([{
                    "txid": testmempool_txid(&spent[0]),
                    "wtxid": testmempool_wtxid(&spent[0]),
                    "allowed": false,
                    "reject-reason": "missing-inputs",
                }])),
            ),
            (
                // The same RBF rejection sendrawtransaction gave.
                "testmempoolaccept",
                serde_json::json!([[low_fee[0]]]),
                ok(serde_json::json!([{
                    "txid": testmempool_txid(&low_fee[0]),
                    "wtxid": testmempool_wtxid(&low_fee[0]),
                    "allowed": false,
                    "reject-reason": "insufficient fee",
                    "reject-details": rbf_message,
                }])),
            ),
            (
                // A package stops at its first failure; the rest is unevaluated.
                "testmempoolaccept",
                serde_json::json!([package[0]]),
                ok(serde_json::json!([
                    {
                        "txid": "419fac80d09878d30a80b2cc2ce49a414cfb363d2bc9d7184cfdf8014e2df258",
                        "wtxid": "4b6b044e5513467e644dcdc38d41f20432758188bbf96b80c8821432f28f6664",
                        "allowed": false,
                        "reject-reason": "txn-already-in-mempool",
                        "reject-details": "txn-already-in-mempool",
                    },
                    {
                        "txid": "607eb405b09e396c8261d2adf2315ea5f323b28de7b4811130fe16d19d1c1891",
                        "wtxid": "c2a05219c5fb085fac457cd97a5e381548b1228690af4943014a0c7d54af9f85",
                    },
                ])),
            ),
            (
                "sendrawtransaction",
                serde_json::json!([in_mempool[0], 1]),
                fail(
                    500,
                    -8,
                    "Fee rates larger than or equal to 1BTC/kvB are not accepted",
                ),
            ),
            (
                "sendrawtransaction",
                serde_json::json!([in_mempool[0], -0.1]),
                fail(500, -3, "Amount out of range"),
            ),
            (
                "getblockheader",
                serde_json::json!(["abc"]),
                fail(500, -8, "hash must be of length 64 (not 3, for 'abc')"),
            ),
            (
                "getrawtransaction",
                serde_json::json!(["abc"]),
                fail(500, -8, "parameter 1 must be of length 64 (not 3, for 'abc')"),
            ),
            (
                "getmempoolentry",
                serde_json::json!([format!("{}zz", "0".repeat(62))]),
                fail(
                    500,
                    -8,
                    &format!(
                        "parameter 1 must be hexadecimal string (not '{}zz')",
                        "0".repeat(62)
                    ),
                ),
            ),
            (
                "getblockhash",
                serde_json::json!([null]),
                fail(
                    500,
                    -3,
                    "Wrong type passed:\n{\n    \"Position 1 (height)\": \"JSON value of type null is not of expected type number\"\n}",
                ),
            ),
            (
                "getblockhash",
                serde_json::json!([1.5]),
                fail(500, -1, "JSON integer out of range"),
            ),
            (
                "getblock",
                serde_json::json!([block_111, "1"]),
                fail(
                    500,
                    -3,
                    "JSON value of type string is not of expected type number",
                ),
            ),
            (
                // The `verbosity|verbose` alias.
                "getblock",
                serde_json::json!({"blockhash": block_111, "verbose": 0}),
                ok(block_111_hex),
            ),
        ];
        let mut failures = Vec::new();
        for (k, (method, params, (status, body))) in cases.into_iter().enumerate() {
            let request = serde_json::json!({
                "jsonrpc": "1.0",
                "id": null,
                "method": method,
                "params": params,
            });
            let outcome = exchange(sim.addr(), USER, PASSWORD, &request.to_string());
            let body =
                serde_json::json!({"result": body["result"], "error": body["error"], "id": null});
            match outcome {
                Ok((got_status, _, text)) => {
                    let got: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if got_status != status || got != body {
                        failures.push(format!(
                            "case {k} ({method}): got {got_status} {}, want {status} {}",
                            trim(&text),
                            trim(&body.to_string())
                        ));
                    }
                }
                Err(e) => failures.push(format!("case {k} ({method}): {e}")),
            }
        }
        sim.shutdown();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    });
}

fn decode_tx_param(hex: &Value) -> bitcoin::Transaction {
    let hex = hex.as_str().expect("hex");
    bitcoin::consensus::encode::deserialize_hex(hex).expect("recorded transaction decodes")
}

fn testmempool_txid(hex: &Value) -> String {
    decode_tx_param(hex).compute_txid().to_string()
}

fn testmempool_wtxid(hex: &Value) -> String {
    decode_tx_param(hex).compute_wtxid().to_string()
}
