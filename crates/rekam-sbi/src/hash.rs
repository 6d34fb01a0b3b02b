//! The hash chain across the captures of one transaction (MDS 0.9.5, "Registration Capture"
//! and "Capture": `bio.previousHash` and `hash`).
//!
//! `hash = upper-hex(SHA-256(previous || SHA-256(ISO data)))`, where `previous` is the
//! previous capture's `hash` decoded from hex to its 32 bytes, or, for the first capture of
//! a transaction, SHA-256 of the empty string. The ISO data is the biometric record before
//! any encryption, i.e. the bytes of the base64url `bioValue` of RCAPTURE. The
//! specification's prose ("previous hash + sha256 hash of the current biometric ISO data")
//! does not say whether the two are joined as bytes or as hex text; rekam joins the 32-byte
//! digests, as MOSIP's reference device service does, so its chains interoperate with
//! MOSIP's registration client.

use sha2::{Digest, Sha256};

/// Why a hash chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// A previous hash that is not 64 hex digits.
    #[error("previousHash {0:?} is not a SHA-256 in hex")]
    BadPrevious(String),
}

/// The `previousHash` of a transaction's first capture: SHA-256 of the empty string, in
/// upper-case hex.
pub fn first_previous_hash() -> String {
    hex::encode_upper(Sha256::digest(b""))
}

/// The 32 bytes a `previousHash` stands for: SHA-256("") when it is empty.
fn previous_bytes(previous: &str) -> Result<[u8; 32], HashError> {
    let previous = previous.trim();
    if previous.is_empty() {
        return Ok(Sha256::digest(b"").into());
    }
    let bytes = hex::decode(previous).map_err(|_| HashError::BadPrevious(previous.to_string()))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| HashError::BadPrevious(previous.to_string()))
}

/// The `hash` of a capture of `iso_data` that follows `previous`.
pub fn chain_hash(previous: &str, iso_data: &[u8]) -> Result<String, HashError> {
    let prev = previous_bytes(previous)?;
    let mut h = Sha256::new();
    h.update(prev);
    h.update(Sha256::digest(iso_data));
    Ok(hex::encode_upper(h.finalize()))
}

/// Whether two hashes are the same (hex digits compared without regard to case).
pub fn same_hash(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_previous_is_sha256_of_nothing() {
        assert_eq!(
            first_previous_hash(),
            "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
        );
        // An empty previousHash stands for the same.
        assert_eq!(
            chain_hash("", b"x").unwrap(),
            chain_hash(&first_previous_hash(), b"x").unwrap()
        );
    }

    #[test]
    fn chain_joins_digests_as_bytes() {
        // SHA-256(SHA-256("") || SHA-256("abc")) computed independently:
        // python3 -c 'import hashlib;e=hashlib.sha256(b"").digest();a=hashlib.sha256(b"abc").digest();print(hashlib.sha256(e+a).hexdigest().upper())'
        assert_eq!(
            chain_hash("", b"abc").unwrap(),
            "BDDBDF7E9DF02F902EE5DD61B2B513D7566A2112FF97DB7DC3B6D184A43EF0E3"
        );
        let second = chain_hash(&chain_hash("", b"abc").unwrap(), b"def").unwrap();
        assert_ne!(second, chain_hash("", b"def").unwrap());
        assert!(chain_hash("zz", b"abc").is_err());
        assert!(same_hash(&second.to_lowercase(), &second));
    }
}
