//! The outbox wired to the store: the store is the outbox's durable [`Queue`] (packages
//! are queued in the commit that finishes a recording) and keeps the data centre's
//! answers (the [`AnswerSink`]). The enrollment rows stay the step runner's alone:
//! delivery state and answers live in tables of their own and are read beside an
//! enrollment when it is shown or sent.

use std::sync::Arc;
use std::time::SystemTime;

use rekam_outbox::{
    AnswerMessage, AnswerSink, Attempt, CentralAnswer, DuplicateReason, Parcel, Queue,
};
use rekam_store::{DeliveryAttempt, EnrollmentStore};
use tokio::sync::watch;

use crate::model::DeliveryView;

/// The store as the outbox's queue.
pub(crate) struct StoreQueue(pub Arc<dyn EnrollmentStore>);

impl Queue for StoreQueue {
    fn due(&self, now: SystemTime, max: usize) -> Result<Vec<Parcel>, String> {
        Ok(self
            .0
            .outbox_due(now, max)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|o| Parcel {
                enrollment_id: o.enrollment_id,
                station_id: o.station_id,
                idempotency_key: o.key,
                package: o.package,
                attempts: o.attempts,
            })
            .collect())
    }

    fn record_attempt(&self, key: &str, a: &Attempt) -> Result<(), String> {
        self.0
            .outbox_attempt(
                key,
                &DeliveryAttempt {
                    at: a.at,
                    delivered: a.delivered,
                    duplicate: a.duplicate,
                    error: a.error.as_deref(),
                    next_attempt: a.next_attempt,
                },
            )
            .map_err(|e| e.to_string())
    }

    fn next_due(&self) -> Result<Option<SystemTime>, String> {
        self.0.outbox_next_due().map_err(|e| e.to_string())
    }
}

/// Keeps the data centre's answers in the store and tells the waiting send steps.
pub(crate) struct Inbox {
    pub store: Arc<dyn EnrollmentStore>,
    pub changed: watch::Sender<u64>,
}

/// An answer's kind as kept: `RECEIVED`, `PRINT_READY`, `DUPLICATE`.
fn kept(a: &CentralAnswer, at: SystemTime) -> rekam_store::CentralAnswer {
    let (kind, reference, reason, detail) = match a {
        CentralAnswer::Received { reference } => ("RECEIVED", reference.clone(), "", String::new()),
        CentralAnswer::PrintReady { reference } => {
            ("PRINT_READY", reference.clone(), "", String::new())
        }
        CentralAnswer::Duplicate { reason, detail } => (
            "DUPLICATE",
            String::new(),
            match reason {
                DuplicateReason::NikHasCard => "NIK_HAS_CARD",
                DuplicateReason::FingerprintsOfAnotherNik => "FINGERPRINTS_OF_ANOTHER_NIK",
            },
            detail.clone(),
        ),
    };
    rekam_store::CentralAnswer {
        kind: kind.to_string(),
        reference,
        reason: reason.to_string(),
        detail,
        at,
    }
}

impl AnswerSink for Inbox {
    fn accept(&self, a: &AnswerMessage) -> Result<(), String> {
        let new = self
            .store
            .record_answer(&a.idempotency_key, &a.enrollment_id, &kept(&a.answer, a.at))
            .map_err(|e| e.to_string())?;
        if new {
            tracing::info!(enrollment = %a.enrollment_id, answer = a.answer.kind(), "the data centre answered");
            self.changed.send_modify(|n| *n += 1);
        }
        Ok(())
    }
}

/// What an enrollment shows of its package's way.
pub(crate) fn view(d: &rekam_store::Delivery) -> DeliveryView {
    let find = |k: &str| d.answers.iter().find(|a| a.kind == k);
    DeliveryView {
        size: d.size,
        queued_at: d.queued_at,
        attempts: d.attempts,
        last_attempt_at: d.last_attempt_at,
        last_error: d.last_error.clone(),
        next_attempt_at: d.next_attempt_at,
        delivered_at: d.delivered_at,
        received_reference: find("RECEIVED").map(|a| a.reference.clone()),
        print_ready_reference: find("PRINT_READY").map(|a| a.reference.clone()),
        duplicate: find("DUPLICATE").map(|a| (a.reason.clone(), a.detail.clone())),
    }
}
