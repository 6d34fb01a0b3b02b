//! Slap segmentation on synthetic slaps from `rekam-synth` with ground-truth boxes.

use image::GrayImage;
use rekam_quality::{SegmentError, Segmentation, SlapKind, segment_slap};
use rekam_synth::{
    BBox, Hand, Impression, MasterFinger, SlapFinger, master, render_four_finger_slap,
    render_thumbs_slap,
};

/// Smaller than a real slap (1600×1500, covered by `examples/segment_eval.rs`) to keep the
/// debug-build tests fast; the synthetic prints shrink with the frame.
const W: u32 = 1200;
const H: u32 = 1125;

fn iou(a: BBox, b: (u32, u32, u32, u32)) -> f32 {
    let (ax1, ay1) = (a.0 + a.2, a.1 + a.3);
    let (bx1, by1) = (b.0 + b.2, b.1 + b.3);
    let ix = ax1.min(bx1).saturating_sub(a.0.max(b.0));
    let iy = ay1.min(by1).saturating_sub(a.1.max(b.1));
    let inter = (ix * iy) as f32;
    let union = (a.2 * a.3 + b.2 * b.3) as f32 - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// Renders a four-finger slap; `absent` are indices into [index, middle, ring, little].
fn four(hand: Hand, seed: u64, absent: &[usize], severity: f32) -> (GrayImage, [Option<BBox>; 4]) {
    let masters: Vec<MasterFinger> = (0..4).map(|i| master(seed * 10 + i)).collect();
    let fingers: [SlapFinger<'_>; 4] = std::array::from_fn(|i| SlapFinger {
        master: (!absent.contains(&i)).then(|| &masters[i]),
        impression: Impression::random(seed * 100 + i as u64, severity),
    });
    render_four_finger_slap(hand, &fingers, W, H)
}

fn positions(hand: Hand) -> [u8; 4] {
    match hand {
        Hand::Right => [2, 3, 4, 5],
        Hand::Left => [7, 8, 9, 10],
    }
}

/// Every ground-truth print has a segmented finger with the right label and IoU > 0.5.
fn check(seg: &Segmentation, truth: &[Option<BBox>], labels: &[u8], what: &str) {
    let expected: Vec<u8> = labels
        .iter()
        .zip(truth)
        .filter(|(_, t)| t.is_some())
        .map(|(p, _)| *p)
        .collect();
    assert_eq!(seg.fingers.len(), expected.len(), "{what}: {seg:?}");
    for (p, t) in labels.iter().zip(truth) {
        let Some(t) = t else {
            assert!(seg.missing.contains(p), "{what}: {p} should be missing");
            assert!(seg.fingers.iter().all(|f| f.position != *p), "{what}");
            continue;
        };
        let f = seg
            .fingers
            .iter()
            .find(|f| f.position == *p)
            .unwrap_or_else(|| panic!("{what}: no finger labelled {p}"));
        let v = iou(*t, f.bbox);
        assert!(
            v > 0.5,
            "{what}: position {p} IoU {v:.2} ({:?} vs truth {t:?})",
            f.bbox
        );
        assert_eq!((f.image.width(), f.image.height()), (f.bbox.2, f.bbox.3));
        assert!(f.quality.score > 0, "{what}: position {p} {:?}", f.quality);
    }
}

#[test]
fn four_finger_slaps_both_hands() {
    for (hand, kind) in [
        (Hand::Right, SlapKind::RightFour),
        (Hand::Left, SlapKind::LeftFour),
    ] {
        for seed in [1u64, 2] {
            let (img, truth) = four(hand, seed, &[], 0.3);
            let seg = segment_slap(&img, kind, &[]).unwrap();
            check(
                &seg,
                &truth,
                &positions(hand),
                &format!("{hand:?} seed {seed}"),
            );
            assert!(seg.missing.is_empty());
            // Left to right in the image.
            let xs: Vec<u32> = seg.fingers.iter().map(|f| f.bbox.0).collect();
            assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
        }
    }
}

#[test]
fn one_and_two_missing_fingers() {
    let cases: [(Hand, SlapKind, &[usize]); 4] = [
        (Hand::Right, SlapKind::RightFour, &[2]), // ring amputated
        (Hand::Left, SlapKind::LeftFour, &[0]),   // index
        (Hand::Right, SlapKind::RightFour, &[1, 2]), // middle and ring
        (Hand::Left, SlapKind::LeftFour, &[0, 3]), // index and little
    ];
    for (n, (hand, kind, absent)) in cases.into_iter().enumerate() {
        let (img, truth) = four(hand, 3 + n as u64, absent, 0.3);
        let declared: Vec<u8> = absent.iter().map(|&i| positions(hand)[i]).collect();
        let seg = segment_slap(&img, kind, &declared).unwrap();
        check(
            &seg,
            &truth,
            &positions(hand),
            &format!("{hand:?} missing {declared:?}"),
        );
        let mut want = declared.clone();
        want.sort_unstable();
        assert_eq!(seg.missing, want);
    }
}

#[test]
fn thumbs_slap_with_and_without_a_missing_thumb() {
    let masters = [master(71), master(72)];
    for absent in [None, Some(0usize), Some(1)] {
        let fingers: [SlapFinger<'_>; 2] = std::array::from_fn(|i| SlapFinger {
            master: (absent != Some(i)).then(|| &masters[i]),
            impression: Impression::random(80 + i as u64, 0.3),
        });
        let (img, truth) = render_thumbs_slap(&fingers, W, H);
        let declared: Vec<u8> = absent.map(|i| [6u8, 1][i]).into_iter().collect();
        let seg = segment_slap(&img, SlapKind::Thumbs, &declared).unwrap();
        check(
            &seg,
            &truth,
            &[6, 1],
            &format!("thumbs missing {declared:?}"),
        );
    }
}

#[test]
fn undeclared_missing_finger_is_a_count_mismatch() {
    let (img, _) = four(Hand::Right, 9, &[3], 0.2);
    assert_eq!(
        segment_slap(&img, SlapKind::RightFour, &[]).unwrap_err(),
        SegmentError::FingerCountMismatch {
            expected: 4,
            found: 3
        }
    );
    // Declared two missing but only one is.
    assert_eq!(
        segment_slap(&img, SlapKind::RightFour, &[4, 5]).unwrap_err(),
        SegmentError::FingerCountMismatch {
            expected: 2,
            found: 3
        }
    );
}

#[test]
fn declared_gap_that_is_elsewhere_is_flagged() {
    // The ring finger (4) is missing but the little finger (5) was declared.
    let (img, _) = four(Hand::Right, 10, &[2], 0.2);
    assert_eq!(
        segment_slap(&img, SlapKind::RightFour, &[5]).unwrap_err(),
        SegmentError::SlotMismatch {
            declared: vec![5],
            observed: vec![4]
        }
    );
}

#[test]
fn blank_slaps_are_errors() {
    for v in [255u8, 128, 0] {
        let img = GrayImage::from_pixel(W, H, image::Luma([v]));
        assert!(matches!(
            segment_slap(&img, SlapKind::RightFour, &[]),
            Err(SegmentError::FingerCountMismatch {
                expected: 4,
                found: 0
            })
        ));
        assert!(segment_slap(&img, SlapKind::Thumbs, &[]).is_err());
    }
    assert!(matches!(
        segment_slap(&GrayImage::new(0, 0), SlapKind::LeftFour, &[]),
        Err(SegmentError::EmptyImage { .. })
    ));
}
