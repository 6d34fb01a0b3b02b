//! Passive authentication of a chip read back (ICAO 9303-11 §5.1): EF.COM lists the data
//! groups present, each data group's hash equals the one in EF.SOD, EF.SOD's signature
//! verifies with the document signer's key, and the document signer's certificate was issued
//! by a trusted issuer CA and is valid.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use der::Encode;
use der::asn1::OctetString;
use p256::ecdsa::DerSignature;
use p256::ecdsa::signature::Verifier;
use spki::ObjectIdentifier;
use x509_cert::Certificate;

use crate::ChipError;
use crate::com::parse_ef_com;
use crate::pki::{cert_key, check_is_ca, check_validity, key_usage, parse_cert};
use crate::profile::LdsFile;
use crate::sod::{
    HashAlgorithm, OID_CONTENT_TYPE, OID_ECDSA_WITH_SHA256, OID_MESSAGE_DIGEST, ParsedSod,
    signed_attribute,
};

/// The state of EF.COM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ComStatus {
    /// Present, readable, and listing exactly the data groups present.
    Ok {
        /// The LDS version ("0108").
        lds_version: String,
        /// The Unicode version ("040000").
        unicode_version: String,
        /// The data groups listed, ascending.
        data_groups: Vec<u8>,
    },
    /// Not among the files read.
    Missing,
    /// Present but not a valid EF.COM.
    Unreadable(String),
    /// Readable but its list disagrees with the data groups present.
    Mismatch {
        /// Listed in EF.COM but not read from the chip.
        listed_not_present: Vec<u8>,
        /// Read from the chip but not listed in EF.COM.
        present_not_listed: Vec<u8>,
    },
}

/// The state of EF.SOD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SodStatus {
    /// Present and decoded.
    Ok,
    /// Not among the files read.
    Missing,
    /// Present but not a security object rekam can use.
    Unreadable(String),
}

/// The state of one data group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DgStatus {
    /// Its hash equals the one in the security object.
    Ok,
    /// Its hash differs from the one in the security object: the data group was altered.
    HashMismatch,
    /// Listed in the security object but not among the files read.
    Missing,
    /// Read from the chip but absent from the security object: nothing vouches for it.
    Unlisted,
    /// Not checked: there is no usable security object.
    NotChecked,
}

/// The outcome of one cryptographic check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// The check holds.
    Passed,
    /// The check fails, and why.
    Failed(String),
    /// The check could not be made, and why.
    NotChecked(String),
}

impl Check {
    /// Whether the check holds.
    pub fn passed(&self) -> bool {
        matches!(self, Self::Passed)
    }
}

/// A verifier's findings on a chip read back. [`Verdict::is_valid`] is the decision; the
/// `Display` form is a report a technician can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// EF.COM.
    pub ef_com: ComStatus,
    /// EF.SOD.
    pub sod: SodStatus,
    /// Every data group present or listed in the security object, ascending.
    pub data_groups: Vec<(u8, DgStatus)>,
    /// The security object's signature (message digest and ECDSA).
    pub signature: Check,
    /// The document signer certificate's path to a trust anchor.
    pub chain: Check,
    /// The data groups' hash algorithm, if known.
    pub hash_algorithm: Option<HashAlgorithm>,
    /// The document signer certificate's subject, if the SOD carries it.
    pub signer_subject: Option<String>,
    /// The subject of the trusted CA the chain ends at, if it does.
    pub trust_anchor: Option<String>,
    /// Files given that are not part of the application (ignored).
    pub other_files: Vec<u16>,
    /// Files given more than once (only the first copy was checked).
    pub duplicate_files: Vec<u16>,
}

impl Verdict {
    /// True only when EF.COM and EF.SOD are sound, every data group is present and matches
    /// its hash, the signature verifies and the signer chains to a trusted CA.
    pub fn is_valid(&self) -> bool {
        matches!(self.ef_com, ComStatus::Ok { .. })
            && self.sod == SodStatus::Ok
            && !self.data_groups.is_empty()
            && self.data_groups.iter().all(|(_, s)| *s == DgStatus::Ok)
            && self.signature.passed()
            && self.chain.passed()
            && self.duplicate_files.is_empty()
    }

    /// The status of data group `number`, if it was present or listed.
    pub fn data_group(&self, number: u8) -> Option<DgStatus> {
        self.data_groups
            .iter()
            .find(|(n, _)| *n == number)
            .map(|&(_, s)| s)
    }
}

fn dg_list(numbers: &[u8]) -> String {
    if numbers.is_empty() {
        return "no data group".into();
    }
    numbers
        .iter()
        .map(|n| format!("DG{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "chip verification: {}",
            if self.is_valid() {
                "VALID"
            } else {
                "NOT VALID"
            }
        )?;
        match &self.ef_com {
            ComStatus::Ok {
                lds_version,
                unicode_version,
                data_groups,
            } => writeln!(
                f,
                "EF.COM: ok (LDS {lds_version}, Unicode {unicode_version}; lists {})",
                dg_list(data_groups)
            )?,
            ComStatus::Missing => writeln!(f, "EF.COM: missing (not read from the chip)")?,
            ComStatus::Unreadable(why) => writeln!(f, "EF.COM: unreadable: {why}")?,
            ComStatus::Mismatch {
                listed_not_present,
                present_not_listed,
            } => {
                write!(f, "EF.COM: does not match the chip:")?;
                if !listed_not_present.is_empty() {
                    write!(f, " lists {} but not read", dg_list(listed_not_present))?;
                }
                if !present_not_listed.is_empty() {
                    if !listed_not_present.is_empty() {
                        write!(f, ";")?;
                    }
                    write!(f, " {} read but not listed", dg_list(present_not_listed))?;
                }
                writeln!(f)?;
            }
        }
        let alg = self
            .hash_algorithm
            .map_or_else(|| "hash".to_owned(), |a| a.to_string());
        match &self.sod {
            SodStatus::Ok => {
                let listed = self
                    .data_groups
                    .iter()
                    .filter(|(_, s)| *s != DgStatus::Unlisted)
                    .count();
                write!(f, "EF.SOD: ok ({alg} hashes of {listed} data groups")?;
                if let Some(subject) = &self.signer_subject {
                    write!(f, ", document signer {subject}")?;
                }
                writeln!(f, ")")?;
            }
            SodStatus::Missing => writeln!(
                f,
                "EF.SOD: missing (not read from the chip): nothing can be verified"
            )?,
            SodStatus::Unreadable(why) => writeln!(f, "EF.SOD: unreadable: {why}")?,
        }
        for (n, status) in &self.data_groups {
            match status {
                DgStatus::Ok => writeln!(f, "DG{n}: ok")?,
                DgStatus::HashMismatch => writeln!(
                    f,
                    "DG{n}: tampered ({alg} differs from the security object)"
                )?,
                DgStatus::Missing => writeln!(
                    f,
                    "DG{n}: missing (listed in the security object but not read from the chip)"
                )?,
                DgStatus::Unlisted => writeln!(
                    f,
                    "DG{n}: not covered by the security object (read from the chip but its hash is not signed)"
                )?,
                DgStatus::NotChecked => {
                    writeln!(f, "DG{n}: not checked (no usable security object)")?
                }
            }
        }
        match &self.signature {
            Check::Passed => writeln!(
                f,
                "signature: valid (ECDSA P-256 with SHA-256, by the document signer)"
            )?,
            Check::Failed(why) => writeln!(f, "signature: INVALID: {why}")?,
            Check::NotChecked(why) => writeln!(f, "signature: not checked: {why}")?,
        }
        match &self.chain {
            Check::Passed => match &self.trust_anchor {
                Some(ca) => writeln!(f, "certificate chain: valid (issued by trusted CA {ca})")?,
                None => writeln!(f, "certificate chain: valid")?,
            },
            Check::Failed(why) => writeln!(f, "certificate chain: INVALID: {why}")?,
            Check::NotChecked(why) => writeln!(f, "certificate chain: not checked: {why}")?,
        }
        for fid in &self.duplicate_files {
            writeln!(
                f,
                "{}: given more than once (only the first copy was checked)",
                crate::profile::file_name(*fid)
            )?;
        }
        for fid in &self.other_files {
            writeln!(f, "file {fid:04X}: not part of the application (ignored)")?;
        }
        Ok(())
    }
}

/// Verifies a chip's files (FID, content as read) against trusted issuer CA certificates
/// (DER), at the current time. See [`verify_chip_at`].
pub fn verify_chip(files: &[(u16, &[u8])], trust_anchors: &[Vec<u8>]) -> Verdict {
    verify_chip_at(files, trust_anchors, SystemTime::now())
}

/// Verifies a chip's files against trusted issuer CA certificates, with certificate validity
/// judged at `at`:
///
/// * EF.COM is present, readable, and lists exactly the data groups present;
/// * EF.SOD is present and decodes to a CMS SignedData holding an LDSSecurityObject;
/// * each data group's hash (over the whole file) equals the one in the security object;
///   every data group present is listed there and every one listed is present;
/// * the signed attributes' message-digest equals the hash of the eContent, their
///   content-type is the eContentType, and the ECDSA signature over their DER SET OF verifies
///   with the public key of the document signer certificate carried in EF.SOD;
/// * that certificate was signed by one of the trust anchors (same name as its issuer, the
///   signature verifies with the anchor's key), the anchor is a CA allowed to sign
///   certificates (basicConstraints CA, keyUsage keyCertSign), and both certificates are
///   valid at `at`; the document signer certificate allows digitalSignature.
pub fn verify_chip_at(
    files: &[(u16, &[u8])],
    trust_anchors: &[Vec<u8>],
    at: SystemTime,
) -> Verdict {
    let mut com = None;
    let mut sod_bytes = None;
    let mut dgs: BTreeMap<u8, &[u8]> = BTreeMap::new();
    let mut other_files = Vec::new();
    let mut duplicate_files = Vec::new();
    let mut seen = Vec::new();
    for &(fid, bytes) in files {
        if seen.contains(&fid) {
            if !duplicate_files.contains(&fid) {
                duplicate_files.push(fid);
            }
            continue;
        }
        seen.push(fid);
        match LdsFile::of_fid(fid) {
            Some(LdsFile::Com) => com = Some(bytes),
            Some(LdsFile::Sod) => sod_bytes = Some(bytes),
            Some(LdsFile::DataGroup(n)) => {
                dgs.insert(n, bytes);
            }
            None => other_files.push(fid),
        }
    }
    let present: Vec<u8> = dgs.keys().copied().collect();

    let ef_com = check_com(com, &present);

    let not_checked = |why: &str| Check::NotChecked(why.to_owned());
    let mut verdict = Verdict {
        ef_com,
        sod: SodStatus::Missing,
        data_groups: present.iter().map(|&n| (n, DgStatus::NotChecked)).collect(),
        signature: not_checked("no usable EF.SOD"),
        chain: not_checked("no usable EF.SOD"),
        hash_algorithm: None,
        signer_subject: None,
        trust_anchor: None,
        other_files,
        duplicate_files,
    };
    let Some(sod_bytes) = sod_bytes else {
        return verdict;
    };
    let sod = match ParsedSod::parse(sod_bytes) {
        Ok(sod) => sod,
        Err(ChipError::Sod(why)) => {
            verdict.sod = SodStatus::Unreadable(why);
            return verdict;
        }
        Err(e) => {
            verdict.sod = SodStatus::Unreadable(e.to_string());
            return verdict;
        }
    };
    verdict.signer_subject = sod
        .signer_cert
        .as_ref()
        .map(|c| c.tbs_certificate.subject.to_string());
    verdict.signature = check_signature(&sod);
    let (chain, anchor) = check_chain(sod.signer_cert.as_ref(), trust_anchors, at);
    verdict.chain = chain;
    verdict.trust_anchor = anchor;

    let Some(alg) = HashAlgorithm::of_oid(&sod.lds.hash_algorithm.oid) else {
        verdict.sod = SodStatus::Unreadable(format!(
            "its data group hash algorithm {} is not supported (rekam checks SHA-224/256/384/512)",
            sod.lds.hash_algorithm.oid
        ));
        return verdict;
    };
    verdict.hash_algorithm = Some(alg);
    let mut listed: BTreeMap<u8, &[u8]> = BTreeMap::new();
    for h in &sod.lds.data_group_hash_values {
        let n = h.data_group_number;
        if !(1..=16).contains(&n) {
            verdict.sod = SodStatus::Unreadable(format!("it lists DG{n}, which does not exist"));
            return verdict;
        }
        if listed
            .insert(n, h.data_group_hash_value.as_bytes())
            .is_some()
        {
            verdict.sod = SodStatus::Unreadable(format!("it lists DG{n} twice"));
            return verdict;
        }
    }
    verdict.sod = SodStatus::Ok;
    let mut numbers: Vec<u8> = listed.keys().chain(dgs.keys()).copied().collect();
    numbers.sort_unstable();
    numbers.dedup();
    verdict.data_groups = numbers
        .into_iter()
        .map(|n| {
            let status = match (listed.get(&n), dgs.get(&n)) {
                (Some(expected), Some(bytes)) => {
                    if alg.digest(bytes) == *expected {
                        DgStatus::Ok
                    } else {
                        DgStatus::HashMismatch
                    }
                }
                (Some(_), None) => DgStatus::Missing,
                (None, Some(_)) => DgStatus::Unlisted,
                (None, None) => DgStatus::NotChecked,
            };
            (n, status)
        })
        .collect();
    verdict
}

fn check_com(com: Option<&[u8]>, present: &[u8]) -> ComStatus {
    let Some(bytes) = com else {
        return ComStatus::Missing;
    };
    let reason = |e: ChipError| match e {
        ChipError::EfCom(why) => why,
        other => other.to_string(),
    };
    let com = match parse_ef_com(bytes) {
        Ok(com) => com,
        Err(e) => return ComStatus::Unreadable(reason(e)),
    };
    let mut listed = match com.data_groups() {
        Ok(listed) => listed,
        Err(e) => return ComStatus::Unreadable(reason(e)),
    };
    listed.sort_unstable();
    listed.dedup();
    let listed_not_present: Vec<u8> = listed
        .iter()
        .copied()
        .filter(|n| !present.contains(n))
        .collect();
    let present_not_listed: Vec<u8> = present
        .iter()
        .copied()
        .filter(|n| !listed.contains(n))
        .collect();
    if listed_not_present.is_empty() && present_not_listed.is_empty() {
        ComStatus::Ok {
            lds_version: com.lds_version,
            unicode_version: com.unicode_version,
            data_groups: listed,
        }
    } else {
        ComStatus::Mismatch {
            listed_not_present,
            present_not_listed,
        }
    }
}

fn check_signature(sod: &ParsedSod) -> Check {
    let signer_infos = &sod.signed_data.signer_infos.0;
    if signer_infos.len() != 1 {
        return Check::Failed(format!(
            "the SOD has {} signer infos, ICAO 9303 requires exactly one",
            signer_infos.len()
        ));
    }
    let Some(si) = signer_infos.iter().next() else {
        return Check::Failed("the SOD has no signer info".into());
    };
    let Some(cert) = &sod.signer_cert else {
        return Check::NotChecked(
            "the SOD carries no certificate matching its signer (rekam requires the document signer certificate in EF.SOD)"
                .into(),
        );
    };
    let Some(digest) = HashAlgorithm::of_oid(&si.digest_alg.oid) else {
        return Check::Failed(format!(
            "the signer's digest algorithm {} is not supported",
            si.digest_alg.oid
        ));
    };
    let Some(signed_attrs) = &si.signed_attrs else {
        return Check::Failed(
            "the signer info has no signed attributes (ICAO 9303 requires them)".into(),
        );
    };
    match signed_attribute(si, OID_CONTENT_TYPE).map(|v| v.decode_as::<ObjectIdentifier>()) {
        Some(Ok(oid)) if oid == sod.signed_data.encap_content_info.econtent_type => {}
        Some(Ok(oid)) => {
            return Check::Failed(format!(
                "the signed content-type {oid} is not the eContentType"
            ));
        }
        _ => return Check::Failed("no single, readable content-type signed attribute".into()),
    }
    match signed_attribute(si, OID_MESSAGE_DIGEST).map(|v| v.decode_as::<OctetString>()) {
        Some(Ok(md)) if md.as_bytes() == digest.digest(&sod.econtent).as_slice() => {}
        Some(Ok(_)) => {
            return Check::Failed(format!(
                "the signed message-digest is not the {digest} of the security object: the hash list was altered after signing"
            ));
        }
        _ => return Check::Failed("no single, readable message-digest signed attribute".into()),
    }
    if si.signature_algorithm.oid != OID_ECDSA_WITH_SHA256 {
        return Check::Failed(format!(
            "signature algorithm {} is not supported (rekam checks ecdsa-with-SHA256)",
            si.signature_algorithm.oid
        ));
    }
    let key = match cert_key(cert) {
        Ok(key) => key,
        Err(why) => return Check::Failed(format!("the document signer certificate: {why}")),
    };
    let Ok(signature) = DerSignature::from_bytes(si.signature.as_bytes()) else {
        return Check::Failed("the signature is not a DER-encoded ECDSA signature".into());
    };
    let Ok(signed) = signed_attrs.to_der() else {
        return Check::Failed("the signed attributes cannot be re-encoded".into());
    };
    match key.verify(&signed, &signature) {
        Ok(()) => Check::Passed,
        Err(_) => Check::Failed(
            "the ECDSA signature does not verify with the document signer's key: the signed attributes or the signature were altered"
                .into(),
        ),
    }
}

/// The chain check and, when it holds, the subject of the trust anchor it ends at.
fn check_chain(
    ds: Option<&Certificate>,
    trust_anchors: &[Vec<u8>],
    at: SystemTime,
) -> (Check, Option<String>) {
    let Some(ds) = ds else {
        return (
            Check::NotChecked("the SOD carries no document signer certificate".into()),
            None,
        );
    };
    if trust_anchors.is_empty() {
        return (
            Check::Failed("no trusted issuer CA certificate was given".into()),
            None,
        );
    }
    if let Err(why) = check_validity(ds, at) {
        return (
            Check::Failed(format!("the document signer certificate is {why}")),
            None,
        );
    }
    if let Some(usage) = key_usage(ds)
        && !usage.digital_signature()
    {
        return (
            Check::Failed("the document signer certificate does not allow digitalSignature".into()),
            None,
        );
    }
    let issuer = &ds.tbs_certificate.issuer;
    let mut reasons = Vec::new();
    let mut names = Vec::new();
    for (i, der) in trust_anchors.iter().enumerate() {
        let ca = match parse_cert(der, "trust anchor") {
            Ok(ca) => ca,
            Err(e) => {
                reasons.push(format!("trust anchor #{}: {e}", i + 1));
                continue;
            }
        };
        let subject = ca.tbs_certificate.subject.to_string();
        if ca.tbs_certificate.subject != *issuer {
            names.push(subject);
            continue;
        }
        match check_issued_by(ds, &ca, at) {
            Ok(()) => return (Check::Passed, Some(subject)),
            Err(why) => reasons.push(why),
        }
    }
    if reasons.is_empty() {
        (
            Check::Failed(format!(
                "the document signer certificate was issued by {issuer}, which is not a trusted CA; trusted: {}",
                names.join("; ")
            )),
            None,
        )
    } else {
        (Check::Failed(reasons.join("; ")), None)
    }
}

fn check_issued_by(ds: &Certificate, ca: &Certificate, at: SystemTime) -> Result<(), String> {
    let subject = &ca.tbs_certificate.subject;
    if ds.signature_algorithm.oid != OID_ECDSA_WITH_SHA256 {
        return Err(format!(
            "the document signer certificate is signed with {}, rekam checks ecdsa-with-SHA256",
            ds.signature_algorithm.oid
        ));
    }
    let key = cert_key(ca).map_err(|why| format!("trusted CA {subject}: {why}"))?;
    let tbs = ds
        .tbs_certificate
        .to_der()
        .map_err(|e| format!("the document signer certificate cannot be re-encoded: {e}"))?;
    let signature = ds
        .signature
        .as_bytes()
        .and_then(|b| DerSignature::from_bytes(b).ok())
        .ok_or("the document signer certificate's signature is not a DER ECDSA signature")?;
    key.verify(&tbs, &signature).map_err(|_| {
        format!(
            "the document signer certificate names {subject} as issuer but that CA's key did not sign it (forged, or from another CA of the same name)"
        )
    })?;
    check_is_ca(ca).map_err(|why| format!("trusted CA {subject}: {why}"))?;
    check_validity(ca, at).map_err(|why| format!("trusted CA {subject} is {why}"))?;
    Ok(())
}
