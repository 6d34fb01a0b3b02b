//! The worker: takes due parcels from the [`Queue`], delivers them through a [`Transport`],
//! records every attempt, and polls the data centre's answers into an [`AnswerSink`].

use std::fmt;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, error, info, info_span, warn};

use crate::{AnswerSink, Attempt, Backoff, Parcel, Queue, Transport};

/// How the worker runs.
#[derive(Clone)]
pub struct OutboxConfig {
    /// How many parcels are delivered at once (at least 1). Default 4.
    pub concurrency: usize,
    /// How many due parcels are taken from the queue per pass (at least 1). Default 32.
    pub batch: usize,
    /// Delays between attempts of a parcel whose delivery failed with a retryable error.
    /// A permanent error (the receiver refused the parcel) waits `backoff.max` each time.
    pub backoff: Backoff,
    /// The longest the worker sleeps when nothing is due, so parcels queued without a
    /// [`OutboxHandle::notify`] still go out. Default 30 s.
    pub idle_poll: Duration,
    /// How often answers are fetched when the last fetch found none. Default 10 s.
    pub answer_poll: Duration,
    /// Where answers go; `None` runs no answer polling.
    pub answer_sink: Option<Arc<dyn AnswerSink>>,
    /// Seed for the backoff jitter (tests); `None` seeds from the OS.
    pub seed: Option<u64>,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            batch: 32,
            backoff: Backoff::default(),
            idle_poll: Duration::from_secs(30),
            answer_poll: Duration::from_secs(10),
            answer_sink: None,
            seed: None,
        }
    }
}

impl fmt::Debug for OutboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxConfig")
            .field("concurrency", &self.concurrency)
            .field("batch", &self.batch)
            .field("backoff", &self.backoff)
            .field("idle_poll", &self.idle_poll)
            .field("answer_poll", &self.answer_poll)
            .field("answer_sink", &self.answer_sink.is_some())
            .field("seed", &self.seed)
            .finish()
    }
}

/// Counters of what a running worker did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStats {
    /// Parcels confirmed by the receiver (duplicates included).
    pub delivered: u64,
    /// Of those, the ones the receiver already had.
    pub duplicates: u64,
    /// Attempts that failed.
    pub failed_attempts: u64,
    /// Answers accepted by the sink.
    pub answers: u64,
}

#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    duplicates: AtomicU64,
    failed_attempts: AtomicU64,
    answers: AtomicU64,
}

/// The outbox worker; see [`Outbox::spawn`].
pub struct Outbox {
    /// Wakes the answer loop: a parcel was just delivered, or someone waits for an answer.
    answers_wake: Arc<Notify>,
    queue: Arc<dyn Queue>,
    transport: Arc<dyn Transport>,
    config: OutboxConfig,
    rng: Mutex<StdRng>,
    counters: Arc<Counters>,
}

/// A running worker: wake it, read its counters, stop it.
pub struct OutboxHandle {
    notify: Arc<Notify>,
    answers_wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    counters: Arc<Counters>,
    tasks: Vec<JoinHandle<()>>,
}

impl OutboxHandle {
    /// Wakes the worker: a parcel was queued. A wake-up while it is busy is kept for its
    /// next sleep, so none is lost.
    pub fn notify(&self) {
        self.notify.notify_one();
    }

    /// Fetches answers now rather than at the next poll (someone waits for one).
    pub fn fetch_answers(&self) {
        self.answers_wake.notify_one();
    }

    /// What the worker did so far.
    pub fn stats(&self) -> OutboxStats {
        OutboxStats {
            delivered: self.counters.delivered.load(Ordering::Relaxed),
            duplicates: self.counters.duplicates.load(Ordering::Relaxed),
            failed_attempts: self.counters.failed_attempts.load(Ordering::Relaxed),
            answers: self.counters.answers.load(Ordering::Relaxed),
        }
    }

    /// Stops the worker and waits for it. Deliveries in flight are abandoned: a parcel
    /// whose attempt was not recorded is simply sent again later with the same
    /// idempotency key, and the receiver drops the copy.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            if let Err(e) = task.await {
                error!(error = %e, "outbox task ended abnormally");
            }
        }
    }
}

impl Outbox {
    /// Starts the worker on the current Tokio runtime: a delivery loop, and an answer loop
    /// when `config.answer_sink` is set.
    pub fn spawn(
        queue: Arc<dyn Queue>,
        transport: Arc<dyn Transport>,
        config: OutboxConfig,
    ) -> OutboxHandle {
        let rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        let counters = Arc::new(Counters::default());
        let notify = Arc::new(Notify::new());
        let (stop, stop_rx) = watch::channel(false);
        let sink = config.answer_sink.clone();
        let answer_poll = config.answer_poll;
        let answers_wake = Arc::new(Notify::new());
        let outbox = Arc::new(Outbox {
            answers_wake: answers_wake.clone(),
            queue,
            transport,
            config,
            rng: Mutex::new(rng),
            counters: counters.clone(),
        });
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(
            outbox
                .clone()
                .delivery_loop(notify.clone(), stop_rx.clone()),
        ));
        if let Some(sink) = sink {
            tasks.push(tokio::spawn(outbox.answer_loop(sink, answer_poll, stop_rx)));
        }
        OutboxHandle {
            notify,
            answers_wake,
            stop,
            counters,
            tasks,
        }
    }

    async fn delivery_loop(self: Arc<Self>, notify: Arc<Notify>, mut stop: watch::Receiver<bool>) {
        let transport = self.transport.name();
        info!(transport, "outbox started");
        let batch = self.config.batch.max(1);
        let concurrency = self.config.concurrency.max(1);
        loop {
            if *stop.borrow() {
                break;
            }
            let now = SystemTime::now();
            let queue = self.queue.clone();
            let due = blocking(move || queue.due(now, batch)).await;
            match due {
                Ok(parcels) if !parcels.is_empty() => {
                    debug!(count = parcels.len(), "parcels due");
                    let pass = futures::stream::iter(parcels)
                        .for_each_concurrent(concurrency, |p| self.deliver_one(p));
                    tokio::select! {
                        _ = pass => {}
                        _ = stop.changed() => break,
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => error!(error = %e, "outbox: could not read due parcels"),
            }
            let queue = self.queue.clone();
            let wait = match blocking(move || queue.next_due()).await {
                Ok(Some(at)) => at.duration_since(SystemTime::now()).unwrap_or_default(),
                Ok(None) => self.config.idle_poll,
                Err(e) => {
                    error!(error = %e, "outbox: could not read the next due time");
                    self.config.idle_poll
                }
            };
            // never spin: a store whose clock disagrees gets a short pause at least
            let wait = wait.clamp(
                Duration::from_millis(10),
                self.config.idle_poll.max(Duration::from_millis(10)),
            );
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = notify.notified() => {}
                _ = stop.changed() => break,
            }
        }
        info!(transport, "outbox stopped");
    }

    async fn deliver_one(&self, parcel: Parcel) {
        let span = info_span!(
            "deliver",
            enrollment_id = %parcel.enrollment_id,
            station_id = %parcel.station_id,
            attempt = parcel.attempts.saturating_add(1),
            transport = self.transport.name(),
        );
        async {
            let result = self.transport.deliver(&parcel).await;
            let at = SystemTime::now();
            let attempt = match result {
                Ok(d) => {
                    self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                    // The first answer ("received") follows a delivery closely.
                    self.answers_wake.notify_one();
                    if d.duplicate {
                        self.counters.duplicates.fetch_add(1, Ordering::Relaxed);
                    }
                    info!(
                        duplicate = d.duplicate,
                        bytes = parcel.package.len(),
                        "package delivered"
                    );
                    Attempt {
                        at,
                        delivered: true,
                        duplicate: d.duplicate,
                        error: None,
                        next_attempt: None,
                    }
                }
                Err(e) => {
                    self.counters
                        .failed_attempts
                        .fetch_add(1, Ordering::Relaxed);
                    let delay = if e.is_retryable() {
                        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
                        self.config
                            .backoff
                            .delay(parcel.attempts.saturating_add(1), &mut *rng)
                    } else {
                        self.config.backoff.max
                    };
                    warn!(reason = e.reason(), error = %e, retry_in = ?delay, "delivery failed");
                    Attempt {
                        at,
                        delivered: false,
                        duplicate: false,
                        error: Some(format!("{}: {e}", e.reason())),
                        next_attempt: Some(at + delay),
                    }
                }
            };
            let queue = self.queue.clone();
            let key = parcel.idempotency_key.clone();
            if let Err(e) = blocking(move || queue.record_attempt(&key, &attempt)).await {
                // harmless: the parcel stays due and goes again under the same key
                error!(error = %e, "outbox: could not record the attempt");
            }
        }
        .instrument(span)
        .await
    }

    async fn answer_loop(
        self: Arc<Self>,
        sink: Arc<dyn AnswerSink>,
        poll: Duration,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            if *stop.borrow() {
                break;
            }
            let got = tokio::select! {
                r = self.transport.receive_answers(sink.as_ref()) => r,
                _ = stop.changed() => break,
            };
            let wait = match got {
                Ok(0) => poll,
                Ok(n) => {
                    self.counters.answers.fetch_add(n as u64, Ordering::Relaxed);
                    debug!(count = n, "answers received");
                    continue; // there may be more
                }
                Err(e) => {
                    warn!(reason = e.reason(), error = %e, "could not fetch answers");
                    poll
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.answers_wake.notified() => {}
                _ = stop.changed() => break,
            }
        }
    }
}

/// Runs a synchronous queue call off the async threads (the store is SQLite).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(format!("queue call panicked: {e}")))
}
