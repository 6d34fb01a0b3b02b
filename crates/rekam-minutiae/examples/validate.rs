#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Larger evaluation on rekam-synth fingers (run in release):
//! `cargo run --release -p rekam-minutiae --example validate -- [masters] [severity] [width] [height]`

#[path = "../tests/common/eval.rs"]
mod eval;

use rekam_synth::{Degradation, Impression, degrade};
use std::time::Instant;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let n: u64 = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let severity: f32 = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(0.5);
    let w: u32 = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(800);
    let h: u32 = a.get(4).and_then(|s| s.parse().ok()).unwrap_or(750);
    println!("masters {n}, severity {severity}, {w}x{h}");

    let clean = eval::extraction(1..=n.min(50), w, h, |_| Impression::clean());
    println!(
        "extraction, clean: images {} truth {} found {} hits {} recall {:.3} precision {:.3} kind agreement {:.3}",
        clean.images,
        clean.truth,
        clean.found,
        clean.hits,
        clean.recall(),
        clean.precision(),
        clean.kind_agree as f32 / clean.hits.max(1) as f32
    );
    let (qt, qf) = clean.mean_quality();
    println!("  mean quality of true minutiae {qt:.1}, of false ones {qf:.1}");
    let deg = eval::extraction(1..=n.min(50), w, h, |s| {
        Impression::random(s * 1000 + 1, severity)
    });
    println!(
        "extraction, random(severity {severity}): truth {} found {} hits {} recall {:.3} precision {:.3}",
        deg.truth,
        deg.found,
        deg.hits,
        deg.recall(),
        deg.precision()
    );
    let (qt, qf) = deg.mean_quality();
    println!("  mean quality of true minutiae {qt:.1}, of false ones {qf:.1}");

    // Extraction under rekam-synth's image degradations (clean impressions, then degraded).
    for (name, d) in [
        ("noise 0.5 (σ 30)", Degradation::Noise(0.5)),
        ("noise 1.0 (σ 60)", Degradation::Noise(1.0)),
        ("blur 0.5 (σ 2 px)", Degradation::Blur(0.5)),
        ("blur 0.75 (σ 3 px)", Degradation::Blur(0.75)),
        ("low contrast 0.7", Degradation::LowContrast(0.7)),
        ("low contrast 0.9", Degradation::LowContrast(0.9)),
    ] {
        let s = eval::extraction_with(
            1..=n.min(20),
            w,
            h,
            |_| Impression::clean(),
            |img, seed| degrade(&img, d, seed),
        );
        println!(
            "extraction, clean + {name}: truth {} found {} hits {} recall {:.3} precision {:.3}",
            s.truth,
            s.found,
            s.hits,
            s.recall(),
            s.precision()
        );
    }

    let seeds: Vec<u64> = (1..=n).collect();
    let t0 = Instant::now();
    let t = eval::templates(&seeds, w, h, severity);
    let render_extract = t0.elapsed();
    let t0 = Instant::now();
    let (g, i) = eval::scores(&t);
    let matching = t0.elapsed();
    let (gs, is) = (eval::summary(&g), eval::summary(&i));
    println!(
        "genuine  n {} min {} mean {:.1} max {}",
        gs.n, gs.min, gs.mean, gs.max
    );
    println!(
        "impostor n {} min {} mean {:.1} max {}",
        is.n, is.min, is.mean, is.max
    );
    let (e, th) = eval::eer(&g, &i);
    println!("EER {:.4} at threshold {th}", e);
    for t in [th, is.max + 1, 20, 25, 30, 40] {
        println!(
            "  threshold {t}: FMR {:.5} FNMR {:.4}",
            eval::fmr(&i, t),
            eval::fnmr(&g, t)
        );
    }
    let nm: usize = t
        .iter()
        .map(|p| p[0].minutiae.len() + p[1].minutiae.len())
        .sum();
    println!(
        "minutiae per template {:.1}; render+extract {:.1} ms per image; {:.1} µs per match",
        nm as f32 / (2 * t.len()) as f32,
        render_extract.as_secs_f64() * 1e3 / (2 * t.len()) as f64,
        matching.as_secs_f64() * 1e6 / (g.len() + i.len()) as f64
    );
    let asym: Vec<f32> = t
        .iter()
        .map(|p| {
            let (ab, ba) = (
                rekam_minutiae::match_score(&p[0], &p[1]) as f32,
                rekam_minutiae::match_score(&p[1], &p[0]) as f32,
            );
            (ab - ba).abs() / ab.max(ba).max(1.0)
        })
        .collect();
    println!(
        "symmetry: genuine |s(a,b) - s(b,a)| / max: mean {:.3}, max {:.3}",
        asym.iter().sum::<f32>() / asym.len().max(1) as f32,
        asym.iter().copied().fold(0.0, f32::max)
    );
    // The same comparisons after a round trip through the compact card format (at most 60
    // minutiae, 0.1 mm and 5.625° steps, no quality).
    let opts = rekam_minutiae::iso19794_2::CardOptions::default();
    let card: Vec<[rekam_minutiae::Template; 2]> = t
        .iter()
        .map(|p| {
            p.clone().map(|x| {
                let b = rekam_minutiae::iso19794_2::write_compact(&x, &opts).unwrap();
                rekam_minutiae::iso19794_2::parse_compact(&b, 500).unwrap()
            })
        })
        .collect();
    let (cg, ci) = eval::scores(&card);
    let (cgs, cis) = (eval::summary(&cg), eval::summary(&ci));
    let (ce, cth) = eval::eer(&cg, &ci);
    println!(
        "compact card (≤ {} minutiae): genuine min {} mean {:.1} max {}; impostor min {} mean {:.1} max {}; EER {:.4} at {cth}; at {}: FMR {:.5} FNMR {:.4}",
        opts.max_minutiae,
        cgs.min,
        cgs.mean,
        cgs.max,
        cis.min,
        cis.mean,
        cis.max,
        ce,
        rekam_minutiae::MATCH_THRESHOLD,
        eval::fmr(&ci, rekam_minutiae::MATCH_THRESHOLD),
        eval::fnmr(&cg, rekam_minutiae::MATCH_THRESHOLD)
    );
    let mut low: Vec<(u32, usize)> = g.iter().copied().zip(0..).collect();
    low.sort();
    println!(
        "lowest genuine (score, master): {:?}",
        &low[..low.len().min(8)]
    );
    let mut high: Vec<u32> = i.clone();
    high.sort_unstable_by(|a, b| b.cmp(a));
    println!("highest impostor: {:?}", &high[..high.len().min(8)]);
}
