//! The prefetcher and the sync driver against the bitcoind stand-in, with a fake in-memory
//! chain: catching up, following new blocks, reorgs (rolled back to the fork point), the
//! REORG_LIMIT refusal, the operator's forced rollback and a clean stop.

use std::sync::{mpsc, Arc};
use std::time::Duration;

use bitcoin::consensus::deserialize;
use bitcoin::hashes::Hash;
use bitcoin::{Block, BlockHash};
use ferrumx::index::{HashX, IndexError, UpgradeProgress, HASHX_LEN};
use ferrumx::indexer::{
    self, Chain, Changes, FlushInfo, ForcedReorg, SyncError, SyncEvent, SyncOptions, SyncStatus,
};
use ferrumx_simnode::{GenParams, Node, SimNode, SimNodeOptions};
use ferrumx_testkit::daemon_for;
use tokio_util::sync::CancellationToken;

/// What the fake reports a rollback touched (the real index's rollbacks are tested in
/// tests/index and tests/server.rs).
const ROLLED_BACK: HashX = HashX([0xee; HASHX_LEN]);

/// The keys of a block's outputs (the fake does not resolve inputs).
fn block_touched(block: &Block) -> Vec<HashX> {
    let mut v: Vec<HashX> = block
        .txdata
        .iter()
        .flat_map(|tx| tx.output.iter().map(|o| HashX::of_script(&o.script_pubkey)))
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

#[derive(Default)]
struct FakeChain {
    hashes: Vec<BlockHash>,
    txs: Vec<u64>,
    flushes: usize,
    backups: Vec<u32>,
    /// Called with the number of blocks applied, after each block.
    probe: Option<Box<dyn FnMut(u64) + Send>>,
}

impl Chain for FakeChain {
    fn tip(&self) -> Option<(u32, BlockHash)> {
        let h = self.hashes.len().checked_sub(1)?;
        Some((h as u32, self.hashes[h]))
    }
    fn block_hash(&self, height: u32) -> Option<BlockHash> {
        self.hashes.get(height as usize).copied()
    }
    fn advance(&mut self, raw: &[u8]) -> Result<Changes, IndexError> {
        let (height, expected) = self.tip().unwrap_or((0, BlockHash::all_zeros()));
        let block: Block = deserialize(raw).map_err(|e| IndexError::BadBlock {
            height,
            reason: e.to_string(),
        })?;
        if block.header.prev_blockhash != expected {
            return Err(IndexError::NotOnTip {
                height,
                tip: expected,
                block: block.block_hash(),
                prev: block.header.prev_blockhash,
            });
        }
        self.hashes.push(block.block_hash());
        self.txs.push(block.txdata.len() as u64);
        if let Some(probe) = self.probe.as_mut() {
            probe(self.hashes.len() as u64);
        }
        Ok(Changes {
            touched: block_touched(&block),
            spent: block
                .txdata
                .iter()
                .skip(1)
                .flat_map(|tx| tx.input.iter().map(|i| i.previous_output))
                .collect(),
            funders: block.txdata.iter().map(|tx| tx.compute_txid()).collect(),
        })
    }
    fn needs_flush(&self) -> bool {
        self.hashes.len() % 50 == 0
    }
    fn cache_bytes(&self) -> usize {
        0
    }
    fn tx_count(&self) -> u64 {
        self.txs.iter().sum()
    }
    fn flush(&mut self) -> Result<FlushInfo, IndexError> {
        self.flushes += 1;
        Ok(FlushInfo {
            height: self.tip().map_or(0, |t| t.0),
            tx_count: self.tx_count(),
            ..Default::default()
        })
    }
    fn backup(&mut self, height: u32) -> Result<Changes, IndexError> {
        self.backups.push(height);
        self.hashes.truncate(height as usize + 1);
        self.txs.truncate(height as usize + 1);
        Ok(Changes {
            touched: vec![ROLLED_BACK],
            ..Changes::default()
        })
    }
    fn upgrade_progress(&self) -> Option<UpgradeProgress> {
        None
    }
    fn upgrade_block(&mut self, _: &[u8]) -> Result<(), IndexError> {
        Err(IndexError::Corrupt("the fake has no upgrade".into()))
    }
    fn upgrade_flush(&mut self) -> Result<FlushInfo, IndexError> {
        Ok(FlushInfo::default())
    }
}

fn opts(reorg_limit: u32) -> SyncOptions {
    SyncOptions {
        prefetch_bytes: 4 << 20,
        poll: Duration::from_millis(50),
        wake: Default::default(),
        reorg_limit,
        progress_every: Duration::from_secs(1),
    }
}

fn wait_for(rx: &mpsc::Receiver<SyncEvent>, mut pred: impl FnMut(&SyncEvent) -> bool) {
    loop {
        let e = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("sync event in time");
        if pred(&e) {
            return;
        }
    }
}

fn node_hashes(sim: &SimNode) -> Vec<BlockHash> {
    sim.with_node(|n| (0..=n.tip_height()).filter_map(|h| n.hash_at(h)).collect())
}

/// A running driver over a fake chain, fed by a stand-in serving the fixture of `seed`.
struct Harness {
    sim: SimNode,
    rt: tokio::runtime::Runtime,
    shutdown: CancellationToken,
    status: Arc<SyncStatus>,
    /// To the driver: the operator's rollbacks.
    reorgs: tokio::sync::mpsc::UnboundedSender<ForcedReorg>,
    events: mpsc::Receiver<SyncEvent>,
    worker: std::thread::JoinHandle<(Result<(), SyncError>, FakeChain)>,
}

fn start(seed: u64, reorg_limit: u32) -> Harness {
    start_with(seed, reorg_limit, false)
}

/// As [`start`], the stand-in serving REST (`bitcoind -rest`) when `rest`.
fn start_with(seed: u64, reorg_limit: u32, rest: bool) -> Harness {
    let options = SimNodeOptions {
        rest,
        ..SimNodeOptions::default()
    };
    let sim = SimNode::spawn(Node::generate(GenParams::fixture(seed)), options).expect("stand-in");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let daemon = daemon_for(&sim);
    let shutdown = CancellationToken::new();
    let (tx, events) = mpsc::channel();
    let handle = rt.handle().clone();
    let stop = shutdown.clone();
    let status = Arc::new(SyncStatus::default());
    let reported = status.clone();
    let (reorgs, reorgs_rx) = tokio::sync::mpsc::unbounded_channel();
    let worker = std::thread::spawn(move || {
        let mut chain = FakeChain::default();
        let r = indexer::run(
            &mut chain,
            &daemon,
            &handle,
            &opts(reorg_limit),
            &stop,
            &reported,
            reorgs_rx,
            |e| {
                let _ = tx.send(e);
            },
        );
        (r, chain)
    });
    Harness {
        sim,
        rt,
        shutdown,
        status,
        reorgs,
        events,
        worker,
    }
}

#[test]
fn catches_up_follows_and_reorgs_then_stops_cleanly() {
    let h = start(11, 10);
    wait_for(&h.events, |e| {
        matches!(e, SyncEvent::CaughtUp { height: 150 })
    });
    // Each block of the first sync (0..=150) fetched once, by getblock (REST is off), with
    // several batches in flight.
    assert_eq!(h.sim.control().rpc_blocks(), 151);
    assert_eq!(h.sim.control().rest_blocks(), 0);
    // New blocks are followed.
    h.sim
        .with_node(|n| {
            n.add_traffic(5);
            n.mine(2)
        })
        .expect("mine");
    wait_for(&h.events, |e| {
        matches!(e, SyncEvent::NewTip { height: 152, .. })
    });
    // A reorg of depth 3 onto 4 new blocks: the first new tip after it carries what the
    // rollback touched, later ones only their own block's keys.
    h.sim.with_node(|n| n.reorg(3, 4)).expect("reorg");
    let mut after_reorg = Vec::new();
    let mut reorgs = Vec::new();
    wait_for(&h.events, |e| {
        if let SyncEvent::NewTip {
            height, touched, ..
        } = e
        {
            after_reorg.push((*height, touched.clone()));
        }
        if let SyncEvent::Reorg { fork } = e {
            reorgs.push(*fork);
        }
        matches!(e, SyncEvent::NewTip { height: 153, .. })
    });
    let blocks = h.sim.with_node(|n| {
        (150..=153)
            .map(|height| n.block_at(height).and_then(|b| b.block()).expect("block"))
            .collect::<Vec<_>>()
    });
    let heights: Vec<u32> = after_reorg.iter().map(|(height, _)| *height).collect();
    assert!(
        reorgs.contains(&149),
        "a Reorg event at the fork: {reorgs:?}"
    );
    assert_eq!(heights, vec![150, 151, 152, 153]);
    for (i, (height, touched)) in after_reorg.iter().enumerate() {
        let mut expected = block_touched(&blocks[i]);
        if i == 0 {
            expected.push(ROLLED_BACK);
            expected.sort_unstable();
        }
        assert_eq!(touched, &expected, "touched keys of the new tip {height}");
    }
    h.shutdown.cancel();
    let (result, chain) = h.worker.join().expect("worker");
    result.expect("clean stop");
    assert_eq!(chain.hashes, node_hashes(&h.sim));
    assert_eq!(chain.backups, vec![149], "rolled back to the fork point");
    assert!(
        chain.flushes >= 4,
        "flushed after each block once caught up"
    );
}

#[test]
fn catches_up_and_reorgs_with_blocks_through_rest() {
    let h = start_with(13, 10, true);
    wait_for(&h.events, |e| {
        matches!(e, SyncEvent::CaughtUp { height: 150 })
    });
    h.sim.with_node(|n| n.reorg(3, 4)).expect("reorg");
    wait_for(&h.events, |e| {
        matches!(e, SyncEvent::NewTip { height: 151, .. })
    });
    h.shutdown.cancel();
    let (result, chain) = h.worker.join().expect("worker");
    result.expect("clean stop");
    assert_eq!(chain.hashes, node_hashes(&h.sim));
    assert_eq!(chain.backups, vec![147], "rolled back to the fork point");
    // Every block came through REST (the 151 of the first sync and the 4 of the new branch),
    // none by getblock.
    assert!(
        h.sim.control().rest_blocks() >= 155,
        "{}",
        h.sim.control().rest_blocks()
    );
    assert_eq!(h.sim.control().rpc_blocks(), 0);
}

#[test]
fn refuses_reorgs_deeper_than_the_limit() {
    let h = start(12, 4);
    wait_for(&h.events, |e| matches!(e, SyncEvent::CaughtUp { .. }));
    h.sim.with_node(|n| n.reorg(6, 7)).expect("reorg");
    let (result, _) = h.worker.join().expect("worker");
    match result {
        Err(SyncError::ReorgTooDeep { limit: 4, .. }) => {}
        other => panic!("expected ReorgTooDeep, got {other:?}"),
    }
    h.shutdown.cancel();
}

#[test]
fn notices_an_equal_height_reorg() {
    let h = start(13, 10);
    wait_for(&h.events, |e| {
        matches!(e, SyncEvent::CaughtUp { height: 150 })
    });
    let old_tip = node_hashes(&h.sim)[150];
    // Two blocks replaced by two others: the daemon's height does not move.
    h.sim.with_node(|n| n.reorg(2, 2)).expect("reorg");
    let new_tip = node_hashes(&h.sim)[150];
    assert_ne!(old_tip, new_tip);
    wait_for(
        &h.events,
        |e| matches!(e, SyncEvent::NewTip { height: 150, hash, .. } if *hash == new_tip),
    );
    h.shutdown.cancel();
    let (result, chain) = h.worker.join().expect("worker");
    result.expect("clean stop");
    assert_eq!(chain.hashes, node_hashes(&h.sim));
    assert_eq!(chain.backups, vec![148]);
}

#[test]
fn a_shorter_daemon_chain_on_another_branch_is_a_reorg() {
    let h = start(14, 10);
    wait_for(&h.events, |e| {
        matches!(e, SyncEvent::CaughtUp { height: 150 })
    });
    // Three blocks replaced by one: the daemon's tip (148) is not our block 148.
    h.sim.with_node(|n| n.reorg(3, 1)).expect("reorg");
    let new_tip = node_hashes(&h.sim)[148];
    wait_for(
        &h.events,
        |e| matches!(e, SyncEvent::NewTip { height: 148, hash, .. } if *hash == new_tip),
    );
    h.shutdown.cancel();
    let (result, chain) = h.worker.join().expect("worker");
    result.expect("clean stop");
    assert_eq!(chain.hashes, node_hashes(&h.sim));
    assert_eq!(chain.backups, vec![147], "rolled back to the fork point");
}

#[test]
fn a_lagging_daemon_on_our_chain_is_waited_for_not_rolled_back() {
    let h = start(15, 10);
    wait_for(&h.events, |e| {
        matches!(e, SyncEvent::CaughtUp { height: 150 })
    });
    // The daemon loses its tip (as `invalidateblock` does): its chain is a prefix of ours.
    h.sim
        .with_node(|n| n.disconnect_tip().map(|_| ()))
        .expect("disconnect");
    std::thread::sleep(Duration::from_millis(400));
    // Two new blocks on the shorter chain: now a fork at 149.
    let mined = h.sim.with_node(|n| n.mine(2)).expect("mine");
    wait_for(
        &h.events,
        |e| matches!(e, SyncEvent::NewTip { height: 151, hash, .. } if *hash == mined[1]),
    );
    h.shutdown.cancel();
    let (result, chain) = h.worker.join().expect("worker");
    result.expect("clean stop");
    assert_eq!(chain.hashes, node_hashes(&h.sim));
    assert_eq!(
        chain.backups,
        vec![149],
        "no rollback while the daemon only lagged; one at the real fork"
    );
}

#[test]
fn a_forced_reorg_rolls_back_and_applies_the_daemons_blocks_again() {
    let h = start(16, 10);
    wait_for(&h.events, |e| {
        matches!(e, SyncEvent::CaughtUp { height: 150 })
    });
    assert!(h.status.caught_up());
    assert_eq!(h.status.daemon_height(), Some(150));
    let ask = |count| {
        h.rt.block_on(ForcedReorg::request(
            &h.reorgs,
            count,
            Duration::from_secs(30),
        ))
    };
    let refused = ask(11).expect_err("beyond REORG_LIMIT");
    assert_eq!(
        refused.to_string(),
        "cannot roll back 11 blocks: undo data is kept for the last 10 only (REORG_LIMIT)"
    );
    let flushes = h.status.flushes();
    assert_eq!(ask(3).expect("rolled back"), 147);
    assert!(h.status.flushes() > flushes, "the rollback is a flush");
    // The same three blocks come back from the daemon; the first new tip carries what the
    // rollback touched.
    let mut reorgs = Vec::new();
    let mut tips = Vec::new();
    wait_for(&h.events, |e| {
        match e {
            SyncEvent::Reorg { fork } => reorgs.push(*fork),
            SyncEvent::NewTip {
                height, touched, ..
            } => tips.push((*height, touched.clone())),
            SyncEvent::CaughtUp { .. } => {}
        }
        matches!(e, SyncEvent::NewTip { height: 150, .. })
    });
    assert_eq!(reorgs, vec![147]);
    let blocks = h.sim.with_node(|n| {
        (148..=150)
            .map(|height| n.block_at(height).and_then(|b| b.block()).expect("block"))
            .collect::<Vec<_>>()
    });
    let heights: Vec<u32> = tips.iter().map(|(height, _)| *height).collect();
    assert_eq!(heights, vec![148, 149, 150]);
    for (i, (height, touched)) in tips.iter().enumerate() {
        let mut expected = block_touched(&blocks[i]);
        if i == 0 {
            expected.push(ROLLED_BACK);
            expected.sort_unstable();
        }
        assert_eq!(touched, &expected, "touched keys of the new tip {height}");
    }
    h.shutdown.cancel();
    let (result, chain) = h.worker.join().expect("worker");
    result.expect("clean stop");
    assert_eq!(chain.hashes, node_hashes(&h.sim));
    assert_eq!(chain.backups, vec![147], "rolled back by the operator only");
}

/// Blocks that grow from coinbases only to ~1 MB: the prefetcher's batches grow at most
/// twofold over the last one fetched, so the blocks fetched ahead of the processor stay near
/// the budget (4 MB here). A batch size guessed from the tiny blocks once asked for 500
/// blocks at a time, four in flight: on a 5M-transaction chain, 1.8 GB held against 64 MB.
#[test]
fn prefetching_stays_near_its_budget_when_blocks_grow() {
    let options = SimNodeOptions {
        rest: true,
        ..SimNodeOptions::default()
    };
    let node = Node::generate(GenParams::sized(3, 120_000, 2_000));
    let sizes: Vec<usize> = (0..=node.tip_height())
        .filter_map(|h| node.hash_at(h))
        .map(|hash| node.block(&hash).map_or(0, |b| b.size()))
        .collect();
    let sim = SimNode::spawn(node, options).expect("stand-in");
    let tip = sizes.len() as u64 - 1;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let daemon = daemon_for(&sim);
    let control = sim.control().clone();
    let probe_sizes = sizes.clone();
    // The most bytes of blocks fetched but not yet applied, seen after each block.
    let ahead = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = ahead.clone();
    let mut chain = FakeChain {
        probe: Some(Box::new(move |applied| {
            let served = control.rest_blocks().min(probe_sizes.len() as u64);
            let bytes: usize = probe_sizes
                .get(applied as usize..served as usize)
                .map_or(0, |s| s.iter().sum());
            seen.fetch_max(bytes, std::sync::atomic::Ordering::SeqCst);
            // A slow processor: the prefetcher runs as far ahead as it is allowed.
            std::thread::sleep(Duration::from_millis(5));
        })),
        ..FakeChain::default()
    };
    let shutdown = CancellationToken::new();
    let status = SyncStatus::default();
    let (_reorgs, reorgs_rx) = tokio::sync::mpsc::unbounded_channel();
    let stop = shutdown.clone();
    let mut caught_up = false;
    let r = indexer::run(
        &mut chain,
        &daemon,
        rt.handle(),
        &opts(10),
        &shutdown,
        &status,
        reorgs_rx,
        |e| {
            if matches!(e, SyncEvent::CaughtUp { .. }) {
                caught_up = true;
                stop.cancel();
            }
        },
    );
    assert!(r.is_ok(), "{r:?}");
    assert!(caught_up);
    assert_eq!(chain.hashes.len() as u64, tip + 1);
    let most = ahead.load(std::sync::atomic::Ordering::SeqCst);
    eprintln!("at most {most} bytes of blocks fetched ahead of the processor");
    let big = sizes.iter().max().copied().unwrap_or(0);
    assert!(big > 500_000, "the chain's blocks grow to {big} bytes");
    // Budget 4 MB, but one batch is up to 16 MB of blocks (13 MB measured; the guess from
    // tiny blocks held 60 MB).
    assert!(
        most <= 24 << 20,
        "{most} bytes of blocks fetched ahead (budget 4 MB, blocks up to {big} bytes)"
    );
}
