//! An enrollment and what it holds.

use std::fmt;
use std::time::SystemTime;

use rekam_core::{FingerPosition, GreyImage, MissingReason, PadGeometry, PenSample};

use crate::applicant::Applicant;

/// Where an enrollment is in the procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Opened.
    Created,
    /// The family card was checked.
    DocumentsChecked,
    /// SIAK confirmed the applicant; recording may start.
    IdentityVerified,
    /// Face, fingerprints and signature are recorded.
    Recorded,
    /// The recording reached the data centre.
    Sent,
    /// The card body is printed.
    Printed,
    /// The chip is encoded and verified.
    Encoded,
    /// The card was handed over.
    HandedOver,
    /// The send failed and a receipt was issued.
    ReceiptIssued,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Stage::Created => "CREATED",
            Stage::DocumentsChecked => "DOCUMENTS_CHECKED",
            Stage::IdentityVerified => "IDENTITY_VERIFIED",
            Stage::Recorded => "RECORDED",
            Stage::Sent => "SENT",
            Stage::Printed => "PRINTED",
            Stage::Encoded => "ENCODED",
            Stage::HandedOver => "HANDED_OVER",
            Stage::ReceiptIssued => "RECEIPT_ISSUED",
        };
        f.write_str(s)
    }
}

/// A step of the procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Create the enrollment.
    Create,
    /// Check the family card.
    CheckDocuments,
    /// Verify against SIAK.
    VerifyIdentity,
    /// Capture the face.
    CaptureFace,
    /// Capture the fingerprints.
    CaptureFingerprints,
    /// Capture the signature.
    CaptureSignature,
    /// Close the recording.
    FinishRecording,
    /// Send to the data centre.
    Send,
    /// Issue a recording receipt.
    IssueReceipt,
    /// Print the card.
    Print,
    /// Encode the chip.
    Encode,
    /// Hand the card over.
    HandOver,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Step::Create => "create",
            Step::CheckDocuments => "check documents",
            Step::VerifyIdentity => "verify identity",
            Step::CaptureFace => "capture face",
            Step::CaptureFingerprints => "capture fingerprints",
            Step::CaptureSignature => "capture signature",
            Step::FinishRecording => "finish recording",
            Step::Send => "send",
            Step::IssueReceipt => "issue receipt",
            Step::Print => "print",
            Step::Encode => "encode",
            Step::HandOver => "hand over",
        };
        f.write_str(s)
    }
}

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    /// Started.
    Started,
    /// Running.
    Progress,
    /// Succeeded.
    Succeeded,
    /// Failed; can be retried.
    Failed,
}

/// One entry of the history.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// The step.
    pub step: Step,
    /// Succeeded or Failed.
    pub status: StepStatus,
    /// When it ended.
    pub at: SystemTime,
    /// What happened.
    pub message: String,
}

/// The face photo.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceRecording {
    /// Full-resolution JPEG.
    pub jpeg: Vec<u8>,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// The portrait for the card and the chip: 240 x 320, JPEG, cropped to fill.
    pub portrait_jpeg: Vec<u8>,
}

/// One finger of the recording.
#[derive(Debug, Clone, PartialEq)]
pub struct FingerRecording {
    /// The finger.
    pub position: FingerPosition,
    /// Quality 0-100 (0 when missing).
    pub quality: u8,
    /// True when the quality asks for a recapture.
    pub recapture: bool,
    /// Why it is missing, when it is.
    pub missing: Option<MissingReason>,
    /// Its box in the slap (x, y, w, h), when found.
    pub bbox: Option<(u32, u32, u32, u32)>,
    /// The segmented fingertip, when found.
    pub image: Option<GreyImage>,
    /// Its minutiae, when found and extracted.
    pub template: Option<rekam_minutiae::Template>,
}

/// One slap of the 4-4-2 capture.
#[derive(Debug, Clone, PartialEq)]
pub struct SlapRecording {
    /// RightFour, LeftFour or BothThumbs.
    pub position: FingerPosition,
    /// The slap image, 500 ppi.
    pub image: GreyImage,
    /// Its fingers.
    pub fingers: Vec<FingerRecording>,
}

/// The signature.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureRecording {
    /// Raw pen samples.
    pub samples: Vec<PenSample>,
    /// The pad's writing area.
    pub geometry: PadGeometry,
    /// Rendered PNG.
    pub png: Vec<u8>,
}

/// Everything recorded for an enrollment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recording {
    /// The face photo.
    pub face: Option<FaceRecording>,
    /// The slaps (absent when every finger of the slap is missing).
    pub slaps: Vec<SlapRecording>,
    /// True once the fingerprint step ran.
    pub fingerprints_done: bool,
    /// Single fingers captured besides the slaps (whole image in `image`).
    pub singles: Vec<FingerRecording>,
    /// Comparisons the sequence check made.
    pub sequence_comparisons: u32,
    /// The signature.
    pub signature: Option<SignatureRecording>,
}

impl Recording {
    /// Every finger of every slap, in capture order.
    pub fn fingers(&self) -> impl Iterator<Item = &FingerRecording> {
        self.slaps.iter().flat_map(|s| s.fingers.iter())
    }
}

/// A recording receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Receipt number.
    pub number: String,
    /// When issued.
    pub issued_at: SystemTime,
    /// The first day the card can be collected.
    pub collect_from: crate::applicant::Date,
    /// Printable text.
    pub text: String,
}

/// An enrollment.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrollment {
    /// Id.
    pub id: String,
    /// Applicant.
    pub applicant: Applicant,
    /// Stage.
    pub stage: Stage,
    /// What was recorded, shared: a step that does not capture copies the enrollment
    /// without copying its images (captures write through `Arc::make_mut`).
    pub recording: std::sync::Arc<Recording>,
    /// History, oldest first.
    pub history: Vec<StepRecord>,
    /// SIAK's reference.
    pub siak_reference: Option<String>,
    /// True when the last send failed (a receipt may be issued).
    pub send_failed: bool,
    /// The data centre's reference.
    pub send_reference: Option<String>,
    /// The receipt.
    pub receipt: Option<Receipt>,
    /// The last print job.
    pub print_job_id: Option<String>,
    /// The encoded card's UID.
    pub card_uid: Option<Vec<u8>>,
    /// When created.
    pub created_at: SystemTime,
    /// The last failure, cleared by a success.
    pub last_error: Option<String>,
    /// Size of the package sent, in bytes.
    pub package_size: usize,
    /// Bytes per record type of the package sent.
    pub package_report: Option<String>,
}

/// A progress event.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrollmentEvent {
    /// The enrollment.
    pub enrollment_id: String,
    /// The step.
    pub step: Step,
    /// Its status.
    pub status: StepStatus,
    /// Progress 0-100.
    pub percent: u32,
    /// Message.
    pub message: String,
    /// The stage after the event.
    pub stage: Stage,
    /// When.
    pub at: SystemTime,
}
