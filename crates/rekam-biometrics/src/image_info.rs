//! Sniffing the format and pixel size of the compressed images that the records carry.
//!
//! A record header repeats the width and height of the image it wraps; the constructors in this
//! crate read them from the image itself so that the two cannot disagree. Only the headers are
//! read (JPEG SOF segment, PNG `IHDR`, JPEG 2000 `ihdr` box or `SIZ` marker, WSQ SOF segment):
//! nothing is decoded, so this needs no image library and runs in microseconds.

use crate::bytes::Reader;
use crate::error::{RecordError, Result};

const RECORD: &str = "image header";

/// A compressed image format recognised by [`probe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// JPEG (ISO/IEC 10918-1), any SOF type.
    Jpeg,
    /// JPEG 2000, either a JP2 file (ISO/IEC 15444-1 Annex I) or a bare codestream.
    Jpeg2000,
    /// PNG (ISO/IEC 15948).
    Png,
    /// WSQ (FBI IAFIS-IC-0110, the fingerprint wavelet codec).
    Wsq,
}

/// Format and size of a compressed image, read from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageInfo {
    /// The format recognised from the signature bytes.
    pub format: ImageFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Recognises the format of `data` and reads the image size from its header.
///
/// # Errors
/// [`RecordError::BadMagic`] when the signature is none of the supported formats,
/// [`RecordError::Truncated`] or [`RecordError::InvalidField`] when the header is damaged.
pub fn probe(data: &[u8]) -> Result<ImageInfo> {
    if data.starts_with(&[0xFF, 0xD8]) {
        jpeg(data)
    } else if data.starts_with(&[0xFF, 0xA0]) {
        wsq(data)
    } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        png(data)
    } else if data.starts_with(&[
        0, 0, 0, 0x0C, b'j', b'P', b' ', b' ', 0x0D, 0x0A, 0x87, 0x0A,
    ]) {
        jp2(data)
    } else if data.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        j2k_codestream(data)
    } else {
        Err(RecordError::BadMagic {
            record: RECORD,
            expected: b"JPEG, PNG, JPEG 2000 or WSQ signature".to_vec(),
            found: data.iter().take(4).copied().collect(),
        })
    }
}

fn nonzero(format: ImageFormat, width: u32, height: u32) -> Result<ImageInfo> {
    if width == 0 || height == 0 {
        return Err(RecordError::invalid(
            RECORD,
            "image size",
            format!("{width}x{height} has a zero dimension"),
        ));
    }
    Ok(ImageInfo {
        format,
        width,
        height,
    })
}

/// JPEG: walk the marker segments up to the first SOFn (ITU-T T.81 B.2.2).
fn jpeg(data: &[u8]) -> Result<ImageInfo> {
    let mut r = Reader::new(data, "JPEG");
    r.take(2)?; // SOI
    loop {
        if r.u8()? != 0xFF {
            return Err(RecordError::invalid(
                "JPEG",
                "marker",
                format!("expected 0xFF at offset {}", r.position() - 1),
            ));
        }
        let mut marker = r.u8()?;
        while marker == 0xFF {
            marker = r.u8()?; // fill bytes
        }
        match marker {
            0x01 | 0xD0..=0xD8 => continue, // stand-alone markers
            0xD9 | 0xDA => {
                return Err(RecordError::missing("JPEG", "SOF segment before SOS/EOI"));
            }
            0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                let _len = r.u16()?;
                let _precision = r.u8()?;
                let height = r.u16()?;
                let width = r.u16()?;
                return nonzero(ImageFormat::Jpeg, u32::from(width), u32::from(height));
            }
            _ => {
                let len = usize::from(r.u16()?);
                if len < 2 {
                    return Err(RecordError::invalid("JPEG", "segment length", "below 2"));
                }
                r.take(len - 2)?;
            }
        }
    }
}

/// WSQ: walk the marker segments up to SOF (FBI IAFIS-IC-0110 v3, A.2, SOF = 0xFFA2).
fn wsq(data: &[u8]) -> Result<ImageInfo> {
    let mut r = Reader::new(data, "WSQ");
    r.take(2)?; // SOI
    loop {
        let marker = r.u16()?;
        match marker {
            0xFFA2 => {
                let _len = r.u16()?;
                let _black = r.u8()?;
                let _white = r.u8()?;
                let height = r.u16()?;
                let width = r.u16()?;
                return nonzero(ImageFormat::Wsq, u32::from(width), u32::from(height));
            }
            0xFFA3..=0xFFA8 => {
                let len = usize::from(r.u16()?);
                if len < 2 {
                    return Err(RecordError::invalid("WSQ", "segment length", "below 2"));
                }
                r.take(len - 2)?;
            }
            other => {
                return Err(RecordError::invalid(
                    "WSQ",
                    "marker",
                    format!("unexpected marker {other:04X} before SOF"),
                ));
            }
        }
    }
}

/// PNG: the first chunk must be IHDR (ISO/IEC 15948 11.2.2).
fn png(data: &[u8]) -> Result<ImageInfo> {
    let mut r = Reader::new(data, "PNG");
    r.take(8)?;
    let _len = r.u32()?;
    r.magic(b"IHDR")?;
    let width = r.u32()?;
    let height = r.u32()?;
    nonzero(ImageFormat::Png, width, height)
}

/// JP2: find `jp2h` then its `ihdr` box (ISO/IEC 15444-1 I.5.3.1).
fn jp2(data: &[u8]) -> Result<ImageInfo> {
    let jp2h = find_box(data, *b"jp2h")?;
    let ihdr = find_box(jp2h, *b"ihdr")?;
    let mut r = Reader::new(ihdr, "JPEG 2000");
    let height = r.u32()?;
    let width = r.u32()?;
    nonzero(ImageFormat::Jpeg2000, width, height)
}

/// Returns the contents of the first box of type `kind` among the boxes in `data`.
fn find_box(data: &[u8], kind: [u8; 4]) -> Result<&[u8]> {
    let mut r = Reader::new(data, "JPEG 2000");
    while r.remaining() > 0 {
        let start = r.position();
        let lbox = r.u32()?;
        let tbox = r.take(4)?;
        let (header, total) = match lbox {
            0 => (8, data.len() - start),
            1 => {
                let xl = r.u32()? as u64 * (1u64 << 32) + u64::from(r.u32()?);
                (16, usize::try_from(xl).unwrap_or(usize::MAX))
            }
            n => (8, n as usize),
        };
        if total < header {
            return Err(RecordError::invalid(
                "JPEG 2000",
                "box length",
                "below header",
            ));
        }
        let body = r.take(total - header)?;
        if tbox == kind {
            return Ok(body);
        }
    }
    Err(RecordError::missing(
        "JPEG 2000",
        String::from_utf8_lossy(&kind).into_owned(),
    ))
}

/// Bare JPEG 2000 codestream: SIZ follows SOC (ISO/IEC 15444-1 A.5.1).
fn j2k_codestream(data: &[u8]) -> Result<ImageInfo> {
    let mut r = Reader::new(data, "JPEG 2000");
    r.take(4)?;
    let _lsiz = r.u16()?;
    let _rsiz = r.u16()?;
    let xsiz = r.u32()?;
    let ysiz = r.u32()?;
    let xosiz = r.u32()?;
    let yosiz = r.u32()?;
    nonzero(
        ImageFormat::Jpeg2000,
        xsiz.saturating_sub(xosiz),
        ysiz.saturating_sub(yosiz),
    )
}

/// Checks, when writing a record, that `data` is a `format` image of `width` x `height`.
pub(crate) fn check(
    data: &[u8],
    format: ImageFormat,
    width: u32,
    height: u32,
    record: &'static str,
    field: &str,
) -> Result<()> {
    let info = probe(data).map_err(|e| {
        RecordError::invalid(record, field, format!("image data is not {format:?}: {e}"))
    })?;
    if info.format != format {
        return Err(RecordError::invalid(
            record,
            field,
            format!(
                "image data is {:?}, the record says {format:?}",
                info.format
            ),
        ));
    }
    if (info.width, info.height) != (width, height) {
        return Err(RecordError::invalid(
            record,
            field,
            format!(
                "image is {}x{}, the record says {width}x{height}",
                info.width, info.height
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_header_is_read() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&640u32.to_be_bytes());
        png.extend_from_slice(&480u32.to_be_bytes());
        let info = probe(&png).ok();
        assert_eq!(
            info,
            Some(ImageInfo {
                format: ImageFormat::Png,
                width: 640,
                height: 480
            })
        );
    }

    #[test]
    fn jpeg_walks_app_segments_to_sof() {
        // SOI, APP0 of 4 bytes, SOF0 with 300 lines x 200 samples.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0xAA, 0xBB, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x01,
            0x2C, 0x00, 0xC8, 0x01, 0x01, 0x11, 0x00,
        ];
        let info = probe(&jpeg).ok();
        assert_eq!(info.map(|i| (i.width, i.height)), Some((200, 300)));
    }

    #[test]
    fn wsq_sof_is_read() {
        // SOI, COM of 4 bytes, SOF: len 17, black 0, white 255, height 0x0190, width 0x0120.
        let wsq = [
            0xFF, 0xA0, 0xFF, 0xA8, 0x00, 0x04, b'h', b'i', 0xFF, 0xA2, 0x00, 0x11, 0x00, 0xFF,
            0x01, 0x90, 0x01, 0x20,
        ];
        let info = probe(&wsq).ok();
        assert_eq!(
            info,
            Some(ImageInfo {
                format: ImageFormat::Wsq,
                width: 0x120,
                height: 0x190
            })
        );
    }

    #[test]
    fn unknown_and_truncated_inputs_are_errors() {
        assert!(matches!(
            probe(b"GIF89a"),
            Err(RecordError::BadMagic { .. })
        ));
        assert!(matches!(
            probe(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00]),
            Err(RecordError::Truncated { .. })
        ));
        assert!(matches!(
            probe(&[0xFF, 0xD8, 0xFF, 0xD9]),
            Err(RecordError::MissingField { .. })
        ));
    }
}
