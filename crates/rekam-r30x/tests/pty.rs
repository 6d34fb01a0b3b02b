//! The driver against the simulated module over a real pseudo-terminal: the bytes the
//! driver writes and reads are those it would exchange with a module on a USB adapter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rekam_core::{
    AnyDevice, CheckOutcome, Device, DeviceClass, DeviceError, DeviceState, DriverFactory,
    FingerPosition, FingerprintScanner, MissingFinger, MissingReason, OpenOptions, Selector,
};
use rekam_r30x::{
    LedEffect, R30X_DRIVER, R30xConfig, R30xScanner, R30xSim, SerialConnector, SimConfig, SimFault,
    SimModel, Timeouts,
};

/// Short limits, so that faults are quick to see.
fn config() -> R30xConfig {
    R30xConfig {
        timeouts: Timeouts {
            reply: Duration::from_millis(250),
            data: Duration::from_millis(250),
            retries: 2,
        },
        finger_timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(10),
        reconnect_interval: Duration::from_millis(100),
        preview_interval: Duration::from_millis(20),
        heartbeat: None,
        ..R30xConfig::default()
    }
}

async fn open_with(path: &str, config: R30xConfig) -> Result<R30xScanner, DeviceError> {
    let path = path.to_string();
    tokio::task::spawn_blocking(move || {
        R30xScanner::open("fingerprint0", Arc::new(SerialConnector::new(path)), config)
    })
    .await
    .unwrap()
}

async fn open(sim: &R30xSim) -> R30xScanner {
    open_with(sim.path(), config()).await.unwrap()
}

async fn wait_for_state(scanner: &R30xScanner, want: DeviceState, within: Duration) {
    let mut rx = scanner.watch_state();
    let r = tokio::time::timeout(within, rx.wait_for(|s| *s == want)).await;
    assert!(
        r.is_ok(),
        "state {:?} after {within:?}, expected {want:?}; reason {:?}",
        scanner.state(),
        scanner.state_reason()
    );
}

#[tokio::test]
async fn the_driver_table_opens_a_module_and_reads_its_parameters() {
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    let selector: Selector = format!("fingerprint:r30x:{}", sim.path()).parse().unwrap();
    let options = OpenOptions::new("fingerprint7").with_param("reply_timeout_ms", "300");
    let device = tokio::task::spawn_blocking(move || R30X_DRIVER.open(&selector, &options))
        .await
        .unwrap()
        .unwrap();
    let AnyDevice::Fingerprint(scanner) = device else {
        panic!("not a fingerprint scanner");
    };
    let info = scanner.info();
    assert_eq!(info.id, "fingerprint7");
    assert_eq!(info.class, DeviceClass::FingerprintScanner);
    assert_eq!(info.driver, "r30x");
    assert!(!info.simulated);
    assert_eq!(info.firmware, "system id 0x0009");
    assert_eq!(scanner.state(), DeviceState::Ready);
    assert_eq!(scanner.ppi(), 500);
    assert_eq!(scanner.positions(), FingerPosition::SINGLE.to_vec());
    assert!(scanner.has_preview());
    // VfyPwd, ReadSysPara, and the ReadProdInfo probe an R307 does not know.
    assert_eq!(sim.stats().commands, 3);
}

#[tokio::test]
async fn an_r503_tells_its_product_and_lights_its_ring() {
    let sim = R30xSim::spawn(SimConfig {
        model: SimModel::R503,
        seed: 0xABCD,
        ..SimConfig::fast()
    })
    .unwrap();
    let scanner = open(&sim).await;
    let id = scanner.identity();
    let product = id.product.as_ref().unwrap();
    assert_eq!(product.model, "R503");
    assert_eq!((product.width, product.height), (192, 192));
    assert!(id.led);
    assert_eq!(scanner.info().model, "R503");
    assert_eq!(scanner.info().serial, "0000ABCD");
    assert_eq!(scanner.ppi(), 508);
    assert_eq!(id.params.library_size, 200);

    sim.place_finger();
    let cap = scanner
        .capture(FingerPosition::LeftThumb, &[])
        .await
        .unwrap();
    assert_eq!((cap.image.width, cap.image.height), (192, 192));
    assert_eq!(cap.image.ppi, 508);
    // The light ends off after a capture.
    assert_eq!(sim.led().unwrap().effect, LedEffect::Off);
}

#[tokio::test]
async fn a_capture_waits_for_the_finger_and_uploads_its_image() {
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    let scanner = open(&sim).await;
    let started = Instant::now();
    sim.place_finger_after(Duration::from_millis(300));
    let cap = scanner
        .capture(FingerPosition::RightIndex, &[])
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(cap.position, FingerPosition::RightIndex);
    assert_eq!((cap.image.width, cap.image.height), (256, 288));
    assert_eq!(cap.image.ppi, 500);
    // Exactly what the module sent, decoded 4 → 8 bits.
    assert_eq!(cap.image.pixels, sim.last_image().unwrap());
    // A fingerprint: dark ridges and a light background, 16 grey levels.
    let dark = cap.image.pixels.iter().filter(|&&v| v < 96).count();
    let light = cap.image.pixels.iter().filter(|&&v| v > 200).count();
    assert!(dark > 5000 && light > 5000, "dark {dark} light {light}");
    assert!(cap.image.pixels.iter().all(|v| v >> 4 == v & 0x0F));
    assert_eq!(scanner.state(), DeviceState::Ready);
    assert_eq!(scanner.stats().errors(), 0);
    assert_eq!(sim.stats().uploads, 1);
}

#[tokio::test]
async fn no_finger_is_a_timeout_that_says_what_to_do() {
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    let scanner = open_with(
        sim.path(),
        R30xConfig {
            finger_timeout: Duration::from_millis(400),
            ..config()
        },
    )
    .await
    .unwrap();
    let started = Instant::now();
    let e = scanner
        .capture(FingerPosition::LeftIndex, &[])
        .await
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(
        matches!(&e, DeviceError::Timeout(m) if m.contains("no finger")),
        "{e:?}"
    );
    assert_eq!(scanner.state(), DeviceState::Ready);
    // Not a line error.
    assert_eq!(scanner.stats().errors(), 0);
}

#[tokio::test]
async fn slaps_and_missing_fingers_are_refused() {
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    let scanner = open(&sim).await;
    assert!(matches!(
        scanner.capture(FingerPosition::RightFour, &[]).await,
        Err(DeviceError::Unsupported(_))
    ));
    let gone = |position| MissingFinger {
        position,
        reason: MissingReason::Amputated,
    };
    assert!(matches!(
        scanner
            .capture(FingerPosition::RightIndex, &[gone(FingerPosition::RightIndex)])
            .await,
        Err(DeviceError::InvalidArgument(m)) if m.contains("missing")
    ));
    assert!(matches!(
        scanner
            .capture(
                FingerPosition::RightIndex,
                &[gone(FingerPosition::LeftRing)]
            )
            .await,
        Err(DeviceError::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn a_damaged_packet_is_asked_again() {
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    let scanner = open(&sim).await;
    sim.place_finger();
    sim.inject(SimFault::BadChecksum);
    let cap = scanner
        .capture(FingerPosition::RightThumb, &[])
        .await
        .unwrap();
    assert_eq!(cap.image.pixels, sim.last_image().unwrap());
    let s = scanner.stats();
    assert_eq!(s.checksum_errors, 1, "{s}");
    assert!(s.retries >= 1, "{s}");
    assert_eq!(scanner.state(), DeviceState::Ready);
}

#[tokio::test]
async fn line_noise_is_skipped_up_to_the_next_header() {
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    let scanner = open(&sim).await;
    sim.inject(SimFault::Garbage);
    assert!(!scanner.finger_present().await.unwrap());
    let s = scanner.stats();
    assert!(s.resyncs >= 2 && s.skipped_bytes >= 10, "{s}");
    // Nothing had to be asked again.
    assert_eq!((s.checksum_errors, s.timeouts, s.retries), (0, 0, 0), "{s}");
}

#[tokio::test]
async fn damaged_packets_that_keep_coming_are_a_clear_error_after_bounded_retries() {
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    let scanner = open(&sim).await;
    let before = sim.stats().commands;
    sim.inject(SimFault::BadChecksums);
    let e = scanner.finger_present().await.unwrap_err();
    assert!(
        matches!(&e, DeviceError::Protocol(m) if m.contains("damaged packets") && m.contains("cable")),
        "{e:?}"
    );
    // Sent once and retried twice.
    assert_eq!(sim.stats().commands - before, 3);
    sim.clear_faults();
    assert!(!scanner.finger_present().await.unwrap());
}

#[tokio::test]
async fn a_silent_module_times_out_clearly_then_counts_as_gone_and_comes_back() {
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    let scanner = open(&sim).await;
    sim.inject(SimFault::Silence);
    let started = Instant::now();
    let e = scanner.finger_present().await.unwrap_err();
    // Three attempts of 250 ms.
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert!(
        matches!(&e, DeviceError::Timeout(m) if m.contains("did not answer") && m.contains("power")),
        "{e:?}"
    );
    assert_eq!(scanner.state(), DeviceState::Ready);
    // The second unanswered command: the module counts as gone.
    assert!(scanner.finger_present().await.is_err());
    assert_eq!(scanner.state(), DeviceState::Disconnected);
    assert!(
        scanner
            .state_reason()
            .unwrap()
            .contains("stopped answering")
    );
    assert!(matches!(
        scanner.capture(FingerPosition::RightIndex, &[]).await,
        Err(DeviceError::Disconnected { .. })
    ));
    // Power back: the driver finds it by itself.
    sim.clear_faults();
    wait_for_state(&scanner, DeviceState::Ready, Duration::from_secs(5)).await;
    sim.place_finger();
    scanner
        .capture(FingerPosition::RightIndex, &[])
        .await
        .unwrap();
    let s = scanner.stats();
    assert_eq!((s.disconnects, s.reconnects), (1, 1), "{s}");
    assert_eq!(s.timeouts, 6, "{s}");
}

#[tokio::test]
async fn a_truncated_upload_is_asked_again() {
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    let scanner = open(&sim).await;
    sim.place_finger();
    sim.inject(SimFault::TruncatedUpload);
    let cap = scanner
        .capture(FingerPosition::LeftMiddle, &[])
        .await
        .unwrap();
    assert_eq!(cap.image.pixels, sim.last_image().unwrap());
    assert_eq!(sim.stats().uploads, 2);
    let s = scanner.stats();
    assert_eq!((s.timeouts, s.retries), (1, 1), "{s}");
}

#[tokio::test]
async fn an_upload_cut_short_every_time_is_a_clear_error() {
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    let scanner = open_with(
        sim.path(),
        R30xConfig {
            timeouts: Timeouts {
                retries: 0,
                ..config().timeouts
            },
            ..config()
        },
    )
    .await
    .unwrap();
    sim.place_finger();
    sim.inject(SimFault::TruncatedUpload);
    let e = scanner
        .capture(FingerPosition::LeftMiddle, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DeviceError::Timeout(m) if m.contains("uploading the image")),
        "{e:?}"
    );
    // The line itself is fine: the next capture works.
    scanner
        .capture(FingerPosition::LeftMiddle, &[])
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unplug_disconnects_and_a_replug_on_the_same_link_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("usb-R30x-if00");
    let sim = R30xSim::spawn(SimConfig {
        link: Some(link.clone()),
        ..SimConfig::fast()
    })
    .unwrap();
    let scanner = open_with(
        link.to_str().unwrap(),
        R30xConfig {
            heartbeat: Some(Duration::from_millis(100)),
            ..config()
        },
    )
    .await
    .unwrap();
    assert_eq!(scanner.state(), DeviceState::Ready);

    sim.unplug();
    assert!(link.symlink_metadata().is_err());
    // Noticed by the idle heartbeat, without an operation.
    wait_for_state(&scanner, DeviceState::Disconnected, Duration::from_secs(5)).await;
    assert!(matches!(
        scanner.finger_present().await,
        Err(DeviceError::Disconnected { .. })
    ));
    let report = scanner.self_test().await;
    assert!(!report.passed());
    assert_eq!(report.checks[0].name, "link");
    assert!(
        report.checks[0].detail.contains("no serial port"),
        "{}",
        report.checks[0].detail
    );

    // Plugged in again (a new pty behind the same by-id link).
    let sim2 = R30xSim::spawn(SimConfig {
        link: Some(link.clone()),
        seed: 9,
        ..SimConfig::fast()
    })
    .unwrap();
    wait_for_state(&scanner, DeviceState::Ready, Duration::from_secs(5)).await;
    sim2.place_finger();
    let cap = scanner
        .capture(FingerPosition::RightIndex, &[])
        .await
        .unwrap();
    assert_eq!(cap.image.pixels, sim2.last_image().unwrap());
    let s = scanner.stats();
    assert_eq!((s.disconnects, s.reconnects), (1, 1), "{s}");
}

#[tokio::test]
async fn a_cancelled_capture_stops_polling_and_leaves_the_scanner_ready() {
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    let scanner = open(&sim).await;
    let r = tokio::time::timeout(
        Duration::from_millis(200),
        scanner.capture(FingerPosition::RightIndex, &[]),
    )
    .await;
    assert!(r.is_err(), "the capture should still be waiting");
    assert_eq!(scanner.state(), DeviceState::Ready);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let polls = sim.stats().commands;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sim.stats().commands, polls, "GenImg still polled");
    sim.place_finger();
    scanner
        .capture(FingerPosition::RightIndex, &[])
        .await
        .unwrap();
}

#[tokio::test]
async fn the_preview_shows_the_finger_when_it_is_there() {
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    let scanner = open(&sim).await;
    let mut preview = scanner.preview(FingerPosition::RightIndex);
    let first = preview.next().await.unwrap().unwrap();
    assert!(!first.finger_present);
    assert_eq!((first.image.width, first.image.height), (128, 144));
    assert!(first.image.pixels.iter().all(|&v| v == 255));
    sim.place_finger();
    let mut seen = None;
    for _ in 0..20 {
        let f = preview.next().await.unwrap().unwrap();
        if f.finger_present {
            seen = Some(f);
            break;
        }
    }
    let f = seen.expect("no frame with the finger");
    assert_eq!((f.image.width, f.image.height), (128, 144));
    assert!(f.image.pixels.iter().any(|&v| v < 128));
    assert!(f.sequence >= 1);
}

#[tokio::test]
async fn the_self_test_reports_latency_parameters_and_packet_errors() {
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    let scanner = open(&sim).await;
    let report = scanner.self_test().await;
    assert!(report.passed(), "{report:?}");
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["handshake", "parameters", "sensor", "packet errors"]
    );
    assert!(report.checks[0].detail.contains("VfyPwd answered in"));
    assert!(report.checks[1].detail.contains("57600 baud"));
    assert!(report.checks[1].detail.contains("system id 0x0009"));
    assert_eq!(report.checks[3].outcome, CheckOutcome::Pass);

    sim.inject(SimFault::BadChecksum);
    sim.inject(SimFault::Garbage);
    let report = scanner.self_test().await;
    let errors = &report.checks[3];
    assert_ne!(errors.outcome, CheckOutcome::Pass, "{errors:?}");
    assert!(
        errors.detail.contains("1 checksum errors"),
        "{}",
        errors.detail
    );
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_the_fix() {
    let sim = R30xSim::spawn(SimConfig {
        password: 0x1234_5678,
        ..SimConfig::fast()
    })
    .unwrap();
    let e = open_with(sim.path(), config()).await.unwrap_err();
    assert!(
        matches!(&e, DeviceError::PermissionDenied { help, .. } if help.contains("option password")),
        "{e:?}"
    );
    let scanner = open_with(
        sim.path(),
        R30xConfig {
            password: 0x1234_5678,
            ..config()
        },
    )
    .await
    .unwrap();
    assert!(!scanner.finger_present().await.unwrap());
}

#[tokio::test]
async fn a_port_where_nothing_answers_is_not_opened() {
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    sim.inject(SimFault::Silence);
    let e = open_with(sim.path(), config()).await.unwrap_err();
    assert!(
        matches!(&e, DeviceError::Timeout(m) if m.contains("no answer from a fingerprint module") && m.contains("baud")),
        "{e:?}"
    );
}

#[tokio::test]
async fn the_baud_rate_can_be_changed() {
    let sim = R30xSim::spawn(SimConfig::fast()).unwrap();
    let scanner = open(&sim).await;
    assert!(matches!(
        scanner.set_baud(50000).await,
        Err(DeviceError::InvalidArgument(_))
    ));
    scanner.set_baud(115_200).await.unwrap();
    assert_eq!(sim.baud(), 115_200);
    let report = scanner.self_test().await;
    assert!(
        report.checks[1].detail.contains("115200 baud"),
        "{report:?}"
    );
    assert_eq!(report.checks[1].outcome, CheckOutcome::Pass);
}

#[tokio::test]
async fn a_paced_module_takes_the_line_time_of_its_bytes() {
    // At 9600 baud a GenImg exchange (12 bytes each way) takes 25 ms on the line.
    let sim = R30xSim::spawn(SimConfig {
        baud: 9600,
        genimg_time: Duration::ZERO,
        ..SimConfig::default()
    })
    .unwrap();
    let scanner = open_with(
        sim.path(),
        R30xConfig {
            baud: 9600,
            ..config()
        },
    )
    .await
    .unwrap();
    let t = Instant::now();
    assert!(!scanner.finger_present().await.unwrap());
    let elapsed = t.elapsed();
    assert!(
        elapsed >= Duration::from_millis(24) && elapsed < Duration::from_millis(200),
        "{elapsed:?}"
    );
}
