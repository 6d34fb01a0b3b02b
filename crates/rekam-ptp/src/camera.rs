//! [`PtpCamera`]: a PTP camera as a rekam [`Camera`].
//!
//! An actor thread owns the USB transport and the [`PtpSession`]: async methods send it a
//! job over a channel and await the answer on a oneshot, so the runtime never blocks on
//! USB. When the camera goes away (a transfer reports it unplugged) the device is
//! `Disconnected`, a running preview ends with [`DeviceError::Disconnected`], and the
//! actor opens it again every [`PtpCameraConfig::reconnect_interval`] (and at once when
//! an operation is asked for) until it answers; it is then `Ready` again.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use rekam_core::sim::{SimulatorControl, StateCell};
use rekam_core::{
    Camera, CheckOutcome, Device, DeviceClass, DeviceError, DeviceInfo, DeviceState,
    DiagnosticCheck, DiagnosticReport, Frame, VideoFormat,
};
use tokio::sync::{oneshot, watch};

use crate::dataset;
use crate::session::{Backoff, BusyStats, PtpError, PtpSession, Timeouts, Vendor, jpeg_size};
use crate::sim::SimCamera;
use crate::transport::Connector;

/// The driver's name in selectors (`camera:ptp:usb:04a9:3218`).
pub const DRIVER_NAME: &str = "ptp";

/// How the driver runs the camera.
#[derive(Debug, Clone, PartialEq)]
pub struct PtpCameraConfig {
    /// Leave captured stills on the camera's memory card (by default they are deleted
    /// once downloaded: the card holds no applicant's face).
    pub keep_on_card: bool,
    /// How long a capture waits for the camera's ObjectAdded.
    pub capture_timeout: Duration,
    /// Transfer time limits.
    pub timeouts: Timeouts,
    /// Back-off while the camera answers busy.
    pub backoff: Backoff,
    /// How often a lost camera is looked for.
    pub reconnect_interval: Duration,
    /// While idle, the interrupt endpoint is read this often so that an unplug is noticed
    /// without waiting for the next operation; `None`: never.
    pub idle_poll: Option<Duration>,
    /// The pause between two live view frames.
    pub preview_interval: Duration,
}

impl Default for PtpCameraConfig {
    fn default() -> Self {
        PtpCameraConfig {
            keep_on_card: false,
            capture_timeout: Duration::from_secs(15),
            timeouts: Timeouts::default(),
            backoff: Backoff::default(),
            reconnect_interval: Duration::from_secs(1),
            idle_poll: Some(Duration::from_secs(1)),
            preview_interval: Duration::from_millis(40),
        }
    }
}

type Job = Box<dyn FnOnce(&mut Actor) + Send>;

/// The actor thread's side.
struct Actor {
    id: String,
    connector: Arc<dyn Connector>,
    config: PtpCameraConfig,
    cell: StateCell,
    reason: Arc<Mutex<Option<String>>>,
    stats: Arc<Mutex<BusyStats>>,
    viewers: Arc<AtomicUsize>,
    session: Option<PtpSession>,
    last_attempt: Instant,
}

impl Actor {
    fn set_reason(&self, reason: Option<String>) {
        *self.reason.lock().unwrap_or_else(|e| e.into_inner()) = reason;
    }

    /// Opens the camera: claims the interface, reads its DeviceInfo, opens a session.
    fn connect(&mut self) -> Result<dataset::DeviceInfo, DeviceError> {
        self.last_attempt = Instant::now();
        let transport = self
            .connector
            .connect()
            .map_err(|e| PtpError::from(e).to_device_error(&self.id))?;
        let (vid, _) = self.connector.usb_ids();
        let mut session =
            PtpSession::new(transport, vid, self.config.timeouts, self.config.backoff);
        let info = session
            .identify()
            .map_err(|e| e.to_device_error(&self.id))?;
        self.session = Some(session);
        self.set_reason(None);
        if matches!(
            self.cell.get(),
            DeviceState::Disconnected | DeviceState::Error(_)
        ) {
            self.cell.set(DeviceState::Ready);
        }
        tracing::info!(
            "{}: {} {} on {}",
            self.id,
            info.manufacturer,
            info.model,
            self.connector.describe()
        );
        Ok(info)
    }

    fn lost(&mut self, why: &str) {
        if self.session.take().is_some() {
            tracing::warn!("{}: camera lost: {why}", self.id);
        }
        self.set_reason(Some(format!(
            "{why} ({}); check the cable and that the camera is on",
            self.connector.describe()
        )));
        self.cell.set(DeviceState::Disconnected);
    }

    /// Runs `f` on the session, opening the camera first if it is not open.
    fn with_session<T>(
        &mut self,
        f: impl FnOnce(&mut PtpSession) -> Result<T, PtpError>,
    ) -> Result<T, DeviceError> {
        if self.session.is_none() {
            if let Err(e) = self.connect() {
                self.lost(&e.to_string());
                return Err(DeviceError::Disconnected {
                    device: self.id.clone(),
                });
            }
        }
        let Some(session) = self.session.as_mut() else {
            return Err(DeviceError::Disconnected {
                device: self.id.clone(),
            });
        };
        let r = f(session);
        *self.stats.lock().unwrap_or_else(|e| e.into_inner()) = session.busy_stats().clone();
        match r {
            Ok(v) => Ok(v),
            Err(e) => {
                if e.is_disconnect() {
                    self.lost("the camera left the USB bus");
                }
                Err(e.to_device_error(&self.id))
            }
        }
    }

    fn idle(&mut self) {
        if self.session.is_none() {
            if self.last_attempt.elapsed() >= self.config.reconnect_interval {
                if let Err(e) = self.connect() {
                    self.lost(&e.to_string());
                }
            }
            return;
        }
        if self.config.idle_poll.is_none() {
            return;
        }
        // Reading the interrupt endpoint notices an unplug; events seen now are stale.
        let r = self
            .session
            .as_mut()
            .map(|s| s.read_event(Duration::from_millis(1)));
        if let Some(Err(e)) = r {
            if e.is_disconnect() {
                self.lost("the camera left the USB bus");
            }
        }
    }

    fn run(&mut self, rx: &mpsc::Receiver<Job>) {
        loop {
            let wait = if self.session.is_none() {
                self.config
                    .reconnect_interval
                    .saturating_sub(self.last_attempt.elapsed())
                    .max(Duration::from_millis(1))
            } else {
                self.config.idle_poll.unwrap_or(Duration::from_secs(3600))
            };
            match rx.recv_timeout(wait) {
                Ok(job) => job(self),
                Err(RecvTimeoutError::Timeout) => self.idle(),
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        if let Some(mut s) = self.session.take() {
            let _ = s.close_session();
        }
    }
}

struct Shared {
    info: DeviceInfo,
    ptp_info: dataset::DeviceInfo,
    vendor: Vendor,
    config: PtpCameraConfig,
    cell: StateCell,
    reason: Arc<Mutex<Option<String>>>,
    stats: Arc<Mutex<BusyStats>>,
    viewers: Arc<AtomicUsize>,
    still_size: Mutex<Option<(u32, u32)>>,
    preview_size: Mutex<Option<(u32, u32)>>,
    jobs: mpsc::Sender<Job>,
    sim: Option<SimCamera>,
}

/// Runs `f` on the actor and awaits its answer.
async fn call<T: Send + 'static>(
    shared: &Shared,
    f: impl FnOnce(&mut Actor) -> Result<T, DeviceError> + Send + 'static,
) -> Result<T, DeviceError> {
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move |a: &mut Actor| {
        if tx.is_closed() {
            return;
        }
        let _ = tx.send(f(a));
    });
    let gone = || DeviceError::Disconnected {
        device: shared.info.id.clone(),
    };
    shared.jobs.send(job).map_err(|_| gone())?;
    rx.await.map_err(|_| gone())?
}

/// A DSLR or other still camera over PTP on USB (see the [module docs](self)).
///
/// Stills: InitiateCapture, the ObjectAdded event, GetObject; deleted from the card
/// unless [`PtpCameraConfig::keep_on_card`]. Live view on Canon EOS and Nikon bodies;
/// live view ends when the last preview stream is dropped and before every capture. The
/// actor thread ends, closing the session, when the camera and its streams are dropped.
pub struct PtpCamera {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PtpCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PtpCamera")
            .field("id", &self.shared.info.id)
            .field("vendor", &self.shared.vendor)
            .finish_non_exhaustive()
    }
}

impl PtpCamera {
    /// Opens the camera behind `connector` as the device `id`: claims its interface,
    /// reads its DeviceInfo and opens a session. Blocks until it has (call it from a
    /// blocking thread in async code). A camera that does not answer is not opened.
    pub fn open(
        id: &str,
        connector: Arc<dyn Connector>,
        config: PtpCameraConfig,
    ) -> Result<PtpCamera, DeviceError> {
        Self::open_inner(id, connector, config, None)
    }

    /// Opens a simulated camera through its connector; the device is marked simulated and
    /// offers the simulator's faults ([`Device::simulator`]).
    pub fn open_simulated(
        id: &str,
        sim: &SimCamera,
        config: PtpCameraConfig,
    ) -> Result<PtpCamera, DeviceError> {
        Self::open_inner(id, Arc::new(sim.connector()), config, Some(sim.clone()))
    }

    fn open_inner(
        id: &str,
        connector: Arc<dyn Connector>,
        config: PtpCameraConfig,
        sim: Option<SimCamera>,
    ) -> Result<PtpCamera, DeviceError> {
        let cell = StateCell::new(id);
        cell.set(DeviceState::Disconnected);
        let reason = Arc::new(Mutex::new(None));
        let stats = Arc::new(Mutex::new(BusyStats::default()));
        let viewers = Arc::new(AtomicUsize::new(0));
        let simulated = connector.simulated();
        let mut actor = Actor {
            id: id.to_string(),
            connector,
            config: config.clone(),
            cell: cell.clone(),
            reason: reason.clone(),
            stats: stats.clone(),
            viewers: viewers.clone(),
            session: None,
            last_attempt: Instant::now(),
        };
        let (jobs, rx) = mpsc::channel::<Job>();
        let (first_tx, first_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("ptp-{id}"))
            .spawn(move || {
                let first = actor.connect().map(|info| {
                    let vendor = actor
                        .session
                        .as_ref()
                        .map_or(Vendor::Generic, |s| s.vendor());
                    (info, vendor)
                });
                let ok = first.is_ok();
                let _ = first_tx.send(first);
                if ok {
                    actor.run(&rx);
                }
            })
            .map_err(|e| DeviceError::Hardware(format!("cannot start the driver thread: {e}")))?;
        let (ptp_info, vendor) = match first_rx.recv() {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(DeviceError::Hardware("the driver thread stopped".into()));
            }
        };
        let info = DeviceInfo {
            id: id.to_string(),
            class: DeviceClass::Camera,
            vendor: ptp_info.manufacturer.clone(),
            model: ptp_info.model.clone(),
            serial: ptp_info.serial_number.clone(),
            firmware: ptp_info.device_version.clone(),
            driver: DRIVER_NAME.to_string(),
            simulated,
        };
        Ok(PtpCamera {
            shared: Arc::new(Shared {
                info,
                ptp_info,
                vendor,
                config,
                cell,
                reason,
                stats,
                viewers,
                still_size: Mutex::new(None),
                preview_size: Mutex::new(None),
                jobs,
                sim,
            }),
        })
    }

    /// The DeviceInfo dataset the camera answered when opened.
    pub fn ptp_device_info(&self) -> &dataset::DeviceInfo {
        &self.shared.ptp_info
    }

    /// The vendor operations in use.
    pub fn vendor(&self) -> Vendor {
        self.shared.vendor
    }

    /// The busy answers and back-off so far.
    pub fn busy_stats(&self) -> BusyStats {
        self.shared
            .stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Turns live view off now (it also ends by itself when the last preview is dropped).
    pub async fn end_live_view(&self) -> Result<(), DeviceError> {
        call(&self.shared, |a| a.with_session(|s| s.end_live_view())).await
    }

    /// True while live view is on.
    pub async fn in_live_view(&self) -> Result<bool, DeviceError> {
        call(&self.shared, |a| {
            Ok(a.session.as_ref().is_some_and(|s| s.in_live_view()))
        })
        .await
    }
}

#[async_trait]
impl Device for PtpCamera {
    fn info(&self) -> &DeviceInfo {
        &self.shared.info
    }

    fn watch_state(&self) -> watch::Receiver<DeviceState> {
        self.shared.cell.subscribe()
    }

    fn state_reason(&self) -> Option<String> {
        self.shared
            .reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn self_test(&self) -> DiagnosticReport {
        let started = Instant::now();
        let mut checks = Vec::new();
        let t = Instant::now();
        let r = call(&self.shared, |a| a.with_session(|s| s.get_device_info())).await;
        checks.push(match r {
            Ok(info) => DiagnosticCheck::new(
                "ptp",
                CheckOutcome::Pass,
                format!(
                    "GetDeviceInfo answered in {:.1} ms: {} {}, firmware {}, PTP {}.{:02}",
                    t.elapsed().as_secs_f64() * 1000.0,
                    info.manufacturer,
                    info.model,
                    info.device_version,
                    info.standard_version / 100,
                    info.standard_version % 100
                ),
            ),
            Err(e) => DiagnosticCheck::new("ptp", CheckOutcome::Fail, e.to_string()),
        });
        let vendor = self.shared.vendor;
        checks.push(DiagnosticCheck::new(
            "live view",
            if vendor.has_live_view() {
                CheckOutcome::Pass
            } else {
                CheckOutcome::Warn
            },
            match vendor {
                Vendor::CanonEos => "Canon EOS viewfinder (GetViewFinderData)",
                Vendor::Nikon => "Nikon live view (GetLiveViewImg)",
                Vendor::Generic => "none: the camera is neither a Canon EOS nor a Nikon body",
            },
        ));
        let s = self.busy_stats();
        checks.push(DiagnosticCheck::new(
            "busy",
            if s.gave_up == 0 {
                CheckOutcome::Pass
            } else {
                CheckOutcome::Warn
            },
            format!(
                "{} busy answers, {:.0} ms waited, {} operations given up",
                s.busy_answers,
                s.waited.as_secs_f64() * 1000.0,
                s.gave_up
            ),
        ));
        DiagnosticReport {
            device_id: self.shared.info.id.clone(),
            checks,
            elapsed: started.elapsed(),
        }
    }

    fn simulator(&self) -> Option<&dyn SimulatorControl> {
        self.shared.sim.as_ref().map(|s| s as &dyn SimulatorControl)
    }
}

/// Counts a preview stream; the last one to go turns live view off.
struct Viewer {
    shared: Arc<Shared>,
}

impl Viewer {
    fn new(shared: Arc<Shared>) -> Self {
        shared.viewers.fetch_add(1, Ordering::SeqCst);
        Viewer { shared }
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        if self.shared.viewers.fetch_sub(1, Ordering::SeqCst) == 1 {
            let job: Job = Box::new(|a: &mut Actor| {
                if a.viewers.load(Ordering::SeqCst) == 0 {
                    if let Some(s) = a.session.as_mut() {
                        if let Err(e) = s.end_live_view() {
                            tracing::warn!("{}: leaving live view: {e}", a.id);
                        }
                    }
                }
            });
            let _ = self.shared.jobs.send(job);
        }
    }
}

#[async_trait]
impl Camera for PtpCamera {
    fn preview(&self) -> BoxStream<'static, Result<Frame, DeviceError>> {
        if !self.shared.vendor.has_live_view() {
            let e = DeviceError::Unsupported(format!(
                "{} ({}) has no live view the PTP driver knows (Canon EOS or Nikon)",
                self.shared.info.id, self.shared.info.model
            ));
            return Box::pin(futures::stream::once(std::future::ready(Err(e))));
        }
        struct St {
            viewer: Viewer,
            sequence: u64,
            done: bool,
        }
        let st = St {
            viewer: Viewer::new(Arc::clone(&self.shared)),
            sequence: 0,
            done: false,
        };
        futures::stream::unfold(st, |mut st| async move {
            if st.done {
                return None;
            }
            let shared = &st.viewer.shared;
            if st.sequence > 0 && !shared.config.preview_interval.is_zero() {
                tokio::time::sleep(shared.config.preview_interval).await;
            }
            let r = call(shared, |a| {
                a.with_session(|s| {
                    let jpeg = s.live_view_frame()?;
                    let (w, h) = jpeg_size(&jpeg).ok_or_else(|| {
                        PtpError::Protocol("a live view frame is not a readable JPEG".into())
                    })?;
                    Ok((jpeg, w, h))
                })
            })
            .await;
            let item = r.map(|(jpeg, width, height)| {
                *shared
                    .preview_size
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some((width, height));
                Frame {
                    sequence: st.sequence,
                    at: SystemTime::now(),
                    width,
                    height,
                    jpeg,
                }
            });
            st.done = item.is_err();
            st.sequence += 1;
            Some((item, st))
        })
        .boxed()
    }

    async fn capture_still(&self) -> Result<Frame, DeviceError> {
        let _busy = self.shared.cell.busy()?;
        let keep = self.shared.config.keep_on_card;
        let timeout = self.shared.config.capture_timeout;
        let still = call(&self.shared, move |a| {
            a.with_session(|s| s.capture(keep, timeout))
        })
        .await?;
        *self
            .shared
            .still_size
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some((still.width, still.height));
        Ok(Frame {
            sequence: 0,
            at: SystemTime::now(),
            width: still.width,
            height: still.height,
            jpeg: still.jpeg,
        })
    }

    /// Known after the first capture (the camera's image size setting is not read).
    fn still_resolution(&self) -> Option<(u32, u32)> {
        *self
            .shared
            .still_size
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The size of the last live view frame, or before the first a nominal size for the
    /// vendor (EOS 960 x 640, Nikon 640 x 424), at a nominal 25 frames per second.
    fn preview_formats(&self) -> Vec<VideoFormat> {
        let learned = *self
            .shared
            .preview_size
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let size = match (learned, self.shared.vendor) {
            (Some(s), _) => s,
            (None, Vendor::CanonEos) => (960, 640),
            (None, Vendor::Nikon) => (640, 424),
            (None, Vendor::Generic) => return Vec::new(),
        };
        vec![VideoFormat {
            width: size.0,
            height: size.1,
            frames_per_second: 25.0,
        }]
    }
}
