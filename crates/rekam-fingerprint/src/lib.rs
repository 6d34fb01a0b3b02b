//! Fingerprint scanner drivers for rekam, the KTP-el enrollment station daemon. Each driver
//! implements [`rekam_core::FingerprintScanner`]: flat four-finger slaps, the two-thumb slap
//! and single flat fingers at 500 ppi, with a live preview.
//!
//! Today the crate holds the simulator, [`FingerprintSim`]: a deterministic 4-4-2 scanner
//! whose prints come from `rekam-synth`, with realistic timings and injectable faults (see
//! [`sim`]). Real drivers come in later issues and go beside it as their own modules (the
//! R30x serial driver in `r30x.rs`, USB slap scanners in their own modules), each behind
//! the same trait and opened by the daemon from a selector such as
//! `fingerprint:r30x:/dev/ttyUSB0`. Each driver has its [`rekam_core::DriverFactory`]
//! here, one line in the daemon's driver table: [`FINGERPRINT_SIM_DRIVER`] (`fingerprint:sim`)
//! for the simulator.

mod driver;
pub mod sim;

pub use driver::FINGERPRINT_SIM_DRIVER;
pub use sim::{FingerprintSim, NO_FINGER, POOR_QUALITY, WRONG_HAND};
