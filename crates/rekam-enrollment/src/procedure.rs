//! The procedure as one table: for each step, the stages it may run at and the stage it
//! leads to. [`Pipeline`](crate::Pipeline) checks every step against this table, in one
//! place, before the step touches a device; a step that ends in failure runs
//! [`on_failure`] and changes nothing else. A step asked at a stage it does not run at,
//! whose last run succeeded, answers with the enrollment instead of an error (a retry of
//! a step whose answer was lost); asked at a stage it runs at, it runs again (a capture
//! asked again captures again).

use crate::model::{Enrollment, Stage, Step};

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Transition {
    /// The step.
    pub step: Step,
    /// The stages it may run at.
    pub from: &'static [Stage],
    /// The stage it leads to on success (`None`: the stage stays).
    pub to: Option<Stage>,
    /// What to do first, when it is asked at another stage.
    pub hint: &'static str,
}

use Stage::*;

/// The stages from which an enrollment can still be cancelled.
const OPEN: &[Stage] = &[
    Created,
    DocumentsChecked,
    IdentityVerified,
    Recorded,
    Sent,
    Printed,
    Encoded,
    ReceiptIssued,
];

/// The whole procedure, in the order of the service standard, then the corrections
/// (update the applicant before sending, reprint, re-encode) and the cancellation.
pub const TABLE: &[Transition] = &[
    Transition {
        step: Step::CheckDocuments,
        from: &[Created],
        to: Some(DocumentsChecked),
        hint: "documents are checked once, right after the enrollment is opened",
    },
    Transition {
        step: Step::VerifyIdentity,
        from: &[DocumentsChecked],
        to: Some(IdentityVerified),
        hint: "check the documents first",
    },
    Transition {
        step: Step::CaptureFace,
        from: &[IdentityVerified],
        to: None,
        hint: "verify the identity against SIAK before recording",
    },
    Transition {
        step: Step::CaptureFingerprints,
        from: &[IdentityVerified],
        to: None,
        hint: "verify the identity against SIAK before recording",
    },
    Transition {
        step: Step::CaptureSignature,
        from: &[IdentityVerified],
        to: None,
        hint: "verify the identity against SIAK before recording",
    },
    Transition {
        step: Step::FinishRecording,
        from: &[IdentityVerified],
        to: Some(Recorded),
        hint: "verify the identity and capture face, fingerprints and signature first",
    },
    Transition {
        step: Step::Send,
        from: &[Recorded, ReceiptIssued],
        to: Some(Sent),
        hint: "finish the recording first",
    },
    Transition {
        step: Step::IssueReceipt,
        from: &[Recorded],
        to: Some(ReceiptIssued),
        hint: "a receipt is issued only for a finished recording whose send failed",
    },
    Transition {
        step: Step::Print,
        from: &[Sent],
        to: Some(Printed),
        hint: "the card is printed only after the recording was sent",
    },
    Transition {
        step: Step::Encode,
        from: &[Printed],
        to: Some(Encoded),
        hint: "the chip is encoded after the card is printed",
    },
    Transition {
        step: Step::HandOver,
        from: &[Encoded],
        to: Some(HandedOver),
        hint: "the card is handed over once printed and encoded",
    },
    Transition {
        step: Step::UpdateApplicant,
        from: &[Created, DocumentsChecked, IdentityVerified, Recorded],
        to: None,
        hint: "the applicant's data can be corrected only before the recording is sent",
    },
    Transition {
        step: Step::Reprint,
        from: &[Printed, Encoded, HandedOver],
        to: Some(Printed),
        hint: "a card is reprinted only after it was printed",
    },
    Transition {
        step: Step::Reencode,
        from: &[Encoded, HandedOver],
        to: Some(Encoded),
        hint: "a chip is encoded again only after it was encoded",
    },
    Transition {
        step: Step::Cancel,
        from: OPEN,
        to: Some(Cancelled),
        hint: "a handed-over or cancelled enrollment cannot be cancelled",
    },
];

/// The row of a step (`Create` has none: it makes the enrollment).
pub fn transition(step: Step) -> Option<&'static Transition> {
    TABLE.iter().find(|t| t.step == step)
}

/// The other stage a step may lead to. Print and Reprint on a printer with an encoder
/// inside also encode the chip, as one card job (encode, verify, print, eject): they lead
/// to `Encoded`, and the card needs no separate Encode step.
pub fn alternative(step: Step) -> Option<Stage> {
    match step {
        Step::Print | Step::Reprint => Some(Encoded),
        _ => None,
    }
}

/// What a failed step leaves behind besides its history entry: a failed send allows a
/// receipt.
pub fn on_failure(step: Step, e: &mut Enrollment) {
    if step == Step::Send {
        e.send_failed = true;
    }
}

/// True when an enrollment at `stage` still counts as open for its NIK (a second one
/// cannot be opened).
pub fn is_open(stage: Stage) -> bool {
    !matches!(stage, HandedOver | Cancelled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path_walks_the_table_from_created_to_handed_over() {
        let mut stage = Created;
        for step in [
            Step::CheckDocuments,
            Step::VerifyIdentity,
            Step::CaptureFace,
            Step::CaptureFingerprints,
            Step::CaptureSignature,
            Step::FinishRecording,
            Step::Send,
            Step::Print,
            Step::Encode,
            Step::HandOver,
        ] {
            let t = transition(step).unwrap();
            assert!(t.from.contains(&stage), "{step} at {stage}");
            stage = t.to.unwrap_or(stage);
        }
        assert_eq!(stage, HandedOver);
    }

    #[test]
    fn the_receipt_path_returns_to_send() {
        let receipt = transition(Step::IssueReceipt).unwrap();
        assert!(receipt.from.contains(&Recorded));
        let send = transition(Step::Send).unwrap();
        assert!(send.from.contains(&receipt.to.unwrap()));
    }

    #[test]
    fn after_hand_over_only_a_new_card_and_after_cancellation_nothing() {
        for t in TABLE {
            if t.from.contains(&HandedOver) {
                assert!(
                    matches!(t.step, Step::Reprint | Step::Reencode),
                    "{}",
                    t.step
                );
            }
            assert!(!t.from.contains(&Cancelled), "{}", t.step);
        }
        assert!(!is_open(HandedOver) && !is_open(Cancelled) && is_open(Sent));
    }

    #[test]
    fn printing_with_an_inline_encoder_leads_where_encode_would_and_hand_over_follows() {
        for step in [Step::Print, Step::Reprint] {
            assert_eq!(alternative(step), transition(Step::Encode).unwrap().to);
        }
        assert!(
            transition(Step::HandOver)
                .unwrap()
                .from
                .contains(&alternative(Step::Print).unwrap())
        );
        assert_eq!(alternative(Step::Encode), None);
        assert_eq!(alternative(Step::Send), None);
    }

    #[test]
    fn every_step_but_create_has_one_row() {
        for t in TABLE {
            assert_eq!(TABLE.iter().filter(|u| u.step == t.step).count(), 1);
        }
        assert!(transition(Step::Create).is_none());
    }
}
