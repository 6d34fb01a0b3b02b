//! The procedure driven without gRPC: the pipeline over the five simulators, through its
//! own API, following the transition table; and what it logs never holds the applicant's
//! personal data.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rekam_core::sim::Timing;
use rekam_core::{AnyDevice, Registry};
use rekam_enrollment::*;

fn render(
    samples: &[rekam_core::PenSample],
    geometry: rekam_core::PadGeometry,
    width: u32,
) -> Result<(Vec<u8>, u32, u32), String> {
    rekam_signature::render_png(samples, geometry, width).map_err(|e| e.to_string())
}

fn pipeline() -> Arc<Pipeline> {
    let t = Timing::new(0.0);
    let registry = Registry::new(vec![
        AnyDevice::Fingerprint(Arc::new(rekam_fingerprint::FingerprintSim::new(
            "fingerprint0",
            1,
            t,
        ))),
        AnyDevice::Camera(Arc::new(rekam_camera::CameraSim::new("camera0", 2, t))),
        AnyDevice::Signature(Arc::new(rekam_signature::SignatureSim::new(
            "signature0",
            3,
            t,
        ))),
        AnyDevice::Printer(Arc::new(rekam_printer::PrinterSim::new("printer0", 4, t))),
        AnyDevice::Encoder(Arc::new(rekam_encoder::EncoderSim::new("encoder0", 5, t))),
    ])
    .unwrap();
    Arc::new(Pipeline::new(
        Arc::new(registry),
        Arc::new(SiakSim::new(t)),
        Arc::new(DataCentreSim::new(t)),
        PipelineConfig {
            station_id: "TEST-0001".into(),
            data_centre_agency: "DUKCAPIL".into(),
            signature_renderer: render,
            device_timeout: Duration::from_secs(30),
            utc_offset_minutes: 420,
            fingerprint_min_quality: 40,
            fingerprint_attempts: 3,
            biometrics_retention: Duration::from_secs(3600),
            send_wait: Duration::from_millis(500),
        },
        Arc::new(rekam_store::SqliteStore::open_in_memory().unwrap()),
    ))
}

fn siti() -> Applicant {
    Applicant {
        nik: "3171014708900003".into(),
        kk_number: "3171010101090001".into(),
        name: "SITI RAHAYU".into(),
        birth_place: "JAKARTA".into(),
        birth_date: Date::new(1990, 8, 7).unwrap(),
        sex: Sex::Female,
        address: "JL. MERDEKA NO. 10".into(),
        rt: 3,
        rw: 5,
        village: "GAMBIR".into(),
        district: "GAMBIR".into(),
        regency: "JAKARTA PUSAT".into(),
        province: "DKI JAKARTA".into(),
        religion: Religion::Islam,
        marital_status: MaritalStatus::Married,
        occupation: "KARYAWAN SWASTA".into(),
        citizenship: Citizenship::Wni,
        blood_type: BloodType::O,
    }
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
