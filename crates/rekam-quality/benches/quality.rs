//! Criterion benches: `assess` on an 800×750 finger (target < 20 ms) and `segment_slap` on a
//! 1600×1500 four-finger slap (target < 30 ms, including the quality of every crop).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rekam_quality::{SlapKind, assess, segment_slap};
use rekam_synth::{
    Degradation, Hand, Impression, MasterFinger, SlapFinger, degrade, master, render_finger,
    render_four_finger_slap, render_thumbs_slap,
};

fn bench_assess(c: &mut Criterion) {
    let img = render_finger(&master(7), 800, 750, &Impression::clean());
    c.bench_function("assess 800x750 clean", |b| {
        b.iter(|| assess(black_box(&img)))
    });
    let noisy = degrade(&img, Degradation::Noise(0.6), 7);
    c.bench_function("assess 800x750 noisy", |b| {
        b.iter(|| assess(black_box(&noisy)))
    });
}

fn bench_segment(c: &mut Criterion) {
    let masters: Vec<MasterFinger> = (0..4).map(|i| master(40 + i)).collect();
    let fingers: [SlapFinger<'_>; 4] = std::array::from_fn(|i| SlapFinger {
        master: Some(&masters[i]),
        impression: Impression::random(50 + i as u64, 0.3),
    });
    let (slap, _) = render_four_finger_slap(Hand::Right, &fingers, 1600, 1500);
    c.bench_function("segment_slap 1600x1500 four fingers", |b| {
        b.iter(|| segment_slap(black_box(&slap), SlapKind::RightFour, &[]).unwrap())
    });
    let thumbs: [SlapFinger<'_>; 2] = std::array::from_fn(|i| SlapFinger {
        master: Some(&masters[i]),
        impression: Impression::random(60 + i as u64, 0.3),
    });
    let (slap, _) = render_thumbs_slap(&thumbs, 1600, 1500);
    c.bench_function("segment_slap 1600x1500 thumbs", |b| {
        b.iter(|| segment_slap(black_box(&slap), SlapKind::Thumbs, &[]).unwrap())
    });
}

criterion_group!(benches, bench_assess, bench_segment);
criterion_main!(benches);
