//! The answer-to-reset that a PC/SC reader reports for a contactless card.
//!
//! Contactless cards have no ATR of their own; PC/SC (part 3, section 3.1.3.2.3)
//! has the reader build one: `3B 8n 80 01`, the `n` historical bytes (for an
//! ISO/IEC 14443-4 type A card, those of its ATS) and the check byte TCK, the XOR of
//! every byte after TS.

/// The historical bytes of the simulated chip, in COMPACT-TLV: category indicator 80,
/// card service data (31 C0), card capabilities (73 C8 40 00) and status 90 00 (82 90 00).
pub const SIM_HISTORICAL_BYTES: [u8; 10] =
    [0x80, 0x31, 0xC0, 0x73, 0xC8, 0x40, 0x00, 0x82, 0x90, 0x00];

/// The ATR PC/SC reports for a contactless card with these historical bytes (at most
/// 15; more are cut off, as T0 cannot count them).
pub fn contactless_atr(historical_bytes: &[u8]) -> Vec<u8> {
    let hist = &historical_bytes[..historical_bytes.len().min(15)];
    // TS = 3B (direct convention); T0 = 8n (TD1 follows, n historical bytes);
    // TD1 = 80 (TD2 follows, T=0); TD2 = 01 (T=1).
    let mut atr = vec![0x3B, 0x80 | hist.len() as u8, 0x80, 0x01];
    atr.extend_from_slice(hist);
    atr.push(tck(&atr[1..]));
    atr
}

/// The check byte TCK over `bytes` (T0 up to the last historical byte).
pub fn tck(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |acc, b| acc ^ b)
}

/// True when the ATR carries a check byte that is right: the XOR of every byte from T0
/// to TCK is 0.
pub fn checksum_ok(atr: &[u8]) -> bool {
    atr.len() >= 2 && tck(&atr[1..]) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_pcsc_contactless_atr() {
        let atr = contactless_atr(&SIM_HISTORICAL_BYTES);
        assert_eq!(&atr[..4], &[0x3B, 0x8A, 0x80, 0x01]);
        assert_eq!(&atr[4..14], &SIM_HISTORICAL_BYTES);
        assert_eq!(atr.len(), 15);
        assert!(checksum_ok(&atr));
        let mut bad = atr.clone();
        bad[5] ^= 1;
        assert!(!checksum_ok(&bad));
    }

    #[test]
    fn matches_a_known_reader_atr() {
        // A MIFARE DESFire EV1 as an ACR122U reports it: 3B 81 80 01 80 80.
        assert_eq!(
            contactless_atr(&[0x80]),
            [0x3B, 0x81, 0x80, 0x01, 0x80, 0x80]
        );
    }
}
