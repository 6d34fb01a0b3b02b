//! Chip personalization through the real PC/SC stack (issue 17's performance section): a
//! private pcscd with vpcd readers ([`rekam_encoder::testbed`]), the virtual SAM in one slot
//! for the whole run and a fresh blank [`VirtualCard`] in the other for every
//! personalization, [`PcscEncoder`] talking to pcscd through libpcsclite.
//!
//! For an ~8 KB and a ~32 KB profile (six files filling the card but for each file's 32-byte
//! header), on an extended-length card (1024 bytes of data per APDU) and on a short-only
//! card, each with AES-128 and with 3DES secure messaging (a card with both keys, on which
//! the station takes AES, and one with 3DES keys only), it
//!
//! - counts the chip round trips of a write (authentication, blank check, file creation and
//!   UPDATE BINARY: `PcscEncoder::write_files` on a fresh card) and of a whole
//!   `rekam_core::write_and_verify` (write, read back, compare), with their bytes;
//! - checks the bound: a write takes at most `ceil(payload / chunk) + 16` round
//!   trips, `chunk` being the data one UPDATE BINARY carries after secure-messaging overhead.
//!   **A write over the bound fails the bench (exit 1)**: that is a correctness check;
//! - times `REKAM_BENCH_RUNS` (default 10) personalizations (`write_and_verify`, each on a
//!   fresh blank card) and reports their median as a ratio to the lower bound the round
//!   trips set: card round trips × the median of `REKAM_BENCH_RTT` (default 500) trivial
//!   APDUs (`FF CA 00 00 00`, GET DATA of the UID) on the card reader, plus 3 SAM round
//!   trips (SELECT, AUTH INIT, AUTH FINISH) × the median of as many SELECTs on the SAM
//!   reader. The goal is 1.5x; timings are reported, never asserted.
//!
//! To say where the time goes it also times, per case, the same personalization in-process
//! (card and SAM called directly: the secure messaging and card work without PC/SC), one
//! APDU as large as the case's largest command, and the PC/SC session the driver opens and
//! closes around every operation (context, two connections, two transactions, the status
//! check at the end).
//!
//! libpcsclite reads `PCSCLITE_CSOCK_NAME` once, at its first call, so this bench has its
//! own `main` (`harness = false`), as `tests/pcsc.rs` has. Needs root and the Debian packages
//! `pcscd` and `vsmartcard-vpcd`.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::CString;
use std::time::{Duration, Instant};

use rekam_core::{ChipEncoder, ChipFile};
use rekam_encoder::pcsc::{Access, PcscEncoder};
use rekam_encoder::personalize::{APPLICATION_AID, LinkError, Sam, SamCard, Session};
use rekam_encoder::sm::{Suite, max_plain_data, max_plain_response};
use rekam_encoder::testbed::{PrivatePcscd, ReaderPair};
use rekam_encoder::vcard::{
    CardConfig, CardFaults, DEV_MASTER_KEY, FILE_OVERHEAD, SAM_AID, VirtualCard, VirtualSam,
    VpcdHandle,
};
use rekam_iso7816::{Stats, Transport};

/// The allowance on top of the data APDUs: authentication and file creation.
const BOUND_EXTRA: u64 = 16;
/// SAM round trips per session: SELECT, AUTH INIT, AUTH FINISH.
const SAM_ROUND_TRIPS: u64 = 3;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

fn tlv(tag: u32, value: &[u8]) -> Vec<u8> {
    rekam_iso7816::tlv::encode(tag, value)
}

/// `n` deterministic bytes that look like compressed image data (xorshift).
fn noise(seed: u32, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// DG2: one facial image in a biometric information template.
fn dg2(image_len: usize) -> Vec<u8> {
    let header = tlv(
        0xA1,
        &[tlv(0x80, &[1, 1]), tlv(0x87, &[1, 1]), tlv(0x88, &[0, 8])].concat(),
    );
    let mut image = b"\x00\x00\x00\x0CjP  \r\n\x87\n".to_vec();
    image.extend(noise(2, image_len.saturating_sub(image.len())));
    image.truncate(image_len);
    let bdb = tlv(0x7F60, &[header, tlv(0x5F2E, &image)].concat());
    tlv(0x75, &tlv(0x7F61, &[tlv(0x02, &[1]), bdb].concat()))
}

/// A KTP-el profile as six BER-TLV files whose total fills a card of `capacity` bytes but
/// for each file's [`FILE_OVERHEAD`]: EF.COM, DG1 (~300 B), DG2 (the rest: the portrait),
/// DG3 (~400 B: two fingerprint templates), DG7 (~1.5 KB: the signature), EF.SOD (~900 B).
fn make_profile(capacity: usize) -> Vec<ChipFile> {
    let com = tlv(
        0x60,
        &[
            tlv(0x5F01, b"0107"),
            tlv(0x5F36, b"040000"),
            tlv(0x5C, &[0x61, 0x75, 0x63, 0x67]),
        ]
        .concat(),
    );
    let text = "NIK=3171234567890123\nNAMA=SITI RAHAYU WULANDARI\n\
                TEMPAT/TGL LAHIR=JAKARTA, 17-08-1990\nJENIS KELAMIN=PEREMPUAN\n\
                GOL. DARAH=O\nALAMAT=JL. MELATI NO. 12\nRT/RW=004/007\nKEL/DESA=KEBON KACANG\n\
                KECAMATAN=TANAH ABANG\nAGAMA=ISLAM\nSTATUS PERKAWINAN=KAWIN\n\
                PEKERJAAN=KARYAWAN SWASTA\nKEWARGANEGARAAN=WNI\nBERLAKU HINGGA=SEUMUR HIDUP\n";
    let dg1 = tlv(0x61, &tlv(0x5F1F, text.as_bytes()));
    let finger = |seed| {
        tlv(
            0x7F61,
            &[
                tlv(0x02, &[1]),
                tlv(
                    0x7F60,
                    &[tlv(0xA1, &[0x81, 1, 8]), tlv(0x5F2E, &noise(seed, 170))].concat(),
                ),
            ]
            .concat(),
        )
    };
    let dg3 = tlv(0x63, &[finger(3), finger(4)].concat());
    let dg7 = tlv(
        0x67,
        &[tlv(0x02, &[1]), tlv(0x5F43, &noise(7, 1490))].concat(),
    );
    let sod = tlv(0x77, &tlv(0x30, &noise(0x1D, 890)));
    let budget = capacity - 6 * FILE_OVERHEAD;
    let others = com.len() + dg1.len() + dg3.len() + dg7.len() + sod.len();
    // The largest portrait that still fits (BER length headers grow with it).
    let mut image = budget - others;
    while others + dg2(image).len() > budget {
        image -= 1;
    }
    [
        (0x011E, com),
        (0x0101, dg1),
        (0x0102, dg2(image)),
        (0x0103, dg3),
        (0x0107, dg7),
        (0x011D, sod),
    ]
    .into_iter()
    .map(|(fid, data)| ChipFile { fid, data })
    .collect()
}

/// What one UPDATE BINARY and one READ BINARY carry under secure messaging on this card
/// (as `Session::write_chunk` / `read_chunk` work them out from EF.ATR/INFO or the ATR), in
/// the strongest suite it has (the SAM has them all).
fn chunks(config: &CardConfig) -> (usize, usize) {
    let suite = config.suites.iter().max().copied().unwrap_or(Suite::Tdes);
    let (cmd, resp) = if config.extended {
        (config.max_command_data, config.max_response_data)
    } else {
        (
            config.max_command_data.min(255),
            config.max_response_data.min(256),
        )
    };
    (max_plain_data(suite, cmd), max_plain_response(suite, resp))
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e6)
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

    /// A fresh card in the card reader.
    fn card(&self, config: &CardConfig) -> VpcdHandle<VirtualCard> {
        self.pcscd.wait_empty(&self.pair().card_reader).unwrap();
        self.pcscd
            .insert_card(config.clone(), CardFaults::default())
            .unwrap()
    }

    /// Waits until the encoder sees a card.
    fn wait_card(&self, enc: &PcscEncoder) {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.rt.block_on(enc.card_status()).unwrap();
            if s.reader_present && s.card_present {
                return;
            }
            assert!(Instant::now() < end, "the card never showed: {s:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The median of `n` round trips of `apdu` through `SCardTransmit` on `reader`, inside a
/// transaction as the driver's are; every answer must end 90 00.
fn rtt(reader: &str, apdu: &[u8], n: usize) -> Duration {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let name = CString::new(reader).unwrap();
    let mut card = ctx
        .connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
        .unwrap();
    let tx = card.transaction().unwrap();
    let mut buf = vec![0; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = tx.transmit(apdu, &mut buf).unwrap();
        times.push(t.elapsed());
        assert!(r.ends_with(&[0x90, 0x00]), "{reader}: answered {r:02X?}");
    }
    tx.end(pcsc::Disposition::LeaveCard)
        .map_err(|(_, e)| e)
        .unwrap();
    median(&mut times)
}

/// The median cost of the PC/SC session the driver opens and closes around every
/// operation, without its APDUs: a context, the card and the SAM connected (ATR read) and
/// in transactions, the card's status asked at the end, both transactions ended. The
/// median of each step goes to stderr.
fn session_cost(pair: &ReaderPair, n: usize) -> Duration {
    let card_name = CString::new(pair.card_reader.clone()).unwrap();
    let sam_name = CString::new(pair.sam_reader.clone()).unwrap();
    let protocols = pcsc::Protocols::T1 | pcsc::Protocols::T0;
    let mut times = Vec::with_capacity(n);
    let mut steps: Vec<Vec<Duration>> = vec![Vec::new(); 10];
    for _ in 0..n {
        let t = Instant::now();
        let mut lap = t;
        let mut mark = |i: usize| {
            let now = Instant::now();
            steps[i].push(now - lap);
            lap = now;
        };
        let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
        mark(0);
        let mut card = ctx
            .connect(&card_name, pcsc::ShareMode::Shared, protocols)
            .unwrap();
        mark(1);
        card.status2_owned().unwrap();
        mark(2);
        let tx = card.transaction().unwrap();
        mark(3);
        let mut sam = ctx
            .connect(&sam_name, pcsc::ShareMode::Shared, protocols)
            .unwrap();
        mark(4);
        sam.status2_owned().unwrap();
        let sam_tx = sam.transaction().unwrap();
        mark(5);
        tx.status2_owned().unwrap();
        mark(6);
        sam_tx
            .end(pcsc::Disposition::LeaveCard)
            .map_err(|(_, e)| e)
            .unwrap();
        tx.end(pcsc::Disposition::LeaveCard)
            .map_err(|(_, e)| e)
            .unwrap();
        mark(7);
        drop(sam);
        drop(card);
        mark(8);
        drop(ctx);
        mark(9);
        times.push(t.elapsed());
    }
    let m: Vec<String> = steps.iter_mut().map(|v| us(median(v))).collect();
    eprintln!(
        "  PC/SC session, median µs per step: establish {}, connect card {}, card status {}, \
         begin transaction {}, connect SAM {}, SAM status + transaction {}, card status at the \
         end {}, end both transactions {}, disconnect both {}, release {}",
        m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9]
    );
    median(&mut times)
}

/// A card (or SAM) in the field, called directly; the time it spends answering is added to
/// `busy`.
struct Direct<'a, C> {
    card: &'a mut C,
    answer: fn(&mut C, &[u8]) -> Vec<u8>,
    busy: &'a Cell<Duration>,
}

impl<C> Transport for Direct<'_, C> {
    type Error = LinkError;
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, LinkError> {
        let t = Instant::now();
        let r = (self.answer)(self.card, apdu);
        self.busy.set(self.busy.get() + t.elapsed());
        Ok(r)
    }
}

/// One personalization in-process, as the driver's session does it (SAM SELECT, UID,
/// EF.ATR/INFO, SELECT, authentication, blank check, write, read back, compare) with no
/// PC/SC in between: its time, the part of it the card and SAM spent answering, and the
/// chip's stats.
fn in_process(
    config: &CardConfig,
    files: &[ChipFile],
    sam: &mut VirtualSam,
) -> (Duration, Duration, Stats) {
    let mut card = VirtualCard::new(config.clone());
    card.power_on();
    let atr = card.atr();
    let sam_atr = sam.atr();
    let fids: Vec<u16> = files.iter().map(|f| f.fid).collect();
    let busy = Cell::new(Duration::ZERO);
    let t = Instant::now();
    let sam_link = Direct {
        card: sam,
        answer: VirtualSam::process,
        busy: &busy,
    };
    let mut samc = SamCard::open(sam_link, &sam_atr).unwrap();
    let card_link = Direct {
        card: &mut card,
        answer: VirtualCard::process,
        busy: &busy,
    };
    let mut s = Session::open(
        card_link,
        &atr,
        &APPLICATION_AID,
        Some(&mut samc as &mut dyn Sam),
    )
    .unwrap();
    s.personalize(files).unwrap();
    let back = s.read_files(&fids).unwrap();
    assert_eq!(back, files, "read back in-process");
    let took = t.elapsed();
    (took, busy.get(), s.stats())
}

/// One case's figures.
struct Row {
    profile: &'static str,
    card: &'static str,
    payload: usize,
    write_chunk: usize,
    read_chunk: usize,
    write: Stats,
    total: Stats,
    bound: u64,
    median: Duration,
    min: Duration,
    max: Duration,
    rtt_card: Duration,
    rtt_sam: Duration,
    rtt_full: Duration,
    session: Duration,
    in_process: Duration,
    /// The part of `in_process` the virtual card and SAM spent answering.
    in_process_card: Duration,
}

impl Row {
    fn lower_bound(&self) -> Duration {
        self.rtt_card * self.total.round_trips as u32 + self.rtt_sam * SAM_ROUND_TRIPS as u32
    }

    fn ratio(&self) -> f64 {
        self.median.as_secs_f64() / self.lower_bound().as_secs_f64()
    }

    /// The ratio once the virtual card's and SAM's own work (measured in-process) is taken
    /// out of the median: what the station's side costs against the round trips.
    fn ratio_without_simulator(&self) -> f64 {
        self.median
            .saturating_sub(self.in_process_card)
            .as_secs_f64()
            / self.lower_bound().as_secs_f64()
    }

    fn within_bound(&self) -> bool {
        self.write.round_trips <= self.bound
    }
}

fn run_case(
    bed: &Bed,
    enc: &PcscEncoder,
    profile: &'static str,
    kind: &'static str,
    config: &CardConfig,
    runs: usize,
    rtt_n: usize,
) -> Row {
    let files = make_profile(config.capacity);
    let payload: usize = files.iter().map(|f| f.data.len()).sum();
    let (write_chunk, read_chunk) = chunks(config);
    let pair = bed.pair().clone();

    // The write alone, on a fresh card: its round trips. The same card then serves the
    // round-trip floor (nothing the floor sends changes it).
    let card = bed.card(config);
    bed.wait_card(enc);
    bed.rt.block_on(enc.write_files(&files)).unwrap();
    let write = enc.last_stats().unwrap();
    let held = card.card().files();
    for f in &files {
        assert_eq!(
            held.get(&f.fid),
            Some(&f.data),
            "file {:04X} as written",
            f.fid
        );
    }
    let before = card.card().apdu_count();
    let rtt_card = rtt(&pair.card_reader, &[0xFF, 0xCA, 0x00, 0x00, 0x00], rtt_n);
    let mut select_sam = vec![0x00, 0xA4, 0x04, 0x0C, SAM_AID.len() as u8];
    select_sam.extend_from_slice(&SAM_AID);
    let rtt_sam = rtt(&pair.sam_reader, &select_sam, rtt_n);
    // One command as large as the largest this case sends (an UPDATE BINARY of a whole
    // chunk under secure messaging), as a GET DATA the card answers with its UID.
    let largest = if config.extended {
        config.max_command_data
    } else {
        255
    };
    let mut big = vec![0xFF, 0xCA, 0x00, 0x00];
    if config.extended {
        big.push(0);
        big.extend_from_slice(&(largest as u16).to_be_bytes());
    } else {
        big.push(largest as u8);
    }
    big.extend(noise(9, largest));
    let rtt_full = rtt(&pair.card_reader, &big, rtt_n);
    // Every one of them reached the virtual card (none was answered on the way).
    assert_eq!(card.card().apdu_count() - before, 2 * rtt_n as u64);
    let session = session_cost(&pair, rtt_n.div_ceil(5));
    card.stop();

    // authenticate + personalize + verify, each on a fresh blank card.
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let card = bed.card(config);
        bed.wait_card(enc);
        let t = Instant::now();
        let (uid, checks) = bed
            .rt
            .block_on(rekam_core::write_and_verify(enc, &files))
            .unwrap();
        times.push(t.elapsed());
        assert_eq!(uid, config.uid);
        assert!(checks.iter().all(|c| c.matches), "{checks:?}");
        card.stop();
    }
    let total = enc.last_stats().unwrap();
    let (min, max) = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
    let median_t = median(&mut times);

    let mut sam = VirtualSam::new(DEV_MASTER_KEY);
    let mut local = Vec::with_capacity(runs);
    let mut local_card = Vec::with_capacity(runs);
    for _ in 0..runs {
        let (t, card_t, stats) = in_process(config, &files, &mut sam);
        assert_eq!(stats, total, "in-process and PC/SC send the same APDUs");
        local.push(t);
        local_card.push(card_t);
    }

    Row {
        profile,
        card: kind,
        payload,
        write_chunk,
        read_chunk,
        write,
        total,
        bound: payload.div_ceil(write_chunk) as u64 + BOUND_EXTRA,
        median: median_t,
        min,
        max,
        rtt_card,
        rtt_sam,
        rtt_full,
        session,
        in_process: median(&mut local),
        in_process_card: median(&mut local_card),
    }
}

fn print_tables(rows: &[Row], runs: usize, rtt_n: usize) {
    println!();
    println!("Round trips (chip APDUs; the write: authentication, blank check, CREATE FILE and");
    println!("UPDATE BINARY; the bound: ceil(payload / chunk) + {BOUND_EXTRA}):");
    println!();
    println!(
        "| profile | card | payload (B) | chunk write / read (B) | write round trips | bound | within | read-back round trips | total round trips | bytes sent / received (total) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in rows {
        println!(
            "| {} | {} | {} | {} / {} | {} | {} | {} | {} | {} | {} / {} |",
            r.profile,
            r.card,
            r.payload,
            r.write_chunk,
            r.read_chunk,
            r.write.round_trips,
            r.bound,
            if r.within_bound() { "yes" } else { "**NO**" },
            r.total.round_trips - r.write.round_trips,
            r.total.round_trips,
            r.total.bytes_sent,
            r.total.bytes_received,
        );
    }
    println!();
    println!(
        "Time of authenticate + personalize + verify (`write_and_verify` through pcscd, median of {runs},"
    );
    println!(
        "min-max) against the lower bound = card round trips x t_rtt(card) + {SAM_ROUND_TRIPS} x t_rtt(SAM),"
    );
    println!(
        "t_rtt the medians of {rtt_n} trivial APDUs; the same personalization in-process (no PC/SC: the"
    );
    println!(
        "station's code, the virtual card and SAM called directly; median of {runs}, of which the card"
    );
    println!(
        "and SAM answering; the ratio without the simulator: (median - that part) / lower bound);"
    );
    println!("one full-size command APDU; the driver's PC/SC session without APDUs:");
    println!();
    println!(
        "| profile | card | median (min-max) ms | t_rtt card / SAM µs | lower bound ms | ratio | goal 1.5x | in-process ms (card + SAM part) | median - in-process ms | ratio without the simulator | full-size APDU µs | PC/SC session µs |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in rows {
        let ratio = r.ratio();
        println!(
            "| {} | {} | {} ({}-{}) | {} / {} | {} | {:.2}x | {} | {} ({}) | {} | {:.2}x | {} | {} |",
            r.profile,
            r.card,
            ms(r.median),
            ms(r.min),
            ms(r.max),
            us(r.rtt_card),
            us(r.rtt_sam),
            ms(r.lower_bound()),
            ratio,
            if ratio <= 1.5 { "met" } else { "**missed**" },
            ms(r.in_process),
            ms(r.in_process_card),
            ms(r.median.saturating_sub(r.in_process)),
            r.ratio_without_simulator(),
            us(r.rtt_full),
            us(r.session),
        );
    }
}

fn main() {
    let runs = env_usize("REKAM_BENCH_RUNS", 10);
    let rtt_n = env_usize("REKAM_BENCH_RTT", 500);
    let pcscd = PrivatePcscd::start(1).unwrap_or_else(|e| {
        eprintln!("personalize bench: cannot start a private pcscd: {e}");
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
    let bed = Bed {
        pcscd,
        rt,
        _sam: sam,
    };
    let pair = bed.pair().clone();
    let enc = PcscEncoder::open(
        "enc0",
        &pair.card_reader,
        Some(&pair.sam_reader),
        Access::Secure,
        Duration::from_secs(30),
    )
    .unwrap();

    let mut rows = Vec::new();
    for (profile, capacity) in [("8 KB", 8192), ("32 KB", 32768)] {
        let sizes: Vec<String> = make_profile(capacity)
            .iter()
            .map(|f| format!("{:04X} {} B", f.fid, f.data.len()))
            .collect();
        println!(
            "{profile} profile (card of {capacity} bytes, {FILE_OVERHEAD} per file): {}",
            sizes.join(", ")
        );
        let tdes = [Suite::Tdes];
        for (kind, config) in [
            ("extended (1024), AES", CardConfig::default()),
            (
                "extended (1024), 3DES",
                CardConfig::default().with_suites(&tdes),
            ),
            ("short-only, AES", CardConfig::default().short_only()),
            (
                "short-only, 3DES",
                CardConfig::default().short_only().with_suites(&tdes),
            ),
        ] {
            let config = CardConfig { capacity, ..config };
            let started = Instant::now();
            let row = run_case(&bed, &enc, profile, kind, &config, runs, rtt_n);
            eprintln!(
                "{profile} {kind}: {} write / {} total round trips, median {} ms ({} s for the case)",
                row.write.round_trips,
                row.total.round_trips,
                ms(row.median),
                started.elapsed().as_secs()
            );
            rows.push(row);
        }
    }
    print_tables(&rows, runs, rtt_n);
    let over: Vec<String> = rows
        .iter()
        .filter(|r| !r.within_bound())
        .map(|r| {
            format!(
                "{} on {}: {} write round trips, bound {}",
                r.profile, r.card, r.write.round_trips, r.bound
            )
        })
        .collect();
    if !over.is_empty() {
        eprintln!(
            "FAILED: writes over the round-trip bound: {}",
            over.join("; ")
        );
        // process::exit runs no destructors: stop pcscd (and the SAM) first.
        drop(enc);
        drop(bed);
        std::process::exit(1);
    }
}
