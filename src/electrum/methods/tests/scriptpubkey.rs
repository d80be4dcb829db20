//! The scriptPubKey family (protocol 1.7), and what changed for histories at 1.7.

use bitcoin::hashes::{sha256, Hash};
use bitcoin::OutPoint;
use serde_json::json;

use super::{
    assert_cost, bytes32, config, display_hex, status_of_1_2_and_mempool_3_4, txid, Fake, Harness,
};
use crate::electrum::history::HistoryError;
use crate::index::{HashX, Utxo};
use crate::mempool::{MempoolUtxo, TxSummary};

/// A P2WPKH scriptPubKey (hex), its script hash in internal order (`sha256` of the script)
/// and as ElectrumX 2.0 names it in notifications (reversed, lowercase hex).
fn spk() -> (String, [u8; 32], String) {
    let script: Vec<u8> = [0x00, 0x14].into_iter().chain([0x5a; 20]).collect();
    let hex: String = script.iter().map(|b| format!("{b:02x}")).collect();
    let sh = sha256::Hash::hash(&script).to_byte_array();
    (hex, sh, display_hex(&sh))
}

/// Two confirmed transactions (heights 5 and 7), two in the mempool (the second with
/// unconfirmed inputs), a confirmed and a mempool output, a mempool spend of another.
fn with_history() -> Fake {
    let (_, sh, _) = spk();
    let x = HashX::from_script_hash(&sh);
    let mut fake = Fake::with_chain(8);
    fake.histories
        .insert(sh, Ok(vec![(txid(1), 5), (txid(2), 7)]));
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
    fake.mempool_spends.insert(OutPoint::new(txid(2), 1));
    fake
}

/// ElectrumX 2.0's `phandle_scriptpubkey_*`: the script-hash answers, the lists wrapped in
/// `{"history": ...}` and `{"utxos": ...}`, the same costs.
#[tokio::test]
async fn answers_are_the_script_hash_ones_in_1_7_shapes() {
    let (hex, _, _) = spk();
    let h = Harness::at(with_history(), &[1, 7]);
    assert_eq!(
        h.ok("blockchain.scriptpubkey.get_balance", &[json!(hex)])
            .await,
        json!({"confirmed": 3500, "unconfirmed": -300})
    );
    assert_cost(h.cost(), 1.0 + 2.0 / 50.0);

    let mempool = vec![
        json!({"tx_hash": display_hex(&bytes32(3)), "height": 0, "fee": 100}),
        json!({"tx_hash": display_hex(&bytes32(4)), "height": -1, "fee": 250}),
    ];
    let mut history = vec![
        json!({"tx_hash": display_hex(&bytes32(1)), "height": 5}),
        json!({"tx_hash": display_hex(&bytes32(2)), "height": 7}),
    ];
    history.extend(mempool.iter().cloned());
    let before = h.cost();
    assert_eq!(
        h.ok("blockchain.scriptpubkey.get_history", &[json!(hex)])
            .await,
        json!({"history": history})
    );
    assert_cost(h.cost() - before, 0.202 + 0.25 + 2.0 / 50.0);
    let before = h.cost();
    assert_eq!(
        h.ok("blockchain.scriptpubkey.get_mempool", &[json!(hex)])
            .await,
        json!({"history": mempool})
    );
    assert_cost(h.cost() - before, 0.25 + 2.0 / 50.0);
    let before = h.cost();
    assert_eq!(
        h.ok("blockchain.scriptpubkey.listunspent", &[json!(hex)])
            .await,
        json!({"utxos": [
            {"tx_hash": display_hex(&bytes32(1)), "tx_pos": 0, "height": 5, "value": 1000},
            {"tx_hash": display_hex(&bytes32(3)), "tx_pos": 0, "height": 0, "value": 700},
        ]})
    );
    assert_cost(h.cost() - before, 1.0 + 3.0 / 50.0);
}

#[tokio::test]
async fn subscribe_answers_the_status_and_notifies_by_script_hash() {
    let (hex, _, named) = spk();
    let h = Harness::at(with_history(), &[1, 7]);
    let want = status_of_1_2_and_mempool_3_4();
    // Upper-case hex is a valid scriptPubKey too; the subscription is named by its script
    // hash in lowercase whatever the spelling.
    let got = h
        .ok(
            "blockchain.scriptpubkey.subscribe",
            &[json!(hex.to_uppercase())],
        )
        .await;
    assert_eq!(got, json!(want));
    assert_eq!(h.session.sub_count(), 1);
    let x = HashX::from_script_hash(&spk().1);
    let changed = h.session.update_status(&x, Ok(None), false);
    assert_eq!(changed, Some((named, None)));
    assert_cost(h.cost(), 0.202 + 0.1 + 4.0 * 68.0 * 0.000_02);

    // Unsubscribe: 0.1, charged after the scriptPubKey is checked.
    let before = h.cost();
    assert_eq!(
        h.ok("blockchain.scriptpubkey.unsubscribe", &[json!(hex)])
            .await,
        json!(true)
    );
    assert_eq!(
        h.ok("blockchain.scriptpubkey.unsubscribe", &[json!(hex)])
            .await,
        json!(false)
    );
    assert_cost(h.cost() - before, 0.2);
    let before = h.cost();
    assert_eq!(
        h.bad("blockchain.scriptpubkey.unsubscribe", &[json!("0")])
            .await,
        "0 should be a hex string"
    );
    assert_cost(h.cost() - before, 0.0);
}

/// `spk_to_scripthash`'s `assert_hex_str`: an even number of hex digits (none is a valid,
/// empty script), no white space, a string.
#[tokio::test]
async fn script_pubkeys_are_checked_as_electrumx_2_0_checks_them() {
    let h = Harness::at(Fake::with_chain(1), &[1, 7]);
    for (arg, message) in [
        (json!("abc"), "abc should be a hex string"),
        (json!("00 14"), "00 14 should be a hex string"),
        (json!("zz"), "zz should be a hex string"),
        (json!(20), "20 should be a hex string"),
        (json!(null), "None should be a hex string"),
        (json!(["00"]), "['00'] should be a hex string"),
    ] {
        for method in [
            "blockchain.scriptpubkey.get_balance",
            "blockchain.scriptpubkey.get_history",
            "blockchain.scriptpubkey.get_mempool",
            "blockchain.scriptpubkey.listunspent",
            "blockchain.scriptpubkey.subscribe",
        ] {
            assert_eq!(
                h.bad(method, std::slice::from_ref(&arg)).await,
                message,
                "{method}"
            );
        }
    }
    assert_cost(h.cost(), 0.0);
    // The empty script: no history.
    assert_eq!(
        h.ok("blockchain.scriptpubkey.get_history", &[json!("")])
            .await,
        json!({"history": []})
    );
}

/// At 1.7 a history too large is ElectrumX 2.0's error 10001, at its limit
/// (`(MAX_SEND - 100) // 99`); up to 1.6, 1.20's (code 1, `MAX_SEND // 99`).
#[tokio::test]
async fn history_too_large_is_code_10001_at_its_limit() {
    let (hex, sh, _) = spk();
    let mut fake = Fake::with_chain(1);
    fake.histories.insert(sh, Err(HistoryError::TooLarge));
    let h = Harness::at(fake, &[1, 7]);
    for method in [
        "blockchain.scriptpubkey.get_history",
        "blockchain.scriptpubkey.subscribe",
    ] {
        let got = h.call(method, &[json!(hex)]).await;
        assert_eq!(got, Err((10_001, "history too large".into(), false)));
    }
    // MAX_SEND 350,000 (the least): 1.20 refuses 3,535 entries, 2.0 already 3,534
    // ((350,000 - 100) // 99).
    let entries = |n: usize| (0..n).map(|i| (txid(i as u8), 1)).collect::<Vec<_>>();
    let limited = |n: usize| {
        let mut fake = Fake::with_chain(1);
        fake.config = config(&[("MAX_SEND", "350000")]);
        fake.histories.insert(sh, Ok(entries(n)));
        fake
    };
    let h17 = Harness::at(limited(3534), &[1, 7]);
    let got = h17
        .call("blockchain.scriptpubkey.get_history", &[json!(hex)])
        .await;
    assert_eq!(got, Err((10_001, "history too large".into(), false)));
    let h17 = Harness::at(limited(3533), &[1, 7]);
    let got = h17
        .ok("blockchain.scriptpubkey.get_history", &[json!(hex)])
        .await;
    assert_eq!(got["history"].as_array().map(Vec::len), Some(3533));
    let h16 = Harness::new(limited(3534));
    let sh_text = display_hex(&sh);
    let got = h16
        .ok("blockchain.scripthash.get_history", &[json!(sh_text)])
        .await;
    assert_eq!(got.as_array().map(Vec::len), Some(3534));
}
