//! The script-hash family.

use bitcoin::OutPoint;
use serde_json::json;

use super::{
    assert_cost, bytes32, display_hex, status_of_1_2_and_mempool_3_4, txid, Fake, Harness,
};
use crate::electrum::history::HistoryError;
use crate::index::{HashX, Utxo};
use crate::mempool::{MempoolUtxo, TxSummary};

/// The script hash of these tests, in internal order, and as clients write it.
fn sh() -> ([u8; 32], String) {
    let mut sh = [0u8; 32];
    for (i, b) in sh.iter_mut().enumerate() {
        *b = i as u8 + 1;
    }
    (sh, display_hex(&sh))
}

/// Two confirmed transactions (heights 5 and 7) and two in the mempool, the second with
/// unconfirmed inputs.
fn with_history() -> Fake {
    let (sh, _) = sh();
    let mut fake = Fake::with_chain(8);
    fake.histories
        .insert(sh, Ok(vec![(txid(1), 5), (txid(2), 7)]));
    let x = HashX::from_script_hash(&sh);
    fake.mempool_txs.insert(
        x,
        vec![
            TxSummary {
                txid: txid(3),
                fee: 100,
                has_unconfirmed_inputs: false,
            },
            TxSummary {
                txid: txid(4),
                fee: 250,
                has_unconfirmed_inputs: true,
            },
        ],
    );
    fake
}

#[tokio::test]
async fn subscribe_answers_the_electrum_status_hash() {
    let (_, text) = sh();
    let h = Harness::new(with_history());
    let want = status_of_1_2_and_mempool_3_4();
    let got = h
        .ok(
            "blockchain.scripthash.subscribe",
            &[json!(text.to_uppercase())],
        )
        .await;
    assert_eq!(got, json!(want));
    assert_eq!(h.session.sub_count(), 1);
    // History 0.1 + 0.1 (read) + 2 × 0.001; status 0.1 + 4 entries × 68 × 2e-5.
    assert_cost(h.cost(), 0.202 + 0.1 + 4.0 * 68.0 * 0.000_02);

    let before = h.cost();
    assert_eq!(
        h.ok("blockchain.scripthash.unsubscribe", &[json!(text)])
            .await,
        json!(true)
    );
    assert_eq!(
        h.ok("blockchain.scripthash.unsubscribe", &[json!(text)])
            .await,
        json!(false)
    );
    assert_eq!(h.session.sub_count(), 0);
    assert_cost(h.cost() - before, 0.2);
}

#[tokio::test]
async fn no_history_is_a_null_status() {
    let (_, text) = sh();
    let h = Harness::new(Fake::with_chain(1));
    assert_eq!(
        h.ok("blockchain.scripthash.subscribe", &[json!(text)])
            .await,
        json!(null)
    );
}

#[tokio::test]
async fn history_and_mempool_lists() {
    let (_, text) = sh();
    let h = Harness::new(with_history());
    let mempool = json!([
        {"tx_hash": display_hex(&bytes32(3)), "height": 0, "fee": 100},
        {"tx_hash": display_hex(&bytes32(4)), "height": -1, "fee": 250},
    ]);
    let got = h
        .ok("blockchain.scripthash.get_history", &[json!(text)])
        .await;
    let mut want = vec![
        json!({"tx_hash": display_hex(&bytes32(1)), "height": 5}),
        json!({"tx_hash": display_hex(&bytes32(2)), "height": 7}),
    ];
    want.extend(mempool.as_array().cloned().unwrap_or_default());
    assert_eq!(got, json!(want));
    assert_cost(h.cost(), 0.202 + 0.25 + 2.0 / 50.0);

    let before = h.cost();
    let got = h
        .ok("blockchain.scripthash.get_mempool", &[json!(text)])
        .await;
    assert_eq!(got, mempool);
    assert_cost(h.cost() - before, 0.25 + 2.0 / 50.0);
}

#[tokio::test]
async fn balance_and_unspent_outputs() {
    let (sh, text) = sh();
    let x = HashX::from_script_hash(&sh);
    let mut fake = Fake::with_chain(8);
    let utxo = |t: u8, vout: u32, height: u32, value: u64| Utxo {
        txid: txid(t),
        vout,
        height,
        value,
        tx_num: u64::from(t),
    };
    fake.utxos
        .insert(sh, vec![utxo(1, 0, 5, 1000), utxo(2, 1, 7, 2500)]);
    fake.mempool_delta.insert(x, -300);
    fake.mempool_utxos.insert(
        x,
        vec![MempoolUtxo {
            txid: txid(3),
            vout: 0,
            value: 700,
        }],
    );
    // A mempool transaction spends the second confirmed output.
    fake.mempool_spends.insert(OutPoint::new(txid(2), 1));
    let h = Harness::new(fake);
    assert_eq!(
        h.ok("blockchain.scripthash.get_balance", &[json!(text)])
            .await,
        json!({"confirmed": 3500, "unconfirmed": -300})
    );
    assert_cost(h.cost(), 1.0 + 2.0 / 50.0);
    let before = h.cost();
    assert_eq!(
        h.ok("blockchain.scripthash.listunspent", &[json!(text)])
            .await,
        json!([
            {"tx_hash": display_hex(&bytes32(1)), "tx_pos": 0, "height": 5, "value": 1000},
            {"tx_hash": display_hex(&bytes32(3)), "tx_pos": 0, "height": 0, "value": 700},
        ])
    );
    assert_cost(h.cost() - before, 1.0 + 3.0 / 50.0);
}

#[tokio::test]
async fn errors_in_electrumx_words() {
    let (sh, text) = sh();
    let mut fake = Fake::with_chain(1);
    fake.histories.insert(sh, Err(HistoryError::TooLarge));
    let h = Harness::new(fake);
    assert_eq!(
        h.bad("blockchain.scripthash.get_history", &[json!(text)])
            .await,
        "history too large"
    );
    assert_eq!(
        h.bad("blockchain.scripthash.subscribe", &[json!(text)])
            .await,
        "history too large"
    );
    assert_cost(h.cost(), 0.2);
    assert_eq!(
        h.bad("blockchain.scripthash.get_balance", &[json!("zz")])
            .await,
        "zz is not a valid script hash"
    );
    // unsubscribe is charged before its argument is checked; the others are not.
    let before = h.cost();
    assert_eq!(
        h.bad("blockchain.scripthash.unsubscribe", &[json!(5)])
            .await,
        "5 is not a valid script hash"
    );
    assert_cost(h.cost() - before, 0.1);

    let mut broken = Fake::with_chain(1);
    broken.db_failure = Some("disk on fire".into());
    let h = Harness::new(broken);
    for method in [
        "blockchain.scripthash.get_balance",
        "blockchain.scripthash.get_history",
        "blockchain.scripthash.listunspent",
    ] {
        assert_eq!(
            h.bad(method, &[json!(text)]).await,
            "db error: disk on fire"
        );
    }
}
