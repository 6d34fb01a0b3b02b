//! Throughput of the outbox worker over NATS JetStream: N parcels of ~350 KB (the size of a
//! recorded package) delivered to a local nats-server (max_payload 8MB), then every parcel
//! published again under the same idempotency key to show the broker keeps one copy.
//!
//! `cargo bench -p rekam-outbox --bench deliver` (N from `REKAM_BENCH_PARCELS`, default 500;
//! concurrency from `REKAM_BENCH_CONCURRENCY`, default 16).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rekam_outbox::testing::NatsServer;
use rekam_outbox::{
    MemoryQueue, NatsConfig, NatsTransport, Outbox, OutboxConfig, Parcel, Transport,
    ensure_streams, wire,
};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = env("REKAM_BENCH_PARCELS", 500);
    let concurrency = env("REKAM_BENCH_CONCURRENCY", 16);
    let size = 350_000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let server = NatsServer::start().expect("nats-server must start (apt-get install nats-server)");
        let transport = Arc::new(NatsTransport::connect(NatsConfig::new(server.url(), "bench-1")).await.unwrap());
        let js = transport.jetstream().clone();
        ensure_streams(&js, Duration::from_secs(24 * 3600), 8 << 20).await.unwrap();

        let queue = Arc::new(MemoryQueue::new());
        let mut parcels = Vec::with_capacity(n);
        for i in 0..n {
            let mut package = vec![0u8; size];
            for (j, b) in package.iter_mut().enumerate() {
                *b = (j as u32).wrapping_mul(2_654_435_761).wrapping_add(i as u32).to_le_bytes()[j % 4];
            }
            package[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let p = Parcel::new(format!("01BENCH{i:08}"), "bench-1", package);
            queue.push(p.clone());
            parcels.push(p);
        }

        let started = Instant::now();
        let outbox = Outbox::spawn(
            queue.clone(),
            transport.clone(),
            OutboxConfig { concurrency, batch: 4 * concurrency, ..OutboxConfig::default() },
        );
        outbox.notify();
        while queue.undelivered() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let elapsed = started.elapsed();
        let stats = outbox.stats();
        outbox.shutdown().await;
        let count = js.get_stream(wire::PACKAGES_STREAM).await.unwrap().get_info().await.unwrap().state.messages;
        let rate = n as f64 / elapsed.as_secs_f64();
        let mb = (n * size) as f64 / 1e6 / elapsed.as_secs_f64();
        println!(
            "worker: {n} parcels of {size} B in {:.2} s = {rate:.0} enrollments/s ({mb:.0} MB/s), concurrency {concurrency}; \
             failed attempts {}, duplicates {}; stream holds {count} messages",
            elapsed.as_secs_f64(),
            stats.failed_attempts,
            stats.duplicates
        );
        assert_eq!(count, n as u64, "one message per parcel");

        let started = Instant::now();
        let duplicates = futures::stream::iter(parcels.iter())
            .map(|p| {
                let t = transport.clone();
                async move { t.deliver(p).await.unwrap().duplicate }
            })
            .buffer_unordered(concurrency)
            .filter(|d| futures::future::ready(*d))
            .count()
            .await;
        let again = js.get_stream(wire::PACKAGES_STREAM).await.unwrap().get_info().await.unwrap().state.messages;
        println!(
            "republish: {n} parcels with the same keys in {:.2} s: {duplicates} PubAcks duplicate=true; stream holds {again} messages",
            started.elapsed().as_secs_f64()
        );
        assert_eq!(duplicates, n);
        assert_eq!(again, n as u64, "republishing added nothing");
        if rate < 50.0 {
            eprintln!("below the 50 enrollments/s target");
        }
    });
}
