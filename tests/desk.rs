//! The office around the procedure, over gRPC: SIAK through its HTTP service (the
//! out-of-process `rekam-sim siak` with residents from a file), the roles of the complaints
//! desk, reports and verification, and rekamctl's commands for them.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Command;

use rekam_api::pb;
use rekam_api::pb::complaint_service_client::ComplaintServiceClient;
use rekam_api::pb::report_service_client::ReportServiceClient;
use rekam_operators::Role;
use rekam_tests::*;
use tonic::Code;
use tonic_types::StatusExt;

/// SIAK's record of the test applicant, as the resident file holds it.
fn resident(nik: &str, name: &str) -> serde_json::Value {
    serde_json::json!({
        "nik": nik, "kk_number": "3171010101090001", "name": name,
        "birth_place": "JAKARTA", "birth_date": "1990-08-07", "sex": "PEREMPUAN",
        "address": "JL. MERDEKA NO. 10", "rt": 3, "rw": 5, "village": "GAMBIR",
        "district": "GAMBIR", "regency": "JAKARTA PUSAT", "province": "DKI JAKARTA",
        "religion": "ISLAM", "marital_status": "KAWIN", "occupation": "KARYAWAN SWASTA",
        "citizenship": "WNI", "blood_type": "O"
    })
}

/// `rekam-sim siak` with the test applicant as declared, and a second NIK whose SIAK name
/// differs.
fn siak_sim(dir: &std::path::Path) -> SimProcess {
    let file = dir.join("residents.json");
    let residents = serde_json::json!([
        resident("3171014708900003", "SITI RAHAYU"),
        resident("3171014708900005", "SITI RAHAYU NINGSIH"),
    ]);
    std::fs::write(&file, residents.to_string()).unwrap();
    SimProcess::start(
        "siak",
        &[
            "--http".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--residents".as_ref(),
            file.as_os_str(),
        ],
    )
}

fn reason(s: &tonic::Status) -> String {
    s.get_details_error_info()
        .map(|i| i.reason)
        .unwrap_or_default()
}

async fn create_and_check(d: &TestDaemon, nik: &str) -> String {
    let mut a = applicant();
    a.nik = nik.into();
    let id = d
        .enroll()
        .create_enrollment(pb::CreateEnrollmentRequest {
            applicant: Some(a),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .name;
    d.enroll()
        .check_documents(pb::CheckDocumentsRequest {
            name: id.clone(),
            kk_number_on_document: "3171010101090001".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn siak_over_http_match_mismatch_not_registered_and_away() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = siak_sim(dir.path());
    let url = sim.url.clone();
    let d = TestDaemon::start_with(move |c| {
        c.siak.driver = "http".into();
        c.siak.url = url;
        c.siak.retries = Some(0);
        c.siak.timeout_secs = Some(2.0);
    })
    .await;
    // Registered, every field agrees.
    let id = create_and_check(&d, "3171014708900003").await;
    let e = d
        .enroll()
        .verify_identity(step(&id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::IdentityVerified);
    let s = e.siak.unwrap();
    assert_eq!(s.verdict, pb::SiakVerdict::Match as i32);
    assert!(s.reference.starts_with("SIAK-317101-"), "{}", s.reference);
    // Registered under another name: refused, the field named, the verdict kept.
    let id = create_and_check(&d, "3171014708900005").await;
    let err = d.enroll().verify_identity(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "SIAK_MISMATCH");
    assert_eq!(
        err.get_details_error_info().unwrap().metadata.get("fields"),
        Some(&"name".to_string())
    );
    assert!(!err.message().contains("NINGSIH"), "{}", err.message());
    let s = d.get(&id).await.siak.unwrap();
    assert_eq!(s.verdict, pb::SiakVerdict::Mismatch as i32);
    assert_eq!(s.differing_fields, ["name"]);
    // Not in SIAK at all.
    let id = create_and_check(&d, "3171014708900013").await;
    let err = d.enroll().verify_identity(step(&id)).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::NotFound, "SIAK_NOT_REGISTERED".into())
    );
    assert_eq!(
        d.get(&id).await.siak.unwrap().verdict,
        pb::SiakVerdict::NotRegistered as i32
    );
    // SIAK goes away: UNAVAILABLE, and the enrollment stays where it was.
    sim.kill();
    let err = d.enroll().verify_identity(step(&id)).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::Unavailable, "SIAK_UNAVAILABLE".into())
    );
    assert_eq!(
        stage(&d.get(&id).await),
        pb::EnrollmentStage::DocumentsChecked
    );
    d.stop().await;
}

const DESK: [(&str, &str, Role); 4] = [
    ("off1", "Officer", Role::Officer),
    ("sup1", "Supervisor", Role::Supervisor),
    ("tech1", "Technician", Role::Technician),
    ("head1", "Head of Office", Role::HeadOfOffice),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complaint_roles_reports_and_verification_by_role() {
    let d = TestDaemon::start_with(|c| c.access.require_sign_in = true).await;
    write_operators(&d.state_dir(), &DESK);
    let off = d.sign_in("off1").await;
    let sup = d.sign_in("sup1").await;
    let tech = d.sign_in("tech1").await;
    let head = d.sign_in("head1").await;
    let mut desk = ComplaintServiceClient::new(d.channel.clone());
    let file = || pb::FileComplaintRequest {
        channel: pb::ComplaintChannel::InPerson as i32,
        complainant: "Budi".into(),
        contact: "Jl. Sudirman 1".into(),
        text: "Antrean terlalu lama".into(),
        ..Default::default()
    };
    // A technician is no desk.
    let err = desk
        .file_complaint(with_session(&tech, file()))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::PermissionDenied, "ROLE_REQUIRED".into())
    );
    let c = desk
        .file_complaint(with_session(&off, file()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(c.history[0].operator, "off1");
    // The officer forwards from the secretariat, but may not escalate.
    let c = desk
        .forward_complaint(with_session(
            &off,
            pb::ForwardComplaintRequest {
                name: c.name.clone(),
                to_level: pb::ComplaintLevel::CivilRegistration as i32,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let err = desk
        .escalate_complaint(with_session(
            &off,
            pb::EscalateComplaintRequest {
                name: c.name.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::PermissionDenied, "ROLE_REQUIRED".into())
    );
    let c = desk
        .escalate_complaint(with_session(
            &sup,
            pb::EscalateComplaintRequest {
                name: c.name.clone(),
                note: "perlu keputusan kepala dinas".into(),
                expected_version: c.version,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    // At the top only the Head of Office resolves.
    let resolve = |token: &str| {
        with_session(
            token,
            pb::ResolveComplaintRequest {
                name: c.name.clone(),
                resolution: "loket tambahan dibuka".into(),
                ..Default::default()
            },
        )
    };
    let err = desk.resolve_complaint(resolve(&sup)).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::PermissionDenied, "ROLE_REQUIRED".into())
    );
    let done = desk
        .resolve_complaint(resolve(&head))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.status, pb::ComplaintStatus::Resolved as i32);
    let ops: Vec<&str> = done.history.iter().map(|h| h.operator.as_str()).collect();
    assert_eq!(ops, ["off1", "off1", "sup1", "head1"]);
    // A stale version loses.
    let err = desk
        .resolve_complaint(with_session(
            &head,
            pb::ResolveComplaintRequest {
                name: "complaints/C00000000000000000000000000".into(),
                resolution: "x".into(),
                expected_version: 1,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // Reports and verification: supervisor and head of office, not the officer.
    let mut reports = ReportServiceClient::new(d.channel.clone());
    let err = reports
        .get_daily_report(with_session(&off, pb::GetDailyReportRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let r = reports
        .get_daily_report(with_session(&head, pb::GetDailyReportRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.complaints_filed, 1);
    assert!(r.complaints_open.iter().all(|c| c.open == 0), "{r:?}");
    assert_eq!(r.phases.len(), 8);
    let err = d
        .enroll()
        .verify_enrollment(with_session(
            &off,
            pb::VerifyEnrollmentRequest {
                name: "enrollments/01J00000000000000000000000".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = d
        .enroll()
        .verify_enrollment(with_session(
            &sup,
            pb::VerifyEnrollmentRequest {
                name: "enrollments/01J00000000000000000000000".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    d.stop().await;
}

fn rekamctl(d: &TestDaemon, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(workspace_bin("rekamctl"))
        .arg("--socket")
        .arg(&d.socket)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekamctl_verifies_files_and_reports() {
    let d = TestDaemon::start().await;
    let id = recorded(&d).await;
    let mut c = d.enroll();
    c.send(step(&id)).await.unwrap();
    c.print(step(&id)).await.unwrap();
    c.encode(step(&id)).await.unwrap();
    c.hand_over(step(&id)).await.unwrap();
    let (ok, out, err) = rekamctl(&d, &["--json", "enrollment", "verify", &id]);
    assert!(ok, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["intact"], true, "{v}");
    assert!(v["entries"].as_u64().unwrap() >= 11, "{v}");

    let (ok, out, err) = rekamctl(
        &d,
        &[
            "--json",
            "complaint",
            "file",
            "--channel",
            "telephone",
            "--complainant",
            "Ani",
            "--text",
            "KTP-el belum diterima",
            "--enrollment",
            &id,
        ],
    );
    assert!(ok, "{out}{err}");
    let filed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(filed["level"], "SECRETARIAT");
    assert_eq!(filed["enrollment"], id.as_str());
    let name = filed["name"].as_str().unwrap();
    let (ok, out, err) = rekamctl(&d, &["complaint", "forward", name, "--to", "dafduk"]);
    assert!(ok, "{out}{err}");
    let (ok, out, _) = rekamctl(
        &d,
        &["--json", "complaint", "list", "--level", "registration"],
    );
    assert!(ok);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    // A move the routing does not allow: exit 1 with the reason.
    let (ok, _, err) = rekamctl(&d, &["complaint", "forward", name, "--to", "capil"]);
    assert!(!ok);
    assert!(err.contains("FAILED_PRECONDITION"), "{err}");

    let (ok, out, err) = rekamctl(&d, &["report", "--csv"]);
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("section,key,"), "{out}");
    assert!(out.contains("\nstep,HAND_OVER,1,0,0,0,\n"), "{out}");
    assert!(out.contains("\ncomplaints_open,REGISTRATION,1,"), "{out}");
    assert!(out.contains("\nphase,recording,180,1,"), "{out}");
    let (ok, out, _) = rekamctl(&d, &["--json", "report"]);
    assert!(ok);
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["opened"], 1, "{r}");
    let (ok, out, _) = rekamctl(&d, &["report"]);
    assert!(ok && out.contains("Daily report"), "{out}");
    d.stop().await;
}
