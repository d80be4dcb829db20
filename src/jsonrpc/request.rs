//! A parsed request ([`Request`]) and its arguments ([`Params`]), and the answer to a single
//! request (`JSONRPCConnection._send_result`).

use serde_json::{Map, Value};

use super::answer::Answer;
use super::dialect::Dialect;
use super::encode::{answer_len, encode_answer, encode_response, Id};
use super::error::RpcError;

/// A request's arguments: a list, or (V2 and Loose) a dict of named arguments.
#[derive(Clone, Debug, PartialEq)]
pub enum Params {
    /// Positional arguments.
    List(Vec<Value>),
    /// Named arguments, in the client's order.
    Named(Map<String, Value>),
}

/// A request or notification from the client.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The id; `None` for a notification (no `"id"`, or `"id": null`).
    pub id: Option<Id>,
    /// The method name.
    pub method: String,
    /// The arguments.
    pub params: Params,
    /// The dialect it arrived in.
    pub(super) dialect: Dialect,
}

impl Request {
    /// Whether this is a notification (never answered).
    pub fn is_notification(&self) -> bool {
        self.id.is_none()
    }

    /// The dialect the request arrived in (answers are written in it).
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The message answering this single (non-batch) request, as aiorpcx's
    /// `JSONRPCConnection._send_result`: the result or error, or the `response too large`
    /// error if longer than `max_response_size` (0 = unlimited). `None` for a notification.
    pub fn response(
        &self,
        outcome: Result<&Value, &RpcError>,
        max_response_size: usize,
    ) -> Option<Vec<u8>> {
        let id = self.id.as_ref()?;
        let message = encode_response(self.dialect, Some(id), outcome);
        if max_response_size > 0 && message.len() > max_response_size {
            let error = RpcError::response_too_large(max_response_size);
            return Some(encode_response(self.dialect, Some(id), Err(&error)));
        }
        Some(message)
    }

    /// [`Request::response`] for an [`Answer`]: a body over the limit is refused before it
    /// is written.
    pub fn answer(
        &self,
        outcome: Result<&Answer, &RpcError>,
        max_response_size: usize,
    ) -> Option<Vec<u8>> {
        let id = self.id.as_ref()?;
        let too_large = |len: usize| max_response_size > 0 && len > max_response_size;
        let known = match outcome {
            Ok(a) => a.known_len(),
            Err(_) => None,
        };
        let message = match known {
            Some(n) if too_large(answer_len(self.dialect, Some(id), n)) => None,
            _ => Some(encode_answer(self.dialect, Some(id), outcome)),
        };
        match message {
            Some(m) if !too_large(m.len()) => Some(m),
            _ => {
                let error = RpcError::response_too_large(max_response_size);
                Some(encode_response(self.dialect, Some(id), Err(&error)))
            }
        }
    }
}
