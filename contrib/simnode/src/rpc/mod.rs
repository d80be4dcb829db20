//! Bitcoin Core's RPC methods over the simulated [`Node`], plus `simnode_*` control methods.
//!
//! One table ([`METHODS`]) names every method and its parameters; [`NodeRpc::call`]
//! dispatches with an exhaustive `match`. Method families live in `chain.rs`, `mempool.rs`
//! and `control.rs`.

mod chain;
mod control;
mod mempool;
pub mod params;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::Value;

use crate::http::{Control, Handler, RpcError};
use crate::json::Json;
use crate::node::Node;
use params::{err, Params};

/// Core's `RPC_METHOD_NOT_FOUND`.
pub const RPC_METHOD_NOT_FOUND: i64 = -32601;

/// Every method with its parameter names (for named parameters and error messages).
pub const METHODS: &[(&str, &[&str])] = &[
    ("getblockchaininfo", &[]),
    ("getnetworkinfo", &[]),
    ("getblockcount", &[]),
    ("getbestblockhash", &[]),
    ("getblockhash", &["height"]),
    ("getblockheader", &["blockhash", "verbose"]),
    ("getblock", &["blockhash", "verbosity"]),
    ("getrawtransaction", &["txid", "verbose", "blockhash"]),
    ("getrawmempool", &["verbose", "mempool_sequence"]),
    ("getmempoolentry", &["txid"]),
    ("getmempoolinfo", &[]),
    ("estimatesmartfee", &["conf_target", "estimate_mode"]),
    (
        "sendrawtransaction",
        &["hexstring", "maxfeerate", "maxburnamount"],
    ),
    ("testmempoolaccept", &["rawtxs", "maxfeerate"]),
    ("submitpackage", &["package", "maxfeerate", "maxburnamount"]),
    ("getindexinfo", &["index_name"]),
    ("getchaintips", &[]),
    ("getzmqnotifications", &[]),
    ("uptime", &[]),
    ("simnode_mine", &["nblocks"]),
    ("simnode_addtraffic", &["ntx"]),
    ("simnode_rbf", &["txid"]),
    ("simnode_evict", &["txid"]),
    ("simnode_reorg", &["depth", "new_blocks"]),
    ("simnode_down", &["seconds"]),
    ("simnode_slow", &["millis"]),
    ("simnode_garbage", &["seconds"]),
    ("simnode_warmup", &["message", "seconds"]),
    ("simnode_truth", &["scripthash", "height"]),
    ("simnode_save", &["path"]),
];

/// ZMQ notification endpoints the node reports (`getzmqnotifications`).
#[derive(Clone, Debug, Default)]
pub struct ZmqEndpoint {
    pub kind: String,
    pub address: String,
    pub hwm: u32,
}

/// The RPC handler: the node behind a lock, the front end's control and start time.
#[derive(Clone)]
pub struct NodeRpc {
    pub node: Arc<Mutex<Node>>,
    pub control: Control,
    pub started: Instant,
    pub zmq: Vec<ZmqEndpoint>,
}

impl NodeRpc {
    /// A handler over `node`.
    pub fn new(node: Arc<Mutex<Node>>, control: Control) -> NodeRpc {
        NodeRpc {
            node,
            control,
            started: Instant::now(),
            zmq: Vec::new(),
        }
    }

    /// Locks the node (a poisoned lock is recovered: the node's data stays consistent
    /// because every mutation validates before it changes anything).
    pub fn lock(&self) -> MutexGuard<'_, Node> {
        self.node.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn help_for(method: &str, names: &[&str]) -> String {
    if method == "getblockhash" {
        return "getblockhash height\n\nReturns hash of block in best-block-chain at height provided.\n\nArguments:\n1. height    (numeric, required) The height index\n\nResult:\n\"hex\"    (string) The block hash\n\nExamples:\n> bitcoin-cli getblockhash 1000\n> curl --user myusername --data-binary '{\"jsonrpc\": \"2.0\", \"id\": \"curltest\", \"method\": \"getblockhash\", \"params\": [1000]}' -H 'content-type: application/json' http://127.0.0.1:8332/\n".to_string();
    }
    let mut s = method.to_string();
    for n in names {
        s.push(' ');
        s.push_str(n);
    }
    s.push('\n');
    s
}

impl Handler for NodeRpc {
    fn param_names(&self, method: &str) -> Option<&'static [&'static str]> {
        METHODS.iter().find(|(m, _)| *m == method).map(|(_, p)| *p)
    }

    fn call(&self, method: &str, values: &[Value]) -> Result<Json, RpcError> {
        let Some(names) = self.param_names(method) else {
            return Err(err(RPC_METHOD_NOT_FOUND, "Method not found"));
        };
        let help = help_for(method, names);
        let p = Params {
            values,
            names,
            help: &help,
        };
        match method {
            "getblockchaininfo" => chain::getblockchaininfo(self, &p),
            "getnetworkinfo" => chain::getnetworkinfo(&p),
            "getblockcount" => chain::getblockcount(self, &p),
            "getbestblockhash" => chain::getbestblockhash(self, &p),
            "getblockhash" => chain::getblockhash(self, &p),
            "getblockheader" => chain::getblockheader(self, &p),
            "getblock" => chain::getblock(self, &p),
            "getchaintips" => chain::getchaintips(self, &p),
            "getindexinfo" => chain::getindexinfo(self, &p),
            "getzmqnotifications" => chain::getzmqnotifications(self, &p),
            "uptime" => {
                p.arity(0)?;
                Ok(Json::Int(self.started.elapsed().as_secs() as i64))
            }
            "getrawtransaction" => mempool::getrawtransaction(self, &p),
            "getrawmempool" => mempool::getrawmempool(self, &p),
            "getmempoolentry" => mempool::getmempoolentry(self, &p),
            "getmempoolinfo" => mempool::getmempoolinfo(self, &p),
            "estimatesmartfee" => mempool::estimatesmartfee(self, &p),
            "sendrawtransaction" => mempool::sendrawtransaction(self, &p),
            "testmempoolaccept" => mempool::testmempoolaccept(self, &p),
            "submitpackage" => mempool::submitpackage(self, &p),
            _ => control::call(self, method, &p),
        }
    }
}
