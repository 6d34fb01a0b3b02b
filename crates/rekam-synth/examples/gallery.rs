//! Writes sample images to a directory (default /tmp/rekam-synth): fingers of every
//! pattern, impressions, slaps, degradations, a face and a signature plot.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rekam_synth::*;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/rekam-synth".into());
    std::fs::create_dir_all(&dir).unwrap();
    let pats = [
        Pattern::Arch,
        Pattern::TentedArch,
        Pattern::LeftLoop,
        Pattern::RightLoop,
        Pattern::Whorl,
    ];
    for (i, p) in pats.iter().enumerate() {
        for s in 0..2u64 {
            let m = master_with_pattern(100 + s, *p);
            let img = render_finger(&m, 800, 750, &Impression::clean());
            img.save(format!("{dir}/plain_{i}_{s}.png")).unwrap();
            let mut rgb = image::DynamicImage::ImageLuma8(img).to_rgb8();
            for mn in ground_truth_minutiae(&m, 800, 750, &Impression::clean()) {
                let col = if mn.kind == MinutiaKind::Ending {
                    [255, 0, 0]
                } else {
                    [0, 160, 255]
                };
                for k in 0..40 {
                    let (x, y) = if k < 24 {
                        let a = k as f32 * std::f32::consts::TAU / 24.0;
                        (mn.x + 5.0 * a.cos(), mn.y + 5.0 * a.sin())
                    } else {
                        let r = 5.0 + (k - 24) as f32;
                        (mn.x + r * mn.angle.cos(), mn.y - r * mn.angle.sin())
                    };
                    if x >= 0.0 && y >= 0.0 && (x as u32) < 800 && (y as u32) < 750 {
                        rgb.put_pixel(x as u32, y as u32, image::Rgb(col));
                    }
                }
            }
            rgb.save(format!("{dir}/finger_{i}_{s}.png")).unwrap();
        }
    }
    let m = master(7);
    for s in 0..3u64 {
        let imp = Impression::random(s, 0.6);
        render_finger(&m, 800, 750, &imp)
            .save(format!("{dir}/imp_{s}.png"))
            .unwrap();
    }
    let ms: Vec<_> = (0..4).map(|i| master(200 + i)).collect();
    let fingers = [
        SlapFinger {
            master: Some(&ms[0]),
            impression: Impression::clean(),
        },
        SlapFinger {
            master: Some(&ms[1]),
            impression: Impression::clean(),
        },
        SlapFinger {
            master: None,
            impression: Impression::clean(),
        },
        SlapFinger {
            master: Some(&ms[3]),
            impression: Impression::clean(),
        },
    ];
    let (img, _) = render_four_finger_slap(Hand::Right, &fingers, 1600, 1500);
    img.save(format!("{dir}/slap.png")).unwrap();
    let thumbs = [
        SlapFinger {
            master: Some(&ms[2]),
            impression: Impression::clean(),
        },
        SlapFinger {
            master: Some(&ms[3]),
            impression: Impression::random(9, 0.4),
        },
    ];
    let (img, _) = render_thumbs_slap(&thumbs, 1600, 1000);
    img.save(format!("{dir}/thumbs.png")).unwrap();
    let base = render_finger(&m, 400, 400, &Impression::clean());
    for (n, d) in [
        ("blur", Degradation::Blur(0.5)),
        ("noise", Degradation::Noise(0.5)),
        ("lowc", Degradation::LowContrast(0.6)),
        ("partial", Degradation::Partial(0.4)),
    ] {
        degrade(&base, d, 1)
            .save(format!("{dir}/deg_{n}.png"))
            .unwrap();
    }
    for s in 0..2 {
        let f = render_face(s, 480, 640);
        f.image.save(format!("{dir}/face_{s}.png")).unwrap();
    }
    let mut img = image::GrayImage::from_pixel(600, 800, image::Luma([255]));
    for seed in 0..4u64 {
        let tr = render_signature_trace(seed, 600.0, 200.0, 200);
        let oy = seed as f32 * 200.0;
        for w in tr.windows(2) {
            if w[0].pressure > 0.0 && w[1].pressure > 0.0 {
                for k in 0..=10 {
                    let f = k as f32 / 10.0;
                    let x = w[0].x + (w[1].x - w[0].x) * f;
                    let y = w[0].y + (w[1].y - w[0].y) * f + oy;
                    img.put_pixel((x as u32).min(599), (y as u32).min(799), image::Luma([0]));
                }
            }
        }
    }
    img.save(format!("{dir}/signature.png")).unwrap();
}
