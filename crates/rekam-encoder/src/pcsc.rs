//! The PC/SC encoder driver, `encoder:pcsc:"READER NAME"`: a contactless reader reached
//! through pcscd with the `pcsc` crate, and a SAM in a second reader slot.
//!
//! # Threads
//!
//! A monitor thread of its own waits in `SCardGetStatusChange` on the reader (and on
//! pcsc-lite's plug-and-play pseudo-reader) and turns what it sees into the device's state
//! (ready while the reader is there, disconnected when it is not, with the reason) and the
//! card's presence and ATR ([`ChipEncoder::card_status`]); a card put in or taken out is a
//! device event of its own (`StateChanged` with the same state). When pcscd goes away
//! (`SCARD_E_NO_SERVICE`, `SCARD_E_SERVICE_STOPPED`, an invalid context) it establishes a new
//! context once a second until pcscd answers again; a reader that is unplugged and plugged
//! back in becomes ready again without restarting the daemon.
//!
//! Every operation runs on a blocking thread with a fresh context, connects to the card (and
//! the SAM), and runs inside `SCardBeginTransaction` on both, so that no other PC/SC client
//! interleaves. A personalization writes, then reads back in the same session
//! ([`ChipEncoder::write_and_read_back`]), then asks the reader whether the card is still
//! there and ends the transaction: a removal that pcscd reports late still fails the
//! operation, never a half-written card reported as done.
//!
//! # Options (the device's `options` table in the configuration)
//!
//! | option | meaning |
//! |---|---|
//! | `sam` | the SAM's reader name (required by the secure profile) |
//! | `profile` | `secure` (default: mutual authentication with the SAM, secure messaging) or `plain` (development cards only: no authentication, no secure messaging) |
//! | `timeout_ms` | how long one operation may take (default 20000) |

use std::collections::BTreeMap;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rekam_core::sim::StateCell;
use rekam_core::{
    AnyDevice, ApduSize, Available, CardStatus, CheckOutcome, ChipEncoder, ChipFile,
    ChipInterfaces, Device, DeviceClass, DeviceError, DeviceInfo, DeviceState, DiagnosticCheck,
    DiagnosticReport, DriverFactory, OpenOptions, Selector,
};
use rekam_iso7816::{Capabilities, Stats, Transport};
use tokio::sync::watch;

use crate::personalize::{APPLICATION_AID, EncodeError, LinkError, SamCard, Session};
use crate::sm::Suite;

/// The driver's name in selectors.
pub const DRIVER_NAME: &str = "pcsc";

/// Which profile a PC/SC encoder writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Mutual authentication with the SAM, then secure messaging.
    Secure,
    /// No authentication, no secure messaging: development cards only.
    Plain,
}

/// What the monitor thread last saw.
#[derive(Debug, Clone, Default)]
struct Seen {
    reader_present: bool,
    card_present: bool,
    atr: Vec<u8>,
    /// Why the reader is not usable, for a person.
    reason: Option<String>,
}

struct Shared {
    seen: Mutex<Seen>,
    state: StateCell,
    /// Whether a card is in the reader's field (device events CardInserted / CardRemoved).
    card: watch::Sender<bool>,
    stop: AtomicBool,
}

impl Shared {
    fn seen(&self) -> MutexGuard<'_, Seen> {
        // Every update of Seen is complete before its lock is released.
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut Seen)) {
        let mut s = self.seen();
        f(&mut s);
        let card = s.reader_present && s.card_present;
        self.card
            .send_if_modified(|c| std::mem::replace(c, card) != card);
        let busy = self.state.get() == DeviceState::Busy;
        if !s.reader_present {
            self.state.set(DeviceState::Disconnected);
        } else if !busy {
            self.state.set(DeviceState::Ready);
        }
    }
}

/// The PC/SC chip encoder; see the [module docs](self).
pub struct PcscEncoder {
    info: DeviceInfo,
    reader: CString,
    sam: Option<CString>,
    access: Access,
    timeout: Duration,
    shared: Arc<Shared>,
    monitor: Mutex<Option<JoinHandle<()>>>,
    /// One operation at a time.
    op: tokio::sync::Mutex<()>,
    /// The chip round trips and bytes of the last operation, and its secure messaging suite.
    last: Mutex<Option<(Stats, Option<Suite>)>>,
}

/// Maps a PC/SC error to how a link fails.
pub fn link_error(e: pcsc::Error) -> LinkError {
    use pcsc::Error as E;
    match e {
        // pcscd ends the transaction of a card that left the field (or was reset): the
        // next transmit in it answers "not transacted".
        E::RemovedCard | E::ResetCard | E::UnpoweredCard | E::NotTransacted => {
            LinkError::CardRemoved
        }
        E::NoSmartcard => LinkError::NoCard,
        E::NoService
        | E::ServiceStopped
        | E::ReaderUnavailable
        | E::UnknownReader
        | E::NoReadersAvailable
        | E::InvalidHandle => LinkError::ReaderGone(e.to_string()),
        E::Timeout | E::UnresponsiveCard => LinkError::Timeout,
        other => LinkError::Other(other.to_string()),
    }
}

/// One card through PC/SC: `transmit` is one `SCardTransmit`.
pub struct PcscTransport<'a> {
    card: &'a pcsc::Card,
    buf: Vec<u8>,
}

impl<'a> PcscTransport<'a> {
    /// A transport over a connected card.
    pub fn new(card: &'a pcsc::Card) -> Self {
        PcscTransport {
            card,
            buf: vec![0; pcsc::MAX_BUFFER_SIZE_EXTENDED],
        }
    }
}

impl Transport for PcscTransport<'_> {
    type Error = LinkError;

    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, LinkError> {
        let r = self
            .card
            .transmit(apdu, &mut self.buf)
            .map_err(link_error)?;
        if r.is_empty() {
            // Every card answers at least SW1-SW2; a reader that lost the card mid-exchange
            // can hand back nothing before pcscd reports the removal.
            return Err(LinkError::CardRemoved);
        }
        Ok(r.to_vec())
    }
}

/// Maps an encode failure to the device error the daemon reports.
pub fn device_error(e: EncodeError) -> DeviceError {
    match e {
        EncodeError::Link { phase, error } => match error {
            LinkError::CardRemoved => DeviceError::CardRemoved(phase.to_string()),
            LinkError::NoCard => DeviceError::NoCard,
            LinkError::ReaderGone(why) => DeviceError::Hardware(format!(
                "the reader went away while {phase} ({why}): check its cable, then retry"
            )),
            LinkError::Timeout => {
                DeviceError::Timeout(format!("the card stopped answering while {phase}"))
            }
            LinkError::Other(why) => DeviceError::Protocol(format!("{phase}: {why}")),
        },
        e @ (EncodeError::NoApplication(_)
        | EncodeError::Locked
        | EncodeError::NotBlank
        | EncodeError::AuthFailed(_)
        | EncodeError::NoRoom { .. }) => DeviceError::WrongCard(e.to_string()),
        e @ EncodeError::Sam(_) => DeviceError::Hardware(e.to_string()),
        e @ (EncodeError::Card { .. } | EncodeError::Sm { .. } | EncodeError::Protocol { .. }) => {
            DeviceError::Protocol(e.to_string())
        }
    }
}

fn pcsc_device_error(what: &str, e: pcsc::Error) -> DeviceError {
    match link_error(e) {
        LinkError::CardRemoved => DeviceError::CardRemoved(what.to_string()),
        LinkError::NoCard => DeviceError::NoCard,
        LinkError::Timeout => DeviceError::Timeout(what.to_string()),
        LinkError::ReaderGone(why) => DeviceError::Hardware(format!(
            "{what}: the reader or pcscd is not there ({why}): check the reader and that pcscd runs"
        )),
        LinkError::Other(why) => DeviceError::Hardware(format!("{what}: {why}")),
    }
}

impl PcscEncoder {
    /// Opens the reader `reader` (it need not be plugged in yet: the device is then
    /// disconnected until it is), with the SAM in `sam` for the secure profile.
    pub fn open(
        id: &str,
        reader: &str,
        sam: Option<&str>,
        access: Access,
        timeout: Duration,
    ) -> Result<Self, DeviceError> {
        let cname = |s: &str| {
            CString::new(s).map_err(|_| {
                DeviceError::InvalidArgument(format!("reader name {s:?} holds a NUL byte"))
            })
        };
        if access == Access::Secure && sam.is_none() {
            return Err(DeviceError::InvalidArgument(
                "the secure profile needs a SAM: set the device's option sam = \"<SAM reader name>\" \
                 (or profile = \"plain\" for development cards)"
                    .into(),
            ));
        }
        let info = DeviceInfo {
            id: id.to_string(),
            class: DeviceClass::ChipEncoder,
            vendor: "PC/SC".into(),
            model: reader.to_string(),
            serial: String::new(),
            firmware: String::new(),
            driver: DRIVER_NAME.into(),
            simulated: false,
        };
        let shared = Arc::new(Shared {
            seen: Mutex::new(Seen {
                reason: Some("waiting for pcscd".into()),
                ..Seen::default()
            }),
            state: StateCell::new(id),
            card: watch::Sender::new(false),
            stop: AtomicBool::new(false),
        });
        shared.state.set(DeviceState::Disconnected);
        let reader = cname(reader)?;
        let monitor = {
            let shared = shared.clone();
            let reader = reader.clone();
            std::thread::Builder::new()
                .name(format!("pcsc-monitor-{id}"))
                .spawn(move || monitor(&shared, &reader))
                .map_err(|e| {
                    DeviceError::Hardware(format!("cannot start the PC/SC monitor: {e}"))
                })?
        };
        Ok(PcscEncoder {
            info,
            reader,
            sam: sam.map(cname).transpose()?,
            access,
            timeout,
            shared,
            monitor: Mutex::new(Some(monitor)),
            op: tokio::sync::Mutex::new(()),
            last: Mutex::new(None),
        })
    }

    /// The chip round trips and bytes of the last operation that succeeded.
    pub fn last_stats(&self) -> Option<Stats> {
        self.last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|(stats, _)| stats)
    }

    /// The secure messaging suite of the last operation that succeeded (`None` in the
    /// plain profile, or before any operation).
    pub fn last_suite(&self) -> Option<Suite> {
        self.last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .and_then(|(_, suite)| suite)
    }

    /// Runs `work` on a blocking thread with the card (and SAM) connected and in
    /// transactions, the device busy meanwhile.
    async fn run<R: Send + 'static>(
        &self,
        what: &'static str,
        work: impl FnOnce(&mut Session<PcscTransport<'_>>) -> Result<R, EncodeError> + Send + 'static,
    ) -> Result<R, DeviceError> {
        let _op = self.op.lock().await;
        {
            let seen = self.shared.seen();
            if !seen.reader_present {
                return Err(DeviceError::Disconnected {
                    device: self.info.id.clone(),
                });
            }
        }
        let _busy = self.shared.state.busy()?;
        let reader = self.reader.clone();
        let sam = self.sam.clone();
        let access = self.access;
        let job = tokio::task::spawn_blocking(move || {
            personalize_on(&reader, sam.as_deref(), access, what, work)
        });
        let out = match tokio::time::timeout(self.timeout, job).await {
            Ok(Ok(r)) => r,
            Ok(Err(join)) => Err(DeviceError::Hardware(format!(
                "the PC/SC worker failed: {join}"
            ))),
            Err(_) => Err(DeviceError::Timeout(format!(
                "{what} took longer than {} ms: the card or reader stopped answering",
                self.timeout.as_millis()
            ))),
        };
        let (r, stats) = match out {
            Ok((r, stats)) => (Ok(r), Some(stats)),
            Err(e) => (Err(e), None),
        };
        if stats.is_some() {
            *self.last.lock().unwrap_or_else(|e| e.into_inner()) = stats;
        }
        r
    }
}

/// Connects to the card (and the SAM), opens a session inside transactions and runs `work`.
fn personalize_on<R>(
    reader: &std::ffi::CStr,
    sam_reader: Option<&std::ffi::CStr>,
    access: Access,
    what: &str,
    work: impl FnOnce(&mut Session<PcscTransport<'_>>) -> Result<R, EncodeError>,
) -> Result<(R, (Stats, Option<Suite>)), DeviceError> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User)
        .map_err(|e| pcsc_device_error("connecting to pcscd", e))?;
    let protocols = pcsc::Protocols::T1 | pcsc::Protocols::T0;
    let mut card = ctx
        .connect(reader, pcsc::ShareMode::Shared, protocols)
        .map_err(|e| pcsc_device_error(what, e))?;
    let atr = card
        .status2_owned()
        .map_err(|e| pcsc_device_error(what, e))?
        .atr()
        .to_vec();
    let tx = card.transaction().map_err(|e| pcsc_device_error(what, e))?;
    let mut sam_card = match (access, sam_reader) {
        (Access::Secure, Some(name)) => Some(
            ctx.connect(name, pcsc::ShareMode::Shared, protocols)
                .map_err(|e| match e {
                    pcsc::Error::NoSmartcard | pcsc::Error::RemovedCard => {
                        DeviceError::Hardware(format!("no SAM in reader {name:?}: insert the SAM"))
                    }
                    e => pcsc_device_error("connecting to the SAM", e),
                })?,
        ),
        (Access::Secure, None) => {
            return Err(DeviceError::InvalidArgument(
                "the secure profile needs a SAM".into(),
            ));
        }
        (Access::Plain, _) => None,
    };
    let sam_atr = match &sam_card {
        Some(c) => c
            .status2_owned()
            .map_err(|e| pcsc_device_error("reading the SAM's ATR", e))?
            .atr()
            .to_vec(),
        None => Vec::new(),
    };
    let sam_tx = match sam_card.as_mut() {
        Some(c) => Some(
            c.transaction()
                .map_err(|e| pcsc_device_error("locking the SAM", e))?,
        ),
        None => None,
    };
    let result = {
        let mut sam = match &sam_tx {
            Some(t) => Some(SamCard::open(PcscTransport::new(t), &sam_atr).map_err(device_error)?),
            None => None,
        };
        let sam_dyn = sam.as_mut().map(|s| s as &mut dyn crate::personalize::Sam);
        let mut session = Session::open(PcscTransport::new(&tx), &atr, &APPLICATION_AID, sam_dyn)
            .map_err(device_error)?;
        tracing::debug!(
            uid = %hex_upper(session.uid()),
            suite = ?session.suite(),
            "{what}: chip session open"
        );
        let r = work(&mut session).map_err(device_error)?;
        let stats = (session.stats(), session.suite());
        // A removal that pcscd reports late: the card must still be there now.
        match tx.status2_owned() {
            Ok(s) if s.status().contains(pcsc::Status::PRESENT) => {}
            Ok(_) => {
                return Err(DeviceError::CardRemoved(format!(
                    "{what} (found out at the end)"
                )));
            }
            Err(e) => {
                return Err(pcsc_device_error(
                    &format!("{what} (found out at the end)"),
                    e,
                ));
            }
        }
        (r, stats)
    };
    if let Some(t) = sam_tx {
        let _ = t.end(pcsc::Disposition::LeaveCard);
    }
    tx.end(pcsc::Disposition::LeaveCard)
        .map_err(|(_, e)| pcsc_device_error(&format!("{what} (ending the transaction)"), e))?;
    Ok(result)
}

/// The monitor thread: reader and card events into [`Seen`] and the device state.
fn monitor(shared: &Shared, reader: &std::ffi::CStr) {
    let tick = Duration::from_millis(250);
    while !shared.stop.load(Ordering::Relaxed) {
        let ctx = match pcsc::Context::establish(pcsc::Scope::User) {
            Ok(c) => c,
            Err(e) => {
                shared.update(|s| {
                    *s = Seen {
                        reason: Some(format!("pcscd is not reachable ({e}): start pcscd")),
                        ..Seen::default()
                    }
                });
                sleep_unless_stopped(shared, Duration::from_secs(1));
                continue;
            }
        };
        let mut states = vec![
            pcsc::ReaderState::new(reader.to_owned(), pcsc::State::UNAWARE),
            pcsc::ReaderState::new(pcsc::PNP_NOTIFICATION(), pcsc::State::UNAWARE),
        ];
        loop {
            if shared.stop.load(Ordering::Relaxed) {
                return;
            }
            match ctx.get_status_change(tick, &mut states) {
                Ok(()) => {}
                Err(pcsc::Error::Timeout) => continue,
                Err(pcsc::Error::UnknownReader) => {
                    shared.update(|s| {
                        *s = Seen {
                            reason: Some(format!("reader {reader:?} is not plugged in")),
                            ..Seen::default()
                        }
                    });
                    sleep_unless_stopped(shared, tick);
                    states[0] = pcsc::ReaderState::new(reader.to_owned(), pcsc::State::UNAWARE);
                    continue;
                }
                Err(e) => {
                    // The service went away (or the context broke): start again.
                    shared.update(|s| {
                        *s = Seen {
                            reason: Some(format!("lost pcscd ({e}); reconnecting")),
                            ..Seen::default()
                        }
                    });
                    sleep_unless_stopped(shared, tick);
                    break;
                }
            }
            let ev = states[0].event_state();
            let gone = ev
                .intersects(pcsc::State::UNKNOWN | pcsc::State::UNAVAILABLE | pcsc::State::IGNORE);
            let present =
                !gone && ev.contains(pcsc::State::PRESENT) && !ev.contains(pcsc::State::MUTE);
            let atr = if present {
                states[0].atr().to_vec()
            } else {
                Vec::new()
            };
            shared.update(|s| {
                s.reader_present = !gone;
                s.card_present = present;
                s.atr = atr;
                s.reason = gone.then(|| format!("reader {reader:?} is not plugged in"));
            });
            for s in states.iter_mut() {
                s.sync_current_state();
            }
            if gone {
                // Wait for the plug-and-play notification (or the tick) and look again.
                states[0] = pcsc::ReaderState::new(reader.to_owned(), pcsc::State::UNAWARE);
                sleep_unless_stopped(shared, tick);
            }
        }
    }
}

fn sleep_unless_stopped(shared: &Shared, d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end && !shared.stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50).min(d));
    }
}

impl Drop for PcscEncoder {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self
            .monitor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = h.join();
        }
    }
}

#[async_trait]
impl Device for PcscEncoder {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn watch_state(&self) -> watch::Receiver<DeviceState> {
        self.shared.state.subscribe()
    }

    fn watch_card(&self) -> Option<watch::Receiver<bool>> {
        Some(self.shared.card.subscribe())
    }

    fn state_reason(&self) -> Option<String> {
        self.shared.seen().reason.clone()
    }

    async fn self_test(&self) -> DiagnosticReport {
        let started = Instant::now();
        let seen = self.shared.seen().clone();
        let mut checks = vec![DiagnosticCheck {
            name: "reader".into(),
            outcome: if seen.reader_present {
                CheckOutcome::Pass
            } else {
                CheckOutcome::Fail
            },
            detail: seen
                .reason
                .clone()
                .unwrap_or_else(|| format!("{:?} is there", self.reader)),
        }];
        if seen.reader_present {
            checks.push(DiagnosticCheck {
                name: "card".into(),
                outcome: if seen.card_present {
                    CheckOutcome::Pass
                } else {
                    CheckOutcome::Warn
                },
                detail: if seen.card_present {
                    format!("a card is in the field (ATR {})", hex_upper(&seen.atr))
                } else {
                    "no card in the field".into()
                },
            });
        }
        if let Some(sam) = &self.sam {
            checks.push(self.sam_check(sam));
        }
        DiagnosticReport {
            device_id: self.info.id.clone(),
            checks,
            elapsed: started.elapsed(),
        }
    }
}

impl PcscEncoder {
    fn sam_check(&self, sam: &std::ffi::CStr) -> DiagnosticCheck {
        let r = (|| -> Result<String, DeviceError> {
            let ctx = pcsc::Context::establish(pcsc::Scope::User)
                .map_err(|e| pcsc_device_error("connecting to pcscd", e))?;
            let card = ctx
                .connect(
                    sam,
                    pcsc::ShareMode::Shared,
                    pcsc::Protocols::T1 | pcsc::Protocols::T0,
                )
                .map_err(|e| pcsc_device_error("connecting to the SAM", e))?;
            let atr = card
                .status2_owned()
                .map_err(|e| pcsc_device_error("reading the SAM's ATR", e))?
                .atr()
                .to_vec();
            SamCard::open(PcscTransport::new(&card), &atr).map_err(device_error)?;
            Ok(format!("SAM application selected in {sam:?}"))
        })();
        match r {
            Ok(detail) => DiagnosticCheck {
                name: "sam".into(),
                outcome: CheckOutcome::Pass,
                detail,
            },
            Err(e) => DiagnosticCheck {
                name: "sam".into(),
                outcome: CheckOutcome::Fail,
                detail: e.to_string(),
            },
        }
    }
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

#[async_trait]
impl ChipEncoder for PcscEncoder {
    async fn card_status(&self) -> Result<CardStatus, DeviceError> {
        let seen = self.shared.seen().clone();
        Ok(CardStatus {
            reader_name: self.reader.to_string_lossy().into_owned(),
            reader_present: seen.reader_present,
            card_present: seen.card_present,
            atr: seen.atr,
            uid: Vec::new(),
        })
    }

    async fn write_files(&self, files: &[ChipFile]) -> Result<Vec<u8>, DeviceError> {
        let files = files.to_vec();
        self.run("writing the chip", move |s| {
            s.personalize(&files)?;
            Ok(s.uid().to_vec())
        })
        .await
    }

    async fn read_files(&self, fids: &[u16]) -> Result<Vec<ChipFile>, DeviceError> {
        let fids = fids.to_vec();
        self.run("reading the chip", move |s| s.read_files(&fids))
            .await
    }

    async fn write_and_read_back(
        &self,
        files: &[ChipFile],
    ) -> Result<(Vec<u8>, Vec<ChipFile>), DeviceError> {
        let files = files.to_vec();
        self.run("personalizing the chip", move |s| {
            s.personalize(&files)?;
            let fids: Vec<u16> = files.iter().map(|f| f.fid).collect();
            let back = s.read_files(&fids)?;
            Ok((s.uid().to_vec(), back))
        })
        .await
    }

    fn max_apdu_size(&self) -> Option<ApduSize> {
        let atr = self.shared.seen().atr.clone();
        if atr.is_empty() {
            return None;
        }
        let caps = Capabilities::from_atr(&atr);
        Some(if caps.extended {
            ApduSize::Extended
        } else {
            ApduSize::Short
        })
    }

    fn interfaces(&self) -> ChipInterfaces {
        ChipInterfaces {
            contactless: true,
            contact: false,
        }
    }
}

/// The driver `encoder:pcsc:"READER"`: lists every reader pcscd sees, opens one by name.
pub struct PcscDriver;

/// The PC/SC driver, for the daemon's driver table.
pub const ENCODER_PCSC_DRIVER: PcscDriver = PcscDriver;

impl DriverFactory for PcscDriver {
    fn class(&self) -> DeviceClass {
        DeviceClass::ChipEncoder
    }

    fn name(&self) -> &'static str {
        DRIVER_NAME
    }

    fn description(&self) -> &'static str {
        "contactless reader through pcscd (PC/SC), with a SAM for secure messaging"
    }

    fn list(&self) -> Result<Vec<Available>, DeviceError> {
        let ctx = pcsc::Context::establish(pcsc::Scope::User)
            .map_err(|e| pcsc_device_error("listing readers", e))?;
        let readers = match ctx.list_readers_owned() {
            Ok(r) => r,
            Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
            Err(e) => return Err(pcsc_device_error("listing readers", e)),
        };
        Ok(readers
            .into_iter()
            .map(|r| {
                let name = r.to_string_lossy().into_owned();
                Available {
                    selector: Selector::new(DeviceClass::ChipEncoder, DRIVER_NAME)
                        .with_address(name.clone()),
                    description: format!("PC/SC reader {name}"),
                }
            })
            .collect())
    }

    fn open(&self, selector: &Selector, options: &OpenOptions) -> Result<AnyDevice, DeviceError> {
        let reader = selector.address.as_deref().ok_or_else(|| {
            DeviceError::InvalidArgument(
                "encoder:pcsc needs the reader's name, e.g. encoder:pcsc:\"ACS ACR1252 1S CL Reader PICC 00 00\" \
                 (rekamctl devices --available lists the readers pcscd sees)"
                    .into(),
            )
        })?;
        let params = parse_options(&options.params)?;
        let enc = PcscEncoder::open(
            &options.id,
            reader,
            params.sam.as_deref(),
            params.access,
            params.timeout,
        )?;
        Ok(AnyDevice::Encoder(Arc::new(enc)))
    }
}

struct Params {
    sam: Option<String>,
    access: Access,
    timeout: Duration,
}

fn parse_options(params: &BTreeMap<String, String>) -> Result<Params, DeviceError> {
    let mut p = Params {
        sam: None,
        access: Access::Secure,
        timeout: Duration::from_secs(20),
    };
    for (k, v) in params {
        match k.as_str() {
            "sam" => p.sam = Some(v.clone()),
            "profile" => {
                p.access = match v.as_str() {
                    "secure" => Access::Secure,
                    "plain" => Access::Plain,
                    _ => {
                        return Err(DeviceError::InvalidArgument(format!(
                            "profile {v:?}: use \"secure\" or \"plain\""
                        )));
                    }
                }
            }
            "timeout_ms" => {
                let ms: u64 = v.parse().map_err(|_| {
                    DeviceError::InvalidArgument(format!("timeout_ms {v:?} is not a number"))
                })?;
                p.timeout = Duration::from_millis(ms.max(1));
            }
            other => {
                return Err(DeviceError::InvalidArgument(format!(
                    "encoder:pcsc has no option {other:?} (options: sam, profile, timeout_ms)"
                )));
            }
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_are_checked() {
        let p = parse_options(&params(&[("sam", "SAM 00 01")])).unwrap();
        assert_eq!(p.access, Access::Secure);
        assert_eq!(p.sam.as_deref(), Some("SAM 00 01"));
        assert_eq!(p.timeout, Duration::from_secs(20));
        let p = parse_options(&params(&[("profile", "plain"), ("timeout_ms", "1500")])).unwrap();
        assert_eq!(
            (p.access, p.timeout),
            (Access::Plain, Duration::from_millis(1500))
        );
        for bad in [
            &[("profile", "fast")][..],
            &[("timeout_ms", "soon")],
            &[("sam_reader", "x")],
        ] {
            let err = parse_options(&params(bad)).err().unwrap();
            assert_eq!(err.reason(), "DEVICE_INVALID_REQUEST", "{err}");
        }
    }

    #[test]
    fn the_secure_profile_needs_a_sam_and_a_reader_name() {
        let err = PcscEncoder::open(
            "enc0",
            "R 00 00",
            None,
            Access::Secure,
            Duration::from_secs(1),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("needs a SAM"), "{err}");
        let sel: Selector = "encoder:pcsc".parse().unwrap();
        let err = ENCODER_PCSC_DRIVER
            .open(&sel, &OpenOptions::new("enc0"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("reader's name"), "{err}");
    }

    #[test]
    fn link_failures_map_to_device_errors_naming_their_phase() {
        let e = device_error(EncodeError::Link {
            phase: crate::personalize::Phase::Write(0x0102, 1007),
            error: LinkError::CardRemoved,
        });
        assert_eq!(e.reason(), "CARD_REMOVED");
        assert!(
            e.to_string().contains("writing file 0102 at offset 1007"),
            "{e}"
        );
        assert_eq!(
            link_error(pcsc::Error::NotTransacted),
            LinkError::CardRemoved
        );
        assert!(matches!(
            link_error(pcsc::Error::NoService),
            LinkError::ReaderGone(_)
        ));
        assert_eq!(device_error(EncodeError::NotBlank).reason(), "WRONG_CARD");
    }
}
