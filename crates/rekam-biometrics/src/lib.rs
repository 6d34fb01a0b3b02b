//! Biometric data interchange records for KTP-el enrollment, written and parsed back.
//!
//! rekam records an applicant's fingerprints, face photo and signature; this crate turns them
//! into the byte formats that leave the station, and reads those bytes back (for checks, tests
//! and re-sending) with a clear [`RecordError`] for anything malformed — no parser here panics
//! on any input.
//!
//! * [`iso19794_4`]: ISO/IEC 19794-4:2005 finger image records (raw or WSQ/JPEG/JPEG 2000/PNG);
//! * [`iso19794_5`]: ISO/IEC 19794-5:2005 face image records (the ICAO DG2 payload);
//! * [`signature`]: the dynamic signature as an ISO/IEC 19794-7:2007 time series, and the
//!   displayed signature image as ICAO 9303 DG7 for the chip;
//! * [`ansi_nist`]: the enrollment package, an ANSI/NIST-ITL 1-2011 transaction (Type-1, -2,
//!   -8, -10, -14) in traditional encoding, with a size report;
//! * [`image_info`]: reads format and size from JPEG, JPEG 2000, PNG and WSQ headers, so that
//!   record headers always agree with the images they carry.
//!
//! Records take images already compressed (WSQ from `rekam-wsq`, JPEG from the camera
//! pipeline): compressing is not this crate's job, and a record never re-encodes what it wraps.
//! Minutiae records (ISO/IEC 19794-2) live in `rekam-minutiae`.

pub mod ansi_nist;
mod bytes;
mod error;
pub mod image_info;
pub mod iso19794_4;
pub mod iso19794_5;
pub mod signature;

pub use error::{RecordError, Result};
