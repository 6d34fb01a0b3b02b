//! The PC/SC driver through a real pcscd: a private pcscd with vpcd readers
//! ([`rekam_encoder::testbed`]), the virtual card and SAM served to it over vpcd's TCP
//! protocol, and [`rekam_encoder::PcscEncoder`] talking to pcscd through libpcsclite.
//!
//! libpcsclite reads `PCSCLITE_CSOCK_NAME` once, at its first call, so this test has its own
//! `main` (`harness = false`): it starts pcscd, points the variable at it while the process
//! has one thread, then runs the cases one after another (they share the readers). A pcscd
//! that cannot start fails the test; nothing is skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unsafe_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use rekam_core::{
    AnyDevice, ChipEncoder, ChipFile, Device, DeviceError, DeviceEventKind, DeviceState,
    DriverFactory, Registry,
};
use rekam_encoder::ENCODER_PCSC_DRIVER;
use rekam_encoder::pcsc::{Access, PcscEncoder};
use rekam_encoder::sm::Suite;
use rekam_encoder::testbed::{PrivatePcscd, ReaderPair};
use rekam_encoder::vcard::{CardConfig, CardFaults, VirtualCard, VirtualSam, VpcdHandle};

fn files(dg2_len: usize) -> Vec<ChipFile> {
    rekam_encoder::testbed::sample_files(dg2_len)
}

struct Bed {
    pcscd: PrivatePcscd,
    rt: tokio::runtime::Runtime,
    /// The SAM stays in its slot for the whole run, as a station's does.
    _sam: VpcdHandle<VirtualSam>,
}

impl Bed {
    fn pair(&self) -> &ReaderPair {
        &self.pcscd.readers[0]
    }

    fn encoder(&self, access: Access) -> PcscEncoder {
        let p = self.pair();
        let sam = (access == Access::Secure).then_some(p.sam_reader.as_str());
        PcscEncoder::open("enc0", &p.card_reader, sam, access, Duration::from_secs(10)).unwrap()
    }

    fn card(&self, config: CardConfig, faults: CardFaults) -> VpcdHandle<VirtualCard> {
        self.pcscd.wait_empty(&self.pair().card_reader).unwrap();
        self.pcscd.insert_card(config, faults).unwrap()
    }

    /// Waits until the encoder sees a card (or none).
    fn wait_card(&self, enc: &PcscEncoder, present: bool) {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.rt.block_on(enc.card_status()).unwrap();
            if s.reader_present && s.card_present == present {
                return;
            }
            assert!(
                Instant::now() < end,
                "card present = {present} never seen: {s:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_state(&self, enc: &PcscEncoder, want: DeviceState) {
        let end = Instant::now() + Duration::from_secs(15);
        while enc.state() != want {
            assert!(
                Instant::now() < end,
                "state {want:?} never reached: {:?} ({:?})",
                enc.state(),
                enc.state_reason()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn lists_the_readers_pcscd_sees(bed: &Bed) {
    let seen = ENCODER_PCSC_DRIVER.list().unwrap();
    let names: Vec<String> = seen
        .iter()
        .map(|a| a.selector.address.clone().unwrap())
        .collect();
    assert!(names.contains(&bed.pair().card_reader), "{names:?}");
    assert!(names.contains(&bed.pair().sam_reader), "{names:?}");
    assert_eq!(seen[0].selector.driver, "pcsc");
}

/// Personalizes a fresh `config` card through pcscd; the session must have used `suite`
/// (the strongest the card and the SAM share).
fn personalizes_reads_back_and_verifies(bed: &Bed, config: CardConfig, suite: Suite) {
    let enc = bed.encoder(Access::Secure);
    let card = bed.card(config.clone(), CardFaults::default());
    bed.wait_card(&enc, true);
    let want = files(5000);
    let (uid, checks) = bed
        .rt
        .block_on(rekam_core::write_and_verify(&enc, &want))
        .unwrap();
    assert_eq!(uid, config.uid);
    assert!(checks.iter().all(|c| c.matches), "{checks:?}");
    // What the card holds is what was meant, byte for byte.
    let held = card.card().files();
    for f in &want {
        assert_eq!(held.get(&f.fid), Some(&f.data), "file {:04X}", f.fid);
    }
    let stats = enc.last_stats().unwrap();
    assert!(stats.round_trips > 0);
    assert_eq!(enc.last_suite(), Some(suite));
    // The same card again: not blank any more, refused before anything is written.
    let err = bed.rt.block_on(enc.write_files(&want)).unwrap_err();
    assert!(
        matches!(err, DeviceError::WrongCard(ref m) if m.contains("EF.COM")),
        "{err}"
    );
    card.stop();
}

fn pulled_at_every_phase_is_a_clear_error_and_a_fresh_card_works(bed: &Bed) {
    let enc = bed.encoder(Access::Secure);
    let want = files(3000);
    // APDUs on the card, in order: 1 GET DATA (UID), 2 READ BINARY EF.ATR/INFO, 3 SELECT,
    // 4 GET CHALLENGE, 5 MUTUAL AUTHENTICATE, then CREATE and UPDATEs per file (6-7 EF.COM,
    // whose CREATE is the blank check; 8-9 DG1; 10-13 DG2), then SELECT and READs per file.
    // The card is pulled after the N-th has been answered, so the next one finds no card:
    // one N in each phase.
    for (after, phase) in [
        (1, "EF.ATR"),
        (2, "selecting"),
        (3, "authenticating"),
        (5, "creating file 011E"),
        (8, "writing file 0101"),
        (13, "reading file"),
    ] {
        let card = bed.card(
            CardConfig::default(),
            CardFaults {
                remove_after: Some(after),
                ..CardFaults::default()
            },
        );
        bed.wait_card(&enc, true);
        let err = bed
            .rt
            .block_on(rekam_core::write_and_verify(&enc, &want))
            .unwrap_err();
        assert!(
            matches!(&err, DeviceError::CardRemoved(m) if m.contains(phase))
                || (after == 0 && matches!(err, DeviceError::NoCard | DeviceError::CardRemoved(_))),
            "pulled after APDU {after}: {err}"
        );
        assert_eq!(
            err.reason(),
            if matches!(err, DeviceError::NoCard) {
                "NO_CARD"
            } else {
                "CARD_REMOVED"
            }
        );
        card.stop();
        bed.wait_card(&enc, false);
        // A fresh blank card: the same encoder writes it.
        let fresh = bed.card(CardConfig::default(), CardFaults::default());
        bed.wait_card(&enc, true);
        let (_, checks) = bed
            .rt
            .block_on(rekam_core::write_and_verify(&enc, &want))
            .unwrap_or_else(|e| panic!("fresh card after a pull at {after}: {e}"));
        assert!(checks.iter().all(|c| c.matches));
        fresh.stop();
        bed.wait_card(&enc, false);
    }
}

fn wrong_cards_are_refused(bed: &Bed) {
    let enc = bed.encoder(Access::Secure);
    let cases: [(CardConfig, &str); 3] = [
        (
            CardConfig {
                locked: true,
                ..CardConfig::default()
            },
            "locked",
        ),
        (
            CardConfig {
                preloaded: vec![(0x011E, vec![0x60, 0x00])],
                ..CardConfig::default()
            },
            "already holds a profile",
        ),
        (
            CardConfig {
                master_key: *b"another-issuer!!",
                ..CardConfig::default()
            },
            "authentication",
        ),
    ];
    for (config, what) in cases {
        let card = bed.card(config, CardFaults::default());
        bed.wait_card(&enc, true);
        let err = bed.rt.block_on(enc.write_files(&files(100))).unwrap_err();
        assert!(
            matches!(&err, DeviceError::WrongCard(m) if m.contains(what)),
            "{what}: {err}"
        );
        assert_eq!(err.reason(), "WRONG_CARD");
        assert!(card.card().files().len() <= 1, "nothing was written");
        card.stop();
        bed.wait_card(&enc, false);
    }
}

fn plain_profile_on_a_development_card(bed: &Bed) {
    let enc = Arc::new(bed.encoder(Access::Plain));
    bed.wait_state(&enc, DeviceState::Ready);
    // Putting the card in and taking it out are device events of their own, through the
    // registry as rekamd has it; the state stays ready.
    let registry = {
        let _rt = bed.rt.enter();
        Registry::new(vec![AnyDevice::Encoder(enc.clone())]).unwrap()
    };
    let mut events = registry.subscribe();
    let mut next_card_event = || {
        bed.rt.block_on(async {
            loop {
                let e = tokio::time::timeout(Duration::from_secs(10), events.recv())
                    .await
                    .expect("a card event within 10 s")
                    .unwrap();
                if matches!(
                    e.kind,
                    DeviceEventKind::CardInserted | DeviceEventKind::CardRemoved
                ) {
                    return e;
                }
            }
        })
    };
    let card = bed.card(
        CardConfig {
            secure: false,
            ..CardConfig::default().short_only()
        },
        CardFaults::default(),
    );
    bed.wait_card(&enc, true);
    let e = next_card_event();
    assert_eq!(
        (e.kind, &e.state, e.info.id.as_str()),
        (DeviceEventKind::CardInserted, &DeviceState::Ready, "enc0")
    );
    let want = files(1200);
    let (_, checks) = bed
        .rt
        .block_on(rekam_core::write_and_verify(enc.as_ref(), &want))
        .unwrap();
    assert!(checks.iter().all(|c| c.matches));
    card.stop();
    bed.wait_card(&enc, false);
    assert_eq!(next_card_event().kind, DeviceEventKind::CardRemoved);
}

fn pcscd_going_away_and_back_needs_no_restart(bed: &mut Bed) {
    let enc = bed.encoder(Access::Plain);
    bed.wait_state(&enc, DeviceState::Ready);
    bed.pcscd.stop();
    bed.wait_state(&enc, DeviceState::Disconnected);
    let reason = enc.state_reason().unwrap_or_default();
    assert!(
        reason.contains("pcscd") || reason.contains("reader"),
        "{reason}"
    );
    let err = bed.rt.block_on(enc.write_files(&files(10))).unwrap_err();
    assert_eq!(err.reason(), "DEVICE_DISCONNECTED", "{err}");
    bed.pcscd.restart().unwrap();
    bed.wait_state(&enc, DeviceState::Ready);
    let card = bed.card(
        CardConfig {
            secure: false,
            ..CardConfig::default()
        },
        CardFaults::default(),
    );
    bed.wait_card(&enc, true);
    let (_, checks) = bed
        .rt
        .block_on(rekam_core::write_and_verify(&enc, &files(500)))
        .unwrap();
    assert!(checks.iter().all(|c| c.matches));
    card.stop();
}

fn no_other_client_interleaves_with_a_personalization(bed: &Bed) {
    // A slow card (5 ms per APDU) keeps the personalization going long enough for another
    // PC/SC client to try its luck in the middle.
    let enc = bed.encoder(Access::Secure);
    let card = bed.card(
        CardConfig::default(),
        CardFaults {
            slow: Some(Duration::from_millis(5)),
            ..CardFaults::default()
        },
    );
    bed.wait_card(&enc, true);
    let reader = std::ffi::CString::new(bed.pair().card_reader.clone()).unwrap();
    let started = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let other = {
        let started = started.clone();
        std::thread::spawn(move || {
            while !started.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(60));
            let t0 = Instant::now();
            let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
            let card = ctx
                .connect(&reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
                .unwrap();
            let mut buf = [0u8; 300];
            // pcscd holds another client's connection and APDU while the driver's
            // transaction lasts, so this one waits for the whole rest of the
            // personalization rather than slipping in between.
            let r = card
                .transmit(&[0xFF, 0xCA, 0x00, 0x00, 0x00], &mut buf)
                .map(<[u8]>::to_vec);
            (r, t0.elapsed())
        })
    };
    started.store(true, std::sync::atomic::Ordering::SeqCst);
    let t0 = Instant::now();
    let (_, checks) = bed
        .rt
        .block_on(rekam_core::write_and_verify(&enc, &files(3000)))
        .unwrap();
    let took = t0.elapsed();
    assert!(checks.iter().all(|c| c.matches));
    let (answer, waited) = other.join().unwrap();
    // Alone, connecting and GET DATA on this card take about 5 ms; it waited for the rest
    // of the personalization (it began some 60 ms into it).
    assert!(
        took > Duration::from_millis(100) && waited > Duration::from_millis(40),
        "the other client's APDU took {waited:?}; the personalization {took:?}"
    );
    assert_eq!(
        answer.unwrap()[..],
        [0x04, 0x52, 0x4B, 0x4D, 0x00, 0x00, 0x01, 0x90, 0x00]
    );
    card.stop();
}

fn main() {
    let pcscd = PrivatePcscd::start(1).unwrap_or_else(|e| {
        eprintln!("pcsc: cannot start a private pcscd: {e}");
        std::process::exit(1);
    });
    // SAFETY: the process has one thread here (nothing has been spawned yet: pcscd is a
    // child process), so no other thread reads the environment while it is written.
    unsafe { std::env::set_var("PCSCLITE_CSOCK_NAME", &pcscd.socket) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sam = pcscd.insert_sam().unwrap();
    let mut bed = Bed {
        pcscd,
        rt,
        _sam: sam,
    };
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    type Case = (&'static str, fn(&mut Bed));
    let cases: &[Case] = &[
        ("lists_the_readers_pcscd_sees", |b| {
            lists_the_readers_pcscd_sees(b)
        }),
        ("personalizes_extended", |b| {
            personalizes_reads_back_and_verifies(b, CardConfig::default(), Suite::Aes128)
        }),
        ("personalizes_short_only", |b| {
            personalizes_reads_back_and_verifies(
                b,
                CardConfig::default().short_only(),
                Suite::Aes128,
            )
        }),
        ("personalizes_a_3des_only_card", |b| {
            personalizes_reads_back_and_verifies(
                b,
                CardConfig::default()
                    .short_only()
                    .with_suites(&[Suite::Tdes]),
                Suite::Tdes,
            )
        }),
        ("pulled_at_every_phase", |b| {
            pulled_at_every_phase_is_a_clear_error_and_a_fresh_card_works(b)
        }),
        ("wrong_cards_are_refused", |b| wrong_cards_are_refused(b)),
        ("plain_profile", |b| plain_profile_on_a_development_card(b)),
        ("no_interleaving", |b| {
            no_other_client_interleaves_with_a_personalization(b)
        }),
        (
            "pcscd_going_away_and_back",
            pcscd_going_away_and_back_needs_no_restart,
        ),
    ];
    let mut failed = 0;
    for (name, case) in cases {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let started = Instant::now();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case(&mut bed)));
        match r {
            Ok(()) => println!("test {name} ... ok ({} ms)", started.elapsed().as_millis()),
            Err(_) => {
                failed += 1;
                println!("test {name} ... FAILED");
            }
        }
    }
    if failed > 0 {
        eprintln!("pcscd log:\n{}", bed.pcscd.log());
        // exit() runs no destructors: stop pcscd first.
        drop(bed);
        std::process::exit(1);
    }
}
