//! Biometric data interchange records for KTP-el enrollment, written and parsed back.
//!
//! rekam records an applicant's fingerprints, face photo and signature; this crate turns them
//! into the byte formats that leave the station, and reads those bytes back (for checks, tests
//! and re-sending) with a clear [`RecordError`] for anything malformed — no parser here panics
//! on any input.
//!
//! * [`iso19794_4`]: ISO/IEC 19794-4:2005 finger image records (raw or WSQ/JPEG/JPEG 2000/PNG);
//! * [`iso19794_5`]: ISO/IEC 19794-5:2005 face image records (the ICAO DG2 payload);
//! * [`iso19794_6`]: ISO/IEC 19794-6:2011 iris image records (JPEG 2000, PNG or raw; the
//!   iris `bioValue` of MOSIP's SBI);
//! * [`signature`]: the dynamic signature as an ISO/IEC 19794-7:2007 time series, and the
//!   displayed signature image as ICAO 9303 DG7 for the chip;
//! * [`ansi_nist`]: the enrollment package, an ANSI/NIST-ITL 1-2011 transaction (Type-1, -2,
//!   -8, -10, -14) in traditional encoding, with a size report;
//! * [`image_info`]: reads format and size from JPEG, JPEG 2000, PNG and WSQ headers, so that
//!   record headers always agree with the images they carry.
//!
//! Records take images already compressed (WSQ from `rekam-wsq`, JPEG from the camera
//! pipeline, PNG or JPEG 2000 from an iris camera): compressing is not this crate's job, and a record never re-encodes what it wraps.
//! Minutiae records (ISO/IEC 19794-2) live in `rekam-minutiae`.
//!
//! ```
//! use rekam_biometrics::ansi_nist::{Date, Demographics, Sex, Transaction, TransactionHeader};
//!
//! # fn main() -> Result<(), rekam_biometrics::RecordError> {
//! let today = Date::new(2025, 3, 14).expect("a valid date");
//! let header = TransactionHeader::new("EKTP", today, "DUKCAPIL", "ID9171", "9171-0001");
//! let txn = Transaction::builder(header)
//!     .demographics(Demographics {
//!         nik: "9171054107900003".into(),
//!         kk_number: None,
//!         name: "SITI NURHALIZA".into(),
//!         birth_place: "SORONG".into(),
//!         birth_date: Date::new(1990, 7, 1).expect("a valid date"),
//!         sex: Sex::Female,
//!         address: None,
//!         extra: vec![],
//!     })
//!     // .fingerprint(..), .face(..), .signature(..)
//!     .build()?;
//! let bytes = txn.to_bytes()?;
//! assert_eq!(Transaction::parse(&bytes)?, txn);
//! assert_eq!(txn.size_report()?.total, bytes.len());
//! # Ok(())
//! # }
//! ```

pub mod ansi_nist;
mod bytes;
mod error;
pub mod image_info;
pub mod iso19794_4;
pub mod iso19794_5;
pub mod iso19794_6;
pub mod signature;

pub use error::{RecordError, Result};
