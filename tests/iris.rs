//! The iris camera through rekamd's API (`rekam.v1.IrisService`): rekamd configured with
//! `iris:sim` captures both eyes, one eye with the other excepted, and one eye alone, each
//! eye an ISO/IEC 19794-6:2011 record that `rekam_biometrics::iso19794_6` parses to the
//! eye, size and quality the answer gives; the simulator's faults come back as gRPC codes;
//! the default station has no iris camera. rekamd with `iris:sbi:PORT` against rekam-sbi's
//! simulated SBI service captures both eyes, the signatures and hash chain verified by the
//! driver.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use rekam_api::pb;
use rekam_biometrics::iso19794_6::{EyeLabel, IrisImageRecord};
use rekam_tests::*;
use tonic::Code;

/// The station with an iris camera of `selector` as `iris0`, with `options`.
fn with_iris(c: &mut rekamd::Config, selector: &str, options: &[(&str, String)]) {
    c.devices.push(rekamd::config::DeviceConfig {
        selector: selector.parse().unwrap(),
        id: Some("iris0".into()),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    });
}

async fn capture(
    d: &TestDaemon,
    eyes: &[pb::Eye],
    missing: &[pb::Eye],
) -> Result<pb::CaptureIrisResponse, tonic::Status> {
    d.iris()
        .capture(pb::CaptureIrisRequest {
            name: String::new(),
            eyes: eyes.iter().map(|e| *e as i32).collect(),
            missing: missing.iter().map(|e| *e as i32).collect(),
        })
        .await
        .map(|r| r.into_inner())
}

/// Checks a captured eye's record against the answer; returns its quality.
fn check_eye(e: &pb::IrisEyeResult, eye: pb::Eye) -> u32 {
    assert_eq!(e.eye(), eye);
    assert!(!e.excepted);
    let rec = IrisImageRecord::parse(&e.iso_record).unwrap();
    assert_eq!(rec.images.len(), 1);
    let img = &rec.images[0];
    let label = match eye {
        pb::Eye::Right => EyeLabel::Right,
        _ => EyeLabel::Left,
    };
    assert_eq!(img.eye, label);
    assert_eq!(
        (u32::from(img.width), u32::from(img.height)),
        (e.width, e.height)
    );
    assert_eq!(img.bit_depth, 8);
    assert_eq!(u32::from(img.quality[0].score), e.quality);
    assert!(img.capture_time.is_some());
    e.quality
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekamd_with_iris_sim_captures_both_eyes_and_one_with_the_other_excepted() {
    // The default station has no iris camera.
    let plain = TestDaemon::start().await;
    let err = capture(&plain, &[], &[]).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    plain.stop().await;

    let d = TestDaemon::start_with(|c| with_iris(c, "iris:sim", &[])).await;
    let dev = d.device("iris0").await;
    assert_eq!(dev.device_class(), pb::DeviceClass::IrisCamera);
    let Some(pb::device_capabilities::Kind::Iris(caps)) =
        dev.capabilities.as_ref().and_then(|c| c.kind.clone())
    else {
        panic!("no iris capabilities: {dev:?}");
    };
    assert_eq!((caps.image_width, caps.image_height), (640, 480));

    // Both eyes (empty = both), right then left.
    let c = capture(&d, &[], &[]).await.unwrap();
    assert_eq!(c.eyes.len(), 2);
    assert!(check_eye(&c.eyes[0], pb::Eye::Right) >= 70);
    assert!(check_eye(&c.eyes[1], pb::Eye::Left) >= 70);
    assert_eq!((c.eyes[0].width, c.eyes[0].height), (640, 480));
    assert!(c.capture_time.is_some());

    // One eye, the other excepted.
    let c = capture(&d, &[pb::Eye::Right, pb::Eye::Left], &[pb::Eye::Right])
        .await
        .unwrap();
    assert_eq!(c.eyes.len(), 2);
    assert_eq!(c.eyes[0].eye(), pb::Eye::Right);
    assert!(c.eyes[0].excepted && c.eyes[0].iso_record.is_empty());
    check_eye(&c.eyes[1], pb::Eye::Left);

    // One eye alone.
    let c = capture(&d, &[pb::Eye::Left], &[]).await.unwrap();
    assert_eq!(c.eyes.len(), 1);
    check_eye(&c.eyes[0], pb::Eye::Left);

    // Requests that cannot be taken.
    for (eyes, missing) in [
        (vec![pb::Eye::Left], vec![pb::Eye::Left]),
        (vec![pb::Eye::Left], vec![pb::Eye::Right]),
        (vec![pb::Eye::Unspecified], vec![]),
    ] {
        let err = capture(&d, &eyes, &missing).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{eyes:?} {missing:?}");
    }

    // Faults: poor quality with the eyelids half closed; a disconnected camera.
    d.fault("iris0", "eyelid_occlusion").await;
    let c = capture(&d, &[], &[]).await.unwrap();
    for e in &c.eyes {
        assert!(e.quality < 40, "{}", e.quality);
    }
    d.clear("iris0").await;
    d.fault("iris0", "disconnect").await;
    let err = capture(&d, &[], &[]).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    d.clear("iris0").await;
    assert_eq!(capture(&d, &[], &[]).await.unwrap().eyes.len(), 2);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekamd_with_iris_sbi_captures_both_eyes_from_the_simulated_sbi_service() {
    let dir = tempfile::tempdir().unwrap();
    let pki =
        rekam_sbi::compliance::TestPki::generate("SBI iris CA", "rekam SBI iris device").unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let svc = rekam_sbi::SbiService::start(
        rekam_sbi::ServiceConfig::new(Some(pki.device_key().unwrap())),
        Arc::new(rekam_sbi::SimBackend::new()),
    )
    .await
    .unwrap();
    let port = svc.port();
    let ca_path = Path::new(&ca).display().to_string();
    let d = TestDaemon::start_with(|c| {
        with_iris(c, &format!("iris:sbi:{port}"), &[("ca", ca_path.clone())])
    })
    .await;
    let dev = d.device("iris0").await;
    assert_eq!(dev.driver, "sbi");
    assert_eq!(dev.serial, "REKAMSIMIRIS0001", "{dev:?}");
    assert_eq!(dev.device_class(), pb::DeviceClass::IrisCamera);

    let c = capture(&d, &[], &[]).await.unwrap();
    assert_eq!(c.eyes.len(), 2);
    check_eye(&c.eyes[0], pb::Eye::Right);
    check_eye(&c.eyes[1], pb::Eye::Left);
    assert_eq!((c.eyes[0].width, c.eyes[0].height), (480, 480));

    let c = capture(&d, &[], &[pb::Eye::Left]).await.unwrap();
    check_eye(&c.eyes[0], pb::Eye::Right);
    assert!(c.eyes[1].excepted);
    d.stop().await;

    // A device CA that did not sign the device: the camera is not trusted.
    let other = rekam_sbi::compliance::TestPki::generate("other CA", "x").unwrap();
    let other_ca = dir.path().join("other.pem");
    std::fs::write(&other_ca, &other.ca_pem).unwrap();
    let other_path = other_ca.display().to_string();
    let d = TestDaemon::start_with(|c| {
        with_iris(
            c,
            &format!("iris:sbi:{port}"),
            &[("ca", other_path.clone())],
        )
    })
    .await;
    assert!(capture(&d, &[], &[]).await.is_err());
    d.stop().await;
}
