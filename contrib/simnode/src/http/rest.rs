//! Bitcoin Core's REST interface (`bitcoind -rest`), the endpoints FerrumX uses: blocks
//! (`/rest/block/<hash>.<bin|hex|json>`, `/rest/block/notxdetails/…`), block hashes by height
//! (`/rest/blockhashbyheight/<height>.<bin|hex|json>`) and `/rest/chaininfo.json`.
//!
//! Off by default, as in Core: every `/rest/…` path then has no handler and gets 404 with an
//! empty body (`http_request_cb`). When on ([`Control::set_rest`]), answers follow Core's
//! `src/rest.cpp`: no credentials needed; 503 `Service temporarily unavailable: <status>` in
//! warm-up; errors are `text/plain` with the message and `\r\n` (`RESTERR`): 400
//! `Invalid hash: <text>`, 404 `<hash> not found`, 400 `Invalid height: <text>`, 404
//! `Block height out of range`, 404 `output format not found (available: .bin, .hex, .json)`
//! for a missing or unknown suffix. Binary answers are `application/octet-stream`, hex
//! `text/plain` with a `\n`, JSON `application/json` with a `\n`. The query string is ignored,
//! as Core's `ParseDataFormat` does. The other REST endpoints Core serves (`tx`, `headers`,
//! `getutxos`, `mempool`, `blockfilter…`, `deploymentinfo`) answer 404 with an empty body
//! here, as if unregistered.
//!
//! [`Control::set_rest_fault`] makes `/rest/block/…` answers go wrong in the ways a client
//! must survive.

use std::sync::atomic::Ordering;

use bitcoin::hashes::Hash as _;
use bitcoin::hex::DisplayHex as _;
use bitcoin::BlockHash;
use serde_json::json;

use super::{wire, Answer, Control, Handler};

/// Bitcoin Core's `MAX_BLOCK_SERIALIZED_SIZE`.
const MAX_BLOCK_SERIALIZED_SIZE: usize = 4_000_000;

/// Ways for `/rest/block/…` answers to go wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestFault {
    /// 200 with another block's bytes (whose header does not hash to the one asked).
    WrongBlock,
    /// 200 announcing the whole block, sending half of it, then closing the connection.
    Truncated,
    /// 200 with the block padded to over `MAX_BLOCK_SERIALIZED_SIZE` bytes.
    Oversized,
    /// This HTTP status with a short `text/plain` body.
    Status(u16),
}

impl Control {
    /// Serves REST (bitcoind's `-rest`) or not (the default).
    pub fn set_rest(&self, on: bool) {
        self.settings().rest = on;
    }

    /// Whether REST is served.
    pub fn rest(&self) -> bool {
        self.settings().rest
    }

    /// Makes every `/rest/block/…` answer go wrong this way (`None`: answer truly).
    pub fn set_rest_fault(&self, fault: Option<RestFault>) {
        self.settings().rest_fault = fault;
    }

    /// Blocks served through REST (200 answers to `/rest/block/…`, faulty ones included).
    pub fn rest_blocks(&self) -> u64 {
        self.0.rest_blocks.load(Ordering::SeqCst)
    }

    /// `getblock` calls that reached the handler (a batch counts each item).
    pub fn rpc_blocks(&self) -> u64 {
        self.0.rpc_blocks.load(Ordering::SeqCst)
    }

    pub(super) fn count_rpc_block(&self) {
        self.0.rpc_blocks.fetch_add(1, Ordering::SeqCst);
    }
}

/// Core's `RESTERR`.
fn rest_error(status: u16, message: &str) -> Answer {
    reply(status, "text/plain", format!("{message}\r\n").into_bytes())
}

fn reply(status: u16, content_type: &str, body: Vec<u8>) -> Answer {
    Answer::Reply(wire::Reply {
        status,
        headers: vec![("Content-Type", content_type.to_string())],
        body,
    })
}

/// No handler registered for the path (REST off, or an endpoint not served here).
fn unregistered() -> Answer {
    Answer::Reply(wire::Reply {
        status: 404,
        headers: Vec::new(),
        body: Vec::new(),
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Undef,
    Bin,
    Hex,
    Json,
}

/// Core's `ParseDataFormat`: drops the query string, then a known suffix.
fn parse_format(part: &str) -> (&str, Format) {
    let param = part.rfind('?').map_or(part, |q| &part[..q]);
    if let Some(dot) = param.rfind('.') {
        let format = match &param[dot + 1..] {
            "bin" => Format::Bin,
            "hex" => Format::Hex,
            "json" => Format::Json,
            _ => return (param, Format::Undef),
        };
        return (&param[..dot], format);
    }
    (param, Format::Undef)
}

fn no_format() -> Answer {
    rest_error(
        404,
        "output format not found (available: .bin, .hex, .json)",
    )
}

/// A REST request for `uri`, or `None` when `uri` is not a REST path (the JSON-RPC paths).
pub(super) fn answer(uri: &str, handler: &dyn Handler, control: &Control) -> Option<Answer> {
    if !uri.starts_with("/rest/") {
        return None;
    }
    if !control.rest() {
        return Some(unregistered());
    }
    type Endpoint = fn(&str, &dyn Handler, &Control) -> Answer;
    let endpoints: [(&str, Endpoint); 4] = [
        ("/rest/block/notxdetails/", |p, h, c| block(p, h, c, 1)),
        ("/rest/block/", |p, h, c| block(p, h, c, 3)),
        ("/rest/chaininfo", chaininfo),
        ("/rest/blockhashbyheight/", hash_by_height),
    ];
    let Some((prefix, endpoint)) = endpoints.iter().find(|(p, _)| uri.starts_with(p)) else {
        return Some(unregistered());
    };
    if let Some(status) = control.warmup() {
        let message = format!("Service temporarily unavailable: {status}");
        return Some(rest_error(503, &message));
    }
    Some(endpoint(&uri[prefix.len()..], handler, control))
}

/// `rest_block`; `verbosity` is the JSON form's (`getblock` 1 or 3).
fn block(part: &str, handler: &dyn Handler, control: &Control, verbosity: u8) -> Answer {
    let (hash_text, format) = parse_format(part);
    let Some(hash) = parse_hash(hash_text) else {
        return rest_error(400, &format!("Invalid hash: {hash_text}"));
    };
    let Some(raw) = handler.raw_block(&hash) else {
        return rest_error(404, &format!("{hash_text} not found"));
    };
    match format {
        Format::Bin => {
            control.0.rest_blocks.fetch_add(1, Ordering::SeqCst);
            match control.settings().rest_fault {
                None => reply(200, "application/octet-stream", raw),
                Some(fault) => faulty(fault, raw, handler, &hash),
            }
        }
        Format::Hex => reply(
            200,
            "text/plain",
            format!("{}\n", raw.to_lower_hex_string()).into_bytes(),
        ),
        Format::Json => match handler.call("getblock", &[json!(hash_text), json!(verbosity)]) {
            Ok(block) => reply(
                200,
                "application/json",
                format!("{}\n", block.to_text()).into_bytes(),
            ),
            Err(e) => rest_error(404, &e.message),
        },
        Format::Undef => no_format(),
    }
}

fn faulty(fault: RestFault, raw: Vec<u8>, handler: &dyn Handler, asked: &BlockHash) -> Answer {
    match fault {
        RestFault::WrongBlock => {
            let other = [0, 1]
                .into_iter()
                .filter_map(|h| handler.active_hash(h))
                .find(|h| h != asked)
                .and_then(|h| handler.raw_block(&h))
                .unwrap_or_default();
            reply(200, "application/octet-stream", other)
        }
        RestFault::Truncated => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
                raw.len()
            );
            let mut bytes = head.into_bytes();
            bytes.extend_from_slice(&raw[..raw.len() / 2]);
            Answer::Raw(bytes)
        }
        RestFault::Oversized => {
            let mut body = raw;
            body.resize(MAX_BLOCK_SERIALIZED_SIZE + 1, 0);
            reply(200, "application/octet-stream", body)
        }
        RestFault::Status(status) => rest_error(status, "simnode: REST fault"),
    }
}

/// Core's `ParseHashStr`: exactly 64 hex digits.
fn parse_hash(text: &str) -> Option<BlockHash> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    text.parse().ok()
}

/// `rest_chaininfo`: JSON only.
fn chaininfo(part: &str, handler: &dyn Handler, _: &Control) -> Answer {
    match parse_format(part).1 {
        Format::Json => match handler.call("getblockchaininfo", &[]) {
            Ok(info) => reply(
                200,
                "application/json",
                format!("{}\n", info.to_text()).into_bytes(),
            ),
            Err(e) => rest_error(500, &e.message),
        },
        _ => rest_error(404, "output format not found (available: json)"),
    }
}

/// `rest_blockhash_by_height`.
fn hash_by_height(part: &str, handler: &dyn Handler, _: &Control) -> Answer {
    let (height_text, format) = parse_format(part);
    // Core's ParseInt32: an optional sign, digits, nothing else, within i32.
    let height = height_text.parse::<i32>().ok().filter(|h| *h >= 0);
    let Some(height) = height else {
        return rest_error(400, &format!("Invalid height: {}", sanitize(height_text)));
    };
    let Some(hash) = handler.active_hash(height as u32) else {
        return rest_error(404, "Block height out of range");
    };
    match format {
        Format::Bin => reply(
            200,
            "application/octet-stream",
            hash.to_byte_array().to_vec(),
        ),
        Format::Hex => reply(200, "text/plain", format!("{hash}\n").into_bytes()),
        Format::Json => {
            let body = format!("{}\n", json!({ "blockhash": hash.to_string() }));
            reply(200, "application/json", body.into_bytes())
        }
        Format::Undef => no_format(),
    }
}

/// Core's `SanitizeString` (default rule): keeps letters, digits and ` .,;-_/:?@()`.
fn sanitize(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || " .,;-_/:?@()".contains(*c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_core_parses_them() {
        assert!(matches!(parse_format("ab.bin"), ("ab", Format::Bin)));
        assert!(matches!(parse_format("ab.json?x=1"), ("ab", Format::Json)));
        assert!(matches!(parse_format("ab.xml"), ("ab.xml", Format::Undef)));
        assert!(matches!(parse_format("ab"), ("ab", Format::Undef)));
        assert!(parse_hash(&"0".repeat(64)).is_some());
        assert!(parse_hash(&"0".repeat(63)).is_none());
        assert!(parse_hash(&"g".repeat(64)).is_none());
        assert_eq!(sanitize("1<script>"), "1script");
    }
}
