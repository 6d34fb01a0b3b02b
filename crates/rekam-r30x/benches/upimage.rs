//! Capture-to-image time of the R30x driver against the simulated module paced at the line
//! rate (57600 baud unless `R30X_BENCH_BAUD` says otherwise), over a real pseudo-terminal,
//! compared with the line-rate bound: every byte on the wire in both directions (commands,
//! acknowledgements, 288 data packets) × 10 bits / baud. Goal: within 1.1× the bound.
//!
//! `cargo bench -p rekam-r30x --bench upimage` (`R30X_BENCH_RUNS`, default 3). Run without
//! `--bench` (as `cargo test --all-targets` does) it only says so and exits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use rekam_core::{FingerPosition, FingerprintScanner};
use rekam_r30x::{R30xConfig, R30xScanner, R30xSim, SerialConnector, SimConfig};

fn env(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("upimage: a benchmark; run it with cargo bench -p rekam-r30x --bench upimage");
        return;
    }
    let baud = env("R30X_BENCH_BAUD", 57600);
    let runs = env("R30X_BENCH_RUNS", 3).max(1);
    let sim = R30xSim::spawn(SimConfig {
        baud,
        paced: true,
        // Only the line: GenImg answers at once.
        genimg_time: Duration::ZERO,
        ..SimConfig::default()
    })
    .expect("simulator");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let config = R30xConfig {
        baud,
        heartbeat: None,
        ..R30xConfig::default()
    };
    let scanner = R30xScanner::open(
        "fingerprint0",
        Arc::new(SerialConnector::new(sim.path())),
        config,
    )
    .expect("open");
    sim.place_finger();
    println!(
        "upimage: R307-class module simulated at {baud} baud, paced; {}x{} image, capture = \
         GenImg + UpImage",
        scanner.geometry().width,
        scanner.geometry().height
    );
    let mut ratios = Vec::new();
    for run in 1..=runs {
        let before = scanner.stats();
        let t = Instant::now();
        let cap = rt
            .block_on(scanner.capture(FingerPosition::RightIndex, &[]))
            .expect("capture");
        let elapsed = t.elapsed();
        let after = scanner.stats();
        let bytes =
            (after.bytes_written - before.bytes_written) + (after.bytes_read - before.bytes_read);
        let bound = Duration::from_secs_f64(bytes as f64 * 10.0 / f64::from(baud));
        let ratio = elapsed.as_secs_f64() / bound.as_secs_f64();
        ratios.push(ratio);
        println!(
            "run {run}: {}x{} image in {:.3} s; {bytes} bytes on the wire, line-rate bound \
             {:.3} s; ratio {ratio:.3}",
            cap.image.width,
            cap.image.height,
            elapsed.as_secs_f64(),
            bound.as_secs_f64()
        );
        assert_eq!(
            after.errors(),
            0,
            "line errors during the benchmark: {after}"
        );
    }
    let worst = ratios.iter().copied().fold(0.0, f64::max);
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    println!(
        "upimage: mean ratio {mean:.3}, worst {worst:.3} (goal ≤ 1.100): {}",
        if worst <= 1.1 { "met" } else { "NOT met" }
    );
}
