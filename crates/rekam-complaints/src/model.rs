//! A complaint, its levels and its history.

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// How a complaint came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    /// By telephone.
    Telephone,
    /// In person at the complaints secretariat.
    InPerson,
}

impl Channel {
    /// The channel's stable name (`TELEPHONE`, `IN_PERSON`).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Telephone => "TELEPHONE",
            Channel::InPerson => "IN_PERSON",
        }
    }
}

/// Who holds a complaint: the secretariat where every complaint starts, the Secretary or a
/// division it is forwarded to, or the Head of Office it is escalated to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Level {
    /// The complaints secretariat (the desk that takes the call or the visit).
    Secretariat,
    /// The Secretary (Sekretaris).
    Secretary,
    /// The population registration division (Bidang Pendaftaran Penduduk, "Dafduk").
    Registration,
    /// The civil registration division (Bidang Pencatatan Sipil, "Capil").
    CivilRegistration,
    /// The Head of the Office (Kepala Dinas).
    HeadOfOffice,
}

impl Level {
    /// Every level, from the secretariat up.
    pub const ALL: [Level; 5] = [
        Level::Secretariat,
        Level::Secretary,
        Level::Registration,
        Level::CivilRegistration,
        Level::HeadOfOffice,
    ];

    /// The levels the secretariat forwards to, and that escalate to the Head of Office.
    pub const MIDDLE: [Level; 3] = [
        Level::Secretary,
        Level::Registration,
        Level::CivilRegistration,
    ];

    /// The level's stable name, as indexed in the store (`SECRETARIAT`, `SECRETARY`,
    /// `REGISTRATION`, `CIVIL_REGISTRATION`, `HEAD_OF_OFFICE`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Secretariat => "SECRETARIAT",
            Level::Secretary => "SECRETARY",
            Level::Registration => "REGISTRATION",
            Level::CivilRegistration => "CIVIL_REGISTRATION",
            Level::HeadOfOffice => "HEAD_OF_OFFICE",
        }
    }

    /// The level by its stable name (case-insensitive).
    pub fn parse(name: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The level's name for people, with the office's own term.
    pub fn title(self) -> &'static str {
        match self {
            Level::Secretariat => "the complaints secretariat",
            Level::Secretary => "the Secretary (Sekretaris)",
            Level::Registration => "population registration (Dafduk)",
            Level::CivilRegistration => "civil registration (Capil)",
            Level::HeadOfOffice => "the Head of Office (Kepala Dinas)",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// Whether a complaint is settled. A resolved complaint is closed: nothing more can be
/// done with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Not settled yet.
    Open,
    /// Settled, with its resolution.
    Resolved,
}

impl Status {
    /// The status's stable name, as indexed in the store (`OPEN`, `RESOLVED`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "OPEN",
            Status::Resolved => "RESOLVED",
        }
    }
}

/// What happened to a complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    /// Recorded at the secretariat.
    Filed,
    /// Passed from the secretariat to the Secretary or a division.
    Forwarded {
        /// The level it left (the secretariat).
        from: Level,
        /// The level it went to.
        to: Level,
    },
    /// Passed up to the Head of Office.
    Escalated {
        /// The level it left.
        from: Level,
    },
    /// Settled.
    Resolved {
        /// The level that settled it.
        at_level: Level,
    },
}

/// One entry of a complaint's history: a handover or the resolution, with its time and
/// the operator who made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When.
    pub at: SystemTime,
    /// Who: the operator's id.
    pub operator: String,
    /// What.
    pub action: Action,
    /// The operator's note (for a resolution: the resolution).
    pub note: String,
}

/// A complaint (pengaduan) and everything that happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complaint {
    /// Its id: `C` followed by a ULID.
    pub id: String,
    /// How it came in.
    pub channel: Channel,
    /// Who complains.
    pub complainant: String,
    /// How to reach them (a telephone number or an address); may be empty.
    pub contact: String,
    /// The complaint.
    pub text: String,
    /// The enrollment it is about, if any.
    pub enrollment_id: Option<String>,
    /// The recording receipt it is about, if any.
    pub receipt_number: Option<String>,
    /// Who holds it now (for a resolved one: who settled it).
    pub level: Level,
    /// Open or resolved.
    pub status: Status,
    /// When it was filed.
    pub opened_at: SystemTime,
    /// When it was resolved.
    pub resolved_at: Option<SystemTime>,
    /// The resolution.
    pub resolution: Option<String>,
    /// Every handover and the resolution, oldest first (the first entry is the filing).
    pub history: Vec<Event>,
    /// Its version in the store: give it back as the expected version so that two desks
    /// acting at once cannot both win.
    pub version: u64,
}

/// A complaint as the secretariat takes it down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewComplaint {
    /// How it came in.
    pub channel: Channel,
    /// Who complains: required, at most 200 characters.
    pub complainant: String,
    /// How to reach them: at most 200 characters, may be empty.
    pub contact: String,
    /// The complaint: required, at most 4000 characters.
    pub text: String,
    /// The enrollment it is about, if any (at most 200 characters).
    pub enrollment_id: Option<String>,
    /// The recording receipt it is about, if any (at most 200 characters).
    pub receipt_number: Option<String>,
}
