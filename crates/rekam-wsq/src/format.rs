//! Markers and marker segments of the WSQ byte stream.
//!
//! A WSQ file is a sequence of big-endian marker segments in the style of JPEG:
//!
//! ```text
//! SOI  COM*  (DTT | DQT | DHT | COM)*  SOF  ( (DHT | COM)*  SOB  coded-data )+  EOI
//! ```
//!
//! Numeric parameters are stored as an integer and a decimal exponent; both the packing and the
//! unpacking reproduce NBIS's arithmetic exactly, so that tables round-trip to the same `f32`.

use crate::WsqError;
use crate::huffman::{HuffTable, MAX_CODE_LEN};
use crate::quant::{Quant, QuantTable};
use crate::transform::{ANALYSIS_HI, ANALYSIS_LO, HI_TAPS, LO_TAPS, Synthesis};
use crate::tree::SUBBANDS;

/// Start of image.
pub(crate) const SOI: u16 = 0xFFA0;
/// End of image.
pub(crate) const EOI: u16 = 0xFFA1;
/// Start of frame.
pub(crate) const SOF: u16 = 0xFFA2;
/// Start of block.
pub(crate) const SOB: u16 = 0xFFA3;
/// Define transform table.
pub(crate) const DTT: u16 = 0xFFA4;
/// Define quantization table.
pub(crate) const DQT: u16 = 0xFFA5;
/// Define Huffman table(s).
pub(crate) const DHT: u16 = 0xFFA6;
/// Define restart interval.
pub(crate) const DRT: u16 = 0xFFA7;
/// Comment.
pub(crate) const COM: u16 = 0xFFA8;
/// First restart marker (RST0); RST0 … RST7 may appear inside coded data.
pub(crate) const RST0: u8 = 0xB0;
/// Last restart marker (RST7).
pub(crate) const RST7: u8 = 0xB7;

/// Number of Huffman table slots.
pub(crate) const MAX_TABLES: usize = 8;

/// Bounds-checked big-endian reader.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// Offset of `data[0]` in the whole file, for error messages.
    base: usize,
}

impl<'a> Reader<'a> {
    /// Reads `data`, whose first byte is at file offset `base`.
    pub fn new(data: &'a [u8], base: usize) -> Self {
        Reader { data, pos: 0, base }
    }

    /// Current file offset.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Current position within `data`.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Moves to position `pos` within `data`.
    pub fn seek(&mut self, pos: usize) {
        self.pos = pos.min(self.data.len());
    }

    /// Bytes left.
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WsqError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(WsqError::Truncated {
                offset: self.base + self.data.len(),
                what,
            }),
        }
    }

    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, WsqError> {
        Ok(self.bytes(1, what)?[0])
    }

    /// A big-endian 16-bit value.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, WsqError> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A big-endian 32-bit value.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, WsqError> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Reads the two-byte length of the segment whose marker is at `marker_offset` and returns its
/// body (the bytes after the length field).
pub(crate) fn segment_body<'a>(
    r: &mut Reader<'a>,
    name: &'static str,
    marker_offset: usize,
) -> Result<&'a [u8], WsqError> {
    let len = r.u16("segment length")?;
    if len < 2 {
        return Err(WsqError::Malformed {
            segment: name,
            offset: marker_offset,
            reason: format!("length field {len} is smaller than the length field itself"),
        });
    }
    r.bytes(usize::from(len) - 2, "segment body")
}

/// Parses a segment body with `f`, which must consume it exactly.
fn parse_body<T>(
    body: &[u8],
    name: &'static str,
    offset: usize,
    f: impl FnOnce(&mut Reader<'_>) -> Result<T, WsqError>,
) -> Result<T, WsqError> {
    let mut r = Reader::new(body, offset + 4);
    let v = f(&mut r).map_err(|e| match e {
        WsqError::Truncated { .. } => WsqError::Malformed {
            segment: name,
            offset,
            reason: format!(
                "length field {} is too short for the content",
                body.len() + 2
            ),
        },
        other => other,
    })?;
    if !r.rest().is_empty() {
        return Err(WsqError::Malformed {
            segment: name,
            offset,
            reason: format!(
                "length field {} leaves {} unused bytes",
                body.len() + 2,
                r.rest().len()
            ),
        });
    }
    Ok(v)
}

/// `value / 10^scale`, divided step by step like NBIS (single precision between steps).
fn unscale(value: f32, scale: u8) -> f32 {
    let mut v = value;
    for _ in 0..scale {
        v = (f64::from(v) / 10.0) as f32;
    }
    v
}

/// `(scale, value)` with `value ≈ v · 10^scale` filling 16 bits, as NBIS packs it.
/// `None` when `v` is negative, not finite or too large.
pub(crate) fn pack_u16(v: f32) -> Option<(u8, u16)> {
    if v == 0.0 {
        return Some((0, 0));
    }
    if !(v > 0.0 && v < 65535.0) {
        return None;
    }
    let mut t = v;
    let mut scale = 0u32;
    while t < 65535.0 && scale < 255 {
        scale += 1;
        t *= 10.0;
    }
    scale -= 1;
    let value = (f64::from(t) / 10.0 + 0.5) as u32;
    Some((u8::try_from(scale).ok()?, u16::try_from(value).ok()?))
}

/// `(sign, scale, value)` with `value ≈ |v| · 10^scale` filling 32 bits, as NBIS packs filter
/// coefficients.
fn pack_u32(v: f32) -> (u8, u8, u32) {
    let (sign, mut t) = if v >= 0.0 { (0, v) } else { (1, -v) };
    if t == 0.0 {
        return (sign, 0, 0);
    }
    let mut scale = 0u8;
    while f64::from(t) < 4_294_967_295.0 && scale < u8::MAX {
        scale += 1;
        t = (f64::from(t) * 10.0) as f32;
    }
    let value = (f64::from(t) / 10.0 + 0.5) as u32;
    (sign, scale.saturating_sub(1), value)
}

/// Appends a marker.
pub(crate) fn put_marker(out: &mut Vec<u8>, m: u16) {
    out.extend_from_slice(&m.to_be_bytes());
}

/// Appends a marker segment: marker, length, body.
fn put_segment(out: &mut Vec<u8>, m: u16, body: &[u8]) {
    put_marker(out, m);
    let len = u16::try_from(body.len() + 2).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
}

/// Appends a COM segment (`text.len() <= 65533`, checked by the caller).
pub(crate) fn put_comment(out: &mut Vec<u8>, text: &[u8]) {
    put_segment(out, COM, text);
}

/// Appends the DTT segment for the standard filter bank.
pub(crate) fn put_transform_table(out: &mut Vec<u8>) {
    let mut body = vec![LO_TAPS as u8, HI_TAPS as u8];
    for &c in ANALYSIS_LO[LO_TAPS / 2..]
        .iter()
        .chain(&ANALYSIS_HI[HI_TAPS / 2..])
    {
        let (sign, scale, value) = pack_u32(c);
        body.push(sign);
        body.push(scale);
        body.extend_from_slice(&value.to_be_bytes());
    }
    put_segment(out, DTT, &body);
}

/// Parses a DTT body into synthesis filters.
pub(crate) fn parse_transform_table(body: &[u8], offset: usize) -> Result<Synthesis, WsqError> {
    parse_body(body, "DTT", offset, |r| {
        let lo_len = r.u8("DTT")?;
        let hi_len = r.u8("DTT")?;
        if (usize::from(lo_len), usize::from(hi_len)) != (LO_TAPS, HI_TAPS) {
            return Err(WsqError::Unsupported(format!(
                "filter bank with {lo_len} low-pass and {hi_len} high-pass taps \
                 (only the 9/7 bank of the specification is supported)"
            )));
        }
        let mut coeff = || -> Result<f32, WsqError> {
            let sign = r.u8("DTT")?;
            let scale = r.u8("DTT")?;
            let value = r.u32("DTT")?;
            let v = unscale(value as f32, scale);
            Ok(if sign != 0 { -v } else { v })
        };
        let mut lo_half = [0.0f32; 5];
        for c in &mut lo_half {
            *c = coeff()?;
        }
        let mut hi_half = [0.0f32; 4];
        for c in &mut hi_half {
            *c = coeff()?;
        }
        Ok(Synthesis::from_analysis_halves(&lo_half, &hi_half))
    })
}

/// Bin centre parameter written by the encoder (0.44, as exponent 2 and value 44).
const BIN_CENTER: (u8, u16) = (2, 44);

/// Appends the DQT segment; `Err` when a bin width cannot be represented.
pub(crate) fn put_quantization_table(out: &mut Vec<u8>, q: &Quant) -> Result<(), WsqError> {
    let mut body = vec![BIN_CENTER.0];
    body.extend_from_slice(&BIN_CENTER.1.to_be_bytes());
    for k in 0..SUBBANDS {
        let (qs, qv, zs, zv) = if q.q[k] != 0.0 {
            let bad = || {
                WsqError::InvalidArgument(format!(
                    "bin width of subband {k} ({}) cannot be stored; \
                     the bit rate is out of range for this image",
                    q.q[k]
                ))
            };
            let (qs, qv) = pack_u16(q.q[k]).ok_or_else(bad)?;
            let (zs, zv) = pack_u16(q.z[k]).ok_or_else(bad)?;
            (qs, qv, zs, zv)
        } else {
            (0, 0, 0, 0)
        };
        body.push(qs);
        body.extend_from_slice(&qv.to_be_bytes());
        body.push(zs);
        body.extend_from_slice(&zv.to_be_bytes());
    }
    put_segment(out, DQT, &body);
    Ok(())
}

/// Parses a DQT body.
pub(crate) fn parse_quantization_table(body: &[u8], offset: usize) -> Result<QuantTable, WsqError> {
    parse_body(body, "DQT", offset, |r| {
        let scale = r.u8("DQT")?;
        let c = r.u16("DQT")?;
        let mut t = QuantTable {
            bin_center: unscale(f32::from(c), scale),
            q: [0.0; SUBBANDS],
            z: [0.0; SUBBANDS],
        };
        for k in 0..SUBBANDS {
            let s = r.u8("DQT")?;
            let v = r.u16("DQT")?;
            t.q[k] = unscale(f32::from(v), s);
            let s = r.u8("DQT")?;
            let v = r.u16("DQT")?;
            t.z[k] = unscale(f32::from(v), s);
        }
        Ok(t)
    })
}

/// Appends a DHT segment holding one table.
pub(crate) fn put_huffman_table(out: &mut Vec<u8>, id: u8, t: &HuffTable) {
    let mut body = Vec::with_capacity(1 + MAX_CODE_LEN + t.values.len());
    body.push(id);
    body.extend_from_slice(&t.bits);
    body.extend_from_slice(&t.values);
    put_segment(out, DHT, &body);
}

/// Parses a DHT body (one or more tables) into `tables`.
pub(crate) fn parse_huffman_tables(
    body: &[u8],
    offset: usize,
    tables: &mut [Option<HuffTable>; MAX_TABLES],
) -> Result<(), WsqError> {
    let bad = |reason: String| WsqError::Malformed {
        segment: "DHT",
        offset,
        reason,
    };
    if body.is_empty() {
        return Err(bad("no table in segment".into()));
    }
    parse_body(body, "DHT", offset, |r| {
        while !r.rest().is_empty() {
            let id = r.u8("DHT")?;
            if usize::from(id) >= MAX_TABLES {
                return Err(bad(format!("table id {id} (at most {})", MAX_TABLES - 1)));
            }
            let mut t = HuffTable::default();
            t.bits.copy_from_slice(r.bytes(MAX_CODE_LEN, "DHT")?);
            let n: usize = t.bits.iter().map(|&b| usize::from(b)).sum();
            if n > 256 {
                return Err(bad(format!("table {id} declares {n} codes (at most 256)")));
            }
            t.values = r.bytes(n, "DHT")?.to_vec();
            tables[usize::from(id)] = Some(t);
        }
        Ok(())
    })
}

/// The frame header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Frame {
    /// Black calibration value.
    pub black: u8,
    /// White calibration value.
    pub white: u8,
    /// Lines.
    pub height: u16,
    /// Samples per line.
    pub width: u16,
    /// Shift added back after reconstruction (the image mean).
    pub m_shift: f32,
    /// Scale applied after reconstruction.
    pub r_scale: f32,
    /// Encoder number.
    pub encoder: u8,
    /// Software implementation number.
    pub software: u16,
}

/// Appends the SOF segment.
pub(crate) fn put_frame_header(out: &mut Vec<u8>, f: &Frame) -> Result<(), WsqError> {
    let bad = || WsqError::InvalidArgument("image statistics cannot be stored".into());
    let (ms, mv) = pack_u16(f.m_shift).ok_or_else(bad)?;
    let (rs, rv) = pack_u16(f.r_scale).ok_or_else(bad)?;
    let mut body = vec![f.black, f.white];
    body.extend_from_slice(&f.height.to_be_bytes());
    body.extend_from_slice(&f.width.to_be_bytes());
    body.push(ms);
    body.extend_from_slice(&mv.to_be_bytes());
    body.push(rs);
    body.extend_from_slice(&rv.to_be_bytes());
    body.push(f.encoder);
    body.extend_from_slice(&f.software.to_be_bytes());
    put_segment(out, SOF, &body);
    Ok(())
}

/// Parses a SOF body.
pub(crate) fn parse_frame_header(body: &[u8], offset: usize) -> Result<Frame, WsqError> {
    parse_body(body, "SOF", offset, |r| {
        let black = r.u8("SOF")?;
        let white = r.u8("SOF")?;
        let height = r.u16("SOF")?;
        let width = r.u16("SOF")?;
        let s = r.u8("SOF")?;
        let m_shift = unscale(f32::from(r.u16("SOF")?), s);
        let s = r.u8("SOF")?;
        let r_scale = unscale(f32::from(r.u16("SOF")?), s);
        let encoder = r.u8("SOF")?;
        let software = r.u16("SOF")?;
        Ok(Frame {
            black,
            white,
            height,
            width,
            m_shift,
            r_scale,
            encoder,
            software,
        })
    })
}

/// Appends a SOB segment (block header) for Huffman table `id`.
pub(crate) fn put_block_header(out: &mut Vec<u8>, id: u8) {
    put_segment(out, SOB, &[id]);
}

/// Parses a SOB body: the Huffman table id.
pub(crate) fn parse_block_header(body: &[u8], offset: usize) -> Result<u8, WsqError> {
    parse_body(body, "SOB", offset, |r| r.u8("SOB"))
}

/// Parses a DRT body: the restart interval.
pub(crate) fn parse_restart_interval(body: &[u8], offset: usize) -> Result<u16, WsqError> {
    parse_body(body, "DRT", offset, |r| r.u16("DRT"))
}

/// The NIST comment (NISTCOM) NBIS puts first in every WSQ file it writes.
pub(crate) fn nistcom(width: u32, height: u32, ppi: Option<u16>, bitrate: f32) -> String {
    let ppi = ppi.map_or(-1, i32::from);
    format!(
        "NIST_COM 9\nPIX_WIDTH {width}\nPIX_HEIGHT {height}\nPIX_DEPTH 8\nPPI {ppi}\n\
         LOSSY 1\nCOLORSPACE GRAY\nCOMPRESSION WSQ\nWSQ_BITRATE {:.6}",
        f64::from(bitrate)
    )
}

/// `(name, value)` pairs of a NISTCOM text (one `NAME value` pair per line).
pub(crate) fn parse_nistcom(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_matches(|c: char| c == '\r' || c == '\0');
            let mut parts = line.splitn(2, [' ', '\t']);
            let name = parts.next()?.trim();
            if name.is_empty() {
                return None;
            }
            let value = parts.next().unwrap_or("").trim();
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}

/// True when a comment is a NISTCOM.
pub(crate) fn is_nistcom(text: &[u8]) -> bool {
    text.starts_with(b"NIST_COM")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_values_round_trip_like_nbis() {
        // The frame header of NBIS's cwsq for an image with mean 127.35 and scale 0.9921875.
        assert_eq!(pack_u16(127.35), Some((2, 12735)));
        assert_eq!(pack_u16(0.992_187_5), Some((4, 9922)));
        assert_eq!(pack_u16(0.0), Some((0, 0)));
        assert_eq!(pack_u16(-1.0), None);
        assert_eq!(pack_u16(70000.0), None);
        assert_eq!(pack_u16(f32::NAN), None);
        let (s, v) = pack_u16(2.71234).expect("packs");
        assert!((unscale(f32::from(v), s) - 2.71234).abs() < 1e-3);
    }

    #[test]
    fn transform_table_matches_the_standard_filters() {
        let mut out = Vec::new();
        put_transform_table(&mut out);
        assert_eq!(out.len(), 60);
        assert_eq!(&out[..4], &[0xFF, 0xA4, 0x00, 0x3A]);
        let syn = parse_transform_table(&out[4..], 0).expect("parses");
        let expected = crate::transform::default_synthesis();
        for (a, b) in syn
            .lo
            .iter()
            .zip(&expected.lo)
            .chain(syn.hi.iter().zip(&expected.hi))
        {
            assert!((a - b).abs() < 1e-7, "{a} vs {b}");
        }
    }

    #[test]
    fn nistcom_parses_back() {
        let t = nistcom(800, 750, Some(500), 0.75);
        assert!(t.ends_with("WSQ_BITRATE 0.750000"));
        let kv = parse_nistcom(&t);
        assert_eq!(kv.len(), 9);
        assert_eq!(kv[4], ("PPI".to_string(), "500".to_string()));
    }

    #[test]
    fn bad_lengths_are_reported() {
        // SOF body one byte short.
        let e = parse_frame_header(&[0; 14], 10).expect_err("short");
        assert!(matches!(
            e,
            WsqError::Malformed {
                segment: "SOF",
                offset: 10,
                ..
            }
        ));
        let e = parse_block_header(&[0, 0], 3).expect_err("long");
        assert!(matches!(e, WsqError::Malformed { segment: "SOB", .. }));
    }
}
