//! The applicant's face photo, from a camera still to the ICAO token image, with the checks
//! an officer needs before accepting it.
//!
//! rekam records a KTP-el applicant's face with a camera (a webcam or a DSLR still of up to
//! 12 megapixels). This crate finds the face and the eyes in that still, cuts the ISO/IEC
//! 19794-5 token image out of it (rotated so the eyes are level, scaled and placed so the eye
//! centres land where the standard puts them), at the card's photo size and at the chip's DG2
//! size, and measures what an officer checks: exactly one face, its size, centring, head roll,
//! sharpness, exposure and background — each with a measured value, its limit and pass/fail.
//!
//! * [`cascade`]: a Viola-Jones detector (P. Viola and M. Jones, "Rapid Object Detection using
//!   a Boosted Cascade of Simple Features", CVPR 2001) that evaluates OpenCV's Haar cascade
//!   model files in their `opencv_storage` XML format (stage type BOOST, feature type HAAR,
//!   with tilted features as R. Lienhart and J. Maydt extended them), with OpenCV's variance
//!   normalisation; the models come from Debian's `opencv-data` package, read from a
//!   configured directory ([`DEFAULT_MODEL_DIR`]) — nothing is fetched at run time and no
//!   model is committed here;
//! * [`detect`]: the multi-scale sliding window over an image pyramid and the grouping of
//!   overlapping hits (minimum neighbours), as OpenCV's `detectMultiScale` does;
//! * [`finder`]: faces in a still (detected on a downscaled copy so a 12-megapixel still takes
//!   milliseconds) and the eyes in the upper part of a face box (eye centre = eye box centre);
//! * [`token`]: the token face image geometry of ISO/IEC 19794-5:2005 (clause 9, Token Face
//!   Image Type: image width W, eye centres on the row 0.6·W from the top, the first eye at
//!   x = 0.375·W and the second at x = 0.625·W − 1, so 0.25·W pixels from eye to eye
//!   inclusive) and the similarity warp that produces it;
//! * [`checks`]: the [`Report`] of photo checks, with limits from ICAO Doc 9303 part 9 and
//!   ISO/IEC 19794-5:2005 (clause 8, Full Frontal: at least 90 pixels between the eye
//!   centres, the eye midpoint between 45 % and 55 % of the width and 30 % to 50 % of the
//!   height from the top; clause 7: head roll within ±5°) and thresholds calibrated on
//!   photographs for what the standards leave to the implementer (sharpness, exposure,
//!   background).
//!
//! The photo ends up in the chip's DG2 as an ISO/IEC 19794-5 record with the eye centres as
//! feature points 12.1 and 12.2 (`rekam-biometrics`); [`Eyes`] here uses the same convention:
//! `left` is the subject's left eye, which is on the image's right.
//!
//! ```no_run
//! use rekam_face::{FaceAnalyser, TokenGeometry};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let analyser = FaceAnalyser::load(std::path::Path::new(rekam_face::DEFAULT_MODEL_DIR))?;
//! let still = image::open("still.jpg")?.into_rgb8();
//! let report = analyser.analyse(&still);
//! for check in &report.checks {
//!     println!("{}: {:?} {}", check.name, check.value, if check.passed { "ok" } else { "FAIL" });
//! }
//! if let Some(eyes) = report.eyes {
//!     let token = rekam_face::make_token(&still, &eyes, TokenGeometry::DG2)?;
//!     token.image.save("token.png")?;
//! }
//! # Ok(())
//! # }
//! ```

pub mod cascade;
pub mod checks;
pub mod detect;
mod error;
pub mod finder;
mod geometry;
mod integral;
mod resample;
pub mod token;

pub use cascade::Cascade;
pub use checks::{Check, FaceAnalyser, Limits, Report};
pub use detect::{DetectParams, Detection, detect};
pub use error::{FaceError, Result};
pub use finder::{FaceFinder, FinderParams, Models};
pub use geometry::{Eyes, Point, Rect};
pub use token::{Token, TokenGeometry, make_token};

/// Where Debian's `opencv-data` package puts OpenCV's Haar cascades.
pub const DEFAULT_MODEL_DIR: &str = "/usr/share/opencv4/haarcascades";
/// The frontal face cascade read from the model directory by default.
pub const DEFAULT_FACE_MODEL: &str = "haarcascade_frontalface_alt2.xml";
/// The eye cascade read from the model directory by default.
pub const DEFAULT_EYE_MODEL: &str = "haarcascade_eye.xml";
