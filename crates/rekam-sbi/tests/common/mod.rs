//! Shared by the tests: test keys and certificates made here (an ECDSA P-256 device CA with
//! rcgen, an RSA 2048 device key from `openssl genpkey`, since ring cannot make RSA keys),
//! rekam's SBI service over the simulated backend, and the independent Python simulator.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use rekam_sbi::model::*;
use rekam_sbi::{DeviceKey, SbiService, ServiceConfig, SimBackend, TrustStore};
use std::sync::Arc;

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

pub use rekam_sbi::compliance::PySim;

/// Start the Python simulator; a simulator that cannot start fails the test.
pub async fn py_sim(fault: &str) -> PySim {
    PySim::start(fault).await.unwrap()
}
