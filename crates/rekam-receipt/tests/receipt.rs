//! The receipt read back as a reader would: the QR decoded from the PNG by an independent
//! decoder (rqrr); the PDF parsed by an independent parser (lopdf) for its page, its text
//! and its QR squares, which are put back together into a picture and decoded too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rekam_receipt::{ReceiptError, ReceiptPage, pdf, png};

fn page() -> ReceiptPage {
    ReceiptPage {
        office: "Dinas Kependudukan dan Pencatatan Sipil Kota Sorong".into(),
        station: "STATION01".into(),
        number: "BP-STATION01-20261129-7KQ2M9ZD".into(),
        nik: "9271014708900003".into(),
        name: "SITI RAHAYU".into(),
        recorded_on: "2026-11-29".into(),
        collect_from: "2026-11-30".into(),
        // The shape of rekam-integrity's signed token, ~120 ASCII characters.
        qr: "REKAM-BP1.BP-STATION01-20261129-7KQ2M9ZD.k7Qx2m.\
             3q2-7wAbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdEfGhIjKlMnOpQrStUvWxYz012345"
            .into(),
    }
}

const A6_PT: (f32, f32) = (105.0 * 72.0 / 25.4, 148.0 * 72.0 / 25.4);

/// Every QR code rqrr finds in a grey picture, decoded.
fn decode_all(img: image::GrayImage) -> Vec<String> {
    let mut prepared = rqrr::PreparedImage::prepare(img);
    prepared
        .detect_grids()
        .iter()
        .map(|g| g.decode().expect("a QR code that decodes").1)
        .collect()
}

fn decode_png(png: &[u8]) -> String {
    let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .unwrap()
        .to_luma8();
    let found = decode_all(img);
    assert_eq!(found.len(), 1, "one QR code on the page: {found:?}");
    found.into_iter().next().unwrap()
}

struct ParsedPdf {
    doc: lopdf::Document,
    page: lopdf::ObjectId,
    /// The page's text, one line per text object.
    lines: Vec<String>,
    content: lopdf::content::Content,
}

fn parse_pdf(bytes: &[u8]) -> ParsedPdf {
    assert!(bytes.starts_with(b"%PDF-"));
    let doc = lopdf::Document::load_mem(bytes).unwrap();
    let pages = doc.get_pages();
    assert_eq!(pages.keys().copied().collect::<Vec<_>>(), [1], "one page");
    let page = pages[&1];
    let text = doc.extract_text(&[1]).unwrap();
    let lines = text.lines().map(str::to_owned).collect();
    let content = doc.get_and_decode_page_content(page).unwrap();
    ParsedPdf {
        doc,
        page,
        lines,
        content,
    }
}

fn num(o: &lopdf::Object) -> f32 {
    o.as_float().unwrap()
}

/// The squares of the content stream: (x, y, w, h) in points.
fn squares(content: &lopdf::content::Content) -> Vec<[f32; 4]> {
    content
        .operations
        .iter()
        .filter(|o| o.operator == "re")
        .map(|o| {
            let v: Vec<f32> = o.operands.iter().map(num).collect();
            [v[0], v[1], v[2], v[3]]
        })
        .collect()
}

/// The module matrix the squares draw, row by row, and the module's side in points.
fn matrix_from_squares(squares: &[[f32; 4]]) -> (usize, Vec<bool>, f32) {
    let m = squares[0][2];
    for s in squares {
        assert!(
            (s[2] - m).abs() < 1e-3 && (s[3] - m).abs() < 1e-3,
            "{s:?} not a module"
        );
    }
    // The top-left finder pattern holds the first column's and the first row's modules.
    let left = squares.iter().map(|s| s[0]).fold(f32::MAX, f32::min);
    let top = squares.iter().map(|s| s[1] + s[3]).fold(f32::MIN, f32::max);
    let cells: Vec<(usize, usize)> = squares
        .iter()
        .map(|s| {
            let col = (s[0] - left) / m;
            let row = (top - (s[1] + s[3])) / m;
            assert!(
                (col - col.round()).abs() < 1e-2 && (row - row.round()).abs() < 1e-2,
                "{s:?} off the grid"
            );
            (col.round() as usize, row.round() as usize)
        })
        .collect();
    let size = cells.iter().map(|&(c, r)| c.max(r)).max().unwrap() + 1;
    let mut dark = vec![false; size * size];
    for (c, r) in cells {
        assert!(!dark[r * size + c], "two squares on one module");
        dark[r * size + c] = true;
    }
    (size, dark, m)
}

fn expected_qr(content: &str) -> (usize, Vec<bool>) {
    let code = qrcode::QrCode::with_error_correction_level(content.as_bytes(), qrcode::EcLevel::M)
        .unwrap();
    let dark = code
        .to_colors()
        .iter()
        .map(|c| *c == qrcode::Color::Dark)
        .collect();
    (code.width(), dark)
}

/// A module matrix as a picture: 4 pixels a module, a 4-module quiet zone.
fn picture(size: usize, dark: &[bool]) -> image::GrayImage {
    let (scale, quiet) = (4u32, 4u32);
    let side = (size as u32 + 2 * quiet) * scale;
    image::GrayImage::from_fn(side, side, |x, y| {
        let (c, r) = ((x / scale) as i64 - 4, (y / scale) as i64 - 4);
        let on = (0..size as i64).contains(&c)
            && (0..size as i64).contains(&r)
            && dark[r as usize * size + c as usize];
        image::Luma([if on { 0 } else { 255 }])
    })
}

/// The name's lines in the PDF's text: the "Nama: " line and those after it, up to the
/// next label.
fn name_lines(lines: &[String]) -> Vec<String> {
    let start = lines.iter().position(|l| l.starts_with("Nama: ")).unwrap();
    let mut out = vec![lines[start]["Nama: ".len()..].to_owned()];
    out.extend(
        lines[start + 1..]
            .iter()
            .take_while(|l| !l.starts_with("Tanggal perekaman: "))
            .cloned(),
    );
    out
}

#[test]
fn the_png_is_a_150_dpi_a6_page_whose_qr_decodes_to_the_content() {
    let p = page();
    let bytes = png(&p).unwrap();
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).unwrap();
    assert_eq!(img.color(), image::ColorType::L8, "grey");
    assert_eq!((img.width(), img.height()), (620, 874), "A6 at 150 dpi");
    assert_eq!(decode_png(&bytes), p.qr);
}

#[test]
fn the_pdf_is_one_a6_page_with_every_field() {
    let p = page();
    let parsed = parse_pdf(&pdf(&p).unwrap());
    let page = parsed.doc.get_dictionary(parsed.page).unwrap();
    let mb: Vec<f32> = page
        .get(b"MediaBox")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(num)
        .collect();
    assert_eq!(mb.len(), 4);
    assert_eq!((mb[0], mb[1]), (0.0, 0.0));
    assert!(
        (mb[2] - A6_PT.0).abs() < 0.01 && (mb[3] - A6_PT.1).abs() < 0.01,
        "{mb:?}"
    );

    let lines = &parsed.lines;
    for want in [
        "BUKTI PEREKAMAN KTP-el",
        "Dinas Kependudukan dan Pencatatan Sipil Kota Sorong",
        "Nomor: BP-STATION01-20261129-7KQ2M9ZD",
        "NIK: 9271014708900003",
        "Nama: SITI RAHAYU",
        "Tanggal perekaman: 29-11-2026",
        "Dapat diambil mulai: 30-11-2026",
        "Stasiun: STATION01",
    ] {
        assert!(
            lines.iter().any(|l| l == want),
            "{want:?} not in {lines:#?}"
        );
    }
    let all = lines.join(" ");
    assert!(
        all.contains(
            "Data perekaman belum terkirim ke pusat data. \
             KTP-el dapat diambil dengan membawa bukti ini."
        ),
        "{all}"
    );
    // The fonts: base-14 Helvetica, WinAnsi, nothing embedded.
    let fonts = parsed.doc.get_page_fonts(parsed.page).unwrap();
    let mut names: Vec<String> = fonts
        .values()
        .map(|f| {
            assert_eq!(f.get(b"Subtype").unwrap().as_name().unwrap(), b"Type1");
            assert_eq!(
                f.get(b"Encoding").unwrap().as_name().unwrap(),
                b"WinAnsiEncoding"
            );
            assert!(f.get(b"FontDescriptor").is_err(), "no embedded font");
            String::from_utf8(f.get(b"BaseFont").unwrap().as_name().unwrap().to_vec()).unwrap()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["Helvetica", "Helvetica-Bold"]);
}

#[test]
fn the_pdf_draws_the_qr_module_for_module_with_a_clear_quiet_zone() {
    let p = page();
    let parsed = parse_pdf(&pdf(&p).unwrap());
    let squares = squares(&parsed.content);
    let (want_size, want_dark) = expected_qr(&p.qr);
    assert_eq!(
        squares.len(),
        want_dark.iter().filter(|d| **d).count(),
        "one square per dark module"
    );
    let (size, dark, module) = matrix_from_squares(&squares);
    assert_eq!(size, want_size);
    assert!(dark == want_dark, "the squares draw a different matrix");
    // Put back together as a picture, the squares decode to the content.
    assert_eq!(
        decode_all(picture(size, &dark)),
        std::slice::from_ref(&p.qr)
    );
    // At least 0.4 mm a module on paper.
    assert!(module >= 0.4 * 72.0 / 25.4, "module {module} pt");

    // The quiet zone (4 modules around the symbol) is clear of text, and on the page.
    let left = squares.iter().map(|s| s[0]).fold(f32::MAX, f32::min) - 4.0 * module;
    let bottom = squares.iter().map(|s| s[1]).fold(f32::MAX, f32::min) - 4.0 * module;
    let side = (size as f32 + 8.0) * module;
    assert!(left >= 0.0 && bottom >= 0.0 && left + side <= A6_PT.0 && bottom + side <= A6_PT.1);
    assert!(
        ((left + side / 2.0) - A6_PT.0 / 2.0).abs() < 0.01,
        "centred"
    );
    let mut font_size = 0.0;
    let mut texts = 0;
    for op in &parsed.content.operations {
        match op.operator.as_str() {
            "Tf" => font_size = num(&op.operands[1]),
            "Tm" => {
                texts += 1;
                let y = num(&op.operands[5]);
                // From the descenders to the accents' tops.
                let (glyph_bottom, glyph_top) = (y - 0.25 * font_size, y + 0.95 * font_size);
                assert!(
                    glyph_top < bottom || glyph_bottom > bottom + side,
                    "text at y={y} overlaps the QR box {bottom}..{}",
                    bottom + side
                );
            }
            _ => {}
        }
    }
    assert!(texts >= 10, "{texts} text runs");
}

#[test]
fn a_long_name_wraps_and_the_page_still_reads() {
    let mut p = page();
    p.name = "RADEN AJENG KARTINI SITI RAHAYU NINGSIH PUSPITASARI DEWANTARA".into();
    let bytes = png(&p).unwrap();
    assert_eq!(decode_png(&bytes), p.qr);
    let parsed = parse_pdf(&pdf(&p).unwrap());
    let lines = name_lines(&parsed.lines);
    assert!(lines.len() >= 2, "wrapped: {lines:?}");
    assert!(lines.len() <= 3, "at most 3 lines: {lines:?}");
    assert_eq!(
        lines.join(" "),
        p.name,
        "the whole name, at word boundaries"
    );
    // The fields after the name are still there, and the QR squares too.
    assert!(
        parsed
            .lines
            .iter()
            .any(|l| l == "Dapat diambil mulai: 30-11-2026")
    );
    let (size, dark, _) = matrix_from_squares(&squares(&parsed.content));
    assert_eq!(
        decode_all(picture(size, &dark)),
        std::slice::from_ref(&p.qr)
    );
    // A long office takes two lines.
    p.office = "Dinas Kependudukan dan Pencatatan Sipil Kabupaten Kepulauan Seribu Utara".into();
    let parsed = parse_pdf(&pdf(&p).unwrap());
    let office = parsed.lines[1..3].join(" ");
    assert_eq!(office, p.office);
    assert_eq!(decode_png(&png(&p).unwrap()), p.qr);
}

#[test]
fn too_long_fields_are_refused_naming_the_field() {
    let mut p = page();
    p.name = "NAMA ".repeat(40);
    for e in [pdf(&p).unwrap_err(), png(&p).unwrap_err()] {
        assert!(matches!(e, ReceiptError::Text { field: "name", .. }), "{e}");
        assert!(e.to_string().contains("too long"), "{e}");
    }
    let mut p = page();
    p.nik = "9271014708900003".repeat(4);
    assert!(matches!(
        pdf(&p).unwrap_err(),
        ReceiptError::Text { field: "nik", .. }
    ));
    let mut p = page();
    p.station = "S".repeat(100);
    assert!(matches!(
        png(&p).unwrap_err(),
        ReceiptError::Text {
            field: "station",
            ..
        }
    ));
    let mut p = page();
    p.office = "Dinas ".repeat(30);
    assert!(matches!(
        pdf(&p).unwrap_err(),
        ReceiptError::Text {
            field: "office",
            ..
        }
    ));
    // A QR code that needs modules smaller than 0.4 mm, or none at all.
    let mut p = page();
    p.qr = "x".repeat(1000);
    assert!(matches!(pdf(&p).unwrap_err(), ReceiptError::Qr(_)));
    p.qr.clear();
    assert!(matches!(png(&p).unwrap_err(), ReceiptError::Qr(_)));
}

#[test]
fn characters_the_fonts_cannot_show_are_refused_naming_the_field() {
    let mut p = page();
    p.name = "李小龍".into();
    for e in [pdf(&p).unwrap_err(), png(&p).unwrap_err()] {
        assert!(matches!(e, ReceiptError::Text { field: "name", .. }), "{e}");
        assert!(e.to_string().contains("U+674E"), "{e}");
    }
    let mut p = page();
    p.office = "Kantor\u{200b}Sorong".into();
    assert!(matches!(
        png(&p).unwrap_err(),
        ReceiptError::Text {
            field: "office",
            ..
        }
    ));
    let mut p = page();
    p.station = "ST\tATION".into();
    assert!(matches!(
        pdf(&p).unwrap_err(),
        ReceiptError::Text {
            field: "station",
            ..
        }
    ));
    let mut p = page();
    p.number = "BP-€".into();
    assert!(matches!(
        pdf(&p).unwrap_err(),
        ReceiptError::Text {
            field: "number",
            ..
        }
    ));
    let mut p = page();
    p.recorded_on = "29/11/2026".into();
    assert!(matches!(
        pdf(&p).unwrap_err(),
        ReceiptError::Text {
            field: "recorded_on",
            ..
        }
    ));
    let mut p = page();
    p.name = "   ".into();
    assert!(matches!(
        pdf(&p).unwrap_err(),
        ReceiptError::Text { field: "name", .. }
    ));
}

#[test]
fn latin_1_letters_print_in_both() {
    let mut p = page();
    p.name = "JOSÉ MÜLLER ÑÁÇÖ ÿ".into();
    let parsed = parse_pdf(&pdf(&p).unwrap());
    assert_eq!(name_lines(&parsed.lines), [p.name.clone()]);
    assert_eq!(decode_png(&png(&p).unwrap()), p.qr);
}

#[test]
fn the_same_page_gives_the_same_bytes() {
    let p = page();
    assert_eq!(pdf(&p).unwrap(), pdf(&p).unwrap());
    assert_eq!(png(&p).unwrap(), png(&p).unwrap());
    let mut q = p.clone();
    q.nik = "9271014708900004".into();
    assert_ne!(pdf(&p).unwrap(), pdf(&q).unwrap());
    assert_ne!(png(&p).unwrap(), png(&q).unwrap());
}

/// Samples for a person to look at, in the build directory (never in the source tree):
/// `$CARGO_TARGET_TMPDIR/rekam-receipt/`.
#[test]
fn samples_are_written_to_the_build_directory() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("rekam-receipt");
    std::fs::create_dir_all(&dir).unwrap();
    let mut long = page();
    long.name = "RADEN AJENG KARTINI SITI RAHAYU NINGSIH PUSPITASARI DEWANTARA".into();
    for (name, p) in [("receipt", page()), ("receipt-long-name", long)] {
        let image = png(&p).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), &image).unwrap();
        std::fs::write(dir.join(format!("{name}.pdf")), pdf(&p).unwrap()).unwrap();
        assert_eq!(
            decode_png(&std::fs::read(dir.join(format!("{name}.png"))).unwrap()),
            p.qr
        );
    }
    eprintln!("samples in {}", dir.display());
}
