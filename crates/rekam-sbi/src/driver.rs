//! SBI device services as rekam drivers: `fingerprint:sbi:PORT` (a slap or single-finger
//! scanner, [`FingerprintScanner`]), `camera:sbi:PORT` (a face camera, [`Camera`]) and
//! `iris:sbi:PORT` (a two-iris or single-iris camera, [`IrisCamera`]), or `...:sbi:auto` (or
//! no address) to find the device by discovery over 127.0.0.1:4501–4600.
//!
//! Options (`[[devices]] options`):
//!
//! - `ca`: the device provider's CA certificate file(s), PEM, comma-separated. Required:
//!   every device info, digital id and capture is verified against them, and the captures'
//!   hash chain is recomputed.
//! - `quality`: the requested score, 0–100 (default 40); the device answers with its best
//!   frame at the timeout if it cannot reach it.
//! - `timeout_ms`: how long a capture may take (default 20000).
//! - `device`: the SBI device id, when the service has several of the class.
//! - `poll_ms`: how often the device's status is read for rekam's device state (default
//!   2000).
//!
//! The device's SBI status becomes rekam's state (Ready, Busy; Not Ready is Disconnected;
//! Not Registered and an untrusted signature are Error with the reason), its errors
//! rekam's [`DeviceError`] ([`SbiClientError::to_device_error`]), which rekamd maps to gRPC
//! codes once.
//!
//! # The slap: composed from the fingers
//!
//! SBI returns a slap as one ISO/IEC 19794-4 record per finger (segmented by the device),
//! while rekam's [`FingerprintScanner::capture`] returns one slap image that the enrollment
//! segments itself. The driver **composes** the slap image: each finger's image is placed,
//! at its own resolution, in its slot of a white 3.2 × 3.0 inch (1600 × 1500 at 500 ppi)
//! canvas, in the order the fingers lie on a platen (right hand: index to little; left hand:
//! little to index; thumbs: left then right), a missing finger's slot left empty. The
//! enrollment's segmentation finds the fingers again where they were put, checks the
//! missing ones against the gaps, and scores them itself; nothing of the procedure changes.
//! What is lost: the fingers' true positions and angles on the platen (the composed slap is
//! not the device's slap image), and a finger larger than its slot (wider than 400 pixels
//! for a four-finger slap, 800 for the thumbs, or taller than 1400) is cropped around its
//! centre. The SBI signatures and hash chain are checked before anything is composed; they
//! are not carried into the enrollment record. A single finger asked of a slap device is
//! asked with `bioSubType` on the slap's sub-device, and its image is returned as it came.
//!
//! # Irises
//!
//! A two-iris camera is asked on sub-device 3 (both eyes) with an excepted eye as an SBI
//! `exception`, or on sub-device 1 (left) or 2 (right) for one eye; a single-iris camera
//! takes one eye at a time (`bioSubType`). Each eye comes back as an ISO/IEC 19794-6:2011
//! record, checked (signature, hash chain) by the client, then decoded: its first
//! representation, 8 bits, raw or PNG (JPEG 2000 is refused as unsupported: rekam has no
//! decoder), becomes the eye's image; its quality is the signed `qualityScore` of the
//! device. The records themselves are not kept: rekam re-encodes the images where it needs
//! records.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::stream::BoxStream;
use rekam_core::{
    AnyDevice, Available, Camera, CheckOutcome, Device, DeviceClass, DeviceError, DeviceInfo,
    DeviceState, DiagnosticCheck, DiagnosticReport, DriverFactory, Eye, FingerCapture,
    FingerPosition, FingerPreview, FingerprintScanner, Frame, GreyImage, IrisCamera, IrisCapture,
    IrisEye, IrisRequest, MissingFinger, OpenOptions, OptionReader, Selector, VideoFormat,
};
use tokio::sync::watch;

use crate::backend::{slap_of_sub_id, sub_id_of_slap};
use crate::client::{MjpegStream, SbiClient, SbiClientError, device_state};
use crate::jws::{TrustStore, b64url_decode};
use crate::model::*;

/// The fingerprint driver (`fingerprint:sbi:PORT`).
pub const SBI_FINGERPRINT_DRIVER: SbiDriver = SbiDriver {
    class: DeviceClass::FingerprintScanner,
};

/// The camera driver (`camera:sbi:PORT`).
pub const SBI_CAMERA_DRIVER: SbiDriver = SbiDriver {
    class: DeviceClass::Camera,
};

/// The iris camera driver (`iris:sbi:PORT`).
pub const SBI_IRIS_DRIVER: SbiDriver = SbiDriver {
    class: DeviceClass::Iris,
};

const OPTIONS: &str = "ca, quality, timeout_ms, device, poll_ms";

/// A driver for the SBI devices of one class.
#[derive(Debug, Clone, Copy)]
pub struct SbiDriver {
    class: DeviceClass,
}

impl SbiDriver {
    fn bio_type(&self) -> BioType {
        match self.class {
            DeviceClass::Camera => BioType::Face,
            DeviceClass::Iris => BioType::Iris,
            _ => BioType::Finger,
        }
    }

    fn reader(&self) -> OptionReader {
        match self.class {
            DeviceClass::Camera => OptionReader::new("camera:sbi", OPTIONS),
            DeviceClass::Iris => OptionReader::new("iris:sbi", OPTIONS),
            _ => OptionReader::new("fingerprint:sbi", OPTIONS),
        }
    }
}

fn discover_type(bio_type: BioType) -> DiscoverType {
    match bio_type {
        BioType::Finger => DiscoverType::Finger,
        BioType::Iris => DiscoverType::Iris,
        BioType::Face => DiscoverType::Face,
    }
}

/// Runs `f` to completion on a runtime of its own, on a thread of its own: the driver
/// table's `list` and `open` are synchronous and may be called from inside a runtime.
fn block_on<F>(f: F) -> Result<F::Output, DeviceError>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(f))
    })
    .join()
    .map_err(|_| DeviceError::Protocol("the SBI look-up thread failed".into()))?
    .map_err(|e| DeviceError::Protocol(format!("SBI look-up runtime: {e}")))
}

fn decode_digital_id(token: &str) -> Option<DigitalId> {
    let bytes = b64url_decode(token.split('.').nth(1).unwrap_or(token)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl DriverFactory for SbiDriver {
    fn class(&self) -> DeviceClass {
        self.class
    }

    fn name(&self) -> &'static str {
        "sbi"
    }

    fn description(&self) -> &'static str {
        match self.class {
            DeviceClass::Camera => {
                "MOSIP SBI 0.9.5 face camera (a device service on 127.0.0.1:4501-4600)"
            }
            DeviceClass::Iris => {
                "MOSIP SBI 0.9.5 iris camera (a device service on 127.0.0.1:4501-4600)"
            }
            _ => "MOSIP SBI 0.9.5 fingerprint scanner (a device service on 127.0.0.1:4501-4600)",
        }
    }

    fn list(&self) -> Result<Vec<Available>, DeviceError> {
        let class = self.class;
        let kind = discover_type(self.bio_type());
        let found = block_on(async move {
            SbiClient::new(TrustStore::new())
                .discover(PORT_RANGE, kind)
                .await
        })?;
        Ok(found
            .into_iter()
            .flat_map(|f| {
                let port = f.port;
                f.devices.into_iter().map(move |d| {
                    let (make, model) = decode_digital_id(&d.digital_id)
                        .map(|i| (i.make, i.model))
                        .unwrap_or_default();
                    Available {
                        selector: Selector::new(class, "sbi").with_address(port.to_string()),
                        description: format!(
                            "{make} {model}: SBI device {:?} on 127.0.0.1:{port} ({:?}; option device = {:?} when the service has several)",
                            d.device_id, d.device_status, d.device_id
                        ),
                    }
                })
            })
            .collect())
    }

    fn open(&self, selector: &Selector, options: &OpenOptions) -> Result<AnyDevice, DeviceError> {
        let r = self.reader();
        let ports = match selector.address.as_deref() {
            None | Some("auto") => PORT_RANGE,
            Some(p) => {
                let port = p
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| r.invalid("address", p, "a port or \"auto\""))?;
                port..=port
            }
        };
        let mut ca: Vec<String> = Vec::new();
        let mut quality = 40.0;
        let mut timeout = Duration::from_millis(20_000);
        let mut wanted = None;
        let mut poll = Duration::from_millis(2_000);
        for (k, v) in &options.params {
            match k.as_str() {
                "ca" => ca = v.split(',').map(|s| s.trim().to_string()).collect(),
                "quality" => {
                    let q = r.small(k, v)?;
                    if q > 100 {
                        return Err(r.invalid(k, v, "a score of 0 to 100"));
                    }
                    quality = f64::from(q);
                }
                "timeout_ms" => timeout = r.millis(k, v)?,
                "device" => wanted = Some(v.clone()),
                "poll_ms" => poll = r.millis(k, v)?.max(Duration::from_millis(50)),
                _ => return Err(r.unknown(k)),
            }
        }
        ca.retain(|p| !p.is_empty());
        if ca.is_empty() {
            return Err(DeviceError::InvalidArgument(format!(
                "{}:sbi needs option ca = \"/path/device-ca.pem\": the device provider's CA, \
                 which every signed answer of the device must chain to",
                self.class.short_name()
            )));
        }
        let trust = TrustStore::from_files(&ca).map_err(|e| {
            DeviceError::InvalidArgument(format!("{}:sbi option ca: {e}", self.class.short_name()))
        })?;
        let inner = Arc::new(Inner {
            info: Mutex::new(DeviceInfo {
                id: options.id.clone(),
                class: self.class,
                vendor: String::new(),
                model: String::new(),
                serial: String::new(),
                firmware: String::new(),
                driver: "sbi".into(),
                simulated: false,
            }),
            client: SbiClient::new(trust),
            ports,
            wanted,
            bio_type: self.bio_type(),
            quality,
            timeout,
            state: watch::Sender::new(DeviceState::Disconnected),
            reason: Mutex::new(None),
            target: Mutex::new(None),
            capturing: AtomicBool::new(false),
            transactions: AtomicU64::new(0),
        });
        // What the device is, now if its service answers (vendor, model, serial, slap or
        // single); the state follows its status from then on.
        let first = {
            let inner = inner.clone();
            block_on(async move { inner.refresh().await })?
        };
        if let Err(e) = first {
            tracing::warn!(device = %options.id, error = %e, "SBI device not reachable at start");
        }
        let info = inner.lock_info().clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(monitor(Arc::downgrade(&inner), poll));
        }
        let device = SbiDevice { inner, info };
        Ok(match self.class {
            DeviceClass::Camera => AnyDevice::Camera(Arc::new(device)),
            DeviceClass::Iris => AnyDevice::Iris(Arc::new(device)),
            _ => AnyDevice::Fingerprint(Arc::new(device)),
        })
    }
}

/// Reads the device's status every `poll` while the device exists.
async fn monitor(inner: Weak<Inner>, poll: Duration) {
    loop {
        tokio::time::sleep(poll).await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if !inner.capturing.load(Ordering::Acquire) {
            let _ = inner.refresh().await;
        }
    }
}

/// The device found: where and what.
#[derive(Debug, Clone)]
struct Target {
    port: u16,
    device_id: String,
    sub_type: DeviceSubType,
}

struct Inner {
    info: Mutex<DeviceInfo>,
    client: SbiClient,
    ports: std::ops::RangeInclusive<u16>,
    wanted: Option<String>,
    bio_type: BioType,
    quality: f64,
    timeout: Duration,
    state: watch::Sender<DeviceState>,
    reason: Mutex<Option<String>>,
    target: Mutex<Option<Target>>,
    capturing: AtomicBool,
    transactions: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    fn lock_info(&self) -> std::sync::MutexGuard<'_, DeviceInfo> {
        lock(&self.info)
    }

    fn id(&self) -> String {
        self.lock_info().id.clone()
    }

    fn set_state(&self, state: DeviceState, reason: Option<String>) {
        *lock(&self.reason) = reason;
        self.state.send_if_modified(|s| {
            if *s == state {
                false
            } else {
                *s = state;
                true
            }
        });
    }

    /// Finds the device (on the port it was last found on first), reads its signed device
    /// info, and sets the state from it.
    async fn refresh(&self) -> Result<Target, DeviceError> {
        let result = self.resolve().await;
        match &result {
            Ok((t, status)) => {
                *lock(&self.target) = Some(t.clone());
                // During an operation of rekam's the device stays Busy.
                if !self.capturing.load(Ordering::Acquire) {
                    self.set_state(device_state(*status), None);
                }
            }
            Err(e) => {
                let msg = e.to_string();
                let state = match e {
                    SbiClientError::NoService { .. }
                    | SbiClientError::Timeout { .. }
                    | SbiClientError::NotReady { .. }
                    | SbiClientError::DeviceNotFound { .. } => DeviceState::Disconnected,
                    other => DeviceState::Error(other.to_string()),
                };
                self.set_state(state, Some(msg));
            }
        }
        result.map(|(t, _)| t).map_err(|e| self.device_error(&e))
    }

    /// The error as rekam's, naming rekam's device.
    fn device_error(&self, e: &SbiClientError) -> DeviceError {
        match e {
            SbiClientError::Busy { .. } => DeviceError::Busy(self.id()),
            SbiClientError::NoService { .. }
            | SbiClientError::NotReady { .. }
            | SbiClientError::DeviceNotFound { .. } => DeviceError::Disconnected {
                device: format!("{} ({e})", self.id()),
            },
            other => other.to_device_error(),
        }
    }

    async fn resolve(&self) -> Result<(Target, DeviceStatus), SbiClientError> {
        let kind = discover_type(self.bio_type);
        let cached = lock(&self.target).as_ref().map(|t| t.port);
        let mut candidates: Vec<(u16, Vec<DiscoveredDevice>)> = Vec::new();
        if let Some(port) = cached
            && let Ok(devices) = self.client.discover_port(port, kind).await
        {
            candidates.push((port, devices));
        }
        if candidates.is_empty() {
            if self.ports.start() == self.ports.end() {
                let port = *self.ports.start();
                candidates.push((port, self.client.discover_port(port, kind).await?));
            } else {
                candidates = self
                    .client
                    .discover(self.ports.clone(), kind)
                    .await
                    .into_iter()
                    .map(|d| (d.port, d.devices))
                    .collect();
            }
        }
        let first_port = *self.ports.start();
        let (port, found) = candidates
            .into_iter()
            .find_map(|(port, devices)| {
                devices
                    .into_iter()
                    .find(|d| self.wanted.as_ref().is_none_or(|w| *w == d.device_id))
                    .map(|d| (port, d))
            })
            .ok_or(SbiClientError::NoService { port: first_port })?;
        let infos = self.client.device_info(port).await?;
        let info = infos
            .into_iter()
            .find(|i| i.info.device_id == found.device_id)
            .ok_or_else(|| SbiClientError::DeviceNotFound {
                device: found.device_id.clone(),
                code: 106,
                info: "discovered, but not in the device info".into(),
            })?;
        if !info.signed {
            return Err(SbiClientError::NotRegistered {
                device: found.device_id.clone(),
            });
        }
        {
            let mut i = self.lock_info();
            i.vendor = info.digital_id.make.clone();
            i.model = info.digital_id.model.clone();
            i.serial = info.digital_id.serial_no.clone();
            i.firmware = info.info.firmware.clone();
        }
        Ok((
            Target {
                port,
                device_id: found.device_id,
                sub_type: info.digital_id.device_sub_type,
            },
            info.info.device_status,
        ))
    }

    /// Marks the device busy for an operation of rekam's; a second one is refused.
    fn begin(self: &Arc<Self>) -> Result<Capturing, DeviceError> {
        if self.capturing.swap(true, Ordering::AcqRel) {
            return Err(DeviceError::Busy(self.id()));
        }
        self.set_state(DeviceState::Busy, None);
        Ok(Capturing(self.clone()))
    }

    fn transaction_id(&self) -> String {
        let n = self.transactions.fetch_add(1, Ordering::Relaxed);
        let t = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        format!("rekam-{t}-{n}")
    }

    /// One RCAPTURE of `bio` in a transaction of its own, every signature and the hash
    /// chain checked by the client.
    async fn rcapture(
        &self,
        target: &Target,
        bio: BioRequest,
    ) -> Result<Vec<crate::client::CapturedSample>, DeviceError> {
        let req = RCaptureRequest {
            env: Env::Developer,
            purpose: Purpose::Registration,
            spec_version: SPEC_VERSION.into(),
            timeout: Some(self.timeout.as_millis() as u64),
            capture_time: timestamp_now(),
            transaction_id: self.transaction_id(),
            bio: vec![bio],
            custom_opts: None,
        };
        self.client
            .rcapture(target.port, &req)
            .await
            .map(|c| c.samples)
            .map_err(|e| self.device_error(&e))
    }

    fn bio(&self, target: &Target, sub_id: u32, count: u32) -> BioRequest {
        BioRequest {
            bio_type: self.bio_type,
            count,
            bio_sub_type: Vec::new(),
            exception: Vec::new(),
            requested_score: Some(self.quality),
            device_id: target.device_id.clone(),
            device_sub_id: sub_id,
            previous_hash: String::new(),
        }
    }
}

/// An operation of rekam's on the device; the device is Ready (or what its status says at
/// the next poll) when it ends.
struct Capturing(Arc<Inner>);

impl Drop for Capturing {
    fn drop(&mut self) {
        self.0.capturing.store(false, Ordering::Release);
        self.0.state.send_if_modified(|s| {
            if *s == DeviceState::Busy {
                *s = DeviceState::Ready;
                true
            } else {
                false
            }
        });
    }
}

/// A device of an SBI device service.
pub struct SbiDevice {
    inner: Arc<Inner>,
    info: DeviceInfo,
}

#[async_trait]
impl Device for SbiDevice {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn watch_state(&self) -> watch::Receiver<DeviceState> {
        self.inner.state.subscribe()
    }

    fn state_reason(&self) -> Option<String> {
        lock(&self.inner.reason).clone()
    }

    async fn self_test(&self) -> DiagnosticReport {
        let start = std::time::Instant::now();
        let check = match self.inner.refresh().await {
            Ok(t) => DiagnosticCheck::new(
                "sbi",
                CheckOutcome::Pass,
                format!(
                    "SBI device {} on 127.0.0.1:{}: device info signed by a trusted CA",
                    t.device_id, t.port
                ),
            ),
            Err(e) => DiagnosticCheck::new("sbi", CheckOutcome::Fail, e.to_string()),
        };
        DiagnosticReport {
            device_id: self.info.id.clone(),
            checks: vec![check],
            elapsed: start.elapsed(),
        }
    }
}

/// Decodes a finger's ISO/IEC 19794-4 record: its position and 8-bit image.
fn finger_image(record: &[u8]) -> Result<(u8, GreyImage), DeviceError> {
    use rekam_biometrics::iso19794_4::{Compression, FingerImageRecord};
    let bad = |e: String| DeviceError::Protocol(format!("the SBI finger record: {e}"));
    let rec = FingerImageRecord::parse(record).map_err(|e| bad(e.to_string()))?;
    let view = rec
        .views
        .first()
        .ok_or_else(|| bad("no finger view".into()))?;
    let ppi = u32::from(rec.resolution_ppi);
    let (w, h) = (u32::from(view.width), u32::from(view.height));
    let pixels = match rec.compression {
        Compression::Uncompressed => view.data.clone(),
        Compression::Wsq => {
            let d = rekam_wsq::decode(&view.data).map_err(|e| bad(format!("WSQ: {e}")))?;
            return Ok((
                view.position.code(),
                GreyImage::new(d.width, d.height, ppi, d.pixels)?,
            ));
        }
        Compression::Png | Compression::Jpeg => {
            let img = image::load_from_memory(&view.data)
                .map_err(|e| bad(e.to_string()))?
                .to_luma8();
            return Ok((
                view.position.code(),
                GreyImage::new(img.width(), img.height(), ppi, img.into_raw())?,
            ));
        }
        other => {
            return Err(DeviceError::Unsupported(format!(
                "SBI finger images in {other:?}: configure the device service for WSQ, PNG \
                 or uncompressed images"
            )));
        }
    };
    Ok((view.position.code(), GreyImage::new(w, h, ppi, pixels)?))
}

/// The fingers of a slap in their order on the platen, left to right.
fn platen_order(slap: FingerPosition) -> Vec<FingerPosition> {
    use FingerPosition::*;
    match slap {
        RightFour => vec![RightIndex, RightMiddle, RightRing, RightLittle],
        LeftFour => vec![LeftLittle, LeftRing, LeftMiddle, LeftIndex],
        _ => vec![LeftThumb, RightThumb],
    }
}

/// The slap image composed from its fingers (see the module's documentation).
pub fn compose_slap(
    slap: FingerPosition,
    fingers: &[(FingerPosition, GreyImage)],
) -> Result<GreyImage, DeviceError> {
    let (w, h) = slap.nominal_size();
    let order = platen_order(slap);
    let slot_w = w / order.len() as u32;
    let top = 50u32;
    let ppi = fingers.first().map_or(500, |(_, i)| i.ppi);
    let mut canvas = image::GrayImage::from_pixel(w, h, image::Luma([255]));
    for (slot, pos) in order.iter().enumerate() {
        let Some((_, img)) = fingers.iter().find(|(p, _)| p == pos) else {
            continue;
        };
        let src = image::GrayImage::from_raw(img.width, img.height, img.pixels.clone())
            .ok_or_else(|| DeviceError::Protocol("a finger image of the wrong size".into()))?;
        // Crop around the centre what does not fit the slot.
        let (cw, ch) = (src.width().min(slot_w), src.height().min(h - 2 * top));
        let crop = image::imageops::crop_imm(
            &src,
            (src.width() - cw) / 2,
            (src.height() - ch) / 2,
            cw,
            ch,
        )
        .to_image();
        let x = slot as u32 * slot_w + (slot_w - cw) / 2;
        image::imageops::replace(&mut canvas, &crop, i64::from(x), i64::from(top));
    }
    GreyImage::new(w, h, ppi, canvas.into_raw())
}

fn jpeg_size(jpeg: &[u8]) -> (u32, u32) {
    image::ImageReader::new(std::io::Cursor::new(jpeg))
        .with_guessed_format()
        .ok()
        .and_then(|r| r.into_dimensions().ok())
        .unwrap_or((0, 0))
}

/// The stream of a sub-device, frame by frame; a frame that does not decode is skipped.
fn stream_frames(
    inner: Arc<Inner>,
    sub_id: u32,
) -> BoxStream<'static, Result<Vec<u8>, DeviceError>> {
    enum St {
        Start(Arc<Inner>),
        Streaming(Arc<Inner>, MjpegStream),
        Done,
    }
    Box::pin(futures::stream::unfold(
        St::Start(inner),
        move |st| async move {
            match st {
                St::Done => None,
                St::Start(inner) => {
                    let target = match inner.refresh().await {
                        Ok(t) => t,
                        Err(e) => return Some((Err(e), St::Done)),
                    };
                    let req = StreamRequest {
                        device_id: target.device_id.clone(),
                        device_sub_id: sub_id,
                        // As long as rekam's preview is watched (it ends when dropped).
                        timeout: Some(24 * 3600 * 1000),
                    };
                    match inner.client.stream(target.port, &req).await {
                        Ok(mut s) => match s.next_frame().await {
                            Ok(Some(f)) => Some((Ok(f), St::Streaming(inner, s))),
                            Ok(None) => None,
                            Err(e) => Some((Err(inner.device_error(&e)), St::Done)),
                        },
                        Err(e) => Some((Err(inner.device_error(&e)), St::Done)),
                    }
                }
                St::Streaming(inner, mut s) => match s.next_frame().await {
                    Ok(Some(f)) => Some((Ok(f), St::Streaming(inner, s))),
                    Ok(None) => None,
                    Err(e) => Some((Err(inner.device_error(&e)), St::Done)),
                },
            }
        },
    ))
}

#[async_trait]
impl FingerprintScanner for SbiDevice {
    async fn capture(
        &self,
        position: FingerPosition,
        missing: &[MissingFinger],
    ) -> Result<FingerCapture, DeviceError> {
        let inner = &self.inner;
        let _busy = inner.begin()?;
        let target = inner.refresh().await?;
        let single_device = target.sub_type != DeviceSubType::Slap;
        let (sub_id, mut bio) = if position.is_slap() {
            if single_device {
                return Err(DeviceError::Unsupported(format!(
                    "{} is a single-finger SBI device: capture the fingers one by one",
                    self.info.id
                )));
            }
            let sub = sub_id_of_slap(position).unwrap_or(0);
            let exceptions: Vec<BioSubType> = missing
                .iter()
                .filter(|m| position.fingers().contains(&m.position))
                .filter_map(|m| BioSubType::of_finger(m.position))
                .collect();
            let count = (position.fingers().len() - exceptions.len()) as u32;
            let mut bio = inner.bio(&target, sub, count);
            bio.exception = exceptions;
            (sub, bio)
        } else {
            let sub = if single_device {
                0
            } else {
                (1..=3)
                    .find(|s| {
                        slap_of_sub_id(*s).is_some_and(|slap| slap.fingers().contains(&position))
                    })
                    .unwrap_or(0)
            };
            let mut bio = inner.bio(&target, sub, 1);
            bio.bio_sub_type = BioSubType::of_finger(position).into_iter().collect();
            (sub, bio)
        };
        bio.device_sub_id = sub_id;
        let samples = inner.rcapture(&target, bio).await?;
        let fingers = tokio::task::spawn_blocking(move || {
            samples
                .iter()
                .map(|s| {
                    let (code, img) = finger_image(&s.iso_record)?;
                    let pos = s
                        .data
                        .bio_sub_type
                        .and_then(BioSubType::finger)
                        .or_else(|| FingerPosition::from_code(code))
                        .ok_or_else(|| {
                            DeviceError::Protocol(format!("a finger of no position ({code})"))
                        })?;
                    Ok((pos, img))
                })
                .collect::<Result<Vec<_>, DeviceError>>()
        })
        .await
        .map_err(|e| DeviceError::Protocol(e.to_string()))??;
        let image = if position.is_slap() {
            for (p, _) in &fingers {
                if !position.fingers().contains(p) {
                    return Err(DeviceError::Protocol(format!(
                        "the SBI device returned {p:?} for a {position:?} slap"
                    )));
                }
            }
            tokio::task::spawn_blocking(move || compose_slap(position, &fingers))
                .await
                .map_err(|e| DeviceError::Protocol(e.to_string()))??
        } else {
            fingers
                .into_iter()
                .find(|(p, _)| *p == position)
                .map(|(_, i)| i)
                .ok_or_else(|| {
                    DeviceError::Protocol(format!("the SBI device did not return {position:?}"))
                })?
        };
        Ok(FingerCapture {
            position,
            image,
            captured_at: SystemTime::now(),
        })
    }

    fn preview(
        &self,
        position: FingerPosition,
    ) -> BoxStream<'static, Result<FingerPreview, DeviceError>> {
        use futures::StreamExt;
        let single = lock(&self.inner.target)
            .as_ref()
            .is_some_and(|t| t.sub_type != DeviceSubType::Slap);
        let sub_id = if single {
            0
        } else {
            sub_id_of_slap(position)
                .or_else(|| {
                    (1..=3).find(|s| {
                        slap_of_sub_id(*s).is_some_and(|slap| slap.fingers().contains(&position))
                    })
                })
                .unwrap_or(2)
        };
        let mut sequence = 0u64;
        stream_frames(self.inner.clone(), sub_id)
            .filter_map(move |r| {
                let out = match r {
                    Err(e) => Some(Err(e)),
                    // A frame that does not decode is skipped, the stream goes on.
                    Ok(jpeg) => image::load_from_memory(&jpeg).ok().map(|img| {
                        let g = img.to_luma8();
                        let present = contrast(&g) > 12.0;
                        let image = GreyImage {
                            width: g.width(),
                            height: g.height(),
                            ppi: 500,
                            pixels: g.into_raw(),
                        };
                        let p = FingerPreview {
                            sequence,
                            at: SystemTime::now(),
                            image,
                            finger_present: present,
                        };
                        sequence += 1;
                        Ok(p)
                    }),
                };
                std::future::ready(out)
            })
            .boxed()
    }

    fn positions(&self) -> Vec<FingerPosition> {
        let single = lock(&self.inner.target)
            .as_ref()
            .is_some_and(|t| t.sub_type != DeviceSubType::Slap);
        let mut p: Vec<FingerPosition> = FingerPosition::SINGLE.to_vec();
        if !single {
            p.extend(FingerPosition::SLAPS);
        }
        p
    }

    fn ppi(&self) -> u32 {
        500
    }

    fn single_finger_size(&self) -> Option<(u32, u32)> {
        // Certified SBI scanners are FAP 30 or better: at least the nominal flat finger.
        Some(FingerPosition::RightIndex.nominal_size())
    }

    fn has_preview(&self) -> bool {
        true
    }
}

/// The standard deviation of the pixels: a finger on the platen has ridges, an empty one
/// is flat.
fn contrast(g: &image::GrayImage) -> f64 {
    let n = g.as_raw().len().max(1) as f64;
    let mean = g.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    (g.as_raw()
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt()
}

#[async_trait]
impl Camera for SbiDevice {
    fn preview(&self) -> BoxStream<'static, Result<Frame, DeviceError>> {
        use futures::StreamExt;
        let mut sequence = 0u64;
        stream_frames(self.inner.clone(), 0)
            .filter_map(move |r| {
                let out = match r {
                    Err(e) => Some(Err(e)),
                    Ok(jpeg) => {
                        let (width, height) = jpeg_size(&jpeg);
                        (width > 0).then(|| {
                            let f = Frame {
                                sequence,
                                at: SystemTime::now(),
                                width,
                                height,
                                jpeg,
                            };
                            sequence += 1;
                            Ok(f)
                        })
                    }
                };
                std::future::ready(out)
            })
            .boxed()
    }

    async fn capture_still(&self) -> Result<Frame, DeviceError> {
        use rekam_biometrics::iso19794_5::{FaceImageRecord, ImageDataType};
        let inner = &self.inner;
        let _busy = inner.begin()?;
        let target = inner.refresh().await?;
        let samples = inner.rcapture(&target, inner.bio(&target, 0, 1)).await?;
        let sample = samples
            .first()
            .ok_or_else(|| DeviceError::Protocol("no face in the SBI answer".into()))?;
        let rec = FaceImageRecord::parse(&sample.iso_record)
            .map_err(|e| DeviceError::Protocol(format!("the SBI face record: {e}")))?;
        let face = rec
            .faces
            .into_iter()
            .next()
            .ok_or_else(|| DeviceError::Protocol("the SBI face record has no face".into()))?;
        if face.data_type != ImageDataType::Jpeg {
            return Err(DeviceError::Unsupported(
                "SBI face images in JPEG 2000: configure the device service for JPEG".into(),
            ));
        }
        let (width, height) = jpeg_size(&face.data);
        Ok(Frame {
            sequence: 0,
            at: SystemTime::now(),
            width,
            height,
            jpeg: face.data,
        })
    }

    fn preview_formats(&self) -> Vec<VideoFormat> {
        // The stream's size is the device's; SBI promises at least 3 frames a second.
        vec![VideoFormat {
            width: 0,
            height: 0,
            frames_per_second: 3.0,
        }]
    }
}

/// The SBI subtype of an eye.
fn iris_sub_type(eye: Eye) -> BioSubType {
    match eye {
        Eye::Left => BioSubType::LeftIris,
        Eye::Right => BioSubType::RightIris,
    }
}

/// Decodes an eye's ISO/IEC 19794-6:2011 record: its eye label and 8-bit image (the
/// first representation).
pub fn iris_image(record: &[u8]) -> Result<(Option<Eye>, GreyImage), DeviceError> {
    use rekam_biometrics::iso19794_6::{EyeLabel, IrisImageFormat, IrisImageRecord};
    let bad = |e: String| DeviceError::Protocol(format!("the SBI iris record: {e}"));
    let rec = IrisImageRecord::parse(record).map_err(|e| bad(e.to_string()))?;
    let img = rec
        .images
        .into_iter()
        .next()
        .ok_or_else(|| bad("no iris image".into()))?;
    let eye = match img.eye {
        EyeLabel::Left => Some(Eye::Left),
        EyeLabel::Right => Some(Eye::Right),
        _ => None,
    };
    if img.bit_depth != 8 {
        return Err(DeviceError::Unsupported(format!(
            "SBI iris images of {} bits: rekam takes 8-bit images",
            img.bit_depth
        )));
    }
    let image = match img.format {
        IrisImageFormat::MonoRaw => {
            GreyImage::new(u32::from(img.width), u32::from(img.height), 0, img.data)?
        }
        IrisImageFormat::MonoPng => {
            let g = image::load_from_memory(&img.data)
                .map_err(|e| bad(e.to_string()))?
                .to_luma8();
            GreyImage::new(g.width(), g.height(), 0, g.into_raw())?
        }
        other => {
            return Err(DeviceError::Unsupported(format!(
                "SBI iris images in {other:?}: rekam has no JPEG 2000 decoder; configure the \
                 device service for PNG or raw images"
            )));
        }
    };
    Ok((eye, image))
}

#[async_trait]
impl IrisCamera for SbiDevice {
    async fn capture(&self, eyes: &[Eye], missing: &[Eye]) -> Result<IrisCapture, DeviceError> {
        let request = IrisRequest::new(eyes, missing)?;
        let inner = &self.inner;
        let _busy = inner.begin()?;
        let target = inner.refresh().await?;
        let mut bio = if target.sub_type == DeviceSubType::Double {
            let sub = match request.capture.as_slice() {
                [Eye::Left] if request.excepted.is_empty() => 1,
                [Eye::Right] if request.excepted.is_empty() => 2,
                _ => 3,
            };
            let mut bio = inner.bio(&target, sub, request.capture.len() as u32);
            if sub == 3 {
                bio.exception = request.excepted.iter().map(|e| iris_sub_type(*e)).collect();
            }
            bio
        } else {
            let [eye] = request.capture.as_slice() else {
                return Err(DeviceError::Unsupported(format!(
                    "{} is a single-iris SBI camera: capture the eyes one by one",
                    self.info.id
                )));
            };
            let mut bio = inner.bio(&target, 0, 1);
            bio.bio_sub_type = vec![iris_sub_type(*eye)];
            bio
        };
        bio.bio_type = BioType::Iris;
        let samples = inner.rcapture(&target, bio).await?;
        let decoded = tokio::task::spawn_blocking(move || {
            samples
                .iter()
                .map(|s| {
                    let (label, image) = iris_image(&s.iso_record)?;
                    let eye = match s.data.bio_sub_type {
                        Some(BioSubType::LeftIris) => Some(Eye::Left),
                        Some(BioSubType::RightIris) => Some(Eye::Right),
                        _ => label,
                    }
                    .ok_or_else(|| DeviceError::Protocol("an iris of no eye".into()))?;
                    let quality = s.data.quality_score.round().clamp(0.0, 100.0) as u8;
                    Ok(IrisEye::Captured {
                        eye,
                        image,
                        quality,
                    })
                })
                .collect::<Result<Vec<_>, DeviceError>>()
        })
        .await
        .map_err(|e| DeviceError::Protocol(e.to_string()))??;
        let mut out = Vec::new();
        for eye in &request.capture {
            let found = decoded
                .iter()
                .find(|d| d.eye() == *eye)
                .cloned()
                .ok_or_else(|| {
                    DeviceError::Protocol(format!(
                        "the SBI device did not return the {} eye",
                        eye.name()
                    ))
                })?;
            out.push(found);
        }
        if let Some(extra) = decoded.iter().find(|d| !request.capture.contains(&d.eye())) {
            return Err(DeviceError::Protocol(format!(
                "the SBI device returned the {} eye, which was not asked for",
                extra.eye().name()
            )));
        }
        out.extend(
            request
                .excepted
                .iter()
                .map(|&eye| IrisEye::Excepted { eye }),
        );
        out.sort_by_key(IrisEye::eye);
        Ok(IrisCapture {
            eyes: out,
            captured_at: SystemTime::now(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_iris_record_decodes_to_its_eye_and_image() {
        use rekam_biometrics::iso19794_6::{EyeLabel, IrisImage, IrisImageRecord};
        let pixels: Vec<u8> = (0..64u32 * 48).map(|i| (i % 251) as u8).collect();
        let rec = IrisImageRecord::single(
            IrisImage::raw(EyeLabel::Left, pixels.clone(), 64, 48).unwrap(),
        )
        .to_bytes()
        .unwrap();
        let (eye, img) = iris_image(&rec).unwrap();
        assert_eq!(eye, Some(Eye::Left));
        assert_eq!((img.width, img.height), (64, 48));
        assert_eq!(img.pixels, pixels);
        assert!(matches!(
            iris_image(&rec[..rec.len() - 1]),
            Err(DeviceError::Protocol(_))
        ));
    }

    #[test]
    fn a_slap_is_composed_finger_by_finger_in_platen_order() {
        let finger = |v: u8| GreyImage::new(100, 120, 500, vec![v; 100 * 120]).unwrap();
        let slap = compose_slap(
            FingerPosition::LeftFour,
            &[
                (FingerPosition::LeftIndex, finger(10)),
                (FingerPosition::LeftLittle, finger(40)),
            ],
        )
        .unwrap();
        assert_eq!((slap.width, slap.height, slap.ppi), (1600, 1500, 500));
        let at = |x: u32, y: u32| slap.pixels[(y * slap.width + x) as usize];
        // Slots of 400: little at 0-400, index at 1200-1600, both centred, from y = 50.
        assert_eq!(at(200, 100), 40);
        assert_eq!(at(1400, 100), 10);
        assert_eq!(at(600, 100), 255, "ring missing: its slot is empty");
        assert_eq!(at(200, 20), 255);
    }
}
