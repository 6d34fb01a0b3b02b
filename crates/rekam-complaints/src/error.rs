//! Why a complaint action was refused, each with a stable reason.

use rekam_operators::Role;
use rekam_store::StoreError;

use crate::model::Level;

/// A refused or failed complaint action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComplaintError {
    /// A field of the request is missing or wrong.
    #[error("{field}: {message}")]
    InvalidField {
        /// The field, by name (`complainant`, `text`, `resolution`…).
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// No complaint with this id.
    #[error("no complaint {0}")]
    NotFound(String),
    /// The complaint is resolved: nothing more can be done with it.
    #[error("complaint {0} is resolved and closed: nothing more can be done with it")]
    Closed(String),
    /// The routing of the service standard does not allow this move; the message says
    /// which moves it allows.
    #[error("{0}")]
    NotAllowed(String),
    /// The caller's roles may not take this action at the complaint's level.
    #[error("{}", role_required(needed, *level))]
    RoleRequired {
        /// Any one of these roles may.
        needed: Vec<Role>,
        /// The level the complaint is at.
        level: Level,
    },
    /// The complaint changed since it was read (another desk acted on it).
    #[error(
        "complaint {id} changed since it was read (version {found}, expected {expected}); read it again"
    )]
    Conflict {
        /// The complaint.
        id: String,
        /// The version the action was made from.
        expected: u64,
        /// The version stored.
        found: u64,
    },
    /// A stored complaint cannot be read back.
    #[error("complaint {id} cannot be read from the store: {detail}")]
    Unreadable {
        /// The complaint.
        id: String,
        /// What is wrong.
        detail: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

fn role_required(needed: &[Role], level: Level) -> String {
    let names: Vec<&str> = needed.iter().map(|r| r.as_str()).collect();
    format!("at {level} this needs the role {}", names.join(" or "))
}

impl ComplaintError {
    /// A stable, machine-readable reason (`COMPLAINT_NOT_FOUND`, `COMPLAINT_CLOSED`,
    /// `COMPLAINT_ROUTE_NOT_ALLOWED`, `ROLE_REQUIRED`, `COMPLAINT_CONFLICT`,
    /// `INVALID_FIELD`, or the store's own reason).
    pub fn reason(&self) -> &'static str {
        match self {
            ComplaintError::InvalidField { .. } => "INVALID_FIELD",
            ComplaintError::NotFound(_) => "COMPLAINT_NOT_FOUND",
            ComplaintError::Closed(_) => "COMPLAINT_CLOSED",
            ComplaintError::NotAllowed(_) => "COMPLAINT_ROUTE_NOT_ALLOWED",
            ComplaintError::RoleRequired { .. } => "ROLE_REQUIRED",
            ComplaintError::Conflict { .. } => "COMPLAINT_CONFLICT",
            ComplaintError::Unreadable { .. } => "STORE_CORRUPT",
            ComplaintError::Store(e) => e.reason(),
        }
    }

    /// An invalid field.
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> ComplaintError {
        ComplaintError::InvalidField {
            field,
            message: message.into(),
        }
    }
}

impl From<StoreError> for ComplaintError {
    /// A conflict or a missing row become the complaint's own errors; anything else is
    /// the store's.
    fn from(e: StoreError) -> ComplaintError {
        match e {
            StoreError::VersionConflict {
                id,
                expected,
                found,
            } => ComplaintError::Conflict {
                id,
                expected,
                found,
            },
            StoreError::NotFound(id) => ComplaintError::NotFound(id),
            other => ComplaintError::Store(other),
        }
    }
}
