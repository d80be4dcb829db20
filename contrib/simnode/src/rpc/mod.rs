//! Bitcoin Core's RPC methods over the simulated [`Node`], plus `simnode_*` control methods.
//!
//! One table ([`METHODS`]) names every method and its parameters (with their types);
//! [`NodeRpc::call`] checks them as Core does and dispatches with an exhaustive `match`.
//! Method families live in `chain.rs`, `mempool.rs`, `submit.rs` (sending and testing
//! transactions), `spending.rs` (`gettxspendingprevout`) and `control.rs`. Core 31.0 mode changes some declarations ([`METHODS_V31`], [`NAMED_ONLY_V31`]).

mod chain;
mod control;
mod mempool;
pub mod params;
mod spending;
mod submit;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bitcoin::BlockHash;
use serde_json::Value;

use crate::http::{Control, Handler, RpcError};
use crate::json::Json;
use crate::node::Node;
use crate::version::CoreVersion;
use params::{err, ArgSpec, ArgType::*, Params};

/// Core's `RPC_METHOD_NOT_FOUND`.
pub const RPC_METHOD_NOT_FOUND: i64 = -32601;

/// Every method with its parameter names, in Core's form (`"a|b"`: `b` is an alias of `a`,
/// for named parameters), and each parameter's type and requiredness as Core 29.0 declares
/// them (checked before the method runs, see [`Params::check`]).
pub const METHODS: &[(&str, &[&str], &[ArgSpec])] = &[
    ("getblockchaininfo", &[], &[]),
    ("getnetworkinfo", &[], &[]),
    ("getblockcount", &[], &[]),
    ("getbestblockhash", &[], &[]),
    ("getblockhash", &["height"], &[(Num, true)]),
    (
        "getblockheader",
        &["blockhash", "verbose"],
        &[(Str, true), (Bool, false)],
    ),
    (
        "getblock",
        &["blockhash", "verbosity|verbose"],
        &[(Str, true), (Unchecked, false)],
    ),
    (
        "getrawtransaction",
        &["txid", "verbosity|verbose", "blockhash"],
        &[(Str, true), (Unchecked, false), (Str, false)],
    ),
    (
        "getrawmempool",
        &["verbose", "mempool_sequence"],
        &[(Bool, false), (Bool, false)],
    ),
    ("getmempoolentry", &["txid"], &[(Str, true)]),
    ("getmempoolinfo", &[], &[]),
    (
        "estimatesmartfee",
        &["conf_target", "estimate_mode"],
        &[(Num, true), (Str, false)],
    ),
    (
        "sendrawtransaction",
        &["hexstring", "maxfeerate", "maxburnamount"],
        &[(Str, true), (Unchecked, false), (Unchecked, false)],
    ),
    (
        "testmempoolaccept",
        &["rawtxs", "maxfeerate"],
        &[(Arr, true), (Unchecked, false)],
    ),
    (
        "submitpackage",
        &["package", "maxfeerate", "maxburnamount"],
        &[(Arr, true), (Unchecked, false), (Unchecked, false)],
    ),
    ("getindexinfo", &["index_name"], &[(Str, false)]),
    ("gettxspendingprevout", &["outputs"], &[(Arr, true)]),
    ("help", &["command"], &[(Str, false)]),
    ("getchaintips", &[], &[]),
    ("getzmqnotifications", &[], &[]),
    ("uptime", &[], &[]),
    // The stand-in's own methods check their parameters themselves.
    ("simnode_mine", &["nblocks"], &[(Unchecked, false)]),
    ("simnode_addtraffic", &["ntx"], &[(Unchecked, false)]),
    ("simnode_rbf", &["txid"], &[(Unchecked, false)]),
    ("simnode_evict", &["txid"], &[(Unchecked, false)]),
    (
        "simnode_reorg",
        &["depth", "new_blocks"],
        &[(Unchecked, false), (Unchecked, false)],
    ),
    ("simnode_down", &["seconds"], &[(Unchecked, false)]),
    ("simnode_slow", &["millis"], &[(Unchecked, false)]),
    ("simnode_garbage", &["seconds"], &[(Unchecked, false)]),
    (
        "simnode_warmup",
        &["message", "seconds"],
        &[(Unchecked, false), (Unchecked, false)],
    ),
    (
        "simnode_truth",
        &["scripthash", "height"],
        &[(Unchecked, false), (Unchecked, false)],
    ),
    ("simnode_save", &["path"], &[(Unchecked, false)]),
];

/// Methods whose parameters differ as Core 31.0 (looked up before [`METHODS`] then).
pub const METHODS_V31: &[(&str, &[&str], &[ArgSpec])] = &[(
    "gettxspendingprevout",
    &["outputs", "options"],
    &[(Arr, true), (Obj, false)],
)];

/// Core 31.0's named-only parameters (`OBJ_NAMED_PARAMS`): method, position of the options
/// object they go into, their names.
pub const NAMED_ONLY_V31: &[(&str, usize, &[&str])] = &[(
    "gettxspendingprevout",
    1,
    &["mempool_only", "return_spending_tx"],
)];

/// The parameter names and types of `method` as `core` declares them.
pub fn method_spec(
    core: CoreVersion,
    method: &str,
) -> Option<(&'static [&'static str], &'static [ArgSpec])> {
    let v31 = match core {
        CoreVersion::V31 => METHODS_V31,
        CoreVersion::V29 => &[],
    };
    v31.iter()
        .chain(METHODS)
        .find(|(m, _, _)| *m == method)
        .map(|(_, names, specs)| (*names, *specs))
}

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

/// The help text of `method` (Core's `help <method>`, also returned as a -1 error when the
/// number of parameters is wrong). Core's full text where it was recorded (`getblockhash`;
/// `gettxspendingprevout` and `testmempoolaccept` of Core 31.0); otherwise the one-line
/// summary.
fn help_for(core: CoreVersion, method: &str, names: &[&str]) -> String {
    match (core, method) {
        (_, "getblockhash") => return "getblockhash height\n\nReturns hash of block in best-block-chain at height provided.\n\nArguments:\n1. height    (numeric, required) The height index\n\nResult:\n\"hex\"    (string) The block hash\n\nExamples:\n> bitcoin-cli getblockhash 1000\n> curl --user myusername --data-binary '{\"jsonrpc\": \"2.0\", \"id\": \"curltest\", \"method\": \"getblockhash\", \"params\": [1000]}' -H 'content-type: application/json' http://127.0.0.1:8332/\n".to_string(),
        (CoreVersion::V31, "gettxspendingprevout") => {
            return include_str!("help/gettxspendingprevout_v31.txt").to_string()
        }
        (CoreVersion::V31, "testmempoolaccept") => {
            return include_str!("help/testmempoolaccept_v31.txt").to_string()
        }
        _ => {}
    }
    let mut s = method.to_string();
    for n in names {
        s.push(' ');
        s.push_str(n.split('|').next().unwrap_or(n));
    }
    s.push('\n');
    s
}

/// Core's `help`: one method's text, or (simplified) every Core method's summary line.
fn help_method(core: CoreVersion, p: &Params) -> Result<Json, RpcError> {
    match p.str(0)? {
        Some(method) => match method_spec(core, method) {
            Some((names, _)) if !method.starts_with("simnode_") => {
                Ok(Json::Str(help_for(core, method, names)))
            }
            _ => Ok(Json::Str(format!("help: unknown command: {method}"))),
        },
        None => {
            let mut lines: Vec<String> = METHODS
                .iter()
                .filter(|(m, _, _)| !m.starts_with("simnode_"))
                .filter_map(|(m, _, _)| method_spec(core, m).map(|(names, _)| (m, names)))
                .map(|(m, names)| help_for(CoreVersion::V29, m, names).trim_end().to_string())
                .collect();
            lines.sort();
            Ok(Json::Str(lines.join("\n")))
        }
    }
}

impl Handler for NodeRpc {
    fn param_names(&self, method: &str) -> Option<&'static [&'static str]> {
        method_spec(self.lock().core, method).map(|(names, _)| names)
    }

    fn named_only(&self, method: &str) -> Option<(usize, &'static [&'static str])> {
        if self.lock().core != CoreVersion::V31 {
            return None;
        }
        NAMED_ONLY_V31
            .iter()
            .find(|(m, _, _)| *m == method)
            .map(|(_, at, names)| (*at, *names))
    }

    fn raw_block(&self, hash: &BlockHash) -> Option<Vec<u8>> {
        // A block of a disk-backed chain is read from the file without holding the node.
        let disk = {
            let node = self.lock();
            let b = node.block(hash)?;
            match &b.disk {
                Some(d) => d.clone(),
                None => return Some(b.raw.clone()),
            }
        };
        disk.read().ok()
    }

    fn active_hash(&self, height: u32) -> Option<BlockHash> {
        self.lock().hash_at(height)
    }

    fn call(&self, method: &str, values: &[Value]) -> Result<Json, RpcError> {
        let core = self.lock().core;
        let Some((names, specs)) = method_spec(core, method) else {
            return Err(err(RPC_METHOD_NOT_FOUND, "Method not found"));
        };
        let help = help_for(core, method, names);
        let p = Params {
            values,
            names,
            specs,
            help: &help,
        };
        p.check()?;
        match method {
            "getblockchaininfo" => chain::getblockchaininfo(self),
            "getnetworkinfo" => chain::getnetworkinfo(self),
            "getblockcount" => chain::getblockcount(self),
            "getbestblockhash" => chain::getbestblockhash(self),
            "getblockhash" => chain::getblockhash(self, &p),
            "getblockheader" => chain::getblockheader(self, &p),
            "getblock" => chain::getblock(self, &p),
            "getchaintips" => chain::getchaintips(self),
            "getindexinfo" => chain::getindexinfo(self, &p),
            "getzmqnotifications" => chain::getzmqnotifications(self),
            "uptime" => Ok(Json::Int(self.started.elapsed().as_secs() as i64)),
            "getrawtransaction" => mempool::getrawtransaction(self, &p),
            "getrawmempool" => mempool::getrawmempool(self, &p),
            "getmempoolentry" => mempool::getmempoolentry(self, &p),
            "getmempoolinfo" => mempool::getmempoolinfo(self),
            "estimatesmartfee" => mempool::estimatesmartfee(self, &p),
            "sendrawtransaction" => submit::sendrawtransaction(self, &p),
            "testmempoolaccept" => submit::testmempoolaccept(self, &p),
            "submitpackage" => submit::submitpackage(self, &p),
            "gettxspendingprevout" => spending::gettxspendingprevout(self, &p),
            "help" => help_method(core, &p),
            _ => control::call(self, method, &p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::METHODS;

    #[test]
    fn every_parameter_has_a_type() {
        for (method, names, specs) in METHODS.iter().chain(super::METHODS_V31) {
            assert_eq!(names.len(), specs.len(), "{method}");
        }
    }
}
