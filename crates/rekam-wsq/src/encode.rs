//! The encoder.

use crate::format::{self, Frame};
use crate::huffman::{EncodeTable, build_table, count_symbols};
use crate::quant::{self, Quant};
use crate::transform::decompose;
use crate::tree::{BLOCK2_START, BLOCK3_START, CODED_SUBBANDS, Trees};
use crate::{EncodeOptions, WsqError};

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
    let n = width as usize * height as usize;
    if pixels.len() != n {
        return Err(WsqError::InvalidArgument(format!(
            "{} pixel bytes given for a {width}x{height} image ({n} expected)",
            pixels.len()
        )));
    }
    let trees = Trees::new(width as usize, height as usize);
    if !trees.is_supported() {
        return Err(bad_dims(
            "too small for the five-level WSQ decomposition (at least 65x65 is needed)",
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

/// Encodes an 8-bit greyscale image.
pub(crate) fn encode(
    pixels: &[u8],
    width: u32,
    height: u32,
    opts: &EncodeOptions,
) -> Result<Vec<u8>, WsqError> {
    let trees = check(pixels, width, height, opts)?;
    let w = width as usize;
    let (mut img, m_shift, r_scale) = to_float(pixels);
    let mut tmp = vec![0.0f32; img.len()];
    decompose(&mut img, &mut tmp, w, &trees);
    drop(tmp);
    let var = quant::variances(&img, w, &trees.bands);
    let q = quant::bin_widths(&var, opts.bitrate);
    let mut coeffs = Vec::with_capacity(img.len());
    quant::quantize(&img, w, &trees.bands, &q, &mut coeffs);
    drop(img);

    let mut out = Vec::with_capacity(pixels.len() / 8 + 1024);
    format::put_marker(&mut out, format::SOI);
    let com = format::nistcom(width, height, opts.ppi, opts.bitrate);
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
    write_blocks(&mut out, &coeffs, &trees, &q);
    format::put_marker(&mut out, format::EOI);
    Ok(out)
}

/// Writes the three coded blocks: subbands 0–18 with table 0, then 19–51 and 52–59 sharing
/// table 1.
fn write_blocks(out: &mut Vec<u8>, coeffs: &[i16], trees: &Trees, q: &Quant) {
    let coded = |k: usize| q.q[k] != 0.0;
    let len_of = |r: std::ops::Range<usize>| -> usize {
        r.filter(|&k| coded(k)).map(|k| trees.bands[k].area()).sum()
    };
    let n1 = len_of(0..BLOCK2_START);
    let n2 = len_of(BLOCK2_START..BLOCK3_START);
    let n3 = len_of(BLOCK3_START..CODED_SUBBANDS);
    debug_assert_eq!(n1 + n2 + n3, coeffs.len());
    let (b1, rest) = coeffs.split_at(n1.min(coeffs.len()));
    let (b2, b3) = rest.split_at(n2.min(rest.len()));

    let mut counts = [0u32; 256];
    count_symbols(b1, &mut counts);
    let t0 = build_table(&counts);
    format::put_huffman_table(out, 0, &t0);
    format::put_block_header(out, 0);
    EncodeTable::new(&t0).encode(b1, out);

    let mut counts = [0u32; 256];
    count_symbols(b2, &mut counts);
    count_symbols(b3, &mut counts);
    let t1 = build_table(&counts);
    format::put_huffman_table(out, 1, &t1);
    let e1 = EncodeTable::new(&t1);
    format::put_block_header(out, 1);
    e1.encode(b2, out);
    format::put_block_header(out, 1);
    e1.encode(b3, out);
}
