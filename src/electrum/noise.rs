//! Protocol 1.7's notification noise: ElectrumX 2.0 sends sessions at 1.7 `server.ping`
//! notifications carrying 128 zeros, so that an observer of the (encrypted) traffic cannot
//! tell from the number of messages whether a block or a mempool change touched a
//! subscription. FerrumX sends them on the same rules (`ElectrumX._notify_inner`):
//!
//! - after a new tip, to a session sent fewer than two notifications for it, one ping; then,
//!   to every 1.7 session, another with probability 0.1, repeatedly;
//! - after a mempool refresh, one ping with probability `interval / 600 s` — ElectrumX's
//!   "once per ten minutes" with `interval` its mempool poll period; FerrumX uses the time
//!   since the previous refresh, so that refreshes rung by ZMQ do not make pings more
//!   frequent.
//!
//! Sessions below 1.7 are never sent these.

use std::time::Duration;

use serde_json::Value;

use super::session::SessionState;

/// The pings' `data`: this many zeros ("similar len to bc.spk.sub", ElectrumX says).
pub const PING_DATA_LEN: usize = 128;
/// ElectrumX's chance of one more ping after a block (and after that one, and so on).
const EXTRA_PING_CHANCE: f64 = 0.1;
/// After mempool refreshes, one ping per session per this much time on average.
const MEMPOOL_PING_PERIOD: Duration = Duration::from_secs(600);

/// Whether `session` gets noise (protocol 1.7 or later).
fn noisy(session: &SessionState) -> bool {
    session.with_protocol(|v| v.at_least(&[1, 7]))
}

/// One `server.ping` notification; false if the session could not take it.
fn ping(session: &SessionState) -> bool {
    let data = Value::String("0".repeat(PING_DATA_LEN));
    session.notify("server.ping", &[data])
}

/// After a new tip has been notified: `sent` is the number of notifications `session` was
/// just sent (the header, status changes).
pub fn after_block(session: &SessionState, sent: usize) {
    after_block_with(session, sent, rand::random::<f64>);
}

fn after_block_with(session: &SessionState, sent: usize, mut draw: impl FnMut() -> f64) {
    if !noisy(session) {
        return;
    }
    if sent < 2 && !ping(session) {
        return;
    }
    while draw() < EXTRA_PING_CHANCE {
        if !ping(session) {
            return;
        }
    }
}

/// After a mempool refresh that came `since` after the previous one.
pub fn after_mempool(session: &SessionState, since: Duration) {
    after_mempool_with(session, since, rand::random::<f64>());
}

fn after_mempool_with(session: &SessionState, since: Duration, draw: f64) {
    let chance = since.as_secs_f64() / MEMPOOL_PING_PERIOD.as_secs_f64();
    if noisy(session) && draw < chance {
        ping(session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Protocol;
    use crate::electrum::cost::Limits;
    use crate::electrum::version::ProtocolVersion;
    use tokio_util::sync::CancellationToken;

    fn session(version: &[i64]) -> SessionState {
        let peer = "192.0.2.1:50000".parse().unwrap();
        let s = SessionState::new(
            1,
            peer,
            Protocol::Tcp,
            CancellationToken::new(),
            Limits::default(),
            false,
        );
        s.set_protocol(ProtocolVersion::new(version));
        s
    }

    /// A ping notification's bytes (JSON-RPC 2.0, as the session writes them).
    fn ping_bytes() -> usize {
        let s = session(&[1, 7]);
        assert!(ping(&s));
        s.unsent_bytes()
    }

    #[test]
    fn blocks_pad_to_two_messages_then_add_pings_at_random() {
        let one = ping_bytes();
        assert!(one > PING_DATA_LEN);
        // Two notifications already: no ping unless the draw says so.
        let s = session(&[1, 7]);
        after_block_with(&s, 2, || 0.5);
        assert_eq!(s.unsent_bytes(), 0);
        // Fewer: one.
        let s = session(&[1, 7]);
        after_block_with(&s, 1, || 0.5);
        assert_eq!(s.unsent_bytes(), one);
        // Draws below 0.1 add one each, until one is not.
        let s = session(&[1, 7]);
        let mut draws = [0.05, 0.09, 0.1].into_iter();
        after_block_with(&s, 0, || draws.next().unwrap_or(1.0));
        assert_eq!(s.unsent_bytes(), 3 * one);
        // Below 1.7: never.
        let s = session(&[1, 6]);
        after_block_with(&s, 0, || 0.0);
        after_mempool_with(&s, MEMPOOL_PING_PERIOD, 0.0);
        assert_eq!(s.unsent_bytes(), 0);
    }

    #[test]
    fn mempool_refreshes_ping_about_every_ten_minutes() {
        let one = ping_bytes();
        let s = session(&[1, 7]);
        // 5 s after the previous refresh: a chance of 5/600.
        after_mempool_with(&s, Duration::from_secs(5), 5.0 / 600.0 + 1e-9);
        assert_eq!(s.unsent_bytes(), 0);
        after_mempool_with(&s, Duration::from_secs(5), 5.0 / 600.0 - 1e-9);
        assert_eq!(s.unsent_bytes(), one);
    }
}
