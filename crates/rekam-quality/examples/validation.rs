//! Prints the validation table of `VALIDATION.md`.
//!
//! ```text
//! cargo run --release -p rekam-quality --example validation [-- FIRST_SEED COUNT]
//! ```
//!
//! Synthetic fingers from `rekam-synth` (800×750, clean impression; seeds FIRST_SEED.. ,
//! default 101..=106, disjoint from the calibration seeds 1..=12) are degraded by blur,
//! noise, low contrast and partial print at strengths 0, 0.2, …, 1.0 and scored with
//! [`rekam_quality::assess`]. The table lists the scores per seed and flags any step where
//! the score does not fall.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use image::GrayImage;
use rekam_quality::{assess, quality::assess_opt};
use rekam_synth::{Degradation, Impression, degrade, master, render_finger};

const STRENGTHS: [f32; 6] = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
const KINDS: [&str; 4] = ["blur", "noise", "low contrast", "partial"];

fn degradation(kind: usize, s: f32) -> Degradation {
    match kind {
        0 => Degradation::Blur(s),
        1 => Degradation::Noise(s),
        2 => Degradation::LowContrast(s),
        _ => Degradation::Partial(s),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let first: u64 = args
        .next()
        .map(|s| s.parse().expect("FIRST_SEED"))
        .unwrap_or(101);
    let count: u64 = args.next().map(|s| s.parse().expect("COUNT")).unwrap_or(6);
    let seeds: Vec<u64> = (first..first + count).collect();
    let images: Vec<GrayImage> = seeds
        .iter()
        .map(|&s| render_finger(&master(s), 800, 750, &Impression::clean()))
        .collect();

    print!("| degradation | strength |");
    for s in &seeds {
        print!(" seed {s} |");
    }
    println!(" mean |");
    print!("| --- | --- |");
    for _ in &seeds {
        print!(" ---: |");
    }
    println!(" ---: |");
    let mut violations = 0;
    for (kind, name) in KINDS.iter().enumerate() {
        let mut prev: Vec<Option<u8>> = vec![None; seeds.len()];
        for &st in &STRENGTHS {
            print!("| {name} | {st:.1} |");
            let mut sum = 0u32;
            for (i, (img, &seed)) in images.iter().zip(&seeds).enumerate() {
                let score = assess(&degrade(img, degradation(kind, st), seed)).score;
                sum += u32::from(score);
                let mark = match prev[i] {
                    Some(p) if score >= p && !(p == 0 && score == 0) => {
                        violations += 1;
                        "!"
                    }
                    _ => "",
                };
                prev[i] = Some(score);
                print!(" {score}{mark} |");
            }
            println!(" {:.1} |", sum as f32 / seeds.len() as f32);
        }
    }
    println!();
    println!("steps where the score did not fall (marked !): {violations}");

    let blank = [
        ("white", GrayImage::from_pixel(800, 750, image::Luma([255]))),
        (
            "mid grey",
            GrayImage::from_pixel(800, 750, image::Luma([128])),
        ),
        ("black", GrayImage::from_pixel(800, 750, image::Luma([0]))),
    ];
    for (name, img) in &blank {
        println!("blank {name}: {}", assess(img).score);
    }
    let noise = degrade(
        &GrayImage::from_pixel(800, 750, image::Luma([128])),
        Degradation::Noise(1.0),
        1,
    );
    println!(
        "pure noise (sigma 60 on grey 128): {}",
        assess(&noise).score
    );
    // Typical genuine re-impressions (rotation, shift, distortion, mild noise/blur).
    for sev in [0.3f32, 0.6, 1.0] {
        let scores: Vec<u8> = seeds
            .iter()
            .map(|&s| {
                assess_opt(
                    &render_finger(&master(s), 800, 750, &Impression::random(s, sev)),
                    None,
                )
                .score
            })
            .collect();
        println!("Impression::random(seed, {sev}): {scores:?}");
    }
}
