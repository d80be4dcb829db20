//! The headers family.

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::hashes::Hash;
use serde_json::json;

use super::{assert_cost, display_hex, sha256d_pair, Fake, Harness};
use crate::electrum::version::ProtocolVersion;

/// The merkle branch of `leaves[index]` and the root, computed the plain way: pair
/// neighbours level by level, an odd last node paired with itself.
fn branch_and_root(leaves: &[[u8; 32]], mut index: usize) -> (Vec<[u8; 32]>, [u8; 32]) {
    let mut level = leaves.to_vec();
    let mut branch = Vec::new();
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            level.push(level[level.len() - 1]);
        }
        branch.push(level[index ^ 1]);
        level = level
            .chunks(2)
            .map(|pair| sha256d_pair(&pair[0], &pair[1]))
            .collect();
        index /= 2;
    }
    (branch, level[0])
}

#[tokio::test]
async fn a_header_alone_and_with_its_proof() {
    let fake = Fake::with_chain(6);
    let hashes: Vec<[u8; 32]> = fake
        .headers
        .iter()
        .map(|h| h.block_hash().to_byte_array())
        .collect();
    let hex2 = serialize_hex(&fake.headers[2]);
    let h = Harness::new(fake);
    assert_eq!(
        h.ok("blockchain.block.header", &[json!(2)]).await,
        json!(hex2)
    );
    assert_cost(h.cost(), 0.25);

    let (branch, root) = branch_and_root(&hashes, 2);
    let got = h.ok("blockchain.block.header", &[json!(2), json!(5)]).await;
    assert_eq!(
        got,
        json!({
            "header": hex2,
            "branch": branch.iter().map(display_hex).collect::<Vec<_>>(),
            "root": display_hex(&root),
        })
    );
    assert_cost(h.cost(), 0.25 + 1.25);
}

#[tokio::test]
async fn header_errors_cost_nothing_when_electrumx_charges_nothing() {
    let h = Harness::new(Fake::with_chain(6));
    assert_eq!(
        h.bad("blockchain.block.header", &[json!(6)]).await,
        "height 6 out of range"
    );
    assert_eq!(
        h.bad("blockchain.block.header", &[json!("1_000_000_000_000")])
            .await,
        "height 1,000,000,000,000 out of range"
    );
    assert_eq!(
        h.bad("blockchain.block.header", &[json!(-1)]).await,
        "-1 should be a non-negative integer"
    );
    assert_cost(h.cost(), 0.0);
    assert_eq!(
        h.bad("blockchain.block.header", &[json!(3), json!(2)])
            .await,
        "require header height 3 <= cp_height 2 <= chain height 5"
    );
}

#[tokio::test]
async fn headers_in_each_protocols_shape() {
    let fake = Fake::with_chain(6);
    let hexes: Vec<String> = fake.headers[4..].iter().map(serialize_hex).collect();
    let h = Harness::new(fake);
    // Three asked from height 4: the two there are.
    let got = h
        .ok("blockchain.block.headers", &[json!(4), json!(3)])
        .await;
    assert_eq!(got, json!({"count": 2, "max": 2016, "headers": hexes}));
    assert_cost(h.cost(), 3.0 / 50.0);

    h.session.set_protocol(ProtocolVersion::min_supported());
    let got = h
        .ok("blockchain.block.headers", &[json!(4), json!(3)])
        .await;
    assert_eq!(got, json!({"hex": hexes.concat(), "count": 2, "max": 2016}));

    // Above the tip: none. The cost follows the count asked, not the count sent.
    let before = h.cost();
    let got = h
        .ok("blockchain.block.headers", &[json!(7), json!(5000)])
        .await;
    assert_eq!(got, json!({"hex": "", "count": 0, "max": 2016}));
    assert_cost(h.cost() - before, 100.0);
}

#[tokio::test]
async fn headers_with_a_proof_of_the_last() {
    let fake = Fake::with_chain(6);
    let hashes: Vec<[u8; 32]> = fake
        .headers
        .iter()
        .map(|h| h.block_hash().to_byte_array())
        .collect();
    let h = Harness::new(fake);
    let got = h
        .ok("blockchain.block.headers", &[json!(1), json!(2), json!(4)])
        .await;
    // The proof is of the last header sent (height 2) against blocks 0..=4.
    let (branch, root) = branch_and_root(&hashes[..5], 2);
    assert_eq!(got["count"], 2);
    assert_eq!(
        got["branch"],
        json!(branch.iter().map(display_hex).collect::<Vec<_>>())
    );
    assert_eq!(got["root"], json!(display_hex(&root)));
    assert_cost(h.cost(), 2.0 / 50.0 + 1.0);
}

#[tokio::test]
async fn headers_subscribe_answers_the_notified_tip_and_subscribes() {
    let mut fake = Fake::with_chain(3);
    fake.notified_tip = json!({"hex": "00", "height": 2});
    let h = Harness::new(fake);
    assert!(!h.session.headers_subscribed());
    assert_eq!(
        h.ok("blockchain.headers.subscribe", &[]).await,
        json!({"hex": "00", "height": 2})
    );
    assert!(h.session.headers_subscribed());
    assert_cost(h.cost(), 0.25);
}
