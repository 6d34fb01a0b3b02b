//! One whole enrollment over gRPC on TCP loopback, simulator timings at zero; and the
//! resident memory of an idle `rekamd` process.
//!
//! `cargo bench -p rekamd --bench enrollment`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use rekam_api::pb::enrollment_service_client::EnrollmentServiceClient;

mod common;
use common::{one_enrollment, one_enrollment_timed, refill};

fn enrollment(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let socket = dir.path().join("rekamd.sock");
    rt.block_on(async {
        let mut config = rekamd::Config::default();
        config.simulation.time_scale = 0.0;
        config.server.socket = Some(socket.clone());
        // Every step committed durably, as on a station.
        config.store.state_dir = Some(dir.path().join("state"));
        let daemon = rekamd::Daemon::open(config).unwrap();
        let uds = rekamd::server::bind_unix(&socket).unwrap();
        tokio::spawn(daemon.serve_on(uds, None, socket.clone(), async {
            let _ = stopped.await;
        }));
    });
    // The station's own user on the socket, as the officer's front-end (TCP needs a
    // signed-in session).
    let channel = rt.block_on(common::connect_unix(socket.clone())).unwrap();
    let mut client = rt.block_on(async {
        let mut c = EnrollmentServiceClient::new(channel.clone());
        // Warm-up: the simulator renders its fingers once.
        one_enrollment(&mut c).await;
        // One more, timed step by step, to show where the time goes.
        let mut times = Some(Vec::new());
        one_enrollment_timed(&mut c, &mut times).await;
        for (name, d) in times.unwrap_or_default() {
            println!("step {name:<22} {:>8.2} ms", d.as_secs_f64() * 1e3);
        }
        c
    });
    let mut g = c.benchmark_group("grpc_loopback");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.bench_function("whole_enrollment", |b| {
        b.iter_batched(
            // Not measured: the simulated printer's hopper holds 100 cards and its ribbon
            // 250 prints, so refill them when low, as an officer would.
            || rt.block_on(refill(&channel)),
            |()| rt.block_on(one_enrollment(&mut client)),
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
    let _ = stop.send(());
}

/// Starts the real binary, lets it settle, and reports VmRSS.
fn idle_rss(_: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("rekamd.sock");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rekamd"))
        .args(["--listen", "", "--time-scale", "0", "--socket"])
        .arg(&sock)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .unwrap_or("VmRSS: ?");
    println!(
        "rekamd idle after 3 s (fingers pre-rendered): {}",
        rss.trim()
    );
    let _ = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}

criterion_group!(benches, enrollment, idle_rss);
criterion_main!(benches);
