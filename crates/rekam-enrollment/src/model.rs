//! An enrollment and what it holds.

use std::fmt;
use std::time::SystemTime;

use rekam_core::{FingerPosition, GreyImage, MissingReason, PadGeometry, PenSample};

use crate::applicant::Applicant;

/// Where an enrollment is in the procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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
    /// The enrollment was cancelled (with a reason); nothing more can be done with it.
    Cancelled,
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
            Stage::Cancelled => "CANCELLED",
        };
        f.write_str(s)
    }
}

/// A step of the procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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
    /// Cancel the enrollment.
    Cancel,
    /// Correct the applicant's data before sending.
    UpdateApplicant,
    /// Print the card again.
    Reprint,
    /// Encode the chip again.
    Reencode,
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
            Step::Cancel => "cancel",
            Step::UpdateApplicant => "update applicant",
            Step::Reprint => "reprint",
            Step::Reencode => "re-encode",
        };
        f.write_str(s)
    }
}

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StepStatus {
    /// Started.
    Started,
    /// Running.
    Progress,
    /// Succeeded.
    Succeeded,
    /// Failed; can be retried.
    Failed,
    /// Cancelled by the officer (`CancelStep`); can be retried.
    Cancelled,
    /// Ran past its deadline and was stopped; can be retried.
    TimedOut,
}

/// One entry of the history: a step that ended, whatever its outcome.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepRecord {
    /// The step.
    pub step: Step,
    /// Succeeded, Failed, Cancelled or TimedOut.
    pub status: StepStatus,
    /// When it ended.
    pub at: SystemTime,
    /// What happened.
    pub message: String,
    /// The operation that ran it (none for steps that are not operations).
    pub operation_id: Option<String>,
    /// When it started.
    pub started_at: Option<SystemTime>,
    /// The devices it used.
    pub device_ids: Vec<String>,
    /// The print job it submitted, if any.
    pub job_id: Option<String>,
    /// True when a card blank was used and not finished: the card is spoiled.
    pub card_spoiled: bool,
    /// The error's reason, when it did not succeed.
    pub error_reason: Option<String>,
    /// The client's request id, when given.
    pub request_id: Option<String>,
    /// The officer's reason (a cancellation).
    pub note: Option<String>,
    /// Who asked for the step: the signed-in operator's id, or `local:<uid>` for the
    /// station's local user (none for what no one asked for, e.g. an interrupted step).
    pub operator: Option<String>,
}

impl StepRecord {
    /// A record of a step that ended now, with nothing but its outcome and message.
    pub fn new(step: Step, status: StepStatus, message: impl Into<String>) -> Self {
        StepRecord {
            step,
            status,
            at: SystemTime::now(),
            message: message.into(),
            operation_id: None,
            started_at: None,
            device_ids: Vec::new(),
            job_id: None,
            card_spoiled: false,
            error_reason: None,
            request_id: None,
            note: None,
            operator: None,
        }
    }
}

/// Where a step operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationState {
    /// Running.
    Running,
    /// Ended with success.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Cancelled.
    Cancelled,
    /// Stopped at its deadline.
    TimedOut,
}

impl OperationState {
    /// True once the operation has ended.
    pub fn is_final(self) -> bool {
        self != OperationState::Running
    }
}

/// A step running on the station as a server-side operation: it keeps running when the
/// client that asked for it goes away, can be watched and cancelled, and leaves a history
/// entry whatever its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// Its id (a ULID).
    pub id: String,
    /// The enrollment.
    pub enrollment_id: String,
    /// The step.
    pub step: Step,
    /// Where it is.
    pub state: OperationState,
    /// Progress 0-100.
    pub percent: u32,
    /// The latest progress message, or the outcome.
    pub message: String,
    /// The client's request id, when given.
    pub request_id: Option<String>,
    /// The devices it uses.
    pub device_ids: Vec<String>,
    /// The print job it submitted, if any.
    pub job_id: Option<String>,
    /// True once a card blank was fed into the printer.
    pub card_used: bool,
    /// True when it ended without finishing a card it had used.
    pub card_spoiled: bool,
    /// When it started.
    pub started_at: SystemTime,
    /// When it ended.
    pub ended_at: Option<SystemTime>,
    /// The error's reason, when it did not succeed.
    pub error_reason: Option<&'static str>,
    /// The finger position a fingerprint step captures now.
    pub position: Option<FingerPosition>,
    /// Its revision: 1 when it starts, one more at each change (so a watch can resume
    /// after the last state it saw).
    pub sequence: u64,
    /// Who asked for it (see [`StepRecord::operator`]).
    pub operator: Option<String>,
}

/// A client's request id with a fingerprint of the request it came with (AIP-155): the
/// same id with the same request returns the first answer; with another request it is an
/// error.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestKey {
    /// The client's id.
    pub id: String,
    /// A hash of the request without its id.
    pub fingerprint: [u8; 32],
}

/// What `Pipeline::list` returns: a filter and a page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Only enrollments at this stage.
    pub stage: Option<Stage>,
    /// Only enrollments created on this station-local day.
    pub created_on: Option<crate::applicant::Date>,
    /// Only the enrollments of this NIK.
    pub nik: Option<String>,
    /// Only the enrollment with this receipt number.
    pub receipt_number: Option<String>,
    /// Start after this enrollment id (ids sort by creation time; the list runs newest
    /// first, so this continues with older ones).
    pub before_id: Option<String>,
    /// At most this many (at least 1).
    pub limit: usize,
}

/// One page of enrollments.
#[derive(Debug, Clone)]
pub struct ListPage {
    /// The enrollments, newest first.
    pub enrollments: Vec<Enrollment>,
    /// True when more match after the last one.
    pub more: bool,
    /// How many match the filter in all.
    pub total: usize,
}

/// How a step is to run.
#[derive(Debug, Clone, Default)]
pub struct StepOptions {
    /// The client's request id, for safe retries.
    pub request: Option<RequestKey>,
    /// The device to use (its id); the first of its class when `None`.
    pub device_id: Option<String>,
    /// When the step must have ended; it is stopped then and recorded as timed out.
    pub deadline: Option<std::time::Instant>,
    /// The officer's reason, kept in the history entry (a cancellation).
    pub note: Option<String>,
    /// Who asks: the signed-in operator's id, or `local:<uid>`; kept in the history entry.
    pub operator: Option<String>,
}

/// The face photo.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FaceRecording {
    /// Full-resolution JPEG.
    #[serde(with = "serde_bytes")]
    pub jpeg: Vec<u8>,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// The portrait for the card and the chip: 240 x 320, JPEG. The ISO/IEC 19794-5 token
    /// image (eyes level at the standard's places) when the station's face checks found
    /// the eyes ([`FaceAnalysis::token`]); otherwise the photo's centre, cropped to fill.
    #[serde(with = "serde_bytes")]
    pub portrait_jpeg: Vec<u8>,
    /// What the station's face checks measured on the photo; `None` when the station runs
    /// none (no face models configured) or for photos recorded before it did.
    pub analysis: Option<FaceAnalysis>,
}

impl FaceRecording {
    /// True when the portrait is the ISO/IEC 19794-5 token image.
    pub fn is_token(&self) -> bool {
        self.analysis.as_ref().is_some_and(|a| a.token)
    }
}

/// The face checks of a recorded photo (`rekam-face`): every one passed, or the photo
/// would not have been recorded.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FaceAnalysis {
    /// Each check with its measured value and limits.
    pub checks: Vec<rekam_face::Check>,
    /// The eye centres found in the photo (subject's left and right).
    pub eyes: Option<rekam_face::Eyes>,
    /// True when the portrait is the 19794-5 token image (so its eye centres are those of
    /// [`rekam_face::TokenGeometry`] at its size).
    pub token: bool,
}

/// One finger of the recording.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// A supervisor's reason for accepting it below the minimum quality (or missing).
    pub override_reason: Option<String>,
    /// How many captures of its position the step made (the best one is kept).
    pub attempts: u32,
}

/// A supervisor's acceptance of a finger that cannot reach the minimum quality, or of a
/// missing finger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerOverride {
    /// The finger.
    pub position: FingerPosition,
    /// Why, for the history.
    pub reason: String,
    /// Who accepted it (the supervisor's id or name as the station knows them).
    pub supervisor: String,
}

/// How the fingerprint step captures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FingerprintPlan {
    /// The positions to capture now (slaps, or single fingers captured alone); empty =
    /// every slap with a finger present, then `singles`; on a single-finger scanner (one
    /// whose positions are known and include no slap), every finger present in turn,
    /// right thumb to left little. A slap asked of a single-finger scanner is refused.
    pub positions: Vec<FingerPosition>,
    /// Fingers that are missing (each needs an override with a reason).
    pub missing: Vec<rekam_core::MissingFinger>,
    /// Single fingers to capture after the slaps (when `positions` is empty); ignored on
    /// a single-finger scanner, which captures every finger singly anyway.
    pub singles: Vec<FingerPosition>,
    /// The minimum quality 0-100 of every finger (default: the station's).
    pub min_quality: Option<u8>,
    /// Captures of a position, at most, to reach it (default: the station's).
    pub max_attempts: Option<u32>,
    /// How long the applicant may take at one position (default: the station's).
    pub position_timeout: Option<std::time::Duration>,
    /// Fingers a supervisor accepts below the minimum quality, or missing.
    pub overrides: Vec<FingerOverride>,
}

/// A finger position's stable name, as the API spells it without its prefix
/// (`RIGHT_FOUR`, `LEFT_INDEX`…).
pub fn position_name(p: FingerPosition) -> &'static str {
    use FingerPosition::*;
    match p {
        RightThumb => "RIGHT_THUMB",
        RightIndex => "RIGHT_INDEX",
        RightMiddle => "RIGHT_MIDDLE",
        RightRing => "RIGHT_RING",
        RightLittle => "RIGHT_LITTLE",
        LeftThumb => "LEFT_THUMB",
        LeftIndex => "LEFT_INDEX",
        LeftMiddle => "LEFT_MIDDLE",
        LeftRing => "LEFT_RING",
        LeftLittle => "LEFT_LITTLE",
        RightFour => "RIGHT_FOUR",
        LeftFour => "LEFT_FOUR",
        BothThumbs => "BOTH_THUMBS",
    }
}

/// The prompt code of a position: `PLACE_<POSITION>` at the first attempt,
/// `RECAPTURE_<POSITION>` after.
pub fn prompt_code(p: FingerPosition, attempt: u32) -> &'static str {
    use FingerPosition::*;
    let first = attempt <= 1;
    macro_rules! codes {
        ($($pos:ident => $place:literal, $again:literal;)*) => {
            match p { $($pos => if first { $place } else { $again },)* }
        };
    }
    codes! {
        RightThumb => "PLACE_RIGHT_THUMB", "RECAPTURE_RIGHT_THUMB";
        RightIndex => "PLACE_RIGHT_INDEX", "RECAPTURE_RIGHT_INDEX";
        RightMiddle => "PLACE_RIGHT_MIDDLE", "RECAPTURE_RIGHT_MIDDLE";
        RightRing => "PLACE_RIGHT_RING", "RECAPTURE_RIGHT_RING";
        RightLittle => "PLACE_RIGHT_LITTLE", "RECAPTURE_RIGHT_LITTLE";
        LeftThumb => "PLACE_LEFT_THUMB", "RECAPTURE_LEFT_THUMB";
        LeftIndex => "PLACE_LEFT_INDEX", "RECAPTURE_LEFT_INDEX";
        LeftMiddle => "PLACE_LEFT_MIDDLE", "RECAPTURE_LEFT_MIDDLE";
        LeftRing => "PLACE_LEFT_RING", "RECAPTURE_LEFT_RING";
        LeftLittle => "PLACE_LEFT_LITTLE", "RECAPTURE_LEFT_LITTLE";
        RightFour => "PLACE_RIGHT_FOUR", "RECAPTURE_RIGHT_FOUR";
        LeftFour => "PLACE_LEFT_FOUR", "RECAPTURE_LEFT_FOUR";
        BothThumbs => "PLACE_BOTH_THUMBS", "RECAPTURE_BOTH_THUMBS";
    }
}

/// What an event asks of the applicant at the scanner, as structured fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prompt {
    /// The position being captured.
    pub position: FingerPosition,
    /// A stable code: `PLACE_<POSITION>` (e.g. `PLACE_RIGHT_FOUR`), or
    /// `RECAPTURE_<POSITION>` for a later attempt.
    pub code: &'static str,
    /// The attempt at this position, from 1.
    pub attempt: u32,
}

/// One slap of the 4-4-2 capture.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SlapRecording {
    /// RightFour, LeftFour or BothThumbs.
    pub position: FingerPosition,
    /// The slap image, 500 ppi.
    pub image: GreyImage,
    /// Its fingers.
    pub fingers: Vec<FingerRecording>,
}

/// The signature.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SignatureRecording {
    /// Raw pen samples.
    pub samples: Vec<PenSample>,
    /// The pad's writing area.
    pub geometry: PadGeometry,
    /// Rendered PNG.
    #[serde(with = "serde_bytes")]
    pub png: Vec<u8>,
}

/// Everything recorded for an enrollment.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Recording {
    /// The face photo.
    pub face: Option<FaceRecording>,
    /// The slaps (absent when every finger of the slap is missing).
    pub slaps: Vec<SlapRecording>,
    /// The fingers declared missing and so not captured, each with its reason and
    /// override: on a slap scanner the fingers of slaps wholly declared missing; on a
    /// single-finger scanner every finger declared missing.
    pub absent: Vec<FingerRecording>,
    /// True once each of the ten fingers is recorded in a slap, as a single finger or
    /// absent (see [`Recording::fingers_lacking`]).
    pub fingerprints_done: bool,
    /// Single fingers captured alone (whole image in `image`): besides the slaps on a slap
    /// scanner, or every finger present on a single-finger scanner.
    pub singles: Vec<FingerRecording>,
    /// Comparisons the sequence check made.
    pub sequence_comparisons: u32,
    /// The signature.
    pub signature: Option<SignatureRecording>,
}

impl Recording {
    /// Every finger of every slap, in capture order, then the fingers of slaps wholly
    /// declared missing.
    pub fn fingers(&self) -> impl Iterator<Item = &FingerRecording> {
        self.slaps
            .iter()
            .flat_map(|s| s.fingers.iter())
            .chain(self.absent.iter())
    }

    /// The fingers not recorded yet, right thumb to left little: each of the ten must be
    /// in a recorded slap (there present, or declared missing), captured as a single
    /// finger, or declared absent before the recording can close, whichever scanner took
    /// them (a 4-4-2 slap scanner or a single-finger one).
    pub fn fingers_lacking(&self) -> Vec<FingerPosition> {
        FingerPosition::SINGLE
            .into_iter()
            .filter(|f| {
                !self
                    .slaps
                    .iter()
                    .any(|s| s.fingers.iter().any(|x| x.position == *f))
                    && !self.singles.iter().any(|x| x.position == *f)
                    && !self.absent.iter().any(|x| x.position == *f)
            })
            .collect()
    }

    /// The slaps with a finger still lacking ([`Recording::fingers_lacking`]): on a slap
    /// scanner, the slaps neither recorded nor wholly declared missing, which the
    /// fingerprint step still has to capture before the recording can close.
    pub fn slaps_lacking(&self) -> Vec<FingerPosition> {
        let lacking = self.fingers_lacking();
        FingerPosition::SLAPS
            .into_iter()
            .filter(|slap| slap.fingers().iter().any(|f| lacking.contains(f)))
            .collect()
    }
}

/// A recording receipt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// The step running now, if any (filled in when the enrollment is read).
    #[serde(skip)]
    pub running: Option<Operation>,
    /// Why it was cancelled, once it is.
    pub cancel_reason: Option<String>,
    /// True once the applicant's data and biometrics were wiped after the retention
    /// period: what is left is the minimal record of ids, times and outcomes.
    #[serde(default)]
    pub wiped: bool,
    /// Where the recording's package is on its way to the data centre (filled in when
    /// the enrollment is read).
    #[serde(skip)]
    pub delivery: Option<DeliveryView>,
    /// What SIAK answered at the last verification (match, mismatch with the fields that
    /// differ, not registered).
    pub siak: Option<SiakCheck>,
    /// Every artefact of the enrollment (captures, the package, the card images printed,
    /// the chip's files) in one hash chain signed by the station (`rekam-integrity`).
    pub chain: Vec<rekam_integrity::ChainEntry>,
    /// The fields printed on the card (label, value), as the last print sent them.
    pub printed_fields: Option<Vec<(String, String)>>,
    /// The chip's demographic fields (label, value), as read back after the last encode.
    pub chip_fields: Option<Vec<(String, String)>>,
    /// The content of the recording receipt's QR code: its number signed by the station.
    pub receipt_qr: Option<String>,
}

/// SIAK's answer to a verification, kept on the enrollment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SiakCheck {
    /// The verdict.
    pub verdict: SiakVerdict,
    /// SIAK's reference for the check, when it gave one.
    pub reference: Option<String>,
    /// When SIAK answered.
    pub at: SystemTime,
    /// SIAK's record of the resident as the card's fields (label, value), when registered:
    /// the third party of the check before the hand-over.
    pub record: Option<Vec<(String, String)>>,
}

/// What SIAK said of the applicant's data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SiakVerdict {
    /// Registered, and every field agrees.
    Match,
    /// Registered, but these fields (the applicant's field names) differ.
    Mismatch(Vec<String>),
    /// No resident has the NIK.
    NotRegistered,
}

/// Where a recording's package is on its way to the data centre, and what the data centre
/// answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryView {
    /// The package's size in bytes.
    pub size: u64,
    /// When it was queued (the recording was finished).
    pub queued_at: SystemTime,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// The last attempt.
    pub last_attempt_at: Option<SystemTime>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the outbox tries next (none once delivered).
    pub next_attempt_at: Option<SystemTime>,
    /// When the receiver confirmed it holds the package.
    pub delivered_at: Option<SystemTime>,
    /// The data centre's reference, once it answered "received".
    pub received_reference: Option<String>,
    /// The reference of its "print-ready" answer: the card may be printed.
    pub print_ready_reference: Option<String>,
    /// Its "duplicate" answer (reason, detail): printing is blocked.
    pub duplicate: Option<(String, String)>,
}

impl Recording {
    /// A copy with what a summary needs (sizes, qualities, counts) but without images,
    /// templates or pen samples' renderings: cheap to keep, e.g. as a remembered answer.
    pub fn without_images(&self) -> Recording {
        let finger = |f: &FingerRecording| FingerRecording {
            image: None,
            template: None,
            ..f.clone()
        };
        Recording {
            face: self.face.as_ref().map(|f| FaceRecording {
                jpeg: Vec::new(),
                width: f.width,
                height: f.height,
                portrait_jpeg: Vec::new(),
                analysis: f.analysis.clone(),
            }),
            slaps: self
                .slaps
                .iter()
                .map(|s| SlapRecording {
                    position: s.position,
                    image: GreyImage {
                        width: 0,
                        height: 0,
                        ppi: s.image.ppi,
                        pixels: Vec::new(),
                    },
                    fingers: s.fingers.iter().map(finger).collect(),
                })
                .collect(),
            absent: self.absent.clone(),
            fingerprints_done: self.fingerprints_done,
            singles: self.singles.iter().map(finger).collect(),
            sequence_comparisons: self.sequence_comparisons,
            signature: self.signature.as_ref().map(|s| SignatureRecording {
                samples: s.samples.clone(),
                geometry: s.geometry,
                png: Vec::new(),
            }),
        }
    }
}

impl Enrollment {
    /// A copy whose recording has no images (see [`Recording::without_images`]).
    pub fn without_images(&self) -> Enrollment {
        Enrollment {
            recording: std::sync::Arc::new(self.recording.without_images()),
            ..self.clone()
        }
    }
}

/// A progress event.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrollmentEvent {
    /// Its place in the station's event log: 1, 2, 3… over every enrollment, so a watch
    /// can resume after the last one it saw.
    pub sequence: u64,
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
    /// What the applicant is asked to do at the scanner, for fingerprint progress.
    pub prompt: Option<Prompt>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finger(position: FingerPosition, missing: Option<MissingReason>) -> FingerRecording {
        FingerRecording {
            position,
            quality: if missing.is_some() { 0 } else { 60 },
            recapture: false,
            missing,
            bbox: None,
            image: None,
            template: None,
            override_reason: missing.map(|_| "seen (supervisor SPV-1)".to_string()),
            attempts: u32::from(missing.is_none()),
        }
    }

    fn slap(position: FingerPosition) -> SlapRecording {
        SlapRecording {
            position,
            image: GreyImage {
                width: 0,
                height: 0,
                ppi: 500,
                pixels: Vec::new(),
            },
            fingers: position
                .fingers()
                .into_iter()
                .map(|f| finger(f, None))
                .collect(),
        }
    }

    #[test]
    fn every_slap_is_recorded_or_wholly_declared_missing_before_the_set_is_complete() {
        use FingerPosition::*;
        let mut r = Recording::default();
        assert_eq!(r.slaps_lacking(), FingerPosition::SLAPS.to_vec());
        r.slaps.push(slap(RightFour));
        assert_eq!(r.slaps_lacking(), vec![LeftFour, BothThumbs]);
        r.slaps.push(slap(LeftFour));
        // One thumb declared missing is not the whole slap.
        r.absent
            .push(finger(LeftThumb, Some(MissingReason::Amputated)));
        assert_eq!(r.slaps_lacking(), vec![BothThumbs]);
        r.absent
            .push(finger(RightThumb, Some(MissingReason::UnableToPrint)));
        assert!(r.slaps_lacking().is_empty());
        // The summary lists all ten, the wholly missing slap's fingers last.
        let listed: Vec<FingerPosition> = r.fingers().map(|f| f.position).collect();
        assert_eq!(listed.len(), 10);
        assert_eq!(listed[8..], [LeftThumb, RightThumb]);
        // A copy without images keeps them.
        assert_eq!(r.without_images().absent, r.absent);
        assert!(r.fingers_lacking().is_empty());
    }

    #[test]
    fn ten_singles_or_absent_fingers_complete_the_set_without_slaps() {
        use FingerPosition::*;
        let mut r = Recording::default();
        assert_eq!(r.fingers_lacking(), FingerPosition::SINGLE.to_vec());
        for f in FingerPosition::SINGLE {
            if f != LeftRing && f != RightThumb {
                r.singles.push(finger(f, None));
            }
        }
        assert_eq!(r.fingers_lacking(), vec![RightThumb, LeftRing]);
        assert_eq!(r.slaps_lacking(), vec![LeftFour, BothThumbs]);
        r.absent
            .push(finger(LeftRing, Some(MissingReason::Amputated)));
        assert_eq!(r.fingers_lacking(), vec![RightThumb]);
        assert_eq!(r.slaps_lacking(), vec![BothThumbs]);
        r.singles.push(finger(RightThumb, None));
        assert!(r.fingers_lacking().is_empty());
        assert!(r.slaps_lacking().is_empty());
        // A slap and singles mixed (the slap scanner failed half-way) complete it too.
        let mut m = Recording::default();
        m.slaps.push(slap(RightFour));
        m.slaps.push(slap(LeftFour));
        assert_eq!(m.fingers_lacking(), vec![RightThumb, LeftThumb]);
        m.singles.push(finger(RightThumb, None));
        m.singles.push(finger(LeftThumb, None));
        assert!(m.fingers_lacking().is_empty());
    }
}
