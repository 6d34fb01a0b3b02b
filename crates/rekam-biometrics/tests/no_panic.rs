//! Parsing random, truncated and bit-flipped bytes never panics: every parser returns `Ok` or
//! a `RecordError`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use rekam_biometrics::ansi_nist::{
    Date, Demographics, FaceImage, FingerprintImage, Sex, SignatureImage, Transaction,
    TransactionHeader,
};
use rekam_biometrics::image_info;
use rekam_biometrics::iso19794_4::{Compression, FingerImageRecord, FingerPosition, FingerView};
use rekam_biometrics::iso19794_5::{FaceImage as IsoFace, FaceImageRecord};
use rekam_biometrics::iso19794_6::{
    CaptureDateTime, CompressionHistory, EyeLabel, IrisImage, IrisImageRecord,
};
use rekam_biometrics::signature::{DisplayedSignature, PenSample, SignatureTimeSeries};
use std::sync::OnceLock;

fn jpeg() -> Vec<u8> {
    vec![
        0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x10, 0x00, 0x0C, 0x01, 0x01, 0x11, 0x00,
        0xFF, 0xD9,
    ]
}

fn wsq() -> Vec<u8> {
    let mut v = vec![
        0xFF, 0xA0, 0xFF, 0xA2, 0x00, 0x11, 0x00, 0xFF, 0x00, 0x10, 0x00, 0x0C,
    ];
    v.extend_from_slice(&[0; 9]);
    v.extend_from_slice(&[0x1C, 0x1D, 0xFF, 0xA1]);
    v
}

fn samples() -> Vec<PenSample> {
    (0..6u16)
        .map(|i| PenSample {
            x: i * 9,
            y: 40 - i,
            pressure: i * 100,
            t_ms: u32::from(i) * 8,
        })
        .collect()
}

/// One valid encoding per parser, small so that mutations stay fast.
fn seeds() -> &'static [(usize, Vec<u8>)] {
    static SEEDS: OnceLock<Vec<(usize, Vec<u8>)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut fir = FingerImageRecord::new(500, Compression::Uncompressed);
        fir.views
            .push(FingerView::raw(FingerPosition::LeftThumb, vec![7; 12], 4, 3).unwrap());
        let mut face = IsoFace::from_image(jpeg()).unwrap();
        face.set_eye_centres((3, 4), (8, 4));
        let fac = FaceImageRecord::single(face);
        let sdi = SignatureTimeSeries::from_pen_samples(&samples(), 10.0, 600).unwrap();
        let dg7 = DisplayedSignature::single(jpeg());
        let date = Date::new(2025, 1, 2).unwrap();
        let txn = Transaction::builder(TransactionHeader::new("EKTP", date, "D", "O", "T1"))
            .demographics(Demographics {
                nik: "1234567890123456".into(),
                kk_number: None,
                name: "A".into(),
                birth_place: "B".into(),
                birth_date: date,
                sex: Sex::Male,
                address: None,
                extra: vec![],
            })
            .signature(SignatureImage::from_pen_samples(&samples(), 10.0, 50, 600).unwrap())
            .face(FaceImage::from_image(jpeg(), "O", date).unwrap())
            .fingerprint(
                FingerprintImage::from_image(
                    vec![FingerPosition::LeftThumb],
                    wsq(),
                    500,
                    "O",
                    date,
                )
                .unwrap(),
            )
            .build()
            .unwrap();
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&[0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 8, 0, 0, 0, 6]);
        let iir = IrisImageRecord {
            images: vec![
                IrisImage::from_image(EyeLabel::Left, png, CompressionHistory::LosslessOrNone)
                    .unwrap()
                    .with_quality(80, 1, 2)
                    .with_capture_time(CaptureDateTime::new(2026, 1, 2, 3, 4, 5, 6).unwrap()),
                IrisImage::raw(EyeLabel::Right, vec![1; 6], 3, 2).unwrap(),
            ],
        };
        vec![
            (0, fir.to_bytes().unwrap()),
            (1, fac.to_bytes().unwrap()),
            (2, sdi.to_bytes().unwrap()),
            (3, dg7.to_dg7().unwrap()),
            (4, txn.to_bytes().unwrap()),
            (5, jpeg()),
            (6, wsq()),
            (7, iir.to_bytes().unwrap()),
        ]
    })
}

/// Runs every parser on the input; typed accessors too when the transaction parses.
fn parse_all(data: &[u8]) {
    let _ = FingerImageRecord::parse(data);
    let _ = FaceImageRecord::parse(data);
    let _ = IrisImageRecord::parse(data);
    let _ = SignatureTimeSeries::parse(data);
    let _ = DisplayedSignature::parse_dg7(data);
    let _ = image_info::probe(data);
    if let Ok(txn) = Transaction::parse(data) {
        let _ = txn.header();
        let _ = txn.demographics();
        let _ = txn.faces();
        let _ = txn.fingerprints();
        let _ = txn.signatures();
        let _ = txn.size_report();
    }
}

#[test]
fn seeds_parse() {
    for (kind, bytes) in seeds() {
        let ok = match kind {
            0 => FingerImageRecord::parse(bytes).is_ok(),
            1 => FaceImageRecord::parse(bytes).is_ok(),
            2 => SignatureTimeSeries::parse(bytes).is_ok(),
            3 => DisplayedSignature::parse_dg7(bytes).is_ok(),
            4 => Transaction::parse(bytes).is_ok_and(|t| t.fingerprints().is_ok()),
            7 => IrisImageRecord::parse(bytes).is_ok(),
            _ => image_info::probe(bytes).is_ok(),
        };
        assert!(ok, "seed {kind} does not parse");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        parse_all(&data);
    }

    #[test]
    fn random_bytes_behind_a_valid_magic_never_panic(
        which in 0usize..8,
        tail in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let seed = &seeds()[which].1;
        let mut data = seed[..seed.len().min(12)].to_vec();
        data.extend_from_slice(&tail);
        parse_all(&data);
    }

    /// Random representations behind a valid iris general header whose record length and
    /// first representation length agree with the input, so the parser goes past them.
    #[test]
    fn random_iris_representations_never_panic(
        count in 1u16..4,
        mut tail in proptest::collection::vec(any::<u8>(), 4..300),
    ) {
        let len = tail.len() as u32;
        tail[..4].copy_from_slice(&len.to_be_bytes());
        let mut data = b"IIR\x00020\x00".to_vec();
        data.extend_from_slice(&(16 + len).to_be_bytes());
        data.extend_from_slice(&count.to_be_bytes());
        data.extend_from_slice(&[0, 1]);
        data.extend_from_slice(&tail);
        parse_all(&data);
    }

    #[test]
    fn truncated_records_never_panic(which in 0usize..8, cut in any::<prop::sample::Index>()) {
        let seed = &seeds()[which].1;
        let n = cut.index(seed.len());
        parse_all(&seed[..n]);
    }

    #[test]
    fn bit_flipped_records_never_panic(
        which in 0usize..8,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..6),
    ) {
        let mut data = seeds()[which].1.clone();
        for (at, bit) in flips {
            let i = at.index(data.len());
            data[i] ^= 1 << bit;
        }
        parse_all(&data);
    }

    #[test]
    fn overwritten_bytes_never_panic(
        which in 0usize..8,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut data = seeds()[which].1.clone();
        for (at, value) in edits {
            let i = at.index(data.len());
            data[i] = value;
        }
        parse_all(&data);
    }
}
