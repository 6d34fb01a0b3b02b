//! The fingerprint step on a single-finger scanner: the real R30x driver over its
//! simulator's pseudo-terminal (an R307: 256 x 288 pixels at 500 dpi). The ten fingers are
//! captured one by one, a missing finger is recorded as absent with its override, a slap
//! is refused, and the scanner (13.0 x 14.6 mm per finger) is refused by default for
//! enrollment and used only when the station accepts a substandard scanner; a recording of
//! ten singles then goes all the way: package, send, card, chip, chain.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rekam_core::{FingerPosition, MissingFinger, MissingReason};
use rekam_enrollment::*;
use rekam_r30x::{R30xConfig, R30xScanner, R30xSim, SerialConnector, SimConfig};

mod common;

/// An R307 simulator with a finger on it and the driver opened on its pty.
async fn r307() -> (Arc<R30xSim>, Arc<R30xScanner>) {
    let sim = Arc::new(R30xSim::spawn(SimConfig::fast()).unwrap());
    let path = sim.path().to_string();
    let scanner = tokio::task::spawn_blocking(move || {
        R30xScanner::open(
            "fingerprint0",
            Arc::new(SerialConnector::new(path)),
            R30xConfig {
                finger_timeout: Duration::from_secs(10),
                heartbeat: None,
                ..R30xConfig::default()
            },
        )
    })
    .await
    .unwrap()
    .unwrap();
    sim.place_finger();
    (sim, Arc::new(scanner))
}

fn pipeline(scanner: &Arc<R30xScanner>, config: PipelineConfig) -> Arc<Pipeline> {
    common::pipeline_with(
        Arc::new(rekam_store::SqliteStore::open_in_memory().unwrap()),
        Arc::new(SiakSim::new(rekam_core::sim::Timing::new(0.0))),
        scanner.clone(),
        config,
    )
}

/// The station settings with a substandard scanner accepted.
fn accepting() -> PipelineConfig {
    PipelineConfig {
        accept_substandard_scanner: true,
        ..common::config()
    }
}

/// An enrollment ready for its recording (face captured).
async fn ready(p: &Arc<Pipeline>, nik: &str) -> String {
    let a = common::applicant(nik);
    let o = StepOptions::default;
    let id = p.create(a.clone(), o()).await.unwrap().id;
    p.check_documents(&id, &a.kk_number, o()).await.unwrap();
    p.verify_identity(&id, o()).await.unwrap();
    p.capture_face(&id, o()).await.unwrap();
    id
}

/// Plays the applicant: at every prompt, a new impression of the finger on the window.
/// Returns the prompt codes seen.
fn applicant_at(p: &Arc<Pipeline>, sim: &Arc<R30xSim>) -> Arc<Mutex<Vec<&'static str>>> {
    let prompts = Arc::new(Mutex::new(Vec::new()));
    let mut events = p.subscribe();
    let (seen, sim) = (prompts.clone(), sim.clone());
    tokio::spawn(async move {
        while let Ok(ev) = events.recv().await {
            if let Some(prompt) = ev.prompt {
                seen.lock().unwrap().push(prompt.code);
                sim.place_finger();
            }
        }
    });
    prompts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_single_fingers_make_a_whole_enrollment() {
    let (sim, scanner) = r307().await;
    let config = accepting();
    let p = pipeline(&scanner, config.clone());
    let prompts = applicant_at(&p, &sim);
    let o = StepOptions::default;
    let id = ready(&p, "3171014708900003").await;

    let e = p
        .capture_fingerprints(&id, FingerprintPlan::default(), o())
        .await
        .unwrap();
    let r = &e.recording;
    let singles: Vec<FingerPosition> = r.singles.iter().map(|f| f.position).collect();
    assert_eq!(singles, FingerPosition::SINGLE.to_vec());
    assert!(r.slaps.is_empty() && r.absent.is_empty());
    assert!(r.fingerprints_done);
    assert!(r.fingers_lacking().is_empty() && r.slaps_lacking().is_empty());
    assert_eq!(r.sequence_comparisons, 0);
    for f in &r.singles {
        let img = f.image.as_ref().unwrap();
        assert_eq!((img.width, img.height, img.ppi), (256, 288, 500));
        assert!(f.quality >= 40 || f.override_reason.is_some(), "{f:?}");
        assert!(f.template.is_some(), "{:?} has no minutiae", f.position);
    }
    // Each finger was asked for by name, right thumb to left little.
    let asked: Vec<&str> = prompts
        .lock()
        .unwrap()
        .iter()
        .copied()
        .filter(|c| c.starts_with("PLACE_"))
        .collect();
    let want: Vec<&str> = FingerPosition::SINGLE
        .iter()
        .map(|f| prompt_code(*f, 1))
        .collect();
    assert_eq!(asked, want);
    let h = e.history.last().unwrap();
    assert_eq!(h.step, Step::CaptureFingerprints);
    assert!(
        h.message
            .contains("no slaps: sequence check not possible with a single-finger scanner"),
        "{}",
        h.message
    );
    assert!(h.message.contains("below the requirement"), "{}", h.message);
    let note = h.note.as_deref().unwrap_or_default();
    assert!(
        note.contains("fingerprint0") && note.contains("13.0 x 14.6 mm"),
        "{note}"
    );

    // Downstream: the package (ten Type-14 single-finger images, each marked as captured
    // below the requirement), the chip's DG3 (both index fingers), the card, the chain.
    p.capture_signature(&id, o()).await.unwrap();
    let whole = p.full(&id).unwrap();
    let (package, report) = formats::build_package(&whole, &config).unwrap();
    let marks = package
        .windows(b"CAPTURED BELOW THE ENROLLMENT REQUIREMENT".len())
        .filter(|w| *w == b"CAPTURED BELOW THE ENROLLMENT REQUIREMENT")
        .count();
    assert_eq!(marks, 10, "{report}");
    let files = formats::chip_files(&whole).unwrap();
    let dg3 = &files
        .iter()
        .find(|f| f.fid == formats::fid::DG3)
        .unwrap()
        .data;
    for code in [2u8, 7] {
        assert!(
            dg3.windows(3).any(|w| w == [0x83, 0x01, code]),
            "finger {code} not in DG3"
        );
    }

    let e = p.finish_recording(&id, o()).await.unwrap();
    assert_eq!(e.stage, Stage::Recorded);
    assert!(e.package_size > 0);
    p.send(&id, o()).await.unwrap();
    p.print(&id, o()).await.unwrap();
    p.encode(&id, o()).await.unwrap();
    let e = p.hand_over(&id, o()).await.unwrap();
    assert_eq!(e.stage, Stage::HandedOver);
    let names: Vec<&str> = e.chain.iter().map(|c| c.name.as_str()).collect();
    for want in [
        "single:RIGHT_THUMB",
        "single:LEFT_LITTLE",
        "package",
        "chip.dg3",
    ] {
        assert!(names.contains(&want), "{want} not chained: {names:?}");
    }
    let v = p.verify(&id).await.unwrap();
    assert!(v.report.ok(), "{:?}", v.report.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_finger_is_recorded_absent_and_a_slap_is_refused() {
    let (sim, scanner) = r307().await;
    let p = pipeline(&scanner, accepting());
    let prompts = applicant_at(&p, &sim);
    let o = StepOptions::default;
    let id = ready(&p, "3171014708900003").await;

    // A slap cannot be asked of a single-finger scanner: refused, naming the field, before
    // the scanner is touched.
    let plan = FingerprintPlan {
        positions: vec![FingerPosition::RightIndex, FingerPosition::LeftFour],
        ..FingerprintPlan::default()
    };
    let err = p.capture_fingerprints(&id, plan, o()).await.unwrap_err();
    let EnrollmentError::InvalidRequest(v) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].field, "positions[1]");
    assert!(v[0].description.contains("single fingers only"), "{err}");
    assert_eq!(sim.stats().uploads, 0);
    assert!(prompts.lock().unwrap().is_empty());

    // A missing finger needs its override, as on a slap scanner.
    let missing = MissingFinger {
        position: FingerPosition::LeftRing,
        reason: MissingReason::Amputated,
    };
    let plan = FingerprintPlan {
        missing: vec![missing],
        ..FingerprintPlan::default()
    };
    let err = p
        .capture_fingerprints(&id, plan.clone(), o())
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "INVALID_REQUEST");
    let plan = FingerprintPlan {
        overrides: vec![FingerOverride {
            position: FingerPosition::LeftRing,
            reason: "amputated, seen".into(),
            supervisor: "SPV-7".into(),
        }],
        ..plan
    };
    let e = p.capture_fingerprints(&id, plan, o()).await.unwrap();
    let r = &e.recording;
    assert_eq!(r.singles.len(), 9);
    assert!(
        !r.singles
            .iter()
            .any(|f| f.position == FingerPosition::LeftRing)
    );
    assert_eq!(r.absent.len(), 1);
    let absent = &r.absent[0];
    assert_eq!(absent.position, FingerPosition::LeftRing);
    assert_eq!(absent.missing, Some(MissingReason::Amputated));
    assert!(
        absent
            .override_reason
            .as_deref()
            .is_some_and(|o| o.contains("SPV-7")),
        "{absent:?}"
    );
    assert!(r.fingerprints_done);
    assert!(
        !prompts
            .lock()
            .unwrap()
            .iter()
            .any(|c| c.contains("LEFT_RING")),
        "the missing finger was asked for"
    );
    let h = e.history.last().unwrap();
    assert!(
        h.message.contains("accepted by a supervisor: LEFT_RING"),
        "{}",
        h.message
    );

    // One finger again: the others stay; the absent one is captured now.
    let plan = FingerprintPlan {
        positions: vec![FingerPosition::LeftRing],
        ..FingerprintPlan::default()
    };
    let e = p.capture_fingerprints(&id, plan, o()).await.unwrap();
    let r = &e.recording;
    assert_eq!(r.singles.len(), 10);
    assert!(r.absent.is_empty());
    let order: Vec<FingerPosition> = r.singles.iter().map(|f| f.position).collect();
    assert_eq!(order, FingerPosition::SINGLE.to_vec());
    assert!(r.fingerprints_done);

    // A recording cut short says which fingers are still to capture.
    let id2 = ready(&p, "3171014708900004").await;
    let plan = FingerprintPlan {
        positions: vec![FingerPosition::RightThumb, FingerPosition::RightIndex],
        ..FingerprintPlan::default()
    };
    let e = p.capture_fingerprints(&id2, plan, o()).await.unwrap();
    assert!(!e.recording.fingerprints_done);
    let h = e.history.last().unwrap();
    assert!(
        h.message
            .contains("still to capture: RIGHT_MIDDLE, RIGHT_RING, RIGHT_LITTLE, LEFT_THUMB"),
        "{}",
        h.message
    );
    p.capture_signature(&id2, o()).await.unwrap();
    let err = p.finish_recording(&id2, o()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("fingerprints of RIGHT_MIDDLE, RIGHT_RING"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scanner_below_the_requirement_is_refused_unless_the_station_accepts_it() {
    let (sim, scanner) = r307().await;
    let o = StepOptions::default;

    // By default: 500 ppi is enough, 13.0 x 14.6 mm per finger is not (FAP 10 needs
    // 12.7 x 16.5 mm). Refused before the scanner is touched, nothing recorded.
    let p = pipeline(&scanner, common::config());
    let id = ready(&p, "3171014708900003").await;
    let err = p
        .capture_fingerprints(&id, FingerprintPlan::default(), o())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EnrollmentError::ScannerBelowRequirement { device_id, .. } if device_id == "fingerprint0"),
        "{err:?}"
    );
    let text = err.to_string();
    for want in [
        "fingerprint0",
        "13.0 x 14.6 mm",
        "256 x 288 pixels at 500 ppi",
        "12.7 x 16.5 mm",
        "fingerprint_min_area_mm",
        "accept_substandard_scanner",
    ] {
        assert!(text.contains(want), "{want:?} not in {text}");
    }
    assert!(!text.contains("fingerprint_min_ppi"), "{text}");
    assert_eq!(err.reason(), "SCANNER_BELOW_REQUIREMENT");
    assert_eq!(
        err.metadata(),
        vec![("device_id", "fingerprint0".to_string())]
    );
    assert_eq!(sim.stats().uploads, 0);
    let e = p.get(&id).unwrap();
    assert_eq!(e.stage, Stage::IdentityVerified);
    assert!(e.recording.singles.is_empty());

    // A station asking for more resolution refuses it for that too.
    let p = pipeline(
        &scanner,
        PipelineConfig {
            fingerprint_min_ppi: 1000,
            ..common::config()
        },
    );
    let id = ready(&p, "3171014708900003").await;
    let err = p
        .capture_fingerprints(&id, FingerprintPlan::default(), o())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("500 ppi, below the 1000 ppi required (fingerprint_min_ppi)"),
        "{text}"
    );
    assert_eq!(sim.stats().uploads, 0);

    // A station whose minimum area the module meets uses it, with nothing to report.
    let p = pipeline(
        &scanner,
        PipelineConfig {
            fingerprint_min_area_mm: (12.0, 14.0),
            ..common::config()
        },
    );
    let _applicant = applicant_at(&p, &sim);
    let id = ready(&p, "3171014708900003").await;
    let plan = FingerprintPlan {
        positions: vec![FingerPosition::RightIndex],
        ..FingerprintPlan::default()
    };
    let e = p.capture_fingerprints(&id, plan, o()).await.unwrap();
    assert_eq!(e.recording.singles.len(), 1);
    let h = e.history.last().unwrap();
    assert!(
        !h.message.contains("below the requirement"),
        "{}",
        h.message
    );
    assert!(h.note.is_none(), "{:?}", h.note);
    assert!(sim.stats().uploads >= 1);
}
