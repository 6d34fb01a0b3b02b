//! Typed records of the KTP-el enrollment package and the builder that assembles them.

use super::{BinaryRecord, Field, Record, TaggedRecord, Transaction, record_name};
use crate::error::{RecordError, Result};
use crate::image_info::{self, ImageFormat};
use crate::iso19794_4::{FingerPosition, ImpressionType};
use crate::signature::PenSample;
use std::fmt;
use std::str::FromStr;

/// A calendar date, written `YYYYMMDD` as ANSI/NIST-ITL 1-2011 date fields are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    /// Year, 1900–2999 … any four digits.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31 as the month allows.
    pub day: u8,
}

impl Date {
    /// A valid date, or `None` (February 29 only in leap years).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (year <= 9999 && (1..=days).contains(&day)).then_some(Self { year, month, day })
    }

    /// Parses `YYYYMMDD`.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Self::new(
            s[0..4].parse().ok()?,
            s[4..6].parse().ok()?,
            s[6..8].parse().ok()?,
        )
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}{:02}{:02}", self.year, self.month, self.day)
    }
}

/// A resolution in pixels per millimetre with two decimals, as 1.011 NSR and 1.012 NTR write
/// it (`19.69` for 500 ppi). Stored in hundredths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ppmm(pub u16);

impl Ppmm {
    /// `00.00`: no resolution (the value for transactions without Type-3 to Type-7 images).
    pub const NONE: Ppmm = Ppmm(0);

    /// The resolution for `ppi` pixels per inch, rounded to hundredths (500 → 19.69).
    pub fn from_ppi(ppi: u16) -> Self {
        Self(((f64::from(ppi) / 25.4) * 100.0).round() as u16)
    }

    /// Parses `dd.dd`.
    pub fn parse(s: &str) -> Option<Self> {
        let (whole, frac) = s.split_once('.')?;
        if whole.is_empty()
            || whole.len() > 3
            || frac.len() != 2
            || !whole
                .bytes()
                .chain(frac.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let w: u16 = whole.parse().ok()?;
        let f: u16 = frac.parse().ok()?;
        Some(Self(w.checked_mul(100)?.checked_add(f)?))
    }
}

impl fmt::Display for Ppmm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// 1.013 DOM: the domain whose user-defined fields the transaction uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// Domain name.
    pub name: String,
    /// Domain version, if any.
    pub version: Option<String>,
}

/// The Type-1 transaction information record (section 8.1), without 1.001 LEN and 1.003 CNT,
/// which are computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionHeader {
    /// 1.002 VER, `0500` for ANSI/NIST-ITL 1-2011.
    pub version: String,
    /// 1.004 TOT, type of transaction.
    pub tot: String,
    /// 1.005 DAT, date of the transaction.
    pub date: Date,
    /// 1.006 PRY, priority 1 (highest) to 9.
    pub priority: Option<u8>,
    /// 1.007 DAI, destination agency identifier.
    pub destination_agency: String,
    /// 1.008 ORI, originating agency identifier (the station's office).
    pub originating_agency: String,
    /// 1.009 TCN, transaction control number (unique per transaction).
    pub tcn: String,
    /// 1.010 TCR, transaction control reference (the TCN this one answers), if any.
    pub tcr: Option<String>,
    /// 1.011 NSR, native scanning resolution; `00.00` when no Type-3 to Type-7 records.
    pub native_scanning_resolution: Ppmm,
    /// 1.012 NTR, nominal transmitting resolution; `00.00` when no Type-3 to Type-7 records.
    pub nominal_transmitting_resolution: Ppmm,
    /// 1.013 DOM, domain name.
    pub domain: Option<Domain>,
    /// 1.014 GMT, Greenwich mean time `YYYYMMDDhhmmssZ`.
    pub gmt: Option<String>,
}

impl TransactionHeader {
    /// A version 0500 header with the mandatory fields; NSR and NTR `00.00`.
    pub fn new(
        tot: impl Into<String>,
        date: Date,
        destination_agency: impl Into<String>,
        originating_agency: impl Into<String>,
        tcn: impl Into<String>,
    ) -> Self {
        Self {
            version: "0500".into(),
            tot: tot.into(),
            date,
            priority: None,
            destination_agency: destination_agency.into(),
            originating_agency: originating_agency.into(),
            tcn: tcn.into(),
            tcr: None,
            native_scanning_resolution: Ppmm::NONE,
            nominal_transmitting_resolution: Ppmm::NONE,
            domain: None,
            gmt: None,
        }
    }

    fn to_record(&self, utf8: bool) -> Result<TaggedRecord> {
        const R: &str = "ANSI/NIST Type-1";
        for (field, v) in [
            ("1.004 TOT", &self.tot),
            ("1.007 DAI", &self.destination_agency),
            ("1.008 ORI", &self.originating_agency),
            ("1.009 TCN", &self.tcn),
        ] {
            non_empty(R, field, v)?;
        }
        if self.version.len() != 4 || !self.version.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RecordError::invalid(R, "1.002 VER", "must be four digits"));
        }
        let mut f = vec![
            Field::text(2, &self.version),
            Field::text(4, &self.tot),
            Field::text(5, self.date.to_string()),
        ];
        if let Some(p) = self.priority {
            if !(1..=9).contains(&p) {
                return Err(RecordError::invalid(
                    R,
                    "1.006 PRY",
                    format!("{p} is not 1-9"),
                ));
            }
            f.push(Field::text(6, p.to_string()));
        }
        f.push(Field::text(7, &self.destination_agency));
        f.push(Field::text(8, &self.originating_agency));
        f.push(Field::text(9, &self.tcn));
        if let Some(t) = &self.tcr {
            f.push(Field::text(10, t));
        }
        f.push(Field::text(11, self.native_scanning_resolution.to_string()));
        f.push(Field::text(
            12,
            self.nominal_transmitting_resolution.to_string(),
        ));
        if let Some(d) = &self.domain {
            let mut items = vec![d.name.clone()];
            items.extend(d.version.clone());
            f.push(Field::items(13, items));
        }
        if let Some(g) = &self.gmt {
            f.push(Field::text(14, g));
        }
        if utf8 {
            f.push(Field::items(15, vec!["3".into(), "UTF-8".into()]));
        }
        Ok(TaggedRecord {
            record_type: 1,
            fields: f,
        })
    }

    fn from_record(rec: &TaggedRecord) -> Result<Self> {
        let r = Fields::new(rec);
        let domain = r.subfields(13).first().map(|items| Domain {
            name: items.first().cloned().unwrap_or_default(),
            version: items.get(1).cloned(),
        });
        Ok(Self {
            version: r.str(2, "VER")?.to_string(),
            tot: r.str(4, "TOT")?.to_string(),
            date: r.date(5, "DAT")?,
            priority: r.opt_num(6, "PRY")?,
            destination_agency: r.str(7, "DAI")?.to_string(),
            originating_agency: r.str(8, "ORI")?.to_string(),
            tcn: r.str(9, "TCN")?.to_string(),
            tcr: r.opt_str(10, "TCR")?.map(str::to_string),
            native_scanning_resolution: r.ppmm(11, "NSR")?,
            nominal_transmitting_resolution: r.ppmm(12, "NTR")?,
            domain,
            gmt: r.opt_str(14, "GMT")?.map(str::to_string),
        })
    }
}

/// Field numbers of the KTP-el Type-2 record (see the module documentation).
pub mod type2 {
    /// 2.003: NIK, 16 digits.
    pub const NIK: u16 = 3;
    /// 2.004: Kartu Keluarga number, 16 digits.
    pub const KK_NUMBER: u16 = 4;
    /// 2.005: full name.
    pub const NAME: u16 = 5;
    /// 2.006: place of birth.
    pub const BIRTH_PLACE: u16 = 6;
    /// 2.007: date of birth, YYYYMMDD.
    pub const BIRTH_DATE: u16 = 7;
    /// 2.008: sex, `M` or `F`.
    pub const SEX: u16 = 8;
    /// 2.009: address, 8 information items.
    pub const ADDRESS: u16 = 9;
    /// Lowest field number available for [`super::Demographics::extra`].
    pub const FIRST_EXTRA: u16 = 10;
}

/// Sex as written in 2.008.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// `M`: laki-laki.
    Male,
    /// `F`: perempuan.
    Female,
}

impl Sex {
    /// The code written in 2.008.
    pub fn code(self) -> &'static str {
        match self {
            Self::Male => "M",
            Self::Female => "F",
        }
    }
}

/// An Indonesian address as on the KTP-el, written as the 8 items of 2.009.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// Street and number (alamat).
    pub street: String,
    /// RT (rukun tetangga), e.g. `003`.
    pub rt: String,
    /// RW (rukun warga), e.g. `011`.
    pub rw: String,
    /// Kelurahan or desa.
    pub village: String,
    /// Kecamatan.
    pub district: String,
    /// Kabupaten or kota.
    pub regency_city: String,
    /// Provinsi.
    pub province: String,
    /// Postal code (kode pos); may be empty.
    pub postal_code: String,
}

/// The applicant's data carried in the Type-2 record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demographics {
    /// NIK, 16 digits (2.003).
    pub nik: String,
    /// Kartu Keluarga number, 16 digits (2.004).
    pub kk_number: Option<String>,
    /// Full name (2.005).
    pub name: String,
    /// Place of birth (2.006).
    pub birth_place: String,
    /// Date of birth (2.007).
    pub birth_date: Date,
    /// Sex (2.008).
    pub sex: Sex,
    /// Address (2.009).
    pub address: Option<Address>,
    /// Further single-item fields `(number, value)`, numbers 10–998, in ascending order.
    pub extra: Vec<(u16, String)>,
}

fn sixteen_digits(record: &'static str, field: &str, v: &str) -> Result<()> {
    if v.len() != 16 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RecordError::invalid(
            record,
            field,
            format!("{v:?} is not 16 digits"),
        ));
    }
    Ok(())
}

fn non_empty(record: &'static str, field: &str, v: &str) -> Result<()> {
    if v.is_empty() {
        return Err(RecordError::invalid(record, field, "must not be empty"));
    }
    Ok(())
}

impl Demographics {
    fn to_record(&self, idc: u8) -> Result<TaggedRecord> {
        const R: &str = "ANSI/NIST Type-2";
        sixteen_digits(R, "2.003 NIK", &self.nik)?;
        if let Some(kk) = &self.kk_number {
            sixteen_digits(R, "2.004 KK number", kk)?;
        }
        non_empty(R, "2.005 name", &self.name)?;
        non_empty(R, "2.006 place of birth", &self.birth_place)?;
        let mut f = vec![
            Field::text(2, format!("{idc:02}")),
            Field::text(type2::NIK, &self.nik),
        ];
        if let Some(kk) = &self.kk_number {
            f.push(Field::text(type2::KK_NUMBER, kk));
        }
        f.push(Field::text(type2::NAME, &self.name));
        f.push(Field::text(type2::BIRTH_PLACE, &self.birth_place));
        f.push(Field::text(type2::BIRTH_DATE, self.birth_date.to_string()));
        f.push(Field::text(type2::SEX, self.sex.code()));
        if let Some(a) = &self.address {
            f.push(Field::items(
                type2::ADDRESS,
                vec![
                    a.street.clone(),
                    a.rt.clone(),
                    a.rw.clone(),
                    a.village.clone(),
                    a.district.clone(),
                    a.regency_city.clone(),
                    a.province.clone(),
                    a.postal_code.clone(),
                ],
            ));
        }
        let mut last = type2::FIRST_EXTRA - 1;
        for (n, v) in &self.extra {
            if *n <= last || *n > 998 {
                return Err(RecordError::invalid(
                    R,
                    format!("2.{n:03}"),
                    "extra fields need ascending numbers from 2.010 to 2.998",
                ));
            }
            non_empty(R, &format!("2.{n:03}"), v)?;
            last = *n;
            f.push(Field::text(*n, v));
        }
        Ok(TaggedRecord {
            record_type: 2,
            fields: f,
        })
    }

    fn from_record(rec: &TaggedRecord) -> Result<Self> {
        const R: &str = "ANSI/NIST Type-2";
        let r = Fields::new(rec);
        let nik = r.str(type2::NIK, "NIK")?.to_string();
        sixteen_digits(R, "2.003 NIK", &nik)?;
        let kk_number = r
            .opt_str(type2::KK_NUMBER, "KK number")?
            .map(str::to_string);
        if let Some(kk) = &kk_number {
            sixteen_digits(R, "2.004 KK number", kk)?;
        }
        let sex = match r.str(type2::SEX, "SEX")? {
            "M" => Sex::Male,
            "F" => Sex::Female,
            other => {
                return Err(RecordError::invalid(
                    R,
                    "2.008 SEX",
                    format!("{other:?} is neither M nor F"),
                ));
            }
        };
        let address = match r.subfields(type2::ADDRESS) {
            [] => None,
            [items] if items.len() == 8 => Some(Address {
                street: items[0].clone(),
                rt: items[1].clone(),
                rw: items[2].clone(),
                village: items[3].clone(),
                district: items[4].clone(),
                regency_city: items[5].clone(),
                province: items[6].clone(),
                postal_code: items[7].clone(),
            }),
            _ => {
                return Err(RecordError::invalid(
                    R,
                    "2.009 address",
                    "expected one subfield of 8 items",
                ));
            }
        };
        let mut extra = Vec::new();
        let mut numbers: Vec<u16> = rec
            .fields
            .iter()
            .map(|f| f.number)
            .filter(|n| *n >= type2::FIRST_EXTRA)
            .collect();
        numbers.sort_unstable();
        for n in numbers {
            let v = r.str(n, "user-defined field")?;
            extra.push((n, v.to_string()));
        }
        Ok(Self {
            nik,
            kk_number,
            name: r.str(type2::NAME, "name")?.to_string(),
            birth_place: r.str(type2::BIRTH_PLACE, "place of birth")?.to_string(),
            birth_date: r.date(type2::BIRTH_DATE, "date of birth")?,
            sex,
            address,
            extra,
        })
    }

    fn has_non_ascii(&self) -> bool {
        let mut texts: Vec<&str> = vec![&self.name, &self.birth_place];
        if let Some(a) = &self.address {
            texts.extend([
                a.street.as_str(),
                &a.rt,
                &a.rw,
                &a.village,
                &a.district,
                &a.regency_city,
                &a.province,
                &a.postal_code,
            ]);
        }
        texts.extend(self.extra.iter().map(|(_, v)| v.as_str()));
        texts.iter().any(|t| !t.is_ascii())
    }
}

/// Compression algorithm codes of the CGA fields 10.011 and 14.011 (ANSI/NIST-ITL 1-2011
/// compression codes table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageCompression {
    /// `NONE`: uncompressed.
    None,
    /// `WSQ20`: WSQ, FBI specification version 2.0 or later.
    Wsq,
    /// `JPEGB`: baseline (lossy) JPEG.
    JpegBaseline,
    /// `JPEGL`: lossless JPEG.
    JpegLossless,
    /// `JP2`: lossy JPEG 2000.
    Jpeg2000,
    /// `JP2L`: lossless JPEG 2000.
    Jpeg2000Lossless,
    /// `PNG`.
    Png,
}

impl ImageCompression {
    /// The code written in the CGA field.
    pub fn code(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Wsq => "WSQ20",
            Self::JpegBaseline => "JPEGB",
            Self::JpegLossless => "JPEGL",
            Self::Jpeg2000 => "JP2",
            Self::Jpeg2000Lossless => "JP2L",
            Self::Png => "PNG",
        }
    }

    /// The algorithm for a CGA code.
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "NONE" => Self::None,
            "WSQ20" => Self::Wsq,
            "JPEGB" => Self::JpegBaseline,
            "JPEGL" => Self::JpegLossless,
            "JP2" => Self::Jpeg2000,
            "JP2L" => Self::Jpeg2000Lossless,
            "PNG" => Self::Png,
            _ => return None,
        })
    }

    fn of_format(format: ImageFormat) -> Self {
        match format {
            ImageFormat::Jpeg => Self::JpegBaseline,
            ImageFormat::Jpeg2000 => Self::Jpeg2000,
            ImageFormat::Png => Self::Png,
            ImageFormat::Wsq => Self::Wsq,
        }
    }
}

impl ImageCompression {
    /// The image format whose header [`image_info::check`] verifies, `None` for `NONE`.
    fn format(self) -> Option<ImageFormat> {
        match self {
            Self::None => None,
            Self::Wsq => Some(ImageFormat::Wsq),
            Self::JpegBaseline | Self::JpegLossless => Some(ImageFormat::Jpeg),
            Self::Jpeg2000 | Self::Jpeg2000Lossless => Some(ImageFormat::Jpeg2000),
            Self::Png => Some(ImageFormat::Png),
        }
    }
}

/// 10.020 POS, subject pose (section 8.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pose {
    /// `F`: full face frontal.
    Frontal,
    /// `R`: right profile (90°).
    RightProfile,
    /// `L`: left profile (90°).
    LeftProfile,
    /// `A`: angled pose.
    Angled,
    /// `D`: determined by 3D pose.
    Determined3d,
}

impl Pose {
    /// The code written in 10.020.
    pub fn code(self) -> &'static str {
        match self {
            Self::Frontal => "F",
            Self::RightProfile => "R",
            Self::LeftProfile => "L",
            Self::Angled => "A",
            Self::Determined3d => "D",
        }
    }

    fn from_code(c: &str) -> Option<Self> {
        Some(match c {
            "F" => Self::Frontal,
            "R" => Self::RightProfile,
            "L" => Self::LeftProfile,
            "A" => Self::Angled,
            "D" => Self::Determined3d,
            _ => return None,
        })
    }
}

/// Subject acquisition profile codes for 10.013 SAP (ANSI/NIST-ITL 1-2011, face SAP table).
pub mod sap {
    /// 0: unknown profile.
    pub const UNKNOWN: u8 = 0;
    /// 11: ANSI full frontal (INCITS 385).
    pub const ANSI_FULL_FRONTAL: u8 = 11;
    /// 13: ISO/IEC 19794-5 full frontal.
    pub const ISO_FULL_FRONTAL: u8 = 13;
}

/// A Type-10 facial image record (section 8.10) with IMT `FACE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceImage {
    /// 10.004 SRC, source agency.
    pub source_agency: String,
    /// 10.005 PHD, photo capture date.
    pub capture_date: Date,
    /// 10.006 HLL, width in pixels.
    pub width: u16,
    /// 10.007 VLL, height in pixels.
    pub height: u16,
    /// 10.008 SLC: 0 = no scale (the THPS:TVPS ratio is the pixel aspect ratio), 1 = ppi,
    /// 2 = ppcm.
    pub scale_units: u8,
    /// 10.009 THPS.
    pub horizontal_pixel_scale: u16,
    /// 10.010 TVPS.
    pub vertical_pixel_scale: u16,
    /// 10.011 CGA.
    pub compression: ImageCompression,
    /// 10.012 CSP colour space: `GRAY`, `RGB`, `SRGB`, `YCC`, `SYCC` or `UNK`.
    pub colour_space: String,
    /// 10.013 SAP subject acquisition profile, see [`sap`].
    pub subject_acquisition_profile: u8,
    /// 10.020 POS subject pose.
    pub pose: Option<Pose>,
    /// 10.999 DATA, the image bytes.
    pub data: Vec<u8>,
}

impl FaceImage {
    /// A frontal face from a JPEG, JPEG 2000 or PNG image (size and CGA read from the image),
    /// square pixels (SLC 0, THPS = TVPS = 1), colour space `SRGB`, SAP 0 (unknown profile:
    /// set [`sap::ISO_FULL_FRONTAL`] when the photo meets ISO/IEC 19794-5 full frontal).
    ///
    /// # Errors
    /// Any [`image_info::probe`] error; [`RecordError::InvalidField`] for a WSQ image or one
    /// larger than 65535 pixels.
    pub fn from_image(
        data: Vec<u8>,
        source_agency: impl Into<String>,
        capture_date: Date,
    ) -> Result<Self> {
        const R: &str = "ANSI/NIST Type-10";
        let info = image_info::probe(&data)?;
        if info.format == ImageFormat::Wsq {
            return Err(RecordError::invalid(
                R,
                "10.011 CGA",
                "WSQ is for fingerprints",
            ));
        }
        Ok(Self {
            source_agency: source_agency.into(),
            capture_date,
            width: u16::try_from(info.width)
                .map_err(|_| RecordError::invalid(R, "10.006 HLL", "over 65535"))?,
            height: u16::try_from(info.height)
                .map_err(|_| RecordError::invalid(R, "10.007 VLL", "over 65535"))?,
            scale_units: 0,
            horizontal_pixel_scale: 1,
            vertical_pixel_scale: 1,
            compression: ImageCompression::of_format(info.format),
            colour_space: "SRGB".into(),
            subject_acquisition_profile: sap::UNKNOWN,
            pose: Some(Pose::Frontal),
            data,
        })
    }

    fn to_record(&self, idc: u8) -> Result<TaggedRecord> {
        const R: &str = "ANSI/NIST Type-10";
        non_empty(R, "10.004 SRC", &self.source_agency)?;
        if self.scale_units > 2 {
            return Err(RecordError::invalid(R, "10.008 SLC", "must be 0, 1 or 2"));
        }
        if let Some(format) = self.compression.format() {
            image_info::check(
                &self.data,
                format,
                u32::from(self.width),
                u32::from(self.height),
                R,
                "10.999 DATA",
            )?;
        }
        let mut f = vec![
            Field::text(2, format!("{idc:02}")),
            Field::text(3, "FACE"),
            Field::text(4, &self.source_agency),
            Field::text(5, self.capture_date.to_string()),
            Field::text(6, self.width.to_string()),
            Field::text(7, self.height.to_string()),
            Field::text(8, self.scale_units.to_string()),
            Field::text(9, self.horizontal_pixel_scale.to_string()),
            Field::text(10, self.vertical_pixel_scale.to_string()),
            Field::text(11, self.compression.code()),
            Field::text(12, &self.colour_space),
            Field::text(13, self.subject_acquisition_profile.to_string()),
        ];
        if let Some(p) = self.pose {
            f.push(Field::text(20, p.code()));
        }
        f.push(Field::binary(999, self.data.clone()));
        Ok(TaggedRecord {
            record_type: 10,
            fields: f,
        })
    }

    fn from_record(rec: &TaggedRecord) -> Result<Self> {
        const R: &str = "ANSI/NIST Type-10";
        let r = Fields::new(rec);
        let imt = r.str(3, "IMT")?;
        if imt != "FACE" {
            return Err(RecordError::invalid(
                R,
                "10.003 IMT",
                format!("{imt:?} is not FACE"),
            ));
        }
        let pose = match r.opt_str(20, "POS")? {
            None => None,
            Some(c) => Some(
                Pose::from_code(c)
                    .ok_or_else(|| RecordError::invalid(R, "10.020 POS", format!("{c:?}")))?,
            ),
        };
        Ok(Self {
            source_agency: r.str(4, "SRC")?.to_string(),
            capture_date: r.date(5, "PHD")?,
            width: r.num(6, "HLL")?,
            height: r.num(7, "VLL")?,
            scale_units: r.num(8, "SLC")?,
            horizontal_pixel_scale: r.num(9, "THPS")?,
            vertical_pixel_scale: r.num(10, "TVPS")?,
            compression: r.cga(11)?,
            colour_space: r.str(12, "CSP")?.to_string(),
            subject_acquisition_profile: r.num(13, "SAP")?,
            pose,
            data: r.binary()?,
        })
    }
}

/// One 14.021 SEG entry: a finger's bounding box inside a slap image, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FingerSegment {
    /// The finger.
    pub position: FingerPosition,
    /// Left edge.
    pub left: u16,
    /// Right edge.
    pub right: u16,
    /// Top edge.
    pub top: u16,
    /// Bottom edge.
    pub bottom: u16,
}

/// One 14.022 NQM entry: NIST fingerprint image quality (NFIQ 1: 1 best … 5 worst; 254 not
/// computed; 255 failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NistQuality {
    /// The finger.
    pub position: FingerPosition,
    /// NFIQ value.
    pub nfiq: u8,
}

/// One 14.024 FQM entry: a quality score with the algorithm that computed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FingerQuality {
    /// The finger.
    pub position: FingerPosition,
    /// QVU quality value 0–100 (254 not computed, 255 failed).
    pub score: u8,
    /// QAV algorithm vendor ID (CBEFF biometric organisation, written as 4 hex digits).
    pub vendor_id: u16,
    /// QAP algorithm product code, 1–65535.
    pub product_code: u16,
}

/// A Type-14 variable-resolution fingerprint image record (section 8.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerprintImage {
    /// 14.003 IMP impression type.
    pub impression: ImpressionType,
    /// 14.004 SRC source agency.
    pub source_agency: String,
    /// 14.005 FCD fingerprint capture date.
    pub capture_date: Date,
    /// 14.006 HLL width in pixels.
    pub width: u16,
    /// 14.007 VLL height in pixels.
    pub height: u16,
    /// Resolution in pixels per inch: written as 14.008 SLC = 1, 14.009 THPS = 14.010 TVPS.
    pub ppi: u16,
    /// 14.011 CGA.
    pub compression: ImageCompression,
    /// 14.012 BPX bits per pixel (8).
    pub bits_per_pixel: u8,
    /// 14.013 FGP finger positions, 1 to 6 (a slap lists its slap code and/or its fingers).
    pub positions: Vec<FingerPosition>,
    /// 14.020 COM comment.
    pub comment: Option<String>,
    /// 14.021 SEG fingers inside a slap image.
    pub segments: Vec<FingerSegment>,
    /// 14.022 NQM NFIQ values.
    pub nist_quality: Vec<NistQuality>,
    /// 14.024 FQM quality scores.
    pub quality: Vec<FingerQuality>,
    /// 14.999 DATA, the image bytes (WSQ for `WSQ20`).
    pub data: Vec<u8>,
}

impl FingerprintImage {
    /// A live-scan plain fingerprint from a compressed image (WSQ, JPEG, JPEG 2000 or PNG;
    /// size and CGA read from the image header), 8 bits per pixel at `ppi`.
    ///
    /// # Errors
    /// Any [`image_info::probe`] error; [`RecordError::InvalidField`] for images larger than
    /// 65535 pixels.
    pub fn from_image(
        positions: Vec<FingerPosition>,
        data: Vec<u8>,
        ppi: u16,
        source_agency: impl Into<String>,
        capture_date: Date,
    ) -> Result<Self> {
        const R: &str = "ANSI/NIST Type-14";
        let info = image_info::probe(&data)?;
        Ok(Self {
            impression: ImpressionType::LiveScanPlain,
            source_agency: source_agency.into(),
            capture_date,
            width: u16::try_from(info.width)
                .map_err(|_| RecordError::invalid(R, "14.006 HLL", "over 65535"))?,
            height: u16::try_from(info.height)
                .map_err(|_| RecordError::invalid(R, "14.007 VLL", "over 65535"))?,
            ppi,
            compression: ImageCompression::of_format(info.format),
            bits_per_pixel: 8,
            positions,
            comment: None,
            segments: Vec::new(),
            nist_quality: Vec::new(),
            quality: Vec::new(),
            data,
        })
    }

    /// A live-scan plain fingerprint from a WSQ file, with size and resolution read from the
    /// WSQ header and its NISTCOM `PPI` entry (as `rekam_wsq::encode` writes it).
    ///
    /// # Errors
    /// [`RecordError::InvalidField`] when the data is not a readable WSQ file or has no
    /// positive `PPI` in its NISTCOM comment, or is larger than 65535 pixels.
    pub fn from_wsq(
        positions: Vec<FingerPosition>,
        wsq: Vec<u8>,
        source_agency: impl Into<String>,
        capture_date: Date,
    ) -> Result<Self> {
        const R: &str = "ANSI/NIST Type-14";
        let info = rekam_wsq::info(&wsq)
            .map_err(|e| RecordError::invalid(R, "14.999 DATA", format!("not WSQ: {e}")))?;
        let ppi = info.ppi.ok_or_else(|| {
            RecordError::invalid(R, "14.009 THPS", "the WSQ file has no PPI in its NISTCOM")
        })?;
        Ok(Self {
            impression: ImpressionType::LiveScanPlain,
            source_agency: source_agency.into(),
            capture_date,
            width: u16::try_from(info.width)
                .map_err(|_| RecordError::invalid(R, "14.006 HLL", "over 65535"))?,
            height: u16::try_from(info.height)
                .map_err(|_| RecordError::invalid(R, "14.007 VLL", "over 65535"))?,
            ppi,
            compression: ImageCompression::Wsq,
            bits_per_pixel: 8,
            positions,
            comment: None,
            segments: Vec::new(),
            nist_quality: Vec::new(),
            quality: Vec::new(),
            data: wsq,
        })
    }

    fn to_record(&self, idc: u8) -> Result<TaggedRecord> {
        const R: &str = "ANSI/NIST Type-14";
        non_empty(R, "14.004 SRC", &self.source_agency)?;
        if self.positions.is_empty() || self.positions.len() > 6 {
            return Err(RecordError::invalid(
                R,
                "14.013 FGP",
                "needs 1 to 6 positions",
            ));
        }
        if self.ppi == 0 {
            return Err(RecordError::invalid(R, "14.009 THPS", "must not be 0"));
        }
        match self.compression.format() {
            Some(format) => image_info::check(
                &self.data,
                format,
                u32::from(self.width),
                u32::from(self.height),
                R,
                "14.999 DATA",
            )?,
            None => {
                let bits = usize::from(self.width)
                    * usize::from(self.height)
                    * usize::from(self.bits_per_pixel);
                if self.data.len() != bits.div_ceil(8) {
                    return Err(RecordError::LengthMismatch {
                        record: R,
                        what: "14.999 uncompressed bytes (HLL x VLL x BPX / 8)",
                        declared: bits.div_ceil(8) as u64,
                        actual: self.data.len() as u64,
                    });
                }
            }
        }
        let fgp = |p: FingerPosition| p.code().to_string();
        let mut f = vec![
            Field::text(2, format!("{idc:02}")),
            Field::text(3, self.impression.code().to_string()),
            Field::text(4, &self.source_agency),
            Field::text(5, self.capture_date.to_string()),
            Field::text(6, self.width.to_string()),
            Field::text(7, self.height.to_string()),
            Field::text(8, "1"),
            Field::text(9, self.ppi.to_string()),
            Field::text(10, self.ppi.to_string()),
            Field::text(11, self.compression.code()),
            Field::text(12, self.bits_per_pixel.to_string()),
            Field::subfields(13, self.positions.iter().map(|p| vec![fgp(*p)]).collect()),
        ];
        if let Some(c) = &self.comment {
            f.push(Field::text(20, c));
        }
        if !self.segments.is_empty() {
            f.push(Field::subfields(
                21,
                self.segments
                    .iter()
                    .map(|s| {
                        vec![
                            fgp(s.position),
                            s.left.to_string(),
                            s.right.to_string(),
                            s.top.to_string(),
                            s.bottom.to_string(),
                        ]
                    })
                    .collect(),
            ));
        }
        if !self.nist_quality.is_empty() {
            for q in &self.nist_quality {
                if !matches!(q.nfiq, 1..=5 | 254 | 255) {
                    return Err(RecordError::invalid(
                        R,
                        "14.022 NQM",
                        format!("{} is not 1-5, 254 or 255", q.nfiq),
                    ));
                }
            }
            f.push(Field::subfields(
                22,
                self.nist_quality
                    .iter()
                    .map(|q| vec![fgp(q.position), q.nfiq.to_string()])
                    .collect(),
            ));
        }
        if !self.quality.is_empty() {
            for q in &self.quality {
                if !matches!(q.score, 0..=100 | 254 | 255) || q.product_code == 0 {
                    return Err(RecordError::invalid(
                        R,
                        "14.024 FQM",
                        format!(
                            "score {} (0-100, 254, 255) / product code {} (1-65535)",
                            q.score, q.product_code
                        ),
                    ));
                }
            }
            f.push(Field::subfields(
                24,
                self.quality
                    .iter()
                    .map(|q| {
                        vec![
                            fgp(q.position),
                            q.score.to_string(),
                            format!("{:04X}", q.vendor_id),
                            q.product_code.to_string(),
                        ]
                    })
                    .collect(),
            ));
        }
        f.push(Field::binary(999, self.data.clone()));
        Ok(TaggedRecord {
            record_type: 14,
            fields: f,
        })
    }

    fn from_record(rec: &TaggedRecord) -> Result<Self> {
        const R: &str = "ANSI/NIST Type-14";
        let r = Fields::new(rec);
        let position = |s: &str, field: &str| -> Result<FingerPosition> {
            s.parse::<u8>()
                .ok()
                .and_then(FingerPosition::from_code)
                .ok_or_else(|| RecordError::invalid(R, field, format!("finger position {s:?}")))
        };
        let num = |s: &str, field: &str| -> Result<u16> {
            s.parse()
                .map_err(|_| RecordError::invalid(R, field, format!("{s:?} is not a number")))
        };
        let slc: u8 = r.num(8, "SLC")?;
        let thps: u16 = r.num(9, "THPS")?;
        let _tvps: u16 = r.num(10, "TVPS")?;
        let ppi = match slc {
            1 => thps,
            2 => u16::try_from((u32::from(thps) * 254 + 50) / 100)
                .map_err(|_| RecordError::invalid(R, "14.009 THPS", "over 65535 ppi"))?,
            _ => {
                return Err(RecordError::invalid(
                    R,
                    "14.008 SLC",
                    format!("{slc}: a fingerprint needs ppi (1) or ppcm (2)"),
                ));
            }
        };
        let mut positions = Vec::new();
        for sub in r.subfields(13) {
            positions.push(position(
                sub.first().map_or("", String::as_str),
                "14.013 FGP",
            )?);
        }
        if positions.is_empty() {
            return Err(RecordError::missing(R, "14.013 FGP"));
        }
        let mut segments = Vec::new();
        for sub in r.subfields(21) {
            let [p, l, rt, t, b] = sub.as_slice() else {
                return Err(RecordError::invalid(R, "14.021 SEG", "expected 5 items"));
            };
            segments.push(FingerSegment {
                position: position(p, "14.021 SEG")?,
                left: num(l, "14.021 SEG")?,
                right: num(rt, "14.021 SEG")?,
                top: num(t, "14.021 SEG")?,
                bottom: num(b, "14.021 SEG")?,
            });
        }
        let mut nist_quality = Vec::new();
        for sub in r.subfields(22) {
            let [p, q] = sub.as_slice() else {
                return Err(RecordError::invalid(R, "14.022 NQM", "expected 2 items"));
            };
            let nfiq = u8::try_from(num(q, "14.022 NQM")?)
                .ok()
                .filter(|v| matches!(v, 1..=5 | 254 | 255))
                .ok_or_else(|| RecordError::invalid(R, "14.022 NQM", format!("value {q:?}")))?;
            nist_quality.push(NistQuality {
                position: position(p, "14.022 NQM")?,
                nfiq,
            });
        }
        let mut quality = Vec::new();
        for sub in r.subfields(24) {
            let [p, s, v, c] = sub.as_slice() else {
                return Err(RecordError::invalid(R, "14.024 FQM", "expected 4 items"));
            };
            let score = u8::try_from(num(s, "14.024 FQM")?)
                .ok()
                .filter(|v| matches!(v, 0..=100 | 254 | 255))
                .ok_or_else(|| RecordError::invalid(R, "14.024 FQM", format!("score {s:?}")))?;
            let vendor_id = u16::from_str_radix(v, 16)
                .ok()
                .filter(|_| v.len() == 4)
                .ok_or_else(|| RecordError::invalid(R, "14.024 FQM", format!("vendor {v:?}")))?;
            let product_code = num(c, "14.024 FQM")?;
            quality.push(FingerQuality {
                position: position(p, "14.024 FQM")?,
                score,
                vendor_id,
                product_code,
            });
        }
        let imp: u8 = r.num(3, "IMP")?;
        Ok(Self {
            impression: ImpressionType::from_code(imp),
            source_agency: r.str(4, "SRC")?.to_string(),
            capture_date: r.date(5, "FCD")?,
            width: r.num(6, "HLL")?,
            height: r.num(7, "VLL")?,
            ppi,
            compression: r.cga(11)?,
            bits_per_pixel: r.num(12, "BPX")?,
            positions,
            comment: r.opt_str(20, "COM")?.map(str::to_string),
            segments,
            nist_quality,
            quality,
            data: r.binary()?,
        })
    }
}

/// 8.003 SIG: whose signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureKind {
    /// 0: the subject's (the applicant's) signature.
    Subject,
    /// 1: the official's (the officer's) signature.
    Official,
}

/// One pen vector of a Type-8 vector signature: coordinates in units of 0.0254 mm from the
/// bottom-left corner (y grows upwards), pressure 0 = pen up, 1–254 light to heavy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignatureVector {
    /// X, left to right.
    pub x: u16,
    /// Y, bottom to top.
    pub y: u16,
    /// Pen pressure, 0–254.
    pub pressure: u8,
}

/// The signature data of a Type-8 record, by 8.004 SRT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureData {
    /// SRT 0: scanned, uncompressed 8-bit greyscale, `width * height` bytes.
    Raw {
        /// 8.006 HLL.
        width: u16,
        /// 8.007 VLL.
        height: u16,
        /// Pixels, row by row.
        pixels: Vec<u8>,
    },
    /// SRT 1: scanned and compressed; the algorithm is agreed with the receiver.
    Compressed {
        /// 8.006 HLL.
        width: u16,
        /// 8.007 VLL.
        height: u16,
        /// The compressed bytes.
        data: Vec<u8>,
    },
    /// SRT 2: pen vectors, 5 bytes each (x 2, y 2, pressure 1); HLL and VLL are 0.
    Vectors(Vec<SignatureVector>),
}

/// A Type-8 signature image record (binary, section 8.8): LEN 4, IDC 1, SIG 1, SRT 1, ISR 1,
/// HLL 2, VLL 2, then the data. The Type-8 record is used (rather than Type-20) because it
/// carries the pen trajectory itself (SRT 2) without an image codec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureImage {
    /// 8.003 SIG.
    pub kind: SignatureKind,
    /// 8.005 ISR: `false` = 19.69 ppmm (500 ppi), `true` = the native resolution of 1.011 NSR.
    pub native_resolution: bool,
    /// 8.004 SRT and the data (8.006 HLL, 8.007 VLL, 8.008 DATA).
    pub data: SignatureData,
}

impl SignatureImage {
    /// The subject's signature as pen vectors, converted from pad samples.
    ///
    /// `pad_units_per_mm` is the pad's resolution, `pad_height` its height in pad units (pad
    /// y grows downwards; Type-8 y grows upwards), `max_pressure` its highest pressure, mapped
    /// to 254.
    ///
    /// # Errors
    /// [`RecordError::InvalidField`] when `pad_units_per_mm` is not positive or a converted
    /// coordinate exceeds 65535.
    pub fn from_pen_samples(
        samples: &[PenSample],
        pad_units_per_mm: f64,
        pad_height: u16,
        max_pressure: u16,
    ) -> Result<Self> {
        const R: &str = "ANSI/NIST Type-8";
        if !(pad_units_per_mm.is_finite() && pad_units_per_mm > 0.0) {
            return Err(RecordError::invalid(
                R,
                "pad resolution",
                "must be positive",
            ));
        }
        let to_units = |v: f64| -> Result<u16> {
            let u = (v / pad_units_per_mm / 0.0254).round();
            if (0.0..=65535.0).contains(&u) {
                Ok(u as u16)
            } else {
                Err(RecordError::invalid(
                    R,
                    "8.008 vector",
                    format!("{u} exceeds 65535"),
                ))
            }
        };
        let mut vectors = Vec::with_capacity(samples.len());
        for s in samples {
            let pressure = if s.pressure == 0 || max_pressure == 0 {
                0
            } else {
                let p = (u32::from(s.pressure.min(max_pressure)) * 253)
                    .div_ceil(u32::from(max_pressure));
                (p + 1).min(254) as u8
            };
            vectors.push(SignatureVector {
                x: to_units(f64::from(s.x))?,
                y: to_units(f64::from(pad_height.saturating_sub(s.y)))?,
                pressure,
            });
        }
        Ok(Self {
            kind: SignatureKind::Subject,
            native_resolution: false,
            data: SignatureData::Vectors(vectors),
        })
    }

    fn to_record(&self, idc: u8) -> Result<BinaryRecord> {
        const R: &str = "ANSI/NIST Type-8";
        let mut body = vec![
            match self.kind {
                SignatureKind::Subject => 0,
                SignatureKind::Official => 1,
            },
            0,
            u8::from(self.native_resolution),
        ];
        match &self.data {
            SignatureData::Raw {
                width,
                height,
                pixels,
            } => {
                let expected = usize::from(*width) * usize::from(*height);
                if pixels.len() != expected {
                    return Err(RecordError::LengthMismatch {
                        record: R,
                        what: "8.008 raw pixels (HLL x VLL)",
                        declared: expected as u64,
                        actual: pixels.len() as u64,
                    });
                }
                body[1] = 0;
                body.extend_from_slice(&width.to_be_bytes());
                body.extend_from_slice(&height.to_be_bytes());
                body.extend_from_slice(pixels);
            }
            SignatureData::Compressed {
                width,
                height,
                data,
            } => {
                body[1] = 1;
                body.extend_from_slice(&width.to_be_bytes());
                body.extend_from_slice(&height.to_be_bytes());
                body.extend_from_slice(data);
            }
            SignatureData::Vectors(vectors) => {
                body[1] = 2;
                body.extend_from_slice(&[0, 0, 0, 0]);
                for v in vectors {
                    if v.pressure == 255 {
                        return Err(RecordError::invalid(R, "8.008 vector", "pressure 255"));
                    }
                    body.extend_from_slice(&v.x.to_be_bytes());
                    body.extend_from_slice(&v.y.to_be_bytes());
                    body.push(v.pressure);
                }
            }
        }
        Ok(BinaryRecord {
            record_type: 8,
            idc,
            body,
        })
    }

    fn from_record(rec: &BinaryRecord) -> Result<Self> {
        const R: &str = "ANSI/NIST Type-8";
        let b = &rec.body;
        if b.len() < 7 {
            return Err(RecordError::Truncated {
                record: R,
                offset: 5,
                needed: 7,
                available: b.len(),
            });
        }
        let kind = match b[0] {
            0 => SignatureKind::Subject,
            1 => SignatureKind::Official,
            v => return Err(RecordError::invalid(R, "8.003 SIG", format!("{v}"))),
        };
        let native_resolution = match b[2] {
            0 => false,
            1 => true,
            v => return Err(RecordError::invalid(R, "8.005 ISR", format!("{v}"))),
        };
        let width = u16::from_be_bytes([b[3], b[4]]);
        let height = u16::from_be_bytes([b[5], b[6]]);
        let rest = &b[7..];
        let data = match b[1] {
            0 => {
                let expected = usize::from(width) * usize::from(height);
                if rest.len() != expected {
                    return Err(RecordError::LengthMismatch {
                        record: R,
                        what: "8.008 raw pixels (HLL x VLL)",
                        declared: expected as u64,
                        actual: rest.len() as u64,
                    });
                }
                SignatureData::Raw {
                    width,
                    height,
                    pixels: rest.to_vec(),
                }
            }
            1 => SignatureData::Compressed {
                width,
                height,
                data: rest.to_vec(),
            },
            2 => {
                if rest.len() % 5 != 0 {
                    return Err(RecordError::LengthMismatch {
                        record: R,
                        what: "8.008 vector bytes (multiple of 5)",
                        declared: (rest.len() / 5 * 5) as u64,
                        actual: rest.len() as u64,
                    });
                }
                SignatureData::Vectors(
                    rest.chunks_exact(5)
                        .map(|c| SignatureVector {
                            x: u16::from_be_bytes([c[0], c[1]]),
                            y: u16::from_be_bytes([c[2], c[3]]),
                            pressure: c[4],
                        })
                        .collect(),
                )
            }
            v => return Err(RecordError::invalid(R, "8.004 SRT", format!("{v}"))),
        };
        Ok(Self {
            kind,
            native_resolution,
            data,
        })
    }
}

/// Assembles the enrollment package: Type-1, the Type-2 demographics, then Type-8, Type-10
/// and Type-14 records in that order, with IDCs assigned (Type-2: 0; images: 1, 2, …).
#[derive(Debug, Clone)]
pub struct TransactionBuilder {
    header: TransactionHeader,
    demographics: Option<Demographics>,
    signatures: Vec<SignatureImage>,
    faces: Vec<FaceImage>,
    fingerprints: Vec<FingerprintImage>,
}

impl TransactionBuilder {
    /// A builder with the Type-1 header.
    pub fn new(header: TransactionHeader) -> Self {
        Self {
            header,
            demographics: None,
            signatures: Vec::new(),
            faces: Vec::new(),
            fingerprints: Vec::new(),
        }
    }

    /// Sets the Type-2 demographics.
    pub fn demographics(mut self, demographics: Demographics) -> Self {
        self.demographics = Some(demographics);
        self
    }

    /// Adds a Type-8 signature.
    pub fn signature(mut self, signature: SignatureImage) -> Self {
        self.signatures.push(signature);
        self
    }

    /// Adds a Type-10 face.
    pub fn face(mut self, face: FaceImage) -> Self {
        self.faces.push(face);
        self
    }

    /// Adds a Type-14 fingerprint.
    pub fn fingerprint(mut self, fingerprint: FingerprintImage) -> Self {
        self.fingerprints.push(fingerprint);
        self
    }

    /// Builds the transaction, validating every record.
    ///
    /// # Errors
    /// [`RecordError::MissingField`] without demographics; [`RecordError::InvalidField`] /
    /// [`RecordError::LengthMismatch`] for a value a record does not allow, or more than 99
    /// image records.
    pub fn build(self) -> Result<Transaction> {
        let demographics = self
            .demographics
            .ok_or_else(|| RecordError::missing("ANSI/NIST Type-2", "demographics record"))?;
        let images = self.signatures.len() + self.faces.len() + self.fingerprints.len();
        if images > 99 {
            return Err(RecordError::invalid(
                "ANSI/NIST transaction",
                "IDC",
                format!("{images} image records; IDC allows 99"),
            ));
        }
        let utf8 = demographics.has_non_ascii()
            || self.faces.iter().any(|f| !f.source_agency.is_ascii())
            || self.fingerprints.iter().any(|f| {
                !f.source_agency.is_ascii() || f.comment.as_deref().is_some_and(|c| !c.is_ascii())
            });
        let mut records = vec![
            Record::Tagged(self.header.to_record(utf8)?),
            Record::Tagged(demographics.to_record(0)?),
        ];
        let mut idc = 0u8;
        let mut next = || {
            idc += 1;
            idc
        };
        for s in &self.signatures {
            records.push(Record::Binary(s.to_record(next())?));
        }
        for f in &self.faces {
            records.push(Record::Tagged(f.to_record(next())?));
        }
        for f in &self.fingerprints {
            records.push(Record::Tagged(f.to_record(next())?));
        }
        Ok(Transaction { records })
    }
}

impl Transaction {
    /// The Type-1 record as a [`TransactionHeader`].
    ///
    /// # Errors
    /// [`RecordError::MissingField`] / [`RecordError::InvalidField`] when a mandatory field is
    /// missing or malformed.
    pub fn header(&self) -> Result<TransactionHeader> {
        match self.records.first() {
            Some(Record::Tagged(t)) if t.record_type == 1 => TransactionHeader::from_record(t),
            _ => Err(RecordError::missing(record_name(1), "Type-1 record")),
        }
    }

    /// The first Type-2 record as [`Demographics`], if there is one.
    ///
    /// # Errors
    /// As [`Transaction::header`], for the Type-2 fields.
    pub fn demographics(&self) -> Result<Option<Demographics>> {
        for r in self.records_of_type(2) {
            if let Record::Tagged(t) = r {
                return Demographics::from_record(t).map(Some);
            }
        }
        Ok(None)
    }

    /// The Type-10 face records with their IDCs.
    ///
    /// # Errors
    /// As [`Transaction::header`], for the Type-10 fields.
    pub fn faces(&self) -> Result<Vec<(u8, FaceImage)>> {
        self.tagged_of(10, FaceImage::from_record)
    }

    /// The Type-14 fingerprint records with their IDCs.
    ///
    /// # Errors
    /// As [`Transaction::header`], for the Type-14 fields.
    pub fn fingerprints(&self) -> Result<Vec<(u8, FingerprintImage)>> {
        self.tagged_of(14, FingerprintImage::from_record)
    }

    /// The Type-8 signature records with their IDCs.
    ///
    /// # Errors
    /// [`RecordError::InvalidField`] / [`RecordError::LengthMismatch`] for a malformed header
    /// or data.
    pub fn signatures(&self) -> Result<Vec<(u8, SignatureImage)>> {
        let mut out = Vec::new();
        for r in self.records_of_type(8) {
            if let Record::Binary(b) = r {
                out.push((b.idc, SignatureImage::from_record(b)?));
            }
        }
        Ok(out)
    }

    fn tagged_of<T>(
        &self,
        record_type: u8,
        convert: fn(&TaggedRecord) -> Result<T>,
    ) -> Result<Vec<(u8, T)>> {
        let mut out = Vec::new();
        for r in self.records_of_type(record_type) {
            if let Record::Tagged(t) = r {
                let idc = t.idc().ok_or_else(|| {
                    RecordError::missing(record_name(record_type), format!("{record_type}.002 IDC"))
                })?;
                out.push((idc, convert(t)?));
            }
        }
        Ok(out)
    }
}

/// Typed access to the fields of a tagged record, with errors naming the field.
struct Fields<'a> {
    rec: &'a TaggedRecord,
    name: &'static str,
}

impl<'a> Fields<'a> {
    fn new(rec: &'a TaggedRecord) -> Self {
        Self {
            rec,
            name: record_name(rec.record_type),
        }
    }

    fn label(&self, n: u16, mnemonic: &str) -> String {
        format!("{}.{n:03} {mnemonic}", self.rec.record_type)
    }

    fn opt_str(&self, n: u16, mnemonic: &str) -> Result<Option<&'a str>> {
        match self.rec.field(n) {
            None => Ok(None),
            Some(f) => f.as_str().map(Some).ok_or_else(|| {
                RecordError::invalid(self.name, self.label(n, mnemonic), "expected a single item")
            }),
        }
    }

    fn str(&self, n: u16, mnemonic: &str) -> Result<&'a str> {
        self.opt_str(n, mnemonic)?
            .ok_or_else(|| RecordError::missing(self.name, self.label(n, mnemonic)))
    }

    fn num<T: FromStr>(&self, n: u16, mnemonic: &str) -> Result<T> {
        let s = self.str(n, mnemonic)?;
        s.parse().map_err(|_| {
            RecordError::invalid(
                self.name,
                self.label(n, mnemonic),
                format!("{s:?} is not a number in range"),
            )
        })
    }

    fn opt_num<T: FromStr>(&self, n: u16, mnemonic: &str) -> Result<Option<T>> {
        match self.rec.field(n) {
            None => Ok(None),
            Some(_) => self.num(n, mnemonic).map(Some),
        }
    }

    fn date(&self, n: u16, mnemonic: &str) -> Result<Date> {
        let s = self.str(n, mnemonic)?;
        Date::parse(s).ok_or_else(|| {
            RecordError::invalid(
                self.name,
                self.label(n, mnemonic),
                format!("{s:?} is not YYYYMMDD"),
            )
        })
    }

    fn ppmm(&self, n: u16, mnemonic: &str) -> Result<Ppmm> {
        let s = self.str(n, mnemonic)?;
        Ppmm::parse(s).ok_or_else(|| {
            RecordError::invalid(
                self.name,
                self.label(n, mnemonic),
                format!("{s:?} is not dd.dd"),
            )
        })
    }

    fn cga(&self, n: u16) -> Result<ImageCompression> {
        let s = self.str(n, "CGA")?;
        ImageCompression::from_code(s).ok_or_else(|| {
            RecordError::invalid(
                self.name,
                self.label(n, "CGA"),
                format!("unknown code {s:?}"),
            )
        })
    }

    fn subfields(&self, n: u16) -> &'a [Vec<String>] {
        self.rec.field(n).map_or(&[], Field::text_subfields)
    }

    fn binary(&self) -> Result<Vec<u8>> {
        self.rec
            .field(999)
            .and_then(Field::as_binary)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| RecordError::missing(self.name, self.label(999, "DATA")))
    }
}
