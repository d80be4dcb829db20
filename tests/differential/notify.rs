//! Subscribers, and what a notification changed as a client sees it.

use std::collections::BTreeMap;
use std::time::Duration;

use ferrumx_simnode::ScriptHash;
use ferrumx_testkit::Client;
use serde_json::{json, Value};

use crate::compare::session;

/// A subscriber session: every script hash and the headers.
pub struct Subscriber {
    pub client: Client,
    /// The status each script hash has as far as the client knows.
    pub status: BTreeMap<String, Value>,
    pub tip: Value,
}

impl Subscriber {
    pub fn new(port: u16, version: &str, shs: &[ScriptHash]) -> Subscriber {
        let mut client = session(port, version);
        let tip = client
            .call("blockchain.headers.subscribe", json!([]))
            .expect("headers.subscribe");
        let mut status = BTreeMap::new();
        for chunk in shs.chunks(250) {
            let ids: Vec<(String, u64)> = chunk
                .iter()
                .map(|sh| {
                    let sh = sh.to_string();
                    let id = client.request("blockchain.scripthash.subscribe", json!([sh]));
                    (sh, id)
                })
                .collect();
            for (sh, id) in ids {
                // The over-long history's subscription is refused ("history too large"):
                // the refusal is compared like a status.
                let answer = match client.response(id) {
                    Ok(status) => status,
                    Err((code, message)) => json!({"refused": [code, message]}),
                };
                status.insert(sh, answer);
            }
        }
        Subscriber {
            client,
            status,
            tip,
        }
    }

    /// Notifications until none came for `quiet`.
    pub fn drain(&mut self, quiet: Duration) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        while let Some(n) = self.client.notification(quiet) {
            out.push(n);
        }
        out
    }
}

/// What one event changed, as a client sees it.
#[derive(Debug, Default, PartialEq)]
pub struct Seen {
    /// Script hashes whose status changed → their last status.
    pub changed: BTreeMap<String, Value>,
    /// Heights of the header notifications, in order.
    pub heights: Vec<Value>,
    /// The last header notified.
    pub last_header: Option<Value>,
    /// Notifications that repeated the status the client already knew.
    pub unchanged: usize,
    /// Notifications of other methods.
    pub other: Vec<(String, Value)>,
}

impl Seen {
    /// Adds what a later drain saw.
    pub fn absorb(&mut self, later: Seen) {
        self.changed.extend(later.changed);
        self.heights.extend(later.heights);
        if later.last_header.is_some() {
            self.last_header = later.last_header;
        }
        self.unchanged += later.unchanged;
        self.other.extend(later.other);
    }
}

pub fn seen(sub: &mut Subscriber, notes: Vec<(String, Value)>) -> Seen {
    let mut s = Seen::default();
    for (method, params) in notes {
        match method.as_str() {
            "blockchain.scripthash.subscribe" => {
                let sh = params[0].as_str().expect("script hash").to_string();
                let new = params[1].clone();
                let known = sub.status.get(&sh).cloned().unwrap_or(Value::Null);
                if known == new {
                    s.unchanged += 1;
                } else {
                    sub.status.insert(sh.clone(), new.clone());
                    s.changed.insert(sh, new);
                }
            }
            "blockchain.headers.subscribe" => {
                s.heights.push(params[0]["height"].clone());
                s.last_header = Some(params[0].clone());
                sub.tip = params[0].clone();
            }
            _ => s.other.push((method, params)),
        }
    }
    // A script hash that changed and changed back is unchanged in the end.
    s
}
