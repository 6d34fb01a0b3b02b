//! Multi-finger flat captures: four-finger slaps and two-thumb slaps.

use crate::finger::{Impression, MasterFinger, Placed};

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
    // Per finger (index, middle, ring, little): height of the tip centre, size.
    let finger_cy = [0.40f32, 0.33, 0.38, 0.50];
    let finger_size = [0.95f32, 1.0, 0.95, 0.82];
    let slot_tilt = [7.0f32, 2.5, -2.5, -7.0];
    let slots: Vec<Slot> = (0..4)
        .map(|i| {
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
        .collect();
    let mut out = [None; 4];
    let img = render_slots(fingers, &slots, width, height, 0.40, true, &mut out);
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
    let slots = [
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
    ];
    let mut out = [None; 2];
    let img = render_slots(fingers, &slots, width, height, 0.40, false, &mut out);
    (img, out)
}

fn render_slots<const N: usize>(
    fingers: &[SlapFinger<'_>; N],
    slots: &[Slot],
    width: u32,
    height: u32,
    max_ax_of_slot: f32,
    phalanges: bool,
    out: &mut [Option<BBox>; N],
) -> image::GrayImage {
    let mut buf = vec![255u8; width as usize * height as usize];
    let slot_w = width as f32 / N as f32;
    for (i, (f, s)) in fingers.iter().zip(slots).enumerate() {
        let Some(m) = f.master else { continue };
        let placed = Placed::new(
            m,
            &f.impression,
            (s.cx * width as f32, s.cy * height as f32),
            s.tilt_deg.to_radians(),
            (
                max_ax_of_slot * slot_w * s.size,
                (max_ax_of_slot * slot_w * 1.4).min(0.3 * height as f32) * s.size,
            ),
        );
        let placed = if phalanges {
            placed.with_phalanx(0.32 * height as f32 * s.size)
        } else {
            placed
        };
        if let Some(slot) = out.get_mut(i) {
            *slot = placed.render_onto(&mut buf, width, height);
        }
    }
    image::GrayImage::from_raw(width, height, buf).unwrap_or_else(|| image::GrayImage::new(0, 0))
}
