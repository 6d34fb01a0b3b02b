//! rekam-outbox delivers the packages a station has recorded to the central data centre and
//! brings back the data centre's answers, without losing a package and without the data
//! centre ever counting one twice. A station is often offline (a village hall, a mobile
//! unit): the outbox keeps each package in a [`Queue`] (the station's durable store, or the
//! [`MemoryQueue`] here) until a [`Transport`] confirms that the receiver holds it durably,
//! retrying with exponential [`backoff`] and full jitter in between.
//!
//! ## How a package travels
//!
//! - Every package becomes a [`Parcel`] whose [`idempotency_key`] is the enrollment id and
//!   the SHA-256 of the package: a resend (after a timeout, a crash between delivering and
//!   recording the attempt, a restart) carries the same key and the receiver drops it.
//! - The [worker](Outbox::spawn) takes due parcels from the queue a few at a time, delivers
//!   them concurrently and records each attempt (delivered, or the error and the next attempt).
//!   [`OutboxHandle::notify`] wakes it when a new parcel is queued; it also polls for answers.
//! - Two transports: [`NatsTransport`] publishes to a NATS JetStream stream (the broker's
//!   PubAck is the receipt, its `Nats-Msg-Id` de-duplication the idempotency), and
//!   [`HttpTransport`] POSTs to the data centre's HTTP endpoint (HTTPS through rustls).
//! - The data centre answers in two stages ([`CentralAnswer`]): *received* (with its
//!   reference), then *print-ready* or *duplicate* (the NIK already has a card, or the
//!   fingerprints belong to another NIK). Answers are handed to an [`AnswerSink`] (the store)
//!   and acknowledged only once it has kept them, so a crash never loses one; a sink may see
//!   the same answer twice and must treat it as idempotent.
//!
//! This crate depends on no other rekam crate: the store implements [`Queue`] and
//! [`AnswerSink`], the daemon wires them together, and the data-centre simulator
//! (`rekam-sim datacentre`) shares the [`wire`] format.

pub mod backoff;
mod error;
mod http;
mod memory;
mod nats;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wire;
mod worker;

use std::time::SystemTime;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use backoff::Backoff;
pub use error::TransportError;
pub use http::{HttpConfig, HttpTransport};
pub use memory::{MemoryQueue, QueuedParcel};
pub use nats::{NatsConfig, NatsTransport, ensure_streams};
pub use worker::{Outbox, OutboxConfig, OutboxHandle, OutboxStats};

/// One package waiting to be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parcel {
    /// The enrollment the package records.
    pub enrollment_id: String,
    /// The station that recorded it (a NATS subject token: no `.`, `*`, `>` or spaces).
    pub station_id: String,
    /// `enrollment id + ":" + hex SHA-256 of the package` ([`idempotency_key`]).
    pub idempotency_key: String,
    /// The package itself (the ANSI/NIST-ITL transaction), opaque to the outbox.
    pub package: Vec<u8>,
    /// How many delivery attempts were made so far.
    pub attempts: u32,
}

impl Parcel {
    /// A new parcel with its idempotency key computed and no attempt yet.
    pub fn new(
        enrollment_id: impl Into<String>,
        station_id: impl Into<String>,
        package: Vec<u8>,
    ) -> Self {
        let enrollment_id = enrollment_id.into();
        let idempotency_key = idempotency_key(&enrollment_id, &package);
        Self {
            enrollment_id,
            station_id: station_id.into(),
            idempotency_key,
            package,
            attempts: 0,
        }
    }
}

/// The idempotency key of a package: the enrollment id, `:`, and the lower-case hex SHA-256
/// of the package bytes. The same package of the same enrollment always has the same key.
pub fn idempotency_key(enrollment_id: &str, package: &[u8]) -> String {
    format!("{enrollment_id}:{}", sha256_hex(package))
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The data centre's answers, in two stages: first [`Received`](CentralAnswer::Received),
/// later [`PrintReady`](CentralAnswer::PrintReady) or [`Duplicate`](CentralAnswer::Duplicate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CentralAnswer {
    /// The data centre has the package and will check it; `reference` names it there.
    Received {
        /// The data centre's reference for the package.
        reference: String,
    },
    /// The checks passed: the card may be printed.
    PrintReady {
        /// The data centre's reference for the package.
        reference: String,
    },
    /// The checks found the applicant already enrolled: no card may be printed.
    Duplicate {
        /// Why the data centre judged it a duplicate.
        reason: DuplicateReason,
        /// The data centre's explanation, for the officer.
        detail: String,
    },
}

impl CentralAnswer {
    /// A stable name of the answer's kind: `received`, `print_ready` or `duplicate`.
    pub fn kind(&self) -> &'static str {
        match self {
            CentralAnswer::Received { .. } => "received",
            CentralAnswer::PrintReady { .. } => "print_ready",
            CentralAnswer::Duplicate { .. } => "duplicate",
        }
    }
}

/// Why the data centre refused a package as a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DuplicateReason {
    /// The NIK already has a KTP-el.
    NikHasCard,
    /// The fingerprints match those recorded for another NIK.
    FingerprintsOfAnotherNik,
}

/// One answer of the data centre about one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerMessage {
    /// The enrollment the answer is about.
    pub enrollment_id: String,
    /// The idempotency key of the package the answer is about.
    pub idempotency_key: String,
    /// The answer.
    pub answer: CentralAnswer,
    /// When the data centre gave it.
    pub at: SystemTime,
}

/// The outcome of one successful delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delivered {
    /// True when the receiver already had this parcel (same idempotency key) and dropped
    /// the resend.
    pub duplicate: bool,
}

/// A way to the data centre.
#[async_trait]
pub trait Transport: Send + Sync {
    /// A short name for logs (`nats`, `http`).
    fn name(&self) -> &'static str;
    /// Delivers one parcel; Ok once the receiver has it durably (JetStream PubAck / HTTP 2xx).
    /// Ok(Delivered{duplicate: true}) when it was already there.
    async fn deliver(&self, parcel: &Parcel) -> Result<Delivered, TransportError>;
    /// Fetches answers waiting for this station, hands each to `sink` (which persists it) and
    /// acknowledges it to the broker/endpoint ONLY after sink returned Ok; an answer whose sink
    /// failed is redelivered later. Returns how many were accepted.
    async fn receive_answers(&self, sink: &dyn AnswerSink) -> Result<usize, TransportError>;
}

/// Where received answers are kept (the store). Called at least once per answer: an answer
/// accepted but not acknowledged before a crash comes again, so `accept` must be idempotent.
pub trait AnswerSink: Send + Sync {
    /// Keeps one answer durably; an `Err` leaves it with the broker/endpoint for later.
    fn accept(&self, answer: &AnswerMessage) -> Result<(), String>;
}

/// What the worker reads and writes; the store implements it (all sync: it is SQLite).
pub trait Queue: Send + Sync {
    /// Parcels whose next attempt is due at `now`, oldest first, at most `max`.
    fn due(&self, now: SystemTime, max: usize) -> Result<Vec<Parcel>, String>;
    /// The outcome of one attempt.
    fn record_attempt(&self, idempotency_key: &str, outcome: &Attempt) -> Result<(), String>;
    /// The earliest next attempt among undelivered parcels, if any (so the worker sleeps
    /// until then).
    fn next_due(&self) -> Result<Option<SystemTime>, String>;
}

/// The outcome of one delivery attempt, as the worker records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// When the attempt ended.
    pub at: SystemTime,
    /// True when the receiver has the parcel: it is never attempted again.
    pub delivered: bool,
    /// True when the receiver already had it (a resend it dropped).
    pub duplicate: bool,
    /// Why the attempt failed (`REASON: detail`), when it did.
    pub error: Option<String>,
    /// When to try again, when it failed.
    pub next_attempt: Option<SystemTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_enrollment_and_sha256() {
        let k = idempotency_key("01J0ABC", b"abc");
        assert_eq!(
            k,
            "01J0ABC:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(k, idempotency_key("01J0ABC", b"abc"));
        assert_ne!(k, idempotency_key("01J0ABD", b"abc"));
        assert_ne!(k, idempotency_key("01J0ABC", b"abd"));
        let p = Parcel::new("01J0ABC", "st1", b"abc".to_vec());
        assert_eq!(p.idempotency_key, k);
        assert_eq!(p.attempts, 0);
    }
}
