//! The KTP-el card as it is printed. A layout is data — a TOML [`Template`] of fields,
//! fonts, sizes and positions in millimetres, image boxes and colours — and this crate
//! draws it with an applicant's [`CardData`] at the printer's resolution (300 dpi: ID-1's
//! 85.60 x 53.98 mm are 1012 x 638 pixels) into the panels a dye-sublimation ribbon needs:
//! the colour image for the yellow, magenta and cyan panels, the black resin panel (text,
//! lines, the NIK and the signature, so that they print sharp) and the overlay, plus a
//! PNG preview for the front-end ([`Side`]).
//!
//! The KTP-el front and back ship as the default templates ([`KTP_FRONT`], [`KTP_BACK`]).
//! Fonts come from a directory (a Debian font package: `fonts-liberation2`, whose Liberation
//! Sans has Arial's metrics, [`DEFAULT_FONT_DIR`]); no font file is in the repository.
//! Glyphs are outlined and rasterized with `ab_glyph`, with the font's kerning; the card's
//! text is Latin script, which needs no complex shaping. Long names and addresses shrink and
//! wrap by a fixed rule (see the `size`, `min_size` and `max_lines` of a text element):
//! text never overflows its box, and what cannot fit even at the smallest size is refused
//! ([`CardError::DoesNotFit`]), as is a character the font cannot show
//! ([`CardError::Unshowable`]), each naming the field.

mod render;
pub mod template;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ab_glyph::FontVec;
use image::{GrayImage, RgbImage};

pub use render::{Side, render};
pub use template::Template;

/// The printer resolution rekam renders at.
pub const DPI: u32 = 300;

/// Where Debian's `fonts-liberation2` puts its fonts.
pub const DEFAULT_FONT_DIR: &str = "/usr/share/fonts/truetype/liberation2";

/// The KTP-el front, the default template.
pub const KTP_FRONT: &str = include_str!("../templates/ktp-front.toml");
/// The KTP-el back, the default template.
pub const KTP_BACK: &str = include_str!("../templates/ktp-back.toml");

/// What can go wrong rendering a card.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CardError {
    /// A template is malformed.
    #[error("card template: {0}")]
    Template(String),
    /// A font could not be read.
    #[error(
        "font {path}: {reason} (install the Debian package fonts-liberation2, or set the card fonts directory)"
    )]
    Font {
        /// The font file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The template prints a field the data lacks.
    #[error("the card needs the field {0:?}, which the applicant's data lacks")]
    MissingField(String),
    /// The font has no glyph for a character of a field.
    #[error("the card's font cannot show {character:?} in {field}")]
    Unshowable {
        /// The field.
        field: String,
        /// The character.
        character: char,
    },
    /// A field is too long for its box even at the smallest size the template allows.
    #[error("{field} is too long for the card: {text:?}")]
    DoesNotFit {
        /// The field.
        field: String,
        /// Its text.
        text: String,
    },
    /// An image could not be made.
    #[error("card image: {0}")]
    Image(String),
}

/// The fonts of a directory, by file name, loaded once.
#[derive(Debug)]
pub struct Fonts {
    dir: PathBuf,
    fonts: BTreeMap<String, FontVec>,
}

impl Fonts {
    /// Loads every `.ttf` and `.otf` file of `dir`.
    pub fn load(dir: impl AsRef<Path>) -> Result<Fonts, CardError> {
        let dir = dir.as_ref().to_path_buf();
        let entries = std::fs::read_dir(&dir).map_err(|e| CardError::Font {
            path: dir.clone(),
            reason: e.to_string(),
        })?;
        let mut fonts = BTreeMap::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let is_font = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("ttf") || e.eq_ignore_ascii_case("otf"));
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !is_font {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| CardError::Font {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let font = FontVec::try_from_vec(bytes).map_err(|e| CardError::Font {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            fonts.insert(name.to_string(), font);
        }
        Ok(Fonts { dir, fonts })
    }

    /// The font with that file name.
    pub fn get(&self, name: &str) -> Result<&FontVec, CardError> {
        self.fonts.get(name).ok_or_else(|| CardError::Font {
            path: self.dir.join(name),
            reason: "not in the fonts directory".into(),
        })
    }
}

/// What a card shows of one applicant: text fields by name (the templates' `field`s) and
/// the images.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CardData {
    /// Text fields, e.g. "nik", "name", "birth" (see the templates for the names).
    pub fields: BTreeMap<String, String>,
    /// The portrait.
    pub photo: Option<RgbImage>,
    /// The signature, dark ink on white.
    pub signature: Option<GrayImage>,
}

/// The default KTP-el templates, front and back.
pub fn ktp_templates() -> Result<(Template, Template), CardError> {
    Ok((
        Template::from_toml(KTP_FRONT)?,
        Template::from_toml(KTP_BACK)?,
    ))
}
