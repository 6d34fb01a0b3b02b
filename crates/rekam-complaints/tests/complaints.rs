//! The complaints desk over a real store: the whole escalation persisted across a reopen,
//! every move the routing refuses, every role refused at every level, a closed complaint,
//! two desks acting at once, validation, lists and the daily counts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, SystemTime};

use rekam_complaints::*;
use rekam_operators::{Role, Roles};
use rekam_store::{
    ComplaintFilter, ComplaintIndex, ComplaintRow, ComplaintStore, FailedStore, KeySource,
    SqliteStore, StoreError, StoreOptions,
};

/// 2027-01-15 15:00 UTC: already 2027-01-16 in Sorong (WIT, UTC+9).
const START: u64 = 1_800_025_200;
const WIT: i32 = 540;
const COMPLAINANT: &str = "YOHANA MARIA KAMBUAYA";

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// A clock that moves one minute at every reading.
fn ticking() -> Clock {
    let next = Arc::new(AtomicU64::new(START));
    Arc::new(move || at(next.fetch_add(60, Ordering::SeqCst)))
}

fn roles(r: &[Role]) -> Roles {
    r.iter().copied().collect()
}

fn officer() -> Roles {
    roles(&[Role::Officer])
}
fn supervisor() -> Roles {
    roles(&[Role::Supervisor])
}
fn head() -> Roles {
    roles(&[Role::HeadOfOffice])
}

fn open_store(dir: &Path) -> Arc<SqliteStore> {
    Arc::new(
        SqliteStore::open(
            dir,
            &KeySource::File(dir.join("store.key")),
            &StoreOptions::default(),
        )
        .unwrap(),
    )
}

fn memory_desk() -> Complaints {
    Complaints::with_clock(Arc::new(SqliteStore::open_in_memory().unwrap()), ticking())
}

fn new_complaint(text: &str) -> NewComplaint {
    NewComplaint {
        channel: Channel::Telephone,
        complainant: COMPLAINANT.into(),
        contact: "0812-4800-1234".into(),
        text: text.into(),
        enrollment_id: Some("01JENROLLMENT".into()),
        receipt_number: Some("BP-9171-000123".into()),
    }
}

fn file(desk: &Complaints) -> Complaint {
    desk.file(
        new_complaint("KTP-el saya belum jadi sejak perekaman"),
        "op-sekretariat",
        officer(),
        WIT,
    )
    .unwrap()
}

/// A complaint moved to `level` by the roles that may move it.
fn at_level(desk: &Complaints, level: Level) -> Complaint {
    let c = file(desk);
    match level {
        Level::Secretariat => c,
        Level::Secretary | Level::Registration | Level::CivilRegistration => desk
            .forward(&c.id, level, "op-sekretariat", officer(), "", None)
            .unwrap(),
        Level::HeadOfOffice => {
            let c = desk
                .forward(
                    &c.id,
                    Level::Secretary,
                    "op-sekretariat",
                    officer(),
                    "",
                    None,
                )
                .unwrap();
            desk.escalate(&c.id, "sekretaris", supervisor(), "", None)
                .unwrap()
        }
    }
}

fn file_bytes(dir: &Path) -> Vec<u8> {
    let mut all = std::fs::read(dir.join("enrollments.db")).unwrap();
    if let Ok(wal) = std::fs::read(dir.join("enrollments.db-wal")) {
        all.extend(wal);
    }
    all
}

#[test]
fn a_complaint_goes_up_to_the_head_of_office_and_its_history_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let desk = Complaints::with_clock(open_store(dir.path()), ticking());

    let filed = file(&desk);
    assert!(
        filed.id.starts_with('C') && filed.id.len() == 27,
        "{}",
        filed.id
    );
    assert_eq!(filed.version, 1);
    assert_eq!(
        (filed.level, filed.status),
        (Level::Secretariat, Status::Open)
    );
    assert_eq!(filed.opened_at, at(START));

    let forwarded = desk
        .forward(
            &filed.id,
            Level::Registration,
            "op-sekretariat",
            officer(),
            "data perekaman: Bidang Dafduk",
            Some(1),
        )
        .unwrap();
    assert_eq!(
        (forwarded.level, forwarded.version),
        (Level::Registration, 2)
    );

    let escalated = desk
        .escalate(
            &filed.id,
            "kabid-dafduk",
            supervisor(),
            "perlu keputusan Kepala Dinas",
            Some(2),
        )
        .unwrap();
    assert_eq!(
        (escalated.level, escalated.version),
        (Level::HeadOfOffice, 3)
    );
    assert_eq!(escalated.status, Status::Open);

    let resolved = desk
        .resolve(
            &filed.id,
            "kadis",
            head(),
            "KTP-el dicetak ulang, diambil besok",
            Some(3),
        )
        .unwrap();
    assert_eq!(resolved.version, 4);
    assert_eq!(resolved.status, Status::Resolved);
    assert_eq!(resolved.level, Level::HeadOfOffice);
    assert_eq!(resolved.resolved_at, Some(at(START + 180)));
    assert_eq!(
        resolved.resolution.as_deref(),
        Some("KTP-el dicetak ulang, diambil besok")
    );

    let expected_history = vec![
        Event {
            at: at(START),
            operator: "op-sekretariat".into(),
            action: Action::Filed,
            note: String::new(),
        },
        Event {
            at: at(START + 60),
            operator: "op-sekretariat".into(),
            action: Action::Forwarded {
                from: Level::Secretariat,
                to: Level::Registration,
            },
            note: "data perekaman: Bidang Dafduk".into(),
        },
        Event {
            at: at(START + 120),
            operator: "kabid-dafduk".into(),
            action: Action::Escalated {
                from: Level::Registration,
            },
            note: "perlu keputusan Kepala Dinas".into(),
        },
        Event {
            at: at(START + 180),
            operator: "kadis".into(),
            action: Action::Resolved {
                at_level: Level::HeadOfOffice,
            },
            note: "KTP-el dicetak ulang, diambil besok".into(),
        },
    ];
    assert_eq!(resolved.history, expected_history);
    drop(desk);

    // The complainant is personal data: never in clear in the file.
    assert!(
        !file_bytes(dir.path())
            .windows(COMPLAINANT.len())
            .any(|w| w == COMPLAINANT.as_bytes())
    );

    // Reopened from the same file with the same key.
    let desk = Complaints::new(open_store(dir.path()));
    let again = desk.get(&filed.id).unwrap();
    assert_eq!(again, resolved);
    assert_eq!(again.complainant, COMPLAINANT);
    assert_eq!(again.receipt_number.as_deref(), Some("BP-9171-000123"));
    // Filed at 15:00 UTC: the next day at the station.
    let day = |d: &str| {
        desk.list(None, None, Some(d.into()), 0)
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(day("2027-01-16"), [filed.id.as_str()]);
    assert!(day("2027-01-15").is_empty());
    assert_eq!(
        desk.list(Some(Status::Resolved), Some(Level::HeadOfOffice), None, 0)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn the_routing_refuses_every_move_it_does_not_allow() {
    let desk = memory_desk();
    let all = Roles::all();
    let not_allowed = |r: Result<Complaint, ComplaintError>, words: &str| {
        let e = r.expect_err("the move must be refused");
        assert!(matches!(e, ComplaintError::NotAllowed(_)), "{e:?}");
        assert_eq!(e.reason(), "COMPLAINT_ROUTE_NOT_ALLOWED");
        assert!(e.to_string().contains(words), "{e}");
    };

    // At the secretariat: forward only to the Secretary or a division; no escalation.
    let c = file(&desk);
    for to in [Level::Secretariat, Level::HeadOfOffice] {
        not_allowed(
            desk.forward(&c.id, to, "x", all, "", None),
            "forwarded to the Secretary (Sekretaris), population registration (Dafduk) or civil registration (Capil)",
        );
    }
    not_allowed(
        desk.escalate(&c.id, "x", all, "", None),
        "has not been forwarded yet",
    );
    // Nothing was written.
    assert_eq!(desk.get(&c.id).unwrap(), c);

    // At the Secretary or a division: no second forward; escalate or resolve.
    for level in Level::MIDDLE {
        let c = at_level(&desk, level);
        for to in Level::ALL {
            not_allowed(
                desk.forward(&c.id, to, "x", all, "", None),
                "escalated to the Head of Office (Kepala Dinas) or resolved",
            );
        }
        assert_eq!(desk.get(&c.id).unwrap().version, 2);
    }

    // At the top: neither forward nor escalate.
    let c = at_level(&desk, Level::HeadOfOffice);
    for to in Level::ALL {
        not_allowed(
            desk.forward(&c.id, to, "x", all, "", None),
            "there is no level above",
        );
    }
    not_allowed(
        desk.escalate(&c.id, "x", all, "", None),
        "at the top already",
    );
    assert_eq!(desk.get(&c.id).unwrap().version, 3);
}

/// Whether each role alone may act, checked against the table of the service standard
/// written out here (not read from the crate).
#[test]
fn every_role_is_checked_at_every_level() {
    let desk = memory_desk();
    let refused = |r: Result<Complaint, ComplaintError>, needed: &[Role], level: Level| {
        let e = r.expect_err("the role must be refused");
        assert_eq!(
            e,
            ComplaintError::RoleRequired {
                needed: needed.to_vec(),
                level
            }
        );
        assert_eq!(e.reason(), "ROLE_REQUIRED");
    };

    // Filing.
    for role in Role::ALL {
        let r = desk.file(new_complaint("x"), "op", roles(&[role]), WIT);
        if role == Role::Technician {
            refused(
                r,
                &[Role::Officer, Role::Supervisor, Role::HeadOfOffice],
                Level::Secretariat,
            );
        } else {
            assert_eq!(r.unwrap().level, Level::Secretariat);
        }
    }
    refused(
        desk.file(new_complaint("x"), "op", Roles::default(), WIT),
        &[Role::Officer, Role::Supervisor, Role::HeadOfOffice],
        Level::Secretariat,
    );

    // Forwarding from the secretariat.
    for role in Role::ALL {
        let c = file(&desk);
        let r = desk.forward(
            &c.id,
            Level::CivilRegistration,
            "op",
            roles(&[role]),
            "",
            None,
        );
        if matches!(role, Role::Officer | Role::Supervisor) {
            assert_eq!(r.unwrap().level, Level::CivilRegistration);
        } else {
            refused(r, &[Role::Officer, Role::Supervisor], Level::Secretariat);
        }
    }

    // Escalating from the Secretary and the divisions.
    for level in Level::MIDDLE {
        for role in Role::ALL {
            let c = at_level(&desk, level);
            let r = desk.escalate(&c.id, "op", roles(&[role]), "", None);
            if role == Role::Supervisor {
                assert_eq!(r.unwrap().level, Level::HeadOfOffice);
            } else {
                refused(r, &[Role::Supervisor], level);
            }
        }
    }

    // Resolving at each level.
    let may_resolve = |level: Level| -> Vec<Role> {
        match level {
            Level::Secretariat => vec![Role::Officer, Role::Supervisor],
            Level::HeadOfOffice => vec![Role::HeadOfOffice],
            _ => vec![Role::Supervisor],
        }
    };
    for level in Level::ALL {
        for role in Role::ALL {
            let c = at_level(&desk, level);
            let r = desk.resolve(&c.id, "op", roles(&[role]), "selesai", None);
            if may_resolve(level).contains(&role) {
                let done = r.unwrap();
                assert_eq!((done.status, done.level), (Status::Resolved, level));
            } else {
                refused(r, &may_resolve(level), level);
                assert_eq!(desk.get(&c.id).unwrap().status, Status::Open);
            }
        }
    }
}

#[test]
fn a_resolved_complaint_refuses_everything() {
    let desk = memory_desk();
    for level in Level::ALL {
        let c = at_level(&desk, level);
        let done = desk
            .resolve(&c.id, "op", Roles::all(), "selesai", None)
            .unwrap();
        let closed = |r: Result<Complaint, ComplaintError>| {
            let e = r.expect_err("a closed complaint must refuse");
            assert_eq!(e, ComplaintError::Closed(c.id.clone()));
            assert_eq!(e.reason(), "COMPLAINT_CLOSED");
        };
        let v = Some(done.version);
        for to in Level::ALL {
            closed(desk.forward(&c.id, to, "op", Roles::all(), "", v));
        }
        closed(desk.escalate(&c.id, "op", Roles::all(), "", v));
        closed(desk.resolve(&c.id, "op", Roles::all(), "lagi", v));
        assert_eq!(desk.get(&c.id).unwrap(), done);
    }
}

#[test]
fn a_stale_version_is_a_conflict_and_changes_nothing() {
    let desk = memory_desk();
    let c = file(&desk);
    // Two desks read version 1; the first forwards it.
    desk.forward(&c.id, Level::Secretary, "desk-a", officer(), "", Some(1))
        .unwrap();
    let e = desk
        .resolve(&c.id, "desk-b", officer(), "selesai", Some(1))
        .unwrap_err();
    assert_eq!(
        e,
        ComplaintError::Conflict {
            id: c.id.clone(),
            expected: 1,
            found: 2
        }
    );
    assert_eq!(e.reason(), "COMPLAINT_CONFLICT");
    let now = desk.get(&c.id).unwrap();
    assert_eq!(
        (now.version, now.level, now.status),
        (2, Level::Secretary, Status::Open)
    );
    assert_eq!(now.history.len(), 2);
}

/// A store that lets another desk act between a read and the write that follows it.
struct Interleaved {
    inner: Arc<SqliteStore>,
    after_load: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl ComplaintStore for Interleaved {
    fn create_complaint(
        &self,
        id: &str,
        index: &ComplaintIndex,
        summary: &[u8],
    ) -> Result<u64, StoreError> {
        self.inner.create_complaint(id, index, summary)
    }
    fn commit_complaint(
        &self,
        id: &str,
        expected_version: u64,
        index: &ComplaintIndex,
        summary: &[u8],
    ) -> Result<u64, StoreError> {
        self.inner
            .commit_complaint(id, expected_version, index, summary)
    }
    fn load_complaint(&self, id: &str) -> Result<Option<ComplaintRow>, StoreError> {
        let row = self.inner.load_complaint(id)?;
        let hook = self.after_load.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
        Ok(row)
    }
    fn list_complaints(&self, filter: &ComplaintFilter) -> Result<Vec<ComplaintRow>, StoreError> {
        self.inner.list_complaints(filter)
    }
}

#[test]
fn two_desks_acting_at_once_cannot_both_win_even_without_an_expected_version() {
    let inner = Arc::new(SqliteStore::open_in_memory().unwrap());
    let other = Complaints::with_clock(inner.clone(), ticking());
    let c = file(&other);
    let store = Arc::new(Interleaved {
        inner: inner.clone(),
        after_load: Mutex::new(None),
    });
    let desk = Complaints::with_clock(store.clone(), ticking());

    // While this desk reads the complaint, the other one forwards it to Capil.
    let id = c.id.clone();
    *store.after_load.lock().unwrap() = Some(Box::new(move || {
        other
            .forward(&id, Level::CivilRegistration, "desk-b", officer(), "", None)
            .unwrap();
    }));
    let e = desk
        .resolve(&c.id, "desk-a", officer(), "selesai di tempat", None)
        .unwrap_err();
    assert_eq!(
        e,
        ComplaintError::Conflict {
            id: c.id.clone(),
            expected: 1,
            found: 2
        }
    );
    let now = desk.get(&c.id).unwrap();
    assert_eq!(
        (now.level, now.status),
        (Level::CivilRegistration, Status::Open)
    );
    assert!(
        !now.history
            .iter()
            .any(|e| matches!(e.action, Action::Resolved { .. }))
    );
}

#[test]
fn of_many_desks_resolving_at_once_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let desk = Complaints::new(open_store(dir.path()));
    let c = file(&desk);
    let n = 6;
    let barrier = Arc::new(Barrier::new(n));
    let results: Vec<Result<Complaint, ComplaintError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (desk, barrier, id) = (desk.clone(), barrier.clone(), c.id.clone());
                s.spawn(move || {
                    barrier.wait();
                    desk.resolve(&id, &format!("desk-{i}"), officer(), "selesai", None)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for r in &results {
        if let Err(e) = r {
            assert!(
                matches!(
                    e,
                    ComplaintError::Conflict { .. } | ComplaintError::Closed(_)
                ),
                "{e:?}"
            );
        }
    }
    let now = desk.get(&c.id).unwrap();
    assert_eq!(now.version, 2);
    assert_eq!(now.history.len(), 2);
}

#[test]
fn fields_are_validated_and_named() {
    let desk = memory_desk();
    let invalid = |r: Result<Complaint, ComplaintError>, field: &str| {
        let e = r.expect_err("the field must be refused");
        assert!(
            matches!(&e, ComplaintError::InvalidField { field: f, .. } if *f == field),
            "{e:?}"
        );
        assert_eq!(e.reason(), "INVALID_FIELD");
        assert!(e.to_string().starts_with(field), "{e}");
    };
    let with = |f: &dyn Fn(&mut NewComplaint)| {
        let mut n = new_complaint("x");
        f(&mut n);
        desk.file(n, "op", officer(), WIT)
    };
    invalid(with(&|n| n.complainant = "  ".into()), "complainant");
    invalid(with(&|n| n.complainant = "A".repeat(201)), "complainant");
    invalid(with(&|n| n.text = String::new()), "text");
    invalid(with(&|n| n.text = "é".repeat(4001)), "text");
    invalid(with(&|n| n.contact = "0".repeat(201)), "contact");
    invalid(with(&|n| n.text = "a\0b".into()), "text");
    invalid(
        with(&|n| n.receipt_number = Some("R".repeat(201))),
        "receipt_number",
    );
    invalid(
        desk.file(new_complaint("x"), " ", officer(), WIT),
        "operator",
    );
    invalid(
        desk.file(new_complaint("x"), "op", officer(), 24 * 60),
        "utc_offset_minutes",
    );
    // At the limits, and trimmed.
    let ok = with(&|n| {
        n.complainant = format!(" {} ", "A".repeat(200));
        n.text = "é".repeat(4000);
        n.enrollment_id = Some("  ".into());
    })
    .unwrap();
    assert_eq!(ok.complainant, "A".repeat(200));
    assert_eq!(ok.enrollment_id, None);

    let c = file(&desk);
    invalid(
        desk.resolve(&c.id, "op", officer(), " ", None),
        "resolution",
    );
    invalid(
        desk.resolve(&c.id, "op", officer(), &"r".repeat(1001), None),
        "resolution",
    );
    invalid(
        desk.forward(
            &c.id,
            Level::Secretary,
            "op",
            officer(),
            &"n".repeat(1001),
            None,
        ),
        "note",
    );
    invalid(desk.escalate(&c.id, "", supervisor(), "", None), "operator");
    assert_eq!(desk.get(&c.id).unwrap().version, 1);
}

#[test]
fn an_unknown_complaint_is_not_found() {
    let desk = memory_desk();
    let missing = |r: Result<Complaint, ComplaintError>| {
        let e = r.expect_err("no such complaint");
        assert_eq!(e, ComplaintError::NotFound("C-NONE".into()));
        assert_eq!(e.reason(), "COMPLAINT_NOT_FOUND");
    };
    missing(desk.get("C-NONE"));
    missing(desk.forward("C-NONE", Level::Secretary, "op", officer(), "", None));
    missing(desk.escalate("C-NONE", "op", supervisor(), "", None));
    missing(desk.resolve("C-NONE", "op", head(), "r", None));
}

#[test]
fn store_failures_are_passed_on() {
    let desk = Complaints::new(Arc::new(FailedStore(StoreError::Full("disk".into()))));
    let e = desk
        .file(new_complaint("x"), "op", officer(), WIT)
        .unwrap_err();
    assert_eq!(e, ComplaintError::Store(StoreError::Full("disk".into())));
    assert_eq!(e.reason(), "STORE_FULL");
    assert_eq!(desk.get("C1").unwrap_err().reason(), "STORE_FULL");
    assert_eq!(desk.open_by_level().unwrap_err().reason(), "STORE_FULL");
}

#[test]
fn lists_filter_by_status_level_and_day_newest_first_and_count_the_open_ones() {
    // A clock the test moves: two station days.
    let now = Arc::new(AtomicU64::new(START));
    let clock: Clock = {
        let now = now.clone();
        Arc::new(move || at(now.load(Ordering::SeqCst)))
    };
    let desk = Complaints::with_clock(Arc::new(SqliteStore::open_in_memory().unwrap()), clock);
    let step = |secs: u64| now.fetch_add(secs, Ordering::SeqCst);

    let a = file(&desk); // day 16, stays at the secretariat
    step(60);
    let b = file(&desk); // day 16, to Dafduk
    desk.forward(&b.id, Level::Registration, "op", officer(), "", None)
        .unwrap();
    step(60);
    let c = file(&desk); // day 16, resolved at the secretariat
    desk.resolve(&c.id, "op", officer(), "selesai", None)
        .unwrap();
    step(86_400);
    let d = file(&desk); // day 17, to Dafduk
    desk.forward(&d.id, Level::Registration, "op", officer(), "", None)
        .unwrap();
    step(60);
    let e = at_level(&desk, Level::HeadOfOffice); // day 17, at the top

    let ids = |l: Vec<Complaint>| l.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        ids(desk.list(None, None, None, 0).unwrap()),
        [
            e.id.as_str(),
            d.id.as_str(),
            c.id.as_str(),
            b.id.as_str(),
            a.id.as_str()
        ]
    );
    assert_eq!(
        ids(desk.list(Some(Status::Open), None, None, 0).unwrap()),
        [e.id.as_str(), d.id.as_str(), b.id.as_str(), a.id.as_str()]
    );
    assert_eq!(
        ids(desk.list(Some(Status::Resolved), None, None, 0).unwrap()),
        [c.id.as_str()]
    );
    assert_eq!(
        ids(desk.list(None, Some(Level::Registration), None, 0).unwrap()),
        [d.id.as_str(), b.id.as_str()]
    );
    assert_eq!(
        ids(desk
            .list(
                Some(Status::Open),
                Some(Level::Registration),
                Some("2027-01-16".into()),
                0
            )
            .unwrap()),
        [b.id.as_str()]
    );
    assert_eq!(
        ids(desk.list(None, None, Some("2027-01-17".into()), 0).unwrap()),
        [e.id.as_str(), d.id.as_str()]
    );
    assert_eq!(
        ids(desk.list(None, None, None, 2).unwrap()),
        [e.id.as_str(), d.id.as_str()]
    );
    assert!(
        desk.list(None, Some(Level::CivilRegistration), None, 0)
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        desk.open_by_level().unwrap(),
        [
            (Level::Secretariat, 1),
            (Level::Secretary, 0),
            (Level::Registration, 2),
            (Level::CivilRegistration, 0),
            (Level::HeadOfOffice, 1),
        ]
    );
}
