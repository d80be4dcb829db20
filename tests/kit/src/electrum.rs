//! The stand-in serving a chain and the real `ferrumx_server` synced to it, listening on
//! tcp, ssl, ws and wss (with a fresh self-signed certificate): the fixture of the Electrum
//! protocol tests.

use std::net::SocketAddr;

use ferrumx_simnode::{Node, SimNode, SimNodeOptions};

use crate::client::Client;
use crate::net::{free_port, WAIT};
use crate::server::{start_on_free_ports, Server, ServerEnv};
use crate::shared::Fixture;
use crate::tls::SelfSigned;
use crate::TempDir;

/// The client transports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Tcp,
    Ssl,
    Ws,
    Wss,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Tcp, Kind::Ssl, Kind::Ws, Kind::Wss];
}

/// The stand-in and a server synced to it, serving all four transports.
pub struct Electrum {
    pub sim: SimNode,
    pub server: Server,
    pub tcp: u16,
    pub ssl: u16,
    pub ws: u16,
    pub wss: u16,
    pub cert_der: Vec<u8>,
    pub dir: TempDir,
}

impl Electrum {
    /// Serves `node`, starts the server with `extra` environment variables, and waits until
    /// it has caught up (to the node's tip) and listens on the four services.
    pub fn start(name: &str, node: Node, extra: &[(&str, &str)]) -> Electrum {
        Electrum::start_with(name, node, SimNodeOptions::default(), extra)
    }

    /// [`Electrum::start`] with the stand-in started with `options` (e.g. answering as
    /// Bitcoin Core 31, as ElectrumX 2.0 requires).
    pub fn start_with(
        name: &str,
        node: Node,
        options: SimNodeOptions,
        extra: &[(&str, &str)],
    ) -> Electrum {
        let tip = node.tip_height();
        let sim = SimNode::spawn(node, options).expect("stand-in");
        let dir = TempDir::created(name);
        let cert = SelfSigned::p256();
        let (cert_path, key_path) = cert.write_to(&dir);
        let db = dir.path().join("db");
        std::fs::create_dir_all(&db).expect("db dir");
        let (server, (tcp, ssl, ws, wss)) = start_on_free_ports(
            name,
            || {
                let ports = (free_port(), free_port(), free_port(), free_port());
                let (tcp, ssl, ws, wss) = ports;
                let services = format!(
                    "tcp://127.0.0.1:{tcp},ssl://127.0.0.1:{ssl},ws://127.0.0.1:{ws},\
                     wss://127.0.0.1:{wss}"
                );
                let mut env = ServerEnv::new(&db, &sim.daemon_url())
                    .set("SERVICES", &services)
                    .set("SSL_CERTFILE", cert_path.to_str().expect("utf-8"))
                    .set("SSL_KEYFILE", key_path.to_str().expect("utf-8"))
                    .set("DAEMON_POLL_INTERVAL_MEMPOOL", "100")
                    // Protocol tests send thousands of requests (many of them errors) on one
                    // session: no throttling unless a test sets limits (as tests/differential/).
                    .set("COST_SOFT_LIMIT", "0")
                    .set("COST_HARD_LIMIT", "0");
                for (k, v) in extra {
                    env = env.set(k, v);
                }
                (env, ports)
            },
            |server| {
                assert_eq!(server.wait_caught_up(), tip);
                for _ in 0..4 {
                    server.wait_for("listening", WAIT);
                }
            },
        );
        Electrum {
            sim,
            server,
            tcp,
            ssl,
            ws,
            wss,
            cert_der: cert.der,
            dir,
        }
    }

    /// A connected client (no `server.version` sent yet).
    pub fn connect(&self, kind: Kind) -> Client {
        match kind {
            Kind::Tcp => Client::tcp(self.tcp),
            Kind::Ssl => Client::ssl(self.ssl, &self.cert_der),
            Kind::Ws => Client::ws(self.ws, None),
            Kind::Wss => Client::ws(self.wss, Some(&self.cert_der)),
        }
    }

    /// A client that has negotiated `version` (e.g. "1.4", "1.6").
    pub fn session(&self, kind: Kind, version: &str) -> Client {
        let mut c = self.connect(kind);
        c.negotiate("ferrumx-tests", version);
        c
    }

    /// The id the server gave the tcp session that connected from `local` (its connection
    /// line, the next one logged).
    pub fn session_id(&mut self, local: SocketAddr) -> u64 {
        let line = self.server.wait_for(&format!("tcp {local},"), WAIT);
        line.field("session").expect("session id")
    }
}

/// The stand-in serving `node` (default options: password auth, a free port).
pub fn serve(node: Node) -> SimNode {
    SimNode::spawn(node, SimNodeOptions::default()).expect("stand-in")
}

impl Fixture for Electrum {
    fn at_exit(&self) {
        self.server.kill_at_exit(&[self.dir.path()]);
    }

    fn dump(&self) {
        self.server.dump();
    }
}
