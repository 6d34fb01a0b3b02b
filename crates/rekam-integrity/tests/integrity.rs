//! The public API end to end: chains and their tampering, serialisation, key files (with
//! OpenSSL for interoperability) and receipt tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use rekam_integrity::{
    ChainEntry, ChainProblem, IntegrityError, PublicKey, ReceiptTokenError, StationKey, append,
    sign_receipt, verify, verify_receipt,
};

const ENROLLMENT: &str = "01JDZK3M4Q8X7N5R2T6V9W0YAB";

/// Artefacts of one enrollment, by name.
fn artefacts() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    vec![
        ("capture", "face.jpg", b"\xff\xd8 a face".to_vec()),
        ("capture", "slap.right_four", vec![7; 300]),
        ("capture", "signature.png", b"\x89PNG a signature".to_vec()),
        ("package", "package.eft", vec![1, 2, 3, 4, 5]),
        ("card", "card.front.png", b"front".to_vec()),
        ("chip", "chip.dg1", b"DG1".to_vec()),
    ]
}

fn at(i: usize) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_764_400_000_000 + 1000 * i as u64)
}

fn build(key: &StationKey) -> (Vec<ChainEntry>, HashMap<String, Vec<u8>>) {
    let mut chain = Vec::new();
    let mut files = HashMap::new();
    for (i, (kind, name, bytes)) in artefacts().into_iter().enumerate() {
        append(&mut chain, key, ENROLLMENT, kind, name, &bytes, at(i));
        files.insert(name.to_string(), bytes);
    }
    (chain, files)
}

fn keyring(keys: &[&StationKey]) -> HashMap<String, PublicKey> {
    keys.iter().map(|k| (k.key_id(), k.public())).collect()
}

/// Verifies with the given trusted keys and every artefact available in `files`.
fn check(
    id: &str,
    chain: &[ChainEntry],
    trusted: &HashMap<String, PublicKey>,
    files: &HashMap<String, Vec<u8>>,
) -> rekam_integrity::ChainReport {
    verify(id, chain, &|kid| trusted.get(kid).copied(), &|e| {
        files.get(&e.name).cloned()
    })
}

#[test]
fn round_trip_over_several_entries() {
    let key = StationKey::generate();
    let (chain, files) = build(&key);
    assert_eq!(chain.len(), 6);
    for (i, e) in chain.iter().enumerate() {
        assert_eq!(e.seq as usize, i);
        if i > 0 {
            assert_eq!(e.prev, chain[i - 1].hash);
        }
    }
    let report = check(ENROLLMENT, &chain, &keyring(&[&key]), &files);
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.entries, 6);
    assert_eq!(report.checked_content, 6);
    assert!(report.unchecked.is_empty());
}

#[test]
fn unavailable_artefacts_are_unchecked_not_problems() {
    let key = StationKey::generate();
    let (chain, mut files) = build(&key);
    files.remove("face.jpg");
    files.remove("chip.dg1");
    let report = check(ENROLLMENT, &chain, &keyring(&[&key]), &files);
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.checked_content, 4);
    assert_eq!(report.unchecked, vec!["face.jpg", "chip.dg1"]);
}

#[test]
fn empty_chain_verifies() {
    let report = verify(ENROLLMENT, &[], &|_| None, &|_| None);
    assert!(report.ok());
    assert_eq!(report.entries, 0);
}

#[test]
fn changed_fields_are_hash_mismatches() {
    let key = StationKey::generate();
    let (chain, files) = build(&key);
    let trusted = keyring(&[&key]);
    type Tampering = (&'static str, fn(&mut ChainEntry));
    let tamperings: Vec<Tampering> = vec![
        ("kind", |e| e.kind = "card".into()),
        ("name", |e| e.name.push('x')),
        ("sha256", |e| e.sha256[0] ^= 1),
        ("size", |e| e.size += 1),
        ("at_ms", |e| e.at_ms -= 60_000),
    ];
    for (field, tamper) in tamperings {
        let mut c = chain.clone();
        tamper(&mut c[2]);
        let report = check(ENROLLMENT, &c, &trusted, &files);
        assert!(
            report.problems.iter().any(|p| matches!(
                p,
                ChainProblem::HashMismatch { seq: 2, name } if name == &c[2].name
            )),
            "{field}: {report:?}"
        );
    }
}

#[test]
fn changed_field_with_recomputed_hash_is_a_bad_signature() {
    let key = StationKey::generate();
    let (mut chain, files) = build(&key);
    chain[4].at_ms += 1;
    chain[4].hash = chain[4].compute_hash(ENROLLMENT);
    let report = check(ENROLLMENT, &chain, &keyring(&[&key]), &files);
    assert!(report.problems.contains(&ChainProblem::BadSignature {
        seq: 4,
        name: "card.front.png".into()
    }));
    // The next entry no longer links to the rewritten one.
    assert!(
        report
            .problems
            .contains(&ChainProblem::BrokenLink { seq: 5 })
    );
    assert!(
        !report
            .problems
            .iter()
            .any(|p| matches!(p, ChainProblem::HashMismatch { .. }))
    );
}

#[test]
fn changed_content_is_reported() {
    let key = StationKey::generate();
    let (chain, mut files) = build(&key);
    files.get_mut("slap.right_four").unwrap()[10] ^= 0x80;
    files.get_mut("chip.dg1").unwrap().push(0); // same prefix, longer
    let report = check(ENROLLMENT, &chain, &keyring(&[&key]), &files);
    assert_eq!(
        report.problems,
        vec![
            ChainProblem::ContentChanged {
                seq: 1,
                name: "slap.right_four".into()
            },
            ChainProblem::ContentChanged {
                seq: 5,
                name: "chip.dg1".into()
            },
        ]
    );
    assert!(!report.ok());
    assert_eq!(report.checked_content, 6);
}

#[test]
fn dropped_entry_in_the_middle() {
    let key = StationKey::generate();
    let (mut chain, files) = build(&key);
    chain.remove(3);
    let report = check(ENROLLMENT, &chain, &keyring(&[&key]), &files);
    // Reported once, where the gap is.
    assert_eq!(
        report.problems,
        vec![
            ChainProblem::OutOfSequence {
                seq: 4,
                expected: 3
            },
            ChainProblem::BrokenLink { seq: 4 },
        ]
    );
}

#[test]
fn dropped_first_entry() {
    let key = StationKey::generate();
    let (mut chain, files) = build(&key);
    chain.remove(0);
    let report = check(ENROLLMENT, &chain, &keyring(&[&key]), &files);
    assert_eq!(
        report.problems,
        vec![
            ChainProblem::OutOfSequence {
                seq: 1,
                expected: 0
            },
            ChainProblem::BrokenLink { seq: 1 },
        ]
    );
}

#[test]
fn reordered_entries() {
    let key = StationKey::generate();
    let (mut chain, files) = build(&key);
    chain.swap(1, 2);
    let report = check(ENROLLMENT, &chain, &keyring(&[&key]), &files);
    assert!(report.problems.contains(&ChainProblem::OutOfSequence {
        seq: 2,
        expected: 1
    }));
    assert!(
        report
            .problems
            .contains(&ChainProblem::BrokenLink { seq: 2 })
    );
    assert!(
        report
            .problems
            .contains(&ChainProblem::BrokenLink { seq: 1 })
    );
    // Renumbering the swapped entries does not help: their hashes cover seq.
    chain[0..3]
        .iter_mut()
        .enumerate()
        .for_each(|(i, e)| e.seq = i as u32);
    let report = check(ENROLLMENT, &chain, &keyring(&[&key]), &files);
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, ChainProblem::HashMismatch { seq: 1, .. }))
    );
    assert!(
        report
            .problems
            .contains(&ChainProblem::BrokenLink { seq: 1 })
    );
}

#[test]
fn entry_resigned_with_another_key() {
    let key = StationKey::generate();
    let other = StationKey::generate();
    let (mut chain, files) = build(&key);

    // Re-signed and labelled with the other key, which the verifier does not trust.
    chain[2].key_id = other.key_id();
    chain[2].signature = other.sign(&chain[2].hash).to_vec();
    let report = check(ENROLLMENT, &chain, &keyring(&[&key]), &files);
    assert_eq!(
        report.problems,
        vec![ChainProblem::UnknownKey {
            seq: 2,
            key_id: other.key_id()
        }]
    );
    // The other key is trusted too: the entry verifies (a genuine second station).
    assert!(check(ENROLLMENT, &chain, &keyring(&[&key, &other]), &files).ok());

    // Re-signed with the other key but still labelled with the station's key id.
    let (mut chain, _) = build(&key);
    chain[2].signature = other.sign(&chain[2].hash).to_vec();
    let report = check(ENROLLMENT, &chain, &keyring(&[&key, &other]), &files);
    assert_eq!(
        report.problems,
        vec![ChainProblem::BadSignature {
            seq: 2,
            name: "signature.png".into()
        }]
    );

    // A truncated signature is a bad signature too.
    let (mut chain, _) = build(&key);
    chain[0].signature.pop();
    let report = check(ENROLLMENT, &chain, &keyring(&[&key]), &files);
    assert_eq!(
        report.problems,
        vec![ChainProblem::BadSignature {
            seq: 0,
            name: "face.jpg".into()
        }]
    );
}

#[test]
fn another_enrollment_id_mismatches_every_entry() {
    let key = StationKey::generate();
    let (chain, files) = build(&key);
    let report = check(
        "01JDZK3M4Q8X7N5R2T6V9W0YAC",
        &chain,
        &keyring(&[&key]),
        &files,
    );
    assert_eq!(report.problems.len(), chain.len());
    for (p, e) in report.problems.iter().zip(&chain) {
        assert_eq!(
            p,
            &ChainProblem::HashMismatch {
                seq: e.seq,
                name: e.name.clone()
            }
        );
    }
}

#[test]
fn serde_round_trip_json_and_postcard() {
    let key = StationKey::generate();
    let (chain, files) = build(&key);

    let json = serde_json::to_string(&chain).unwrap();
    let back: Vec<ChainEntry> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, chain);
    // Hashes and signatures are hex in JSON.
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let first = &value[0];
    assert_eq!(first["seq"], 0);
    assert_eq!(first["prev"], "0".repeat(64));
    assert_eq!(first["signature"].as_str().unwrap().len(), 128);
    assert_eq!(first["key_id"], key.key_id());

    let bin = postcard::to_allocvec(&chain).unwrap();
    let back: Vec<ChainEntry> = postcard::from_bytes(&bin).unwrap();
    assert_eq!(back, chain);
    assert!(check(ENROLLMENT, &back, &keyring(&[&key]), &files).ok());

    // Wrong lengths are refused, not padded.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v[0]["hash"] = serde_json::Value::from("abcd");
    assert!(serde_json::from_value::<Vec<ChainEntry>>(v).is_err());
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v[0]["sha256"] = serde_json::Value::from("zz".repeat(32));
    assert!(serde_json::from_value::<Vec<ChainEntry>>(v).is_err());
}

// ---- key files ----

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn load_or_create_creates_a_0600_pem_then_loads_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys/station.key");
    let created = StationKey::load_or_create(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{text}");
    assert!(text.trim_end().ends_with("-----END PRIVATE KEY-----"));
    // No temporary file is left behind.
    assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);

    let again = StationKey::load_or_create(&path).unwrap();
    assert_eq!(again.public(), created.public());
    assert_eq!(StationKey::load(&path).unwrap().key_id(), created.key_id());
    // The loaded key signs what the created key's public half verifies.
    assert!(created.public().verify(b"m", &again.sign(b"m")));
}

#[test]
fn key_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("station.key");
    StationKey::load_or_create(&path).unwrap();
    for m in [0o644, 0o640, 0o604, 0o610] {
        fs::set_permissions(&path, fs::Permissions::from_mode(m)).unwrap();
        let err = StationKey::load(&path).unwrap_err();
        assert!(
            matches!(err, IntegrityError::InsecureKeyFile { mode, .. } if mode == m),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("chmod 600 {}", path.display())),
            "{msg}"
        );
        // load_or_create refuses it too, and does not replace it.
        assert!(matches!(
            StationKey::load_or_create(&path),
            Err(IntegrityError::InsecureKeyFile { .. })
        ));
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    assert!(StationKey::load(&path).is_ok());
}

#[test]
fn a_corrupt_key_file_is_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("station.key");
    fs::write(&path, "garbage").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    let err = StationKey::load_or_create(&path).unwrap_err();
    assert!(matches!(err, IntegrityError::KeyFile { .. }), "{err:?}");
    assert_eq!(fs::read_to_string(&path).unwrap(), "garbage");
}

#[test]
fn missing_key_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = StationKey::load(&dir.path().join("nope.key")).unwrap_err();
    assert!(matches!(err, IntegrityError::Io { .. }), "{err:?}");
}

#[test]
fn hex_seed_file_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.hex");
    // RFC 8032 §7.1 TEST 1.
    fs::write(
        &path,
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n",
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    let key = StationKey::load(&path).unwrap();
    assert_eq!(
        key.public().to_hex(),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    // Upper case works too.
    fs::write(
        &path,
        "9D61B19DEFFD5A60BA844AF492EC2CC44449C5697B326919703BAC031CAE7F60",
    )
    .unwrap();
    assert_eq!(StationKey::load(&path).unwrap().public(), key.public());
}

/// OpenSSL is part of the machine image; this test fails (does not skip) without it.
fn openssl(args: &[&str]) -> std::process::Output {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl must be installed (Debian package `openssl`) for this test");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn openssl_generated_pem_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openssl.pem");
    let p = path.to_str().unwrap();
    openssl(&["genpkey", "-algorithm", "ed25519", "-out", p]);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    let key = StationKey::load(&path).unwrap();
    // OpenSSL's public key (SubjectPublicKeyInfo DER: 12 header bytes + 32 key bytes) is ours.
    let der = openssl(&["pkey", "-in", p, "-pubout", "-outform", "DER"]).stdout;
    assert_eq!(der.len(), 44);
    assert_eq!(&der[12..], &key.public().to_bytes());
    // And OpenSSL's signature verifies with it (Ed25519 is deterministic: equal, too).
    let msg = dir.path().join("msg");
    fs::write(&msg, b"rekam").unwrap();
    let sig = openssl(&[
        "pkeyutl",
        "-sign",
        "-rawin",
        "-inkey",
        p,
        "-in",
        msg.to_str().unwrap(),
    ])
    .stdout;
    assert!(key.public().verify(b"rekam", &sig));
    assert_eq!(sig, key.sign(b"rekam"));
}

#[test]
fn created_pem_is_read_by_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("station.key");
    let key = StationKey::load_or_create(&path).unwrap();
    let der = openssl(&[
        "pkey",
        "-in",
        path.to_str().unwrap(),
        "-pubout",
        "-outform",
        "DER",
    ])
    .stdout;
    assert_eq!(&der[12..], &key.public().to_bytes());
}

// ---- receipt tokens ----

const RECEIPT: &str = "BP-STATION01-20261129-7KQ2M9ZD";

#[test]
fn receipt_round_trip() {
    let key = StationKey::generate();
    let trusted = keyring(&[&key]);
    let token = sign_receipt(&key, RECEIPT);
    assert!(token.starts_with("REKAM-BP1:BP-STATION01-20261129-7KQ2M9ZD:"));
    let lookup = |kid: &str| trusted.get(kid).copied();
    assert_eq!(verify_receipt(&token, &lookup).unwrap(), RECEIPT);
    // A scanner's line end is ignored.
    assert_eq!(
        verify_receipt(&format!("{token}\r\n"), &lookup).unwrap(),
        RECEIPT
    );
}

#[test]
fn altered_receipt_number_is_forged() {
    let key = StationKey::generate();
    let trusted = keyring(&[&key]);
    let lookup = |kid: &str| trusted.get(kid).copied();
    let token = sign_receipt(&key, RECEIPT);
    let altered = token.replace("7KQ2M9ZD", "7KQ2M9ZE");
    assert_eq!(
        verify_receipt(&altered, &lookup),
        Err(ReceiptTokenError::Forged)
    );
    // A signature from another token of the same station does not fit either.
    let other = sign_receipt(&key, "BP-STATION01-20261129-AAAAAAAA");
    let sig = other.rsplit(':').next().unwrap();
    let spliced = format!("REKAM-BP1:{RECEIPT}:{}:{sig}", key.key_id());
    assert_eq!(
        verify_receipt(&spliced, &lookup),
        Err(ReceiptTokenError::Forged)
    );
    // A flipped signature bit.
    let mut chars: Vec<char> = token.chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let flipped: String = chars.into_iter().collect();
    assert_eq!(
        verify_receipt(&flipped, &lookup),
        Err(ReceiptTokenError::Forged)
    );
}

#[test]
fn another_stations_receipt_is_unknown_key() {
    let ours = StationKey::generate();
    let theirs = StationKey::generate();
    let trusted = keyring(&[&ours]);
    let token = sign_receipt(&theirs, RECEIPT);
    assert_eq!(
        verify_receipt(&token, &|kid| trusted.get(kid).copied()),
        Err(ReceiptTokenError::UnknownKey(theirs.key_id()))
    );
    // Relabelled with our key id, it does not verify.
    let relabelled = token.replace(&theirs.key_id(), &ours.key_id());
    assert_eq!(
        verify_receipt(&relabelled, &|kid| trusted.get(kid).copied()),
        Err(ReceiptTokenError::Forged)
    );
}

#[test]
fn malformed_receipt_tokens() {
    let key = StationKey::generate();
    let trusted = keyring(&[&key]);
    let lookup = |kid: &str| trusted.get(kid).copied();
    let token = sign_receipt(&key, RECEIPT);
    let kid = key.key_id();
    let sig = token.rsplit(':').next().unwrap().to_string();
    let std_b64 = sig.replace('-', "+").replace('_', "/");
    let cases = [
        String::new(),
        "REKAM-BP1".to_string(),
        format!("REKAM-BP2:{RECEIPT}:{kid}:{sig}"),
        format!("rekam-bp1:{RECEIPT}:{kid}:{sig}"),
        format!("{token}:extra"),
        format!("REKAM-BP1:BP:STATION01:{kid}:{sig}"),
        format!("REKAM-BP1::{kid}:{sig}"),
        format!("REKAM-BP1:bp-station01:{kid}:{sig}"),
        format!("REKAM-BP1:BP STATION01:{kid}:{sig}"),
        format!("REKAM-BP1:BP-ÉTAT:{kid}:{sig}"),
        format!("REKAM-BP1:{}:{kid}:{sig}", "A".repeat(65)),
        format!("REKAM-BP1:{RECEIPT}:{}:{sig}", kid.to_uppercase()),
        format!("REKAM-BP1:{RECEIPT}:{}:{sig}", &kid[..15]),
        format!("REKAM-BP1:{RECEIPT}:{kid}:{sig}=="),
        format!("REKAM-BP1:{RECEIPT}:{kid}:{}", &sig[..84]),
        format!("REKAM-BP1:{RECEIPT}:{kid}:{sig}AAAA"),
        format!("REKAM-BP1:{RECEIPT}:{kid}:not*base64"),
        format!("REKAM-BP1:{RECEIPT}:{kid}:"),
    ];
    for case in &cases {
        let got = verify_receipt(case, &lookup);
        assert!(
            matches!(got, Err(ReceiptTokenError::Malformed(_))),
            "{case:?}: {got:?}"
        );
    }
    // Standard-alphabet base64 is malformed when it uses + or /, else identical.
    if std_b64 != sig {
        let got = verify_receipt(&format!("REKAM-BP1:{RECEIPT}:{kid}:{std_b64}"), &lookup);
        assert!(
            matches!(got, Err(ReceiptTokenError::Malformed(_))),
            "{got:?}"
        );
    }
}

// ---- any single-byte change is detected ----

fn one_entry_chain() -> (StationKey, Vec<ChainEntry>) {
    let key = StationKey::from_seed([9; 32]);
    let mut chain = Vec::new();
    append(
        &mut chain,
        &key,
        ENROLLMENT,
        "capture",
        "face.jpg",
        b"face",
        at(0),
    );
    append(
        &mut chain,
        &key,
        ENROLLMENT,
        "capture",
        "iris.left",
        b"iris",
        at(1),
    );
    (key, chain)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_byte_change_of_hash_signature_or_sha256_is_detected(
        field in 0usize..3,
        index in 0usize..64,
        mask in 1u8..=255,
        which in 0usize..2,
    ) {
        let (key, mut chain) = one_entry_chain();
        let trusted = keyring(&[&key]);
        let e = &mut chain[which];
        match field {
            0 => e.hash[index % 32] ^= mask,
            1 => e.signature[index] ^= mask,
            _ => e.sha256[index % 32] ^= mask,
        }
        let report = verify(ENROLLMENT, &chain, &|k| trusted.get(k).copied(), &|_| None);
        prop_assert!(!report.ok());
    }

    #[test]
    fn any_byte_change_of_a_postcard_entry_is_detected(
        index in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let (key, chain) = one_entry_chain();
        let trusted = keyring(&[&key]);
        let mut bytes = postcard::to_allocvec(&chain[1]).unwrap();
        let i = index.index(bytes.len());
        bytes[i] ^= mask;
        if let Ok(entry) = postcard::from_bytes::<ChainEntry>(&bytes) {
            let tampered = vec![chain[0].clone(), entry];
            if tampered != chain {
                let report =
                    verify(ENROLLMENT, &tampered, &|k| trusted.get(k).copied(), &|_| None);
                prop_assert!(!report.ok(), "byte {} ^ {:#04x} undetected", i, mask);
            }
        }
    }
}
