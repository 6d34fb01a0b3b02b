//! Extraction and matching on the crate's own small synthetic fingers (ridge gratings with
//! phase vortices, each vortex one minutia at a known place and direction).

mod common;

use image::GrayImage;
use rekam_minutiae::{MinutiaeError, extract, match_score};

/// Rotates `img` by `deg` degrees about its centre and shifts it, bilinear, light background.
fn warp(img: &GrayImage, deg: f32, dx: f32, dy: f32) -> GrayImage {
    let (w, h) = img.dimensions();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let (c, s) = (deg.to_radians().cos(), deg.to_radians().sin());
    GrayImage::from_fn(w, h, |x, y| {
        // Inverse map: destination -> source.
        let (u, v) = (x as f32 - cx - dx, y as f32 - cy - dy);
        let (sx, sy) = (c * u + s * v + cx, -s * u + c * v + cy);
        if sx < 0.0 || sy < 0.0 || sx >= (w - 1) as f32 || sy >= (h - 1) as f32 {
            return image::Luma([235]);
        }
        let (x0, y0) = (sx.floor() as u32, sy.floor() as u32);
        let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
        let p = |x, y| f32::from(img.get_pixel(x, y)[0]);
        let v = p(x0, y0) * (1.0 - fx) * (1.0 - fy)
            + p(x0 + 1, y0) * fx * (1.0 - fy)
            + p(x0, y0 + 1) * (1.0 - fx) * fy
            + p(x0 + 1, y0 + 1) * fx * fy;
        image::Luma([v.round() as u8])
    })
}

#[test]
fn extraction_recovers_vortex_minutiae() {
    let (mut hits, mut truths, mut found) = (0, 0, 0);
    for seed in 1..=3 {
        let (img, truth) = common::finger(seed, 420, 420, 10, 15.0);
        let t = extract(&img).unwrap();
        assert_eq!((t.width, t.height, t.ppi), (420, 420, 500));
        let (h, _, _) = common::score(&t.minutiae, &truth, 10.0, 30f32.to_radians());
        hits += h;
        truths += truth.len();
        found += t.minutiae.len();
        for m in &t.minutiae {
            assert!(m.quality <= 100);
            assert!((0.0..std::f32::consts::TAU).contains(&m.angle));
        }
    }
    let recall = hits as f32 / truths as f32;
    let precision = hits as f32 / found as f32;
    assert!(recall >= 0.9, "recall {recall}");
    assert!(precision >= 0.8, "precision {precision}");
}

#[test]
fn images_without_a_finger_give_no_minutiae() {
    let blank = GrayImage::from_pixel(300, 300, image::Luma([200]));
    assert!(extract(&blank).unwrap().minutiae.is_empty());
    let mut rng = common::Rng::new(9);
    let noise = GrayImage::from_fn(300, 300, |_, _| {
        image::Luma([(128.0 + 40.0 * rng.normal()).clamp(0.0, 255.0) as u8])
    });
    let n = extract(&noise).unwrap().minutiae.len();
    assert!(n <= 2, "{n} minutiae in noise");
}

#[test]
fn bad_sizes_are_errors() {
    assert!(matches!(
        extract(&GrayImage::new(63, 500)),
        Err(MinutiaeError::ImageTooSmall { .. })
    ));
    assert!(matches!(
        extract(&GrayImage::new(16384, 64)),
        Err(MinutiaeError::ImageTooLarge { .. })
    ));
    // The smallest accepted size works.
    assert!(extract(&GrayImage::new(64, 64)).is_ok());
}

#[test]
fn same_finger_moved_matches_and_other_fingers_do_not() {
    let (a, _) = common::finger(11, 420, 420, 16, 10.0);
    let (b, _) = common::finger(12, 420, 420, 16, 10.0);
    let moved = warp(&a, 12.0, 15.0, -10.0);
    let ta = extract(&a).unwrap();
    let tb = extract(&b).unwrap();
    let tm = extract(&moved).unwrap();
    let genuine = match_score(&ta, &tm);
    let impostor = match_score(&ta, &tb).max(match_score(&tm, &tb));
    assert!(
        genuine >= 3 * impostor.max(5),
        "genuine {genuine} impostor {impostor}"
    );
}
