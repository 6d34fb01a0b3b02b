//! Encode and decode speed on a 500 ppi single finger (800 × 750) and a four-finger slap
//! (1600 × 1500) at 0.75 bpp, one core.
//!
//! With `NBIS_BIN` naming a folder with NIST's `cwsq` and `dwsq`, the same images also go
//! through NBIS (whole process runs: start-up, file I/O and compute), plus `cwsq -version` as
//! the start-up baseline to subtract; and a table of bit rate and error for both is printed.
//!
//! ```text
//! NBIS_BIN=/path/to/nbis/bin cargo bench -p rekam-wsq -- --warm-up-time 1 --measurement-time 3
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rekam_wsq::{EncodeOptions, RateControl};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const RATE: f32 = 0.75;

fn run(cmd: &mut Command) {
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{cmd:?}");
}

fn cwsq(bin: &Path, raw: &Path, w: u32, h: u32, rate: f32) -> Command {
    let mut c = Command::new(bin.join("cwsq"));
    c.arg(rate.to_string())
        .arg("wsq")
        .arg(raw)
        .arg("-raw_in")
        .arg(format!("{w},{h},8,500"));
    c
}

fn dwsq(bin: &Path, wsq: &Path) -> Command {
    let mut c = Command::new(bin.join("dwsq"));
    c.arg("out").arg(wsq).arg("-raw_out");
    c
}

/// NBIS's nominal bit rate whose output comes closest to `bpp` (its rate model undershoots).
fn nbis_rate_for(bin: &Path, raw: &Path, w: u32, h: u32, bpp: f64) -> (f32, Vec<u8>) {
    let wsq_path = raw.with_extension("wsq");
    let attempt = |r: f32| {
        run(&mut cwsq(bin, raw, w, h, r));
        let data = std::fs::read(&wsq_path).unwrap();
        (common::bpp(&data, w, h), data)
    };
    let (mut lo, mut hi) = (0.05f32, 8.0f32);
    let mut best = (RATE, attempt(RATE).1);
    for _ in 0..20 {
        let mid = (lo + hi) / 2.0;
        let (got, data) = attempt(mid);
        if (got - bpp).abs() < (common::bpp(&best.1, w, h) - bpp).abs() {
            best = (mid, data);
        }
        if got > bpp {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    best
}

fn report(name: &str, w: u32, h: u32, px: &[u8], nbis: Option<(&Path, &Path)>) {
    let exact = rekam_wsq::encode(px, w, h, &EncodeOptions::default()).unwrap();
    let model_opts = EncodeOptions {
        rate_control: RateControl::Model,
        ..Default::default()
    };
    let model = rekam_wsq::encode(px, w, h, &model_opts).unwrap();
    let line = |who: &str, file: &[u8]| {
        let back = rekam_wsq::decode(file).unwrap().pixels;
        let (rmse, psnr) = common::rmse_psnr(px, &back);
        eprintln!(
            "{name:15} {who:34} {:6.3} bpp  RMSE {rmse:5.2}  PSNR {psnr:5.2} dB",
            common::bpp(file, w, h)
        );
    };
    line("rekam Exact 0.75", &exact);
    line("rekam Model 0.75", &model);
    if let Some((bin, raw)) = nbis {
        run(&mut cwsq(bin, raw, w, h, RATE));
        let theirs = std::fs::read(raw.with_extension("wsq")).unwrap();
        eprintln!(
            "{name:15} {:34} identical to rekam Model: {}",
            "NBIS cwsq 0.75",
            theirs == model
        );
        line("NBIS cwsq 0.75", &theirs);
        let (r, same_rate) = nbis_rate_for(bin, raw, w, h, common::bpp(&exact, w, h));
        line(
            &format!("NBIS cwsq {r:.3} (same size as Exact)"),
            &same_rate,
        );
    }
}

fn bench(c: &mut Criterion) {
    let nbis = std::env::var_os("NBIS_BIN").map(PathBuf::from);
    let dir = tempfile::tempdir().unwrap();
    let images = [
        (
            "finger_800x750",
            800u32,
            750u32,
            common::finger(800, 750, 1),
        ),
        ("slap_1600x1500", 1600, 1500, common::slap(1600, 1500, 2)),
    ];
    if let Some(bin) = &nbis {
        let mut g = c.benchmark_group("nbis_startup");
        g.bench_function("cwsq_-version", |b| {
            b.iter(|| run(Command::new(bin.join("cwsq")).arg("-version")))
        });
        g.finish();
    }
    for (name, w, h, px) in &images {
        let (w, h) = (*w, *h);
        let raw = dir.path().join(format!("{name}.raw"));
        std::fs::write(&raw, px).unwrap();
        report(name, w, h, px, nbis.as_deref().map(|b| (b, raw.as_path())));

        let mut g = c.benchmark_group(*name);
        g.throughput(Throughput::Elements(1));
        let exact = EncodeOptions::default();
        g.bench_function("rekam_encode_exact_0.75", |b| {
            b.iter(|| rekam_wsq::encode(black_box(px), w, h, &exact).unwrap())
        });
        let model = EncodeOptions {
            rate_control: RateControl::Model,
            ..Default::default()
        };
        g.bench_function("rekam_encode_model_0.75", |b| {
            b.iter(|| rekam_wsq::encode(black_box(px), w, h, &model).unwrap())
        });
        let file = rekam_wsq::encode(px, w, h, &exact).unwrap();
        g.bench_function("rekam_decode", |b| {
            b.iter(|| rekam_wsq::decode(black_box(&file)).unwrap())
        });
        if let Some(bin) = &nbis {
            g.bench_function("nbis_cwsq_0.75_process", |b| {
                b.iter(|| run(&mut cwsq(bin, &raw, w, h, RATE)))
            });
            // Decode our Exact file (same size as ours) with dwsq.
            let wsq = dir.path().join(format!("{name}_exact.wsq"));
            std::fs::write(&wsq, &file).unwrap();
            g.bench_function("nbis_dwsq_process", |b| {
                b.iter(|| run(&mut dwsq(bin, &wsq)))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
