//! This crate's drivers as [`rekam_core::DriverFactory`]s, for the daemon's driver table (one
//! line per driver there). Today: the simulator, [`CAMERA_SIM_DRIVER`] (`camera:sim`).

use std::sync::Arc;

use rekam_core::sim::SimDriver;
use rekam_core::{AnyDevice, DeviceClass};

use crate::sim::CameraSim;

/// The driver `camera:sim`: opens a [`CameraSim`] with the options' id, seed and timings
/// (see [`SimDriver`]).
pub const CAMERA_SIM_DRIVER: SimDriver = SimDriver {
    class: DeviceClass::Camera,
    description: "simulated face camera",
    sees: "one simulated face camera (1600x1200 stills, 640x480 JPEG preview)",
    open: |o| AnyDevice::Camera(Arc::new(CameraSim::new(&o.id, o.seed, o.timing))),
};
