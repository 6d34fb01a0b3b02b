//! The HID pen as a rekam signature pad: [`HidPad`].
//!
//! One thread per pad owns the transport (the actor); the async methods talk to it over
//! channels and never block the runtime. The actor:
//!
//! * at open and after every reconnection, opens the device through its [`HidOpener`],
//!   reads the report descriptor and finds the pen in it ([`PenLayout`]);
//! * while idle, reads and discards reports (so an unplug shows at once as a read error);
//! * for [`SignaturePad::sign`], decodes the pen reports into samples until the signer has
//!   finished or the stream is dropped;
//! * on a transport error closes the device, reports [`DeviceState::Disconnected`] with the
//!   reason, and opens it again every [`HidConfig::reconnect_every`] until it is back (a
//!   `VID:PID` selector finds it again on whatever node it came back at): then Ready.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use rekam_core::pen::{Ink, PenTrack};
use rekam_core::sim::StateCell;
use rekam_core::{
    CheckOutcome, Device, DeviceClass, DeviceError, DeviceInfo, DeviceState, DiagnosticCheck,
    DiagnosticReport, PadGeometry, PenSample, SignaturePad,
};
use tokio::sync::{mpsc as tmpsc, oneshot, watch};

use crate::pen::{Decoded, PenLayout, PenScale, pressure};
use crate::transport::{HidIdentity, HidOpener, HidTransport, TransportError};

/// The driver's name in selectors: `signature:hid:/dev/hidraw3`.
pub const DRIVER_NAME: &str = "hid";

/// How long the actor waits for a report at a time: the latency of a command to the actor.
const TICK: Duration = Duration::from_millis(20);

/// How the driver treats the pad (the device's `options` table in the configuration; see
/// [`crate::config_from_options`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HidConfig {
    /// The pad's resolution in device units per millimetre, taken as the same on both axes
    /// (option `units_per_mm`). `None` (the default): the size comes from the report
    /// descriptor's physical extents and units, and a pad whose descriptor gives none is
    /// refused until this is set.
    pub units_per_mm: Option<f32>,
    /// Pen samples per second to report (option `sample_rate_hz`). `None` (the default):
    /// the rate measured during the last signature (0, unknown, before the first).
    pub sample_rate_hz: Option<u32>,
    /// The signature is finished when the pen has not touched the pad for this long after
    /// ink (option `finish_ms`, default 1500 ms).
    pub finish_after: Duration,
    /// While disconnected, try to open the device this often (option `reconnect_ms`,
    /// default 1000 ms).
    pub reconnect_every: Duration,
}

impl Default for HidConfig {
    fn default() -> Self {
        HidConfig {
            units_per_mm: None,
            sample_rate_hz: None,
            finish_after: Duration::from_millis(1500),
            reconnect_every: Duration::from_secs(1),
        }
    }
}

impl HidConfig {
    fn check(&self) -> Result<(), DeviceError> {
        let bad = |m: &str| Err(DeviceError::InvalidArgument(format!("signature:hid {m}")));
        if let Some(u) = self.units_per_mm
            && !(u.is_finite() && u > 0.0)
        {
            return bad("units_per_mm must be a positive number");
        }
        if self.sample_rate_hz == Some(0) {
            return bad("sample_rate_hz must be at least 1");
        }
        Ok(())
    }
}

/// Reports counted since the pad was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportStats {
    /// Pen reports decoded during signatures.
    pub pen_reports: u64,
    /// Pen reports shorter than the descriptor says, skipped.
    pub truncated: u64,
    /// Pen reports in range with a position outside the logical extents, skipped.
    pub out_of_range: u64,
    /// Other reports of the device (other report ids: buttons, touch), ignored.
    pub other_reports: u64,
    /// Times the device went away (a read or descriptor request failed).
    pub disconnects: u64,
    /// Times it was opened again after going away.
    pub reconnects: u64,
}

impl ReportStats {
    /// Damaged reports: truncated and out of range.
    pub fn errors(&self) -> u64 {
        self.truncated + self.out_of_range
    }
}

#[derive(Debug, Default)]
struct Counters {
    pen_reports: AtomicU64,
    truncated: AtomicU64,
    out_of_range: AtomicU64,
    other_reports: AtomicU64,
    disconnects: AtomicU64,
    reconnects: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    fn snapshot(&self) -> ReportStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ReportStats {
            pen_reports: g(&self.pen_reports),
            truncated: g(&self.truncated),
            out_of_range: g(&self.out_of_range),
            other_reports: g(&self.other_reports),
            disconnects: g(&self.disconnects),
            reconnects: g(&self.reconnects),
        }
    }
}

/// What the pad knows of the device since it last opened it.
#[derive(Debug, Clone)]
struct Link {
    layout: Arc<PenLayout>,
    scale: PenScale,
    identity: HidIdentity,
    descriptor: Arc<Vec<u8>>,
}

/// The device's report descriptor read again ([`HidPad::probe`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOutcome {
    /// How long the request took.
    pub round_trip: Duration,
    /// False when it differs from the one read when the pad was opened.
    pub unchanged: bool,
    /// Its length in bytes.
    pub descriptor_len: usize,
}

type SampleTx = tmpsc::UnboundedSender<Result<PenSample, DeviceError>>;

enum Cmd {
    Sign(SampleTx),
    Probe(oneshot::Sender<Result<ProbeOutcome, DeviceError>>),
}

struct Shared {
    id: String,
    target: String,
    config: HidConfig,
    state: StateCell,
    reason: Mutex<Option<String>>,
    ink: Ink,
    counters: Counters,
    link: Mutex<Option<Link>>,
    measured_rate: AtomicU32,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data: a panic while holding the lock cannot leave it inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn disconnected(&self) -> DeviceError {
        DeviceError::Disconnected {
            device: self.id.clone(),
        }
    }

    fn link(&self) -> Option<Link> {
        lock(&self.link).clone()
    }
}

/// A USB HID pen digitizer as a [`SignaturePad`] (see the [module docs](self)).
///
/// Positions are in pad units of [`PenScale::units_per_mm`] from the writing area's
/// top-left corner ([`SignaturePad::geometry`] is the area from the descriptor's physical
/// extents). Pressure is the Tip Pressure over its extent while the tip touches (never 0
/// then; 1 for a pen without pressure), 0 while the pen hovers; when the pen leaves range
/// the pad writes one pen-up sample at its last position. The eraser end never inks; the
/// barrel switches do not change the ink.
///
/// The signature ends when the pen has not touched the pad for [`HidConfig::finish_after`]
/// after ink, as the simulated pad's stream ends with its trace: the pipeline then takes
/// the ink. A signature without ink does not end by itself: the caller's deadline ends it.
pub struct HidPad {
    info: DeviceInfo,
    shared: Arc<Shared>,
    cmd: mpsc::Sender<Cmd>,
}

impl std::fmt::Debug for HidPad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HidPad")
            .field("info", &self.info)
            .field("target", &self.shared.target)
            .finish_non_exhaustive()
    }
}

/// A name for a USB vendor id of pen makers, when known.
pub fn vendor_name(vendor_id: u16) -> Option<&'static str> {
    Some(match vendor_id {
        0x03eb => "Atmel",
        0x0458 => "KYE Systems (Genius)",
        0x04f3 => "Elan",
        0x056a => "Wacom",
        0x0eef => "eGalax",
        0x172f => "Waltop",
        0x1b96 => "N-Trig",
        0x256c => "Huion",
        0x27c6 => "Goodix",
        0x28bd => "XP-Pen",
        0x5543 => "UC-Logic",
        _ => return None,
    })
}

impl HidPad {
    /// Opens the pen `opener` reaches as the device `id`: opens the device, reads its report
    /// descriptor and finds the pen. Blocks until then (call it from a blocking thread in
    /// async code).
    ///
    /// Errors: those of the opener ([`DeviceError::NotFound`],
    /// [`DeviceError::PermissionDenied`] with the fix), [`DeviceError::Unsupported`] for a
    /// device without a pen (or without a physical size and no `units_per_mm`),
    /// [`DeviceError::InvalidArgument`] for a bad configuration.
    pub fn open(
        id: &str,
        opener: Arc<dyn HidOpener>,
        config: HidConfig,
    ) -> Result<Self, DeviceError> {
        config.check()?;
        let shared = Arc::new(Shared {
            id: id.to_string(),
            target: opener.target(),
            config,
            state: StateCell::new(id),
            reason: Mutex::new(None),
            ink: Ink::default(),
            counters: Counters::default(),
            link: Mutex::new(None),
            measured_rate: AtomicU32::new(0),
        });
        let (cmd_tx, cmd_rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let actor_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(format!("hid-{id}"))
            .spawn(move || {
                let mut actor = Actor::new(actor_shared, cmd_rx, opener);
                let opened = actor.connect();
                let ok = opened.is_ok();
                let _ = ready_tx.send(opened);
                if ok {
                    actor.run();
                }
            })
            .map_err(|e| DeviceError::Hardware(format!("cannot start the HID thread: {e}")))?;
        ready_rx
            .recv()
            .map_err(|_| DeviceError::Hardware("the HID thread stopped while opening".into()))??;
        let link = shared
            .link()
            .ok_or_else(|| DeviceError::Hardware("the HID pad opened without a link".into()))?;
        let idn = &link.identity;
        let vendor = vendor_name(idn.vendor_id)
            .map(str::to_string)
            .unwrap_or_else(|| format!("USB vendor {:04x}", idn.vendor_id));
        let name = if idn.name.is_empty() {
            format!("HID pen {:04x}:{:04x}", idn.vendor_id, idn.product_id)
        } else {
            idn.name.clone()
        };
        let info = DeviceInfo {
            id: id.to_string(),
            class: DeviceClass::SignaturePad,
            vendor,
            model: format!(
                "{name}, {:.0} x {:.0} mm",
                link.scale.width_mm, link.scale.height_mm
            ),
            serial: idn.serial.clone(),
            firmware: String::new(),
            driver: DRIVER_NAME.into(),
            simulated: false,
        };
        Ok(HidPad {
            info,
            shared,
            cmd: cmd_tx,
        })
    }

    /// What it opens: a node, or `VID:PID`.
    pub fn target(&self) -> &str {
        &self.shared.target
    }

    /// The configuration.
    pub fn config(&self) -> &HidConfig {
        &self.shared.config
    }

    /// The pen found in the device's report descriptor when it was last opened.
    pub fn layout(&self) -> Option<Arc<PenLayout>> {
        self.shared.link().map(|l| l.layout)
    }

    /// The device as it last said it was.
    pub fn identity(&self) -> Option<HidIdentity> {
        self.shared.link().map(|l| l.identity)
    }

    /// Reports counted since the pad was opened.
    pub fn stats(&self) -> ReportStats {
        self.shared.counters.snapshot()
    }

    /// Reads the report descriptor again: [`DeviceError::Busy`] during a signature,
    /// [`DeviceError::Disconnected`] while the device is away (or when the request fails:
    /// the pad then reconnects).
    pub async fn probe(&self) -> Result<ProbeOutcome, DeviceError> {
        self.shared.state.check_usable()?;
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Cmd::Probe(tx))
            .map_err(|_| self.shared.disconnected())?;
        rx.await.map_err(|_| self.shared.disconnected())?
    }
}

fn describe(link: &Link) -> String {
    let r = link.layout.primary();
    let s = &link.scale;
    let mut parts = vec![format!(
        "pen report {} ({} bytes): X {}..{}, Y {}..{}",
        r.report_id, r.len, r.x.logical_min, r.x.logical_max, r.y.logical_min, r.y.logical_max
    )];
    parts.push(format!(
        "{:.1} x {:.1} mm at {:.1} units/mm{}",
        s.width_mm,
        s.height_mm,
        s.units_per_mm,
        if s.from_descriptor {
            ""
        } else {
            " (configured)"
        }
    ));
    match r.pressure_levels() {
        0 => parts.push("no pressure".into()),
        n => parts.push(format!("{n} pressure levels")),
    }
    let mut has = Vec::new();
    for (name, present) in [
        ("in range", r.in_range.is_some()),
        ("tip", r.tip.is_some()),
        ("barrel", r.barrel.is_some()),
        ("eraser", r.eraser.is_some() || r.invert.is_some()),
        ("tilt", r.tilt_x.is_some() || r.tilt_y.is_some()),
    ] {
        if present {
            has.push(name);
        }
    }
    parts.push(has.join(", "));
    if link.layout.reports().len() > 1 {
        parts.push(format!(
            "{} more pen report(s)",
            link.layout.reports().len() - 1
        ));
    }
    parts.join("; ")
}

#[async_trait]
impl Device for HidPad {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn watch_state(&self) -> watch::Receiver<DeviceState> {
        self.shared.state.subscribe()
    }

    fn state_reason(&self) -> Option<String> {
        match self.shared.state.get() {
            DeviceState::Disconnected => lock(&self.shared.reason).clone(),
            _ => None,
        }
    }

    async fn self_test(&self) -> DiagnosticReport {
        let started = Instant::now();
        let target = &self.shared.target;
        let mut checks = Vec::new();
        let link = self.shared.link();
        let device = |l: &Link| {
            let i = &l.identity;
            format!(
                "{} ({}) {:04x}:{:04x} {}",
                i.node, target, i.vendor_id, i.product_id, i.name
            )
        };
        match (self.shared.state.get(), &link) {
            (DeviceState::Disconnected | DeviceState::Error(_), _) | (_, None) => {
                let reason = lock(&self.shared.reason)
                    .clone()
                    .unwrap_or_else(|| "the pad is away".into());
                checks.push(DiagnosticCheck::new(
                    "device",
                    CheckOutcome::Fail,
                    format!("{target}: {reason}"),
                ));
            }
            (DeviceState::Busy, Some(l)) => {
                checks.push(DiagnosticCheck::new(
                    "device",
                    CheckOutcome::Pass,
                    device(l),
                ));
                checks.push(DiagnosticCheck::new(
                    "descriptor",
                    CheckOutcome::Warn,
                    format!(
                        "not read again: a signature is being captured; last read: {}",
                        describe(l)
                    ),
                ));
            }
            (DeviceState::Ready, Some(l)) => match self.probe().await {
                Ok(o) => {
                    checks.push(DiagnosticCheck::new(
                        "device",
                        CheckOutcome::Pass,
                        device(l),
                    ));
                    checks.push(if o.unchanged {
                        DiagnosticCheck::new("descriptor", CheckOutcome::Pass, describe(l))
                    } else {
                        DiagnosticCheck::new(
                            "descriptor",
                            CheckOutcome::Warn,
                            format!(
                                "the report descriptor ({} bytes) changed since the pad was \
                                 opened (another device at {target}?): restart rekamd; was: {}",
                                o.descriptor_len,
                                describe(l)
                            ),
                        )
                    });
                }
                Err(e) => checks.push(DiagnosticCheck::new(
                    "device",
                    CheckOutcome::Fail,
                    format!("{target}: {e}"),
                )),
            },
        }
        let s = self.stats();
        let detail = format!(
            "{} pen reports since start; errors: {} truncated, {} out of range; {} other \
             reports ignored; {} disconnections, {} reconnections",
            s.pen_reports,
            s.truncated,
            s.out_of_range,
            s.other_reports,
            s.disconnects,
            s.reconnects
        );
        checks.push(DiagnosticCheck::new(
            "reports",
            if s.errors() == 0 {
                CheckOutcome::Pass
            } else {
                CheckOutcome::Warn
            },
            detail,
        ));
        DiagnosticReport {
            device_id: self.info.id.clone(),
            checks,
            elapsed: started.elapsed(),
        }
    }
}

#[async_trait]
impl SignaturePad for HidPad {
    fn geometry(&self) -> PadGeometry {
        self.shared.link().map_or(
            PadGeometry {
                width: 0.0,
                height: 0.0,
                units_per_mm: 0.0,
            },
            |l| l.scale.geometry(),
        )
    }

    fn pressure_levels(&self) -> u32 {
        self.shared
            .link()
            .map_or(0, |l| l.layout.primary().pressure_levels())
    }

    fn sample_rate_hz(&self) -> u32 {
        self.shared
            .config
            .sample_rate_hz
            .unwrap_or_else(|| self.shared.measured_rate.load(Ordering::Relaxed))
    }

    fn sign(&self) -> BoxStream<'static, Result<PenSample, DeviceError>> {
        let guard = match self.shared.state.busy() {
            Ok(g) => g,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        let (tx, rx) = tmpsc::unbounded_channel();
        if self.cmd.send(Cmd::Sign(tx)).is_err() {
            let e = self.shared.disconnected();
            return futures::stream::once(async move { Err(e) }).boxed();
        }
        // The guard keeps the pad Busy until the stream ends or is dropped.
        futures::stream::unfold((rx, guard), |(mut rx, guard)| async move {
            let item = rx.recv().await?;
            Some((item, (rx, guard)))
        })
        .boxed()
    }

    async fn clear(&self) -> Result<(), DeviceError> {
        self.shared.state.check_usable()?;
        self.shared.ink.clear();
        Ok(())
    }

    async fn take(&self) -> Result<Vec<PenSample>, DeviceError> {
        self.shared.state.check_usable()?;
        self.shared.ink.take()
    }
}

// ---------------------------------------------------------------------------------------
// The actor

/// Pen reports per second while the pen is in range.
#[derive(Debug, Default)]
struct RateMeter {
    first: Option<Instant>,
    last: Option<Instant>,
    n: u32,
}

impl RateMeter {
    fn tick(&mut self, at: Instant) {
        self.first.get_or_insert(at);
        self.last = Some(at);
        self.n += 1;
    }

    fn rate(&self) -> Option<u32> {
        let span = self.last?.saturating_duration_since(self.first?);
        (self.n >= 10 && span >= Duration::from_millis(100))
            .then(|| (f64::from(self.n - 1) / span.as_secs_f64()).round() as u32)
    }
}

struct Actor {
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Cmd>,
    opener: Arc<dyn HidOpener>,
    transport: Option<Box<dyn HidTransport>>,
    buf: Vec<u8>,
}

impl Actor {
    fn new(shared: Arc<Shared>, rx: mpsc::Receiver<Cmd>, opener: Arc<dyn HidOpener>) -> Self {
        Actor {
            shared,
            rx,
            opener,
            transport: None,
            buf: vec![0; 64],
        }
    }

    /// Opens the device and reads its pen from the report descriptor.
    fn connect(&mut self) -> Result<(), DeviceError> {
        let target = &self.shared.target;
        let mut t = self.opener.open()?;
        let identity = t.identity();
        let descriptor = t.report_descriptor().map_err(|e| {
            DeviceError::Hardware(format!(
                "cannot read the report descriptor of {target} ({}): {e}",
                identity.node
            ))
        })?;
        let what = if identity.name.is_empty() {
            format!("{target} ({})", identity.node)
        } else {
            format!("{target} ({}, {})", identity.node, identity.name)
        };
        let layout = PenLayout::from_descriptor(&descriptor).map_err(|e| {
            DeviceError::Unsupported(format!("{what} cannot be a signature pad: {e}"))
        })?;
        let configured = self.shared.config.units_per_mm.map(f64::from);
        let scale = PenScale::new(&layout, configured).ok_or_else(|| {
            DeviceError::Unsupported(format!(
                "{what}: its report descriptor gives no physical size of the writing area \
                 (X and Y without a length unit): set the device option units_per_mm to the \
                 pad's resolution from its data sheet"
            ))
        })?;
        self.buf = vec![0; layout.max_input_len.max(64) + 1];
        let mut link = lock(&self.shared.link);
        if let Some(old) = link.as_ref()
            && *old.descriptor != descriptor
        {
            tracing::warn!(device = %self.shared.id, target = %target,
                "the pad came back with another report descriptor: {what} is read by the new one");
        }
        *link = Some(Link {
            layout: Arc::new(layout),
            scale,
            identity,
            descriptor: Arc::new(descriptor),
        });
        drop(link);
        self.transport = Some(t);
        Ok(())
    }

    /// The device failed while connected: Disconnected with the reason.
    fn lose(&mut self, e: TransportError) -> DeviceError {
        self.transport = None;
        bump(&self.shared.counters.disconnects);
        let reason = format!(
            "the HID device failed ({e}): check the pad's cable, then wait for it to be found again"
        );
        tracing::warn!(device = %self.shared.id, target = %self.shared.target, "{reason}");
        *lock(&self.shared.reason) = Some(reason);
        self.shared.state.set(DeviceState::Disconnected);
        self.shared.disconnected()
    }

    /// Serves the pad until its handle is dropped.
    fn run(&mut self) {
        loop {
            let alive = if self.transport.is_some() {
                self.idle()
            } else {
                self.reconnect()
            };
            if !alive {
                return;
            }
        }
    }

    /// Connected and not capturing. Returns false when the pad's handle is gone.
    fn idle(&mut self) -> bool {
        while let Some(t) = self.transport.as_mut() {
            match self.rx.try_recv() {
                Ok(Cmd::Sign(tx)) => {
                    self.sign(tx);
                    continue;
                }
                Ok(Cmd::Probe(reply)) => {
                    let r = self.probe();
                    let _ = reply.send(r);
                    continue;
                }
                Err(TryRecvError::Disconnected) => return false,
                Err(TryRecvError::Empty) => {}
            }
            // Reports while nobody signs are dropped; a read error is an unplug.
            if let Err(e) = t.read_report(&mut self.buf, TICK) {
                self.lose(e);
            }
        }
        true
    }

    fn probe(&mut self) -> Result<ProbeOutcome, DeviceError> {
        let Some(t) = self.transport.as_mut() else {
            return Err(self.shared.disconnected());
        };
        let started = Instant::now();
        match t.report_descriptor() {
            Ok(d) => {
                let before = self.shared.link().map(|l| l.descriptor);
                Ok(ProbeOutcome {
                    round_trip: started.elapsed(),
                    unchanged: before.is_some_and(|b| *b == d),
                    descriptor_len: d.len(),
                })
            }
            Err(e) => Err(self.lose(e)),
        }
    }

    /// Disconnected: answers commands with Disconnected and tries to reconnect. Returns
    /// false when the pad's handle is gone.
    fn reconnect(&mut self) -> bool {
        let every = self.shared.config.reconnect_every;
        let mut next_try = Instant::now() + every;
        loop {
            let wait = next_try.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(wait) {
                Ok(Cmd::Sign(tx)) => {
                    let _ = tx.send(Err(self.shared.disconnected()));
                }
                Ok(Cmd::Probe(reply)) => {
                    let _ = reply.send(Err(self.shared.disconnected()));
                }
                Err(RecvTimeoutError::Timeout) => match self.connect() {
                    Ok(()) => {
                        tracing::info!(device = %self.shared.id, target = %self.shared.target,
                            "the HID pad is back");
                        bump(&self.shared.counters.reconnects);
                        *lock(&self.shared.reason) = None;
                        self.shared.state.set(DeviceState::Ready);
                        return true;
                    }
                    Err(e) => {
                        *lock(&self.shared.reason) = Some(e.to_string());
                        next_try = Instant::now() + every;
                    }
                },
                Err(RecvTimeoutError::Disconnected) => return false,
            }
        }
    }

    /// Captures one signature into the ink and the stream.
    fn sign(&mut self, tx: SampleTx) {
        self.shared.ink.clear();
        let Some(link) = self.shared.link() else {
            let _ = tx.send(Err(self.shared.disconnected()));
            return;
        };
        if let Some(t) = self.transport.as_mut() {
            t.capture_started();
        }
        let finish_after = self.shared.config.finish_after;
        let mut sig = PenTrack::new();
        let mut rate = RateMeter::default();
        let counters = &self.shared.counters;
        loop {
            if tx.is_closed() {
                break; // the caller stopped listening: the ink so far stays
            }
            match self.rx.try_recv() {
                Ok(Cmd::Sign(other)) => {
                    let _ = other.send(Err(DeviceError::Busy(self.shared.id.clone())));
                }
                Ok(Cmd::Probe(reply)) => {
                    let _ = reply.send(Err(DeviceError::Busy(self.shared.id.clone())));
                }
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {}
            }
            let mut wait = TICK;
            if let Some(left) = sig.finish_in(Instant::now(), finish_after) {
                if left.is_zero() {
                    break;
                }
                wait = wait.min(left);
            }
            let Some(t) = self.transport.as_mut() else {
                let _ = tx.send(Err(self.shared.disconnected()));
                return;
            };
            match t.read_report(&mut self.buf, wait) {
                Ok(None) => {}
                Ok(Some(n)) => {
                    let at = Instant::now();
                    match link.layout.decode(&self.buf[..n]) {
                        Decoded::Pen(s) => {
                            bump(&counters.pen_reports);
                            let Some(r) = link.layout.report(s.report_id) else {
                                continue;
                            };
                            if s.in_range {
                                rate.tick(at);
                            }
                            let pos = link.scale.position(r, &s);
                            let p = pressure(r, &s);
                            if let Some(sample) = sig.sample(s.in_range, s.inking(), pos, p, at) {
                                self.shared.ink.push(sample);
                                let _ = tx.send(Ok(sample));
                            }
                        }
                        Decoded::Truncated { .. } => bump(&counters.truncated),
                        Decoded::OutOfRange { .. } => bump(&counters.out_of_range),
                        Decoded::Other { .. } => bump(&counters.other_reports),
                    }
                }
                Err(e) => {
                    let err = self.lose(e);
                    let _ = tx.send(Err(err));
                    break;
                }
            }
        }
        if let Some(r) = rate.rate() {
            self.shared.measured_rate.store(r, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_measured_once_there_are_enough_reports() {
        let t0 = Instant::now();
        let mut r = RateMeter::default();
        assert_eq!(r.rate(), None);
        for i in 0..21u64 {
            r.tick(t0 + Duration::from_millis(5 * i));
        }
        assert_eq!(r.rate(), Some(200));
    }

    #[test]
    fn bad_configurations_are_refused() {
        for c in [
            HidConfig {
                units_per_mm: Some(0.0),
                ..Default::default()
            },
            HidConfig {
                units_per_mm: Some(f32::NAN),
                ..Default::default()
            },
            HidConfig {
                sample_rate_hz: Some(0),
                ..Default::default()
            },
        ] {
            assert!(matches!(c.check(), Err(DeviceError::InvalidArgument(_))));
        }
        assert!(HidConfig::default().check().is_ok());
    }
}
