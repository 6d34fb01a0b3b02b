//! The KTP-el recording procedure of a civil registry office, as rekam runs it: an
//! enrollment moves through the steps of the service standard (check the family card,
//! verify against SIAK, record face, fingerprints and signature, send to the data
//! centre, print, encode, hand over — or issue a recording receipt when the send fails)
//! and each step drives the station's devices through the `rekam-core` traits only.
//!
//! Steps out of order are refused; a step that fails on a device fault keeps everything
//! recorded before it and can be retried. SIAK and the data centre are traits with
//! simulators whose outcomes can be set at run time; the package for the data centre is
//! an ANSI/NIST-ITL 1-2011 transaction and the chip's files are ISO/IEC 19794 records.
//! Every step's outcome is committed to the store (`rekam-store`) before the step
//! answers; open enrollments are also held in memory, finished ones only on disk.
//!
//! Fingerprints come from a 4-4-2 slap scanner (three slaps, segmented into the ten
//! fingers, and a sequence check of any single fingers against them) or from a
//! single-finger scanner (the ten fingers one by one; no slaps, so no sequence check). A
//! scanner below the resolution or single-finger capture area identity enrollment needs
//! is refused before it is used unless the station accepts it
//! ([`PipelineConfig::accept_substandard_scanner`]).

mod applicant;
pub mod card;
pub mod chip;
pub mod cpu;
mod delivery;
mod error;
pub mod formats;
pub mod integrity;
pub mod liveview;
pub mod media;
mod model;
mod nik;
mod persist;
mod pipeline;
pub mod procedure;
pub mod report;
mod services;
pub mod siak;

pub use applicant::{
    Applicant, BloodType, Citizenship, Date, MaritalStatus, Religion, TEXT_LIMITS, TextLimit,
    check_text, is_invisible_control,
};
pub use error::{EnrollmentError, FieldViolation};
pub use model::*;
pub use nik::{Nik, Sex, check_kk};
pub use pipeline::{
    CardReason, DEFAULT_FINGERPRINT_MIN_PPI, FAP10_MIN_AREA_MM, Pipeline, PipelineConfig, Progress,
    ReceiptDocument, SignatureRenderer, Subscription,
};
pub use services::{
    DataCentre, DataCentreSim, Remote, ServiceError, Siak, SiakConfirmation, SiakSim,
};
