//! The simulated chip encoder: a contactless reader ("rekam Virtual Encoder 00 00") with
//! a simulated ISO/IEC 14443 chip in its field.
//!
//! The chip has the ATR PC/SC reports for a contactless card ([`crate::atr`]), a 7-byte
//! UID (NXP manufacturer byte 04, the rest derived from the seed and a card counter), an
//! 80 KiB EEPROM and a flat file system of elementary files (fid → bytes). Writing a file
//! replaces it: the file is emptied, then written block by block (256 bytes), so a card
//! that leaves the field mid-write keeps the blocks written so far and verification
//! catches the short file. Every operation selects the card (nominal 50 ms) and moves a
//! block in 4 ms, scaled by [`Timing`].
//!
//! # Faults
//!
//! | fault | effect |
//! |---|---|
//! | `no_card` | no card in the field: `card_present` false, reads and writes fail with `NoCard` |
//! | `card_pulled` | one shot: the next `write_files` stops after about half its blocks with `CardRemoved("writing file 0x....")`; the card then stays out (`no_card` becomes active) |
//! | `bad_chip` | one shot: the next `write_files` lands on a defective chip, whose first block does not keep one bit of what was written, so reading back finds the file differs; the write itself answers success, as a chip's EEPROM does |
//! | `disconnect` | the reader is gone: `reader_present` false, operations fail with `Disconnected` |
//! | `hardware_error` | the reader fails: operations and `card_status` fail with `Hardware` |
//!
//! The simulator does not know when a printer's encoder station brings the next blank, so
//! `bad_chip` strikes one write only: the retry that a station makes with its next card
//! finds a sound chip.
//!
//! Clearing faults puts the card back in the field: the same card, with whatever a pulled
//! write left on it, so a retry rewrites it. [`EncoderSim::insert_blank_card`] swaps in a
//! new card (new UID, empty file system).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rekam_core::sim::{
    DISCONNECT, FaultSet, FaultSpec, HARDWARE_ERROR, SimulatorControl, StateCell, Timing,
    apply_common_fault,
};
use rekam_core::{
    ApduSize, CardStatus, CheckOutcome, ChipEncoder, ChipFile, ChipInterfaces, Device, DeviceClass,
    DeviceError, DeviceInfo, DeviceState, DiagnosticCheck, DiagnosticReport,
};
use tokio::sync::watch;

use crate::atr::{SIM_HISTORICAL_BYTES, contactless_atr};

/// The reader's PC/SC name.
pub const READER_NAME: &str = "rekam Virtual Encoder 00 00";
/// The chip's EEPROM for files, in bytes (80 KiB).
pub const EEPROM_CAPACITY: usize = 80 * 1024;
/// The bytes moved per block (one READ/UPDATE BINARY).
pub const BLOCK_SIZE: usize = 256;

const SELECT: Duration = Duration::from_millis(50);
const BLOCK: Duration = Duration::from_millis(4);
const SELF_TEST: Duration = Duration::from_millis(150);

/// File identifiers that ISO/IEC 7816-4 reserves: the master file and the invalid ones.
const RESERVED_FIDS: [u16; 3] = [0x3F00, 0x3FFF, 0xFFFF];

/// The fault "no_card".
pub const NO_CARD: FaultSpec = FaultSpec {
    name: "no_card",
    description: "take the card out of the field: reads and writes fail with NO_CARD",
};
/// The fault "bad_chip".
pub const BAD_CHIP: FaultSpec = FaultSpec {
    name: "bad_chip",
    description: "one shot: the next write lands on a defective chip that does not keep one \
                  bit of its first block, so verification finds the file differs",
};
/// The fault "card_pulled".
pub const CARD_PULLED: FaultSpec = FaultSpec {
    name: "card_pulled",
    description: "one shot: the next write stops halfway with CARD_REMOVED and the card \
                  stays out until faults are cleared, which puts the same card back",
};

struct Card {
    uid: Vec<u8>,
    files: BTreeMap<u16, Vec<u8>>,
}

impl Card {
    fn used(&self) -> usize {
        self.files.values().map(Vec::len).sum()
    }
}

struct Inner {
    card: Card,
    cards_issued: u64,
    /// True while a read or write runs (the device is busy unless a fault says worse).
    running: bool,
}

/// Holds the device busy for one operation. Every state change happens under the
/// `Inner` lock, so clearing faults during an operation keeps the device busy and the
/// operation's end makes it ready.
struct Op<'a> {
    sim: &'a EncoderSim,
}

impl Drop for Op<'_> {
    fn drop(&mut self) {
        let mut g = self.sim.lock();
        g.running = false;
        if self.sim.state.get() == DeviceState::Busy {
            self.sim.state.set(DeviceState::Ready);
        }
    }
}

/// The simulated contactless chip encoder; see the [module docs](self).
pub struct EncoderSim {
    info: DeviceInfo,
    seed: u64,
    timing: Timing,
    state: StateCell,
    /// Whether a card is in the field: false under `no_card` or `disconnect`.
    card: watch::Sender<bool>,
    faults: FaultSet,
    atr: Vec<u8>,
    inner: Mutex<Inner>,
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The UID of the `n`th card of a seed: NXP manufacturer byte 04, then six bytes.
fn uid_for(seed: u64, n: u64) -> Vec<u8> {
    let bits = mix(mix(seed) ^ n.wrapping_mul(0xA24B_AED4_963E_E407));
    let mut uid = vec![0x04];
    uid.extend_from_slice(&bits.to_be_bytes()[..6]);
    uid
}

fn blocks(len: usize) -> usize {
    len.div_ceil(BLOCK_SIZE)
}

impl EncoderSim {
    /// A ready reader with a blank card in its field. `seed` sets the serial number and the
    /// cards' UIDs; `timing` scales the nominal durations ([`Timing::INSTANT`] for tests).
    pub fn new(id: &str, seed: u64, timing: Timing) -> Self {
        let info = DeviceInfo {
            id: id.to_string(),
            class: DeviceClass::ChipEncoder,
            vendor: "rekam".into(),
            model: "Virtual Encoder".into(),
            serial: format!("RKE-{:08X}", mix(seed) >> 32),
            firmware: "sim-1.0".into(),
            driver: "sim".into(),
            simulated: true,
        };
        EncoderSim {
            info,
            seed,
            timing,
            state: StateCell::new(id),
            card: watch::Sender::new(true),
            faults: FaultSet::new(vec![
                NO_CARD,
                CARD_PULLED,
                BAD_CHIP,
                DISCONNECT,
                HARDWARE_ERROR,
            ]),
            atr: contactless_atr(&SIM_HISTORICAL_BYTES),
            inner: Mutex::new(Inner {
                card: Card {
                    uid: uid_for(seed, 1),
                    files: BTreeMap::new(),
                },
                cards_issued: 1,
                running: false,
            }),
        }
    }

    /// Puts a new blank card in the field (new UID, no files) in place of the old one;
    /// ends a `no_card` fault, since a card is now there. Returns the new UID.
    pub fn insert_blank_card(&self) -> Vec<u8> {
        let mut g = self.lock();
        g.cards_issued += 1;
        g.card = Card {
            uid: uid_for(self.seed, g.cards_issued),
            files: BTreeMap::new(),
        };
        self.faults.take(NO_CARD.name);
        self.sync_card();
        g.card.uid.clone()
    }

    /// Tells the card watch whether a card is in the field now (a reader is there and no
    /// `no_card` fault).
    fn sync_card(&self) {
        let present =
            !self.faults.is_active(DISCONNECT.name) && !self.faults.is_active(NO_CARD.name);
        self.card
            .send_if_modified(|c| std::mem::replace(c, present) != present);
    }

    /// The ATR of the simulated chip.
    pub fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update of Inner is complete before the lock is released.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the device busy for one operation; fails unless it is ready.
    fn begin(&self) -> Result<Op<'_>, DeviceError> {
        let mut g = self.lock();
        self.state.check_usable()?;
        g.running = true;
        self.state.set(DeviceState::Busy);
        Ok(Op { sim: self })
    }

    /// The reader's own faults.
    fn reader_check(&self) -> Result<(), DeviceError> {
        if self.faults.is_active(DISCONNECT.name) {
            return Err(DeviceError::Disconnected {
                device: self.info.id.clone(),
            });
        }
        if self.faults.is_active(HARDWARE_ERROR.name) {
            return Err(DeviceError::Hardware(
                "the reader reports an internal error (simulated)".into(),
            ));
        }
        Ok(())
    }

    /// Before an operation: the reader, then the card.
    fn start_check(&self) -> Result<(), DeviceError> {
        self.reader_check()?;
        if self.faults.is_active(NO_CARD.name) {
            return Err(DeviceError::NoCard);
        }
        Ok(())
    }

    /// During an operation: the reader, then the card, which has now left the field.
    fn block_check(&self, doing: &str, fid: u16) -> Result<(), DeviceError> {
        self.reader_check()?;
        if self.faults.is_active(NO_CARD.name) {
            return Err(DeviceError::CardRemoved(format!(
                "{doing} file 0x{fid:04X}"
            )));
        }
        Ok(())
    }

    fn check_request(&self, files: &[ChipFile]) -> Result<(), DeviceError> {
        let mut seen = HashSet::new();
        for f in files {
            if RESERVED_FIDS.contains(&f.fid) {
                return Err(DeviceError::InvalidArgument(format!(
                    "file id 0x{:04X} is reserved by ISO/IEC 7816-4",
                    f.fid
                )));
            }
            if !seen.insert(f.fid) {
                return Err(DeviceError::InvalidArgument(format!(
                    "file 0x{:04X} appears twice in one write",
                    f.fid
                )));
            }
            if f.data.len() > EEPROM_CAPACITY {
                return Err(DeviceError::InvalidArgument(format!(
                    "file 0x{:04X} is too large for the chip: {} bytes, the EEPROM holds \
                     {EEPROM_CAPACITY}",
                    f.fid,
                    f.data.len()
                )));
            }
        }
        let g = self.lock();
        let kept: usize = g
            .card
            .files
            .iter()
            .filter(|(fid, _)| !seen.contains(*fid))
            .map(|(_, d)| d.len())
            .sum();
        let needed: usize = files.iter().map(|f| f.data.len()).sum();
        if kept + needed > EEPROM_CAPACITY {
            return Err(DeviceError::InvalidArgument(format!(
                "the files are too large for the chip: {needed} bytes to write and {kept} \
                 bytes in other files, the EEPROM holds {EEPROM_CAPACITY}"
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl Device for EncoderSim {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn watch_state(&self) -> watch::Receiver<DeviceState> {
        self.state.subscribe()
    }

    fn watch_card(&self) -> Option<watch::Receiver<bool>> {
        Some(self.card.subscribe())
    }

    async fn self_test(&self) -> DiagnosticReport {
        let start = tokio::time::Instant::now();
        self.timing.sleep(SELF_TEST).await;
        let disconnected = self.faults.is_active(DISCONNECT.name);
        let broken = self.faults.is_active(HARDWARE_ERROR.name);
        let reader = if disconnected {
            DiagnosticCheck::new(
                "reader",
                CheckOutcome::Fail,
                format!("{READER_NAME} is not connected: check its USB cable"),
            )
        } else if broken {
            DiagnosticCheck::new(
                "reader",
                CheckOutcome::Fail,
                "the reader reports an internal error: unplug it and plug it back in",
            )
        } else {
            DiagnosticCheck::new("reader", CheckOutcome::Pass, READER_NAME)
        };
        let field = if disconnected || broken {
            DiagnosticCheck::new("field", CheckOutcome::Fail, "cannot look for a card")
        } else if self.faults.is_active(NO_CARD.name) {
            DiagnosticCheck::new(
                "field",
                CheckOutcome::Warn,
                "no card in the field: place a card on the encoder to test it",
            )
        } else {
            let g = self.lock();
            DiagnosticCheck::new(
                "field",
                CheckOutcome::Pass,
                format!(
                    "card present, UID {}, {} of {EEPROM_CAPACITY} bytes used in {} files",
                    hex(&g.card.uid),
                    g.card.used(),
                    g.card.files.len()
                ),
            )
        };
        let rf = if disconnected {
            DiagnosticCheck::new("rf", CheckOutcome::Fail, "no reader")
        } else if broken {
            DiagnosticCheck::new(
                "rf",
                CheckOutcome::Fail,
                "the RF field does not come up: call a technician",
            )
        } else {
            DiagnosticCheck::new(
                "rf",
                CheckOutcome::Pass,
                "13.56 MHz field on, ISO/IEC 14443",
            )
        };
        DiagnosticReport {
            device_id: self.info.id.clone(),
            checks: vec![reader, field, rf],
            elapsed: start.elapsed(),
        }
    }

    fn simulator(&self) -> Option<&dyn SimulatorControl> {
        Some(self)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[async_trait]
impl ChipEncoder for EncoderSim {
    async fn card_status(&self) -> Result<CardStatus, DeviceError> {
        let mut status = CardStatus {
            reader_name: READER_NAME.to_string(),
            reader_present: false,
            card_present: false,
            atr: Vec::new(),
            uid: Vec::new(),
        };
        if self.faults.is_active(DISCONNECT.name) {
            return Ok(status);
        }
        self.reader_check()?;
        status.reader_present = true;
        if !self.faults.is_active(NO_CARD.name) {
            status.card_present = true;
            status.atr = self.atr.clone();
            status.uid = self.lock().card.uid.clone();
        }
        Ok(status)
    }

    async fn write_files(&self, files: &[ChipFile]) -> Result<Vec<u8>, DeviceError> {
        rekam_core::sim::scripted_call(self).await;
        self.reader_check()?;
        self.check_request(files)?;
        let _op = self.begin()?;
        self.start_check()?;
        self.timing.sleep(SELECT).await;
        self.start_check()?;
        let total: usize = files.iter().map(|f| blocks(f.data.len())).sum();
        // The card leaves the field before the block that would pass the halfway mark.
        let pull_at =
            (!files.is_empty() && self.faults.take(CARD_PULLED.name)).then_some(total / 2);
        // The defective chip loses the lowest bit of the first byte it is given.
        let mut defect = self.faults.take(BAD_CHIP.name);
        let mut written = 0;
        for f in files {
            self.block_check("writing", f.fid)?;
            self.lock()
                .card
                .files
                .insert(f.fid, Vec::with_capacity(f.data.len()));
            // An empty file is one step too, so a pull can strike there.
            let chunks: Vec<&[u8]> = if f.data.is_empty() {
                vec![&[]]
            } else {
                f.data.chunks(BLOCK_SIZE).collect()
            };
            for chunk in chunks {
                if pull_at == Some(written) {
                    let _ = self.faults.inject(NO_CARD.name);
                    self.sync_card();
                    return Err(DeviceError::CardRemoved(format!(
                        "writing file 0x{:04X}",
                        f.fid
                    )));
                }
                if chunk.is_empty() {
                    continue;
                }
                self.timing.sleep(BLOCK).await;
                self.block_check("writing", f.fid)?;
                if let Some(data) = self.lock().card.files.get_mut(&f.fid) {
                    let at = data.len();
                    data.extend_from_slice(chunk);
                    if let Some(b) = data.get_mut(at).filter(|_| std::mem::take(&mut defect)) {
                        *b ^= 0x01;
                    }
                }
                written += 1;
            }
        }
        Ok(self.lock().card.uid.clone())
    }

    async fn read_files(&self, fids: &[u16]) -> Result<Vec<ChipFile>, DeviceError> {
        rekam_core::sim::scripted_call(self).await;
        self.reader_check()?;
        let _op = self.begin()?;
        self.start_check()?;
        self.timing.sleep(SELECT).await;
        self.start_check()?;
        let mut out = Vec::with_capacity(fids.len());
        for &fid in fids {
            self.block_check("reading", fid)?;
            let data = self.lock().card.files.get(&fid).cloned().ok_or_else(|| {
                DeviceError::NotFound(format!("file 0x{fid:04X} not on the card"))
            })?;
            for _ in 0..blocks(data.len()) {
                self.timing.sleep(BLOCK).await;
                self.block_check("reading", fid)?;
            }
            out.push(ChipFile { fid, data });
        }
        Ok(out)
    }

    /// Extended: a block of [`BLOCK_SIZE`] bytes is more command data than a short APDU
    /// carries (255 bytes).
    fn max_apdu_size(&self) -> Option<ApduSize> {
        Some(ApduSize::Extended)
    }

    fn interfaces(&self) -> ChipInterfaces {
        ChipInterfaces {
            contactless: true,
            contact: false,
        }
    }
}

impl SimulatorControl for EncoderSim {
    fn script_slot(&self) -> Option<&rekam_core::sim::ScriptSlot> {
        Some(self.faults.script())
    }

    fn faults(&self) -> Vec<FaultSpec> {
        self.faults.specs()
    }

    fn active_faults(&self) -> Vec<String> {
        self.faults.active()
    }

    fn inject(&self, fault: &str) -> Result<(), DeviceError> {
        self.faults.inject(fault)?;
        let _g = self.lock();
        apply_common_fault(&self.state, fault);
        self.sync_card();
        Ok(())
    }

    fn clear(&self) {
        let g = self.lock();
        self.faults.clear();
        self.state.set(if g.running {
            DeviceState::Busy
        } else {
            DeviceState::Ready
        });
        self.sync_card();
    }
}
