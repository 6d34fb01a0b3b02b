//! A small synthetic finger generator for tests: a bent ridge grating with phase vortices.
//! Each vortex is exactly one minutia, at a known position, with a known direction.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod eval;

use image::GrayImage;
use std::f32::consts::{PI, TAU};

/// Deterministic xorshift generator in `[0, 1)`.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32) / (1u64 << 24) as f32
    }
    /// Approximately normal (sum of uniforms).
    pub fn normal(&mut self) -> f32 {
        (0..4).map(|_| self.next()).sum::<f32>() * 1.732 - 3.464
    }
}

/// A ground-truth minutia: pixel position and direction in the crate's convention.
#[derive(Debug, Clone, Copy)]
pub struct Truth {
    pub x: f32,
    pub y: f32,
    pub angle: f32,
}

/// A synthetic finger: an ellipse of ridges with `n` vortices, grey noise `noise` (std).
pub fn finger(seed: u64, w: u32, h: u32, n: usize, noise: f32) -> (GrayImage, Vec<Truth>) {
    let mut rng = Rng::new(seed);
    let period = 8.5 + 2.0 * rng.next();
    let alpha = rng.next() * PI;
    let bend = 0.3 + 0.5 * rng.next();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let (rx, ry) = (0.42 * w as f32, 0.45 * h as f32);
    // Vortices, at least 45 px apart and well inside the ellipse.
    let mut vort: Vec<(f32, f32, f32)> = Vec::new();
    let mut tries = 0;
    while vort.len() < n && tries < 10_000 {
        tries += 1;
        let x = cx + (rng.next() * 2.0 - 1.0) * rx * 0.8;
        let y = cy + (rng.next() * 2.0 - 1.0) * ry * 0.8;
        let e = ((x - cx) / rx).powi(2) + ((y - cy) / ry).powi(2);
        if e > 0.64 || vort.iter().any(|v| (v.0 - x).hypot(v.1 - y) < 45.0) {
            continue;
        }
        let s = if rng.next() < 0.5 { 1.0 } else { -1.0 };
        vort.push((x, y, s));
    }
    let phi0 = rng.next() * TAU;
    // Phase of the grating without vortices: plane wave along alpha, bent by a slow sine.
    let (ka, kb) = (alpha.cos(), alpha.sin());
    let base = |x: f32, y: f32| {
        let u = x * ka + y * kb;
        let v = -x * kb + y * ka;
        TAU / period * (u + bend * 25.0 * (v / 140.0).sin())
    };
    let mut img = GrayImage::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let (xf, yf) = (x as f32, y as f32);
            let e = ((xf - cx) / rx).powi(2) + ((yf - cy) / ry).powi(2);
            let g = if e <= 1.0 {
                let mut psi = base(xf, yf) + phi0;
                for &(vx, vy, s) in &vort {
                    psi += s * (yf - vy).atan2(xf - vx);
                }
                // Ridges (cos psi = 1) are dark; contrast fades near the edge.
                let fade = (1.0 - e).min(0.15) / 0.15;
                128.0 - 95.0 * fade * psi.cos()
            } else {
                235.0
            };
            let v = g + noise * rng.normal();
            img.put_pixel(x, y, image::Luma([v.clamp(0.0, 255.0) as u8]));
        }
    }
    // Direction: toward the side with the extra ridge, which for s = +1 is -r where r is the
    // local ridge direction (k rotated by +90 degrees in image coordinates).
    let truth = vort
        .iter()
        .map(|&(x, y, s)| {
            let eps = 0.5;
            let gx = (base(x + eps, y) - base(x - eps, y)) / (2.0 * eps);
            let gy = (base(x, y + eps) - base(x, y - eps)) / (2.0 * eps);
            let kn = gx.hypot(gy);
            let (kx, ky) = (gx / kn, gy / kn);
            let (rdx, rdy) = (-ky, kx);
            let (dx, dy) = (-s * rdx, -s * rdy);
            Truth {
                x,
                y,
                angle: (-dy).atan2(dx).rem_euclid(TAU),
            }
        })
        .collect();
    (img, truth)
}

/// Recall and precision of `found` against `truth` (greedy one-to-one matching within
/// `dist` pixels and `ang` radians).
pub fn score(
    found: &[rekam_minutiae::Minutia],
    truth: &[Truth],
    dist: f32,
    ang: f32,
) -> (usize, f32, f32) {
    let mut used = vec![false; found.len()];
    let mut hits = 0;
    for t in truth {
        let mut best: Option<(usize, f32)> = None;
        for (i, m) in found.iter().enumerate() {
            if used[i] {
                continue;
            }
            let d = (f32::from(m.x) - t.x).hypot(f32::from(m.y) - t.y);
            let mut da = (m.angle - t.angle).rem_euclid(TAU);
            if da > PI {
                da = TAU - da;
            }
            if d <= dist && da <= ang && best.is_none_or(|b| d < b.1) {
                best = Some((i, d));
            }
        }
        if let Some((i, _)) = best {
            used[i] = true;
            hits += 1;
        }
    }
    let recall = hits as f32 / truth.len().max(1) as f32;
    let precision = hits as f32 / found.len().max(1) as f32;
    (hits, recall, precision)
}
