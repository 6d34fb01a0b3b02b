//! A simulated ISDV4 / W8001 digitizer on the far end of a real pseudo-terminal:
//! [`Isdv4Sim`]. The driver opens the terminal's slave side as it would open
//! `/dev/ttyS4`, so the bytes it writes and reads are the ones tested.
//!
//! The simulator plays the digitizer on the master side: it answers the query (`*`) with
//! its ranges, starts (`1`) and stops (`0`) sampling, and while sampling replays queued
//! signature traces as pen packets at their sample times, with the pen out of proximity
//! between strokes. With [`SimConfig::auto_sign`], each start of sampling plays a new
//! handwritten-looking signature from `rekam_synth` after [`SimConfig::sign_delay`] (for
//! `rekam-sim isdv4` and a station without a pad).
//!
//! The driver is pointed at a stable path, [`Isdv4Sim::path`]: a symbolic link to the
//! current slave (`/dev/pts/N`), as udev's `/dev/serial/by-id` links are. Unplugging (the
//! fault `disconnect`) closes the terminal, which hangs up the driver's side, and removes
//! the link; clearing the fault plugs a new terminal in and points the link at it.
//!
//! Faults ([`rekam_core::sim::SimulatorControl`]): `garbage` and `truncate` (each once, at
//! the next pen packet, garbage first when both wait), `silence` (no answers, no packets,
//! until cleared) and `disconnect`.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rekam_core::DeviceError;
use rekam_core::sim::{DISCONNECT, FaultSet, FaultSpec, SimulatorControl};
use rekam_synth::PenPoint;
use serialport::{SerialPort, TTYPort};

use crate::protocol::{CMD_QUERY, CMD_START, CMD_STOP, PenPacket, QueryReply};

/// The fault "garbage": noise bytes on the line before the next pen packet.
pub const GARBAGE: FaultSpec = FaultSpec {
    name: "garbage",
    description: "line noise: garbage bytes (some with the lead bit) come before the next pen \
                  packet, once",
};

/// The fault "truncate": the next pen packet is cut short.
pub const TRUNCATE: FaultSpec = FaultSpec {
    name: "truncate",
    description: "the next pen packet is cut short after 5 of its 9 bytes, once",
};

/// The fault "silence": the digitizer neither answers nor sends.
pub const SILENCE: FaultSpec = FaultSpec {
    name: "silence",
    description: "the digitizer goes silent (power lost behind a hardware UART): no answers, \
                  no packets, until faults are cleared",
};

/// The bytes the `garbage` fault sends: two without the lead bit (skipped), then a control
/// lead byte and two more, which the real packet's lead byte cuts short.
pub const GARBAGE_BYTES: [u8; 5] = [0x55, 0x2A, 0xFF, 0x01, 0x02];

/// Bytes of a pen packet the `truncate` fault sends.
pub const TRUNCATED_LEN: usize = 5;

/// The simulated digitizer.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Largest x (the writing area's width in units).
    pub max_x: u16,
    /// Largest y.
    pub max_y: u16,
    /// Largest pressure (10 bits at most).
    pub max_pressure: u16,
    /// Firmware version (14 bits).
    pub version: u16,
    /// Samples per second of generated signatures.
    pub sample_rate_hz: u32,
    /// Seed of the generated signatures (the n-th is seeded with seed + n).
    pub seed: u64,
    /// Play a generated signature each time sampling starts with nothing queued.
    pub auto_sign: bool,
    /// How long after sampling starts an automatic signature begins.
    pub sign_delay: Duration,
    /// Where to put the stable link to the terminal; `None` makes a private folder under
    /// the temporary directory (removed with the simulator).
    pub link: Option<PathBuf>,
}

impl Default for SimConfig {
    /// A 100 x 60 mm pad at 100 units/mm, 1024 pressure levels, 133 samples/s, signing by
    /// itself.
    fn default() -> Self {
        SimConfig {
            max_x: 10_000,
            max_y: 6_000,
            max_pressure: 1023,
            version: 262,
            sample_rate_hz: crate::pad::NOMINAL_SAMPLE_RATE_HZ,
            seed: 0,
            auto_sign: true,
            sign_delay: Duration::from_millis(800),
            link: None,
        }
    }
}

impl SimConfig {
    /// The query reply this digitizer gives.
    pub fn reply(&self) -> QueryReply {
        QueryReply {
            data_id: 0,
            max_x: self.max_x,
            max_y: self.max_y,
            max_pressure: self.max_pressure.min(1023),
            tilt_max: (0, 0),
            version: self.version & 0x3FFF,
        }
    }
}

/// The pen packets a trace becomes, with their times (ms from the trace's start).
///
/// A sample with pressure is the tip down. A pen-up sample before the first stroke, or
/// right before a stroke, is the pen hovering in proximity; the first pen-up sample after
/// a stroke that does not lead straight into the next is the pen leaving proximity (one
/// out-of-proximity packet), and the samples after it are silence, as a real digitizer
/// sends nothing while the pen is away.
pub fn trace_packets(trace: &[PenPoint], max_pressure: u16) -> Vec<(u32, PenPacket)> {
    let coord = |v: f32| v.round().clamp(0.0, f32::from(u16::MAX)) as u16;
    let first_down = trace.iter().position(|p| p.pressure > 0.0);
    let mut out = Vec::new();
    let mut in_prox = false;
    for (i, p) in trace.iter().enumerate() {
        let base = PenPacket {
            x: coord(p.x),
            y: coord(p.y),
            ..Default::default()
        };
        if p.pressure > 0.0 {
            let raw = (p.pressure.min(1.0) * f32::from(max_pressure)).round() as u16;
            out.push((
                p.t_ms,
                PenPacket {
                    proximity: true,
                    tip: true,
                    pressure: raw.clamp(1, max_pressure.max(1)),
                    ..base
                },
            ));
            in_prox = true;
            continue;
        }
        let approaching =
            first_down.is_none_or(|f| i < f) || trace.get(i + 1).is_some_and(|q| q.pressure > 0.0);
        if approaching {
            out.push((
                p.t_ms,
                PenPacket {
                    proximity: true,
                    ..base
                },
            ));
            in_prox = true;
        } else if in_prox {
            out.push((p.t_ms, base));
            in_prox = false;
        }
    }
    out
}

struct Playback {
    packets: Vec<(u32, PenPacket)>,
    start: Instant,
    next: usize,
}

impl Playback {
    fn due_at(&self) -> Option<Instant> {
        self.packets
            .get(self.next)
            .map(|(t, _)| self.start + Duration::from_millis(u64::from(*t)))
    }
}

struct Shared {
    config: SimConfig,
    link: PathBuf,
    own_dir: Option<PathBuf>,
    faults: FaultSet,
    queue: Mutex<VecDeque<Vec<(u32, PenPacket)>>>,
    writer: Mutex<Option<TTYPort>>,
    pts: Mutex<Option<String>>,
    stop: AtomicBool,
    sampling: AtomicBool,
    queries: AtomicU64,
    packets: AtomicU64,
    plays: AtomicU64,
    signatures: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data: a panic while holding the lock cannot leave it inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A simulated ISDV4 digitizer on a pseudo-terminal (see the [module docs](self)). Dropping
/// it closes the terminal and removes its link.
pub struct Isdv4Sim {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Isdv4Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Isdv4Sim")
            .field("path", &self.shared.link)
            .field("pts", &self.pts_path())
            .finish_non_exhaustive()
    }
}

static SIM_COUNT: AtomicU64 = AtomicU64::new(0);

impl Isdv4Sim {
    /// Opens a pseudo-terminal, links [`Isdv4Sim::path`] to its slave and starts playing the
    /// digitizer on its master, on a thread of its own.
    pub fn spawn(config: SimConfig) -> std::io::Result<Isdv4Sim> {
        let (link, own_dir) = match &config.link {
            Some(l) => (l.clone(), None),
            None => {
                let dir = std::env::temp_dir().join(format!(
                    "rekam-isdv4-{}-{}",
                    std::process::id(),
                    SIM_COUNT.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&dir)?;
                (dir.join("ttyISDV4"), Some(dir))
            }
        };
        let shared = Arc::new(Shared {
            config,
            link,
            own_dir,
            faults: FaultSet::new(vec![GARBAGE, TRUNCATE, SILENCE, DISCONNECT]),
            queue: Mutex::new(VecDeque::new()),
            writer: Mutex::new(None),
            pts: Mutex::new(None),
            stop: AtomicBool::new(false),
            sampling: AtomicBool::new(false),
            queries: AtomicU64::new(0),
            packets: AtomicU64::new(0),
            plays: AtomicU64::new(0),
            signatures: AtomicU64::new(0),
        });
        let first = plug(&shared)?;
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("isdv4-sim".into())
            .spawn(move || run(&thread_shared, Some(first)))?;
        Ok(Isdv4Sim {
            shared,
            thread: Some(thread),
        })
    }

    /// The stable path to open: a link to the current terminal, absent while unplugged.
    pub fn path(&self) -> &Path {
        &self.shared.link
    }

    /// The terminal the link points to now (`/dev/pts/N`), `None` while unplugged.
    pub fn pts_path(&self) -> Option<String> {
        lock(&self.shared.pts).clone()
    }

    /// The simulated digitizer.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// Queues a trace (pad units = the digitizer's units, as [`SimConfig::max_x`]): it is
    /// played when sampling is on, at once if it is.
    pub fn queue_trace(&self, trace: &[PenPoint]) {
        let packets = trace_packets(trace, self.shared.config.max_pressure);
        lock(&self.shared.queue).push_back(packets);
    }

    /// Queues a generated signature with this seed, fitted to the pad at
    /// [`SimConfig::sample_rate_hz`]; returns its trace.
    pub fn queue_signature(&self, seed: u64) -> Vec<PenPoint> {
        let trace = signature_trace(&self.shared.config, seed);
        self.queue_trace(&trace);
        trace
    }

    /// Writes one pen packet on the line now, whatever the sampling state (for latency
    /// measurements).
    pub fn write_packet(&self, packet: &PenPacket) -> std::io::Result<()> {
        self.write_raw(&packet.encode())
    }

    /// Writes bytes on the line now.
    pub fn write_raw(&self, bytes: &[u8]) -> std::io::Result<()> {
        match lock(&self.shared.writer).as_mut() {
            Some(w) => w.write_all(bytes),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "the simulated digitizer is unplugged",
            )),
        }
    }

    /// True while the host has sampling on.
    pub fn is_sampling(&self) -> bool {
        self.shared.sampling.load(Ordering::Relaxed)
    }

    /// True while plugged in.
    pub fn is_plugged(&self) -> bool {
        lock(&self.shared.pts).is_some()
    }

    /// Queries answered so far.
    pub fn queries_answered(&self) -> u64 {
        self.shared.queries.load(Ordering::Relaxed)
    }

    /// Pen packets sent so far (whole or cut).
    pub fn packets_sent(&self) -> u64 {
        self.shared.packets.load(Ordering::Relaxed)
    }

    /// Traces played to their end so far.
    pub fn plays_finished(&self) -> u64 {
        self.shared.plays.load(Ordering::Relaxed)
    }
}

impl Drop for Isdv4Sim {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.shared.link);
        if let Some(dir) = &self.shared.own_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl SimulatorControl for Isdv4Sim {
    fn faults(&self) -> Vec<FaultSpec> {
        self.shared.faults.specs()
    }
    fn active_faults(&self) -> Vec<String> {
        self.shared.faults.active()
    }
    fn inject(&self, fault: &str) -> Result<(), DeviceError> {
        self.shared.faults.inject(fault)
    }
    fn clear(&self) {
        self.shared.faults.clear();
    }
}

fn signature_trace(config: &SimConfig, seed: u64) -> Vec<PenPoint> {
    rekam_synth::render_signature_trace(
        seed,
        f32::from(config.max_x),
        f32::from(config.max_y),
        config.sample_rate_hz.max(1),
    )
}

/// A new terminal: (master, slave), the link pointed at the slave.
fn plug(shared: &Shared) -> std::io::Result<(TTYPort, TTYPort)> {
    let (master, slave) = TTYPort::pair().map_err(std::io::Error::from)?;
    let pts = slave
        .name()
        .ok_or_else(|| std::io::Error::other("the pseudo-terminal has no name"))?;
    let tmp = shared.link.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&pts, &tmp)?;
    std::fs::rename(&tmp, &shared.link)?;
    *lock(&shared.writer) = Some(master.try_clone_native().map_err(std::io::Error::from)?);
    *lock(&shared.pts) = Some(pts);
    Ok((master, slave))
}

fn unplug(shared: &Shared) {
    *lock(&shared.writer) = None;
    *lock(&shared.pts) = None;
    let _ = std::fs::remove_file(&shared.link);
    shared.sampling.store(false, Ordering::Relaxed);
}

/// Writes a pen packet, applying the one-shot line faults.
fn send_packet(shared: &Shared, master: &mut TTYPort, p: &PenPacket) {
    let bytes = p.encode();
    let mut out = Vec::with_capacity(bytes.len() + GARBAGE_BYTES.len());
    if shared.faults.take(GARBAGE.name) {
        out.extend_from_slice(&GARBAGE_BYTES);
        out.extend_from_slice(&bytes);
    } else if shared.faults.take(TRUNCATE.name) {
        out.extend_from_slice(&bytes[..TRUNCATED_LEN]);
    } else {
        out.extend_from_slice(&bytes);
    }
    if master.write_all(&out).is_ok() {
        shared.packets.fetch_add(1, Ordering::Relaxed);
    }
}

/// Answers a query, unless silent.
fn answer_query(shared: &Shared, master: &mut TTYPort) {
    if shared.faults.is_active(SILENCE.name) {
        return;
    }
    if master.write_all(&shared.config.reply().encode()).is_ok() {
        shared.queries.fetch_add(1, Ordering::Relaxed);
    }
}

/// The digitizer's loop, until the simulator is dropped.
fn run(shared: &Shared, first: Option<(TTYPort, TTYPort)>) {
    let mut line = first;
    let mut play: Option<Playback> = None;
    let mut buf = [0u8; 64];
    while !shared.stop.load(Ordering::Relaxed) {
        if shared.faults.is_active(DISCONNECT.name) {
            if line.take().is_some() {
                unplug(shared);
                play = None;
            }
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let Some((master, _slave)) = line.as_mut() else {
            match plug(shared) {
                Ok(l) => line = Some(l),
                Err(e) => {
                    tracing::warn!("the ISDV4 simulator cannot open a pseudo-terminal: {e}");
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
            continue;
        };
        let now = Instant::now();
        let wait = play
            .as_ref()
            .and_then(Playback::due_at)
            .map_or(Duration::from_millis(20), |due| {
                due.saturating_duration_since(now)
            })
            .clamp(Duration::from_millis(1), Duration::from_millis(20));
        let _ = master.set_timeout(wait);
        match master.read(&mut buf) {
            Ok(n) => {
                for &b in &buf[..n] {
                    match b {
                        CMD_STOP => {
                            shared.sampling.store(false, Ordering::Relaxed);
                            play = None;
                        }
                        CMD_START => {
                            shared.sampling.store(true, Ordering::Relaxed);
                            let idle = play.is_none() && lock(&shared.queue).is_empty();
                            if shared.config.auto_sign && idle {
                                let n = shared.signatures.fetch_add(1, Ordering::Relaxed);
                                let trace = signature_trace(
                                    &shared.config,
                                    shared.config.seed.wrapping_add(n),
                                );
                                play = Some(Playback {
                                    packets: trace_packets(&trace, shared.config.max_pressure),
                                    start: Instant::now() + shared.config.sign_delay,
                                    next: 0,
                                });
                            }
                        }
                        CMD_QUERY => answer_query(shared, master),
                        _ => {}
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
        if !shared.sampling.load(Ordering::Relaxed) {
            continue;
        }
        if play.is_none()
            && let Some(packets) = lock(&shared.queue).pop_front()
        {
            play = Some(Playback {
                packets,
                start: Instant::now(),
                next: 0,
            });
        }
        if let Some(p) = play.as_mut() {
            let now = Instant::now();
            while p.due_at().is_some_and(|due| due <= now) {
                let packet = p.packets[p.next].1;
                p.next += 1;
                if !shared.faults.is_active(SILENCE.name) {
                    send_packet(shared, master, &packet);
                }
            }
            if p.next >= p.packets.len() {
                play = None;
                shared.plays.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    if line.take().is_some() {
        unplug(shared);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(x: f32, y: f32, pressure: f32, t_ms: u32) -> PenPoint {
        PenPoint {
            x,
            y,
            pressure,
            t_ms,
        }
    }

    #[test]
    fn traces_become_packets_with_proximity_gaps_between_strokes() {
        let trace = [
            pt(1.0, 1.0, 0.0, 0),   // hover before the first stroke
            pt(2.0, 2.0, 0.5, 10),  // stroke 1
            pt(3.0, 3.0, 1.0, 20),  //
            pt(4.0, 4.0, 0.0, 30),  // leaves proximity
            pt(5.0, 5.0, 0.0, 40),  // away: silence
            pt(6.0, 6.0, 0.0, 50),  // back in proximity before stroke 2
            pt(7.0, 7.0, 0.01, 60), // stroke 2, light
            pt(8.0, 8.0, 0.0, 70),  // leaves
            pt(9.0, 9.0, 0.0, 80),  // away
        ];
        let p = trace_packets(&trace, 1000);
        let summary: Vec<(u32, bool, bool, u16, u16)> = p
            .iter()
            .map(|(t, p)| (*t, p.proximity, p.tip, p.x, p.pressure))
            .collect();
        assert_eq!(
            summary,
            [
                (0, true, false, 1, 0),
                (10, true, true, 2, 500),
                (20, true, true, 3, 1000),
                (30, false, false, 4, 0),
                (50, true, false, 6, 0),
                (60, true, true, 7, 10),
                (70, false, false, 8, 0),
            ]
        );
        // The lightest touch is still a touch.
        let p = trace_packets(&[pt(0.0, 0.0, 0.0001, 0)], 255);
        assert_eq!(p[0].1.pressure, 1);
    }

    #[test]
    fn the_reply_carries_the_configured_ranges() {
        let c = SimConfig::default();
        let r = QueryReply::decode(&c.reply().encode()).ok();
        assert_eq!(r, Some(c.reply()));
        assert_eq!((c.reply().max_x, c.reply().max_pressure), (10_000, 1023));
    }
}
