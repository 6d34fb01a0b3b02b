//! The enrollment's integrity through the pipeline: every artefact is chained as its step
//! commits it and verify finds it unchanged; an artefact changed in the store afterwards
//! (by someone holding the store's key, but not the station's) is caught; the hand-over is
//! refused when the printed card, the chip and SIAK's record disagree; a receipt's QR code
//! reopens its enrollment, and a forged one is refused.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use rekam_enrollment::integrity::kind;
use rekam_enrollment::*;
use rekam_store::{Commit, EnrollmentStore, SqliteStore};

mod common;

fn siti() -> Applicant {
    common::applicant("3171014708900003")
}

async fn recorded(p: &Arc<Pipeline>, a: Applicant) -> String {
    let o = StepOptions::default;
    let id = p.create(a.clone(), o()).await.unwrap().id;
    p.check_documents(&id, &a.kk_number, o()).await.unwrap();
    p.verify_identity(&id, o()).await.unwrap();
    p.capture_face(&id, o()).await.unwrap();
    p.capture_fingerprints(&id, FingerprintPlan::default(), o())
        .await
        .unwrap();
    p.capture_signature(&id, o()).await.unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_artefact_is_chained_and_a_changed_one_is_caught() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let p = common::pipeline(store.clone());
    let o = StepOptions::default;
    let id = recorded(&p, siti()).await;
    p.finish_recording(&id, o()).await.unwrap();
    p.send(&id, o()).await.unwrap();
    p.print(&id, o()).await.unwrap();
    p.encode(&id, o()).await.unwrap();
    let e = p.hand_over(&id, o()).await.unwrap();
    assert!(
        e.history
            .last()
            .unwrap()
            .message
            .contains("SIAK's record agree"),
        "{:?}",
        e.history.last()
    );
    let names: Vec<(&str, &str)> = e
        .chain
        .iter()
        .map(|c| (c.kind.as_str(), c.name.as_str()))
        .collect();
    for want in [
        (kind::CAPTURE, "face"),
        (kind::CAPTURE, "slap:RIGHT_FOUR"),
        (kind::CAPTURE, "slap:LEFT_FOUR"),
        (kind::CAPTURE, "slap:BOTH_THUMBS"),
        (kind::CAPTURE, "signature"),
        (kind::PACKAGE, "package"),
        (kind::CARD, "card.front"),
        (kind::CARD, "card.back"),
        (kind::CHIP, "chip.dg1"),
        (kind::CHIP, "chip.dg2"),
        (kind::CHIP, "chip.dg3"),
        (kind::CHIP, "chip.dg7"),
    ] {
        assert!(names.contains(&want), "{want:?} not chained: {names:?}");
    }
    // Each entry links to the one before.
    for w in e.chain.windows(2) {
        assert_eq!(w[1].prev, w[0].hash);
        assert_eq!(w[1].seq, w[0].seq + 1);
    }
    let v = p.verify(&id).await.unwrap();
    assert!(v.report.ok(), "{:?}", v.report.problems);
    assert_eq!(v.report.entries, e.chain.len());
    // Everything but the package (not kept after delivery) is checked.
    assert_eq!(v.report.checked_content, e.chain.len() - 1, "{:?}", v.notes);
    assert!(
        v.notes.iter().any(|n| n.starts_with("package:")),
        "{:?}",
        v.notes
    );

    // Someone with the store's key (not the station's) swaps a byte of the face photo.
    let row = store.load(&id).unwrap().unwrap();
    let mut face = store
        .artefacts(&id)
        .unwrap()
        .into_iter()
        .find(|(n, _)| n == "face")
        .unwrap()
        .1;
    let mid = face.len() / 2;
    face[mid] ^= 0x55;
    store
        .commit(&Commit {
            id: &id,
            expected_version: row.version,
            index: &row.index,
            summary: &row.summary,
            put: &[("face", &face)],
            delete: &[],
            answer: None,
            enqueue: None,
        })
        .unwrap();
    let v = p.verify(&id).await.unwrap();
    assert!(!v.report.ok());
    let changed: Vec<String> = v.report.problems.iter().map(|x| x.to_string()).collect();
    assert!(
        v.report.problems.iter().any(|x| matches!(
            x,
            rekam_integrity::ChainProblem::ContentChanged { name, .. } if name == "face"
        )),
        "{changed:?}"
    );

    // And the summary's applicant changed (a name): the card and chip made from it no
    // longer match what was printed and written.
    let mut e2 = e.clone();
    e2.applicant.name = "SITI RAHAYU DEWI".into();
    let fake = rekam_enrollment::integrity::verify(
        &e2,
        &store.artefacts(&id).unwrap(),
        &rekam_integrity::StationKey::from_seed([7; 32]),
        &common::chip_config(),
        &common::card_layout(),
    )
    .unwrap();
    let names: Vec<String> = fake
        .report
        .problems
        .iter()
        .filter_map(|x| match x {
            rekam_integrity::ChainProblem::ContentChanged { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    assert!(names.contains(&"chip.dg1".to_string()), "{names:?}");
    // The security object covers DG1's hash: it changes with it.
    assert!(names.contains(&"chip.sod".to_string()), "{names:?}");
    // Checked with another station's key, every signature is unknown.
    let other = rekam_enrollment::integrity::verify(
        &e,
        &[],
        &rekam_integrity::StationKey::from_seed([8; 32]),
        &common::chip_config(),
        &common::card_layout(),
    )
    .unwrap();
    assert!(
        other
            .report
            .problems
            .iter()
            .any(|x| matches!(x, rekam_integrity::ChainProblem::UnknownKey { .. }))
    );
}

/// A SIAK whose matching tolerates spelling variants: it confirms the applicant, but its
/// record spells the name its own way.
struct LenientSiak;

#[async_trait::async_trait]
impl Siak for LenientSiak {
    async fn verify(&self, a: &Applicant) -> Result<SiakConfirmation, ServiceError> {
        let mut r = rekam_enrollment::siak::resident(a);
        r.name = "SITI RAHAJOE".into();
        Ok(SiakConfirmation {
            reference: "SIAK-LENIENT-1".into(),
            record: rekam_enrollment::siak::record_fields(&r),
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hand_over_is_refused_when_the_card_and_siak_disagree() {
    let p = common::pipeline_with_siak(
        Arc::new(SqliteStore::open_in_memory().unwrap()),
        Arc::new(LenientSiak),
    );
    let o = StepOptions::default;
    let id = recorded(&p, siti()).await;
    p.finish_recording(&id, o()).await.unwrap();
    p.send(&id, o()).await.unwrap();
    p.print(&id, o()).await.unwrap();
    p.encode(&id, o()).await.unwrap();
    let err = p.hand_over(&id, o()).await.unwrap_err();
    assert_eq!(err.reason(), "HANDOVER_MISMATCH");
    let text = err.to_string();
    assert!(
        text.contains("Nama differs between the printed card and SIAK's record"),
        "{text}"
    );
    assert!(
        !text.contains("RAHAJOE"),
        "no personal data in the error: {text}"
    );
    assert_eq!(err.metadata(), vec![("fields", "Nama".to_string())]);
    let e = p.get(&id).unwrap();
    assert_eq!(e.stage, Stage::Encoded, "the card stays with the station");
    assert_eq!(
        e.history.last().unwrap().error_reason.as_deref(),
        Some("HANDOVER_MISMATCH")
    );
    // The printed card and the chip agree with each other: only SIAK is named.
    assert_eq!(e.printed_fields, e.chip_fields);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn siak_verdicts_are_kept_on_the_enrollment() {
    let p = common::pipeline(Arc::new(SqliteStore::open_in_memory().unwrap()));
    let o = StepOptions::default;
    let a = siti();
    let id = p.create(a.clone(), o()).await.unwrap().id;
    p.check_documents(&id, &a.kk_number, o()).await.unwrap();
    let sim = p.siak().simulator().unwrap();
    sim.inject("mismatch").unwrap();
    let err = p.verify_identity(&id, o()).await.unwrap_err();
    assert_eq!(err.reason(), "SIAK_MISMATCH");
    let e = p.get(&id).unwrap();
    let check = e.siak.expect("the verdict is kept");
    assert_eq!(check.verdict, SiakVerdict::Mismatch(vec!["name".into()]));
    sim.clear();
    sim.inject("not_registered").unwrap();
    p.verify_identity(&id, o()).await.unwrap_err();
    assert_eq!(
        p.get(&id).unwrap().siak.unwrap().verdict,
        SiakVerdict::NotRegistered
    );
    sim.clear();
    let e = p.verify_identity(&id, o()).await.unwrap();
    let check = e.siak.unwrap();
    assert_eq!(check.verdict, SiakVerdict::Match);
    assert_eq!(
        check.record.unwrap()[1],
        ("Nama".to_string(), a.name.clone())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_qr_reopens_its_enrollment_and_a_forged_one_is_refused() {
    let p = common::pipeline(Arc::new(SqliteStore::open_in_memory().unwrap()));
    let o = StepOptions::default;
    let id = recorded(&p, siti()).await;
    let dc = p.data_centre().simulator().unwrap();
    dc.inject("unavailable").unwrap();
    p.finish_recording(&id, o()).await.unwrap();
    p.send(&id, o()).await.unwrap_err();
    let e = p.issue_receipt(&id, o()).await.unwrap();
    let number = e.receipt.as_ref().unwrap().number.clone();
    let qr = e.receipt_qr.clone().unwrap();
    assert!(qr.starts_with(&format!("REKAM-BP1:{number}:")), "{qr}");
    let pdf = p.receipt_document(&id, true).await.unwrap();
    assert!(pdf.data.starts_with(b"%PDF-"));
    assert_eq!(
        (pdf.number.as_str(), pdf.qr.as_str()),
        (number.as_str(), qr.as_str())
    );
    let png = p.receipt_document(&id, false).await.unwrap();
    assert!(png.data.starts_with(b"\x89PNG"));

    // Not delivered yet: found, not ready.
    let (found, ready) = p.open_receipt(&qr, o()).await.unwrap();
    assert_eq!((found.id.as_str(), ready), (id.as_str(), false));
    // Forged: another receipt number under the same signature; another station's key.
    let forged = qr.replacen(&number, &format!("{}X", &number[..number.len() - 1]), 1);
    let err = p.open_receipt(&forged, o()).await.unwrap_err();
    assert_eq!(err.reason(), "RECEIPT_FORGED");
    let other =
        rekam_integrity::sign_receipt(&rekam_integrity::StationKey::from_seed([9; 32]), &number);
    assert_eq!(
        p.open_receipt(&other, o()).await.unwrap_err().reason(),
        "RECEIPT_FORGED"
    );
    assert_eq!(
        p.open_receipt("not a receipt", o())
            .await
            .unwrap_err()
            .reason(),
        "RECEIPT_MALFORMED"
    );
    // The data centre comes back; the outbox delivers; print-ready arrives.
    dc.clear();
    let mut ready = false;
    for _ in 0..200 {
        let (_, r) = p.open_receipt(&qr, o()).await.unwrap();
        if r {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ready, "never print-ready");
    assert_eq!(p.get(&id).unwrap().stage, Stage::Sent);
    p.print(&id, o()).await.unwrap();
}
