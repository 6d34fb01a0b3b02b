//! The layout as a PNG preview: 8-bit grey at 150 dpi, text in the ISO 8859-1 mono fonts
//! of `embedded-graphics` drawn onto an `image` grey buffer, the QR code in whole pixels
//! per module.

use std::convert::Infallible;

use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::pixelcolor::{Gray8, GrayColor};
use embedded_graphics::prelude::*;
use embedded_graphics::text::{Baseline, Text};
use image::{GrayImage, ImageEncoder, Luma};

use crate::ReceiptError;
use crate::layout::{Align, Layout, MARGIN_MM, PAGE_H_MM, PAGE_W_MM, PX_PER_MM, QUIET_ZONE, Style};

const WHITE: u8 = 255;
const BLACK: u8 = 0;
const RULE: u8 = 128;

/// An `image` grey buffer as an `embedded-graphics` target, every pixel drawn as a
/// `scale` x `scale` block (1 for the text at its own size).
struct Canvas<'a> {
    image: &'a mut GrayImage,
    scale: u32,
}

impl OriginDimensions for Canvas<'_> {
    fn size(&self) -> Size {
        Size::new(self.image.width(), self.image.height()) / self.scale
    }
}

impl DrawTarget for Canvas<'_> {
    type Color = Gray8;
    type Error = Infallible;

    fn draw_iter<I: IntoIterator<Item = Pixel<Gray8>>>(
        &mut self,
        pixels: I,
    ) -> Result<(), Infallible> {
        for Pixel(p, color) in pixels {
            let (Ok(px), Ok(py)) = (u32::try_from(p.x), u32::try_from(p.y)) else {
                continue;
            };
            fill(
                self.image,
                px * self.scale,
                py * self.scale,
                self.scale,
                self.scale,
                color.luma(),
            );
        }
        Ok(())
    }
}

/// Fills a rectangle, clipped to the image.
fn fill(image: &mut GrayImage, x: u32, y: u32, w: u32, h: u32, luma: u8) {
    let (iw, ih) = (image.width(), image.height());
    for py in y..y.saturating_add(h).min(ih) {
        for px in x..x.saturating_add(w).min(iw) {
            image.put_pixel(px, py, Luma([luma]));
        }
    }
}

/// Pixels from millimetres (never negative on this page).
fn px(mm: f32) -> u32 {
    (mm * PX_PER_MM).round().max(0.0) as u32
}

pub(crate) fn render(layout: &Layout) -> Result<Vec<u8>, ReceiptError> {
    let (w, h) = (px(PAGE_W_MM), px(PAGE_H_MM));
    let mut image = GrayImage::from_pixel(w, h, Luma([WHITE]));

    for line in &layout.lines {
        let baseline = px(line.baseline_mm);
        for run in &line.runs {
            let (font, scale) = run.style.mono();
            let left = match run.align {
                Align::Left(mm) => px(mm),
                Align::Centre => w.saturating_sub(run.style.png_px(&run.text)) / 2,
                Align::AfterLabel(label) => px(MARGIN_MM) + Style::Body.png_px(label),
            };
            let at = Point::new(
                i32::try_from(left / scale).unwrap_or(0),
                i32::try_from(baseline / scale).unwrap_or(0),
            );
            let style = MonoTextStyle::new(font, Gray8::new(BLACK));
            let mut canvas = Canvas {
                image: &mut image,
                scale,
            };
            let Ok(_) =
                Text::with_baseline(&run.text, at, style, Baseline::Alphabetic).draw(&mut canvas);
        }
    }
    for &at in &layout.rules {
        let from = px(layout.rule_from_mm);
        fill(
            &mut image,
            from,
            px(at),
            px(layout.rule_to_mm) - from,
            1,
            RULE,
        );
    }

    // The QR code: whole pixels per module, as large as fits the box, centred on it.
    let qr = &layout.qr;
    let size = u32::try_from(qr.size).unwrap_or(u32::MAX);
    let quiet = u32::try_from(QUIET_ZONE).unwrap_or(4);
    let module = (px(qr.box_mm) / (size + 2 * quiet)).max(1);
    let side = module * size;
    let left = (w / 2).saturating_sub(side / 2);
    let top = px(qr.box_top_mm + qr.box_mm / 2.0).saturating_sub(side / 2);
    for (i, _) in qr.dark.iter().enumerate().filter(|(_, dark)| **dark) {
        let (col, row) = (i % qr.size, i / qr.size);
        let (col, row) = (
            u32::try_from(col).unwrap_or(0),
            u32::try_from(row).unwrap_or(0),
        );
        fill(
            &mut image,
            left + col * module,
            top + row * module,
            module,
            module,
            BLACK,
        );
    }

    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(image.as_raw(), w, h, image::ExtendedColorType::L8)
        .map_err(|e| ReceiptError::Encode(e.to_string()))?;
    Ok(out)
}
