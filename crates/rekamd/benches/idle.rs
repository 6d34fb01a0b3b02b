//! A thousand idle TCP connections against the real `rekamd` (release) with its default
//! connection limits (256 per listener, a 10 s handshake timeout): what the socket's
//! callers see meanwhile, how long a TCP newcomer waits, how long until the daemon has
//! closed every silent connection, and the daemon's descriptors and memory before, during
//! and after.
//!
//! `cargo bench -p rekamd --bench idle` (about a minute)
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use rekam_api::pb;
use tokio::io::AsyncReadExt;

mod common;
use common::rss_kb;

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// The daemon, killed even when the bench panics.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // `cargo test --benches` lists; nothing to run here.
    }
    let n: usize = std::env::var("REKAM_BENCH_IDLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("rekamd.sock");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_rekamd"))
        .args(["--time-scale", "0", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--socket")
        .arg(&socket)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let pid = child.id();
    let _daemon = Daemon(child);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let channel = common::wait_for(&socket).await;
        let mut devices = pb::device_service_client::DeviceServiceClient::new(channel);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (rss0, fds0) = (rss_kb(pid), fds(pid));
        // The idle clients, all at once: each connects, sends nothing, and notes when the
        // daemon closed its connection.
        let t0 = Instant::now();
        let idle: Vec<_> = (0..n)
            .map(|_| {
                tokio::spawn(async move {
                    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
                        .await
                        .unwrap();
                    let connected = t0.elapsed();
                    let mut buf = [0u8; 16];
                    match tokio::time::timeout(Duration::from_secs(70), s.read(&mut buf)).await {
                        Ok(Ok(0) | Err(_)) => return (connected, Some(t0.elapsed())),
                        Ok(Ok(_)) => panic!("the daemon sent bytes to a silent client"),
                        Err(_) => {}
                    }
                    // Still "connected" after 70 s: a client whose last handshake ACK the
                    // kernel dropped because the accept queue was full. The daemon never
                    // had it (its descriptors, sampled below, say so).
                    (connected, None)
                })
            })
            .collect();
        // The daemon's descriptors every 100 ms: the most it held, and when it was back to
        // what it had before.
        let sampler = tokio::spawn(async move {
            let mut most = (0, 0);
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let f = fds(pid);
                if f > most.0 {
                    most = (f, rss_kb(pid));
                }
                if f <= fds0 && t0.elapsed() > Duration::from_secs(2) {
                    return (most, t0.elapsed());
                }
            }
        });
        // A TCP newcomer, behind the idle ones: answered by the daemon's edge
        // (UNAUTHENTICATED without a session) once it gets a slot.
        let newcomer = tokio::spawn(async move {
            let t = Instant::now();
            let ch = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
                .unwrap()
                .connect_timeout(Duration::from_secs(180))
                .timeout(Duration::from_secs(180))
                .connect()
                .await
                .unwrap();
            let status = pb::device_service_client::DeviceServiceClient::new(ch)
                .list_devices(pb::ListDevicesRequest {})
                .await
                .unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated);
            t.elapsed()
        });
        // The socket's callers meanwhile.
        let mut calls = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            devices
                .list_devices(pb::ListDevicesRequest {})
                .await
                .unwrap();
            calls.push(t.elapsed());
        }
        calls.sort();
        let mut connected = Vec::new();
        let mut closed = Vec::new();
        let mut dropped = 0;
        for h in idle {
            let (c, d) = h.await.unwrap();
            connected.push(c);
            match d {
                Some(d) => closed.push(d),
                None => dropped += 1,
            }
        }
        let newcomer = newcomer.await.unwrap();
        let ((fds1, rss1), back) = sampler.await.unwrap();
        let all_connected = connected.iter().max().copied().unwrap_or_default();
        let all_closed = closed.iter().max().copied().unwrap_or_default();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (rss2, fds2) = (rss_kb(pid), fds(pid));
        println!("{n} idle TCP connections, default limits (256 per listener, 10 s handshake):");
        println!(
            "  the last idle client connected after {:.1} s (the daemon holds 256, the kernel's accept queue the next ones)",
            all_connected.as_secs_f64()
        );
        println!(
            "  socket ListDevices meanwhile: p50 {:.2} ms, max {:.2} ms over {}",
            ms(calls[calls.len() / 2]),
            ms(*calls.last().unwrap()),
            calls.len()
        );
        println!("  a TCP newcomer answered after {:.1} s", newcomer.as_secs_f64());
        println!(
            "  {} closed by the daemon, the last after {:.1} s; its descriptors back to {fds0} after {:.1} s",
            closed.len(),
            all_closed.as_secs_f64(),
            back.as_secs_f64()
        );
        println!(
            "  {dropped} left hanging: the kernel's accept queue was full and dropped their handshake's last ACK (the daemon never had them)"
        );
        println!(
            "  rekamd: before {fds0} fds, {rss0} kB; at most {fds1} fds ({rss1} kB); after {fds2} fds, {rss2} kB"
        );
    });
}
