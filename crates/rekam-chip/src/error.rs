//! The errors of the chip profile, worded for the technician who has to act on them.

/// Everything that can go wrong building, signing or reading the chip's files.
#[derive(Debug, thiserror::Error)]
pub enum ChipError {
    /// A key file could not be read (not PEM, not PKCS#8, not an EC P-256 key).
    #[error(
        "cannot read the {what} private key: {detail} (expected a PKCS#8 PEM file holding an ECDSA P-256 key, \"-----BEGIN PRIVATE KEY-----\")"
    )]
    Key {
        /// Which key: "issuer CA" or "document signer".
        what: &'static str,
        /// What the decoder said.
        detail: String,
    },
    /// A certificate could not be read or does not have the expected form.
    #[error("cannot read the {what} certificate: {detail}")]
    Certificate {
        /// Which certificate.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A private key and a certificate were loaded together but do not belong together.
    #[error(
        "the {what} private key does not match the public key in its certificate: the key file and the certificate file come from different key pairs"
    )]
    KeyMismatch {
        /// Which key: "issuer CA" or "document signer".
        what: &'static str,
    },
    /// A name (common name, country) cannot go into a certificate.
    #[error("invalid {what} {value:?}: {detail}")]
    InvalidName {
        /// Which part of the name.
        what: &'static str,
        /// The value given.
        value: String,
        /// Why it was refused.
        detail: String,
    },
    /// A validity period that cannot be used.
    #[error("invalid validity: {0}")]
    Validity(String),
    /// The document signer certificate would outlive or precede the CA that issues it.
    #[error(
        "the issuer CA certificate is not valid now ({detail}): renew the CA before issuing document signers"
    )]
    IssuerExpired {
        /// The CA's validity and the current time.
        detail: String,
    },
    /// Encoding an ASN.1 structure failed (a bug or an absurd size).
    #[error("cannot encode the {what}: {source}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's error.
        source: der::Error,
    },
    /// Signing failed.
    #[error("cannot sign the {what}: {detail}")]
    Signing {
        /// What was being signed.
        what: &'static str,
        /// The signer's error.
        detail: String,
    },
    /// A data group number outside 1..=16.
    #[error("DG{0} does not exist: ICAO 9303 data groups are numbered 1 to 16")]
    DataGroupNumber(u8),
    /// A data group given twice to the security object.
    #[error("DG{0} is given twice: each data group is hashed once in the security object")]
    DuplicateDataGroup(u8),
    /// Fewer than two data groups for the security object.
    #[error(
        "the security object needs at least two data groups (ICAO 9303 requires DG1 and DG2), {0} given"
    )]
    TooFewDataGroups(usize),
    /// EF.SOD could not be read.
    #[error("EF.SOD is not a readable security object: {0}")]
    Sod(String),
    /// EF.COM could not be read or built.
    #[error("EF.COM is not valid: {0}")]
    EfCom(String),
    /// The files do not fit the chip.
    #[error(
        "the chip files need {needed} bytes ({files} files with {overhead} bytes of file overhead each) but the chip holds {capacity}: {overflow} bytes too many; the largest file is {largest_name} (FID {largest_fid:04X}, {largest_len} bytes): reduce it (e.g. a smaller face image or fewer fingerprints) or use a chip with more memory"
    )]
    CapacityExceeded {
        /// Bytes needed, overhead included.
        needed: usize,
        /// The chip's capacity.
        capacity: usize,
        /// needed - capacity.
        overflow: usize,
        /// How many files.
        files: usize,
        /// The per-file overhead counted.
        overhead: usize,
        /// The FID of the largest file.
        largest_fid: u16,
        /// Its name ("DG2", "EF.SOD", ...).
        largest_name: String,
        /// Its size.
        largest_len: usize,
    },
}
