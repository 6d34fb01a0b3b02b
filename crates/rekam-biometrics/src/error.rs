//! The error type shared by every record in this crate.

use thiserror::Error;

/// What went wrong while writing or parsing a record.
///
/// Every parser in this crate returns one of these for malformed input; none of them panics.
/// `record` names the format (for example `"ISO/IEC 19794-4"` or `"ANSI/NIST Type-14"`) so a
/// message read in a log says where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    /// The input ended before a structure that the format requires.
    #[error(
        "{record}: input truncated: {needed} byte(s) needed at offset {offset}, {available} available"
    )]
    Truncated {
        /// The format being parsed.
        record: &'static str,
        /// Offset in the input where the missing structure starts.
        offset: usize,
        /// Bytes the structure needs.
        needed: usize,
        /// Bytes left in the input from `offset`.
        available: usize,
    },

    /// The format identifier at the start of the record is not the expected one.
    #[error("{record}: bad format identifier {found:02X?}, expected {expected:02X?}")]
    BadMagic {
        /// The format being parsed.
        record: &'static str,
        /// The identifier the standard requires.
        expected: Vec<u8>,
        /// The bytes found instead.
        found: Vec<u8>,
    },

    /// The version number is not the one this crate implements.
    #[error("{record}: unsupported version {found:02X?}, expected {expected:02X?}")]
    BadVersion {
        /// The format being parsed.
        record: &'static str,
        /// The version this crate writes and reads.
        expected: Vec<u8>,
        /// The version found.
        found: Vec<u8>,
    },

    /// A length or count declared in the data disagrees with the data itself.
    #[error("{record}: {what}: declared {declared}, actual {actual}")]
    LengthMismatch {
        /// The format being parsed.
        record: &'static str,
        /// Which length (for example `"record length"` or `"number of views"`).
        what: &'static str,
        /// The value written in the data.
        declared: u64,
        /// The value that the data actually has.
        actual: u64,
    },

    /// A field holds a value the standard does not allow (or, when writing, a value that does not
    /// fit the field).
    #[error("{record}: invalid {field}: {reason}")]
    InvalidField {
        /// The format being parsed or written.
        record: &'static str,
        /// The field, named as in the standard (for example `"finger position"` or `"14.013 FGP"`).
        field: String,
        /// Why the value is not allowed.
        reason: String,
    },

    /// A field that the standard makes mandatory is absent.
    #[error("{record}: mandatory field {field} is missing")]
    MissingField {
        /// The format being parsed.
        record: &'static str,
        /// The missing field (for example `"1.003 CNT"`).
        field: String,
    },
}

impl RecordError {
    /// Shorthand for [`RecordError::InvalidField`].
    pub(crate) fn invalid(
        record: &'static str,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::InvalidField {
            record,
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`RecordError::MissingField`].
    pub(crate) fn missing(record: &'static str, field: impl Into<String>) -> Self {
        Self::MissingField {
            record,
            field: field.into(),
        }
    }
}

/// `Result` with [`RecordError`].
pub type Result<T> = std::result::Result<T, RecordError>;
