//! Tamper evidence for KTP-el enrollments: every artefact of an enrollment (each capture, the
//! package sent to the data centre, the card images printed, the files written to the chip)
//! goes into one hash chain per enrollment, each entry covering the one before it and signed
//! with the station's Ed25519 key, so that any later change, removal, insertion or reordering is
//! detectable; and the recording receipt (bukti perekaman) carries a QR code whose content is the
//! receipt number signed by the station, so that a receipt cannot be forged.
//!
//! # Byte layouts (enough for another implementation to verify)
//!
//! Notation: `u32be(x)`, `u64be(x)`, `i64be(x)` are big-endian fixed-width integers (`i64` in
//! two's complement); `str(s)` is `u64be(byte length of s) || s` with `s` in UTF-8; `||` is
//! concatenation.
//!
//! **Station key and key id.** The station key is an Ed25519 key (RFC 8032, pure Ed25519, no
//! pre-hash); signatures are the usual 64 bytes `R || S` and are verified strictly (canonical
//! `S`, no small-order keys or `R`). A key's *key id* is the first 8 bytes of SHA-256 of the 32
//! public-key bytes, written as 16 lowercase hex digits.
//!
//! **Chain entry hash.** For the entry of enrollment `enrollment_id` with fields `seq` (`u32`),
//! `kind`, `name`, `sha256` (32 bytes: SHA-256 of the artefact's bytes), `size` (`u64`: the
//! artefact's length in bytes), `at_ms` (`i64`: Unix time in milliseconds) and `prev` (32 bytes:
//! the `hash` of the entry before, 32 zero bytes for `seq` 0):
//!
//! ```text
//! hash = SHA-256( str("rekam-chain-v1") || str(enrollment_id) || u32be(seq) || str(kind)
//!                 || str(name) || sha256 || u64be(size) || i64be(at_ms) || prev )
//! ```
//!
//! so the prefix is `00 00 00 00 00 00 00 0e` followed by the 14 ASCII bytes `rekam-chain-v1`.
//! The entry's `signature` is Ed25519 by the key named by `key_id` over the 32 bytes of `hash`
//! (the key id itself is not signed: it only says which key to verify with). A chain is valid
//! when entry `i` has `seq == i`, its `prev` equals the `hash` of entry `i - 1`, its `hash`
//! recomputes and its signature verifies. A chain cut short at its end is still a valid chain:
//! whoever needs to detect truncation keeps the last entry's hash (the head) elsewhere as well.
//!
//! **Recording-receipt token** (the QR code's text):
//!
//! ```text
//! REKAM-BP1:<receipt number>:<key id>:<signature>
//! ```
//!
//! where the receipt number is 1 to 64 characters of `A-Z`, `0-9` and `-` (for example
//! `BP-STATION01-20261129-7KQ2M9ZD`), the key id is as above, and the signature is the Ed25519
//! signature over the ASCII bytes `rekam-receipt-v1`, one zero byte, then the receipt number,
//! encoded as base64url without padding (RFC 4648 §5, 86 characters).
//!
//! **Serialised entries.** [`ChainEntry`] is serde-serialisable. In human-readable formats
//! (JSON) the three 32-byte hashes and the signature are lowercase hex strings; in binary formats
//! (postcard) they are byte strings.
//!
//! **Key files.** [`StationKey::load`] reads a PKCS#8 PEM private key (`-----BEGIN PRIVATE
//! KEY-----`, as `openssl genpkey -algorithm ed25519` writes it) or 64 hex digits of the 32-byte
//! seed, and refuses a file that its group or others may read. [`StationKey::load_or_create`]
//! writes new keys as PKCS#8 PEM with mode 0600.

mod chain;
mod hex;
mod key;
mod receipt;

pub use chain::{ChainEntry, ChainProblem, ChainReport, append, verify};
pub use key::{IntegrityError, PublicKey, StationKey};
pub use receipt::{ReceiptTokenError, is_valid_receipt_number, sign_receipt, verify_receipt};
