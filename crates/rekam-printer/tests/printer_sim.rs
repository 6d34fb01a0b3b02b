//! The simulated card printer: jobs, queueing, supplies, faults and self-test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;
use std::time::Duration;

use image::{ImageFormat, Rgb, RgbImage};
use rekam_core::sim::Timing;
use rekam_core::{
    CardJob, CardPrinter, CheckOutcome, Device, DeviceError, DeviceState, PrintFailure,
    PrintJobState, PrintJobStatus,
};
use rekam_printer::PrinterSim;
use tokio::time::Instant;

fn png(w: u32, h: u32, shade: u8) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| Rgb([shade, (x % 256) as u8, (y % 256) as u8]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

fn front(shade: u8) -> CardJob {
    CardJob {
        front_png: png(1012, 638, shade),
        back_png: None,
        test_card: false,
        black: None,
    }
}

fn small(shade: u8) -> CardJob {
    CardJob {
        front_png: png(320, 202, shade),
        back_png: None,
        test_card: false,
        black: None,
    }
}

fn duplex(shade: u8) -> CardJob {
    CardJob {
        front_png: png(1012, 638, shade),
        back_png: Some(png(1016, 648, shade.wrapping_add(1))),
        test_card: false,
        black: None,
    }
}

fn test_card() -> CardJob {
    CardJob {
        front_png: Vec::new(),
        back_png: None,
        test_card: true,
        black: None,
    }
}

async fn finish(p: &PrinterSim, id: &str) -> PrintJobStatus {
    let mut rx = p.watch_job(id).unwrap();
    rx.wait_for(|s| s.state.is_final()).await.unwrap().clone()
}

fn failure_of(s: &PrintJobStatus) -> (PrintFailure, String) {
    match &s.state {
        PrintJobState::Failed(f, d) => (*f, d.clone()),
        other => panic!("expected a failed job, got {other:?}"),
    }
}

fn sim(p: &PrinterSim) -> &dyn rekam_core::sim::SimulatorControl {
    p.simulator().unwrap()
}

#[tokio::test]
async fn happy_path_prints_queues_in_order_and_counts_supplies() {
    let p = PrinterSim::new("printer0", 7, Timing::INSTANT);
    assert_eq!(p.info().model, "Simulated CR-80 card printer");
    assert_eq!(p.info().driver, "sim");
    let jobs = [front(10), duplex(20), test_card()];
    let mut ids = Vec::new();
    for j in jobs.clone() {
        ids.push(p.submit(j).await.unwrap());
    }
    // Ids never repeat (ULIDs, across restarts too) and increase in submission order.
    assert!(
        ids.iter().all(|i| i.starts_with("job-") && i.len() == 30),
        "{ids:?}"
    );
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let again = PrinterSim::new("printer0", 7, Timing::INSTANT);
    let other = again.submit(test_card()).await.unwrap();
    assert!(
        !ids.contains(&other),
        "a new simulator (a restart) issues new ids"
    );
    for id in &ids {
        let s = finish(&p, id).await;
        assert_eq!(s.state, PrintJobState::Done, "{id}");
        assert_eq!(s.device_id, "printer0");
    }
    let supplies = p.supplies().await.unwrap();
    assert_eq!(supplies.cards_remaining, 97);
    assert_eq!(supplies.card_capacity, 100);
    assert_eq!(supplies.ribbon_prints_remaining, 250 - 4);
    assert_eq!(supplies.ribbon_capacity, 250);
    assert!(!supplies.cover_open);

    let printed = p.printed();
    assert_eq!(printed.len(), 3);
    assert_eq!(printed[0].job_id, ids[0]);
    assert_eq!(printed[0].front_png, jobs[0].front_png);
    assert_eq!(printed[0].back_png, None);
    assert_eq!(printed[1].front_png, jobs[1].front_png);
    assert_eq!(printed[1].back_png, jobs[1].back_png);
    assert!(printed[2].test_card);
    let test = image::load_from_memory(&printed[2].front_png).unwrap();
    assert_eq!((test.width(), test.height()), (1012, 638));
    assert_eq!(p.state(), DeviceState::Ready);
}

#[tokio::test(start_paused = true)]
async fn a_side_takes_twelve_seconds_and_the_printer_is_busy_meanwhile() {
    let p = PrinterSim::new("printer0", 1, Timing::REAL);
    let t0 = Instant::now();
    let id = p.submit(front(1)).await.unwrap();
    let mut rx = p.watch_job(&id).unwrap();
    let mut seen = Vec::new();
    loop {
        let s = rx.borrow_and_update().state.clone();
        if seen.last() != Some(&s) {
            seen.push(s.clone());
        }
        if s.is_final() {
            break;
        }
        if let PrintJobState::Printing(_) = s {
            assert_eq!(p.state(), DeviceState::Busy);
        }
        rx.changed().await.unwrap();
    }
    let single = t0.elapsed();
    assert!(
        (single.as_secs_f64() - 12.0).abs() < 0.1,
        "one side took {single:?}"
    );
    assert_eq!(seen.first(), Some(&PrintJobState::Queued));
    assert_eq!(seen.last(), Some(&PrintJobState::Done));
    let progress: Vec<u32> = seen
        .iter()
        .filter_map(|s| match s {
            PrintJobState::Printing(p) => Some(*p),
            _ => None,
        })
        .collect();
    // Pick, five panels, eject.
    assert_eq!(progress.len(), 7, "{progress:?}");
    assert_eq!(progress[0], 0);
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    assert!(*progress.last().unwrap() < 100);
    assert_eq!(p.state(), DeviceState::Ready);

    let t1 = Instant::now();
    let id = p.submit(duplex(2)).await.unwrap();
    assert_eq!(finish(&p, &id).await.state, PrintJobState::Done);
    let two = t1.elapsed();
    assert!(
        (two.as_secs_f64() - 24.0).abs() < 0.1,
        "two sides took {two:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn concurrent_jobs_print_one_at_a_time_in_order() {
    let p = std::sync::Arc::new(PrinterSim::new("printer0", 1, Timing::REAL));
    let (a, b, c) = tokio::join!(p.submit(front(1)), p.submit(front(2)), p.submit(front(3)));
    let ids = [a.unwrap(), b.unwrap(), c.unwrap()];
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(matches!(
        p.watch_job(&ids[0]).unwrap().borrow().state,
        PrintJobState::Printing(_)
    ));
    assert_eq!(
        p.watch_job(&ids[1]).unwrap().borrow().state,
        PrintJobState::Queued
    );
    assert_eq!(
        p.watch_job(&ids[2]).unwrap().borrow().state,
        PrintJobState::Queued
    );

    let mut watchers = Vec::new();
    for id in &ids {
        let p = p.clone();
        let id = id.clone();
        watchers.push(tokio::spawn(async move {
            let s = finish(&p, &id).await;
            (s, Instant::now())
        }));
    }
    let mut ends = Vec::new();
    for w in watchers {
        let (s, at) = w.await.unwrap();
        assert_eq!(s.state, PrintJobState::Done);
        ends.push(at);
    }
    assert!(ends[0] < ends[1] && ends[1] < ends[2]);
    // Each job waited for the one before it.
    assert!(ends[2] - ends[1] >= Duration::from_millis(11_900));
    let order: Vec<String> = p.printed().into_iter().map(|c| c.job_id).collect();
    assert_eq!(order, ids);
}

#[tokio::test(start_paused = true)]
async fn cancel_queued_printing_and_finished_jobs() {
    let p = PrinterSim::new("printer0", 1, Timing::REAL);
    let first = p.submit(front(1)).await.unwrap();
    let second = p.submit(front(2)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;

    // Queued → Cancelled, never printed.
    let s = p.cancel(&second).await.unwrap();
    assert_eq!(s.state, PrintJobState::Cancelled);
    assert_eq!(s.job_id, second);

    // Printing → Cancelled at once; the picked card and the ribbon print are spent.
    assert!(matches!(
        p.watch_job(&first).unwrap().borrow().state,
        PrintJobState::Printing(_)
    ));
    let t = Instant::now();
    assert_eq!(
        p.cancel(&first).await.unwrap().state,
        PrintJobState::Cancelled
    );
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(t.elapsed() < Duration::from_millis(100));
    assert_eq!(p.state(), DeviceState::Ready);
    assert_eq!(finish(&p, &first).await.state, PrintJobState::Cancelled);
    let supplies = p.supplies().await.unwrap();
    assert_eq!(supplies.cards_remaining, 99);
    assert_eq!(supplies.ribbon_prints_remaining, 249);
    assert!(p.printed().is_empty());

    // Finished → unchanged.
    let third = p.submit(front(3)).await.unwrap();
    assert_eq!(finish(&p, &third).await.state, PrintJobState::Done);
    assert_eq!(p.cancel(&third).await.unwrap().state, PrintJobState::Done);
    assert_eq!(
        p.cancel(&second).await.unwrap().state,
        PrintJobState::Cancelled
    );

    assert!(matches!(
        p.cancel("job-99").await,
        Err(DeviceError::NotFound(_))
    ));
    assert!(matches!(
        p.watch_job("job-99"),
        Err(DeviceError::NotFound(_))
    ));
}

#[tokio::test]
async fn invalid_images_are_refused_at_submit() {
    let p = PrinterSim::new("printer0", 1, Timing::INSTANT);
    let good = png(1012, 638, 0);
    let mut truncated = good.clone();
    truncated.truncate(good.len() / 2);
    let mut corrupt = good.clone();
    let mid = corrupt.len() / 2;
    for b in &mut corrupt[mid..mid + 64] {
        *b ^= 0x5A;
    }
    let jpeg = {
        let img = RgbImage::new(1012, 638);
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Jpeg).unwrap();
        out.into_inner()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "empty"),
        ("jpeg", jpeg, "not a PNG"),
        ("square", png(800, 800, 0), "800x800"),
        ("portrait", png(638, 1012, 0), "638x1012"),
        ("tiny", png(160, 101, 0), "160x101"),
        ("truncated", truncated, "PNG"),
        ("corrupt", corrupt, "PNG"),
    ];
    for (name, bytes, needle) in cases {
        let job = CardJob {
            front_png: bytes.clone(),
            back_png: None,
            test_card: false,
            black: None,
        };
        match p.submit(job).await {
            Err(DeviceError::InvalidArgument(m)) => {
                assert!(m.contains("front"), "{name}: {m}");
                assert!(m.contains(needle), "{name}: {m}");
            }
            other => panic!("{name}: expected InvalidArgument, got {other:?}"),
        }
        let job = CardJob {
            front_png: good.clone(),
            back_png: Some(bytes),
            test_card: false,
            black: None,
        };
        match p.submit(job).await {
            Err(DeviceError::InvalidArgument(m)) => assert!(m.contains("back"), "{name}: {m}"),
            other => panic!("{name} back: expected InvalidArgument, got {other:?}"),
        }
    }
    // Nothing was queued; sizes with the card's aspect ratio are fine.
    assert!(matches!(
        p.watch_job("job-1"),
        Err(DeviceError::NotFound(_))
    ));
    for (w, h) in [(1012, 638), (1016, 648), (2024, 1276), (600, 380)] {
        let id = p
            .submit(CardJob {
                front_png: png(w, h, 0),
                back_png: None,
                test_card: false,
                black: None,
            })
            .await
            .unwrap_or_else(|e| panic!("{w}x{h}: {e}"));
        assert_eq!(finish(&p, &id).await.state, PrintJobState::Done);
    }
}

#[tokio::test]
async fn supply_faults_fail_queued_jobs_and_clearing_refills() {
    let p = PrinterSim::new("printer0", 1, Timing::INSTANT);
    sim(&p).inject("no_cards").unwrap();
    assert_eq!(p.supplies().await.unwrap().cards_remaining, 0);
    let id = p.submit(front(1)).await.unwrap();
    let s = finish(&p, &id).await;
    let (f, detail) = failure_of(&s);
    assert_eq!(f, PrintFailure::NoCards);
    assert!(
        detail.contains("load blank cards into the input hopper"),
        "{detail}"
    );
    assert_eq!(p.state(), DeviceState::Ready);
    let st = p.self_test().await;
    let hopper = st.checks.iter().find(|c| c.name == "hopper").unwrap();
    assert_eq!(hopper.outcome, CheckOutcome::Fail);
    assert!(hopper.detail.contains("0/100"), "{}", hopper.detail);
    assert!(!st.passed());

    sim(&p).clear();
    assert_eq!(p.supplies().await.unwrap().cards_remaining, 100);
    assert!(sim(&p).active_faults().is_empty());

    sim(&p).inject("ribbon_out").unwrap();
    assert_eq!(p.supplies().await.unwrap().ribbon_prints_remaining, 0);
    let id = p.submit(front(1)).await.unwrap();
    let (f, detail) = failure_of(&finish(&p, &id).await);
    assert_eq!(f, PrintFailure::RibbonOut);
    assert!(detail.contains("ribbon"), "{detail}");
    // A job that fails before its card is picked spends nothing.
    assert_eq!(p.supplies().await.unwrap().cards_remaining, 100);
    sim(&p).clear();
    assert_eq!(p.supplies().await.unwrap().ribbon_prints_remaining, 250);

    let id = p.submit(front(1)).await.unwrap();
    assert_eq!(finish(&p, &id).await.state, PrintJobState::Done);
}

#[tokio::test]
async fn state_faults_fail_queued_jobs_with_a_remedy() {
    let cases = [
        (
            "cover_open",
            PrintFailure::CoverOpen,
            "close",
            DeviceState::Error("cover open".into()),
        ),
        (
            "disconnect",
            PrintFailure::Disconnected,
            "cable",
            DeviceState::Disconnected,
        ),
        (
            "hardware_error",
            PrintFailure::Other,
            "switch it off and on",
            DeviceState::Error("internal error reported by the device (simulated)".into()),
        ),
    ];
    for (fault, failure, hint, state) in cases {
        let p = PrinterSim::new("printer0", 1, Timing::INSTANT);
        sim(&p).inject(fault).unwrap();
        assert_eq!(p.state(), state, "{fault}");
        let a = p.submit(front(1)).await.unwrap();
        let b = p.submit(duplex(2)).await.unwrap();
        for id in [&a, &b] {
            let (f, detail) = failure_of(&finish(&p, id).await);
            assert_eq!(f, failure, "{fault}");
            assert!(detail.contains(hint), "{fault}: {detail}");
        }
        assert_eq!(p.state(), state, "{fault}");
        let report = p.self_test().await;
        assert!(!report.passed(), "{fault}");
        if fault == "disconnect" {
            assert!(matches!(
                p.supplies().await,
                Err(DeviceError::Disconnected { .. })
            ));
        } else {
            let s = p.supplies().await.unwrap();
            assert_eq!(s.cards_remaining, 100);
            assert_eq!(s.cover_open, fault == "cover_open");
        }
        sim(&p).clear();
        assert_eq!(p.state(), DeviceState::Ready, "{fault}");
        assert!(p.self_test().await.passed(), "{fault}");
        let id = p.submit(front(3)).await.unwrap();
        assert_eq!(finish(&p, &id).await.state, PrintJobState::Done, "{fault}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_jam_mid_print_fails_the_job_and_holds_the_printer_until_cleared() {
    let p = PrinterSim::new("printer0", 1, Timing::REAL);
    let id = p.submit(duplex(1)).await.unwrap();
    let next = p.submit(front(2)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let before = match p.watch_job(&id).unwrap().borrow().state {
        PrintJobState::Printing(pr) => pr,
        ref s => panic!("expected printing, got {s:?}"),
    };
    assert!(before > 0);
    sim(&p).inject("jam").unwrap();
    let t = Instant::now();
    let (f, detail) = failure_of(&finish(&p, &id).await);
    assert!(
        t.elapsed() < Duration::from_millis(10),
        "the jam waited for the step"
    );
    assert_eq!(f, PrintFailure::Jam);
    assert!(detail.contains("remove the jammed card"), "{detail}");
    // The queued job reaches a jammed printer and fails without taking a card.
    let (f, _) = failure_of(&finish(&p, &next).await);
    assert_eq!(f, PrintFailure::Jam);
    assert_eq!(p.state(), DeviceState::Error("card jam".into()));
    let s = p.supplies().await.unwrap();
    assert_eq!(s.cards_remaining, 99);
    assert_eq!(
        s.ribbon_prints_remaining, 249,
        "the back side never started"
    );
    let path = p.self_test().await;
    let check = path.checks.iter().find(|c| c.name == "card path").unwrap();
    assert_eq!(check.outcome, CheckOutcome::Fail);

    sim(&p).clear();
    assert_eq!(p.state(), DeviceState::Ready);
    let id = p.submit(front(3)).await.unwrap();
    assert_eq!(finish(&p, &id).await.state, PrintJobState::Done);
}

#[tokio::test]
async fn a_jam_armed_while_idle_strikes_after_the_card_is_picked() {
    let p = PrinterSim::new("printer0", 1, Timing::INSTANT);
    sim(&p).inject("jam").unwrap();
    assert_eq!(p.state(), DeviceState::Ready);
    let id = p.submit(front(1)).await.unwrap();
    let mut rx = p.watch_job(&id).unwrap();
    let mut printed_some = false;
    loop {
        let s = rx.borrow_and_update().state.clone();
        printed_some |= matches!(s, PrintJobState::Printing(_));
        if s.is_final() {
            assert!(matches!(s, PrintJobState::Failed(PrintFailure::Jam, _)));
            break;
        }
        rx.changed().await.unwrap();
    }
    assert!(printed_some);
    assert_eq!(p.state(), DeviceState::Error("card jam".into()));
    assert_eq!(p.supplies().await.unwrap().cards_remaining, 99);
}

#[tokio::test(start_paused = true)]
async fn a_disconnect_fails_the_running_job() {
    let p = PrinterSim::new("printer0", 1, Timing::REAL);
    let id = p.submit(front(1)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(p.state(), DeviceState::Busy);
    sim(&p).inject("disconnect").unwrap();
    let (f, _) = failure_of(&finish(&p, &id).await);
    assert_eq!(f, PrintFailure::Disconnected);
    assert_eq!(p.state(), DeviceState::Disconnected);
    sim(&p).clear();
    assert_eq!(p.state(), DeviceState::Ready);
}

#[tokio::test(start_paused = true)]
async fn opening_the_cover_stops_the_running_job() {
    let p = PrinterSim::new("printer0", 1, Timing::REAL);
    let id = p.submit(front(1)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    sim(&p).inject("cover_open").unwrap();
    let (f, _) = failure_of(&finish(&p, &id).await);
    assert_eq!(f, PrintFailure::CoverOpen);
    assert!(p.supplies().await.unwrap().cover_open);
}

#[tokio::test]
async fn the_hopper_and_the_ribbon_run_out_naturally() {
    let p = PrinterSim::new("printer0", 1, Timing::INSTANT);
    let mut last = String::new();
    for i in 0..91 {
        last = p.submit(small(i as u8)).await.unwrap();
    }
    assert_eq!(finish(&p, &last).await.state, PrintJobState::Done);
    let st = p.self_test().await;
    let hopper = st.checks.iter().find(|c| c.name == "hopper").unwrap();
    assert_eq!(hopper.outcome, CheckOutcome::Warn);
    assert!(hopper.detail.contains("9/100"), "{}", hopper.detail);
    for i in 0..9 {
        last = p.submit(small(i as u8)).await.unwrap();
    }
    assert_eq!(finish(&p, &last).await.state, PrintJobState::Done);
    let id = p.submit(small(0)).await.unwrap();
    let (f, detail) = failure_of(&finish(&p, &id).await);
    assert_eq!(f, PrintFailure::NoCards);
    assert!(detail.contains("load blank cards into the input hopper"));
    // Clearing faults refills nothing when no fault was injected.
    sim(&p).clear();
    assert_eq!(p.supplies().await.unwrap().cards_remaining, 0);
    assert_eq!(p.load_cards(500), 100);

    // 150 prints left: 74 two-sided cards leave 2, under 10 % of the ribbon.
    let two_sided = CardJob {
        front_png: png(320, 202, 1),
        back_png: Some(png(320, 202, 2)),
        test_card: false,
        black: None,
    };
    assert_eq!(p.supplies().await.unwrap().ribbon_prints_remaining, 150);
    for _ in 0..74 {
        last = p.submit(two_sided.clone()).await.unwrap();
    }
    assert_eq!(finish(&p, &last).await.state, PrintJobState::Done);
    let st = p.self_test().await;
    let ribbon = st.checks.iter().find(|c| c.name == "ribbon").unwrap();
    assert_eq!(ribbon.outcome, CheckOutcome::Warn);
    assert!(ribbon.detail.contains("2/250"), "{}", ribbon.detail);
    // One print left is not enough for two sides.
    let one = p.submit(small(1)).await.unwrap();
    assert_eq!(finish(&p, &one).await.state, PrintJobState::Done);
    let id = p.submit(two_sided).await.unwrap();
    let (f, _) = failure_of(&finish(&p, &id).await);
    assert_eq!(f, PrintFailure::RibbonOut);
    let id = p.submit(small(1)).await.unwrap();
    assert_eq!(finish(&p, &id).await.state, PrintJobState::Done);
    let s = p.supplies().await.unwrap();
    assert_eq!(s.ribbon_prints_remaining, 0);
    assert_eq!(s.cards_remaining, 100 - 76);
    let id = p.submit(small(1)).await.unwrap();
    let (f, _) = failure_of(&finish(&p, &id).await);
    assert_eq!(f, PrintFailure::RibbonOut);
    p.replace_ribbon();
    let id = p.submit(small(1)).await.unwrap();
    assert_eq!(finish(&p, &id).await.state, PrintJobState::Done);
    assert_eq!(p.printed().len(), 8);
}

#[tokio::test]
async fn self_test_and_fault_catalogue() {
    let p = PrinterSim::new("printer0", 1, Timing::INSTANT);
    let report = p.self_test().await;
    assert_eq!(report.device_id, "printer0");
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["hopper", "ribbon", "cover", "head", "card path"]);
    assert!(
        report
            .checks
            .iter()
            .all(|c| c.outcome == CheckOutcome::Pass)
    );
    assert!(report.checks[0].detail.contains("100/100"));
    assert!(report.checks[1].detail.contains("250/250"));

    let faults: Vec<&str> = sim(&p).faults().iter().map(|f| f.name).collect();
    for f in [
        "no_cards",
        "ribbon_out",
        "jam",
        "cover_open",
        "disconnect",
        "hardware_error",
    ] {
        assert!(faults.contains(&f), "{f}");
    }
    assert!(matches!(
        sim(&p).inject("paper_out"),
        Err(DeviceError::InvalidArgument(_))
    ));
    sim(&p).inject("hardware_error").unwrap();
    let head = p.self_test().await;
    assert_eq!(head.checks[3].outcome, CheckOutcome::Fail);
    assert_eq!(sim(&p).active_faults(), ["hardware_error"]);
    // Serials follow the seed.
    assert_eq!(
        PrinterSim::new("a", 5, Timing::INSTANT).info().serial,
        PrinterSim::new("b", 5, Timing::INSTANT).info().serial
    );
    assert_ne!(
        PrinterSim::new("a", 5, Timing::INSTANT).info().serial,
        PrinterSim::new("a", 6, Timing::INSTANT).info().serial
    );
}

#[test]
fn the_queue_survives_the_runtime_that_ran_it() {
    let p = PrinterSim::new("printer0", 1, Timing::REAL);
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let lost = first.block_on(async {
        let id = p.submit(front(1)).await.unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(p.state(), DeviceState::Busy);
        id
    });
    drop(first);
    let second = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    second.block_on(async {
        let id = p.submit(front(2)).await.unwrap();
        let (f, _) = failure_of(&finish(&p, &lost).await);
        assert_eq!(f, PrintFailure::Other);
        assert_eq!(finish(&p, &id).await.state, PrintJobState::Done);
        assert_eq!(p.state(), DeviceState::Ready);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_submitters_on_a_threaded_runtime() {
    let p = std::sync::Arc::new(PrinterSim::new("printer0", 1, Timing::INSTANT));
    let mut tasks = Vec::new();
    for i in 0..6u8 {
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let id = p.submit(small(i)).await.unwrap();
            (id.clone(), finish(&p, &id).await)
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        let (id, s) = t.await.unwrap();
        assert_eq!(s.state, PrintJobState::Done);
        ids.push(id);
    }
    // ULIDs sort in submission order.
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6);
    let printed: Vec<String> = p.printed().into_iter().map(|c| c.job_id).collect();
    assert_eq!(printed, ids[ids.len() - printed.len()..]);
    assert_eq!(p.supplies().await.unwrap().cards_remaining, 94);
    assert_eq!(p.state(), DeviceState::Ready);
}
