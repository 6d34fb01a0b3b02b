//! rekam's certificates, keys and EF.SOD checked by an independent implementation: the
//! `openssl` command line (OpenSSL 3). These tests need `openssl` on the PATH and fail, saying
//! so, when it is missing (Debian: `apt-get install openssl`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use der::Decode;
use der::asn1::OctetString;
use rekam_chip::{DocumentSigner, IssuerCa, generate_issuer_ca, sign_sod, sod_content_info};

fn openssl(args: &[&str], dir: &Path) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("cannot run `openssl`: these tests need the openssl command line (apt-get install openssl)")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn pki() -> (IssuerCa, DocumentSigner) {
    let ca = generate_issuer_ca("rekam openssl CSCA", "ID", 3650).unwrap();
    let ds = ca.issue_document_signer("rekam openssl DS", 365).unwrap();
    (ca, ds)
}

fn write_pem(dir: &Path, name: &str, pem: &str) {
    std::fs::write(dir.join(name), pem).unwrap();
}

fn sod_for(ds: &DocumentSigner) -> Vec<u8> {
    let dg1 = [0x61, 0x03, 0x5F, 0x1F, 0x00];
    let dg2: Vec<u8> = [&[0x75, 0x82, 0x01, 0x00][..], &[0xAB; 256]].concat();
    sign_sod(&[(1, &dg1[..]), (2, &dg2[..])], ds).unwrap()
}

#[test]
fn openssl_reads_the_certificates_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, ds) = pki();
    let (ca_key, ca_cert) = ca.to_pem().unwrap();
    let (ds_key, ds_cert) = ds.to_pem().unwrap();
    write_pem(dir.path(), "ca.pem", &ca_cert);
    write_pem(dir.path(), "ca.key", &ca_key);
    write_pem(dir.path(), "ds.pem", &ds_cert);
    write_pem(dir.path(), "ds.key", &ds_key);

    // The DS certificate chains to the CA.
    let out = openssl(&["verify", "-CAfile", "ca.pem", "ds.pem"], dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ds.pem: OK"),
        "{}",
        text(&out)
    );

    // The extensions, as openssl prints them.
    let out = openssl(&["x509", "-in", "ca.pem", "-noout", "-text"], dir.path());
    assert!(out.status.success(), "{}", text(&out));
    let ca_text = String::from_utf8_lossy(&out.stdout).replace("\n ", " ");
    assert!(
        ca_text.contains("Signature Algorithm: ecdsa-with-SHA256"),
        "{ca_text}"
    );
    assert!(ca_text.contains("ASN1 OID: prime256v1"), "{ca_text}");
    assert!(
        ca_text.contains("X509v3 Basic Constraints: critical"),
        "{ca_text}"
    );
    assert!(ca_text.contains("CA:TRUE, pathlen:0"), "{ca_text}");
    assert!(ca_text.contains("X509v3 Key Usage: critical"), "{ca_text}");
    assert!(ca_text.contains("Certificate Sign, CRL Sign"), "{ca_text}");
    assert!(
        ca_text.contains("Subject: C = ID, CN = rekam openssl CSCA"),
        "{ca_text}"
    );

    let out = openssl(&["x509", "-in", "ds.pem", "-noout", "-text"], dir.path());
    let ds_text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        ds_text.contains("Issuer: C = ID, CN = rekam openssl CSCA"),
        "{ds_text}"
    );
    assert!(ds_text.contains("X509v3 Key Usage: critical"), "{ds_text}");
    assert!(ds_text.contains("Digital Signature\n"), "{ds_text}");
    assert!(!ds_text.contains("Non Repudiation"), "{ds_text}");
    assert!(!ds_text.contains("Basic Constraints"), "{ds_text}");
    assert!(
        ds_text.contains("X509v3 Authority Key Identifier"),
        "{ds_text}"
    );

    // The PKCS#8 keys are the certificates' keys.
    for (key, cert) in [("ca.key", "ca.pem"), ("ds.key", "ds.pem")] {
        let from_key = openssl(&["pkey", "-in", key, "-pubout"], dir.path());
        assert!(from_key.status.success(), "{}", text(&from_key));
        let from_cert = openssl(&["x509", "-in", cert, "-noout", "-pubkey"], dir.path());
        assert!(from_cert.status.success(), "{}", text(&from_cert));
        assert_eq!(from_key.stdout, from_cert.stdout, "{key} vs {cert}");
    }

    // And rekam reads back a key openssl wrote (PKCS#8 from `openssl genpkey`).
    let out = openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "other.key",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let other = std::fs::read_to_string(dir.path().join("other.key")).unwrap();
    let err = DocumentSigner::from_pem(&other, &ds_cert).unwrap_err();
    assert!(
        matches!(err, rekam_chip::ChipError::KeyMismatch { .. }),
        "a readable key for another certificate: {err}"
    );
}

#[test]
fn openssl_cms_verifies_the_sod_and_returns_the_security_object() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, ds) = pki();
    let (_, ca_cert) = ca.to_pem().unwrap();
    write_pem(dir.path(), "ca.pem", &ca_cert);
    let sod = sod_for(&ds);
    let cms = sod_content_info(&sod).unwrap();
    std::fs::write(dir.path().join("sod.der"), cms).unwrap();

    let out = openssl(
        &[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "sod.der",
            "-CAfile",
            "ca.pem",
            "-purpose",
            "any",
            "-binary",
            "-out",
            "content.der",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Verification successful"),
        "{}",
        text(&out)
    );
    // What openssl hands back is the LDSSecurityObject rekam signed.
    let content = std::fs::read(dir.path().join("content.der")).unwrap();
    let ci = cms::content_info::ContentInfo::from_der(cms).unwrap();
    let sd: cms::signed_data::SignedData = ci.content.decode_as().unwrap();
    let econtent = sd
        .encap_content_info
        .econtent
        .unwrap()
        .decode_as::<OctetString>()
        .unwrap();
    assert_eq!(content, econtent.as_bytes());
    let lds = rekam_chip::sod::LdsSecurityObject::from_der(&content).unwrap();
    assert_eq!(lds.data_group_hash_values.len(), 2);

    // openssl's own reading of the structure.
    let out = openssl(
        &[
            "cms", "-cmsout", "-print", "-inform", "DER", "-in", "sod.der", "-noout",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("contentType: pkcs7-signedData"),
        "{printed}"
    );
    assert!(
        printed.contains("eContentType: undefined (2.23.136.1.1.1)"),
        "{printed}"
    );
    assert!(printed.contains("version: 3"), "{printed}");
    assert!(
        printed.contains("algorithm: ecdsa-with-SHA256"),
        "{printed}"
    );
    assert!(printed.contains("object: contentType"), "{printed}");
    assert!(printed.contains("object: messageDigest"), "{printed}");
    assert!(printed.contains("object: signingTime"), "{printed}");
}

#[test]
fn openssl_cms_rejects_a_broken_signature_and_a_foreign_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, ds) = pki();
    let (_, ca_cert) = ca.to_pem().unwrap();
    write_pem(dir.path(), "ca.pem", &ca_cert);
    let sod = sod_for(&ds);
    let cms = sod_content_info(&sod).unwrap().to_vec();

    // The last byte of a DER ECDSA signature ends the SignerInfo, which ends the file.
    let mut broken = cms.clone();
    let last = broken.len() - 1;
    broken[last] ^= 0x01;
    std::fs::write(dir.path().join("broken.der"), &broken).unwrap();
    let out = openssl(
        &[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "broken.der",
            "-CAfile",
            "ca.pem",
            "-purpose",
            "any",
            "-binary",
            "-out",
            "/dev/null",
        ],
        dir.path(),
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("verification failure"),
        "{}",
        text(&out)
    );

    // The intact SOD against another CA.
    let other = generate_issuer_ca("another CA", "ID", 30).unwrap();
    write_pem(dir.path(), "other.pem", &other.to_pem().unwrap().1);
    std::fs::write(dir.path().join("sod.der"), &cms).unwrap();
    let out = openssl(
        &[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "sod.der",
            "-CAfile",
            "other.pem",
            "-purpose",
            "any",
            "-binary",
            "-out",
            "/dev/null",
        ],
        dir.path(),
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unable to get local issuer certificate"),
        "{}",
        text(&out)
    );
}
