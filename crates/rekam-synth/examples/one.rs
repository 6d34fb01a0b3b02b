//! `one SEED OUT [W H]`: render master(SEED) clean to OUT.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use rekam_synth::*;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let seed: u64 = a[1].parse().unwrap();
    let w: u32 = a.get(3).map_or(800, |v| v.parse().unwrap());
    let h: u32 = a.get(4).map_or(750, |v| v.parse().unwrap());
    let m = master(seed);
    println!(
        "{:?} T={} cores={:?} deltas={:?} minutiae={}",
        m.pattern,
        m.ridge_period,
        m.cores,
        m.deltas,
        m.minutiae.len()
    );
    render_finger(&m, w, h, &Impression::clean())
        .save(&a[2])
        .unwrap();
}
