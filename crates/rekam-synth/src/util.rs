//! Small numeric helpers shared by the generators: 2-D vectors, smooth minimum, segment
//! distance, smooth value-noise fields and a fast per-pixel hash.

use rand::Rng;

/// A 2-D point or vector in pixel units (x right, y down).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub(crate) struct V2 {
    pub x: f32,
    pub y: f32,
}

impl V2 {
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }
    pub fn polar(len: f32, angle: f32) -> Self {
        Self::new(len * angle.cos(), len * angle.sin())
    }
    pub fn add(self, o: V2) -> V2 {
        V2::new(self.x + o.x, self.y + o.y)
    }
    pub fn sub(self, o: V2) -> V2 {
        V2::new(self.x - o.x, self.y - o.y)
    }
    pub fn scale(self, s: f32) -> V2 {
        V2::new(self.x * s, self.y * s)
    }
    pub fn dot(self, o: V2) -> f32 {
        self.x * o.x + self.y * o.y
    }
    pub fn len(self) -> f32 {
        self.dot(self).sqrt()
    }
    /// Rotate counter-clockwise *on screen* (y grows downward) by `a` radians.
    pub fn rot_screen(self, a: f32) -> V2 {
        let (s, c) = a.sin_cos();
        V2::new(self.x * c + self.y * s, -self.x * s + self.y * c)
    }
}

/// Polynomial smooth minimum with blend width `k` (k > 0).
#[inline]
pub(crate) fn smin(a: f32, b: f32, k: f32) -> f32 {
    let h = (k - (a - b).abs()).max(0.0) / k;
    a.min(b) - h * h * k * 0.25
}

/// Distance from `p` to the segment `a`..`b`.
#[inline]
pub(crate) fn seg_dist(p: V2, a: V2, b: V2) -> f32 {
    let ab = b.sub(a);
    let ap = p.sub(a);
    let l2 = ab.dot(ab);
    let t = if l2 > 0.0 {
        (ap.dot(ab) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    ap.sub(ab.scale(t)).len()
}

/// Wrap an angle to (-pi, pi].
#[inline]
pub(crate) fn wrap_pi(a: f32) -> f32 {
    let t = std::f32::consts::TAU;
    let mut r = a.rem_euclid(t);
    if r > std::f32::consts::PI {
        r -= t;
    }
    r
}

#[inline]
pub(crate) fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A smooth random scalar field: values in [-1, 1] on a square lattice, interpolated with a
/// C1 (smoothstep) bilinear scheme. Outside its extent it clamps to the border.
#[derive(Clone, Debug)]
pub(crate) struct NoiseField {
    ox: f32,
    oy: f32,
    inv: f32,
    nx: usize,
    ny: usize,
    vals: Vec<f32>,
}

impl NoiseField {
    /// A field covering the rectangle `[x0, x0 + w] x [y0, y0 + h]` with lattice `spacing`.
    pub fn new<R: Rng>(rng: &mut R, x0: f32, y0: f32, w: f32, h: f32, spacing: f32) -> Self {
        let spacing = spacing.max(1.0);
        let nx = ((w / spacing).ceil() as usize).clamp(1, 4096) + 2;
        let ny = ((h / spacing).ceil() as usize).clamp(1, 4096) + 2;
        let vals = (0..nx * ny)
            .map(|_| rng.random_range(-1.0f32..=1.0))
            .collect();
        Self {
            ox: x0,
            oy: y0,
            inv: 1.0 / spacing,
            nx,
            ny,
            vals,
        }
    }

    #[inline]
    pub fn sample(&self, x: f32, y: f32) -> f32 {
        let gx = ((x - self.ox) * self.inv).clamp(0.0, (self.nx - 1) as f32 - 1e-3);
        let gy = ((y - self.oy) * self.inv).clamp(0.0, (self.ny - 1) as f32 - 1e-3);
        let ix = gx as usize;
        let iy = gy as usize;
        let fx = gx - ix as f32;
        let fy = gy - iy as f32;
        let sx = fx * fx * (3.0 - 2.0 * fx);
        let sy = fy * fy * (3.0 - 2.0 * fy);
        let i = iy * self.nx + ix;
        let ix1 = if ix + 1 < self.nx { 1 } else { 0 };
        let iy1 = if iy + 1 < self.ny { self.nx } else { 0 };
        let v00 = self.vals.get(i).copied().unwrap_or(0.0);
        let v10 = self.vals.get(i + ix1).copied().unwrap_or(0.0);
        let v01 = self.vals.get(i + iy1).copied().unwrap_or(0.0);
        let v11 = self.vals.get(i + iy1 + ix1).copied().unwrap_or(0.0);
        let a = v00 + (v10 - v00) * sx;
        let b = v01 + (v11 - v01) * sx;
        a + (b - a) * sy
    }
}

/// A fast deterministic 64-bit hash of a lattice position and a seed (splitmix64 finaliser).
#[inline]
pub(crate) fn hash64(x: u32, y: u32, seed: u64) -> u64 {
    let mut z = seed
        ^ (u64::from(x)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (u64::from(y)).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A fast deterministic hash of a pixel position and a seed, as a float in [0, 1).
#[inline]
pub(crate) fn hash01(x: u32, y: u32, seed: u64) -> f32 {
    (hash64(x, y, seed) >> 40) as f32 / (1u64 << 24) as f32
}

/// Approximately normal noise (sum of three uniforms, unit variance) from the pixel hash.
#[inline]
pub(crate) fn hash_gauss(x: u32, y: u32, seed: u64) -> f32 {
    let h = hash64(x, y, seed);
    let u = |v: u64| (v & 0x1F_FFFF) as f32 / (1u64 << 21) as f32;
    (u(h) + u(h >> 21) + u(h >> 42) - 1.5) * 2.0
}

/// Separable Gaussian blur of a float buffer in place (edges clamp).
pub(crate) fn gaussian_blur(buf: &mut [f32], w: usize, h: usize, sigma: f32) {
    if sigma.is_nan() || sigma <= 0.2 || w == 0 || h == 0 || buf.len() < w * h {
        return;
    }
    let r = ((sigma * 3.0).ceil() as usize).clamp(1, 64);
    let mut k: Vec<f32> = (0..=2 * r)
        .map(|i| {
            let d = i as f32 - r as f32;
            (-(d * d) / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let s: f32 = k.iter().sum();
    for v in &mut k {
        *v /= s;
    }
    let mut line = vec![0.0f32; w.max(h) + 2 * r];
    // rows
    for y in 0..h {
        let row = &mut buf[y * w..(y + 1) * w];
        for (i, l) in line.iter_mut().take(w + 2 * r).enumerate() {
            let xi = (i as isize - r as isize).clamp(0, w as isize - 1) as usize;
            *l = row[xi];
        }
        for (x, out) in row.iter_mut().enumerate() {
            let mut acc = 0.0;
            for (j, kv) in k.iter().enumerate() {
                acc += kv * line[x + j];
            }
            *out = acc;
        }
    }
    // columns, as a weighted sum of whole rows (cache friendly, vectorisable)
    let src = buf[..w * h].to_vec();
    for y in 0..h {
        let out = &mut buf[y * w..(y + 1) * w];
        out.fill(0.0);
        for (j, kv) in k.iter().enumerate() {
            let yi = (y as isize + j as isize - r as isize).clamp(0, h as isize - 1) as usize;
            let row = &src[yi * w..(yi + 1) * w];
            for (o, v) in out.iter_mut().zip(row) {
                *o += kv * v;
            }
        }
    }
}

/// Quantize a float grey buffer to 8 bits.
pub(crate) fn to_u8(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// Lattice-free value noise in [-1, 1] at frequency `inv` (1 / lattice spacing), from the
/// pixel hash of the lattice corners (no storage; C1 smoothstep interpolation).
#[inline]
pub(crate) fn value_noise(x: f32, y: f32, inv: f32, seed: u64) -> f32 {
    let gx = x * inv + 4096.0;
    let gy = y * inv + 4096.0;
    let ix = gx.max(0.0) as u32;
    let iy = gy.max(0.0) as u32;
    let fx = gx - ix as f32;
    let fy = gy - iy as f32;
    let sx = fx * fx * (3.0 - 2.0 * fx);
    let sy = fy * fy * (3.0 - 2.0 * fy);
    let v00 = hash01(ix, iy, seed);
    let v10 = hash01(ix + 1, iy, seed);
    let v01 = hash01(ix, iy + 1, seed);
    let v11 = hash01(ix + 1, iy + 1, seed);
    let a = v00 + (v10 - v00) * sx;
    let b = v01 + (v11 - v01) * sx;
    2.0 * (a + (b - a) * sy) - 1.0
}

/// Fast `(sin x, cos x)` for the ridge phase (|x| up to ~1e4): quadrant reduction and
/// minimax-style Taylor polynomials on [−π/4, π/4]; absolute error below 1e-6 plus the f32
/// rounding of `x`. Plain arithmetic, so it gives the same bits wherever f32 is IEEE.
#[inline]
pub(crate) fn fast_sin_cos(x: f32) -> (f32, f32) {
    const FRAC_2_PI: f32 = std::f32::consts::FRAC_2_PI;
    // π/2 split in two parts for an accurate reduction.
    const P1: f32 = 1.570_312_5;
    const P2: f32 = 4.838_268e-4;
    let k = (x * FRAC_2_PI).round();
    let r = (x - k * P1) - k * P2;
    let r2 = r * r;
    let s = r * (1.0 + r2 * (-1.666_666_6e-1 + r2 * (8.333_331e-3 + r2 * -1.980_741e-4)));
    let c =
        1.0 + r2 * (-0.5 + r2 * (4.166_664_6e-2 + r2 * (-1.388_731_6e-3 + r2 * 2.443_315_7e-5)));
    match (k as i64).rem_euclid(4) {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_sin_cos_is_accurate() {
        let mut worst = 0.0f64;
        for i in -200_000..200_000 {
            let x = i as f32 * 0.0137;
            let (s, c) = fast_sin_cos(x);
            let xd = f64::from(x);
            worst = worst
                .max((f64::from(s) - xd.sin()).abs())
                .max((f64::from(c) - xd.cos()).abs());
        }
        assert!(worst < 2e-6, "{worst}");
    }
}
