//! The recordings of the last few enrollments awaiting their card keep their images in
//! memory, so Print and Encode do not read and decrypt them from the store again; older
//! ones are read back, and what they print is the same.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use rekam_enrollment::*;
use rekam_store::*;

mod common;

/// The in-memory SQLite store, counting how often artefacts are read back.
struct Counting {
    inner: SqliteStore,
    reads: AtomicUsize,
}

impl EnrollmentStore for Counting {
    fn create(&self, new: &NewEnrollment<'_>) -> Result<u64, StoreError> {
        self.inner.create(new)
    }
    fn commit(&self, commit: &Commit<'_>) -> Result<u64, StoreError> {
        self.inner.commit(commit)
    }
    fn load(&self, id: &str) -> Result<Option<Row>, StoreError> {
        self.inner.load(id)
    }
    fn artefacts(&self, id: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.artefacts(id)
    }
    fn list(&self, filter: &ListFilter) -> Result<Page, StoreError> {
        self.inner.list(filter)
    }
    fn answer(&self, request_id: &str) -> Result<Option<Remembered>, StoreError> {
        self.inner.answer(request_id)
    }
    fn device_answer(
        &self,
        service: &str,
        request_id: &str,
    ) -> Result<Option<Remembered>, StoreError> {
        self.inner.device_answer(service, request_id)
    }
    fn remember_device_answer(
        &self,
        service: &str,
        answer: &RememberedAnswer<'_>,
    ) -> Result<(), StoreError> {
        self.inner.remember_device_answer(service, answer)
    }
    fn mark_running(&self, marker: &RunningMarker) -> Result<(), StoreError> {
        self.inner.mark_running(marker)
    }
    fn running_markers(&self) -> Result<Vec<RunningMarker>, StoreError> {
        self.inner.running_markers()
    }
    fn wipe(&self, id: &str, expected_version: u64, summary: &[u8]) -> Result<u64, StoreError> {
        self.inner.wipe(id, expected_version, summary)
    }
    fn check(&self) -> Result<(), StoreError> {
        self.inner.check()
    }
    fn outbox_due(&self, now: SystemTime, max: usize) -> Result<Vec<Outgoing>, StoreError> {
        self.inner.outbox_due(now, max)
    }
    fn outbox_attempt(&self, key: &str, attempt: &DeliveryAttempt<'_>) -> Result<(), StoreError> {
        self.inner.outbox_attempt(key, attempt)
    }
    fn outbox_next_due(&self) -> Result<Option<SystemTime>, StoreError> {
        self.inner.outbox_next_due()
    }
    fn outbox_retry_now(&self, enrollment_id: &str) -> Result<bool, StoreError> {
        self.inner.outbox_retry_now(enrollment_id)
    }
    fn delivery(&self, enrollment_id: &str) -> Result<Option<Delivery>, StoreError> {
        self.inner.delivery(enrollment_id)
    }
    fn deliveries(
        &self,
        undelivered_only: bool,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.inner.deliveries(undelivered_only, limit)
    }
    fn append_audit(&self, entries: &[rekam_store::AuditEntry]) -> Result<(), StoreError> {
        self.inner.append_audit(entries)
    }
    fn audit_entries(
        &self,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<rekam_store::AuditRecord>, StoreError> {
        self.inner.audit_entries(after_seq, limit)
    }
    fn check_audit(&self) -> Result<rekam_store::AuditCheck, StoreError> {
        self.inner.check_audit()
    }
    fn record_answer(
        &self,
        key: &str,
        enrollment_id: &str,
        answer: &CentralAnswer,
    ) -> Result<bool, StoreError> {
        self.inner.record_answer(key, enrollment_id, answer)
    }
}

/// One enrollment taken through its recording and send.
async fn recorded_and_sent(p: &Arc<Pipeline>, n: u32) -> String {
    let o = StepOptions::default;
    let a = common::applicant(&format!("317101470890{n:04}"));
    let kk = a.kk_number.clone();
    let id = p.create(a, o()).await.unwrap().id;
    p.check_documents(&id, &kk, o()).await.unwrap();
    p.verify_identity(&id, o()).await.unwrap();
    p.capture_face(&id, o()).await.unwrap();
    p.capture_fingerprints(&id, FingerprintPlan::default(), o())
        .await
        .unwrap();
    p.capture_signature(&id, o()).await.unwrap();
    let e = p.finish_recording(&id, o()).await.unwrap();
    assert_eq!(e.stage, Stage::Recorded);
    let e = p.send(&id, o()).await.unwrap();
    assert_eq!(e.stage, Stage::Sent);
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn print_and_encode_use_the_recording_in_memory_and_older_ones_are_read_back() {
    let store = Arc::new(Counting {
        inner: SqliteStore::open_in_memory().unwrap(),
        reads: AtomicUsize::new(0),
    });
    let p = common::pipeline(store.clone());
    let o = StepOptions::default;

    // The usual visit: recorded, sent, printed, encoded, handed over, with no artefact
    // read back from the store.
    let id = recorded_and_sent(&p, 3).await;
    assert_eq!(p.print(&id, o()).await.unwrap().stage, Stage::Printed);
    assert_eq!(p.encode(&id, o()).await.unwrap().stage, Stage::Encoded);
    assert_eq!(
        p.hand_over(&id, o()).await.unwrap().stage,
        Stage::HandedOver
    );
    assert_eq!(store.reads.load(Ordering::SeqCst), 0);
    // The recording in memory is the one in the store.
    let media = p.full(&id).unwrap();
    assert!(
        media
            .recording
            .face
            .as_ref()
            .is_some_and(|f| !f.jpeg.is_empty())
    );
    assert_eq!(store.reads.load(Ordering::SeqCst), 1);

    // Five recordings waiting for their cards: the four most recent keep their images,
    // the oldest is made light and read back when its card is printed.
    let mut ids = Vec::new();
    for n in 10..15 {
        ids.push(recorded_and_sent(&p, n).await);
    }
    let before = store.reads.load(Ordering::SeqCst);
    for id in ids.iter().rev().take(4) {
        p.print(id, o()).await.unwrap();
    }
    assert_eq!(
        store.reads.load(Ordering::SeqCst),
        before,
        "the four newest held"
    );
    let e = p.print(&ids[0], o()).await.unwrap();
    assert_eq!(e.stage, Stage::Printed);
    assert_eq!(
        store.reads.load(Ordering::SeqCst),
        before + 1,
        "the oldest read back once"
    );
    // Printing the oldest held it again (and made the next oldest light): its encode
    // needs no second read.
    p.encode(&ids[0], o()).await.unwrap();
    assert_eq!(store.reads.load(Ordering::SeqCst), before + 1);
    for id in &ids {
        let e = p.get(id).unwrap();
        assert!(
            matches!(e.stage, Stage::Printed | Stage::Encoded),
            "{:?}",
            e.stage
        );
    }
}
