//! rekam-store keeps everything a station records on disk, encrypted, until it is delivered
//! and no longer needed: every enrollment (its summary and step history), every recorded
//! artefact (face, slaps, singles, signature, the package), the answers remembered for
//! request ids, and markers of the hardware steps running now, so that a crash or a power
//! cut loses nothing that was committed and shows which card blank a step may have used.
//!
//! The store is below the procedure: it knows rows, keys and encryption, not what an
//! enrollment means. `rekam-enrollment` encodes its model into opaque byte strings (the
//! *summary* and named *artefacts*) and an [`Index`] of what may be searched in clear
//! (stage, day, receipt number — nothing personal); the store seals the bytes, hashes the
//! NIK with a keyed hash for look-ups, and commits each change in one transaction guarded
//! by the enrollment's version. Large artefacts that compress (a raw slap is mostly white
//! background) are packed with zstd before they are sealed, on several cores at once.
//! The device services' answers to request ids are kept too, for a week, so a retry after
//! a restart does not print a second card.
//!
//! **Why SQLite** (through `rusqlite` with its bundled library, so nothing is linked from
//! the system): one file, crash-safe transactions in WAL mode with `synchronous=FULL`
//! (a commit is on disk before it returns), `secure_delete` to overwrite what is wiped, a
//! size limit (`max_page_count`) that turns into a clean "store full" error before the disk
//! is, `quick_check` to find a corrupt file, and secondary indexes for the officer's lists.
//! `redb` offers the first two but not secure deletion, size limits or integrity checks.
//!
//! Complaints (pengaduan) are kept in the same file through the [`ComplaintStore`] trait:
//! their level and status are indexed in clear, the complainant and the complaint's text
//! are sealed with the store key like an enrollment's summary; `rekam-complaints` holds
//! their rules.
//!
//! [`SqliteStore::open_in_memory`] is the in-memory implementation for tests: the same
//! code on an in-memory database, so tests exercise the real SQL. The [`EnrollmentStore`]
//! trait lets tests wrap a store to inject faults (a disk that fills up after N commits).

mod codec;
mod error;
pub mod key;
mod sqlite;

use std::time::SystemTime;

pub use error::StoreError;
pub use key::{KeySource, StoreKey};
pub use sqlite::{SqliteStore, StoreOptions};

/// What the store may index in clear: nothing personal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    /// The enrollment's stage, by name (`RECORDED`, `HANDED_OVER`…).
    pub stage: String,
    /// True while the enrollment is neither handed over nor cancelled.
    pub open: bool,
    /// When it was created.
    pub created_at: SystemTime,
    /// The station's day it was created on, `YYYY-MM-DD`.
    pub created_day: String,
    /// Its recording receipt's number, once issued.
    pub receipt_number: Option<String>,
}

/// One enrollment as stored, its summary decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The enrollment id.
    pub id: String,
    /// Its version: 1 when created, one more at every commit.
    pub version: u64,
    /// What is indexed in clear.
    pub index: Index,
    /// The summary, as the procedure encoded it.
    pub summary: Vec<u8>,
    /// True once the biometrics were wiped (only hashes remain of the artefacts).
    pub wiped: bool,
}

/// The answer to a request id (AIP-155), remembered in the commit it answers.
#[derive(Debug, Clone, Copy)]
pub struct RememberedAnswer<'a> {
    /// The client's request id.
    pub request_id: &'a str,
    /// The request's fingerprint (SHA-256 of the request without its id).
    pub fingerprint: [u8; 32],
    /// The answer, as the procedure encoded it.
    pub answer: &'a [u8],
}

/// An answer remembered for a request id: the request's fingerprint and the answer.
pub type Remembered = ([u8; 32], Vec<u8>);

/// A new enrollment.
#[derive(Debug, Clone, Copy)]
pub struct NewEnrollment<'a> {
    /// Its id (a ULID: unique, never reissued).
    pub id: &'a str,
    /// The applicant's NIK: stored only as a keyed hash.
    pub nik: &'a str,
    /// What is indexed in clear.
    pub index: &'a Index,
    /// The summary to seal.
    pub summary: &'a [u8],
    /// The answer to remember, when the request had an id.
    pub answer: Option<RememberedAnswer<'a>>,
}

/// A change to an enrollment, committed in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct Commit<'a> {
    /// The enrollment id.
    pub id: &'a str,
    /// The version the change was made from; another version is a conflict.
    pub expected_version: u64,
    /// What is indexed in clear, after the change.
    pub index: &'a Index,
    /// The new summary.
    pub summary: &'a [u8],
    /// Artefacts written (replacing one of the same name).
    pub put: &'a [(&'a str, &'a [u8])],
    /// Artefacts removed.
    pub delete: &'a [&'a str],
    /// The answer to remember, when the request had an id.
    pub answer: Option<RememberedAnswer<'a>>,
    /// A package to queue for delivery in the same transaction (the outbox).
    pub enqueue: Option<Enqueue<'a>>,
}

/// A package queued for delivery with the commit that made it.
#[derive(Debug, Clone, Copy)]
pub struct Enqueue<'a> {
    /// Its idempotency key (enrollment id and the package's SHA-256).
    pub key: &'a str,
    /// The station that recorded it.
    pub station_id: &'a str,
    /// The package, sealed like everything else.
    pub package: &'a [u8],
}

/// A queued package due for an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Its idempotency key.
    pub key: String,
    /// The enrollment.
    pub enrollment_id: String,
    /// The station.
    pub station_id: String,
    /// The package, opened.
    pub package: Vec<u8>,
    /// Attempts so far.
    pub attempts: u32,
}

/// One attempt to deliver a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt<'a> {
    /// When.
    pub at: SystemTime,
    /// True when the receiver holds the package now.
    pub delivered: bool,
    /// True when it already held it (a resend).
    pub duplicate: bool,
    /// Why it failed.
    pub error: Option<&'a str>,
    /// When to try again.
    pub next_attempt: Option<SystemTime>,
}

/// An answer of the data centre, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CentralAnswer {
    /// `RECEIVED`, `PRINT_READY` or `DUPLICATE`.
    pub kind: String,
    /// The data centre's reference.
    pub reference: String,
    /// For a duplicate: why (`NIK_HAS_CARD`, `FINGERPRINTS_OF_ANOTHER_NIK`).
    pub reason: String,
    /// For a duplicate: the data centre's words.
    pub detail: String,
    /// When the data centre answered.
    pub at: SystemTime,
}

/// Where an enrollment's package is on its way to the data centre.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its idempotency key.
    pub key: String,
    /// The enrollment.
    pub enrollment_id: String,
    /// The package's size in bytes.
    pub size: u64,
    /// When it was queued.
    pub queued_at: SystemTime,
    /// Attempts so far.
    pub attempts: u32,
    /// The last attempt.
    pub last_attempt_at: Option<SystemTime>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the next attempt is due (none once delivered).
    pub next_attempt_at: Option<SystemTime>,
    /// When the receiver confirmed it.
    pub delivered_at: Option<SystemTime>,
    /// The data centre's answers, oldest first.
    pub answers: Vec<CentralAnswer>,
}

/// A filter and a page of [`EnrollmentStore::list`], newest first.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this stage.
    pub stage: Option<String>,
    /// Only created on this station day (`YYYY-MM-DD`).
    pub day: Option<String>,
    /// Only this NIK (looked up by its keyed hash).
    pub nik: Option<String>,
    /// Only the enrollment with this receipt number.
    pub receipt_number: Option<String>,
    /// Only open (or, with `Some(false)`, only finished) enrollments.
    pub open: Option<bool>,
    /// Only ids before this one (the page token).
    pub before_id: Option<String>,
    /// At most this many rows (0 means no limit).
    pub limit: usize,
}

/// One page of a list.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The rows, newest first.
    pub rows: Vec<Row>,
    /// True when more rows match after this page.
    pub more: bool,
    /// How many rows match the filter, on every page.
    pub total: usize,
}

/// A hardware step (a print, an encode) running now. Written when the step starts and
/// updated as it goes; the commit that ends the step removes it. One left at start-up is
/// a step a crash or a power cut interrupted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunningMarker {
    /// The enrollment.
    pub enrollment_id: String,
    /// The step, by name.
    pub step: String,
    /// The step's operation id.
    pub operation_id: String,
    /// When it started, in milliseconds since the Unix epoch.
    pub started_ms: i64,
    /// The devices it used.
    pub device_ids: Vec<String>,
    /// The print job, once submitted.
    pub job_id: Option<String>,
    /// True once a card blank was fed.
    pub card_used: bool,
}

/// One entry of the audit log, as it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When, in milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// Who: an operator's id, `local:<uid>`, or `-` when the caller was not identified.
    pub operator: String,
    /// The session's public id (empty for the local user or none).
    pub session: String,
    /// The method, e.g. `rekam.v1.EnrollmentService/GetMedia`.
    pub method: String,
    /// What it was about: a resource name (`enrollments/…`), or empty.
    pub subject: String,
    /// How it ended: a gRPC code name (`OK`, `NOT_FOUND`, `PERMISSION_DENIED`…).
    pub outcome: String,
}

/// An audit entry as stored, with its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Its number in the log, from 1.
    pub seq: u64,
    /// The entry.
    pub entry: AuditEntry,
}

/// What a check of the audit chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheck {
    /// Entries checked.
    pub entries: u64,
    /// The first entry whose link does not follow from the ones before (changed,
    /// removed or inserted outside rekamd), if any.
    pub first_broken: Option<u64>,
}

/// An enrollment store. Every method is blocking (call it off the async runtime); every
/// write is one transaction, on disk when it returns.
pub trait EnrollmentStore: Send + Sync {
    /// Stores a new enrollment at version 1.
    fn create(&self, new: &NewEnrollment<'_>) -> Result<u64, StoreError>;
    /// Commits a change made from `expected_version`; returns the new version. Removes
    /// the enrollment's running marker in the same transaction.
    fn commit(&self, commit: &Commit<'_>) -> Result<u64, StoreError>;
    /// One enrollment's summary, or `None`.
    fn load(&self, id: &str) -> Result<Option<Row>, StoreError>;
    /// One enrollment's artefacts (name, bytes), by name.
    fn artefacts(&self, id: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// A page of enrollments matching a filter, newest first.
    fn list(&self, filter: &ListFilter) -> Result<Page, StoreError>;
    /// The answer remembered for a request id: (fingerprint, answer).
    fn answer(&self, request_id: &str) -> Result<Option<Remembered>, StoreError>;
    /// The answer remembered for a device service's call (`service` names it, e.g.
    /// `printer.submit`), by request id: (fingerprint, answer). Kept a week.
    fn device_answer(
        &self,
        service: &str,
        request_id: &str,
    ) -> Result<Option<Remembered>, StoreError>;
    /// Remembers a device service call's answer for its request id.
    fn remember_device_answer(
        &self,
        service: &str,
        answer: &RememberedAnswer<'_>,
    ) -> Result<(), StoreError>;
    /// Writes (or replaces) the running marker of an enrollment.
    fn mark_running(&self, marker: &RunningMarker) -> Result<(), StoreError>;
    /// Every running marker, as a crash left them.
    fn running_markers(&self) -> Result<Vec<RunningMarker>, StoreError>;
    /// Wipes an enrollment's biometrics: replaces its summary with a minimal one and
    /// overwrites every artefact, keeping each one's name, size and SHA-256. Returns the
    /// new version.
    fn wipe(&self, id: &str, expected_version: u64, summary: &[u8]) -> Result<u64, StoreError>;
    /// Checks that the store is usable: the file is sound and writable.
    fn check(&self) -> Result<(), StoreError>;

    /// Queued packages due at `now`, oldest first, at most `max`.
    fn outbox_due(&self, now: SystemTime, max: usize) -> Result<Vec<Outgoing>, StoreError>;
    /// Records an attempt; a late attempt of a delivered package changes nothing.
    fn outbox_attempt(&self, key: &str, attempt: &DeliveryAttempt<'_>) -> Result<(), StoreError>;
    /// When the next undelivered package is due.
    fn outbox_next_due(&self) -> Result<Option<SystemTime>, StoreError>;
    /// Makes an enrollment's undelivered package due now (the officer retries); returns
    /// whether one was waiting.
    fn outbox_retry_now(&self, enrollment_id: &str) -> Result<bool, StoreError>;
    /// An enrollment's latest package and the data centre's answers to it.
    fn delivery(&self, enrollment_id: &str) -> Result<Option<Delivery>, StoreError>;
    /// The latest packages, newest first (only undelivered ones, or every one).
    fn deliveries(&self, undelivered_only: bool, limit: usize)
    -> Result<Vec<Delivery>, StoreError>;
    /// Appends entries to the audit log, chained after the last one, in one transaction.
    fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError>;
    /// The audit log's entries after `after_seq`, oldest first, at most `limit`.
    fn audit_entries(&self, after_seq: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;
    /// Checks the whole audit chain.
    fn check_audit(&self) -> Result<AuditCheck, StoreError>;
    /// Keeps an answer of the data centre; the same answer twice is kept once. Returns
    /// whether it was new.
    fn record_answer(
        &self,
        key: &str,
        enrollment_id: &str,
        answer: &CentralAnswer,
    ) -> Result<bool, StoreError>;
}

/// What the store may index of a complaint in clear: where it is and when it was filed,
/// nothing about the complainant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintIndex {
    /// Its status, by name (`OPEN`, `RESOLVED`).
    pub status: String,
    /// The level that holds it, by name (`SECRETARIAT`, `HEAD_OF_OFFICE`…).
    pub level: String,
    /// When it was filed.
    pub opened_at: SystemTime,
    /// The station's day it was filed on, `YYYY-MM-DD`.
    pub opened_day: String,
    /// The enrollment it is about, if any.
    pub enrollment_id: Option<String>,
    /// The recording receipt it is about, if any.
    pub receipt_number: Option<String>,
}

/// One complaint as stored, its summary decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintRow {
    /// The complaint id.
    pub id: String,
    /// Its version: 1 when created, one more at every commit.
    pub version: u64,
    /// What is indexed in clear.
    pub index: ComplaintIndex,
    /// When it was last written.
    pub updated_at: SystemTime,
    /// The summary (the complaint as `rekam-complaints` encoded it), opened.
    pub summary: Vec<u8>,
}

/// A filter of [`ComplaintStore::list_complaints`]; every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComplaintFilter {
    /// Only this status.
    pub status: Option<String>,
    /// Only at this level.
    pub level: Option<String>,
    /// Only filed on this station day (`YYYY-MM-DD`).
    pub opened_day: Option<String>,
    /// At most this many rows (0 means no limit).
    pub limit: usize,
}

/// A complaint store. Every method is blocking; every write is one transaction, on disk
/// when it returns. A complaint's summary is sealed with the store key: it names the
/// complainant and says what happened to them.
pub trait ComplaintStore: Send + Sync {
    /// Stores a new complaint at version 1 (returned); [`StoreError::AlreadyExists`] when
    /// the id is taken.
    fn create_complaint(
        &self,
        id: &str,
        index: &ComplaintIndex,
        summary: &[u8],
    ) -> Result<u64, StoreError>;
    /// Commits a change made from `expected_version` (the index and summary replace the
    /// stored ones); returns the new version. [`StoreError::VersionConflict`] when the
    /// complaint is at another version, [`StoreError::NotFound`] when there is none.
    fn commit_complaint(
        &self,
        id: &str,
        expected_version: u64,
        index: &ComplaintIndex,
        summary: &[u8],
    ) -> Result<u64, StoreError>;
    /// One complaint, or `None`.
    fn load_complaint(&self, id: &str) -> Result<Option<ComplaintRow>, StoreError>;
    /// The complaints matching a filter, newest first.
    fn list_complaints(&self, filter: &ComplaintFilter) -> Result<Vec<ComplaintRow>, StoreError>;
}

/// Milliseconds since the Unix epoch (0 before it).
pub fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The time of milliseconds since the Unix epoch.
pub fn from_ms(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// A store that could not be opened: every call answers the error it failed with, so a
/// daemon keeps serving its devices and tells every enrollment caller why it cannot
/// record.
#[derive(Debug, Clone)]
pub struct FailedStore(pub StoreError);

impl EnrollmentStore for FailedStore {
    fn create(&self, _: &NewEnrollment<'_>) -> Result<u64, StoreError> {
        Err(self.0.clone())
    }
    fn commit(&self, _: &Commit<'_>) -> Result<u64, StoreError> {
        Err(self.0.clone())
    }
    fn load(&self, _: &str) -> Result<Option<Row>, StoreError> {
        Err(self.0.clone())
    }
    fn artefacts(&self, _: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Err(self.0.clone())
    }
    fn list(&self, _: &ListFilter) -> Result<Page, StoreError> {
        Err(self.0.clone())
    }
    fn answer(&self, _: &str) -> Result<Option<Remembered>, StoreError> {
        Err(self.0.clone())
    }
    fn device_answer(&self, _: &str, _: &str) -> Result<Option<Remembered>, StoreError> {
        Err(self.0.clone())
    }
    fn remember_device_answer(&self, _: &str, _: &RememberedAnswer<'_>) -> Result<(), StoreError> {
        Err(self.0.clone())
    }
    fn mark_running(&self, _: &RunningMarker) -> Result<(), StoreError> {
        Err(self.0.clone())
    }
    fn running_markers(&self) -> Result<Vec<RunningMarker>, StoreError> {
        Err(self.0.clone())
    }
    fn wipe(&self, _: &str, _: u64, _: &[u8]) -> Result<u64, StoreError> {
        Err(self.0.clone())
    }
    fn check(&self) -> Result<(), StoreError> {
        Err(self.0.clone())
    }
    fn outbox_due(&self, _: SystemTime, _: usize) -> Result<Vec<Outgoing>, StoreError> {
        Err(self.0.clone())
    }
    fn outbox_attempt(&self, _: &str, _: &DeliveryAttempt<'_>) -> Result<(), StoreError> {
        Err(self.0.clone())
    }
    fn outbox_next_due(&self) -> Result<Option<SystemTime>, StoreError> {
        Err(self.0.clone())
    }
    fn outbox_retry_now(&self, _: &str) -> Result<bool, StoreError> {
        Err(self.0.clone())
    }
    fn delivery(&self, _: &str) -> Result<Option<Delivery>, StoreError> {
        Err(self.0.clone())
    }
    fn deliveries(&self, _: bool, _: usize) -> Result<Vec<Delivery>, StoreError> {
        Err(self.0.clone())
    }
    fn append_audit(&self, _: &[AuditEntry]) -> Result<(), StoreError> {
        Err(self.0.clone())
    }
    fn audit_entries(&self, _: u64, _: usize) -> Result<Vec<AuditRecord>, StoreError> {
        Err(self.0.clone())
    }
    fn check_audit(&self) -> Result<AuditCheck, StoreError> {
        Err(self.0.clone())
    }
    fn record_answer(&self, _: &str, _: &str, _: &CentralAnswer) -> Result<bool, StoreError> {
        Err(self.0.clone())
    }
}

impl ComplaintStore for FailedStore {
    fn create_complaint(&self, _: &str, _: &ComplaintIndex, _: &[u8]) -> Result<u64, StoreError> {
        Err(self.0.clone())
    }
    fn commit_complaint(
        &self,
        _: &str,
        _: u64,
        _: &ComplaintIndex,
        _: &[u8],
    ) -> Result<u64, StoreError> {
        Err(self.0.clone())
    }
    fn load_complaint(&self, _: &str) -> Result<Option<ComplaintRow>, StoreError> {
        Err(self.0.clone())
    }
    fn list_complaints(&self, _: &ComplaintFilter) -> Result<Vec<ComplaintRow>, StoreError> {
        Err(self.0.clone())
    }
}
