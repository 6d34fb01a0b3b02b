//! What can go wrong in a step.

use rekam_core::DeviceError;

use crate::model::{Stage, Step};
use crate::services::ServiceError;

/// An error of the enrollment procedure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EnrollmentError {
    /// No enrollment with that id.
    #[error("no enrollment {0}")]
    NotFound(String),
    /// The applicant's data is malformed or inconsistent.
    #[error("invalid applicant data: {0}")]
    InvalidApplicant(String),
    /// The family card presented disagrees with the application.
    #[error("the family card number on the document ({found}) is not the applicant's ({expected})")]
    DocumentMismatch {
        /// The applicant's KK number.
        expected: String,
        /// What the document says.
        found: String,
    },
    /// The step is not allowed at this stage.
    #[error("{step} is not allowed at stage {stage}: {hint}")]
    OutOfOrder {
        /// The step asked.
        step: Step,
        /// The enrollment's stage.
        stage: Stage,
        /// What to do first.
        hint: String,
    },
    /// The recording is incomplete or not good enough to close.
    #[error("recording incomplete: {0}")]
    Incomplete(String),
    /// The fingers do not agree with each other: a wrong hand, or a finger placed twice.
    #[error("fingerprint sequence check failed: {0}")]
    Sequence(String),
    /// Another step of this enrollment is running.
    #[error("another step of enrollment {0} is running")]
    StepInProgress(String),
    /// A device failed.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// SIAK or the data centre failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// A biometric record could not be made from what was captured.
    #[error("could not build the biometric records: {0}")]
    Format(String),
}

impl From<rekam_biometrics::RecordError> for EnrollmentError {
    fn from(e: rekam_biometrics::RecordError) -> Self {
        EnrollmentError::Format(e.to_string())
    }
}

impl From<rekam_wsq::WsqError> for EnrollmentError {
    fn from(e: rekam_wsq::WsqError) -> Self {
        EnrollmentError::Format(format!("WSQ: {e}"))
    }
}
