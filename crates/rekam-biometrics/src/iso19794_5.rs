//! ISO/IEC 19794-5:2005 face image records (the format of ICAO 9303 DG2).
//!
//! Layout (clause 5, all integers big-endian):
//!
//! Facial record header, 14 bytes (5.4):
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | format identifier `"FAC\0"` |
//! | 4 | 4 | version `"010\0"` |
//! | 8 | 4 | length of record, header included |
//! | 12 | 2 | number of facial images |
//!
//! Then per face, a facial record data block (5.5–5.8):
//!
//! * facial information, 20 bytes (5.5): block length (4, this whole face block),
//!   number of feature points (2), gender (1), eye colour (1), hair colour (1), feature mask
//!   (3), expression (2), pose angle yaw/pitch/roll (3), pose angle uncertainty (3);
//! * feature points, 8 bytes each (5.6): type (1), feature point major/minor code
//!   packed in one byte (1), x (2), y (2), reserved (2);
//! * image information, 12 bytes (5.7): face image type (1), image data type (1),
//!   width (2), height (2), image colour space (1), source type (1), device type (2),
//!   quality (2);
//! * the image data, JPEG or JPEG 2000 (5.8).

use crate::bytes::{Reader, put_uint};
use crate::error::{RecordError, Result};
use crate::image_info::{self, ImageFormat};

const RECORD: &str = "ISO/IEC 19794-5";

/// Format identifier of the facial record header, clause 5.4.
pub const FORMAT_ID: [u8; 4] = *b"FAC\0";
/// Version number of ISO/IEC 19794-5:2005, clause 5.4.
pub const VERSION: [u8; 4] = *b"010\0";
/// Size of the facial record header, clause 5.4.
pub const RECORD_HEADER_LEN: usize = 14;
/// Size of the facial information block, clause 5.5.
pub const FACIAL_INFO_LEN: usize = 20;
/// Size of one feature point, clause 5.6.
pub const FEATURE_POINT_LEN: usize = 8;
/// Size of the image information block, clause 5.7.
pub const IMAGE_INFO_LEN: usize = 12;

/// Gender, clause 5.5.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Gender {
    /// 0x00: unspecified.
    #[default]
    Unspecified,
    /// 0x01: male.
    Male,
    /// 0x02: female.
    Female,
    /// 0xFF: unknown.
    Unknown,
}

impl Gender {
    /// The code written in the record.
    pub fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::Male => 1,
            Self::Female => 2,
            Self::Unknown => 0xFF,
        }
    }

    /// The gender for a code, if defined by the standard.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Unspecified,
            1 => Self::Male,
            2 => Self::Female,
            0xFF => Self::Unknown,
            _ => return None,
        })
    }
}

/// Eye colour, clause 5.5.4 (Table 4): 0 unspecified, 1 black, 2 blue, 3 brown, 4 grey,
/// 5 green, 6 multi-coloured, 7 pink, 0xFF other or unknown. Kept as the raw code.
pub type EyeColour = u8;
/// Hair colour, clause 5.5.5: 0 unspecified, 1 bald, 2 black, 3 blonde, 4 brown,
/// 5 grey, 6 white, 7 red, 8 green, 9 blue, 0xFF other or unknown. Kept as the raw code.
pub type HairColour = u8;

/// Feature mask bits, clause 5.5.6 (a 24-bit field).
pub mod feature_mask {
    /// The other bits are meaningful.
    pub const FEATURES_SPECIFIED: u32 = 0x00_0001;
    /// Glasses.
    pub const GLASSES: u32 = 0x00_0002;
    /// Moustache.
    pub const MOUSTACHE: u32 = 0x00_0004;
    /// Beard.
    pub const BEARD: u32 = 0x00_0008;
    /// Teeth visible.
    pub const TEETH_VISIBLE: u32 = 0x00_0010;
    /// Blink.
    pub const BLINK: u32 = 0x00_0020;
    /// Mouth open.
    pub const MOUTH_OPEN: u32 = 0x00_0040;
    /// Left eye patch.
    pub const LEFT_EYE_PATCH: u32 = 0x00_0080;
    /// Right eye patch.
    pub const RIGHT_EYE_PATCH: u32 = 0x00_0100;
    /// Dark glasses (medical).
    pub const DARK_GLASSES: u32 = 0x00_0200;
    /// Distorting medical condition.
    pub const DISTORTING_MEDICAL_CONDITION: u32 = 0x00_0400;
}

/// Expression, clause 5.5.7: 0 unspecified, 1 neutral, 2 smile closed jaw, 3 smile
/// open jaw, 4 raised eyebrows, 5 eyes looking away, 6 squinting, 7 frowning; 0x8000 and
/// above vendor-specific. Kept as the raw code.
pub type Expression = u16;

/// Pose angles, clause 5.5.8: each angle byte is 0 when unspecified, otherwise
/// `round(degrees / 2) + 91` in 1..=181 (−180° … +180° in 2° steps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PoseAngles {
    /// Encoded yaw.
    pub yaw: u8,
    /// Encoded pitch.
    pub pitch: u8,
    /// Encoded roll.
    pub roll: u8,
    /// Encoded yaw uncertainty (5.5.9): 0 unspecified, 1..=181.
    pub yaw_uncertainty: u8,
    /// Encoded pitch uncertainty.
    pub pitch_uncertainty: u8,
    /// Encoded roll uncertainty.
    pub roll_uncertainty: u8,
}

impl PoseAngles {
    /// Encodes an angle in degrees (−180..=180) as clause 5.5.8 does.
    pub fn encode_degrees(degrees: i16) -> Option<u8> {
        if !(-180..=180).contains(&degrees) {
            return None;
        }
        let half = (f64::from(degrees) / 2.0).round() as i16;
        u8::try_from(half + 91).ok()
    }

    /// Decodes an angle byte to degrees; `None` for 0 (unspecified) or codes above 181.
    pub fn decode_degrees(code: u8) -> Option<i16> {
        if (1..=181).contains(&code) {
            Some((i16::from(code) - 91) * 2)
        } else {
            None
        }
    }
}

/// A feature point, clause 5.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FeaturePoint {
    /// Feature point type: 1 = 2D MPEG-4 feature point.
    pub kind: u8,
    /// MPEG-4 major code (upper nibble of the feature point byte), e.g. 12 for the eye centres.
    pub major: u8,
    /// MPEG-4 minor code (lower nibble), e.g. 1 for the left eye centre, 2 for the right.
    pub minor: u8,
    /// Horizontal position in pixels.
    pub x: u16,
    /// Vertical position in pixels.
    pub y: u16,
}

impl FeaturePoint {
    /// A 2D MPEG-4 feature point `major.minor` at (x, y).
    pub fn mpeg4(major: u8, minor: u8, x: u16, y: u16) -> Self {
        Self {
            kind: 1,
            major,
            minor,
            x,
            y,
        }
    }
}

/// Face image type, clause 5.7.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaceImageType {
    /// 0: basic.
    Basic,
    /// 1: full frontal.
    FullFrontal,
    /// 2: token frontal (eyes at fixed positions).
    TokenFrontal,
}

impl FaceImageType {
    /// The code written in the record.
    pub fn code(self) -> u8 {
        match self {
            Self::Basic => 0,
            Self::FullFrontal => 1,
            Self::TokenFrontal => 2,
        }
    }

    /// The type for a code.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Basic,
            1 => Self::FullFrontal,
            2 => Self::TokenFrontal,
            _ => return None,
        })
    }
}

/// Image data type, clause 5.7.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageDataType {
    /// 0: JPEG.
    Jpeg,
    /// 1: JPEG 2000.
    Jpeg2000,
}

impl ImageDataType {
    /// The code written in the record.
    pub fn code(self) -> u8 {
        match self {
            Self::Jpeg => 0,
            Self::Jpeg2000 => 1,
        }
    }

    /// The data type for a code.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Jpeg,
            1 => Self::Jpeg2000,
            _ => return None,
        })
    }
}

/// Image colour space, clause 5.7.4: 0 unspecified, 1 24-bit RGB, 2 YUV422,
/// 3 8-bit greyscale, 4 other. Kept as the raw code.
pub type ColourSpace = u8;
/// Source type, clause 5.7.6: 0 unspecified, 1 static photo unknown source,
/// 2 static photo digital still camera, 3 static photo scanner, 4 video frame unknown source,
/// 5 video frame analogue camera, 6 video frame digital camera, 7 unknown. Kept as the raw code.
pub type SourceType = u8;

/// One facial image with its facial information (clause 5.5–5.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceImage {
    /// Gender (5.5.3).
    pub gender: Gender,
    /// Eye colour code (5.5.4).
    pub eye_colour: EyeColour,
    /// Hair colour code (5.5.5).
    pub hair_colour: HairColour,
    /// Feature mask, 24 bits (5.5.6), see [`feature_mask`].
    pub feature_mask: u32,
    /// Expression code (5.5.7).
    pub expression: Expression,
    /// Pose angles and uncertainties (5.5.8, 5.5.9).
    pub pose: PoseAngles,
    /// Feature points (5.6), in record order.
    pub feature_points: Vec<FeaturePoint>,
    /// Face image type (5.7.1).
    pub face_image_type: FaceImageType,
    /// Image data type (5.7.2).
    pub data_type: ImageDataType,
    /// Width in pixels (5.7).
    pub width: u16,
    /// Height in pixels (5.7).
    pub height: u16,
    /// Colour space code (5.7.4).
    pub colour_space: ColourSpace,
    /// Source type code (5.7.6).
    pub source_type: SourceType,
    /// Device type (5.7), vendor-assigned; 0 unspecified.
    pub device_type: u16,
    /// Quality (5.7); 0 unspecified.
    pub quality: u16,
    /// The JPEG or JPEG 2000 bytes (5.8).
    pub data: Vec<u8>,
}

impl FaceImage {
    /// A full-frontal face from a JPEG or JPEG 2000 image taken with a digital still camera,
    /// size read from the image header, colour space 24-bit RGB; other fields unspecified.
    ///
    /// # Errors
    /// Any [`image_info::probe`] error; [`RecordError::InvalidField`] when the image is not
    /// JPEG or JPEG 2000 or is larger than 65535 pixels in a dimension.
    pub fn from_image(data: Vec<u8>) -> Result<Self> {
        let info = image_info::probe(&data)?;
        let data_type = match info.format {
            ImageFormat::Jpeg => ImageDataType::Jpeg,
            ImageFormat::Jpeg2000 => ImageDataType::Jpeg2000,
            other => {
                return Err(RecordError::invalid(
                    RECORD,
                    "image data type",
                    format!("{other:?} is not allowed; use JPEG or JPEG 2000"),
                ));
            }
        };
        let width = u16::try_from(info.width)
            .map_err(|_| RecordError::invalid(RECORD, "width", "over 65535"))?;
        let height = u16::try_from(info.height)
            .map_err(|_| RecordError::invalid(RECORD, "height", "over 65535"))?;
        Ok(Self {
            gender: Gender::Unspecified,
            eye_colour: 0,
            hair_colour: 0,
            feature_mask: 0,
            expression: 0,
            pose: PoseAngles::default(),
            feature_points: Vec::new(),
            face_image_type: FaceImageType::FullFrontal,
            data_type,
            width,
            height,
            colour_space: 1,
            source_type: 2,
            device_type: 0,
            quality: 0,
            data,
        })
    }

    /// A token frontal face (5.7.1 type 2, clause 9): the image made by placing the eyes at
    /// the positions the standard fixes (e.g. by `rekam-face`), with its eye centres as
    /// feature points 12.1 (`left`, the subject's left eye, on the image's right) and 12.2
    /// (`right`); other fields as [`FaceImage::from_image`].
    ///
    /// # Errors
    /// As [`FaceImage::from_image`]; [`RecordError::InvalidField`] when an eye centre lies
    /// outside the image or the left eye is not right of the right eye in the image.
    pub fn token(data: Vec<u8>, left: (u16, u16), right: (u16, u16)) -> Result<Self> {
        let mut face = Self::from_image(data)?;
        for (name, (x, y)) in [("left eye centre", left), ("right eye centre", right)] {
            if x >= face.width || y >= face.height {
                return Err(RecordError::invalid(
                    RECORD,
                    name,
                    format!(
                        "({x}, {y}) is outside the {}x{} image",
                        face.width, face.height
                    ),
                ));
            }
        }
        if left.0 <= right.0 {
            return Err(RecordError::invalid(
                RECORD,
                "left eye centre",
                format!(
                    "x {} is not right of the right eye's {}: 12.1 is the subject's left eye, on \
                     the image's right",
                    left.0, right.0
                ),
            ));
        }
        face.face_image_type = FaceImageType::TokenFrontal;
        face.set_eye_centres(left, right);
        Ok(face)
    }

    /// This face with its eye centres set (see [`FaceImage::set_eye_centres`]).
    #[must_use]
    pub fn with_eye_centres(mut self, left: (u16, u16), right: (u16, u16)) -> Self {
        self.set_eye_centres(left, right);
        self
    }

    /// The eye centres: MPEG-4 feature points 12.1 (left eye centre) and 12.2 (right eye
    /// centre), as `((x, y), (x, y))`, when both are present.
    ///
    /// "Left" and "right" are the subject's, as in MPEG-4 (ISO/IEC 14496-2 Annex C): the left
    /// eye is on the image's right side.
    pub fn eye_centres(&self) -> Option<((u16, u16), (u16, u16))> {
        let find = |minor: u8| {
            self.feature_points
                .iter()
                .find(|p| p.kind == 1 && p.major == 12 && p.minor == minor)
                .map(|p| (p.x, p.y))
        };
        Some((find(1)?, find(2)?))
    }

    /// Replaces any eye-centre points by feature points 12.1 = `left` and 12.2 = `right`
    /// (the subject's left and right eye), written in that order.
    pub fn set_eye_centres(&mut self, left: (u16, u16), right: (u16, u16)) {
        self.feature_points
            .retain(|p| !(p.kind == 1 && p.major == 12 && (p.minor == 1 || p.minor == 2)));
        self.feature_points
            .push(FeaturePoint::mpeg4(12, 1, left.0, left.1));
        self.feature_points
            .push(FeaturePoint::mpeg4(12, 2, right.0, right.1));
    }

    /// Length of this face's facial record data block (the value of its block length field).
    pub fn block_len(&self) -> usize {
        FACIAL_INFO_LEN
            + FEATURE_POINT_LEN * self.feature_points.len()
            + IMAGE_INFO_LEN
            + self.data.len()
    }

    fn write(&self, out: &mut Vec<u8>) -> Result<()> {
        let format = match self.data_type {
            ImageDataType::Jpeg => ImageFormat::Jpeg,
            ImageDataType::Jpeg2000 => ImageFormat::Jpeg2000,
        };
        image_info::check(
            &self.data,
            format,
            u32::from(self.width),
            u32::from(self.height),
            RECORD,
            "image data",
        )?;
        put_uint(
            out,
            self.block_len() as u64,
            4,
            RECORD,
            "facial record data length",
        )?;
        let points = u16::try_from(self.feature_points.len())
            .map_err(|_| RecordError::invalid(RECORD, "number of feature points", "over 65535"))?;
        out.extend_from_slice(&points.to_be_bytes());
        out.push(self.gender.code());
        out.push(self.eye_colour);
        out.push(self.hair_colour);
        put_uint(out, u64::from(self.feature_mask), 3, RECORD, "feature mask")?;
        out.extend_from_slice(&self.expression.to_be_bytes());
        let p = &self.pose;
        for (name, v) in [
            ("pose angle yaw", p.yaw),
            ("pose angle pitch", p.pitch),
            ("pose angle roll", p.roll),
            ("pose angle uncertainty yaw", p.yaw_uncertainty),
            ("pose angle uncertainty pitch", p.pitch_uncertainty),
            ("pose angle uncertainty roll", p.roll_uncertainty),
        ] {
            if v > 181 {
                return Err(RecordError::invalid(
                    RECORD,
                    name,
                    format!("{v} is over 181"),
                ));
            }
            out.push(v);
        }
        for fp in &self.feature_points {
            if fp.major > 15 || fp.minor > 15 {
                return Err(RecordError::invalid(
                    RECORD,
                    "feature point code",
                    format!("{}.{} does not fit two nibbles", fp.major, fp.minor),
                ));
            }
            out.push(fp.kind);
            out.push((fp.major << 4) | fp.minor);
            out.extend_from_slice(&fp.x.to_be_bytes());
            out.extend_from_slice(&fp.y.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
        }
        out.push(self.face_image_type.code());
        out.push(self.data_type.code());
        out.extend_from_slice(&self.width.to_be_bytes());
        out.extend_from_slice(&self.height.to_be_bytes());
        out.push(self.colour_space);
        out.push(self.source_type);
        out.extend_from_slice(&self.device_type.to_be_bytes());
        out.extend_from_slice(&self.quality.to_be_bytes());
        out.extend_from_slice(&self.data);
        Ok(())
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let start = r.position();
        let block_len = r.u32()? as usize;
        let points = usize::from(r.u16()?);
        let fixed = FACIAL_INFO_LEN + FEATURE_POINT_LEN * points + IMAGE_INFO_LEN;
        if block_len < fixed || block_len - 6 > r.remaining() {
            return Err(RecordError::LengthMismatch {
                record: RECORD,
                what: "facial record data length",
                declared: block_len as u64,
                actual: (r.remaining() + 6) as u64,
            });
        }
        let gender_code = r.u8()?;
        let gender = Gender::from_code(gender_code).ok_or_else(|| {
            RecordError::invalid(RECORD, "gender", format!("code {gender_code:#04x}"))
        })?;
        let eye_colour = r.u8()?;
        let hair_colour = r.u8()?;
        let feature_mask = r.u24()?;
        let expression = r.u16()?;
        let angles = r.take(6)?;
        for &a in angles {
            if a > 181 {
                return Err(RecordError::invalid(
                    RECORD,
                    "pose angle",
                    format!("{a} is over 181"),
                ));
            }
        }
        let pose = PoseAngles {
            yaw: angles[0],
            pitch: angles[1],
            roll: angles[2],
            yaw_uncertainty: angles[3],
            pitch_uncertainty: angles[4],
            roll_uncertainty: angles[5],
        };
        let mut feature_points = Vec::with_capacity(points);
        for _ in 0..points {
            let kind = r.u8()?;
            let code = r.u8()?;
            let x = r.u16()?;
            let y = r.u16()?;
            let _reserved = r.u16()?;
            feature_points.push(FeaturePoint {
                kind,
                major: code >> 4,
                minor: code & 0x0F,
                x,
                y,
            });
        }
        let type_code = r.u8()?;
        let face_image_type = FaceImageType::from_code(type_code).ok_or_else(|| {
            RecordError::invalid(RECORD, "face image type", format!("code {type_code}"))
        })?;
        let data_code = r.u8()?;
        let data_type = ImageDataType::from_code(data_code).ok_or_else(|| {
            RecordError::invalid(RECORD, "image data type", format!("code {data_code}"))
        })?;
        let width = r.u16()?;
        let height = r.u16()?;
        let colour_space = r.u8()?;
        let source_type = r.u8()?;
        let device_type = r.u16()?;
        let quality = r.u16()?;
        let consumed = r.position() - start;
        let data = r.take(block_len - consumed)?.to_vec();
        Ok(Self {
            gender,
            eye_colour,
            hair_colour,
            feature_mask,
            expression,
            pose,
            feature_points,
            face_image_type,
            data_type,
            width,
            height,
            colour_space,
            source_type,
            device_type,
            quality,
            data,
        })
    }
}

/// An ISO/IEC 19794-5:2005 face image record: the record header and one block per face.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceImageRecord {
    /// The faces, in record order (at least one).
    pub faces: Vec<FaceImage>,
}

impl FaceImageRecord {
    /// A record holding one face.
    pub fn single(face: FaceImage) -> Self {
        Self { faces: vec![face] }
    }

    /// The eye centres of the first face; see [`FaceImage::eye_centres`].
    pub fn eye_centres(&self) -> Option<((u16, u16), (u16, u16))> {
        self.faces.first()?.eye_centres()
    }

    /// Total length of the encoded record, the value of the length-of-record field.
    pub fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.faces.iter().map(FaceImage::block_len).sum::<usize>()
    }

    /// Encodes the record.
    ///
    /// # Errors
    /// [`RecordError::InvalidField`] when there is no face, the record exceeds 2³² − 1 bytes, a
    /// pose angle is over 181, a feature point code does not fit its nibble, or an image is not
    /// of its declared data type and size.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        if self.faces.is_empty() {
            return Err(RecordError::invalid(
                RECORD,
                "number of facial images",
                "a record holds at least one face",
            ));
        }
        let total = self.encoded_len();
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&FORMAT_ID);
        out.extend_from_slice(&VERSION);
        put_uint(&mut out, total as u64, 4, RECORD, "length of record")?;
        let n = u16::try_from(self.faces.len())
            .map_err(|_| RecordError::invalid(RECORD, "number of facial images", "over 65535"))?;
        out.extend_from_slice(&n.to_be_bytes());
        for face in &self.faces {
            face.write(&mut out)?;
        }
        debug_assert_eq!(out.len(), total);
        Ok(out)
    }

    /// Parses a record.
    ///
    /// # Errors
    /// [`RecordError::BadMagic`] / [`RecordError::BadVersion`], [`RecordError::Truncated`],
    /// [`RecordError::LengthMismatch`] when the record length, a block length or the number of
    /// faces disagrees with the data, [`RecordError::InvalidField`] for undefined codes.
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
            return Err(RecordError::invalid(RECORD, "number of facial images", "0"));
        }
        let mut faces = Vec::new();
        for _ in 0..count {
            faces.push(FaceImage::read(&mut r)?);
        }
        if r.remaining() != 0 {
            return Err(RecordError::LengthMismatch {
                record: RECORD,
                what: "bytes after the last facial image",
                declared: 0,
                actual: r.remaining() as u64,
            });
        }
        Ok(Self { faces })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_jpeg(w: u16, h: u16) -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08];
        j.extend_from_slice(&h.to_be_bytes());
        j.extend_from_slice(&w.to_be_bytes());
        j.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        j.extend_from_slice(&[0xFF, 0xD9]);
        j
    }

    fn face() -> FaceImage {
        let mut f = FaceImage::from_image(fake_jpeg(480, 640)).unwrap();
        f.gender = Gender::Female;
        f.eye_colour = 3;
        f.hair_colour = 2;
        f.feature_mask = feature_mask::FEATURES_SPECIFIED | feature_mask::GLASSES;
        f.expression = 1;
        f.pose.yaw = PoseAngles::encode_degrees(-4).unwrap();
        f.set_eye_centres((200, 300), (280, 301));
        f
    }

    #[test]
    fn layout_matches_clause_5() {
        let rec = FaceImageRecord::single(face());
        let bytes = rec.to_bytes().unwrap();
        let img_len = rec.faces[0].data.len();
        assert_eq!(bytes.len(), 14 + 20 + 2 * 8 + 12 + img_len);
        assert_eq!(&bytes[0..8], b"FAC\x00010\x00");
        assert_eq!(
            u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            bytes.len()
        );
        assert_eq!(u16::from_be_bytes([bytes[12], bytes[13]]), 1);
        let b = &bytes[14..];
        assert_eq!(
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize,
            bytes.len() - 14
        );
        assert_eq!(u16::from_be_bytes([b[4], b[5]]), 2);
        assert_eq!(b[6], 2); // female
        assert_eq!(&b[9..12], &[0, 0, 3]); // feature mask
        assert_eq!(b[14], 89); // yaw -4 degrees
        // Feature point 12.1 at (200, 300).
        assert_eq!(&b[20..28], &[1, 0xC1, 0, 200, 1, 44, 0, 0]);
        assert_eq!(&b[28..30], &[1, 0xC2]);
        // Image information.
        let ii = &b[36..48];
        assert_eq!(ii[0], 1); // full frontal
        assert_eq!(ii[1], 0); // JPEG
        assert_eq!(u16::from_be_bytes([ii[2], ii[3]]), 480);
        assert_eq!(u16::from_be_bytes([ii[4], ii[5]]), 640);
        assert_eq!(&b[48..50], &[0xFF, 0xD8]);
    }

    #[test]
    fn round_trip_and_eye_centres() {
        // A bare JPEG 2000 codestream: SOC, SIZ with Xsiz 300, Ysiz 400, no offsets.
        let mut j2k = vec![0xFF, 0x4F, 0xFF, 0x51, 0x00, 0x29, 0x00, 0x00];
        for v in [300u32, 400, 0, 0, 300, 400, 0, 0] {
            j2k.extend_from_slice(&v.to_be_bytes());
        }
        let second = FaceImage::from_image(j2k).unwrap();
        assert_eq!(second.data_type, ImageDataType::Jpeg2000);
        assert_eq!((second.width, second.height), (300, 400));
        let rec = FaceImageRecord {
            faces: vec![face(), second],
        };
        let bytes = rec.to_bytes().unwrap();
        let back = FaceImageRecord::parse(&bytes).unwrap();
        assert_eq!(back, rec);
        assert_eq!(back.eye_centres(), Some(((200, 300), (280, 301))));
        assert_eq!(back.faces[1].eye_centres(), None);
    }

    #[test]
    fn pose_angle_encoding() {
        assert_eq!(PoseAngles::encode_degrees(0), Some(91));
        assert_eq!(PoseAngles::encode_degrees(-180), Some(1));
        assert_eq!(PoseAngles::encode_degrees(180), Some(181));
        assert_eq!(PoseAngles::encode_degrees(181), None);
        assert_eq!(PoseAngles::decode_degrees(89), Some(-4));
        assert_eq!(PoseAngles::decode_degrees(0), None);
    }

    #[test]
    fn malformed_inputs_give_specific_errors() {
        let bytes = FaceImageRecord::single(face()).to_bytes().unwrap();
        let mut bad = bytes.clone();
        bad[2] = b'X';
        assert!(matches!(
            FaceImageRecord::parse(&bad),
            Err(RecordError::BadMagic { .. })
        ));
        let mut bad = bytes.clone();
        bad[4] = b'1';
        assert!(matches!(
            FaceImageRecord::parse(&bad),
            Err(RecordError::BadVersion { .. })
        ));
        assert!(matches!(
            FaceImageRecord::parse(&bytes[..bytes.len() - 3]),
            Err(RecordError::LengthMismatch { .. })
        ));
        assert!(matches!(
            FaceImageRecord::parse(&bytes[..10]),
            Err(RecordError::Truncated { .. })
        ));
        let mut bad = bytes.clone();
        bad[14 + 6] = 7; // gender
        assert!(matches!(
            FaceImageRecord::parse(&bad),
            Err(RecordError::InvalidField { ref field, .. }) if field == "gender"
        ));
        let mut bad = bytes.clone();
        bad[14 + 36 + 1] = 5; // image data type
        assert!(matches!(
            FaceImageRecord::parse(&bad),
            Err(RecordError::InvalidField { ref field, .. }) if field == "image data type"
        ));
        let mut bad = bytes;
        bad[13] = 2; // two faces declared, one present
        assert!(FaceImageRecord::parse(&bad).is_err());
        assert!(FaceImageRecord { faces: vec![] }.to_bytes().is_err());
    }

    #[test]
    fn writer_checks_the_image_against_the_header() {
        let mut f = face();
        f.data_type = ImageDataType::Jpeg2000;
        assert!(matches!(
            FaceImageRecord::single(f).to_bytes(),
            Err(RecordError::InvalidField { ref reason, .. }) if reason.contains("Jpeg2000")
        ));
        let mut f = face();
        f.width = 481;
        assert!(matches!(
            FaceImageRecord::single(f).to_bytes(),
            Err(RecordError::InvalidField { ref reason, .. }) if reason.contains("480x640")
        ));
    }

    #[test]
    fn png_is_refused_for_a_face() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&[0, 0, 0, 9, 0, 0, 0, 9]);
        assert!(matches!(
            FaceImage::from_image(png),
            Err(RecordError::InvalidField { .. })
        ));
    }

    /// A token face at the card's 240 x 320 with the eyes where ISO/IEC 19794-5 clause 9 puts
    /// them (the subject's right eye at (90, 144), the left at (149, 144)), byte for byte.
    #[test]
    fn token_face_with_eye_centres_byte_for_byte() {
        let jpeg = fake_jpeg(240, 320);
        assert_eq!(jpeg.len(), 23);
        let face = FaceImage::token(jpeg.clone(), (149, 144), (90, 144)).unwrap();
        let bytes = FaceImageRecord::single(face).to_bytes().unwrap();
        let mut expected = vec![
            // Record header: "FAC\0", "010\0", length 14 + 20 + 2 * 8 + 12 + 23 = 85, 1 face.
            0x46, 0x41, 0x43, 0x00, 0x30, 0x31, 0x30, 0x00, 0x00, 0x00, 0x00, 0x55, 0x00, 0x01,
            // Facial information: block length 71, 2 feature points, gender, eye and hair
            // colour unspecified, feature mask 0, expression 0, pose angles and their
            // uncertainties unspecified.
            0x00, 0x00, 0x00, 0x47, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            // Feature point: type 1 (2D), code 12.1 = 0xC1, x 149, y 144, reserved.
            0x01, 0xC1, 0x00, 0x95, 0x00, 0x90, 0x00, 0x00,
            // Feature point: type 1, 12.2 = 0xC2, x 90, y 144, reserved.
            0x01, 0xC2, 0x00, 0x5A, 0x00, 0x90, 0x00, 0x00,
            // Image information: token frontal (2), JPEG (0), 240 x 320, 24-bit RGB (1),
            // digital still camera (2), device type 0, quality 0.
            0x02, 0x00, 0x00, 0xF0, 0x01, 0x40, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00,
        ];
        expected.extend_from_slice(&jpeg);
        assert_eq!(bytes, expected);
        let back = FaceImageRecord::parse(&expected).unwrap();
        assert_eq!(back.faces[0].face_image_type, FaceImageType::TokenFrontal);
        assert_eq!(back.eye_centres(), Some(((149, 144), (90, 144))));
    }

    #[test]
    fn token_eye_centres_are_checked() {
        let jpeg = fake_jpeg(240, 320);
        for (left, right, field) in [
            ((240, 144), (90, 144), "left eye centre"),
            ((149, 144), (90, 320), "right eye centre"),
            ((90, 144), (149, 144), "left eye centre"),
        ] {
            assert!(
                matches!(
                    FaceImage::token(jpeg.clone(), left, right),
                    Err(RecordError::InvalidField { field: ref f, .. }) if f == field
                ),
                "{left:?} {right:?}"
            );
        }
        // The builder replaces earlier eye centres rather than adding more.
        let f = face().with_eye_centres((300, 310), (180, 300));
        assert_eq!(f.feature_points.len(), 2);
        assert_eq!(f.eye_centres(), Some(((300, 310), (180, 300))));
    }
}
