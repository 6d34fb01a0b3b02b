//! The ISO/IEC 19794-5 token face image.
//!
//! ISO/IEC 19794-5:2005, clause 9 (Token Face Image Type), fixes the face in the image by its
//! eyes, in pixel coordinates counted from the top-left pixel (0, 0) of an image W pixels
//! wide and W / 0.75 high:
//!
//! | | |
//! | --- | --- |
//! | row of both eye centres | 0.6 · W |
//! | column of the first eye (the subject's right, on the image's left) | 0.375 · W |
//! | column of the second eye (the subject's left) | 0.625 · W − 1 |
//! | width from eye to eye, inclusive | 0.25 · W |
//!
//! so the eye line lies 45 % of the height from the top, centred, and the eyes are level.
//! The 240 × 320 card photo has its eyes at (90, 144) and (149, 144); the 480 × 640 DG2 image
//! at (180, 288) and (299, 288). [`make_token`] maps the still onto that geometry with the
//! similarity (rotation, uniform scale, translation) that sends the measured eye centres
//! exactly onto those pixels, sampling bilinearly from a block-averaged copy of the still so
//! that a large reduction does not alias. Parts of the token outside the still are filled
//! with [`TOKEN_FILL`].

use std::str::FromStr;

use image::{Rgb, RgbImage};

use crate::error::{FaceError, Result};
use crate::geometry::{Eyes, Point, Rect};
use crate::resample::rgb_reduced;

/// Colour of the token's pixels that fall outside the still (a light neutral grey).
pub const TOKEN_FILL: Rgb<u8> = Rgb([230, 230, 230]);

/// Width and height of a token image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TokenGeometry {
    /// Width W in pixels.
    pub width: u32,
    /// Height in pixels (W / 0.75 in the standard).
    pub height: u32,
}

impl TokenGeometry {
    /// The card's photo: 240 × 320.
    pub const CARD: Self = Self {
        width: 240,
        height: 320,
    };
    /// The chip's DG2 image: 480 × 640.
    pub const DG2: Self = Self {
        width: 480,
        height: 640,
    };

    /// A geometry of `width` × `height`.
    ///
    /// # Errors
    /// [`FaceError::Invalid`] when the width is below 16 or above 8192, or the height does not
    /// reach below the eye line (0.6 · W) by at least a quarter of the width.
    pub fn new(width: u32, height: u32) -> Result<Self> {
        if !(16..=8192).contains(&width) {
            return Err(FaceError::invalid(
                "token size",
                format!("width {width} is outside 16..=8192"),
            ));
        }
        if f64::from(height) < 0.85 * f64::from(width) || height > 16384 {
            return Err(FaceError::invalid(
                "token size",
                format!(
                    "height {height} leaves no room below the eye line at {} (width {width})",
                    0.6 * f64::from(width)
                ),
            ));
        }
        Ok(Self { width, height })
    }

    /// The geometry of the standard for width W: W × W / 0.75 (rounded).
    ///
    /// # Errors
    /// As [`TokenGeometry::new`].
    pub fn standard(width: u32) -> Result<Self> {
        Self::new(width, (f64::from(width) / 0.75).round() as u32)
    }

    /// Where the standard puts the eye centres in this image.
    pub fn eyes(&self) -> Eyes {
        let w = f64::from(self.width);
        Eyes {
            right: Point::new(0.375 * w, 0.6 * w),
            left: Point::new(0.625 * w - 1.0, 0.6 * w),
        }
    }
}

impl FromStr for TokenGeometry {
    type Err = FaceError;

    /// Parses `WxH` (e.g. `480x640`).
    fn from_str(s: &str) -> Result<Self> {
        let (w, h) = s
            .trim()
            .split_once(['x', 'X'])
            .ok_or_else(|| FaceError::invalid("token size", format!("`{s}` is not WxH")))?;
        let parse = |v: &str| {
            v.trim()
                .parse::<u32>()
                .map_err(|_| FaceError::invalid("token size", format!("`{s}` is not WxH")))
        };
        Self::new(parse(w)?, parse(h)?)
    }
}

impl std::fmt::Display for TokenGeometry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// A similarity transform `p ↦ (a·x − b·y + tx, b·x + a·y + ty)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    /// Scale times the cosine of the rotation.
    pub a: f64,
    /// Scale times the sine of the rotation.
    pub b: f64,
    /// Horizontal translation.
    pub tx: f64,
    /// Vertical translation.
    pub ty: f64,
}

impl Similarity {
    /// The similarity sending `from.right` to `to.right` and `from.left` to `to.left`;
    /// `None` when either pair of eyes coincides.
    pub fn between(from: &Eyes, to: &Eyes) -> Option<Self> {
        let (fx, fy) = (from.left.x - from.right.x, from.left.y - from.right.y);
        let (tx, ty) = (to.left.x - to.right.x, to.left.y - to.right.y);
        let d = fx * fx + fy * fy;
        if d < 1e-9 || tx * tx + ty * ty < 1e-9 {
            return None;
        }
        // (a + ib) = (t / f) as complex numbers.
        let a = (tx * fx + ty * fy) / d;
        let b = (ty * fx - tx * fy) / d;
        Some(Self {
            a,
            b,
            tx: to.right.x - (a * from.right.x - b * from.right.y),
            ty: to.right.y - (b * from.right.x + a * from.right.y),
        })
    }

    /// The image of `p`.
    pub fn apply(&self, p: Point) -> Point {
        Point::new(
            self.a * p.x - self.b * p.y + self.tx,
            self.b * p.x + self.a * p.y + self.ty,
        )
    }

    /// The scale factor.
    pub fn scale(&self) -> f64 {
        self.a.hypot(self.b)
    }
}

/// A token image and where its eyes are.
#[derive(Debug, Clone)]
pub struct Token {
    /// The picture.
    pub image: RgbImage,
    /// Its geometry.
    pub geometry: TokenGeometry,
    /// The eye centres in the token (exactly [`TokenGeometry::eyes`]).
    pub eyes: Eyes,
    /// The map from still pixels to token pixels.
    pub transform: Similarity,
    /// Fraction of the token's pixels that come from the still (the rest is fill).
    pub coverage: f64,
}

/// Cuts the token image of `geometry` out of `still`, the eyes at `eyes` in the still.
///
/// # Errors
/// [`FaceError::Invalid`] when the eyes are less than two pixels apart or the still is
/// empty.
pub fn make_token(still: &RgbImage, eyes: &Eyes, geometry: TokenGeometry) -> Result<Token> {
    if still.width() == 0 || still.height() == 0 {
        return Err(FaceError::invalid("still", "the image is empty"));
    }
    if eyes.distance() < 2.0 {
        return Err(FaceError::invalid(
            "eye centres",
            format!("{:.2} pixels apart", eyes.distance()),
        ));
    }
    let target = geometry.eyes();
    let forward = Similarity::between(eyes, &target)
        .ok_or_else(|| FaceError::invalid("eye centres", "they coincide"))?;
    let back = Similarity::between(&target, eyes)
        .ok_or_else(|| FaceError::invalid("eye centres", "they coincide"))?;
    let (tw, th) = (geometry.width, geometry.height);
    // Source region the token reads: the image of its corners, plus a margin.
    let corners = [
        back.apply(Point::new(-0.5, -0.5)),
        back.apply(Point::new(f64::from(tw) - 0.5, -0.5)),
        back.apply(Point::new(-0.5, f64::from(th) - 0.5)),
        back.apply(Point::new(f64::from(tw) - 0.5, f64::from(th) - 0.5)),
    ];
    let s = back.scale();
    let n = (s.floor() as u32).max(1);
    let margin = 2.0 * f64::from(n) + 2.0;
    let x0 = corners.iter().map(|p| p.x).fold(f64::INFINITY, f64::min) - margin;
    let y0 = corners.iter().map(|p| p.y).fold(f64::INFINITY, f64::min) - margin;
    let x1 = corners
        .iter()
        .map(|p| p.x)
        .fold(f64::NEG_INFINITY, f64::max)
        + margin;
    let y1 = corners
        .iter()
        .map(|p| p.y)
        .fold(f64::NEG_INFINITY, f64::max)
        + margin;
    let clamp_x = |v: f64| v.clamp(0.0, f64::from(still.width())) as i32;
    let clamp_y = |v: f64| v.clamp(0.0, f64::from(still.height())) as i32;
    let (rx0, ry0) = (clamp_x(x0.floor()), clamp_y(y0.floor()));
    let (rx1, ry1) = (clamp_x(x1.ceil()), clamp_y(y1.ceil()));
    let mut image = RgbImage::from_pixel(tw, th, TOKEN_FILL);
    if rx1 - rx0 < n as i32 || ry1 - ry0 < n as i32 {
        return Ok(Token {
            image,
            geometry,
            eyes: target,
            transform: forward,
            coverage: 0.0,
        });
    }
    let (src, region) = rgb_reduced(still, Rect::new(rx0, ry0, rx1 - rx0, ry1 - ry0), n);
    let (sw, sh) = (src.width() as f64, src.height() as f64);
    let nf = f64::from(n);
    let raw = src.as_raw();
    let stride = src.width() as usize * 3;
    let mut covered = 0usize;
    let out = image.as_mut();
    for ty in 0..th {
        for tx in 0..tw {
            let p = back.apply(Point::new(f64::from(tx), f64::from(ty)));
            // Still coordinate → reduced coordinate (reduced pixel i is centred at
            // region.x + n·i + (n − 1)/2).
            let xr = (p.x - f64::from(region.x) - (nf - 1.0) / 2.0) / nf;
            let yr = (p.y - f64::from(region.y) - (nf - 1.0) / 2.0) / nf;
            if xr < -0.5 || yr < -0.5 || xr > sw - 0.5 || yr > sh - 0.5 {
                continue;
            }
            covered += 1;
            let xr = xr.clamp(0.0, sw - 1.0);
            let yr = yr.clamp(0.0, sh - 1.0);
            let (xi, yi) = (xr.floor() as usize, yr.floor() as usize);
            let (fx, fy) = (xr - xi as f64, yr - yi as f64);
            let xj = (xi + 1).min(src.width() as usize - 1);
            let yj = (yi + 1).min(src.height() as usize - 1);
            let o = (ty as usize * tw as usize + tx as usize) * 3;
            for c in 0..3 {
                let p00 = f64::from(raw[yi * stride + xi * 3 + c]);
                let p10 = f64::from(raw[yi * stride + xj * 3 + c]);
                let p01 = f64::from(raw[yj * stride + xi * 3 + c]);
                let p11 = f64::from(raw[yj * stride + xj * 3 + c]);
                let v =
                    (p00 * (1.0 - fx) + p10 * fx) * (1.0 - fy) + (p01 * (1.0 - fx) + p11 * fx) * fy;
                out[o + c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    Ok(Token {
        image,
        geometry,
        eyes: target,
        transform: forward,
        coverage: covered as f64 / (f64::from(tw) * f64::from(th)),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_places_the_eyes() {
        let card = TokenGeometry::CARD.eyes();
        assert_eq!(card.right, Point::new(90.0, 144.0));
        assert_eq!(card.left, Point::new(149.0, 144.0));
        let dg2 = TokenGeometry::DG2.eyes();
        assert_eq!(dg2.right, Point::new(180.0, 288.0));
        assert_eq!(dg2.left, Point::new(299.0, 288.0));
        // 0.25 W pixels from eye to eye inclusive.
        assert_eq!(dg2.left.x - dg2.right.x + 1.0, 120.0);
        assert_eq!(TokenGeometry::standard(480).unwrap(), TokenGeometry::DG2);
        assert_eq!(
            "240x320".parse::<TokenGeometry>().unwrap(),
            TokenGeometry::CARD
        );
        assert!("240".parse::<TokenGeometry>().is_err());
        assert!("240x100".parse::<TokenGeometry>().is_err());
        assert!("8x10".parse::<TokenGeometry>().is_err());
        assert_eq!(TokenGeometry::DG2.to_string(), "480x640");
    }

    #[test]
    fn similarity_sends_eyes_onto_eyes() {
        let from = Eyes {
            right: Point::new(310.0, 420.0),
            left: Point::new(430.0, 455.0),
        };
        let to = TokenGeometry::DG2.eyes();
        let s = Similarity::between(&from, &to).unwrap();
        let r = s.apply(from.right);
        let l = s.apply(from.left);
        assert!(r.distance(to.right) < 1e-9 && l.distance(to.left) < 1e-9);
        assert!((s.scale() - 119.0 / from.distance()).abs() < 1e-12);
    }

    /// A still with two dark dots as eyes, rolled and scaled: the token puts the dots where
    /// the standard says.
    #[test]
    fn token_of_synthetic_eyes() {
        let eyes = Eyes {
            right: Point::new(700.0, 700.0),
            left: Point::new(940.0, 760.0),
        };
        let still = RgbImage::from_fn(1600, 1700, |x, y| {
            let p = Point::new(f64::from(x), f64::from(y));
            if p.distance(eyes.right) < 9.0 || p.distance(eyes.left) < 9.0 {
                Rgb([0, 0, 0])
            } else {
                Rgb([200, 180, 160])
            }
        });
        let t = make_token(&still, &eyes, TokenGeometry::CARD).unwrap();
        assert_eq!(t.image.dimensions(), (240, 320));
        assert_eq!(t.eyes, TokenGeometry::CARD.eyes());
        assert_eq!(t.coverage, 1.0);
        // Darkness centroid around each expected eye.
        for e in [t.eyes.right, t.eyes.left] {
            let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
            for y in (e.y as u32 - 8)..=(e.y as u32 + 8) {
                for x in (e.x as u32 - 8)..=(e.x as u32 + 8) {
                    let d = 200.0 - f64::from(t.image.get_pixel(x, y)[0]);
                    if d > 0.0 {
                        sx += d * f64::from(x);
                        sy += d * f64::from(y);
                        sw += d;
                    }
                }
            }
            let c = Point::new(sx / sw, sy / sw);
            assert!(c.distance(e) < 0.3, "dark centroid {c:?} for eye {e:?}");
        }
        // Background colour is kept; an eye pair too close is refused.
        assert_eq!(t.image.get_pixel(10, 10).0, [200, 180, 160]);
        let same = Eyes {
            right: eyes.right,
            left: eyes.right,
        };
        assert!(make_token(&still, &same, TokenGeometry::CARD).is_err());
    }

    #[test]
    fn outside_the_still_is_filled() {
        let still = RgbImage::from_pixel(100, 100, Rgb([10, 20, 30]));
        let eyes = Eyes {
            right: Point::new(40.0, 10.0),
            left: Point::new(60.0, 10.0),
        };
        let t = make_token(&still, &eyes, TokenGeometry::CARD).unwrap();
        assert_eq!(t.image.get_pixel(120, 5).0, TOKEN_FILL.0);
        assert_eq!(t.image.get_pixel(120, 200).0, [10, 20, 30]);
        assert!(t.coverage > 0.3 && t.coverage < 0.9, "{}", t.coverage);
    }
}
