//! What the officer must see and decide: the recorded media, a card preview before a blank
//! is used, corrections before sending, and reprints and re-encodes with their reasons.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rekam_api::pb;
use rekam_tests::*;
use tonic::{Code, Status};
use tonic_types::StatusExt;

fn reason(s: &Status) -> String {
    s.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

async fn media(
    d: &TestDaemon,
    id: &str,
    kind: pb::MediaKind,
    position: i32,
    size: pb::MediaSize,
) -> Result<pb::Media, Status> {
    d.enroll()
        .max_decoding_message_size(64 << 20)
        .get_media(pb::GetMediaRequest {
            name: id.into(),
            kind: kind as i32,
            position,
            size: size as i32,
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_officer_sees_every_recorded_image_full_or_as_a_thumbnail() {
    let d = TestDaemon::start().await;
    let id = verified(&d).await;
    let err = media(&d, &id, pb::MediaKind::Face, 0, pb::MediaSize::Full)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(reason(&err), "MEDIA_NOT_FOUND");
    // Record everything (face, slaps, signature).
    let mut c = d.enroll();
    c.capture_face(step(&id)).await.unwrap();
    c.capture_fingerprints(pb::CaptureFingerprintsStepRequest {
        name: id.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    c.capture_signature(step(&id)).await.unwrap();
    let e = d.get(&id).await;
    let summary = e.recording.unwrap();

    let face = media(&d, &id, pb::MediaKind::Face, 0, pb::MediaSize::Full)
        .await
        .unwrap();
    assert_eq!(face.content_type, "image/jpeg");
    assert_eq!(
        (face.width, face.height),
        (summary.face_width, summary.face_height)
    );
    let decoded = image::load_from_memory(&face.data).unwrap();
    assert_eq!(
        (decoded.width(), decoded.height()),
        (face.width, face.height)
    );
    let portrait = media(&d, &id, pb::MediaKind::Portrait, 0, pb::MediaSize::Full)
        .await
        .unwrap();
    assert_eq!((portrait.width, portrait.height), (240, 320));

    for (kind, position, png) in [
        (pb::MediaKind::Face, 0, false),
        (
            pb::MediaKind::Slap,
            pb::FingerPosition::RightFour as i32,
            true,
        ),
        (
            pb::MediaKind::Slap,
            pb::FingerPosition::BothThumbs as i32,
            true,
        ),
        (
            pb::MediaKind::Finger,
            pb::FingerPosition::LeftIndex as i32,
            true,
        ),
        (pb::MediaKind::Signature, 0, true),
        (pb::MediaKind::CardFront, 0, true),
        (pb::MediaKind::CardBack, 0, true),
    ] {
        let m = media(&d, &id, kind, position, pb::MediaSize::Thumbnail)
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e:?}"));
        assert_eq!(
            m.content_type,
            if png { "image/png" } else { "image/jpeg" },
            "{kind:?}"
        );
        assert!(
            m.width.max(m.height) <= 160,
            "{kind:?} {}x{}",
            m.width,
            m.height
        );
        let img = image::load_from_memory(&m.data).unwrap();
        assert_eq!((img.width(), img.height()), (m.width, m.height), "{kind:?}");
    }
    // A full slap is the 500 ppi image as captured.
    let slap = media(
        &d,
        &id,
        pb::MediaKind::Slap,
        pb::FingerPosition::LeftFour as i32,
        pb::MediaSize::Full,
    )
    .await
    .unwrap();
    assert!(slap.width > 1000, "{}", slap.width);
    // A slap kind with a finger position names the field.
    let err = media(
        &d,
        &id,
        pb::MediaKind::Slap,
        pb::FingerPosition::RightIndex as i32,
        pb::MediaSize::Full,
    )
    .await
    .unwrap_err();
    let br = err.get_error_details().bad_request().cloned().unwrap();
    assert_eq!(br.field_violations[0].field, "position");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_preview_uses_no_blank() {
    let d = TestDaemon::start().await;
    let id = verified(&d).await;
    let mut c = d.enroll();
    let err = c
        .render_card_preview(pb::RenderCardPreviewRequest { name: id.clone() })
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "MEDIA_NOT_FOUND");
    c.capture_face(step(&id)).await.unwrap();
    let cards = |d: &TestDaemon| {
        let mut p = d.printer();
        async move {
            p.get_supplies(pb::GetSuppliesRequest::default())
                .await
                .unwrap()
                .into_inner()
                .cards_remaining
        }
    };
    let before = cards(&d).await;
    let preview = c
        .max_decoding_message_size(64 << 20)
        .render_card_preview(pb::RenderCardPreviewRequest { name: id.clone() })
        .await
        .unwrap()
        .into_inner();
    for png in [&preview.front_png, &preview.back_png] {
        let img = image::load_from_memory(png).unwrap();
        assert_eq!((img.width(), img.height()), (1012, 638));
    }
    assert_eq!(cards(&d).await, before, "no blank used");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_applicant_is_corrected_before_sending_and_the_stage_follows() {
    let d = TestDaemon::start().await;
    let id = verified(&d).await;
    let mut c = d.enroll();
    let update = |a: pb::Applicant| pb::UpdateApplicantRequest {
        name: id.clone(),
        applicant: Some(a),
        ..Default::default()
    };
    // An address needs no new checks.
    let mut a = applicant();
    a.address = "JL. THAMRIN NO. 1".into();
    let e = c
        .update_applicant(update(a.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::IdentityVerified);
    assert_eq!(e.applicant.as_ref().unwrap().address, "JL. THAMRIN NO. 1");
    let h = e.history.last().unwrap();
    assert_eq!(h.step, pb::Step::UpdateApplicant as i32);
    assert_eq!(h.note, "changed: address");
    // A name SIAK checked: SIAK is asked again.
    a.name = "SITI RAHAYU PUTRI".into();
    let e = c
        .update_applicant(update(a.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::DocumentsChecked);
    // A new family card: the documents are checked again.
    a.kk_number = "3171010101090002".into();
    let e = c
        .update_applicant(update(a.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Created);
    // The NIK never changes; invalid data is refused field by field.
    let mut other = a.clone();
    other.nik = "3171014708900004".into();
    let err = c.update_applicant(update(other)).await.unwrap_err();
    assert_eq!(
        err.get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "applicant.nik"
    );
    let mut bad = a.clone();
    bad.occupation = "X\u{202E}".into();
    let err = c.update_applicant(update(bad)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // After sending, the data is what the data centre has: no more corrections.
    d.stop().await;
    let d = TestDaemon::start().await;
    let id = recorded(&d).await;
    let mut c = d.enroll();
    c.send(step(&id)).await.unwrap();
    let err = c
        .update_applicant(pb::UpdateApplicantRequest {
            name: id.clone(),
            applicant: Some(applicant()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "STEP_OUT_OF_ORDER");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_card_is_reprinted_and_a_failed_chip_reencoded_with_their_reasons() {
    let d = TestDaemon::start().await;
    let id = recorded(&d).await;
    let mut c = d.enroll();
    c.send(step(&id)).await.unwrap();
    // Before printing there is nothing to reprint.
    let err = c
        .reprint_card(pb::ReprintCardRequest {
            name: id.clone(),
            reason: pb::CardReason::Spoiled as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "STEP_OUT_OF_ORDER");
    c.print(step(&id)).await.unwrap();
    c.encode(step(&id)).await.unwrap();
    let handed = c.hand_over(step(&id)).await.unwrap().into_inner();
    assert!(!handed.card_uid.is_empty());

    // A reason is required.
    let err = c
        .reprint_card(pb::ReprintCardRequest {
            name: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let e = c
        .reprint_card(pb::ReprintCardRequest {
            name: id.clone(),
            reason: pb::CardReason::Lost as i32,
            note: "lost at the market".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Printed);
    assert!(e.card_uid.is_empty(), "the new card is not encoded yet");
    assert_ne!(e.print_job, handed.print_job);
    let h = e.history.last().unwrap();
    assert_eq!(h.step, pb::Step::Reprint as i32);
    assert_eq!(h.note, "lost: lost at the market");
    c.encode(step(&id)).await.unwrap();
    let e = c
        .reencode_card(pb::ReencodeCardRequest {
            name: id.clone(),
            reason: pb::CardReason::ChipFailed as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Encoded);
    let h = e.history.last().unwrap();
    assert_eq!(h.step, pb::Step::Reencode as i32);
    assert_eq!(h.note, "chip failed");
    assert_eq!(h.devices, ["devices/encoder0"]);
    let e = c.hand_over(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::HandedOver);
    d.stop().await;
}
