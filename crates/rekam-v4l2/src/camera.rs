//! The camera: [`V4l2Camera`] implements [`rekam_core::Camera`] over a [`VideoDevice`]
//! owned by a thread of its own (the actor). The async side only sends commands over a
//! channel and awaits answers; it never blocks.
//!
//! The actor opens the device, negotiates the preview and still formats
//! ([`crate::negotiate`]), sets the controls ([`crate::controls`]) and waits. A preview
//! starts the stream; frames go to every open preview (a second [`Camera::preview`] shares
//! the running stream, each with its own sequence numbers from 0), each through a queue
//! of a few frames that drops frames rather than waits when its reader is slow (sequence
//! numbers then skip). The stream keeps running for [`V4l2Config::linger`] after the last
//! preview is dropped, so that a client that comes back (a page reload) gets frames at
//! once. A still stops the stream, switches to the still format, skips a few frames while
//! exposure settles, takes one, switches back and restarts the preview.
//!
//! An idle actor asks the device who it is every [`V4l2Config::reconnect_interval`]
//! (`VIDIOC_QUERYCAP`), so that an unplug shows even when nothing streams.
//!
//! When the camera goes away (unplugged) every preview ends with
//! [`DeviceError::Disconnected`], the device is Disconnected, and the actor tries to open
//! it again every [`V4l2Config::reconnect_interval`]; once it opens (formats negotiated and
//! controls set again) the device is Ready.

use std::sync::mpsc::{self as std_mpsc, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::stream::BoxStream;
use rekam_core::sim::StateCell;
use rekam_core::{
    Camera, CheckOutcome, Device, DeviceClass, DeviceError, DeviceInfo, DeviceState,
    DiagnosticCheck, DiagnosticReport, Frame, VideoFormat,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::controls::{Applied, ControlOutcome, ControlSettings, apply_controls};
use crate::jpeg::{ConvertError, encode_yuyv, mjpeg_to_jpeg};
use crate::negotiate::{
    FormatChoice, PreviewTarget, choose_preview, choose_still, enumerate_modes,
};
use crate::video::{
    ActiveFormat, Capability, FourCc, Opener, RawFrame, StreamFormat, VideoDevice, VideoError,
};

/// The driver's name in selectors and device info.
pub const DRIVER_NAME: &str = "v4l2";

/// Frames a preview's queue holds; one slot more is kept for the error that ends it.
const PREVIEW_QUEUE: usize = 3;
/// The longest the actor waits for a frame before it looks at its commands again.
const POLL: Duration = Duration::from_millis(50);

/// How the camera is driven.
#[derive(Debug, Clone, PartialEq)]
pub struct V4l2Config {
    /// The preview size and rate asked for (default 1280x720 at 30 fps).
    pub preview: PreviewTarget,
    /// Which pixel formats may be used (default: MJPEG preferred, YUYV fallback).
    pub format: FormatChoice,
    /// Exposure, focus and white balance (default: automatic where the camera has them).
    pub controls: ControlSettings,
    /// JPEG quality of encoded YUYV frames, 1–100 (default 85).
    pub jpeg_quality: u8,
    /// Memory-mapped buffers (default 4).
    pub buffers: u32,
    /// Frames dropped after switching to the still format, while exposure settles
    /// (default 3).
    pub still_skip_frames: u32,
    /// The longest wait for a frame before a preview or a still fails with a timeout
    /// (default 3 s).
    pub frame_timeout: Duration,
    /// How often a camera that went away is looked for (default 1 s).
    pub reconnect_interval: Duration,
    /// How long the stream keeps running after the last preview was dropped (default 2 s).
    pub linger: Duration,
}

impl Default for V4l2Config {
    fn default() -> Self {
        V4l2Config {
            preview: PreviewTarget::default(),
            format: FormatChoice::Auto,
            controls: ControlSettings::default(),
            jpeg_quality: 85,
            buffers: 4,
            still_skip_frames: 3,
            frame_timeout: Duration::from_secs(3),
            reconnect_interval: Duration::from_secs(1),
            linger: Duration::from_secs(2),
        }
    }
}

/// What the async side can read without asking the actor.
#[derive(Debug, Default)]
struct Status {
    preview: Option<ActiveFormat>,
    still: Option<StreamFormat>,
    controls: Vec<ControlOutcome>,
    reason: Option<String>,
}

enum Cmd {
    Preview(mpsc::Sender<Result<Frame, DeviceError>>),
    Still(oneshot::Sender<Result<Frame, DeviceError>>),
    SelfTest(oneshot::Sender<Vec<DiagnosticCheck>>),
}

/// A UVC camera through V4L2 (see the [module docs](self)).
pub struct V4l2Camera {
    info: DeviceInfo,
    state: StateCell,
    status: Arc<Mutex<Status>>,
    cmd: std_mpsc::Sender<Cmd>,
}

impl std::fmt::Debug for V4l2Camera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V4l2Camera")
            .field("info", &self.info)
            .field("state", &self.state.get())
            .finish_non_exhaustive()
    }
}

fn lock(status: &Mutex<Status>) -> MutexGuard<'_, Status> {
    status.lock().unwrap_or_else(|e| e.into_inner())
}

/// The device error of a video error, for the device `id`.
pub fn device_error(id: &str, e: VideoError) -> DeviceError {
    match e {
        VideoError::Gone => DeviceError::Disconnected {
            device: id.to_string(),
        },
        VideoError::NotFound(what) => DeviceError::NotFound(what),
        VideoError::PermissionDenied(path) => DeviceError::PermissionDenied {
            path,
            help: "rekamd's user needs read and write access to the video node: add it to \
                   the group that owns it (video), or install the station's udev rules"
                .into(),
        },
        VideoError::Busy(what) => {
            DeviceError::Busy(format!("{what} (another program may be using the camera)"))
        }
        VideoError::Refused(what) => DeviceError::Hardware(what),
        VideoError::NoFrame(what) => DeviceError::Timeout(what),
        e @ VideoError::Os { .. } => DeviceError::Hardware(e.to_string()),
    }
}

/// An open device with its negotiated formats.
struct Session {
    dev: Box<dyn VideoDevice>,
    cap: Capability,
    preview: StreamFormat,
    still: StreamFormat,
    /// The format set now.
    active: ActiveFormat,
    /// What the preview format became when it was set.
    preview_active: ActiveFormat,
    controls: Vec<ControlOutcome>,
}

impl Session {
    fn open(opener: &mut Opener, config: &V4l2Config) -> Result<Session, VideoError> {
        let mut dev = opener()?;
        let cap = dev.capability()?;
        let modes = enumerate_modes(&mut *dev, &config.preview)?;
        let none = || {
            VideoError::Refused(format!(
                "{} offers no {} mode",
                cap.card,
                match config.format {
                    FormatChoice::Auto => "MJPEG or YUYV",
                    FormatChoice::Mjpeg => "MJPEG",
                    FormatChoice::Yuyv => "YUYV",
                }
            ))
        };
        let preview = choose_preview(&modes, &config.preview, config.format).ok_or_else(none)?;
        let still = choose_still(&modes, config.format).ok_or_else(none)?;
        let controls = apply_controls(&mut *dev, &config.controls)?;
        for c in &controls {
            if let Applied::Failed(why) = &c.applied {
                tracing::warn!(camera = %cap.card, control = c.name, "control not set: {why}");
            }
        }
        let active = set_format(&mut *dev, &preview)?;
        Ok(Session {
            dev,
            cap,
            preview,
            still,
            active,
            preview_active: active,
            controls,
        })
    }
}

/// Sets a format and checks that the device kept its pixel format.
fn set_format(dev: &mut dyn VideoDevice, f: &StreamFormat) -> Result<ActiveFormat, VideoError> {
    let active = dev.set_format(f)?;
    if active.fourcc != f.fourcc {
        return Err(VideoError::Refused(format!(
            "asked for {} {}x{}, the device set {} {}x{}",
            f.fourcc, f.width, f.height, active.fourcc, active.width, active.height
        )));
    }
    Ok(active)
}

/// A raw frame as a baseline JPEG.
fn to_jpeg(
    raw: &RawFrame<'_>,
    format: &ActiveFormat,
    quality: u8,
) -> Result<Vec<u8>, ConvertError> {
    if format.fourcc == FourCc::YUYV {
        encode_yuyv(
            raw.data,
            format.width,
            format.height,
            format.bytes_per_line as usize,
            quality,
        )
    } else {
        mjpeg_to_jpeg(raw.data)
    }
}

struct Sub {
    tx: mpsc::Sender<Result<Frame, DeviceError>>,
    /// The stream's frame count when it joined.
    first: u64,
}

struct Actor {
    id: String,
    state: StateCell,
    status: Arc<Mutex<Status>>,
    config: V4l2Config,
    opener: Opener,
    session: Option<Session>,
    rx: std_mpsc::Receiver<Cmd>,
    subs: Vec<Sub>,
    streaming: bool,
    /// Frames taken from the stream since the actor started.
    captured: u64,
    last_frame: Instant,
    idle_since: Option<Instant>,
    next_reopen: Instant,
    /// Wall-clock times of the last frames, for the self-test's rate.
    recent: std::collections::VecDeque<Instant>,
}

impl Actor {
    fn run(mut self) {
        loop {
            let cmd = if self.streaming {
                match self.rx.try_recv() {
                    Ok(c) => Some(c),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => break,
                }
            } else if self.session.is_none() {
                let wait = self.next_reopen.saturating_duration_since(Instant::now());
                match self.rx.recv_timeout(wait) {
                    Ok(c) => Some(c),
                    Err(RecvTimeoutError::Timeout) => {
                        self.reopen();
                        None
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                // Idle: look at the device now and then, so that an unplug shows at once
                // (one QUERYCAP a second).
                match self.rx.recv_timeout(self.config.reconnect_interval) {
                    Ok(c) => Some(c),
                    Err(RecvTimeoutError::Timeout) => {
                        self.check_alive();
                        None
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            };
            match cmd {
                Some(Cmd::Preview(tx)) => self.add_preview(tx),
                // A caller that gave up before its turn gets no still.
                Some(Cmd::Still(reply)) if reply.is_closed() => {}
                Some(Cmd::Still(reply)) => {
                    let r = self.still();
                    let _ = reply.send(r);
                }
                Some(Cmd::SelfTest(reply)) => {
                    let r = self.self_test();
                    let _ = reply.send(r);
                }
                None if self.streaming => self.pump(),
                None => {}
            }
        }
        if let Some(s) = self.session.as_mut() {
            let _ = s.dev.stop_stream();
        }
    }

    fn disconnected(&self) -> DeviceError {
        DeviceError::Disconnected {
            device: self.id.clone(),
        }
    }

    fn publish(&self) {
        if let Some(s) = &self.session {
            let mut st = lock(&self.status);
            st.preview = Some(s.preview_active);
            st.still = Some(s.still);
            st.controls = s.controls.clone();
            st.reason = None;
        }
    }

    fn reopen(&mut self) {
        self.next_reopen = Instant::now() + self.config.reconnect_interval;
        match Session::open(&mut self.opener, &self.config) {
            Ok(s) => {
                tracing::info!(camera = %self.id, card = %s.cap.card, "camera is back");
                self.session = Some(s);
                self.publish();
                self.state.set(DeviceState::Ready);
            }
            Err(e) => {
                lock(&self.status).reason = Some(format!("the camera went away; reopening: {e}"));
            }
        }
    }

    /// Asks the idle device who it is; one that went away is lost.
    fn check_alive(&mut self) {
        if let Some(s) = self.session.as_mut() {
            if let Err(VideoError::Gone) = s.dev.capability() {
                self.lost();
            }
        }
    }

    /// The camera went away.
    fn lost(&mut self) {
        tracing::warn!(camera = %self.id, "camera disconnected");
        self.session = None;
        self.streaming = false;
        lock(&self.status).reason = Some("the camera went away (unplugged?)".into());
        self.state.set(DeviceState::Disconnected);
        self.next_reopen = Instant::now() + self.config.reconnect_interval;
        let err = self.disconnected();
        for s in self.subs.drain(..) {
            let _ = s.tx.try_send(Err(err.clone()));
        }
    }

    /// Ends every preview with the error; a camera that went away is lost, any other
    /// failure stops the stream.
    fn fail(&mut self, e: VideoError) {
        if matches!(e, VideoError::Gone) {
            return self.lost();
        }
        let err = device_error(&self.id, e);
        tracing::warn!(camera = %self.id, "preview failed: {err}");
        for s in self.subs.drain(..) {
            let _ = s.tx.try_send(Err(err.clone()));
        }
        self.stop_stream();
    }

    fn stop_stream(&mut self) {
        self.streaming = false;
        self.idle_since = None;
        if let Some(s) = self.session.as_mut() {
            if let Err(VideoError::Gone) = s.dev.stop_stream() {
                self.lost();
            }
        }
    }

    fn start_stream(&mut self) -> Result<(), VideoError> {
        let Some(s) = self.session.as_mut() else {
            return Err(VideoError::Gone);
        };
        if s.active != s.preview_active {
            s.active = set_format(&mut *s.dev, &s.preview)?;
            s.preview_active = s.active;
        }
        s.dev.start_stream(self.config.buffers)?;
        self.streaming = true;
        self.last_frame = Instant::now();
        self.idle_since = None;
        Ok(())
    }

    fn add_preview(&mut self, tx: mpsc::Sender<Result<Frame, DeviceError>>) {
        if self.session.is_none() {
            let _ = tx.try_send(Err(self.disconnected()));
            return;
        }
        self.subs.push(Sub {
            tx,
            first: self.captured,
        });
        if !self.streaming {
            if let Err(e) = self.start_stream() {
                self.fail(e);
            }
        }
    }

    /// Takes one frame from the stream and hands it to the previews.
    fn pump(&mut self) {
        self.subs.retain(|s| !s.tx.is_closed());
        if self.subs.is_empty() {
            let since = *self.idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= self.config.linger {
                self.stop_stream();
                return;
            }
        } else {
            self.idle_since = None;
        }
        let wanted = self.subs.iter().any(|s| s.tx.capacity() >= 2);
        let quality = self.config.jpeg_quality;
        let Some(session) = self.session.as_mut() else {
            self.streaming = false;
            return;
        };
        let format = session.active;
        let got = match session.dev.dequeue(POLL) {
            Ok(None) => Ok(None),
            Ok(Some(raw)) => Ok(Some((
                raw.timestamp,
                wanted.then(|| to_jpeg(&raw, &format, quality)),
            ))),
            Err(e) => Err(e),
        };
        match got {
            Err(e) => self.fail(e),
            Ok(None) => {
                if self.last_frame.elapsed() > self.config.frame_timeout {
                    let e = DeviceError::Timeout(format!(
                        "{} sent no frame for {:?}",
                        self.id, self.config.frame_timeout
                    ));
                    for s in self.subs.drain(..) {
                        let _ = s.tx.try_send(Err(e.clone()));
                    }
                    self.stop_stream();
                }
            }
            Ok(Some((at, jpeg))) => {
                let index = self.captured;
                self.captured += 1;
                self.last_frame = Instant::now();
                if self.recent.len() == 32 {
                    self.recent.pop_front();
                }
                self.recent.push_back(self.last_frame);
                match jpeg {
                    None => {}
                    Some(Err(e)) => tracing::debug!(camera = %self.id, "frame dropped: {e}"),
                    Some(Ok(jpeg)) => {
                        for s in &self.subs {
                            if s.tx.capacity() >= 2 {
                                let _ = s.tx.try_send(Ok(Frame {
                                    sequence: index - s.first,
                                    at,
                                    width: format.width,
                                    height: format.height,
                                    jpeg: jpeg.clone(),
                                }));
                            }
                        }
                    }
                }
            }
        }
    }

    /// Streams in the format set now until one frame converts, after skipping `skip`.
    fn grab(&mut self, skip: u32) -> Result<Frame, VideoError> {
        let timeout = self.config.frame_timeout;
        let quality = self.config.jpeg_quality;
        let Some(s) = self.session.as_mut() else {
            return Err(VideoError::Gone);
        };
        let format = s.active;
        let started = Instant::now();
        let mut skipped = 0;
        loop {
            if started.elapsed() > timeout {
                return Err(VideoError::NoFrame(format!(
                    "{}: no usable frame in {timeout:?}",
                    self.id
                )));
            }
            let Some(raw) = s.dev.dequeue(POLL)? else {
                continue;
            };
            if skipped < skip {
                skipped += 1;
                continue;
            }
            match to_jpeg(&raw, &format, quality) {
                Ok(jpeg) => {
                    return Ok(Frame {
                        sequence: 0,
                        at: raw.timestamp,
                        width: format.width,
                        height: format.height,
                        jpeg,
                    });
                }
                Err(e) => tracing::debug!(camera = %self.id, "still frame dropped: {e}"),
            }
        }
    }

    fn still(&mut self) -> Result<Frame, DeviceError> {
        let Some(s) = self.session.as_mut() else {
            return Err(self.disconnected());
        };
        let was_streaming = self.streaming;
        let result = if s.still == s.preview {
            // The preview is already the largest format: no switch.
            let started = if was_streaming {
                Ok(())
            } else {
                self.start_stream()
            };
            let r = started.and_then(|()| self.grab(if was_streaming { 0 } else { 1 }));
            if !was_streaming {
                self.stop_stream();
            }
            r
        } else {
            self.switch_and_grab(was_streaming)
        };
        result.map_err(|e| {
            let gone = matches!(e, VideoError::Gone);
            let err = device_error(&self.id, e);
            if gone {
                self.lost();
            }
            err
        })
    }

    fn switch_and_grab(&mut self, was_streaming: bool) -> Result<Frame, VideoError> {
        let buffers = self.config.buffers;
        let skip = self.config.still_skip_frames;
        let Some(s) = self.session.as_mut() else {
            return Err(VideoError::Gone);
        };
        if was_streaming {
            s.dev.stop_stream()?;
            self.streaming = false;
        }
        let grabbed = (|| -> Result<Frame, VideoError> {
            let s = self.session.as_mut().ok_or(VideoError::Gone)?;
            s.active = set_format(&mut *s.dev, &s.still)?;
            s.dev.start_stream(buffers)?;
            let r = self.grab(skip);
            let s = self.session.as_mut().ok_or(VideoError::Gone)?;
            s.dev.stop_stream()?;
            r
        })();
        // Back to the preview format, and the preview if one is watching.
        let restored = (|| -> Result<(), VideoError> {
            let s = self.session.as_mut().ok_or(VideoError::Gone)?;
            s.active = set_format(&mut *s.dev, &s.preview)?;
            s.preview_active = s.active;
            if was_streaming && !self.subs.is_empty() {
                self.start_stream()?;
            }
            Ok(())
        })();
        if let Ok(f) = &grabbed {
            if let Some(s) = self.session.as_mut() {
                s.still.width = f.width;
                s.still.height = f.height;
            }
            self.publish();
        }
        match (grabbed, restored) {
            (Err(VideoError::Gone), _) | (_, Err(VideoError::Gone)) => Err(VideoError::Gone),
            (Ok(f), Err(e)) => {
                // The still is good; the preview could not restart.
                self.fail(e);
                Ok(f)
            }
            (r, _) => r,
        }
    }

    fn self_test(&mut self) -> Vec<DiagnosticCheck> {
        let mut checks = Vec::new();
        let Some(s) = self.session.as_ref() else {
            let reason = lock(&self.status)
                .reason
                .clone()
                .unwrap_or_else(|| "the camera is not open".into());
            checks.push(DiagnosticCheck::new(
                "device",
                CheckOutcome::Fail,
                format!("{reason}; check the USB cable and hub"),
            ));
            return checks;
        };
        checks.push(DiagnosticCheck::new(
            "device",
            CheckOutcome::Pass,
            format!(
                "{} (driver {}, {})",
                s.cap.card, s.cap.driver, s.cap.bus_info
            ),
        ));
        let p = s.preview_active;
        checks.push(DiagnosticCheck::new(
            "formats",
            CheckOutcome::Pass,
            format!(
                "preview {} {}x{} at {:.0} fps; still {} {}x{}",
                p.fourcc,
                p.width,
                p.height,
                p.interval.map_or(0.0, |i| i.fps()),
                s.still.fourcc,
                s.still.width,
                s.still.height
            ),
        ));
        if !s.controls.is_empty() {
            let failed = s
                .controls
                .iter()
                .any(|c| matches!(c.applied, Applied::Failed(_)));
            let detail: Vec<String> = s
                .controls
                .iter()
                .map(|c| match &c.applied {
                    Applied::Set(v) => format!("{} = {v}", c.name),
                    Applied::Absent => format!("{}: none", c.name),
                    Applied::Failed(why) => format!("{}: refused ({why})", c.name),
                })
                .collect();
            checks.push(DiagnosticCheck::new(
                "controls",
                if failed {
                    CheckOutcome::Warn
                } else {
                    CheckOutcome::Pass
                },
                detail.join("; "),
            ));
        }
        if self.streaming {
            let rate = match (self.recent.front(), self.recent.back()) {
                (Some(a), Some(b)) if self.recent.len() > 1 && b > a => {
                    (self.recent.len() - 1) as f64 / (*b - *a).as_secs_f64()
                }
                _ => 0.0,
            };
            checks.push(DiagnosticCheck::new(
                "frames",
                CheckOutcome::Pass,
                format!("streaming, {rate:.1} frames per second delivered"),
            ));
        } else {
            let t = Instant::now();
            let r = self.start_stream().and_then(|()| self.grab(1));
            self.stop_stream();
            checks.push(match r {
                Ok(f) => DiagnosticCheck::new(
                    "frames",
                    CheckOutcome::Pass,
                    format!(
                        "one {}x{} frame ({} bytes of JPEG) in {:.0} ms",
                        f.width,
                        f.height,
                        f.jpeg.len(),
                        t.elapsed().as_secs_f64() * 1000.0
                    ),
                ),
                Err(e) => {
                    let gone = matches!(e, VideoError::Gone);
                    let c = DiagnosticCheck::new(
                        "frames",
                        CheckOutcome::Fail,
                        format!("no frame: {}", device_error(&self.id, e)),
                    );
                    if gone {
                        self.lost();
                    }
                    c
                }
            });
        }
        checks
    }
}

impl V4l2Camera {
    /// Opens the camera through `opener` (negotiating formats and setting controls on
    /// this thread; it blocks briefly) and starts its thread. `vendor` and `serial` go into
    /// the device info when known (an empty serial becomes the bus address); model and
    /// firmware come from the device.
    pub fn with_opener(
        id: &str,
        mut opener: Opener,
        config: V4l2Config,
        vendor: &str,
        serial: &str,
    ) -> Result<V4l2Camera, DeviceError> {
        let session = Session::open(&mut opener, &config).map_err(|e| device_error(id, e))?;
        let v = session.cap.version;
        let info = DeviceInfo {
            id: id.to_string(),
            class: DeviceClass::Camera,
            vendor: vendor.to_string(),
            model: session.cap.card.clone(),
            serial: if serial.is_empty() {
                session.cap.bus_info.clone()
            } else {
                serial.to_string()
            },
            firmware: format!(
                "{} {}.{}.{}",
                session.cap.driver,
                v >> 16,
                (v >> 8) & 0xFF,
                v & 0xFF
            ),
            driver: DRIVER_NAME.to_string(),
            simulated: false,
        };
        let state = StateCell::new(id);
        let status = Arc::new(Mutex::new(Status::default()));
        let (tx, rx) = std_mpsc::channel();
        let actor = Actor {
            id: id.to_string(),
            state: state.clone(),
            status: Arc::clone(&status),
            config,
            opener,
            session: Some(session),
            rx,
            subs: Vec::new(),
            streaming: false,
            captured: 0,
            last_frame: Instant::now(),
            idle_since: None,
            next_reopen: Instant::now(),
            recent: std::collections::VecDeque::new(),
        };
        actor.publish();
        std::thread::Builder::new()
            .name(format!("v4l2-{id}"))
            .spawn(move || actor.run())
            .map_err(|e| DeviceError::Hardware(format!("cannot start the camera thread: {e}")))?;
        Ok(V4l2Camera {
            info,
            state,
            status,
            cmd: tx,
        })
    }

    /// The controls as set at the last open: what each became.
    pub fn controls(&self) -> Vec<ControlOutcome> {
        lock(&self.status).controls.clone()
    }

    /// The format the preview streams, as the device set it.
    pub fn preview_format(&self) -> Option<ActiveFormat> {
        lock(&self.status).preview
    }

    fn actor_gone(&self) -> DeviceError {
        DeviceError::Hardware(format!("{}: the camera thread has stopped", self.info.id))
    }
}

fn one_error(e: DeviceError) -> BoxStream<'static, Result<Frame, DeviceError>> {
    Box::pin(futures::stream::once(std::future::ready(Err(e))))
}

#[async_trait]
impl Device for V4l2Camera {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn watch_state(&self) -> watch::Receiver<DeviceState> {
        self.state.subscribe()
    }

    fn state_reason(&self) -> Option<String> {
        lock(&self.status).reason.clone()
    }

    async fn self_test(&self) -> DiagnosticReport {
        let started = Instant::now();
        let (tx, rx) = oneshot::channel();
        let checks = if self.cmd.send(Cmd::SelfTest(tx)).is_err() {
            None
        } else {
            rx.await.ok()
        };
        DiagnosticReport {
            device_id: self.info.id.clone(),
            checks: checks.unwrap_or_else(|| {
                vec![DiagnosticCheck::new(
                    "device",
                    CheckOutcome::Fail,
                    self.actor_gone().to_string(),
                )]
            }),
            elapsed: started.elapsed(),
        }
    }
}

#[async_trait]
impl Camera for V4l2Camera {
    /// JPEG frames of the negotiated preview format. A second call while a preview runs
    /// shares the running stream (each stream numbers its frames from 0). A slow reader
    /// loses frames rather than slowing the camera: its sequence numbers skip. The stream
    /// ends with [`DeviceError::Disconnected`] when the camera goes away.
    fn preview(&self) -> BoxStream<'static, Result<Frame, DeviceError>> {
        match self.state.get() {
            DeviceState::Disconnected => {
                return one_error(DeviceError::Disconnected {
                    device: self.info.id.clone(),
                });
            }
            DeviceState::Error(reason) => return one_error(DeviceError::Hardware(reason)),
            DeviceState::Ready | DeviceState::Busy => {}
        }
        let (tx, rx) = mpsc::channel(PREVIEW_QUEUE);
        if self.cmd.send(Cmd::Preview(tx)).is_err() {
            return one_error(self.actor_gone());
        }
        Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }))
    }

    /// A still at the camera's largest size (switching from the preview format and back;
    /// a running preview pauses meanwhile). The device is Busy until it is taken.
    async fn capture_still(&self) -> Result<Frame, DeviceError> {
        let _busy = self.state.busy()?;
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Cmd::Still(tx))
            .map_err(|_| self.actor_gone())?;
        rx.await.map_err(|_| self.actor_gone())?
    }

    fn still_resolution(&self) -> Option<(u32, u32)> {
        lock(&self.status).still.map(|s| (s.width, s.height))
    }

    fn preview_formats(&self) -> Vec<VideoFormat> {
        lock(&self.status)
            .preview
            .map(|p| VideoFormat {
                width: p.width,
                height: p.height,
                frames_per_second: p.interval.map_or(0.0, |i| i.fps() as f32),
            })
            .into_iter()
            .collect()
    }
}
