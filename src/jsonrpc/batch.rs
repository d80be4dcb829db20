//! Batches: the requests of one batch message ([`Batch`]) and the assembly of its answer as
//! aiorpcx's `JSONRPCConnection._receive_request_batch` does it ([`BatchCollector`]).

use std::collections::BTreeSet;

use super::answer::Answer;
use super::dialect::Dialect;
use super::encode::{answer_len, encode_answer, encode_response, join_batch, Id};
use super::error::RpcError;
use super::request::Request;

/// A batch of requests, and the answer being assembled for it.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The valid requests and notifications, in batch order.
    pub requests: Vec<Request>,
    /// Assembles the answer; call [`BatchCollector::record`] once per request.
    pub collector: BatchCollector,
}

/// aiorpcx's batch answer assembly (`JSONRPCConnection._receive_request_batch`), answers
/// taken in batch order whatever order they complete in.
///
/// Memory stays bounded by the size limit: each answer is encoded as it is recorded and
/// only its length kept once the answers before it certainly exceed the limit (it will be
/// sent as the `response too large` error), so a batch of many large results never holds
/// more than about `max_response_size` bytes of them.
#[derive(Clone, Debug)]
pub struct BatchCollector {
    dialect: Dialect,
    /// The errors of the batch's invalid items: sent first, not counted in the size limit.
    errors: Vec<Vec<u8>>,
    /// One per request of the batch, in batch order.
    items: Vec<BatchItem>,
    /// Requests not recorded yet.
    left: usize,
    /// Recorded answers' lengths plus 2 (the separator), by position: prefix sums tell when
    /// the cumulative limit is certainly exceeded.
    sizes: PrefixSums,
    /// Positions whose encoded answer is still held.
    kept: BTreeSet<usize>,
    /// An item was abandoned (the session is closing): no answer.
    abandoned: bool,
}

#[derive(Clone, Debug)]
enum BatchItem {
    /// A notification: never answered.
    Notification,
    /// Not recorded yet.
    Pending(Id),
    /// Recorded: the answer's length, and the answer while it may still be sent.
    Answered {
        id: Id,
        len: usize,
        part: Option<Vec<u8>>,
    },
}

/// How a batch ended (see [`BatchCollector::record`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchDone {
    /// The answer to send.
    Reply(Vec<u8>),
    /// Nothing to send (the batch held no request with an id).
    Silent,
    /// An item was abandoned: send nothing, the session is closing.
    Abandoned,
}

impl BatchCollector {
    pub(super) fn new(
        dialect: Dialect,
        errors: Vec<Vec<u8>>,
        requests: &[Request],
    ) -> BatchCollector {
        let items = requests
            .iter()
            .map(|r| match &r.id {
                Some(id) => BatchItem::Pending(id.clone()),
                None => BatchItem::Notification,
            })
            .collect();
        BatchCollector {
            dialect,
            errors,
            items,
            left: requests.len(),
            sizes: PrefixSums::new(requests.len()),
            kept: Default::default(),
            abandoned: false,
        }
    }

    /// Records the outcome of the request at `index` in the batch (`None`: abandoned). Once
    /// every request is recorded, the batch's end. `max_response_size` (0 = unlimited) is
    /// applied cumulatively as aiorpcx does (see the module documentation); pass the same
    /// value every time.
    pub fn record(
        &mut self,
        index: usize,
        outcome: Option<Result<&Answer, &RpcError>>,
        max_response_size: usize,
    ) -> Option<BatchDone> {
        let item = self.items.get_mut(index)?;
        match item {
            BatchItem::Answered { .. } => return None,
            BatchItem::Notification => self.abandoned |= outcome.is_none(),
            BatchItem::Pending(id) => match outcome {
                None => self.abandoned = true,
                Some(outcome) => {
                    let id = id.clone();
                    // A body longer than the limit on its own is never written.
                    let known = match outcome {
                        Ok(a) => a
                            .known_len()
                            .map(|n| answer_len(self.dialect, Some(&id), n)),
                        Err(_) => None,
                    };
                    let (len, part) = match known {
                        Some(n) if max_response_size > 0 && n > max_response_size => (n, None),
                        _ => {
                            let part = encode_answer(self.dialect, Some(&id), outcome);
                            (part.len(), Some(part))
                        }
                    };
                    *item = BatchItem::Answered { id, len, part };
                    self.sizes.add(index, len as u64 + 2);
                    self.kept.insert(index);
                    self.drop_excess(max_response_size);
                }
            },
        }
        self.left = self.left.saturating_sub(1);
        (self.left == 0).then(|| self.finish(max_response_size))
    }

    /// Bytes of encoded answers held now.
    pub fn held(&self) -> usize {
        self.items
            .iter()
            .map(|i| match i {
                BatchItem::Answered { part: Some(p), .. } => p.len(),
                _ => 0,
            })
            .sum()
    }

    /// Drops the held answers whose position's cumulative size already exceeds the limit
    /// (it only grows as answers are recorded): those are sent as errors.
    fn drop_excess(&mut self, max: usize) {
        if max == 0 {
            return;
        }
        while let Some(&last) = self.kept.last() {
            if self.sizes.prefix(last) <= max as u64 {
                break;
            }
            self.kept.remove(&last);
            if let Some(BatchItem::Answered { part, .. }) = self.items.get_mut(last) {
                *part = None;
            }
        }
    }

    fn finish(&mut self, max: usize) -> BatchDone {
        if self.abandoned {
            return BatchDone::Abandoned;
        }
        if !self
            .items
            .iter()
            .any(|i| matches!(i, BatchItem::Answered { .. }))
        {
            return BatchDone::Silent;
        }
        let mut parts = std::mem::take(&mut self.errors);
        let mut size = 0usize;
        for item in std::mem::take(&mut self.items) {
            let BatchItem::Answered { id, len, part } = item else {
                continue;
            };
            size += len + 2;
            match part {
                Some(part) if max == 0 || size <= max => parts.push(part),
                _ => {
                    let error = RpcError::response_too_large(max);
                    parts.push(encode_response(self.dialect, Some(&id), Err(&error)));
                }
            }
        }
        BatchDone::Reply(join_batch(&parts))
    }
}

/// Prefix sums over positions that are filled in any order (a Fenwick tree).
#[derive(Clone, Debug)]
struct PrefixSums(Vec<u64>);

impl PrefixSums {
    fn new(n: usize) -> PrefixSums {
        PrefixSums(vec![0; n + 1])
    }

    fn add(&mut self, index: usize, value: u64) {
        let mut i = index + 1;
        while i < self.0.len() {
            self.0[i] += value;
            i += i & i.wrapping_neg();
        }
    }

    /// The sum of the values at positions `0..=index`.
    fn prefix(&self, index: usize) -> u64 {
        let mut i = (index + 1).min(self.0.len().saturating_sub(1));
        let mut sum = 0;
        while i > 0 {
            sum += self.0[i];
            i -= i & i.wrapping_neg();
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::request::Params;
    use serde_json::{json, Value};

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap_or_default()
    }

    /// A batch of `n` requests with ids 0..n answered out of order with results of
    /// different sizes: memory held stays near the limit, and the answer is aiorpcx's
    /// (computed here independently: in batch order, an item is replaced by the error once
    /// the running total of the real answers' lengths plus 2 exceeds the limit).
    #[test]
    fn batch_answers_are_held_only_while_they_may_be_sent() {
        let n = 200usize;
        let requests: Vec<Request> = (0..n)
            .map(|i| Request {
                id: Some(Id::from_value(&json!(i))),
                method: "m".to_owned(),
                params: Params::List(vec![]),
                dialect: Dialect::V2,
            })
            .collect();
        let mut batch = Batch {
            collector: BatchCollector::new(Dialect::V2, Vec::new(), &requests),
            requests,
        };
        let result = |i: usize| Value::String("r".repeat(1000 + (i * 7919) % 3000));
        let max = 40_000;
        // A fixed permutation: (i * 73) mod 200 visits every position.
        let mut reply = None;
        let mut most = 0;
        for k in 0..n {
            let i = (k * 73) % n;
            let r = result(i);
            reply = batch.collector.record(i, Some(Ok(&Answer::Value(r))), max);
            most = most.max(batch.collector.held());
        }
        // Never much more than the limit held (one answer's worth of slack).
        assert!(most <= max + 4_100, "held {most} bytes");
        let mut expected = Vec::new();
        let mut size = 0;
        for i in 0..n {
            let id = Id::from_value(&json!(i));
            let part = encode_response(Dialect::V2, Some(&id), Ok(&result(i)));
            size += part.len() + 2;
            if size > max {
                let e = RpcError::response_too_large(max);
                expected.push(encode_response(Dialect::V2, Some(&id), Err(&e)));
            } else {
                expected.push(part);
            }
        }
        let expected: Vec<String> = expected.into_iter().map(text).collect();
        let expected = format!("[{}]", expected.join(", "));
        assert_eq!(reply, Some(BatchDone::Reply(expected.into_bytes())));
    }
}
