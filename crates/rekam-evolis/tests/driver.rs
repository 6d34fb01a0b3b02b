//! The driver against the simulator over real TCP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use image::{ImageFormat, Rgba, RgbaImage};
use rekam_core::{
    AnyDevice, CardJob, CardPrinter, CheckOutcome, Device, DeviceClass, DeviceError, DeviceState,
    DriverFactory, OpenOptions, PrintFailure, PrintJobState, Selector,
};
use rekam_evolis::panels::SidePanels;
use rekam_evolis::sim::{CardLocation, SimSide};
use rekam_evolis::{
    EVOLIS_PRINTER_DRIVER, EvolisConfig, EvolisPrinter, EvolisSim, SimConfig, SimFault,
    TcpConnector,
};

fn png(img: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .unwrap();
    out
}

/// A card side: a colour band, black "text" and a photo-like gradient.
fn side(seed: u8) -> Vec<u8> {
    let img = RgbaImage::from_fn(1016, 648, |x, y| {
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
    png(&img)
}

fn job(two_sided: bool) -> CardJob {
    CardJob {
        front_png: side(10),
        back_png: two_sided.then(|| side(200)),
        test_card: false,
        black: None,
    }
}

fn expected(png: &[u8]) -> SimSide {
    SidePanels::from_png("test", png)
        .unwrap()
        .panels()
        .iter()
        .map(|(p, l, d)| (*p, (*l, d.clone())))
        .collect()
}

fn fast() -> EvolisConfig {
    EvolisConfig {
        connect_timeout: Duration::from_secs(2),
        query_timeout: Duration::from_secs(2),
        download_timeout: Duration::from_secs(10),
        motion_timeout: Duration::from_secs(5),
        print_timeout: Duration::from_secs(10),
        ..EvolisConfig::default()
    }
}

async fn setup(config: SimConfig) -> (EvolisSim, EvolisPrinter) {
    setup_with(config, fast()).await
}

async fn setup_with(config: SimConfig, driver: EvolisConfig) -> (EvolisSim, EvolisPrinter) {
    let sim = EvolisSim::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let addr = sim.local_addr();
    let connector = Arc::new(TcpConnector::new(
        addr.ip().to_string(),
        addr.port(),
        Duration::from_secs(2),
    ));
    let printer = EvolisPrinter::connect("printer0", connector, driver)
        .await
        .unwrap();
    (sim, printer)
}

async fn finish(printer: &EvolisPrinter, id: &str) -> PrintJobState {
    let mut rx = printer.watch_job(id).unwrap();
    let wait = async {
        loop {
            let s = rx.borrow_and_update().state.clone();
            if s.is_final() {
                return s;
            }
            rx.changed().await.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .expect("the job did not finish")
}

fn printer_failure(e: &DeviceError) -> PrintFailure {
    match e {
        DeviceError::Printer { failure, .. } => *failure,
        other => panic!("not a printer error: {other:?}"),
    }
}

#[tokio::test]
async fn identifies_itself_from_the_printers_answers() {
    let (_sim, printer) = setup(SimConfig::default()).await;
    let info = printer.info();
    assert_eq!(info.class, DeviceClass::CardPrinter);
    assert_eq!(info.model, "Evolis Primacy Duplex (rekam simulator)");
    assert_eq!(info.firmware, "rekam-sim 1.0");
    assert!(info.serial.starts_with("SIM"));
    assert_eq!(info.driver, "evolis");
    assert!(info.simulated);
    assert!(printer.inline_encoder());
    assert!(printer.duplex());
    assert_eq!(printer.ribbon_type().as_deref(), Some("YMCKO"));

    let (_sim, simplex) = setup(SimConfig {
        duplex: false,
        ribbon_type: "kb".into(),
        ..SimConfig::default()
    })
    .await;
    assert!(!simplex.duplex());
    assert_eq!(simplex.ribbon_type().as_deref(), Some("KB"));
    let e = simplex.submit(job(true)).await.unwrap_err();
    assert!(matches!(e, DeviceError::Unsupported(_)), "{e:?}");
}

#[tokio::test]
async fn a_whole_card_goes_to_the_encoder_then_is_printed_and_ejected() {
    let (sim, printer) = setup(SimConfig {
        cards: 5,
        ..SimConfig::default()
    })
    .await;
    let card = printer.load_card_to_encoder().await.unwrap();
    assert_eq!(sim.card_location(), Some(CardLocation::EncoderStation));
    assert_eq!(sim.cards(), 4);
    assert!(printer.card_at_encoder());
    assert_eq!(printer.state(), DeviceState::Busy);

    // A second load while the card waits is refused, and nothing moves.
    let e = printer.load_card_to_encoder().await.unwrap_err();
    assert!(matches!(e, DeviceError::Busy(_)), "{e:?}");
    assert_eq!(sim.cards(), 4);

    // (The chip is encoded here.) Then print both sides and eject.
    let j = job(true);
    printer.print_and_eject(card, &j).await.unwrap();
    assert!(!printer.card_at_encoder());
    assert_eq!(printer.state(), DeviceState::Ready);
    assert_eq!(sim.card_location(), None);
    let out = sim.output_tray();
    assert_eq!(out.len(), 1);
    assert!(out[0].was_at_encoder);
    assert_eq!(out[0].front, expected(&j.front_png));
    assert_eq!(
        out[0].back.as_ref(),
        Some(&expected(j.back_png.as_ref().unwrap()))
    );
    assert_eq!(sim.ribbon(), 198, "one YMCKO set per side");
    assert!(sim.reject_tray().is_empty());
    assert_eq!(sim.cards(), 4, "the printed card is the encoded one");
    let cmds = sim.commands();
    let tail: Vec<&str> = cmds
        .iter()
        .rev()
        .take(15)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "Pmi;B", "Ss", "Sr", "Db;y;32", "Db;m;32", "Db;c;32", "Db;k;2", "Db;o;2", "Sv",
            "Db;y;32", "Db;m;32", "Db;c;32", "Db;k;2", "Db;o;2", "Se"
        ]
    );
}

#[tokio::test]
async fn a_card_whose_chip_failed_is_rejected_blank() {
    let (sim, printer) = setup(SimConfig::default()).await;
    let card = printer.load_card_to_encoder().await.unwrap();
    printer.reject(card).await.unwrap();
    assert_eq!(sim.output_tray().len(), 0);
    let rejected = sim.reject_tray();
    assert_eq!(rejected.len(), 1);
    assert!(rejected[0].was_at_encoder);
    assert!(rejected[0].front.is_empty());
    assert_eq!(sim.card_location(), None);
    assert_eq!(printer.state(), DeviceState::Ready);
    // The station is free again.
    let again = printer.load_card_to_encoder().await.unwrap();
    printer.reject(again).await.unwrap();
    assert_eq!(sim.reject_tray().len(), 2);
}

#[tokio::test]
async fn a_dropped_card_handle_is_rejected_and_a_job_waits_for_the_station() {
    let (sim, printer) = setup(SimConfig::default()).await;
    let card = printer.load_card_to_encoder().await.unwrap();
    // A print job waits while the card is at the station: it must not print on it.
    let id = printer.submit(job(false)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        printer.watch_job(&id).unwrap().borrow().state,
        PrintJobState::Queued
    );
    drop(card);
    assert_eq!(finish(&printer, &id).await, PrintJobState::Done);
    assert_eq!(
        sim.reject_tray().len(),
        1,
        "the abandoned card was rejected"
    );
    let out = sim.output_tray();
    assert_eq!(out.len(), 1);
    assert!(!out[0].was_at_encoder, "the job took a new card");
}

#[tokio::test]
async fn print_jobs_run_through_the_card_printer_trait() {
    let (sim, printer) = setup(SimConfig::default()).await;
    let j = job(false);
    let id = printer.submit(j.clone()).await.unwrap();
    assert_eq!(finish(&printer, &id).await, PrintJobState::Done);
    let status = printer.watch_job(&id).unwrap().borrow().clone();
    assert!(status.sequence > 2);
    let out = sim.output_tray();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].front, expected(&j.front_png));
    assert_eq!(out[0].back, None);

    let test = printer
        .submit(CardJob {
            front_png: vec![],
            back_png: None,
            test_card: true,
            black: None,
        })
        .await
        .unwrap();
    assert_eq!(finish(&printer, &test).await, PrintJobState::Done);
    assert!(sim.output_tray()[1].test_card);

    let bad = printer
        .submit(CardJob {
            front_png: b"not a png".to_vec(),
            back_png: None,
            test_card: false,
            black: None,
        })
        .await;
    assert!(matches!(bad, Err(DeviceError::InvalidArgument(_))));
    assert!(matches!(
        printer.watch_job("job-nope"),
        Err(DeviceError::NotFound(_))
    ));

    let s = printer.supplies().await.unwrap();
    assert_eq!(s.ribbon_prints_remaining, 198);
    assert_eq!(s.cards_remaining, 100, "the feeder is not empty");
    assert!(!s.cover_open);
    let report = printer.self_test().await;
    assert!(report.passed(), "{report:?}");
}

#[tokio::test]
async fn an_empty_feeder_is_no_cards() {
    let (sim, printer) = setup(SimConfig::default()).await;
    sim.inject(SimFault::EmptyHopper);
    let e = printer.load_card_to_encoder().await.unwrap_err();
    assert_eq!(printer_failure(&e), PrintFailure::NoCards);
    assert_eq!(e.reason(), "NO_CARDS");
    assert!(e.to_string().contains("load blank KTP-el cards"), "{e}");
    assert!(!printer.card_at_encoder());

    let id = printer.submit(job(false)).await.unwrap();
    let PrintJobState::Failed(f, detail) = finish(&printer, &id).await else {
        panic!("not failed");
    };
    assert_eq!(f, PrintFailure::NoCards);
    assert!(detail.contains("feeder is empty"), "{detail}");
    let s = printer.supplies().await.unwrap();
    assert_eq!(s.cards_remaining, 0);
    let report = printer.self_test().await;
    assert!(!report.passed());
    assert!(
        report
            .checks
            .iter()
            .any(|c| c.name == "feeder" && c.outcome == CheckOutcome::Fail)
    );

    sim.clear(SimFault::EmptyHopper);
    let card = printer.load_card_to_encoder().await.unwrap();
    printer.reject(card).await.unwrap();
}

#[tokio::test]
async fn ribbon_out_gives_the_encoded_card_back_for_a_retry() {
    let (sim, printer) = setup(SimConfig::default()).await;
    let card = printer.load_card_to_encoder().await.unwrap();
    sim.inject(SimFault::RibbonOut);
    let j = job(false);
    let e = printer.print_and_eject(card, &j).await.unwrap_err();
    assert_eq!(printer_failure(&e.error), PrintFailure::RibbonOut);
    assert_eq!(e.error.reason(), "RIBBON_OUT");
    let card = e
        .card
        .expect("the card did not move: its handle comes back");
    assert_eq!(sim.card_location(), Some(CardLocation::EncoderStation));
    assert!(printer.card_at_encoder());
    assert_eq!(printer.supplies().await.unwrap().ribbon_prints_remaining, 0);

    // A new ribbon, and the same encoded card is printed.
    sim.clear(SimFault::RibbonOut);
    printer.print_and_eject(card, &j).await.unwrap();
    let out = sim.output_tray();
    assert_eq!(out.len(), 1);
    assert!(out[0].was_at_encoder);
    assert_eq!(sim.cards(), 99);

    // A job with the ribbon out fails with the printer's answer, never success.
    sim.inject(SimFault::RibbonOut);
    let id = printer.submit(job(false)).await.unwrap();
    let PrintJobState::Failed(f, detail) = finish(&printer, &id).await else {
        panic!("not failed");
    };
    assert_eq!(f, PrintFailure::RibbonOut);
    assert!(detail.contains("ERR RIBBON END"), "{detail}");
    assert_eq!(sim.output_tray().len(), 1);
}

#[tokio::test]
async fn an_open_cover_is_cover_open() {
    let (sim, printer) = setup(SimConfig::default()).await;
    sim.inject(SimFault::CoverOpen);
    let e = printer.load_card_to_encoder().await.unwrap_err();
    assert_eq!(printer_failure(&e), PrintFailure::CoverOpen);
    assert_eq!(printer.state(), DeviceState::Error("cover open".into()));
    let s = printer.supplies().await.unwrap();
    assert!(s.cover_open);
    let id = printer.submit(job(false)).await.unwrap();
    assert!(matches!(
        finish(&printer, &id).await,
        PrintJobState::Failed(PrintFailure::CoverOpen, _)
    ));
    sim.clear(SimFault::CoverOpen);
    assert!(!printer.supplies().await.unwrap().cover_open);
    assert_eq!(printer.state(), DeviceState::Ready);
}

#[tokio::test]
async fn a_jam_is_a_jam_and_the_card_is_left_to_the_officer() {
    let (sim, printer) = setup(SimConfig::default()).await;
    let card = printer.load_card_to_encoder().await.unwrap();
    sim.inject(SimFault::Jam);
    let e = printer
        .print_and_eject(card, &job(false))
        .await
        .unwrap_err();
    assert_eq!(printer_failure(&e.error), PrintFailure::Jam);
    assert_eq!(e.error.reason(), "CARD_JAM");
    assert!(e.card.is_none(), "a jammed card's place is unknown");
    assert!(e.error.to_string().contains("spoiled"), "{}", e.error);
    assert_eq!(printer.state(), DeviceState::Error("card jam".into()));
    assert_eq!(sim.card_location(), Some(CardLocation::Jammed));
    assert!(!printer.card_at_encoder());

    let id = printer.submit(job(false)).await.unwrap();
    assert!(matches!(
        finish(&printer, &id).await,
        PrintJobState::Failed(PrintFailure::Jam, _)
    ));
    // The officer clears the jam; the next job prints.
    sim.clear(SimFault::Jam);
    let id = printer.submit(job(false)).await.unwrap();
    assert_eq!(finish(&printer, &id).await, PrintJobState::Done);
    assert_eq!(printer.state(), DeviceState::Ready);
}

#[tokio::test]
async fn a_card_left_inside_is_rejected_before_the_next_card() {
    let (sim, printer) = setup(SimConfig::default()).await;
    // Another client (or a crash) left a card at the station.
    let other = EvolisPrinter::connect(
        "printer1",
        Arc::new(TcpConnector::new(
            "127.0.0.1",
            sim.local_addr().port(),
            Duration::from_secs(2),
        )),
        fast(),
    )
    .await
    .unwrap();
    let stray = other.load_card_to_encoder().await.unwrap();
    std::mem::forget(stray);
    let id = printer.submit(job(false)).await.unwrap();
    assert_eq!(finish(&printer, &id).await, PrintJobState::Done);
    assert_eq!(sim.reject_tray().len(), 1);
    assert!(!sim.output_tray()[0].was_at_encoder);
}

#[tokio::test]
async fn the_printer_going_away_mid_job_is_disconnected() {
    let (sim, printer) = setup(SimConfig {
        motion_delay: Duration::from_millis(400),
        ..SimConfig::default()
    })
    .await;
    let id = printer.submit(job(false)).await.unwrap();
    let mut rx = printer.watch_job(&id).unwrap();
    // Wait until it prints, then switch the printer off.
    loop {
        if matches!(rx.borrow_and_update().state, PrintJobState::Printing(p) if p >= 90) {
            break;
        }
        rx.changed().await.unwrap();
    }
    sim.shutdown();
    let PrintJobState::Failed(f, detail) = finish(&printer, &id).await else {
        panic!("not failed");
    };
    assert_eq!(f, PrintFailure::Disconnected);
    assert!(detail.contains("cannot be reached"), "{detail}");
    assert_eq!(printer.state(), DeviceState::Disconnected);
    let e = printer.load_card_to_encoder().await.unwrap_err();
    assert!(matches!(e, DeviceError::Disconnected { .. }), "{e:?}");
    assert_eq!(e.reason(), "DEVICE_DISCONNECTED");
    let e = printer.supplies().await.unwrap_err();
    assert!(matches!(e, DeviceError::Disconnected { .. }), "{e:?}");
}

#[tokio::test]
async fn a_printer_that_stops_answering_times_out() {
    let (sim, printer) = setup_with(
        SimConfig::default(),
        EvolisConfig {
            query_timeout: Duration::from_millis(300),
            ..fast()
        },
    )
    .await;
    sim.inject(SimFault::NoAnswer);
    let e = printer.supplies().await.unwrap_err();
    assert!(matches!(e, DeviceError::Timeout(_)), "{e:?}");
    assert_eq!(e.reason(), "DEVICE_TIMEOUT");
    let id = printer.submit(job(false)).await.unwrap();
    let PrintJobState::Failed(f, detail) = finish(&printer, &id).await else {
        panic!("not failed");
    };
    assert_eq!(f, PrintFailure::Disconnected);
    assert!(detail.contains("stopped answering"), "{detail}");
    // It answers again: the driver reconnects and goes on.
    sim.clear(SimFault::NoAnswer);
    let card = printer.load_card_to_encoder().await.unwrap();
    printer.reject(card).await.unwrap();
}

#[tokio::test]
async fn a_job_can_be_cancelled() {
    let (sim, printer) = setup(SimConfig::default()).await;
    let card = printer.load_card_to_encoder().await.unwrap();
    let id = printer.submit(job(false)).await.unwrap();
    let s = printer.cancel(&id).await.unwrap();
    assert_eq!(s.state, PrintJobState::Cancelled);
    printer.reject(card).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sim.output_tray().is_empty());
    assert!(matches!(
        printer.cancel("job-nope").await,
        Err(DeviceError::NotFound(_))
    ));
}

fn selector(s: &str) -> Selector {
    s.parse().unwrap()
}

#[test]
fn the_factory_refuses_bad_selectors() {
    let d = &EVOLIS_PRINTER_DRIVER;
    assert_eq!(d.class(), DeviceClass::CardPrinter);
    assert_eq!(d.name(), "evolis");
    assert!(!d.simulated());
    assert_eq!(d.list().unwrap(), vec![]);
    let opts = OpenOptions::new("printer0");
    for bad in [
        "printer:evolis",
        "printer:evolis:127.0.0.1:0",
        "printer:evolis:127.0.0.1:99999",
        "printer:evolis:127.0.0.1:x",
        "printer:evolis::9100",
        "printer:evolis:::1:9100",
        "printer:evolis:\"a host:9100\"",
    ] {
        let e = d.open(&selector(bad), &opts).err().unwrap();
        assert!(matches!(e, DeviceError::InvalidArgument(_)), "{bad}: {e:?}");
    }
    let e = d
        .open(
            &selector("printer:evolis:127.0.0.1:9100"),
            &OpenOptions::new("printer0").with_param("speed", "fast"),
        )
        .err()
        .unwrap();
    assert!(e.to_string().contains("no option \"speed\""), "{e}");
    let e = d
        .open(
            &selector("printer:evolis:127.0.0.1:9100"),
            &OpenOptions::new("printer0").with_param("duplex", "maybe"),
        )
        .err()
        .unwrap();
    assert!(matches!(e, DeviceError::InvalidArgument(_)));
    let e = d
        .open(&selector("camera:evolis:127.0.0.1:9100"), &opts)
        .err()
        .unwrap();
    assert!(matches!(e, DeviceError::InvalidArgument(_)));

    // Nothing listens there.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let e = d
        .open(
            &selector(&format!("printer:evolis:127.0.0.1:{port}")),
            &opts,
        )
        .err()
        .unwrap();
    assert!(matches!(e, DeviceError::Disconnected { .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_factory_opens_the_simulator() {
    let sim = EvolisSim::start("127.0.0.1:0".parse().unwrap(), SimConfig::default())
        .await
        .unwrap();
    let sel = selector(&format!(
        "printer:evolis:127.0.0.1:{}",
        sim.local_addr().port()
    ));
    let opts = OpenOptions::new("printer7").with_param("duplex", "false");
    let device = tokio::task::spawn_blocking(move || EVOLIS_PRINTER_DRIVER.open(&sel, &opts))
        .await
        .unwrap()
        .unwrap();
    let AnyDevice::Printer(p) = device else {
        panic!("not a printer");
    };
    assert_eq!(p.info().id, "printer7");
    assert!(!p.duplex(), "the option overrides the model's name");
    assert!(p.inline_encoder());
    let id = p
        .submit(CardJob {
            front_png: side(1),
            back_png: None,
            test_card: false,
            black: None,
        })
        .await
        .unwrap();
    let mut rx = p.watch_job(&id).unwrap();
    while !rx.borrow_and_update().state.is_final() {
        rx.changed().await.unwrap();
    }
    assert_eq!(rx.borrow().state, PrintJobState::Done);
    assert_eq!(sim.output_tray().len(), 1);
}

/// With the layout's own K panel in the job, resin goes exactly there: a black area of the
/// image outside it is printed in dye, and the K panel sent is the mask, bit for bit.
/// Without it, the same black area is resin by threshold. A mask of another size is
/// refused.
#[tokio::test]
async fn the_layouts_own_k_panel_decides_where_resin_goes() {
    use image::{GrayImage, Luma};
    use rekam_evolis::panels::unpack;
    use rekam_evolis::protocol::{LINE_PIXELS, PANEL_PIXELS, Panel};
    let (sim, printer) = setup(SimConfig::default()).await;
    let stripe = |x: u32, y: u32| (600..700).contains(&x) && (300..320).contains(&y);
    let mask = GrayImage::from_fn(1016, 648, |x, y| Luma([if stripe(x, y) { 255 } else { 0 }]));
    let mut k_png = Vec::new();
    mask.write_to(&mut Cursor::new(&mut k_png), ImageFormat::Png)
        .unwrap();
    let with_k = CardJob {
        black: Some(rekam_core::BlackPanels {
            front: k_png,
            back: None,
        }),
        ..job(false)
    };
    let id = printer.submit(with_k).await.unwrap();
    assert_eq!(finish(&printer, &id).await, PrintJobState::Done);
    let id = printer.submit(job(false)).await.unwrap();
    assert_eq!(finish(&printer, &id).await, PrintJobState::Done);
    let tray = sim.output_tray();
    // Pixel (x, y) of the image is bit x * 648 + (647 - y) of a panel.
    let at = |x: usize, y: usize| x * LINE_PIXELS + (LINE_PIXELS - 1 - y);
    let panel = |n: usize, p: Panel, bits: usize| unpack(&tray[n].front[&p].1, bits, PANEL_PIXELS);
    let (k, yellow) = (panel(0, Panel::Black, 1), panel(0, Panel::Yellow, 5));
    assert_eq!(
        (k[at(650, 310)], yellow[at(650, 310)]),
        (1, 0),
        "resin, no dye"
    );
    assert_eq!(
        (k[at(200, 520)], yellow[at(200, 520)]),
        (0, 31),
        "a black area outside the layout's K is full dye"
    );
    assert_eq!(
        k.iter().filter(|&&b| b == 1).count(),
        100 * 20,
        "K is the mask"
    );
    let k = panel(1, Panel::Black, 1);
    assert_eq!(
        k[at(200, 520)],
        1,
        "without it, black is resin by threshold"
    );
    assert_eq!(k[at(650, 310)], 0);

    let small = GrayImage::new(500, 300);
    let mut small_png = Vec::new();
    small
        .write_to(&mut Cursor::new(&mut small_png), ImageFormat::Png)
        .unwrap();
    let bad = printer
        .submit(CardJob {
            black: Some(rekam_core::BlackPanels {
                front: small_png,
                back: None,
            }),
            ..job(false)
        })
        .await;
    assert!(
        matches!(&bad, Err(DeviceError::InvalidArgument(m)) if m.contains("K panel")),
        "{bad:?}"
    );
}
