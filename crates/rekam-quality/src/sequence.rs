//! The sequence check: do the fingers of the flat slaps agree with the single captures?
//!
//! An enrollment captures every finger twice: once alone (rolled or flat) and once in a
//! slap. If the officer records a single finger under the wrong position, or the applicant
//! presents the fingers in the wrong order, the record is useless for search. The check
//! matches every slap finger against the single capture of the same position; when that
//! fails it looks for the single capture the slap finger does match, which names the swap.
//!
//! The matcher is a closure, so this crate does not depend on a matcher crate:
//! `matcher(probe, gallery) -> score`, higher is more similar, and `threshold` is the score
//! from which two impressions count as the same finger (take it from the matcher's own
//! calibration, e.g. the score at a false match rate of 1e-4).

use image::GrayImage;

use crate::segment::SegmentedFinger;

/// The outcome for one finger position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceCheck {
    /// ISO/IEC 19794-4 finger position of the slap finger.
    pub position: u8,
    /// Matcher score between the slap finger and the single capture of `position`.
    pub score: u32,
    /// `score >= threshold`.
    pub matched: bool,
    /// When not matched: the position of the single capture that the slap finger does
    /// match (best score at or above the threshold), if any.
    pub matches_position: Option<u8>,
}

/// The result of a sequence check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SequenceReport {
    /// One entry per slap finger that has a single capture of the same position, in the
    /// order of the slap fingers.
    pub checks: Vec<SequenceCheck>,
    /// Slap finger positions with no single capture to compare with.
    pub unchecked: Vec<u8>,
}

impl SequenceReport {
    /// `true` when every checked finger matched its single capture.
    pub fn is_consistent(&self) -> bool {
        self.checks.iter().all(|c| c.matched)
    }

    /// Pairs `(slap position, single-capture position)` where a slap finger matched another
    /// position's single capture: the likely swaps to show the officer.
    pub fn suspected_swaps(&self) -> Vec<(u8, u8)> {
        self.checks
            .iter()
            .filter_map(|c| c.matches_position.map(|p| (c.position, p)))
            .collect()
    }
}

/// Matches each slap finger against the single capture of the same position (see the
/// module docs). `singles` are `(position, image)` pairs; the matcher is called with the
/// slap finger first.
pub fn check_sequence<F>(
    slap_fingers: &[SegmentedFinger],
    singles: &[(u8, &GrayImage)],
    matcher: F,
    threshold: u32,
) -> SequenceReport
where
    F: Fn(&GrayImage, &GrayImage) -> u32,
{
    let mut report = SequenceReport::default();
    for finger in slap_fingers {
        let Some((_, single)) = singles.iter().find(|(p, _)| *p == finger.position) else {
            report.unchecked.push(finger.position);
            continue;
        };
        let score = matcher(&finger.image, single);
        let matched = score >= threshold;
        let matches_position = if matched {
            None
        } else {
            singles
                .iter()
                .filter(|(p, _)| *p != finger.position)
                .map(|(p, img)| (*p, matcher(&finger.image, img)))
                .filter(|&(_, s)| s >= threshold)
                .max_by_key(|&(_, s)| s)
                .map(|(p, _)| p)
        };
        report.checks.push(SequenceCheck {
            position: finger.position,
            score,
            matched,
            matches_position,
        });
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::assess;

    fn finger(position: u8, shade: u8) -> SegmentedFinger {
        let image = GrayImage::from_pixel(8, 8, image::Luma([shade]));
        SegmentedFinger {
            position,
            bbox: (0, 0, 8, 8),
            quality: assess(&image),
            image,
        }
    }

    /// A toy matcher: 100 when the images have the same first pixel, else 0.
    fn same_shade(a: &GrayImage, b: &GrayImage) -> u32 {
        if a.get_pixel(0, 0) == b.get_pixel(0, 0) {
            100
        } else {
            0
        }
    }

    #[test]
    fn consistent_sequence_passes() {
        let slap = [finger(2, 10), finger(3, 20), finger(4, 30)];
        let (a, b, c) = (
            GrayImage::from_pixel(8, 8, image::Luma([10])),
            GrayImage::from_pixel(8, 8, image::Luma([20])),
            GrayImage::from_pixel(8, 8, image::Luma([30])),
        );
        let singles = [(2, &a), (3, &b), (4, &c)];
        let r = check_sequence(&slap, &singles, same_shade, 50);
        assert!(r.is_consistent());
        assert_eq!(r.checks.len(), 3);
        assert!(r.suspected_swaps().is_empty());
        assert!(r.unchecked.is_empty());
    }

    #[test]
    fn swapped_singles_are_named() {
        let slap = [finger(2, 10), finger(3, 20), finger(5, 50)];
        let (a, b) = (
            GrayImage::from_pixel(8, 8, image::Luma([20])),
            GrayImage::from_pixel(8, 8, image::Luma([10])),
        );
        // Single captures of 2 and 3 were recorded the wrong way round; 5 has none.
        let singles = [(2, &a), (3, &b)];
        let r = check_sequence(&slap, &singles, same_shade, 50);
        assert!(!r.is_consistent());
        assert_eq!(r.suspected_swaps(), vec![(2, 3), (3, 2)]);
        assert_eq!(r.unchecked, vec![5]);
    }
}
