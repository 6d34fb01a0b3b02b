//! The NATS JetStream transport.
//!
//! Packages go to `rekam.packages.<station>` in stream `REKAM_PACKAGES` (file storage, a
//! duplicate window of 24 h by default, messages up to 8 MiB) with `Nats-Msg-Id` set to the
//! idempotency key: the broker keeps the first copy and answers a resend inside the window
//! with a PubAck whose `duplicate` flag is set. Answers come from `rekam.answers.<station>`
//! in stream `REKAM_ANSWERS` through the station's durable pull consumer
//! `answers-<station>` with explicit acks: an answer is acknowledged (and the server's
//! confirmation awaited) only after the sink kept it; one the sink refused is nak'ed and
//! comes again.
//!
//! Only features of nats-server 2.9 are used (async-nats is built without its
//! `server_2_10`+ features). The client connects in the background, so a station whose broker
//! is unreachable at start still starts: deliveries fail with a timeout until it is back.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{
    self, AckKind,
    consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull},
    stream::{self, StorageType},
};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Mutex;
use tracing::{Instrument, debug, info_span, warn};

use crate::wire::{self, WireAnswer};
use crate::{AnswerMessage, AnswerSink, Delivered, Parcel, Transport, TransportError};

/// How to reach the broker and how its streams are made.
#[derive(Debug, Clone)]
pub struct NatsConfig {
    /// Server URL(s), comma-separated: `nats://127.0.0.1:4222`, `tls://dc.example:4222`.
    pub url: String,
    /// This station's id (a subject token: 1 to 64 of `A-Z a-z 0-9 - _`).
    pub station_id: String,
    /// How long to wait for a PubAck or a JetStream API answer. Default 10 s.
    pub request_timeout: Duration,
    /// The packages stream's duplicate window (created with it). Default 24 h.
    pub duplicate_window: Duration,
    /// The largest package the streams accept (created with them). Default 8 MiB; the
    /// server's `max_payload` must be at least as large.
    pub max_message_size: i32,
    /// How many answers one fetch takes. Default 64.
    pub answers_batch: usize,
    /// How long the broker waits for an answer's ack before redelivering it. Default 30 s.
    pub answers_ack_wait: Duration,
}

impl NatsConfig {
    /// A configuration with the defaults.
    pub fn new(url: impl Into<String>, station_id: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            station_id: station_id.into(),
            request_timeout: Duration::from_secs(10),
            duplicate_window: Duration::from_secs(24 * 3600),
            max_message_size: 8 * 1024 * 1024,
            answers_batch: 64,
            answers_ack_wait: Duration::from_secs(30),
        }
    }
}

/// Gets or creates the two streams, `REKAM_PACKAGES` (`rekam.packages.>`) and
/// `REKAM_ANSWERS` (`rekam.answers.>`), both file-backed. Existing streams are left as they
/// are. Used by the transport and by the data centre (simulator).
pub async fn ensure_streams(
    js: &jetstream::Context,
    duplicate_window: Duration,
    max_message_size: i32,
) -> Result<(), TransportError> {
    for (name, subjects) in [
        (wire::PACKAGES_STREAM, "rekam.packages.>"),
        (wire::ANSWERS_STREAM, "rekam.answers.>"),
    ] {
        js.get_or_create_stream(stream::Config {
            name: name.to_owned(),
            subjects: vec![subjects.to_owned()],
            storage: StorageType::File,
            duplicate_window,
            max_message_size,
            ..Default::default()
        })
        .await
        .map_err(|e| TransportError::Setup(format!("stream {name}: {e}")))?;
    }
    Ok(())
}

/// Delivers parcels to, and reads answers from, NATS JetStream.
pub struct NatsTransport {
    client: async_nats::Client,
    js: jetstream::Context,
    config: NatsConfig,
    /// The streams were seen or made; cleared when the broker says a stream is missing
    /// (a broker whose data was wiped), so they are made again.
    streams_ready: AtomicBool,
    /// The answer consumer; cleared when a fetch fails, so it is looked up (or made) again.
    answers: Mutex<Option<PullConsumer>>,
}

impl NatsTransport {
    /// Starts connecting to the broker (in the background: an unreachable broker is not an
    /// error here, deliveries time out until it is reachable) and checks the station id.
    pub async fn connect(config: NatsConfig) -> Result<Self, TransportError> {
        if !wire::valid_station_id(&config.station_id) {
            return Err(TransportError::Config(format!(
                "station id {:?} cannot be a NATS subject token",
                config.station_id
            )));
        }
        let client = async_nats::ConnectOptions::new()
            .name(format!("rekam-outbox {}", config.station_id))
            .retry_on_initial_connect()
            .max_reconnects(None)
            .reconnect_delay_callback(|n| {
                Duration::from_millis(250u64.saturating_mul(1 << n.min(4) as u64))
                    .min(Duration::from_secs(5))
            })
            .request_timeout(Some(config.request_timeout))
            .connect(config.url.as_str())
            .await
            .map_err(|e| TransportError::Config(format!("NATS URL {}: {e}", config.url)))?;
        let js = jetstream::ContextBuilder::new()
            .timeout(config.request_timeout)
            .build(client.clone());
        Ok(Self {
            client,
            js,
            config,
            streams_ready: AtomicBool::new(false),
            answers: Mutex::new(None),
        })
    }

    /// The underlying client (to inspect the connection, or publish in tests).
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The JetStream context this transport uses.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    async fn ensure(&self) -> Result<(), TransportError> {
        if self.streams_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        ensure_streams(
            &self.js,
            self.config.duplicate_window,
            self.config.max_message_size,
        )
        .await
        .map_err(|e| match e {
            // the broker is away: retry later, like any other delivery
            TransportError::Setup(m) if is_unreachable(&m) => TransportError::Unavailable(m),
            other => other,
        })?;
        self.streams_ready.store(true, Ordering::Release);
        Ok(())
    }

    async fn answer_consumer(&self) -> Result<PullConsumer, TransportError> {
        self.ensure().await?;
        let mut cached = self.answers.lock().await;
        if let Some(consumer) = cached.as_ref() {
            return Ok(consumer.clone());
        }
        let station = &self.config.station_id;
        let stream = self
            .js
            .get_stream(wire::ANSWERS_STREAM)
            .await
            .map_err(|e| {
                self.streams_ready.store(false, Ordering::Release);
                TransportError::Unavailable(format!("stream {}: {e}", wire::ANSWERS_STREAM))
            })?;
        let name = wire::answer_consumer(station);
        let consumer: PullConsumer = stream
            .get_or_create_consumer(
                &name,
                pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: wire::answer_subject(station),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: self.config.answers_ack_wait,
                    deliver_policy: DeliverPolicy::All,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| TransportError::Unavailable(format!("consumer {name}: {e}")))?;
        *cached = Some(consumer.clone());
        Ok(consumer)
    }
}

fn is_unreachable(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("timed out")
        || m.contains("no responders")
        || m.contains("timeout")
        || m.contains("broken pipe")
}

#[async_trait]
impl Transport for NatsTransport {
    fn name(&self) -> &'static str {
        "nats"
    }

    async fn deliver(&self, parcel: &Parcel) -> Result<Delivered, TransportError> {
        if !wire::valid_station_id(&parcel.station_id) {
            return Err(TransportError::Config(format!(
                "station id {:?} cannot be a NATS subject token",
                parcel.station_id
            )));
        }
        let max_payload = self.client.server_info().max_payload;
        if max_payload > 0 && parcel.package.len() > max_payload {
            return Err(TransportError::Rejected {
                status: 0,
                detail: format!(
                    "package of {} bytes is larger than the broker's max_payload of {max_payload}",
                    parcel.package.len()
                ),
            });
        }
        self.ensure().await?;
        let mut headers = HeaderMap::new();
        headers.insert(wire::H_NATS_MSG_ID, parcel.idempotency_key.as_str());
        headers.insert(wire::H_ENROLLMENT_ID, parcel.enrollment_id.as_str());
        headers.insert(wire::H_STATION_ID, parcel.station_id.as_str());
        let subject = wire::package_subject(&parcel.station_id);
        let timeout = self.config.request_timeout;
        let publish = async {
            let ack_future = self
                .js
                .publish_with_headers(subject, headers, Bytes::from(parcel.package.clone()))
                .await
                .map_err(|e| publish_error(e, timeout))?;
            ack_future.await.map_err(|e| publish_error(e, timeout))
        };
        let missing_stream = |e: &TransportError| matches!(e, TransportError::Unavailable(m) if m.contains("no stream"));
        let ack = tokio::time::timeout(timeout + Duration::from_secs(1), publish)
            .await
            .map_err(|_| TransportError::Timeout(timeout))?
            .inspect_err(|e| {
                if missing_stream(e) {
                    self.streams_ready.store(false, Ordering::Release);
                }
            })?;
        debug!(stream = %ack.stream, seq = ack.sequence, duplicate = ack.duplicate, "PubAck");
        Ok(Delivered {
            duplicate: ack.duplicate,
        })
    }

    async fn receive_answers(&self, sink: &dyn AnswerSink) -> Result<usize, TransportError> {
        let consumer = self.answer_consumer().await?;
        let fetched = consumer
            .fetch()
            .max_messages(self.config.answers_batch.max(1))
            .messages()
            .await;
        let mut batch = match fetched {
            Ok(b) => b,
            Err(e) => {
                *self.answers.lock().await = None;
                return Err(TransportError::Unavailable(format!(
                    "fetching answers: {e}"
                )));
            }
        };
        let mut accepted = 0;
        while let Some(message) = batch.next().await {
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    warn!(error = %e, "answer fetch ended early");
                    break;
                }
            };
            let answer: WireAnswer = match serde_json::from_slice(&message.payload) {
                Ok(a) => a,
                Err(e) => {
                    // it can never be understood: take it out of the way (logged with the subject)
                    warn!(subject = %message.subject, error = %e, "malformed answer dropped");
                    if let Err(e) = message.ack_with(AckKind::Term).await {
                        warn!(error = %e, "could not terminate a malformed answer");
                    }
                    continue;
                }
            };
            let answer: AnswerMessage = answer.into();
            let span = info_span!("answer", enrollment_id = %answer.enrollment_id, kind = answer.answer.kind());
            async {
                match sink.accept(&answer) {
                    Ok(()) => match message.double_ack().await {
                        Ok(()) => {
                            accepted += 1;
                            debug!("answer kept and acknowledged");
                        }
                        // kept but not acknowledged: it comes again, the sink is idempotent
                        Err(e) => warn!(error = %e, "answer kept, ack failed"),
                    },
                    Err(e) => {
                        warn!(error = %e, "sink refused the answer: it will come again");
                        if let Err(e) = message.ack_with(AckKind::Nak(None)).await {
                            warn!(error = %e, "nak failed (the answer comes again after ack_wait)");
                        }
                    }
                }
            }
            .instrument(span)
            .await;
        }
        Ok(accepted)
    }
}

fn publish_error(
    e: async_nats::jetstream::context::PublishError,
    timeout: Duration,
) -> TransportError {
    use async_nats::jetstream::context::PublishErrorKind as K;
    match e.kind() {
        K::TimedOut => TransportError::Timeout(timeout),
        K::StreamNotFound | K::BrokenPipe | K::MaxAckPending => {
            TransportError::Unavailable(e.to_string())
        }
        _ => {
            let text = format!(
                "{e}: {:?}",
                std::error::Error::source(&e).map(|s| s.to_string())
            );
            if text.contains("max payload") {
                TransportError::Rejected {
                    status: 0,
                    detail: text,
                }
            } else {
                TransportError::Unavailable(text)
            }
        }
    }
}
