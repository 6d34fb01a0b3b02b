//! This crate's drivers as [`rekam_core::DriverFactory`]s, for the daemon's driver table (one
//! line per driver there). Today: the simulator, [`ENCODER_SIM_DRIVER`] (`encoder:sim`).

use std::sync::Arc;

use rekam_core::sim::SimDriver;
use rekam_core::{AnyDevice, DeviceClass};

use crate::sim::EncoderSim;

/// The driver `encoder:sim`: opens a [`EncoderSim`] with the options' id, seed and timings
/// (see [`SimDriver`]).
pub const ENCODER_SIM_DRIVER: SimDriver = SimDriver {
    class: DeviceClass::ChipEncoder,
    description: "simulated contactless reader and chip",
    sees: "one simulated contactless reader with a blank chip in its field",
    open: |o| AnyDevice::Encoder(Arc::new(EncoderSim::new(&o.id, o.seed, o.timing))),
};
