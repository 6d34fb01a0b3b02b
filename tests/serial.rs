//! rekamd with its real serial drivers, each talking to a simulator on the far end of a
//! real pseudo-terminal, driven over gRPC: the R30x fingerprint module
//! (`fingerprint:r30x:PATH`, `rekam_r30x::R30xSim`) and the ISDV4 pen digitizer
//! (`signature:isdv4:PATH`, `rekam_isdv4::Isdv4Sim`). The simulators run in this process;
//! their faults are set on them directly, as a technician would pull a cable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures::StreamExt;
use rekam_api::pb;
use rekam_tests::*;
use tonic::Code;

/// A daemon whose scanner and pad are the serial drivers on the simulators' terminals.
async fn station(r30x: &rekam_r30x::R30xSim, isdv4: &rekam_isdv4::Isdv4Sim) -> TestDaemon {
    let scanner = r30x.path().to_string();
    let pad = isdv4.path().display().to_string();
    TestDaemon::start_with(move |c| {
        for dev in &mut c.devices {
            let s = dev.selector.to_string();
            if s.starts_with("fingerprint:") {
                dev.selector = format!("fingerprint:r30x:{scanner}").parse().unwrap();
                dev.id = Some("fingerprint0".into());
                dev.options
                    .insert("finger_timeout_ms".into(), "3000".into());
            } else if s.starts_with("signature:") {
                dev.selector = format!("signature:isdv4:{pad}").parse().unwrap();
                dev.id = Some("signature0".into());
                dev.options.insert("finish_ms".into(), "300".into());
                dev.options.insert("keepalive_ms".into(), "300".into());
            }
        }
    })
    .await
}

fn simulators() -> (rekam_r30x::R30xSim, rekam_isdv4::Isdv4Sim) {
    let r30x = rekam_r30x::R30xSim::spawn(rekam_r30x::SimConfig::fast()).unwrap();
    let isdv4 = rekam_isdv4::Isdv4Sim::spawn(rekam_isdv4::SimConfig {
        sign_delay: Duration::from_millis(100),
        ..rekam_isdv4::SimConfig::default()
    })
    .unwrap();
    (r30x, isdv4)
}

async fn self_test(d: &TestDaemon, id: &str) -> pb::DiagnosticReport {
    d.devices()
        .self_test(pb::SelfTestRequest {
            name: format!("devices/{id}"),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap()
}

fn capture(position: pb::FingerPosition) -> pb::CaptureFingerprintRequest {
    pb::CaptureFingerprintRequest {
        name: "devices/fingerprint0".into(),
        position: position as i32,
        missing: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_r30x_module_captures_single_fingers_over_grpc_through_its_faults() {
    let (r30x, isdv4) = simulators();
    let d = station(&r30x, &isdv4).await;
    let dev = d.device("fingerprint0").await;
    assert_eq!(dev.driver, "r30x", "{dev:?}");
    assert!(!dev.simulated);
    let Some(pb::device_capabilities::Kind::Fingerprint(caps)) =
        dev.capabilities.clone().and_then(|c| c.kind)
    else {
        panic!("no scanner capabilities: {dev:?}");
    };
    assert_eq!(caps.ppi, 500);
    let mut positions = caps.positions.clone();
    positions.sort();
    assert_eq!(
        positions,
        (1..=10).collect::<Vec<i32>>(),
        "single fingers only"
    );

    // The applicant places the finger a moment after the officer asks.
    r30x.place_finger_after(Duration::from_millis(300));
    let cap = d
        .fingerprint()
        .capture(capture(pb::FingerPosition::RightIndex))
        .await
        .unwrap()
        .into_inner();
    let img = cap.image.unwrap();
    assert_eq!((img.width, img.height, img.ppi), (256, 288, 500));
    assert_eq!(
        img.pixels,
        r30x.last_image().unwrap(),
        "the module's pixels"
    );
    assert_eq!(cap.fingers.len(), 1);
    assert!(!cap.finger_record.is_empty());

    // A slap is not something it can take.
    let err = d
        .fingerprint()
        .capture(capture(pb::FingerPosition::RightFour))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented, "{err:?}");

    // A corrupted packet is sent again; line noise is skipped.
    r30x.lift_finger();
    r30x.place_finger();
    r30x.inject(rekam_r30x::SimFault::BadChecksum);
    r30x.inject(rekam_r30x::SimFault::Garbage);
    d.fingerprint()
        .capture(capture(pb::FingerPosition::LeftThumb))
        .await
        .unwrap();
    let report = self_test(&d, "fingerprint0").await;
    let errors = report
        .checks
        .iter()
        .find(|c| c.name == "packet errors")
        .unwrap_or_else(|| panic!("{report:?}"));
    assert_eq!(errors.outcome, pb::CheckOutcome::Warn as i32, "{errors:?}");
    assert!(!errors.detail.contains(" 0 checksum errors"), "{errors:?}");

    // An image upload cut short is asked for again.
    r30x.lift_finger();
    r30x.place_finger();
    let uploads = r30x.stats().uploads;
    r30x.inject(rekam_r30x::SimFault::TruncatedUpload);
    let cap = d
        .fingerprint()
        .capture(capture(pb::FingerPosition::LeftMiddle))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r30x.stats().uploads, uploads + 2);
    assert_eq!(cap.image.unwrap().pixels, r30x.last_image().unwrap());
    // Damage that keeps coming: a clear error after bounded retries, then captures
    // again once the line is clean.
    r30x.inject(rekam_r30x::SimFault::BadChecksums);
    let err = d
        .fingerprint()
        .capture(capture(pb::FingerPosition::LeftRing))
        .await
        .unwrap_err();
    assert!(err.message().contains("damaged packets"), "{err:?}");
    r30x.clear_faults();
    assert!(
        d.wait_for_state("fingerprint0", pb::DeviceStateKind::Ready, 1000)
            .await
    );
    d.fingerprint()
        .capture(capture(pb::FingerPosition::LeftRing))
        .await
        .unwrap();

    // No finger: the capture ends with a time-out the officer can act on.
    r30x.lift_finger();
    let err = d
        .fingerprint()
        .capture(capture(pb::FingerPosition::LeftIndex))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");

    // The module goes silent (power lost): disconnected, then back when it answers. Two
    // idle heartbeats (3 s apart) must go unanswered, each after its retries (three 1 s
    // reply timeouts): up to about 12 s, longer on a loaded machine; waited for up to 60 s.
    r30x.inject(rekam_r30x::SimFault::Silence);
    assert!(
        d.wait_for_state("fingerprint0", pb::DeviceStateKind::Disconnected, 6000)
            .await,
        "a silent module is disconnected"
    );
    let err = d
        .fingerprint()
        .capture(capture(pb::FingerPosition::LeftIndex))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    r30x.clear_faults();
    assert!(
        d.wait_for_state("fingerprint0", pb::DeviceStateKind::Ready, 3000)
            .await,
        "ready again once the module answers"
    );
    r30x.place_finger();
    d.fingerprint()
        .capture(capture(pb::FingerPosition::LeftIndex))
        .await
        .unwrap();
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_isdv4_digitizer_signs_over_grpc_and_survives_noise_and_an_unplug() {
    use rekam_core::sim::SimulatorControl;
    let (r30x, isdv4) = simulators();
    let d = station(&r30x, &isdv4).await;
    let dev = d.device("signature0").await;
    assert_eq!(dev.driver, "isdv4", "{dev:?}");
    let Some(pb::device_capabilities::Kind::Signature(caps)) =
        dev.capabilities.clone().and_then(|c| c.kind)
    else {
        panic!("no pad capabilities: {dev:?}");
    };
    assert_eq!((caps.width, caps.height), (10_000.0, 6_000.0));
    assert_eq!(caps.units_per_mm, 100.0);
    assert_eq!(caps.pressure_levels, 1024);

    let sign = |d: &TestDaemon| {
        let mut sig = d.signature();
        async move {
            sig.sign(pb::SignRequest::default())
                .await
                .unwrap()
                .into_inner()
                .collect::<Vec<_>>()
                .await
        }
    };
    let samples = sign(&d).await;
    assert!(samples.len() > 50, "{}", samples.len());
    assert!(samples.iter().all(|s| s.is_ok()));
    let inked = samples
        .iter()
        .filter(|s| s.as_ref().unwrap().pressure > 0.0)
        .count();
    assert!(inked > 20);
    let r = d
        .signature()
        .accept(pb::AcceptSignatureRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.samples.len(), samples.len());
    assert!(!r.png.is_empty());

    // Line noise and cut packets are skipped: the signature still arrives.
    isdv4.inject("garbage").unwrap();
    isdv4.inject("truncate").unwrap();
    let samples = sign(&d).await;
    assert!(samples.len() > 50 && samples.iter().all(|s| s.is_ok()));
    d.signature()
        .clear(pb::ClearSignatureRequest::default())
        .await
        .unwrap();
    let report = self_test(&d, "signature0").await;
    assert!(
        report
            .checks
            .iter()
            .any(|c| c.name == "packets" && c.outcome == pb::CheckOutcome::Warn as i32),
        "{report:?}"
    );

    // Silent (power lost on a plain serial line): the keepalive query notices it.
    isdv4.inject("silence").unwrap();
    assert!(
        d.wait_for_state("signature0", pb::DeviceStateKind::Disconnected, 1000)
            .await,
        "a silent digitizer is disconnected"
    );
    isdv4.clear();
    assert!(
        d.wait_for_state("signature0", pb::DeviceStateKind::Ready, 1000)
            .await
    );

    // Unplugged: disconnected, with an event; plugged back: ready, and it signs.
    isdv4.inject("disconnect").unwrap();
    assert!(
        d.wait_for_state("signature0", pb::DeviceStateKind::Disconnected, 1000)
            .await
    );
    let err = match d.signature().sign(pb::SignRequest::default()).await {
        Err(e) => e,
        Ok(stream) => stream
            .into_inner()
            .next()
            .await
            .expect("an answer")
            .expect_err("an unplugged pad cannot sign"),
    };
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    isdv4.clear();
    assert!(
        d.wait_for_state("signature0", pb::DeviceStateKind::Ready, 1000)
            .await
    );
    assert!(sign(&d).await.len() > 50);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_enrollment_with_single_fingers_on_the_r30x_and_the_isdv4_signature() {
    let (r30x, isdv4) = simulators();
    let scanner = r30x.path().to_string();
    let pad = isdv4.path().display().to_string();
    let d = TestDaemon::start_with(move |c| {
        // A 256 x 288 module is below the FAP 10 area: this station accepts it.
        c.station.accept_substandard_scanner = true;
        for dev in &mut c.devices {
            let s = dev.selector.to_string();
            if s.starts_with("fingerprint:") {
                dev.selector = format!("fingerprint:r30x:{scanner}").parse().unwrap();
            } else if s.starts_with("signature:") {
                dev.selector = format!("signature:isdv4:{pad}").parse().unwrap();
                dev.options.insert("finish_ms".into(), "300".into());
            }
        }
    })
    .await;
    // The applicant: a finger on the sensor; lifted once its image is taken, and the
    // next one placed.
    let r30x = std::sync::Arc::new(r30x);
    let applicant = {
        let r30x = std::sync::Arc::clone(&r30x);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let t = std::thread::spawn(move || {
            r30x.place_finger();
            let mut uploads = r30x.stats().uploads;
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
                let now = r30x.stats().uploads;
                if now != uploads {
                    uploads = now;
                    r30x.lift_finger();
                    std::thread::sleep(Duration::from_millis(30));
                    r30x.place_finger();
                }
            }
        });
        (stop, t)
    };
    let mut c = d.enroll();
    let id = verified(&d).await;
    c.capture_face(step(&id)).await.unwrap();
    let e = c
        .capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            name: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let rec = e.recording.clone().unwrap();
    assert_eq!(rec.singles.len(), 10, "{rec:?}");
    assert!(rec.singles.iter().all(|f| f.quality > 0), "{rec:?}");
    assert_eq!(rec.sequence_comparisons, 0);
    assert!(r30x.stats().uploads >= 10);
    let e = c.capture_signature(step(&id)).await.unwrap().into_inner();
    assert!(e.recording.unwrap().signature_samples > 50);
    let e = c.finish_recording(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Recorded, "{}", e.last_error);
    c.send(step(&id)).await.unwrap();
    c.print(step(&id)).await.unwrap();
    c.encode(step(&id)).await.unwrap();
    let e = c.hand_over(step(&id)).await.unwrap().into_inner();
    assert_eq!(
        stage(&e),
        pb::EnrollmentStage::HandedOver,
        "{}",
        e.last_error
    );
    let fingers = d.get(&id).await;
    let h = fingers
        .history
        .iter()
        .find(|h| h.step == pb::Step::CaptureFingerprints as i32)
        .unwrap();
    assert!(h.message.contains("single-finger scanner"), "{}", h.message);
    applicant
        .0
        .store(true, std::sync::atomic::Ordering::Relaxed);
    applicant.1.join().unwrap();
    d.stop().await;
}

/// A technician records a module that fails (the option `record`); the recording, played
/// back in another rekamd (the option `replay`), gives the same image and the same error
/// over gRPC: a regression test without the module.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_of_a_failing_module_replays_in_rekamd() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fp.rec");
    let sim = rekam_r30x::R30xSim::spawn(rekam_r30x::SimConfig::fast()).unwrap();
    let with = |selector: String, options: Vec<(&'static str, String)>| {
        move |c: &mut rekamd::Config| {
            for dev in &mut c.devices {
                if dev.selector.to_string().starts_with("fingerprint:") {
                    dev.selector = selector.parse().unwrap();
                    dev.id = Some("fingerprint0".into());
                    for (k, v) in options {
                        dev.options.insert(k.into(), v);
                    }
                    break;
                }
            }
        }
    };
    let f = file.display().to_string();
    let d = TestDaemon::start_with(with(
        format!("fingerprint:r30x:{}", sim.path()),
        vec![("record", f.clone()), ("finger_timeout_ms", "3000".into())],
    ))
    .await;
    sim.place_finger();
    let good = d
        .fingerprint()
        .capture(capture(pb::FingerPosition::RightIndex))
        .await
        .unwrap()
        .into_inner();
    sim.inject(rekam_r30x::SimFault::BadChecksums);
    let failed = d
        .fingerprint()
        .capture(capture(pb::FingerPosition::RightIndex))
        .await
        .unwrap_err();
    assert!(failed.message().contains("damaged packets"), "{failed:?}");
    d.stop().await;
    drop(sim);

    let d = TestDaemon::start_with(with(
        "fingerprint:r30x:/dev/serial/by-id/recorded".into(),
        vec![
            ("replay", f),
            ("replay_speed", "0".into()),
            ("heartbeat_ms", "0".into()),
            ("finger_timeout_ms", "3000".into()),
        ],
    ))
    .await;
    assert_eq!(d.device("fingerprint0").await.driver, "r30x");
    let again = d
        .fingerprint()
        .capture(capture(pb::FingerPosition::RightIndex))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        again.image.unwrap().pixels,
        good.image.unwrap().pixels,
        "the same image, byte for byte"
    );
    let err = d
        .fingerprint()
        .capture(capture(pb::FingerPosition::RightIndex))
        .await
        .unwrap_err();
    assert_eq!(err.code(), failed.code());
    assert_eq!(err.message(), failed.message());
    d.stop().await;
}
