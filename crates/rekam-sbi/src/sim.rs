//! A simulated backend for rekam's SBI service: a slap scanner, a two-iris camera and a face
//! camera with synthetic images (`rekam-synth` fingers and faces, a drawn iris), returned as
//! ISO/IEC 19794-4, 19794-6:2011 and 19794-5 records, whose
//! quality rises frame by frame as a real capture's does, and faults a test can inject
//! (busy, not ready, not registered, low quality, nothing on the sensor).

use crate::backend::{BackendDevice, BackendError, CaptureSpec, PreviewStream, Sample, SbiBackend};
use crate::model::{BioSubType, BioType, DeviceStatus, DeviceSubType};
use rekam_biometrics::iso19794_4::{Compression, FingerImageRecord, FingerPosition, FingerView};
use rekam_biometrics::iso19794_5::{FaceImage, FaceImageRecord};
use rekam_biometrics::iso19794_6::{
    CaptureDateTime, CompressionHistory, EyeLabel, IrisImage, IrisImageRecord, Span,
};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A fault of the simulated devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimFault {
    /// Every device reports Busy and refuses captures.
    Busy,
    /// Every device reports Not Ready.
    NotReady,
    /// Every device reports Not Registered (the service answers unsigned, error 100).
    NotRegistered,
    /// Quality never exceeds 30: a capture with a higher requested score runs to its
    /// timeout and returns the best frame.
    LowQuality,
    /// Nothing is ever placed on the sensor (error 101 at the timeout).
    NoBiometric,
}

/// The simulated devices' ids.
pub mod ids {
    /// The slap scanner.
    pub const FINGER: &str = "rekam-sim-slap";
    /// The two-iris camera.
    pub const IRIS: &str = "rekam-sim-iris";
    /// The face camera.
    pub const FACE: &str = "rekam-sim-face";
}

/// The simulated backend.
#[derive(Debug, Clone)]
pub struct SimBackend {
    faults: Arc<Mutex<HashSet<SimFault>>>,
    frame_interval: Duration,
}

impl Default for SimBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl SimBackend {
    /// The three devices, a frame every 40 ms.
    pub fn new() -> Self {
        Self {
            faults: Arc::default(),
            frame_interval: Duration::from_millis(40),
        }
    }

    /// Make a fault happen.
    pub fn inject(&self, fault: SimFault) {
        self.lock().insert(fault);
    }

    /// Clear one fault.
    pub fn clear(&self, fault: SimFault) {
        self.lock().remove(&fault);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<SimFault>> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn has(&self, fault: SimFault) -> bool {
        self.lock().contains(&fault)
    }

    fn status(&self) -> DeviceStatus {
        if self.has(SimFault::NotRegistered) {
            DeviceStatus::NotRegistered
        } else if self.has(SimFault::NotReady) {
            DeviceStatus::NotReady
        } else if self.has(SimFault::Busy) {
            DeviceStatus::Busy
        } else {
            DeviceStatus::Ready
        }
    }

    fn device(&self, id: &str) -> Option<BackendDevice> {
        self.devices().into_iter().find(|d| d.id == id)
    }
}

/// The quality of frame `k`: rising from 40 by 12 a frame to a peak of 88 (30 with
/// [`SimFault::LowQuality`]).
fn frame_quality(k: u32, low: bool) -> f64 {
    let peak = if low { 30.0 } else { 88.0 };
    (40.0 + 12.0 * f64::from(k)).min(peak)
}

#[async_trait::async_trait]
impl SbiBackend for SimBackend {
    fn devices(&self) -> Vec<BackendDevice> {
        let status = self.status();
        let dev = |id: &str, bio_type, sub_type, sub_ids: Vec<u32>, serial: &str, model: &str| {
            BackendDevice {
                id: id.to_string(),
                bio_type,
                sub_type,
                sub_ids,
                serial_no: serial.to_string(),
                make: "rekam".to_string(),
                model: model.to_string(),
                firmware: crate::SERVICE_VERSION.to_string(),
                status,
            }
        };
        vec![
            dev(
                ids::FINGER,
                BioType::Finger,
                DeviceSubType::Slap,
                vec![1, 2, 3],
                "REKAMSIMSLAP0001",
                "SIM-SLAP",
            ),
            dev(
                ids::IRIS,
                BioType::Iris,
                DeviceSubType::Double,
                vec![1, 2, 3],
                "REKAMSIMIRIS0001",
                "SIM-IRIS2",
            ),
            dev(
                ids::FACE,
                BioType::Face,
                DeviceSubType::FullFace,
                vec![0],
                "REKAMSIMFACE0001",
                "SIM-FACE",
            ),
        ]
    }

    async fn capture(
        &self,
        device_id: &str,
        spec: CaptureSpec,
    ) -> Result<Vec<Sample>, BackendError> {
        let device = self
            .device(device_id)
            .ok_or_else(|| BackendError::NotFound(device_id.to_string()))?;
        match device.status {
            DeviceStatus::Busy => return Err(BackendError::Busy(device_id.to_string())),
            DeviceStatus::NotReady => {
                return Err(BackendError::NotReady(
                    device_id.to_string(),
                    "the simulated sensor is not ready".into(),
                ));
            }
            _ => {}
        }
        let start = Instant::now();
        let target = spec.requested_score.unwrap_or(60.0);
        let mut best = f64::MIN;
        let mut k = 0u32;
        loop {
            if self.has(SimFault::NoBiometric) {
                if start.elapsed() >= spec.timeout {
                    return Err(BackendError::NoBiometric(format!(
                        "nothing on {device_id} within {} ms",
                        spec.timeout.as_millis()
                    )));
                }
            } else {
                let q = frame_quality(k, self.has(SimFault::LowQuality));
                best = best.max(q);
                k += 1;
                if q >= target || start.elapsed() >= spec.timeout {
                    break;
                }
            }
            tokio::time::sleep(self.frame_interval).await;
        }
        tracing::debug!(device_id, quality = best, frames = k, "simulated capture");
        let bio_type = device.bio_type;
        let positions = spec.positions.clone();
        let seed = u64::from(spec.sub_id) * 7919 + u64::from(k);
        tokio::task::spawn_blocking(move || render_samples(bio_type, &positions, best, seed))
            .await
            .map_err(|e| BackendError::Technical(e.to_string()))?
    }

    async fn preview(&self, device_id: &str, sub_id: u32) -> Result<PreviewStream, BackendError> {
        let device = self
            .device(device_id)
            .ok_or_else(|| BackendError::NotFound(device_id.to_string()))?;
        if device.status == DeviceStatus::NotReady {
            return Err(BackendError::NotReady(
                device_id.to_string(),
                "the simulated sensor is not ready".into(),
            ));
        }
        let bio_type = device.bio_type;
        let frames = tokio::task::spawn_blocking(move || {
            (0..2u64)
                .map(|i| preview_jpeg(bio_type, u64::from(sub_id) * 31 + i))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| BackendError::Technical(e.to_string()))??;
        let interval = Duration::from_millis(200);
        let stream = futures::stream::unfold(0usize, move |i| {
            let frame = frames[i % frames.len()].clone();
            async move {
                if i > 0 {
                    tokio::time::sleep(interval).await;
                }
                Some((frame, i + 1))
            }
        });
        Ok(Box::pin(stream))
    }
}

fn finger_position(s: BioSubType) -> FingerPosition {
    match s {
        BioSubType::LeftIndex => FingerPosition::LeftIndex,
        BioSubType::LeftMiddle => FingerPosition::LeftMiddle,
        BioSubType::LeftRing => FingerPosition::LeftRing,
        BioSubType::LeftLittle => FingerPosition::LeftLittle,
        BioSubType::LeftThumb => FingerPosition::LeftThumb,
        BioSubType::RightIndex => FingerPosition::RightIndex,
        BioSubType::RightMiddle => FingerPosition::RightMiddle,
        BioSubType::RightRing => FingerPosition::RightRing,
        BioSubType::RightLittle => FingerPosition::RightLittle,
        BioSubType::RightThumb => FingerPosition::RightThumb,
        _ => FingerPosition::Unknown,
    }
}

fn technical(e: impl std::fmt::Display) -> BackendError {
    BackendError::Technical(e.to_string())
}

fn finger_image(pos: BioSubType, seed: u64) -> image::GrayImage {
    let m = rekam_synth::master(seed ^ ((pos as u64 + 1) * 0x9E37_79B9));
    rekam_synth::render_finger(&m, 160, 200, &rekam_synth::Impression::random(seed, 0.15))
}

/// Side of the simulated iris image: square, as MOSIP's biometric specification asks (1:1).
const IRIS_SIDE: u32 = 480;
/// Iris radius in the simulated image: a 240-pixel diameter, above MOSIP's 210 for
/// registration devices.
const IRIS_RADIUS: f32 = 120.0;

/// A synthetic iris, 480 x 480, centred: a dark pupil, a radially textured iris and a light
/// sclera.
fn iris_image(seed: u64) -> image::GrayImage {
    let (w, h) = (IRIS_SIDE, IRIS_SIDE);
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let phase = (seed % 97) as f32 * 0.13;
    image::GrayImage::from_fn(w, h, |x, y| {
        let dx = x as f32 - cx;
        let dy = y as f32 - cy;
        let r = (dx * dx + dy * dy).sqrt();
        let a = dy.atan2(dx);
        let v = if r < 45.0 {
            20.0
        } else if r < IRIS_RADIUS {
            110.0 + 40.0 * ((a * 23.0 + phase).sin() * (r * 0.3).cos())
        } else {
            215.0
        };
        image::Luma([v.clamp(0.0, 255.0) as u8])
    })
}

/// The simulated iris of `eye` as SBI returns it: an ISO/IEC 19794-6:2011 record of one
/// representation, cropped (K3), 8 bits, lossless, the capture time now, the iris centre and
/// diameter known and the frame's quality as a quality block. MOSIP's biometric
/// specification asks registration devices for lossless JPEG 2000; rekam has no JPEG 2000
/// encoder, so the image is PNG, the standard's other lossless format (`VALIDATION.md`).
fn iris_record(eye: EyeLabel, quality: f64, seed: u64) -> Result<Vec<u8>, BackendError> {
    let img = image::DynamicImage::ImageLuma8(iris_image(seed));
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(technical)?;
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let at = CaptureDateTime::new(
        u16::try_from(now.year()).unwrap_or(0),
        now.month().unsigned_abs(),
        now.day().unsigned_abs(),
        now.hour().unsigned_abs(),
        now.minute().unsigned_abs(),
        now.second().unsigned_abs(),
        now.millisecond().unsigned_abs(),
    );
    let centre = (IRIS_SIDE / 2) as u16;
    let diameter = (2.0 * IRIS_RADIUS) as u16;
    let mut iris = IrisImage::from_image(eye, png, CompressionHistory::LosslessOrNone)
        .map_err(technical)?
        .with_quality(quality.round().clamp(0.0, 100.0) as u8, 0, 0);
    iris.capture_time = at;
    iris.iris_centre_x = Span {
        smallest: centre,
        largest: centre,
    };
    iris.iris_centre_y = iris.iris_centre_x;
    iris.iris_diameter = Span {
        smallest: diameter,
        largest: diameter,
    };
    IrisImageRecord::single(iris).to_bytes().map_err(technical)
}

fn jpeg_of(img: &image::DynamicImage) -> Result<Vec<u8>, BackendError> {
    let mut out = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut out),
        image::ImageFormat::Jpeg,
    )
    .map_err(technical)?;
    Ok(out)
}

fn preview_jpeg(bio_type: BioType, seed: u64) -> Result<Vec<u8>, BackendError> {
    let img = match bio_type {
        BioType::Finger => image::DynamicImage::ImageLuma8(finger_image(BioSubType::Unknown, seed)),
        BioType::Iris => image::DynamicImage::ImageLuma8(iris_image(seed)),
        BioType::Face => {
            image::DynamicImage::ImageRgb8(rekam_synth::render_face(seed, 240, 320).image)
        }
    };
    jpeg_of(&img)
}

fn render_samples(
    bio_type: BioType,
    positions: &[BioSubType],
    quality: f64,
    seed: u64,
) -> Result<Vec<Sample>, BackendError> {
    match bio_type {
        BioType::Finger => positions
            .iter()
            .enumerate()
            .map(|(i, &pos)| {
                let img = finger_image(pos, seed);
                let (w, h) = (img.width() as u16, img.height() as u16);
                let mut record = FingerImageRecord::new(500, Compression::Uncompressed);
                record.views.push(
                    FingerView::raw(finger_position(pos), img.into_raw(), w, h)
                        .map_err(technical)?,
                );
                // The slap's fingers spread a little around the frame's quality.
                let spread = [2.0, -1.0, 1.0, -2.0][i % 4];
                Ok(Sample {
                    sub_type: Some(pos),
                    quality: (quality + spread).clamp(0.0, 100.0),
                    iso_record: record.to_bytes().map_err(technical)?,
                })
            })
            .collect(),
        BioType::Iris => positions
            .iter()
            .map(|&pos| {
                let eye = match pos {
                    BioSubType::LeftIris => EyeLabel::Left,
                    BioSubType::RightIris => EyeLabel::Right,
                    _ => EyeLabel::Undefined,
                };
                Ok(Sample {
                    sub_type: Some(pos),
                    quality,
                    iso_record: iris_record(eye, quality, seed ^ pos as u64)?,
                })
            })
            .collect(),
        BioType::Face => {
            let frame = rekam_synth::render_face(seed, 240, 320);
            let jpeg = jpeg_of(&image::DynamicImage::ImageRgb8(frame.image))?;
            let face = FaceImage::from_image(jpeg).map_err(technical)?;
            let record = FaceImageRecord::single(face)
                .to_bytes()
                .map_err(technical)?;
            Ok(vec![Sample {
                sub_type: None,
                quality,
                iso_record: record,
            }])
        }
    }
}
