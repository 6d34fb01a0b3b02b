//! ISO/IEC 19794-4:2005 finger image records.
//!
//! A record is the 32-byte *general record header* followed by one *finger image view* per
//! image: the 14-byte *finger image header record* and the image data. All integers are
//! unsigned big-endian. Field names below are the standard's; the offsets and sizes are those
//! of the 2005 edition (version `010`), as also implemented by NIST's biomdi `fir.h`
//! (`FIR_ISO_HEADER_LENGTH` 32, `FIVR_HEADER_LENGTH` 14, a 6-byte record length).
//!
//! General record header, 32 bytes:
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | format identifier `"FIR\0"` |
//! | 4 | 4 | version `"010\0"` |
//! | 8 | 6 | record length, header and all views |
//! | 14 | 2 | capture device ID |
//! | 16 | 2 | image acquisition level |
//! | 18 | 1 | number of finger/palm images: the number of views that follow |
//! | 19 | 1 | scale units: 1 = pixels per inch, 2 = pixels per centimetre |
//! | 20 | 2+2 | horizontal, vertical scan resolution |
//! | 24 | 2+2 | horizontal, vertical image resolution |
//! | 28 | 1 | pixel depth in bits |
//! | 29 | 1 | image compression algorithm |
//! | 30 | 2 | reserved, zero |
//!
//! Finger image header, 14 bytes:
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | length of this view: header plus image data |
//! | 4 | 1 | finger/palm position |
//! | 5 | 1 | count of views of this finger |
//! | 6 | 1 | view number, 1-based |
//! | 7 | 1 | image quality 0–100 |
//! | 8 | 1 | impression type |
//! | 9 | 2+2 | horizontal, vertical line length in pixels |
//! | 13 | 1 | reserved, zero |
//!
//! This crate writes scale units 1 (ppi) and the same value for scan and image resolution; the
//! parser also accepts pixels per centimetre and converts to ppi. Images are carried as bytes:
//! raw 8-bit greyscale (`Compression::Uncompressed`, one byte per pixel, row by row) or already
//! compressed (WSQ, JPEG, JPEG 2000, PNG). Palm positions (codes 20 and above) are not supported.

use crate::bytes::{Reader, put_uint};
use crate::error::{RecordError, Result};
use crate::image_info::{self, ImageFormat};

const RECORD: &str = "ISO/IEC 19794-4";

/// Format identifier of the general record header.
pub const FORMAT_ID: [u8; 4] = *b"FIR\0";
/// Version number of ISO/IEC 19794-4:2005.
pub const VERSION: [u8; 4] = *b"010\0";
/// Size of the general record header.
pub const GENERAL_HEADER_LEN: usize = 32;
/// Size of a finger image header record.
pub const VIEW_HEADER_LEN: usize = 14;

/// Finger position codes of ISO/IEC 19794-4:2005 (the same codes as the finger position table
/// of ANSI/NIST-ITL 1-2011 that the Type-14 FGP field uses).
///
/// Codes 11 and 12 (plain thumbs one at a time) come from the ANSI/NIST table; ISO/IEC
/// 19794-4:2005 lists 0–10 and 13–15 only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum FingerPosition {
    /// 0: unknown finger.
    Unknown = 0,
    /// 1: right thumb.
    RightThumb = 1,
    /// 2: right index finger.
    RightIndex = 2,
    /// 3: right middle finger.
    RightMiddle = 3,
    /// 4: right ring finger.
    RightRing = 4,
    /// 5: right little finger.
    RightLittle = 5,
    /// 6: left thumb.
    LeftThumb = 6,
    /// 7: left index finger.
    LeftIndex = 7,
    /// 8: left middle finger.
    LeftMiddle = 8,
    /// 9: left ring finger.
    LeftRing = 9,
    /// 10: left little finger.
    LeftLittle = 10,
    /// 11: plain right thumb (ANSI/NIST only).
    PlainRightThumb = 11,
    /// 12: plain left thumb (ANSI/NIST only).
    PlainLeftThumb = 12,
    /// 13: plain right four fingers (slap).
    PlainRightFour = 13,
    /// 14: plain left four fingers (slap).
    PlainLeftFour = 14,
    /// 15: plain thumbs, both (slap).
    PlainThumbs = 15,
}

impl FingerPosition {
    /// Every position, in code order.
    pub const ALL: [FingerPosition; 16] = [
        Self::Unknown,
        Self::RightThumb,
        Self::RightIndex,
        Self::RightMiddle,
        Self::RightRing,
        Self::RightLittle,
        Self::LeftThumb,
        Self::LeftIndex,
        Self::LeftMiddle,
        Self::LeftRing,
        Self::LeftLittle,
        Self::PlainRightThumb,
        Self::PlainLeftThumb,
        Self::PlainRightFour,
        Self::PlainLeftFour,
        Self::PlainThumbs,
    ];

    /// The numeric code written in records.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The position for a code, if it is one of the codes above.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// True for the slap codes 13, 14 and 15, which show several fingers in one image.
    pub fn is_slap(self) -> bool {
        matches!(
            self,
            Self::PlainRightFour | Self::PlainLeftFour | Self::PlainThumbs
        )
    }
}

/// Impression type codes of ISO/IEC 19794-4:2005 (shared with the impression type table of
/// ANSI/NIST-ITL 1-2011, the IMP field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImpressionType {
    /// 0: live-scan plain.
    LiveScanPlain,
    /// 1: live-scan rolled.
    LiveScanRolled,
    /// 2: non-live-scan plain (ink on card).
    NonLiveScanPlain,
    /// 3: non-live-scan rolled.
    NonLiveScanRolled,
    /// 4: latent impression.
    LatentImpression,
    /// 5: latent tracing.
    LatentTracing,
    /// 6: latent photo.
    LatentPhoto,
    /// 7: latent lift.
    LatentLift,
    /// 8: live-scan swipe.
    LiveScanSwipe,
    /// Any other code of the standards' tables (palm, contactless, other, unknown).
    Other(u8),
}

impl ImpressionType {
    /// The numeric code written in records.
    pub fn code(self) -> u8 {
        match self {
            Self::LiveScanPlain => 0,
            Self::LiveScanRolled => 1,
            Self::NonLiveScanPlain => 2,
            Self::NonLiveScanRolled => 3,
            Self::LatentImpression => 4,
            Self::LatentTracing => 5,
            Self::LatentPhoto => 6,
            Self::LatentLift => 7,
            Self::LiveScanSwipe => 8,
            Self::Other(c) => c,
        }
    }

    /// The impression type for a code; codes without a named variant become `Other`.
    pub fn from_code(code: u8) -> Self {
        match code {
            0 => Self::LiveScanPlain,
            1 => Self::LiveScanRolled,
            2 => Self::NonLiveScanPlain,
            3 => Self::NonLiveScanRolled,
            4 => Self::LatentImpression,
            5 => Self::LatentTracing,
            6 => Self::LatentPhoto,
            7 => Self::LatentLift,
            8 => Self::LiveScanSwipe,
            c => Self::Other(c),
        }
    }
}

/// Image compression algorithm codes of ISO/IEC 19794-4:2005.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Compression {
    /// 0: uncompressed, no bit packing (one byte per pixel at 8-bit depth).
    Uncompressed = 0,
    /// 1: uncompressed, bit packed.
    UncompressedBitPacked = 1,
    /// 2: WSQ.
    Wsq = 2,
    /// 3: JPEG.
    Jpeg = 3,
    /// 4: JPEG 2000.
    Jpeg2000 = 4,
    /// 5: PNG.
    Png = 5,
}

impl Compression {
    /// The numeric code written in the general header.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The algorithm for a code, if the standard defines it.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Uncompressed,
            1 => Self::UncompressedBitPacked,
            2 => Self::Wsq,
            3 => Self::Jpeg,
            4 => Self::Jpeg2000,
            5 => Self::Png,
            _ => return None,
        })
    }

    fn of_format(format: ImageFormat) -> Self {
        match format {
            ImageFormat::Jpeg => Self::Jpeg,
            ImageFormat::Jpeg2000 => Self::Jpeg2000,
            ImageFormat::Png => Self::Png,
            ImageFormat::Wsq => Self::Wsq,
        }
    }
}

/// Image acquisition setting levels of ISO/IEC 19794-4:2005 that this crate names.
pub mod acquisition_level {
    /// Level 31: 500 ppi, 8 bits per pixel (the level for 500 ppi live-scan enrollment).
    pub const LEVEL_31: u16 = 31;
    /// Level 30: 500 ppi, 8 bits per pixel.
    pub const LEVEL_30: u16 = 30;
    /// Level 41: 1000 ppi, 8 bits per pixel.
    pub const LEVEL_41: u16 = 41;
}

/// One finger image view: the finger image header record fields and the image bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerView {
    /// Finger position.
    pub position: FingerPosition,
    /// View number of this finger, from 1. The count of views is computed when
    /// writing from the views with the same position.
    pub view_number: u8,
    /// Image quality 0–100; 0 when not computed.
    pub quality: u8,
    /// Impression type.
    pub impression: ImpressionType,
    /// Horizontal line length: width in pixels.
    pub width: u16,
    /// Vertical line length: height in pixels.
    pub height: u16,
    /// Image data in the record's compression.
    pub data: Vec<u8>,
}

impl FingerView {
    /// A live-scan plain view of raw 8-bit greyscale pixels (`width * height` bytes, row by row).
    ///
    /// # Errors
    /// [`RecordError::LengthMismatch`] when `pixels` is not `width * height` bytes.
    pub fn raw(position: FingerPosition, pixels: Vec<u8>, width: u16, height: u16) -> Result<Self> {
        let expected = usize::from(width) * usize::from(height);
        if pixels.len() != expected {
            return Err(RecordError::LengthMismatch {
                record: RECORD,
                what: "raw image bytes (width x height)",
                declared: expected as u64,
                actual: pixels.len() as u64,
            });
        }
        Ok(Self {
            position,
            view_number: 1,
            quality: 0,
            impression: ImpressionType::LiveScanPlain,
            width,
            height,
            data: pixels,
        })
    }

    /// A live-scan plain view of an already-compressed image (WSQ, JPEG, JPEG 2000 or PNG); the
    /// size is read from the image header. Returns the view and the record compression it needs.
    ///
    /// # Errors
    /// Any [`image_info::probe`] error, or [`RecordError::InvalidField`] when the image is wider
    /// or taller than 65535 pixels.
    pub fn compressed(position: FingerPosition, data: Vec<u8>) -> Result<(Self, Compression)> {
        let info = image_info::probe(&data)?;
        let width = u16::try_from(info.width)
            .map_err(|_| RecordError::invalid(RECORD, "horizontal line length", "over 65535"))?;
        let height = u16::try_from(info.height)
            .map_err(|_| RecordError::invalid(RECORD, "vertical line length", "over 65535"))?;
        Ok((
            Self {
                position,
                view_number: 1,
                quality: 0,
                impression: ImpressionType::LiveScanPlain,
                width,
                height,
                data,
            },
            Compression::of_format(info.format),
        ))
    }
}

/// An ISO/IEC 19794-4:2005 finger image record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerImageRecord {
    /// Capture device ID; 0 when unreported.
    pub capture_device_id: u16,
    /// Image acquisition level, e.g. [`acquisition_level::LEVEL_31`].
    pub acquisition_level: u16,
    /// Image resolution in pixels per inch; written for both axes.
    pub resolution_ppi: u16,
    /// Scan resolution in pixels per inch; usually equal to `resolution_ppi`.
    pub scan_resolution_ppi: u16,
    /// Pixel depth in bits, 1–16; 8 for greyscale.
    pub pixel_depth: u8,
    /// Compression of every view's data.
    pub compression: Compression,
    /// The finger views, in record order.
    pub views: Vec<FingerView>,
}

impl FingerImageRecord {
    /// A record at `resolution_ppi` for 8-bit images, acquisition level 31, no views yet.
    pub fn new(resolution_ppi: u16, compression: Compression) -> Self {
        Self {
            capture_device_id: 0,
            acquisition_level: acquisition_level::LEVEL_31,
            resolution_ppi,
            scan_resolution_ppi: resolution_ppi,
            pixel_depth: 8,
            compression,
            views: Vec::new(),
        }
    }

    /// Number of distinct finger positions among the views.
    pub fn finger_count(&self) -> usize {
        let mut seen = [false; 256];
        self.views
            .iter()
            .filter(|v| !std::mem::replace(&mut seen[usize::from(v.position.code())], true))
            .count()
    }

    /// Total length of the encoded record in bytes.
    pub fn encoded_len(&self) -> usize {
        GENERAL_HEADER_LEN
            + self
                .views
                .iter()
                .map(|v| VIEW_HEADER_LEN + v.data.len())
                .sum::<usize>()
    }

    /// Encodes the record.
    ///
    /// # Errors
    /// [`RecordError::InvalidField`] when a value does not fit its field or breaks a rule of the
    /// standard (no views, quality over 100, view number 0, resolution 0, pixel depth outside
    /// 1–16) or a compressed image is not in the record's format and size,
    /// [`RecordError::LengthMismatch`] when raw image data is not `width * height` bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let total = self.encoded_len();
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&FORMAT_ID);
        out.extend_from_slice(&VERSION);
        put_uint(&mut out, total as u64, 6, RECORD, "record length")?;
        out.extend_from_slice(&self.capture_device_id.to_be_bytes());
        out.extend_from_slice(&self.acquisition_level.to_be_bytes());
        // The count of finger image views that follow, as NIST biomdi reads it.
        let fingers = u8::try_from(self.views.len())
            .map_err(|_| RecordError::invalid(RECORD, "number of fingers", "over 255 views"))?;
        out.push(fingers);
        out.push(1); // scale units: pixels per inch
        out.extend_from_slice(&self.scan_resolution_ppi.to_be_bytes());
        out.extend_from_slice(&self.scan_resolution_ppi.to_be_bytes());
        out.extend_from_slice(&self.resolution_ppi.to_be_bytes());
        out.extend_from_slice(&self.resolution_ppi.to_be_bytes());
        out.push(self.pixel_depth);
        out.push(self.compression.code());
        out.extend_from_slice(&[0, 0]);
        for view in &self.views {
            let count = self
                .views
                .iter()
                .filter(|v| v.position == view.position)
                .count();
            let count = u8::try_from(count)
                .map_err(|_| RecordError::invalid(RECORD, "count of views", "over 255"))?;
            put_uint(
                &mut out,
                (VIEW_HEADER_LEN + view.data.len()) as u64,
                4,
                RECORD,
                "finger data block length",
            )?;
            out.push(view.position.code());
            out.push(count);
            out.push(view.view_number);
            out.push(view.quality);
            out.push(view.impression.code());
            out.extend_from_slice(&view.width.to_be_bytes());
            out.extend_from_slice(&view.height.to_be_bytes());
            out.push(0);
            out.extend_from_slice(&view.data);
        }
        debug_assert_eq!(out.len(), total);
        Ok(out)
    }

    fn validate(&self) -> Result<()> {
        if self.views.is_empty() {
            return Err(RecordError::invalid(
                RECORD,
                "number of fingers",
                "a record holds at least one view",
            ));
        }
        if self.resolution_ppi == 0 || self.scan_resolution_ppi == 0 {
            return Err(RecordError::invalid(RECORD, "resolution", "must not be 0"));
        }
        if !(1..=16).contains(&self.pixel_depth) {
            return Err(RecordError::invalid(
                RECORD,
                "pixel depth",
                format!("{} is outside 1-16", self.pixel_depth),
            ));
        }
        for view in &self.views {
            if view.quality > 100 {
                return Err(RecordError::invalid(
                    RECORD,
                    "finger image quality",
                    format!("{} is over 100", view.quality),
                ));
            }
            if view.view_number == 0 {
                return Err(RecordError::invalid(RECORD, "view number", "starts at 1"));
            }
            let format = match self.compression {
                Compression::Wsq => Some(ImageFormat::Wsq),
                Compression::Jpeg => Some(ImageFormat::Jpeg),
                Compression::Jpeg2000 => Some(ImageFormat::Jpeg2000),
                Compression::Png => Some(ImageFormat::Png),
                Compression::Uncompressed | Compression::UncompressedBitPacked => None,
            };
            if let Some(format) = format {
                image_info::check(
                    &view.data,
                    format,
                    u32::from(view.width),
                    u32::from(view.height),
                    RECORD,
                    "image data",
                )?;
            }
            if self.compression == Compression::Uncompressed && self.pixel_depth == 8 {
                let expected = usize::from(view.width) * usize::from(view.height);
                if view.data.len() != expected {
                    return Err(RecordError::LengthMismatch {
                        record: RECORD,
                        what: "raw image bytes (width x height)",
                        declared: expected as u64,
                        actual: view.data.len() as u64,
                    });
                }
            }
        }
        Ok(())
    }

    /// Parses a record, checking every length against the data.
    ///
    /// # Errors
    /// [`RecordError::BadMagic`] / [`RecordError::BadVersion`] for another format or version,
    /// [`RecordError::Truncated`] when the input ends early, [`RecordError::LengthMismatch`] when
    /// the record length, a view length or the number of fingers disagrees with the data,
    /// [`RecordError::InvalidField`] for codes outside the standard's tables.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let mut r = Reader::new(data, RECORD);
        r.magic(&FORMAT_ID)?;
        r.version(&VERSION)?;
        let record_length = r.u48()?;
        if record_length != data.len() as u64 {
            return Err(RecordError::LengthMismatch {
                record: RECORD,
                what: "record length",
                declared: record_length,
                actual: data.len() as u64,
            });
        }
        let capture_device_id = r.u16()?;
        let acquisition_level = r.u16()?;
        let fingers = r.u8()?;
        let scale_units = r.u8()?;
        let scan_h = r.u16()?;
        let _scan_v = r.u16()?;
        let image_h = r.u16()?;
        let _image_v = r.u16()?;
        let pixel_depth = r.u8()?;
        let compression_code = r.u8()?;
        let _reserved = r.u16()?;

        let to_ppi = |value: u16| -> Result<u16> {
            match scale_units {
                1 => Ok(value),
                2 => u16::try_from((u32::from(value) * 254 + 50) / 100)
                    .map_err(|_| RecordError::invalid(RECORD, "resolution", "over 65535 ppi")),
                other => Err(RecordError::invalid(
                    RECORD,
                    "scale units",
                    format!("{other} is neither 1 (ppi) nor 2 (ppcm)"),
                )),
            }
        };
        let resolution_ppi = to_ppi(image_h)?;
        let scan_resolution_ppi = to_ppi(scan_h)?;
        if !(1..=16).contains(&pixel_depth) {
            return Err(RecordError::invalid(
                RECORD,
                "pixel depth",
                format!("{pixel_depth} is outside 1-16"),
            ));
        }
        let compression = Compression::from_code(compression_code).ok_or_else(|| {
            RecordError::invalid(
                RECORD,
                "image compression algorithm",
                format!("code {compression_code} is not 0-5"),
            )
        })?;

        let mut views = Vec::new();
        while r.remaining() > 0 {
            let start = r.position();
            let block_len = r.u32()? as usize;
            if block_len < VIEW_HEADER_LEN || block_len - 4 > r.remaining() {
                return Err(RecordError::LengthMismatch {
                    record: RECORD,
                    what: "finger data block length",
                    declared: block_len as u64,
                    actual: (data.len() - start) as u64,
                });
            }
            let position_code = r.u8()?;
            let position = FingerPosition::from_code(position_code).ok_or_else(|| {
                RecordError::invalid(
                    RECORD,
                    "finger position",
                    format!("code {position_code} is not a finger position this crate supports"),
                )
            })?;
            let view_count = r.u8()?;
            let view_number = r.u8()?;
            if view_number == 0 || view_count == 0 || view_number > view_count {
                return Err(RecordError::invalid(
                    RECORD,
                    "view number",
                    format!("view {view_number} of {view_count}"),
                ));
            }
            let quality = r.u8()?;
            if quality > 100 {
                return Err(RecordError::invalid(
                    RECORD,
                    "finger image quality",
                    format!("{quality} is over 100"),
                ));
            }
            let impression = ImpressionType::from_code(r.u8()?);
            let width = r.u16()?;
            let height = r.u16()?;
            let _reserved = r.u8()?;
            let image = r.take(block_len - VIEW_HEADER_LEN)?.to_vec();
            views.push(FingerView {
                position,
                view_number,
                quality,
                impression,
                width,
                height,
                data: image,
            });
        }
        let record = Self {
            capture_device_id,
            acquisition_level,
            resolution_ppi,
            scan_resolution_ppi,
            pixel_depth,
            compression,
            views,
        };
        if record.views.is_empty() {
            return Err(RecordError::invalid(
                RECORD,
                "number of fingers",
                "the record holds no view",
            ));
        }
        if usize::from(fingers) != record.views.len() {
            return Err(RecordError::LengthMismatch {
                record: RECORD,
                what: "number of fingers",
                declared: u64::from(fingers),
                actual: record.views.len() as u64,
            });
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_finger_record() -> FingerImageRecord {
        let mut rec = FingerImageRecord::new(500, Compression::Uncompressed);
        let pixels: Vec<u8> = (0..(20u32 * 30)).map(|i| (i * 7 % 251) as u8).collect();
        let mut a = FingerView::raw(FingerPosition::RightIndex, pixels.clone(), 20, 30)
            .unwrap_or_else(|e| panic!("{e}"));
        a.quality = 87;
        let mut b = a.clone();
        b.view_number = 2;
        b.quality = 60;
        let mut c = FingerView::raw(FingerPosition::PlainThumbs, pixels, 30, 20)
            .unwrap_or_else(|e| panic!("{e}"));
        c.impression = ImpressionType::LiveScanRolled;
        rec.views = vec![a, b, c];
        rec
    }

    #[test]
    fn header_fields_sit_where_table_2_puts_them() {
        let rec = two_finger_record();
        let bytes = rec.to_bytes().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bytes.len(), 32 + 3 * 14 + 3 * 600);
        assert_eq!(&bytes[0..8], b"FIR\x00010\x00");
        let len = u64::from_be_bytes([
            0, 0, bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13],
        ]);
        assert_eq!(len, bytes.len() as u64);
        assert_eq!(u16::from_be_bytes([bytes[16], bytes[17]]), 31); // acquisition level
        assert_eq!(bytes[18], 3); // three views follow
        assert_eq!(bytes[19], 1); // ppi
        for off in [20, 22, 24, 26] {
            assert_eq!(u16::from_be_bytes([bytes[off], bytes[off + 1]]), 500);
        }
        assert_eq!(bytes[28], 8);
        assert_eq!(bytes[29], 0);
        // First view header at 32.
        let v = &bytes[32..46];
        assert_eq!(u32::from_be_bytes([v[0], v[1], v[2], v[3]]), 14 + 600);
        assert_eq!(v[4], 2); // right index
        assert_eq!(v[5], 2); // two views of it
        assert_eq!(v[6], 1);
        assert_eq!(v[7], 87);
        assert_eq!(v[8], 0);
        assert_eq!(u16::from_be_bytes([v[9], v[10]]), 20);
        assert_eq!(u16::from_be_bytes([v[11], v[12]]), 30);
        // Third view: thumbs slap, one view, rolled.
        let off = 32 + 2 * (14 + 600);
        assert_eq!(&bytes[off + 4..off + 9], &[15, 1, 1, 0, 1]);
    }

    #[test]
    fn round_trip_is_exact() {
        let rec = two_finger_record();
        let bytes = rec.to_bytes().unwrap_or_else(|e| panic!("{e}"));
        let back = FingerImageRecord::parse(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, rec);
        assert_eq!((back.views.len(), back.finger_count()), (3, 2));
        assert_eq!(back.to_bytes().ok(), Some(bytes));
    }

    #[test]
    fn malformed_inputs_give_specific_errors() {
        let bytes = two_finger_record()
            .to_bytes()
            .unwrap_or_else(|e| panic!("{e}"));

        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert!(matches!(
            FingerImageRecord::parse(&bad),
            Err(RecordError::BadMagic { .. })
        ));

        let mut bad = bytes.clone();
        bad[5] = b'2';
        assert!(matches!(
            FingerImageRecord::parse(&bad),
            Err(RecordError::BadVersion { .. })
        ));

        assert!(matches!(
            FingerImageRecord::parse(&bytes[..bytes.len() - 1]),
            Err(RecordError::LengthMismatch {
                what: "record length",
                ..
            })
        ));
        assert!(matches!(
            FingerImageRecord::parse(&bytes[..10]),
            Err(RecordError::Truncated { .. })
        ));

        let mut bad = bytes.clone();
        bad[29] = 9;
        assert!(matches!(
            FingerImageRecord::parse(&bad),
            Err(RecordError::InvalidField { ref field, .. }) if field == "image compression algorithm"
        ));

        let mut bad = bytes.clone();
        bad[32 + 4] = 40; // palm code
        assert!(matches!(
            FingerImageRecord::parse(&bad),
            Err(RecordError::InvalidField { ref field, .. }) if field == "finger position"
        ));

        let mut bad = bytes.clone();
        bad[18] = 2;
        assert!(matches!(
            FingerImageRecord::parse(&bad),
            Err(RecordError::LengthMismatch {
                what: "number of fingers",
                ..
            })
        ));

        let mut bad = bytes;
        bad[32 + 3] = 0xFF; // first view claims to be much longer than the record
        assert!(matches!(
            FingerImageRecord::parse(&bad),
            Err(RecordError::LengthMismatch {
                what: "finger data block length",
                ..
            })
        ));
    }

    #[test]
    fn writer_rejects_out_of_range_values() {
        let mut rec = two_finger_record();
        rec.views[0].quality = 101;
        assert!(rec.to_bytes().is_err());
        let mut rec = two_finger_record();
        rec.views[0].data.pop();
        assert!(matches!(
            rec.to_bytes(),
            Err(RecordError::LengthMismatch { .. })
        ));
        let rec = FingerImageRecord::new(500, Compression::Wsq);
        assert!(rec.to_bytes().is_err());
    }

    #[test]
    fn compressed_views_must_match_the_record() {
        // SOI, SOF: black 0, white 255, 30 lines of 20 pixels, then EOI.
        let wsq = vec![
            0xFF, 0xA0, 0xFF, 0xA2, 0x00, 0x11, 0x00, 0xFF, 0x00, 0x1E, 0x00, 0x14, 0xFF, 0xA1,
        ];
        let (view, compression) =
            FingerView::compressed(FingerPosition::LeftIndex, wsq.clone()).unwrap();
        assert_eq!(compression, Compression::Wsq);
        assert_eq!((view.width, view.height), (20, 30));
        let mut rec = FingerImageRecord::new(500, compression);
        rec.views.push(view);
        let bytes = rec.to_bytes().unwrap();
        assert_eq!(bytes[29], 2);
        assert_eq!(FingerImageRecord::parse(&bytes).unwrap(), rec);

        let mut wrong_size = rec.clone();
        wrong_size.views[0].height = 31;
        assert!(matches!(
            wrong_size.to_bytes(),
            Err(RecordError::InvalidField { .. })
        ));
        let mut wrong_codec = rec;
        wrong_codec.compression = Compression::Jpeg;
        assert!(matches!(
            wrong_codec.to_bytes(),
            Err(RecordError::InvalidField { .. })
        ));
    }

    #[test]
    fn pixels_per_centimetre_are_converted() {
        let mut bytes = two_finger_record()
            .to_bytes()
            .unwrap_or_else(|e| panic!("{e}"));
        bytes[19] = 2;
        for off in [20, 22, 24, 26] {
            bytes[off..off + 2].copy_from_slice(&197u16.to_be_bytes());
        }
        let rec = FingerImageRecord::parse(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rec.resolution_ppi, 500);
    }

    #[test]
    fn finger_position_codes_match_table_5() {
        for (i, p) in FingerPosition::ALL.iter().enumerate() {
            assert_eq!(usize::from(p.code()), i);
            assert_eq!(FingerPosition::from_code(p.code()), Some(*p));
        }
        assert_eq!(FingerPosition::from_code(16), None);
        assert!(FingerPosition::PlainLeftFour.is_slap());
        assert!(!FingerPosition::LeftIndex.is_slap());
        for c in 0..=255u8 {
            assert_eq!(ImpressionType::from_code(c).code(), c);
        }
    }
}
