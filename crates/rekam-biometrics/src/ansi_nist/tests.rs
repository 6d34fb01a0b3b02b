use super::*;
use crate::iso19794_4::FingerPosition;
use crate::signature::PenSample;

fn date() -> Date {
    Date::new(2025, 3, 14).unwrap()
}

fn fake_wsq(w: u16, h: u16) -> Vec<u8> {
    // SOI, SOF (len 17), a few payload bytes that include the ANSI/NIST separators, EOI.
    let mut v = vec![0xFF, 0xA0, 0xFF, 0xA2, 0x00, 0x11, 0x00, 0xFF];
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&[0; 9]);
    v.extend_from_slice(&[FS, GS, RS, US, b'1', b'.', b'0', b'0', b'1', b':']);
    v.extend_from_slice(&[0xFF, 0xA1]);
    v
}

fn fake_jpeg(w: u16, h: u16) -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08];
    j.extend_from_slice(&h.to_be_bytes());
    j.extend_from_slice(&w.to_be_bytes());
    j.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, FS, GS]);
    j.extend_from_slice(&[0xFF, 0xD9]);
    j
}

pub(super) fn demographics() -> Demographics {
    Demographics {
        nik: "9171054107900003".into(),
        kk_number: Some("9171050101120007".into()),
        name: "SITI NURHALIZA".into(),
        birth_place: "SORONG".into(),
        birth_date: Date::new(1990, 7, 1).unwrap(),
        sex: Sex::Female,
        address: Some(Address {
            street: "JL. BASUKI RAHMAT NO. 12".into(),
            rt: "003".into(),
            rw: "011".into(),
            village: "KLADEMAK".into(),
            district: "SORONG KOTA".into(),
            regency_city: "KOTA SORONG".into(),
            province: "PAPUA BARAT DAYA".into(),
            postal_code: String::new(),
        }),
        extra: vec![(12, "ISLAM".into()), (20, "KAWIN".into())],
    }
}

fn package() -> Transaction {
    let mut header =
        TransactionHeader::new("EKTP", date(), "DUKCAPIL", "ID9171", "9171-20250314-0001");
    header.priority = Some(4);
    header.domain = Some(Domain {
        name: "KTP-EL".into(),
        version: Some("1".into()),
    });
    let mut slap = FingerprintImage::from_image(
        vec![FingerPosition::PlainRightFour],
        fake_wsq(1600, 1000),
        500,
        "ID9171",
        date(),
    )
    .unwrap();
    slap.segments = vec![
        FingerSegment {
            position: FingerPosition::RightIndex,
            left: 10,
            right: 300,
            top: 20,
            bottom: 700,
        },
        FingerSegment {
            position: FingerPosition::RightMiddle,
            left: 320,
            right: 640,
            top: 5,
            bottom: 690,
        },
    ];
    slap.nist_quality = vec![NistQuality {
        position: FingerPosition::RightIndex,
        nfiq: 2,
    }];
    slap.quality = vec![FingerQuality {
        position: FingerPosition::RightIndex,
        score: 76,
        vendor_id: 0x000F,
        product_code: 1,
    }];
    let thumb = FingerprintImage::from_image(
        vec![FingerPosition::RightThumb],
        fake_wsq(400, 500),
        500,
        "ID9171",
        date(),
    )
    .unwrap();
    let mut face = FaceImage::from_image(fake_jpeg(480, 640), "ID9171", date()).unwrap();
    face.subject_acquisition_profile = sap::ISO_FULL_FRONTAL;
    let samples: Vec<PenSample> = (0..20)
        .map(|i| PenSample {
            x: 100 + i * 10,
            y: 300 - i * 5,
            pressure: if i == 10 { 0 } else { 512 },
            t_ms: u32::from(i) * 7,
        })
        .collect();
    let signature = SignatureImage::from_pen_samples(&samples, 10.0, 600, 1023).unwrap();
    Transaction::builder(header)
        .demographics(demographics())
        .fingerprint(slap)
        .fingerprint(thumb)
        .face(face)
        .signature(signature)
        .build()
        .unwrap()
}

/// Splits an encoded transaction into its records using each record's own LEN.
fn split_records(bytes: &[u8], types: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = 0;
    for &t in types {
        let len = if BINARY_RECORD_TYPES.contains(&t) {
            u32::from_be_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]])
                as usize
        } else {
            let colon = bytes[pos..].iter().position(|&b| b == b':').unwrap() + pos;
            let gs = bytes[colon..].iter().position(|&b| b == GS).unwrap() + colon;
            std::str::from_utf8(&bytes[colon + 1..gs])
                .unwrap()
                .parse()
                .unwrap()
        };
        out.push(bytes[pos..pos + len].to_vec());
        pos += len;
    }
    assert_eq!(pos, bytes.len());
    out
}

#[test]
fn len_is_a_fixed_point_across_digit_boundaries() {
    // Field 2.003 text of growing length produces every record size from 25 to ~1100 bytes.
    // LEN counts its own digits, so no record can be exactly 100 or 1000 bytes long: with 97
    // other bytes, "99" makes 99; with 98, two digits would make 100, which needs three, so 101.
    let mut lens = Vec::new();
    for n in 0..1080 {
        let rec = TaggedRecord {
            record_type: 2,
            fields: vec![Field::text(2, "00"), Field::text(3, "x".repeat(n))],
        };
        let bytes = encode_tagged(&rec).unwrap();
        let gs = bytes.iter().position(|&b| b == GS).unwrap();
        let len: usize = std::str::from_utf8(&bytes[6..gs]).unwrap().parse().unwrap();
        assert_eq!(len, bytes.len(), "n = {n}");
        assert_eq!(bytes.last(), Some(&FS));
        let (back, used) = parse_tagged(&bytes, 0, 2).unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(back, rec);
        lens.push(len);
    }
    for pair in lens.windows(2) {
        let step = pair[1] - pair[0];
        if pair[0] == 99 || pair[0] == 999 {
            assert_eq!(step, 2, "after {}", pair[0]);
        } else {
            assert_eq!(step, 1, "after {}", pair[0]);
        }
    }
    assert!(lens.contains(&99) && lens.contains(&101) && !lens.contains(&100));
    assert!(lens.contains(&999) && lens.contains(&1001) && !lens.contains(&1000));
}

#[test]
fn encoded_layout_matches_the_standard() {
    let txn = package();
    let bytes = txn.to_bytes().unwrap();
    let types: Vec<u8> = txn.records.iter().map(Record::record_type).collect();
    assert_eq!(types, vec![1, 2, 8, 10, 14, 14]);
    let recs = split_records(&bytes, &types);

    // Type-1: LEN, VER, CNT with every record's type and IDC.
    let t1 = String::from_utf8(recs[0].clone()).unwrap();
    let expected_start = format!(
        "1.001:{}\x1d1.002:0500\x1d1.003:1\x1f5\x1e2\x1f00\x1e8\x1f01\x1e10\x1f02\x1e14\x1f03\x1e14\x1f04\x1d1.004:EKTP\x1d1.005:20250314\x1d1.006:4\x1d1.007:DUKCAPIL\x1d1.008:ID9171\x1d1.009:9171-20250314-0001\x1d1.011:00.00\x1d1.012:00.00\x1d1.013:KTP-EL\x1f1\x1c",
        recs[0].len()
    );
    assert_eq!(t1, expected_start);

    // Type-2 with the documented field numbers.
    let t2 = String::from_utf8(recs[1].clone()).unwrap();
    assert!(t2.contains("\x1d2.002:00\x1d2.003:9171054107900003\x1d2.004:9171050101120007\x1d2.005:SITI NURHALIZA\x1d2.006:SORONG\x1d2.007:19900701\x1d2.008:F\x1d2.009:JL. BASUKI RAHMAT NO. 12\x1f003\x1f011\x1fKLADEMAK\x1fSORONG KOTA\x1fKOTA SORONG\x1fPAPUA BARAT DAYA\x1f\x1d2.012:ISLAM\x1d2.020:KAWIN\x1c"));

    // Type-8: binary header.
    let t8 = &recs[2];
    assert_eq!(t8[4], 1); // IDC
    assert_eq!(&t8[5..8], &[0, 2, 0]); // subject, vectors, 19.69 ppmm
    assert_eq!(&t8[8..12], &[0, 0, 0, 0]); // HLL, VLL
    assert_eq!((t8.len() - 12) % 5, 0);
    assert_eq!((t8.len() - 12) / 5, 20);

    // Type-10.
    let t10 = &recs[3];
    let head = String::from_utf8_lossy(&t10[..t10.len() - fake_jpeg(480, 640).len() - 1]);
    assert!(head.contains("\x1d10.002:02\x1d10.003:FACE\x1d10.004:ID9171\x1d10.005:20250314\x1d10.006:480\x1d10.007:640\x1d10.008:0\x1d10.009:1\x1d10.010:1\x1d10.011:JPEGB\x1d10.012:SRGB\x1d10.013:13\x1d10.020:F\x1d10.999:"));
    assert!(t10.ends_with(&[&fake_jpeg(480, 640)[..], &[FS]].concat()));

    // Type-14 slap.
    let t14 = String::from_utf8_lossy(&recs[4]);
    assert!(t14.contains("\x1d14.003:0\x1d14.004:ID9171\x1d14.005:20250314\x1d14.006:1600\x1d14.007:1000\x1d14.008:1\x1d14.009:500\x1d14.010:500\x1d14.011:WSQ20\x1d14.012:8\x1d14.013:13\x1d14.021:2\x1f10\x1f300\x1f20\x1f700\x1e3\x1f320\x1f640\x1f5\x1f690\x1d14.022:2\x1f2\x1d14.024:2\x1f76\x1f000F\x1f1\x1d14.999:"));
    for r in &recs {
        if r.len() > 4 && r[0].is_ascii_digit() {
            assert_eq!(r.last(), Some(&FS));
        }
    }
}

#[test]
fn transaction_round_trips_generic_and_typed() {
    let txn = package();
    let bytes = txn.to_bytes().unwrap();
    let back = Transaction::parse(&bytes).unwrap();
    assert_eq!(back, txn);
    assert_eq!(back.to_bytes().unwrap(), bytes);

    let header = back.header().unwrap();
    assert_eq!(header.tot, "EKTP");
    assert_eq!(header.priority, Some(4));
    assert_eq!(
        header.domain.as_ref().map(|d| d.name.as_str()),
        Some("KTP-EL")
    );
    assert_eq!(back.demographics().unwrap(), Some(demographics()));
    let faces = back.faces().unwrap();
    assert_eq!(faces.len(), 1);
    assert_eq!(faces[0].0, 2);
    assert_eq!(faces[0].1.data, fake_jpeg(480, 640));
    let fps = back.fingerprints().unwrap();
    assert_eq!(fps.iter().map(|f| f.0).collect::<Vec<_>>(), vec![3, 4]);
    assert_eq!(fps[0].1.segments.len(), 2);
    assert_eq!(fps[0].1.quality[0].vendor_id, 0x000F);
    assert_eq!(fps[1].1.positions, vec![FingerPosition::RightThumb]);
    assert_eq!((fps[1].1.width, fps[1].1.height), (400, 500));
    let sigs = back.signatures().unwrap();
    assert_eq!(sigs.len(), 1);
    let SignatureData::Vectors(v) = &sigs[0].1.data else {
        panic!("not vectors")
    };
    // Pad x 100 at 10 units/mm = 10 mm = 393.7 units of 0.0254 mm; y flipped from 600.
    assert_eq!((v[0].x, v[0].y), (394, 1181));
    assert_eq!(v[10].pressure, 0);
    assert_eq!(v[0].pressure, 128);
}

#[test]
fn size_report_adds_up() {
    let txn = package();
    let bytes = txn.to_bytes().unwrap();
    let report = txn.size_report().unwrap();
    assert_eq!(report.total, bytes.len());
    let types: Vec<(u8, usize)> = report
        .by_type
        .iter()
        .map(|r| (r.record_type, r.records))
        .collect();
    assert_eq!(types, vec![(1, 1), (2, 1), (8, 1), (10, 1), (14, 2)]);
    assert_eq!(
        report.by_type.iter().map(|r| r.bytes).sum::<usize>(),
        bytes.len()
    );
    let recs = split_records(&bytes, &[1, 2, 8, 10, 14, 14]);
    assert_eq!(report.by_type[4].bytes, recs[4].len() + recs[5].len());
    let text = report.to_string();
    assert!(text.contains("Type-14"));
    assert!(text.contains(&bytes.len().to_string()));
}

#[test]
fn non_ascii_text_adds_dcs() {
    let mut d = demographics();
    d.name = "SRI ASIH PÉRTIWI".into();
    let txn = Transaction::builder(TransactionHeader::new("EKTP", date(), "D", "O", "T"))
        .demographics(d.clone())
        .build()
        .unwrap();
    let bytes = txn.to_bytes().unwrap();
    let s = String::from_utf8(bytes.clone()).unwrap();
    assert!(s.contains("\x1d1.015:3\x1fUTF-8"));
    let back = Transaction::parse(&bytes).unwrap();
    assert_eq!(back.demographics().unwrap(), Some(d));
}

#[test]
fn builder_rejects_bad_values() {
    let h = || TransactionHeader::new("EKTP", date(), "D", "O", "T");
    assert!(matches!(
        Transaction::builder(h()).build(),
        Err(RecordError::MissingField { .. })
    ));
    let mut d = demographics();
    d.nik = "12345".into();
    assert!(Transaction::builder(h()).demographics(d).build().is_err());
    let mut d = demographics();
    d.name = "A\x1dB".into();
    let txn = Transaction::builder(h()).demographics(d).build().unwrap();
    assert!(matches!(
        txn.to_bytes(),
        Err(RecordError::InvalidField { ref reason, .. }) if reason.contains("separator")
    ));
    let mut d = demographics();
    d.extra = vec![(5, "clash".into())];
    assert!(Transaction::builder(h()).demographics(d).build().is_err());
    let mut fp = FingerprintImage::from_image(
        vec![FingerPosition::LeftIndex],
        fake_wsq(10, 10),
        500,
        "S",
        date(),
    )
    .unwrap();
    fp.nist_quality = vec![NistQuality {
        position: FingerPosition::LeftIndex,
        nfiq: 9,
    }];
    assert!(
        Transaction::builder(h())
            .demographics(demographics())
            .fingerprint(fp)
            .build()
            .is_err()
    );
}

#[test]
fn generic_writer_rejects_inconsistent_records() {
    let txn = package();
    let mut t = txn.clone();
    t.records.swap(0, 1);
    assert!(t.to_bytes().is_err());
    let mut t = txn.clone();
    if let Record::Tagged(r) = &mut t.records[1] {
        r.fields.push(Field::text(3, "again"));
    }
    assert!(t.to_bytes().is_err());
    let mut t = txn.clone();
    if let Record::Tagged(r) = &mut t.records[1] {
        r.fields.retain(|f| f.number != 2);
    }
    assert!(matches!(
        t.to_bytes(),
        Err(RecordError::MissingField { .. })
    ));
    let mut t = txn;
    if let Record::Tagged(r) = &mut t.records[1] {
        r.fields.push(Field::binary(999, vec![1, 2]));
    }
    assert!(t.to_bytes().is_err());
}

fn replace_once(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let i = hay.windows(from.len()).position(|w| w == from).unwrap();
    [&hay[..i], to, &hay[i + from.len()..]].concat()
}

#[test]
fn malformed_transactions_give_specific_errors() {
    let bytes = package().to_bytes().unwrap();

    assert!(matches!(
        Transaction::parse(b"2.001:10\x1d2.002:00\x1c"),
        Err(RecordError::BadMagic { .. })
    ));
    let bad = replace_once(&bytes, b"1.002:0500", b"1.002:05X0");
    assert!(matches!(
        Transaction::parse(&bad),
        Err(RecordError::BadVersion { .. })
    ));
    // Truncation anywhere after the first record: a length error, never a panic.
    assert!(Transaction::parse(&bytes[..bytes.len() - 1]).is_err());
    assert!(matches!(
        Transaction::parse(&bytes[..40]),
        Err(RecordError::LengthMismatch { what: "LEN", .. })
    ));
    // Trailing garbage.
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"junk");
    assert!(matches!(
        Transaction::parse(&longer),
        Err(RecordError::LengthMismatch { .. })
    ));
    // CNT count disagrees with its entries.
    let bad = replace_once(&bytes, b"1.003:1\x1f5", b"1.003:1\x1f6");
    assert!(matches!(
        Transaction::parse(&bad),
        Err(RecordError::LengthMismatch {
            what: "records counted in 1.003 CNT",
            ..
        })
    ));
    // CNT lists an IDC that the record does not carry.
    let bad = replace_once(&bytes, b"\x1e10\x1f02", b"\x1e10\x1f07");
    assert!(matches!(
        Transaction::parse(&bad),
        Err(RecordError::InvalidField { ref field, .. }) if field == "10.002 IDC"
    ));
    // CNT announces the wrong record type.
    let bad = replace_once(&bytes, b"\x1e10\x1f02", b"\x1e13\x1f02");
    assert!(Transaction::parse(&bad).is_err());
    // A LEN that does not end on FS.
    let t2_len_pos = bytes.windows(6).position(|w| w == b"2.001:").unwrap() + 6;
    let mut bad = bytes.clone();
    bad[t2_len_pos + 1] = bad[t2_len_pos + 1].wrapping_add(1);
    assert!(Transaction::parse(&bad).is_err());
    // A bad tag.
    let bad = replace_once(&bytes, b"2.005:", b"2.0x5:");
    assert!(matches!(
        Transaction::parse(&bad),
        Err(RecordError::InvalidField { ref field, .. }) if field == "tag"
    ));
    // A duplicated field.
    let bad = replace_once(&bytes, b"2.006:SORONG", b"2.005:SORONG");
    assert!(matches!(
        Transaction::parse(&bad),
        Err(RecordError::InvalidField { ref reason, .. }) if reason == "appears twice"
    ));
    // Typed access to a record with a malformed value.
    let bad = replace_once(&bytes, b"2.008:F", b"2.008:X");
    let txn = Transaction::parse(&bad).unwrap();
    assert!(matches!(
        txn.demographics(),
        Err(RecordError::InvalidField { ref field, .. }) if field == "2.008 SEX"
    ));
    let bad = replace_once(&bytes, b"14.011:WSQ20", b"14.011:WSQ99");
    let txn = Transaction::parse(&bad).unwrap();
    assert!(txn.fingerprints().is_err());
}

#[test]
fn dates_and_resolutions() {
    assert_eq!(Date::parse("20240229"), Date::new(2024, 2, 29));
    assert!(Date::parse("20230229").is_none());
    assert!(Date::parse("2023-1-1").is_none());
    assert_eq!(Ppmm::from_ppi(500).to_string(), "19.69");
    assert_eq!(Ppmm::from_ppi(1000).to_string(), "39.37");
    assert_eq!(Ppmm::parse("19.69"), Some(Ppmm(1969)));
    assert_eq!(Ppmm::NONE.to_string(), "00.00");
    assert!(Ppmm::parse("19.6").is_none());
}

#[test]
fn raw_and_compressed_type8_round_trip() {
    for data in [
        SignatureData::Raw {
            width: 4,
            height: 2,
            pixels: vec![0, 255, 1, FS, GS, RS, US, 7],
        },
        SignatureData::Compressed {
            width: 300,
            height: 80,
            data: fake_jpeg(300, 80),
        },
    ] {
        let sig = SignatureImage {
            kind: SignatureKind::Official,
            native_resolution: true,
            data,
        };
        let txn = Transaction::builder(TransactionHeader::new("EKTP", date(), "D", "O", "T"))
            .demographics(demographics())
            .signature(sig.clone())
            .build()
            .unwrap();
        let back = Transaction::parse(&txn.to_bytes().unwrap()).unwrap();
        assert_eq!(back.signatures().unwrap(), vec![(1, sig)]);
    }
}
