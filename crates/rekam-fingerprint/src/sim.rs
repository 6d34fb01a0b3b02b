//! The simulated 4-4-2 fingerprint scanner.
//!
//! Every one of the ten fingers has a master finger derived from the simulator's seed and
//! the finger's ISO/IEC 19794-4 code, so the same applicant comes back on every capture.
//! Impressions vary from capture to capture (placement, skin distortion, noise) through a
//! capture counter that cycles over four variants. Rendering a slap costs a noticeable
//! fraction of a second, so rendered images are cached by position, declared missing
//! fingers, variant and quality: after warm-up ([`FingerprintSim::warm_up`]) a capture costs
//! only its simulated timing.
//!
//! Faults: `disconnect`, `hardware_error` (common to every simulator), `poor_quality`
//! ([`POOR_QUALITY`]) and `no_finger` ([`NO_FINGER`]).

use rekam_core::sim::splitmix64;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use image::GrayImage;
use rekam_core::sim::{DISCONNECT, FaultSpec, HARDWARE_ERROR, SimulatorControl, Timing};
use rekam_core::{
    CheckOutcome, Device, DeviceClass, DeviceError, DeviceInfo, DeviceState, DiagnosticCheck,
    DiagnosticReport, FingerCapture, FingerPosition, FingerPreview, FingerprintScanner, GreyImage,
    MissingFinger,
};
use rekam_synth::{
    Degradation, Hand, Impression, MasterFinger, SlapFinger, degrade, master, render_finger,
    render_four_finger_slap, render_thumbs_slap,
};
use tokio::sync::watch;

use rekam_core::sim::SimControl;

/// The fault "poor_quality": captures come out heavily degraded until faults are cleared.
pub const POOR_QUALITY: FaultSpec = FaultSpec {
    name: "poor_quality",
    description: "dirty platen or dry skin: captures come out noisy, blurred and faint \
                  (a quality check rejects them) until faults are cleared",
};

/// The fault "no_finger": the applicant never places a finger.
pub const NO_FINGER: FaultSpec = FaultSpec {
    name: "no_finger",
    description: "the applicant never places a finger: captures wait until the caller's \
                  deadline and previews show an empty platen",
};

/// The fault "wrong_hand": the applicant places the right hand for the left-hand slap.
pub const WRONG_HAND: FaultSpec = FaultSpec {
    name: "wrong_hand",
    description: "the applicant puts the right hand down again when the left four fingers \
                  are asked for (a sequence check catches it) until faults are cleared",
};

/// Resolution of captures.
const PPI: u32 = 500;
/// Downscale factor of preview frames (125 ppi).
const PREVIEW_SCALE: u32 = 4;
/// Nominal time the applicant takes to place the fingers.
const PLACEMENT: Duration = Duration::from_millis(1500);
/// Nominal scan time once the fingers are on the platen.
const SCAN: Duration = Duration::from_millis(300);
/// Nominal preview frame period (10 fps).
const PREVIEW_PERIOD: Duration = Duration::from_millis(100);
/// Preview frames before the finger is on the platen.
const PREVIEW_EMPTY_FRAMES: u64 = 5;
/// Nominal self-test time.
const SELF_TEST: Duration = Duration::from_millis(200);
/// Impression variants cycled through by the capture counter (two keep the pre-rendered
/// cache of the three slaps near 15 MB, so the idle daemon stays small).
const VARIANTS: u64 = 2;
/// How far impressions depart from a clean one (0.3 ≈ a typical live-scan re-capture).
const SEVERITY: f32 = 0.25;
/// Rendered images kept (the 13 positions × 4 variants fit, plus a few with missing
/// fingers or poor quality).
const CACHE_CAPACITY: usize = 64;

const SALT_MASTER: u64 = 0x6D61_7374_6572_0001;
const SALT_IMPRESSION: u64 = 0x696D_7072_6573_0002;
const SALT_POOR: u64 = 0x706F_6F72_0000_0003;
const SALT_SERIAL: u64 = 0x7365_7269_616C_0004;

/// A seed derived from `seed` and `parts`.
fn derive(seed: u64, parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(splitmix64(seed), |h, &p| splitmix64(h ^ p))
}

/// What a rendered image depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct RenderKey {
    position: FingerPosition,
    /// Bit `code` set for each missing finger of the position.
    missing: u16,
    variant: u8,
    poor: bool,
    /// The applicant put the right hand down again for the left slap.
    wrong_hand: bool,
}

fn bit(f: FingerPosition) -> u16 {
    1u16 << f.code()
}

/// Rendered images, each computed once even when several tasks ask at the same time.
type Slot = Arc<OnceLock<Arc<GrayImage>>>;

#[derive(Debug, Default)]
struct RenderCache {
    slots: HashMap<RenderKey, Slot>,
    order: VecDeque<RenderKey>,
}

impl RenderCache {
    fn slot(&mut self, key: RenderKey) -> Slot {
        if let Some(s) = self.slots.get(&key) {
            return Arc::clone(s);
        }
        let s: Slot = Arc::new(OnceLock::new());
        self.slots.insert(key, Arc::clone(&s));
        self.order.push_back(key);
        while self.order.len() > CACHE_CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.slots.remove(&old);
            }
        }
        s
    }
}

struct Inner {
    info: DeviceInfo,
    seed: u64,
    timing: Timing,
    ctl: Arc<SimControl>,
    captures: AtomicU64,
    masters: [OnceLock<MasterFinger>; 10],
    cache: Mutex<RenderCache>,
}

/// A simulated 500 ppi 4-4-2 fingerprint scanner (see the [module docs](self)).
///
/// Cloning gives another handle to the same scanner (shared state, faults and cache), for
/// example to run [`FingerprintSim::warm_up`] on a blocking thread.
#[derive(Clone)]
pub struct FingerprintSim {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FingerprintSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FingerprintSim")
            .field("info", &self.inner.info)
            .field("seed", &self.inner.seed)
            .field("timing", &self.inner.timing)
            .finish_non_exhaustive()
    }
}

impl FingerprintSim {
    /// A ready scanner with id `id` whose fingers and impressions follow from `seed` and
    /// whose nominal timings are scaled by `timing`.
    pub fn new(id: &str, seed: u64, timing: Timing) -> Self {
        let info = DeviceInfo {
            id: id.to_string(),
            class: DeviceClass::FingerprintScanner,
            vendor: "rekam".into(),
            model: "Simulated 500 ppi 4-4-2 scanner".into(),
            serial: format!("SIMFP-{:010X}", derive(seed, &[SALT_SERIAL]) >> 24),
            firmware: "1.0.0-sim".into(),
            driver: "sim".into(),
            simulated: true,
        };
        FingerprintSim {
            inner: Arc::new(Inner {
                info,
                seed,
                timing,
                ctl: Arc::new(SimControl::new(
                    id,
                    vec![
                        DISCONNECT,
                        HARDWARE_ERROR,
                        POOR_QUALITY,
                        NO_FINGER,
                        WRONG_HAND,
                    ],
                )),
                captures: AtomicU64::new(0),
                masters: Default::default(),
                cache: Mutex::new(RenderCache::default()),
            }),
        }
    }

    /// Renders the three slaps (every impression variant, no missing fingers) into the
    /// cache, so that later slap captures cost only their simulated timing. Blocking and
    /// CPU-heavy (a few seconds in all): call it on a blocking thread, e.g.
    /// `tokio::task::spawn_blocking(move || sim.warm_up())` with a clone of the scanner.
    pub fn warm_up(&self) {
        self.prerender();
    }

    fn prerender(&self) {
        for position in FingerPosition::SLAPS {
            for variant in 0..VARIANTS as u8 {
                let _ = self.inner.image(RenderKey {
                    position,
                    missing: 0,
                    variant,
                    poor: false,
                    wrong_hand: false,
                });
            }
        }
    }

    /// The number of captures started so far (each selects the next impression variant).
    pub fn captures_started(&self) -> u64 {
        self.inner.captures.load(Ordering::Relaxed)
    }
}

/// Checks the declared missing fingers against the position; returns their bit mask.
fn missing_mask(position: FingerPosition, missing: &[MissingFinger]) -> Result<u16, DeviceError> {
    let fingers = position.fingers();
    let mut mask = 0u16;
    for m in missing {
        if !fingers.contains(&m.position) {
            return Err(DeviceError::InvalidArgument(format!(
                "{:?} is declared missing but is not a finger of {:?}",
                m.position, position
            )));
        }
        mask |= bit(m.position);
    }
    if fingers.iter().all(|&f| mask & bit(f) != 0) {
        return Err(DeviceError::InvalidArgument(format!(
            "nothing to capture: every finger of {position:?} is declared missing"
        )));
    }
    Ok(mask)
}

/// Downscales by an integer factor (box average).
fn downscale(img: &GrayImage, factor: u32) -> GrayImage {
    let f = factor.max(1);
    let (w, h) = (img.width() / f, img.height() / f);
    let n = f * f;
    GrayImage::from_fn(w, h, |x, y| {
        let mut sum = 0u32;
        for dy in 0..f {
            for dx in 0..f {
                sum += u32::from(img.get_pixel(x * f + dx, y * f + dy).0[0]);
            }
        }
        image::Luma([((sum + n / 2) / n) as u8])
    })
}

/// The preview size of a position.
fn preview_size(position: FingerPosition) -> (u32, u32) {
    let (w, h) = position.nominal_size();
    (w / PREVIEW_SCALE, h / PREVIEW_SCALE)
}

/// A frame of the empty platen: near-white with a little sensor noise, and dead lines when
/// the sensor is faulty.
fn blank_frame(width: u32, height: u32, seed: u64, faulty: bool) -> GrayImage {
    GrayImage::from_fn(width, height, |x, y| {
        if faulty && x % 37 < 2 {
            return image::Luma([0]);
        }
        let h = derive(seed, &[u64::from(x), u64::from(y)]);
        image::Luma([252 + (h % 4) as u8])
    })
}

fn to_grey(img: &GrayImage, ppi: u32) -> Result<GreyImage, DeviceError> {
    GreyImage::new(img.width(), img.height(), ppi, img.as_raw().clone())
}

fn hardware(what: &str, e: impl std::fmt::Display) -> DeviceError {
    DeviceError::Hardware(format!("{what}: {e}"))
}

impl Inner {
    fn master(&self, finger: FingerPosition) -> Option<&MasterFinger> {
        let i = usize::from(finger.code()).checked_sub(1)?;
        let cell = self.masters.get(i)?;
        Some(
            cell.get_or_init(|| {
                master(derive(self.seed, &[SALT_MASTER, u64::from(finger.code())]))
            }),
        )
    }

    fn impression(&self, finger: FingerPosition, variant: u8) -> Impression {
        Impression::random(
            derive(
                self.seed,
                &[
                    SALT_IMPRESSION,
                    u64::from(finger.code()),
                    u64::from(variant),
                ],
            ),
            SEVERITY,
        )
    }

    fn slap_finger(&self, key: RenderKey, finger: FingerPosition) -> SlapFinger<'_> {
        SlapFinger {
            master: if key.missing & bit(finger) != 0 {
                None
            } else {
                self.master(finger)
            },
            impression: self.impression(finger, key.variant),
        }
    }

    /// Renders an image (no cache).
    fn render(&self, key: RenderKey) -> GrayImage {
        use FingerPosition::*;
        let (w, h) = key.position.nominal_size();
        let f = |finger| self.slap_finger(key, finger);
        let img = match key.position {
            RightFour => {
                let fingers = [f(RightIndex), f(RightMiddle), f(RightRing), f(RightLittle)];
                render_four_finger_slap(Hand::Right, &fingers, w, h).0
            }
            LeftFour if key.wrong_hand => {
                let fingers = [f(RightIndex), f(RightMiddle), f(RightRing), f(RightLittle)];
                render_four_finger_slap(Hand::Right, &fingers, w, h).0
            }
            LeftFour => {
                let fingers = [f(LeftIndex), f(LeftMiddle), f(LeftRing), f(LeftLittle)];
                render_four_finger_slap(Hand::Left, &fingers, w, h).0
            }
            BothThumbs => render_thumbs_slap(&[f(LeftThumb), f(RightThumb)], w, h).0,
            single => match self.master(single) {
                Some(m) => render_finger(m, w, h, &self.impression(single, key.variant)),
                None => GrayImage::from_pixel(w, h, image::Luma([255])),
            },
        };
        if key.poor {
            let s = derive(
                self.seed,
                &[
                    SALT_POOR,
                    u64::from(key.position.code()),
                    u64::from(key.variant),
                ],
            );
            let img = degrade(&img, Degradation::Blur(0.6), s);
            let img = degrade(&img, Degradation::LowContrast(0.75), s);
            degrade(&img, Degradation::Noise(0.45), s)
        } else {
            img
        }
    }

    fn slot(&self, key: RenderKey) -> Slot {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .slot(key)
    }

    /// The image for `key`, rendered once (blocking).
    fn image(&self, key: RenderKey) -> Arc<GrayImage> {
        let slot = self.slot(key);
        Arc::clone(slot.get_or_init(|| Arc::new(self.render(key))))
    }

    /// Starts getting the image for `key` without blocking the runtime.
    fn start_image(self: &Arc<Self>, key: RenderKey) -> ImageTask {
        if let Some(img) = self.slot(key).get() {
            return ImageTask::Ready(Arc::clone(img));
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let inner = Arc::clone(self);
                ImageTask::Pending(handle.spawn_blocking(move || inner.image(key)))
            }
            Err(_) => ImageTask::Ready(self.image(key)),
        }
    }

    /// The preview frame of `key` (blocking).
    fn preview_image(&self, key: RenderKey) -> GrayImage {
        downscale(&self.image(key), PREVIEW_SCALE)
    }

    /// The key of the next capture of `position` without missing fingers.
    fn next_key(&self, position: FingerPosition) -> RenderKey {
        RenderKey {
            position,
            missing: 0,
            variant: (self.captures.load(Ordering::Relaxed) % VARIANTS) as u8,
            poor: self.ctl.faults.is_active(POOR_QUALITY.name),
            wrong_hand: self.ctl.faults.is_active(WRONG_HAND.name),
        }
    }
}

/// An image being fetched from the cache or rendered on a blocking thread. Dropping it
/// leaves the rendering running: its result still lands in the cache.
enum ImageTask {
    Ready(Arc<GrayImage>),
    Pending(tokio::task::JoinHandle<Arc<GrayImage>>),
}

impl ImageTask {
    async fn finish(self) -> Result<Arc<GrayImage>, DeviceError> {
        match self {
            ImageTask::Ready(img) => Ok(img),
            ImageTask::Pending(handle) => handle
                .await
                .map_err(|e| hardware("image rendering failed", e)),
        }
    }
}

/// A running preview stream.
struct Preview {
    inner: Arc<Inner>,
    position: FingerPosition,
    sequence: u64,
    /// The downscaled print, with the quality flag it was made for.
    print: Option<(bool, GrayImage)>,
    blank: GrayImage,
    done: bool,
}

impl Preview {
    async fn frame(&mut self) -> Result<FingerPreview, DeviceError> {
        self.inner.ctl.check()?;
        let present = self.sequence >= PREVIEW_EMPTY_FRAMES
            && !self.inner.ctl.faults.is_active(NO_FINGER.name);
        let img = if present {
            let key = self.inner.next_key(self.position);
            match &self.print {
                Some((poor, img)) if *poor == key.poor => img.clone(),
                _ => {
                    let inner = Arc::clone(&self.inner);
                    let img = match tokio::runtime::Handle::try_current() {
                        Ok(h) => h
                            .spawn_blocking(move || inner.preview_image(key))
                            .await
                            .map_err(|e| hardware("preview rendering failed", e))?,
                        Err(_) => inner.preview_image(key),
                    };
                    self.print = Some((key.poor, img.clone()));
                    img
                }
            }
        } else {
            self.blank.clone()
        };
        Ok(FingerPreview {
            sequence: self.sequence,
            at: SystemTime::now(),
            image: to_grey(&img, PPI / PREVIEW_SCALE)?,
            finger_present: present,
        })
    }
}

#[async_trait]
impl Device for FingerprintSim {
    fn info(&self) -> &DeviceInfo {
        &self.inner.info
    }

    fn watch_state(&self) -> watch::Receiver<DeviceState> {
        self.inner.ctl.state.subscribe()
    }

    async fn self_test(&self) -> DiagnosticReport {
        let started = Instant::now();
        let inner = &self.inner;
        let disconnected = inner.ctl.faults.is_active(DISCONNECT.name);
        let faulty = inner.ctl.faults.is_active(HARDWARE_ERROR.name);
        let mut checks = Vec::new();

        // Sensor: a blank frame must have a uniform background.
        inner.timing.sleep(SELF_TEST).await;
        if disconnected {
            checks.push(DiagnosticCheck::new(
                "sensor",
                CheckOutcome::Fail,
                "no frame: the scanner does not answer",
            ));
        } else {
            let (w, h) = preview_size(FingerPosition::RightFour);
            let frame = blank_frame(w, h, inner.seed, faulty);
            let n = f64::from(w * h).max(1.0);
            let mean = frame.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let var = frame
                .as_raw()
                .iter()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum::<f64>()
                / n;
            let std = var.sqrt();
            let (outcome, verdict) = if std < 3.0 && mean > 230.0 {
                (CheckOutcome::Pass, "uniform background")
            } else {
                (
                    CheckOutcome::Fail,
                    "background not uniform (dead lines or a damaged sensor): service the scanner",
                )
            };
            checks.push(DiagnosticCheck::new(
                "sensor",
                outcome,
                format!("blank {w}x{h} frame: mean {mean:.1}, std dev {std:.1}: {verdict}"),
            ));
        }

        // Platen: what the device reports about itself.
        let platen = match inner.ctl.state.get() {
            DeviceState::Disconnected => DiagnosticCheck::new(
                "platen",
                CheckOutcome::Fail,
                "platen state unknown: the scanner does not answer",
            ),
            DeviceState::Error(reason) => DiagnosticCheck::new(
                "platen",
                CheckOutcome::Fail,
                format!("device error: {reason}"),
            ),
            _ if inner.ctl.faults.is_active(POOR_QUALITY.name) => DiagnosticCheck::new(
                "platen",
                CheckOutcome::Warn,
                "ridge contrast on the platen is low: clean the platen with a dry lint-free cloth",
            ),
            DeviceState::Busy => {
                DiagnosticCheck::new("platen", CheckOutcome::Pass, "platen in use by a capture")
            }
            DeviceState::Ready => {
                DiagnosticCheck::new("platen", CheckOutcome::Pass, "platen clear and idle")
            }
        };
        checks.push(platen);

        // USB: a control transfer round trip.
        let t = Instant::now();
        inner.timing.sleep(Duration::from_millis(1)).await;
        let rtt = t.elapsed();
        checks.push(if disconnected {
            DiagnosticCheck::new(
                "usb",
                CheckOutcome::Fail,
                "no answer on USB: check the cable and the hub, then replug the scanner",
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

    /// Pre-renders the slaps, as [`FingerprintSim::warm_up`].
    fn warm_up(&self) {
        self.prerender();
    }
}

#[async_trait]
impl FingerprintScanner for FingerprintSim {
    /// The ten single fingers and the three slaps of a 4-4-2 capture.
    fn positions(&self) -> Vec<FingerPosition> {
        FingerPosition::SINGLE
            .into_iter()
            .chain(FingerPosition::SLAPS)
            .collect()
    }

    fn ppi(&self) -> u32 {
        PPI
    }

    /// A single finger's nominal flat image (see [`FingerPosition::nominal_size`]).
    fn single_finger_size(&self) -> Option<(u32, u32)> {
        Some(FingerPosition::RightIndex.nominal_size())
    }

    fn has_preview(&self) -> bool {
        true
    }

    async fn capture(
        &self,
        position: FingerPosition,
        missing: &[MissingFinger],
    ) -> Result<FingerCapture, DeviceError> {
        let mask = missing_mask(position, missing)?;
        rekam_core::sim::scripted_call(self).await;
        let inner = &self.inner;
        let _op = inner.ctl.begin()?;
        let n = inner.captures.fetch_add(1, Ordering::Relaxed);
        let mut key = RenderKey {
            position,
            missing: mask,
            variant: (n % VARIANTS) as u8,
            poor: inner.ctl.faults.is_active(POOR_QUALITY.name),
            wrong_hand: inner.ctl.faults.is_active(WRONG_HAND.name),
        };
        // Render while the applicant places the fingers.
        let mut task = inner.start_image(key);

        inner.ctl.wait_while(NO_FINGER.name).await?;
        inner.timing.sleep(PLACEMENT).await;
        inner.ctl.check()?;
        inner.timing.sleep(SCAN).await;
        inner.ctl.check()?;

        let poor = inner.ctl.faults.is_active(POOR_QUALITY.name);
        if poor != key.poor {
            key.poor = poor;
            task = inner.start_image(key);
        }
        let img = task.finish().await?;
        inner.ctl.check()?;
        Ok(FingerCapture {
            position,
            image: to_grey(&img, PPI)?,
            captured_at: SystemTime::now(),
        })
    }

    fn preview(
        &self,
        position: FingerPosition,
    ) -> BoxStream<'static, Result<FingerPreview, DeviceError>> {
        let (w, h) = preview_size(position);
        let state = Preview {
            inner: Arc::clone(&self.inner),
            position,
            sequence: 0,
            print: None,
            blank: blank_frame(w, h, self.inner.seed, false),
            done: false,
        };
        futures::stream::unfold(state, |mut st| async move {
            if st.done {
                return None;
            }
            if st.sequence > 0 {
                st.inner.timing.sleep(PREVIEW_PERIOD).await;
            }
            let item = st.frame().await;
            st.done = item.is_err();
            st.sequence += 1;
            Some((item, st))
        })
        .boxed()
    }
}

impl SimulatorControl for FingerprintSim {
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
    use rekam_core::MissingReason;

    fn gone(position: FingerPosition) -> MissingFinger {
        MissingFinger {
            position,
            reason: MissingReason::Amputated,
        }
    }

    #[test]
    fn missing_fingers_must_belong_to_the_position() {
        use FingerPosition::*;
        assert_eq!(missing_mask(RightFour, &[]), Ok(0));
        assert_eq!(
            missing_mask(RightFour, &[gone(RightRing)]),
            Ok(bit(RightRing))
        );
        assert!(matches!(
            missing_mask(RightFour, &[gone(LeftRing)]),
            Err(DeviceError::InvalidArgument(_))
        ));
        assert!(matches!(
            missing_mask(BothThumbs, &[gone(BothThumbs)]),
            Err(DeviceError::InvalidArgument(_))
        ));
        let all = missing_mask(BothThumbs, &[gone(LeftThumb), gone(RightThumb)]);
        assert!(
            matches!(all, Err(DeviceError::InvalidArgument(m)) if m.contains("nothing to capture"))
        );
        assert!(matches!(
            missing_mask(LeftIndex, &[gone(LeftIndex)]),
            Err(DeviceError::InvalidArgument(_))
        ));
    }

    #[test]
    fn downscale_averages_blocks() {
        let img = GrayImage::from_fn(8, 4, |x, _| image::Luma([if x < 4 { 0 } else { 200 }]));
        let small = downscale(&img, 4);
        assert_eq!(small.dimensions(), (2, 1));
        assert_eq!(small.as_raw(), &vec![0, 200]);
    }

    #[test]
    fn cache_keeps_a_bounded_number_of_images() {
        let mut c = RenderCache::default();
        for v in 0..(CACHE_CAPACITY as u16 + 10) {
            let _ = c.slot(RenderKey {
                position: FingerPosition::RightThumb,
                missing: v,
                variant: 0,
                poor: false,
                wrong_hand: false,
            });
        }
        assert_eq!(c.slots.len(), CACHE_CAPACITY);
        assert_eq!(c.order.len(), CACHE_CAPACITY);
    }
}
