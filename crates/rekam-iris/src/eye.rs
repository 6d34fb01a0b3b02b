//! The synthetic eye: a dark pupil, an iris of radial fibres and crypts, a light sclera and
//! the eyelids, all following from a seed.

use rekam_core::sim::splitmix64;
use rekam_core::{Eye, GreyImage};

/// Width of an eye image, as the ISO/IEC 19794-6 cropped (K3) images of VGA iris cameras.
pub const EYE_WIDTH: u32 = 640;
/// Height of an eye image.
pub const EYE_HEIGHT: u32 = 480;
/// The iris radius in pixels: a 240-pixel diameter, above the 210 MOSIP asks of
/// registration devices.
pub const IRIS_RADIUS: f32 = 120.0;

/// A rendered eye and what the renderer knows of it.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedEye {
    /// The image, 8-bit grey, [`EYE_WIDTH`] x [`EYE_HEIGHT`] (`ppi` 0: iris images carry no
    /// resolution).
    pub image: GreyImage,
    /// The share of the iris (between pupil and sclera) the eyelids leave visible, 0–1.
    pub visible_iris: f32,
    /// The pupil radius in pixels.
    pub pupil_radius: f32,
}

/// A value 0..1 from a hash of `seed` and `k`.
fn unit(seed: u64, k: u64) -> f32 {
    (splitmix64(seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15)) >> 40) as f32 / (1u64 << 24) as f32
}

/// Renders `eye` of the applicant `seed`. `occlusion` is how far the upper eyelid comes
/// down over the iris, 0 (open eye: the lids just touch the iris) to 1 (the lid at the
/// pupil's centre). The same arguments always give the same image.
pub fn render_eye(seed: u64, eye: Eye, occlusion: f32) -> RenderedEye {
    let s = splitmix64(seed ^ if eye == Eye::Right { 0x5249 } else { 0x4C45 });
    let (w, h) = (EYE_WIDTH, EYE_HEIGHT);
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let pupil = 38.0 + 22.0 * unit(s, 1);
    let base = 85.0 + 50.0 * unit(s, 2);
    // Radial fibres: a few sine components of the angle with seeded frequencies and phases.
    let fibres: Vec<(f32, f32, f32)> = (0..5)
        .map(|i| {
            (
                (7 + (unit(s, 10 + i) * 40.0) as u32) as f32,
                unit(s, 20 + i) * std::f32::consts::TAU,
                8.0 + 10.0 * unit(s, 30 + i),
            )
        })
        .collect();
    // Crypts: dark spots in the iris.
    let crypts: Vec<(f32, f32, f32)> = (0..12)
        .map(|i| {
            let a = unit(s, 40 + i) * std::f32::consts::TAU;
            let r = pupil + 10.0 + (IRIS_RADIUS - pupil - 20.0) * unit(s, 60 + i);
            (
                cx + r * a.cos(),
                cy + r * a.sin(),
                4.0 + 7.0 * unit(s, 80 + i),
            )
        })
        .collect();
    let occlusion = occlusion.clamp(0.0, 1.0);
    // The upper lid's edge at the iris centre: from the iris top (open) down to the centre.
    let upper = cy - IRIS_RADIUS * (1.0 - occlusion);
    let lower = cy + IRIS_RADIUS * 0.95;
    let mut pixels = Vec::with_capacity((w * h) as usize);
    let (mut iris_px, mut visible_px) = (0u32, 0u32);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32, y as f32);
            let (dx, dy) = (fx - cx, fy - cy);
            let r = (dx * dx + dy * dy).sqrt();
            // The lids are arcs: their edge moves away from the centre line outwards.
            let bend = (dx / (w as f32 / 2.0)).powi(2) * 140.0;
            let under_upper = fy < upper + bend;
            let under_lower = fy > lower - bend * 0.6;
            let in_iris = r >= pupil && r < IRIS_RADIUS;
            if in_iris {
                iris_px += 1;
            }
            let v = if under_upper || under_lower {
                // Skin with a darker lash line along the upper lid's edge.
                let edge = (fy - (upper + bend)).abs();
                if under_upper && edge < 6.0 {
                    40.0
                } else {
                    175.0 + 10.0 * ((fx * 0.05).sin() * (fy * 0.07).cos())
                }
            } else if r < pupil {
                12.0
            } else if in_iris {
                visible_px += 1;
                let a = dy.atan2(dx);
                let t = (r - pupil) / (IRIS_RADIUS - pupil);
                let mut v = base + 25.0 * (1.0 - t) - 15.0 * t;
                for &(f, p, amp) in &fibres {
                    v += amp * (a * f + p + r * 0.04).sin();
                }
                for &(px, py, pr) in &crypts {
                    let d = ((fx - px).powi(2) + (fy - py).powi(2)).sqrt();
                    if d < pr {
                        v -= 35.0 * (1.0 - d / pr);
                    }
                }
                // A darker limbal ring at the iris edge.
                if r > IRIS_RADIUS - 8.0 {
                    v -= 30.0;
                }
                v
            } else {
                215.0 - 20.0 * ((r - IRIS_RADIUS) / 200.0).min(1.0)
            };
            pixels.push(v.clamp(0.0, 255.0) as u8);
        }
    }
    RenderedEye {
        image: GreyImage {
            width: w,
            height: h,
            ppi: 0,
            pixels,
        },
        visible_iris: visible_px as f32 / iris_px.max(1) as f32,
        pupil_radius: pupil,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(img: &GreyImage, x: u32, y: u32) -> u8 {
        img.pixels[(y * img.width + x) as usize]
    }

    #[test]
    fn an_eye_has_a_dark_pupil_a_textured_iris_and_a_light_sclera() {
        let e = render_eye(7, Eye::Right, 0.0);
        let img = &e.image;
        assert_eq!((img.width, img.height), (EYE_WIDTH, EYE_HEIGHT));
        assert_eq!(img.pixels.len(), (EYE_WIDTH * EYE_HEIGHT) as usize);
        let (cx, cy) = (EYE_WIDTH / 2, EYE_HEIGHT / 2);
        assert!(at(img, cx, cy) < 30, "pupil");
        assert!(at(img, cx + 200, cy) > 180, "sclera");
        // The iris ring is neither: and it is textured (not one grey).
        let ring: Vec<u8> = (0..360)
            .map(|d| {
                let a = (d as f32).to_radians();
                let r = (e.pupil_radius + IRIS_RADIUS) / 2.0;
                at(
                    img,
                    (cx as f32 + r * a.cos()) as u32,
                    (cy as f32 + r * a.sin()) as u32,
                )
            })
            .collect();
        let (min, max) = (ring.iter().min().unwrap(), ring.iter().max().unwrap());
        assert!(max - min > 30, "texture: {min}..{max}");
        assert!(e.visible_iris > 0.9, "open eye: {}", e.visible_iris);
    }

    #[test]
    fn eyes_follow_from_the_seed_and_differ_by_eye_and_applicant() {
        let a = render_eye(3, Eye::Left, 0.0);
        assert_eq!(a, render_eye(3, Eye::Left, 0.0));
        assert_ne!(a.image, render_eye(3, Eye::Right, 0.0).image);
        assert_ne!(a.image, render_eye(4, Eye::Left, 0.0).image);
    }

    #[test]
    fn the_eyelid_hides_the_iris_as_far_as_it_comes_down() {
        let open = render_eye(5, Eye::Right, 0.0).visible_iris;
        let half = render_eye(5, Eye::Right, 0.6).visible_iris;
        assert!(half < open - 0.3, "{half} vs {open}");
    }
}
