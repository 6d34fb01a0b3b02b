//! The NATS JetStream transport and the worker against a real nats-server (started here;
//! the tests fail when it cannot start).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use async_nats::jetstream;
use rekam_outbox::testing::NatsServer;
use rekam_outbox::wire::{self, WireAnswer};
use rekam_outbox::{
    AnswerMessage, AnswerSink, Attempt, Backoff, CentralAnswer, MemoryQueue, NatsConfig,
    NatsTransport, Outbox, OutboxConfig, Parcel, Queue, Transport, ensure_streams,
};

fn package(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn config(server: &NatsServer, station: &str) -> NatsConfig {
    let mut c = NatsConfig::new(server.url(), station);
    c.request_timeout = Duration::from_secs(2);
    c
}

async fn stream_messages(js: &jetstream::Context, name: &str) -> u64 {
    js.get_stream(name)
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap()
        .state
        .messages
}

async fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn delivers_once_and_the_broker_drops_the_resend() {
    let server = NatsServer::start().unwrap();
    let t = NatsTransport::connect(config(&server, "st-1"))
        .await
        .unwrap();
    let p = Parcel::new("E1", "st-1", package(1, 350_000));
    assert!(!t.deliver(&p).await.unwrap().duplicate);
    assert!(
        t.deliver(&p).await.unwrap().duplicate,
        "same key again is a duplicate"
    );
    let big = Parcel::new("E2", "st-1", package(2, 1_500_000));
    assert!(
        !t.deliver(&big).await.unwrap().duplicate,
        "packages over 1 MB go through"
    );
    assert_eq!(
        stream_messages(t.jetstream(), wire::PACKAGES_STREAM).await,
        2
    );

    // the message carries the headers and the package
    let stream = t
        .jetstream()
        .get_stream(wire::PACKAGES_STREAM)
        .await
        .unwrap();
    let raw = stream.get_raw_message(1).await.unwrap();
    assert_eq!(raw.subject.as_str(), "rekam.packages.st-1");
    assert_eq!(raw.payload.as_ref(), p.package.as_slice());
    let h = raw.headers;
    assert_eq!(
        h.get(async_nats::header::NATS_MESSAGE_ID).unwrap().as_str(),
        p.idempotency_key
    );
    assert_eq!(h.get(wire::H_ENROLLMENT_ID).unwrap().as_str(), "E1");

    // too large for the broker: a permanent refusal, not a retryable error
    let huge = Parcel::new("E3", "st-1", vec![0; 9 * 1024 * 1024]);
    let e = t.deliver(&huge).await.unwrap_err();
    assert_eq!(e.reason(), "PACKAGE_REJECTED", "{e}");
}

#[tokio::test]
async fn bad_station_id_is_a_config_error() {
    let server = NatsServer::start().unwrap();
    let e = NatsTransport::connect(config(&server, "st.1"))
        .await
        .err()
        .unwrap();
    assert_eq!(e.reason(), "OUTBOX_MISCONFIGURED");
}

#[tokio::test]
async fn worker_retries_until_the_broker_comes_up_and_loses_nothing() {
    let mut server = NatsServer::unstarted().unwrap();
    let t = Arc::new(
        NatsTransport::connect(config(&server, "st-2"))
            .await
            .unwrap(),
    );
    let queue = Arc::new(MemoryQueue::new());
    for i in 0..8u8 {
        queue.push(Parcel::new(format!("E{i}"), "st-2", package(i, 50_000)));
    }
    let outbox = Outbox::spawn(
        queue.clone(),
        t.clone(),
        OutboxConfig {
            backoff: Backoff {
                base: Duration::from_millis(100),
                max: Duration::from_millis(800),
                factor: 2.0,
            },
            seed: Some(3),
            ..OutboxConfig::default()
        },
    );
    wait_for(
        "failed attempts while the broker is down",
        Duration::from_secs(20),
        || outbox.stats().failed_attempts >= 8,
    )
    .await;
    assert_eq!(queue.undelivered(), 8);
    let failed = &queue.parcels()[0].history[0];
    assert!(!failed.delivered && failed.error.is_some() && failed.next_attempt.is_some());

    server.launch().unwrap();
    wait_for("every parcel delivered", Duration::from_secs(30), || {
        queue.undelivered() == 0
    })
    .await;
    let stats = outbox.stats();
    outbox.shutdown().await;
    assert_eq!(stats.delivered, 8);
    // a publish buffered while the broker was down may arrive as well as its retry: the
    // broker drops the copy, so the stream holds each package exactly once
    assert_eq!(
        stream_messages(t.jetstream(), wire::PACKAGES_STREAM).await,
        8
    );
    for q in queue.parcels() {
        assert!(
            q.parcel.attempts >= 2,
            "{} went at the first attempt",
            q.parcel.enrollment_id
        );
    }
}

/// A queue that loses the record of the first attempt of each parcel, as a crash between
/// delivering and recording would.
struct ForgetfulQueue {
    inner: MemoryQueue,
    forgotten: AtomicUsize,
}

impl Queue for ForgetfulQueue {
    fn due(&self, now: SystemTime, max: usize) -> Result<Vec<Parcel>, String> {
        self.inner.due(now, max)
    }
    fn record_attempt(&self, key: &str, outcome: &Attempt) -> Result<(), String> {
        let attempts = self
            .inner
            .parcels()
            .iter()
            .find(|q| q.parcel.idempotency_key == key)
            .map(|q| q.history.len());
        if outcome.delivered && self.forgotten.load(Ordering::SeqCst) < 3 && attempts == Some(0) {
            self.forgotten.fetch_add(1, Ordering::SeqCst);
            // record a failure instead, as if the process died before recording success
            return self.inner.record_attempt(
                key,
                &Attempt {
                    delivered: false,
                    error: Some("crash".into()),
                    next_attempt: Some(outcome.at),
                    ..outcome.clone()
                },
            );
        }
        self.inner.record_attempt(key, outcome)
    }
    fn next_due(&self) -> Result<Option<SystemTime>, String> {
        self.inner.next_due()
    }
}

#[tokio::test]
async fn a_crash_between_deliver_and_record_is_harmless() {
    let server = NatsServer::start().unwrap();
    let t = Arc::new(
        NatsTransport::connect(config(&server, "st-3"))
            .await
            .unwrap(),
    );
    let queue = Arc::new(ForgetfulQueue {
        inner: MemoryQueue::new(),
        forgotten: AtomicUsize::new(0),
    });
    for i in 0..3u8 {
        queue
            .inner
            .push(Parcel::new(format!("E{i}"), "st-3", package(i, 10_000)));
    }
    let outbox = Outbox::spawn(
        queue.clone(),
        t.clone(),
        OutboxConfig {
            seed: Some(1),
            ..OutboxConfig::default()
        },
    );
    outbox.notify();
    wait_for("all delivered", Duration::from_secs(20), || {
        queue.inner.undelivered() == 0
    })
    .await;
    outbox.shutdown().await;
    for q in queue.inner.parcels() {
        assert!(q.duplicate, "the resend was recognised as a duplicate");
        assert_eq!(q.history.len(), 2);
    }
    assert_eq!(
        stream_messages(t.jetstream(), wire::PACKAGES_STREAM).await,
        3
    );
}

struct FailingSink(AtomicUsize);
impl AnswerSink for FailingSink {
    fn accept(&self, _: &AnswerMessage) -> Result<(), String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err("disk full".into())
    }
}

async fn publish_answer(js: &jetstream::Context, station: &str, answer: &WireAnswer) {
    js.publish(
        wire::answer_subject(station),
        serde_json::to_vec(answer).unwrap().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
}

#[tokio::test]
async fn answers_are_kept_durably_until_the_sink_has_them() {
    let server = NatsServer::start().unwrap();
    let client = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(client);
    ensure_streams(&js, Duration::from_secs(3600), 8 << 20)
        .await
        .unwrap();
    // published while no station listens
    let received = WireAnswer::now(
        "E1",
        "E1:aa",
        CentralAnswer::Received {
            reference: "DC-1".into(),
        },
    );
    let ready = WireAnswer::now(
        "E1",
        "E1:aa",
        CentralAnswer::PrintReady {
            reference: "DC-1".into(),
        },
    );
    publish_answer(&js, "st-4", &received).await;
    publish_answer(&js, "st-4", &ready).await;
    publish_answer(&js, "st-other", &received).await;
    js.publish(wire::answer_subject("st-4"), "not json".into())
        .await
        .unwrap()
        .await
        .unwrap();

    let t = NatsTransport::connect(config(&server, "st-4"))
        .await
        .unwrap();
    let failing = FailingSink(AtomicUsize::new(0));
    assert_eq!(t.receive_answers(&failing).await.unwrap(), 0);
    assert_eq!(
        failing.0.load(Ordering::SeqCst),
        2,
        "both answers offered, the malformed one dropped"
    );

    let queue = MemoryQueue::new();
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while got < 2 && Instant::now() < deadline {
        got += t.receive_answers(&queue).await.unwrap();
    }
    assert_eq!(got, 2);
    let answers = queue.answers();
    assert_eq!(answers.len(), 2);
    assert_eq!(
        answers
            .iter()
            .filter(|a| a.answer == received.answer)
            .count(),
        1
    );
    assert!(answers.iter().all(|a| a.enrollment_id == "E1"));
    // acknowledged: nothing comes again
    assert_eq!(t.receive_answers(&queue).await.unwrap(), 0);

    // a new transport (a restarted station) resumes the same durable consumer
    publish_answer(
        &js,
        "st-4",
        &WireAnswer::now(
            "E2",
            "E2:bb",
            CentralAnswer::Received {
                reference: "DC-2".into(),
            },
        ),
    )
    .await;
    drop(t);
    let t2 = Arc::new(
        NatsTransport::connect(config(&server, "st-4"))
            .await
            .unwrap(),
    );
    let sink = Arc::new(MemoryQueue::new());
    let outbox = Outbox::spawn(
        Arc::new(MemoryQueue::new()),
        t2,
        OutboxConfig {
            answer_sink: Some(sink.clone()),
            answer_poll: Duration::from_millis(100),
            ..OutboxConfig::default()
        },
    );
    wait_for(
        "the worker polls the answer",
        Duration::from_secs(10),
        || sink.answers().len() == 1,
    )
    .await;
    outbox.shutdown().await;
    assert_eq!(sink.answers()[0].enrollment_id, "E2");
}
