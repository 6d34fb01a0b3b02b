//! The virtual card and SAM driven by hand, in process: the station's side is written
//! here with [`SmHost`], [`IfdAuth`] and the SAM's commands.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use rekam_iso7816::{Command, Response, StatusWord, tlv};

use super::*;
use crate::sm::{self, IfdAuth, SessionKeys, SmHost, Suite};

/// Sends a command to anything with a `process`, in short form unless it needs extended.
fn send(process: &mut dyn FnMut(&[u8]) -> Vec<u8>, cmd: &Command) -> Response {
    let bytes = cmd.to_bytes(cmd.needs_extended()).unwrap();
    Response::parse(&process(&bytes)).unwrap()
}

fn to_card(card: &mut VirtualCard, cmd: &Command) -> Response {
    send(&mut |a| card.process(a), cmd)
}

fn to_sam(sam: &mut VirtualSam, cmd: &Command) -> Response {
    send(&mut |a| sam.process(a), cmd)
}

/// Sends a command under secure messaging and opens the answer.
fn sm_send(card: &mut VirtualCard, host: &mut SmHost, cmd: &Command) -> Response {
    let wrapped = host.wrap(cmd).unwrap();
    let answer = to_card(card, &wrapped);
    host.unwrap(&answer).unwrap()
}

fn sw(r: &Response) -> u16 {
    r.sw.0
}

fn select_app() -> Command {
    Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(LDS1_AID.to_vec())
}

fn get_challenge() -> Command {
    Command::new(0x00, 0x84, 0x00, 0x00).with_le(8)
}

fn mutual_auth(data: Vec<u8>) -> Command {
    mutual_auth_in(Suite::Tdes, data)
}

fn mutual_auth_in(suite: Suite, data: Vec<u8>) -> Command {
    Command::new(0x00, 0x82, suite.reference(), 0x00)
        .with_data(data)
        .with_le(0x28)
}

/// The FCP of a transparent EF.
fn fcp(fid: u16, size: u16) -> Vec<u8> {
    let [s1, s2] = size.to_be_bytes();
    let [f1, f2] = fid.to_be_bytes();
    vec![
        0x62, 0x0B, 0x80, 0x02, s1, s2, 0x82, 0x01, 0x01, 0x83, 0x02, f1, f2,
    ]
}

fn create(fid: u16, size: u16) -> Command {
    Command::new(0x00, 0xE0, 0x00, 0x00).with_data(fcp(fid, size))
}

fn update(offset: usize, data: &[u8]) -> Command {
    let [p1, p2] = (offset as u16).to_be_bytes();
    Command::new(0x00, 0xD6, p1, p2).with_data(data.to_vec())
}

fn read(offset: usize, le: usize) -> Command {
    let [p1, p2] = (offset as u16).to_be_bytes();
    Command::new(0x00, 0xB0, p1, p2).with_le(le)
}

fn select_ef(fid: u16) -> Command {
    Command::new(0x00, 0xA4, 0x02, 0x0C).with_data(fid.to_be_bytes().to_vec())
}

/// Authenticates the station to the card through the SAM, as the driver does: SELECT the
/// application, GET DATA (UID), GET CHALLENGE, SAM AUTH INIT, MUTUAL AUTHENTICATE, SAM AUTH
/// FINISH. Returns the card's answer to MUTUAL AUTHENTICATE and, when the SAM accepted it,
/// the secure messaging session.
fn authenticate_with_sam(card: &mut VirtualCard, sam: &mut VirtualSam) -> (u16, Option<SmHost>) {
    authenticate_in(Suite::Aes128, card, sam)
}

/// [`authenticate_with_sam`] in `suite`.
fn authenticate_in(
    suite: Suite,
    card: &mut VirtualCard,
    sam: &mut VirtualSam,
) -> (u16, Option<SmHost>) {
    let selected = to_card(card, &select_app());
    assert!(matches!(sw(&selected), 0x9000 | 0x6283));
    let uid = to_card(card, &Command::new(0xFF, 0xCA, 0x00, 0x00).with_le(256));
    assert_eq!(sw(&uid), 0x9000);
    let challenge = to_card(card, &get_challenge());
    assert_eq!((sw(&challenge), challenge.data.len()), (0x9000, 8));

    let r = to_sam(
        sam,
        &Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(SAM_AID.to_vec()),
    );
    assert_eq!(sw(&r), 0x9000);
    let mut init = uid.data.clone();
    init.extend_from_slice(&challenge.data);
    let e_ifd = to_sam(
        sam,
        &Command::new(0x80, 0xA0, suite.reference(), 0x00)
            .with_data(init)
            .with_le(0x28),
    );
    assert_eq!((sw(&e_ifd), e_ifd.data.len()), (0x9000, 40));

    let answer = to_card(card, &mutual_auth_in(suite, e_ifd.data));
    if sw(&answer) != 0x9000 {
        return (sw(&answer), None);
    }
    let keys = to_sam(
        sam,
        &Command::new(0x80, 0xA2, 0x00, 0x00)
            .with_data(answer.data)
            .with_le(256),
    );
    assert_eq!(sw(&keys), 0x9000);
    let keys = SessionKeys::from_bytes(suite, &keys.data).unwrap();
    (0x9000, Some(SmHost::new(keys)))
}

/// Writes `data` into a new EF in chunks that fit one protected APDU.
fn write_ef(card: &mut VirtualCard, host: &mut SmHost, fid: u16, data: &[u8]) {
    let r = sm_send(card, host, &create(fid, data.len() as u16));
    assert_eq!(sw(&r), 0x9000);
    let chunk = sm::max_plain_data(host.suite(), card.max_command_data());
    for (i, part) in data.chunks(chunk).enumerate() {
        let r = sm_send(card, host, &update(i * chunk, part));
        assert_eq!(sw(&r), 0x9000, "chunk {i}");
    }
}

/// Reads an EF back under secure messaging until the card says the end came.
fn read_ef(card: &mut VirtualCard, host: &mut SmHost, fid: u16, le: usize) -> Vec<u8> {
    let r = sm_send(card, host, &select_ef(fid));
    assert_eq!(sw(&r), 0x9000);
    let mut out = Vec::new();
    loop {
        let r = sm_send(card, host, &read(out.len(), le));
        match sw(&r) {
            0x9000 => out.extend_from_slice(&r.data),
            0x6282 => {
                out.extend_from_slice(&r.data);
                return out;
            }
            0x6B00 => return out,
            other => panic!("READ BINARY answered {other:04X}"),
        }
    }
}

fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

#[test]
fn secure_personalisation_through_the_sam() {
    let configs = [CardConfig::default(), CardConfig::default().short_only()];
    for (config, suite) in configs
        .iter()
        .flat_map(|c| Suite::ALL.map(|s| (c.clone(), s)))
    {
        let mut card = VirtualCard::new(config.clone());
        let mut sam = VirtualSam::new(DEV_MASTER_KEY);
        let (status, host) = authenticate_in(suite, &mut card, &mut sam);
        assert_eq!(status, 0x9000);
        let mut host = host.unwrap();
        assert_eq!(host.suite(), suite);
        assert!(card.authenticated());

        let com = sample(23);
        let dg2 = sample(3000);
        write_ef(&mut card, &mut host, 0x011E, &com);
        write_ef(&mut card, &mut host, 0x0102, &dg2);
        let le = if config.extended { 1000 } else { 200 };
        assert_eq!(read_ef(&mut card, &mut host, 0x011E, le), com);
        assert_eq!(read_ef(&mut card, &mut host, 0x0102, le), dg2);
        let files = card.files();
        assert_eq!(files.len(), 2);
        assert_eq!(files[&0x0102], dg2);
        assert_eq!(card.used(), 23 + 3000 + 2 * FILE_OVERHEAD);
    }
}

#[test]
fn the_station_can_authenticate_without_a_sam() {
    // The station holding the card keys itself (IfdAuth directly).
    let config = CardConfig::default();
    let keys = sm::derive_card_keys(Suite::Tdes, &config.master_key, &config.uid);
    let mut card = VirtualCard::new(config);
    assert_eq!(sw(&to_card(&mut card, &select_app())), 0x9000);
    let rnd_icc: [u8; 8] = to_card(&mut card, &get_challenge())
        .data
        .try_into()
        .unwrap();
    let (ifd, data) = IfdAuth::begin(&keys, rnd_icc, [0x11; 8], [0x22; 16]);
    let answer = to_card(&mut card, &mutual_auth(data.to_vec()));
    assert_eq!(sw(&answer), 0x9000);
    let mut host = SmHost::new(ifd.finish(&answer.data).unwrap());
    write_ef(&mut card, &mut host, 0x0101, b"P<UTOERIKSSON<<ANNA<MARIA");
    assert_eq!(
        read_ef(&mut card, &mut host, 0x0101, 256),
        b"P<UTOERIKSSON<<ANNA<MARIA"
    );
}

#[test]
fn wrong_keys_are_refused_before_anything_is_written() {
    let mut card = VirtualCard::new(CardConfig::default());
    let mut sam = VirtualSam::new([0x55; 16]);
    let (status, host) = authenticate_with_sam(&mut card, &mut sam);
    assert_eq!(status, 0x6300);
    assert!(host.is_none() && !card.authenticated());
    // Nothing can be written now: plain commands need authentication, protected ones a
    // session.
    assert_eq!(sw(&to_card(&mut card, &create(0x011E, 10))), 0x6982);
    let mut guess = SmHost::new(SessionKeys {
        suite: Suite::Aes128,
        ks_enc: [1; 16],
        ks_mac: [2; 16],
        ssc: 0,
    });
    let wrapped = guess.wrap(&create(0x011E, 10)).unwrap();
    assert_eq!(sw(&to_card(&mut card, &wrapped)), 0x6988);
    // A second MUTUAL AUTHENTICATE without a new challenge: 6985.
    assert_eq!(sw(&to_card(&mut card, &mutual_auth(vec![0; 40]))), 0x6985);
    assert!(card.files().is_empty());
}

#[test]
fn a_bad_mac_ends_the_session() {
    let mut card = VirtualCard::new(CardConfig::default());
    let mut sam = VirtualSam::new(DEV_MASTER_KEY);
    let mut host = authenticate_with_sam(&mut card, &mut sam).1.unwrap();
    write_ef(&mut card, &mut host, 0x011E, &[0xAA; 16]);

    let mut wrapped = host.wrap(&update(0, &[0xBB; 16])).unwrap();
    let last = wrapped.data.len() - 1;
    wrapped.data[last] ^= 0x01;
    assert_eq!(
        to_card(&mut card, &wrapped),
        Response::status(StatusWord(0x6988))
    );
    assert!(!card.authenticated());
    assert_eq!(card.files()[&0x011E], vec![0xAA; 16]);
    // The session is gone: even a correct command is refused now.
    let wrapped = host.wrap(&update(0, &[0xBB; 16])).unwrap();
    assert_eq!(sw(&to_card(&mut card, &wrapped)), 0x6988);
    // A plain command in the secure profile is refused too.
    assert_eq!(sw(&to_card(&mut card, &update(0, &[0xBB; 16]))), 0x6982);
    assert_eq!(card.files()[&0x011E], vec![0xAA; 16]);
}

#[test]
fn a_plain_command_during_a_session_ends_it() {
    let mut card = VirtualCard::new(CardConfig::default());
    let mut host = authenticate_with_sam(&mut card, &mut VirtualSam::new(DEV_MASTER_KEY))
        .1
        .unwrap();
    assert_eq!(sw(&to_card(&mut card, &select_ef(0x011E))), 0x6982);
    assert!(!card.authenticated());
    let wrapped = host.wrap(&create(0x011E, 4)).unwrap();
    assert_eq!(sw(&to_card(&mut card, &wrapped)), 0x6988);
}

#[test]
fn reset_and_power_drop_the_session_and_selection() {
    let mut card = VirtualCard::new(CardConfig::default());
    let mut sam = VirtualSam::new(DEV_MASTER_KEY);
    let mut host = authenticate_with_sam(&mut card, &mut sam).1.unwrap();
    write_ef(&mut card, &mut host, 0x011E, &[1, 2, 3]);
    card.reset();
    assert!(!card.authenticated());
    let wrapped = host.wrap(&read(0, 3)).unwrap();
    assert_eq!(sw(&to_card(&mut card, &wrapped)), 0x6988);
    // After power off and on, a new authentication finds the files as they were.
    card.power_off();
    card.power_on();
    let mut host = authenticate_with_sam(&mut card, &mut sam).1.unwrap();
    assert_eq!(read_ef(&mut card, &mut host, 0x011E, 256), vec![1, 2, 3]);
    // MUTUAL AUTHENTICATE without GET CHALLENGE: 6985.
    assert_eq!(sw(&to_card(&mut card, &select_app())), 0x9000);
    assert_eq!(sw(&to_card(&mut card, &mutual_auth(vec![0; 40]))), 0x6985);
}

#[test]
fn memory_full_and_capacity() {
    let mut card = VirtualCard::new(CardConfig {
        capacity: 1000,
        ..CardConfig::default()
    });
    let mut host = authenticate_with_sam(&mut card, &mut VirtualSam::new(DEV_MASTER_KEY))
        .1
        .unwrap();
    // 1000 bytes hold a file of 968 (968 + 32), not 969.
    assert_eq!(
        sw(&sm_send(&mut card, &mut host, &create(0x0101, 969))),
        0x6A84
    );
    assert_eq!(
        sw(&sm_send(&mut card, &mut host, &create(0x0101, 968))),
        0x9000
    );
    assert_eq!(
        sw(&sm_send(&mut card, &mut host, &create(0x0102, 1))),
        0x6A84
    );
    assert_eq!(
        sw(&sm_send(&mut card, &mut host, &create(0x0101, 1))),
        0x6A89
    );

    let mut card = VirtualCard::new(CardConfig::default());
    card.set_faults(CardFaults {
        memory_full: true,
        ..CardFaults::default()
    });
    let mut host = authenticate_with_sam(&mut card, &mut VirtualSam::new(DEV_MASTER_KEY))
        .1
        .unwrap();
    assert_eq!(
        sw(&sm_send(&mut card, &mut host, &create(0x011E, 10))),
        0x6A84
    );
    assert!(card.files().is_empty());
}

#[test]
fn a_locked_card_cannot_be_written() {
    let mut card = VirtualCard::new(CardConfig {
        locked: true,
        preloaded: vec![(0x011E, vec![0x60, 0x01, 0x00])],
        ..CardConfig::default()
    });
    assert_eq!(sw(&to_card(&mut card, &select_app())), 0x6283);
    let (status, host) = authenticate_with_sam(&mut card, &mut VirtualSam::new(DEV_MASTER_KEY));
    assert_eq!(status, 0x9000);
    let mut host = host.unwrap();
    assert_eq!(
        sw(&sm_send(&mut card, &mut host, &create(0x0101, 10))),
        0x6985
    );
    assert_eq!(
        sw(&sm_send(&mut card, &mut host, &select_ef(0x011E))),
        0x9000
    );
    assert_eq!(
        sw(&sm_send(&mut card, &mut host, &update(0, &[0x61]))),
        0x6985
    );
    assert_eq!(card.files()[&0x011E], vec![0x60, 0x01, 0x00]);
}

#[test]
fn a_card_that_is_not_blank_shows_its_ef_com() {
    let ef_com = vec![0x60, 0x05, 0x5C, 0x03, 0x61, 0x75, 0x6B];
    let mut card = VirtualCard::new(CardConfig {
        preloaded: vec![(0x011E, ef_com.clone())],
        ..CardConfig::default()
    });
    let mut host = authenticate_with_sam(&mut card, &mut VirtualSam::new(DEV_MASTER_KEY))
        .1
        .unwrap();
    assert_eq!(read_ef(&mut card, &mut host, 0x011E, 256), ef_com);
    assert_eq!(
        sw(&sm_send(&mut card, &mut host, &create(0x011E, 10))),
        0x6A89
    );
    // An EF that is not there.
    assert_eq!(
        sw(&sm_send(&mut card, &mut host, &select_ef(0x0102))),
        0x6A82
    );
}

#[test]
fn read_and_update_at_the_end_of_a_file() {
    let mut card = VirtualCard::new(CardConfig {
        secure: false,
        ..CardConfig::default()
    });
    assert_eq!(sw(&to_card(&mut card, &select_app())), 0x9000);
    assert_eq!(sw(&to_card(&mut card, &read(0, 4))), 0x6986);
    assert_eq!(sw(&to_card(&mut card, &create(0x0101, 10))), 0x9000);
    assert_eq!(sw(&to_card(&mut card, &update(8, &[1, 2]))), 0x9000);
    assert_eq!(sw(&to_card(&mut card, &update(9, &[1, 2]))), 0x6700);
    assert_eq!(sw(&to_card(&mut card, &update(10, &[1]))), 0x6B00);
    let r = to_card(&mut card, &read(6, 8));
    assert_eq!((sw(&r), r.data), (0x6282, vec![0, 0, 1, 2]));
    let r = to_card(&mut card, &read(6, 4));
    assert_eq!((sw(&r), r.data), (0x9000, vec![0, 0, 1, 2]));
    assert_eq!(sw(&to_card(&mut card, &read(10, 1))), 0x6B00);
    // Plain profile: no authentication, no secure messaging.
    assert_eq!(sw(&to_card(&mut card, &mutual_auth(vec![0; 40]))), 0x6D00);
    let mut host = SmHost::new(SessionKeys {
        suite: Suite::Tdes,
        ks_enc: [1; 16],
        ks_mac: [2; 16],
        ssc: 0,
    });
    let wrapped = host.wrap(&read(0, 4)).unwrap();
    assert_eq!(sw(&to_card(&mut card, &wrapped)), 0x6882);
}

#[test]
fn short_only_cards_refuse_extended_apdus() {
    let mut short = VirtualCard::new(CardConfig {
        secure: false,
        ..CardConfig::default().short_only()
    });
    let mut long = VirtualCard::new(CardConfig {
        secure: false,
        ..CardConfig::default()
    });
    // Card capabilities 73 C8 40 xx: extended length (40) only on the extended card.
    assert_eq!(short.atr()[10], 0x80);
    assert_eq!(long.atr()[10], 0xC0);
    assert!(crate::atr::checksum_ok(&short.atr()));
    for card in [&mut short, &mut long] {
        assert_eq!(sw(&to_card(card, &select_app())), 0x9000);
        assert_eq!(sw(&to_card(card, &create(0x0101, 600))), 0x9000);
    }
    // The same 2-byte READ BINARY, in extended form.
    let extended = read(0, 2).to_bytes(true).unwrap();
    assert_eq!(short.process(&extended), vec![0x67, 0x00]);
    assert_eq!(long.process(&extended), vec![0, 0, 0x90, 0x00]);
    // 300 bytes of data cannot travel short; the long card takes them.
    let big = update(0, &[7; 300]);
    assert_eq!(sw(&to_card(&mut short, &big)), 0x6700);
    assert_eq!(sw(&to_card(&mut long, &big)), 0x9000);
    // A short card answers at most 256 bytes, an extended one up to its maximum.
    assert_eq!(to_card(&mut short, &read(0, 256)).data.len(), 256);
    assert_eq!(to_card(&mut long, &read(0, 600)).data.len(), 600);
    // More data than the card takes in one APDU.
    let too_big = update(0, &[7; 1025]);
    assert_eq!(sw(&to_card(&mut long, &too_big)), 0x6700);
}

#[test]
fn command_chaining() {
    // Plain: two chained parts then the last one.
    let mut card = VirtualCard::new(CardConfig {
        secure: false,
        ..CardConfig::default().short_only()
    });
    assert_eq!(sw(&to_card(&mut card, &select_app())), 0x9000);
    let mut chained_create = create(0x0101, 600);
    chained_create.cla = 0x10;
    let fcp_all = chained_create.data.clone();
    chained_create.data = fcp_all[..5].to_vec();
    assert_eq!(sw(&to_card(&mut card, &chained_create)), 0x9000);
    let mut last = create(0x0101, 600);
    last.data = fcp_all[5..].to_vec();
    assert_eq!(sw(&to_card(&mut card, &last)), 0x9000);

    let data = sample(600);
    for (i, part) in data.chunks(255).enumerate() {
        let mut cmd = update(0, part);
        if (i + 1) * 255 < data.len() {
            cmd.cla = 0x10;
        }
        assert_eq!(sw(&to_card(&mut card, &cmd)), 0x9000, "part {i}");
    }
    assert_eq!(card.files()[&0x0101], data);
    // Chaining is for UPDATE BINARY and CREATE FILE only.
    let mut chained_read = read(0, 4);
    chained_read.cla = 0x10;
    assert_eq!(sw(&to_card(&mut card, &chained_read)), 0x6884);

    // Under secure messaging: each part protected on its own.
    let mut card = VirtualCard::new(CardConfig::default().short_only());
    let mut host = authenticate_with_sam(&mut card, &mut VirtualSam::new(DEV_MASTER_KEY))
        .1
        .unwrap();
    assert_eq!(
        sw(&sm_send(&mut card, &mut host, &create(0x0102, 500))),
        0x9000
    );
    let data = sample(500);
    let parts: Vec<&[u8]> = data.chunks(200).collect();
    for (i, part) in parts.iter().enumerate() {
        let mut cmd = update(0, part);
        if i + 1 < parts.len() {
            cmd.cla = 0x10;
        }
        let wrapped = host.wrap(&cmd).unwrap();
        assert_eq!(wrapped.cla, cmd.cla | 0x0C);
        let r = host.unwrap(&to_card(&mut card, &wrapped)).unwrap();
        assert_eq!(sw(&r), 0x9000, "part {i}");
    }
    assert_eq!(card.files()[&0x0102], data);
}

#[test]
fn the_wrong_sw_fault_answers_the_nth_apdu() {
    let mut card = VirtualCard::new(CardConfig::default());
    card.set_faults(CardFaults {
        wrong_sw: Some((3, 0x6F00)),
        ..CardFaults::default()
    });
    assert_eq!(sw(&to_card(&mut card, &select_app())), 0x9000);
    assert_eq!(sw(&to_card(&mut card, &get_challenge())), 0x9000);
    assert_eq!(
        to_card(&mut card, &get_challenge()),
        Response::status(StatusWord(0x6F00))
    );
    assert_eq!(sw(&to_card(&mut card, &get_challenge())), 0x9000);
    assert_eq!(card.apdu_count(), 4);
}

#[test]
fn the_sam_checks_its_sequence() {
    let mut sam = VirtualSam::new(DEV_MASTER_KEY);
    let init = Command::new(0x80, 0xA0, 0x00, 0x00)
        .with_data(vec![4, 1, 2, 3, 4, 5, 6, 9, 9, 9, 9, 9, 9, 9, 9])
        .with_le(0x28);
    let finish = |data: Vec<u8>| {
        Command::new(0x80, 0xA2, 0x00, 0x00)
            .with_data(data)
            .with_le(0x28)
    };
    // Not selected.
    assert_eq!(sw(&to_sam(&mut sam, &init)), 0x6985);
    let other_aid = Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(LDS1_AID.to_vec());
    assert_eq!(sw(&to_sam(&mut sam, &other_aid)), 0x6A82);
    let select = Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(SAM_AID.to_vec());
    assert_eq!(sw(&to_sam(&mut sam, &select)), 0x9000);
    // FINISH without INIT.
    assert_eq!(sw(&to_sam(&mut sam, &finish(vec![0; 40]))), 0x6985);
    // A card answer that is not the card's: 6300, and the INIT is used up.
    assert_eq!(sw(&to_sam(&mut sam, &init)), 0x9000);
    assert_eq!(sw(&to_sam(&mut sam, &finish(vec![0; 40]))), 0x6300);
    assert_eq!(sw(&to_sam(&mut sam, &finish(vec![0; 40]))), 0x6985);
    // Lengths and unknown instructions.
    let short_init = Command::new(0x80, 0xA0, 0x00, 0x00).with_data(vec![1; 8]);
    assert_eq!(sw(&to_sam(&mut sam, &short_init)), 0x6700);
    assert_eq!(
        sw(&to_sam(&mut sam, &Command::new(0x80, 0x10, 0, 0))),
        0x6D00
    );
    assert_eq!(
        sw(&to_sam(&mut sam, &Command::new(0xA0, 0xA0, 0, 0))),
        0x6E00
    );
    // A reset forgets the selection.
    sam.reset();
    assert_eq!(sw(&to_sam(&mut sam, &init)), 0x6985);
}

#[test]
fn the_sam_never_hands_out_the_card_keys() {
    // The card's keys appear in no answer of the SAM (only session keys do).
    let config = CardConfig::default();
    let keys = sm::derive_card_keys(Suite::Tdes, &config.master_key, &config.uid);
    let mut card = VirtualCard::new(config);
    let mut sam = VirtualSam::new(DEV_MASTER_KEY);
    let mut answers = Vec::new();
    let mut record = |a: &[u8]| {
        let r = sam.process(a);
        answers.extend_from_slice(&r);
        r
    };
    to_card(&mut card, &select_app());
    let challenge = to_card(&mut card, &get_challenge()).data;
    send(
        &mut record,
        &Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(SAM_AID.to_vec()),
    );
    let mut init = card.config().uid.clone();
    init.extend_from_slice(&challenge);
    let e_ifd = send(
        &mut record,
        &Command::new(0x80, 0xA0, 0, 0).with_data(init).with_le(0x28),
    );
    let answer = to_card(&mut card, &mutual_auth(e_ifd.data));
    let session = send(
        &mut record,
        &Command::new(0x80, 0xA2, 0, 0)
            .with_data(answer.data)
            .with_le(256),
    );
    assert_eq!(sw(&session), 0x9000);
    for secret in [&keys.k_enc[..], &keys.k_mac[..], &DEV_MASTER_KEY[..]] {
        assert!(!answers.windows(16).any(|w| w == secret));
    }
}

#[test]
fn get_data_and_unsupported_commands() {
    let mut card = VirtualCard::new(CardConfig::default());
    let uid = to_card(
        &mut card,
        &Command::new(0xFF, 0xCA, 0x00, 0x00).with_le(256),
    );
    assert_eq!(uid, Response::ok(card.config().uid.clone()));
    let unknown_aid = Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(vec![0xA0, 0, 0, 0]);
    assert_eq!(sw(&to_card(&mut card, &unknown_aid)), 0x6A82);
    assert_eq!(
        sw(&to_card(&mut card, &Command::new(0x80, 0x50, 0, 0))),
        0x6E00
    );
    assert_eq!(
        sw(&to_card(&mut card, &Command::new(0x00, 0x50, 0, 0))),
        0x6D00
    );
    assert_eq!(card.process(&[0x00, 0xA4]), vec![0x67, 0x00]);
    assert_eq!(
        card.process(&[0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0]),
        vec![0x67, 0x00]
    );
    assert_eq!(
        sw(&to_card(
            &mut card,
            &Command::new(0x00, 0x84, 0x00, 0x00).with_le(16)
        )),
        0x6700
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn process_answers_anything(
        apdus in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..8),
        secure in any::<bool>(),
        extended in any::<bool>(),
    ) {
        let base = CardConfig { secure, capacity: 2000, ..CardConfig::default() };
        let config = if extended { base } else { base.short_only() };
        let mut card = VirtualCard::new(config);
        let mut sam = VirtualSam::new(DEV_MASTER_KEY);
        // Some state first: application selected, a challenge pending.
        card.process(&select_app().to_bytes(false).unwrap());
        card.process(&get_challenge().to_bytes(false).unwrap());
        for apdu in &apdus {
            let r = card.process(apdu);
            prop_assert!(r.len() >= 2);
            let r = sam.process(apdu);
            prop_assert!(r.len() >= 2);
        }
    }

    #[test]
    fn process_answers_any_header_with_valid_lengths(
        cla in prop_oneof![Just(0x00u8), Just(0x0C), Just(0x10), Just(0x1C), Just(0xFF), any::<u8>()],
        ins in prop_oneof![Just(0xA4u8), Just(0xB0), Just(0xD6), Just(0xE0), Just(0x82), Just(0x84), any::<u8>()],
        p1 in any::<u8>(),
        p2 in any::<u8>(),
        data in proptest::collection::vec(any::<u8>(), 0..600),
        le in proptest::option::of(1usize..=65536),
    ) {
        let mut card = VirtualCard::new(CardConfig { secure: false, ..CardConfig::default() });
        card.process(&select_app().to_bytes(false).unwrap());
        card.process(&create(0x0101, 100).to_bytes(false).unwrap());
        let cmd = Command { cla, ins, p1, p2, data, le };
        let r = card.process(&cmd.to_bytes(true).unwrap());
        prop_assert!(r.len() >= 2);
    }
}

#[test]
fn the_fci_lists_the_suites_and_authentication_takes_one_of_them() {
    let select_fci = |aid: &[u8]| {
        Command::new(0x00, 0xA4, 0x04, 0x00)
            .with_data(aid.to_vec())
            .with_le(256)
    };
    // A card with both keys lists both; an older one 3DES alone; a plain card none.
    let mut card = VirtualCard::new(CardConfig::default());
    let fci = to_card(&mut card, &select_fci(&LDS1_AID));
    assert_eq!(sw(&fci), 0x9000);
    assert_eq!(sm::fci_suites(&fci.data), Suite::ALL.to_vec());
    assert_eq!(fci.data, sm::fci(&LDS1_AID, &Suite::ALL));
    let old = CardConfig::default().with_suites(&[Suite::Tdes]);
    let mut old_card = VirtualCard::new(old.clone());
    let fci = to_card(&mut old_card, &select_fci(&LDS1_AID));
    assert_eq!(sm::fci_suites(&fci.data), vec![Suite::Tdes]);
    let mut plain = VirtualCard::new(CardConfig {
        secure: false,
        ..CardConfig::default()
    });
    let fci = to_card(&mut plain, &select_fci(&LDS1_AID));
    assert_eq!(sw(&fci), 0x9000);
    assert!(tlv::find_path(&fci.data, &[0x6F, 0xAC]).unwrap().is_none());
    // P2 0C: no data.
    assert_eq!(to_card(&mut card, &select_app()), Response::ok(Vec::new()));

    // AES asked of a card with 3DES keys only: refused (6A86), nothing authenticated.
    let mut sam = VirtualSam::new(DEV_MASTER_KEY);
    let (status, host) = authenticate_in(Suite::Aes128, &mut old_card, &mut sam);
    assert_eq!((status, host.is_none()), (0x6A86, true));
    assert!(!old_card.authenticated());
    // 3DES works on it.
    let mut old_card = VirtualCard::new(old);
    let (status, host) = authenticate_in(Suite::Tdes, &mut old_card, &mut sam);
    assert_eq!((status, host.unwrap().suite()), (0x9000, Suite::Tdes));
    // An unknown mechanism reference: 6A86.
    to_card(&mut card, &select_app());
    to_card(&mut card, &get_challenge());
    let unknown = Command::new(0x00, 0x82, 0x07, 0x00)
        .with_data(vec![0; 40])
        .with_le(40);
    assert_eq!(sw(&to_card(&mut card, &unknown)), 0x6A86);

    // The SAM lists its suites too, and refuses an AUTH INIT in one it lacks.
    let mut old_sam = VirtualSam::with_suites(DEV_MASTER_KEY, &[Suite::Tdes]);
    let fci = to_sam(&mut old_sam, &select_fci(&SAM_AID));
    assert_eq!(sm::fci_suites(&fci.data), vec![Suite::Tdes]);
    let fci = to_sam(&mut sam, &select_fci(&SAM_AID));
    assert_eq!(sm::fci_suites(&fci.data), Suite::ALL.to_vec());
    let init = Command::new(0x80, 0xA0, Suite::Aes128.reference(), 0x00)
        .with_data(vec![4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14])
        .with_le(40);
    assert_eq!(sw(&to_sam(&mut old_sam, &init)), 0x6A86);
    assert_eq!(sw(&to_sam(&mut sam, &init)), 0x9000);
}

#[test]
fn aes_session_keys_are_48_bytes_and_differ_from_3des() {
    let config = CardConfig::default();
    let tdes = sm::derive_card_keys(Suite::Tdes, &config.master_key, &config.uid);
    let aes = sm::derive_card_keys(Suite::Aes128, &config.master_key, &config.uid);
    // The same seed: AES keys are the 3DES keys without the parity adjustment.
    assert_ne!(tdes.k_enc, aes.k_enc);
    for (t, a) in tdes.k_enc.iter().zip(&aes.k_enc) {
        assert_eq!(t & 0xFE, a & 0xFE);
    }
    let mut card = VirtualCard::new(config);
    let mut sam = VirtualSam::new(DEV_MASTER_KEY);
    let host = authenticate_in(Suite::Aes128, &mut card, &mut sam)
        .1
        .unwrap();
    // The SSC starts from the challenges' low halves, in a 128-bit counter.
    assert!(host.ssc() < 1 << 64);
}
