//! Thinning of the binarised ridges to an 8-connected, one-pixel-wide skeleton: table-driven
//! Zhang-Suen over a shrinking candidate list, then removal of the staircase pixels it
//! leaves behind.
//!
//! Neighbour codes: bit 0 = N, 1 = NE, 2 = E, 3 = SE, 4 = S, 5 = SW, 6 = W, 7 = NW (clockwise
//! from north).

/// Offsets (dx, dy) of the eight neighbours in code-bit order.
pub(crate) const RING: [(isize, isize); 8] = [
    (0, -1),
    (1, -1),
    (1, 0),
    (1, 1),
    (0, 1),
    (-1, 1),
    (-1, 0),
    (-1, -1),
];

/// Neighbour code of pixel `i` in a buffer of row length `w`.
#[inline]
pub(crate) fn code(img: &[u8], i: usize, w: usize) -> u8 {
    let n = i - w;
    let s = i + w;
    (img[n] & 1)
        | (img[n + 1] & 1) << 1
        | (img[i + 1] & 1) << 2
        | (img[s + 1] & 1) << 3
        | (img[s] & 1) << 4
        | (img[s - 1] & 1) << 5
        | (img[i - 1] & 1) << 6
        | (img[n - 1] & 1) << 7
}

/// Number of 0 → 1 transitions around the ring (the crossing number).
pub(crate) const fn crossing(c: u8) -> u8 {
    let mut t = 0;
    let mut k = 0;
    while k < 8 {
        let a = (c >> k) & 1;
        let b = (c >> ((k + 1) % 8)) & 1;
        if a == 0 && b == 1 {
            t += 1;
        }
        k += 1;
    }
    t
}

/// Crossing number of every neighbour code.
pub(crate) const CROSSING: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = crossing(c as u8);
        c += 1;
    }
    t
};

const fn bit(c: u8, k: usize) -> bool {
    (c >> k) & 1 == 1
}

/// Zhang-Suen deletion tables for the two sub-iterations.
const ZS: [[bool; 256]; 2] = {
    let mut t = [[false; 256]; 2];
    let mut c = 0;
    while c < 256 {
        let code = c as u8;
        let b = code.count_ones();
        let a = crossing(code);
        let (n, e, s, w) = (bit(code, 0), bit(code, 2), bit(code, 4), bit(code, 6));
        if b >= 2 && b <= 6 && a == 1 {
            t[0][c] = !(n && e && s) && !(e && s && w);
            t[1][c] = !(n && e && w) && !(n && s && w);
        }
        c += 1;
    }
    t
};

/// Number of 8-connected foreground components among the ring pixels.
const fn fg_components(c: u8) -> u32 {
    // Two ring positions are 8-adjacent when consecutive, or when both are 4-neighbours two
    // steps apart (e.g. N and E, with NE between them).
    let mut label = [0u8; 8];
    let mut next = 0u8;
    let mut k = 0;
    while k < 8 {
        if bit(c, k) && label[k] == 0 {
            next += 1;
            // Flood fill over the ring.
            let mut stack = [0usize; 8];
            let mut sp = 0;
            stack[sp] = k;
            sp += 1;
            label[k] = next;
            while sp > 0 {
                sp -= 1;
                let p = stack[sp];
                let mut q = 0;
                while q < 8 {
                    if bit(c, q) && label[q] == 0 {
                        let d = (p + 8 - q) % 8;
                        let adjacent = d == 1 || d == 7 || ((d == 2 || d == 6) && p % 2 == 0);
                        if adjacent {
                            label[q] = next;
                            stack[sp] = q;
                            sp += 1;
                        }
                    }
                    q += 1;
                }
            }
        }
        k += 1;
    }
    next as u32
}

/// Number of 4-connected background components among the ring pixels that touch a
/// 4-neighbour of the centre.
const fn bg_components(c: u8) -> u32 {
    let mut label = [0u8; 8];
    let mut next = 0u8;
    let mut k = 0;
    while k < 8 {
        // Only start from background 4-neighbours (even positions).
        if k % 2 == 0 && !bit(c, k) && label[k] == 0 {
            next += 1;
            let mut stack = [0usize; 8];
            let mut sp = 0;
            stack[sp] = k;
            sp += 1;
            label[k] = next;
            while sp > 0 {
                sp -= 1;
                let p = stack[sp];
                // 4-adjacency on the ring: consecutive positions.
                let a = (p + 1) % 8;
                let b = (p + 7) % 8;
                if !bit(c, a) && label[a] == 0 {
                    label[a] = next;
                    stack[sp] = a;
                    sp += 1;
                }
                if !bit(c, b) && label[b] == 0 {
                    label[b] = next;
                    stack[sp] = b;
                    sp += 1;
                }
            }
        }
        k += 1;
    }
    next as u32
}

/// Staircase pixels: simple (removal keeps the topology), not an end, and with two
/// perpendicular 4-neighbours set.
const STAIR: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let code = c as u8;
        let (n, e, s, w) = (bit(code, 0), bit(code, 2), bit(code, 4), bit(code, 6));
        let corner = (n && e) || (e && s) || (s && w) || (w && n);
        t[c] = corner
            && code.count_ones() >= 2
            && fg_components(code) == 1
            && bg_components(code) == 1;
        c += 1;
    }
    t
};

/// Thins `img` (padded buffer `w * h`, 1 = ridge) in place. The outermost rows and columns
/// must be 0.
pub(crate) fn thin(img: &mut [u8], w: usize, h: usize) {
    let mut cand: Vec<usize> = Vec::new();
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let i = y * w + x;
            if img[i] != 0 {
                cand.push(i);
            }
        }
    }
    let mut del: Vec<usize> = Vec::new();
    loop {
        let mut changed = false;
        for table in &ZS {
            del.clear();
            for &i in &cand {
                if img[i] != 0 && table[code(img, i, w) as usize] {
                    del.push(i);
                }
            }
            for &i in &del {
                img[i] = 0;
            }
            changed |= !del.is_empty();
        }
        // Pixels with all four 4-neighbours set cannot be deleted in this round; keep them as
        // candidates anyway (they will be exposed later).
        cand.retain(|&i| img[i] != 0);
        if !changed {
            break;
        }
    }
    for &i in &cand {
        if img[i] != 0 && STAIR[code(img, i, w) as usize] {
            img[i] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossing_numbers() {
        assert_eq!(CROSSING[0], 0);
        assert_eq!(CROSSING[0b0000_0001], 1); // N only: an end
        assert_eq!(CROSSING[0b0001_0001], 2); // N and S: a line
        assert_eq!(CROSSING[0b0101_0001], 3); // N, S, W: a fork
        assert_eq!(CROSSING[0b0101_0101], 4); // a cross
        assert_eq!(CROSSING[0b0000_0011], 1); // N and NE: still an end
    }

    #[test]
    fn staircase_table() {
        // N and E only: a staircase corner, removable.
        assert!(STAIR[0b0000_0101]);
        // N and S: a line, not removable.
        assert!(!STAIR[0b0001_0001]);
        // N, E and SW: removing the centre would split SW off.
        assert!(!STAIR[0b0010_0101]);
        // All eight: interior, removal would make a hole.
        assert!(!STAIR[0xff]);
    }

    fn draw(w: usize, h: usize, f: impl Fn(usize, usize) -> bool) -> Vec<u8> {
        let mut v = vec![0u8; w * h];
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                v[y * w + x] = u8::from(f(x, y));
            }
        }
        v
    }

    #[test]
    fn thick_bar_thins_to_one_pixel_line() {
        let (w, h) = (40, 20);
        let mut img = draw(w, h, |x, y| (5..35).contains(&x) && (7..12).contains(&y));
        thin(&mut img, w, h);
        // Each interior column keeps exactly one pixel.
        for x in 10..30 {
            let n: u32 = (0..h).map(|y| u32::from(img[y * w + x])).sum();
            assert_eq!(n, 1, "column {x}");
        }
        // The skeleton is one piece with exactly two ends.
        let ends = (0..w * h)
            .filter(|&i| img[i] != 0 && CROSSING[code(&img, i, w) as usize] == 1)
            .count();
        assert_eq!(ends, 2);
    }

    #[test]
    fn ring_keeps_its_hole() {
        let (w, h) = (40, 40);
        let mut img = draw(w, h, |x, y| {
            let (dx, dy) = (x as f32 - 20.0, y as f32 - 20.0);
            let r = (dx * dx + dy * dy).sqrt();
            (8.0..13.0).contains(&r)
        });
        thin(&mut img, w, h);
        // A closed loop: every skeleton pixel continues the line (crossing number 2).
        let mut n = 0;
        for i in 0..w * h {
            if img[i] != 0 {
                n += 1;
                assert_eq!(CROSSING[code(&img, i, w) as usize], 2, "pixel {i}");
            }
        }
        assert!(n > 40);
    }
}
