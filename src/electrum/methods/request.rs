//! A bound call turned into a typed request, once, with ElectrumX's checks in ElectrumX's
//! order and words ([`crate::electrum::params`] and the CPython emulation in
//! [`crate::py`]): handlers take the typed values and never look at JSON arguments.
//!
//! Binding ([`jsonrpc::bind`](crate::jsonrpc::bind)) gives one entry per signature name,
//! `None` where an optional argument was not given; a required one is always there.

use bitcoin::hashes::{sha256, Hash};
use bitcoin::hex::DisplayHex;
use bitcoin::Txid;
use serde_json::Value;

use crate::electrum::params;
use crate::jsonrpc::RpcError;
use crate::py::{self, PyInt};

use super::table::Method;

/// A script hash as a client sent it: the 32 bytes in internal order (as `sha256(script)`
/// gives them) and the client's spelling (notifications echo it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptHashArg {
    pub sh: [u8; 32],
    pub text: String,
}

/// One call with its arguments checked and typed.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    // server
    /// Unchecked: negotiation and the client filter read them as ElectrumX does.
    Version {
        client_name: Option<Value>,
        protocol_version: Option<Value>,
    },
    Banner,
    DonationAddress,
    Features,
    PeersSubscribe,
    AddPeer,
    /// Up to protocol 1.6: no arguments.
    Ping,
    /// Protocol 1.7 (`data` checked, then dropped).
    PingPong {
        pong_len: PyInt,
    },
    /// Protocol 1.7, a client notification (`data` checked, then dropped).
    PingNotification,
    // headers
    HeadersSubscribe,
    BlockHeader {
        height: PyInt,
        /// 0 when not given (no proof).
        cp_height: PyInt,
    },
    BlockHeaders {
        start_height: PyInt,
        count: PyInt,
        cp_height: PyInt,
    },
    // fees and mempool
    EstimateFee {
        number: PyInt,
        /// One of [`params::ESTIMATEFEE_MODES`].
        mode: Option<&'static str>,
    },
    RelayFee,
    FeeHistogram,
    MempoolInfo,
    MempoolRecent,
    // script hashes
    GetBalance(ScriptHashArg),
    GetHistory(ScriptHashArg),
    GetMempool(ScriptHashArg),
    ListUnspent(ScriptHashArg),
    Subscribe(ScriptHashArg),
    Unsubscribe(ScriptHashArg),
    // scriptPubKeys (protocol 1.7), by their script hash (as canonical lowercase hex)
    SpkGetBalance(ScriptHashArg),
    SpkGetHistory(ScriptHashArg),
    SpkGetMempool(ScriptHashArg),
    SpkListUnspent(ScriptHashArg),
    SpkSubscribe(ScriptHashArg),
    SpkUnsubscribe(ScriptHashArg),
    // transactions
    Broadcast {
        /// Hex, checked (an even number of hex digits).
        raw_tx: String,
    },
    BroadcastPackage {
        raw_txs: Vec<String>,
        verbose: bool,
    },
    TxGet {
        txid: Txid,
        verbose: bool,
    },
    TxGetMerkle {
        txid: Txid,
        height: PyInt,
    },
    TxIdFromPos {
        height: PyInt,
        tx_pos: PyInt,
        merkle: bool,
    },
    TestMempoolAccept {
        raw_txs: Vec<String>,
    },
    // outpoints (1.7; `spk_hint` checked and dropped)
    OutpointGetStatus {
        txid: Txid,
        txout_idx: PyInt,
    },
    OutpointSubscribe {
        txid: Txid,
        txout_idx: PyInt,
    },
    OutpointUnsubscribe {
        txid: Txid,
        txout_idx: PyInt,
    },
}

/// An argument given (or `None`).
fn arg(args: &[Option<Value>], i: usize) -> Option<&Value> {
    args.get(i).and_then(Option::as_ref)
}

/// A required argument (binding guarantees it; `null` otherwise).
fn req(args: &[Option<Value>], i: usize) -> &Value {
    static NULL: Value = Value::Null;
    arg(args, i).unwrap_or(&NULL)
}

/// An optional `non_negative_integer`, 0 when not given (ElectrumX's `cp_height=0`).
fn cp_height(v: Option<&Value>) -> Result<PyInt, RpcError> {
    v.map_or(Ok(PyInt::zero()), params::non_negative_integer)
}

/// An optional flag ElectrumX checks with `value in (False, True)`, else `message`.
fn flag(v: Option<&Value>, message: &str) -> Result<bool, RpcError> {
    match v {
        None => Ok(false),
        Some(v) => py::py_false_or_true(v).ok_or_else(|| RpcError::bad_request(message)),
    }
}

fn script_hash(v: &Value) -> Result<ScriptHashArg, RpcError> {
    Ok(ScriptHashArg {
        sh: params::script_hash(v)?,
        // A valid script hash is a string.
        text: v.as_str().unwrap_or_default().to_owned(),
    })
}

/// ElectrumX 2.0's `spk_to_scripthash` then `scripthash_to_hashX`: a hex scriptPubKey (an
/// even number of hex digits, none at all included) named by its script hash, spelt as
/// ElectrumX spells it in notifications (lowercase hex of the reversed `sha256`).
fn script_pubkey(v: &Value) -> Result<ScriptHashArg, RpcError> {
    params::assert_hex_str(v)?;
    let script = v.as_str().and_then(py::py_fromhex).unwrap_or_default();
    let sh = sha256::Hash::hash(&script).to_byte_array();
    let mut displayed = sh;
    displayed.reverse();
    Ok(ScriptHashArg {
        sh,
        text: displayed.to_lower_hex_string(),
    })
}

/// A list of hex strings (`assert_list_or_tuple`, then `assert_hex_str` of each in turn).
fn hex_strings(v: &Value) -> Result<Vec<String>, RpcError> {
    params::assert_list_or_tuple(v)?
        .iter()
        .map(hex_string)
        .collect()
}

/// `assert_hex_str`, then the text.
fn hex_string(v: &Value) -> Result<String, RpcError> {
    params::assert_hex_str(v)?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

/// `server.ping`'s `data` at 1.7 (default `""`): hex, odd lengths allowed.
fn data(v: Option<&Value>) -> Result<(), RpcError> {
    v.map_or(Ok(()), params::assert_hex_str_allow_odd_len)
}

fn txid(v: &Value) -> Result<Txid, RpcError> {
    params::assert_tx_hash(v).map(Txid::from_byte_array)
}

impl Request {
    /// The request `method` makes of bound `args`, checked as ElectrumX's handler checks
    /// them, in its order (the first failing check gives the error).
    ///
    /// # Errors
    /// `BAD_REQUEST` with ElectrumX's message.
    pub fn parse(method: Method, args: &[Option<Value>]) -> Result<Request, RpcError> {
        let a0 = || req(args, 0);
        Ok(match method {
            Method::Version => Request::Version {
                client_name: arg(args, 0).cloned(),
                protocol_version: arg(args, 1).cloned(),
            },
            Method::Banner => Request::Banner,
            Method::DonationAddress => Request::DonationAddress,
            Method::Features => Request::Features,
            Method::PeersSubscribe => Request::PeersSubscribe,
            Method::AddPeer => Request::AddPeer,
            Method::Ping => Request::Ping,
            // ElectrumX 2.0 checks `data` first.
            Method::PingPong => {
                data(arg(args, 1))?;
                Request::PingPong {
                    pong_len: arg(args, 0)
                        .map_or(Ok(PyInt::zero()), params::non_negative_integer)?,
                }
            }
            Method::PingNotification => {
                data(arg(args, 0))?;
                Request::PingNotification
            }
            Method::HeadersSubscribe => Request::HeadersSubscribe,
            Method::BlockHeader => Request::BlockHeader {
                height: params::non_negative_integer(a0())?,
                cp_height: cp_height(arg(args, 1))?,
            },
            Method::BlockHeaders => Request::BlockHeaders {
                start_height: params::non_negative_integer(a0())?,
                count: params::non_negative_integer(req(args, 1))?,
                cp_height: cp_height(arg(args, 2))?,
            },
            Method::EstimateFee => Request::EstimateFee {
                number: params::non_negative_integer(a0())?,
                mode: params::estimatefee_mode(arg(args, 1))?,
            },
            Method::RelayFee => Request::RelayFee,
            Method::FeeHistogram => Request::FeeHistogram,
            Method::MempoolInfo => Request::MempoolInfo,
            Method::MempoolRecent => Request::MempoolRecent,
            Method::GetBalance => Request::GetBalance(script_hash(a0())?),
            Method::GetHistory => Request::GetHistory(script_hash(a0())?),
            Method::GetMempool => Request::GetMempool(script_hash(a0())?),
            Method::ListUnspent => Request::ListUnspent(script_hash(a0())?),
            Method::Subscribe => Request::Subscribe(script_hash(a0())?),
            Method::Unsubscribe => Request::Unsubscribe(script_hash(a0())?),
            Method::SpkGetBalance => Request::SpkGetBalance(script_pubkey(a0())?),
            Method::SpkGetHistory => Request::SpkGetHistory(script_pubkey(a0())?),
            Method::SpkGetMempool => Request::SpkGetMempool(script_pubkey(a0())?),
            Method::SpkListUnspent => Request::SpkListUnspent(script_pubkey(a0())?),
            Method::SpkSubscribe => Request::SpkSubscribe(script_pubkey(a0())?),
            Method::SpkUnsubscribe => Request::SpkUnsubscribe(script_pubkey(a0())?),
            Method::Broadcast => Request::Broadcast {
                raw_tx: hex_string(a0())?,
            },
            Method::BroadcastPackage => Request::BroadcastPackage {
                raw_txs: hex_strings(a0())?,
                // ElectrumX: `if verbose:` (Python truthiness, no check).
                verbose: arg(args, 1).is_some_and(py::py_truthy),
            },
            Method::TxGet => Request::TxGet {
                txid: txid(a0())?,
                verbose: flag(arg(args, 1), "\"verbose\" must be a boolean")?,
            },
            Method::TxGetMerkle => Request::TxGetMerkle {
                txid: txid(a0())?,
                height: params::non_negative_integer(req(args, 1))?,
            },
            Method::TestMempoolAccept => Request::TestMempoolAccept {
                raw_txs: hex_strings(a0())?,
            },
            // ElectrumX checks `tx_pos` before `height`.
            Method::TxIdFromPos => {
                let tx_pos = params::non_negative_integer(req(args, 1))?;
                Request::TxIdFromPos {
                    height: params::non_negative_integer(a0())?,
                    tx_pos,
                    merkle: flag(arg(args, 2), "\"merkle\" must be a boolean")?,
                }
            }
            // ElectrumX 2.0: `assert_txid_hum`, `non_negative_integer`, `assert_hex_str`.
            Method::OutpointGetStatus | Method::OutpointSubscribe => {
                let txid = txid(a0())?;
                let txout_idx = params::non_negative_integer(req(args, 1))?;
                hex_string(req(args, 2))?;
                if method == Method::OutpointSubscribe {
                    Request::OutpointSubscribe { txid, txout_idx }
                } else {
                    Request::OutpointGetStatus { txid, txout_idx }
                }
            }
            Method::OutpointUnsubscribe => Request::OutpointUnsubscribe {
                txid: txid(a0())?,
                txout_idx: params::non_negative_integer(req(args, 1))?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(method: Method, args: &[Value]) -> Result<Request, String> {
        let args: Vec<Option<Value>> = args.iter().cloned().map(Some).collect();
        Request::parse(method, &args).map_err(|e| {
            assert_eq!(e.code, 1);
            e.message
        })
    }

    const SH: &str = "8e40f6a0b357a1ddaf608dc1f462c6c350fce441622069e5d137fa0a41eee610";

    #[test]
    fn checks_come_in_electrumx_order_with_its_messages() {
        // id_from_pos checks tx_pos first.
        assert_eq!(
            parse(Method::TxIdFromPos, &[json!("h"), json!("p")]),
            Err("p should be a non-negative integer".into())
        );
        assert_eq!(
            parse(Method::TxIdFromPos, &[json!("h"), json!(1), json!(2)]),
            Err("h should be a non-negative integer".into())
        );
        assert_eq!(
            parse(Method::TxIdFromPos, &[json!(1), json!(2), json!(2)]),
            Err("\"merkle\" must be a boolean".into())
        );
        assert_eq!(
            parse(Method::TxGet, &[json!(SH), json!("yes")]),
            Err("\"verbose\" must be a boolean".into())
        );
        assert_eq!(
            parse(Method::BroadcastPackage, &[json!(["00", "0"])]),
            Err("0 should be a hex string".into())
        );
        assert_eq!(
            parse(Method::BroadcastPackage, &[json!("00")]),
            Err("00 should be a list".into())
        );
        assert_eq!(
            parse(Method::EstimateFee, &[json!(-1), json!("bad")]),
            Err("-1 should be a non-negative integer".into())
        );
        assert_eq!(
            parse(Method::GetHistory, &[json!(5)]),
            Err("5 is not a valid script hash".into())
        );
    }

    #[test]
    fn values_are_typed() {
        let mut sh = [0u8; 32];
        for (i, b) in sh.iter_mut().enumerate() {
            *b = u8::from_str_radix(&SH[62 - 2 * i..64 - 2 * i], 16).unwrap();
        }
        let upper = SH.to_uppercase();
        assert_eq!(
            parse(Method::Subscribe, &[json!(upper)]),
            Ok(Request::Subscribe(ScriptHashArg {
                sh,
                text: upper.clone()
            }))
        );
        assert_eq!(
            parse(Method::TxGet, &[json!(SH), json!(1.0)]),
            Ok(Request::TxGet {
                txid: Txid::from_byte_array(sh),
                verbose: true
            })
        );
        assert_eq!(
            parse(Method::BlockHeader, &[json!(" 7 ")]),
            Ok(Request::BlockHeader {
                height: PyInt::from(7u64),
                cp_height: PyInt::zero()
            })
        );
        assert_eq!(
            parse(Method::EstimateFee, &[json!(6), json!("economical")]),
            Ok(Request::EstimateFee {
                number: PyInt::from(6u64),
                mode: Some("ECONOMICAL")
            })
        );
        assert_eq!(
            parse(Method::BroadcastPackage, &[json!(["00", ""]), json!("x")]),
            Ok(Request::BroadcastPackage {
                raw_txs: vec!["00".into(), "".into()],
                verbose: true
            })
        );
        let v = parse(Method::Version, &[json!("wallet"), json!(["1.4", "1.6"])]);
        assert_eq!(
            v,
            Ok(Request::Version {
                client_name: Some(json!("wallet")),
                protocol_version: Some(json!(["1.4", "1.6"]))
            })
        );
    }
}
