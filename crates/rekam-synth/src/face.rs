//! Face-like test frames for camera simulators and face/ICAO pipeline tests.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::util::smoothstep;

/// A synthetic frontal portrait with known eye centres.
///
/// Eye naming follows the subject: `left_eye` is the subject's left eye, which appears on
/// the **right** side of the image; `right_eye` appears on the left. Coordinates are pixel
/// centres `(x, y)` (x right, y down).
#[derive(Clone, Debug)]
pub struct FaceFrame {
    /// The RGB frame.
    pub image: image::RgbImage,
    /// Centre of the subject's left eye (image right), pixels.
    pub left_eye: (f32, f32),
    /// Centre of the subject's right eye (image left), pixels.
    pub right_eye: (f32, f32),
}

/// An axis-aligned ellipse layer with a soft (anti-aliased) edge.
struct Ell {
    cx: f32,
    cy: f32,
    a: f32,
    b: f32,
}

impl Ell {
    /// Coverage 0..1 at a pixel centre (edge softness ~1 px, `soft` more if asked).
    fn cov(&self, x: f32, y: f32, soft: f32) -> f32 {
        let nx = (x - self.cx) / self.a.max(0.5);
        let ny = (y - self.cy) / self.b.max(0.5);
        let rho = (nx * nx + ny * ny).sqrt();
        let d = (1.0 - rho) * self.a.min(self.b);
        smoothstep(-0.5 - soft, 0.5 + soft, d)
    }
}

fn mix(c: [f32; 3], d: [f32; 3], a: f32) -> [f32; 3] {
    [
        c[0] + (d[0] - c[0]) * a,
        c[1] + (d[1] - c[1]) * a,
        c[2] + (d[2] - c[2]) * a,
    ]
}

/// Render a face-like test frame: a plain light-blue/white background, shoulders, neck, a
/// skin-toned face oval with hair, ears, two eyes (white, iris, pupil, brows), a nose and a
/// mouth. Face size, position, skin, hair and iris colours vary with `seed`. The face is
/// centred horizontally (± 3 %) with the eyes a little above mid-height, about as in an
/// ICAO-style portrait; the inter-eye distance is about 22 % of the frame width.
pub fn render_face(seed: u64, width: u32, height: u32) -> FaceFrame {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xFACE_FACE_FACE_FACE);
    let w = width as f32;
    let h = height as f32;
    let bg_top = [
        rng.random_range(205.0f32..232.0),
        rng.random_range(222.0f32..240.0),
        rng.random_range(238.0f32..252.0),
    ];
    let bg_bottom = [
        (bg_top[0] + 18.0).min(250.0),
        (bg_top[1] + 12.0).min(250.0),
        (bg_top[2] + 4.0).min(252.0),
    ];
    let skins = [
        [241.0f32, 200.0, 170.0],
        [224.0, 172.0, 135.0],
        [198.0, 145.0, 108.0],
        [160.0, 110.0, 78.0],
        [118.0, 80.0, 58.0],
    ];
    let skin = skins[rng.random_range(0..skins.len())];
    // The camera's auto-exposure brings the face to a usable level: the darkest tones are
    // lifted, as an exposure set on the face would.
    let lift = (115.0 / (0.3 * skin[0] + 0.59 * skin[1] + 0.11 * skin[2])).max(1.0);
    let skin = [skin[0] * lift, skin[1] * lift, skin[2] * lift];
    let hairs = [
        [20.0f32, 16.0, 14.0],
        [45.0, 32.0, 24.0],
        [90.0, 60.0, 35.0],
        [150.0, 120.0, 80.0],
        [110.0, 108.0, 105.0],
    ];
    let mut hair = hairs[rng.random_range(0..hairs.len())];
    // Keep hair clearly distinct from the skin.
    let luma = |c: [f32; 3]| 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2];
    while luma(skin) - luma(hair) < 70.0 && luma(hair) > 25.0 {
        hair = [hair[0] * 0.7, hair[1] * 0.7, hair[2] * 0.7];
    }
    let irises = [
        [70.0f32, 45.0, 25.0],
        [35.0, 25.0, 20.0],
        [60.0, 90.0, 120.0],
        [80.0, 100.0, 60.0],
    ];
    let iris = irises[rng.random_range(0..irises.len())];
    let shirt = [
        rng.random_range(20.0f32..200.0),
        rng.random_range(20.0f32..200.0),
        rng.random_range(20.0f32..200.0),
    ];
    let lips = mix(skin, [170.0, 60.0, 70.0], 0.55);

    let fa = (w.min(h * 0.8)) * rng.random_range(0.20f32..0.24);
    let fb = fa * rng.random_range(1.28f32..1.42);
    let cx = w * 0.5 + w * rng.random_range(-0.03f32..0.03);
    let cy = h * 0.46 + h * rng.random_range(-0.02f32..0.02);
    let eye_dx = fa * rng.random_range(0.44f32..0.52);
    let eye_y = cy - fb * rng.random_range(0.06f32..0.14);
    let right_eye = (cx - eye_dx, eye_y);
    let left_eye = (cx + eye_dx, eye_y);

    let face = Ell {
        cx,
        cy,
        a: fa,
        b: fb,
    };
    let hair_e = Ell {
        cx,
        cy: cy - fb * 0.12,
        a: fa * 1.13,
        b: fb * 1.05,
    };
    let hair_cut = cy - fb * rng.random_range(0.5f32..0.62);
    let neck_w = fa * 0.52;
    let neck_top = cy + fb * 0.6;
    let shoulders = Ell {
        cx,
        cy: cy + fb * 2.45,
        a: fa * 2.6,
        b: fb * 0.95,
    };
    let ears = [
        Ell {
            cx: cx - fa * 0.98,
            cy: eye_y + fb * 0.12,
            a: fa * 0.13,
            b: fb * 0.2,
        },
        Ell {
            cx: cx + fa * 0.98,
            cy: eye_y + fb * 0.12,
            a: fa * 0.13,
            b: fb * 0.2,
        },
    ];
    let eye_a = fa * 0.19;
    let eye_b = fa * 0.075;
    let iris_r = fa * 0.068;
    let pupil_r = fa * 0.03;
    let brow_y = eye_y - fa * 0.2;
    let nose_y = cy + fb * 0.28;
    let mouth = Ell {
        cx,
        cy: cy + fb * 0.55,
        a: fa * 0.3,
        b: fa * 0.065,
    };

    let mut img = image::RgbImage::new(width, height);
    for (x, y, px) in img.enumerate_pixels_mut() {
        let xf = x as f32 + 0.5;
        let yf = y as f32 + 0.5;
        let t = if h > 0.0 { yf / h } else { 0.0 };
        let mut c = mix(bg_top, bg_bottom, t);
        // Shoulders and neck.
        c = mix(c, shirt, shoulders.cov(xf, yf, 1.0));
        let neck =
            smoothstep(-1.0, 1.0, neck_w - (xf - cx).abs()) * smoothstep(-1.0, 1.0, yf - neck_top);
        let neck_shade = mix(skin, [0.0, 0.0, 0.0], 0.18);
        c = mix(c, neck_shade, neck * (1.0 - shoulders.cov(xf, yf, 1.0)));
        // Hair behind the face.
        c = mix(c, hair, hair_e.cov(xf, yf, 1.5));
        for e in &ears {
            c = mix(c, mix(skin, [0.0, 0.0, 0.0], 0.1), e.cov(xf, yf, 0.5));
        }
        // Face with soft shading towards the border.
        let fc = face.cov(xf, yf, 0.7);
        if fc > 0.0 {
            let nx = (xf - cx) / fa;
            let ny = (yf - cy) / fb;
            let shade = 1.0 - 0.16 * (nx * nx + 0.6 * ny * ny).min(1.0);
            let sk = [skin[0] * shade, skin[1] * shade, skin[2] * shade];
            c = mix(c, sk, fc);
            // Fringe / hairline over the forehead.
            let fringe = smoothstep(
                1.5,
                -1.5,
                yf - (hair_cut + fa * 0.12 * ((xf - cx) / fa * 2.5).cos()),
            );
            c = mix(c, hair, fringe * fc * hair_e.cov(xf, yf, 1.5));
            // Modelling light from the front, as a camera sees a real face: shadowed eye
            // sockets and nose flanks, lit cheeks and nose ridge (the light and dark
            // regions a face detector keys on).
            let dark = |c: [f32; 3], k: f32| mix(c, [0.0, 0.0, 0.0], k);
            for ex in [right_eye.0, left_eye.0] {
                let socket = Ell {
                    cx: ex,
                    cy: eye_y - eye_b * 0.6,
                    a: eye_a * 1.45,
                    b: eye_a * 0.85,
                }
                .cov(xf, yf, fa * 0.08);
                c = dark(c, 0.5 * socket * fc);
                let cheek = Ell {
                    cx: cx + (ex - cx) * 0.95,
                    cy: eye_y + fb * 0.3,
                    a: fa * 0.3,
                    b: fb * 0.16,
                }
                .cov(xf, yf, fa * 0.1);
                let lit = 1.0 + 0.14 * cheek * fc;
                c = [c[0] * lit, c[1] * lit, c[2] * lit];
            }
            for s in [-1.0f32, 1.0] {
                let flank = smoothstep(fa * 0.1, 0.0, (xf - cx - s * fa * 0.13).abs())
                    * smoothstep(eye_y + fb * 0.02, eye_y + fb * 0.15, yf)
                    * smoothstep(nose_y + fb * 0.04, nose_y - fb * 0.02, yf);
                c = dark(c, 0.22 * flank * fc);
            }
            let under = Ell {
                cx,
                cy: (nose_y + mouth.cy) * 0.5,
                a: fa * 0.28,
                b: fb * 0.08,
            }
            .cov(xf, yf, fa * 0.06);
            c = dark(c, 0.12 * under * fc);
            // Brows.
            for ex in [right_eye.0, left_eye.0] {
                let bx = (xf - ex) / (eye_a * 1.15);
                let by = yf - (brow_y - fa * 0.04 * (1.0 - bx * bx));
                let brow = smoothstep(1.0, 0.8, bx.abs())
                    * smoothstep(fa * 0.035 + 1.0, fa * 0.035 - 1.0, by.abs());
                c = mix(c, hair, brow * 0.9);
            }
            // Eyes.
            for (ex, ey) in [right_eye, left_eye] {
                let white = Ell {
                    cx: ex,
                    cy: ey,
                    a: eye_a,
                    b: eye_b,
                }
                .cov(xf, yf, 0.3);
                c = mix(c, mix(skin, [235.0, 232.0, 225.0], 0.35), white);
                let d = ((xf - ex).powi(2) + (yf - ey).powi(2)).sqrt();
                let ir = smoothstep(0.7, -0.7, d - iris_r) * white;
                c = mix(c, iris, ir);
                let pu = smoothstep(0.7, -0.7, d - pupil_r) * white;
                c = mix(c, [10.0, 10.0, 12.0], pu);
                // Catch-light.
                let hl =
                    ((xf - ex - pupil_r * 0.6).powi(2) + (yf - ey + pupil_r * 0.6).powi(2)).sqrt();
                c = mix(
                    c,
                    [250.0, 250.0, 250.0],
                    smoothstep(0.6, -0.6, hl - pupil_r * 0.35) * white,
                );
                // Upper lid line.
                let lid = Ell {
                    cx: ex,
                    cy: ey,
                    a: eye_a * 1.05,
                    b: eye_b * 1.3,
                };
                let ring = lid.cov(xf, yf, 0.3) * (1.0 - white) * smoothstep(0.5, -0.5, yf - ey);
                c = mix(c, mix(skin, [0.0, 0.0, 0.0], 0.55), ring);
            }
            // Nose: a soft ridge shadow and two nostrils.
            let ridge = smoothstep(fa * 0.05, 0.0, (xf - cx - fa * 0.04).abs())
                * smoothstep(eye_y, eye_y + fb * 0.1, yf)
                * smoothstep(nose_y + 2.0, nose_y - fb * 0.05, yf);
            c = mix(c, mix(skin, [0.0, 0.0, 0.0], 0.25), ridge * 0.5);
            for s in [-1.0f32, 1.0] {
                let n = Ell {
                    cx: cx + s * fa * 0.09,
                    cy: nose_y,
                    a: fa * 0.045,
                    b: fa * 0.025,
                };
                c = mix(c, mix(skin, [0.0, 0.0, 0.0], 0.6), n.cov(xf, yf, 0.4));
            }
            // Mouth.
            c = mix(c, lips, mouth.cov(xf, yf, 0.6));
            let line = smoothstep(1.2, 0.0, (yf - mouth.cy).abs()) * mouth.cov(xf, yf, 0.0);
            c = mix(c, mix(lips, [0.0, 0.0, 0.0], 0.5), line);
        }
        px.0 = [
            c[0].round().clamp(0.0, 255.0) as u8,
            c[1].round().clamp(0.0, 255.0) as u8,
            c[2].round().clamp(0.0, 255.0) as u8,
        ];
    }
    FaceFrame {
        image: img,
        left_eye,
        right_eye,
    }
}
