//! Fingerprint image quality and slap segmentation for the rekam enrollment station.
//!
//! The station must know, while the applicant's hand is still on the scanner, whether a
//! capture is good enough to keep or must be taken again. This crate answers that with two
//! plain functions over 8-bit grey images at 500 ppi (`image::GrayImage`):
//!
//! - [`quality::assess`] scores one finger on the 0–100 scale of NFIQ 2 (ISO/IEC 29794-4),
//!   from the features NFIQ 2 computes blockwise (orientation certainty, local clarity,
//!   ridge–valley uniformity, frequency domain analysis, orientation flow, grey-level
//!   statistics, foreground area and minutiae count), and turns the score into a
//!   [`quality::Verdict`] (good, acceptable, recapture). The features follow NFIQ 2; the
//!   mapping from features to score does **not**: NFIQ 2 uses a random forest trained on
//!   operational data that this project does not have, so this crate uses a transparent
//!   logistic combination calibrated on synthetic fingers (see [`quality`] and
//!   `VALIDATION.md`). Scores are therefore comparable in spirit, not numerically, with NFIQ 2.
//! - [`segment::segment_slap`] cuts a four-finger flat slap (right or left hand) or a
//!   two-thumb slap into single fingertips, labels them with their ISO/IEC 19794-4 finger
//!   positions, checks the declared missing (amputated, bandaged) fingers and scores each
//!   crop.
//! - [`sequence::check_sequence`] checks, with a matcher supplied by the caller, that the
//!   fingers of the flat slaps agree with the single captures of the same fingers (the
//!   "sequence check" that catches fingers swapped between slots).
//!
//! Everything is deterministic, single-threaded and allocation-light, so it can run on the
//! capture thread: about 6 ms per 800×750 finger and about 12 ms per 1600×1500 slap
//! (quality of the crops included) in a release build (see the criterion benches and
//! `VALIDATION.md`).

pub mod quality;
pub mod segment;
pub mod sequence;

mod minutiae_proxy;

pub use quality::{
    GOOD_FROM, QualityFeatures, QualityReport, RECAPTURE_BELOW, Verdict, assess,
    assess_with_minutiae,
};
pub use segment::{SegmentError, Segmentation, SegmentedFinger, SlapKind, segment_slap};

#[cfg(test)]
mod robustness {
    use image::GrayImage;

    /// Odd sizes and contents never panic, whatever the entry point.
    #[test]
    fn odd_inputs_do_not_panic() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let sizes = [
            (0, 0),
            (1, 1),
            (0, 40),
            (40, 0),
            (31, 31),
            (32, 32),
            (33, 1),
            (1, 700),
            (65, 97),
            (257, 31),
            (96, 640),
            (640, 96),
        ];
        for &(w, h) in &sizes {
            for pattern in 0..4 {
                let img = GrayImage::from_fn(w, h, |x, y| {
                    image::Luma([match pattern {
                        0 => (next() >> 56) as u8,
                        1 => {
                            if (x / 4 + y / 4) % 2 == 0 {
                                0
                            } else {
                                255
                            }
                        }
                        2 => ((x * 7 + y * 3) % 256) as u8,
                        _ => {
                            if (x + y) % 9 < 4 {
                                30
                            } else {
                                220
                            }
                        }
                    }])
                });
                let r = crate::assess(&img);
                assert!(r.score <= 100);
                let _ = crate::assess_with_minutiae(&img, u32::MAX);
                for kind in [
                    crate::SlapKind::RightFour,
                    crate::SlapKind::LeftFour,
                    crate::SlapKind::Thumbs,
                ] {
                    let _ = crate::segment_slap(&img, kind, &[]);
                    let _ = crate::segment_slap(&img, kind, kind.slots());
                }
            }
        }
    }
}
