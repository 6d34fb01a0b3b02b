//! The daily report of a station: per step of the service standard, how many ended and
//! how (succeeded, failed, cancelled, timed out), how long each phase took against the
//! standard's time, the sends still on their way and their age, and the receipts whose
//! applicants have not come back yet. (Complaints are added by the daemon, which keeps
//! them.)
//!
//! The standard's times (DOMAIN.md): documents 1 min, SIAK 1 min, recording 3 min, send
//! 1 hour, print 1 min, encode 1 min, hand-over 5 min, the applicant receiving the card or
//! the receipt 1 min (here: issuing the receipt). A phase's time is measured from the
//! start of its first attempt that day to the end of the attempt that succeeded, so
//! retries count; the recording phase runs from the first capture to the end of
//! FinishRecording.

use std::time::{Duration, SystemTime};

use crate::applicant::Date;
use crate::model::{DeliveryView, Enrollment, Stage, Step, StepStatus};

/// A phase of the service standard with its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase {
    /// Its name in the report.
    pub name: &'static str,
    /// The steps that make it up (the last one ends it).
    pub steps: &'static [Step],
    /// The standard's time.
    pub standard: Duration,
}

const MIN: u64 = 60;

/// The phases of the service standard, in order.
pub const PHASES: [Phase; 8] = [
    Phase {
        name: "documents",
        steps: &[Step::CheckDocuments],
        standard: Duration::from_secs(MIN),
    },
    Phase {
        name: "siak",
        steps: &[Step::VerifyIdentity],
        standard: Duration::from_secs(MIN),
    },
    Phase {
        name: "recording",
        steps: &[
            Step::CaptureFace,
            Step::CaptureFingerprints,
            Step::CaptureSignature,
            Step::FinishRecording,
        ],
        standard: Duration::from_secs(3 * MIN),
    },
    Phase {
        name: "send",
        steps: &[Step::Send],
        standard: Duration::from_secs(60 * MIN),
    },
    Phase {
        name: "print",
        steps: &[Step::Print],
        standard: Duration::from_secs(MIN),
    },
    Phase {
        name: "encode",
        steps: &[Step::Encode],
        standard: Duration::from_secs(MIN),
    },
    Phase {
        name: "hand_over",
        steps: &[Step::HandOver],
        standard: Duration::from_secs(5 * MIN),
    },
    Phase {
        name: "receipt",
        steps: &[Step::IssueReceipt],
        standard: Duration::from_secs(MIN),
    },
];

/// How the attempts of one step ended on the day.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepCounts {
    /// The step.
    pub step: Option<Step>,
    /// Attempts that succeeded.
    pub succeeded: usize,
    /// Attempts that failed.
    pub failed: usize,
    /// Attempts cancelled.
    pub cancelled: usize,
    /// Attempts stopped at their deadline.
    pub timed_out: usize,
}

/// The time a phase took, over the enrollments that completed it on the day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseTimes {
    /// The phase's name.
    pub name: &'static str,
    /// The standard's time.
    pub standard: Duration,
    /// Enrollments that completed the phase on the day.
    pub completed: usize,
    /// Their median time.
    pub median: Duration,
    /// The longest.
    pub longest: Duration,
    /// How many took longer than the standard.
    pub over_standard: usize,
}

/// A package still on its way to the data centre.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSend {
    /// The enrollment.
    pub enrollment_id: String,
    /// How long since it was queued, at the report's time.
    pub age: Duration,
    /// Delivery attempts so far.
    pub attempts: u32,
}

/// The daily report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyReport {
    /// The station day.
    pub day: Date,
    /// When it was made.
    pub made_at: SystemTime,
    /// Enrollments opened on the day.
    pub opened: usize,
    /// Enrollments opened on the day, by the stage they are at now.
    pub by_stage: Vec<(Stage, usize)>,
    /// Per step, how its attempts on the day ended (steps with no attempt are left out).
    pub steps: Vec<StepCounts>,
    /// Per phase of the standard, the time it took.
    pub phases: Vec<PhaseTimes>,
    /// Packages not yet delivered (any day), oldest first.
    pub sends_pending: Vec<PendingSend>,
    /// Receipts whose applicants have not come back (enrollments at RECEIPT_ISSUED, any
    /// day).
    pub receipts_outstanding: usize,
    /// Of those, the ones issued on the day.
    pub receipts_issued: usize,
}

/// Makes the report of `day` (station days at `utc_offset_minutes`) from the station's
/// enrollments and the deliveries still on their way, at `now`.
pub fn daily(
    day: Date,
    utc_offset_minutes: i32,
    enrollments: &[Enrollment],
    pending: &[(String, DeliveryView)],
    now: SystemTime,
) -> DailyReport {
    let on_day = |t: SystemTime| crate::formats::local_date(t, utc_offset_minutes) == day;
    let mut steps: Vec<StepCounts> = Vec::new();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); PHASES.len()];
    let mut by_stage: Vec<(Stage, usize)> = Vec::new();
    let mut opened = 0;
    let mut receipts_outstanding = 0;
    let mut receipts_issued = 0;
    for e in enrollments {
        if on_day(e.created_at) {
            opened += 1;
            match by_stage.iter_mut().find(|(s, _)| *s == e.stage) {
                Some((_, n)) => *n += 1,
                None => by_stage.push((e.stage, 1)),
            }
        }
        if e.stage == Stage::ReceiptIssued {
            receipts_outstanding += 1;
        }
        for h in e.history.iter().filter(|h| on_day(h.at)) {
            if h.step == Step::Create {
                continue;
            }
            let i = match steps.iter().position(|c| c.step == Some(h.step)) {
                Some(i) => i,
                None => {
                    steps.push(StepCounts {
                        step: Some(h.step),
                        ..StepCounts::default()
                    });
                    steps.len() - 1
                }
            };
            let c = &mut steps[i];
            match h.status {
                StepStatus::Succeeded => c.succeeded += 1,
                StepStatus::Failed => c.failed += 1,
                StepStatus::Cancelled => c.cancelled += 1,
                StepStatus::TimedOut => c.timed_out += 1,
                StepStatus::Started | StepStatus::Progress => {}
            }
            if h.step == Step::IssueReceipt && h.status == StepStatus::Succeeded {
                receipts_issued += 1;
            }
        }
        for (p, phase) in PHASES.iter().enumerate() {
            if let Some(d) = phase_time(e, phase, &on_day) {
                times[p].push(d);
            }
        }
    }
    steps.sort_by_key(|c| c.step.map(|s| s as u32));
    by_stage.sort_by_key(|(s, _)| *s as u32);
    let phases = PHASES
        .iter()
        .zip(times)
        .map(|(phase, mut t)| {
            t.sort();
            PhaseTimes {
                name: phase.name,
                standard: phase.standard,
                completed: t.len(),
                median: t.get(t.len() / 2).copied().unwrap_or_default(),
                longest: t.last().copied().unwrap_or_default(),
                over_standard: t.iter().filter(|d| **d > phase.standard).count(),
            }
        })
        .collect();
    let mut sends_pending: Vec<PendingSend> = pending
        .iter()
        .filter(|(_, d)| d.delivered_at.is_none())
        .map(|(id, d)| PendingSend {
            enrollment_id: id.clone(),
            age: now.duration_since(d.queued_at).unwrap_or_default(),
            attempts: d.attempts,
        })
        .collect();
    sends_pending.sort_by_key(|p| std::cmp::Reverse(p.age));
    DailyReport {
        day,
        made_at: now,
        opened,
        by_stage,
        steps,
        phases,
        sends_pending,
        receipts_outstanding,
        receipts_issued,
    }
}

/// The time an enrollment took for a phase that it completed on the day: from the start
/// of the first attempt of any of the phase's steps (since the previous completion of the
/// phase, so a reprint is timed on its own) to the end of the successful last step.
fn phase_time(
    e: &Enrollment,
    phase: &Phase,
    on_day: &dyn Fn(SystemTime) -> bool,
) -> Option<Duration> {
    let last = *phase.steps.last()?;
    let end = e
        .history
        .iter()
        .rposition(|h| h.step == last && h.status == StepStatus::Succeeded)?;
    let done = &e.history[end];
    if !on_day(done.at) {
        return None;
    }
    // The earliest attempt of the phase's steps after the previous phase boundary.
    let mut start = done.started_at.unwrap_or(done.at);
    for h in e.history[..end].iter().rev() {
        if h.step == last && h.status == StepStatus::Succeeded {
            break;
        }
        if phase.steps.contains(&h.step) {
            start = start.min(h.started_at.unwrap_or(h.at));
        }
    }
    done.at.duration_since(start).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::StepRecord;
    use std::time::UNIX_EPOCH;

    // 2026-11-25 00:00 UTC; the station is at UTC+7 (WIB).
    const DAY0: u64 = 1_795_564_800;

    fn at(h: u64, m: u64) -> SystemTime {
        // 08:00 WIB is 01:00 UTC.
        UNIX_EPOCH + Duration::from_secs(DAY0 + (h - 7) * 3600 + m * 60)
    }

    fn rec(step: Step, status: StepStatus, from: SystemTime, to: SystemTime) -> StepRecord {
        let mut r = StepRecord::new(step, status, String::new());
        r.started_at = Some(from);
        r.at = to;
        r
    }

    fn enrollment(id: &str, created: SystemTime, stage: Stage, h: Vec<StepRecord>) -> Enrollment {
        Enrollment {
            id: id.into(),
            applicant: crate::applicant::tests::siti(),
            stage,
            recording: Default::default(),
            history: h,
            siak_reference: None,
            send_failed: false,
            send_reference: None,
            receipt: None,
            print_job_id: None,
            card_uid: None,
            created_at: created,
            last_error: None,
            package_size: 0,
            package_report: None,
            running: None,
            cancel_reason: None,
            wiped: false,
            delivery: None,
            siak: None,
            chain: Vec::new(),
            printed_fields: None,
            chip_fields: None,
            receipt_qr: None,
        }
    }

    #[test]
    fn a_scripted_day() {
        use StepStatus::*;
        let s = |m| Duration::from_secs(m);
        // A: documents 30 s, SIAK fails once then succeeds (whole phase 2 min), recording
        // from 08:05 to 08:09 (4 min: over the standard), handed over.
        let a = enrollment(
            "A",
            at(8, 0),
            Stage::HandedOver,
            vec![
                rec(Step::CheckDocuments, Succeeded, at(8, 0), at(8, 0) + s(30)),
                rec(Step::VerifyIdentity, Failed, at(8, 1), at(8, 2)),
                rec(Step::VerifyIdentity, Succeeded, at(8, 2), at(8, 3)),
                rec(Step::CaptureFace, Succeeded, at(8, 5), at(8, 6)),
                rec(Step::CaptureFingerprints, Succeeded, at(8, 6), at(8, 8)),
                rec(
                    Step::CaptureSignature,
                    Succeeded,
                    at(8, 8),
                    at(8, 8) + s(30),
                ),
                rec(Step::FinishRecording, Succeeded, at(8, 9), at(8, 9)),
                rec(Step::Send, Succeeded, at(8, 9), at(8, 10)),
                rec(Step::Print, Succeeded, at(8, 10), at(8, 11)),
                rec(Step::Encode, Succeeded, at(8, 11), at(8, 11) + s(20)),
                rec(Step::HandOver, Succeeded, at(8, 12), at(8, 12) + s(10)),
            ],
        );
        // B: recording in 2 min, the send timed out, receipt issued.
        let b = enrollment(
            "B",
            at(9, 0),
            Stage::ReceiptIssued,
            vec![
                rec(Step::CheckDocuments, Succeeded, at(9, 0), at(9, 1)),
                rec(Step::VerifyIdentity, Succeeded, at(9, 1), at(9, 1) + s(40)),
                rec(Step::CaptureFace, Succeeded, at(9, 2), at(9, 3)),
                rec(Step::CaptureFingerprints, Succeeded, at(9, 3), at(9, 4)),
                rec(Step::CaptureSignature, Succeeded, at(9, 4), at(9, 4)),
                rec(Step::FinishRecording, Succeeded, at(9, 4), at(9, 4)),
                rec(Step::Send, TimedOut, at(9, 4), at(9, 6)),
                rec(Step::IssueReceipt, Succeeded, at(9, 7), at(9, 7) + s(5)),
            ],
        );
        // C: opened the day before, nothing on the day: only its receipt counts.
        let c = enrollment(
            "C",
            at(8, 0) - Duration::from_secs(86_400),
            Stage::ReceiptIssued,
            vec![rec(
                Step::IssueReceipt,
                Succeeded,
                at(9, 0) - Duration::from_secs(86_400),
                at(9, 0) - Duration::from_secs(86_400),
            )],
        );
        let queued = at(9, 4);
        let pending = vec![(
            "B".to_string(),
            DeliveryView {
                size: 1,
                queued_at: queued,
                attempts: 3,
                last_attempt_at: None,
                last_error: None,
                next_attempt_at: None,
                delivered_at: None,
                received_reference: None,
                print_ready_reference: None,
                duplicate: None,
            },
        )];
        let day = crate::formats::local_date(at(12, 0), 420);
        let r = daily(day, 420, &[a, b, c], &pending, at(17, 4));
        assert_eq!(r.opened, 2);
        assert_eq!(
            r.by_stage,
            vec![(Stage::HandedOver, 1), (Stage::ReceiptIssued, 1)]
        );
        let count = |step| r.steps.iter().find(|c| c.step == Some(step)).unwrap();
        assert_eq!(count(Step::VerifyIdentity).succeeded, 2);
        assert_eq!(count(Step::VerifyIdentity).failed, 1);
        assert_eq!(count(Step::Send).succeeded, 1);
        assert_eq!(count(Step::Send).timed_out, 1);
        assert_eq!(
            count(Step::IssueReceipt).succeeded,
            1,
            "C's is the day before"
        );
        let phase = |n| r.phases.iter().find(|p| p.name == n).unwrap();
        assert_eq!(phase("siak").completed, 2);
        // A's SIAK phase: 08:01 to 08:03; B's 40 s. Median of [40 s, 120 s] is 120 s.
        assert_eq!(phase("siak").longest, s(120));
        assert_eq!(phase("siak").over_standard, 1);
        assert_eq!(phase("recording").completed, 2);
        assert_eq!(phase("recording").longest, s(240));
        assert_eq!(phase("recording").over_standard, 1);
        assert_eq!(phase("send").completed, 1);
        assert_eq!(phase("receipt").completed, 1);
        assert_eq!(phase("hand_over").longest, s(10));
        assert_eq!(r.receipts_outstanding, 2);
        assert_eq!(r.receipts_issued, 1);
        assert_eq!(r.sends_pending.len(), 1);
        assert_eq!(r.sends_pending[0].age, s(8 * 3600));
        assert_eq!(r.sends_pending[0].attempts, 3);
    }
}
