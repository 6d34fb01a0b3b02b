//! The link to a card ([`Transport`]: one command APDU in, one response APDU out) and what
//! the card can take ([`Capabilities`], read from its ATR or its EF.ATR/INFO).

use thiserror::Error;

use crate::tlv::{self, TlvError};

/// One round trip to a card: a command APDU's bytes in, the response's bytes (data and
/// SW1-SW2) out. Implemented by the PC/SC driver and by virtual cards; synchronous, a
/// driver runs it on its own thread.
pub trait Transport {
    /// The link's failure (reader gone, card removed, timeout).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Sends one command APDU and returns the card's whole response, status word included.
    ///
    /// # Errors
    /// When the link fails; a card's refusal is not an error here but a status word.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, Self::Error>;
}

impl<T: Transport + ?Sized> Transport for &mut T {
    type Error = T::Error;

    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, Self::Error> {
        (**self).transmit(apdu)
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    type Error = T::Error;

    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, Self::Error> {
        (**self).transmit(apdu)
    }
}

/// What a card's APDUs may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capabilities {
    /// Whether the card takes extended Lc/Le fields.
    pub extended: bool,
    /// The most data bytes (Nc) one command may carry.
    pub max_command_data: usize,
    /// The most data bytes (Ne) one response may carry.
    pub max_response_data: usize,
}

impl Capabilities {
    /// Short length only: 255 data bytes in, 256 out.
    pub const SHORT: Capabilities = Capabilities {
        extended: false,
        max_command_data: 255,
        max_response_data: 256,
    };

    /// Extended length with no stated limits: 65535 data bytes in, 65536 out.
    pub const EXTENDED: Capabilities = Capabilities {
        extended: true,
        max_command_data: 65535,
        max_response_data: 65536,
    };

    /// The capabilities an ATR announces: [`Capabilities::EXTENDED`] when its historical
    /// bytes hold card capabilities (compact-TLV tag 7) whose third byte has "extended Lc
    /// and Le fields" (`0x40`), else [`Capabilities::SHORT`] (also for an ATR that cannot
    /// be parsed). An ATR has no room for the limits: read them from EF.ATR/INFO
    /// ([`Capabilities::from_ef_atr`]) when the card has it.
    pub fn from_atr(atr: &[u8]) -> Capabilities {
        match Atr::parse(atr) {
            Ok(atr) if atr.card_capabilities().is_some_and(extended_bit) => Self::EXTENDED,
            _ => Self::SHORT,
        }
    }

    /// The capabilities EF.ATR/INFO (ISO/IEC 7816-4 §12.2.2.7, BER-TLV) announces:
    /// extended length information (`7F66`, two INTEGERs `02`: the most bytes in a command
    /// and in a response, taken here as the data fields' limits Nc and Ne) sets extended
    /// length with those limits; otherwise card capabilities (`47`) with the extended-length
    /// bit give [`Capabilities::EXTENDED`]; otherwise [`Capabilities::SHORT`].
    ///
    /// # Errors
    /// When the file is not BER-TLV, or `7F66` does not hold two INTEGERs.
    pub fn from_ef_atr(bytes: &[u8]) -> Result<Capabilities, TlvError> {
        if let Some(info) = tlv::find(bytes, 0x7F66)? {
            let ints: Vec<_> = tlv::parse_all(info)?
                .into_iter()
                .filter(|t| t.tag == 0x02)
                .collect();
            if let [cmd, resp, ..] = ints.as_slice() {
                return Ok(Capabilities {
                    extended: true,
                    max_command_data: be_uint(cmd.value).clamp(1, 65535),
                    max_response_data: be_uint(resp.value).clamp(1, 65536),
                });
            }
            return Err(TlvError::NotConstructed {
                tag: 0x7F66,
                offset: 0,
            });
        }
        Ok(match tlv::find(bytes, 0x47)? {
            Some(caps) if extended_bit(caps) => Self::EXTENDED,
            _ => Self::SHORT,
        })
    }
}

/// Whether card capabilities' third byte says "extended Lc and Le fields" (b7).
fn extended_bit(caps: &[u8]) -> bool {
    caps.get(2).is_some_and(|b| b & 0x40 != 0)
}

/// An unsigned big-endian integer, saturating at `usize::MAX`.
fn be_uint(bytes: &[u8]) -> usize {
    bytes.iter().fold(0usize, |acc, b| {
        acc.checked_mul(256)
            .and_then(|a| a.checked_add(usize::from(*b)))
            .unwrap_or(usize::MAX)
    })
}

/// Why an ATR could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AtrError {
    /// TS is neither `3B` (direct convention) nor `3F` (inverse).
    #[error("ATR starts with {0:02X}, not 3B or 3F")]
    BadTs(u8),
    /// The ATR ends before the interface or historical bytes its format bytes announce.
    #[error("ATR of {len} bytes ends before its {what}")]
    Truncated {
        /// The ATR's length.
        len: usize,
        /// What is missing.
        what: &'static str,
    },
}

/// The parts of an answer-to-reset (ISO/IEC 7816-3 §8.2) that matter to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Atr {
    /// TS: `3B` direct convention, `3F` inverse.
    pub ts: u8,
    /// The transmission protocols offered (T values of the TD bytes, in order, without
    /// repeats; `[0]` when there is no TD1). T=15 (global interface bytes) is listed too.
    pub protocols: Vec<u8>,
    /// The historical bytes.
    pub historical: Vec<u8>,
    /// The check byte TCK, when the ATR has one.
    pub tck: Option<u8>,
}

impl Atr {
    /// Parses an ATR: TS, T0, the interface bytes TA/TB/TC/TD chain, the historical bytes
    /// and TCK (read if present; not checked).
    ///
    /// # Errors
    /// A bad TS, or an ATR shorter than its format bytes announce.
    pub fn parse(atr: &[u8]) -> Result<Atr, AtrError> {
        let len = atr.len();
        let truncated = |what| AtrError::Truncated { len, what };
        let ts = *atr.first().ok_or(truncated("TS"))?;
        if ts != 0x3B && ts != 0x3F {
            return Err(AtrError::BadTs(ts));
        }
        let t0 = *atr.get(1).ok_or(truncated("T0"))?;
        let k = usize::from(t0 & 0x0F);
        let mut y = t0 >> 4;
        let mut pos = 2;
        let mut protocols = Vec::new();
        loop {
            // TA, TB, TC: skipped (b5, b6, b7 of Y).
            pos += (y & 0x07).count_ones() as usize;
            if y & 0x08 == 0 {
                break;
            }
            let td = *atr.get(pos).ok_or(truncated("interface bytes"))?;
            pos += 1;
            if !protocols.contains(&(td & 0x0F)) {
                protocols.push(td & 0x0F);
            }
            y = td >> 4;
        }
        let historical = atr
            .get(pos..pos + k)
            .ok_or(truncated("historical bytes"))?
            .to_vec();
        pos += k;
        let tck = atr.get(pos).copied();
        if protocols.is_empty() {
            protocols.push(0);
        }
        Ok(Atr {
            ts,
            protocols,
            historical,
            tck,
        })
    }

    /// The historical bytes' COMPACT-TLV objects (ISO/IEC 7816-4 §12.1.1) as (tag, value):
    /// for category indicator `80` all bytes after it, for `00` all but the last three (the
    /// status indicator). Other categories have none. Reading stops at an object that runs
    /// past the end.
    pub fn compact_tlv(&self) -> Vec<(u8, &[u8])> {
        let objects = match self.historical.split_first() {
            Some((0x80, rest)) => rest,
            Some((0x00, rest)) if rest.len() >= 3 => &rest[..rest.len() - 3],
            _ => return Vec::new(),
        };
        let mut out = Vec::new();
        let mut rest = objects;
        while let Some((&head, tail)) = rest.split_first() {
            let n = usize::from(head & 0x0F);
            let Some(value) = tail.get(..n) else {
                break;
            };
            out.push((head >> 4, value));
            rest = &tail[n..];
        }
        out
    }

    /// The card capabilities (compact-TLV tag 7: selection methods, data coding, then
    /// chaining, extended length and logical channels), if the historical bytes have them.
    pub fn card_capabilities(&self) -> Option<&[u8]> {
        self.compact_tlv()
            .into_iter()
            .find(|(tag, _)| *tag == 7)
            .map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// An ATR with T=0 and T=1, category 80 historical bytes holding card capabilities
    /// (`73 00 00 <b3>`) and a status indicator (`82 90 00`), and its TCK.
    fn atr_with_caps(b3: u8) -> Vec<u8> {
        let mut atr = vec![0x3B, 0x88, 0x80, 0x01];
        atr.extend([0x80, 0x73, 0x00, 0x00, b3, 0x82, 0x90, 0x00]);
        let tck = atr[1..].iter().fold(0, |a, b| a ^ b);
        atr.push(tck);
        atr
    }

    #[test]
    fn parses_an_atr_with_card_capabilities() {
        let atr = Atr::parse(&atr_with_caps(0xE0)).unwrap();
        assert_eq!(atr.ts, 0x3B);
        assert_eq!(atr.protocols, vec![0, 1]);
        assert_eq!(atr.historical.len(), 8);
        assert_eq!(
            atr.compact_tlv(),
            vec![(7, &[0x00, 0x00, 0xE0][..]), (8, &[0x90, 0x00][..])]
        );
        assert_eq!(atr.card_capabilities(), Some(&[0x00, 0x00, 0xE0][..]));
        assert!(atr.tck.is_some());
        assert_eq!(
            Capabilities::from_atr(&atr_with_caps(0xE0)),
            Capabilities::EXTENDED
        );
        // Chaining but no extended length.
        assert_eq!(
            Capabilities::from_atr(&atr_with_caps(0x80)),
            Capabilities::SHORT
        );
    }

    #[test]
    fn parses_an_atr_with_interface_bytes_and_proprietary_history() {
        // TA1 TB1 TC1 TD1(T=1) TD2(T=1, TA3 TB3), historical "Yubikey4", TCK.
        let bytes = [
            0x3B, 0xF8, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x59, 0x75, 0x62, 0x69, 0x6B,
            0x65, 0x79, 0x34, 0xD4,
        ];
        let atr = Atr::parse(&bytes).unwrap();
        assert_eq!(atr.protocols, vec![1]);
        assert_eq!(atr.historical, b"Yubikey4");
        assert_eq!(atr.tck, Some(0xD4));
        assert!(atr.compact_tlv().is_empty());
        assert_eq!(Capabilities::from_atr(&bytes), Capabilities::SHORT);
    }

    #[test]
    fn category_00_keeps_the_status_bytes_out() {
        // T=0 only, 8 historical bytes: 00, then 73 00 00 40, then the status 00 90 00.
        let bytes = [0x3B, 0x08, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x90, 0x00];
        let atr = Atr::parse(&bytes).unwrap();
        assert_eq!(atr.protocols, vec![0]);
        assert_eq!(atr.tck, None);
        assert_eq!(atr.compact_tlv(), vec![(7, &[0x00, 0x00, 0x40][..])]);
        assert_eq!(Capabilities::from_atr(&bytes), Capabilities::EXTENDED);
    }

    #[test]
    fn bad_atrs() {
        assert_eq!(Atr::parse(&[0x3C, 0x00]), Err(AtrError::BadTs(0x3C)));
        assert!(matches!(Atr::parse(&[]), Err(AtrError::Truncated { .. })));
        // Announces TD1 that is missing.
        assert!(matches!(
            Atr::parse(&[0x3B, 0x80]),
            Err(AtrError::Truncated { .. })
        ));
        // Announces 5 historical bytes, has 2.
        assert!(matches!(
            Atr::parse(&[0x3B, 0x05, 1, 2]),
            Err(AtrError::Truncated { .. })
        ));
        assert_eq!(Capabilities::from_atr(&[0x3B, 0x80]), Capabilities::SHORT);
    }

    #[test]
    fn ef_atr_extended_length_information() {
        // 47 card capabilities, 7F66 { 02 0800, 02 0400 }, FF padding.
        let ef = [
            0x47, 0x03, 0x00, 0x00, 0xC0, 0x7F, 0x66, 0x08, 0x02, 0x02, 0x08, 0x00, 0x02, 0x02,
            0x04, 0x00, 0xFF, 0xFF,
        ];
        assert_eq!(
            Capabilities::from_ef_atr(&ef).unwrap(),
            Capabilities {
                extended: true,
                max_command_data: 2048,
                max_response_data: 1024,
            }
        );
        assert_eq!(
            Capabilities::from_ef_atr(&ef[..5]).unwrap(),
            Capabilities::EXTENDED
        );
        assert_eq!(
            Capabilities::from_ef_atr(&[0x47, 0x03, 0x00, 0x00, 0x80]).unwrap(),
            Capabilities::SHORT
        );
        assert_eq!(Capabilities::from_ef_atr(&[]).unwrap(), Capabilities::SHORT);
        // 7F66 with one INTEGER only, and a malformed file.
        assert!(Capabilities::from_ef_atr(&[0x7F, 0x66, 0x03, 0x02, 0x01, 0x10]).is_err());
        assert!(Capabilities::from_ef_atr(&[0x47, 0x05, 0x00]).is_err());
    }
}
