//! The image check every card printer driver applies before it accepts a job.

use std::io::Cursor;

use image::{ImageFormat, ImageReader};
use rekam_core::DeviceError;

/// The CR-80 (ID-1) card's aspect ratio: 85.6 mm by 54 mm.
pub const CARD_ASPECT: f64 = 85.6 / 54.0;

/// Exact sizes accepted whatever their ratio: a CR-80 side at 300 dpi, edge to edge
/// (1012x638) and with the bleed some printers want (1016x648).
const EXACT_SIZES: [(u32, u32); 2] = [(1012, 638), (1016, 648)];

/// How far the aspect ratio of another size may stray from [`CARD_ASPECT`].
const ASPECT_TOLERANCE: f64 = 0.03;

/// Widths accepted for sizes other than the exact ones (about 90 to 1200 dpi).
const MIN_WIDTH: u32 = 300;
const MAX_WIDTH: u32 = 4096;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// Checks that `png` is a PNG image of a sane card side and returns its size.
///
/// Accepted: 1012x638 or 1016x648 pixels (a CR-80 side at 300 dpi), or any landscape
/// size 300 to 4096 pixels wide whose aspect ratio is within 3 % of 85.6:54 mm. The
/// whole image is decoded, so a truncated or corrupt file is refused here rather than
/// at the printer. `side` ("front", "back") names the side in the error message.
pub fn validate_card_png(side: &str, png: &[u8]) -> Result<(u32, u32), DeviceError> {
    decode_card_png(side, png).map(|img| img.dimensions())
}

/// [`validate_card_png`], keeping the decoded image: for a driver that needs its pixels
/// (one decode instead of two).
pub fn decode_card_png(side: &str, png: &[u8]) -> Result<image::RgbaImage, DeviceError> {
    if png.is_empty() {
        return Err(DeviceError::InvalidArgument(format!(
            "the {side} image is empty: send the card side as a PNG image"
        )));
    }
    if !png.starts_with(&PNG_SIGNATURE) {
        return Err(DeviceError::InvalidArgument(format!(
            "the {side} image is not a PNG file (no PNG signature)"
        )));
    }
    let (width, height) = ImageReader::with_format(Cursor::new(png), ImageFormat::Png)
        .into_dimensions()
        .map_err(|e| DeviceError::InvalidArgument(format!("the {side} PNG cannot be read: {e}")))?;
    if !is_card_size(width, height) {
        return Err(DeviceError::InvalidArgument(format!(
            "the {side} image is {width}x{height} px, not a CR-80 card side: send \
             1012x638 or 1016x648 px (300 dpi), or a landscape image {MIN_WIDTH} to \
             {MAX_WIDTH} px wide with the card's 85.6:54 aspect ratio (within 3 %)"
        )));
    }
    // Decode it all: the header can be fine and the data truncated or corrupt.
    let img = image::load_from_memory_with_format(png, ImageFormat::Png).map_err(|e| {
        DeviceError::InvalidArgument(format!("the {side} PNG does not decode: {e}"))
    })?;
    Ok(img.to_rgba8())
}

fn is_card_size(width: u32, height: u32) -> bool {
    if EXACT_SIZES.contains(&(width, height)) {
        return true;
    }
    if height == 0 || !(MIN_WIDTH..=MAX_WIDTH).contains(&width) {
        return false;
    }
    let aspect = f64::from(width) / f64::from(height);
    (aspect / CARD_ASPECT - 1.0).abs() <= ASPECT_TOLERANCE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_sizes() {
        assert!(is_card_size(1012, 638));
        assert!(is_card_size(1016, 648));
        assert!(is_card_size(2024, 1276));
        assert!(is_card_size(600, 378));
        // Portrait, square, tiny and huge sizes are not card sides.
        assert!(!is_card_size(638, 1012));
        assert!(!is_card_size(800, 800));
        assert!(!is_card_size(160, 101));
        assert!(!is_card_size(8192, 5168));
        assert!(!is_card_size(1012, 0));
        // 3 % either side of 85.6:54.
        assert!(is_card_size(1000, 614)); // +2.7 %
        assert!(!is_card_size(1000, 610)); // +3.4 %
        assert!(is_card_size(1000, 650)); // -3.0 %
        assert!(!is_card_size(1000, 655)); // -3.7 %
    }
}
