//! Behaviour of the simulated fingerprint scanner.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use rekam_core::sim::Timing;
use rekam_core::{
    CheckOutcome, Device, DeviceState, ErrorKind, FingerPosition, FingerprintScanner, GreyImage,
    MissingFinger, MissingReason,
};
use rekam_fingerprint::FingerprintSim;

fn sim(seed: u64) -> FingerprintSim {
    FingerprintSim::new("fingerprint0", seed, Timing::INSTANT)
}

fn gone(position: FingerPosition) -> MissingFinger {
    MissingFinger {
        position,
        reason: MissingReason::Amputated,
    }
}

/// Pixels darker than 128 in the rectangle x0..x1, y0..y1.
fn dark_pixels(img: &GreyImage, x0: u32, x1: u32, y0: u32, y1: u32) -> usize {
    let mut n = 0;
    for y in y0..y1.min(img.height) {
        for x in x0..x1.min(img.width) {
            if img.pixels[(y * img.width + x) as usize] < 128 {
                n += 1;
            }
        }
    }
    n
}

fn to_gray(img: &GreyImage) -> image::GrayImage {
    image::GrayImage::from_raw(img.width, img.height, img.pixels.clone()).unwrap()
}

#[tokio::test]
async fn identity_says_it_is_a_simulator() {
    let s = sim(7);
    let info = s.info();
    assert_eq!(info.vendor, "rekam");
    assert_eq!(info.model, "Simulated 500 ppi 4-4-2 scanner");
    assert_eq!(info.driver, "sim");
    assert!(info.simulated);
    assert_eq!(info.serial, sim(7).info().serial);
    assert_ne!(info.serial, sim(8).info().serial);
    assert_eq!(s.state(), DeviceState::Ready);
    let names: Vec<_> = s
        .simulator()
        .unwrap()
        .faults()
        .iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(
        names,
        [
            "disconnect",
            "hardware_error",
            "poor_quality",
            "no_finger",
            "wrong_hand"
        ]
    );
}

#[tokio::test]
async fn captures_have_nominal_sizes_at_500_ppi_and_show_ridges() {
    let s = sim(1);
    for position in [
        FingerPosition::RightFour,
        FingerPosition::BothThumbs,
        FingerPosition::LeftIndex,
    ] {
        let c = s.capture(position, &[]).await.unwrap();
        assert_eq!(c.position, position);
        assert_eq!((c.image.width, c.image.height), position.nominal_size());
        assert_eq!(c.image.ppi, 500);
        assert_eq!(
            c.image.pixels.len(),
            (c.image.width * c.image.height) as usize
        );
        let dark = dark_pixels(&c.image, 0, c.image.width, 0, c.image.height);
        assert!(dark > 10_000, "{position:?}: only {dark} dark pixels");
        assert_eq!(s.state(), DeviceState::Ready);
    }
}

#[tokio::test]
async fn same_seed_same_bytes_and_impressions_vary() {
    let a = sim(42);
    let b = sim(42);
    let a1 = a.capture(FingerPosition::RightThumb, &[]).await.unwrap();
    let b1 = b.capture(FingerPosition::RightThumb, &[]).await.unwrap();
    assert_eq!(a1.image, b1.image);
    let a2 = a.capture(FingerPosition::RightThumb, &[]).await.unwrap();
    assert_ne!(a1.image, a2.image, "the second impression must differ");
    let other = sim(43)
        .capture(FingerPosition::RightThumb, &[])
        .await
        .unwrap();
    assert_ne!(a1.image, other.image);
    // The counter cycles over two variants: captures 3 and 5 repeat capture 1.
    for _ in 0..2 {
        a.capture(FingerPosition::RightThumb, &[]).await.unwrap();
    }
    let a5 = a.capture(FingerPosition::RightThumb, &[]).await.unwrap();
    assert_eq!(a5.image, a1.image);
    assert_eq!(a.captures_started(), 5);
}

#[tokio::test]
async fn missing_fingers_leave_their_slot_blank() {
    let s = sim(3);
    // Right hand: index in the first quarter, ring in the third. Check the core of the slot.
    let full = s.capture(FingerPosition::RightFour, &[]).await.unwrap();
    let cut = s
        .capture(
            FingerPosition::RightFour,
            &[
                gone(FingerPosition::RightIndex),
                gone(FingerPosition::RightRing),
            ],
        )
        .await
        .unwrap();
    let slot = |i: u32| (i * 400 + 60, i * 400 + 340);
    let (x0, x1) = slot(0);
    assert!(dark_pixels(&full.image, x0, x1, 0, 1500) > 10_000);
    assert_eq!(dark_pixels(&cut.image, x0, x1, 0, 1500), 0, "index slot");
    let (x0, x1) = slot(2);
    assert!(dark_pixels(&full.image, x0, x1, 0, 1500) > 10_000);
    assert_eq!(dark_pixels(&cut.image, x0, x1, 0, 1500), 0, "ring slot");
    for i in [1, 3] {
        let (x0, x1) = slot(i);
        assert!(
            dark_pixels(&cut.image, x0, x1, 0, 1500) > 10_000,
            "slot {i}"
        );
    }

    // Thumbs: the left thumb is on the image's left.
    let thumbs = s
        .capture(
            FingerPosition::BothThumbs,
            &[gone(FingerPosition::LeftThumb)],
        )
        .await
        .unwrap();
    assert_eq!(dark_pixels(&thumbs.image, 100, 700, 0, 1500), 0);
    assert!(dark_pixels(&thumbs.image, 900, 1500, 0, 1500) > 10_000);
}

#[tokio::test]
async fn wrong_missing_fingers_are_invalid_arguments() {
    let s = sim(3);
    let e = s
        .capture(
            FingerPosition::RightFour,
            &[gone(FingerPosition::LeftIndex)],
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = s
        .capture(
            FingerPosition::RightThumb,
            &[gone(FingerPosition::RightThumb)],
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("nothing to capture"), "{e}");
    assert_eq!(s.state(), DeviceState::Ready);
    assert_eq!(s.captures_started(), 0);
}

#[tokio::test]
async fn disconnect_and_hardware_error_then_clear() {
    let s = sim(5);
    let ctl = s.simulator().unwrap();
    assert_eq!(
        ctl.inject("nonsense").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );

    ctl.inject("disconnect").unwrap();
    assert_eq!(s.state(), DeviceState::Disconnected);
    let e = s.capture(FingerPosition::LeftThumb, &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    let mut preview = s.preview(FingerPosition::LeftThumb);
    assert_eq!(
        preview.next().await.unwrap().unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    assert!(
        preview.next().await.is_none(),
        "the stream ends after an error"
    );
    let report = s.self_test().await;
    assert!(!report.passed());
    let usb = report.checks.iter().find(|c| c.name == "usb").unwrap();
    assert_eq!(usb.outcome, CheckOutcome::Fail);
    ctl.clear();
    assert_eq!(s.state(), DeviceState::Ready);
    assert!(ctl.active_faults().is_empty());

    ctl.inject("hardware_error").unwrap();
    assert!(matches!(s.state(), DeviceState::Error(_)));
    let e = s.capture(FingerPosition::LeftThumb, &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Hardware);
    let report = s.self_test().await;
    let sensor = report.checks.iter().find(|c| c.name == "sensor").unwrap();
    assert_eq!(sensor.outcome, CheckOutcome::Fail, "{}", sensor.detail);
    ctl.clear();
    assert_eq!(s.state(), DeviceState::Ready);

    let c = s.capture(FingerPosition::LeftThumb, &[]).await.unwrap();
    assert_eq!(c.image.width, 800);
}

#[tokio::test]
async fn self_test_passes_on_a_healthy_scanner() {
    let s = sim(5);
    let report = s.self_test().await;
    assert_eq!(report.device_id, "fingerprint0");
    let names: Vec<_> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["sensor", "platen", "usb"]);
    assert!(report.passed(), "{report:?}");
    assert!(report.checks[0].detail.contains("std dev"));
}

#[tokio::test]
async fn a_disconnect_during_a_capture_fails_it() {
    let s = FingerprintSim::new("fingerprint0", 5, Timing::new(0.05));
    let ctl = s.simulator().unwrap();
    let capture = s.capture(FingerPosition::RightIndex, &[]);
    let unplug = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        ctl.inject("disconnect").unwrap();
    };
    let (result, ()) = tokio::join!(capture, unplug);
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Unavailable);
    assert_eq!(s.state(), DeviceState::Disconnected);
    ctl.clear();
    assert_eq!(s.state(), DeviceState::Ready);
}

#[tokio::test]
async fn poor_quality_captures_are_rejected_by_a_quality_check() {
    let s = sim(11);
    let good = s.capture(FingerPosition::RightIndex, &[]).await.unwrap();
    let good_q = rekam_quality::assess(&to_gray(&good.image));
    assert_ne!(
        good_q.verdict,
        rekam_quality::Verdict::Recapture,
        "{good_q:?}"
    );

    let ctl = s.simulator().unwrap();
    ctl.inject("poor_quality").unwrap();
    assert_eq!(s.state(), DeviceState::Ready);
    let bad = s.capture(FingerPosition::RightIndex, &[]).await.unwrap();
    let bad_q = rekam_quality::assess(&to_gray(&bad.image));
    assert_eq!(
        bad_q.verdict,
        rekam_quality::Verdict::Recapture,
        "{bad_q:?}"
    );
    assert!(bad_q.score + 20 < good_q.score);
    let platen = s.self_test().await.checks[1].clone();
    assert_eq!(platen.outcome, CheckOutcome::Warn);

    ctl.clear();
    let again = s.capture(FingerPosition::RightIndex, &[]).await.unwrap();
    let again_q = rekam_quality::assess(&to_gray(&again.image));
    assert_ne!(again_q.verdict, rekam_quality::Verdict::Recapture);
}

#[tokio::test]
async fn no_finger_waits_until_the_deadline_and_leaves_the_scanner_ready() {
    let s = sim(2);
    let ctl = s.simulator().unwrap();
    ctl.inject("no_finger").unwrap();
    let started = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_millis(150),
        s.capture(FingerPosition::LeftFour, &[]),
    )
    .await;
    assert!(r.is_err(), "the capture must not complete");
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(s.state(), DeviceState::Ready);

    // The preview shows an empty platen.
    let frames: Vec<_> = s
        .preview(FingerPosition::LeftFour)
        .take(8)
        .collect::<Vec<_>>()
        .await;
    assert!(frames.iter().all(|f| !f.as_ref().unwrap().finger_present));

    ctl.clear();
    let c = s.capture(FingerPosition::LeftFour, &[]).await.unwrap();
    assert_eq!(c.image.width, 1600);
}

#[tokio::test]
async fn clearing_no_finger_lets_a_waiting_capture_finish() {
    let s = sim(2);
    let ctl = s.simulator().unwrap();
    ctl.inject("no_finger").unwrap();
    let capture = s.capture(FingerPosition::RightLittle, &[]);
    let place = async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(s.state(), DeviceState::Busy);
        ctl.clear();
        assert_eq!(s.state(), DeviceState::Busy, "the capture still runs");
    };
    let (r, ()) = tokio::join!(capture, place);
    assert_eq!(r.unwrap().position, FingerPosition::RightLittle);
    assert_eq!(s.state(), DeviceState::Ready);
}

#[tokio::test]
async fn a_second_capture_while_one_runs_is_refused() {
    let s = sim(2);
    s.simulator().unwrap().inject("no_finger").unwrap();
    let mut first = Box::pin(s.capture(FingerPosition::RightFour, &[]));
    assert!(
        tokio::time::timeout(Duration::from_millis(20), &mut first)
            .await
            .is_err()
    );
    assert_eq!(s.state(), DeviceState::Busy);
    let e = s.capture(FingerPosition::LeftFour, &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy);
    drop(first);
    assert_eq!(s.state(), DeviceState::Ready);
}

#[tokio::test]
async fn preview_counts_frames_and_shows_the_finger_after_placement() {
    let s = sim(9);
    let frames: Vec<_> = s
        .preview(FingerPosition::RightFour)
        .take(10)
        .map(|f| f.unwrap())
        .collect()
        .await;
    let seqs: Vec<u64> = frames.iter().map(|f| f.sequence).collect();
    assert_eq!(seqs, (0..10).collect::<Vec<_>>());
    assert!(!frames[0].finger_present);
    assert!(frames[9].finger_present);
    let first_present = frames.iter().position(|f| f.finger_present).unwrap();
    assert!((2..=6).contains(&first_present));
    assert!(frames[first_present..].iter().all(|f| f.finger_present));
    for f in &frames {
        assert_eq!(
            (f.image.width, f.image.height, f.image.ppi),
            (400, 375, 125)
        );
    }
    let empty = &frames[0].image;
    let placed = &frames[9].image;
    assert_eq!(dark_pixels(empty, 0, 400, 0, 375), 0);
    assert!(dark_pixels(placed, 0, 400, 0, 375) > 1000);
    // A preview does not hold the scanner: a capture may run beside it.
    assert_eq!(s.state(), DeviceState::Ready);
}

#[tokio::test]
async fn preview_paces_frames_at_about_ten_per_second() {
    let s = FingerprintSim::new("fingerprint0", 9, Timing::new(0.2));
    let started = Instant::now();
    let n = s.preview(FingerPosition::LeftIndex).take(6).count().await;
    assert_eq!(n, 6);
    // Five periods of 100 ms scaled by 0.2.
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn captures_take_their_nominal_time_scaled() {
    let s = FingerprintSim::new("fingerprint0", 9, Timing::new(0.05));
    let mut states = s.watch_state();
    let started = Instant::now();
    s.capture(FingerPosition::LeftMiddle, &[]).await.unwrap();
    // 1.5 s placement + 0.3 s scan, times 0.05.
    assert!(started.elapsed() >= Duration::from_millis(90));
    assert!(states.has_changed().unwrap(), "the registry saw Busy");
    assert_eq!(*states.borrow_and_update(), DeviceState::Ready);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_up_fills_the_cache() {
    let s = sim(21);
    let w = s.clone();
    tokio::task::spawn_blocking(move || w.warm_up())
        .await
        .unwrap();
    let t = Instant::now();
    for _ in 0..4 {
        for p in FingerPosition::SLAPS {
            s.capture(p, &[]).await.unwrap();
        }
    }
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "cached captures took {:?}",
        t.elapsed()
    );
}
