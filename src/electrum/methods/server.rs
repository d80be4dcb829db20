//! The `server.*` family: `server.version` (negotiation, client filter, the old-client
//! crash), `banner`, `features`, `donation_address`, `peers.subscribe`, `add_peer`, `ping`
//! (and at 1.7 its `pong_len`, and `ping` as a client notification). Their fixed costs are
//! in the method table.

use serde_json::{json, Value};

use crate::config::{Config, ServiceHost};
use crate::electrum::shared::{SERVER_VERSION, SERVER_VERSION_SHORT};
use crate::electrum::version::{self, ProtocolVersion};
use crate::jsonrpc::RpcError;
use crate::py::{self, PyInt};

use super::backend::Backend;
use super::call::Call;
use super::failure::{bad, CallFailure, Outcome};

impl<B: Backend> Call<'_, B> {
    /// `server.version(client_name, protocol_version)`.
    pub(super) fn server_version(
        &self,
        client_name: Option<&Value>,
        requested: Option<&Value>,
    ) -> Outcome {
        if !self.session.mark_version_seen() {
            return Err(bad("server.version already sent"));
        }
        if let Some(client_name) = client_name.filter(|v| py::py_truthy(v)) {
            let name = py::py_str(client_name);
            if let Some(filter) = &self.backend.config().drop_client {
                if filter.matches(&name) {
                    return Err(CallFailure::and_disconnect(RpcError::bad_request(format!(
                        "unsupported client: {name}"
                    ))));
                }
            }
            self.session.set_client(name.chars().take(100).collect());
        }
        match version::negotiate(requested) {
            Some(v) => {
                let answer = json!([SERVER_VERSION, v.to_string()]);
                self.session.set_protocol(v);
                Ok(answer)
            }
            None => {
                self.maybe_crash_old_client();
                Err(CallFailure::and_disconnect(RpcError::bad_request(format!(
                    "unsupported protocol version: {}",
                    py::py_str(requested.unwrap_or(&Value::Null))
                ))))
            }
        }
    }

    /// ElectrumX's `maybe_crash_old_client` (Bitcoin's `CRASH_CLIENT_VER` (3, 2, 3)): a
    /// client named with a version up to 3.2.3 asking for a protocol version nothing
    /// supports (or one up to 1.2, which negotiation never yields) is first sent the two
    /// notifications that crash vulnerable Electrum versions.
    fn maybe_crash_old_client(&self) {
        let client = version::protocol_tuple(&self.session.client());
        if client != ProtocolVersion::invalid() && client <= ProtocolVersion::new(&[3, 2, 3]) {
            self.session.notify("blockchain.relayfee", &[]);
            self.session.notify("blockchain.estimatefee", &[]);
        }
    }

    /// `server.banner`: BANNER_FILE (TOR_BANNER_FILE for Tor clients) with ElectrumX's
    /// substitutions, or the default line.
    pub(super) async fn banner(&self) -> Outcome {
        let default = format!("You are connected to an {SERVER_VERSION} server.");
        let s = self.backend.config();
        let file = if self.session.is_tor(s) {
            s.tor_banner_file.as_ref()
        } else {
            s.banner_file.as_ref()
        };
        let Some(file) = file else {
            return Ok(json!(default));
        };
        let text = match tokio::fs::read(file).await.map(String::from_utf8) {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                tracing::error!(file = %file.display(), "reading banner file: {e}");
                return Ok(json!(default));
            }
            Err(e) => {
                tracing::error!(file = %file.display(), "reading banner file: {e}");
                return Ok(json!(default));
            }
        };
        let info = self.backend.network_info().await?;
        let v = info.get("version").and_then(Value::as_u64).unwrap_or(0);
        let daemon_version = format!("{}.{}.{}", v / 10_000, (v % 10_000) / 100, v % 100);
        let subversion = info
            .get("subversion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let text = text
            .replace("$SERVER_VERSION", SERVER_VERSION_SHORT)
            .replace("$SERVER_SUBVERSION", SERVER_VERSION)
            .replace("$DAEMON_VERSION", &daemon_version)
            .replace("$DAEMON_SUBVERSION", &subversion)
            .replace("$DONATION_ADDRESS", &s.donation_address);
        Ok(json!(text))
    }

    /// `server.features` (at 1.7 without `hash_function`, as ElectrumX 2.0).
    pub(super) fn features(&self) -> Outcome {
        let s = self.backend.config();
        let mut features = json!({
            "hosts": features_hosts(s),
            "pruning": null,
            "server_version": SERVER_VERSION,
            "protocol_min": ProtocolVersion::min_supported().to_string(),
            "protocol_max": ProtocolVersion::max_supported().to_string(),
            "genesis_hash": s.genesis_hash().to_string(),
            "hash_function": "sha256",
            "services": s.report_services.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
        });
        if self.session.with_protocol(|v| v.at_least(&[1, 7])) {
            if let Some(f) = features.as_object_mut() {
                f.shift_remove("hash_function");
            }
        }
        Ok(features)
    }

    /// `server.donation_address`: DONATION_ADDRESS.
    pub(super) fn donation_address(&self) -> Outcome {
        Ok(json!(self.backend.config().donation_address))
    }

    /// `server.peers.subscribe`: FerrumX announces no peers.
    pub(super) fn peers_subscribe(&self) -> Outcome {
        Ok(json!([]))
    }

    /// `server.add_peer`: FerrumX takes no peers (`false`).
    pub(super) fn add_peer(&self) -> Outcome {
        Ok(json!(false))
    }

    /// `server.ping` up to 1.6, and as a client notification at 1.7 (never answered).
    pub(super) fn ping(&self) -> Outcome {
        Ok(Value::Null)
    }

    /// `server.ping(pong_len=0, data="")` at 1.7: `{"data": "0" * pong_len}`, at most
    /// MAX_SEND zeros (`pong_len value too high`); an answer over MAX_SEND is then refused
    /// as any other (`response too large`).
    pub(super) fn ping_pong(&self, pong_len: &PyInt) -> Outcome {
        let max_send = self.backend.config().max_send;
        let len = pong_len
            .to_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n <= max_send)
            .ok_or_else(|| bad("pong_len value too high"))?;
        Ok(json!({"data": "0".repeat(len)}))
    }
}

/// `server.features`' `hosts`: per reported host (REPORT_SERVICES), its ports by protocol
/// (ElectrumX's shape: `{"host": {"tcp_port": 50001, "ssl_port": 50002}}`).
pub fn features_hosts(config: &Config) -> Value {
    let mut hosts = serde_json::Map::new();
    for s in &config.report_services {
        let host = match &s.host {
            ServiceHost::Ip(ip) => ip.to_string(),
            other => other.to_string(),
        };
        let entry = hosts
            .entry(host)
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Value::Object(ports) = entry {
            ports.insert(format!("{}_port", s.protocol), json!(s.port));
        }
    }
    Value::Object(hosts)
}
