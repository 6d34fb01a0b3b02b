//! Hex (the `hex` crate) and the serde representation of hashes and signatures: lowercase hex strings in
//! human-readable formats (JSON), byte strings in binary ones (postcard).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

/// Lowercase hex of `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    ::hex::encode(bytes)
}

/// The bytes of a hex string (either case), or None when it is not an even number of hex digits.
pub(crate) fn decode(s: &str) -> Option<Vec<u8>> {
    ::hex::decode(s).ok()
}

fn serialize_bytes<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&encode(bytes))
    } else {
        s.serialize_bytes(bytes)
    }
}

fn deserialize_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    if d.is_human_readable() {
        let s = String::deserialize(d)?;
        decode(&s).ok_or_else(|| D::Error::custom("expected a string of hex digits"))
    } else {
        Ok(serde_bytes::ByteBuf::deserialize(d)?.into_vec())
    }
}

/// `#[serde(with = "...")]` for a 32-byte hash.
pub(crate) mod hash32 {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        serialize_bytes(v, s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let v = deserialize_bytes(d)?;
        <[u8; 32]>::try_from(v.as_slice())
            .map_err(|_| D::Error::invalid_length(v.len(), &"a 32-byte SHA-256 hash"))
    }
}

/// `#[serde(with = "...")]` for a byte vector (the signature).
pub(crate) mod bytes {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        serialize_bytes(v, s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        deserialize_bytes(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let bytes: Vec<u8> = (0..=255).collect();
        let s = encode(&bytes);
        assert_eq!(s.len(), 512);
        assert!(s.starts_with("000102"));
        assert!(s.ends_with("fdfeff"));
        assert_eq!(decode(&s).as_deref(), Some(bytes.as_slice()));
        assert_eq!(decode("ABcd").as_deref(), Some(&[0xab, 0xcd][..]));
        assert_eq!(decode("abc"), None);
        assert_eq!(decode("zz"), None);
        assert_eq!(decode(""), Some(vec![]));
    }
}
