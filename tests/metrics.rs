//! The metrics endpoint (`[metrics] listen`): after a recorded enrollment, a refused face
//! and a camera unplugged, `GET /metrics` shows them in the Prometheus text format, with
//! the service standard's phases, the outbox and the store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use rekam_tests::*;

/// `name{labels} value` lines as a map (comments left out).
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse::<f64>().unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_shows_steps_devices_phases_outbox_and_store() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let listen = addr.clone();
    let d = TestDaemon::start_with(move |c| c.metrics.listen = listen).await;
    let id = recorded(&d).await;
    assert!(!id.is_empty());
    // A refused face: the lens covered.
    let other = {
        let mut c = d.enroll();
        let mut a = applicant();
        a.nik = "3171014708900011".into();
        let e = c
            .create_enrollment(rekam_api::pb::CreateEnrollmentRequest {
                applicant: Some(a),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        e.name
    };
    let mut c = d.enroll();
    c.check_documents(rekam_api::pb::CheckDocumentsRequest {
        name: other.clone(),
        kk_number_on_document: applicant().kk_number,
        ..Default::default()
    })
    .await
    .unwrap();
    c.verify_identity(step(&other)).await.unwrap();
    d.fault("camera0", "lens_covered").await;
    assert!(c.capture_face(step(&other)).await.is_err());
    d.clear("camera0").await;
    d.fault("camera0", "disconnect").await;

    let get = || async {
        let r = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap();
        assert!(r.status().is_success());
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        (ct, r.text().await.unwrap())
    };
    let (content_type, text) = get().await;
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    let m = samples(&text);
    let v = |k: &str| *m.get(k).unwrap_or_else(|| panic!("no {k} in\n{text}"));
    assert!(v(r#"rekam_step_outcomes_total{step="capture_face",outcome="succeeded"}"#) >= 1.0);
    assert!(v(r#"rekam_step_outcomes_total{step="capture_face",outcome="failed"}"#) >= 1.0);
    assert!(v(r#"rekam_step_outcomes_total{step="finish_recording",outcome="succeeded"}"#) >= 1.0);
    assert_eq!(
        v(r#"rekam_device_up{device="camera0",class="camera"}"#),
        0.0
    );
    assert_eq!(
        v(r#"rekam_device_up{device="fingerprint0",class="fingerprint"}"#),
        1.0
    );
    assert_eq!(
        v(r#"rekam_device_state{device="camera0",class="camera",state="disconnected"}"#),
        1.0
    );
    assert!(v(r#"rekam_device_faults_total{device="camera0",class="camera"}"#) >= 1.0);
    assert_eq!(
        v(r#"rekam_phase_standard_seconds{phase="recording"}"#),
        180.0
    );
    assert_eq!(v(r#"rekam_phase_standard_seconds{phase="send"}"#), 3600.0);
    assert!(v(r#"rekam_phase_completed_today{phase="recording"}"#) >= 1.0);
    assert_eq!(
        v(r#"rekam_phase_over_standard_today{phase="recording"}"#),
        0.0
    );
    assert_eq!(v("rekam_outbox_pending"), 0.0);
    assert!(v("rekam_store_bytes") > 0.0);
    // Every metric the sample alert rules use is served.
    let rules = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/prometheus/rekam.rules.yml"),
    )
    .unwrap();
    let mut used: Vec<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("rekam_"))
        .collect();
    used.sort_unstable();
    used.dedup();
    assert!(used.len() >= 5, "{used:?}");
    for name in used {
        assert!(
            m.keys()
                .any(|k| k == name || k.starts_with(&format!("{name}{{"))),
            "the alert rules use {name}, which is not served"
        );
    }
    // Nothing personal: no NIK, no name.
    assert!(
        !text.contains("3171014708900003") && !text.contains("SITI"),
        "{text}"
    );
}
