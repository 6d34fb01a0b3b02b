//! Round trips with real images made by the `image` crate: the record headers must carry the
//! sizes that the images themselves declare, and parsing must give back the same bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use image::codecs::jpeg::JpegEncoder;
use image::{ImageEncoder, RgbImage};
use rekam_biometrics::ansi_nist::{
    self, Date, Demographics, FaceImage, Sex, SignatureData, SignatureImage, SignatureKind,
    Transaction, TransactionHeader,
};
use rekam_biometrics::image_info::{self, ImageFormat};
use rekam_biometrics::iso19794_5::{self, FaceImageRecord};
use rekam_biometrics::signature::DisplayedSignature;

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 128])
    });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 80)
        .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::GrayImage::from_fn(width, height, |x, _| image::Luma([(x * 3) as u8]));
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(img.as_raw(), width, height, image::ExtendedColorType::L8)
        .unwrap();
    out
}

#[test]
fn probe_reads_real_jpeg_and_png() {
    let j = jpeg(96, 128);
    let info = image_info::probe(&j).unwrap();
    assert_eq!(
        (info.format, info.width, info.height),
        (ImageFormat::Jpeg, 96, 128)
    );
    let p = png(33, 17);
    let info = image_info::probe(&p).unwrap();
    assert_eq!(
        (info.format, info.width, info.height),
        (ImageFormat::Png, 33, 17)
    );
}

#[test]
fn face_record_with_a_real_jpeg() {
    let data = jpeg(120, 160);
    let mut face = iso19794_5::FaceImage::from_image(data.clone()).unwrap();
    face.set_eye_centres((40, 70), (80, 70));
    let rec = FaceImageRecord::single(face);
    let bytes = rec.to_bytes().unwrap();
    assert_eq!(bytes.len(), 14 + 20 + 16 + 12 + data.len());
    let back = FaceImageRecord::parse(&bytes).unwrap();
    assert_eq!(back, rec);
    assert_eq!((back.faces[0].width, back.faces[0].height), (120, 160));
    assert_eq!(back.eye_centres(), Some(((40, 70), (80, 70))));
    // The image inside decodes to the size the header declares.
    let decoded = image::load_from_memory(&back.faces[0].data).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (120, 160));
}

#[test]
fn dg7_with_a_real_jpeg() {
    let dg7 = DisplayedSignature::single(jpeg(200, 60));
    let bytes = dg7.to_dg7().unwrap();
    assert_eq!(DisplayedSignature::parse_dg7(&bytes).unwrap(), dg7);
}

#[test]
fn transaction_with_real_images() {
    let date = Date::new(2025, 6, 30).unwrap();
    let mut header = TransactionHeader::new("EKTP", date, "DUKCAPIL-PUSAT", "ID9171", "T-0001");
    header.gmt = Some("20250630031500Z".into());
    let face_jpeg = jpeg(150, 200);
    let mut face = FaceImage::from_image(face_jpeg.clone(), "ID9171", date).unwrap();
    face.subject_acquisition_profile = ansi_nist::sap::ISO_FULL_FRONTAL;
    let png_face = FaceImage::from_image(png(40, 50), "ID9171", date).unwrap();
    let signature = SignatureImage {
        kind: SignatureKind::Subject,
        native_resolution: false,
        data: SignatureData::Compressed {
            width: 240,
            height: 80,
            data: jpeg(240, 80),
        },
    };
    let demographics = Demographics {
        nik: "9171010101010001".into(),
        kk_number: None,
        name: "YOHANES KAMBU".into(),
        birth_place: "TEMINABUAN".into(),
        birth_date: Date::new(1985, 12, 31).unwrap(),
        sex: Sex::Male,
        address: None,
        extra: vec![],
    };
    let txn = Transaction::builder(header)
        .demographics(demographics.clone())
        .face(face.clone())
        .face(png_face.clone())
        .signature(signature.clone())
        .build()
        .unwrap();
    let bytes = txn.to_bytes().unwrap();
    let back = Transaction::parse(&bytes).unwrap();
    assert_eq!(back, txn);
    assert_eq!(back.demographics().unwrap(), Some(demographics));
    let faces = back.faces().unwrap();
    assert_eq!(faces, vec![(2, face), (3, png_face)]);
    assert_eq!(faces[0].1.compression.code(), "JPEGB");
    assert_eq!(faces[1].1.compression.code(), "PNG");
    assert_eq!(back.signatures().unwrap(), vec![(1, signature)]);
    let decoded = image::load_from_memory(&faces[0].1.data).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (150, 200));
    assert_eq!(
        back.header().unwrap().gmt.as_deref(),
        Some("20250630031500Z")
    );
    let report = back.size_report().unwrap();
    assert_eq!(report.total, bytes.len());
    assert!(
        report
            .by_type
            .iter()
            .any(|r| r.record_type == 10 && r.records == 2)
    );
}

#[test]
fn iris_record_with_a_real_png() {
    use rekam_biometrics::iso19794_6::{
        CaptureDateTime, CompressionHistory, EyeLabel, IrisImage, IrisImageFormat, IrisImageRecord,
    };
    let data = png(64, 48);
    let image = IrisImage::from_image(EyeLabel::Right, data.clone(), CompressionHistory::Lossy)
        .unwrap()
        .with_quality(72, 0x0101, 1)
        .with_capture_time(CaptureDateTime::new(2026, 11, 29, 7, 8, 9, 10).unwrap());
    assert_eq!(image.format, IrisImageFormat::MonoPng);
    assert_eq!(
        image.compression_history,
        CompressionHistory::LosslessOrNone
    );
    let rec = IrisImageRecord::single(image);
    let bytes = rec.to_bytes().unwrap();
    assert_eq!(bytes.len(), 16 + 52 + 5 + data.len());
    let back = IrisImageRecord::parse(&bytes).unwrap();
    assert_eq!(back, rec);
    let decoded = image::load_from_memory(&back.images[0].data).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 48));
}
