//! Errors a program can act on (AIP-193) and inputs that cannot be wrong: every error
//! carries a documented reason, an Indonesian message and, for bad input, one field
//! violation per field; no personal data is echoed.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rekam_api::pb;
use rekam_tests::*;
use tonic::{Code, Status};
use tonic_types::StatusExt;

fn reason(s: &Status) -> String {
    s.get_error_details()
        .error_info()
        .map(|i| {
            assert_eq!(i.domain, "rekam.v1");
            i.reason.clone()
        })
        .unwrap_or_default()
}

fn fields(s: &Status) -> Vec<String> {
    s.get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

async fn create_err(d: &TestDaemon, a: pb::Applicant) -> Status {
    d.enroll()
        .create_enrollment(pb::CreateEnrollmentRequest {
            applicant: Some(a),
            ..Default::default()
        })
        .await
        .unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invalid_field_is_reported_at_once_without_its_value() {
    let d = TestDaemon::start().await;
    let mut a = applicant();
    a.nik = "3171014708900000".into(); // serial 0000
    a.name = "SITI\nNIK=3171014708900099".into();
    a.address = "A".repeat(1_000_000);
    a.rt = 0;
    a.religion = 0;
    a.birth_date = Some(rekam_api::Date {
        year: 1990,
        month: 2,
        day: 30,
    });
    let err = create_err(&d, a).await;
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(reason(&err), "INVALID_REQUEST");
    let f = fields(&err);
    for want in [
        "applicant.nik",
        "applicant.name",
        "applicant.address",
        "applicant.rt",
        "applicant.religion",
        "applicant.birth_date",
    ] {
        assert!(f.contains(&want.to_string()), "{want} missing from {f:?}");
    }
    // Nothing of the input comes back: no NIK digits, no 1 MB of address.
    assert!(
        !err.message().contains("3171014708900"),
        "{}",
        err.message()
    );
    assert!(err.message().len() < 2_000, "{}", err.message().len());
    let details = err.get_error_details();
    let lm = details.localized_message().expect("localized message");
    assert_eq!(lm.locale, "id-ID");
    assert!(lm.message.contains("tidak valid"), "{}", lm.message);
    // Nothing was created.
    let all = d
        .enroll()
        .list_enrollments(pb::ListEnrollmentsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(all.enrollments.is_empty());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_and_bidi_characters_are_refused_in_every_text_field() {
    let d = TestDaemon::start().await;
    let poison = ["\u{1b}[2J", "\u{202E}", "\u{200B}", "\r", "\u{2028}"];
    for (i, p) in poison.iter().enumerate() {
        let mut a = applicant();
        a.name = format!("SITI{p}RAHAYU");
        a.address = format!("JL. MERDEKA{p}");
        a.village = format!("{p}GAMBIR");
        let err = create_err(&d, a).await;
        assert_eq!(err.code(), Code::InvalidArgument, "{i}");
        assert_eq!(
            fields(&err),
            ["applicant.name", "applicant.address", "applicant.village"],
            "{i}"
        );
        assert!(!err.message().contains('\u{1b}'));
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mismatched_family_card_names_the_field_not_the_numbers() {
    let d = TestDaemon::start().await;
    let id = created(&d).await;
    let err = d
        .enroll()
        .check_documents(pb::CheckDocumentsRequest {
            name: id.clone(),
            kk_number_on_document: "3171010101099999".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(reason(&err), "DOCUMENT_MISMATCH");
    assert_eq!(fields(&err), ["kk_number_on_document"]);
    assert!(!err.message().contains("3171010101"), "{}", err.message());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_and_device_errors_carry_reasons_metadata_and_retry_info() {
    let d = TestDaemon::start().await;
    let mut c = d.enroll();
    let id = created(&d).await;

    // Out of order: FAILED_PRECONDITION, reason and the step and stage as metadata.
    let err = c.capture_face(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "STEP_OUT_OF_ORDER");
    let info = err.get_error_details().error_info().cloned().unwrap();
    assert_eq!(info.metadata["stage"], "CREATED");
    assert_eq!(info.metadata["step"], "capture face");

    // SIAK down: UNAVAILABLE with RetryInfo; SIAK's "not registered" never names the NIK.
    c.check_documents(pb::CheckDocumentsRequest {
        name: id.clone(),
        kk_number_on_document: applicant().kk_number,
        ..Default::default()
    })
    .await
    .unwrap();
    d.fault("siak", "unavailable").await;
    let err = c.verify_identity(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(reason(&err), "SIAK_UNAVAILABLE");
    assert!(err.get_error_details().retry_info().is_some());
    d.clear("siak").await;
    d.fault("siak", "not_registered").await;
    let err = c.verify_identity(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(reason(&err), "SIAK_NOT_REGISTERED");
    assert!(!err.message().contains(&applicant().nik));
    d.clear("siak").await;
    d.fault("siak", "mismatch").await;
    let err = c.verify_identity(step(&id)).await.unwrap_err();
    assert_eq!(reason(&err), "SIAK_MISMATCH");
    assert!(!err.message().contains(&applicant().nik));
    assert!(!err.message().contains(&applicant().name));
    d.clear("siak").await;
    c.verify_identity(step(&id)).await.unwrap();

    // An unplugged camera: UNAVAILABLE, DEVICE_DISCONNECTED, the device id, RetryInfo.
    d.fault("camera0", "disconnect").await;
    let err = c.capture_face(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(reason(&err), "DEVICE_DISCONNECTED");
    let details = err.get_error_details();
    assert_eq!(
        details.error_info().unwrap().metadata["device_id"],
        "camera0"
    );
    assert!(details.retry_info().is_some());
    assert!(
        details
            .localized_message()
            .unwrap()
            .message
            .contains("tidak terhubung")
    );

    // An unknown enrollment, and a fault into a device that does not exist.
    let err = c
        .get_enrollment(pb::GetEnrollmentRequest {
            name: "enrollments/nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "ENROLLMENT_NOT_FOUND");
    let err = d
        .sim()
        .inject_fault(pb::InjectFaultRequest {
            target: "devices/toaster0".into(),
            fault: "jam".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(reason(&err), "DEVICE_NOT_FOUND");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printer_faults_have_their_own_reasons() {
    let d = TestDaemon::start().await;
    let id = recorded(&d).await;
    let mut c = d.enroll();
    c.send(step(&id)).await.unwrap();
    for (fault, want) in [
        ("ribbon_out", "RIBBON_OUT"),
        ("no_cards", "NO_CARDS"),
        ("cover_open", "COVER_OPEN"),
        ("jam", "CARD_JAM"),
    ] {
        d.fault("printer0", fault).await;
        let err = c.print(step(&id)).await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition, "{fault}");
        assert_eq!(reason(&err), want);
        d.clear("printer0").await;
    }
    // A bad request to a device service names its field.
    let err = d
        .encoder()
        .read_files(pb::ReadFilesRequest {
            file_ids: vec![0x1_0000],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["file_ids[0]"]);
    d.stop().await;
}
