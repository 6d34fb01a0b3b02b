//! Deterministic fingerprint-like test images: curved sinusoidal ridges around a core, inside
//! an elliptical print on a white background, with pressure variation and sensor noise.
#![allow(dead_code)]

/// A tiny deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Roughly normal, mean 0, deviation 1 (sum of four uniforms).
    pub fn normal(&mut self) -> f32 {
        (self.unit() + self.unit() + self.unit() + self.unit() - 2.0) * 1.732
    }
}

/// Draws one print into `img` (`w` wide): centre, semi-axes, seed.
fn print(img: &mut [u8], w: usize, h: usize, c: (f32, f32), axes: (f32, f32), seed: u64) {
    let mut rng = Rng::new(seed);
    let (cx, cy) = c;
    let (ax, by) = axes;
    // Core slightly above the centre; ridge period 9–10 px (500 ppi).
    let core = (
        cx + (rng.unit() - 0.5) * ax * 0.3,
        cy - by * (0.1 + 0.2 * rng.unit()),
    );
    let freq = 2.0 * std::f32::consts::PI / (9.0 + rng.unit());
    let twist = 0.5 + rng.unit();
    let wobble = rng.unit() * 6.0;
    let noise = 6.0 + 8.0 * rng.unit();
    let x0 = (cx - ax).max(0.0) as usize;
    let x1 = ((cx + ax) as usize + 1).min(w);
    let y0 = (cy - by).max(0.0) as usize;
    let y1 = ((cy + by) as usize + 1).min(h);
    for y in y0..y1 {
        for x in x0..x1 {
            let (fx, fy) = (x as f32, y as f32);
            let e = ((fx - cx) / ax).powi(2) + ((fy - cy) / by).powi(2);
            if e >= 1.0 {
                continue;
            }
            let (dx, dy) = (fx - core.0, (fy - core.1) * 1.25);
            let r = (dx * dx + dy * dy).sqrt();
            let phase =
                freq * r + twist * dy.atan2(dx) + wobble * (fx * 0.013).sin() * (fy * 0.011).cos();
            // Pressure: full contrast in the middle, fading to the edge.
            let pressure = (1.0 - e).sqrt();
            let v = 150.0 - 105.0 * pressure * phase.cos() + noise * rng.normal();
            let edge = ((1.0 - e) * 12.0).min(1.0);
            let v = 255.0 * (1.0 - edge) + v * edge;
            img[y * w + x] = v.clamp(0.0, 255.0) as u8;
        }
    }
}

/// A single-finger image, `w` × `h`, print filling most of the frame.
pub fn finger(w: u32, h: u32, seed: u64) -> Vec<u8> {
    let (w, h) = (w as usize, h as usize);
    let mut img = vec![255u8; w * h];
    let c = (w as f32 / 2.0, h as f32 / 2.0);
    print(&mut img, w, h, c, (w as f32 * 0.42, h as f32 * 0.46), seed);
    img
}

/// A four-finger slap, `w` × `h`.
pub fn slap(w: u32, h: u32, seed: u64) -> Vec<u8> {
    let (w, h) = (w as usize, h as usize);
    let mut img = vec![255u8; w * h];
    let cy = [0.42f32, 0.34, 0.40, 0.52];
    for (i, &fy) in cy.iter().enumerate() {
        let c = ((i as f32 + 0.5) * w as f32 / 4.0, fy * h as f32);
        let axes = (w as f32 * 0.11, h as f32 * 0.2);
        print(&mut img, w, h, c, axes, seed * 10 + i as u64);
    }
    img
}

/// Root-mean-square error and PSNR (dB) between two images.
pub fn rmse_psnr(a: &[u8], b: &[u8]) -> (f64, f64) {
    assert_eq!(a.len(), b.len());
    let se: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    let rmse = (se / a.len() as f64).sqrt();
    (rmse, 20.0 * (255.0 / rmse.max(1e-9)).log10())
}

/// Bits per pixel of a file.
pub fn bpp(file: &[u8], w: u32, h: u32) -> f64 {
    file.len() as f64 * 8.0 / (f64::from(w) * f64::from(h))
}
