//! A captured eye as an ISO/IEC 19794-6:2011 iris image record.

use std::time::SystemTime;

use rekam_biometrics::iso19794_6::{
    CaptureDateTime, CompressionHistory, EyeLabel, IrisImage, IrisImageRecord,
};
use rekam_core::{Eye, GreyImage};

/// Why an eye could not be written as a record.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The image could not be compressed.
    #[error("the iris image could not be compressed as PNG: {0}")]
    Png(String),
    /// The record could not be built (an image too large, a bad field).
    #[error("the iris record: {0}")]
    Record(#[from] rekam_biometrics::RecordError),
}

/// `image` of `eye`, captured at `at` with `quality` (0–100), as an ISO/IEC 19794-6:2011
/// record of one representation: cropped (K3), 8 bits, the image as lossless PNG, the eye
/// label, the capture time in UTC and the quality as a quality block (vendor and algorithm
/// unspecified). CPU-bound: run it on a blocking thread.
pub fn iso_record(
    eye: Eye,
    image: &GreyImage,
    quality: u8,
    at: SystemTime,
) -> Result<Vec<u8>, RecordError> {
    let grey = image::GrayImage::from_raw(image.width, image.height, image.pixels.clone())
        .ok_or_else(|| RecordError::Png("the pixels do not fill the image".into()))?;
    let mut png = Vec::new();
    image::DynamicImage::ImageLuma8(grey)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| RecordError::Png(e.to_string()))?;
    let label = match eye {
        Eye::Right => EyeLabel::Right,
        Eye::Left => EyeLabel::Left,
    };
    let mut iris = IrisImage::from_image(label, png, CompressionHistory::LosslessOrNone)?
        .with_quality(quality.min(100), 0, 0);
    if let Ok(t) = jiff::Timestamp::try_from(at) {
        let t = t.to_zoned(jiff::tz::TimeZone::UTC);
        iris.capture_time = CaptureDateTime::new(
            u16::try_from(t.year()).unwrap_or(0),
            t.month().unsigned_abs(),
            t.day().unsigned_abs(),
            t.hour().unsigned_abs(),
            t.minute().unsigned_abs(),
            t.second().unsigned_abs(),
            t.millisecond().unsigned_abs(),
        );
    }
    Ok(IrisImageRecord::single(iris).to_bytes()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_eye_becomes_a_record_that_parses_back_to_its_pixels() {
        let e = crate::render_eye(9, Eye::Left, 0.0);
        let bytes = iso_record(Eye::Left, &e.image, 87, SystemTime::now()).unwrap();
        let rec = IrisImageRecord::parse(&bytes).unwrap();
        assert_eq!(rec.images.len(), 1);
        let i = &rec.images[0];
        assert_eq!(i.eye, EyeLabel::Left);
        assert_eq!((i.width, i.height, i.bit_depth), (640, 480, 8));
        assert_eq!(i.quality[0].score, 87);
        assert!(i.capture_time.is_some());
        let back = image::load_from_memory(&i.data).unwrap().to_luma8();
        assert_eq!(back.into_raw(), e.image.pixels);
    }
}
