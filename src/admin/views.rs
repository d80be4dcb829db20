//! What operators see of the server, made once for every place that shows it: `getinfo`,
//! the `sessions` and `groups` rows (what the admin commands answer and `ferrumx_rpc`
//! turns into tables with [`text`]), and LOG_SESSIONS, which logs the same
//! `sessions` table and `getinfo` every LOG_SESSIONS seconds (ElectrumX's `_log_sessions`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::state::Admin;
use super::text;
use crate::config::Net;
use crate::electrum::manager::Registry;
use crate::electrum::methods::Method;
use crate::electrum::session::SessionState;
use crate::electrum::shared::SERVER_VERSION;

/// ElectrumX's coin class name for the network (`getinfo`'s `coin`).
fn coin_name(net: Net) -> &'static str {
    match net {
        Net::Mainnet => "BitcoinMainnet",
        Net::Testnet => "BitcoinTestnet3",
        Net::Testnet4 => "BitcoinTestnet4",
        Net::Signet => "BitcoinSignet",
        Net::Regtest => "BitcoinRegtest",
    }
}

/// `getinfo`: ElectrumX's summary of the server, from FerrumX's state.
pub fn getinfo(admin: &Admin) -> Value {
    let shared = &admin.shared;
    let sessions = admin.registry.by_age();
    let (entries, lookups, hits) = shared.histories.stats();
    let sum = |f: &dyn Fn(&SessionState) -> u64| sessions.iter().map(|s| f(s)).sum::<u64>();
    let uptime = SystemTime::now()
        .duration_since(admin.started)
        .map_or(0.0, |d| d.as_secs_f64());
    let daemon = shared
        .daemon
        .current_url()
        .map_or(Value::Null, |u| json!(text::logged_url(&u)));
    let method_counts = Method::request_counts(&shared.counters);
    json!({
        "coin": coin_name(admin.config.net),
        "daemon": daemon,
        "daemon height": admin.sync.daemon_height(),
        "db height": shared.index.tip().map(|t| t.0),
        "db_flush_count": admin.sync.flushes(),
        "groups": admin.registry.group_count(),
        "heap": crate::memory::heap_stats().map_or(Value::Null, |h| json!({
            "allocated": h.allocated,
            "free": h.free,
        })),
        "history cache": format!("{lookups} lookups, {hits} hits, {entries} entries"),
        "merkle txid cache": format!(
            "{} blocks' trees split at 32 leaves, over the txids cache",
            shared.tx_merkle.len()
        ),
        "pid": std::process::id(),
        "peers": admin.peers.info(),
        "request counts": Value::Object(
            method_counts.iter().map(|(m, n)| (m.to_string(), json!(n))).collect()
        ),
        "request total": method_counts.iter().map(|(_, n)| n).sum::<u64>(),
        "sessions": {
            "count": sessions.len(),
            "count with subs": sessions.iter().filter(|s| s.sub_count() > 0).count(),
            "errors": sum(&|s| s.errors.load(Ordering::Relaxed)),
            "logged": sessions.iter().filter(|s| s.log_me()).count(),
            "pending requests": sum(&|s| s.unanswered_requests()),
            "subs": sum(&|s| s.sub_count() as u64),
        },
        "txids cache": format!(
            "{} lookups, {} hits, {} entries",
            shared.counters.txids_lookups.load(Ordering::Relaxed),
            shared.counters.txids_hits.load(Ordering::Relaxed),
            shared.block_txids_cached()
        ),
        "txs sent": shared.counters.txs_sent.load(Ordering::Relaxed),
        "uptime": text::formatted_time(uptime, " "),
        "version": SERVER_VERSION,
    })
}

/// The `sessions` rows, oldest first (ElectrumX's `_session_data`): `[id, flags, peer,
/// client, proto, cost, extra_cost, reqs, txs_sent, subs, recv_count, recv_size,
/// send_count, send_size, seconds_connected]`. For the log (`for_log`), peers are redacted
/// under ANON_LOGS.
pub fn session_rows(registry: &Registry, for_log: bool) -> Value {
    let rows: Vec<Value> = registry
        .by_age()
        .iter()
        .map(|s| {
            let peer = if for_log {
                s.peer_for_log()
            } else {
                s.peer.to_string()
            };
            json!([
                s.id,
                s.flags(),
                peer,
                s.client(),
                s.with_protocol(|v| v.version_string()),
                s.cost(),
                s.extra_cost(),
                s.unanswered_requests(),
                s.txs_sent(),
                s.sub_count(),
                s.recv_count.load(Ordering::Relaxed),
                s.recv_size.load(Ordering::Relaxed),
                s.send_count.load(Ordering::Relaxed),
                s.send_size.load(Ordering::Relaxed),
                s.started.elapsed().as_secs_f64(),
            ])
        })
        .collect();
    Value::Array(rows)
}

/// The `groups` rows, in creation order (ElectrumX's `_group_data`): `[name, sessions,
/// cost, retained_cost, reqs, txs_sent, subs, recv_count, recv_size, send_count,
/// send_size]`.
pub fn group_rows(registry: &Registry) -> Value {
    let rows: Vec<Value> = registry
        .groups()
        .into_iter()
        .map(|g| {
            let members: Vec<Arc<SessionState>> = g
                .session_ids
                .iter()
                .filter_map(|id| registry.get(*id))
                .collect();
            let sum = |f: &dyn Fn(&SessionState) -> u64| members.iter().map(|s| f(s)).sum::<u64>();
            json!([
                g.name,
                members.len(),
                g.cost,
                g.retained_cost,
                sum(&|s| s.unanswered_requests()),
                sum(&|s| s.txs_sent()),
                sum(&|s| s.sub_count() as u64),
                sum(&|s| s.recv_count.load(Ordering::Relaxed)),
                sum(&|s| s.recv_size.load(Ordering::Relaxed)),
                sum(&|s| s.send_count.load(Ordering::Relaxed)),
                sum(&|s| s.send_size.load(Ordering::Relaxed)),
            ])
        })
        .collect();
    Value::Array(rows)
}

/// LOG_SESSIONS, until `shutdown`: every LOG_SESSIONS seconds the `sessions` table (peers
/// redacted under ANON_LOGS) and `getinfo` on one line, as ElectrumX logs them.
pub async fn log_sessions(admin: Arc<Admin>, shutdown: CancellationToken) {
    let Some(every) = admin.config.log_sessions else {
        return;
    };
    let mut tick = crate::electrum::registry::interval_after(every);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        for line in text::sessions_lines(&session_rows(&admin.registry, true)) {
            tracing::info!("{line}");
        }
        tracing::info!("{}", getinfo(&admin));
    }
}
