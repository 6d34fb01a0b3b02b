//! The send through the outbox: the package is queued when the recording is finished and
//! delivered in the background; the send step waits for the data centre's "print-ready";
//! a failed send gives a receipt while the outbox keeps trying, and the card is printed on
//! the return visit. With a real broker (nats-server) and the data-centre simulator
//! (`rekam-sim datacentre`), a rekamd killed in the middle of a delivery delivers exactly
//! once.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use rekam_api::pb;
use rekam_tests::*;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_delivers_after_the_network_returns_and_the_card_is_printed_on_return() {
    let d = TestDaemon::start().await;
    let mut c = d.enroll();
    d.fault("datacentre", "unavailable").await;
    let id = recorded(&d).await;
    // Queued when the recording was finished; the attempts fail.
    let e = d.get(&id).await;
    let q = e.delivery.expect("queued with the recording");
    assert!(q.size > 10_000, "the package: {q:?}");
    assert!(q.queue_time.is_some());
    let err = c.send(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert_eq!(reason(&err), "DATA_CENTRE_UNAVAILABLE");
    assert!(
        err.message().contains("outbox keeps trying"),
        "{}",
        err.message()
    );
    let waiting = c
        .list_deliveries(pb::ListDeliveriesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].enrollment, id);
    let w = waiting[0].state.as_ref().unwrap();
    assert!(w.attempts >= 1, "{w:?}");
    assert!(w.last_error.starts_with("DATA_CENTRE_UNAVAILABLE"), "{w:?}");
    assert!(w.next_attempt_time.is_some() && w.deliver_time.is_none());
    let receipt = c
        .issue_receipt(step(&id))
        .await
        .unwrap()
        .into_inner()
        .receipt
        .unwrap()
        .number;

    // The network returns: the outbox delivers on its own, without the officer.
    d.clear("datacentre").await;
    let mut ready = None;
    for _ in 0..200 {
        let e = d.get(&id).await;
        if let Some(s) = e.delivery.filter(|s| !s.print_ready_reference.is_empty()) {
            ready = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready = ready.expect("delivered and answered within 20 s");
    assert!(ready.deliver_time.is_some() && ready.next_attempt_time.is_none());
    assert!(ready.last_error.is_empty());
    assert!(!ready.received_reference.is_empty());
    assert!(
        c.list_deliveries(pb::ListDeliveriesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .deliveries
            .is_empty(),
        "nothing waits"
    );

    // The applicant returns with the receipt: found by its number, the card is finished.
    let found = c
        .list_enrollments(pb::ListEnrollmentsRequest {
            receipt_number: receipt,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .enrollments;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, id);
    let e = c.send(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Sent);
    assert_eq!(e.send_reference, ready.print_ready_reference);
    c.print(step(&id)).await.unwrap();
    c.encode(step(&id)).await.unwrap();
    c.hand_over(step(&id)).await.unwrap();
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_verdict_blocks_the_card_and_says_why() {
    let d = TestDaemon::start().await;
    let mut c = d.enroll();
    d.fault("datacentre", "duplicate").await;
    let id = recorded(&d).await;
    let err = c.send(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert_eq!(reason(&err), "DATA_CENTRE_DUPLICATE");
    let info = tonic_types::StatusExt::get_error_details(&err)
        .error_info()
        .cloned()
        .unwrap();
    assert_eq!(info.metadata["duplicate_reason"], "NIK_HAS_CARD");
    let e = d.get(&id).await;
    assert_eq!(e.delivery.unwrap().duplicate_reason, "NIK_HAS_CARD");
    assert_eq!(
        c.print(step(&id)).await.unwrap_err().code(),
        Code::FailedPrecondition,
        "no card for a duplicate"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_package_is_reported_at_once() {
    let d = TestDaemon::start().await;
    d.fault("datacentre", "reject").await;
    let id = recorded(&d).await;
    let err = d.enroll().send(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert_eq!(reason(&err), "DATA_CENTRE_REJECTED");
    d.stop().await;
}

/// `rekam-sim datacentre`, from the target folder.
struct DataCentreSim {
    sim: SimProcess,
}

impl DataCentreSim {
    fn start(store: &Path, extra: &[&str]) -> DataCentreSim {
        let mut args: Vec<&std::ffi::OsStr> =
            ["--http", "127.0.0.1:0", "--print-delay", "50ms", "--store"]
                .iter()
                .map(std::ffi::OsStr::new)
                .collect();
        args.push(store.as_os_str());
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        DataCentreSim {
            sim: SimProcess::start("datacentre", &args),
        }
    }

    async fn count(&self) -> u64 {
        let body = reqwest::get(format!("{}/v1/deliveries", self.sim.url))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        v["count"].as_u64().unwrap()
    }
}

/// Creates an enrollment on a process and records it (up to and including the finish).
async fn record(p: &Rekamd) -> String {
    let mut c = p.enroll();
    let id = c
        .create_enrollment(pb::CreateEnrollmentRequest {
            applicant: Some(applicant()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .name;
    c.check_documents(pb::CheckDocumentsRequest {
        name: id.clone(),
        kk_number_on_document: applicant().kk_number,
        ..Default::default()
    })
    .await
    .unwrap();
    c.verify_identity(step(&id)).await.unwrap();
    c.capture_face(step(&id)).await.unwrap();
    c.capture_fingerprints(pb::CaptureFingerprintsStepRequest {
        name: id.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    c.capture_signature(step(&id)).await.unwrap();
    c.finish_recording(step(&id)).await.unwrap();
    id
}

/// Kills rekamd as its outbox delivers, restarts it, and checks the data centre counted
/// the package once and the card can be printed.
async fn killed_mid_delivery_delivers_once(driver: &str, url: &str, dc: &DataCentreSim) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = d.join("rekamd.toml");
    std::fs::write(
        &config,
        format!(
            "[station]\nsend_wait_secs = 15.0\n\n[datacentre]\ndriver = \"{driver}\"\nurl = \"{url}\"\n"
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_string();
    let p = Rekamd::start_with(d, 0.0, &["--config", &config]).await;
    let id = record(&p).await;
    // Killed right after the package was queued: the outbox is mid-delivery, or has
    // delivered without recording it.
    p.kill();
    let p = Rekamd::start_with(d, 0.0, &["--config", &config]).await;
    let e = p
        .enroll()
        .send(step(&id))
        .await
        .expect("sent after the restart")
        .into_inner();
    assert_eq!(stage_name(&e), "ENROLLMENT_STAGE_SENT");
    let state = p.get(&id).await.delivery.unwrap();
    assert!(!state.print_ready_reference.is_empty(), "{state:?}");
    assert_eq!(dc.count().await, 1, "the data centre counted one delivery");
    p.enroll().print(step(&id)).await.expect("print");
    p.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_nats_jetstream_a_kill_mid_delivery_delivers_exactly_once() {
    let nats = rekam_outbox::testing::NatsServer::start()
        .expect("nats-server must start (tests/run.sh installs it)");
    let store = tempfile::tempdir().unwrap();
    let dc = DataCentreSim::start(&store.path().join("dc"), &["--nats", &nats.url()]);
    killed_mid_delivery_delivers_once("nats", &nats.url(), &dc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_an_upload_dropped_midway_and_a_kill_deliver_exactly_once() {
    let store = tempfile::tempdir().unwrap();
    // The first upload's connection is dropped after half the body.
    let dc = DataCentreSim::start(&store.path().join("dc"), &["--fault", "drop-mid-upload=1"]);
    let url = dc.sim.url.clone();
    killed_mid_delivery_delivers_once("http", &url, &dc).await;
}
