//! Shared by the tests: test keys and certificates made here (an ECDSA P-256 device CA with
//! rcgen, an RSA 2048 device key from `openssl genpkey`, since ring cannot make RSA keys),
//! rekam's SBI service over the simulated backend, and the independent Python simulator.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use rekam_sbi::model::*;
use rekam_sbi::{DeviceKey, SbiService, ServiceConfig, SimBackend, TrustStore};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// A device CA and a device key with its certificate.
pub struct Pki {
    pub ca_pem: String,
    pub key: Arc<DeviceKey>,
}

impl Pki {
    pub fn trust(&self) -> TrustStore {
        TrustStore::from_certificates(self.ca_pem.as_bytes()).unwrap()
    }
}

/// A fresh CA and device key (`rekam_sbi::compliance::TestPki`).
pub fn pki(ca_name: &str) -> Pki {
    let p = rekam_sbi::compliance::TestPki::generate(ca_name, "rekam SBI test device").unwrap();
    Pki {
        ca_pem: p.ca_pem.clone(),
        key: p.device_key().unwrap(),
    }
}

/// An RSA 2048 private key, PKCS#8 PEM.
pub fn rsa_key_pem() -> String {
    rekam_sbi::compliance::rsa_key_pem().unwrap()
}

/// rekam's service over a simulated backend, on the first free port of the SBI range.
pub async fn service(key: Option<Arc<DeviceKey>>) -> (SbiService, SimBackend) {
    let sim = SimBackend::new();
    let svc = SbiService::start(ServiceConfig::new(key), Arc::new(sim.clone()))
        .await
        .unwrap();
    (svc, sim)
}

/// A registration capture request (one `bio`; every field a test varies is an argument).
#[allow(clippy::too_many_arguments)]
pub fn rcapture(
    device_id: &str,
    bio_type: BioType,
    sub_id: u32,
    count: u32,
    exceptions: Vec<BioSubType>,
    score: f64,
    timeout_ms: u64,
    previous_hash: &str,
) -> RCaptureRequest {
    RCaptureRequest {
        env: Env::Developer,
        purpose: Purpose::Registration,
        spec_version: SPEC_VERSION.into(),
        timeout: Some(timeout_ms),
        capture_time: timestamp_now(),
        transaction_id: "rekam-test-0001".into(),
        bio: vec![BioRequest {
            bio_type,
            count,
            bio_sub_type: Vec::new(),
            exception: exceptions,
            requested_score: Some(score),
            device_id: device_id.into(),
            device_sub_id: sub_id,
            previous_hash: previous_hash.into(),
        }],
        custom_opts: None,
    }
}

/// The independent Python SBI simulator (tests/sbi_sim.py), running with a fault.
pub struct PySim {
    pub port: u16,
    pub ca_pem: String,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

/// Start the Python simulator; a simulator that cannot start fails the test.
pub async fn py_sim(fault: &str) -> PySim {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sbi_sim.py");
    // Debian's python3 with python3-cryptography (tests/deps.sh).
    let python = if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let mut child = tokio::process::Command::new(python)
        .arg(script)
        .arg("--fault")
        .arg(fault)
        .arg("--ca-out")
        .arg(&ca)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {python} {script}: {e} (tests/deps.sh installs python3-cryptography)"
            )
        });
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the Python SBI simulator did not start within 30 s")
        .unwrap()
        .unwrap_or_else(|| panic!("the Python SBI simulator exited at start: is python3-cryptography installed? (tests/deps.sh)"));
    let port: u16 = line
        .strip_prefix("PORT ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("the Python SBI simulator said {line:?}"));
    let ca_pem = std::fs::read_to_string(&ca).unwrap();
    PySim {
        port,
        ca_pem,
        _child: child,
        _dir: dir,
    }
}
