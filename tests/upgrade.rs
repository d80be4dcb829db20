//! The `ferrumx_server` binary upgrading, in place, a database of the previous layout (no
//! spender index, format version 1) against the bitcoind stand-in: the database is written
//! by the previous layout's code path (`Index::open_pre_spenders`: the same rows through the
//! same code, without the `spenders` column family), the server is started on it, killed by
//! kill -9 twice during the upgrade (inside its flushes, seen by the write-ahead log
//! growing), restarted, and must resume where the last flush left it, finish, sync on and
//! end with the database a fresh sync of the same chain writes, byte for byte, answering
//! like the truth (every output's funder and spender against the stand-in's own spender
//! index included).

use std::time::Instant;

use bitcoin::Network;
use ferrumx::index::{Index, DB_VERSION_PRE_SPENDERS};
use ferrumx_simnode::{GenParams, Node};
use ferrumx_testkit::{
    check_against_truth, fresh_digest, open_index, serve, wait_for_wal_writes, Server, ServerEnv,
    TempDir, STEP,
};

const REORG_LIMIT: u32 = 10;

#[test]
fn the_server_upgrades_a_previous_layout_database_in_place_through_kill9() {
    let started = Instant::now();
    // ~370 blocks, 30 transactions in each after the first 100.
    let sim = serve(Node::generate(GenParams::sized(35, 8_000, 30)));
    let dir = TempDir::new("upgrade");
    let tip = sim.with_node(|n| {
        let mut index =
            Index::open_pre_spenders(dir.path(), Network::Regtest, 1 << 20, REORG_LIMIT)
                .expect("previous layout");
        for h in 1..=n.tip_height() {
            index
                .advance(&n.block_at(h).expect("block").raw)
                .expect("advance");
            if index.needs_flush() {
                index.flush().expect("flush");
            }
        }
        index.flush().expect("flush");
        n.tip_height()
    });
    let names = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).expect("cfs");
    assert!(!names.iter().any(|n| n == "spenders"), "{names:?}");
    let env =
        ServerEnv::new(dir.path(), &sim.daemon_url()).set("REORG_LIMIT", &REORG_LIMIT.to_string());

    // Killed twice inside the upgrade's flushes (CACHE_MB=0: a flush per block).
    let mut resumed = Vec::new();
    for (round, k) in [(0, 60), (1, 120)] {
        let mut server = Server::start(
            &format!("upgrade-{round}"),
            &env.clone().set("CACHE_MB", "0"),
        );
        let line = server.wait_for("upgrading the database in place", STEP);
        let from = line.field("from").expect("from");
        assert_eq!(line.field("tip"), Some(u64::from(tip)), "{}", line.text);
        resumed.push(from);
        assert!(
            wait_for_wal_writes(dir.path(), k, Instant::now() + STEP, || false),
            "round {round}: the upgrade did not write {k} times"
        );
        server.kill9();
        assert_eq!(
            server.count("spender index built"),
            0,
            "round {round} finished"
        );
        assert_eq!(server.count("caught up with the daemon"), 0);
        drop(server);
    }
    assert_eq!(resumed[0], 1);
    assert!(resumed[1] > 50, "the second run started at {}", resumed[1]);

    // The third run finishes, syncs on, follows new blocks, stops cleanly.
    let mut server = Server::start("upgrade-2", &env.clone().set("CACHE_MB", "1"));
    let line = server.wait_for("upgrading the database in place", STEP);
    let third = line.field("from").expect("from");
    assert!(
        third > resumed[1],
        "resumed at {third} after {}",
        resumed[1]
    );
    server.wait_for("spender index built", STEP);
    assert_eq!(server.wait_caught_up(), tip);
    sim.with_node(|n| {
        n.add_traffic(60);
        n.mine(2).expect("mine");
    });
    server.wait_new_block(tip + 2);
    assert!(server.terminate().success());
    drop(server);

    let index = open_index(dir.path(), REORG_LIMIT);
    assert_eq!(index.upgrade_progress(), None);
    sim.with_node(|n| {
        assert_eq!(
            index.content_digest().expect("digest"),
            fresh_digest(n, REORG_LIMIT),
            "the upgraded database differs from a fresh sync"
        );
        check_against_truth(&index.reader(), n);
    });
    drop(index);
    // Opened once more: the current layout, nothing pending.
    let index = open_index(dir.path(), REORG_LIMIT);
    assert_eq!(index.upgrade_progress(), None);
    assert_ne!(DB_VERSION_PRE_SPENDERS, ferrumx::index::DB_VERSION);
    eprintln!(
        "upgrade test: resumed at {resumed:?} then {third}, {:?}",
        started.elapsed()
    );
}
