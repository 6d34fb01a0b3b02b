//! Renders one finger many times (for profiling).
#![allow(clippy::unwrap_used, clippy::expect_used)]
use rekam_synth::*;
fn main() {
    let m = master(42);
    let imp = Impression::random(7, 0.7);
    let t = std::time::Instant::now();
    let mut s = 0u64;
    for _ in 0..40 {
        s += u64::from(render_finger(&m, 800, 750, &imp).as_raw()[1000]);
    }
    println!("{s} {:?}/render", t.elapsed() / 40);
}
