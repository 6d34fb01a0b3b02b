//! ISO/IEC 19794-6:2011 iris image records (the format MOSIP's SBI returns for an iris).
//!
//! A record is the 16-byte *general header* followed by one *iris representation* per image:
//! a representation header (52 bytes plus 5 per quality block) and the image data. All
//! integers are unsigned big-endian. Field names are the standard's; the layout is that of
//! the 2011 edition (version `020`), as also read by NIST's biomdi `irisimage2011` and MOSIP's
//! bio-utils (`ISO19794_6_2011`), against which this module was checked
//! (`VALIDATION-19794-6.md` in this crate).
//!
//! General header, 16 bytes:
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | format identifier `"IIR\0"` |
//! | 4 | 4 | version `"020\0"` |
//! | 8 | 4 | length of record, header and all representations |
//! | 12 | 2 | number of iris representations |
//! | 14 | 1 | certification flag, 0 (no certification blocks in this edition) |
//! | 15 | 1 | number of eyes represented: 0 unknown, 1 one eye, 2 both |
//!
//! Iris representation, `q` the number of quality blocks:
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | representation length: this whole representation, image data included |
//! | 4 | 9 | capture date and time (UTC): year (2), month, day, hour, minute, second, millisecond (2); all bytes 0xFF when unknown |
//! | 13 | 1 | capture device technology: 0 unspecified, 1 CMOS/CCD |
//! | 14 | 2 | capture device vendor (0 unspecified) |
//! | 16 | 2 | capture device type (0 unspecified) |
//! | 18 | 1 | number of quality blocks `q` |
//! | 19 | 5 q | quality blocks: score (1; 0–100, 255 failed), algorithm vendor (2), algorithm (2) |
//! | 19 + 5q | 2 | representation number, 1-based |
//! | 21 + 5q | 1 | eye label: 0 undefined, 1 right, 2 left |
//! | 22 + 5q | 1 | image type: 1 uncropped, 2 VGA, 3 cropped (K3), 7 cropped and masked (K7) |
//! | 23 + 5q | 1 | image format: 2 mono raw, 10 mono JPEG 2000, 14 mono PNG |
//! | 24 + 5q | 1 | image properties: bits 0–1 horizontal orientation, 2–3 vertical orientation (0 undefined, 1 base, 2 flipped), 4–5 reserved, 6–7 compression history (0 undefined, 1 lossless or none, 2 lossy) |
//! | 25 + 5q | 2+2 | image width, height in pixels |
//! | 29 + 5q | 1 | bit depth |
//! | 30 + 5q | 2 | camera range in mm: 0 unassigned, 1 failed, 0xFFFF overflow |
//! | 32 + 5q | 2 | roll angle of the eye, 1/65536 of a turn; 0xFFFF undefined |
//! | 34 + 5q | 2 | roll angle uncertainty, same unit; 0xFFFF undefined |
//! | 36 + 5q | 2×4 | iris centre smallest x, largest x, smallest y, largest y (pixels; 0 undefined) |
//! | 44 + 5q | 2+2 | iris diameter smallest, largest (pixels; 0 undefined) |
//! | 48 + 5q | 4 | image length |
//! | 52 + 5q | n | image data |
//!
//! Images are carried as they come (a record never re-encodes what it wraps): JPEG 2000 or
//! PNG, whose format and size are read from their headers, or raw greyscale pixels. Only the
//! 2011 edition is read; a 2005 record (`"010\0"`) is refused with [`RecordError::BadVersion`].

use crate::bytes::{Reader, put_uint};
use crate::error::{RecordError, Result};
use crate::image_info::{self, ImageFormat};

const RECORD: &str = "ISO/IEC 19794-6";

/// Format identifier of the general header.
pub const FORMAT_ID: [u8; 4] = *b"IIR\0";
/// Version number of ISO/IEC 19794-6:2011.
pub const VERSION: [u8; 4] = *b"020\0";
/// Size of the general header.
pub const GENERAL_HEADER_LEN: usize = 16;
/// Size of a representation header without quality blocks, from the representation length
/// up to and including the image length field.
pub const REPRESENTATION_HEADER_LEN: usize = 52;
/// Size of one quality block.
pub const QUALITY_BLOCK_LEN: usize = 5;
/// The roll angle (and roll angle uncertainty) value meaning "undefined".
pub const ROLL_ANGLE_UNDEFINED: u16 = 0xFFFF;
/// The quality score meaning "failed to compute".
pub const QUALITY_FAILED: u8 = 255;

macro_rules! code_enum {
    (
        $(#[$doc:meta])*
        $name:ident, $field:literal { $( $(#[$vdoc:meta])* $variant:ident = $code:literal ),+ $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vdoc])* $variant ),+
        }

        impl $name {
            /// The code written in the record.
            pub fn code(self) -> u8 {
                match self {
                    $( Self::$variant => $code ),+
                }
            }

            /// The value for a code, if the standard defines it.
            pub fn from_code(code: u8) -> Option<Self> {
                match code {
                    $( $code => Some(Self::$variant), )+
                    _ => None,
                }
            }

            #[allow(dead_code)] // the orientations and history share a byte: read by hand
            fn read(r: &mut Reader<'_>) -> Result<Self> {
                let code = r.u8()?;
                Self::from_code(code).ok_or_else(|| {
                    RecordError::invalid(RECORD, $field, format!("undefined code {code:#04x}"))
                })
            }
        }
    };
}

code_enum! {
    /// Eye label: which eye the image shows.
    EyeLabel, "eye label" {
        /// 0: undefined.
        Undefined = 0,
        /// 1: the subject's right eye.
        Right = 1,
        /// 2: the subject's left eye.
        Left = 2,
    }
}

code_enum! {
    /// Image type (the "kind" of imagery of ISO/IEC 19794-6:2011 and ISO/IEC 29794-6).
    ImageType, "image type" {
        /// 1: uncropped, rectilinear.
        Uncropped = 1,
        /// 2: VGA, 640 × 480.
        Vga = 2,
        /// 3: cropped and centred (K3; MOSIP's type for registration).
        Cropped = 3,
        /// 7: cropped, centred and the region of interest masked (K7; MOSIP's type for
        /// authentication).
        CroppedAndMasked = 7,
    }
}

code_enum! {
    /// Image format of the image data.
    IrisImageFormat, "image format" {
        /// 2: raw monochrome pixels, row by row.
        MonoRaw = 2,
        /// 10: monochrome JPEG 2000 (a JP2 file or a bare codestream).
        MonoJpeg2000 = 10,
        /// 14: monochrome PNG.
        MonoPng = 14,
    }
}

code_enum! {
    /// Horizontal or vertical orientation of the image.
    Orientation, "orientation" {
        /// 0: undefined.
        Undefined = 0,
        /// 1: base (as the camera sees the eye).
        Base = 1,
        /// 2: flipped.
        Flipped = 2,
    }
}

code_enum! {
    /// Compression history: what the image went through before this record.
    CompressionHistory, "compression history" {
        /// 0: undefined.
        Undefined = 0,
        /// 1: lossless compression or none.
        LosslessOrNone = 1,
        /// 2: lossy compression.
        Lossy = 2,
    }
}

code_enum! {
    /// Capture device technology.
    CaptureDeviceTechnology, "capture device technology" {
        /// 0: unspecified.
        Unspecified = 0,
        /// 1: CMOS or CCD.
        CmosCcd = 1,
    }
}

/// One quality block: a score and the algorithm that computed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QualityBlock {
    /// Score 0–100, or [`QUALITY_FAILED`] (255).
    pub score: u8,
    /// Quality algorithm vendor identifier (registered with IBIA; 0 unspecified).
    pub algorithm_vendor: u16,
    /// Quality algorithm identifier, assigned by the vendor (0 unspecified).
    pub algorithm_id: u16,
}

/// Capture date and time in UTC.
///
/// A component not known is all ones (0xFF, or 0xFFFF for the year and millisecond), and then
/// so is every finer one (a date without time, a time without milliseconds as in NIST's
/// sample record); the date may be unknown with the time known. The whole field all ones is
/// an unknown capture time, which [`IrisImage::capture_time`] `None` stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CaptureDateTime {
    /// Year, e.g. 2026.
    pub year: u16,
    /// Month 1–12.
    pub month: u8,
    /// Day 1–31.
    pub day: u8,
    /// Hour 0–23, or 0xFF.
    pub hour: u8,
    /// Minute 0–59, or 0xFF.
    pub minute: u8,
    /// Second 0–59, or 0xFF.
    pub second: u8,
    /// Millisecond 0–999, or 0xFFFF.
    pub millisecond: u16,
}

impl CaptureDateTime {
    /// A date and time, or `None` when a value is out of its range.
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        millisecond: u16,
    ) -> Option<Self> {
        let t = Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
            millisecond,
        };
        t.check().is_ok().then_some(t)
    }

    fn check(&self) -> std::result::Result<(), String> {
        // ISO/IEC 19794-1:2011/Amd 2: a component may be unknown (all ones) only when every
        // finer one is too; the date may be unknown with the whole time known.
        let hour = self.hour == 0xFF;
        let minute = self.minute == 0xFF;
        let second = self.second == 0xFF;
        let milli = self.millisecond == 0xFFFF;
        let time_ok = (self.hour <= 23 || hour)
            && (self.minute <= 59 || minute)
            && (self.second <= 59 || second)
            && (self.millisecond <= 999 || milli)
            && (!hour || minute)
            && (!minute || second)
            && (!second || milli);
        let date_unknown = self.year == 0xFFFF && self.month == 0xFF && self.day == 0xFF;
        let date_ok = (1..0xFFFF).contains(&self.year)
            && (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day);
        let ok = time_ok && (date_ok || (date_unknown && !hour && !minute && !second && !milli));
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03} is not a date and time",
                self.year,
                self.month,
                self.day,
                self.hour,
                self.minute,
                self.second,
                self.millisecond
            ))
        }
    }

    fn write(t: Option<&Self>, out: &mut Vec<u8>) {
        match t {
            None => out.extend_from_slice(&[0xFF; 9]),
            Some(t) => {
                out.extend_from_slice(&t.year.to_be_bytes());
                out.extend_from_slice(&[t.month, t.day, t.hour, t.minute, t.second]);
                out.extend_from_slice(&t.millisecond.to_be_bytes());
            }
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Option<Self>> {
        let b = r.take(9)?;
        if b.iter().all(|&v| v == 0xFF) {
            return Ok(None);
        }
        let t = Self {
            year: u16::from_be_bytes([b[0], b[1]]),
            month: b[2],
            day: b[3],
            hour: b[4],
            minute: b[5],
            second: b[6],
            millisecond: u16::from_be_bytes([b[7], b[8]]),
        };
        t.check()
            .map_err(|reason| RecordError::invalid(RECORD, "capture date and time", reason))?;
        Ok(Some(t))
    }
}

/// A range of values (smallest, largest), as the iris centre and diameter fields give them;
/// 0 means undefined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The smallest value.
    pub smallest: u16,
    /// The largest value.
    pub largest: u16,
}

/// One iris representation: the representation header fields and the image bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrisImage {
    /// When the capture started (UTC); `None` writes the field as unknown (all 0xFF).
    pub capture_time: Option<CaptureDateTime>,
    /// Capture device technology.
    pub device_technology: CaptureDeviceTechnology,
    /// Capture device vendor identifier (0 unspecified).
    pub device_vendor: u16,
    /// Capture device type identifier, assigned by the vendor (0 unspecified).
    pub device_type: u16,
    /// Quality blocks (at most 255; none when no quality was computed).
    pub quality: Vec<QualityBlock>,
    /// Which eye.
    pub eye: EyeLabel,
    /// Image type.
    pub image_type: ImageType,
    /// Format of [`IrisImage::data`].
    pub format: IrisImageFormat,
    /// Horizontal orientation.
    pub horizontal_orientation: Orientation,
    /// Vertical orientation.
    pub vertical_orientation: Orientation,
    /// Compression history.
    pub compression_history: CompressionHistory,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Bits per pixel, 8–16 (the record's formats are monochrome).
    pub bit_depth: u8,
    /// Camera range in millimetres: 0 unassigned, 1 failed, 0xFFFF overflow.
    pub range: u16,
    /// Roll angle of the eye in 1/65536 of a turn, or [`ROLL_ANGLE_UNDEFINED`].
    pub roll_angle: u16,
    /// Roll angle uncertainty, same unit, or [`ROLL_ANGLE_UNDEFINED`].
    pub roll_angle_uncertainty: u16,
    /// Iris centre x, smallest and largest estimate, in pixels (0 undefined).
    pub iris_centre_x: Span,
    /// Iris centre y, smallest and largest estimate, in pixels (0 undefined).
    pub iris_centre_y: Span,
    /// Iris diameter, smallest and largest estimate, in pixels (0 undefined).
    pub iris_diameter: Span,
    /// The image: JPEG 2000, PNG or raw pixels as [`IrisImage::format`] says.
    pub data: Vec<u8>,
}

impl IrisImage {
    fn base(
        eye: EyeLabel,
        format: IrisImageFormat,
        width: u16,
        height: u16,
        data: Vec<u8>,
    ) -> Self {
        Self {
            capture_time: None,
            device_technology: CaptureDeviceTechnology::CmosCcd,
            device_vendor: 0,
            device_type: 0,
            quality: Vec::new(),
            eye,
            image_type: ImageType::Cropped,
            format,
            horizontal_orientation: Orientation::Base,
            vertical_orientation: Orientation::Base,
            compression_history: CompressionHistory::LosslessOrNone,
            width,
            height,
            bit_depth: 8,
            range: 0,
            roll_angle: ROLL_ANGLE_UNDEFINED,
            roll_angle_uncertainty: ROLL_ANGLE_UNDEFINED,
            iris_centre_x: Span::default(),
            iris_centre_y: Span::default(),
            iris_diameter: Span::default(),
            data,
        }
    }

    /// An 8-bit cropped (K3) image of `eye` from an already-compressed JPEG 2000 or PNG image,
    /// its size read from the image header; CMOS/CCD camera, base orientations, roll angle
    /// undefined, no quality block, capture time unknown. `history` says whether the image
    /// was compressed lossily (PNG is always lossless: its history is forced to
    /// [`CompressionHistory::LosslessOrNone`]).
    ///
    /// # Errors
    /// Any [`image_info::probe`] error; [`RecordError::InvalidField`] when the image is
    /// neither JPEG 2000 nor PNG or is larger than 65535 pixels in a dimension.
    pub fn from_image(eye: EyeLabel, data: Vec<u8>, history: CompressionHistory) -> Result<Self> {
        let info = image_info::probe(&data)?;
        let format = match info.format {
            ImageFormat::Jpeg2000 => IrisImageFormat::MonoJpeg2000,
            ImageFormat::Png => IrisImageFormat::MonoPng,
            other => {
                return Err(RecordError::invalid(
                    RECORD,
                    "image format",
                    format!("{other:?} is not allowed; use JPEG 2000 or PNG"),
                ));
            }
        };
        let width = u16::try_from(info.width)
            .map_err(|_| RecordError::invalid(RECORD, "image width", "over 65535"))?;
        let height = u16::try_from(info.height)
            .map_err(|_| RecordError::invalid(RECORD, "image height", "over 65535"))?;
        let mut image = Self::base(eye, format, width, height, data);
        if format == IrisImageFormat::MonoJpeg2000 {
            image.compression_history = history;
        }
        Ok(image)
    }

    /// An 8-bit cropped (K3) image of `eye` from raw greyscale pixels (`width * height`
    /// bytes, row by row); other fields as [`IrisImage::from_image`].
    ///
    /// # Errors
    /// [`RecordError::LengthMismatch`] when `pixels` is not `width * height` bytes.
    pub fn raw(eye: EyeLabel, pixels: Vec<u8>, width: u16, height: u16) -> Result<Self> {
        let image = Self::base(eye, IrisImageFormat::MonoRaw, width, height, pixels);
        image.check_raw_len()?;
        Ok(image)
    }

    /// This image with a quality block of `score` by algorithm `vendor`/`algorithm` added.
    #[must_use]
    pub fn with_quality(mut self, score: u8, vendor: u16, algorithm: u16) -> Self {
        self.quality.push(QualityBlock {
            score,
            algorithm_vendor: vendor,
            algorithm_id: algorithm,
        });
        self
    }

    /// This image with its capture time set.
    #[must_use]
    pub fn with_capture_time(mut self, at: CaptureDateTime) -> Self {
        self.capture_time = Some(at);
        self
    }

    fn check_raw_len(&self) -> Result<()> {
        let bytes_per_pixel = if self.bit_depth > 8 { 2 } else { 1 };
        let expected = usize::from(self.width) * usize::from(self.height) * bytes_per_pixel;
        if self.data.len() != expected {
            return Err(RecordError::LengthMismatch {
                record: RECORD,
                what: "raw image bytes (width x height x bytes per pixel)",
                declared: expected as u64,
                actual: self.data.len() as u64,
            });
        }
        Ok(())
    }

    /// Length of this representation (the value of its representation length field).
    pub fn encoded_len(&self) -> usize {
        REPRESENTATION_HEADER_LEN + QUALITY_BLOCK_LEN * self.quality.len() + self.data.len()
    }

    fn validate(&self) -> Result<()> {
        if let Some(t) = &self.capture_time {
            t.check()
                .map_err(|reason| RecordError::invalid(RECORD, "capture date and time", reason))?;
        }
        if self.quality.len() > 255 {
            return Err(RecordError::invalid(
                RECORD,
                "number of quality blocks",
                format!("{} is over 255", self.quality.len()),
            ));
        }
        for q in &self.quality {
            if q.score > 100 && q.score != QUALITY_FAILED {
                return Err(RecordError::invalid(
                    RECORD,
                    "quality score",
                    format!("{} is neither 0-100 nor 255", q.score),
                ));
            }
        }
        if self.width == 0 || self.height == 0 {
            return Err(RecordError::invalid(
                RECORD,
                "image size",
                format!("{}x{} has a zero dimension", self.width, self.height),
            ));
        }
        if !(8..=16).contains(&self.bit_depth) {
            return Err(RecordError::invalid(
                RECORD,
                "bit depth",
                format!("{} is not 8-16", self.bit_depth),
            ));
        }
        let format = match self.format {
            IrisImageFormat::MonoRaw => return self.check_raw_len(),
            IrisImageFormat::MonoJpeg2000 => ImageFormat::Jpeg2000,
            IrisImageFormat::MonoPng => ImageFormat::Png,
        };
        image_info::check(
            &self.data,
            format,
            u32::from(self.width),
            u32::from(self.height),
            RECORD,
            "image data",
        )
    }

    fn write(&self, number: u16, out: &mut Vec<u8>) -> Result<()> {
        self.validate()?;
        put_uint(
            out,
            self.encoded_len() as u64,
            4,
            RECORD,
            "representation length",
        )?;
        CaptureDateTime::write(self.capture_time.as_ref(), out);
        out.push(self.device_technology.code());
        out.extend_from_slice(&self.device_vendor.to_be_bytes());
        out.extend_from_slice(&self.device_type.to_be_bytes());
        // At most 255, checked by validate.
        out.push(self.quality.len() as u8);
        for q in &self.quality {
            out.push(q.score);
            out.extend_from_slice(&q.algorithm_vendor.to_be_bytes());
            out.extend_from_slice(&q.algorithm_id.to_be_bytes());
        }
        out.extend_from_slice(&number.to_be_bytes());
        out.push(self.eye.code());
        out.push(self.image_type.code());
        out.push(self.format.code());
        out.push(
            self.horizontal_orientation.code()
                | self.vertical_orientation.code() << 2
                | self.compression_history.code() << 6,
        );
        for v in [self.width, self.height] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.push(self.bit_depth);
        for v in [
            self.range,
            self.roll_angle,
            self.roll_angle_uncertainty,
            self.iris_centre_x.smallest,
            self.iris_centre_x.largest,
            self.iris_centre_y.smallest,
            self.iris_centre_y.largest,
            self.iris_diameter.smallest,
            self.iris_diameter.largest,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        put_uint(out, self.data.len() as u64, 4, RECORD, "image length")?;
        out.extend_from_slice(&self.data);
        Ok(())
    }

    fn read(r: &mut Reader<'_>, number: u16, count: u16) -> Result<Self> {
        let start = r.position();
        let declared = u64::from(r.u32()?);
        // The representation must fit the input; its parts are checked against it below.
        let available = (r.remaining() + 4) as u64;
        if declared > available || declared < REPRESENTATION_HEADER_LEN as u64 {
            return Err(RecordError::LengthMismatch {
                record: RECORD,
                what: "representation length",
                declared,
                actual: available,
            });
        }
        let capture_time = CaptureDateTime::read(r)?;
        let device_technology = CaptureDeviceTechnology::read(r)?;
        let device_vendor = r.u16()?;
        let device_type = r.u16()?;
        let blocks = r.u8()?;
        let mut quality = Vec::with_capacity(usize::from(blocks));
        for _ in 0..blocks {
            let score = r.u8()?;
            if score > 100 && score != QUALITY_FAILED {
                return Err(RecordError::invalid(
                    RECORD,
                    "quality score",
                    format!("{score} is neither 0-100 nor 255"),
                ));
            }
            quality.push(QualityBlock {
                score,
                algorithm_vendor: r.u16()?,
                algorithm_id: r.u16()?,
            });
        }
        let representation_number = r.u16()?;
        if representation_number != number {
            return Err(RecordError::invalid(
                RECORD,
                "representation number",
                format!(
                    "{representation_number} in representation {number} of {count}; they are \
                     numbered from 1 in record order"
                ),
            ));
        }
        let eye = EyeLabel::read(r)?;
        let image_type = ImageType::read(r)?;
        let format = IrisImageFormat::read(r)?;
        let properties = r.u8()?;
        let orientation = |bits: u8, field: &str| {
            Orientation::from_code(bits).ok_or_else(|| {
                RecordError::invalid(RECORD, field, format!("undefined code {bits}"))
            })
        };
        let horizontal_orientation = orientation(properties & 0x03, "horizontal orientation")?;
        let vertical_orientation = orientation((properties >> 2) & 0x03, "vertical orientation")?;
        if properties & 0x30 != 0 {
            return Err(RecordError::invalid(
                RECORD,
                "image properties",
                format!("reserved bits 4-5 set in {properties:#04x}"),
            ));
        }
        let compression_history =
            CompressionHistory::from_code(properties >> 6).ok_or_else(|| {
                RecordError::invalid(
                    RECORD,
                    "compression history",
                    format!("undefined code {}", properties >> 6),
                )
            })?;
        let width = r.u16()?;
        let height = r.u16()?;
        if width == 0 || height == 0 {
            return Err(RecordError::invalid(
                RECORD,
                "image size",
                format!("{width}x{height} has a zero dimension"),
            ));
        }
        let bit_depth = r.u8()?;
        if bit_depth < 8 {
            return Err(RecordError::invalid(
                RECORD,
                "bit depth",
                format!("{bit_depth} is below 8"),
            ));
        }
        let range = r.u16()?;
        let roll_angle = r.u16()?;
        let roll_angle_uncertainty = r.u16()?;
        let mut span = || -> Result<Span> {
            Ok(Span {
                smallest: r.u16()?,
                largest: r.u16()?,
            })
        };
        let iris_centre_x = span()?;
        let iris_centre_y = span()?;
        let iris_diameter = span()?;
        let image_length = u64::from(r.u32()?);
        let header = (r.position() - start) as u64;
        if header + image_length != declared {
            return Err(RecordError::LengthMismatch {
                record: RECORD,
                what: "image length (representation length less its header)",
                declared: image_length,
                actual: declared - header.min(declared),
            });
        }
        // Fits: declared was checked against the input above.
        let data = r.take(image_length as usize)?.to_vec();
        Ok(Self {
            capture_time,
            device_technology,
            device_vendor,
            device_type,
            quality,
            eye,
            image_type,
            format,
            horizontal_orientation,
            vertical_orientation,
            compression_history,
            width,
            height,
            bit_depth,
            range,
            roll_angle,
            roll_angle_uncertainty,
            iris_centre_x,
            iris_centre_y,
            iris_diameter,
            data,
        })
    }
}

/// An ISO/IEC 19794-6:2011 iris image record: the general header and one representation per
/// image.
///
/// The number of eyes represented is written from the images' eye labels (2 when both a left
/// and a right eye are present, 1 when only one of them, 0 when every label is undefined) and
/// each representation's number from its place in the record; the certification flag is 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrisImageRecord {
    /// The representations, in record order (at least one).
    pub images: Vec<IrisImage>,
}

impl IrisImageRecord {
    /// A record of one image (what an SBI iris capture returns per eye).
    pub fn single(image: IrisImage) -> Self {
        Self {
            images: vec![image],
        }
    }

    /// Total length of the encoded record, the value of the length-of-record field.
    pub fn encoded_len(&self) -> usize {
        GENERAL_HEADER_LEN
            + self
                .images
                .iter()
                .map(IrisImage::encoded_len)
                .sum::<usize>()
    }

    /// The number-of-eyes-represented code written in the general header.
    pub fn eyes_represented(&self) -> u8 {
        let has = |e| self.images.iter().any(|i| i.eye == e);
        u8::from(has(EyeLabel::Left)) + u8::from(has(EyeLabel::Right))
    }

    /// Encodes the record.
    ///
    /// # Errors
    /// [`RecordError::InvalidField`] when there is no image or more than 65535, the record
    /// exceeds 2³² − 1 bytes, a capture time is not a date, a quality score is neither 0–100
    /// nor 255, a bit depth is outside 8–16, a size is zero, or a JPEG 2000/PNG image is not
    /// of its declared format and size; [`RecordError::LengthMismatch`] when raw pixels are not
    /// `width * height` samples.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        if self.images.is_empty() {
            return Err(RecordError::invalid(
                RECORD,
                "number of iris representations",
                "a record holds at least one",
            ));
        }
        let count = u16::try_from(self.images.len()).map_err(|_| {
            RecordError::invalid(RECORD, "number of iris representations", "over 65535")
        })?;
        let total = self.encoded_len();
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&FORMAT_ID);
        out.extend_from_slice(&VERSION);
        put_uint(&mut out, total as u64, 4, RECORD, "length of record")?;
        out.extend_from_slice(&count.to_be_bytes());
        out.push(0); // certification flag
        out.push(self.eyes_represented());
        for (i, image) in (1..=count).zip(&self.images) {
            image.write(i, &mut out)?;
        }
        debug_assert_eq!(out.len(), total);
        Ok(out)
    }

    /// Parses a record.
    ///
    /// # Errors
    /// [`RecordError::BadMagic`] / [`RecordError::BadVersion`] (a 2005 record is refused),
    /// [`RecordError::Truncated`], [`RecordError::LengthMismatch`] when the record length, a
    /// representation length or an image length disagrees with the data,
    /// [`RecordError::InvalidField`] for undefined codes, a certification flag other than 0,
    /// representation numbers out of order, zero sizes or a bit depth below 8.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let mut r = Reader::new(data, RECORD);
        r.magic(&FORMAT_ID)?;
        r.version(&VERSION)?;
        let length = u64::from(r.u32()?);
        if length != data.len() as u64 {
            return Err(RecordError::LengthMismatch {
                record: RECORD,
                what: "length of record",
                declared: length,
                actual: data.len() as u64,
            });
        }
        let count = r.u16()?;
        if count == 0 {
            return Err(RecordError::invalid(
                RECORD,
                "number of iris representations",
                "0",
            ));
        }
        let flag = r.u8()?;
        if flag != 0 {
            return Err(RecordError::invalid(
                RECORD,
                "certification flag",
                format!("{flag:#04x}; ISO/IEC 19794-6:2011 defines no certification blocks"),
            ));
        }
        let eyes = r.u8()?;
        if eyes > 2 {
            return Err(RecordError::invalid(
                RECORD,
                "number of eyes represented",
                format!("{eyes} is over 2"),
            ));
        }
        let mut images = Vec::new();
        for number in 1..=count {
            images.push(IrisImage::read(&mut r, number, count)?);
        }
        if r.remaining() != 0 {
            return Err(RecordError::LengthMismatch {
                record: RECORD,
                what: "bytes after the last iris representation",
                declared: 0,
                actual: r.remaining() as u64,
            });
        }
        Ok(Self { images })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first 24 bytes of a PNG: signature and `IHDR` with the size (enough for the
    /// header checks; never decoded here).
    fn png_head(w: u32, h: u32) -> Vec<u8> {
        let mut p = b"\x89PNG\r\n\x1a\n".to_vec();
        p.extend_from_slice(&13u32.to_be_bytes());
        p.extend_from_slice(b"IHDR");
        p.extend_from_slice(&w.to_be_bytes());
        p.extend_from_slice(&h.to_be_bytes());
        p
    }

    /// A bare JPEG 2000 codestream's SOC and SIZ, `w` x `h`.
    fn j2k_head(w: u32, h: u32) -> Vec<u8> {
        let mut j = vec![0xFF, 0x4F, 0xFF, 0x51, 0x00, 0x29, 0x00, 0x00];
        for v in [w, h, 0, 0, w, h, 0, 0] {
            j.extend_from_slice(&v.to_be_bytes());
        }
        j
    }

    fn left_png() -> IrisImage {
        let mut i = IrisImage::from_image(
            EyeLabel::Left,
            png_head(4, 3),
            CompressionHistory::Lossy, // ignored for PNG
        )
        .unwrap()
        .with_quality(87, 0x0101, 0x0002)
        .with_capture_time(CaptureDateTime::new(2026, 11, 29, 18, 45, 30, 250).unwrap());
        i.device_vendor = 0x1234;
        i.device_type = 0x0001;
        i.iris_centre_x = Span {
            smallest: 2,
            largest: 2,
        };
        i.iris_centre_y = Span {
            smallest: 1,
            largest: 1,
        };
        i.iris_diameter = Span {
            smallest: 3,
            largest: 3,
        };
        i
    }

    /// A one-eye record whose bytes were written out by hand from the layout in the module
    /// documentation (ISO/IEC 19794-6:2011 clause 6 as NIST biomdi and MOSIP read it).
    #[test]
    fn one_eye_record_byte_for_byte() {
        let bytes = IrisImageRecord::single(left_png()).to_bytes().unwrap();
        let parts: [&[u8]; 13] = [
            // General header: "IIR\0", "020\0", record length 16 + 81 = 97, 1 representation,
            // certification flag 0, 1 eye represented.
            b"IIR\x00020\x00",
            &[0x00, 0x00, 0x00, 0x61, 0x00, 0x01, 0x00, 0x01],
            // Representation length 52 + 5 + 24 = 81.
            &[0x00, 0x00, 0x00, 0x51],
            // Capture 2026-11-29 18:45:30.250 UTC.
            &[0x07, 0xEA, 0x0B, 0x1D, 0x12, 0x2D, 0x1E, 0x00, 0xFA],
            // CMOS/CCD, vendor 0x1234, type 1.
            &[0x01, 0x12, 0x34, 0x00, 0x01],
            // One quality block: 87 by vendor 0x0101, algorithm 2.
            &[0x01, 0x57, 0x01, 0x01, 0x00, 0x02],
            // Representation 1, left eye, cropped (K3), mono PNG.
            &[0x00, 0x01, 0x02, 0x03, 0x0E],
            // Properties: horizontal base (1), vertical base (1 << 2), lossless (1 << 6).
            &[0x45],
            // 4 x 3, 8 bits.
            &[0x00, 0x04, 0x00, 0x03, 0x08],
            // Range unassigned, roll angle and its uncertainty undefined.
            &[0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF],
            // Iris centre x 2..2, y 1..1, diameter 3..3.
            &[0, 2, 0, 2, 0, 1, 0, 1, 0, 3, 0, 3],
            // Image length 24.
            &[0x00, 0x00, 0x00, 0x18],
            // The image.
            &png_head(4, 3),
        ];
        let expected = parts.concat();
        assert_eq!(bytes, expected);
        assert_eq!(
            IrisImageRecord::parse(&expected).unwrap(),
            IrisImageRecord::single(left_png())
        );
    }

    #[test]
    fn two_eyes_round_trip() {
        let right = IrisImage::from_image(
            EyeLabel::Right,
            j2k_head(640, 480),
            CompressionHistory::Lossy,
        )
        .unwrap();
        assert_eq!(right.format, IrisImageFormat::MonoJpeg2000);
        assert_eq!(right.compression_history, CompressionHistory::Lossy);
        let mut raw = IrisImage::raw(EyeLabel::Undefined, vec![9; 6], 3, 2).unwrap();
        raw.image_type = ImageType::CroppedAndMasked;
        raw.horizontal_orientation = Orientation::Flipped;
        raw.vertical_orientation = Orientation::Undefined;
        raw.compression_history = CompressionHistory::Undefined;
        raw.device_technology = CaptureDeviceTechnology::Unspecified;
        raw.range = 250;
        raw.roll_angle = 0x1000;
        raw.roll_angle_uncertainty = 0x0100;
        raw.quality = vec![
            QualityBlock {
                score: QUALITY_FAILED,
                algorithm_vendor: 0xFFFF,
                algorithm_id: 0,
            },
            QualityBlock {
                score: 0,
                algorithm_vendor: 1,
                algorithm_id: 1,
            },
        ];
        let rec = IrisImageRecord {
            images: vec![left_png(), right, raw],
        };
        assert_eq!(rec.eyes_represented(), 2);
        let bytes = rec.to_bytes().unwrap();
        assert_eq!(bytes.len(), rec.encoded_len());
        assert_eq!(bytes[15], 2);
        assert_eq!(IrisImageRecord::parse(&bytes).unwrap(), rec);
        // Representation numbers 1, 2, 3 in record order.
        let second = 16 + rec.images[0].encoded_len();
        assert_eq!(&bytes[second + 19..second + 21], &[0, 2]);
    }

    #[test]
    fn unknown_capture_time_is_all_ones() {
        let mut i = left_png();
        i.capture_time = None;
        let bytes = IrisImageRecord::single(i.clone()).to_bytes().unwrap();
        assert_eq!(&bytes[20..29], &[0xFF; 9]);
        assert_eq!(IrisImageRecord::parse(&bytes).unwrap().images[0], i);
        // Unknown time of day (NIST's sample) is kept.
        let t = CaptureDateTime::new(2005, 12, 15, 17, 35, 20, 0xFFFF).unwrap();
        i.capture_time = Some(t);
        let bytes = IrisImageRecord::single(i).to_bytes().unwrap();
        assert_eq!(
            IrisImageRecord::parse(&bytes).unwrap().images[0].capture_time,
            Some(t)
        );
        assert!(CaptureDateTime::new(2026, 13, 1, 0, 0, 0, 0).is_none());
        assert!(CaptureDateTime::new(2026, 1, 1, 24, 0, 0, 0).is_none());
        assert!(CaptureDateTime::new(2026, 1, 1, 0, 0, 0, 1000).is_none());
        assert!(CaptureDateTime::new(2026, 1, 1, 0xFF, 0xFF, 0xFF, 0xFFFF).is_some());
        assert!(CaptureDateTime::new(2026, 1, 1, 0xFF, 0, 0, 0).is_none());
        assert!(CaptureDateTime::new(2026, 1, 1, 12, 0xFF, 0, 0xFFFF).is_none());
        assert!(CaptureDateTime::new(0xFFFF, 0xFF, 0xFF, 12, 0, 0, 0).is_some());
        assert!(CaptureDateTime::new(0xFFFF, 0xFF, 0xFF, 12, 0, 0, 0xFFFF).is_none());
    }

    fn err_field(data: &[u8]) -> String {
        match IrisImageRecord::parse(data) {
            Err(RecordError::InvalidField { field, .. }) => field,
            other => panic!("expected InvalidField, got {other:?}"),
        }
    }

    #[test]
    fn malformed_inputs_give_specific_errors() {
        let bytes = IrisImageRecord::single(left_png()).to_bytes().unwrap();
        let mut bad = bytes.clone();
        bad[1] = b'X';
        assert!(matches!(
            IrisImageRecord::parse(&bad),
            Err(RecordError::BadMagic { .. })
        ));
        let mut bad = bytes.clone();
        bad[4..8].copy_from_slice(b"010\0");
        assert!(matches!(
            IrisImageRecord::parse(&bad),
            Err(RecordError::BadVersion { .. })
        ));
        // Truncated inside the general header.
        assert!(matches!(
            IrisImageRecord::parse(&bytes[..10]),
            Err(RecordError::Truncated { .. })
        ));
        assert!(matches!(
            IrisImageRecord::parse(&bytes[..14]),
            Err(RecordError::LengthMismatch { .. })
        ));
        // A cut record whose record length was fixed up: the representation overruns.
        let mut cut = bytes[..60].to_vec();
        cut[11] = 60;
        assert!(matches!(
            IrisImageRecord::parse(&cut),
            Err(RecordError::LengthMismatch { what, .. }) if what == "representation length"
        ));
        // Only the general header, length fixed up: truncated at the representation.
        let mut head = bytes[..16].to_vec();
        head[11] = 16;
        assert!(matches!(
            IrisImageRecord::parse(&head),
            Err(RecordError::Truncated { offset: 16, .. })
        ));
        // Image length overrunning its representation.
        let mut bad = bytes.clone();
        bad[16 + 48 + 5 + 3] += 1; // the image length field: 48 + 5q into the representation
        assert!(matches!(
            IrisImageRecord::parse(&bad),
            Err(RecordError::LengthMismatch { what, .. }) if what.starts_with("image length")
        ));
        // Representation length shorter than its header.
        let mut bad = bytes.clone();
        bad[19] = 20;
        assert!(matches!(
            IrisImageRecord::parse(&bad),
            Err(RecordError::LengthMismatch { what, .. }) if what == "representation length"
        ));
        // Two representations declared, one present.
        let mut bad = bytes.clone();
        bad[13] = 2;
        assert!(matches!(
            IrisImageRecord::parse(&bad),
            Err(RecordError::Truncated { .. })
        ));
        let mut bad = bytes.clone();
        bad[13] = 0;
        assert_eq!(err_field(&bad), "number of iris representations");
        let mut bad = bytes.clone();
        bad[14] = 1;
        assert_eq!(err_field(&bad), "certification flag");
        let mut bad = bytes.clone();
        bad[15] = 3;
        assert_eq!(err_field(&bad), "number of eyes represented");
        let at = 16 + 4; // capture date and time
        let mut bad = bytes.clone();
        bad[at + 2] = 13;
        assert_eq!(err_field(&bad), "capture date and time");
        let mut bad = bytes.clone();
        bad[at + 9] = 2;
        assert_eq!(err_field(&bad), "capture device technology");
        let mut bad = bytes.clone();
        bad[at + 15] = 101;
        assert_eq!(err_field(&bad), "quality score");
        let at = 16 + 19 + 5; // representation number
        let mut bad = bytes.clone();
        bad[at + 1] = 2;
        assert_eq!(err_field(&bad), "representation number");
        for (offset, value, field) in [
            (2, 3, "eye label"),
            (3, 4, "image type"),
            (4, 6, "image format"),
            (5, 0x43, "horizontal orientation"),
            (5, 0x4D, "vertical orientation"),
            (5, 0x55, "image properties"),
            (5, 0xC5, "compression history"),
            (7, 0, "image size"),
            (10, 7, "bit depth"),
        ] {
            let mut bad = bytes.clone();
            bad[at + offset] = value;
            if field == "image size" {
                bad[at + offset - 1] = 0;
            }
            assert_eq!(err_field(&bad), field, "{field}");
        }
        let mut long = bytes.clone();
        long.push(0);
        long[11] += 1;
        assert!(matches!(
            IrisImageRecord::parse(&long),
            Err(RecordError::LengthMismatch { what, .. }) if what == "representation length" || what.starts_with("bytes after")
        ));
    }

    #[test]
    fn writer_checks_fields_and_the_image() {
        assert!(IrisImageRecord { images: vec![] }.to_bytes().is_err());
        let mut i = left_png();
        i.width = 5;
        assert!(matches!(
            IrisImageRecord::single(i).to_bytes(),
            Err(RecordError::InvalidField { ref reason, .. }) if reason.contains("4x3")
        ));
        let mut i = left_png();
        i.format = IrisImageFormat::MonoJpeg2000;
        assert!(IrisImageRecord::single(i).to_bytes().is_err());
        let i = left_png().with_quality(101, 0, 0);
        assert!(IrisImageRecord::single(i).to_bytes().is_err());
        let mut i = left_png();
        i.bit_depth = 24;
        assert!(IrisImageRecord::single(i).to_bytes().is_err());
        let mut i = left_png();
        i.capture_time = Some(CaptureDateTime {
            year: 2026,
            month: 2,
            day: 0,
            hour: 0,
            minute: 0,
            second: 0,
            millisecond: 0,
        });
        assert!(IrisImageRecord::single(i).to_bytes().is_err());
        assert!(matches!(
            IrisImage::raw(EyeLabel::Left, vec![0; 5], 3, 2),
            Err(RecordError::LengthMismatch { .. })
        ));
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x10, 0x00, 0x0C, 0x01, 0x01, 0x11,
            0x00, 0xFF, 0xD9,
        ];
        assert!(matches!(
            IrisImage::from_image(EyeLabel::Left, jpeg.to_vec(), CompressionHistory::Lossy),
            Err(RecordError::InvalidField { ref field, .. }) if field == "image format"
        ));
    }
}
