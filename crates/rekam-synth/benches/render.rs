//! Rendering speed of the synthetic biometric generators.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use rekam_synth::{
    Degradation, Hand, Impression, SlapFinger, degrade, ground_truth_minutiae, master, render_face,
    render_finger, render_four_finger_slap, render_signature_trace,
};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let m = master(42);
    let clean = Impression::clean();
    let rough = Impression::random(7, 0.7);
    c.bench_function("master", |b| b.iter(|| master(black_box(42))));
    c.bench_function("finger_800x750_clean", |b| {
        b.iter(|| render_finger(black_box(&m), 800, 750, &clean))
    });
    c.bench_function("finger_800x750_rough", |b| {
        b.iter(|| render_finger(black_box(&m), 800, 750, &rough))
    });
    c.bench_function("ground_truth_800x750", |b| {
        b.iter(|| ground_truth_minutiae(black_box(&m), 800, 750, &rough))
    });
    let ms: Vec<_> = (0..4).map(|i| master(100 + i)).collect();
    let fingers: [SlapFinger<'_>; 4] = std::array::from_fn(|i| SlapFinger {
        master: Some(&ms[i]),
        impression: Impression::random(i as u64, 0.3),
    });
    c.bench_function("slap_1600x1500", |b| {
        b.iter(|| render_four_finger_slap(Hand::Right, black_box(&fingers), 1600, 1500))
    });
    let img = render_finger(&m, 800, 750, &clean);
    c.bench_function("degrade_blur_800x750", |b| {
        b.iter(|| degrade(black_box(&img), Degradation::Blur(0.5), 1))
    });
    c.bench_function("face_480x640", |b| {
        b.iter(|| render_face(black_box(3), 480, 640))
    });
    c.bench_function("signature_200hz", |b| {
        b.iter(|| render_signature_trace(black_box(3), 600.0, 200.0, 200))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
