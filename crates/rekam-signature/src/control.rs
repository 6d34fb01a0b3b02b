//! Fault and state bookkeeping shared by the simulator's operations (the same as in the
//! other device crates' simulators).

use std::sync::{Arc, Mutex, MutexGuard};

use rekam_core::DeviceError;
use rekam_core::DeviceState;
use rekam_core::sim::{BusyGuard, FaultSet, FaultSpec, StateCell, apply_common_fault};

/// The state cell and the fault set of a simulator.
#[derive(Debug)]
pub(crate) struct SimControl {
    device_id: String,
    pub(crate) state: StateCell,
    pub(crate) faults: FaultSet,
    /// True while an operation holds the device busy. `clear` reads it so that clearing
    /// faults during an operation leaves the device Busy, not Ready.
    op_active: Mutex<bool>,
}

/// Held by a running operation: the device is Busy until it drops.
#[derive(Debug)]
pub(crate) struct OpGuard {
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
    pub(crate) fn new(device_id: &str, specs: Vec<FaultSpec>) -> Self {
        SimControl {
            device_id: device_id.to_string(),
            state: StateCell::new(device_id),
            faults: FaultSet::new(specs),
            op_active: Mutex::new(false),
        }
    }

    fn lock_op(&self) -> MutexGuard<'_, bool> {
        // The flag is a plain bool: a panic while holding the lock cannot corrupt it.
        self.op_active.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts an operation: the device must be Ready, and is Busy until the guard drops.
    pub(crate) fn begin(self: &Arc<Self>) -> Result<OpGuard, DeviceError> {
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
    pub(crate) fn inject(&self, fault: &str) -> Result<(), DeviceError> {
        self.faults.inject(fault)?;
        apply_common_fault(&self.state, fault);
        Ok(())
    }

    /// Clears every fault; the device is Ready again (Busy if an operation is running).
    pub(crate) fn clear(&self) {
        let active = self.lock_op();
        self.faults.clear();
        self.state.set(if *active {
            DeviceState::Busy
        } else {
            DeviceState::Ready
        });
    }

    /// The error a running operation must stop with, if a common fault is active.
    pub(crate) fn check(&self) -> Result<(), DeviceError> {
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
}
