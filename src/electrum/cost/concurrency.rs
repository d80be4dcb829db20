//! The limit on a session's concurrent requests (aiorpcX's `Concurrency`), retargeted by the
//! session's throttle (see `cost.rs`).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, Semaphore};

/// Refused: the session's concurrency is zero (its cost reached the hard limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Excessive;

/// A retargetable limit on a session's concurrent requests (aiorpcX's `Concurrency`):
/// lowering the target takes effect as requests finish (each finishing one withdraws its
/// slot while more are in circulation than the target), so slots left idle when the target
/// fell still serve the next burst; raising it adds slots at the next entry. A request
/// entering while the target is zero or less is refused with [`Excessive`].
///
/// One deliberate difference: in aiorpcX, requests already *waiting* for a slot when the
/// target falls to zero keep waiting (each finishing request withdraws its slot), until
/// REQUEST_TIMEOUT answers them "server busy", so a client that pipelines is starved rather
/// than disconnected. Here waiting requests are refused as soon as the target reaches zero,
/// so the session is closed at the hard limit, as ElectrumX's documentation says.
#[derive(Debug)]
pub struct Concurrency {
    target: AtomicI64,
    sem: Semaphore,
    /// Permits in circulation (held or available).
    circulating: Mutex<i64>,
    /// Wakes waiting requests when the target reaches zero.
    zero: Notify,
}

impl Concurrency {
    pub fn new(target: usize) -> Concurrency {
        let target = target.min(Semaphore::MAX_PERMITS);
        Concurrency {
            target: AtomicI64::new(i64::try_from(target).unwrap_or(i64::MAX)),
            sem: Semaphore::new(target),
            circulating: Mutex::new(i64::try_from(target).unwrap_or(i64::MAX)),
            zero: Notify::new(),
        }
    }

    fn circulating(&self) -> MutexGuard<'_, i64> {
        self.circulating.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current target.
    pub fn max_concurrent(&self) -> i64 {
        self.target.load(Ordering::SeqCst)
    }

    pub fn set_target(&self, target: i64) {
        self.target.store(target, Ordering::SeqCst);
        if target <= 0 {
            self.zero.notify_waiters();
        }
    }

    /// Waits for a slot.
    ///
    /// # Errors
    /// [`Excessive`] when the target is zero or less, now or while waiting.
    pub async fn enter(self: &Arc<Self>) -> Result<Slot, Excessive> {
        let zero = self.zero.notified();
        tokio::pin!(zero);
        // Registered before the check, so a target set to zero after it still wakes us.
        zero.as_mut().enable();
        if self.max_concurrent() <= 0 {
            return Err(Excessive);
        }
        tokio::select! {
            // The semaphore is never closed.
            permit = self.sem.acquire() => {
                if let Ok(permit) = permit {
                    permit.forget();
                }
            }
            _ = &mut zero => return Err(Excessive),
        }
        let target = self.max_concurrent();
        if target <= 0 {
            // As aiorpcX: the slot is not given back (the session is about to close).
            return Err(Excessive);
        }
        let mut circulating = self.circulating();
        let room = i64::try_from(Semaphore::MAX_PERMITS).unwrap_or(i64::MAX);
        let raise = (target.min(room) - *circulating).max(0);
        if raise > 0 {
            *circulating += raise;
            self.sem.add_permits(usize::try_from(raise).unwrap_or(0));
        }
        Ok(Slot(self.clone()))
    }
}

/// A slot of [`Concurrency`]; given back (or withdrawn, when above the target) on drop.
#[derive(Debug)]
pub struct Slot(Arc<Concurrency>);

impl Drop for Slot {
    fn drop(&mut self) {
        let c = &self.0;
        let mut circulating = c.circulating();
        if *circulating > c.max_concurrent() {
            *circulating -= 1;
        } else {
            c.sem.add_permits(1);
        }
    }
}
