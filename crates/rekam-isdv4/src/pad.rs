//! The ISDV4 digitizer as a rekam signature pad: [`Isdv4Pad`].
//!
//! One thread per pad owns the serial port (the actor); the async methods talk to it over
//! channels and never block the runtime. The actor:
//!
//! * at open and after every reconnection, stops the digitizer (`0`), waits
//!   [`Isdv4Config::settle`] for packets in flight, and queries it (`*`) with a time-out and
//!   bounded attempts, at the configured baud rate or, when none is configured, at 19200
//!   then 38400 baud (xf86-input-wacom's fallback);
//! * while idle, reads the port (a USB adapter's unplugging shows as a read error at once)
//!   and queries the digitizer every [`Isdv4Config::keepalive`]: a digitizer on a hardware
//!   UART that lost power is only noticed that way;
//! * for [`SignaturePad::sign`], starts sampling (`1`), decodes pen packets into samples
//!   and stops (`0`) when the signer has finished or the stream is dropped;
//! * on an I/O error closes the port, or on a query left unanswered keeps it, reports
//!   [`DeviceState::Disconnected`] with the reason, and tries again every
//!   [`Isdv4Config::reconnect_every`] until the digitizer answers: then Ready again.

use std::sync::atomic::{AtomicU64, Ordering};
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

use crate::port::{self, Line, LineFault, Opener};
use crate::protocol::{
    CMD_QUERY, CMD_START, CMD_STOP, Decoded, Decoder, PEN_PACKET_LEN, PEN_UNITS_PER_MM, PenPacket,
    QueryReply, Skip,
};

/// The driver's name in selectors: `signature:isdv4:/dev/ttyS4`.
pub const DRIVER_NAME: &str = "isdv4";

/// The baud rates tried, in order, when none is configured: 19200 (the W8001 pen-only
/// sensors, xf86-input-wacom's default for them) then 38400 (sensors with touch, and
/// `inputattach --w8001`).
pub const DEFAULT_BAUDS: [u32; 2] = [19200, 38400];

/// The nominal pen sample rate of W8001 sensors, samples per second. An assumption: no
/// public document at hand states it; Wacom's penabled sensors of that generation are
/// commonly quoted at 133 points per second. Configurable ([`Isdv4Config::sample_rate_hz`]).
pub const NOMINAL_SAMPLE_RATE_HZ: u32 = 133;

/// How long the actor waits on the port at a time: the latency of a command to the actor
/// while it is idle or sampling.
pub(crate) const TICK: Duration = Duration::from_millis(20);

/// A pause inside a packet longer than this cuts it (at 9600 baud a byte takes ~1 ms).
const INTER_BYTE_GAP: Duration = Duration::from_millis(30);

/// While the pen touches, no packet for this long means it left without saying so (a
/// digitizer that went silent mid-stroke): the driver lifts it.
const PEN_STALE: Duration = Duration::from_millis(150);

/// How the driver talks to the digitizer (the device's `options` table in the
/// configuration; see [`crate::config_from_options`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Isdv4Config {
    /// A fixed baud rate; `None` tries [`DEFAULT_BAUDS`] in turn (option `baud`).
    pub baud: Option<u32>,
    /// Coordinate units per millimetre; [`PEN_UNITS_PER_MM`] by default, the value both
    /// Linux drivers assume (option `units_per_mm`).
    pub units_per_mm: f32,
    /// Pen samples per second; [`NOMINAL_SAMPLE_RATE_HZ`] by default (option
    /// `sample_rate_hz`). Used for [`SignaturePad::sample_rate_hz`] and to time packets that
    /// arrive together.
    pub sample_rate_hz: u32,
    /// The signature is finished when the pen has not touched the pad for this long after
    /// ink (option `finish_ms`, default 1500 ms).
    pub finish_after: Duration,
    /// How long to wait for a query's answer (option `query_timeout_ms`, default 1000 ms,
    /// the kernel's one second).
    pub query_timeout: Duration,
    /// Queries sent before the digitizer is declared silent (option `query_attempts`,
    /// default 3).
    pub query_attempts: u32,
    /// While idle, query the digitizer this often to notice that it went silent; `None`
    /// never (option `keepalive_ms`, 0 = never; default 5000 ms).
    pub keepalive: Option<Duration>,
    /// While disconnected, try to reopen and query this often (option `reconnect_ms`,
    /// default 1000 ms).
    pub reconnect_every: Duration,
    /// After a stop command, wait this long for packets in flight before querying (option
    /// `settle_ms`, default 250 ms as the kernel's `w8001_setup`).
    pub settle: Duration,
}

impl Default for Isdv4Config {
    fn default() -> Self {
        Isdv4Config {
            baud: None,
            units_per_mm: PEN_UNITS_PER_MM,
            sample_rate_hz: NOMINAL_SAMPLE_RATE_HZ,
            finish_after: Duration::from_millis(1500),
            query_timeout: Duration::from_millis(1000),
            query_attempts: 3,
            keepalive: Some(Duration::from_secs(5)),
            reconnect_every: Duration::from_secs(1),
            settle: Duration::from_millis(250),
        }
    }
}

impl Isdv4Config {
    fn check(&self) -> Result<(), DeviceError> {
        let bad = |m: &str| Err(DeviceError::InvalidArgument(format!("signature:isdv4 {m}")));
        if !(self.units_per_mm.is_finite() && self.units_per_mm > 0.0) {
            return bad("units_per_mm must be a positive number");
        }
        if self.sample_rate_hz == 0 {
            return bad("sample_rate_hz must be at least 1");
        }
        if self.query_attempts == 0 {
            return bad("query_attempts must be at least 1");
        }
        if self.baud == Some(0) {
            return bad("baud must be a positive rate, e.g. 19200");
        }
        Ok(())
    }

    fn bauds(&self, last_good: Option<u32>) -> Vec<u32> {
        match self.baud {
            Some(b) => vec![b],
            None => {
                let mut v: Vec<u32> = last_good.into_iter().collect();
                v.extend(DEFAULT_BAUDS.iter().filter(|b| Some(**b) != last_good));
                v
            }
        }
    }
}

/// Packets counted since the pad was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacketStats {
    /// Pen packets decoded.
    pub pen_packets: u64,
    /// Query replies received.
    pub query_replies: u64,
    /// Times the decoder lost the packet boundaries and resynchronised on the lead bit.
    pub sync_errors: u64,
    /// Bytes dropped while resynchronising.
    pub bytes_skipped: u64,
    /// Packets cut short.
    pub truncated: u64,
    /// Pen packets whose values exceed the digitizer's maxima (damaged on the line),
    /// dropped.
    pub out_of_range: u64,
    /// Touch packets ignored (not errors: a pen-only driver does not read them).
    pub touch_packets: u64,
    /// Queries left unanswered.
    pub query_timeouts: u64,
}

impl PacketStats {
    /// Damaged packets: resynchronisations, truncated and out-of-range packets.
    pub fn errors(&self) -> u64 {
        self.sync_errors + self.truncated + self.out_of_range
    }
}

#[derive(Debug, Default)]
struct Counters {
    pen_packets: AtomicU64,
    query_replies: AtomicU64,
    sync_errors: AtomicU64,
    bytes_skipped: AtomicU64,
    truncated: AtomicU64,
    out_of_range: AtomicU64,
    touch_packets: AtomicU64,
    query_timeouts: AtomicU64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    fn snapshot(&self) -> PacketStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PacketStats {
            pen_packets: g(&self.pen_packets),
            query_replies: g(&self.query_replies),
            sync_errors: g(&self.sync_errors),
            bytes_skipped: g(&self.bytes_skipped),
            truncated: g(&self.truncated),
            out_of_range: g(&self.out_of_range),
            touch_packets: g(&self.touch_packets),
            query_timeouts: g(&self.query_timeouts),
        }
    }

    fn skip(&self, s: Skip) {
        match s {
            Skip::Unsynchronized { bytes } => {
                bump(&self.sync_errors, 1);
                bump(&self.bytes_skipped, bytes as u64);
            }
            Skip::Truncated { .. } => bump(&self.truncated, 1),
            Skip::Touch { .. } => bump(&self.touch_packets, 1),
        }
    }
}

/// A query answered: the digitizer's ranges and how long the answer took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryOutcome {
    /// The reply.
    pub reply: QueryReply,
    /// From the query byte written to the reply decoded.
    pub round_trip: Duration,
    /// The baud rate it answered at.
    pub baud: u32,
}

/// What the pad knows of the digitizer from its last answer.
#[derive(Debug, Clone, Copy)]
struct Link {
    reply: QueryReply,
    baud: u32,
}

type SampleTx = tmpsc::UnboundedSender<Result<PenSample, DeviceError>>;

enum Cmd {
    Query(oneshot::Sender<Result<QueryOutcome, DeviceError>>),
    Sign(SampleTx),
}

struct Shared {
    id: String,
    path: String,
    opener: Arc<dyn Opener>,
    config: Isdv4Config,
    state: StateCell,
    reason: Mutex<Option<String>>,
    ink: Ink,
    counters: Counters,
    link: Mutex<Link>,
}

/// A line's fault as the actor's: a replay's divergence is a protocol error naming the
/// recording's line.
fn link_error(f: LineFault) -> LinkError {
    match f {
        LineFault::Gone(m) => LinkError::Gone(m),
        LineFault::Diverged(m) => LinkError::Refused(DeviceError::Protocol(m)),
    }
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

    fn link(&self) -> Link {
        *lock(&self.link)
    }
}

/// A Wacom ISDV4 / W8001 serial pen digitizer as a [`SignaturePad`] (see the
/// [module docs](self)).
///
/// Coordinates are the digitizer's own units: [`SignaturePad::geometry`] is the queried
/// maxima with [`Isdv4Config::units_per_mm`]. Pressure is the reported pressure over the
/// queried maximum while the tip touches, 0 while it does not (hovering, or out of
/// proximity: the driver writes one pen-up sample at the pen's last position when it
/// leaves). The side switches and the eraser bit do not change the ink.
///
/// The signature ends when the pen has not touched the pad for
/// [`Isdv4Config::finish_after`] after ink, as the simulated pad's stream ends with its
/// trace: the pipeline then takes the ink. A signature without ink does not end by
/// itself: the caller's deadline ends it (dropping the stream stops the digitizer).
pub struct Isdv4Pad {
    info: DeviceInfo,
    shared: Arc<Shared>,
    cmd: mpsc::Sender<Cmd>,
}

impl std::fmt::Debug for Isdv4Pad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Isdv4Pad")
            .field("info", &self.info)
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

impl Isdv4Pad {
    /// Opens the digitizer at `path` (a serial device node, or a link to one) as the
    /// device `id`: opens the port, stops and queries the digitizer. Blocks until it
    /// answers or the attempts are spent (call it from a blocking thread in async code).
    ///
    /// Errors: [`DeviceError::NotFound`] when the node is not there,
    /// [`DeviceError::PermissionDenied`] (with the fix) when rekamd may not open it,
    /// [`DeviceError::Timeout`] when nothing answers, [`DeviceError::Unsupported`] for a
    /// touch-only digitizer, [`DeviceError::InvalidArgument`] for a bad configuration.
    pub fn open(id: &str, path: &str, config: Isdv4Config) -> Result<Self, DeviceError> {
        Self::open_on(id, Arc::new(port::SerialOpener::new(path, TICK)), config)
    }

    /// Opens the digitizer behind `opener` (a serial port, a recording's replay) as
    /// [`Isdv4Pad::open`] does.
    pub fn open_on(
        id: &str,
        opener: Arc<dyn Opener>,
        config: Isdv4Config,
    ) -> Result<Self, DeviceError> {
        config.check()?;
        let shared = Arc::new(Shared {
            id: id.to_string(),
            path: opener.address(),
            opener,
            config,
            state: StateCell::new(id),
            reason: Mutex::new(None),
            ink: Ink::default(),
            counters: Counters::default(),
            link: Mutex::new(Link {
                reply: QueryReply::default(),
                baud: 0,
            }),
        });
        let (cmd_tx, cmd_rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let actor_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(format!("isdv4-{id}"))
            .spawn(move || {
                let mut actor = Actor::new(actor_shared, cmd_rx);
                let opened = actor.connect();
                let ok = opened.is_ok();
                let _ = ready_tx.send(opened);
                if ok {
                    actor.run();
                }
                actor.close();
            })
            .map_err(|e| DeviceError::Hardware(format!("cannot start the ISDV4 thread: {e}")))?;
        ready_rx.recv().map_err(|_| {
            DeviceError::Hardware("the ISDV4 thread stopped while opening".into())
        })??;
        let link = shared.link();
        let upm = shared.config.units_per_mm;
        let info = DeviceInfo {
            id: id.to_string(),
            class: DeviceClass::SignaturePad,
            vendor: "Wacom".into(),
            model: format!(
                "ISDV4 pen digitizer, {:.0} x {:.0} mm",
                f32::from(link.reply.max_x) / upm,
                f32::from(link.reply.max_y) / upm
            ),
            serial: String::new(),
            firmware: link.reply.version.to_string(),
            driver: DRIVER_NAME.into(),
            simulated: false,
        };
        Ok(Isdv4Pad {
            info,
            shared,
            cmd: cmd_tx,
        })
    }

    /// The device node it opens.
    pub fn path(&self) -> &str {
        &self.shared.path
    }

    /// The configuration.
    pub fn config(&self) -> &Isdv4Config {
        &self.shared.config
    }

    /// The digitizer's last answer to a query.
    pub fn last_reply(&self) -> QueryReply {
        self.shared.link().reply
    }

    /// The baud rate the digitizer last answered at.
    pub fn baud(&self) -> u32 {
        self.shared.link().baud
    }

    /// Packets counted since the pad was opened.
    pub fn stats(&self) -> PacketStats {
        self.shared.counters.snapshot()
    }

    /// Queries the digitizer now: its ranges and the round trip. [`DeviceError::Busy`]
    /// while a signature is captured (the digitizer is sampling),
    /// [`DeviceError::Disconnected`] while it is away, [`DeviceError::Timeout`] when it does
    /// not answer (the pad is then disconnected until it answers again).
    pub async fn query(&self) -> Result<QueryOutcome, DeviceError> {
        self.shared.state.check_usable()?;
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Cmd::Query(tx))
            .map_err(|_| self.shared.disconnected())?;
        rx.await.map_err(|_| self.shared.disconnected())?
    }

    fn effective_rate(&self) -> u32 {
        // 10 bits a byte (8N1): a faster nominal rate than the line carries is not reached.
        let baud = self.shared.link().baud;
        let line = baud / 10 / PEN_PACKET_LEN as u32;
        let rate = self.shared.config.sample_rate_hz;
        if line > 0 { rate.min(line) } else { rate }
    }
}

fn describe(reply: &QueryReply, upm: f32) -> String {
    let tilt = if reply.tilt_max == (0, 0) {
        "no tilt".to_string()
    } else {
        format!("tilt {} / {}", reply.tilt_max.0, reply.tilt_max.1)
    };
    format!(
        "max x {} y {} ({:.0} x {:.0} mm at {upm} units/mm), {} pressure levels, {tilt}, \
         firmware {}",
        reply.max_x,
        reply.max_y,
        f32::from(reply.max_x) / upm,
        f32::from(reply.max_y) / upm,
        u32::from(reply.max_pressure) + 1,
        reply.version
    )
}

#[async_trait]
impl Device for Isdv4Pad {
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
        let upm = self.shared.config.units_per_mm;
        let path = &self.shared.path;
        let mut checks = Vec::new();
        match self.shared.state.get() {
            DeviceState::Disconnected | DeviceState::Error(_) => {
                let reason = lock(&self.shared.reason)
                    .clone()
                    .unwrap_or_else(|| "the digitizer is away".into());
                checks.push(DiagnosticCheck::new(
                    "port",
                    CheckOutcome::Fail,
                    format!("{path}: {reason}"),
                ));
            }
            DeviceState::Busy => {
                let link = self.shared.link();
                checks.push(DiagnosticCheck::new(
                    "port",
                    CheckOutcome::Pass,
                    format!("{path} at {} baud", link.baud),
                ));
                checks.push(DiagnosticCheck::new(
                    "query",
                    CheckOutcome::Warn,
                    format!(
                        "not asked: a signature is being captured; last answer: {}",
                        describe(&link.reply, upm)
                    ),
                ));
            }
            DeviceState::Ready => match self.query().await {
                Ok(o) => {
                    checks.push(DiagnosticCheck::new(
                        "port",
                        CheckOutcome::Pass,
                        format!("{path} at {} baud", o.baud),
                    ));
                    checks.push(DiagnosticCheck::new(
                        "query",
                        CheckOutcome::Pass,
                        describe(&o.reply, upm),
                    ));
                    let ms = o.round_trip.as_secs_f64() * 1000.0;
                    checks.push(DiagnosticCheck::new(
                        "latency",
                        if o.round_trip > Duration::from_millis(100) {
                            CheckOutcome::Warn
                        } else {
                            CheckOutcome::Pass
                        },
                        format!("query round trip {ms:.1} ms"),
                    ));
                }
                Err(e) => checks.push(DiagnosticCheck::new(
                    "query",
                    CheckOutcome::Fail,
                    format!("{path}: {e}"),
                )),
            },
        }
        let s = self.stats();
        let detail = format!(
            "{} pen packets since start; errors: {} resynchronisations ({} bytes skipped), \
             {} truncated, {} out of range; {} queries unanswered, {} touch packets ignored",
            s.pen_packets,
            s.sync_errors,
            s.bytes_skipped,
            s.truncated,
            s.out_of_range,
            s.query_timeouts,
            s.touch_packets
        );
        checks.push(DiagnosticCheck::new(
            "packets",
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
impl SignaturePad for Isdv4Pad {
    fn geometry(&self) -> PadGeometry {
        let r = self.shared.link().reply;
        PadGeometry {
            width: f32::from(r.max_x),
            height: f32::from(r.max_y),
            units_per_mm: self.shared.config.units_per_mm,
        }
    }

    fn pressure_levels(&self) -> u32 {
        match self.shared.link().reply.max_pressure {
            0 => 0,
            m => u32::from(m) + 1,
        }
    }

    fn sample_rate_hz(&self) -> u32 {
        self.effective_rate()
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

/// Why the link failed.
enum LinkError {
    /// The port failed (unplugged, hung up): it is closed.
    Gone(String),
    /// The digitizer did not answer: the port stays open.
    Silent(String),
    /// The digitizer answered something rekam cannot use.
    Refused(DeviceError),
}

/// One signature being captured: the shared pen track, fed from pen packets, and when the
/// last packet came (a pen silent while touching is lifted).
struct Signature {
    track: PenTrack,
    last_packet: Option<Instant>,
}

impl Signature {
    fn new() -> Self {
        Signature {
            track: PenTrack::new(),
            last_packet: None,
        }
    }

    /// The sample a pen packet gives, if any.
    fn sample(&mut self, p: &PenPacket, max_pressure: u16, at: Instant) -> Option<PenSample> {
        self.last_packet = Some(at);
        let pressure = if max_pressure == 0 {
            1.0
        } else {
            // Never rounded to "pen up" while it touches.
            (f32::from(p.pressure.max(1)) / f32::from(max_pressure)).min(1.0)
        };
        let pos = (f32::from(p.x), f32::from(p.y));
        self.track.sample(p.proximity, p.tip, pos, pressure, at)
    }

    /// A pen-up sample when the pen touched but no packet came for [`PEN_STALE`].
    fn expire(&mut self, now: Instant) -> Option<PenSample> {
        let last = self.last_packet?;
        if !self.track.is_down() || now.saturating_duration_since(last) < PEN_STALE {
            return None;
        }
        self.track.lift(now, last)
    }

    /// How long until the signature is finished, when the pen is up after ink.
    fn finish_in(&self, now: Instant, after: Duration) -> Option<Duration> {
        self.track.finish_in(now, after)
    }
}

struct Actor {
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Cmd>,
    port: Option<Box<dyn Line>>,
    connected: bool,
    decoder: Decoder,
    baud: u32,
    last_good_baud: Option<u32>,
    /// The digitizer may be sending coordinates: stop it before a query.
    maybe_sampling: bool,
    last_contact: Instant,
    buf: [u8; 512],
}

impl Actor {
    fn new(shared: Arc<Shared>, rx: mpsc::Receiver<Cmd>) -> Self {
        Actor {
            shared,
            rx,
            port: None,
            connected: false,
            decoder: Decoder::new(),
            baud: 0,
            last_good_baud: None,
            maybe_sampling: true,
            last_contact: Instant::now(),
            buf: [0; 512],
        }
    }

    fn config(&self) -> &Isdv4Config {
        &self.shared.config
    }

    fn close(&mut self) {
        // Dropping the line releases the port.
        self.port.take();
    }

    /// Opens the port if needed and initialises the digitizer.
    fn connect(&mut self) -> Result<(), DeviceError> {
        if self.port.is_none() {
            let bauds = self.config().bauds(self.last_good_baud);
            let first = bauds.first().copied().unwrap_or(DEFAULT_BAUDS[0]);
            self.port = Some(self.shared.opener.open(first)?);
            self.baud = first;
            self.decoder.reset();
        }
        // A digitizer that was away may come back sampling: stop it before the query.
        self.maybe_sampling = true;
        match self.init() {
            Ok(()) => {
                self.connected = true;
                self.last_contact = Instant::now();
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Turns a link error into a device error, closing the port if it failed.
    fn fail(&mut self, e: LinkError) -> DeviceError {
        match e {
            LinkError::Gone(m) => {
                self.close();
                DeviceError::Hardware(format!("the port {} failed: {m}", self.shared.path))
            }
            LinkError::Silent(m) => DeviceError::Timeout(m),
            LinkError::Refused(d) => d,
        }
    }

    fn init(&mut self) -> Result<(), LinkError> {
        let bauds = self.config().bauds(self.last_good_baud);
        for &baud in &bauds {
            if baud != self.baud {
                let port = self
                    .port
                    .as_mut()
                    .ok_or_else(|| LinkError::Gone("not open".into()))?;
                port.set_baud(baud).map_err(link_error)?;
                self.baud = baud;
                self.maybe_sampling = true;
            }
            match self.query() {
                Ok(o) if !o.reply.has_pen() => {
                    return Err(LinkError::Refused(DeviceError::Unsupported(format!(
                        "the digitizer on {} reports no pen (a touch-only W8001 sensor): rekam \
                         needs a pen digitizer",
                        self.shared.path
                    ))));
                }
                Ok(_) => {
                    self.last_good_baud = Some(baud);
                    return Ok(());
                }
                Err(LinkError::Silent(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let rates: Vec<String> = bauds.iter().map(u32::to_string).collect();
        Err(LinkError::Silent(format!(
            "no answer from an ISDV4 digitizer on {} at {} baud ({} queries of {} ms each): \
             check that the pad is connected and powered, and its baud rate",
            self.shared.path,
            rates.join(" or "),
            self.config().query_attempts,
            self.config().query_timeout.as_millis()
        )))
    }

    /// Tells the line what the actor begins (see [`Line::mark`]).
    fn mark(&mut self, label: &str) {
        if let Some(port) = self.port.as_mut() {
            port.mark(label);
        }
    }

    /// Reads what comes within `timeout`: the bytes read (0 when none came).
    fn read(&mut self, timeout: Duration) -> Result<usize, LinkError> {
        let port = self
            .port
            .as_mut()
            .ok_or_else(|| LinkError::Gone("not open".into()))?;
        port.read(&mut self.buf, timeout).map_err(link_error)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        let port = self
            .port
            .as_mut()
            .ok_or_else(|| LinkError::Gone("not open".into()))?;
        port.write_all(bytes).map_err(link_error)
    }

    /// Decodes the bytes read, counting skips and pen packets; returns what was found.
    fn decode(&mut self, n: usize) -> Vec<Decoded> {
        let found = self.decoder.feed(&self.buf[..n]);
        for d in &found {
            match d {
                Decoded::Pen(_) => bump(&self.shared.counters.pen_packets, 1),
                Decoded::Reply(_) => bump(&self.shared.counters.query_replies, 1),
                Decoded::Skipped(s) => self.shared.counters.skip(*s),
            }
        }
        found
    }

    fn flush_decoder(&mut self) {
        let counters = &self.shared.counters;
        self.decoder.flush(&mut |d| {
            if let Decoded::Skipped(s) = d {
                counters.skip(s);
            }
        });
    }

    /// Stops sampling and lets packets in flight arrive, then forgets them.
    fn stop(&mut self) -> Result<(), LinkError> {
        if !self.maybe_sampling {
            return Ok(());
        }
        self.write(&[CMD_STOP])?;
        let until = Instant::now() + self.config().settle;
        loop {
            let now = Instant::now();
            if now >= until {
                break;
            }
            let n = self.read(until - now)?;
            if n > 0 {
                self.decode(n);
            }
        }
        self.decoder.reset();
        self.maybe_sampling = false;
        Ok(())
    }

    fn query(&mut self) -> Result<QueryOutcome, LinkError> {
        self.stop()?;
        let attempts = self.config().query_attempts;
        let timeout = self.config().query_timeout;
        for _ in 0..attempts {
            self.decoder.reset();
            let sent = Instant::now();
            self.write(&[CMD_QUERY])?;
            let deadline = sent + timeout;
            loop {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                let n = self.read(deadline - now)?;
                if n == 0 {
                    continue;
                }
                let reply = self.decode(n).into_iter().find_map(|d| match d {
                    Decoded::Reply(r) => Some(r),
                    _ => None,
                });
                if let Some(reply) = reply {
                    let outcome = QueryOutcome {
                        reply,
                        round_trip: sent.elapsed(),
                        baud: self.baud,
                    };
                    self.last_contact = Instant::now();
                    *lock(&self.shared.link) = Link {
                        reply,
                        baud: self.baud,
                    };
                    return Ok(outcome);
                }
            }
            bump(&self.shared.counters.query_timeouts, 1);
        }
        Err(LinkError::Silent(format!(
            "no answer from the ISDV4 digitizer on {} to {attempts} queries of {} ms at {} baud: \
             check its cable and power",
            self.shared.path,
            timeout.as_millis(),
            self.baud
        )))
    }

    /// The link failed while connected: Disconnected with the reason.
    fn lose(&mut self, e: LinkError) -> DeviceError {
        let (reason, err) = match e {
            LinkError::Gone(m) => {
                self.close();
                (
                    format!("the port failed ({m}): check the pad's cable, then wait for it"),
                    self.shared.disconnected(),
                )
            }
            LinkError::Silent(m) => (m.clone(), DeviceError::Timeout(m)),
            LinkError::Refused(d) => (d.to_string(), d),
        };
        tracing::warn!(device = %self.shared.id, path = %self.shared.path, "{reason}");
        self.connected = false;
        *lock(&self.shared.reason) = Some(reason);
        self.shared.state.set(DeviceState::Disconnected);
        err
    }

    /// Serves the pad until its handle is dropped.
    fn run(&mut self) {
        loop {
            let alive = if self.connected {
                self.idle()
            } else {
                self.reconnect()
            };
            if !alive {
                return;
            }
        }
    }

    /// Connected and not sampling. Returns false when the pad's handle is gone.
    fn idle(&mut self) -> bool {
        while self.connected {
            match self.rx.try_recv() {
                Ok(Cmd::Query(reply)) => {
                    self.mark("job");
                    let r = self.query().map_err(|e| self.lose(e));
                    let _ = reply.send(r);
                    continue;
                }
                Ok(Cmd::Sign(tx)) => {
                    self.mark("job");
                    self.sign(tx);
                    continue;
                }
                Err(TryRecvError::Disconnected) => return false,
                Err(TryRecvError::Empty) => {}
            }
            if let Some(every) = self.config().keepalive
                && self.last_contact.elapsed() >= every
            {
                self.mark("keepalive");
                if let Err(e) = self.query() {
                    self.lose(e);
                }
                continue;
            }
            match self.read(TICK) {
                Ok(0) => {
                    if self.decoder.pending() {
                        self.flush_decoder();
                    }
                }
                Ok(n) => {
                    // Coordinates while stopped: the digitizer restarted sampling on its own
                    // (a power cycle); stop it before the next query.
                    if self.decode(n).iter().any(|d| matches!(d, Decoded::Pen(_))) {
                        self.maybe_sampling = true;
                    }
                }
                Err(e) => {
                    self.lose(e);
                }
            }
        }
        true
    }

    /// Disconnected: answers commands with Disconnected and tries to reconnect. Returns
    /// false when the pad's handle is gone.
    fn reconnect(&mut self) -> bool {
        let mut next_try = Instant::now() + self.config().reconnect_every;
        loop {
            let wait = next_try.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(wait) {
                Ok(Cmd::Query(reply)) => {
                    let _ = reply.send(Err(self.shared.disconnected()));
                }
                Ok(Cmd::Sign(tx)) => {
                    let _ = tx.send(Err(self.shared.disconnected()));
                }
                Err(RecvTimeoutError::Timeout) => match self.connect() {
                    Ok(()) => {
                        tracing::info!(device = %self.shared.id, path = %self.shared.path,
                            "the ISDV4 digitizer answers again");
                        *lock(&self.shared.reason) = None;
                        self.shared.state.set(DeviceState::Ready);
                        return true;
                    }
                    Err(e) => {
                        *lock(&self.shared.reason) = Some(e.to_string());
                        next_try = Instant::now() + self.config().reconnect_every;
                    }
                },
                Err(RecvTimeoutError::Disconnected) => return false,
            }
        }
    }

    /// Captures one signature into the ink and the stream.
    fn sign(&mut self, tx: SampleTx) {
        self.shared.ink.clear();
        if let Err(e) = self.write(&[CMD_START]) {
            let _ = tx.send(Err(self.lose(e)));
            return;
        }
        self.maybe_sampling = true;
        self.decoder.reset();
        let finish_after = self.config().finish_after;
        let period = Duration::from_secs_f64(1.0 / f64::from(self.config().sample_rate_hz));
        let mut sig = Signature::new();
        let mut last_byte = Instant::now();
        let emit = |shared: &Shared, s: PenSample| {
            shared.ink.push(s);
            let _ = tx.send(Ok(s));
        };
        loop {
            if tx.is_closed() {
                break; // the caller stopped listening: the ink so far stays
            }
            match self.rx.try_recv() {
                Ok(Cmd::Query(reply)) => {
                    let _ = reply.send(Err(DeviceError::Busy(self.shared.id.clone())));
                }
                Ok(Cmd::Sign(other)) => {
                    let _ = other.send(Err(DeviceError::Busy(self.shared.id.clone())));
                }
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {}
            }
            let now = Instant::now();
            if let Some(s) = sig.expire(now) {
                emit(&self.shared, s);
            }
            let mut wait = TICK;
            if let Some(left) = sig.finish_in(now, finish_after) {
                if left.is_zero() {
                    break;
                }
                wait = wait.min(left);
            }
            match self.read(wait) {
                Ok(0) => {
                    if self.decoder.pending() && last_byte.elapsed() >= INTER_BYTE_GAP {
                        self.flush_decoder();
                    }
                }
                Ok(n) => {
                    let at = Instant::now();
                    last_byte = at;
                    let reply = self.shared.link().reply;
                    let pens: Vec<PenPacket> = self
                        .decode(n)
                        .into_iter()
                        .filter_map(|d| match d {
                            Decoded::Pen(p) => Some(p),
                            _ => None,
                        })
                        .collect();
                    let k = pens.len();
                    for (i, p) in pens.iter().enumerate() {
                        if !reply.admits(p) {
                            bump(&self.shared.counters.out_of_range, 1);
                            continue;
                        }
                        // Packets read together arrived one sample period apart (a USB
                        // adapter's latency timer batches them): date each back from now.
                        let back = period.mul_f64((k - 1 - i) as f64);
                        let t = at.checked_sub(back).unwrap_or(at);
                        if let Some(s) = sig.sample(p, reply.max_pressure, t) {
                            emit(&self.shared, s);
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(self.lose(e)));
                    return;
                }
            }
        }
        // Stop sampling now; the next query lets packets in flight settle first.
        if let Err(e) = self.write(&[CMD_STOP]) {
            self.lose(e);
        }
    }
}

impl Drop for Actor {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bauds_try_the_last_good_rate_first_unless_one_is_configured() {
        let c = Isdv4Config::default();
        assert_eq!(c.bauds(None), [19200, 38400]);
        assert_eq!(c.bauds(Some(38400)), [38400, 19200]);
        let fixed = Isdv4Config {
            baud: Some(9600),
            ..Default::default()
        };
        assert_eq!(fixed.bauds(Some(38400)), [9600]);
    }

    #[test]
    fn bad_configurations_are_refused() {
        for c in [
            Isdv4Config {
                units_per_mm: 0.0,
                ..Default::default()
            },
            Isdv4Config {
                sample_rate_hz: 0,
                ..Default::default()
            },
            Isdv4Config {
                query_attempts: 0,
                ..Default::default()
            },
            Isdv4Config {
                baud: Some(0),
                ..Default::default()
            },
        ] {
            assert!(matches!(c.check(), Err(DeviceError::InvalidArgument(_))));
        }
        assert!(Isdv4Config::default().check().is_ok());
    }

    fn pkt(prox: bool, tip: bool, x: u16, y: u16, p: u16) -> PenPacket {
        PenPacket {
            proximity: prox,
            tip,
            x,
            y,
            pressure: p,
            ..Default::default()
        }
    }

    #[test]
    fn signatures_turn_packets_into_samples_and_finish_after_the_pen_rests() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut s = Signature::new();
        // Hover, then touch, then lift out of proximity.
        let a = s.sample(&pkt(true, false, 10, 20, 0), 1023, ms(0)).unwrap();
        assert_eq!((a.x, a.y, a.pressure, a.t_ms), (10.0, 20.0, 0.0, 0));
        assert_eq!(s.finish_in(ms(0), Duration::from_millis(500)), None);
        let b = s.sample(&pkt(true, true, 11, 21, 0), 1023, ms(8)).unwrap();
        assert_eq!(b.pressure, 1.0 / 1023.0); // touching: never "pen up"
        let c = s
            .sample(&pkt(true, true, 12, 22, 1023), 1023, ms(16))
            .unwrap();
        assert_eq!((c.pressure, c.t_ms), (1.0, 16));
        assert_eq!(s.finish_in(ms(16), Duration::from_millis(500)), None);
        let up = s.sample(&pkt(false, false, 0, 0, 0), 1023, ms(24)).unwrap();
        assert_eq!((up.x, up.y, up.pressure, up.t_ms), (12.0, 22.0, 0.0, 24));
        // A second out-of-proximity packet says nothing new.
        assert!(
            s.sample(&pkt(false, false, 0, 0, 0), 1023, ms(32))
                .is_none()
        );
        assert_eq!(
            s.finish_in(ms(124), Duration::from_millis(500)),
            Some(Duration::from_millis(400))
        );
        assert_eq!(
            s.finish_in(ms(600), Duration::from_millis(500)),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn a_pen_that_falls_silent_while_touching_is_lifted() {
        let t0 = Instant::now();
        let mut s = Signature::new();
        s.sample(&pkt(true, true, 5, 6, 100), 255, t0).unwrap();
        assert!(s.expire(t0 + Duration::from_millis(50)).is_none());
        let up = s.expire(t0 + PEN_STALE).unwrap();
        assert_eq!((up.x, up.y, up.pressure), (5.0, 6.0, 0.0));
        assert_eq!(
            s.finish_in(t0, Duration::from_millis(100)),
            Some(Duration::from_millis(100))
        );
    }
}
