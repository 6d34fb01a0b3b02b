//! The SQLite store on disk: durability across reopening, versions, lists, encryption at
//! rest, wiping, and the failures a technician meets (wrong or missing key, a damaged
//! file, a full store).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::SystemTime;

use rekam_store::*;

const NIK: &str = "3171011501900001";
const NAME: &[u8] = b"BUDI SANTOSO BIN SLAMET";

fn index(stage: &str, open: bool, day: &str, receipt: Option<&str>) -> Index {
    Index {
        stage: stage.into(),
        open,
        created_at: SystemTime::now(),
        created_day: day.into(),
        receipt_number: receipt.map(str::to_string),
    }
}

fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
    SqliteStore::open(
        dir,
        &KeySource::File(dir.join("store.key")),
        &StoreOptions::default(),
    )
}

fn create(s: &dyn EnrollmentStore, id: &str, nik: &str, day: &str) {
    s.create(&NewEnrollment {
        id,
        nik,
        index: &index("CREATED", true, day, None),
        summary: NAME,
        answer: None,
    })
    .unwrap();
}

/// A recognisable "image": 256 KiB of a pattern that appears nowhere else.
/// 256 KiB that do not compress (as a JPEG would not): xorshift noise.
fn image(seed: u8) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(seed);
    (0..256 * 1024u32)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A raw slap as a scanner gives it: white background, a noisy print in the middle.
fn slap(seed: u8) -> Vec<u8> {
    let (w, h) = (1600usize, 1500usize);
    let noise = image(seed);
    let mut px = vec![255u8; w * h];
    for y in 400..1100 {
        for x in 300..1300 {
            let ridge = if (x + y / 3) % 9 < 4 { 40 } else { 200 };
            px[y * w + x] = ridge ^ (noise[(y * w + x) % noise.len()] & 0x0F);
        }
    }
    px
}

fn file_bytes(dir: &Path) -> Vec<u8> {
    let mut all = std::fs::read(dir.join("enrollments.db")).unwrap();
    if let Ok(wal) = std::fs::read(dir.join("enrollments.db-wal")) {
        all.extend(wal);
    }
    all
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn commits_survive_reopening_and_versions_guard_every_change() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path()).unwrap();
        create(&s, "01A", NIK, "2026-11-28");
        let img = image(1);
        let v = s
            .commit(&Commit {
                id: "01A",
                expected_version: 1,
                index: &index("RECORDED", true, "2026-11-28", None),
                summary: b"recorded",
                put: &[("face", &img), ("signature", b"ink")],
                delete: &[],
                answer: Some(RememberedAnswer {
                    request_id: "req-1",
                    fingerprint: [7; 32],
                    answer: b"first answer",
                }),
                enqueue: None,
            })
            .unwrap();
        assert_eq!(v, 2);
        // A change made from an old version is refused and changes nothing.
        let err = s
            .commit(&Commit {
                id: "01A",
                expected_version: 1,
                index: &index("CANCELLED", false, "2026-11-28", None),
                summary: b"lost update",
                put: &[],
                delete: &["face"],
                answer: None,
                enqueue: None,
            })
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::VersionConflict {
                expected: 1,
                found: 2,
                ..
            }
        ));
        assert_eq!(err.reason(), "STORE_CONFLICT");
        assert!(matches!(
            s.create(&NewEnrollment {
                id: "01A",
                nik: NIK,
                index: &index("CREATED", true, "2026-11-28", None),
                summary: b"again",
                answer: None,
            }),
            Err(StoreError::AlreadyExists(_))
        ));
    }
    let s = open(dir.path()).unwrap();
    let row = s.load("01A").unwrap().unwrap();
    assert_eq!(row.version, 2);
    assert_eq!(row.summary, b"recorded");
    assert_eq!(row.index.stage, "RECORDED");
    let arts = s.artefacts("01A").unwrap();
    assert_eq!(arts.len(), 2);
    assert_eq!(arts[0], ("face".to_string(), image(1)));
    assert_eq!(
        s.answer("req-1").unwrap().unwrap(),
        ([7; 32], b"first answer".to_vec())
    );
    assert!(s.answer("req-2").unwrap().is_none());
    assert!(s.load("nope").unwrap().is_none());
    assert!(matches!(
        s.commit(&Commit {
            id: "nope",
            expected_version: 1,
            index: &index("CREATED", true, "2026-11-28", None),
            summary: b"",
            put: &[],
            delete: &[],
            answer: None,
            enqueue: None,
        }),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn lists_filter_by_stage_day_nik_and_receipt_and_page_newest_first() {
    let s = SqliteStore::open_in_memory().unwrap();
    for i in 0..7u32 {
        let nik = format!("31710115019000{i:02}");
        let day = if i < 4 { "2026-11-27" } else { "2026-11-28" };
        create(&s, &format!("01{i:02}"), &nik, day);
    }
    s.commit(&Commit {
        id: "0103",
        expected_version: 1,
        index: &index("RECEIPT_ISSUED", true, "2026-11-27", Some("RCPT-9")),
        summary: b"receipt",
        put: &[],
        delete: &[],
        answer: None,
        enqueue: None,
    })
    .unwrap();
    let ids = |p: &Page| p.rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    let all = s.list(&ListFilter::default()).unwrap();
    assert_eq!(
        ids(&all),
        ["0106", "0105", "0104", "0103", "0102", "0101", "0100"]
    );
    let first = s
        .list(&ListFilter {
            limit: 3,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&first), ["0106", "0105", "0104"]);
    assert!(first.more);
    assert_eq!(first.total, 7);
    let last = s
        .list(&ListFilter {
            limit: 4,
            before_id: Some("0104".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&last), ["0103", "0102", "0101", "0100"]);
    assert!(!last.more);
    let day = s
        .list(&ListFilter {
            day: Some("2026-11-28".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&day), ["0106", "0105", "0104"]);
    let nik = s
        .list(&ListFilter {
            nik: Some("3171011501900002".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&nik), ["0102"]);
    let receipt = s
        .list(&ListFilter {
            receipt_number: Some("RCPT-9".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&receipt), ["0103"]);
    assert_eq!(receipt.rows[0].summary, b"receipt");
    let stage = s
        .list(&ListFilter {
            stage: Some("CREATED".into()),
            open: Some(true),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(stage.total, 6);
}

#[test]
fn the_file_shows_no_nik_name_or_image_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).unwrap();
    create(&s, "01A", NIK, "2026-11-28");
    let img = image(9);
    s.commit(&Commit {
        id: "01A",
        expected_version: 1,
        index: &index("RECORDED", true, "2026-11-28", None),
        summary: NAME,
        put: &[("slap:RIGHT_FOUR", &img)],
        delete: &[],
        answer: None,
        enqueue: None,
    })
    .unwrap();
    let raw = file_bytes(dir.path());
    assert!(raw.len() > 256 * 1024, "the artefact is in the file");
    assert!(!contains(&raw, NIK.as_bytes()), "NIK in clear");
    assert!(!contains(&raw, &NAME[..12]), "name in clear");
    assert!(!contains(&raw, &img[1000..1032]), "image bytes in clear");
    // The NIK is still found, through its keyed hash.
    let found = s
        .list(&ListFilter {
            nik: Some(NIK.into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(found.rows.len(), 1);
}

#[test]
fn wiping_overwrites_the_biometrics_and_keeps_their_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).unwrap();
    create(&s, "01A", NIK, "2026-11-28");
    let img = image(3);
    s.commit(&Commit {
        id: "01A",
        expected_version: 1,
        index: &index("HANDED_OVER", false, "2026-11-28", None),
        summary: NAME,
        put: &[("face", &img)],
        delete: &[],
        answer: Some(RememberedAnswer {
            request_id: "r",
            fingerprint: [1; 32],
            answer: NAME,
        }),
        enqueue: None,
    })
    .unwrap();
    // What the sealed artefact looks like on disk, to look for it afterwards.
    let conn = rusqlite::Connection::open(dir.path().join("enrollments.db")).unwrap();
    let sealed: Vec<u8> = conn
        .query_row("SELECT data FROM artefacts", [], |r| r.get(0))
        .unwrap();
    drop(conn);
    assert!(contains(&file_bytes(dir.path()), &sealed[5000..5064]));
    assert_eq!(s.wipe("01A", 2, b"minimal").unwrap(), 3);
    let raw = file_bytes(dir.path());
    assert!(
        !contains(&raw, &sealed[5000..5064]),
        "the sealed image is overwritten, not just unlinked"
    );
    assert!(s.artefacts("01A").unwrap().is_empty());
    let row = s.load("01A").unwrap().unwrap();
    assert!(row.wiped);
    assert_eq!(row.summary, b"minimal");
    assert!(s.answer("r").unwrap().is_none());
    let conn = rusqlite::Connection::open(dir.path().join("enrollments.db")).unwrap();
    let (size, sha): (i64, Vec<u8>) = conn
        .query_row("SELECT size, sha256 FROM artefacts", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(size, img.len() as i64);
    use sha2::Digest;
    assert_eq!(sha, sha2::Sha256::digest(&img).to_vec());
}

#[test]
fn a_missing_or_wrong_key_is_refused_and_nothing_is_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path()).unwrap();
        create(&s, "01A", NIK, "2026-11-28");
    }
    let key = dir.path().join("store.key");
    let saved = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::KeyMissing(_)), "{err}");
    assert!(err.is_fatal());
    assert!(
        !key.exists(),
        "no new key is made for a store that holds data"
    );

    StoreKey::create(&key).unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey(_)), "{err}");
    assert_eq!(err.reason(), "STORE_KEY");

    std::fs::remove_file(&key).unwrap();
    std::fs::write(&key, &saved).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let s = open(dir.path()).unwrap();
    assert_eq!(s.load("01A").unwrap().unwrap().summary, NAME);
}

#[test]
fn a_damaged_file_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path()).unwrap();
        for i in 0..50 {
            create(&s, &format!("01{i:03}"), NIK, "2026-11-28");
        }
    }
    let db = dir.path().join("enrollments.db");
    let mut bytes = std::fs::read(&db).unwrap();
    // Scribble over every page after the first (the header stays readable).
    for b in bytes.iter_mut().skip(4096) {
        *b = 0x5a;
    }
    std::fs::write(&db, &bytes).unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert_eq!(err.reason(), "STORE_CORRUPT");

    // Not a database at all.
    std::fs::write(&db, vec![0x42; 8192]).unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
}

#[test]
fn a_full_store_refuses_the_write_and_keeps_what_it_had() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(
        dir.path(),
        &KeySource::File(dir.path().join("store.key")),
        &StoreOptions {
            max_bytes: Some(2 * 1024 * 1024),
        },
    )
    .unwrap();
    create(&s, "01A", NIK, "2026-11-28");
    let mut version = 1;
    let mut err = None;
    for i in 0..20u8 {
        let img = image(i);
        let name = format!("slap{i}");
        match s.commit(&Commit {
            id: "01A",
            expected_version: version,
            index: &index("CREATED", true, "2026-11-28", None),
            summary: NAME,
            put: &[(&name, &img)],
            delete: &[],
            answer: None,
            enqueue: None,
        }) {
            Ok(v) => version = v,
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let err = err.expect("the store fills up");
    assert!(matches!(err, StoreError::Full(_)), "{err}");
    assert_eq!(err.reason(), "STORE_FULL");
    // The failed commit left nothing half-written; what was committed is all there.
    let row = s.load("01A").unwrap().unwrap();
    assert_eq!(row.version, version);
    assert_eq!(s.artefacts("01A").unwrap().len() as u64, version - 1);
}

#[test]
fn running_markers_stay_until_the_step_commits() {
    let dir = tempfile::tempdir().unwrap();
    let marker = RunningMarker {
        enrollment_id: "01A".into(),
        step: "PRINT".into(),
        operation_id: "op".into(),
        started_ms: 1,
        device_ids: vec!["printer-0".into()],
        job_id: Some("job-7".into()),
        card_used: true,
    };
    {
        let s = open(dir.path()).unwrap();
        create(&s, "01A", NIK, "2026-11-28");
        s.mark_running(&marker).unwrap();
    }
    // As after a crash: the marker is there.
    let s = open(dir.path()).unwrap();
    assert_eq!(s.running_markers().unwrap(), vec![marker]);
    s.commit(&Commit {
        id: "01A",
        expected_version: 1,
        index: &index("CREATED", true, "2026-11-28", None),
        summary: b"interrupted",
        put: &[],
        delete: &[],
        answer: None,
        enqueue: None,
    })
    .unwrap();
    assert!(s.running_markers().unwrap().is_empty());
}

#[test]
fn a_store_from_a_newer_rekamd_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join("enrollments.db")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
}

#[test]
fn a_package_queued_with_its_commit_is_delivered_once_and_answered() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = SystemTime::now();
    let package = image(7);
    {
        let s = open(dir.path()).unwrap();
        create(&s, "01A", NIK, "2026-11-28");
        s.commit(&Commit {
            id: "01A",
            expected_version: 1,
            index: &index("RECORDED", true, "2026-11-28", None),
            summary: b"recorded",
            put: &[],
            delete: &[],
            answer: None,
            enqueue: Some(Enqueue {
                key: "01A:abc",
                station_id: "SIM-0001",
                package: &package,
            }),
        })
        .unwrap();
        assert!(
            !contains(&file_bytes(dir.path()), &package[100..132]),
            "sealed"
        );
    }
    // Queued durably: still there after reopening.
    let s = open(dir.path()).unwrap();
    let due = s.outbox_due(SystemTime::now(), 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].package, package);
    assert_eq!((due[0].key.as_str(), due[0].attempts), ("01A:abc", 0));
    // A failed attempt: due again later, not now.
    let later = t0 + std::time::Duration::from_secs(60);
    s.outbox_attempt(
        "01A:abc",
        &DeliveryAttempt {
            at: SystemTime::now(),
            delivered: false,
            duplicate: false,
            error: Some("DATA_CENTRE_UNAVAILABLE: connection refused"),
            next_attempt: Some(later),
        },
    )
    .unwrap();
    assert!(s.outbox_due(SystemTime::now(), 10).unwrap().is_empty());
    let d = s.delivery("01A").unwrap().unwrap();
    assert_eq!(d.attempts, 1);
    assert_eq!(
        d.next_attempt_at,
        Some(rekam_store::from_ms(rekam_store::to_ms(later)))
    );
    assert!(d.last_error.unwrap().contains("refused"));
    // The officer retries: due now.
    assert!(s.outbox_retry_now("01A").unwrap());
    assert_eq!(s.outbox_due(SystemTime::now(), 10).unwrap().len(), 1);
    s.outbox_attempt(
        "01A:abc",
        &DeliveryAttempt {
            at: SystemTime::now(),
            delivered: true,
            duplicate: false,
            error: None,
            next_attempt: None,
        },
    )
    .unwrap();
    assert!(s.outbox_due(SystemTime::now(), 10).unwrap().is_empty());
    assert_eq!(s.outbox_next_due().unwrap(), None);
    assert!(
        !s.outbox_retry_now("01A").unwrap(),
        "nothing waits once delivered"
    );
    // Answers are kept once each.
    let received = CentralAnswer {
        kind: "RECEIVED".into(),
        reference: "DC-1".into(),
        reason: String::new(),
        detail: String::new(),
        // Kept to the millisecond.
        at: rekam_store::from_ms(rekam_store::to_ms(SystemTime::now())),
    };
    assert!(s.record_answer("01A:abc", "01A", &received).unwrap());
    assert!(!s.record_answer("01A:abc", "01A", &received).unwrap());
    let d = s.delivery("01A").unwrap().unwrap();
    assert!(d.delivered_at.is_some() && d.next_attempt_at.is_none());
    assert_eq!(d.answers, vec![received]);
    assert_eq!(s.deliveries(true, 0).unwrap().len(), 0);
    assert_eq!(s.deliveries(false, 0).unwrap().len(), 1);
}

#[test]
fn raw_slaps_are_kept_compressed_and_come_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).unwrap();
    create(&s, "01A", NIK, "2026-11-28");
    let slaps: Vec<Vec<u8>> = (0..3).map(slap).collect();
    let face = image(9);
    s.commit(&Commit {
        id: "01A",
        expected_version: 1,
        index: &index("IDENTITY_VERIFIED", true, "2026-11-28", None),
        summary: NAME,
        put: &[
            ("slap:RIGHT_FOUR", &slaps[0]),
            ("slap:LEFT_FOUR", &slaps[1]),
            ("slap:BOTH_THUMBS", &slaps[2]),
            ("face", &face),
        ],
        delete: &[],
        answer: None,
        enqueue: None,
    })
    .unwrap();
    let mut back = s.artefacts("01A").unwrap();
    back.sort();
    let mut want = vec![
        ("face".to_string(), face.clone()),
        ("slap:BOTH_THUMBS".to_string(), slaps[2].clone()),
        ("slap:LEFT_FOUR".to_string(), slaps[1].clone()),
        ("slap:RIGHT_FOUR".to_string(), slaps[0].clone()),
    ];
    want.sort();
    assert!(back == want, "every artefact comes back byte for byte");
    // On disk: the slaps packed (codec 1) to well under their size, the face (noise) raw.
    let conn = rusqlite::Connection::open(dir.path().join("enrollments.db")).unwrap();
    let rows: Vec<(String, i64, i64, usize)> = conn
        .prepare("SELECT name, codec, size, length(data) FROM artefacts ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (name, codec, size, stored) in &rows {
        if name.starts_with("slap:") {
            assert_eq!(*codec, 1, "{name}");
            assert_eq!(*size, 2_400_000);
            assert!(*stored < 2_400_000 / 2, "{name}: {stored} bytes stored");
        } else {
            assert_eq!(*codec, 0, "{name}");
            assert!(*stored > face.len(), "{name}: sealed, not packed");
        }
    }
    // The codec is bound to the sealed record: flipping it is caught, not decoded as junk.
    conn.execute(
        "UPDATE artefacts SET codec = 0 WHERE name = 'slap:LEFT_FOUR'",
        [],
    )
    .unwrap();
    drop(conn);
    let err = s.artefacts("01A").unwrap_err();
    assert_eq!(err.reason(), "STORE_CORRUPT", "{err}");
    assert!(err.to_string().contains("slap:LEFT_FOUR"), "{err}");
}

#[test]
fn device_answers_are_remembered_by_service_and_request_id_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path()).unwrap();
        assert!(s.device_answer("printer.submit", "r1").unwrap().is_none());
        s.remember_device_answer(
            "printer.submit",
            &RememberedAnswer {
                request_id: "r1",
                fingerprint: [7; 32],
                answer: b"job-42",
            },
        )
        .unwrap();
    }
    let s = open(dir.path()).unwrap();
    let (fp, answer) = s.device_answer("printer.submit", "r1").unwrap().unwrap();
    assert_eq!(fp, [7; 32]);
    assert_eq!(answer, b"job-42");
    // Another service's request id is another request.
    assert!(s.device_answer("printer.cancel", "r1").unwrap().is_none());
    // Sealed: the answer is not in the file in clear, and a moved answer does not open.
    assert!(!contains(&file_bytes(dir.path()), b"job-42"));
    let conn = rusqlite::Connection::open(dir.path().join("enrollments.db")).unwrap();
    conn.execute(
        "UPDATE device_requests SET service = 'encoder.write' WHERE request_id = 'r1'",
        [],
    )
    .unwrap();
    drop(conn);
    let err = s.device_answer("encoder.write", "r1").unwrap_err();
    assert_eq!(err.reason(), "STORE_CORRUPT", "{err}");
}

fn audit_entry(n: i64, subject: &str) -> AuditEntry {
    AuditEntry {
        time_ms: 1_764_000_000_000 + n,
        operator: "198001".into(),
        session: "a1b2".into(),
        method: "rekam.v1.EnrollmentService/GetMedia".into(),
        subject: subject.into(),
        outcome: "OK".into(),
    }
}

#[test]
fn the_audit_log_is_append_only_and_a_change_breaks_its_chain() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).unwrap();
    s.append_audit(&[
        audit_entry(1, "enrollments/01A"),
        audit_entry(2, "enrollments/01B"),
    ])
    .unwrap();
    s.append_audit(&[audit_entry(3, "enrollments/01C")])
        .unwrap();
    let all = s.audit_entries(0, 100).unwrap();
    assert_eq!(all.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(all[1].entry, audit_entry(2, "enrollments/01B"));
    assert_eq!(s.audit_entries(2, 100).unwrap().len(), 1);
    assert_eq!(
        s.check_audit().unwrap(),
        AuditCheck {
            entries: 3,
            first_broken: None
        }
    );
    drop(s);

    // SQL cannot change or remove an entry: the triggers refuse.
    let db = rusqlite::Connection::open(dir.path().join("enrollments.db")).unwrap();
    for sql in [
        "UPDATE audit_log SET operator = 'someone' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 2",
    ] {
        let e = db.execute(sql, []).unwrap_err();
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
    // Someone who drops the triggers and edits an entry is caught by the chain.
    db.execute_batch(
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;
         UPDATE audit_log SET subject = 'enrollments/01X' WHERE seq = 2;",
    )
    .unwrap();
    drop(db);
    let s = open(dir.path()).unwrap();
    assert_eq!(s.check_audit().unwrap().first_broken, Some(2));
    drop(s);
    // Removing an entry leaves a gap the check names.
    let db = rusqlite::Connection::open(dir.path().join("enrollments.db")).unwrap();
    db.execute_batch(
        "UPDATE audit_log SET subject = 'enrollments/01B' WHERE seq = 2;
         DELETE FROM audit_log WHERE seq = 2;",
    )
    .unwrap();
    drop(db);
    let s = open(dir.path()).unwrap();
    let c = s.check_audit().unwrap();
    assert_eq!((c.entries, c.first_broken), (2, Some(2)));
}
