//! What was recorded, as images the officer checks with the applicant: the face photo and
//! the card portrait, each slap, each segmented finger and single capture, the signature,
//! and the card's two sides, full size or as thumbnails.

use image::{DynamicImage, GrayImage, ImageEncoder};
use rekam_core::{FingerPosition, GreyImage};

use crate::error::EnrollmentError;
use crate::model::Enrollment;

/// Which recorded image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// The face photo as captured (JPEG).
    Face,
    /// The 240 x 320 portrait cropped for the card and the chip (JPEG).
    Portrait,
    /// A slap (RightFour, LeftFour or BothThumbs), 500 ppi greyscale (PNG).
    Slap(FingerPosition),
    /// A finger segmented from its slap (PNG).
    Finger(FingerPosition),
    /// A single finger captured alone (PNG).
    Single(FingerPosition),
    /// The signature as rendered (PNG).
    Signature,
    /// The card's front as it prints (PNG).
    CardFront,
    /// The card's back as it prints (PNG).
    CardBack,
}

/// Full size or a thumbnail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaSize {
    /// The long side scaled to at most [`THUMBNAIL_SIDE`] pixels.
    Thumbnail,
    /// As recorded.
    Full,
}

/// The long side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 160;

/// An image of the recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// Its MIME type: `image/jpeg` or `image/png`.
    pub content_type: &'static str,
    /// The encoded image.
    pub data: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

fn not_recorded(what: String) -> EnrollmentError {
    EnrollmentError::MediaNotFound(what)
}

fn grey_png(img: &GreyImage, size: MediaSize) -> Result<Media, EnrollmentError> {
    let g = GrayImage::from_raw(img.width, img.height, img.pixels.clone())
        .ok_or_else(|| EnrollmentError::Format("a greyscale image of the wrong size".into()))?;
    encode(DynamicImage::ImageLuma8(g), size, false)
}

fn decoded(bytes: &[u8], what: &str) -> Result<DynamicImage, EnrollmentError> {
    image::load_from_memory(bytes).map_err(|e| EnrollmentError::Format(format!("{what}: {e}")))
}

/// Encodes an image at the size asked, as JPEG (photos) or PNG.
fn encode(img: DynamicImage, size: MediaSize, jpeg: bool) -> Result<Media, EnrollmentError> {
    let img = match size {
        MediaSize::Full => img,
        MediaSize::Thumbnail => {
            if img.width().max(img.height()) > THUMBNAIL_SIDE {
                img.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
            } else {
                img
            }
        }
    };
    let (width, height) = (img.width(), img.height());
    let mut data = Vec::new();
    let err = |e: image::ImageError| EnrollmentError::Format(format!("encoding: {e}"));
    if jpeg {
        let rgb = img.to_rgb8();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut data, 85)
            .write_image(rgb.as_raw(), width, height, image::ExtendedColorType::Rgb8)
            .map_err(err)?;
    } else {
        img.write_to(
            &mut std::io::Cursor::new(&mut data),
            image::ImageFormat::Png,
        )
        .map_err(err)?;
    }
    Ok(Media {
        content_type: if jpeg { "image/jpeg" } else { "image/png" },
        data,
        width,
        height,
    })
}

/// One image of an enrollment's recording. CPU-bound: call it off the async runtime.
pub fn media(
    e: &Enrollment,
    kind: MediaKind,
    size: MediaSize,
    card: &crate::card::CardLayout,
) -> Result<Media, EnrollmentError> {
    let r = &e.recording;
    match kind {
        MediaKind::Face | MediaKind::Portrait => {
            let face = r
                .face
                .as_ref()
                .ok_or_else(|| not_recorded("the face photo is not recorded".into()))?;
            let (bytes, w, h) = if kind == MediaKind::Face {
                (&face.jpeg, face.width, face.height)
            } else {
                (&face.portrait_jpeg, 240, 320)
            };
            if size == MediaSize::Full {
                // As recorded: no re-encoding.
                return Ok(Media {
                    content_type: "image/jpeg",
                    data: bytes.clone(),
                    width: w,
                    height: h,
                });
            }
            encode(decoded(bytes, "face JPEG")?, size, true)
        }
        MediaKind::Slap(p) => {
            let slap = r
                .slaps
                .iter()
                .find(|s| s.position == p)
                .ok_or_else(|| not_recorded(format!("no {p:?} slap is recorded")))?;
            grey_png(&slap.image, size)
        }
        MediaKind::Finger(p) => {
            let f = r
                .fingers()
                .find(|f| f.position == p)
                .and_then(|f| f.image.as_ref())
                .ok_or_else(|| not_recorded(format!("no image of the {p:?} finger is recorded")))?;
            grey_png(f, size)
        }
        MediaKind::Single(p) => {
            let f = r
                .singles
                .iter()
                .find(|f| f.position == p)
                .and_then(|f| f.image.as_ref())
                .ok_or_else(|| not_recorded(format!("no single capture of {p:?} is recorded")))?;
            grey_png(f, size)
        }
        MediaKind::Signature => {
            let s = r
                .signature
                .as_ref()
                .ok_or_else(|| not_recorded("the signature is not recorded".into()))?;
            encode(decoded(&s.png, "signature PNG")?, size, false)
        }
        MediaKind::CardFront | MediaKind::CardBack => {
            let (front, back) = card_preview(e, card)?;
            let png = if kind == MediaKind::CardFront {
                front
            } else {
                back
            };
            encode(decoded(&png, "card PNG")?, size, false)
        }
    }
}

/// The card's two sides as they would print now (PNG), without touching the printer:
/// the applicant checks them before a blank is used. Needs the face photo.
pub fn card_preview(
    e: &Enrollment,
    card: &crate::card::CardLayout,
) -> Result<(Vec<u8>, Vec<u8>), EnrollmentError> {
    if e.recording.face.is_none() {
        return Err(not_recorded(
            "the card needs the face photo: capture it first".into(),
        ));
    }
    card.images(e)
}
