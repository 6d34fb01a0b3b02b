//! How an enrollment is kept in the store (`rekam-store`): a *summary* (the enrollment
//! with its recording stripped of images, templates and renderings) and one *artefact*
//! per recorded piece (the face, each slap with its fingers, each single finger, the
//! signature), so that a capture commits only what it recorded and a list reads only
//! summaries. Both are postcard encodings of the model behind a format byte: a later
//! format adds a byte value and converts the old one on read.

use std::sync::Arc;

use rekam_core::FingerPosition;
use rekam_store::Index;
use serde::{Serialize, de::DeserializeOwned};

use crate::error::EnrollmentError;
use crate::model::{Enrollment, Recording};
use crate::procedure;

/// The encoding's version, the first byte of every summary and artefact.
const FORMAT: u8 = 4;
/// Format 3: faces without their checks ([`crate::model::FaceAnalysis`]), in summaries
/// and in the face artefact. Read and converted; never written.
const FORMAT_3: u8 = 3;
/// Format 2: summaries without SIAK's answer, the artefact chain and the printed and chip
/// fields (artefacts are the same in every format). Read and converted; never written.
const FORMAT_2: u8 = 2;
/// Format 1: summaries whose history entries did not name their operator either. Read
/// and converted; never written.
const FORMAT_1: u8 = 1;

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, EnrollmentError> {
    postcard::to_extend(v, vec![FORMAT])
        .map_err(|e| EnrollmentError::Format(format!("encoding for the store: {e}")))
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, EnrollmentError> {
    match bytes.split_first() {
        Some((&FORMAT | &FORMAT_3 | &FORMAT_2 | &FORMAT_1, body)) => postcard::from_bytes(body)
            .map_err(|e| {
                EnrollmentError::Format(format!("{what} in the store cannot be read: {e}"))
            }),
        Some((v, _)) => Err(EnrollmentError::Format(format!(
            "{what} in the store has format {v}, which this rekamd does not know"
        ))),
        None => Err(EnrollmentError::Format(format!(
            "{what} in the store is empty"
        ))),
    }
}

/// The summary of an enrollment: everything but the recording's images.
pub(crate) fn summary(e: &Enrollment) -> Result<Vec<u8>, EnrollmentError> {
    let mut s = e.without_images();
    s.running = None;
    s.delivery = None;
    encode(&s)
}

/// An enrollment from its summary (its recording without images).
pub(crate) fn from_summary(bytes: &[u8]) -> Result<Enrollment, EnrollmentError> {
    match bytes.split_first() {
        Some((&FORMAT_1, body)) => postcard::from_bytes::<v1::Enrollment>(body)
            .map(|old| Enrollment::from(v2::Enrollment::from(old)))
            .map_err(|e| {
                EnrollmentError::Format(format!("an enrollment in the store cannot be read: {e}"))
            }),
        Some((&FORMAT_2, body)) => postcard::from_bytes::<v2::Enrollment>(body)
            .map(Enrollment::from)
            .map_err(|e| {
                EnrollmentError::Format(format!("an enrollment in the store cannot be read: {e}"))
            }),
        Some((&FORMAT_3, body)) => postcard::from_bytes::<v3::Enrollment>(body)
            .map(Enrollment::from)
            .map_err(|e| {
                EnrollmentError::Format(format!("an enrollment in the store cannot be read: {e}"))
            }),
        _ => decode("an enrollment", bytes),
    }
}

/// The shapes of format 1, as they were, for reading old summaries.
mod v1 {
    use std::time::SystemTime;

    use serde::Deserialize;

    use crate::applicant::Applicant;
    use crate::model::{Receipt, Stage, Step, StepStatus};

    use super::v3::Recording;

    /// A history entry of format 1: no operator.
    #[derive(Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub(super) struct StepRecord {
        pub(super) step: Step,
        pub(super) status: StepStatus,
        pub(super) at: SystemTime,
        pub(super) message: String,
        pub(super) operation_id: Option<String>,
        pub(super) started_at: Option<SystemTime>,
        pub(super) device_ids: Vec<String>,
        pub(super) job_id: Option<String>,
        pub(super) card_spoiled: bool,
        pub(super) error_reason: Option<String>,
        pub(super) request_id: Option<String>,
        pub(super) note: Option<String>,
    }

    /// An enrollment summary of format 1.
    #[derive(Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub(super) struct Enrollment {
        pub(super) id: String,
        pub(super) applicant: Applicant,
        pub(super) stage: Stage,
        pub(super) recording: Recording,
        pub(super) history: Vec<StepRecord>,
        pub(super) siak_reference: Option<String>,
        pub(super) send_failed: bool,
        pub(super) send_reference: Option<String>,
        pub(super) receipt: Option<Receipt>,
        pub(super) print_job_id: Option<String>,
        pub(super) card_uid: Option<Vec<u8>>,
        pub(super) created_at: SystemTime,
        pub(super) last_error: Option<String>,
        pub(super) package_size: usize,
        pub(super) package_report: Option<String>,
        pub(super) cancel_reason: Option<String>,
        #[serde(default)]
        pub(super) wiped: bool,
    }

    impl From<StepRecord> for crate::model::StepRecord {
        fn from(h: StepRecord) -> Self {
            crate::model::StepRecord {
                step: h.step,
                status: h.status,
                at: h.at,
                message: h.message,
                operation_id: h.operation_id,
                started_at: h.started_at,
                device_ids: h.device_ids,
                job_id: h.job_id,
                card_spoiled: h.card_spoiled,
                error_reason: h.error_reason,
                request_id: h.request_id,
                note: h.note,
                // Format 1 did not know who asked.
                operator: None,
            }
        }
    }

    impl From<Enrollment> for super::v2::Enrollment {
        fn from(e: Enrollment) -> Self {
            super::v2::Enrollment {
                id: e.id,
                applicant: e.applicant,
                stage: e.stage,
                recording: e.recording,
                history: e.history.into_iter().map(Into::into).collect(),
                siak_reference: e.siak_reference,
                send_failed: e.send_failed,
                send_reference: e.send_reference,
                receipt: e.receipt,
                print_job_id: e.print_job_id,
                card_uid: e.card_uid,
                created_at: e.created_at,
                last_error: e.last_error,
                package_size: e.package_size,
                package_report: e.package_report,
                cancel_reason: e.cancel_reason,
                wiped: e.wiped,
            }
        }
    }
}

/// The shapes of format 2, as they were, for reading old summaries.
mod v2 {
    use std::sync::Arc;
    use std::time::SystemTime;

    use serde::Deserialize;

    use crate::applicant::Applicant;
    use crate::model::{Receipt, Stage, StepRecord};

    use super::v3::Recording;

    /// An enrollment summary of format 2.
    #[derive(Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub(super) struct Enrollment {
        pub(super) id: String,
        pub(super) applicant: Applicant,
        pub(super) stage: Stage,
        pub(super) recording: Recording,
        pub(super) history: Vec<StepRecord>,
        pub(super) siak_reference: Option<String>,
        pub(super) send_failed: bool,
        pub(super) send_reference: Option<String>,
        pub(super) receipt: Option<Receipt>,
        pub(super) print_job_id: Option<String>,
        pub(super) card_uid: Option<Vec<u8>>,
        pub(super) created_at: SystemTime,
        pub(super) last_error: Option<String>,
        pub(super) package_size: usize,
        pub(super) package_report: Option<String>,
        pub(super) cancel_reason: Option<String>,
        pub(super) wiped: bool,
    }

    impl From<Enrollment> for crate::model::Enrollment {
        fn from(e: Enrollment) -> Self {
            crate::model::Enrollment {
                id: e.id,
                applicant: e.applicant,
                stage: e.stage,
                recording: Arc::new(e.recording.into()),
                history: e.history,
                siak_reference: e.siak_reference,
                send_failed: e.send_failed,
                send_reference: e.send_reference,
                receipt: e.receipt,
                print_job_id: e.print_job_id,
                card_uid: e.card_uid,
                created_at: e.created_at,
                last_error: e.last_error,
                package_size: e.package_size,
                package_report: e.package_report,
                running: None,
                cancel_reason: e.cancel_reason,
                wiped: e.wiped,
                delivery: None,
                // Format 2 kept neither SIAK's answer nor a chain: a verify reports the
                // enrollment as recorded before the chain existed.
                siak: None,
                chain: Vec::new(),
                printed_fields: None,
                chip_fields: None,
                receipt_qr: None,
            }
        }
    }
}

/// The shapes of format 3, as they were, for reading old summaries and face artefacts.
mod v3 {
    use std::sync::Arc;
    use std::time::SystemTime;

    use serde::Deserialize;

    use crate::applicant::Applicant;
    use crate::model::{
        FingerRecording, Receipt, SiakCheck, SignatureRecording, SlapRecording, Stage, StepRecord,
    };

    /// The face of format 3: no checks.
    #[derive(Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub(super) struct FaceRecording {
        #[serde(with = "serde_bytes")]
        pub(super) jpeg: Vec<u8>,
        pub(super) width: u32,
        pub(super) height: u32,
        #[serde(with = "serde_bytes")]
        pub(super) portrait_jpeg: Vec<u8>,
    }

    impl From<FaceRecording> for crate::model::FaceRecording {
        fn from(f: FaceRecording) -> Self {
            crate::model::FaceRecording {
                jpeg: f.jpeg,
                width: f.width,
                height: f.height,
                portrait_jpeg: f.portrait_jpeg,
                // Recorded before the station checked faces: a centre crop, no checks.
                analysis: None,
            }
        }
    }

    /// The recording of formats 1 to 3.
    #[derive(Deserialize, Default)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub(super) struct Recording {
        pub(super) face: Option<FaceRecording>,
        pub(super) slaps: Vec<SlapRecording>,
        pub(super) absent: Vec<FingerRecording>,
        pub(super) fingerprints_done: bool,
        pub(super) singles: Vec<FingerRecording>,
        pub(super) sequence_comparisons: u32,
        pub(super) signature: Option<SignatureRecording>,
    }

    impl From<Recording> for crate::model::Recording {
        fn from(r: Recording) -> Self {
            crate::model::Recording {
                face: r.face.map(Into::into),
                slaps: r.slaps,
                absent: r.absent,
                fingerprints_done: r.fingerprints_done,
                singles: r.singles,
                sequence_comparisons: r.sequence_comparisons,
                signature: r.signature,
            }
        }
    }

    /// An enrollment summary of format 3.
    #[derive(Deserialize)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub(super) struct Enrollment {
        pub(super) id: String,
        pub(super) applicant: Applicant,
        pub(super) stage: Stage,
        pub(super) recording: Recording,
        pub(super) history: Vec<StepRecord>,
        pub(super) siak_reference: Option<String>,
        pub(super) send_failed: bool,
        pub(super) send_reference: Option<String>,
        pub(super) receipt: Option<Receipt>,
        pub(super) print_job_id: Option<String>,
        pub(super) card_uid: Option<Vec<u8>>,
        pub(super) created_at: SystemTime,
        pub(super) last_error: Option<String>,
        pub(super) package_size: usize,
        pub(super) package_report: Option<String>,
        pub(super) cancel_reason: Option<String>,
        pub(super) wiped: bool,
        pub(super) siak: Option<SiakCheck>,
        pub(super) chain: Vec<rekam_integrity::ChainEntry>,
        pub(super) printed_fields: Option<Vec<(String, String)>>,
        pub(super) chip_fields: Option<Vec<(String, String)>>,
        pub(super) receipt_qr: Option<String>,
    }

    impl From<Enrollment> for crate::model::Enrollment {
        fn from(e: Enrollment) -> Self {
            crate::model::Enrollment {
                id: e.id,
                applicant: e.applicant,
                stage: e.stage,
                recording: Arc::new(e.recording.into()),
                history: e.history,
                siak_reference: e.siak_reference,
                send_failed: e.send_failed,
                send_reference: e.send_reference,
                receipt: e.receipt,
                print_job_id: e.print_job_id,
                card_uid: e.card_uid,
                created_at: e.created_at,
                last_error: e.last_error,
                package_size: e.package_size,
                package_report: e.package_report,
                running: None,
                cancel_reason: e.cancel_reason,
                wiped: e.wiped,
                delivery: None,
                siak: e.siak,
                chain: e.chain,
                printed_fields: e.printed_fields,
                chip_fields: e.chip_fields,
                receipt_qr: e.receipt_qr,
            }
        }
    }
}

/// The face artefact, in any format.
fn decode_face(bytes: &[u8]) -> Result<crate::model::FaceRecording, EnrollmentError> {
    match bytes.split_first() {
        Some((&FORMAT_3 | &FORMAT_2 | &FORMAT_1, body)) => {
            postcard::from_bytes::<v3::FaceRecording>(body)
                .map(Into::into)
                .map_err(|e| {
                    EnrollmentError::Format(format!("the face in the store cannot be read: {e}"))
                })
        }
        _ => decode("the face", bytes),
    }
}

fn slap_name(p: FingerPosition) -> String {
    format!("slap:{}", crate::model::position_name(p))
}

fn single_name(p: FingerPosition) -> String {
    format!("single:{}", crate::model::position_name(p))
}

/// Every recorded piece with its artefact name, encoded.
#[cfg(test)]
fn pieces(r: &Recording) -> Result<Vec<(String, Vec<u8>)>, EnrollmentError> {
    let mut out = Vec::new();
    if let Some(f) = &r.face {
        out.push(("face".to_string(), encode(f)?));
    }
    for s in &r.slaps {
        out.push((slap_name(s.position), encode(s)?));
    }
    for f in &r.singles {
        out.push((single_name(f.position), encode(f)?));
    }
    if let Some(s) = &r.signature {
        out.push(("signature".to_string(), encode(s)?));
    }
    Ok(out)
}

/// What a commit writes and removes to go from `before` to `after`: only the pieces that
/// changed are encoded.
#[allow(clippy::type_complexity)]
pub(crate) fn changes(
    before: &Recording,
    after: &Recording,
) -> Result<(Vec<(String, Vec<u8>)>, Vec<String>), EnrollmentError> {
    if std::ptr::eq(before, after) {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut put = Vec::new();
    let mut keep = Vec::new();
    if let Some(f) = &after.face {
        keep.push("face".to_string());
        if before.face.as_ref() != Some(f) {
            put.push(("face".to_string(), encode(f)?));
        }
    }
    for s in &after.slaps {
        keep.push(slap_name(s.position));
        if !before.slaps.iter().any(|b| b == s) {
            put.push((slap_name(s.position), encode(s)?));
        }
    }
    for f in &after.singles {
        keep.push(single_name(f.position));
        if !before.singles.iter().any(|b| b == f) {
            put.push((single_name(f.position), encode(f)?));
        }
    }
    if let Some(s) = &after.signature {
        keep.push("signature".to_string());
        if before.signature.as_ref() != Some(s) {
            put.push(("signature".to_string(), encode(s)?));
        }
    }
    let delete = pieces_names(before)
        .into_iter()
        .filter(|n| !keep.contains(n))
        .collect();
    Ok((put, delete))
}

fn pieces_names(r: &Recording) -> Vec<String> {
    let mut v = Vec::new();
    if r.face.is_some() {
        v.push("face".to_string());
    }
    v.extend(r.slaps.iter().map(|s| slap_name(s.position)));
    v.extend(r.singles.iter().map(|f| single_name(f.position)));
    if r.signature.is_some() {
        v.push("signature".to_string());
    }
    v
}

/// The whole enrollment: its summary with the pieces put back.
pub(crate) fn assemble(
    mut e: Enrollment,
    artefacts: Vec<(String, Vec<u8>)>,
) -> Result<Enrollment, EnrollmentError> {
    let mut r: Recording = (*e.recording).clone();
    for (name, bytes) in artefacts {
        if name == "face" {
            r.face = Some(decode_face(&bytes)?);
        } else if name == "signature" {
            r.signature = Some(decode("the signature", &bytes)?);
        } else if name.starts_with("slap:") {
            let s: crate::model::SlapRecording = decode(&name, &bytes)?;
            match r.slaps.iter_mut().find(|x| x.position == s.position) {
                Some(x) => *x = s,
                None => r.slaps.push(s),
            }
        } else if name.starts_with("single:") {
            let f: crate::model::FingerRecording = decode(&name, &bytes)?;
            match r.singles.iter_mut().find(|x| x.position == f.position) {
                Some(x) => *x = f,
                None => r.singles.push(f),
            }
        }
        // Other artefacts (the package) are not part of the recording.
    }
    e.recording = Arc::new(r);
    Ok(e)
}

/// What the store indexes in clear.
pub(crate) fn index(e: &Enrollment, utc_offset_minutes: i32) -> Index {
    Index {
        stage: e.stage.to_string(),
        open: procedure::is_open(e.stage),
        created_at: e.created_at,
        created_day: day(crate::formats::local_date(e.created_at, utc_offset_minutes)),
        receipt_number: e.receipt.as_ref().map(|r| r.number.clone()),
    }
}

/// A station day as the store indexes it.
pub(crate) fn day(d: crate::applicant::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::*;
    use rekam_core::GreyImage;

    fn recording() -> Recording {
        let img = |n: u8| GreyImage {
            width: 4,
            height: 2,
            ppi: 500,
            pixels: vec![n; 8],
        };
        let finger = |p, n| FingerRecording {
            position: p,
            quality: 70,
            recapture: false,
            missing: None,
            bbox: Some((1, 2, 3, 4)),
            image: Some(img(n)),
            template: None,
            override_reason: None,
            attempts: 1,
        };
        Recording {
            face: Some(FaceRecording {
                jpeg: vec![0xff, 0xd8, 1],
                width: 640,
                height: 480,
                portrait_jpeg: vec![0xff, 0xd8, 2],
                analysis: Some(FaceAnalysis {
                    checks: vec![rekam_face::Check {
                        name: "roll".into(),
                        value: Some(1.5),
                        unit: "deg".into(),
                        min: Some(-5.0),
                        max: Some(5.0),
                        passed: true,
                        description: "head roll".into(),
                    }],
                    eyes: Some(rekam_face::Eyes {
                        left: rekam_face::Point::new(400.0, 200.0),
                        right: rekam_face::Point::new(240.0, 204.0),
                    }),
                    token: true,
                }),
            }),
            slaps: vec![SlapRecording {
                position: FingerPosition::RightFour,
                image: img(9),
                fingers: vec![finger(FingerPosition::RightIndex, 3)],
            }],
            singles: vec![finger(FingerPosition::RightIndex, 5)],
            ..Recording::default()
        }
    }

    #[test]
    fn a_recording_comes_back_whole_from_its_summary_and_pieces() {
        let r = recording();
        let summary = r.without_images();
        let mut e = Enrollment {
            id: "01".into(),
            applicant: crate::applicant::tests::siti(),
            stage: Stage::Recorded,
            recording: Arc::new(summary),
            history: vec![],
            siak_reference: None,
            send_failed: false,
            send_reference: None,
            receipt: None,
            print_job_id: None,
            card_uid: None,
            created_at: std::time::SystemTime::UNIX_EPOCH,
            last_error: None,
            package_size: 0,
            package_report: None,
            running: None,
            cancel_reason: None,
            wiped: false,
            delivery: None,
            siak: Some(SiakCheck {
                verdict: SiakVerdict::Mismatch(vec!["name".into()]),
                reference: Some("SIAK-1".into()),
                at: std::time::SystemTime::UNIX_EPOCH,
                record: Some(vec![("Nama".into(), "SITI".into())]),
            }),
            chain: Vec::new(),
            printed_fields: Some(vec![("NIK".into(), "1".into())]),
            chip_fields: None,
            receipt_qr: None,
        };
        let bytes = super::summary(&e).unwrap();
        let back = from_summary(&bytes).unwrap();
        assert_eq!(back, e);
        let whole = assemble(back, pieces(&r).unwrap()).unwrap();
        assert_eq!(*whole.recording, r);
        e.recording = Arc::new(r.clone());
        assert!(
            !bytes.windows(8).any(|w| w == [9; 8]),
            "no pixels in a summary"
        );

        // Only what changed is written; what went is removed.
        let mut after = r.clone();
        after.singles.clear();
        after.face.as_mut().unwrap().jpeg.push(7);
        let (put, delete) = changes(&r, &after).unwrap();
        assert_eq!(
            put.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
            ["face"]
        );
        assert_eq!(delete, ["single:RIGHT_INDEX"]);
        // A summary of format 1 (before history entries named their operator) reads
        // back whole, with no operator.
        let mut old = v1::Enrollment {
            id: "02".into(),
            applicant: crate::applicant::tests::siti(),
            stage: Stage::Created,
            recording: v3::Recording::default(),
            history: vec![v1::StepRecord {
                step: Step::Create,
                status: StepStatus::Succeeded,
                at: std::time::SystemTime::UNIX_EPOCH,
                message: "enrollment opened".into(),
                operation_id: None,
                started_at: None,
                device_ids: vec!["printer0".into()],
                job_id: Some("job-1".into()),
                card_spoiled: false,
                error_reason: None,
                request_id: Some("r-1".into()),
                note: Some("n".into()),
            }],
            siak_reference: Some("S".into()),
            send_failed: false,
            send_reference: None,
            receipt: None,
            print_job_id: None,
            card_uid: Some(vec![1, 2]),
            created_at: std::time::SystemTime::UNIX_EPOCH,
            last_error: None,
            package_size: 7,
            package_report: None,
            cancel_reason: Some("c".into()),
            wiped: true,
        };
        let bytes = postcard::to_extend(&old, vec![FORMAT_1]).unwrap();
        let back = from_summary(&bytes).unwrap();
        assert_eq!(back.id, "02");
        assert_eq!(back.history.len(), 1);
        let h = &back.history[0];
        assert_eq!(h.operator, None);
        assert_eq!(h.device_ids, ["printer0"]);
        assert_eq!(h.job_id.as_deref(), Some("job-1"));
        assert_eq!(h.note.as_deref(), Some("n"));
        assert_eq!(back.card_uid, Some(vec![1, 2]));
        assert_eq!(back.cancel_reason.as_deref(), Some("c"));
        assert!(back.wiped);
        // Written again, it is the current format, with the operator.
        let mut again = back.clone();
        again.history[0].operator = Some("198001".into());
        let bytes = super::summary(&again).unwrap();
        assert_eq!(bytes[0], FORMAT);
        assert_eq!(
            from_summary(&bytes).unwrap().history[0].operator.as_deref(),
            Some("198001")
        );
        old.history.clear();
        assert!(from_summary(&postcard::to_extend(&old, vec![FORMAT_1]).unwrap()).is_ok());
        // A summary of format 2 (before SIAK's answer and the chain were kept) reads
        // back with neither.
        let two = v2::Enrollment {
            id: "03".into(),
            applicant: crate::applicant::tests::siti(),
            stage: Stage::Sent,
            recording: v3::Recording::default(),
            history: again.history.clone(),
            siak_reference: Some("S".into()),
            send_failed: true,
            send_reference: Some("DC".into()),
            receipt: None,
            print_job_id: None,
            card_uid: None,
            created_at: std::time::SystemTime::UNIX_EPOCH,
            last_error: None,
            package_size: 9,
            package_report: None,
            cancel_reason: None,
            wiped: false,
        };
        let back = from_summary(&postcard::to_extend(&two, vec![FORMAT_2]).unwrap()).unwrap();
        assert_eq!(back.id, "03");
        assert_eq!(back.stage, Stage::Sent);
        assert_eq!(back.history[0].operator.as_deref(), Some("198001"));
        assert_eq!((back.siak, back.chain.len()), (None, 0));
        // A summary and a face of format 3 (before the face checks) read back with a face
        // without checks.
        let face3 = || v3::FaceRecording {
            jpeg: vec![0xff, 0xd8, 1],
            width: 640,
            height: 480,
            portrait_jpeg: vec![0xff, 0xd8, 2],
        };
        let three = v3::Enrollment {
            id: "04".into(),
            applicant: crate::applicant::tests::siti(),
            stage: Stage::Recorded,
            recording: v3::Recording {
                face: Some(v3::FaceRecording {
                    jpeg: Vec::new(),
                    portrait_jpeg: Vec::new(),
                    ..face3()
                }),
                sequence_comparisons: 6,
                ..v3::Recording::default()
            },
            history: again.history.clone(),
            siak_reference: None,
            send_failed: false,
            send_reference: None,
            receipt: None,
            print_job_id: None,
            card_uid: None,
            created_at: std::time::SystemTime::UNIX_EPOCH,
            last_error: None,
            package_size: 0,
            package_report: None,
            cancel_reason: None,
            wiped: false,
            siak: None,
            chain: Vec::new(),
            printed_fields: Some(vec![("NIK".into(), "1".into())]),
            chip_fields: None,
            receipt_qr: Some("qr".into()),
        };
        let back = from_summary(&postcard::to_extend(&three, vec![FORMAT_3]).unwrap()).unwrap();
        assert_eq!(back.id, "04");
        assert_eq!(back.recording.sequence_comparisons, 6);
        assert_eq!(back.receipt_qr.as_deref(), Some("qr"));
        let face = back.recording.face.as_ref().unwrap();
        assert_eq!((face.width, face.height, &face.analysis), (640, 480, &None));
        let piece = postcard::to_extend(&face3(), vec![FORMAT_3]).unwrap();
        let whole = assemble(back, vec![("face".into(), piece)]).unwrap();
        let face = whole.recording.face.as_ref().unwrap();
        assert_eq!(face.portrait_jpeg, [0xff, 0xd8, 2]);
        assert_eq!(face.analysis, None);
        assert!(matches!(
            from_summary(&[9, 1, 2]),
            Err(EnrollmentError::Format(m)) if m.contains("format 9")
        ));
    }
}
