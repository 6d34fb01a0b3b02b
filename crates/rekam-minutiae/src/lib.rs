//! Fingerprint minutiae for rekam: extraction from a grey 500 ppi finger image in the manner of
//! NIST's MINDTCT (orientation field, ridge frequency, segmentation, oriented enhancement,
//! thinning, crossing-number detection, false-minutiae removal, per-minutia quality), the
//! ISO/IEC 19794-2:2005 finger minutiae record and its compact on-card format
//! ([`iso19794_2`]), and a rotation- and translation-invariant 1:1 matcher in the manner of
//! NIST's BOZORTH3 ([`match_score`]).
//!
//! The implementation is original Rust written for speed (an 800x750 finger takes about 10 ms
//! on one core, a match about 0.1 ms); it follows the published ideas of MINDTCT and BOZORTH3
//! but no code from NBIS. See `VALIDATION.md` in the crate for its accuracy on rekam-synth
//! fingers.
//!
//! # Extraction pipeline
//!
//! 1. Orientation field on 8x8-pixel cells: structure tensor of Sobel gradients (of a lightly
//!    smoothed copy) over 40x40-pixel windows, smoothed as doubled-angle vectors; coherence
//!    and grey-level contrast per cell.
//! 2. Foreground: cells with contrast and a dominant ridge direction, largest region, holes
//!    filled, eroded by a cell.
//! 3. Ridge period per 16x16 block from the grey-level signature across the ridges.
//! 4. Enhancement and binarisation: a Gaussian along the ridges then a zero-mean Gabor profile
//!    across them, tuned to the local orientation and period; ridge where the response is
//!    negative. Cells whose response is weak compared with the print's median leave the
//!    foreground.
//! 5. Thinning: table-driven Zhang-Suen, then removal of staircase pixels.
//! 6. Minutiae: crossing number 1 (ending) or 3 (bifurcation); direction from rays traced
//!    10 pixels along the skeleton.
//! 7. False minutiae removal: spurs, short fragments, bridges and lakes (found by tracing),
//!    endings facing each other across a gap, pairs closer than 0.6 ridge periods, clusters,
//!    minutiae at cores and deltas (Poincaré index), near the print's edge, and endings whose
//!    ridge runs out of the print.
//! 8. Quality from coherence, contrast, filter response, distance to the edge, crowding,
//!    distance to a core or delta and ridge length to the next feature.
//!
//! # Conventions
//!
//! * Coordinates are pixels of the source image, origin at the top-left corner, `x` to the
//!   right, `y` downwards (the ISO/IEC 19794-2 coordinate system).
//! * [`Minutia::angle`] is in radians in `[0, 2π)`, measured counter-clockwise from the
//!   horizontal axis pointing right, as the image is viewed (so a direction `(dx, dy)` in pixel
//!   coordinates has the angle `atan2(-dy, dx)`); this is the ISO/IEC 19794-2 convention.
//!   A ridge ending points from the end along the ridge, into the ridge body; a bifurcation
//!   points from the fork between its two branches (away from the stem).
//!
//! ```
//! use image::GrayImage;
//! let img = GrayImage::from_pixel(200, 200, image::Luma([255]));
//! let t = rekam_minutiae::extract(&img).unwrap();
//! assert!(t.minutiae.is_empty()); // a blank image has no finger, hence no minutiae
//! assert_eq!(rekam_minutiae::match_score(&t, &t), 0);
//! ```

mod detect;
mod enhance;
mod field;
pub mod iso19794_2;
mod matcher;
mod thin;

pub use matcher::{MATCH_THRESHOLD, MatchParams, match_score, match_score_with};

/// The kind of a minutia.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum MinutiaKind {
    /// A ridge ending.
    Ending,
    /// A ridge bifurcation.
    Bifurcation,
    /// Another or unknown kind (ISO/IEC 19794-2 type `00`).
    Other,
}

/// One minutia.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Minutia {
    /// Column, pixels from the left edge.
    pub x: u16,
    /// Row, pixels from the top edge.
    pub y: u16,
    /// Direction in radians in `[0, 2π)`, counter-clockwise from the horizontal axis pointing
    /// right (see the crate documentation for the convention).
    pub angle: f32,
    /// Ending, bifurcation or other.
    pub kind: MinutiaKind,
    /// Quality, 0 (worst or unknown) to 100 (best).
    pub quality: u8,
}

/// The minutiae of one finger with the geometry of the image they come from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Template {
    /// Image width in pixels.
    pub width: u16,
    /// Image height in pixels.
    pub height: u16,
    /// Resolution in pixels per inch (500 for the images this crate extracts from).
    pub ppi: u16,
    /// The minutiae, best quality first.
    pub minutiae: Vec<Minutia>,
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MinutiaeError {
    /// The image is smaller than the extractor can work on.
    #[error("image {width}x{height} is too small (minimum {min}x{min} pixels)")]
    ImageTooSmall {
        /// Width of the image.
        width: u32,
        /// Height of the image.
        height: u32,
        /// The minimum side length.
        min: u32,
    },
    /// The image is larger than minutiae coordinates can express.
    #[error("image {width}x{height} is too large (maximum {max}x{max} pixels)")]
    ImageTooLarge {
        /// Width of the image.
        width: u32,
        /// Height of the image.
        height: u32,
        /// The maximum side length.
        max: u32,
    },
    /// A record ended before a field it announces.
    #[error("record truncated: needs {needed} bytes, has {available}")]
    Truncated {
        /// Bytes needed to read the next field.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The record does not start with the expected format identifier or version.
    #[error("not an ISO/IEC 19794-2:2005 finger minutiae record: {0}")]
    BadHeader(String),
    /// A field holds a value the format does not allow.
    #[error("invalid field {field}: {reason}")]
    InvalidField {
        /// The field's name.
        field: &'static str,
        /// Why it is invalid.
        reason: String,
    },
}

/// Smallest image side accepted by [`extract`].
pub const MIN_SIDE: u32 = 64;
/// Largest image side accepted by [`extract`] (ISO/IEC 19794-2 coordinates have 14 bits).
pub const MAX_SIDE: u32 = 16383;

/// Extracts the minutiae of a finger image (8-bit grey, dark ridges on a light background,
/// assumed 500 ppi).
///
/// An image without a recognisable finger area gives a template without minutiae.
///
/// # Errors
///
/// [`MinutiaeError::ImageTooSmall`] or [`MinutiaeError::ImageTooLarge`] for images outside
/// [`MIN_SIDE`]..=[`MAX_SIDE`] pixels per side.
pub fn extract(img: &image::GrayImage) -> Result<Template, MinutiaeError> {
    extract_inner(img, false).map(|(t, _)| t)
}

/// Intermediate images of an extraction, for inspection and tuning.
#[doc(hidden)]
pub struct DebugImages {
    /// Binarised ridges (0 = ridge, 255 = valley/background).
    pub binary: image::GrayImage,
    /// Skeleton after thinning (0 = skeleton).
    pub skeleton: image::GrayImage,
    /// Foreground mask per 8x8 cell (255 = finger).
    pub mask: image::GrayImage,
}

/// Like [`extract`] but also returns intermediate images (for development).
#[doc(hidden)]
pub fn extract_debug(img: &image::GrayImage) -> Result<(Template, DebugImages), MinutiaeError> {
    let (t, parts) = extract_inner(img, true)?;
    let Some(parts) = parts else {
        return Err(MinutiaeError::InvalidField {
            field: "debug",
            reason: "intermediate images not kept".into(),
        });
    };
    let (w, h) = img.dimensions();
    let p = field::PAD;
    let pw = w as usize + 2 * p;
    let to_img = |v: &[u8]| {
        image::GrayImage::from_fn(w, h, |x, y| {
            let i = (y as usize + p) * pw + x as usize + p;
            image::Luma([if v.get(i).copied().unwrap_or(0) != 0 {
                0
            } else {
                255
            }])
        })
    };
    let binary = to_img(&parts.binary);
    let skeleton = to_img(&parts.skeleton);
    let f = &parts.field;
    let mask = image::GrayImage::from_fn(w, h, |x, y| {
        let c = (y as usize / field::CELL) * f.cw + x as usize / field::CELL;
        image::Luma([if f.mask.get(c).copied().unwrap_or(false) {
            255
        } else {
            0
        }])
    });
    Ok((
        t,
        DebugImages {
            binary,
            skeleton,
            mask,
        },
    ))
}

struct Parts {
    field: field::Field,
    binary: Vec<u8>,
    skeleton: Vec<u8>,
}

fn extract_inner(
    img: &image::GrayImage,
    keep: bool,
) -> Result<(Template, Option<Parts>), MinutiaeError> {
    let (w, h) = img.dimensions();
    if w < MIN_SIDE || h < MIN_SIDE {
        return Err(MinutiaeError::ImageTooSmall {
            width: w,
            height: h,
            min: MIN_SIDE,
        });
    }
    if w > MAX_SIDE || h > MAX_SIDE {
        return Err(MinutiaeError::ImageTooLarge {
            width: w,
            height: h,
            max: MAX_SIDE,
        });
    }
    let padded = field::Padded::new(img);
    let mut f = field::Field::compute(&padded);
    let (binary, strength) = enhance::enhance(&padded, &f);
    f.refine(&strength);
    let kept = keep.then(|| binary.clone());
    let mut skeleton = binary;
    thin::thin(&mut skeleton, padded.pw, padded.ph);
    let minutiae = detect::detect(&skeleton, &padded, &f);
    let t = Template {
        width: w as u16,
        height: h as u16,
        ppi: 500,
        minutiae,
    };
    let parts = kept.map(|binary| Parts {
        field: f,
        binary,
        skeleton,
    });
    Ok((t, parts))
}

/// Wraps an angle to `(-π, π]` (non-finite input gives 0).
#[inline]
pub(crate) fn wrap_pi(a: f32) -> f32 {
    use std::f32::consts::{PI, TAU};
    if !a.is_finite() {
        return 0.0;
    }
    // Angles here are sums or differences of a few wrapped angles: a step or two suffices,
    // and avoids the slow floating-point remainder.
    let mut a = if a.abs() > 4.0 * TAU { a % TAU } else { a };
    while a > PI {
        a -= TAU;
    }
    while a <= -PI {
        a += TAU;
    }
    a
}

/// Wraps an angle to `[0, 2π)` (non-finite input gives 0).
#[inline]
pub(crate) fn wrap_2pi(a: f32) -> f32 {
    use std::f32::consts::TAU;
    if !a.is_finite() {
        return 0.0;
    }
    let r = a.rem_euclid(TAU);
    if r >= TAU { 0.0 } else { r }
}
