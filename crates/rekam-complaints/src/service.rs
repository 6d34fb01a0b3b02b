//! The complaints desk: who may file, forward, escalate and resolve, and at which level.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use rekam_operators::{Role, Roles};
use rekam_store::{ComplaintFilter, ComplaintIndex, ComplaintRow, ComplaintStore};
use serde::{Deserialize, Serialize};

use crate::error::ComplaintError;
use crate::local_day;
use crate::model::{Action, Complaint, Event, Level, NewComplaint, Status};

/// The clock the desk stamps events with.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Who may file a complaint.
pub const FILERS: [Role; 3] = [Role::Officer, Role::Supervisor, Role::HeadOfOffice];
/// Who may forward a complaint from the secretariat (the secretariat desk, or a
/// supervisor standing in for it).
pub const FORWARDERS: [Role; 2] = [Role::Officer, Role::Supervisor];
/// Who may escalate a complaint to the Head of Office: the Secretary and the division
/// heads act with the supervisor role.
pub const ESCALATORS: [Role; 1] = [Role::Supervisor];

/// Who may resolve a complaint at a level: at the secretariat its desk (officer or
/// supervisor), at the Secretary or a division the supervisor role, at the top only the
/// Head of Office.
pub fn resolvers(level: Level) -> &'static [Role] {
    match level {
        Level::Secretariat => &[Role::Officer, Role::Supervisor],
        Level::Secretary | Level::Registration | Level::CivilRegistration => &[Role::Supervisor],
        Level::HeadOfOffice => &[Role::HeadOfOffice],
    }
}

/// The moves the routing allows at a level, in words.
fn moves_at(level: Level) -> String {
    match level {
        Level::Secretariat => format!(
            "at {level} a complaint is forwarded to {}, {} or {}, or resolved there",
            Level::Secretary,
            Level::Registration,
            Level::CivilRegistration
        ),
        Level::Secretary | Level::Registration | Level::CivilRegistration => format!(
            "at {level} a complaint is escalated to {} or resolved there",
            Level::HeadOfOffice
        ),
        Level::HeadOfOffice => {
            format!("at {level} a complaint is resolved: there is no level above")
        }
    }
}

const MAX_NAME: usize = 200;
const MAX_TEXT: usize = 4000;
const MAX_NOTE: usize = 1000;
/// The widest offset from UTC a station may be at (UTC+14), in minutes.
const MAX_OFFSET_MINUTES: i32 = 14 * 60;
/// The summary's format.
const FORMAT: u32 = 1;

/// A text field, trimmed: required or not, at most `max` characters, no control
/// characters but line breaks and tabs.
fn text_field(
    field: &'static str,
    value: &str,
    required: bool,
    max: usize,
) -> Result<String, ComplaintError> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(ComplaintError::invalid(field, "is required"));
    }
    let n = v.chars().count();
    if n > max {
        return Err(ComplaintError::invalid(
            field,
            format!("is {n} characters long; at most {max} are allowed"),
        ));
    }
    if v.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ComplaintError::invalid(
            field,
            "contains control characters",
        ));
    }
    Ok(v.to_string())
}

/// An optional text field: absent or blank is `None`.
fn optional_field(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, ComplaintError> {
    let v = text_field(field, value.unwrap_or_default(), false, max)?;
    Ok((!v.is_empty()).then_some(v))
}

fn require(roles: Roles, needed: &[Role], level: Level) -> Result<(), ComplaintError> {
    if roles.any(needed) {
        Ok(())
    } else {
        Err(ComplaintError::RoleRequired {
            needed: needed.to_vec(),
            level,
        })
    }
}

/// A complaint as sealed in the store.
#[derive(Serialize)]
struct StoredRef<'a> {
    format: u32,
    complaint: &'a Complaint,
}

#[derive(Deserialize)]
struct Stored {
    format: u32,
    complaint: Complaint,
}

fn encode(c: &Complaint) -> Result<Vec<u8>, ComplaintError> {
    serde_json::to_vec(&StoredRef {
        format: FORMAT,
        complaint: c,
    })
    .map_err(|e| ComplaintError::Unreadable {
        id: c.id.clone(),
        detail: format!("cannot be encoded: {e}"),
    })
}

fn decode(row: &ComplaintRow) -> Result<Complaint, ComplaintError> {
    let unreadable = |detail: String| ComplaintError::Unreadable {
        id: row.id.clone(),
        detail,
    };
    let stored: Stored =
        serde_json::from_slice(&row.summary).map_err(|e| unreadable(e.to_string()))?;
    if stored.format != FORMAT {
        return Err(unreadable(format!(
            "summary format {} is not known to this rekamd (it reads {FORMAT})",
            stored.format
        )));
    }
    let mut c = stored.complaint;
    if c.id != row.id {
        return Err(unreadable(format!("its summary belongs to {}", c.id)));
    }
    // The store's version is the one that counts.
    c.version = row.version;
    Ok(c)
}

fn index(c: &Complaint, opened_day: &str) -> ComplaintIndex {
    ComplaintIndex {
        status: c.status.as_str().to_string(),
        level: c.level.as_str().to_string(),
        opened_at: c.opened_at,
        opened_day: opened_day.to_string(),
        enrollment_id: c.enrollment_id.clone(),
        receipt_number: c.receipt_number.clone(),
    }
}

/// The complaints desk: files complaints and moves them along the routing of the service
/// standard, checking the caller's roles at each level. Every change is committed with
/// the version it was made from, so of two desks acting on one complaint at once only
/// one wins; the other gets [`ComplaintError::Conflict`]. Every method is blocking (call
/// it off the async runtime).
#[derive(Clone)]
pub struct Complaints {
    store: Arc<dyn ComplaintStore>,
    clock: Clock,
}

impl fmt::Debug for Complaints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Complaints").finish_non_exhaustive()
    }
}

impl Complaints {
    /// The desk over a store, on the system clock.
    pub fn new(store: Arc<dyn ComplaintStore>) -> Complaints {
        Complaints::with_clock(store, Arc::new(SystemTime::now))
    }

    /// The desk over a store, on a given clock (for tests and simulations).
    pub fn with_clock(store: Arc<dyn ComplaintStore>, clock: Clock) -> Complaints {
        Complaints { store, clock }
    }

    /// Files a complaint at the secretariat, open. Any of officer, supervisor or Head of
    /// Office may file. `utc_offset_minutes` is the station's offset from UTC: the
    /// complaint's day (for lists and the daily report) is the station's local day.
    pub fn file(
        &self,
        new: NewComplaint,
        operator: &str,
        roles: Roles,
        utc_offset_minutes: i32,
    ) -> Result<Complaint, ComplaintError> {
        let operator = text_field("operator", operator, true, MAX_NAME)?;
        let complainant = text_field("complainant", &new.complainant, true, MAX_NAME)?;
        let contact = text_field("contact", &new.contact, false, MAX_NAME)?;
        let text = text_field("text", &new.text, true, MAX_TEXT)?;
        let enrollment_id =
            optional_field("enrollment_id", new.enrollment_id.as_deref(), MAX_NAME)?;
        let receipt_number =
            optional_field("receipt_number", new.receipt_number.as_deref(), MAX_NAME)?;
        if utc_offset_minutes.abs() > MAX_OFFSET_MINUTES {
            return Err(ComplaintError::invalid(
                "utc_offset_minutes",
                format!(
                    "{utc_offset_minutes} is not an offset from UTC (at most {MAX_OFFSET_MINUTES} minutes either way)"
                ),
            ));
        }
        require(roles, &FILERS, Level::Secretariat)?;
        let now = (self.clock)();
        let complaint = Complaint {
            id: format!("C{}", ulid::Ulid::from_datetime(now)),
            channel: new.channel,
            complainant,
            contact,
            text,
            enrollment_id,
            receipt_number,
            level: Level::Secretariat,
            status: Status::Open,
            opened_at: now,
            resolved_at: None,
            resolution: None,
            history: vec![Event {
                at: now,
                operator,
                action: Action::Filed,
                note: String::new(),
            }],
            version: 1,
        };
        let day = local_day(now, utc_offset_minutes);
        let version = self.store.create_complaint(
            &complaint.id,
            &index(&complaint, &day),
            &encode(&complaint)?,
        )?;
        Ok(Complaint {
            version,
            ..complaint
        })
    }

    /// Passes a complaint from the secretariat to the Secretary or a division (officer or
    /// supervisor), with a note for the history.
    pub fn forward(
        &self,
        id: &str,
        to: Level,
        operator: &str,
        roles: Roles,
        note: &str,
        expected_version: Option<u64>,
    ) -> Result<Complaint, ComplaintError> {
        let note = text_field("note", note, false, MAX_NOTE)?;
        self.act(id, operator, expected_version, |c, now, operator| {
            if c.level != Level::Secretariat {
                return Err(ComplaintError::NotAllowed(format!(
                    "complaint {} is with {}: only the complaints secretariat forwards; {}",
                    c.id,
                    c.level,
                    moves_at(c.level)
                )));
            }
            if !Level::MIDDLE.contains(&to) {
                return Err(ComplaintError::NotAllowed(format!(
                    "complaint {} cannot be forwarded to {to}: {}",
                    c.id,
                    moves_at(c.level)
                )));
            }
            require(roles, &FORWARDERS, c.level)?;
            c.history.push(Event {
                at: now,
                operator,
                action: Action::Forwarded { from: c.level, to },
                note,
            });
            c.level = to;
            Ok(())
        })
    }

    /// Passes a complaint the Secretary or a division cannot settle up to the Head of
    /// Office (supervisor), with a note saying why.
    pub fn escalate(
        &self,
        id: &str,
        operator: &str,
        roles: Roles,
        note: &str,
        expected_version: Option<u64>,
    ) -> Result<Complaint, ComplaintError> {
        let note = text_field("note", note, false, MAX_NOTE)?;
        self.act(id, operator, expected_version, |c, now, operator| {
            if !Level::MIDDLE.contains(&c.level) {
                let why = match c.level {
                    Level::Secretariat => "it has not been forwarded yet",
                    _ => "it is at the top already",
                };
                return Err(ComplaintError::NotAllowed(format!(
                    "complaint {} cannot be escalated: {why}; {}",
                    c.id,
                    moves_at(c.level)
                )));
            }
            require(roles, &ESCALATORS, c.level)?;
            c.history.push(Event {
                at: now,
                operator,
                action: Action::Escalated { from: c.level },
                note,
            });
            c.level = Level::HeadOfOffice;
            Ok(())
        })
    }

    /// Settles a complaint at its level, with the resolution (required). Who may: see
    /// [`resolvers`]. A resolved complaint is closed.
    pub fn resolve(
        &self,
        id: &str,
        operator: &str,
        roles: Roles,
        resolution: &str,
        expected_version: Option<u64>,
    ) -> Result<Complaint, ComplaintError> {
        let resolution = text_field("resolution", resolution, true, MAX_NOTE)?;
        self.act(id, operator, expected_version, |c, now, operator| {
            require(roles, resolvers(c.level), c.level)?;
            c.history.push(Event {
                at: now,
                operator,
                action: Action::Resolved { at_level: c.level },
                note: resolution.clone(),
            });
            c.status = Status::Resolved;
            c.resolved_at = Some(now);
            c.resolution = Some(resolution);
            Ok(())
        })
    }

    /// One complaint with its whole history.
    pub fn get(&self, id: &str) -> Result<Complaint, ComplaintError> {
        let row = self
            .store
            .load_complaint(id)?
            .ok_or_else(|| ComplaintError::NotFound(id.to_string()))?;
        decode(&row)
    }

    /// Complaints, newest first: only of a status, at a level, filed on a station day
    /// (`YYYY-MM-DD`) when given; at most `limit` (0: every one).
    pub fn list(
        &self,
        status: Option<Status>,
        level: Option<Level>,
        opened_day: Option<String>,
        limit: usize,
    ) -> Result<Vec<Complaint>, ComplaintError> {
        let rows = self.store.list_complaints(&ComplaintFilter {
            status: status.map(|s| s.as_str().to_string()),
            level: level.map(|l| l.as_str().to_string()),
            opened_day,
            limit,
        })?;
        rows.iter().map(decode).collect()
    }

    /// How many complaints are open at each level, every level from the secretariat up
    /// (zero included): for the daily report.
    pub fn open_by_level(&self) -> Result<Vec<(Level, usize)>, ComplaintError> {
        let rows = self.store.list_complaints(&ComplaintFilter {
            status: Some(Status::Open.as_str().to_string()),
            ..ComplaintFilter::default()
        })?;
        let mut counts: Vec<(Level, usize)> = Level::ALL.into_iter().map(|l| (l, 0)).collect();
        for row in &rows {
            let level =
                Level::parse(&row.index.level).ok_or_else(|| ComplaintError::Unreadable {
                    id: row.id.clone(),
                    detail: format!("level {:?} is not known", row.index.level),
                })?;
            if let Some(entry) = counts.iter_mut().find(|(l, _)| *l == level) {
                entry.1 += 1;
            }
        }
        Ok(counts)
    }

    /// Loads a complaint, refuses a closed or changed one, applies `change` (which checks
    /// the route and the roles and records the event) and commits it with the version it
    /// was read at.
    fn act(
        &self,
        id: &str,
        operator: &str,
        expected_version: Option<u64>,
        change: impl FnOnce(&mut Complaint, SystemTime, String) -> Result<(), ComplaintError>,
    ) -> Result<Complaint, ComplaintError> {
        let operator = text_field("operator", operator, true, MAX_NAME)?;
        let row = self
            .store
            .load_complaint(id)?
            .ok_or_else(|| ComplaintError::NotFound(id.to_string()))?;
        let mut c = decode(&row)?;
        if c.status == Status::Resolved {
            return Err(ComplaintError::Closed(c.id));
        }
        match expected_version {
            Some(expected) if expected != row.version => {
                return Err(ComplaintError::Conflict {
                    id: c.id,
                    expected,
                    found: row.version,
                });
            }
            _ => {}
        }
        let now = (self.clock)();
        change(&mut c, now, operator)?;
        c.version = row.version + 1;
        c.version = self.store.commit_complaint(
            &c.id,
            row.version,
            &index(&c, &row.index.opened_day),
            &encode(&c)?,
        )?;
        Ok(c)
    }
}
