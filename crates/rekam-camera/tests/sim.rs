//! Behaviour of the simulated camera.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use rekam_camera::CameraSim;
use rekam_core::sim::Timing;
use rekam_core::{Camera, CheckOutcome, Device, DeviceState, ErrorKind, Frame};

fn sim(seed: u64) -> CameraSim {
    CameraSim::new("camera0", seed, Timing::INSTANT)
}

fn decode(frame: &Frame) -> image::RgbImage {
    let img = image::load_from_memory_with_format(&frame.jpeg, image::ImageFormat::Jpeg)
        .unwrap()
        .to_rgb8();
    assert_eq!(img.dimensions(), (frame.width, frame.height));
    img
}

fn mean_luma(img: &image::RgbImage) -> f64 {
    let sum: f64 = img
        .pixels()
        .map(|p| 0.299 * f64::from(p.0[0]) + 0.587 * f64::from(p.0[1]) + 0.114 * f64::from(p.0[2]))
        .sum();
    sum / f64::from(img.width() * img.height())
}

/// Reads the frame-counter bar at the bottom of a preview frame.
fn bar_value(img: &image::RgbImage) -> u64 {
    let y = img.height() - 5;
    (0..32u32).fold(0, |acc, b| {
        let v = img.get_pixel(b * 20 + 10, y).0[0];
        acc | (u64::from(v > 128) << b)
    })
}

#[tokio::test]
async fn identity_and_faults() {
    let s = sim(1);
    let info = s.info();
    assert_eq!(info.vendor, "rekam");
    assert_eq!(info.driver, "sim");
    assert!(info.simulated);
    assert_eq!(s.state(), DeviceState::Ready);
    let names: Vec<_> = s
        .simulator()
        .unwrap()
        .faults()
        .iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["disconnect", "hardware_error", "lens_covered"]);
}

#[tokio::test]
async fn stills_are_full_resolution_jpeg_and_deterministic() {
    let a = sim(4);
    let still = a.capture_still().await.unwrap();
    assert_eq!((still.width, still.height, still.sequence), (1600, 1200, 0));
    assert_eq!(&still.jpeg[..2], &[0xFF, 0xD8], "JPEG SOI marker");
    let img = decode(&still);
    let m = mean_luma(&img);
    assert!(m > 80.0, "a lit portrait, mean luma {m}");
    assert_eq!(a.state(), DeviceState::Ready);
    assert_eq!(sim(4).capture_still().await.unwrap().jpeg, still.jpeg);
    assert_ne!(sim(5).capture_still().await.unwrap().jpeg, still.jpeg);
}

#[tokio::test]
async fn preview_frames_count_move_and_repeat_across_runs() {
    let s = sim(2);
    let frames: Vec<Frame> = s.preview().take(6).map(|f| f.unwrap()).collect().await;
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.sequence, i as u64);
        assert_eq!((f.width, f.height), (640, 480));
        let img = decode(f);
        assert_eq!(bar_value(&img), i as u64, "frame counter bar of frame {i}");
    }
    // The subject moves: consecutive frames differ above the bar.
    let a = decode(&frames[1]);
    let b = decode(&frames[4]);
    let diff: u64 = a
        .rows()
        .zip(b.rows())
        .take(400)
        .flat_map(|(ra, rb)| ra.zip(rb))
        .map(|(pa, pb)| u64::from(pa.0[1].abs_diff(pb.0[1])))
        .sum();
    assert!(diff > 100_000, "frames barely differ: {diff}");
    // Deterministic.
    let again: Vec<Frame> = sim(2).preview().take(6).map(|f| f.unwrap()).collect().await;
    for (x, y) in frames.iter().zip(&again) {
        assert_eq!(x.jpeg, y.jpeg);
    }
    assert_eq!(s.state(), DeviceState::Ready);
}

#[tokio::test]
async fn preview_runs_at_about_fifteen_fps() {
    let s = CameraSim::new("camera0", 2, Timing::new(0.5));
    s.warm_up();
    let started = Instant::now();
    assert_eq!(s.preview().take(7).count().await, 7);
    // Six periods of 66.7 ms at half speed: 200 ms.
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(195), "{took:?}");
}

#[tokio::test]
async fn lens_covered_gives_dark_frames_but_captures_succeed() {
    let s = sim(3);
    let ctl = s.simulator().unwrap();
    ctl.inject("lens_covered").unwrap();
    assert_eq!(s.state(), DeviceState::Ready);
    let still = s.capture_still().await.unwrap();
    let m = mean_luma(&decode(&still));
    assert!(m < 15.0, "covered still mean luma {m}");
    let frame = s.preview().next().await.unwrap().unwrap();
    assert!(mean_luma(&decode(&frame)) < 15.0);
    let report = s.self_test().await;
    assert!(!report.passed());
    assert_eq!(report.checks[0].name, "sensor");
    assert!(
        report.checks[0].detail.contains("covered"),
        "{}",
        report.checks[0].detail
    );

    ctl.clear();
    let m = mean_luma(&decode(&s.capture_still().await.unwrap()));
    assert!(m > 80.0);
    assert!(s.self_test().await.passed());
}

#[tokio::test]
async fn disconnect_and_hardware_error_then_clear() {
    let s = sim(3);
    let ctl = s.simulator().unwrap();
    ctl.inject("disconnect").unwrap();
    assert_eq!(s.state(), DeviceState::Disconnected);
    assert_eq!(
        s.capture_still().await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    let mut preview = s.preview();
    assert_eq!(
        preview.next().await.unwrap().unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    assert!(preview.next().await.is_none());
    let report = s.self_test().await;
    let usb = report.checks.iter().find(|c| c.name == "usb").unwrap();
    assert_eq!(usb.outcome, CheckOutcome::Fail);
    ctl.clear();
    assert_eq!(s.state(), DeviceState::Ready);

    ctl.inject("hardware_error").unwrap();
    assert!(matches!(s.state(), DeviceState::Error(_)));
    assert_eq!(
        s.capture_still().await.unwrap_err().kind(),
        ErrorKind::Hardware
    );
    assert!(!s.self_test().await.passed());
    ctl.clear();
    assert_eq!(s.state(), DeviceState::Ready);
    assert!(s.capture_still().await.is_ok());
}

#[tokio::test]
async fn a_preview_stops_when_the_camera_is_unplugged() {
    let s = sim(3);
    let mut preview = s.preview();
    assert!(preview.next().await.unwrap().is_ok());
    s.simulator().unwrap().inject("disconnect").unwrap();
    assert_eq!(
        preview.next().await.unwrap().unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    assert!(preview.next().await.is_none());
}

#[tokio::test]
async fn a_second_still_while_one_runs_is_refused_and_cancelling_leaves_ready() {
    let s = CameraSim::new("camera0", 3, Timing::REAL);
    let mut first = Box::pin(s.capture_still());
    assert!(
        tokio::time::timeout(Duration::from_millis(30), &mut first)
            .await
            .is_err()
    );
    assert_eq!(s.state(), DeviceState::Busy);
    assert_eq!(s.capture_still().await.unwrap_err().kind(), ErrorKind::Busy);
    drop(first);
    assert_eq!(s.state(), DeviceState::Ready);
}

#[tokio::test]
async fn a_still_takes_about_half_a_second_scaled() {
    let s = CameraSim::new("camera0", 3, Timing::new(0.2));
    let started = Instant::now();
    s.capture_still().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(s.state(), DeviceState::Ready);
}
