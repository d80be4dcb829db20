//! The JSON-RPC dialects aiorpcx speaks ([`Dialect`]) and the per-connection detection of
//! `JSONRPCAutoDetect` ([`Detector`]).

use crate::py::{Dict, Node};

/// The JSON-RPC dialect of a connection (aiorpcx's protocol classes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// `JSONRPCv1`.
    V1,
    /// `JSONRPCv2`.
    V2,
    /// `JSONRPCLoose`: V2 without the `"jsonrpc"` check.
    Loose,
}

impl Dialect {
    /// Whether batches are accepted (not in V1).
    pub fn allows_batches(self) -> bool {
        self != Dialect::V1
    }
}

/// The per-connection dialect state: `JSONRPCAutoDetect` until the first message that is
/// valid JSON, then that message's dialect for good.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Detector {
    detected: Option<Dialect>,
}

impl Detector {
    /// A new connection: not yet detected.
    pub fn new() -> Detector {
        Detector::default()
    }

    /// A connection whose dialect is already fixed.
    pub fn fixed(dialect: Dialect) -> Detector {
        Detector {
            detected: Some(dialect),
        }
    }

    /// The detected dialect, if any message has been valid JSON yet.
    pub fn dialect(&self) -> Option<Dialect> {
        self.detected
    }

    /// The dialect answers are written in: the detected one, V2 before detection.
    pub fn writer(&self) -> Dialect {
        self.detected.unwrap_or(Dialect::V2)
    }

    /// The connection's dialect for a decoded message: the one already detected, else the
    /// message's (which is then fixed).
    pub fn detect(&mut self, message: &Node) -> Dialect {
        *self.detected.get_or_insert_with(|| detect(message))
    }
}

/// `JSONRPCAutoDetect.detect_protocol` on a decoded message.
fn detect(node: &Node) -> Dialect {
    fn of_item(node: &Node) -> Dialect {
        let Node::Dict(entries) = node else {
            return Dialect::Loose;
        };
        let dict = Dict(entries);
        match dict.get("jsonrpc") {
            Some(Node::Str { text: v, .. }) if v == "2.0" => return Dialect::V2,
            Some(Node::Str { text: v, .. }) if v == "1.0" => return Dialect::V1,
            _ => {}
        }
        if dict.get("result").is_some() && dict.get("error").is_some() {
            Dialect::V1
        } else {
            Dialect::Loose
        }
    }
    match node {
        Node::List(items) => {
            let protocols: Vec<Dialect> = items.iter().map(of_item).collect();
            match protocols.first() {
                Some(&first) if protocols.iter().all(|&p| p == first) => first,
                _ if protocols.contains(&Dialect::V2) => Dialect::V2,
                _ if protocols.contains(&Dialect::V1) => Dialect::V1,
                _ => Dialect::Loose,
            }
        }
        other => of_item(other),
    }
}
