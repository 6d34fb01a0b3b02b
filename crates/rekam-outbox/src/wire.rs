//! The wire format between a station and the data centre, shared by the transports here and
//! by the simulator (`rekam-sim datacentre`).
//!
//! **NATS JetStream.** Packages are published to `rekam.packages.<station>` (stream
//! [`PACKAGES_STREAM`]) with the raw package as the payload and the headers
//! `Nats-Msg-Id: <idempotency key>` (the broker drops a second message with the same id inside
//! the stream's duplicate window), [`H_ENROLLMENT_ID`] and [`H_STATION_ID`]. Answers are
//! published by the data centre to `rekam.answers.<station>` (stream [`ANSWERS_STREAM`]) as
//! JSON [`WireAnswer`]s; each station reads them through its durable pull consumer
//! `answers-<station>`.
//!
//! **HTTP.** `POST /v1/packages` with the package as an `application/octet-stream` body and
//! the headers [`H_IDEMPOTENCY_KEY`], [`H_ENROLLMENT_ID`], [`H_STATION_ID`]; the answer is 200
//! or 201 with a JSON [`DeliveryResponse`] (a replay is 200 with `duplicate: true` and the
//! header [`H_REPLAYED`]` : true`). `GET /v1/answers?station=S&max=N` returns an
//! [`AnswersPage`]; `POST /v1/answers/ack` with an [`AckRequest`] removes the answers the
//! station has kept; unacknowledged answers are served again.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::{AnswerMessage, CentralAnswer};

/// The JetStream stream holding packages.
pub const PACKAGES_STREAM: &str = "REKAM_PACKAGES";
/// The JetStream stream holding answers.
pub const ANSWERS_STREAM: &str = "REKAM_ANSWERS";
/// Header (NATS and HTTP): the enrollment a package records.
pub const H_ENROLLMENT_ID: &str = "Rekam-Enrollment-Id";
/// Header (NATS and HTTP): the station that sends it.
pub const H_STATION_ID: &str = "Rekam-Station-Id";
/// Header (HTTP): the package's idempotency key.
pub const H_IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// Header (HTTP response): `true` when the POST replayed an earlier delivery.
pub const H_REPLAYED: &str = "Idempotent-Replayed";
/// Header (NATS): JetStream's de-duplication id.
pub const H_NATS_MSG_ID: &str = "Nats-Msg-Id";

/// The subject a station publishes its packages to.
pub fn package_subject(station_id: &str) -> String {
    format!("rekam.packages.{station_id}")
}

/// The subject the data centre publishes a station's answers to.
pub fn answer_subject(station_id: &str) -> String {
    format!("rekam.answers.{station_id}")
}

/// The durable consumer through which a station reads its answers.
pub fn answer_consumer(station_id: &str) -> String {
    format!("answers-{station_id}")
}

/// Whether `station_id` can be used as one NATS subject token and a consumer name:
/// 1 to 64 of `A-Z a-z 0-9 - _`.
pub fn valid_station_id(station_id: &str) -> bool {
    !station_id.is_empty()
        && station_id.len() <= 64
        && station_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One answer on the wire (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireAnswer {
    /// The enrollment the answer is about.
    pub enrollment_id: String,
    /// The idempotency key of the package it is about.
    pub idempotency_key: String,
    /// The answer (`{"kind": "received", "reference": …}`, `print_ready`, `duplicate`).
    pub answer: CentralAnswer,
    /// When it was given, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
}

impl From<&AnswerMessage> for WireAnswer {
    fn from(m: &AnswerMessage) -> Self {
        let at_unix_ms =
            m.at.duration_since(UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                .unwrap_or(0);
        Self {
            enrollment_id: m.enrollment_id.clone(),
            idempotency_key: m.idempotency_key.clone(),
            answer: m.answer.clone(),
            at_unix_ms,
        }
    }
}

impl From<WireAnswer> for AnswerMessage {
    fn from(w: WireAnswer) -> Self {
        Self {
            enrollment_id: w.enrollment_id,
            idempotency_key: w.idempotency_key,
            answer: w.answer,
            at: UNIX_EPOCH + Duration::from_millis(w.at_unix_ms),
        }
    }
}

impl WireAnswer {
    /// An answer stamped now.
    pub fn now(enrollment_id: &str, idempotency_key: &str, answer: CentralAnswer) -> Self {
        (&AnswerMessage {
            enrollment_id: enrollment_id.to_owned(),
            idempotency_key: idempotency_key.to_owned(),
            answer,
            at: SystemTime::now(),
        })
            .into()
    }
}

/// The body of a successful `POST /v1/packages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryResponse {
    /// The data centre's reference for the package.
    pub reference: String,
    /// True when the data centre already had a package with this idempotency key.
    #[serde(default)]
    pub duplicate: bool,
}

/// One answer waiting for a station on the HTTP side, with its sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequencedAnswer {
    /// The sequence number to acknowledge it with.
    pub seq: u64,
    /// The answer.
    #[serde(flatten)]
    pub answer: WireAnswer,
}

/// The body of `GET /v1/answers`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AnswersPage {
    /// Answers waiting, oldest first.
    pub answers: Vec<SequencedAnswer>,
}

/// The body of `POST /v1/answers/ack`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckRequest {
    /// The station acknowledging.
    pub station: String,
    /// The sequence numbers it has kept.
    pub seqs: Vec<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DuplicateReason;

    #[test]
    fn answers_round_trip() {
        let answers = [
            CentralAnswer::Received {
                reference: "DC-1".into(),
            },
            CentralAnswer::PrintReady {
                reference: "DC-1".into(),
            },
            CentralAnswer::Duplicate {
                reason: DuplicateReason::FingerprintsOfAnotherNik,
                detail: "matches 3171…".into(),
            },
            CentralAnswer::Duplicate {
                reason: DuplicateReason::NikHasCard,
                detail: String::new(),
            },
        ];
        for a in answers {
            let w = WireAnswer::now("E1", "E1:ab", a.clone());
            let json = serde_json::to_string(&w).unwrap_or_default();
            let back: WireAnswer =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
            assert_eq!(back, w);
            let m: AnswerMessage = back.into();
            assert_eq!(m.answer, a);
            assert_eq!(WireAnswer::from(&m), w);
        }
    }

    #[test]
    fn wire_shape_is_documented() {
        let w = WireAnswer {
            enrollment_id: "E1".into(),
            idempotency_key: "E1:ab".into(),
            answer: CentralAnswer::Duplicate {
                reason: DuplicateReason::NikHasCard,
                detail: "d".into(),
            },
            at_unix_ms: 5,
        };
        let v: serde_json::Value = serde_json::to_value(&w).unwrap_or_default();
        assert_eq!(
            v,
            serde_json::json!({"enrollment_id": "E1", "idempotency_key": "E1:ab",
                "answer": {"kind": "duplicate", "reason": "NIK_HAS_CARD", "detail": "d"},
                "at_unix_ms": 5})
        );
        let page = AnswersPage {
            answers: vec![SequencedAnswer { seq: 9, answer: w }],
        };
        let json = serde_json::to_string(&page).unwrap_or_default();
        assert!(json.contains("\"seq\":9"));
        assert_eq!(serde_json::from_str::<AnswersPage>(&json).ok(), Some(page));
        let r: DeliveryResponse =
            serde_json::from_str(r#"{"reference":"DC-1"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert!(!r.duplicate);
    }

    #[test]
    fn station_ids() {
        assert!(valid_station_id("ST-3171_01"));
        for bad in ["", "a.b", "a*", "a>", "a b", "é", &"x".repeat(65)] {
            assert!(!valid_station_id(bad), "{bad}");
        }
        assert_eq!(package_subject("s1"), "rekam.packages.s1");
        assert_eq!(answer_subject("s1"), "rekam.answers.s1");
        assert_eq!(answer_consumer("s1"), "answers-s1");
    }
}
