//! Image degradations for quality-scorer validation.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::util::{gaussian_blur, hash_gauss, to_u8};

/// An image degradation with a strength in `0..=1` (0 = unchanged; values outside are
/// clamped, NaN counts as 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Degradation {
    /// Gaussian blur, sigma = 4 px × strength.
    Blur(f32),
    /// Additive Gaussian-like noise, standard deviation = 60 grey levels × strength.
    Noise(f32),
    /// Faint print: the distance of every pixel from white shrinks by 90 % × strength.
    LowContrast(f32),
    /// Missing print area: the fraction `strength` of the print's dark pixels, cut off by a
    /// straight edge in a seed-chosen direction, is erased to white.
    Partial(f32),
}

fn strength(s: f32) -> f32 {
    if s.is_finite() {
        s.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Apply one degradation to a grey image (deterministic for a given `seed`).
pub fn degrade(img: &image::GrayImage, d: Degradation, seed: u64) -> image::GrayImage {
    let (w, h) = img.dimensions();
    let mut out = img.clone();
    match d {
        Degradation::Blur(s) => {
            let s = strength(s);
            if s > 0.0 {
                let mut f: Vec<f32> = img.as_raw().iter().map(|&v| f32::from(v)).collect();
                gaussian_blur(&mut f, w as usize, h as usize, 4.0 * s);
                for (o, v) in out.iter_mut().zip(f) {
                    *o = to_u8(v);
                }
            }
        }
        Degradation::Noise(s) => {
            let s = strength(s);
            if s > 0.0 {
                for (i, o) in out.iter_mut().enumerate() {
                    let x = (i % w.max(1) as usize) as u32;
                    let y = (i / w.max(1) as usize) as u32;
                    *o = to_u8(f32::from(*o) + 60.0 * s * hash_gauss(x, y, seed));
                }
            }
        }
        Degradation::LowContrast(s) => {
            let s = strength(s);
            if s > 0.0 {
                let k = 1.0 - 0.9 * s;
                for o in out.iter_mut() {
                    *o = to_u8(255.0 - (255.0 - f32::from(*o)) * k);
                }
            }
        }
        Degradation::Partial(s) => {
            let s = strength(s);
            if s > 0.0 {
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0BAD_5EED);
                let a = rng.random_range(0.0f32..std::f32::consts::TAU);
                let (ny, nx) = a.sin_cos();
                let mut proj: Vec<f32> = Vec::new();
                for (x, y, p) in img.enumerate_pixels() {
                    if p.0[0] < 160 {
                        proj.push(x as f32 * nx + y as f32 * ny);
                    }
                }
                if !proj.is_empty() {
                    proj.sort_by(f32::total_cmp);
                    let keep = ((1.0 - s) * proj.len() as f32).floor() as usize;
                    // Everything beyond the `keep`-th dark pixel along the direction goes.
                    let thr = if keep == 0 {
                        f32::NEG_INFINITY
                    } else {
                        proj[(keep - 1).min(proj.len() - 1)]
                    };
                    for (x, y, p) in out.enumerate_pixels_mut() {
                        if x as f32 * nx + y as f32 * ny > thr {
                            p.0[0] = 255;
                        }
                    }
                }
            }
        }
    }
    out
}
