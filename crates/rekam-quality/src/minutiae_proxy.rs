//! A cheap minutiae counter used when the caller has no minutiae extractor result.
//!
//! The foreground is binarised against a local mean (ridge = darker than the 15×15 mean of a
//! 3×3-smoothed image), thinned to a one-pixel skeleton (Zhang–Suen, table driven), and the
//! skeleton pixels with crossing number 1 (ridge ending) or 3 (bifurcation) are counted, only
//! inside the *interior* of the foreground (blocks whose eight neighbours are foreground too,
//! so the cut at the edge of the print is not counted). Pairs of candidates closer than
//! [`PAIR_DISTANCE`] pixels are dropped together: they are the usual artefacts of a
//! skeleton (short spurs, bridges between ridges, broken ridges, tiny islands), and dropping
//! them is what a real extractor's post-processing does first.
//!
//! It is a proxy, not an extractor: no direction, no quality, no false-minutiae model beyond
//! the pair rule. It is good enough for the one thing the quality model needs, a count that
//! grows with the amount of clear ridge structure.

/// Candidates closer than this (pixels at 500 ppi, about 0.2 mm) are removed in pairs.
pub(crate) const PAIR_DISTANCE: i32 = 8;

/// Upper bound on thinning passes (ridges at 500 ppi are at most ~12 px wide, so real
/// images converge in far fewer).
const MAX_THINNING_PASSES: usize = 16;

/// Neighbour bit order: bit 0 = N (P2), 1 = NE, 2 = E, 3 = SE, 4 = S, 5 = SW, 6 = W, 7 = NW.
fn neighbour_code(img: &[u8], w: usize, i: usize) -> u8 {
    let n = img[i - w];
    let ne = img[i - w + 1];
    let e = img[i + 1];
    let se = img[i + w + 1];
    let s = img[i + w];
    let sw = img[i + w - 1];
    let west = img[i - 1];
    let nw = img[i - w - 1];
    n | (ne << 1) | (e << 2) | (se << 3) | (s << 4) | (sw << 5) | (west << 6) | (nw << 7)
}

/// Number of 0→1 transitions in the circular sequence P2..P9,P2.
fn transitions(code: u8) -> u32 {
    let mut t = 0;
    for k in 0..8 {
        let a = (code >> k) & 1;
        let b = (code >> ((k + 1) % 8)) & 1;
        if a == 0 && b == 1 {
            t += 1;
        }
    }
    t
}

/// Zhang–Suen deletion tables for the two sub-iterations.
fn thinning_tables() -> [[bool; 256]; 2] {
    let mut lut = [[false; 256]; 2];
    for code in 0..256u32 {
        let c = code as u8;
        let bit = |k: u32| (c >> k) & 1;
        let (p2, p4, p6, p8) = (bit(0), bit(2), bit(4), bit(6));
        let b = c.count_ones();
        let a = transitions(c);
        let base = (2..=6).contains(&b) && a == 1;
        lut[0][code as usize] = base && p2 * p4 * p6 == 0 && p4 * p6 * p8 == 0;
        lut[1][code as usize] = base && p2 * p4 * p8 == 0 && p2 * p6 * p8 == 0;
    }
    lut
}

/// Counts minutiae candidates in the interior foreground of `img` (row-major, `w`×`h`).
///
/// `block_fg[by * bw + bx]` marks the foreground blocks of size `block` whose grid starts at
/// pixel (`ox`, `oy`).
pub(crate) fn count_minutiae(
    img: &[u8],
    w: usize,
    h: usize,
    grid: &crate::quality::Grid,
    block_fg: &[bool],
) -> u32 {
    let (bw, bh, b) = (grid.bw, grid.bh, grid.block);
    if w < 3 || h < 3 || bw == 0 || bh == 0 || img.len() < w * h {
        return 0;
    }
    // Integral image of the original, for both the 3x3 smoothing and the 15x15 local mean.
    // Wrapping u32 arithmetic: a box sum is the difference of four entries modulo 2^32,
    // exact because every box sum here is far below 2^32, whatever the image size.
    let iw = w + 1;
    let mut integral = vec![0u32; iw * (h + 1)];
    for y in 0..h {
        let mut row_sum = 0u32;
        let row = &img[y * w..(y + 1) * w];
        for x in 0..w {
            row_sum = row_sum.wrapping_add(u32::from(row[x]));
            integral[(y + 1) * iw + x + 1] = integral[y * iw + x + 1].wrapping_add(row_sum);
        }
    }
    let box_sum = |x0: usize, y0: usize, x1: usize, y1: usize| -> u32 {
        // inclusive-exclusive [x0, x1) x [y0, y1)
        integral[y1 * iw + x1]
            .wrapping_add(integral[y0 * iw + x0])
            .wrapping_sub(integral[y0 * iw + x1])
            .wrapping_sub(integral[y1 * iw + x0])
    };

    // Binarise foreground blocks; leave a one-pixel zero border around the image.
    let mut bin = vec![0u8; w * h];
    let mut ridge_pixels: Vec<u32> = Vec::new();
    const R_SMALL: usize = 1;
    const R_LARGE: usize = 7;
    for by in 0..bh {
        for bx in 0..bw {
            if !block_fg[by * bw + bx] {
                continue;
            }
            let x0 = (grid.ox + bx * b).max(1);
            let x1 = (grid.ox + (bx + 1) * b).min(w - 1);
            let y0 = (grid.oy + by * b).max(1);
            let y1 = (grid.oy + (by + 1) * b).min(h - 1);
            for y in y0..y1 {
                let sy0 = y - R_SMALL;
                let sy1 = y + R_SMALL + 1;
                let ly0 = y.saturating_sub(R_LARGE);
                let ly1 = (y + R_LARGE + 1).min(h);
                for x in x0..x1 {
                    let small = box_sum(x - R_SMALL, sy0, x + R_SMALL + 1, sy1);
                    let lx0 = x.saturating_sub(R_LARGE);
                    let lx1 = (x + R_LARGE + 1).min(w);
                    let large = box_sum(lx0, ly0, lx1, ly1);
                    let n_large = ((lx1 - lx0) * (ly1 - ly0)) as u64;
                    // small/9 < large/n_large  (ridges are dark)
                    if u64::from(small) * n_large < u64::from(large) * 9 {
                        let i = y * w + x;
                        bin[i] = 1;
                        ridge_pixels.push(i as u32);
                    }
                }
            }
        }
    }

    // Zhang–Suen thinning over the ridge pixels only.
    let lut = thinning_tables();
    let mut pts = ridge_pixels;
    let mut deletions: Vec<u32> = Vec::new();
    for _ in 0..MAX_THINNING_PASSES {
        let mut changed = false;
        for table in &lut {
            deletions.clear();
            for &p in &pts {
                let i = p as usize;
                if bin[i] == 1 && table[usize::from(neighbour_code(&bin, w, i))] {
                    deletions.push(p);
                }
            }
            for &p in &deletions {
                bin[p as usize] = 0;
            }
            changed |= !deletions.is_empty();
        }
        pts.retain(|&p| bin[p as usize] == 1);
        if !changed {
            break;
        }
    }

    // Interior blocks: the block and its eight neighbours are foreground.
    let interior = |bx: usize, by: usize| -> bool {
        if bx == 0 || by == 0 || bx + 1 >= bw || by + 1 >= bh {
            return false;
        }
        (by - 1..=by + 1).all(|yy| (bx - 1..=bx + 1).all(|xx| block_fg[yy * bw + xx]))
    };
    let mut candidates: Vec<(i32, i32)> = Vec::new();
    for &p in &pts {
        let i = p as usize;
        let (x, y) = (i % w, i / w);
        if x < grid.ox || y < grid.oy {
            continue;
        }
        let (bx, by) = ((x - grid.ox) / b, (y - grid.oy) / b);
        if bx >= bw || by >= bh || !interior(bx, by) {
            continue;
        }
        // On a thinned skeleton the number of 0->1 transitions around a pixel is its
        // crossing number: 1 at a ridge ending, 3 at a bifurcation (an isolated pixel has 0).
        let code = neighbour_code(&bin, w, i);
        let cn = transitions(code);
        if (cn == 1 && code.count_ones() <= 2) || cn == 3 {
            candidates.push((x as i32, y as i32));
        }
    }
    drop_close_pairs(&mut candidates);
    candidates.len() as u32
}

/// Removes every candidate that has another candidate within [`PAIR_DISTANCE`].
/// `points` need not be sorted.
fn drop_close_pairs(points: &mut Vec<(i32, i32)>) {
    points.sort_unstable_by_key(|&(x, y)| (y, x));
    let d2 = PAIR_DISTANCE * PAIR_DISTANCE;
    let n = points.len();
    let mut keep = vec![true; n];
    let mut start = 0;
    for i in 0..n {
        let (xi, yi) = points[i];
        while points[start].1 < yi - PAIR_DISTANCE {
            start += 1;
        }
        for j in start..i {
            let (xj, yj) = points[j];
            let (dx, dy) = (xi - xj, yi - yj);
            if dx * dx + dy * dy < d2 {
                keep[i] = false;
                keep[j] = false;
            }
        }
    }
    let mut k = 0;
    points.retain(|_| {
        let r = keep[k];
        k += 1;
        r
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_of_simple_codes() {
        assert_eq!(transitions(0), 0);
        assert_eq!(transitions(0xff), 0);
        assert_eq!(transitions(0b0000_0001), 1);
        assert_eq!(transitions(0b0001_0001), 2);
        assert_eq!(transitions(0b0101_0100), 3);
    }

    #[test]
    fn close_pairs_are_dropped_and_far_points_kept() {
        let mut pts = vec![(10, 10), (14, 12), (100, 100), (50, 10)];
        drop_close_pairs(&mut pts);
        assert_eq!(pts, vec![(50, 10), (100, 100)]);
    }

    #[test]
    fn thinning_table_keeps_line_ends_and_deletes_edge_pixels() {
        let lut = thinning_tables();
        // End of a horizontal line (only E neighbour): B = 1 -> kept.
        assert!(!lut[0][0b0000_0100]);
        // Pixel on the south-east edge of a blob (neighbours N, NW, W): deleted in pass 1.
        assert!(lut[0][0b1100_0001]);
        // Interior pixel: kept.
        assert!(!lut[0][0xff]);
    }
}
