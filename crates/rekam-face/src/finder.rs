//! Faces in a camera still, and the eyes in a face.
//!
//! Faces are looked for on a copy of the still reduced (by whole-pixel block averaging, then
//! bilinear) so that its longer side is at most [`FinderParams::working_side`] pixels: a face
//! that is large enough for an ICAO photo (90 pixels or more between the eyes) is still well
//! above the cascade's 24-pixel window there, and a 12-megapixel still costs what a VGA frame
//! does. Boxes are scaled back to the still.
//!
//! Eyes are looked for with the eye cascade in the upper part of the face box (rows 15 % to
//! 60 % of the box), on a copy where the face is about [`FinderParams::eye_face_width`] pixels
//! wide. Candidates left of the box's centre line are the subject's right eye, those right of
//! it the left eye; the pair chosen is the one closest to where a frontal face has its eyes,
//! level and of like size. An eye's centre is its box's centre.

use std::path::Path;

use image::RgbImage;

use crate::cascade::Cascade;
use crate::detect::{DetectParams, Detection, detect};
use crate::error::Result;
use crate::geometry::{Eyes, Point, Rect};
use crate::resample::grey_reduced;

/// The two cascades the finder runs.
#[derive(Debug, Clone)]
pub struct Models {
    /// The frontal face cascade.
    pub face: Cascade,
    /// The eye cascade.
    pub eye: Cascade,
}

impl Models {
    /// Reads [`crate::DEFAULT_FACE_MODEL`] and [`crate::DEFAULT_EYE_MODEL`] from `dir`
    /// (e.g. [`crate::DEFAULT_MODEL_DIR`], where Debian's `opencv-data` installs them).
    ///
    /// # Errors
    /// [`crate::FaceError::ModelIo`] when a file is missing, [`crate::FaceError::Model`] when
    /// one is not a usable cascade.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_files(
            &dir.join(crate::DEFAULT_FACE_MODEL),
            &dir.join(crate::DEFAULT_EYE_MODEL),
        )
    }

    /// Reads the face and eye cascades from the given files.
    ///
    /// # Errors
    /// As [`Models::load`].
    pub fn load_files(face: &Path, eye: &Path) -> Result<Self> {
        Ok(Self {
            face: Cascade::load(face)?,
            eye: Cascade::load(eye)?,
        })
    }
}

/// Tuning of the finder.
#[derive(Debug, Clone, PartialEq)]
pub struct FinderParams {
    /// Longer side of the reduced copy faces are looked for on (640).
    pub working_side: u32,
    /// The face search: scale factor, minimum neighbours and step (1.1, 3, 2).
    pub face: DetectParams,
    /// Smallest face looked for, as a fraction of the still's shorter side (0.08).
    pub min_face_fraction: f64,
    /// Width the face box is reduced to for the eye search (about 160 pixels).
    pub eye_face_width: u32,
    /// The eye search: scale factor and minimum neighbours (1.08, 2).
    pub eye: DetectParams,
}

impl Default for FinderParams {
    fn default() -> Self {
        Self {
            working_side: 640,
            face: DetectParams {
                step: 2,
                ..DetectParams::default()
            },
            min_face_fraction: 0.08,
            eye_face_width: 160,
            eye: DetectParams {
                scale_factor: 1.08,
                min_neighbours: 2,
                ..DetectParams::default()
            },
        }
    }
}

/// Where a frontal face box from the frontal face cascades has its eyes, as fractions of the
/// box: the subject's right eye (image left) and left eye (image right). Used to rank eye
/// candidates and as the estimate when the eyes are not found.
pub const EXPECTED_EYES: ((f64, f64), (f64, f64)) = ((0.31, 0.38), (0.69, 0.38));

/// Finds faces and eyes with a pair of cascades.
#[derive(Debug, Clone)]
pub struct FaceFinder {
    models: Models,
    /// Its tuning.
    pub params: FinderParams,
}

impl FaceFinder {
    /// A finder with default tuning.
    pub fn new(models: Models) -> Self {
        Self {
            models,
            params: FinderParams::default(),
        }
    }

    /// The cascades.
    pub fn models(&self) -> &Models {
        &self.models
    }

    /// The faces in `img`, boxes in its pixels, best supported first.
    pub fn faces(&self, img: &RgbImage) -> Vec<Detection> {
        let (w, h) = (img.width(), img.height());
        if w == 0 || h == 0 {
            return Vec::new();
        }
        let longer = w.max(h);
        let n = (longer / self.params.working_side.max(64)).max(1);
        let (grey, _) = grey_reduced(img, Rect::new(0, 0, w as i32, h as i32), n);
        // The rest of the reduction, bilinear, when whole blocks were not enough.
        let (grey, scale) = {
            let side = grey.width().max(grey.height());
            if side > self.params.working_side {
                let f = f64::from(self.params.working_side) / f64::from(side);
                let nw = ((f64::from(grey.width()) * f).round() as u32).max(1);
                let nh = ((f64::from(grey.height()) * f).round() as u32).max(1);
                let mut buf = Vec::new();
                crate::resample::resize_bilinear(&grey, nw, nh, &mut buf);
                let g = image::GrayImage::from_raw(nw, nh, buf)
                    .unwrap_or_else(|| image::GrayImage::new(1, 1));
                (g, f64::from(w) / f64::from(nw))
            } else {
                (grey, f64::from(n))
            }
        };
        let mut params = self.params.face.clone();
        let shorter = f64::from(grey.width().min(grey.height()));
        params.min_size = params
            .min_size
            .max((shorter * self.params.min_face_fraction).round() as u32);
        detect(&self.models.face, &grey, &params)
            .into_iter()
            .map(|d| Detection {
                rect: scale_rect(d.rect, scale),
                neighbours: d.neighbours,
            })
            .collect()
    }

    /// The eyes of the face in box `face` of `img`, when the eye cascade finds a plausible
    /// pair.
    pub fn eyes(&self, img: &RgbImage, face: &Rect) -> Option<Eyes> {
        let fw = face.width.max(1);
        let n = (fw as u32 / self.params.eye_face_width.max(40)).max(1);
        let top = face.y + (f64::from(face.height) * 0.15).round() as i32;
        let bottom = face.y + (f64::from(face.height) * 0.60).round() as i32;
        let region = Rect::new(face.x, top, face.width, bottom - top);
        let (grey, clipped) = grey_reduced(img, region, n);
        let scaled_face = fw as f64 / f64::from(n);
        let mut params = self.params.eye.clone();
        params.min_size = params.min_size.max((scaled_face * 0.12).round() as u32);
        params.max_size = (scaled_face * 0.40).round() as u32;
        let found = detect(&self.models.eye, &grey, &params);
        let nf = f64::from(n);
        let to_still = |d: &Detection| {
            let c = d.rect.centre();
            // Centre of reduced pixel i is at still coordinate n·i + (n − 1)/2.
            (
                Point::new(
                    f64::from(clipped.x) + c.x * nf + (nf - 1.0) / 2.0,
                    f64::from(clipped.y) + c.y * nf + (nf - 1.0) / 2.0,
                ),
                f64::from(d.rect.width) * nf,
                d.neighbours,
            )
        };
        let candidates: Vec<(Point, f64, u32)> = found.iter().map(to_still).collect();
        pick_pair(face, &candidates)
    }

    /// Where the eyes of a frontal face in box `face` usually are ([`EXPECTED_EYES`]).
    pub fn expected_eyes(face: &Rect) -> Eyes {
        let at = |(fx, fy): (f64, f64)| {
            Point::new(
                f64::from(face.x) + fx * f64::from(face.width) - 0.5,
                f64::from(face.y) + fy * f64::from(face.height) - 0.5,
            )
        };
        Eyes {
            right: at(EXPECTED_EYES.0),
            left: at(EXPECTED_EYES.1),
        }
    }
}

fn scale_rect(r: Rect, s: f64) -> Rect {
    Rect::new(
        (f64::from(r.x) * s).round() as i32,
        (f64::from(r.y) * s).round() as i32,
        (f64::from(r.width) * s).round() as i32,
        (f64::from(r.height) * s).round() as i32,
    )
}

/// The best (subject's right, subject's left) pair among eye candidates (centre, box width,
/// neighbours) of the face `face`.
fn pick_pair(face: &Rect, candidates: &[(Point, f64, u32)]) -> Option<Eyes> {
    let fw = f64::from(face.width.max(1));
    let mid = face.centre().x;
    let expected = FaceFinder::expected_eyes(face);
    let mut best: Option<(f64, Eyes)> = None;
    for a in candidates.iter().filter(|c| c.0.x < mid) {
        for b in candidates.iter().filter(|c| c.0.x >= mid) {
            let dx = b.0.x - a.0.x;
            let dy = b.0.y - a.0.y;
            if dx < 0.2 * fw || dx > 0.75 * fw || dy.abs() > 0.5 * dx {
                continue;
            }
            if a.1 > 2.0 * b.1 || b.1 > 2.0 * a.1 {
                continue;
            }
            let cost = a.0.distance(expected.right) / fw
                + b.0.distance(expected.left) / fw
                + 0.5 * (a.1 - b.1).abs() / fw
                - 0.01 * f64::from((a.2 + b.2).min(30));
            if best.as_ref().is_none_or(|(c, _)| cost < *c) {
                best = Some((
                    cost,
                    Eyes {
                        right: a.0,
                        left: b.0,
                    },
                ));
            }
        }
    }
    best.map(|(_, e)| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pair_nearest_the_expected_places_wins() {
        let face = Rect::new(100, 100, 200, 200);
        let p = |x, y, w| (Point::new(x, y), w, 5);
        let cands = vec![
            p(160.0, 175.0, 40.0), // right eye
            p(238.0, 176.0, 40.0), // left eye
            p(170.0, 250.0, 40.0), // a nostril, too low
            p(240.0, 120.0, 90.0), // an eyebrow blob, too big and high
        ];
        let e = pick_pair(&face, &cands).unwrap_or_else(|| panic!("no pair"));
        assert_eq!(e.right, Point::new(160.0, 175.0));
        assert_eq!(e.left, Point::new(238.0, 176.0));
        // One side only: no pair.
        assert!(pick_pair(&face, &cands[..1]).is_none());
        // Eyes too close together are refused.
        assert!(pick_pair(&face, &[p(195.0, 175.0, 30.0), p(205.0, 175.0, 30.0)]).is_none());
    }

    #[test]
    fn expected_eyes_are_inside_the_box() {
        let f = Rect::new(0, 0, 100, 100);
        let e = FaceFinder::expected_eyes(&f);
        assert!(f.contains(e.left) && f.contains(e.right));
        assert!(e.left.x > e.right.x);
    }
}
