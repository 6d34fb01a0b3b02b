//! The default templates rendered with a fixed applicant, compared with the golden images
//! in `tests/golden/` (made by this code and checked by eye; regenerate them with
//! `REKAM_UPDATE_GOLDEN=1 cargo test -p rekam-card --test golden` after a deliberate
//! change of layout, and look at them). The fonts come from Debian's fonts-liberation2
//! (`tests/deps.sh --build` installs it); a missing font fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use image::{GrayImage, Luma, Rgb, RgbImage};
use rekam_card::{CardData, CardError, DEFAULT_FONT_DIR, DPI, Fonts, Side, ktp_templates, render};

/// A fixed applicant: the specimen of the service standard's examples.
pub fn sample() -> CardData {
    let fields = [
        ("province_header", "PROVINSI JAWA BARAT"),
        ("regency_header", "KABUPATEN BANDUNG"),
        ("nik", "3204015708900003"),
        ("name", "SITI NURHALIZA"),
        ("birth", "BANDUNG, 17-08-1990"),
        ("sex", "PEREMPUAN"),
        ("blood_type", "O"),
        ("address", "JL. MERDEKA NO. 17"),
        ("rt_rw", "003/011"),
        ("village", "CIBIRU WETAN"),
        ("district", "CILEUNYI"),
        ("religion", "ISLAM"),
        ("marital_status", "KAWIN"),
        ("occupation", "KARYAWAN SWASTA"),
        ("citizenship", "WNI"),
        ("valid_until", "SEUMUR HIDUP"),
        ("issue_place", "KAB. BANDUNG"),
        ("issue_date", "29-11-2026"),
    ];
    // A portrait: a warm oval on a red ground (KTP-el photos have a red or blue ground).
    let photo = RgbImage::from_fn(300, 400, |x, y| {
        let (dx, dy) = (x as f32 - 150.0, y as f32 - 170.0);
        if (dx / 95.0).powi(2) + (dy / 125.0).powi(2) < 1.0 {
            Rgb([222, 184, 150])
        } else if y > 300 {
            Rgb([40, 50, 90])
        } else {
            Rgb([200, 30, 40])
        }
    });
    // A signature: a dark wave on white.
    let mut signature = GrayImage::from_pixel(400, 160, Luma([255]));
    for x in 20..380u32 {
        let y = 80.0 + 40.0 * ((x as f32) / 30.0).sin();
        for t in 0..5 {
            signature.put_pixel(x, (y as u32 + t).min(159), Luma([20]));
        }
    }
    CardData {
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        photo: Some(photo),
        signature: Some(signature),
    }
}

fn fonts() -> Fonts {
    Fonts::load(DEFAULT_FONT_DIR).expect("fonts-liberation2 (tests/deps.sh --build installs it)")
}

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Pixels that differ by more than 48 in any channel, as a fraction of all.
fn differing(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let n = a
        .pixels()
        .zip(b.pixels())
        .filter(|(p, q)| p.0.iter().zip(q.0).any(|(x, y)| x.abs_diff(y) > 48))
        .count();
    n as f64 / (a.width() * a.height()) as f64
}

fn check(side: &Side, name: &str) {
    let preview = side.preview();
    let path = golden(name);
    if std::env::var_os("REKAM_UPDATE_GOLDEN").is_some() {
        preview.save(&path).unwrap();
    }
    let want = image::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    let diff = differing(&preview, &want);
    // Another release of the font may move an edge here and there; a layout change moves
    // whole words.
    assert!(
        diff < 0.002,
        "{name}: {:.3} % of the pixels differ",
        diff * 100.0
    );
}

#[test]
fn the_ktp_templates_render_as_the_golden_images() {
    let (front, back) = ktp_templates().unwrap();
    let f = fonts();
    let data = sample();
    let side = render(&front, &data, &f, DPI).unwrap();
    // ID-1 at 300 dpi.
    assert_eq!(side.colour.dimensions(), (1012, 638));
    check(&side, "ktp-front.png");
    let back_side = render(&back, &data, &f, DPI).unwrap();
    check(&back_side, "ktp-back.png");

    // Text and the signature are black resin only: the colour panel has no black text.
    let k_share = side.k.pixels().filter(|p| p[0] != 0).count() as f64 / (1012.0 * 638.0);
    assert!(
        k_share > 0.03 && k_share < 0.25,
        "resin on {:.1} %",
        k_share * 100.0
    );
    let black_in_colour = side.colour.pixels().filter(|p| p.0 == [0, 0, 0]).count();
    assert_eq!(black_in_colour, 0);
    // The photo is in the colour panel: its red ground shows at the photo's box.
    let at = |mm: f32| (mm * 300.0 / 25.4) as u32;
    assert_eq!(side.colour.get_pixel(at(63.0), at(11.0)).0, [200, 30, 40]);
    // The NIK is in resin in its box (21-60 mm, 9.6-14 mm).
    let nik_resin = (at(21.0)..at(60.0))
        .flat_map(|x| (at(9.6)..at(14.0)).map(move |y| (x, y)))
        .filter(|&(x, y)| side.k.get_pixel(x, y)[0] != 0)
        .count();
    assert!(nik_resin > 2000, "{nik_resin}");
    // The overlay covers the card.
    assert!(side.overlay.pixels().all(|p| p[0] == 255));
    // The dye panels are the colour image's complements.
    let [y, m, c] = side.ymc();
    let p = side.colour.get_pixel(5, 40).0;
    assert_eq!(
        [
            y.get_pixel(5, 40)[0],
            m.get_pixel(5, 40)[0],
            c.get_pixel(5, 40)[0]
        ],
        [255 - p[2], 255 - p[1], 255 - p[0]]
    );
    let png = side.preview_png().unwrap();
    assert_eq!(&png[1..4], b"PNG");
}

#[test]
fn long_names_and_addresses_wrap_within_their_boxes() {
    let (front, _) = ktp_templates().unwrap();
    let f = fonts();
    let short = render(&front, &sample(), &f, DPI).unwrap();
    let mut data = sample();
    // The API's longest: 60 characters each.
    data.fields.insert(
        "name".into(),
        "MUHAMMAD ABDURRAHMAN WAHYUDI SETIAWAN PRAWIROKUSUMO HADINING".into(),
    );
    data.fields.insert(
        "address".into(),
        "JALAN RAYA CIBIRU WETAN GANG MESJID AL IKHLAS NOMOR 117 BLOK".into(),
    );
    assert_eq!(data.fields["name"].chars().count(), 60);
    assert_eq!(data.fields["address"].chars().count(), 60);
    let long = render(&front, &data, &f, DPI).unwrap();
    // Only the name's and the address's boxes changed (21-59.5 mm wide).
    let at = |mm: f32| (mm * 300.0 / 25.4) as u32;
    for (x, y, p) in long.k.enumerate_pixels() {
        if p != short.k.get_pixel(x, y) {
            let in_name = y >= at(14.0) && y < at(19.2) + 1;
            let in_address = y >= at(24.6) && y < at(29.8) + 1;
            assert!(
                x >= at(21.0) && x <= at(59.5) + 1 && (in_name || in_address),
                "resin changed outside the boxes at ({x}, {y})"
            );
        }
    }
    // A text that cannot fit even wrapped at the smallest size is refused, naming it.
    data.fields.insert("village".into(), "X".repeat(80));
    assert_eq!(
        render(&front, &data, &f, DPI).unwrap_err(),
        CardError::DoesNotFit {
            field: "village".into(),
            text: "X".repeat(80)
        }
    );
}

#[test]
fn bad_data_is_refused_naming_the_field() {
    let (front, _) = ktp_templates().unwrap();
    let f = fonts();
    let mut data = sample();
    data.fields
        .insert("occupation".into(), "PETANI 农民".into());
    assert_eq!(
        render(&front, &data, &f, DPI).unwrap_err(),
        CardError::Unshowable {
            field: "occupation".into(),
            character: '农'
        }
    );
    let mut data = sample();
    data.fields.remove("rt_rw");
    assert_eq!(
        render(&front, &data, &f, DPI).unwrap_err(),
        CardError::MissingField("rt_rw".into())
    );
    let e = Fonts::load("/nonexistent-fonts").unwrap_err();
    assert!(e.to_string().contains("fonts-liberation2"), "{e}");
    let empty = Fonts::load(std::env::temp_dir()).unwrap();
    assert!(matches!(
        render(&front, &sample(), &empty, DPI),
        Err(CardError::Font { .. })
    ));
}
