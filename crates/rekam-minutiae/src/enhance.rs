//! Oriented enhancement and binarisation: a Gaussian along the ridges followed by a
//! zero-mean Gabor profile across them (tuned to the local ridge period); the sign of the
//! response separates ridges from valleys.

use crate::field::{CELL, Field, MAX_PERIOD, MIN_PERIOD, PAD, Padded};
use std::f32::consts::PI;

/// Orientation bins over `[0, π)`.
const NORI: usize = 32;
/// Period bins, from [`MIN_PERIOD`] in steps of [`PERIOD_STEP`].
const PERIOD_STEP: f32 = 0.5;
const NPER: usize = ((MAX_PERIOD - MIN_PERIOD) / PERIOD_STEP) as usize + 1;
/// Half length of the smoothing along the ridges, pixels.
const ALONG_HALF: isize = 5;
const ALONG_SIGMA: f32 = 2.5;
/// Largest half length of the profile across the ridges, pixels (must stay below `PAD` and
/// within the two-cell dilation of the foreground).
const ACROSS_MAX: isize = 10;
const _: () = assert!(ALONG_HALF + ACROSS_MAX < PAD as isize);

type Kernel = Vec<(isize, f32)>;

struct Kernels {
    along: Vec<Kernel>,
    across: Vec<Kernel>,
}

impl Kernels {
    fn new(pw: usize) -> Self {
        let pw = pw as isize;
        let mut along = Vec::with_capacity(NORI);
        let mut across = Vec::with_capacity(NORI * NPER);
        for o in 0..NORI {
            let t = (o as f32 + 0.5) * PI / NORI as f32;
            let (rx, ry) = (t.cos(), t.sin());
            let mut k: Kernel = Vec::new();
            let mut sum = 0f32;
            for s in -ALONG_HALF..=ALONG_HALF {
                let dx = (s as f32 * rx).round() as isize;
                let dy = (s as f32 * ry).round() as isize;
                let w = (-(s * s) as f32 / (2.0 * ALONG_SIGMA * ALONG_SIGMA)).exp();
                sum += w;
                k.push((dy * pw + dx, w));
            }
            for e in &mut k {
                e.1 /= sum;
            }
            along.push(k);
            let (nx, ny) = (-ry, rx);
            for pi in 0..NPER {
                let period = MIN_PERIOD + pi as f32 * PERIOD_STEP;
                let sigma = 0.45 * period;
                let half = ((1.6 * sigma).ceil() as isize).min(ACROSS_MAX);
                let mut k: Kernel = Vec::new();
                for t in -half..=half {
                    let tf = t as f32;
                    let w =
                        (-(tf * tf) / (2.0 * sigma * sigma)).exp() * (2.0 * PI * tf / period).cos();
                    let dx = (tf * nx).round() as isize;
                    let dy = (tf * ny).round() as isize;
                    k.push((dy * pw + dx, w));
                }
                // Zero mean: the response ignores the local brightness.
                let mean = k.iter().map(|e| e.1).sum::<f32>() / k.len() as f32;
                let norm = k.iter().map(|e| (e.1 - mean).abs()).sum::<f32>().max(1e-6);
                for e in &mut k {
                    e.1 = (e.1 - mean) / norm;
                }
                across.push(k);
            }
        }
        Self { along, across }
    }
}

#[inline]
fn ori_bin(theta: f32) -> usize {
    ((theta / PI * NORI as f32) as usize).min(NORI - 1)
}

#[inline]
fn per_bin(period: f32) -> usize {
    (((period - MIN_PERIOD) / PERIOD_STEP).round() as usize).min(NPER - 1)
}

/// Binarised ridges of the foreground: a padded buffer (`pw * ph`), 1 = ridge, 0 = valley or
/// background; and per cell the mean magnitude of the filter response (0 outside the
/// foreground), which measures how much ridge structure at the expected period and
/// orientation the cell has.
pub(crate) fn enhance(p: &Padded, f: &Field) -> (Vec<u8>, Vec<f32>) {
    let (cw, ch) = (f.cw, f.ch);
    let kernels = Kernels::new(p.pw);
    // Cells whose along-ridge smoothing the across-ridge profile may read: the foreground
    // dilated by two cells.
    let mut need = vec![false; cw * ch];
    for cy in 0..ch {
        for cx in 0..cw {
            if f.mask[cy * cw + cx] {
                for ny in cy.saturating_sub(2)..(cy + 3).min(ch) {
                    for nx in cx.saturating_sub(2)..(cx + 3).min(cw) {
                        need[ny * cw + nx] = true;
                    }
                }
            }
        }
    }
    let mut smooth = vec![0f32; p.pw * p.ph];
    let d = &p.data;
    for cy in 0..ch {
        for cx in 0..cw {
            let c = cy * cw + cx;
            if !need[c] {
                continue;
            }
            let k = &kernels.along[ori_bin(f.theta[c])];
            let (x0, y0) = (cx * CELL, cy * CELL);
            let (x1, y1) = ((x0 + CELL).min(p.w), (y0 + CELL).min(p.h));
            for y in y0..y1 {
                let base = p.idx(0, y);
                for x in x0..x1 {
                    let i = base + x;
                    let mut acc = 0f32;
                    for &(off, w) in k {
                        acc += w * d[i.wrapping_add_signed(off)];
                    }
                    smooth[i] = acc;
                }
            }
        }
    }
    let mut out = vec![0u8; p.pw * p.ph];
    let mut strength = vec![0f32; cw * ch];
    for cy in 0..ch {
        for cx in 0..cw {
            let c = cy * cw + cx;
            if !f.mask[c] {
                continue;
            }
            let k = &kernels.across[ori_bin(f.theta[c]) * NPER + per_bin(f.period[c])];
            let (x0, y0) = (cx * CELL, cy * CELL);
            let (x1, y1) = ((x0 + CELL).min(p.w), (y0 + CELL).min(p.h));
            let mut mag = 0f32;
            for y in y0..y1 {
                let base = p.idx(0, y);
                for x in x0..x1 {
                    let i = base + x;
                    let mut acc = 0f32;
                    for &(off, w) in k {
                        acc += w * smooth[i.wrapping_add_signed(off)];
                    }
                    // Ridges are dark: a negative response is a ridge.
                    out[i] = u8::from(acc < 0.0);
                    mag += acc.abs();
                }
            }
            strength[c] = mag / ((x1 - x0) * (y1 - y0)) as f32;
        }
    }
    (out, strength)
}
