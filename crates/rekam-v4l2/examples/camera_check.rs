//! The V4L2 driver on a real camera, for a technician or a developer with one plugged in
//! (no video device can exist on a build machine, so this is not a test of the suite):
//! opens the camera through the driver, streams two seconds of preview (printing the
//! rate), takes a still and self-tests. Exits non-zero when any of it fails.
//!
//! `cargo run -p rekam-v4l2 --example camera_check -- /dev/video0`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use rekam_core::{AnyDevice, DriverFactory, OpenOptions, Selector};

#[tokio::main]
async fn main() {
    let node = std::env::args()
        .nth(1)
        .expect("give the camera's device node, e.g. /dev/video0");
    let selector: Selector = format!("camera:v4l2:{node}").parse().unwrap();
    let dev = rekam_v4l2::V4L2_DRIVER
        .open(&selector, &OpenOptions::new("camera0"))
        .unwrap();
    let AnyDevice::Camera(camera) = dev else {
        panic!("not a camera")
    };
    println!("{:?}", camera.info());
    println!(
        "preview {:?}, still {:?}",
        camera.preview_formats(),
        camera.still_resolution()
    );
    let mut s = camera.preview();
    let started = Instant::now();
    let (mut n, mut bytes) = (0u32, 0usize);
    while started.elapsed() < Duration::from_secs(2) {
        let f = tokio::time::timeout(Duration::from_secs(5), s.next())
            .await
            .expect("a frame within 5 s")
            .expect("the preview goes on")
            .unwrap();
        image::load_from_memory_with_format(&f.jpeg, image::ImageFormat::Jpeg).unwrap();
        bytes += f.jpeg.len();
        n += 1;
    }
    println!(
        "{n} frames in {:?}: {:.1} fps, {} bytes a frame",
        started.elapsed(),
        f64::from(n) / started.elapsed().as_secs_f64(),
        bytes / n.max(1) as usize
    );
    let still = camera.capture_still().await.unwrap();
    println!(
        "still {}x{}, {} bytes",
        still.width,
        still.height,
        still.jpeg.len()
    );
    drop(s);
    let report = camera.self_test().await;
    for c in &report.checks {
        println!("{:?} {}: {}", c.outcome, c.name, c.detail);
    }
    assert!(report.passed(), "the self-test failed");
}
