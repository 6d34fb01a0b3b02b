//! `crop IN OUT X Y W H [SCALE]`: cut a region out of a PNG (and optionally scale it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let img = image::open(&a[1]).unwrap();
    let n = |i: usize| a[i].parse::<u32>().unwrap();
    let c = img.crop_imm(n(3), n(4), n(5), n(6));
    let s: f32 = a.get(7).map_or(1.0, |v| v.parse().unwrap());
    let c = if s != 1.0 {
        c.resize(
            (c.width() as f32 * s) as u32,
            (c.height() as f32 * s) as u32,
            image::imageops::FilterType::Triangle,
        )
    } else {
        c
    };
    c.save(&a[2]).unwrap();
}
