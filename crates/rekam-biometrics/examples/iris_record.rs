//! Writes and reads ISO/IEC 19794-6:2011 iris records, for checking them against other
//! implementations (`VALIDATION-19794-6.md`).
//!
//! `cargo run -p rekam-biometrics --example iris_record -- write DIR` writes `png.iir` (one
//! left eye, a 320x240 8-bit PNG, with every optional field set), `raw.iir` (both eyes as raw
//! pixels) and `mosip.iir` (one right eye as MOSIP registration asks, in PNG: rekam has no
//! JPEG 2000 encoder) into DIR; `... wrap left|right IMAGE OUT [lossy]` wraps a JPEG 2000 or
//! PNG file as a one-eye record (lossless unless `lossy`); `... read FILE...` parses records
//! and prints their fields.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use image::{ExtendedColorType, ImageEncoder};
use rekam_biometrics::iso19794_6::{
    CaptureDateTime, CompressionHistory, EyeLabel, IrisImage, IrisImageRecord, Span,
};

fn pixels(w: u32, h: u32) -> Vec<u8> {
    (0..w * h)
        .map(|i| ((i % w) * 255 / w) as u8 ^ ((i / w) * 7) as u8)
        .collect()
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&pixels(w, h), w, h, ExtendedColorType::L8)
        .unwrap();
    out
}

fn write(dir: &std::path::Path) {
    let at = CaptureDateTime::new(2026, 11, 29, 18, 45, 30, 250).unwrap();
    let mut left = IrisImage::from_image(EyeLabel::Left, png(320, 240), CompressionHistory::Lossy)
        .unwrap()
        .with_quality(87, 0x0101, 0x0002)
        .with_quality(255, 0x00FF, 0x0001)
        .with_capture_time(at);
    left.device_vendor = 0x1234;
    left.device_type = 0x0042;
    left.range = 120;
    left.roll_angle = 0x0200;
    left.roll_angle_uncertainty = 0x0100;
    left.iris_centre_x = Span {
        smallest: 158,
        largest: 162,
    };
    left.iris_centre_y = Span {
        smallest: 118,
        largest: 121,
    };
    left.iris_diameter = Span {
        smallest: 178,
        largest: 182,
    };
    std::fs::write(
        dir.join("png.iir"),
        IrisImageRecord::single(left).to_bytes().unwrap(),
    )
    .unwrap();
    let raw = IrisImageRecord {
        images: vec![
            IrisImage::raw(EyeLabel::Right, pixels(64, 48), 64, 48)
                .unwrap()
                .with_capture_time(at),
            IrisImage::raw(EyeLabel::Left, pixels(64, 48), 64, 48)
                .unwrap()
                .with_capture_time(at),
        ],
    };
    std::fs::write(dir.join("raw.iir"), raw.to_bytes().unwrap()).unwrap();
    let mosip = IrisImage::from_image(EyeLabel::Right, png(640, 480), CompressionHistory::Lossy)
        .unwrap()
        .with_quality(80, 0, 0)
        .with_capture_time(at);
    std::fs::write(
        dir.join("mosip.iir"),
        IrisImageRecord::single(mosip).to_bytes().unwrap(),
    )
    .unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("write") if args.len() == 2 => write(std::path::Path::new(&args[1])),
        Some("wrap") if args.len() >= 4 => {
            let eye = if args[1] == "left" {
                EyeLabel::Left
            } else {
                EyeLabel::Right
            };
            let history = if args.get(4).map(String::as_str) == Some("lossy") {
                CompressionHistory::Lossy
            } else {
                CompressionHistory::LosslessOrNone
            };
            let image = IrisImage::from_image(eye, std::fs::read(&args[2]).unwrap(), history)
                .unwrap()
                .with_quality(80, 0, 0)
                .with_capture_time(CaptureDateTime::new(2026, 11, 29, 12, 0, 0, 0).unwrap());
            std::fs::write(&args[3], IrisImageRecord::single(image).to_bytes().unwrap()).unwrap();
        }
        Some("read") => {
            for path in &args[1..] {
                let bytes = std::fs::read(path).unwrap();
                match IrisImageRecord::parse(&bytes) {
                    Ok(rec) => {
                        println!(
                            "{path}: OK, {} bytes, eyes {}",
                            bytes.len(),
                            rec.eyes_represented()
                        );
                        for (i, im) in rec.images.iter().enumerate() {
                            println!(
                                "  {}: {:?} {:?} {:?} {}x{} {} bits {:?} {:?}/{:?} {:?} quality {:?} image {} bytes",
                                i + 1,
                                im.eye,
                                im.image_type,
                                im.format,
                                im.width,
                                im.height,
                                im.bit_depth,
                                im.compression_history,
                                im.horizontal_orientation,
                                im.vertical_orientation,
                                im.capture_time,
                                im.quality,
                                im.data.len()
                            );
                        }
                    }
                    Err(e) => println!("{path}: {e}"),
                }
            }
        }
        _ => eprintln!(
            "usage: iris_record write DIR | wrap left|right IMAGE OUT [lossy] | read FILE..."
        ),
    }
}
