//! Calibrates the logistic quality model on synthetic fingers.
//!
//! ```text
//! cargo run --release -p rekam-quality --example calibrate [-- TRAIN_SEEDS]
//! ```
//!
//! Fingers from `rekam-synth` (seeds 1..=TRAIN_SEEDS, default 24, 800×750, clean
//! impression) are degraded by blur, noise, low contrast and partial print at strengths 0,
//! 0.2, …, 1.0. Each degraded image gets the target quality `0.95 − 0.9 · strength`, and a
//! logistic regression of the target on [`model_inputs`] is fitted by projected gradient
//! descent on the cross-entropy, with the weights kept non-negative (so a better feature can
//! never lower the score), a hinge ranking term that asks every stronger degradation of the
//! same finger to score lower by a margin (environment variables `CAL_RANK`, default 2, and `CAL_MARGIN`, default 0.25), and
//! a small L2 pull of the weights towards 1 (environment
//! variable `CAL_L2`, default 0.002), so every feature keeps some say. The output is the pair of constants to
//! paste into `src/quality.rs`, and a check of the fitted model on the training grid.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use rekam_quality::quality::{
    MODEL_INPUT_NAMES, MODEL_INPUTS, features, logistic_score, model_inputs,
};
use rekam_synth::{Degradation, Impression, degrade, master, render_finger};

const STRENGTHS: [f32; 6] = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];

fn degradation(kind: usize, s: f32) -> Degradation {
    match kind {
        0 => Degradation::Blur(s),
        1 => Degradation::Noise(s),
        2 => Degradation::LowContrast(s),
        _ => Degradation::Partial(s),
    }
}

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("TRAIN_SEEDS must be a number"))
        .unwrap_or(24);
    // (inputs, target, series id, strength index); images without foreground are left out
    // (they score 0 by rule).
    let mut data: Vec<([f32; MODEL_INPUTS], f32, usize, usize)> = Vec::new();
    for seed in 1..=seeds {
        let m = master(seed);
        let img = render_finger(&m, 800, 750, &Impression::clean());
        for kind in 0..4 {
            for (k, &s) in STRENGTHS.iter().enumerate() {
                let d = degrade(&img, degradation(kind, s), seed);
                let f = features(&d, None);
                if f.foreground_blocks == 0 {
                    continue;
                }
                let series = (seed as usize) * 4 + kind;
                data.push((model_inputs(&f), 0.95 - 0.9 * s, series, k));
            }
        }
    }
    eprintln!("{} samples", data.len());

    let mut w = [0.0f32; MODEL_INPUTS];
    let mut b = 0.0f32;
    let lr = 0.5f32;
    // L2 pull towards equal weights, so that every NFIQ 2 feature keeps a say unless the
    // data clearly disagree.
    let prior = 1.0f32;
    let l2 = std::env::var("CAL_L2")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2e-3f32);
    // Ranking term: within a series, each stronger degradation must score lower by a
    // logit margin (hinge loss), which is what the validation asks for.
    let rank = std::env::var("CAL_RANK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0f32);
    let margin = std::env::var("CAL_MARGIN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.25f32);
    let pairs: Vec<(usize, usize)> = (1..data.len())
        .filter(|&j| data[j].2 == data[j - 1].2 && data[j].3 == data[j - 1].3 + 1)
        .map(|j| (j - 1, j))
        .collect();
    let n = data.len() as f32;
    let np = pairs.len().max(1) as f32;
    let logit = |x: &[f32; MODEL_INPUTS], w: &[f32; MODEL_INPUTS]| -> f32 {
        x.iter().zip(w).map(|(a, b)| a * b).sum()
    };
    for _ in 0..200_000 {
        let mut gw = [0.0f32; MODEL_INPUTS];
        let mut gb = 0.0f32;
        for (x, t, _, _) in &data {
            let p = logistic_score(x, &w, b) / 100.0;
            let e = p - t;
            for i in 0..MODEL_INPUTS {
                gw[i] += e * x[i];
            }
            gb += e;
        }
        for &(i, j) in &pairs {
            let (xi, xj) = (&data[i].0, &data[j].0);
            if logit(xi, &w) - logit(xj, &w) < margin {
                for k in 0..MODEL_INPUTS {
                    gw[k] -= rank * n / np * (xi[k] - xj[k]);
                }
            }
        }
        for i in 0..MODEL_INPUTS {
            w[i] = (w[i] - lr * (gw[i] / n + l2 * (w[i] - prior))).max(0.0);
        }
        b -= lr * gb / n;
    }

    println!(
        "// calibrated with: cargo run --release -p rekam-quality --example calibrate -- {seeds}"
    );
    print!("pub const MODEL_WEIGHTS: [f32; MODEL_INPUTS] = [");
    for (i, v) in w.iter().enumerate() {
        print!("{}{v:.2}", if i > 0 { ", " } else { "" });
    }
    println!("];");
    println!("pub const MODEL_BIAS: f32 = {b:.2};");
    for (name, v) in MODEL_INPUT_NAMES.iter().zip(&w) {
        eprintln!("  {name:10} {v:7.3}");
    }

    // Fit quality and monotonicity on the training grid.
    let mut err = 0.0f32;
    let mut violations = 0;
    let mut last: std::collections::HashMap<usize, f32> = Default::default();
    for (x, t, series, k) in &data {
        let s = logistic_score(x, &w, b);
        err += (s / 100.0 - t).powi(2);
        if let Some(prev) = last.get(series) {
            if *k > 0 && s >= *prev {
                violations += 1;
            }
        }
        last.insert(*series, s);
    }
    eprintln!(
        "rms error {:.3}, non-decreasing steps {violations}",
        (err / n).sqrt()
    );
}
