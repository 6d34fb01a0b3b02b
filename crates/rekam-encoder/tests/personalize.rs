//! The host side of personalization ([`rekam_encoder::personalize`]) against the virtual
//! card and SAM in-process (no pcscd): secure and plain profiles, refusals before anything
//! is written, round-trip counts within the bound, and a card that stops at every
//! phase.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rekam_core::ChipFile;
use rekam_encoder::personalize::{
    APPLICATION_AID, EncodeError, LinkError, Phase, Sam, SamCard, Session,
};
use rekam_encoder::sm::Suite;
use rekam_encoder::vcard::{CardConfig, CardFaults, DEV_MASTER_KEY, VirtualCard, VirtualSam};
use rekam_iso7816::Transport;

/// A card in the field, reached directly; `pull_after` takes it away after that many APDUs.
struct Direct<'a> {
    card: &'a mut VirtualCard,
    pull_after: Option<u64>,
    sent: u64,
}

impl<'a> Direct<'a> {
    fn new(card: &'a mut VirtualCard) -> Self {
        card.power_on();
        Direct {
            card,
            pull_after: None,
            sent: 0,
        }
    }
}

impl Transport for Direct<'_> {
    type Error = LinkError;
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, LinkError> {
        if self.pull_after.is_some_and(|n| self.sent >= n) {
            return Err(LinkError::CardRemoved);
        }
        self.sent += 1;
        Ok(self.card.process(apdu))
    }
}

struct SamDirect<'a>(&'a mut VirtualSam);

impl Transport for SamDirect<'_> {
    type Error = LinkError;
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, LinkError> {
        Ok(self.0.process(apdu))
    }
}

fn files(dg2_len: usize) -> Vec<ChipFile> {
    let mut files = rekam_encoder::testbed::sample_files(dg2_len);
    // Not BER-TLV (an ISO/IEC 19794-5 record starts "FAC\0"): read back by the size the
    // card's FCP gives, not by a header it does not have.
    files.push(ChipFile {
        fid: 0x0104,
        data: b"FAC\0"
            .iter()
            .copied()
            .chain((0..700u32).map(|i| (i % 253) as u8))
            .collect(),
    });
    files
}

fn open_secure<'c>(
    card: &'c mut VirtualCard,
    sam: &mut VirtualSam,
) -> Result<Session<Direct<'c>>, EncodeError> {
    let atr = card.atr();
    let sam_atr = sam.atr();
    let mut sam = SamCard::open(SamDirect(sam), &sam_atr)?;
    Session::open(
        Direct::new(card),
        &atr,
        &APPLICATION_AID,
        Some(&mut sam as &mut dyn Sam),
    )
}

#[test]
fn secure_personalization_writes_reads_back_and_counts_round_trips() {
    for (short, suites) in [false, true].into_iter().flat_map(|short| {
        [&[Suite::Tdes][..], &Suite::ALL[..]]
            .into_iter()
            .map(move |suites| (short, suites))
    }) {
        let mut config = CardConfig {
            capacity: 32 * 1024,
            ..CardConfig::default()
        }
        .with_suites(suites);
        if short {
            config = config.short_only();
        }
        let mut card = VirtualCard::new(config);
        let mut sam = VirtualSam::new(DEV_MASTER_KEY);
        let want = files(5000);
        let mut s = open_secure(&mut card, &mut sam).unwrap();
        assert!(s.secure());
        // The strongest suite the card offers (the SAM has both).
        assert_eq!(s.suite(), suites.iter().max().copied());
        // As the driver does: EF.COM first, its CREATE FILE the blank check.
        s.personalize(&want).unwrap();
        let written = s.stats();
        let back = s.read_files(&[0x011E, 0x0101, 0x0102, 0x0104]).unwrap();
        assert_eq!(back, want, "short={short} {suites:?}");
        // The bound: ceil(payload / data per APDU after SM) + 16 round trips with
        // the chip, authentication (GET DATA, EF.ATR/INFO, SELECT, GET CHALLENGE, MUTUAL
        // AUTHENTICATE) and file creation included: the session's count from its start.
        let payload: usize = want.iter().map(|f| f.data.len()).sum();
        let chunk = s.write_chunk();
        let bound = payload.div_ceil(chunk) as u64 + 16;
        assert!(
            written.round_trips <= bound,
            "short={short} {suites:?}: {} round trips, bound {bound} (chunk {chunk})",
            written.round_trips
        );
        if short {
            assert!(chunk < 255, "SM overhead leaves less than 255: {chunk}");
        } else {
            assert!(chunk > 900, "extended APDUs carry ~1 KiB: {chunk}");
        }
        drop(s);
        assert_eq!(card.files().len(), 4);
    }
}

#[test]
fn plain_profile_needs_no_sam() {
    let config = CardConfig {
        secure: false,
        ..CardConfig::default()
    };
    let mut card = VirtualCard::new(config);
    let atr = card.atr();
    let mut s = Session::open(Direct::new(&mut card), &atr, &APPLICATION_AID, None).unwrap();
    assert!(!s.secure());
    let want = files(600);
    s.write_files(&want).unwrap();
    assert_eq!(
        s.read_files(&[0x011E, 0x0101, 0x0102, 0x0104]).unwrap(),
        want
    );
}

#[test]
fn a_secure_card_refuses_plain_writes() {
    let mut card = VirtualCard::new(CardConfig::default());
    let atr = card.atr();
    let mut s = Session::open(Direct::new(&mut card), &atr, &APPLICATION_AID, None).unwrap();
    let err = s.write_files(&files(10)).unwrap_err();
    assert!(
        matches!(&err, EncodeError::Card { error, .. } if error.sw().0 == 0x6982),
        "{err}"
    );
    drop(s);
    assert!(card.files().is_empty());
}

#[test]
fn a_card_and_a_sam_without_a_common_suite_are_refused_before_anything_is_written() {
    let mut card = VirtualCard::new(CardConfig::default().with_suites(&[Suite::Aes128]));
    let mut sam = VirtualSam::with_suites(DEV_MASTER_KEY, &[Suite::Tdes]);
    let err = open_secure(&mut card, &mut sam).err().expect("refused");
    assert!(
        matches!(&err, EncodeError::AuthFailed(m) if m.contains("AES-128") && m.contains("3DES")),
        "{err}"
    );
    assert!(!card.authenticated() && card.files().is_empty());
    // An older SAM (3DES only) with a card that has both: 3DES.
    let mut card = VirtualCard::new(CardConfig::default());
    let s = open_secure(&mut card, &mut sam).unwrap();
    assert_eq!(s.suite(), Some(Suite::Tdes));
}

#[test]
fn a_card_of_another_issuer_fails_authentication_before_anything_is_written() {
    let config = CardConfig {
        master_key: *b"another-issuer!!",
        ..CardConfig::default()
    };
    let mut card = VirtualCard::new(config);
    let mut sam = VirtualSam::new(DEV_MASTER_KEY);
    let err = open_secure(&mut card, &mut sam).err().expect("refused");
    assert!(matches!(err, EncodeError::AuthFailed(_)), "{err}");
    assert!(card.files().is_empty());
}

#[test]
fn wrong_cards_are_refused() {
    // Locked.
    let config = CardConfig {
        locked: true,
        ..CardConfig::default()
    };
    let mut card = VirtualCard::new(config);
    let mut sam = VirtualSam::new(DEV_MASTER_KEY);
    let err = open_secure(&mut card, &mut sam).err().expect("refused");
    assert!(matches!(err, EncodeError::Locked), "{err}");
    // Not blank: EF.COM is there.
    let config = CardConfig {
        preloaded: vec![(0x011E, vec![0x60, 0x00])],
        ..CardConfig::default()
    };
    let mut card = VirtualCard::new(config);
    let mut s = open_secure(&mut card, &mut sam).unwrap();
    assert!(!s.is_blank().unwrap());
    let err = s.write_files(&files(10)).unwrap_err();
    assert!(matches!(err, EncodeError::NotBlank), "{err}");
    // Too small.
    let config = CardConfig {
        capacity: 1024,
        ..CardConfig::default()
    };
    let mut card = VirtualCard::new(config);
    let mut s = open_secure(&mut card, &mut sam).unwrap();
    let err = s.write_files(&files(4000)).unwrap_err();
    assert!(
        matches!(err, EncodeError::NoRoom { fid: 0x0102, .. }),
        "{err}"
    );
    // Memory full (the card's fault).
    let mut card = VirtualCard::new(CardConfig::default());
    card.set_faults(CardFaults {
        memory_full: true,
        ..CardFaults::default()
    });
    let mut s = open_secure(&mut card, &mut sam).unwrap();
    let err = s.write_files(&files(10)).unwrap_err();
    assert!(
        matches!(err, EncodeError::NoRoom { fid: 0x011E, .. }),
        "{err}"
    );
}

#[test]
fn a_card_pulled_at_every_apdu_fails_with_its_phase() {
    // First count the APDUs of a whole personalization with read-back.
    let want = files(3000);
    let fids: Vec<u16> = want.iter().map(|f| f.fid).collect();
    let total = {
        let mut card = VirtualCard::new(CardConfig::default());
        let mut sam = VirtualSam::new(DEV_MASTER_KEY);
        let mut s = open_secure(&mut card, &mut sam).unwrap();
        s.personalize(&want).unwrap();
        s.read_files(&fids).unwrap();
        s.stats().round_trips
    };
    let mut phases = std::collections::BTreeSet::new();
    for n in 0..total {
        let mut card = VirtualCard::new(CardConfig::default());
        let mut sam = VirtualSam::new(DEV_MASTER_KEY);
        let atr = card.atr();
        let sam_atr = sam.atr();
        let mut samc = SamCard::open(SamDirect(&mut sam), &sam_atr).unwrap();
        let mut t = Direct::new(&mut card);
        t.pull_after = Some(n);
        let r = Session::open(t, &atr, &APPLICATION_AID, Some(&mut samc as &mut dyn Sam)).and_then(
            |mut s| {
                s.personalize(&want)?;
                s.read_files(&fids)
            },
        );
        let err = r.expect_err("the card was pulled");
        let EncodeError::Link { phase, error } = err else {
            panic!("pulled after {n}: {err}");
        };
        assert_eq!(error, LinkError::CardRemoved);
        phases.insert(match phase {
            Phase::Uid => "uid",
            Phase::Atr => "atr",
            Phase::Select => "select",
            Phase::Authenticate => "authenticate",
            Phase::BlankCheck => "blank",
            Phase::Create(_) => "create",
            Phase::Write(_, _) => "write",
            Phase::Read(_) => "read",
        });
    }
    assert_eq!(
        phases.into_iter().collect::<Vec<_>>(),
        [
            "atr",
            "authenticate",
            "create",
            "read",
            "select",
            "uid",
            "write"
        ]
    );
}
