//! The simulated chip encoder: files, verification, faults, capacity and the ATR.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use rekam_core::sim::{SimulatorControl, Timing};
use rekam_core::{
    CheckOutcome, ChipEncoder, ChipFile, Device, DeviceError, DeviceState, write_and_verify,
};
use rekam_encoder::EncoderSim;
use rekam_encoder::atr::checksum_ok;
use rekam_encoder::sim::{BLOCK_SIZE, EEPROM_CAPACITY, READER_NAME};
use tokio::time::Instant;

fn file(fid: u16, len: usize) -> ChipFile {
    ChipFile {
        fid,
        data: (0..len).map(|i| (i * 7 + usize::from(fid)) as u8).collect(),
    }
}

fn files() -> Vec<ChipFile> {
    vec![file(0x0101, 600), file(0x0102, 20_000), file(0x011D, 0)]
}

fn sim(e: &EncoderSim) -> &dyn SimulatorControl {
    e.simulator().unwrap()
}

#[tokio::test]
async fn written_files_read_back_equal() {
    let e = EncoderSim::new("encoder0", 3, Timing::INSTANT);
    let status = e.card_status().await.unwrap();
    assert_eq!(status.reader_name, READER_NAME);
    assert!(status.reader_present && status.card_present);
    let uid = e.write_files(&files()).await.unwrap();
    assert_eq!(uid, status.uid);
    let back = e.read_files(&[0x0102, 0x0101, 0x011D]).await.unwrap();
    assert_eq!(
        back,
        vec![files()[1].clone(), files()[0].clone(), files()[2].clone()]
    );

    let (uid2, checks) = write_and_verify(&e, &files()).await.unwrap();
    assert_eq!(uid2, uid);
    assert_eq!(checks.len(), 3);
    assert!(
        checks
            .iter()
            .all(|c| c.matches && c.read_len == c.written_len)
    );
    assert_eq!(e.state(), DeviceState::Ready);
}

#[tokio::test]
async fn atr_and_uid() {
    let e = EncoderSim::new("encoder0", 3, Timing::INSTANT);
    let status = e.card_status().await.unwrap();
    assert_eq!(&status.atr[..4], &[0x3B, 0x8A, 0x80, 0x01]);
    assert_eq!(status.atr.len(), 4 + 10 + 1);
    assert!(checksum_ok(&status.atr));
    assert_eq!(
        status.atr.iter().skip(1).fold(0u8, |a, b| a ^ b),
        0,
        "TCK makes the XOR of T0..TCK zero"
    );
    assert_eq!(status.uid.len(), 7);
    assert_eq!(status.uid[0], 0x04);

    // The same seed gives the same cards; another seed other cards.
    let same = EncoderSim::new("encoder1", 3, Timing::INSTANT);
    assert_eq!(same.card_status().await.unwrap().uid, status.uid);
    let other = EncoderSim::new("encoder0", 4, Timing::INSTANT);
    assert_ne!(other.card_status().await.unwrap().uid, status.uid);

    // A new card: new UID, empty file system.
    e.write_files(&files()).await.unwrap();
    let uid = e.insert_blank_card();
    assert_ne!(uid, status.uid);
    assert_eq!(uid.len(), 7);
    assert_eq!(e.card_status().await.unwrap().uid, uid);
    assert_eq!(same.insert_blank_card(), uid);
    assert!(matches!(
        e.read_files(&[0x0101]).await,
        Err(DeviceError::NotFound(_))
    ));
}

#[tokio::test]
async fn an_unknown_file_is_not_found() {
    let e = EncoderSim::new("encoder0", 3, Timing::INSTANT);
    e.write_files(&[file(0x0102, 10)]).await.unwrap();
    assert_eq!(
        e.read_files(&[0x0102, 0x0101]).await,
        Err(DeviceError::NotFound("file 0x0101 not on the card".into()))
    );
    assert_eq!(e.state(), DeviceState::Ready);
}

#[tokio::test(start_paused = true)]
async fn a_pulled_card_leaves_a_partial_file_that_verification_flags() {
    let e = EncoderSim::new("encoder0", 3, Timing::REAL);
    let uid = e.card_status().await.unwrap().uid;
    // Old contents of 0x0102 are replaced, not kept past the pull.
    e.write_files(&[file(0x0102, 30_000)]).await.unwrap();
    sim(&e).inject("card_pulled").unwrap();
    let want = files();
    let blocks: usize = want.iter().map(|f| f.data.len().div_ceil(BLOCK_SIZE)).sum();
    assert_eq!(blocks, 3 + 79);
    let t = Instant::now();
    let err = e.write_files(&want).await.unwrap_err();
    assert_eq!(err, DeviceError::CardRemoved("writing file 0x0102".into()));
    // Select, then 41 blocks of 4 ms.
    assert_eq!(t.elapsed(), Duration::from_millis(50 + 41 * 4));

    let status = e.card_status().await.unwrap();
    assert!(status.reader_present && !status.card_present);
    assert!(status.uid.is_empty() && status.atr.is_empty());
    assert_eq!(sim(&e).active_faults(), ["no_card"]);
    assert_eq!(e.read_files(&[0x0101]).await, Err(DeviceError::NoCard));
    assert_eq!(e.state(), DeviceState::Ready);

    // Clearing puts the same card back, with what the write left on it.
    sim(&e).clear();
    let status = e.card_status().await.unwrap();
    assert!(status.card_present);
    assert_eq!(status.uid, uid);
    let back = e.read_files(&[0x0101, 0x0102]).await.unwrap();
    assert_eq!(back[0], want[0]);
    let partial = &back[1].data;
    assert_eq!(partial.len(), (41 - 3) * BLOCK_SIZE);
    assert_eq!(partial[..], want[1].data[..partial.len()]);
    assert_ne!(back[1], want[1], "verification must flag the short file");
    assert!(matches!(
        e.read_files(&[0x011D]).await,
        Err(DeviceError::NotFound(_))
    ));

    // The retry rewrites the card and verifies.
    let (uid2, checks) = write_and_verify(&e, &want).await.unwrap();
    assert_eq!(uid2, uid);
    assert!(checks.iter().all(|c| c.matches), "{checks:?}");
}

#[tokio::test(start_paused = true)]
async fn pulling_a_card_mid_read_is_card_removed() {
    let e = EncoderSim::new("encoder0", 3, Timing::REAL);
    e.write_files(&[file(0x0101, 40 * BLOCK_SIZE)])
        .await
        .unwrap();
    let read = e.read_files(&[0x0101]);
    let pull = async {
        tokio::time::sleep(Duration::from_millis(80)).await;
        sim(&e).inject("no_card").unwrap();
    };
    let (r, ()) = tokio::join!(read, pull);
    assert_eq!(
        r,
        Err(DeviceError::CardRemoved("reading file 0x0101".into()))
    );
    assert_eq!(e.state(), DeviceState::Ready);
}

#[tokio::test]
async fn no_card_in_the_field() {
    let e = EncoderSim::new("encoder0", 3, Timing::INSTANT);
    sim(&e).inject("no_card").unwrap();
    let status = e.card_status().await.unwrap();
    assert!(status.reader_present);
    assert!(!status.card_present);
    assert!(status.atr.is_empty() && status.uid.is_empty());
    assert_eq!(e.write_files(&files()).await, Err(DeviceError::NoCard));
    assert_eq!(e.read_files(&[0x0101]).await, Err(DeviceError::NoCard));
    assert_eq!(e.state(), DeviceState::Ready);
    let report = e.self_test().await;
    let field = report.checks.iter().find(|c| c.name == "field").unwrap();
    assert_eq!(field.outcome, CheckOutcome::Warn);
    assert!(report.passed());
    sim(&e).clear();
    assert!(e.card_status().await.unwrap().card_present);
    e.write_files(&files()).await.unwrap();

    // A new card ends the absence too.
    sim(&e).inject("no_card").unwrap();
    e.insert_blank_card();
    assert!(e.card_status().await.unwrap().card_present);
    assert!(sim(&e).active_faults().is_empty());
}

#[tokio::test]
async fn a_missing_or_broken_reader() {
    let e = EncoderSim::new("encoder0", 3, Timing::INSTANT);
    sim(&e).inject("disconnect").unwrap();
    assert_eq!(e.state(), DeviceState::Disconnected);
    let status = e.card_status().await.unwrap();
    assert_eq!(status.reader_name, READER_NAME);
    assert!(!status.reader_present && !status.card_present);
    assert!(matches!(
        e.write_files(&files()).await,
        Err(DeviceError::Disconnected { .. })
    ));
    assert!(matches!(
        e.read_files(&[0x0101]).await,
        Err(DeviceError::Disconnected { .. })
    ));
    let report = e.self_test().await;
    assert!(!report.passed());
    assert_eq!(report.checks[0].outcome, CheckOutcome::Fail);
    sim(&e).clear();
    assert_eq!(e.state(), DeviceState::Ready);
    assert!(e.card_status().await.unwrap().reader_present);

    sim(&e).inject("hardware_error").unwrap();
    assert!(matches!(e.state(), DeviceState::Error(_)));
    assert!(matches!(
        e.card_status().await,
        Err(DeviceError::Hardware(_))
    ));
    assert!(matches!(
        e.write_files(&files()).await,
        Err(DeviceError::Hardware(_))
    ));
    let report = e.self_test().await;
    let rf = report.checks.iter().find(|c| c.name == "rf").unwrap();
    assert_eq!(rf.outcome, CheckOutcome::Fail);
    sim(&e).clear();
    e.write_files(&files()).await.unwrap();
    assert!(e.self_test().await.passed());
}

#[tokio::test(start_paused = true)]
async fn a_disconnect_mid_write_fails_it() {
    let e = EncoderSim::new("encoder0", 3, Timing::REAL);
    let f = [file(0x0101, 40 * BLOCK_SIZE)];
    let write = e.write_files(&f);
    let unplug = async {
        tokio::time::sleep(Duration::from_millis(70)).await;
        assert_eq!(e.state(), DeviceState::Busy);
        sim(&e).inject("disconnect").unwrap();
    };
    let (r, ()) = tokio::join!(write, unplug);
    assert!(matches!(r, Err(DeviceError::Disconnected { .. })));
    assert_eq!(e.state(), DeviceState::Disconnected);
}

#[tokio::test]
async fn files_must_fit_the_eeprom() {
    let e = EncoderSim::new("encoder0", 3, Timing::INSTANT);
    match e.write_files(&[file(0x0102, EEPROM_CAPACITY + 1)]).await {
        Err(DeviceError::InvalidArgument(m)) => {
            assert!(m.contains("too large for the chip"), "{m}");
            assert!(m.contains("0x0102"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    e.write_files(&[file(0x0102, 60 * 1024)]).await.unwrap();
    match e.write_files(&[file(0x0103, 30 * 1024)]).await {
        Err(DeviceError::InvalidArgument(m)) => assert!(m.contains("too large"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Nothing of the refused write reached the chip.
    assert!(matches!(
        e.read_files(&[0x0103]).await,
        Err(DeviceError::NotFound(_))
    ));
    // Rewriting a file replaces it, so the space it held is free again.
    e.write_files(&[file(0x0102, 70 * 1024), file(0x0101, 10 * 1024)])
        .await
        .unwrap();
    assert!(e.write_files(&[file(0x0103, 1)]).await.is_err());

    for bad in [
        vec![file(0x3F00, 4)],
        vec![file(0xFFFF, 4)],
        vec![file(0x0101, 4), file(0x0101, 5)],
    ] {
        assert!(matches!(
            e.write_files(&bad).await,
            Err(DeviceError::InvalidArgument(_))
        ));
    }
}

#[tokio::test(start_paused = true)]
async fn timings_busy_and_cancel_safety() {
    let e = EncoderSim::new("encoder0", 3, Timing::REAL);
    let f = file(0x0101, 10 * BLOCK_SIZE);
    let t = Instant::now();
    e.write_files(std::slice::from_ref(&f)).await.unwrap();
    assert_eq!(t.elapsed(), Duration::from_millis(50 + 10 * 4));
    let t = Instant::now();
    e.read_files(&[0x0101]).await.unwrap();
    assert_eq!(t.elapsed(), Duration::from_millis(90));

    // A second operation while one runs is refused.
    let big = file(0x0102, 40 * BLOCK_SIZE);
    let (a, b) = tokio::join!(e.write_files(std::slice::from_ref(&big)), async {
        tokio::time::sleep(Duration::from_millis(60)).await;
        e.read_files(&[0x0101]).await
    });
    assert!(a.is_ok());
    assert!(matches!(b, Err(DeviceError::Busy(_))));

    // A write dropped halfway leaves the device ready and a partial file.
    let r = tokio::time::timeout(
        Duration::from_millis(50 + 20 * 4 + 2),
        e.write_files(std::slice::from_ref(&big)),
    )
    .await;
    assert!(r.is_err());
    assert_eq!(e.state(), DeviceState::Ready);
    let back = e.read_files(&[0x0102]).await.unwrap();
    assert_eq!(back[0].data.len(), 20 * BLOCK_SIZE);

    // Clearing faults mid-operation keeps the device busy until it ends.
    let (a, ()) = tokio::join!(e.read_files(&[0x0102]), async {
        tokio::time::sleep(Duration::from_millis(60)).await;
        sim(&e).clear();
        assert_eq!(e.state(), DeviceState::Busy);
    });
    assert!(a.is_ok());
    assert_eq!(e.state(), DeviceState::Ready);
}

#[tokio::test]
async fn self_test_checks() {
    let e = EncoderSim::new("encoder0", 3, Timing::INSTANT);
    let report = e.self_test().await;
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["reader", "field", "rf"]);
    assert!(
        report
            .checks
            .iter()
            .all(|c| c.outcome == CheckOutcome::Pass)
    );
    assert_eq!(e.info().driver, "sim");
    let faults: Vec<&str> = sim(&e).faults().iter().map(|f| f.name).collect();
    assert_eq!(
        faults,
        [
            "no_card",
            "card_pulled",
            "bad_chip",
            "disconnect",
            "hardware_error"
        ]
    );
    assert!(matches!(
        sim(&e).inject("smoke"),
        Err(DeviceError::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn a_bad_chip_answers_the_write_but_reads_back_one_bit_off_once() {
    let e = EncoderSim::new("encoder0", 3, Timing::INSTANT);
    let want = files();
    sim(&e).inject("bad_chip").unwrap();
    // The write answers success, as the chip's EEPROM does.
    e.write_files(&want).await.unwrap();
    assert!(sim(&e).active_faults().is_empty(), "one shot");
    let back = e.read_files(&[0x0101, 0x0102]).await.unwrap();
    assert_eq!(back[0].data.len(), want[0].data.len());
    assert_eq!(back[0].data[0], want[0].data[0] ^ 0x01);
    assert_eq!(back[0].data[1..], want[0].data[1..]);
    assert_eq!(back[1], want[1]);
    // The next write is sound.
    e.write_files(&want).await.unwrap();
    assert!(e.read_files(&[0x0101, 0x0102]).await.unwrap() == want[..2]);
}

#[tokio::test]
async fn the_card_watch_follows_the_card_in_the_field() {
    let e = EncoderSim::new("encoder0", 3, Timing::INSTANT);
    let mut card = e
        .watch_card()
        .expect("an encoder tells whether a card is there");
    assert!(*card.borrow_and_update());
    // no_card takes it out, clearing puts it back; the state stays ready.
    sim(&e).inject("no_card").unwrap();
    assert!(card.has_changed().unwrap() && !*card.borrow_and_update());
    assert_eq!(e.state(), DeviceState::Ready);
    assert!(!e.card_status().await.unwrap().card_present);
    sim(&e).clear();
    assert!(card.has_changed().unwrap() && *card.borrow_and_update());
    // A card pulled mid-write leaves the field; a blank one inserted is there again.
    sim(&e).inject("card_pulled").unwrap();
    assert!(!card.has_changed().unwrap());
    assert!(e.write_files(&files()).await.is_err());
    assert!(card.has_changed().unwrap() && !*card.borrow_and_update());
    e.insert_blank_card();
    assert!(card.has_changed().unwrap() && *card.borrow_and_update());
    // A disconnected reader has no card either.
    sim(&e).inject("disconnect").unwrap();
    assert!(!*card.borrow_and_update());
}
