//! The outpoint family (protocol 1.7): each status shape, the argument checks with ElectrumX
//! 2.0.0's messages, the costs, the subscriptions.

use bitcoin::OutPoint;
use serde_json::{json, Value};

use super::{assert_cost, bytes32, display_hex, txid, Fake, Harness};
use crate::electrum::version::ProtocolVersion;
use crate::index::{OutpointStatus, Spender};
use crate::mempool::MempoolTxo;

const GET: &str = "blockchain.outpoint.get_status";
const SUB: &str = "blockchain.outpoint.subscribe";
const UNSUB: &str = "blockchain.outpoint.unsubscribe";

/// A session at protocol 1.7 over `fake`.
fn at_1_7(fake: Fake) -> Harness {
    Harness::at(fake, &[1, 7])
}

fn tx(b: u8) -> String {
    display_hex(&bytes32(b))
}

/// Outpoints of these tests: 1:0 unspent at 5; 1:1 spent at 7 by 2; 1:2 funded at 5 and
/// spent in the mempool by 3 (with an unconfirmed input); 4:0 funded in the mempool by a
/// transaction without unconfirmed inputs; 5:0 funded in the mempool with an unconfirmed
/// input and spent there by 6.
fn fake() -> Fake {
    let mut f = Fake::with_chain(8);
    let funded = OutpointStatus {
        funder_height: 5,
        funder_tx_num: 50,
        spender: None,
    };
    f.outpoints.insert(OutPoint::new(txid(1), 0), funded);
    f.outpoints.insert(
        OutPoint::new(txid(1), 1),
        OutpointStatus {
            spender: Some(Spender {
                txid: txid(2),
                height: 7,
                tx_num: 70,
            }),
            ..funded
        },
    );
    f.outpoints.insert(OutPoint::new(txid(1), 2), funded);
    f.mempool_txos.insert(
        OutPoint::new(txid(1), 2),
        MempoolTxo {
            funder_height: None,
            spender: Some((txid(3), -1)),
        },
    );
    f.mempool_txos.insert(
        OutPoint::new(txid(4), 0),
        MempoolTxo {
            funder_height: Some(0),
            spender: None,
        },
    );
    f.mempool_txos.insert(
        OutPoint::new(txid(5), 0),
        MempoolTxo {
            funder_height: Some(-1),
            spender: Some((txid(6), -1)),
        },
    );
    // A confirmed spend is never overlaid, even if the mempool says otherwise.
    f.mempool_txos.insert(
        OutPoint::new(txid(1), 1),
        MempoolTxo {
            funder_height: Some(0),
            spender: Some((txid(9), 0)),
        },
    );
    f
}

async fn status(h: &Harness, b: u8, vout: u32) -> Value {
    h.ok(GET, &[json!(tx(b)), json!(vout), json!("")]).await
}

#[tokio::test]
async fn each_status_shape() {
    let h = at_1_7(fake());
    assert_eq!(status(&h, 1, 0).await, json!({"funder_height": 5}));
    assert_eq!(
        status(&h, 1, 1).await,
        json!({"funder_height": 5, "spender_txhash": tx(2), "spender_height": 7})
    );
    assert_eq!(
        status(&h, 1, 2).await,
        json!({"funder_height": 5, "spender_txhash": tx(3), "spender_height": -1})
    );
    assert_eq!(status(&h, 4, 0).await, json!({"funder_height": 0}));
    assert_eq!(
        status(&h, 5, 0).await,
        json!({"funder_height": -1, "spender_txhash": tx(6), "spender_height": -1})
    );
    // Unknown, out of range: nothing.
    assert_eq!(status(&h, 8, 0).await, json!({}));
    assert_eq!(status(&h, 1, 3).await, json!({}));
    let huge = h
        .ok(GET, &[json!(tx(1)), json!(1u64 << 40), json!("00")])
        .await;
    assert_eq!(huge, json!({}));
    // Key order as ElectrumX's dict.
    let text = serde_json::to_string(&status(&h, 1, 1).await).unwrap();
    assert!(
        text.starts_with(r#"{"funder_height":5,"spender_txhash":"#),
        "{text}"
    );
    assert!(
        h.session.outpoints.is_empty(),
        "get_status does not subscribe"
    );
}

#[tokio::test]
async fn costs_are_electrumx_2_without_its_cache() {
    let h = at_1_7(fake());
    // Spent in a block: 0.1, getrawtransaction 1.0, gettxspendingprevout 1.0; no mempool.
    let before = h.cost();
    status(&h, 1, 1).await;
    assert_cost(h.cost() - before, 2.1);
    // Funded in the chain, unspent there: the same and the mempool (0.1).
    let before = h.cost();
    status(&h, 1, 0).await;
    assert_cost(h.cost() - before, 2.2);
    // Not in the chain: no spender look-up.
    let before = h.cost();
    status(&h, 4, 0).await;
    assert_cost(h.cost() - before, 1.2);
    // An invalid call costs nothing; unsubscribe 0.1 once its arguments passed.
    let before = h.cost();
    h.bad(GET, &[json!(tx(1)), json!(-1), json!("")]).await;
    h.bad(UNSUB, &[json!("zz"), json!(0)]).await;
    assert_cost(h.cost() - before, 0.0);
    h.ok(UNSUB, &[json!(tx(1)), json!(0)]).await;
    assert_cost(h.cost() - before, 0.1);
}

#[tokio::test]
async fn checks_and_messages() {
    let h = at_1_7(fake());
    assert_eq!(
        h.bad(GET, &[json!("xyz"), json!(0), json!("")]).await,
        "xyz should be a transaction hash"
    );
    assert_eq!(
        h.bad(SUB, &[json!(tx(1)), json!("a"), json!("")]).await,
        "a should be a non-negative integer"
    );
    assert_eq!(
        h.bad(SUB, &[json!(tx(1)), json!(-2), json!("zz")]).await,
        "-2 should be a non-negative integer"
    );
    assert_eq!(
        h.bad(SUB, &[json!(tx(1)), json!(0), json!("abc")]).await,
        "abc should be a hex string"
    );
    assert_eq!(
        h.bad(SUB, &[json!(tx(1)), json!(0), json!(5)]).await,
        "5 should be a hex string"
    );
    assert_eq!(
        h.bad(UNSUB, &[json!(5), json!(0)]).await,
        "5 should be a transaction hash"
    );
    // The index failing: a db error, nothing subscribed.
    let mut f = fake();
    f.db_failure = Some("boom".into());
    let h = at_1_7(f);
    assert_eq!(
        h.bad(SUB, &[json!(tx(1)), json!(0), json!("")]).await,
        "db error: boom"
    );
    assert!(h.session.outpoints.is_empty());
}

#[tokio::test]
async fn subscriptions_are_kept_even_for_outpoints_not_there_yet() {
    let h = at_1_7(fake());
    let got = h.ok(SUB, &[json!(tx(8)), json!(3), json!("0014ab")]).await;
    assert_eq!(got, json!({}));
    let got = h.ok(SUB, &[json!(tx(5)), json!(0), json!("")]).await;
    assert_eq!(got["funder_height"], json!(-1));
    assert_eq!(h.session.outpoints.len(), 2);
    // Counted with the script-hash subscriptions.
    assert_eq!(h.session.sub_count(), 2);
    assert_eq!(h.ok(UNSUB, &[json!(tx(8)), json!(3)]).await, json!(true));
    assert_eq!(h.ok(UNSUB, &[json!(tx(8)), json!(3)]).await, json!(false));
    assert_eq!(h.session.sub_count(), 1);
}

#[tokio::test]
async fn served_at_1_7_only() {
    use crate::electrum::methods::Method;
    for name in [GET, SUB, UNSUB] {
        assert_eq!(
            Method::lookup(name, &ProtocolVersion::new(&[1, 6, 99])),
            None
        );
        assert!(Method::lookup(name, &ProtocolVersion::new(&[1, 7])).is_some());
    }
}
