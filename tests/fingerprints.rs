//! Fingerprints position by position: a minimum quality, attempts, recapture of one
//! position, and a supervisor's override with a reason; progress events say which position
//! and attempt, as fields.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use futures::StreamExt;
use rekam_api::pb;
use rekam_tests::*;
use tonic::Code;
use tonic_types::StatusExt;

async fn get(d: &TestDaemon, id: &str) -> pb::Enrollment {
    d.enroll()
        .get_enrollment(pb::GetEnrollmentRequest {
            enrollment_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

fn all_fingers() -> Vec<i32> {
    (1..=10).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn below_the_minimum_every_position_is_tried_again_then_a_supervisor_accepts() {
    let d = TestDaemon::start().await;
    let id = verified(&d).await;
    let mut c = d.enroll();
    let mut events = c
        .watch_enrollment(pb::WatchEnrollmentRequest {
            enrollment_id: id.clone(),
            after_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    // No finger reaches 100: every position is captured twice, then the step fails.
    let strict = pb::CaptureFingerprintsStepRequest {
        enrollment_id: id.clone(),
        min_quality: 100,
        max_attempts: 2,
        ..Default::default()
    };
    let err = c.capture_fingerprints(strict.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let info = err.get_error_details().error_info().cloned().unwrap();
    assert_eq!(info.reason, "FINGER_QUALITY_TOO_LOW");
    let listed: Vec<&str> = info.metadata["positions"].split(',').collect();
    assert_eq!(listed.len(), 10, "{listed:?}");
    assert!(listed.contains(&"RIGHT_INDEX") && listed.contains(&"LEFT_THUMB"));
    // Nothing was recorded.
    assert!(get(&d, &id).await.recording.unwrap().fingers.is_empty());

    // The prompts came as fields: each slap placed, then placed again (attempt 2).
    let mut prompts = Vec::new();
    while let Some(Ok(ev)) = events.next().await {
        if !ev.prompt.is_empty() {
            prompts.push((ev.prompt.clone(), ev.position, ev.attempt));
        }
        if ev.status == pb::StepStatus::Failed as i32 {
            break;
        }
    }
    assert_eq!(
        prompts,
        [
            (
                "PLACE_RIGHT_FOUR".to_string(),
                pb::FingerPosition::RightFour as i32,
                1
            ),
            (
                "PLACE_LEFT_FOUR".to_string(),
                pb::FingerPosition::LeftFour as i32,
                1
            ),
            (
                "PLACE_BOTH_THUMBS".to_string(),
                pb::FingerPosition::BothThumbs as i32,
                1
            ),
            (
                "RECAPTURE_RIGHT_FOUR".to_string(),
                pb::FingerPosition::RightFour as i32,
                2
            ),
            (
                "RECAPTURE_LEFT_FOUR".to_string(),
                pb::FingerPosition::LeftFour as i32,
                2
            ),
            (
                "RECAPTURE_BOTH_THUMBS".to_string(),
                pb::FingerPosition::BothThumbs as i32,
                2
            ),
        ]
    );

    // An override needs a reason.
    let mut bad = strict.clone();
    bad.overrides = vec![pb::FingerOverride {
        position: 2,
        reason: String::new(),
        supervisor_id: "SPV-01".into(),
    }];
    let err = c.capture_fingerprints(bad).await.unwrap_err();
    let br = err.get_error_details().bad_request().cloned().unwrap();
    assert_eq!(br.field_violations[0].field, "overrides[0].reason");

    // The supervisor accepts every finger with a reason: the step succeeds and says so.
    let mut accepted = strict.clone();
    accepted.overrides = all_fingers()
        .into_iter()
        .map(|p| pb::FingerOverride {
            position: p,
            reason: "worn ridges, manual labourer".into(),
            supervisor_id: "SPV-01".into(),
        })
        .collect();
    let e = c.capture_fingerprints(accepted).await.unwrap().into_inner();
    let fingers = e.recording.as_ref().unwrap().fingers.clone();
    assert_eq!(fingers.len(), 10);
    for f in &fingers {
        assert!(f.override_reason.contains("worn ridges"), "{f:?}");
        assert!(f.override_reason.contains("SPV-01"), "{f:?}");
        assert!(!f.recapture_advised);
        // Accepted fingers are not captured again.
        assert_eq!(f.attempts, 1);
    }
    let h = e.history.last().unwrap();
    assert!(
        h.message.contains("accepted by a supervisor"),
        "{}",
        h.message
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_slap_is_recaptured_and_the_others_are_kept() {
    let d = TestDaemon::start().await;
    let id = verified(&d).await;
    let mut c = d.enroll();
    let first = c
        .capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            enrollment_id: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let before = first.recording.unwrap().fingers;
    let again = c
        .capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            enrollment_id: id.clone(),
            positions: vec![pb::FingerPosition::RightFour as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let after = again.recording.unwrap().fingers;
    assert_eq!(after.len(), 10, "the other slaps are kept");
    let left = |fs: &[pb::FingerQuality]| -> Vec<pb::FingerQuality> {
        fs.iter()
            .filter(|f| (7..=10).contains(&f.position) || f.position == 1 || f.position == 6)
            .cloned()
            .collect()
    };
    assert_eq!(
        left(&before),
        left(&after),
        "left hand and thumbs unchanged"
    );
    let captures = again
        .history
        .iter()
        .filter(|h| h.step == pb::Step::CaptureFingerprints as i32)
        .count();
    assert_eq!(captures, 2);
    // The whole set still passes the sequence check, and the recording closes.
    c.capture_face(step(&id)).await.unwrap();
    c.capture_signature(step(&id)).await.unwrap();
    let e = c.finish_recording(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Recorded);
    // A position given twice, and a missing finger without an override, are refused.
    let err = c
        .capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            enrollment_id: id.clone(),
            positions: vec![13, 13],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    d.stop().await;
    let d = TestDaemon::start().await;
    let id = verified(&d).await;
    let err = d
        .enroll()
        .capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            enrollment_id: id,
            missing: vec![pb::MissingFinger {
                position: pb::FingerPosition::RightRing as i32,
                reason: pb::MissingReason::Amputated as i32,
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    let br = err.get_error_details().bad_request().cloned().unwrap();
    assert_eq!(br.field_violations[0].field, "missing[0]");
    d.stop().await;
}
