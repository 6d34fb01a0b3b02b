//! Deterministic synthetic biometric samples for rekam's device simulators and for
//! validating its biometric algorithms (WSQ codec, minutiae extraction and matching,
//! quality scoring, slap segmentation, face and signature handling).
//!
//! Everything is a pure function of its seed(s) (ChaCha8 streams and integer hashes, no
//! global state, no files): the same inputs give the same bytes on every run. The per-pixel
//! ridge phase uses plain f32 arithmetic (no libm), but master generation calls `atan2`,
//! `exp` and friends, so a different libm could move a result by a rounding step; compare
//! images across platforms with a tolerance, not byte for byte.
//!
//! * Fingerprints ([`master`], [`render_finger`], [`ground_truth_minutiae`]): a master finger
//!   is a phase field (Larkin & Fletcher; the SFinGe idea of a class-specific ridge flow
//!   with singular points) whose spiral phase terms put ridge endings and bifurcations at
//!   *known* positions, so the rendered images come with exact ground-truth minutiae. An
//!   [`Impression`] places the finger (rotation, shift), distorts the skin elastically and
//!   adds sensor noise, blur, low contrast and missing area. Images are 8-bit grey at
//!   500 ppi with dark ridges on a white background.
//! * Slaps ([`render_four_finger_slap`], [`render_thumbs_slap`]) with ground-truth boxes.
//! * Degradations for quality validation ([`degrade`]).
//! * Face-like portraits with known eye centres ([`render_face`]).
//! * Signature pen traces with pressure and timing ([`render_signature_trace`]).
//!
//! Rendering cost is linear in the number of pixels (a few hundred flops per print pixel).
//! No function here panics or fails on odd input: sizes of 0 give empty outputs and
//! non-finite or out-of-range parameters are clamped, so the crate has no error type.

//!
//! ```
//! use rekam_synth::{Impression, MinutiaKind, ground_truth_minutiae, master, render_finger};
//!
//! let finger = master(42); // the identity
//! let imp = Impression::random(7, 0.3); // a typical re-capture of it
//! let img = render_finger(&finger, 320, 360, &imp);
//! let truth = ground_truth_minutiae(&finger, 320, 360, &imp);
//! assert_eq!(img.dimensions(), (320, 360));
//! assert!(!truth.is_empty());
//! // Angles: counter-clockwise on screen from +x; an ending points into its ridge.
//! let m = truth[0];
//! let ahead = (m.x + 6.0 * m.angle.cos(), m.y - 6.0 * m.angle.sin());
//! # let _ = (ahead, MinutiaKind::Ending);
//! ```

mod degrade;
mod face;
mod finger;
mod signature;
mod slap;
mod util;

pub use degrade::{Degradation, degrade};
pub use face::{FaceFrame, render_face};
pub use finger::{
    Impression, MasterFinger, Minutia, MinutiaKind, Pattern, ground_truth_minutiae, master,
    master_with_pattern, render_finger,
};
pub use signature::{PenPoint, render_signature_trace};
pub use slap::{
    BBox, Hand, SlapFinger, four_finger_slap_minutiae, render_four_finger_slap, render_thumbs_slap,
    thumbs_slap_minutiae,
};
