//! Fingerprints position by position: a minimum quality, attempts, recapture of one
//! position, and a supervisor's override with a reason; progress events say which position
//! and attempt, as fields.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use futures::StreamExt;
use rekam_api::pb;
use rekam_tests::*;
use tonic::Code;
use tonic_types::StatusExt;

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
            name: id.clone(),
            after_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    // No finger reaches 100: every position is captured twice, then the step fails.
    let strict = pb::CaptureFingerprintsStepRequest {
        name: id.clone(),
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
    assert!(d.get(&id).await.recording.unwrap().fingers.is_empty());

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
            name: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let before = first.recording.unwrap().fingers;
    let again = c
        .capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            name: id.clone(),
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
            name: id.clone(),
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
            name: id,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recording_closes_only_once_every_slap_is_recorded() {
    let d = TestDaemon::start().await;
    let id = verified(&d).await;
    let mut c = d.enroll();
    c.capture_face(step(&id)).await.unwrap();
    c.capture_signature(step(&id)).await.unwrap();
    let e = c
        .capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            name: id.clone(),
            positions: vec![pb::FingerPosition::RightFour as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(e.recording.unwrap().fingers.len(), 4);
    let h = e.history.last().unwrap();
    assert!(
        h.message
            .contains("still to capture: LEFT_FOUR, BOTH_THUMBS"),
        "{}",
        h.message
    );
    // One slap is not a recording.
    let err = c.finish_recording(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message()
            .contains("fingerprints of LEFT_FOUR, BOTH_THUMBS"),
        "{}",
        err.message()
    );
    let e = c
        .capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            name: id.clone(),
            positions: vec![
                pb::FingerPosition::LeftFour as i32,
                pb::FingerPosition::BothThumbs as i32,
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(e.recording.unwrap().fingers.len(), 10);
    let e = c.finish_recording(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Recorded);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_override_goes_with_the_fingers_it_accepts_and_into_the_history_note() {
    let d = TestDaemon::start().await;
    let id = verified(&d).await;
    let mut c = d.enroll();
    c.capture_fingerprints(pb::CaptureFingerprintsStepRequest {
        name: id.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let spv = |position: pb::FingerPosition| pb::FingerOverride {
        position: position as i32,
        reason: "scarred, seen by the supervisor".into(),
        supervisor_id: "SPV-07".into(),
    };
    use pb::FingerPosition::*;
    // The right four again, held to 100 (no finger reaches it): the supervisor accepts the
    // four; the override given for a left finger, not captured now, changes nothing.
    let e = c
        .capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            name: id.clone(),
            positions: vec![RightFour as i32],
            min_quality: 100,
            max_attempts: 1,
            overrides: vec![
                spv(RightIndex),
                spv(RightMiddle),
                spv(RightRing),
                spv(RightLittle),
                spv(LeftIndex),
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let fingers = e.recording.as_ref().unwrap().fingers.clone();
    assert_eq!(fingers.len(), 10);
    for f in &fingers {
        let right = (2..=5).contains(&f.position);
        assert_eq!(
            f.override_reason.contains("scarred") && f.override_reason.contains("SPV-07"),
            right,
            "{f:?}"
        );
    }
    let h = e.history.last().unwrap();
    assert_eq!(h.step, pb::Step::CaptureFingerprints as i32);
    assert!(
        h.note
            .starts_with("supervisor overrides: RIGHT_INDEX (quality "),
        "{}",
        h.note
    );
    assert!(
        h.note
            .contains("scarred, seen by the supervisor (supervisor SPV-07)"),
        "{}",
        h.note
    );
    assert!(!h.note.contains("LEFT_INDEX"), "{}", h.note);

    // At the station's minimum the right middle finger needs no override: none is recorded.
    let e = c
        .capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            name: id.clone(),
            positions: vec![RightFour as i32],
            overrides: vec![spv(RightMiddle)],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let middle = e
        .recording
        .unwrap()
        .fingers
        .into_iter()
        .find(|f| f.position == RightMiddle as i32)
        .unwrap();
    assert!(middle.quality >= 40, "{middle:?}");
    assert!(middle.override_reason.is_empty(), "{middle:?}");
    assert!(e.history.last().unwrap().note.is_empty());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slap_wholly_missing_shows_its_fingers_as_missing_and_completes_the_set() {
    let d = TestDaemon::start().await;
    let id = verified(&d).await;
    let mut c = d.enroll();
    c.capture_face(step(&id)).await.unwrap();
    c.capture_signature(step(&id)).await.unwrap();
    use pb::FingerPosition::*;
    let thumbs = [LeftThumb, RightThumb];
    let e = c
        .capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            name: id.clone(),
            missing: thumbs
                .iter()
                .map(|p| pb::MissingFinger {
                    position: *p as i32,
                    reason: pb::MissingReason::Amputated as i32,
                })
                .collect(),
            overrides: thumbs
                .iter()
                .map(|p| pb::FingerOverride {
                    position: *p as i32,
                    reason: "amputated, seen by the supervisor".into(),
                    supervisor_id: "SPV-07".into(),
                })
                .collect(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let fingers = e.recording.unwrap().fingers;
    assert_eq!(fingers.len(), 10, "ten entries, the thumbs missing");
    for f in fingers
        .iter()
        .filter(|f| f.position == 1 || f.position == 6)
    {
        assert!(
            f.missing && f.override_reason.contains("amputated"),
            "{f:?}"
        );
    }
    let note = &e.history.last().unwrap().note;
    assert!(note.contains("LEFT_THUMB (missing)"), "{note}");
    let e = c.finish_recording(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Recorded);
    d.stop().await;
}
