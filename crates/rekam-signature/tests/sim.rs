//! Behaviour of the simulated signature pad.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use rekam_core::sim::Timing;
use rekam_core::{CheckOutcome, Device, DeviceState, ErrorKind, PenSample, SignaturePad};
use rekam_signature::{GEOMETRY, SignatureSim};

fn sim(seed: u64) -> SignatureSim {
    SignatureSim::new("signature0", seed, Timing::INSTANT)
}

async fn sign_all(s: &SignatureSim) -> Vec<PenSample> {
    s.sign().map(|r| r.unwrap()).collect().await
}

#[tokio::test]
async fn identity_geometry_and_faults() {
    let s = sim(1);
    assert_eq!(s.geometry(), GEOMETRY);
    assert_eq!(
        (GEOMETRY.width, GEOMETRY.height, GEOMETRY.units_per_mm),
        (2000.0, 1000.0, 20.0)
    );
    assert!(s.info().simulated);
    assert_eq!(s.info().driver, "sim");
    let names: Vec<_> = s
        .simulator()
        .unwrap()
        .faults()
        .iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["disconnect", "hardware_error", "pen_missing"]);
    assert!(s.self_test().await.passed());
}

#[tokio::test]
async fn a_signature_streams_a_plausible_trace_and_stays_as_ink() {
    let s = sim(7);
    let samples = sign_all(&s).await;
    assert!(samples.len() > 200, "{} samples", samples.len());
    assert!(samples.windows(2).all(|w| w[0].t_ms < w[1].t_ms));
    // 200 Hz: 5 ms apart.
    assert!(samples.windows(2).all(|w| w[1].t_ms - w[0].t_ms <= 6));
    assert!(samples.iter().all(|p| (0.0..=2000.0).contains(&p.x)
        && (0.0..=1000.0).contains(&p.y)
        && (0.0..=1.0).contains(&p.pressure)));
    assert_eq!(samples.first().unwrap().pressure, 0.0, "starts hovering");
    assert!(samples.iter().filter(|p| p.pressure > 0.0).count() > 100);
    assert_eq!(s.state(), DeviceState::Ready);

    let ink = s.take().await.unwrap();
    assert_eq!(ink, samples);
    assert_eq!(s.take().await.unwrap_err(), rekam_core::DeviceError::NoInk);
}

#[tokio::test]
async fn signatures_are_deterministic_per_seed_and_count() {
    let a = sim(3);
    let b = sim(3);
    let a1 = sign_all(&a).await;
    assert_eq!(a1, sign_all(&b).await);
    let a2 = sign_all(&a).await;
    assert_ne!(a1, a2, "the next signature differs");
    assert_eq!(a.signatures_started(), 2);
    // Signature n of seed s is signature 0 of seed s + n.
    assert_eq!(a2, sign_all(&sim(4)).await);
    // A new signature replaces the ink.
    assert_eq!(a.take().await.unwrap(), a2);
}

#[tokio::test]
async fn clear_discards_the_ink() {
    let s = sim(3);
    assert_eq!(s.take().await.unwrap_err().kind(), ErrorKind::Precondition);
    sign_all(&s).await;
    SignaturePad::clear(&s).await.unwrap();
    assert_eq!(s.take().await.unwrap_err(), rekam_core::DeviceError::NoInk);
}

#[tokio::test]
async fn a_second_sign_while_one_runs_is_busy() {
    let s = sim(3);
    let mut first = s.sign();
    assert!(first.next().await.unwrap().is_ok());
    assert_eq!(s.state(), DeviceState::Busy);
    let mut second = s.sign();
    assert_eq!(
        second.next().await.unwrap().unwrap_err().kind(),
        ErrorKind::Busy
    );
    assert!(second.next().await.is_none());
    // Neither clear nor take while signing.
    assert_eq!(
        SignaturePad::clear(&s).await.unwrap_err().kind(),
        ErrorKind::Busy
    );
    assert_eq!(s.take().await.unwrap_err().kind(), ErrorKind::Busy);
    // The first runs to its end and frees the pad.
    let rest = first.count().await;
    assert!(rest > 100);
    assert_eq!(s.state(), DeviceState::Ready);
}

#[tokio::test]
async fn dropping_a_signature_midway_frees_the_pad_and_keeps_partial_ink() {
    let s = sim(3);
    let partial: Vec<_> = s.sign().take(150).map(|r| r.unwrap()).collect().await;
    assert_eq!(s.state(), DeviceState::Ready);
    assert_eq!(s.take().await.unwrap(), partial);
}

#[tokio::test]
async fn a_deadline_cancels_a_real_time_signature() {
    let s = SignatureSim::new("signature0", 3, Timing::REAL);
    let r = tokio::time::timeout(Duration::from_millis(60), s.sign().count()).await;
    assert!(r.is_err());
    assert_eq!(s.state(), DeviceState::Ready);
}

#[tokio::test]
async fn samples_come_in_scaled_real_time() {
    let s = SignatureSim::new("signature0", 5, Timing::new(0.1));
    let started = Instant::now();
    let samples = sign_all(&s).await;
    let nominal = Duration::from_millis(u64::from(samples.last().unwrap().t_ms));
    let took = started.elapsed();
    assert!(
        took >= nominal.mul_f64(0.1),
        "{took:?} for {nominal:?} nominal"
    );
    assert!(took < nominal, "{took:?} for {nominal:?} nominal");
}

#[tokio::test]
async fn pen_missing_is_a_hardware_error_for_the_technician() {
    let s = sim(3);
    let ctl = s.simulator().unwrap();
    ctl.inject("pen_missing").unwrap();
    let items: Vec<_> = s.sign().collect().await;
    assert_eq!(items.len(), 1);
    let e = items.into_iter().next().unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Hardware);
    assert!(e.to_string().contains("pen"), "{e}");
    assert_eq!(s.state(), DeviceState::Ready);
    let report = s.self_test().await;
    let pen = report.checks.iter().find(|c| c.name == "pen").unwrap();
    assert_eq!(pen.outcome, CheckOutcome::Fail);
    ctl.clear();
    assert!(sign_all(&s).await.len() > 100);
}

#[tokio::test]
async fn disconnect_and_hardware_error_then_clear() {
    let s = sim(3);
    let ctl = s.simulator().unwrap();
    ctl.inject("disconnect").unwrap();
    assert_eq!(s.state(), DeviceState::Disconnected);
    let items: Vec<_> = s.sign().collect().await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].as_ref().unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    assert_eq!(s.take().await.unwrap_err().kind(), ErrorKind::Unavailable);
    let usb = s
        .self_test()
        .await
        .checks
        .into_iter()
        .find(|c| c.name == "usb")
        .unwrap();
    assert_eq!(usb.outcome, CheckOutcome::Fail);
    ctl.clear();
    assert_eq!(s.state(), DeviceState::Ready);

    ctl.inject("hardware_error").unwrap();
    assert!(matches!(s.state(), DeviceState::Error(_)));
    let first = s.sign().next().await.unwrap();
    assert_eq!(first.unwrap_err().kind(), ErrorKind::Hardware);
    assert!(!s.self_test().await.passed());
    ctl.clear();
    assert_eq!(s.state(), DeviceState::Ready);
    assert!(!sign_all(&s).await.is_empty());
}

#[tokio::test]
async fn unplugging_midway_ends_the_stream_with_an_error() {
    let s = sim(3);
    let mut stream = s.sign();
    for _ in 0..20 {
        stream.next().await.unwrap().unwrap();
    }
    s.simulator().unwrap().inject("disconnect").unwrap();
    assert_eq!(
        stream.next().await.unwrap().unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    assert!(stream.next().await.is_none());
    drop(stream);
    assert_eq!(s.state(), DeviceState::Disconnected);
}
