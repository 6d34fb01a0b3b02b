//! Integral images: sums, squared sums and 45°-tilted sums of an 8-bit grey image, each read
//! back in four lookups.
//!
//! `sum[Y][X]` is the sum of the pixels above and left of (X, Y) (rows `< Y`, columns `< X`),
//! so the images are one row and one column larger than the picture. Sums are kept modulo
//! 2³² (`u32`, wrapping): a rectangle's sum is exact as long as it is below 2³², which any
//! window of a detector is. `tilted[Y][X]` is the sum over the triangle of pixels (x, y) with
//! `y < Y` and `|x − X + 1| ≤ Y − y − 1`, the rotated integral of Lienhart and Maydt that
//! OpenCV's tilted Haar features read.

/// The integral images of one picture, laid out with a fixed row stride so that one set of
/// feature offsets serves every level of a pyramid.
#[derive(Debug, Clone)]
pub(crate) struct Integral {
    /// Picture width.
    pub width: usize,
    /// Picture height.
    pub height: usize,
    /// Row stride of the integral images (at least `width + 1`).
    pub stride: usize,
    /// Sums.
    pub sum: Vec<u32>,
    /// Squared sums.
    pub sq: Vec<u64>,
    /// Tilted sums, when asked for.
    pub tilted: Vec<u32>,
}

impl Integral {
    /// An empty set, to be filled by [`Integral::compute`].
    pub fn new() -> Self {
        Self {
            width: 0,
            height: 0,
            stride: 0,
            sum: Vec::new(),
            sq: Vec::new(),
            tilted: Vec::new(),
        }
    }

    /// Computes the integrals of `pixels` (`width` × `height`, rows packed) with row stride
    /// `stride`, reusing the buffers; the tilted one only when `tilted` is set.
    pub fn compute(
        &mut self,
        pixels: &[u8],
        width: usize,
        height: usize,
        stride: usize,
        tilted: bool,
    ) {
        debug_assert!(stride > width);
        debug_assert_eq!(pixels.len(), width * height);
        self.width = width;
        self.height = height;
        self.stride = stride;
        let len = stride * (height + 1);
        self.sum.clear();
        self.sum.resize(len, 0);
        self.sq.clear();
        self.sq.resize(len, 0);
        for y in 0..height {
            let row = &pixels[y * width..(y + 1) * width];
            let (above, below) = self.sum.split_at_mut((y + 1) * stride);
            let prev = &above[y * stride..y * stride + width + 1];
            let cur = &mut below[..width + 1];
            let (sq_above, sq_below) = self.sq.split_at_mut((y + 1) * stride);
            let sq_prev = &sq_above[y * stride..y * stride + width + 1];
            let sq_cur = &mut sq_below[..width + 1];
            let mut run: u32 = 0;
            let mut sq_run: u64 = 0;
            for x in 0..width {
                let v = row[x];
                run = run.wrapping_add(u32::from(v));
                sq_run += u64::from(v) * u64::from(v);
                cur[x + 1] = prev[x + 1].wrapping_add(run);
                sq_cur[x + 1] = sq_prev[x + 1] + sq_run;
            }
        }
        self.tilted.clear();
        if tilted {
            self.compute_tilted(pixels);
        }
    }

    /// The tilted integral through the recurrence
    /// `T(X, Y) = T(X−1, Y−1) + T(X+1, Y−1) − T(X, Y−2) + I(X−1, Y−1) + I(X−1, Y−2)`,
    /// on columns padded so that the triangles leaving the picture read zeros.
    fn compute_tilted(&mut self, pixels: &[u8]) {
        let (w, h) = (self.width, self.height);
        let pad = h + 1;
        let pw = w + 1 + 2 * pad;
        // Padded column p holds X = p − pad; rows Y = 0..=h.
        let mut t = vec![0u32; pw * (h + 1)];
        let px = |x: isize, y: isize| -> u32 {
            if x < 0 || y < 0 || x >= w as isize || y >= h as isize {
                0
            } else {
                u32::from(pixels[y as usize * w + x as usize])
            }
        };
        for y in 1..=h {
            for p in 0..pw {
                let x = p as isize - pad as isize;
                let yi = y as isize;
                let left = if p > 0 { t[(y - 1) * pw + p - 1] } else { 0 };
                let right = if p + 1 < pw {
                    t[(y - 1) * pw + p + 1]
                } else {
                    0
                };
                let up2 = if y >= 2 { t[(y - 2) * pw + p] } else { 0 };
                t[y * pw + p] = left
                    .wrapping_add(right)
                    .wrapping_sub(up2)
                    .wrapping_add(px(x - 1, yi - 1))
                    .wrapping_add(px(x - 1, yi - 2));
            }
        }
        self.tilted.resize(self.stride * (h + 1), 0);
        for y in 0..=h {
            self.tilted[y * self.stride..y * self.stride + w + 1]
                .copy_from_slice(&t[y * pw + pad..y * pw + pad + w + 1]);
        }
    }

    /// Sum of the pixels in columns `x .. x + w`, rows `y .. y + h`.
    #[cfg(test)]
    pub fn rect_sum(&self, x: usize, y: usize, w: usize, h: usize) -> u32 {
        let s = self.stride;
        self.sum[y * s + x]
            .wrapping_sub(self.sum[y * s + x + w])
            .wrapping_sub(self.sum[(y + h) * s + x])
            .wrapping_add(self.sum[(y + h) * s + x + w])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(w: usize, h: usize, seed: u32) -> Vec<u8> {
        let mut s = seed;
        (0..w * h)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn sums_match_brute_force() {
        let (w, h) = (13, 9);
        let p = picture(w, h, 7);
        let mut ii = Integral::new();
        ii.compute(&p, w, h, 20, false);
        for (x, y, rw, rh) in [(0, 0, 13, 9), (2, 3, 5, 4), (12, 8, 1, 1), (4, 0, 0, 3)] {
            let mut brute = 0u32;
            let mut sq = 0u64;
            for yy in y..y + rh {
                for xx in x..x + rw {
                    brute += u32::from(p[yy * w + xx]);
                    sq += u64::from(p[yy * w + xx]).pow(2);
                }
            }
            assert_eq!(ii.rect_sum(x, y, rw, rh), brute);
            let s = ii.stride;
            let sq_ii = ii.sq[(y + rh) * s + x + rw] + ii.sq[y * s + x]
                - ii.sq[y * s + x + rw]
                - ii.sq[(y + rh) * s + x];
            assert_eq!(sq_ii, sq);
        }
    }

    #[test]
    fn tilted_matches_its_definition() {
        let (w, h) = (11, 8);
        let p = picture(w, h, 3);
        let mut ii = Integral::new();
        ii.compute(&p, w, h, 15, true);
        for yy in 0..=h {
            for xx in 0..=w {
                let mut brute = 0u32;
                for y in 0..yy {
                    for x in 0..w {
                        let d = (x as isize - xx as isize + 1).abs();
                        if d < (yy - y) as isize {
                            brute += u32::from(p[y * w + x]);
                        }
                    }
                }
                assert_eq!(ii.tilted[yy * 15 + xx], brute, "T({xx}, {yy})");
            }
        }
    }
}
