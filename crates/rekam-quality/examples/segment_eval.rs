//! Evaluates slap segmentation on synthetic slaps (the segmentation table of `VALIDATION.md`).
//!
//! ```text
//! cargo run --release -p rekam-quality --example segment_eval [-- SEEDS]
//! ```
//!
//! For each impression severity of `rekam-synth` (0.3 ≈ a typical live-scan capture, 0.6
//! a careless one, 1.0 a poor one: fingers rotated up to 30°, shifted, distorted, noisy,
//! partly missing), SEEDS (default 20) right-hand and left-hand 1600×1500 slaps are rendered
//! with a rotating pattern of missing fingers (none, each single finger, middle+ring,
//! index+little), and SEEDS two-thumb slaps (none missing, or one thumb missing). The
//! declared missing fingers are the absent ones. A slap counts as correct when every present
//! finger is found with the right label and IoU > 0.5 against its ground-truth box.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use rekam_quality::{SegmentError, SlapKind, segment_slap};
use rekam_synth::{
    BBox, Hand, Impression, MasterFinger, SlapFinger, master, render_four_finger_slap,
    render_thumbs_slap,
};

fn iou(a: BBox, b: (u32, u32, u32, u32)) -> f32 {
    let (ax1, ay1) = (a.0 + a.2, a.1 + a.3);
    let (bx1, by1) = (b.0 + b.2, b.1 + b.3);
    let ix = ax1.min(bx1).saturating_sub(a.0.max(b.0));
    let iy = ay1.min(by1).saturating_sub(a.1.max(b.1));
    let inter = (ix * iy) as f32;
    let union = (a.2 * a.3 + b.2 * b.3) as f32 - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

#[derive(Default)]
struct Tally {
    slaps: usize,
    correct: usize,
    count_errors: usize,
    other_errors: usize,
    low_iou: usize,
    ious: Vec<f32>,
    time: std::time::Duration,
}

impl Tally {
    fn add(
        &mut self,
        img: &image::GrayImage,
        kind: SlapKind,
        labels: &[u8],
        truth: &[Option<BBox>],
    ) {
        let declared: Vec<u8> = labels
            .iter()
            .zip(truth)
            .filter(|(_, t)| t.is_none())
            .map(|(p, _)| *p)
            .collect();
        self.slaps += 1;
        let t = std::time::Instant::now();
        let r = segment_slap(img, kind, &declared);
        self.time += t.elapsed();
        match r {
            Err(SegmentError::FingerCountMismatch { .. }) => self.count_errors += 1,
            Err(_) => self.other_errors += 1,
            Ok(seg) => {
                let mut ok = true;
                for (p, t) in labels.iter().zip(truth) {
                    let Some(t) = t else { continue };
                    match seg.fingers.iter().find(|f| f.position == *p) {
                        Some(f) => {
                            let v = iou(*t, f.bbox);
                            self.ious.push(v);
                            ok &= v > 0.5;
                        }
                        None => ok = false,
                    }
                }
                if ok {
                    self.correct += 1;
                } else {
                    self.low_iou += 1;
                }
            }
        }
    }

    fn row(&self, name: &str) {
        let mut s = self.ious.clone();
        s.sort_by(f32::total_cmp);
        let mean = s.iter().sum::<f32>() / s.len().max(1) as f32;
        println!(
            "| {name} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.1} |",
            self.slaps,
            self.correct,
            self.count_errors,
            self.other_errors,
            self.low_iou,
            mean,
            s.first().copied().unwrap_or(0.0),
            self.time.as_secs_f64() * 1000.0 / self.slaps.max(1) as f64
        );
    }
}

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("SEEDS"))
        .unwrap_or(20);
    let absents: [&[usize]; 7] = [&[], &[0], &[1], &[2], &[3], &[1, 2], &[0, 3]];
    println!(
        "| slaps | n | correct | count mismatch | other error | IoU ≤ 0.5 | mean IoU | min IoU | ms per slap |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for severity in [0.3f32, 0.6, 1.0] {
        let mut four = Tally::default();
        let mut thumbs = Tally::default();
        for seed in 1..=seeds {
            for hand in [Hand::Right, Hand::Left] {
                let absent = absents[(seed as usize) % absents.len()];
                let masters: Vec<MasterFinger> = (0..4).map(|i| master(seed * 10 + i)).collect();
                let fingers: [SlapFinger<'_>; 4] = std::array::from_fn(|i| SlapFinger {
                    master: (!absent.contains(&i)).then(|| &masters[i]),
                    impression: Impression::random(seed * 100 + i as u64, severity),
                });
                let (img, truth) = render_four_finger_slap(hand, &fingers, 1600, 1500);
                let (kind, labels) = match hand {
                    Hand::Right => (SlapKind::RightFour, [2u8, 3, 4, 5]),
                    Hand::Left => (SlapKind::LeftFour, [7u8, 8, 9, 10]),
                };
                four.add(&img, kind, &labels, &truth);
            }
            let masters = [master(seed * 10 + 5), master(seed * 10 + 6)];
            let gone = match seed % 4 {
                1 => Some(0usize),
                3 => Some(1),
                _ => None,
            };
            let fingers: [SlapFinger<'_>; 2] = std::array::from_fn(|i| SlapFinger {
                master: (gone != Some(i)).then(|| &masters[i]),
                impression: Impression::random(seed * 100 + 7 + i as u64, severity),
            });
            let (img, truth) = render_thumbs_slap(&fingers, 1600, 1500);
            thumbs.add(&img, SlapKind::Thumbs, &[6, 1], &truth);
        }
        four.row(&format!("four-finger, severity {severity}"));
        thumbs.row(&format!("thumbs, severity {severity}"));
    }
}
