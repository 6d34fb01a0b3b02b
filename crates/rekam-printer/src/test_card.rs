//! The printer's built-in test card: colour bars, a grey ramp and a registration frame.

use std::io::Cursor;

use image::{ImageFormat, Rgb, RgbImage};

/// The test card's front as a 1012x638 PNG (a CR-80 side at 300 dpi); `None` only if
/// the PNG encoder fails, which it does not for an in-memory image.
pub(crate) fn test_card_png() -> Option<Vec<u8>> {
    const W: u32 = 1012;
    const H: u32 = 638;
    const BARS: [[u8; 3]; 8] = [
        [255, 255, 255],
        [255, 255, 0],
        [0, 255, 255],
        [0, 255, 0],
        [255, 0, 255],
        [255, 0, 0],
        [0, 0, 255],
        [0, 0, 0],
    ];
    let img = RgbImage::from_fn(W, H, |x, y| {
        // A 6-pixel frame to check registration at the card's edge.
        if x < 6 || y < 6 || x >= W - 6 || y >= H - 6 {
            return Rgb([0, 0, 0]);
        }
        if y < H * 2 / 3 {
            let bar = (x * BARS.len() as u32 / W) as usize;
            Rgb(BARS[bar.min(BARS.len() - 1)])
        } else {
            let v = (x * 255 / (W - 1)) as u8;
            Rgb([v, v, v])
        }
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).ok()?;
    Some(out.into_inner())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_test_card_is_a_valid_card_side() {
        let png = super::test_card_png().unwrap();
        assert_eq!(
            crate::validate_card_png("front", &png).unwrap(),
            (1012, 638)
        );
    }
}
