//! A chip's whole life on paper: a CA and a document signer, four data groups, EF.COM and
//! EF.SOD, then verification of the files as read back, intact and damaged in every way the
//! verdict distinguishes; EF.SOD re-read with a generic CMS decoder.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::OctetString;
use der::{Decode, Encode};
use rekam_chip::profile::{
    FID_DG1, FID_DG2, FID_DG3, FID_DG7, FID_EF_COM, FID_EF_SOD, TAG_DG1, TAG_DG2, TAG_DG3, TAG_DG7,
};
use rekam_chip::sod::{LdsSecurityObject, OID_LDS_SECURITY_OBJECT, OID_SHA256, OID_SIGNED_DATA};
use rekam_chip::{
    Check, ComStatus, DgStatus, DocumentSigner, IssuerCa, Profile, SodStatus, Verdict, ef_com,
    generate_issuer_ca, read_sod, sign_sod, sod_content_info, verify_chip, verify_chip_at,
};
use rekam_iso7816::tlv;
use sha2::{Digest, Sha256};

/// A chip's files and the PKI that signed them.
struct Chip {
    ca: IssuerCa,
    ds: DocumentSigner,
    files: Vec<(u16, Vec<u8>)>,
}

impl Chip {
    fn file(&self, fid: u16) -> &[u8] {
        &self.files.iter().find(|(f, _)| *f == fid).unwrap().1
    }

    fn file_mut(&mut self, fid: u16) -> &mut Vec<u8> {
        &mut self.files.iter_mut().find(|(f, _)| *f == fid).unwrap().1
    }

    fn views(&self) -> Vec<(u16, &[u8])> {
        self.files.iter().map(|(f, b)| (*f, b.as_slice())).collect()
    }

    fn anchors(&self) -> Vec<Vec<u8>> {
        vec![self.ca.cert_der.clone()]
    }

    fn verify(&self) -> Verdict {
        verify_chip(&self.views(), &self.anchors())
    }
}

/// Data groups shaped like rekam's (tag, then filler standing in for the templates).
fn data_groups() -> Vec<(u8, Vec<u8>)> {
    let dg1 = tlv::encode(
        u32::from(TAG_DG1),
        &tlv::encode(0x5F1F, b"IDIDN3171234567890123<<<<<<<<<<<<<<<<<<<<<<<<"),
    );
    let face: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    let dg2 = tlv::encode(u32::from(TAG_DG2), &tlv::encode(0x7F61, &face));
    let fingers: Vec<u8> = (0..1200u32).map(|i| (i * 13 % 253) as u8).collect();
    let dg3 = tlv::encode(u32::from(TAG_DG3), &tlv::encode(0x7F61, &fingers));
    let dg7 = tlv::encode(u32::from(TAG_DG7), &tlv::encode(0x5F43, &[0x42; 400]));
    vec![(1, dg1), (2, dg2), (3, dg3), (7, dg7)]
}

fn chip_signed_by(ca: IssuerCa, ds: DocumentSigner) -> Chip {
    let dgs = data_groups();
    let refs: Vec<(u8, &[u8])> = dgs.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    let sod = sign_sod(&refs, &ds).unwrap();
    let com = ef_com("0108", "040000", &[TAG_DG1, TAG_DG2, TAG_DG3, TAG_DG7]).unwrap();
    let fids = [FID_DG1, FID_DG2, FID_DG3, FID_DG7];
    let mut files = vec![(FID_EF_COM, com)];
    files.extend(fids.iter().zip(dgs).map(|(fid, (_, b))| (*fid, b)));
    files.push((FID_EF_SOD, sod));
    Chip { ca, ds, files }
}

fn new_chip() -> Chip {
    let ca = generate_issuer_ca("rekam test CSCA", "ID", 3650).unwrap();
    let ds = ca.issue_document_signer("rekam test DS", 365).unwrap();
    chip_signed_by(ca, ds)
}

fn flip_last_byte_of(haystack: &mut [u8], needle: &[u8]) {
    let at = haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in the file");
    assert_eq!(
        haystack
            .windows(needle.len())
            .filter(|w| *w == needle)
            .count(),
        1,
        "needle is unique"
    );
    haystack[at + needle.len() - 1] ^= 0x01;
}

fn signed_data(sod: &[u8]) -> SignedData {
    let ci = ContentInfo::from_der(sod_content_info(sod).unwrap()).unwrap();
    ci.content.decode_as().unwrap()
}

#[test]
fn an_intact_chip_is_valid() {
    let chip = new_chip();
    let v = chip.verify();
    assert!(v.is_valid(), "{v}");
    assert_eq!(
        v.ef_com,
        ComStatus::Ok {
            lds_version: "0108".into(),
            unicode_version: "040000".into(),
            data_groups: vec![1, 2, 3, 7],
        }
    );
    assert_eq!(v.sod, SodStatus::Ok);
    assert_eq!(
        v.data_groups,
        vec![
            (1, DgStatus::Ok),
            (2, DgStatus::Ok),
            (3, DgStatus::Ok),
            (7, DgStatus::Ok)
        ]
    );
    assert_eq!(v.signature, Check::Passed);
    assert_eq!(v.chain, Check::Passed);
    assert_eq!(v.signer_subject.as_deref(), Some("CN=rekam test DS,C=ID"));
    assert_eq!(v.trust_anchor.as_deref(), Some("CN=rekam test CSCA,C=ID"));
    let report = v.to_string();
    assert!(report.starts_with("chip verification: VALID\n"), "{report}");
    assert!(report.contains("DG2: ok\n"), "{report}");
    assert!(
        report.contains("certificate chain: valid (issued by trusted CA CN=rekam test CSCA,C=ID)"),
        "{report}"
    );
    // The files fit the default 8 KiB profile.
    let sizes: Vec<(u16, usize)> = chip.files.iter().map(|(f, b)| (*f, b.len())).collect();
    Profile::default().check_fits(&sizes).unwrap();
}

#[test]
fn a_changed_data_group_is_reported_as_tampered() {
    let mut chip = new_chip();
    let dg2 = chip.file_mut(FID_DG2);
    let mid = dg2.len() / 2;
    dg2[mid] ^= 0x80;
    let v = chip.verify();
    assert!(!v.is_valid());
    assert_eq!(v.data_group(2), Some(DgStatus::HashMismatch));
    assert_eq!(v.data_group(1), Some(DgStatus::Ok));
    assert_eq!(v.data_group(3), Some(DgStatus::Ok));
    // The signature and the chain are still fine: only DG2 is wrong.
    assert_eq!(v.signature, Check::Passed);
    assert_eq!(v.chain, Check::Passed);
    let report = v.to_string();
    assert!(
        report.starts_with("chip verification: NOT VALID\n"),
        "{report}"
    );
    assert!(
        report.contains("DG2: tampered (SHA-256 differs from the security object)"),
        "{report}"
    );
}

#[test]
fn a_signer_from_another_ca_does_not_chain() {
    let trusted = generate_issuer_ca("rekam test CSCA", "ID", 3650).unwrap();
    // Another CA with another name.
    let other = generate_issuer_ca("someone else's CA", "ID", 3650).unwrap();
    let ds = other.issue_document_signer("rogue DS", 365).unwrap();
    let mut chip = chip_signed_by(other, ds);
    chip.ca = trusted;
    let v = chip.verify();
    assert!(!v.is_valid());
    assert_eq!(v.signature, Check::Passed, "the SOD itself is well signed");
    let Check::Failed(why) = &v.chain else {
        panic!("chain should fail: {v}")
    };
    assert!(why.contains("not a trusted CA"), "{why}");
    assert!(v.data_groups.iter().all(|(_, s)| *s == DgStatus::Ok));

    // Another CA with the trusted CA's very name: the name matches, the key does not.
    let trusted = generate_issuer_ca("rekam test CSCA", "ID", 3650).unwrap();
    let impostor = generate_issuer_ca("rekam test CSCA", "ID", 3650).unwrap();
    let ds = impostor.issue_document_signer("rogue DS", 365).unwrap();
    let mut chip = chip_signed_by(impostor, ds);
    chip.ca = trusted;
    let v = chip.verify();
    assert!(!v.is_valid());
    let Check::Failed(why) = &v.chain else {
        panic!("chain should fail: {v}")
    };
    assert!(why.contains("did not sign it"), "{why}");
    assert!(v.to_string().contains("certificate chain: INVALID"), "{v}");

    // No trust anchor at all.
    let chip = new_chip();
    let v = verify_chip(&chip.views(), &[]);
    assert!(!v.is_valid());
    assert!(matches!(v.chain, Check::Failed(_)));
}

#[test]
fn a_corrupted_signature_is_reported() {
    let mut chip = new_chip();
    let sd = signed_data(chip.file(FID_EF_SOD));
    let signature = sd
        .signer_infos
        .0
        .iter()
        .next()
        .unwrap()
        .signature
        .as_bytes()
        .to_vec();
    flip_last_byte_of(chip.file_mut(FID_EF_SOD), &signature);
    let v = chip.verify();
    assert!(!v.is_valid());
    assert_eq!(v.sod, SodStatus::Ok, "still decodes");
    let Check::Failed(why) = &v.signature else {
        panic!("signature should fail: {v}")
    };
    assert!(why.contains("does not verify"), "{why}");
    assert_eq!(v.chain, Check::Passed);
    assert!(v.data_groups.iter().all(|(_, s)| *s == DgStatus::Ok));
    assert!(v.to_string().contains("signature: INVALID"), "{v}");
}

#[test]
fn a_changed_hash_list_breaks_the_message_digest() {
    // Someone changes DG2 and the hash recorded for it, without the signer's key.
    let mut chip = new_chip();
    let old_hash = Sha256::digest(chip.file(FID_DG2)).to_vec();
    chip.file_mut(FID_DG2)[10] ^= 0x01;
    let new_hash = Sha256::digest(chip.file(FID_DG2)).to_vec();
    let sod = chip.file_mut(FID_EF_SOD);
    let at = sod.windows(32).position(|w| w == old_hash).unwrap();
    sod[at..at + 32].copy_from_slice(&new_hash);
    let v = chip.verify();
    assert!(!v.is_valid());
    assert_eq!(v.data_group(2), Some(DgStatus::Ok), "the hashes agree now");
    let Check::Failed(why) = &v.signature else {
        panic!("signature should fail: {v}")
    };
    assert!(why.contains("message-digest"), "{why}");
}

#[test]
fn missing_and_unlisted_data_groups_are_reported() {
    let mut chip = new_chip();
    chip.files.retain(|(f, _)| *f != FID_DG3);
    let v = chip.verify();
    assert!(!v.is_valid());
    assert_eq!(v.data_group(3), Some(DgStatus::Missing));
    assert_eq!(
        v.ef_com,
        ComStatus::Mismatch {
            listed_not_present: vec![3],
            present_not_listed: vec![],
        }
    );
    let report = v.to_string();
    assert!(
        report.contains("DG3: missing (listed in the security object but not read from the chip)"),
        "{report}"
    );
    assert!(
        report.contains("EF.COM: does not match the chip: lists DG3 but not read"),
        "{report}"
    );

    // A data group the SOD does not cover.
    let mut chip = new_chip();
    chip.files
        .push((0x0104, tlv::encode(0x76, &tlv::encode(0x7F61, &[1, 2, 3]))));
    let v = chip.verify();
    assert!(!v.is_valid());
    assert_eq!(v.data_group(4), Some(DgStatus::Unlisted));
    assert_eq!(
        v.ef_com,
        ComStatus::Mismatch {
            listed_not_present: vec![],
            present_not_listed: vec![4],
        }
    );
    assert!(
        v.to_string()
            .contains("DG4: not covered by the security object"),
        "{v}"
    );
}

#[test]
fn missing_or_broken_index_files_are_reported() {
    let mut chip = new_chip();
    chip.files.retain(|(f, _)| *f != FID_EF_SOD);
    let v = chip.verify();
    assert!(!v.is_valid());
    assert_eq!(v.sod, SodStatus::Missing);
    assert!(matches!(v.signature, Check::NotChecked(_)));
    assert!(
        v.data_groups
            .iter()
            .all(|(_, s)| *s == DgStatus::NotChecked)
    );
    assert!(v.to_string().contains("EF.SOD: missing"), "{v}");

    let mut chip = new_chip();
    chip.file_mut(FID_EF_SOD)[0] = 0x30;
    let v = chip.verify();
    assert!(
        matches!(&v.sod, SodStatus::Unreadable(why) if why.contains("not 77")),
        "{v}"
    );

    let mut chip = new_chip();
    let len = chip.file(FID_EF_SOD).len();
    chip.file_mut(FID_EF_SOD).truncate(len - 10);
    let v = chip.verify();
    assert!(
        matches!(&v.sod, SodStatus::Unreadable(why) if why.contains("cut")),
        "{v}"
    );

    let mut chip = new_chip();
    chip.files.retain(|(f, _)| *f != FID_EF_COM);
    let v = chip.verify();
    assert!(!v.is_valid());
    assert_eq!(v.ef_com, ComStatus::Missing);
    // Everything else still checks out.
    assert!(v.data_groups.iter().all(|(_, s)| *s == DgStatus::Ok));

    let mut chip = new_chip();
    chip.file_mut(FID_EF_COM).truncate(5);
    let v = chip.verify();
    assert!(matches!(v.ef_com, ComStatus::Unreadable(_)), "{v}");

    // The same file twice: flagged, and not valid.
    let mut chip = new_chip();
    let dg1 = chip.file(FID_DG1).to_vec();
    chip.files.push((FID_DG1, dg1));
    chip.files.push((0x2F00, vec![0x61, 0x00]));
    let v = chip.verify();
    assert!(!v.is_valid());
    assert_eq!(v.duplicate_files, vec![FID_DG1]);
    assert_eq!(v.other_files, vec![0x2F00]);
}

#[test]
fn certificate_validity_is_judged_at_the_verification_time() {
    let chip = new_chip();
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);
    let v = verify_chip_at(&chip.views(), &chip.anchors(), now + 300 * day);
    assert!(v.is_valid(), "{v}");
    let v = verify_chip_at(&chip.views(), &chip.anchors(), now + 400 * day);
    assert!(!v.is_valid());
    let Check::Failed(why) = &v.chain else {
        panic!("{v}")
    };
    assert!(
        why.contains("document signer certificate is expired"),
        "{why}"
    );
    let v = verify_chip_at(&chip.views(), &chip.anchors(), now - 2 * day);
    let Check::Failed(why) = &v.chain else {
        panic!("{v}")
    };
    assert!(why.contains("not yet valid"), "{why}");
}

#[test]
fn read_sod_exposes_hashes_and_signer() {
    let chip = new_chip();
    let so = read_sod(chip.file(FID_EF_SOD)).unwrap();
    assert_eq!(so.version, 0);
    assert_eq!(so.hash_algorithm_oid, "2.16.840.1.101.3.4.2.1");
    assert_eq!(so.signer_subject.as_deref(), Some("CN=rekam test DS,C=ID"));
    assert_eq!(
        so.signer_certificate.as_deref(),
        Some(chip.ds.cert_der.as_slice())
    );
    let numbers: Vec<u8> = so.data_group_hashes.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, vec![1, 2, 3, 7]);
    for (fid, n) in [(FID_DG1, 1), (FID_DG2, 2), (FID_DG3, 3), (FID_DG7, 7)] {
        assert_eq!(
            so.hash_of(n).unwrap(),
            Sha256::digest(chip.file(fid)).as_slice()
        );
    }
    let signed = so.signing_time.unwrap();
    let age = SystemTime::now().duration_since(signed).unwrap();
    assert!(age < Duration::from_secs(120), "{age:?}");
    assert!(read_sod(b"\x77\x03abc").is_err());
    assert!(read_sod(&[]).is_err());
}

#[test]
fn sign_sod_refuses_bad_data_group_lists() {
    let chip = new_chip();
    let a: &[u8] = &[0x61, 0x00];
    assert!(sign_sod(&[(1, a)], &chip.ds).is_err());
    assert!(sign_sod(&[(1, a), (1, a)], &chip.ds).is_err());
    assert!(sign_sod(&[(1, a), (17, a)], &chip.ds).is_err());
    assert!(sign_sod(&[(0, a), (2, a)], &chip.ds).is_err());
    assert!(sign_sod(&[(2, a), (1, a)], &chip.ds).is_ok());
}

#[test]
fn the_sod_is_plain_cms_for_a_generic_parser() {
    let chip = new_chip();
    let sod = chip.file(FID_EF_SOD);
    assert_eq!(sod[0], 0x77);
    let ci = ContentInfo::from_der(sod_content_info(sod).unwrap()).unwrap();
    assert_eq!(ci.content_type, OID_SIGNED_DATA);
    let sd: SignedData = ci.content.decode_as().unwrap();
    assert_eq!(sd.version, CmsVersion::V3);
    let digests: Vec<_> = sd.digest_algorithms.iter().map(|a| a.oid).collect();
    assert_eq!(digests, vec![OID_SHA256]);
    assert_eq!(sd.encap_content_info.econtent_type, OID_LDS_SECURITY_OBJECT);
    let econtent = sd
        .encap_content_info
        .econtent
        .as_ref()
        .unwrap()
        .decode_as::<OctetString>()
        .unwrap();
    let lds = LdsSecurityObject::from_der(econtent.as_bytes()).unwrap();
    assert_eq!(lds.version, 0);
    assert_eq!(lds.hash_algorithm.oid, OID_SHA256);
    assert_eq!(lds.data_group_hash_values.len(), 4);
    // The certificate set holds exactly the DS certificate.
    let certs = &sd.certificates.as_ref().unwrap().0;
    assert_eq!(certs.len(), 1);
    let cms::cert::CertificateChoices::Certificate(cert) = certs.iter().next().unwrap() else {
        panic!("not a plain certificate")
    };
    assert_eq!(cert.to_der().unwrap(), chip.ds.cert_der);
    // One signer, identified by issuer and serial number, with the three signed attributes.
    assert_eq!(sd.signer_infos.0.len(), 1);
    let si = sd.signer_infos.0.iter().next().unwrap();
    assert_eq!(si.version, CmsVersion::V1);
    let SignerIdentifier::IssuerAndSerialNumber(ias) = &si.sid else {
        panic!("sid is not issuerAndSerialNumber")
    };
    assert_eq!(ias.serial_number, cert.tbs_certificate.serial_number);
    assert_eq!(ias.issuer, cert.tbs_certificate.issuer);
    assert_eq!(si.digest_alg.oid, OID_SHA256);
    assert_eq!(
        si.signature_algorithm.oid.to_string(),
        "1.2.840.10045.4.3.2"
    );
    let mut attrs: Vec<String> = si
        .signed_attrs
        .as_ref()
        .unwrap()
        .iter()
        .map(|a| a.oid.to_string())
        .collect();
    attrs.sort();
    assert_eq!(
        attrs,
        vec![
            "1.2.840.113549.1.9.3",
            "1.2.840.113549.1.9.4",
            "1.2.840.113549.1.9.5"
        ]
    );
    // The DER is canonical: re-encoding the decoded structure gives the same bytes.
    assert_eq!(ci.to_der().unwrap(), sod_content_info(sod).unwrap());
}
