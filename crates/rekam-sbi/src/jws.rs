//! The signatures of SBI: JSON Web Signatures (RFC 7515, compact serialisation) whose
//! header is `{"alg":"RS256","typ":"JWT","x5c":[device certificate]}`, made with the device
//! key and checked against the device CA certificates a station is configured with.
//!
//! Signing and signature checks use `ring` (already in the build through rustls);
//! certificates are read with `x509-cert`. The verifier accepts RS256 (the specification's
//! algorithm) and EdDSA over Ed25519 (its table of algorithms allows "ECC curve 25519" for
//! the biometric signature); certificates in the chain may be signed with RSA PKCS#1 v1.5
//! (SHA-256/384/512), ECDSA P-256/P-384 or Ed25519.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use der::{Decode, Encode};
use ring::signature::{self, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use x509_cert::Certificate;

/// What went wrong signing or loading a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The private key file is not an RSA key in PKCS#8 or PKCS#1 (PEM or DER).
    #[error("the device key is not an RSA private key in PKCS#8 or PKCS#1: {0}")]
    BadKey(String),
    /// A certificate could not be read.
    #[error("the device certificate cannot be read: {0}")]
    BadCertificate(String),
    /// No certificate was given for the key.
    #[error("the device key needs its certificate (the x5c of every signature)")]
    NoCertificate,
    /// The key does not belong to the first certificate.
    #[error("the device key does not belong to the device certificate ({subject})")]
    KeyCertificateMismatch {
        /// The certificate's subject.
        subject: String,
    },
    /// The signing itself failed.
    #[error("signing failed")]
    Sign,
    /// A key or certificate file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>, KeyError> {
    std::fs::read(path).map_err(|source| KeyError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Why a JWS was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// Not three base64url parts, or a header or payload that is not what SBI sends.
    #[error("malformed JWS: {0}")]
    Malformed(String),
    /// An algorithm other than RS256 or EdDSA.
    #[error("signature algorithm {0:?} is not accepted (SBI signs with RS256)")]
    Algorithm(String),
    /// The header carries no `x5c` certificate.
    #[error("the JWS header carries no x5c certificate")]
    NoCertificate,
    /// A certificate in `x5c` could not be read.
    #[error("certificate in x5c cannot be read: {0}")]
    BadCertificate(String),
    /// The signature does not verify with the certificate's key.
    #[error("the signature does not verify with the key of {subject}")]
    BadSignature {
        /// The signing certificate's subject.
        subject: String,
    },
    /// No configured CA issued the certificate (directly or through x5c's others).
    #[error(
        "device certificate {subject} (issuer {issuer}) does not chain to a configured device CA"
    )]
    Untrusted {
        /// The certificate's subject.
        subject: String,
        /// Its issuer.
        issuer: String,
    },
    /// No device CA certificate is configured, so nothing signed can be trusted.
    #[error(
        "no device CA certificate is configured: add the device provider's CA certificate to trust its devices"
    )]
    NoTrustAnchors,
    /// A certificate of the chain is outside its validity.
    #[error("certificate {subject} is not valid now (valid {not_before} to {not_after})")]
    Expired {
        /// The certificate's subject.
        subject: String,
        /// Start of validity (Unix seconds).
        not_before: u64,
        /// End of validity (Unix seconds).
        not_after: u64,
    },
}

/// The JWS header SBI uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwsHeader {
    /// `RS256`.
    pub alg: String,
    /// `JWT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// The signer's certificate first (standard base64 DER), then any others.
    #[serde(default, deserialize_with = "x5c_list")]
    pub x5c: Vec<String>,
}

/// `x5c` as the array RFC 7515 has, or the single string of the specification's example.
fn x5c_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

/// base64url without padding, as JWS and the unsigned digital id use.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Read base64url, with or without padding.
pub fn b64url_decode(s: &str) -> Result<Vec<u8>, JwsError> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| JwsError::Malformed(format!("not base64url: {e}")))
}

/// Read standard base64 (x5c), with or without padding; base64url tolerated.
fn b64_any(s: &str) -> Result<Vec<u8>, JwsError> {
    let t = s.trim_end_matches('=');
    STANDARD_NO_PAD
        .decode(t)
        .or_else(|_| URL_SAFE_NO_PAD.decode(t))
        .map_err(|e| JwsError::BadCertificate(format!("x5c is not base64: {e}")))
}

/// The unsigned form of a payload (an unregistered device's device info and digital id):
/// base64url of the JSON.
pub fn unsigned(payload: &[u8]) -> String {
    b64url(payload)
}

/// A certificate's subject, for messages.
pub fn subject_of(cert: &Certificate) -> String {
    cert.tbs_certificate.subject.to_string()
}

/// Read one or more PEM certificates, or one DER certificate.
pub fn read_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, KeyError> {
    if bytes.trim_ascii_start().starts_with(b"-----") {
        Certificate::load_pem_chain(bytes).map_err(|e| KeyError::BadCertificate(e.to_string()))
    } else {
        Certificate::from_der(bytes)
            .map(|c| vec![c])
            .map_err(|e| KeyError::BadCertificate(e.to_string()))
    }
}

/// The device key: an RSA key (2048 bits or more) and its certificate chain, leaf first.
pub struct DeviceKey {
    key: signature::RsaKeyPair,
    chain: Vec<Vec<u8>>,
    subject: String,
    rng: ring::rand::SystemRandom,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKey")
            .field("subject", &self.subject)
            .field("chain", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl DeviceKey {
    /// A key from its private key (PKCS#8 or PKCS#1, PEM or DER) and certificates (PEM,
    /// leaf first, or one DER certificate).
    pub fn from_files_content(key: &[u8], certificates: &[u8]) -> Result<Self, KeyError> {
        let key_der = if key.trim_ascii_start().starts_with(b"-----") {
            let (_label, der) =
                der::pem::decode_vec(key).map_err(|e| KeyError::BadKey(e.to_string()))?;
            der
        } else {
            key.to_vec()
        };
        let pair = signature::RsaKeyPair::from_pkcs8(&key_der)
            .or_else(|_| signature::RsaKeyPair::from_der(&key_der))
            .map_err(|e| KeyError::BadKey(e.to_string()))?;
        let certs = read_certificates(certificates)?;
        let chain = certs
            .iter()
            .map(|c| {
                c.to_der()
                    .map_err(|e| KeyError::BadCertificate(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(pair, chain)
    }

    /// A key from a private key file and a certificate file (the forms of
    /// [`DeviceKey::from_files_content`]).
    pub fn from_files(
        key: &std::path::Path,
        certificates: &std::path::Path,
    ) -> Result<Self, KeyError> {
        Self::from_files_content(&read_file(key)?, &read_file(certificates)?)
    }

    fn new(key: signature::RsaKeyPair, chain: Vec<Vec<u8>>) -> Result<Self, KeyError> {
        use ring::signature::KeyPair;
        let leaf = chain.first().ok_or(KeyError::NoCertificate)?;
        let cert =
            Certificate::from_der(leaf).map_err(|e| KeyError::BadCertificate(e.to_string()))?;
        let subject = subject_of(&cert);
        let spki_key = cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        if spki_key != key.public_key().as_ref() {
            return Err(KeyError::KeyCertificateMismatch { subject });
        }
        Ok(Self {
            key,
            chain,
            subject,
            rng: ring::rand::SystemRandom::new(),
        })
    }

    /// The device certificate's subject.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The certificates (DER), leaf first.
    pub fn chain(&self) -> &[Vec<u8>] {
        &self.chain
    }

    /// Sign `payload` as an SBI JWS: `b64url(header).b64url(payload).b64url(RS256 signature)`.
    pub fn sign(&self, payload: &[u8]) -> Result<String, KeyError> {
        let header = JwsHeader {
            alg: "RS256".into(),
            typ: Some("JWT".into()),
            x5c: self.chain.iter().map(|c| STANDARD.encode(c)).collect(),
        };
        let header_json = serde_json::to_vec(&header).map_err(|_| KeyError::Sign)?;
        let signing_input = format!("{}.{}", b64url(&header_json), b64url(payload));
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &self.rng,
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| KeyError::Sign)?;
        Ok(format!("{signing_input}.{}", b64url(&sig)))
    }
}

/// The device CA certificates a station trusts: every device certificate must chain to one.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    anchors: Vec<Certificate>,
}

/// A verified JWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The header.
    pub header: JwsHeader,
    /// The payload's bytes.
    pub payload: Vec<u8>,
    /// The signing certificate's subject.
    pub signer: String,
}

impl TrustStore {
    /// An empty store (it trusts nothing: every signed answer fails with `NoTrustAnchors`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Add CA certificates (PEM, one or more; or one DER).
    pub fn add(&mut self, certificates: &[u8]) -> Result<(), KeyError> {
        self.anchors.extend(read_certificates(certificates)?);
        Ok(())
    }

    /// A store from CA certificates (PEM or DER).
    pub fn from_certificates(certificates: &[u8]) -> Result<Self, KeyError> {
        let mut store = Self::new();
        store.add(certificates)?;
        Ok(store)
    }

    /// A store from CA certificate files (PEM, several per file allowed; or DER).
    pub fn from_files<P: AsRef<std::path::Path>>(paths: &[P]) -> Result<Self, KeyError> {
        let mut store = Self::new();
        for p in paths {
            store.add(&read_file(p.as_ref())?)?;
        }
        Ok(store)
    }

    /// How many CA certificates it holds.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Verify a compact JWS: its form, its algorithm, its signature with the key of the
    /// first `x5c` certificate, and that certificate's chain to a configured CA at `now`
    /// (Unix seconds), through the other `x5c` certificates if needed.
    pub fn verify(&self, compact: &str, now: u64) -> Result<Verified, JwsError> {
        let mut parts = compact.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::Malformed("not three dot-separated parts".into()));
        };
        let header_bytes = b64url_decode(h)?;
        let header: JwsHeader = serde_json::from_slice(&header_bytes)
            .map_err(|e| JwsError::Malformed(format!("header: {e}")))?;
        let payload = b64url_decode(p)?;
        let sig = b64url_decode(s)?;
        let alg: &dyn signature::VerificationAlgorithm = match header.alg.as_str() {
            "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
            "EdDSA" => &signature::ED25519,
            other => return Err(JwsError::Algorithm(other.to_string())),
        };
        let certs = header
            .x5c
            .iter()
            .map(|c| {
                let der = b64_any(c)?;
                Certificate::from_der(&der).map_err(|e| JwsError::BadCertificate(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let leaf = certs.first().ok_or(JwsError::NoCertificate)?;
        let signer = subject_of(leaf);
        let key = leaf
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        let input_len = h.len() + 1 + p.len();
        let signing_input = &compact.as_bytes()[..input_len];
        UnparsedPublicKey::new(alg, key)
            .verify(signing_input, &sig)
            .map_err(|_| JwsError::BadSignature {
                subject: signer.clone(),
            })?;
        self.check_chain(&certs, now)?;
        Ok(Verified {
            header,
            payload,
            signer,
        })
    }

    fn check_chain(&self, certs: &[Certificate], now: u64) -> Result<(), JwsError> {
        let Some(mut current) = certs.first() else {
            return Err(JwsError::NoCertificate);
        };
        if self.anchors.is_empty() {
            return Err(JwsError::NoTrustAnchors);
        }
        for _depth in 0..8 {
            check_validity(current, now)?;
            if self.anchors.iter().any(|a| a == current) {
                return Ok(());
            }
            let issuer = &current.tbs_certificate.issuer;
            for anchor in &self.anchors {
                if &anchor.tbs_certificate.subject == issuer && signed_by(current, anchor) {
                    check_validity(anchor, now)?;
                    return Ok(());
                }
            }
            let next = certs.iter().skip(1).find(|c| {
                *c != current && &c.tbs_certificate.subject == issuer && signed_by(current, c)
            });
            match next {
                Some(c) => current = c,
                None => break,
            }
        }
        Err(JwsError::Untrusted {
            subject: subject_of(current),
            issuer: current.tbs_certificate.issuer.to_string(),
        })
    }
}

fn check_validity(cert: &Certificate, now: u64) -> Result<(), JwsError> {
    let v = &cert.tbs_certificate.validity;
    let not_before = v.not_before.to_unix_duration().as_secs();
    let not_after = v.not_after.to_unix_duration().as_secs();
    if now < not_before || now > not_after {
        return Err(JwsError::Expired {
            subject: subject_of(cert),
            not_before,
            not_after,
        });
    }
    Ok(())
}

/// Whether `cert`'s signature verifies with `issuer`'s key.
fn signed_by(cert: &Certificate, issuer: &Certificate) -> bool {
    let Ok(tbs) = cert.tbs_certificate.to_der() else {
        return false;
    };
    let alg: &dyn signature::VerificationAlgorithm =
        match cert.signature_algorithm.oid.to_string().as_str() {
            "1.2.840.113549.1.1.11" => &signature::RSA_PKCS1_2048_8192_SHA256,
            "1.2.840.113549.1.1.12" => &signature::RSA_PKCS1_2048_8192_SHA384,
            "1.2.840.113549.1.1.13" => &signature::RSA_PKCS1_2048_8192_SHA512,
            "1.2.840.10045.4.3.2" => &signature::ECDSA_P256_SHA256_ASN1,
            "1.2.840.10045.4.3.3" => &signature::ECDSA_P384_SHA384_ASN1,
            "1.3.101.112" => &signature::ED25519,
            _ => return false,
        };
    let key = issuer
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    UnparsedPublicKey::new(alg, key)
        .verify(&tbs, cert.signature.raw_bytes())
        .is_ok()
}

/// Read a JWS's payload without verifying it (for an unregistered device's unsigned
/// answers, which are only base64url, and for diagnostics).
pub fn payload_unverified(token: &str) -> Result<Vec<u8>, JwsError> {
    let parts: Vec<&str> = token.split('.').collect();
    match parts.as_slice() {
        [only] => b64url_decode(only),
        [_, p, _] => b64url_decode(p),
        _ => Err(JwsError::Malformed("neither base64url nor a JWS".into())),
    }
}

/// Whether a string is base64url without padding (the encoding of every JWS part).
pub fn is_b64url(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
