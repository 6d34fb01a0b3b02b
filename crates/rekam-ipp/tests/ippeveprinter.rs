//! The IPP driver against a real IPP printer: CUPS's `ippeveprinter` (Debian package
//! `cups-ipp-utils`), started by each test on a free port with a temporary spool
//! directory and killed at the end. It needs DNS-SD to start: the tests start dbus and
//! avahi-daemon when they are not running (as root). A printer that cannot start fails
//! the test; nothing is skipped.
//!
//! Each printer runs a print command (`-c`, a shell script written by the test) that does
//! what the file `control` next to it says: print (copy the document), print slowly
//! (`sleep N`), fail with a printer state reason (`state KEYWORD`: writes
//! `STATE: +KEYWORD` on stderr and exits 1, as a CUPS filter reports a media-empty
//! printer), or print and warn (`warn KEYWORD`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rekam_core::{
    CardJob, CardPrinter, CheckOutcome, Device, DeviceError, DeviceState, PrintFailure,
    PrintJobState, PrintJobStatus,
};
use rekam_ipp::{IppOptions, IppPrinter};
use tokio::sync::watch;

mod support;
use support::{Printer, free_port};

fn fast() -> IppOptions {
    IppOptions {
        request_timeout: Duration::from_secs(3),
        monitor: Duration::from_millis(200),
        job_poll: Duration::from_millis(100),
        busy_retry: Duration::from_millis(100),
        ..IppOptions::default()
    }
}

/// A 1012x638 card side (CR-80 at 300 dpi) with a pattern that depends on `seed`.
fn card_png(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(1012, 638, |x, y| {
        image::Rgb([
            (x % 256) as u8,
            (y % 256) as u8,
            seed.wrapping_add((x / 64 + y / 64) as u8),
        ])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn card(seed: u8) -> CardJob {
    CardJob {
        front_png: card_png(seed),
        back_png: None,
        test_card: false,
        black: None,
    }
}

async fn wait_state(
    p: &IppPrinter,
    want: impl Fn(&DeviceState) -> bool,
    what: &str,
) -> DeviceState {
    let mut rx = p.watch_state();
    let r = tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|s| want(s))).await;
    match r {
        Ok(Ok(s)) => s.clone(),
        _ => panic!(
            "the printer did not become {what}: {:?} ({:?})",
            p.state(),
            p.state_reason()
        ),
    }
}

async fn wait_job(
    rx: &mut watch::Receiver<PrintJobStatus>,
    want: impl Fn(&PrintJobState) -> bool,
    secs: u64,
) -> PrintJobStatus {
    let r = tokio::time::timeout(Duration::from_secs(secs), rx.wait_for(|s| want(&s.state)))
        .await
        .map(|r| r.map(|s| s.clone()));
    match r {
        Ok(Ok(s)) => s,
        _ => panic!("the job did not get there: {:?}", rx.borrow().clone()),
    }
}

async fn open(printer: &Printer) -> Arc<IppPrinter> {
    let p = Arc::new(IppPrinter::open("printer0", &printer.uri(), fast()).unwrap());
    wait_state(&p, |s| *s == DeviceState::Ready, "Ready").await;
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_prints_byte_for_byte_and_reaches_done() {
    let tmp = tempfile::tempdir().unwrap();
    let printer = Printer::start_in(tmp.path(), free_port());
    let p = open(&printer).await;

    let report = p.self_test().await;
    assert!(report.passed(), "{report:?}");
    assert!(
        report.checks[0].detail.contains("Example Printer"),
        "{report:?}"
    );
    assert_eq!(report.checks[2].detail, "takes image/png");

    // ippeveprinter's main tray (100 of 250 sheets) and its only consumable (toner, 75 %).
    let sup = p.supplies().await.unwrap();
    assert_eq!(
        (sup.cards_remaining, sup.card_capacity),
        (100, 250),
        "{sup:?}"
    );
    assert_eq!(
        (sup.ribbon_prints_remaining, sup.ribbon_capacity),
        (75, 100),
        "{sup:?}"
    );
    assert!(!sup.cover_open);

    let job = card(1);
    let id = p.submit(job.clone()).await.unwrap();
    assert!(id.starts_with("job-"));
    let mut rx = p.watch_job(&id).unwrap();
    assert_eq!(rx.borrow().sequence, 1);
    let mut seen = vec![rx.borrow().state.clone()];
    let done = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            rx.changed().await.unwrap();
            let s = rx.borrow().clone();
            seen.push(s.state.clone());
            if s.state.is_final() {
                return s;
            }
        }
    })
    .await
    .expect("the job did not end");
    assert_eq!(done.state, PrintJobState::Done, "{seen:?}");
    assert_eq!(seen[0], PrintJobState::Queued);
    assert!(done.sequence >= 2);
    let ipp_id = p.ipp_job_id(&id).unwrap();
    // The spool keeps the document as sent, and the print command got the same bytes.
    assert_eq!(printer.spooled(ipp_id), vec![job.front_png.clone()]);
    let printed = std::fs::read(tmp.path().join(format!("printed-{ipp_id}.png"))).unwrap();
    assert_eq!(printed, job.front_png);
    wait_state(&p, |s| *s == DeviceState::Ready, "Ready after the job").await;

    // ippeveprinter takes one document per job: no two-sided cards.
    assert!(!p.duplex());
    let mut two = card(2);
    two.back_png = Some(card_png(3));
    assert!(matches!(p.submit(two).await, Err(DeviceError::Unsupported(m)) if m.contains("back")));
    // No test card, and images are checked before anything is sent.
    let test = CardJob {
        front_png: vec![],
        back_png: None,
        test_card: true,
        black: None,
    };
    assert!(matches!(
        p.submit(test).await,
        Err(DeviceError::Unsupported(_))
    ));
    let bad = CardJob {
        front_png: b"not a png".to_vec(),
        back_png: None,
        test_card: false,
        black: None,
    };
    assert!(matches!(
        p.submit(bad).await,
        Err(DeviceError::InvalidArgument(_))
    ));
    assert!(matches!(
        p.watch_job("job-nope"),
        Err(DeviceError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_cancelled_in_the_queue_and_at_the_printer() {
    let tmp = tempfile::tempdir().unwrap();
    let printer = Printer::start_in(tmp.path(), free_port());
    let p = open(&printer).await;
    printer.control("sleep 3");

    let a = p.submit(card(1)).await.unwrap();
    let mut rx_a = p.watch_job(&a).unwrap();
    wait_job(&mut rx_a, |s| matches!(s, PrintJobState::Printing(_)), 10).await;
    wait_state(&p, |s| *s == DeviceState::Busy, "Busy").await;

    // B waits in rekam's queue (ippeveprinter prints one job at a time).
    let b = p.submit(card(2)).await.unwrap();
    let st = p.cancel(&b).await.unwrap();
    assert_eq!(st.state, PrintJobState::Cancelled);
    assert_eq!(st.sequence, 2);
    // Cancelling again answers the final status.
    assert_eq!(p.cancel(&b).await.unwrap().state, PrintJobState::Cancelled);

    // A is at the printer: Cancel-Job.
    let ipp_a = p.ipp_job_id(&a).unwrap();
    let st = p.cancel(&a).await.unwrap();
    assert_eq!(st.state, PrintJobState::Cancelled);
    // The printer cancels it once the card in progress is out (ippeveprinter waits for
    // its print command): job-state 7 (canceled).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let js = p.client().job_status(ipp_a).await.unwrap();
        if js.state == 7 {
            break;
        }
        assert!(js.state <= 6, "{js:?}");
        assert!(
            Instant::now() < deadline,
            "not cancelled at the printer: {js:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // B never reached the printer.
    assert_eq!(p.ipp_job_id(&b), None);
    assert!(printer.spooled(ipp_a + 1).is_empty());
    wait_state(&p, |s| *s == DeviceState::Ready, "Ready").await;
    // The status a watcher sees stays Cancelled.
    assert_eq!(
        p.watch_job(&a).unwrap().borrow().state,
        PrintJobState::Cancelled
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printer_state_reasons_become_the_right_failures() {
    let cases = [
        ("media-empty", PrintFailure::NoCards),
        ("media-needed", PrintFailure::NoCards),
        ("marker-supply-empty", PrintFailure::RibbonOut),
        ("toner-empty", PrintFailure::RibbonOut),
        ("media-jam", PrintFailure::Jam),
        ("cover-open", PrintFailure::CoverOpen),
    ];
    for (keyword, failure) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let printer = Printer::start_in(tmp.path(), free_port());
        let p = open(&printer).await;
        printer.control(&format!("state {keyword}"));
        let id = p.submit(card(1)).await.unwrap();
        let mut rx = p.watch_job(&id).unwrap();
        let end = wait_job(&mut rx, PrintJobState::is_final, 15).await;
        let PrintJobState::Failed(f, detail) = &end.state else {
            panic!("{keyword}: {end:?}");
        };
        assert_eq!(*f, failure, "{keyword}: {detail}");
        assert!(
            detail.contains(keyword) && detail.contains("printer0"),
            "{detail}"
        );
        // The device shows it (ippeveprinter keeps the reason, as "-report").
        let state = wait_state(&p, |s| matches!(s, DeviceState::Error(_)), "Error").await;
        let DeviceState::Error(why) = state else {
            unreachable!()
        };
        assert!(why.contains(keyword), "{why}");
        let sup = p.supplies().await.unwrap();
        match failure {
            PrintFailure::NoCards => assert_eq!(sup.cards_remaining, 0, "{sup:?}"),
            PrintFailure::RibbonOut => assert_eq!(sup.ribbon_prints_remaining, 0, "{sup:?}"),
            PrintFailure::CoverOpen => assert!(sup.cover_open, "{sup:?}"),
            _ => {}
        }
        let report = p.self_test().await;
        assert!(!report.passed(), "{keyword}: {report:?}");
        // The next card fails at once, without being sent.
        let next = p.submit(card(2)).await.unwrap();
        let mut rx = p.watch_job(&next).unwrap();
        let end = wait_job(&mut rx, PrintJobState::is_final, 10).await;
        assert!(
            matches!(&end.state, PrintJobState::Failed(f2, _) if *f2 == failure),
            "{end:?}"
        );
        assert_eq!(p.ipp_job_id(&next), None);
    }

    // A low supply is a warning: the card prints.
    let tmp = tempfile::tempdir().unwrap();
    let printer = Printer::start_in(tmp.path(), free_port());
    let p = open(&printer).await;
    printer.control("warn marker-supply-low");
    let id = p.submit(card(1)).await.unwrap();
    let mut rx = p.watch_job(&id).unwrap();
    assert_eq!(
        wait_job(&mut rx, PrintJobState::is_final, 15).await.state,
        PrintJobState::Done
    );
    wait_state(&p, |s| *s == DeviceState::Ready, "Ready").await;
    let report = p.self_test().await;
    assert!(report.passed(), "{report:?}");
    let supplies = report.checks.iter().find(|c| c.name == "supplies").unwrap();
    assert_eq!(supplies.outcome, CheckOutcome::Warn, "{report:?}");
    assert!(supplies.detail.contains("marker-supply-low"), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printer_that_goes_away_disconnects_and_comes_back() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut printer = Printer::start_in(tmp.path(), port);
    let p = open(&printer).await;
    printer.control("sleep 30");
    let id = p.submit(card(1)).await.unwrap();
    let mut rx = p.watch_job(&id).unwrap();
    wait_job(&mut rx, |s| matches!(s, PrintJobState::Printing(_)), 10).await;

    printer.kill();
    let end = wait_job(&mut rx, PrintJobState::is_final, 10).await;
    let PrintJobState::Failed(f, detail) = &end.state else {
        panic!("{end:?}");
    };
    assert_eq!(*f, PrintFailure::Disconnected, "{detail}");
    assert!(detail.contains("power and network cable"), "{detail}");
    wait_state(&p, |s| *s == DeviceState::Disconnected, "Disconnected").await;
    assert!(
        p.state_reason().unwrap().contains("cannot reach"),
        "{:?}",
        p.state_reason()
    );
    assert!(matches!(
        p.supplies().await,
        Err(DeviceError::Disconnected { .. })
    ));
    let report = p.self_test().await;
    assert!(!report.passed());
    assert!(
        report.checks[0].detail.contains("cannot reach"),
        "{report:?}"
    );
    // A card submitted now fails with Disconnected.
    let lost = p.submit(card(2)).await.unwrap();
    let mut rx = p.watch_job(&lost).unwrap();
    let end = wait_job(&mut rx, PrintJobState::is_final, 10).await;
    assert!(
        matches!(
            end.state,
            PrintJobState::Failed(PrintFailure::Disconnected, _)
        ),
        "{end:?}"
    );

    // Back on the same port: Ready, and it prints.
    let printer = Printer::start_in(tmp.path(), port);
    printer.control("ok");
    wait_state(&p, |s| *s == DeviceState::Ready, "Ready again").await;
    assert_eq!(p.state_reason(), None);
    let id = p.submit(card(3)).await.unwrap();
    let mut rx = p.watch_job(&id).unwrap();
    assert_eq!(
        wait_job(&mut rx, PrintJobState::is_final, 15).await.state,
        PrintJobState::Done
    );
}
