//! Grey conversion and resampling: box reduction by whole factors (fast, no aliasing) and
//! bilinear resizing for the fractional rest.

use image::{GrayImage, Rgb, RgbImage};

use crate::geometry::Rect;

/// Rec. 601 luma of an RGB pixel, in 8 bits.
#[inline]
pub(crate) fn luma(p: &Rgb<u8>) -> u8 {
    ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2]) + 128) >> 8) as u8
}

/// The region `r` of `img` (clipped to the image) in grey, each output pixel the mean luma of
/// an `n` × `n` block. Returns the grey picture and the clipped region.
pub(crate) fn grey_reduced(img: &RgbImage, r: Rect, n: u32) -> (GrayImage, Rect) {
    let n = n.max(1);
    let x0 = r.x.clamp(0, img.width() as i32) as u32;
    let y0 = r.y.clamp(0, img.height() as i32) as u32;
    let x1 = (r.x + r.width).clamp(0, img.width() as i32) as u32;
    let y1 = (r.y + r.height).clamp(0, img.height() as i32) as u32;
    let ow = (x1 - x0) / n;
    let oh = (y1 - y0) / n;
    let mut out = GrayImage::new(ow, oh);
    let raw = img.as_raw();
    let stride = img.width() as usize * 3;
    let area = n * n;
    let mut acc = vec![[0u32; 3]; ow as usize];
    let out_raw: &mut [u8] = out.as_mut();
    for oy in 0..oh {
        for a in acc.iter_mut() {
            *a = [0; 3];
        }
        for dy in 0..n {
            let y = (y0 + oy * n + dy) as usize;
            let row = &raw[y * stride + x0 as usize * 3..y * stride + (x0 + ow * n) as usize * 3];
            for (a, block) in acc.iter_mut().zip(row.chunks_exact(n as usize * 3)) {
                for p in block.chunks_exact(3) {
                    a[0] += u32::from(p[0]);
                    a[1] += u32::from(p[1]);
                    a[2] += u32::from(p[2]);
                }
            }
        }
        let dst = &mut out_raw[(oy * ow) as usize..((oy + 1) * ow) as usize];
        for (d, a) in dst.iter_mut().zip(&acc) {
            let v = (77 * u64::from(a[0])
                + 150 * u64::from(a[1])
                + 29 * u64::from(a[2])
                + 128 * u64::from(area))
                / (256 * u64::from(area));
            *d = v.min(255) as u8;
        }
    }
    let clipped = Rect::new(x0 as i32, y0 as i32, (ow * n) as i32, (oh * n) as i32);
    (out, clipped)
}

/// The region `r` of `img` (clipped) in colour, each output pixel the mean of an `n` × `n`
/// block. Returns the picture and the clipped region.
pub(crate) fn rgb_reduced(img: &RgbImage, r: Rect, n: u32) -> (RgbImage, Rect) {
    let n = n.max(1);
    let x0 = r.x.clamp(0, img.width() as i32) as u32;
    let y0 = r.y.clamp(0, img.height() as i32) as u32;
    let x1 = (r.x + r.width).clamp(0, img.width() as i32) as u32;
    let y1 = (r.y + r.height).clamp(0, img.height() as i32) as u32;
    let ow = (x1 - x0) / n;
    let oh = (y1 - y0) / n;
    let mut out = RgbImage::new(ow, oh);
    let raw = img.as_raw();
    let stride = img.width() as usize * 3;
    let area = n * n;
    let mut acc = vec![[0u32; 3]; ow as usize];
    for oy in 0..oh {
        for a in acc.iter_mut() {
            *a = [0; 3];
        }
        for dy in 0..n {
            let y = (y0 + oy * n + dy) as usize;
            let row = &raw[y * stride + x0 as usize * 3..y * stride + (x0 + ow * n) as usize * 3];
            for (ox, a) in acc.iter_mut().enumerate() {
                let block = &row[ox * n as usize * 3..(ox + 1) * n as usize * 3];
                for p in block.chunks_exact(3) {
                    a[0] += u32::from(p[0]);
                    a[1] += u32::from(p[1]);
                    a[2] += u32::from(p[2]);
                }
            }
        }
        for (ox, a) in acc.iter().enumerate() {
            let px = [
                ((a[0] + area / 2) / area) as u8,
                ((a[1] + area / 2) / area) as u8,
                ((a[2] + area / 2) / area) as u8,
            ];
            out.put_pixel(ox as u32, oy, Rgb(px));
        }
    }
    let clipped = Rect::new(x0 as i32, y0 as i32, (ow * n) as i32, (oh * n) as i32);
    (out, clipped)
}

/// `src` resized to `w` × `h` by bilinear interpolation (pixel centres aligned), into `out`.
pub(crate) fn resize_bilinear(src: &GrayImage, w: u32, h: u32, out: &mut Vec<u8>) {
    let (sw, sh) = (src.width() as usize, src.height() as usize);
    out.clear();
    out.resize(w as usize * h as usize, 0);
    if sw == 0 || sh == 0 || w == 0 || h == 0 {
        return;
    }
    let sx = sw as f64 / f64::from(w);
    let sy = sh as f64 / f64::from(h);
    let raw = src.as_raw();
    // Horizontal sample positions and weights (fixed point, 11 bits), computed once.
    let xs: Vec<(usize, usize, u32)> = (0..w as usize)
        .map(|x| {
            let fx = ((x as f64 + 0.5) * sx - 0.5).clamp(0.0, (sw - 1) as f64);
            let x0 = fx.floor() as usize;
            let x1 = (x0 + 1).min(sw - 1);
            (x0, x1, ((fx - x0 as f64) * 2048.0).round() as u32)
        })
        .collect();
    for y in 0..h as usize {
        let fy = ((y as f64 + 0.5) * sy - 0.5).clamp(0.0, (sh - 1) as f64);
        let y0 = fy.floor() as usize;
        let y1 = (y0 + 1).min(sh - 1);
        let wy = ((fy - y0 as f64) * 2048.0).round() as u32;
        let r0 = &raw[y0 * sw..(y0 + 1) * sw];
        let r1 = &raw[y1 * sw..(y1 + 1) * sw];
        let dst = &mut out[y * w as usize..(y + 1) * w as usize];
        for (d, &(x0, x1, wx)) in dst.iter_mut().zip(&xs) {
            let top = u32::from(r0[x0]) * (2048 - wx) + u32::from(r0[x1]) * wx;
            let bot = u32::from(r1[x0]) * (2048 - wx) + u32::from(r1[x1]) * wx;
            let v = (top * (2048 - wy) + bot * wy + (1 << 21)) >> 22;
            *d = v.min(255) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_reduction_averages_blocks() {
        let img = RgbImage::from_fn(7, 5, |x, y| Rgb([(x * 10) as u8, (y * 20) as u8, 100]));
        let (g, r) = rgb_reduced(&img, Rect::new(1, 0, 6, 5), 2);
        assert_eq!((g.width(), g.height()), (3, 2));
        assert_eq!(r, Rect::new(1, 0, 6, 4));
        // Block columns 1-2, rows 0-1: R mean 15 → 15 (rounded half up from 15.0), G mean 10.
        assert_eq!(g.get_pixel(0, 0).0, [15, 10, 100]);
        assert_eq!(g.get_pixel(2, 1).0, [55, 50, 100]);
        let (grey, _) = grey_reduced(&img, Rect::new(0, 0, 7, 5), 1);
        assert_eq!(grey.get_pixel(3, 2).0[0], luma(img.get_pixel(3, 2)));
    }

    #[test]
    fn bilinear_keeps_a_ramp() {
        let src = GrayImage::from_fn(8, 2, |x, _| image::Luma([(x * 32) as u8]));
        let mut out = Vec::new();
        resize_bilinear(&src, 4, 1, &mut out);
        // Output pixel x samples source position 2x + 0.5: values 16, 80, 144, 208.
        assert_eq!(out, vec![16, 80, 144, 208]);
    }
}
