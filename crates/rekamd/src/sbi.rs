//! rekamd's devices as a MOSIP SBI device service (`[sbi]`, off by default): an adapter
//! from the station's [`Registry`] (its fingerprint scanners and cameras, real or
//! simulated) to [`rekam_sbi::SbiBackend`], served by [`rekam_sbi::SbiService`] on a port
//! of 127.0.0.1:4501–4600 from the daemon's start to its stop, so that a MOSIP
//! registration client can use a station run by rekam.
//!
//! The protocol (validation, signatures with the configured device key, the hash chain,
//! busy bookkeeping) is rekam-sbi's; this module only says what the devices are and how
//! they capture:
//!
//! - a fingerprint scanner that takes slaps is a `Slap` device (sub-devices 1 left four,
//!   2 right four, 3 thumbs): the slap is captured with the exceptions as missing fingers,
//!   segmented ([`rekam_quality::segment_slap`]) and each finger asked for returned as an
//!   ISO/IEC 19794-4 record with its quality; a single-finger scanner is a `Single` device
//!   (sub-device 0) that captures the finger named by `bioSubType`;
//! - a camera is a `Full face` device (sub-device 0): a still, as an ISO/IEC 19794-5
//!   record, scored by the face checks (the share of `[face]` checks passed, the eyes
//!   written into the record) or, with `[face] checks = false`, by its exposure alone;
//! - captures are repeated until the requested score or the request's timeout, the best
//!   one returned; a device the gRPC API is using is Busy (the devices' own state, so an
//!   SBI capture during a gRPC capture gets SBI's 111, and the other way round the gRPC
//!   call gets the scanner's busy error);
//! - the live stream is the device's preview, JPEG-encoded.
//!
//! SBI device ids are rekam's device ids (`fingerprint0`, `camera0`); serial numbers are
//! the device's own when it has 12 or more letters and digits, otherwise made from the
//! station id and the device id (the specification wants 12 or more).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rekam_biometrics::iso19794_4::{Compression, FingerImageRecord, FingerView};
use rekam_biometrics::iso19794_5::{FaceImage, FaceImageRecord};
use rekam_core::{
    AnyDevice, Camera, DeviceError, DeviceState, FingerPosition, FingerprintScanner, MissingFinger,
    MissingReason, Registry,
};
use rekam_quality::{SlapKind, segment_slap};
use rekam_sbi::backend::{PreviewStream, slap_of_sub_id};
use rekam_sbi::model::{BioSubType, BioType, DeviceStatus, DeviceSubType};
use rekam_sbi::{BackendDevice, BackendError, CaptureSpec, DeviceKey, Sample, SbiBackend};

use crate::config::SbiConfig;

/// Why the SBI service of `[sbi]` cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum SbiSetupError {
    /// The device key or certificate cannot be used.
    #[error("[sbi] device key {key} / certificate {cert}: {source}")]
    Key {
        /// The key file.
        key: String,
        /// The certificate file.
        cert: String,
        /// Why.
        source: rekam_sbi::jws::KeyError,
    },
    /// The service cannot listen.
    #[error("[sbi] {0}")]
    Service(#[from] rekam_sbi::ServiceError),
}

/// The SBI service of a configuration, ready to start: its settings and device key.
#[derive(Debug, Clone)]
pub struct SbiSetup {
    config: rekam_sbi::ServiceConfig,
}

impl SbiSetup {
    /// Reads `[sbi]`: `None` when the service is off; the device key is read now, so a
    /// wrong file stops the start.
    pub fn from_config(sbi: &SbiConfig) -> Result<Option<SbiSetup>, SbiSetupError> {
        let Some(port) = sbi.port() else {
            return Ok(None);
        };
        let key = match (&sbi.device_key, &sbi.device_cert, sbi.registered) {
            (Some(k), Some(c), true) => {
                Some(Arc::new(DeviceKey::from_files(k, c).map_err(|source| {
                    SbiSetupError::Key {
                        key: k.display().to_string(),
                        cert: c.display().to_string(),
                        source,
                    }
                })?))
            }
            _ => None,
        };
        if key.is_none() {
            tracing::warn!(
                "[sbi] serves the devices as not registered (unsigned, no capture): set \
                 device_key and device_cert from the device provider's management server"
            );
        }
        let mut config = rekam_sbi::ServiceConfig::new(key);
        config.port = port;
        config.env = sbi.env;
        if !sbi.provider.is_empty() {
            config.provider = sbi.provider.clone();
        }
        if !sbi.provider_id.is_empty() {
            config.provider_id = sbi.provider_id.clone();
        }
        Ok(Some(SbiSetup { config }))
    }

    /// Binds and serves `backend`'s devices.
    pub async fn start(
        &self,
        backend: RegistryBackend,
    ) -> Result<rekam_sbi::SbiService, SbiSetupError> {
        let service = rekam_sbi::SbiService::start(self.config.clone(), Arc::new(backend)).await?;
        tracing::info!(
            port = service.port(),
            "serving the station's devices over SBI"
        );
        Ok(service)
    }
}

/// rekamd's devices as an [`SbiBackend`].
#[derive(Clone)]
pub struct RegistryBackend {
    registry: Arc<Registry>,
    station: String,
    face: Option<Arc<rekam_face::FaceAnalyser>>,
}

impl RegistryBackend {
    /// The fingerprint scanners and cameras of `registry`, on station `station`, faces scored
    /// by `face` when given.
    pub fn new(
        registry: Arc<Registry>,
        station: &str,
        face: Option<Arc<rekam_face::FaceAnalyser>>,
    ) -> Self {
        Self {
            registry,
            station: station.to_string(),
            face,
        }
    }

    fn describe(&self, d: &AnyDevice) -> Option<BackendDevice> {
        let (bio_type, sub_type, sub_ids) = match d {
            AnyDevice::Fingerprint(s) if is_slap_scanner(s.as_ref()) => {
                (BioType::Finger, DeviceSubType::Slap, vec![1, 2, 3])
            }
            AnyDevice::Fingerprint(_) => (BioType::Finger, DeviceSubType::Single, vec![0]),
            AnyDevice::Camera(_) => (BioType::Face, DeviceSubType::FullFace, vec![0]),
            _ => return None,
        };
        let info = d.info();
        let status = match d.device().state() {
            DeviceState::Ready => DeviceStatus::Ready,
            DeviceState::Busy => DeviceStatus::Busy,
            DeviceState::Disconnected | DeviceState::Error(_) => DeviceStatus::NotReady,
        };
        let or = |s: &str, default: &str| {
            if s.trim().is_empty() {
                default.to_string()
            } else {
                s.to_string()
            }
        };
        Some(BackendDevice {
            id: info.id.clone(),
            bio_type,
            sub_type,
            sub_ids,
            serial_no: serial_no(&info.serial, &self.station, &info.id),
            make: or(&info.vendor, "rekam"),
            model: or(&info.model, &info.driver),
            // L0: the firmware is the service's version (the specification's rule).
            firmware: rekam_sbi::SERVICE_VERSION.to_string(),
            status,
        })
    }
}

/// A scanner that lists a slap among its positions (or lists none: unknown, as a slap
/// scanner's placeholder that could not be opened).
fn is_slap_scanner(s: &dyn FingerprintScanner) -> bool {
    let p = s.positions();
    p.is_empty() || p.iter().any(|p| p.is_slap())
}

/// 12 or more upper-case letters and digits: the device's serial when it has that many,
/// otherwise `REKAM` + station + device id (+ serial), padded with zeros.
fn serial_no(serial: &str, station: &str, id: &str) -> String {
    let alnum = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect()
    };
    let own = alnum(serial);
    if own.len() >= 12 {
        return own;
    }
    let mut s = alnum(&format!("REKAM{station}{id}{serial}"));
    while s.len() < 12 {
        s.push('0');
    }
    s
}

fn backend_error(e: DeviceError) -> BackendError {
    match e {
        DeviceError::Busy(d) => BackendError::Busy(d),
        DeviceError::Disconnected { device } => {
            BackendError::NotReady(device, "disconnected".into())
        }
        DeviceError::Timeout(m) => BackendError::NoBiometric(m),
        DeviceError::InvalidArgument(m) | DeviceError::Unsupported(m) => {
            BackendError::CountNotSupported(m)
        }
        other => BackendError::Technical(other.to_string()),
    }
}

fn technical(e: impl std::fmt::Display) -> BackendError {
    BackendError::Technical(e.to_string())
}

/// One attempt's samples and the score that ranks it (its worst sample).
struct Attempt {
    samples: Vec<Sample>,
    score: f64,
}

/// Capture again and again until the requested score (60 when none is asked) or the
/// timeout; the best attempt is returned. A device error other than a bad frame ends it.
async fn best_of<F, Fut>(spec: &CaptureSpec, mut attempt: F) -> Result<Vec<Sample>, BackendError>
where
    F: FnMut(Duration) -> Fut,
    Fut: std::future::Future<Output = Result<Option<Attempt>, BackendError>>,
{
    let start = Instant::now();
    let target = spec.requested_score.unwrap_or(60.0);
    let mut best: Option<Attempt> = None;
    let mut last_error = None;
    loop {
        let left = spec.timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        match tokio::time::timeout(left, attempt(left)).await {
            Ok(Ok(Some(a))) => {
                let reached = a.score >= target;
                if best.as_ref().is_none_or(|b| a.score > b.score) {
                    best = Some(a);
                }
                if reached {
                    break;
                }
            }
            // A frame in which the fingers could not be found: try again.
            Ok(Ok(None)) => {}
            Ok(Err(BackendError::NoBiometric(m))) => last_error = Some(m),
            Ok(Err(e)) => return Err(e),
            Err(_) => break,
        }
    }
    best.map(|b| b.samples).ok_or_else(|| {
        BackendError::NoBiometric(
            last_error.unwrap_or_else(|| {
                format!("nothing usable within {} ms", spec.timeout.as_millis())
            }),
        )
    })
}

fn finger_record(
    position: FingerPosition,
    img: &image::GrayImage,
    ppi: u32,
) -> Result<Vec<u8>, BackendError> {
    let code = rekam_biometrics::iso19794_4::FingerPosition::from_code(position.code())
        .ok_or_else(|| technical(format!("finger position {position:?}")))?;
    let (w, h) = (
        u16::try_from(img.width()).map_err(technical)?,
        u16::try_from(img.height()).map_err(technical)?,
    );
    let mut record =
        FingerImageRecord::new(u16::try_from(ppi).unwrap_or(500), Compression::Uncompressed);
    record
        .views
        .push(FingerView::raw(code, img.as_raw().clone(), w, h).map_err(technical)?);
    record.to_bytes().map_err(technical)
}

fn to_gray(img: rekam_core::GreyImage) -> Result<image::GrayImage, BackendError> {
    image::GrayImage::from_raw(img.width, img.height, img.pixels)
        .ok_or_else(|| technical("an image of the wrong size"))
}

/// One slap: captured, segmented, the fingers of `spec.positions` as samples; `None` when
/// the fingers could not all be found.
async fn slap_attempt(
    scanner: Arc<dyn FingerprintScanner>,
    slap: FingerPosition,
    spec: CaptureSpec,
) -> Result<Option<Attempt>, BackendError> {
    let missing: Vec<MissingFinger> = spec
        .exceptions
        .iter()
        .filter_map(|e| e.finger())
        .filter(|f| slap.fingers().contains(f))
        .map(|position| MissingFinger {
            position,
            reason: MissingReason::UnableToPrint,
        })
        .collect();
    let capture = scanner
        .capture(slap, &missing)
        .await
        .map_err(backend_error)?;
    tokio::task::spawn_blocking(move || {
        let ppi = capture.image.ppi;
        let gray = to_gray(capture.image)?;
        let kind = match slap {
            FingerPosition::LeftFour => SlapKind::LeftFour,
            FingerPosition::RightFour => SlapKind::RightFour,
            _ => SlapKind::Thumbs,
        };
        let codes: Vec<u8> = missing.iter().map(|m| m.position.code()).collect();
        let Ok(seg) = segment_slap(&gray, kind, &codes) else {
            return Ok(None);
        };
        let mut samples = Vec::new();
        for sub in &spec.positions {
            let Some(pos) = sub.finger() else {
                return Err(BackendError::CountNotSupported(format!(
                    "{sub} is not a finger of the slap"
                )));
            };
            let Some(f) = seg.fingers.iter().find(|f| f.position == pos.code()) else {
                return Ok(None);
            };
            samples.push(Sample {
                sub_type: Some(*sub),
                quality: f64::from(f.quality.score),
                iso_record: finger_record(pos, &f.image, ppi)?,
            });
        }
        let score = samples.iter().map(|s| s.quality).fold(100.0, f64::min);
        Ok(Some(Attempt { samples, score }))
    })
    .await
    .map_err(technical)?
}

/// One finger of a single-finger scanner.
async fn single_attempt(
    scanner: Arc<dyn FingerprintScanner>,
    sub: BioSubType,
) -> Result<Option<Attempt>, BackendError> {
    let pos = sub.finger().ok_or_else(|| {
        BackendError::CountNotSupported(
            "a single-finger scanner captures the finger named by bioSubType".into(),
        )
    })?;
    let capture = scanner.capture(pos, &[]).await.map_err(backend_error)?;
    tokio::task::spawn_blocking(move || {
        let ppi = capture.image.ppi;
        let gray = to_gray(capture.image)?;
        let quality = f64::from(rekam_quality::assess(&gray).score);
        Ok(Some(Attempt {
            samples: vec![Sample {
                sub_type: Some(sub),
                quality,
                iso_record: finger_record(pos, &gray, ppi)?,
            }],
            score: quality,
        }))
    })
    .await
    .map_err(technical)?
}

/// One face still, as an ISO/IEC 19794-5 record.
async fn face_attempt(
    camera: Arc<dyn Camera>,
    analyser: Option<Arc<rekam_face::FaceAnalyser>>,
) -> Result<Option<Attempt>, BackendError> {
    let frame = camera.capture_still().await.map_err(backend_error)?;
    tokio::task::spawn_blocking(move || {
        let still = image::load_from_memory(&frame.jpeg)
            .map_err(technical)?
            .to_rgb8();
        let mut face = FaceImage::from_image(frame.jpeg).map_err(technical)?;
        let quality = match &analyser {
            Some(a) => {
                let report = a.analyse(&still);
                if let Some(e) = &report.eyes {
                    let p = |v: f64| v.round().clamp(0.0, f64::from(u16::MAX)) as u16;
                    face.set_eye_centres((p(e.left.x), p(e.left.y)), (p(e.right.x), p(e.right.y)));
                }
                let passed = report.checks.iter().filter(|c| c.passed).count();
                100.0 * passed as f64 / report.checks.len().max(1) as f64
            }
            None => exposure_score(&still),
        };
        let record = FaceImageRecord::single(face)
            .to_bytes()
            .map_err(technical)?;
        Ok(Some(Attempt {
            samples: vec![Sample {
                sub_type: None,
                quality,
                iso_record: record,
            }],
            score: quality,
        }))
    })
    .await
    .map_err(technical)?
}

/// Without the face checks: 100 less the percentage of clipped (black or white) pixels.
fn exposure_score(still: &image::RgbImage) -> f64 {
    let n = u64::from(still.width()) * u64::from(still.height());
    let clipped = still
        .pixels()
        .filter(|p| {
            let l = (u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])) / 3;
            l <= 5 || l >= 250
        })
        .count() as f64;
    (100.0 - 100.0 * clipped / n.max(1) as f64).clamp(0.0, 100.0)
}

fn jpeg_of_gray(img: &image::GrayImage) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(img)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[async_trait::async_trait]
impl SbiBackend for RegistryBackend {
    fn devices(&self) -> Vec<BackendDevice> {
        self.registry
            .devices()
            .iter()
            .filter_map(|d| self.describe(d))
            .collect()
    }

    async fn capture(
        &self,
        device_id: &str,
        spec: CaptureSpec,
    ) -> Result<Vec<Sample>, BackendError> {
        let not_found = || BackendError::NotFound(device_id.to_string());
        let device = self.registry.get(device_id).map_err(|_| not_found())?;
        match device.clone() {
            AnyDevice::Fingerprint(scanner) => {
                if is_slap_scanner(scanner.as_ref()) {
                    let slap = slap_of_sub_id(spec.sub_id).ok_or_else(|| {
                        BackendError::CountNotSupported(format!(
                            "{device_id} has no sub-device {}",
                            spec.sub_id
                        ))
                    })?;
                    best_of(&spec, |_| slap_attempt(scanner.clone(), slap, spec.clone())).await
                } else {
                    let sub = spec
                        .positions
                        .first()
                        .copied()
                        .unwrap_or(BioSubType::Unknown);
                    best_of(&spec, |_| single_attempt(scanner.clone(), sub)).await
                }
            }
            AnyDevice::Camera(camera) => {
                best_of(&spec, |_| face_attempt(camera.clone(), self.face.clone())).await
            }
            _ => Err(not_found()),
        }
    }

    async fn preview(&self, device_id: &str, sub_id: u32) -> Result<PreviewStream, BackendError> {
        let not_found = || BackendError::NotFound(device_id.to_string());
        let device = self.registry.get(device_id).map_err(|_| not_found())?;
        let id = device_id.to_string();
        match device.clone() {
            AnyDevice::Fingerprint(scanner) => {
                if !scanner.has_preview() {
                    return Err(BackendError::Technical(format!("{id} has no live preview")));
                }
                let position = if is_slap_scanner(scanner.as_ref()) {
                    slap_of_sub_id(sub_id).unwrap_or(FingerPosition::RightFour)
                } else {
                    FingerPosition::RightIndex
                };
                let frames = scanner
                    .preview(position)
                    .then(|r| async move {
                        match r {
                            Ok(p) => {
                                let img = to_gray(p.image).map_err(|e| e.to_string())?;
                                tokio::task::spawn_blocking(move || jpeg_of_gray(&img))
                                    .await
                                    .map_err(|e| e.to_string())?
                            }
                            Err(e) => Err(e.to_string()),
                        }
                    })
                    .take_while(move |r| {
                        if let Err(e) = r {
                            tracing::info!(device = %id, error = %e, "SBI stream ended");
                        }
                        futures::future::ready(r.is_ok())
                    })
                    .filter_map(|r| futures::future::ready(r.ok()));
                Ok(Box::pin(frames))
            }
            AnyDevice::Camera(camera) => {
                let frames = camera
                    .preview()
                    .take_while(move |r| {
                        if let Err(e) = r {
                            tracing::info!(device = %id, error = %e, "SBI stream ended");
                        }
                        futures::future::ready(r.is_ok())
                    })
                    .filter_map(|r| futures::future::ready(r.ok().map(|f| f.jpeg)));
                Ok(Box::pin(frames))
            }
            _ => Err(not_found()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_numbers_have_twelve_letters_or_digits() {
        assert_eq!(
            serial_no("AB-12", "SIM-0001", "camera0"),
            "REKAMSIM0001CAMERA0AB12"
        );
        assert_eq!(serial_no("X", "S", "f"), "REKAMSFX0000");
        assert_eq!(serial_no("abcdef-1234567", "S", "f"), "ABCDEF1234567");
    }
}
