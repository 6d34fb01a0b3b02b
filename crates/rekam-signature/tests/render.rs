//! Rendering signatures to PNG.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures::StreamExt;
use rekam_core::sim::Timing;
use rekam_core::{PadGeometry, PenSample, SignaturePad};
use rekam_signature::{GEOMETRY, SignatureSim, render_png};

fn s(x: f32, y: f32, pressure: f32) -> PenSample {
    PenSample {
        x,
        y,
        pressure,
        t_ms: 0,
    }
}

fn decode(png: &[u8]) -> image::GrayImage {
    image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .unwrap()
        .to_luma8()
}

/// Two horizontal strokes with a pen-up jump between them.
fn two_strokes(pressure: f32) -> Vec<PenSample> {
    let mut v = Vec::new();
    v.push(s(150.0, 500.0, 0.0));
    for i in 0..=60 {
        v.push(s(200.0 + 10.0 * i as f32, 500.0, pressure));
    }
    for i in 0..=40 {
        v.push(s(800.0 + 10.0 * i as f32, 500.0, 0.0));
    }
    for i in 0..=60 {
        v.push(s(1200.0 + 10.0 * i as f32, 500.0, pressure));
    }
    v.push(s(1850.0, 500.0, 0.0));
    v
}

#[test]
fn strokes_are_dark_and_pen_up_gaps_stay_white() {
    let (png, w, h) = render_png(&two_strokes(0.6), GEOMETRY, 1000).unwrap();
    assert_eq!((w, h), (1000, 500), "the pad's 2:1 aspect ratio");
    let img = decode(&png);
    assert_eq!(img.dimensions(), (1000, 500));
    // Pad units to pixels: x 0.5.
    for x in (110..390).chain(610..890) {
        assert!(img.get_pixel(x, 250).0[0] < 64, "ink at x={x}");
    }
    for x in 420..580 {
        assert_eq!(img.get_pixel(x, 250).0[0], 255, "pen-up gap at x={x}");
    }
    // White everywhere away from the strokes.
    for (x, y, p) in img.enumerate_pixels() {
        if y.abs_diff(250) > 6 {
            assert_eq!(p.0[0], 255, "({x}, {y})");
        }
    }
}

#[test]
fn line_width_follows_pressure() {
    let thickness = |pressure: f32| {
        let (png, _, _) = render_png(&two_strokes(pressure), GEOMETRY, 1000).unwrap();
        let img = decode(&png);
        (230..270)
            .filter(|&y| img.get_pixel(250, y).0[0] < 128)
            .count()
    };
    let light = thickness(0.05);
    let heavy = thickness(1.0);
    assert!(light >= 1, "a light touch still shows");
    assert!(heavy >= light + 3, "light {light} px, heavy {heavy} px");
}

#[test]
fn a_lone_pen_down_sample_is_a_dot() {
    let (png, _, _) = render_png(
        &[
            s(1000.0, 500.0, 0.0),
            s(1000.0, 500.0, 1.0),
            s(1400.0, 500.0, 0.0),
        ],
        GEOMETRY,
        1000,
    )
    .unwrap();
    let img = decode(&png);
    assert!(img.get_pixel(500, 250).0[0] < 64);
    assert_eq!(img.get_pixel(600, 250).0[0], 255);
}

#[test]
fn other_geometries_keep_their_aspect_ratio() {
    let pad = PadGeometry {
        width: 1500.0,
        height: 1000.0,
        units_per_mm: 10.0,
    };
    let (png, w, h) = render_png(&[], pad, 300).unwrap();
    assert_eq!((w, h), (300, 200));
    let img = decode(&png);
    assert!(img.pixels().all(|p| p.0[0] == 255), "no ink, all white");
}

#[tokio::test]
async fn a_simulated_signature_renders_along_its_trace() {
    let pad = SignatureSim::new("signature0", 11, Timing::INSTANT);
    let n = pad.sign().count().await;
    assert!(n > 100);
    let samples = pad.take().await.unwrap();
    let width = 600;
    let (png, w, h) = render_png(&samples, pad.geometry(), width).unwrap();
    assert_eq!((w, h), (600, 300));
    let img = decode(&png);
    let scale = width as f32 / GEOMETRY.width;
    let at = |p: &PenSample| {
        let x = ((p.x * scale) as u32).min(w - 1);
        let y = ((p.y * scale) as u32).min(h - 1);
        img.get_pixel(x, y).0[0]
    };
    let down: Vec<&PenSample> = samples.iter().filter(|p| p.pressure > 0.0).collect();
    for p in &down {
        assert!(at(p) < 128, "no ink under the pen at ({}, {})", p.x, p.y);
    }
    // Where the pen hovered more than 3 mm away from any ink, the paper is white.
    let far = 3.0 * GEOMETRY.units_per_mm;
    let mut checked = 0;
    for p in samples.iter().filter(|p| p.pressure == 0.0) {
        let near_ink = down.iter().any(|d| (d.x - p.x).hypot(d.y - p.y) < far);
        if !near_ink {
            assert_eq!(at(p), 255, "ink under a lifted pen at ({}, {})", p.x, p.y);
            checked += 1;
        }
    }
    assert!(checked > 0, "the trace has pen-up moves away from the ink");
    let dark = img.pixels().filter(|p| p.0[0] < 128).count();
    assert!(
        dark > 500 && dark < (w * h / 4) as usize,
        "{dark} dark pixels"
    );
}
