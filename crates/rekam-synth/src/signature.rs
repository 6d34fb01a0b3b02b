//! Handwritten-looking signature traces for signature-pad simulators.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f32::consts::{PI, TAU};

/// One pen sample of a signature pad.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PenPoint {
    /// Horizontal position in pad units, `0..width`.
    pub x: f32,
    /// Vertical position in pad units, `0..height` (down positive).
    pub y: f32,
    /// Pen pressure `0..=1`; 0 means the pen is up (hovering).
    pub pressure: f32,
    /// Time since the first sample, milliseconds.
    pub t_ms: u32,
}

/// A raw sample before scaling into the pad: position in arbitrary units and pressure.
struct Raw {
    x: f32,
    y: f32,
    p: f32,
}

/// Generate a handwritten-looking signature: one to three cursive "words" (each a single
/// pen-down stroke made by coupled oscillations, as in Hollerbach's handwriting model),
/// pen-up hover moves between them (pressure 0), and sometimes a final underline flourish.
/// Samples are uniform in time at `rate_hz` (`t_ms = round(i·1000/rate_hz)`), start and end
/// with the pen up, and fit inside the pad with a margin. Returns an empty trace if
/// `rate_hz` is 0 or the pad size is not positive.
pub fn render_signature_trace(seed: u64, width: f32, height: f32, rate_hz: u32) -> Vec<PenPoint> {
    let pad_ok = width.is_finite() && height.is_finite() && width > 0.0 && height > 0.0;
    if rate_hz == 0 || !pad_ok {
        return Vec::new();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5167_5167_5167_5167);
    let dt = 1.0 / rate_hz as f32;
    let mut raw: Vec<Raw> = Vec::new();
    // A short hover before the first stroke.
    let hover_n = ((0.06 / dt).ceil() as usize).max(1);
    let mut x = 0.0f32;
    let base = 0.0f32;
    let slant = rng.random_range(0.15f32..0.45);
    let words = match rng.random_range(0..10) {
        0 => 1,
        1..=6 => 2,
        _ => 3,
    };
    for i in 0..hover_n {
        raw.push(Raw {
            x: x - 0.3 + 0.3 * i as f32 / hover_n as f32,
            y: base - 0.2,
            p: 0.0,
        });
    }
    let freq = rng.random_range(4.0f32..6.0);
    for w in 0..words {
        let letters = if words == 1 {
            rng.random_range(6..10)
        } else {
            rng.random_range(4..8)
        };
        let letter_t = 1.0 / freq;
        let dur = letters as f32 * letter_t;
        let n = ((1.5 * dur / dt).ceil() as usize).max(2);
        // Per-letter shape: vertical amplitude (tall or small letters), horizontal swing,
        // x/y phase lag (≈ π/2 gives loops, ≈ 0 gives cusps and zig-zags) and tempo.
        struct Letter {
            amp: f32,
            swing: f32,
            lag: f32,
            tempo: f32,
        }
        let shapes: Vec<Letter> = (0..=letters)
            .map(|i| Letter {
                amp: if i == 0 && w == 0 {
                    rng.random_range(1.4f32..2.1)
                } else if rng.random::<f32>() < 0.3 {
                    rng.random_range(1.1f32..1.8)
                } else {
                    rng.random_range(0.4f32..0.8)
                },
                swing: rng.random_range(0.05f32..0.35),
                lag: if rng.random::<f32>() < 0.65 {
                    PI / 2.0 + rng.random_range(-0.5f32..0.5)
                } else {
                    rng.random_range(-0.3f32..0.4)
                },
                tempo: rng.random_range(0.8f32..1.2),
            })
            .collect();
        let vx = rng.random_range(0.5f32..0.8);
        let phase_x = rng.random_range(0.0f32..TAU);
        let p_mean = rng.random_range(0.55f32..0.85);
        let x0 = x;
        let mut ph = 0.0f32;
        let mut adv = 0.0f32;
        let mut drift = 0.0f32;
        let drift_rate = rng.random_range(-0.15f32..0.15);
        for i in 0..n {
            let t = i as f32 * dt;
            let u = (ph / (TAU * letters as f32)).min(0.9999);
            let li = (u * letters as f32).floor() as usize;
            let lf = u * letters as f32 - li as f32;
            let s = lf * lf * (3.0 - 2.0 * lf);
            let lerp = |f: fn(&Letter) -> f32| {
                let a = shapes.get(li).map_or(0.6, f);
                let b = shapes.get(li + 1).map_or(a, f);
                a + (b - a) * s
            };
            let amp = lerp(|l| l.amp);
            let swing = lerp(|l| l.swing);
            let lag = lerp(|l| l.lag);
            let tempo = lerp(|l| l.tempo);
            let yy = base + drift - amp * 0.5 * (1.0 + (ph + phase_x + lag).sin());
            let xx = x0 + adv + swing * (ph + phase_x).sin() - slant * (yy - base);
            // Pressure ramps up and down over ~40 ms at the stroke ends.
            let left = (TAU * letters as f32 - ph) / (TAU * freq * tempo);
            let ramp = ((t / 0.04).min(left / 0.04)).clamp(0.05, 1.0);
            let p = (p_mean + 0.12 * (ph * 0.37 + w as f32).sin()) * ramp;
            raw.push(Raw {
                x: xx,
                y: yy,
                p: p.clamp(0.02, 1.0),
            });
            if ph >= TAU * letters as f32 {
                break;
            }
            let dph = TAU * freq * tempo * dt;
            ph += dph;
            adv += vx * dph / TAU;
            drift += drift_rate * dph / TAU * 0.2;
        }
        // Sometimes a dot or a short bar over the word (i-dot, t-bar): pen up, tap, pen up.
        if rng.random::<f32>() < 0.5 {
            let last = raw.last().map_or((0.0, 0.0), |r| (r.x, r.y));
            let tx = x0 + (last.0 - x0) * rng.random_range(0.3f32..0.8);
            let ty = base - rng.random_range(1.6f32..2.2);
            let hop = ((0.12 / dt).ceil() as usize).max(2);
            for i in 1..=hop {
                let f = i as f32 / hop as f32;
                raw.push(Raw {
                    x: last.0 + (tx - last.0) * f,
                    y: last.1 + (ty - last.1) * f,
                    p: 0.0,
                });
            }
            let bar = rng.random::<bool>();
            let m = if bar {
                ((0.08 / dt).ceil() as usize).max(2)
            } else {
                ((0.025 / dt).ceil() as usize).max(1)
            };
            let len = if bar {
                rng.random_range(0.4f32..0.8)
            } else {
                0.04
            };
            for i in 0..m {
                let f = i as f32 / m.max(2) as f32;
                raw.push(Raw {
                    x: tx - 0.5 * len + len * f,
                    y: ty - 0.05 * f,
                    p: (0.5 * (PI * (f + 0.5 / m as f32)).sin()).max(0.05),
                });
            }
        }
        x = raw.last().map_or(x, |r| r.x) + rng.random_range(0.4f32..0.8);
        // Pen-up move to the next word (or away at the end).
        let last = raw.last().map_or((0.0, 0.0), |r| (r.x, r.y));
        let gap_n = ((rng.random_range(0.15f32..0.3) / dt).ceil() as usize).max(2);
        for i in 1..=gap_n {
            let f = i as f32 / gap_n as f32;
            raw.push(Raw {
                x: last.0 + (x - last.0) * f,
                y: last.1 + (base - 0.3 - last.1) * f - 0.4 * (PI * f).sin(),
                p: 0.0,
            });
        }
    }
    if rng.random::<f32>() < 0.5 {
        // Underline flourish from right to left.
        let x_end = raw.iter().map(|r| r.x).fold(f32::NEG_INFINITY, f32::max);
        let x_start = raw.iter().map(|r| r.x).fold(f32::INFINITY, f32::min);
        let dur = rng.random_range(0.25f32..0.45);
        let n = ((dur / dt).ceil() as usize).max(2);
        for i in 0..n {
            let f = i as f32 / (n - 1) as f32;
            let ramp = (f / 0.1).min((1.0 - f) / 0.1).clamp(0.05, 1.0);
            raw.push(Raw {
                x: x_end - (x_end - x_start) * f,
                y: base + 0.35 + 0.15 * (PI * f).sin(),
                p: 0.6 * ramp + 0.02,
            });
        }
        let last = raw.last().map_or((0.0, 0.0), |r| (r.x, r.y));
        for i in 1..=hover_n {
            raw.push(Raw {
                x: last.0 - 0.05 * i as f32,
                y: last.1 + 0.05 * i as f32,
                p: 0.0,
            });
        }
    }
    // Fit into the pad.
    let (mut minx, mut maxx, mut miny, mut maxy) = (
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::INFINITY,
        f32::NEG_INFINITY,
    );
    for r in &raw {
        minx = minx.min(r.x);
        maxx = maxx.max(r.x);
        miny = miny.min(r.y);
        maxy = maxy.max(r.y);
    }
    let bw = (maxx - minx).max(1e-3);
    let bh = (maxy - miny).max(1e-3);
    let scale = (0.86 * width / bw).min(0.7 * height / bh);
    let ox = (width - bw * scale) * 0.5 - minx * scale;
    let oy = (height - bh * scale) * 0.5 - miny * scale;
    raw.iter()
        .enumerate()
        .map(|(i, r)| PenPoint {
            x: (r.x * scale + ox).clamp(0.0, width),
            y: (r.y * scale + oy).clamp(0.0, height),
            pressure: r.p.clamp(0.0, 1.0),
            t_ms: ((i as f64) * 1000.0 / f64::from(rate_hz)).round() as u32,
        })
        .collect()
}
