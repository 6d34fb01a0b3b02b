//! The errors every driver reports.

use crate::types::PrintFailure;

/// A coarse category of [`DeviceError`], for the API edge to map to a status code once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The device (or job, or file) does not exist.
    NotFound,
    /// The device is unplugged or unreachable; retry when it is back.
    Unavailable,
    /// The device is busy with another operation; retry later.
    Busy,
    /// The operating system refused access.
    PermissionDenied,
    /// The operation took longer than allowed.
    Timeout,
    /// The caller cancelled the operation.
    Cancelled,
    /// The device is not in a state to do this (no card, no cards, ribbon out, cover
    /// open, jam, no ink): a person must act, then retry.
    Precondition,
    /// The request itself is wrong.
    InvalidArgument,
    /// The device cannot do this at all.
    Unsupported,
    /// Data read back differs from what was written.
    DataLoss,
    /// The device failed or spoke nonsense.
    Hardware,
}

/// An error from a device driver or simulator.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum DeviceError {
    /// No such device (or job, or file): the message says which.
    #[error("not found: {0}")]
    NotFound(String),
    /// The device is unplugged or does not answer.
    #[error("{device} is disconnected: check its cable and power, then retry")]
    Disconnected {
        /// The device id.
        device: String,
    },
    /// The device is running another operation.
    #[error("{0} is busy with another operation; retry when it is done")]
    Busy(String),
    /// The operating system refused to open the device.
    #[error("permission denied on {path}: {help}")]
    PermissionDenied {
        /// The device node or socket.
        path: String,
        /// What a technician can do about it.
        help: String,
    },
    /// The operation took too long.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The operation was cancelled by its caller.
    #[error("cancelled")]
    Cancelled,
    /// No card is in the encoder's field.
    #[error("no card in the reader: place the card on the encoder")]
    NoCard,
    /// The card left the field during an operation.
    #[error("the card was removed during {0}: put it back and retry")]
    CardRemoved(String),
    /// The printer cannot print.
    #[error("printer: {detail}")]
    Printer {
        /// The printer's failure.
        failure: PrintFailure,
        /// What happened and what to do.
        detail: String,
    },
    /// The signature pad holds no ink.
    #[error("the pad holds no signature: ask the applicant to sign")]
    NoInk,
    /// Data read back differs from what was written.
    #[error("verification failed: {0}")]
    VerifyMismatch(String),
    /// The device's answer cannot be trusted: its signature does not verify, its
    /// certificate does not chain to a configured CA, or its captures' hash chain is
    /// broken (a MOSIP SBI device service's, say).
    #[error("the device's answer is not trusted: {0}")]
    Untrusted(String),
    /// The card in the encoder cannot take this operation (not a KTP-el blank, already
    /// personalized, locked, failed authentication, too small): the message says which.
    #[error("wrong card: {0}")]
    WrongCard(String),
    /// The device reported a hardware fault.
    #[error("hardware fault: {0}")]
    Hardware(String),
    /// The device answered something the driver cannot understand.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The request is malformed.
    #[error("invalid request: {0}")]
    InvalidArgument(String),
    /// The device cannot do this.
    #[error("not supported: {0}")]
    Unsupported(String),
}

impl DeviceError {
    /// The error's category.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DeviceError::NotFound(_) => ErrorKind::NotFound,
            DeviceError::Disconnected { .. } => ErrorKind::Unavailable,
            DeviceError::Busy(_) => ErrorKind::Busy,
            DeviceError::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            DeviceError::Timeout(_) => ErrorKind::Timeout,
            DeviceError::Cancelled => ErrorKind::Cancelled,
            DeviceError::NoCard
            | DeviceError::CardRemoved(_)
            | DeviceError::WrongCard(_)
            | DeviceError::Printer { .. }
            | DeviceError::NoInk => ErrorKind::Precondition,
            DeviceError::VerifyMismatch(_) | DeviceError::Untrusted(_) => ErrorKind::DataLoss,
            DeviceError::Hardware(_) | DeviceError::Protocol(_) => ErrorKind::Hardware,
            DeviceError::InvalidArgument(_) => ErrorKind::InvalidArgument,
            DeviceError::Unsupported(_) => ErrorKind::Unsupported,
        }
    }

    /// A stable, machine-readable reason (UPPER_SNAKE_CASE), documented in the API as
    /// `rekam.v1.ErrorReason`: programs branch on it instead of parsing the message.
    pub fn reason(&self) -> &'static str {
        match self {
            DeviceError::NotFound(_) => "DEVICE_NOT_FOUND",
            DeviceError::Disconnected { .. } => "DEVICE_DISCONNECTED",
            DeviceError::Busy(_) => "DEVICE_BUSY",
            DeviceError::PermissionDenied { .. } => "DEVICE_PERMISSION_DENIED",
            DeviceError::Timeout(_) => "DEVICE_TIMEOUT",
            DeviceError::Cancelled => "CANCELLED",
            DeviceError::NoCard => "NO_CARD",
            DeviceError::CardRemoved(_) => "CARD_REMOVED",
            DeviceError::Printer { failure, .. } => match failure {
                PrintFailure::NoCards => "NO_CARDS",
                PrintFailure::RibbonOut => "RIBBON_OUT",
                PrintFailure::Jam => "CARD_JAM",
                PrintFailure::CoverOpen => "COVER_OPEN",
                PrintFailure::Disconnected => "DEVICE_DISCONNECTED",
                PrintFailure::Other => "PRINTER_FAILED",
            },
            DeviceError::NoInk => "NO_SIGNATURE",
            DeviceError::VerifyMismatch(_) => "CHIP_VERIFY_FAILED",
            DeviceError::Untrusted(_) => "DEVICE_UNTRUSTED",
            DeviceError::WrongCard(_) => "WRONG_CARD",
            DeviceError::Hardware(_) => "DEVICE_HARDWARE_ERROR",
            DeviceError::Protocol(_) => "DEVICE_PROTOCOL_ERROR",
            DeviceError::InvalidArgument(_) => "DEVICE_INVALID_REQUEST",
            DeviceError::Unsupported(_) => "NOT_SUPPORTED",
        }
    }
}
