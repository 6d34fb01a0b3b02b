//! Evaluation on rekam-synth fingers: extraction recall/precision against ground truth and
//! genuine/impostor score distributions.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use rekam_minutiae::{Minutia, MinutiaKind, Template, extract, match_score};
use rekam_synth::{Impression, ground_truth_minutiae, master, render_finger};
use std::f32::consts::{PI, TAU};

/// Greedy one-to-one pairing of extracted minutiae with ground truth within `dist` pixels and
/// `ang` radians, closest first. Returns (hits, kind agreements among hits, for each found
/// minutia whether it was paired).
pub fn pair(
    found: &[Minutia],
    truth: &[rekam_synth::Minutia],
    dist: f32,
    ang: f32,
) -> (usize, usize, Vec<bool>) {
    let mut cand: Vec<(f32, usize, usize)> = Vec::new();
    for (ti, t) in truth.iter().enumerate() {
        for (fi, m) in found.iter().enumerate() {
            let d = (f32::from(m.x) - t.x).hypot(f32::from(m.y) - t.y);
            let mut da = (m.angle - t.angle).rem_euclid(TAU);
            if da > PI {
                da = TAU - da;
            }
            if d <= dist && da <= ang {
                cand.push((d, ti, fi));
            }
        }
    }
    cand.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut ut, mut uf) = (vec![false; truth.len()], vec![false; found.len()]);
    let (mut hits, mut kinds) = (0, 0);
    for (_, ti, fi) in cand {
        if ut[ti] || uf[fi] {
            continue;
        }
        ut[ti] = true;
        uf[fi] = true;
        hits += 1;
        let same = matches!(
            (truth[ti].kind, found[fi].kind),
            (rekam_synth::MinutiaKind::Ending, MinutiaKind::Ending)
                | (
                    rekam_synth::MinutiaKind::Bifurcation,
                    MinutiaKind::Bifurcation
                )
        );
        kinds += usize::from(same);
    }
    (hits, kinds, uf)
}

/// Extraction statistics summed over impressions.
#[derive(Debug, Default, Clone, Copy)]
pub struct ExtractionStats {
    pub images: usize,
    pub truth: usize,
    pub found: usize,
    pub hits: usize,
    pub kind_agree: usize,
    /// Sum of the qualities of found minutiae paired with the truth, and of the others.
    pub quality_true: u64,
    pub quality_false: u64,
}

impl ExtractionStats {
    pub fn recall(&self) -> f32 {
        self.hits as f32 / self.truth.max(1) as f32
    }
    pub fn precision(&self) -> f32 {
        self.hits as f32 / self.found.max(1) as f32
    }
    /// Mean quality of the true and of the false minutiae.
    pub fn mean_quality(&self) -> (f32, f32) {
        (
            self.quality_true as f32 / self.hits.max(1) as f32,
            self.quality_false as f32 / (self.found - self.hits).max(1) as f32,
        )
    }
}

/// Extraction of `imp(master)` for masters `seeds`, compared with ground truth.
pub fn extraction(
    seeds: impl Iterator<Item = u64>,
    w: u32,
    h: u32,
    imp: impl Fn(u64) -> Impression,
) -> ExtractionStats {
    extraction_with(seeds, w, h, imp, |img, _| img)
}

/// As [`extraction`], with `post(image, seed)` applied to each rendered image (e.g. a
/// `rekam_synth::degrade`).
pub fn extraction_with(
    seeds: impl Iterator<Item = u64>,
    w: u32,
    h: u32,
    imp: impl Fn(u64) -> Impression,
    post: impl Fn(image::GrayImage, u64) -> image::GrayImage,
) -> ExtractionStats {
    let mut s = ExtractionStats::default();
    for seed in seeds {
        let m = master(seed);
        let i = imp(seed);
        let img = post(render_finger(&m, w, h, &i), seed);
        let truth = ground_truth_minutiae(&m, w, h, &i);
        let t = extract(&img).expect("extract");
        let (hits, kinds, paired) = pair(&t.minutiae, &truth, 10.0, 30f32.to_radians());
        for (m, p) in t.minutiae.iter().zip(&paired) {
            if *p {
                s.quality_true += u64::from(m.quality);
            } else {
                s.quality_false += u64::from(m.quality);
            }
        }
        s.images += 1;
        s.truth += truth.len();
        s.found += t.minutiae.len();
        s.hits += hits;
        s.kind_agree += kinds;
    }
    s
}

/// Summary of a score sample.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub n: usize,
    pub min: u32,
    pub mean: f32,
    pub max: u32,
}

pub fn summary(v: &[u32]) -> Summary {
    Summary {
        n: v.len(),
        min: v.iter().copied().min().unwrap_or(0),
        mean: v.iter().map(|&x| x as f32).sum::<f32>() / v.len().max(1) as f32,
        max: v.iter().copied().max().unwrap_or(0),
    }
}

/// Equal error rate and its threshold: a comparison is accepted when `score >= t`.
/// FNMR(t) = genuine below t, FMR(t) = impostors at or above t; returns
/// (EER, t) at the threshold where max(FMR, FNMR) is smallest.
pub fn eer(genuine: &[u32], impostor: &[u32]) -> (f32, u32) {
    let top = genuine.iter().chain(impostor).copied().max().unwrap_or(0) + 1;
    let mut best = (f32::MAX, 0u32);
    for t in 0..=top {
        let fnmr = genuine.iter().filter(|&&s| s < t).count() as f32 / genuine.len().max(1) as f32;
        let fmr =
            impostor.iter().filter(|&&s| s >= t).count() as f32 / impostor.len().max(1) as f32;
        let e = fnmr.max(fmr);
        if e < best.0 {
            best = (e, t);
        }
    }
    best
}

/// FNMR at a threshold.
pub fn fnmr(genuine: &[u32], t: u32) -> f32 {
    genuine.iter().filter(|&&s| s < t).count() as f32 / genuine.len().max(1) as f32
}

/// FMR at a threshold.
pub fn fmr(impostor: &[u32], t: u32) -> f32 {
    impostor.iter().filter(|&&s| s >= t).count() as f32 / impostor.len().max(1) as f32
}

/// Two impressions per master (`Impression::random(2*seed+k, severity)`), extracted.
pub fn templates(seeds: &[u64], w: u32, h: u32, severity: f32) -> Vec<[Template; 2]> {
    seeds
        .iter()
        .map(|&seed| {
            let m = master(seed);
            let one = |k: u64| {
                let imp = Impression::random(seed * 1000 + k, severity);
                extract(&render_finger(&m, w, h, &imp)).expect("extract")
            };
            [one(1), one(2)]
        })
        .collect()
}

/// Genuine scores (the two impressions of each master) and impostor scores (first
/// impressions of every pair of different masters).
pub fn scores(t: &[[Template; 2]]) -> (Vec<u32>, Vec<u32>) {
    let genuine = t.iter().map(|p| match_score(&p[0], &p[1])).collect();
    let mut impostor = Vec::new();
    for i in 0..t.len() {
        for j in i + 1..t.len() {
            impostor.push(match_score(&t[i][0], &t[j][0]));
        }
    }
    (genuine, impostor)
}
