#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Extraction of an 800x750 finger (target < 30 ms) and 1:1 matches (target < 1 ms), on
//! rekam-synth fingers.

use criterion::{Criterion, criterion_group, criterion_main};
use rekam_minutiae::{Minutia, MinutiaKind, Template, extract, match_score};
use rekam_synth::{Impression, master, render_finger};
use std::hint::black_box;

/// A template with `n` minutiae spread over a fingertip-sized area (worst-case density).
fn dense(seed: u64, n: usize) -> Template {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32
    };
    let minutiae = (0..n)
        .map(|_| Minutia {
            x: (250.0 + 300.0 * next()) as u16,
            y: (175.0 + 400.0 * next()) as u16,
            angle: next() * std::f32::consts::TAU,
            kind: MinutiaKind::Ending,
            quality: 50,
        })
        .collect();
    Template {
        width: 800,
        height: 750,
        ppi: 500,
        minutiae,
    }
}

fn benches(c: &mut Criterion) {
    let m1 = master(1);
    let m2 = master(2);
    let img = render_finger(&m1, 800, 750, &Impression::random(1001, 0.3));
    let img_b = render_finger(&m1, 800, 750, &Impression::random(1002, 0.3));
    let img_other = render_finger(&m2, 800, 750, &Impression::random(2001, 0.3));
    c.bench_function("extract 800x750", |b| {
        b.iter(|| extract(black_box(&img)).unwrap())
    });
    // A poor impression (noise, blur, low contrast): more skeleton clutter to clean up.
    let poor = render_finger(&m1, 800, 750, &Impression::random(12002, 1.0));
    c.bench_function("extract 800x750 poor impression", |b| {
        b.iter(|| extract(black_box(&poor)).unwrap())
    });
    let a = extract(&img).unwrap();
    let b2 = extract(&img_b).unwrap();
    let other = extract(&img_other).unwrap();
    c.bench_function("match genuine", |b| {
        b.iter(|| match_score(black_box(&a), black_box(&b2)))
    });
    c.bench_function("match impostor", |b| {
        b.iter(|| match_score(black_box(&a), black_box(&other)))
    });
    let (d1, d2) = (dense(1, 150), dense(2, 150));
    c.bench_function("match 150 vs 150 minutiae (worst case)", |b| {
        b.iter(|| match_score(black_box(&d1), black_box(&d2)))
    });
}

criterion_group!(minutiae, benches);
criterion_main!(minutiae);
