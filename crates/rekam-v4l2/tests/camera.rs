//! The camera over the fake device: streaming, sharing, stills, hotplug, controls,
//! self-test. Real hardware is checked with `cargo run -p rekam-v4l2 --example
//! camera_check -- /dev/videoN` (no video device can exist on a build machine).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use futures::StreamExt;
use rekam_core::{Camera, CheckOutcome, Device, DeviceError, DeviceState, Frame};
use rekam_v4l2::controls::{
    AUTO_WHITE_BALANCE, EXPOSURE_APERTURE_PRIORITY, EXPOSURE_AUTO, FOCUS_AUTO,
};
use rekam_v4l2::fake::{FAKE_EPOCH, FakeCamera, FakeEvent, FakeSpec, Recording};
use rekam_v4l2::jpeg::{scan_header, yuyv_to_rgb};
use rekam_v4l2::{
    Applied, FormatChoice, FourCc, Fraction, PreviewTarget, StreamFormat, V4l2Camera, V4l2Config,
};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

fn config() -> V4l2Config {
    V4l2Config {
        preview: PreviewTarget {
            width: 320,
            height: 240,
            fps: 30,
        },
        reconnect_interval: Duration::from_millis(20),
        linger: Duration::ZERO,
        still_skip_frames: 2,
        ..V4l2Config::default()
    }
}

fn open(cam: &FakeCamera, config: V4l2Config) -> V4l2Camera {
    V4l2Camera::with_opener("camera0", cam.opener(), config, "Fake", "").unwrap()
}

fn decode(f: &Frame) -> image::RgbImage {
    image::load_from_memory_with_format(&f.jpeg, image::ImageFormat::Jpeg)
        .unwrap()
        .to_rgb8()
}

async fn next(
    s: &mut futures::stream::BoxStream<'static, Result<Frame, DeviceError>>,
) -> Result<Frame, DeviceError> {
    timeout(WAIT, s.next())
        .await
        .expect("a frame in time")
        .expect("the stream goes on")
}

async fn wait_state(cam: &V4l2Camera, want: DeviceState) {
    let mut rx = cam.watch_state();
    timeout(WAIT, rx.wait_for(|s| *s == want))
        .await
        .unwrap_or_else(|_| panic!("never {want:?}, still {:?}", cam.state()))
        .unwrap();
}

fn fmt(fourcc: FourCc, width: u32, height: u32, fps: u32) -> StreamFormat {
    StreamFormat {
        fourcc,
        width,
        height,
        interval: Fraction::per_second(fps),
    }
}

/// Frames stream with their sequence numbers and the driver's timestamps; AVI1 MJPEG
/// frames come out with Huffman tables.
#[tokio::test]
async fn mjpeg_preview_streams_numbered_timestamped_frames() {
    let mut spec = FakeSpec::small();
    let rec = Recording::mjpeg_ramp(320, 240, 3, false);
    spec.recordings.push(rec.clone());
    let cam = FakeCamera::new(spec);
    let camera = open(&cam, config());
    assert_eq!(camera.preview_formats().len(), 1);
    assert_eq!(camera.preview_formats()[0].width, 320);
    assert_eq!(camera.preview_formats()[0].frames_per_second, 30.0);
    assert_eq!(camera.still_resolution(), Some((640, 480)));

    let mut s = camera.preview();
    let interval = Fraction::per_second(30).duration();
    let mut last = None;
    for _ in 0..8 {
        let f = next(&mut s).await.unwrap();
        assert_eq!((f.width, f.height), (320, 240));
        // The driver's timestamp of its frame number (the fake's clock).
        assert_eq!(
            f.at,
            SystemTime::UNIX_EPOCH + FAKE_EPOCH + interval * f.sequence as u32
        );
        if let Some(prev) = last {
            assert!(f.sequence > prev, "{} after {prev}", f.sequence);
        } else {
            assert_eq!(f.sequence, 0);
        }
        last = Some(f.sequence);
        assert!(scan_header(&f.jpeg).unwrap().has_dht);
        let img = decode(&f);
        assert_eq!(img.dimensions(), (320, 240));
        // The recorded frame it came from: the same bytes, with the tables before the scan.
        let raw = &rec.frames[f.sequence as usize % 3];
        assert_eq!(
            f.jpeg.len(),
            raw.len() + rekam_v4l2::jpeg::standard_dht_segment().len()
        );
        assert!(f.jpeg.ends_with(&raw[raw.len() - 64..]));
    }
    assert_eq!(
        camera.state(),
        DeviceState::Ready,
        "a preview does not make it busy"
    );
}

/// YUYV frames are encoded; their pixels are the YUYV conversion's.
#[tokio::test]
async fn yuyv_preview_is_encoded() {
    let mut spec = FakeSpec::small();
    let rec = Recording::yuyv_ramp(320, 240, 2);
    spec.recordings.push(rec.clone());
    let cam = FakeCamera::new(spec);
    let camera = open(
        &cam,
        V4l2Config {
            format: FormatChoice::Yuyv,
            jpeg_quality: 95,
            ..config()
        },
    );
    let mut s = camera.preview();
    let f = next(&mut s).await.unwrap();
    let img = decode(&f);
    let want = yuyv_to_rgb(&rec.frames[f.sequence as usize % 2], 320, 240, 0).unwrap();
    for (x, y) in [(4u32, 4u32), (100, 50), (200, 120), (310, 230)] {
        let got = img.get_pixel(x, y).0;
        let i = ((y * 320 + x) * 3) as usize;
        for c in 0..3 {
            let d = (i32::from(got[c]) - i32::from(want[i + c])).abs();
            assert!(d <= 8, "({x},{y}): {got:?} vs {:?}", &want[i..i + 3]);
        }
    }
    assert!(
        cam.events()
            .contains(&FakeEvent::SetFormat(fmt(FourCc::YUYV, 320, 240, 30)))
    );
}

/// A second preview shares the running stream, numbered from 0; the stream stops when both
/// are dropped.
#[tokio::test]
async fn a_second_preview_shares_the_stream() {
    let cam = FakeCamera::new(FakeSpec::small());
    let camera = open(&cam, config());
    let mut a = camera.preview();
    let fa = next(&mut a).await.unwrap();
    assert_eq!(fa.sequence, 0);
    let mut b = camera.preview();
    let fb = next(&mut b).await.unwrap();
    assert_eq!(fb.sequence, 0);
    // Both keep getting frames.
    for _ in 0..3 {
        next(&mut a).await.unwrap();
        next(&mut b).await.unwrap();
    }
    let ons = |c: &FakeCamera| {
        c.events()
            .iter()
            .filter(|e| **e == FakeEvent::StreamOn)
            .count()
    };
    assert_eq!(ons(&cam), 1);
    drop(a);
    drop(b);
    // With no linger, the stream stops once nobody watches.
    timeout(WAIT, async {
        while cam.events().last() != Some(&FakeEvent::StreamOff) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
}

/// A still switches to the largest format and back, and the preview goes on.
#[tokio::test]
async fn still_switches_format_and_back() {
    let cam = FakeCamera::new(FakeSpec::small());
    let camera = open(&cam, config());
    let mut s = camera.preview();
    next(&mut s).await.unwrap();
    let before = cam.events().len();

    let still = timeout(WAIT, camera.capture_still())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((still.width, still.height), (640, 480));
    assert_eq!(still.sequence, 0);
    assert_eq!(decode(&still).dimensions(), (640, 480));
    assert_eq!(camera.state(), DeviceState::Ready);

    // The preview resumes in its own format, its numbers going on.
    let mut f = next(&mut s).await.unwrap();
    while f.width != 320 {
        f = next(&mut s).await.unwrap();
    }
    assert_eq!((f.width, f.height), (320, 240));
    assert!(f.sequence > 0);
    let after: Vec<FakeEvent> = cam.events()[before..].to_vec();
    assert_eq!(
        after,
        vec![
            FakeEvent::StreamOff,
            FakeEvent::SetFormat(fmt(FourCc::MJPG, 640, 480, 30)),
            FakeEvent::StreamOn,
            FakeEvent::StreamOff,
            FakeEvent::SetFormat(fmt(FourCc::MJPG, 320, 240, 30)),
            FakeEvent::StreamOn,
        ]
    );
}

/// Without a preview, a still leaves the camera idle in its preview format.
#[tokio::test]
async fn still_without_preview() {
    let cam = FakeCamera::new(FakeSpec::small());
    let camera = open(&cam, config());
    let before = cam.events().len();
    let delivered = cam.delivered();
    let still = camera.capture_still().await.unwrap();
    assert_eq!((still.width, still.height), (640, 480));
    // Two frames skipped while exposure settles, then the still.
    assert_eq!(cam.delivered() - delivered, 3);
    assert_eq!(
        cam.events()[before..].to_vec(),
        vec![
            FakeEvent::SetFormat(fmt(FourCc::MJPG, 640, 480, 30)),
            FakeEvent::StreamOn,
            FakeEvent::StreamOff,
            FakeEvent::SetFormat(fmt(FourCc::MJPG, 320, 240, 30)),
        ]
    );
}

/// A still whose frames are all broken times out; the camera goes back to its preview
/// format and stays usable.
#[tokio::test]
async fn a_still_of_broken_frames_times_out() {
    let mut spec = FakeSpec::small();
    spec.recordings.push(Recording {
        fourcc: FourCc::MJPG,
        width: 640,
        height: 480,
        frames: vec![vec![0u8; 1000]],
    });
    let cam = FakeCamera::new(spec);
    let camera = open(
        &cam,
        V4l2Config {
            frame_timeout: Duration::from_millis(200),
            ..config()
        },
    );
    let e = camera.capture_still().await.unwrap_err();
    assert!(matches!(e, DeviceError::Timeout(_)), "{e}");
    assert_eq!(camera.state(), DeviceState::Ready);
    assert_eq!(
        cam.events().last(),
        Some(&FakeEvent::SetFormat(fmt(FourCc::MJPG, 320, 240, 30)))
    );
    let mut s = camera.preview();
    assert_eq!(next(&mut s).await.unwrap().width, 320);
}

/// Unplugged mid-stream: the preview ends with Disconnected, the device is Disconnected;
/// plugged back, it is reopened (controls set again) and Ready.
#[tokio::test]
async fn hotplug_mid_stream() {
    let cam = FakeCamera::new(FakeSpec::small());
    let camera = open(&cam, config());
    let mut s = camera.preview();
    next(&mut s).await.unwrap();
    cam.vanish_after(4);
    let end = loop {
        match next(&mut s).await {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert_eq!(
        end,
        DeviceError::Disconnected {
            device: "camera0".into()
        }
    );
    assert!(
        timeout(WAIT, s.next()).await.unwrap().is_none(),
        "the stream ends"
    );
    wait_state(&camera, DeviceState::Disconnected).await;
    assert!(camera.state_reason().is_some());
    assert!(matches!(
        camera.capture_still().await,
        Err(DeviceError::Disconnected { .. })
    ));
    let mut p = camera.preview();
    assert!(matches!(
        next(&mut p).await,
        Err(DeviceError::Disconnected { .. })
    ));
    let report = camera.self_test().await;
    assert_eq!(report.checks[0].outcome, CheckOutcome::Fail);

    let opens = |c: &FakeCamera| {
        c.events()
            .iter()
            .filter(|e| **e == FakeEvent::Opened)
            .count()
    };
    assert_eq!(opens(&cam), 1);
    cam.plug();
    wait_state(&camera, DeviceState::Ready).await;
    assert_eq!(opens(&cam), 2);
    assert_eq!(camera.state_reason(), None);
    let mut s = camera.preview();
    let f = next(&mut s).await.unwrap();
    assert_eq!((f.width, f.height, f.sequence), (320, 240, 0));
}

/// Unplugged while idle: noticed without any request.
#[tokio::test]
async fn hotplug_while_idle() {
    let cam = FakeCamera::new(FakeSpec::small());
    let camera = open(&cam, config());
    cam.unplug();
    wait_state(&camera, DeviceState::Disconnected).await;
    cam.plug();
    wait_state(&camera, DeviceState::Ready).await;
    assert_eq!(camera.capture_still().await.unwrap().width, 640);
}

/// Controls are set at open where the camera has them.
#[tokio::test]
async fn controls_are_set_at_open() {
    let cam = FakeCamera::new(FakeSpec::small());
    let camera = open(&cam, config());
    let applied: Vec<(u32, Applied)> = camera
        .controls()
        .into_iter()
        .map(|c| (c.id, c.applied))
        .collect();
    assert_eq!(
        applied,
        vec![
            (EXPOSURE_AUTO, Applied::Set(EXPOSURE_APERTURE_PRIORITY)),
            (FOCUS_AUTO, Applied::Set(1)),
            (AUTO_WHITE_BALANCE, Applied::Set(1)),
        ]
    );
    assert_eq!(cam.control(EXPOSURE_AUTO), Some(EXPOSURE_APERTURE_PRIORITY));
    let report = camera.self_test().await;
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["device", "formats", "controls", "frames"]);
    assert!(
        report
            .checks
            .iter()
            .all(|c| c.outcome == CheckOutcome::Pass),
        "{report:?}"
    );
    assert!(
        report.checks[1].detail.contains("MJPG 320x240 at 30 fps"),
        "{report:?}"
    );
}

/// A camera that stops sending frames ends the preview with a timeout.
#[tokio::test]
async fn a_silent_camera_times_out() {
    let mut spec = FakeSpec::small();
    spec.pace = Duration::from_secs(3600);
    let cam = FakeCamera::new(spec);
    let camera = open(
        &cam,
        V4l2Config {
            frame_timeout: Duration::from_millis(200),
            ..config()
        },
    );
    let mut s = camera.preview();
    assert!(matches!(next(&mut s).await, Err(DeviceError::Timeout(_))));
    assert!(timeout(WAIT, s.next()).await.unwrap().is_none());
    assert_eq!(camera.state(), DeviceState::Ready);
}
