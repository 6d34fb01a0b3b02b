//! Subband variances, bin widths and scalar quantization.
//!
//! The bin widths follow the FBI's "encoder number one" parameter settings (WSQ specification
//! part 3): a width proportional to `1 / (A_k · ln σ²_k)` for each subband with a variance of at
//! least 1.01, with the proportionality constant chosen from a rate model for the requested bit
//! rate, and zero bins 1.2 times as wide. The arithmetic reproduces NBIS's mix of single and
//! double precision so that both encoders pick identical bins.

use crate::tree::{CODED_SUBBANDS, Rect, SUBBANDS};

/// Subbands whose variance is below this are not coded.
const VARIANCE_THRESH: f32 = 1.01;

/// Quantizer parameters for the 64 subbands (zero bin width for uncoded ones).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Quant {
    /// Bin widths `Q_k`.
    pub q: [f32; SUBBANDS],
    /// Zero-bin widths `Z_k`.
    pub z: [f32; SUBBANDS],
}

impl Quant {
    /// The same quantizer with every bin width multiplied by `s`.
    pub fn scaled(&self, s: f32) -> Quant {
        let mut out = self.clone();
        for k in 0..CODED_SUBBANDS {
            out.q[k] = self.q[k] * s;
            out.z[k] = (1.2 * f64::from(out.q[k])) as f32;
        }
        out
    }

    /// Largest and smallest non-zero bin width.
    pub fn range(&self) -> Option<(f32, f32)> {
        let nz = self.q.iter().copied().filter(|&q| q > 0.0);
        let max = nz
            .clone()
            .fold(None, |m: Option<f32>, q| Some(m.map_or(q, |m| m.max(q))))?;
        let min = nz.fold(max, f32::min);
        Some((min, max))
    }
}

/// Sample variance of a window of a subband, computed like NBIS (single-precision sums).
fn window_variance(img: &[f32], stride: usize, x: usize, y: usize, w: usize, h: usize) -> f32 {
    let mut ssq = 0.0f32;
    let mut sum = 0.0f32;
    for row in y..y + h {
        let line = &img[row * stride + x..row * stride + x + w];
        for &v in line {
            sum += v;
            ssq += v * v;
        }
    }
    let n = (w * h) as f32;
    let sum2 = (sum * sum) / n;
    (f64::from(ssq - sum2) / ((w * h) as f64 - 1.0)) as f32
}

/// Fewest samples a cropped variance window may hold; smaller windows fall back to the whole
/// subband.
const MIN_WINDOW: usize = 16;

/// Variance over the central part of a subband (the specification's cropped window).
///
/// On images smaller than about 250 pixels a side the window of the lowest subbands shrinks to
/// a handful of samples (or none: NBIS then gets NaN and drops the band, losing the image's
/// low frequencies); there the whole subband is used instead. NBIS's `cwsq` refuses images
/// under 256 × 256, and from that size on every window holds at least 18 samples, so this
/// never changes the output for an image NBIS encodes.
fn cropped_variance(img: &[f32], stride: usize, b: &Rect) -> f32 {
    let skipx = b.w / 8;
    let skipy = (9 * b.h) / 32;
    let w = (3 * b.w) / 4;
    let h = (7 * b.h) / 16;
    if w * h < MIN_WINDOW {
        return window_variance(img, stride, b.x, b.y, b.w, b.h);
    }
    window_variance(img, stride, b.x + skipx, b.y + skipy, w, h)
}

/// Variances of the 60 coded subbands of the decomposed image.
pub(crate) fn variances(img: &[f32], stride: usize, bands: &[Rect; SUBBANDS]) -> [f32; SUBBANDS] {
    let mut var = [0.0f32; SUBBANDS];
    let mut vsum = 0.0f32;
    for k in 0..4 {
        var[k] = cropped_variance(img, stride, &bands[k]);
        vsum += var[k];
    }
    if vsum < 20000.0 {
        for k in 0..CODED_SUBBANDS {
            let b = &bands[k];
            var[k] = window_variance(img, stride, b.x, b.y, b.w, b.h);
        }
    } else {
        for k in 4..CODED_SUBBANDS {
            var[k] = cropped_variance(img, stride, &bands[k]);
        }
    }
    var
}

/// Bin widths for target bit rate `r` (bits per pixel) from the subband variances.
pub(crate) fn bin_widths(var: &[f32; SUBBANDS], r: f32) -> Quant {
    let mut a = [1.0f32; CODED_SUBBANDS];
    a[52..60].copy_from_slice(&[1.32, 1.08, 1.42, 1.08, 1.32, 1.42, 1.08, 1.08]);
    // Reciprocals of the specification's subband size ratios `m`.
    let m = |k: usize| -> f32 {
        if k < 4 {
            1.0 / 1024.0
        } else if k < 51 {
            1.0 / 256.0
        } else {
            1.0 / 16.0
        }
    };
    let mut qbss = [0.0f32; SUBBANDS];
    let mut sigma = [0.0f32; CODED_SUBBANDS];
    let mut k0 = Vec::with_capacity(CODED_SUBBANDS);
    for k in 0..CODED_SUBBANDS {
        if var[k] < VARIANCE_THRESH {
            qbss[k] = 0.0;
        } else if k < 4 {
            qbss[k] = 1.0;
        } else {
            qbss[k] = (10.0 / f64::from(a[k] * (f64::from(var[k]).ln() as f32))) as f32;
        }
        if var[k] >= VARIANCE_THRESH {
            k0.push(k);
            sigma[k] = f64::from(var[k]).sqrt() as f32;
        }
    }
    let mut set = k0.clone();
    let mut q = 0.0f32;
    if !set.is_empty() {
        loop {
            let mut s = 0.0f32;
            for &k in &set {
                s += m(k);
            }
            let mut p = 1.0f32;
            for &k in &set {
                p = (f64::from(p) * f64::from(sigma[k] / qbss[k]).powf(f64::from(m(k)))) as f32;
            }
            let rate = f64::from(r / s) - 1.0;
            q = ((2.0f64.powf(rate) / 2.5) / f64::from(p).powf(1.0 / f64::from(s))) as f32;
            let before = set.len();
            // Drop subbands whose rate would not be positive (Q_k / q >= 5 sigma_k).
            set.retain(|&k| {
                let ratio = f64::from(qbss[k] / q);
                !matches!(
                    ratio.partial_cmp(&(5.0 * f64::from(sigma[k]))),
                    Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
                )
            });
            if set.len() == before {
                break;
            }
            if set.is_empty() {
                // Every subband would get a non-positive rate: NBIS's next round divides by an
                // empty sum and ends with an infinite q; the outcome is the same: nothing coded.
                q = f32::INFINITY;
                break;
            }
        }
    }
    let mut z = [0.0f32; SUBBANDS];
    for k in 0..CODED_SUBBANDS {
        if k0.contains(&k) {
            qbss[k] /= q;
        } else {
            qbss[k] = 0.0;
        }
        z[k] = (1.2 * f64::from(qbss[k])) as f32;
    }
    Quant { q: qbss, z }
}

/// Quantizes the coded subbands, appending them in subband order to `out`; with `step > 1`
/// only every `step`-th row of each subband (a sample for rate estimates).
pub(crate) fn quantize(
    img: &[f32],
    stride: usize,
    bands: &[Rect; SUBBANDS],
    quant: &Quant,
    step: usize,
    out: &mut Vec<i16>,
) {
    for (k, b) in bands.iter().enumerate().take(CODED_SUBBANDS) {
        let q = quant.q[k];
        if q == 0.0 {
            continue;
        }
        let zbin = (f64::from(quant.z[k]) / 2.0) as f32;
        let start = out.len();
        out.resize(start + b.w * b.h.div_ceil(step), 0);
        let dst = &mut out[start..];
        for (r, row) in (b.y..b.y + b.h).step_by(step.max(1)).enumerate() {
            let line = &img[row * stride + b.x..][..b.w];
            let o = &mut dst[r * b.w..][..b.w];
            for (d, &v) in o.iter_mut().zip(line) {
                *d = quantize_one(v, zbin, q);
            }
        }
    }
}

/// One coefficient: zero inside the zero bin, else `sign(v) · (trunc((|v| − Z/2) / Q) + 1)`,
/// which is bit for bit what NBIS computes separately for each sign. Magnitudes are capped
/// at 32767, the largest the entropy coder carries.
#[inline(always)]
fn quantize_one(v: f32, zbin: f32, q: f32) -> i16 {
    let a = v.abs();
    let m = (((a - zbin) / q) as i32).min(i32::from(i16::MAX) - 1) + 1;
    let m = if a <= zbin { 0 } else { m };
    (if v < 0.0 { -m } else { m }) as i16
}

/// Dequantization parameters as read from a DQT segment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QuantTable {
    /// Bin centre parameter `C`.
    pub bin_center: f32,
    /// Bin widths.
    pub q: [f32; SUBBANDS],
    /// Zero-bin widths.
    pub z: [f32; SUBBANDS],
}

impl QuantTable {
    /// True when subband `k` carries coded coefficients.
    pub fn is_coded(&self, k: usize) -> bool {
        k < CODED_SUBBANDS && self.q[k] != 0.0
    }
}

/// One coded subband as the decoder fills it.
struct Slot {
    /// Index in the image of its top-left sample.
    base: usize,
    w: usize,
    h: usize,
    q: f32,
    half_z: f64,
}

/// Writes decoded coefficients, dequantized, straight into their place in the (zeroed) image:
/// zero runs only move the write position, so their cost is nil.
pub(crate) struct Dequantizer<'a> {
    img: &'a mut [f32],
    stride: usize,
    slots: Vec<Slot>,
    /// Current subband (`slots.len()` once all are full).
    cur: usize,
    /// Row and column within the current subband.
    row: usize,
    col: usize,
    pos: usize,
    total: usize,
    c: f32,
}

impl<'a> Dequantizer<'a> {
    /// Prepares to fill `img` (`stride` samples per row, all zero) with the coded subbands.
    pub fn new(
        table: &QuantTable,
        bands: &[Rect; SUBBANDS],
        img: &'a mut [f32],
        stride: usize,
    ) -> Self {
        let slots: Vec<Slot> = bands
            .iter()
            .enumerate()
            .take(CODED_SUBBANDS)
            .filter(|&(k, b)| table.is_coded(k) && b.area() > 0)
            .map(|(k, b)| Slot {
                base: b.y * stride + b.x,
                w: b.w,
                h: b.h,
                q: table.q[k],
                half_z: f64::from(table.z[k]) / 2.0,
            })
            .collect();
        let total = slots.iter().map(|s| s.w * s.h).sum();
        Dequantizer {
            img,
            stride,
            slots,
            cur: 0,
            row: 0,
            col: 0,
            pos: 0,
            total,
            c: table.bin_center,
        }
    }

    /// Coefficients consumed so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Coefficients the frame holds.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Carries a column past the end of its row into the following rows and subbands.
    #[cold]
    fn wrap(&mut self) {
        while let Some(s) = self.slots.get(self.cur) {
            if self.col >= s.w {
                self.row += self.col / s.w;
                self.col %= s.w;
            }
            if self.row < s.h {
                return;
            }
            // Carry the excess into the next subband.
            let excess = (self.row - s.h) * s.w + self.col;
            self.cur += 1;
            self.row = 0;
            self.col = excess;
        }
    }

    /// Skips `n` zero coefficients; `false` when that passes the end.
    #[inline(always)]
    pub fn skip(&mut self, n: usize) -> bool {
        self.pos = self.pos.saturating_add(n);
        if self.pos > self.total {
            return false;
        }
        self.col += n;
        if self.slots.get(self.cur).is_some_and(|s| self.col >= s.w) {
            self.wrap();
        }
        true
    }

    /// Stores the next coefficient; `false` when the frame is already full.
    #[inline(always)]
    pub fn put(&mut self, v: i16) -> bool {
        let Some(s) = self.slots.get(self.cur) else {
            return false;
        };
        let at = s.base + self.row * self.stride + self.col;
        let value = dequantize_one(v, s.q, self.c, s.half_z);
        let w = s.w;
        if let Some(d) = self.img.get_mut(at) {
            *d = value;
        }
        self.pos += 1;
        self.col += 1;
        if self.col >= w {
            self.wrap();
        }
        true
    }
}

/// `Q · (v − C) + Z/2` for positive `v`, `Q · (v + C) − Z/2` for negative, 0 for 0, with NBIS's
/// rounding (the product in single precision, the sum in double).
#[inline(always)]
fn dequantize_one(v: i16, q: f32, c: f32, half_z: f64) -> f32 {
    let f = f32::from(v);
    let (c, hz) = if v > 0 { (c, half_z) } else { (-c, -half_z) };
    let r = (f64::from(q * (f - c)) + hz) as f32;
    if v == 0 { 0.0 } else { r }
}
