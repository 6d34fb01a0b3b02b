//! This crate's drivers as [`rekam_core::DriverFactory`]s, for the daemon's driver table (one
//! line per driver there). Today: the simulator, [`IRIS_SIM_DRIVER`] (`iris:sim`).

use std::sync::Arc;

use rekam_core::sim::SimDriver;
use rekam_core::{AnyDevice, DeviceClass};

use crate::sim::IrisSim;

/// The driver `iris:sim`: opens an [`IrisSim`] with the options' id, seed and timings (see
/// [`SimDriver`]).
pub const IRIS_SIM_DRIVER: SimDriver = SimDriver {
    class: DeviceClass::Iris,
    description: "simulated iris camera",
    sees: "one simulated two-eye iris camera (640 x 480 images of each eye)",
    open: |o| AnyDevice::Iris(Arc::new(IrisSim::new(&o.id, o.seed, o.timing))),
};
