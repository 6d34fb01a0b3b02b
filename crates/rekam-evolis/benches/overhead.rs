//! The time rekam adds to the printer's own, on the Evolis driver: a TCP proxy between
//! the driver and the simulated printer timestamps every byte on the wire.
//!
//! * **submit to wire**: from `CardPrinter::submit` to the first byte of the job on the
//!   wire, and to the print sequence's start (`ESC Ss`, after the image check and the
//!   YMCKO panel derivation of both sides, which is rekam's work);
//! * **status to client**: from the printer's last answer of the job on the wire to the
//!   job's `Done` at a `watch_job` receiver.
//!
//! ```sh
//! cargo bench -p rekam-evolis --bench overhead           # 20 two-sided cards
//! ```
//!
//! The goal is under 50 ms each (the card's rendering, measured by rekam-card's bench,
//! comes before `submit`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use image::{ImageFormat, Rgba, RgbaImage};
use rekam_core::{CardJob, CardPrinter, PrintJobState};
use rekam_evolis::{EvolisConfig, EvolisPrinter, EvolisSim, SimConfig, TcpConnector};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bytes seen on the wire: (when, from the host, the bytes).
type Wire = Arc<Mutex<Vec<(Instant, bool, Vec<u8>)>>>;

/// A card side the size the renderer makes: a colour band, black text, a photo-like block.
fn side(seed: u8) -> Vec<u8> {
    let img = RgbaImage::from_fn(1012, 638, |x, y| {
        if (100..400).contains(&x) && (500..540).contains(&y) {
            Rgba([0, 0, 0, 255])
        } else if y < 80 {
            Rgba([200, 30, seed, 255])
        } else if x > 700 && y > 150 && y < 550 {
            Rgba([(x % 256) as u8, (y % 256) as u8, seed, 255])
        } else {
            Rgba([255, 255, 255, 255])
        }
    });
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .unwrap();
    out
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    host: bool,
    wire: Wire,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        wire.lock()
            .unwrap()
            .push((Instant::now(), host, buf[..n].to_vec()));
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Listens on a free port and forwards each connection to `printer`, logging the bytes.
async fn proxy(printer: std::net::SocketAddr, wire: Wire) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((host, _)) = listener.accept().await {
            let dev = TcpStream::connect(printer).await.unwrap();
            host.set_nodelay(true).unwrap();
            dev.set_nodelay(true).unwrap();
            let (hr, hw) = host.into_split();
            let (dr, dw) = dev.into_split();
            tokio::spawn(pump(hr, dw, true, wire.clone()));
            tokio::spawn(pump(dr, hw, false, wire.clone()));
        }
    });
    port
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(name: &str, mut v: Vec<Duration>) -> Duration {
    v.sort();
    let p50 = v[v.len() / 2];
    let max = *v.last().unwrap();
    println!(
        "{name}: p50 {:.2} ms, max {:.2} ms over {} cards",
        ms(p50),
        ms(max),
        v.len()
    );
    max
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("overhead: run it with `cargo bench -p rekam-evolis --bench overhead`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sim = EvolisSim::start("127.0.0.1:0".parse().unwrap(), SimConfig::default())
            .await
            .unwrap();
        let wire: Wire = Arc::default();
        let port = proxy(sim.local_addr(), wire.clone()).await;
        let printer = EvolisPrinter::connect(
            "printer0",
            Arc::new(TcpConnector::new("127.0.0.1", port, Duration::from_secs(2))),
            EvolisConfig::default(),
        )
        .await
        .unwrap();
        let job = CardJob {
            front_png: side(10),
            back_png: Some(side(200)),
            test_card: false,
            black: None,
        };
        let (mut first, mut start, mut status) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..21 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            wire.lock().unwrap().clear();
            let t0 = Instant::now();
            let id = printer.submit(job.clone()).await.unwrap();
            let mut rx = printer.watch_job(&id).unwrap();
            let done = loop {
                if let PrintJobState::Done = rx.borrow_and_update().state {
                    break Instant::now();
                }
                if let PrintJobState::Failed(f, d) = &rx.borrow().state {
                    panic!("card {i}: {f:?} {d}");
                }
                rx.changed().await.unwrap();
            };
            let log = wire.lock().unwrap().clone();
            let host: Vec<&(Instant, bool, Vec<u8>)> = log.iter().filter(|c| c.1).collect();
            let t_first = host.first().expect("bytes to the printer").0;
            // The chunk in which ESC Ss (sequence start) begins.
            let mut stream = Vec::new();
            let mut ends = Vec::new();
            for c in &host {
                stream.extend_from_slice(&c.2);
                ends.push((stream.len(), c.0));
            }
            let at = stream
                .windows(3)
                .position(|w| w == b"\x1bSs")
                .expect("a print sequence");
            let t_ss = ends.iter().find(|(end, _)| *end > at).unwrap().1;
            let t_answer = log
                .iter()
                .filter(|c| !c.1 && c.0 <= done)
                .map(|c| c.0)
                .max()
                .expect("answers");
            if i == 0 {
                continue; // warm-up
            }
            first.push(t_first - t0);
            start.push(t_ss - t0);
            status.push(done - t_answer);
        }
        println!("evolis driver over TCP to the simulator, two-sided 1012x638 cards:");
        summary("submit -> first byte on the wire", first);
        let a = summary(
            "submit -> print sequence start (ESC Ss, panels derived)",
            start,
        );
        let b = summary(
            "printer's last answer -> Done at the client's watch",
            status,
        );
        println!(
            "goal < 50 ms each: {}",
            if a < Duration::from_millis(50) && b < Duration::from_millis(50) {
                "met"
            } else {
                "NOT met"
            }
        );
    });
}
