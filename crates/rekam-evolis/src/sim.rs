//! [`EvolisSim`]: a simulated Evolis printer with a contactless station, serving the
//! escape-command protocol on TCP, for tests and technicians (`rekam-sim evolis`).
//!
//! It keeps a feeder of blank cards, a ribbon counter, the cover, where the card inside is
//! (feeder → contactless station → print head → output tray, or the reject box), the
//! panels it received for each side, and the cards in its output tray and reject box. It
//! answers the commands [`EvolisPrinter`](crate::EvolisPrinter) sends (see the crate
//! docs) as the guide describes them, with these texts (the guide gives no error texts:
//! these are the simulator's, classified by [`ErrorKind::from_text`](crate::protocol::ErrorKind::from_text)):
//!
//! | condition | answer |
//! |---|---|
//! | success | `OK`, or the value |
//! | cover open (any card movement) | `ERR COVER OPEN` |
//! | feeder empty (`Sic`, `Se`/`St` without a card inside) | `ERR FEEDER EMPTY` |
//! | ribbon used up (`Se`, `St`): the card does not move | `ERR RIBBON END` |
//! | jam (the card stops where it is, until cleared) | `ERR CARD JAM` |
//! | `Ser` without a card inside | `ERR NO CARD` |
//! | a command it does not simulate | `ERR COMMAND` |
//! | a malformed command or download | `ERR PARAMETER` |
//!
//! Every answer ends with `CR`. Sensors answer `5,00 Volts` (feeder holds cards, cover
//! closed) or `0,00 Volts`, as the driver assumes.
//!
//! # Faults ([`SimFault`], [`EvolisSim::inject`], `--fault` of `rekam-sim evolis`)
//!
//! | fault | effect | cleared |
//! |---|---|---|
//! | `jam` | the next card movement jams: the card stays stuck, every movement answers `ERR CARD JAM` | the stuck card is taken out |
//! | `empty-hopper` | the feeder is emptied | a full feeder is loaded |
//! | `ribbon-out` | the ribbon is used up | a new ribbon is fitted |
//! | `cover-open` | the cover is open | the cover is closed |
//! | `no-answer` | commands are read and never answered (the printer hangs) | it answers again |
//!
//! [`EvolisSim::disconnect_clients`] closes every connection (the printer switched off
//! mid-job); [`EvolisSim::shutdown`] also stops listening.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, info};

use crate::protocol::{CR, CardInside, Command, CommandDecoder, Insertion, Levels, Panel, Sensor};

/// A fault of the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SimFault {
    /// The next card movement jams.
    Jam,
    /// The feeder is empty.
    EmptyHopper,
    /// The ribbon is used up.
    RibbonOut,
    /// The cover is open.
    CoverOpen,
    /// Commands are never answered.
    NoAnswer,
}

impl SimFault {
    /// Every fault.
    pub const ALL: [SimFault; 5] = [
        SimFault::Jam,
        SimFault::EmptyHopper,
        SimFault::RibbonOut,
        SimFault::CoverOpen,
        SimFault::NoAnswer,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SimFault::Jam => "jam",
            SimFault::EmptyHopper => "empty-hopper",
            SimFault::RibbonOut => "ribbon-out",
            SimFault::CoverOpen => "cover-open",
            SimFault::NoAnswer => "no-answer",
        }
    }
}

impl FromStr for SimFault {
    type Err = String;

    /// A name of [`SimFault::name`] (`_` for `-` accepted).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().replace('_', "-");
        SimFault::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = SimFault::ALL.iter().map(|f| f.name()).collect();
                format!("unknown fault {s:?}; faults: {}", names.join(", "))
            })
    }
}

/// How the simulator starts.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Blank cards in the feeder.
    pub cards: u32,
    /// The feeder's capacity (what clearing `empty-hopper` loads).
    pub hopper_capacity: u32,
    /// Prints left on the ribbon.
    pub ribbon: u32,
    /// Prints of a new ribbon (what clearing `ribbon-out` fits).
    pub ribbon_capacity: u32,
    /// The ribbon type `Rr` answers.
    pub ribbon_type: String,
    /// A two-sided printer (its model's name says `Duplex`).
    pub duplex: bool,
    /// How long each card movement takes.
    pub motion_delay: Duration,
    /// Faults active from the start.
    pub faults: Vec<SimFault>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            cards: 100,
            hopper_capacity: 100,
            ribbon: 200,
            ribbon_capacity: 200,
            ribbon_type: "YMCKO".into(),
            duplex: true,
            motion_delay: Duration::ZERO,
            faults: Vec::new(),
        }
    }
}

/// Where the card inside the printer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardLocation {
    /// At the contactless station.
    EncoderStation,
    /// Stuck (a jam).
    Jammed,
}

/// The panels received for one side: each panel's levels and data as sent.
pub type SimSide = BTreeMap<Panel, (Levels, Vec<u8>)>;

/// A card that left the printer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCard {
    /// The front's panels (empty for a blank or test card).
    pub front: SimSide,
    /// The back's panels, for a two-sided card.
    pub back: Option<SimSide>,
    /// True for the printer's test card (`St`).
    pub test_card: bool,
    /// True when the card went through the contactless station.
    pub was_at_encoder: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Front,
    Back,
}

/// A card inside the printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Inside {
    jammed: bool,
    was_at_encoder: bool,
}

struct State {
    config: SimConfig,
    cards: u32,
    ribbon: u32,
    faults: BTreeSet<SimFault>,
    inside: Option<Inside>,
    insertion: Insertion,
    side: Side,
    front: SimSide,
    back: SimSide,
    output: Vec<SimCard>,
    rejected: Vec<SimCard>,
    log: Vec<String>,
}

const KEEP_LOG: usize = 2000;

struct Shared {
    state: Mutex<State>,
    /// Bumped to close every connection.
    kick: watch::Sender<u64>,
    serial: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update of the state is complete before the lock is released.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The simulated printer: see the [module docs](self).
pub struct EvolisSim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl EvolisSim {
    /// Listens on `listen` (port 0 picks a free port: see [`EvolisSim::local_addr`]) and
    /// serves every connection until [`EvolisSim::shutdown`] or drop.
    pub async fn start(listen: SocketAddr, config: SimConfig) -> std::io::Result<EvolisSim> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let mut state = State {
            cards: config.cards,
            ribbon: config.ribbon,
            faults: BTreeSet::new(),
            inside: None,
            insertion: Insertion::Feeder,
            side: Side::Front,
            front: SimSide::new(),
            back: SimSide::new(),
            output: Vec::new(),
            rejected: Vec::new(),
            log: Vec::new(),
            config,
        };
        for f in state.config.faults.clone() {
            apply(&mut state, f);
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            kick: watch::Sender::new(0),
            serial: format!("SIM{:06}", addr.port()),
        });
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        info!(%addr, "evolis simulator listening");
        Ok(EvolisSim {
            addr,
            shared,
            accept: Mutex::new(Some(accept)),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Activates a fault.
    pub fn inject(&self, fault: SimFault) {
        apply(&mut self.shared.lock(), fault);
    }

    /// Clears a fault (see the module docs for what clearing does).
    pub fn clear(&self, fault: SimFault) {
        let mut s = self.shared.lock();
        if !s.faults.remove(&fault) {
            return;
        }
        match fault {
            SimFault::EmptyHopper => s.cards = s.config.hopper_capacity,
            SimFault::RibbonOut => s.ribbon = s.config.ribbon_capacity,
            SimFault::Jam => {
                if s.inside.is_some_and(|i| i.jammed) {
                    s.inside = None;
                }
            }
            SimFault::CoverOpen | SimFault::NoAnswer => {}
        }
    }

    /// Clears every fault.
    pub fn clear_faults(&self) {
        for f in SimFault::ALL {
            self.clear(f);
        }
    }

    /// The active faults.
    pub fn faults(&self) -> Vec<SimFault> {
        self.shared.lock().faults.iter().copied().collect()
    }

    /// Loads blank cards (up to the feeder's capacity); returns the cards in the feeder.
    pub fn load_cards(&self, n: u32) -> u32 {
        let mut s = self.shared.lock();
        s.cards = s.cards.saturating_add(n).min(s.config.hopper_capacity);
        s.faults.remove(&SimFault::EmptyHopper);
        s.cards
    }

    /// Blank cards in the feeder.
    pub fn cards(&self) -> u32 {
        self.shared.lock().cards
    }

    /// Prints left on the ribbon.
    pub fn ribbon(&self) -> u32 {
        self.shared.lock().ribbon
    }

    /// Sets the prints left on the ribbon.
    pub fn set_ribbon(&self, prints: u32) {
        self.shared.lock().ribbon = prints;
    }

    /// Where the card inside is; `None` when there is none.
    pub fn card_location(&self) -> Option<CardLocation> {
        self.shared.lock().inside.map(|i| {
            if i.jammed {
                CardLocation::Jammed
            } else {
                CardLocation::EncoderStation
            }
        })
    }

    /// The cards in the output tray, first printed first.
    pub fn output_tray(&self) -> Vec<SimCard> {
        self.shared.lock().output.clone()
    }

    /// The cards in the reject box, first rejected first.
    pub fn reject_tray(&self) -> Vec<SimCard> {
        self.shared.lock().rejected.clone()
    }

    /// The commands received (without download data), oldest first (the last 2000).
    pub fn commands(&self) -> Vec<String> {
        self.shared.lock().log.clone()
    }

    /// Closes every client connection (the printer switched off); it goes on listening.
    pub fn disconnect_clients(&self) {
        self.shared.kick.send_modify(|k| *k = k.wrapping_add(1));
    }

    /// Stops listening and closes every connection.
    pub fn shutdown(&self) {
        if let Some(a) = self.accept.lock().unwrap_or_else(|e| e.into_inner()).take() {
            a.abort();
        }
        self.disconnect_clients();
    }
}

impl Drop for EvolisSim {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn apply(s: &mut State, fault: SimFault) {
    s.faults.insert(fault);
    match fault {
        SimFault::EmptyHopper => s.cards = 0,
        SimFault::RibbonOut => s.ribbon = 0,
        SimFault::Jam | SimFault::CoverOpen | SimFault::NoAnswer => {}
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                debug!(%peer, "client connected");
                tokio::spawn(serve(stream, Arc::clone(&shared)));
            }
            Err(e) => {
                debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve(mut stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let mut kick = shared.kick.subscribe();
    kick.borrow_and_update();
    let mut decoder = CommandDecoder::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            r = stream.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = kick.changed() => return,
        };
        decoder.push(&buf[..n]);
        loop {
            let reply = match decoder.next_command() {
                Ok(None) => break,
                Ok(Some(cmd)) => {
                    let (reply, delay) = execute(&shared, &cmd);
                    if !delay.is_zero() {
                        tokio::select! {
                            () = tokio::time::sleep(delay) => {}
                            _ = kick.changed() => return,
                        }
                    }
                    reply
                }
                Err(e) => {
                    debug!(error = %e, "bad command");
                    Some("ERR PARAMETER".to_string())
                }
            };
            let Some(reply) = reply else {
                continue;
            };
            let mut bytes = reply.into_bytes();
            bytes.push(CR);
            if stream.write_all(&bytes).await.is_err() {
                return;
            }
        }
    }
}

/// Runs one command: the answer (`None`: the printer hangs) and how long it takes.
fn execute(shared: &Shared, cmd: &Command) -> (Option<String>, Duration) {
    let mut s = shared.lock();
    if s.log.len() >= KEEP_LOG {
        s.log.remove(0);
    }
    s.log.push(cmd.text());
    if s.faults.contains(&SimFault::NoAnswer) {
        return (None, Duration::ZERO);
    }
    let motion = s.config.motion_delay;
    let ok = || Some("OK".to_string());
    let err = |t: &str| (Some(format!("ERR {t}")), Duration::ZERO);
    let value = |v: String| (Some(v), Duration::ZERO);
    let volts = |on: bool| if on { "5,00 Volts" } else { "0,00 Volts" }.to_string();
    match cmd {
        Command::ReadFirmware => value("rekam-sim 1.0".into()),
        Command::ReadModel => value(if s.config.duplex {
            "Evolis Primacy Duplex (rekam simulator)".into()
        } else {
            "Evolis Primacy (rekam simulator)".into()
        }),
        Command::ReadSerial => value(shared.serial.clone()),
        Command::ReadRibbonType => value(s.config.ribbon_type.clone()),
        Command::ReadRibbonRemaining => value(s.ribbon.to_string()),
        Command::ReadSensor(Sensor::Cover) => {
            value(volts(!s.faults.contains(&SimFault::CoverOpen)))
        }
        Command::ReadSensor(Sensor::Feeder) => value(volts(s.cards > 0)),
        Command::ReadCardPosition => value(
            match s.inside {
                None => CardInside::None,
                Some(i) if i.was_at_encoder && !i.jammed => CardInside::Contactless,
                Some(_) => CardInside::Elsewhere,
            }
            .answer_text()
            .to_string(),
        ),
        Command::SetErrorManagement(_) => (ok(), Duration::ZERO),
        Command::SetInsertion(i) => {
            s.insertion = *i;
            (ok(), Duration::ZERO)
        }
        Command::SequenceStart => {
            s.side = Side::Front;
            s.front.clear();
            s.back.clear();
            (ok(), Duration::ZERO)
        }
        Command::Front => {
            s.side = Side::Front;
            (ok(), Duration::ZERO)
        }
        Command::Back => {
            if !s.config.duplex {
                return err("COMMAND");
            }
            s.side = Side::Back;
            (ok(), Duration::ZERO)
        }
        Command::Download {
            panel,
            levels,
            data,
        } => {
            let side = s.side;
            let target = match side {
                Side::Front => &mut s.front,
                Side::Back => &mut s.back,
            };
            target.insert(*panel, (*levels, data.clone()));
            (ok(), Duration::ZERO)
        }
        Command::InsertContactless => {
            if let Err(e) = movable(&s) {
                return err(e);
            }
            if let Some(i) = s.inside.as_mut() {
                i.was_at_encoder = true;
                return (ok(), motion);
            }
            if s.cards == 0 {
                return err("FEEDER EMPTY");
            }
            s.cards -= 1;
            s.inside = Some(Inside {
                jammed: false,
                was_at_encoder: true,
            });
            if jams(&mut s) {
                return err("CARD JAM");
            }
            (ok(), motion)
        }
        Command::Reject => {
            if let Err(e) = movable(&s) {
                return err(e);
            }
            let Some(inside) = s.inside else {
                return err("NO CARD");
            };
            if jams(&mut s) {
                return err("CARD JAM");
            }
            s.inside = None;
            s.rejected.push(SimCard {
                front: SimSide::new(),
                back: None,
                test_card: false,
                was_at_encoder: inside.was_at_encoder,
            });
            (ok(), motion)
        }
        Command::SequenceEnd | Command::TestCard => {
            let test = *cmd == Command::TestCard;
            if let Err(e) = movable(&s) {
                return err(e);
            }
            let sides = if !test && !s.back.is_empty() { 2 } else { 1 };
            if s.ribbon < sides {
                return err("RIBBON END");
            }
            let inside = match s.inside {
                Some(i) if s.insertion != Insertion::Feeder => i,
                Some(_) => return err("CARD INSIDE: USE Pmi;B"),
                None if s.insertion == Insertion::Manual => return err("NO CARD"),
                None if s.cards == 0 => return err("FEEDER EMPTY"),
                None => {
                    s.cards -= 1;
                    let i = Inside {
                        jammed: false,
                        was_at_encoder: false,
                    };
                    s.inside = Some(i);
                    i
                }
            };
            if jams(&mut s) {
                return err("CARD JAM");
            }
            s.ribbon -= sides;
            s.inside = None;
            let card = if test {
                SimCard {
                    front: SimSide::new(),
                    back: None,
                    test_card: true,
                    was_at_encoder: inside.was_at_encoder,
                }
            } else {
                let back = (sides == 2).then(|| std::mem::take(&mut s.back));
                SimCard {
                    front: std::mem::take(&mut s.front),
                    back,
                    test_card: false,
                    was_at_encoder: inside.was_at_encoder,
                }
            };
            s.output.push(card);
            (ok(), motion * (2 + sides))
        }
        Command::Other { .. } => err("COMMAND"),
    }
}

/// Why no card can move now.
fn movable(s: &State) -> Result<(), &'static str> {
    if s.faults.contains(&SimFault::CoverOpen) {
        return Err("COVER OPEN");
    }
    if s.inside.is_some_and(|i| i.jammed) {
        return Err("CARD JAM");
    }
    Ok(())
}

/// With the jam fault on, the card inside sticks.
fn jams(s: &mut State) -> bool {
    if !s.faults.contains(&SimFault::Jam) {
        return false;
    }
    if let Some(i) = s.inside.as_mut() {
        i.jammed = true;
    }
    true
}
