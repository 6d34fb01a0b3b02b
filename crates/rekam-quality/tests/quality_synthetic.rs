//! Quality scores on synthetic fingers from `rekam-synth`.

use image::GrayImage;
use rekam_quality::{GOOD_FROM, RECAPTURE_BELOW, Verdict, assess, assess_with_minutiae};
use rekam_synth::{Degradation, Impression, degrade, master, render_finger};

const STRENGTHS: [f32; 6] = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
/// Seeds outside the calibration set (1..=24).
const SEEDS: [u64; 3] = [101, 102, 103];
/// Frame that holds a whole synthetic print (the prints are the same size as in 800x750).
const W: u32 = 560;
const H: u32 = 600;

fn finger(seed: u64) -> GrayImage {
    render_finger(&master(seed), W, H, &Impression::clean())
}

type Make = fn(f32) -> Degradation;

fn kinds() -> [(&'static str, Make); 4] {
    [
        ("blur", Degradation::Blur),
        ("noise", Degradation::Noise),
        ("low contrast", Degradation::LowContrast),
        ("partial", Degradation::Partial),
    ]
}

#[test]
fn score_falls_monotonically_with_every_degradation() {
    for seed in SEEDS {
        let img = finger(seed);
        for (name, make) in kinds() {
            let scores: Vec<u8> = STRENGTHS
                .iter()
                .map(|&s| assess(&degrade(&img, make(s), seed)).score)
                .collect();
            for k in 1..scores.len() {
                assert!(
                    scores[k] < scores[k - 1] || (scores[k] == 0 && scores[k - 1] == 0),
                    "seed {seed}, {name}: scores {scores:?} do not fall at strength {}",
                    STRENGTHS[k]
                );
            }
            assert!(
                scores[5] + 40 <= scores[0],
                "seed {seed}, {name}: full strength {scores:?} should cost at least 40 points"
            );
        }
    }
}

#[test]
fn clean_fingers_score_high_and_blank_images_near_zero() {
    for seed in SEEDS {
        let r = assess(&finger(seed));
        assert!(r.score > 60, "seed {seed}: {r:?}");
        assert!(r.score >= GOOD_FROM, "seed {seed}: {r:?}");
        assert_eq!(r.verdict, Verdict::Good);
        assert!(r.features.minutiae_count > 10, "seed {seed}: {r:?}");
    }
    for v in [0u8, 128, 230, 255] {
        let r = assess(&GrayImage::from_pixel(W, H, image::Luma([v])));
        assert!(r.score <= 5, "flat {v}: {r:?}");
        assert_eq!(r.verdict, Verdict::Recapture);
    }
    // A flat image with sensor noise only.
    let noisy = degrade(
        &GrayImage::from_pixel(W, H, image::Luma([200])),
        Degradation::Noise(0.5),
        3,
    );
    assert!(assess(&noisy).score <= 5);
}

#[test]
fn heavy_degradation_asks_for_recapture() {
    let img = finger(104);
    for d in [
        Degradation::Blur(1.0),
        Degradation::LowContrast(1.0),
        Degradation::Partial(0.9),
    ] {
        let r = assess(&degrade(&img, d, 104));
        assert!(r.score < RECAPTURE_BELOW, "{d:?}: {r:?}");
        assert_eq!(r.verdict, Verdict::Recapture, "{d:?}");
    }
}

#[test]
fn minutiae_count_from_an_extractor_moves_the_score() {
    let img = finger(105);
    let own = assess(&img);
    let few = assess_with_minutiae(&img, 2);
    let many = assess_with_minutiae(&img, 120);
    assert_eq!(few.features.ocl, own.features.ocl);
    assert!(
        few.score < own.score && own.score < many.score,
        "{} {} {}",
        few.score,
        own.score,
        many.score
    );
}
