//! `imp SEED IMPSEED SEVERITY OUT [key=value...]`: render master(SEED) with
//! Impression::random(IMPSEED, SEVERITY), fields overridden by key=value pairs.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use rekam_synth::*;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let m = master(a[1].parse().unwrap());
    let mut imp = Impression::random(a[2].parse().unwrap(), a[3].parse().unwrap());
    for kv in &a[5..] {
        let (k, v) = kv.split_once('=').unwrap();
        let v: f32 = v.parse().unwrap();
        match k {
            "noise" => imp.noise = v,
            "blur" => imp.blur = v,
            "contrast" => imp.contrast = v,
            "elastic" => imp.elastic = v,
            "partial" => imp.partial = v,
            "rot" => imp.rotation_deg = v,
            _ => panic!("unknown {k}"),
        }
    }
    println!("{imp:?}");
    let img = render_finger(&m, 800, 750, &imp);
    println!(
        "print pixels (<250): {}",
        img.as_raw().iter().filter(|&&v| v < 250).count()
    );
    img.save(&a[4]).unwrap();
}
