//! The simulated card printer: a dye-sublimation CR-80 printer with a 100-card hopper, a
//! 250-print YMCKO ribbon and a job queue that prints one card at a time.
//!
//! # How a job runs
//!
//! [`CardPrinter::submit`] checks the images, gives the job an id (`job-` and a ULID, never repeated across restarts),
//! queues it and returns. A background tokio task (started by the first submit, so the
//! simulator can be built outside a runtime) takes the jobs in order: `Queued` →
//! `Printing(progress)` → `Done`. A side takes a nominal 12 s: pick the card (1.5 s),
//! print the Y, M, C, K and O panels (1.8 s each), eject (1.5 s); a two-sided card adds a
//! 3 s flip and the second side's panels. Durations are scaled by [`Timing`]. The
//! printer is `Busy` while a card is in it.
//!
//! The blank card is taken from the hopper when it is picked and a ribbon print is used
//! when a side's first panel starts, so a job that fails or is cancelled after those
//! points has used them (the card goes to the reject tray), as on a real printer.
//!
//! # Faults
//!
//! | fault | effect |
//! |---|---|
//! | `no_cards` | the hopper is emptied; jobs fail with `NoCards` |
//! | `ribbon_out` | the ribbon is used up; jobs fail with `RibbonOut` |
//! | `jam` | the running (or next) job jams after its card is picked: `Jam`, and the printer stays `Error("card jam")` |
//! | `cover_open` | the running job stops and every job fails with `CoverOpen`; printer `Error("cover open")` |
//! | `disconnect` | the running job and every job fail with `Disconnected`; printer `Disconnected`, `supplies()` fails |
//! | `hardware_error` | the running job and every job fail with `Other`; printer `Error(..)` |
//!
//! A job submitted while a fault is active is accepted and fails when it reaches the
//! printer, with a detail that tells the officer what to do. Running out naturally
//! (the hopper or the ribbon reaches 0) fails jobs the same way as the faults.
//!
//! Clearing faults ([`SimulatorControl::clear`]) removes them and refills nothing,
//! except what the officer's remedy for a fault is: clearing `no_cards` loads a full
//! hopper and clearing `ribbon_out` fits a new ribbon. (So injecting `no_cards` and
//! clearing is how a remote test refills the hopper; [`PrinterSim::load_cards`] and
//! [`PrinterSim::replace_ribbon`] do it directly.)

use crate::jobs::JobBook;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rekam_core::sim::{
    DISCONNECT, FaultSet, FaultSpec, HARDWARE_ERROR, SimulatorControl, StateCell, Timing,
};
use rekam_core::{
    CardJob, CardPrinter, CheckOutcome, Device, DeviceClass, DeviceError, DeviceInfo, DeviceState,
    DiagnosticCheck, DiagnosticReport, PrintFailure, PrintJobState, PrintJobStatus, Supplies,
};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::test_card::test_card_png;
use crate::validate::validate_card_png;

/// Cards a full hopper holds.
pub const HOPPER_CAPACITY: u32 = 100;
/// Prints of a full YMCKO ribbon.
pub const RIBBON_CAPACITY: u32 = 250;
/// The ribbon's panels, in print order: yellow, magenta, cyan (dye), black (resin),
/// overlay.
pub const RIBBON_TYPE: &str = "YMCKO";
/// How many printed cards [`PrinterSim::printed`] keeps.
pub const KEEP_PRINTED: usize = 8;

const PICK: Duration = Duration::from_millis(1500);
const PANEL: Duration = Duration::from_millis(1800);
const FLIP: Duration = Duration::from_millis(3000);
const EJECT: Duration = Duration::from_millis(1500);
const SELF_TEST: Duration = Duration::from_millis(800);

const HARDWARE_REASON: &str = "internal error reported by the device (simulated)";
const JAM_REASON: &str = "card jam";
const COVER_REASON: &str = "cover open";

/// The fault "no_cards".
pub const NO_CARDS: FaultSpec = FaultSpec {
    name: "no_cards",
    description: "empty the input hopper: jobs fail with NO_CARDS; clearing loads a full hopper",
};
/// The fault "ribbon_out".
pub const RIBBON_OUT: FaultSpec = FaultSpec {
    name: "ribbon_out",
    description: "use up the ribbon: jobs fail with RIBBON_OUT; clearing fits a new ribbon",
};
/// The fault "jam".
pub const JAM: FaultSpec = FaultSpec {
    name: "jam",
    description: "the running or next job jams mid-print; the printer stays in error until cleared",
};
/// The fault "cover_open".
pub const COVER_OPEN: FaultSpec = FaultSpec {
    name: "cover_open",
    description: "open the cover: the running job stops, jobs fail with COVER_OPEN",
};

/// A card the simulator printed, kept so tests can check what went to the printer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintedCard {
    /// The job that printed it.
    pub job_id: String,
    /// True for the printer's test card.
    pub test_card: bool,
    /// The front as printed (the generated test card for a test print).
    pub front_png: Vec<u8>,
    /// The back, for a two-sided card.
    pub back_png: Option<Vec<u8>>,
}

/// The simulated dye-sublimation CR-80 card printer; see the [module docs](self).
pub struct PrinterSim {
    info: DeviceInfo,
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    device_id: String,
    timing: Timing,
    state: StateCell,
    faults: FaultSet,
    /// Wakes the running job when it was cancelled or a fault changed.
    poke: Notify,
    inner: Mutex<Inner>,
}

struct Inner {
    /// The jobs, each with its images until the worker takes them.
    jobs: JobBook<Option<CardJob>>,
    queue: VecDeque<String>,
    /// Job ids: ULIDs, increasing and never repeated across restarts (a job id is kept in
    /// an enrollment's history and in remembered answers).
    ids: ulid::Generator,
    cards: u32,
    ribbon: u32,
    jammed: bool,
    printing: Option<String>,
    worker_running: bool,
    printed: VecDeque<PrintedCard>,
}

impl Inner {
    fn is_final(&self, id: &str) -> bool {
        self.jobs.is_final(id)
    }

    /// Moves a job to a new state unless it is already final; true when it moved.
    fn set_job(&mut self, id: &str, state: PrintJobState) -> bool {
        self.jobs.set(id, state)
    }
}

/// Why a job stopped before it was done.
enum Abort {
    Cancelled,
    Failed(PrintFailure, String),
}

fn failure(f: PrintFailure) -> Abort {
    let detail = match f {
        PrintFailure::NoCards => {
            "the input hopper is empty: load blank cards into the input hopper, then print again"
        }
        PrintFailure::RibbonOut => {
            "the ribbon is used up: fit a new YMCKO ribbon, then print again"
        }
        PrintFailure::Jam => {
            "card jam: open the cover, remove the jammed card, close the cover, then print again"
        }
        PrintFailure::CoverOpen => "the printer cover is open: close it, then print again",
        PrintFailure::Disconnected => {
            "the printer is disconnected: check its cable and power, then print again"
        }
        PrintFailure::Other => {
            "the printer reported an internal error: switch it off and on, then print \
             again; call a technician if it persists"
        }
    };
    Abort::Failed(f, detail.to_string())
}

#[derive(Clone, Copy)]
enum StepKind {
    Pick,
    /// A ribbon panel; `first` marks a side's first (yellow) panel.
    Panel {
        first: bool,
    },
    Flip,
    Eject,
}

#[derive(Clone, Copy)]
struct Step {
    kind: StepKind,
    nominal: Duration,
}

fn plan(sides: u32) -> Vec<Step> {
    let mut steps = vec![Step {
        kind: StepKind::Pick,
        nominal: PICK,
    }];
    for side in 0..sides {
        if side > 0 {
            steps.push(Step {
                kind: StepKind::Flip,
                nominal: FLIP,
            });
        }
        // Y, M, C, K, O.
        for panel in 0..5 {
            steps.push(Step {
                kind: StepKind::Panel { first: panel == 0 },
                nominal: PANEL,
            });
        }
    }
    steps.push(Step {
        kind: StepKind::Eject,
        nominal: EJECT,
    });
    steps
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update of Inner is complete before the lock is released.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn disconnected(&self) -> DeviceError {
        DeviceError::Disconnected {
            device: self.device_id.clone(),
        }
    }

    /// Publishes the state that the faults and the queue imply.
    fn refresh_state(&self, inner: &Inner) {
        let state = if self.faults.is_active(DISCONNECT.name) {
            DeviceState::Disconnected
        } else if self.faults.is_active(HARDWARE_ERROR.name) {
            DeviceState::Error(HARDWARE_REASON.into())
        } else if inner.jammed {
            DeviceState::Error(JAM_REASON.into())
        } else if self.faults.is_active(COVER_OPEN.name) {
            DeviceState::Error(COVER_REASON.into())
        } else if inner.printing.is_some() {
            DeviceState::Busy
        } else {
            DeviceState::Ready
        };
        self.state.set(state);
    }

    /// Why a card that is in the printer cannot go on (cancelled or a fault). A jam
    /// needs a card in the printer, so it strikes only once the card has been picked.
    fn check(&self, inner: &mut Inner, id: &str, card_picked: bool) -> Result<(), Abort> {
        if inner.is_final(id) {
            return Err(Abort::Cancelled);
        }
        if self.faults.is_active(DISCONNECT.name) {
            return Err(failure(PrintFailure::Disconnected));
        }
        if self.faults.is_active(HARDWARE_ERROR.name) {
            return Err(failure(PrintFailure::Other));
        }
        if self.faults.is_active(COVER_OPEN.name) {
            return Err(failure(PrintFailure::CoverOpen));
        }
        if inner.jammed || (card_picked && self.faults.is_active(JAM.name)) {
            inner.jammed = true;
            self.refresh_state(inner);
            return Err(failure(PrintFailure::Jam));
        }
        Ok(())
    }

    /// Why a job cannot start.
    fn precheck(&self, inner: &mut Inner, id: &str, sides: u32) -> Result<(), Abort> {
        self.check(inner, id, false)?;
        if inner.cards == 0 {
            return Err(failure(PrintFailure::NoCards));
        }
        if inner.ribbon < sides {
            return Err(failure(PrintFailure::RibbonOut));
        }
        Ok(())
    }

    /// Waits out a step, waking early to stop when the job is cancelled or a fault
    /// strikes.
    async fn wait(&self, id: &str, nominal: Duration, card_picked: bool) -> Result<(), Abort> {
        let d = self.timing.scaled(nominal);
        if d.is_zero() {
            tokio::task::yield_now().await;
            return self.check(&mut self.lock(), id, card_picked);
        }
        let deadline = tokio::time::Instant::now() + d;
        loop {
            let mut notified = std::pin::pin!(self.poke.notified());
            notified.as_mut().enable();
            self.check(&mut self.lock(), id, card_picked)?;
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => return Ok(()),
                () = notified => {}
            }
        }
    }

    async fn print_steps(&self, id: &str, steps: &[Step]) -> Result<(), Abort> {
        let total: Duration = steps.iter().map(|s| s.nominal).sum();
        let mut elapsed = Duration::ZERO;
        for (i, step) in steps.iter().enumerate() {
            let card_picked = i > 0;
            {
                let mut g = self.lock();
                self.check(&mut g, id, card_picked)?;
                match step.kind {
                    StepKind::Pick => {
                        if g.cards == 0 {
                            return Err(failure(PrintFailure::NoCards));
                        }
                        g.cards -= 1;
                    }
                    StepKind::Panel { first: true } => {
                        if g.ribbon == 0 {
                            return Err(failure(PrintFailure::RibbonOut));
                        }
                        g.ribbon -= 1;
                    }
                    StepKind::Panel { first: false } | StepKind::Flip | StepKind::Eject => {}
                }
                let progress = (elapsed.as_secs_f64() / total.as_secs_f64() * 100.0).round();
                g.set_job(id, PrintJobState::Printing((progress as u32).min(99)));
            }
            self.wait(id, step.nominal, card_picked).await?;
            elapsed += step.nominal;
        }
        Ok(())
    }

    async fn run(&self, id: &str, card: CardJob) {
        let sides = if !card.test_card && card.back_png.is_some() {
            2
        } else {
            1
        };
        {
            let mut g = self.lock();
            match self.precheck(&mut g, id, sides) {
                Ok(()) => {}
                Err(Abort::Cancelled) => return,
                Err(Abort::Failed(f, detail)) => {
                    g.set_job(id, PrintJobState::Failed(f, detail));
                    self.refresh_state(&g);
                    return;
                }
            }
            g.printing = Some(id.to_string());
            self.refresh_state(&g);
        }
        let outcome = self.print_steps(id, &plan(sides)).await;
        let printed = match &outcome {
            Ok(()) if card.test_card => test_card_png().map(|front_png| PrintedCard {
                job_id: id.to_string(),
                test_card: true,
                front_png,
                back_png: None,
            }),
            Ok(()) => Some(PrintedCard {
                job_id: id.to_string(),
                test_card: false,
                front_png: card.front_png,
                back_png: card.back_png,
            }),
            Err(_) => None,
        };
        let mut g = self.lock();
        g.printing = None;
        match outcome {
            Ok(()) => {
                if g.set_job(id, PrintJobState::Done) {
                    if let Some(p) = printed {
                        g.printed.push_back(p);
                        while g.printed.len() > KEEP_PRINTED {
                            g.printed.pop_front();
                        }
                    }
                }
            }
            Err(Abort::Failed(f, detail)) => {
                g.set_job(id, PrintJobState::Failed(f, detail));
            }
            Err(Abort::Cancelled) => {}
        }
        self.refresh_state(&g);
    }
}

/// Prints the queued jobs in order, then ends; the next submit starts a new worker.
async fn worker(shared: Arc<Shared>) {
    loop {
        let next = {
            let mut g = shared.lock();
            loop {
                match g.queue.pop_front() {
                    None => {
                        g.worker_running = false;
                        break None;
                    }
                    Some(id) => {
                        if let Some(card) = g.jobs.get_mut(&id).and_then(|j| j.data.take()) {
                            break Some((id, card));
                        }
                    }
                }
            }
        };
        let Some((id, card)) = next else {
            return;
        };
        shared.run(&id, card).await;
    }
}

impl PrinterSim {
    /// A ready printer with a full hopper and a new ribbon. `seed` sets its serial number;
    /// `timing` scales its nominal durations ([`Timing::INSTANT`] for tests).
    pub fn new(id: &str, seed: u64, timing: Timing) -> Self {
        let info = DeviceInfo {
            id: id.to_string(),
            class: DeviceClass::CardPrinter,
            vendor: "rekam".into(),
            model: "Simulated CR-80 card printer".into(),
            serial: format!("RKP-{:08X}", mix(seed) >> 32),
            firmware: "sim-1.0".into(),
            driver: "sim".into(),
            simulated: true,
        };
        let shared = Shared {
            device_id: id.to_string(),
            timing,
            state: StateCell::new(id),
            faults: FaultSet::new(vec![
                NO_CARDS,
                RIBBON_OUT,
                JAM,
                COVER_OPEN,
                DISCONNECT,
                HARDWARE_ERROR,
            ]),
            poke: Notify::new(),
            inner: Mutex::new(Inner {
                jobs: JobBook::new(),
                queue: VecDeque::new(),
                ids: ulid::Generator::new(),
                cards: HOPPER_CAPACITY,
                ribbon: RIBBON_CAPACITY,
                jammed: false,
                printing: None,
                worker_running: false,
                printed: VecDeque::new(),
            }),
        };
        PrinterSim {
            info,
            shared: Arc::new(shared),
            worker: Mutex::new(None),
        }
    }

    /// The last [`KEEP_PRINTED`] cards printed, oldest first.
    pub fn printed(&self) -> Vec<PrintedCard> {
        self.shared.lock().printed.iter().cloned().collect()
    }

    /// Loads `count` blank cards into the hopper (up to its capacity); returns the cards
    /// in the hopper now.
    pub fn load_cards(&self, count: u32) -> u32 {
        let mut g = self.shared.lock();
        g.cards = g.cards.saturating_add(count).min(HOPPER_CAPACITY);
        g.cards
    }

    /// Fits a new ribbon.
    pub fn replace_ribbon(&self) {
        self.shared.lock().ribbon = RIBBON_CAPACITY;
    }

    fn checks(&self) -> Vec<DiagnosticCheck> {
        let s = &self.shared;
        let names = ["hopper", "ribbon", "cover", "head", "card path"];
        if s.faults.is_active(DISCONNECT.name) {
            return names
                .iter()
                .map(|n| {
                    DiagnosticCheck::new(
                        n,
                        CheckOutcome::Fail,
                        "the printer is disconnected: check its cable and power",
                    )
                })
                .collect();
        }
        let g = s.lock();
        let hopper = match g.cards {
            0 => DiagnosticCheck::new(
                "hopper",
                CheckOutcome::Fail,
                format!("empty (0/{HOPPER_CAPACITY} cards): load blank cards"),
            ),
            n if n < 10 => DiagnosticCheck::new(
                "hopper",
                CheckOutcome::Warn,
                format!("{n}/{HOPPER_CAPACITY} cards left: load blank cards soon"),
            ),
            n => DiagnosticCheck::new(
                "hopper",
                CheckOutcome::Pass,
                format!("{n}/{HOPPER_CAPACITY} cards"),
            ),
        };
        let ribbon = match g.ribbon {
            0 => DiagnosticCheck::new(
                "ribbon",
                CheckOutcome::Fail,
                format!("used up (0/{RIBBON_CAPACITY} prints): fit a new YMCKO ribbon"),
            ),
            n if n * 10 < RIBBON_CAPACITY => DiagnosticCheck::new(
                "ribbon",
                CheckOutcome::Warn,
                format!("{n}/{RIBBON_CAPACITY} prints left: have a new YMCKO ribbon ready"),
            ),
            n => DiagnosticCheck::new(
                "ribbon",
                CheckOutcome::Pass,
                format!("YMCKO, {n}/{RIBBON_CAPACITY} prints left"),
            ),
        };
        let cover = if s.faults.is_active(COVER_OPEN.name) {
            DiagnosticCheck::new("cover", CheckOutcome::Fail, "open: close the cover")
        } else {
            DiagnosticCheck::new("cover", CheckOutcome::Pass, "closed")
        };
        let head = if s.faults.is_active(HARDWARE_ERROR.name) {
            DiagnosticCheck::new(
                "head",
                CheckOutcome::Fail,
                "the print head does not answer: switch the printer off and on",
            )
        } else {
            DiagnosticCheck::new("head", CheckOutcome::Pass, "300 dpi, temperature nominal")
        };
        let path = if g.jammed {
            DiagnosticCheck::new(
                "card path",
                CheckOutcome::Fail,
                "card jam: open the cover and remove the card",
            )
        } else {
            DiagnosticCheck::new("card path", CheckOutcome::Pass, "clear")
        };
        vec![hopper, ribbon, cover, head, path]
    }

    fn start_worker(&self) -> Result<(), DeviceError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            DeviceError::Unsupported("the print queue needs a tokio runtime".into())
        })?;
        let task = handle.spawn(worker(Arc::clone(&self.shared)));
        let mut slot = self.worker.lock().unwrap_or_else(|e| e.into_inner());
        *slot = Some(task);
        Ok(())
    }
}

impl Drop for PrinterSim {
    fn drop(&mut self) {
        let slot = self.worker.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(task) = slot.take() {
            task.abort();
        }
    }
}

#[async_trait]
impl Device for PrinterSim {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn watch_state(&self) -> watch::Receiver<DeviceState> {
        self.shared.state.subscribe()
    }

    async fn self_test(&self) -> DiagnosticReport {
        let start = tokio::time::Instant::now();
        self.shared.timing.sleep(SELF_TEST).await;
        DiagnosticReport {
            device_id: self.info.id.clone(),
            checks: self.checks(),
            elapsed: start.elapsed(),
        }
    }

    fn simulator(&self) -> Option<&dyn SimulatorControl> {
        Some(self)
    }
}

#[async_trait]
impl CardPrinter for PrinterSim {
    async fn submit(&self, job: CardJob) -> Result<String, DeviceError> {
        if !job.test_card {
            validate_card_png("front", &job.front_png)?;
            if let Some(back) = &job.back_png {
                validate_card_png("back", back)?;
            }
        }
        rekam_core::sim::scripted_call(self).await;
        // A worker whose runtime shut down (or that was aborted) is gone without saying so.
        let worker_lost = self
            .worker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|t| t.is_finished());
        let (id, start) = {
            let mut g = self.shared.lock();
            if worker_lost && g.worker_running {
                g.worker_running = false;
                if let Some(lost) = g.printing.take() {
                    g.set_job(
                        &lost,
                        PrintJobState::Failed(
                            PrintFailure::Other,
                            "the print queue stopped while printing: print again".into(),
                        ),
                    );
                }
                self.shared.refresh_state(&g);
            }
            let id = match g.ids.generate() {
                Ok(u) => format!("job-{u}"),
                // More than 2^80 ids in one millisecond: a fresh random one instead.
                Err(_) => format!("job-{}", ulid::Ulid::new()),
            };
            g.jobs.insert(&id, &self.info.id, Some(job));
            g.queue.push_back(id.clone());
            let start = !g.worker_running;
            g.worker_running = true;
            (id, start)
        };
        if start {
            if let Err(e) = self.start_worker() {
                let mut g = self.shared.lock();
                g.worker_running = false;
                g.queue.retain(|q| *q != id);
                g.jobs.remove(&id);
                return Err(e);
            }
        }
        Ok(id)
    }

    fn watch_job(&self, job_id: &str) -> Result<watch::Receiver<PrintJobStatus>, DeviceError> {
        self.shared
            .lock()
            .jobs
            .watch(job_id)
            .ok_or_else(|| DeviceError::NotFound(format!("print job {job_id} on {}", self.info.id)))
    }

    async fn cancel(&self, job_id: &str) -> Result<PrintJobStatus, DeviceError> {
        let status = {
            let mut g = self.shared.lock();
            if !g.jobs.contains(job_id) {
                return Err(DeviceError::NotFound(format!(
                    "print job {job_id} on {}",
                    self.info.id
                )));
            }
            if g.set_job(job_id, PrintJobState::Cancelled) {
                g.queue.retain(|q| q != job_id);
                if let Some(j) = g.jobs.get_mut(job_id) {
                    j.data = None;
                }
            }
            g.jobs
                .status(job_id)
                .ok_or_else(|| DeviceError::NotFound(format!("print job {job_id}")))?
        };
        self.shared.poke.notify_waiters();
        Ok(status)
    }

    async fn supplies(&self) -> Result<Supplies, DeviceError> {
        let s = &self.shared;
        if s.faults.is_active(DISCONNECT.name) {
            return Err(s.disconnected());
        }
        let g = s.lock();
        Ok(Supplies {
            cards_remaining: g.cards,
            card_capacity: HOPPER_CAPACITY,
            ribbon_prints_remaining: g.ribbon,
            ribbon_capacity: RIBBON_CAPACITY,
            cover_open: s.faults.is_active(COVER_OPEN.name),
        })
    }

    fn ribbon_type(&self) -> Option<String> {
        Some(RIBBON_TYPE.to_string())
    }

    /// Two-sided cards: the printer flips the card and prints the back in the same job.
    fn duplex(&self) -> bool {
        true
    }
}

impl SimulatorControl for PrinterSim {
    fn script_slot(&self) -> Option<&rekam_core::sim::ScriptSlot> {
        Some(self.shared.faults.script())
    }

    fn faults(&self) -> Vec<FaultSpec> {
        self.shared.faults.specs()
    }

    fn active_faults(&self) -> Vec<String> {
        self.shared.faults.active()
    }

    fn inject(&self, fault: &str) -> Result<(), DeviceError> {
        let s = &self.shared;
        s.faults.inject(fault)?;
        {
            let mut g = s.lock();
            match fault {
                "no_cards" => g.cards = 0,
                "ribbon_out" => g.ribbon = 0,
                _ => {}
            }
            s.refresh_state(&g);
        }
        s.poke.notify_waiters();
        Ok(())
    }

    fn clear(&self) {
        let s = &self.shared;
        {
            let mut g = s.lock();
            if s.faults.is_active(NO_CARDS.name) {
                g.cards = HOPPER_CAPACITY;
            }
            if s.faults.is_active(RIBBON_OUT.name) {
                g.ribbon = RIBBON_CAPACITY;
            }
            s.faults.clear();
            g.jammed = false;
            s.refresh_state(&g);
        }
        s.poke.notify_waiters();
    }
}
