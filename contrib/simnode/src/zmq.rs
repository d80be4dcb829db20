//! Bitcoin Core's ZMQ notifications, as `-zmqpubhashblock` and `-zmqpubhashtx` publish
//! them: a PUB socket sending `[topic, 32-byte hash (display order), sequence (u32 LE)]`
//! for every new tip block and every transaction entering the mempool. With
//! [`Topics::All`], also `rawblock` and `rawtx` (the serialized block or transaction) and
//! `sequence` (hash, `C` or `A`, and a u64 LE mempool sequence) on the same port, as bitcoind
//! does with every `-zmqpub*` option pointing there.
//!
//! The socket is an XPUB, so the publisher sees what its subscribers subscribe to: every
//! subscription is recorded, in order, for tests ([`Subscriptions`]).
//!
//! The node is changed by direct calls (tests, the control RPCs), so the publisher watches
//! it: every few milliseconds it compares the tip and the mempool with what it last
//! published.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitcoin::consensus::serialize;
use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, Txid};
use bytes::Bytes;
use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

use crate::node::Node;
use crate::rpc::ZmqEndpoint;

/// How often the node is looked at.
const WATCH_EVERY: Duration = Duration::from_millis(10);

/// Which topics are published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topics {
    /// `hashblock` and `hashtx`.
    Hashes,
    /// `hashblock`, `hashtx`, `rawblock`, `rawtx` and `sequence`.
    All,
}

/// The topics subscribed to, in the order the subscriptions arrived (repeated when a
/// subscriber reconnects).
pub type Subscriptions = Arc<Mutex<Vec<String>>>;

/// Binds an XPUB socket on 127.0.0.1 (a free port) and starts publishing changes of `node`.
/// Returns the endpoints `getzmqnotifications` reports, and where subscriptions are recorded.
///
/// # Errors
/// The socket could not be bound.
pub async fn start(
    node: Arc<Mutex<Node>>,
    topics: Topics,
) -> std::io::Result<(Vec<ZmqEndpoint>, Subscriptions)> {
    let mut socket = zeromq::XPubSocket::new();
    let endpoint = socket
        .bind("tcp://127.0.0.1:0")
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let address = endpoint.to_string();
    let subscriptions = Subscriptions::default();
    tokio::spawn(publish(socket, node, topics, subscriptions.clone()));
    let kinds: &[&str] = match topics {
        Topics::Hashes => &["pubhashblock", "pubhashtx"],
        Topics::All => &[
            "pubhashblock",
            "pubhashtx",
            "pubrawblock",
            "pubrawtx",
            "pubsequence",
        ],
    };
    let endpoints = kinds
        .iter()
        .map(|kind| ZmqEndpoint {
            kind: kind.to_string(),
            address: address.clone(),
            hwm: 1000,
        })
        .collect();
    Ok((endpoints, subscriptions))
}

fn message(topic: &'static [u8], body: Vec<u8>, seq: u32) -> ZmqMessage {
    let mut m = ZmqMessage::from(Bytes::from_static(topic));
    m.push_back(Bytes::from(body));
    m.push_back(Bytes::from(seq.to_le_bytes().to_vec()));
    m
}

/// A hash in display order (as bitcoind publishes it).
fn display(hash: [u8; 32]) -> Vec<u8> {
    let mut d = hash;
    d.reverse();
    d.to_vec()
}

/// `sequence`'s body: the hash, a label, and for mempool events the mempool sequence.
fn sequence_body(hash: [u8; 32], label: u8, mempool_seq: Option<u64>) -> Vec<u8> {
    let mut body = display(hash);
    body.push(label);
    if let Some(s) = mempool_seq {
        body.extend_from_slice(&s.to_le_bytes());
    }
    body
}

/// Records a subscription message (`\x01` and the topic; `\x00` unsubscribes).
fn record(subscriptions: &Subscriptions, m: &ZmqMessage) {
    let Some(frame) = m.get(0) else { return };
    if frame.first() == Some(&1) {
        subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(String::from_utf8_lossy(&frame[1..]).into_owned());
    }
}

async fn publish(
    mut socket: zeromq::XPubSocket,
    node: Arc<Mutex<Node>>,
    topics: Topics,
    subscriptions: Subscriptions,
) {
    let all = topics == Topics::All;
    let mut tip: Option<BlockHash> = None;
    let mut seen: HashSet<Txid> = HashSet::new();
    let (mut block_seq, mut tx_seq, mut raw_block_seq, mut raw_tx_seq, mut seq_seq) =
        (0u32, 0u32, 0u32, 0u32, 0u32);
    let mut mempool_seq = 0u64;
    loop {
        // Subscriptions are taken in (and recorded) as they arrive: an XPUB learns of them
        // only when it reads them.
        tokio::select! {
            r = socket.recv() => {
                match r {
                    Ok(m) => record(&subscriptions, &m),
                    Err(zeromq::ZmqError::NoMessage) => tokio::time::sleep(WATCH_EVERY).await,
                    Err(_) => {}
                }
                continue;
            }
            _ = tokio::time::sleep(WATCH_EVERY) => {}
        }
        let mut out = Vec::new();
        {
            let n = node.lock().unwrap_or_else(|e| e.into_inner());
            let new_tip = n.tip_hash();
            if tip != Some(new_tip) {
                if tip.is_some() {
                    let hash = new_tip.to_byte_array();
                    out.push(message(b"hashblock", display(hash), block_seq));
                    block_seq = block_seq.wrapping_add(1);
                    if all {
                        let raw = n
                            .tip()
                            .and_then(|b| b.bytes().ok())
                            .map(|r| r.into_owned())
                            .unwrap_or_default();
                        out.push(message(b"rawblock", raw, raw_block_seq));
                        raw_block_seq = raw_block_seq.wrapping_add(1);
                        let body = sequence_body(hash, b'C', None);
                        out.push(message(b"sequence", body, seq_seq));
                        seq_seq = seq_seq.wrapping_add(1);
                    }
                }
                tip = Some(new_tip);
            }
            let mut now_seen = HashSet::new();
            for e in n.mempool.entries() {
                now_seen.insert(e.txid);
                if seen.contains(&e.txid) {
                    continue;
                }
                let hash = e.txid.to_byte_array();
                out.push(message(b"hashtx", display(hash), tx_seq));
                tx_seq = tx_seq.wrapping_add(1);
                if all {
                    out.push(message(b"rawtx", serialize(&e.tx), raw_tx_seq));
                    raw_tx_seq = raw_tx_seq.wrapping_add(1);
                    mempool_seq += 1;
                    let body = sequence_body(hash, b'A', Some(mempool_seq));
                    out.push(message(b"sequence", body, seq_seq));
                    seq_seq = seq_seq.wrapping_add(1);
                }
            }
            seen = now_seen;
        }
        for m in out {
            if socket.send(m).await.is_err() {
                return;
            }
        }
    }
}
