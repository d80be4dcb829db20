//! One fixture per test binary, started by the first test that needs it and shared by the
//! binary's read-only tests, so that one `#[test]` per behaviour does not mean one server
//! start-up per behaviour.
//!
//! ```ignore
//! static CHAIN: Shared<Electrum> = Shared::new(|| Electrum::start("chain", node(), &[]));
//!
//! #[test]
//! fn headers_match_the_chain() {
//!     let e = CHAIN.get();
//!     ...
//! }
//! ```
//!
//! A static is never dropped: [`Fixture::at_exit`] arranges for the fixture's processes to
//! be killed (and its directories removed) once the test binary exits. Tests that change the
//! chain, the mempool or the server's settings start their own fixture instead.

use std::ops::Deref;
use std::sync::OnceLock;

/// What a shared fixture must do that a dropped one does in `Drop`.
pub trait Fixture: Send + Sync + 'static {
    /// Called once, after the fixture started: arrange the clean-up at the binary's exit
    /// (e.g. [`crate::Server::kill_at_exit`]).
    fn at_exit(&self);
    /// Print what helps understand a failing test (the server's log).
    fn dump(&self);
}

/// A fixture started once per test binary; see the module documentation.
pub struct Shared<T> {
    cell: OnceLock<Result<T, String>>,
    start: fn() -> T,
}

impl<T: Fixture> Shared<T> {
    pub const fn new(start: fn() -> T) -> Shared<T> {
        Shared {
            cell: OnceLock::new(),
            start,
        }
    }

    /// The fixture, started on first use (concurrent first users wait for it). If starting
    /// it failed, this and every later use fail with the reason.
    pub fn get(&'static self) -> Guard<T> {
        let started = self
            .cell
            .get_or_init(|| match std::panic::catch_unwind(self.start) {
                Ok(fixture) => {
                    fixture.at_exit();
                    Ok(fixture)
                }
                Err(p) => Err(p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic".to_string())),
            });
        match started {
            Ok(fixture) => Guard(fixture),
            Err(why) => panic!("the shared fixture did not start: {why}"),
        }
    }
}

/// A test's use of a shared fixture: dumps the fixture (its server's log) if the test fails.
pub struct Guard<T: Fixture + 'static>(&'static T);

impl<T: Fixture> Deref for Guard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0
    }
}

impl<T: Fixture> Drop for Guard<T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.dump();
        }
    }
}
