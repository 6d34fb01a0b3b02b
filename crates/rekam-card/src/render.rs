//! Drawing a template at the printer's resolution into the ribbon's panels.

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use image::{GrayImage, Luma, Rgb, RgbImage, imageops};

use crate::template::{Align, Element, ImageSource, Panel, Template, parse_colour};
use crate::{CardData, CardError, Fonts};

/// One side of a card as the printer takes it: the colour panels' image, the black resin
/// and the overlay, each `width x height` pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Side {
    /// What the yellow, magenta and cyan dye panels print, as RGB (white: no dye).
    pub colour: RgbImage,
    /// The black resin panel: 255 where resin is laid (text, lines, the NIK, the
    /// signature), 0 elsewhere.
    pub k: GrayImage,
    /// The overlay panel: 255 where the clear protective overlay is laid.
    pub overlay: GrayImage,
}

impl Side {
    /// The three dye panels, in ribbon order Y, M, C: each the density of its dye (0 none,
    /// 255 full), the complement of the colour image's blue, green and red.
    pub fn ymc(&self) -> [GrayImage; 3] {
        let (w, h) = self.colour.dimensions();
        let mut y = GrayImage::new(w, h);
        let mut m = GrayImage::new(w, h);
        let mut c = GrayImage::new(w, h);
        for (i, p) in self.colour.pixels().enumerate() {
            let (px, py) = (i as u32 % w, i as u32 / w);
            y.put_pixel(px, py, Luma([255 - p[2]]));
            m.put_pixel(px, py, Luma([255 - p[1]]));
            c.put_pixel(px, py, Luma([255 - p[0]]));
        }
        [y, m, c]
    }

    /// What the card looks like printed: the colour image with the black resin on top.
    pub fn preview(&self) -> RgbImage {
        let mut out = self.colour.clone();
        for (p, k) in out.pixels_mut().zip(self.k.pixels()) {
            if k[0] != 0 {
                *p = Rgb([0, 0, 0]);
            }
        }
        out
    }

    /// [`Side::preview`] as a PNG.
    pub fn preview_png(&self) -> Result<Vec<u8>, CardError> {
        let mut out = Vec::new();
        self.preview()
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .map_err(|e| CardError::Image(format!("encoding the preview: {e}")))?;
        Ok(out)
    }

    /// The black resin panel as a greyscale PNG (255: resin), for a printer that lays it.
    pub fn k_png(&self) -> Result<Vec<u8>, CardError> {
        let mut out = Vec::new();
        self.k
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .map_err(|e| CardError::Image(format!("encoding the K panel: {e}")))?;
        Ok(out)
    }
}

/// Millimetres to pixels at `dpi`.
fn px(mm: f32, dpi: u32) -> f32 {
    mm * dpi as f32 / 25.4
}

/// The pixel box of a millimetre box, clipped to the card.
fn pixel_box(x: f32, y: f32, w: f32, h: f32, dpi: u32, size: (u32, u32)) -> (u32, u32, u32, u32) {
    let x0 = (px(x, dpi).round().max(0.0) as u32).min(size.0);
    let y0 = (px(y, dpi).round().max(0.0) as u32).min(size.1);
    let x1 = (px(x + w, dpi).round().max(0.0) as u32).min(size.0);
    let y1 = (px(y + h, dpi).round().max(0.0) as u32).min(size.1);
    (x0, y0, x1.saturating_sub(x0), y1.saturating_sub(y0))
}

/// Renders `template` with `data` at `dpi` (300 for the card printers rekam drives: ID-1
/// is then 1012 x 638, the card printers' page, each side rounded up to a whole pixel).
pub fn render(
    template: &Template,
    data: &CardData,
    fonts: &Fonts,
    dpi: u32,
) -> Result<Side, CardError> {
    let width = px(template.width_mm, dpi).ceil() as u32;
    let height = px(template.height_mm, dpi).ceil() as u32;
    let ground = parse_colour(&template.background)?;
    let mut side = Side {
        colour: RgbImage::from_pixel(width, height, Rgb(ground)),
        k: GrayImage::new(width, height),
        overlay: GrayImage::from_pixel(width, height, Luma([255])),
    };
    let regular = fonts.get(&template.font)?;
    let bold = fonts.get(&template.font_bold)?;
    for e in &template.elements {
        match e {
            Element::Rect {
                x,
                y,
                w,
                h,
                colour,
                panel,
            } => {
                let (x0, y0, bw, bh) = pixel_box(*x, *y, *w, *h, dpi, (width, height));
                let c = parse_colour(colour)?;
                for py in y0..y0 + bh {
                    for px in x0..x0 + bw {
                        match panel {
                            Panel::Colour => side.colour.put_pixel(px, py, Rgb(c)),
                            Panel::K => side.k.put_pixel(px, py, Luma([255])),
                        }
                    }
                }
            }
            Element::Text {
                value,
                field,
                x,
                y,
                w,
                h,
                size,
                min_size,
                max_lines,
                bold: is_bold,
                align,
                colour,
                panel,
            } => {
                let (name, text) = match (value, field) {
                    (Some(v), _) => ("(fixed text)", v.as_str()),
                    (None, Some(f)) => (
                        f.as_str(),
                        data.fields
                            .get(f)
                            .map(String::as_str)
                            .ok_or_else(|| CardError::MissingField(f.clone()))?,
                    ),
                    (None, None) => continue,
                };
                let font = if *is_bold { bold } else { regular };
                if let Some(c) = text
                    .chars()
                    .find(|&c| !c.is_whitespace() && font.glyph_id(c).0 == 0)
                {
                    return Err(CardError::Unshowable {
                        field: name.to_string(),
                        character: c,
                    });
                }
                let bx = pixel_box(*x, *y, *w, *h, dpi, (width, height));
                let fit = fit_text(
                    font,
                    text,
                    bx.2 as f32,
                    bx.3 as f32,
                    *size,
                    min_size.unwrap_or(*size),
                    *max_lines,
                    dpi,
                )
                .ok_or_else(|| CardError::DoesNotFit {
                    field: name.to_string(),
                    text: text.to_string(),
                })?;
                let c = parse_colour(colour)?;
                draw_lines(&mut side, font, &fit, bx, *align, *panel, c);
            }
            Element::Image { source, x, y, w, h } => {
                let bx = pixel_box(*x, *y, *w, *h, dpi, (width, height));
                match source {
                    ImageSource::Photo => {
                        if let Some(photo) = &data.photo {
                            let (img, ox, oy) = fitted(photo, bx);
                            imageops::replace(&mut side.colour, &img, i64::from(ox), i64::from(oy));
                        }
                    }
                    ImageSource::Signature => {
                        if let Some(sig) = &data.signature {
                            let (img, ox, oy) = fitted(sig, bx);
                            // Ink darker than mid-grey goes on in black resin.
                            for (px, py, p) in img.enumerate_pixels() {
                                if p[0] < 128 {
                                    side.k.put_pixel(ox + px, oy + py, Luma([255]));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(side)
}

/// An image scaled to fit a pixel box with its aspect ratio kept, and where its top left
/// corner goes to be centred in the box.
fn fitted<P: image::Pixel<Subpixel = u8> + 'static>(
    img: &image::ImageBuffer<P, Vec<u8>>,
    (x0, y0, bw, bh): (u32, u32, u32, u32),
) -> (image::ImageBuffer<P, Vec<u8>>, u32, u32) {
    let (iw, ih) = img.dimensions();
    if iw == 0 || ih == 0 || bw == 0 || bh == 0 {
        return (image::ImageBuffer::new(0, 0), x0, y0);
    }
    let scale = (bw as f32 / iw as f32).min(bh as f32 / ih as f32);
    let tw = ((iw as f32 * scale).round() as u32).clamp(1, bw);
    let th = ((ih as f32 * scale).round() as u32).clamp(1, bh);
    let out = if (tw, th) == (iw, ih) {
        img.clone()
    } else {
        imageops::resize(img, tw, th, imageops::FilterType::Triangle)
    };
    (out, x0 + (bw - tw) / 2, y0 + (bh - th) / 2)
}

/// Text laid out to fit a box: its lines, size and line height in pixels.
struct Fit {
    lines: Vec<String>,
    scale: PxScale,
    line_height: f32,
}

/// The width of `text` in pixels at `scale`, kerning included.
fn text_width(font: &FontVec, scale: PxScale, text: &str) -> f32 {
    let f = font.as_scaled(scale);
    let mut width = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let g = f.glyph_id(c);
        if let Some(p) = prev {
            width += f.kern(p, g);
        }
        width += f.h_advance(g);
        prev = Some(g);
    }
    width
}

/// Greedy word wrap of `text` into lines no wider than `width`; a word wider than the
/// whole line is broken between characters.
fn wrap(font: &FontVec, scale: PxScale, text: &str, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if text_width(font, scale, &candidate) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // The word alone: break it if even that is too wide.
        for c in word.chars() {
            let mut next = line.clone();
            next.push(c);
            if !line.is_empty() && text_width(font, scale, &next) > width {
                lines.push(std::mem::take(&mut line));
                line.push(c);
            } else {
                line = next;
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The rule for text that is too long: print at `size`; if it does not fit on one line,
/// shrink in quarter points down to `min_size`; if it still does not fit and more lines
/// are allowed, wrap it at the largest size from `size` down to `min_size` at which it
/// fits in `max_lines` lines and the box's height. `None`: it cannot fit.
#[allow(clippy::too_many_arguments)]
fn fit_text(
    font: &FontVec,
    text: &str,
    width: f32,
    height: f32,
    size: f32,
    min_size: f32,
    max_lines: u32,
    dpi: u32,
) -> Option<Fit> {
    let sizes = || {
        let steps = ((size - min_size) / 0.25).floor() as u32;
        (0..=steps).map(move |i| size - i as f32 * 0.25)
    };
    let at = |pt: f32| {
        let scale = PxScale::from(pt * dpi as f32 / 72.0);
        let f = font.as_scaled(scale);
        (scale, f.ascent() - f.descent())
    };
    for pt in sizes() {
        let (scale, line_height) = at(pt);
        if text_width(font, scale, text) <= width && line_height <= height + 0.5 {
            return Some(Fit {
                lines: vec![text.to_string()],
                scale,
                line_height,
            });
        }
    }
    if max_lines > 1 {
        for pt in sizes() {
            let (scale, line_height) = at(pt);
            let lines = wrap(font, scale, text, width);
            if lines.len() as u32 <= max_lines
                && lines.iter().all(|l| text_width(font, scale, l) <= width)
                && line_height * lines.len() as f32 <= height + 0.5
            {
                return Some(Fit {
                    lines,
                    scale,
                    line_height,
                });
            }
        }
    }
    None
}

/// Draws laid-out text into its panel. Resin is laid where a glyph covers half a pixel or
/// more (resin is on or off); colour text is blended by coverage.
fn draw_lines(
    side: &mut Side,
    font: &FontVec,
    fit: &Fit,
    (x0, y0, bw, bh): (u32, u32, u32, u32),
    align: Align,
    panel: Panel,
    colour: [u8; 3],
) {
    let f = font.as_scaled(fit.scale);
    let (cw, ch) = side.k.dimensions();
    for (i, line) in fit.lines.iter().enumerate() {
        let lw = text_width(font, fit.scale, line);
        let left = match align {
            Align::Left => x0 as f32,
            Align::Centre => x0 as f32 + (bw as f32 - lw) / 2.0,
            Align::Right => x0 as f32 + bw as f32 - lw,
        };
        let baseline = y0 as f32 + f.ascent() + i as f32 * fit.line_height;
        let mut caret = left;
        let mut prev = None;
        for c in line.chars() {
            let id = f.glyph_id(c);
            if let Some(p) = prev {
                caret += f.kern(p, id);
            }
            let glyph = id.with_scale_and_position(fit.scale, ab_glyph::point(caret, baseline));
            caret += f.h_advance(id);
            prev = Some(id);
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let b = outline.px_bounds();
            outline.draw(|gx, gy, cov| {
                let px = b.min.x as i32 + gx as i32;
                let py = b.min.y as i32 + gy as i32;
                // Clipped to the text's box and the card.
                if px < x0 as i32
                    || py < y0 as i32
                    || px >= (x0 + bw).min(cw) as i32
                    || py >= (y0 + bh).min(ch) as i32
                {
                    return;
                }
                let (px, py) = (px as u32, py as u32);
                match panel {
                    Panel::K => {
                        if cov >= 0.5 {
                            side.k.put_pixel(px, py, Luma([255]));
                        }
                    }
                    Panel::Colour => {
                        let p = side.colour.get_pixel_mut(px, py);
                        for (ch, c) in p.0.iter_mut().zip(colour) {
                            *ch = (f32::from(*ch) * (1.0 - cov) + f32::from(c) * cov).round() as u8;
                        }
                    }
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn long_text_shrinks_then_wraps_and_never_overflows() {
        let fonts = Fonts::load(crate::DEFAULT_FONT_DIR).unwrap();
        let f = fonts.get("LiberationSans-Regular.ttf").unwrap();
        // 7 pt at 300 dpi; a box 38 mm wide (449 px) and two lines high.
        let w = px(38.0, 300);
        let short = fit_text(f, "BUDI", w, 60.0, 7.0, 5.5, 2, 300).unwrap();
        assert_eq!((short.lines.len(), short.scale.x.round()), (1, 29.0));
        let long = "MUHAMMAD ABDURRAHMAN WAHYUDI SETIAWAN PRAWIROKUSUMO";
        let fit = fit_text(f, long, w, 60.0, 7.0, 5.5, 2, 300).unwrap();
        assert_eq!(fit.lines.len(), 2, "{:?}", fit.lines);
        assert!(fit.lines.iter().all(|l| text_width(f, fit.scale, l) <= w));
        assert_eq!(fit.lines.join(" "), long);
        // One line only: it shrinks, and what cannot fit is refused.
        let one = fit_text(f, "ABDURRAHMAN WAHYUDI SETIAWAN", w, 30.0, 7.0, 5.0, 1, 300).unwrap();
        assert!(one.scale.x < 29.0 && one.lines.len() == 1);
        assert!(fit_text(f, long, w, 30.0, 7.0, 6.5, 1, 300).is_none());
        // A single word wider than the line is broken between characters.
        let lines = wrap(f, PxScale::from(29.0), &"W".repeat(40), 200.0);
        assert!(
            lines.len() > 1
                && lines
                    .iter()
                    .all(|l| text_width(f, PxScale::from(29.0), l) <= 200.0)
        );
    }
}
