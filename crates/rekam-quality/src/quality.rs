//! Per-finger image quality on the 0–100 scale of NFIQ 2.
//!
//! # Features
//!
//! The image (8-bit grey, 500 ppi, ridges dark) is tiled into blocks of [`BLOCK_SIZE`]² pixels
//! (32×32, as NFIQ 2; the grid is centred and the leftover margin ignored). A block is
//! *foreground* when, on a 3×3 box-blurred copy of the image, its grey-level standard
//! deviation exceeds [`FOREGROUND_STD`] and its orientation certainty exceeds
//! [`FOREGROUND_OCL`]; then isolated blocks are dropped and holes filled. (NFIQ 2 thresholds
//! the standard deviation alone; the blur and the orientation test keep blocks of pure
//! sensor noise out of the foreground, which would otherwise grow with noise.) Every feature
//! is computed on the original pixels of the foreground blocks:
//!
//! | field | NFIQ 2 name | what it is | better when |
//! | --- | --- | --- | --- |
//! | `ocl` | OCL | orientation certainty level `1 − λmin/λmax` of the covariance of the centred-difference grey gradients of the block, mean over blocks | higher |
//! | `lcs` | LCS | local clarity score: the block is sampled (bilinear) in a 32×16 window centred on it and rotated so its long side runs across the ridges; the column means are the ridge–valley *signature*, its least-squares line the ridge/valley threshold; `1 − (α + β)/2` with α, β the fractions of valley (ridge) pixels on the wrong side of the threshold; 0 when the mean ridge width is outside 3–10 px or the valley width outside 2–10 px; mean over blocks | higher |
//! | `rvu` | RVUP | ridge–valley uniformity: standard deviation of `ln(ridge width / valley width)` over all complete ridge–valley pairs of all signatures (widths between sub-pixel threshold crossings, floored at 1 px; NFIQ 2 takes the plain ratio of integer run lengths, the log keeps the rare tiny run from dominating) | **lower** |
//! | `fda` | FDA | frequency domain analysis: in the DFT of the detrended signature, `(A(F) + 0.3·(A(F−1) + A(F+1))) / Σ A(k≥1)` around the strongest frequency F; mean over blocks | higher |
//! | `of` | OF | orientation flow: `1 −` mean over the blocks whose 8 neighbours are foreground of `(d − 4°) / (90° − 4°)`, `d` the mean orientation difference to the neighbours (0 when `d < 4°`) | higher |
//! | `mean`, `std` | MU, SIGMA | mean and standard deviation of the grey levels of the foreground pixels (reported, not used by the score: the print's edge inflates `std`) | — |
//! | `ridge_contrast` | — | standard deviation of the detrended signature, mean over blocks: the contrast of ridges against valleys, blind to the print's edge and damped against noise | higher |
//! | `foreground_fraction`, `foreground_area`, `foreground_blocks` | ImgProcROIArea | foreground share of the image, its area in pixels and in blocks | — / higher / — |
//! | `minutiae_count` | FJFX count | minutiae in the foreground, from the caller's extractor ([`assess_with_minutiae`], e.g. `rekam-minutiae`) or from the built-in proxy ([`assess`]): endings (crossing number 1) and bifurcations (3) of the Zhang–Suen skeleton of the locally binarised foreground, in the interior foreground only, candidates closer than 8 px to another dropped in pairs | higher |
//!
//! # Score
//!
//! NFIQ 2 maps its 69 features to a score with a random forest trained on operational
//! images that this project does not have, so this crate uses a transparent logistic model
//! instead. Each feature becomes an input in [0, 1] that grows with quality
//! ([`model_inputs`]: OCL, LCS, FDA and OF as they are, `1 / (1 + rvu)`, and
//! `1 − exp(−v / scale)` for ridge contrast ([`CONTRAST_SCALE`]), area ([`AREA_SCALE`]) and
//! minutiae ([`MINUTIAE_SCALE`])), and
//!
//! ```text
//! score = round(100 · σ(MODEL_BIAS + Σ MODEL_WEIGHTS[i] · input[i])),  σ(t) = 1 / (1 + e^−t)
//! ```
//!
//! An image with no foreground block scores 0. The weights are non-negative, so the score
//! never drops when a feature improves. They were **calibrated on synthetic data**: fingers
//! of `rekam-synth` (seeds 1–24, 800×750) degraded by blur, noise, low contrast and partial
//! print at strengths 0, 0.2, …, 1.0, with target quality `0.95 − 0.9 · strength`; the fit is
//! a logistic regression (cross-entropy) with a hinge ranking term that asks each stronger
//! degradation of the same finger to score lower, and a weak pull of all weights towards 1
//! so that every NFIQ 2 feature keeps a say (`examples/calibrate.rs` re-runs it and prints
//! the constants). The scale therefore reads "how far from a clean capture, in the ways a
//! capture goes wrong"; it has **not** been calibrated against NFIQ 2 scores of real images,
//! and should be re-calibrated (same example) once real captures with NFIQ 2 scores or
//! match outcomes exist, and when the minutiae count comes from `rekam-minutiae` instead
//! of the proxy (its counts have another scale).
//!
//! # Verdict
//!
//! [`RECAPTURE_BELOW`] and [`GOOD_FROM`] split the scale into [`Verdict`]s for the
//! enrollment station. On the synthetic validation set (`VALIDATION.md`) clean fingers
//! score 73–83, a typical live re-capture (`Impression::random(seed, 0.3)` of
//! `rekam-synth`) 57–78, and a blur of σ ≈ 2.4 px, 60 % of the print missing or a contrast
//! under 30 % fall below [`RECAPTURE_BELOW`] or near it.

use image::GrayImage;

use crate::minutiae_proxy;

/// Side of the square blocks features are computed on (pixels at 500 ppi), as in NFIQ 2.
pub const BLOCK_SIZE: u32 = 32;

/// A block is foreground when the standard deviation of its grey levels, after a 3×3 box
/// blur, exceeds this ...
pub const FOREGROUND_STD: f32 = 6.0;

/// ... and the orientation certainty of the blurred block exceeds this.
pub const FOREGROUND_OCL: f32 = 0.25;

/// Scores below this ask for a recapture ([`Verdict::Recapture`]).
pub const RECAPTURE_BELOW: u8 = 40;

/// Scores from this up are [`Verdict::Good`]; between [`RECAPTURE_BELOW`] and this,
/// [`Verdict::Acceptable`].
pub const GOOD_FROM: u8 = 65;

/// Number of model inputs (see [`model_inputs`]).
pub const MODEL_INPUTS: usize = 8;

/// Names of the model inputs, in the order of [`model_inputs`] and [`MODEL_WEIGHTS`].
pub const MODEL_INPUT_NAMES: [&str; MODEL_INPUTS] = [
    "ocl", "lcs", "fda", "rvu", "of", "contrast", "area", "minutiae",
];

/// Weights of the logistic model, in the order of [`MODEL_INPUT_NAMES`] (calibrated on
/// synthetic data, see the module docs).
pub const MODEL_WEIGHTS: [f32; MODEL_INPUTS] = [4.47, 0.81, 0.34, 1.27, 0.73, 4.92, 1.58, 1.89];

/// Bias of the logistic model.
pub const MODEL_BIAS: f32 = -11.78;

/// Scale (grey levels) of the ridge-contrast input `1 − exp(−ridge_contrast / CONTRAST_SCALE)`.
pub const CONTRAST_SCALE: f32 = 40.0;

/// Scale (pixels) of the area input `1 − exp(−area / AREA_SCALE)`: 60 000 px is 155 mm² at
/// 500 ppi, about half of a flat fingertip.
pub const AREA_SCALE: f32 = 60_000.0;

/// Scale of the minutiae input `1 − exp(−count / MINUTIAE_SCALE)`.
pub const MINUTIAE_SCALE: f32 = 40.0;

/// Minimum orientation difference (degrees) that counts in the orientation flow, as NFIQ 2.
const OF_ANGLE_MIN_DEG: f32 = 4.0;

/// Slanted window: samples across the ridges.
const SLANT_ACROSS: usize = 32;
/// Slanted window: samples along the ridges.
const SLANT_ALONG: usize = 16;

/// The recapture decision for one finger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Score at least [`GOOD_FROM`]: keep.
    Good,
    /// Score in [`RECAPTURE_BELOW`], [`GOOD_FROM`]): keep if a better capture is not
    /// possible.
    Acceptable,
    /// Score below [`RECAPTURE_BELOW`]: capture again.
    Recapture,
}

impl Verdict {
    /// The verdict for a score, from [`RECAPTURE_BELOW`] and [`GOOD_FROM`].
    pub fn from_score(score: u8) -> Self {
        if score >= GOOD_FROM {
            Verdict::Good
        } else if score >= RECAPTURE_BELOW {
            Verdict::Acceptable
        } else {
            Verdict::Recapture
        }
    }
}

/// The quality features of one finger image (see the module docs for each definition).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct QualityFeatures {
    /// Orientation certainty level, mean over foreground blocks, 0–1 (higher is better).
    pub ocl: f32,
    /// Local clarity score, mean over foreground blocks, 0–1 (higher is better).
    pub lcs: f32,
    /// Ridge–valley uniformity: standard deviation of ridge/valley width ratios (lower is
    /// better; 0 when no complete ridge–valley pair was found).
    pub rvu: f32,
    /// Frequency domain analysis, mean over foreground blocks, 0–1 (higher is better).
    pub fda: f32,
    /// Orientation flow, 0–1 (higher is better: 1 = orientation changes smoothly everywhere).
    pub of: f32,
    /// Foreground share of the image, 0–1.
    pub foreground_fraction: f32,
    /// Foreground area in pixels.
    pub foreground_area: u32,
    /// Number of foreground blocks.
    pub foreground_blocks: u32,
    /// Mean grey level of the foreground pixels.
    pub mean: f32,
    /// Standard deviation of the grey levels of the foreground pixels.
    pub std: f32,
    /// Ridge contrast: mean over foreground blocks of the standard deviation of the
    /// detrended ridge–valley signature (grey levels). Unlike `std` it ignores the step at
    /// the edge of the print and most of the sensor noise (the signature averages 16 pixels
    /// along the ridges), so it measures how well ridges stand out from valleys.
    pub ridge_contrast: f32,
    /// Minutiae in the foreground (from the caller's extractor, or the built-in proxy).
    pub minutiae_count: u32,
    /// `true` when `minutiae_count` came from the caller ([`assess_with_minutiae`]),
    /// `false` when it is the built-in skeleton proxy.
    pub minutiae_from_extractor: bool,
}

/// The quality of one finger image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityReport {
    /// Quality score, 0 (unusable) to 100 (excellent).
    pub score: u8,
    /// The features the score was computed from.
    pub features: QualityFeatures,
    /// What the station should do with the capture.
    pub verdict: Verdict,
}

/// Scores one finger image (8-bit grey, 500 ppi) with the built-in minutiae proxy.
pub fn assess(img: &GrayImage) -> QualityReport {
    assess_opt(img, None)
}

/// Scores one finger image with the minutiae count of an external extractor (for example
/// `rekam-minutiae`), counted on the same image.
pub fn assess_with_minutiae(img: &GrayImage, minutiae_count: u32) -> QualityReport {
    assess_opt(img, Some(minutiae_count))
}

/// Scores one finger image; `minutiae_count` is the count of an external extractor, or
/// `None` to use the built-in proxy (see the module docs).
pub fn assess_opt(img: &GrayImage, minutiae_count: Option<u32>) -> QualityReport {
    let features = features(img, minutiae_count);
    let score = score_features(&features);
    QualityReport {
        score,
        features,
        verdict: Verdict::from_score(score),
    }
}

/// The model inputs of a feature set, each in [0, 1] and growing with quality, in the order
/// of [`MODEL_INPUT_NAMES`].
pub fn model_inputs(f: &QualityFeatures) -> [f32; MODEL_INPUTS] {
    let sat = |v: f32, scale: f32| 1.0 - (-v.max(0.0) / scale).exp();
    [
        f.ocl.clamp(0.0, 1.0),
        f.lcs.clamp(0.0, 1.0),
        f.fda.clamp(0.0, 1.0),
        1.0 / (1.0 + f.rvu.max(0.0)),
        f.of.clamp(0.0, 1.0),
        sat(f.ridge_contrast, CONTRAST_SCALE),
        sat(f.foreground_area as f32, AREA_SCALE),
        sat(f.minutiae_count as f32, MINUTIAE_SCALE),
    ]
}

/// The logistic model with explicit weights (used by the calibration example); returns
/// the score before rounding, 0–100.
pub fn logistic_score(
    inputs: &[f32; MODEL_INPUTS],
    weights: &[f32; MODEL_INPUTS],
    bias: f32,
) -> f32 {
    let t = bias + inputs.iter().zip(weights).map(|(x, w)| x * w).sum::<f32>();
    100.0 / (1.0 + (-t).exp())
}

/// The 0–100 score of a feature set (0 when there is no foreground).
pub fn score_features(f: &QualityFeatures) -> u8 {
    if f.foreground_blocks == 0 {
        return 0;
    }
    let s = logistic_score(&model_inputs(f), &MODEL_WEIGHTS, MODEL_BIAS);
    s.round().clamp(0.0, 100.0) as u8
}

/// The block grid laid over an image: `bw`×`bh` blocks of `block` pixels, the grid centred
/// so the leftover margin is split between both sides.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid {
    pub block: usize,
    pub bw: usize,
    pub bh: usize,
    pub ox: usize,
    pub oy: usize,
}

impl Grid {
    pub(crate) fn new(w: usize, h: usize, block: usize) -> Self {
        let block = block.max(1);
        let (bw, bh) = (w / block, h / block);
        Grid {
            block,
            bw,
            bh,
            ox: (w - bw * block) / 2,
            oy: (h - bh * block) / 2,
        }
    }
}

/// Sums over one block.
#[derive(Debug, Clone, Copy, Default)]
struct BlockSums {
    n: u32,
    sum: u64,
    sum2: u64,
    gxx: i64,
    gyy: i64,
    gxy: i64,
}

impl BlockSums {
    fn std(&self) -> f64 {
        let n = f64::from(self.n.max(1));
        let mean = self.sum as f64 / n;
        (self.sum2 as f64 / n - mean * mean).max(0.0).sqrt()
    }

    /// Orientation certainty level `1 − λmin/λmax` of the gradient covariance.
    fn ocl(&self) -> f64 {
        let (a, b, c) = (self.gxx as f64, self.gyy as f64, self.gxy as f64);
        let root = ((a - b) * (a - b) + 4.0 * c * c).sqrt();
        let lmax = (a + b + root) / 2.0;
        let lmin = (a + b - root) / 2.0;
        if lmax > 0.0 {
            (1.0 - lmin / lmax).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// Direction of the dominant gradient (the ridge normal), radians.
    fn normal_angle(&self) -> f32 {
        let (a, b, c) = (self.gxx as f64, self.gyy as f64, self.gxy as f64);
        (0.5 * (2.0 * c).atan2(a - b)) as f32
    }
}

/// Grey-level sums and centred-difference gradient covariances of every block.
fn block_sums<T: Copy + Into<i64>>(px: &[T], w: usize, h: usize, grid: &Grid) -> Vec<BlockSums> {
    let b = grid.block;
    let mut out = vec![BlockSums::default(); grid.bw * grid.bh];
    for by in 0..grid.bh {
        for y in grid.oy + by * b..grid.oy + (by + 1) * b {
            let row = &px[y * w..(y + 1) * w];
            let up = &px[y.saturating_sub(1) * w..][..w];
            let dn = &px[(y + 1).min(h - 1) * w..][..w];
            for bx in 0..grid.bw {
                let x0 = grid.ox + bx * b;
                let (mut s, mut s2) = (0i64, 0i64);
                let (mut xx, mut yy, mut xy) = (0i64, 0i64, 0i64);
                for x in x0..x0 + b {
                    let v: i64 = row[x].into();
                    s += v;
                    s2 += v * v;
                    let gx = row[(x + 1).min(w - 1)].into() - row[x.saturating_sub(1)].into();
                    let gy = dn[x].into() - up[x].into();
                    xx += gx * gx;
                    yy += gy * gy;
                    xy += gx * gy;
                }
                let o = &mut out[by * grid.bw + bx];
                o.n += b as u32;
                o.sum += s as u64;
                o.sum2 += s2 as u64;
                o.gxx += xx;
                o.gyy += yy;
                o.gxy += xy;
            }
        }
    }
    out
}

/// 3×3 box sums of the image (borders clamped): a cheap denoised copy, ×9.
fn box3(px: &[u8], w: usize, h: usize) -> Vec<u16> {
    let mut horiz = vec![0u16; w * h];
    for y in 0..h {
        let row = &px[y * w..(y + 1) * w];
        let out = &mut horiz[y * w..(y + 1) * w];
        for x in 0..w {
            let l = row[x.saturating_sub(1)];
            let r = row[(x + 1).min(w - 1)];
            out[x] = u16::from(l) + u16::from(row[x]) + u16::from(r);
        }
    }
    let mut out = vec![0u16; w * h];
    for y in 0..h {
        let up = &horiz[y.saturating_sub(1) * w..][..w];
        let mid = &horiz[y * w..][..w];
        let dn = &horiz[(y + 1).min(h - 1) * w..][..w];
        let o = &mut out[y * w..(y + 1) * w];
        for x in 0..w {
            o[x] = up[x] + mid[x] + dn[x];
        }
    }
    out
}

/// The foreground block mask (before cleaning): on the 3×3-smoothed image, the grey-level
/// standard deviation of the block exceeds [`FOREGROUND_STD`] and its orientation
/// certainty exceeds [`FOREGROUND_OCL`] (so blocks of pure sensor noise are background).
fn raw_foreground(px: &[u8], w: usize, h: usize, grid: &Grid) -> Vec<bool> {
    let smooth = box3(px, w, h);
    block_sums(&smooth, w, h, grid)
        .iter()
        .map(|s| s.std() / 9.0 > f64::from(FOREGROUND_STD) && s.ocl() > f64::from(FOREGROUND_OCL))
        .collect()
}

/// Removes isolated foreground blocks and fills one-block holes.
pub(crate) fn clean_mask(mask: &[bool], bw: usize, bh: usize) -> Vec<bool> {
    let mut out = mask.to_vec();
    for by in 0..bh {
        for bx in 0..bw {
            let mut n = 0;
            let mut total = 0;
            for dy in -1i32..=1 {
                for dx in -1i32..=1 {
                    if dx == 0 && dy == 0 {
                        continue;
                    }
                    let (x, y) = (bx as i32 + dx, by as i32 + dy);
                    if x < 0 || y < 0 || x >= bw as i32 || y >= bh as i32 {
                        continue;
                    }
                    total += 1;
                    if mask[y as usize * bw + x as usize] {
                        n += 1;
                    }
                }
            }
            let i = by * bw + bx;
            if mask[i] && n <= 1 {
                out[i] = false;
            } else if !mask[i] && total > 0 && n * 4 >= total * 3 && n >= 5 {
                out[i] = true;
            }
        }
    }
    out
}

/// Bilinear sample with clamping at the borders.
#[inline]
fn sample(px: &[u8], w: usize, h: usize, x: f32, y: f32) -> f32 {
    let xf = x.clamp(0.0, (w - 1) as f32);
    let yf = y.clamp(0.0, (h - 1) as f32);
    let x0 = xf as usize;
    let y0 = yf as usize;
    let x1 = (x0 + 1).min(w - 1);
    let y1 = (y0 + 1).min(h - 1);
    let fx = xf - x0 as f32;
    let fy = yf - y0 as f32;
    let p00 = f32::from(px[y0 * w + x0]);
    let p01 = f32::from(px[y0 * w + x1]);
    let p10 = f32::from(px[y1 * w + x0]);
    let p11 = f32::from(px[y1 * w + x1]);
    let top = p00 + (p01 - p00) * fx;
    let bot = p10 + (p11 - p10) * fx;
    top + (bot - top) * fy
}

/// DFT tables for a signature of `SLANT_ACROSS` samples, frequencies 0..=N/2.
struct DftTables {
    cos: [[f32; SLANT_ACROSS]; SLANT_ACROSS / 2 + 1],
    sin: [[f32; SLANT_ACROSS]; SLANT_ACROSS / 2 + 1],
}

impl DftTables {
    fn new() -> Self {
        let mut cos = [[0.0; SLANT_ACROSS]; SLANT_ACROSS / 2 + 1];
        let mut sin = [[0.0; SLANT_ACROSS]; SLANT_ACROSS / 2 + 1];
        for (k, (c, s)) in cos.iter_mut().zip(sin.iter_mut()).enumerate() {
            for u in 0..SLANT_ACROSS {
                let a = 2.0 * std::f32::consts::PI * (k * u) as f32 / SLANT_ACROSS as f32;
                c[u] = a.cos();
                s[u] = a.sin();
            }
        }
        DftTables { cos, sin }
    }
}

/// Per-block results of the slanted-window analysis.
struct SlantResult {
    lcs: f32,
    fda: f32,
    /// Standard deviation of the detrended signature (grey levels).
    amplitude: f32,
}

/// Samples the 32×16 window centred at (`cx`, `cy`) rotated so its long side runs along the
/// ridge normal `phi`, and computes LCS, FDA and the ridge/valley width ratios.
#[allow(clippy::too_many_arguments)]
fn slanted_block(
    px: &[u8],
    w: usize,
    h: usize,
    cx: f32,
    cy: f32,
    phi: f32,
    dft: &DftTables,
    ratios: &mut Vec<f32>,
) -> SlantResult {
    let (s, c) = phi.sin_cos();
    // n = (c, s) across the ridges, t = (-s, c) along them.
    let mut win = [[0.0f32; SLANT_ACROSS]; SLANT_ALONG];
    let mut sig = [0.0f32; SLANT_ACROSS];
    for (v, row) in win.iter_mut().enumerate() {
        let dv = v as f32 - (SLANT_ALONG as f32 - 1.0) / 2.0;
        let bx = cx - s * dv;
        let by = cy + c * dv;
        for (u, cell) in row.iter_mut().enumerate() {
            let du = u as f32 - (SLANT_ACROSS as f32 - 1.0) / 2.0;
            let val = sample(px, w, h, bx + c * du, by + s * du);
            *cell = val;
            sig[u] += val;
        }
    }
    for v in sig.iter_mut() {
        *v /= SLANT_ALONG as f32;
    }
    // Least-squares line through the signature: the ridge/valley threshold.
    let n = SLANT_ACROSS as f32;
    let mean_u = (n - 1.0) / 2.0;
    let mean_s = sig.iter().sum::<f32>() / n;
    let (mut suu, mut sus) = (0.0f32, 0.0f32);
    for (u, &v) in sig.iter().enumerate() {
        let du = u as f32 - mean_u;
        suu += du * du;
        sus += du * (v - mean_s);
    }
    let slope = if suu > 0.0 { sus / suu } else { 0.0 };
    let mut dt = [0.0f32; SLANT_ACROSS];
    for (u, d) in dt.iter_mut().enumerate() {
        *d = mean_s + slope * (u as f32 - mean_u);
    }
    let ridge: [bool; SLANT_ACROSS] = std::array::from_fn(|u| sig[u] < dt[u]);
    let amplitude = (sig
        .iter()
        .zip(&dt)
        .map(|(v, d)| (v - d) * (v - d))
        .sum::<f32>()
        / n)
        .sqrt();

    // Ridge/valley boundaries with sub-pixel precision: zero crossings of the detrended
    // signature, linearly interpolated.
    // (position, whether the run after it is a ridge)
    let mut crossings: [(f32, bool); SLANT_ACROSS] = [(0.0, false); SLANT_ACROSS];
    let mut n_cross = 0;
    for u in 0..SLANT_ACROSS - 1 {
        if ridge[u] != ridge[u + 1] {
            let (d0, d1) = (sig[u] - dt[u], sig[u + 1] - dt[u + 1]);
            let t = if (d0 - d1).abs() > 1e-6 {
                d0 / (d0 - d1)
            } else {
                0.5
            };
            crossings[n_cross] = (u as f32 + t.clamp(0.0, 1.0), ridge[u + 1]);
            n_cross += 1;
        }
    }
    let crossings = &crossings[..n_cross];

    // FDA on the detrended signature.
    let mut amp = [0.0f32; SLANT_ACROSS / 2 + 1];
    for (k, a) in amp.iter_mut().enumerate().skip(1) {
        let (mut re, mut im) = (0.0f32, 0.0f32);
        for u in 0..SLANT_ACROSS {
            let d = sig[u] - dt[u];
            re += d * dft.cos[k][u];
            im -= d * dft.sin[k][u];
        }
        *a = (re * re + im * im).sqrt();
    }
    let total: f32 = amp[1..].iter().sum();
    let fda = if total > 1e-6 {
        let mut f = 1;
        for k in 1..SLANT_ACROSS / 2 {
            if amp[k] > amp[f] {
                f = k;
            }
        }
        let side = amp[f - 1] + amp[f + 1];
        ((amp[f] + 0.3 * side) / total).clamp(0.0, 1.0)
    } else {
        0.0
    };

    // Complete runs lie between two crossings (the window cuts the first and the last).
    let (mut wr, mut nr, mut wv, mut nv) = (0.0f32, 0u32, 0.0f32, 0u32);
    let mut prev_ridge: Option<f32> = None;
    for pair in crossings.windows(2) {
        let width = pair[1].0 - pair[0].0;
        if pair[0].1 {
            wr += width;
            nr += 1;
            prev_ridge = Some(width);
        } else {
            wv += width;
            nv += 1;
            if let Some(r) = prev_ridge.take() {
                // Widths under one pixel are threshold wiggles; floor them so one cannot
                // dominate the spread.
                ratios.push((r.max(1.0) / width.max(1.0)).ln());
            }
        }
    }
    if nr == 0 || nv == 0 {
        return SlantResult {
            lcs: 0.0,
            fda,
            amplitude,
        };
    }
    let (mean_r, mean_v) = (wr / nr as f32, wv / nv as f32);
    let widths_ok = (3.0..=10.0).contains(&mean_r) && (2.0..=10.0).contains(&mean_v);
    let lcs = if widths_ok {
        let (mut ridge_bad, mut ridge_n, mut valley_bad, mut valley_n) = (0u32, 0u32, 0u32, 0u32);
        for row in &win {
            for u in 0..SLANT_ACROSS {
                if ridge[u] {
                    ridge_n += 1;
                    if row[u] >= dt[u] {
                        ridge_bad += 1;
                    }
                } else {
                    valley_n += 1;
                    if row[u] < dt[u] {
                        valley_bad += 1;
                    }
                }
            }
        }
        let alpha = valley_bad as f32 / valley_n.max(1) as f32;
        let beta = ridge_bad as f32 / ridge_n.max(1) as f32;
        1.0 - (alpha + beta) / 2.0
    } else {
        0.0
    };
    SlantResult {
        lcs,
        fda,
        amplitude,
    }
}

/// Smallest difference between two orientations (radians, modulo π), in [0, π/2].
fn orientation_diff(a: f32, b: f32) -> f32 {
    let pi = std::f32::consts::PI;
    let d = (a - b).rem_euclid(pi);
    d.min(pi - d)
}

/// Computes the quality features of a finger image. `minutiae_count` is an external
/// extractor's count, or `None` for the built-in proxy.
pub fn features(img: &GrayImage, minutiae_count: Option<u32>) -> QualityFeatures {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let px = img.as_raw().as_slice();
    let grid = Grid::new(w, h, BLOCK_SIZE as usize);
    let mut f = QualityFeatures {
        minutiae_count: minutiae_count.unwrap_or(0),
        minutiae_from_extractor: minutiae_count.is_some(),
        ..QualityFeatures::default()
    };
    if grid.bw == 0 || grid.bh == 0 || px.len() < w * h {
        return f;
    }
    let sums = block_sums(px, w, h, &grid);
    let raw_mask = raw_foreground(px, w, h, &grid);
    let mask = clean_mask(&raw_mask, grid.bw, grid.bh);
    let fg_blocks = mask.iter().filter(|&&m| m).count();
    if fg_blocks == 0 {
        return f;
    }
    let block_px = grid.block * grid.block;
    f.foreground_blocks = fg_blocks as u32;
    f.foreground_area = (fg_blocks * block_px) as u32;
    f.foreground_fraction = (fg_blocks * block_px) as f32 / (w * h) as f32;

    // Grey-level statistics of the foreground.
    let (mut n, mut s, mut s2) = (0u64, 0u64, 0u64);
    for (b, m) in sums.iter().zip(&mask) {
        if *m {
            n += u64::from(b.n);
            s += b.sum;
            s2 += b.sum2;
        }
    }
    let mean = s as f64 / n.max(1) as f64;
    f.mean = mean as f32;
    f.std = (s2 as f64 / n.max(1) as f64 - mean * mean).max(0.0).sqrt() as f32;

    // Orientation, OCL and the slanted-window features.
    let dft = DftTables::new();
    let mut orient = vec![0.0f32; sums.len()];
    let mut ratios: Vec<f32> = Vec::with_capacity(fg_blocks * 3);
    let (mut ocl_sum, mut lcs_sum, mut fda_sum, mut amp_sum) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for by in 0..grid.bh {
        for bx in 0..grid.bw {
            let i = by * grid.bw + bx;
            if !mask[i] {
                continue;
            }
            let b = &sums[i];
            ocl_sum += b.ocl();
            let phi = b.normal_angle();
            orient[i] = phi;
            let cx = (grid.ox + bx * grid.block) as f32 + grid.block as f32 / 2.0 - 0.5;
            let cy = (grid.oy + by * grid.block) as f32 + grid.block as f32 / 2.0 - 0.5;
            let r = slanted_block(px, w, h, cx, cy, phi, &dft, &mut ratios);
            lcs_sum += f64::from(r.lcs);
            fda_sum += f64::from(r.fda);
            amp_sum += f64::from(r.amplitude);
        }
    }
    let nb = fg_blocks as f64;
    f.ocl = (ocl_sum / nb) as f32;
    f.lcs = (lcs_sum / nb) as f32;
    f.fda = (fda_sum / nb) as f32;
    f.ridge_contrast = (amp_sum / nb) as f32;
    f.rvu = if ratios.len() >= 2 {
        let m = ratios.iter().map(|&r| f64::from(r)).sum::<f64>() / ratios.len() as f64;
        let v = ratios
            .iter()
            .map(|&r| (f64::from(r) - m).powi(2))
            .sum::<f64>()
            / ratios.len() as f64;
        v.sqrt() as f32
    } else {
        0.0
    };
    f.of = orientation_flow(&orient, &mask, grid.bw, grid.bh);
    if minutiae_count.is_none() {
        f.minutiae_count = minutiae_proxy::count_minutiae(px, w, h, &grid, &mask);
    }
    f
}

/// NFIQ 2 orientation flow, reported as `1 − mean local deviation` (higher is better).
/// Blocks whose 8 neighbours are not all foreground are skipped; with none left, 0.
fn orientation_flow(orient: &[f32], mask: &[bool], bw: usize, bh: usize) -> f32 {
    let min = OF_ANGLE_MIN_DEG.to_radians();
    let span = std::f32::consts::FRAC_PI_2 - min;
    let (mut total, mut count) = (0.0f64, 0usize);
    for by in 1..bh.saturating_sub(1) {
        for bx in 1..bw.saturating_sub(1) {
            let i = by * bw + bx;
            let mut all = true;
            let mut dev = 0.0f32;
            for dy in 0..3 {
                for dx in 0..3 {
                    let j = (by + dy - 1) * bw + bx + dx - 1;
                    all &= mask[j];
                    dev += orientation_diff(orient[i], orient[j]);
                }
            }
            if !all {
                continue;
            }
            let loq = dev / 8.0;
            let q = if loq > min { (loq - min) / span } else { 0.0 };
            total += f64::from(q);
            count += 1;
        }
    }
    if count == 0 {
        0.0
    } else {
        (1.0 - total / count as f64) as f32
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Sinusoidal ridges (period `period` px, angle `angle`) inside an ellipse on white.
    pub(crate) fn ridge_ellipse(w: u32, h: u32, period: f32, angle: f32, amp: f32) -> GrayImage {
        let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
        let (rx, ry) = (w as f32 * 0.4, h as f32 * 0.45);
        let (s, c) = angle.sin_cos();
        GrayImage::from_fn(w, h, |x, y| {
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            if (dx / rx).powi(2) + (dy / ry).powi(2) > 1.0 {
                return image::Luma([250]);
            }
            let t = (dx * c + dy * s) * 2.0 * std::f32::consts::PI / period;
            image::Luma([(128.0 + amp * t.cos()).round().clamp(0.0, 255.0) as u8])
        })
    }

    /// Deterministic pseudo-random noise (xorshift).
    pub(crate) fn noise_image(w: u32, h: u32, seed: u64) -> GrayImage {
        let mut s = seed | 1;
        GrayImage::from_fn(w, h, |_, _| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            image::Luma([(s >> 56) as u8])
        })
    }

    #[test]
    fn verdict_thresholds() {
        assert_eq!(Verdict::from_score(0), Verdict::Recapture);
        assert_eq!(Verdict::from_score(RECAPTURE_BELOW - 1), Verdict::Recapture);
        assert_eq!(Verdict::from_score(RECAPTURE_BELOW), Verdict::Acceptable);
        assert_eq!(Verdict::from_score(GOOD_FROM - 1), Verdict::Acceptable);
        assert_eq!(Verdict::from_score(GOOD_FROM), Verdict::Good);
        assert_eq!(Verdict::from_score(100), Verdict::Good);
    }

    #[test]
    fn flat_and_tiny_images_score_zero() {
        for img in [
            GrayImage::from_pixel(320, 320, image::Luma([255])),
            GrayImage::from_pixel(320, 320, image::Luma([0])),
            GrayImage::from_pixel(320, 320, image::Luma([128])),
            GrayImage::new(0, 0),
            GrayImage::from_pixel(31, 500, image::Luma([10])),
        ] {
            let r = assess(&img);
            assert_eq!(r.score, 0);
            assert_eq!(r.verdict, Verdict::Recapture);
            assert_eq!(r.features.foreground_blocks, 0);
        }
    }

    #[test]
    fn clean_ridges_have_high_block_features() {
        let img = ridge_ellipse(320, 384, 9.0, 0.6, 90.0);
        let f = features(&img, None);
        assert!(f.foreground_blocks > 40, "{f:?}");
        assert!(f.ocl > 0.8, "{f:?}");
        assert!(f.lcs > 0.7, "{f:?}");
        assert!(f.fda > 0.3, "{f:?}");
        assert!(f.of > 0.9, "{f:?}");
        assert!(f.rvu < 0.5, "{f:?}");
    }

    #[test]
    fn pure_noise_is_not_foreground() {
        let r = assess(&noise_image(320, 384, 7));
        assert_eq!(r.features.foreground_blocks, 0, "{r:?}");
        assert_eq!(r.score, 0);
    }

    #[test]
    fn noisy_ridges_score_lower_with_the_same_foreground() {
        let clean_img = ridge_ellipse(320, 384, 9.0, 0.6, 90.0);
        let noise = noise_image(320, 384, 11);
        let noisy_img = GrayImage::from_fn(320, 384, |x, y| {
            let n = i32::from(noise.get_pixel(x, y).0[0]) - 128;
            let v = i32::from(clean_img.get_pixel(x, y).0[0]) + n / 2;
            image::Luma([v.clamp(0, 255) as u8])
        });
        let clean = assess(&clean_img);
        let noisy = assess(&noisy_img);
        let (c, n) = (clean.features, noisy.features);
        assert!(
            n.foreground_blocks.abs_diff(c.foreground_blocks) <= c.foreground_blocks / 10,
            "{n:?}"
        );
        assert!(n.ocl < c.ocl - 0.2, "{n:?}");
        assert!(n.rvu > c.rvu, "{n:?}");
        assert!(n.lcs < c.lcs, "{n:?}");
        assert!(
            noisy.score + 5 < clean.score,
            "{} vs {}",
            noisy.score,
            clean.score
        );
    }

    #[test]
    fn external_minutiae_count_is_used() {
        let img = ridge_ellipse(320, 384, 9.0, 0.6, 90.0);
        let a = assess_with_minutiae(&img, 0);
        let b = assess_with_minutiae(&img, 80);
        assert_eq!(a.features.minutiae_count, 0);
        assert_eq!(b.features.minutiae_count, 80);
        assert!(a.features.minutiae_from_extractor && b.features.minutiae_from_extractor);
        assert!(!assess(&img).features.minutiae_from_extractor);
        assert!(b.score > a.score);
    }

    #[test]
    fn orientation_diff_wraps() {
        let pi = std::f32::consts::PI;
        assert!(orientation_diff(0.1, pi - 0.1) < 0.2 + 1e-5);
        assert!((orientation_diff(0.0, pi / 2.0) - pi / 2.0).abs() < 1e-5);
    }

    #[test]
    fn model_weights_are_non_negative() {
        assert!(MODEL_WEIGHTS.iter().all(|&w| w >= 0.0));
    }
}
