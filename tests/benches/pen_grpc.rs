//! The pen pipeline's latency as a front-end sees it: from a pen packet written on the
//! pseudo-terminal's master (the simulated ISDV4 digitizer's side) to its sample at a gRPC
//! client of `SignatureService.Sign`, through the kernel's terminal layer, the driver's
//! actor thread, the daemon's stream and HTTP/2 over a Unix socket. Packets are written
//! one at a time at the digitizer's rate (133 per second), each measured alone.
//!
//! ```sh
//! cargo bench -p rekam-tests --bench pen_grpc            # 1000 packets
//! PEN_BENCH_PACKETS=5000 cargo bench -p rekam-tests --bench pen_grpc
//! ```
//!
//! Prints p50, p99 and the maximum; the goal is p99 under 5 ms.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use rekam_api::pb;
use rekam_isdv4::{Isdv4Sim, PenPacket, SimConfig};
use rekam_tests::{TestDaemon, ms, percentile};

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("pen_grpc: run it with `cargo bench -p rekam-tests --bench pen_grpc`");
        return;
    }
    let n: usize = std::env::var("PEN_BENCH_PACKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
        .max(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sim = Isdv4Sim::spawn(SimConfig {
            auto_sign: false,
            ..Default::default()
        })
        .unwrap();
        let pad = sim.path().display().to_string();
        let d = TestDaemon::start_with(move |c| {
            for dev in &mut c.devices {
                if dev.selector.to_string().starts_with("signature:") {
                    dev.selector = format!("signature:isdv4:{pad}").parse().unwrap();
                    dev.id = Some("signature0".into());
                    for (k, v) in [("finish_ms", "3600000"), ("keepalive_ms", "0")] {
                        dev.options.insert(k.into(), v.into());
                    }
                }
            }
        })
        .await;
        let mut stream = d
            .signature()
            .sign(pb::SignRequest::default())
            .await
            .unwrap()
            .into_inner();
        while !sim.is_sampling() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let period = Duration::from_secs_f64(1.0 / 133.0);
        let mut latencies = Vec::with_capacity(n);
        let mut next = Instant::now();
        for i in 0..n {
            let packet = PenPacket {
                proximity: true,
                tip: true,
                x: (i % 10_000) as u16,
                y: (i % 6_000) as u16,
                pressure: 500,
                ..Default::default()
            };
            tokio::time::sleep_until(next.into()).await;
            let sent = Instant::now();
            sim.write_packet(&packet).unwrap();
            match stream.next().await {
                Some(Ok(s)) if s.x == f32::from(packet.x) => latencies.push(sent.elapsed()),
                other => panic!("packet {i}: got {other:?}"),
            }
            next = sent + period;
        }
        latencies.sort();
        let p99 = percentile(&latencies, 0.99);
        println!(
            "isdv4 pen latency over {n} packets (pty write -> sample at a gRPC client of \
             SignatureService.Sign, Unix socket): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; \
             goal p99 < 5 ms: {}",
            ms(percentile(&latencies, 0.5)),
            ms(p99),
            ms(*latencies.last().unwrap()),
            if p99 < Duration::from_millis(5) {
                "met"
            } else {
                "NOT met"
            }
        );
        drop(stream);
        d.stop().await;
    });
}
