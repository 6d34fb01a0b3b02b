//! Multi-finger flat captures: four-finger slaps and two-thumb slaps.

use crate::finger::{Impression, MasterFinger, Minutia, Placed};

/// A bounding box `(x, y, w, h)` in pixels.
pub type BBox = (u32, u32, u32, u32);

/// Which hand a four-finger slap shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hand {
    /// Left hand: left to right in the image the fingers are little, ring, middle, index.
    Left,
    /// Right hand: left to right in the image the fingers are index, middle, ring, little.
    Right,
}

/// One finger slot of a slap: the master to print (`None` = missing/amputated finger, the
/// slot stays blank) and how it is impressed (rotation and shifts add to the slot's
/// natural tilt and position).
#[derive(Clone, Debug)]
pub struct SlapFinger<'a> {
    /// The finger, or `None` for a missing finger.
    pub master: Option<&'a MasterFinger>,
    /// The impression conditions for this finger.
    pub impression: Impression,
}

/// Natural layout of one finger in a slap: column centre, tip-print centre height (fractions
/// of the frame), tilt (degrees, counter-clockwise on screen) and a size factor.
struct Slot {
    cx: f32,
    cy: f32,
    tilt_deg: f32,
    size: f32,
}

/// Render a flat four-finger slap.
///
/// `fingers` is always `[index, middle, ring, little]`. In the image, a right hand reads
/// index, middle, ring, little from left to right and a left hand little, ring, middle,
/// index. Fingertips are staggered like a real hand (middle highest, then index and ring,
/// little lowest and smallest) and fan out slightly: the leftmost finger leans left
/// (about +7°, counter-clockwise) and the rightmost leans right (about −7°). Below each
/// fingertip the middle phalanx is printed too (fainter, after a crease gap), as on a real
/// slap scanner; the returned boxes cover only the fingertip prints. Each finger's
/// own `impression` is added to that layout.
///
/// Returns the image (8-bit grey, 500 ppi, white background) and, per finger of `fingers`,
/// the bounding box `(x, y, w, h)` of its visible fingertip print (`None` for a missing
/// finger or one that falls outside the frame). With the default layout and moderate
/// impression shifts the boxes do not overlap.
pub fn render_four_finger_slap(
    hand: Hand,
    fingers: &[SlapFinger<'_>; 4],
    width: u32,
    height: u32,
) -> (image::GrayImage, [Option<BBox>; 4]) {
    let slots = four_slots(hand);
    let mut out = [None; 4];
    let img = render_slots(fingers, &slots, width, height, true, &mut out);
    (img, out)
}

/// Render a two-thumb slap: `fingers` is `[left thumb, right thumb]`; the left thumb is on
/// the image's left and the right thumb on its right, both leaning slightly towards the
/// centre (about ∓7°). Returns the image and each thumb's print bounding box `(x, y, w, h)`.
pub fn render_thumbs_slap(
    fingers: &[SlapFinger<'_>; 2],
    width: u32,
    height: u32,
) -> (image::GrayImage, [Option<BBox>; 2]) {
    let slots = thumb_slots();
    let mut out = [None; 2];
    let img = render_slots(fingers, &slots, width, height, false, &mut out);
    (img, out)
}

/// Natural layout of a four-finger slap, per finger `[index, middle, ring, little]`.
fn four_slots(hand: Hand) -> [Slot; 4] {
    // Per finger (index, middle, ring, little): height of the tip centre, size.
    let finger_cy = [0.40f32, 0.33, 0.38, 0.50];
    let finger_size = [0.95f32, 1.0, 0.95, 0.82];
    let slot_tilt = [7.0f32, 2.5, -2.5, -7.0];
    std::array::from_fn(|i| {
        let col = match hand {
            Hand::Right => i,
            Hand::Left => 3 - i,
        };
        Slot {
            cx: (col as f32 + 0.5) / 4.0,
            cy: finger_cy[i],
            tilt_deg: slot_tilt[col],
            size: finger_size[i],
        }
    })
}

/// Natural layout of a two-thumb slap, `[left thumb, right thumb]`.
fn thumb_slots() -> [Slot; 2] {
    [
        Slot {
            cx: 0.27,
            cy: 0.45,
            tilt_deg: -7.0,
            size: 1.0,
        },
        Slot {
            cx: 0.73,
            cy: 0.45,
            tilt_deg: 7.0,
            size: 1.0,
        },
    ]
}

/// The placement of one finger in its slot (print ellipse capped to 40 % of the slot width).
fn place<'a>(
    m: &'a MasterFinger,
    f: &SlapFinger<'_>,
    s: &Slot,
    n_slots: usize,
    width: u32,
    height: u32,
    phalanges: bool,
) -> Placed<'a> {
    let slot_w = width as f32 / n_slots as f32;
    let cap = 0.40 * slot_w;
    let placed = Placed::new(
        m,
        &f.impression,
        (s.cx * width as f32, s.cy * height as f32),
        s.tilt_deg.to_radians(),
        (cap * s.size, (cap * 1.4).min(0.3 * height as f32) * s.size),
    );
    if phalanges {
        placed.with_phalanx(0.32 * height as f32 * s.size)
    } else {
        placed
    }
}

fn render_slots<const N: usize>(
    fingers: &[SlapFinger<'_>; N],
    slots: &[Slot; N],
    width: u32,
    height: u32,
    phalanges: bool,
    out: &mut [Option<BBox>; N],
) -> image::GrayImage {
    let mut buf = vec![255u8; width as usize * height as usize];
    for ((f, s), o) in fingers.iter().zip(slots).zip(out.iter_mut()) {
        let Some(m) = f.master else { continue };
        *o = place(m, f, s, N, width, height, phalanges).render_onto(&mut buf, width, height);
    }
    image::GrayImage::from_raw(width, height, buf).unwrap_or_else(|| image::GrayImage::new(0, 0))
}

/// Ground-truth minutiae of each finger of a four-finger slap, as they land in the image
/// [`render_four_finger_slap`] makes with the same arguments (same conventions and
/// visibility rule as [`crate::ground_truth_minutiae`]; empty for a missing finger).
pub fn four_finger_slap_minutiae(
    hand: Hand,
    fingers: &[SlapFinger<'_>; 4],
    width: u32,
    height: u32,
) -> [Vec<Minutia>; 4] {
    slot_minutiae(fingers, &four_slots(hand), width, height, true)
}

/// Ground-truth minutiae of each thumb of a two-thumb slap, as they land in the image
/// [`render_thumbs_slap`] makes with the same arguments.
pub fn thumbs_slap_minutiae(
    fingers: &[SlapFinger<'_>; 2],
    width: u32,
    height: u32,
) -> [Vec<Minutia>; 2] {
    slot_minutiae(fingers, &thumb_slots(), width, height, false)
}

fn slot_minutiae<const N: usize>(
    fingers: &[SlapFinger<'_>; N],
    slots: &[Slot; N],
    width: u32,
    height: u32,
    phalanges: bool,
) -> [Vec<Minutia>; N] {
    std::array::from_fn(|i| match (fingers.get(i), slots.get(i)) {
        (Some(f), Some(s)) => f.master.map_or_else(Vec::new, |m| {
            place(m, f, s, N, width, height, phalanges).minutiae_on_canvas(width, height)
        }),
        _ => Vec::new(),
    })
}
