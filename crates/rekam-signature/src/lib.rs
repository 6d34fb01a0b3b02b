//! Signature pad drivers for rekam, the KTP-el enrollment station daemon, and the rendering
//! of captured signatures. Each driver implements [`rekam_core::SignaturePad`]: it streams
//! pen samples while the applicant signs and keeps the ink until it is taken or cleared.
//!
//! Today the crate holds the simulator, [`SignatureSim`] (see [`sim`]), and
//! [`render_png`], which turns pen samples into the black-on-white PNG that goes on the
//! card and into the enrollment record. Real drivers come in later issues and go beside
//! the simulator as their own modules (the ISDV4 serial pad in `isdv4.rs`), opened by the
//! daemon from a selector such as `signature:isdv4:/dev/ttyS0` through each driver's
//! [`rekam_core::DriverFactory`], one line in its driver table: [`SIGNATURE_SIM_DRIVER`]
//! (`signature:sim`) for the simulator.

mod driver;
mod render;
pub mod sim;

pub use driver::SIGNATURE_SIM_DRIVER;
pub use render::{MAX_WIDTH_PX, RenderError, render_png};
pub use sim::{GEOMETRY, PEN_MISSING, PRESSURE_LEVELS, SAMPLE_RATE_HZ, SignatureSim};
