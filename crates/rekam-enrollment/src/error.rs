//! What can go wrong in a step.
//!
//! Messages are for people (the officer, a technician) and never repeat a NIK, a KK number
//! or a name; [`EnrollmentError::reason`] is for programs.

use rekam_core::{DeviceError, FingerPosition};

use crate::model::{Stage, Step};
use crate::services::ServiceError;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's path in the request, e.g. "applicant.nik".
    pub field: String,
    /// What is wrong, without repeating the value.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }
}

fn list(v: &[FieldViolation]) -> String {
    v.iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

/// An error of the enrollment procedure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EnrollmentError {
    /// No enrollment with that id.
    #[error("no enrollment {0}")]
    NotFound(String),
    /// Fields of the request are malformed or inconsistent.
    #[error("invalid request: {}", list(.0))]
    InvalidRequest(Vec<FieldViolation>),
    /// An open enrollment exists for the same NIK.
    #[error(
        "enrollment {enrollment_id} is already open for this NIK: continue it, or cancel it first"
    )]
    AlreadyExists {
        /// The open enrollment.
        enrollment_id: String,
    },
    /// A request id was reused for a different request.
    #[error("request_id was already used for a different request; use a new id for a new request")]
    RequestIdReused,
    /// The family card presented disagrees with the application.
    #[error("the family card number on the document is not the applicant's")]
    DocumentMismatch,
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
    /// The enrollment was cancelled.
    #[error("enrollment {0} was cancelled")]
    Cancelled(String),
    /// The recording is incomplete or not good enough to close.
    #[error("recording incomplete: {0}")]
    Incomplete(String),
    /// The fingers do not agree with each other: a wrong hand, or a finger placed twice.
    #[error("fingerprint sequence check failed: {0}")]
    Sequence(String),
    /// Fingers stayed below the minimum quality after every attempt, without a supervisor's
    /// override.
    #[error(
        "fingers below the minimum quality {min_quality} after every attempt: {}; recapture them, or a supervisor accepts them with a reason",
        .positions.iter().map(|p| crate::model::position_name(*p)).collect::<Vec<_>>().join(", ")
    )]
    FingerQualityTooLow {
        /// The fingers.
        positions: Vec<FingerPosition>,
        /// The threshold.
        min_quality: u8,
    },
    /// The fingerprint scanner is below what identity enrollment needs (its resolution,
    /// or the capture area it gives one finger) and the station does not accept a
    /// substandard scanner. Nothing was captured.
    #[error(
        "{device_id} is below what identity enrollment needs: {detail}. Use a scanner that meets it, or set the station's accept_substandard_scanner to record with this one anyway"
    )]
    ScannerBelowRequirement {
        /// The scanner.
        device_id: String,
        /// What it has and what is required, with the settings that set the requirement.
        detail: String,
    },
    /// The face photo failed the station's face checks; nothing was recorded. Each
    /// failed check carries its measured value and limits.
    #[error(
        "the face photo fails {}: {}; correct the pose or the light and retake the photo",
        if .failed.len() == 1 { "a check" } else { "checks" },
        .failed.iter().map(describe_check).collect::<Vec<_>>().join("; ")
    )]
    FaceChecksFailed {
        /// The checks that failed.
        failed: Vec<rekam_face::Check>,
    },
    /// Another step of this enrollment is running.
    #[error("another step of enrollment {0} is running")]
    StepInProgress(String),
    /// No step of this enrollment is running (nothing to cancel).
    #[error("no step of enrollment {0} is running")]
    NoStepRunning(String),
    /// No step operation with that id.
    #[error("no step operation {0}")]
    OperationNotFound(String),
    /// The step was cancelled (`CancelStep`).
    #[error("{0} was cancelled")]
    StepCancelled(String),
    /// The step ran past its deadline and was stopped.
    #[error("{0} ran past its deadline and was stopped")]
    StepTimedOut(String),
    /// A device failed.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// SIAK or the data centre failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The image asked for is not (yet) recorded.
    #[error("{0}")]
    MediaNotFound(String),
    /// The store failed (full, damaged, key problem, conflict).
    #[error(transparent)]
    Store(#[from] rekam_store::StoreError),
    /// A biometric record could not be made from what was captured.
    #[error("could not build the biometric records: {0}")]
    Format(String),
    /// The printed card, the chip and SIAK's record do not agree: the card may not be
    /// handed over.
    #[error(
        "the card may not be handed over: {}; have a supervisor check the applicant's data",
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    HandOverMismatch(Vec<crate::integrity::FieldDisagreement>),
    /// A recording receipt's QR content is not one this station signed.
    #[error("the receipt's QR code is not valid: {0}")]
    ReceiptToken(#[from] rekam_integrity::ReceiptTokenError),
    /// No enrollment has the receipt number.
    #[error("no enrollment has recording receipt {0}")]
    ReceiptNotFound(String),
}

impl EnrollmentError {
    /// A request with one invalid field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        EnrollmentError::InvalidRequest(vec![FieldViolation::new(field, description)])
    }

    /// A stable, machine-readable reason, documented in the API as `rekam.v1.ErrorReason`.
    pub fn reason(&self) -> &'static str {
        match self {
            EnrollmentError::NotFound(_) => "ENROLLMENT_NOT_FOUND",
            EnrollmentError::InvalidRequest(_) => "INVALID_REQUEST",
            EnrollmentError::AlreadyExists { .. } => "ENROLLMENT_EXISTS",
            EnrollmentError::RequestIdReused => "REQUEST_ID_REUSED",
            EnrollmentError::DocumentMismatch => "DOCUMENT_MISMATCH",
            EnrollmentError::OutOfOrder { .. } => "STEP_OUT_OF_ORDER",
            EnrollmentError::Cancelled(_) => "ENROLLMENT_CANCELLED",
            EnrollmentError::Incomplete(_) => "RECORDING_INCOMPLETE",
            EnrollmentError::Sequence(_) => "FINGER_SEQUENCE_MISMATCH",
            EnrollmentError::FingerQualityTooLow { .. } => "FINGER_QUALITY_TOO_LOW",
            // No reason of its own in rekam.v1.ErrorReason yet: the recording cannot be
            // made to the required quality with this scanner (metadata "device_id").
            EnrollmentError::ScannerBelowRequirement { .. } => "SCANNER_BELOW_REQUIREMENT",
            EnrollmentError::FaceChecksFailed { .. } => "FACE_CHECK_FAILED",
            EnrollmentError::StepInProgress(_) => "STEP_IN_PROGRESS",
            EnrollmentError::NoStepRunning(_) => "NO_STEP_RUNNING",
            EnrollmentError::OperationNotFound(_) => "OPERATION_NOT_FOUND",
            EnrollmentError::StepCancelled(_) => "CANCELLED",
            EnrollmentError::StepTimedOut(_) => "DEADLINE_EXCEEDED",
            EnrollmentError::Device(d) => d.reason(),
            EnrollmentError::Service(s) => s.reason(),
            EnrollmentError::Store(s) => s.reason(),
            EnrollmentError::MediaNotFound(_) => "MEDIA_NOT_FOUND",
            EnrollmentError::Format(_) => "FORMAT_ERROR",
            EnrollmentError::HandOverMismatch(_) => "HANDOVER_MISMATCH",
            EnrollmentError::ReceiptToken(rekam_integrity::ReceiptTokenError::Malformed(_)) => {
                "RECEIPT_MALFORMED"
            }
            EnrollmentError::ReceiptToken(_) => "RECEIPT_FORGED",
            EnrollmentError::ReceiptNotFound(_) => "RECEIPT_NOT_FOUND",
        }
    }

    /// Ids that help a program act on the error (never personal data), as
    /// `(key, value)` pairs.
    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        match self {
            EnrollmentError::NotFound(id)
            | EnrollmentError::Cancelled(id)
            | EnrollmentError::StepInProgress(id)
            | EnrollmentError::NoStepRunning(id) => vec![("enrollment_id", id.clone())],
            EnrollmentError::OperationNotFound(id) => vec![("operation_id", id.clone())],
            EnrollmentError::Service(crate::services::ServiceError::Duplicate {
                reason, ..
            }) => {
                vec![("duplicate_reason", reason.clone())]
            }
            EnrollmentError::AlreadyExists { enrollment_id } => {
                vec![("enrollment_id", enrollment_id.clone())]
            }
            EnrollmentError::OutOfOrder { step, stage, .. } => {
                vec![("step", step.to_string()), ("stage", stage.to_string())]
            }
            EnrollmentError::FingerQualityTooLow { positions, .. } => vec![(
                "positions",
                positions
                    .iter()
                    .map(|p| crate::model::position_name(*p))
                    .collect::<Vec<_>>()
                    .join(","),
            )],
            EnrollmentError::Device(DeviceError::Disconnected { device }) => {
                vec![("device_id", device.clone())]
            }
            EnrollmentError::ScannerBelowRequirement { device_id, .. } => {
                vec![("device_id", device_id.clone())]
            }
            EnrollmentError::FaceChecksFailed { failed } => vec![(
                "checks",
                failed
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            )],
            EnrollmentError::HandOverMismatch(off) => vec![(
                "fields",
                off.iter()
                    .map(|d| d.field.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            )],
            EnrollmentError::Service(crate::services::ServiceError::Mismatch {
                fields, ..
            }) => vec![("fields", fields.join(","))],
            EnrollmentError::ReceiptNotFound(number) => vec![("receipt_number", number.clone())],
            _ => Vec::new(),
        }
    }
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

/// A failed face check for people: `head roll from level: 7.9 deg (needs -5 … 5)`.
fn describe_check(c: &rekam_face::Check) -> String {
    let value = match c.value {
        Some(v) if v.fract() == 0.0 => format!("{v}"),
        Some(v) => format!("{v:.2}"),
        None => "not measurable".to_string(),
    };
    format!(
        "{} ({}): {value} {} (needs {})",
        c.description,
        c.name,
        c.unit,
        c.limit_text()
    )
}
