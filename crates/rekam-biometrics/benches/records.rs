//! Encoding and parsing speed of the records with enrollment-sized payloads: a 10-print
//! ANSI/NIST transaction (ten 30 KB WSQ-sized payloads, a 40 KB face, a signature), an
//! ISO/IEC 19794-4 record of four 500 ppi raw views and an ISO/IEC 19794-6 record of two eyes.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use rekam_biometrics::ansi_nist::{
    Date, Demographics, FaceImage, FingerprintImage, Sex, SignatureImage, Transaction,
    TransactionHeader,
};
use rekam_biometrics::iso19794_4::{Compression, FingerImageRecord, FingerPosition, FingerView};
use rekam_biometrics::iso19794_6::{CompressionHistory, EyeLabel, IrisImage, IrisImageRecord};
use rekam_biometrics::signature::PenSample;
use std::hint::black_box;

fn payload(header: &[u8], len: usize) -> Vec<u8> {
    let mut v = header.to_vec();
    v.extend((0..len).map(|i| (i * 31 % 256) as u8));
    v
}

fn wsq_like(w: u16, h: u16, len: usize) -> Vec<u8> {
    let mut head = vec![0xFF, 0xA0, 0xFF, 0xA2, 0x00, 0x11, 0x00, 0xFF];
    head.extend_from_slice(&h.to_be_bytes());
    head.extend_from_slice(&w.to_be_bytes());
    head.extend_from_slice(&[0; 9]);
    payload(&head, len)
}

fn jpeg_like(w: u16, h: u16, len: usize) -> Vec<u8> {
    let mut head = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08];
    head.extend_from_slice(&h.to_be_bytes());
    head.extend_from_slice(&w.to_be_bytes());
    head.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    payload(&head, len)
}

fn transaction() -> Transaction {
    let date = Date::new(2025, 3, 14).unwrap();
    let mut b = Transaction::builder(TransactionHeader::new("EKTP", date, "D", "ID9171", "T1"))
        .demographics(Demographics {
            nik: "9171054107900003".into(),
            kk_number: Some("9171050101120007".into()),
            name: "SITI NURHALIZA".into(),
            birth_place: "SORONG".into(),
            birth_date: Date::new(1990, 7, 1).unwrap(),
            sex: Sex::Female,
            address: None,
            extra: vec![],
        });
    for code in 1..=10u8 {
        let pos = FingerPosition::from_code(code).unwrap();
        b = b.fingerprint(
            FingerprintImage::from_image(
                vec![pos],
                wsq_like(400, 500, 30_000),
                500,
                "ID9171",
                date,
            )
            .unwrap(),
        );
    }
    let samples: Vec<PenSample> = (0..600)
        .map(|i| PenSample {
            x: (i * 7 % 4000) as u16,
            y: (i * 3 % 1500) as u16,
            pressure: (i % 1024) as u16,
            t_ms: i * 5,
        })
        .collect();
    b.face(FaceImage::from_image(jpeg_like(480, 640, 40_000), "ID9171", date).unwrap())
        .signature(SignatureImage::from_pen_samples(&samples, 40.0, 1500, 1023).unwrap())
        .build()
        .unwrap()
}

fn benches(c: &mut Criterion) {
    let txn = transaction();
    let bytes = txn.to_bytes().unwrap();
    c.bench_function(
        "ansi_nist/to_bytes (10 prints + face + signature, 345 KB)",
        |b| b.iter(|| black_box(&txn).to_bytes().unwrap()),
    );
    c.bench_function("ansi_nist/parse (345 KB)", |b| {
        b.iter(|| Transaction::parse(black_box(&bytes)).unwrap())
    });
    c.bench_function("ansi_nist/parse + typed fingerprints", |b| {
        b.iter(|| {
            Transaction::parse(black_box(&bytes))
                .unwrap()
                .fingerprints()
                .unwrap()
        })
    });

    let mut fir = FingerImageRecord::new(500, Compression::Uncompressed);
    for code in [2u8, 3, 7, 8] {
        let pos = FingerPosition::from_code(code).unwrap();
        fir.views
            .push(FingerView::raw(pos, payload(&[], 400 * 500), 400, 500).unwrap());
    }
    let fir_bytes = fir.to_bytes().unwrap();
    c.bench_function("iso19794_4/to_bytes (4 raw 400x500 views)", |b| {
        b.iter(|| black_box(&fir).to_bytes().unwrap())
    });
    c.bench_function("iso19794_4/parse (4 raw 400x500 views)", |b| {
        b.iter(|| FingerImageRecord::parse(black_box(&fir_bytes)).unwrap())
    });

    // Both eyes as SBI sends them, a 640x480 PNG-sized payload each.
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend_from_slice(&640u32.to_be_bytes());
    png.extend_from_slice(&480u32.to_be_bytes());
    let iris = IrisImageRecord {
        images: [EyeLabel::Right, EyeLabel::Left]
            .into_iter()
            .map(|eye| {
                IrisImage::from_image(eye, payload(&png, 100_000), CompressionHistory::Lossy)
                    .unwrap()
                    .with_quality(80, 0, 0)
            })
            .collect(),
    };
    let iris_bytes = iris.to_bytes().unwrap();
    c.bench_function("iso19794_6/to_bytes (2 eyes, 100 KB PNG each)", |b| {
        b.iter(|| black_box(&iris).to_bytes().unwrap())
    });
    c.bench_function("iso19794_6/parse (2 eyes, 100 KB PNG each)", |b| {
        b.iter(|| IrisImageRecord::parse(black_box(&iris_bytes)).unwrap())
    });
}

criterion_group!(group, benches);
criterion_main!(group);
