//! Steps that outlive the client and safe retries: every step runs as a server-side
//! operation that goes on when its caller disconnects, can be watched and cancelled, and
//! leaves a history entry whatever its outcome; a request id makes a retry answer the
//! first request instead of acting twice (AIP-155).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use futures::StreamExt;
use rekam_api::pb;
use rekam_tests::*;
use tonic::{Code, Status};
use tonic_types::StatusExt;

fn reason(s: &Status) -> String {
    s.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

fn req(id: &str, request_id: &str) -> pb::StepRequest {
    pb::StepRequest {
        name: id.into(),
        request_id: request_id.into(),
        ..Default::default()
    }
}

async fn cards(d: &TestDaemon) -> u32 {
    d.printer()
        .get_supplies(pb::GetSuppliesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .cards_remaining
}

/// Polls the enrollment until its running step satisfies `f`; returns that operation.
async fn running_until(
    d: &TestDaemon,
    id: &str,
    f: impl Fn(&pb::StepOperation) -> bool,
) -> pb::StepOperation {
    for _ in 0..500 {
        if let Some(op) = d.get(id).await.running_step
            && f(&op)
        {
            return op;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the running step never got there");
}

fn history_of(e: &pb::Enrollment, step: pb::Step) -> Vec<pb::StepRecord> {
    e.history
        .iter()
        .filter(|h| h.step == step as i32)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_print_goes_on_after_a_disconnect_and_its_retry_uses_no_second_card() {
    // Real printer timing, scaled: a two-sided card takes about 24 s x 0.05 = 1.2 s.
    let d = TestDaemon::start_with(|c| c.simulation.time_scale = 0.05).await;
    let id = recorded(&d).await;
    d.enroll().send(step(&id)).await.unwrap();
    let before = cards(&d).await;

    // The officer's browser asks to print, then reloads: its connection is gone.
    let channel = connect_unix(d.socket.clone()).await.unwrap();
    let mut browser = EnrollmentServiceClient::new(channel);
    let id2 = id.clone();
    let call = tokio::spawn(async move { browser.print(req(&id2, "print-1")).await });
    let op = running_until(&d, &id, |op| op.card_used).await;
    call.abort();
    let _ = call.await;
    assert_eq!(op.step, pb::Step::Print as i32);
    assert_eq!(op.request_id, "print-1");
    assert_eq!(op.devices, ["devices/printer0"]);
    assert!(!op.print_job.is_empty());

    // The step went on without its client; the reloaded page retries with the same id
    // and gets the first print's answer.
    let e = d
        .enroll()
        .print(req(&id, "print-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Printed);
    assert_eq!(e.print_job, op.print_job);
    assert_eq!(cards(&d).await, before - 1, "one card, not two");
    let prints = history_of(&d.get(&id).await, pb::Step::Print);
    assert_eq!(prints.len(), 1, "{prints:?}");
    let p = &prints[0];
    assert_eq!(p.status, pb::StepStatus::Succeeded as i32);
    assert_eq!(p.operation, op.name);
    assert_eq!(p.print_job, op.print_job);
    assert_eq!(p.request_id, "print-1");
    assert!(p.start_time.is_some() && !p.card_spoiled);

    // Asked again without a request id, Print answers with the enrollment: no new card.
    let e = d.enroll().print(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Printed);
    assert_eq!(cards(&d).await, before - 1);
    // The operation is still there to read, ended.
    let got = d
        .enroll()
        .get_step_operation(pb::GetStepOperationRequest {
            name: op.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.state, pb::OperationState::Succeeded as i32);
    assert!(got.end_time.is_some());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_with_a_request_id_is_idempotent_and_a_second_open_enrollment_is_refused() {
    let d = TestDaemon::start().await;
    let mut c = d.enroll();
    let create = |rid: &str| pb::CreateEnrollmentRequest {
        applicant: Some(applicant()),
        request_id: rid.into(),
    };
    let a = c
        .create_enrollment(create("c-1"))
        .await
        .unwrap()
        .into_inner();
    let b = c
        .create_enrollment(create("c-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.name, b.name);
    // Names are "enrollments/{id}", and ids are ULIDs: 26 Crockford base-32 characters,
    // unique across restarts.
    let a_id = a
        .name
        .strip_prefix("enrollments/")
        .expect("an enrollment's name");
    assert_eq!(a_id.len(), 26, "{}", a.name);
    // Without the id (or with another), the same NIK is ALREADY_EXISTS and names the
    // open enrollment.
    for rid in ["", "c-2"] {
        let err = c.create_enrollment(create(rid)).await.unwrap_err();
        assert_eq!(err.code(), Code::AlreadyExists);
        assert_eq!(reason(&err), "ENROLLMENT_EXISTS");
        assert!(err.message().contains(a_id), "{}", err.message());
        let info = err.get_error_details().error_info().cloned().unwrap();
        assert_eq!(info.metadata["enrollment_id"], a_id);
    }
    let all = c
        .list_enrollments(pb::ListEnrollmentsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.enrollments.len(), 1);

    // The same request id with a different request is refused.
    let mut other = create("c-1");
    other.applicant.as_mut().unwrap().name = "SITI AMINAH".into();
    let err = c.create_enrollment(other).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(reason(&err), "REQUEST_ID_REUSED");
    // A malformed request id names the field.
    let err = c.create_enrollment(create("no spaces")).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let f = err.get_error_details().bad_request().cloned().unwrap();
    assert_eq!(f.field_violations[0].field, "request_id");

    // Once cancelled, the NIK can be enrolled again, and the cancelled one refuses steps.
    let cancelled = c
        .cancel_enrollment(pb::CancelEnrollmentRequest {
            name: a.name.clone(),
            reason: "wrong applicant photo on file".into(),
            request_id: "x-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stage(&cancelled), pb::EnrollmentStage::Cancelled);
    assert_eq!(cancelled.cancel_reason, "wrong applicant photo on file");
    let h = history_of(&cancelled, pb::Step::Cancel);
    assert_eq!(h[0].note, "wrong applicant photo on file");
    let err = c
        .check_documents(pb::CheckDocumentsRequest {
            name: a.name.clone(),
            kk_number_on_document: applicant().kk_number,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "ENROLLMENT_CANCELLED");
    let again = c
        .create_enrollment(create("c-3"))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(again.name, a.name);
    // A cancellation needs a reason.
    let err = c
        .cancel_enrollment(pb::CancelEnrollmentRequest {
            name: again.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_asked_again_after_success_answers_with_the_enrollment() {
    let d = TestDaemon::start().await;
    let mut c = d.enroll();
    let id = verified(&d).await;
    // Documents and SIAK already done: asked again, they answer, and add no history.
    let before = d.get(&id).await.history.len();
    let e = c
        .check_documents(pb::CheckDocumentsRequest {
            name: id.clone(),
            kk_number_on_document: applicant().kk_number,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::IdentityVerified);
    c.verify_identity(step(&id)).await.unwrap();
    assert_eq!(d.get(&id).await.history.len(), before);
    // A step that never ran is still out of order.
    let err = c.print(step(&id)).await.unwrap_err();
    assert_eq!(reason(&err), "STEP_OUT_OF_ORDER");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_step_stops_a_print_and_records_the_spoiled_card() {
    let d = TestDaemon::start_with(|c| c.simulation.time_scale = 0.05).await;
    let id = recorded(&d).await;
    let mut c = d.enroll();
    c.send(step(&id)).await.unwrap();
    // Nothing runs yet: nothing to cancel.
    let err = c
        .cancel_step(pb::CancelStepRequest {
            name: id.clone(),
            reason: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "NO_STEP_RUNNING");

    let mut printing = d.enroll();
    let id2 = id.clone();
    let call = tokio::spawn(async move { printing.print(step(&id2)).await });
    let op = running_until(&d, &id, |op| op.card_used).await;

    // Watching the operation starts with its current state.
    let mut watch = c
        .watch_step_operation(pb::WatchStepOperationRequest {
            name: op.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(first.state, pb::OperationState::Running as i32);
    assert_eq!(first.name, op.name);

    // Another step meanwhile is ABORTED.
    let err = c.encode(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    assert_eq!(reason(&err), "STEP_IN_PROGRESS");

    let ended = c
        .cancel_step(pb::CancelStepRequest {
            name: id.clone(),
            reason: "applicant asked to correct the address".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ended.state, pb::OperationState::Cancelled as i32);
    assert!(ended.card_spoiled);
    assert_eq!(ended.error_reason, "CANCELLED");
    // The caller that asked to print learns that its step was cancelled.
    let answer = call.await.unwrap().unwrap_err();
    assert_eq!(answer.code(), Code::Cancelled);
    // The watch ends with the final state.
    let rest: Vec<_> = watch.collect().await;
    let last = rest.last().unwrap().as_ref().unwrap();
    assert_eq!(last.state, pb::OperationState::Cancelled as i32);

    let e = d.get(&id).await;
    assert_eq!(stage(&e), pb::EnrollmentStage::Sent);
    assert!(e.running_step.is_none());
    let prints = history_of(&e, pb::Step::Print);
    let h = prints.last().unwrap();
    assert_eq!(h.status, pb::StepStatus::Cancelled as i32);
    assert!(h.card_spoiled);
    assert_eq!(h.print_job, op.print_job);
    assert_eq!(h.note, "applicant asked to correct the address");
    // The printer's job was cancelled, not left printing.
    let jobs: Vec<_> = d
        .printer()
        .watch_job(pb::WatchPrintJobRequest {
            name: op.print_job.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    let last = jobs.last().unwrap().as_ref().unwrap();
    assert_eq!(last.state, pb::PrintJobState::Cancelled as i32);
    // And the step can be retried.
    let e = c.print(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Printed);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_past_its_deadline_is_recorded_as_timed_out() {
    let d = TestDaemon::start_with(|c| c.simulation.time_scale = 0.05).await;
    let id = verified(&d).await;
    let mut c = d.enroll();
    d.fault("fingerprint0", "no_finger").await;
    let mut r = tonic::Request::new(pb::CaptureFingerprintsStepRequest {
        name: id.clone(),
        ..Default::default()
    });
    r.set_timeout(Duration::from_millis(300));
    let err = c.capture_fingerprints(r).await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert_eq!(reason(&err), "DEADLINE_EXCEEDED");
    let e = d.get(&id).await;
    let h = history_of(&e, pb::Step::CaptureFingerprints);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].status, pb::StepStatus::TimedOut as i32);
    assert_eq!(h[0].devices, ["devices/fingerprint0"]);
    assert!(!h[0].operation.is_empty());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operation_and_print_job_watches_resume_after_the_last_state_seen() {
    // Device timings at 5 %: a print lasts about a second, with progress on the way.
    let d = TestDaemon::start_with(|c| c.simulation.time_scale = 0.05).await;
    let id = recorded(&d).await;
    let mut c = d.enroll();
    c.send(step(&id)).await.unwrap();
    let mut printing = d.enroll();
    let id2 = id.clone();
    let call = tokio::spawn(async move { printing.print(step(&id2)).await });
    let op = running_until(&d, &id, |op| !op.print_job.is_empty()).await;
    let watch_op = |after: u64| {
        let mut c = d.enroll();
        let op_id = op.name.clone();
        async move {
            let s = c
                .watch_step_operation(pb::WatchStepOperationRequest {
                    name: op_id,
                    after_sequence: after,
                })
                .await
                .unwrap()
                .into_inner();
            s.map(|o| o.unwrap()).collect::<Vec<_>>().await
        }
    };
    let all = watch_op(0).await;
    call.await.unwrap().unwrap();
    let last = all.last().unwrap();
    assert_eq!(last.state, pb::OperationState::Succeeded as i32);
    let seqs: Vec<u64> = all.iter().map(|o| o.sequence).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(seqs[0] >= op.sequence, "{seqs:?} from {}", op.sequence);
    // Resumed after the final state: nothing, and the stream ends.
    assert!(watch_op(last.sequence).await.is_empty());
    // Resumed just before it: only the final state.
    let tail = watch_op(last.sequence - 1).await;
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].sequence, last.sequence);
    assert_eq!(tail[0].state, pb::OperationState::Succeeded as i32);

    // The print job the step used: each state numbered, resumable the same way.
    let watch_job = |after: u64| {
        let mut p = d.printer();
        let job_id = op.print_job.clone();
        async move {
            let s = p
                .watch_job(pb::WatchPrintJobRequest {
                    name: job_id,
                    after_sequence: after,
                })
                .await
                .unwrap()
                .into_inner();
            s.map(|j| j.unwrap()).collect::<Vec<_>>().await
        }
    };
    let job = watch_job(0).await;
    let done = job.last().unwrap();
    assert_eq!(done.state, pb::PrintJobState::Done as i32);
    assert!(done.sequence > 1, "queued, printing …, done: {job:?}");
    assert!(watch_job(done.sequence).await.is_empty());
    let tail = watch_job(done.sequence - 1).await;
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].state, pb::PrintJobState::Done as i32);
    d.stop().await;
}
