//! The pen pipeline's latency: from a pen packet written on the pseudo-terminal's master
//! (the simulated digitizer's side) to its sample out of the driver's `sign()` stream,
//! through the kernel's terminal layer, the driver's actor thread, the decoder and the
//! channel to the async side. Packets are written one at a time at the digitizer's rate
//! (133 per second), each measured alone.
//!
//! ```sh
//! cargo bench -p rekam-isdv4 --bench latency            # 1000 packets
//! ISDV4_BENCH_PACKETS=5000 cargo bench -p rekam-isdv4 --bench latency
//! ```
//!
//! Prints p50, p99 and the maximum; the goal is p99 under 5 ms.

use std::time::{Duration, Instant};

use futures::StreamExt;
use rekam_core::SignaturePad;
use rekam_isdv4::{Isdv4Config, Isdv4Pad, Isdv4Sim, PenPacket, SimConfig};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; any other argument asks for nothing else.
    let n: usize = std::env::var("ISDV4_BENCH_PACKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
        .max(10);
    let sim = Isdv4Sim::spawn(SimConfig {
        auto_sign: false,
        ..Default::default()
    })?;
    let path = sim.path().to_string_lossy().into_owned();
    let pad = Isdv4Pad::open(
        "bench",
        &path,
        Isdv4Config {
            keepalive: None,
            settle: Duration::from_millis(20),
            finish_after: Duration::from_secs(3600),
            ..Default::default()
        },
    )?;
    let period = Duration::from_secs_f64(1.0 / f64::from(pad.sample_rate_hz()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut latencies = rt.block_on(async {
        let mut stream = pad.sign();
        while !sim.is_sampling() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let mut out = Vec::with_capacity(n);
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
            sim.write_packet(&packet)?;
            match stream.next().await {
                Some(Ok(s)) if s.x == f32::from(packet.x) => out.push(sent.elapsed()),
                other => return Err(format!("packet {i}: got {other:?}").into()),
            }
            next = sent + period;
        }
        Ok::<_, Box<dyn std::error::Error>>(out)
    })?;
    latencies.sort();
    let mean = latencies.iter().sum::<Duration>() / latencies.len() as u32;
    let p99 = percentile(&latencies, 0.99);
    println!(
        "isdv4 pen pipeline latency over {n} packets (pty write -> sample out of sign()): \
         p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms, mean {:.3} ms; goal p99 < 5 ms: {}",
        ms(percentile(&latencies, 0.5)),
        ms(p99),
        ms(*latencies.last().unwrap_or(&Duration::ZERO)),
        ms(mean),
        if p99 < Duration::from_millis(5) {
            "met"
        } else {
            "NOT met"
        }
    );
    println!("driver counters: {:?}", pad.stats());
    Ok(())
}
