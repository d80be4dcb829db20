//! Serving one client connection: reads JSON-RPC messages, runs requests concurrently (up to
//! the session's allowance, in the order they were read), and writes responses and
//! notifications through the session's queue. At shutdown a session drains: it stops
//! reading, finishes the requests it has read, sends their answers, then closes.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::cost::{Excessive, ERROR_COST, PARSE_ERROR_COST};
use super::methods::{Call, CallFailure, Method};
use super::outbox::Next;
use super::session::{SessionState, MAX_QUEUED, MAX_QUEUED_BYTES};
use super::shared::ElectrumState;
use crate::jsonrpc::{
    self, Answer, BatchDone, Detector, Parsed, Request, RpcError, BAD_REQUEST, PARSE_ERROR,
};
use crate::transport::{Connection, MessageWriter, RecvError};

/// Writes queued messages until the outbox closes, the session closes or the socket fails.
/// A write that makes no progress for `send_timeout` (the client stopped reading) closes the
/// session. Gives back the writer, and whether a write was abandoned (the connection is then
/// reset, not closed).
async fn write_loop(
    mut writer: MessageWriter,
    state: Arc<SessionState>,
    send_timeout: Duration,
) -> (MessageWriter, bool) {
    let progress = writer.progress();
    // How often a stalled write is checked: the timeout is enforced to within this.
    let tick = (send_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        let next = tokio::select! {
            n = state.outbox.next() => n,
            _ = state.closing.cancelled() => break,
        };
        let msg = match next {
            Next::Message(m) => m,
            Next::Close => break,
        };
        let len = msg.len();
        let sent = {
            let send = writer.send(msg);
            tokio::pin!(send);
            let mut seen = progress.load(Ordering::Relaxed);
            let mut moved = Instant::now();
            loop {
                tokio::select! {
                    biased;
                    r = &mut send => break Some(r),
                    // A client that stops reading must not keep the session (and its place
                    // under MAX_SESSIONS) once it is closed: the write gives way to closing.
                    _ = state.closing.cancelled() => break None,
                    _ = tokio::time::sleep(tick) => {
                        let now = progress.load(Ordering::Relaxed);
                        if now != seen {
                            (seen, moved) = (now, Instant::now());
                        } else if moved.elapsed() >= send_timeout {
                            tracing::info!(
                                session = state.id,
                                unsent = state.outbox.unsent(),
                                "closing session: nothing could be sent for {} s (the client \
                                 is not reading)",
                                send_timeout.as_secs()
                            );
                            break None;
                        }
                    }
                }
            }
        };
        state.outbox.written(len);
        match sent {
            Some(Ok(())) => {
                state.send_count.fetch_add(1, Ordering::Relaxed);
                state.send_size.fetch_add(len as u64, Ordering::Relaxed);
                state.bump_bandwidth(len as u64);
            }
            Some(Err(e)) => {
                tracing::debug!(session = state.id, "write failed: {e}");
                break;
            }
            None => {
                state.closing.cancel();
                state.outbox.close();
                return (writer, true);
            }
        }
    }
    state.closing.cancel();
    state.outbox.close();
    let _ = tokio::time::timeout(Duration::from_secs(2), writer.close()).await;
    (writer, false)
}

/// A request's outcome, and whether to disconnect after answering it; `None` when it is
/// abandoned without an answer (the session is closing).
type Settled = Option<(Result<Answer, RpcError>, bool)>;

/// A request read and not answered yet.
struct Job {
    req: Request,
    /// REQUEST_TIMEOUT counts from when the request was read.
    deadline: tokio::time::Instant,
    /// Its batch and its place in it.
    batch: Option<(Arc<Mutex<BatchAnswer>>, usize)>,
    /// Its message's share of [`MAX_QUEUED_BYTES`], given back once the request starts
    /// (shared by the requests of a batch).
    queued: Option<Arc<OwnedSemaphorePermit>>,
}

/// A batch's answer, assembled as its items finish.
struct BatchAnswer {
    collector: jsonrpc::BatchCollector,
    /// Whether an item asked to disconnect after answering.
    disconnect: bool,
}

impl BatchAnswer {
    /// Records item `i`; once all are in, the answer (nothing if one was abandoned: the
    /// session is then closed) and whether to disconnect.
    fn record(
        &mut self,
        i: usize,
        outcome: Settled,
        max_send: usize,
    ) -> Option<(Option<Vec<u8>>, bool)> {
        if let Some((_, d)) = &outcome {
            self.disconnect |= d;
        }
        let outcome = outcome.as_ref().map(|(o, _)| o.as_ref());
        match self.collector.record(i, outcome, max_send)? {
            BatchDone::Reply(r) => Some((Some(r), self.disconnect)),
            BatchDone::Silent => Some((None, self.disconnect)),
            BatchDone::Abandoned => Some((None, true)),
        }
    }
}

/// Serves one connection until the client leaves or the session is closed. Once `drain`
/// fires (shutdown), nothing more is read; the requests read are still run and answered,
/// then the session closes (the server closes it anyway once its drain time is up).
pub async fn serve(
    conn: Connection,
    shared: Arc<ElectrumState>,
    state: Arc<SessionState>,
    drain: &CancellationToken,
) {
    let Connection {
        mut reader, writer, ..
    } = conn;
    let send_timeout = shared.config.send_timeout;
    let writer_task = tokio::spawn(write_loop(writer, state.clone(), send_timeout));
    // Boxed: a tokio channel allocates its slots 32 at a time as soon as it is made, and an
    // idle session's first block of 32 `Job`s cost kilobytes; 32 pointers cost 256 bytes.
    let (jobs, queue) = mpsc::channel::<Box<Job>>(MAX_QUEUED);
    let dispatcher = tokio::spawn(dispatch(shared.clone(), state.clone(), queue));
    let mut detector = Detector::new();
    let mut writer_ends = false;
    let mut draining = false;
    let mut received = 0u64;
    loop {
        // Backpressure: nothing more is read while the client leaves our answers unread.
        let msg = tokio::select! {
            _ = state.closing.cancelled() => break,
            _ = drain.cancelled() => {
                draining = true;
                break;
            }
            m = async {
                state.outbox.room().await;
                reader.recv().await
            } => m,
        };
        // Every byte read costs, oversized and discarded ones included (as aiorpcX charges
        // each chunk it receives).
        let now_received = reader.bytes_received();
        let delta = now_received.saturating_sub(received);
        received = now_received;
        state.recv_size.fetch_add(delta, Ordering::Relaxed);
        state.bump_bandwidth(delta);
        let msg = match msg {
            Ok(Some(m)) => m,
            Ok(None) => break,
            // As aiorpcx: the oversized message is dropped with a warning, no reply, and
            // the stream re-synchronises at the next newline.
            Err(RecvError::TooLarge { limit }) => {
                tracing::warn!(session = state.id, limit, "dropping an oversized message");
                continue;
            }
            Err(RecvError::Io(e)) => {
                tracing::debug!(session = state.id, "read failed: {e}");
                break;
            }
        };
        // Requests read and not started are bounded in bytes too.
        let share = u32::try_from(msg.len().min(MAX_QUEUED_BYTES)).unwrap_or(u32::MAX);
        let queued = tokio::select! {
            _ = state.closing.cancelled() => break,
            p = state.queued_bytes.clone().acquire_many_owned(share) => match p {
                Ok(p) => Arc::new(p),
                Err(_) => break,
            },
        };
        let deadline = tokio::time::Instant::now() + shared.config.request_timeout;
        state.touch();
        state.recv_count.fetch_add(1, Ordering::Relaxed);
        if state.log_me() {
            tracing::info!(
                session = state.id,
                "request received: {}",
                String::from_utf8_lossy(&msg)
            );
        }
        let parsed = jsonrpc::parse(&msg, &mut detector);
        state.set_rpc(&detector);
        match parsed {
            Err(fault) => {
                tracing::debug!(session = state.id, "bad message: {}", fault.message);
                if fault.fatal {
                    state.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                state.bump_errors(if fault.code == PARSE_ERROR {
                    PARSE_ERROR_COST
                } else {
                    ERROR_COST
                });
                if let Some(reply) = fault.reply {
                    if !state.send(reply).await {
                        break;
                    }
                }
            }
            Ok(Parsed::Single(req)) => {
                // server.version, and anything before it, is handled before the next
                // message is read: later requests see the negotiated version.
                if req.method == "server.version" || !state.version_seen() {
                    state.unanswered.fetch_add(1, Ordering::Relaxed);
                    // Boxed for its duration only: the whole method dispatch's future would
                    // otherwise be part of this loop's, which every session keeps while idle.
                    let go_on = Box::pin(handle_in_order(&shared, &state, req, deadline)).await;
                    state.unanswered.fetch_sub(1, Ordering::Relaxed);
                    if !go_on {
                        // The reply and the close are queued (or the writer is gone):
                        // let the writer send them; cancelling now could drop the reply.
                        writer_ends = true;
                        break;
                    }
                    continue;
                }
                let job = Box::new(Job {
                    req,
                    deadline,
                    batch: None,
                    queued: Some(queued),
                });
                if !queue_job(&state, &jobs, job).await {
                    break;
                }
            }
            Ok(Parsed::Batch(batch)) => {
                let jsonrpc::Batch {
                    requests,
                    collector,
                } = batch;
                let answer = Arc::new(Mutex::new(BatchAnswer {
                    collector,
                    disconnect: false,
                }));
                let mut open = true;
                for (i, req) in requests.into_iter().enumerate() {
                    let job = Box::new(Job {
                        req,
                        deadline,
                        batch: Some((answer.clone(), i)),
                        queued: Some(queued.clone()),
                    });
                    if !queue_job(&state, &jobs, job).await {
                        open = false;
                        break;
                    }
                }
                if !open {
                    break;
                }
            }
        }
    }
    drop(jobs);
    if draining {
        // Every request read runs to its answer (or until the session is closed), then the
        // writer sends what is queued and closes the connection.
        let _ = dispatcher.await;
        state.outbox.close();
    } else {
        if !writer_ends {
            state.closing.cancel();
        }
        let _ = dispatcher.await;
    }
    if let Ok((writer, true)) = writer_task.await {
        writer.abort(reader);
    }
}

/// Queues a request for the dispatcher (waiting while [`MAX_QUEUED`] are); false when the
/// session is closing.
async fn queue_job(state: &SessionState, jobs: &mpsc::Sender<Box<Job>>, job: Box<Job>) -> bool {
    state.unanswered.fetch_add(1, Ordering::Relaxed);
    tokio::select! {
        _ = state.closing.cancelled() => false,
        r = jobs.send(job) => r.is_ok(),
    }
}

/// Starts the session's requests in the order they were read, as aiorpcX does (its tasks
/// start in order and its semaphore is first come, first served): each waits for a
/// concurrency slot within its deadline, then runs in its own task holding the slot. Once
/// the queue has ended, returns when every request has been answered (or at once if the
/// session is closed).
async fn dispatch(
    shared: Arc<ElectrumState>,
    state: Arc<SessionState>,
    mut queue: mpsc::Receiver<Box<Job>>,
) {
    let tasks = TaskTracker::new();
    loop {
        let mut job = tokio::select! {
            _ = state.closing.cancelled() => break,
            j = queue.recv() => match j {
                Some(j) => *j,
                None => break,
            },
        };
        let entered = tokio::select! {
            _ = state.closing.cancelled() => break,
            r = tokio::time::timeout_at(job.deadline, state.concurrency.enter()) => r,
        };
        // Started (or settled): its bytes no longer count as queued.
        job.queued = None;
        let (shared, state) = (shared.clone(), state.clone());
        match entered {
            Ok(Ok(slot)) => {
                tasks.spawn(async move {
                    let outcome = tokio::select! {
                        _ = state.closing.cancelled() => None,
                        r = tokio::time::timeout_at(job.deadline, run(&shared, &state, &job.req)) => {
                            Some(r.unwrap_or_else(|_| timed_out(&shared, &state, &job.req)))
                        }
                    };
                    // The slot is held until the answer is queued: while the client does
                    // not read, no further request of the session runs.
                    complete(&shared, &state, job, outcome).await;
                    drop(slot);
                });
            }
            Ok(Err(Excessive)) => {
                let outcome = refuse(&state);
                tasks.spawn(async move { complete(&shared, &state, job, outcome).await });
            }
            Err(_) => {
                let outcome = Some(timed_out(&shared, &state, &job.req));
                tasks.spawn(async move { complete(&shared, &state, job, outcome).await });
            }
        }
    }
    tasks.close();
    tokio::select! {
        _ = tasks.wait() => {}
        _ = state.closing.cancelled() => {}
    }
}

/// Sleeps as the session's cost says, then runs the request.
async fn run(
    shared: &Arc<ElectrumState>,
    state: &Arc<SessionState>,
    req: &Request,
) -> (Result<Answer, RpcError>, bool) {
    let delay = state.request_delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    handle(shared, state, req).await
}

/// REQUEST_TIMEOUT passed: aiorpcX's "server busy" (the session goes on).
fn timed_out(
    shared: &ElectrumState,
    state: &SessionState,
    req: &Request,
) -> (Result<Answer, RpcError>, bool) {
    tracing::info!(
        session = state.id,
        method = %req.method,
        "request timed out after {} s",
        shared.config.request_timeout.as_secs()
    );
    (Err(RpcError::server_busy()), false)
}

/// The concurrency is zero: the first such request is refused and the session closed; the
/// others are abandoned.
fn refuse(state: &SessionState) -> Settled {
    if state.excessive.swap(true, Ordering::SeqCst) {
        return None;
    }
    if state.anon_logs {
        tracing::info!(
            session = state.id,
            groups = state.groups().len(),
            "closing session: excessive resource usage"
        );
    } else {
        tracing::info!(
            session = state.id,
            ip = %state.peer.ip(),
            groups = ?state.group_names(),
            "closing session: excessive resource usage"
        );
    }
    Some((Err(RpcError::excessive_resource_usage()), true))
}

/// Answers a finished request (or its batch, once complete). Every error answered costs
/// [`ERROR_COST`].
async fn complete(
    shared: &Arc<ElectrumState>,
    state: &Arc<SessionState>,
    job: Job,
    outcome: Settled,
) {
    if let Some((Err(_), _)) = &outcome {
        state.bump_errors(ERROR_COST);
    }
    let max_send = shared.config.max_send;
    match job.batch {
        None => {
            if let Some((outcome, disconnect)) = outcome {
                let reply = job.req.answer(outcome.as_ref(), max_send);
                drop(outcome);
                finish(state, reply, disconnect).await;
            }
        }
        Some((answer, i)) => {
            let done = answer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .record(i, outcome, max_send);
            if let Some((reply, disconnect)) = done {
                finish(state, reply, disconnect).await;
            }
        }
    }
    state.unanswered.fetch_sub(1, Ordering::Relaxed);
}

/// Sends a reply (if any), then closes the session if asked to.
async fn finish(state: &SessionState, reply: Option<Vec<u8>>, disconnect: bool) {
    if disconnect {
        state.send_and_close(reply).await;
    } else if let Some(r) = reply {
        state.send(r).await;
    }
}

/// Handles a request that must complete before the next is read (server.version, or
/// anything before it), throttled like any other. False when the session must end.
async fn handle_in_order(
    shared: &Arc<ElectrumState>,
    state: &Arc<SessionState>,
    req: Request,
    deadline: tokio::time::Instant,
) -> bool {
    let gated = async {
        let slot = state.concurrency.enter().await?;
        let done = run(shared, state, &req).await;
        drop(slot);
        Ok::<_, Excessive>(done)
    };
    let outcome = tokio::select! {
        _ = state.closing.cancelled() => None,
        r = tokio::time::timeout_at(deadline, gated) => match r {
            Ok(Ok(done)) => Some(done),
            Ok(Err(Excessive)) => refuse(state),
            Err(_) => Some(timed_out(shared, state, &req)),
        },
    };
    let Some((outcome, disconnect)) = outcome else {
        return false;
    };
    if outcome.is_err() {
        state.bump_errors(ERROR_COST);
    }
    let reply = req.answer(outcome.as_ref(), shared.config.max_send);
    if disconnect {
        state.send_and_close(reply).await;
        return false;
    }
    match reply {
        Some(r) => state.send(r).await,
        None => !state.closing.is_cancelled(),
    }
}

/// Runs one request: its outcome, and whether to disconnect after answering it. The method
/// charges its cost to the session as it incurs it (so a request cut off by REQUEST_TIMEOUT
/// is still charged what it had incurred).
async fn handle(
    shared: &Arc<ElectrumState>,
    state: &Arc<SessionState>,
    req: &Request,
) -> (Result<Answer, RpcError>, bool) {
    state.requests.fetch_add(1, Ordering::Relaxed);
    // A client notification runs only if the version has a handler for it (ElectrumX 2.0's
    // `notification_handlers`: `server.ping` at 1.7); any other is an unknown method, never
    // answered (and before `server.version`, even `server.version`, the first-message rule).
    let method = state.with_protocol(|v| {
        if req.is_notification() {
            Method::lookup_notification(&req.method, v)
        } else {
            Method::lookup(&req.method, v)
        }
    });
    let outcome: Result<Answer, CallFailure> =
        if !state.version_seen() && method != Some(Method::Version) {
            // ElectrumX: the first message must be server.version; old Electrum clients that
            // skip it are sent the two notifications that crash them, then the error.
            tracing::info!(
                session = state.id,
                "closing session: server.version must be the first message"
            );
            state.notify("blockchain.relayfee", &[]);
            state.notify("blockchain.estimatefee", &[]);
            Err(CallFailure {
                error: RpcError::new(BAD_REQUEST, "use server.version to identify client"),
                disconnect: true,
            })
        } else if shared.config.drop_client_unknown
            && req.method != "server.version"
            && state.client() == "unknown"
        {
            // DROP_CLIENT_UNKNOWN (ElectrumX 1.16–1.18): a client that did not name itself
            // in server.version is dropped at its next request.
            tracing::info!(
                session = state.id,
                "closing session: the client did not identify itself"
            );
            Err(CallFailure {
                error: RpcError::new(BAD_REQUEST, "use server.version to identify client"),
                disconnect: true,
            })
        } else {
            Method::count_request(&shared.counters, method);
            match method {
                None => Err(RpcError::unknown_method(&req.method).into()),
                Some(m) => match jsonrpc::bind(&req.method, &m.signature(), &req.params) {
                    Err(e) => Err(e.into()),
                    Ok(args) => {
                        let call = Call {
                            backend: shared,
                            session: state,
                        };
                        call.run_answer(m, &args).await
                    }
                },
            }
        };
    match outcome {
        Ok(v) => (Ok(v), false),
        Err(f) => (Err(f.error), f.disconnect),
    }
}
