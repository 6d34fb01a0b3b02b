//! Master fingers (the identity: ridge flow, singular points, minutiae) and their
//! impressions (placement, skin distortion, scanner conditions).
//!
//! # Model
//!
//! A finger is a *phase field* in the sense of Larkin & Fletcher ("A coherent framework for
//! fingerprint analysis: are fingerprints holograms?", 2007): the grey level inside the print
//! is a function of `cos(phase)`, where
//!
//! `phase(p) = 2π·ψ(p)/T + π + Σ_j s_j·atan2(p − m_j)`.
//!
//! * `ψ` is a smooth "ridge count" potential with `|∇ψ| ≈ 1` (so the ridge period is `T`
//!   almost everywhere). It is built from distance fields: the distance to a *spine* ray
//!   leaving each core gives nested hairpins (a loop), the distance to a short core segment
//!   gives nested ovals (a whorl), and a ray leaving each delta (with the delta's ridge count
//!   as offset) bends the outer ridges into a triradius. The pieces are joined with a smooth
//!   minimum, so `ψ` is continuous and the flow has no seams; creases sit on phase extrema,
//!   where they are invisible. Arches use a bump potential. A gentle random warp makes the
//!   flow organic.
//! * Each spiral term `s_j·atan2(p − m_j)` inserts exactly one ridge on one side of `m_j`:
//!   a minutia at a *known* position. Its polarity `s_j` sets the minutia direction and the
//!   position is nudged (by at most half a period along the ridge normal) so the local
//!   phase makes it a ridge ending or a bifurcation as chosen. That is the ground truth.
//!
//! The complex product `Π (z − m_j)^(±1)` evaluates all spirals with multiplications only, so
//! a pixel costs a few hundred flops and rendering is linear in the number of pixels.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f32::consts::{PI, TAU};

use crate::util::{
    NoiseField, V2, fast_sin_cos, gaussian_blur, hash_gauss, hash64, seg_dist, smin, smoothstep,
    to_u8, value_noise, wrap_pi,
};

/// The five Henry/FBI pattern classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// Plain arch: ridges enter on one side and leave on the other, with a gentle rise.
    Arch,
    /// Tented arch: an arch with a sharp upthrust supported by a vertical ridge system.
    TentedArch,
    /// Left loop: ridges enter and leave on the image's left side; the delta is on the right.
    LeftLoop,
    /// Right loop: ridges enter and leave on the image's right side; the delta is on the left.
    RightLoop,
    /// Whorl: concentric ridges around the centre, with two deltas.
    Whorl,
}

/// The type of a minutia.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MinutiaKind {
    /// A ridge ends.
    Ending,
    /// A ridge splits in two.
    Bifurcation,
}

/// A minutia.
///
/// Coordinates are pixels (x right, y down). `angle` is in radians in `[0, 2π)`, measured from
/// the +x axis **counter-clockwise as seen on screen** (image y grows downward, so the
/// direction vector in pixel coordinates is `(cos angle, −sin angle)`). It follows the
/// ISO/IEC 19794-2 convention: for a ridge ending it points from the end point into the ridge
/// that ends; for a bifurcation it points from the fork into the valley between the two
/// branches. Equivalently it always points to the side that has one ridge more.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Minutia {
    /// Column, pixels.
    pub x: f32,
    /// Row, pixels.
    pub y: f32,
    /// Direction, radians, counter-clockwise on screen from +x, in `[0, 2π)`.
    pub angle: f32,
    /// Ending or bifurcation.
    pub kind: MinutiaKind,
}

/// One segment seed of the ridge-count potential: `offset + distance(p, a..b)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seed {
    a: V2,
    b: V2,
    offset: f32,
}

/// The smooth ridge flow of a master (the potential `ψ`).
#[derive(Clone, Debug)]
pub(crate) enum Flow {
    /// `y + amp·g(y)·bump((x − x0)/width)`: a hump centred at height `ym`, fading above and
    /// below; a tent is sharp below its peak and rounded above, with a vertical pole.
    Arch {
        x0: f32,
        amp: f32,
        width: f32,
        ym: f32,
        tent: bool,
        /// Tent pole: start point and offset of a vertical ray seed.
        pole: Option<(V2, f32)>,
        k: f32,
    },
    /// Smooth minimum over segment seeds (loops and whorls).
    Seeds { seeds: Vec<Seed>, k: f32 },
}

/// The arch potential (see [`Flow::Arch`]).
#[inline]
fn arch_value(p: V2, x0: f32, amp: f32, width: f32, ym: f32, tent: bool) -> f32 {
    let t = (p.x - x0) / width;
    let gy = (p.y - ym) / 450.0;
    let g = (-gy * gy).exp();
    let bump = if tent {
        let e = 0.9 * (ym - p.y).max(0.0) / width;
        (-(t * t + e * e + 0.02).sqrt()).exp()
    } else {
        (-0.5 * t * t).exp()
    };
    p.y + amp * g * bump
}

impl Flow {
    #[inline]
    fn psi(&self, p: V2) -> f32 {
        match self {
            Flow::Arch {
                x0,
                amp,
                width,
                ym,
                tent,
                pole,
                k,
            } => {
                let a = arch_value(p, *x0, *amp, *width, *ym, *tent);
                let pole_len = *k;
                match pole {
                    Some((s, off)) => {
                        let d = seg_dist(p, *s, V2::new(s.x, s.y + 3.0 * pole_len));
                        smin(a, off + d, *k)
                    }
                    None => a,
                }
            }
            Flow::Seeds { seeds, k } => {
                let mut v = f32::INFINITY;
                for s in seeds {
                    let d = s.offset + seg_dist(p, s.a, s.b);
                    v = if v.is_finite() { smin(v, d, *k) } else { d };
                }
                v
            }
        }
    }
}

/// Compensation along one fold line of the potential (a seed segment, where `ψ` has a
/// minimum and the ridges fold back). The spiral phase varies along the fold; unless the
/// total phase on a fold is a multiple of π the fold shows as a seam of kinked ridges. `F`,
/// the unwrapped spiral phase sampled along the fold (plus a constant), is subtracted from
/// the phase; off the folds it is blended by inverse-square-distance (Shepard) weights, so
/// it is smooth and single-valued and only tilts ridges by a degree or two.
#[derive(Clone, Debug)]
pub(crate) struct Fold {
    a: V2,
    dir: V2,
    /// Sample spacing along the fold, pixels.
    step: f32,
    samples: Vec<f32>,
}

/// Spacing of fold samples, pixels.
const FOLD_STEP: f32 = 2.0;
/// Longest stretch of a fold that is compensated (beyond it the value is held), pixels.
const FOLD_MAX: f32 = 900.0;

impl Fold {
    /// Distance from warped point `q` to the fold and the compensation at its nearest point.
    #[inline]
    fn at(&self, q: V2) -> (f32, f32) {
        let len = (self.samples.len().saturating_sub(1)) as f32 * self.step;
        let t = q.sub(self.a).dot(self.dir).clamp(0.0, len);
        let d = q.sub(self.a.add(self.dir.scale(t))).len();
        let ft = t / self.step;
        let i = (ft as usize).min(self.samples.len().saturating_sub(1));
        let f = ft - i as f32;
        let v0 = self.samples.get(i).copied().unwrap_or(0.0);
        let v1 = self.samples.get(i + 1).copied().unwrap_or(v0);
        (d, v0 + (v1 - v0) * f)
    }
}

/// One spiral (minutia) term of the phase.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spiral {
    x: f64,
    y: f64,
    /// +1 or −1.
    s: f64,
}

/// The identity of one finger: everything that stays the same across impressions.
///
/// Master coordinates are pixels at 500 ppi with the origin at the centre of the fingertip
/// print, x to the right and y downward (as in an upright finger image).
#[derive(Clone, Debug)]
pub struct MasterFinger {
    /// The seed this master was generated from.
    pub seed: u64,
    /// Pattern class.
    pub pattern: Pattern,
    /// Mean ridge period in pixels at 500 ppi (about 8–11).
    pub ridge_period: f32,
    /// Core points (master coordinates). Empty for plain arches.
    pub cores: Vec<(f32, f32)>,
    /// Delta points (master coordinates). Empty for plain arches.
    pub deltas: Vec<(f32, f32)>,
    /// The minutiae in master coordinates (same conventions as [`Minutia`]).
    pub minutiae: Vec<Minutia>,
    /// Semi-axes (x, y) of the fingertip print ellipse in pixels.
    pub print_semi_axes: (f32, f32),
    pub(crate) flow: Flow,
    pub(crate) spirals: Vec<Spiral>,
    folds: Vec<Fold>,
    warp_x: NoiseField,
    warp_y: NoiseField,
    warp_amp: f32,
    ink: NoiseField,
    border: NoiseField,
}

/// Extent of the master noise fields (master coordinates).
const FIELD_HALF: f32 = 700.0;
/// Scale applied to spiral factors to keep the complex product in range.
const SPIRAL_SCALE: f64 = 1.0 / 256.0;

impl MasterFinger {
    /// The warped coordinate at which the flow potential is evaluated.
    #[inline]
    fn warped(&self, p: V2) -> V2 {
        V2::new(
            p.x + self.warp_amp * self.warp_x.sample(p.x, p.y),
            p.y + self.warp_amp * self.warp_y.sample(p.x, p.y),
        )
    }

    /// The continuous (spiral-free) phase at a master point.
    #[inline]
    fn phase_c(&self, p: V2) -> f32 {
        self.phase_w(self.warped(p))
    }

    /// The continuous phase at an already warped point.
    #[inline]
    fn phase_w(&self, q: V2) -> f32 {
        TAU * self.flow.psi(q) / self.ridge_period + PI - self.fold_comp(q)
    }

    /// The warp displacement at a master point.
    #[inline]
    fn warp_disp(&self, p: V2) -> V2 {
        V2::new(
            self.warp_amp * self.warp_x.sample(p.x, p.y),
            self.warp_amp * self.warp_y.sample(p.x, p.y),
        )
    }

    /// The Shepard blend of the fold compensations at warped point `q`.
    #[inline]
    fn fold_comp(&self, q: V2) -> f32 {
        if self.folds.is_empty() {
            return 0.0;
        }
        let mut num = 0.0f32;
        let mut den = 0.0f32;
        for f in &self.folds {
            let (d, v) = f.at(q);
            if d < 1e-3 {
                return v;
            }
            let w = 1.0 / (d * d);
            num += w * v;
            den += w;
        }
        num / den
    }

    /// Spiral phase `Σ s_j·atan2(p − m_j)` (each term in (−π, π]).
    fn spiral_phase(&self, p: V2) -> f64 {
        self.spirals
            .iter()
            .map(|s| s.s * (f64::from(p.y) - s.y).atan2(f64::from(p.x) - s.x))
            .sum()
    }

    /// Recompute the fold compensations from the current spirals. Each fold's phase is set
    /// to a valley (π) along its line, so a loop's innermost recurving ridge is a clean
    /// hairpin around a valley.
    fn compute_folds(&mut self) {
        let segs: Vec<(V2, V2, f32)> = match &self.flow {
            Flow::Seeds { seeds, .. } => seeds.iter().map(|s| (s.a, s.b, s.offset)).collect(),
            Flow::Arch { pole, k, .. } => pole
                .iter()
                .map(|(s, off)| (*s, V2::new(s.x, s.y + 3.0 * k), *off))
                .collect(),
        };
        let k = TAU / self.ridge_period;
        let mut folds = Vec::new();
        for (a, b, off) in segs {
            let len = b.sub(a).len().min(FOLD_MAX);
            if len < 2.0 {
                continue;
            }
            let dir = b.sub(a).scale(1.0 / b.sub(a).len());
            let n = (len / FOLD_STEP).ceil() as usize + 1;
            let mut samples = Vec::with_capacity(n);
            let mut prev = 0.0f64;
            let mut acc = 0.0f64;
            for i in 0..n {
                let q = a.add(dir.scale(i as f32 * FOLD_STEP));
                let (px, py) = self.unwarp((q.x, q.y));
                let sp = self.spiral_phase(V2::new(px, py));
                acc = if i == 0 {
                    sp
                } else {
                    acc + f64::from(wrap_pi((sp - prev) as f32))
                };
                prev = sp;
                samples.push(acc);
            }
            // Total phase on the fold: k·off + π + S − F ≡ π  ⇒  F = k·off + S (mod 2π).
            let base = f64::from(k * off) + samples.first().copied().unwrap_or(0.0);
            let shift = TAU as f64 * (base / TAU as f64).round();
            folds.push(Fold {
                a,
                dir,
                step: FOLD_STEP,
                samples: samples
                    .iter()
                    .map(|v| (f64::from(k * off) + v - shift) as f32)
                    .collect(),
            });
        }
        self.folds = folds;
    }

    /// Full phase at `p` excluding spiral `skip`, as an angle (not unwrapped).
    fn phase_excluding(&self, p: V2, skip: usize) -> f32 {
        let mut a = self.phase_c(p) as f64;
        for (j, s) in self.spirals.iter().enumerate() {
            if j != skip {
                a += s.s * (p.y as f64 - s.y).atan2(p.x as f64 - s.x);
            }
        }
        a as f32
    }

    /// `cos(phase)` for one row's batch of master points `(px, py)` whose warped positions
    /// are `(qx, qy)`; `idx` holds their column indices (to detect contiguous runs).
    ///
    /// The spiral product is split per run of [`SEG`] contiguous pixels: minutiae near the
    /// run are multiplied in exactly at every pixel; the product of the far ones is smooth
    /// there, so it is taken at the run's two ends (the full product at the knots with the
    /// near factors divided out) and interpolated: its phase varies by a few hundredths of a
    /// radian per pixel, the interpolation error is ~0.01 rad.
    fn ridge_cos_batch(
        &self,
        px: &[f32],
        py: &[f32],
        qx: &[f32],
        qy: &[f32],
        idx: &[usize],
        out: &mut [f32],
    ) {
        let n = px
            .len()
            .min(py.len())
            .min(qx.len())
            .min(qy.len())
            .min(idx.len())
            .min(out.len());
        let sc = SPIRAL_SCALE as f32;
        // (x, y, sign·scale) of every spiral factor (z − m) or conj(z − m).
        let sp: Vec<(f32, f32, f32)> = self
            .spirals
            .iter()
            .map(|s| (s.x as f32, s.y as f32, s.s as f32 * sc))
            .collect();
        if n == 0 {
            return;
        }
        // Full spiral product at the knots (every SEG-th point and the last), all knots of
        // the row at once so the loop vectorises.
        let knot_of = |k: usize| (k * SEG).min(n.saturating_sub(1));
        let nk = n.div_ceil(SEG) + 1;
        let mut kre = vec![1.0f32; nk];
        let mut kim = vec![0.0f32; nk];
        let kx: Vec<f32> = (0..nk).map(|k| px[knot_of(k)]).collect();
        let ky: Vec<f32> = (0..nk).map(|k| py[knot_of(k)]).collect();
        for (j, &(mx, my, sy)) in sp.iter().enumerate() {
            for k in 0..nk {
                let dx = (kx[k] - mx) * sc;
                let dy = (ky[k] - my) * sy;
                let r = kre[k] * dx - kim[k] * dy;
                kim[k] = kre[k] * dy + kim[k] * dx;
                kre[k] = r;
            }
            if j % 16 == 15 {
                for k in 0..nk {
                    let m = 1.0 / (kre[k].abs() + kim[k].abs()).max(1e-30);
                    kre[k] *= m;
                    kim[k] *= m;
                }
            }
        }
        let mut near: Vec<(f32, f32, f32)> = Vec::with_capacity(sp.len());
        let mut start = 0;
        while start < n {
            let len = (n - start).min(SEG);
            let kn = start / SEG;
            let end = knot_of(kn + 1);
            let span = end - start;
            let contiguous = span >= 2 && idx[end] - idx[start] == span;
            let (mut re0, mut im0, mut re1, mut im1) = (1.0f32, 0.0f32, 1.0f32, 0.0f32);
            near.clear();
            if contiguous {
                let a = V2::new(px[start], py[start]);
                let b = V2::new(px[end], py[end]);
                let mid = a.add(b).scale(0.5);
                let reach = NEAR + 0.5 * b.sub(a).len();
                // Far product = full product with the near factors divided out (multiplying
                // by their conjugates keeps the direction).
                let (mut ar, mut ai, mut br, mut bi) = (kre[kn], kim[kn], kre[kn + 1], kim[kn + 1]);
                for &(mx, my, sy) in &sp {
                    let (dx, dy) = (mx - mid.x, my - mid.y);
                    if dx * dx + dy * dy >= reach * reach {
                        continue;
                    }
                    near.push((mx, my, sy));
                    let (ex, ey) = ((a.x - mx) * sc, -(a.y - my) * sy);
                    let r = ar * ex - ai * ey;
                    ai = ar * ey + ai * ex;
                    ar = r;
                    let (ex, ey) = ((b.x - mx) * sc, -(b.y - my) * sy);
                    let r = br * ex - bi * ey;
                    bi = br * ey + bi * ex;
                    br = r;
                }
                let na = (ar * ar + ai * ai).sqrt();
                let nb = (br * br + bi * bi).sqrt();
                if na > 1e-30 && nb > 1e-30 && near.len() < 16 {
                    (re0, im0, re1, im1) = (ar / na, ai / na, br / nb, bi / nb);
                } else {
                    near.clear();
                    near.extend_from_slice(&sp);
                }
            } else {
                near.extend_from_slice(&sp);
            }
            let mut re = [0.0f32; SEG];
            let mut im = [0.0f32; SEG];
            let xs = &px[start..start + len];
            let ys = &py[start..start + len];
            for i in 0..len {
                let w = if span > 0 {
                    i as f32 / span as f32
                } else {
                    0.0
                };
                re[i] = re0 + (re1 - re0) * w;
                im[i] = im0 + (im1 - im0) * w;
            }
            for (j, &(mx, my, sy)) in near.iter().enumerate() {
                for i in 0..len {
                    let dx = (xs[i] - mx) * sc;
                    let dy = (ys[i] - my) * sy;
                    let r = re[i] * dx - im[i] * dy;
                    im[i] = re[i] * dy + im[i] * dx;
                    re[i] = r;
                }
                if j % 16 == 15 {
                    for i in 0..len {
                        let m = 1.0 / (re[i].abs() + im[i].abs()).max(1e-30);
                        re[i] *= m;
                        im[i] *= m;
                    }
                }
            }
            for i in 0..len {
                let k = start + i;
                let p = V2::new(px[k], py[k]);
                let q = V2::new(qx[k], qy[k]);
                let (s, c) = fast_sin_cos(self.phase_w(q) + self.roughness(p));
                let norm = (re[i] * re[i] + im[i] * im[i]).sqrt();
                out[k] = if norm > 1e-30 {
                    (c * re[i] - s * im[i]) / norm
                } else {
                    c
                };
            }
            start += len;
        }
    }

    /// Grey-level multiplier of ridge darkness (skin/ink variation), about 0.8–1.0.
    #[inline]
    fn ink_at(&self, p: V2) -> f32 {
        0.9 + 0.1 * self.ink.sample(p.x, p.y)
    }

    /// Small phase jitter that makes ridge edges slightly irregular (skin texture).
    #[inline]
    fn roughness(&self, p: V2) -> f32 {
        0.5 * value_noise(p.x, p.y, 0.3, self.seed ^ 0xA5A5_0F0F_3C3C_9696)
    }

    /// Sweat-pore mask 0..1 at a master point: small light dots on the ridges.
    #[inline]
    fn pore(&self, p: V2) -> f32 {
        let cell = 0.85 * self.ridge_period;
        let inv = 1.0 / cell;
        let cx = (p.x * inv + 4096.0).max(0.0);
        let cy = (p.y * inv + 4096.0).max(0.0);
        let (ix, iy) = (cx as u32, cy as u32);
        let hv = hash64(ix, iy, self.seed ^ 0x9E6D_5A4B_3C2D_1E0F);
        let h = (hv & 0xFFFF) as f32 / 65536.0;
        if h > 0.3 {
            return 0.0;
        }
        let jx = ((hv >> 16) & 0xFFFF) as f32 / 65536.0 * 0.6 + 0.2;
        let jy = ((hv >> 32) & 0xFFFF) as f32 / 65536.0 * 0.6 + 0.2;
        let dx = (cx - ix as f32 - jx) * cell;
        let dy = (cy - iy as f32 - jy) * cell;
        let r = 0.9 + 0.9 * h / 0.3;
        smoothstep(r + 0.7, r - 0.7, (dx * dx + dy * dy).sqrt())
    }
}

/// Pixels per run sharing one far-field spiral product.
const SEG: usize = 8;
/// Minutiae closer than this (plus half the run) to a run are multiplied in exactly, px.
const NEAR: f32 = 48.0;

/// Pick a pattern class with roughly natural frequencies.
fn pick_pattern<R: Rng>(rng: &mut R) -> Pattern {
    let r: f32 = rng.random();
    if r < 0.33 {
        Pattern::LeftLoop
    } else if r < 0.64 {
        Pattern::RightLoop
    } else if r < 0.92 {
        Pattern::Whorl
    } else if r < 0.96 {
        Pattern::Arch
    } else {
        Pattern::TentedArch
    }
}

/// Generate a master finger from a seed (pattern class chosen with natural frequencies:
/// about 64 % loops, 28 % whorls, 8 % arches).
pub fn master(seed: u64) -> MasterFinger {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let pattern = pick_pattern(&mut rng);
    build_master(seed, pattern, &mut rng)
}

/// Generate a master finger of a given pattern class.
pub fn master_with_pattern(seed: u64, pattern: Pattern) -> MasterFinger {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let _ = pick_pattern(&mut rng);
    build_master(seed, pattern, &mut rng)
}

fn deg(d: f32) -> f32 {
    d.to_radians()
}

fn build_master(seed: u64, pattern: Pattern, rng: &mut ChaCha8Rng) -> MasterFinger {
    let t: f32 = rng.random_range(8.2f32..10.4);
    let ax: f32 = rng.random_range(178.0f32..205.0);
    let by: f32 = rng.random_range(232.0f32..262.0);
    let mut cores = Vec::new();
    let mut deltas = Vec::new();
    let k = 2.5 * t;
    let far = 2000.0;
    let flow = match pattern {
        Pattern::Arch | Pattern::TentedArch => {
            let tent = pattern == Pattern::TentedArch;
            let x0 = rng.random_range(-25.0f32..25.0);
            let amp = if tent {
                rng.random_range(70.0f32..95.0)
            } else {
                rng.random_range(80.0f32..130.0)
            };
            let width = if tent {
                rng.random_range(45.0f32..60.0)
            } else {
                rng.random_range(80.0f32..120.0)
            };
            let ym = if tent {
                rng.random_range(-10.0f32..40.0)
            } else {
                rng.random_range(0.0f32..80.0)
            };
            let pole = if tent {
                let s = V2::new(x0, ym);
                let a = arch_value(s, x0, amp, width, ym, true);
                cores.push((s.x, s.y));
                deltas.push((s.x, s.y + 2.0 * t));
                Some((s, a))
            } else {
                None
            };
            Flow::Arch {
                x0,
                amp,
                width,
                ym,
                tent,
                pole,
                k,
            }
        }
        Pattern::LeftLoop | Pattern::RightLoop => {
            let mir = if pattern == Pattern::LeftLoop {
                1.0
            } else {
                -1.0
            };
            let c = V2::new(
                mir * rng.random_range(-10.0f32..30.0),
                rng.random_range(-45.0f32..10.0),
            );
            let beta = deg(rng.random_range(10.0f32..40.0));
            let spine_dir = V2::new(-mir * beta.cos(), beta.sin());
            let nv = rng.random_range(9..=14) as f32;
            let v = nv * t;
            let gamma = deg(rng.random_range(35.0f32..65.0));
            let d = c.add(V2::new(mir * v * gamma.cos(), v * gamma.sin()));
            let eta = deg(rng.random_range(-10.0f32..25.0));
            let horn_dir = V2::new(mir * eta.cos(), eta.sin());
            cores.push((c.x, c.y));
            deltas.push((d.x, d.y));
            Flow::Seeds {
                seeds: vec![
                    Seed {
                        a: c,
                        b: c.add(spine_dir.scale(far)),
                        offset: 0.0,
                    },
                    Seed {
                        a: d,
                        b: d.add(horn_dir.scale(far)),
                        offset: v,
                    },
                ],
                k,
            }
        }
        Pattern::Whorl => {
            let c = V2::new(
                rng.random_range(-20.0f32..20.0),
                rng.random_range(-40.0f32..10.0),
            );
            let half = rng.random_range(0.0f32..1.6) * t;
            let phi = rng.random_range(0.0f32..PI);
            let h = V2::polar(half, phi);
            let (c1, c2) = (c.sub(h), c.add(h));
            if half >= t {
                cores.push((c1.x, c1.y));
                cores.push((c2.x, c2.y));
            } else {
                cores.push((c.x, c.y));
            }
            let mut seeds = vec![Seed {
                a: c1,
                b: c2,
                offset: 0.0,
            }];
            for side in [-1.0f32, 1.0] {
                let nv = rng.random_range(8..=13) as f32;
                let v = nv * t + half * 0.5;
                let gamma = deg(rng.random_range(30.0f32..60.0));
                let d = c.add(V2::new(side * (v * gamma.cos() + half), v * gamma.sin()));
                let eta = deg(rng.random_range(-5.0f32..30.0));
                deltas.push((d.x, d.y));
                seeds.push(Seed {
                    a: d,
                    b: d.add(V2::new(side * eta.cos(), eta.sin()).scale(far)),
                    offset: v,
                });
            }
            Flow::Seeds { seeds, k }
        }
    };
    let ext = 2.0 * FIELD_HALF;
    let warp_x = NoiseField::new(rng, -FIELD_HALF, -FIELD_HALF, ext, ext, 150.0);
    let warp_y = NoiseField::new(rng, -FIELD_HALF, -FIELD_HALF, ext, ext, 150.0);
    let warp_amp = rng.random_range(4.0f32..9.0);
    let ink = NoiseField::new(rng, -FIELD_HALF, -FIELD_HALF, ext, ext, 40.0);
    let border = NoiseField::new(rng, -FIELD_HALF, -FIELD_HALF, ext, ext, 30.0);
    let mut m = MasterFinger {
        seed,
        pattern,
        ridge_period: t,
        cores,
        deltas,
        minutiae: Vec::new(),
        print_semi_axes: (ax, by),
        flow,
        spirals: Vec::new(),
        folds: Vec::new(),
        warp_x,
        warp_y,
        warp_amp,
        ink,
        border,
    };
    // The warp moves where singular points appear: map them back (p + W(p) = s).
    m.cores = m.cores.iter().map(|&(x, y)| m.unwarp((x, y))).collect();
    m.deltas = m.deltas.iter().map(|&(x, y)| m.unwarp((x, y))).collect();
    place_minutiae(&mut m, rng);
    m
}

impl MasterFinger {
    fn unwarp(&self, s: (f32, f32)) -> (f32, f32) {
        let s = V2::new(s.0, s.1);
        let mut p = s;
        for _ in 0..8 {
            let w = self.warped(p).sub(p);
            p = s.sub(w);
        }
        (p.x, p.y)
    }

    /// Gradient of the continuous potential (in ψ units: about unit length) by central
    /// differences.
    fn grad_psi(&self, p: V2) -> V2 {
        let h = 0.5;
        let f = |q: V2| self.flow.psi(self.warped(q));
        V2::new(
            (f(V2::new(p.x + h, p.y)) - f(V2::new(p.x - h, p.y))) / (2.0 * h),
            (f(V2::new(p.x, p.y + h)) - f(V2::new(p.x, p.y - h))) / (2.0 * h),
        )
    }

    /// Whether the flow around `p` is regular (no crease, singularity or strong blend).
    fn regular_at(&self, p: V2) -> bool {
        let g = self.grad_psi(p);
        let gl = g.len();
        if !(0.88..=1.12).contains(&gl) {
            return false;
        }
        let gn = g.scale(1.0 / gl);
        let r = 1.2 * self.ridge_period;
        for i in 0..8 {
            let a = i as f32 * TAU / 8.0;
            let q = p.add(V2::polar(r, a));
            let gq = self.grad_psi(q);
            let lq = gq.len();
            if !(0.85..=1.15).contains(&lq) || gq.dot(gn) / lq < 0.9 {
                return false;
            }
        }
        true
    }
}

/// Place the minutiae: sample positions, then assign each spiral's polarity and nudge its
/// position so the local phase yields the chosen type (see module docs).
fn place_minutiae(m: &mut MasterFinger, rng: &mut ChaCha8Rng) {
    let t = m.ridge_period;
    let (ax, by) = m.print_semi_axes;
    let target = rng.random_range(45usize..75);
    let min_sep = 2.4 * t;
    let mut pos: Vec<V2> = Vec::new();
    let mut kinds = Vec::new();
    let mut sides = Vec::new();
    let singular: Vec<V2> = m
        .cores
        .iter()
        .chain(m.deltas.iter())
        .map(|&(x, y)| V2::new(x, y))
        .collect();
    let mut tries = 0;
    while pos.len() < target && tries < target * 60 {
        tries += 1;
        let p = V2::new(
            rng.random_range(-1.0f32..1.0) * ax * 1.02,
            rng.random_range(-1.0f32..1.0) * by * 1.02,
        );
        if (p.x / ax).powi(2) + (p.y / by).powi(2) > 1.04 {
            continue;
        }
        if singular.iter().any(|s| s.sub(p).len() < 3.5 * t) {
            continue;
        }
        if pos.iter().any(|q| q.sub(p).len() < min_sep) {
            continue;
        }
        if !m.regular_at(p) {
            continue;
        }
        pos.push(p);
        kinds.push(if rng.random::<f32>() < 0.55 {
            MinutiaKind::Ending
        } else {
            MinutiaKind::Bifurcation
        });
        sides.push(if rng.random::<bool>() { 1.0f32 } else { -1.0 });
    }
    m.spirals = pos
        .iter()
        .zip(&sides)
        .map(|(p, b)| Spiral {
            x: f64::from(p.x),
            y: f64::from(p.y),
            s: f64::from(-b),
        })
        .collect();
    let mut angles = vec![0.0f32; pos.len()];
    nudge(m, &mut pos, &mut angles, &kinds, &sides, 4);
    m.compute_folds();
    nudge(m, &mut pos, &mut angles, &kinds, &sides, 2);
    m.compute_folds();
    nudge(m, &mut pos, &mut angles, &kinds, &sides, 1);
    m.compute_folds();
    m.minutiae = pos
        .iter()
        .zip(&angles)
        .zip(&kinds)
        .map(|((p, a), k)| Minutia {
            x: p.x,
            y: p.y,
            angle: *a,
            kind: *k,
        })
        .collect();
}

/// Polarity and type assignment: move each minutia along the ridge normal (by at most half
/// a period) until the phase of the ridge leaving it towards its direction is 0 (ridge,
/// making an ending) or π (valley, making a bifurcation).
fn nudge(
    m: &mut MasterFinger,
    pos: &mut [V2],
    angles: &mut [f32],
    kinds: &[MinutiaKind],
    sides: &[f32],
    rounds: usize,
) {
    for _ in 0..rounds {
        for i in 0..pos.len() {
            let p = pos[i];
            let h = 0.5;
            let f = |q: V2| m.phase_excluding(q, i);
            let g = V2::new(
                wrap_pi(f(V2::new(p.x + h, p.y)) - f(V2::new(p.x - h, p.y))) / (2.0 * h),
                wrap_pi(f(V2::new(p.x, p.y + h)) - f(V2::new(p.x, p.y - h))) / (2.0 * h),
            );
            let gl = g.len().max(1e-6);
            let gn = g.scale(1.0 / gl);
            let d = V2::new(-gn.y, gn.x).scale(sides[i]);
            let s = -sides[i];
            let cur = f(p) + s * d.y.atan2(d.x);
            let want = match kinds[i] {
                MinutiaKind::Ending => 0.0,
                MinutiaKind::Bifurcation => PI,
            };
            let e = wrap_pi(want - cur);
            let np = p.add(gn.scale(e / gl));
            pos[i] = np;
            if let Some(sp) = m.spirals.get_mut(i) {
                sp.x = f64::from(np.x);
                sp.y = f64::from(np.y);
            }
            angles[i] = (-d.y).atan2(d.x).rem_euclid(TAU);
        }
    }
}

/// How one impression of a master differs: placement and skin/scanner conditions.
///
/// Placement: the master's print centre lands at the frame centre plus `(dx, dy)`, rotated by
/// `rotation_deg` degrees counter-clockwise as seen on screen.
#[derive(Clone, Debug, PartialEq)]
pub struct Impression {
    /// Rotation in degrees, counter-clockwise on screen.
    pub rotation_deg: f32,
    /// Horizontal shift of the print centre from the frame centre, pixels.
    pub dx: f32,
    /// Vertical shift of the print centre from the frame centre, pixels (down positive).
    pub dy: f32,
    /// Non-linear skin distortion, 0..1 (1 ≈ 15 px smooth displacement).
    pub elastic: f32,
    /// Sensor noise and dry-skin breaks, 0..1.
    pub noise: f32,
    /// Gaussian blur sigma in pixels.
    pub blur: f32,
    /// Ridge contrast, 1.0 = full, 0 = invisible.
    pub contrast: f32,
    /// Fraction of the print area missing (cut by a straight edge), 0..1.
    pub partial: f32,
    /// Seed of the impression's random parts (distortion field, noise, cut direction).
    pub seed: u64,
}

impl Default for Impression {
    fn default() -> Self {
        Self::clean()
    }
}

impl Impression {
    /// A centred, undistorted, noise-free, full-contrast impression.
    pub fn clean() -> Self {
        Self {
            rotation_deg: 0.0,
            dx: 0.0,
            dy: 0.0,
            elastic: 0.0,
            noise: 0.0,
            blur: 0.0,
            contrast: 1.0,
            partial: 0.0,
            seed: 0,
        }
    }

    /// A plausible genuine re-impression; `severity` 0..1 scales how far it departs from
    /// [`Impression::clean`] (0.3 ≈ a typical live-scan re-capture, 1 ≈ a poor one). At
    /// severity `s` each field is drawn uniformly within: rotation ±30·s°, shifts ±45·s px,
    /// elastic s·(0.4..1), noise s·(0.2..0.8), blur s·(0.3..2) px, contrast 1 − s·(0.1..0.6),
    /// partial s·(0..0.35). Severity 0 gives [`Impression::clean`] (with this seed).
    pub fn random(seed: u64, severity: f32) -> Self {
        let s = if severity.is_finite() {
            severity.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1A2B_3C4D_5E6F_7081);
        let mut sym = |a: f32| rng.random_range(-1.0f32..=1.0) * a;
        let rotation_deg = sym(30.0 * s);
        let dx = sym(45.0 * s);
        let dy = sym(45.0 * s);
        let elastic = (s * (0.4 + 0.6 * sym(1.0).abs())).min(1.0);
        let noise = s * (0.2 + 0.6 * sym(1.0).abs());
        let blur = s * (0.3 + 1.7 * sym(1.0).abs());
        let contrast = 1.0 - s * (0.1 + 0.5 * sym(1.0).abs());
        let partial = (0.35 * s * sym(1.0).abs()).max(0.0);
        Self {
            rotation_deg,
            dx,
            dy,
            elastic,
            noise: noise.clamp(0.0, 1.0),
            blur,
            contrast,
            partial,
            seed,
        }
    }
}

fn finite_or(v: f32, d: f32) -> f32 {
    if v.is_finite() { v } else { d }
}

/// Everything needed to map canvas pixels to a master for one impression.
pub(crate) struct Placed<'a> {
    m: &'a MasterFinger,
    centre: V2,
    rot: f32,
    ax: f32,
    by: f32,
    elastic: Option<(NoiseField, NoiseField, f32)>,
    cut: Option<(V2, f32)>,
    phalanx: Option<f32>,
    contrast: f32,
    noise: f32,
    blur: f32,
    seed: u64,
}

impl<'a> Placed<'a> {
    /// `base` is the canvas position of the print centre before the impression shift,
    /// `extra_rot` an extra rotation (radians, CCW on screen), and `max_semi` caps the
    /// print ellipse's semi-axes.
    pub(crate) fn new(
        m: &'a MasterFinger,
        imp: &Impression,
        base: (f32, f32),
        extra_rot: f32,
        max_semi: (f32, f32),
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(imp.seed ^ 0x7F4A_7C15_9E37_79B9);
        let elastic_s = finite_or(imp.elastic, 0.0).clamp(0.0, 1.0);
        let ext = 2.0 * FIELD_HALF;
        let fx = NoiseField::new(&mut rng, -FIELD_HALF, -FIELD_HALF, ext, ext, 110.0);
        let fy = NoiseField::new(&mut rng, -FIELD_HALF, -FIELD_HALF, ext, ext, 110.0);
        let elastic = (elastic_s > 0.0).then_some((fx, fy, 15.0 * elastic_s));
        let ax = m.print_semi_axes.0.min(max_semi.0.max(4.0));
        let by = m.print_semi_axes.1.min(max_semi.1.max(4.0));
        let partial = finite_or(imp.partial, 0.0).clamp(0.0, 1.0);
        let cut = if partial > 0.0 {
            let a = rng.random_range(0.0f32..TAU);
            let n = V2::new(a.cos(), a.sin());
            let l = ((ax * n.x).powi(2) + (by * n.y).powi(2)).sqrt();
            // Fraction of the unit disc beyond the chord at tau is (acos τ − τ√(1−τ²))/π.
            let frac = |tau: f32| (tau.acos() - tau * (1.0 - tau * tau).max(0.0).sqrt()) / PI;
            let (mut lo, mut hi) = (-1.0f32, 1.0f32);
            for _ in 0..40 {
                let mid = 0.5 * (lo + hi);
                if frac(mid) > partial {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            Some((n, 0.5 * (lo + hi) * l))
        } else {
            None
        };
        Self {
            m,
            centre: V2::new(
                base.0 + finite_or(imp.dx, 0.0),
                base.1 + finite_or(imp.dy, 0.0),
            ),
            rot: finite_or(imp.rotation_deg, 0.0).to_radians() + extra_rot,
            ax,
            by,
            elastic,
            cut,
            phalanx: None,
            contrast: finite_or(imp.contrast, 1.0).clamp(0.0, 1.0),
            noise: finite_or(imp.noise, 0.0).clamp(0.0, 1.0),
            blur: finite_or(imp.blur, 0.0).clamp(0.0, 20.0),
            seed: imp.seed,
        }
    }

    /// Canvas → print frame (rigid inverse).
    #[inline]
    fn canvas_to_u(&self, q: V2) -> V2 {
        q.sub(self.centre).rot_screen(-self.rot)
    }

    fn u_to_canvas(&self, u: V2) -> V2 {
        u.rot_screen(self.rot).add(self.centre)
    }

    #[inline]
    fn u_to_master(&self, u: V2) -> V2 {
        u.add(self.elastic_disp(u))
    }

    /// Skin distortion at a print-frame point (master = u + this).
    #[inline]
    fn elastic_disp(&self, u: V2) -> V2 {
        match &self.elastic {
            Some((fx, fy, a)) => {
                // Displacement grows towards the print border (the centre is pressed flat).
                let r2 = (u.x / self.ax).powi(2) + (u.y / self.ay_safe()).powi(2);
                let w = a * (0.35 + 0.65 * r2.min(1.5));
                V2::new(w * fx.sample(u.x, u.y), w * fy.sample(u.x, u.y))
            }
            None => V2::default(),
        }
    }

    fn ay_safe(&self) -> f32 {
        self.by.max(1.0)
    }

    fn master_to_u(&self, p: V2) -> V2 {
        let mut u = p;
        for _ in 0..20 {
            let d = self.u_to_master(u).sub(u);
            u = p.sub(d);
        }
        u
    }

    /// Print coverage 0..1 at a print-frame point (soft, slightly irregular ellipse edge,
    /// minus the partial cut).
    #[inline]
    fn coverage(&self, u: V2) -> f32 {
        self.coverage_b(u, self.m.border.sample(u.x, u.y))
    }

    /// [`Self::coverage`] with the border noise value given.
    #[inline]
    fn coverage_b(&self, u: V2, border: f32) -> f32 {
        let rho = ((u.x / self.ax).powi(2) + (u.y / self.by).powi(2)).sqrt();
        let inside = (1.0 - rho) * self.ax.min(self.by) + 5.0 * border;
        let mut c = smoothstep(0.0, 14.0, inside);
        if let Some((n, t)) = self.cut {
            c *= smoothstep(0.0, 6.0, t - u.dot(n));
        }
        c
    }

    /// Also draw the middle phalanx below the fingertip (as in a slap), `len` pixels long.
    pub(crate) fn with_phalanx(mut self, len: f32) -> Self {
        self.phalanx = (len > 0.0).then_some(len);
        self
    }

    /// Coverage 0..1 of the middle phalanx (0 when not drawn): a rounded band below the
    /// distal crease, fading towards the palm.
    #[inline]
    fn phalanx_cov(&self, u: V2, border: f32) -> f32 {
        let Some(len) = self.phalanx else { return 0.0 };
        let y0 = self.by - 0.3 * self.m.ridge_period;
        let hw = self.ax * 0.9;
        let dy = u.y - y0;
        if dy <= 0.0 || dy >= len {
            return 0.0;
        }
        // Rounded rectangle (corner radius 0.6·hw), slightly irregular edge.
        let r = 0.6 * hw;
        let qx = u.x.abs() - (hw - r);
        let qy = (dy - 0.5 * len).abs() - (0.5 * len - r);
        let out = V2::new(qx.max(0.0), qy.max(0.0)).len() + qx.max(qy).min(0.0) - r;
        let inside = -out + 4.0 * border;
        smoothstep(0.0, 12.0, inside) * smoothstep(len, 0.35 * len, dy)
    }

    /// Canvas bounding box (x0, y0, x1, y1) of the print (and phalanx) plus a margin,
    /// clipped to the canvas.
    fn bbox(&self, w: u32, h: u32, margin: f32) -> (usize, usize, usize, usize) {
        let bottom = self.by + self.phalanx.map_or(0.0, |l| l + self.m.ridge_period);
        let corners = [
            V2::new(-self.ax, -self.by),
            V2::new(self.ax, -self.by),
            V2::new(-self.ax, bottom),
            V2::new(self.ax, bottom),
        ];
        let (mut lx, mut ly, mut hx, mut hy) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for c in corners {
            let q = self.u_to_canvas(c);
            lx = lx.min(q.x);
            ly = ly.min(q.y);
            hx = hx.max(q.x);
            hy = hy.max(q.y);
        }
        let x0 = (lx - margin).floor().max(0.0) as usize;
        let y0 = (ly - margin).floor().max(0.0) as usize;
        let x1 = ((hx + margin).ceil().max(0.0) as usize).min(w as usize);
        let y1 = ((hy + margin).ceil().max(0.0) as usize).min(h as usize);
        (x0, y0, x1.max(x0), y1.max(y0))
    }

    /// Render this finger onto `canvas` (darker wins). Returns the bounding box
    /// (x, y, w, h) of the visible print, if any pixel of it lands on the canvas.
    pub(crate) fn render_onto(
        &self,
        canvas: &mut [u8],
        w: u32,
        h: u32,
    ) -> Option<(u32, u32, u32, u32)> {
        let margin = 3.0 * self.blur + 2.0;
        let (x0, y0, x1, y1) = self.bbox(w, h, margin);
        let tw = x1 - x0;
        let th = y1 - y0;
        if tw == 0 || th == 0 {
            return None;
        }
        let mut tile = vec![0.0f32; tw * th];
        let mut cov_tile = vec![0.0f32; tw * th];
        let (mut bx0, mut by0, mut bx1, mut by1) = (usize::MAX, usize::MAX, 0usize, 0usize);
        let mut px = Vec::with_capacity(tw);
        let mut py = Vec::with_capacity(tw);
        let mut qx = Vec::with_capacity(tw);
        let mut qy = Vec::with_capacity(tw);
        let mut idx = Vec::with_capacity(tw);
        let mut cos_out = vec![0.0f32; tw];
        let dry_seed = self.seed ^ self.m.seed.rotate_left(17);
        // Slowly varying fields are sampled at knots every KNOT pixels along a row and
        // interpolated linearly in between (their lattices are 30-150 px).
        const KNOT: usize = 4;
        let nk = tw / KNOT + 2;
        let mut knots: Vec<[f32; 9]> = vec![[0.0; 9]; nk];
        for ty in 0..th {
            px.clear();
            py.clear();
            qx.clear();
            qy.clear();
            idx.clear();
            let cy = (y0 + ty) as f32 + 0.5;
            for (k, kn) in knots.iter_mut().enumerate() {
                let tx = (k * KNOT).min(tw.saturating_sub(1));
                let u = self.canvas_to_u(V2::new((x0 + tx) as f32 + 0.5, cy));
                let e = self.elastic_disp(u);
                let p = u.add(e);
                let wd = self.m.warp_disp(p);
                *kn = [
                    e.x,
                    e.y,
                    wd.x,
                    wd.y,
                    self.m.ink_at(p),
                    0.1 * self.m.ink.sample(p.y + 311.0, p.x - 173.0),
                    if self.noise > 0.0 {
                        self.m.ink.sample(p.y * 3.1 + 17.0, p.x * 3.7 - 9.0)
                    } else {
                        0.0
                    },
                    self.m.border.sample(u.x, u.y),
                    self.m.border.sample(u.y, u.x),
                ];
            }
            let lerp = |tx: usize, j: usize| -> f32 {
                let k = tx / KNOT;
                let f = (tx - k * KNOT) as f32 / KNOT as f32;
                let a = knots.get(k).map_or(0.0, |v| v[j]);
                let b = knots.get(k + 1).map_or(a, |v| v[j]);
                a + (b - a) * f
            };
            for tx in 0..tw {
                let q = V2::new((x0 + tx) as f32 + 0.5, cy);
                let u = self.canvas_to_u(q);
                let tip = self.coverage_b(u, lerp(tx, 7));
                let cov = if self.phalanx.is_some() {
                    tip.max(0.6 * self.phalanx_cov(u, lerp(tx, 8)))
                } else {
                    tip
                };
                if cov <= 0.0 {
                    continue;
                }
                cov_tile[ty * tw + tx] = cov;
                if tip > 0.5 {
                    bx0 = bx0.min(x0 + tx);
                    by0 = by0.min(y0 + ty);
                    bx1 = bx1.max(x0 + tx);
                    by1 = by1.max(y0 + ty);
                }
                let p = u.add(V2::new(lerp(tx, 0), lerp(tx, 1)));
                px.push(p.x);
                py.push(p.y);
                qx.push(p.x + lerp(tx, 2));
                qy.push(p.y + lerp(tx, 3));
                idx.push(tx);
            }
            let n = idx.len();
            let nn = n.min(cos_out.len());
            self.m
                .ridge_cos_batch(&px, &py, &qx, &qy, &idx, &mut cos_out[..nn]);
            for k in 0..n {
                let tx = idx[k];
                let p = V2::new(px[k], py[k]);
                let r = 0.5 * (1.0 + cos_out[k]);
                // Slightly flattened ridge profile, as on an optical/capacitive sensor.
                // Local ridge width varies a little with skin moisture.
                let wv = lerp(tx, 5);
                let r = smoothstep(0.06 + wv, 0.9 + wv, r);
                let r = r * (1.0 - 0.5 * self.m.pore(p));
                let mut dark = 22.0 + 205.0 * r * lerp(tx, 4);
                if self.noise > 0.0 {
                    // Dry skin: ridges break up in blotches.
                    let dry = (lerp(tx, 6) + 0.2).max(0.0) * self.noise;
                    dark *= (1.0 - 0.9 * dry).max(0.0);
                }
                tile[ty * tw + tx] = dark * cov_tile[ty * tw + tx] * self.contrast;
            }
        }
        gaussian_blur(&mut tile, tw, th, self.blur);
        let nseed = self.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ dry_seed;
        for ty in 0..th {
            for tx in 0..tw {
                let mut dark = tile[ty * tw + tx];
                let cx = (x0 + tx) as u32;
                let cy = (y0 + ty) as u32;
                if self.noise > 0.0 && (dark > 0.5 || cov_tile[ty * tw + tx] > 0.0) {
                    dark += self.noise * 28.0 * hash_gauss(cx, cy, nseed);
                }
                let g = to_u8(255.0 - dark);
                let i = cy as usize * w as usize + cx as usize;
                if let Some(c) = canvas.get_mut(i) {
                    *c = (*c).min(g);
                }
            }
        }
        (bx0 != usize::MAX).then(|| {
            (
                bx0 as u32,
                by0 as u32,
                (bx1 - bx0 + 1) as u32,
                (by1 - by0 + 1) as u32,
            )
        })
    }

    /// The master's minutiae as they land on the canvas, only those well inside the
    /// visible print and the canvas.
    pub(crate) fn minutiae_on_canvas(&self, w: u32, h: u32) -> Vec<Minutia> {
        let t = self.m.ridge_period;
        let mut out = Vec::new();
        for mn in &self.m.minutiae {
            let p = V2::new(mn.x, mn.y);
            let u = self.master_to_u(p);
            if self.coverage(u) < 0.999 {
                continue;
            }
            let q = self.u_to_canvas(u);
            let margin = 0.75 * t;
            if q.x < margin || q.y < margin || q.x > w as f32 - margin || q.y > h as f32 - margin {
                continue;
            }
            // Direction through the Jacobian of the forward map.
            let d = V2::new(mn.angle.cos(), -mn.angle.sin());
            let u2 = self.master_to_u(p.add(d.scale(2.0)));
            let dq = self.u_to_canvas(u2).sub(q);
            let angle = (-dq.y).atan2(dq.x).rem_euclid(TAU);
            out.push(Minutia {
                x: q.x,
                y: q.y,
                angle,
                kind: mn.kind,
            });
        }
        out
    }
}

/// Largest print semi-axes that fit a frame with a small background margin.
fn frame_semi(width: u32, height: u32) -> (f32, f32) {
    (0.47 * width as f32, 0.47 * height as f32)
}

/// Render one impression of a master: 8-bit grey, 500 ppi, light background (255), dark
/// ridges, an elliptical fingertip print area centred in the frame (shifted by the
/// impression's `dx`, `dy`). If the frame is smaller than the finger, the print ellipse is
/// clipped to 94 % of the frame (the ridges keep their scale).
pub fn render_finger(
    m: &MasterFinger,
    width: u32,
    height: u32,
    imp: &Impression,
) -> image::GrayImage {
    let mut buf = vec![255u8; width as usize * height as usize];
    let placed = Placed::new(
        m,
        imp,
        (width as f32 * 0.5, height as f32 * 0.5),
        0.0,
        frame_semi(width, height),
    );
    let _ = placed.render_onto(&mut buf, width, height);
    image::GrayImage::from_raw(width, height, buf).unwrap_or_else(|| image::GrayImage::new(0, 0))
}

/// The master's minutiae as they land in the image [`render_finger`] makes with the same
/// arguments: after the impression's transform, only those inside the visible print area
/// (at least ~14 px inside its soft edge, not cut away, and inside the frame).
pub fn ground_truth_minutiae(
    m: &MasterFinger,
    width: u32,
    height: u32,
    imp: &Impression,
) -> Vec<Minutia> {
    let placed = Placed::new(
        m,
        imp,
        (width as f32 * 0.5, height as f32 * 0.5),
        0.0,
        frame_semi(width, height),
    );
    placed.minutiae_on_canvas(width, height)
}
