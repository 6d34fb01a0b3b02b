//! The simulated iris camera.
//!
//! A two-eye camera: each [`IrisCamera::capture`] takes, after a nominal 800 ms (scaled by
//! the timings), the eyes asked but the excepted ones, each a [`render_eye`] of the
//! simulator's applicant (its seed), 640 x 480, 8-bit grey. The quality of an eye follows
//! from the share of its iris the eyelids leave visible: 80 to 92 for an open eye.
//!
//! Faults: `disconnect`, `hardware_error` (common to every simulator), `no_eye`
//! ([`NO_EYE`]: the capture waits for an eye until the fault is cleared) and
//! `eyelid_occlusion` ([`EYELID_OCCLUSION`]: the eyes are captured half closed, with a poor
//! quality).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use rekam_core::sim::{
    DISCONNECT, FaultSpec, HARDWARE_ERROR, SimControl, SimulatorControl, Timing, splitmix64,
};
use rekam_core::{
    CheckOutcome, Device, DeviceClass, DeviceError, DeviceInfo, DeviceState, DiagnosticCheck,
    DiagnosticReport, Eye, IrisCamera, IrisCapture, IrisEye, IrisRequest,
};
use tokio::sync::watch;

use crate::eye::{EYE_HEIGHT, EYE_WIDTH, render_eye};

/// The fault "no_eye": nobody looks into the camera.
pub const NO_EYE: FaultSpec = FaultSpec {
    name: "no_eye",
    description: "no eye before the camera: a capture waits for one until faults are cleared \
                  (or the caller gives up)",
};

/// The fault "eyelid_occlusion": the applicant half closes the eyes.
pub const EYELID_OCCLUSION: FaultSpec = FaultSpec {
    name: "eyelid_occlusion",
    description: "the upper eyelids cover most of the irises: eyes are captured with a poor \
                  quality (below 40) until faults are cleared",
};

/// Nominal time of a capture (both eyes at once).
const CAPTURE: Duration = Duration::from_millis(800);
/// Nominal self-test time.
const SELF_TEST: Duration = Duration::from_millis(100);
/// How far the eyelid comes down with [`EYELID_OCCLUSION`].
const OCCLUDED: f32 = 0.8;

struct Inner {
    info: DeviceInfo,
    seed: u64,
    timing: Timing,
    ctl: Arc<SimControl>,
}

/// A simulated iris camera (see the [module docs](self)).
///
/// Cloning gives another handle to the same camera (shared state and faults).
#[derive(Clone)]
pub struct IrisSim {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for IrisSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IrisSim")
            .field("info", &self.inner.info)
            .field("seed", &self.inner.seed)
            .field("timing", &self.inner.timing)
            .finish_non_exhaustive()
    }
}

impl IrisSim {
    /// A ready camera with id `id` whose applicant's eyes follow from `seed`, with nominal
    /// timings scaled by `timing`.
    pub fn new(id: &str, seed: u64, timing: Timing) -> Self {
        let info = DeviceInfo {
            id: id.to_string(),
            class: DeviceClass::Iris,
            vendor: "rekam".into(),
            model: "Simulated two-eye iris camera".into(),
            serial: format!("SIMIRIS-{:010X}", splitmix64(seed ^ 0x1215_0000) >> 24),
            firmware: "1.0.0-sim".into(),
            driver: "sim".into(),
            simulated: true,
        };
        IrisSim {
            inner: Arc::new(Inner {
                info,
                seed,
                timing,
                ctl: Arc::new(SimControl::new(
                    id,
                    vec![DISCONNECT, HARDWARE_ERROR, NO_EYE, EYELID_OCCLUSION],
                )),
            }),
        }
    }
}

/// The quality of an eye whose iris is `visible` (0–1) uncovered: up to 80–92 (by the
/// applicant) for an open eye, falling fast as the lids close.
fn quality(seed: u64, eye: Eye, visible: f32) -> u8 {
    let best = 80.0 + (splitmix64(seed ^ eye as u64 ^ 0x0051) % 13) as f32;
    (best * visible.clamp(0.0, 1.0).powi(2)).round() as u8
}

#[async_trait]
impl Device for IrisSim {
    fn info(&self) -> &DeviceInfo {
        &self.inner.info
    }

    fn watch_state(&self) -> watch::Receiver<DeviceState> {
        self.inner.ctl.state.subscribe()
    }

    async fn self_test(&self) -> DiagnosticReport {
        let started = Instant::now();
        let inner = &self.inner;
        let faults = &inner.ctl.faults;
        inner.timing.sleep(SELF_TEST).await;
        let sensor = if faults.is_active(DISCONNECT.name) {
            DiagnosticCheck::new(
                "sensor",
                CheckOutcome::Fail,
                "no answer on USB: check the cable and the hub, then replug the camera",
            )
        } else if let DeviceState::Error(reason) = inner.ctl.state.get() {
            DiagnosticCheck::new(
                "sensor",
                CheckOutcome::Fail,
                format!("device error: {reason}"),
            )
        } else {
            DiagnosticCheck::new(
                "sensor",
                CheckOutcome::Pass,
                format!("{EYE_WIDTH} x {EYE_HEIGHT} near-infrared images of each eye"),
            )
        };
        DiagnosticReport {
            device_id: inner.info.id.clone(),
            checks: vec![sensor],
            elapsed: started.elapsed(),
        }
    }

    fn simulator(&self) -> Option<&dyn SimulatorControl> {
        Some(self)
    }
}

#[async_trait]
impl IrisCamera for IrisSim {
    async fn capture(&self, eyes: &[Eye], missing: &[Eye]) -> Result<IrisCapture, DeviceError> {
        let request = IrisRequest::new(eyes, missing)?;
        let delay = rekam_core::sim::begin_scripted_call(self);
        let inner = Arc::clone(&self.inner);
        let _op = inner.ctl.begin()?;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        // Nobody before the camera: wait for an eye (cancel-safe: it only waits).
        inner.ctl.wait_while(NO_EYE.name).await?;
        inner.timing.sleep(CAPTURE).await;
        inner.ctl.check()?;
        let occlusion = if inner.ctl.faults.is_active(EYELID_OCCLUSION.name) {
            OCCLUDED
        } else {
            0.0
        };
        let seed = inner.seed;
        let captured = tokio::task::spawn_blocking(move || {
            request
                .capture
                .iter()
                .map(|&eye| {
                    let r = render_eye(seed, eye, occlusion);
                    IrisEye::Captured {
                        eye,
                        image: r.image,
                        quality: quality(seed, eye, r.visible_iris),
                    }
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| DeviceError::Hardware(format!("the simulated sensor failed: {e}")))?;
        let mut out: Vec<IrisEye> = captured
            .into_iter()
            .chain(
                IrisRequest::new(eyes, missing)?
                    .excepted
                    .into_iter()
                    .map(|eye| IrisEye::Excepted { eye }),
            )
            .collect();
        out.sort_by_key(IrisEye::eye);
        Ok(IrisCapture {
            eyes: out,
            captured_at: SystemTime::now(),
        })
    }

    fn image_size(&self) -> Option<(u32, u32)> {
        Some((EYE_WIDTH, EYE_HEIGHT))
    }
}

impl SimulatorControl for IrisSim {
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

    fn sim() -> IrisSim {
        IrisSim::new("iris0", 11, Timing::new(0.0))
    }

    fn captured(e: &IrisEye) -> (Eye, u8, u32, u32) {
        match e {
            IrisEye::Captured {
                eye,
                image,
                quality,
            } => (*eye, *quality, image.width, image.height),
            IrisEye::Excepted { eye } => panic!("{eye:?} excepted"),
        }
    }

    #[tokio::test]
    async fn both_eyes_are_captured_right_then_left_with_a_good_quality() {
        let cam = sim();
        let c = cam.capture(&[Eye::Left, Eye::Right], &[]).await.unwrap();
        assert_eq!(c.eyes.len(), 2);
        let (r, l) = (captured(&c.eyes[0]), captured(&c.eyes[1]));
        assert_eq!((r.0, l.0), (Eye::Right, Eye::Left));
        for (_, q, w, h) in [r, l] {
            assert!((70..=92).contains(&q), "quality {q}");
            assert_eq!((w, h), (EYE_WIDTH, EYE_HEIGHT));
        }
        assert_eq!(cam.state(), DeviceState::Ready);
        // The same applicant gives the same eyes.
        assert_eq!(c.eyes, cam.capture(&Eye::BOTH, &[]).await.unwrap().eyes);
    }

    #[tokio::test]
    async fn a_missing_eye_is_excepted_not_captured() {
        let c = sim().capture(&Eye::BOTH, &[Eye::Left]).await.unwrap();
        assert_eq!(captured(&c.eyes[0]).0, Eye::Right);
        assert_eq!(c.eyes[1], IrisEye::Excepted { eye: Eye::Left });
        let c = sim().capture(&[Eye::Left], &[]).await.unwrap();
        assert_eq!(c.eyes.len(), 1);
        assert_eq!(captured(&c.eyes[0]).0, Eye::Left);
        assert!(matches!(
            sim().capture(&[Eye::Left], &[Eye::Left]).await,
            Err(DeviceError::InvalidArgument(_))
        ));
    }

    #[tokio::test]
    async fn eyelid_occlusion_gives_a_poor_quality_until_cleared() {
        let cam = sim();
        cam.inject("eyelid_occlusion").unwrap();
        let c = cam.capture(&Eye::BOTH, &[]).await.unwrap();
        for e in &c.eyes {
            let q = captured(e).1;
            assert!(q < 40, "quality {q} with the lids half closed");
        }
        SimulatorControl::clear(&cam);
        let c = cam.capture(&Eye::BOTH, &[]).await.unwrap();
        assert!(captured(&c.eyes[0]).1 >= 70);
    }

    #[tokio::test]
    async fn no_eye_makes_the_capture_wait_until_an_eye_is_there() {
        let cam = sim();
        cam.inject("no_eye").unwrap();
        let task = tokio::spawn({
            let cam = cam.clone();
            async move { cam.capture(&Eye::BOTH, &[]).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!task.is_finished(), "captured without an eye");
        assert_eq!(cam.state(), DeviceState::Busy);
        SimulatorControl::clear(&cam);
        let c = task.await.unwrap().unwrap();
        assert_eq!(c.eyes.len(), 2);
        assert_eq!(cam.state(), DeviceState::Ready);
    }

    #[tokio::test]
    async fn a_disconnected_camera_fails_and_a_waiting_capture_stops() {
        let cam = sim();
        cam.inject("no_eye").unwrap();
        let task = tokio::spawn({
            let cam = cam.clone();
            async move { cam.capture(&Eye::BOTH, &[]).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        cam.inject("disconnect").unwrap();
        assert!(matches!(
            task.await.unwrap(),
            Err(DeviceError::Disconnected { .. })
        ));
        assert_eq!(cam.state(), DeviceState::Disconnected);
        assert!(matches!(
            cam.capture(&Eye::BOTH, &[]).await,
            Err(DeviceError::Disconnected { .. })
        ));
        let report = cam.self_test().await;
        assert_eq!(report.checks[0].outcome, CheckOutcome::Fail);
        SimulatorControl::clear(&cam);
        assert!(cam.capture(&Eye::BOTH, &[]).await.is_ok());
    }

    #[tokio::test]
    async fn a_hardware_error_fails_the_capture() {
        let cam = sim();
        cam.inject("hardware_error").unwrap();
        assert!(matches!(
            cam.capture(&Eye::BOTH, &[]).await,
            Err(DeviceError::Hardware(_))
        ));
    }

    #[tokio::test]
    async fn the_driver_opens_iris_sim_only() {
        use rekam_core::{DriverFactory, OpenOptions, Selector};
        let opts = OpenOptions::new("iris0").with_seed(3);
        let d = crate::IRIS_SIM_DRIVER
            .open(&"iris:sim".parse::<Selector>().unwrap(), &opts)
            .unwrap();
        assert_eq!(d.info().class, DeviceClass::Iris);
        assert!(matches!(d, rekam_core::AnyDevice::Iris(_)));
        assert!(
            crate::IRIS_SIM_DRIVER
                .open(&"iris:sim:/dev/x".parse::<Selector>().unwrap(), &opts)
                .is_err()
        );
    }
}
