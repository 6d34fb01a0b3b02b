//! Face and eye detection plus both token images on a 12-megapixel still: the astronaut
//! photograph of Debian's python3-skimage (NASA, public domain) upscaled to 4000 × 4000 and
//! cut to 4000 × 3000, with the cascades of Debian's opencv-data. Goal: under 150 ms.
//!
//! `cargo bench -p rekam-face --bench token`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use rekam_face::{FaceAnalyser, TokenGeometry, make_token};

const PHOTO: &str = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png";

fn still_12mp() -> image::RgbImage {
    let img = image::open(PHOTO)
        .unwrap_or_else(|e| panic!("{PHOTO}: {e} (install Debian's python3-skimage)"))
        .into_rgb8();
    let big = image::imageops::resize(&img, 4000, 4000, image::imageops::FilterType::Triangle);
    image::imageops::crop_imm(&big, 0, 0, 4000, 3000).to_image()
}

fn bench_token(c: &mut Criterion) {
    let analyser = FaceAnalyser::load(Path::new(rekam_face::DEFAULT_MODEL_DIR))
        .unwrap_or_else(|e| panic!("{e}"));
    let still = still_12mp();
    let run = || {
        let report = analyser.analyse(&still);
        let eyes = report.eyes.expect("a face in the still");
        let card = make_token(&still, &eyes, TokenGeometry::CARD).unwrap();
        let dg2 = make_token(&still, &eyes, TokenGeometry::DG2).unwrap();
        (report, card, dg2)
    };
    let t = Instant::now();
    let (report, _, _) = run();
    eprintln!(
        "one run: {:.1} ms, faces {}, eyes {:?}",
        t.elapsed().as_secs_f64() * 1e3,
        report.faces.len(),
        report.eyes
    );
    c.bench_function("analyse + card and DG2 tokens, 4000x3000", |b| b.iter(run));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench_token
}
criterion_main!(benches);
