//! The separable 9/7 wavelet filter bank with whole-sample symmetric extension.
//!
//! Analysis (encoder) splits a line of `n` samples into `ceil(n/2)` low-pass outputs, centred on
//! the even samples, and `floor(n/2)` high-pass outputs, centred on the odd samples:
//!
//! ```text
//! L[k] = Σ_{i=0..9} h0[i] · x[2k - 4 + i]      H[k] = Σ_{i=0..7} h1[i] · x[2k - 2 + i]
//! ```
//!
//! with `x` reflected about its first and last sample. Synthesis (decoder) upsamples and filters
//! with `g0` (7 taps) and `g1` (9 taps), derived from the analysis filters by alternating signs.
//!
//! All arithmetic is single-precision and every output sums its products in the same order as
//! NBIS, the reference implementation, so the coefficients (and the decoded pixels) are bit for
//! bit identical to NBIS's; the loops run over whole rows at a time so they vectorize.

use crate::tree::{Rect, Step, Trees};

/// Taps of the analysis low-pass filter.
pub(crate) const LO_TAPS: usize = 9;
/// Taps of the analysis high-pass filter.
pub(crate) const HI_TAPS: usize = 7;

/// The analysis low-pass filter of the specification (the values NBIS stores in single precision).
#[allow(clippy::excessive_precision)]
pub(crate) const ANALYSIS_LO: [f32; LO_TAPS] = [
    0.037_828_455_506_995_46,
    -0.023_849_465_019_380_00,
    -0.110_624_404_418_423_42,
    0.377_402_855_612_653_80,
    0.852_698_679_009_403_44,
    0.377_402_855_612_653_80,
    -0.110_624_404_418_423_42,
    -0.023_849_465_019_380_00,
    0.037_828_455_506_995_46,
];

/// The analysis high-pass filter of the specification.
#[allow(clippy::excessive_precision)]
pub(crate) const ANALYSIS_HI: [f32; HI_TAPS] = [
    0.064_538_882_628_938_45,
    -0.040_689_417_609_558_44,
    -0.418_092_273_222_212_21,
    0.788_485_616_405_664_39,
    -0.418_092_273_222_212_21,
    -0.040_689_417_609_558_44,
    0.064_538_882_628_938_45,
];

/// Synthesis filters: `lo` (7 taps) is applied to the low-pass band, `hi` (9 taps) to the
/// high-pass band.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Synthesis {
    /// Low-pass synthesis filter, centre at index 3.
    pub lo: [f32; HI_TAPS],
    /// High-pass synthesis filter, centre at index 4.
    pub hi: [f32; LO_TAPS],
}

impl Synthesis {
    /// Derives the synthesis filters from the right halves (centre first) of the analysis
    /// filters, as transmitted in a DTT segment.
    pub fn from_analysis_halves(lo_half: &[f32; 5], hi_half: &[f32; 4]) -> Self {
        let mut hi = [0.0f32; LO_TAPS];
        for (k, &v) in lo_half.iter().enumerate() {
            let s = if k % 2 == 0 { v } else { -v };
            hi[4 + k] = s;
            hi[4 - k] = s;
        }
        let mut lo = [0.0f32; HI_TAPS];
        for (k, &v) in hi_half.iter().enumerate() {
            let s = if k % 2 == 0 { v } else { -v };
            lo[3 + k] = s;
            lo[3 - k] = s;
        }
        Synthesis { lo, hi }
    }
}

/// Whole-sample symmetric reflection of index `j` into `0..n` (`n >= 2`).
#[inline]
fn reflect(j: isize, n: usize) -> usize {
    let n = n as isize;
    if n < 2 {
        return 0;
    }
    let period = 2 * (n - 1);
    let j = j.rem_euclid(period);
    (if j > n - 1 { period - j } else { j }) as usize
}

/// `out[c] = Σ_i taps[i] · rows[i][c]`, summed in order of `i`, for every column `c`.
#[inline(always)]
fn fir<const N: usize>(out: &mut [f32], rows: [&[f32]; N], taps: &[f32; N]) {
    let n = out.len();
    let rows = rows.map(|r| &r[..n]);
    for c in 0..n {
        let mut acc = rows[0][c] * taps[0];
        for i in 1..N {
            acc += rows[i][c] * taps[i];
        }
        out[c] = acc;
    }
}

/// Scratch buffers reused across lines.
#[derive(Default)]
pub(crate) struct Scratch {
    ext: Vec<f32>,
    even: Vec<f32>,
    odd: Vec<f32>,
}

/// Index of the first low-pass and high-pass output in a transformed line of length `n`.
#[inline]
fn halves(n: usize, inv: bool) -> (usize, usize, usize, usize) {
    let llen = n.div_ceil(2);
    let hlen = n / 2;
    if inv {
        (llen, hlen, hlen, 0)
    } else {
        (llen, hlen, 0, llen)
    }
}

/// Fills `ext` with `line` preceded by `pad` samples of symmetric extension and followed by
/// as many as `ext` has room for.
#[inline]
fn extend(line: &[f32], ext: &mut [f32], pad: usize) {
    let n = line.len();
    ext[pad..pad + n].copy_from_slice(line);
    for j in (0..pad).chain(pad + n..ext.len()) {
        ext[j] = line[reflect(j as isize - pad as isize, n)];
    }
}

/// Fills `ext[j]` with band sample `map(j - 2)` of `line`: the band `line[off..off + len]`
/// copied to `ext[2..2 + len]`, the borders through `map`.
#[inline]
fn extend_band(
    line: &[f32],
    off: usize,
    len: usize,
    ext: &mut [f32],
    map: impl Fn(isize) -> usize,
) {
    ext[2..2 + len].copy_from_slice(&line[off..off + len]);
    for j in (0..2).chain(2 + len..ext.len()) {
        ext[j] = line[off + map(j as isize - 2)];
    }
}

/// Width of the column strips the vertical passes work on (a strip of a full-height image
/// stays in the level-2 cache).
const STRIP: usize = 64;

/// Analysis of every row of `r`, in place (`img` has `stride` samples per row).
fn analyze_rows(img: &mut [f32], stride: usize, r: Rect, inv: bool, s: &mut Scratch) {
    let n = r.w;
    let (llen, hlen, lo_off, hi_off) = halves(n, inv);
    // ext[j] = x[reflect(j - 4)] for j in 0..n + 10, split into even and odd samples.
    let half = (n + 10) / 2;
    s.ext.resize(2 * half, 0.0);
    s.even.resize(half, 0.0);
    s.odd.resize(half, 0.0);
    for row in r.y..r.y + r.h {
        let base = row * stride + r.x;
        extend(&img[base..base + n], &mut s.ext, 4);
        for ((pair, e), o) in s.ext.chunks_exact(2).zip(&mut s.even).zip(&mut s.odd) {
            *e = pair[0];
            *o = pair[1];
        }
        let (e, o) = (&s.even[..], &s.odd[..]);
        let out = &mut img[base..base + n];
        let lo = ANALYSIS_LO;
        fir(
            &mut out[lo_off..lo_off + llen],
            [
                e,
                o,
                &e[1..],
                &o[1..],
                &e[2..],
                &o[2..],
                &e[3..],
                &o[3..],
                &e[4..],
            ],
            &lo,
        );
        let hi = ANALYSIS_HI;
        fir(
            &mut out[hi_off..hi_off + hlen],
            [
                &e[1..],
                &o[1..],
                &e[2..],
                &o[2..],
                &e[3..],
                &o[3..],
                &e[4..],
            ],
            &hi,
        );
    }
}

/// Copies a finished strip (`n` rows of `sw` samples) back into the image at column `x0`.
fn store_strip(img: &mut [f32], stride: usize, y0: usize, x0: usize, sw: usize, strip: &[f32]) {
    for (j, src) in strip.chunks_exact(sw).enumerate() {
        let o = (y0 + j) * stride + x0;
        img[o..o + sw].copy_from_slice(src);
    }
}

/// Analysis of every column of `r`, in place, one strip of columns at a time.
fn analyze_cols(img: &mut [f32], stride: usize, r: Rect, inv: bool, strip: &mut Vec<f32>) {
    let n = r.h;
    let (llen, hlen, lo_off, hi_off) = halves(n, inv);
    for x0 in (r.x..r.x + r.w).step_by(STRIP) {
        let sw = STRIP.min(r.x + r.w - x0);
        strip.resize(n * sw, 0.0);
        let src = &*img;
        let row = |j: usize| {
            let o = (r.y + j) * stride + x0;
            &src[o..o + sw]
        };
        for k in 0..llen {
            let rows: [&[f32]; LO_TAPS] =
                std::array::from_fn(|i| row(reflect(2 * k as isize - 4 + i as isize, n)));
            fir(&mut strip[(lo_off + k) * sw..][..sw], rows, &ANALYSIS_LO);
        }
        for k in 0..hlen {
            let rows: [&[f32]; HI_TAPS] =
                std::array::from_fn(|i| row(reflect(2 * k as isize - 2 + i as isize, n)));
            fir(&mut strip[(hi_off + k) * sw..][..sw], rows, &ANALYSIS_HI);
        }
        store_strip(img, stride, r.y, x0, sw, strip);
    }
}

/// Forward transform of the whole image in place (`img` has `width` samples per row).
pub(crate) fn decompose(img: &mut [f32], width: usize, trees: &Trees) {
    let mut s = Scratch::default();
    let mut strip = Vec::new();
    for step in &trees.steps {
        let Step {
            rect,
            inv_rows,
            inv_cols,
        } = *step;
        analyze_rows(img, width, rect, inv_rows, &mut s);
        analyze_cols(img, width, rect, inv_cols, &mut strip);
    }
}

/// Low-pass band index of position `m` after symmetric extension of a line of length `n`.
#[inline]
fn lo_index(m: isize, n: usize) -> usize {
    reflect(2 * m, n) / 2
}

/// High-pass band index of position `m` after symmetric extension of a line of length `n`.
#[inline]
fn hi_index(m: isize, n: usize) -> usize {
    (reflect(2 * m + 1, n) - 1) / 2
}

/// Taps for even outputs: three low-pass then four high-pass products.
fn even_taps(f: &Synthesis) -> [f32; 7] {
    [
        f.lo[1], f.lo[3], f.lo[5], f.hi[1], f.hi[3], f.hi[5], f.hi[7],
    ]
}

/// Taps for odd outputs: four low-pass then five high-pass products.
fn odd_taps(f: &Synthesis) -> [f32; 9] {
    [
        f.lo[0], f.lo[2], f.lo[4], f.lo[6], f.hi[0], f.hi[2], f.hi[4], f.hi[6], f.hi[8],
    ]
}

/// Synthesis of every column of `r`, in place, one strip of columns at a time.
fn synthesize_cols(
    img: &mut [f32],
    stride: usize,
    r: Rect,
    inv: bool,
    f: &Synthesis,
    strip: &mut Vec<f32>,
) {
    let n = r.h;
    let (llen, hlen, lo_off, hi_off) = halves(n, inv);
    let (et, ot) = (even_taps(f), odd_taps(f));
    for x0 in (r.x..r.x + r.w).step_by(STRIP) {
        let sw = STRIP.min(r.x + r.w - x0);
        strip.resize(n * sw, 0.0);
        let src = &*img;
        let row = |j: usize| {
            let o = (r.y + j) * stride + x0;
            &src[o..o + sw]
        };
        let lrow = |m: isize| row(lo_off + lo_index(m, n));
        let hrow = |m: isize| row(hi_off + hi_index(m, n));
        for p in 0..llen {
            let m = p as isize;
            fir(
                &mut strip[2 * p * sw..][..sw],
                [
                    lrow(m - 1),
                    lrow(m),
                    lrow(m + 1),
                    hrow(m - 2),
                    hrow(m - 1),
                    hrow(m),
                    hrow(m + 1),
                ],
                &et,
            );
        }
        for p in 0..hlen {
            let m = p as isize;
            fir(
                &mut strip[(2 * p + 1) * sw..][..sw],
                [
                    lrow(m - 1),
                    lrow(m),
                    lrow(m + 1),
                    lrow(m + 2),
                    hrow(m - 2),
                    hrow(m - 1),
                    hrow(m),
                    hrow(m + 1),
                    hrow(m + 2),
                ],
                &ot,
            );
        }
        store_strip(img, stride, r.y, x0, sw, strip);
    }
}

/// Synthesis of every row of `r`, in place.
fn synthesize_rows(
    img: &mut [f32],
    stride: usize,
    r: Rect,
    inv: bool,
    f: &Synthesis,
    s: &mut Scratch,
) {
    let n = r.w;
    let (llen, hlen, lo_off, hi_off) = halves(n, inv);
    // Extended bands: lx[j] = L[m = j - 2], hx[j] = H[m = j - 2].
    let lx_len = llen + 5;
    let hx_len = hlen + 5;
    s.ext.resize(lx_len + hx_len, 0.0);
    s.even.resize(llen, 0.0);
    s.odd.resize(hlen, 0.0);
    let (et, ot) = (even_taps(f), odd_taps(f));
    for row in r.y..r.y + r.h {
        let base = row * stride + r.x;
        let line = &img[base..base + n];
        let (lx, hx) = s.ext.split_at_mut(lx_len);
        extend_band(line, lo_off, llen, lx, |m| lo_index(m, n));
        extend_band(line, hi_off, hlen, hx, |m| hi_index(m, n));
        let (lx, hx) = (&*lx, &*hx);
        fir(
            &mut s.even[..],
            [
                &lx[1..],
                &lx[2..],
                &lx[3..],
                hx,
                &hx[1..],
                &hx[2..],
                &hx[3..],
            ],
            &et,
        );
        fir(
            &mut s.odd[..],
            [
                &lx[1..],
                &lx[2..],
                &lx[3..],
                &lx[4..],
                hx,
                &hx[1..],
                &hx[2..],
                &hx[3..],
                &hx[4..],
            ],
            &ot,
        );
        let out = &mut img[base..base + n];
        for (pair, (&e, &o)) in out.chunks_exact_mut(2).zip(s.even.iter().zip(&s.odd)) {
            pair[0] = e;
            pair[1] = o;
        }
        if n % 2 == 1 {
            out[n - 1] = s.even[llen - 1];
        }
    }
}

/// Inverse transform of the whole image in place.
pub(crate) fn reconstruct(img: &mut [f32], width: usize, trees: &Trees, f: &Synthesis) {
    let mut s = Scratch::default();
    let mut strip = Vec::new();
    for step in trees.steps.iter().rev() {
        synthesize_cols(img, width, step.rect, step.inv_cols, f, &mut strip);
        synthesize_rows(img, width, step.rect, step.inv_rows, f, &mut s);
    }
}

/// The synthesis filters matching [`ANALYSIS_LO`] and [`ANALYSIS_HI`].
#[cfg(test)]
pub(crate) fn default_synthesis() -> Synthesis {
    let lo_half: [f32; 5] = std::array::from_fn(|k| ANALYSIS_LO[4 + k]);
    let hi_half: [f32; 4] = std::array::from_fn(|k| ANALYSIS_HI[3 + k]);
    Synthesis::from_analysis_halves(&lo_half, &hi_half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_is_whole_sample_symmetric() {
        let n = 6;
        let got: Vec<usize> = (-6..12).map(|j| reflect(j, n)).collect();
        assert_eq!(got, [4, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 4, 3, 2, 1, 0, 1]);
    }

    /// Analysis followed by synthesis, without quantization, gives the image back.
    #[test]
    fn perfect_reconstruction() {
        let syn = default_synthesis();
        for (w, h) in [(81, 81), (100, 80), (257, 131), (96, 203)] {
            let orig: Vec<f32> = (0..w * h)
                .map(|i| {
                    let (x, y) = ((i % w) as f32, (i / w) as f32);
                    ((x * 0.37).sin() * 60.0 + (y * 0.11 + x * 0.05).cos() * 40.0)
                        + ((i * 7919) % 23) as f32
                })
                .collect();
            let trees = Trees::new(w, h);
            let mut img = orig.clone();
            decompose(&mut img, w, &trees);
            let energy_moved = img.iter().zip(&orig).any(|(a, b)| (a - b).abs() > 1.0);
            assert!(energy_moved, "transform did nothing");
            reconstruct(&mut img, w, &trees, &syn);
            let max_err = img
                .iter()
                .zip(&orig)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(max_err < 2e-3, "{w}x{h}: max error {max_err}");
        }
    }
}
