//! One hash chain per enrollment over all its artefacts, each entry signed by the station.

use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};

use crate::key::{PublicKey, StationKey};

/// The domain tag that starts every entry hash.
const CHAIN_TAG: &[u8] = b"rekam-chain-v1";

/// One link of an enrollment's chain: one artefact (a capture, the package sent, a card image,
/// a file written to the chip), what it hashed to, and when; see the crate documentation for
/// the exact bytes of `hash`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainEntry {
    /// Position in the chain: 0, 1, 2…
    pub seq: u32,
    /// What kind of artefact: "capture", "package", "card", "chip"…
    pub kind: String,
    /// Which artefact, e.g. "face.jpg", "slap.right_four", "card.front.png", "chip.dg1".
    pub name: String,
    /// SHA-256 of the artefact's bytes.
    #[serde(with = "crate::hex::hash32")]
    pub sha256: [u8; 32],
    /// The artefact's length in bytes.
    pub size: u64,
    /// When the entry was made, Unix time in milliseconds.
    pub at_ms: i64,
    /// The `hash` of the entry before (all zero for `seq` 0).
    #[serde(with = "crate::hex::hash32")]
    pub prev: [u8; 32],
    /// SHA-256 over the domain tag "rekam-chain-v1", the enrollment id and the fields above
    /// (layout in the crate documentation).
    #[serde(with = "crate::hex::hash32")]
    pub hash: [u8; 32],
    /// The key id of the station key that signed the entry.
    pub key_id: String,
    /// Ed25519 signature (64 bytes) over the 32 bytes of `hash`.
    #[serde(with = "crate::hex::bytes")]
    pub signature: Vec<u8>,
}

impl ChainEntry {
    /// The hash this entry's fields give for the enrollment `enrollment_id` (what `hash` must be).
    pub fn compute_hash(&self, enrollment_id: &str) -> [u8; 32] {
        entry_hash(
            enrollment_id,
            self.seq,
            &self.kind,
            &self.name,
            &self.sha256,
            self.size,
            self.at_ms,
            &self.prev,
        )
    }
}

fn put_str(h: &mut Sha256, s: &[u8]) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s);
}

#[allow(clippy::too_many_arguments)]
fn entry_hash(
    enrollment_id: &str,
    seq: u32,
    kind: &str,
    name: &str,
    sha256: &[u8; 32],
    size: u64,
    at_ms: i64,
    prev: &[u8; 32],
) -> [u8; 32] {
    let mut h = Sha256::new();
    put_str(&mut h, CHAIN_TAG);
    put_str(&mut h, enrollment_id.as_bytes());
    h.update(seq.to_be_bytes());
    put_str(&mut h, kind.as_bytes());
    put_str(&mut h, name.as_bytes());
    h.update(sha256);
    h.update(size.to_be_bytes());
    h.update(at_ms.to_be_bytes());
    h.update(prev);
    h.finalize().into()
}

fn unix_ms(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// Appends an entry for `content` (the artefact's bytes) to `chain`: its `seq` and `prev`
/// follow the last entry (0 and all zero for an empty chain), it is hashed for
/// `enrollment_id` and signed with `key`. Returns the new entry (also pushed onto `chain`).
pub fn append(
    chain: &mut Vec<ChainEntry>,
    key: &StationKey,
    enrollment_id: &str,
    kind: &str,
    name: &str,
    content: &[u8],
    at: SystemTime,
) -> ChainEntry {
    let (seq, prev) = match chain.last() {
        Some(last) => (last.seq.saturating_add(1), last.hash),
        None => (0, [0u8; 32]),
    };
    let sha256: [u8; 32] = Sha256::digest(content).into();
    let size = content.len() as u64;
    let at_ms = unix_ms(at);
    let hash = entry_hash(enrollment_id, seq, kind, name, &sha256, size, at_ms, &prev);
    let entry = ChainEntry {
        seq,
        kind: kind.to_string(),
        name: name.to_string(),
        sha256,
        size,
        at_ms,
        prev,
        hash,
        key_id: key.key_id(),
        signature: key.sign(&hash).to_vec(),
    };
    chain.push(entry.clone());
    entry
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// How many entries the chain has.
    pub entries: usize,
    /// How many entries' artefacts were available and hashed again.
    pub checked_content: usize,
    /// The names of the entries whose artefacts were not available to check (not a problem).
    pub unchecked: Vec<String>,
    /// Everything wrong, in chain order.
    pub problems: Vec<ChainProblem>,
}

impl ChainReport {
    /// True when no problem was found (unchecked artefacts are not problems).
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Something wrong with an enrollment's chain. The messages say what it means and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainProblem {
    /// The entry's `seq` is not the one after the entry before it.
    #[error(
        "chain entry {seq} is out of sequence (entry {expected} was expected here): entries were \
         removed, inserted or reordered; keep the enrollment's records as they are and report the \
         station to the supervisor for investigation"
    )]
    OutOfSequence {
        /// The entry's `seq`.
        seq: u32,
        /// The `seq` that should have been there.
        expected: u32,
    },
    /// The entry's `prev` is not the hash of the entry before it.
    #[error(
        "chain entry {seq} does not link to the entry before it: the chain was cut or entries \
         were replaced; keep the enrollment's records as they are and report the station to the \
         supervisor for investigation"
    )]
    BrokenLink {
        /// The entry's `seq`.
        seq: u32,
    },
    /// The entry's own fields no longer give its hash.
    #[error(
        "chain entry {seq} ({name:?}) was altered after it was recorded: its fields no longer \
         match its hash (or the chain was checked against the wrong enrollment id); check the \
         enrollment id, then report the station to the supervisor"
    )]
    HashMismatch {
        /// The entry's `seq`.
        seq: u32,
        /// The entry's `name`.
        name: String,
    },
    /// The entry's signature does not verify with the key its key id names.
    #[error(
        "chain entry {seq} ({name:?}) has a signature that does not verify with its station \
         key: the entry was altered or signed by someone else; report the station to the \
         supervisor"
    )]
    BadSignature {
        /// The entry's `seq`.
        seq: u32,
        /// The entry's `name`.
        name: String,
    },
    /// The entry names a key id the verifier does not know.
    #[error(
        "chain entry {seq} is signed by an unknown station key {key_id:?}: add that station's \
         public key to the trusted keys if it is a genuine station, otherwise treat the entry as \
         forged"
    )]
    UnknownKey {
        /// The entry's `seq`.
        seq: u32,
        /// The key id it names.
        key_id: String,
    },
    /// The artefact's bytes no longer hash to what the entry recorded.
    #[error(
        "artefact {name:?} (chain entry {seq}) no longer matches the hash recorded for it: the \
         file was changed or replaced after it was recorded; restore it from backup or record \
         the applicant again"
    )]
    ContentChanged {
        /// The entry's `seq`.
        seq: u32,
        /// The entry's (artefact's) `name`.
        name: String,
    },
}

/// Checks the chain of enrollment `enrollment_id`: that sequence numbers run 0, 1, 2… (each the
/// one after the entry before it), that each `prev` is the `hash` of the entry before (all zero
/// for the first), that each `hash` recomputes from the entry's fields and `enrollment_id`, and
/// that each signature verifies with the key that `keys` returns for the entry's key id (`None`
/// = unknown key). For entries where `content` returns the artefact's bytes, checks that they
/// still hash to `sha256`; where it returns `None` the artefact is listed
/// as unchecked, which is not a problem.
///
/// A chain cut short at its end verifies: compare the last entry's hash with a head kept
/// elsewhere to detect that.
pub fn verify(
    enrollment_id: &str,
    chain: &[ChainEntry],
    keys: &dyn Fn(&str) -> Option<PublicKey>,
    content: &dyn Fn(&ChainEntry) -> Option<Vec<u8>>,
) -> ChainReport {
    let mut report = ChainReport {
        entries: chain.len(),
        checked_content: 0,
        unchecked: Vec::new(),
        problems: Vec::new(),
    };
    let mut expected_seq: u32 = 0;
    let mut expected_prev = [0u8; 32];
    for entry in chain {
        let problems = &mut report.problems;
        if entry.seq != expected_seq {
            problems.push(ChainProblem::OutOfSequence {
                seq: entry.seq,
                expected: expected_seq,
            });
        }
        if entry.prev != expected_prev {
            problems.push(ChainProblem::BrokenLink { seq: entry.seq });
        }
        if entry.compute_hash(enrollment_id) != entry.hash {
            problems.push(ChainProblem::HashMismatch {
                seq: entry.seq,
                name: entry.name.clone(),
            });
        }
        match keys(&entry.key_id) {
            None => problems.push(ChainProblem::UnknownKey {
                seq: entry.seq,
                key_id: entry.key_id.clone(),
            }),
            Some(key) => {
                if !key.verify(&entry.hash, &entry.signature) {
                    problems.push(ChainProblem::BadSignature {
                        seq: entry.seq,
                        name: entry.name.clone(),
                    });
                }
            }
        }
        match content(entry) {
            None => report.unchecked.push(entry.name.clone()),
            Some(bytes) => {
                report.checked_content += 1;
                let digest: [u8; 32] = Sha256::digest(&bytes).into();
                if digest != entry.sha256 {
                    report.problems.push(ChainProblem::ContentChanged {
                        seq: entry.seq,
                        name: entry.name.clone(),
                    });
                }
            }
        }
        // Follow the chain as it stands, so one removed or moved entry is reported where it
        // happened rather than at every entry after it.
        expected_seq = entry.seq.saturating_add(1);
        expected_prev = entry.hash;
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn hash_layout_is_as_documented() {
        // Built by hand from the crate documentation's layout.
        let mut bytes = Vec::new();
        for s in [&b"rekam-chain-v1"[..], b"E1"] {
            bytes.extend_from_slice(&(s.len() as u64).to_be_bytes());
            bytes.extend_from_slice(s);
        }
        bytes.extend_from_slice(&3u32.to_be_bytes());
        for s in [&b"capture"[..], b"face.jpg"] {
            bytes.extend_from_slice(&(s.len() as u64).to_be_bytes());
            bytes.extend_from_slice(s);
        }
        bytes.extend_from_slice(&[0xaa; 32]);
        bytes.extend_from_slice(&1234u64.to_be_bytes());
        bytes.extend_from_slice(&(-5i64).to_be_bytes());
        bytes.extend_from_slice(&[0xbb; 32]);
        assert_eq!(&bytes[..8], &[0, 0, 0, 0, 0, 0, 0, 14]);
        let expected: [u8; 32] = Sha256::digest(&bytes).into();
        let got = entry_hash(
            "E1",
            3,
            "capture",
            "face.jpg",
            &[0xaa; 32],
            1234,
            -5,
            &[0xbb; 32],
        );
        assert_eq!(got, expected);
        // Moving a byte between adjacent strings changes the hash (length prefixes).
        assert_ne!(
            entry_hash(
                "E1",
                3,
                "capturef",
                "ace.jpg",
                &[0xaa; 32],
                1234,
                -5,
                &[0xbb; 32]
            ),
            got
        );
    }

    #[test]
    fn append_links_and_signs() {
        let key = StationKey::from_seed([1; 32]);
        let mut chain = Vec::new();
        let a = append(
            &mut chain,
            &key,
            "E1",
            "capture",
            "face.jpg",
            b"jpeg",
            t(1000),
        );
        let b = append(
            &mut chain,
            &key,
            "E1",
            "capture",
            "sig.png",
            b"png",
            t(2000),
        );
        assert_eq!((a.seq, b.seq), (0, 1));
        assert_eq!(a.prev, [0; 32]);
        assert_eq!(b.prev, a.hash);
        assert_eq!(a.at_ms, 1000);
        assert_eq!(a.size, 4);
        assert_eq!(a.sha256, <[u8; 32]>::from(Sha256::digest(b"jpeg")));
        assert_eq!(a.key_id, key.key_id());
        assert!(key.public().verify(&a.hash, &a.signature));
        assert_eq!(chain, vec![a, b]);
    }

    #[test]
    fn times_before_the_epoch_are_negative() {
        assert_eq!(unix_ms(UNIX_EPOCH - Duration::from_millis(1500)), -1500);
        assert_eq!(unix_ms(UNIX_EPOCH), 0);
    }

    #[test]
    fn messages_name_the_entry() {
        let p = ChainProblem::ContentChanged {
            seq: 4,
            name: "card.front.png".into(),
        };
        let msg = p.to_string();
        assert!(msg.contains("card.front.png") && msg.contains('4'), "{msg}");
        let p = ChainProblem::HashMismatch {
            seq: 2,
            name: "chip.dg1".into(),
        };
        assert!(p.to_string().contains("chip.dg1"));
    }
}
