//! `ferrumx-simnode`: a bitcoind stand-in for FerrumX's tests, benches and demo.
//!
//! It generates deterministic regtest chains made of real, signed transactions of every
//! common script type, knows the truth about them (history, UTXOs and balance of every
//! script hash at every height), and serves them over Bitcoin Core 29.0's JSON-RPC dialect, or
//! Core 31.0's ([`SimNodeOptions::core_version`]).
//! It is a development tool and is never linked into the `ferrumx` server.
//!
//! Layout:
//! - [`wallet`]: deterministic keys, output scripts of every kind, signing.
//! - [`gen`]: the transaction generator ([`addrbook`]: its addresses, compactly) (mainnet-like mix, address reuse, big transactions).
//! - [`blockbuild`]: coinbase, witness commitment, merkle root, proof of work.
//! - [`node`]: block tree, UTXO set with undo data, txindex, mining; [`mempool`] and
//!   [`accept`] (Core's mempool checks and reject reasons); [`ops`] (traffic, RBF,
//!   eviction, reorgs).
//! - [`truth`]: Electrum-level truth (history, UTXOs, balance per script hash and height).
//! - [`chainfile`]: saved chains; [`archive`]: big chains generated into a chain file in
//!   bounded memory and served from it; [`recorded`]: the chain recorded from a real Core 29.0
//!   (and the Core 31.0 answers recorded on it).
//! - [`version`]: which Core the stand-in answers as (29.0 or 31.0, [`CoreVersion`]);
//!   [`spenders`]: the active chain's spends (Core 31's `-txospenderindex`).
//! - [`json`]: an ordered JSON value printed the way Core's `UniValue` prints numbers;
//!   [`corejson`]: Core's verbose shapes (`getblock`, `getblockheader`, `getrawtransaction`).
//! - [`http`]: the HTTP/1.1 JSON-RPC front end (auth, batches, status codes, warm-up,
//!   down/slow/garbage modes); [`rpc`]: the methods.

pub mod accept;
pub mod addrbook;
pub mod archive;
pub mod blockbuild;
pub mod chainfile;
pub mod cluster;
pub mod corejson;
pub mod fund;
pub mod gen;
pub mod http;
pub mod json;
pub mod mempool;
pub mod node;
pub mod ops;
pub mod rbf;
pub mod recorded;
pub mod rpc;
pub mod spenders;
pub mod truth;
pub mod version;
pub mod wallet;
pub mod zmq;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use gen::GenParams;
pub use node::Node;
pub use truth::ScriptHash;
pub use version::CoreVersion;

/// How to serve a node.
#[derive(Clone, Debug)]
pub struct SimNodeOptions {
    /// Listening address; port 0 picks a free one.
    pub addr: SocketAddr,
    /// `rpcuser`/`rpcpassword`; `None` disables password auth.
    pub user_pass: Option<(String, String)>,
    /// Data directory where a `.cookie` file is written (as bitcoind does); `None` for none.
    pub cookie_dir: Option<PathBuf>,
    /// Endpoints reported by `getzmqnotifications`.
    pub zmq: Vec<rpc::ZmqEndpoint>,
    /// Publish `hashblock` and `hashtx` over ZMQ (on a free port of 127.0.0.1), as
    /// bitcoind with `-zmqpubhashblock`/`-zmqpubhashtx` does; `getzmqnotifications` then
    /// reports that endpoint instead of `zmq`.
    pub zmq_publish: bool,
    /// With `zmq_publish`: also publish `rawblock`, `rawtx` and `sequence` on the same port
    /// (bitcoind with every `-zmqpub*` option pointing there).
    pub zmq_all_topics: bool,
    /// Which Bitcoin Core to answer as (29 by default); written into the node by
    /// [`SimNode::spawn`] (`Node::core`).
    pub core_version: CoreVersion,
    /// Core 31's `-txospenderindex` (on by default; `getindexinfo` lists it and
    /// `gettxspendingprevout` answers confirmed spends only with it). Ignored as Core 29.
    pub txospenderindex: bool,
    /// bitcoind's `-rest`: serve the REST endpoints (`http::rest`) on the RPC port. Off by
    /// default, as in Core; [`http::Control::set_rest`] switches it at run time.
    pub rest: bool,
}

impl Default for SimNodeOptions {
    fn default() -> SimNodeOptions {
        SimNodeOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            user_pass: Some(("user".to_string(), "pass".to_string())),
            cookie_dir: None,
            zmq: Vec::new(),
            zmq_publish: false,
            zmq_all_topics: false,
            core_version: CoreVersion::default(),
            txospenderindex: true,
            rest: false,
        }
    }
}

/// A running stand-in: the node, its JSON-RPC server and a runtime of its own, so that
/// synchronous tests (e.g. with the blocking `bitcoincore-rpc` client) can use it.
pub struct SimNode {
    rpc: rpc::NodeRpc,
    server: Option<http::RunningServer>,
    runtime: Option<tokio::runtime::Runtime>,
    addr: SocketAddr,
    options: SimNodeOptions,
    zmq_subscriptions: zmq::Subscriptions,
}

impl SimNode {
    /// Starts serving `node`.
    ///
    /// # Errors
    /// The runtime could not start, the address could not be bound, or the cookie file could
    /// not be written.
    pub fn spawn(mut node: Node, options: SimNodeOptions) -> io::Result<SimNode> {
        node.core = options.core_version;
        node.txospenderindex = options.txospenderindex;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("simnode")
            .enable_all()
            .build()?;
        let control = http::Control::new();
        control.set_rest(options.rest);
        let node = Arc::new(Mutex::new(node));
        let mut rpc = rpc::NodeRpc::new(node.clone(), control.clone());
        rpc.zmq = options.zmq.clone();
        let mut zmq_subscriptions = zmq::Subscriptions::default();
        if options.zmq_publish {
            let topics = if options.zmq_all_topics {
                zmq::Topics::All
            } else {
                zmq::Topics::Hashes
            };
            let start = zmq::start(node, topics);
            (rpc.zmq, zmq_subscriptions) =
                std::thread::scope(|s| s.spawn(|| runtime.block_on(start)).join())
                    .map_err(|_| io::Error::other("ZMQ start-up panicked"))??;
        }
        let mut auth = Vec::new();
        if let Some((user, password)) = &options.user_pass {
            auth.push(http::Auth::UserPass {
                user: user.clone(),
                password: password.clone(),
            });
        }
        if let Some(dir) = &options.cookie_dir {
            std::fs::create_dir_all(dir)?;
            auth.push(http::Auth::Cookie {
                path: dir.join(".cookie"),
            });
        }
        let handler: Arc<dyn http::Handler> = Arc::new(rpc.clone());
        let start = http::RpcServer::start(options.addr, auth, handler, control);
        // From a helper thread: `spawn` may itself be called inside a tokio runtime.
        let server = std::thread::scope(|s| s.spawn(|| runtime.block_on(start)).join())
            .map_err(|_| io::Error::other("stand-in start-up panicked"))??;
        let addr = server.local_addr();
        Ok(SimNode {
            rpc,
            server: Some(server),
            runtime: Some(runtime),
            addr,
            options,
            zmq_subscriptions,
        })
    }

    /// The ZMQ topics subscribed to so far, in order (with `zmq_publish`).
    pub fn zmq_subscriptions(&self) -> Vec<String> {
        self.zmq_subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A DAEMON_URL for ElectrumX or FerrumX: `http://user:pass@127.0.0.1:PORT/`.
    pub fn daemon_url(&self) -> String {
        match &self.options.user_pass {
            Some((u, p)) => format!("http://{u}:{p}@{}/", self.addr),
            None => format!("http://{}/", self.addr),
        }
    }

    /// The user and password, if password auth is on.
    pub fn user_pass(&self) -> Option<(String, String)> {
        self.options.user_pass.clone()
    }

    /// Path of the cookie file, if cookie auth is on.
    pub fn cookie_path(&self) -> Option<PathBuf> {
        self.options.cookie_dir.as_ref().map(|d| d.join(".cookie"))
    }

    /// Runs `f` with the node locked (mine, add traffic, reorg, read the truth, ...).
    pub fn with_node<R>(&self, f: impl FnOnce(&mut Node) -> R) -> R {
        f(&mut self.rpc.lock())
    }

    /// The front end's switches (warm-up, delay, garbage).
    pub fn control(&self) -> &http::Control {
        &self.rpc.control
    }

    /// Runs `fut` to completion on the stand-in's runtime, from a helper thread so that this
    /// also works when the caller is itself inside a tokio runtime (async tests).
    fn run<T: Send>(&self, fut: impl std::future::Future<Output = T> + Send) -> Option<T> {
        let rt = self.runtime.as_ref()?;
        std::thread::scope(|s| s.spawn(|| rt.block_on(fut)).join().ok())
    }

    /// Refuses connections until [`SimNode::come_up`]. Callable from sync or async code.
    pub fn go_down(&self) {
        let control = self.rpc.control.clone();
        self.run(async move { control.go_down().await });
    }

    /// Listens again on the same port. Callable from sync or async code.
    ///
    /// # Errors
    /// The port could not be bound again.
    pub fn come_up(&self) -> io::Result<()> {
        let control = self.rpc.control.clone();
        self.run(async move { control.come_up().await })
            .unwrap_or(Ok(()))
    }

    /// Stops the server and its runtime.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            self.run(server.shutdown());
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for SimNode {
    fn drop(&mut self) {
        self.stop();
    }
}
