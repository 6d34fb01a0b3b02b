//! rekam's SBI client against an independent SBI device service: `tests/sbi_sim.py`
//! (Python's http.server and `cryptography`, written from the specification's examples, not
//! from rekam's code), healthy and with each fault: busy, not registered, a bad signature, a
//! broken hash chain, a timeout returning the best frame; and the other way round,
//! rekam's service's signatures and hash chain checked by `tests/sbi_check.py` (Python's
//! hashlib and `cryptography`). A Python peer that cannot start fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use rekam_core::DeviceState;
use rekam_sbi::hash::first_previous_hash;
use rekam_sbi::jws::JwsError;
use rekam_sbi::model::*;
use rekam_sbi::{SbiClient, SbiClientError, TrustStore};
use std::time::{Duration, Instant};

fn client(sim: &PySim) -> SbiClient {
    SbiClient::new(TrustStore::from_certificates(sim.ca_pem.as_bytes()).unwrap())
}

fn slap_request(previous: &str, timeout_ms: u64) -> RCaptureRequest {
    rcapture(
        "1",
        BioType::Finger,
        1,
        3,
        vec![BioSubType::LeftLittle],
        60.0,
        timeout_ms,
        previous,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_device_is_discovered_verified_captured_and_streamed() {
    let sim = py_sim("none").await;
    let client = client(&sim);
    let found = client.discover(PORT_RANGE, DiscoverType::Finger).await;
    let ours = found
        .iter()
        .find(|d| d.port == sim.port)
        .expect("the simulator is discovered");
    // deviceSubId arrives as strings, as MOSIP's mock sends it.
    assert_eq!(ours.devices[0].device_sub_id, vec![1, 2, 3]);
    assert_eq!(ours.devices[0].device_status, DeviceStatus::Ready);
    assert!(
        client
            .discover_port(sim.port, DiscoverType::Iris)
            .await
            .unwrap()
            .is_empty()
    );

    let infos = client.device_info(sim.port).await.unwrap();
    assert_eq!(infos.len(), 1);
    assert!(infos[0].signed);
    assert_eq!(infos[0].signer.as_deref(), Some("CN=SBI sim slap 0001"));
    assert_eq!(infos[0].state(), DeviceState::Ready);
    assert_eq!(infos[0].digital_id.device_sub_type, DeviceSubType::Slap);

    let cap = client
        .rcapture(sim.port, &slap_request(&first_previous_hash(), 5_000))
        .await
        .unwrap();
    let subtypes: Vec<_> = cap.samples.iter().map(|s| s.data.bio_sub_type).collect();
    assert_eq!(
        subtypes,
        vec![
            Some(BioSubType::LeftIndex),
            Some(BioSubType::LeftMiddle),
            Some(BioSubType::LeftRing)
        ]
    );
    // Scores arrive as strings too.
    assert!(
        cap.samples
            .iter()
            .all(|s| s.data.quality_score == 86.0 && !s.below_requested)
    );
    // The chain continues into a second capture of the transaction (thumbs).
    let thumbs = rcapture(
        "1",
        BioType::Finger,
        3,
        2,
        vec![],
        60.0,
        5_000,
        &cap.last_hash,
    );
    let cap2 = client.rcapture(sim.port, &thumbs).await.unwrap();
    assert_eq!(cap2.samples.len(), 2);
    // An empty first previousHash is the same as SHA-256("").
    client
        .rcapture(sim.port, &slap_request("", 5_000))
        .await
        .unwrap();

    let mut stream = client
        .stream(
            sim.port,
            &StreamRequest {
                device_id: "1".into(),
                device_sub_id: 1,
                timeout: None,
            },
        )
        .await
        .unwrap();
    let mut frames = Vec::new();
    while let Some(f) = stream.next_frame().await.unwrap() {
        frames.push(f);
    }
    assert_eq!(frames.len(), 3);
    assert!(
        frames
            .iter()
            .all(|f| f.starts_with(&[0xFF, 0xD8]) && f.ends_with(&[0xFF, 0xD9]))
    );
    let err = client
        .stream(
            sim.port,
            &StreamRequest {
                device_id: "9".into(),
                device_sub_id: 1,
                timeout: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, SbiClientError::DeviceNotFound { code: 202, .. }),
        "{err}"
    );
    let err = client
        .rcapture(
            sim.port,
            &rcapture("1", BioType::Finger, 1, 2, vec![], 60.0, 5_000, ""),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, SbiClientError::CountNotSupported { .. }),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_device() {
    let sim = py_sim("busy").await;
    let client = client(&sim);
    let disc = client
        .discover_port(sim.port, DiscoverType::Any)
        .await
        .unwrap();
    assert_eq!(disc[0].device_status, DeviceStatus::Busy);
    assert_eq!(disc[0].error.code(), ErrorCode::Busy);
    let infos = client.device_info(sim.port).await.unwrap();
    assert_eq!(infos[0].state(), DeviceState::Busy);
    let err = client
        .rcapture(sim.port, &slap_request("", 5_000))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SbiClientError::Busy { ref device } if device == "1"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_not_registered() {
    let sim = py_sim("not_registered").await;
    let client = client(&sim);
    let infos = client.device_info(sim.port).await.unwrap();
    assert!(!infos[0].signed);
    assert_eq!(infos[0].info.device_status, DeviceStatus::NotRegistered);
    assert_eq!(infos[0].info.purpose, Purpose::None);
    assert_eq!(infos[0].digital_id.serial_no, "SIMSLAP000000001");
    assert!(matches!(infos[0].state(), DeviceState::Error(_)));
    let err = client
        .rcapture(sim.port, &slap_request("", 5_000))
        .await
        .unwrap_err();
    assert!(matches!(err, SbiClientError::NotRegistered { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signature_is_refused() {
    let sim = py_sim("bad_signature").await;
    let client = client(&sim);
    // Device info is signed properly; the second capture's data is not.
    client.device_info(sim.port).await.unwrap();
    let err = client
        .rcapture(sim.port, &slap_request("", 5_000))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SbiClientError::Signature { source: JwsError::BadSignature { .. }, ref what, .. } if what == "capture data"),
        "{err}"
    );
    // And a client trusting another CA refuses even the device info.
    let other = pki("not the simulator's CA");
    let err = SbiClient::new(other.trust())
        .device_info(sim.port)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SbiClientError::Signature {
                source: JwsError::Untrusted { .. },
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_hash_chain_is_refused() {
    let sim = py_sim("broken_chain").await;
    let client = client(&sim);
    let err = client
        .rcapture(sim.port, &slap_request("", 5_000))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SbiClientError::BrokenHashChain { index: 1, .. }),
        "{err}"
    );
    // The healthy simulator chains from whatever previousHash the request carries.
    let healthy = py_sim("none").await;
    let other_prev = rekam_sbi::hash::chain_hash("", b"another transaction").unwrap();
    let cap = self::client(&healthy)
        .rcapture(healthy.port, &slap_request(&other_prev, 5_000))
        .await
        .unwrap();
    assert_eq!(
        cap.samples[0].hash,
        rekam_sbi::hash::chain_hash(&other_prev, &cap.samples[0].iso_record).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_returns_the_best_frame() {
    let sim = py_sim("timeout").await;
    let client = client(&sim);
    let mut req = slap_request("", 800);
    req.bio[0].requested_score = Some(80.0);
    let t = Instant::now();
    let cap = client.rcapture(sim.port, &req).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(800));
    assert_eq!(cap.samples.len(), 3);
    for s in &cap.samples {
        assert!(s.below_requested);
        assert_eq!(s.data.quality_score, 35.0);
        assert_eq!(s.data.requested_score, 80.0);
    }
}

/// Run `tests/sbi_check.py` on an RCAPTURE answer: (exit success, its output).
fn python_check(ca_pem: &str, previous: &str, biometrics: &serde_json::Value) -> (bool, String) {
    use std::io::Write;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sbi_check.py");
    let python = if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let mut child = std::process::Command::new(python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python} {script}: {e}"));
    let input =
        serde_json::json!({"ca": ca_pem, "previousHash": previous, "biometrics": biometrics});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekam_s_signatures_and_chain_check_out_in_python() {
    // rekam's service signs and chains; Python's cryptography and hashlib check.
    let pki = pki("rekam SBI CA checked by Python");
    let (svc, _sim) = service(Some(pki.key.clone())).await;
    let previous = rekam_sbi::hash::chain_hash("", b"an earlier capture").unwrap();
    let req = rcapture(
        rekam_sbi::sim::ids::FINGER,
        BioType::Finger,
        2,
        4,
        vec![],
        50.0,
        10_000,
        &previous,
    );
    let answer = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(b"RCAPTURE").unwrap(),
            format!("http://127.0.0.1:{}/capture", svc.port()),
        )
        .body(serde_json::to_string(&req).unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    let (ok, out) = python_check(&pki.ca_pem, &previous, &answer["biometrics"]);
    assert!(ok, "{out}");
    assert_eq!(out, "OK 4");
    // The checker is not a yes-man: a changed hash, or another CA, fails it.
    let mut tampered = answer["biometrics"].clone();
    tampered[2]["hash"] = serde_json::json!(rekam_sbi::hash::first_previous_hash());
    let (ok, out) = python_check(&pki.ca_pem, &previous, &tampered);
    assert!(!ok && out.starts_with("capture 2: hash"), "{out}");
    let other = common::pki("another CA");
    let (ok, out) = python_check(&other.ca_pem, &previous, &answer["biometrics"]);
    assert!(!ok && out.starts_with("capture 0: signature"), "{out}");
    svc.stop().await;
}
