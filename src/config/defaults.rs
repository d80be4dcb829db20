//! ElectrumX's defaults of the session and cost settings, written once: [`Config`] reads
//! the variables with them, and the cost model's `Limits::default()` is made of them.
//!
//! [`Config`]: super::Config

/// MAX_SESSIONS.
pub const MAX_SESSIONS: usize = 1000;
/// MAX_SEND, in bytes.
pub const MAX_SEND: usize = 1_000_000;
/// MAX_RECV, in bytes.
pub const MAX_RECV: usize = 1_000_000;
/// COST_SOFT_LIMIT.
pub const COST_SOFT_LIMIT: u64 = 1000;
/// COST_HARD_LIMIT.
pub const COST_HARD_LIMIT: u64 = 10_000;
/// BANDWIDTH_UNIT_COST, in bytes.
pub const BANDWIDTH_UNIT_COST: u64 = 5000;
/// INITIAL_CONCURRENT.
pub const INITIAL_CONCURRENT: usize = 10;
/// REQUEST_SLEEP, in milliseconds.
pub const REQUEST_SLEEP_MS: u64 = 2500;
/// REQUEST_TIMEOUT, in seconds.
pub const REQUEST_TIMEOUT_S: u64 = 30;
/// SESSION_TIMEOUT, in seconds.
pub const SESSION_TIMEOUT_S: u64 = 600;
/// SESSION_TIMEOUT_CHECK (FerrumX), in seconds: ElectrumX's fixed 60.
pub const SESSION_TIMEOUT_CHECK_S: u64 = 60;
/// SEND_TIMEOUT (FerrumX), in seconds: aiorpcX's fixed `max_send_delay`.
pub const SEND_TIMEOUT_S: u64 = 20;
/// SESSION_GROUP_BY_SUBNET_IPV4, a prefix length.
pub const SESSION_GROUP_BY_SUBNET_IPV4: u8 = 24;
/// SESSION_GROUP_BY_SUBNET_IPV6, a prefix length.
pub const SESSION_GROUP_BY_SUBNET_IPV6: u8 = 48;
/// LOG_SESSIONS, in seconds.
pub const LOG_SESSIONS_S: u64 = 3600;
