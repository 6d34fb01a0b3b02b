//! A whole enrollment over gRPC, and the procedure's ordering rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures::StreamExt;
use rekam_api::pb;
use rekam_tests::*;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_enrollment_goes_from_documents_to_hand_over() {
    let d = TestDaemon::start().await;
    let mut c = d.enroll();
    let e = c
        .create_enrollment(pb::CreateEnrollmentRequest {
            applicant: Some(applicant()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Created);
    let id = e.name.clone();

    // Watch the progress alongside.
    let mut watch = c
        .watch_enrollment(pb::WatchEnrollmentRequest {
            name: id.clone(),
            after_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(first.stage, pb::EnrollmentStage::Created as i32);
    let collector = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(Ok(ev)) = watch.next().await {
            events.push(ev);
        }
        events
    });

    let e = c
        .check_documents(pb::CheckDocumentsRequest {
            name: id.clone(),
            kk_number_on_document: "3171010101090001".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::DocumentsChecked);
    let e = c.verify_identity(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::IdentityVerified);
    let e = c.capture_face(step(&id)).await.unwrap().into_inner();
    let r = e.recording.unwrap();
    assert!(r.face);
    assert!(r.face_width >= 640 && r.face_height >= 480);
    let e = c
        .capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            name: id.clone(),
            missing: vec![],
            singles: vec![],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let fingers = e.recording.unwrap().fingers;
    assert_eq!(fingers.len(), 10, "ten fingers from the 4-4-2 slaps");
    let mut positions: Vec<i32> = fingers.iter().map(|f| f.position).collect();
    positions.sort();
    assert_eq!(positions, (1..=10).collect::<Vec<_>>());
    for f in &fingers {
        assert!(!f.missing);
        assert!(
            f.quality > 0 && f.quality <= 100,
            "finger {} quality {}",
            f.position,
            f.quality
        );
    }
    let e = c.capture_signature(step(&id)).await.unwrap().into_inner();
    assert!(e.recording.unwrap().signature_samples > 50);
    let e = c.finish_recording(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Recorded);
    let e = c.send(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Sent);
    assert!(e.send_reference.starts_with("DC-"));
    let e = c.print(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Printed);
    assert!(!e.print_job.is_empty());
    let e = c.encode(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Encoded);
    assert_eq!(e.card_uid.len(), 7);
    let e = c.hand_over(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::HandedOver);
    assert!(e.last_error.is_empty());
    assert!(e.receipt.is_none());

    // The chip holds what the enrollment wrote: DG1 carries the NIK.
    let files = d
        .encoder()
        .read_files(pb::ReadFilesRequest {
            name: String::new(),
            file_ids: vec![0x0101, 0x0102, 0x0103, 0x0107],
        })
        .await
        .unwrap()
        .into_inner()
        .files;
    assert_eq!(files.len(), 4);
    assert!(String::from_utf8_lossy(&files[0].data).contains("NIK=3171014708900003"));
    assert_eq!(files[1].data[0], 0x75, "DG2 template");
    let record = files[1]
        .data
        .windows(4)
        .position(|w| w == b"FAC\0")
        .expect("DG2 holds an ISO 19794-5 record");
    assert!(
        record < 40,
        "inside ICAO's biometric templates, at {record}"
    );
    assert_eq!(files[3].data[0], 0x67, "DG7 template");

    // The watch saw every step succeed, in order, and ended after the hand-over.
    let events = tokio::time::timeout(std::time::Duration::from_secs(10), collector)
        .await
        .expect("the watch ends after the hand-over")
        .unwrap();
    let succeeded: Vec<i32> = events
        .iter()
        .filter(|e| e.status == pb::StepStatus::Succeeded as i32)
        .map(|e| e.step)
        .collect();
    use pb::Step::*;
    assert_eq!(
        succeeded,
        [
            CheckDocuments,
            VerifyIdentity,
            CaptureFace,
            CaptureFingerprints,
            CaptureSignature,
            FinishRecording,
            Send,
            Print,
            Encode,
            HandOver
        ]
        .map(|s| s as i32)
    );
    assert!(
        events
            .iter()
            .any(|e| e.status == pb::StepStatus::Progress as i32)
    );

    let history = c
        .get_enrollment(pb::GetEnrollmentRequest { name: id.clone() })
        .await
        .unwrap()
        .into_inner()
        .history;
    assert_eq!(history.len(), 11);
    let list = c
        .list_enrollments(pb::ListEnrollmentsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.enrollments.len(), 1);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_out_of_order_are_refused_with_failed_precondition() {
    let d = TestDaemon::start().await;
    let mut c = d.enroll();
    let id = created(&d).await;
    for (name, r) in [
        ("verify", c.verify_identity(step(&id)).await),
        ("face", c.capture_face(step(&id)).await),
        ("finish", c.finish_recording(step(&id)).await),
        ("send", c.send(step(&id)).await),
        ("receipt", c.issue_receipt(step(&id)).await),
        ("print", c.print(step(&id)).await),
        ("encode", c.encode(step(&id)).await),
        ("hand over", c.hand_over(step(&id)).await),
    ] {
        let err = r.expect_err(name);
        assert_eq!(err.code(), Code::FailedPrecondition, "{name}: {err:?}");
        assert!(
            err.message().contains("CREATED"),
            "{name}: {}",
            err.message()
        );
    }
    // Nothing changed.
    let e = c
        .get_enrollment(pb::GetEnrollmentRequest { name: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Created);

    // Finishing a recording with nothing recorded says what is missing.
    c.check_documents(pb::CheckDocumentsRequest {
        name: id.clone(),
        kk_number_on_document: "3171010101090001".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    c.verify_identity(step(&id)).await.unwrap();
    c.capture_face(step(&id)).await.unwrap();
    let err = c.finish_recording(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("fingerprints") && err.message().contains("signature"));
    assert!(!err.message().contains("face photo"), "{}", err.message());
    // A receipt needs a failed send first. (The first enrollment is cancelled: a second
    // one for the same NIK cannot be opened while it is open.)
    c.cancel_enrollment(pb::CancelEnrollmentRequest {
        name: id.clone(),
        reason: "test".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let id2 = recorded(&d).await;
    let err = c.issue_receipt(step(&id2)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_invalid_arguments() {
    let d = TestDaemon::start().await;
    let mut c = d.enroll();
    let mut bad = applicant();
    bad.nik = "317101470890000X".into();
    let err = c
        .create_enrollment(pb::CreateEnrollmentRequest {
            applicant: Some(bad),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("16 digits"), "{}", err.message());

    let mut wrong_sex = applicant();
    wrong_sex.sex = pb::Sex::Male as i32;
    let err = c
        .create_enrollment(pb::CreateEnrollmentRequest {
            applicant: Some(wrong_sex),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let err = c
        .create_enrollment(pb::CreateEnrollmentRequest {
            applicant: None,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let err = c
        .get_enrollment(pb::GetEnrollmentRequest {
            name: "enrollments/nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // A family card that is not the applicant's: refused, the enrollment stays CREATED.
    let id = created(&d).await;
    let err = c
        .check_documents(pb::CheckDocumentsRequest {
            name: id.clone(),
            kk_number_on_document: "3171010101099999".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let e = c
        .get_enrollment(pb::GetEnrollmentRequest { name: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Created);
    assert!(e.last_error.contains("family card"));

    // A missing finger must be a single finger with a reason.
    c.check_documents(pb::CheckDocumentsRequest {
        name: id.clone(),
        kk_number_on_document: "3171010101090001".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    c.verify_identity(step(&id)).await.unwrap();
    for m in [
        pb::MissingFinger {
            position: 13,
            reason: 1,
        },
        pb::MissingFinger {
            position: 2,
            reason: 0,
        },
        pb::MissingFinger {
            position: 99,
            reason: 1,
        },
    ] {
        let err = c
            .capture_fingerprints(pb::CaptureFingerprintsStepRequest {
                name: id.clone(),
                missing: vec![m],
                singles: vec![],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{m:?}");
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_fingers_are_recorded_as_input_not_failure() {
    let d = TestDaemon::start().await;
    let mut c = d.enroll();
    let id = verified(&d).await;
    let e = c
        .capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            name: id.clone(),
            missing: vec![
                pb::MissingFinger {
                    position: pb::FingerPosition::RightRing as i32,
                    reason: pb::MissingReason::Amputated as i32,
                },
                pb::MissingFinger {
                    position: pb::FingerPosition::LeftThumb as i32,
                    reason: pb::MissingReason::UnableToPrint as i32,
                },
            ],
            singles: vec![],
            overrides: [pb::FingerPosition::RightRing, pb::FingerPosition::LeftThumb]
                .into_iter()
                .map(|p| pb::FingerOverride {
                    position: p as i32,
                    reason: "seen by the supervisor".into(),
                    supervisor_id: "SPV-01".into(),
                })
                .collect(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let fingers = e.recording.unwrap().fingers;
    assert_eq!(fingers.len(), 10);
    for f in &fingers {
        let is_missing = f.position == pb::FingerPosition::RightRing as i32
            || f.position == pb::FingerPosition::LeftThumb as i32;
        assert_eq!(f.missing, is_missing, "finger {}", f.position);
        if is_missing {
            assert_eq!(f.quality, 0);
            assert!(!f.recapture_advised);
        } else {
            assert!(f.quality > 0, "finger {} quality {}", f.position, f.quality);
        }
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_fingers_are_checked_against_the_slaps() {
    let d = TestDaemon::start().await;
    let mut c = d.enroll();
    let id = verified(&d).await;
    let req = pb::CaptureFingerprintsStepRequest {
        name: id.clone(),
        missing: vec![],
        singles: vec![
            pb::FingerPosition::RightIndex as i32,
            pb::FingerPosition::LeftIndex as i32,
        ],
        ..Default::default()
    };

    // The applicant puts the right hand down again for the left slap: refused, nothing kept.
    d.fault("fingerprint0", "wrong_hand").await;
    let err = c.capture_fingerprints(req.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("same finger"), "{}", err.message());
    let e = c
        .get_enrollment(pb::GetEnrollmentRequest { name: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(e.recording.unwrap().fingers.is_empty());

    d.clear("fingerprint0").await;
    let e = c.capture_fingerprints(req).await.unwrap().into_inner();
    let r = e.recording.unwrap();
    assert_eq!(r.fingers.len(), 10);
    assert_eq!(r.singles.len(), 2);
    // 4x4 across the hand slaps, 4x2 with the thumbs, 1 between the thumbs... and each
    // single against every slap finger.
    assert!(r.sequence_comparisons >= 20, "{}", r.sequence_comparisons);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_send_reports_the_package_size_per_record_type() {
    let d = TestDaemon::start().await;
    let mut c = d.enroll();
    let id = recorded(&d).await;
    let e = c.send(step(&id)).await.unwrap().into_inner();
    assert!(e.package_size > 100_000, "{}", e.package_size);
    for t in ["1", "2", "8", "10", "14"] {
        assert!(
            e.package_report
                .lines()
                .any(|l| l.starts_with(&format!("Type-{t} "))),
            "type {t} missing from {}",
            e.package_report
        );
    }
    d.stop().await;
}
