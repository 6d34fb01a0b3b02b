#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let noise: f32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let (img, truth) = common::finger(seed, 800, 750, 30, noise);
    let t0 = std::time::Instant::now();
    let (t, dbg) = rekam_minutiae::extract_debug(&img).unwrap();
    let el = t0.elapsed();
    let (hits, r, p) = common::score(&t.minutiae, &truth, 10.0, 30f32.to_radians());
    println!(
        "found {} truth {} hits {hits} recall {r:.2} precision {p:.2} in {el:?}",
        t.minutiae.len(),
        truth.len()
    );
    let (_, r2, _) = common::score(&t.minutiae, &truth, 10.0, 7.0);
    println!("recall ignoring angle {r2:.2}");
    img.save("/tmp/dev_img.png").unwrap();
    dbg.binary.save("/tmp/dev_bin.png").unwrap();
    dbg.skeleton.save("/tmp/dev_skel.png").unwrap();
    dbg.mask.save("/tmp/dev_mask.png").unwrap();
    // Overlay: minutiae in red, truth in green.
    let mut rgb = image::RgbImage::from_fn(img.width(), img.height(), |x, y| {
        let g = img.get_pixel(x, y)[0] / 2 + 100;
        let s = dbg.skeleton.get_pixel(x, y)[0];
        if s == 0 {
            image::Rgb([0, 0, 255])
        } else {
            image::Rgb([g, g, g])
        }
    });
    let mut put = |x: f32, y: f32, c: [u8; 3]| {
        if x >= 0.0 && y >= 0.0 && (x as u32) < rgb.width() && (y as u32) < rgb.height() {
            rgb.put_pixel(x as u32, y as u32, image::Rgb(c));
        }
    };
    for m in &t.minutiae {
        for k in 0..14 {
            let (x, y) = (
                f32::from(m.x) + k as f32 * m.angle.cos(),
                f32::from(m.y) - k as f32 * m.angle.sin(),
            );
            put(x, y, [255, 0, 0]);
        }
        for d in -3..=3 {
            put(f32::from(m.x) + d as f32, f32::from(m.y) - 3.0, [255, 0, 0]);
            put(f32::from(m.x) + d as f32, f32::from(m.y) + 3.0, [255, 0, 0]);
        }
    }
    for tr in &truth {
        for k in 0..20 {
            let (x, y) = (
                tr.x + k as f32 * tr.angle.cos(),
                tr.y - k as f32 * tr.angle.sin(),
            );
            put(x, y, [0, 200, 0]);
        }
    }
    rgb.save("/tmp/dev_overlay.png").unwrap();
}
