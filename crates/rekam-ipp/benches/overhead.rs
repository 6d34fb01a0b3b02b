//! The time rekam adds to an IPP printer's own, against CUPS's ippeveprinter (the tests'
//! printer, started here the same way): a TCP proxy between the driver and the printer
//! timestamps every byte on the wire, and the printer's print command notes when it
//! finished each job.
//!
//! * **submit to wire**: from `CardPrinter::submit` to the first byte of the job's
//!   Print-Job request on the wire;
//! * **status to client**: from the moment the printer reports the job "completed" to the
//!   job's `Done` at a `watch_job` receiver: what rekam adds (the job poll, `poll_ms`, and
//!   the answer's way to the receiver). The printer's "completed" is seen by an independent
//!   watcher that asks the printer directly (not through the proxy) every 2 ms;
//! * for comparison, from the print command's end at the printer to the same `Done`: the
//!   above plus the printer's own step from its command's exit to "completed".
//!
//! ```sh
//! cargo bench -p rekam-ipp --bench overhead        # 10 cards at each poll interval
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rekam_core::{CardJob, CardPrinter, Device, PrintJobState};
use rekam_ipp::{IppClient, IppOptions, IppPrinter, PrinterUri, TlsCheck};
use support::{Printer, free_port};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// When bytes went from the driver to the printer.
type Wire = Arc<Mutex<Vec<Instant>>>;

async fn proxy(printer: u16, wire: Wire) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((host, _)) = listener.accept().await {
            let dev = TcpStream::connect(("127.0.0.1", printer)).await.unwrap();
            let (mut hr, mut hw) = host.into_split();
            let (mut dr, mut dw) = dev.into_split();
            let w = wire.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = hr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    w.lock().unwrap().push(Instant::now());
                    if dw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut dr, &mut hw).await;
            });
        }
    });
    port
}

fn card() -> CardJob {
    let img = image::RgbImage::from_fn(1012, 638, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) / 8 % 256) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    CardJob {
        front_png: out.into_inner(),
        back_png: None,
        test_card: false,
        black: None,
    }
}

/// Asks the printer every 2 ms for the job's state and returns when it first said
/// "completed" (9).
async fn completed_at(printer: u16, job: i32) -> SystemTime {
    let uri = PrinterUri::parse(&format!("ipp://localhost:{printer}/ipp/print")).unwrap();
    let client = IppClient::new(uri, TlsCheck::Verify, Duration::from_secs(5)).unwrap();
    loop {
        if client.job_status(job).await.unwrap().state == 9 {
            return SystemTime::now();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(name: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "  {name}: p50 {:.1} ms, max {:.1} ms over {} cards",
        ms(v[v.len() / 2]),
        ms(*v.last().unwrap()),
        v.len()
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("overhead: run it with `cargo bench -p rekam-ipp --bench overhead`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tmp = tempfile::tempdir().unwrap();
        let printer = Printer::start_in(tmp.path(), free_port());
        let wire: Wire = Arc::default();
        let port = proxy(printer.port, wire.clone()).await;
        let job = card();
        for poll in [200u64, 40] {
            let opts = IppOptions {
                job_poll: Duration::from_millis(poll),
                ..IppOptions::default()
            };
            let uri = format!("ipp://localhost:{port}/ipp/print");
            let p = IppPrinter::open("printer0", &uri, opts).unwrap();
            let mut rx = p.watch_state();
            let _ = rx.wait_for(|s| *s == rekam_core::DeviceState::Ready).await;
            let (mut first, mut status, mut after_command) = (Vec::new(), Vec::new(), Vec::new());
            for i in 0..11 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                wire.lock().unwrap().clear();
                let t0 = Instant::now();
                let id = p.submit(job.clone()).await.unwrap();
                let mut rx = p.watch_job(&id).unwrap();
                // The printer's job id, once the driver's Print-Job was answered.
                let ipp = loop {
                    match p.ipp_job_id(&id) {
                        Some(ipp) => break ipp,
                        None => tokio::time::sleep(Duration::from_millis(1)).await,
                    }
                };
                let watcher = tokio::spawn(completed_at(printer.port, ipp));
                let done = loop {
                    match &rx.borrow_and_update().state {
                        PrintJobState::Done => break SystemTime::now(),
                        PrintJobState::Failed(f, d) => panic!("{f:?} {d}"),
                        _ => {}
                    }
                    rx.changed().await.unwrap();
                };
                let completed = watcher.await.unwrap();
                let at = std::fs::read_to_string(tmp.path().join(format!("done-{ipp}"))).unwrap();
                let printed = UNIX_EPOCH + Duration::from_nanos(at.trim().parse().unwrap());
                let t_first = wire
                    .lock()
                    .unwrap()
                    .iter()
                    .copied()
                    .find(|t| *t >= t0)
                    .expect("bytes to the printer");
                if i == 0 {
                    continue; // warm-up
                }
                first.push(t_first - t0);
                status.push(done.duration_since(completed).unwrap_or_default());
                after_command.push(done.duration_since(printed).unwrap_or_default());
            }
            println!("ippeveprinter through a proxy, 1012x638 cards, poll_ms {poll}:");
            summary("submit -> first byte on the wire", first);
            summary(
                "the printer says completed -> Done at the client's watch",
                status,
            );
            summary(
                "print command done at the printer -> Done at the client's watch",
                after_command,
            );
        }
    });
}
