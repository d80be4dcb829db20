//! bitcoind's ZMQ notifications, used only as a doorbell: when the daemon publishes a new
//! block (`hashblock`, `rawblock`, `sequence`) or mempool transaction (`hashtx`, `rawtx`,
//! `sequence`), the block prefetcher or the mempool poller looks at once instead of at its
//! next poll. Message contents are never trusted: polling stays the source of truth, and a
//! daemon without ZMQ (or with it misconfigured) only loses the speed-up.
//!
//! Only the topics used are subscribed to: one for blocks and one for transactions, the
//! smallest published (`hashblock`, else `sequence`, else `rawblock`; `hashtx`, else
//! `sequence`, else `rawtx`), so a daemon publishing raw blocks and transactions beside the
//! hashes does not send them all to FerrumX for nothing.
//!
//! The endpoints come from the daemon itself (`getzmqnotifications`), as Fulcrum finds
//! them, so there is nothing to configure: start bitcoind with e.g.
//! `-zmqpubhashblock=tcp://127.0.0.1:28332 -zmqpubhashtx=tcp://127.0.0.1:28332`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use zeromq::{Socket, SocketRecv};

use super::client::Daemon;

/// Who to wake for a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wakes {
    Blocks,
    Mempool,
    Both,
}

fn topic_of(kind: &str) -> Option<(&'static str, Wakes)> {
    Some(match kind {
        "pubhashblock" => ("hashblock", Wakes::Blocks),
        "pubrawblock" => ("rawblock", Wakes::Blocks),
        "pubhashtx" => ("hashtx", Wakes::Mempool),
        "pubrawtx" => ("rawtx", Wakes::Mempool),
        "pubsequence" => ("sequence", Wakes::Both),
        _ => return None,
    })
}

/// The endpoints to subscribe to, by address: the topics there. An address bound to all
/// interfaces (`0.0.0.0`, `*`, `[::]`) is reached at the daemon's host.
pub fn endpoints(answer: &Value, daemon_host: &str) -> BTreeMap<String, Vec<&'static str>> {
    let mut out: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    for item in answer.as_array().map(Vec::as_slice).unwrap_or_default() {
        let (Some(kind), Some(address)) = (
            item.get("type").and_then(Value::as_str),
            item.get("address").and_then(Value::as_str),
        ) else {
            continue;
        };
        let Some((topic, _)) = topic_of(kind) else {
            continue;
        };
        let Some(rest) = address.strip_prefix("tcp://") else {
            continue;
        };
        let Some((host, port)) = rest.rsplit_once(':') else {
            continue;
        };
        if port.parse::<u16>().is_err() {
            continue;
        }
        let host = match host {
            "0.0.0.0" | "*" | "[::]" | "::" => {
                if daemon_host.contains(':') && !daemon_host.starts_with('[') {
                    format!("[{daemon_host}]")
                } else {
                    daemon_host.to_string()
                }
            }
            h => h.to_string(),
        };
        let topics = out.entry(format!("tcp://{host}:{port}")).or_default();
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    out
}

/// The topics to subscribe to, by address, from what the daemon publishes
/// ([`endpoints`]): for blocks `hashblock`, else `sequence`, else `rawblock`; for the
/// mempool `hashtx`, else `sequence`, else `rawtx` — each at the first address publishing
/// it. Nothing else: a doorbell needs the smallest messages, and `sequence` already rings
/// both.
pub fn subscriptions(
    endpoints: &BTreeMap<String, Vec<&'static str>>,
) -> BTreeMap<String, Vec<&'static str>> {
    let find = |topic: &str| {
        endpoints
            .iter()
            .find(|(_, topics)| topics.contains(&topic))
            .map(|(address, _)| address.clone())
    };
    let pick = |preferred: [&'static str; 3]| {
        preferred
            .into_iter()
            .find_map(|topic| find(topic).map(|address| (address, topic)))
    };
    let mut out: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    let blocks = pick(["hashblock", "sequence", "rawblock"]);
    let mempool = pick(["hashtx", "sequence", "rawtx"]);
    for (address, topic) in [blocks, mempool].into_iter().flatten() {
        let topics = out.entry(address).or_default();
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    out
}

fn wakes(topic: &[u8]) -> Option<Wakes> {
    Some(match topic {
        b"hashblock" | b"rawblock" => Wakes::Blocks,
        b"hashtx" | b"rawtx" => Wakes::Mempool,
        b"sequence" => Wakes::Both,
        _ => return None,
    })
}

/// How often [`follow`] checks whether the daemon in use has changed.
const DAEMON_RECHECK: Duration = Duration::from_secs(2);

/// [`watch`]es the ZMQ notifications of the daemon in use until `shutdown`, and watches
/// again whenever that daemon changes (failover to another DAEMON_URL, or the admin RPC's
/// `daemon_url`): the old daemon's sockets are closed, the new one's endpoints looked up.
pub async fn follow(
    daemon: Daemon,
    blocks: Arc<Notify>,
    mempool: Arc<Notify>,
    shutdown: CancellationToken,
) {
    loop {
        let url = daemon.current_url();
        let host = daemon.current_host().unwrap_or_default();
        let round = shutdown.child_token();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = watch(daemon.clone(), host, blocks.clone(), mempool.clone(), round.clone()) => {}
        }
        while daemon.current_url() == url {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(DAEMON_RECHECK) => {}
            }
        }
        round.cancel();
        tracing::info!("the daemon in use changed: looking up its ZMQ notifications");
    }
}

/// Asks the daemon for its ZMQ endpoints and, if it has any we use, listens to them until
/// `shutdown`, waking `blocks` and `mempool`. Returns at once when there are none.
pub async fn watch(
    daemon: Daemon,
    daemon_host: String,
    blocks: Arc<Notify>,
    mempool: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let answer = match daemon.call_json("getzmqnotifications", vec![]).await {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!("no ZMQ notifications from the daemon: {e}");
            return;
        }
    };
    let endpoints = subscriptions(&endpoints(&answer, &daemon_host));
    if endpoints.is_empty() {
        tracing::info!("the daemon publishes no ZMQ notifications we use; polling only");
        return;
    }
    for (address, topics) in endpoints {
        tracing::info!(%address, ?topics, "listening to the daemon's ZMQ notifications");
        tokio::spawn(listen(
            address,
            topics,
            blocks.clone(),
            mempool.clone(),
            shutdown.clone(),
        ));
    }
}

/// One SUB socket; reconnects (with a pause) whenever it fails.
async fn listen(
    address: String,
    topics: Vec<&'static str>,
    blocks: Arc<Notify>,
    mempool: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let mut warned = false;
    loop {
        let result = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = subscribe_and_read(&address, &topics, &blocks, &mempool) => r,
        };
        if let Err(e) = result {
            if !warned {
                tracing::warn!(%address, "ZMQ notifications failed ({e}); polling meanwhile");
                warned = true;
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

async fn subscribe_and_read(
    address: &str,
    topics: &[&'static str],
    blocks: &Notify,
    mempool: &Notify,
) -> Result<(), String> {
    let mut socket = zeromq::SubSocket::new();
    socket.connect(address).await.map_err(|e| e.to_string())?;
    for t in topics {
        socket.subscribe(t).await.map_err(|e| e.to_string())?;
    }
    loop {
        let msg = socket.recv().await.map_err(|e| e.to_string())?;
        let Some(topic) = msg.get(0) else { continue };
        match wakes(topic) {
            Some(Wakes::Blocks) => blocks.notify_one(),
            Some(Wakes::Mempool) => mempool.notify_one(),
            Some(Wakes::Both) => {
                blocks.notify_one();
                mempool.notify_one();
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn endpoints_are_grouped_and_wildcards_reach_the_daemon_host() {
        let answer = json!([
            {"type": "pubhashblock", "address": "tcp://0.0.0.0:28332", "hwm": 1000},
            {"type": "pubhashtx", "address": "tcp://0.0.0.0:28332", "hwm": 1000},
            {"type": "pubrawtx", "address": "tcp://10.0.0.2:28333", "hwm": 1000},
            {"type": "pubrawblock", "address": "ipc:///tmp/x", "hwm": 1000},
            {"type": "pubsomething", "address": "tcp://1.2.3.4:1", "hwm": 1000},
            {"type": "pubsequence", "address": "tcp://[::]:28334", "hwm": 1000},
            {"type": "pubhashblock", "address": "tcp://host-without-port", "hwm": 1000}
        ]);
        let got = endpoints(&answer, "node.example");
        let want: BTreeMap<String, Vec<&str>> = [
            ("tcp://10.0.0.2:28333".to_string(), vec!["rawtx"]),
            (
                "tcp://node.example:28332".to_string(),
                vec!["hashblock", "hashtx"],
            ),
            ("tcp://node.example:28334".to_string(), vec!["sequence"]),
        ]
        .into_iter()
        .collect();
        assert_eq!(got, want);
        assert_eq!(endpoints(&json!({"error": 1}), "h"), BTreeMap::new());
        let v6 = endpoints(
            &json!([{"type": "pubhashtx", "address": "tcp://*:1"}]),
            "::1",
        );
        assert_eq!(v6.keys().collect::<Vec<_>>(), vec!["tcp://[::1]:1"]);
    }

    fn published(items: &[(&str, &[&'static str])]) -> BTreeMap<String, Vec<&'static str>> {
        items
            .iter()
            .map(|(address, topics)| (address.to_string(), topics.to_vec()))
            .collect()
    }

    #[test]
    fn only_the_smallest_topic_for_blocks_and_for_transactions_is_subscribed() {
        // Everything on one port (bitcoind with every -zmqpub* option there): the hashes.
        let all = published(&[(
            "tcp://h:1",
            &["hashblock", "hashtx", "rawblock", "rawtx", "sequence"],
        )]);
        assert_eq!(
            subscriptions(&all),
            published(&[("tcp://h:1", &["hashblock", "hashtx"])])
        );
        // Hashes on other ports than the raw topics: still only the hashes.
        let split = published(&[
            ("tcp://h:1", &["rawblock", "rawtx"]),
            ("tcp://h:2", &["hashtx"]),
            ("tcp://h:3", &["hashblock"]),
        ]);
        assert_eq!(
            subscriptions(&split),
            published(&[("tcp://h:2", &["hashtx"]), ("tcp://h:3", &["hashblock"])])
        );
        // No hashes: `sequence` rings for both, once.
        let sequence = published(&[("tcp://h:1", &["rawblock", "rawtx", "sequence"])]);
        assert_eq!(
            subscriptions(&sequence),
            published(&[("tcp://h:1", &["sequence"])])
        );
        // Only raw topics: the raw ones, as the last resort.
        let raw = published(&[("tcp://h:1", &["rawtx"]), ("tcp://h:2", &["rawblock"])]);
        assert_eq!(subscriptions(&raw), raw);
        // Transactions only.
        let tx = published(&[("tcp://h:1", &["hashtx", "rawtx"])]);
        assert_eq!(subscriptions(&tx), published(&[("tcp://h:1", &["hashtx"])]));
        assert!(subscriptions(&BTreeMap::new()).is_empty());
    }
}
