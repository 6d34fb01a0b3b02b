//! Face camera drivers for rekam, the KTP-el enrollment station daemon. Each driver
//! implements [`rekam_core::Camera`]: a live JPEG preview for the operator's screen and
//! full-resolution stills for the portrait.
//!
//! Today the crate holds the simulator, [`CameraSim`]: a deterministic camera that films a
//! synthetic face from `rekam-synth`, with realistic timings and injectable faults (see
//! [`sim`]). Real drivers come in later issues and go beside it as their own modules (V4L2
//! webcams in `v4l2.rs`, PTP cameras over USB in `ptp.rs`), together with the preview
//! fan-out that lets several clients watch one camera; the daemon opens them from a
//! selector such as `camera:sim` or `camera:v4l2:/dev/video0` through each driver's
//! [`rekam_core::DriverFactory`], one line in its driver table: [`CAMERA_SIM_DRIVER`] for the
//! simulator.

mod driver;
pub mod sim;

pub use driver::CAMERA_SIM_DRIVER;
pub use sim::{CameraSim, LENS_COVERED};
