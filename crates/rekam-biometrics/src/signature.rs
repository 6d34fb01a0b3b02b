//! Signature records: the pen samples as an ISO/IEC 19794-7:2007 time series, and the displayed
//! signature image as ICAO 9303 data group 7.
//!
//! Two different things, for two different readers:
//!
//! * [`SignatureTimeSeries`] is the **dynamic** signature: the pen's x, y, time and pressure
//!   channels as the signature pad sampled them, in the ISO/IEC 19794-7:2007 *full format*
//!   ("SDI\0", version " 10\0"). It goes into the enrollment package for the data centre,
//!   where a signature verifier can use it; it is not an image.
//! * [`DisplayedSignature`] is the **displayed** signature: a rendered JPEG or JPEG 2000 image
//!   of the signature wrapped as ICAO Doc 9303 Part 10 data group 7 (BER-TLV template `67`
//!   holding `02` number of instances and `5F43` image per instance). It goes on the card's
//!   chip; rendering the samples to an image is done elsewhere (`rekam-signature`).
//!
//! ## ISO/IEC 19794-7:2007 full format, as written here
//!
//! Record header (clause 7.3, Table 3):
//!
//! | size | field |
//! | --- | --- |
//! | 4 | format identifier `"SDI\0"` (7.3.2) |
//! | 4 | version `" 10\0"`: space, `1`, `0`, NUL (7.3.3) |
//! | 2 | channel inclusion field: bit 15 (MSB) = X, then Y, Z, VX, VY, AX, AY, T, DT, F, S, TX, TY, AZ, EL, bit 0 = R (7.3.4) |
//! | var | one channel description per included channel, in that order: a preamble byte (bit 7 scaling value present, 6 minimum, 5 maximum, 4 mean, 3 standard deviation, 2 channel is constant, 1 linear component removed) then the present attributes, 2 bytes each |
//! | 1 | reserved, 0 |
//!
//! Record body (clause 7.4):
//!
//! | size | field |
//! | --- | --- |
//! | 1 | flags: bit 7 = extended data present |
//! | 3 | number of sample points |
//! | var | sample points: for each non-constant included channel, in channel order, a 2-byte value (1 byte for S); X, Y, VX, VY, AX, AY, TX, TY are two's-complement signed, the others unsigned |
//! | 2 + n | extended data length and bytes, when the flag says so |
//!
//! The 2007 full format has no record length field: the record's end follows from the channel
//! descriptions and the number of sample points (the CBEFF wrapper carries the length).
//!
//! A scaling value is 2 bytes: a 5-bit exponent code `E` and an 11-bit fraction `F`, meaning
//! `2^(E − 16) · (1 + F / 2048)`. This crate writes X and Y scaled in units per millimetre and T
//! in units per second (1000: T is in milliseconds).
//!
//! Interoperability notes: the 2007 edition's ASN.1/ECN module (Annex B) can also be read with
//! the exponent as a two's-complement value; published parsers of 2007-format files use the
//! biased reading that this crate implements. A channel marked constant has no values in the
//! sample points here; this crate never writes constant channels.

use crate::bytes::{Reader, put_uint};
use crate::error::{RecordError, Result};
use crate::image_info::{self, ImageFormat};

const RECORD: &str = "ISO/IEC 19794-7";
const DG7: &str = "ICAO DG7";

/// Format identifier, clause 7.3.2.
pub const FORMAT_ID: [u8; 4] = *b"SDI\0";
/// Version of ISO/IEC 19794-7:2007, clause 7.3.3: space, "1", "0", NUL.
pub const VERSION: [u8; 4] = *b" 10\0";

/// One pen sample from a signature pad, in the pad's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PenSample {
    /// Horizontal position, left to right.
    pub x: u16,
    /// Vertical position, as the pad reports it.
    pub y: u16,
    /// Pen pressure; 0 = pen up.
    pub pressure: u16,
    /// Time since the first sample, in milliseconds.
    pub t_ms: u32,
}

/// A channel of the time series, in channel-inclusion bit order (clause 7.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// X coordinate.
    X,
    /// Y coordinate.
    Y,
    /// Z coordinate (height above the surface).
    Z,
    /// Velocity in x.
    Vx,
    /// Velocity in y.
    Vy,
    /// Acceleration in x.
    Ax,
    /// Acceleration in y.
    Ay,
    /// Time since the first sample.
    T,
    /// Time since the previous sample.
    Dt,
    /// Pen force (pressure).
    F,
    /// Pen tip switch state (1 byte).
    S,
    /// Pen tilt along x.
    Tx,
    /// Pen tilt along y.
    Ty,
    /// Pen azimuth.
    Az,
    /// Pen elevation.
    El,
    /// Pen rotation.
    R,
}

impl Channel {
    /// Every channel, in bit order (X is the most significant bit).
    pub const ALL: [Channel; 16] = [
        Self::X,
        Self::Y,
        Self::Z,
        Self::Vx,
        Self::Vy,
        Self::Ax,
        Self::Ay,
        Self::T,
        Self::Dt,
        Self::F,
        Self::S,
        Self::Tx,
        Self::Ty,
        Self::Az,
        Self::El,
        Self::R,
    ];

    /// The channel's bit in the channel inclusion field.
    pub fn bit(self) -> u16 {
        0x8000 >> (self as u16)
    }

    /// True for channels whose values are signed 16-bit integers.
    pub fn is_signed(self) -> bool {
        matches!(
            self,
            Self::X | Self::Y | Self::Vx | Self::Vy | Self::Ax | Self::Ay | Self::Tx | Self::Ty
        )
    }

    /// Bytes per value in a sample point: 1 for S, 2 for the others.
    pub fn value_len(self) -> usize {
        if self == Self::S { 1 } else { 2 }
    }

    /// The range of values the channel can hold.
    pub fn range(self) -> (i32, i32) {
        if self == Self::S {
            (0, 255)
        } else if self.is_signed() {
            (i32::from(i16::MIN), i32::from(i16::MAX))
        } else {
            (0, i32::from(u16::MAX))
        }
    }
}

/// A channel scaling value: 5-bit exponent code and 11-bit fraction (clause 7.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScalingValue {
    /// Exponent code `E`, 0..=31; the exponent is `E − 16`.
    pub exponent: u8,
    /// Fraction `F`, 0..=2047.
    pub fraction: u16,
}

impl ScalingValue {
    /// The value `2^(E − 16) · (1 + F / 2048)`.
    pub fn value(self) -> f64 {
        2f64.powi(i32::from(self.exponent) - 16) * (1.0 + f64::from(self.fraction) / 2048.0)
    }

    /// The nearest representable scaling value, if `v` is within 2⁻¹⁶ … ~2¹⁶.
    pub fn from_f64(v: f64) -> Option<Self> {
        if !v.is_finite() || v <= 0.0 {
            return None;
        }
        let mut e = v.log2().floor() as i32;
        let mut f = ((v / 2f64.powi(e) - 1.0) * 2048.0).round() as i32;
        if f >= 2048 {
            e += 1;
            f = 0;
        }
        let code = e + 16;
        if !(0..=31).contains(&code) || !(0..=2047).contains(&f) {
            return None;
        }
        Some(Self {
            exponent: code as u8,
            fraction: f as u16,
        })
    }

    fn to_u16(self) -> u16 {
        (u16::from(self.exponent) << 11) | (self.fraction & 0x07FF)
    }

    fn from_u16(v: u16) -> Self {
        Self {
            exponent: (v >> 11) as u8,
            fraction: v & 0x07FF,
        }
    }
}

/// One channel description (clause 7.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChannelDescription {
    /// The channel described.
    pub channel: Channel,
    /// Scaling value, if given.
    pub scaling: Option<ScalingValue>,
    /// Minimum channel value, if given.
    pub min: Option<i32>,
    /// Maximum channel value, if given.
    pub max: Option<i32>,
    /// Mean channel value, if given.
    pub mean: Option<i32>,
    /// Standard deviation, if given.
    pub std_dev: Option<u16>,
    /// The channel is constant and has no values in the sample points.
    pub constant: bool,
    /// The linear component of the channel has been removed.
    pub linear_component_removed: bool,
}

impl ChannelDescription {
    /// A description of `channel` with no optional attributes.
    pub fn new(channel: Channel) -> Self {
        Self {
            channel,
            scaling: None,
            min: None,
            max: None,
            mean: None,
            std_dev: None,
            constant: false,
            linear_component_removed: false,
        }
    }

    fn preamble(&self) -> u8 {
        let mut p = 0;
        if self.scaling.is_some() {
            p |= 0x80;
        }
        if self.min.is_some() {
            p |= 0x40;
        }
        if self.max.is_some() {
            p |= 0x20;
        }
        if self.mean.is_some() {
            p |= 0x10;
        }
        if self.std_dev.is_some() {
            p |= 0x08;
        }
        if self.constant {
            p |= 0x04;
        }
        if self.linear_component_removed {
            p |= 0x02;
        }
        p
    }
}

/// A signature as an ISO/IEC 19794-7:2007 full-format time series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureTimeSeries {
    /// Channel descriptions, one per included channel, in [`Channel::ALL`] order; X and Y are
    /// mandatory.
    pub channels: Vec<ChannelDescription>,
    /// Sample points: each holds one value per non-constant channel, in channel order.
    pub samples: Vec<Vec<i32>>,
    /// Extended data (vendor-defined), if any.
    pub extended_data: Option<Vec<u8>>,
}

impl SignatureTimeSeries {
    /// Builds the time series of channels X, Y, T, F from pen samples.
    ///
    /// `units_per_mm` is the pad's resolution (written as the X and Y scaling values);
    /// `max_pressure` the pad's highest pressure value (written as F's maximum).
    ///
    /// # Errors
    /// [`RecordError::InvalidField`] when a coordinate exceeds 32767 (X and Y are signed), a
    /// time exceeds 65535 ms, a pressure exceeds `max_pressure`, or `units_per_mm` cannot be
    /// represented as a scaling value.
    pub fn from_pen_samples(
        samples: &[PenSample],
        units_per_mm: f64,
        max_pressure: u16,
    ) -> Result<Self> {
        let xy_scale = ScalingValue::from_f64(units_per_mm).ok_or_else(|| {
            RecordError::invalid(RECORD, "scaling value", format!("{units_per_mm} units/mm"))
        })?;
        let ms = ScalingValue::from_f64(1000.0)
            .ok_or_else(|| RecordError::invalid(RECORD, "scaling value", "1000"))?;
        let mut x = ChannelDescription::new(Channel::X);
        x.scaling = Some(xy_scale);
        let mut y = ChannelDescription::new(Channel::Y);
        y.scaling = Some(xy_scale);
        let mut t = ChannelDescription::new(Channel::T);
        t.scaling = Some(ms);
        let mut f = ChannelDescription::new(Channel::F);
        f.min = Some(0);
        f.max = Some(i32::from(max_pressure));
        let mut points = Vec::with_capacity(samples.len());
        for (i, s) in samples.iter().enumerate() {
            if s.x > i16::MAX as u16 || s.y > i16::MAX as u16 {
                return Err(RecordError::invalid(
                    RECORD,
                    "X/Y channel",
                    format!("sample {i}: ({}, {}) exceeds 32767", s.x, s.y),
                ));
            }
            if s.t_ms > u32::from(u16::MAX) {
                return Err(RecordError::invalid(
                    RECORD,
                    "T channel",
                    format!("sample {i}: {} ms exceeds 65535", s.t_ms),
                ));
            }
            if s.pressure > max_pressure {
                return Err(RecordError::invalid(
                    RECORD,
                    "F channel",
                    format!("sample {i}: {} exceeds {max_pressure}", s.pressure),
                ));
            }
            points.push(vec![
                i32::from(s.x),
                i32::from(s.y),
                s.t_ms as i32,
                i32::from(s.pressure),
            ]);
        }
        Ok(Self {
            channels: vec![x, y, t, f],
            samples: points,
            extended_data: None,
        })
    }

    /// The samples as pen samples, when the series has non-constant X, Y, T and F channels.
    ///
    /// # Errors
    /// [`RecordError::MissingField`] when one of those channels is absent or constant,
    /// [`RecordError::InvalidField`] when a coordinate is negative.
    pub fn to_pen_samples(&self) -> Result<Vec<PenSample>> {
        let index = |c: Channel| {
            self.channels
                .iter()
                .filter(|d| !d.constant)
                .position(|d| d.channel == c)
                .ok_or_else(|| RecordError::missing(RECORD, format!("{c:?} channel")))
        };
        let (ix, iy, it, ifr) = (
            index(Channel::X)?,
            index(Channel::Y)?,
            index(Channel::T)?,
            index(Channel::F)?,
        );
        let mut out = Vec::with_capacity(self.samples.len());
        for (i, p) in self.samples.iter().enumerate() {
            let get = |k: usize| p.get(k).copied().unwrap_or(0);
            let coord = |v: i32, name: &str| {
                u16::try_from(v).map_err(|_| {
                    RecordError::invalid(
                        RECORD,
                        format!("{name} channel"),
                        format!("sample {i}: {v}"),
                    )
                })
            };
            out.push(PenSample {
                x: coord(get(ix), "X")?,
                y: coord(get(iy), "Y")?,
                pressure: coord(get(ifr), "F")?,
                t_ms: u32::try_from(get(it)).unwrap_or(0),
            });
        }
        Ok(out)
    }

    fn sampled_channels(&self) -> impl Iterator<Item = Channel> + '_ {
        self.channels
            .iter()
            .filter(|d| !d.constant)
            .map(|d| d.channel)
    }

    fn validate(&self) -> Result<()> {
        let mut last: Option<Channel> = None;
        for d in &self.channels {
            if let Some(prev) = last {
                if d.channel <= prev {
                    return Err(RecordError::invalid(
                        RECORD,
                        "channel descriptions",
                        format!(
                            "{:?} after {prev:?}: channels must be unique and in bit order",
                            d.channel
                        ),
                    ));
                }
            }
            last = Some(d.channel);
            // Attributes are 16-bit even for the 8-bit S channel (Annex B, UnsignedChannelDescr).
            let (lo, hi) = if d.channel.is_signed() {
                (i32::from(i16::MIN), i32::from(i16::MAX))
            } else {
                (0, i32::from(u16::MAX))
            };
            for (name, v) in [("minimum", d.min), ("maximum", d.max), ("mean", d.mean)] {
                if let Some(v) = v {
                    if v < lo || v > hi {
                        return Err(RecordError::invalid(
                            RECORD,
                            format!("{:?} channel {name}", d.channel),
                            format!("{v} is outside {lo}..={hi}"),
                        ));
                    }
                }
            }
            if let Some(s) = d.scaling {
                if s.exponent > 31 || s.fraction > 2047 {
                    return Err(RecordError::invalid(
                        RECORD,
                        format!("{:?} scaling value", d.channel),
                        "exponent over 31 or fraction over 2047",
                    ));
                }
            }
        }
        for c in [Channel::X, Channel::Y] {
            if !self.channels.iter().any(|d| d.channel == c) {
                return Err(RecordError::missing(RECORD, format!("{c:?} channel")));
            }
        }
        let sampled: Vec<Channel> = self.sampled_channels().collect();
        for (i, p) in self.samples.iter().enumerate() {
            if p.len() != sampled.len() {
                return Err(RecordError::LengthMismatch {
                    record: RECORD,
                    what: "values in a sample point",
                    declared: sampled.len() as u64,
                    actual: p.len() as u64,
                });
            }
            for (&c, &v) in sampled.iter().zip(p) {
                let (lo, hi) = c.range();
                if v < lo || v > hi {
                    return Err(RecordError::invalid(
                        RECORD,
                        format!("{c:?} channel"),
                        format!("sample {i}: {v} is outside {lo}..={hi}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Encodes the record.
    ///
    /// # Errors
    /// [`RecordError::InvalidField`] / [`RecordError::MissingField`] /
    /// [`RecordError::LengthMismatch`] when the channels are out of order, X or Y is missing, a
    /// value is outside its channel's range, a sample has the wrong number of values, there are
    /// more than 2²⁴ − 1 samples or the extended data exceeds 65535 bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let mut out = Vec::new();
        out.extend_from_slice(&FORMAT_ID);
        out.extend_from_slice(&VERSION);
        let inclusion = self.channels.iter().fold(0u16, |m, d| m | d.channel.bit());
        out.extend_from_slice(&inclusion.to_be_bytes());
        for d in &self.channels {
            out.push(d.preamble());
            if let Some(s) = d.scaling {
                out.extend_from_slice(&s.to_u16().to_be_bytes());
            }
            for v in [d.min, d.max, d.mean].into_iter().flatten() {
                out.extend_from_slice(&(v as u16).to_be_bytes());
            }
            if let Some(s) = d.std_dev {
                out.extend_from_slice(&s.to_be_bytes());
            }
        }
        out.push(0); // reserved
        out.push(if self.extended_data.is_some() {
            0x80
        } else {
            0
        });
        put_uint(
            &mut out,
            self.samples.len() as u64,
            3,
            RECORD,
            "number of sample points",
        )?;
        let sampled: Vec<Channel> = self.sampled_channels().collect();
        for p in &self.samples {
            for (&c, &v) in sampled.iter().zip(p) {
                if c.value_len() == 1 {
                    out.push(v as u8);
                } else {
                    out.extend_from_slice(&(v as u16).to_be_bytes());
                }
            }
        }
        if let Some(ext) = &self.extended_data {
            put_uint(
                &mut out,
                ext.len() as u64,
                2,
                RECORD,
                "extended data length",
            )?;
            out.extend_from_slice(ext);
        }
        Ok(out)
    }

    /// Parses a record.
    ///
    /// # Errors
    /// [`RecordError::BadMagic`] / [`RecordError::BadVersion`], [`RecordError::Truncated`] when
    /// the data ends before the declared samples, [`RecordError::LengthMismatch`] for bytes
    /// after the record, [`RecordError::InvalidField`] / [`RecordError::MissingField`] when X or
    /// Y is not included or a reserved bit is set.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let mut r = Reader::new(data, RECORD);
        r.magic(&FORMAT_ID)?;
        r.version(&VERSION)?;
        let inclusion = r.u16()?;
        for c in [Channel::X, Channel::Y] {
            if inclusion & c.bit() == 0 {
                return Err(RecordError::missing(RECORD, format!("{c:?} channel")));
            }
        }
        let mut channels = Vec::new();
        for c in Channel::ALL {
            if inclusion & c.bit() == 0 {
                continue;
            }
            let preamble = r.u8()?;
            if preamble & 0x01 != 0 {
                return Err(RecordError::invalid(
                    RECORD,
                    format!("{c:?} channel description preamble"),
                    "reserved bit 0 is set",
                ));
            }
            let signed = c.is_signed();
            let mut value = |present: bool| -> Result<Option<i32>> {
                if !present {
                    return Ok(None);
                }
                let raw = r.u16()?;
                Ok(Some(if signed {
                    i32::from(raw as i16)
                } else {
                    i32::from(raw)
                }))
            };
            let scaling = value(preamble & 0x80 != 0)?.map(|v| ScalingValue::from_u16(v as u16));
            let min = value(preamble & 0x40 != 0)?;
            let max = value(preamble & 0x20 != 0)?;
            let mean = value(preamble & 0x10 != 0)?;
            let std_dev = if preamble & 0x08 != 0 {
                Some(r.u16()?)
            } else {
                None
            };
            channels.push(ChannelDescription {
                channel: c,
                scaling,
                min,
                max,
                mean,
                std_dev,
                constant: preamble & 0x04 != 0,
                linear_component_removed: preamble & 0x02 != 0,
            });
        }
        let _reserved = r.u8()?;
        let flags = r.u8()?;
        let count = r.u24()? as usize;
        let sampled: Vec<Channel> = channels
            .iter()
            .filter(|d| !d.constant)
            .map(|d| d.channel)
            .collect();
        let point_len: usize = sampled.iter().map(|c| c.value_len()).sum();
        let needed = count.saturating_mul(point_len);
        if needed > r.remaining() {
            return Err(RecordError::Truncated {
                record: RECORD,
                offset: r.position(),
                needed,
                available: r.remaining(),
            });
        }
        let mut samples = Vec::with_capacity(count);
        for _ in 0..count {
            let mut p = Vec::with_capacity(sampled.len());
            for &c in &sampled {
                let v = if c.value_len() == 1 {
                    i32::from(r.u8()?)
                } else if c.is_signed() {
                    i32::from(r.u16()? as i16)
                } else {
                    i32::from(r.u16()?)
                };
                p.push(v);
            }
            samples.push(p);
        }
        let extended_data = if flags & 0x80 != 0 {
            let len = usize::from(r.u16()?);
            Some(r.take(len)?.to_vec())
        } else {
            None
        };
        if r.remaining() != 0 {
            return Err(RecordError::LengthMismatch {
                record: RECORD,
                what: "bytes after the last sample point",
                declared: 0,
                actual: r.remaining() as u64,
            });
        }
        Ok(Self {
            channels,
            samples,
            extended_data,
        })
    }
}

/// Tag of the ICAO 9303 DG7 template.
pub const DG7_TAG: u8 = 0x67;
/// Tag of the number-of-instances data object inside DG7.
pub const DG7_COUNT_TAG: u8 = 0x02;
/// Tag of a displayed signature or usual mark image inside DG7.
pub const DG7_IMAGE_TAG: u16 = 0x5F43;

/// Displayed signature images for the chip: ICAO Doc 9303 Part 10 data group 7.
///
/// `67 L { 02 01 n, 5F43 L image, … }`, lengths in BER definite form (short form below 128,
/// then `81 xx`, `82 xxxx`, `83 xxxxxx`, `84 xxxxxxxx`). Each image is JPEG or JPEG 2000.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayedSignature {
    /// The images, one per instance (usually one).
    pub images: Vec<Vec<u8>>,
}

impl DisplayedSignature {
    /// One displayed signature image.
    pub fn single(image: Vec<u8>) -> Self {
        Self {
            images: vec![image],
        }
    }

    /// Encodes data group 7.
    ///
    /// # Errors
    /// [`RecordError::InvalidField`] when there are no images or more than 255, or an image is
    /// not JPEG or JPEG 2000.
    pub fn to_dg7(&self) -> Result<Vec<u8>> {
        let n = u8::try_from(self.images.len())
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| RecordError::invalid(DG7, "number of instances", "must be 1 to 255"))?;
        let mut body = vec![DG7_COUNT_TAG, 1, n];
        for (i, img) in self.images.iter().enumerate() {
            let info = image_info::probe(img)?;
            if !matches!(info.format, ImageFormat::Jpeg | ImageFormat::Jpeg2000) {
                return Err(RecordError::invalid(
                    DG7,
                    "5F43 displayed signature",
                    format!(
                        "image {i} is {:?}; DG7 takes JPEG or JPEG 2000",
                        info.format
                    ),
                ));
            }
            body.extend_from_slice(&DG7_IMAGE_TAG.to_be_bytes());
            put_ber_length(&mut body, img.len());
            body.extend_from_slice(img);
        }
        let mut out = vec![DG7_TAG];
        put_ber_length(&mut out, body.len());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Parses data group 7.
    ///
    /// # Errors
    /// [`RecordError::BadMagic`] when the outer tag is not `67`, [`RecordError::Truncated`] or
    /// [`RecordError::LengthMismatch`] when lengths disagree with the data,
    /// [`RecordError::InvalidField`] / [`RecordError::MissingField`] for unexpected or missing
    /// data objects.
    pub fn parse_dg7(data: &[u8]) -> Result<Self> {
        let mut r = Reader::new(data, DG7);
        let (tag, body) = read_tlv(&mut r)?;
        if tag != u32::from(DG7_TAG) {
            return Err(RecordError::BadMagic {
                record: DG7,
                expected: vec![DG7_TAG],
                found: tag_bytes(tag),
            });
        }
        if r.remaining() != 0 {
            return Err(RecordError::LengthMismatch {
                record: DG7,
                what: "bytes after the DG7 template",
                declared: 0,
                actual: r.remaining() as u64,
            });
        }
        let mut inner = Reader::new(body, DG7);
        let (tag, count) = read_tlv(&mut inner)?;
        if tag != u32::from(DG7_COUNT_TAG) {
            return Err(RecordError::missing(DG7, "02 number of instances"));
        }
        if count.len() != 1 {
            return Err(RecordError::invalid(
                DG7,
                "02 number of instances",
                format!("length {} (expected 1)", count.len()),
            ));
        }
        let declared = u64::from(count[0]);
        let mut images = Vec::new();
        while inner.remaining() > 0 {
            let (tag, value) = read_tlv(&mut inner)?;
            if tag != u32::from(DG7_IMAGE_TAG) {
                return Err(RecordError::invalid(
                    DG7,
                    "data object",
                    format!("unexpected tag {tag:X} (expected 5F43)"),
                ));
            }
            images.push(value.to_vec());
        }
        if images.len() as u64 != declared || declared == 0 {
            return Err(RecordError::LengthMismatch {
                record: DG7,
                what: "number of instances",
                declared,
                actual: images.len() as u64,
            });
        }
        Ok(Self { images })
    }
}

fn put_ber_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn tag_bytes(tag: u32) -> Vec<u8> {
    let b = tag.to_be_bytes();
    let skip = b.iter().take_while(|x| **x == 0).count().min(3);
    b[skip..].to_vec()
}

/// Reads one BER-TLV: returns the tag (its bytes as a big-endian number) and the value.
fn read_tlv<'a>(r: &mut Reader<'a>) -> Result<(u32, &'a [u8])> {
    let first = r.u8()?;
    let mut tag = u32::from(first);
    if first & 0x1F == 0x1F {
        let mut n = 0;
        loop {
            let b = r.u8()?;
            tag = (tag << 8) | u32::from(b);
            n += 1;
            if b & 0x80 == 0 {
                break;
            }
            if n >= 3 {
                return Err(RecordError::invalid(DG7, "tag", "longer than 4 bytes"));
            }
        }
    }
    let l0 = r.u8()?;
    let len = match l0 {
        0..=0x7F => usize::from(l0),
        0x81..=0x84 => {
            let mut len = 0usize;
            for _ in 0..(l0 & 0x7F) {
                len = (len << 8) | usize::from(r.u8()?);
            }
            len
        }
        _ => {
            return Err(RecordError::invalid(
                DG7,
                "length",
                format!("BER length byte {l0:#04x} is indefinite or too long"),
            ));
        }
    };
    Ok((tag, r.take(len)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<PenSample> {
        (0..50u16)
            .map(|i| PenSample {
                x: 100 + i * 3,
                y: 400 - i * 2,
                pressure: if i % 10 == 9 { 0 } else { 200 + i },
                t_ms: u32::from(i) * 5,
            })
            .collect()
    }

    #[test]
    fn scaling_value_encoding() {
        let s = ScalingValue::from_f64(1000.0).unwrap();
        assert_eq!(s.exponent, 16 + 9);
        assert_eq!(s.fraction, 1952);
        assert_eq!(s.value(), 1000.0);
        assert_eq!(
            ScalingValue::from_f64(1.0).map(|s| s.to_u16()),
            Some(16 << 11)
        );
        assert!(ScalingValue::from_f64(1e9).is_none());
        assert!(ScalingValue::from_f64(0.0).is_none());
        for v in [0.5, 3.0, 39.37, 100.0, 2540.0] {
            let s = ScalingValue::from_f64(v).unwrap();
            assert!((s.value() - v).abs() / v < 1.0 / 2048.0, "{v}");
        }
    }

    #[test]
    fn header_bytes_follow_table_3() {
        let ts = SignatureTimeSeries::from_pen_samples(&samples(), 100.0, 1023).unwrap();
        let b = ts.to_bytes().unwrap();
        assert_eq!(&b[0..8], b"SDI\0 10\0");
        // X, Y, T, F included: bits 15, 14, 8, 6.
        assert_eq!(u16::from_be_bytes([b[8], b[9]]), 0b1100_0001_0100_0000);
        assert_eq!(b[10], 0x80); // X: scaling only
        assert_eq!(b[13], 0x80); // Y
        assert_eq!(b[16], 0x80); // T
        assert_eq!(u16::from_be_bytes([b[17], b[18]]), (25 << 11) | 1952);
        assert_eq!(b[19], 0x60); // F: min and max
        assert_eq!(&b[20..24], &[0, 0, 0x03, 0xFF]);
        assert_eq!(b[24], 0); // reserved
        assert_eq!(b[25], 0); // no extended data
        assert_eq!(&b[26..29], &[0, 0, 50]);
        // First sample: x 100, y 400, t 0, f 200.
        assert_eq!(&b[29..37], &[0, 100, 1, 144, 0, 0, 0, 200]);
        assert_eq!(b.len(), 29 + 50 * 8);
    }

    #[test]
    fn time_series_round_trip() {
        let mut ts = SignatureTimeSeries::from_pen_samples(&samples(), 100.0, 1023).unwrap();
        ts.extended_data = Some(b"vendor".to_vec());
        ts.channels.push(ChannelDescription::new(Channel::S));
        let mut vx = ChannelDescription::new(Channel::Vx);
        vx.mean = Some(-3);
        vx.std_dev = Some(12);
        ts.channels.insert(2, vx);
        for (i, p) in ts.samples.iter_mut().enumerate() {
            p.insert(2, -(i as i32)); // VX, signed
            p.push(i32::from(i % 2 == 0)); // S, one byte
        }
        let bytes = ts.to_bytes().unwrap();
        let back = SignatureTimeSeries::parse(&bytes).unwrap();
        assert_eq!(back, ts);
        assert_eq!(back.to_pen_samples().unwrap(), samples());
    }

    #[test]
    fn writer_and_parser_reject_bad_series() {
        let ts = SignatureTimeSeries::from_pen_samples(&samples(), 100.0, 1023).unwrap();
        let mut bad = ts.clone();
        bad.samples[3].pop();
        assert!(matches!(
            bad.to_bytes(),
            Err(RecordError::LengthMismatch { .. })
        ));
        let mut bad = ts.clone();
        bad.channels.swap(0, 1);
        assert!(bad.to_bytes().is_err());
        let mut bad = ts.clone();
        bad.channels.remove(1);
        for p in &mut bad.samples {
            p.remove(1);
        }
        assert!(matches!(
            bad.to_bytes(),
            Err(RecordError::MissingField { .. })
        ));
        assert!(
            SignatureTimeSeries::from_pen_samples(
                &[PenSample {
                    x: 40000,
                    y: 0,
                    pressure: 0,
                    t_ms: 0
                }],
                100.0,
                10
            )
            .is_err()
        );

        let bytes = ts.to_bytes().unwrap();
        assert!(matches!(
            SignatureTimeSeries::parse(&bytes[..bytes.len() - 1]),
            Err(RecordError::Truncated { .. })
        ));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            SignatureTimeSeries::parse(&longer),
            Err(RecordError::LengthMismatch { .. })
        ));
        let mut bad = bytes.clone();
        bad[5] = b'2';
        assert!(matches!(
            SignatureTimeSeries::parse(&bad),
            Err(RecordError::BadVersion { .. })
        ));
        let mut bad = bytes;
        bad[8] &= 0x3F; // neither X nor Y
        assert!(matches!(
            SignatureTimeSeries::parse(&bad),
            Err(RecordError::MissingField { .. })
        ));
    }

    fn fake_jpeg(extra: usize) -> Vec<u8> {
        let mut j = vec![
            0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x40, 0x01, 0x00, 0x01, 0x01, 0x11,
            0x00,
        ];
        j.extend(std::iter::repeat_n(0x55, extra));
        j.extend_from_slice(&[0xFF, 0xD9]);
        j
    }

    #[test]
    fn dg7_layout_and_round_trip() {
        let small = DisplayedSignature::single(fake_jpeg(0));
        let b = small.to_dg7().unwrap();
        let img_len = fake_jpeg(0).len();
        assert_eq!(b[0], 0x67);
        assert_eq!(usize::from(b[1]), b.len() - 2);
        assert_eq!(&b[2..5], &[0x02, 0x01, 0x01]);
        assert_eq!(&b[5..7], &[0x5F, 0x43]);
        assert_eq!(usize::from(b[7]), img_len);
        assert_eq!(DisplayedSignature::parse_dg7(&b).unwrap(), small);

        let big = DisplayedSignature {
            images: vec![fake_jpeg(300), fake_jpeg(70_000)],
        };
        let b = big.to_dg7().unwrap();
        assert_eq!(&b[0..2], &[0x67, 0x83]); // three length bytes
        let inner = u32::from_be_bytes([0, b[2], b[3], b[4]]) as usize;
        assert_eq!(inner, b.len() - 5);
        assert_eq!(&b[5..8], &[0x02, 0x01, 0x02]);
        assert_eq!(&b[8..11], &[0x5F, 0x43, 0x82]);
        assert_eq!(DisplayedSignature::parse_dg7(&b).unwrap(), big);
    }

    #[test]
    fn dg7_malformed() {
        let b = DisplayedSignature::single(fake_jpeg(10)).to_dg7().unwrap();
        let mut bad = b.clone();
        bad[0] = 0x75;
        assert!(matches!(
            DisplayedSignature::parse_dg7(&bad),
            Err(RecordError::BadMagic { .. })
        ));
        assert!(matches!(
            DisplayedSignature::parse_dg7(&b[..b.len() - 1]),
            Err(RecordError::Truncated { .. })
        ));
        let mut bad = b.clone();
        bad[4] = 2; // says two instances
        assert!(matches!(
            DisplayedSignature::parse_dg7(&bad),
            Err(RecordError::LengthMismatch { .. })
        ));
        let mut bad = b;
        bad[1] = 0x80; // indefinite length
        assert!(matches!(
            DisplayedSignature::parse_dg7(&bad),
            Err(RecordError::InvalidField { .. })
        ));
        assert!(DisplayedSignature { images: vec![] }.to_dg7().is_err());
        assert!(
            DisplayedSignature::single(b"not an image".to_vec())
                .to_dg7()
                .is_err()
        );
    }
}
