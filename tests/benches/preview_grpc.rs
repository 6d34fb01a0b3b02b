//! The camera preview as front-ends see it: a 1280x720 MJPEG frame from the moment the
//! V4L2 driver dequeues it (the fake device stamps it with the wall clock then) to the
//! moment a gRPC client of `CameraService.StreamPreview` has it, through the driver's
//! actor thread (Huffman tables put back), the daemon's shared preview (`rekamd::fanout`,
//! one pipeline per camera), tonic and HTTP/2 over the Unix socket. The camera runs in
//! real time (frames due 1/fps apart on the clock) with webcam-like frames (the
//! simulator's faces, JPEG without Huffman tables, about 60 KB each).
//!
//! Two runs, each against a fresh daemon: one client at 60 fps, and four clients at 30
//! fps. For each client: frames received per second, and the age of each frame when it
//! arrives (p50, p99, max). The goals: at least 60 fps to one client, p99 under 5 ms,
//! and 30 fps to each of four.
//!
//! ```sh
//! cargo bench -p rekam-tests --bench preview_grpc              # 10 s per run
//! PREVIEW_BENCH_SECS=30 cargo bench -p rekam-tests --bench preview_grpc
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use image::ImageEncoder;
use rekam_api::pb;
use rekam_core::{
    AnyDevice, Available, DeviceClass, DeviceError, DriverFactory, DriverTable, OpenOptions,
    Selector,
};
use rekam_tests::{TestDaemon, ms, percentile};
use rekam_v4l2::fake::{FakeCamera, FakeMode, FakeSpec, Recording, strip_dht};
use rekam_v4l2::{FormatChoice, FourCc, PreviewTarget, V4l2Camera, V4l2Config};

const W: u32 = 1280;
const H: u32 = 720;

/// A driver opening the V4L2 driver over a fake device (`camera:fake-v4l2`).
struct FakeV4l2 {
    fake: FakeCamera,
    config: V4l2Config,
}

impl DriverFactory for FakeV4l2 {
    fn class(&self) -> DeviceClass {
        DeviceClass::Camera
    }
    fn name(&self) -> &'static str {
        "fake-v4l2"
    }
    fn description(&self) -> &'static str {
        "the V4L2 driver over a fake 1280x720 MJPEG webcam"
    }
    fn list(&self) -> Result<Vec<Available>, DeviceError> {
        Ok(Vec::new())
    }
    fn open(&self, _: &Selector, options: &OpenOptions) -> Result<AnyDevice, DeviceError> {
        let cam = V4l2Camera::with_opener(
            &options.id,
            self.fake.opener(),
            self.config.clone(),
            "bench",
            "0",
        )?;
        Ok(AnyDevice::Camera(Arc::new(cam)))
    }
}

/// Webcam-like MJPEG frames: the simulator's faces as JPEG without Huffman tables.
fn frames() -> Vec<Vec<u8>> {
    (0..4)
        .map(|seed| {
            let img = rekam_synth::render_face(seed, W, H).image;
            let mut jpeg = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
                .write_image(img.as_raw(), W, H, image::ExtendedColorType::Rgb8)
                .unwrap();
            strip_dht(&jpeg)
        })
        .collect()
}

/// One run: a daemon whose camera delivers `fps`, `clients` watching for `secs`.
async fn run(fps: u32, clients: usize, secs: u64, frames: &[Vec<u8>]) {
    let fake = FakeCamera::new(FakeSpec {
        card: "bench".into(),
        modes: vec![FakeMode {
            fourcc: FourCc::MJPG,
            width: W,
            height: H,
            fps: vec![fps],
        }],
        controls: Vec::new(),
        recordings: vec![Recording {
            fourcc: FourCc::MJPG,
            width: W,
            height: H,
            frames: frames.to_vec(),
        }],
        pace: Duration::from_secs_f64(1.0 / f64::from(fps)),
        wall_clock: true,
    });
    let config = V4l2Config {
        preview: PreviewTarget {
            width: W,
            height: H,
            fps,
        },
        format: FormatChoice::Auto,
        ..V4l2Config::default()
    };
    let mut drivers: Vec<&'static dyn DriverFactory> = rekamd::server::DRIVERS.to_vec();
    drivers.push(Box::leak(Box::new(FakeV4l2 { fake, config })));
    let table = DriverTable::new(Box::leak(drivers.into_boxed_slice()));
    let d = TestDaemon::start_with_drivers(
        |c| {
            for dev in &mut c.devices {
                if dev.selector.class == DeviceClass::Camera {
                    dev.selector = Selector::new(DeviceClass::Camera, "fake-v4l2");
                    dev.id = Some("camera0".into());
                }
            }
        },
        table,
    )
    .await;
    // Warm up: the stream starts and settles.
    let mut warm = d
        .camera()
        .stream_preview(pb::CameraPreviewRequest {
            name: "devices/camera0".into(),
            max_frames: 30,
        })
        .await
        .unwrap()
        .into_inner();
    while warm.next().await.is_some() {}

    let mut tasks = Vec::new();
    for _ in 0..clients {
        let mut client = d.camera();
        tasks.push(tokio::spawn(async move {
            let mut s = client
                .stream_preview(pb::CameraPreviewRequest {
                    name: "devices/camera0".into(),
                    max_frames: 0,
                })
                .await
                .unwrap()
                .into_inner();
            let mut ages = Vec::new();
            let mut bytes = 0usize;
            let start = Instant::now();
            let end = start + Duration::from_secs(secs);
            while Instant::now() < end {
                let f = s.next().await.unwrap().unwrap();
                let now = SystemTime::now();
                let at: SystemTime = f.capture_time.unwrap().try_into().unwrap();
                ages.push(now.duration_since(at).unwrap_or_default());
                bytes += f.jpeg.len();
                assert_eq!((f.width, f.height), (W, H));
            }
            (ages, bytes, start.elapsed())
        }));
    }
    let mut all = Vec::new();
    println!("{clients} client(s), camera at {fps} fps, {secs} s:");
    for (i, t) in tasks.into_iter().enumerate() {
        let (mut ages, bytes, took) = t.await.unwrap();
        ages.sort();
        println!(
            "  client {i}: {:.1} fps, {:.0} KB a frame, age p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ages.len() as f64 / took.as_secs_f64(),
            bytes as f64 / ages.len() as f64 / 1024.0,
            ms(percentile(&ages, 0.5)),
            ms(percentile(&ages, 0.99)),
            ms(*ages.last().unwrap()),
        );
        all.extend(ages);
    }
    all.sort();
    println!(
        "  all: {} frames, age p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        all.len(),
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.99)),
        ms(*all.last().unwrap()),
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("preview_grpc: run it with `cargo bench -p rekam-tests --bench preview_grpc`");
        return;
    }
    let secs: u64 = std::env::var("PREVIEW_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .max(1);
    let frames = frames();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        run(60, 1, secs, &frames).await;
        run(30, 4, secs, &frames).await;
    });
}
