//! The simulated face camera.
//!
//! The camera films a synthetic frontal portrait (`rekam_synth::render_face`, chosen by
//! the seed) rendered once at the still resolution (1600x1200) and cached. Preview frames
//! (640x480 JPEG, about 15 fps) are cut from a slightly larger rendering at an
//! offset that moves a few pixels from frame to frame, as a hand-held subject does, with a
//! frame-counter bar along the bottom (the bits of the sequence number, least significant
//! on the left, white = 1), so a viewer can tell frames apart. A still takes about 0.5 s
//! (autofocus and shutter) and returns the full-resolution portrait as JPEG.
//!
//! Faults: `disconnect`, `hardware_error` (common to every simulator) and `lens_covered`
//! ([`LENS_COVERED`]).

use rekam_core::sim::splitmix64;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, RgbImage};
use rekam_core::sim::{DISCONNECT, FaultSpec, HARDWARE_ERROR, SimulatorControl, Timing};
use rekam_core::{
    Camera, CheckOutcome, Device, DeviceClass, DeviceError, DeviceInfo, DeviceState,
    DiagnosticCheck, DiagnosticReport, Frame, VideoFormat,
};
use tokio::sync::watch;

use rekam_core::sim::SimControl;

/// The fault "lens_covered": frames go near-black (stills still succeed).
pub const LENS_COVERED: FaultSpec = FaultSpec {
    name: "lens_covered",
    description: "something covers the lens: preview frames and stills come out near-black \
                  (captures succeed, a face check rejects them) until faults are cleared",
};

/// Still resolution.
const STILL_W: u32 = 1600;
const STILL_H: u32 = 1200;
/// Preview resolution.
const PREVIEW_W: u32 = 640;
const PREVIEW_H: u32 = 480;
/// Extra pixels of the downscaled canvas the preview window moves in.
const WANDER_X: u32 = 16;
const WANDER_Y: u32 = 12;
/// Height of the frame-counter bar, pixels.
const BAR_H: u32 = 10;
/// Bits of the sequence number the bar shows.
const BAR_BITS: u32 = 32;
/// JPEG quality of previews and stills.
const JPEG_QUALITY: u8 = 80;
/// Nominal preview frame period (15 fps).
const PREVIEW_PERIOD: Duration = Duration::from_micros(66_667);
/// Nominal autofocus time of a still.
const AUTOFOCUS: Duration = Duration::from_millis(350);
/// Nominal shutter and readout time of a still.
const SHUTTER: Duration = Duration::from_millis(150);
/// Nominal self-test time.
const SELF_TEST: Duration = Duration::from_millis(150);
/// Brightness left when the lens is covered.
const COVERED_GAIN: f32 = 0.03;

fn hardware(what: &str, e: impl std::fmt::Display) -> DeviceError {
    DeviceError::Hardware(format!("{what}: {e}"))
}

/// Encodes an RGB image as baseline JPEG.
fn encode_jpeg(img: &RgbImage) -> Result<Vec<u8>, DeviceError> {
    let mut out = Vec::with_capacity(img.as_raw().len() / 8);
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )
        .map_err(|e| hardware("JPEG encoding failed", e))?;
    Ok(out)
}

/// What a covered lens lets through: a near-black image with a little sensor noise.
fn cover(img: &mut RgbImage, seed: u64) {
    let gain: Vec<u8> = (0..=255u16)
        .map(|v| (f32::from(v) * COVERED_GAIN).round() as u8)
        .collect();
    let mut noise = splitmix64(seed) | 1;
    for v in img.iter_mut() {
        // xorshift64: cheap per-pixel noise of 0..=2 grey levels.
        noise ^= noise << 13;
        noise ^= noise >> 7;
        noise ^= noise << 17;
        let g = gain.get(usize::from(*v)).copied().unwrap_or(0);
        *v = g.saturating_add((noise % 3) as u8);
    }
}

/// Mean and standard deviation of the luma of an RGB image.
fn luma_stats(img: &RgbImage) -> (f64, f64) {
    let n = f64::from(img.width() * img.height()).max(1.0);
    let luma = |p: &image::Rgb<u8>| {
        0.299 * f64::from(p.0[0]) + 0.587 * f64::from(p.0[1]) + 0.114 * f64::from(p.0[2])
    };
    let mean = img.pixels().map(luma).sum::<f64>() / n;
    let var = img.pixels().map(|p| (luma(p) - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Runs CPU-heavy work on a blocking thread when a tokio runtime is there, inline if not.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DeviceError> {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => h
            .spawn_blocking(f)
            .await
            .map_err(|e| hardware("image processing failed", e)),
        Err(_) => Ok(f()),
    }
}

struct Inner {
    info: DeviceInfo,
    seed: u64,
    timing: Timing,
    ctl: Arc<SimControl>,
    /// The scene at still resolution.
    scene: OnceLock<RgbImage>,
    /// The scene at preview scale, with room to wander.
    canvas: OnceLock<RgbImage>,
    /// The still JPEG, clear and covered.
    still: OnceLock<Vec<u8>>,
    still_covered: OnceLock<Vec<u8>>,
}

impl Inner {
    fn scene(&self) -> &RgbImage {
        self.scene
            .get_or_init(|| rekam_synth::render_face(self.seed, STILL_W, STILL_H).image)
    }

    fn canvas(&self) -> &RgbImage {
        // The same scene rendered at the canvas size (the face scales with the frame, and
        // the canvas has the still's 4:3 aspect ratio): cheaper than downscaling the still.
        self.canvas.get_or_init(|| {
            rekam_synth::render_face(self.seed, PREVIEW_W + WANDER_X, PREVIEW_H + WANDER_Y).image
        })
    }

    /// The still JPEG (blocking the first time).
    fn still_jpeg(&self, covered: bool) -> Result<Vec<u8>, DeviceError> {
        let cell = if covered {
            &self.still_covered
        } else {
            &self.still
        };
        if let Some(j) = cell.get() {
            return Ok(j.clone());
        }
        let jpeg = if covered {
            let mut img = self.scene().clone();
            cover(&mut img, self.seed);
            encode_jpeg(&img)?
        } else {
            encode_jpeg(self.scene())?
        };
        Ok(cell.get_or_init(|| jpeg).clone())
    }

    /// Preview frame `sequence` as raw RGB (blocking the first time).
    fn preview_rgb(&self, sequence: u64, covered: bool) -> RgbImage {
        let canvas = self.canvas();
        // Small deterministic sway around the centre of the canvas.
        let t = sequence as f32;
        let dx = (WANDER_X as f32 / 2.0 + 6.0 * (t * 0.21).sin()).round() as u32;
        let dy = (WANDER_Y as f32 / 2.0 + 4.0 * (t * 0.13 + 1.0).sin()).round() as u32;
        let dx = dx.min(WANDER_X);
        let dy = dy.min(WANDER_Y);
        let cw = canvas.width() as usize * 3;
        let row = PREVIEW_W as usize * 3;
        let mut buf = Vec::with_capacity(row * PREVIEW_H as usize);
        for y in 0..PREVIEW_H as usize {
            let start = (y + dy as usize) * cw + dx as usize * 3;
            match canvas.as_raw().get(start..start + row) {
                Some(src) => buf.extend_from_slice(src),
                None => buf.resize(buf.len() + row, 0),
            }
        }
        let mut img = RgbImage::from_raw(PREVIEW_W, PREVIEW_H, buf)
            .unwrap_or_else(|| RgbImage::new(PREVIEW_W, PREVIEW_H));
        // Frame-counter bar: one block per bit, white = 1.
        let block = PREVIEW_W / BAR_BITS;
        for y in PREVIEW_H - BAR_H..PREVIEW_H {
            for x in 0..block * BAR_BITS {
                let b = x / block;
                let on = (sequence >> b) & 1 == 1;
                let edge = x % block == 0;
                let v = if edge {
                    128
                } else if on {
                    255
                } else {
                    0
                };
                img.put_pixel(x, y, image::Rgb([v, v, v]));
            }
        }
        if covered {
            cover(&mut img, self.seed ^ sequence);
        }
        img
    }

    fn preview_frame(&self, sequence: u64, covered: bool) -> Result<Frame, DeviceError> {
        let img = self.preview_rgb(sequence, covered);
        Ok(Frame {
            sequence,
            at: SystemTime::now(),
            width: PREVIEW_W,
            height: PREVIEW_H,
            jpeg: encode_jpeg(&img)?,
        })
    }
}

/// A simulated face camera (see the [module docs](self)).
///
/// Cloning gives another handle to the same camera (shared state, faults and cache).
#[derive(Clone)]
pub struct CameraSim {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CameraSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraSim")
            .field("info", &self.inner.info)
            .field("seed", &self.inner.seed)
            .field("timing", &self.inner.timing)
            .finish_non_exhaustive()
    }
}

impl CameraSim {
    /// A ready camera with id `id` that films the face chosen by `seed`, with nominal
    /// timings scaled by `timing`.
    pub fn new(id: &str, seed: u64, timing: Timing) -> Self {
        let info = DeviceInfo {
            id: id.to_string(),
            class: DeviceClass::Camera,
            vendor: "rekam".into(),
            model: "Simulated 2 MP portrait camera".into(),
            serial: format!("SIMCAM-{:010X}", splitmix64(seed ^ 0xCA3E_4A00) >> 24),
            firmware: "1.0.0-sim".into(),
            driver: "sim".into(),
            simulated: true,
        };
        CameraSim {
            inner: Arc::new(Inner {
                info,
                seed,
                timing,
                ctl: Arc::new(SimControl::new(
                    id,
                    vec![DISCONNECT, HARDWARE_ERROR, LENS_COVERED],
                )),
                scene: OnceLock::new(),
                canvas: OnceLock::new(),
                still: OnceLock::new(),
                still_covered: OnceLock::new(),
            }),
        }
    }

    /// Renders the scene, the preview canvas and the still JPEG into the cache. Blocking
    /// (a fraction of a second): call it on a blocking thread, or let the first preview
    /// frame or still pay for it.
    pub fn warm_up(&self) {
        let _ = self.inner.canvas();
        let _ = self.inner.still_jpeg(false);
    }
}

#[async_trait]
impl Device for CameraSim {
    fn info(&self) -> &DeviceInfo {
        &self.inner.info
    }

    fn watch_state(&self) -> watch::Receiver<DeviceState> {
        self.inner.ctl.state.subscribe()
    }

    async fn self_test(&self) -> DiagnosticReport {
        let started = Instant::now();
        let inner = Arc::clone(&self.inner);
        let faults = &inner.ctl.faults;
        let disconnected = faults.is_active(DISCONNECT.name);
        let faulty = faults.is_active(HARDWARE_ERROR.name);
        let covered = faults.is_active(LENS_COVERED.name);
        let mut checks = Vec::new();

        inner.timing.sleep(SELF_TEST).await;
        let sensor = if disconnected {
            DiagnosticCheck::new(
                "sensor",
                CheckOutcome::Fail,
                "no frame: the camera does not answer",
            )
        } else if faulty {
            DiagnosticCheck::new(
                "sensor",
                CheckOutcome::Fail,
                "the sensor returned no frame (internal error): replug or service the camera",
            )
        } else {
            let i2 = Arc::clone(&inner);
            match blocking(move || luma_stats(&i2.preview_rgb(0, covered))).await {
                Err(e) => DiagnosticCheck::new("sensor", CheckOutcome::Fail, e.to_string()),
                Ok((mean, std)) if mean < 20.0 => DiagnosticCheck::new(
                    "sensor",
                    CheckOutcome::Fail,
                    format!(
                        "{PREVIEW_W}x{PREVIEW_H} test frame: mean luma {mean:.1}/255, std dev \
                         {std:.1}: the lens is covered or the sensor sees no light; uncover \
                         the lens and check the lighting"
                    ),
                ),
                Ok((mean, std)) => DiagnosticCheck::new(
                    "sensor",
                    if std < 5.0 {
                        CheckOutcome::Warn
                    } else {
                        CheckOutcome::Pass
                    },
                    format!(
                        "{PREVIEW_W}x{PREVIEW_H} test frame: mean luma {mean:.1}/255, std dev \
                         {std:.1}"
                    ),
                ),
            }
        };
        checks.push(sensor);

        let t = Instant::now();
        inner.timing.sleep(Duration::from_millis(1)).await;
        let rtt = t.elapsed();
        checks.push(if disconnected {
            DiagnosticCheck::new(
                "usb",
                CheckOutcome::Fail,
                "no answer on USB: check the cable and the hub, then replug the camera",
            )
        } else {
            DiagnosticCheck::new(
                "usb",
                CheckOutcome::Pass,
                format!(
                    "control transfer answered in {:.2} ms",
                    rtt.as_secs_f64() * 1000.0
                ),
            )
        });

        DiagnosticReport {
            device_id: inner.info.id.clone(),
            checks,
            elapsed: started.elapsed(),
        }
    }

    fn simulator(&self) -> Option<&dyn SimulatorControl> {
        Some(self)
    }
}

/// A running preview stream.
struct Preview {
    inner: Arc<Inner>,
    sequence: u64,
    done: bool,
}

#[async_trait]
impl Camera for CameraSim {
    fn still_resolution(&self) -> Option<(u32, u32)> {
        Some((STILL_W, STILL_H))
    }

    fn preview_formats(&self) -> Vec<VideoFormat> {
        vec![VideoFormat {
            width: PREVIEW_W,
            height: PREVIEW_H,
            frames_per_second: (1.0 / PREVIEW_PERIOD.as_secs_f64()).round() as f32,
        }]
    }

    fn preview(&self) -> BoxStream<'static, Result<Frame, DeviceError>> {
        let state = Preview {
            inner: Arc::clone(&self.inner),
            sequence: 0,
            done: false,
        };
        futures::stream::unfold(state, |mut st| async move {
            if st.done {
                return None;
            }
            if st.sequence > 0 {
                st.inner.timing.sleep(PREVIEW_PERIOD).await;
            }
            let item = match st.inner.ctl.check() {
                Err(e) => Err(e),
                Ok(()) => {
                    let inner = Arc::clone(&st.inner);
                    let seq = st.sequence;
                    let covered = inner.ctl.faults.is_active(LENS_COVERED.name);
                    blocking(move || inner.preview_frame(seq, covered))
                        .await
                        .and_then(|r| r)
                }
            };
            st.done = item.is_err();
            st.sequence += 1;
            Some((item, st))
        })
        .boxed()
    }

    async fn capture_still(&self) -> Result<Frame, DeviceError> {
        rekam_core::sim::scripted_call(self).await;
        let inner = &self.inner;
        let _op = inner.ctl.begin()?;
        inner.timing.sleep(AUTOFOCUS).await;
        inner.ctl.check()?;
        inner.timing.sleep(SHUTTER).await;
        inner.ctl.check()?;
        let covered = inner.ctl.faults.is_active(LENS_COVERED.name);
        let i2 = Arc::clone(inner);
        let jpeg = blocking(move || i2.still_jpeg(covered)).await??;
        Ok(Frame {
            sequence: 0,
            at: SystemTime::now(),
            width: STILL_W,
            height: STILL_H,
            jpeg,
        })
    }
}

impl SimulatorControl for CameraSim {
    fn faults(&self) -> Vec<FaultSpec> {
        self.inner.ctl.faults.specs()
    }

    fn active_faults(&self) -> Vec<String> {
        self.inner.ctl.faults.active()
    }

    fn inject(&self, fault: &str) -> Result<(), DeviceError> {
        self.inner.ctl.inject(fault)
    }

    fn clear(&self) {
        self.inner.ctl.clear();
    }

    fn script_slot(&self) -> Option<&rekam_core::sim::ScriptSlot> {
        Some(self.inner.ctl.faults.script())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covering_darkens_to_near_black() {
        let mut img = RgbImage::from_pixel(4, 4, image::Rgb([250, 200, 180]));
        cover(&mut img, 1);
        assert!(img.iter().all(|&v| v <= 10), "{:?}", img.as_raw());
        let (mean, _) = luma_stats(&img);
        assert!(mean < 10.0);
    }

    #[test]
    fn luma_of_white_is_255() {
        let img = RgbImage::from_pixel(3, 2, image::Rgb([255, 255, 255]));
        let (mean, std) = luma_stats(&img);
        assert!((mean - 255.0).abs() < 1e-6);
        assert!(std < 1e-6);
    }
}
