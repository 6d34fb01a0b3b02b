//! Per-cell image analysis: ridge orientation (gradient based, smoothed), coherence, contrast,
//! foreground segmentation and ridge period.

use std::f32::consts::PI;

/// Side of an analysis cell in pixels.
pub(crate) const CELL: usize = 8;
/// Replicated border added around the image so that filters never leave the buffer.
pub(crate) const PAD: usize = 16;

/// Default ridge period (pixels) at 500 ppi when none can be measured.
const DEFAULT_PERIOD: f32 = 9.0;
/// Valid ridge periods in pixels.
pub(crate) const MIN_PERIOD: f32 = 4.0;
pub(crate) const MAX_PERIOD: f32 = 16.0;

/// The image as `f32` with a replicated border of [`PAD`] pixels.
pub(crate) struct Padded {
    /// Image width.
    pub w: usize,
    /// Image height.
    pub h: usize,
    /// Padded width.
    pub pw: usize,
    /// Padded height.
    pub ph: usize,
    /// Padded pixels, row-major.
    pub data: Vec<f32>,
}

impl Padded {
    pub(crate) fn new(img: &image::GrayImage) -> Self {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let (pw, ph) = (w + 2 * PAD, h + 2 * PAD);
        let src = img.as_raw();
        let mut data = vec![0f32; pw * ph];
        for py in 0..ph {
            let y = py.saturating_sub(PAD).min(h - 1);
            let row = &src[y * w..(y + 1) * w];
            let dst = &mut data[py * pw..(py + 1) * pw];
            let first = f32::from(row[0]);
            let last = f32::from(row[w - 1]);
            dst[..PAD].fill(first);
            for (d, s) in dst[PAD..PAD + w].iter_mut().zip(row) {
                *d = f32::from(*s);
            }
            dst[PAD + w..].fill(last);
        }
        Self { w, h, pw, ph, data }
    }

    /// Index in `data` of image pixel `(x, y)`.
    #[inline]
    pub(crate) fn idx(&self, x: usize, y: usize) -> usize {
        (y + PAD) * self.pw + x + PAD
    }
}

/// Per-cell fields.
pub(crate) struct Field {
    /// Cells per row.
    pub cw: usize,
    /// Cells per column.
    pub ch: usize,
    /// Ridge orientation in `[0, π)`, image coordinates (`atan2(dy, dx)`, y down).
    pub theta: Vec<f32>,
    /// Orientation coherence in `[0, 1]` (1 = perfectly parallel ridges).
    pub coherence: Vec<f32>,
    /// Local grey-level standard deviation.
    pub contrast: Vec<f32>,
    /// Foreground (finger) cells.
    pub mask: Vec<bool>,
    /// Distance of a foreground cell to the nearest background cell, in cells (chessboard).
    pub depth: Vec<u16>,
    /// Ridge period in pixels.
    pub period: Vec<f32>,
    /// Ridge-filter response per cell relative to the print's median (set by
    /// [`Field::refine`]; 1 before).
    pub strength: Vec<f32>,
}

impl Field {
    pub(crate) fn compute(p: &Padded) -> Self {
        let cw = p.w.div_ceil(CELL);
        let ch = p.h.div_ceil(CELL);
        let n = cw * ch;
        let mut sxx = vec![0f64; n];
        let mut syy = vec![0f64; n];
        let mut sxy = vec![0f64; n];
        let mut si = vec![0f64; n];
        let mut si2 = vec![0f64; n];
        let mut cnt = vec![0f64; n];
        let pw = p.pw;
        let d = &p.data;
        // Gradients are taken on a lightly smoothed copy: sensor noise is broadband while the
        // ridges are a low frequency, so this keeps noisy prints coherent.
        let sm = binomial5(&p.data, p.pw, p.ph);
        // Gradients are sampled every other row and column: the structure tensor over a
        // 40-pixel window needs no more, and it quarters the cost.
        for y in (0..p.h).step_by(2) {
            let crow = (y / CELL) * cw;
            let base = p.idx(0, y);
            for cx in 0..cw {
                let (mut axx, mut ayy, mut axy, mut ai, mut ai2) = (0f32, 0f32, 0f32, 0f32, 0f32);
                let x0 = cx * CELL;
                let x1 = (x0 + CELL).min(p.w);
                for x in (x0..x1).step_by(2) {
                    let i = base + x;
                    let (a, b, c) = (sm[i - pw - 1], sm[i - pw], sm[i - pw + 1]);
                    let (l, r) = (sm[i - 1], sm[i + 1]);
                    let (e, f, g) = (sm[i + pw - 1], sm[i + pw], sm[i + pw + 1]);
                    let m = d[i];
                    let gx = (c + 2.0 * r + g) - (a + 2.0 * l + e);
                    let gy = (e + 2.0 * f + g) - (a + 2.0 * b + c);
                    axx += gx * gx;
                    ayy += gy * gy;
                    axy += gx * gy;
                    ai += m;
                    ai2 += m * m;
                }
                let c = crow + cx;
                sxx[c] += f64::from(axx);
                syy[c] += f64::from(ayy);
                sxy[c] += f64::from(axy);
                si[c] += f64::from(ai);
                si2[c] += f64::from(ai2);
                cnt[c] += (x1 - x0).div_ceil(2) as f64;
            }
        }
        let ixx = Integral::new(&sxx, cw, ch);
        let iyy = Integral::new(&syy, cw, ch);
        let ixy = Integral::new(&sxy, cw, ch);
        let ii = Integral::new(&si, cw, ch);
        let ii2 = Integral::new(&si2, cw, ch);
        let icnt = Integral::new(&cnt, cw, ch);

        // Orientation vectors (doubled angle of the ridge direction) over a 5x5-cell window,
        // coherence, and contrast over a 3x3-cell window.
        let mut vx = vec![0f32; n];
        let mut vy = vec![0f32; n];
        let mut coherence = vec![0f32; n];
        let mut contrast = vec![0f32; n];
        for cy in 0..ch {
            for cx in 0..cw {
                let c = cy * cw + cx;
                let (xx, yy, xy) = (
                    ixx.window(cx, cy, 2),
                    iyy.window(cx, cy, 2),
                    ixy.window(cx, cy, 2),
                );
                let a = xx - yy;
                let b = 2.0 * xy;
                // The ridge direction is perpendicular to the gradient: its doubled angle is
                // the gradient's plus π, hence the negation.
                vx[c] = (-a) as f32;
                vy[c] = (-b) as f32;
                let e = xx + yy;
                coherence[c] = if e > 1e-6 {
                    ((a * a + b * b).sqrt() / e) as f32
                } else {
                    0.0
                };
                let k = icnt.window(cx, cy, 1).max(1.0);
                let mean = ii.window(cx, cy, 1) / k;
                let var = (ii2.window(cx, cy, 1) / k - mean * mean).max(0.0);
                contrast[c] = var.sqrt() as f32;
            }
        }
        let vx = smooth3(&vx, cw, ch);
        let vy = smooth3(&vy, cw, ch);
        let theta: Vec<f32> = vx
            .iter()
            .zip(&vy)
            .map(|(&x, &y)| {
                let t = 0.5 * y.atan2(x);
                if t < 0.0 { t + PI } else { t }
            })
            .collect();

        let mask = segment(&coherence, &contrast, cw, ch);
        let depth = depth(&mask, cw, ch);
        let period = periods(p, &theta, &mask, cw, ch);
        Self {
            cw,
            ch,
            theta,
            coherence,
            contrast,
            mask,
            depth,
            period,
            strength: vec![1.0; cw * ch],
        }
    }

    /// Drops foreground cells whose ridge-filter response is weak compared with the print's
    /// typical response (noise or smudges past the print's edge, featureless patches), then
    /// recomputes the depth map. `strength` is the per-cell mean response magnitude.
    pub(crate) fn refine(&mut self, strength: &[f32]) {
        let mut v: Vec<f32> = strength
            .iter()
            .zip(&self.mask)
            .filter(|(_, m)| **m)
            .map(|(s, _)| *s)
            .collect();
        if v.is_empty() {
            return;
        }
        let mid = v.len() / 2;
        let (_, median, _) = v.select_nth_unstable_by(mid, f32::total_cmp);
        let median = median.max(1e-6);
        for (m, s) in self.mask.iter_mut().zip(strength) {
            if *s < 0.3 * median {
                *m = false;
            }
        }
        self.strength = strength.iter().map(|s| s / median).collect();
        self.depth = depth(&self.mask, self.cw, self.ch);
    }

    /// Cells at a singular point of the orientation field (core or delta): the orientation
    /// turns by half a revolution around the ring of their eight neighbours.
    pub(crate) fn singular_cells(&self) -> Vec<usize> {
        // Ring of the 8 neighbours, in order around the cell.
        const RING: [(isize, isize); 8] = [
            (-1, -1),
            (0, -1),
            (1, -1),
            (1, 0),
            (1, 1),
            (0, 1),
            (-1, 1),
            (-1, 0),
        ];
        let (w, h) = (self.cw as isize, self.ch as isize);
        let mut out = Vec::new();
        for cy in 1..h - 1 {
            for cx in 1..w - 1 {
                let c = (cy * w + cx) as usize;
                if !self.mask[c] {
                    continue;
                }
                let at = |k: usize| {
                    let (dx, dy) = RING[k % 8];
                    self.theta[((cy + dy) * w + cx + dx) as usize]
                };
                let mut turn = 0f32;
                for k in 0..8 {
                    // Orientation differences wrapped to (-π/2, π/2].
                    let mut d = at(k + 1) - at(k);
                    if d > PI / 2.0 {
                        d -= PI;
                    } else if d <= -PI / 2.0 {
                        d += PI;
                    }
                    turn += d;
                }
                if (turn.abs() - PI).abs() < 0.5 {
                    out.push(c);
                }
            }
        }
        out
    }

    /// Cell index of image pixel `(x, y)`.
    #[inline]
    pub(crate) fn cell_of(&self, x: usize, y: usize) -> usize {
        (y / CELL) * self.cw + x / CELL
    }
}

/// Separable binomial smoothing `[1 4 6 4 1] / 16` of a `w` x `h` buffer (the two outermost
/// rows and columns are copied).
fn binomial5(v: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut tmp = v.to_vec();
    for y in 0..h {
        let row = &v[y * w..(y + 1) * w];
        let out = &mut tmp[y * w..(y + 1) * w];
        for x in 2..w.saturating_sub(2) {
            out[x] = (row[x - 2] + 4.0 * row[x - 1] + 6.0 * row[x] + 4.0 * row[x + 1] + row[x + 2])
                * (1.0 / 16.0);
        }
    }
    let mut out = tmp.clone();
    for y in 2..h.saturating_sub(2) {
        for x in 0..w {
            let i = y * w + x;
            out[i] = (tmp[i - 2 * w]
                + 4.0 * tmp[i - w]
                + 6.0 * tmp[i]
                + 4.0 * tmp[i + w]
                + tmp[i + 2 * w])
                * (1.0 / 16.0);
        }
    }
    out
}

/// Summed-area table over a cell grid.
struct Integral {
    w: usize,
    h: usize,
    s: Vec<f64>,
}

impl Integral {
    fn new(v: &[f64], w: usize, h: usize) -> Self {
        let mut s = vec![0f64; (w + 1) * (h + 1)];
        for y in 0..h {
            let mut row = 0f64;
            for x in 0..w {
                row += v[y * w + x];
                s[(y + 1) * (w + 1) + x + 1] = s[y * (w + 1) + x + 1] + row;
            }
        }
        Self { w, h, s }
    }

    /// Sum over the cells within `r` (chessboard) of `(x, y)`, clipped to the grid.
    fn window(&self, x: usize, y: usize, r: usize) -> f64 {
        let x0 = x.saturating_sub(r);
        let y0 = y.saturating_sub(r);
        let x1 = (x + r + 1).min(self.w);
        let y1 = (y + r + 1).min(self.h);
        let w1 = self.w + 1;
        self.s[y1 * w1 + x1] - self.s[y0 * w1 + x1] - self.s[y1 * w1 + x0] + self.s[y0 * w1 + x0]
    }
}

/// 3x3 binomial smoothing of a cell grid (edges clipped and renormalised).
fn smooth3(v: &[f32], w: usize, h: usize) -> Vec<f32> {
    const K: [f32; 3] = [1.0, 2.0, 1.0];
    let mut out = vec![0f32; v.len()];
    for y in 0..h {
        for x in 0..w {
            let (mut s, mut ws) = (0f32, 0f32);
            for (dy, ky) in K.iter().enumerate() {
                let yy = y as isize + dy as isize - 1;
                if yy < 0 || yy >= h as isize {
                    continue;
                }
                for (dx, kx) in K.iter().enumerate() {
                    let xx = x as isize + dx as isize - 1;
                    if xx < 0 || xx >= w as isize {
                        continue;
                    }
                    let k = ky * kx;
                    s += k * v[yy as usize * w + xx as usize];
                    ws += k;
                }
            }
            out[y * w + x] = s / ws;
        }
    }
    out
}

/// Foreground segmentation: cells with enough contrast and a dominant ridge direction, then
/// the largest connected region with its holes filled, smoothed by an opening.
fn segment(coherence: &[f32], contrast: &[f32], w: usize, h: usize) -> Vec<bool> {
    let n = w * h;
    let mut sorted: Vec<f32> = contrast.to_vec();
    sorted.sort_by(f32::total_cmp);
    let p90 = sorted.get(n * 9 / 10).copied().unwrap_or(0.0);
    let contrast_min = (0.3 * p90).max(4.0);
    let raw: Vec<bool> = (0..n)
        .map(|c| contrast[c] >= contrast_min && coherence[c] >= 0.25)
        .collect();
    // Opening (3x3 erosion then dilation) removes isolated specks.
    let raw = dilate(&erode(&raw, w, h), w, h);
    // Keep the largest 8-connected component.
    let mut label = vec![0u32; n];
    let mut best = (0usize, 0u32);
    let mut next = 0u32;
    let mut stack = Vec::new();
    for s in 0..n {
        if !raw[s] || label[s] != 0 {
            continue;
        }
        next += 1;
        let mut size = 0usize;
        label[s] = next;
        stack.push(s);
        while let Some(c) = stack.pop() {
            size += 1;
            let (x, y) = (c % w, c / w);
            for ny in y.saturating_sub(1)..(y + 2).min(h) {
                for nx in x.saturating_sub(1)..(x + 2).min(w) {
                    let q = ny * w + nx;
                    if raw[q] && label[q] == 0 {
                        label[q] = next;
                        stack.push(q);
                    }
                }
            }
        }
        if size > best.0 {
            best = (size, next);
        }
    }
    // Too small a region (under ~ 6x6 mm) is no finger.
    if best.0 < 64 {
        return vec![false; n];
    }
    let mut mask: Vec<bool> = label.iter().map(|&l| l == best.1).collect();
    // Fill holes: background not 4-connected to the grid border becomes foreground.
    let mut outside = vec![false; n];
    for c in 0..n {
        let (x, y) = (c % w, c / w);
        if !mask[c] && (x == 0 || y == 0 || x == w - 1 || y == h - 1) {
            outside[c] = true;
            stack.push(c);
        }
    }
    while let Some(c) = stack.pop() {
        let (x, y) = (c % w, c / w);
        let mut visit = |q: usize| {
            if !mask[q] && !outside[q] {
                outside[q] = true;
                stack.push(q);
            }
        };
        if x > 0 {
            visit(c - 1);
        }
        if x + 1 < w {
            visit(c + 1);
        }
        if y > 0 {
            visit(c - w);
        }
        if y + 1 < h {
            visit(c + w);
        }
    }
    for c in 0..n {
        if !outside[c] {
            mask[c] = true;
        }
    }
    // The analysis windows reach past the print's edge: pull the boundary in by a cell.
    erode(&mask, w, h)
}

fn erode(m: &[bool], w: usize, h: usize) -> Vec<bool> {
    let mut out = vec![false; m.len()];
    for y in 0..h {
        for x in 0..w {
            let mut all = true;
            'o: for ny in y.saturating_sub(1)..(y + 2).min(h) {
                for nx in x.saturating_sub(1)..(x + 2).min(w) {
                    if !m[ny * w + nx] {
                        all = false;
                        break 'o;
                    }
                }
            }
            out[y * w + x] = all;
        }
    }
    out
}

fn dilate(m: &[bool], w: usize, h: usize) -> Vec<bool> {
    let mut out = vec![false; m.len()];
    for y in 0..h {
        for x in 0..w {
            let mut any = false;
            'o: for ny in y.saturating_sub(1)..(y + 2).min(h) {
                for nx in x.saturating_sub(1)..(x + 2).min(w) {
                    if m[ny * w + nx] {
                        any = true;
                        break 'o;
                    }
                }
            }
            out[y * w + x] = any;
        }
    }
    out
}

/// Chessboard distance (in cells) of each foreground cell to background or the grid edge.
fn depth(mask: &[bool], w: usize, h: usize) -> Vec<u16> {
    let mut d: Vec<u16> = mask.iter().map(|&m| if m { u16::MAX } else { 0 }).collect();
    // Cells on the grid edge are next to the outside.
    for y in 0..h {
        for x in 0..w {
            if (x == 0 || y == 0 || x == w - 1 || y == h - 1) && d[y * w + x] > 1 {
                d[y * w + x] = 1;
            }
        }
    }
    // Two-pass chamfer (chessboard metric).
    for y in 0..h {
        for x in 0..w {
            let c = y * w + x;
            let mut v = d[c];
            if v == 0 {
                continue;
            }
            if x > 0 {
                v = v.min(d[c - 1].saturating_add(1));
            }
            if y > 0 {
                v = v.min(d[c - w].saturating_add(1));
                if x > 0 {
                    v = v.min(d[c - w - 1].saturating_add(1));
                }
                if x + 1 < w {
                    v = v.min(d[c - w + 1].saturating_add(1));
                }
            }
            d[c] = v;
        }
    }
    for y in (0..h).rev() {
        for x in (0..w).rev() {
            let c = y * w + x;
            let mut v = d[c];
            if v == 0 {
                continue;
            }
            if x + 1 < w {
                v = v.min(d[c + 1].saturating_add(1));
            }
            if y + 1 < h {
                v = v.min(d[c + w].saturating_add(1));
                if x > 0 {
                    v = v.min(d[c + w - 1].saturating_add(1));
                }
                if x + 1 < w {
                    v = v.min(d[c + w + 1].saturating_add(1));
                }
            }
            d[c] = v;
        }
    }
    d
}

/// Ridge period per cell, measured on 2x2-cell blocks from the grey-level signature across the
/// ridges, invalid measurements interpolated from neighbours, then smoothed.
fn periods(p: &Padded, theta: &[f32], mask: &[bool], cw: usize, ch: usize) -> Vec<f32> {
    const HALF: isize = 16; // samples on each side across the ridges
    const ALONG: isize = 6; // samples on each side along the ridges
    let bw = cw.div_ceil(2);
    let bh = ch.div_ceil(2);
    let mut per = vec![f32::NAN; bw * bh];
    let mut sig = [0f32; (2 * HALF + 1) as usize];
    let (pw, ph) = (p.pw as isize, p.ph as isize);
    let _ = (pw, ph);
    for by in 0..bh {
        for bx in 0..bw {
            let cells = [(2 * bx, 2 * by), (2 * bx + 1, 2 * by), (2 * bx, 2 * by + 1)];
            let c0 = (2 * by) * cw + 2 * bx;
            if !cells
                .iter()
                .chain(std::iter::once(&(2 * bx + 1, 2 * by + 1)))
                .any(|&(x, y)| x < cw && y < ch && mask[y * cw + x])
            {
                continue;
            }
            let t = theta[c0];
            let (rx, ry) = (t.cos(), t.sin());
            let (nx, ny) = (-ry, rx);
            let cx = (2 * bx * CELL + CELL) as f32 + PAD as f32;
            let cy = (2 * by * CELL + CELL) as f32 + PAD as f32;
            for (k, s) in (-HALF..=HALF).zip(sig.iter_mut()) {
                let mut acc = 0f32;
                for m in -ALONG..=ALONG {
                    // Truncation after adding 0.5 rounds (coordinates are clamped to be
                    // non-negative first); f32::round is a library call on baseline x86-64.
                    let x = (cx + k as f32 * nx + m as f32 * rx).max(0.0) + 0.5;
                    let y = (cy + k as f32 * ny + m as f32 * ry).max(0.0) + 0.5;
                    let x = (x as isize).min(pw - 1) as usize;
                    let y = (y as isize).min(ph - 1) as usize;
                    acc += p.data[y * p.pw + x];
                }
                *s = acc;
            }
            per[by * bw + bx] = signature_period(&sig);
        }
    }
    // Fill blocks without a valid measurement from valid neighbours (a few rounds).
    for _ in 0..8 {
        let mut changed = false;
        let snapshot = per.clone();
        for by in 0..bh {
            for bx in 0..bw {
                if !snapshot[by * bw + bx].is_nan() {
                    continue;
                }
                let (mut s, mut k) = (0f32, 0f32);
                for ny in by.saturating_sub(1)..(by + 2).min(bh) {
                    for nx in bx.saturating_sub(1)..(bx + 2).min(bw) {
                        let v = snapshot[ny * bw + nx];
                        if !v.is_nan() {
                            s += v;
                            k += 1.0;
                        }
                    }
                }
                if k > 0.0 {
                    per[by * bw + bx] = s / k;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut valid: Vec<f32> = per.iter().copied().filter(|v| !v.is_nan()).collect();
    valid.sort_by(f32::total_cmp);
    let median = valid
        .get(valid.len() / 2)
        .copied()
        .unwrap_or(DEFAULT_PERIOD);
    for v in per.iter_mut() {
        if v.is_nan() {
            *v = median;
        }
    }
    let per = smooth3(&per, bw, bh);
    let mut out = vec![median; cw * ch];
    for cy in 0..ch {
        for cx in 0..cw {
            out[cy * cw + cx] = per[(cy / 2) * bw + cx / 2].clamp(MIN_PERIOD, MAX_PERIOD);
        }
    }
    out
}

/// Mean distance between successive extrema of a signature, or NaN when not credible.
fn signature_period(sig: &[f32]) -> f32 {
    let n = sig.len();
    let mut s = vec![0f32; n];
    for i in 0..n {
        let a = sig[i.saturating_sub(1)];
        let b = sig[(i + 1).min(n - 1)];
        s[i] = 0.25 * a + 0.5 * sig[i] + 0.25 * b;
    }
    let (lo, hi) = s
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    // 13 samples are summed: require a grey-level swing of at least ~ 4 levels.
    if hi - lo < 13.0 * 4.0 {
        return f32::NAN;
    }
    let mut minima = Vec::new();
    let mut maxima = Vec::new();
    for i in 1..n - 1 {
        if s[i] < s[i - 1] && s[i] <= s[i + 1] {
            minima.push(i as f32);
        }
        if s[i] > s[i - 1] && s[i] >= s[i + 1] {
            maxima.push(i as f32);
        }
    }
    let spacing = |v: &[f32]| {
        if v.len() >= 2 {
            Some((v[v.len() - 1] - v[0]) / (v.len() - 1) as f32)
        } else {
            None
        }
    };
    let p = match (spacing(&minima), spacing(&maxima)) {
        (Some(a), Some(b)) => 0.5 * (a + b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return f32::NAN,
    };
    if (MIN_PERIOD..=MAX_PERIOD).contains(&p) {
        p
    } else {
        f32::NAN
    }
}
