//! The recording receipt's (bukti perekaman's) QR token: the receipt number signed by the station.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::key::{PublicKey, StationKey};

/// The token's first field.
const PREFIX: &str = "REKAM-BP1";
/// What is signed: this tag, then the receipt number.
const RECEIPT_TAG: &[u8] = b"rekam-receipt-v1\0";
/// The longest receipt number.
const MAX_RECEIPT_LEN: usize = 64;

/// Why a recording-receipt token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptTokenError {
    /// Not a well-formed token (wrong prefix, field count, receipt number, key id or signature
    /// encoding); the reason says which.
    #[error("not a valid recording-receipt QR code: {0}")]
    Malformed(String),
    /// Well-formed, but signed by a key id the verifier does not know.
    #[error(
        "recording receipt signed by an unknown station key {0:?}: add that station's public \
         key to the trusted keys if it is a genuine station, otherwise treat the receipt as forged"
    )]
    UnknownKey(String),
    /// Well-formed, but the signature does not verify: forged, or its number was altered.
    #[error(
        "recording receipt is forged: its signature does not match its receipt number; do not \
         hand over a card on it"
    )]
    Forged,
}

/// Whether `s` is a receipt number a token can carry: 1 to 64 characters of `A-Z`, `0-9`, `-`
/// (e.g. `BP-STATION01-20261129-7KQ2M9ZD`).
pub fn is_valid_receipt_number(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_RECEIPT_LEN
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

fn message(receipt_number: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(RECEIPT_TAG.len() + receipt_number.len());
    m.extend_from_slice(RECEIPT_TAG);
    m.extend_from_slice(receipt_number.as_bytes());
    m
}

/// The QR content of a recording receipt:
/// `REKAM-BP1:<receipt number>:<key id>:<signature>`, the signature being `key`'s Ed25519
/// signature over `"rekam-receipt-v1\0"` followed by the receipt number, in base64url without
/// padding. The receipt number should satisfy [`is_valid_receipt_number`]; a token for any other
/// is refused by [`verify_receipt`] as malformed.
pub fn sign_receipt(key: &StationKey, receipt_number: &str) -> String {
    let signature = key.sign(&message(receipt_number));
    format!(
        "{PREFIX}:{receipt_number}:{}:{}",
        key.key_id(),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// Returns the receipt number when `token` is well-formed and signed by a key that `keys`
/// knows (by key id). White space around the token (a scanner's line end) is ignored.
pub fn verify_receipt(
    token: &str,
    keys: &dyn Fn(&str) -> Option<PublicKey>,
) -> Result<String, ReceiptTokenError> {
    let malformed = |reason: &str| ReceiptTokenError::Malformed(reason.to_string());
    let fields: Vec<&str> = token.trim().split(':').collect();
    let [prefix, number, key_id, signature] = fields.as_slice() else {
        return Err(ReceiptTokenError::Malformed(format!(
            "expected 4 fields separated by ':' ({PREFIX}:<receipt number>:<key id>:<signature>), \
             found {}",
            fields.len()
        )));
    };
    if *prefix != PREFIX {
        return Err(malformed(
            "it does not start with REKAM-BP1 (not a rekam recording receipt, or an unsupported \
             version)",
        ));
    }
    if !is_valid_receipt_number(number) {
        return Err(malformed(
            "the receipt number must be 1 to 64 characters of A-Z, 0-9 and '-'",
        ));
    }
    if key_id.len() != 16
        || !key_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(malformed("the key id must be 16 lowercase hex digits"));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| malformed("the signature is not base64url without padding"))?;
    if signature.len() != 64 {
        return Err(malformed("the signature is not 64 bytes"));
    }
    let key = keys(key_id).ok_or_else(|| ReceiptTokenError::UnknownKey(key_id.to_string()))?;
    if key.verify(&message(number), &signature) {
        Ok(number.to_string())
    } else {
        Err(ReceiptTokenError::Forged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shape() {
        let key = StationKey::from_seed([3; 32]);
        let token = sign_receipt(&key, "BP-STATION01-20261129-7KQ2M9ZD");
        let fields: Vec<&str> = token.split(':').collect();
        assert_eq!(fields.len(), 4);
        assert_eq!(fields[0], "REKAM-BP1");
        assert_eq!(fields[1], "BP-STATION01-20261129-7KQ2M9ZD");
        assert_eq!(fields[2], key.key_id());
        assert_eq!(fields[3].len(), 86);
        let sig = URL_SAFE_NO_PAD.decode(fields[3]).unwrap();
        let mut msg = b"rekam-receipt-v1\0".to_vec();
        msg.extend_from_slice(b"BP-STATION01-20261129-7KQ2M9ZD");
        assert!(key.public().verify(&msg, &sig));
    }

    #[test]
    fn receipt_number_alphabet() {
        assert!(is_valid_receipt_number("BP-STATION01-20261129-7KQ2M9ZD"));
        assert!(is_valid_receipt_number(&"A".repeat(64)));
        assert!(!is_valid_receipt_number(&"A".repeat(65)));
        assert!(!is_valid_receipt_number(""));
        assert!(!is_valid_receipt_number("bp-1"));
        assert!(!is_valid_receipt_number("BP 1"));
        assert!(!is_valid_receipt_number("BP_1"));
    }
}
