//! Every JSON-RPC exchange recorded from a real Bitcoin Core 31.0
//! (`contrib/simnode/data/bitcoind-core-v31/rpc`), replayed over raw HTTP/1.1 against `SimNode`
//! in Core 31 mode (`SimNodeOptions::core_version`) serving the chain and mempool it was
//! recorded on (those of the Core 29.0 recording, `data/bitcoind-core-v29`), with the
//! strictness of `recorded_rpc.rs`: status, `Content-Type`, the body as JSON, then byte for
//! byte with only the [`LIVE`] values masked. The 48 Core 29.0 exchanges whose Core 31.0
//! answer was byte-identical (not repeated in the Core 31 recording, see its README) are
//! replayed in Core 31 mode too, from the Core 29 files.
//!
//! [`PLAN`] says which node state answers each recording: most come from the final state; the
//! `testmempoolaccept_*` and `electrumx2_testmempoolaccept_*` that need the three last
//! transactions absent, the warm-ups of a fresh node, and the `noindex_*` answers (and the
//! restart warm-ups) of the second recorded node, which ran without `-txospenderindex`.

mod replay;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ferrumx_simnode::rpc::ZmqEndpoint;
use ferrumx_simnode::{recorded, CoreVersion, GenParams, Node, SimNode, SimNodeOptions};

use replay::{
    bounded, compare, exchange, names_in, recording, replay_one, without_last_txs, How, How::*,
    LIVE,
};
use State::*;

/// Our own credentials; those of the recording do not matter.
const USER: &str = "replay";
const PASSWORD: &str = "recorded-core-31";
/// Limit for the whole replay (loading the chain three times included).
const TEST_LIMIT: Duration = Duration::from_secs(300);

/// Which node state answers a recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// A node holding only the genesis block: the first start on an empty data directory, and
    /// `estimatesmartfee_2_nodata` (the second node had no fee-estimator data; the stand-in
    /// has none only without blocks, and the answer does not depend on the chain).
    Fresh,
    /// The recorded chain without the scenario's three last transactions (`mp_opreturn`,
    /// `mp_pkg_parent`, `mp_pkg_child`): the 9-transaction mempool the README names for the
    /// `testmempoolaccept_*` package and maxfeerate cases, `sendrawtransaction_ok` and
    /// `submitpackage` (which bring it to the final mempool, checked afterwards).
    BeforeLastTxs,
    /// The final state `recorded::load` rebuilds, with `-txospenderindex`.
    Final,
    /// The second recorded node: same chain and mempool, no `-txospenderindex`
    /// (`SimNodeOptions::txospenderindex = false`). Its stale blocks and fee data do not show
    /// in the answers replayed on it.
    NoIndex,
}

/// Every Core 31.0 recording, in the order Core answered them (the `Date` of each `.http`,
/// then the JSON-RPC id).
const PLAN: &[(&str, State, How)] = &[
    ("electrumx2_startup_1_getblockcount", BeforeLastTxs, Plain),
    ("electrumx2_startup_2_getnetworkinfo", BeforeLastTxs, Plain),
    ("electrumx2_startup_3_getindexinfo", BeforeLastTxs, Plain),
    ("electrumx2_testmempoolaccept_valid", BeforeLastTxs, Plain),
    ("testmempoolaccept_ok", BeforeLastTxs, Plain),
    ("testmempoolaccept_maxfeerate_0", BeforeLastTxs, Plain),
    ("testmempoolaccept_maxfeerate_too_low", BeforeLastTxs, Plain),
    ("testmempoolaccept_maxfeerate_string", BeforeLastTxs, Plain),
    ("testmempoolaccept_maxfeerate_1", BeforeLastTxs, Plain),
    (
        "testmempoolaccept_maxfeerate_negative",
        BeforeLastTxs,
        Plain,
    ),
    ("testmempoolaccept_package", BeforeLastTxs, Plain),
    (
        "testmempoolaccept_package_maxfeerate_too_low",
        BeforeLastTxs,
        Plain,
    ),
    ("testmempoolaccept_package_unsorted", BeforeLastTxs, Plain),
    (
        "testmempoolaccept_child_without_parent",
        BeforeLastTxs,
        Plain,
    ),
    (
        "testmempoolaccept_three_unrelated_with_package",
        BeforeLastTxs,
        Plain,
    ),
    (
        "sendrawtransaction_maxfeerate_exceeded",
        BeforeLastTxs,
        Plain,
    ),
    ("electrumx2_testmempoolaccept_package", BeforeLastTxs, Plain),
    ("sendrawtransaction_ok", BeforeLastTxs, Plain),
    ("submitpackage", BeforeLastTxs, Plain),
    ("getblockchaininfo", Final, Plain),
    ("getnetworkinfo", Final, Plain),
    ("getzmqnotifications", Final, Plain),
    ("getindexinfo", Final, Plain),
    ("uptime", Final, Plain),
    ("getblockheader_verbose_true", Final, Plain),
    ("getblock_verbosity_1", Final, Plain),
    ("getblock_verbosity_2", Final, Plain),
    ("getblock_verbosity_3", Final, Plain),
    ("getblock_genesis_verbosity_1", Final, Plain),
    ("getblock_orphaned_verbosity_1", Final, Plain),
    ("getrawtransaction_confirmed_true", Final, Plain),
    ("getrawtransaction_confirmed_verbosity_2", Final, Plain),
    ("getrawtransaction_mempool_true", Final, Plain),
    ("getrawmempool_false", Final, Plain),
    ("getrawmempool_true", Final, Plain),
    ("getrawmempool_false_mempool_sequence", Final, Plain),
    ("getmempoolinfo", Final, Plain),
    ("getmempoolentry", Final, Plain),
    ("getmempoolentry_parent", Final, Plain),
    ("estimatesmartfee_2", Final, Plain),
    ("estimatesmartfee_0_invalid", Final, Plain),
    ("sendrawtransaction_already_confirmed", Final, Plain),
    (
        "sendrawtransaction_already_confirmed_outputs_spent",
        Final,
        Plain,
    ),
    ("sendrawtransaction_already_in_mempool", Final, Plain),
    ("sendrawtransaction_garbage", Final, Plain),
    ("sendrawtransaction_garbage_nonhex", Final, Plain),
    ("sendrawtransaction_doublespend_mempool", Final, Plain),
    ("electrumx_getrawmempool", Final, Plain),
    ("electrumx_getnetworkinfo", Final, Plain),
    ("electrumx_getmempoolinfo", Final, Plain),
    ("electrumx_getblock_true", Final, Plain),
    (
        "sendrawtransaction_doublespend_confirmed_input",
        Final,
        Plain,
    ),
    ("estimatesmartfee_6_conservative", Final, Plain),
    ("submitpackage_already_in_mempool", Final, Plain),
    ("submitpackage_garbage", Final, Plain),
    ("getindexinfo_txospenderindex", Final, Plain),
    ("getindexinfo_txindex", Final, Plain),
    ("getindexinfo_unknown_index", Final, Plain),
    ("gettxspendingprevout_confirmed_unspent", Final, Plain),
    (
        "gettxspendingprevout_confirmed_unspent_mempool_only_false",
        Final,
        Plain,
    ),
    (
        "gettxspendingprevout_confirmed_unspent_mempool_only_true",
        Final,
        Plain,
    ),
    ("gettxspendingprevout_spent_in_block", Final, Plain),
    (
        "gettxspendingprevout_spent_in_block_mempool_only_false",
        Final,
        Plain,
    ),
    (
        "gettxspendingprevout_spent_in_block_mempool_only_true",
        Final,
        Plain,
    ),
    (
        "gettxspendingprevout_confirmed_spent_in_mempool",
        Final,
        Plain,
    ),
    (
        "gettxspendingprevout_confirmed_spent_in_mempool_mempool_only_false",
        Final,
        Plain,
    ),
    (
        "gettxspendingprevout_confirmed_spent_in_mempool_mempool_only_true",
        Final,
        Plain,
    ),
    ("gettxspendingprevout_mempool_output_unspent", Final, Plain),
    (
        "gettxspendingprevout_mempool_output_unspent_mempool_only_false",
        Final,
        Plain,
    ),
    (
        "gettxspendingprevout_mempool_output_unspent_mempool_only_true",
        Final,
        Plain,
    ),
    (
        "gettxspendingprevout_mempool_output_spent_in_mempool",
        Final,
        Plain,
    ),
    (
        "gettxspendingprevout_mempool_output_spent_in_mempool_mempool_only_false",
        Final,
        Plain,
    ),
    (
        "gettxspendingprevout_mempool_output_spent_in_mempool_mempool_only_true",
        Final,
        Plain,
    ),
    ("gettxspendingprevout_unknown_txid", Final, Plain),
    (
        "gettxspendingprevout_unknown_txid_mempool_only_false",
        Final,
        Plain,
    ),
    (
        "gettxspendingprevout_unknown_txid_mempool_only_true",
        Final,
        Plain,
    ),
    ("gettxspendingprevout_vout_out_of_range", Final, Plain),
    (
        "gettxspendingprevout_vout_out_of_range_mempool_only_false",
        Final,
        Plain,
    ),
    (
        "gettxspendingprevout_vout_out_of_range_mempool_only_true",
        Final,
        Plain,
    ),
    ("gettxspendingprevout_multiple", Final, Plain),
    (
        "gettxspendingprevout_multiple_mempool_only_false",
        Final,
        Plain,
    ),
    (
        "gettxspendingprevout_multiple_mempool_only_true",
        Final,
        Plain,
    ),
    ("gettxspendingprevout_coinbase_spent_in_block", Final, Plain),
    ("gettxspendingprevout_remined_after_reorg", Final, Plain),
    (
        "gettxspendingprevout_spent_in_stale_block_and_in_active_block",
        Final,
        Plain,
    ),
    (
        "gettxspendingprevout_spent_in_stale_block_now_in_mempool",
        Final,
        Plain,
    ),
    (
        "gettxspendingprevout_mempool_tx_vout_out_of_range",
        Final,
        Plain,
    ),
    ("gettxspendingprevout_genesis_coinbase", Final, Plain),
    (
        "gettxspendingprevout_spent_in_block_return_spending_tx",
        Final,
        Plain,
    ),
    (
        "gettxspendingprevout_confirmed_spent_in_mempool_return_spending_tx",
        Final,
        Plain,
    ),
    (
        "gettxspendingprevout_multiple_return_spending_tx",
        Final,
        Plain,
    ),
    (
        "gettxspendingprevout_multiple_mempool_only_true_return_spending_tx",
        Final,
        Plain,
    ),
    ("gettxspendingprevout_key_order_vout_first", Final, Plain),
    ("gettxspendingprevout_txid_uppercase", Final, Plain),
    ("gettxspendingprevout_duplicate_outpoints", Final, Plain),
    ("gettxspendingprevout_options_null", Final, Plain),
    ("gettxspendingprevout_named_params", Final, Plain),
    (
        "gettxspendingprevout_error_txid_malformed_short",
        Final,
        Plain,
    ),
    ("gettxspendingprevout_error_txid_nonhex", Final, Plain),
    ("gettxspendingprevout_error_vout_negative", Final, Plain),
    ("gettxspendingprevout_error_vout_string", Final, Plain),
    ("gettxspendingprevout_error_vout_too_large", Final, Plain),
    ("gettxspendingprevout_error_missing_txid", Final, Plain),
    ("gettxspendingprevout_error_missing_vout", Final, Plain),
    ("gettxspendingprevout_error_extra_key", Final, Plain),
    ("gettxspendingprevout_error_empty_outputs", Final, Plain),
    ("gettxspendingprevout_error_outputs_not_array", Final, Plain),
    ("gettxspendingprevout_error_no_params", Final, Plain),
    (
        "gettxspendingprevout_error_options_unknown_key",
        Final,
        Plain,
    ),
    (
        "gettxspendingprevout_error_options_mempool_only_not_bool",
        Final,
        Plain,
    ),
    ("gettxspendingprevout_help", Final, Plain),
    ("testmempoolaccept_already_in_mempool", Final, Plain),
    ("testmempoolaccept_package_already_in_mempool", Final, Plain),
    ("testmempoolaccept_confirmed", Final, Plain),
    ("testmempoolaccept_confirmed_outputs_spent", Final, Plain),
    ("testmempoolaccept_missing_inputs", Final, Plain),
    ("testmempoolaccept_doublespend_mempool", Final, Plain),
    ("testmempoolaccept_rbf_replaced_original", Final, Plain),
    ("testmempoolaccept_garbage", Final, Plain),
    ("testmempoolaccept_garbage_nonhex", Final, Plain),
    ("testmempoolaccept_empty_array", Final, Plain),
    ("testmempoolaccept_not_array", Final, Plain),
    ("testmempoolaccept_no_params", Final, Plain),
    (
        "testmempoolaccept_mixed_in_mempool_and_confirmed",
        Final,
        Plain,
    ),
    ("getrawtransaction_mempool_verbosity_2", Final, Plain),
    ("sendrawtransaction_missing_inputs", Final, Plain),
    (
        "electrumx2_getrawtransaction_verbose_confirmed",
        Final,
        Plain,
    ),
    (
        "electrumx2_gettxspendingprevout_confirmed_unspent",
        Final,
        Plain,
    ),
    (
        "electrumx2_gettxspendingprevout_spent_in_block",
        Final,
        Plain,
    ),
    (
        "electrumx2_gettxspendingprevout_confirmed_spent_in_mempool",
        Final,
        Plain,
    ),
    ("electrumx2_getrawtransaction_verbose_mempool", Final, Plain),
    ("electrumx2_getrawtransaction_verbose_unknown", Final, Plain),
    (
        "electrumx2_testmempoolaccept_already_in_mempool",
        Final,
        Plain,
    ),
    ("electrumx2_testmempoolaccept_missing_inputs", Final, Plain),
    ("electrumx2_testmempoolaccept_decode_error", Final, Plain),
    (
        "electrumx2_testmempoolaccept_package_already_in_mempool",
        Final,
        Plain,
    ),
    (
        "warmup_firststart_1_loading_p2p_addresses",
        Fresh,
        Warmup("warmup_firststart"),
    ),
    (
        "warmup_firststart_2_loading_banlist",
        Fresh,
        Warmup("warmup_firststart"),
    ),
    (
        "warmup_firststart_3_loading_block_index",
        Fresh,
        Warmup("warmup_firststart"),
    ),
    (
        "warmup_firststart_4_verifying_blocks",
        Fresh,
        Warmup("warmup_firststart"),
    ),
    ("warmup_firststart_ready", Fresh, Ready("warmup_firststart")),
    ("estimatesmartfee_2_nodata", Fresh, Plain),
    ("noindex_getindexinfo_txospenderindex", NoIndex, Plain),
    (
        "noindex_gettxspendingprevout_spent_in_block",
        NoIndex,
        Plain,
    ),
    (
        "noindex_gettxspendingprevout_spent_in_block_mempool_only_false",
        NoIndex,
        Plain,
    ),
    (
        "noindex_gettxspendingprevout_confirmed_spent_in_mempool_mempool_only_false",
        NoIndex,
        Plain,
    ),
    (
        "noindex_gettxspendingprevout_multiple_mempool_only_false",
        NoIndex,
        Plain,
    ),
    (
        "warmup_restart_1_loading_banlist",
        NoIndex,
        Warmup("warmup_restart"),
    ),
    (
        "warmup_restart_2_loading_block_index",
        NoIndex,
        Warmup("warmup_restart"),
    ),
    (
        "warmup_restart_3_verifying_blocks",
        NoIndex,
        Warmup("warmup_restart"),
    ),
    ("warmup_restart_ready", NoIndex, Ready("warmup_restart")),
];

/// The Core 29.0 recordings whose Core 31.0 answer was byte-identical (all answered by the
/// final state), replayed in Core 31 mode from `data/bitcoind-core-v29/rpc`.
const V29_UNCHANGED: &[&str] = &[
    "batch_getblockhash",
    "batch_getblockhash_jsonrpc2",
    "batch_getblockhash_one_out_of_range",
    "electrumx_batch_getblock_raw",
    "electrumx_batch_getblockhash",
    "electrumx_batch_getrawtransaction_known_and_unknown",
    "electrumx_estimatesmartfee_2",
    "electrumx_getblock_false",
    "electrumx_getblockcount",
    "electrumx_getrawtransaction_0",
    "electrumx_getrawtransaction_1",
    "electrumx_getrawtransaction_unknown",
    "electrumx_method_not_found",
    "estimatesmartfee_1008",
    "estimatesmartfee_6",
    "estimatesmartfee_6_economical",
    "getbestblockhash",
    "getblock_unknown",
    "getblock_verbosity_0",
    "getblockcount",
    "getblockhash_0",
    "getblockhash_missing_param",
    "getblockhash_negative",
    "getblockhash_out_of_range",
    "getblockhash_tip",
    "getblockhash_wrong_param_type",
    "getblockheader_orphaned_verbose_true",
    "getblockheader_unknown",
    "getblockheader_verbose_false",
    "getchaintips",
    "getmempoolentry_unknown",
    "getrawtransaction_coinbase_true",
    "getrawtransaction_confirmed_false",
    "getrawtransaction_mempool_false",
    "getrawtransaction_only_in_orphaned_block_evicted_nonfinal",
    "getrawtransaction_only_in_orphaned_block_replaced",
    "getrawtransaction_rbf_replaced_original",
    "getrawtransaction_remined_after_reorg2",
    "getrawtransaction_unknown",
    "getrawtransaction_unknown_verbose",
    "jsonrpc2_getblockcount",
    "jsonrpc2_getblockhash_out_of_range",
    "jsonrpc2_getrawtransaction_unknown",
    "jsonrpc2_method_not_found",
    "jsonrpc2_notification_no_id",
    "method_not_found",
    "parse_error_truncated_json",
    "unauthorized_wrong_password",
];

fn dirs() -> (PathBuf, PathBuf) {
    let (v29, v31) = (recorded::core_v29_dir(), recorded::core_v31_dir());
    assert!(
        v29.join("chain.jsonl").is_file() && v31.join("rpc").is_dir(),
        "the Core 29.0/31.0 recordings are missing: expected {} and {} (bundled with the \
         stand-in); this test needs them and is never skipped",
        v29.display(),
        v31.display()
    );
    (v29, v31)
}

fn spawn(node: Node, zmq: &[ZmqEndpoint], txospenderindex: bool) -> SimNode {
    SimNode::spawn(
        node,
        SimNodeOptions {
            user_pass: Some((USER.to_string(), PASSWORD.to_string())),
            zmq: zmq.to_vec(),
            core_version: CoreVersion::V31,
            txospenderindex,
            ..Default::default()
        },
    )
    .expect("SimNode starts")
}

#[test]
fn every_recording_is_planned() {
    let (v29, v31) = dirs();
    let on_disk = names_in(&v31.join("rpc"));
    let planned: BTreeSet<String> = PLAN.iter().map(|(n, _, _)| n.to_string()).collect();
    assert_eq!(PLAN.len(), planned.len(), "a recording is planned twice");
    assert_eq!(
        planned,
        on_disk,
        "PLAN must list exactly the recordings in {}",
        v31.display()
    );
    // Every Core 29.0 exchange is covered: re-recorded, or listed as unchanged (the warm-up
    // sequences were recorded afresh under other step names).
    let unchanged: BTreeSet<String> = V29_UNCHANGED.iter().map(|n| n.to_string()).collect();
    assert_eq!(unchanged.len(), V29_UNCHANGED.len());
    for name in names_in(&v29.join("rpc")) {
        assert!(
            planned.contains(&name) != unchanged.contains(&name) || name.starts_with("warmup_"),
            "{name}: neither re-recorded from Core 31.0 nor listed as unchanged (exactly one)"
        );
    }
    for (name, _, _) in LIVE {
        assert!(
            planned.contains(*name),
            "LIVE names an unknown recording {name}"
        );
    }
}

#[test]
fn every_recording_replays_like_core_31() {
    bounded(TEST_LIMIT, replay_all);
}

fn replay_all() {
    let (v29, v31) = dirs();
    let started = Instant::now();
    let zmq = recorded::zmq_endpoints(&v31);
    let (final_node, _) = recorded::load(&v29).expect("recorded chain loads");
    let (noindex_node, _) = recorded::load(&v29).expect("recorded chain loads");
    let (mut before, _) = recorded::load(&v29).expect("recorded chain loads");
    without_last_txs(&mut before);
    eprintln!(
        "loaded the recording three times in {:?}",
        started.elapsed()
    );

    let fresh = spawn(Node::new(GenParams::fixture(0)), &zmq, true);
    let before = spawn(before, &zmq, true);
    let fin = spawn(final_node, &zmq, true);
    let noindex = spawn(noindex_node, &zmq, false);

    let mut failures = Vec::new();
    let mut report = Vec::new();
    let v31_plan = PLAN.iter().map(|(n, s, h)| (v31.join("rpc"), *n, *s, *h));
    let v29_plan = V29_UNCHANGED.iter().map(|n| {
        let how = if *n == "unauthorized_wrong_password" {
            WrongPassword
        } else {
            Plain
        };
        (v29.join("rpc"), *n, Final, how)
    });
    let total = PLAN.len() + V29_UNCHANGED.len();
    for (rpc, name, state, how) in v31_plan.chain(v29_plan) {
        let sim = match state {
            Fresh => &fresh,
            BeforeLastTxs => &before,
            Final => &fin,
            NoIndex => &noindex,
        };
        let (mode, outcome) = replay_one(sim, &rpc, name, how, (USER, PASSWORD));
        let from = if rpc.starts_with(&v31) { "v31" } else { "v29" };
        report.push(format!("{name} ({from}) [{state:?}]: {mode}"));
        if let Err(e) = outcome {
            failures.push(format!("{name} ({from}): {e}"));
        }
    }

    // Replaying the last transactions reaches Core 31's final mempool, in its mining order.
    let want = recording(&v31.join("rpc"), "getrawmempool_false", Plain);
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
    noindex.shutdown();
    assert!(
        failures.is_empty(),
        "{} of {total} recordings differ from Core 31.0:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
