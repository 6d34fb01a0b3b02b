//! What every simulator shares: timings that scale (to zero for tests), a set of
//! injectable faults, a state cell with a busy guard, and the selector rules of the
//! simulator drivers ([`sim_available`], [`check_sim_selector`]).
//!
//! Simulators are public and live beside the real drivers, behind the same traits, so
//! that CI and technicians can run the whole station without hardware and make any
//! fault the API can report happen on demand. A scenario scripts them over time
//! ([`Script`]: the faults and latency of each call, by its number).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use crate::device::{DeviceClass, DeviceState};
use crate::driver::{Available, Selector};
use crate::error::DeviceError;
pub use crate::script::{
    CallPlan, Script, ScriptRule, ScriptSlot, ScriptStatus, attach_script, begin_scripted_call,
    check_faults, detach_script, scripted_call,
};

/// The driver name of every simulator.
pub const SIM_DRIVER: &str = "sim";

/// What a simulator driver of `class` sees: its one simulated device, opened by the
/// selector without address (`printer:sim`).
pub fn sim_available(class: DeviceClass, description: &str) -> Vec<Available> {
    vec![Available {
        selector: Selector::new(class, SIM_DRIVER),
        description: description.to_string(),
    }]
}

/// Checks the selector a simulator driver is asked to open. A simulator has one device, at
/// no address; a selector with an address names a device the simulator does not have and
/// fails with [`DeviceError::NotFound`], as a real driver fails on a port that is not
/// there (which is how a configuration simulates a device that cannot be opened).
pub fn check_sim_selector(selector: &Selector) -> Result<(), DeviceError> {
    match &selector.address {
        None => Ok(()),
        Some(a) => Err(DeviceError::NotFound(format!(
            "the {} simulator has no device at {a:?}; its one device is {}",
            selector.class.short_name(),
            Selector::new(selector.class, SIM_DRIVER)
        ))),
    }
}

/// The driver of a simulator (`<class>:sim`): it sees one simulated device, at the selector
/// without address, and opens it with the options' id, seed and timings; any address fails
/// with [`DeviceError::NotFound`] ([`check_sim_selector`]). Each simulator crate declares
/// one as a constant, one line in the daemon's driver table.
#[derive(Clone, Copy)]
pub struct SimDriver {
    /// The device class.
    pub class: DeviceClass,
    /// What the driver is, e.g. "simulated face camera".
    pub description: &'static str,
    /// What it sees, e.g. "one simulated face camera (1600x1200 stills)".
    pub sees: &'static str,
    /// Opens the simulator.
    pub open: fn(&crate::driver::OpenOptions) -> crate::registry::AnyDevice,
}

impl std::fmt::Debug for SimDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDriver")
            .field("class", &self.class)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

impl crate::driver::DriverFactory for SimDriver {
    fn class(&self) -> DeviceClass {
        self.class
    }

    fn name(&self) -> &'static str {
        SIM_DRIVER
    }

    fn description(&self) -> &'static str {
        self.description
    }

    fn simulated(&self) -> bool {
        true
    }

    fn list(&self) -> Result<Vec<Available>, DeviceError> {
        Ok(sim_available(self.class, self.sees))
    }

    fn open(
        &self,
        selector: &Selector,
        options: &crate::driver::OpenOptions,
    ) -> Result<crate::registry::AnyDevice, DeviceError> {
        check_sim_selector(selector)?;
        if let Some(name) = options.params.keys().next() {
            return Err(DeviceError::InvalidArgument(format!(
                "the {} simulator takes no options (got {name:?})",
                selector.class.short_name()
            )));
        }
        Ok((self.open)(options))
    }
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash step, for deriving the many seeds of
/// a simulator (serial numbers, impressions, noise) from its one seed.
pub fn splitmix64(z: u64) -> u64 {
    let z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A fault a simulator can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultSpec {
    /// Its name, e.g. "ribbon_out".
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
}

/// The fault "disconnect", which every device simulator offers.
pub const DISCONNECT: FaultSpec = FaultSpec {
    name: "disconnect",
    description: "unplug the device: it reports DISCONNECTED until faults are cleared",
};

/// The fault "hardware_error", which every device simulator offers.
pub const HARDWARE_ERROR: FaultSpec = FaultSpec {
    name: "hardware_error",
    description: "the device reports an internal error and fails its self-test",
};

/// Fault injection on a simulator (a device or a simulated service).
pub trait SimulatorControl: Send + Sync {
    /// The faults it can inject.
    fn faults(&self) -> Vec<FaultSpec>;
    /// The faults active now.
    fn active_faults(&self) -> Vec<String>;
    /// Injects a fault; [`DeviceError::InvalidArgument`] for an unknown name.
    fn inject(&self, fault: &str) -> Result<(), DeviceError>;
    /// Clears every fault and returns to ready.
    fn clear(&self);
    /// Where the simulator keeps a scenario's script ([`crate::script`]); `None` (the
    /// default) for a simulator that cannot be scripted.
    fn script_slot(&self) -> Option<&ScriptSlot> {
        None
    }
}

/// Simulated time: nominal durations multiplied by a scale (0 = instant).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    scale: f64,
}

impl Timing {
    /// Real-time timings.
    pub const REAL: Timing = Timing { scale: 1.0 };
    /// No waiting at all, for tests and benchmarks.
    pub const INSTANT: Timing = Timing { scale: 0.0 };

    /// Timings scaled by `scale` (negative or NaN counts as 0).
    pub fn new(scale: f64) -> Self {
        Timing {
            scale: if scale.is_finite() && scale > 0.0 {
                scale
            } else {
                0.0
            },
        }
    }

    /// The scale.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// A nominal duration, scaled.
    pub fn scaled(&self, nominal: Duration) -> Duration {
        nominal.mul_f64(self.scale)
    }

    /// Sleeps for a nominal duration, scaled; yields once even when instant so that a
    /// loop of simulated steps stays cancellable.
    pub async fn sleep(&self, nominal: Duration) {
        let d = self.scaled(nominal);
        if d.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(d).await;
        }
    }
}

/// A set of injectable faults with their specs.
#[derive(Debug)]
pub struct FaultSet {
    specs: Vec<FaultSpec>,
    active: Mutex<BTreeSet<&'static str>>,
    script: ScriptSlot,
}

impl FaultSet {
    /// A fault set offering these faults.
    pub fn new(specs: Vec<FaultSpec>) -> Self {
        FaultSet {
            specs,
            active: Mutex::new(BTreeSet::new()),
            script: ScriptSlot::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<&'static str>> {
        // A panic while holding this lock cannot leave the set inconsistent.
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The specs.
    pub fn specs(&self) -> Vec<FaultSpec> {
        self.specs.clone()
    }

    /// Activates a fault by name.
    pub fn inject(&self, name: &str) -> Result<(), DeviceError> {
        let spec = self.specs.iter().find(|s| s.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.specs.iter().map(|s| s.name).collect();
            DeviceError::InvalidArgument(format!(
                "unknown fault {name:?}; this simulator has: {}",
                known.join(", ")
            ))
        })?;
        self.lock().insert(spec.name);
        Ok(())
    }

    /// True while the fault is active.
    pub fn is_active(&self, name: &str) -> bool {
        self.lock().contains(name)
    }

    /// Deactivates a fault, returning whether it was active (for one-shot faults).
    pub fn take(&self, name: &str) -> bool {
        self.lock().remove(name)
    }

    /// The active faults' names.
    pub fn active(&self) -> Vec<String> {
        self.lock().iter().map(|s| s.to_string()).collect()
    }

    /// Clears every fault.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Where a scenario's script for this simulator is kept: a simulator whose faults are
    /// this set returns it from [`SimulatorControl::script_slot`].
    pub fn script(&self) -> &ScriptSlot {
        &self.script
    }
}

/// A fault set alone is the whole control of a simulator without device state (a
/// simulated remote service, for instance).
impl SimulatorControl for FaultSet {
    fn faults(&self) -> Vec<FaultSpec> {
        self.specs()
    }
    fn active_faults(&self) -> Vec<String> {
        self.active()
    }
    fn inject(&self, fault: &str) -> Result<(), DeviceError> {
        FaultSet::inject(self, fault)
    }
    fn clear(&self) {
        FaultSet::clear(self)
    }
    fn script_slot(&self) -> Option<&ScriptSlot> {
        Some(&self.script)
    }
}

/// A device's state, observable through a watch channel, with a busy guard.
#[derive(Debug, Clone)]
pub struct StateCell {
    device_id: Arc<str>,
    tx: Arc<watch::Sender<DeviceState>>,
}

impl StateCell {
    /// A ready device.
    pub fn new(device_id: &str) -> Self {
        StateCell {
            device_id: device_id.into(),
            tx: Arc::new(watch::Sender::new(DeviceState::Ready)),
        }
    }

    /// The state now.
    pub fn get(&self) -> DeviceState {
        self.tx.borrow().clone()
    }

    /// Sets the state (observers see it only if it changed).
    pub fn set(&self, state: DeviceState) {
        self.tx.send_if_modified(|s| {
            if *s == state {
                false
            } else {
                *s = state;
                true
            }
        });
    }

    /// A receiver of state changes.
    pub fn subscribe(&self) -> watch::Receiver<DeviceState> {
        self.tx.subscribe()
    }

    /// The error that the current state implies for a new operation, if any.
    pub fn check_usable(&self) -> Result<(), DeviceError> {
        match self.get() {
            DeviceState::Ready => Ok(()),
            DeviceState::Busy => Err(DeviceError::Busy(self.device_id.to_string())),
            DeviceState::Disconnected => Err(DeviceError::Disconnected {
                device: self.device_id.to_string(),
            }),
            DeviceState::Error(reason) => Err(DeviceError::Hardware(reason)),
        }
    }

    /// Marks the device busy for the guard's lifetime. Fails if it is not ready. When the
    /// guard drops (the operation ended or was cancelled) a busy device is ready again.
    pub fn busy(&self) -> Result<BusyGuard, DeviceError> {
        let mut result = Ok(());
        self.tx.send_if_modified(|s| match s {
            DeviceState::Ready => {
                *s = DeviceState::Busy;
                true
            }
            DeviceState::Busy => {
                result = Err(DeviceError::Busy(self.device_id.to_string()));
                false
            }
            DeviceState::Disconnected => {
                result = Err(DeviceError::Disconnected {
                    device: self.device_id.to_string(),
                });
                false
            }
            DeviceState::Error(reason) => {
                result = Err(DeviceError::Hardware(reason.clone()));
                false
            }
        });
        result.map(|()| BusyGuard { cell: self.clone() })
    }
}

/// Holds a device busy; see [`StateCell::busy`].
#[derive(Debug)]
pub struct BusyGuard {
    cell: StateCell,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.cell.tx.send_if_modified(|s| {
            if *s == DeviceState::Busy {
                *s = DeviceState::Ready;
                true
            } else {
                false
            }
        });
    }
}

/// The common faults ("disconnect", "hardware_error") applied to a state cell: call from
/// a simulator's `inject` after the fault set accepted the name.
pub fn apply_common_fault(cell: &StateCell, fault: &str) {
    match fault {
        "disconnect" => cell.set(DeviceState::Disconnected),
        "hardware_error" => cell.set(DeviceState::Error(
            "internal error reported by the device (simulated)".into(),
        )),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// The bookkeeping every device simulator shares: state, faults and running operations.

/// The state cell, the fault set and a generation counter that wakes operations waiting on
/// a fault (such as "no_finger") whenever the faults change.
#[derive(Debug)]
pub struct SimControl {
    device_id: String,
    /// The device's state.
    pub state: StateCell,
    /// The injectable faults.
    pub faults: FaultSet,
    generation: watch::Sender<u64>,
    /// True while an operation holds the device busy. `clear` reads it so that clearing
    /// faults during an operation leaves the device Busy, not Ready.
    op_active: Mutex<bool>,
}

/// Held by a running operation: the device is Busy until it drops.
#[derive(Debug)]
pub struct OpGuard {
    ctl: Arc<SimControl>,
    busy: Option<BusyGuard>,
}

impl Drop for OpGuard {
    fn drop(&mut self) {
        let mut active = self.ctl.lock_op();
        *active = false;
        // Dropped under the lock so that `clear` never sees a stale flag.
        self.busy.take();
    }
}

impl SimControl {
    /// A ready device offering these faults.
    pub fn new(device_id: &str, specs: Vec<FaultSpec>) -> Self {
        SimControl {
            device_id: device_id.to_string(),
            state: StateCell::new(device_id),
            faults: FaultSet::new(specs),
            generation: watch::Sender::new(0),
            op_active: Mutex::new(false),
        }
    }

    fn lock_op(&self) -> MutexGuard<'_, bool> {
        // The flag is a plain bool: a panic while holding the lock cannot corrupt it.
        self.op_active.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts an operation: the device must be Ready, and is Busy until the guard drops.
    pub fn begin(self: &Arc<Self>) -> Result<OpGuard, DeviceError> {
        let mut active = self.lock_op();
        let busy = self.state.busy()?;
        *active = true;
        drop(active);
        Ok(OpGuard {
            ctl: Arc::clone(self),
            busy: Some(busy),
        })
    }

    /// Injects a fault by name.
    pub fn inject(&self, fault: &str) -> Result<(), DeviceError> {
        self.faults.inject(fault)?;
        apply_common_fault(&self.state, fault);
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
        Ok(())
    }

    /// Clears every fault; the device is Ready again (Busy if an operation is running).
    pub fn clear(&self) {
        let active = self.lock_op();
        self.faults.clear();
        self.state.set(if *active {
            DeviceState::Busy
        } else {
            DeviceState::Ready
        });
        drop(active);
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// The error a running operation must stop with, if a common fault is active.
    pub fn check(&self) -> Result<(), DeviceError> {
        if self.faults.is_active("disconnect") {
            return Err(DeviceError::Disconnected {
                device: self.device_id.clone(),
            });
        }
        if self.faults.is_active("hardware_error") {
            return Err(match self.state.get() {
                DeviceState::Error(reason) => DeviceError::Hardware(reason),
                _ => DeviceError::Hardware("internal error reported by the device".into()),
            });
        }
        Ok(())
    }

    /// Waits while `fault` is active (woken by every fault change), failing as soon as a
    /// common fault appears. Cancel-safe: it only waits.
    pub async fn wait_while(&self, fault: &str) -> Result<(), DeviceError> {
        let mut rx = self.generation.subscribe();
        loop {
            self.check()?;
            if !self.faults.is_active(fault) {
                return Ok(());
            }
            if rx.changed().await.is_err() {
                // The sender lives as long as `self`: this cannot happen.
                return Err(DeviceError::Cancelled);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_guard_restores_ready_and_refuses_a_second_user() {
        let cell = StateCell::new("x0");
        let g = cell.busy().unwrap();
        assert_eq!(cell.get(), DeviceState::Busy);
        assert!(matches!(cell.busy(), Err(DeviceError::Busy(_))));
        drop(g);
        assert_eq!(cell.get(), DeviceState::Ready);
    }

    #[test]
    fn a_disconnect_during_an_operation_survives_the_guard() {
        let cell = StateCell::new("x0");
        let g = cell.busy().unwrap();
        apply_common_fault(&cell, "disconnect");
        drop(g);
        assert_eq!(cell.get(), DeviceState::Disconnected);
        assert!(matches!(cell.busy(), Err(DeviceError::Disconnected { .. })));
    }

    #[test]
    fn fault_set_rejects_unknown_names_and_takes_one_shots() {
        let f = FaultSet::new(vec![DISCONNECT, HARDWARE_ERROR]);
        assert!(matches!(
            f.inject("nope"),
            Err(DeviceError::InvalidArgument(_))
        ));
        f.inject("disconnect").unwrap();
        assert!(f.is_active("disconnect"));
        assert!(f.take("disconnect"));
        assert!(!f.take("disconnect"));
    }

    #[test]
    fn timing_scales_and_clamps() {
        assert_eq!(
            Timing::new(0.5).scaled(Duration::from_millis(100)),
            Duration::from_millis(50)
        );
        assert_eq!(Timing::new(-1.0).scale(), 0.0);
        assert_eq!(Timing::new(f64::NAN).scale(), 0.0);
    }
}
