//! Command and response APDUs (ISO/IEC 7816-4 §5.1): the four cases, in short and extended
//! length.
//!
//! | case | short                         | extended                                  |
//! |------|-------------------------------|-------------------------------------------|
//! | 1    | `CLA INS P1 P2`               | (same)                                    |
//! | 2    | header `Le`                   | header `00 Le Le`                         |
//! | 3    | header `Lc` data              | header `00 Lc Lc` data                    |
//! | 4    | header `Lc` data `Le`         | header `00 Lc Lc` data `Le Le`            |
//!
//! Short Lc is 1..=255; short Le `00` means 256. Extended Lc is 1..=65535; extended Le
//! `0000` means 65536.

use thiserror::Error;

use crate::sw::{CardError, StatusWord};

/// Instruction bytes (INS) of the commands rekam uses.
pub mod ins {
    /// SELECT.
    pub const SELECT: u8 = 0xA4;
    /// READ BINARY.
    pub const READ_BINARY: u8 = 0xB0;
    /// UPDATE BINARY.
    pub const UPDATE_BINARY: u8 = 0xD6;
    /// CREATE FILE.
    pub const CREATE_FILE: u8 = 0xE0;
    /// DELETE FILE.
    pub const DELETE_FILE: u8 = 0xE4;
    /// GET RESPONSE.
    pub const GET_RESPONSE: u8 = 0xC0;
    /// GET CHALLENGE.
    pub const GET_CHALLENGE: u8 = 0x84;
    /// EXTERNAL AUTHENTICATE, also MUTUAL AUTHENTICATE.
    pub const EXTERNAL_AUTHENTICATE: u8 = 0x82;
    /// MUTUAL AUTHENTICATE (same INS as EXTERNAL AUTHENTICATE).
    pub const MUTUAL_AUTHENTICATE: u8 = 0x82;
    /// INTERNAL AUTHENTICATE.
    pub const INTERNAL_AUTHENTICATE: u8 = 0x88;
    /// GET DATA.
    pub const GET_DATA: u8 = 0xCA;
    /// VERIFY.
    pub const VERIFY: u8 = 0x20;
    /// ACTIVATE FILE.
    pub const ACTIVATE_FILE: u8 = 0x44;
    /// TERMINATE DF.
    pub const TERMINATE_DF: u8 = 0xE6;
}

/// The CLA bit (b5) that marks a command that is not the last of a chain.
pub const CLA_CHAINING: u8 = 0x10;

/// Why an APDU could not be encoded or parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApduError {
    /// A command's data field longer than extended length allows.
    #[error("command data of {len} bytes is longer than an APDU can carry (65535)")]
    DataTooLong {
        /// The data's length.
        len: usize,
    },
    /// Le outside 1..=65536.
    #[error("Le {le} is outside 1..=65536")]
    BadLe {
        /// The Le asked for.
        le: usize,
    },
    /// The command needs extended length but short length was asked for.
    #[error(
        "the command (data {data} bytes, Le {le:?}) needs extended length, which was not allowed"
    )]
    NeedsExtended {
        /// The data's length.
        data: usize,
        /// The command's Le.
        le: Option<usize>,
    },
    /// Bytes shorter than a command header (4) or a response (2).
    #[error("{what} of {len} bytes is too short (at least {min})")]
    TooShort {
        /// `"command APDU"` or `"response APDU"`.
        what: &'static str,
        /// The bytes' length.
        len: usize,
        /// The shortest valid length.
        min: usize,
    },
    /// A command whose length fields do not match its length.
    #[error("malformed command APDU of {len} bytes: {why}")]
    Malformed {
        /// The command's length.
        len: usize,
        /// What does not match.
        why: &'static str,
    },
}

/// A command APDU.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Command {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte (see [`ins`]).
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// The data field (Nc = its length; empty: no Lc).
    pub data: Vec<u8>,
    /// Ne, the most response bytes expected, 1..=65536; `None`: no Le field.
    pub le: Option<usize>,
}

impl Command {
    /// A case 1 command: header only.
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Self {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            le: None,
        }
    }

    /// The command with `data` as its data field.
    pub fn with_data(mut self, data: Vec<u8>) -> Self {
        self.data = data;
        self
    }

    /// The command with Le = `le` (1..=65536; 256 and 65536 are the largest short and
    /// extended values).
    pub fn with_le(mut self, le: usize) -> Self {
        self.le = Some(le);
        self
    }

    /// Whether the command needs extended length: more than 255 data bytes or Le above 256.
    pub fn needs_extended(&self) -> bool {
        self.data.len() > 255 || self.le.is_some_and(|le| le > 256)
    }

    /// Whether CLA marks the command as not the last of a chain (b5, `0x10`).
    pub fn is_chained(&self) -> bool {
        self.cla & CLA_CHAINING != 0
    }

    /// The command's bytes. With `extended`, Lc and Le are written in extended form
    /// whenever the command has them; without, in short form.
    ///
    /// # Errors
    /// [`ApduError::NeedsExtended`] when the command does not fit short length and
    /// `extended` is false; [`ApduError::DataTooLong`] and [`ApduError::BadLe`] when it does
    /// not fit any APDU.
    pub fn to_bytes(&self, extended: bool) -> Result<Vec<u8>, ApduError> {
        if self.data.len() > 65535 {
            return Err(ApduError::DataTooLong {
                len: self.data.len(),
            });
        }
        if let Some(le) = self.le
            && !(1..=65536).contains(&le)
        {
            return Err(ApduError::BadLe { le });
        }
        if !extended && self.needs_extended() {
            return Err(ApduError::NeedsExtended {
                data: self.data.len(),
                le: self.le,
            });
        }
        let mut out = Vec::with_capacity(4 + 3 + self.data.len() + 3);
        out.extend([self.cla, self.ins, self.p1, self.p2]);
        let nc = self.data.len();
        if extended && (nc > 0 || self.le.is_some()) {
            out.push(0);
            if nc > 0 {
                out.extend((nc as u16).to_be_bytes());
                out.extend_from_slice(&self.data);
            }
            if let Some(le) = self.le {
                // 65536 is written 0000.
                out.extend(((le & 0xFFFF) as u16).to_be_bytes());
            }
        } else {
            if nc > 0 {
                out.push(nc as u8);
                out.extend_from_slice(&self.data);
            }
            if let Some(le) = self.le {
                // 256 is written 00.
                out.push((le & 0xFF) as u8);
            }
        }
        Ok(out)
    }

    /// Parses a command APDU (the card's side): any of the four cases, short or extended.
    ///
    /// # Errors
    /// [`ApduError::TooShort`] under 4 bytes; [`ApduError::Malformed`] when the length
    /// fields do not match the bytes.
    pub fn parse(bytes: &[u8]) -> Result<Command, ApduError> {
        let len = bytes.len();
        let malformed = |why| ApduError::Malformed { len, why };
        let [cla, ins, p1, p2, body @ ..] = bytes else {
            return Err(ApduError::TooShort {
                what: "command APDU",
                len,
                min: 4,
            });
        };
        let mut cmd = Command::new(*cla, *ins, *p1, *p2);
        match body {
            // Case 1.
            [] => {}
            // Case 2S.
            [le] => cmd.le = Some(short_le(*le)),
            // Extended: 00 then two-byte fields.
            [0, rest @ ..] => {
                let [b1, b2, rest @ ..] = rest else {
                    return Err(malformed(
                        "extended length marker 00 without a two-byte field",
                    ));
                };
                let n = usize::from(u16::from_be_bytes([*b1, *b2]));
                if rest.is_empty() {
                    // Case 2E.
                    cmd.le = Some(if n == 0 { 65536 } else { n });
                } else {
                    if n == 0 {
                        return Err(malformed("extended Lc is 0000"));
                    }
                    match rest.len().checked_sub(n) {
                        // Case 3E.
                        Some(0) => {}
                        // Case 4E.
                        Some(2) => {
                            let le = u16::from_be_bytes([rest[n], rest[n + 1]]);
                            cmd.le = Some(if le == 0 { 65536 } else { usize::from(le) });
                        }
                        _ => return Err(malformed("extended Lc does not match the data")),
                    }
                    cmd.data = rest[..n].to_vec();
                }
            }
            // Short Lc.
            [lc, rest @ ..] => {
                let n = usize::from(*lc);
                match rest.len().checked_sub(n) {
                    // Case 3S.
                    Some(0) => {}
                    // Case 4S.
                    Some(1) => cmd.le = Some(short_le(rest[n])),
                    _ => return Err(malformed("short Lc does not match the data")),
                }
                cmd.data = rest[..n].to_vec();
            }
        }
        Ok(cmd)
    }
}

/// A short Le byte's value (`00` means 256).
fn short_le(b: u8) -> usize {
    if b == 0 { 256 } else { usize::from(b) }
}

/// A response APDU: data, then SW1-SW2.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Response {
    /// The response data (may be empty).
    pub data: Vec<u8>,
    /// The status word.
    pub sw: StatusWord,
}

impl Response {
    /// Splits response bytes into data and status word.
    ///
    /// # Errors
    /// [`ApduError::TooShort`] under 2 bytes.
    pub fn parse(bytes: &[u8]) -> Result<Response, ApduError> {
        let [data @ .., sw1, sw2] = bytes else {
            return Err(ApduError::TooShort {
                what: "response APDU",
                len: bytes.len(),
                min: 2,
            });
        };
        Ok(Response {
            data: data.to_vec(),
            sw: StatusWord::from_bytes(*sw1, *sw2),
        })
    }

    /// The response's bytes: data, SW1, SW2.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend(self.sw.to_bytes());
        out
    }

    /// `data` with `9000`.
    pub fn ok(data: Vec<u8>) -> Self {
        Self {
            data,
            sw: StatusWord::OK,
        }
    }

    /// A status word without data.
    pub fn status(sw: StatusWord) -> Self {
        Self {
            data: Vec::new(),
            sw,
        }
    }

    /// The data, when the status word means success (`9000` or `6282`, see
    /// [`StatusWord::error`]).
    ///
    /// # Errors
    /// The [`CardError`] the status word means.
    pub fn into_data(self) -> Result<Vec<u8>, CardError> {
        match self.sw.error() {
            None => Ok(self.data),
            Some(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn select_by_aid_case_3_short() {
        let cmd = Command::new(0x00, ins::SELECT, 0x04, 0x0C).with_data(AID.to_vec());
        let bytes = cmd.to_bytes(false).unwrap();
        assert_eq!(bytes, hex("00 A4 04 0C 07 A0 00 00 02 47 10 01"));
        assert!(!cmd.needs_extended());
        assert_eq!(Command::parse(&bytes).unwrap(), cmd);
        // Extended form of the same command.
        assert_eq!(
            cmd.to_bytes(true).unwrap(),
            hex("00 A4 04 0C 00 00 07 A0 00 00 02 47 10 01")
        );
    }

    #[test]
    fn the_four_short_cases() {
        let c1 = Command::new(0x00, ins::ACTIVATE_FILE, 0, 0);
        assert_eq!(c1.to_bytes(false).unwrap(), hex("00 44 00 00"));
        assert_eq!(c1.to_bytes(true).unwrap(), hex("00 44 00 00"));
        let c2 = Command::new(0x00, ins::READ_BINARY, 0x81, 0).with_le(256);
        assert_eq!(c2.to_bytes(false).unwrap(), hex("00 B0 81 00 00"));
        let c2b = Command::new(0x00, ins::GET_CHALLENGE, 0, 0).with_le(8);
        assert_eq!(c2b.to_bytes(false).unwrap(), hex("00 84 00 00 08"));
        let c4 = Command::new(0x00, ins::SELECT, 0x04, 0x00)
            .with_data(AID.to_vec())
            .with_le(256);
        assert_eq!(
            c4.to_bytes(false).unwrap(),
            hex("00 A4 04 00 07 A0 00 00 02 47 10 01 00")
        );
        for c in [c1, c2, c2b, c4] {
            assert_eq!(Command::parse(&c.to_bytes(false).unwrap()).unwrap(), c);
        }
    }

    #[test]
    fn the_extended_cases() {
        let c2 = Command::new(0x00, ins::READ_BINARY, 0, 0).with_le(65536);
        assert!(c2.needs_extended());
        assert_eq!(c2.to_bytes(true).unwrap(), hex("00 B0 00 00 00 00 00"));
        let c2b = Command::new(0x00, ins::READ_BINARY, 0, 0).with_le(1000);
        assert_eq!(c2b.to_bytes(true).unwrap(), hex("00 B0 00 00 00 03 E8"));

        let data: Vec<u8> = (0..300u16).map(|i| i as u8).collect();
        let c3 = Command::new(0x00, ins::UPDATE_BINARY, 0, 0).with_data(data.clone());
        let b3 = c3.to_bytes(true).unwrap();
        assert_eq!(b3[..7], hex("00 D6 00 00 00 01 2C")[..]);
        assert_eq!(b3.len(), 7 + 300);

        let c4 = Command::new(0x00, ins::INTERNAL_AUTHENTICATE, 0, 0)
            .with_data(data.clone())
            .with_le(65536);
        let b4 = c4.to_bytes(true).unwrap();
        assert_eq!(b4[..7], hex("00 88 00 00 00 01 2C")[..]);
        assert_eq!(b4[7..307], data[..]);
        assert_eq!(b4[307..], [0x00, 0x00]);
        // Case 4 extended with a small Le.
        let c4b = Command::new(0x00, ins::SELECT, 4, 0)
            .with_data(AID.to_vec())
            .with_le(0x102);
        assert_eq!(
            c4b.to_bytes(true).unwrap(),
            hex("00 A4 04 00 00 00 07 A0 00 00 02 47 10 01 01 02")
        );
        for c in [c2, c2b, c3, c4, c4b] {
            assert_eq!(Command::parse(&c.to_bytes(true).unwrap()).unwrap(), c);
        }
    }

    #[test]
    fn encoding_errors() {
        let big = Command::new(0, ins::UPDATE_BINARY, 0, 0).with_data(vec![0; 256]);
        assert_eq!(
            big.to_bytes(false),
            Err(ApduError::NeedsExtended {
                data: 256,
                le: None
            })
        );
        let le = Command::new(0, ins::READ_BINARY, 0, 0).with_le(257);
        assert!(matches!(
            le.to_bytes(false),
            Err(ApduError::NeedsExtended { le: Some(257), .. })
        ));
        assert!(le.to_bytes(true).is_ok());
        let huge = Command::new(0, ins::UPDATE_BINARY, 0, 0).with_data(vec![0; 65536]);
        assert_eq!(
            huge.to_bytes(true),
            Err(ApduError::DataTooLong { len: 65536 })
        );
        for bad in [0, 65537] {
            assert_eq!(
                Command::new(0, 0xB0, 0, 0).with_le(bad).to_bytes(true),
                Err(ApduError::BadLe { le: bad })
            );
        }
    }

    #[test]
    fn parse_errors() {
        assert!(matches!(
            Command::parse(&[0, 0xA4, 4]),
            Err(ApduError::TooShort { len: 3, min: 4, .. })
        ));
        // Lc 7 with one data byte.
        assert!(matches!(
            Command::parse(&hex("00 A4 04 0C 07 A0")),
            Err(ApduError::Malformed { .. })
        ));
        // Lc 1 with three more bytes: neither case 3 nor case 4.
        assert!(matches!(
            Command::parse(&hex("00 A4 04 0C 01 A0 00 00")),
            Err(ApduError::Malformed { .. })
        ));
        // 00 then one byte.
        assert!(matches!(
            Command::parse(&hex("00 B0 00 00 00 01")),
            Err(ApduError::Malformed { .. })
        ));
        // Extended Lc 0000 followed by bytes.
        assert!(matches!(
            Command::parse(&hex("00 D6 00 00 00 00 00 01")),
            Err(ApduError::Malformed { .. })
        ));
        // Extended Lc 2 with 3 bytes after.
        assert!(matches!(
            Command::parse(&hex("00 D6 00 00 00 00 02 01 02 03")),
            Err(ApduError::Malformed { .. })
        ));
    }

    #[test]
    fn chaining_bit() {
        let c = Command::new(0x10, ins::UPDATE_BINARY, 0, 0);
        assert!(c.is_chained());
        assert!(!Command::new(0x0C, ins::UPDATE_BINARY, 0, 0).is_chained());
    }

    #[test]
    fn responses() {
        let r = Response::parse(&[1, 2, 3, 0x90, 0x00]).unwrap();
        assert_eq!(r, Response::ok(vec![1, 2, 3]));
        assert_eq!(r.to_bytes(), [1, 2, 3, 0x90, 0x00]);
        let r = Response::parse(&[0x6A, 0x82]).unwrap();
        assert_eq!(r, Response::status(StatusWord::FILE_NOT_FOUND));
        assert_eq!(r.clone().into_data(), Err(CardError::FileNotFound(r.sw)));
        assert!(matches!(
            Response::parse(&[0x90]),
            Err(ApduError::TooShort { len: 1, min: 2, .. })
        ));
        // 6282 on a short read is success: the data is kept.
        let eof = Response {
            data: vec![5, 6],
            sw: StatusWord::WARNING_EOF,
        };
        assert_eq!(eof.into_data().unwrap(), vec![5, 6]);
        assert_eq!(Response::ok(vec![9]).into_data().unwrap(), vec![9]);
    }
}
