//! rekamd serving its devices as a MOSIP SBI device service (`[sbi]`): started with the
//! daemon on the simulators, found by rekam-sbi's client over 4501–4600, its device info
//! verified against the test's device CA, slaps and the face captured with a verified hash
//! chain, the stream's frames decoded, and every answer checked against the
//! specification's schema and field rules (`rekam_sbi::compliance`, the checks of
//! rekam-sbi's own `tests/schema.rs`). A device the gRPC API is using answers SBI's busy;
//! the service stops with the daemon.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use rekam_api::pb;
use rekam_sbi::compliance::{Checker, TestPki};
use rekam_sbi::hash::first_previous_hash;
use rekam_sbi::model::*;
use rekam_sbi::{SbiClient, SbiClientError};
use rekam_tests::*;

/// The test's device CA and key, written to `dir` for `[sbi]`.
fn write_pki(dir: &Path) -> TestPki {
    let pki = TestPki::generate("rekamd test device CA", "rekamd SBI test device").unwrap();
    std::fs::write(dir.join("device.key"), &pki.key_pem).unwrap();
    std::fs::write(dir.join("device.pem"), &pki.cert_pem).unwrap();
    pki
}

/// The port of the SBI service whose device info verifies against `client`'s CA (other
/// tests may serve SBI on other ports of the range at the same time). A loaded machine's
/// debug rekamd can take longer than a probe's default 500 ms to answer: each probe here
/// waits up to 5 s, and the range is searched again for up to 30 s.
async fn find_service(client: &SbiClient) -> u16 {
    let client = client.clone().with_probe_timeout(Duration::from_secs(5));
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        for found in client.discover(PORT_RANGE, DiscoverType::Any).await {
            if !found.devices.iter().any(|d| d.device_id == "fingerprint0") {
                continue;
            }
            let infos = client.device_info(found.port).await;
            if infos.is_ok_and(|i| i.iter().all(|x| x.signed)) {
                return found.port;
            }
        }
        assert!(
            Instant::now() < until,
            "no SBI service on 4501-4600 signs with the test's device key"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn rcapture(
    device: &str,
    bio_type: BioType,
    sub_id: u32,
    count: u32,
    exceptions: Vec<BioSubType>,
    previous_hash: &str,
) -> RCaptureRequest {
    RCaptureRequest {
        env: Env::Developer,
        purpose: Purpose::Registration,
        spec_version: SPEC_VERSION.into(),
        timeout: Some(20_000),
        capture_time: timestamp_now(),
        transaction_id: "rekamd-sbi-0001".into(),
        bio: vec![BioRequest {
            bio_type,
            count,
            bio_sub_type: Vec::new(),
            exception: exceptions,
            requested_score: Some(40.0),
            device_id: device.into(),
            device_sub_id: sub_id,
            previous_hash: previous_hash.into(),
        }],
        custom_opts: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekamd_serves_its_devices_as_an_sbi_device_service() {
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let (key, cert) = (dir.path().join("device.key"), dir.path().join("device.pem"));
    let d = TestDaemon::start_with(move |c| {
        c.sbi.listen = "auto".into();
        c.sbi.device_key = Some(key);
        c.sbi.device_cert = Some(cert);
    })
    .await;
    let client = SbiClient::new(pki.trust().unwrap());
    let port = find_service(&client).await;

    // Device info, verified by the client: the slap scanner and the camera.
    let infos = client.device_info(port).await.unwrap();
    let mut ids: Vec<(&str, BioType, DeviceSubType)> = infos
        .iter()
        .map(|i| {
            assert!(i.signed, "{i:?}");
            assert_eq!(i.signer.as_deref(), Some("CN=rekamd SBI test device"));
            assert_eq!(i.info.device_status, DeviceStatus::Ready);
            (
                i.info.device_id.as_str(),
                i.digital_id.bio_type,
                i.digital_id.device_sub_type,
            )
        })
        .collect();
    ids.sort_by_key(|x| x.0);
    assert_eq!(
        ids,
        vec![
            ("camera0", BioType::Face, DeviceSubType::FullFace),
            ("fingerprint0", BioType::Finger, DeviceSubType::Slap),
        ]
    );

    // Every answer against the schema and the field rules.
    let check = Checker::new(port, pki.trust().unwrap()).unwrap();
    for body in ["", r#"{"type":"Biometric Device"}"#, r#"{"type":"Finger"}"#] {
        let devices = check.discover(body).await.unwrap();
        assert!(!devices.is_empty(), "{body}");
    }
    assert!(
        check
            .discover(r#"{"type":"Iris"}"#)
            .await
            .unwrap()
            .is_empty(),
        "no iris camera on this station"
    );
    assert_eq!(check.device_info().await.unwrap().len(), 2);

    // Captures chained in one transaction: the right slap less its middle finger, the
    // thumbs, the face; each checked by the compliance rules, then by the client.
    let mut previous = first_previous_hash();
    for (device, bio_type, sub, count, exceptions, subtypes) in [
        (
            "fingerprint0",
            BioType::Finger,
            2,
            3,
            vec![BioSubType::RightMiddle],
            vec![
                BioSubType::RightIndex,
                BioSubType::RightRing,
                BioSubType::RightLittle,
            ],
        ),
        (
            "fingerprint0",
            BioType::Finger,
            3,
            2,
            vec![],
            vec![BioSubType::LeftThumb, BioSubType::RightThumb],
        ),
        ("camera0", BioType::Face, 0, 1, vec![], vec![]),
    ] {
        let req = rcapture(device, bio_type, sub, count, exceptions, &previous);
        let checked = check.rcapture(&req).await.unwrap().unwrap();
        assert_eq!(checked.data.len(), subtypes.len().max(1));
        let captured = client.rcapture(port, &req).await.unwrap();
        assert_eq!(captured.samples.len(), subtypes.len().max(1));
        for (i, s) in captured.samples.iter().enumerate() {
            assert_eq!(s.data.bio_type, bio_type);
            assert_eq!(s.digital_id.serial_no, s.data.device_code);
            if bio_type == BioType::Finger {
                assert_eq!(s.data.bio_sub_type, Some(subtypes[i]));
                let rec =
                    rekam_biometrics::iso19794_4::FingerImageRecord::parse(&s.iso_record).unwrap();
                assert_eq!(rec.views.len(), 1);
                assert_eq!(
                    rec.views[0].position.code(),
                    subtypes[i].finger().unwrap().code(),
                    "the ISO record is the finger asked for"
                );
                assert!(s.data.quality_score > 0.0);
            } else {
                rekam_biometrics::iso19794_5::FaceImageRecord::parse(&s.iso_record).unwrap();
            }
        }
        previous = captured.last_hash;
    }

    // The live stream: the camera's and the scanner's previews, framed as the
    // specification's example, every frame a JPEG that decodes.
    for (device, sub) in [("camera0", 0), ("fingerprint0", 2)] {
        let frames = check.stream(device, sub, 800).await.unwrap();
        assert!(frames.len() >= 2, "{device}: {} frames", frames.len());
        image::load_from_memory(&frames[0]).unwrap();
    }
    let mut stream = client
        .stream(
            port,
            &StreamRequest {
                device_id: "camera0".into(),
                device_sub_id: 0,
                timeout: Some(600),
            },
        )
        .await
        .unwrap();
    let jpeg = stream.next_frame().await.unwrap().expect("a frame");
    image::load_from_memory(&jpeg).unwrap();
    drop(stream);

    // The gRPC API captures with the scanner: SBI says busy (111) and the discovery and
    // device info say Busy with 111, which the compliance rules check.
    d.fault("fingerprint0", "no_finger").await;
    let mut fp = d.fingerprint();
    let grpc = tokio::spawn(async move {
        fp.capture(pb::CaptureFingerprintRequest {
            name: String::new(),
            position: pb::FingerPosition::RightFour as i32,
            missing: vec![],
        })
        .await
    });
    assert!(
        d.wait_for_state("fingerprint0", pb::DeviceStateKind::Busy, 200)
            .await
    );
    let req = rcapture("fingerprint0", BioType::Finger, 2, 4, vec![], "");
    assert_eq!(check.rcapture(&req).await.unwrap().unwrap_err(), "111");
    assert!(matches!(
        client.rcapture(port, &req).await,
        Err(SbiClientError::Busy { .. })
    ));
    let busy = check.discover(r#"{"type":"Finger"}"#).await.unwrap();
    assert_eq!(busy[0]["deviceStatus"], "Busy");
    check.device_info().await.unwrap();
    grpc.abort();
    assert!(
        d.wait_for_state("fingerprint0", pb::DeviceStateKind::Ready, 200)
            .await
    );
    d.clear("fingerprint0").await;

    // Stopped with the daemon.
    d.stop().await;
    assert!(matches!(
        client.discover_port(port, DiscoverType::Any).await,
        Err(SbiClientError::NoService { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_devices_answer_unsigned_and_refuse_captures() {
    let d = TestDaemon::start_with(|c| {
        c.sbi.listen = "auto".into();
        c.sbi.registered = false;
    })
    .await;
    let client = SbiClient::new(rekam_sbi::TrustStore::new());
    let mut port = None;
    for found in client.discover(PORT_RANGE, DiscoverType::Any).await {
        if found
            .devices
            .iter()
            .any(|x| x.device_id == "camera0" && x.device_status == DeviceStatus::NotRegistered)
        {
            port = Some(found.port);
        }
    }
    let port = port.expect("rekamd's unregistered SBI service");
    let schema = rekam_sbi::compliance::Schema::load().unwrap();
    let v = rekam_sbi::compliance::call(port, "MOSIPDISC", "/device", "")
        .await
        .unwrap()
        .json()
        .unwrap();
    schema.check("discoveryResponse", &v).unwrap();
    for e in v.as_array().unwrap() {
        assert_eq!(e["deviceStatus"], "Not Registered");
        assert_eq!(e["error"]["errorCode"], "100");
    }
    let infos = client.device_info(port).await.unwrap();
    assert!(infos.iter().all(|i| !i.signed));
    let req = rcapture("camera0", BioType::Face, 0, 1, vec![], "");
    assert!(matches!(
        client.rcapture(port, &req).await,
        Err(SbiClientError::NotRegistered { .. })
    ));
    d.stop().await;
}

// ---------------------------------------------------------------------------------------
// The SBI client as rekam's drivers: `fingerprint:sbi:PORT`, `camera:sbi:PORT`.

/// The station's fingerprint scanner and camera replaced by SBI devices on `port` (a
/// number or "auto") trusting the CA in `ca`.
fn sbi_devices(c: &mut rekamd::Config, port: &str, ca: &Path) {
    use rekam_core::DeviceClass;
    c.devices.retain(|d| {
        !matches!(
            d.selector.class,
            DeviceClass::FingerprintScanner | DeviceClass::Camera
        )
    });
    for (class, id) in [("fingerprint", "fingerprint0"), ("camera", "camera0")] {
        c.devices.push(rekamd::config::DeviceConfig {
            selector: format!("{class}:sbi:{port}").parse().unwrap(),
            id: Some(id.into()),
            options: [
                ("ca".to_string(), ca.display().to_string()),
                ("timeout_ms".to_string(), "15000".to_string()),
            ]
            .into_iter()
            .collect(),
        });
    }
}

async fn capture(
    d: &TestDaemon,
    position: pb::FingerPosition,
) -> Result<pb::CaptureFingerprintResponse, tonic::Status> {
    d.fingerprint()
        .capture(pb::CaptureFingerprintRequest {
            name: String::new(),
            position: position as i32,
            missing: vec![],
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sbi_drivers_capture_from_rekams_simulated_sbi_service() {
    use futures::StreamExt;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate("SBI sim CA", "rekam SBI sim device").unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let sim = rekam_sbi::SimBackend::new();
    let svc = rekam_sbi::SbiService::start(
        rekam_sbi::ServiceConfig::new(Some(pki.device_key().unwrap())),
        Arc::new(sim.clone()),
    )
    .await
    .unwrap();
    let port = svc.port().to_string();
    let d = TestDaemon::start_with(|c| sbi_devices(c, &port, &ca)).await;

    let fp = d.device("fingerprint0").await;
    assert_eq!(fp.driver, "sbi");
    assert_eq!(fp.serial, "REKAMSIMSLAP0001", "{fp:?}");
    assert_eq!(
        fp.state.as_ref().unwrap().kind,
        pb::DeviceStateKind::Ready as i32
    );

    // A slap: the four fingers' records composed into one slap image that rekam's own
    // segmentation cuts into the same four fingers again.
    let slap = capture(&d, pb::FingerPosition::RightFour).await.unwrap();
    let img = slap.image.unwrap();
    assert_eq!((img.width, img.height, img.ppi), (1600, 1500, 500));
    assert_eq!(slap.fingers.len(), 4, "{:?}", slap.fingers);
    assert!(
        slap.fingers.iter().all(|f| f.quality > 0),
        "{:?}",
        slap.fingers
    );
    // A single finger, asked of the slap's sub-device by bioSubType.
    let one = capture(&d, pb::FingerPosition::LeftIndex).await.unwrap();
    assert_eq!(one.image.unwrap().width, 160);

    // The camera: a still from RCAPTURE, the preview from STREAM.
    let still = d
        .camera()
        .capture_still(pb::CaptureStillRequest::default())
        .await
        .unwrap()
        .into_inner();
    image::load_from_memory(&still.jpeg).unwrap();
    let frames: Vec<_> = d
        .camera()
        .stream_preview(pb::CameraPreviewRequest {
            name: String::new(),
            max_frames: 3,
        })
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert_eq!(frames.len(), 3);
    for f in frames {
        image::load_from_memory(&f.unwrap().jpeg).unwrap();
    }
    let frames: Vec<_> = d
        .fingerprint()
        .stream_preview(pb::FingerprintPreviewRequest {
            name: String::new(),
            position: pb::FingerPosition::LeftFour as i32,
            max_frames: 2,
        })
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert_eq!(frames.len(), 2);
    assert!(frames.iter().all(|f| f.as_ref().unwrap().finger_present));

    // Busy and not registered end as clear gRPC errors.
    sim.inject(rekam_sbi::SimFault::Busy);
    let e = capture(&d, pb::FingerPosition::RightFour)
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unavailable, "{e:?}");
    assert_eq!(reason(&e), "DEVICE_BUSY", "{e:?}");
    sim.clear(rekam_sbi::SimFault::Busy);
    sim.inject(rekam_sbi::SimFault::NotRegistered);
    let e = capture(&d, pb::FingerPosition::RightFour)
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unavailable, "{e:?}");
    assert!(e.message().contains("not registered"), "{e:?}");
    let fp = d.device("fingerprint0").await;
    assert_eq!(
        fp.state.as_ref().unwrap().kind,
        pb::DeviceStateKind::Error as i32,
        "{fp:?}"
    );
    d.stop().await;
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_enrollment_with_fingerprints_and_face_through_sbi() {
    // Station A serves its simulated devices over SBI; station B records through them.
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let (key, cert) = (dir.path().join("device.key"), dir.path().join("device.pem"));
    let a = TestDaemon::start_with(move |c| {
        c.sbi.listen = "auto".into();
        c.sbi.device_key = Some(key);
        c.sbi.device_cert = Some(cert);
    })
    .await;
    let port = find_service(&SbiClient::new(pki.trust().unwrap())).await;
    let b = TestDaemon::start_with(|c| sbi_devices(c, &port.to_string(), &ca)).await;
    let id = recorded(&b).await;
    let e = b.get(&id).await;
    let rec = e.recording.expect("a recording");
    assert!(rec.face && rec.signature, "{rec:?}");
    let fingers: Vec<_> = rec.fingers.iter().filter(|f| f.quality > 0).collect();
    assert_eq!(fingers.len(), 10, "{:?}", rec.fingers);
    a.stop().await;
    b.stop().await;
}

/// A daemon whose fingerprint scanner is the Python simulator's slap scanner.
async fn on_python_sim(sim: &rekam_sbi::compliance::PySim) -> TestDaemon {
    let port = sim.port.to_string();
    let ca = sim.ca_file.clone();
    TestDaemon::start_with(move |c| {
        sbi_devices(c, &port, &ca);
        // The simulator has no camera.
        c.devices
            .retain(|d| d.selector.class != rekam_core::DeviceClass::Camera);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sbi_driver_captures_from_the_independent_python_simulator() {
    let sim = rekam_sbi::compliance::PySim::start("none").await.unwrap();
    let d = on_python_sim(&sim).await;
    let fp = d.device("fingerprint0").await;
    assert_eq!(fp.driver, "sbi");
    assert_eq!(fp.serial, "SIMSLAP000000001", "{fp:?}");
    assert_eq!(
        fp.state.as_ref().unwrap().kind,
        pb::DeviceStateKind::Ready as i32
    );
    // Its ISO/IEC 19794-4 records (written by Python from the standard's layout) composed
    // into slaps that rekam segments into the same fingers.
    for (slap, fingers) in [
        (pb::FingerPosition::LeftFour, 4),
        (pb::FingerPosition::BothThumbs, 2),
    ] {
        let r = capture(&d, slap).await.unwrap();
        let img = r.image.unwrap();
        assert_eq!((img.width, img.height), (1600, 1500));
        assert_eq!(r.fingers.len(), fingers, "{:?}", r.fingers);
    }
    let one = capture(&d, pb::FingerPosition::RightRing).await.unwrap();
    assert_eq!(one.image.unwrap().width, 280);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_unregistered_and_forged_sbi_devices_end_as_clear_grpc_errors() {
    // Busy: the device's status and its capture answer (111).
    let sim = rekam_sbi::compliance::PySim::start("busy").await.unwrap();
    let d = on_python_sim(&sim).await;
    assert_eq!(
        d.device("fingerprint0").await.state.unwrap().kind,
        pb::DeviceStateKind::Busy as i32
    );
    let e = capture(&d, pb::FingerPosition::RightFour)
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unavailable, "{e:?}");
    assert_eq!(reason(&e), "DEVICE_BUSY", "{e:?}");
    d.stop().await;

    // Not registered: unsigned device info, error 100.
    let sim = rekam_sbi::compliance::PySim::start("not_registered")
        .await
        .unwrap();
    let d = on_python_sim(&sim).await;
    let fp = d.device("fingerprint0").await;
    let state = fp.state.unwrap();
    assert_eq!(state.kind, pb::DeviceStateKind::Error as i32);
    let e = capture(&d, pb::FingerPosition::RightFour)
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unavailable, "{e:?}");
    assert!(e.message().contains("not registered"), "{e:?}");
    d.stop().await;

    // A forged capture: the second finger's signature does not verify.
    let sim = rekam_sbi::compliance::PySim::start("bad_signature")
        .await
        .unwrap();
    let d = on_python_sim(&sim).await;
    let e = capture(&d, pb::FingerPosition::RightFour)
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::DataLoss, "{e:?}");
    assert_eq!(reason(&e), "DEVICE_UNTRUSTED", "{e:?}");
    assert!(e.message().contains("cannot be trusted"), "{e:?}");
    d.stop().await;

    // A device whose certificate is not of the CA configured: refused from the device info.
    let sim = rekam_sbi::compliance::PySim::start("none").await.unwrap();
    let other = TestPki::generate("another CA", "x").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("other-ca.pem");
    std::fs::write(&ca, &other.ca_pem).unwrap();
    let port = sim.port.to_string();
    let d = TestDaemon::start_with(move |c| {
        sbi_devices(c, &port, &ca);
        c.devices
            .retain(|d| d.selector.class != rekam_core::DeviceClass::Camera);
    })
    .await;
    let fp = d.device("fingerprint0").await;
    assert_eq!(fp.state.unwrap().kind, pb::DeviceStateKind::Error as i32);
    let e = capture(&d, pb::FingerPosition::RightFour)
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::DataLoss, "{e:?}");
    assert_eq!(reason(&e), "DEVICE_UNTRUSTED", "{e:?}");
    assert!(e.message().contains("device CA"), "{e:?}");
    d.stop().await;
}
