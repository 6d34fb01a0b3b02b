//! EF.SOD, the document security object (ICAO 9303-10 §4.6.2, 9303-12 §9): tag `77` around a
//! CMS ContentInfo (RFC 5652) of type SignedData whose encapsulated content is the DER
//! LDSSecurityObject, the hashes of the data groups, signed by the document signer.

use std::fmt;
use std::time::SystemTime;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{Any, OctetString, PrintableString, SetOfVec, UtcTime};
use der::{Decode, Encode, Length, Reader, Sequence, SliceReader};
use p256::ecdsa::DerSignature;
use p256::ecdsa::signature::Signer;
use sha2::Digest;
use spki::{AlgorithmIdentifierOwned, ObjectIdentifier};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

use crate::pki::parse_cert;
use crate::profile::TAG_EF_SOD;
use crate::{ChipError, DocumentSigner};

/// id-icao-mrtd-security-ldsSecurityObject (2.23.136.1.1.1), the eContentType of EF.SOD.
pub const OID_LDS_SECURITY_OBJECT: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.23.136.1.1.1");
/// id-signedData (1.2.840.113549.1.7.2).
pub const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// id-contentType, the content-type signed attribute (1.2.840.113549.1.9.3).
pub const OID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
/// id-messageDigest, the message-digest signed attribute (1.2.840.113549.1.9.4).
pub const OID_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
/// id-signingTime, the signing-time signed attribute (1.2.840.113549.1.9.5).
pub const OID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
/// ecdsa-with-SHA256 (1.2.840.10045.4.3.2).
pub const OID_ECDSA_WITH_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// id-sha224 (2.16.840.1.101.3.4.2.4).
pub const OID_SHA224: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.4");
/// id-sha256 (2.16.840.1.101.3.4.2.1).
pub const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// id-sha384 (2.16.840.1.101.3.4.2.2).
pub const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
/// id-sha512 (2.16.840.1.101.3.4.2.3).
pub const OID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// `LDSSecurityObject` (ICAO 9303-10 §4.6.2.2):
///
/// ```text
/// LDSSecurityObject ::= SEQUENCE {
///   version                LDSSecurityObjectVersion,        -- v0(0), v1(1)
///   hashAlgorithm          DigestAlgorithmIdentifier,
///   dataGroupHashValues    SEQUENCE SIZE (2..ub-DataGroups) OF DataGroupHash,
///   ldsVersionInfo         LDSVersionInfo OPTIONAL }        -- present in v1 only
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct LdsSecurityObject {
    /// 0 (rekam writes v0), or 1 with `lds_version_info`.
    pub version: u8,
    /// The algorithm of the data group hashes.
    pub hash_algorithm: AlgorithmIdentifierOwned,
    /// One hash per data group.
    pub data_group_hash_values: Vec<DataGroupHash>,
    /// The LDS and Unicode versions (v1).
    #[asn1(optional = "true")]
    pub lds_version_info: Option<LdsVersionInfo>,
}

/// `DataGroupHash ::= SEQUENCE { dataGroupNumber DataGroupNumber, dataGroupHashValue OCTET
/// STRING }`.
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct DataGroupHash {
    /// The data group, 1 to 16.
    pub data_group_number: u8,
    /// The hash of the data group's whole file (tag, length and value).
    pub data_group_hash_value: OctetString,
}

/// `LDSVersionInfo ::= SEQUENCE { ldsVersion PrintableString, unicodeVersion PrintableString }`.
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct LdsVersionInfo {
    /// "aabb", e.g. "0108".
    pub lds_version: PrintableString,
    /// "aabbcc", e.g. "040000".
    pub unicode_version: PrintableString,
}

/// The hash algorithms rekam can check: the SHA-2 family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// SHA-224.
    Sha224,
    /// SHA-256 (what rekam writes).
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// The algorithm of an OID, or `None` if rekam cannot compute it.
    pub fn of_oid(oid: &ObjectIdentifier) -> Option<Self> {
        match *oid {
            OID_SHA224 => Some(Self::Sha224),
            OID_SHA256 => Some(Self::Sha256),
            OID_SHA384 => Some(Self::Sha384),
            OID_SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The algorithm's OID.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha224 => OID_SHA224,
            Self::Sha256 => OID_SHA256,
            Self::Sha384 => OID_SHA384,
            Self::Sha512 => OID_SHA512,
        }
    }

    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha224 => sha2::Sha224::digest(data).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// The algorithm identifier, parameters absent (RFC 5754).
    pub(crate) fn identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: None,
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sha224 => "SHA-224",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        })
    }
}

/// What EF.SOD says, as read (nothing verified: see [`crate::verify_chip`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityObject {
    /// The LDSSecurityObject's version (0 or 1).
    pub version: u8,
    /// The OID of the data group hash algorithm, dotted.
    pub hash_algorithm_oid: String,
    /// The hash algorithm, if rekam can compute it.
    pub hash_algorithm: Option<HashAlgorithm>,
    /// The LDS version of a v1 object ("0108").
    pub lds_version: Option<String>,
    /// The Unicode version of a v1 object ("040000").
    pub unicode_version: Option<String>,
    /// (data group number, hash), in the object's order.
    pub data_group_hashes: Vec<(u8, Vec<u8>)>,
    /// The document signer certificate carried in the SOD (DER), if any.
    pub signer_certificate: Option<Vec<u8>>,
    /// Its subject as an RFC 4514 string.
    pub signer_subject: Option<String>,
    /// The signing-time signed attribute, if present.
    pub signing_time: Option<SystemTime>,
}

impl SecurityObject {
    /// The hash recorded for data group `number`.
    pub fn hash_of(&self, number: u8) -> Option<&[u8]> {
        self.data_group_hashes
            .iter()
            .find(|(n, _)| *n == number)
            .map(|(_, h)| h.as_slice())
    }
}

/// Signs the security object over these data groups (number, the data group file's bytes as
/// written to the chip: tag, length and value) and returns EF.SOD's content: `77 L
/// ContentInfo`.
///
/// The SignedData (version 3) holds the LDSSecurityObject v0 with SHA-256 hashes as eContent
/// (type id-icao-mrtd-security-ldsSecurityObject), the document signer certificate, and one
/// SignerInfo (version 1, issuerAndSerialNumber of the DS certificate, digest SHA-256, signed
/// attributes content-type, signing-time and message-digest, ecdsa-with-SHA256 over the DER
/// SET OF signed attributes). Data groups are listed in ascending order.
pub fn sign_sod(
    data_groups: &[(u8, &[u8])],
    signer: &DocumentSigner,
) -> Result<Vec<u8>, ChipError> {
    sign_sod_at(data_groups, signer, SystemTime::now())
}

/// [`sign_sod`] with the signing-time attribute set to `signing_time`.
pub fn sign_sod_at(
    data_groups: &[(u8, &[u8])],
    signer: &DocumentSigner,
    signing_time: SystemTime,
) -> Result<Vec<u8>, ChipError> {
    if data_groups.len() < 2 {
        return Err(ChipError::TooFewDataGroups(data_groups.len()));
    }
    let mut sorted: Vec<(u8, &[u8])> = data_groups.to_vec();
    sorted.sort_by_key(|&(n, _)| n);
    for pair in sorted.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(ChipError::DuplicateDataGroup(pair[0].0));
        }
    }
    if let Some(&(n, _)) = sorted.iter().find(|(n, _)| !(1..=16).contains(n)) {
        return Err(ChipError::DataGroupNumber(n));
    }
    let hash = HashAlgorithm::Sha256;
    let encode = |what: &'static str| move |source| ChipError::Encode { what, source };

    let lds = LdsSecurityObject {
        version: 0,
        hash_algorithm: hash.identifier(),
        data_group_hash_values: sorted
            .iter()
            .map(|&(n, bytes)| {
                Ok(DataGroupHash {
                    data_group_number: n,
                    data_group_hash_value: OctetString::new(hash.digest(bytes))?,
                })
            })
            .collect::<der::Result<_>>()
            .map_err(encode("data group hashes"))?,
        lds_version_info: None,
    };
    let econtent = lds.to_der().map_err(encode("LDSSecurityObject"))?;

    let ds_cert = parse_cert(&signer.cert_der, "document signer")?;
    let attr = |oid, value: Any| -> der::Result<Attribute> {
        Ok(Attribute {
            oid,
            values: SetOfVec::try_from(vec![value])?,
        })
    };
    let signed_attrs = (|| -> der::Result<SetOfVec<Attribute>> {
        SetOfVec::try_from(vec![
            attr(
                OID_CONTENT_TYPE,
                Any::encode_from(&OID_LDS_SECURITY_OBJECT)?,
            )?,
            attr(
                OID_SIGNING_TIME,
                Any::encode_from(&UtcTime::from_system_time(signing_time)?)?,
            )?,
            attr(
                OID_MESSAGE_DIGEST,
                Any::encode_from(&OctetString::new(hash.digest(&econtent))?)?,
            )?,
        ])
    })()
    .map_err(encode("signed attributes"))?;
    let to_sign = signed_attrs.to_der().map_err(encode("signed attributes"))?;
    let signature: DerSignature =
        signer
            .key
            .try_sign(&to_sign)
            .map_err(|e| ChipError::Signing {
                what: "security object",
                detail: e.to_string(),
            })?;

    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: ds_cert.tbs_certificate.issuer.clone(),
            serial_number: ds_cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: hash.identifier(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: OID_ECDSA_WITH_SHA256,
            parameters: None,
        },
        signature: OctetString::new(signature.as_bytes()).map_err(encode("signature"))?,
        unsigned_attrs: None,
    };
    let signed_data = SignedData {
        version: CmsVersion::V3,
        digest_algorithms: SetOfVec::try_from(vec![hash.identifier()])
            .map_err(encode("digest algorithms"))?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: OID_LDS_SECURITY_OBJECT,
            econtent: Some(
                Any::encode_from(&OctetString::new(econtent).map_err(encode("eContent"))?)
                    .map_err(encode("eContent"))?,
            ),
        },
        certificates: Some(CertificateSet(
            SetOfVec::try_from(vec![CertificateChoices::Certificate(ds_cert)])
                .map_err(encode("certificates"))?,
        )),
        crls: None,
        signer_infos: SignerInfos(
            SetOfVec::try_from(vec![signer_info]).map_err(encode("signer infos"))?,
        ),
    };
    let content_info = ContentInfo {
        content_type: OID_SIGNED_DATA,
        content: Any::encode_from(&signed_data).map_err(encode("SignedData"))?,
    };
    let cms = content_info.to_der().map_err(encode("ContentInfo"))?;
    wrap_sod(&cms)
}

/// Reads EF.SOD's content (`77 L ContentInfo`): the data group hashes, the versions, the
/// document signer certificate and the signing time. Verifies nothing.
pub fn read_sod(bytes: &[u8]) -> Result<SecurityObject, ChipError> {
    let parsed = ParsedSod::parse(bytes)?;
    let lds = &parsed.lds;
    let signer_certificate = match &parsed.signer_cert {
        Some(cert) => Some(cert.to_der().map_err(|source| ChipError::Encode {
            what: "document signer certificate",
            source,
        })?),
        None => None,
    };
    Ok(SecurityObject {
        version: lds.version,
        hash_algorithm_oid: lds.hash_algorithm.oid.to_string(),
        hash_algorithm: HashAlgorithm::of_oid(&lds.hash_algorithm.oid),
        lds_version: lds
            .lds_version_info
            .as_ref()
            .map(|v| v.lds_version.to_string()),
        unicode_version: lds
            .lds_version_info
            .as_ref()
            .map(|v| v.unicode_version.to_string()),
        data_group_hashes: lds
            .data_group_hash_values
            .iter()
            .map(|h| {
                (
                    h.data_group_number,
                    h.data_group_hash_value.as_bytes().to_vec(),
                )
            })
            .collect(),
        signer_subject: parsed
            .signer_cert
            .as_ref()
            .map(|c| c.tbs_certificate.subject.to_string()),
        signer_certificate,
        signing_time: parsed.signing_time(),
    })
}

/// The CMS ContentInfo inside EF.SOD's `77` wrapper (the bytes `openssl cms` reads).
pub fn sod_content_info(bytes: &[u8]) -> Result<&[u8], ChipError> {
    let Some((&tag, rest)) = bytes.split_first() else {
        return Err(ChipError::Sod("the file is empty".into()));
    };
    if tag != TAG_EF_SOD {
        return Err(ChipError::Sod(format!(
            "it starts with tag {tag:02X}, not 77"
        )));
    }
    let bad = |e: der::Error| ChipError::Sod(format!("bad length after tag 77: {e}"));
    let mut reader = SliceReader::new(rest).map_err(bad)?;
    let len = Length::decode(&mut reader).map_err(bad)?;
    // Bytes after the TLV (padding of a file allocated larger) are ignored.
    reader.read_slice(len).map_err(|_| {
        ChipError::Sod(format!(
            "tag 77 announces {len} bytes but the file is shorter ({} bytes in all): the read was cut",
            bytes.len()
        ))
    })
}

fn wrap_sod(content: &[u8]) -> Result<Vec<u8>, ChipError> {
    let len = Length::try_from(content.len())
        .and_then(|l| l.to_der())
        .map_err(|source| ChipError::Encode {
            what: "EF.SOD length",
            source,
        })?;
    let mut out = Vec::with_capacity(1 + len.len() + content.len());
    out.push(TAG_EF_SOD);
    out.extend_from_slice(&len);
    out.extend_from_slice(content);
    Ok(out)
}

/// EF.SOD decoded down to the pieces a verifier needs.
pub(crate) struct ParsedSod {
    pub(crate) signed_data: SignedData,
    /// The eContent octets (the DER LDSSecurityObject, as signed).
    pub(crate) econtent: Vec<u8>,
    pub(crate) lds: LdsSecurityObject,
    /// The certificate matching the (first) SignerInfo's sid, if the SOD carries it.
    pub(crate) signer_cert: Option<Certificate>,
}

impl ParsedSod {
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, ChipError> {
        let cms = sod_content_info(bytes)?;
        let content_info = ContentInfo::from_der(cms)
            .map_err(|e| ChipError::Sod(format!("not a CMS ContentInfo: {e}")))?;
        if content_info.content_type != OID_SIGNED_DATA {
            return Err(ChipError::Sod(format!(
                "the CMS content is {}, not SignedData",
                content_info.content_type
            )));
        }
        let signed_data: SignedData = content_info
            .content
            .decode_as()
            .map_err(|e| ChipError::Sod(format!("not a CMS SignedData: {e}")))?;
        let encap = &signed_data.encap_content_info;
        if encap.econtent_type != OID_LDS_SECURITY_OBJECT {
            return Err(ChipError::Sod(format!(
                "the signed content is {}, not an ICAO LDS security object (2.23.136.1.1.1)",
                encap.econtent_type
            )));
        }
        let econtent = encap
            .econtent
            .as_ref()
            .ok_or_else(|| ChipError::Sod("the signed content is detached (no eContent)".into()))?
            .decode_as::<OctetString>()
            .map_err(|e| ChipError::Sod(format!("eContent is not an OCTET STRING: {e}")))?
            .into_bytes();
        let lds = LdsSecurityObject::from_der(&econtent)
            .map_err(|e| ChipError::Sod(format!("the LDSSecurityObject cannot be decoded: {e}")))?;
        let signer_cert = signed_data
            .signer_infos
            .0
            .iter()
            .next()
            .and_then(|si| find_signer_cert(&signed_data, &si.sid));
        Ok(Self {
            signed_data,
            econtent,
            lds,
            signer_cert,
        })
    }

    /// The signing-time attribute of the first SignerInfo.
    fn signing_time(&self) -> Option<SystemTime> {
        let si = self.signed_data.signer_infos.0.iter().next()?;
        let attr = signed_attribute(si, OID_SIGNING_TIME)?;
        let der = attr.to_der().ok()?;
        x509_cert::time::Time::from_der(&der)
            .ok()
            .map(|t| t.to_system_time())
    }
}

/// The single value of a signed attribute.
pub(crate) fn signed_attribute(si: &SignerInfo, oid: ObjectIdentifier) -> Option<&Any> {
    let attrs = si.signed_attrs.as_ref()?;
    let attr = attrs.iter().find(|a| a.oid == oid)?;
    if attr.values.len() != 1 {
        return None;
    }
    attr.values.iter().next()
}

/// The certificate in the SignedData that a SignerInfo's sid designates.
pub(crate) fn find_signer_cert(sd: &SignedData, sid: &SignerIdentifier) -> Option<Certificate> {
    let certs = sd.certificates.as_ref()?;
    certs.0.iter().find_map(|choice| {
        let CertificateChoices::Certificate(cert) = choice else {
            return None;
        };
        let matches = match sid {
            SignerIdentifier::IssuerAndSerialNumber(ias) => {
                ias.issuer == cert.tbs_certificate.issuer
                    && ias.serial_number == cert.tbs_certificate.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => {
                matches!(cert.tbs_certificate.get::<SubjectKeyIdentifier>(),
                    Ok(Some((_, own))) if own == *ski)
            }
        };
        matches.then(|| cert.clone())
    })
}
