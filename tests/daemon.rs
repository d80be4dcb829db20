//! The bitcoind client against the stand-in (`ferrumx-simnode`) on 127.0.0.1: answers
//! compared with the node's own data, batching, warm-up, outages, failover, cookie auth,
//! broadcast errors, garbage answers and shutdown. Every call is bounded in time.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bitcoin::consensus::serialize;
use bitcoin::hashes::Hash as _;
use bitcoin::hex::DisplayHex;
use bitcoin::{BlockHash, Network, Txid};
use ferrumx::config::{DaemonAuth, DaemonEndpoint, Secret};
use ferrumx::daemon::{codes, Daemon, DaemonOptions, Error, TipStatus};
use ferrumx_simnode::{chainfile, GenParams, Node, SimNode, SimNodeOptions};
use ferrumx_testkit::TempDir;
use tokio_util::sync::CancellationToken;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Longest any test step may take.
const LIMIT: Duration = Duration::from_secs(60);

static CHAIN: OnceLock<Vec<u8>> = OnceLock::new();

/// A fresh node holding the 150-block fixture chain (generated once per test binary).
fn fixture() -> Node {
    let bytes = CHAIN.get_or_init(|| chainfile::encode(&Node::generate(GenParams::fixture(7))));
    chainfile::decode(bytes).expect("fixture decodes")
}

fn serve() -> SimNode {
    SimNode::spawn(fixture(), SimNodeOptions::default()).expect("simnode starts")
}

fn endpoint(sim: &SimNode) -> DaemonEndpoint {
    let (user, pass) = sim.user_pass().expect("password auth");
    DaemonEndpoint {
        host: "127.0.0.1".to_string(),
        port: sim.addr().port(),
        auth: DaemonAuth::UserPass {
            user,
            password: Secret(pass),
        },
    }
}

/// Fast retries for tests.
fn fast() -> DaemonOptions {
    DaemonOptions {
        retry_base: Duration::from_millis(50),
        retry_cap: Duration::from_millis(200),
        timeout: Duration::from_secs(20),
        ..DaemonOptions::default()
    }
}

fn daemon(endpoints: Vec<DaemonEndpoint>) -> Daemon {
    Daemon::with_options(endpoints, Network::Regtest, fast())
}

/// Runs `f` on a current-thread runtime (so the test thread's log capture sees the
/// client's logs), within [`LIMIT`]. The stand-in must be driven from outside: its
/// `go_down`/`come_up`/drop block on its own runtime.
fn run<F: Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let out = rt.block_on(async { tokio::time::timeout(LIMIT, f).await.expect("timed out") });
    // Do not wait for blocking exchanges abandoned at shutdown.
    rt.shutdown_background();
    out
}

/// Log lines (level, message) of the `ferrumx::daemon` module on this thread.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<(Level, String)>>>);

impl Logs {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let subscriber = tracing_subscriber::registry().with(self.clone());
        tracing::subscriber::set_default(subscriber)
    }

    fn at(&self, level: Level) -> Vec<String> {
        let lines = self.0.lock().expect("logs");
        lines
            .iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, m)| m.clone())
            .collect()
    }

    fn all(&self) -> String {
        let lines = self.0.lock().expect("logs");
        lines
            .iter()
            .map(|(_, m)| m.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for Logs {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target().starts_with("ferrumx::daemon") {
            let mut message = Message(String::new());
            event.record(&mut message);
            let level = *event.metadata().level();
            self.0.lock().expect("logs").push((level, message.0));
        }
    }
}

/// The daemon's message of an `Error::Rpc`.
fn rpc_message(err: &Error) -> &str {
    match err {
        Error::Rpc { message, .. } => message,
        other => panic!("not an RPC error: {other:?}"),
    }
}

/// A client whose shutdown token cancels itself after `after`, once polled in a runtime.
fn cancelled_after(sim: &SimNode, after: Duration) -> (Daemon, impl Future<Output = ()>) {
    let token = CancellationToken::new();
    let options = DaemonOptions {
        shutdown: token.clone(),
        ..fast()
    };
    let d = Daemon::with_options(vec![endpoint(sim)], Network::Regtest, options);
    let cancel = async move {
        tokio::time::sleep(after).await;
        token.cancel();
    };
    (d, cancel)
}

/// Awaits `f`, checking that it took exactly one HTTP request.
async fn in_one_request<T>(sim: &SimNode, f: impl Future<Output = T>) -> T {
    let served = sim.control().requests_served();
    let out = f.await;
    let after = sim.control().requests_served();
    assert_eq!(after, served + 1, "one HTTP request");
    out
}

#[test]
fn chain_answers_match_the_node() {
    let sim = serve();
    let d = daemon(vec![endpoint(&sim)]);
    let (tip, hashes, raws) = sim.with_node(|n| {
        let tip = n.tip_height();
        let hashes: Vec<BlockHash> = (0..=tip).map(|h| n.hash_at(h).expect("hash")).collect();
        let raws: Vec<Vec<u8>> = hashes
            .iter()
            .map(|h| n.block(h).expect("b").raw.clone())
            .collect();
        (tip, hashes, raws)
    });
    assert_eq!(tip, 150);
    run(async {
        d.check_network().await.expect("regtest genesis");
        assert_eq!(d.block_count().await.unwrap(), tip);
        assert_eq!(d.best_block_hash().await.unwrap(), hashes[tip as usize]);
        assert_eq!(d.block_hash(101).await.unwrap(), hashes[101]);

        let got = in_one_request(&sim, d.block_hashes(0, tip + 1))
            .await
            .unwrap();
        assert_eq!(got, hashes);
        assert_eq!(d.block_hashes(140, 5).await.unwrap(), hashes[140..145]);
        assert!(d.block_hashes(7, 0).await.unwrap().is_empty());

        // The first block fetch finds out that REST is off (one 404); from then on, blocks
        // come by JSON-RPC in one batch request.
        assert_eq!(d.raw_blocks(&hashes[..1]).await.unwrap(), raws[..1]);
        let blocks = in_one_request(&sim, d.raw_blocks(&hashes)).await.unwrap();
        assert_eq!(blocks, raws);
        assert_eq!(d.raw_block(hashes[120]).await.unwrap(), raws[120]);

        let header = d.block_header(hashes[150]).await.unwrap();
        assert_eq!(header.block_hash(), hashes[150]);
        assert_eq!(header.prev_blockhash, hashes[149]);

        let err = d.block_hashes(tip - 1, 3).await.unwrap_err();
        assert_eq!(err.rpc_code(), Some(codes::INVALID_PARAMETER), "{err}");
        let err = d.block_hash(tip + 1).await.unwrap_err();
        assert_eq!(err.rpc_code(), Some(-8), "{err}");
        let unknown = BlockHash::from_byte_array([7; 32]);
        assert!(d.raw_block(unknown).await.unwrap_err().is_not_found());
        assert!(d
            .raw_blocks(&[hashes[3], unknown])
            .await
            .unwrap_err()
            .is_not_found());
        let err = d.block_header(unknown).await.unwrap_err();
        assert!(err.is_not_found(), "{err}");

        let tips = d.chain_tips().await.unwrap();
        let active = tips
            .iter()
            .find(|t| t.status == TipStatus::Active)
            .expect("active tip");
        assert_eq!(
            (active.height, active.hash, active.branch_len),
            (tip, hashes[150], 0)
        );

        let info = d.network_info().await.unwrap();
        assert_eq!(info.version, 290000);
        assert_eq!(info.subversion, "/Satoshi:29.0.0/");
        assert_eq!(info.relay_fee.to_sat(), 1000);
        let fee = d.estimate_smart_fee(2, None).await.unwrap();
        assert!(fee.fee_rate.is_some() || !fee.errors.is_empty());
        let err = d.estimate_smart_fee(2, Some("cheap")).await.unwrap_err();
        assert_eq!(err.rpc_code(), Some(-8), "{err}");
    });
    assert!(d.stats().requests > 0);
    assert_eq!((d.stats().retries, d.stats().outages), (0, 0));
}

#[test]
fn transactions_and_mempool_match_the_node() {
    let sim = serve();
    let d = daemon(vec![endpoint(&sim)]);
    // Confirmed transactions with their block: works without -txindex.
    let confirmed: Vec<(Txid, BlockHash, Vec<u8>)> = sim.with_node(|n| {
        n.txindex = false;
        let block = n.block_at(140).expect("block");
        (0..block.txids.len().min(5))
            .map(|i| {
                (
                    block.txids[i],
                    block.hash,
                    serialize(&block.tx(i).expect("tx")),
                )
            })
            .collect()
    });
    let added = sim.with_node(|n| n.add_traffic(10));
    assert!(added.len() >= 5, "traffic: {added:?}");
    let (pool, pool_bytes): (BTreeSet<Txid>, Vec<(Txid, Vec<u8>)>) = sim.with_node(|n| {
        let txids = n.mempool.sorted_txids();
        let bytes = txids
            .iter()
            .map(|t| (*t, serialize(&n.mempool.get(t).expect("entry").tx)))
            .collect();
        (txids.into_iter().collect(), bytes)
    });
    run(async {
        for (txid, block, bytes) in &confirmed {
            assert_eq!(
                &d.raw_transaction(*txid, Some(*block)).await.unwrap(),
                bytes
            );
            let v = d
                .raw_transaction_verbose(*txid, Some(*block))
                .await
                .unwrap();
            assert_eq!(v["txid"], txid.to_string());
            assert_eq!(v["blockhash"], block.to_string());
            let err = d.raw_transaction(*txid, None).await.unwrap_err();
            assert!(err.is_not_found(), "no txindex: {err}");
        }

        let txids = d.mempool_txids().await.unwrap();
        assert_eq!(txids.iter().copied().collect::<BTreeSet<_>>(), pool);
        let info = d.mempool_info().await.unwrap();
        assert_eq!(info.size, pool.len() as u64);
        assert!(info.loaded && info.bytes > 0);

        let mut ask: Vec<Txid> = pool_bytes.iter().map(|(t, _)| *t).collect();
        let gone = Txid::from_byte_array([9; 32]);
        ask.insert(1, gone);
        let got = in_one_request(&sim, d.raw_transactions(&ask))
            .await
            .unwrap();
        assert_eq!(got.len(), ask.len());
        assert_eq!(got[1], None, "unknown txid → None");
        let mut expected: Vec<Option<Vec<u8>>> =
            pool_bytes.iter().map(|(_, b)| Some(b.clone())).collect();
        expected.insert(1, None);
        assert_eq!(got, expected);
        let (first, bytes) = &pool_bytes[0];
        assert_eq!(&d.raw_transaction(*first, None).await.unwrap(), bytes);
    });
}

#[test]
fn broadcast_passes_the_daemons_verdict_on() {
    let sim = serve();
    let d = daemon(vec![endpoint(&sim)]);
    let (tx, _fee) = sim.with_node(|n| n.make_tx()).expect("a wallet tx");
    let hex = serialize(&tx).to_lower_hex_string();
    // The same inputs, one satoshi more fee: a replacement paying too little.
    let mut double = tx.clone();
    double.output[0].value -= bitcoin::Amount::from_sat(1);
    let double_hex = serialize(&double).to_lower_hex_string();
    let (package_tx, _) = sim.with_node(|n| n.make_tx()).expect("another wallet tx");
    let package_hex = serialize(&package_tx).to_lower_hex_string();
    run(async {
        let err = d.broadcast("00zz").await.unwrap_err();
        assert_eq!(err.rpc_code(), Some(codes::DESERIALIZATION_ERROR), "{err}");
        let message = rpc_message(&err);
        assert_eq!(
            message,
            "TX decode failed. Make sure the tx has at least one input."
        );

        assert_eq!(d.broadcast(&hex).await.unwrap(), tx.compute_txid());
        assert_eq!(
            d.broadcast(&hex).await.unwrap(),
            tx.compute_txid(),
            "idempotent"
        );
        let err = d.broadcast(&double_hex).await.unwrap_err();
        assert_eq!(err.rpc_code(), Some(codes::VERIFY_REJECTED), "{err}");
        let message = rpc_message(&err);
        assert!(message.contains("insufficient fee"), "{message}");

        let answer = d.submit_package(&[package_hex]).await.unwrap();
        assert_eq!(answer["package_msg"], "success", "{answer}");
    });
    assert!(sim.with_node(|n| n.mempool.contains(&tx.compute_txid())));
    assert_eq!(d.stats().retries, 0, "answers are never retried");
}

#[test]
fn wrong_network_is_reported() {
    let sim = serve();
    let d = Daemon::with_options(vec![endpoint(&sim)], Network::Bitcoin, fast());
    let err = run(d.check_network()).unwrap_err();
    let expected = bitcoin::constants::genesis_block(Network::Bitcoin).block_hash();
    let got = sim.with_node(|n| n.hash_at(0)).expect("genesis");
    assert_eq!(
        err,
        Error::WrongNetwork {
            network: Network::Bitcoin,
            expected,
            got
        }
    );
    assert!(err.to_string().contains("wrong network"), "{err}");
}

#[test]
fn warm_up_is_retried_until_over() {
    let sim = serve();
    let d = daemon(vec![endpoint(&sim)]);
    let logs = Logs::default();
    let _guard = logs.install();
    sim.control().set_warmup(Some("Loading block index…"));
    let control = sim.control().clone();
    let ender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        control.set_warmup(None);
    });
    let started = Instant::now();
    assert_eq!(run(d.block_count()).unwrap(), 150);
    assert!(started.elapsed() >= Duration::from_millis(900));
    ender.join().expect("thread");
    let stats = d.stats();
    assert!(stats.retries >= 3, "{stats:?}");
    assert_eq!(stats.outages, 1);
    let warns = logs.at(Level::WARN);
    assert_eq!(warns.len(), 1, "{warns:?}");
    assert!(
        warns[0].contains("warming up: Loading block index…"),
        "{warns:?}"
    );
    assert_eq!(logs.at(Level::INFO).len(), 1, "{}", logs.all());
}

#[test]
fn outage_mid_call_is_ridden_out_with_one_warning() {
    let sim = serve();
    let d = daemon(vec![endpoint(&sim)]);
    let logs = Logs::default();
    let _guard = logs.install();
    assert_eq!(
        run(d.block_count()).unwrap(),
        150,
        "a keep-alive connection exists"
    );
    // The next answer is held back; the daemon goes down while it is awaited.
    sim.control().set_delay(Duration::from_millis(600));
    let got = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            sim.go_down();
            sim.control().set_delay(Duration::ZERO);
            std::thread::sleep(Duration::from_secs(1));
            sim.come_up().expect("up again");
        });
        run(d.block_hashes(0, 151))
    });
    assert_eq!(got.unwrap().len(), 151);
    let stats = d.stats();
    assert_eq!(stats.outages, 1, "{stats:?}");
    assert!(stats.retries >= 3, "{stats:?}");
    let warns = logs.at(Level::WARN);
    assert_eq!(warns.len(), 1, "{}", logs.all());
    let url = format!(
        "daemon at http://127.0.0.1:{}/ unreachable: ",
        sim.addr().port()
    );
    assert!(warns[0].starts_with(&url), "{warns:?}");
    assert!(warns[0].ends_with(", retrying"), "{warns:?}");
    let infos = logs.at(Level::INFO);
    assert_eq!(infos.len(), 1, "{}", logs.all());
    assert!(infos[0].contains("answering again"), "{infos:?}");
}

#[test]
fn garbage_answers_are_retried() {
    let sim = serve();
    let d = daemon(vec![endpoint(&sim)]);
    sim.control().set_garbage(true);
    let control = sim.control().clone();
    let ender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        control.set_garbage(false);
    });
    let hashes = run(d.block_hashes(0, 10)).unwrap();
    ender.join().expect("thread");
    assert_eq!(hashes[0], sim.with_node(|n| n.hash_at(0)).expect("genesis"));
    assert!(d.stats().retries >= 2, "{:?}", d.stats());
}

#[test]
fn fails_over_from_a_closed_port() {
    let sim = serve();
    let logs = Logs::default();
    let _guard = logs.install();
    let dead = DaemonEndpoint {
        host: "127.0.0.1".to_string(),
        port: 1,
        auth: DaemonAuth::None,
    };
    let d = daemon(vec![dead, endpoint(&sim)]);
    let live = format!("http://127.0.0.1:{}/", sim.addr().port());
    run(async {
        assert_eq!(d.block_count().await.unwrap(), 150);
        assert_eq!(d.block_hashes(0, 3).await.unwrap().len(), 3);
    });
    assert_eq!(d.current_url(), Some(live.clone()));
    assert_eq!(d.stats().failovers, 1);
    let warns = logs.at(Level::WARN);
    assert_eq!(warns.len(), 1, "{warns:?}");
    assert!(warns[0].starts_with("daemon at http://127.0.0.1:1/ unreachable"));
    assert!(
        warns[0].ends_with(&format!("failing over to {live}")),
        "{warns:?}"
    );
}

#[test]
fn fails_over_between_two_daemons() {
    let (a, b) = (serve(), serve());
    let d = daemon(vec![endpoint(&a), endpoint(&b)]);
    assert_eq!(run(d.block_count()).unwrap(), 150);
    assert_eq!(d.current_url(), Some(format!("http://{}/", a.addr())));
    a.go_down();
    let served = b.control().requests_served();
    assert_eq!(
        run(d.best_block_hash()).unwrap(),
        b.with_node(|n| n.tip_hash())
    );
    assert_eq!(d.current_url(), Some(format!("http://{}/", b.addr())));
    assert!(b.control().requests_served() > served);
    // Back to the first when the second fails.
    a.come_up().expect("a up");
    b.go_down();
    assert_eq!(
        run(d.block_hash(5)).unwrap(),
        a.with_node(|n| n.hash_at(5)).expect("h")
    );
    assert_eq!(d.current_url(), Some(format!("http://{}/", a.addr())));
    assert_eq!(d.stats().failovers, 2);
}

#[test]
fn cookie_auth_reads_the_cookie_when_connecting() {
    let tmp = TempDir::created("daemon-cookie");
    let dir = tmp.path();
    let options = SimNodeOptions {
        cookie_dir: Some(dir.join("node")),
        user_pass: None,
        ..SimNodeOptions::default()
    };
    let sim = SimNode::spawn(fixture(), options).expect("simnode");
    let cookie_path = sim.cookie_path().expect("cookie");
    let cookie = std::fs::read_to_string(&cookie_path).expect("cookie file");
    let secret = cookie.split(':').nth(1).expect("user:pass").to_string();
    let logs = Logs::default();
    let _guard = logs.install();
    let with_cookie = |path: PathBuf| DaemonEndpoint {
        host: "127.0.0.1".to_string(),
        port: sim.addr().port(),
        auth: DaemonAuth::CookieFile(path),
    };
    let d = daemon(vec![with_cookie(cookie_path.clone())]);
    assert_eq!(run(d.block_count()).unwrap(), 150);

    // The cookie is not there yet (bitcoind still starting): retried until it appears.
    let late = dir.join("late").join(".cookie");
    let d = daemon(vec![with_cookie(late.clone())]);
    let got = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(500));
            std::fs::create_dir_all(dir.join("late")).expect("dir");
            std::fs::copy(&cookie_path, &late).expect("copy");
        });
        run(d.block_count())
    });
    assert_eq!(got.unwrap(), 150);
    let warns = logs.at(Level::WARN);
    assert_eq!(warns.len(), 1, "{warns:?}");
    assert!(warns[0].contains("cannot read cookie file"), "{warns:?}");
    assert!(
        !logs.all().contains(&secret),
        "the cookie never appears in logs"
    );
    drop(sim);
}

#[test]
fn wrong_password_is_retried_then_given_up() {
    let sim = serve();
    let wrong = DaemonEndpoint {
        auth: DaemonAuth::UserPass {
            user: "user".to_string(),
            password: Secret("hunter2".to_string()),
        },
        ..endpoint(&sim)
    };
    let logs = Logs::default();
    let _guard = logs.install();
    let d = daemon(vec![wrong]).give_up_after(Duration::from_millis(800));
    let err = run(d.block_count()).unwrap_err();
    let Error::Unreachable { url, reason } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(url, &format!("http://{}/", sim.addr()));
    assert!(reason.contains("401"), "{reason}");
    assert!(!logs.all().contains("hunter2"));
    assert!(!format!("{d:?}").contains("hunter2"));
}

#[test]
fn shutdown_ends_waiting_calls() {
    let sim = serve();
    // During an outage.
    sim.go_down();
    let (d, cancel) = cancelled_after(&sim, Duration::from_millis(400));
    let started = Instant::now();
    let err = run(async {
        tokio::spawn(cancel);
        d.block_count().await.unwrap_err()
    });
    assert_eq!(err, Error::Shutdown);
    assert!(started.elapsed() < Duration::from_millis(1400));
    assert!(d.stats().retries >= 2);
    // Cancelled already: at once.
    assert_eq!(run(d.block_count()).unwrap_err(), Error::Shutdown);

    // While a slow answer is awaited.
    sim.come_up().expect("up");
    sim.control().set_delay(Duration::from_secs(5));
    let (d, cancel) = cancelled_after(&sim, Duration::from_millis(300));
    let started = Instant::now();
    let err = run(async {
        tokio::spawn(cancel);
        d.block_count().await.unwrap_err()
    });
    assert_eq!(err, Error::Shutdown);
    assert!(started.elapsed() < Duration::from_secs(2));
    sim.control().set_delay(Duration::ZERO);
}

#[test]
fn concurrent_calls_share_the_client() {
    let sim = serve();
    let d = daemon(vec![endpoint(&sim)]);
    let hashes: Vec<BlockHash> =
        sim.with_node(|n| (0..150).map(|h| n.hash_at(h).expect("h")).collect());
    let got = run(async {
        let calls = (0..150u32).map(|h| {
            let d = d.clone();
            tokio::spawn(async move { d.block_hash(h).await })
        });
        let mut out = Vec::new();
        for call in calls.collect::<Vec<_>>() {
            out.push(call.await.expect("join").expect("hash"));
        }
        out
    });
    assert_eq!(got, hashes);
    let no_endpoint = Daemon::new(Vec::new(), Network::Regtest);
    assert!(matches!(
        run(no_endpoint.block_count()),
        Err(Error::Unreachable { .. })
    ));
}

// ----------------------------------------------------------------------------------------
// Blocks through bitcoind's REST interface (`-rest`), and the JSON-RPC fallback.

fn serve_rest(rest: bool) -> SimNode {
    let options = SimNodeOptions {
        rest,
        ..SimNodeOptions::default()
    };
    SimNode::spawn(fixture(), options).expect("simnode starts")
}

/// Every active block's hash and bytes, from the node itself.
fn all_blocks(sim: &SimNode) -> (Vec<BlockHash>, Vec<Vec<u8>>) {
    sim.with_node(|n| {
        let hashes: Vec<BlockHash> = (0..=n.tip_height())
            .map(|h| n.hash_at(h).expect("hash"))
            .collect();
        let raws = hashes
            .iter()
            .map(|h| n.block(h).expect("b").raw.clone())
            .collect();
        (hashes, raws)
    })
}

#[test]
fn blocks_come_through_rest_where_it_is_on() {
    let sim = serve_rest(true);
    let (hashes, raws) = all_blocks(&sim);
    let d = daemon(vec![endpoint(&sim)]);
    let logs = Logs::default();
    let _guard = logs.install();
    assert_eq!(run(d.raw_blocks(&hashes)).unwrap(), raws);
    assert_eq!(run(d.raw_blocks(&hashes[10..20])).unwrap(), raws[10..20]);
    let n = hashes.len() as u64;
    assert_eq!(sim.control().rest_blocks(), n + 10);
    assert_eq!(sim.control().rpc_blocks(), 0);
    let stats = d.stats();
    assert_eq!((stats.rest_blocks, stats.rpc_blocks), (n + 10, 0));
    let infos = logs.at(Level::INFO);
    assert_eq!(
        infos.iter().filter(|l| l.contains("serves REST")).count(),
        1,
        "{infos:?}"
    );
    // A block the daemon does not have: the JSON-RPC answer (-5), as without REST.
    let unknown = BlockHash::from_byte_array([7; 32]);
    let err = run(d.raw_blocks(&[hashes[3], unknown])).unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(
        logs.at(Level::WARN).is_empty(),
        "{:?}",
        logs.at(Level::WARN)
    );
}

#[test]
fn blocks_come_by_rpc_where_rest_is_off() {
    let sim = serve_rest(false);
    let (hashes, raws) = all_blocks(&sim);
    let d = daemon(vec![endpoint(&sim)]);
    let logs = Logs::default();
    let _guard = logs.install();
    assert_eq!(run(d.raw_blocks(&hashes)).unwrap(), raws);
    let n = hashes.len() as u64;
    assert_eq!(sim.control().rest_blocks(), 0);
    assert_eq!(sim.control().rpc_blocks(), n);
    // Found out once: later batches go straight to JSON-RPC, one request each.
    let served = sim.control().requests_served();
    assert_eq!(run(d.raw_blocks(&hashes[5..9])).unwrap(), raws[5..9]);
    assert_eq!(sim.control().requests_served(), served + 1);
    assert_eq!(d.stats().rpc_blocks, n + 4);
    let infos = logs.at(Level::INFO);
    assert!(
        infos.iter().any(|l| l.contains("no REST interface")),
        "{infos:?}"
    );
    assert!(
        logs.at(Level::WARN).is_empty(),
        "{:?}",
        logs.at(Level::WARN)
    );
}

#[test]
fn bad_rest_answers_fall_back_to_rpc_with_a_warning() {
    use ferrumx_simnode::http::RestFault;
    let cases = [
        (RestFault::WrongBlock, "asked for block"),
        (RestFault::Truncated, "reply ended after"),
        (RestFault::Oversized, "over 4000000 bytes"),
        (
            RestFault::Status(500),
            "HTTP status 500: simnode: REST fault",
        ),
        (RestFault::Status(403), "HTTP status 403"),
    ];
    for (fault, reason) in cases {
        let sim = serve_rest(true);
        let (hashes, raws) = all_blocks(&sim);
        sim.control().set_rest_fault(Some(fault));
        let d = daemon(vec![endpoint(&sim)]);
        let logs = Logs::default();
        let _guard = logs.install();
        // The right blocks, by JSON-RPC.
        assert_eq!(
            run(d.raw_blocks(&hashes[1..30])).unwrap(),
            raws[1..30],
            "{fault:?}"
        );
        assert_eq!(sim.control().rest_blocks(), 1, "{fault:?}: one REST try");
        assert_eq!(sim.control().rpc_blocks(), 29, "{fault:?}");
        let warns = logs.at(Level::WARN);
        assert_eq!(warns.len(), 1, "{fault:?}: {warns:?}");
        assert!(warns[0].contains("REST block fetch failed"), "{warns:?}");
        assert!(warns[0].contains(reason), "{fault:?}: {warns:?}");
        // REST is left alone for a while: the next batch goes straight to JSON-RPC.
        sim.control().set_rest_fault(None);
        assert_eq!(run(d.raw_blocks(&hashes[30..40])).unwrap(), raws[30..40]);
        assert_eq!(sim.control().rest_blocks(), 1, "{fault:?}");
        assert_eq!(d.stats().rpc_blocks, 39, "{fault:?}");
        assert_eq!(d.stats().retries, 0, "{fault:?}: no outage");
    }
}

#[test]
fn rest_is_found_out_again_after_a_failover() {
    let (a, b) = (serve_rest(true), serve_rest(false));
    let (hashes, raws) = all_blocks(&a);
    let d = daemon(vec![endpoint(&a), endpoint(&b)]);
    assert_eq!(run(d.raw_blocks(&hashes[..50])).unwrap(), raws[..50]);
    assert_eq!(a.control().rest_blocks(), 50);
    // a goes away: b has no REST, blocks come by JSON-RPC.
    a.go_down();
    assert_eq!(run(d.raw_blocks(&hashes[50..100])).unwrap(), raws[50..100]);
    assert_eq!(d.current_url(), Some(format!("http://{}/", b.addr())));
    assert_eq!(
        (b.control().rest_blocks(), b.control().rpc_blocks()),
        (0, 50)
    );
    // Back to a, then to b again after b was restarted with -rest: found out afresh.
    b.control().set_rest(true);
    a.come_up().expect("a up");
    b.go_down();
    assert_eq!(
        run(d.raw_blocks(&hashes[100..120])).unwrap(),
        raws[100..120]
    );
    assert_eq!(d.current_url(), Some(format!("http://{}/", a.addr())));
    assert_eq!(a.control().rest_blocks(), 70);
    b.come_up().expect("b up");
    a.go_down();
    assert_eq!(run(d.raw_blocks(&hashes[120..])).unwrap(), raws[120..]);
    assert_eq!(d.current_url(), Some(format!("http://{}/", b.addr())));
    assert_eq!(b.control().rest_blocks(), (hashes.len() - 120) as u64);
    assert_eq!(b.control().rpc_blocks(), 50);
}

#[test]
fn oversized_rpc_answers_are_an_error() {
    let sim = serve();
    let (hashes, _) = all_blocks(&sim);
    let options = DaemonOptions {
        max_reply_bytes: 10_000,
        ..fast()
    };
    let d = Daemon::with_options(vec![endpoint(&sim)], Network::Regtest, options);
    assert_eq!(run(d.block_count()).unwrap(), 150);
    let err = run(d.raw_blocks(&hashes)).unwrap_err();
    assert!(
        matches!(&err, Error::BadResponse(m) if m.contains("over 10000 bytes")),
        "{err}"
    );
}

#[test]
fn stalled_answers_time_out() {
    let sim = serve();
    sim.control().set_delay(Duration::from_secs(3));
    let options = DaemonOptions {
        timeout: Duration::from_millis(300),
        ..fast()
    };
    let d = Daemon::with_options(vec![endpoint(&sim)], Network::Regtest, options)
        .give_up_after(Duration::from_secs(1));
    let err = run(d.block_count()).unwrap_err();
    assert!(
        matches!(&err, Error::Unreachable { reason, .. } if reason.contains("no data for")),
        "{err}"
    );
}
