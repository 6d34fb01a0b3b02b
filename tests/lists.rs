//! Lists that page and filter (AIP-158), watches that resume after a sequence number, and
//! streams that end with UNAVAILABLE when the daemon shuts down.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use futures::StreamExt;
use rekam_api::pb;
use rekam_tests::*;
use tonic::Code;
use tonic_types::StatusExt;

/// An applicant with NIK serial `n` (the same person otherwise).
fn applicant_n(n: u32) -> pb::Applicant {
    let mut a = applicant();
    a.nik = format!("317101470890{n:04}");
    a
}

async fn create_n(d: &TestDaemon, n: u32) -> String {
    d.enroll()
        .create_enrollment(pb::CreateEnrollmentRequest {
            applicant: Some(applicant_n(n)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .name
}

async fn list(d: &TestDaemon, r: pb::ListEnrollmentsRequest) -> pb::ListEnrollmentsResponse {
    d.enroll().list_enrollments(r).await.unwrap().into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollments_page_newest_first_without_history_by_default() {
    let d = TestDaemon::start().await;
    let mut ids = Vec::new();
    for n in 1..=5 {
        ids.push(create_n(&d, n).await);
    }
    ids.reverse(); // newest first
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = list(
            &d,
            pb::ListEnrollmentsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            },
        )
        .await;
        pages += 1;
        assert_eq!(page.total_size, 5);
        assert!(page.enrollments.len() <= 2);
        for e in &page.enrollments {
            assert!(e.history.is_empty(), "BASIC view has no history");
            seen.push(e.name.clone());
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);
    // The FULL view has the history.
    let full = list(
        &d,
        pb::ListEnrollmentsRequest {
            view: pb::EnrollmentView::Full as i32,
            ..Default::default()
        },
    )
    .await;
    assert!(full.enrollments.iter().all(|e| !e.history.is_empty()));
    // A token is bound to its filter, and garbage is refused.
    let first = list(
        &d,
        pb::ListEnrollmentsRequest {
            page_size: 1,
            ..Default::default()
        },
    )
    .await;
    for (token, stage) in [
        (first.next_page_token.clone(), pb::EnrollmentStage::Created),
        ("zz".to_string(), pb::EnrollmentStage::Unspecified),
    ] {
        let err = d
            .enroll()
            .list_enrollments(pb::ListEnrollmentsRequest {
                page_token: token,
                stage: stage as i32,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        let info = err.get_error_details().error_info().cloned().unwrap();
        assert_eq!(info.reason, "INVALID_PAGE_TOKEN");
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollments_filter_by_stage_day_nik_and_receipt_number() {
    let d = TestDaemon::start().await;
    let a = create_n(&d, 1).await;
    let _b = create_n(&d, 2).await;
    // The third one reaches a receipt: recorded, the send fails, a receipt is issued.
    d.fault("datacentre", "unavailable").await;
    let c = recorded(&d).await;
    let mut client = d.enroll();
    client.send(step(&c)).await.unwrap_err();
    let e = client.issue_receipt(step(&c)).await.unwrap().into_inner();
    let receipt = e.receipt.unwrap().number;

    let by_stage = list(
        &d,
        pb::ListEnrollmentsRequest {
            stage: pb::EnrollmentStage::Created as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(by_stage.total_size, 2);
    let by_nik = list(
        &d,
        pb::ListEnrollmentsRequest {
            nik: applicant_n(1).nik,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(by_nik.enrollments.len(), 1);
    assert_eq!(by_nik.enrollments[0].name, a);
    let by_receipt = list(
        &d,
        pb::ListEnrollmentsRequest {
            receipt_number: receipt.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(by_receipt.enrollments.len(), 1);
    assert_eq!(by_receipt.enrollments[0].name, c);
    // Today (the station's day, WIB as TestDaemon sets it) holds all three; another day none.
    let today = e.create_time.unwrap();
    let local = today.seconds + 7 * 3600;
    let days = local.div_euclid(86_400);
    // Civil date from days since 1970-01-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as i32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as i32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    let on = |year, month, day| pb::ListEnrollmentsRequest {
        created_on: Some(rekam_api::Date { year, month, day }),
        ..Default::default()
    };
    assert_eq!(list(&d, on(year, month, day)).await.total_size, 3);
    assert_eq!(list(&d, on(year - 1, month, day)).await.total_size, 0);
    // Malformed filters name their field.
    let err = d
        .enroll()
        .list_enrollments(pb::ListEnrollmentsRequest {
            nik: "123".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let br = err.get_error_details().bad_request().cloned().unwrap();
    assert_eq!(br.field_violations[0].field, "nik");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_resumes_after_the_last_event_it_saw() {
    let d = TestDaemon::start().await;
    let id = created(&d).await;
    let mut c = d.enroll();
    let watch = |after| pb::WatchEnrollmentRequest {
        name: id.clone(),
        after_sequence: after,
    };
    let mut s = c.watch_enrollment(watch(0)).await.unwrap().into_inner();
    let snapshot = s.next().await.unwrap().unwrap();
    assert_eq!(snapshot.step, pb::Step::Unspecified as i32);
    let mut c2 = d.enroll();
    c2.check_documents(pb::CheckDocumentsRequest {
        name: id.clone(),
        kk_number_on_document: applicant().kk_number,
        ..Default::default()
    })
    .await
    .unwrap();
    // Read up to the check's success, then lose the stream.
    let mut last = snapshot.sequence;
    loop {
        let ev = s.next().await.unwrap().unwrap();
        assert!(ev.sequence > last, "sequence numbers increase");
        last = ev.sequence;
        if ev.step == pb::Step::CheckDocuments as i32
            && ev.status == pb::StepStatus::Succeeded as i32
        {
            break;
        }
    }
    drop(s);
    // Meanwhile SIAK is asked: the client misses those events.
    c2.verify_identity(step(&id)).await.unwrap();
    let mut s = c.watch_enrollment(watch(last)).await.unwrap().into_inner();
    let mut missed = Vec::new();
    loop {
        let ev = s.next().await.unwrap().unwrap();
        assert!(
            ev.sequence > last,
            "only events after {last}: got {}",
            ev.sequence
        );
        missed.push((ev.step, ev.status));
        if ev.step == pb::Step::VerifyIdentity as i32
            && ev.status == pb::StepStatus::Succeeded as i32
        {
            break;
        }
    }
    assert_eq!(
        missed.first(),
        Some(&(
            pb::Step::VerifyIdentity as i32,
            pb::StepStatus::Started as i32
        ))
    );
    // A sequence the daemon no longer keeps (or never had) starts afresh with a snapshot.
    let mut s = c
        .watch_enrollment(watch(u64::MAX / 2))
        .await
        .unwrap()
        .into_inner();
    let ev = s.next().await.unwrap().unwrap();
    assert_eq!(ev.step, pb::Step::Unspecified as i32);
    assert_eq!(ev.stage, pb::EnrollmentStage::IdentityVerified as i32);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_end_with_unavailable_when_the_daemon_shuts_down() {
    let d = TestDaemon::start().await;
    let id = created(&d).await;
    let mut watch = d
        .enroll()
        .watch_enrollment(pb::WatchEnrollmentRequest {
            name: id,
            after_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let mut devices = d
        .devices()
        .watch_devices(pb::WatchDevicesRequest {
            include_current: false,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    watch.next().await.unwrap().unwrap(); // the snapshot
    let stopping = tokio::spawn(d.stop());
    let errors = [
        ("enrollment", watch.next().await.unwrap().unwrap_err()),
        ("devices", devices.next().await.unwrap().unwrap_err()),
    ];
    for (name, err) in errors {
        assert_eq!(err.code(), Code::Unavailable, "{name}: {err:?}");
        let info = err.get_error_details().error_info().cloned().unwrap();
        assert_eq!(info.reason, "SHUTTING_DOWN");
    }
    stopping.await.unwrap();
}
