//! Operators, sessions and roles: who may call what, over the socket and over TCP.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rekam_api::pb;
use rekam_operators::{OperatorFile, Role};
use rekam_tests::*;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// The station's operators: one per role, PIN "<id>-pin".
const OPERATORS: [(&str, &str, Role); 4] = [
    ("off1", "Budi Santoso", Role::Officer),
    ("spv1", "Ani Rahma", Role::Supervisor),
    ("tek1", "Joko", Role::Technician),
    ("kpl1", "Ibu Kepala", Role::HeadOfOffice),
];

/// A daemon whose socket requires sign-in, with the [`OPERATORS`].
async fn strict() -> TestDaemon {
    let d = TestDaemon::start_with(|c| c.access.require_sign_in = true).await;
    write_operators(&d.state_dir(), &OPERATORS);
    d
}

fn reason(s: &Status) -> String {
    s.get_details_error_info()
        .map(|i| i.reason)
        .unwrap_or_default()
}

/// One call of each kind the roles tell apart; Ok(()) when it was let through (whatever
/// the service then answered, except the two refusals).
async fn try_call(d: &TestDaemon, token: &str, what: &str) -> Result<(), Status> {
    let through = |r: Result<(), Status>| match r {
        Err(s) if s.code() == Code::PermissionDenied || s.code() == Code::Unauthenticated => Err(s),
        _ => Ok(()),
    };
    let r = match what {
        "list devices" => d
            .devices()
            .list_devices(with_session(token, pb::ListDevicesRequest {}))
            .await
            .map(|_| ()),
        "self-test" => d
            .devices()
            .self_test(with_session(
                token,
                pb::SelfTestRequest {
                    name: "devices/printer0".into(),
                },
            ))
            .await
            .map(|_| ()),
        "inject fault" => d
            .sim()
            .list_faults(with_session(
                token,
                pb::ListFaultsRequest {
                    target: "devices/printer0".into(),
                },
            ))
            .await
            .map(|_| ()),
        "read chip" => d
            .encoder()
            .read_files(with_session(token, pb::ReadFilesRequest::default()))
            .await
            .map(|_| ()),
        "list enrollments" => d
            .enroll()
            .list_enrollments(with_session(token, pb::ListEnrollmentsRequest::default()))
            .await
            .map(|_| ()),
        "reprint" => d
            .enroll()
            .reprint_card(with_session(
                token,
                pb::ReprintCardRequest {
                    name: "enrollments/none".into(),
                    ..Default::default()
                },
            ))
            .await
            .map(|_| ()),
        "outbox" => d
            .enroll()
            .list_deliveries(with_session(token, pb::ListDeliveriesRequest::default()))
            .await
            .map(|_| ()),
        other => panic!("{other}"),
    };
    through(r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_is_let_through_to_its_calls_only() {
    let d = strict().await;
    let calls = [
        "list devices",
        "self-test",
        "inject fault",
        "read chip",
        "list enrollments",
        "reprint",
        "outbox",
    ];
    // (operator, the calls it may make)
    let table: [(&str, &[&str]); 4] = [
        ("off1", &["list devices", "list enrollments"]),
        (
            "spv1",
            &["list devices", "list enrollments", "reprint", "outbox"],
        ),
        (
            "tek1",
            &[
                "list devices",
                "self-test",
                "inject fault",
                "read chip",
                "outbox",
            ],
        ),
        ("kpl1", &[]),
    ];
    for (op, allowed) in table {
        let token = d.sign_in(op).await;
        for call in calls {
            let r = try_call(&d, &token, call).await;
            if allowed.contains(&call) {
                assert!(r.is_ok(), "{op} was refused {call}: {r:?}");
            } else {
                let s = r.expect_err(&format!("{op} was let through to {call}"));
                assert_eq!(s.code(), Code::PermissionDenied, "{op} {call}: {s:?}");
                assert_eq!(reason(&s), "ROLE_REQUIRED");
                let info = s.get_details_error_info().unwrap();
                assert!(!info.metadata["roles"].is_empty());
            }
        }
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_session_nothing_but_health_and_sign_in() {
    let d = strict().await;
    let s = d
        .devices()
        .list_devices(pb::ListDevicesRequest {})
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::Unauthenticated);
    assert_eq!(reason(&s), "UNAUTHENTICATED");
    let s = d
        .devices()
        .list_devices(with_session("not-a-token", pb::ListDevicesRequest {}))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::Unauthenticated);
    // Health needs no session.
    let mut h = tonic_health::pb::health_client::HealthClient::new(d.channel.clone());
    h.check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap();
    // A wrong PIN and an unknown operator get the same answer.
    let mut sessions = pb::session_service_client::SessionServiceClient::new(d.channel.clone());
    for (id, pin) in [("off1", "wrong-pin"), ("nobody", "off1-pin")] {
        let s = sessions
            .sign_in(pb::SignInRequest {
                operator_id: id.into(),
                pin: pin.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(s.code(), Code::Unauthenticated, "{id}");
        assert_eq!(reason(&s), "BAD_CREDENTIALS", "{id}");
        assert_eq!(s.message(), "wrong operator id or PIN");
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_seen_signed_out_and_ended_by_disabling() {
    let d = strict().await;
    let token = d.sign_in("off1").await;
    let mut sessions = pb::session_service_client::SessionServiceClient::new(d.channel.clone());
    let s = sessions
        .get_session(with_session(&token, pb::GetSessionRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.operator_id, "off1");
    assert_eq!(s.operator_name, "Budi Santoso");
    assert_eq!(s.roles, [pb::Role::Officer as i32]);
    assert!(s.name.starts_with("sessions/") && !s.name.contains(&token));
    assert!(s.expire_time.is_some());
    sessions
        .sign_out(with_session(&token, pb::SignOutRequest {}))
        .await
        .unwrap();
    let e = try_call(&d, &token, "list devices").await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);

    // Disabled in the file while signed in: the next call is refused.
    let token = d.sign_in("off1").await;
    try_call(&d, &token, "list devices").await.unwrap();
    let f = OperatorFile::in_state_dir(&d.state_dir());
    let mut l = f.load().unwrap();
    l.set_disabled("off1", true).unwrap();
    f.save(&l).unwrap();
    let e = try_call(&d, &token, "list devices").await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let e = sessions
        .sign_in(pb::SignInRequest {
            operator_id: "off1".into(),
            pin: "off1-pin".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert_eq!(reason(&e), "OPERATOR_DISABLED");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_pins_lock_the_operator() {
    let d = strict().await;
    let mut sessions = pb::session_service_client::SessionServiceClient::new(d.channel.clone());
    for _ in 0..5 {
        sessions
            .sign_in(pb::SignInRequest {
                operator_id: "spv1".into(),
                pin: "123456".into(),
            })
            .await
            .unwrap_err();
    }
    let s = sessions
        .sign_in(pb::SignInRequest {
            operator_id: "spv1".into(),
            pin: "spv1-pin".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::ResourceExhausted);
    assert_eq!(reason(&s), "OPERATOR_LOCKED");
    assert!(s.get_error_details().retry_info().is_some());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_need_a_supervisor_and_record_who() {
    let d = strict().await;
    let officer = d.sign_in("off1").await;
    let supervisor = d.sign_in("spv1").await;
    let mut c = d.enroll();
    let e = c
        .create_enrollment(with_session(
            &officer,
            pb::CreateEnrollmentRequest {
                applicant: Some(applicant()),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    c.check_documents(with_session(
        &officer,
        pb::CheckDocumentsRequest {
            name: e.name.clone(),
            kk_number_on_document: applicant().kk_number,
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    c.verify_identity(with_session(&officer, step(&e.name)))
        .await
        .unwrap();
    let missing = pb::CaptureFingerprintsStepRequest {
        name: e.name.clone(),
        missing: vec![pb::MissingFinger {
            position: pb::FingerPosition::RightLittle as i32,
            reason: pb::MissingReason::Amputated as i32,
        }],
        overrides: vec![pb::FingerOverride {
            position: pb::FingerPosition::RightLittle as i32,
            reason: "amputated, seen by the supervisor".into(),
            supervisor_id: "someone-else".into(),
        }],
        ..Default::default()
    };
    let s = c
        .capture_fingerprints(with_session(&officer, missing.clone()))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied);
    assert_eq!(reason(&s), "ROLE_REQUIRED");
    let e = c
        .capture_fingerprints(with_session(&supervisor, missing))
        .await
        .unwrap()
        .into_inner();
    let entry = e
        .history
        .iter()
        .rfind(|h| h.step == pb::Step::CaptureFingerprints as i32)
        .unwrap();
    assert!(
        entry.note.contains("(supervisor spv1)"),
        "the override names the signed-in supervisor: {}",
        entry.note
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_user_needs_no_session_on_the_socket_unless_required() {
    let d = TestDaemon::start().await;
    let s = pb::session_service_client::SessionServiceClient::new(d.channel.clone())
        .get_session(pb::GetSessionRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.name, "sessions/local");
    assert_eq!(s.operator_id, format!("local:{}", nix::unistd::geteuid()));
    assert_eq!(s.roles.len(), 4, "every role");
    d.devices()
        .list_devices(pb::ListDevicesRequest {})
        .await
        .unwrap();
    // The steps it asks for are recorded under its uid.
    let id = verified(&d).await;
    let e = d.get(&id).await;
    let me = format!("local:{}", nix::unistd::geteuid());
    assert!(e.history.len() >= 3);
    assert!(
        e.history.iter().all(|h| h.operator == me),
        "{:?}",
        e.history
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_always_needs_a_session() {
    let d = TestDaemon::start_with_tcp(|_| {}).await;
    write_operators(&d.state_dir(), &OPERATORS);
    let addr = d.tcp.expect("a TCP address");
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut devices = pb::device_service_client::DeviceServiceClient::new(ch.clone());
    let s = devices
        .list_devices(pb::ListDevicesRequest {})
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::Unauthenticated, "{s:?}");
    let token = pb::session_service_client::SessionServiceClient::new(ch)
        .sign_in(pb::SignInRequest {
            operator_id: "off1".into(),
            pin: "off1-pin".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .token;
    let list = devices
        .list_devices(with_session(&token, pb::ListDevicesRequest {}))
        .await
        .unwrap();
    assert_eq!(list.into_inner().devices.len(), 5);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekamctl_manages_operators_and_signs_in() {
    let d = strict().await;
    let state = d.state_dir();
    let run = |args: &[&str], pin: Option<&str>| {
        let mut cmd = std::process::Command::new(workspace_bin("rekamctl"));
        cmd.arg("--socket").arg(&d.socket).args(args);
        match pin {
            Some(p) => cmd.env("REKAM_PIN", p),
            None => cmd.env_remove("REKAM_PIN"),
        };
        cmd.env_remove("REKAM_OPERATOR").env_remove("REKAM_TOKEN");
        cmd.output().unwrap()
    };
    let state_arg = state.to_str().unwrap();
    let out = run(
        &[
            "operator",
            "add",
            "off2",
            "--name",
            "Sari",
            "--role",
            "officer",
            "--state-dir",
            state_arg,
        ],
        Some("sari-123"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &["--json", "operator", "list", "--state-dir", state_arg],
        None,
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 5);
    assert_eq!(list[4]["id"], "off2");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("sari-123"));
    // Without a session the daemon refuses; signed in, the new operator is who it says.
    let out = run(&["devices"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("UNAUTHENTICATED"));
    let out = run(
        &["--operator", "off2", "--json", "whoami"],
        Some("sari-123"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let me: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(me["operator_id"], "off2");
    assert_eq!(me["roles"][0], "OFFICER");
    // A token from `signin` serves later calls; `operator disable` ends it.
    let out = run(&["--operator", "off2", "signin"], Some("sari-123"));
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(token.len(), 64);
    let out = run(&["--token", &token, "devices"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &["operator", "disable", "off2", "--state-dir", state_arg],
        None,
    );
    assert!(out.status.success());
    let out = run(&["--token", &token, "devices"], None);
    assert!(!out.status.success());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_on_personal_data_are_audited_with_who_and_what() {
    let d = strict().await;
    let officer = d.sign_in("off1").await;
    let mut c = d.enroll();
    let e = c
        .create_enrollment(with_session(
            &officer,
            pb::CreateEnrollmentRequest {
                applicant: Some(applicant()),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    // Every step records who asked for it.
    assert_eq!(e.history[0].operator, "off1");
    c.get_enrollment(with_session(
        &officer,
        pb::GetEnrollmentRequest {
            name: e.name.clone(),
        },
    ))
    .await
    .unwrap();
    let s = c
        .get_media(with_session(
            &officer,
            pb::GetMediaRequest {
                name: e.name.clone(),
                kind: pb::MediaKind::Face as i32,
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::NotFound);
    try_call(&d, &officer, "reprint").await.unwrap_err();
    c.list_enrollments(pb::ListEnrollmentsRequest::default())
        .await
        .unwrap_err();
    try_call(&d, &officer, "list devices").await.unwrap();

    // An officer cannot read the log; a supervisor can, and finds each call.
    let s = pb::audit_service_client::AuditServiceClient::new(d.channel.clone())
        .list_audit_entries(with_session(
            &officer,
            pb::ListAuditEntriesRequest::default(),
        ))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied);
    let supervisor = d.sign_in("spv1").await;
    let mut log = pb::ListAuditEntriesResponse::default();
    for _ in 0..100 {
        log = pb::audit_service_client::AuditServiceClient::new(d.channel.clone())
            .list_audit_entries(with_session(
                &supervisor,
                pb::ListAuditEntriesRequest::default(),
            ))
            .await
            .unwrap()
            .into_inner();
        if log.entries.len() >= 7 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let seen: Vec<(&str, &str, &str, &str)> = log
        .entries
        .iter()
        .map(|a| {
            (
                a.operator_id.as_str(),
                a.method.trim_start_matches("rekam.v1."),
                a.subject.as_str(),
                a.outcome.as_str(),
            )
        })
        .collect();
    let name = e.name.as_str();
    assert_eq!(
        seen,
        [
            ("-", "SessionService/SignIn", "operators/off1", "OK"),
            ("off1", "EnrollmentService/CreateEnrollment", name, "OK"),
            ("off1", "EnrollmentService/GetEnrollment", name, "OK"),
            ("off1", "EnrollmentService/GetMedia", "", "NOT_FOUND"),
            (
                "off1",
                "EnrollmentService/ReprintCard",
                "",
                "PERMISSION_DENIED"
            ),
            (
                "-",
                "EnrollmentService/ListEnrollments",
                "",
                "UNAUTHENTICATED"
            ),
            ("-", "SessionService/SignIn", "operators/spv1", "OK"),
        ][..seen.len().min(7)],
        "the list devices call is not audited"
    );
    assert_eq!(seen.len(), 7, "{seen:#?}");
    assert!(log.chain_intact);
    assert_eq!(log.total_entries, 7);
    assert!(log.entries[1].session.starts_with("sessions/"));
    assert_eq!(log.entries[1].sequence, 2);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_daemon_writes_every_audit_entry_first() {
    // A real rekamd process: when it exits, a writer task still holding entries would
    // be gone with it.
    let dir = tempfile::tempdir().unwrap();
    let d = Rekamd::start(dir.path(), 0.0).await;
    let calls = (0..400).map(|n| {
        let mut c = d.enroll();
        async move {
            c.get_enrollment(pb::GetEnrollmentRequest {
                name: format!("enrollments/none-{n}"),
            })
            .await
            .unwrap_err()
        }
    });
    futures::future::join_all(calls).await;
    // Stopped at once: SIGTERM as systemd sends it.
    let status = d.terminate();
    assert!(status.success(), "{status:?}");
    let state = dir.path().join("state");
    let store = rekam_store::SqliteStore::open(
        &state,
        &rekam_store::KeySource::locate(&state),
        &rekam_store::StoreOptions::default(),
    )
    .unwrap();
    use rekam_store::EnrollmentStore as _;
    let entries = store.audit_entries(0, 1000).unwrap();
    assert_eq!(entries.len(), 400, "every call's entry is in the store");
    assert!(entries.iter().all(|a| a.entry.outcome == "NOT_FOUND"
        && a.entry.method == "rekam.v1.EnrollmentService/GetEnrollment"));
    assert_eq!(store.check_audit().unwrap().first_broken, None);
}
