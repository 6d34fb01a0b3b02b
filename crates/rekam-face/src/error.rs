//! The crate's error type.

use std::path::PathBuf;

/// What can go wrong loading a model or making a token image.
#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    /// A model file could not be read.
    #[error(
        "cannot read the model {path}: {source} (install Debian's opencv-data, or name the \
         directory holding OpenCV's Haar cascades)"
    )]
    ModelIo {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A model file is not a cascade this crate evaluates.
    #[error("the model {source_name} is not a usable OpenCV Haar cascade: {reason}")]
    Model {
        /// The file (or `<memory>`).
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An argument is out of range.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The argument.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, FaceError>;

impl FaceError {
    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            what,
            reason: reason.into(),
        }
    }
}
