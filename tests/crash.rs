//! The real `rekamd` process, killed with SIGKILL after every step, in the middle of a
//! print and in the middle of a capture: after each restart the enrollment is where it
//! was and nothing recorded is lost. Also a missing key and a damaged store file: the
//! daemon keeps serving its devices and refuses enrollments with the reason.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use rekam_api::pb;
use rekam_tests::*;
use tonic::transport::Channel;

/// Every file of the state directory and its folders (the chip issuer's `chip/`),
/// concatenated, keys left out.
fn state_bytes(dir: &Path) -> Vec<u8> {
    fn walk(dir: &Path, all: &mut Vec<u8>) {
        for f in std::fs::read_dir(dir).unwrap() {
            let f = f.unwrap().path();
            if f.is_dir() {
                walk(&f, all);
            } else if f.extension().is_none_or(|e| e != "key") {
                all.extend(std::fs::read(&f).unwrap());
            }
        }
    }
    let mut all = Vec::new();
    walk(&dir.join("state"), &mut all);
    all
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_every_step_and_mid_print_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // Create, with a request id; killed before the client could read the answer.
    let p = Rekamd::start(d, 0.0).await;
    let create = pb::CreateEnrollmentRequest {
        applicant: Some(applicant()),
        request_id: "crash-create-1".into(),
    };
    let id = p
        .enroll()
        .create_enrollment(create.clone())
        .await
        .unwrap()
        .into_inner()
        .name;
    p.kill();

    // The retry after the restart answers the first request: no second enrollment.
    let p = Rekamd::start(d, 0.0).await;
    let again = p
        .enroll()
        .create_enrollment(create)
        .await
        .expect("the retried create is answered from the store")
        .into_inner();
    assert_eq!(again.name, id);
    assert_eq!(stage_name(&p.get(&id).await), "ENROLLMENT_STAGE_CREATED");

    // One step per life.
    type Call = fn(
        EnrollmentServiceClient<Channel>,
        String,
    ) -> futures::future::BoxFuture<
        'static,
        Result<tonic::Response<pb::Enrollment>, tonic::Status>,
    >;
    let steps: Vec<(&str, Call, &str)> = vec![
        (
            "check documents",
            |mut c, id| {
                Box::pin(async move {
                    c.check_documents(pb::CheckDocumentsRequest {
                        name: id,
                        kk_number_on_document: applicant().kk_number,
                        ..Default::default()
                    })
                    .await
                })
            },
            "ENROLLMENT_STAGE_DOCUMENTS_CHECKED",
        ),
        (
            "verify",
            |mut c, id| Box::pin(async move { c.verify_identity(step(&id)).await }),
            "ENROLLMENT_STAGE_IDENTITY_VERIFIED",
        ),
        (
            "face",
            |mut c, id| Box::pin(async move { c.capture_face(step(&id)).await }),
            "ENROLLMENT_STAGE_IDENTITY_VERIFIED",
        ),
        (
            "fingerprints",
            |mut c, id| {
                Box::pin(async move {
                    c.capture_fingerprints(pb::CaptureFingerprintsStepRequest {
                        name: id,
                        ..Default::default()
                    })
                    .await
                })
            },
            "ENROLLMENT_STAGE_IDENTITY_VERIFIED",
        ),
        (
            "signature",
            |mut c, id| Box::pin(async move { c.capture_signature(step(&id)).await }),
            "ENROLLMENT_STAGE_IDENTITY_VERIFIED",
        ),
        (
            "finish",
            |mut c, id| Box::pin(async move { c.finish_recording(step(&id)).await }),
            "ENROLLMENT_STAGE_RECORDED",
        ),
        (
            "send",
            |mut c, id| Box::pin(async move { c.send(step(&id)).await }),
            "ENROLLMENT_STAGE_SENT",
        ),
    ];
    let mut p = p;
    for (name, call, expect) in steps {
        let answered = call(p.enroll(), id.clone()).await.unwrap().into_inner();
        assert_eq!(stage_name(&answered), expect, "{name}");
        let history = answered.history.len();
        if name == "finish" {
            // The in-process data-centre simulator answers "received" and "print-ready"
            // at once, and lives in the process killed here: a kill between the two
            // answers would lose the second with it (a real data centre, or the
            // `rekam-sim datacentre` process of tests/outbox.rs, keeps it). So the kill
            // waits for the answers (instant at time scale 0) to be kept.
            for _ in 0..500 {
                let d = p.get(&id).await.delivery.unwrap_or_default();
                if !d.print_ready_reference.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
        p.kill();
        p = Rekamd::start(d, 0.0).await;
        let e = p.get(&id).await;
        assert_eq!(stage_name(&e), expect, "after {name} and a SIGKILL");
        assert_eq!(e.history.len(), history, "history after {name}");
        assert_eq!(e.recording, answered.recording, "recording after {name}");
    }
    // The images survived, not only their summary.
    let e = p.get(&id).await;
    let r = e.recording.as_ref().unwrap();
    assert!(r.face && r.signature && r.fingers.len() == 10, "{r:?}");
    assert!(!e.send_reference.is_empty());
    for (kind, position) in [
        (pb::MediaKind::Face, 0),
        (pb::MediaKind::Slap, pb::FingerPosition::RightFour as i32),
        (pb::MediaKind::Signature, 0),
    ] {
        let m = p
            .enroll()
            .get_media(pb::GetMediaRequest {
                name: id.clone(),
                kind: kind as i32,
                position,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|s| panic!("{kind:?} after restarts: {s:?}"))
            .into_inner();
        assert!(!m.data.is_empty());
    }
    // Nothing personal in clear on disk.
    let raw = state_bytes(d);
    assert!(raw.len() > 1_000_000, "the recording is on disk");
    let a = applicant();
    for needle in [&a.nik, &a.name, &a.address, &a.kk_number] {
        assert!(
            !contains(&raw, needle.as_bytes()),
            "{needle} in clear on disk"
        );
    }
    p.kill();

    // A print killed in the middle: timings at 5 % so it lasts about a second.
    let p = Rekamd::start(d, 0.05).await;
    let mut c = p.enroll();
    let pid = id.clone();
    let print = tokio::spawn(async move { c.print(step(&pid)).await });
    let mut seen = None;
    for _ in 0..400 {
        let e = p.get(&id).await;
        if let Some(op) = e
            .running_step
            .filter(|o| !o.print_job.is_empty() && o.card_used)
        {
            seen = Some(op);
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let op = seen.expect("the print submitted its job and fed a card");
    p.kill();
    assert!(print.await.unwrap().is_err(), "the client lost its answer");

    let p = Rekamd::start(d, 0.0).await;
    let e = p.get(&id).await;
    assert_eq!(
        stage_name(&e),
        "ENROLLMENT_STAGE_SENT",
        "the print did not commit"
    );
    let last = e.history.last().unwrap();
    assert_eq!(last.step, pb::Step::Print as i32);
    assert_eq!(last.status, pb::StepStatus::Failed as i32);
    assert_eq!(last.error_reason, "STEP_INTERRUPTED");
    assert_eq!(
        last.print_job, op.print_job,
        "the officer sees which job ran"
    );
    assert!(last.card_spoiled, "and that its card blank is spoiled");
    assert_eq!(last.operation, op.name);
    assert!(e.running_step.is_none());
    // The step is retried and the enrollment finishes.
    let mut c = p.enroll();
    c.print(step(&id)).await.expect("print again");
    c.encode(step(&id)).await.expect("encode");
    let done = c
        .hand_over(step(&id))
        .await
        .expect("hand over")
        .into_inner();
    assert_eq!(stage_name(&done), "ENROLLMENT_STAGE_HANDED_OVER");
    p.kill();

    // Finished: read from disk, found by NIK, and the NIK may enroll again.
    let p = Rekamd::start(d, 0.0).await;
    let e = p.get(&id).await;
    assert_eq!(stage_name(&e), "ENROLLMENT_STAGE_HANDED_OVER");
    assert_eq!(e.history.len(), done.history.len());
    let listed = p
        .enroll()
        .list_enrollments(pb::ListEnrollmentsRequest {
            nik: applicant().nik,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.enrollments.len(), 1);
    assert_eq!(listed.enrollments[0].name, id);
    let second = p
        .enroll()
        .create_enrollment(pb::CreateEnrollmentRequest {
            applicant: Some(applicant()),
            ..Default::default()
        })
        .await
        .expect("a new enrollment for a handed-over NIK")
        .into_inner();
    assert_ne!(second.name, id, "ids never repeat across restarts");
    p.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_capture_the_enrollment_stays_at_its_last_commit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = Rekamd::start(d, 0.0).await;
    let mut c = p.enroll();
    let id = c
        .create_enrollment(pb::CreateEnrollmentRequest {
            applicant: Some(applicant()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .name;
    c.check_documents(pb::CheckDocumentsRequest {
        name: id.clone(),
        kk_number_on_document: applicant().kk_number,
        ..Default::default()
    })
    .await
    .unwrap();
    c.verify_identity(step(&id)).await.unwrap();
    c.capture_face(step(&id)).await.unwrap();
    p.kill();

    let p = Rekamd::start(d, 0.05).await;
    let mut c = p.enroll();
    let cid = id.clone();
    let capture = tokio::spawn(async move {
        c.capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            name: cid,
            ..Default::default()
        })
        .await
    });
    let mut running = false;
    for _ in 0..400 {
        if p.get(&id).await.running_step.is_some() {
            running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(running, "the capture started");
    tokio::time::sleep(Duration::from_millis(20)).await;
    p.kill();
    assert!(capture.await.unwrap().is_err());

    let p = Rekamd::start(d, 0.0).await;
    let e = p.get(&id).await;
    assert_eq!(stage_name(&e), "ENROLLMENT_STAGE_IDENTITY_VERIFIED");
    let r = e.recording.as_ref().unwrap();
    assert!(r.face, "the face committed before the crash is kept");
    assert!(
        r.fingers.iter().all(|f| f.quality == 0),
        "nothing half-captured: {:?}",
        r.fingers
    );
    assert!(e.running_step.is_none());
    // The capture is retried from the start.
    let e = p
        .enroll()
        .capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            name: id.clone(),
            ..Default::default()
        })
        .await
        .expect("capture again")
        .into_inner();
    assert_eq!(e.recording.unwrap().fingers.len(), 10);
    p.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_key_or_a_damaged_store_refuses_enrollments_and_serves_devices() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = Rekamd::start(d, 0.0).await;
    let id = p
        .enroll()
        .create_enrollment(pb::CreateEnrollmentRequest {
            applicant: Some(applicant()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .name;
    assert_eq!(
        p.enrollment_health().await,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    p.kill();

    let key = d.join("state/store.key");
    let aside = d.join("store.key.saved");
    std::fs::rename(&key, &aside).unwrap();
    let p = Rekamd::start(d, 0.0).await;
    assert_eq!(
        p.enrollment_health().await,
        tonic_health::pb::health_check_response::ServingStatus::NotServing as i32
    );
    let err = p
        .enroll()
        .get_enrollment(pb::GetEnrollmentRequest { name: id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    assert_eq!(reason(&err), "STORE_KEY");
    assert!(err.message().contains("key"), "{}", err.message());
    let err = p
        .enroll()
        .create_enrollment(pb::CreateEnrollmentRequest {
            applicant: Some(applicant()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "STORE_KEY");
    assert!(!key.exists(), "no new key replaced the lost one");
    // The devices are served as usual.
    let devices = DeviceServiceClient::new(p.channel.clone())
        .list_devices(pb::ListDevicesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(devices.devices.len(), 5);
    p.kill();

    // The key back: everything is there.
    std::fs::rename(&aside, &key).unwrap();
    let p = Rekamd::start(d, 0.0).await;
    assert_eq!(stage_name(&p.get(&id).await), "ENROLLMENT_STAGE_CREATED");
    p.kill();

    // A damaged file.
    let db = d.join("state/enrollments.db");
    let _ = std::fs::remove_file(d.join("state/enrollments.db-wal"));
    let _ = std::fs::remove_file(d.join("state/enrollments.db-shm"));
    let mut bytes = std::fs::read(&db).unwrap();
    for b in bytes.iter_mut().skip(100) {
        *b = 0xa5;
    }
    std::fs::write(&db, bytes).unwrap();
    let p = Rekamd::start(d, 0.0).await;
    assert_eq!(
        p.enrollment_health().await,
        tonic_health::pb::health_check_response::ServingStatus::NotServing as i32
    );
    let err = p
        .enroll()
        .get_enrollment(pb::GetEnrollmentRequest { name: id })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::DataLoss, "{err:?}");
    assert_eq!(reason(&err), "STORE_CORRUPT");
    p.kill();
}

#[tokio::test]
async fn a_full_store_refuses_the_step_and_new_enrollments_and_keeps_what_it_has() {
    // A store limited to 2 MB: the face fits, the fingerprints (three raw slaps) do not.
    let d = TestDaemon::start_with(|c| c.store.max_megabytes = Some(2)).await;
    let mut c = d.enroll();
    let id = verified(&d).await;
    c.capture_face(step(&id)).await.expect("the face fits");
    let err = c
        .capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            name: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    assert_eq!(reason(&err), "STORE_FULL");
    // The enrollment stays at its last commit, with its face, and can be read.
    let e = c
        .get_enrollment(pb::GetEnrollmentRequest { name: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stage_name(&e), "ENROLLMENT_STAGE_IDENTITY_VERIFIED");
    let r = e.recording.unwrap();
    assert!(r.face);
    assert!(r.fingers.iter().all(|f| f.quality == 0));
    // No new recording is started while the store is full.
    let mut other = applicant();
    other.nik = "3171011501900001".into();
    other.birth_date = Some(rekam_api::Date {
        year: 1990,
        month: 1,
        day: 15,
    });
    other.sex = pb::Sex::Male as i32;
    let err = c
        .create_enrollment(pb::CreateEnrollmentRequest {
            applicant: Some(other),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    assert_eq!(reason(&err), "STORE_FULL");
    let mut h = tonic_health::pb::health_client::HealthClient::new(d.channel.clone());
    let mut status = 0;
    for _ in 0..40 {
        status = h
            .check(tonic_health::pb::HealthCheckRequest {
                service: "rekam.v1.EnrollmentService".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        if status == tonic_health::pb::health_check_response::ServingStatus::NotServing as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::NotServing as i32
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_retention_the_data_is_wiped_at_hand_over_and_a_minimal_record_stays() {
    let d = TestDaemon::start_with(|c| c.store.biometrics_retention_hours = 0).await;
    let mut c = d.enroll();
    let id = recorded(&d).await;
    c.send(step(&id)).await.unwrap();
    c.print(step(&id)).await.unwrap();
    c.encode(step(&id)).await.unwrap();
    let done = c.hand_over(step(&id)).await.unwrap().into_inner();
    let e = c
        .get_enrollment(pb::GetEnrollmentRequest { name: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(e.wiped, "wiped once handed over after print-ready");
    assert!(
        e.applicant.is_none(),
        "nothing of the person: {:?}",
        e.applicant
    );
    assert_eq!(stage_name(&e), "ENROLLMENT_STAGE_HANDED_OVER");
    assert_eq!(e.history.len(), done.history.len(), "the outcomes stay");
    assert_eq!(e.send_reference, done.send_reference);
    let err = c
        .get_media(pb::GetMediaRequest {
            name: id.clone(),
            kind: pb::MediaKind::Face as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
    let err = c
        .reprint_card(pb::ReprintCardRequest {
            name: id.clone(),
            reason: pb::CardReason::Lost as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.code(),
            tonic::Code::NotFound | tonic::Code::FailedPrecondition
        ),
        "no reprint without the portrait: {err:?}"
    );
    d.stop().await;
}

/// Unmounts a test's filesystem however the test ends.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_the_step_and_keeps_what_was_committed() {
    // A real filesystem that fills up: a 4 MB tmpfs holds the store (mounting needs root,
    // as tests/run.sh runs in CI; without it this test fails, it does not skip).
    let mnt = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(mnt.path())
        .status()
        .expect("run mount");
    assert!(status.success(), "cannot mount a 4 MB tmpfs (needs root)");
    let _mounted = Mounted(mnt.path().to_path_buf());
    let state = mnt.path().join("state");
    let d = TestDaemon::start_with(|c| c.store.state_dir = Some(state.clone())).await;
    let mut c = d.enroll();
    let id = verified(&d).await;
    c.capture_face(step(&id)).await.expect("the face fits");
    let err = c
        .capture_fingerprints(pb::CaptureFingerprintsStepRequest {
            name: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    assert_eq!(reason(&err), "STORE_FULL");
    assert!(
        err.message().contains("free disk space"),
        "{}",
        err.message()
    );
    let e = c
        .get_enrollment(pb::GetEnrollmentRequest { name: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stage_name(&e), "ENROLLMENT_STAGE_IDENTITY_VERIFIED");
    assert!(e.recording.unwrap().face, "what was committed is kept");
    d.stop().await;
    // Reopened, the store has everything committed before the disk filled.
    let d = TestDaemon::start_with(|c| c.store.state_dir = Some(state.clone())).await;
    let e = d
        .enroll()
        .get_enrollment(pb::GetEnrollmentRequest { name: id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stage_name(&e), "ENROLLMENT_STAGE_IDENTITY_VERIFIED");
    assert!(e.recording.unwrap().face);
    d.stop().await;
}
