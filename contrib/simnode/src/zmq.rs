//! Bitcoin Core's ZMQ notifications, as `-zmqpubhashblock` and `-zmqpubhashtx` publish
//! them: a PUB socket sending `[topic, 32-byte hash (display order), sequence (u32 LE)]`
//! for every new tip block and every transaction entering the mempool.
//!
//! The node is changed by direct calls (tests, the control RPCs), so the publisher watches
//! it: every few milliseconds it compares the tip and the mempool with what it last
//! published.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, Txid};
use bytes::Bytes;
use zeromq::{Socket, SocketSend, ZmqMessage};

use crate::node::Node;
use crate::rpc::ZmqEndpoint;

/// How often the node is looked at.
const WATCH_EVERY: Duration = Duration::from_millis(10);

/// Binds a PUB socket on 127.0.0.1 (a free port) and starts publishing changes of `node`.
/// Returns the endpoints `getzmqnotifications` reports.
///
/// # Errors
/// The socket could not be bound.
pub async fn start(node: Arc<Mutex<Node>>) -> std::io::Result<Vec<ZmqEndpoint>> {
    let mut socket = zeromq::PubSocket::new();
    let endpoint = socket
        .bind("tcp://127.0.0.1:0")
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let address = endpoint.to_string();
    tokio::spawn(publish(socket, node));
    Ok(["pubhashblock", "pubhashtx"]
        .iter()
        .map(|kind| ZmqEndpoint {
            kind: kind.to_string(),
            address: address.clone(),
            hwm: 1000,
        })
        .collect())
}

fn message(topic: &'static [u8], hash: [u8; 32], seq: u32) -> ZmqMessage {
    let mut display = hash;
    display.reverse();
    let mut m = ZmqMessage::from(Bytes::from_static(topic));
    m.push_back(Bytes::from(display.to_vec()));
    m.push_back(Bytes::from(seq.to_le_bytes().to_vec()));
    m
}

async fn publish(mut socket: zeromq::PubSocket, node: Arc<Mutex<Node>>) {
    let mut tip: Option<BlockHash> = None;
    let mut seen: HashSet<Txid> = HashSet::new();
    let (mut block_seq, mut tx_seq) = (0u32, 0u32);
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let (new_tip, new_txs, mempool) = {
            let n = node.lock().unwrap_or_else(|e| e.into_inner());
            let t = n.tip_hash();
            let txids: Vec<Txid> = n.mempool.entries().map(|e| e.txid).collect();
            let new: Vec<Txid> = txids
                .iter()
                .filter(|t| !seen.contains(*t))
                .copied()
                .collect();
            (t, new, txids)
        };
        let mut out = Vec::new();
        if tip != Some(new_tip) {
            if tip.is_some() {
                out.push(message(b"hashblock", new_tip.to_byte_array(), block_seq));
                block_seq = block_seq.wrapping_add(1);
            }
            tip = Some(new_tip);
        }
        for txid in &new_txs {
            out.push(message(b"hashtx", txid.to_byte_array(), tx_seq));
            tx_seq = tx_seq.wrapping_add(1);
        }
        seen = mempool.into_iter().collect();
        for m in out {
            if socket.send(m).await.is_err() {
                return;
            }
        }
    }
}
