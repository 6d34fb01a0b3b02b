//! The KTP-el chip profile, modelled on ICAO Doc 9303 parts 10 and 11: the application
//! selected by its AID, the EF.COM index, the data groups, and EF.SOD, the security object
//! signed by a document signer whose certificate chains to the issuer CA; and the check a
//! verifier makes of a chip read back.
//!
//! The crate is pure data: it builds and reads the files' bytes, keys and certificates, and
//! never talks to a card (the encoder does, through `rekam-iso7816`).
//!
//! # Why ICAO 9303
//!
//! The file layout of the Indonesian KTP-el chip is not public. ICAO Doc 9303 (the eMRTD
//! logical data structure, LDS1, and its passive authentication) is the open, widely
//! implemented model for exactly this job: biographic and biometric data groups on a
//! contactless chip, hashed and signed by the issuer. rekam writes its chips in that layout so
//! that any ICAO-capable reader and tool can read and verify them, and so that the real
//! KTP-el layout, when it is available, is a change of constants, not of design.
//!
//! # The layout
//!
//! | item | value |
//! |---|---|
//! | application | AID `A0 00 00 02 47 10 01` ([`profile::ICAO_LDS1_AID`], ICAO's LDS1 eMRTD application: ICAO readers select it without configuration) |
//! | capacity | 8 KiB by default ([`Profile::capacity`]; 32 KB cards exist), checked by [`Profile::check_fits`] with 32 bytes of overhead per file |
//! | EF.COM | FID `01 1E`, SFI `1E`, tag `60` |
//! | DG1 (personal data) | FID `01 01`, SFI `01`, tag `61` |
//! | DG2 (face) | FID `01 02`, SFI `02`, tag `75` |
//! | DG3 (fingerprints) | FID `01 03`, SFI `03`, tag `63` |
//! | DG7 (signature image) | FID `01 07`, SFI `07`, tag `67` |
//! | EF.SOD | FID `01 1D`, SFI `1D`, tag `77` |
//!
//! DG *n* has FID `01 0n` and SFI *n* for all sixteen data groups
//! ([`profile::dg_number_of_fid`], [`profile::dg_tag`]); rekam writes DG1, DG2, DG3 and DG7
//! ([`profile::KTP_DATA_GROUPS`]). The data groups' own content (the biometric templates) is
//! the business of the crates that encode them; here a data group is its file's bytes.
//!
//! **EF.COM** ([`ef_com`], [`parse_ef_com`]): `60 L { 5F01 04 "0108" (LDS version aabb),
//! 5F36 06 "040000" (Unicode version aabbcc), 5C n <the data group tags> }`.
//!
//! **EF.SOD** ([`sign_sod`], [`read_sod`]): `77 L` around a DER CMS ContentInfo (RFC 5652)
//! of type id-signedData holding a SignedData, version 3:
//!
//! * `digestAlgorithms`: { id-sha256 };
//! * `encapContentInfo`: eContentType id-icao-mrtd-security-ldsSecurityObject
//!   (2.23.136.1.1.1), eContent the DER [`sod::LdsSecurityObject`] { version 0, hashAlgorithm
//!   id-sha256, dataGroupHashValues SEQUENCE OF { dataGroupNumber, SHA-256 of the data
//!   group's whole file } in ascending order };
//! * `certificates`: the document signer certificate;
//! * one `SignerInfo`, version 1: sid issuerAndSerialNumber of the DS certificate,
//!   digestAlgorithm id-sha256, signed attributes content-type (= the eContentType),
//!   signing-time and message-digest (= SHA-256 of the eContent), signatureAlgorithm
//!   ecdsa-with-SHA256, the signature over the DER SET OF signed attributes.
//!
//! **PKI** ([`pki`]): two levels, as ICAO's CSCA and document signers. The issuer CA is
//! self-signed (`C=ID, CN=...`, basicConstraints CA with path length 0, keyUsage keyCertSign
//! and cRLSign, subject key identifier); a document signer certificate is issued by it
//! (`C=<the CA's country>, CN=...`, keyUsage digitalSignature only, authority and subject key
//! identifiers, no basicConstraints) and never outlives it. Keys are ECDSA P-256 and every
//! signature is ecdsa-with-SHA256: the smallest signatures and keys 9303-12 allows, fast to
//! verify on the station, and what common chips support. Keys are kept as PKCS#8 PEM files,
//! certificates as PEM.
//!
//! **Verification** ([`verify_chip`]): ICAO 9303-11's passive authentication, reported per
//! item in a [`Verdict`] a technician can read.

mod com;
mod error;
pub mod pki;
pub mod profile;
pub mod sod;
mod verify;

pub use com::{EfCom, TAG_LDS_VERSION, TAG_TAG_LIST, TAG_UNICODE_VERSION, ef_com, parse_ef_com};
pub use error::ChipError;
pub use pki::{
    DocumentSigner, IssuerCa, cert_from_pem, cert_subject, cert_to_pem, generate_issuer_ca,
};
pub use profile::Profile;
pub use sod::{SecurityObject, read_sod, sign_sod, sod_content_info};
pub use verify::{Check, ComStatus, DgStatus, SodStatus, Verdict, verify_chip, verify_chip_at};
