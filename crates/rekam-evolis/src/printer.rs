//! [`EvolisPrinter`]: the [`CardPrinter`] over the escape-command protocol, with the
//! contactless station's print-and-encode cycle ([`EvolisPrinter::load_card_to_encoder`]).

use rekam_printer::jobs::JobBook;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rekam_core::sim::StateCell;
use rekam_core::{
    CardJob, CardPrinter, CheckOutcome, Device, DeviceClass, DeviceError, DeviceInfo, DeviceState,
    DiagnosticCheck, DiagnosticReport, PrintFailure, PrintJobState, PrintJobStatus, StationCard,
    StationError, Supplies,
};
use tokio::sync::{OwnedMutexGuard, watch};
use tracing::{debug, info, warn};

use crate::panels::SidePanels;
use crate::protocol::{
    Answer, AnswerError, CardInside, Command, ErrorKind, Insertion, PrinterError, Sensor,
    parse_answer, parse_count, parse_volts,
};
use crate::transport::{Connector, Transport, TransportError};

/// The driver's name in selectors and in [`DeviceInfo::driver`].
pub const DRIVER_NAME: &str = "evolis";
/// A sensor voltage at or above this means "yes": the feeder holds cards, the cover is
/// closed (an assumption: see the crate docs).
pub const SENSOR_ON_VOLTS: f32 = 2.5;

/// Time limits and what the printer cannot tell.
#[derive(Debug, Clone, PartialEq)]
pub struct EvolisConfig {
    /// Connecting to the printer.
    pub connect_timeout: Duration,
    /// The answer to a query or a setting (`Rfv`, `Rse`, `Pmi`…).
    pub query_timeout: Duration,
    /// The answer to one panel's download (`Db`, half a megabyte).
    pub download_timeout: Duration,
    /// The answer to a card movement (`Sic`, `Ser`).
    pub motion_timeout: Duration,
    /// The answer to printing a card (`Se`, `St`): the whole print and the eject.
    pub print_timeout: Duration,
    /// The feeder's capacity: the printer reports only whether the feeder is empty, so
    /// [`Supplies::cards_remaining`] is this number while it is not, 0 when it is.
    pub hopper_capacity: u32,
    /// Prints of a full ribbon (the printer reports the prints left, not the ribbon's size).
    pub ribbon_capacity: u32,
    /// Whether it prints both sides; `None` guesses from the model's name (see
    /// [`guess_duplex`]).
    pub duplex: Option<bool>,
}

impl Default for EvolisConfig {
    fn default() -> Self {
        EvolisConfig {
            connect_timeout: Duration::from_secs(5),
            query_timeout: Duration::from_secs(5),
            download_timeout: Duration::from_secs(30),
            motion_timeout: Duration::from_secs(30),
            print_timeout: Duration::from_secs(120),
            hopper_capacity: 100,
            ribbon_capacity: 200,
            duplex: None,
        }
    }
}

/// What the printer says it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// `Rtp`.
    pub model: String,
    /// `Rfv`.
    pub firmware: String,
    /// `Rsn`.
    pub serial: String,
    /// `Rr`, upper case (e.g. `YMCKO`); `None` when the printer does not say.
    pub ribbon: Option<String>,
}

/// True for the Evolis models that print both sides (a flip-over station): names with
/// `Dualys`, `Duplex`, `Quantum`, `Securion` or `Avansia`. A guess from the name: set
/// [`EvolisConfig::duplex`] (option `duplex`) when it is wrong.
pub fn guess_duplex(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    ["dualys", "duplex", "quantum", "securion", "avansia"]
        .iter()
        .any(|w| m.contains(w))
}

// ---------------------------------------------------------------------------------------
// The link: one transport, opened again after any failure.

/// Why one exchange failed.
#[derive(Debug, Clone)]
enum OpError {
    /// The transport failed (the link is dropped and opened again next time).
    Link(TransportError),
    /// The answer made no sense.
    Answer(AnswerError),
    /// The printer answered an error.
    Printer(PrinterError),
    /// A value answered where OK was expected, or the reverse.
    Unexpected(String),
}

struct Link {
    connector: Arc<dyn Connector>,
    transport: Option<Box<dyn Transport>>,
    /// True between sending a command and reading its answer: a caller dropped in between
    /// leaves an answer on the way, so the link is opened again.
    in_flight: bool,
    query_timeout: Duration,
}

impl Link {
    async fn open(&mut self) -> Result<(), TransportError> {
        if self.in_flight {
            self.transport = None;
            self.in_flight = false;
        }
        if self.transport.is_some() {
            return Ok(());
        }
        let mut t = self.connector.connect().await?;
        // Pem;2: the host computer manages errors, so the printer answers an error
        // instead of waiting for a person (guide, Pem). A printer that refuses it is used
        // as it is.
        t.send(&Command::SetErrorManagement(2).encode()).await?;
        let answer = t.read_answer(self.query_timeout).await?;
        match parse_answer(&answer) {
            Ok(Answer::Ok) => {}
            other => warn!(?other, "the printer did not take Pem;2"),
        }
        debug!(printer = %self.connector.address(), "connected");
        self.transport = Some(t);
        Ok(())
    }

    /// Sends one command and reads its answer.
    async fn exec(&mut self, cmd: &Command, timeout: Duration) -> Result<Answer, OpError> {
        self.open().await.map_err(OpError::Link)?;
        let Some(t) = self.transport.as_mut() else {
            return Err(OpError::Link(TransportError::Closed));
        };
        debug!(command = ?cmd, "send");
        self.in_flight = true;
        let result = async {
            t.send(&cmd.encode()).await?;
            t.read_answer(timeout).await
        }
        .await;
        self.in_flight = false;
        let bytes = match result {
            Ok(b) => b,
            Err(e) => {
                self.transport = None;
                return Err(OpError::Link(e));
            }
        };
        match parse_answer(&bytes) {
            Ok(a) => {
                debug!(command = %cmd.name(), answer = ?a, "answer");
                Ok(a)
            }
            Err(e) => {
                self.transport = None;
                Err(OpError::Answer(e))
            }
        }
    }

    /// A command that must answer OK.
    async fn ok(&mut self, cmd: &Command, timeout: Duration) -> Result<(), OpError> {
        match self.exec(cmd, timeout).await? {
            Answer::Ok => Ok(()),
            Answer::Error(e) => Err(OpError::Printer(e)),
            Answer::Value(v) => Err(OpError::Unexpected(format!(
                "{} answered {v:?} instead of OK",
                cmd.text()
            ))),
        }
    }

    /// A query that must answer a value.
    async fn value(&mut self, cmd: &Command, timeout: Duration) -> Result<String, OpError> {
        match self.exec(cmd, timeout).await? {
            Answer::Value(v) => Ok(v),
            Answer::Ok => Ok("OK".into()),
            Answer::Error(e) => Err(OpError::Printer(e)),
        }
    }
}

/// Asks the printer what it is: `Rtp`, `Rfv`, `Rsn`, `Rr` (a query the printer refuses
/// leaves its field empty).
pub async fn identify(
    connector: Arc<dyn Connector>,
    config: &EvolisConfig,
) -> Result<Identity, DeviceError> {
    let addr = connector.address();
    let mut link = Link {
        connector,
        transport: None,
        in_flight: false,
        query_timeout: config.query_timeout,
    };
    let mut ask = async |cmd: Command| -> Result<String, DeviceError> {
        match link.value(&cmd, config.query_timeout).await {
            Ok(v) => Ok(v),
            Err(OpError::Printer(e)) => {
                debug!(command = %cmd.text(), answer = %e.text, "refused");
                Ok(String::new())
            }
            Err(OpError::Link(e)) => Err(link_device_error(&addr, &cmd, &e)),
            Err(OpError::Answer(e)) => Err(DeviceError::Protocol(format!(
                "the printer at {addr} answered {} with {e}",
                cmd.text()
            ))),
            Err(OpError::Unexpected(s)) => Err(DeviceError::Protocol(s)),
        }
    };
    let model = ask(Command::ReadModel).await?;
    let firmware = ask(Command::ReadFirmware).await?;
    let serial = ask(Command::ReadSerial).await?;
    let ribbon = ask(Command::ReadRibbonType).await?;
    Ok(Identity {
        model,
        firmware,
        serial,
        ribbon: (!ribbon.is_empty()).then(|| ribbon.to_ascii_uppercase()),
    })
}

fn link_device_error(addr: &str, cmd: &Command, e: &TransportError) -> DeviceError {
    match e {
        TransportError::Timeout(t) => DeviceError::Timeout(format!(
            "the printer at {addr} did not answer {} within {t:?}: check that it is switched \
             on and shows no error",
            cmd.text()
        )),
        TransportError::Unreachable { .. } | TransportError::Closed | TransportError::Io(_) => {
            DeviceError::Disconnected {
                device: format!("the printer at {addr} ({e})"),
            }
        }
        TransportError::TooLong => DeviceError::Protocol(format!(
            "the printer at {addr} answered {} with {e}",
            cmd.text()
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Failures: for the officer (PrintFailure and its detail) and for programs (DeviceError).

/// A failed operation, said both ways.
#[derive(Debug, Clone)]
struct Failure {
    error: DeviceError,
    print: (PrintFailure, String),
    /// The device's state after it (`None`: back to ready/busy as usual).
    state: Option<DeviceState>,
    /// True when the card did not move: it is where it was before the command.
    card_stayed: bool,
}

fn officer_detail(f: PrintFailure) -> &'static str {
    match f {
        PrintFailure::NoCards => {
            "the card feeder is empty: load blank KTP-el cards into the feeder, then print again"
        }
        PrintFailure::RibbonOut => {
            "the ribbon is used up or missing: fit a new YMCKO ribbon, close the cover, then print again"
        }
        PrintFailure::Jam => {
            "card jam: open the cover, remove the jammed card, close the cover, then print again"
        }
        PrintFailure::CoverOpen => "the printer cover is open: close it, then print again",
        PrintFailure::Disconnected => {
            "the printer cannot be reached: check its network cable and power, then print again"
        }
        PrintFailure::Other => {
            "the printer reported an error: check its display, switch it off and on, then \
             print again; call a technician if it persists"
        }
    }
}

impl Inner {
    fn failure(&self, what: &str, cmd: &Command, e: OpError) -> Failure {
        let addr = &self.addr;
        match e {
            OpError::Link(TransportError::Timeout(t)) => Failure {
                error: link_device_error(addr, cmd, &TransportError::Timeout(t)),
                print: (
                    PrintFailure::Disconnected,
                    format!(
                        "the printer stopped answering ({} within {t:?}): check that it is \
                         switched on and shows no error, then print again",
                        cmd.text()
                    ),
                ),
                state: Some(DeviceState::Error(format!(
                    "the printer did not answer {} within {t:?}",
                    cmd.text()
                ))),
                card_stayed: false,
            },
            OpError::Link(e) => Failure {
                error: DeviceError::Disconnected {
                    device: self.info.id.clone(),
                },
                print: (
                    PrintFailure::Disconnected,
                    format!(
                        "{} ({addr}: {e})",
                        officer_detail(PrintFailure::Disconnected)
                    ),
                ),
                state: Some(DeviceState::Disconnected),
                card_stayed: false,
            },
            OpError::Answer(e) => Failure {
                error: DeviceError::Protocol(format!(
                    "{what}: the printer at {addr} answered {} with {e}",
                    cmd.text()
                )),
                print: (
                    PrintFailure::Other,
                    format!(
                        "{} (unreadable answer)",
                        officer_detail(PrintFailure::Other)
                    ),
                ),
                state: None,
                card_stayed: false,
            },
            OpError::Unexpected(s) => Failure {
                error: DeviceError::Protocol(format!("{what}: {s}")),
                print: (
                    PrintFailure::Other,
                    format!("{} ({s})", officer_detail(PrintFailure::Other)),
                ),
                state: None,
                card_stayed: true,
            },
            OpError::Printer(pe) => {
                let (failure, state, stayed) = match pe.kind {
                    ErrorKind::FeederEmpty => (PrintFailure::NoCards, None, true),
                    ErrorKind::Ribbon => (PrintFailure::RibbonOut, None, true),
                    ErrorKind::CoverOpen => (
                        PrintFailure::CoverOpen,
                        Some(DeviceState::Error("cover open".into())),
                        true,
                    ),
                    ErrorKind::Mechanical => (
                        PrintFailure::Jam,
                        Some(DeviceState::Error("card jam".into())),
                        false,
                    ),
                    _ => (PrintFailure::Other, None, true),
                };
                let detail = format!("{} (printer: {})", officer_detail(failure), pe.text);
                let error = match pe.kind {
                    ErrorKind::Command | ErrorKind::Parameter => DeviceError::Protocol(format!(
                        "{what}: the printer at {addr} refused {}: {}",
                        cmd.text(),
                        pe.text
                    )),
                    ErrorKind::Busy => DeviceError::Busy(format!("{} ({})", self.info.id, pe.text)),
                    _ => DeviceError::Printer {
                        failure,
                        detail: detail.clone(),
                    },
                };
                Failure {
                    error,
                    print: (failure, detail),
                    state,
                    card_stayed: stayed,
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The printer

struct Inner {
    info: DeviceInfo,
    addr: String,
    config: EvolisConfig,
    duplex: bool,
    state: StateCell,
    link: tokio::sync::Mutex<Link>,
    /// The card path: held by a running job, and by a [`CardAtEncoder`] for its life.
    path: Arc<tokio::sync::Mutex<()>>,
    card_at_station: AtomicBool,
    jobs: Mutex<JobBook<()>>,
    ids: Mutex<ulid::Generator>,
    ribbon: Mutex<Option<String>>,
    last_supplies: Mutex<Option<Supplies>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update under these locks is complete before the lock is released.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An Evolis printer with a contactless station, driven over its escape-command protocol;
/// see the crate docs.
pub struct EvolisPrinter {
    inner: Arc<Inner>,
}

impl EvolisPrinter {
    /// Connects to the printer, asks what it is ([`identify`]) and keeps the connection.
    pub async fn connect(
        id: &str,
        connector: Arc<dyn Connector>,
        config: EvolisConfig,
    ) -> Result<EvolisPrinter, DeviceError> {
        let identity = identify(Arc::clone(&connector), &config).await?;
        Ok(EvolisPrinter::with_identity(
            id, connector, config, identity,
        ))
    }

    /// A printer already identified; it connects when first used (and again after any
    /// failure).
    pub fn with_identity(
        id: &str,
        connector: Arc<dyn Connector>,
        config: EvolisConfig,
        identity: Identity,
    ) -> EvolisPrinter {
        let addr = connector.address();
        let duplex = config
            .duplex
            .unwrap_or_else(|| guess_duplex(&identity.model));
        let info = DeviceInfo {
            id: id.to_string(),
            class: DeviceClass::CardPrinter,
            vendor: "Evolis".into(),
            model: if identity.model.is_empty() {
                "Evolis card printer".into()
            } else {
                identity.model.clone()
            },
            serial: identity.serial.clone(),
            firmware: identity.firmware.clone(),
            driver: DRIVER_NAME.into(),
            // The rekam simulator says what it is in its model's name.
            simulated: identity.model.to_ascii_lowercase().contains("simulator"),
        };
        info!(printer = %addr, model = %info.model, firmware = %info.firmware, duplex, "evolis printer");
        EvolisPrinter {
            inner: Arc::new(Inner {
                info,
                addr,
                duplex,
                state: StateCell::new(id),
                link: tokio::sync::Mutex::new(Link {
                    connector,
                    transport: None,
                    in_flight: false,
                    query_timeout: config.query_timeout,
                }),
                config,
                path: Arc::new(tokio::sync::Mutex::new(())),
                card_at_station: AtomicBool::new(false),
                jobs: Mutex::new(JobBook::new()),
                ids: Mutex::new(ulid::Generator::new()),
                ribbon: Mutex::new(identity.ribbon),
                last_supplies: Mutex::new(None),
            }),
        }
    }

    /// The printer's address, e.g. `tcp://10.0.0.7:9100`.
    pub fn address(&self) -> &str {
        &self.inner.addr
    }

    /// True while a card waits at the contactless station (a [`CardAtEncoder`] lives).
    pub fn card_at_encoder(&self) -> bool {
        self.inner.card_at_station.load(Ordering::SeqCst)
    }

    /// Takes a blank card from the feeder to the contactless station (`Sic`), where the
    /// encoder's reader can reach its chip. The card must then be either printed and
    /// ejected ([`EvolisPrinter::print_and_eject`]) or rejected
    /// ([`EvolisPrinter::reject`]); until then no other card moves (print jobs wait) and a
    /// second load is refused with [`DeviceError::Busy`]. Waits for a running print job to
    /// finish first. A card found inside the printer beforehand (left by a failure) is
    /// rejected first, so that a card is never encoded or printed twice.
    pub async fn load_card_to_encoder(&self) -> Result<CardAtEncoder, DeviceError> {
        let inner = &self.inner;
        let busy = || {
            DeviceError::Busy(format!(
                "{}: a card is already at the encoder station: print it or reject it first",
                inner.info.id
            ))
        };
        if self.card_at_encoder() {
            return Err(busy());
        }
        let guard = Arc::clone(&inner.path).lock_owned().await;
        if inner
            .card_at_station
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(busy());
        }
        inner.state.set(DeviceState::Busy);
        let mut link = inner.link.lock().await;
        let result = async {
            inner.clear_leftover(&mut link).await?;
            let cmd = Command::InsertContactless;
            link.ok(&cmd, inner.config.motion_timeout)
                .await
                .map_err(|e| inner.failure("loading a card to the encoder", &cmd, e))
        }
        .await;
        drop(link);
        match result {
            Ok(()) => {
                info!(printer = %inner.info.id, "card at the contactless station");
                Ok(CardAtEncoder {
                    inner: Some(Arc::clone(inner)),
                    guard: Some(guard),
                    loaded_at: Instant::now(),
                })
            }
            Err(f) => {
                inner.card_at_station.store(false, Ordering::SeqCst);
                inner.settle(f.state.clone());
                Err(f.error)
            }
        }
    }

    /// Prints `job` on the card at the contactless station (its chip encoded by now) and
    /// ejects it to the output tray: `Pmi;B` (print the card inside rather than take a new
    /// one), `Ss`, `Sr` and the front's five `Db`, for two sides `Sv` and the back's, then
    /// `Se`. A test card is refused (it would take its own card).
    ///
    /// On failure, [`PrintAndEjectError::card`] gives the card back when the printer
    /// refused before moving it (ribbon out, cover open, a refused command): fix the
    /// cause and call this again, or reject it. After a jam, a time-out or a lost
    /// connection the card's place is unknown: no handle, and the officer clears the
    /// printer (the detail says so).
    pub async fn print_and_eject(
        &self,
        card: CardAtEncoder,
        job: &CardJob,
    ) -> Result<(), PrintAndEjectError> {
        let inner = &self.inner;
        let give_back = |card: CardAtEncoder, error: DeviceError| PrintAndEjectError {
            error,
            card: Some(card),
        };
        if !card.belongs_to(inner) {
            return Err(give_back(
                card,
                DeviceError::InvalidArgument("that card is at another printer's station".into()),
            ));
        }
        if job.test_card {
            return Err(give_back(
                card,
                DeviceError::InvalidArgument(
                    "a test card cannot be printed on the card at the encoder".into(),
                ),
            ));
        }
        let sides = match prepare_sides(job, inner.duplex).await {
            Ok(s) => s,
            Err(e) => return Err(give_back(card, e)),
        };
        let mut link = inner.link.lock().await;
        let result = inner
            .print_sides(&mut link, &sides, &|_| {}, &|| false)
            .await;
        drop(link);
        match result {
            Ok(()) => {
                card.left_station(inner);
                inner.settle(None);
                info!(printer = %inner.info.id, "encoded card printed and ejected");
                Ok(())
            }
            Err((cmd, e)) => {
                let f = inner.failure("printing the encoded card", &cmd, e);
                if f.card_stayed {
                    inner.settle_keeping_card(f.state.clone());
                    Err(PrintAndEjectError {
                        error: f.error,
                        card: Some(card),
                    })
                } else {
                    card.left_station(inner);
                    inner.settle(f.state.clone());
                    let error = match f.error {
                        DeviceError::Printer { failure, detail } => DeviceError::Printer {
                            failure,
                            detail: format!(
                                "{detail}; the card at the encoder (its chip already written) \
                                 is still in the printer: remove it and put it aside as spoiled"
                            ),
                        },
                        other => other,
                    };
                    Err(PrintAndEjectError { error, card: None })
                }
            }
        }
    }

    /// Ejects the card at the contactless station into the reject box (`Ser`): for a card
    /// whose encoding failed. On failure the card is given back when it did not move.
    pub async fn reject(&self, card: CardAtEncoder) -> Result<(), PrintAndEjectError> {
        let inner = &self.inner;
        if !card.belongs_to(inner) {
            return Err(PrintAndEjectError {
                error: DeviceError::InvalidArgument(
                    "that card is at another printer's station".into(),
                ),
                card: Some(card),
            });
        }
        let cmd = Command::Reject;
        let mut link = inner.link.lock().await;
        let result = link.ok(&cmd, inner.config.motion_timeout).await;
        drop(link);
        match result {
            Ok(()) => {
                card.left_station(inner);
                inner.settle(None);
                info!(printer = %inner.info.id, "card rejected");
                Ok(())
            }
            Err(e) => {
                let f = inner.failure("rejecting the card at the encoder", &cmd, e);
                if f.card_stayed {
                    inner.settle_keeping_card(f.state.clone());
                    Err(PrintAndEjectError {
                        error: f.error,
                        card: Some(card),
                    })
                } else {
                    card.left_station(inner);
                    inner.settle(f.state.clone());
                    Err(PrintAndEjectError {
                        error: f.error,
                        card: None,
                    })
                }
            }
        }
    }
}

/// A card at the contactless station, from [`EvolisPrinter::load_card_to_encoder`]. It
/// must be consumed by [`EvolisPrinter::print_and_eject`] or [`EvolisPrinter::reject`];
/// one dropped unconsumed (a cancelled caller) is rejected in the background, with a
/// warning, so that no card is left at the station.
#[must_use = "a card at the encoder station must be printed and ejected, or rejected"]
pub struct CardAtEncoder {
    inner: Option<Arc<Inner>>,
    guard: Option<OwnedMutexGuard<()>>,
    loaded_at: Instant,
}

impl std::fmt::Debug for CardAtEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardAtEncoder")
            .field("printer", &self.inner.as_ref().map(|i| i.info.id.as_str()))
            .field("waiting", &self.loaded_at.elapsed())
            .finish()
    }
}

impl CardAtEncoder {
    /// How long the card has been at the station.
    pub fn waiting(&self) -> Duration {
        self.loaded_at.elapsed()
    }

    fn belongs_to(&self, inner: &Arc<Inner>) -> bool {
        self.inner.as_ref().is_some_and(|i| Arc::ptr_eq(i, inner))
    }

    /// The card has left the station (printed and ejected, rejected, or lost to a jam):
    /// the station is free for the next card.
    fn left_station(mut self, inner: &Inner) {
        self.inner = None;
        inner.card_at_station.store(false, Ordering::SeqCst);
        drop(self.guard.take());
    }
}

impl Drop for CardAtEncoder {
    fn drop(&mut self) {
        let (Some(inner), Some(guard)) = (self.inner.take(), self.guard.take()) else {
            return;
        };
        warn!(printer = %inner.info.id, "a card at the encoder station was dropped unconsumed: rejecting it");
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            inner.card_at_station.store(false, Ordering::SeqCst);
            inner.settle(Some(DeviceState::Error(
                "a card was left at the encoder station: remove it".into(),
            )));
            return;
        };
        rt.spawn(async move {
            let cmd = Command::Reject;
            let mut link = inner.link.lock().await;
            let result = link.ok(&cmd, inner.config.motion_timeout).await;
            drop(link);
            inner.card_at_station.store(false, Ordering::SeqCst);
            drop(guard);
            match result {
                Ok(()) => inner.settle(None),
                Err(e) => {
                    let f = inner.failure("rejecting an abandoned card", &cmd, e);
                    warn!(error = %f.error, "could not reject the abandoned card");
                    inner.settle(Some(f.state.unwrap_or(DeviceState::Error(
                        "a card was left at the encoder station: remove it".into(),
                    ))));
                }
            }
        });
    }
}

/// A failed [`EvolisPrinter::print_and_eject`] or [`EvolisPrinter::reject`].
#[derive(Debug)]
pub struct PrintAndEjectError {
    /// What went wrong.
    pub error: DeviceError,
    /// The card, still at the contactless station, when it did not move: retry or reject
    /// it. `None` when its place is unknown (jam, time-out, connection lost).
    pub card: Option<CardAtEncoder>,
}

impl std::fmt::Display for PrintAndEjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for PrintAndEjectError {}

/// A side's K panel is a PNG of its image's size (checked when the job is submitted, so a
/// bad one is refused before a card is used).
fn check_black(side: &str, k: &[u8], image: &[u8]) -> Result<(), DeviceError> {
    let size = |what: &str, png: &[u8]| {
        image::ImageReader::with_format(std::io::Cursor::new(png), image::ImageFormat::Png)
            .into_dimensions()
            .map_err(|e| DeviceError::InvalidArgument(format!("the {side} {what}: {e}")))
    };
    let (k, img) = (size("K panel", k)?, size("image", image)?);
    if k != img {
        return Err(DeviceError::InvalidArgument(format!(
            "the {side} K panel is {}x{} px, its image {}x{}",
            k.0, k.1, img.0, img.1
        )));
    }
    Ok(())
}

/// Checks a job's images and derives their panels (on a blocking thread: it is CPU work).
/// Each side is checked, decoded once and turned into panels on its own blocking thread,
/// both sides at once.
async fn prepare_sides(job: &CardJob, duplex: bool) -> Result<Vec<SidePanels>, DeviceError> {
    if job.back_png.is_some() && !duplex {
        return Err(DeviceError::Unsupported(
            "this printer prints one side: send the front only".into(),
        ));
    }
    let derive = |side: &'static str, png: Vec<u8>, black: Option<Vec<u8>>| {
        tokio::task::spawn_blocking(move || {
            let img = rekam_printer::decode_card_png(side, &png)?;
            match black {
                // The layout's own K panel: resin exactly where it draws text and lines.
                Some(k) => {
                    let k = image::load_from_memory_with_format(&k, image::ImageFormat::Png)
                        .map_err(|e| {
                            DeviceError::InvalidArgument(format!(
                                "the {side} K panel is not a readable PNG: {e}"
                            ))
                        })?
                        .to_luma8();
                    SidePanels::from_image_and_black(&img, &k)
                }
                None => Ok::<_, DeviceError>(SidePanels::from_image(&img)),
            }
        })
    };
    let black = job.black.clone();
    let front = derive(
        "front",
        job.front_png.clone(),
        black.as_ref().map(|b| b.front.clone()),
    );
    let back = job
        .back_png
        .clone()
        .map(|b| derive("back", b, black.as_ref().and_then(|k| k.back.clone())));
    let joined = |r: Result<Result<SidePanels, DeviceError>, tokio::task::JoinError>| {
        r.map_err(|e| DeviceError::Hardware(format!("deriving the panels failed: {e}")))?
    };
    let mut sides = vec![joined(front.await)?];
    if let Some(b) = back {
        sides.push(joined(b.await)?);
    }
    Ok(sides)
}

impl Inner {
    /// Ready (or busy while a card waits at the station), or the state a failure left.
    fn settle(&self, after: Option<DeviceState>) {
        match after {
            Some(s) => self.state.set(s),
            None if self.card_at_station.load(Ordering::SeqCst) => {
                self.state.set(DeviceState::Busy)
            }
            None => self.state.set(DeviceState::Ready),
        }
    }

    /// After a failure that left the card at the station: busy (the card still waits)
    /// unless the failure has a state of its own.
    fn settle_keeping_card(&self, after: Option<DeviceState>) {
        self.state.set(after.unwrap_or(DeviceState::Busy));
    }

    /// Rejects a card found inside the printer (`Rlr;p`, then `Ser`): one left by an
    /// earlier failure must not be printed or encoded again. A printer that does not know
    /// `Rlr;p` is taken to be empty.
    async fn clear_leftover(&self, link: &mut Link) -> Result<(), Failure> {
        let cmd = Command::ReadCardPosition;
        let answer = match link.exec(&cmd, self.config.query_timeout).await {
            Ok(a) => a,
            Err(e) => return Err(self.failure("checking the card path", &cmd, e)),
        };
        if let Answer::Error(PrinterError {
            kind: ErrorKind::Command | ErrorKind::Parameter,
            ..
        }) = answer
        {
            return Ok(());
        }
        if CardInside::from_answer(&answer) == CardInside::None {
            return Ok(());
        }
        warn!(printer = %self.info.id, ?answer, "a card was left inside the printer: rejecting it");
        let reject = Command::Reject;
        link.ok(&reject, self.config.motion_timeout)
            .await
            .map_err(|e| self.failure("rejecting a card left inside", &reject, e))
    }

    /// Sends the print sequence of the card inside (or a new one from the feeder).
    /// `progress` gets 0-99 as panels are sent; `cancelled` is asked between commands.
    async fn print_sides(
        &self,
        link: &mut Link,
        sides: &[SidePanels],
        progress: &(dyn Fn(u32) + Sync),
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), (Command, OpError)> {
        let c = &self.config;
        let run = async |link: &mut Link, cmd: Command, t: Duration| {
            let r = link.ok(&cmd, t).await;
            r.map_err(|e| (cmd, e))
        };
        run(
            link,
            Command::SetInsertion(Insertion::Both),
            c.query_timeout,
        )
        .await?;
        run(link, Command::SequenceStart, c.query_timeout).await?;
        let total: usize = sides.iter().map(|s| s.panels().len()).sum();
        let mut sent = 0;
        for (i, side) in sides.iter().enumerate() {
            let face = if i == 0 {
                Command::Front
            } else {
                Command::Back
            };
            run(link, face, c.query_timeout).await?;
            for (panel, levels, data) in side.panels() {
                if cancelled() {
                    return Err((
                        Command::SequenceEnd,
                        OpError::Unexpected("cancelled".into()),
                    ));
                }
                let cmd = Command::Download {
                    panel: *panel,
                    levels: *levels,
                    data: data.clone(),
                };
                run(link, cmd, c.download_timeout).await?;
                sent += 1;
                progress((sent * 90 / total.max(1)) as u32);
            }
        }
        if cancelled() {
            return Err((
                Command::SequenceEnd,
                OpError::Unexpected("cancelled".into()),
            ));
        }
        run(link, Command::SequenceEnd, c.print_timeout).await
    }

    /// Runs one submitted job to its end.
    async fn run_job(self: Arc<Self>, id: String, job: CardJob) {
        let _path = Arc::clone(&self.path).lock_owned().await;
        if lock(&self.jobs).is_final(&id) {
            return;
        }
        self.state.set(DeviceState::Busy);
        lock(&self.jobs).set(&id, PrintJobState::Printing(0));
        let sides = if job.test_card {
            Ok(Vec::new())
        } else {
            prepare_sides(&job, self.duplex).await
        };
        let sides = match sides {
            Ok(s) => s,
            Err(e) => {
                lock(&self.jobs).set(
                    &id,
                    PrintJobState::Failed(PrintFailure::Other, e.to_string()),
                );
                self.settle(None);
                return;
            }
        };
        let mut link = self.link.lock().await;
        let outcome: Result<(), Failure> = async {
            self.clear_leftover(&mut link).await?;
            if job.test_card {
                let cmd = Command::TestCard;
                return link
                    .ok(&cmd, self.config.print_timeout)
                    .await
                    .map_err(|e| self.failure("printing the test card", &cmd, e));
            }
            let progress = |p: u32| {
                lock(&self.jobs).set(&id, PrintJobState::Printing(p));
            };
            let cancelled = || lock(&self.jobs).is_final(&id);
            self.print_sides(&mut link, &sides, &progress, &cancelled)
                .await
                .map_err(|(cmd, e)| self.failure("printing", &cmd, e))
        }
        .await;
        let cancelled = lock(&self.jobs).is_final(&id);
        let after = match outcome {
            Ok(()) => {
                lock(&self.jobs).set(&id, PrintJobState::Done);
                None
            }
            Err(f) => {
                // A card that went into the printer for this job must not stay there: the
                // next job would print on it. A jam or a lost link leaves it to the officer.
                if f.card_stayed || cancelled {
                    let reject = Command::Reject;
                    match link.exec(&reject, self.config.motion_timeout).await {
                        Ok(Answer::Ok) => debug!("card of the failed job rejected"),
                        other => debug!(?other, "no card to reject"),
                    }
                }
                if !cancelled {
                    warn!(job = %id, error = %f.error, "print job failed");
                    lock(&self.jobs).set(&id, PrintJobState::Failed(f.print.0, f.print.1.clone()));
                }
                f.state
            }
        };
        drop(link);
        self.settle(after);
    }

    /// The supplies, asked of the printer.
    async fn query_supplies(&self, link: &mut Link) -> Result<Supplies, DeviceError> {
        let t = self.config.query_timeout;
        let q = async |link: &mut Link, cmd: Command| -> Result<Answer, DeviceError> {
            link.exec(&cmd, t)
                .await
                .map_err(|e| self.failure("reading the supplies", &cmd, e).error)
        };
        let ribbon = match q(link, Command::ReadRibbonRemaining).await? {
            Answer::Value(v) => parse_count(&v).ok_or_else(|| {
                DeviceError::Protocol(format!("Rco;l answered {v:?}, not a count"))
            })?,
            Answer::Error(PrinterError {
                kind: ErrorKind::Ribbon,
                ..
            }) => 0,
            other => {
                return Err(DeviceError::Protocol(format!(
                    "Rco;l answered {other:?}, not a count"
                )));
            }
        };
        let volts = |a: Answer, what: &str| match a {
            Answer::Value(v) => parse_volts(&v).ok_or_else(|| {
                DeviceError::Protocol(format!("{what} answered {v:?}, not a voltage"))
            }),
            other => Err(DeviceError::Protocol(format!(
                "{what} answered {other:?}, not a voltage"
            ))),
        };
        let feeder = volts(q(link, Command::ReadSensor(Sensor::Feeder)).await?, "Rse;f")?;
        let cover = volts(q(link, Command::ReadSensor(Sensor::Cover)).await?, "Rse;o")?;
        if let Answer::Value(r) = q(link, Command::ReadRibbonType).await? {
            *lock(&self.ribbon) = Some(r.to_ascii_uppercase());
        }
        let c = &self.config;
        Ok(Supplies {
            cards_remaining: if feeder >= SENSOR_ON_VOLTS {
                c.hopper_capacity
            } else {
                0
            },
            card_capacity: c.hopper_capacity,
            ribbon_prints_remaining: ribbon,
            ribbon_capacity: c.ribbon_capacity.max(ribbon),
            cover_open: cover < SENSOR_ON_VOLTS,
        })
    }
}

#[async_trait]
impl Device for EvolisPrinter {
    fn info(&self) -> &DeviceInfo {
        &self.inner.info
    }

    fn watch_state(&self) -> watch::Receiver<DeviceState> {
        self.inner.state.subscribe()
    }

    async fn self_test(&self) -> DiagnosticReport {
        let start = tokio::time::Instant::now();
        let inner = &self.inner;
        let mut checks = Vec::new();
        let mut link = inner.link.lock().await;
        match link
            .value(&Command::ReadFirmware, inner.config.query_timeout)
            .await
        {
            Ok(v) => checks.push(DiagnosticCheck::new(
                "connection",
                CheckOutcome::Pass,
                format!("{}: firmware {v}", inner.addr),
            )),
            Err(e) => {
                let f = inner.failure("self-test", &Command::ReadFirmware, e);
                checks.push(DiagnosticCheck::new(
                    "connection",
                    CheckOutcome::Fail,
                    f.error.to_string(),
                ));
                return DiagnosticReport {
                    device_id: inner.info.id.clone(),
                    checks,
                    elapsed: start.elapsed(),
                };
            }
        }
        match inner.query_supplies(&mut link).await {
            Ok(s) => {
                checks.push(if s.cards_remaining == 0 {
                    DiagnosticCheck::new("feeder", CheckOutcome::Fail, "empty: load blank cards")
                } else {
                    DiagnosticCheck::new("feeder", CheckOutcome::Pass, "cards present")
                });
                checks.push(match s.ribbon_prints_remaining {
                    0 => DiagnosticCheck::new(
                        "ribbon",
                        CheckOutcome::Fail,
                        "used up: fit a new ribbon",
                    ),
                    n if n * 10 < s.ribbon_capacity => DiagnosticCheck::new(
                        "ribbon",
                        CheckOutcome::Warn,
                        format!("about {n} prints left: have a new ribbon ready"),
                    ),
                    n => DiagnosticCheck::new(
                        "ribbon",
                        CheckOutcome::Pass,
                        format!("about {n} prints left"),
                    ),
                });
                checks.push(if s.cover_open {
                    DiagnosticCheck::new("cover", CheckOutcome::Fail, "open: close the cover")
                } else {
                    DiagnosticCheck::new("cover", CheckOutcome::Pass, "closed")
                });
            }
            Err(e) => checks.push(DiagnosticCheck::new(
                "supplies",
                CheckOutcome::Fail,
                e.to_string(),
            )),
        }
        let at_station = inner.card_at_station.load(Ordering::SeqCst);
        match link
            .exec(&Command::ReadCardPosition, inner.config.query_timeout)
            .await
        {
            Ok(a) => {
                let inside = CardInside::from_answer(&a);
                checks.push(match inside {
                    CardInside::None => {
                        DiagnosticCheck::new("card path", CheckOutcome::Pass, "clear")
                    }
                    CardInside::Contactless if at_station => DiagnosticCheck::new(
                        "card path",
                        CheckOutcome::Pass,
                        "a card waits at the contactless station for encoding",
                    ),
                    _ => DiagnosticCheck::new(
                        "card path",
                        CheckOutcome::Warn,
                        "a card is inside the printer: it will be rejected before the next card",
                    ),
                });
            }
            Err(e) => checks.push(DiagnosticCheck::new(
                "card path",
                CheckOutcome::Fail,
                inner
                    .failure("self-test", &Command::ReadCardPosition, e)
                    .error
                    .to_string(),
            )),
        }
        DiagnosticReport {
            device_id: inner.info.id.clone(),
            checks,
            elapsed: start.elapsed(),
        }
    }
}

#[async_trait]
impl CardPrinter for EvolisPrinter {
    async fn submit(&self, job: CardJob) -> Result<String, DeviceError> {
        let inner = &self.inner;
        if !job.test_card {
            rekam_printer::validate_card_png("front", &job.front_png)?;
            if let Some(back) = &job.back_png {
                if !inner.duplex {
                    return Err(DeviceError::Unsupported(format!(
                        "{} prints one side: send the front only",
                        inner.info.model
                    )));
                }
                rekam_printer::validate_card_png("back", back)?;
            }
            if let Some(black) = &job.black {
                check_black("front", &black.front, &job.front_png)?;
                if let (Some(k), Some(back)) = (&black.back, &job.back_png) {
                    check_black("back", k, back)?;
                }
            }
        }
        let rt = tokio::runtime::Handle::try_current().map_err(|_| {
            DeviceError::Unsupported("the print queue needs a tokio runtime".into())
        })?;
        let id = {
            let mut ids = lock(&inner.ids);
            match ids.generate() {
                Ok(u) => format!("job-{u}"),
                Err(_) => format!("job-{}", ulid::Ulid::new()),
            }
        };
        lock(&inner.jobs).insert(&id, &inner.info.id, ());
        rt.spawn(Arc::clone(inner).run_job(id.clone(), job));
        Ok(id)
    }

    fn watch_job(&self, job_id: &str) -> Result<watch::Receiver<PrintJobStatus>, DeviceError> {
        lock(&self.inner.jobs).watch(job_id).ok_or_else(|| {
            DeviceError::NotFound(format!("print job {job_id} on {}", self.inner.info.id))
        })
    }

    /// Cancels a queued job at once; a job printing stops before its next command and its
    /// card is rejected.
    async fn cancel(&self, job_id: &str) -> Result<PrintJobStatus, DeviceError> {
        let mut jobs = lock(&self.inner.jobs);
        jobs.set(job_id, PrintJobState::Cancelled);
        jobs.status(job_id).ok_or_else(|| {
            DeviceError::NotFound(format!("print job {job_id} on {}", self.inner.info.id))
        })
    }

    /// Asks the printer (`Rco;l`, `Rse;f`, `Rse;o`, `Rr`); while it is busy with a card,
    /// the last answer is given instead of waiting.
    async fn supplies(&self) -> Result<Supplies, DeviceError> {
        let inner = &self.inner;
        let mut link = match inner.link.try_lock() {
            Ok(l) => l,
            Err(_) => {
                if let Some(s) = *lock(&inner.last_supplies) {
                    return Ok(s);
                }
                inner.link.lock().await
            }
        };
        let result = inner.query_supplies(&mut link).await;
        drop(link);
        match &result {
            Ok(s) => {
                *lock(&inner.last_supplies) = Some(*s);
                // The printer answers: a fault state it was left in may be over.
                let idle =
                    !inner.card_at_station.load(Ordering::SeqCst) && inner.path.try_lock().is_ok();
                if idle {
                    inner.state.set(if s.cover_open {
                        DeviceState::Error("cover open".into())
                    } else {
                        DeviceState::Ready
                    });
                }
            }
            Err(DeviceError::Disconnected { .. }) => inner.state.set(DeviceState::Disconnected),
            Err(_) => {}
        }
        result
    }

    fn ribbon_type(&self) -> Option<String> {
        lock(&self.inner.ribbon).clone()
    }

    fn duplex(&self) -> bool {
        self.inner.duplex
    }

    /// The contactless station: see [`EvolisPrinter::load_card_to_encoder`].
    fn inline_encoder(&self) -> bool {
        true
    }

    async fn load_card_to_encoder(&self) -> Result<Box<dyn StationCard>, DeviceError> {
        let card = EvolisPrinter::load_card_to_encoder(self).await?;
        Ok(Box::new(EvolisStationCard {
            printer: EvolisPrinter {
                inner: Arc::clone(&self.inner),
            },
            card,
        }))
    }
}

/// [`CardAtEncoder`] behind the device-neutral [`StationCard`]: what the pipeline holds.
#[derive(Debug)]
struct EvolisStationCard {
    printer: EvolisPrinter,
    card: CardAtEncoder,
}

impl std::fmt::Debug for EvolisPrinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvolisPrinter")
            .field("id", &self.inner.info.id)
            .field("address", &self.inner.addr)
            .finish()
    }
}

impl EvolisStationCard {
    /// The driver's error as the trait's, the card (when it stayed) wrapped again.
    fn failed(printer: EvolisPrinter, e: PrintAndEjectError) -> StationError {
        StationError {
            error: e.error,
            card: e
                .card
                .map(|card| Box::new(EvolisStationCard { printer, card }) as Box<dyn StationCard>),
        }
    }
}

#[async_trait]
impl StationCard for EvolisStationCard {
    async fn print_and_eject(self: Box<Self>, job: CardJob) -> Result<(), StationError> {
        let EvolisStationCard { printer, card } = *self;
        match printer.print_and_eject(card, &job).await {
            Ok(()) => Ok(()),
            Err(e) => Err(EvolisStationCard::failed(printer, e)),
        }
    }

    async fn reject(self: Box<Self>) -> Result<(), StationError> {
        let EvolisStationCard { printer, card } = *self;
        match printer.reject(card).await {
            Ok(()) => Ok(()),
            Err(e) => Err(EvolisStationCard::failed(printer, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplex_models() {
        assert!(guess_duplex("Evolis Primacy Duplex"));
        assert!(guess_duplex("DUALYS 3"));
        assert!(!guess_duplex("Evolis Primacy"));
        assert!(!guess_duplex(""));
    }
}
