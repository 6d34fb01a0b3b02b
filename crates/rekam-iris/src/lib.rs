//! Iris camera drivers for rekam, the KTP-el enrollment station daemon, and the synthetic
//! eyes its simulator shows. Each driver implements [`rekam_core::IrisCamera`]: it captures
//! both eyes or one, an eye that is missing excepted, and returns per eye an 8-bit grey
//! image with a quality of 0 to 100.
//!
//! Today the crate holds the simulator, [`IrisSim`] (see [`sim`]), [`render_eye`], the
//! deterministic synthetic eye it captures (pupil, textured iris, sclera, eyelids), and
//! [`iso_record`], a captured eye as the ISO/IEC 19794-6:2011 record the API returns. The
//! SBI iris camera (`iris:sbi:PORT`) lives in `rekam-sbi`, beside the other SBI drivers.
//! The daemon opens the simulator from the selector `iris:sim` through
//! [`IRIS_SIM_DRIVER`], one line in its driver table.

mod driver;
mod eye;
mod record;
pub mod sim;

pub use driver::IRIS_SIM_DRIVER;
pub use eye::{EYE_HEIGHT, EYE_WIDTH, IRIS_RADIUS, RenderedEye, render_eye};
pub use record::{RecordError, iso_record};
pub use sim::{EYELID_OCCLUSION, IrisSim, NO_EYE};
