//! The WSQ decomposition geometry.
//!
//! WSQ splits the image with a fixed wavelet-packet tree: twenty separable two-dimensional
//! analysis steps (the "W tree"), each applied to a rectangle of the working image, leave 64
//! subbands (the "Q tree") of which the first 60 are quantized and coded and the last four (the
//! diagonal detail of the first level) are dropped. How odd lengths are split between the low
//! and high halves, and which steps store their high-pass half first ("spectral inversion"), is
//! fixed by the specification; this module computes those rectangles for a given image size.

/// A rectangle of the working image (row-major, `width` samples per row).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Rect {
    /// Left column.
    pub x: usize,
    /// Top row.
    pub y: usize,
    /// Width in samples.
    pub w: usize,
    /// Height in samples.
    pub h: usize,
}

impl Rect {
    fn new(x: usize, y: usize, w: usize, h: usize) -> Self {
        Rect { x, y, w, h }
    }

    /// Number of samples.
    pub fn area(&self) -> usize {
        self.w * self.h
    }
}

/// One analysis step: the rectangle it transforms and whether its row (horizontal) and column
/// (vertical) filtering store the high-pass half first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Step {
    /// The rectangle transformed by this step.
    pub rect: Rect,
    /// Row filtering stores high-pass outputs before low-pass ones.
    pub inv_rows: bool,
    /// Column filtering stores high-pass outputs before low-pass ones.
    pub inv_cols: bool,
}

/// Number of analysis steps.
pub(crate) const STEPS: usize = 20;
/// Number of subbands in the Q tree (the last four are never coded).
pub(crate) const SUBBANDS: usize = 64;
/// Number of coded subbands.
pub(crate) const CODED_SUBBANDS: usize = 60;
/// First subband of the second coded block.
pub(crate) const BLOCK2_START: usize = 19;
/// First subband of the third coded block.
pub(crate) const BLOCK3_START: usize = 52;
/// Shortest line the filter bank is applied to. NBIS reads outside its buffers on lines of
/// fewer than 5 samples, and on 5-sample lines its synthesis repeats the wrong high-pass sample
/// at the border (the start of the walk coincides with the end of the two-sample band), so its
/// decoder only agrees with a correct one from 6 samples on: smaller images are refused.
pub(crate) const MIN_LINE: usize = 6;

/// The full geometry for one image size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Trees {
    /// The 20 analysis steps, in the order the encoder applies them.
    pub steps: [Step; STEPS],
    /// The 64 subbands.
    pub bands: [Rect; SUBBANDS],
}

/// Halves a length; an odd length gives the extra sample to the first half.
fn split_first_larger(len: usize) -> (usize, usize) {
    let a = len.div_ceil(2);
    (a, len - a)
}

/// Halves a length; an odd length gives the extra sample to the second half.
fn split_second_larger(len: usize) -> (usize, usize) {
    let a = len / 2;
    (a, len - a)
}

/// Quad split used for the W tree: `steps[p1]` is the rectangle, `steps[p2..p2 + 4]` receive
/// its quadrants (the fourth one only if `fourth` is set). Steps 4 and 5 (which sit right of
/// and below the low-pass quadrant) put the extra sample of an odd length on the far side.
fn w_split(steps: &mut [Step; STEPS], p1: usize, p2: usize, r: Rect, fourth: bool) {
    steps[p1].rect = r;
    let (a, b) = if p1 == 4 {
        split_second_larger(r.w)
    } else {
        split_first_larger(r.w)
    };
    let (c, d) = if p1 == 5 {
        split_second_larger(r.h)
    } else {
        split_first_larger(r.h)
    };
    steps[p2].rect = Rect::new(r.x, r.y, a, c);
    steps[p2 + 1].rect = Rect::new(r.x + a, r.y, b, c);
    steps[p2 + 2].rect = Rect::new(r.x, r.y + c, a, d);
    if fourth {
        steps[p2 + 3].rect = Rect::new(r.x + a, r.y + c, b, d);
    }
}

/// 4 × 4 subband grid over a rectangle that was split twice (Q tree, 16 subbands from `p`).
/// `rw`/`cl` say that the first split of rows/columns was spectrally inverted, which moves the
/// extra sample of an odd length to the second half.
fn q_split16(bands: &mut [Rect; SUBBANDS], p: usize, r: Rect, rw: bool, cl: bool) {
    let (tx, t2x) = if cl {
        split_second_larger(r.w)
    } else {
        split_first_larger(r.w)
    };
    let (ty, t2y) = if rw {
        split_second_larger(r.h)
    } else {
        split_first_larger(r.h)
    };
    // Top-left quadrant: normal split.
    let (a1, a2) = split_first_larger(tx);
    let (b1, b2) = split_first_larger(ty);
    // Right and bottom quadrants were inverted: extra sample goes to the second half.
    let (c1, c2) = split_second_larger(t2x);
    let (d1, d2) = split_second_larger(t2y);
    let (x, y) = (r.x, r.y);
    let xr = x + tx;
    let yb = y + ty;
    bands[p] = Rect::new(x, y, a1, b1);
    bands[p + 1] = Rect::new(x + a1, y, a2, b1);
    bands[p + 2] = Rect::new(x, y + b1, a1, b2);
    bands[p + 3] = Rect::new(x + a1, y + b1, a2, b2);
    bands[p + 4] = Rect::new(xr, y, c1, b1);
    bands[p + 5] = Rect::new(xr + c1, y, c2, b1);
    bands[p + 6] = Rect::new(xr, y + b1, c1, b2);
    bands[p + 7] = Rect::new(xr + c1, y + b1, c2, b2);
    bands[p + 8] = Rect::new(x, yb, a1, d1);
    bands[p + 9] = Rect::new(x + a1, yb, a2, d1);
    bands[p + 10] = Rect::new(x, yb + d1, a1, d2);
    bands[p + 11] = Rect::new(x + a1, yb + d1, a2, d2);
    bands[p + 12] = Rect::new(xr, yb, c1, d1);
    bands[p + 13] = Rect::new(xr + c1, yb, c2, d1);
    bands[p + 14] = Rect::new(xr, yb + d1, c1, d2);
    bands[p + 15] = Rect::new(xr + c1, yb + d1, c2, d2);
}

/// 2 × 2 subband grid (Q tree, 4 subbands from `p`).
fn q_split4(bands: &mut [Rect; SUBBANDS], p: usize, r: Rect) {
    let (a1, a2) = split_first_larger(r.w);
    let (b1, b2) = split_first_larger(r.h);
    bands[p] = Rect::new(r.x, r.y, a1, b1);
    bands[p + 1] = Rect::new(r.x + a1, r.y, a2, b1);
    bands[p + 2] = Rect::new(r.x, r.y + b1, a1, b2);
    bands[p + 3] = Rect::new(r.x + a1, r.y + b1, a2, b2);
}

impl Trees {
    /// Builds the geometry for a `width` × `height` image.
    pub fn new(width: usize, height: usize) -> Self {
        let mut steps = [Step::default(); STEPS];
        for i in [2, 4, 7, 9, 11, 13, 16, 18] {
            steps[i].inv_rows = true;
        }
        for i in [3, 5, 8, 9, 12, 13, 17, 18] {
            steps[i].inv_cols = true;
        }
        w_split(&mut steps, 0, 1, Rect::new(0, 0, width, height), false);
        let (lx, lx2) = split_first_larger(steps[1].rect.w);
        let (ly, ly2) = split_first_larger(steps[1].rect.h);
        w_split(&mut steps, 4, 6, Rect::new(lx, 0, lx2, ly), true);
        w_split(&mut steps, 5, 10, Rect::new(0, ly, lx, ly2), true);
        w_split(&mut steps, 14, 15, Rect::new(0, 0, lx, ly), true);
        let r15 = steps[15].rect;
        steps[19].rect = Rect::new(0, 0, r15.w.div_ceil(2), r15.h.div_ceil(2));

        let mut bands = [Rect::default(); SUBBANDS];
        // The order matters: later grids overwrite some entries of earlier ones.
        q_split16(&mut bands, 3, steps[14].rect, false, false);
        q_split16(&mut bands, 19, steps[4].rect, false, true);
        q_split16(&mut bands, 48, steps[0].rect, false, false);
        q_split16(&mut bands, 35, steps[5].rect, true, false);
        q_split4(&mut bands, 0, steps[19].rect);
        Trees { steps, bands }
    }

    /// True when every line the filter bank touches is at least [`MIN_LINE`] samples long.
    pub fn is_supported(&self) -> bool {
        self.steps
            .iter()
            .all(|s| s.rect.w >= MIN_LINE && s.rect.h >= MIN_LINE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 64 subbands tile the image exactly: no overlap, no gap.
    #[test]
    fn subbands_tile_the_image() {
        for (w, h) in [
            (800, 750),
            (1600, 1500),
            (257, 333),
            (500, 401),
            (123, 97),
            (96, 96),
        ] {
            let t = Trees::new(w, h);
            let mut cover = vec![0u8; w * h];
            for b in &t.bands {
                for y in b.y..b.y + b.h {
                    for x in b.x..b.x + b.w {
                        cover[y * w + x] += 1;
                    }
                }
            }
            assert!(
                cover.iter().all(|&c| c == 1),
                "{w}x{h}: subbands overlap or leave gaps"
            );
        }
    }

    /// Every analysis step works on a rectangle inside the image and the low-pass chain nests.
    #[test]
    fn steps_nest_inside_the_image() {
        let t = Trees::new(801, 751);
        for s in &t.steps {
            assert!(s.rect.x + s.rect.w <= 801 && s.rect.y + s.rect.h <= 751);
        }
        assert_eq!(t.steps[0].rect, Rect::new(0, 0, 801, 751));
        assert_eq!(t.steps[1].rect, Rect::new(0, 0, 401, 376));
        assert_eq!(t.steps[14].rect, Rect::new(0, 0, 201, 188));
        assert_eq!(t.steps[19].rect.w, 51);
        // The dropped diagonal band of the first level sits right of step 3 and below step 2.
        assert_eq!(t.bands[60].x, t.steps[2].rect.x);
        assert_eq!(t.bands[60].y, t.steps[3].rect.y);
    }

    #[test]
    fn small_images_are_flagged() {
        assert!(Trees::new(800, 750).is_supported());
        assert!(!Trees::new(40, 40).is_supported());
        assert!(!Trees::new(80, 800).is_supported());
        assert!(Trees::new(81, 800).is_supported());
        assert!(!Trees::new(1, 1000).is_supported());
        let min = (1..200).find(|&n| Trees::new(n, n).is_supported());
        assert_eq!(min, Some(81));
    }
}
