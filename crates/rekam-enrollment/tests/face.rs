//! The face step with the station's face checks (`rekam-face`, OpenCV's cascades from
//! Debian's opencv-data): a photo that passes every check is recorded with its measured
//! checks, and its portrait is the ISO/IEC 19794-5 token image, which the chip's DG2 names
//! as a Token Frontal image with its eye centres; a photo that fails is refused with the
//! failed checks and nothing is recorded; a station without the checks keeps the centre
//! crop and a Full Frontal DG2 without eye centres.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use rekam_biometrics::iso19794_5::{FaceImageRecord, FaceImageType};
use rekam_core::sim::SimulatorControl;
use rekam_core::sim::Timing;
use rekam_enrollment::*;

mod common;

fn pipeline(config: PipelineConfig) -> (Arc<Pipeline>, rekam_camera::CameraSim) {
    let t = Timing::new(0.0);
    let camera = rekam_camera::CameraSim::new("camera0", 2, t);
    let p = common::pipeline_with_devices(
        Arc::new(rekam_store::SqliteStore::open_in_memory().unwrap()),
        Arc::new(SiakSim::new(t)),
        Arc::new(rekam_fingerprint::FingerprintSim::new("fingerprint0", 1, t)),
        Arc::new(camera.clone()),
        config,
    );
    (p, camera)
}

/// An enrollment up to the face step.
async fn verified(p: &Arc<Pipeline>) -> String {
    let o = StepOptions::default;
    let applicant = common::applicant("3171014708900003");
    let id = p.create(applicant.clone(), o()).await.unwrap().id;
    p.check_documents(&id, &applicant.kk_number, o())
        .await
        .unwrap();
    p.verify_identity(&id, o()).await.unwrap();
    id
}

/// The face record inside the chip's DG2 made of the enrollment's portrait.
fn dg2_record(p: &Pipeline, id: &str) -> FaceImageRecord {
    let e = p.full(id).unwrap();
    let face = e.recording.face.as_ref().unwrap();
    let dg2 = formats::dg2(&face.portrait_jpeg, face.is_token()).unwrap();
    let record = rekam_iso7816::tlv::find_path(&dg2, &[0x75, 0x7F61, 0x7F60, 0x5F2E])
        .unwrap()
        .unwrap();
    FaceImageRecord::parse(record).unwrap()
}

#[tokio::test]
async fn a_photo_passing_the_checks_gives_the_token_portrait_and_a_token_dg2() {
    let (p, _camera) = pipeline(common::config());
    let id = verified(&p).await;
    let e = p.capture_face(&id, StepOptions::default()).await.unwrap();
    let face = e.recording.face.as_ref().unwrap();
    let analysis = face.analysis.as_ref().expect("the checks ran");
    let names: Vec<&str> = analysis.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "face_count",
            "eyes_found",
            "eye_distance",
            "roll",
            "centre_x",
            "centre_y",
            "sharpness",
            "exposure",
            "clipping",
            "background"
        ]
    );
    assert!(
        analysis
            .checks
            .iter()
            .all(|c| c.passed && c.value.is_some())
    );
    assert!(analysis.token && face.is_token());
    let eyes = analysis.eyes.unwrap();
    assert!(
        eyes.left.x > eyes.right.x,
        "the subject's left eye is on the image's right"
    );
    // The step says so in its history entry.
    let last = e.history.last().unwrap();
    assert!(
        last.message.contains("10 checks passed"),
        "{}",
        last.message
    );

    // The portrait is the 240 x 320 token: the eye line 0.6 W from the top, so the rows
    // around y = 144 hold the darkest pixels of the eyes at x = 90 and x = 149.
    let portrait = image::load_from_memory(&face.portrait_jpeg)
        .unwrap()
        .to_luma8();
    assert_eq!(portrait.dimensions(), (240, 320));
    let dark_at = |cx: u32, cy: u32| {
        let mut best = (u8::MAX, 0, 0);
        for y in cy - 30..cy + 30 {
            for x in cx - 30..cx + 30 {
                let v = portrait.get_pixel(x, y).0[0];
                if v < best.0 {
                    best = (v, x, y);
                }
            }
        }
        (best.1, best.2)
    };
    for (x, y) in [dark_at(90, 144), dark_at(149, 144)] {
        // The pupil: within 8 pixels (a seventh of the eye distance) of the token's eye.
        let near = [(90i64, 144i64), (149, 144)]
            .iter()
            .any(|&(ex, ey)| (i64::from(x) - ex).abs() <= 8 && (i64::from(y) - ey).abs() <= 8);
        assert!(near, "pupil found at ({x}, {y}), not at a token eye");
    }

    // The chip's DG2: a Token Frontal image with its eye centres (feature points 12.1 and
    // 12.2) at the token's places, at the size the chip took.
    let record = dg2_record(&p, &id);
    let img = &record.faces[0];
    assert_eq!(img.face_image_type, FaceImageType::TokenFrontal);
    let ((lx, ly), (rx, ry)) = record.eye_centres().expect("eye centres");
    let w = f64::from(img.width);
    assert_eq!(f64::from(img.height), (w / 0.75).round());
    assert!(
        (f64::from(rx) - 0.375 * w).abs() <= 1.0,
        "right eye x {rx} of {w}"
    );
    assert!(
        (f64::from(lx) - (0.625 * w - 1.0)).abs() <= 1.0,
        "left eye x {lx} of {w}"
    );
    assert!(
        (f64::from(ly) - 0.6 * w).abs() <= 1.0 && ly == ry,
        "eye line {ly}, {ry}"
    );
}

#[tokio::test]
async fn a_photo_failing_the_checks_is_refused_with_them_and_nothing_is_recorded() {
    let (p, camera) = pipeline(common::config());
    let id = verified(&p).await;
    camera.inject("lens_covered").unwrap();
    let err = p
        .capture_face(&id, StepOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "FACE_CHECK_FAILED");
    let EnrollmentError::FaceChecksFailed { failed } = &err else {
        panic!("{err:?}")
    };
    let names: Vec<&str> = failed.iter().map(|c| c.name.as_str()).collect();
    assert!(names.contains(&"exposure"), "{names:?}");
    let exposure = failed.iter().find(|c| c.name == "exposure").unwrap();
    assert!(
        exposure.value.unwrap() < exposure.min.unwrap(),
        "{exposure:?}"
    );
    assert!(err.to_string().contains("(exposure): "), "{err}");
    assert_eq!(err.metadata(), [("checks", names.join(","))]);
    let e = p.get(&id).unwrap();
    assert!(e.recording.face.is_none(), "nothing recorded");
    assert_eq!(e.stage, Stage::IdentityVerified);
    // Uncovered, the same camera's photo passes.
    camera.clear();
    let e = p.capture_face(&id, StepOptions::default()).await.unwrap();
    assert!(e.recording.face.as_ref().unwrap().is_token());
}

#[tokio::test]
async fn without_the_checks_the_portrait_is_the_centre_and_dg2_is_full_frontal() {
    let (p, _camera) = pipeline(PipelineConfig {
        face_analyser: None,
        ..common::config()
    });
    let id = verified(&p).await;
    let e = p.capture_face(&id, StepOptions::default()).await.unwrap();
    let face = e.recording.face.as_ref().unwrap();
    assert_eq!(face.analysis, None);
    assert!(!face.is_token());
    let record = dg2_record(&p, &id);
    assert_eq!(record.faces[0].face_image_type, FaceImageType::FullFrontal);
    assert_eq!(record.eye_centres(), None);
}
