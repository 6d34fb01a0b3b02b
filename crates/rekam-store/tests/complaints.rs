//! Complaints in the SQLite store: create, commit under a version, load, list with
//! filters newest first, the summary sealed at rest, and the schema upgrade that adds them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, SystemTime};

use rekam_store::*;

/// Words of a complaint that must never be found in the file.
const MARKER: &str = "IBU SITI AMINAH MENGADUKAN KTP-EL BELUM JADI";

fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
    SqliteStore::open(
        dir,
        &KeySource::File(dir.join("store.key")),
        &StoreOptions::default(),
    )
}

fn index(status: &str, level: &str, day: &str, opened_s: u64) -> ComplaintIndex {
    ComplaintIndex {
        status: status.into(),
        level: level.into(),
        opened_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + opened_s),
        opened_day: day.into(),
        enrollment_id: None,
        receipt_number: None,
    }
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

fn ids(rows: &[ComplaintRow]) -> Vec<&str> {
    rows.iter().map(|r| r.id.as_str()).collect()
}

#[test]
fn complaints_are_created_committed_by_version_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).unwrap();
    let mut idx = index("OPEN", "SECRETARIAT", "2027-01-15", 0);
    idx.enrollment_id = Some("01ENROLLMENT".into());
    idx.receipt_number = Some("BP-0001".into());
    assert_eq!(s.create_complaint("C1", &idx, b"first").unwrap(), 1);
    assert_eq!(
        s.create_complaint("C1", &idx, b"again").unwrap_err(),
        StoreError::AlreadyExists("C1".into())
    );

    let mut moved = idx.clone();
    moved.level = "REGISTRATION".into();
    assert_eq!(s.commit_complaint("C1", 1, &moved, b"second").unwrap(), 2);
    // A desk that read version 1 loses.
    let err = s
        .commit_complaint("C1", 1, &idx, b"stale")
        .expect_err("a stale version must be refused");
    assert_eq!(
        err,
        StoreError::VersionConflict {
            id: "C1".into(),
            expected: 1,
            found: 2
        }
    );
    assert!(!err.is_fatal());
    assert_eq!(
        s.commit_complaint("C-none", 1, &idx, b"x").unwrap_err(),
        StoreError::NotFound("C-none".into())
    );
    assert_eq!(s.load_complaint("C-none").unwrap(), None);
    drop(s);

    let s = open(dir.path()).unwrap();
    let row = s.load_complaint("C1").unwrap().unwrap();
    assert_eq!(row.version, 2);
    assert_eq!(row.index, moved);
    assert_eq!(row.summary, b"second");
    // Written now (the index's times are the caller's).
    let age = SystemTime::now().duration_since(row.updated_at).unwrap();
    assert!(age < Duration::from_secs(60), "updated {age:?} ago");
}

#[test]
fn complaint_lists_filter_by_status_level_and_day_newest_first() {
    let s = SqliteStore::open_in_memory().unwrap();
    let rows = [
        ("C1", "OPEN", "SECRETARIAT", "2027-01-15", 10),
        ("C2", "OPEN", "REGISTRATION", "2027-01-15", 20),
        ("C3", "RESOLVED", "REGISTRATION", "2027-01-16", 30),
        ("C4", "OPEN", "REGISTRATION", "2027-01-16", 40),
        ("C5", "OPEN", "HEAD_OF_OFFICE", "2027-01-16", 50),
    ];
    for (id, status, level, day, t) in rows {
        s.create_complaint(id, &index(status, level, day, t), id.as_bytes())
            .unwrap();
    }
    let list = |f: ComplaintFilter| s.list_complaints(&f).unwrap();

    let all = list(ComplaintFilter::default());
    assert_eq!(ids(&all), ["C5", "C4", "C3", "C2", "C1"]);
    assert_eq!(all[0].summary, b"C5");

    let open = list(ComplaintFilter {
        status: Some("OPEN".into()),
        ..Default::default()
    });
    assert_eq!(ids(&open), ["C5", "C4", "C2", "C1"]);

    let open_dafduk = list(ComplaintFilter {
        status: Some("OPEN".into()),
        level: Some("REGISTRATION".into()),
        ..Default::default()
    });
    assert_eq!(ids(&open_dafduk), ["C4", "C2"]);

    let day = list(ComplaintFilter {
        opened_day: Some("2027-01-16".into()),
        ..Default::default()
    });
    assert_eq!(ids(&day), ["C5", "C4", "C3"]);

    let limited = list(ComplaintFilter {
        level: Some("REGISTRATION".into()),
        limit: 2,
        ..Default::default()
    });
    assert_eq!(ids(&limited), ["C4", "C3"]);

    let none = list(ComplaintFilter {
        level: Some("CIVIL_REGISTRATION".into()),
        ..Default::default()
    });
    assert!(none.is_empty());
}

#[test]
fn a_complaints_summary_is_sealed_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).unwrap();
    let summary = format!("{{\"complainant\":\"{MARKER}\"}}");
    s.create_complaint(
        "C1",
        &index("OPEN", "SECRETARIAT", "2027-01-15", 0),
        summary.as_bytes(),
    )
    .unwrap();
    assert_eq!(
        s.load_complaint("C1").unwrap().unwrap().summary,
        summary.as_bytes()
    );

    // The column itself, read without the store.
    let conn = rusqlite::Connection::open(dir.path().join("enrollments.db")).unwrap();
    let (raw, level): (Vec<u8>, String) = conn
        .query_row(
            "SELECT summary, level FROM complaints WHERE id = 'C1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(conn);
    assert_eq!(level, "SECRETARIAT", "the level is indexed in clear");
    assert!(!raw.is_empty());
    assert!(
        !contains(&raw, &MARKER.as_bytes()[..12]),
        "summary in clear"
    );
    // Nor anywhere in the file or its log.
    assert!(!contains(&file_bytes(dir.path()), &MARKER.as_bytes()[..12]));
}

#[test]
fn a_store_at_schema_4_gains_the_complaints_table_and_keeps_its_enrollments() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).unwrap();
    let enrollment = Index {
        stage: "CREATED".into(),
        open: true,
        created_at: SystemTime::now(),
        created_day: "2027-01-15".into(),
        receipt_number: None,
    };
    s.create(&NewEnrollment {
        id: "01A",
        nik: "3171011501900001",
        index: &enrollment,
        summary: b"enrollment",
        answer: None,
    })
    .unwrap();
    drop(s);

    // Take the file back to what a rekamd of schema 4 left.
    let conn = rusqlite::Connection::open(dir.path().join("enrollments.db")).unwrap();
    conn.execute_batch("DROP TABLE complaints; PRAGMA user_version = 4;")
        .unwrap();
    drop(conn);

    let s = open(dir.path()).unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("enrollments.db")).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 5);
    let indexes: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'complaints' AND sql IS NOT NULL ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(indexes, ["complaints_day", "complaints_status_level"]);
    drop(conn);
    assert_eq!(s.load("01A").unwrap().unwrap().summary, b"enrollment");
    s.create_complaint("C1", &index("OPEN", "SECRETARIAT", "2027-01-15", 0), b"c")
        .unwrap();
    assert_eq!(s.load_complaint("C1").unwrap().unwrap().version, 1);
}

#[test]
fn a_failed_store_answers_its_error_for_complaints_too() {
    let f = FailedStore(StoreError::Unavailable("no disk".into()));
    let idx = index("OPEN", "SECRETARIAT", "2027-01-15", 0);
    let want = StoreError::Unavailable("no disk".into());
    assert_eq!(f.create_complaint("C1", &idx, b"").unwrap_err(), want);
    assert_eq!(f.commit_complaint("C1", 1, &idx, b"").unwrap_err(), want);
    assert_eq!(f.load_complaint("C1").unwrap_err(), want);
    assert_eq!(
        f.list_complaints(&ComplaintFilter::default()).unwrap_err(),
        want
    );
}
