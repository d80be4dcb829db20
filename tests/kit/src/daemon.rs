//! FerrumX's own bitcoind client, for tests that drive the library (not the server process).

use bitcoin::Network;
use ferrumx::config::{DaemonAuth, DaemonEndpoint, Secret};
use ferrumx::daemon::Daemon;
use ferrumx_simnode::SimNode;

/// A regtest daemon client for `sim` (password auth).
pub fn daemon_for(sim: &SimNode) -> Daemon {
    let (user, password) = sim.user_pass().expect("password auth");
    Daemon::new(
        vec![DaemonEndpoint {
            host: "127.0.0.1".into(),
            port: sim.addr().port(),
            auth: DaemonAuth::UserPass {
                user,
                password: Secret(password),
            },
        }],
        Network::Regtest,
    )
}
