//! Renders one finger and one slap many times (for profiling): `loop_render [finger|slap]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use rekam_synth::*;
fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "finger".into());
    let m = master(42);
    let ms: Vec<_> = (0..4).map(|i| master(100 + i)).collect();
    let fingers: [SlapFinger<'_>; 4] = std::array::from_fn(|i| SlapFinger {
        master: Some(&ms[i]),
        impression: Impression::random(i as u64, 0.3),
    });
    let imp = Impression::random(7, 0.7);
    let n = 20;
    let t = std::time::Instant::now();
    let mut s = 0u64;
    for _ in 0..n {
        s += if what == "slap" {
            u64::from(
                render_four_finger_slap(Hand::Right, &fingers, 1600, 1500)
                    .0
                    .as_raw()[1000],
            )
        } else {
            u64::from(render_finger(&m, 800, 750, &imp).as_raw()[1000])
        };
    }
    println!("{what} {s} {:?}/render (wall)", t.elapsed() / n);
}
