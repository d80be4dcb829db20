//! The endpoint pool shared by every clone of a `Daemon`, and its retry loop: backoff,
//! round-robin failover across endpoints, outage logging (one warn when an outage starts, one
//! info when the daemon answers again), shutdown.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::error::Error;
use super::options::{DaemonOptions, DaemonStats};
use super::rpc::{Endpoint, Failure, Link};
use crate::config::DaemonEndpoint;

/// The endpoints (in failover order, one current) and what every call through them shares:
/// the connection permits, the outage state and counters.
pub(super) struct Pool {
    /// The endpoints in failover order; replaced whole by [`Pool::replace`].
    endpoints: RwLock<Arc<Vec<Arc<Endpoint>>>>,
    /// Index of the endpoint in use (round-robin on failure).
    current: AtomicUsize,
    options: DaemonOptions,
    shutdown: CancellationToken,
    permits: Arc<Semaphore>,
    health: Health,
}

/// Whether the daemon is in an outage, shared by every call so that an outage is logged once
/// however many calls are waiting through it.
#[derive(Default)]
struct Health {
    in_outage: AtomicBool,
    outage: Mutex<Option<Outage>>,
    outages: AtomicU64,
    retries: AtomicU64,
    failovers: AtomicU64,
    requests: AtomicU64,
    rest_blocks: AtomicU64,
    rpc_blocks: AtomicU64,
}

struct Outage {
    since: Instant,
    warming_up: bool,
}

impl Health {
    /// An attempt at `url` failed with a retryable `failure`; `next` is the endpoint we
    /// failed over to, if we did. Warns when this starts an outage.
    fn failed(&self, url: &str, failure: &Failure, next: Option<&str>) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        let warming_up = matches!(failure, Failure::WarmingUp(_));
        let reason = failure.reason();
        let then = match next {
            Some(next) => format!("failing over to {next}"),
            None => "retrying".to_string(),
        };
        let mut outage = self.outage.lock().unwrap_or_else(PoisonError::into_inner);
        match outage.as_mut() {
            None => {
                *outage = Some(Outage {
                    since: Instant::now(),
                    warming_up,
                });
                self.in_outage.store(true, Ordering::Release);
                self.outages.fetch_add(1, Ordering::Relaxed);
                if warming_up {
                    tracing::warn!("daemon at {url} is warming up: {reason}, {then}");
                } else {
                    tracing::warn!("daemon at {url} unreachable: {reason}, {then}");
                }
            }
            Some(o) if o.warming_up != warming_up => {
                o.warming_up = warming_up;
                if warming_up {
                    tracing::info!("daemon at {url} is warming up: {reason}, {then}");
                } else {
                    tracing::info!("daemon at {url} unreachable: {reason}, {then}");
                }
            }
            Some(_) => tracing::debug!("daemon at {url}: {reason}, {then}"),
        }
    }

    /// `url` answered an attempt started at `started`. Ends the outage, unless the attempt
    /// began before it (an answer from before the failure proves nothing).
    fn answered(&self, url: &str, started: Instant) {
        if !self.in_outage.load(Ordering::Acquire) {
            return;
        }
        let mut outage = self.outage.lock().unwrap_or_else(PoisonError::into_inner);
        if outage.as_ref().is_some_and(|o| o.since <= started) {
            if let Some(o) = outage.take() {
                self.in_outage.store(false, Ordering::Release);
                let secs = o.since.elapsed().as_secs_f64();
                tracing::info!("daemon at {url} is answering again (after {secs:.1} s)");
            }
        }
    }
}

impl Pool {
    /// A pool of `endpoints` (none connected yet) with `options`.
    pub(super) fn new(endpoints: Vec<DaemonEndpoint>, options: DaemonOptions) -> Pool {
        Pool {
            endpoints: RwLock::new(Arc::new(open(endpoints, &options))),
            current: AtomicUsize::new(0),
            shutdown: options.shutdown.clone(),
            permits: Arc::new(Semaphore::new(options.max_connections.max(1))),
            options,
            health: Health::default(),
        }
    }

    /// The endpoints now (a snapshot: [`Pool::replace`] may replace them).
    pub(super) fn endpoints(&self) -> Arc<Vec<Arc<Endpoint>>> {
        Arc::clone(
            &self
                .endpoints
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// The endpoint in use, if there is one.
    pub(super) fn current(&self) -> Option<Arc<Endpoint>> {
        let endpoints = self.endpoints();
        let n = endpoints.len();
        let idx = self.current.load(Ordering::Acquire);
        (n > 0).then(|| Arc::clone(&endpoints[idx % n]))
    }

    /// Replaces the endpoints and moves to the first of them. Calls in flight finish where
    /// they are; their retries, and every later call, use the new list.
    pub(super) fn replace(&self, endpoints: Vec<DaemonEndpoint>) {
        let endpoints = open(endpoints, &self.options);
        let mut guard = self
            .endpoints
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *guard = Arc::new(endpoints);
        self.current.store(0, Ordering::Release);
    }

    /// Counters since start.
    pub(super) fn stats(&self) -> DaemonStats {
        let h = &self.health;
        DaemonStats {
            requests: h.requests.load(Ordering::Relaxed),
            retries: h.retries.load(Ordering::Relaxed),
            outages: h.outages.load(Ordering::Relaxed),
            failovers: h.failovers.load(Ordering::Relaxed),
            rest_blocks: h.rest_blocks.load(Ordering::Relaxed),
            rpc_blocks: h.rpc_blocks.load(Ordering::Relaxed),
        }
    }

    /// Counts `n` blocks fetched through REST (`rest`) or JSON-RPC.
    pub(super) fn count_blocks(&self, rest: bool, n: usize) {
        let counter = if rest {
            &self.health.rest_blocks
        } else {
            &self.health.rpc_blocks
        };
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Runs `job` until it gets an answer: retrying transport failures and warm-up with
    /// exponential backoff, failing over to the next endpoint after each failure, and
    /// stopping on shutdown or once it has retried for `give_up_after`.
    pub(super) async fn run<T, F>(
        &self,
        give_up_after: Option<Duration>,
        job: F,
    ) -> Result<T, Error>
    where
        T: Send + 'static,
        F: Fn(&mut Link<'_>) -> Result<T, Failure> + Send + Sync + 'static,
    {
        if self.endpoints().is_empty() {
            return Err(Error::Unreachable {
                url: "(none)".to_string(),
                reason: "no daemon endpoint configured".to_string(),
            });
        }
        let job = Arc::new(job);
        let first = Instant::now();
        let mut delay = self.options.retry_base;
        let mut failures = 0usize;
        loop {
            if self.shutdown.is_cancelled() {
                return Err(Error::Shutdown);
            }
            // A snapshot per attempt: the admin RPC may replace the endpoints meanwhile.
            let endpoints = self.endpoints();
            let n = endpoints.len().max(1);
            let idx = self.current.load(Ordering::Acquire) % n;
            let Some(endpoint) = endpoints.get(idx).cloned() else {
                continue;
            };
            let url = endpoint.url.as_str();
            let started = Instant::now();
            let failure = match self.attempt(Arc::clone(&endpoint), Arc::clone(&job)).await {
                Ok(v) => {
                    self.health.answered(url, started);
                    return Ok(v);
                }
                Err(Failure::Answer(Error::Shutdown)) => return Err(Error::Shutdown),
                Err(Failure::Answer(e)) => {
                    self.health.answered(url, started);
                    return Err(e);
                }
                Err(f) => f,
            };
            let next = self.fail_over(idx, n);
            let next_url = next.and_then(|i| endpoints.get(i)).map(|e| e.url.as_str());
            self.health.failed(url, &failure, next_url);
            let mut pause = Duration::ZERO;
            failures += 1;
            if failures % n == 0 {
                pause = delay;
                delay = (delay * 2).min(self.options.retry_cap);
            }
            if let Some(limit) = give_up_after {
                let left = limit.saturating_sub(first.elapsed());
                if left.is_zero() {
                    return Err(Error::Unreachable {
                        url: url.to_string(),
                        reason: failure.reason(),
                    });
                }
                pause = pause.min(left);
            }
            if !pause.is_zero() {
                tokio::select! {
                    biased;
                    _ = self.shutdown.cancelled() => return Err(Error::Shutdown),
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        }
    }

    /// Moves from endpoint `failed` (of `n`) to the next one, unless another call already
    /// moved.
    fn fail_over(&self, failed: usize, n: usize) -> Option<usize> {
        if n < 2 {
            return None;
        }
        let next = (failed + 1) % n;
        let moved = self
            .current
            .compare_exchange(failed, next, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        moved.then(|| {
            self.health.failovers.fetch_add(1, Ordering::Relaxed);
            // The next endpoint may have been restarted with or without -rest meanwhile.
            if let Some(e) = self.endpoints().get(next) {
                e.rest.reset();
            }
            next
        })
    }

    /// One attempt on `endpoint`, on a blocking thread. Returns at once on shutdown (the
    /// blocking exchange then finishes on its own, within the socket timeout).
    async fn attempt<T, F>(&self, endpoint: Arc<Endpoint>, job: Arc<F>) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: Fn(&mut Link<'_>) -> Result<T, Failure> + Send + Sync + 'static,
    {
        let permits = Arc::clone(&self.permits);
        let permit = tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => return Err(Error::Shutdown.into()),
            p = permits.acquire_owned() => p.map_err(|_| Failure::Answer(Error::Shutdown))?,
        };
        self.health.requests.fetch_add(1, Ordering::Relaxed);
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            endpoint.run(|link| job(link))
        });
        tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => Err(Error::Shutdown.into()),
            joined = task => joined.unwrap_or_else(|e| {
                Err(Error::bad(format!("daemon task failed: {e}")).into())
            }),
        }
    }
}

/// Connection pools for `endpoints`, each keeping up to `max_connections` idle connections.
fn open(endpoints: Vec<DaemonEndpoint>, options: &DaemonOptions) -> Vec<Arc<Endpoint>> {
    let max = options.max_connections.max(1);
    endpoints
        .into_iter()
        .map(|e| Arc::new(Endpoint::new(e, options, max)))
        .collect()
}
