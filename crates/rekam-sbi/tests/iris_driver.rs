//! The `iris:sbi:PORT` driver against rekam's SBI service over the simulated two-iris camera:
//! both eyes, one eye with the other excepted, one eye alone, every answer's signature and
//! hash chain verified by the driver's client; the images decoded from the ISO/IEC 19794-6
//! records; the device's faults as rekam's errors and states; an untrusted CA refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use rekam_core::{
    AnyDevice, DeviceClass, DeviceError, DeviceState, DriverFactory, Eye, IrisCamera, IrisEye,
    OpenOptions, Selector,
};
use rekam_sbi::{SBI_IRIS_DRIVER, SimFault};
use std::sync::Arc;

/// Opens `iris:sbi:PORT` trusting `ca_pem`, with extra options.
fn open(
    port: u16,
    ca_pem: &str,
    extra: &[(&str, &str)],
) -> (Arc<dyn IrisCamera>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let mut opts = OpenOptions::new("iris0").with_param("ca", ca.to_str().unwrap());
    for (k, v) in extra {
        opts = opts.with_param(*k, *v);
    }
    let selector: Selector = format!("iris:sbi:{port}").parse().unwrap();
    assert_eq!(selector.class, DeviceClass::Iris);
    let AnyDevice::Iris(cam) = SBI_IRIS_DRIVER.open(&selector, &opts).unwrap() else {
        panic!("not an iris camera");
    };
    (cam, dir)
}

fn captured(e: &IrisEye) -> (Eye, u8, u32, u32) {
    match e {
        IrisEye::Captured {
            eye,
            image,
            quality,
        } => {
            assert_eq!(
                image.pixels.len() as u32,
                image.width * image.height,
                "8-bit grey"
            );
            (*eye, *quality, image.width, image.height)
        }
        IrisEye::Excepted { eye } => panic!("{eye:?} excepted"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_eyes_one_eye_and_an_excepted_eye_through_the_driver() {
    let pki = pki("rekam test SBI CA");
    let (svc, _sim) = service(Some(pki.key.clone())).await;
    let (cam, _dir) = open(svc.port(), &pki.ca_pem, &[]);
    let info = cam.info();
    assert_eq!(
        (info.class, info.driver.as_str()),
        (DeviceClass::Iris, "sbi")
    );
    assert_eq!(info.model, "SIM-IRIS2");
    assert_eq!(info.serial, "REKAMSIMIRIS0001");
    assert_eq!(cam.state(), DeviceState::Ready);

    let c = cam.capture(&Eye::BOTH, &[]).await.unwrap();
    assert_eq!(c.eyes.len(), 2);
    let (r, l) = (captured(&c.eyes[0]), captured(&c.eyes[1]));
    assert_eq!((r.0, l.0), (Eye::Right, Eye::Left));
    for (_, q, w, h) in [r, l] {
        assert!(q >= 40, "quality {q} below the requested 40");
        assert_eq!((w, h), (480, 480));
    }
    assert_eq!(cam.state(), DeviceState::Ready);

    let c = cam.capture(&Eye::BOTH, &[Eye::Left]).await.unwrap();
    assert_eq!(captured(&c.eyes[0]).0, Eye::Right);
    assert_eq!(c.eyes[1], IrisEye::Excepted { eye: Eye::Left });

    let c = cam.capture(&[Eye::Left], &[]).await.unwrap();
    assert_eq!(c.eyes.len(), 1);
    assert_eq!(captured(&c.eyes[0]).0, Eye::Left);

    assert!(matches!(
        cam.capture(&Eye::BOTH, &Eye::BOTH).await,
        Err(DeviceError::InvalidArgument(_))
    ));
    let report = cam.self_test().await;
    assert!(
        report
            .checks
            .iter()
            .all(|c| c.outcome == rekam_core::CheckOutcome::Pass),
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_s_faults_become_rekam_s() {
    let pki = pki("rekam test SBI CA");
    let (svc, sim) = service(Some(pki.key.clone())).await;
    let (cam, _dir) = open(
        svc.port(),
        &pki.ca_pem,
        &[("quality", "60"), ("timeout_ms", "400"), ("poll_ms", "50")],
    );
    // Poor quality: the best frame at the timeout, below the requested score.
    sim.inject(SimFault::LowQuality);
    let c = cam.capture(&Eye::BOTH, &[]).await.unwrap();
    for e in &c.eyes {
        let q = captured(e).1;
        assert!(q <= 30, "quality {q}");
    }
    sim.clear(SimFault::LowQuality);
    // No eye: SBI's 101 at the timeout.
    sim.inject(SimFault::NoBiometric);
    let err = cam.capture(&Eye::BOTH, &[]).await.unwrap_err();
    assert!(!matches!(err, DeviceError::Disconnected { .. }), "{err}");
    sim.clear(SimFault::NoBiometric);
    // Not ready: disconnected.
    sim.inject(SimFault::NotReady);
    let err = cam.capture(&Eye::BOTH, &[]).await.unwrap_err();
    assert!(matches!(err, DeviceError::Disconnected { .. }), "{err}");
    // The state follows the device's status at the next poll.
    let mut rx = cam.watch_state();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        rx.wait_for(|s| *s == DeviceState::Disconnected),
    )
    .await
    .expect("Disconnected within 5 s")
    .unwrap();
    sim.clear(SimFault::NotReady);
    assert_eq!(cam.capture(&Eye::BOTH, &[]).await.unwrap().eyes.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_signed_under_another_ca_is_not_trusted() {
    let pki = pki("rekam test SBI CA");
    let other = common::pki("another CA");
    let (svc, _sim) = service(Some(pki.key.clone())).await;
    let (cam, _dir) = open(svc.port(), &other.ca_pem, &[]);
    assert!(
        matches!(cam.state(), DeviceState::Error(_)),
        "{:?}",
        cam.state()
    );
    assert!(cam.capture(&Eye::BOTH, &[]).await.is_err());
}
