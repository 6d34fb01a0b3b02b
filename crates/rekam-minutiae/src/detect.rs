//! Minutiae detection on the skeleton (crossing number), direction by tracing the ridges away
//! from each candidate, removal of false minutiae (spurs, bridges, short fragments, broken
//! ridges, border, clusters) and quality from the local block quality.

use crate::field::{CELL, Field, PAD, Padded};
use crate::thin::{CROSSING, RING, code};
use crate::{Minutia, MinutiaKind, wrap_2pi, wrap_pi};
use std::f32::consts::PI;

/// Pixels traced along a ridge to measure a direction.
const DIR_LEN: usize = 10;
/// Longest trace used by the false-minutiae rules.
const TRACE_MAX: usize = 24;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum End {
    /// Reached a skeleton end (crossing number 1) at this index.
    Ending(usize),
    /// Reached a junction (crossing number 3 or more) at this index.
    Junction(usize),
    /// Traced the maximum length.
    Limit,
    /// Came back onto itself.
    Loop,
}

struct Trace {
    path: Vec<usize>,
    end: End,
}

/// Index of ring position `k` around pixel `i`.
#[inline]
fn ring_idx(i: usize, k: usize, w: usize) -> usize {
    let (dx, dy) = RING[k];
    i.wrapping_add_signed(dy * w as isize + dx)
}

/// Maximal runs of set bits around the ring, each as a list of ring positions.
fn runs(c: u8) -> Vec<Vec<usize>> {
    if c == 0xff {
        return vec![(0..8).collect()];
    }
    // Start just after a zero bit so that no run wraps around.
    let start = (0..8).find(|&k| (c >> k) & 1 == 0).unwrap_or(0);
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    for s in 1..=8 {
        let k = (start + s) % 8;
        if (c >> k) & 1 == 1 {
            cur.push(k);
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The pixel to step to in a run: a 4-neighbour if the run has one, else its first pixel.
fn pick(run: &[usize]) -> Option<usize> {
    run.iter()
        .copied()
        .find(|k| k % 2 == 0)
        .or_else(|| run.first().copied())
}

fn trace(skel: &[u8], w: usize, start: usize, first: usize, max: usize) -> Trace {
    let mut path = vec![first];
    let mut prev = start;
    let mut cur = first;
    loop {
        let c = code(skel, cur, w);
        let cn = CROSSING[c as usize];
        if cn <= 1 {
            return Trace {
                path,
                end: End::Ending(cur),
            };
        }
        if cn >= 3 {
            return Trace {
                path,
                end: End::Junction(cur),
            };
        }
        if path.len() >= max {
            return Trace {
                path,
                end: End::Limit,
            };
        }
        let rs = runs(c);
        let back = rs
            .iter()
            .position(|r| r.iter().any(|&k| ring_idx(cur, k, w) == prev));
        let next = rs
            .iter()
            .enumerate()
            .filter(|(j, _)| Some(*j) != back)
            .find_map(|(_, r)| pick(r))
            .map(|k| ring_idx(cur, k, w));
        let Some(next) = next else {
            return Trace {
                path,
                end: End::Ending(cur),
            };
        };
        let recent = path.len().saturating_sub(6);
        if next == start || path[recent..].contains(&next) {
            return Trace {
                path,
                end: End::Loop,
            };
        }
        prev = cur;
        cur = next;
        path.push(cur);
    }
}

struct Cand {
    x: usize,
    y: usize,
    idx: usize,
    kind: MinutiaKind,
    /// Direction in image coordinates (`atan2(dy, dx)`, y down).
    theta: f32,
    traces: Vec<Trace>,
    keep: bool,
}

/// Detects minutiae on the skeleton (padded buffer of the same geometry as `p`).
pub(crate) fn detect(skel: &[u8], p: &Padded, f: &Field) -> Vec<Minutia> {
    let w = p.pw;
    let mut cands: Vec<Cand> = Vec::new();
    for y in 0..p.h {
        let base = p.idx(0, y);
        let row = &skel[base..base + p.w];
        for (x, &v) in row.iter().enumerate() {
            if v == 0 || !f.mask[f.cell_of(x, y)] {
                continue;
            }
            let i = base + x;
            let c = code(skel, i, w);
            let kind = match CROSSING[c as usize] {
                1 => MinutiaKind::Ending,
                3 => MinutiaKind::Bifurcation,
                _ => continue,
            };
            cands.push(Cand {
                x,
                y,
                idx: i,
                kind,
                theta: 0.0,
                traces: Vec::new(),
                keep: true,
            });
        }
    }
    // Trace each candidate's ridges and set its direction.
    for c in cands.iter_mut() {
        let code = code(skel, c.idx, w);
        for run in runs(code) {
            if let Some(k) = pick(&run) {
                c.traces
                    .push(trace(skel, w, c.idx, ring_idx(c.idx, k, w), TRACE_MAX));
            }
        }
        let rays: Vec<f32> = c
            .traces
            .iter()
            .map(|t| {
                let j = t.path[(DIR_LEN - 1).min(t.path.len() - 1)];
                let (jx, jy) = ((j % w) as f32, (j / w) as f32);
                let (cx, cy) = ((c.idx % w) as f32, (c.idx / w) as f32);
                (jy - cy).atan2(jx - cx)
            })
            .collect();
        c.theta = match (c.kind, rays.as_slice()) {
            (MinutiaKind::Ending, [a]) => *a,
            (MinutiaKind::Bifurcation, [a, b, d]) => {
                // Bisect the two rays that are closest to each other: the branches.
                let pairs = [(*a, *b), (*a, *d), (*b, *d)];
                let (u, v) = pairs
                    .iter()
                    .copied()
                    .min_by(|p, q| {
                        wrap_pi(p.0 - p.1)
                            .abs()
                            .total_cmp(&wrap_pi(q.0 - q.1).abs())
                    })
                    .unwrap_or((*a, *b));
                u + 0.5 * wrap_pi(v - u)
            }
            _ => {
                c.keep = false;
                0.0
            }
        };
    }
    let singular = singular_points(f);
    remove_false(&mut cands, p, f, &singular);
    let kept: Vec<&Cand> = cands.iter().filter(|c| c.keep).collect();
    let mut out: Vec<Minutia> = kept
        .iter()
        .map(|c| Minutia {
            x: c.x as u16,
            y: c.y as u16,
            angle: wrap_2pi(-c.theta),
            kind: c.kind,
            quality: quality(c, &kept, &singular, f),
        })
        .collect();
    out.sort_by(|a, b| {
        b.quality
            .cmp(&a.quality)
            .then(a.y.cmp(&b.y))
            .then(a.x.cmp(&b.x))
    });
    out
}

/// Centres (pixels) of the cells at singular points of the orientation field.
fn singular_points(f: &Field) -> Vec<(f32, f32)> {
    f.singular_cells()
        .into_iter()
        .map(|c| {
            (
                ((c % f.cw) * CELL) as f32 + CELL as f32 / 2.0,
                ((c / f.cw) * CELL) as f32 + CELL as f32 / 2.0,
            )
        })
        .collect()
}

/// Quality 1..=100 of a kept minutia from the local block quality (orientation coherence,
/// contrast, ridge-filter response, distance to the print's edge) and its surroundings (how
/// crowded it is, how close to a core or delta, how short its ridges are before the next
/// feature): the product of factors in [0, 1].
fn quality(c: &Cand, kept: &[&Cand], singular: &[(f32, f32)], f: &Field) -> u8 {
    let cell = f.cell_of(c.x, c.y);
    let t = f.period[cell];
    let (x, y) = (c.x as f32, c.y as f32);
    let q_coh = ((f.coherence[cell] - 0.1) / 0.5).clamp(0.0, 1.0);
    let q_con = (f.contrast[cell] / 30.0).clamp(0.0, 1.0);
    let q_str = (f.strength[cell] / 0.8).clamp(0.0, 1.0);
    let q_dep = match f.depth[cell] {
        0..=1 => 0.3,
        2 => 0.6,
        3 => 0.8,
        4 => 0.9,
        _ => 1.0,
    };
    let nearest = kept
        .iter()
        .filter(|o| !std::ptr::eq(**o, c))
        .map(|o| (o.x as f32 - x).hypot(o.y as f32 - y))
        .fold(f32::MAX, f32::min);
    let q_crowd = (nearest / (2.5 * t)).clamp(0.3, 1.0);
    let to_singular = singular
        .iter()
        .map(|&(sx, sy)| (sx - x).hypot(sy - y))
        .fold(f32::MAX, f32::min);
    let q_sing = 0.4 + 0.6 * (to_singular / (4.0 * t)).min(1.0);
    // Ridges that meet another feature within two periods make a fragile minutia.
    let shortest = c
        .traces
        .iter()
        .filter(|tr| !matches!(tr.end, End::Limit))
        .map(|tr| tr.path.len() as f32)
        .fold(f32::MAX, f32::min);
    let q_len = (shortest / (2.5 * t)).clamp(0.4, 1.0);
    let q = 100.0 * (0.4 * q_coh + 0.3 * q_con + 0.3 * q_str) * q_dep * q_crowd * q_sing * q_len;
    q.round().clamp(1.0, 100.0) as u8
}

/// Whether background (or the image edge) lies within `reach` pixels behind minutia `c`.
fn points_out(c: &Cand, f: &Field, reach: f32) -> bool {
    let (dx, dy) = (-c.theta.cos(), -c.theta.sin());
    let steps = (reach / 4.0).ceil() as usize;
    (1..=steps).any(|k| {
        let x = c.x as f32 + dx * 4.0 * k as f32;
        let y = c.y as f32 + dy * 4.0 * k as f32;
        if x < 0.0 || y < 0.0 {
            return true;
        }
        let (cx, cy) = (x as usize / CELL, y as usize / CELL);
        cx >= f.cw || cy >= f.ch || !f.mask[cy * f.cw + cx]
    })
}

fn remove_false(cands: &mut [Cand], p: &Padded, f: &Field, singular: &[(f32, f32)]) {
    let w = p.pw;
    let n = cands.len();
    // Index of a candidate by skeleton pixel, to follow traces to other candidates.
    let mut at: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for (j, c) in cands.iter().enumerate() {
        at.insert(c.idx, j);
    }
    let near = |idx: usize| -> Option<usize> {
        // The candidate at or next to a skeleton pixel (junctions may be a few pixels wide).
        if let Some(&j) = at.get(&idx) {
            return Some(j);
        }
        (0..8).find_map(|k| at.get(&ring_idx(idx, k, w)).copied())
    };
    let period = |c: &Cand| f.period[f.cell_of(c.x, c.y)];
    let mut drop = vec![false; n];
    for j in 0..n {
        if !cands[j].keep {
            drop[j] = true;
            continue;
        }
        let t_local = period(&cands[j]);
        for t in &cands[j].traces {
            let len = t.path.len() as f32;
            match (cands[j].kind, t.end) {
                // Spur or hook: an ending that meets a junction soon.
                (MinutiaKind::Ending, End::Junction(e)) if len <= 1.3 * t_local => {
                    drop[j] = true;
                    if let Some(o) = near(e) {
                        drop[o] = true;
                    }
                }
                // A short fragment: two endings joined by a short ridge.
                (MinutiaKind::Ending, End::Ending(e)) if len <= 1.6 * t_local => {
                    drop[j] = true;
                    if let Some(o) = near(e) {
                        drop[o] = true;
                    }
                }
                // Bridge or small lake: two forks joined by a short ridge.
                (MinutiaKind::Bifurcation, End::Junction(e)) if len <= 1.3 * t_local => {
                    drop[j] = true;
                    if let Some(o) = near(e) {
                        drop[o] = true;
                    }
                }
                (MinutiaKind::Bifurcation, End::Loop) => drop[j] = true,
                _ => {}
            }
        }
        // Too close to the edge of the finger area or of the image.
        let c = &cands[j];
        let cell = f.cell_of(c.x, c.y);
        if f.depth[cell] < 2 || c.x < PAD || c.y < PAD || c.x + PAD >= p.w || c.y + PAD >= p.h {
            drop[j] = true;
        }
        // An ending whose ridge stops because the print stops: behind it (opposite to its
        // direction) lies background within a few ridge periods.
        if c.kind == MinutiaKind::Ending && points_out(c, f, 2.0 * t_local) {
            drop[j] = true;
        }
    }
    // Pairwise rules on the survivors: broken ridges (two endings facing each other across a
    // short gap) and pairs too close to be distinct minutiae.
    // Candidates are in raster order (sorted by y): each scan stops once rows are too far.
    let alive: Vec<usize> = (0..n).filter(|&j| !drop[j]).collect();
    let mut drop2 = drop.clone();
    for (ai, &a) in alive.iter().enumerate() {
        let t_local = period(&cands[a]);
        for &b in &alive[ai + 1..] {
            let (ca, cb) = (&cands[a], &cands[b]);
            let dx = cb.x as f32 - ca.x as f32;
            let dy = cb.y as f32 - ca.y as f32;
            if dy > 2.5 * t_local {
                break;
            }
            let d = (dx * dx + dy * dy).sqrt();
            if d > 2.5 * t_local {
                continue;
            }
            if d < 0.6 * t_local {
                drop2[a] = true;
                drop2[b] = true;
                continue;
            }
            if ca.kind == MinutiaKind::Ending
                && cb.kind == MinutiaKind::Ending
                && d <= 2.2 * t_local
            {
                // Each ending points into its own ridge, so across a gap each points away
                // from the other.
                let ab = dy.atan2(dx);
                let facing_a = wrap_pi(ca.theta - (ab + PI)).abs() < PI / 4.0;
                let facing_b = wrap_pi(cb.theta - ab).abs() < PI / 4.0;
                if facing_a && facing_b {
                    drop2[a] = true;
                    drop2[b] = true;
                }
            }
        }
    }
    // Singular points (cores, deltas): the skeleton turns or forks there without a minutia.
    if !singular.is_empty() {
        for (j, c) in cands.iter().enumerate() {
            let r = 1.5 * period(c);
            if singular
                .iter()
                .any(|&(x, y)| (c.x as f32 - x).hypot(c.y as f32 - y) <= r)
            {
                drop2[j] = true;
            }
        }
    }
    // Clusters: many minutiae within a small radius come from noise.
    let alive: Vec<usize> = (0..n).filter(|&j| !drop2[j]).collect();
    let mut drop3 = drop2.clone();
    for &a in &alive {
        let r = 2.0 * period(&cands[a]);
        let (y0, y1) = (cands[a].y as f32 - r, cands[a].y as f32 + r);
        let lo = alive.partition_point(|&b| (cands[b].y as f32) < y0);
        let hi = alive.partition_point(|&b| (cands[b].y as f32) <= y1);
        let k = alive[lo..hi]
            .iter()
            .filter(|&&b| {
                let dx = cands[b].x as f32 - cands[a].x as f32;
                let dy = cands[b].y as f32 - cands[a].y as f32;
                b != a && dx * dx + dy * dy <= r * r
            })
            .count();
        if k >= 3 {
            drop3[a] = true;
        }
    }
    for (c, d) in cands.iter_mut().zip(drop3) {
        if d {
            c.keep = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_the_ring() {
        let mut r = runs(0b0001_0001);
        r.sort();
        assert_eq!(r, vec![vec![0], vec![4]]);
        assert_eq!(runs(0b1000_0011), vec![vec![7, 0, 1]]);
        assert_eq!(runs(0).len(), 0);
        assert_eq!(runs(0b0101_0001).len(), 3);
    }

    #[test]
    fn pick_prefers_four_neighbours() {
        assert_eq!(pick(&[1, 2, 3]), Some(2));
        assert_eq!(pick(&[3]), Some(3));
        assert_eq!(pick(&[]), None);
    }
}
