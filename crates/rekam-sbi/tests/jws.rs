//! The device signatures on their own: a device certificate under an intermediate CA,
//! certificates out of their validity, a key that is not the certificate's, a changed
//! payload, the specification's single-string `x5c`, and algorithms SBI does not use.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use common::rsa_key_pem;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rekam_sbi::jws::{DeviceKey, JwsError, KeyError, TrustStore, b64url, b64url_decode};

const NOW: u64 = 1_800_000_000; // 2027-01-15

fn ca_params(name: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

fn device_params(years: (i32, i32)) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, "device");
    p.not_before = rcgen::date_time_ymd(years.0, 1, 1);
    p.not_after = rcgen::date_time_ymd(years.1, 1, 1);
    p
}

struct Chain {
    root_pem: String,
    intermediate_pem: String,
    device_pem: String,
    key_pem: String,
}

/// Root CA → intermediate CA → device, the device valid over `years`.
fn chain(years: (i32, i32)) -> Chain {
    let root_params = ca_params("root CA");
    let root_key = KeyPair::generate().unwrap();
    let root = root_params.self_signed(&root_key).unwrap();
    let root_issuer = Issuer::new(root_params, root_key);
    let int_params = ca_params("intermediate CA");
    let int_key = KeyPair::generate().unwrap();
    let intermediate = int_params.signed_by(&int_key, &root_issuer).unwrap();
    let int_issuer = Issuer::new(int_params, int_key);
    let key_pem = rsa_key_pem();
    let dev_key = KeyPair::from_pkcs8_pem_and_sign_algo(&key_pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    let device = device_params(years)
        .signed_by(&dev_key, &int_issuer)
        .unwrap();
    Chain {
        root_pem: root.pem(),
        intermediate_pem: intermediate.pem(),
        device_pem: device.pem(),
        key_pem,
    }
}

#[test]
fn a_device_under_an_intermediate_ca() {
    let c = chain((2025, 2030));
    let trust = TrustStore::from_certificates(c.root_pem.as_bytes()).unwrap();
    // x5c carries the device and the intermediate: the path to the root is found.
    let both = format!("{}{}", c.device_pem, c.intermediate_pem);
    let key = DeviceKey::from_files_content(c.key_pem.as_bytes(), both.as_bytes()).unwrap();
    assert_eq!(key.chain().len(), 2);
    let token = key.sign(br#"{"a":1}"#).unwrap();
    let v = trust.verify(&token, NOW).unwrap();
    assert_eq!(v.payload, br#"{"a":1}"#);
    assert_eq!(v.signer, "CN=device");
    assert_eq!(v.header.alg, "RS256");
    assert_eq!(v.header.typ.as_deref(), Some("JWT"));
    // Without the intermediate, the root alone does not reach the device.
    let alone =
        DeviceKey::from_files_content(c.key_pem.as_bytes(), c.device_pem.as_bytes()).unwrap();
    let err = trust.verify(&alone.sign(b"{}").unwrap(), NOW).unwrap_err();
    assert!(
        matches!(err, JwsError::Untrusted { ref issuer, .. } if issuer == "CN=intermediate CA"),
        "{err}"
    );
    // Trusting the intermediate itself is enough.
    let trust_int = TrustStore::from_certificates(c.intermediate_pem.as_bytes()).unwrap();
    trust_int.verify(&alone.sign(b"{}").unwrap(), NOW).unwrap();
    // An intermediate in x5c is never a trust anchor: trusting nothing trusts nothing.
    let err = TrustStore::new().verify(&token, NOW).unwrap_err();
    assert_eq!(err, JwsError::NoTrustAnchors, "{err}");
}

#[test]
fn validity_is_checked() {
    let c = chain((2020, 2021));
    let trust = TrustStore::from_certificates(c.root_pem.as_bytes()).unwrap();
    let both = format!("{}{}", c.device_pem, c.intermediate_pem);
    let key = DeviceKey::from_files_content(c.key_pem.as_bytes(), both.as_bytes()).unwrap();
    let err = trust.verify(&key.sign(b"{}").unwrap(), NOW).unwrap_err();
    assert!(
        matches!(err, JwsError::Expired { ref subject, .. } if subject == "CN=device"),
        "{err}"
    );
    // In 2020 it was valid.
    trust
        .verify(&key.sign(b"{}").unwrap(), 1_600_000_000)
        .unwrap();
}

#[test]
fn tampering_and_foreign_forms_are_refused() {
    let c = chain((2025, 2030));
    let trust = TrustStore::from_certificates(c.root_pem.as_bytes()).unwrap();
    let both = format!("{}{}", c.device_pem, c.intermediate_pem);
    let key = DeviceKey::from_files_content(c.key_pem.as_bytes(), both.as_bytes()).unwrap();
    let token = key.sign(br#"{"qualityScore":40}"#).unwrap();
    let parts: Vec<&str> = token.split('.').collect();

    // A changed payload.
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64url(br#"{"qualityScore":90}"#),
        parts[2]
    );
    assert!(matches!(
        trust.verify(&forged, NOW),
        Err(JwsError::BadSignature { .. })
    ));
    // Not three parts.
    assert!(matches!(
        trust.verify("abc.def", NOW),
        Err(JwsError::Malformed(_))
    ));
    assert!(matches!(
        trust.verify("a.b.c.d", NOW),
        Err(JwsError::Malformed(_))
    ));
    // "none", HS256 and ES256 are not SBI's.
    for alg in ["none", "HS256", "ES256"] {
        let h = b64url(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#).as_bytes());
        let t = format!("{h}.{}.{}", parts[1], parts[2]);
        assert!(
            matches!(trust.verify(&t, NOW), Err(JwsError::Algorithm(_))),
            "{alg}"
        );
    }
    // No x5c.
    let h = b64url(br#"{"alg":"RS256","typ":"JWT"}"#);
    let t = format!("{h}.{}.{}", parts[1], parts[2]);
    assert_eq!(trust.verify(&t, NOW), Err(JwsError::NoCertificate));

    // The specification's example writes x5c as one string: read too (signed here with
    // ring directly, outside DeviceKey).
    let header: serde_json::Value =
        serde_json::from_slice(&b64url_decode(parts[0]).unwrap()).unwrap();
    let x5c0 = header["x5c"][0].as_str().unwrap().to_string();
    assert!(
        base64::engine::general_purpose::STANDARD
            .decode(&x5c0)
            .is_ok(),
        "x5c is standard base64"
    );
    let single = serde_json::json!({"alg":"RS256","typ":"JWT","x5c": x5c0});
    let input = format!("{}.{}", b64url(single.to_string().as_bytes()), parts[1]);
    let (_, der) = der::pem::decode_vec(c.key_pem.as_bytes()).unwrap();
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    let t = format!("{input}.{}", b64url(&sig));
    // One certificate only: trusted through the intermediate as anchor.
    let trust_int = TrustStore::from_certificates(c.intermediate_pem.as_bytes()).unwrap();
    assert_eq!(
        trust_int.verify(&t, NOW).unwrap().payload,
        br#"{"qualityScore":40}"#
    );
}

#[test]
fn keys_are_checked_against_their_certificate() {
    let c = chain((2025, 2030));
    let other_key = rsa_key_pem();
    let err =
        DeviceKey::from_files_content(other_key.as_bytes(), c.device_pem.as_bytes()).unwrap_err();
    assert!(
        matches!(err, KeyError::KeyCertificateMismatch { .. }),
        "{err}"
    );
    let err = DeviceKey::from_files_content(b"not a key", c.device_pem.as_bytes()).unwrap_err();
    assert!(matches!(err, KeyError::BadKey(_)), "{err}");
    let err = DeviceKey::from_files_content(c.key_pem.as_bytes(), b"").unwrap_err();
    assert!(
        matches!(err, KeyError::NoCertificate | KeyError::BadCertificate(_)),
        "{err}"
    );
    // A P-256 key is not a device key: SBI signs with RSA.
    let ec = KeyPair::generate().unwrap().serialize_pem();
    let err = DeviceKey::from_files_content(ec.as_bytes(), c.device_pem.as_bytes()).unwrap_err();
    assert!(matches!(err, KeyError::BadKey(_)), "{err}");
}

#[test]
fn keys_and_cas_from_files() {
    let c = chain((2025, 2030));
    let dir = tempfile::tempdir().unwrap();
    let (key, certs, root, int) = (
        dir.path().join("device.key"),
        dir.path().join("device.pem"),
        dir.path().join("root.pem"),
        dir.path().join("int.pem"),
    );
    std::fs::write(&key, &c.key_pem).unwrap();
    std::fs::write(&certs, format!("{}{}", c.device_pem, c.intermediate_pem)).unwrap();
    std::fs::write(&root, &c.root_pem).unwrap();
    std::fs::write(&int, &c.intermediate_pem).unwrap();
    let k = DeviceKey::from_files(&key, &certs).unwrap();
    let trust = TrustStore::from_files(&[&root, &int]).unwrap();
    assert_eq!(trust.len(), 2);
    trust.verify(&k.sign(b"{}").unwrap(), NOW).unwrap();
    let err = DeviceKey::from_files(&dir.path().join("missing.key"), &certs).unwrap_err();
    assert!(matches!(err, KeyError::Read { .. }), "{err}");
    assert!(err.to_string().contains("missing.key"), "{err}");
}
