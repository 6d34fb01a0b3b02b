//! Signature rendering: pen samples to a black-on-white PNG.

use image::ImageEncoder;
use image::codecs::png::PngEncoder;
use rekam_core::{PadGeometry, PenSample};

/// The widest image [`render_png`] makes, in pixels.
pub const MAX_WIDTH_PX: u32 = 8192;

/// Line width at zero pressure, millimetres on the pad.
const MIN_LINE_MM: f32 = 0.3;
/// Line width at full pressure, millimetres on the pad.
const MAX_LINE_MM: f32 = 0.9;
/// Thinnest line drawn, pixels (thinner lines would break up).
const MIN_LINE_PX: f32 = 1.0;
/// Longest piece a segment is cut into before rasterising, pixels (keeps the work
/// proportional to the ink, not to the bounding box of long segments).
const PIECE_PX: f32 = 8.0;

/// Why a signature cannot be rendered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    /// The pad geometry is not positive and finite.
    #[error("invalid pad geometry: {width} x {height} units at {units_per_mm} units/mm")]
    Geometry {
        /// Width in pad units.
        width: f32,
        /// Height in pad units.
        height: f32,
        /// Pad units per millimetre.
        units_per_mm: f32,
    },
    /// The requested width is 0 or above [`MAX_WIDTH_PX`].
    #[error("image width {0} px is out of range (1..={MAX_WIDTH_PX})")]
    Width(u32),
    /// The image is too tall for the pad's aspect ratio at that width.
    #[error("image height {0} px is out of range (1..={MAX_WIDTH_PX})")]
    Height(f64),
    /// PNG encoding failed.
    #[error("PNG encoding failed: {0}")]
    Encode(String),
}

fn pen_down(s: &PenSample) -> bool {
    s.pressure > 0.0 && s.x.is_finite() && s.y.is_finite() && s.pressure.is_finite()
}

/// An ink coverage canvas, 0 = paper, 1 = ink.
struct Canvas {
    w: usize,
    h: usize,
    cov: Vec<f32>,
}

impl Canvas {
    /// Draws a segment from `a` to `b` (pixels) whose radius goes from `ra` to `rb`, with
    /// round ends and a one-pixel anti-aliased edge. Overlaps do not darken.
    fn segment(&mut self, a: (f32, f32), b: (f32, f32), ra: f32, rb: f32) {
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        let pieces = (len / PIECE_PX).ceil().clamp(1.0, 1e6) as u32;
        for i in 0..pieces {
            let t0 = i as f32 / pieces as f32;
            let t1 = (i + 1) as f32 / pieces as f32;
            let lerp = |t: f32| (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
            self.piece(lerp(t0), lerp(t1), ra + (rb - ra) * t0, ra + (rb - ra) * t1);
        }
    }

    fn piece(&mut self, a: (f32, f32), b: (f32, f32), ra: f32, rb: f32) {
        let r = ra.max(rb) + 1.0;
        let x0 = (a.0.min(b.0) - r).floor().max(0.0);
        let y0 = (a.1.min(b.1) - r).floor().max(0.0);
        let x1 = (a.0.max(b.0) + r).ceil().min(self.w as f32);
        let y1 = (a.1.max(b.1) + r).ceil().min(self.h as f32);
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let l2 = dx * dx + dy * dy;
        for y in y0 as usize..y1 as usize {
            let py = y as f32 + 0.5;
            for x in x0 as usize..x1 as usize {
                let px = x as f32 + 0.5;
                let t = if l2 > 0.0 {
                    (((px - a.0) * dx + (py - a.1) * dy) / l2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (cx, cy) = (a.0 + dx * t, a.1 + dy * t);
                let d = ((px - cx).powi(2) + (py - cy).powi(2)).sqrt();
                let radius = ra + (rb - ra) * t;
                let c = (radius + 0.5 - d).clamp(0.0, 1.0);
                if let Some(v) = self.cov.get_mut(y * self.w + x) {
                    *v = v.max(c);
                }
            }
        }
    }
}

/// Renders a signature as an 8-bit greyscale PNG: black ink on white, `width_px` wide and as
/// tall as the pad's aspect ratio makes it. Consecutive pen-down samples (pressure > 0) are
/// joined by anti-aliased lines whose width follows the pressure (0.3 mm at the lightest
/// touch to 0.9 mm at full pressure, at least one pixel); pen-up samples break the line, so
/// the moves between words leave no trace; a lone pen-down sample is a dot. Samples outside
/// the pad are clipped. Returns the PNG bytes, its width and its height.
pub fn render_png(
    samples: &[PenSample],
    geometry: PadGeometry,
    width_px: u32,
) -> Result<(Vec<u8>, u32, u32), RenderError> {
    let PadGeometry {
        width,
        height,
        units_per_mm,
    } = geometry;
    let ok = |v: f32| v.is_finite() && v > 0.0;
    if !(ok(width) && ok(height) && ok(units_per_mm)) {
        return Err(RenderError::Geometry {
            width,
            height,
            units_per_mm,
        });
    }
    if width_px == 0 || width_px > MAX_WIDTH_PX {
        return Err(RenderError::Width(width_px));
    }
    let scale = f64::from(width_px) / f64::from(width);
    let h = (f64::from(height) * scale).round();
    if !(1.0..=f64::from(MAX_WIDTH_PX)).contains(&h) {
        return Err(RenderError::Height(h));
    }
    let height_px = h as u32;
    let scale = scale as f32;
    let px_per_mm = units_per_mm * scale;
    let radius = |p: f32| {
        let mm = MIN_LINE_MM + (MAX_LINE_MM - MIN_LINE_MM) * p.clamp(0.0, 1.0);
        (mm * px_per_mm).max(MIN_LINE_PX) / 2.0
    };
    // Far-out samples are clamped to a band around the pad: the line towards them still
    // leaves the picture, at a bounded cost.
    let to_px = |s: &PenSample| {
        (
            s.x.clamp(-width, 2.0 * width) * scale,
            s.y.clamp(-height, 2.0 * height) * scale,
        )
    };

    let mut canvas = Canvas {
        w: width_px as usize,
        h: height_px as usize,
        cov: vec![0.0; width_px as usize * height_px as usize],
    };
    for (i, s) in samples.iter().enumerate() {
        if !pen_down(s) {
            continue;
        }
        let prev_down = i > 0 && samples.get(i - 1).is_some_and(pen_down);
        let next = samples.get(i + 1).filter(|n| pen_down(n));
        match next {
            Some(n) => canvas.segment(to_px(s), to_px(n), radius(s.pressure), radius(n.pressure)),
            None if !prev_down => {
                let p = to_px(s);
                canvas.segment(p, p, radius(s.pressure), radius(s.pressure));
            }
            None => {}
        }
    }

    let pixels: Vec<u8> = canvas
        .cov
        .iter()
        .map(|c| (255.0 * (1.0 - c)).round() as u8)
        .collect();
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(&pixels, width_px, height_px, image::ExtendedColorType::L8)
        .map_err(|e| RenderError::Encode(e.to_string()))?;
    Ok((png, width_px, height_px))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAD: PadGeometry = PadGeometry {
        width: 2000.0,
        height: 1000.0,
        units_per_mm: 20.0,
    };

    fn s(x: f32, y: f32, pressure: f32) -> PenSample {
        PenSample {
            x,
            y,
            pressure,
            t_ms: 0,
        }
    }

    #[test]
    fn invalid_geometry_and_widths_are_refused() {
        let bad = PadGeometry { width: 0.0, ..PAD };
        assert!(matches!(
            render_png(&[], bad, 100),
            Err(RenderError::Geometry { .. })
        ));
        let nan = PadGeometry {
            units_per_mm: f32::NAN,
            ..PAD
        };
        assert!(matches!(
            render_png(&[], nan, 100),
            Err(RenderError::Geometry { .. })
        ));
        assert_eq!(render_png(&[], PAD, 0), Err(RenderError::Width(0)));
        assert_eq!(
            render_png(&[], PAD, MAX_WIDTH_PX + 1),
            Err(RenderError::Width(MAX_WIDTH_PX + 1))
        );
        let tall = PadGeometry {
            width: 1.0,
            height: 1000.0,
            units_per_mm: 20.0,
        };
        assert!(matches!(
            render_png(&[], tall, 100),
            Err(RenderError::Height(_))
        ));
    }

    #[test]
    fn far_out_and_non_finite_samples_do_not_break_rendering() {
        let samples = [
            s(-1e30, 5.0, 0.5),
            s(1e30, 900.0, 0.5),
            s(f32::NAN, 100.0, 0.5),
            s(100.0, 100.0, f32::INFINITY),
        ];
        let (png, w, h) = render_png(&samples, PAD, 200).unwrap();
        assert_eq!((w, h), (200, 100));
        assert!(!png.is_empty());
    }
}
