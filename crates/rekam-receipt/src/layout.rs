//! The page's layout, shared by the PDF and the PNG: which text goes on which line, in
//! which style, where (in millimetres from the top-left corner), and where the QR code
//! goes. A line is wrapped to the width it takes in the wider of the two renderings, so
//! both break at the same places and neither runs off the page.

use embedded_graphics::mono_font::{MonoFont, iso_8859_1};
use qrcode::{Color, EcLevel, QrCode};

use crate::{ReceiptError, ReceiptPage, helvetica};

/// A6 portrait.
pub(crate) const PAGE_W_MM: f32 = 105.0;
pub(crate) const PAGE_H_MM: f32 = 148.0;
pub(crate) const MARGIN_MM: f32 = 8.0;
const CONTENT_W_MM: f32 = PAGE_W_MM - 2.0 * MARGIN_MM;
/// The QR code's box, quiet zone included.
const QR_BOX_MM: f32 = 48.0;
/// The smallest module a scanner reads reliably off paper.
const MIN_MODULE_MM: f32 = 0.4;
/// The quiet zone around the symbol, in modules.
pub(crate) const QUIET_ZONE: usize = 4;

/// PDF points per millimetre.
pub(crate) const PT_PER_MM: f32 = 72.0 / 25.4;
/// PNG pixels per millimetre (150 dpi).
pub(crate) const PX_PER_MM: f32 = 150.0 / 25.4;

const TITLE: &str = "BUKTI PEREKAMAN KTP-el";
const NOTICE: &str = "Data perekaman belum terkirim ke pusat data. \
                      KTP-el dapat diambil dengan membawa bukti ini.";

/// How a run of text looks: its PDF font and size, and its PNG mono font.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// The title: Helvetica-Bold 13 pt; in the PNG the 7x13 bold font at twice its size.
    Title,
    /// Labels and the office: Helvetica 9 pt; 9x18.
    Body,
    /// The values: Helvetica-Bold 9 pt; 9x18 bold.
    Strong,
    /// The notice and the station: Helvetica 8 pt; 9x15.
    Small,
}

impl Style {
    pub(crate) fn bold(self) -> bool {
        matches!(self, Style::Title | Style::Strong)
    }

    pub(crate) fn size_pt(self) -> f32 {
        match self {
            Style::Title => 13.0,
            Style::Body | Style::Strong => 9.0,
            Style::Small => 8.0,
        }
    }

    /// The PNG's font and the factor it is scaled by.
    pub(crate) fn mono(self) -> (&'static MonoFont<'static>, u32) {
        match self {
            Style::Title => (&iso_8859_1::FONT_7X13_BOLD, 2),
            Style::Body => (&iso_8859_1::FONT_9X18, 1),
            Style::Strong => (&iso_8859_1::FONT_9X18_BOLD, 1),
            Style::Small => (&iso_8859_1::FONT_9X15, 1),
        }
    }

    /// The width of `text` in the PDF, in millimetres.
    pub(crate) fn pdf_mm(self, text: &str) -> f32 {
        let units: u32 = text
            .chars()
            // Characters outside the tables never get here (see `shown`): count them as
            // an em, wide rather than narrow.
            .map(|c| u32::from(helvetica::width(c, self.bold()).unwrap_or(1000)))
            .sum();
        units as f32 / 1000.0 * self.size_pt() / PT_PER_MM
    }

    /// The width of `text` in the PNG, in pixels.
    pub(crate) fn png_px(self, text: &str) -> u32 {
        let (font, scale) = self.mono();
        let advance = font.character_size.width + font.character_spacing;
        let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
        chars.saturating_mul(advance).saturating_mul(scale)
    }

    /// The width `text` takes on the page: the wider of the two renderings.
    fn width_mm(self, text: &str) -> f32 {
        self.pdf_mm(text).max(self.png_px(text) as f32 / PX_PER_MM)
    }
}

/// Where a run starts across the page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Align {
    /// At this many millimetres from the left edge.
    Left(f32),
    /// Centred on the page (each rendering centres its own width).
    Centre,
    /// Right after this label, set in [`Style::Body`] from the left margin (each rendering
    /// measures the label in its own font).
    AfterLabel(&'static str),
}

/// Text in one style.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Run {
    pub text: String,
    pub style: Style,
    pub align: Align,
}

/// One line: its runs on a common baseline.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    /// Millimetres from the top of the page.
    pub baseline_mm: f32,
    pub runs: Vec<Run>,
}

/// The QR code and its place: dark modules, row by row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Qr {
    /// Modules per side, quiet zone not included.
    pub size: usize,
    pub dark: Vec<bool>,
    /// The box (quiet zone included): its top, from the top of the page, and its side.
    pub box_top_mm: f32,
    pub box_mm: f32,
}

impl Qr {
    /// The side of a module in the PDF.
    pub(crate) fn module_mm(&self) -> f32 {
        self.box_mm / (self.size + 2 * QUIET_ZONE) as f32
    }
}

/// The whole page.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layout {
    pub lines: Vec<Line>,
    /// Thin horizontal rules across the text width: millimetres from the top.
    pub rules: Vec<f32>,
    pub rule_from_mm: f32,
    pub rule_to_mm: f32,
    pub qr: Qr,
}

/// Whether both renderings show `c`: printable ASCII and the Latin-1 letters.
pub(crate) fn shown(c: char) -> bool {
    (' '..='~').contains(&c) || (('\u{c0}'..='\u{ff}').contains(&c) && c != '×' && c != '÷')
}

fn text_error(field: &'static str, reason: impl Into<String>) -> ReceiptError {
    ReceiptError::Text {
        field,
        reason: reason.into(),
    }
}

/// A field's value, checked: not blank, and every character shown by both fonts.
fn checked<'a>(field: &'static str, value: &'a str) -> Result<&'a str, ReceiptError> {
    if let Some(c) = value.chars().find(|&c| !shown(c)) {
        return Err(text_error(
            field,
            format!(
                "the character {c:?} (U+{:04X}) is not in the page's fonts, which show \
                 printable ASCII and the Latin-1 letters",
                u32::from(c)
            ),
        ));
    }
    if value.trim().is_empty() {
        return Err(text_error(field, "it is empty"));
    }
    Ok(value)
}

/// `YYYY-MM-DD` as the page prints it, `DD-MM-YYYY`.
fn day(field: &'static str, value: &str) -> Result<String, ReceiptError> {
    let bytes = value.as_bytes();
    let shape = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    let (y, m, d) = (
        value.get(0..4),
        value.get(5..7).and_then(|m| m.parse::<u8>().ok()),
        value.get(8..10).and_then(|d| d.parse::<u8>().ok()),
    );
    match (shape, y, m, d) {
        (true, Some(y), Some(m @ 1..=12), Some(d @ 1..=31)) => Ok(format!("{d:02}-{m:02}-{y}")),
        _ => Err(text_error(
            field,
            format!("{value:?} is not a date YYYY-MM-DD"),
        )),
    }
}

/// Words into lines no wider than `max_mm` in `style`; a word wider than a line is cut.
fn wrap(text: &str, max_mm: f32, style: Style) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let joined = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if style.width_mm(&joined) <= max_mm {
            line = joined;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut rest = word;
        while style.width_mm(rest) > max_mm {
            let first = rest.chars().next().map_or(rest.len(), char::len_utf8);
            let cut = rest
                .char_indices()
                .map(|(i, c)| i + c.len_utf8())
                .take_while(|&end| style.width_mm(&rest[..end]) <= max_mm)
                .last()
                .unwrap_or(first);
            let (head, tail) = rest.split_at(cut);
            lines.push(head.to_owned());
            rest = tail;
        }
        line = rest.to_owned();
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Builds the page from the top down.
struct Builder {
    lines: Vec<Line>,
    rules: Vec<f32>,
    /// The last baseline.
    y: f32,
}

impl Builder {
    fn line(&mut self, advance_mm: f32, runs: Vec<Run>) {
        self.y += advance_mm;
        self.lines.push(Line {
            baseline_mm: self.y,
            runs,
        });
    }

    /// Centred text in `style`, wrapped onto at most `max_lines`.
    fn centred(
        &mut self,
        field: &'static str,
        text: &str,
        style: Style,
        max_lines: usize,
        first_advance_mm: f32,
        pitch_mm: f32,
    ) -> Result<(), ReceiptError> {
        let lines = wrap(checked(field, text)?, CONTENT_W_MM, style);
        too_many(field, lines.len(), max_lines)?;
        for (i, text) in lines.into_iter().enumerate() {
            let advance = if i == 0 { first_advance_mm } else { pitch_mm };
            self.line(
                advance,
                vec![Run {
                    text,
                    style,
                    align: Align::Centre,
                }],
            );
        }
        Ok(())
    }

    /// "Label: value", the value in bold; its continuation lines start under the value.
    fn row(
        &mut self,
        field: &'static str,
        label: &'static str,
        value: &str,
        max_lines: usize,
    ) -> Result<(), ReceiptError> {
        let value_x = MARGIN_MM + Style::Body.width_mm(label);
        let lines = wrap(
            checked(field, value)?,
            MARGIN_MM + CONTENT_W_MM - value_x,
            Style::Strong,
        );
        too_many(field, lines.len(), max_lines)?;
        for (i, text) in lines.into_iter().enumerate() {
            let mut runs = Vec::with_capacity(2);
            if i == 0 {
                runs.push(Run {
                    text: label.into(),
                    style: Style::Body,
                    align: Align::Left(MARGIN_MM),
                });
            }
            runs.push(Run {
                text,
                style: Style::Strong,
                align: Align::AfterLabel(label),
            });
            self.line(ROW_PITCH_MM, runs);
        }
        Ok(())
    }
}

const ROW_PITCH_MM: f32 = 4.8;

fn too_many(field: &'static str, lines: usize, max_lines: usize) -> Result<(), ReceiptError> {
    if lines > max_lines {
        let unit = if max_lines == 1 { "line" } else { "lines" };
        return Err(text_error(
            field,
            format!(
                "it is too long: it would take {lines} lines on the page, at most {max_lines} {unit} fit"
            ),
        ));
    }
    Ok(())
}

fn qr(content: &str, box_top_mm: f32) -> Result<Qr, ReceiptError> {
    if content.is_empty() {
        return Err(ReceiptError::Qr("the content is empty".into()));
    }
    let code = QrCode::with_error_correction_level(content.as_bytes(), EcLevel::M)
        .map_err(|e| ReceiptError::Qr(format!("{e} ({} bytes)", content.len())))?;
    let qr = Qr {
        size: code.width(),
        dark: code.to_colors().iter().map(|c| *c == Color::Dark).collect(),
        box_top_mm,
        box_mm: QR_BOX_MM,
    };
    if qr.module_mm() < MIN_MODULE_MM {
        return Err(ReceiptError::Qr(format!(
            "{} bytes need {} modules a side, {:.2} mm each on the page, less than the \
             {MIN_MODULE_MM} mm a scanner needs",
            content.len(),
            qr.size,
            qr.module_mm()
        )));
    }
    Ok(qr)
}

impl Layout {
    /// Lays out `p`, checking every field.
    pub(crate) fn new(p: &ReceiptPage) -> Result<Layout, ReceiptError> {
        let mut b = Builder {
            lines: Vec::new(),
            rules: Vec::new(),
            y: MARGIN_MM,
        };
        b.line(
            5.0,
            vec![Run {
                text: TITLE.into(),
                style: Style::Title,
                align: Align::Centre,
            }],
        );
        b.centred("office", &p.office, Style::Body, 2, 6.0, 4.4)?;
        b.rules.push(b.y + 3.0);
        b.y += 3.0 + 1.0;
        b.row("number", "Nomor: ", &p.number, 2)?;
        b.row("nik", "NIK: ", &p.nik, 1)?;
        b.row("name", "Nama: ", &p.name, 3)?;
        b.row(
            "recorded_on",
            "Tanggal perekaman: ",
            &day("recorded_on", &p.recorded_on)?,
            1,
        )?;
        b.row(
            "collect_from",
            "Dapat diambil mulai: ",
            &day("collect_from", &p.collect_from)?,
            1,
        )?;
        b.rules.push(b.y + 3.0);
        b.y += 3.0 + 1.0;
        for (i, text) in wrap(NOTICE, CONTENT_W_MM, Style::Small)
            .into_iter()
            .enumerate()
        {
            let advance = if i == 0 { 4.5 } else { 4.0 };
            b.line(
                advance,
                vec![Run {
                    text,
                    style: Style::Small,
                    align: Align::Left(MARGIN_MM),
                }],
            );
        }
        let text_bottom = b.y + 1.5;

        // The bottom: the QR code, and the station under it.
        let station_baseline = PAGE_H_MM - MARGIN_MM - 1.0;
        let box_top = station_baseline - 4.0 - QR_BOX_MM;
        if text_bottom > box_top {
            // Not reached with the line limits above (a test fills every field to its
            // limit); kept so a change to them cannot print text over the code.
            return Err(text_error("name", "the page is full"));
        }
        let qr = qr(&p.qr, box_top)?;
        let station = checked("station", &p.station)?;
        let station_text = format!("Stasiun: {station}");
        too_many(
            "station",
            wrap(&station_text, CONTENT_W_MM, Style::Small).len(),
            1,
        )?;
        b.lines.push(Line {
            baseline_mm: station_baseline,
            runs: vec![Run {
                text: station_text,
                style: Style::Small,
                align: Align::Centre,
            }],
        });
        Ok(Layout {
            lines: b.lines,
            rules: b.rules,
            rule_from_mm: MARGIN_MM,
            rule_to_mm: PAGE_W_MM - MARGIN_MM,
            qr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_words_whole_and_cuts_only_what_is_wider_than_a_line() {
        let w = |s: &str| Style::Body.width_mm(s);
        assert_eq!(
            wrap("a bb ccc", w("a bb") + 0.01, Style::Body),
            ["a bb", "ccc"]
        );
        assert_eq!(
            wrap("abcdefghij", w("abcd") + 0.01, Style::Body),
            ["abcd", "efgh", "ij"]
        );
        assert_eq!(wrap("  spaced   out  ", 80.0, Style::Body), ["spaced out"]);
        assert!(wrap("", 10.0, Style::Body).is_empty());
    }

    #[test]
    fn the_wider_rendering_sets_the_width() {
        // Capitals are wider in Helvetica than a 9-pixel cell at 150 dpi...
        assert!(Style::Strong.width_mm("WWWW") == Style::Strong.pdf_mm("WWWW"));
        // ...and an "i" is narrower.
        let mono = Style::Strong.png_px("iiii") as f32 / PX_PER_MM;
        assert!(Style::Strong.width_mm("iiii") == mono);
    }

    #[test]
    fn the_longest_fields_allowed_still_leave_room_for_the_qr_code() {
        let mut p = ReceiptPage {
            office: "x".into(),
            station: "x".into(),
            number: "x".into(),
            nik: "9271014708900003".into(),
            name: "x".into(),
            recorded_on: "2026-11-29".into(),
            collect_from: "2026-11-30".into(),
            qr: "x".repeat(120),
        };
        // Each field as full as it may be: one more unit and the page is refused.
        let fill = |p: &mut ReceiptPage, unit: &str, set: fn(&mut ReceiptPage, String)| {
            let mut n = 1;
            loop {
                set(p, unit.repeat(n + 1));
                if Layout::new(p).is_err() {
                    set(p, unit.repeat(n));
                    return;
                }
                n += 1;
            }
        };
        fill(&mut p, "OOOOOOOO ", |p, v| p.office = v);
        fill(&mut p, "WWWWWWWW ", |p, v| p.name = v);
        fill(&mut p, "M", |p, v| p.number = v);
        fill(&mut p, "S", |p, v| p.station = v);
        let layout = Layout::new(&p).unwrap();
        let lines_of = |text: &str| {
            layout
                .lines
                .iter()
                .filter(|l| l.runs.iter().any(|r| text.contains(r.text.trim())))
                .count()
        };
        assert_eq!(lines_of(&p.office), 2);
        assert_eq!(lines_of(&p.name), 3);
        assert_eq!(lines_of(&p.number), 2);
        let last_text = layout
            .lines
            .iter()
            .map(|l| l.baseline_mm)
            .filter(|&y| y < layout.qr.box_top_mm)
            .fold(0.0, f32::max);
        assert!(last_text + 1.5 <= layout.qr.box_top_mm, "{last_text}");
    }

    #[test]
    fn dates_print_day_first() {
        assert_eq!(day("d", "2026-11-29").unwrap(), "29-11-2026");
        assert_eq!(day("d", "2027-01-05").unwrap(), "05-01-2027");
        for bad in [
            "29-11-2026",
            "2026-1-29",
            "2026-13-01",
            "2026-11-00",
            "2026/11/29",
            "",
        ] {
            assert!(day("d", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_accepted_characters() {
        for c in [' ', '~', 'A', 'é', 'Ñ', 'ÿ', 'À', 'ß'] {
            assert!(shown(c), "{c}");
        }
        for c in ['\t', '\u{7f}', '\u{a0}', '×', '÷', '€', '李', '\u{200b}'] {
            assert!(!shown(c), "{c:?}");
        }
    }
}
