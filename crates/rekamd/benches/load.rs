//! 64 concurrent clients for a minute against the real `rekamd` (release, simulated devices
//! at time scale 0, the durable store): 32 watch the camera preview and 32 run whole
//! enrollments (each applicant a NIK of its own) over one station's devices, each client on
//! a connection of its own to the Unix socket. A step that meets another's device or a
//! printer out of cards waits as the error's reason says (DEVICE_BUSY, STEP_IN_PROGRESS,
//! NO_CARDS, RIBBON_OUT: the documented contention) and tries again; any other error is
//! counted and printed. Resident memory is sampled every 10 s; the goal: flat within 10 %
//! from the 10th second to the end, and no error but the documented contention.
//!
//! `cargo bench -p rekamd --bench load` (REKAM_LOAD_SECS=60, REKAM_LOAD_CLIENTS=64)
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rekam_api::pb;
use rekam_api::pb::enrollment_service_client::EnrollmentServiceClient;
use tonic::transport::Channel;
use tonic_types::StatusExt;

mod common;

/// Contention the API documents: wait and try the step again.
const CONTENTION: [&str; 5] = [
    "DEVICE_BUSY",
    "STEP_IN_PROGRESS",
    "NO_CARDS",
    "RIBBON_OUT",
    "STORE_CONFLICT",
];

fn reason(s: &tonic::Status) -> String {
    s.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_else(|| format!("{:?}", s.code()))
}

#[derive(Default)]
struct Tally {
    contention: Mutex<BTreeMap<String, u64>>,
    errors: Mutex<BTreeMap<String, u64>>,
    enrollments: AtomicU64,
    frames: AtomicU64,
}

impl Tally {
    fn count(map: &Mutex<BTreeMap<String, u64>>, key: String) {
        *map.lock().unwrap().entry(key).or_default() += 1;
    }
}

/// Runs `call` until it succeeds, waiting on documented contention; `None` after an error
/// of another kind (counted).
async fn step<T, F, Fut>(tally: &Tally, what: &str, mut call: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    loop {
        match call().await {
            Ok(r) => return Some(r.into_inner()),
            Err(s) => {
                let r = reason(&s);
                if CONTENTION.contains(&r.as_str()) {
                    Tally::count(&tally.contention, format!("{what}: {r}"));
                    let wait = s
                        .get_error_details()
                        .retry_info()
                        .and_then(|i| i.retry_delay)
                        .unwrap_or(Duration::from_millis(50))
                        .min(Duration::from_millis(50));
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Tally::count(&tally.errors, format!("{what}: {r}: {}", s.message()));
                return None;
            }
        }
    }
}

async fn one_enrollment(c: &EnrollmentServiceClient<Channel>, tally: &Tally, n: u64) -> bool {
    let mut a = common::applicant();
    // A NIK of its own: the same region and birth date, serial n.
    a.nik = format!("317101470890{:04}", n % 10_000);
    let Some(e) = step(tally, "create", || {
        let (mut c, a) = (c.clone(), a.clone());
        async move {
            c.create_enrollment(pb::CreateEnrollmentRequest {
                applicant: Some(a),
                ..Default::default()
            })
            .await
        }
    })
    .await
    else {
        return false;
    };
    let id = e.name;
    let s = || pb::StepRequest {
        name: id.clone(),
        ..Default::default()
    };
    macro_rules! plain {
        ($what:literal, $m:ident) => {
            if step(tally, $what, || {
                let (mut c, r) = (c.clone(), s());
                async move { c.$m(r).await }
            })
            .await
            .is_none()
            {
                return false;
            }
        };
    }
    let kk = pb::CheckDocumentsRequest {
        name: id.clone(),
        kk_number_on_document: "3171010101090001".into(),
        ..Default::default()
    };
    if step(tally, "check_documents", || {
        let (mut c, r) = (c.clone(), kk.clone());
        async move { c.check_documents(r).await }
    })
    .await
    .is_none()
    {
        return false;
    }
    plain!("verify_identity", verify_identity);
    plain!("capture_face", capture_face);
    let fp = pb::CaptureFingerprintsStepRequest {
        name: id.clone(),
        ..Default::default()
    };
    if step(tally, "capture_fingerprints", || {
        let (mut c, r) = (c.clone(), fp.clone());
        async move { c.capture_fingerprints(r).await }
    })
    .await
    .is_none()
    {
        return false;
    }
    plain!("capture_signature", capture_signature);
    plain!("finish_recording", finish_recording);
    plain!("send", send);
    plain!("print", print);
    plain!("encode", encode);
    plain!("hand_over", hand_over);
    true
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let secs = env("REKAM_LOAD_SECS", 60).max(20);
    let clients = env("REKAM_LOAD_CLIENTS", 64).max(2);
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("rekamd.sock");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rekamd"))
        .args(["--time-scale", "0"])
        .arg("--socket")
        .arg(&socket)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .env("RUST_LOG", "error")
        .spawn()
        .unwrap();
    let pid = child.id();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let control = common::wait_for(&socket).await;
        let tally = Arc::new(Tally::default());
        let start = Instant::now();
        let end = start + Duration::from_secs(secs);
        let serial = Arc::new(AtomicU64::new(1));
        let mut tasks = Vec::new();
        for i in 0..clients {
            let channel = common::connect_unix(socket.clone()).await.unwrap();
            let tally = Arc::clone(&tally);
            let serial = Arc::clone(&serial);
            tasks.push(tokio::spawn(async move {
                if i % 2 == 0 {
                    let mut cam =
                        pb::camera_service_client::CameraServiceClient::new(channel.clone());
                    while Instant::now() < end {
                        let s = cam
                            .stream_preview(pb::CameraPreviewRequest {
                                name: "devices/camera0".into(),
                                max_frames: 0,
                            })
                            .await;
                        let mut s = match s {
                            Ok(s) => s.into_inner(),
                            Err(e) => {
                                Tally::count(&tally.errors, format!("preview: {}", reason(&e)));
                                tokio::time::sleep(Duration::from_millis(100)).await;
                                continue;
                            }
                        };
                        while Instant::now() < end {
                            match s.next().await {
                                Some(Ok(_)) => {
                                    tally.frames.fetch_add(1, Ordering::Relaxed);
                                }
                                Some(Err(e)) => {
                                    Tally::count(&tally.errors, format!("preview: {}", reason(&e)));
                                    break;
                                }
                                None => break,
                            }
                        }
                    }
                } else {
                    let c =
                        EnrollmentServiceClient::new(channel).max_decoding_message_size(64 << 20);
                    while Instant::now() < end {
                        let n = serial.fetch_add(1, Ordering::Relaxed);
                        if one_enrollment(&c, &tally, n).await {
                            tally.enrollments.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        // The coordinator: refills the printer when it runs low, samples memory.
        println!("| s | VmRSS | enrollments | preview frames |");
        println!("| --- | --- | --- | --- |");
        let mut samples = Vec::new();
        let mut next = start + Duration::from_secs(10);
        while Instant::now() < end {
            common::refill(&control).await;
            if Instant::now() >= next {
                let rss = common::rss_kb(pid);
                samples.push(rss);
                println!(
                    "| {} | {:.1} MB | {} | {} |",
                    start.elapsed().as_secs(),
                    rss as f64 / 1024.0,
                    tally.enrollments.load(Ordering::Relaxed),
                    tally.frames.load(Ordering::Relaxed)
                );
                next += Duration::from_secs(10);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        let last = common::rss_kb(pid);
        let first = samples.first().copied().unwrap_or(last);
        println!(
            "{clients} clients, {secs} s: {} enrollments, {} preview frames; VmRSS 10 s → end: \
             {:.1} MB → {:.1} MB ({:+.1} %, goal within ±10 %)",
            tally.enrollments.load(Ordering::Relaxed),
            tally.frames.load(Ordering::Relaxed),
            first as f64 / 1024.0,
            last as f64 / 1024.0,
            (last as f64 - first as f64) / first as f64 * 100.0
        );
        println!("documented contention (waited, retried):");
        for (k, v) in tally.contention.lock().unwrap().iter() {
            println!("  {k}: {v}");
        }
        let errors = tally.errors.lock().unwrap();
        println!("other errors: {}", errors.values().sum::<u64>());
        for (k, v) in errors.iter() {
            println!("  {k}: {v}");
        }
    });
    let _ = child.kill();
    let _ = child.wait();
}
