//! Resident memory of the real `rekamd` (release) from the 10th to the 1000th enrollment:
//! finished recordings live in the store on disk, not in memory, so it stays flat. Every
//! step is committed durably (the default store in a temporary state directory, biometrics
//! kept for the default retention), one enrollment after another over gRPC on loopback,
//! simulator timings at zero.
//!
//! `cargo bench -p rekamd --bench memory` (REKAM_BENCH_ENROLLMENTS=1000 by default)
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Instant;

use rekam_api::pb::enrollment_service_client::EnrollmentServiceClient;

mod common;
use common::{one_enrollment, refill};

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists; nothing to list here.
    }
    let total: usize = std::env::var("REKAM_BENCH_ENROLLMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    let socket = dir.path().join("rekamd.sock");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rekamd"))
        .args(["--time-scale", "0"])
        .arg("--socket")
        .arg(&socket)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pid = child.id();
    rt.block_on(async {
        let channel = common::wait_for(&socket).await;
        let mut client = EnrollmentServiceClient::new(channel.clone());
        println!("| enrollments | VmRSS | store on disk | last 10: ms per enrollment |");
        println!("| --- | --- | --- | --- |");
        let mut first = None;
        let started = Instant::now();
        let mut lap = Instant::now();
        for n in 1..=total {
            refill(&channel).await;
            one_enrollment(&mut client).await;
            if n == 10 || n % 100 == 0 || n == total {
                let rss = common::rss_kb(pid);
                if n == 10 {
                    first = Some(rss);
                    lap = Instant::now();
                }
                println!(
                    "| {n} | {:.1} MB | {:.0} MB | {:.1} |",
                    rss as f64 / 1024.0,
                    dir_size(&dir.path().join("state")) as f64 / 1e6,
                    lap.elapsed().as_secs_f64() * 1e3 / if n == 10 { 1.0 } else { 100.0 },
                );
                lap = Instant::now();
            }
        }
        let last = common::rss_kb(pid);
        let first = first.unwrap_or(last);
        println!(
            "VmRSS 10th → {total}th: {:.1} MB → {:.1} MB ({:+.1} %), {total} enrollments in {:.0} s",
            first as f64 / 1024.0,
            last as f64 / 1024.0,
            (last as f64 - first as f64) / first as f64 * 100.0,
            started.elapsed().as_secs_f64()
        );
    });
    let _ = child.kill();
    let _ = child.wait();
}
