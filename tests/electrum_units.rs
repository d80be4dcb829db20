//! Golden tests of `ferrumx::jsonrpc` (the JSON-RPC layer of both services) against aiorpcx 0.25.0 (the version
//! ElectrumX 1.20 pins), the library ElectrumX speaks JSON-RPC through.
//!
//! The vectors below were recorded by running aiorpcx's own `JSONRPCConnection(
//! JSONRPCAutoDetect)` (what every ElectrumX session uses) over each message sequence: the
//! protocol it detected, whether it refused the message (`fault`, with the error it sends back,
//! or `fatal` when its message loop would die on an uncaught exception), and the exact bytes it
//! sends when each request is answered with `{"m": method, "a": params}` (batch items answered
//! in batch order). `bind` vectors come from aiorpcx's `handler_invocation` on ElectrumX's
//! handler signatures.

use ferrumx::jsonrpc::{
    bind, encode_notification, parse, Answer, BatchDone, Detector, Dialect, Fault, Params, Parsed,
    Signature,
};
use ferrumx::py::MAX_NESTING;
use serde_json::{json, Value};

fn proto_name(p: Option<Dialect>) -> Value {
    match p {
        None => Value::Null,
        Some(Dialect::V1) => json!("V1"),
        Some(Dialect::V2) => json!("V2"),
        Some(Dialect::Loose) => json!("Loose"),
    }
}

fn params_value(p: &Params) -> Value {
    match p {
        Params::List(items) => Value::Array(items.clone()),
        Params::Named(map) => Value::Object(map.clone()),
    }
}

fn message_bytes(step: &Value) -> Vec<u8> {
    if let Some(text) = step["text"].as_str() {
        return text.as_bytes().to_vec();
    }
    let hex = step["hex"].as_str().unwrap_or_default();
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn text(bytes: Option<Vec<u8>>) -> Value {
    bytes.map_or(Value::Null, |b| {
        Value::String(String::from_utf8(b).unwrap())
    })
}

#[test]
fn aiorpcx_connection_vectors() {
    let mut cases = 0;
    for line in AIORPCX_VECTORS.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        let name = case["name"].as_str().unwrap();
        let max = case["max"].as_u64().unwrap() as usize;
        let mut detector = Detector::new();
        for (n, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let ctx = format!("case {name} step {n}");
            let outcome = parse(&message_bytes(step), &mut detector);
            assert_eq!(
                proto_name(detector.dialect()),
                step["proto"],
                "{ctx}: protocol"
            );
            match step["kind"].as_str().unwrap() {
                "fault" => {
                    let Err(Fault {
                        code, reply, fatal, ..
                    }) = outcome
                    else {
                        panic!("{ctx}: expected a fault, got {outcome:?}");
                    };
                    assert_eq!(fatal, step["fatal"].as_bool().unwrap(), "{ctx}: fatal");
                    assert_eq!(json!(code), step["code"], "{ctx}: code");
                    assert_eq!(text(reply), step["reply"], "{ctx}: reply");
                }
                "single" => {
                    let Ok(Parsed::Single(req)) = outcome else {
                        panic!("{ctx}: expected a request, got {outcome:?}");
                    };
                    let item = &step["items"][0];
                    assert_eq!(json!(req.method), item["method"], "{ctx}: method");
                    assert_eq!(json!(req.is_notification()), item["notification"], "{ctx}");
                    let result = json!({"m": req.method, "a": params_value(&req.params)});
                    assert_eq!(
                        text(req.response(Ok(&result), max)),
                        step["reply"],
                        "{ctx}: reply"
                    );
                }
                "batch" => {
                    let Ok(Parsed::Batch(mut batch)) = outcome else {
                        panic!("{ctx}: expected a batch, got {outcome:?}");
                    };
                    let items = step["items"].as_array().unwrap();
                    assert_eq!(batch.requests.len(), items.len(), "{ctx}: items");
                    let mut reply = None;
                    for (i, (req, item)) in batch.requests.iter().zip(items).enumerate() {
                        assert_eq!(json!(req.method), item["method"], "{ctx}: method");
                        assert_eq!(json!(req.is_notification()), item["notification"], "{ctx}");
                        assert!(reply.is_none(), "{ctx}: batch answered early");
                        let result = json!({"m": req.method, "a": params_value(&req.params)});
                        reply = batch
                            .collector
                            .record(i, Some(Ok(&Answer::Value(result))), max);
                    }
                    let reply = match reply {
                        Some(BatchDone::Reply(r)) => Some(r),
                        Some(BatchDone::Silent) => None,
                        other => panic!("{ctx}: batch ended with {other:?}"),
                    };
                    assert_eq!(text(reply), step["reply"], "{ctx}: reply");
                }
                other => panic!("{ctx}: unknown kind {other}"),
            }
        }
        cases += 1;
    }
    assert!(cases > 70);
}

#[test]
fn aiorpcx_bind_vectors() {
    for line in BIND_VECTORS.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let names: Vec<&'static str> = v["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| &*Box::leak(n.as_str().unwrap().to_owned().into_boxed_str()))
            .collect();
        let sig = Signature {
            names: Box::leak(names.into_boxed_slice()),
            required: v["required"].as_u64().unwrap() as usize,
            varargs: v["varargs"].as_bool().unwrap(),
            varkw: v["varkw"].as_bool().unwrap(),
        };
        let params = match &v["args"] {
            Value::Array(a) => Params::List(a.clone()),
            Value::Object(m) => Params::Named(m.clone()),
            other => panic!("bad args {other}"),
        };
        let method = v["method"].as_str().unwrap();
        let got = bind(method, &sig, &params);
        if v["ok"].as_bool().unwrap() {
            let bound = got.unwrap_or_else(|e| panic!("{line}: {e:?}"));
            assert_eq!(bound.len(), sig.names.len());
            for (i, name) in sig.names.iter().enumerate() {
                let want = match &params {
                    Params::List(a) => a.get(i).cloned(),
                    Params::Named(m) => m.get(*name).cloned(),
                };
                assert_eq!(bound[i], want, "{line}");
            }
        } else {
            let e = got.expect_err(line);
            assert_eq!(json!(e.code), v["code"], "{line}");
            assert_eq!(json!(e.message), v["message"], "{line}");
        }
    }
}

/// Deep nesting: Python's `json.loads` raises `RecursionError` near 1,000 levels, which kills
/// aiorpcx's message loop; a few hundred levels are fine.
#[test]
fn nesting() {
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let fault = parse(deep.as_bytes(), &mut Detector::new()).unwrap_err();
    assert!(fault.fatal && fault.reply.is_none());

    let nested = format!("{}{}", "[".repeat(300), "]".repeat(300));
    let msg = format!("{{\"method\":\"m\",\"params\":{nested},\"id\":1}}");
    let Ok(Parsed::Single(req)) = parse(msg.as_bytes(), &mut Detector::new()) else {
        panic!("300 levels should parse");
    };
    let result = json!({"m": req.method, "a": params_value(&req.params)});
    let reply = String::from_utf8(req.response(Ok(&result), 0).unwrap()).unwrap();
    assert_eq!(
        reply,
        format!("{{\"jsonrpc\":\"2.0\",\"result\":{{\"m\":\"m\",\"a\":{nested}}},\"id\":1}}")
    );
}

/// The nesting limit exactly: [`MAX_NESTING`] levels are decoded (and every deep value
/// is echoed or quoted in full), one more is fatal; all of it within the 2 MiB stack of a
/// tokio worker thread, in debug builds too.
#[test]
fn nesting_limit() {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(nesting_limit_on_this_thread)
        .unwrap()
        .join()
        .unwrap();
}

fn nesting_limit_on_this_thread() {
    let list = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let dict = |depth: usize| format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    let fault = parse(list(MAX_NESTING + 1).as_bytes(), &mut Detector::new()).unwrap_err();
    assert!(fault.fatal && fault.reply.is_none());
    let fault = parse(list(MAX_NESTING).as_bytes(), &mut Detector::new()).unwrap_err();
    assert!(!fault.fatal);
    assert_eq!(
        text(fault.reply),
        json!(
            r#"[{"jsonrpc":"2.0","error":{"code":-32600,"message":"request object must be a dictionary"},"id":null}]"#
        )
    );

    // Inside a request (the request itself is one level).
    let nested = list(MAX_NESTING - 1);
    let msg = format!(
        "{{\"method\":\"m\",\"params\":[{}],\"id\":1}}",
        list(MAX_NESTING - 2)
    );
    let Ok(Parsed::Single(req)) = parse(msg.as_bytes(), &mut Detector::new()) else {
        panic!("{MAX_NESTING} levels should parse");
    };
    let result = json!({"m": req.method, "a": params_value(&req.params)});
    let reply = String::from_utf8(req.response(Ok(&result), 0).unwrap()).unwrap();
    assert_eq!(
        reply,
        format!("{{\"jsonrpc\":\"2.0\",\"result\":{{\"m\":\"m\",\"a\":{nested}}},\"id\":1}}")
    );
    let deep_dict = dict(MAX_NESTING - 2);
    let msg = format!("{{\"method\":\"m\",\"params\":[{deep_dict}],\"id\":1}}");
    let Ok(Parsed::Single(req)) = parse(msg.as_bytes(), &mut Detector::new()) else {
        panic!("{MAX_NESTING} levels of dicts should parse");
    };
    let reply =
        String::from_utf8(req.response(Ok(&params_value(&req.params)), 0).unwrap()).unwrap();
    assert_eq!(
        reply,
        format!("{{\"jsonrpc\":\"2.0\",\"result\":[{deep_dict}],\"id\":1}}")
    );
    let too_deep = format!(
        "{{\"method\":\"m\",\"params\":[{}]}}",
        dict(MAX_NESTING - 1)
    );
    assert!(
        parse(too_deep.as_bytes(), &mut Detector::new())
            .unwrap_err()
            .fatal
    );
    let too_deep = format!(
        "{{\"method\":\"m\",\"params\":{},\"id\":1}}",
        list(MAX_NESTING)
    );
    assert!(
        parse(too_deep.as_bytes(), &mut Detector::new())
            .unwrap_err()
            .fatal
    );

    // A deep invalid id is quoted whole (Python's str()).
    let msg = format!("{{\"method\":\"m\",\"id\":{nested}}}");
    let fault = parse(msg.as_bytes(), &mut Detector::new()).unwrap_err();
    assert_eq!(
        text(fault.reply),
        json!(format!("{{\"jsonrpc\":\"2.0\",\"error\":{{\"code\":-32600,\"message\":\"invalid \\\"id\\\": {nested}\"}},\"id\":null}}"))
    );
}

/// Python ints: a literal of more than 4,300 digits raises `ValueError` inside `json.loads`
/// (not a JSON error: aiorpcx's loop dies); 4,300 digits are fine and echoed exactly as ids.
#[test]
fn int_digit_limit() {
    let big = format!(
        "{{\"method\":\"m\",\"params\":[{}],\"id\":1}}",
        "1".repeat(4301)
    );
    let fault = parse(big.as_bytes(), &mut Detector::new()).unwrap_err();
    assert!(fault.fatal);
    let digits = "9".repeat(4300);
    let ok = format!("{{\"method\":\"m\",\"params\":[],\"id\":{digits}}}");
    let Ok(Parsed::Single(req)) = parse(ok.as_bytes(), &mut Detector::new()) else {
        panic!("4,300 digits should parse");
    };
    let reply = String::from_utf8(req.response(Ok(&json!(null)), 0).unwrap()).unwrap();
    assert_eq!(
        reply,
        format!("{{\"jsonrpc\":\"2.0\",\"result\":null,\"id\":{digits}}}")
    );
}

/// Server notifications as aiorpcx writes them.
#[test]
fn notifications() {
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    assert_eq!(
        text(encode_notification(
            Dialect::V2,
            "blockchain.scripthash.subscribe",
            &[json!("ab"), json!(null)]
        )),
        r#"{"jsonrpc":"2.0","method":"blockchain.scripthash.subscribe","params":["ab",null]}"#
    );
    assert_eq!(
        text(encode_notification(
            Dialect::Loose,
            "blockchain.relayfee",
            &[]
        )),
        r#"{"jsonrpc":"2.0","method":"blockchain.relayfee"}"#
    );
    assert_eq!(
        text(encode_notification(
            Dialect::V1,
            "blockchain.headers.subscribe",
            &[json!({"hex": "00", "height": 1})]
        )),
        r#"{"method":"blockchain.headers.subscribe","params":[{"hex":"00","height":1}],"id":null}"#
    );
    assert_eq!(
        text(encode_notification(Dialect::V1, "blockchain.relayfee", &[])),
        r#"{"method":"blockchain.relayfee","params":[],"id":null}"#
    );
}

/// Parameter-check errors exactly as ElectrumX 1.20 answered them on the recorded chain
/// (`tests/data/electrumx-1.20-answers/answers.jsonl`).
#[test]
fn electrumx_param_errors() {
    use ferrumx::electrum::params::{assert_tx_hash, non_negative_integer, script_hash};
    use ferrumx::jsonrpc::RpcError;
    use ferrumx::py::thousands;
    let bad = |m: &str| Some(RpcError::new(1, m));
    assert_eq!(
        non_negative_integer(&json!(-1)).err(),
        bad("-1 should be a non-negative integer")
    );
    assert_eq!(
        non_negative_integer(&json!("x")).err(),
        bad("x should be a non-negative integer")
    );
    assert_eq!(
        script_hash(&json!("00")).err(),
        bad("00 is not a valid script hash")
    );
    assert_eq!(
        script_hash(&json!(7)).err(),
        bad("7 is not a valid script hash")
    );
    assert_eq!(
        assert_tx_hash(&json!("zz")).err(),
        bad("zz should be a transaction hash")
    );
    assert_eq!(
        RpcError::unknown_method("no.such.method"),
        RpcError::new(-32601, "unknown method \"no.such.method\"")
    );
    assert_eq!(
        format!(
            "no tx at position {} in block at height {}",
            thousands(99_999u32),
            thousands(1u32)
        ),
        "no tx at position 99,999 in block at height 1"
    );
    let height = non_negative_integer(&json!("99999999999999999999")).unwrap();
    assert_eq!(
        format!("height {} out of range", height.grouped()),
        "height 99,999,999,999,999,999,999 out of range"
    );
}

const AIORPCX_VECTORS: &str = r##"{"name":"v2_request","max":0,"steps":[{"kind":"single","items":[{"method":"server.version","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"server.version\",\"a\":[\"x\",\"1.4\"]},\"id\":0}","proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"server.version\",\"params\":[\"x\",\"1.4\"],\"id\":0}"}]}
{"name":"loose_request","max":0,"steps":[{"kind":"single","items":[{"method":"server.version","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"server.version\",\"a\":[]},\"id\":1}","proto":"Loose","text":"{\"method\":\"server.version\",\"params\":[],\"id\":1}"}]}
{"name":"v1_request","max":0,"steps":[{"kind":"single","items":[{"method":"m","notification":false}],"reply":"{\"result\":{\"m\":\"m\",\"a\":[1]},\"error\":null,\"id\":1}","proto":"V1","text":"{\"jsonrpc\":\"1.0\",\"method\":\"m\",\"params\":[1],\"id\":1}"}]}
{"name":"v1_response","max":0,"steps":[{"kind":"fault","code":-32600,"reply":null,"fatal":false,"proto":"V1","text":"{\"id\":1,\"result\":null,\"error\":null}"}]}
{"name":"invalid_json","max":0,"steps":[{"kind":"fault","code":-32700,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,\"message\":\"invalid JSON\"},\"id\":null}","fatal":false,"proto":null,"text":"invalid"}]}
{"name":"bad_utf8","max":0,"steps":[{"kind":"fault","code":-32700,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,\"message\":\"messages must be encoded in UTF-8\"},\"id\":null}","fatal":false,"proto":null,"hex":"fffe"}]}
{"name":"empty","max":0,"steps":[{"kind":"fault","code":-32700,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,\"message\":\"invalid JSON\"},\"id\":null}","fatal":false,"proto":null,"text":""}]}
{"name":"spaces","max":0,"steps":[{"kind":"fault","code":-32700,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,\"message\":\"invalid JSON\"},\"id\":null}","fatal":false,"proto":null,"text":"  \r"}]}
{"name":"empty_batch","max":0,"steps":[{"kind":"fault","code":-32600,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"batch is empty\"},\"id\":null}","fatal":false,"proto":"Loose","text":"[]"}]}
{"name":"number","max":0,"steps":[{"kind":"fault","code":-32600,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"request object must be a dictionary\"},\"id\":null}","fatal":false,"proto":"Loose","text":"5"}]}
{"name":"string","max":0,"steps":[{"kind":"fault","code":-32600,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"request object must be a dictionary\"},\"id\":null}","fatal":false,"proto":"Loose","text":"\"str\""}]}
{"name":"null","max":0,"steps":[{"kind":"fault","code":-32600,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"request object must be a dictionary\"},\"id\":null}","fatal":false,"proto":"Loose","text":"null"}]}
{"name":"id_list","max":0,"steps":[{"kind":"fault","code":-32600,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"invalid \\\"id\\\": [1, 'a']\"},\"id\":null}","fatal":false,"proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":[1,\"a\"]}"}]}
{"name":"id_dict","max":0,"steps":[{"kind":"fault","code":-32600,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"invalid \\\"id\\\": {'a': 1}\"},\"id\":null}","fatal":false,"proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":{\"a\":1}}"}]}
{"name":"id_true","max":0,"steps":[{"kind":"single","items":[{"method":"m","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"m\",\"a\":[]},\"id\":true}","proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":true}"}]}
{"name":"id_float","max":0,"steps":[{"kind":"single","items":[{"method":"m","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"m\",\"a\":[]},\"id\":1.5}","proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":1.5}"}]}
{"name":"id_float2","max":0,"steps":[{"kind":"single","items":[{"method":"m","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"m\",\"a\":[]},\"id\":100.0}","proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":1E2}"}]}
{"name":"id_bigint","max":0,"steps":[{"kind":"single","items":[{"method":"m","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"m\",\"a\":[]},\"id\":-12345678901234567890123456789}","proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":-12345678901234567890123456789}"}]}
{"name":"id_unicode","max":0,"steps":[{"kind":"single","items":[{"method":"m","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"m\",\"a\":[]},\"id\":\"\\u00e9x\\u00e9\\ud83d\\ude00\"}","proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":\"\\u00e9x\u00e9\\ud83d\\ude00\"}"}]}
{"name":"id_lone_high_surrogate_not","max":0,"steps":[{"kind":"single","items":[{"method":"m","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"m\",\"a\":[]},\"id\":\"\\ud83dA\"}","proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":\"\\ud83d\\u0041\"}"}]}
{"name":"id_null","max":0,"steps":[{"kind":"single","items":[{"method":"m","notification":true}],"reply":null,"proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":null}"}]}
{"name":"no_id","max":0,"steps":[{"kind":"single","items":[{"method":"m","notification":true}],"reply":null,"proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"m\"}"}]}
{"name":"method_int","max":0,"steps":[{"kind":"fault","code":-32601,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":\"method must be a string\"},\"id\":1}","fatal":false,"proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":5,\"id\":1}"}]}
{"name":"method_null","max":0,"steps":[{"kind":"fault","code":-32601,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":\"method must be a string\"},\"id\":1}","fatal":false,"proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":null,\"id\":1}"}]}
{"name":"params_int","max":0,"steps":[{"kind":"fault","code":-32602,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"invalid request arguments: 5\"},\"id\":1}","fatal":false,"proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":5,\"id\":1}"}]}
{"name":"params_str","max":0,"steps":[{"kind":"fault","code":-32602,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"invalid request arguments: abc\"},\"id\":1}","fatal":false,"proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":\"abc\",\"id\":1}"}]}
{"name":"params_null","max":0,"steps":[{"kind":"fault","code":-32602,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"invalid request arguments: None\"},\"id\":1}","fatal":false,"proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":null,\"id\":1}"}]}
{"name":"params_float","max":0,"steps":[{"kind":"fault","code":-32602,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"invalid request arguments: 1.0\"},\"id\":1}","fatal":false,"proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":1.0,\"id\":1}"}]}
{"name":"params_bool","max":0,"steps":[{"kind":"fault","code":-32602,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"invalid request arguments: True\"},\"id\":\"q\"}","fatal":false,"proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":true,\"id\":\"q\"}"}]}
{"name":"params_dict","max":0,"steps":[{"kind":"single","items":[{"method":"m","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"m\",\"a\":{\"b\":1,\"a\":[1,2]}},\"id\":1}","proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{\"b\":1,\"a\":[1,2]},\"id\":1}"}]}
{"name":"params_and_method_bad","max":0,"steps":[{"kind":"fault","code":-32602,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"invalid request arguments: 5\"},\"id\":1}","fatal":false,"proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":5,\"params\":5,\"id\":1}"}]}
{"name":"params_bad_notification","max":0,"steps":[{"kind":"fault","code":-32602,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"invalid request arguments: 5\"},\"id\":null}","fatal":false,"proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":5}"}]}
{"name":"echo_values","max":0,"steps":[{"kind":"single","items":[{"method":"m","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"m\",\"a\":[1.0,1e-05,1e+16,1000000000000000.0,0,-0.0,100.0,0.1,\"\\ud83d\\ude00\",\"\\u00e9\\u2028\\u007f\\u0001/\",true,null,{\"k\":\"w\"},123456789012345678]},\"id\":7}","proto":"Loose","text":"{\"method\":\"m\",\"params\":[1.0,1e-5,1e16,1e15,-0,-0.0,1E2,0.1,\"\\ud83d\\ude00\",\"\u00e9\\u2028\\u007f\\u0001\\/\",true,null,{\"k\":\"v\",\"k\":\"w\"},123456789012345678],\"id\":7}"}]}
{"name":"id_nan","max":0,"steps":[{"kind":"single","items":[{"method":"m","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"m\",\"a\":[]},\"id\":NaN}","proto":"Loose","text":"{\"method\":\"m\",\"params\":[],\"id\":NaN}"}]}
{"name":"id_inf","max":0,"steps":[{"kind":"single","items":[{"method":"m","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"m\",\"a\":[]},\"id\":Infinity}","proto":"Loose","text":"{\"method\":\"m\",\"params\":[],\"id\":Infinity}"}]}
{"name":"id_neginf","max":0,"steps":[{"kind":"single","items":[{"method":"m","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"m\",\"a\":[]},\"id\":-Infinity}","proto":"Loose","text":"{\"method\":\"m\",\"params\":[],\"id\":-Infinity}"}]}
{"name":"id_1e400","max":0,"steps":[{"kind":"single","items":[{"method":"m","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"m\",\"a\":[]},\"id\":Infinity}","proto":"Loose","text":"{\"method\":\"m\",\"params\":[],\"id\":1e400}"}]}
{"name":"response_v2","max":0,"steps":[{"kind":"fault","code":-32600,"reply":null,"fatal":false,"proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"result\":1,\"id\":1}"}]}
{"name":"response_error_null","max":0,"steps":[{"kind":"fault","code":-32600,"reply":null,"fatal":false,"proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":\"x\"},\"id\":null}"}]}
{"name":"jsonrpc_number","max":0,"steps":[{"kind":"single","items":[{"method":"m","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"m\",\"a\":[]},\"id\":1}","proto":"Loose","text":"{\"jsonrpc\":2.0,\"method\":\"m\",\"id\":1}"}]}
{"name":"jsonrpc_only","max":0,"steps":[{"kind":"fault","code":-32600,"reply":null,"fatal":false,"proto":"V2","text":"{\"jsonrpc\":\"2.0\"}"}]}
{"name":"bom","max":0,"steps":[{"kind":"fault","code":-32700,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,\"message\":\"invalid JSON\"},\"id\":null}","fatal":false,"proto":null,"text":"\ufeff{\"method\":\"m\",\"id\":1}"}]}
{"name":"trailing","max":0,"steps":[{"kind":"fault","code":-32700,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,\"message\":\"invalid JSON\"},\"id\":null}","fatal":false,"proto":null,"text":"{\"method\":\"m\",\"id\":1} x"}]}
{"name":"crlf","max":0,"steps":[{"kind":"single","items":[{"method":"m","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"m\",\"a\":[]},\"id\":1}","proto":"Loose","text":"{\"method\":\"m\",\"id\":1}\r"}]}
{"name":"dup_keys","max":0,"steps":[{"kind":"single","items":[{"method":"b","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"b\",\"a\":[2]},\"id\":2}","proto":"Loose","text":"{\"method\":\"a\",\"method\":\"b\",\"params\":[],\"params\":[2],\"id\":1,\"id\":2}"}]}
{"name":"nested_params_str","max":0,"steps":[{"kind":"fault","code":-32602,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"invalid request arguments: it's\"},\"id\":1}","fatal":false,"proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":\"it's\",\"id\":1}"}]}
{"name":"batch_v2","max":0,"steps":[{"kind":"batch","items":[{"method":"a","notification":false},{"method":"b","notification":false}],"reply":"[{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[1]},\"id\":1}, {\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"b\",\"a\":[]},\"id\":2}]","proto":"V2","text":"[{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":[1],\"id\":1},{\"jsonrpc\":\"2.0\",\"method\":\"b\",\"id\":2}]"}]}
{"name":"batch_mixed","max":0,"steps":[{"kind":"batch","items":[{"method":"a","notification":false}],"reply":"[{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"request object must be a dictionary\"},\"id\":null}, {\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":\"method must be a string\"},\"id\":3}, {\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"\\\"jsonrpc\\\" is not \\\"2.0\\\"\"},\"id\":4}, {\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"invalid \\\"id\\\": [1]\"},\"id\":null}, {\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[]},\"id\":1}]","proto":"V2","text":"[{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1}, 5, {\"jsonrpc\":\"2.0\",\"method\":7,\"id\":3}, {\"method\":\"c\",\"id\":4}, {\"jsonrpc\":\"2.0\",\"method\":\"d\",\"id\":[1]}]"}]}
{"name":"batch_all_invalid","max":0,"steps":[{"kind":"fault","code":0,"reply":"[{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"request object must be a dictionary\"},\"id\":null}, {\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"request object must be a dictionary\"},\"id\":null}, {\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":\"method must be a string\"},\"id\":\"z\"}]","fatal":false,"proto":"Loose","text":"[5, 6, {\"method\":1,\"id\":\"z\"}]"}]}
{"name":"batch_notifications","max":0,"steps":[{"kind":"batch","items":[{"method":"a","notification":true},{"method":"b","notification":true}],"reply":null,"proto":"V2","text":"[{\"jsonrpc\":\"2.0\",\"method\":\"a\"},{\"jsonrpc\":\"2.0\",\"method\":\"b\",\"id\":null}]"}]}
{"name":"batch_notification_and_invalid","max":0,"steps":[{"kind":"batch","items":[{"method":"a","notification":true}],"reply":null,"proto":"V2","text":"[{\"jsonrpc\":\"2.0\",\"method\":\"a\"}, 5]"}]}
{"name":"batch_notification_and_request","max":0,"steps":[{"kind":"batch","items":[{"method":"a","notification":true},{"method":"b","notification":false}],"reply":"[{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"b\",\"a\":[]},\"id\":\"r\"}]","proto":"V2","text":"[{\"jsonrpc\":\"2.0\",\"method\":\"a\"}, {\"jsonrpc\":\"2.0\",\"method\":\"b\",\"id\":\"r\"}]"}]}
{"name":"batch_responses","max":0,"steps":[{"kind":"fault","code":-32600,"reply":null,"fatal":false,"proto":"V2","text":"[{\"jsonrpc\":\"2.0\",\"result\":1,\"id\":1},{\"jsonrpc\":\"2.0\",\"result\":2,\"id\":2.5}]"}]}
{"name":"batch_responses_mixed_ids","max":0,"steps":[{"kind":"fault","code":0,"reply":null,"fatal":true,"proto":"V2","text":"[{\"jsonrpc\":\"2.0\",\"result\":1,\"id\":1},{\"jsonrpc\":\"2.0\",\"result\":2,\"id\":\"x\"}]"}]}
{"name":"batch_responses_two_nulls","max":0,"steps":[{"kind":"fault","code":0,"reply":null,"fatal":true,"proto":"V2","text":"[{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":\"x\"},\"id\":null},{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":\"x\"},\"id\":null}]"}]}
{"name":"batch_responses_one_null","max":0,"steps":[{"kind":"fault","code":-32600,"reply":null,"fatal":false,"proto":"V2","text":"[{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":\"x\"},\"id\":null}]"}]}
{"name":"batch_responses_invalid_then_mixed","max":0,"steps":[{"kind":"fault","code":-32600,"reply":null,"fatal":false,"proto":"V2","text":"[{\"jsonrpc\":\"2.0\",\"result\":1},{\"jsonrpc\":\"2.0\",\"result\":2,\"id\":\"x\"}]"}]}
{"name":"batch_responses_bad_error_obj","max":0,"steps":[{"kind":"fault","code":-32600,"reply":null,"fatal":false,"proto":"V2","text":"[{\"jsonrpc\":\"2.0\",\"error\":5,\"id\":1},{\"jsonrpc\":\"2.0\",\"result\":2,\"id\":\"x\"}]"}]}
{"name":"batch_responses_loose","max":0,"steps":[{"kind":"fault","code":-32600,"reply":null,"fatal":false,"proto":"Loose","text":"[{\"result\":1,\"id\":1},{\"error\":null,\"id\":\"x\"}]"}]}
{"name":"batch_responses_loose_mixed","max":0,"steps":[{"kind":"fault","code":-32600,"reply":"{\"result\":null,\"error\":{\"code\":-32600,\"message\":\"request object must be a dictionary\"},\"id\":null}","fatal":false,"proto":"V1","text":"[{\"result\":1,\"id\":1},{\"result\":2,\"error\":null,\"id\":\"x\"}]"}]}
{"name":"batch_response_and_request","max":0,"steps":[{"kind":"batch","items":[{"method":"a","notification":false}],"reply":"[{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":\"method must be a string\"},\"id\":1}, {\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[]},\"id\":2}]","proto":"V2","text":"[{\"jsonrpc\":\"2.0\",\"result\":1,\"id\":1},{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":2}]"}]}
{"name":"batch_v1_detect","max":0,"steps":[{"kind":"fault","code":-32600,"reply":"{\"result\":null,\"error\":{\"code\":-32600,\"message\":\"request object must be a dictionary\"},\"id\":null}","fatal":false,"proto":"V1","text":"[{\"jsonrpc\":\"1.0\",\"method\":\"a\",\"params\":[],\"id\":1},{\"method\":\"b\",\"id\":2}]"}]}
{"name":"batch_loose","max":0,"steps":[{"kind":"batch","items":[{"method":"a","notification":false},{"method":"b","notification":false}],"reply":"[{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[]},\"id\":1}, {\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"b\",\"a\":{\"x\":1}},\"id\":2}]","proto":"Loose","text":"[{\"method\":\"a\",\"id\":1},{\"method\":\"b\",\"params\":{\"x\":1},\"id\":2}]"}]}
{"name":"batch_nested_empty","max":0,"steps":[{"kind":"fault","code":0,"reply":"[{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"request object must be a dictionary\"},\"id\":null}]","fatal":false,"proto":"Loose","text":"[[]]"}]}
{"name":"seq_v2_then_missing_jsonrpc","max":0,"steps":[{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[]},\"id\":1}","proto":"V2","text":"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1}"},{"kind":"fault","code":-32600,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"\\\"jsonrpc\\\" is not \\\"2.0\\\"\"},\"id\":2}","fatal":false,"proto":"V2","text":"{\"method\":\"a\",\"id\":2}"},{"kind":"fault","code":-32600,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"\\\"jsonrpc\\\" is not \\\"2.0\\\"\"},\"id\":3}","fatal":false,"proto":"V2","text":"{\"jsonrpc\":\"1.0\",\"method\":\"a\",\"id\":3}"}]}
{"name":"seq_v1","max":0,"steps":[{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"result\":{\"m\":\"a\",\"a\":[]},\"error\":null,\"id\":1}","proto":"V1","text":"{\"jsonrpc\":\"1.0\",\"method\":\"a\",\"params\":[],\"id\":1}"},{"kind":"fault","code":-32600,"reply":"{\"result\":null,\"error\":{\"code\":-32600,\"message\":\"request object must be a dictionary\"},\"id\":null}","fatal":false,"proto":"V1","text":"[{\"method\":\"a\",\"params\":[],\"id\":2}]"},{"kind":"fault","code":-32600,"reply":"{\"result\":null,\"error\":{\"code\":-32600,\"message\":\"request has no \\\"id\\\"\"},\"id\":null}","fatal":false,"proto":"V1","text":"{\"method\":\"a\",\"params\":[]}"},{"kind":"single","items":[{"method":"a","notification":true}],"reply":null,"proto":"V1","text":"{\"method\":\"a\",\"params\":[],\"id\":null}"},{"kind":"fault","code":-32602,"reply":"{\"result\":null,\"error\":{\"code\":-32602,\"message\":\"invalid request arguments: None\"},\"id\":3}","fatal":false,"proto":"V1","text":"{\"method\":\"a\",\"id\":3}"},{"kind":"fault","code":-32602,"reply":"{\"result\":null,\"error\":{\"code\":-32602,\"message\":\"invalid request arguments: {'x': 1}\"},\"id\":4}","fatal":false,"proto":"V1","text":"{\"method\":\"a\",\"params\":{\"x\":1},\"id\":4}"},{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"result\":{\"m\":\"a\",\"a\":[]},\"error\":null,\"id\":[1,{\"b\":null}]}","proto":"V1","text":"{\"method\":\"a\",\"params\":[],\"id\":[1,{\"b\":null}]}"},{"kind":"fault","code":-32601,"reply":"{\"result\":null,\"error\":{\"code\":-32601,\"message\":\"method must be a string\"},\"id\":5}","fatal":false,"proto":"V1","text":"{\"method\":7,\"params\":[],\"id\":5}"},{"kind":"fault","code":-32700,"reply":"{\"result\":null,\"error\":{\"code\":-32700,\"message\":\"invalid JSON\"},\"id\":null}","fatal":false,"proto":"V1","text":"bad json"},{"kind":"fault","code":-32600,"reply":"{\"result\":null,\"error\":{\"code\":-32600,\"message\":\"request object must be a dictionary\"},\"id\":null}","fatal":false,"proto":"V1","text":"5"},{"kind":"fault","code":-32600,"reply":null,"fatal":false,"proto":"V1","text":"{\"result\":1,\"error\":null,\"id\":9}"},{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"result\":{\"m\":\"a\",\"a\":[1]},\"error\":null,\"id\":6}","proto":"V1","text":"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":[1],\"id\":6}"}]}
{"name":"seq_parse_error_then_v1","max":0,"steps":[{"kind":"fault","code":-32700,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,\"message\":\"invalid JSON\"},\"id\":null}","fatal":false,"proto":null,"text":"{"},{"kind":"fault","code":-32700,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,\"message\":\"messages must be encoded in UTF-8\"},\"id\":null}","fatal":false,"proto":null,"hex":"c3"},{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"result\":{\"m\":\"a\",\"a\":[]},\"error\":null,\"id\":1}","proto":"V1","text":"{\"jsonrpc\":\"1.0\",\"method\":\"a\",\"params\":[],\"id\":1}"},{"kind":"fault","code":-32700,"reply":"{\"result\":null,\"error\":{\"code\":-32700,\"message\":\"invalid JSON\"},\"id\":null}","fatal":false,"proto":"V1","text":"{"}]}
{"name":"seq_loose","max":0,"steps":[{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[]},\"id\":1}","proto":"Loose","text":"{\"method\":\"a\",\"id\":1}"},{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[]},\"id\":2}","proto":"Loose","text":"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":2}"},{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[]},\"id\":3}","proto":"Loose","text":"{\"jsonrpc\":\"1.0\",\"method\":\"a\",\"id\":3}"},{"kind":"batch","items":[{"method":"b","notification":false}],"reply":"[{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"b\",\"a\":[]},\"id\":4}]","proto":"Loose","text":"[{\"method\":\"b\",\"id\":4}]"}]}
{"name":"seq_loose_from_nondict","max":0,"steps":[{"kind":"fault","code":-32600,"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"request object must be a dictionary\"},\"id\":null}","fatal":false,"proto":"Loose","text":"5"},{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[]},\"id\":1}","proto":"Loose","text":"{\"method\":\"a\",\"id\":1}"}]}
{"name":"seq_detect_on_response","max":0,"steps":[{"kind":"fault","code":-32600,"reply":null,"fatal":false,"proto":"V1","text":"{\"result\":1,\"error\":null,\"id\":1}"},{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"result\":{\"m\":\"a\",\"a\":[]},\"error\":null,\"id\":2}","proto":"V1","text":"{\"method\":\"a\",\"params\":[],\"id\":2}"}]}
{"name":"size_single","max":100,"steps":[{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[]},\"id\":1}","proto":"Loose","text":"{\"method\":\"a\",\"params\":[],\"id\":1}"},{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"response too large (over 100 bytes\"},\"id\":2}","proto":"Loose","text":"{\"method\":\"a\",\"params\":[\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"],\"id\":2}"},{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[]},\"id\":\"abc\"}","proto":"Loose","text":"{\"method\":\"a\",\"params\":[],\"id\":\"abc\"}"}]}
{"name":"size_batch","max":120,"steps":[{"kind":"batch","items":[{"method":"a","notification":false},{"method":"b","notification":false},{"method":"c","notification":false}],"reply":"[{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"request object must be a dictionary\"},\"id\":null}, {\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[]},\"id\":1}, {\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"response too large (over 120 bytes\"},\"id\":2}, {\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"response too large (over 120 bytes\"},\"id\":3}]","proto":"Loose","text":"[{\"method\":\"a\",\"id\":1},{\"method\":\"b\",\"params\":[\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"],\"id\":2},{\"method\":\"c\",\"id\":3}, 5]"},{"kind":"batch","items":[{"method":"a","notification":false},{"method":"b","notification":false}],"reply":"[{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[]},\"id\":1}, {\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"b\",\"a\":[]},\"id\":2}]","proto":"Loose","text":"[{\"method\":\"a\",\"id\":1},{\"method\":\"b\",\"id\":2}]"},{"kind":"batch","items":[{"method":"abcdefghij","notification":false},{"method":"b","notification":false}],"reply":"[{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"abcdefghij\",\"a\":[]},\"id\":1}, {\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"b\",\"a\":[]},\"id\":2}]","proto":"Loose","text":"[{\"method\":\"abcdefghij\",\"id\":1},{\"method\":\"b\",\"id\":2}]"}]}
{"name":"size_unlimited","max":0,"steps":[{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"]},\"id\":2}","proto":"Loose","text":"{\"method\":\"a\",\"params\":[\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"],\"id\":2}"}]}
{"name":"size_exact","max":50,"steps":[{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[]},\"id\":1}","proto":"Loose","text":"{\"method\":\"a\",\"params\":[],\"id\":1}"}]}
{"name":"size_exact_over","max":49,"steps":[{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"response too large (over 49 bytes\"},\"id\":1}","proto":"Loose","text":"{\"method\":\"a\",\"params\":[],\"id\":1}"}]}
{"name":"size_thousands","max":1234,"steps":[{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"response too large (over 1,234 bytes\"},\"id\":2}","proto":"Loose","text":"{\"method\":\"a\",\"params\":[\"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\"],\"id\":2}"}]}
{"name":"size_batch_exact","max":104,"steps":[{"kind":"batch","items":[{"method":"a","notification":false},{"method":"a","notification":false}],"reply":"[{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[]},\"id\":1}, {\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[]},\"id\":1}]","proto":"Loose","text":"[{\"method\":\"a\",\"id\":1},{\"method\":\"a\",\"id\":1}]"}]}
{"name":"size_batch_exact_over","max":105,"steps":[{"kind":"batch","items":[{"method":"a","notification":false},{"method":"a","notification":false},{"method":"a","notification":false}],"reply":"[{\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[]},\"id\":1}, {\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[]},\"id\":1}, {\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"response too large (over 105 bytes\"},\"id\":1}]","proto":"Loose","text":"[{\"method\":\"a\",\"id\":1},{\"method\":\"a\",\"id\":1},{\"method\":\"a\",\"id\":1}]"}]}
{"name":"size_batch_errors_do_not_count","max":52,"steps":[{"kind":"batch","items":[{"method":"a","notification":false}],"reply":"[{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"request object must be a dictionary\"},\"id\":null}, {\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"request object must be a dictionary\"},\"id\":null}, {\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"request object must be a dictionary\"},\"id\":null}, {\"jsonrpc\":\"2.0\",\"result\":{\"m\":\"a\",\"a\":[]},\"id\":1}]","proto":"Loose","text":"[5, 6, 7, {\"method\":\"a\",\"id\":1}]"}]}
{"name":"size_batch_v1_errors","max":100,"steps":[{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"result\":{\"m\":\"a\",\"a\":[]},\"error\":null,\"id\":1}","proto":"V1","text":"{\"jsonrpc\":\"1.0\",\"method\":\"a\",\"params\":[],\"id\":1}"},{"kind":"single","items":[{"method":"a","notification":false}],"reply":"{\"result\":null,\"error\":{\"code\":-32600,\"message\":\"response too large (over 100 bytes\"},\"id\":\"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\"}","proto":"V1","text":"{\"method\":\"a\",\"params\":[],\"id\":\"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\"}"}]}"##;

const BIND_VECTORS: &str = r##"{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":[],"ok":false,"code":-32602,"message":"0 arguments passed to method \"blockchain.block.header\" but it requires 1"}
{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":[1],"ok":true}
{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":[1,2],"ok":true}
{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":[1,2,3],"ok":false,"code":-32602,"message":"3 arguments passed to method blockchain.block.header taking at most 2"}
{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":[1,2,3,4],"ok":false,"code":-32602,"message":"4 arguments passed to method blockchain.block.header taking at most 2"}
{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":{},"ok":false,"code":-32602,"message":"method \"blockchain.block.header\" requires parameter \"height\""}
{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":{"height":1},"ok":true}
{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":{"cp_height":1},"ok":false,"code":-32602,"message":"method \"blockchain.block.header\" requires parameter \"height\""}
{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":{"height":1,"cp_height":2},"ok":true}
{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":{"height":1,"x":2},"ok":false,"code":-32602,"message":"method \"blockchain.block.header\" does not take parameter \"x\""}
{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":{"height":1,"x":2,"a":3},"ok":false,"code":-32602,"message":"method \"blockchain.block.header\" does not take parameters \"a\", \"x\""}
{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":{"start_height":1,"count":2},"ok":false,"code":-32602,"message":"method \"blockchain.block.header\" requires parameter \"height\""}
{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":{"count":2},"ok":false,"code":-32602,"message":"method \"blockchain.block.header\" requires parameter \"height\""}
{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":{"x":1,"y":2},"ok":false,"code":-32602,"message":"method \"blockchain.block.header\" requires parameter \"height\""}
{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":{"client_name":"a","protocol_version":"1.4","future":1},"ok":false,"code":-32602,"message":"method \"blockchain.block.header\" requires parameter \"height\""}
{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":{"self":1},"ok":false,"code":-32602,"message":"method \"blockchain.block.header\" requires parameter \"height\""}
{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":{"scripthash":"00"},"ok":false,"code":-32602,"message":"method \"blockchain.block.header\" requires parameter \"height\""}
{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":{"extra_args":1},"ok":false,"code":-32602,"message":"method \"blockchain.block.header\" requires parameter \"height\""}
{"method":"blockchain.block.header","names":["height","cp_height"],"required":1,"varargs":false,"varkw":false,"args":{"height":1,"tx_pos":2,"merkle":true,"zzz":0,"aaa":1},"ok":false,"code":-32602,"message":"method \"blockchain.block.header\" does not take parameters \"aaa\", \"merkle\", \"tx_pos\", \"zzz\""}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":[],"ok":false,"code":-32602,"message":"0 arguments passed to method \"blockchain.block.headers\" but it requires 2"}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":[1],"ok":false,"code":-32602,"message":"1 argument passed to method \"blockchain.block.headers\" but it requires 2"}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":[1,2],"ok":true}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":[1,2,3],"ok":true}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":[1,2,3,4],"ok":false,"code":-32602,"message":"4 arguments passed to method blockchain.block.headers taking at most 3"}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":{},"ok":false,"code":-32602,"message":"method \"blockchain.block.headers\" requires parameters \"count\", \"start_height\""}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":{"height":1},"ok":false,"code":-32602,"message":"method \"blockchain.block.headers\" requires parameters \"count\", \"start_height\""}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":{"cp_height":1},"ok":false,"code":-32602,"message":"method \"blockchain.block.headers\" requires parameters \"count\", \"start_height\""}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":{"height":1,"cp_height":2},"ok":false,"code":-32602,"message":"method \"blockchain.block.headers\" requires parameters \"count\", \"start_height\""}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":{"height":1,"x":2},"ok":false,"code":-32602,"message":"method \"blockchain.block.headers\" requires parameters \"count\", \"start_height\""}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":{"height":1,"x":2,"a":3},"ok":false,"code":-32602,"message":"method \"blockchain.block.headers\" requires parameters \"count\", \"start_height\""}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":{"start_height":1,"count":2},"ok":true}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":{"count":2},"ok":false,"code":-32602,"message":"method \"blockchain.block.headers\" requires parameter \"start_height\""}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":{"x":1,"y":2},"ok":false,"code":-32602,"message":"method \"blockchain.block.headers\" requires parameters \"count\", \"start_height\""}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":{"client_name":"a","protocol_version":"1.4","future":1},"ok":false,"code":-32602,"message":"method \"blockchain.block.headers\" requires parameters \"count\", \"start_height\""}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":{"self":1},"ok":false,"code":-32602,"message":"method \"blockchain.block.headers\" requires parameters \"count\", \"start_height\""}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":{"scripthash":"00"},"ok":false,"code":-32602,"message":"method \"blockchain.block.headers\" requires parameters \"count\", \"start_height\""}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":{"extra_args":1},"ok":false,"code":-32602,"message":"method \"blockchain.block.headers\" requires parameters \"count\", \"start_height\""}
{"method":"blockchain.block.headers","names":["start_height","count","cp_height"],"required":2,"varargs":false,"varkw":false,"args":{"height":1,"tx_pos":2,"merkle":true,"zzz":0,"aaa":1},"ok":false,"code":-32602,"message":"method \"blockchain.block.headers\" requires parameters \"count\", \"start_height\""}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":[],"ok":true}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":[1],"ok":false,"code":-32602,"message":"1 argument passed to method server.ping taking at most 0"}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":[1,2],"ok":false,"code":-32602,"message":"2 arguments passed to method server.ping taking at most 0"}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":[1,2,3],"ok":false,"code":-32602,"message":"3 arguments passed to method server.ping taking at most 0"}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":[1,2,3,4],"ok":false,"code":-32602,"message":"4 arguments passed to method server.ping taking at most 0"}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":{},"ok":true}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":{"height":1},"ok":false,"code":-32602,"message":"method \"server.ping\" does not take parameter \"height\""}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":{"cp_height":1},"ok":false,"code":-32602,"message":"method \"server.ping\" does not take parameter \"cp_height\""}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":{"height":1,"cp_height":2},"ok":false,"code":-32602,"message":"method \"server.ping\" does not take parameters \"cp_height\", \"height\""}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":{"height":1,"x":2},"ok":false,"code":-32602,"message":"method \"server.ping\" does not take parameters \"height\", \"x\""}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":{"height":1,"x":2,"a":3},"ok":false,"code":-32602,"message":"method \"server.ping\" does not take parameters \"a\", \"height\", \"x\""}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":{"start_height":1,"count":2},"ok":false,"code":-32602,"message":"method \"server.ping\" does not take parameters \"count\", \"start_height\""}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":{"count":2},"ok":false,"code":-32602,"message":"method \"server.ping\" does not take parameter \"count\""}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":{"x":1,"y":2},"ok":false,"code":-32602,"message":"method \"server.ping\" does not take parameters \"x\", \"y\""}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":{"client_name":"a","protocol_version":"1.4","future":1},"ok":false,"code":-32602,"message":"method \"server.ping\" does not take parameters \"client_name\", \"future\", \"protocol_version\""}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":{"self":1},"ok":false,"code":-32602,"message":"method \"server.ping\" does not take parameter \"self\""}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":{"scripthash":"00"},"ok":false,"code":-32602,"message":"method \"server.ping\" does not take parameter \"scripthash\""}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":{"extra_args":1},"ok":false,"code":-32602,"message":"method \"server.ping\" does not take parameter \"extra_args\""}
{"method":"server.ping","names":[],"required":0,"varargs":false,"varkw":false,"args":{"height":1,"tx_pos":2,"merkle":true,"zzz":0,"aaa":1},"ok":false,"code":-32602,"message":"method \"server.ping\" does not take parameters \"aaa\", \"height\", \"merkle\", \"tx_pos\", \"zzz\""}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":[],"ok":false,"code":-32602,"message":"0 arguments passed to method \"blockchain.transaction.id_from_pos\" but it requires 2"}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":[1],"ok":false,"code":-32602,"message":"1 argument passed to method \"blockchain.transaction.id_from_pos\" but it requires 2"}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":[1,2],"ok":true}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":[1,2,3],"ok":true}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":[1,2,3,4],"ok":false,"code":-32602,"message":"4 arguments passed to method blockchain.transaction.id_from_pos taking at most 3"}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":{},"ok":false,"code":-32602,"message":"method \"blockchain.transaction.id_from_pos\" requires parameters \"height\", \"tx_pos\""}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":{"height":1},"ok":false,"code":-32602,"message":"method \"blockchain.transaction.id_from_pos\" requires parameter \"tx_pos\""}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":{"cp_height":1},"ok":false,"code":-32602,"message":"method \"blockchain.transaction.id_from_pos\" requires parameters \"height\", \"tx_pos\""}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":{"height":1,"cp_height":2},"ok":false,"code":-32602,"message":"method \"blockchain.transaction.id_from_pos\" requires parameter \"tx_pos\""}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":{"height":1,"x":2},"ok":false,"code":-32602,"message":"method \"blockchain.transaction.id_from_pos\" requires parameter \"tx_pos\""}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":{"height":1,"x":2,"a":3},"ok":false,"code":-32602,"message":"method \"blockchain.transaction.id_from_pos\" requires parameter \"tx_pos\""}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":{"start_height":1,"count":2},"ok":false,"code":-32602,"message":"method \"blockchain.transaction.id_from_pos\" requires parameters \"height\", \"tx_pos\""}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":{"count":2},"ok":false,"code":-32602,"message":"method \"blockchain.transaction.id_from_pos\" requires parameters \"height\", \"tx_pos\""}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":{"x":1,"y":2},"ok":false,"code":-32602,"message":"method \"blockchain.transaction.id_from_pos\" requires parameters \"height\", \"tx_pos\""}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":{"client_name":"a","protocol_version":"1.4","future":1},"ok":false,"code":-32602,"message":"method \"blockchain.transaction.id_from_pos\" requires parameters \"height\", \"tx_pos\""}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":{"self":1},"ok":false,"code":-32602,"message":"method \"blockchain.transaction.id_from_pos\" requires parameters \"height\", \"tx_pos\""}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":{"scripthash":"00"},"ok":false,"code":-32602,"message":"method \"blockchain.transaction.id_from_pos\" requires parameters \"height\", \"tx_pos\""}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":{"extra_args":1},"ok":false,"code":-32602,"message":"method \"blockchain.transaction.id_from_pos\" requires parameters \"height\", \"tx_pos\""}
{"method":"blockchain.transaction.id_from_pos","names":["height","tx_pos","merkle"],"required":2,"varargs":false,"varkw":false,"args":{"height":1,"tx_pos":2,"merkle":true,"zzz":0,"aaa":1},"ok":false,"code":-32602,"message":"method \"blockchain.transaction.id_from_pos\" does not take parameters \"aaa\", \"zzz\""}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":[],"ok":true}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":[1],"ok":true}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":[1,2],"ok":true}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":[1,2,3],"ok":true}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":[1,2,3,4],"ok":true}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":{},"ok":true}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":{"height":1},"ok":true}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":{"cp_height":1},"ok":true}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":{"height":1,"cp_height":2},"ok":true}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":{"height":1,"x":2},"ok":true}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":{"height":1,"x":2,"a":3},"ok":true}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":{"start_height":1,"count":2},"ok":true}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":{"count":2},"ok":true}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":{"x":1,"y":2},"ok":true}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":{"client_name":"a","protocol_version":"1.4","future":1},"ok":true}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":{"self":1},"ok":false,"code":-32603,"message":"internal server error"}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":{"scripthash":"00"},"ok":true}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":{"extra_args":1},"ok":true}
{"method":"server.version","names":["client_name","protocol_version"],"required":0,"varargs":true,"varkw":true,"args":{"height":1,"tx_pos":2,"merkle":true,"zzz":0,"aaa":1},"ok":true}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":[],"ok":false,"code":-32602,"message":"0 arguments passed to method \"blockchain.scripthash.get_history\" but it requires 1"}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":[1],"ok":true}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":[1,2],"ok":false,"code":-32602,"message":"2 arguments passed to method blockchain.scripthash.get_history taking at most 1"}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":[1,2,3],"ok":false,"code":-32602,"message":"3 arguments passed to method blockchain.scripthash.get_history taking at most 1"}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":[1,2,3,4],"ok":false,"code":-32602,"message":"4 arguments passed to method blockchain.scripthash.get_history taking at most 1"}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":{},"ok":false,"code":-32602,"message":"method \"blockchain.scripthash.get_history\" requires parameter \"scripthash\""}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":{"height":1},"ok":false,"code":-32602,"message":"method \"blockchain.scripthash.get_history\" requires parameter \"scripthash\""}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":{"cp_height":1},"ok":false,"code":-32602,"message":"method \"blockchain.scripthash.get_history\" requires parameter \"scripthash\""}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":{"height":1,"cp_height":2},"ok":false,"code":-32602,"message":"method \"blockchain.scripthash.get_history\" requires parameter \"scripthash\""}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":{"height":1,"x":2},"ok":false,"code":-32602,"message":"method \"blockchain.scripthash.get_history\" requires parameter \"scripthash\""}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":{"height":1,"x":2,"a":3},"ok":false,"code":-32602,"message":"method \"blockchain.scripthash.get_history\" requires parameter \"scripthash\""}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":{"start_height":1,"count":2},"ok":false,"code":-32602,"message":"method \"blockchain.scripthash.get_history\" requires parameter \"scripthash\""}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":{"count":2},"ok":false,"code":-32602,"message":"method \"blockchain.scripthash.get_history\" requires parameter \"scripthash\""}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":{"x":1,"y":2},"ok":false,"code":-32602,"message":"method \"blockchain.scripthash.get_history\" requires parameter \"scripthash\""}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":{"client_name":"a","protocol_version":"1.4","future":1},"ok":false,"code":-32602,"message":"method \"blockchain.scripthash.get_history\" requires parameter \"scripthash\""}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":{"self":1},"ok":false,"code":-32602,"message":"method \"blockchain.scripthash.get_history\" requires parameter \"scripthash\""}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":{"scripthash":"00"},"ok":true}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":{"extra_args":1},"ok":false,"code":-32602,"message":"method \"blockchain.scripthash.get_history\" requires parameter \"scripthash\""}
{"method":"blockchain.scripthash.get_history","names":["scripthash"],"required":1,"varargs":false,"varkw":false,"args":{"height":1,"tx_pos":2,"merkle":true,"zzz":0,"aaa":1},"ok":false,"code":-32602,"message":"method \"blockchain.scripthash.get_history\" requires parameter \"scripthash\""}"##;
