//! Slap segmentation: cut a four-finger flat slap (or a two-thumb slap) into fingertips.
//!
//! # Method
//!
//! 1. The slap is divided into cells of [`CELL`]² pixels and the standard deviation of the
//!    grey levels of each cell is taken (ridges make it large, the empty platen small), then
//!    smoothed over 3×3 cells.
//! 2. Cells above `max(SEG_MIN_STD, SEG_REL_STD · p95)` (p95 = 95th percentile of the
//!    smoothed map) are foreground; a morphological closing then opening cleans the mask.
//! 3. 8-connected components of the mask are the finger blobs. Specks (less than
//!    [`MIN_BLOB_FRACTION`] of the largest blob) are dropped; blobs that overlap
//!    horizontally (one above the other) are merged, because fingers in a slap lie side by
//!    side; a blob much wider than a finger (two fingers touching) is split at the deepest
//!    valley of its column profile.
//! 4. The fingertip is the top of each blob: the crop starts at the blob's top row and is at
//!    most [`DISTAL_LENGTH`] × the finger width long, shorter when a distal crease (a row
//!    band with little ridge energy) or the end of the blob comes first. The box is the
//!    blob's horizontal extent over those rows, padded by one cell.
//! 5. Blobs are ordered left to right and labelled with the slots of the slap (right hand:
//!    index 2, middle 3, ring 4, little 5; left hand: little 10, ring 9, middle 8, index 7;
//!    thumbs: left thumb 6, right thumb 1) minus the declared missing fingers.
//!    If the number of blobs differs from the number of expected fingers the result is
//!    [`SegmentError::FingerCountMismatch`]: the station asks for a recapture.
//! 6. When fingers are declared missing, the gaps between the blobs are checked against the
//!    declaration: the slot model `x = a + pitch · slot` is fitted for every choice of
//!    missing slots and if another choice fits clearly better than the declared one (for
//!    example the little finger was left off, not the amputated ring finger), the result is
//!    [`SegmentError::SlotMismatch`].
//!
//! Each crop is scored with [`crate::quality::assess`].

use image::GrayImage;

use crate::quality::{QualityReport, assess};

/// Cell size (pixels) of the segmentation map.
pub const CELL: usize = 8;

/// Absolute floor of the foreground threshold (grey-level standard deviation).
pub const SEG_MIN_STD: f32 = 6.0;

/// Foreground threshold relative to the 95th percentile of the cell map.
pub const SEG_REL_STD: f32 = 0.3;

/// Blobs smaller than this fraction of the largest are specks.
pub const MIN_BLOB_FRACTION: f32 = 0.12;

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
    fn width(&self) -> usize {
        self.bbox.x1 - self.bbox.x0
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
    let mut blobs = components(&mask, cw, ch);
    blobs = clean_blobs(blobs);
    blobs = merge_stacked(blobs);
    blobs.sort_by_key(|b| b.bbox.x0);
    blobs = split_wide(blobs, &mask, cw, present.len());
    blobs.sort_by_key(|b| b.bbox.x0 + b.bbox.x1);

    if blobs.len() != present.len() {
        return Err(SegmentError::FingerCountMismatch {
            expected: present.len(),
            found: blobs.len(),
        });
    }

    let boxes: Vec<CellBox> = blobs
        .iter()
        .map(|b| fingertip_box(b, &energy, cw, ch))
        .collect();
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
    let closed = erode(&dilate(&mask, cw, ch), cw, ch);
    dilate(&erode(&closed, cw, ch), cw, ch)
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

/// 8-connected components.
fn components(mask: &[bool], cw: usize, ch: usize) -> Vec<Blob> {
    let mut seen = vec![false; mask.len()];
    let mut blobs = Vec::new();
    let mut stack = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut cells = Vec::new();
        while let Some(i) = stack.pop() {
            let (x, y) = (i % cw, i / cw);
            cells.push((x, y));
            for yy in y.saturating_sub(1)..(y + 2).min(ch) {
                for xx in x.saturating_sub(1)..(x + 2).min(cw) {
                    let j = yy * cw + xx;
                    if mask[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        if let Some(b) = Blob::from_cells(cells) {
            blobs.push(b);
        }
    }
    blobs
}

/// Drops specks.
fn clean_blobs(blobs: Vec<Blob>) -> Vec<Blob> {
    let largest = blobs.iter().map(|b| b.cells.len()).max().unwrap_or(0);
    let min = ((largest as f32 * MIN_BLOB_FRACTION) as usize).max(24);
    blobs.into_iter().filter(|b| b.cells.len() >= min).collect()
}

/// Merges blobs that lie one above the other (horizontal overlap over half the narrower).
fn merge_stacked(mut blobs: Vec<Blob>) -> Vec<Blob> {
    loop {
        let mut merged = false;
        'outer: for i in 0..blobs.len() {
            for j in i + 1..blobs.len() {
                let (a, b) = (&blobs[i].bbox, &blobs[j].bbox);
                let overlap = a.x1.min(b.x1).saturating_sub(a.x0.max(b.x0));
                let narrower = (a.x1 - a.x0).min(b.x1 - b.x0);
                if overlap * 2 > narrower {
                    let other = blobs.swap_remove(j);
                    let mut cells = std::mem::take(&mut blobs[i].cells);
                    cells.extend(other.cells);
                    if let Some(b) = Blob::from_cells(cells) {
                        blobs[i] = b;
                    }
                    merged = true;
                    break 'outer;
                }
            }
        }
        if !merged {
            return blobs;
        }
    }
}

/// Splits blobs that are much wider than one finger (touching fingers), when fewer blobs
/// than expected fingers were found.
fn split_wide(mut blobs: Vec<Blob>, mask: &[bool], cw: usize, expected: usize) -> Vec<Blob> {
    while blobs.len() < expected && !blobs.is_empty() {
        // Typical finger width: the median width of the blobs if several, otherwise the
        // widest blob shared among the expected fingers.
        let mut widths: Vec<usize> = blobs.iter().map(Blob::width).collect();
        widths.sort_unstable();
        let typical = if blobs.len() >= 2 {
            widths[(widths.len() - 1) / 2]
        } else {
            widths[0] / expected.max(1)
        };
        let Some((idx, widest)) = blobs.iter().enumerate().max_by_key(|(_, b)| b.width()) else {
            break;
        };
        if (widest.width() as f32) < 1.6 * typical as f32 && blobs.len() >= 2 {
            break;
        }
        // Column profile over the top part of the blob (where fingertips are apart).
        let bb = widest.bbox;
        let top_rows = ((bb.x1 - bb.x0) as f32 * 0.8) as usize;
        let y_end = (bb.y0 + top_rows.max(4)).min(bb.y1);
        let mut profile = vec![0usize; bb.x1 - bb.x0];
        for &(x, y) in &widest.cells {
            if y < y_end {
                profile[x - bb.x0] += 1;
            }
        }
        let _ = (mask, cw);
        let margin = (profile.len() / 5).max(1);
        let cut = (margin..profile.len().saturating_sub(margin)).min_by_key(|&i| profile[i]);
        let Some(cut) = cut else { break };
        let split_x = bb.x0 + cut;
        let blob = blobs.swap_remove(idx);
        let (left, right): (Vec<_>, Vec<_>) = blob.cells.into_iter().partition(|c| c.0 < split_x);
        match (Blob::from_cells(left), Blob::from_cells(right)) {
            (Some(l), Some(r)) => {
                blobs.push(l);
                blobs.push(r);
            }
            (Some(b), None) | (None, Some(b)) => {
                blobs.push(b);
                break;
            }
            (None, None) => break,
        }
    }
    blobs
}

/// The fingertip box of a blob: top rows down to the crease, the blob's end or
/// `DISTAL_LENGTH` finger widths, padded by one cell.
fn fingertip_box(blob: &Blob, energy: &[f32], cw: usize, ch: usize) -> CellBox {
    let bb = blob.bbox;
    let rows = bb.y1 - bb.y0;
    // Row extents of the blob.
    let mut row_min = vec![usize::MAX; rows];
    let mut row_max = vec![0usize; rows];
    for &(x, y) in &blob.cells {
        let r = y - bb.y0;
        row_min[r] = row_min[r].min(x);
        row_max[r] = row_max[r].max(x + 1);
    }
    let row_width = |r: usize| row_max[r].saturating_sub(row_min[r]);
    // Finger width: the widest row among the first rows (the tip is rounded).
    let mut width = 0;
    let probe = rows.min((bb.x1 - bb.x0) * 3 / 2).max(1);
    for r in 0..probe {
        width = width.max(row_width(r));
    }
    let width = width.max(1);
    let max_len = ((width as f32 * DISTAL_LENGTH).ceil() as usize).max(1);
    let mut len = rows.min(max_len);
    // Distal crease: a row band, at least 0.7 widths below the top, whose mean energy over
    // the blob's columns falls under half of the median row energy.
    let row_energy: Vec<f32> = (0..rows)
        .map(|r| {
            let y = bb.y0 + r;
            let (x0, x1) = (row_min[r].min(row_max[r]), row_max[r]);
            if x1 <= x0 {
                return 0.0;
            }
            let s: f32 = (x0..x1).map(|x| energy[y * cw + x]).sum();
            s / (x1 - x0) as f32
        })
        .collect();
    let mut sorted: Vec<f32> = row_energy[..len].to_vec();
    sorted.sort_unstable_by(f32::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
    let start = (width as f32 * 0.7) as usize;
    if let Some(r) = (start..len).find(|&r| row_energy[r] < 0.5 * median) {
        len = r;
    }
    let len = len.max(1);
    let x0 = (0..len).map(|r| row_min[r]).min().unwrap_or(bb.x0);
    let x1 = (0..len).map(|r| row_max[r]).max().unwrap_or(bb.x1);
    CellBox {
        x0: x0.saturating_sub(1),
        y0: bb.y0.saturating_sub(1),
        x1: (x1 + 1).min(cw),
        y1: (bb.y0 + len + 1).min(ch),
    }
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
