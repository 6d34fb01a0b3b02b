//! Frames to baseline JPEG: MJPEG passes through untouched except for the Huffman tables
//! many UVC cameras leave out ("AVI1" MJPEG, which relies on the standard tables of
//! ITU-T T.81 Annex K.3: [`mjpeg_to_jpeg`] puts them back), and YUYV 4:2:2 is encoded
//! ([`encode_yuyv`]) or turned into RGB ([`yuyv_to_rgb`]).
//!
//! UVC cameras send YUYV as ITU-R BT.601 with limited range (Y 16–235, Cb/Cr 16–240); JPEG
//! (JFIF) holds BT.601 full range. [`encode_yuyv`] goes straight from one to the other —
//! expanding the range through a table and keeping the camera's 4:2:2 chroma — without an
//! RGB image in between (two colour conversions per pixel saved; `benches/yuyv.rs`
//! measures it against the RGB route); [`yuyv_to_rgb`] is the same conversion to RGB, for
//! callers that want pixels. The encoder is `jpeg-encoder` (AVX2 when the processor has
//! it), about three times as fast as the `image` crate's at 1280x720.

use std::sync::LazyLock;

use jpeg_encoder::{Encoder, ImageBuffer, JpegColorType, SamplingFactor};

/// A frame that cannot be turned into a JPEG.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The MJPEG frame is not a JPEG (no SOI, a broken marker segment, no scan).
    #[error("not a JPEG frame: {0}")]
    NotJpeg(&'static str),
    /// The YUYV frame is shorter than its size needs, or its width is odd.
    #[error("YUYV frame of {width}x{height} (stride {stride}) needs {needed} bytes, got {got}")]
    ShortFrame {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Bytes per row.
        stride: usize,
        /// Bytes the frame needs.
        needed: usize,
        /// Bytes it has.
        got: usize,
    },
    /// The size cannot be encoded (zero, odd width, over 65535).
    #[error("cannot encode a {0}x{1} frame")]
    BadSize(u32, u32),
    /// The encoder failed.
    #[error("JPEG encoder: {0}")]
    Encoder(String),
}

// ---------------------------------------------------------------------------------------
// MJPEG

/// The standard Huffman tables of ITU-T T.81 Annex K.3 (tables K.3, K.4, K.5, K.6):
/// (table class and id, code counts for lengths 1 to 16, symbols).
const STANDARD_TABLES: [(u8, [u8; 16], &[u8]); 4] = [
    // DC luminance (K.3)
    (
        0x00,
        [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    ),
    // AC luminance (K.5)
    (
        0x10,
        [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
        &[
            0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51,
            0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1,
            0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18,
            0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
            0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57,
            0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75,
            0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92,
            0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
            0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
            0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8,
            0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2,
            0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
        ],
    ),
    // DC chrominance (K.4)
    (
        0x01,
        [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    ),
    // AC chrominance (K.6)
    (
        0x11,
        [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
        &[
            0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07,
            0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09,
            0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25,
            0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38,
            0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56,
            0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74,
            0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
            0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
            0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba,
            0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6,
            0xd7, 0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2,
            0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
        ],
    ),
];

/// The DHT marker segment (`FF C4`, length, four tables) of the standard tables.
pub fn standard_dht_segment() -> &'static [u8] {
    static DHT: LazyLock<Vec<u8>> = LazyLock::new(|| {
        let body: usize = STANDARD_TABLES.iter().map(|(_, _, v)| 17 + v.len()).sum();
        let len = body + 2;
        let mut s = Vec::with_capacity(len + 2);
        s.extend_from_slice(&[0xFF, 0xC4, (len >> 8) as u8, (len & 0xFF) as u8]);
        for (class_id, counts, symbols) in STANDARD_TABLES {
            s.push(class_id);
            s.extend_from_slice(&counts);
            s.extend_from_slice(symbols);
        }
        s
    });
    &DHT
}

/// Where the marker segments of a JPEG's header stand: whether it defines Huffman tables,
/// and where its first scan (SOS) starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegHeader {
    /// True when a DHT segment comes before the first scan.
    pub has_dht: bool,
    /// The offset of the first SOS marker.
    pub sos_offset: usize,
}

/// Reads the marker segments from SOI up to the first scan (headers only: a few hundred
/// bytes of a frame).
pub fn scan_header(jpeg: &[u8]) -> Result<JpegHeader, ConvertError> {
    if jpeg.len() < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8 {
        return Err(ConvertError::NotJpeg("no SOI marker"));
    }
    let mut i = 2;
    let mut has_dht = false;
    loop {
        // Fill bytes (0xFF) may precede a marker.
        if jpeg.get(i) != Some(&0xFF) {
            return Err(ConvertError::NotJpeg("expected a marker"));
        }
        while jpeg.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        let marker = *jpeg
            .get(i + 1)
            .ok_or(ConvertError::NotJpeg("truncated header"))?;
        match marker {
            0xDA => {
                return Ok(JpegHeader {
                    has_dht,
                    sos_offset: i,
                });
            }
            0xD9 => return Err(ConvertError::NotJpeg("EOI before any scan")),
            // Markers without a length: TEM, RSTn.
            0x01 | 0xD0..=0xD7 => {
                i += 2;
                continue;
            }
            0xC4 => has_dht = true,
            _ => {}
        }
        let len = match (jpeg.get(i + 2), jpeg.get(i + 3)) {
            (Some(&hi), Some(&lo)) => usize::from(hi) << 8 | usize::from(lo),
            _ => return Err(ConvertError::NotJpeg("truncated header")),
        };
        if len < 2 {
            return Err(ConvertError::NotJpeg("marker segment length below 2"));
        }
        i += 2 + len;
        if i >= jpeg.len() {
            return Err(ConvertError::NotJpeg("no scan"));
        }
    }
}

/// An MJPEG frame as a baseline JPEG any decoder reads: the same bytes, with the standard
/// Huffman tables inserted before the scan when the frame has none. One copy, no decoding.
pub fn mjpeg_to_jpeg(frame: &[u8]) -> Result<Vec<u8>, ConvertError> {
    let header = scan_header(frame)?;
    if header.has_dht {
        return Ok(frame.to_vec());
    }
    let dht = standard_dht_segment();
    let mut out = Vec::with_capacity(frame.len() + dht.len());
    out.extend_from_slice(&frame[..header.sos_offset]);
    out.extend_from_slice(dht);
    out.extend_from_slice(&frame[header.sos_offset..]);
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// YUYV

/// BT.601 limited-range luma (16–235) to full range (0–255).
static Y_FULL: LazyLock<[u8; 256]> = LazyLock::new(|| {
    let mut t = [0u8; 256];
    for (v, out) in t.iter_mut().enumerate() {
        let x = (v as i32 - 16) * 255 * 2 + 219;
        *out = (x / (219 * 2)).clamp(0, 255) as u8;
    }
    t
});

/// BT.601 limited-range chroma (16–240 around 128) to full range (0–255 around 128).
static C_FULL: LazyLock<[u8; 256]> = LazyLock::new(|| {
    let mut t = [0u8; 256];
    for (v, out) in t.iter_mut().enumerate() {
        let d = (v as i32 - 128) * 255;
        // Round half away from zero, symmetric around 128.
        let q = if d >= 0 {
            (d + 112) / 224
        } else {
            -((-d + 112) / 224)
        };
        *out = (q + 128).clamp(0, 255) as u8;
    }
    t
});

fn check_yuyv(
    data: &[u8],
    width: u32,
    height: u32,
    stride: usize,
) -> Result<(usize, usize), ConvertError> {
    if width == 0 || height == 0 || width % 2 != 0 {
        return Err(ConvertError::BadSize(width, height));
    }
    let row = width as usize * 2;
    let stride = if stride == 0 { row } else { stride };
    let needed = stride * (height as usize - 1) + row;
    if stride < row || data.len() < needed {
        return Err(ConvertError::ShortFrame {
            width,
            height,
            stride,
            needed,
            got: data.len(),
        });
    }
    Ok((row, stride))
}

/// YUYV (BT.601 limited range) to packed RGB, 3 bytes per pixel, row after row. `stride`
/// is the bytes per row of the frame (0: twice the width). Integer arithmetic, 8 fractional
/// bits: R = 1.164(Y−16) + 1.596(V−128), G = 1.164(Y−16) − 0.392(U−128) − 0.813(V−128),
/// B = 1.164(Y−16) + 2.017(U−128).
pub fn yuyv_to_rgb(
    yuyv: &[u8],
    width: u32,
    height: u32,
    stride: usize,
) -> Result<Vec<u8>, ConvertError> {
    let (row, stride) = check_yuyv(yuyv, width, height, stride)?;
    let mut out = Vec::with_capacity(width as usize * height as usize * 3);
    let clip = |v: i32| (v >> 8).clamp(0, 255) as u8;
    for y in 0..height as usize {
        let line = &yuyv[y * stride..y * stride + row];
        for px in line.chunks_exact(4) {
            let (y0, u, y1, v) = (px[0], px[1], px[2], px[3]);
            let d = i32::from(u) - 128;
            let e = i32::from(v) - 128;
            for luma in [y0, y1] {
                let c = 298 * (i32::from(luma) - 16) + 128;
                out.push(clip(c + 409 * e));
                out.push(clip(c - 100 * d - 208 * e));
                out.push(clip(c + 516 * d));
            }
        }
    }
    Ok(out)
}

/// A YUYV frame as the encoder's image: full-range Y, Cb, Cr per pixel, chroma repeated
/// for the two pixels that share it (the encoder's 4:2:2 subsampling averages them back
/// to the camera's own values).
struct YuyvImage<'a> {
    data: &'a [u8],
    width: u16,
    height: u16,
    row: usize,
    stride: usize,
}

impl ImageBuffer for YuyvImage<'_> {
    fn get_jpeg_color_type(&self) -> JpegColorType {
        JpegColorType::Ycbcr
    }

    fn width(&self) -> u16 {
        self.width
    }

    fn height(&self) -> u16 {
        self.height
    }

    fn fill_buffers(&self, y: u16, buffers: &mut [Vec<u8>; 4]) {
        let start = usize::from(y) * self.stride;
        let Some(line) = self.data.get(start..start + self.row) else {
            return;
        };
        let (ly, lc) = (&*Y_FULL, &*C_FULL);
        let [yb, cb, cr, _] = buffers;
        for px in line.chunks_exact(4) {
            let u = lc[usize::from(px[1])];
            let v = lc[usize::from(px[3])];
            yb.push(ly[usize::from(px[0])]);
            yb.push(ly[usize::from(px[2])]);
            cb.push(u);
            cb.push(u);
            cr.push(v);
            cr.push(v);
        }
    }
}

/// Encodes a YUYV frame (BT.601 limited range) as a baseline JFIF JPEG with 4:2:2 chroma at
/// `quality` (1–100). `stride` is the bytes per row of the frame (0: twice the width).
pub fn encode_yuyv(
    yuyv: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    quality: u8,
) -> Result<Vec<u8>, ConvertError> {
    let (row, stride) = check_yuyv(yuyv, width, height, stride)?;
    let (w, h) = match (u16::try_from(width), u16::try_from(height)) {
        (Ok(w), Ok(h)) => (w, h),
        _ => return Err(ConvertError::BadSize(width, height)),
    };
    let mut out = Vec::with_capacity(row * height as usize / 8);
    let mut enc = Encoder::new(&mut out, quality.clamp(1, 100));
    enc.set_sampling_factor(SamplingFactor::F_2_1);
    enc.encode_image(YuyvImage {
        data: yuyv,
        width: w,
        height: h,
        row,
        stride,
    })
    .map_err(|e| ConvertError::Encoder(e.to_string()))?;
    Ok(out)
}

/// Encodes packed RGB (3 bytes per pixel) as a baseline JPEG with 4:2:0 chroma at
/// `quality` (1–100).
pub fn encode_rgb(
    rgb: &[u8],
    width: u32,
    height: u32,
    quality: u8,
) -> Result<Vec<u8>, ConvertError> {
    let (w, h) = match (u16::try_from(width), u16::try_from(height)) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => (w, h),
        _ => return Err(ConvertError::BadSize(width, height)),
    };
    let mut out = Vec::with_capacity(rgb.len() / 8);
    Encoder::new(&mut out, quality.clamp(1, 100))
        .encode(rgb, w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| ConvertError::Encoder(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn decode(jpeg: &[u8]) -> image::RgbImage {
        image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
            .unwrap()
            .to_rgb8()
    }

    /// A YUYV frame of one colour per 2-pixel pair.
    fn solid_yuyv(w: u32, h: u32, y: u8, u: u8, v: u8) -> Vec<u8> {
        [y, u, y, v].repeat((w * h / 2) as usize)
    }

    #[test]
    fn yuyv_pixels_by_hand() {
        // Black, white, BT.601 red (Y 81, U 90, V 240) and a pair with two lumas.
        let frame = [16, 128, 235, 128, 81, 90, 81, 240, 126, 128, 200, 128];
        let rgb = yuyv_to_rgb(&frame, 6, 1, 0).unwrap();
        // Y 16: (298*0 + 128) >> 8 = 0; Y 235: (298*219 + 128) >> 8 = 255.
        assert_eq!(&rgb[0..6], &[0, 0, 0, 255, 255, 255]);
        // Red: C = 65, D = -38, E = 112: R = (19370 + 45808 + 128) >> 8 = 255,
        // G = (19370 + 3800 - 23296 + 128) >> 8 = 0, B = (19370 - 19608 + 128) >> 8 < 0 -> 0.
        assert_eq!(&rgb[6..12], &[255, 0, 0, 255, 0, 0]);
        // Greys: Y 126: (298*110 + 128) >> 8 = 128; Y 200: (298*184 + 128) >> 8 = 214.
        assert_eq!(&rgb[12..18], &[128, 128, 128, 214, 214, 214]);
    }

    #[test]
    fn yuyv_rows_honour_the_stride() {
        // Two rows of 2 pixels with 4 bytes of padding after each row.
        let frame = [16, 128, 16, 128, 9, 9, 9, 9, 235, 128, 235, 128, 9, 9, 9, 9];
        let rgb = yuyv_to_rgb(&frame, 2, 2, 8).unwrap();
        assert_eq!(rgb, [0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255]);
        // The last row needs no padding.
        assert!(yuyv_to_rgb(&frame[..12], 2, 2, 8).is_ok());
        assert!(matches!(
            yuyv_to_rgb(&frame[..11], 2, 2, 8),
            Err(ConvertError::ShortFrame {
                needed: 12,
                got: 11,
                ..
            })
        ));
        assert_eq!(
            yuyv_to_rgb(&frame, 3, 1, 0),
            Err(ConvertError::BadSize(3, 1))
        );
    }

    #[test]
    fn range_tables_map_the_limits() {
        assert_eq!(
            (Y_FULL[16], Y_FULL[235], Y_FULL[0], Y_FULL[255]),
            (0, 255, 0, 255)
        );
        assert_eq!((C_FULL[16], C_FULL[128], C_FULL[240]), (0, 128, 255));
        // Symmetric around 128 (but for 240, whose +128 is clamped to 255).
        for d in 0..112u8 {
            assert_eq!(
                i32::from(C_FULL[usize::from(128 + d)]) - 128,
                128 - i32::from(C_FULL[usize::from(128 - d)])
            );
        }
    }

    #[test]
    fn encoded_yuyv_decodes_to_the_rgb_conversion() {
        // Bands of colour, 8 pixels tall, so that JPEG blocks are uniform.
        let (w, h) = (64u32, 32u32);
        let colours = [
            (81u8, 90u8, 240u8),
            (145, 54, 34),
            (41, 240, 110),
            (180, 128, 128),
        ];
        let mut frame = Vec::new();
        for (y, u, v) in colours {
            frame.extend(solid_yuyv(w, 8, y, u, v));
        }
        let want = yuyv_to_rgb(&frame, w, h, 0).unwrap();
        let got = decode(&encode_yuyv(&frame, w, h, 0, 95).unwrap());
        assert_eq!((got.width(), got.height()), (w, h));
        // Compare away from the bands' edges (chroma ringing there).
        for y in [3u32, 12, 20, 28] {
            for x in [5u32, 30, 60] {
                let i = ((y * w + x) * 3) as usize;
                let p = got.get_pixel(x, y).0;
                for c in 0..3 {
                    let d = (i32::from(p[c]) - i32::from(want[i + c])).abs();
                    assert!(d <= 6, "pixel ({x},{y}) {p:?} vs {:?}", &want[i..i + 3]);
                }
            }
        }
    }

    #[test]
    fn encoding_checks_the_frame() {
        assert!(matches!(
            encode_yuyv(&[0; 10], 4, 2, 0, 80),
            Err(ConvertError::ShortFrame { needed: 16, .. })
        ));
        assert_eq!(
            encode_yuyv(&[0; 16], 0, 2, 0, 80),
            Err(ConvertError::BadSize(0, 2))
        );
    }

    #[test]
    fn standard_tables_are_complete() {
        for (_, counts, symbols) in STANDARD_TABLES {
            let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
            assert_eq!(n, symbols.len());
        }
        let dht = standard_dht_segment();
        assert_eq!(&dht[..4], &[0xFF, 0xC4, 0x01, 0xA2]);
        assert_eq!(dht.len(), 0x1A2 + 2);
    }

    /// A JPEG with its DHT segments cut out, as AVI1 MJPEG cameras send.
    fn strip_dht(jpeg: &[u8]) -> Vec<u8> {
        let mut out = jpeg[..2].to_vec();
        let mut i = 2;
        loop {
            let marker = jpeg[i + 1];
            if marker == 0xDA {
                out.extend_from_slice(&jpeg[i..]);
                return out;
            }
            let len = usize::from(jpeg[i + 2]) << 8 | usize::from(jpeg[i + 3]);
            if marker != 0xC4 {
                out.extend_from_slice(&jpeg[i..i + 2 + len]);
            }
            i += 2 + len;
        }
    }

    #[test]
    fn mjpeg_without_tables_gets_the_standard_ones() {
        // Both encoders write the standard tables: cut them out, put ours back.
        let (w, h) = (48u32, 32u32);
        let mut frame = Vec::new();
        for y in 0..h {
            for x in (0..w).step_by(2) {
                frame.extend([
                    (x * 5) as u8 + 16,
                    (y * 7) as u8 + 16,
                    (x * 5 + 3) as u8,
                    200,
                ]);
            }
        }
        let ours = encode_yuyv(&frame, w, h, 0, 85).unwrap();
        let mut theirs = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut theirs, 85)
            .encode(
                &yuyv_to_rgb(&frame, w, h, 0).unwrap(),
                w,
                h,
                image::ExtendedColorType::Rgb8,
            )
            .unwrap();
        for original in [ours, theirs] {
            let bare = strip_dht(&original);
            assert!(!scan_header(&bare).unwrap().has_dht);
            assert!(image::load_from_memory(&bare).is_err(), "needs tables");
            let fixed = mjpeg_to_jpeg(&bare).unwrap();
            assert!(scan_header(&fixed).unwrap().has_dht);
            assert_eq!(fixed.len(), bare.len() + standard_dht_segment().len());
            assert_eq!(decode(&fixed), decode(&original));
        }
    }

    #[test]
    fn mjpeg_with_tables_passes_through_unchanged() {
        let jpeg = encode_yuyv(&solid_yuyv(16, 8, 100, 120, 130), 16, 8, 0, 80).unwrap();
        assert_eq!(mjpeg_to_jpeg(&jpeg).unwrap(), jpeg);
    }

    #[test]
    fn broken_mjpeg_is_refused() {
        assert!(mjpeg_to_jpeg(b"").is_err());
        assert!(mjpeg_to_jpeg(&[0xFF, 0xD8, 0xFF, 0xD9]).is_err());
        assert!(mjpeg_to_jpeg(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 1, 2]).is_err());
        assert!(mjpeg_to_jpeg(&[0xFF, 0xD8, 0x00, 0x00, 0x00]).is_err());
        // The smallest header: SOI then SOS.
        let h = scan_header(&[0xFF, 0xD8, 0xFF, 0xFF, 0xDA, 0, 2]).unwrap();
        assert_eq!(
            h,
            JpegHeader {
                has_dht: false,
                sos_offset: 3
            }
        );
    }
}
