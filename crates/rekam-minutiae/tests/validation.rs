//! Validation on rekam-synth fingers (see VALIDATION.md for the larger release-mode run):
//! extraction recall and precision against ground truth on clean impressions, and the
//! separation of genuine and impostor scores over 20 masters x 2 impressions.

mod common;

use common::eval;
use rekam_synth::Impression;

/// Frame for the debug-mode tests: smaller than a full 800x750 capture to keep them fast, but
/// large enough for most of the print (rekam-synth clips the print ellipse to the frame).
const W: u32 = 560;
const H: u32 = 600;

#[test]
fn extraction_recall_and_precision_on_clean_impressions() {
    let s = eval::extraction(1..=6, W, H, |_| Impression::clean());
    eprintln!(
        "clean: truth {} found {} hits {} recall {:.3} precision {:.3}",
        s.truth,
        s.found,
        s.hits,
        s.recall(),
        s.precision()
    );
    assert!(s.truth > 100, "too little ground truth: {}", s.truth);
    assert!(s.recall() >= 0.8, "recall {}", s.recall());
    assert!(s.precision() >= 0.8, "precision {}", s.precision());
    // Every ridge ending/bifurcation paired with the truth is of the right kind.
    assert!(s.kind_agree as f32 >= 0.95 * s.hits as f32);
}

#[test]
fn genuine_and_impostor_scores_separate() {
    let seeds: Vec<u64> = (1..=20).collect();
    let t = eval::templates(&seeds, W, H, 0.4);
    let (g, i) = eval::scores(&t);
    let (gs, is) = (eval::summary(&g), eval::summary(&i));
    let (e, th) = eval::eer(&g, &i);
    eprintln!(
        "genuine min {} mean {:.1} max {}; impostor min {} mean {:.1} max {}; EER {e:.3} at {th}",
        gs.min, gs.mean, gs.max, is.min, is.mean, is.max
    );
    assert_eq!((g.len(), i.len()), (20, 190));
    // 20 genuine comparisons: an EER of 5 % is a single genuine pair lost.
    assert!(e <= 0.05, "EER {e}");
    // The means are far apart (impostor scores come from chance alignments only).
    assert!(
        gs.mean > 5.0 * is.mean,
        "genuine mean {} impostor mean {}",
        gs.mean,
        is.mean
    );
}
