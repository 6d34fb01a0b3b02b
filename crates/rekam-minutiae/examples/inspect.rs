#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Extracts the minutiae of a finger image and draws them:
//! `cargo run --release -p rekam-minutiae --example inspect -- in.png [out.png]`
//! or, on a rekam-synth finger: `... --example inspect -- synth:<seed>[:<severity>] [out.png]`
//! (then the ground truth is drawn too, in green, and recall/precision are printed).
//! Minutiae are red (a bar across the position, a line along the direction), the skeleton blue.

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let input = args.get(1).map(String::as_str).unwrap_or("synth:1");
    let out = args.get(2).map(String::as_str).unwrap_or("inspect.png");
    let (img, truth) = if let Some(spec) = input.strip_prefix("synth:") {
        let mut it = spec.split(':');
        let seed: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(1);
        let sev: f32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
        let m = rekam_synth::master(seed);
        let imp = if sev > 0.0 {
            rekam_synth::Impression::random(seed * 1000 + 1, sev)
        } else {
            rekam_synth::Impression::clean()
        };
        let truth = rekam_synth::ground_truth_minutiae(&m, 800, 750, &imp);
        (rekam_synth::render_finger(&m, 800, 750, &imp), truth)
    } else {
        (image::open(input).unwrap().to_luma8(), Vec::new())
    };
    let t0 = Instant::now();
    let t = rekam_minutiae::extract(&img).unwrap();
    println!("{} minutiae in {:?}", t.minutiae.len(), t0.elapsed());
    let (_, dbg) = rekam_minutiae::extract_debug(&img).unwrap();
    let mut rgb = image::RgbImage::from_fn(img.width(), img.height(), |x, y| {
        if dbg.skeleton.get_pixel(x, y)[0] == 0 {
            image::Rgb([0, 0, 255])
        } else {
            let g = img.get_pixel(x, y)[0] / 2 + 100;
            image::Rgb([g, g, g])
        }
    });
    let mut put = |x: f32, y: f32, c: [u8; 3]| {
        if x >= 0.0 && y >= 0.0 && (x as u32) < rgb.width() && (y as u32) < rgb.height() {
            rgb.put_pixel(x as u32, y as u32, image::Rgb(c));
        }
    };
    for tr in &truth {
        for k in 0..20 {
            put(
                tr.x + k as f32 * tr.angle.cos(),
                tr.y - k as f32 * tr.angle.sin(),
                [0, 200, 0],
            );
        }
    }
    for m in &t.minutiae {
        let (x, y) = (f32::from(m.x), f32::from(m.y));
        for k in 0..14 {
            put(
                x + k as f32 * m.angle.cos(),
                y - k as f32 * m.angle.sin(),
                [255, 0, 0],
            );
        }
        for k in -4..=4 {
            let (s, c) = (m.angle.sin(), m.angle.cos());
            put(x + k as f32 * s, y + k as f32 * c, [255, 0, 0]);
        }
    }
    rgb.save(out).unwrap();
    println!("wrote {out}");
    if !truth.is_empty() {
        let (mut hits, mut used) = (0, vec![false; t.minutiae.len()]);
        for tr in &truth {
            let best = t
                .minutiae
                .iter()
                .enumerate()
                .filter(|(i, m)| {
                    let d = (f32::from(m.x) - tr.x).hypot(f32::from(m.y) - tr.y);
                    let a = (m.angle - tr.angle).rem_euclid(std::f32::consts::TAU);
                    !used[*i] && d <= 10.0 && a.min(std::f32::consts::TAU - a) <= 30f32.to_radians()
                })
                .min_by(|a, b| {
                    let da = (f32::from(a.1.x) - tr.x).hypot(f32::from(a.1.y) - tr.y);
                    let db = (f32::from(b.1.x) - tr.x).hypot(f32::from(b.1.y) - tr.y);
                    da.total_cmp(&db)
                });
            if let Some((i, _)) = best {
                used[i] = true;
                hits += 1;
            }
        }
        println!(
            "ground truth {}: recall {:.3}, precision {:.3}",
            truth.len(),
            hits as f32 / truth.len() as f32,
            hits as f32 / t.minutiae.len().max(1) as f32
        );
    }
}
