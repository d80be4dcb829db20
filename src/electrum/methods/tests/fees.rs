//! The fees and mempool family.

use serde_json::json;

use super::{assert_cost, Fake, Harness};
use crate::electrum::version::ProtocolVersion;

#[tokio::test]
async fn estimatefee_asks_the_bucketed_target_once_per_block() {
    let mut fake = Fake::with_chain(2);
    fake.fee_estimates.insert(
        (12, Some("ECONOMICAL".into())),
        json!({"feerate": 0.00021, "blocks": 12}),
    );
    let h = Harness::new(fake);
    let method = "blockchain.estimatefee";
    // 13 blocks is Core's 12-block bucket.
    assert_eq!(
        h.ok(method, &[json!(13), json!("economical")]).await,
        json!(0.00021)
    );
    assert_cost(h.cost(), 0.1 + 2.0);
    assert_eq!(
        h.ok(method, &[json!(12), json!("Economical")]).await,
        json!(0.00021)
    );
    assert_cost(h.cost(), 0.1 + 2.0 + 0.1);
    assert_eq!(h.fake.calls(), ["estimatesmartfee 12 Some(\"ECONOMICAL\")"]);
    // No estimate: -1.
    assert_eq!(h.ok(method, &[json!(1)]).await, json!(-1));
    assert_eq!(h.fake.calls()[1], "estimatesmartfee 1 None");
    // A bad mode is refused before anything is charged.
    let before = h.cost();
    assert_eq!(
        h.bad(method, &[json!(6), json!("fast")]).await,
        "unknown estimatefee mode: FAST"
    );
    assert_cost(h.cost() - before, 0.0);
}

#[tokio::test]
async fn relay_fee_mempool_info_and_histogram() {
    let mut fake = Fake::with_chain(1);
    fake.network_info = json!({"relayfee": 0.00001, "version": 290000});
    fake.mempool_info = json!({
        "size": 3,
        "mempoolminfee": 0.00001,
        "minrelaytxfee": 0.00001,
        "incrementalrelayfee": 0.00002,
    });
    fake.histogram = vec![(12.5, 1000), (3.0, 25_000)];
    let h = Harness::new(fake);
    assert_eq!(
        h.ok("mempool.get_info", &[]).await,
        json!({"mempoolminfee": 0.00001, "minrelaytxfee": 0.00001,
               "incrementalrelayfee": 0.00002})
    );
    assert_eq!(
        h.ok("mempool.get_fee_histogram", &[]).await,
        json!([[12.5, 1000], [3.0, 25000]])
    );
    assert_cost(h.cost(), 2.0);
    // relayfee is served before protocol 1.6 only.
    h.session.set_protocol(ProtocolVersion::min_supported());
    assert_eq!(h.ok("blockchain.relayfee", &[]).await, json!(0.00001));
    assert_cost(h.cost(), 3.0);
}

/// `mempool.recent` (1.7): the last ten arrivals still in the mempool, the newest first,
/// as `{"txid", "fee", "vsize"}`; 1.0 charged.
#[tokio::test]
async fn mempool_recent_lists_the_ten_newest() {
    let mut fake = Fake::with_chain(1);
    fake.arrivals = (1..=12u8)
        .map(|i| crate::mempool::RecentTx {
            txid: super::txid(i),
            fee: u64::from(i) * 100,
            vsize: 110 + u64::from(i),
        })
        .collect();
    let h = Harness::at(fake, &[1, 7]);
    let want: Vec<_> = (3..=12u8)
        .rev()
        .map(|i| {
            json!({"txid": super::display_hex(&super::bytes32(i)),
                   "fee": u64::from(i) * 100, "vsize": 110 + u64::from(i)})
        })
        .collect();
    assert_eq!(h.ok("mempool.recent", &[]).await, json!(want));
    assert_cost(h.cost(), 1.0);
    let empty = Harness::at(Fake::with_chain(1), &[1, 7]);
    assert_eq!(empty.ok("mempool.recent", &[]).await, json!([]));
}
