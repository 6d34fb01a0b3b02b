//! This crate's drivers as [`rekam_core::DriverFactory`]s, for the daemon's driver table (one
//! line per driver there). Today: the simulator, [`PRINTER_SIM_DRIVER`] (`printer:sim`).

use std::sync::Arc;

use rekam_core::sim::SimDriver;
use rekam_core::{AnyDevice, DeviceClass};

use crate::sim::PrinterSim;

/// The driver `printer:sim`: opens a [`PrinterSim`] with the options' id, seed and timings
/// (see [`SimDriver`]).
pub const PRINTER_SIM_DRIVER: SimDriver = SimDriver {
    class: DeviceClass::CardPrinter,
    description: "simulated dye-sublimation CR-80 card printer",
    sees: "one simulated CR-80 printer (YMCKO ribbon, two-sided)",
    open: |o| AnyDevice::Printer(Arc::new(PrinterSim::new(&o.id, o.seed, o.timing))),
};
