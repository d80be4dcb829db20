//! A result to send: a JSON value, or a body written straight from the handler's own data
//! ([`JsonBody`]) — for answers too large to hold twice (a history of a million entries as a
//! `Value` tree takes several times its JSON text). A body's exact length is known before it
//! is written, so an answer over the size limit is refused without being written at all.

use serde_json::Value;

use crate::py::dumps::write_value;

/// JSON text written from the caller's data, exactly as `json.dumps(…, separators=(',',
/// ':'))` writes the equivalent value.
pub trait JsonBody: Send + Sync {
    /// The exact length in bytes of what [`JsonBody::write_json`] writes.
    fn json_len(&self) -> usize;
    /// Appends the JSON text.
    fn write_json(&self, out: &mut String);
}

/// What a request answers when it succeeds.
pub enum Answer {
    /// A value, written as `json.dumps` writes it.
    Value(Value),
    /// A body that writes itself.
    Body(Box<dyn JsonBody>),
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Value(v) => f.debug_tuple("Value").field(v).finish(),
            Answer::Body(b) => write!(f, "Body({} bytes)", b.json_len()),
        }
    }
}

impl From<Value> for Answer {
    fn from(v: Value) -> Answer {
        Answer::Value(v)
    }
}

impl Answer {
    /// Appends the JSON text.
    pub(super) fn write(&self, out: &mut String) {
        match self {
            Answer::Value(v) => write_value(out, v),
            Answer::Body(b) => b.write_json(out),
        }
    }

    /// The length of the JSON text when known without writing it.
    pub(super) fn known_len(&self) -> Option<usize> {
        match self {
            Answer::Value(_) => None,
            Answer::Body(b) => Some(b.json_len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::dialect::Dialect;
    use super::super::encode::{encode_answer, encode_response, Id};
    use super::super::request::{Params, Request};
    use super::super::{Batch, BatchCollector, BatchDone};
    use super::*;

    /// A body of `n` bytes of `"x…"`; writing it panics when `forbidden`.
    struct Text {
        n: usize,
        forbidden: bool,
    }

    impl JsonBody for Text {
        fn json_len(&self) -> usize {
            self.n + 2
        }
        fn write_json(&self, out: &mut String) {
            assert!(!self.forbidden, "a body over the limit was written");
            out.push('"');
            out.push_str(&"x".repeat(self.n));
            out.push('"');
        }
    }

    fn request(dialect: Dialect) -> Request {
        Request {
            id: Some(Id::from_value(&json!(7))),
            method: "m".to_owned(),
            params: Params::List(vec![]),
            dialect,
        }
    }

    /// A body is sent as the equal value would be, and one over the limit is refused with
    /// the same error as that value, without being written — single or in a batch.
    #[test]
    fn a_body_answers_as_its_value_and_is_refused_unwritten_over_the_limit() {
        for dialect in [Dialect::V1, Dialect::V2, Dialect::Loose] {
            let req = request(dialect);
            let id = req.id.clone();
            let value = json!("x".repeat(500));
            let body = Answer::Body(Box::new(Text {
                n: 500,
                forbidden: false,
            }));
            let want = encode_response(dialect, id.as_ref(), Ok(&value));
            assert_eq!(encode_answer(dialect, id.as_ref(), Ok(&body)), want);
            assert_eq!(req.answer(Ok(&body), 0), Some(want.clone()));
            assert_eq!(req.answer(Ok(&body), want.len()), Some(want.clone()));
            let over = Answer::Body(Box::new(Text {
                n: 500,
                forbidden: true,
            }));
            let refused = req.response(Ok(&value), want.len() - 1);
            assert_eq!(req.answer(Ok(&over), want.len() - 1), refused);

            let requests = vec![req.clone()];
            let mut batch = Batch {
                collector: BatchCollector::new(dialect, Vec::new(), &requests),
                requests,
            };
            let mut plain = batch.collector.clone();
            let got = batch.collector.record(0, Some(Ok(&over)), 400);
            let want = plain.record(0, Some(Ok(&Answer::Value(value.clone()))), 400);
            assert!(matches!(got, Some(BatchDone::Reply(_))));
            assert_eq!(got, want);
        }
    }
}
