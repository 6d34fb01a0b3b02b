//! Rendering both sides of a KTP-el and all their panels (issue 18's target: under 40 ms on
//! one core): the colour image, the black resin and the overlay of front and back, the
//! dye panels split out, and the two preview PNGs the front-end gets.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use image::{GrayImage, Luma, Rgb, RgbImage};
use rekam_card::{CardData, DEFAULT_FONT_DIR, DPI, Fonts, ktp_templates, render};

fn data() -> CardData {
    let mut d = CardData::default();
    for (k, v) in [
        ("province_header", "PROVINSI JAWA BARAT"),
        ("regency_header", "KABUPATEN BANDUNG"),
        ("nik", "3204015708900003"),
        ("name", "MUHAMMAD ABDURRAHMAN WAHYUDI SETIAWAN"),
        ("birth", "BANDUNG, 17-08-1990"),
        ("sex", "LAKI-LAKI"),
        ("blood_type", "O"),
        (
            "address",
            "JALAN RAYA CIBIRU WETAN GANG MESJID AL IKHLAS NOMOR 117",
        ),
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
    ] {
        d.fields.insert(k.into(), v.into());
    }
    // The portrait as the pipeline has it (ICAO token size, 480 x 640).
    d.photo = Some(RgbImage::from_fn(480, 640, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, 120])
    }));
    d.signature = Some(GrayImage::from_fn(600, 240, |x, y| {
        Luma([if (x + y) % 37 < 3 { 0 } else { 255 }])
    }));
    d
}

fn bench(c: &mut Criterion) {
    let fonts = Fonts::load(DEFAULT_FONT_DIR).unwrap();
    let (front, back) = ktp_templates().unwrap();
    let d = data();
    let mut g = c.benchmark_group("card");
    g.bench_function("render both sides, all panels", |b| {
        b.iter(|| {
            let f = render(&front, &d, &fonts, DPI).unwrap();
            let k = render(&back, &d, &fonts, DPI).unwrap();
            (f.ymc(), k.ymc())
        })
    });
    g.bench_function(
        "render both sides, all panels and the two preview PNGs",
        |b| {
            b.iter(|| {
                let f = render(&front, &d, &fonts, DPI).unwrap();
                let k = render(&back, &d, &fonts, DPI).unwrap();
                (
                    f.ymc(),
                    k.ymc(),
                    f.preview_png().unwrap(),
                    k.preview_png().unwrap(),
                )
            })
        },
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
