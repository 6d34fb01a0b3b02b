//! Per-frame costs at 1280x720, the 60 fps target (16.7 ms a frame):
//! * `convert/*`: one frame to JPEG — YUYV straight to JPEG (what the driver does), YUYV
//!   through RGB with this crate's encoder and with the `image` crate's, and MJPEG passed
//!   through with and without Huffman tables;
//! * `pipeline/*`: the whole driver — fake device, actor thread, conversion, preview
//!   channel, async reader — per delivered frame, with the fake delivering at once.
//!
//! `cargo bench -p rekam-v4l2 --bench yuyv`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use futures::StreamExt;
use rekam_core::Camera;
use rekam_v4l2::fake::{FakeCamera, FakeMode, FakeSpec, Recording, strip_dht};
use rekam_v4l2::jpeg::{encode_rgb, encode_yuyv, mjpeg_to_jpeg, yuyv_to_rgb};
use rekam_v4l2::{FormatChoice, FourCc, PreviewTarget, V4l2Camera, V4l2Config};

const W: u32 = 1280;
const H: u32 = 720;

/// A webcam-like YUYV frame: smooth gradients with sensor noise (JPEG of a realistic size).
fn frame(seed: u32) -> Vec<u8> {
    let mut noise = 0x9E37_79B9u32 ^ seed;
    let mut f = Vec::with_capacity((W * H * 2) as usize);
    for y in 0..H {
        for x in (0..W).step_by(2) {
            let mut n = || {
                noise ^= noise << 13;
                noise ^= noise >> 17;
                noise ^= noise << 5;
                (noise % 9) as i32 - 4
            };
            let base = 40 + ((x * 150 / W + y * 40 / H) as i32);
            let y0 = (base + n()).clamp(16, 235) as u8;
            let y1 = (base + 2 + n()).clamp(16, 235) as u8;
            let u = (110 + (y * 30 / H) as i32 + n()).clamp(16, 240) as u8;
            let v = (140 - (x * 20 / W) as i32 + n()).clamp(16, 240) as u8;
            f.extend([y0, u, y1, v]);
        }
    }
    f
}

fn convert(c: &mut Criterion) {
    let yuyv = frame(1);
    let mjpeg = encode_yuyv(&yuyv, W, H, 0, 85).unwrap();
    let avi1 = strip_dht(&mjpeg);
    println!(
        "frame: {} bytes of YUYV, {} bytes of JPEG at quality 85",
        yuyv.len(),
        mjpeg.len()
    );
    let mut g = c.benchmark_group("convert");
    g.bench_function("yuyv_1280x720_to_jpeg", |b| {
        b.iter(|| encode_yuyv(black_box(&yuyv), W, H, 0, 85).unwrap())
    });
    g.bench_function("yuyv_1280x720_to_rgb", |b| {
        b.iter(|| yuyv_to_rgb(black_box(&yuyv), W, H, 0).unwrap())
    });
    g.bench_function("yuyv_1280x720_via_rgb_jpeg_encoder", |b| {
        b.iter(|| {
            let rgb = yuyv_to_rgb(black_box(&yuyv), W, H, 0).unwrap();
            encode_rgb(&rgb, W, H, 85).unwrap()
        })
    });
    g.bench_function("yuyv_1280x720_via_rgb_image_crate", |b| {
        b.iter(|| {
            let rgb = yuyv_to_rgb(black_box(&yuyv), W, H, 0).unwrap();
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
                .encode(&rgb, W, H, image::ExtendedColorType::Rgb8)
                .unwrap();
            out
        })
    });
    g.bench_function("mjpeg_1280x720_pass_through", |b| {
        b.iter(|| mjpeg_to_jpeg(black_box(&mjpeg)).unwrap())
    });
    g.bench_function("mjpeg_1280x720_avi1_insert_dht", |b| {
        b.iter(|| mjpeg_to_jpeg(black_box(&avi1)).unwrap())
    });
    g.finish();
}

fn camera(fourcc: FourCc) -> (FakeCamera, V4l2Camera) {
    let frames: Vec<Vec<u8>> = (0..4).map(frame).collect();
    let recording = if fourcc == FourCc::YUYV {
        Recording {
            fourcc,
            width: W,
            height: H,
            frames,
        }
    } else {
        Recording {
            fourcc,
            width: W,
            height: H,
            frames: frames
                .iter()
                .map(|f| strip_dht(&encode_yuyv(f, W, H, 0, 85).unwrap()))
                .collect(),
        }
    };
    let spec = FakeSpec {
        card: "bench".into(),
        modes: vec![FakeMode {
            fourcc,
            width: W,
            height: H,
            fps: vec![60],
        }],
        controls: Vec::new(),
        recordings: vec![recording],
        pace: Duration::ZERO,
        wall_clock: false,
    };
    let fake = FakeCamera::new(spec);
    let config = V4l2Config {
        preview: PreviewTarget {
            width: W,
            height: H,
            fps: 60,
        },
        format: FormatChoice::Auto,
        ..V4l2Config::default()
    };
    let cam = V4l2Camera::with_opener("camera0", fake.opener(), config, "", "").unwrap();
    (fake, cam)
}

fn pipeline(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("pipeline");
    g.measurement_time(Duration::from_secs(8));
    for (name, fourcc) in [
        ("mjpeg_1280x720_per_frame", FourCc::MJPG),
        ("yuyv_1280x720_per_frame", FourCc::YUYV),
    ] {
        let (_fake, cam) = camera(fourcc);
        let mut stream = cam.preview();
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let t = Instant::now();
                    for _ in 0..iters {
                        let f = stream.next().await.unwrap().unwrap();
                        black_box(f.jpeg.len());
                    }
                    t.elapsed()
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, convert, pipeline);
criterion_main!(benches);
