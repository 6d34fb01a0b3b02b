//! The two-level PKI of the chip: the issuer CA (ICAO's CSCA: self-signed, signs certificates)
//! and the document signer it certifies (ICAO's DS: signs EF.SOD). Keys are ECDSA P-256,
//! certificates are X.509 v3 signed with ecdsa-with-SHA256, and both can be kept in PEM files
//! (keys as PKCS#8, "BEGIN PRIVATE KEY"; certificates as "BEGIN CERTIFICATE").

use std::fmt;
use std::time::{Duration, SystemTime};

use der::asn1::{Any, PrintableStringRef, SetOfVec, Utf8StringRef};
use der::pem::LineEnding;
use der::referenced::OwnedToRef;
use der::{Decode, DecodePem, Encode, EncodePem};
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rand_core_06::{OsRng, RngCore};
use spki::{DecodePublicKey, ObjectIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::{Builder, CertificateBuilder, Profile as CertProfile};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use zeroize::Zeroizing;

use crate::ChipError;

/// id-at-countryName (2.5.4.6).
pub(crate) const OID_COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
/// id-at-commonName (2.5.4.3).
pub(crate) const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

const SECONDS_PER_DAY: u64 = 24 * 60 * 60;

/// The issuer CA (ICAO's Country Signing CA): its private key and its self-signed certificate
/// (DER). It issues document signer certificates; it never signs a chip itself.
pub struct IssuerCa {
    /// The CA's ECDSA P-256 private key.
    pub key: SigningKey,
    /// The CA's self-signed certificate, DER.
    pub cert_der: Vec<u8>,
}

/// A document signer: the key that signs each chip's EF.SOD and its certificate (DER), issued
/// by the issuer CA and carried in every EF.SOD it signs.
pub struct DocumentSigner {
    /// The document signer's ECDSA P-256 private key.
    pub key: SigningKey,
    /// The document signer's certificate, DER.
    pub cert_der: Vec<u8>,
}

impl fmt::Debug for IssuerCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerCa")
            .field("subject", &cert_subject(&self.cert_der).ok())
            .field("key", &"<private>")
            .finish()
    }
}

impl fmt::Debug for DocumentSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocumentSigner")
            .field("subject", &cert_subject(&self.cert_der).ok())
            .field("key", &"<private>")
            .finish()
    }
}

/// Creates an issuer CA: a fresh P-256 key and a self-signed certificate for
/// `C=<country>, CN=<common_name>` valid from now for `validity_days`, with the extensions
/// ICAO 9303-12 gives a CSCA: basicConstraints CA (path length 0, critical), keyUsage
/// keyCertSign and cRLSign (critical), and a subject key identifier.
///
/// `country` is the ISO 3166-1 alpha-2 code in capitals ("ID" for Indonesia).
pub fn generate_issuer_ca(
    common_name: &str,
    country: &str,
    validity_days: u32,
) -> Result<IssuerCa, ChipError> {
    let subject = build_name(country, common_name)?;
    let now = SystemTime::now();
    let validity = validity(now, now + days(validity_days)?)?;
    let key = SigningKey::random(&mut OsRng);
    let spki = spki_of(key.verifying_key())?;
    let mut builder = CertificateBuilder::new(
        CertProfile::Manual { issuer: None },
        random_serial()?,
        validity,
        subject,
        spki.clone(),
        &key,
    )
    .map_err(|e| signing_error("issuer CA certificate", e))?;
    let encode = |e| signing_error("issuer CA certificate", e);
    builder
        .add_extension(
            &SubjectKeyIdentifier::try_from(spki.owned_to_ref())
                .map_err(|e| signing_error("issuer CA certificate", e))?,
        )
        .map_err(encode)?;
    builder
        .add_extension(&BasicConstraints {
            ca: true,
            path_len_constraint: Some(0),
        })
        .map_err(encode)?;
    builder
        .add_extension(&KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))
        .map_err(encode)?;
    let cert = builder
        .build::<DerSignature>()
        .map_err(|e| signing_error("issuer CA certificate", e))?;
    let cert_der = cert.to_der().map_err(|source| ChipError::Encode {
        what: "issuer CA certificate",
        source,
    })?;
    Ok(IssuerCa { key, cert_der })
}

impl IssuerCa {
    /// Issues a document signer: a fresh P-256 key and a certificate for
    /// `C=<the CA's country>, CN=<common_name>` signed by this CA, valid from now for
    /// `validity_days` but never past the CA's own expiry, with ICAO 9303-12's document
    /// signer extensions: authority and subject key identifiers and keyUsage digitalSignature
    /// (critical), no basicConstraints.
    pub fn issue_document_signer(
        &self,
        common_name: &str,
        validity_days: u32,
    ) -> Result<DocumentSigner, ChipError> {
        let ca = parse_cert(&self.cert_der, "issuer CA")?;
        let now = SystemTime::now();
        let ca_not_before = ca.tbs_certificate.validity.not_before.to_system_time();
        let ca_not_after = ca.tbs_certificate.validity.not_after.to_system_time();
        if now < ca_not_before || now > ca_not_after {
            return Err(ChipError::IssuerExpired {
                detail: format!(
                    "valid from {} to {}",
                    ca.tbs_certificate.validity.not_before, ca.tbs_certificate.validity.not_after
                ),
            });
        }
        let not_after = (now + days(validity_days)?).min(ca_not_after);
        let country =
            name_country(&ca.tbs_certificate.subject).ok_or_else(|| ChipError::Certificate {
                what: "issuer CA",
                detail: "its subject has no country (C=)".into(),
            })?;
        let subject = build_name(&country, common_name)?;
        let key = SigningKey::random(&mut OsRng);
        let spki = spki_of(key.verifying_key())?;
        let what = "document signer certificate";
        let mut builder = CertificateBuilder::new(
            CertProfile::Manual {
                issuer: Some(ca.tbs_certificate.subject.clone()),
            },
            random_serial()?,
            validity(now, not_after)?,
            subject,
            spki.clone(),
            &self.key,
        )
        .map_err(|e| signing_error(what, e))?;
        let aki = AuthorityKeyIdentifier::try_from(
            ca.tbs_certificate.subject_public_key_info.owned_to_ref(),
        )
        .map_err(|e| signing_error(what, e))?;
        let ski = SubjectKeyIdentifier::try_from(spki.owned_to_ref())
            .map_err(|e| signing_error(what, e))?;
        builder
            .add_extension(&aki)
            .map_err(|e| signing_error(what, e))?;
        builder
            .add_extension(&ski)
            .map_err(|e| signing_error(what, e))?;
        builder
            .add_extension(&KeyUsage(KeyUsages::DigitalSignature.into()))
            .map_err(|e| signing_error(what, e))?;
        let cert = builder
            .build::<DerSignature>()
            .map_err(|e| signing_error(what, e))?;
        let cert_der = cert
            .to_der()
            .map_err(|source| ChipError::Encode { what, source })?;
        Ok(DocumentSigner { key, cert_der })
    }

    /// The CA's key (PKCS#8 PEM, to keep in a file readable by the key's owner only) and its
    /// certificate (PEM, public).
    pub fn to_pem(&self) -> Result<(Zeroizing<String>, String), ChipError> {
        Ok((
            key_to_pem(&self.key, "issuer CA")?,
            cert_to_pem(&self.cert_der)?,
        ))
    }

    /// Loads a CA from its key (PKCS#8 PEM) and certificate (PEM); checks that they belong
    /// together and that the certificate is a CA certificate (basicConstraints CA and keyUsage
    /// keyCertSign).
    pub fn from_pem(key_pem: &str, cert_pem: &str) -> Result<Self, ChipError> {
        let key = key_from_pem(key_pem, "issuer CA")?;
        let cert_der = cert_from_pem(cert_pem)?;
        Self::from_parts(key, cert_der)
    }

    /// Loads a CA from its key (PKCS#8 DER) and certificate (DER), with the checks of
    /// [`IssuerCa::from_pem`].
    pub fn from_der(key_der: &[u8], cert_der: &[u8]) -> Result<Self, ChipError> {
        let key = key_from_der(key_der, "issuer CA")?;
        Self::from_parts(key, cert_der.to_vec())
    }

    fn from_parts(key: SigningKey, cert_der: Vec<u8>) -> Result<Self, ChipError> {
        let cert = parse_cert(&cert_der, "issuer CA")?;
        check_key_matches(&key, &cert, "issuer CA")?;
        if let Err(reason) = check_is_ca(&cert) {
            return Err(ChipError::Certificate {
                what: "issuer CA",
                detail: reason,
            });
        }
        Ok(Self { key, cert_der })
    }

    /// The CA certificate's subject, as an RFC 4514 string ("CN=...,C=ID").
    pub fn subject(&self) -> Result<String, ChipError> {
        cert_subject(&self.cert_der)
    }
}

impl DocumentSigner {
    /// The signer's key (PKCS#8 PEM, to keep in a file readable by the daemon only) and its
    /// certificate (PEM, public).
    pub fn to_pem(&self) -> Result<(Zeroizing<String>, String), ChipError> {
        Ok((
            key_to_pem(&self.key, "document signer")?,
            cert_to_pem(&self.cert_der)?,
        ))
    }

    /// Loads a document signer from its key (PKCS#8 PEM) and certificate (PEM); checks that
    /// they belong together and that the certificate allows digital signatures.
    pub fn from_pem(key_pem: &str, cert_pem: &str) -> Result<Self, ChipError> {
        let key = key_from_pem(key_pem, "document signer")?;
        let cert_der = cert_from_pem(cert_pem)?;
        Self::from_parts(key, cert_der)
    }

    /// Loads a document signer from its key (PKCS#8 DER) and certificate (DER), with the
    /// checks of [`DocumentSigner::from_pem`].
    pub fn from_der(key_der: &[u8], cert_der: &[u8]) -> Result<Self, ChipError> {
        let key = key_from_der(key_der, "document signer")?;
        Self::from_parts(key, cert_der.to_vec())
    }

    fn from_parts(key: SigningKey, cert_der: Vec<u8>) -> Result<Self, ChipError> {
        let cert = parse_cert(&cert_der, "document signer")?;
        check_key_matches(&key, &cert, "document signer")?;
        if let Some(usage) = key_usage(&cert)
            && !usage.digital_signature()
        {
            return Err(ChipError::Certificate {
                what: "document signer",
                detail: "its keyUsage does not allow digitalSignature".into(),
            });
        }
        Ok(Self { key, cert_der })
    }

    /// The signer certificate's subject, as an RFC 4514 string.
    pub fn subject(&self) -> Result<String, ChipError> {
        cert_subject(&self.cert_der)
    }
}

/// Reads one PEM certificate ("BEGIN CERTIFICATE") and returns its DER.
pub fn cert_from_pem(pem: &str) -> Result<Vec<u8>, ChipError> {
    let cert =
        Certificate::from_pem(pem.trim().as_bytes()).map_err(|e| ChipError::Certificate {
            what: "PEM",
            detail: format!("{e} (expected one \"-----BEGIN CERTIFICATE-----\" block)"),
        })?;
    cert.to_der().map_err(|source| ChipError::Encode {
        what: "certificate",
        source,
    })
}

/// Writes a DER certificate as PEM ("BEGIN CERTIFICATE", LF line endings).
pub fn cert_to_pem(der: &[u8]) -> Result<String, ChipError> {
    parse_cert(der, "given")?
        .to_pem(LineEnding::LF)
        .map_err(|source| ChipError::Encode {
            what: "certificate PEM",
            source,
        })
}

/// The subject of a DER certificate, as an RFC 4514 string ("CN=...,C=ID").
pub fn cert_subject(der: &[u8]) -> Result<String, ChipError> {
    Ok(parse_cert(der, "given")?
        .tbs_certificate
        .subject
        .to_string())
}

pub(crate) fn parse_cert(der: &[u8], what: &'static str) -> Result<Certificate, ChipError> {
    Certificate::from_der(der).map_err(|e| ChipError::Certificate {
        what,
        detail: format!("not a DER X.509 certificate: {e}"),
    })
}

/// The P-256 public key of a certificate.
pub(crate) fn cert_key(cert: &Certificate) -> Result<VerifyingKey, String> {
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| format!("cannot encode its public key: {e}"))?;
    VerifyingKey::from_public_key_der(&spki)
        .map_err(|e| format!("its public key is not an EC P-256 key ({e})"))
}

/// The keyUsage extension of a certificate, if it has a readable one.
pub(crate) fn key_usage(cert: &Certificate) -> Option<KeyUsage> {
    match cert.tbs_certificate.get::<KeyUsage>() {
        Ok(Some((_, usage))) => Some(usage),
        _ => None,
    }
}

/// Checks that a certificate may sign certificates: basicConstraints CA and, when keyUsage is
/// present, keyCertSign.
pub(crate) fn check_is_ca(cert: &Certificate) -> Result<(), String> {
    match cert.tbs_certificate.get::<BasicConstraints>() {
        Ok(Some((_, bc))) if bc.ca => {}
        Ok(_) => return Err("it is not a CA certificate (no basicConstraints CA)".into()),
        Err(e) => return Err(format!("its basicConstraints cannot be read ({e})")),
    }
    match cert.tbs_certificate.get::<KeyUsage>() {
        Ok(Some((_, usage))) if !usage.key_cert_sign() => {
            Err("its keyUsage does not allow keyCertSign".into())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(format!("its keyUsage cannot be read ({e})")),
    }
}

/// Checks a certificate's validity period at `at`.
pub(crate) fn check_validity(cert: &Certificate, at: SystemTime) -> Result<(), String> {
    let v = &cert.tbs_certificate.validity;
    if at < v.not_before.to_system_time() {
        Err(format!("not yet valid (valid from {})", v.not_before))
    } else if at > v.not_after.to_system_time() {
        Err(format!("expired (valid until {})", v.not_after))
    } else {
        Ok(())
    }
}

/// The country (C=) of a name, if any.
pub(crate) fn name_country(name: &Name) -> Option<String> {
    name.0.iter().flat_map(|rdn| rdn.0.iter()).find_map(|atv| {
        (atv.oid == OID_COUNTRY)
            .then(|| atv.value.decode_as::<PrintableStringRef<'_>>().ok())
            .flatten()
            .map(|s| s.as_str().to_owned())
    })
}

fn build_name(country: &str, common_name: &str) -> Result<Name, ChipError> {
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ChipError::InvalidName {
            what: "country",
            value: country.into(),
            detail: "give the ISO 3166-1 alpha-2 code in capitals, e.g. \"ID\"".into(),
        });
    }
    let cn_chars = common_name.chars().count();
    if common_name.trim().is_empty() || cn_chars > 64 {
        return Err(ChipError::InvalidName {
            what: "common name",
            value: common_name.into(),
            detail: format!("must be 1 to 64 characters, {cn_chars} given"),
        });
    }
    let name_err = |what: &'static str, value: &str| {
        let value = value.to_owned();
        move |e: der::Error| ChipError::InvalidName {
            what,
            value,
            detail: e.to_string(),
        }
    };
    let c =
        Any::encode_from(&PrintableStringRef::new(country).map_err(name_err("country", country))?)
            .map_err(name_err("country", country))?;
    let cn = Any::encode_from(
        &Utf8StringRef::new(common_name).map_err(name_err("common name", common_name))?,
    )
    .map_err(name_err("common name", common_name))?;
    let rdn = |oid, value| -> Result<RelativeDistinguishedName, ChipError> {
        let set = SetOfVec::try_from(vec![AttributeTypeAndValue { oid, value }])
            .map_err(name_err("name", common_name))?;
        Ok(RelativeDistinguishedName(set))
    };
    Ok(RdnSequence(vec![
        rdn(OID_COUNTRY, c)?,
        rdn(OID_COMMON_NAME, cn)?,
    ]))
}

fn days(n: u32) -> Result<Duration, ChipError> {
    if n == 0 {
        return Err(ChipError::Validity(
            "the validity must be at least one day".into(),
        ));
    }
    Ok(Duration::from_secs(u64::from(n) * SECONDS_PER_DAY))
}

fn validity(not_before: SystemTime, not_after: SystemTime) -> Result<Validity, ChipError> {
    let time = |t: SystemTime| {
        Time::try_from(t).map_err(|e| ChipError::Validity(format!("date out of range: {e}")))
    };
    Ok(Validity {
        not_before: time(not_before)?,
        not_after: time(not_after)?,
    })
}

fn random_serial() -> Result<SerialNumber, ChipError> {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    // Positive, and 16 bytes long: no leading zero byte to strip.
    bytes[0] = (bytes[0] & 0x7F) | 0x40;
    SerialNumber::new(&bytes).map_err(|source| ChipError::Encode {
        what: "serial number",
        source,
    })
}

fn spki_of(key: &VerifyingKey) -> Result<SubjectPublicKeyInfoOwned, ChipError> {
    SubjectPublicKeyInfoOwned::from_key(*key).map_err(|e| ChipError::Signing {
        what: "public key",
        detail: e.to_string(),
    })
}

fn signing_error(what: &'static str, e: impl fmt::Display) -> ChipError {
    ChipError::Signing {
        what,
        detail: e.to_string(),
    }
}

fn key_to_pem(key: &SigningKey, what: &'static str) -> Result<Zeroizing<String>, ChipError> {
    key.to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| ChipError::Key {
            what,
            detail: e.to_string(),
        })
}

fn key_from_pem(pem: &str, what: &'static str) -> Result<SigningKey, ChipError> {
    SigningKey::from_pkcs8_pem(pem.trim()).map_err(|e| ChipError::Key {
        what,
        detail: e.to_string(),
    })
}

fn key_from_der(der: &[u8], what: &'static str) -> Result<SigningKey, ChipError> {
    SigningKey::from_pkcs8_der(der).map_err(|e| ChipError::Key {
        what,
        detail: e.to_string(),
    })
}

fn check_key_matches(
    key: &SigningKey,
    cert: &Certificate,
    what: &'static str,
) -> Result<(), ChipError> {
    let cert_key = cert_key(cert).map_err(|detail| ChipError::Certificate { what, detail })?;
    if &cert_key != key.verifying_key() {
        return Err(ChipError::KeyMismatch { what });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ca_certificate_has_the_csca_extensions() {
        let ca = generate_issuer_ca("rekam test CSCA", "ID", 3650).unwrap();
        let cert = parse_cert(&ca.cert_der, "test").unwrap();
        assert_eq!(cert.tbs_certificate.subject, cert.tbs_certificate.issuer);
        assert_eq!(ca.subject().unwrap(), "CN=rekam test CSCA,C=ID");
        check_is_ca(&cert).unwrap();
        let (critical, bc) = cert
            .tbs_certificate
            .get::<BasicConstraints>()
            .unwrap()
            .unwrap();
        assert!(critical && bc.ca && bc.path_len_constraint == Some(0));
        let usage = key_usage(&cert).unwrap();
        assert!(usage.key_cert_sign() && usage.crl_sign() && !usage.digital_signature());
        assert_eq!(
            cert.signature_algorithm.oid,
            ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2")
        );
        check_validity(&cert, SystemTime::now()).unwrap();
        let days = cert.tbs_certificate.validity.not_after.to_unix_duration()
            - cert.tbs_certificate.validity.not_before.to_unix_duration();
        assert_eq!(days.as_secs(), 3650 * SECONDS_PER_DAY);
    }

    #[test]
    fn document_signer_is_issued_by_the_ca_with_digital_signature_only() {
        let ca = generate_issuer_ca("rekam test CSCA", "ID", 3650).unwrap();
        let ds = ca.issue_document_signer("rekam DS 1", 365).unwrap();
        let cert = parse_cert(&ds.cert_der, "test").unwrap();
        let ca_cert = parse_cert(&ca.cert_der, "test").unwrap();
        assert_eq!(cert.tbs_certificate.issuer, ca_cert.tbs_certificate.subject);
        assert_eq!(ds.subject().unwrap(), "CN=rekam DS 1,C=ID");
        let usage = key_usage(&cert).unwrap();
        assert!(usage.digital_signature() && !usage.key_cert_sign() && !usage.non_repudiation());
        assert!(check_is_ca(&cert).is_err());
        assert!(
            cert.tbs_certificate
                .get::<BasicConstraints>()
                .unwrap()
                .is_none()
        );
        // The AKI names the CA's SKI.
        let (_, aki) = cert
            .tbs_certificate
            .get::<AuthorityKeyIdentifier>()
            .unwrap()
            .unwrap();
        let (_, ski) = ca_cert
            .tbs_certificate
            .get::<SubjectKeyIdentifier>()
            .unwrap()
            .unwrap();
        assert_eq!(aki.key_identifier.unwrap(), ski.0);
        // A DS asked to outlive its CA ends with the CA.
        let long = ca.issue_document_signer("rekam DS 2", 100_000).unwrap();
        let long = parse_cert(&long.cert_der, "test").unwrap();
        assert_eq!(
            long.tbs_certificate.validity.not_after,
            ca_cert.tbs_certificate.validity.not_after
        );
    }

    #[test]
    fn pem_round_trips_and_mismatched_files_are_refused() {
        let ca = generate_issuer_ca("rekam test CSCA", "ID", 30).unwrap();
        let ds = ca.issue_document_signer("rekam DS", 30).unwrap();
        let (ca_key, ca_cert) = ca.to_pem().unwrap();
        assert!(ca_key.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(ca_cert.starts_with("-----BEGIN CERTIFICATE-----"));
        let back = IssuerCa::from_pem(&ca_key, &ca_cert).unwrap();
        assert_eq!(back.cert_der, ca.cert_der);
        assert_eq!(back.key.verifying_key(), ca.key.verifying_key());
        assert_eq!(cert_from_pem(&ca_cert).unwrap(), ca.cert_der);

        let (ds_key, ds_cert) = ds.to_pem().unwrap();
        let back = DocumentSigner::from_pem(&ds_key, &ds_cert).unwrap();
        assert_eq!(back.cert_der, ds.cert_der);
        let der_key = ds.key.to_pkcs8_der().unwrap();
        let back = DocumentSigner::from_der(der_key.as_bytes(), &ds.cert_der).unwrap();
        assert_eq!(back.key.verifying_key(), ds.key.verifying_key());

        // The DS key with the CA certificate: wrong pair.
        let err = IssuerCa::from_pem(&ds_key, &ca_cert).unwrap_err();
        assert!(matches!(err, ChipError::KeyMismatch { .. }), "{err}");
        // A DS certificate is not a CA.
        let err = IssuerCa::from_pem(&ds_key, &ds_cert).unwrap_err();
        assert!(err.to_string().contains("not a CA certificate"), "{err}");
        // A CA certificate cannot sign chips.
        let err = DocumentSigner::from_pem(&ca_key, &ca_cert).unwrap_err();
        assert!(err.to_string().contains("digitalSignature"), "{err}");
        // Garbage.
        let err = DocumentSigner::from_pem("not a key", &ds_cert).unwrap_err();
        assert!(matches!(err, ChipError::Key { .. }), "{err}");
        assert!(
            cert_from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .is_err()
        );
    }

    #[test]
    fn bad_names_and_validity_are_refused() {
        assert!(matches!(
            generate_issuer_ca("CA", "Indonesia", 10),
            Err(ChipError::InvalidName {
                what: "country",
                ..
            })
        ));
        assert!(matches!(
            generate_issuer_ca("CA", "id", 10),
            Err(ChipError::InvalidName { .. })
        ));
        assert!(matches!(
            generate_issuer_ca("", "ID", 10),
            Err(ChipError::InvalidName {
                what: "common name",
                ..
            })
        ));
        assert!(matches!(
            generate_issuer_ca(&"x".repeat(65), "ID", 10),
            Err(ChipError::InvalidName { .. })
        ));
        assert!(matches!(
            generate_issuer_ca("CA", "ID", 0),
            Err(ChipError::Validity(_))
        ));
        // UTF-8 in the common name is fine.
        let ca = generate_issuer_ca("Direktorat Jenderal Dukcapil – Uji", "ID", 10).unwrap();
        assert!(ca.subject().unwrap().contains("Dukcapil – Uji"));
    }
}
