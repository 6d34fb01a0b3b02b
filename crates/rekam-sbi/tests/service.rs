//! rekam's SBI client against rekam's SBI service over the simulated devices: discovery on
//! the port range, verified device info, registration captures of a slap with an
//! exception, both irises and the face chained into one transaction, the live stream, and
//! the faults (busy, not registered, a timeout returning the best frame, an untrusted CA,
//! wrong counts and transaction ids).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use rekam_biometrics::iso19794_4::{FingerImageRecord, FingerPosition};
use rekam_biometrics::iso19794_6::EyeLabel;
use rekam_core::{DeviceError, DeviceState};
use rekam_sbi::client::device_state;
use rekam_sbi::hash::first_previous_hash;
use rekam_sbi::jws::JwsError;
use rekam_sbi::model::*;
use rekam_sbi::sim::ids;
use rekam_sbi::{SbiClient, SbiClientError, SimFault};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_and_device_info_are_verified() {
    let pki = pki("rekam test SBI CA");
    let (svc, _sim) = service(Some(pki.key.clone())).await;
    assert!(
        PORT_RANGE.contains(&svc.port()),
        "bound {} outside 4501-4600",
        svc.port()
    );
    let client = SbiClient::new(pki.trust());

    let found = client.discover(PORT_RANGE, DiscoverType::Any).await;
    let ours = found
        .iter()
        .find(|d| d.port == svc.port())
        .expect("discovery over 4501-4600 finds rekam's service");
    let mut ids_found: Vec<&str> = ours.devices.iter().map(|d| d.device_id.as_str()).collect();
    ids_found.sort();
    assert_eq!(ids_found, vec![ids::FACE, ids::IRIS, ids::FINGER]);
    for d in &ours.devices {
        assert_eq!(d.device_status, DeviceStatus::Ready);
        assert_eq!(d.callback_id, svc.base_url());
        assert_eq!(d.purpose, Purpose::Registration);
        assert!(d.error.is_success());
        // The discovery's digital id is unsigned: base64url JSON.
        let did: DigitalId =
            serde_json::from_slice(&rekam_sbi::jws::b64url_decode(&d.digital_id).unwrap()).unwrap();
        assert_eq!(did.serial_no, d.device_code);
    }
    let irises = client
        .discover_port(svc.port(), DiscoverType::Iris)
        .await
        .unwrap();
    assert_eq!(irises.len(), 1);
    assert_eq!(irises[0].device_id, ids::IRIS);

    let infos = client.device_info(svc.port()).await.unwrap();
    assert_eq!(infos.len(), 3);
    for i in &infos {
        assert!(i.signed);
        assert_eq!(i.signer.as_deref(), Some("CN=rekam SBI test device"));
        assert_eq!(i.state(), DeviceState::Ready);
        assert_eq!(i.info.env, Env::Developer);
        assert_eq!(i.info.spec_version[0], SPEC_VERSION);
    }
    let slap = infos
        .iter()
        .find(|i| i.info.device_id == ids::FINGER)
        .unwrap();
    assert_eq!(slap.digital_id.device_sub_type, DeviceSubType::Slap);
    assert_eq!(slap.info.device_sub_id, vec![1, 2, 3]);
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_transaction_across_slap_irises_and_face() {
    let pki = pki("rekam test SBI CA");
    let (svc, _sim) = service(Some(pki.key.clone())).await;
    let client = SbiClient::new(pki.trust());

    // Left slap, the ring finger missing: three fingers.
    let req = rcapture(
        ids::FINGER,
        BioType::Finger,
        1,
        3,
        vec![BioSubType::LeftRing],
        60.0,
        10_000,
        &first_previous_hash(),
    );
    let slap = client.rcapture(svc.port(), &req).await.unwrap();
    let subtypes: Vec<_> = slap.samples.iter().map(|s| s.data.bio_sub_type).collect();
    assert_eq!(
        subtypes,
        vec![
            Some(BioSubType::LeftIndex),
            Some(BioSubType::LeftMiddle),
            Some(BioSubType::LeftLittle)
        ]
    );
    for s in &slap.samples {
        assert!(
            s.data.quality_score >= 60.0 - 2.0,
            "{}",
            s.data.quality_score
        );
        assert_eq!(s.data.transaction_id, "rekam-test-0001");
        assert_eq!(s.digital_id.bio_type, BioType::Finger);
        assert!(valid_timestamp(&s.data.timestamp));
        // bioValue is an ISO/IEC 19794-4 record of that finger.
        let record = FingerImageRecord::parse(&s.iso_record).unwrap();
        assert_eq!(record.views.len(), 1);
    }
    let positions: Vec<_> = slap
        .samples
        .iter()
        .map(|s| FingerImageRecord::parse(&s.iso_record).unwrap().views[0].position)
        .collect();
    assert_eq!(
        positions,
        vec![
            FingerPosition::LeftIndex,
            FingerPosition::LeftMiddle,
            FingerPosition::LeftLittle
        ]
    );

    // Both irises, chained on the slap's last hash (count given with the exception counted
    // in is accepted too: 2 asked, none excepted).
    let req = rcapture(
        ids::IRIS,
        BioType::Iris,
        3,
        2,
        vec![],
        50.0,
        10_000,
        &slap.last_hash,
    );
    let irises = client.rcapture(svc.port(), &req).await.unwrap();
    assert_eq!(irises.samples.len(), 2);
    assert_eq!(
        irises.samples[0].data.bio_sub_type,
        Some(BioSubType::LeftIris)
    );
    assert_eq!(
        irises.samples[1].data.bio_sub_type,
        Some(BioSubType::RightIris)
    );
    // Each iris is an ISO/IEC 19794-6:2011 record of its eye, as MOSIP registration asks
    // (cropped, 8 bits, lossless, square, iris diameter over 210) but in PNG.
    for (sample, eye) in irises.samples.iter().zip([EyeLabel::Left, EyeLabel::Right]) {
        use rekam_biometrics::iso19794_6::{
            CompressionHistory, ImageType, IrisImageFormat, IrisImageRecord,
        };
        assert!(sample.iso_record.starts_with(b"IIR\x00020\x00"));
        let rec = IrisImageRecord::parse(&sample.iso_record).unwrap();
        assert_eq!(rec.images.len(), 1);
        assert_eq!(rec.eyes_represented(), 1);
        let iris = &rec.images[0];
        assert_eq!(iris.eye, eye);
        assert_eq!(iris.image_type, ImageType::Cropped);
        assert_eq!(iris.format, IrisImageFormat::MonoPng);
        assert_eq!(iris.compression_history, CompressionHistory::LosslessOrNone);
        assert_eq!((iris.width, iris.height, iris.bit_depth), (480, 480, 8));
        assert!(iris.iris_diameter.smallest >= 210);
        assert!(iris.capture_time.is_some());
        assert_eq!(
            f64::from(iris.quality[0].score),
            sample.data.quality_score.round()
        );
        let img = image::load_from_memory(&iris.data).unwrap();
        assert_eq!((img.width(), img.height()), (480, 480));
        assert!(img.as_luma8().is_some(), "8-bit greyscale");
    }

    // The face, an exception photo for the missing finger.
    let req = rcapture(
        ids::FACE,
        BioType::Face,
        0,
        1,
        vec![BioSubType::LeftRing],
        40.0,
        10_000,
        &irises.last_hash,
    );
    let face = client.rcapture(svc.port(), &req).await.unwrap();
    assert_eq!(face.samples.len(), 1);
    assert_eq!(face.samples[0].data.bio_sub_type, None);
    assert!(face.samples[0].iso_record.starts_with(b"FAC\0"));

    // The chain across all six captures, recomputed independently of the client.
    let mut prev = first_previous_hash();
    for s in slap
        .samples
        .iter()
        .chain(&irises.samples)
        .chain(&face.samples)
    {
        prev = rekam_sbi::hash::chain_hash(&prev, &s.iso_record).unwrap();
        assert_eq!(prev, s.hash);
    }
    assert_eq!(prev, face.last_hash);

    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_device_refuses_a_second_capture() {
    let pki = pki("rekam test SBI CA");
    let (svc, sim) = service(Some(pki.key.clone())).await;
    let client = SbiClient::new(pki.trust());
    // A long capture: the score is never reached before the 1.5 s timeout.
    sim.inject(SimFault::LowQuality);
    let req = rcapture(ids::FACE, BioType::Face, 0, 1, vec![], 90.0, 1_500, "");
    let first = {
        let client = client.clone();
        let req = req.clone();
        let port = svc.port();
        tokio::spawn(async move { client.rcapture(port, &req).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // While it runs, discovery says Busy with 111 ...
    let disc = client
        .discover_port(svc.port(), DiscoverType::Face)
        .await
        .unwrap();
    assert_eq!(disc[0].device_status, DeviceStatus::Busy);
    assert_eq!(disc[0].error.code(), ErrorCode::Busy);
    let infos = client.device_info(svc.port()).await.unwrap();
    let face = infos
        .iter()
        .find(|i| i.info.device_id == ids::FACE)
        .unwrap();
    assert_eq!(face.state(), DeviceState::Busy);
    // ... and a second capture is refused.
    let second = client.rcapture(svc.port(), &req).await.unwrap_err();
    assert!(
        matches!(second, SbiClientError::Busy { ref device } if device == ids::FACE),
        "{second}"
    );
    assert!(matches!(second.to_device_error(), DeviceError::Busy(_)));
    assert!(first.await.unwrap().is_ok());
    // A device the backend reports busy.
    sim.clear(SimFault::LowQuality);
    sim.inject(SimFault::Busy);
    let err = client.rcapture(svc.port(), &req).await.unwrap_err();
    assert!(matches!(err, SbiClientError::Busy { .. }), "{err}");
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_returns_the_best_frame() {
    let pki = pki("rekam test SBI CA");
    let (svc, sim) = service(Some(pki.key.clone())).await;
    let client = SbiClient::new(pki.trust());
    sim.inject(SimFault::LowQuality);
    let req = rcapture(ids::FINGER, BioType::Finger, 3, 2, vec![], 80.0, 700, "");
    let t = Instant::now();
    let cap = client.rcapture(svc.port(), &req).await.unwrap();
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(700),
        "answered in {took:?}, before the timeout"
    );
    assert!(took < Duration::from_secs(6), "answered in {took:?}");
    assert_eq!(cap.samples.len(), 2);
    for s in &cap.samples {
        assert!(s.below_requested);
        assert!(s.data.quality_score <= 32.0, "{}", s.data.quality_score);
        assert_eq!(s.data.requested_score, 80.0);
    }
    // Nothing on the sensor at all: 101 at the timeout.
    sim.clear(SimFault::LowQuality);
    sim.inject(SimFault::NoBiometric);
    let err = client.rcapture(svc.port(), &req).await.unwrap_err();
    assert!(matches!(err, SbiClientError::NoBiometric { .. }), "{err}");
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_devices_answer_unsigned_and_refuse_captures() {
    let pki = pki("rekam test SBI CA");
    // No device key: not registered.
    let (svc, _sim) = service(None).await;
    let client = SbiClient::new(pki.trust());
    let infos = client.device_info(svc.port()).await.unwrap();
    assert_eq!(infos.len(), 3);
    for i in &infos {
        assert!(!i.signed);
        assert_eq!(i.info.device_status, DeviceStatus::NotRegistered);
        assert_eq!(i.error.code(), ErrorCode::NotRegistered);
        assert_eq!(i.info.purpose, Purpose::None);
        assert_eq!(i.info.env, Env::None);
        assert!(matches!(i.state(), DeviceState::Error(_)));
    }
    let req = rcapture(ids::FACE, BioType::Face, 0, 1, vec![], 40.0, 5_000, "");
    let err = client.rcapture(svc.port(), &req).await.unwrap_err();
    assert!(matches!(err, SbiClientError::NotRegistered { .. }), "{err}");
    svc.stop().await;

    // A registered service whose device reports Not Registered.
    let (svc, sim) = service(Some(pki.key.clone())).await;
    sim.inject(SimFault::NotRegistered);
    let infos = client.device_info(svc.port()).await.unwrap();
    assert!(infos.iter().all(|i| !i.signed));
    assert_eq!(
        device_state(DeviceStatus::NotReady),
        DeviceState::Disconnected
    );
    sim.clear(SimFault::NotRegistered);
    sim.inject(SimFault::NotReady);
    let err = client.rcapture(svc.port(), &req).await.unwrap_err();
    assert!(matches!(err, SbiClientError::NotReady { .. }), "{err}");
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_ca_is_not_trusted() {
    let pki_a = pki("rekam test SBI CA");
    let pki_b = pki("some other CA");
    let (svc, _sim) = service(Some(pki_a.key.clone())).await;
    let client = SbiClient::new(pki_b.trust());
    let err = client.device_info(svc.port()).await.unwrap_err();
    assert!(
        matches!(
            err,
            SbiClientError::Signature {
                source: JwsError::Untrusted { .. },
                ..
            }
        ),
        "{err}"
    );
    let req = rcapture(ids::FACE, BioType::Face, 0, 1, vec![], 40.0, 5_000, "");
    let err = client.rcapture(svc.port(), &req).await.unwrap_err();
    assert!(matches!(err, SbiClientError::Signature { .. }), "{err}");
    assert!(matches!(err.to_device_error(), DeviceError::Untrusted(_)));
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_the_device_cannot_take() {
    let pki = pki("rekam test SBI CA");
    let (svc, _sim) = service(Some(pki.key.clone())).await;
    let client = SbiClient::new(pki.trust());
    // Five fingers of a four-finger slap.
    let req = rcapture(ids::FINGER, BioType::Finger, 1, 5, vec![], 60.0, 5_000, "");
    let err = client.rcapture(svc.port(), &req).await.unwrap_err();
    assert!(
        matches!(err, SbiClientError::CountNotSupported { .. }),
        "{err}"
    );
    // A sub-device the slap does not have.
    let req = rcapture(ids::FINGER, BioType::Finger, 7, 4, vec![], 60.0, 5_000, "");
    let err = client.rcapture(svc.port(), &req).await.unwrap_err();
    assert!(
        matches!(err, SbiClientError::CountNotSupported { .. }),
        "{err}"
    );
    // A transaction id with a character the rule forbids.
    let mut req = rcapture(ids::FACE, BioType::Face, 0, 1, vec![], 40.0, 5_000, "");
    req.transaction_id = "tx_1".into();
    let err = client.rcapture(svc.port(), &req).await.unwrap_err();
    assert!(
        matches!(err, SbiClientError::InvalidTransactionId { .. }),
        "{err}"
    );
    // A device that is not there.
    let req = rcapture(
        "no-such-device",
        BioType::Face,
        0,
        1,
        vec![],
        40.0,
        5_000,
        "",
    );
    let err = client.rcapture(svc.port(), &req).await.unwrap_err();
    assert!(
        matches!(err, SbiClientError::DeviceNotFound { code: 106, .. }),
        "{err}"
    );
    // A port where nothing listens.
    let err = client.device_info(1).await.unwrap_err();
    assert!(
        matches!(err, SbiClientError::NoService { port: 1 }),
        "{err}"
    );
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_serves_mjpeg_frames_until_its_timeout() {
    let pki = pki("rekam test SBI CA");
    let (svc, _sim) = service(Some(pki.key.clone())).await;
    let client = SbiClient::new(pki.trust());
    let req = StreamRequest {
        device_id: ids::FINGER.into(),
        device_sub_id: 1,
        timeout: Some(1_000),
    };
    let t = Instant::now();
    let mut stream = client.stream(svc.port(), &req).await.unwrap();
    let mut frames = 0;
    while let Some(frame) = stream.next_frame().await.unwrap() {
        assert!(frame.starts_with(&[0xFF, 0xD8]) && frame.ends_with(&[0xFF, 0xD9]));
        image::load_from_memory_with_format(&frame, image::ImageFormat::Jpeg).unwrap();
        frames += 1;
    }
    let took = t.elapsed();
    // At least 3 frames a second (the specification's minimum), and the stream ends at its
    // timeout.
    assert!(frames >= 3, "{frames} frames in {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // A device that is not there: the JSON error of the specification.
    let bad = StreamRequest {
        device_id: "nope".into(),
        device_sub_id: 1,
        timeout: None,
    };
    let err = client.stream(svc.port(), &bad).await.unwrap_err();
    assert!(
        matches!(err, SbiClientError::DeviceNotFound { code: 202, .. }),
        "{err}"
    );
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_and_unknown_verbs() {
    let pki = pki("rekam test SBI CA");
    let (svc, _sim) = service(Some(pki.key.clone())).await;
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{}/capture", svc.port());
    let r = http
        .request(reqwest::Method::OPTIONS, &url)
        .header("Origin", "http://localhost:3000")
        .header("Access-Control-Request-Method", "RCAPTURE")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let methods = r.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    for verb in ["MOSIPDISC", "MOSIPDINFO", "RCAPTURE", "CAPTURE", "STREAM"] {
        assert!(methods.contains(verb), "{methods}");
    }
    let r = http
        .request(reqwest::Method::from_bytes(b"BREW").unwrap(), &url)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::METHOD_NOT_ALLOWED);
    let body: ErrorResponse = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(body.error.code(), ErrorCode::NotSupported);
    // CAPTURE (authentication) is not served by a registration device service.
    let r = http
        .request(reqwest::Method::from_bytes(b"CAPTURE").unwrap(), &url)
        .body("{}")
        .send()
        .await
        .unwrap();
    let body: CaptureResponse = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(body.biometrics[0].error.code(), ErrorCode::NotSupported);
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_port_that_is_taken_is_an_error() {
    let (svc, _sim) = service(None).await;
    let mut config = rekam_sbi::ServiceConfig::new(None);
    config.port = Some(svc.port());
    let err =
        rekam_sbi::SbiService::start(config, std::sync::Arc::new(rekam_sbi::SimBackend::new()))
            .await
            .unwrap_err();
    assert!(matches!(err, rekam_sbi::ServiceError::Bind { .. }), "{err}");
    let mut config = rekam_sbi::ServiceConfig::new(None);
    config.ports = svc.port()..=svc.port();
    let err =
        rekam_sbi::SbiService::start(config, std::sync::Arc::new(rekam_sbi::SimBackend::new()))
            .await
            .unwrap_err();
    assert!(
        matches!(err, rekam_sbi::ServiceError::NoFreePort { .. }),
        "{err}"
    );
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_pauses_while_the_device_captures() {
    let pki = pki("rekam test SBI CA");
    let (svc, sim) = service(Some(pki.key.clone())).await;
    let client = SbiClient::new(pki.trust());
    sim.inject(SimFault::LowQuality);
    let req = StreamRequest {
        device_id: ids::FACE.into(),
        device_sub_id: 0,
        timeout: Some(2_600),
    };
    let mut stream = client.stream(svc.port(), &req).await.unwrap();
    let t0 = Instant::now();
    let capture = {
        let client = client.clone();
        let port = svc.port();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            let started = t0.elapsed();
            let req = rcapture(ids::FACE, BioType::Face, 0, 1, vec![], 95.0, 1_200, "");
            client.rcapture(port, &req).await.unwrap();
            (started, t0.elapsed())
        })
    };
    let mut arrivals = Vec::new();
    while stream.next_frame().await.unwrap().is_some() {
        arrivals.push(t0.elapsed());
    }
    let (started, ended) = capture.await.unwrap();
    let during: Vec<_> = arrivals
        .iter()
        .filter(|t| {
            **t > started + Duration::from_millis(500) && **t + Duration::from_millis(150) < ended
        })
        .collect();
    assert!(
        during.is_empty(),
        "frames {during:?} while capturing {started:?}..{ended:?}"
    );
    assert!(
        arrivals.iter().any(|t| *t < started),
        "frames before the capture: {arrivals:?}"
    );
    assert!(
        arrivals.iter().any(|t| *t > ended),
        "frames after the capture: {arrivals:?}"
    );
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_fingers_of_the_slap_scanner() {
    let pki = pki("rekam test SBI CA");
    let (svc, _sim) = service(Some(pki.key.clone())).await;
    let client = SbiClient::new(pki.trust());
    // One finger: its subtype on the right slap's sub-device, count 1.
    let mut req = rcapture(ids::FINGER, BioType::Finger, 2, 1, vec![], 50.0, 10_000, "");
    req.bio[0].bio_sub_type = vec![BioSubType::RightIndex];
    let cap = client.rcapture(svc.port(), &req).await.unwrap();
    assert_eq!(cap.samples.len(), 1);
    assert_eq!(
        cap.samples[0].data.bio_sub_type,
        Some(BioSubType::RightIndex)
    );
    let record = FingerImageRecord::parse(&cap.samples[0].iso_record).unwrap();
    assert_eq!(record.views[0].position, FingerPosition::RightIndex);
    // Two named fingers, one of them excepted: one comes back.
    req.bio[0].bio_sub_type = vec![BioSubType::RightIndex, BioSubType::RightRing];
    req.bio[0].exception = vec![BioSubType::RightIndex];
    let cap = client.rcapture(svc.port(), &req).await.unwrap();
    assert_eq!(cap.samples.len(), 1);
    assert_eq!(
        cap.samples[0].data.bio_sub_type,
        Some(BioSubType::RightRing)
    );
    // A finger that is not on that sub-device.
    req.bio[0].bio_sub_type = vec![BioSubType::LeftIndex];
    req.bio[0].exception = vec![];
    let err = client.rcapture(svc.port(), &req).await.unwrap_err();
    assert!(
        matches!(err, SbiClientError::CountNotSupported { .. }),
        "{err}"
    );
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_eye_is_an_exception() {
    let pki = pki("rekam test SBI CA");
    let (svc, _sim) = service(Some(pki.key.clone())).await;
    let client = SbiClient::new(pki.trust());
    // Both irises asked, the left one missing: the right one comes back (count 1, or 2
    // with the exception counted in).
    for count in [1, 2] {
        let req = rcapture(
            ids::IRIS,
            BioType::Iris,
            3,
            count,
            vec![BioSubType::LeftIris],
            50.0,
            10_000,
            "",
        );
        let cap = client.rcapture(svc.port(), &req).await.unwrap();
        assert_eq!(cap.samples.len(), 1, "count {count}");
        assert_eq!(
            cap.samples[0].data.bio_sub_type,
            Some(BioSubType::RightIris)
        );
    }
    // A finger is no iris exception.
    let req = rcapture(
        ids::IRIS,
        BioType::Iris,
        3,
        1,
        vec![BioSubType::LeftThumb],
        50.0,
        10_000,
        "",
    );
    let err = client.rcapture(svc.port(), &req).await.unwrap_err();
    assert!(
        matches!(err, SbiClientError::CountNotSupported { .. }),
        "{err}"
    );
    // Both eyes missing leaves nothing to capture.
    let req = rcapture(
        ids::IRIS,
        BioType::Iris,
        3,
        2,
        vec![BioSubType::LeftIris, BioSubType::RightIris],
        50.0,
        10_000,
        "",
    );
    let err = client.rcapture(svc.port(), &req).await.unwrap_err();
    assert!(
        matches!(err, SbiClientError::CountNotSupported { .. }),
        "{err}"
    );
    svc.stop().await;
}
