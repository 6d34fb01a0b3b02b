//! The worker with a scripted transport: wake-ups, permanent errors, shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use rekam_outbox::{
    AnswerSink, Backoff, Delivered, MemoryQueue, Outbox, OutboxConfig, Parcel, Transport,
    TransportError,
};

/// Answers each delivery with the next scripted result (Ok when the script is empty).
struct Scripted {
    script: Mutex<Vec<Result<Delivered, TransportError>>>,
    seen: Mutex<Vec<String>>,
}

#[async_trait]
impl Transport for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }
    async fn deliver(&self, parcel: &Parcel) -> Result<Delivered, TransportError> {
        self.seen
            .lock()
            .unwrap()
            .push(parcel.idempotency_key.clone());
        let mut s = self.script.lock().unwrap();
        if s.is_empty() {
            Ok(Delivered::default())
        } else {
            s.remove(0)
        }
    }
    async fn receive_answers(&self, _: &dyn AnswerSink) -> Result<usize, TransportError> {
        Ok(0)
    }
}

async fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn notify_wakes_an_idle_worker_and_shutdown_stops_it() {
    let queue = Arc::new(MemoryQueue::new());
    let t = Arc::new(Scripted {
        script: Mutex::new(vec![]),
        seen: Mutex::new(vec![]),
    });
    let outbox = Outbox::spawn(
        queue.clone(),
        t.clone(),
        OutboxConfig {
            idle_poll: Duration::from_secs(3600),
            ..OutboxConfig::default()
        },
    );
    tokio::time::sleep(Duration::from_millis(100)).await; // asleep with nothing due
    queue.push(Parcel::new("E1", "s", vec![1, 2, 3]));
    outbox.notify();
    wait_for(Duration::from_secs(2), || queue.undelivered() == 0).await;
    assert_eq!(outbox.stats().delivered, 1);
    let started = Instant::now();
    outbox.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn permanent_errors_wait_the_cap_retryable_ones_back_off() {
    let queue = Arc::new(MemoryQueue::new());
    queue.push(Parcel::new("E1", "s", vec![1]));
    queue.push(Parcel::new("E2", "s", vec![2]));
    let t = Arc::new(Scripted {
        script: Mutex::new(vec![
            Err(TransportError::Rejected {
                status: 400,
                detail: "bad".into(),
            }),
            Err(TransportError::Unavailable("down".into())),
        ]),
        seen: Mutex::new(vec![]),
    });
    let backoff = Backoff {
        base: Duration::from_millis(100),
        max: Duration::from_secs(60),
        factor: 2.0,
    };
    let outbox = Outbox::spawn(
        queue.clone(),
        t.clone(),
        OutboxConfig {
            concurrency: 1,
            backoff,
            seed: Some(9),
            ..OutboxConfig::default()
        },
    );
    // the retryable one comes back within its backoff ceiling and is delivered
    wait_for(Duration::from_secs(3), || queue.undelivered() == 1).await;
    outbox.shutdown().await;
    let parcels = queue.parcels();
    let rejected = parcels.iter().find(|q| !q.delivered).unwrap();
    let a = &rejected.history[0];
    assert!(a.error.as_deref().unwrap().starts_with("PACKAGE_REJECTED"));
    assert_eq!(
        a.next_attempt.unwrap().duration_since(a.at).unwrap(),
        Duration::from_secs(60)
    );
    let retried = parcels.iter().find(|q| q.delivered).unwrap();
    assert_eq!(retried.history.len(), 2);
    let first = &retried.history[0];
    assert!(
        first
            .next_attempt
            .unwrap()
            .duration_since(first.at)
            .unwrap()
            <= Duration::from_millis(100)
    );
    assert!(rejected.next_attempt > SystemTime::now());
}
