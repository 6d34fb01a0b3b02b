//! Inputs that must give a result or an error, never a panic.

mod common;

use common::Rng;
use image::GrayImage;
use rekam_minutiae::iso19794_2::{self, CardOptions, Record};
use rekam_minutiae::{Minutia, MinutiaKind, Template, extract, match_score};

#[test]
fn odd_images_extract_without_panicking() {
    let mut rng = Rng::new(5);
    let shapes = [(64, 64), (65, 1000), (1000, 65), (127, 129), (300, 64)];
    for (w, h) in shapes {
        let patterns: Vec<GrayImage> = vec![
            GrayImage::from_pixel(w, h, image::Luma([0])),
            GrayImage::from_pixel(w, h, image::Luma([255])),
            GrayImage::from_fn(w, h, |x, y| {
                image::Luma([if (x / 3 + y / 3) % 2 == 0 { 0 } else { 255 }])
            }),
            GrayImage::from_fn(w, h, |x, _| image::Luma([if x % 9 < 4 { 30 } else { 220 }])),
            GrayImage::from_fn(w, h, |_, _| image::Luma([(rng.next() * 256.0) as u8])),
        ];
        for img in patterns {
            let t = extract(&img).unwrap();
            assert_eq!((u32::from(t.width), u32::from(t.height)), (w, h));
            for m in &t.minutiae {
                assert!(u32::from(m.x) < w && u32::from(m.y) < h);
                assert!(m.quality <= 100 && m.angle.is_finite());
            }
            // Whatever was extracted encodes and decodes.
            let rec = iso19794_2::write_record(&t, 0, 50).unwrap();
            assert_eq!(
                iso19794_2::parse_record(&rec).unwrap().minutiae.len(),
                t.minutiae.len()
            );
        }
    }
}

#[test]
fn degenerate_templates_match_without_panicking() {
    let m = |x, y, angle| Minutia {
        x,
        y,
        angle,
        kind: MinutiaKind::Ending,
        quality: 50,
    };
    let t = |minutiae: Vec<Minutia>, ppi| Template {
        width: 500,
        height: 500,
        ppi,
        minutiae,
    };
    let same_point = t(vec![m(100, 100, 0.0); 300], 500);
    let weird_angles = t(
        (0..40)
            .map(|i| {
                m(
                    10 * i,
                    7 * i,
                    [f32::NAN, f32::INFINITY, -1e30, 1e30][i as usize % 4],
                )
            })
            .collect(),
        500,
    );
    let zero_ppi = t(
        (0..40).map(|i| m(13 * i, 400 - 9 * i, i as f32)).collect(),
        0,
    );
    let many = t(
        (0..2000u32)
            .map(|i| {
                m(
                    ((i * 37) % 500) as u16,
                    ((i * 91) % 500) as u16,
                    i as f32 * 0.1,
                )
            })
            .collect(),
        500,
    );
    let all = [same_point, weird_angles, zero_ppi, many];
    for a in &all {
        for b in &all {
            let _ = match_score(a, b);
        }
    }
    assert_eq!(
        match_score(&all[0], &all[0]),
        0,
        "coincident minutiae have no pairs"
    );
}

#[test]
fn mutated_records_parse_or_fail_cleanly() {
    let (img, _) = common::finger(3, 300, 300, 8, 5.0);
    let t = extract(&img).unwrap();
    let rec = iso19794_2::write_record(&t, 1, 60).unwrap();
    let card = iso19794_2::write_compact(&t, &CardOptions::default()).unwrap();
    let mut rng = Rng::new(77);
    for _ in 0..3000 {
        let mut r = rec.clone();
        for _ in 0..1 + (rng.next() * 4.0) as usize {
            let i = (rng.next() * r.len() as f32) as usize % r.len();
            r[i] = (rng.next() * 256.0) as u8;
        }
        if rng.next() < 0.3 {
            r.truncate((rng.next() * r.len() as f32) as usize);
        }
        if let Ok(p) = Record::parse(&r) {
            // Whatever parses re-encodes (the writer accepts all parsed values).
            assert!(p.to_bytes().is_ok());
        }
        let mut c = card.clone();
        let i = (rng.next() * c.len().max(1) as f32) as usize % c.len().max(1);
        if let Some(b) = c.get_mut(i) {
            *b = (rng.next() * 256.0) as u8;
        }
        let _ = iso19794_2::parse_compact(&c, 500);
    }
}
