//! The people who run a KTP-el enrollment station, as rekamd knows them: the local
//! operator list (each operator with an id, a name, roles and an Argon2-hashed PIN, kept in
//! a JSON file of the station's state directory that only rekamd's user can read), the
//! roles of the service standard (officer, supervisor, technician, head of office), and the
//! sessions an operator opens by signing in.
//!
//! The list is managed offline with `rekamctl operator add|disable|list`, which edits the
//! file in place (atomically); rekamd reads it again whenever it changes. A session is a
//! random bearer token that travels as call metadata; the daemon keeps only its SHA-256,
//! in memory (a restart signs everyone out). Wrong PINs are counted per operator: after
//! [`MAX_FAILURES`] in a row the operator is locked for [`LOCKOUT`], so a PIN cannot be
//! guessed over the socket.

mod operators;
mod role;
mod sessions;

pub use operators::{Operator, OperatorFile, OperatorList, hash_pin, validate_pin};
pub use role::{Role, Roles};
pub use sessions::{LOCKOUT, MAX_FAILURES, SESSION_IDLE, SESSION_MAX, Session, Sessions};

/// The station's state directory when none is configured: systemd's `$STATE_DIRECTORY`
/// (its first entry), else `$XDG_STATE_HOME/rekam`, else `~/.local/state/rekam`. rekamd
/// keeps its store and `operators.json` there; `rekamctl operator` edits the list there.
pub fn default_state_dir() -> std::path::PathBuf {
    use std::path::PathBuf;
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = env("STATE_DIRECTORY") {
        // systemd may pass several, separated by colons: the first is ours.
        let first = d
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or("")
            .to_string();
        return PathBuf::from(first);
    }
    if let Some(d) = env("XDG_STATE_HOME") {
        return d.join("rekam");
    }
    env("HOME")
        .unwrap_or_else(|| PathBuf::from("/var/lib"))
        .join(".local/state/rekam")
}

/// Why an operator or session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The operator list cannot be read or written.
    #[error("operator list {path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// No operator has this id.
    #[error("no operator {0}")]
    UnknownOperator(String),
    /// An operator with this id exists already.
    #[error("operator {0} exists already")]
    Exists(String),
    /// The id, name, role or PIN breaks the rules.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Wrong operator id or PIN (the two are not told apart).
    #[error("wrong operator id or PIN")]
    BadCredentials,
    /// The operator is disabled.
    #[error("operator {0} is disabled")]
    Disabled(String),
    /// Too many wrong PINs in a row: the operator is locked for a while.
    #[error("operator {id} is locked after too many wrong PINs: try again in {seconds} s")]
    Locked {
        /// The operator.
        id: String,
        /// Seconds until the lock ends.
        seconds: u64,
    },
    /// The session token is unknown, signed out or expired.
    #[error("the session is unknown or has ended: sign in again")]
    NoSession,
}

impl OperatorError {
    /// The stable reason of the error (a `rekam.v1.ErrorReason` name).
    pub fn reason(&self) -> &'static str {
        match self {
            OperatorError::File { .. } => "OPERATORS_UNAVAILABLE",
            OperatorError::UnknownOperator(_) | OperatorError::BadCredentials => "BAD_CREDENTIALS",
            OperatorError::Exists(_) | OperatorError::Invalid { .. } => "INVALID_REQUEST",
            OperatorError::Disabled(_) => "OPERATOR_DISABLED",
            OperatorError::Locked { .. } => "OPERATOR_LOCKED",
            OperatorError::NoSession => "UNAUTHENTICATED",
        }
    }
}
