//! `get_history`'s answer written straight from the cached confirmed history
//! ([`Confirmed`], shared, not copied) and the mempool part, without a `Value` per entry: for
//! a history of a million entries the answer is one buffer of its JSON text (~98 bytes an
//! entry) instead of a tree several times that, and its exact length is known before it is
//! written, so one over MAX_SEND is refused without writing it. The text is what
//! `json.dumps(history, separators=(',', ':'))` writes (ElectrumX's bytes): entries
//! `{"tx_hash":"…","height":N}` in chain order, then the mempool's (with `"fee"`).

use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::Value;

use super::history::{push_txid, Confirmed};
use crate::jsonrpc::JsonBody;
use crate::py::dumps::write_value;

/// A history answer: `[…]`, or `{"history":[…]}` (protocol 1.7's scriptPubKey shape).
pub struct HistoryJson {
    confirmed: Arc<Confirmed>,
    /// The mempool entries, already written and joined with `,`.
    mempool: String,
    mempool_count: usize,
    wrapped: bool,
}

/// `{"tx_hash":"` + 64 hex digits + `","height":` + `}`.
const ENTRY_FIXED: usize = 12 + 64 + 11 + 1;
/// `{"history":` + `}`.
const WRAP: usize = 12;

fn digits(mut n: u32) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

impl HistoryJson {
    /// The answer for `confirmed` then `mempool` (entries as the mempool part's `Value`s),
    /// in `{"history": …}` when `wrapped`.
    pub fn new(confirmed: Arc<Confirmed>, mempool: &[Value], wrapped: bool) -> HistoryJson {
        let mut text = String::new();
        for (i, v) in mempool.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            write_value(&mut text, v);
        }
        HistoryJson {
            confirmed,
            mempool: text,
            mempool_count: mempool.len(),
            wrapped,
        }
    }
}

impl JsonBody for HistoryJson {
    fn json_len(&self) -> usize {
        let entries = &self.confirmed.entries;
        let confirmed: usize = entries.iter().map(|(_, h)| ENTRY_FIXED + digits(*h)).sum();
        // Commas between confirmed entries and before the mempool part (which holds its
        // own).
        let n = entries.len();
        let commas = n.saturating_sub(1) + usize::from(n > 0 && self.mempool_count > 0);
        let list = 2 + confirmed + commas + self.mempool.len();
        list + if self.wrapped { WRAP } else { 0 }
    }

    fn write_json(&self, out: &mut String) {
        if self.wrapped {
            out.push_str("{\"history\":");
        }
        out.push('[');
        for (i, (txid, height)) in self.confirmed.entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"tx_hash\":\"");
            push_txid(out, txid);
            let _ = write!(out, "\",\"height\":{height}}}");
        }
        if !self.mempool.is_empty() {
            if !self.confirmed.entries.is_empty() {
                out.push(',');
            }
            out.push_str(&self.mempool);
        }
        out.push(']');
        if self.wrapped {
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::electrum::history::tests::txid;
    use bitcoin::Txid;

    /// The text and its length are what writing the equivalent `Value` gives, for every
    /// shape: empty, confirmed only, mempool only, both, wrapped or not, heights of every
    /// digit count.
    #[test]
    fn writes_what_the_value_writes() {
        let heights = [0u32, 9, 10, 99, 100, 54_321, 999_999, 1_000_000, u32::MAX];
        let confirmed: Vec<(Txid, u32)> = heights
            .iter()
            .enumerate()
            .map(|(i, h)| (txid(i as u8), *h))
            .collect();
        let mempool = vec![
            json!({"tx_hash": txid(200).to_string(), "height": 0, "fee": 1234}),
            json!({"tx_hash": txid(201).to_string(), "height": -1, "fee": 0}),
        ];
        for c in [Vec::new(), confirmed] {
            for m in [Vec::new(), mempool.clone()] {
                for wrapped in [false, true] {
                    let mut list: Vec<Value> = c
                        .iter()
                        .map(|(t, h)| json!({"tx_hash": t.to_string(), "height": h}))
                        .collect();
                    list.extend(m.iter().cloned());
                    let value = if wrapped {
                        json!({"history": list})
                    } else {
                        Value::Array(list)
                    };
                    let mut want = String::new();
                    write_value(&mut want, &value);
                    let body = HistoryJson::new(Arc::new(Confirmed::new(c.clone())), &m, wrapped);
                    let mut got = String::new();
                    body.write_json(&mut got);
                    assert_eq!(got, want);
                    assert_eq!(body.json_len(), want.len(), "{want}");
                }
            }
        }
    }
}
