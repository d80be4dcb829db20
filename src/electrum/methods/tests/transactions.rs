//! The transactions family.

use bitcoin::hashes::Hash;
use serde_json::json;

use super::{assert_cost, display_hex, sha256d_pair, txid, Fake, Harness};
use crate::daemon;

/// The txids of block 3 of `Fake::with_chain(4)`, in internal order.
fn block3(fake: &Fake) -> [[u8; 32]; 3] {
    let t = &fake.txids[3];
    [
        t[0].to_byte_array(),
        t[1].to_byte_array(),
        t[2].to_byte_array(),
    ]
}

#[tokio::test]
async fn id_from_pos_with_and_without_a_branch() {
    let fake = Fake::with_chain(4);
    let [a, b, c] = block3(&fake);
    let h = Harness::new(fake);
    assert_eq!(
        h.ok("blockchain.transaction.id_from_pos", &[json!(3), json!(1)])
            .await,
        json!(display_hex(&b))
    );
    let block_cost = 0.25 + 3.0 * 0.0001;
    assert_cost(h.cost(), block_cost);
    // Leaf 2 of three: itself (the odd last leaf pairs with itself), then hash(a ‖ b).
    let got = h
        .ok(
            "blockchain.transaction.id_from_pos",
            &[json!(3), json!(2), json!(true)],
        )
        .await;
    assert_eq!(
        got,
        json!({
            "tx_hash": display_hex(&c),
            "merkle": [display_hex(&c), display_hex(&sha256d_pair(&a, &b))],
        })
    );
    assert_cost(h.cost(), 2.0 * block_cost + 3.0 / 2500.0);
}

#[tokio::test]
async fn get_merkle_finds_the_position() {
    let fake = Fake::with_chain(4);
    let [a, b, c] = block3(&fake);
    let h = Harness::new(fake);
    let got = h
        .ok(
            "blockchain.transaction.get_merkle",
            &[json!(display_hex(&b)), json!(3)],
        )
        .await;
    assert_eq!(
        got,
        json!({
            "block_height": 3,
            "merkle": [display_hex(&a), display_hex(&sha256d_pair(&c, &c))],
            "pos": 1,
        })
    );
    assert_eq!(
        h.bad(
            "blockchain.transaction.get_merkle",
            &[json!(display_hex(&b)), json!(2)]
        )
        .await,
        format!("tx {} not in block at height 2", display_hex(&b))
    );
}

#[tokio::test]
async fn positions_and_heights_out_of_range() {
    let h = Harness::new(Fake::with_chain(4));
    let id_from_pos = "blockchain.transaction.id_from_pos";
    assert_eq!(
        h.bad(id_from_pos, &[json!(3), json!(5)]).await,
        "no tx at position 5 in block at height 3"
    );
    assert_eq!(
        h.bad(id_from_pos, &[json!(1000), json!(0)]).await,
        "db error: DBError('block 1,000 not on disk (>3)')"
    );
    // The genesis block holds no transaction.
    assert_eq!(
        h.bad(id_from_pos, &[json!(0), json!(0)]).await,
        "no tx at position 0 in block at height 0"
    );
    // tx_pos is checked before height.
    assert_eq!(
        h.bad(id_from_pos, &[json!("h"), json!("p")]).await,
        "p should be a non-negative integer"
    );
}

#[tokio::test]
async fn get_asks_in_the_indexed_block_when_the_daemon_has_no_txindex() {
    let mut fake = Fake::with_chain(4);
    let t = fake.txids[3][1];
    let block = fake.headers[3].block_hash();
    fake.raw_txs.insert((t, Some(block)), vec![1, 2, 0xff]);
    fake.verbose_txs.insert(
        (t, Some(block)),
        json!({"txid": t.to_string(), "in_active_chain": true, "confirmations": 1}),
    );
    let h = Harness::new(fake);
    assert_eq!(
        h.ok("blockchain.transaction.get", &[json!(t.to_string())])
            .await,
        json!("0102ff")
    );
    assert_cost(h.cost(), 1.0);
    assert_eq!(
        h.ok(
            "blockchain.transaction.get",
            &[json!(t.to_string()), json!(true)]
        )
        .await,
        json!({"txid": t.to_string(), "confirmations": 1})
    );
    assert_eq!(
        h.fake.calls(),
        [
            format!("getrawtransaction {t} false None"),
            format!("getrawtransaction {t} false Some({block})"),
            format!("getrawtransaction {t} true None"),
            format!("getrawtransaction {t} true Some({block})"),
        ]
    );
    // Unknown to both: the daemon's first answer, as ElectrumX wraps it.
    let unknown = txid(0xee).to_string();
    assert_eq!(
        h.call("blockchain.transaction.get", &[json!(unknown)])
            .await,
        Err((
            2,
            "daemon error: DaemonError({'code': -5, 'message': 'No such mempool or \
             blockchain transaction'})"
                .into(),
            false
        ))
    );
    assert_eq!(
        h.bad(
            "blockchain.transaction.get",
            &[json!(unknown), json!("yes")]
        )
        .await,
        "\"verbose\" must be a boolean"
    );
}

#[tokio::test]
async fn broadcast_answers_the_txid_or_the_rejection() {
    let mut fake = Fake::with_chain(1);
    fake.broadcast = Ok(txid(9));
    let h = Harness::new(fake);
    assert_eq!(
        h.ok("blockchain.transaction.broadcast", &[json!("0011")])
            .await,
        json!(txid(9).to_string())
    );
    assert_cost(h.cost(), 0.25 + 4.0 / 5000.0);
    assert_eq!(h.session.txs_sent(), 1);
    assert_eq!(
        h.fake.txs_sent.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // Electrum before 3.3.3 is warned instead.
    h.session.set_client("3.3.2".into());
    let warned = h
        .ok("blockchain.transaction.broadcast", &[json!("0011")])
        .await;
    assert!(warned
        .as_str()
        .is_some_and(|w| w.contains("please upgrade")));

    let mut fake = Fake::with_chain(1);
    fake.broadcast = Err(daemon::Error::Rpc {
        code: -26,
        message: "min relay fee not met".into(),
    });
    let h = Harness::new(fake);
    assert_eq!(
        h.bad("blockchain.transaction.broadcast", &[json!("0011")])
            .await,
        "the transaction was rejected by network rules.\n\nmin relay fee not met\n[0011]"
    );
    assert_eq!(h.session.txs_sent(), 0);
    assert_eq!(
        h.bad("blockchain.transaction.broadcast", &[json!("0g")])
            .await,
        "0g should be a hex string"
    );
}

#[tokio::test]
async fn packages_are_summarised_unless_verbose() {
    let answer = json!({
        "package_msg": "transaction failed",
        "tx-results": {
            "w1": {"txid": "aa", "error": "bad-txns-inputs-missingorspent"},
            "w2": {"txid": "bb"},
        },
    });
    let mut fake = Fake::with_chain(1);
    fake.package = Ok(answer.clone());
    let h = Harness::new(fake);
    let method = "blockchain.transaction.broadcast_package";
    assert_eq!(
        h.ok(method, &[json!(["00", "0011"])]).await,
        json!({
            "success": false,
            "errors": [{"txid": "aa", "error": "bad-txns-inputs-missingorspent"}],
        })
    );
    assert_cost(h.cost(), 0.25 + 6.0 / 5000.0);
    assert_eq!(h.session.txs_sent(), 2);
    assert_eq!(h.ok(method, &[json!(["00"]), json!(1)]).await, answer);
    assert_eq!(h.fake.calls()[0], "submitpackage 00,0011");
}

/// `blockchain.transaction.testmempoolaccept` (1.7): a list of hex strings, checked in
/// order; 0.25 plus 1/5000 per hex digit charged once they pass; the daemon's verdicts in
/// ElectrumX 2.0's shape; its errors as `daemon error: DaemonError(...)` (code 2).
#[tokio::test]
async fn testmempoolaccept_reshapes_the_daemons_verdicts() {
    let mut fake = Fake::with_chain(1);
    fake.mempool_accept = Ok(json!([
        {"txid": "aa", "wtxid": "ab", "allowed": true, "vsize": 141,
         "fees": {"base": 0.00001, "effective-feerate": 0.0001}},
        {"txid": "ba", "wtxid": "bb", "allowed": false, "reject-reason": "missing-inputs"},
        {"txid": "ca", "wtxid": "cb", "allowed": false, "reject-reason": "insufficient fee",
         "reject-details": "insufficient fee, rejecting replacement"},
        {"txid": "da", "wtxid": "db", "package-error": "package-not-child-with-parents",
         "reject-reason": ""},
        {"txid": "ea", "wtxid": "eb", "allowed": 1, "reject-reason": ""},
        {"txid": "fa", "wtxid": "fb", "allowed": "yes"},
    ]));
    let h = Harness::at(fake, &[1, 7]);
    let txs = ["0100", "0200", "0300", "0400", "0500", "0600"];
    let got = h
        .ok("blockchain.transaction.testmempoolaccept", &[json!(txs)])
        .await;
    assert_eq!(
        got,
        json!([
            {"txid": "aa", "wtxid": "ab", "allowed": true},
            {"txid": "ba", "wtxid": "bb", "allowed": false, "reason": "missing-inputs"},
            {"txid": "ca", "wtxid": "cb", "allowed": false,
             "reason": "insufficient fee, rejecting replacement"},
            {"txid": "da", "wtxid": "db", "reason": "package-not-child-with-parents"},
            {"txid": "ea", "wtxid": "eb", "allowed": 1},
            {"txid": "fa", "wtxid": "fb"},
        ])
    );
    assert_eq!(
        h.fake.calls(),
        ["testmempoolaccept 0100,0200,0300,0400,0500,0600"]
    );
    assert_cost(h.cost(), 0.25 + 24.0 / 5000.0);

    // Argument checks, in order, before anything is charged or asked.
    let before = h.cost();
    for (arg, message) in [
        (json!("0100"), "0100 should be a list"),
        (json!(["0100", "010"]), "010 should be a hex string"),
        (json!(["zz", 5]), "zz should be a hex string"),
        (json!({"a": 1}), "{'a': 1} should be a list"),
    ] {
        assert_eq!(
            h.bad("blockchain.transaction.testmempoolaccept", &[arg])
                .await,
            message
        );
    }
    assert_cost(h.cost() - before, 0.0);
    assert_eq!(h.fake.calls().len(), 1);

    let mut fake = Fake::with_chain(1);
    fake.mempool_accept = Err(daemon::Error::Rpc {
        code: -22,
        message: "TX decode failed. Make sure the tx has at least one input.".into(),
    });
    let h = Harness::at(fake, &[1, 7]);
    let got = h
        .call("blockchain.transaction.testmempoolaccept", &[json!(["00"])])
        .await;
    assert_eq!(
        got,
        Err((
            2,
            "daemon error: DaemonError({'code': -22, 'message': 'TX decode failed. Make sure \
             the tx has at least one input.'})"
                .into(),
            false
        ))
    );
    // An empty list is the daemon's to judge.
    let mut fake = Fake::with_chain(1);
    fake.mempool_accept = Ok(json!([]));
    let h = Harness::at(fake, &[1, 7]);
    assert_eq!(
        h.ok("blockchain.transaction.testmempoolaccept", &[json!([])])
            .await,
        json!([])
    );
    assert_cost(h.cost(), 0.25);
}

/// `get_merkle` above the tip: ElectrumX 1.20's `db error` up to 1.6, 2.0's `height … out
/// of range` at 1.7 (2.0 reads the header first).
#[tokio::test]
async fn get_merkle_above_the_tip_says_so_in_each_version_s_words() {
    let args = [json!(display_hex(&[7; 32])), json!(4_000)];
    let h16 = Harness::new(Fake::with_chain(4));
    assert_eq!(
        h16.bad("blockchain.transaction.get_merkle", &args).await,
        "db error: DBError('block 4,000 not on disk (>3)')"
    );
    let h17 = Harness::at(Fake::with_chain(4), &[1, 7]);
    assert_eq!(
        h17.bad("blockchain.transaction.get_merkle", &args).await,
        "height 4,000 out of range"
    );
    let below = [json!(display_hex(&[7; 32])), json!(3)];
    assert_eq!(
        h17.bad("blockchain.transaction.get_merkle", &below).await,
        format!("tx {} not in block at height 3", display_hex(&[7; 32]))
    );
}
