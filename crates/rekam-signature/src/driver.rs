//! This crate's drivers as [`rekam_core::DriverFactory`]s, for the daemon's driver table (one
//! line per driver there). Today: the simulator, [`SIGNATURE_SIM_DRIVER`] (`signature:sim`).

use std::sync::Arc;

use rekam_core::sim::SimDriver;
use rekam_core::{AnyDevice, DeviceClass};

use crate::sim::SignatureSim;

/// The driver `signature:sim`: opens a [`SignatureSim`] with the options' id, seed and timings
/// (see [`SimDriver`]).
pub const SIGNATURE_SIM_DRIVER: SimDriver = SimDriver {
    class: DeviceClass::SignaturePad,
    description: "simulated signature pad",
    sees: "one simulated 100 x 50 mm signature pad (1024 pressure levels)",
    open: |o| AnyDevice::Signature(Arc::new(SignatureSim::new(&o.id, o.seed, o.timing))),
};
