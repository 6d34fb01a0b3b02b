//! An in-memory [`Queue`] and [`AnswerSink`], for tests and for users without a store.
//! Nothing survives a restart.

use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use crate::{AnswerMessage, AnswerSink, Attempt, Parcel, Queue};

/// One parcel in a [`MemoryQueue`] with what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedParcel {
    /// The parcel (its `attempts` counts the recorded attempts).
    pub parcel: Parcel,
    /// When it is due next (meaningless once delivered).
    pub next_attempt: SystemTime,
    /// True once a transport confirmed it.
    pub delivered: bool,
    /// True when the confirming attempt was a duplicate the receiver dropped.
    pub duplicate: bool,
    /// Every recorded attempt, oldest first.
    pub history: Vec<Attempt>,
}

#[derive(Default)]
struct Inner {
    parcels: Vec<QueuedParcel>,
    answers: Vec<AnswerMessage>,
    accept_calls: usize,
}

/// An in-memory queue of parcels and list of answers: [`Queue`] + [`AnswerSink`].
#[derive(Default)]
pub struct MemoryQueue {
    inner: Mutex<Inner>,
}

impl MemoryQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave Inner half-updated in a way that
        // matters for a test double: take the data anyway.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a parcel, due now. A parcel whose idempotency key is already queued is not
    /// queued twice; returns false then.
    pub fn push(&self, parcel: Parcel) -> bool {
        let mut inner = self.lock();
        if inner
            .parcels
            .iter()
            .any(|q| q.parcel.idempotency_key == parcel.idempotency_key)
        {
            return false;
        }
        inner.parcels.push(QueuedParcel {
            parcel,
            next_attempt: SystemTime::now(),
            delivered: false,
            duplicate: false,
            history: Vec::new(),
        });
        true
    }

    /// A snapshot of every parcel, in queue order.
    pub fn parcels(&self) -> Vec<QueuedParcel> {
        self.lock().parcels.clone()
    }

    /// How many parcels are not delivered yet.
    pub fn undelivered(&self) -> usize {
        self.lock().parcels.iter().filter(|q| !q.delivered).count()
    }

    /// The distinct answers accepted so far, in order of arrival.
    pub fn answers(&self) -> Vec<AnswerMessage> {
        self.lock().answers.clone()
    }

    /// How many times [`AnswerSink::accept`] was called (repeats included).
    pub fn accept_calls(&self) -> usize {
        self.lock().accept_calls
    }
}

impl Queue for MemoryQueue {
    fn due(&self, now: SystemTime, max: usize) -> Result<Vec<Parcel>, String> {
        Ok(self
            .lock()
            .parcels
            .iter()
            .filter(|q| !q.delivered && q.next_attempt <= now)
            .take(max)
            .map(|q| q.parcel.clone())
            .collect())
    }

    fn record_attempt(&self, idempotency_key: &str, outcome: &Attempt) -> Result<(), String> {
        let mut inner = self.lock();
        let Some(q) = inner
            .parcels
            .iter_mut()
            .find(|q| q.parcel.idempotency_key == idempotency_key)
        else {
            return Err(format!("no parcel {idempotency_key}"));
        };
        q.parcel.attempts = q.parcel.attempts.saturating_add(1);
        q.history.push(outcome.clone());
        if q.delivered {
            return Ok(()); // a late attempt of a delivered parcel changes nothing
        }
        if outcome.delivered {
            q.delivered = true;
            q.duplicate = outcome.duplicate;
        } else {
            q.next_attempt = outcome.next_attempt.unwrap_or(outcome.at);
        }
        Ok(())
    }

    fn next_due(&self) -> Result<Option<SystemTime>, String> {
        Ok(self
            .lock()
            .parcels
            .iter()
            .filter(|q| !q.delivered)
            .map(|q| q.next_attempt)
            .min())
    }
}

impl AnswerSink for MemoryQueue {
    fn accept(&self, answer: &AnswerMessage) -> Result<(), String> {
        let mut inner = self.lock();
        inner.accept_calls += 1;
        let known = inner
            .answers
            .iter()
            .any(|a| a.idempotency_key == answer.idempotency_key && a.answer == answer.answer);
        if !known {
            inner.answers.push(answer.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CentralAnswer;
    use std::time::Duration;

    #[test]
    fn due_record_next() {
        let q = MemoryQueue::new();
        let now = SystemTime::now();
        assert!(q.push(Parcel::new("E1", "s", vec![1])));
        assert!(!q.push(Parcel::new("E1", "s", vec![1])));
        assert!(q.push(Parcel::new("E2", "s", vec![2])));
        let later = now + Duration::from_secs(1);
        let due = q.due(later, 10).unwrap_or_default();
        assert_eq!(due.len(), 2);
        assert_eq!(due[0].enrollment_id, "E1");
        assert_eq!(q.due(later, 1).unwrap_or_default().len(), 1);
        let retry = later + Duration::from_secs(60);
        let failed = Attempt {
            at: later,
            delivered: false,
            duplicate: false,
            error: Some("DATA_CENTRE_UNAVAILABLE: x".into()),
            next_attempt: Some(retry),
        };
        q.record_attempt(&due[0].idempotency_key, &failed)
            .unwrap_or_default();
        let ok = Attempt {
            at: later,
            delivered: true,
            duplicate: false,
            error: None,
            next_attempt: None,
        };
        q.record_attempt(&due[1].idempotency_key, &ok)
            .unwrap_or_default();
        assert_eq!(q.due(later, 10).unwrap_or_default(), vec![]);
        assert_eq!(q.next_due().ok().flatten(), Some(retry));
        let again = q.due(retry, 10).unwrap_or_default();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 1);
        assert_eq!(q.undelivered(), 1);
        assert!(q.record_attempt("nope", &ok).is_err());
    }

    #[test]
    fn sink_keeps_distinct_answers() {
        let q = MemoryQueue::new();
        let a = AnswerMessage {
            enrollment_id: "E1".into(),
            idempotency_key: "E1:x".into(),
            answer: CentralAnswer::Received {
                reference: "DC-1".into(),
            },
            at: SystemTime::now(),
        };
        assert!(q.accept(&a).is_ok());
        assert!(q.accept(&a).is_ok());
        assert_eq!(q.answers().len(), 1);
        assert_eq!(q.accept_calls(), 2);
    }
}
