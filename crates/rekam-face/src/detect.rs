//! Multi-scale detection with a cascade, and the grouping of overlapping hits.
//!
//! As OpenCV's `CascadeClassifier::detectMultiScale`: the picture is scaled down by
//! `scale_factor`, `scale_factor²`, … (bilinear) while the trained window still fits, the
//! window slides over every level in steps of 2 pixels of that level (1 pixel once the level is
//! less than half the picture's size, unless [`DetectParams::step`] says otherwise; one step
//! more after a window that the first stage rejects), and each hit is a box of the window's size times the level's factor in the
//! picture. Hits are then grouped: two boxes are alike when every side differs by at most
//! `eps · (mean of the smaller width and the smaller height)`; each class of alike boxes
//! becomes its mean box and its size (the neighbours); classes with at most `min_neighbours`
//! members are dropped, as is a box lying inside a better-supported one.

use image::GrayImage;

use crate::cascade::{Cascade, Prepared};
use crate::geometry::Rect;
use crate::integral::Integral;
use crate::resample::resize_bilinear;

/// Parameters of a multi-scale detection.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectParams {
    /// Ratio between successive scales (above 1; 1.1 as OpenCV's default).
    pub scale_factor: f64,
    /// A detection needs more than this many overlapping hits (OpenCV's `minNeighbors`, 3).
    /// 0 keeps every raw hit, ungrouped.
    pub min_neighbours: u32,
    /// Smallest box side in pixels to look for (0: the cascade's window).
    pub min_size: u32,
    /// Largest box side in pixels to look for (0: no limit).
    pub max_size: u32,
    /// Relative tolerance of the grouping (OpenCV's 0.2).
    pub group_eps: f64,
    /// Step of the sliding window in pixels of each level; 0 for OpenCV's rule (2, and 1 once
    /// the level is less than half the picture's size).
    pub step: u32,
}

impl Default for DetectParams {
    fn default() -> Self {
        Self {
            scale_factor: 1.1,
            min_neighbours: 3,
            min_size: 0,
            max_size: 0,
            group_eps: 0.2,
            step: 0,
        }
    }
}

/// One detected object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Detection {
    /// Its box in the picture.
    pub rect: Rect,
    /// How many raw hits were grouped into it (1 when not grouped).
    pub neighbours: u32,
}

/// Finds the objects of `cascade` in `img`, best supported first.
pub fn detect(cascade: &Cascade, img: &GrayImage, params: &DetectParams) -> Vec<Detection> {
    let raw = raw_hits(cascade, img, params);
    if params.min_neighbours == 0 {
        return raw
            .into_iter()
            .map(|rect| Detection {
                rect,
                neighbours: 1,
            })
            .collect();
    }
    let mut groups = group_rectangles(&raw, params.min_neighbours, params.group_eps);
    groups.sort_by(|a, b| {
        b.neighbours
            .cmp(&a.neighbours)
            .then(b.rect.area().cmp(&a.rect.area()))
    });
    groups
}

/// One level of the pyramid: its factor, size, step and the window's size in the picture.
#[derive(Debug, Clone, Copy)]
struct Level {
    factor: f64,
    width: u32,
    height: u32,
    step: usize,
    win_w: i32,
    win_h: i32,
}

impl Level {
    fn windows(&self, win: (u32, u32)) -> usize {
        let nx = (self.width - win.0) as usize / self.step + 1;
        let ny = (self.height - win.1) as usize / self.step + 1;
        nx * ny
    }
}

/// The levels `params` asks for on a picture of `iw` × `ih`.
fn levels(win: (u32, u32), iw: u32, ih: u32, params: &DetectParams) -> Vec<Level> {
    let scale_factor = if params.scale_factor > 1.0001 {
        params.scale_factor
    } else {
        1.1
    };
    let mut out = Vec::new();
    let mut factor = 1.0f64;
    loop {
        let win_sw = (f64::from(win.0) * factor).round() as u32;
        let win_sh = (f64::from(win.1) * factor).round() as u32;
        let lw = (f64::from(iw) / factor).round() as u32;
        let lh = (f64::from(ih) / factor).round() as u32;
        if lw <= win.0 || lh <= win.1 {
            break;
        }
        if params.max_size > 0 && (win_sw > params.max_size || win_sh > params.max_size) {
            break;
        }
        if win_sw >= params.min_size && win_sh >= params.min_size {
            let step = match params.step {
                0 if factor > 2.0 => 1,
                0 => 2,
                s => s as usize,
            };
            out.push(Level {
                factor,
                width: lw,
                height: lh,
                step,
                win_w: win_sw as i32,
                win_h: win_sh as i32,
            });
        }
        factor *= scale_factor;
    }
    out
}

/// Slides the window over one level.
fn scan_level(
    prepared: &Prepared,
    img: &GrayImage,
    level: &Level,
    win: (u32, u32),
    tilted: bool,
    ii: &mut Integral,
    buf: &mut Vec<u8>,
) -> Vec<Rect> {
    let (iw, ih) = (img.width(), img.height());
    let pixels: &[u8] = if level.width == iw && level.height == ih {
        img.as_raw()
    } else {
        resize_bilinear(img, level.width, level.height, buf);
        buf
    };
    let stride = iw as usize + 1;
    ii.compute(
        pixels,
        level.width as usize,
        level.height as usize,
        stride,
        tilted,
    );
    let step = level.step;
    let (xmax, ymax) = (
        (level.width - win.0) as usize,
        (level.height - win.1) as usize,
    );
    let mut hits = Vec::new();
    let mut y = 0;
    while y <= ymax {
        let mut x = 0;
        while x <= xmax {
            let r = prepared.run_at(ii, x, y);
            if r > 0 {
                hits.push(Rect::new(
                    (x as f64 * level.factor).round() as i32,
                    (y as f64 * level.factor).round() as i32,
                    level.win_w,
                    level.win_h,
                ));
            } else if r == 0 {
                x += step;
            }
            x += step;
        }
        y += step;
    }
    hits
}

/// Every window the cascade accepts, at every scale, in picture coordinates, in the order of
/// the levels. Levels are shared out among up to four threads when there is much to do.
pub(crate) fn raw_hits(cascade: &Cascade, img: &GrayImage, params: &DetectParams) -> Vec<Rect> {
    let win = cascade.window();
    let (iw, ih) = (img.width(), img.height());
    if iw <= win.0 || ih <= win.1 {
        return Vec::new();
    }
    let levels = levels(win, iw, ih, params);
    let prepared = cascade.prepare(iw as usize + 1);
    let tilted = cascade.has_tilted_features();
    let total: usize = levels.iter().map(|l| l.windows(win)).sum();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4)
        .min(levels.len().max(1));
    let mut per_level: Vec<Vec<Rect>> = vec![Vec::new(); levels.len()];
    if threads <= 1 || total < 20_000 {
        let mut ii = Integral::new();
        let mut buf = Vec::new();
        for (l, out) in levels.iter().zip(per_level.iter_mut()) {
            *out = scan_level(&prepared, img, l, win, tilted, &mut ii, &mut buf);
        }
    } else {
        // Largest levels first, each to the least loaded thread.
        let mut order: Vec<usize> = (0..levels.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(levels[i].windows(win)));
        let mut loads = vec![0usize; threads];
        let mut assigned: Vec<Vec<usize>> = vec![Vec::new(); threads];
        for i in order {
            let t = (0..threads).min_by_key(|&t| loads[t]).unwrap_or(0);
            loads[t] += levels[i].windows(win);
            assigned[t].push(i);
        }
        let results: Vec<Vec<(usize, Vec<Rect>)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = assigned
                .iter()
                .map(|mine| {
                    let (prepared, levels) = (&prepared, &levels);
                    scope.spawn(move || {
                        let mut ii = Integral::new();
                        let mut buf = Vec::new();
                        mine.iter()
                            .map(|&i| {
                                let hits = scan_level(
                                    prepared, img, &levels[i], win, tilted, &mut ii, &mut buf,
                                );
                                (i, hits)
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for (i, hits) in results.into_iter().flatten() {
            per_level[i] = hits;
        }
    }
    per_level.into_iter().flatten().collect()
}

fn alike(a: &Rect, b: &Rect, eps: f64) -> bool {
    let delta = eps * f64::from(a.width.min(b.width) + a.height.min(b.height)) * 0.5;
    f64::from((a.x - b.x).abs()) <= delta
        && f64::from((a.y - b.y).abs()) <= delta
        && f64::from((a.x + a.width - b.x - b.width).abs()) <= delta
        && f64::from((a.y + a.height - b.y - b.height).abs()) <= delta
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Groups alike boxes (see the module); keeps classes of more than `threshold` boxes.
pub(crate) fn group_rectangles(rects: &[Rect], threshold: u32, eps: f64) -> Vec<Detection> {
    let n = rects.len();
    let mut parent: Vec<usize> = (0..n).collect();
    for i in 0..n {
        for j in i + 1..n {
            if alike(&rects[i], &rects[j], eps) {
                let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                if a != b {
                    parent[b] = a;
                }
            }
        }
    }
    let mut sums: Vec<([i64; 4], u32)> = vec![([0; 4], 0); n];
    for (i, r) in rects.iter().enumerate() {
        let root = find(&mut parent, i);
        let s = &mut sums[root];
        s.0[0] += i64::from(r.x);
        s.0[1] += i64::from(r.y);
        s.0[2] += i64::from(r.width);
        s.0[3] += i64::from(r.height);
        s.1 += 1;
    }
    let classes: Vec<Detection> = sums
        .iter()
        .filter(|(_, count)| *count > threshold)
        .map(|(s, count)| {
            let c = f64::from(*count);
            let mean = |v: i64| (v as f64 / c).round() as i32;
            Detection {
                rect: Rect::new(mean(s[0]), mean(s[1]), mean(s[2]), mean(s[3])),
                neighbours: *count,
            }
        })
        .collect();
    // Drop a box inside another (grown by eps) that has more support.
    classes
        .iter()
        .enumerate()
        .filter(|(i, d1)| {
            !classes.iter().enumerate().any(|(j, d2)| {
                if *i == j {
                    return false;
                }
                let (r1, r2) = (d1.rect, d2.rect);
                let dx = (f64::from(r2.width) * eps).round() as i32;
                let dy = (f64::from(r2.height) * eps).round() as i32;
                r1.x >= r2.x - dx
                    && r1.y >= r2.y - dy
                    && r1.x + r1.width <= r2.x + r2.width + dx
                    && r1.y + r1.height <= r2.y + r2.height + dy
                    && (d2.neighbours > d1.neighbours.max(3) || d1.neighbours < 3)
            })
        })
        .map(|(_, d)| *d)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_merges_alike_boxes_and_drops_weak_ones() {
        let rects = vec![
            Rect::new(100, 100, 50, 50),
            Rect::new(104, 98, 52, 52),
            Rect::new(98, 102, 48, 48),
            Rect::new(102, 100, 50, 50),
            // A lone hit elsewhere.
            Rect::new(300, 40, 30, 30),
            // Two hits together: below a threshold of 2.
            Rect::new(10, 300, 40, 40),
            Rect::new(12, 302, 40, 40),
        ];
        let g = group_rectangles(&rects, 2, 0.2);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].neighbours, 4);
        // Mean of x: (100+104+98+102)/4 = 101, y: 100, w: 50 (50.0), h: 50.
        assert_eq!(g[0].rect, Rect::new(101, 100, 50, 50));
        let g = group_rectangles(&rects, 1, 0.2);
        assert_eq!(g.len(), 2);
    }

    #[test]
    fn a_small_box_inside_a_strong_one_goes() {
        let mut rects = vec![Rect::new(100, 100, 80, 80); 6];
        rects.extend(vec![Rect::new(120, 120, 20, 20); 3]);
        let g = group_rectangles(&rects, 1, 0.2);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].rect, Rect::new(100, 100, 80, 80));
    }
}
