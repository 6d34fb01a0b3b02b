//! Every fault the API can report ends in a clear gRPC error and leaves the enrollment
//! in a state from which it continues, with nothing recorded lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures::StreamExt;
use rekam_api::pb;
use rekam_tests::*;
use tonic::Code;
use tonic_types::StatusExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printer_faults_fail_the_print_and_a_retry_prints() {
    let d = TestDaemon::start().await;
    let mut c = d.enroll();
    let id = recorded(&d).await;
    c.send(step(&id)).await.unwrap();
    for fault in ["ribbon_out", "no_cards", "cover_open", "jam"] {
        d.fault("printer0", fault).await;
        let err = c.print(step(&id)).await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition, "{fault}: {err:?}");
        let e = d.get(&id).await;
        assert_eq!(stage(&e), pb::EnrollmentStage::Sent, "{fault}");
        assert!(!e.last_error.is_empty());
        assert_eq!(
            e.recording.as_ref().unwrap().fingers.len(),
            10,
            "recording kept"
        );
        d.clear("printer0").await;
    }
    let e = c.print(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Printed);
    assert!(e.last_error.is_empty());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_pulled_mid_encode_fails_verification_and_a_retry_encodes() {
    let d = TestDaemon::start().await;
    let mut c = d.enroll();
    let id = recorded(&d).await;
    c.send(step(&id)).await.unwrap();
    c.print(step(&id)).await.unwrap();

    d.fault("encoder0", "card_pulled").await;
    let err = c.encode(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("removed"), "{}", err.message());
    assert_eq!(stage(&d.get(&id).await), pb::EnrollmentStage::Printed);

    // The card is gone until it is put back.
    let err = c.encode(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    d.clear("encoder0").await;
    let e = c.encode(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Encoded);

    d.fault("encoder0", "no_card").await;
    let status = d
        .encoder()
        .get_card_status(pb::GetCardStatusRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(status.reader_present && !status.card_present);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unplugged_scanner_keeps_the_face_and_recapture_works_after_replug() {
    let d = TestDaemon::start().await;
    let mut c = d.enroll();
    let id = verified(&d).await;
    c.capture_face(step(&id)).await.unwrap();

    d.fault("fingerprint0", "disconnect").await;
    let fp = pb::CaptureFingerprintsStepRequest {
        name: id.clone(),
        missing: vec![],
        singles: vec![],
        ..Default::default()
    };
    let err = c.capture_fingerprints(fp.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    let e = d.get(&id).await;
    assert!(
        e.recording.as_ref().unwrap().face,
        "the face stays recorded"
    );
    assert_eq!(stage(&e), pb::EnrollmentStage::IdentityVerified);

    d.clear("fingerprint0").await;
    let e = c.capture_fingerprints(fp).await.unwrap().into_inner();
    assert_eq!(e.recording.unwrap().fingers.len(), 10);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poor_fingerprints_block_the_recording_until_recaptured() {
    let d = TestDaemon::start().await;
    let mut c = d.enroll();
    let id = verified(&d).await;
    c.capture_face(step(&id)).await.unwrap();
    c.capture_signature(step(&id)).await.unwrap();
    d.fault("fingerprint0", "poor_quality").await;
    let fp = pb::CaptureFingerprintsStepRequest {
        name: id.clone(),
        ..Default::default()
    };
    // Below the minimum quality after every attempt: the step fails, nothing recorded.
    let err = c.capture_fingerprints(fp.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("minimum quality"),
        "{}",
        err.message()
    );
    let e = d.get(&id).await;
    assert!(e.recording.unwrap().fingers.is_empty());
    let err = c.finish_recording(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("fingerprints"), "{}", err.message());

    d.clear("fingerprint0").await;
    let e = c.capture_fingerprints(fp).await.unwrap().into_inner();
    let fingers = e.recording.unwrap().fingers;
    assert!(
        fingers
            .iter()
            .all(|f| !f.recapture_advised && f.attempts == 1)
    );
    let e = c.finish_recording(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Recorded);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_honours_the_deadline_and_frees_the_scanner() {
    let d = TestDaemon::start().await;
    d.fault("fingerprint0", "no_finger").await;
    let mut req = tonic::Request::new(pb::CaptureFingerprintRequest {
        name: String::new(),
        position: pb::FingerPosition::RightIndex as i32,
        missing: vec![],
    });
    req.set_timeout(Duration::from_millis(300));
    let err = d.fingerprint().capture(req).await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    // The scanner is ready again, and works once the finger is placed.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let devs = d
        .devices()
        .list_devices(pb::ListDevicesRequest {})
        .await
        .unwrap()
        .into_inner();
    let fp = devs
        .devices
        .iter()
        .find(|x| x.name == "devices/fingerprint0")
        .unwrap();
    assert_eq!(
        fp.state.as_ref().unwrap().kind,
        pb::DeviceStateKind::Ready as i32
    );
    d.clear("fingerprint0").await;
    let cap = d
        .fingerprint()
        .capture(pb::CaptureFingerprintRequest {
            name: String::new(),
            position: pb::FingerPosition::RightIndex as i32,
            missing: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cap.image.unwrap().ppi, 500);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_cancels_a_capture_frees_the_scanner() {
    let d = TestDaemon::start().await;
    d.fault("fingerprint0", "no_finger").await;
    let mut fp = d.fingerprint();
    let call = tokio::spawn(async move {
        fp.capture(pb::CaptureFingerprintRequest {
            name: String::new(),
            position: pb::FingerPosition::RightFour as i32,
            missing: vec![],
        })
        .await
    });
    // Wait until the scanner is busy, then drop the call.
    assert!(
        d.wait_for_state("fingerprint0", pb::DeviceStateKind::Busy, 100)
            .await,
        "the capture made the scanner busy"
    );
    call.abort();
    assert!(
        d.wait_for_state("fingerprint0", pb::DeviceStateKind::Ready, 200)
            .await,
        "cancelling the call ended the capture"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_signature_and_siak_faults() {
    let d = TestDaemon::start().await;
    let mut c = d.enroll();
    let id = created(&d).await;
    c.check_documents(pb::CheckDocumentsRequest {
        name: id.clone(),
        kk_number_on_document: "3171010101090001".into(),
        ..Default::default()
    })
    .await
    .unwrap();

    d.fault("siak", "unavailable").await;
    assert_eq!(
        c.verify_identity(step(&id)).await.unwrap_err().code(),
        Code::Unavailable
    );
    d.clear("siak").await;
    d.fault("siak", "not_registered").await;
    assert_eq!(
        c.verify_identity(step(&id)).await.unwrap_err().code(),
        Code::NotFound
    );
    d.clear("siak").await;
    d.fault("siak", "mismatch").await;
    assert_eq!(
        c.verify_identity(step(&id)).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    d.clear("siak").await;
    let e = c.verify_identity(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::IdentityVerified);

    d.fault("camera0", "lens_covered").await;
    let err = c.capture_face(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    // The covered lens's photo fails the face checks (no face found in the dark, or one
    // too dark), each named in the metadata and given with its value and limit.
    assert_eq!(reason(&err), "FACE_CHECK_FAILED");
    let checks = err
        .get_error_details()
        .error_info()
        .and_then(|i| i.metadata.get("checks").cloned())
        .unwrap_or_default();
    assert!(
        checks.contains("face_count") || checks.contains("exposure"),
        "{checks}"
    );
    for name in checks.split(',') {
        assert!(
            err.message().contains(&format!("({name}): ")),
            "{}",
            err.message()
        );
    }
    assert!(err.message().contains("(needs "), "{}", err.message());
    d.clear("camera0").await;
    d.fault("camera0", "disconnect").await;
    assert_eq!(
        c.capture_face(step(&id)).await.unwrap_err().code(),
        Code::Unavailable
    );
    d.clear("camera0").await;
    let e = c.capture_face(step(&id)).await.unwrap().into_inner();
    // The recorded photo's checks, all passed, and the token portrait.
    let r = e.recording.as_ref().unwrap();
    assert_eq!(r.face_checks.len(), 10, "{:?}", r.face_checks);
    assert!(r.face_checks.iter().all(|c| c.passed && c.value.is_some()));
    let roll = r.face_checks.iter().find(|c| c.name == "roll").unwrap();
    assert_eq!(
        (roll.unit.as_str(), roll.min, roll.max),
        ("deg", Some(-5.0), Some(5.0))
    );
    assert!(r.face_token);

    d.fault("signature0", "pen_missing").await;
    let err = c.capture_signature(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    d.clear("signature0").await;
    c.capture_signature(step(&id)).await.unwrap();
    let e = d.get(&id).await;
    assert!(e.recording.as_ref().unwrap().face && e.recording.as_ref().unwrap().signature);

    // Unknown faults and targets are explained.
    let err = d
        .sim()
        .inject_fault(pb::InjectFaultRequest {
            target: "devices/printer0".into(),
            fault: "gremlins".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("ribbon_out"), "{}", err.message());
    let err = d
        .sim()
        .inject_fault(pb::InjectFaultRequest {
            target: "devices/toaster0".into(),
            fault: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_send_gives_a_receipt_and_the_card_is_finished_on_return() {
    let d = TestDaemon::start().await;
    let mut c = d.enroll();
    // The network is down when the recording is finished (its package is queued then).
    d.fault("datacentre", "unavailable").await;
    let id = recorded(&d).await;
    let err = c.send(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    let e = d.get(&id).await;
    assert_eq!(stage(&e), pb::EnrollmentStage::Recorded);
    // Printing waits for a successful send.
    assert_eq!(
        c.print(step(&id)).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    let e = c.issue_receipt(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::ReceiptIssued);
    let receipt = e.receipt.unwrap();
    assert!(receipt.number.starts_with("BP-"));
    assert!(receipt.text.contains("3171014708900003"));
    assert!(
        receipt
            .collect_from
            .is_some_and(|d| d.year >= 2024 && (1..=12).contains(&d.month))
    );
    assert_eq!(
        c.print(step(&id)).await.unwrap_err().code(),
        Code::FailedPrecondition
    );

    // The applicant comes back; the network is back.
    d.clear("datacentre").await;
    let e = c.send(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Sent);
    assert_eq!(
        e.recording.unwrap().fingers.len(),
        10,
        "nothing recorded was lost"
    );
    c.print(step(&id)).await.unwrap();
    c.encode(step(&id)).await.unwrap();
    let e = c.hand_over(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::HandedOver);
    assert!(e.receipt.is_some(), "the receipt stays on file");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_print_past_its_deadline_cancels_the_job_and_can_be_retried() {
    // Real printer timing, scaled: a two-sided card takes about 24 s x 0.25 = 6 s. (At
    // 0.05, 1.2 s, rendering and submitting sometimes took longer than the deadline on a
    // loaded 2-core machine, with this binary's other tests running beside it.)
    let d = TestDaemon::start_with(|c| {
        c.simulation.time_scale = 0.25;
        c.station.send_wait_secs = 20.0;
    })
    .await;
    let mut c = d.enroll();
    let id = recorded(&d).await;
    c.send(step(&id)).await.unwrap();
    let mut req = tonic::Request::new(step(&id));
    // Long enough to render the card and submit the job, short of the 6 s it prints.
    req.set_timeout(Duration::from_millis(3000));
    let err = c.print(req).await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    let e = d.get(&id).await;
    assert_eq!(stage(&e), pb::EnrollmentStage::Sent);
    let job = e.print_job.clone();
    assert!(job.is_empty(), "a failed step commits nothing: {job}");
    // The history says the step timed out, with the job it had submitted.
    let h = e.history.last().unwrap();
    assert_eq!(h.step, pb::Step::Print as i32);
    assert_eq!(h.status, pb::StepStatus::TimedOut as i32);
    assert!(
        !h.print_job.is_empty(),
        "the job was submitted before the deadline"
    );
    // The abandoned job was cancelled, not left printing.
    let mut cancelled = false;
    for _ in 0..100 {
        let jobs = d
            .printer()
            .watch_job(pb::WatchPrintJobRequest {
                name: h.print_job.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .collect::<Vec<_>>()
            .await;
        if let Some(Ok(last)) = jobs.last()
            && last.state == pb::PrintJobState::Cancelled as i32
        {
            cancelled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(cancelled, "{} was cancelled", h.print_job);
    let e = c.print(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Printed);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stations_face_limits_are_the_ones_checked() {
    // [face.limits] min_eye_distance far above what the camera gives: refused on it alone.
    let d = TestDaemon::start_with(|c| c.face.limits.min_eye_distance = 5000.0).await;
    let id = verified(&d).await;
    let err = d.enroll().capture_face(step(&id)).await.unwrap_err();
    assert_eq!(reason(&err), "FACE_CHECK_FAILED");
    assert!(
        err.message().contains("(eye_distance)") && err.message().contains("needs ≥ 5000"),
        "{}",
        err.message()
    );
    assert!(!err.message().contains("(roll)"), "{}", err.message());
}
