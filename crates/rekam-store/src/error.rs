//! The store's errors, each with a stable reason and words a technician can act on.

use std::path::PathBuf;

/// A store failure.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// The disk (or the store's own size limit) is full: nothing was written.
    #[error(
        "the enrollment store is full ({0}): nothing was written; free disk space or raise store.max_megabytes, then retry"
    )]
    Full(String),
    /// The store file is damaged.
    #[error(
        "the enrollment store at {path} is damaged ({detail}); stop rekamd, keep the file for recovery and restore it from a backup"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was found.
        detail: String,
    },
    /// The store holds data but its key is missing.
    #[error(
        "the enrollment store key is missing ({0}): the store holds enrollments sealed with it; put the key file back (a new key cannot read them)"
    )]
    KeyMissing(PathBuf),
    /// The key does not open the store.
    #[error(
        "the enrollment store key {0} does not open this store: it belongs to another store or was changed; put the right key file back"
    )]
    WrongKey(PathBuf),
    /// The key file cannot be read or written, or is not a key.
    #[error("the enrollment store key {path}: {detail}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The store cannot be reached (permissions, I/O error, locked by another process).
    #[error("the enrollment store cannot be used: {0}")]
    Unavailable(String),
    /// The enrollment changed since it was read.
    #[error(
        "enrollment {id} changed since it was read (version {found}, expected {expected}); read it again"
    )]
    VersionConflict {
        /// The enrollment.
        id: String,
        /// The version the change was made from.
        expected: u64,
        /// The version stored.
        found: u64,
    },
    /// No such enrollment.
    #[error("no enrollment {0} in the store")]
    NotFound(String),
    /// An enrollment with this id exists.
    #[error("enrollment {0} already exists in the store")]
    AlreadyExists(String),
}

impl StoreError {
    /// A stable, machine-readable reason (documented in the API as `rekam.v1.ErrorReason`).
    pub fn reason(&self) -> &'static str {
        match self {
            StoreError::Full(_) => "STORE_FULL",
            StoreError::Corrupt { .. } => "STORE_CORRUPT",
            StoreError::KeyMissing(_) | StoreError::WrongKey(_) | StoreError::Key { .. } => {
                "STORE_KEY"
            }
            StoreError::Unavailable(_) => "STORE_UNAVAILABLE",
            StoreError::VersionConflict { .. } => "STORE_CONFLICT",
            StoreError::NotFound(_) => "ENROLLMENT_NOT_FOUND",
            StoreError::AlreadyExists(_) => "ENROLLMENT_EXISTS",
        }
    }

    /// True when the store cannot take new recordings until a technician acts (a full
    /// disk, a damaged file, a key problem); false for a conflict or a missing row.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            StoreError::VersionConflict { .. }
                | StoreError::NotFound(_)
                | StoreError::AlreadyExists(_)
        )
    }
}
