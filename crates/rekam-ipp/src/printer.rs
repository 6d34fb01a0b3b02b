//! [`IppPrinter`]: a card printer reached over IPP.
//!
//! # Jobs
//!
//! [`CardPrinter::submit`] checks the images, gives the job an id (`job-` and a ULID, as the
//! simulator does) and queues it; one worker task sends the jobs to the printer in order,
//! one at a time, and follows each until it ends:
//!
//! 1. *Precheck*: Get-Printer-Attributes. A printer that reports a failure reason
//!    (`media-empty`, `cover-open`…, see [`crate::reasons`]) fails the job with that
//!    failure without sending it, so that no card prints later by surprise; so does a
//!    printer that does not take `image/png`.
//! 2. *Send*: Print-Job with the front (`document-format=image/png`); for a two-sided
//!    card, Create-Job (`sides=two-sided-long-edge`,
//!    `multiple-document-handling=single-document`) then Send-Document front and back.
//!    A printer that answers `server-error-busy` (ippeveprinter takes one job at a time)
//!    is asked again every [`IppOptions::busy_retry`]; the job stays `Queued`. A printer
//!    that does not answer fails the job with `Disconnected` (Print-Job is not sent twice:
//!    a request that timed out may have printed).
//! 3. *Follow*: every [`IppOptions::job_poll`] (start to start), Get-Job-Attributes and,
//!    unless the job is completed, Get-Printer-Attributes. `pending`/`pending-held` → `Queued`; `processing` →
//!    `Printing(p)` (p from `job-impressions-completed` / `job-impressions`, else 0, at
//!    most 99); `completed` → `Done`; `aborted` → `Failed` with the failure the printer's
//!    reasons name (else `Other`, with `job-state-message`); `canceled` by someone else →
//!    `Failed(Other)`. A failure reason while the job is at the printer fails it and
//!    cancels it there (Cancel-Job). [`IppOptions::disconnect_after`] polls in a row
//!    without an answer fail it with `Disconnected`.
//!
//! [`CardPrinter::cancel`] cancels a job still in rekam's queue at once; a job at the
//! printer gets a Cancel-Job and is `Cancelled` when the printer accepts it (RFC 8011
//! lets the printer finish the current card first: the device stays `Busy` until it has).
//!
//! # Device state
//!
//! A monitor task asks Get-Printer-Attributes every [`IppOptions::monitor`]:
//! no answer [`IppOptions::disconnect_after`] times in a row (or an `offline`-type reason)
//! → `Disconnected`; a failure reason (any severity: ippeveprinter reports them as
//! `-report` while idle) or `printer-state=stopped` → `Error(reason)`; processing, or a
//! rekam job in progress → `Busy`; else `Ready`.
//!
//! # Supplies
//!
//! [`CardPrinter::supplies`] asks the printer. Cards: the `printer-input-tray` entries with
//! a known level and capacity (0 remaining while a no-cards reason is up). Ribbon: the
//! marker (`marker-names`/`marker-types`/`marker-levels`) or `printer-supply` entry whose
//! type or name says ribbon, else the printer's only consumable (not waste) supply; a
//! level in percent gives remaining = level, capacity = 100. Anything the printer does not
//! report counts as 0 remaining of 0 capacity. The cover is open while a cover reason is up.

use rekam_printer::jobs::JobBook;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rekam_core::sim::StateCell;
use rekam_core::{
    CardJob, CardPrinter, CheckOutcome, Device, DeviceClass, DeviceError, DeviceInfo, DeviceState,
    DiagnosticCheck, DiagnosticReport, PrintFailure, PrintJobState, PrintJobStatus, Supplies,
};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::client::{
    IppClient, IppError, JobStatus, PrinterState, PrinterStatus, PrinterUri, STATUS_BUSY,
    STATUS_NOT_FOUND, STATUS_NOT_POSSIBLE, SupplyEntry, TlsCheck,
};
use crate::reasons::{Meaning, Severity, failure_detail, failure_of};

/// The document format sent: each card side as a PNG image.
pub const DOCUMENT_FORMAT: &str = "image/png";

/// How an [`IppPrinter`] talks to its printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IppOptions {
    /// How an `ipps` printer's certificate is checked.
    pub tls: TlsCheck,
    /// The longest one request may take, connecting included.
    pub request_timeout: Duration,
    /// How often the monitor asks the printer's state.
    pub monitor: Duration,
    /// How often a job at the printer is polled.
    pub job_poll: Duration,
    /// How often a busy printer is asked again to take a job.
    pub busy_retry: Duration,
    /// How many requests in a row without an answer make the printer `Disconnected`.
    pub disconnect_after: u32,
}

impl Default for IppOptions {
    /// Certificates verified, 10 s requests, state every 1 s, jobs every 40 ms, busy
    /// retried every 500 ms, disconnected after 2 silent polls.
    fn default() -> Self {
        IppOptions {
            tls: TlsCheck::Verify,
            request_timeout: Duration::from_secs(10),
            monitor: Duration::from_secs(1),
            job_poll: Duration::from_millis(40),
            busy_retry: Duration::from_millis(500),
            disconnect_after: 2,
        }
    }
}

/// A card printer reached over IPP; see the [module docs](self).
pub struct IppPrinter {
    info: DeviceInfo,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

struct Shared {
    device_id: String,
    client: IppClient,
    opts: IppOptions,
    state: StateCell,
    /// Why the device is in its state (an error, a disconnect).
    reason: Mutex<Option<String>>,
    /// The last answer to Get-Printer-Attributes.
    last: Mutex<Option<PrinterStatus>>,
    /// Requests in a row without an answer.
    silent: AtomicU32,
    inner: Mutex<Inner>,
    /// Wakes the worker when a job is queued.
    wake: Notify,
}

/// What the driver keeps with a job.
struct JobData {
    /// The card's images until the worker takes them.
    card: Option<CardJob>,
    /// The printer's job id, once it took the job.
    ipp_id: Option<i32>,
}

struct Inner {
    jobs: JobBook<JobData>,
    queue: VecDeque<String>,
    ids: ulid::Generator,
    /// The job the worker is on.
    active: Option<String>,
}

impl Inner {
    fn is_final(&self, id: &str) -> bool {
        self.jobs.is_final(id)
    }

    /// Moves a job to a new state unless it is final; true when it moved. A job that ends
    /// leaves the queue and drops its images.
    fn set_job(&mut self, id: &str, state: PrintJobState) -> bool {
        let ends = state.is_final();
        let moved = self.jobs.set(id, state);
        if moved && ends {
            self.queue.retain(|q| q != id);
            if let Some(j) = self.jobs.get_mut(id) {
                j.data.card = None;
            }
        }
        moved
    }
}

/// What the officer reads for a printer's failure reason, e.g. "cover open
/// (cover-open-report)".
fn describe(status: &PrinterStatus) -> Option<String> {
    if let Some((f, r)) = failure_of(&status.reasons, Severity::Report) {
        let what = match f {
            PrintFailure::NoCards => "no blank cards",
            PrintFailure::RibbonOut => "ribbon used up",
            PrintFailure::Jam => "card jam",
            PrintFailure::CoverOpen => "cover open",
            PrintFailure::Disconnected => "printer offline",
            PrintFailure::Other => "printer fault",
        };
        return Some(format!("{what} ({})", r.keyword));
    }
    if status.state == PrinterState::Stopped {
        let reasons: Vec<&str> = status.reasons.iter().map(|r| r.keyword.as_str()).collect();
        return Some(if status.message.is_empty() {
            format!("the printer stopped ({})", reasons.join(", "))
        } else {
            format!("the printer stopped: {}", status.message)
        });
    }
    None
}

fn progress(js: &JobStatus) -> u32 {
    match (js.impressions_completed, js.impressions) {
        (Some(done), Some(total)) if total > 0 && done >= 0 => {
            ((i64::from(done) * 100 / i64::from(total)).clamp(0, 99)) as u32
        }
        _ => 0,
    }
}

fn duplex_capable(s: &PrinterStatus) -> bool {
    s.multiple_document_jobs && s.sides.iter().any(|x| x == "two-sided-long-edge")
}

fn is_ribbon(kind: &str, name: &str) -> bool {
    kind.to_ascii_lowercase().contains("ribbon") || name.to_ascii_lowercase().contains("ribbon")
}

/// The ribbon's (remaining, capacity) from the markers or the supplies; (0, 0) unknown.
fn ribbon_level(s: &PrinterStatus) -> (u32, u32) {
    let from_marker = s
        .markers
        .iter()
        .find(|m| is_ribbon(&m.kind, &m.name))
        .or(if s.markers.len() == 1 {
            s.markers.first()
        } else {
            None
        })
        .map(|m| SupplyEntry {
            kind: m.kind.clone(),
            name: m.name.clone(),
            level: m.level,
            max: 100,
            unit: "percent".into(),
        });
    let consumables: Vec<&SupplyEntry> = s
        .supplies
        .iter()
        .filter(|e| !e.kind.to_ascii_lowercase().contains("waste"))
        .collect();
    let from_supply = s
        .supplies
        .iter()
        .find(|e| is_ribbon(&e.kind, &e.name))
        .or(if consumables.len() == 1 {
            consumables.first().copied()
        } else {
            None
        })
        .cloned();
    match from_marker.or(from_supply) {
        Some(e) if e.level >= 0 => {
            let max = if e.unit == "percent" || e.max <= 0 {
                100
            } else {
                e.max
            };
            (e.level.min(max) as u32, max as u32)
        }
        _ => (0, 0),
    }
}

fn supplies_of(s: &PrinterStatus) -> Supplies {
    let trays = s.input_trays.iter().filter(|t| t.level >= 0 && t.max > 0);
    let (mut cards, capacity) = trays.fold((0u32, 0u32), |(l, m), t| {
        (
            l.saturating_add(t.level as u32),
            m.saturating_add(t.max as u32),
        )
    });
    let has = |f: PrintFailure| s.reasons.iter().any(|r| r.meaning() == Meaning::Failure(f));
    if has(PrintFailure::NoCards) {
        cards = 0;
    }
    let (mut ribbon, ribbon_capacity) = ribbon_level(s);
    if has(PrintFailure::RibbonOut) {
        ribbon = 0;
    }
    Supplies {
        cards_remaining: cards.min(capacity),
        card_capacity: capacity,
        ribbon_prints_remaining: ribbon,
        ribbon_capacity,
        cover_open: has(PrintFailure::CoverOpen),
    }
}

/// Why a job stopped before the printer had it.
enum Stop {
    /// Cancelled (by rekam) meanwhile.
    Cancelled,
    /// Failed.
    Failed(PrintFailure, String),
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update of Inner is complete before the lock is released.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn uri(&self) -> &str {
        &self.client.uri().uri
    }

    fn set_state(&self, state: DeviceState, reason: Option<String>) {
        if self.state.get() != state {
            tracing::info!(device = %self.device_id, ?state, reason = reason.as_deref().unwrap_or(""), "printer state");
        }
        *self.reason.lock().unwrap_or_else(|e| e.into_inner()) = reason;
        self.state.set(state);
    }

    /// Takes in an answer (or its absence) to Get-Printer-Attributes and publishes the
    /// device state it implies.
    fn observe(&self, answer: &Result<PrinterStatus, IppError>) {
        match answer {
            Ok(status) => {
                self.silent.store(0, Ordering::Relaxed);
                *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(status.clone());
                self.refresh(Some(status));
            }
            Err(e) if e.is_unreachable() => {
                let n = self.silent.fetch_add(1, Ordering::Relaxed) + 1;
                if n >= self.opts.disconnect_after.max(1) {
                    self.set_state(DeviceState::Disconnected, Some(e.to_string()));
                }
            }
            Err(e) => {
                self.silent.store(0, Ordering::Relaxed);
                self.set_state(DeviceState::Error(e.to_string()), Some(e.to_string()));
            }
        }
    }

    /// Publishes the state of the last answer and of rekam's queue.
    fn refresh(&self, status: Option<&PrinterStatus>) {
        let last;
        let status = match status {
            Some(s) => s,
            None => {
                last = self.last.lock().unwrap_or_else(|e| e.into_inner()).clone();
                match &last {
                    Some(s) => s,
                    None => return,
                }
            }
        };
        if self.silent.load(Ordering::Relaxed) >= self.opts.disconnect_after.max(1) {
            return;
        }
        let offline = failure_of(&status.reasons, Severity::Report)
            .filter(|(f, _)| *f == PrintFailure::Disconnected);
        if let Some((_, r)) = offline {
            self.set_state(
                DeviceState::Disconnected,
                Some(format!("the printer reports {}", r.keyword)),
            );
        } else if let Some(why) = describe(status) {
            self.set_state(DeviceState::Error(why.clone()), Some(why));
        } else if status.state == PrinterState::Processing || self.lock().active.is_some() {
            self.set_state(DeviceState::Busy, None);
        } else {
            self.set_state(DeviceState::Ready, None);
        }
    }

    fn fail(&self, id: &str, failure: PrintFailure, detail: String) {
        tracing::warn!(device = %self.device_id, job = id, ?failure, detail, "print job failed");
        self.lock()
            .set_job(id, PrintJobState::Failed(failure, detail));
    }

    /// The failure a printer's status means for a job, if any.
    fn failure_in(&self, status: &PrinterStatus) -> Option<(PrintFailure, String)> {
        failure_of(&status.reasons, Severity::Report).map(|(f, r)| {
            (
                f,
                format!(
                    "{} (the printer reports {})",
                    failure_detail(f, &self.device_id),
                    r.keyword
                ),
            )
        })
    }

    fn unreachable_detail(&self, e: &IppError) -> String {
        format!(
            "{} ({e})",
            failure_detail(PrintFailure::Disconnected, &self.device_id)
        )
    }

    /// Sends a job; returns the printer's job id.
    async fn send(&self, id: &str, card: &CardJob) -> Result<i32, Stop> {
        // Precheck: a printer that cannot print gets nothing.
        let status = self.client.printer_status().await;
        self.observe(&status);
        let status = match status {
            Ok(s) => s,
            Err(e) if e.is_unreachable() => {
                return Err(Stop::Failed(
                    PrintFailure::Disconnected,
                    self.unreachable_detail(&e),
                ));
            }
            Err(e) => return Err(Stop::Failed(PrintFailure::Other, e.to_string())),
        };
        if let Some((f, detail)) = self.failure_in(&status) {
            return Err(Stop::Failed(f, detail));
        }
        if !status.formats.is_empty() && !status.formats.iter().any(|f| f == DOCUMENT_FORMAT) {
            return Err(Stop::Failed(
                PrintFailure::Other,
                format!(
                    "the printer {} does not take PNG images (it takes {}): a technician must \
                     set it up for image/png",
                    self.device_id,
                    status.formats.join(", ")
                ),
            ));
        }
        if card.back_png.is_some() && !duplex_capable(&status) {
            return Err(Stop::Failed(
                PrintFailure::Other,
                no_duplex(&self.device_id),
            ));
        }
        let name = format!("rekam {id}");
        loop {
            if self.lock().is_final(id) {
                return Err(Stop::Cancelled);
            }
            let sent = match &card.back_png {
                None => {
                    self.client
                        .print_job(&name, DOCUMENT_FORMAT, &card.front_png)
                        .await
                }
                Some(back) => self.send_duplex(&name, &card.front_png, back).await,
            };
            match sent {
                Ok(n) => return Ok(n),
                Err(e) if e.status() == Some(STATUS_BUSY) => {
                    tracing::debug!(device = %self.device_id, job = id, "printer busy: waiting");
                    tokio::time::sleep(self.opts.busy_retry).await;
                }
                Err(e) if e.is_unreachable() => {
                    self.observe(&Err(e.clone()));
                    return Err(Stop::Failed(
                        PrintFailure::Disconnected,
                        self.unreachable_detail(&e),
                    ));
                }
                Err(e) => {
                    return Err(Stop::Failed(
                        PrintFailure::Other,
                        format!("the printer {} refused the card: {e}", self.device_id),
                    ));
                }
            }
        }
    }

    async fn send_duplex(&self, name: &str, front: &[u8], back: &[u8]) -> Result<i32, IppError> {
        let n = self.client.create_duplex_job(name).await?;
        let docs = async {
            self.client
                .send_document(n, DOCUMENT_FORMAT, front, false)
                .await?;
            self.client
                .send_document(n, DOCUMENT_FORMAT, back, true)
                .await
        };
        match docs.await {
            Ok(()) => Ok(n),
            Err(e) => {
                // Leave no half job at the printer.
                let _ = self.client.cancel_job(n).await;
                Err(e)
            }
        }
    }

    /// Runs one job from the queue to its end.
    async fn run(&self, id: &str, card: CardJob) {
        let ipp_id = match self.send(id, &card).await {
            Ok(n) => n,
            Err(Stop::Cancelled) => return,
            Err(Stop::Failed(f, detail)) => return self.fail(id, f, detail),
        };
        tracing::info!(device = %self.device_id, job = id, ipp_job = ipp_id, "sent to the printer");
        let cancelled_meanwhile = {
            let mut g = self.lock();
            if let Some(j) = g.jobs.get_mut(id) {
                j.data.ipp_id = Some(ipp_id);
            }
            g.is_final(id)
        };
        if cancelled_meanwhile {
            let _ = self.client.cancel_job(ipp_id).await;
            return;
        }
        self.follow(id, ipp_id).await;
    }

    async fn follow(&self, id: &str, ipp_id: i32) {
        let mut silent = 0u32;
        let mut errors = 0u32;
        // Polls start every `job_poll` (not `job_poll` after the last answer), so a job's
        // end reaches the client within one period and one Get-Job-Attributes.
        let mut ticks = tokio::time::interval_at(
            tokio::time::Instant::now() + self.opts.job_poll,
            self.opts.job_poll,
        );
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if self.lock().is_final(id) {
                return;
            }
            let job = self.client.job_status(ipp_id).await;
            // A completed job is said at once, without waiting for the printer's
            // attributes (the monitor keeps the device state).
            let completed = matches!(&job, Ok(js) if js.state == 9);
            let printer = if completed {
                None
            } else {
                let printer = self.client.printer_status().await;
                self.observe(&printer);
                Some(printer)
            };
            let js = match job {
                Ok(js) => js,
                Err(e) if e.is_unreachable() => {
                    silent += 1;
                    if silent >= self.opts.disconnect_after.max(1) {
                        return self.fail(
                            id,
                            PrintFailure::Disconnected,
                            self.unreachable_detail(&e),
                        );
                    }
                    continue;
                }
                Err(e) if e.status() == Some(STATUS_NOT_FOUND) => {
                    return self.fail(
                        id,
                        PrintFailure::Disconnected,
                        format!(
                            "the printer {} no longer knows the job (it restarted?): print again",
                            self.device_id
                        ),
                    );
                }
                Err(e) => {
                    errors += 1;
                    if errors >= 5 {
                        return self.fail(id, PrintFailure::Other, e.to_string());
                    }
                    continue;
                }
            };
            silent = 0;
            errors = 0;
            let failure = printer
                .as_ref()
                .and_then(|p| p.as_ref().ok())
                .and_then(|s| self.failure_in(s));
            match js.state {
                // pending, pending-held, processing, processing-stopped
                3..=6 => {
                    if let Some((f, detail)) = failure {
                        // Nothing prints later by surprise.
                        if let Err(e) = self.client.cancel_job(ipp_id).await {
                            tracing::warn!(device = %self.device_id, ipp_job = ipp_id, error = %e, "cannot cancel the failed job at the printer");
                        }
                        return self.fail(id, f, detail);
                    }
                    let state = if js.state >= 5 {
                        PrintJobState::Printing(progress(&js))
                    } else {
                        PrintJobState::Queued
                    };
                    self.lock().set_job(id, state);
                }
                7 => {
                    return self.fail(
                        id,
                        PrintFailure::Other,
                        format!("the job was cancelled at the printer {}", self.device_id),
                    );
                }
                8 => {
                    let (f, detail) = failure.unwrap_or_else(|| {
                        (
                            PrintFailure::Other,
                            format!(
                                "{}{}",
                                failure_detail(PrintFailure::Other, &self.device_id),
                                if js.message.is_empty() {
                                    String::new()
                                } else {
                                    format!(" (the printer says: {})", js.message)
                                }
                            ),
                        )
                    });
                    return self.fail(id, f, detail);
                }
                9 => {
                    tracing::info!(device = %self.device_id, job = id, "printed");
                    self.lock().set_job(id, PrintJobState::Done);
                    return;
                }
                other => {
                    return self.fail(
                        id,
                        PrintFailure::Other,
                        format!("the printer reports an unknown job-state {other}"),
                    );
                }
            }
        }
    }
}

fn no_duplex(device: &str) -> String {
    format!(
        "the printer {device} cannot print a card's back: it takes one document per job \
         (multiple-document-jobs-supported) or does not print two-sided (sides-supported); \
         print the front only"
    )
}

async fn worker(shared: Arc<Shared>) {
    loop {
        let notified = shared.wake.notified();
        let next = {
            let mut g = shared.lock();
            let next = loop {
                let Some(id) = g.queue.pop_front() else {
                    break None;
                };
                let card = g.jobs.get_mut(&id).and_then(|j| j.data.card.take());
                if let Some(card) = card {
                    break Some((id, card));
                }
            };
            g.active = next.as_ref().map(|(id, _)| id.clone());
            next
        };
        match next {
            Some((id, card)) => {
                shared.refresh(None);
                shared.run(&id, card).await;
                shared.lock().active = None;
                shared.refresh(None);
            }
            None => notified.await,
        }
    }
}

async fn monitor(shared: Arc<Shared>) {
    loop {
        let answer = shared.client.printer_status().await;
        shared.observe(&answer);
        tokio::time::sleep(shared.opts.monitor).await;
    }
}

impl IppPrinter {
    /// Opens the printer at `uri` (`ipp://host[:port]/path` or `ipps://…`) as the device
    /// `id`, and starts its monitor and job worker on the current tokio runtime. Nothing
    /// is sent yet: a printer that is off opens `Disconnected` after its first polls.
    pub fn open(id: &str, uri: &str, opts: IppOptions) -> Result<Self, DeviceError> {
        let parsed = PrinterUri::parse(uri).map_err(DeviceError::InvalidArgument)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            DeviceError::Unsupported("the IPP printer driver needs a tokio runtime".into())
        })?;
        let client = IppClient::new(parsed, opts.tls, opts.request_timeout)
            .map_err(|e| DeviceError::Hardware(e.to_string()))?;
        let info = DeviceInfo {
            id: id.to_string(),
            class: DeviceClass::CardPrinter,
            vendor: "IPP".into(),
            model: "IPP card printer".into(),
            serial: uri.to_string(),
            firmware: String::new(),
            driver: crate::driver::DRIVER_NAME.into(),
            simulated: false,
        };
        let state = StateCell::new(id);
        // Until the first answer: not known to be there.
        state.set(DeviceState::Disconnected);
        let shared = Arc::new(Shared {
            device_id: id.to_string(),
            client,
            opts,
            state,
            reason: Mutex::new(Some(format!("connecting to {uri}"))),
            last: Mutex::new(None),
            silent: AtomicU32::new(0),
            inner: Mutex::new(Inner {
                jobs: JobBook::new(),
                queue: VecDeque::new(),
                ids: ulid::Generator::new(),
                active: None,
            }),
            wake: Notify::new(),
        });
        let tasks = vec![
            runtime.spawn(monitor(Arc::clone(&shared))),
            runtime.spawn(worker(Arc::clone(&shared))),
        ];
        Ok(IppPrinter {
            info,
            shared,
            tasks,
        })
    }

    /// The printer's URI.
    pub fn uri(&self) -> &str {
        self.shared.uri()
    }

    /// The last answer to Get-Printer-Attributes, `None` before the first.
    pub fn last_status(&self) -> Option<PrinterStatus> {
        self.shared
            .last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The printer's job id of a rekam job, once the printer took it.
    pub fn ipp_job_id(&self, job_id: &str) -> Option<i32> {
        self.shared
            .lock()
            .jobs
            .get(job_id)
            .and_then(|j| j.data.ipp_id)
    }

    /// The IPP client of this printer (for diagnostics and tests).
    pub fn client(&self) -> &IppClient {
        &self.shared.client
    }

    fn not_found(&self, job_id: &str) -> DeviceError {
        DeviceError::NotFound(format!("print job {job_id} on {}", self.info.id))
    }

    fn disconnected(&self) -> DeviceError {
        DeviceError::Disconnected {
            device: self.info.id.clone(),
        }
    }
}

impl Drop for IppPrinter {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[async_trait]
impl Device for IppPrinter {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn watch_state(&self) -> watch::Receiver<DeviceState> {
        self.shared.state.subscribe()
    }

    fn state_reason(&self) -> Option<String> {
        self.shared
            .reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Checks: the printer answers (make and model), its state and reasons, that it takes
    /// PNG, its supplies (a low supply warns).
    async fn self_test(&self) -> DiagnosticReport {
        let start = Instant::now();
        let answer = self.shared.client.printer_status().await;
        self.shared.observe(&answer);
        let checks = match answer {
            Err(e) => {
                let mut checks = vec![DiagnosticCheck::new(
                    "connection",
                    CheckOutcome::Fail,
                    format!("{e}: check the printer's power, network cable and address"),
                )];
                for n in ["state", "document format", "supplies"] {
                    checks.push(DiagnosticCheck::new(
                        n,
                        CheckOutcome::Fail,
                        "not checked: the printer does not answer",
                    ));
                }
                checks
            }
            Ok(s) => {
                let model = if s.make_and_model.is_empty() {
                    "an IPP printer".to_string()
                } else {
                    s.make_and_model.clone()
                };
                let mut checks = vec![DiagnosticCheck::new(
                    "connection",
                    CheckOutcome::Pass,
                    format!("{model} at {}", self.uri()),
                )];
                let reasons: Vec<&str> = s.reasons.iter().map(|r| r.keyword.as_str()).collect();
                checks.push(match describe(&s) {
                    Some(why) => DiagnosticCheck::new(
                        "state",
                        CheckOutcome::Fail,
                        format!("{why}: see the printer's panel"),
                    ),
                    None => DiagnosticCheck::new(
                        "state",
                        CheckOutcome::Pass,
                        format!(
                            "{:?}{}",
                            s.state,
                            if reasons.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", reasons.join(", "))
                            }
                        ),
                    ),
                });
                checks.push(if s.formats.iter().any(|f| f == DOCUMENT_FORMAT) {
                    DiagnosticCheck::new("document format", CheckOutcome::Pass, "takes image/png")
                } else {
                    DiagnosticCheck::new(
                        "document format",
                        CheckOutcome::Fail,
                        format!(
                            "does not take image/png (takes {}): set the printer up for PNG",
                            s.formats.join(", ")
                        ),
                    )
                });
                let low: Vec<&str> = s
                    .reasons
                    .iter()
                    .filter(|r| r.meaning() == Meaning::SupplyLow)
                    .map(|r| r.keyword.as_str())
                    .collect();
                let sup = supplies_of(&s);
                let levels = format!(
                    "cards {}/{}, ribbon {}/{} (0/0: not reported)",
                    sup.cards_remaining,
                    sup.card_capacity,
                    sup.ribbon_prints_remaining,
                    sup.ribbon_capacity
                );
                checks.push(if low.is_empty() {
                    DiagnosticCheck::new("supplies", CheckOutcome::Pass, levels)
                } else {
                    DiagnosticCheck::new(
                        "supplies",
                        CheckOutcome::Warn,
                        format!(
                            "{} running low: have supplies ready; {levels}",
                            low.join(", ")
                        ),
                    )
                });
                checks
            }
        };
        DiagnosticReport {
            device_id: self.info.id.clone(),
            checks,
            elapsed: start.elapsed(),
        }
    }
}

#[async_trait]
impl CardPrinter for IppPrinter {
    async fn submit(&self, job: CardJob) -> Result<String, DeviceError> {
        if job.test_card {
            return Err(DeviceError::Unsupported(format!(
                "{} is an IPP printer without a built-in test card: print a test image as the front",
                self.info.id
            )));
        }
        rekam_printer::validate_card_png("front", &job.front_png)?;
        if let Some(back) = &job.back_png {
            rekam_printer::validate_card_png("back", back)?;
            if self.last_status().is_some_and(|s| !duplex_capable(&s)) {
                return Err(DeviceError::Unsupported(no_duplex(&self.info.id)));
            }
        }
        let id = {
            let mut g = self.shared.lock();
            let id = match g.ids.generate() {
                Ok(u) => format!("job-{u}"),
                Err(_) => format!("job-{}", ulid::Ulid::new()),
            };
            g.jobs.insert(
                &id,
                &self.info.id,
                JobData {
                    card: Some(job),
                    ipp_id: None,
                },
            );
            g.queue.push_back(id.clone());
            id
        };
        self.shared.wake.notify_one();
        Ok(id)
    }

    fn watch_job(&self, job_id: &str) -> Result<watch::Receiver<PrintJobStatus>, DeviceError> {
        self.shared
            .lock()
            .jobs
            .watch(job_id)
            .ok_or_else(|| self.not_found(job_id))
    }

    async fn cancel(&self, job_id: &str) -> Result<PrintJobStatus, DeviceError> {
        let ipp_id = {
            let mut g = self.shared.lock();
            let Some(job) = g.jobs.get(job_id) else {
                return Err(self.not_found(job_id));
            };
            if job.status.borrow().state.is_final() {
                return Ok(job.status.borrow().clone());
            }
            match job.data.ipp_id {
                Some(n) => n,
                None => {
                    // Still in rekam's queue, or being sent: the worker cancels it at the
                    // printer if it gets there.
                    g.set_job(job_id, PrintJobState::Cancelled);
                    return g
                        .jobs
                        .get(job_id)
                        .map(|j| j.status.borrow().clone())
                        .ok_or_else(|| self.not_found(job_id));
                }
            }
        };
        match self.shared.client.cancel_job(ipp_id).await {
            Ok(()) => {
                tracing::info!(device = %self.info.id, job = job_id, ipp_job = ipp_id, "cancelled");
                self.shared.lock().set_job(job_id, PrintJobState::Cancelled);
            }
            // Already finished at the printer: the worker publishes how.
            Err(e) if e.status() == Some(STATUS_NOT_POSSIBLE) => {}
            Err(e) if e.is_unreachable() => return Err(self.disconnected()),
            Err(e) => return Err(DeviceError::Protocol(e.to_string())),
        }
        self.shared
            .lock()
            .jobs
            .get(job_id)
            .map(|j| j.status.borrow().clone())
            .ok_or_else(|| self.not_found(job_id))
    }

    async fn supplies(&self) -> Result<Supplies, DeviceError> {
        let answer = self.shared.client.printer_status().await;
        self.shared.observe(&answer);
        match answer {
            Ok(s) => Ok(supplies_of(&s)),
            Err(e) if e.is_unreachable() => Err(self.disconnected()),
            Err(e) => Err(DeviceError::Protocol(e.to_string())),
        }
    }

    /// True when the printer takes a job of several documents and prints two-sided (as
    /// last reported).
    fn duplex(&self) -> bool {
        self.last_status().is_some_and(|s| duplex_capable(&s))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::client::Marker;
    use crate::reasons::StateReason;

    fn status(reasons: &[&str]) -> PrinterStatus {
        PrinterStatus {
            state: PrinterState::Idle,
            reasons: reasons.iter().map(|r| StateReason::parse(r)).collect(),
            message: String::new(),
            make_and_model: "Example".into(),
            formats: vec!["image/png".into()],
            markers: vec![],
            supplies: vec![],
            input_trays: vec![],
            multiple_document_jobs: false,
            sides: vec!["one-sided".into()],
        }
    }

    #[test]
    fn supplies_come_from_trays_markers_and_reasons() {
        let mut s = status(&[]);
        // Nothing reported: all unknown.
        assert_eq!(
            supplies_of(&s),
            Supplies {
                cards_remaining: 0,
                card_capacity: 0,
                ribbon_prints_remaining: 0,
                ribbon_capacity: 0,
                cover_open: false
            }
        );
        s.input_trays = vec![
            SupplyEntry::parse("type=sheetFeedAutoRemovableTray;maxcapacity=-2;level=-2;name=auto"),
            SupplyEntry::parse(
                "type=sheetFeedAutoRemovableTray;maxcapacity=100;level=40;name=main",
            ),
        ];
        s.supplies = vec![
            SupplyEntry::parse("type=wasteToner;unit=percent;maxcapacity=100;level=25"),
            SupplyEntry::parse(
                "type=toner;unit=percent;maxcapacity=100;level=75;colorantname=black",
            ),
        ];
        let sup = supplies_of(&s);
        assert_eq!((sup.cards_remaining, sup.card_capacity), (40, 100));
        // The only consumable supply stands for the ribbon.
        assert_eq!(
            (sup.ribbon_prints_remaining, sup.ribbon_capacity),
            (75, 100)
        );
        // A marker named as a ribbon wins.
        s.markers = vec![
            Marker {
                name: "Cleaning".into(),
                kind: "other".into(),
                level: 90,
            },
            Marker {
                name: "YMCKO".into(),
                kind: "ink-ribbon".into(),
                level: 12,
            },
        ];
        assert_eq!(supplies_of(&s).ribbon_prints_remaining, 12);
        // Reasons override the levels.
        s.reasons = [
            "media-empty-report",
            "marker-supply-empty-warning",
            "cover-open",
        ]
        .iter()
        .map(|r| StateReason::parse(r))
        .collect();
        let sup = supplies_of(&s);
        assert_eq!(
            (
                sup.cards_remaining,
                sup.ribbon_prints_remaining,
                sup.cover_open
            ),
            (0, 0, true)
        );
    }

    #[test]
    fn the_device_state_names_the_failure() {
        assert_eq!(describe(&status(&[])), None);
        assert_eq!(describe(&status(&["marker-supply-low-warning"])), None);
        assert_eq!(
            describe(&status(&["media-jam-report"])).as_deref(),
            Some("card jam (media-jam)")
        );
        let mut s = status(&["paused"]);
        s.state = PrinterState::Stopped;
        assert!(
            describe(&s).unwrap().contains("stopped"),
            "{:?}",
            describe(&s)
        );
    }

    #[test]
    fn progress_is_capped_below_done() {
        let js = |done, total| JobStatus {
            state: 5,
            reasons: vec![],
            message: String::new(),
            impressions: total,
            impressions_completed: done,
        };
        assert_eq!(progress(&js(None, None)), 0);
        assert_eq!(progress(&js(Some(1), Some(2))), 50);
        assert_eq!(progress(&js(Some(2), Some(2))), 99);
        assert_eq!(progress(&js(Some(1), Some(0))), 0);
    }
}
