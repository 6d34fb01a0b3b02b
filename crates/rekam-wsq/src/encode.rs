//! The encoder.

use crate::format::{self, Frame};
use crate::huffman::{self, EncodeTable, build_table, count_symbols};
use crate::quant::{self, Quant};
use crate::transform::decompose;
use crate::tree::{BLOCK2_START, BLOCK3_START, CODED_SUBBANDS, Trees};
use crate::{EncodeOptions, RateControl, WsqError};

/// Largest comment a COM segment can carry.
const MAX_COMMENT: usize = u16::MAX as usize - 2;

/// Checks the arguments and returns the decomposition geometry.
fn check(pixels: &[u8], width: u32, height: u32, opts: &EncodeOptions) -> Result<Trees, WsqError> {
    let bad_dims = |reason| WsqError::BadDimensions {
        width,
        height,
        reason,
    };
    if width == 0 || height == 0 {
        return Err(bad_dims("the image is empty"));
    }
    if width > u32::from(u16::MAX) || height > u32::from(u16::MAX) {
        return Err(bad_dims("WSQ frames are at most 65535 pixels on a side"));
    }
    let n = (width as usize)
        .checked_mul(height as usize)
        .ok_or(bad_dims("too many pixels for this platform"))?;
    if pixels.len() != n {
        return Err(WsqError::InvalidArgument(format!(
            "{} pixel bytes given for a {width}x{height} image ({n} expected)",
            pixels.len()
        )));
    }
    let trees = Trees::new(width as usize, height as usize);
    if !trees.is_supported() {
        return Err(bad_dims(
            "too small for the five-level WSQ decomposition (at least 81x81 is needed)",
        ));
    }
    if !(opts.bitrate.is_finite() && opts.bitrate > 0.0 && opts.bitrate <= 8.0) {
        return Err(WsqError::InvalidArgument(format!(
            "bit rate {} bpp is outside (0, 8]",
            opts.bitrate
        )));
    }
    if opts.ppi == Some(0) {
        return Err(WsqError::InvalidArgument("ppi must not be zero".into()));
    }
    if let Some(c) = opts.comments.iter().find(|c| c.len() > MAX_COMMENT) {
        return Err(WsqError::InvalidArgument(format!(
            "comment of {} bytes is longer than the {MAX_COMMENT} a COM segment holds",
            c.len()
        )));
    }
    Ok(trees)
}

/// Converts pixels to floats centred on the mean and scaled into ±128; returns the shift and
/// scale the decoder undoes.
fn to_float(pixels: &[u8]) -> (Vec<f32>, f32, f32) {
    let mut sum = 0u64;
    let (mut lo, mut hi) = (255u8, 0u8);
    for &p in pixels {
        sum += u64::from(p);
        lo = lo.min(p);
        hi = hi.max(p);
    }
    let mean = sum as f32 / pixels.len() as f32;
    let low_diff = mean - f32::from(lo);
    let high_diff = f32::from(hi) - mean;
    let r_scale = if low_diff >= high_diff {
        low_diff
    } else {
        high_diff
    } / 128.0;
    let img = if r_scale > 0.0 {
        pixels
            .iter()
            .map(|&p| (f32::from(p) - mean) / r_scale)
            .collect()
    } else {
        // A flat image: nothing to code (NBIS would divide by zero here).
        vec![0.0; pixels.len()]
    };
    (img, mean, r_scale)
}

/// Sizes of the three coded blocks (subbands 0–18, 19–51, 52–59) for a quantizer.
fn block_lens(trees: &Trees, q: &Quant) -> [usize; 3] {
    let len_of = |r: std::ops::Range<usize>| -> usize {
        r.filter(|&k| q.q[k] != 0.0)
            .map(|k| trees.bands[k].area())
            .sum()
    };
    [
        len_of(0..BLOCK2_START),
        len_of(BLOCK2_START..BLOCK3_START),
        len_of(BLOCK3_START..CODED_SUBBANDS),
    ]
}

/// Splits the coefficients into the three blocks.
fn blocks(coeffs: &[i16], lens: [usize; 3]) -> [&[i16]; 3] {
    let (b1, rest) = coeffs.split_at(lens[0].min(coeffs.len()));
    let (b2, b3) = rest.split_at(lens[1].min(rest.len()));
    [b1, b2, b3]
}

/// Symbol counts of the two Huffman tables.
type Counts = [[u32; 256]; 2];

/// Symbol counts of the two Huffman tables (block 1; blocks 2 and 3).
fn table_counts(b: [&[i16]; 3]) -> Counts {
    let mut c0 = [0u32; 256];
    count_symbols(b[0], &mut c0);
    let mut c1 = [0u32; 256];
    count_symbols(b[1], &mut c1);
    count_symbols(b[2], &mut c1);
    [c0, c1]
}

/// File size for these coefficients: `fixed` header bytes plus the two DHT value lists, the
/// coded blocks (their bits multiplied by `scale` when the coefficients are a sample) with
/// their padding, and an allowance for byte stuffing.
fn estimated_size(fixed: usize, coeffs: &[i16], lens: [usize; 3], scale: f64) -> (f64, Counts) {
    let counts = table_counts(blocks(coeffs, lens));
    let mut bytes = fixed as f64;
    for c in &counts {
        let t = build_table(c);
        let bits = huffman::coded_bits(c, &t) as f64 * scale;
        // Values of the DHT, the coded bits, half a byte of padding per block and one
        // stuffed zero per 256 bytes.
        bytes += t.values.len() as f64 + bits / 8.0 * (1.0 + 1.0 / 256.0) + 0.5;
    }
    (bytes + 0.5, counts)
}

/// Relative size error the rate search accepts.
const TOLERANCE: f64 = 0.015;

/// First guess of d ln(size) / d ln(scale); WSQ files measure -1.1 to -1.4.
const INITIAL_SLOPE: f64 = -1.25;

/// On images of at least this many pixels the search first runs on every `SAMPLE_STEP`-th
/// row of each subband, then confirms on all of them.
const SAMPLE_MIN_PIXELS: usize = 250_000;
const SAMPLE_STEP: usize = 4;

/// A point of the search: scale, size, and the last secant slope.
struct Point {
    s: f32,
    size: f64,
    slope: f64,
}

/// Secant search in log-log space for the scale whose size `eval(scale)` (falling with the
/// scale) is within the tolerance of `target`, kept inside a bracket once one is known and
/// inside `range`; returns the closest point seen.
fn secant(mut eval: impl FnMut(f32) -> f64, start: Point, target: f64, range: (f32, f32)) -> Point {
    let Point {
        mut s,
        mut size,
        mut slope,
    } = start;
    let mut best = Point { s, size, slope };
    let mut below: Option<f32> = None; // largest scale known to give too big a file
    let mut above: Option<f32> = None; // smallest scale known to give too small a file
    let mut prev: Option<(f32, f64)> = None;
    for _ in 0..12 {
        if (size - target).abs() <= TOLERANCE * target {
            break;
        }
        if size > target {
            below = Some(s);
        } else {
            above = Some(s);
        }
        if let Some((ps, psize)) = prev {
            if ps != s && psize != size {
                let m = (size.ln() - psize.ln()) / (f64::from(s).ln() - f64::from(ps).ln());
                if m < -0.05 {
                    slope = m;
                }
            }
        }
        let mut next = (f64::from(s) * ((target.ln() - size.ln()) / slope).exp()) as f32;
        if let (Some(lo), Some(hi)) = (below, above) {
            if !(next > lo && next < hi) {
                next = (lo * hi).sqrt();
            }
        }
        next = next.clamp(range.0, range.1);
        if next == s {
            break;
        }
        prev = Some((s, size));
        s = next;
        size = eval(s);
        if (size - target).abs() < (best.size - target).abs() {
            best = Point { s, size, slope };
        }
    }
    best.slope = slope;
    best
}

/// Scales the model's bin widths until the file size is within 1.5 % of the bit rate (or as
/// close as a dozen trials get); returns the quantizer, the coefficients and their symbol
/// counts.
fn search_bin_widths(
    img: &[f32],
    w: usize,
    trees: &Trees,
    model: &Quant,
    fixed: usize,
    target: f64,
) -> (Quant, Vec<i16>, Option<Counts>) {
    let mut coeffs = Vec::with_capacity(img.len());
    let Some((qmin, qmax)) = model.range() else {
        quant::quantize(img, w, &trees.bands, model, 1, &mut coeffs);
        return (model.clone(), coeffs, None);
    };
    // Keep every bin width representable in the DQT segment, and fine bins from pushing any
    // coefficient out of the 16-bit range the entropy coder carries.
    let s_hi = 50_000.0 / qmax;
    let mut s_lo = 1e-3 / qmin;
    for (k, b) in trees.bands.iter().enumerate().take(CODED_SUBBANDS) {
        if model.q[k] > 0.0 {
            let peak = (b.y..b.y + b.h)
                .flat_map(|row| &img[row * w + b.x..row * w + b.x + b.w])
                .fold(0.0f32, |m, &v| m.max(v.abs()));
            s_lo = s_lo.max(peak / (30_000.0 * model.q[k]));
        }
    }
    let range = (s_lo.min(s_hi), s_hi);
    let size_with = |s: f32, step: usize, buf: &mut Vec<i16>| -> (f64, Counts) {
        let q = model.scaled(s);
        buf.clear();
        quant::quantize(img, w, &trees.bands, &q, step, buf);
        let full: usize = block_lens(trees, &q).iter().sum();
        let lens = sampled_block_lens(trees, &q, step);
        let scale = full as f64 / (lens.iter().sum::<usize>().max(1)) as f64;
        estimated_size(fixed, buf, lens, scale)
    };
    let s0 = 1.0f32.clamp(range.0, range.1);
    let mut start = Point {
        s: s0,
        size: 0.0,
        slope: INITIAL_SLOPE,
    };
    if img.len() >= SAMPLE_MIN_PIXELS {
        // Find the scale on a quarter of the rows, then confirm on all of them.
        let mut sample = Vec::with_capacity(img.len() / SAMPLE_STEP + 1024);
        start.size = size_with(s0, SAMPLE_STEP, &mut sample).0;
        let found = secant(
            |s| size_with(s, SAMPLE_STEP, &mut sample).0,
            start,
            target,
            range,
        );
        start = Point {
            s: found.s,
            size: 0.0,
            slope: found.slope,
        };
    }
    let mut last = start.s;
    let (size, mut counts) = size_with(start.s, 1, &mut coeffs);
    start.size = size;
    let found = secant(
        |s| {
            last = s;
            let (size, c) = size_with(s, 1, &mut coeffs);
            counts = c;
            size
        },
        start,
        target,
        range,
    );
    if found.s != last {
        counts = size_with(found.s, 1, &mut coeffs).1;
    }
    (model.scaled(found.s), coeffs, Some(counts))
}

/// Block sizes when only every `step`-th row of each subband is taken.
fn sampled_block_lens(trees: &Trees, q: &Quant, step: usize) -> [usize; 3] {
    let len_of = |r: std::ops::Range<usize>| -> usize {
        r.filter(|&k| q.q[k] != 0.0)
            .map(|k| trees.bands[k].w * trees.bands[k].h.div_ceil(step))
            .sum()
    };
    [
        len_of(0..BLOCK2_START),
        len_of(BLOCK2_START..BLOCK3_START),
        len_of(BLOCK3_START..CODED_SUBBANDS),
    ]
}

/// Encodes an 8-bit greyscale image.
pub(crate) fn encode(
    pixels: &[u8],
    width: u32,
    height: u32,
    opts: &EncodeOptions,
) -> Result<Vec<u8>, WsqError> {
    encode_impl(pixels, width, height, opts, None)
}

/// [`encode`], optionally cutting the last block into runs of `restart` coefficients separated
/// by restart markers (only the tests use that; NBIS never writes them).
fn encode_impl(
    pixels: &[u8],
    width: u32,
    height: u32,
    opts: &EncodeOptions,
    restart: Option<usize>,
) -> Result<Vec<u8>, WsqError> {
    let trees = check(pixels, width, height, opts)?;
    let w = width as usize;
    let (mut img, m_shift, r_scale) = to_float(pixels);
    decompose(&mut img, w, &trees);
    let var = quant::variances(&img, w, &trees.bands);
    let model = quant::bin_widths(&var, opts.bitrate);
    let com = format::nistcom(width, height, opts.ppi, opts.bitrate);
    let (q, coeffs, counts) = match opts.rate_control {
        RateControl::Model => {
            let mut coeffs = Vec::with_capacity(img.len());
            quant::quantize(&img, w, &trees.bands, &model, 1, &mut coeffs);
            (model, coeffs, None)
        }
        RateControl::Exact => {
            // SOI, COMs, DTT, DQT, SOF, two DHT headers, three SOB, EOI.
            let fixed = 2
                + 4
                + com.len()
                + opts.comments.iter().map(|c| 4 + c.len()).sum::<usize>()
                + 60
                + 391
                + 19
                + 2 * 21
                + 3 * 5
                + 2;
            // On tiny images the ~600 bytes of tables can exceed the whole budget; the coded
            // data then still gets at least half of it.
            let budget = f64::from(opts.bitrate) * pixels.len() as f64 / 8.0;
            let target = budget.max(fixed as f64 + budget / 2.0);
            search_bin_widths(&img, w, &trees, &model, fixed, target)
        }
    };
    drop(img);

    let mut out = Vec::with_capacity(pixels.len() / 8 + 1024);
    format::put_marker(&mut out, format::SOI);
    format::put_comment(&mut out, com.as_bytes());
    for c in &opts.comments {
        format::put_comment(&mut out, c.as_bytes());
    }
    format::put_transform_table(&mut out);
    format::put_quantization_table(&mut out, &q)?;
    let frame = Frame {
        black: 0,
        white: 255,
        height: height as u16,
        width: width as u16,
        m_shift,
        r_scale,
        encoder: 2,
        software: 0,
    };
    format::put_frame_header(&mut out, &frame)?;
    let counts = counts.filter(|_| restart.is_none());
    write_blocks(&mut out, &coeffs, &trees, &q, counts, restart);
    format::put_marker(&mut out, format::EOI);
    Ok(out)
}

/// Writes the three coded blocks: subbands 0–18 with table 0, then 19–51 and 52–59 sharing
/// table 1.
fn write_blocks(
    out: &mut Vec<u8>,
    coeffs: &[i16],
    trees: &Trees,
    q: &Quant,
    counts: Option<Counts>,
    restart: Option<usize>,
) {
    let b = blocks(coeffs, block_lens(trees, q));
    let [c0, mut c1] = counts.unwrap_or_else(|| table_counts(b));
    if let Some(n) = restart.filter(|&n| n > 0) {
        // Runs of zeros end at every restart marker.
        c1 = [0; 256];
        count_symbols(b[1], &mut c1);
        for run in b[2].chunks(n) {
            count_symbols(run, &mut c1);
        }
    }
    let t0 = build_table(&c0);
    format::put_huffman_table(out, 0, &t0);
    format::put_block_header(out, 0);
    EncodeTable::new(&t0).encode(b[0], out);

    let t1 = build_table(&c1);
    format::put_huffman_table(out, 1, &t1);
    let e1 = EncodeTable::new(&t1);
    format::put_block_header(out, 1);
    e1.encode(b[1], out);
    format::put_block_header(out, 1);
    match restart {
        Some(n) if n > 0 => {
            for (i, run) in b[2].chunks(n).enumerate() {
                if i > 0 {
                    out.extend_from_slice(&[0xFF, format::RST0 + (i as u8 - 1) % 8]);
                }
                e1.encode(run, out);
            }
        }
        _ => e1.encode(b[2], out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Restart markers inside coded data re-align the bit reader and decoding goes on.
    #[test]
    fn restart_markers_inside_coded_data_are_honoured() {
        let (w, h) = (160u32, 150u32);
        let img: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                (128.0 + 80.0 * (0.7 * x + 0.2 * y).sin() + ((i * 7919) % 17) as f32) as u8
            })
            .collect();
        let opts = EncodeOptions::default();
        let plain = encode_impl(&img, w, h, &opts, None).expect("encodes");
        let with_rst = encode_impl(&img, w, h, &opts, Some(500)).expect("encodes");
        let rst_count = with_rst
            .windows(2)
            .filter(|p| p[0] == 0xFF && (format::RST0..=format::RST7).contains(&p[1]))
            .count();
        assert!(rst_count >= 8, "only {rst_count} restart markers");
        let a = crate::decode(&plain).expect("decodes");
        let b = crate::decode(&with_rst).expect("decodes with restarts");
        assert_eq!(a, b);
    }
}
