//! Slap segmentation: cut a four-finger flat slap (or a two-thumb slap) into fingertips.
//!
//! # Method
//!
//! 1. The slap is divided into cells of [`CELL`]² pixels; the standard deviation of the grey
//!    levels of each cell (large over ridges, small on the empty platen) is smoothed over
//!    3×3 cells. Cells above `max(SEG_MIN_STD, SEG_REL_STD · p95)` (p95: 95th percentile of
//!    the map) are foreground, and a 3×3 opening removes specks.
//! 2. 8-connected components of the mask are blobs; a blob may hold a fingertip alone, a
//!    fingertip with its lower phalanges, or several fingers that touch.
//! 3. Fingertips are the peaks of each blob's *top profile* (the highest foreground cell of
//!    every column) with a prominence of at least `max(4, width / 50)` cells; the valleys of
//!    the profile split a blob's columns between its peaks.
//! 4. Each tip is followed down its finger one row of cells at a time, tracking the
//!    finger's centre (so tilted fingers are followed) and clipping the edges to
//!    [`MAX_EDGE_STEP`] cells per row. The walk stops at the distal crease: a row whose
//!    ridge energy falls under [`CREASE_RATIO`] of the median above it, or a *neck* where the
//!    finger narrowed and widens again, or a jump in width (another finger touching), or
//!    after [`DISTAL_LENGTH`] finger widths. The fingertip box is the extent of the rows
//!    walked, padded by one cell.
//! 5. A candidate whose top lies below another tip and overlaps it horizontally is a lower
//!    phalanx, not a fingertip, and is dropped, as are specks under [`MIN_TIP_FRACTION`] of
//!    the largest tip.
//! 6. The tips are ordered left to right and labelled with the slots of the slap (right
//!    hand: index 2, middle 3, ring 4, little 5; left hand: little 10, ring 9, middle 8,
//!    index 7; thumbs: left thumb 6, right thumb 1) minus the declared missing fingers.
//!    If the number of tips differs from the number of expected fingers, the result is
//!    [`SegmentError::FingerCountMismatch`] (a blank platen gives `found: 0`): the station
//!    asks for a recapture.
//! 7. When fingers are declared missing, the gaps between the tips are checked against the
//!    declaration: the slot model `x = a + pitch · slot` (pitch near 1.15 finger widths) is
//!    fitted for every choice of missing slots, and if another choice fits clearly better
//!    than the declared one (the little finger was left off, not the amputated ring finger),
//!    the result is [`SegmentError::SlotMismatch`].
//!
//! Each crop is scored with [`crate::quality::assess`]. On synthetic slaps (`VALIDATION.md`)
//! every fingertip is found with IoU > 0.5 for typical and poor placements; the failures
//! start with extreme placements (fingers rotated by 30°, lower phalanges reaching beside
//! the tip), which are refused with an error rather than mislabelled in most cases.

use image::GrayImage;

use crate::quality::{QualityReport, assess};

/// Cell size (pixels) of the segmentation map.
pub const CELL: usize = 8;

/// Absolute floor of the foreground threshold (grey-level standard deviation).
pub const SEG_MIN_STD: f32 = 6.0;

/// Foreground threshold relative to the 95th percentile of the cell map.
pub const SEG_REL_STD: f32 = 0.3;

/// Tips smaller than this fraction of the largest tip are specks.
pub const MIN_TIP_FRACTION: f32 = 0.2;

/// Longest fingertip crop, as a multiple of the finger width.
pub const DISTAL_LENGTH: f32 = 1.5;

/// The kind of slap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlapKind {
    /// Right index, middle, ring and little fingers (left to right in the image).
    RightFour,
    /// Left little, ring, middle and index fingers (left to right in the image).
    LeftFour,
    /// Left thumb then right thumb (left to right in the image).
    Thumbs,
}

impl SlapKind {
    /// ISO/IEC 19794-4 finger positions of the slots, left to right in the image.
    pub fn slots(self) -> &'static [u8] {
        match self {
            SlapKind::RightFour => &[2, 3, 4, 5],
            SlapKind::LeftFour => &[10, 9, 8, 7],
            SlapKind::Thumbs => &[6, 1],
        }
    }
}

impl std::fmt::Display for SlapKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SlapKind::RightFour => "right four-finger",
            SlapKind::LeftFour => "left four-finger",
            SlapKind::Thumbs => "two-thumb",
        })
    }
}

/// One fingertip cut out of a slap.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentedFinger {
    /// ISO/IEC 19794-4 finger position (1–10).
    pub position: u8,
    /// The crop in slap coordinates: (x, y, width, height).
    pub bbox: (u32, u32, u32, u32),
    /// The cropped fingertip.
    pub image: GrayImage,
    /// Its quality.
    pub quality: QualityReport,
}

/// The fingers found in a slap.
#[derive(Debug, Clone, PartialEq)]
pub struct Segmentation {
    /// The fingertips, left to right in the image.
    pub fingers: Vec<SegmentedFinger>,
    /// Positions of the slap's slots with no print (the declared missing fingers), ascending.
    pub missing: Vec<u8>,
}

/// Why a slap could not be segmented.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    /// The image has no pixels, or is too small to hold a finger.
    #[error("slap image is empty or too small ({width}x{height})")]
    EmptyImage {
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
    },
    /// A declared missing finger is not a slot of this kind of slap.
    #[error("finger position {position} is not part of a {kind} slap")]
    InvalidPosition {
        /// The offending position.
        position: u8,
        /// The slap kind.
        kind: SlapKind,
    },
    /// The number of fingers found is not the number expected.
    #[error("expected {expected} fingers in the slap, found {found}")]
    FingerCountMismatch {
        /// Fingers expected (slots minus declared missing).
        expected: usize,
        /// Finger blobs found.
        found: usize,
    },
    /// The gaps between the fingers show other missing fingers than the declared ones.
    #[error(
        "declared missing fingers {declared:?}, but the gaps in the slap look like {observed:?}"
    )]
    SlotMismatch {
        /// The declared missing positions.
        declared: Vec<u8>,
        /// The missing positions that fit the finger spacing best.
        observed: Vec<u8>,
    },
}

/// A rectangle of cells, inclusive-exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CellBox {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
}

/// A finger blob on the cell grid.
#[derive(Debug, Clone)]
struct Blob {
    cells: Vec<(usize, usize)>,
    bbox: CellBox,
}

impl Blob {
    fn from_cells(cells: Vec<(usize, usize)>) -> Option<Self> {
        let x0 = cells.iter().map(|c| c.0).min()?;
        let x1 = cells.iter().map(|c| c.0).max()? + 1;
        let y0 = cells.iter().map(|c| c.1).min()?;
        let y1 = cells.iter().map(|c| c.1).max()? + 1;
        Some(Blob {
            cells,
            bbox: CellBox { x0, y0, x1, y1 },
        })
    }
}

/// Segments a slap into fingertips. `expected_missing` lists the positions known to have
/// no print (amputated, bandaged); they must be slots of `kind`.
pub fn segment_slap(
    img: &GrayImage,
    kind: SlapKind,
    expected_missing: &[u8],
) -> Result<Segmentation, SegmentError> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let slots = kind.slots();
    for &p in expected_missing {
        if !slots.contains(&p) {
            return Err(SegmentError::InvalidPosition { position: p, kind });
        }
    }
    let present: Vec<u8> = slots
        .iter()
        .copied()
        .filter(|p| !expected_missing.contains(p))
        .collect();
    let mut missing: Vec<u8> = slots
        .iter()
        .copied()
        .filter(|p| expected_missing.contains(p))
        .collect();
    missing.sort_unstable();
    let (cw, ch) = (w / CELL, h / CELL);
    if cw < 4 || ch < 4 || img.as_raw().len() < w * h {
        return Err(SegmentError::EmptyImage {
            width: img.width(),
            height: img.height(),
        });
    }
    let energy = cell_energy(img.as_raw(), w, cw, ch);
    let mask = foreground(&energy, cw, ch);
    let (labels, blobs) = components(&mask, cw, ch);
    let min_cells = (cw * ch / 400).max(24);
    let prominence = (cw / 50).max(4);
    let mut tips: Vec<Tip> = Vec::new();
    for (i, blob) in blobs.iter().enumerate() {
        if blob.cells.len() >= min_cells {
            tips.extend(find_tips(
                blob,
                i as u32 + 1,
                &labels,
                &energy,
                cw,
                prominence,
            ));
        }
    }
    let mut tips = drop_lower_phalanges(tips);
    tips.sort_by(|a, b| a.centre_x.total_cmp(&b.centre_x));

    if tips.len() != present.len() {
        return Err(SegmentError::FingerCountMismatch {
            expected: present.len(),
            found: tips.len(),
        });
    }
    let boxes: Vec<CellBox> = tips.iter().map(|t| t.padded(cw, ch)).collect();
    if !missing.is_empty() && present.len() >= 2 {
        check_gaps(&boxes, slots, &missing)?;
    }

    let mut fingers = Vec::with_capacity(boxes.len());
    for (bx, &position) in boxes.iter().zip(&present) {
        let x = (bx.x0 * CELL) as u32;
        let y = (bx.y0 * CELL) as u32;
        let bw = ((bx.x1 * CELL).min(w) - bx.x0 * CELL) as u32;
        let bh = ((bx.y1 * CELL).min(h) - bx.y0 * CELL) as u32;
        let image = image::imageops::crop_imm(img, x, y, bw, bh).to_image();
        let quality = assess(&image);
        fingers.push(SegmentedFinger {
            position,
            bbox: (x, y, bw, bh),
            image,
            quality,
        });
    }
    Ok(Segmentation { fingers, missing })
}

/// Per-cell grey-level standard deviation, smoothed over 3×3 cells.
fn cell_energy(px: &[u8], w: usize, cw: usize, ch: usize) -> Vec<f32> {
    let mut sum = vec![0u32; cw];
    let mut sum2 = vec![0u32; cw];
    let mut raw = vec![0.0f32; cw * ch];
    let n = (CELL * CELL) as f32;
    for cy in 0..ch {
        sum.iter_mut().for_each(|v| *v = 0);
        sum2.iter_mut().for_each(|v| *v = 0);
        for y in cy * CELL..(cy + 1) * CELL {
            let row = &px[y * w..y * w + cw * CELL];
            for (cx, chunk) in row.chunks_exact(CELL).enumerate() {
                let (mut s, mut s2) = (0u32, 0u32);
                for &v in chunk {
                    let v = u32::from(v);
                    s += v;
                    s2 += v * v;
                }
                sum[cx] += s;
                sum2[cx] += s2;
            }
        }
        for cx in 0..cw {
            let m = sum[cx] as f32 / n;
            raw[cy * cw + cx] = (sum2[cx] as f32 / n - m * m).max(0.0).sqrt();
        }
    }
    let mut out = vec![0.0f32; cw * ch];
    for cy in 0..ch {
        for cx in 0..cw {
            let (mut s, mut k) = (0.0f32, 0u32);
            for y in cy.saturating_sub(1)..(cy + 2).min(ch) {
                for x in cx.saturating_sub(1)..(cx + 2).min(cw) {
                    s += raw[y * cw + x];
                    k += 1;
                }
            }
            out[cy * cw + cx] = s / k as f32;
        }
    }
    out
}

/// Thresholded and cleaned foreground mask of the cell map.
fn foreground(energy: &[f32], cw: usize, ch: usize) -> Vec<bool> {
    let mut sorted = energy.to_vec();
    sorted.sort_unstable_by(f32::total_cmp);
    let p95 = sorted
        .get(sorted.len() * 95 / 100)
        .copied()
        .unwrap_or_default();
    let t = SEG_MIN_STD.max(SEG_REL_STD * p95);
    let mask: Vec<bool> = energy.iter().map(|&e| e > t).collect();
    dilate(&erode(&mask, cw, ch), cw, ch)
}

fn dilate(m: &[bool], cw: usize, ch: usize) -> Vec<bool> {
    morph(m, cw, ch, true)
}

fn erode(m: &[bool], cw: usize, ch: usize) -> Vec<bool> {
    morph(m, cw, ch, false)
}

/// 3×3 dilation (`any`) or erosion (`all`, the outside counts as background for neither).
fn morph(m: &[bool], cw: usize, ch: usize, any: bool) -> Vec<bool> {
    let mut out = vec![false; m.len()];
    for y in 0..ch {
        for x in 0..cw {
            let mut acc = !any;
            for yy in y.saturating_sub(1)..(y + 2).min(ch) {
                for xx in x.saturating_sub(1)..(x + 2).min(cw) {
                    let v = m[yy * cw + xx];
                    if any {
                        acc |= v;
                    } else {
                        acc &= v;
                    }
                }
            }
            out[y * cw + x] = acc;
        }
    }
    out
}

/// 8-connected components: the label map (0 = background, `i + 1` = blob `i`) and blobs.
fn components(mask: &[bool], cw: usize, ch: usize) -> (Vec<u32>, Vec<Blob>) {
    let mut labels = vec![0u32; mask.len()];
    let mut blobs = Vec::new();
    let mut stack = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || labels[start] != 0 {
            continue;
        }
        let id = blobs.len() as u32 + 1;
        labels[start] = id;
        stack.push(start);
        let mut cells = Vec::new();
        while let Some(i) = stack.pop() {
            let (x, y) = (i % cw, i / cw);
            cells.push((x, y));
            for yy in y.saturating_sub(1)..(y + 2).min(ch) {
                for xx in x.saturating_sub(1)..(x + 2).min(cw) {
                    let j = yy * cw + xx;
                    if mask[j] && labels[j] == 0 {
                        labels[j] = id;
                        stack.push(j);
                    }
                }
            }
        }
        match Blob::from_cells(cells) {
            Some(b) => blobs.push(b),
            None => break,
        }
    }
    (labels, blobs)
}

/// A fingertip on the cell grid: one run of cells per row, from the top of the finger down
/// to the distal crease.
#[derive(Debug, Clone)]
struct Tip {
    /// `(row, first column, end column)` per row.
    runs: Vec<(usize, usize, usize)>,
    centre_x: f32,
}

impl Tip {
    fn bbox(&self) -> CellBox {
        let x0 = self.runs.iter().map(|r| r.1).min().unwrap_or(0);
        let x1 = self.runs.iter().map(|r| r.2).max().unwrap_or(0);
        let y0 = self.runs.first().map_or(0, |r| r.0);
        let y1 = self.runs.last().map_or(0, |r| r.0 + 1);
        CellBox { x0, y0, x1, y1 }
    }

    fn area(&self) -> usize {
        self.runs.iter().map(|r| r.2 - r.1).sum()
    }

    /// The box padded by one cell, clipped to the grid.
    fn padded(&self, cw: usize, ch: usize) -> CellBox {
        let b = self.bbox();
        CellBox {
            x0: b.x0.saturating_sub(1),
            y0: b.y0.saturating_sub(1),
            x1: (b.x1 + 1).min(cw),
            y1: (b.y1 + 1).min(ch),
        }
    }
}

/// Largest step (cells per row) of a finger's edge below its rounded top.
pub const MAX_EDGE_STEP: usize = 3;

/// Ratio of a row's energy to the median of the rows above that marks the distal crease.
pub const CREASE_RATIO: f32 = 0.6;

/// Finds the fingertips of one blob: the peaks of its top profile (columns' highest cell)
/// with at least `prominence` cells of prominence, each followed down its finger.
fn find_tips(
    blob: &Blob,
    id: u32,
    labels: &[u32],
    energy: &[f32],
    cw: usize,
    prominence: usize,
) -> Vec<Tip> {
    let bb = blob.bbox;
    let ncols = bb.x1 - bb.x0;
    let mut top = vec![usize::MAX; ncols];
    for &(x, y) in &blob.cells {
        let t = &mut top[x - bb.x0];
        *t = (*t).min(y);
    }
    let peaks = profile_peaks(&top, prominence);
    // Territory of each peak: between the deepest points of the profile to its neighbours.
    let mut bounds = Vec::with_capacity(peaks.len() + 1);
    bounds.push(0usize);
    for pair in peaks.windows(2) {
        let valley = (pair[0]..=pair[1])
            .max_by_key(|&c| (top[c], c))
            .unwrap_or(pair[0]);
        bounds.push(valley);
    }
    bounds.push(ncols);
    let in_blob = |x: usize, y: usize| labels[y * cw + x] == id;
    let mut tips = Vec::new();
    for (k, &p) in peaks.iter().enumerate() {
        let (lo, hi) = (bb.x0 + bounds[k], bb.x0 + bounds[k + 1]);
        let mut centre = (bb.x0 + p) as f32;
        let mut runs: Vec<(usize, usize, usize)> = Vec::new();
        let mut energies: Vec<f32> = Vec::new();
        let mut max_w = 0usize;
        let (mut neck_w, mut neck_row) = (0usize, 0usize);
        for y in top[p]..bb.y1 {
            let c0 = centre.round() as usize;
            let seed = (0..=2usize)
                .flat_map(|d| [c0.checked_sub(d), Some(c0 + d)])
                .flatten()
                .find(|&x| x >= lo && x < hi && in_blob(x, y));
            let Some(sx) = seed else { break };
            let mut l = sx;
            while l > lo && in_blob(l - 1, y) {
                l -= 1;
            }
            let mut r = sx + 1;
            while r < hi && in_blob(r, y) {
                r += 1;
            }
            let len = runs.len();
            // Below the rounded top the finger's edges move at most a few cells per row;
            // a sudden jump is another finger or a lower phalanx touching this one.
            if let Some(&(_, pl, pr)) = runs.last() {
                if len >= 2 {
                    l = l.max(pl.saturating_sub(MAX_EDGE_STEP));
                    r = r.min(pr + MAX_EDGE_STEP);
                }
            }
            if r <= l {
                break;
            }
            let width = r - l;
            if len >= 3 && width as f32 > 1.5 * max_w as f32 {
                break;
            }
            // Neck: past the widest part the width shrank and now grows again (the next
            // phalanx); cut at the narrowest row.
            if len as f32 >= 0.6 * max_w as f32 && neck_w * 10 < max_w * 9 && width > neck_w + 2 {
                runs.truncate(neck_row + 1);
                break;
            }
            let e = (l..r).map(|x| energy[y * cw + x]).sum::<f32>() / width as f32;
            if len as f32 >= 0.6 * max_w as f32 && len >= 3 {
                let mut sorted = energies.clone();
                sorted.sort_unstable_by(f32::total_cmp);
                let median = sorted[sorted.len() / 2];
                if e < CREASE_RATIO * median {
                    break;
                }
            }
            if len >= 3 && len as f32 >= DISTAL_LENGTH * max_w as f32 {
                break;
            }
            runs.push((y, l, r));
            energies.push(e);
            if width > max_w {
                max_w = width;
                neck_w = width;
                neck_row = runs.len() - 1;
            } else if width < neck_w {
                neck_w = width;
                neck_row = runs.len() - 1;
            }
            centre = 0.5 * centre + 0.5 * (l + r) as f32 / 2.0;
        }
        if runs.len() >= 3 {
            let b = Tip {
                centre_x: 0.0,
                runs,
            };
            let bx = b.bbox();
            tips.push(Tip {
                centre_x: (bx.x0 + bx.x1) as f32 / 2.0,
                ..b
            });
        }
    }
    tips
}

/// Peaks (upward: smallest values) of a top profile with at least `prominence` cells of
/// prominence; columns with no cell (`usize::MAX`) separate peaks. Returns column indices
/// in increasing order.
fn profile_peaks(top: &[usize], prominence: usize) -> Vec<usize> {
    let n = top.len();
    let mut order: Vec<usize> = (0..n).filter(|&c| top[c] != usize::MAX).collect();
    order.sort_by_key(|&c| (top[c], c));
    let mut parent: Vec<usize> = (0..n).collect();
    let mut peak: Vec<usize> = (0..n).collect();
    let mut active = vec![false; n];
    let mut kept = Vec::new();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for &c in &order {
        active[c] = true;
        for nb in [c.wrapping_sub(1), c + 1] {
            if nb >= n || !active[nb] {
                continue;
            }
            let (ra, rb) = (find(&mut parent, c), find(&mut parent, nb));
            if ra == rb {
                continue;
            }
            let (pa, pb) = (peak[ra], peak[rb]);
            let (high, low) = if (top[pa], pa) <= (top[pb], pb) {
                (pa, pb)
            } else {
                (pb, pa)
            };
            if top[c] - top[low] >= prominence {
                kept.push(low);
            }
            parent[rb] = ra;
            peak[ra] = high;
        }
    }
    for c in 0..n {
        if active[c] && find(&mut parent, c) == c {
            kept.push(peak[c]);
        }
    }
    kept.sort_unstable();
    kept.dedup();
    kept
}

/// Drops tips that lie below another tip (a lower phalanx whose top edge looked like a
/// fingertip) and specks much smaller than the other tips.
fn drop_lower_phalanges(tips: Vec<Tip>) -> Vec<Tip> {
    let boxes: Vec<CellBox> = tips.iter().map(Tip::bbox).collect();
    let largest = tips.iter().map(Tip::area).max().unwrap_or(0);
    tips.into_iter()
        .enumerate()
        .filter(|(i, t)| {
            if (t.area() as f32) < MIN_TIP_FRACTION * largest as f32 {
                return false;
            }
            let b = &boxes[*i];
            !boxes.iter().enumerate().any(|(j, a)| {
                if j == *i {
                    return false;
                }
                let overlap = a.x1.min(b.x1).saturating_sub(a.x0.max(b.x0));
                let narrower = (a.x1 - a.x0).min(b.x1 - b.x0);
                overlap * 4 > narrower && b.y0 + 2 >= a.y1
            })
        })
        .map(|(_, t)| t)
        .collect()
}

/// Checks the declared missing slots against the spacing of the fingertips.
fn check_gaps(boxes: &[CellBox], slots: &[u8], declared: &[u8]) -> Result<(), SegmentError> {
    let centres: Vec<f32> = boxes.iter().map(|b| (b.x0 + b.x1) as f32 / 2.0).collect();
    let widths: Vec<f32> = boxes.iter().map(|b| (b.x1 - b.x0) as f32).collect();
    let mean_width = widths.iter().sum::<f32>() / widths.len().max(1) as f32;
    let n = slots.len();
    let k = boxes.len();
    // Cost of assigning the blobs (in order) to the slot indices `chosen`: residual of the
    // best line x = a + pitch * slot with the pitch near a finger width.
    let cost = |chosen: &[usize]| -> f32 {
        let m = chosen.len() as f32;
        let mx = chosen.iter().map(|&s| s as f32).sum::<f32>() / m;
        let my = centres.iter().sum::<f32>() / m;
        let (mut sxx, mut sxy) = (0.0f32, 0.0f32);
        for (&s, &c) in chosen.iter().zip(&centres) {
            sxx += (s as f32 - mx).powi(2);
            sxy += (s as f32 - mx) * (c - my);
        }
        // Prior on the pitch: 1.15 finger widths, weighted as one extra observation.
        let prior = 1.15 * mean_width;
        let pitch = (sxy + prior * 1.0) / (sxx + 1.0);
        let mut r = (pitch - prior).powi(2);
        for (&s, &c) in chosen.iter().zip(&centres) {
            let pred = my + pitch * (s as f32 - mx);
            r += (c - pred).powi(2);
        }
        r / (mean_width * mean_width)
    };
    let declared_idx: Vec<usize> = (0..n).filter(|&i| !declared.contains(&slots[i])).collect();
    let declared_cost = cost(&declared_idx);
    let mut best: Option<(f32, Vec<usize>)> = None;
    for combo in combinations(n, k) {
        let c = cost(&combo);
        if best.as_ref().is_none_or(|(bc, _)| c < *bc) {
            best = Some((c, combo));
        }
    }
    let Some((best_cost, combo)) = best else {
        return Ok(());
    };
    if combo != declared_idx && declared_cost > 0.25 && best_cost * 4.0 < declared_cost {
        let mut observed: Vec<u8> = (0..n)
            .filter(|i| !combo.contains(i))
            .map(|i| slots[i])
            .collect();
        observed.sort_unstable();
        return Err(SegmentError::SlotMismatch {
            declared: declared.to_vec(),
            observed,
        });
    }
    Ok(())
}

/// All increasing `k`-subsets of `0..n`.
fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    if k > n {
        return out;
    }
    for bits in 0u32..(1 << n) {
        if bits.count_ones() as usize == k {
            out.push((0..n).filter(|i| bits & (1 << i) != 0).collect());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_iso_positions() {
        assert_eq!(SlapKind::RightFour.slots(), &[2, 3, 4, 5]);
        assert_eq!(SlapKind::LeftFour.slots(), &[10, 9, 8, 7]);
        assert_eq!(SlapKind::Thumbs.slots(), &[6, 1]);
    }

    #[test]
    fn combinations_are_complete() {
        assert_eq!(combinations(4, 2).len(), 6);
        assert_eq!(combinations(4, 4), vec![vec![0, 1, 2, 3]]);
        assert!(combinations(2, 3).is_empty());
    }

    #[test]
    fn empty_and_tiny_images_are_errors() {
        let e = segment_slap(&GrayImage::new(0, 0), SlapKind::RightFour, &[]);
        assert_eq!(
            e,
            Err(SegmentError::EmptyImage {
                width: 0,
                height: 0
            })
        );
        let e = segment_slap(&GrayImage::new(20, 2000), SlapKind::Thumbs, &[]);
        assert!(matches!(e, Err(SegmentError::EmptyImage { .. })));
    }

    #[test]
    fn blank_image_finds_no_finger() {
        for v in [0u8, 200, 255] {
            let img = GrayImage::from_pixel(400, 300, image::Luma([v]));
            assert_eq!(
                segment_slap(&img, SlapKind::RightFour, &[]),
                Err(SegmentError::FingerCountMismatch {
                    expected: 4,
                    found: 0
                })
            );
        }
    }

    #[test]
    fn foreign_missing_position_is_rejected() {
        let img = GrayImage::from_pixel(400, 300, image::Luma([255]));
        assert_eq!(
            segment_slap(&img, SlapKind::LeftFour, &[3]),
            Err(SegmentError::InvalidPosition {
                position: 3,
                kind: SlapKind::LeftFour
            })
        );
    }

    #[test]
    fn gap_check_accepts_declared_and_flags_other_gap() {
        let bx = |c: usize| CellBox {
            x0: c - 4,
            y0: 0,
            x1: c + 4,
            y1: 10,
        };
        // Pitch ~9 cells: fingers in slots 0, 1, 3 (slot 2 = ring, position 4, empty).
        let boxes = [bx(10), bx(19), bx(37)];
        assert!(check_gaps(&boxes, &[2, 3, 4, 5], &[4]).is_ok());
        // Declared the little finger (5) missing, but the gap is at the ring finger.
        assert_eq!(
            check_gaps(&boxes, &[2, 3, 4, 5], &[5]),
            Err(SegmentError::SlotMismatch {
                declared: vec![5],
                observed: vec![4]
            })
        );
        // Evenly spaced index, middle, ring: the little finger is the missing one.
        let boxes = [bx(10), bx(19), bx(28)];
        assert!(check_gaps(&boxes, &[2, 3, 4, 5], &[5]).is_ok());
    }
}
