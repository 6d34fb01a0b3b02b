//! The checks an officer needs on a face photo, each a measured value against a limit.
//!
//! | check | value | limit | from |
//! | --- | --- | --- | --- |
//! | `face_count` | faces found | exactly 1 | ICAO Doc 9303-9: one person in the portrait |
//! | `eyes_found` | 1 when the eye cascade found both eyes | 1 | needed to place the token |
//! | `eye_distance` | pixels between the eye centres in the still | ≥ 90 | ISO/IEC 19794-5:2005 8.4.1 (Full Frontal) |
//! | `roll` | degrees of the eye line from level | ±5 | ICAO 9303-9 / 19794-5 clause 7 pose |
//! | `centre_x` | eye midpoint M, fraction of the width | 0.45 – 0.55 | 19794-5 8.3.2 |
//! | `centre_y` | M, fraction of the height from the top | 0.30 – 0.50 | 19794-5 8.3.3 |
//! | `sharpness` | variance of the Laplacian over the face | ≥ [`Limits::min_sharpness`] | calibrated |
//! | `exposure` | mean luma over the face | [`Limits::exposure`] | calibrated |
//! | `clipping` | fraction of face pixels at ≤ 5 or ≥ 250 | ≤ 0.05 | calibrated |
//! | `background` | standard deviation of the luma of the border | ≤ [`Limits::max_background`] | calibrated |
//!
//! Sharpness, exposure, clipping and background are measured on the face brought to the card
//! token's geometry (240 × 320, eyes 59 pixels apart), so their thresholds do not depend on the
//! camera's resolution: the face region is the box from 0.9 eye distances left of the eye
//! midpoint to 0.9 right, 0.5 above the eye line to 1.3 below; the border is the top 6 % of
//! the token and its outer tenths on both sides above the eye line, where a compliant photo
//! shows only the background.

use std::path::Path;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::detect::Detection;
use crate::error::Result;
use crate::finder::{FaceFinder, Models};
use crate::geometry::{Eyes, Point, Rect};
use crate::resample::luma;
use crate::token::{Similarity, TokenGeometry, make_token};

/// One check: what was measured, its limits and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Its name (`face_count`, `eyes_found`, `eye_distance`, `roll`, `centre_x`, `centre_y`,
    /// `sharpness`, `exposure`, `clipping`, `background`).
    pub name: String,
    /// The measured value; `None` when it could not be measured.
    pub value: Option<f64>,
    /// The unit of the value (`px`, `deg`, `fraction`, `grey`, `count`).
    pub unit: String,
    /// The smallest passing value, if bounded below.
    pub min: Option<f64>,
    /// The largest passing value, if bounded above.
    pub max: Option<f64>,
    /// True when the value is within the limits.
    pub passed: bool,
    /// What it means, for people.
    pub description: String,
}

impl Check {
    fn new(
        name: &str,
        value: Option<f64>,
        unit: &str,
        min: Option<f64>,
        max: Option<f64>,
        description: &str,
    ) -> Self {
        let passed = value.is_some_and(|v| {
            v.is_finite() && min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m)
        });
        Self {
            name: name.to_string(),
            value,
            unit: unit.to_string(),
            min,
            max,
            passed,
            description: description.to_string(),
        }
    }

    /// The limits as text: `≥ 90`, `≤ 5`, `-5 … 5`, `= 1`.
    pub fn limit_text(&self) -> String {
        match (self.min, self.max) {
            (Some(a), Some(b)) if a == b => format!("= {a}"),
            (Some(a), Some(b)) => format!("{a} … {b}"),
            (Some(a), None) => format!("≥ {a}"),
            (None, Some(b)) => format!("≤ {b}"),
            (None, None) => "—".to_string(),
        }
    }
}

/// The limits of the checks. Read from a configuration, a limit left out keeps its
/// default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Smallest distance between the eye centres in the still, pixels (90).
    pub min_eye_distance: f64,
    /// Largest head roll either way, degrees (5).
    pub max_roll: f64,
    /// Range of the eye midpoint's column as a fraction of the width (0.45 – 0.55).
    pub centre_x: (f64, f64),
    /// Range of the eye midpoint's row as a fraction of the height from the top (0.30 – 0.50).
    pub centre_y: (f64, f64),
    /// Smallest variance of the Laplacian over the face at the card geometry.
    pub min_sharpness: f64,
    /// Range of the mean luma over the face.
    pub exposure: (f64, f64),
    /// Largest fraction of face pixels at ≤ 5 or ≥ 250.
    pub max_clipped: f64,
    /// Largest standard deviation of the border's luma.
    pub max_background: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            min_eye_distance: 90.0,
            max_roll: 5.0,
            centre_x: (0.45, 0.55),
            centre_y: (0.30, 0.50),
            min_sharpness: 60.0,
            exposure: (70.0, 210.0),
            max_clipped: 0.05,
            max_background: 20.0,
        }
    }
}

/// The checks of one still.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Width of the still.
    pub image_width: u32,
    /// Height of the still.
    pub image_height: u32,
    /// Every face found, best supported first.
    pub faces: Vec<Detection>,
    /// The face the other checks are about (the largest found).
    pub face_box: Option<Rect>,
    /// Its eye centres in the still: found by the eye cascade, or estimated from the face box
    /// when `eyes_found` fails.
    pub eyes: Option<Eyes>,
    /// The checks, in a fixed order.
    pub checks: Vec<Check>,
}

impl Report {
    /// True when every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The check of that name.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The checks that failed.
    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

/// Finds the face and runs the checks.
#[derive(Debug, Clone)]
pub struct FaceAnalyser {
    /// The face and eye finder.
    pub finder: FaceFinder,
    /// The limits.
    pub limits: Limits,
}

impl FaceAnalyser {
    /// An analyser with default tuning and limits.
    pub fn new(models: Models) -> Self {
        Self {
            finder: FaceFinder::new(models),
            limits: Limits::default(),
        }
    }

    /// An analyser with the cascades read from `dir` (see [`Models::load`]).
    ///
    /// # Errors
    /// As [`Models::load`].
    pub fn load(dir: &Path) -> Result<Self> {
        Ok(Self::new(Models::load(dir)?))
    }

    /// Runs every check on `still`. With no face, only `face_count` is reported.
    pub fn analyse(&self, still: &RgbImage) -> Report {
        let l = &self.limits;
        let faces = self.finder.faces(still);
        let mut checks = vec![Check::new(
            "face_count",
            Some(faces.len() as f64),
            "count",
            Some(1.0),
            Some(1.0),
            "faces found in the photo",
        )];
        let mut report = Report {
            image_width: still.width(),
            image_height: still.height(),
            faces: faces.clone(),
            face_box: None,
            eyes: None,
            checks: Vec::new(),
        };
        let Some(face) = faces.iter().max_by_key(|d| d.rect.area()).map(|d| d.rect) else {
            report.checks = checks;
            return report;
        };
        let found = self.finder.eyes(still, &face);
        let eyes = found.unwrap_or_else(|| FaceFinder::expected_eyes(&face));
        checks.push(Check::new(
            "eyes_found",
            Some(if found.is_some() { 1.0 } else { 0.0 }),
            "count",
            Some(1.0),
            None,
            "both eyes found (else estimated from the face box)",
        ));
        checks.push(Check::new(
            "eye_distance",
            Some(eyes.distance()),
            "px",
            Some(l.min_eye_distance),
            None,
            "pixels between the eye centres",
        ));
        checks.push(Check::new(
            "roll",
            Some(eyes.roll_degrees()),
            "deg",
            Some(-l.max_roll),
            Some(l.max_roll),
            "head tilt from the eye line",
        ));
        let m = eyes.midpoint();
        checks.push(Check::new(
            "centre_x",
            Some((m.x + 0.5) / f64::from(still.width())),
            "fraction",
            Some(l.centre_x.0),
            Some(l.centre_x.1),
            "eye midpoint across the width",
        ));
        checks.push(Check::new(
            "centre_y",
            Some((m.y + 0.5) / f64::from(still.height())),
            "fraction",
            Some(l.centre_y.0),
            Some(l.centre_y.1),
            "eye midpoint down the height",
        ));
        let measures = measure(still, &eyes);
        checks.push(Check::new(
            "sharpness",
            measures.map(|m| m.sharpness),
            "grey²",
            Some(l.min_sharpness),
            None,
            "variance of the Laplacian over the face",
        ));
        checks.push(Check::new(
            "exposure",
            measures.map(|m| m.exposure),
            "grey",
            Some(l.exposure.0),
            Some(l.exposure.1),
            "mean brightness of the face",
        ));
        checks.push(Check::new(
            "clipping",
            measures.map(|m| m.clipped),
            "fraction",
            None,
            Some(l.max_clipped),
            "face pixels black or white",
        ));
        checks.push(Check::new(
            "background",
            measures.and_then(|m| m.background),
            "grey",
            None,
            Some(l.max_background),
            "standard deviation of the background",
        ));
        report.face_box = Some(face);
        report.eyes = Some(eyes);
        report.checks = checks;
        report
    }
}

/// What is measured on the face at the card geometry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measures {
    /// Variance of the Laplacian over the face region.
    pub sharpness: f64,
    /// Mean luma over the face region.
    pub exposure: f64,
    /// Fraction of face pixels at ≤ 5 or ≥ 250.
    pub clipped: f64,
    /// Standard deviation of the border's luma, when enough of the border is in the still.
    pub background: Option<f64>,
}

/// Measures sharpness, exposure, clipping and background of the face with eyes `eyes` in
/// `still`, at the card geometry; `None` when the face region is not inside the still.
pub fn measure(still: &RgbImage, eyes: &Eyes) -> Option<Measures> {
    let g = TokenGeometry::CARD;
    let token = make_token(still, eyes, g).ok()?;
    let back = Similarity::between(&g.eyes(), eyes)?;
    let (w, h) = (g.width as usize, g.height as usize);
    let (sw, sh) = (f64::from(still.width()), f64::from(still.height()));
    let grey: Vec<u8> = token.image.pixels().map(luma).collect();
    let inside: Vec<bool> = (0..w * h)
        .map(|i| {
            let p = back.apply(Point::new((i % w) as f64, (i / w) as f64));
            p.x >= -0.5 && p.y >= -0.5 && p.x <= sw - 0.5 && p.y <= sh - 0.5
        })
        .collect();
    let te = g.eyes();
    let m = te.midpoint();
    let d = te.distance();
    let fx0 = (m.x - 0.9 * d).round().max(1.0) as usize;
    let fx1 = (m.x + 0.9 * d).round().min((w - 2) as f64) as usize;
    let fy0 = (m.y - 0.5 * d).round().max(1.0) as usize;
    let fy1 = (m.y + 1.3 * d).round().min((h - 2) as f64) as usize;
    let (mut n, mut sum, mut clipped) = (0usize, 0.0f64, 0usize);
    let (mut lap_sum, mut lap_sq) = (0.0f64, 0.0f64);
    for y in fy0..=fy1 {
        for x in fx0..=fx1 {
            let i = y * w + x;
            if !(inside[i] && inside[i - 1] && inside[i + 1] && inside[i - w] && inside[i + w]) {
                continue;
            }
            let v = grey[i];
            n += 1;
            sum += f64::from(v);
            if v <= 5 || v >= 250 {
                clipped += 1;
            }
            let lap = 4.0 * f64::from(v)
                - f64::from(grey[i - 1])
                - f64::from(grey[i + 1])
                - f64::from(grey[i - w])
                - f64::from(grey[i + w]);
            lap_sum += lap;
            lap_sq += lap * lap;
        }
    }
    let area = (fx1 + 1 - fx0) * (fy1 + 1 - fy0);
    if n == 0 || n * 2 < area {
        return None;
    }
    let nf = n as f64;
    let lap_mean = lap_sum / nf;
    let top = (0.06 * h as f64).round() as usize;
    let side = (0.1 * w as f64).round() as usize;
    let eye_row = m.y.floor() as usize;
    let (mut bn, mut bs, mut bq) = (0usize, 0.0f64, 0.0f64);
    for y in 0..eye_row.min(h) {
        for x in 0..w {
            if y >= top && x >= side && x < w - side {
                continue;
            }
            let i = y * w + x;
            if inside[i] {
                let v = f64::from(grey[i]);
                bn += 1;
                bs += v;
                bq += v * v;
            }
        }
    }
    let background = (bn >= 200).then(|| {
        let mean = bs / bn as f64;
        (bq / bn as f64 - mean * mean).max(0.0).sqrt()
    });
    Some(Measures {
        sharpness: lap_sq / nf - lap_mean * lap_mean,
        exposure: sum / nf,
        clipped: clipped as f64 / nf,
        background,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn checks_compare_with_their_limits() {
        let c = Check::new("x", Some(90.0), "px", Some(90.0), None, "");
        assert!(c.passed);
        assert_eq!(c.limit_text(), "≥ 90");
        assert!(!Check::new("x", Some(89.9), "px", Some(90.0), None, "").passed);
        assert!(!Check::new("x", None, "px", Some(90.0), None, "").passed);
        assert!(!Check::new("x", Some(f64::NAN), "px", None, None, "").passed);
        let r = Check::new("roll", Some(-5.5), "deg", Some(-5.0), Some(5.0), "");
        assert!(!r.passed);
        assert_eq!(r.limit_text(), "-5 … 5");
        assert_eq!(
            Check::new("n", Some(1.0), "", Some(1.0), Some(1.0), "").limit_text(),
            "= 1"
        );
    }

    /// A synthetic face: a flat background, a face-coloured ellipse with a checker texture,
    /// eyes 100 pixels apart. Flat background → background 0; texture → sharp; blurring it
    /// lowers the sharpness; darkening lowers the exposure.
    #[test]
    fn measures_follow_the_picture() {
        let eyes = Eyes {
            right: Point::new(250.0, 300.0),
            left: Point::new(350.0, 300.0),
        };
        let face = |x: u32, y: u32| {
            let (dx, dy) = (
                (f64::from(x) - 300.0) / 110.0,
                (f64::from(y) - 340.0) / 150.0,
            );
            dx * dx + dy * dy < 1.0
        };
        let sharp = RgbImage::from_fn(600, 800, |x, y| {
            if face(x, y) {
                let t = if (x / 3 + y / 3) % 2 == 0 { 40 } else { 0 };
                Rgb([150 + t, 120 + t, 100 + t])
            } else {
                Rgb([200, 200, 200])
            }
        });
        let m = measure(&sharp, &eyes).unwrap_or_else(|| panic!("not measured"));
        assert_eq!(m.background, Some(0.0));
        assert!(m.exposure > 120.0 && m.exposure < 170.0, "{m:?}");
        assert_eq!(m.clipped, 0.0);
        let blurred = image::imageops::blur(&sharp, 3.0);
        let b = measure(&blurred, &eyes).unwrap_or_else(|| panic!("not measured"));
        assert!(
            b.sharpness < m.sharpness / 4.0,
            "{} vs {}",
            b.sharpness,
            m.sharpness
        );
        let dark = RgbImage::from_fn(600, 800, |x, y| {
            let p = sharp.get_pixel(x, y);
            Rgb([p[0] / 4, p[1] / 4, p[2] / 4])
        });
        let d = measure(&dark, &eyes).unwrap_or_else(|| panic!("not measured"));
        assert!(d.exposure < m.exposure / 3.0, "{d:?}");
        // Eyes far outside the still: nothing to measure.
        let off = Eyes {
            right: Point::new(-900.0, -900.0),
            left: Point::new(-800.0, -900.0),
        };
        assert!(measure(&sharp, &off).is_none());
    }
}
