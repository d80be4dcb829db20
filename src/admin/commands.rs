//! What each admin command does and answers: ElectrumX 1.20's `SessionManager.rpc_*`
//! methods, over FerrumX's state.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::query;
use super::state::{Admin, After};
use super::text;
use super::views;
use crate::config::parse_daemon_urls;
use crate::daemon::{Daemon, DaemonOptions};
use crate::electrum::session::SessionState;
use crate::indexer::{ForcedReorg, ForcedReorgError};
use crate::jsonrpc::RpcError;
use crate::jsonrpc::Signature;
use crate::py::thousands;

/// How long `reorg` waits for the block processor to roll back.
const REORG_WAIT: Duration = Duration::from_secs(120);
/// How long `daemon_url` waits for the new daemon's genesis block.
const DAEMON_CHECK: Duration = Duration::from_secs(10);

/// The admin commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Command {
    AddPeer,
    DaemonUrl,
    Disconnect,
    GetInfo,
    Groups,
    Log,
    Peers,
    Query,
    Reorg,
    Sessions,
    Stop,
}

impl Command {
    pub fn lookup(name: &str) -> Option<Command> {
        Some(match name {
            "add_peer" => Command::AddPeer,
            "daemon_url" => Command::DaemonUrl,
            "disconnect" => Command::Disconnect,
            "getinfo" => Command::GetInfo,
            "groups" => Command::Groups,
            "log" => Command::Log,
            "peers" => Command::Peers,
            "query" => Command::Query,
            "reorg" => Command::Reorg,
            "sessions" => Command::Sessions,
            "stop" => Command::Stop,
            _ => return None,
        })
    }

    /// Parameter names as ElectrumX's handlers name them (`electrumx_rpc` passes them by
    /// name). `daemon_url`, `query`'s `limit` and `reorg`'s `count` may be left out here.
    pub fn signature(self) -> Signature {
        let (names, required): (&'static [&'static str], usize) = match self {
            Command::AddPeer => (&["real_name"], 1),
            Command::DaemonUrl => (&["daemon_url"], 0),
            Command::Disconnect | Command::Log => (&["session_ids"], 1),
            Command::Query => (&["items", "limit"], 1),
            Command::Reorg => (&["count"], 0),
            Command::GetInfo
            | Command::Groups
            | Command::Peers
            | Command::Sessions
            | Command::Stop => (&[], 0),
        };
        Signature {
            names,
            required,
            varargs: false,
            varkw: false,
        }
    }
}

/// Runs `cmd` with its bound arguments.
pub(super) async fn run(
    admin: &Admin,
    cmd: Command,
    mut args: Vec<Option<Value>>,
) -> (Result<Value, RpcError>, After) {
    let mut arg = |i: usize| args.get_mut(i).and_then(Option::take);
    let outcome = match cmd {
        Command::AddPeer => add_peer(admin, arg(0)),
        Command::DaemonUrl => daemon_url(admin, arg(0)).await,
        Command::Disconnect => disconnect(admin, arg(0)),
        Command::GetInfo => Ok(views::getinfo(admin)),
        Command::Groups => Ok(views::group_rows(&admin.registry)),
        Command::Log => log(admin, arg(0)),
        Command::Peers => Ok(admin.peers.rpc_data()),
        Command::Query => {
            let items = arg(0);
            let limit = arg(1);
            run_query(admin, items, limit).await
        }
        Command::Reorg => reorg(admin, arg(0)).await,
        Command::Sessions => Ok(views::session_rows(&admin.registry, false)),
        Command::Stop => {
            return (Ok(json!("stopping")), After { stop: true });
        }
    };
    (outcome, After::default())
}

/// What `disconnect` and `log` arguments name (ElectrumX's `_session_references`).
#[derive(Debug, Default)]
struct References {
    sessions: Vec<Arc<SessionState>>,
    /// Group names (lower case) and their members.
    groups: Vec<(String, Vec<u64>)>,
    specials: BTreeSet<String>,
    unknown: Vec<String>,
}

fn references(
    admin: &Admin,
    items: Option<Value>,
    special: &[&str],
) -> Result<References, RpcError> {
    let bad = || RpcError::bad_request("expected a list of session IDs");
    let items = match items {
        Some(Value::Array(items)) => items,
        _ => return Err(bad()),
    };
    let mut refs = References::default();
    for item in items {
        let Value::String(item) = item else {
            return Err(bad());
        };
        if !item.is_empty() && item.bytes().all(|b| b.is_ascii_digit()) {
            let found = item
                .parse::<u64>()
                .ok()
                .and_then(|id| admin.registry.get(id));
            match found {
                Some(s) if !refs.sessions.iter().any(|x| x.id == s.id) => refs.sessions.push(s),
                Some(_) => {}
                None => refs.unknown.push(item),
            }
            continue;
        }
        let lower = item.to_lowercase();
        if special.contains(&lower.as_str()) {
            refs.specials.insert(lower);
        } else if let Some(members) = admin.registry.group_members(&lower) {
            if !refs.groups.iter().any(|(n, _)| *n == lower) {
                refs.groups.push((lower, members));
            }
        } else {
            refs.unknown.push(item);
        }
    }
    refs.sessions.sort_by_key(|s| s.id);
    Ok(refs)
}

/// `disconnect`: closes the named sessions, the members of the named groups, or all.
fn disconnect(admin: &Admin, ids: Option<Value>) -> Result<Value, RpcError> {
    let refs = references(admin, ids, &["all"])?;
    let mut lines = Vec::new();
    let mut close: Vec<Arc<SessionState>> = Vec::new();
    if refs.specials.contains("all") {
        close = admin.registry.by_age();
        lines.push("disconnecting all sessions".to_string());
    } else {
        for s in &refs.sessions {
            lines.push(format!("disconnecting session {}", s.id));
        }
        close.extend(refs.sessions.iter().cloned());
        for (name, members) in &refs.groups {
            lines.push(format!("disconnecting group {name}"));
            for id in members {
                if close.iter().any(|s| s.id == *id) {
                    continue;
                }
                if let Some(s) = admin.registry.get(*id) {
                    close.push(s);
                }
            }
        }
    }
    lines.extend(refs.unknown.iter().map(|u| format!("unknown: {u}")));
    if !close.is_empty() {
        let ids: Vec<String> = close.iter().map(|s| s.id.to_string()).collect();
        tracing::info!(
            "local RPC request to disconnect session ids {}",
            ids.join(", ")
        );
        for s in &close {
            s.closing.cancel();
        }
    }
    Ok(json!(lines))
}

/// `log`: toggles logging of the named sessions and groups' members; `all`, `none` and
/// `new` as ElectrumX.
fn log(admin: &Admin, ids: Option<Value>) -> Result<Value, RpcError> {
    let refs = references(admin, ids, &["all", "none", "new"])?;
    let mut lines = Vec::new();
    let mut said = |text: String, on: bool| {
        lines.push(if on {
            format!("logging {text}")
        } else {
            format!("not logging {text}")
        });
    };
    if refs.specials.contains("all") {
        for s in admin.registry.by_age() {
            s.set_log(true);
        }
        admin.registry.set_log_new(true);
        said("all sessions".into(), true);
    }
    if refs.specials.contains("none") {
        for s in admin.registry.by_age() {
            s.set_log(false);
        }
        admin.registry.set_log_new(false);
        lines.push("logging no sessions".into());
    }
    if refs.specials.contains("new") {
        let on = !admin.registry.log_new();
        admin.registry.set_log_new(on);
        lines.push(if on {
            "logging new sessions".into()
        } else {
            "not logging new sessions".into()
        });
    }
    let mut done: Vec<u64> = Vec::new();
    for s in &refs.sessions {
        done.push(s.id);
        let on = s.toggle_log();
        lines.push(if on {
            format!("logging session {}", s.id)
        } else {
            format!("not logging session {}", s.id)
        });
    }
    for (_, members) in &refs.groups {
        for id in members {
            if done.contains(id) {
                continue;
            }
            if let Some(s) = admin.registry.get(*id) {
                done.push(s.id);
                let on = s.toggle_log();
                lines.push(if on {
                    format!("logging session {}", s.id)
                } else {
                    format!("not logging session {}", s.id)
                });
            }
        }
    }
    lines.extend(refs.unknown.iter().map(|u| format!("unknown: {u}")));
    if !done.is_empty() || !refs.specials.is_empty() {
        tracing::info!("local RPC request to toggle logging: {}", lines.join("; "));
    }
    Ok(json!(lines))
}

/// `add_peer`: adds a peer by its real name and starts verifying it.
fn add_peer(admin: &Admin, real_name: Option<Value>) -> Result<Value, RpcError> {
    let Some(Value::String(real_name)) = real_name else {
        return Err(RpcError::bad_request(
            "expected a peer's real name, e.g. \"host.example v1.4 s t\"",
        ));
    };
    admin
        .peers
        .add(&real_name, "RPC")
        .map_err(|e| RpcError::bad_request(format!("cannot add peer '{real_name}': {e}")))?;
    Ok(json!(format!("peer '{real_name}' added")))
}

/// `daemon_url`: switches to other daemons (DAEMON_URL syntax; empty for the configured
/// DAEMON_URL), after checking that they serve the configured network when they answer.
async fn daemon_url(admin: &Admin, url: Option<Value>) -> Result<Value, RpcError> {
    let url = match url {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(_) => return Err(RpcError::bad_request("expected a DAEMON_URL string")),
    };
    let endpoints = if url.trim().is_empty() {
        admin.config.daemon_endpoints.clone()
    } else {
        parse_daemon_urls(&url, admin.config.net.default_rpc_port())
            .map_err(|e| RpcError::bad_request(format!("invalid daemon URL: {e}")))?
    };
    let network = admin.shared.daemon.network();
    let probe = Daemon::with_options(
        endpoints.clone(),
        network,
        DaemonOptions {
            retry_base: Duration::from_millis(200),
            retry_cap: Duration::from_secs(2),
            timeout: DAEMON_CHECK,
            reply_timeout: DAEMON_CHECK,
            max_connections: 1,
            shutdown: admin.shutdown.child_token(),
            ..DaemonOptions::default()
        },
    )
    .give_up_after(DAEMON_CHECK);
    match probe.check_network().await {
        Ok(()) => {}
        Err(e @ crate::daemon::Error::WrongNetwork { .. }) => {
            return Err(RpcError::bad_request(format!("not switching daemons: {e}")))
        }
        Err(e) => tracing::warn!("the new daemon does not answer yet: {e}"),
    }
    admin
        .shared
        .daemon
        .set_endpoints(endpoints)
        .map_err(|e| RpcError::bad_request(e.to_string()))?;
    let now = admin
        .shared
        .daemon
        .current_url()
        .map(|u| text::logged_url(&u))
        .unwrap_or_default();
    Ok(json!(format!("now using daemon at {now}")))
}

/// ElectrumX's `non_negative_integer`: an integer, or a string of one, not negative.
fn non_negative(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `reorg`: rolls back the last `count` blocks (3 by default) and lets the block processor
/// apply the daemon's blocks again.
async fn reorg(admin: &Admin, count: Option<Value>) -> Result<Value, RpcError> {
    let count = match count {
        None | Some(Value::Null) => 3,
        Some(v) => non_negative(&v)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                RpcError::bad_request(format!("{} should be a non-negative integer", shown(&v)))
            })?,
    };
    if !admin.sync.caught_up() {
        return Err(RpcError::bad_request(
            ForcedReorgError::CatchingUp.to_string(),
        ));
    }
    let fork = ForcedReorg::request(&admin.reorgs, count, REORG_WAIT)
        .await
        .map_err(|why| RpcError::bad_request(why.to_string()))?;
    Ok(json!(format!(
        "reorg of {} blocks: rolled back to height {}, catching up with the daemon",
        thousands(count),
        thousands(fork)
    )))
}

/// `query`: history, UTXOs and balance of addresses, scripts and script hashes.
async fn run_query(
    admin: &Admin,
    items: Option<Value>,
    limit: Option<Value>,
) -> Result<Value, RpcError> {
    let bad =
        || RpcError::bad_request("expected a list of addresses, hex scripts or script hashes");
    let items: Vec<String> = match items {
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                _ => Err(bad()),
            })
            .collect::<Result<_, _>>()?,
        Some(Value::String(s)) => vec![s],
        _ => return Err(bad()),
    };
    let limit = match limit {
        None | Some(Value::Null) => query::DEFAULT_LIMIT,
        Some(v) => non_negative(&v).ok_or_else(|| {
            RpcError::bad_request(format!("{} should be a non-negative integer", shown(&v)))
        })?,
    };
    let shared = admin.shared.clone();
    let lines = tokio::task::spawn_blocking(move || query::run(&shared, &items, limit))
        .await
        .map_err(|e| RpcError::bad_request(format!("query failed: {e}")))?
        .map_err(|e| RpcError::bad_request(format!("query failed: {e}")))?;
    Ok(json!(lines))
}
