//! The card the print step prints and the preview shows: the applicant's data laid out by
//! the card templates of `rekam-card` (the KTP-el front and back by default).
//!
//! The fields the templates print, by name: `province_header` ("PROVINSI " and the
//! province), `regency_header` (the regency or city as the applicant's data gives it),
//! `nik`, `name`, `birth` ("PLACE, DD-MM-YYYY"), `sex`, `blood_type`, `address`, `rt_rw`,
//! `village`, `district`, `religion`, `marital_status`, `occupation`, `citizenship`,
//! `valid_until` ("SEUMUR HIDUP": a KTP-el issued since 2016 is valid for life),
//! `issue_place` (the regency, "KABUPATEN" shortened to "KAB.") and `issue_date`
//! ("DD-MM-YYYY": the day the enrollment was recorded, in the station's time zone, so that
//! a card printed again, or checked later against the integrity chain, is the same card).

use std::path::Path;

use image::GrayImage;
use rekam_card::{CardData, CardError, DEFAULT_FONT_DIR, DPI, Fonts, Side, Template};

use crate::error::{EnrollmentError, FieldViolation};
use crate::model::Enrollment;

/// The card templates and their fonts, loaded once.
#[derive(Debug)]
pub struct CardLayout {
    fonts: Fonts,
    front: Template,
    back: Template,
    utc_offset_minutes: i32,
}

fn config_error(e: CardError) -> EnrollmentError {
    EnrollmentError::Format(e.to_string())
}

fn read_template(path: &Path) -> Result<Template, EnrollmentError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| EnrollmentError::Format(format!("card template {}: {e}", path.display())))?;
    Template::from_toml(&text).map_err(config_error)
}

impl CardLayout {
    /// The templates at `front` and `back` (the KTP-el defaults where `None`) with the
    /// fonts of `fonts_dir`; dates in the station's time zone (`utc_offset_minutes`).
    pub fn load(
        fonts_dir: &Path,
        front: Option<&Path>,
        back: Option<&Path>,
        utc_offset_minutes: i32,
    ) -> Result<CardLayout, EnrollmentError> {
        let (ktp_front, ktp_back) = rekam_card::ktp_templates().map_err(config_error)?;
        let front = match front {
            Some(p) => read_template(p)?,
            None => ktp_front,
        };
        let back = match back {
            Some(p) => read_template(p)?,
            None => ktp_back,
        };
        let fonts = Fonts::load(fonts_dir).map_err(config_error)?;
        // Every font a template names is there now, not at the first card.
        for t in [&front, &back] {
            fonts.get(&t.font).map_err(config_error)?;
            fonts.get(&t.font_bold).map_err(config_error)?;
        }
        Ok(CardLayout {
            fonts,
            front,
            back,
            utc_offset_minutes,
        })
    }

    /// The KTP-el templates with the fonts of Debian's fonts-liberation2, dates in UTC+7
    /// (WIB).
    pub fn ktp() -> Result<CardLayout, EnrollmentError> {
        CardLayout::load(Path::new(DEFAULT_FONT_DIR), None, None, 7 * 60)
    }

    /// The applicant's data as the templates print it.
    pub fn data(&self, e: &Enrollment) -> Result<CardData, EnrollmentError> {
        let a = &e.applicant;
        let issued = crate::formats::local_date(e.created_at, self.utc_offset_minutes);
        let regency = a.regency.to_uppercase();
        let issue_place = match regency.strip_prefix("KABUPATEN ") {
            Some(rest) => format!("KAB. {rest}"),
            None => regency.clone(),
        };
        let fields = [
            (
                "province_header",
                format!("PROVINSI {}", a.province.to_uppercase()),
            ),
            ("regency_header", regency),
            ("nik", a.nik.clone()),
            ("name", a.name.to_uppercase()),
            ("birth", a.birth_text().to_uppercase()),
            ("sex", a.sex_text().into()),
            ("blood_type", a.blood_type.card_text().into()),
            ("address", a.address.to_uppercase()),
            ("rt_rw", a.rt_rw()),
            ("village", a.village.to_uppercase()),
            ("district", a.district.to_uppercase()),
            ("religion", a.religion.card_text().into()),
            ("marital_status", a.marital_status.card_text().into()),
            ("occupation", a.occupation.to_uppercase()),
            ("citizenship", a.citizenship.card_text().into()),
            ("valid_until", "SEUMUR HIDUP".into()),
            ("issue_place", issue_place),
            (
                "issue_date",
                format!("{:02}-{:02}-{:04}", issued.day, issued.month, issued.year),
            ),
        ];
        let photo = match &e.recording.face {
            Some(face) => Some(
                image::load_from_memory(&face.portrait_jpeg)
                    .map_err(|err| EnrollmentError::Format(format!("portrait JPEG: {err}")))?
                    .to_rgb8(),
            ),
            None => None,
        };
        let signature: Option<GrayImage> = match &e.recording.signature {
            Some(sig) => Some(
                image::load_from_memory(&sig.png)
                    .map_err(|err| EnrollmentError::Format(format!("signature PNG: {err}")))?
                    .to_luma8(),
            ),
            None => None,
        };
        Ok(CardData {
            fields: fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            photo,
            signature,
        })
    }

    /// Both sides with all their panels.
    pub fn render(&self, e: &Enrollment) -> Result<(Side, Side), EnrollmentError> {
        let data = self.data(e)?;
        let side =
            |t: &Template| rekam_card::render(t, &data, &self.fonts, DPI).map_err(data_error);
        Ok((side(&self.front)?, side(&self.back)?))
    }

    /// Both sides as the card will look (PNG previews).
    pub fn images(&self, e: &Enrollment) -> Result<(Vec<u8>, Vec<u8>), EnrollmentError> {
        let (front, back) = self.render(e)?;
        let png = |s: &Side| s.preview_png().map_err(config_error);
        Ok((png(&front)?, png(&back)?))
    }

    /// What the print job sends: both sides as they will look (PNG), and their black resin
    /// panels (greyscale PNG, 255 = resin) for a printer that lays resin where the layout
    /// draws text and lines rather than where the image is dark.
    pub fn print_images(
        &self,
        e: &Enrollment,
    ) -> Result<(Vec<u8>, Vec<u8>, rekam_core::BlackPanels), EnrollmentError> {
        let (front, back) = self.render(e)?;
        let png = |s: &Side| s.preview_png().map_err(config_error);
        let k = |s: &Side| s.k_png().map_err(config_error);
        Ok((
            png(&front)?,
            png(&back)?,
            rekam_core::BlackPanels {
                front: k(&front)?,
                back: Some(k(&back)?),
            },
        ))
    }
}

/// The applicant field (in the API's terms) a card field comes from.
fn api_field(card_field: &str) -> &str {
    match card_field {
        "province_header" => "applicant.province",
        "regency_header" | "issue_place" => "applicant.regency",
        "nik" => "applicant.nik",
        "name" => "applicant.name",
        "birth" => "applicant.birth_place",
        "address" => "applicant.address",
        "village" => "applicant.village",
        "district" => "applicant.district",
        "occupation" => "applicant.occupation",
        other => other,
    }
}

/// A card that cannot be made from the applicant's data: the field is named as the API
/// names it, so the officer corrects it (INVALID_ARGUMENT); template and font trouble is
/// the station's.
fn data_error(e: CardError) -> EnrollmentError {
    match &e {
        CardError::DoesNotFit { field, .. } => {
            EnrollmentError::InvalidRequest(vec![FieldViolation::new(
                api_field(field),
                "is too long to print on the card, even at the smallest size and wrapped",
            )])
        }
        CardError::Unshowable { field, character } => {
            EnrollmentError::InvalidRequest(vec![FieldViolation::new(
                api_field(field),
                format!("has {character:?}, which the card's font cannot print"),
            )])
        }
        _ => config_error(e),
    }
}
