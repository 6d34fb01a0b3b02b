//! Records carrying real WSQ bytestreams from `rekam-wsq`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rekam_biometrics::ansi_nist::{
    Date, Demographics, FingerprintImage, ImageCompression, Sex, Transaction, TransactionHeader,
};
use rekam_biometrics::image_info::{self, ImageFormat};
use rekam_biometrics::iso19794_4::{Compression, FingerImageRecord, FingerPosition, FingerView};
use rekam_wsq::{EncodeOptions, RateControl};

/// A ridge-like test pattern (concentric sine rings), small enough for a fast debug build.
fn ridges(width: u32, height: u32) -> Vec<u8> {
    let (cx, cy) = (width as f32 * 0.5, height as f32 * 0.6);
    (0..width * height)
        .map(|i| {
            let (x, y) = ((i % width) as f32, (i / width) as f32);
            let r = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
            (128.0 + 100.0 * (r * 0.7).sin()) as u8
        })
        .collect()
}

fn wsq(width: u32, height: u32) -> Vec<u8> {
    let opts = EncodeOptions {
        rate_control: RateControl::Model,
        ..EncodeOptions::default()
    };
    rekam_wsq::encode(&ridges(width, height), width, height, &opts).unwrap()
}

#[test]
fn header_probe_agrees_with_rekam_wsq() {
    let data = wsq(120, 150);
    let ours = image_info::probe(&data).unwrap();
    let theirs = rekam_wsq::info(&data).unwrap();
    assert_eq!(ours.format, ImageFormat::Wsq);
    assert_eq!((ours.width, ours.height), (theirs.width, theirs.height));
    assert_eq!((ours.width, ours.height), (120, 150));
}

#[test]
fn iso_19794_4_record_with_wsq_views() {
    let mut rec = FingerImageRecord::new(500, Compression::Wsq);
    for (pos, (w, h)) in [
        (FingerPosition::RightIndex, (100, 120)),
        (FingerPosition::LeftIndex, (96, 128)),
    ] {
        let (mut view, compression) = FingerView::compressed(pos, wsq(w, h)).unwrap();
        assert_eq!(compression, Compression::Wsq);
        view.quality = 71;
        rec.views.push(view);
    }
    let bytes = rec.to_bytes().unwrap();
    let total = 32 + rec.views.iter().map(|v| 14 + v.data.len()).sum::<usize>();
    assert_eq!(bytes.len(), total);
    assert_eq!(&bytes[29..30], &[2]); // WSQ
    let back = FingerImageRecord::parse(&bytes).unwrap();
    assert_eq!(back, rec);
    for v in &back.views {
        let img = rekam_wsq::decode(&v.data).unwrap();
        assert_eq!(
            (img.width, img.height),
            (u32::from(v.width), u32::from(v.height))
        );
    }
}

#[test]
fn type14_from_wsq_round_trips_and_decodes() {
    let date = Date::new(2025, 2, 3).unwrap();
    let data = wsq(110, 130);
    let print = FingerprintImage::from_wsq(
        vec![FingerPosition::RightThumb],
        data.clone(),
        "ID9171",
        date,
    )
    .unwrap();
    assert_eq!((print.width, print.height, print.ppi), (110, 130, 500));
    assert_eq!(print.compression, ImageCompression::Wsq);
    let txn = Transaction::builder(TransactionHeader::new("EKTP", date, "D", "O", "T"))
        .demographics(Demographics {
            nik: "9171010101010001".into(),
            kk_number: None,
            name: "A".into(),
            birth_place: "B".into(),
            birth_date: date,
            sex: Sex::Male,
            address: None,
            extra: vec![],
        })
        .fingerprint(print.clone())
        .build()
        .unwrap();
    let bytes = txn.to_bytes().unwrap();
    let back = Transaction::parse(&bytes).unwrap();
    let prints = back.fingerprints().unwrap();
    assert_eq!(prints, vec![(1, print)]);
    let decoded = rekam_wsq::decode(&prints[0].1.data).unwrap();
    assert_eq!((decoded.width, decoded.height), (110, 130));
    assert_eq!(prints[0].1.data, data);

    // No PPI in the NISTCOM: the resolution must come from the caller instead.
    let no_ppi = rekam_wsq::encode(
        &ridges(96, 96),
        96,
        96,
        &EncodeOptions {
            ppi: None,
            rate_control: RateControl::Model,
            ..EncodeOptions::default()
        },
    )
    .unwrap();
    assert!(
        FingerprintImage::from_wsq(vec![FingerPosition::LeftThumb], no_ppi, "O", date).is_err()
    );
    assert!(
        FingerprintImage::from_wsq(vec![FingerPosition::LeftThumb], vec![1, 2, 3], "O", date)
            .is_err()
    );
}
