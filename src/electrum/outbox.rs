//! A session's outgoing messages, bounded in bytes rather than in count.
//!
//! Every message waits here until the session's writer has put it on the wire; the bytes
//! queued and not yet written are the session's *unsent bytes*. Two limits apply:
//!
//! - **soft** ([`SEND_BUFFER`]): a response is admitted only while fewer bytes than this are
//!   unsent (or nothing is), so the task that produced it waits — holding its concurrency
//!   slot, so no further request of the session runs — and the session's reader stops
//!   reading new requests until the client has read enough. This is the backpressure that
//!   aiorpcX gets from asyncio's `pause_writing`/`pause_reading`.
//! - **hard** ([`NOTIFY_BUFFER`]): notifications never wait (the notifier serves every
//!   session and must not block on one); one that would take the unsent bytes over this is
//!   refused, and the session is closed as too slow.
//!
//! So a session's unsent bytes never exceed the hard limit plus one message, whatever the
//! client does; a client that stops reading altogether is closed by the writer's send
//! timeout (SEND_TIMEOUT).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

/// Unsent bytes above which responses wait and the session's requests are no longer read.
pub const SEND_BUFFER: usize = 256 * 1024;
/// Unsent bytes a notification may not take the session over (it is closed instead).
pub const NOTIFY_BUFFER: usize = 4 * 1024 * 1024;

/// What the writer gets next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A message to write; report it with [`Outbox::written`] once written.
    Message(Vec<u8>),
    /// Everything queued before the close has been handed out: close the connection.
    Close,
}

#[derive(Debug, Default)]
struct Queue {
    messages: VecDeque<Vec<u8>>,
    /// Close once `messages` is empty; nothing more is accepted.
    close: bool,
}

/// A session's outgoing queue (see the module documentation).
#[derive(Debug)]
pub struct Outbox {
    queue: Mutex<Queue>,
    /// Queued and in-flight bytes (decremented by [`Outbox::written`]).
    unsent: AtomicUsize,
    /// Wakes the writer.
    ready: Notify,
    /// Wakes whoever waits for room (responses, the reader).
    room: Notify,
    soft: usize,
    hard: usize,
}

impl Default for Outbox {
    fn default() -> Outbox {
        Outbox::new(SEND_BUFFER, NOTIFY_BUFFER)
    }
}

impl Outbox {
    /// An outbox whose responses wait above `soft` unsent bytes and whose notifications are
    /// refused above `hard`.
    pub fn new(soft: usize, hard: usize) -> Outbox {
        Outbox {
            queue: Mutex::new(Queue::default()),
            unsent: AtomicUsize::new(0),
            ready: Notify::new(),
            room: Notify::new(),
            soft,
            hard: hard.max(soft),
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes queued or being written.
    pub fn unsent(&self) -> usize {
        self.unsent.load(Ordering::Acquire)
    }

    /// Whether a response may be queued now.
    fn has_room(&self) -> bool {
        let unsent = self.unsent();
        unsent == 0 || unsent < self.soft
    }

    /// Queues `msg` under the lock if `admit(unsent)` allows (anything is admitted when
    /// nothing is unsent); gives it back when closed or refused.
    fn push(&self, msg: Vec<u8>, admit: impl Fn(usize) -> bool) -> Result<(), (Refused, Vec<u8>)> {
        let mut q = self.queue();
        if q.close {
            return Err((Refused::Closed, msg));
        }
        let unsent = self.unsent();
        if unsent > 0 && !admit(unsent) {
            return Err((Refused::Full, msg));
        }
        self.unsent.fetch_add(msg.len(), Ordering::AcqRel);
        q.messages.push_back(msg);
        drop(q);
        self.ready.notify_one();
        Ok(())
    }

    /// Waits until responses may be queued (fewer than the soft limit of bytes unsent).
    /// Cancel-safe.
    pub async fn room(&self) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.has_room() || self.queue().close {
                return;
            }
            notified.await;
        }
    }

    /// Queues a response, first waiting for room. False once the outbox is closed.
    /// Cancel-safe (the message is dropped if cancelled before it was queued).
    pub async fn send(&self, mut msg: Vec<u8>) -> bool {
        let soft = self.soft;
        loop {
            self.room().await;
            match self.push(msg, |unsent| unsent < soft) {
                Ok(()) => return true,
                Err((Refused::Closed, _)) => return false,
                // Another sender took the room first: wait again.
                Err((Refused::Full, m)) => msg = m,
            }
        }
    }

    /// Queues a notification without waiting.
    ///
    /// # Errors
    /// [`Refused::Full`] when it would take the unsent bytes over the hard limit (the caller
    /// closes the session), [`Refused::Closed`] once the outbox is closed.
    pub fn try_send(&self, msg: Vec<u8>) -> Result<(), Refused> {
        let hard = self.hard;
        let len = msg.len();
        self.push(msg, |unsent| unsent.saturating_add(len) <= hard)
            .map_err(|(why, _)| why)
    }

    /// Closes after the messages already queued; later ones are refused.
    pub fn close(&self) {
        self.queue().close = true;
        self.ready.notify_one();
        self.room.notify_waiters();
    }

    /// The writer's next message, waiting for one. Cancel-safe.
    pub async fn next(&self) -> Next {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut q = self.queue();
                if let Some(m) = q.messages.pop_front() {
                    return Next::Message(m);
                }
                if q.close {
                    return Next::Close;
                }
            }
            notified.await;
        }
    }

    /// The writer has written `bytes` (a message [`Outbox::next`] gave it), or dropped it.
    pub fn written(&self, bytes: usize) {
        let _ = self
            .unsent
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                Some(u.saturating_sub(bytes))
            });
        self.room.notify_waiters();
    }
}

/// Why a message was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Over the limit.
    Full,
    /// The outbox is closed.
    Closed,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn msg(n: usize) -> Vec<u8> {
        vec![b'x'; n]
    }

    #[tokio::test]
    async fn responses_wait_above_the_soft_limit_until_written() {
        let out = Arc::new(Outbox::new(100, 1000));
        // Anything is admitted when nothing is unsent, even over the limit.
        assert!(out.send(msg(150)).await);
        assert_eq!(out.unsent(), 150);
        let o = out.clone();
        let waiting = tokio::spawn(async move { o.send(msg(10)).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "admitted over the soft limit");
        assert_eq!(out.next().await, Next::Message(msg(150)));
        // Handed to the writer is not written: still unsent.
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        out.written(150);
        assert!(waiting.await.expect("join"));
        assert_eq!(out.unsent(), 10);
    }

    #[tokio::test]
    async fn notifications_are_refused_over_the_hard_limit_never_wait() {
        let out = Outbox::new(100, 300);
        assert_eq!(out.try_send(msg(250)), Ok(()));
        assert_eq!(out.try_send(msg(50)), Ok(()));
        assert_eq!(out.try_send(msg(1)), Err(Refused::Full));
        assert_eq!(out.unsent(), 300);
        // A response never takes the queue over the soft limit: it is not admitted.
        let pending = tokio::time::timeout(Duration::from_millis(50), out.send(msg(1))).await;
        assert!(pending.is_err());
    }

    #[tokio::test]
    async fn close_hands_out_what_was_queued_then_close() {
        let out = Outbox::new(100, 300);
        assert!(out.send(msg(5)).await);
        out.close();
        assert_eq!(out.try_send(msg(1)), Err(Refused::Closed));
        assert!(!out.send(msg(1)).await);
        assert_eq!(out.next().await, Next::Message(msg(5)));
        assert_eq!(out.next().await, Next::Close);
    }

    #[tokio::test]
    async fn the_reader_waits_for_room() {
        let out = Arc::new(Outbox::new(100, 300));
        assert!(out.send(msg(200)).await);
        let o = out.clone();
        let reader = tokio::spawn(async move { o.room().await });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!reader.is_finished());
        let _ = out.next().await;
        out.written(200);
        tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .expect("woken")
            .expect("join");
    }
}
