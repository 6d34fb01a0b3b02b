//! The recording receipt (bukti perekaman) of rekam, the KTP-el enrollment station daemon:
//! the page the officer hands the applicant when the recording could not be sent to the
//! data centre yet, to come back and collect the card. It shows the office, the receipt
//! number, the applicant's NIK and name, the day of recording, the first day the card can be
//! collected, the station, and a QR code whose content (a token signed by the station, made
//! elsewhere) finds the enrollment again on the return visit.
//!
//! Two renderings of one layout ([`pdf`] and [`png`]), computed once from the
//! [`ReceiptPage`] so both wrap the same lines at the same places:
//! - [`pdf`]: the page to print, **A6 portrait** (105 x 148 mm). Text in the PDF base-14
//!   fonts Helvetica and Helvetica-Bold with WinAnsiEncoding, so no font is embedded and
//!   every viewer and printer has it; the QR code as vector squares (one filled square per
//!   dark module), error correction M, a quiet zone of 4 modules, in a 48 mm box, so a
//!   module is 0.4 mm or more (about 0.9 mm for a ~120-character token).
//! - [`png`]: a preview of the same page for the front-end, 8-bit grey at 150 dpi
//!   (620 x 874 pixels), whose text comes from the ISO 8859-1 mono fonts built into
//!   `embedded-graphics`, so the daemon needs no font file installed.
//!
//! Both are deterministic: the same page gives the same bytes (the PDF carries no dates).
//!
//! Text both renderings accept: printable ASCII (U+0020 to U+007E) and the Latin-1 letters
//! (U+00C0 to U+00FF less × and ÷), which Helvetica/WinAnsi and the ISO 8859-1 mono fonts
//! both show. Any other character (e.g. "李", a tab, a zero-width space) is refused with
//! [`ReceiptError::Text`] naming the field, as is a value too long for its lines (the name
//! wraps onto at most 3 lines, the office and the number onto 2, the rest take 1). Dates
//! are given as `YYYY-MM-DD` and printed day first, `DD-MM-YYYY`, as Indonesian forms do.
//!
//! Why these crates: `qrcode` makes the QR matrix (maintained, pure Rust; used without its
//! image features, the squares are drawn here); `pdf-writer`, from the Typst project,
//! writes the PDF objects and the content stream without pulling in a layout engine;
//! `embedded-graphics` brings the bitmap fonts and draws text onto the `image` crate's grey
//! buffer, which `image` encodes as PNG. The one thing written by hand is the table of
//! Helvetica's glyph widths (from Adobe's AFM files), which no maintained crate publishes
//! on its own and which wrapping and centring need.

mod helvetica;
mod layout;
mod pdf_page;
mod png_page;

/// What a receipt shows. Text is Indonesian on the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptPage {
    /// The office, e.g. "Dinas Kependudukan dan Pencatatan Sipil Kota Sorong" (centred
    /// under the title, up to 2 lines).
    pub office: String,
    /// The station's id (one line, under the QR code).
    pub station: String,
    /// The receipt number, e.g. "BP-STATION01-20261129-7KQ2M9ZD" (up to 2 lines).
    pub number: String,
    /// The applicant's NIK, 16 digits (one line; printed as given).
    pub nik: String,
    /// The applicant's name (wraps at spaces onto up to 3 lines).
    pub name: String,
    /// The day of recording, `YYYY-MM-DD` (printed `DD-MM-YYYY`).
    pub recorded_on: String,
    /// The first day the card can be collected, `YYYY-MM-DD` (printed `DD-MM-YYYY`).
    pub collect_from: String,
    /// The QR code's content (a signed token, ASCII, ~120 characters), encoded as given.
    pub qr: String,
}

/// Why a receipt cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// A field holds a character the page's fonts cannot show, is empty, is not a date
    /// (`recorded_on`, `collect_from`), or does not fit its lines after wrapping.
    #[error("the receipt's {field} cannot be printed: {reason}")]
    Text {
        /// The [`ReceiptPage`] field, e.g. `"name"`.
        field: &'static str,
        /// Why, in English.
        reason: String,
    },
    /// The QR code cannot be made: empty content, or too much of it for the page.
    #[error("the receipt's QR code: {0}")]
    Qr(String),
    /// The PNG could not be encoded.
    #[error("encoding the receipt: {0}")]
    Encode(String),
}

/// The receipt as a one-page PDF, A6 portrait (105 x 148 mm).
///
/// # Errors
/// [`ReceiptError::Text`] for a field the page cannot show, [`ReceiptError::Qr`] for a QR
/// content that is empty or too long for the page.
pub fn pdf(page: &ReceiptPage) -> Result<Vec<u8>, ReceiptError> {
    let layout = layout::Layout::new(page)?;
    Ok(pdf_page::render(&layout, &page.number))
}

/// The receipt as a PNG preview of the same layout: 8-bit grey, 150 dpi, 620 x 874 pixels.
///
/// # Errors
/// As [`pdf`], and [`ReceiptError::Encode`] if the PNG encoder fails.
pub fn png(page: &ReceiptPage) -> Result<Vec<u8>, ReceiptError> {
    let layout = layout::Layout::new(page)?;
    png_page::render(&layout)
}
