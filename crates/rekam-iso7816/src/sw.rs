//! Status words (SW1-SW2, ISO/IEC 7816-4 §5.6) and the typed errors they mean.
//!
//! Which status words mean success: `9000`, and `6282` ("end of file or record reached
//! before reading Ne bytes"), the answer to a READ BINARY that runs into the end of a file:
//! the data returned is good, there is just less of it. [`StatusWord::error`] gives `None`
//! for these two and a [`CardError`] for everything else, other warnings included: a
//! warning (`62xx`, `63xx`) says the command did not quite do what was asked, and a caller
//! that knows better can look at the [`StatusWord`] itself.

use std::fmt;

use thiserror::Error;

/// A status word, SW1 in the high byte: `StatusWord(0x6A82)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusWord(pub u16);

impl StatusWord {
    /// `9000`: normal processing.
    pub const OK: Self = Self(0x9000);
    /// `6281`: part of the returned data may be corrupted.
    pub const WARNING_CORRUPTED: Self = Self(0x6281);
    /// `6282`: end of file or record reached before reading Ne bytes (success, see module).
    pub const WARNING_EOF: Self = Self(0x6282);
    /// `6283`: the selected file is deactivated.
    pub const FILE_DEACTIVATED: Self = Self(0x6283);
    /// `6400`: execution error, non-volatile memory unchanged.
    pub const EXECUTION_ERROR: Self = Self(0x6400);
    /// `6581`: memory failure while writing.
    pub const MEMORY_FAILURE: Self = Self(0x6581);
    /// `6700`: wrong length (Lc or Le).
    pub const WRONG_LENGTH: Self = Self(0x6700);
    /// `6881`: logical channel not supported.
    pub const LOGICAL_CHANNEL_NOT_SUPPORTED: Self = Self(0x6881);
    /// `6882`: secure messaging not supported.
    pub const SM_NOT_SUPPORTED: Self = Self(0x6882);
    /// `6883`: last command of the chain expected.
    pub const LAST_COMMAND_EXPECTED: Self = Self(0x6883);
    /// `6884`: command chaining not supported.
    pub const CHAINING_NOT_SUPPORTED: Self = Self(0x6884);
    /// `6981`: command incompatible with the file structure.
    pub const INCOMPATIBLE_FILE_STRUCTURE: Self = Self(0x6981);
    /// `6982`: security status not satisfied.
    pub const SECURITY_STATUS: Self = Self(0x6982);
    /// `6983`: authentication method blocked.
    pub const AUTH_METHOD_BLOCKED: Self = Self(0x6983);
    /// `6984`: reference data not usable.
    pub const REFERENCE_DATA_NOT_USABLE: Self = Self(0x6984);
    /// `6985`: conditions of use not satisfied.
    pub const CONDITIONS_NOT_SATISFIED: Self = Self(0x6985);
    /// `6986`: command not allowed (no current EF).
    pub const NO_CURRENT_EF: Self = Self(0x6986);
    /// `6987`: expected secure messaging data objects missing.
    pub const SM_DATA_MISSING: Self = Self(0x6987);
    /// `6988`: incorrect secure messaging data objects.
    pub const SM_DATA_INCORRECT: Self = Self(0x6988);
    /// `6A80`: incorrect parameters in the command data field.
    pub const WRONG_DATA: Self = Self(0x6A80);
    /// `6A81`: function not supported.
    pub const FUNC_NOT_SUPPORTED: Self = Self(0x6A81);
    /// `6A82`: file or application not found.
    pub const FILE_NOT_FOUND: Self = Self(0x6A82);
    /// `6A83`: record not found.
    pub const RECORD_NOT_FOUND: Self = Self(0x6A83);
    /// `6A84`: not enough memory space in the file.
    pub const NOT_ENOUGH_MEMORY: Self = Self(0x6A84);
    /// `6A86`: incorrect parameters P1-P2.
    pub const WRONG_P1P2: Self = Self(0x6A86);
    /// `6A87`: Nc inconsistent with P1-P2.
    pub const LC_INCONSISTENT: Self = Self(0x6A87);
    /// `6A88`: referenced data or reference data not found.
    pub const DATA_NOT_FOUND: Self = Self(0x6A88);
    /// `6A89`: file already exists.
    pub const FILE_EXISTS: Self = Self(0x6A89);
    /// `6A8A`: DF name already exists.
    pub const DF_NAME_EXISTS: Self = Self(0x6A8A);
    /// `6B00`: wrong parameters P1-P2 (for READ/UPDATE BINARY: offset outside the EF).
    pub const WRONG_P1P2_OFFSET: Self = Self(0x6B00);
    /// `6D00`: instruction code not supported or invalid.
    pub const INS_NOT_SUPPORTED: Self = Self(0x6D00);
    /// `6E00`: class not supported.
    pub const CLA_NOT_SUPPORTED: Self = Self(0x6E00);
    /// `6F00`: no precise diagnosis.
    pub const NO_PRECISE_DIAGNOSIS: Self = Self(0x6F00);

    /// The status word of two bytes.
    pub const fn from_bytes(sw1: u8, sw2: u8) -> Self {
        Self(((sw1 as u16) << 8) | sw2 as u16)
    }

    /// SW1 and SW2.
    pub const fn to_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }

    /// SW1.
    pub const fn sw1(self) -> u8 {
        (self.0 >> 8) as u8
    }

    /// SW2.
    pub const fn sw2(self) -> u8 {
        self.0 as u8
    }

    /// Whether this is `9000`.
    pub const fn is_ok(self) -> bool {
        self.0 == 0x9000
    }

    /// `61xx`: `n` more response bytes available (GET RESPONSE fetches them; `0` means 256
    /// or more).
    pub const fn bytes_available(n: u8) -> Self {
        Self(0x6100 | n as u16)
    }

    /// For `61xx`, the number of bytes available (`6100` gives 256).
    pub const fn available(self) -> Option<usize> {
        if self.sw1() == 0x61 {
            Some(if self.sw2() == 0 {
                256
            } else {
                self.sw2() as usize
            })
        } else {
            None
        }
    }

    /// `6Cxx`: wrong Le, the command must be sent again with Le = `n` (`0` means 256).
    pub const fn wrong_le(n: u8) -> Self {
        Self(0x6C00 | n as u16)
    }

    /// For `6Cxx`, the Le to send again with (`6C00` gives 256).
    pub const fn exact_le(self) -> Option<usize> {
        if self.sw1() == 0x6C {
            Some(if self.sw2() == 0 {
                256
            } else {
                self.sw2() as usize
            })
        } else {
            None
        }
    }

    /// `63Cx`: verification failed, `tries` (0-15) tries left.
    pub const fn verify_failed(tries: u8) -> Self {
        Self(0x63C0 | (tries & 0x0F) as u16)
    }

    /// For `63Cx`, the tries left.
    pub const fn tries_left(self) -> Option<u8> {
        if self.0 & 0xFFF0 == 0x63C0 {
            Some(self.sw2() & 0x0F)
        } else {
            None
        }
    }

    /// What this status word means as an error, or `None` when it means success (`9000`
    /// and `6282`, see the module documentation).
    pub fn error(self) -> Option<CardError> {
        use CardError as E;
        let sw = self;
        Some(match self.0 {
            0x9000 | 0x6282 => return None,
            _ if self.available().is_some() => E::BytesAvailable(sw),
            _ if self.exact_le().is_some() => E::WrongLe(sw),
            _ if self.tries_left().is_some() => E::VerifyFailed(sw),
            0x6281 => E::CorruptedData(sw),
            0x6283 => E::FileDeactivated(sw),
            0x6200..=0x63FF => E::Warning(sw),
            0x6400..=0x64FF => E::ExecutionError(sw),
            0x6581 => E::MemoryFailure(sw),
            0x6500..=0x65FF => E::MemoryChanged(sw),
            0x6700 => E::WrongLength(sw),
            0x6881 => E::LogicalChannelNotSupported(sw),
            0x6882 => E::SmNotSupported(sw),
            0x6883 => E::LastCommandExpected(sw),
            0x6884 => E::ChainingNotSupported(sw),
            0x6981 => E::IncompatibleFileStructure(sw),
            0x6982 => E::SecurityStatus(sw),
            0x6983 => E::AuthMethodBlocked(sw),
            0x6984 => E::ReferenceDataNotUsable(sw),
            0x6985 => E::ConditionsNotSatisfied(sw),
            0x6986 => E::NoCurrentEf(sw),
            0x6987 => E::SmDataMissing(sw),
            0x6988 => E::SmDataIncorrect(sw),
            0x6A80 => E::WrongData(sw),
            0x6A81 => E::FuncNotSupported(sw),
            0x6A82 => E::FileNotFound(sw),
            0x6A83 => E::RecordNotFound(sw),
            0x6A84 => E::NotEnoughMemory(sw),
            0x6A86 | 0x6B00 => E::WrongP1P2(sw),
            0x6A87 => E::LcInconsistent(sw),
            0x6A88 => E::DataNotFound(sw),
            0x6A89 | 0x6A8A => E::FileExists(sw),
            0x6D00 => E::InsNotSupported(sw),
            0x6E00 => E::ClaNotSupported(sw),
            0x6F00 => E::NoPreciseDiagnosis(sw),
            _ => E::Other(sw),
        })
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

impl From<u16> for StatusWord {
    fn from(sw: u16) -> Self {
        Self(sw)
    }
}

/// A card's refusal or failure, one variant per meaning, each with the status word it came
/// from ([`StatusWord::error`] makes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CardError {
    /// `61xx` reached the caller: a [`crate::Channel`] fetches these bytes itself.
    #[error(
        "the card has more response bytes waiting ({0}) that were not fetched with GET RESPONSE"
    )]
    BytesAvailable(StatusWord),
    /// `6Cxx` reached the caller: a [`crate::Channel`] repeats the command itself.
    #[error("the card asks for the command again with another Le ({0})")]
    WrongLe(StatusWord),
    /// `63Cx`.
    #[error("verification failed ({0}): {n} tries left before the card blocks it", n = .0.sw2() & 0x0F)]
    VerifyFailed(StatusWord),
    /// `6281`.
    #[error(
        "part of the data the card returned may be corrupted ({0}): read it again; if it persists, the card is damaged"
    )]
    CorruptedData(StatusWord),
    /// `6283`.
    #[error(
        "the selected file is deactivated ({0}): it must be activated (ACTIVATE FILE) before use"
    )]
    FileDeactivated(StatusWord),
    /// Another warning (`62xx`, `63xx`).
    #[error(
        "the card completed the command with a warning ({0}): its result may not be what was asked for"
    )]
    Warning(StatusWord),
    /// `64xx`.
    #[error(
        "the card failed to execute the command, its memory is unchanged ({0}): try again; if it persists, replace the card"
    )]
    ExecutionError(StatusWord),
    /// `6581`.
    #[error("the card's memory failed while writing ({0}): the card is defective, replace it")]
    MemoryFailure(StatusWord),
    /// `65xx` other than `6581`.
    #[error(
        "the card failed and its memory has changed ({0}): the card's content is no longer reliable, replace it"
    )]
    MemoryChanged(StatusWord),
    /// `6700`.
    #[error("the card rejected the command's length (Lc or Le) ({0})")]
    WrongLength(StatusWord),
    /// `6881`.
    #[error("the card does not support this logical channel ({0})")]
    LogicalChannelNotSupported(StatusWord),
    /// `6882`.
    #[error("the card does not support secure messaging ({0}): is this the right kind of card?")]
    SmNotSupported(StatusWord),
    /// `6883`.
    #[error("the card expected the last command of a chain ({0})")]
    LastCommandExpected(StatusWord),
    /// `6884`.
    #[error(
        "the card does not support command chaining ({0}): the data must be sent in one command (extended length)"
    )]
    ChainingNotSupported(StatusWord),
    /// `6981`.
    #[error("the command does not fit the file's structure ({0})")]
    IncompatibleFileStructure(StatusWord),
    /// `6982`.
    #[error(
        "the card refused: security status not satisfied ({0}); the command needs authentication or secure messaging first"
    )]
    SecurityStatus(StatusWord),
    /// `6983`.
    #[error("the authentication method is blocked on this card ({0}): no tries are left")]
    AuthMethodBlocked(StatusWord),
    /// `6984`.
    #[error("the card's reference data (key or PIN) is not usable ({0})")]
    ReferenceDataNotUsable(StatusWord),
    /// `6985`.
    #[error(
        "the card refused: conditions of use not satisfied ({0}); the command is not allowed in the card's current state"
    )]
    ConditionsNotSatisfied(StatusWord),
    /// `6986`.
    #[error("the card refused: no file is selected ({0})")]
    NoCurrentEf(StatusWord),
    /// `6987`.
    #[error("the card expected secure messaging data objects that are missing ({0})")]
    SmDataMissing(StatusWord),
    /// `6988`.
    #[error(
        "the card rejected the secure messaging data ({0}): the session keys or counter no longer match, the session must be started again"
    )]
    SmDataIncorrect(StatusWord),
    /// `6A80`.
    #[error("the card rejected the command's data ({0})")]
    WrongData(StatusWord),
    /// `6A81`.
    #[error("the card does not support this function ({0})")]
    FuncNotSupported(StatusWord),
    /// `6A82`.
    #[error("the card has no such file or application ({0})")]
    FileNotFound(StatusWord),
    /// `6A83`.
    #[error("the card has no such record ({0})")]
    RecordNotFound(StatusWord),
    /// `6A84`.
    #[error("the card has no room for this file ({0})")]
    NotEnoughMemory(StatusWord),
    /// `6A86` or `6B00`.
    #[error(
        "the card rejected the parameters P1-P2 ({0}); for READ/UPDATE BINARY the offset is outside the file"
    )]
    WrongP1P2(StatusWord),
    /// `6A87`.
    #[error("the command's data length does not match its parameters P1-P2 ({0})")]
    LcInconsistent(StatusWord),
    /// `6A88`.
    #[error("the card has no such referenced data (key, PIN or data object) ({0})")]
    DataNotFound(StatusWord),
    /// `6A89` or `6A8A`.
    #[error("the file already exists on the card ({0})")]
    FileExists(StatusWord),
    /// `6D00`.
    #[error(
        "the card does not know this instruction ({0}): is this the right kind of card, with the right application selected?"
    )]
    InsNotSupported(StatusWord),
    /// `6E00`.
    #[error("the card does not support this class byte ({0}): is this the right kind of card?")]
    ClaNotSupported(StatusWord),
    /// `6F00`.
    #[error(
        "the card failed without saying why ({0}): try again; if it persists, replace the card"
    )]
    NoPreciseDiagnosis(StatusWord),
    /// Any other status word.
    #[error("the card answered with status {0}, which has no known meaning here")]
    Other(StatusWord),
}

impl CardError {
    /// The status word the card answered.
    pub fn sw(&self) -> StatusWord {
        use CardError as E;
        match *self {
            E::BytesAvailable(sw)
            | E::WrongLe(sw)
            | E::VerifyFailed(sw)
            | E::CorruptedData(sw)
            | E::FileDeactivated(sw)
            | E::Warning(sw)
            | E::ExecutionError(sw)
            | E::MemoryFailure(sw)
            | E::MemoryChanged(sw)
            | E::WrongLength(sw)
            | E::LogicalChannelNotSupported(sw)
            | E::SmNotSupported(sw)
            | E::LastCommandExpected(sw)
            | E::ChainingNotSupported(sw)
            | E::IncompatibleFileStructure(sw)
            | E::SecurityStatus(sw)
            | E::AuthMethodBlocked(sw)
            | E::ReferenceDataNotUsable(sw)
            | E::ConditionsNotSatisfied(sw)
            | E::NoCurrentEf(sw)
            | E::SmDataMissing(sw)
            | E::SmDataIncorrect(sw)
            | E::WrongData(sw)
            | E::FuncNotSupported(sw)
            | E::FileNotFound(sw)
            | E::RecordNotFound(sw)
            | E::NotEnoughMemory(sw)
            | E::WrongP1P2(sw)
            | E::LcInconsistent(sw)
            | E::DataNotFound(sw)
            | E::FileExists(sw)
            | E::InsNotSupported(sw)
            | E::ClaNotSupported(sw)
            | E::NoPreciseDiagnosis(sw)
            | E::Other(sw) => sw,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn displays_as_four_hex_digits() {
        assert_eq!(StatusWord::OK.to_string(), "9000");
        assert_eq!(StatusWord(0x6a84).to_string(), "6A84");
        assert_eq!(StatusWord(0x0001).to_string(), "0001");
        assert_eq!(
            StatusWord::from_bytes(0x6A, 0x82),
            StatusWord::FILE_NOT_FOUND
        );
        assert_eq!(StatusWord::FILE_NOT_FOUND.to_bytes(), [0x6A, 0x82]);
        assert_eq!((StatusWord::OK.sw1(), StatusWord::OK.sw2()), (0x90, 0x00));
    }

    #[test]
    fn helpers_for_61xx_6cxx_and_63cx() {
        assert_eq!(StatusWord::bytes_available(0x10), StatusWord(0x6110));
        assert_eq!(StatusWord(0x6110).available(), Some(16));
        assert_eq!(StatusWord(0x6100).available(), Some(256));
        assert_eq!(StatusWord::OK.available(), None);
        assert_eq!(StatusWord::wrong_le(0x20), StatusWord(0x6C20));
        assert_eq!(StatusWord(0x6C20).exact_le(), Some(32));
        assert_eq!(StatusWord(0x6C00).exact_le(), Some(256));
        assert_eq!(StatusWord(0x6A82).exact_le(), None);
        assert_eq!(StatusWord::verify_failed(2), StatusWord(0x63C2));
        assert_eq!(StatusWord(0x63C2).tries_left(), Some(2));
        assert_eq!(StatusWord(0x6300).tries_left(), None);
        assert!(StatusWord::OK.is_ok());
        assert!(!StatusWord::WARNING_EOF.is_ok());
    }

    #[test]
    fn success_and_error_meanings() {
        assert_eq!(StatusWord::OK.error(), None);
        assert_eq!(StatusWord::WARNING_EOF.error(), None);
        let cases = [
            (0x6110, CardError::BytesAvailable(StatusWord(0x6110))),
            (0x6C10, CardError::WrongLe(StatusWord(0x6C10))),
            (0x63C1, CardError::VerifyFailed(StatusWord(0x63C1))),
            (0x6281, CardError::CorruptedData(StatusWord(0x6281))),
            (0x6283, CardError::FileDeactivated(StatusWord(0x6283))),
            (0x6300, CardError::Warning(StatusWord(0x6300))),
            (0x6400, CardError::ExecutionError(StatusWord(0x6400))),
            (0x6581, CardError::MemoryFailure(StatusWord(0x6581))),
            (0x6501, CardError::MemoryChanged(StatusWord(0x6501))),
            (0x6700, CardError::WrongLength(StatusWord(0x6700))),
            (0x6882, CardError::SmNotSupported(StatusWord(0x6882))),
            (0x6884, CardError::ChainingNotSupported(StatusWord(0x6884))),
            (0x6982, CardError::SecurityStatus(StatusWord(0x6982))),
            (0x6983, CardError::AuthMethodBlocked(StatusWord(0x6983))),
            (
                0x6985,
                CardError::ConditionsNotSatisfied(StatusWord(0x6985)),
            ),
            (0x6987, CardError::SmDataMissing(StatusWord(0x6987))),
            (0x6988, CardError::SmDataIncorrect(StatusWord(0x6988))),
            (0x6A80, CardError::WrongData(StatusWord(0x6A80))),
            (0x6A81, CardError::FuncNotSupported(StatusWord(0x6A81))),
            (0x6A82, CardError::FileNotFound(StatusWord(0x6A82))),
            (0x6A83, CardError::RecordNotFound(StatusWord(0x6A83))),
            (0x6A84, CardError::NotEnoughMemory(StatusWord(0x6A84))),
            (0x6A86, CardError::WrongP1P2(StatusWord(0x6A86))),
            (0x6B00, CardError::WrongP1P2(StatusWord(0x6B00))),
            (0x6A89, CardError::FileExists(StatusWord(0x6A89))),
            (0x6A8A, CardError::FileExists(StatusWord(0x6A8A))),
            (0x6D00, CardError::InsNotSupported(StatusWord(0x6D00))),
            (0x6E00, CardError::ClaNotSupported(StatusWord(0x6E00))),
            (0x6F00, CardError::NoPreciseDiagnosis(StatusWord(0x6F00))),
            (0x9001, CardError::Other(StatusWord(0x9001))),
        ];
        for (sw, want) in cases {
            let got = StatusWord(sw).error().unwrap();
            assert_eq!(got, want);
            assert_eq!(got.sw(), StatusWord(sw));
            // Every message names the status word.
            assert!(
                got.to_string().contains(&StatusWord(sw).to_string()),
                "{got}"
            );
        }
    }

    #[test]
    fn messages_a_technician_can_act_on() {
        assert_eq!(
            StatusWord::NOT_ENOUGH_MEMORY.error().unwrap().to_string(),
            "the card has no room for this file (6A84)"
        );
        assert_eq!(
            StatusWord(0x63C2).error().unwrap().to_string(),
            "verification failed (63C2): 2 tries left before the card blocks it"
        );
    }
}
