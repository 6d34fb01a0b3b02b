//! This crate's drivers as [`rekam_core::DriverFactory`]s, for the daemon's driver table (one
//! line per driver there). Today: the simulator, [`FINGERPRINT_SIM_DRIVER`] (`fingerprint:sim`).

use std::sync::Arc;

use rekam_core::sim::SimDriver;
use rekam_core::{AnyDevice, DeviceClass};

use crate::sim::FingerprintSim;

/// The driver `fingerprint:sim`: opens a [`FingerprintSim`] with the options' id, seed and timings
/// (see [`SimDriver`]).
pub const FINGERPRINT_SIM_DRIVER: SimDriver = SimDriver {
    class: DeviceClass::FingerprintScanner,
    description: "simulated 500 ppi 4-4-2 fingerprint scanner",
    sees: "one simulated 500 ppi 4-4-2 scanner (slaps and single fingers, live preview)",
    open: |o| AnyDevice::Fingerprint(Arc::new(FingerprintSim::new(&o.id, o.seed, o.timing))),
};
