//! The procedure driven without gRPC: the pipeline over the five simulators, through its
//! own API, following the transition table; and what it logs never holds the applicant's
//! personal data.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use rekam_enrollment::*;

mod common;

fn pipeline() -> Arc<Pipeline> {
    common::pipeline(Arc::new(
        rekam_store::SqliteStore::open_in_memory().unwrap(),
    ))
}

fn siti() -> Applicant {
    common::applicant("3171014708900003")
}

/// A log sink the test reads back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_enrollment_without_grpc_logs_no_personal_data() {
    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    // Global: the steps log from tasks of their own, on any worker thread. (This test is
    // alone in its binary, so it owns the global subscriber.)
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let p = pipeline();
    let o = StepOptions::default;
    let e = p.create(siti(), o()).await.unwrap();
    let id = e.id.clone();
    // Out of order is refused from the table, before any device is touched.
    let err = p.print(&id, o()).await.unwrap_err();
    assert_eq!(err.reason(), "STEP_OUT_OF_ORDER");
    // A wrong family card: refused, without the numbers in the message.
    let err = p
        .check_documents(&id, "3171010101099999", o())
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "DOCUMENT_MISMATCH");
    p.check_documents(&id, &siti().kk_number, o())
        .await
        .unwrap();
    p.verify_identity(&id, o()).await.unwrap();
    p.capture_face(&id, o()).await.unwrap();
    p.capture_fingerprints(&id, FingerprintPlan::default(), o())
        .await
        .unwrap();
    p.capture_signature(&id, o()).await.unwrap();
    p.finish_recording(&id, o()).await.unwrap();
    p.send(&id, o()).await.unwrap();
    p.print(&id, o()).await.unwrap();
    p.encode(&id, o()).await.unwrap();
    let e = p.hand_over(&id, o()).await.unwrap();
    assert_eq!(e.stage, Stage::HandedOver);
    // Every step in the history, each from an operation with its devices.
    let steps: Vec<Step> = e.history.iter().map(|h| h.step).collect();
    assert_eq!(
        steps,
        [
            Step::Create,
            Step::CheckDocuments,
            Step::CheckDocuments,
            Step::VerifyIdentity,
            Step::CaptureFace,
            Step::CaptureFingerprints,
            Step::CaptureSignature,
            Step::FinishRecording,
            Step::Send,
            Step::Print,
            Step::Encode,
            Step::HandOver,
        ]
    );
    let print = e.history.iter().find(|h| h.step == Step::Print).unwrap();
    assert_eq!(print.device_ids, ["printer0"]);
    assert!(print.operation_id.is_some() && print.job_id.is_some());

    // SIAK's refusals and a failed send also log no personal data.
    let e2 = {
        let mut a = siti();
        a.nik = "3171014708900004".into();
        p.create(a, o()).await.unwrap()
    };
    p.siak().simulator().unwrap().inject("mismatch").unwrap();
    p.check_documents(&e2.id, &siti().kk_number, o())
        .await
        .unwrap();
    p.verify_identity(&e2.id, o()).await.unwrap_err();

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("enrollment created"), "{text}");
    // The steps' own lines, logged from their tasks, are there too.
    assert!(text.contains("family card checked"), "{text}");
    assert!(text.contains("step ended"), "{text}");
    for secret in [
        "3171014708900003",
        "3171014708900004",
        "3171010101090001",
        "3171010101099999",
        "SITI",
        "RAHAYU",
        "MERDEKA",
    ] {
        assert!(!text.contains(secret), "{secret} in the logs:\n{text}");
    }
}
