//! MAX_SEND and MAX_RECV on a long chain (more than 2,016 headers) with a hot script hash.

use std::time::Duration;

use ferrumx_simnode::GenParams;
use ferrumx_testkit::{Fixture, Kind, Shared};

use super::*;

const MAX_SEND: usize = 350_000;

/// The server (MAX_SEND=350,000, MAX_RECV=400,000), what the test knows about its chain, and
/// the expected answers of the hot script hash (in most transactions: its history passes
/// MAX_SEND / 99 entries) and of a normal one.
pub(super) struct Limits {
    pub(super) e: Electrum,
    chain: Chain,
    pub(super) hot: ScriptHash,
    pub(super) hot_want: Want,
    normal_want: Want,
}

impl Fixture for Limits {
    fn at_exit(&self) {
        self.e.at_exit();
    }
    fn dump(&self) {
        self.e.dump();
    }
}

pub(super) static LIMITS: Shared<Limits> = Shared::new(|| {
    let params = GenParams {
        hot_addresses: 1,
        hot_share: 0.9,
        ..GenParams::sized(15, 4_000, 2)
    };
    let max_send = MAX_SEND;
    let mut node = Node::generate(params);
    node.add_traffic(30);
    let e = Electrum::start(
        "methods-limits",
        node,
        &[("MAX_SEND", "350000"), ("MAX_RECV", "400000")],
    );
    let chain = Chain::of(&e);
    let tip = chain.tip;
    assert!(tip > 2016 + 10, "tip {tip}");
    let (hot, hot_want, normal_want) = e.sim.with_node(|n| {
        let view = MempoolView::of(n);
        let hot = *n
            .truth
            .script_hashes()
            .max_by_key(|sh| n.truth.history_len(sh))
            .expect("script hashes");
        let normal = *n
            .truth
            .script_hashes()
            .find(|sh| (2..10).contains(&n.truth.history_len(sh)))
            .expect("a normal script hash");
        assert!(
            n.truth.history_len(&hot) >= max_send / 99,
            "{}",
            n.truth.history_len(&hot)
        );
        eprintln!(
            "limits: tip {}, hot script hash with {} history entries (limit {})",
            n.tip_height(),
            n.truth.history_len(&hot),
            max_send / 99
        );
        (hot, want_for(n, &view, &hot), want_for(n, &view, &normal))
    });
    Limits {
        e,
        chain,
        hot,
        hot_want,
        normal_want,
    }
});

/// ElectrumX's error for an answer over MAX_SEND.
fn response_too_large() -> RpcErr {
    (
        -32600,
        format!("response too large (over {} bytes", grouped(MAX_SEND)),
    )
}

/// A history over MAX_SEND / 99 entries is "too large" for `get_history` and `subscribe`;
/// what does not read the confirmed history still answers, and so does a normal script
/// hash.
#[test]
fn a_history_over_the_limit_is_too_large() {
    let f = LIMITS.get();
    let hot = f.hot;
    let mut c = f.e.session(Kind::Tcp, "1.4");
    let too_large = Err(bad("history too large"));
    let sh = hot.to_string();
    assert_eq!(
        c.call("blockchain.scripthash.get_history", json!([sh])),
        too_large
    );
    assert_eq!(
        c.call("blockchain.scripthash.subscribe", json!([sh])),
        too_large
    );
    // What does not read the confirmed history still answers.
    assert_eq!(
        c.call("blockchain.scripthash.get_mempool", json!([sh])),
        Ok(f.hot_want.mempool.clone())
    );
    assert_eq!(
        c.call("blockchain.scripthash.get_balance", json!([sh])),
        Ok(f.hot_want.balance.clone())
    );
    assert_eq!(
        c.call("blockchain.scripthash.listunspent", json!([sh])),
        Ok(f.hot_want.listunspent.clone())
    );
    check_script_hashes(&mut c, std::slice::from_ref(&f.normal_want));
}

/// Chunks of headers: clipped at 2,016 and at the tip, each under MAX_SEND, with and
/// without proofs, in both shapes.
#[test]
fn header_chunks_are_clipped_and_fit() {
    let f = LIMITS.get();
    let (e, chain, tip) = (&f.e, &f.chain, f.chain.tip);
    let mut c = e.session(Kind::Tcp, "1.4");
    let mut c6 = e.session(Kind::Tcp, "1.6");
    for (client, v16) in [(&mut c, false), (&mut c6, true)] {
        for (start, count) in [(0u64, 5000u64), (1, 2016), (u64::from(tip) - 10, 2016)] {
            let want = headers_answer(chain, start, count, v16);
            assert_eq!(
                client.call("blockchain.block.headers", json!([start, count])),
                Ok(want.clone())
            );
            let n = want["count"].as_u64().expect("count");
            assert_eq!(n, count.min(2016).min(u64::from(tip) + 1 - start));
            let last = (start + n - 1) as u32;
            let mut got = ok(
                client.call("blockchain.block.headers", json!([start, count, tip])),
                "headers with proof",
            );
            chain.check_proof(&got, last, tip);
            let o = got.as_object_mut().expect("object");
            o.shift_remove("branch");
            o.shift_remove("root");
            assert_eq!(got, want);
        }
    }
}

/// A batch's answers count together: the second chunk goes over MAX_SEND.
#[test]
fn a_batch_s_answers_count_together_against_max_send() {
    let f = LIMITS.get();
    let chain = &f.chain;
    let mut c = f.e.session(Kind::Tcp, "1.4");
    let response_too_large = response_too_large();
    c.send_raw(
        &json!([
            {"jsonrpc": "2.0", "id": 1, "method": "blockchain.block.headers", "params": [0, 2016]},
            {"jsonrpc": "2.0", "id": 2, "method": "blockchain.block.headers", "params": [0, 2016]}
        ])
        .to_string(),
    );
    let line = c.recv_raw().expect("batch answer");
    let answers: Vec<Value> = serde_json::from_str(&line).expect("array");
    assert_eq!(answers.len(), 2);
    let want = headers_answer(chain, 0, 2016, false);
    let results: Vec<&Value> = answers
        .iter()
        .filter(|a| a.get("result").is_some())
        .collect();
    let errors: Vec<&Value> = answers
        .iter()
        .filter(|a| a.get("error").is_some())
        .collect();
    assert_eq!(results.len(), 1, "{}", &line[..200]);
    assert_eq!(errors.len(), 1, "{}", &line[..200]);
    assert_eq!(results[0]["result"], want);
    assert_eq!(
        errors[0]["error"],
        json!({"code": response_too_large.0, "message": response_too_large.1})
    );
}

/// A single answer over MAX_SEND: a rejection quoting a 360,000-character transaction.
#[test]
fn a_single_answer_over_max_send_is_refused() {
    let f = LIMITS.get();
    let mut c = f.e.session(Kind::Tcp, "1.4");
    let response_too_large = response_too_large();
    let huge_tx = "00".repeat(180_000);
    assert_eq!(
        c.call("blockchain.transaction.broadcast", json!([huge_tx])),
        Err(response_too_large.clone())
    );
}

/// A message over MAX_RECV is dropped without an answer; the connection goes on, and nothing
/// answers the dropped message later.
#[test]
fn a_message_over_max_recv_is_dropped_and_the_session_goes_on() {
    let f = LIMITS.get();
    let mut c = f.e.session(Kind::Tcp, "1.4");
    let oversized =
        json!({"jsonrpc": "2.0", "id": 4242, "method": "blockchain.transaction.broadcast",
                           "params": ["00".repeat(230_000)]})
        .to_string();
    assert!(oversized.len() > 400_000);
    c.send_raw(&oversized);
    c.send_raw(r#"{"jsonrpc":"2.0","id":5001,"method":"server.ping","params":[]}"#);
    let garbage = json!({"jsonrpc": "2.0", "id": 5002, "method": "blockchain.transaction.broadcast",
                         "params": ["00"]});
    c.send_raw(&garbage.to_string());
    let mut ids = Vec::new();
    while ids.len() < 2 {
        let m = c.recv().expect("answers");
        ids.push(m["id"].clone());
    }
    ids.sort_by_key(|v| v.as_i64());
    assert_eq!(ids, vec![json!(5001), json!(5002)]);
    // Nor later: the next message is a final ping's answer, and nothing follows it.
    let fence = c.request("server.ping", json!([]));
    let m = c.recv().expect("the final ping's answer");
    assert_eq!(
        m["id"],
        json!(fence),
        "only the final ping is answered: {m}"
    );
    assert_eq!(m["result"], Value::Null, "{m}");
    assert!(c.notification(Duration::from_millis(300)).is_none());
}
