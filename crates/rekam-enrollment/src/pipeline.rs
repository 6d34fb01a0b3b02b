//! The procedure as a state machine: one method per step, each checking the stage,
//! driving devices through their traits, and committing its result only when it
//! succeeds. A failed or cancelled step leaves the enrollment as it was, with everything
//! recorded before it, so it can be retried.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rekam_core::{
    CardJob, DeviceError, FingerPosition, GreyImage, MissingFinger, PadGeometry, PenSample,
    PrintJobState, Registry, write_and_verify,
};
use tokio::sync::broadcast;
use tracing::{Instrument, info, info_span, warn};

use crate::applicant::Applicant;
use crate::error::{EnrollmentError, FieldViolation};
use crate::formats;
use crate::model::*;
use crate::services::{DataCentre, Siak, Submission};

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
}

struct Slot {
    data: Mutex<Enrollment>,
    step_lock: tokio::sync::Mutex<()>,
}

/// The enrollment procedure over the station's devices and services.
pub struct Pipeline {
    registry: Arc<Registry>,
    siak: Arc<dyn Siak>,
    data_centre: Arc<dyn DataCentre>,
    config: PipelineConfig,
    store: Mutex<BTreeMap<String, Arc<Slot>>>,
    counter: AtomicU64,
    receipts: AtomicU64,
    events: broadcast::Sender<EnrollmentEvent>,
}

/// Reports progress of the running step.
pub struct Progress<'a> {
    pipeline: &'a Pipeline,
    id: &'a str,
    step: Step,
    stage: Stage,
}

impl Progress<'_> {
    /// Publishes a progress event.
    pub fn report(&self, percent: u32, message: impl Into<String>) {
        self.pipeline.publish(
            self.id,
            self.step,
            StepStatus::Progress,
            percent,
            message.into(),
            self.stage,
        );
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

impl Pipeline {
    /// A pipeline over the given devices and services.
    pub fn new(
        registry: Arc<Registry>,
        siak: Arc<dyn Siak>,
        data_centre: Arc<dyn DataCentre>,
        config: PipelineConfig,
    ) -> Self {
        let (events, _) = broadcast::channel(1024);
        Pipeline {
            registry,
            siak,
            data_centre,
            config,
            store: Mutex::new(BTreeMap::new()),
            counter: AtomicU64::new(0),
            receipts: AtomicU64::new(0),
            events,
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

    fn publish(
        &self,
        id: &str,
        step: Step,
        status: StepStatus,
        percent: u32,
        message: String,
        stage: Stage,
    ) {
        // Nobody listening is fine.
        let _ = self.events.send(EnrollmentEvent {
            enrollment_id: id.to_string(),
            step,
            status,
            percent,
            message,
            stage,
            at: SystemTime::now(),
        });
    }

    fn slot(&self, id: &str) -> Result<Arc<Slot>, EnrollmentError> {
        lock(&self.store)
            .get(id)
            .cloned()
            .ok_or_else(|| EnrollmentError::NotFound(id.to_string()))
    }

    /// One enrollment as it is now.
    pub fn get(&self, id: &str) -> Result<Enrollment, EnrollmentError> {
        Ok(lock(&self.slot(id)?.data).clone())
    }

    /// Every enrollment, newest first.
    pub fn list(&self) -> Vec<Enrollment> {
        let slots: Vec<Arc<Slot>> = lock(&self.store).values().cloned().collect();
        let mut all: Vec<Enrollment> = slots.iter().map(|s| lock(&s.data).clone()).collect();
        all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        all
    }

    /// Opens an enrollment for a valid applicant.
    pub fn create(&self, applicant: Applicant) -> Result<Enrollment, EnrollmentError> {
        applicant.validate()?;
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        let id = format!("enr-{n:06}");
        let now = SystemTime::now();
        let e = Enrollment {
            id: id.clone(),
            applicant,
            stage: Stage::Created,
            recording: Arc::default(),
            history: vec![StepRecord {
                step: Step::Create,
                status: StepStatus::Succeeded,
                at: now,
                message: "enrollment opened".into(),
            }],
            siak_reference: None,
            send_failed: false,
            send_reference: None,
            receipt: None,
            print_job_id: None,
            card_uid: None,
            created_at: now,
            last_error: None,
            package_size: 0,
            package_report: None,
        };
        lock(&self.store).insert(
            id.clone(),
            Arc::new(Slot {
                data: Mutex::new(e.clone()),
                step_lock: tokio::sync::Mutex::new(()),
            }),
        );
        info!(enrollment = %id, "enrollment created");
        self.publish(
            &id,
            Step::Create,
            StepStatus::Succeeded,
            100,
            "enrollment opened".into(),
            Stage::Created,
        );
        Ok(e)
    }

    /// Runs one step: checks the stage with `allowed`, runs `work` on a copy of the
    /// enrollment, and commits the copy only on success. On failure the stored enrollment
    /// keeps everything it had, gains a FAILED history entry, and `on_failure` may mark it
    /// (e.g. a failed send allows a receipt).
    async fn run_step<F>(
        &self,
        id: &str,
        step: Step,
        allowed: &[Stage],
        hint: &str,
        work: F,
    ) -> Result<Enrollment, EnrollmentError>
    where
        F: AsyncFnOnce(&mut Enrollment, &Progress<'_>) -> Result<String, EnrollmentError>,
    {
        let slot = self.slot(id)?;
        let _running = slot
            .step_lock
            .try_lock()
            .map_err(|_| EnrollmentError::StepInProgress(id.to_string()))?;
        let mut work_copy = lock(&slot.data).clone();
        if !allowed.contains(&work_copy.stage) {
            return Err(out_of_order(step, work_copy.stage, hint));
        }
        let stage = work_copy.stage;
        let span = info_span!("step", enrollment = %id, step = %step);
        self.publish(
            id,
            step,
            StepStatus::Started,
            0,
            format!("{step} started"),
            stage,
        );
        let progress = Progress {
            pipeline: self,
            id,
            step,
            stage,
        };
        let result = work(&mut work_copy, &progress)
            .instrument(span.clone())
            .await;
        let now = SystemTime::now();
        let mut stored = lock(&slot.data);
        match result {
            Ok(message) => {
                work_copy.history.push(StepRecord {
                    step,
                    status: StepStatus::Succeeded,
                    at: now,
                    message: message.clone(),
                });
                work_copy.last_error = None;
                *stored = work_copy;
                span.in_scope(|| info!(stage = %stored.stage, "{message}"));
                self.publish(id, step, StepStatus::Succeeded, 100, message, stored.stage);
                Ok(stored.clone())
            }
            Err(err) => {
                let message = err.to_string();
                if step == Step::Send {
                    stored.send_failed = true;
                }
                stored.history.push(StepRecord {
                    step,
                    status: StepStatus::Failed,
                    at: now,
                    message: message.clone(),
                });
                stored.last_error = Some(message.clone());
                span.in_scope(|| warn!(stage = %stored.stage, "step failed: {message}"));
                self.publish(id, step, StepStatus::Failed, 0, message, stored.stage);
                Err(err)
            }
        }
    }

    /// Steps 1-2: the family card presented must carry the applicant's KK number.
    pub async fn check_documents(
        &self,
        id: &str,
        kk_on_document: &str,
    ) -> Result<Enrollment, EnrollmentError> {
        let found = kk_on_document.trim().to_string();
        self.run_step(
            id,
            Step::CheckDocuments,
            &[Stage::Created],
            "documents are checked once, right after the enrollment is opened",
            async |e, _| {
                if found != e.applicant.kk_number {
                    return Err(EnrollmentError::DocumentMismatch);
                }
                e.stage = Stage::DocumentsChecked;
                Ok("family card checked".into())
            },
        )
        .await
    }

    /// Step 3: SIAK confirms the applicant.
    pub async fn verify_identity(&self, id: &str) -> Result<Enrollment, EnrollmentError> {
        let siak = self.siak.clone();
        self.run_step(
            id,
            Step::VerifyIdentity,
            &[Stage::DocumentsChecked],
            "check the documents first",
            async |e, p| {
                p.report(10, "asking SIAK");
                let c = siak.verify(&e.applicant).await?;
                e.siak_reference = Some(c.reference.clone());
                e.stage = Stage::IdentityVerified;
                Ok(format!("SIAK confirmed the applicant ({})", c.reference))
            },
        )
        .await
    }

    /// Step 4: the face photo.
    pub async fn capture_face(&self, id: &str) -> Result<Enrollment, EnrollmentError> {
        let camera = self.registry.camera("")?;
        let timeout = self.config.device_timeout;
        self.run_step(
            id,
            Step::CaptureFace,
            &[Stage::IdentityVerified],
            "verify the identity against SIAK before recording",
            async |e, p| {
                p.report(10, "taking the photo");
                let frame =
                    with_timeout(timeout, "taking the photo", camera.capture_still()).await?;
                let face =
                    blocking(move || formats::check_face(&frame.jpeg, frame.width, frame.height))
                        .await?;
                Arc::make_mut(&mut e.recording).face = Some(face);
                Ok(format!(
                    "face photo recorded ({}x{})",
                    frame.width, frame.height
                ))
            },
        )
        .await
    }

    /// Step 4: the 4-4-2 slaps with per-finger quality and minutiae, then any single
    /// fingers asked for, then the sequence check (no finger of one slap matches one of
    /// another; each single matches its slap finger). A failed check records nothing.
    pub async fn capture_fingerprints(
        &self,
        id: &str,
        missing: &[MissingFinger],
        singles: &[FingerPosition],
    ) -> Result<Enrollment, EnrollmentError> {
        let mut bad = Vec::new();
        for (i, m) in missing.iter().enumerate() {
            if m.position.is_slap() {
                bad.push(FieldViolation::new(
                    format!("missing[{i}].position"),
                    format!("missing fingers are single fingers, not {:?}", m.position),
                ));
            }
        }
        for (i, s) in singles.iter().enumerate() {
            if s.is_slap() || missing.iter().any(|m| m.position == *s) {
                bad.push(FieldViolation::new(
                    format!("singles[{i}]"),
                    format!(
                        "{s:?} cannot be captured as a single finger (a slap, or declared missing)"
                    ),
                ));
            }
        }
        if !bad.is_empty() {
            return Err(EnrollmentError::InvalidRequest(bad));
        }
        let scanner = self.registry.fingerprint("")?;
        let timeout = self.config.device_timeout;
        let missing = missing.to_vec();
        let singles = singles.to_vec();
        self.run_step(
            id,
            Step::CaptureFingerprints,
            &[Stage::IdentityVerified],
            "verify the identity against SIAK before recording",
            async |e, p| {
                // Capture the slaps one after the other; assess each on a blocking thread
                // while the applicant places the next hand.
                let mut assessing = Vec::new();
                for (i, slap) in FingerPosition::SLAPS.into_iter().enumerate() {
                    let fingers = slap.fingers();
                    let here: Vec<MissingFinger> = missing
                        .iter()
                        .copied()
                        .filter(|m| fingers.contains(&m.position))
                        .collect();
                    if here.len() == fingers.len() {
                        continue;
                    }
                    p.report(5 + 25 * i as u32, format!("place {}", slap_name(slap)));
                    let cap = with_timeout(
                        timeout,
                        "waiting for the fingers",
                        scanner.capture(slap, &here),
                    )
                    .await?;
                    assessing.push(tokio::task::spawn_blocking(move || {
                        formats::assess_slap(slap, cap.image, &here)
                    }));
                }
                let mut single_caps = Vec::new();
                for (i, pos) in singles.iter().copied().enumerate() {
                    p.report(80 + i as u32, format!("place the {pos:?} finger alone"));
                    let cap =
                        with_timeout(timeout, "waiting for the finger", scanner.capture(pos, &[]))
                            .await?;
                    single_caps.push(tokio::task::spawn_blocking(move || {
                        formats::assess_single(pos, cap.image)
                    }));
                }
                let mut slaps = Vec::new();
                for a in assessing {
                    slaps.push(a.await.map_err(|err| {
                        EnrollmentError::Format(format!("assessing a slap: {err}"))
                    })??);
                }
                let mut singles = Vec::new();
                for a in single_caps {
                    singles.push(a.await.map_err(|err| {
                        EnrollmentError::Format(format!("assessing a finger: {err}"))
                    })?);
                }
                p.report(90, "checking the finger sequence");
                let (slaps, singles, comparisons) = blocking(move || {
                    formats::check_sequence(&slaps, &singles).map(|n| (slaps, singles, n))
                })
                .await?;
                let r = Arc::make_mut(&mut e.recording);
                r.slaps = slaps;
                r.singles = singles;
                r.sequence_comparisons = comparisons;
                r.fingerprints_done = true;
                let recapture: Vec<String> = e
                    .recording
                    .fingers()
                    .chain(e.recording.singles.iter())
                    .filter(|f| f.recapture)
                    .map(|f| format!("{:?} ({})", f.position, f.quality))
                    .collect();
                Ok(if recapture.is_empty() {
                    format!(
                        "fingerprints recorded; sequence check passed ({comparisons} comparisons)"
                    )
                } else {
                    format!(
                        "fingerprints recorded; recapture advised for {}",
                        recapture.join(", ")
                    )
                })
            },
        )
        .await
    }

    /// Step 4: the signature.
    pub async fn capture_signature(&self, id: &str) -> Result<Enrollment, EnrollmentError> {
        let pad = self.registry.signature("")?;
        let render = self.config.signature_renderer;
        let timeout = self.config.device_timeout;
        self.run_step(
            id,
            Step::CaptureSignature,
            &[Stage::IdentityVerified],
            "verify the identity against SIAK before recording",
            async |e, p| {
                use futures::StreamExt;
                pad.clear().await?;
                p.report(10, "the applicant signs on the pad");
                let mut stream = pad.sign();
                let drain = async {
                    let mut n = 0usize;
                    while let Some(s) = stream.next().await {
                        s?;
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
            },
        )
        .await
    }

    /// Step 4: closes the recording once everything is there and good enough.
    pub async fn finish_recording(&self, id: &str) -> Result<Enrollment, EnrollmentError> {
        self.run_step(
            id,
            Step::FinishRecording,
            &[Stage::IdentityVerified],
            "verify the identity and capture face, fingerprints and signature first",
            async |e, _| {
                let r = &e.recording;
                let mut lacking = Vec::new();
                if r.face.is_none() {
                    lacking.push("face photo".to_string());
                }
                if !r.fingerprints_done {
                    lacking.push("fingerprints".to_string());
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
                e.stage = Stage::Recorded;
                Ok("recording complete".into())
            },
        )
        .await
    }

    /// Step 5: sends the recording to the data centre. A failure keeps the recording and
    /// allows a receipt.
    pub async fn send(&self, id: &str) -> Result<Enrollment, EnrollmentError> {
        let dc = self.data_centre.clone();
        let config = self.config.clone();
        self.run_step(
            id,
            Step::Send,
            &[Stage::Recorded, Stage::ReceiptIssued],
            "finish the recording first",
            async |e, p| {
                p.report(10, "packaging the recording");
                let snapshot = e.clone();
                let (package, report) =
                    blocking(move || formats::build_package(&snapshot, &config)).await?;
                e.package_size = package.len();
                e.package_report = Some(report);
                p.report(40, format!("sending {} bytes", package.len()));
                let reference = dc
                    .send(&Submission {
                        enrollment_id: e.id.clone(),
                        nik: e.applicant.nik.clone(),
                        package,
                    })
                    .await?;
                e.send_reference = Some(reference.clone());
                e.send_failed = false;
                e.stage = Stage::Sent;
                Ok(format!("sent to the data centre ({reference})"))
            },
        )
        .await
    }

    /// Step 8: the send failed: issue a recording receipt.
    pub async fn issue_receipt(&self, id: &str) -> Result<Enrollment, EnrollmentError> {
        let station = self.config.station_id.clone();
        self.run_step(
            id,
            Step::IssueReceipt,
            &[Stage::Recorded],
            "a receipt is issued only for a finished recording whose send failed",
            async |e, _| {
                // Read under the step lock: a send running concurrently cannot slip in.
                if !e.send_failed {
                    return Err(out_of_order(
                        Step::IssueReceipt,
                        e.stage,
                        "send the recording first; a receipt is only for a failed send",
                    ));
                }
                let n = self.receipts.fetch_add(1, Ordering::Relaxed) + 1;
                let receipt = formats::receipt(e, &station, n, SystemTime::now());
                let number = receipt.number.clone();
                e.receipt = Some(receipt);
                e.stage = Stage::ReceiptIssued;
                Ok(format!("recording receipt {number} issued"))
            },
        )
        .await
    }

    /// Step 6: prints the card. A deadline or cancellation cancels the print job.
    pub async fn print(&self, id: &str) -> Result<Enrollment, EnrollmentError> {
        let printer = self.registry.printer("")?;
        self.run_step(
            id,
            Step::Print,
            &[Stage::Sent],
            "the card is printed only after the recording was sent",
            async |e, p| {
                let snapshot = e.clone();
                let (front, back) = blocking(move || formats::card_images(&snapshot)).await?;
                let job_id = printer
                    .submit(CardJob {
                        front_png: front,
                        back_png: Some(back),
                        test_card: false,
                    })
                    .await?;
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
                        PrintJobState::Printing(pct) => p.report(pct, "printing"),
                        PrintJobState::Queued => p.report(0, "queued"),
                    }
                    if rx.changed().await.is_err() {
                        guard.printer = None;
                        return Err(
                            DeviceError::Hardware("the printer dropped the job".into()).into()
                        );
                    }
                }
                guard.printer = None;
                e.stage = Stage::Printed;
                Ok(format!("card printed ({job_id})"))
            },
        )
        .await
    }

    /// Step 7: encodes the chip and verifies it by reading it back.
    pub async fn encode(&self, id: &str) -> Result<Enrollment, EnrollmentError> {
        let encoder = self.registry.encoder("")?;
        self.run_step(
            id,
            Step::Encode,
            &[Stage::Printed],
            "the chip is encoded after the card is printed",
            async |e, p| {
                let snapshot = e.clone();
                let files = blocking(move || formats::chip_files(&snapshot)).await?;
                let total: usize = files.iter().map(|f| f.data.len()).sum();
                p.report(10, format!("writing {} files ({total} bytes)", files.len()));
                let (uid, checks) = write_and_verify(encoder.as_ref(), &files).await?;
                if let Some(bad) = checks.iter().find(|c| !c.matches) {
                    return Err(DeviceError::VerifyMismatch(format!(
                        "file {:#06x}: wrote {} bytes, read back {} that differ",
                        bad.fid, bad.written_len, bad.read_len
                    ))
                    .into());
                }
                let hex: String = uid.iter().map(|b| format!("{b:02X}")).collect();
                e.card_uid = Some(uid);
                e.stage = Stage::Encoded;
                Ok(format!("chip {hex} encoded and verified ({total} bytes)"))
            },
        )
        .await
    }

    /// Steps 9-10: the card is handed over.
    pub async fn hand_over(&self, id: &str) -> Result<Enrollment, EnrollmentError> {
        self.run_step(
            id,
            Step::HandOver,
            &[Stage::Encoded],
            "the card is handed over once printed and encoded",
            async |e, _| {
                e.stage = Stage::HandedOver;
                Ok("KTP-el handed over".into())
            },
        )
        .await
    }
}

fn slap_name(p: FingerPosition) -> &'static str {
    match p {
        FingerPosition::RightFour => "the four fingers of the right hand",
        FingerPosition::LeftFour => "the four fingers of the left hand",
        _ => "both thumbs",
    }
}

/// Runs CPU-bound format work off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, EnrollmentError> + Send + 'static,
) -> Result<T, EnrollmentError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|err| EnrollmentError::Format(format!("worker thread: {err}")))?
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

/// Converts a core image to an `image` crate buffer.
pub(crate) fn to_gray(img: &GreyImage) -> Option<image::GrayImage> {
    image::GrayImage::from_raw(img.width, img.height, img.pixels.clone())
}
