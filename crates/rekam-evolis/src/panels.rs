//! The panels of a card side, derived from its PNG image in the simplest honest way.
//!
//! # The bitmap
//!
//! A panel is [`PANEL_LINES`] lines of [`LINE_PIXELS`] pixels (the guide, section 2 and
//! `Db`: "the downloading will always be of 648 pixels by 1016 pixels"). The card image is
//! landscape, 1016 × 648 at 300 dpi; line *i* of the bitmap is column *i* of the image,
//! read from the image's bottom row to its top row (the image turned a quarter turn
//! clockwise, as the public Printer-EVOLIS driver does with `pnmflip -rotate270`). The
//! guide's figure of the transmission order is not legible in the copies available and
//! its byte counts (84,624 bytes for 2 levels) are for 676,992 pixels, not 648 × 1016 =
//! 658,368: this crate sends 648 × 1016 pixels, packed most significant bit first, as that
//! driver does. Both are to be checked on a real printer.
//!
//! # The rule
//!
//! * An image of 1012 × 638 (a card side at 300 dpi edge to edge, what rekam's renderer makes)
//!   is centred on the 1016 × 648 area pixel for pixel; another size is scaled to it
//!   (triangle filter); a transparent
//!   pixel counts as white.
//! * **K** (black resin, 2 levels): a pixel is black text when its red, green and blue
//!   are all at most [`K_THRESHOLD`] (pure black, with a little room for PNG
//!   encoders). Those pixels are printed in resin only: they are left out of Y, M and C.
//! * **Y, M, C** (dye, 32 levels): the complement of blue, green and red, `255 - value`,
//!   scaled to 0–31 (0 = no dye). A white pixel takes no dye.
//! * **O** (overlay, 2 levels): the whole card (every bit 1).
//!
//! When the job carries the layout's own K panel ([`rekam_core::BlackPanels`], rekam's
//! renderer draws text, lines and the NIK there), [`SidePanels::from_image_and_black`] lays
//! resin exactly there instead of by threshold: a dark photo pixel outside it is printed in
//! dye, and text is resin even where anti-aliasing left it above the threshold. The mask
//! takes the image's geometry (centred or scaled the same way). [`SidePanels::from_parts`]
//! takes panels made elsewhere.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{GrayImage, ImageFormat, ImageReader, RgbaImage};
use rekam_core::DeviceError;

use crate::protocol::{LINE_PIXELS, Levels, PANEL_LINES, PANEL_PIXELS, Panel};

/// The width of the card image the panels are made from (the card's long side, 300 dpi).
pub const IMAGE_WIDTH: u32 = PANEL_LINES as u32;
/// The height of the card image (the card's short side, 300 dpi).
pub const IMAGE_HEIGHT: u32 = LINE_PIXELS as u32;
/// A pixel whose red, green and blue are all at most this value is black text and goes to
/// the K panel.
pub const K_THRESHOLD: u8 = 24;
/// The grey levels of the colour panels.
pub const COLOUR_LEVELS: Levels = Levels::L32;

/// The five panels of one side, packed as `Db` sends them.
#[derive(Clone, PartialEq, Eq)]
pub struct SidePanels {
    panels: Vec<(Panel, Levels, Vec<u8>)>,
}

impl std::fmt::Debug for SidePanels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut l = f.debug_list();
        for (p, lv, d) in &self.panels {
            l.entry(&format_args!("{}:{}:{}B", p.letter(), lv.value(), d.len()));
        }
        l.finish()
    }
}

impl SidePanels {
    /// Derives the panels from a PNG image of the side (see the [module docs](self)).
    pub fn from_png(side: &str, png: &[u8]) -> Result<SidePanels, DeviceError> {
        let img = ImageReader::with_format(Cursor::new(png), ImageFormat::Png)
            .decode()
            .map_err(|e| {
                DeviceError::InvalidArgument(format!("the {side} PNG does not decode: {e}"))
            })?
            .to_rgba8();
        Ok(SidePanels::from_image(&img))
    }

    /// Derives the panels from an RGBA image of the side.
    pub fn from_image(img: &RgbaImage) -> SidePanels {
        Self::derive(img, None)
    }

    /// Derives the panels from an RGBA image of the side and its K panel (greyscale, the
    /// image's size, 128 or more = resin).
    ///
    /// # Errors
    /// [`DeviceError::InvalidArgument`] when the K panel's size is not the image's.
    pub fn from_image_and_black(
        img: &RgbaImage,
        black: &GrayImage,
    ) -> Result<SidePanels, DeviceError> {
        if black.dimensions() != img.dimensions() {
            return Err(DeviceError::InvalidArgument(format!(
                "the K panel is {}x{} px, its side's image {}x{}",
                black.width(),
                black.height(),
                img.width(),
                img.height()
            )));
        }
        let black = if black.dimensions() == (IMAGE_WIDTH, IMAGE_HEIGHT) {
            black.clone()
        } else if black.dimensions() == EDGE_TO_EDGE {
            let mut out = GrayImage::new(IMAGE_WIDTH, IMAGE_HEIGHT);
            let x = (IMAGE_WIDTH - black.width()) / 2;
            let y = (IMAGE_HEIGHT - black.height()) / 2;
            image::imageops::replace(&mut out, black, i64::from(x), i64::from(y));
            out
        } else {
            image::imageops::resize(black, IMAGE_WIDTH, IMAGE_HEIGHT, FilterType::Nearest)
        };
        Ok(Self::derive(img, Some(&black)))
    }

    /// The panels of `img`; K from `black` (at the printer's size) when given, else by
    /// threshold.
    fn derive(img: &RgbaImage, black: Option<&GrayImage>) -> SidePanels {
        let scaled;
        let img = if img.dimensions() == (IMAGE_WIDTH, IMAGE_HEIGHT) {
            img
        } else if img.dimensions() == EDGE_TO_EDGE {
            // A card side at 300 dpi edge to edge is centred on the printer's slightly
            // larger area, pixel for pixel: scaling it by 0.4 % and 1.6 % would blur its
            // text and lines, which go to the K panel by threshold (and cost a resample).
            scaled = centred(img);
            &scaled
        } else {
            scaled = image::imageops::resize(img, IMAGE_WIDTH, IMAGE_HEIGHT, FilterType::Triangle);
            &scaled
        };
        let mut y = Vec::with_capacity(PANEL_PIXELS);
        let mut m = Vec::with_capacity(PANEL_PIXELS);
        let mut c = Vec::with_capacity(PANEL_PIXELS);
        let mut k = Vec::with_capacity(PANEL_PIXELS);
        for line in 0..PANEL_LINES as u32 {
            for i in 0..LINE_PIXELS as u32 {
                // Column `line`, from the bottom row up.
                let px = img.get_pixel(line, IMAGE_HEIGHT - 1 - i).0;
                let (r, g, b) = over_white(px);
                let resin = match black {
                    Some(k) => k.get_pixel(line, IMAGE_HEIGHT - 1 - i).0[0] >= 128,
                    None => r <= K_THRESHOLD && g <= K_THRESHOLD && b <= K_THRESHOLD,
                };
                if resin {
                    k.push(1);
                    y.push(0);
                    m.push(0);
                    c.push(0);
                } else {
                    k.push(0);
                    y.push(dye(b));
                    m.push(dye(g));
                    c.push(dye(r));
                }
            }
        }
        let bits = COLOUR_LEVELS.bits();
        SidePanels {
            panels: vec![
                (Panel::Yellow, COLOUR_LEVELS, pack(&y, bits)),
                (Panel::Magenta, COLOUR_LEVELS, pack(&m, bits)),
                (Panel::Cyan, COLOUR_LEVELS, pack(&c, bits)),
                (Panel::Black, Levels::Two, pack(&k, 1)),
                (Panel::Overlay, Levels::Two, full_overlay()),
            ],
        }
    }

    /// Panels made elsewhere (a renderer's real K panel, say), in the order they are to be
    /// sent. Each must have its levels' exact size.
    pub fn from_parts(panels: Vec<(Panel, Levels, Vec<u8>)>) -> Result<SidePanels, DeviceError> {
        for (p, l, d) in &panels {
            if d.len() != l.panel_bytes() {
                return Err(DeviceError::InvalidArgument(format!(
                    "panel {} at {} levels needs {} bytes, got {}",
                    p.letter(),
                    l.value(),
                    l.panel_bytes(),
                    d.len()
                )));
            }
        }
        Ok(SidePanels { panels })
    }

    /// The panels in the order they are sent.
    pub fn panels(&self) -> &[(Panel, Levels, Vec<u8>)] {
        &self.panels
    }

    /// One panel's packed data.
    pub fn panel(&self, panel: Panel) -> Option<&[u8]> {
        self.panels
            .iter()
            .find(|(p, _, _)| *p == panel)
            .map(|(_, _, d)| d.as_slice())
    }
}

/// A CR-80 side at 300 dpi edge to edge, as rekam's card renderer makes it.
const EDGE_TO_EDGE: (u32, u32) = (1012, 638);

/// `img` (smaller than the printer's area) in the middle of a blank area.
fn centred(img: &RgbaImage) -> RgbaImage {
    let mut out = RgbaImage::from_pixel(IMAGE_WIDTH, IMAGE_HEIGHT, image::Rgba([255, 255, 255, 0]));
    let x = (IMAGE_WIDTH - img.width()) / 2;
    let y = (IMAGE_HEIGHT - img.height()) / 2;
    image::imageops::replace(&mut out, img, i64::from(x), i64::from(y));
    out
}

/// A full overlay panel: every pixel varnished.
pub fn full_overlay() -> Vec<u8> {
    vec![0xFF; Levels::Two.panel_bytes()]
}

/// The pixel composited over white (a transparent card area is blank card).
fn over_white(px: [u8; 4]) -> (u8, u8, u8) {
    let a = u32::from(px[3]);
    let mix = |v: u8| ((u32::from(v) * a + 255 * (255 - a) + 127) / 255) as u8;
    (mix(px[0]), mix(px[1]), mix(px[2]))
}

/// The dye of a channel's complement, 0-31.
fn dye(v: u8) -> u8 {
    (255 - v) >> 3
}

/// Packs values of `bits` bits, most significant bit first, into bytes.
pub fn pack(values: &[u8], bits: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity((values.len() * bits).div_ceil(8));
    let mut acc: u32 = 0;
    let mut n = 0;
    let mask = (1u32 << bits) - 1;
    for &v in values {
        acc = (acc << bits) | (u32::from(v) & mask);
        n += bits;
        while n >= 8 {
            n -= 8;
            out.push((acc >> n) as u8);
        }
        acc &= (1 << n) - 1;
    }
    if n > 0 {
        out.push((acc << (8 - n)) as u8);
    }
    out
}

/// Unpacks `count` values of `bits` bits (the inverse of [`pack`]).
pub fn unpack(bytes: &[u8], bits: usize, count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count);
    let mut acc: u32 = 0;
    let mut n = 0;
    let mask = (1u32 << bits) - 1;
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        n += 8;
        while n >= bits && out.len() < count {
            n -= bits;
            out.push(((acc >> n) & mask) as u8);
        }
        acc &= (1 << n) - 1;
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use image::Rgba;

    /// The value of the pixel of the image at (x, y) in a panel unpacked.
    fn at(values: &[u8], x: u32, y: u32) -> u8 {
        values[x as usize * LINE_PIXELS + (IMAGE_HEIGHT - 1 - y) as usize]
    }

    #[test]
    fn pack_round_trips() {
        let v: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 32) as u8).collect();
        for bits in [1, 5, 6, 7] {
            let masked: Vec<u8> = v.iter().map(|x| x & ((1 << bits) - 1)).collect();
            let p = pack(&masked, bits);
            assert_eq!(p.len(), (masked.len() * bits).div_ceil(8));
            assert_eq!(unpack(&p, bits, masked.len()), masked);
        }
        assert_eq!(pack(&[1, 0, 1, 1, 0, 0, 0, 1], 1), vec![0b1011_0001]);
        assert_eq!(pack(&[31, 0], 5), vec![0b1111_1000, 0b0000_0000]);
    }

    #[test]
    fn black_text_goes_to_k_and_colours_to_ymc() {
        let mut img = RgbaImage::from_pixel(IMAGE_WIDTH, IMAGE_HEIGHT, Rgba([255, 255, 255, 255]));
        img.put_pixel(10, 20, Rgba([0, 0, 0, 255])); // black text
        img.put_pixel(11, 20, Rgba([255, 0, 0, 255])); // red
        img.put_pixel(12, 20, Rgba([40, 40, 40, 255])); // dark grey: dye, not resin
        img.put_pixel(13, 20, Rgba([0, 0, 0, 0])); // transparent: blank
        img.put_pixel(0, 0, Rgba([0, 0, 255, 255])); // blue, top left corner
        let s = SidePanels::from_image(&img);
        let get = |p: Panel, bits| unpack(s.panel(p).unwrap(), bits, PANEL_PIXELS);
        let (y, m, c, k) = (
            get(Panel::Yellow, 5),
            get(Panel::Magenta, 5),
            get(Panel::Cyan, 5),
            get(Panel::Black, 1),
        );
        assert_eq!(
            (
                at(&k, 10, 20),
                at(&y, 10, 20),
                at(&m, 10, 20),
                at(&c, 10, 20)
            ),
            (1, 0, 0, 0)
        );
        assert_eq!(
            (
                at(&k, 11, 20),
                at(&y, 11, 20),
                at(&m, 11, 20),
                at(&c, 11, 20)
            ),
            (0, 31, 31, 0)
        );
        assert_eq!((at(&k, 12, 20), at(&y, 12, 20)), (0, 26));
        assert_eq!((at(&k, 13, 20), at(&y, 13, 20), at(&c, 13, 20)), (0, 0, 0));
        assert_eq!((at(&y, 0, 0), at(&m, 0, 0), at(&c, 0, 0)), (0, 31, 31));
        // White is no ink at all; only the black pixel is in K.
        assert_eq!(k.iter().filter(|&&b| b == 1).count(), 1);
        assert_eq!(at(&y, 500, 300), 0);
        assert!(s.panel(Panel::Overlay).unwrap().iter().all(|&b| b == 0xFF));
        assert_eq!(
            s.panels().iter().map(|(p, _, _)| *p).collect::<Vec<_>>(),
            Panel::YMCKO
        );
        for (_, l, d) in s.panels() {
            assert_eq!(d.len(), l.panel_bytes());
        }
    }

    #[test]
    fn other_sizes_are_scaled_and_parts_are_checked() {
        let img = RgbaImage::from_pixel(2024, 1276, Rgba([0, 0, 0, 255]));
        let s = SidePanels::from_image(&img);
        assert!(s.panel(Panel::Black).unwrap().iter().all(|&b| b == 0xFF));
        assert!(SidePanels::from_parts(vec![(Panel::Black, Levels::Two, vec![0; 3])]).is_err());
        assert!(SidePanels::from_png("front", b"not a png").is_err());
    }

    #[test]
    fn a_side_at_300_dpi_edge_to_edge_is_centred_pixel_for_pixel() {
        // Black everywhere but one white pixel at (0, 0) of the 1012 x 638 side.
        let mut img = RgbaImage::from_pixel(1012, 638, Rgba([0, 0, 0, 255]));
        img.put_pixel(0, 0, Rgba([255, 255, 255, 255]));
        let s = SidePanels::from_image(&img);
        let k = unpack(s.panel(Panel::Black).unwrap(), 1, PANEL_PIXELS);
        // 2 columns blank on each side, 5 rows above and below; no blur at the edges.
        let inked = k.iter().filter(|&&b| b == 1).count();
        assert_eq!(inked, 1012 * 638 - 1);
        assert_eq!(at(&k, 2, 5), 0, "the white pixel, moved by (2, 5)");
        assert_eq!((at(&k, 3, 5), at(&k, 2, 6)), (1, 1));
        assert_eq!((at(&k, 1, 5), at(&k, 2, 4)), (0, 0), "the margin is blank");
        assert_eq!(at(&k, 1013, 642), 1);
        assert_eq!((at(&k, 1014, 642), at(&k, 1013, 643)), (0, 0));
    }
}
