//! A 1:1 minutiae matcher in the manner of NIST's BOZORTH3.
//!
//! Each template gives a table of minutia pairs described by values that do not change under
//! rotation and translation: the distance between the two minutiae and the angle of each
//! minutia's direction to the line joining them. Probe and gallery pairs that agree within
//! tolerances are *associations*; each implies two minutia correspondences and a rotation.
//! Associations are grown into clusters that share correspondences, agree on the rotation and
//! keep a one-to-one mapping; compatible clusters are combined, and the score is the number of
//! associations in the best combination.

use crate::{Template, wrap_pi};

/// Tuning of [`match_score_with`]. Distances are in pixels at 500 ppi (templates at another
/// resolution are scaled to 500 ppi first).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchParams {
    /// At most this many minutiae of each template are used, best quality first (never more
    /// than 1000).
    pub max_minutiae: usize,
    /// Pairs further apart than this are not tabulated.
    pub max_distance: f32,
    /// Pairs closer than this are not tabulated (their line direction is unstable).
    pub min_distance: f32,
    /// Distance tolerance: absolute part, pixels.
    pub distance_slack: f32,
    /// Distance tolerance: part proportional to the distance.
    pub distance_relative: f32,
    /// Tolerance on each minutia's angle to the joining line, radians.
    pub angle_tolerance: f32,
    /// Tolerance on the rotation within a cluster and between combined clusters, radians.
    pub rotation_tolerance: f32,
    /// Tolerance on a correspondence's position under a cluster's rigid transform, pixels.
    pub translation_tolerance: f32,
    /// Clusters with fewer associations are ignored.
    pub min_cluster: u32,
}

impl Default for MatchParams {
    fn default() -> Self {
        Self {
            max_minutiae: 150,
            max_distance: 125.0,
            min_distance: 8.0,
            distance_slack: 3.0,
            distance_relative: 0.06,
            angle_tolerance: 13f32.to_radians(),
            rotation_tolerance: 20f32.to_radians(),
            translation_tolerance: 30.0,
            min_cluster: 3,
        }
    }
}

/// Suggested decision threshold for [`match_score`]: accept when `score >= MATCH_THRESHOLD`.
/// On rekam-synth fingers (VALIDATION.md: 200 masters, 19 900 impostor comparisons at each of
/// three severities) the highest impostor score was 29; at 40 there was no false match, no
/// false non-match for typical re-impressions (severity ≤ 0.5) and 10 % for poor ones
/// (severity 1). 40 is also the value customary for BOZORTH3; it leaves a margin for real
/// captures, whose impostor scores spread wider than synthetic ones. 30 was the lowest
/// threshold without a false match in those runs (5.5 % false non-matches at severity 1).
pub const MATCH_THRESHOLD: u32 = 40;

/// Hard cap on the minutiae used per template, whatever [`MatchParams::max_minutiae`] says
/// (bounds memory and time).
const MAX_MINUTIAE_CAP: usize = 1000;

/// Similarity of two templates with the default [`MatchParams`]: 0 for unrelated fingers,
/// growing with the number of consistent minutia pairs (BOZORTH3-like scale; see the crate's
/// VALIDATION.md for the distributions, and [`MATCH_THRESHOLD`]). Invariant to rotation and
/// translation; nearly symmetric (swapping probe and gallery changes a genuine score by 5 %
/// on average, as in BOZORTH3 the two roles are not treated identically).
pub fn match_score(probe: &Template, gallery: &Template) -> u32 {
    match_score_with(probe, gallery, &MatchParams::default())
}

/// [`match_score`] with explicit parameters.
pub fn match_score_with(probe: &Template, gallery: &Template, params: &MatchParams) -> u32 {
    let p = points(probe, params);
    let g = points(gallery, params);
    if p.len() < 3 || g.len() < 3 {
        return 0;
    }
    let mut pp = pairs(&p, false, params);
    pp.sort_unstable_by(|a, b| a.d.total_cmp(&b.d));
    let gi = Index::new(&pairs(&g, true, params));
    let assoc = associate(&pp, &gi, params);
    if assoc.is_empty() {
        return 0;
    }
    let clusters = cluster(&assoc, &p, &g, params);
    combine(&clusters, &p, &g, params)
}

/// A minutia in a right-handed frame (y up), scaled to 500 ppi.
#[derive(Clone, Copy, Debug)]
struct Pt {
    x: f32,
    y: f32,
    t: f32,
}

fn points(t: &Template, params: &MatchParams) -> Vec<Pt> {
    let scale = if t.ppi == 0 {
        1.0
    } else {
        500.0 / f32::from(t.ppi)
    };
    let mut order: Vec<usize> = (0..t.minutiae.len()).collect();
    order.sort_by(|&a, &b| t.minutiae[b].quality.cmp(&t.minutiae[a].quality));
    order.truncate(params.max_minutiae.min(MAX_MINUTIAE_CAP));
    order
        .into_iter()
        .map(|i| {
            let m = &t.minutiae[i];
            Pt {
                x: f32::from(m.x) * scale,
                y: -f32::from(m.y) * scale,
                t: m.angle,
            }
        })
        .collect()
}

#[derive(Clone, Copy, Debug)]
struct Pair {
    d: f32,
    /// Angle of the first minutia's direction to the line from the first to the second.
    b1: f32,
    /// Angle of the second minutia's direction to the same line.
    b2: f32,
    /// Direction of the line.
    phi: f32,
    i: u16,
    j: u16,
}

fn pairs(pts: &[Pt], both_orders: bool, params: &MatchParams) -> Vec<Pair> {
    // The gallery table reaches a little further so that probe pairs near the limit still
    // find their stretched partners.
    let dmax = if both_orders {
        params.max_distance * (1.0 + params.distance_relative) + params.distance_slack
    } else {
        params.max_distance
    };
    let mut out = Vec::new();
    for i in 0..pts.len() {
        for j in i + 1..pts.len() {
            let (a, b) = (pts[i], pts[j]);
            let (dx, dy) = (b.x - a.x, b.y - a.y);
            let d = (dx * dx + dy * dy).sqrt();
            if d < params.min_distance || d > dmax {
                continue;
            }
            let phi = fast_atan2(dy, dx);
            out.push(Pair {
                d,
                b1: wrap_pi(a.t - phi),
                b2: wrap_pi(b.t - phi),
                phi,
                i: i as u16,
                j: j as u16,
            });
            if both_orders {
                let phi_r = wrap_pi(phi + std::f32::consts::PI);
                out.push(Pair {
                    d,
                    b1: wrap_pi(b.t - phi_r),
                    b2: wrap_pi(a.t - phi_r),
                    phi: phi_r,
                    i: j as u16,
                    j: i as u16,
                });
            }
        }
    }
    out
}

/// `y.atan2(x)` to within about 1e-5 radians, much faster than the library call (the
/// pair tables need tens of thousands). Odd minimax polynomial for atan on [0, 1], folded to
/// the other octants.
#[inline]
fn fast_atan2(y: f32, x: f32) -> f32 {
    use std::f32::consts::{FRAC_PI_2, PI};
    let (ax, ay) = (x.abs(), y.abs());
    let (num, den) = if ay > ax { (ax, ay) } else { (ay, ax) };
    if den == 0.0 {
        return 0.0;
    }
    let z = num / den;
    let z2 = z * z;
    let mut r = z
        * (0.999_977_26
            + z2 * (-0.332_623_47
                + z2 * (0.193_543_46
                    + z2 * (-0.116_432_87 + z2 * (0.052_653_32 + z2 * -0.011_721_2)))));
    if ay > ax {
        r = FRAC_PI_2 - r;
    }
    if x < 0.0 {
        r = PI - r;
    }
    if y < 0.0 { -r } else { r }
}

#[derive(Clone, Copy, Debug)]
struct Assoc {
    p: [u16; 2],
    g: [u16; 2],
    rot: f32,
}

/// Upper bound on associations kept (bounds time and memory on pathological inputs).
const MAX_ASSOC: usize = 40_000;
/// Upper bound on clusters grown (the seeds are tried best supported first).
const MAX_SEEDS: usize = 150;

/// Gallery pairs grouped by their two angles `b1`, `b2` (a grid of [`NB`] x [`NB`] cells),
/// each cell sorted by distance, so that a probe pair only visits the few cells within the
/// angle tolerance.
struct Index {
    /// Pairs grouped by cell (counting sort), each group sorted by distance.
    pairs: Vec<Pair>,
    /// Start of each cell's group in `pairs`; `NB * NB + 1` entries.
    start: Vec<usize>,
}

/// Angle cells per turn in [`Index`].
const NB: usize = 16;
/// Width of an angle cell of [`Index`].
const CELL_ANGLE: f32 = std::f32::consts::TAU / NB as f32;

impl Index {
    fn new(gp: &[Pair]) -> Self {
        let key = |p: &Pair| Self::cell(p.b1) * NB + Self::cell(p.b2);
        let mut start = vec![0usize; NB * NB + 1];
        for p in gp {
            start[key(p) + 1] += 1;
        }
        for k in 0..NB * NB {
            start[k + 1] += start[k];
        }
        let mut fill = start.clone();
        let mut pairs = gp.to_vec();
        for p in gp {
            let k = key(p);
            pairs[fill[k]] = *p;
            fill[k] += 1;
        }
        for k in 0..NB * NB {
            pairs[start[k]..start[k + 1]].sort_unstable_by(|a, b| a.d.total_cmp(&b.d));
        }
        Self { pairs, start }
    }

    /// Cell of an angle in (-π, π].
    fn cell(b: f32) -> usize {
        (((b + std::f32::consts::PI) / CELL_ANGLE) as usize).min(NB - 1)
    }
}

/// `|wrap_pi(a - b)|` for `a`, `b` in (-π, π], without branches.
#[inline]
fn angle_gap(a: f32, b: f32) -> f32 {
    let d = (a - b).abs();
    d.min(std::f32::consts::TAU - d)
}

/// Associations of probe pairs `pp` (sorted by distance) with the gallery pairs in `gi`.
fn associate(pp: &[Pair], gi: &Index, params: &MatchParams) -> Vec<Assoc> {
    let span = (params.angle_tolerance / CELL_ANGLE).ceil() as isize;
    // Cells within the tolerance, each visited once even if the span wraps around.
    let kn = (2 * span + 1).min(NB as isize);
    let cell_at = |k0: usize, dk: isize| (k0 as isize - span + dk).rem_euclid(NB as isize) as usize;
    let at = params.angle_tolerance;
    // The lower distance bound grows with the probe distance, so each cell keeps a cursor
    // that only moves forward (no binary searches).
    let mut cursor: Vec<usize> = gi.start[..NB * NB].to_vec();
    let mut out = Vec::new();
    for a in pp {
        let tol = params.distance_slack + params.distance_relative * a.d;
        let (lo_d, hi_d) = (a.d - tol, a.d + tol);
        let (k1, k2) = (Index::cell(a.b1), Index::cell(a.b2));
        for d1 in 0..kn {
            let row = cell_at(k1, d1) * NB;
            for d2 in 0..kn {
                let k = row + cell_at(k2, d2);
                let end = gi.start[k + 1];
                let mut lo = cursor[k];
                while lo < end && gi.pairs[lo].d < lo_d {
                    lo += 1;
                }
                cursor[k] = lo;
                for b in &gi.pairs[lo..end] {
                    if b.d > hi_d {
                        break;
                    }
                    // Both tests evaluated, one branch: most candidates fail one of them.
                    if (angle_gap(a.b1, b.b1) <= at) & (angle_gap(a.b2, b.b2) <= at) {
                        out.push(Assoc {
                            p: [a.i, a.j],
                            g: [b.i, b.j],
                            rot: wrap_pi(b.phi - a.phi),
                        });
                        if out.len() >= MAX_ASSOC {
                            return out;
                        }
                    }
                }
            }
        }
    }
    out
}

#[derive(Debug)]
struct Cluster {
    edges: u32,
    rot: f32,
    /// Correspondences (probe index, gallery index).
    corr: Vec<(u16, u16)>,
}

const NONE: u16 = u16::MAX;

/// Rigid transform estimate kept while a cluster grows: mean rotation and centroids.
#[derive(Default)]
struct Fit {
    cs: f32,
    sn: f32,
    px: f32,
    py: f32,
    gx: f32,
    gy: f32,
    n: f32,
}

impl Fit {
    fn add_rot(&mut self, r: f32) {
        self.cs += r.cos();
        self.sn += r.sin();
    }
    fn add_corr(&mut self, p: Pt, g: Pt) {
        self.px += p.x;
        self.py += p.y;
        self.gx += g.x;
        self.gy += g.y;
        self.n += 1.0;
    }
    fn rot(&self) -> f32 {
        self.sn.atan2(self.cs)
    }
    /// Distance between `g` and the image of `p` under the current transform.
    fn residual(&self, p: Pt, g: Pt) -> f32 {
        // The mean rotation's cosine and sine straight from the summed unit vectors.
        let norm = (self.cs * self.cs + self.sn * self.sn).sqrt().max(1e-9);
        let (c, s) = (self.cs / norm, self.sn / norm);
        let n = self.n.max(1.0);
        let (mpx, mpy, mgx, mgy) = (self.px / n, self.py / n, self.gx / n, self.gy / n);
        let (dx, dy) = (p.x - mpx, p.y - mpy);
        let ex = mgx + c * dx - s * dy - g.x;
        let ey = mgy + s * dx + c * dy - g.y;
        (ex * ex + ey * ey).sqrt()
    }
}

fn cluster(assoc: &[Assoc], p: &[Pt], g: &[Pt], params: &MatchParams) -> Vec<Cluster> {
    let (np, ng) = (p.len(), g.len());
    // How often each correspondence is implied: associations that share well-supported
    // correspondences are grown first.
    let mut count = vec![0u32; np * ng];
    for a in assoc {
        for k in 0..2 {
            count[a.p[k] as usize * ng + a.g[k] as usize] += 1;
        }
    }
    let support = |a: &Assoc| {
        (0..2)
            .map(|k| count[a.p[k] as usize * ng + a.g[k] as usize])
            .sum::<u32>()
    };
    let mut order: Vec<(u32, usize)> = assoc
        .iter()
        .enumerate()
        .map(|(i, a)| (support(a), i))
        .filter(|&(s, _)| s > 2)
        .collect();
    order.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));

    // Associations incident to each probe minutia (compressed rows).
    let mut start = vec![0usize; np + 1];
    for a in assoc {
        start[a.p[0] as usize + 1] += 1;
        start[a.p[1] as usize + 1] += 1;
    }
    for i in 0..np {
        start[i + 1] += start[i];
    }
    // Each row ordered by rotation (a counting sort on whole degrees), so that a cluster
    // only scans the associations whose rotation is near its own.
    let bin = |r: f32| {
        (((r + std::f32::consts::PI) * ROT_BINS as f32 / std::f32::consts::TAU) as usize)
            .min(ROT_BINS - 1)
    };
    let mut by_bin = vec![0usize; ROT_BINS + 1];
    for a in assoc {
        by_bin[bin(a.rot) + 1] += 1;
    }
    for b in 0..ROT_BINS {
        by_bin[b + 1] += by_bin[b];
    }
    let mut sorted = vec![0u32; assoc.len()];
    for (i, a) in assoc.iter().enumerate() {
        let b = bin(a.rot);
        sorted[by_bin[b]] = i as u32;
        by_bin[b] += 1;
    }
    let mut fill = start.clone();
    let mut inc = vec![0u32; start[np]];
    let mut inc_bin = vec![0u16; start[np]];
    for &i in &sorted {
        let a = &assoc[i as usize];
        let b = bin(a.rot) as u16;
        for k in 0..2 {
            let m = a.p[k] as usize;
            inc[fill[m]] = i;
            inc_bin[fill[m]] = b;
            fill[m] += 1;
        }
    }

    let mut visited = vec![false; assoc.len()];
    let mut p2g = vec![NONE; np];
    let mut g2p = vec![NONE; ng];
    let mut clusters = Vec::new();
    let mut queue: Vec<u16> = Vec::new();
    let mut corr: Vec<(u16, u16)> = Vec::new();
    let mut seeds = 0usize;
    let mut window: Vec<u32> = Vec::new();
    // The window in bins, one bin wider than the tolerance to cover the binning.
    let tol_bins =
        (params.rotation_tolerance * ROT_BINS as f32 / std::f32::consts::TAU) as usize + 1;
    for &(_, seed) in &order {
        if visited[seed] {
            continue;
        }
        if seeds >= MAX_SEEDS {
            break;
        }
        seeds += 1;
        let s = assoc[seed];
        if s.p[0] == s.p[1] || s.g[0] == s.g[1] {
            continue;
        }
        visited[seed] = true;
        corr.clear();
        queue.clear();
        let mut fit = Fit::default();
        fit.add_rot(s.rot);
        for k in 0..2 {
            p2g[s.p[k] as usize] = s.g[k];
            g2p[s.g[k] as usize] = s.p[k];
            corr.push((s.p[k], s.g[k]));
            fit.add_corr(p[s.p[k] as usize], g[s.g[k] as usize]);
            queue.push(s.p[k]);
        }
        let rot0 = s.rot;
        let mut edges = 1u32;
        while let Some(m) = queue.pop() {
            let m = m as usize;
            let row = &inc[start[m]..start[m + 1]];
            let row_bins = &inc_bin[start[m]..start[m + 1]];
            window.clear();
            rot_window(row, row_bins, bin(rot0), tol_bins, &mut window);
            for &ai in &window {
                let ai = ai as usize;
                if visited[ai] {
                    continue;
                }
                let a = assoc[ai];
                if wrap_pi(a.rot - rot0).abs() > params.rotation_tolerance {
                    continue;
                }
                let mut fresh: Option<usize> = None;
                let mut ok = true;
                for k in 0..2 {
                    let (pk, gk) = (a.p[k] as usize, a.g[k]);
                    if p2g[pk] == gk {
                        continue;
                    }
                    if p2g[pk] == NONE && g2p[gk as usize] == NONE && fresh.is_none() {
                        fresh = Some(k);
                    } else {
                        ok = false;
                    }
                }
                if !ok {
                    continue;
                }
                if let Some(k) = fresh {
                    let (pk, gk) = (a.p[k], a.g[k]);
                    if fit.residual(p[pk as usize], g[gk as usize]) > params.translation_tolerance {
                        continue;
                    }
                    p2g[pk as usize] = gk;
                    g2p[gk as usize] = pk;
                    corr.push((pk, gk));
                    fit.add_corr(p[pk as usize], g[gk as usize]);
                    queue.push(pk);
                }
                visited[ai] = true;
                fit.add_rot(a.rot);
                edges += 1;
            }
        }
        for &(pi, gi) in &corr {
            p2g[pi as usize] = NONE;
            g2p[gi as usize] = NONE;
        }
        if edges >= params.min_cluster {
            clusters.push(Cluster {
                edges,
                rot: fit.rot(),
                corr: corr.clone(),
            });
        }
    }
    clusters.sort_by_key(|c| std::cmp::Reverse(c.edges));
    clusters
}

/// Rotation bins of the incident rows (whole degrees).
const ROT_BINS: usize = 360;

/// The entries of `row` (ordered by rotation bin, the bins in `bins`) whose bin is within
/// `tol` bins of `b0`,
/// appended to `out`; the window may wrap around.
fn rot_window(row: &[u32], bins: &[u16], b0: usize, tol: usize, out: &mut Vec<u32>) {
    if 2 * tol + 1 >= ROT_BINS {
        out.extend_from_slice(row);
        return;
    }
    let mut range = |lo: usize, hi: usize| {
        let a = bins.partition_point(|&x| usize::from(x) < lo);
        let b = bins.partition_point(|&x| usize::from(x) <= hi);
        if a < b {
            out.extend_from_slice(&row[a..b]);
        }
    };
    if b0 < tol {
        range(0, b0 + tol);
        range(b0 + ROT_BINS - tol, ROT_BINS - 1);
    } else if b0 + tol >= ROT_BINS {
        range(b0 - tol, ROT_BINS - 1);
        range(0, b0 + tol - ROT_BINS);
    } else {
        range(b0 - tol, b0 + tol);
    }
}

/// Best total of associations over combinations of mutually compatible clusters (same
/// rotation and translation within tolerance, no conflicting correspondences).
fn combine(clusters: &[Cluster], p: &[Pt], g: &[Pt], params: &MatchParams) -> u32 {
    const ANCHORS: usize = 10;
    let mut p2g = vec![NONE; p.len()];
    let mut g2p = vec![NONE; g.len()];
    let mut best = 0u32;
    for anchor in clusters.iter().take(ANCHORS) {
        let mut fit = Fit::default();
        fit.add_rot(anchor.rot);
        let mut total = anchor.edges;
        let mut touched: Vec<(u16, u16)> = Vec::new();
        for &(pi, gi) in &anchor.corr {
            p2g[pi as usize] = gi;
            g2p[gi as usize] = pi;
            touched.push((pi, gi));
            fit.add_corr(p[pi as usize], g[gi as usize]);
        }
        for c in clusters {
            if std::ptr::eq(c, anchor) {
                continue;
            }
            if wrap_pi(c.rot - anchor.rot).abs() > params.rotation_tolerance {
                continue;
            }
            let consistent = c.corr.iter().all(|&(pi, gi)| {
                let (a, b) = (p2g[pi as usize], g2p[gi as usize]);
                (a == NONE && b == NONE) || (a == gi && b == pi)
            });
            if !consistent {
                continue;
            }
            // The other cluster's centroid must land where the anchor's transform puts it.
            let n = c.corr.len() as f32;
            let (mut px, mut py, mut gx, mut gy) = (0f32, 0f32, 0f32, 0f32);
            for &(pi, gi) in &c.corr {
                px += p[pi as usize].x;
                py += p[pi as usize].y;
                gx += g[gi as usize].x;
                gy += g[gi as usize].y;
            }
            let cp = Pt {
                x: px / n,
                y: py / n,
                t: 0.0,
            };
            let cg = Pt {
                x: gx / n,
                y: gy / n,
                t: 0.0,
            };
            if fit.residual(cp, cg) > params.translation_tolerance {
                continue;
            }
            total += c.edges;
            for &(pi, gi) in &c.corr {
                if p2g[pi as usize] == NONE {
                    p2g[pi as usize] = gi;
                    g2p[gi as usize] = pi;
                    touched.push((pi, gi));
                    fit.add_corr(p[pi as usize], g[gi as usize]);
                }
            }
        }
        for (pi, gi) in touched {
            p2g[pi as usize] = NONE;
            g2p[gi as usize] = NONE;
        }
        best = best.max(total);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Minutia, MinutiaKind};

    /// A deterministic pseudo-random template (xorshift), `n` minutiae in `w` x `h`.
    fn template(seed: u64, n: usize, w: u16, h: u16) -> Template {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let minutiae = (0..n)
            .map(|_| Minutia {
                x: (60.0 + next() * (f64::from(w) - 120.0)) as u16,
                y: (60.0 + next() * (f64::from(h) - 120.0)) as u16,
                angle: (next() * std::f64::consts::TAU) as f32,
                kind: if next() < 0.5 {
                    MinutiaKind::Ending
                } else {
                    MinutiaKind::Bifurcation
                },
                quality: 50,
            })
            .collect();
        Template {
            width: w,
            height: h,
            ppi: 500,
            minutiae,
        }
    }

    /// Rotates a template by `rot` radians (document convention) about its centre, then
    /// shifts it.
    fn transform(t: &Template, rot: f32, dx: f32, dy: f32) -> Template {
        let (cx, cy) = (f32::from(t.width) / 2.0, f32::from(t.height) / 2.0);
        let (c, s) = (rot.cos(), rot.sin());
        let minutiae = t
            .minutiae
            .iter()
            .filter_map(|m| {
                // Work with y up so that a positive angle is counter-clockwise.
                let (x, y) = (f32::from(m.x) - cx, cy - f32::from(m.y));
                let (xr, yr) = (c * x - s * y, s * x + c * y);
                let (nx, ny) = (xr + cx + dx, cy - yr + dy);
                if nx < 0.0 || ny < 0.0 || nx >= f32::from(t.width) || ny >= f32::from(t.height) {
                    return None;
                }
                Some(Minutia {
                    x: nx.round() as u16,
                    y: ny.round() as u16,
                    angle: crate::wrap_2pi(m.angle + rot),
                    ..*m
                })
            })
            .collect();
        Template {
            minutiae,
            ..t.clone()
        }
    }

    #[test]
    fn fast_atan2_is_accurate() {
        for i in 0..720 {
            let a = (i as f32 * 0.5).to_radians() - std::f32::consts::PI + 1e-4;
            for r in [0.5f32, 3.0, 120.0] {
                let (y, x) = (r * a.sin(), r * a.cos());
                let e = wrap_pi(fast_atan2(y, x) - y.atan2(x)).abs();
                assert!(e < 1e-4, "angle {a}: error {e}");
            }
        }
        assert_eq!(fast_atan2(0.0, 0.0), 0.0);
    }

    #[test]
    fn identical_templates_score_high_and_unrelated_low() {
        let a = template(1, 45, 500, 500);
        let b = template(2, 45, 500, 500);
        let same = match_score(&a, &a);
        let other = match_score(&a, &b);
        assert!(same > 100, "same {same}");
        assert!(other < same / 5, "other {other} same {same}");
    }

    #[test]
    fn rotation_and_translation_invariant() {
        let a = template(3, 40, 600, 600);
        let same = match_score(&a, &a);
        for (rot, dx, dy) in [(0.5f32, 20.0, -15.0), (-1.2, -30.0, 10.0), (3.0, 0.0, 0.0)] {
            let b = transform(&a, rot, dx, dy);
            let s = match_score(&a, &b);
            // Rounding to whole pixels and minutiae pushed off the image cost a little.
            assert!(s as f32 > 0.6 * same as f32, "rot {rot}: {s} vs {same}");
        }
    }

    #[test]
    fn too_few_minutiae_score_zero() {
        let mut a = template(4, 2, 300, 300);
        assert_eq!(match_score(&a, &a), 0);
        a.minutiae.clear();
        assert_eq!(match_score(&a, &template(5, 30, 300, 300)), 0);
    }

    #[test]
    fn resolution_is_normalised() {
        let a = template(6, 40, 500, 500);
        // The same finger at 1000 ppi: coordinates doubled.
        let b = Template {
            width: 1000,
            height: 1000,
            ppi: 1000,
            minutiae: a
                .minutiae
                .iter()
                .map(|m| Minutia {
                    x: m.x * 2,
                    y: m.y * 2,
                    ..*m
                })
                .collect(),
        };
        assert_eq!(match_score(&a, &b), match_score(&a, &a));
    }
}
