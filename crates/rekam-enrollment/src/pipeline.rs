//! The procedure as a state machine: one method per step, each checked against the
//! procedure's table ([`crate::procedure`]), driving devices through their traits, and
//! committing its result only when it succeeds. A failed, cancelled or timed-out step
//! leaves the enrollment as it was, with everything recorded before it and a history entry
//! saying how it ended, so it can be retried.
//!
//! Each step runs as an operation in a task of its own: the caller may go away (a browser
//! reload) and the step still ends properly and is recorded. A request id makes a retry
//! answer with the first request's result instead of acting twice.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rekam_core::events::EventLog;
use rekam_core::{
    CardJob, ChipFile, DeviceError, FingerPosition, FingerprintScanner, GreyImage, MissingFinger,
    PadGeometry, PenSample, PrintJobState, Registry,
};
use rekam_store::{
    Commit, EnrollmentStore, ListFilter, NewEnrollment, RememberedAnswer, StoreError,
};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use crate::applicant::Applicant;
use crate::error::{EnrollmentError, FieldViolation};
use crate::formats;
use crate::model::*;
use crate::persist;
use crate::procedure;
use crate::services::{DataCentre, Remote, ServiceError, Siak};

/// Renders pen samples as a PNG of the given width: (png, width, height). The daemon
/// wires the signature crate's renderer in; the pipeline stays free of drivers.
pub type SignatureRenderer =
    fn(&[PenSample], PadGeometry, u32) -> Result<(Vec<u8>, u32, u32), String>;

/// Station settings the procedure needs.
#[derive(Clone)]
pub struct PipelineConfig {
    /// This station's id, in receipts and packages (ANSI/NIST ORI).
    pub station_id: String,
    /// The data centre's agency id (ANSI/NIST DAI).
    pub data_centre_agency: String,
    /// Renders the signature.
    pub signature_renderer: SignatureRenderer,
    /// How long the applicant may take to place a finger or sign before a step gives up
    /// (a client's own gRPC deadline still applies when shorter).
    pub device_timeout: Duration,
    /// The station's offset from UTC in minutes (WIB +420, WITA +480, WIT +540): days in
    /// lists and receipts are the station's days.
    pub utc_offset_minutes: i32,
    /// The minimum quality of every finger, unless a request asks for another.
    pub fingerprint_min_quality: u8,
    /// Captures of a position, at most, to reach the minimum quality.
    pub fingerprint_attempts: u32,
    /// How long the biometrics of a finished enrollment are kept (after the card was
    /// handed over and the data centre confirmed, or after a cancellation) before they
    /// are wiped; zero wipes them at once.
    pub biometrics_retention: Duration,
    /// How long the send step waits for the data centre's "print-ready" before it gives
    /// up (the officer then issues a receipt; the outbox keeps trying).
    pub send_wait: Duration,
    /// The station's signing key: it signs every enrollment's artefact chain and the QR
    /// code of every recording receipt.
    pub station_key: Arc<rekam_integrity::StationKey>,
    /// The office's name, printed on recording receipts.
    pub office: String,
    /// The chip profile the encode step writes: capacity, document signer, issuer CA.
    pub chip: crate::chip::ChipConfig,
    /// The card templates and fonts the print step and the preview use.
    pub card: Arc<crate::card::CardLayout>,
    /// On a printer with an encoder inside, the blank cards one print step may use, at
    /// most: a card whose chip fails is rejected and the next one tried.
    pub card_attempts: u32,
    /// The lowest fingerprint scanner resolution, in pixels per inch, the fingerprint step
    /// uses ([`DEFAULT_FINGERPRINT_MIN_PPI`]: identity enrollment needs 500 ppi images). A
    /// scanner whose [`FingerprintScanner::ppi`] is known and lower is refused before it is
    /// touched, unless [`PipelineConfig::accept_substandard_scanner`].
    ///
    /// [`FingerprintScanner::ppi`]: rekam_core::FingerprintScanner::ppi
    pub fingerprint_min_ppi: u32,
    /// The smallest capture area of one flat finger, (width, height) in millimetres, the
    /// fingerprint step uses when it captures single fingers ([`FAP10_MIN_AREA_MM`]). A
    /// scanner whose single-finger image ([`FingerprintScanner::single_finger_size`] at its
    /// ppi) is known and smaller either way is refused before it is touched, unless
    /// [`PipelineConfig::accept_substandard_scanner`]. An R307-class module (256 x 288
    /// pixels at 500 dpi: 13.0 x 14.6 mm) is therefore refused by default.
    ///
    /// [`FingerprintScanner::single_finger_size`]: rekam_core::FingerprintScanner::single_finger_size
    pub fingerprint_min_area_mm: (f32, f32),
    /// Records with a scanner below [`PipelineConfig::fingerprint_min_ppi`] or
    /// [`PipelineConfig::fingerprint_min_area_mm`] anyway (false by default): the step
    /// says so in its message and history note, and the package marks each image captured
    /// below the requirement (ANSI/NIST-ITL Type-14 comment, 14.020).
    pub accept_substandard_scanner: bool,
    /// The face checks (`rekam-face`, with OpenCV's Haar cascades): when set, the face step
    /// records a photo only when every check passes, and the card's and the chip's
    /// portrait is the ISO/IEC 19794-5 token image; when `None`, only exposure is checked
    /// and the portrait is the photo's centre.
    pub face_analyser: Option<Arc<rekam_face::FaceAnalyser>>,
}

/// The default of [`PipelineConfig::fingerprint_min_ppi`]: 500 ppi, the resolution of the
/// ANSI/NIST-ITL plain impressions and WSQ images the data centre takes.
pub const DEFAULT_FINGERPRINT_MIN_PPI: u32 = 500;

/// The default of [`PipelineConfig::fingerprint_min_area_mm`]: the smallest single-finger
/// flat capture area the FBI certifies, Fingerprint Acquisition Profile (FAP) 10, 0.5 x
/// 0.65 in (width x height), i.e. 250 x 325 pixels at 500 ppi, for devices meeting the FBI's
/// *PIV Image Quality Specifications for Single Finger Capture Devices* (PIV-071006). The
/// FAP levels are defined in NIST SP 500-280 (*Mobile ID Device Best Practice
/// Recommendation*, 2009) and tabulated with their capture dimensions in the FBI's
/// certification FAQ (<https://fbibiospecs.fbi.gov/certifications-1/cpl/faq>).
///
/// 0.5 in is 12.7 mm: the sometimes quoted 12.8 mm would refuse a device with exactly the
/// FAP 10 area (250 pixels wide at 500 ppi), so the published inch figure is used, and
/// 0.65 in (16.51 mm) is taken as 16.5 mm. The larger single-finger profiles are stricter
/// choices for a station: FAP 20, 0.6 x 0.8 in (15.2 x 20.3 mm); FAP 30, 0.8 x 1.0 in
/// (20.3 x 25.4 mm).
pub const FAP10_MIN_AREA_MM: (f32, f32) = (12.7, 16.5);

/// Changes to a step's operation, each counted in its `sequence`, so a watch resumes
/// after the last state it saw (see `WatchStepOperationRequest.after_sequence`).
trait Revise {
    fn revise(&self, f: impl FnOnce(&mut Operation));
    fn revise_if(&self, f: impl FnOnce(&mut Operation) -> bool) -> bool;
}

impl Revise for watch::Sender<Operation> {
    fn revise(&self, f: impl FnOnce(&mut Operation)) {
        self.send_modify(|o| {
            f(o);
            o.sequence += 1;
        });
    }

    fn revise_if(&self, f: impl FnOnce(&mut Operation) -> bool) -> bool {
        self.send_if_modified(|o| {
            let changed = f(o);
            if changed {
                o.sequence += 1;
            }
            changed
        })
    }
}

struct Slot {
    /// The enrollment as last committed to the store: whole (with its images) or light
    /// (without them), as `images` says.
    data: Mutex<Enrollment>,
    /// True when `data` holds the recording's images.
    images: std::sync::atomic::AtomicBool,
    /// Its version in the store.
    version: std::sync::atomic::AtomicU64,
    running: Mutex<Option<RunningStep>>,
}

/// True when an enrollment at `stage` is kept in memory without its images when it is
/// loaded from the store: its recording is finished (the package built), so only Print
/// and Encode need the images again, and they read them back. A station with many
/// receipts waiting for return visits then holds summaries, not recordings. (An
/// enrollment that reaches these stages in this process keeps its images a while longer:
/// see [`HELD_RECORDINGS`].)
fn light(stage: Stage) -> bool {
    !matches!(
        stage,
        Stage::Created | Stage::DocumentsChecked | Stage::IdentityVerified
    )
}

/// True when an enrollment that has just committed `stage` may keep its images in memory,
/// among the [`HELD_RECORDINGS`] most recent: its card is still to be printed or encoded
/// now, in this visit. A receipt (a return visit days later) or a finished enrollment
/// keeps none.
fn holds_images(stage: Stage) -> bool {
    matches!(
        stage,
        Stage::Recorded | Stage::Sent | Stage::Printed | Stage::Encoded
    )
}

/// How many finished recordings awaiting their card keep their images in memory (about
/// 10 MB each), so Print and Encode do not read and decrypt them again. Older ones are
/// made light and read back from the store when needed.
const HELD_RECORDINGS: usize = 4;

impl Slot {
    /// A slot for an enrollment as committed (whole, or already without images).
    fn new(e: Enrollment, version: u64) -> Arc<Slot> {
        let images = !light(e.stage);
        let e = if images { e } else { e.without_images() };
        Arc::new(Slot {
            data: Mutex::new(e),
            images: std::sync::atomic::AtomicBool::new(images),
            version: std::sync::atomic::AtomicU64::new(version),
            running: Mutex::new(None),
        })
    }

    fn has_images(&self) -> bool {
        self.images.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Drops the images from memory (they stay in the store).
    fn lighten(&self) {
        let mut data = lock(&self.data);
        if self.images.swap(false, std::sync::atomic::Ordering::SeqCst) {
            *data = data.without_images();
        }
    }
}

/// The step an enrollment runs now.
struct RunningStep {
    op: watch::Sender<Operation>,
    cancel: CancellationToken,
    note: Arc<Mutex<Option<String>>>,
    ink: Ink,
}

/// The pen samples of a signature step: kept, and sent to the live views, under one lock,
/// so a view that joins late gets the samples so far and then every new one, once.
#[derive(Clone)]
struct Ink {
    sent: Arc<Mutex<Vec<PenSample>>>,
    tx: broadcast::Sender<PenSample>,
}

/// Clears the slot's running step however the step ends (a panic included), so an
/// enrollment is never left blocked.
struct ClearRunning<'a>(&'a Slot);

impl Drop for ClearRunning<'_> {
    fn drop(&mut self) {
        lock(&self.0.running).take();
    }
}

/// A bounded index that forgets its oldest entries.
struct Bounded<V> {
    map: HashMap<String, V>,
    order: VecDeque<String>,
    cap: usize,
}

impl<V> Bounded<V> {
    fn new(cap: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap,
        }
    }
    fn insert(&mut self, k: String, v: V) {
        if self.map.insert(k.clone(), v).is_none() {
            self.order.push_back(k);
        }
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
    fn remove(&mut self, k: &str) {
        self.map.remove(k);
        self.order.retain(|x| x != k);
    }
}

type Answer = Option<Result<Enrollment, EnrollmentError>>;

/// Operations remembered after they end (for GetStepOperation and WatchStepOperation).
const OPERATIONS_KEPT: usize = 4096;
/// Request ids remembered with their answers (AIP-155).
/// Only the recent ones (and those in flight) are in memory; every answer is also in the
/// store, so an older request id is answered from there.
const REQUESTS_KEPT: usize = 256;

/// The enrollment procedure over the station's devices and services.
pub struct Pipeline {
    registry: Arc<Registry>,
    siak: Arc<dyn Siak>,
    data_centre: Arc<dyn DataCentre>,
    config: PipelineConfig,
    /// Where every enrollment is kept; the step runner is its only writer.
    store: Arc<dyn EnrollmentStore>,
    /// The open enrollments (and finished ones while a step runs on them), in memory;
    /// finished ones are read from the store.
    slots: Mutex<BTreeMap<String, Arc<Slot>>>,
    /// The store's last fatal error (full, damaged, key): no new enrollment is opened
    /// until a commit succeeds again.
    fault: Mutex<Option<StoreError>>,
    /// The outbox's worker, delivering the store's queued packages.
    outbox: Mutex<Option<rekam_outbox::OutboxHandle>>,
    /// Counts the data centre's answers as they are kept, to wake waiting send steps.
    answers: watch::Sender<u64>,
    operations: Mutex<Bounded<watch::Receiver<Operation>>>,
    requests: Mutex<Bounded<([u8; 32], watch::Receiver<Answer>)>>,
    events: EventLog<EnrollmentEvent>,
    ids: Mutex<ulid::Generator>,
    /// The finished recordings that keep their images in memory, oldest first (at most
    /// [`HELD_RECORDINGS`]).
    held: Mutex<VecDeque<String>>,
}

/// Events kept for watches that resume.
const EVENTS_KEPT: usize = 4096;

/// What a watch gets when it subscribes: live events after `last`, and, when it asked to
/// resume after an event still kept, the events it missed.
pub type Subscription = rekam_core::events::Subscription<EnrollmentEvent>;

impl rekam_core::events::Sequenced for EnrollmentEvent {
    fn sequence(&self) -> u64 {
        self.sequence
    }
}

/// Reports progress of the running step.
pub struct Progress<'a> {
    pipeline: &'a Pipeline,
    id: &'a str,
    step: Step,
    stage: Stage,
    op: &'a watch::Sender<Operation>,
    ink: &'a Ink,
    note: &'a Mutex<Option<String>>,
    outgoing: &'a Mutex<Option<Vec<u8>>>,
    links: &'a Mutex<Vec<Link>>,
    /// History entries the step adds before its own (each card a print-and-encode step
    /// used), kept whether the step succeeds or fails.
    records: &'a Mutex<Vec<StepRecord>>,
    /// The table's other stage the step leads to on success
    /// ([`procedure::alternative`]), when the step says so.
    lead_to: &'a Mutex<Option<Stage>>,
}

/// An artefact a step made that goes into the enrollment's chain when the step commits.
struct Link {
    kind: &'static str,
    name: String,
    content: Vec<u8>,
}

impl Progress<'_> {
    /// Queues a package for the data centre in the step's commit.
    pub(crate) fn queue_package(&self, package: Vec<u8>) {
        *lock(self.outgoing) = Some(package);
    }

    /// Chains an artefact the step made (the card images, the chip's files) in the step's
    /// commit; capture artefacts and the package are chained by the commit itself.
    fn link(&self, kind: &'static str, name: impl Into<String>, content: Vec<u8>) {
        lock(self.links).push(Link {
            kind,
            name: name.into(),
            content,
        });
    }

    /// Adds a history entry before the step's own, kept whether the step succeeds or
    /// fails (the operation's id and the operator are filled in).
    fn record(&self, mut record: StepRecord) {
        let op = self.op.borrow();
        record.operation_id = Some(op.id.clone());
        record.operator = op.operator.clone();
        drop(op);
        lock(self.records).push(record);
    }

    /// On success, the step leads to the table's other stage for it
    /// ([`procedure::alternative`]) instead of its usual one.
    fn lead_to_alternative(&self) {
        *lock(self.lead_to) = procedure::alternative(self.step);
    }

    /// Publishes a progress event.
    pub fn report(&self, percent: u32, message: impl Into<String>) {
        let message = message.into();
        self.op.revise(|o| {
            o.percent = percent;
            o.message = message.clone();
        });
        self.pipeline.publish(
            self.id,
            self.step,
            StepStatus::Progress,
            percent,
            message,
            self.stage,
            None,
        );
    }

    /// Records a device the step uses.
    pub fn device(&self, id: &str) {
        self.op.revise(|o| {
            if !o.device_ids.iter().any(|d| d == id) {
                o.device_ids.push(id.to_string());
            }
        });
    }

    /// Records the print job the step submitted.
    pub fn job(&self, job_id: &str) {
        self.op.revise(|o| o.job_id = Some(job_id.to_string()));
        self.pipeline.mark_running(&self.op.borrow());
    }

    /// Publishes a progress event asking the applicant to place a position (attempt from 1).
    pub fn prompt(&self, percent: u32, position: FingerPosition, attempt: u32, message: String) {
        self.position(position);
        self.op.revise(|o| {
            o.percent = percent;
            o.message = message.clone();
        });
        self.pipeline.publish(
            self.id,
            self.step,
            StepStatus::Progress,
            percent,
            message,
            self.stage,
            Some(Prompt {
                position,
                code: crate::model::prompt_code(position, attempt),
                attempt,
            }),
        );
    }

    /// Records the finger position the step captures now (for the live view).
    pub fn position(&self, position: FingerPosition) {
        self.op
            .revise_if(|o| o.position.replace(position) != Some(position));
    }

    /// Passes a pen sample on to the live view, as the applicant writes.
    pub fn pen(&self, sample: &PenSample) {
        let mut sent = lock(&self.ink.sent);
        sent.push(*sample);
        // Nobody watching is fine.
        let _ = self.ink.tx.send(*sample);
    }

    /// Records that a card blank was fed into the printer.
    pub fn card_used(&self) {
        if self
            .op
            .revise_if(|o| !std::mem::replace(&mut o.card_used, true))
        {
            self.pipeline.mark_running(&self.op.borrow());
        }
    }

    /// Sets the note of the step's history entry (what the step decided on the officer's
    /// word, e.g. the supervisors' overrides it applied); a cancellation's reason replaces
    /// it.
    pub fn note(&self, note: impl Into<String>) {
        *lock(self.note) = Some(note.into());
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The data behind these locks is only replaced whole, so a poisoned lock still holds
    // a consistent value.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn out_of_order(step: Step, stage: Stage, hint: &str) -> EnrollmentError {
    EnrollmentError::OutOfOrder {
        step,
        stage,
        hint: hint.to_string(),
    }
}

/// How a step ended when it did not succeed.
enum Ended {
    Failed(EnrollmentError),
    Cancelled,
    TimedOut,
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

impl Pipeline {
    /// A pipeline over the given devices, services and store. Every open enrollment of
    /// the store is loaded, and a hardware step a crash interrupted is recorded as such
    /// (with its print job and whether a card blank was used). A store that cannot be
    /// read leaves the pipeline serving what it can, with [`Pipeline::store_fault`] set.
    pub fn new(
        registry: Arc<Registry>,
        siak: Arc<dyn Siak>,
        data_centre: Arc<dyn DataCentre>,
        config: PipelineConfig,
        store: Arc<dyn EnrollmentStore>,
    ) -> Self {
        let p = Pipeline {
            registry,
            siak,
            data_centre,
            config,
            store,
            slots: Mutex::new(BTreeMap::new()),
            fault: Mutex::new(None),
            outbox: Mutex::new(None),
            answers: watch::channel(0).0,
            operations: Mutex::new(Bounded::new(OPERATIONS_KEPT)),
            requests: Mutex::new(Bounded::new(REQUESTS_KEPT)),
            events: EventLog::new(EVENTS_KEPT, 1024),
            ids: Mutex::new(ulid::Generator::new()),
            held: Mutex::new(VecDeque::new()),
        };
        p.start_outbox();
        if let Err(err) = p.reload() {
            warn!(error = %err, "the enrollment store cannot be read: no enrollment is opened until it can");
            *lock(&p.fault) = Some(match err {
                EnrollmentError::Store(e) => e,
                other => StoreError::Unavailable(other.to_string()),
            });
        }
        p
    }

    /// Starts the outbox's worker on the current runtime (none outside one): it delivers
    /// the packages queued in the store, also those a previous run left, and keeps the
    /// data centre's answers.
    fn start_outbox(&self) {
        if tokio::runtime::Handle::try_current().is_err() {
            warn!("no async runtime: the outbox does not run");
            return;
        }
        let transport: Arc<dyn rekam_outbox::Transport> = self.data_centre.clone();
        let handle = rekam_outbox::Outbox::spawn(
            Arc::new(crate::delivery::StoreQueue(self.store.clone())),
            transport,
            rekam_outbox::OutboxConfig {
                answer_sink: Some(Arc::new(crate::delivery::Inbox {
                    store: self.store.clone(),
                    changed: self.answers.clone(),
                })),
                answer_poll: Duration::from_secs(5),
                ..rekam_outbox::OutboxConfig::default()
            },
        );
        *lock(&self.outbox) = Some(handle);
    }

    /// Wakes the outbox: a package was queued, or someone waits for an answer.
    fn wake_outbox(&self) {
        if let Some(h) = lock(&self.outbox).as_ref() {
            h.notify();
            h.fetch_answers();
        }
    }

    /// Stops the outbox's worker (at shutdown); what it had not delivered stays queued.
    pub async fn stop_outbox(&self) {
        let handle = lock(&self.outbox).take();
        if let Some(h) = handle {
            h.shutdown().await;
        }
    }

    /// The delivery state of an enrollment's package, if one was queued.
    fn delivery_of(&self, id: &str) -> Option<DeliveryView> {
        match self.store.delivery(id) {
            Ok(d) => d.as_ref().map(crate::delivery::view),
            Err(e) => {
                warn!(enrollment = %id, error = %e, "cannot read the delivery state");
                None
            }
        }
    }

    /// Every package that is still on its way, or the latest ones.
    pub fn deliveries(
        &self,
        undelivered_only: bool,
        limit: usize,
    ) -> Result<Vec<(String, DeliveryView)>, EnrollmentError> {
        Ok(self
            .store
            .deliveries(undelivered_only, limit)?
            .iter()
            .map(|d| (d.enrollment_id.clone(), crate::delivery::view(d)))
            .collect())
    }

    /// Loads every open enrollment, then records the steps a crash interrupted.
    fn reload(&self) -> Result<(), EnrollmentError> {
        let page = self.store.list(&ListFilter {
            open: Some(true),
            ..ListFilter::default()
        })?;
        let mut slots = lock(&self.slots);
        for row in page.rows {
            let e = persist::from_summary(&row.summary)?;
            let e = if light(e.stage) {
                e
            } else {
                persist::assemble(e, self.store.artefacts(&row.id)?)?
            };
            slots.insert(row.id.clone(), Slot::new(e, row.version));
        }
        let open = slots.len();
        drop(slots);
        let markers = self.store.running_markers()?;
        for m in &markers {
            let slot = self.slot(&m.enrollment_id)?;
            let mut e = lock(&slot.data).clone();
            let step = procedure::TABLE
                .iter()
                .map(|t| t.step)
                .find(|s| s.to_string() == m.step)
                .unwrap_or(Step::Print);
            let job = m.job_id.as_deref().unwrap_or("none submitted");
            let mut record = StepRecord::new(
                step,
                StepStatus::Failed,
                format!(
                    "interrupted: rekamd stopped while this step ran (print job {job}{})",
                    if m.card_used {
                        "; a card blank was fed and is spoiled"
                    } else {
                        ""
                    }
                ),
            );
            record.operation_id = Some(m.operation_id.clone());
            record.started_at = Some(rekam_store::from_ms(m.started_ms));
            record.device_ids = m.device_ids.clone();
            record.job_id = m.job_id.clone();
            record.card_spoiled = m.card_used;
            record.error_reason = Some("STEP_INTERRUPTED".to_string());
            procedure::on_failure(step, &mut e);
            e.history.push(record);
            e.last_error = Some("the last step was interrupted by a restart; retry it".into());
            warn!(enrollment = %m.enrollment_id, step = %m.step, job = ?m.job_id, card_used = m.card_used, "a step was interrupted by a restart");
            let version = slot.version.load(std::sync::atomic::Ordering::SeqCst);
            let summary = persist::summary(&e)?;
            let index = persist::index(&e, self.config.utc_offset_minutes);
            let v = self.store.commit(&Commit {
                id: &m.enrollment_id,
                expected_version: version,
                index: &index,
                summary: &summary,
                put: &[],
                delete: &[],
                answer: None,
                enqueue: None,
            })?;
            slot.version.store(v, std::sync::atomic::Ordering::SeqCst);
            *lock(&slot.data) = e;
        }
        info!(
            open,
            interrupted = markers.len(),
            "enrollments loaded from the store"
        );
        Ok(())
    }

    /// Notes a store write's outcome: a fatal error is latched (no new enrollment until a
    /// write succeeds again), a success clears it.
    fn committed(&self, r: Result<u64, StoreError>) -> Result<u64, EnrollmentError> {
        let mut fault = lock(&self.fault);
        match r {
            Ok(v) => {
                if fault.take().is_some() {
                    info!("the enrollment store accepts writes again");
                }
                Ok(v)
            }
            Err(e) => {
                if e.is_fatal() {
                    warn!(error = %e, "the enrollment store refused a write");
                    *fault = Some(e.clone());
                }
                Err(EnrollmentError::Store(e))
            }
        }
    }

    /// The store the pipeline commits to (the device services keep their request-id
    /// answers there too).
    pub fn store(&self) -> Arc<dyn EnrollmentStore> {
        self.store.clone()
    }

    /// The store's fatal error, while it lasts (a full disk, a damaged file, a key
    /// problem): the daemon reports the enrollment service NOT_SERVING.
    pub fn store_fault(&self) -> Option<StoreError> {
        lock(&self.fault).clone()
    }

    /// Writes the running marker of a hardware step (a print, an encode).
    fn mark_running(&self, op: &Operation) {
        let marker = rekam_store::RunningMarker {
            enrollment_id: op.enrollment_id.clone(),
            step: op.step.to_string(),
            operation_id: op.id.clone(),
            started_ms: rekam_store::to_ms(op.started_at),
            device_ids: op.device_ids.clone(),
            job_id: op.job_id.clone(),
            card_used: op.card_used,
        };
        if let Err(e) = self.store.mark_running(&marker) {
            warn!(enrollment = %op.enrollment_id, error = %e, "cannot record the running step");
        }
    }

    /// The SIAK service.
    pub fn siak(&self) -> &Arc<dyn Siak> {
        &self.siak
    }

    /// The data centre.
    pub fn data_centre(&self) -> &Arc<dyn DataCentre> {
        &self.data_centre
    }

    /// Subscribes to every enrollment's progress events.
    pub fn subscribe(&self) -> broadcast::Receiver<EnrollmentEvent> {
        self.events.subscribe()
    }

    /// Subscribes to live events and, when `after` is given and still kept, returns the
    /// events published after it: nothing is missed and nothing comes twice.
    pub fn subscribe_after(&self, after: Option<u64>) -> Subscription {
        self.events.subscribe_after(after)
    }

    #[allow(clippy::too_many_arguments)]
    fn publish(
        &self,
        id: &str,
        step: Step,
        status: StepStatus,
        percent: u32,
        message: String,
        stage: Stage,
        prompt: Option<Prompt>,
    ) {
        // Numbered, kept and sent in one step (see `EventLog::publish`).
        self.events.publish(|sequence| EnrollmentEvent {
            sequence,
            enrollment_id: id.to_string(),
            step,
            status,
            percent,
            message,
            stage,
            at: SystemTime::now(),
            prompt,
        });
    }

    /// The enrollment's slot: in memory when open, else loaded from the store (a step on
    /// a finished enrollment, e.g. a reprint) and kept until the step ends.
    fn slot(&self, id: &str) -> Result<Arc<Slot>, EnrollmentError> {
        if let Some(slot) = lock(&self.slots).get(id) {
            return Ok(slot.clone());
        }
        let row = self
            .store
            .load(id)?
            .ok_or_else(|| EnrollmentError::NotFound(id.to_string()))?;
        let e = persist::from_summary(&row.summary)?;
        let e = if light(e.stage) {
            e
        } else {
            persist::assemble(e, self.store.artefacts(id)?)?
        };
        let mut slots = lock(&self.slots);
        Ok(slots
            .entry(id.to_string())
            .or_insert_with(|| Slot::new(e, row.version))
            .clone())
    }

    fn snapshot(slot: &Slot) -> Enrollment {
        let running = lock(&slot.running).as_ref().map(|r| r.op.borrow().clone());
        let mut e = lock(&slot.data).clone();
        e.running = running;
        e
    }

    /// One enrollment as it is now, with the step it runs. A finished enrollment comes
    /// from the store without its images (see [`Pipeline::full`]).
    pub fn get(&self, id: &str) -> Result<Enrollment, EnrollmentError> {
        let live = lock(&self.slots).get(id).cloned();
        let mut e = match live {
            Some(slot) => Self::snapshot(&slot),
            None => {
                let row = self
                    .store
                    .load(id)?
                    .ok_or_else(|| EnrollmentError::NotFound(id.to_string()))?;
                persist::from_summary(&row.summary)?
            }
        };
        e.delivery = self.delivery_of(id);
        Ok(e)
    }

    /// One enrollment with every recorded image.
    pub fn full(&self, id: &str) -> Result<Enrollment, EnrollmentError> {
        let e = self.get(id)?;
        if e.wiped {
            return Err(EnrollmentError::MediaNotFound(WIPED.into()));
        }
        let held = lock(&self.slots).get(id).is_some_and(|s| s.has_images());
        if held {
            return Ok(e);
        }
        persist::assemble(e.without_images(), self.store.artefacts(id)?)
    }

    /// The whole enrollment a step starts from: the slot's copy, with its images read
    /// back from the store when it is kept without them.
    async fn whole(&self, slot: &Slot) -> Result<Enrollment, EnrollmentError> {
        let (e, images) = {
            let data = lock(&slot.data);
            (data.clone(), slot.has_images())
        };
        if e.wiped {
            return Err(EnrollmentError::Incomplete(WIPED.into()));
        }
        if images {
            return Ok(e);
        }
        let store = self.store.clone();
        blocking(move || {
            let artefacts = store.artefacts(&e.id)?;
            persist::assemble(e, artefacts)
        })
        .await
    }

    /// Every enrollment, newest first, without images.
    pub fn list(&self) -> Result<Vec<Enrollment>, EnrollmentError> {
        Ok(self
            .list_page(&ListQuery {
                limit: 0,
                ..ListQuery::default()
            })?
            .enrollments)
    }

    /// One page of the enrollments that match a filter, newest first (ids are ULIDs, so
    /// they sort by creation time), from the store; a limit of 0 lists every one.
    pub fn list_page(&self, q: &ListQuery) -> Result<ListPage, EnrollmentError> {
        let page = self.store.list(&ListFilter {
            stage: q.stage.map(|s| s.to_string()),
            day: q.created_on.map(persist::day),
            nik: q.nik.clone(),
            receipt_number: q.receipt_number.clone(),
            open: None,
            before_id: q.before_id.clone(),
            limit: q.limit,
        })?;
        let mut enrollments = Vec::with_capacity(page.rows.len());
        for row in &page.rows {
            let live = lock(&self.slots).get(&row.id).cloned();
            let mut e = match live {
                // With the step it runs (the store has no running step).
                Some(slot) => Self::snapshot(&slot).without_images(),
                None => persist::from_summary(&row.summary)?,
            };
            e.delivery = self.delivery_of(&row.id);
            enrollments.push(e);
        }
        Ok(ListPage {
            enrollments,
            more: page.more,
            total: page.total,
        })
    }

    /// One image of an enrollment's recording (see [`crate::media`]), made in the CPU
    /// pool.
    pub async fn media(
        &self,
        id: &str,
        kind: crate::media::MediaKind,
        size: crate::media::MediaSize,
    ) -> Result<crate::media::Media, EnrollmentError> {
        let e = self.full(id)?;
        let card = self.config.card.clone();
        blocking(move || crate::media::media(&e, kind, size, &card)).await
    }

    /// The card's front and back as they would print now (PNG), without a blank.
    pub async fn card_preview(&self, id: &str) -> Result<(Vec<u8>, Vec<u8>), EnrollmentError> {
        let e = self.full(id)?;
        let card = self.config.card.clone();
        blocking(move || crate::media::card_preview(&e, &card)).await
    }

    /// The running step, if one runs: a receiver of its operation, the pen samples it has
    /// had so far and a receiver of the next ones.
    #[allow(clippy::type_complexity)]
    pub(crate) fn running_step(
        &self,
        id: &str,
    ) -> Result<
        Option<(
            watch::Receiver<Operation>,
            Vec<PenSample>,
            broadcast::Receiver<PenSample>,
        )>,
        EnrollmentError,
    > {
        let slot = self.slot(id)?;
        let running = lock(&slot.running);
        Ok(running.as_ref().map(|r| {
            let sent = lock(&r.ink.sent);
            (r.op.subscribe(), sent.clone(), r.ink.tx.subscribe())
        }))
    }

    /// The station's devices.
    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// A step operation, running or ended.
    pub fn operation(&self, id: &str) -> Result<Operation, EnrollmentError> {
        Ok(self.watch_operation(id)?.borrow().clone())
    }

    /// Follows a step operation: the receiver holds its latest state; it closes after the
    /// final one.
    pub fn watch_operation(&self, id: &str) -> Result<watch::Receiver<Operation>, EnrollmentError> {
        lock(&self.operations)
            .map
            .get(id)
            .cloned()
            .ok_or_else(|| EnrollmentError::OperationNotFound(id.to_string()))
    }

    /// Cancels the step the enrollment runs now, with the officer's reason, and returns
    /// its operation once it has ended (recorded as cancelled, or as whatever it reached
    /// first).
    pub async fn cancel_step(&self, id: &str, reason: &str) -> Result<Operation, EnrollmentError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(EnrollmentError::invalid(
                "reason",
                "give the reason for cancelling",
            ));
        }
        if let Some(v) = crate::applicant::check_text(
            reason,
            &crate::applicant::TextLimit {
                field: "reason",
                max_chars: 200,
                digits: true,
            },
        ) {
            return Err(EnrollmentError::InvalidRequest(vec![v]));
        }
        let slot = self.slot(id)?;
        let mut rx = {
            let running = lock(&slot.running);
            let Some(r) = running.as_ref() else {
                return Err(EnrollmentError::NoStepRunning(id.to_string()));
            };
            *lock(&r.note) = Some(reason.to_string());
            r.cancel.cancel();
            r.op.subscribe()
        };
        loop {
            let op = rx.borrow_and_update().clone();
            if op.state.is_final() || rx.changed().await.is_err() {
                return Ok(rx.borrow().clone());
            }
        }
    }

    /// Runs `run` at most once per request id (AIP-155): the same id with the same request
    /// returns the first success (waiting for it while it runs); with a different request
    /// it is an error. A failure is not remembered, so a retry acts again.
    async fn idempotent(
        &self,
        key: Option<RequestKey>,
        run: impl Future<Output = Result<Enrollment, EnrollmentError>>,
    ) -> Result<Enrollment, EnrollmentError> {
        let Some(key) = key else {
            return run.await;
        };
        let first = {
            let mut requests = lock(&self.requests);
            match requests.map.get(&key.id) {
                Some((fp, _)) if *fp != key.fingerprint => {
                    return Err(EnrollmentError::RequestIdReused);
                }
                Some((_, rx)) => Err(rx.clone()),
                None => {
                    // Answered before a restart: the answer is in the store.
                    if let Some((fingerprint, answer)) = self.store.answer(&key.id)? {
                        if fingerprint != key.fingerprint {
                            return Err(EnrollmentError::RequestIdReused);
                        }
                        return persist::from_summary(&answer);
                    }
                    let (tx, rx) = watch::channel(None);
                    requests.insert(key.id.clone(), (key.fingerprint, rx));
                    Ok(tx)
                }
            }
        };
        match first {
            Ok(tx) => {
                let answer = run.await;
                match &answer {
                    Ok(e) => {
                        let _ = tx.send(Some(Ok(e.without_images())));
                    }
                    Err(err) => {
                        lock(&self.requests).remove(&key.id);
                        let _ = tx.send(Some(Err(err.clone())));
                    }
                }
                answer
            }
            Err(mut rx) => loop {
                if let Some(answer) = rx.borrow_and_update().clone() {
                    return answer;
                }
                if rx.changed().await.is_err() {
                    return Err(EnrollmentError::Format(
                        "the first request with this id ended without an answer".into(),
                    ));
                }
            },
        }
    }

    /// Runs a step in a task of its own, so that it keeps running (and is recorded) when
    /// the caller goes away; the caller gets its answer when it is still there.
    async fn detached<F, Fut>(
        self: &Arc<Self>,
        request: Option<RequestKey>,
        f: F,
    ) -> Result<Enrollment, EnrollmentError>
    where
        F: FnOnce(Arc<Pipeline>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Enrollment, EnrollmentError>> + Send + 'static,
    {
        let this = self.clone();
        tokio::spawn(async move {
            let run = f(this.clone());
            this.idempotent(request, run).await
        })
        .await
        .map_err(|err| EnrollmentError::Format(format!("step task: {err}")))?
    }

    /// Opens an enrollment for a valid applicant. ALREADY_EXISTS while another enrollment
    /// for the same NIK is open (neither handed over nor cancelled).
    pub async fn create(
        self: &Arc<Self>,
        applicant: Applicant,
        opts: StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let request = opts.request.clone();
        let operator = opts.operator.clone();
        self.idempotent(opts.request, async {
            self.create_now(applicant, request, operator)
        })
        .await
    }

    fn create_now(
        &self,
        applicant: Applicant,
        request: Option<RequestKey>,
        operator: Option<String>,
    ) -> Result<Enrollment, EnrollmentError> {
        applicant.validate()?;
        if let Some(fault) = self.store_fault() {
            // Refuse new recordings rather than lose them.
            return Err(EnrollmentError::Store(fault));
        }
        let request_id = request.as_ref().map(|k| k.id.clone());
        // Every open enrollment is in memory, so the NIK check needs no store read.
        let mut slots = lock(&self.slots);
        for slot in slots.values() {
            let e = lock(&slot.data);
            if e.applicant.nik == applicant.nik && procedure::is_open(e.stage) {
                return Err(EnrollmentError::AlreadyExists {
                    enrollment_id: e.id.clone(),
                });
            }
        }
        // Monotonic within the process, so that ids sort in creation order even within a
        // millisecond.
        let id = lock(&self.ids)
            .generate()
            .unwrap_or_else(|_| ulid::Ulid::new())
            .to_string();
        let mut record = StepRecord::new(Step::Create, StepStatus::Succeeded, "enrollment opened");
        record.request_id = request_id;
        record.operator = operator;
        let e = Enrollment {
            id: id.clone(),
            applicant,
            stage: Stage::Created,
            recording: Arc::default(),
            history: vec![record],
            siak_reference: None,
            send_failed: false,
            send_reference: None,
            receipt: None,
            print_job_id: None,
            card_uid: None,
            created_at: SystemTime::now(),
            last_error: None,
            package_size: 0,
            package_report: None,
            running: None,
            cancel_reason: None,
            siak: None,
            chain: Vec::new(),
            printed_fields: None,
            chip_fields: None,
            receipt_qr: None,
            wiped: false,
            delivery: None,
        };
        let summary = persist::summary(&e)?;
        let index = persist::index(&e, self.config.utc_offset_minutes);
        let created = self.store.create(&NewEnrollment {
            id: &id,
            nik: &e.applicant.nik,
            index: &index,
            summary: &summary,
            answer: request.as_ref().map(|k| RememberedAnswer {
                request_id: &k.id,
                fingerprint: k.fingerprint,
                answer: &summary,
            }),
        });
        let version = self.committed(created)?;
        slots.insert(id.clone(), Slot::new(e.clone(), version));
        drop(slots);
        info!(enrollment = %id, "enrollment created");
        self.publish(
            &id,
            Step::Create,
            StepStatus::Succeeded,
            100,
            "enrollment opened".into(),
            Stage::Created,
            None,
        );
        Ok(e)
    }

    /// Runs one step as an operation: checks the stage against the procedure's table,
    /// runs `work` on a copy of the enrollment (racing the officer's cancellation and the
    /// deadline), and commits the copy, with the stage the table leads to, only on
    /// success. Every outcome leaves a history entry; a failure also runs the table's
    /// failure hook and sets `last_error`, and changes nothing else.
    async fn run_step<F>(
        &self,
        id: &str,
        step: Step,
        opts: &StepOptions,
        work: F,
    ) -> Result<Enrollment, EnrollmentError>
    where
        F: AsyncFnOnce(&mut Enrollment, &Progress<'_>) -> Result<String, EnrollmentError>,
    {
        let t = procedure::transition(step)
            .ok_or_else(|| EnrollmentError::Format(format!("{step} is not in the table")))?;
        let slot = self.slot(id)?;
        let started = SystemTime::now();
        let request_id = opts.request.as_ref().map(|k| k.id.clone());
        let (op_tx, cancel, note, ink) = {
            let mut running = lock(&slot.running);
            if running.is_some() {
                return Err(EnrollmentError::StepInProgress(id.to_string()));
            }
            let e = lock(&slot.data);
            if !t.from.contains(&e.stage) {
                if e.stage == Stage::Cancelled && step != Step::Cancel {
                    return Err(EnrollmentError::Cancelled(id.to_string()));
                }
                let last = e.history.iter().rev().find(|h| h.step == step);
                if last.is_some_and(|h| h.status == StepStatus::Succeeded) {
                    // A retry of a step whose answer was lost: answer it again.
                    return Ok(e.clone());
                }
                return Err(out_of_order(step, e.stage, t.hint));
            }
            let op = Operation {
                id: ulid::Ulid::new().to_string(),
                enrollment_id: id.to_string(),
                step,
                state: OperationState::Running,
                percent: 0,
                message: format!("{step} started"),
                request_id: request_id.clone(),
                device_ids: Vec::new(),
                job_id: None,
                card_used: false,
                card_spoiled: false,
                started_at: started,
                ended_at: None,
                error_reason: None,
                position: None,
                sequence: 1,
                operator: opts.operator.clone(),
            };
            let (tx, rx) = watch::channel(op.clone());
            lock(&self.operations).insert(op.id.clone(), rx);
            let cancel = CancellationToken::new();
            let note = Arc::new(Mutex::new(None));
            let ink = Ink {
                sent: Arc::new(Mutex::new(Vec::new())),
                tx: broadcast::channel(4096).0,
            };
            *running = Some(RunningStep {
                op: tx.clone(),
                cancel: cancel.clone(),
                note: note.clone(),
                ink: ink.clone(),
            });
            (tx, cancel, note, ink)
        };
        let _clear = ClearRunning(&slot);
        if matches!(
            step,
            Step::Print | Step::Encode | Step::Reprint | Step::Reencode
        ) {
            // So that a crash in the middle shows which job ran and whether a blank was fed.
            self.mark_running(&op_tx.borrow());
        }
        // Steps that neither read images nor lead back to recording start from the copy in
        // memory; the others from the whole enrollment.
        let images = !matches!(
            step,
            Step::Send | Step::IssueReceipt | Step::HandOver | Step::Cancel
        );
        // Whether the step's copy holds the images (the light copy of an enrollment waiting
        // for a return visit does not).
        let (base, base_whole) = match if images {
            self.whole(&slot).await.map(|e| (e, true))
        } else {
            let data = lock(&slot.data);
            Ok((data.clone(), slot.has_images()))
        } {
            Ok(b) => b,
            Err(err) => {
                op_tx.revise(|o| {
                    o.state = OperationState::Failed;
                    o.ended_at = Some(SystemTime::now());
                    o.message = err.to_string();
                    o.error_reason = Some(err.reason());
                });
                return Err(err);
            }
        };
        let mut work_copy = base.clone();
        let stage = work_copy.stage;
        let op_id = op_tx.borrow().id.clone();
        let span = info_span!("step", enrollment = %id, step = %step, operation = %op_id);
        self.publish(
            id,
            step,
            StepStatus::Started,
            0,
            format!("{step} started"),
            stage,
            None,
        );
        let outgoing = Mutex::new(None);
        let links = Mutex::new(Vec::new());
        let records = Mutex::new(Vec::new());
        let lead_to = Mutex::new(None);
        let progress = Progress {
            pipeline: self,
            id,
            step,
            stage,
            op: &op_tx,
            ink: &ink,
            note: &note,
            outgoing: &outgoing,
            links: &links,
            records: &records,
            lead_to: &lead_to,
        };
        let outcome = tokio::select! {
            r = work(&mut work_copy, &progress).instrument(span.clone()) => r.map_err(Ended::Failed),
            _ = cancel.cancelled() => Err(Ended::Cancelled),
            _ = sleep_until(opts.deadline) => Err(Ended::TimedOut),
        };
        let op = op_tx.borrow().clone();
        let mut record = StepRecord::new(step, StepStatus::Succeeded, String::new());
        record.operation_id = Some(op.id.clone());
        record.started_at = Some(started);
        record.device_ids = op.device_ids.clone();
        record.job_id = op.job_id.clone();
        record.request_id = request_id;
        record.note = lock(&note).clone().or_else(|| opts.note.clone());
        record.operator = opts.operator.clone();
        let before = base;
        let earlier = std::mem::take(&mut *lock(&records));
        let (next, result) = match outcome {
            Ok(message) => {
                record.message = message.clone();
                if let Some(to) = lock(&lead_to).or(t.to) {
                    work_copy.stage = to;
                }
                work_copy.history.extend(earlier);
                work_copy.history.push(record);
                work_copy.last_error = None;
                (work_copy, Ok(message))
            }
            Err(ended) => {
                drop(work_copy);
                let (err, status, state) = match ended {
                    Ended::Failed(err) => (err, StepStatus::Failed, OperationState::Failed),
                    Ended::Cancelled => (
                        EnrollmentError::StepCancelled(step.to_string()),
                        StepStatus::Cancelled,
                        OperationState::Cancelled,
                    ),
                    Ended::TimedOut => (
                        EnrollmentError::StepTimedOut(step.to_string()),
                        StepStatus::TimedOut,
                        OperationState::TimedOut,
                    ),
                };
                let message = err.to_string();
                record.status = status;
                record.message = message.clone();
                record.error_reason = Some(err.reason().to_string());
                record.card_spoiled = op.card_used;
                if record.card_spoiled {
                    warn!(enrollment = %id, job = ?op.job_id, "the card blank of this print is spoiled");
                }
                let mut failed = before.clone();
                procedure::on_failure(step, &mut failed);
                if let Some(check) = siak_answer(&err) {
                    // SIAK answered: its verdict is kept even though the step failed.
                    failed.siak = Some(check);
                }
                failed.history.extend(earlier);
                failed.history.push(record);
                failed.last_error = Some(message);
                (failed, Err((err, state)))
            }
        };
        // The outcome is on disk before the step answers: success or failure alike.
        let (package, links) = if result.is_ok() {
            (lock(&outgoing).take(), std::mem::take(&mut *lock(&links)))
        } else {
            (None, Vec::new())
        };
        let mut next = next;
        let committed = self
            .commit(
                &slot,
                &before,
                &mut next,
                base_whole,
                opts.request.as_ref(),
                result.is_ok(),
                package,
                links,
            )
            .await;
        let (answer, state) = match (result, committed) {
            (Ok(message), Ok(())) => {
                span.in_scope(|| info!(stage = %next.stage, "{message}"));
                self.publish(
                    id,
                    step,
                    StepStatus::Succeeded,
                    100,
                    message,
                    next.stage,
                    None,
                );
                (Ok(next), OperationState::Succeeded)
            }
            (Err((err, state)), Ok(())) => {
                let message = err.to_string();
                span.in_scope(
                    || warn!(stage = %next.stage, reason = err.reason(), "step ended: {message}"),
                );
                self.publish(id, step, StepStatus::Failed, 0, message, next.stage, None);
                (Err(err), state)
            }
            (_, Err(err)) => {
                // Nothing changed: the enrollment stays at its last committed state and
                // the step can be retried once the store takes writes again.
                let message = err.to_string();
                span.in_scope(
                    || warn!(stage = %before.stage, reason = err.reason(), "step not recorded: {message}"),
                );
                self.publish(id, step, StepStatus::Failed, 0, message, before.stage, None);
                (Err(err), OperationState::Failed)
            }
        };
        let now = SystemTime::now();
        op_tx.revise(|o| {
            o.state = state;
            o.ended_at = Some(now);
            match &answer {
                Ok(_) => {
                    o.percent = 100;
                    o.message = format!("{step} succeeded");
                }
                Err(err) => {
                    o.message = err.to_string();
                    o.error_reason = Some(err.reason());
                    o.card_spoiled = o.card_used;
                }
            }
        });
        answer
    }

    /// Commits a step's outcome to the store (in a blocking thread: it seals and fsyncs),
    /// then makes it the slot's state (`whole`: `next` holds the recording's images). A
    /// finished enrollment leaves memory; its biometrics are wiped at once when the
    /// retention is zero.
    #[allow(clippy::too_many_arguments)]
    async fn commit(
        &self,
        slot: &Arc<Slot>,
        before: &Enrollment,
        next: &mut Enrollment,
        whole: bool,
        request: Option<&RequestKey>,
        remember: bool,
        package: Option<Vec<u8>>,
        links: Vec<Link>,
    ) -> Result<(), EnrollmentError> {
        let queued = package.is_some();
        let station = self.config.station_id.clone();
        let id = next.id.clone();
        let version = slot.version.load(std::sync::atomic::Ordering::SeqCst);
        let store = self.store.clone();
        let index = persist::index(next, self.config.utc_offset_minutes);
        let (before_rec, next_rec) = (before.recording.clone(), next.recording.clone());
        let mut summary_of = next.clone();
        let request = request.filter(|_| remember).cloned();
        let station_key = self.config.station_key.clone();
        let result = tokio::task::spawn_blocking(move || -> Result<_, EnrollmentError> {
            let (put, delete) = persist::changes(&before_rec, &next_rec)?;
            // Every artefact committed goes into the chain, as the store keeps it.
            let now = SystemTime::now();
            let mut chain_link = |kind: &str, name: &str, content: &[u8]| {
                rekam_integrity::append(
                    &mut summary_of.chain,
                    &station_key,
                    &id,
                    kind,
                    name,
                    content,
                    now,
                );
            };
            for (name, bytes) in &put {
                chain_link(crate::integrity::kind::CAPTURE, name, bytes);
            }
            if let Some(p) = &package {
                chain_link(crate::integrity::kind::PACKAGE, "package", p);
            }
            for l in &links {
                chain_link(l.kind, &l.name, &l.content);
            }
            let summary = persist::summary(&summary_of)?;
            let put: Vec<(&str, &[u8])> = put
                .iter()
                .map(|(n, b)| (n.as_str(), b.as_slice()))
                .collect();
            let delete: Vec<&str> = delete.iter().map(String::as_str).collect();
            let key = package
                .as_ref()
                .map(|p| rekam_outbox::idempotency_key(&id, p));
            Ok(store
                .commit(&Commit {
                    id: &id,
                    expected_version: version,
                    index: &index,
                    summary: &summary,
                    put: &put,
                    delete: &delete,
                    answer: request.as_ref().map(|k| RememberedAnswer {
                        request_id: &k.id,
                        fingerprint: k.fingerprint,
                        answer: &summary,
                    }),
                    enqueue: match (&key, &package) {
                        (Some(key), Some(package)) => Some(rekam_store::Enqueue {
                            key,
                            station_id: &station,
                            package,
                        }),
                        _ => None,
                    },
                })
                .map(|v| (v, summary_of.chain))?)
        })
        .await
        .map_err(|e| EnrollmentError::Format(format!("store task: {e}")))?;
        let result = match result {
            Ok((v, chain)) => {
                next.chain = chain;
                Ok(v)
            }
            Err(EnrollmentError::Store(e)) => Err(e),
            Err(other) => return Err(other),
        };
        let v = self.committed(result)?;
        slot.version.store(v, std::sync::atomic::Ordering::SeqCst);
        let keep = whole && (!light(next.stage) || holds_images(next.stage));
        {
            let mut data = lock(&slot.data);
            *data = if keep {
                next.clone()
            } else {
                next.without_images()
            };
            slot.images.store(keep, std::sync::atomic::Ordering::SeqCst);
        }
        if keep && holds_images(next.stage) {
            self.hold(&next.id);
        } else {
            self.release(&next.id);
        }
        if queued {
            self.wake_outbox();
        }
        if !procedure::is_open(next.stage) {
            lock(&self.slots).remove(&next.id);
            if self.config.biometrics_retention.is_zero() && wipe_due(next) {
                self.wipe(&next.id, v).await;
            }
        }
        Ok(())
    }

    /// Counts `id` among the recordings that keep their images, making the oldest beyond
    /// [`HELD_RECORDINGS`] light.
    fn hold(&self, id: &str) {
        let evicted = {
            let mut held = lock(&self.held);
            held.retain(|h| h != id);
            held.push_back(id.to_string());
            let n = held.len().saturating_sub(HELD_RECORDINGS);
            held.drain(..n).collect::<Vec<_>>()
        };
        for old in evicted {
            let slot = lock(&self.slots).get(&old).cloned();
            if let Some(slot) = slot {
                slot.lighten();
            }
        }
    }

    /// `id` no longer keeps its images in memory (finished, or waiting for a return visit).
    fn release(&self, id: &str) {
        lock(&self.held).retain(|h| h != id);
    }

    /// Wipes a finished enrollment's biometrics, keeping a minimal record.
    async fn wipe(&self, id: &str, version: u64) {
        let store = self.store.clone();
        let id = id.to_string();
        let r = tokio::task::spawn_blocking(move || -> Result<u64, EnrollmentError> {
            let e = persist::from_summary(
                &store
                    .load(&id)?
                    .ok_or_else(|| EnrollmentError::NotFound(id.clone()))?
                    .summary,
            )?;
            Ok(store.wipe(&id, version, &persist::summary(&minimal(&e))?)?)
        })
        .await;
        match r {
            Ok(Ok(_)) => info!("biometrics wiped after the retention period"),
            Ok(Err(e)) => warn!(error = %e, "cannot wipe the biometrics"),
            Err(e) => warn!(error = %e, "cannot wipe the biometrics"),
        }
    }

    /// Wipes the biometrics of every finished enrollment whose retention has passed
    /// (the daemon runs this periodically). Returns how many were wiped.
    pub async fn sweep(&self) -> Result<usize, EnrollmentError> {
        let store = self.store.clone();
        let rows = tokio::task::spawn_blocking(move || {
            store.list(&ListFilter {
                open: Some(false),
                ..ListFilter::default()
            })
        })
        .await
        .map_err(|e| EnrollmentError::Format(format!("store task: {e}")))??;
        let mut n = 0;
        let now = SystemTime::now();
        for row in rows.rows.iter().filter(|r| !r.wiped) {
            let e = persist::from_summary(&row.summary)?;
            let ended = e.history.last().map_or(e.created_at, |h| h.at);
            let due = now
                .duration_since(ended)
                .is_ok_and(|age| age >= self.config.biometrics_retention);
            if due && wipe_due(&e) && !lock(&self.slots).contains_key(&row.id) {
                self.wipe(&row.id, row.version).await;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Steps 1-2: the family card presented must carry the applicant's KK number.
    pub async fn check_documents(
        self: &Arc<Self>,
        id: &str,
        kk_on_document: &str,
        opts: StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let (id, kk) = (id.to_string(), kk_on_document.to_string());
        self.detached(opts.request.clone(), move |p| async move {
            p.check_documents_now(&id, &kk, &opts).await
        })
        .await
    }

    async fn check_documents_now(
        &self,
        id: &str,
        kk_on_document: &str,
        opts: &StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let found = kk_on_document.trim().to_string();
        self.run_step(id, Step::CheckDocuments, opts, async |e, _| {
            if found != e.applicant.kk_number {
                return Err(EnrollmentError::DocumentMismatch);
            }
            Ok("family card checked".into())
        })
        .await
    }

    /// Step 3: SIAK confirms the applicant.
    pub async fn verify_identity(
        self: &Arc<Self>,
        id: &str,
        opts: StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let id = id.to_string();
        self.detached(opts.request.clone(), move |p| async move {
            p.verify_identity_now(&id, &opts).await
        })
        .await
    }

    async fn verify_identity_now(
        &self,
        id: &str,
        opts: &StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let siak = self.siak.clone();
        self.run_step(id, Step::VerifyIdentity, opts, async |e, p| {
            p.report(10, "asking SIAK");
            let c = siak.verify(&e.applicant).await?;
            e.siak_reference = Some(c.reference.clone());
            e.siak = Some(SiakCheck {
                verdict: SiakVerdict::Match,
                reference: Some(c.reference.clone()),
                at: SystemTime::now(),
                record: Some(c.record),
            });
            Ok(format!("SIAK confirmed the applicant ({})", c.reference))
        })
        .await
    }

    /// Step 4: the face photo.
    pub async fn capture_face(
        self: &Arc<Self>,
        id: &str,
        opts: StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let id = id.to_string();
        self.detached(opts.request.clone(), move |p| async move {
            p.capture_face_now(&id, &opts).await
        })
        .await
    }

    async fn capture_face_now(
        &self,
        id: &str,
        opts: &StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let camera = self
            .registry
            .camera(opts.device_id.as_deref().unwrap_or(""))?;
        let timeout = self.config.device_timeout;
        self.run_step(id, Step::CaptureFace, opts, async |e, p| {
            p.device(&camera.info().id);
            p.report(10, "taking the photo");
            let frame = with_timeout(timeout, "taking the photo", camera.capture_still()).await?;
            p.report(60, "checking the photo");
            let analyser = self.config.face_analyser.clone();
            let face = blocking(move || {
                formats::check_face(&frame.jpeg, frame.width, frame.height, analyser.as_deref())
            })
            .await?;
            let message = match &face.analysis {
                Some(a) => format!(
                    "face photo recorded ({}x{}), {} checks passed, token portrait",
                    face.width,
                    face.height,
                    a.checks.len()
                ),
                None => format!("face photo recorded ({}x{})", face.width, face.height),
            };
            Arc::make_mut(&mut e.recording).face = Some(face);
            Ok(message)
        })
        .await
    }

    /// Step 4: the fingerprints, position by position (the 4-4-2 slaps, then any single
    /// fingers; on a single-finger scanner the ten fingers one by one; or only the
    /// positions asked for, keeping the others already recorded). A scanner below the
    /// station's resolution or single-finger capture area is refused first, unless the
    /// station accepts it. Every finger must reach the minimum quality: a position below
    /// it is captured again (up to the attempts allowed, keeping the best), and a finger
    /// that cannot reach it needs a supervisor's override with a reason, as does a missing
    /// finger (recorded as absent, without a capture). Then the sequence check runs over
    /// the whole set (no finger of one slap matches one of another; each single matches
    /// its slap finger); without slaps it cannot run, and makes no comparison. A failed
    /// check records nothing.
    pub async fn capture_fingerprints(
        self: &Arc<Self>,
        id: &str,
        plan: FingerprintPlan,
        opts: StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let id = id.to_string();
        self.detached(opts.request.clone(), move |p| async move {
            p.capture_fingerprints_now(&id, plan, &opts).await
        })
        .await
    }

    async fn capture_fingerprints_now(
        &self,
        id: &str,
        plan: FingerprintPlan,
        opts: &StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let plan = self.check_plan(plan)?;
        let scanner = self
            .registry
            .fingerprint(opts.device_id.as_deref().unwrap_or(""))?;
        let single_only = single_finger_only(&*scanner);
        let plan = check_plan_for_scanner(plan, single_only, &scanner.info().id)?;
        // The positions, in order: the slaps then `singles`, or every finger on a
        // single-finger scanner, or those asked for.
        let positions: Vec<FingerPosition> = if !plan.positions.is_empty() {
            plan.positions.clone()
        } else if single_only {
            FingerPosition::SINGLE.to_vec()
        } else {
            FingerPosition::SLAPS
                .into_iter()
                .chain(plan.singles.iter().copied())
                .collect()
        };
        let captures_singles = positions
            .iter()
            .any(|p| !p.is_slap() && !plan.missing.iter().any(|m| m.position == *p));
        let substandard = self.check_scanner(&*scanner, captures_singles)?;
        let timeout = plan.position_timeout.unwrap_or(self.config.device_timeout);
        let min_quality = plan
            .min_quality
            .unwrap_or(self.config.fingerprint_min_quality);
        let attempts = plan
            .max_attempts
            .unwrap_or(self.config.fingerprint_attempts)
            .max(1);
        self.run_step(id, Step::CaptureFingerprints, opts, async |e, p| {
            p.device(&scanner.info().id);
            let positions = positions.clone();
            let missing_in = |pos: FingerPosition| -> Vec<MissingFinger> {
                let fingers = pos.fingers();
                plan.missing
                    .iter()
                    .copied()
                    .filter(|m| fingers.contains(&m.position))
                    .collect()
            };
            // Slaps asked for whose fingers are all declared missing (on a single-finger
            // scanner, fingers declared missing) are recorded as such, without a capture.
            let (positions, absent_slaps): (Vec<FingerPosition>, Vec<FingerPosition>) = positions
                .into_iter()
                .partition(|pos| missing_in(*pos).len() < pos.fingers().len());
            let absent_slaps: Vec<FingerPosition> = absent_slaps
                .into_iter()
                .filter(|p| p.is_slap() || single_only)
                .collect();
            let overridden = |f: FingerPosition| plan.overrides.iter().any(|o| o.position == f);
            // The fingers of a capture that are below the threshold, not overridden.
            let failing = |fingers: &[FingerRecording]| -> Vec<FingerPosition> {
                fingers
                    .iter()
                    .filter(|f| {
                        f.missing.is_none() && f.quality < min_quality && !overridden(f.position)
                    })
                    .map(|f| f.position)
                    .collect()
            };
            let n = positions.len().max(1) as u32;
            // First pass: capture every position, assessing each in the CPU pool while
            // the applicant places the next hand.
            let mut assessing = Vec::new();
            for (i, pos) in positions.iter().copied().enumerate() {
                let here = missing_in(pos);
                p.prompt(
                    5 + 70 * i as u32 / n,
                    pos,
                    1,
                    format!("place {}", place_name(pos)),
                );
                let cap = with_timeout(
                    timeout,
                    "waiting for the fingers",
                    scanner.capture(pos, &here),
                )
                .await?;
                assessing.push(tokio::spawn(crate::cpu::run(move || {
                    assess(pos, cap.image, &here)
                })));
            }
            let mut captured: Vec<Captured> = Vec::new();
            for a in assessing {
                captured.push(
                    a.await
                        .map_err(|err| EnrollmentError::Format(format!("assessing: {err}")))???,
                );
            }
            // Later attempts, one position at a time, for the positions still below.
            for c in captured.iter_mut() {
                let mut attempt = 1;
                while attempt < attempts && !failing(c.fingers()).is_empty() {
                    attempt += 1;
                    let pos = c.position();
                    let here = missing_in(pos);
                    p.prompt(
                        80,
                        pos,
                        attempt,
                        format!("place {} again (attempt {attempt})", place_name(pos)),
                    );
                    let cap = with_timeout(
                        timeout,
                        "waiting for the fingers",
                        scanner.capture(pos, &here),
                    )
                    .await?;
                    let again = blocking(move || assess(pos, cap.image, &here)).await?;
                    // Keep the better: the one whose worst failing finger is higher.
                    if again.worst() > c.worst() {
                        *c = again;
                    }
                }
                c.set_attempts(attempt);
            }
            let mut low = Vec::new();
            for c in &captured {
                low.extend(failing(c.fingers()));
            }
            if !low.is_empty() {
                return Err(EnrollmentError::FingerQualityTooLow {
                    positions: low,
                    min_quality,
                });
            }
            // A supervisor's override goes with the fingers it accepts: those captured now
            // below the minimum, and the missing ones; the others keep what they had.
            let accept = |f: &mut FingerRecording| {
                let needed = f.missing.is_some() || f.quality < min_quality;
                f.override_reason = plan
                    .overrides
                    .iter()
                    .find(|o| needed && o.position == f.position)
                    .map(|o| format!("{} (supervisor {})", o.reason, o.supervisor));
                f.recapture =
                    f.missing.is_none() && f.quality < min_quality && f.override_reason.is_none();
            };
            captured
                .iter_mut()
                .for_each(|c| c.fingers_mut().iter_mut().for_each(accept));
            // The fingers of slaps wholly declared missing, recorded without a capture.
            let mut absent_now: Vec<FingerRecording> = absent_slaps
                .iter()
                .flat_map(|slap| slap.fingers())
                .filter_map(|f| plan.missing.iter().find(|m| m.position == f))
                .map(|m| FingerRecording {
                    position: m.position,
                    quality: 0,
                    recapture: false,
                    missing: Some(m.reason),
                    bbox: None,
                    image: None,
                    template: None,
                    override_reason: None,
                    attempts: 0,
                })
                .collect();
            absent_now.iter_mut().for_each(accept);
            let applied: Vec<(FingerPosition, String)> = captured
                .iter()
                .flat_map(|c| c.fingers().iter())
                .chain(absent_now.iter())
                .filter_map(|f| {
                    let why = f.override_reason.as_ref()?;
                    let what = if f.missing.is_some() {
                        "missing".to_string()
                    } else {
                        format!("quality {}", f.quality)
                    };
                    Some((
                        f.position,
                        format!("{} ({what}): {why}", position_name(f.position)),
                    ))
                })
                .collect();
            // Merge into what is recorded: each position captured now replaces its old one.
            let mut slaps = e.recording.slaps.clone();
            let mut singles = e.recording.singles.clone();
            let mut absent = e.recording.absent.clone();
            if plan.positions.is_empty() {
                slaps.clear();
                singles.clear();
                absent.clear();
            }
            slaps.retain(|s| !absent_slaps.contains(&s.position));
            for c in captured {
                match c {
                    Captured::Slap(s) => {
                        let fingers = s.position.fingers();
                        absent.retain(|f| !fingers.contains(&f.position));
                        slaps.retain(|x| x.position != s.position);
                        slaps.push(s);
                    }
                    Captured::Single(f) => {
                        if single_only {
                            // Captured now: no longer absent.
                            absent.retain(|a| a.position != f.position);
                        }
                        singles.retain(|x| x.position != f.position);
                        singles.push(f);
                    }
                }
            }
            slaps.sort_by_key(|s| FingerPosition::SLAPS.iter().position(|x| *x == s.position));
            absent.retain(|f| !absent_now.iter().any(|a| a.position == f.position));
            absent.extend(absent_now);
            if single_only {
                // Right thumb to left little, however they were (re)captured.
                singles.sort_by_key(|f| f.position);
                absent.sort_by_key(|f| f.position);
            }
            let no_slaps = slaps.is_empty();
            p.report(
                90,
                if no_slaps {
                    "no slaps: no finger sequence to check"
                } else {
                    "checking the finger sequence"
                },
            );
            let (slaps, singles, comparisons) = blocking(move || {
                formats::check_sequence(&slaps, &singles).map(|n| (slaps, singles, n))
            })
            .await?;
            let r = Arc::make_mut(&mut e.recording);
            r.slaps = slaps;
            r.singles = singles;
            r.absent = absent;
            r.sequence_comparisons = comparisons;
            r.fingerprints_done = r.fingers_lacking().is_empty();
            let mut message = if !no_slaps {
                format!("fingerprints recorded; sequence check passed ({comparisons} comparisons)")
            } else if single_only {
                "fingerprints recorded; no slaps: sequence check not possible with a \
                 single-finger scanner"
                    .to_string()
            } else {
                "fingerprints recorded; no slaps yet: the sequence check runs when they are \
                 captured"
                    .to_string()
            };
            let mut notes = Vec::new();
            if !applied.is_empty() {
                let names: Vec<&str> = applied.iter().map(|(f, _)| position_name(*f)).collect();
                message.push_str(&format!("; accepted by a supervisor: {}", names.join(", ")));
                let detail: Vec<&str> = applied.iter().map(|(_, d)| d.as_str()).collect();
                notes.push(format!("supervisor overrides: {}", detail.join("; ")));
            }
            if let Some(below) = &substandard {
                let what = format!(
                    "scanner below the requirement, accepted by the station's \
                     accept_substandard_scanner: {below}"
                );
                message.push_str(&format!("; {what}"));
                notes.push(what);
            }
            if !notes.is_empty() {
                p.note(notes.join("; "));
            }
            let still = still_to_capture(r, single_only);
            if !still.is_empty() {
                message.push_str(&format!("; still to capture: {}", still.join(", ")));
            }
            Ok(message)
        })
        .await
    }

    /// Checks the scanner against the station's minimum resolution and (when the step
    /// captures single fingers) single-finger capture area, before it is touched. Below
    /// them: refused, unless the station accepts a substandard scanner; then what it lacks
    /// is returned, for the step's message and note.
    fn check_scanner(
        &self,
        scanner: &dyn FingerprintScanner,
        captures_singles: bool,
    ) -> Result<Option<String>, EnrollmentError> {
        let single = if captures_singles {
            scanner.single_finger_size()
        } else {
            None
        };
        let short = shortfalls(&self.config, scanner.ppi(), single);
        if short.is_empty() {
            return Ok(None);
        }
        let device_id = scanner.info().id.clone();
        let detail = format!("it has {}", short.join(", and "));
        if self.config.accept_substandard_scanner {
            warn!(device = %device_id, %detail, "fingerprint scanner below the requirement, accepted by the configuration");
            Ok(Some(format!("{device_id}: {detail}")))
        } else {
            Err(EnrollmentError::ScannerBelowRequirement { device_id, detail })
        }
    }

    /// Checks a fingerprint plan before any device is touched: slaps and single fingers
    /// where each belongs, a reason for every override, an override for every missing
    /// finger, thresholds in range.
    fn check_plan(&self, mut plan: FingerprintPlan) -> Result<FingerprintPlan, EnrollmentError> {
        let mut bad = Vec::new();
        for (i, m) in plan.missing.iter().enumerate() {
            if m.position.is_slap() {
                bad.push(FieldViolation::new(
                    format!("missing[{i}].position"),
                    format!("missing fingers are single fingers, not {:?}", m.position),
                ));
            } else if !plan.overrides.iter().any(|o| o.position == m.position) {
                bad.push(FieldViolation::new(
                    format!("missing[{i}]"),
                    "a missing finger needs a supervisor's override with a reason (overrides)",
                ));
            }
        }
        for (i, s) in plan.singles.iter().enumerate() {
            if s.is_slap() || plan.missing.iter().any(|m| m.position == *s) {
                bad.push(FieldViolation::new(
                    format!("singles[{i}]"),
                    format!(
                        "{s:?} cannot be captured as a single finger (a slap, or declared missing)"
                    ),
                ));
            }
        }
        for (i, pos) in plan.positions.iter().enumerate() {
            if plan.positions[..i].contains(pos) {
                bad.push(FieldViolation::new(
                    format!("positions[{i}]"),
                    "is given twice",
                ));
            }
        }
        for (i, o) in plan.overrides.iter_mut().enumerate() {
            o.reason = o.reason.trim().to_string();
            o.supervisor = o.supervisor.trim().to_string();
            if o.position.is_slap() {
                bad.push(FieldViolation::new(
                    format!("overrides[{i}].position"),
                    "an override is for one finger, not a slap",
                ));
            }
            for (what, value) in [("reason", &o.reason), ("supervisor_id", &o.supervisor)] {
                let field = format!("overrides[{i}].{what}");
                if let Some(v) = crate::applicant::check_field(value, &field, 200, true) {
                    bad.push(v);
                }
            }
        }
        if plan.min_quality.is_some_and(|q| q > 100) {
            bad.push(FieldViolation::new("min_quality", "must be 0 to 100"));
        }
        if plan.max_attempts.is_some_and(|a| a > 10) {
            bad.push(FieldViolation::new("max_attempts", "must be 1 to 10"));
        }
        if bad.is_empty() {
            Ok(plan)
        } else {
            Err(EnrollmentError::InvalidRequest(bad))
        }
    }

    /// Step 4: the signature.
    pub async fn capture_signature(
        self: &Arc<Self>,
        id: &str,
        opts: StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let id = id.to_string();
        self.detached(opts.request.clone(), move |p| async move {
            p.capture_signature_now(&id, &opts).await
        })
        .await
    }

    async fn capture_signature_now(
        &self,
        id: &str,
        opts: &StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let pad = self
            .registry
            .signature(opts.device_id.as_deref().unwrap_or(""))?;
        let render = self.config.signature_renderer;
        let timeout = self.config.device_timeout;
        self.run_step(id, Step::CaptureSignature, opts, async |e, p| {
            use futures::StreamExt;
            p.device(&pad.info().id);
            pad.clear().await?;
            p.report(10, "the applicant signs on the pad");
            let mut stream = pad.sign();
            let drain = async {
                let mut n = 0usize;
                while let Some(s) = stream.next().await {
                    p.pen(&s?);
                    n += 1;
                }
                Ok::<usize, DeviceError>(n)
            };
            with_timeout(timeout, "waiting for the signature", drain).await?;
            let samples = pad.take().await?;
            let geometry = pad.geometry();
            let (png, _, _) = render(&samples, geometry, 600)
                .map_err(|e| EnrollmentError::Format(format!("signature image: {e}")))?;
            let n = samples.len();
            Arc::make_mut(&mut e.recording).signature = Some(SignatureRecording {
                samples,
                geometry,
                png,
            });
            Ok(format!("signature recorded ({n} samples)"))
        })
        .await
    }

    /// Step 4: closes the recording once everything is there and good enough.
    pub async fn finish_recording(
        self: &Arc<Self>,
        id: &str,
        opts: StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let id = id.to_string();
        self.detached(opts.request.clone(), move |p| async move {
            p.finish_recording_now(&id, &opts).await
        })
        .await
    }

    async fn finish_recording_now(
        &self,
        id: &str,
        opts: &StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let config = self.config.clone();
        self.run_step(id, Step::FinishRecording, opts, async |e, p| {
            let r = &e.recording;
            let mut lacking = Vec::new();
            if r.face.is_none() {
                lacking.push("face photo".to_string());
            }
            if !r.fingerprints_done {
                let fingers = r.fingers_lacking();
                // Named as the slaps still to capture once some slap is recorded, else
                // as the fingers (a single-finger scanner's recording).
                let still = still_to_capture(r, r.slaps.is_empty());
                lacking.push(
                    if fingers.is_empty()
                        || fingers.len() == FingerPosition::SINGLE.len()
                        || still.is_empty()
                    {
                        "fingerprints".to_string()
                    } else {
                        format!("fingerprints of {}", still.join(", "))
                    },
                );
            }
            if r.signature.is_none() {
                lacking.push("signature".to_string());
            }
            let poor: Vec<String> = r
                .fingers()
                .chain(r.singles.iter())
                .filter(|f| f.recapture)
                .map(|f| format!("{:?} (quality {})", f.position, f.quality))
                .collect();
            if !poor.is_empty() {
                lacking.push(format!("a better capture of {}", poor.join(", ")));
            }
            if !lacking.is_empty() {
                return Err(EnrollmentError::Incomplete(format!(
                    "still needed: {}",
                    lacking.join("; ")
                )));
            }
            // The package is built now and queued for the data centre in this step's
            // commit: the outbox starts delivering it at once.
            let snapshot = e.clone();
            let (package, report) =
                blocking(move || formats::build_package(&snapshot, &config)).await?;
            e.package_size = package.len();
            e.package_report = Some(report);
            p.queue_package(package);
            Ok("recording complete; its package is queued for the data centre".into())
        })
        .await
    }

    /// Step 5: sends the recording to the data centre. A failure keeps the recording and
    /// allows a receipt.
    pub async fn send(
        self: &Arc<Self>,
        id: &str,
        opts: StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let id = id.to_string();
        self.detached(opts.request.clone(), move |p| async move {
            p.send_now(&id, &opts).await
        })
        .await
    }

    async fn send_now(&self, id: &str, opts: &StepOptions) -> Result<Enrollment, EnrollmentError> {
        let store = self.store.clone();
        let wait = self.config.send_wait;
        let mut answers = self.answers.subscribe();
        self.run_step(id, Step::Send, opts, async |e, p| {
            // The officer's (re)try sends now, not at the outbox's next backoff.
            let sid = e.id.clone();
            let st = store.clone();
            blocking(move || Ok(st.outbox_retry_now(&sid)?)).await?;
            self.wake_outbox();
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                answers.borrow_and_update();
                let d = self.delivery_of(&e.id).ok_or_else(|| {
                    EnrollmentError::Incomplete(
                        "no package is queued: finish the recording first".into(),
                    )
                })?;
                if let Some((reason, detail)) = d.duplicate {
                    return Err(ServiceError::Duplicate { reason, detail }.into());
                }
                if let Some(reference) = d.print_ready_reference {
                    e.send_reference = Some(reference.clone());
                    e.send_failed = false;
                    return Ok(format!(
                        "the data centre confirmed the recording: print-ready ({reference})"
                    ));
                }
                if d.delivered_at.is_none()
                    && let Some(err) = d.last_error.as_ref().filter(|m| m.starts_with("PACKAGE_REJECTED"))
                {
                    return Err(ServiceError::Rejected(err.clone()).into());
                }
                let state = match (&d.received_reference, d.delivered_at) {
                    (Some(r), _) => format!("received ({r}); waiting for the duplicate check"),
                    (None, Some(_)) => "delivered; waiting for the data centre's answer".into(),
                    (None, None) => format!("delivering (attempt {})", d.attempts + 1),
                };
                p.report(50, state.clone());
                if tokio::time::Instant::now() >= deadline {
                    let why = match (&d.received_reference, &d.last_error) {
                        (Some(_), _) => state,
                        (None, Some(err)) => format!(
                            "not delivered after {} attempts ({err})",
                            d.attempts
                        ),
                        (None, None) => "no answer yet".to_string(),
                    };
                    return Err(ServiceError::Unavailable(
                        Remote::DataCentre,
                        format!(
                            "{why} within {wait:?}; issue a recording receipt: the outbox keeps trying and the answer is kept"
                        ),
                    )
                    .into());
                }
                // An answer wakes the step at once; delivery attempts are seen at the tick.
                let _ = tokio::time::timeout_at(
                    deadline.min(tokio::time::Instant::now() + Duration::from_millis(50)),
                    answers.changed(),
                )
                .await;
            }
        })
        .await
    }

    /// Step 8: the send failed: issue a recording receipt.
    pub async fn issue_receipt(
        self: &Arc<Self>,
        id: &str,
        opts: StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let id = id.to_string();
        self.detached(opts.request.clone(), move |p| async move {
            p.issue_receipt_now(&id, &opts).await
        })
        .await
    }

    async fn issue_receipt_now(
        &self,
        id: &str,
        opts: &StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let station = self.config.station_id.clone();
        let offset = self.config.utc_offset_minutes;
        let key = self.config.station_key.clone();
        self.run_step(id, Step::IssueReceipt, opts, async |e, _| {
            // Read under the step lock: a send running concurrently cannot slip in.
            if !e.send_failed {
                return Err(out_of_order(
                    Step::IssueReceipt,
                    e.stage,
                    "send the recording first; a receipt is only for a failed send",
                ));
            }
            // The receipt's serial comes from a ULID's random part: never reissued,
            // not even after a restart.
            let ulid = ulid::Ulid::new().to_string();
            let serial = &ulid[ulid.len() - 8..];
            let receipt = formats::receipt(e, &station, serial, SystemTime::now(), offset);
            let number = receipt.number.clone();
            e.receipt_qr = Some(rekam_integrity::sign_receipt(&key, &number));
            e.receipt = Some(receipt);
            Ok(format!("recording receipt {number} issued"))
        })
        .await
    }

    /// Step 6: prints the card. A deadline or cancellation cancels the print job.
    pub async fn print(
        self: &Arc<Self>,
        id: &str,
        opts: StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let id = id.to_string();
        self.detached(opts.request.clone(), move |p| async move {
            p.print_now(&id, &opts).await
        })
        .await
    }

    async fn print_now(&self, id: &str, opts: &StepOptions) -> Result<Enrollment, EnrollmentError> {
        self.print_as(id, Step::Print, opts).await
    }

    /// Prints the card as `step` (Print, or Reprint of a card spoiled, lost or whose chip
    /// failed: a new card, which then needs encoding).
    async fn print_as(
        &self,
        id: &str,
        step: Step,
        opts: &StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let printer = self
            .registry
            .printer(opts.device_id.as_deref().unwrap_or(""))?;
        if printer.inline_encoder() {
            return self.print_and_encode_as(id, step, opts, printer).await;
        }
        self.run_step(id, step, opts, async |e, p| {
            p.device(&printer.info().id);
            let job = self.card_job(e, p).await?;
            let job_id = printer.submit(job).await?;
            p.job(&job_id);
            e.print_job_id = Some(job_id.clone());
            let mut rx = printer.watch_job(&job_id)?;
            // Cancel the job if this step is dropped before the job ends.
            let mut guard = CancelJobOnDrop {
                printer: Some(printer.clone()),
                job_id: job_id.clone(),
            };
            loop {
                let status = rx.borrow_and_update().clone();
                match status.state {
                    PrintJobState::Done => break,
                    PrintJobState::Failed(failure, detail) => {
                        guard.printer = None;
                        return Err(DeviceError::Printer { failure, detail }.into());
                    }
                    PrintJobState::Cancelled => {
                        guard.printer = None;
                        return Err(DeviceError::Cancelled.into());
                    }
                    PrintJobState::Printing(pct) => {
                        p.card_used();
                        p.report(pct, "printing");
                    }
                    PrintJobState::Queued => p.report(0, "queued"),
                }
                if rx.changed().await.is_err() {
                    guard.printer = None;
                    return Err(DeviceError::Hardware("the printer dropped the job".into()).into());
                }
            }
            guard.printer = None;
            Ok(if step == Step::Reprint {
                format!("card reprinted ({job_id})")
            } else {
                format!("card printed ({job_id})")
            })
        })
        .await
    }

    /// The card to print for `e`: a new card, so the old one's chip is no longer this
    /// enrollment's card. Its images are chained and its fields kept for the hand-over.
    async fn card_job(
        &self,
        e: &mut Enrollment,
        p: &Progress<'_>,
    ) -> Result<CardJob, EnrollmentError> {
        e.card_uid = None;
        let snapshot = e.clone();
        let card = self.config.card.clone();
        let (front, back, black) = blocking(move || card.print_images(&snapshot)).await?;
        p.link(crate::integrity::kind::CARD, "card.front", front.clone());
        p.link(crate::integrity::kind::CARD, "card.back", back.clone());
        e.printed_fields = Some(
            e.applicant
                .card_fields()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        );
        Ok(CardJob {
            front_png: front,
            back_png: Some(back),
            test_card: false,
            black: Some(black),
        })
    }

    /// Print (or Reprint) on a printer with an encoder inside, as one card job: a blank
    /// goes to the encoder station, its chip is written and verified, then the card is
    /// printed and ejected, so that a bad chip wastes no ribbon and no printed card
    /// leaves without a verified chip. A card whose chip fails goes to the reject tray
    /// and the next blank is tried, up to [`PipelineConfig::card_attempts`] cards. Each
    /// card is a history entry (an Encode entry, failed with its card spoiled or
    /// succeeded) and each move a progress event; on success the enrollment is
    /// `Encoded`. The encoder is the station's default one (the reader at the printer's
    /// station).
    async fn print_and_encode_as(
        &self,
        id: &str,
        step: Step,
        opts: &StepOptions,
        printer: Arc<dyn rekam_core::CardPrinter>,
    ) -> Result<Enrollment, EnrollmentError> {
        let encoder = self.registry.encoder("")?;
        let limit = self.config.card_attempts.max(1);
        self.run_step(id, step, opts, async |e, p| {
            let (printer_id, encoder_id) = (printer.info().id.clone(), encoder.info().id.clone());
            p.device(&printer_id);
            p.device(&encoder_id);
            let job = self.card_job(e, p).await?;
            let files = self.chip_files(e).await?;
            let share = 90 / limit;
            for attempt in 1..=limit {
                let at = 5 + (attempt - 1) * share;
                let of = format!("card {attempt} of {limit}");
                p.report(at, format!("{of}: to the encoder station"));
                let card = printer.load_card_to_encoder().await?;
                p.card_used();
                p.report(at + share / 4, format!("{of}: writing the chip"));
                let mut entry = StepRecord::new(Step::Encode, StepStatus::Succeeded, "");
                entry.device_ids = vec![encoder_id.clone(), printer_id.clone()];
                match self.write_chip(encoder.as_ref(), &files, e, p).await {
                    Ok(chip) => {
                        p.report(at + share / 2, format!("{of}: {chip}; printing"));
                        if let Err(failed) = card.print_and_eject(job.clone()).await {
                            if let Some(card) = failed.card {
                                // Its chip is written: it must not be printed later as
                                // another's card, nor handed out blank.
                                if let Err(r) = card.reject().await {
                                    warn!(error = %r, "could not reject the encoded card");
                                }
                            }
                            return Err(failed.error.into());
                        }
                        entry.message = format!("{of}: {chip}");
                        p.record(entry);
                        p.lead_to_alternative();
                        return Ok(format!(
                            "card printed, its chip encoded and verified in one pass ({of}; {chip})"
                        ));
                    }
                    Err(err) => {
                        let rejected = card.reject().await;
                        entry.status = StepStatus::Failed;
                        entry.error_reason = Some(err.reason().to_string());
                        entry.card_spoiled = true;
                        entry.message = match &rejected {
                            Ok(()) => format!("{of}: {err}; the card went to the reject tray"),
                            Err(r) => format!("{of}: {err}; the card could not be rejected: {r}"),
                        };
                        p.report(at + share / 2, entry.message.clone());
                        p.record(entry);
                        if let Err(r) = rejected {
                            return Err(r.error.into());
                        }
                        if attempt == limit || !chip_fault(&err) {
                            return Err(err);
                        }
                    }
                }
            }
            Err(EnrollmentError::Format("no card was tried".into()))
        })
        .await
    }

    /// The files of `e`'s chip, made on a blocking thread (it signs).
    async fn chip_files(&self, e: &Enrollment) -> Result<Vec<ChipFile>, EnrollmentError> {
        let snapshot = e.clone();
        let chip = self.config.chip.clone();
        blocking(move || crate::chip::profile_files(&snapshot, &chip)).await
    }

    /// Writes `files` to the chip in `encoder`'s field, reads them back and verifies them
    /// against the issuer; on success chains them, keeps DG1's fields and the chip's UID
    /// in `e`, and says what was done.
    async fn write_chip(
        &self,
        encoder: &dyn rekam_core::ChipEncoder,
        files: &[ChipFile],
        e: &mut Enrollment,
        p: &Progress<'_>,
    ) -> Result<String, EnrollmentError> {
        let total: usize = files.iter().map(|f| f.data.len()).sum();
        let (uid, back) = encoder.write_and_read_back(files).await?;
        for f in files {
            let read = back.iter().find(|b| b.fid == f.fid);
            if read.is_none_or(|b| b.data != f.data) {
                return Err(DeviceError::VerifyMismatch(format!(
                    "file {:#06x}: wrote {} bytes, read back {} that differ",
                    f.fid,
                    f.data.len(),
                    read.map_or(0, |b| b.data.len())
                ))
                .into());
            }
        }
        // What the chip gave back verifies against the issuer (hashes, signature, chain).
        let chip = self.config.chip.clone();
        let verdict = blocking(move || crate::chip::verify_read_back(&back, &chip)).await?;
        // Every file read back equals what was written: the chip holds these bytes.
        for f in files {
            p.link(
                crate::integrity::kind::CHIP,
                crate::integrity::chip_name(f.fid),
                f.data.clone(),
            );
        }
        let dg1 = files
            .iter()
            .find(|f| f.fid == formats::fid::DG1)
            .ok_or_else(|| EnrollmentError::Format("no DG1 was written".into()))?;
        e.chip_fields = Some(crate::integrity::dg1_fields(&dg1.data)?);
        let hex: String = uid.iter().map(|b| format!("{b:02X}")).collect();
        e.card_uid = Some(uid);
        Ok(format!(
            "chip {hex} encoded and verified ({total} bytes; {verdict})"
        ))
    }

    /// The chip profile the encode step writes (capacity, document signer, issuer CA).
    pub fn chip_config(&self) -> &crate::chip::ChipConfig {
        &self.config.chip
    }

    /// Step 7: encodes the chip and verifies it by reading it back.
    pub async fn encode(
        self: &Arc<Self>,
        id: &str,
        opts: StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let id = id.to_string();
        self.detached(opts.request.clone(), move |p| async move {
            p.encode_now(&id, &opts).await
        })
        .await
    }

    async fn encode_now(
        &self,
        id: &str,
        opts: &StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        self.encode_as(id, Step::Encode, opts).await
    }

    /// Encodes the chip as `step` (Encode, or Reencode of a chip that failed).
    async fn encode_as(
        &self,
        id: &str,
        step: Step,
        opts: &StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let encoder = self
            .registry
            .encoder(opts.device_id.as_deref().unwrap_or(""))?;
        self.run_step(id, step, opts, async |e, p| {
            p.device(&encoder.info().id);
            let files = self.chip_files(e).await?;
            let total: usize = files.iter().map(|f| f.data.len()).sum();
            p.report(10, format!("writing {} files ({total} bytes)", files.len()));
            self.write_chip(encoder.as_ref(), &files, e, p).await
        })
        .await
    }

    /// Steps 9-10: the card is handed over.
    pub async fn hand_over(
        self: &Arc<Self>,
        id: &str,
        opts: StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let id = id.to_string();
        self.detached(opts.request.clone(), move |p| async move {
            p.hand_over_now(&id, &opts).await
        })
        .await
    }

    async fn hand_over_now(
        &self,
        id: &str,
        opts: &StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        self.run_step(id, Step::HandOver, opts, async |e, _| {
            let agreed = crate::integrity::three_way(e)?;
            Ok(format!("KTP-el handed over ({agreed})"))
        })
        .await
    }

    /// Checks an enrollment's artefact chain against what the store holds now (its
    /// summary and artefacts read back from disk, the card images and chip files made
    /// again from them): any change since a step committed it is reported.
    pub async fn verify(
        &self,
        id: &str,
    ) -> Result<crate::integrity::Verification, EnrollmentError> {
        let store = self.store.clone();
        let key = self.config.station_key.clone();
        let chip = self.config.chip.clone();
        let card = self.config.card.clone();
        let id = id.to_string();
        blocking(move || {
            let row = store
                .load(&id)?
                .ok_or_else(|| EnrollmentError::NotFound(id.clone()))?;
            let e = persist::from_summary(&row.summary)?;
            let artefacts = store.artefacts(&id)?;
            let whole = if e.wiped {
                e
            } else {
                persist::assemble(e, artefacts.clone())?
            };
            crate::integrity::verify(&whole, &artefacts, &key, &chip, &card)
        })
        .await
    }

    /// The daily report of a station day (see [`crate::report`]): every enrollment in the
    /// store is read (summaries only), with the deliveries still on their way.
    pub async fn daily_report(
        self: &Arc<Self>,
        day: crate::applicant::Date,
    ) -> Result<crate::report::DailyReport, EnrollmentError> {
        let p = self.clone();
        let offset = self.config.utc_offset_minutes;
        blocking(move || {
            let enrollments = p.list()?;
            let pending = p.deliveries(true, 0)?;
            Ok(crate::report::daily(
                day,
                offset,
                &enrollments,
                &pending,
                SystemTime::now(),
            ))
        })
        .await
    }

    /// The QR content of a recording receipt: its number signed by the station.
    pub fn receipt_qr(&self, number: &str) -> String {
        rekam_integrity::sign_receipt(&self.config.station_key, number)
    }

    /// The recording receipt of an enrollment as a printable page: a PDF, or a PNG
    /// preview of the same layout; with the receipt's number and QR content.
    pub async fn receipt_document(
        &self,
        id: &str,
        pdf: bool,
    ) -> Result<ReceiptDocument, EnrollmentError> {
        let e = self.get(id)?;
        let receipt = e.receipt.as_ref().ok_or_else(|| {
            EnrollmentError::MediaNotFound(
                "no recording receipt was issued for this enrollment".into(),
            )
        })?;
        if e.wiped {
            return Err(EnrollmentError::MediaNotFound(WIPED.into()));
        }
        let recorded_on = persist::day(formats::local_date(
            receipt.issued_at,
            self.config.utc_offset_minutes,
        ));
        let page = rekam_receipt::ReceiptPage {
            office: self.config.office.clone(),
            station: self.config.station_id.clone(),
            number: receipt.number.clone(),
            nik: e.applicant.nik.clone(),
            name: e.applicant.name.clone(),
            recorded_on,
            collect_from: receipt.collect_from.to_string(),
            qr: e
                .receipt_qr
                .clone()
                .unwrap_or_else(|| self.receipt_qr(&receipt.number)),
        };
        blocking(move || {
            let out = if pdf {
                rekam_receipt::pdf(&page)
            } else {
                rekam_receipt::png(&page)
            };
            let data =
                out.map_err(|err| EnrollmentError::Format(format!("the receipt page: {err}")))?;
            Ok(ReceiptDocument {
                data,
                number: page.number,
                qr: page.qr,
            })
        })
        .await
    }

    /// The return visit: the QR code of a recording receipt (its content as scanned)
    /// finds the enrollment. A QR this station did not sign is refused. When the data
    /// centre has answered "print-ready", the send step is completed now, so the card can
    /// be printed at once; otherwise the outbox tries the package again at once. The answer
    /// says whether the card can be printed.
    pub async fn open_receipt(
        self: &Arc<Self>,
        qr: &str,
        opts: StepOptions,
    ) -> Result<(Enrollment, bool), EnrollmentError> {
        let public = self.config.station_key.public();
        let number = rekam_integrity::verify_receipt(qr.trim(), &|kid: &str| {
            (kid == public.key_id()).then_some(public)
        })?;
        let page = self.list_page(&ListQuery {
            receipt_number: Some(number.clone()),
            limit: 1,
            ..ListQuery::default()
        })?;
        let e = page
            .enrollments
            .into_iter()
            .next()
            .ok_or_else(|| EnrollmentError::ReceiptNotFound(number.clone()))?;
        let e = self.get(&e.id)?;
        if e.stage != Stage::ReceiptIssued {
            let ready = matches!(e.stage, Stage::Sent);
            return Ok((e, ready));
        }
        let print_ready = e
            .delivery
            .as_ref()
            .is_some_and(|d| d.print_ready_reference.is_some());
        if !print_ready {
            // The applicant is back and the package is still on its way: try now rather
            // than at the outbox's next backoff.
            let (store, sid) = (self.store.clone(), e.id.clone());
            blocking(move || Ok(store.outbox_retry_now(&sid)?)).await?;
            self.wake_outbox();
            return Ok((e, false));
        }
        let e = self.send(&e.id, opts).await?;
        Ok((e, true))
    }
}

/// A recording receipt, rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptDocument {
    /// The PDF or PNG.
    pub data: Vec<u8>,
    /// The receipt's number.
    pub number: String,
    /// The content of its QR code.
    pub qr: String,
}

/// Why a card is printed or encoded again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardReason {
    /// The card came out spoiled (misprint, damaged in handling).
    Spoiled,
    /// The chip failed (cannot be written or read back).
    ChipFailed,
    /// The applicant lost the card.
    Lost,
    /// The card was damaged in use.
    Damaged,
}

impl std::fmt::Display for CardReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CardReason::Spoiled => "spoiled",
            CardReason::ChipFailed => "chip failed",
            CardReason::Lost => "lost",
            CardReason::Damaged => "damaged",
        })
    }
}

fn reason_note(reason: CardReason, note: &str) -> Result<String, EnrollmentError> {
    let note = note.trim();
    if note.is_empty() {
        return Ok(reason.to_string());
    }
    let limit = crate::applicant::TextLimit {
        field: "note",
        max_chars: 200,
        digits: true,
    };
    if let Some(v) = crate::applicant::check_text(note, &limit) {
        return Err(EnrollmentError::InvalidRequest(vec![v]));
    }
    Ok(format!("{reason}: {note}"))
}

impl Pipeline {
    /// Prints the card again (a spoiled card, a failed chip, a lost or damaged card): the
    /// enrollment returns to PRINTED and the new card needs encoding. The reason is kept
    /// in the history.
    pub async fn reprint(
        self: &Arc<Self>,
        id: &str,
        reason: CardReason,
        note: &str,
        mut opts: StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        opts.note = Some(reason_note(reason, note)?);
        let id = id.to_string();
        self.detached(opts.request.clone(), move |p| async move {
            p.print_as(&id, Step::Reprint, &opts).await
        })
        .await
    }

    /// Encodes the chip again (it failed, or was found unreadable before hand-over).
    pub async fn reencode(
        self: &Arc<Self>,
        id: &str,
        reason: CardReason,
        note: &str,
        mut opts: StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        opts.note = Some(reason_note(reason, note)?);
        let id = id.to_string();
        self.detached(opts.request.clone(), move |p| async move {
            p.encode_as(&id, Step::Reencode, &opts).await
        })
        .await
    }

    /// Corrects the applicant's data before the recording is sent. The NIK cannot change
    /// (that is another person: cancel and open a new enrollment). A new KK number sends the
    /// enrollment back to CREATED (the family card is checked again); a change to what SIAK
    /// checks (name, place or date of birth, sex) after SIAK confirmed sends it back to
    /// DOCUMENTS_CHECKED (SIAK is asked again); the recording is kept either way. The
    /// history entry names the fields that changed, not their values.
    pub async fn update_applicant(
        self: &Arc<Self>,
        id: &str,
        applicant: Applicant,
        mut opts: StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        applicant.validate()?;
        let id = id.to_string();
        self.detached(opts.request.clone(), move |p| async move {
            let current = p.get(&id)?;
            if current.applicant.nik != applicant.nik {
                return Err(EnrollmentError::invalid(
                    "applicant.nik",
                    "the NIK cannot change: cancel this enrollment and open one for the other NIK",
                ));
            }
            let changed = changed_fields(&current.applicant, &applicant);
            opts.note = Some(if changed.is_empty() {
                "nothing changed".to_string()
            } else {
                format!("changed: {}", changed.join(", "))
            });
            p.run_step(
                &id,
                Step::UpdateApplicant,
                &opts,
                async |e: &mut Enrollment, _: &Progress<'_>| {
                    let kk = e.applicant.kk_number != applicant.kk_number;
                    let siak = e.applicant.name != applicant.name
                        || e.applicant.birth_place != applicant.birth_place
                        || e.applicant.birth_date != applicant.birth_date
                        || e.applicant.sex != applicant.sex;
                    e.applicant = applicant.clone();
                    if kk {
                        e.stage = Stage::Created;
                        e.siak_reference = None;
                    } else if siak && matches!(e.stage, Stage::IdentityVerified | Stage::Recorded) {
                        e.stage = Stage::DocumentsChecked;
                        e.siak_reference = None;
                    }
                    Ok(format!(
                        "applicant updated ({} field{})",
                        changed.len(),
                        if changed.len() == 1 { "" } else { "s" }
                    ))
                },
            )
            .await
        })
        .await
    }

    /// Cancels the enrollment with the officer's reason (kept in its history). A running
    /// step must be cancelled first (`cancel_step`); a handed-over card is not cancelled.
    pub async fn cancel(
        self: &Arc<Self>,
        id: &str,
        reason: &str,
        mut opts: StepOptions,
    ) -> Result<Enrollment, EnrollmentError> {
        let reason = reason.trim().to_string();
        let limit = crate::applicant::TextLimit {
            field: "reason",
            max_chars: 200,
            digits: true,
        };
        if let Some(v) = crate::applicant::check_text(&reason, &limit) {
            return Err(EnrollmentError::InvalidRequest(vec![v]));
        }
        opts.note = Some(reason.clone());
        let id = id.to_string();
        self.detached(opts.request.clone(), move |p| async move {
            p.run_step(
                &id,
                Step::Cancel,
                &opts,
                async |e: &mut Enrollment, _: &Progress<'_>| {
                    e.cancel_reason = Some(reason.clone());
                    Ok("enrollment cancelled".to_string())
                },
            )
            .await
        })
        .await
    }
}

/// The names of the fields that differ (never their values).
fn changed_fields(a: &Applicant, b: &Applicant) -> Vec<&'static str> {
    let mut v = Vec::new();
    let mut cmp = |name, same: bool| {
        if !same {
            v.push(name);
        }
    };
    cmp("kk_number", a.kk_number == b.kk_number);
    cmp("name", a.name == b.name);
    cmp("birth_place", a.birth_place == b.birth_place);
    cmp("birth_date", a.birth_date == b.birth_date);
    cmp("sex", a.sex == b.sex);
    cmp("address", a.address == b.address);
    cmp("rt", a.rt == b.rt);
    cmp("rw", a.rw == b.rw);
    cmp("village", a.village == b.village);
    cmp("district", a.district == b.district);
    cmp("regency", a.regency == b.regency);
    cmp("province", a.province == b.province);
    cmp("religion", a.religion == b.religion);
    cmp("marital_status", a.marital_status == b.marital_status);
    cmp("occupation", a.occupation == b.occupation);
    cmp("citizenship", a.citizenship == b.citizenship);
    cmp("blood_type", a.blood_type == b.blood_type);
    v
}

/// True for a scanner that captures single fingers only: its positions are known and
/// include no slap. (Unknown positions: a slap scanner, as before.)
fn single_finger_only(scanner: &dyn FingerprintScanner) -> bool {
    let positions = scanner.positions();
    !positions.is_empty() && !positions.iter().any(|p| p.is_slap())
}

/// Refuses a plan that asks a single-finger scanner for a slap.
fn check_plan_for_scanner(
    plan: FingerprintPlan,
    single_only: bool,
    device_id: &str,
) -> Result<FingerprintPlan, EnrollmentError> {
    if !single_only {
        return Ok(plan);
    }
    let bad: Vec<FieldViolation> = plan
        .positions
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is_slap())
        .map(|(i, p)| {
            FieldViolation::new(
                format!("positions[{i}]"),
                format!(
                    "{device_id} captures single fingers only, not the slap {}: ask for its \
                     fingers one by one (or leave positions empty for all ten)",
                    position_name(*p)
                ),
            )
        })
        .collect();
    if bad.is_empty() {
        Ok(plan)
    } else {
        Err(EnrollmentError::InvalidRequest(bad))
    }
}

/// What the fingerprint step still has to capture, by name: the fingers still lacking on
/// a single-finger scanner, the slaps with a finger lacking otherwise.
fn still_to_capture(r: &Recording, by_finger: bool) -> Vec<&'static str> {
    if by_finger {
        r.fingers_lacking().into_iter().map(position_name).collect()
    } else {
        r.slaps_lacking().into_iter().map(position_name).collect()
    }
}

/// A length in pixels at `ppi`, in millimetres.
fn pixels_mm(pixels: u32, ppi: u32) -> f32 {
    pixels as f32 * 25.4 / ppi as f32
}

/// What a scanner or an image lacks against the station's minimums, one phrase each
/// (empty when it meets them, or when what it has is unknown): its resolution, and, for a
/// single finger (`single`), its capture area from its image size at that resolution.
pub(crate) fn shortfalls(
    config: &PipelineConfig,
    ppi: u32,
    single: Option<(u32, u32)>,
) -> Vec<String> {
    // Half a hundredth of a millimetre for rounding: 250 pixels at 500 ppi is 12.7 mm.
    const SLACK_MM: f32 = 0.005;
    let mut short = Vec::new();
    if ppi == 0 {
        return short;
    }
    if ppi < config.fingerprint_min_ppi {
        short.push(format!(
            "{ppi} ppi, below the {} ppi required (fingerprint_min_ppi)",
            config.fingerprint_min_ppi
        ));
    }
    if let Some((w, h)) = single {
        let (wm, hm) = (pixels_mm(w, ppi), pixels_mm(h, ppi));
        let (min_w, min_h) = config.fingerprint_min_area_mm;
        if wm + SLACK_MM < min_w || hm + SLACK_MM < min_h {
            short.push(format!(
                "a single-finger capture area of {wm:.1} x {hm:.1} mm ({w} x {h} pixels at \
                 {ppi} ppi), smaller than the {min_w:.1} x {min_h:.1} mm required \
                 (fingerprint_min_area_mm)"
            ));
        }
    }
    short
}

fn place_name(p: FingerPosition) -> String {
    match p {
        FingerPosition::RightFour => "the four fingers of the right hand".into(),
        FingerPosition::LeftFour => "the four fingers of the left hand".into(),
        FingerPosition::BothThumbs => "both thumbs".into(),
        single => format!("the {} finger alone", position_name(single)),
    }
}

/// One position as captured and assessed.
enum Captured {
    Slap(SlapRecording),
    Single(FingerRecording),
}

impl Captured {
    fn position(&self) -> FingerPosition {
        match self {
            Captured::Slap(s) => s.position,
            Captured::Single(f) => f.position,
        }
    }
    fn fingers(&self) -> &[FingerRecording] {
        match self {
            Captured::Slap(s) => &s.fingers,
            Captured::Single(f) => std::slice::from_ref(f),
        }
    }
    fn fingers_mut(&mut self) -> &mut [FingerRecording] {
        match self {
            Captured::Slap(s) => &mut s.fingers,
            Captured::Single(f) => std::slice::from_mut(f),
        }
    }
    /// The lowest quality of its present fingers (what an attempt improves).
    fn worst(&self) -> u8 {
        self.fingers()
            .iter()
            .filter(|f| f.missing.is_none())
            .map(|f| f.quality)
            .min()
            .unwrap_or(100)
    }
    fn set_attempts(&mut self, n: u32) {
        match self {
            Captured::Slap(s) => s.fingers.iter_mut().for_each(|f| f.attempts = n),
            Captured::Single(f) => f.attempts = n,
        }
    }
}

/// Assesses one capture: a slap into its fingers, or a single finger.
fn assess(
    pos: FingerPosition,
    image: GreyImage,
    missing: &[MissingFinger],
) -> Result<Captured, EnrollmentError> {
    Ok(if pos.is_slap() {
        Captured::Slap(formats::assess_slap(pos, image, missing)?)
    } else {
        Captured::Single(formats::assess_single(pos, image))
    })
}

/// Runs CPU-bound format work off the async runtime, in the bounded pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, EnrollmentError> + Send + 'static,
) -> Result<T, EnrollmentError> {
    crate::cpu::run(f).await?
}

async fn with_timeout<T>(
    limit: Duration,
    what: &str,
    f: impl std::future::Future<Output = Result<T, DeviceError>>,
) -> Result<T, DeviceError> {
    tokio::time::timeout(limit, f)
        .await
        .map_err(|_| DeviceError::Timeout(format!("{what} took longer than {limit:?}")))?
}

/// True for a failure of the card in the field (its chip), which the next blank card may
/// not have; false for one of the encoder or the station (disconnected, hardware, keys),
/// which every card would meet.
fn chip_fault(err: &EnrollmentError) -> bool {
    matches!(
        err,
        EnrollmentError::Device(
            DeviceError::NoCard
                | DeviceError::CardRemoved(_)
                | DeviceError::VerifyMismatch(_)
                | DeviceError::WrongCard(_)
                | DeviceError::Protocol(_)
        )
    )
}

struct CancelJobOnDrop {
    printer: Option<Arc<dyn rekam_core::CardPrinter>>,
    job_id: String,
}

impl Drop for CancelJobOnDrop {
    fn drop(&mut self) {
        if let Some(printer) = self.printer.take() {
            let job_id = std::mem::take(&mut self.job_id);
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = printer.cancel(&job_id).await;
                });
            }
        }
    }
}

/// Why a wiped enrollment has no images and no more steps.
const WIPED: &str = "the applicant's data and biometrics were wiped after the retention period; a new card needs a new enrollment";

/// True when a finished enrollment's biometrics may go: the card was handed over after the
/// data centre confirmed the recording, or the enrollment was cancelled.
fn wipe_due(e: &Enrollment) -> bool {
    match e.stage {
        Stage::HandedOver => e.send_reference.is_some(),
        Stage::Cancelled => true,
        _ => false,
    }
}

/// SIAK's verdict when a verification failed because of what SIAK answered (not when it
/// could not be reached).
fn siak_answer(err: &EnrollmentError) -> Option<SiakCheck> {
    let (verdict, reference) = match err {
        EnrollmentError::Service(ServiceError::Mismatch { fields, reference }) => {
            (SiakVerdict::Mismatch(fields.clone()), reference.clone())
        }
        EnrollmentError::Service(ServiceError::NotRegistered) => (SiakVerdict::NotRegistered, None),
        _ => return None,
    };
    Some(SiakCheck {
        verdict,
        reference,
        at: SystemTime::now(),
        record: None,
    })
}

/// The record kept after the biometrics are wiped: ids, times, outcomes and the sizes of
/// what was recorded; no personal data (the applicant's fields are emptied but for the
/// NIK's region code) and no images.
fn minimal(e: &Enrollment) -> Enrollment {
    let mut m = e.without_images();
    m.applicant = Applicant::wiped(&e.applicant);
    let r = Arc::make_mut(&mut m.recording);
    if let Some(s) = r.signature.as_mut() {
        s.samples.clear();
    }
    m.last_error = None;
    m.running = None;
    // The fields printed, read from the chip and SIAK's record are personal data; the
    // chain keeps only hashes, and stays.
    m.printed_fields = None;
    m.chip_fields = None;
    if let Some(c) = m.siak.as_mut() {
        c.record = None;
    }
    m.wiped = true;
    m
}

/// Converts a core image to an `image` crate buffer.
pub(crate) fn to_gray(img: &GreyImage) -> Option<image::GrayImage> {
    image::GrayImage::from_raw(img.width, img.height, img.pixels.clone())
}
