//! Waiting and timing.

use std::time::{Duration, Instant};

/// Polls `f` every 50 ms until it gives `Some`, for at most `timeout`; panics naming `what`
/// after that.
pub fn poll_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The median (the upper one of an even count).
pub fn p50(samples: &[Duration]) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    s[s.len() / 2]
}

/// The `p`-th quantile (0.0–1.0, nearest rank) of latencies in microseconds, sorted
/// ascending, in milliseconds; 0 when there are none.
pub fn quantile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((sorted_us.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted_us[i]) / 1000.0
}
