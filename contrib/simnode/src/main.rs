//! `ferrumx-simnode`: run the bitcoind stand-in, or generate a chain file.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use ferrumx_simnode::{
    archive, chainfile, recorded, CoreVersion, GenParams, Node, SimNode, SimNodeOptions,
};

#[derive(Parser, Debug)]
#[command(
    name = "ferrumx-simnode",
    version,
    about = "A bitcoind stand-in serving deterministic regtest chains over Bitcoin Core's JSON-RPC"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve a chain over JSON-RPC (the default).
    Serve(ServeArgs),
    /// Print what a chain file holds: counts, input/output shapes, script types, the
    /// longest histories.
    Stats {
        /// The chain file.
        #[arg(long)]
        chain_file: PathBuf,
    },
    /// Generate a chain, write it to a file and report the generation speed.
    Generate {
        #[command(flatten)]
        chain: ChainArgs,
        /// Where to write the chain file.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(clap::Args, Debug, Clone)]
struct ChainArgs {
    /// Seed of the generated chain.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of transactions to generate (overrides --blocks).
    #[arg(long)]
    txs: Option<u64>,
    /// Height of the generated chain.
    #[arg(long, default_value_t = 300)]
    blocks: u32,
    /// Mean transactions per block.
    #[arg(long, default_value_t = 20)]
    txs_per_block: u32,
    /// Give the chain a whale: one address taking this share (0..=1) of the payments, so
    /// that it receives and spends in a large part of the transactions (0: no whale).
    #[arg(long, default_value_t = 0.0)]
    whale_share: f64,
}

impl ChainArgs {
    fn params(&self) -> GenParams {
        let mut p = match self.txs {
            Some(n) => GenParams::sized(self.seed, n, self.txs_per_block),
            None => {
                let mut p = GenParams::fixture(self.seed);
                p.height = self.blocks;
                p.txs_per_block = self.txs_per_block;
                p
            }
        };
        p.whale_share = self.whale_share.clamp(0.0, 1.0);
        p
    }
}

#[derive(clap::Args, Debug, Clone)]
struct ServeArgs {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Port (regtest's 18443 by default; 0 picks a free one).
    #[arg(long, default_value_t = 18443)]
    port: u16,
    /// RPC user.
    #[arg(long, default_value = "user")]
    rpcuser: String,
    /// RPC password.
    #[arg(long, default_value = "pass")]
    rpcpassword: String,
    /// Write a `.cookie` file into this directory and accept it too, as bitcoind does.
    #[arg(long)]
    datadir: Option<PathBuf>,
    /// Serve this saved chain file (written by `generate` or a previous `--cache`).
    #[arg(long, conflicts_with = "recorded")]
    chain_file: Option<PathBuf>,
    /// With --chain-file: serve the file from disk (bounded memory, for big chains) instead
    /// of loading it; such a node has no truth, UTXO set or wallet for the file's blocks.
    #[arg(long, requires = "chain_file")]
    from_disk: bool,
    /// Serve the chain recorded from Bitcoin Core 29.0 in this directory
    /// (e.g. contrib/simnode/data/bitcoind-core-v29).
    #[arg(long)]
    recorded: Option<PathBuf>,
    /// Cache the generated chain in this file: reuse it if it matches the parameters.
    #[arg(long)]
    cache: Option<PathBuf>,
    #[command(flatten)]
    chain: ChainArgs,
    /// Mine a block every this many seconds (0 = never).
    #[arg(long, default_value_t = 0)]
    mine_every: u64,
    /// Transactions of fresh mempool traffic between mined blocks.
    #[arg(long, default_value_t = 10)]
    traffic: u32,
    /// Run without a transaction index (getrawtransaction then needs a block hash).
    #[arg(long)]
    no_txindex: bool,
    /// Answer as this Bitcoin Core version: 29 (29.0) or 31 (31.0).
    #[arg(long = "core", default_value = "29", value_name = "VERSION")]
    core: CoreVersion,
    /// As Core 31: run without -txospenderindex (getindexinfo does not list it and
    /// gettxspendingprevout sees only the mempool unless told otherwise, then fails).
    #[arg(long)]
    no_txospenderindex: bool,
    /// Serve bitcoind's REST interface (`-rest`) on the RPC port: /rest/block/<hash>.bin and
    /// friends, without credentials.
    #[arg(long)]
    rest: bool,
    /// Publish ZMQ `hashblock`/`hashtx` notifications (on a free port of 127.0.0.1,
    /// reported by `getzmqnotifications`), as bitcoind's -zmqpub* options do.
    #[arg(long)]
    zmq: bool,
    /// Answer -28 "Loading block index…" for this many seconds after start, like a
    /// starting bitcoind.
    #[arg(long, default_value_t = 0)]
    warmup: u64,
}

fn load_node(args: &ServeArgs) -> Result<Node, String> {
    if let Some(dir) = &args.recorded {
        return recorded::load(dir)
            .map(|(node, _)| node)
            .map_err(|e| e.to_string());
    }
    if let Some(path) = &args.chain_file {
        let started = Instant::now();
        let node = if args.from_disk {
            archive::open(path)
        } else {
            chainfile::load(path)
        }
        .map_err(|e| format!("{}: {e}", path.display()))?;
        report(&node, started.elapsed());
        return Ok(node);
    }
    let params = args.chain.params();
    let started = Instant::now();
    let node = match &args.cache {
        Some(path) => {
            let (node, cached) =
                chainfile::load_or_generate(&params, path).map_err(|e| e.to_string())?;
            if cached {
                tracing::info!(path = %path.display(), "loaded cached chain");
            }
            node
        }
        None => Node::generate(params),
    };
    report(&node, started.elapsed());
    Ok(node)
}

fn count_txs(node: &Node) -> u64 {
    (1..=node.tip_height())
        .filter_map(|h| node.block_at(h))
        .map(|b| b.txids.len() as u64)
        .sum()
}

fn report(node: &Node, took: Duration) {
    let txs = count_txs(node);
    let secs = took.as_secs_f64().max(1e-9);
    tracing::info!(
        height = node.tip_height(),
        transactions = txs,
        seconds = format!("{secs:.1}"),
        tx_per_sec = format!("{:.0}", txs as f64 / secs),
        "chain ready"
    );
}

fn bucket(n: usize) -> &'static str {
    match n {
        0..=1 => "1",
        2 => "2",
        3..=4 => "3-4",
        5..=20 => "5-20",
        21..=99 => "21-99",
        _ => "100+",
    }
}

fn print_stats(node: &Node) {
    use std::collections::BTreeMap;
    let mut txs = 0u64;
    let mut ins: BTreeMap<&str, u64> = BTreeMap::new();
    let mut outs: BTreeMap<&str, u64> = BTreeMap::new();
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    let mut n_out = 0u64;
    for h in 1..=node.tip_height() {
        let Some(block) = node.block_at(h).and_then(|b| b.block()) else {
            continue;
        };
        for tx in block.txdata.iter().skip(1) {
            txs += 1;
            *ins.entry(bucket(tx.input.len())).or_default() += 1;
            *outs.entry(bucket(tx.output.len())).or_default() += 1;
            for o in &tx.output {
                // Core's output type names (`scriptPubKey.type`).
                let kind = ferrumx_simnode::corejson::output_type(o.script_pubkey.as_bytes());
                *kinds.entry(kind.name()).or_default() += 1;
                n_out += 1;
            }
        }
    }
    let pct = |n: u64, of: u64| 100.0 * n as f64 / of.max(1) as f64;
    println!(
        "height {}, {txs} transactions (coinbases excluded), {n_out} outputs",
        node.tip_height()
    );
    for (name, map, of) in [("inputs", &ins, txs), ("outputs", &outs, txs)] {
        let parts: Vec<String> = ["1", "2", "3-4", "5-20", "21-99", "100+"]
            .iter()
            .map(|b| format!("{b}: {:.1}%", pct(map.get(b).copied().unwrap_or(0), of)))
            .collect();
        println!("{name} per transaction: {}", parts.join(", "));
    }
    let parts: Vec<String> = kinds
        .iter()
        .map(|(k, n)| format!("{k}: {:.1}%", pct(*n, n_out)))
        .collect();
    println!("output types: {}", parts.join(", "));
    let mut lens: Vec<usize> = node
        .truth
        .script_hashes()
        .map(|sh| node.truth.history_len(sh))
        .collect();
    lens.sort_unstable_by(|a, b| b.cmp(a));
    let single = lens.iter().filter(|l| **l <= 2).count();
    println!(
        "script hashes: {}, {:.1}% with at most 2 history entries; longest histories: {:?}",
        lens.len(),
        pct(single as u64, lens.len() as u64),
        &lens[..lens.len().min(8)]
    );
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let mut node = load_node(&args)?;
    node.txindex = !args.no_txindex;
    let options = SimNodeOptions {
        addr: SocketAddr::new(args.bind, args.port),
        user_pass: Some((args.rpcuser.clone(), args.rpcpassword.clone())),
        cookie_dir: args.datadir.clone(),
        zmq: Vec::new(),
        zmq_publish: args.zmq,
        zmq_all_topics: false,
        core_version: args.core,
        txospenderindex: !args.no_txospenderindex,
        rest: args.rest,
    };
    let sim = SimNode::spawn(node, options)
        .map_err(|e| format!("cannot serve on {}:{}: {e}", args.bind, args.port))?;
    if args.warmup > 0 {
        sim.control().set_warmup(Some("Loading block index…"));
    }
    println!("DAEMON_URL={}", sim.daemon_url());
    if let Some(c) = sim.cookie_path() {
        println!("cookie file: {}", c.display());
    }
    let started = Instant::now();
    let mut last_block = Instant::now();
    let mut warm = args.warmup > 0;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc_handler(move || stop.store(true, std::sync::atomic::Ordering::SeqCst));
    }
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(200));
        if warm && started.elapsed() >= Duration::from_secs(args.warmup) {
            sim.control().set_warmup(None);
            warm = false;
        }
        if args.mine_every > 0 && last_block.elapsed() >= Duration::from_secs(args.mine_every) {
            last_block = Instant::now();
            let (height, added) = sim.with_node(|n| {
                let _ = n.mine(1);
                let added = n.add_traffic(args.traffic);
                (n.tip_height(), added.len())
            });
            tracing::info!(height, mempool_added = added, "mined a block");
        }
    }
    sim.shutdown();
    Ok(())
}

/// Installs a SIGINT/SIGTERM handler through tokio's signal support on a helper thread.
fn ctrlc_handler(f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::spawn(move || {
        rt.block_on(async {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{signal, SignalKind};
                if let Ok(mut term) = signal(SignalKind::terminate()) {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                } else {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
        });
        f();
    });
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Generate { chain, out }) => {
            // Straight into the file, block by block: bounded memory for any chain size.
            match archive::generate(&chain.params(), &out) {
                Ok(s) => {
                    tracing::info!(
                        height = s.blocks,
                        transactions = s.txs,
                        addresses = s.addresses,
                        bytes = s.bytes,
                        seconds = format!("{:.1}", s.secs),
                        tx_per_sec = format!("{:.0}", s.txs as f64 / s.secs.max(1e-9)),
                        "chain written"
                    );
                    Ok(())
                }
                Err(e) => Err(format!("{}: {e}", out.display())),
            }
        }
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Stats { chain_file }) => chainfile::load(&chain_file)
            .map(|node| print_stats(&node))
            .map_err(|e| format!("{}: {e}", chain_file.display())),
        None => serve(cli.serve),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrumx-simnode: {e}");
            ExitCode::FAILURE
        }
    }
}
