//! The layout as a one-page PDF: base-14 Helvetica text (WinAnsiEncoding, nothing
//! embedded), thin grey rules, and the QR code as one filled square per dark module.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::layout::{Align, Layout, MARGIN_MM, PAGE_H_MM, PAGE_W_MM, PT_PER_MM, QUIET_ZONE, Style};

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// WinAnsi bytes of text the layout accepted: for printable ASCII and the Latin-1 letters
/// the WinAnsi code is the Unicode one.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

pub(crate) fn render(layout: &Layout, number: &str) -> Vec<u8> {
    let (w, h) = (PAGE_W_MM * PT_PER_MM, PAGE_H_MM * PT_PER_MM);
    // Points from the left, from millimetres; and from the bottom, from millimetres from
    // the top.
    let x = |mm: f32| mm * PT_PER_MM;
    let y = |mm: f32| h - mm * PT_PER_MM;

    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let page = Ref::new(3);
    let regular = Ref::new(4);
    let bold = Ref::new(5);
    let contents = Ref::new(6);
    let info = Ref::new(7);

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page]).count(1);
    {
        let mut p = pdf.page(page);
        p.media_box(Rect::new(0.0, 0.0, w, h));
        p.parent(tree);
        p.contents(contents);
        p.resources()
            .fonts()
            .pair(REGULAR, regular)
            .pair(BOLD, bold);
        p.finish();
    }
    for (id, name) in [(regular, "Helvetica"), (bold, "Helvetica-Bold")] {
        pdf.type1_font(id)
            .base_font(Name(name.as_bytes()))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    // No dates, so the same page gives the same bytes.
    let title = format!("Bukti perekaman {number}");
    pdf.document_info(info)
        .title(TextStr(&title))
        .producer(TextStr("rekam"));

    let mut c = Content::new();
    // Text, black.
    c.set_fill_gray(0.0);
    for line in &layout.lines {
        c.begin_text();
        for run in &line.runs {
            let left = match run.align {
                Align::Left(mm) => mm,
                Align::Centre => (PAGE_W_MM - run.style.pdf_mm(&run.text)) / 2.0,
                Align::AfterLabel(label) => MARGIN_MM + Style::Body.pdf_mm(label),
            };
            let font = if run.style.bold() { BOLD } else { REGULAR };
            c.set_font(font, run.style.size_pt());
            c.set_text_matrix([1.0, 0.0, 0.0, 1.0, x(left), y(line.baseline_mm)]);
            c.show(Str(&win_ansi(&run.text)));
        }
        c.end_text();
    }
    // The rules: stroked lines (not rectangles, which are the QR's alone).
    c.set_stroke_gray(0.5);
    c.set_line_width(0.5);
    for &at in &layout.rules {
        c.move_to(x(layout.rule_from_mm), y(at));
        c.line_to(x(layout.rule_to_mm), y(at));
    }
    c.stroke();
    // The QR code, centred across the page in its box; the quiet zone is the white page.
    let qr = &layout.qr;
    let module = qr.module_mm();
    let left = (PAGE_W_MM - qr.box_mm) / 2.0 + QUIET_ZONE as f32 * module;
    let top = qr.box_top_mm + QUIET_ZONE as f32 * module;
    for (i, _) in qr.dark.iter().enumerate().filter(|(_, dark)| **dark) {
        let (col, row) = ((i % qr.size) as f32, (i / qr.size) as f32);
        c.rect(
            x(left + col * module),
            y(top + (row + 1.0) * module),
            module * PT_PER_MM,
            module * PT_PER_MM,
        );
    }
    // One path, one fill: no hairline seams between neighbouring squares.
    c.fill_nonzero();
    pdf.stream(contents, &c.finish());
    pdf.finish()
}
