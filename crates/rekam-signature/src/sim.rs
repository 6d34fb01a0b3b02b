//! The simulated signature pad.
//!
//! Each [`SignaturePad::sign`] plays back a handwritten-looking pen trace from
//! `rekam_synth::render_signature_trace`, seeded with the simulator's seed plus the number
//! of signatures made so far, at 200 samples per second in (scaled) real time. The samples
//! become the pad's ink: a new signature replaces the old ink, and a signature cut short
//! (the stream dropped) leaves the samples written so far.
//!
//! Faults: `disconnect`, `hardware_error` (common to every simulator) and `pen_missing`
//! ([`PEN_MISSING`]).

use rekam_core::sim::splitmix64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use rekam_core::sim::{DISCONNECT, FaultSpec, HARDWARE_ERROR, SimulatorControl, Timing};
use rekam_core::{
    CheckOutcome, Device, DeviceClass, DeviceError, DeviceInfo, DeviceState, DiagnosticCheck,
    DiagnosticReport, PadGeometry, PenSample, SignaturePad,
};
use tokio::sync::watch;

use rekam_core::sim::{OpGuard, SimControl};

/// The fault "pen_missing": the pad does not detect its pen.
pub const PEN_MISSING: FaultSpec = FaultSpec {
    name: "pen_missing",
    description: "the pad does not detect its pen (unplugged tether, flat battery): \
                  signing fails until faults are cleared",
};

/// The simulated pad's writing area: 100 x 50 mm at 20 units per millimetre.
pub const GEOMETRY: PadGeometry = PadGeometry {
    width: 2000.0,
    height: 1000.0,
    units_per_mm: 20.0,
};

/// Pen samples per second (nominal).
pub const SAMPLE_RATE_HZ: u32 = 200;

/// Distinct pressure levels the pen reports (0 = pen up, then 1023 steps to full force),
/// as the 10-bit pens of common pads.
pub const PRESSURE_LEVELS: u32 = 1024;

/// A pressure 0..1 as the pen reports it: on one of [`PRESSURE_LEVELS`] steps, and never
/// rounded down to "pen up" while it touches the pad.
fn quantise_pressure(p: f32) -> f32 {
    let top = (PRESSURE_LEVELS - 1) as f32;
    if p <= 0.0 {
        0.0
    } else {
        (p.min(1.0) * top).round().max(1.0) / top
    }
}

/// Nominal self-test time.
const SELF_TEST: Duration = Duration::from_millis(100);

fn pen_error() -> DeviceError {
    DeviceError::Hardware(
        "the pad does not detect its pen: check that the pen's tether is plugged in (or its \
         battery is charged) and hold the pen on the pad, then retry"
            .into(),
    )
}

struct Inner {
    info: DeviceInfo,
    seed: u64,
    timing: Timing,
    ctl: Arc<SimControl>,
    signatures: AtomicU64,
    ink: Mutex<Vec<PenSample>>,
}

impl Inner {
    fn ink(&self) -> MutexGuard<'_, Vec<PenSample>> {
        // A vector of plain samples: a panic while holding the lock cannot corrupt it.
        self.ink.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A simulated signature pad (see the [module docs](self)).
///
/// Cloning gives another handle to the same pad (shared state, faults and ink).
#[derive(Clone)]
pub struct SignatureSim {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SignatureSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureSim")
            .field("info", &self.inner.info)
            .field("seed", &self.inner.seed)
            .field("timing", &self.inner.timing)
            .finish_non_exhaustive()
    }
}

impl SignatureSim {
    /// A ready pad with id `id` whose signatures follow from `seed`, with nominal timings
    /// scaled by `timing`.
    pub fn new(id: &str, seed: u64, timing: Timing) -> Self {
        let info = DeviceInfo {
            id: id.to_string(),
            class: DeviceClass::SignaturePad,
            vendor: "rekam".into(),
            model: "Simulated 100 x 50 mm signature pad".into(),
            serial: format!("SIMSIG-{:010X}", splitmix64(seed ^ 0x5169_0000) >> 24),
            firmware: "1.0.0-sim".into(),
            driver: "sim".into(),
            simulated: true,
        };
        SignatureSim {
            inner: Arc::new(Inner {
                info,
                seed,
                timing,
                ctl: Arc::new(SimControl::new(
                    id,
                    vec![DISCONNECT, HARDWARE_ERROR, PEN_MISSING],
                )),
                signatures: AtomicU64::new(0),
                ink: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The number of signatures started so far (each is seeded with seed + this count).
    pub fn signatures_started(&self) -> u64 {
        self.inner.signatures.load(Ordering::Relaxed)
    }
}

/// A signature being played back.
struct Signing {
    inner: Arc<Inner>,
    trace: std::vec::IntoIter<rekam_synth::PenPoint>,
    start: Option<tokio::time::Instant>,
    done: bool,
    /// Holds the pad busy until the stream ends or is dropped.
    _op: OpGuard,
}

impl Signing {
    async fn next_sample(&mut self) -> Option<Result<PenSample, DeviceError>> {
        let p = self.trace.next()?;
        let start = *self.start.get_or_insert_with(tokio::time::Instant::now);
        let due = self
            .inner
            .timing
            .scaled(Duration::from_millis(u64::from(p.t_ms)));
        if due.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep_until(start + due).await;
        }
        if let Err(e) = self.inner.ctl.check() {
            return Some(Err(e));
        }
        if self.inner.ctl.faults.is_active(PEN_MISSING.name) {
            return Some(Err(pen_error()));
        }
        let sample = PenSample {
            x: p.x,
            y: p.y,
            pressure: quantise_pressure(p.pressure),
            t_ms: p.t_ms,
        };
        self.inner.ink().push(sample);
        Some(Ok(sample))
    }
}

#[async_trait]
impl Device for SignatureSim {
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
        let mut checks = Vec::new();
        checks.push(if faults.is_active(DISCONNECT.name) {
            DiagnosticCheck::new(
                "digitizer",
                CheckOutcome::Fail,
                "no answer: the pad does not respond",
            )
        } else if let DeviceState::Error(reason) = inner.ctl.state.get() {
            DiagnosticCheck::new(
                "digitizer",
                CheckOutcome::Fail,
                format!("device error: {reason}"),
            )
        } else {
            DiagnosticCheck::new(
                "digitizer",
                CheckOutcome::Pass,
                format!(
                    "{:.0} x {:.0} units at {} units/mm, {} samples/s",
                    GEOMETRY.width, GEOMETRY.height, GEOMETRY.units_per_mm, SAMPLE_RATE_HZ
                ),
            )
        });
        checks.push(if faults.is_active(DISCONNECT.name) {
            DiagnosticCheck::new("pen", CheckOutcome::Fail, "pen state unknown: no answer")
        } else if faults.is_active(PEN_MISSING.name) {
            DiagnosticCheck::new("pen", CheckOutcome::Fail, pen_error().to_string())
        } else {
            DiagnosticCheck::new("pen", CheckOutcome::Pass, "pen detected")
        });
        checks.push(if faults.is_active(DISCONNECT.name) {
            DiagnosticCheck::new(
                "usb",
                CheckOutcome::Fail,
                "no answer on USB: check the cable and the hub, then replug the pad",
            )
        } else {
            DiagnosticCheck::new("usb", CheckOutcome::Pass, "connected")
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

#[async_trait]
impl SignaturePad for SignatureSim {
    fn geometry(&self) -> PadGeometry {
        GEOMETRY
    }

    fn pressure_levels(&self) -> u32 {
        PRESSURE_LEVELS
    }

    fn sample_rate_hz(&self) -> u32 {
        SAMPLE_RATE_HZ
    }

    fn sign(&self) -> BoxStream<'static, Result<PenSample, DeviceError>> {
        let delay = rekam_core::sim::begin_scripted_call(self);
        let inner = Arc::clone(&self.inner);
        let op = match inner.ctl.begin() {
            Ok(op) => op,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        if inner.ctl.faults.is_active(PEN_MISSING.name) {
            drop(op);
            return futures::stream::once(async { Err(pen_error()) }).boxed();
        }
        let n = inner.signatures.fetch_add(1, Ordering::Relaxed);
        let trace = rekam_synth::render_signature_trace(
            inner.seed.wrapping_add(n),
            GEOMETRY.width,
            GEOMETRY.height,
            SAMPLE_RATE_HZ,
        );
        inner.ink().clear();
        let state = Signing {
            inner,
            trace: trace.into_iter(),
            start: None,
            done: false,
            _op: op,
        };
        futures::stream::unfold(state, move |mut st| async move {
            if st.done {
                return None;
            }
            if st.start.is_none() && !delay.is_zero() {
                // A scenario's latency for this call, before the pen's first sample.
                tokio::time::sleep(delay).await;
            }
            let item = st.next_sample().await?;
            st.done = item.is_err();
            Some((item, st))
        })
        .boxed()
    }

    async fn clear(&self) -> Result<(), DeviceError> {
        self.inner.ctl.state.check_usable()?;
        self.inner.ink().clear();
        Ok(())
    }

    async fn take(&self) -> Result<Vec<PenSample>, DeviceError> {
        self.inner.ctl.state.check_usable()?;
        let mut ink = self.inner.ink();
        if !ink.iter().any(|s| s.pressure > 0.0) {
            return Err(DeviceError::NoInk);
        }
        Ok(std::mem::take(&mut *ink))
    }
}

impl SimulatorControl for SignatureSim {
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
