//! [`R30xSim`]: an R30x module simulated on the master side of a pseudo-terminal, for tests,
//! benchmarks and technicians (`rekam-sim r30x`). The driver opens the slave side
//! ([`R30xSim::path`], or the stable link [`SimConfig::link`]) as it opens a real adapter,
//! so every byte it sends and reads is the real thing.
//!
//! It answers VfyPwd, ReadSysPara, SetSysPara (baud, security level, packet size), GenImg,
//! UpImage and, as an R503 ([`SimModel::R503`]), ReadProdInfo and AuraLedConfig; other
//! instructions, and a command with a wrong checksum, get confirmation code 0x01 (what a
//! real module answers to an instruction it does not know is not documented). With a
//! password other than 0, every instruction but VfyPwd is refused with 0x21 until the
//! password was verified.
//!
//! A finger is placed and lifted by method ([`R30xSim::place_finger`]); each placement is a
//! new impression of one synthetic finger (`rekam-synth`), rendered at the model's image
//! size and sent as the module sends it: 4 bits per pixel, in data packets of the packet
//! size (128 bytes by default) and an end packet.
//!
//! Output is paced at the line rate ([`SimConfig::paced`]): 10 bits per byte at the current
//! baud rate, and each command takes its own line time to arrive, so that timings are those
//! of a real module; unpaced, it answers as fast as the pty carries bytes.
//!
//! # Faults ([`SimFault`], [`R30xSim::inject`])
//!
//! | fault | effect | cleared |
//! |---|---|---|
//! | `bad_checksum` | the next packet sent carries a wrong checksum | after that packet |
//! | `bad_checksums` | every packet carries a wrong checksum | by [`R30xSim::clear_faults`] |
//! | `garbage` | line noise (with a false header) before the next packet | after that packet |
//! | `silence` | nothing is answered (the module hangs or lost power) | by clearing |
//! | `truncated_upload` | the next image upload stops after half its data packets | after that upload |
//!
//! [`R30xSim::unplug`] closes the pseudo-terminal: the driver's port hangs up, as when a
//! USB adapter is pulled out. A new simulator with the same [`SimConfig::link`] is the
//! module plugged in again.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rekam_core::DeviceError;
use rekam_core::sim::{FaultSet, FaultSpec, SimulatorControl, splitmix64};
use serialport::{SerialPort, TTYPort};

use crate::link::line_time;
use crate::protocol::{
    self, Decoded, Decoder, LedConfig, Packet, PacketId, ProdInfo, SysParams, code, instruction,
};
use crate::scanner::ImageGeometry;

/// Which module the simulator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SimModel {
    /// An R307-class optical module: 256 × 288 images, no ReadProdInfo, no ring light.
    #[default]
    R307,
    /// An R503: 192 × 192 images, ReadProdInfo and the AuraLedConfig ring light.
    R503,
}

impl SimModel {
    /// Its image geometry.
    pub fn geometry(self) -> ImageGeometry {
        match self {
            SimModel::R307 => ImageGeometry::R30X,
            SimModel::R503 => ImageGeometry::R503,
        }
    }
}

/// How the simulator starts.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// The module played.
    pub model: SimModel,
    /// The baud rate it starts at (SetSysPara changes it).
    pub baud: u32,
    /// Pace the output at the line rate (false: as fast as the pty goes, for tests).
    pub paced: bool,
    /// The module address.
    pub address: u32,
    /// The handshake password.
    pub password: u32,
    /// How long GenImg takes before it answers.
    pub genimg_time: Duration,
    /// The seed of the synthetic finger and its impressions.
    pub seed: u64,
    /// A symbolic link made to point at the pty (as udev's `/dev/serial/by-id` links do),
    /// removed when the simulator stops.
    pub link: Option<PathBuf>,
    /// The data packet size code (0–3: 32, 64, 128, 256 bytes).
    pub packet_size_code: u16,
}

impl Default for SimConfig {
    /// An R307 at 57600 baud, paced, imaging in 150 ms.
    fn default() -> Self {
        SimConfig {
            model: SimModel::R307,
            baud: 57600,
            paced: true,
            address: protocol::DEFAULT_ADDRESS,
            password: protocol::DEFAULT_PASSWORD,
            genimg_time: Duration::from_millis(150),
            seed: 1,
            link: None,
            packet_size_code: 2,
        }
    }
}

impl SimConfig {
    /// Unpaced, instant: for tests.
    pub fn fast() -> Self {
        SimConfig {
            paced: false,
            genimg_time: Duration::ZERO,
            ..SimConfig::default()
        }
    }
}

/// A fault of the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimFault {
    /// The next packet carries a wrong checksum.
    BadChecksum,
    /// Every packet carries a wrong checksum.
    BadChecksums,
    /// Line noise before the next packet.
    Garbage,
    /// Nothing is answered.
    Silence,
    /// The next upload stops halfway.
    TruncatedUpload,
}

impl SimFault {
    /// Every fault.
    pub const ALL: [SimFault; 5] = [
        SimFault::BadChecksum,
        SimFault::BadChecksums,
        SimFault::Garbage,
        SimFault::Silence,
        SimFault::TruncatedUpload,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Its name and description.
    pub fn spec(self) -> FaultSpec {
        match self {
            SimFault::BadChecksum => FaultSpec {
                name: "bad_checksum",
                description: "the next packet sent carries a wrong checksum",
            },
            SimFault::BadChecksums => FaultSpec {
                name: "bad_checksums",
                description: "every packet sent carries a wrong checksum",
            },
            SimFault::Garbage => FaultSpec {
                name: "garbage",
                description: "line noise with a false header before the next packet",
            },
            SimFault::Silence => FaultSpec {
                name: "silence",
                description: "the module answers nothing (hung or without power)",
            },
            SimFault::TruncatedUpload => FaultSpec {
                name: "truncated_upload",
                description: "the next image upload stops after half its data packets",
            },
        }
    }
}

impl FromStr for SimFault {
    type Err = String;

    /// A name of [`SimFault::name`] (`-` for `_` accepted).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().replace('-', "_");
        SimFault::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = SimFault::ALL.iter().map(|f| f.name()).collect();
                format!("unknown fault {s:?}; faults: {}", names.join(", "))
            })
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// No pseudo-terminal.
    #[error("cannot open a pseudo-terminal: {0}")]
    Pty(String),
    /// The link could not be made.
    #[error("cannot make the link {path}: {reason}")]
    Link {
        /// The link.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The thread could not start.
    #[error("cannot start the simulator thread: {0}")]
    Thread(String),
}

/// What the simulator has done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Commands answered (or left unanswered under `silence`).
    pub commands: u64,
    /// Image uploads started.
    pub uploads: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
}

struct Shared {
    config: SimConfig,
    faults: FaultSet,
    finger: AtomicBool,
    placements: AtomicU64,
    baud: AtomicU32,
    stop: AtomicBool,
    led: Mutex<Option<LedConfig>>,
    last_image: Mutex<Option<Vec<u8>>>,
    commands: AtomicU64,
    uploads: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A simulated R30x module on a pseudo-terminal; see the module docs.
pub struct R30xSim {
    shared: Arc<Shared>,
    path: String,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for R30xSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("R30xSim")
            .field("path", &self.path)
            .field("model", &self.shared.config.model)
            .finish_non_exhaustive()
    }
}

impl R30xSim {
    /// Opens a pseudo-terminal pair and starts answering on its master side. The driver
    /// opens [`R30xSim::path`] (or the link).
    pub fn spawn(config: SimConfig) -> Result<R30xSim, SimError> {
        let (mut master, slave) = TTYPort::pair().map_err(|e| SimError::Pty(e.to_string()))?;
        let path = slave
            .name()
            .ok_or_else(|| SimError::Pty("the pty has no name".into()))?;
        master
            .set_timeout(Duration::from_millis(20))
            .map_err(|e| SimError::Pty(e.to_string()))?;
        if let Some(link) = &config.link {
            if link.symlink_metadata().is_ok() {
                std::fs::remove_file(link).map_err(|e| SimError::Link {
                    path: link.clone(),
                    reason: e.to_string(),
                })?;
            }
            std::os::unix::fs::symlink(&path, link).map_err(|e| SimError::Link {
                path: link.clone(),
                reason: e.to_string(),
            })?;
        }
        let shared = Arc::new(Shared {
            baud: AtomicU32::new(config.baud),
            config,
            faults: FaultSet::new(SimFault::ALL.iter().map(|f| f.spec()).collect()),
            finger: AtomicBool::new(false),
            placements: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            led: Mutex::new(None),
            last_image: Mutex::new(None),
            commands: AtomicU64::new(0),
            uploads: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
        });
        let module = Module {
            shared: Arc::clone(&shared),
            master,
            // Held open so that the master never reads EIO while the driver's port is closed.
            _slave: slave,
            decoder: Decoder::new(),
            clock: Instant::now(),
            verified: false,
            image: None,
            rendered_for: None,
            security_level: 3,
            packet_size_code: shared.config.packet_size_code.min(3),
        };
        let thread = std::thread::Builder::new()
            .name("r30x-sim".into())
            .spawn(move || module.run())
            .map_err(|e| SimError::Thread(e.to_string()))?;
        Ok(R30xSim {
            shared,
            path,
            thread: Some(thread),
        })
    }

    /// The slave side's path (`/dev/pts/N`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The stable link to it, when configured.
    pub fn link(&self) -> Option<&Path> {
        self.shared.config.link.as_deref()
    }

    /// Puts a finger on the window: a new impression.
    pub fn place_finger(&self) {
        self.shared.placements.fetch_add(1, Ordering::Relaxed);
        self.shared.finger.store(true, Ordering::Relaxed);
    }

    /// Puts a finger on the window after `delay` (from a thread of its own).
    pub fn place_finger_after(&self, delay: Duration) {
        let shared = Arc::clone(&self.shared);
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            shared.placements.fetch_add(1, Ordering::Relaxed);
            shared.finger.store(true, Ordering::Relaxed);
        });
    }

    /// Lifts the finger.
    pub fn lift_finger(&self) {
        self.shared.finger.store(false, Ordering::Relaxed);
    }

    /// True while a finger is on the window.
    pub fn finger_present(&self) -> bool {
        self.shared.finger.load(Ordering::Relaxed)
    }

    /// Makes a fault happen.
    pub fn inject(&self, fault: SimFault) {
        // The name is one of the set's: this cannot fail.
        let _ = self.shared.faults.inject(fault.name());
    }

    /// Clears every fault.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// The ring light's last setting (R503).
    pub fn led(&self) -> Option<LedConfig> {
        *lock(&self.shared.led)
    }

    /// The baud rate it runs at now.
    pub fn baud(&self) -> u32 {
        self.shared.baud.load(Ordering::Relaxed)
    }

    /// The 8-bit pixels of the last image uploaded as the driver should decode them
    /// (each 4-bit value `v` as `v << 4 | v`).
    pub fn last_image(&self) -> Option<Vec<u8>> {
        lock(&self.shared.last_image).clone()
    }

    /// What it has done.
    pub fn stats(&self) -> SimStats {
        let s = &self.shared;
        SimStats {
            commands: s.commands.load(Ordering::Relaxed),
            uploads: s.uploads.load(Ordering::Relaxed),
            bytes_sent: s.bytes_sent.load(Ordering::Relaxed),
            bytes_received: s.bytes_received.load(Ordering::Relaxed),
        }
    }

    /// Closes the pseudo-terminal (and removes the link): the driver's port hangs up, as
    /// when the adapter is pulled out.
    pub fn unplug(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(link) = &self.shared.config.link {
            if std::fs::read_link(link).is_ok_and(|t| t == Path::new(&self.path)) {
                let _ = std::fs::remove_file(link);
            }
        }
    }
}

impl Drop for R30xSim {
    fn drop(&mut self) {
        self.stop();
    }
}

impl SimulatorControl for R30xSim {
    fn faults(&self) -> Vec<FaultSpec> {
        self.shared.faults.specs()
    }

    fn active_faults(&self) -> Vec<String> {
        self.shared.faults.active()
    }

    fn inject(&self, fault: &str) -> Result<(), DeviceError> {
        let f = SimFault::from_str(fault).map_err(DeviceError::InvalidArgument)?;
        R30xSim::inject(self, f);
        Ok(())
    }

    fn clear(&self) {
        self.clear_faults();
    }
}

/// The module on the simulator's thread.
struct Module {
    shared: Arc<Shared>,
    master: TTYPort,
    _slave: TTYPort,
    decoder: Decoder,
    /// When the line is free again (pacing).
    clock: Instant,
    verified: bool,
    /// The image buffer: packed 4-bit pixels.
    image: Option<Vec<u8>>,
    rendered_for: Option<u64>,
    security_level: u16,
    packet_size_code: u16,
}

impl Module {
    fn run(mut self) {
        let mut buf = [0u8; 1024];
        while !self.shared.stop.load(Ordering::Relaxed) {
            match self.master.read(&mut buf) {
                Ok(0) => {}
                Ok(n) => {
                    self.shared
                        .bytes_received
                        .fetch_add(n as u64, Ordering::Relaxed);
                    self.decoder.push(&buf[..n]);
                    while let Some(event) = self.decoder.next_event() {
                        self.on_event(event);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    fn baud(&self) -> u32 {
        self.shared.baud.load(Ordering::Relaxed)
    }

    fn on_event(&mut self, event: Decoded) {
        match event {
            Decoded::Packet(p)
                if p.address == self.shared.config.address
                    && p.id == PacketId::Command
                    && !p.payload.is_empty() =>
            {
                let len = Packet::wire_len(p.payload.len());
                self.arrived(len);
                self.shared.commands.fetch_add(1, Ordering::Relaxed);
                self.command(p.payload[0], &p.payload[1..]);
            }
            Decoded::BadChecksum { .. } => {
                self.arrived(protocol::OVERHEAD);
                self.reply(code::PACKET_ERROR, &[]);
            }
            _ => {}
        }
    }

    /// A command of `len` bytes has arrived: it took its line time.
    fn arrived(&mut self, len: usize) {
        if self.shared.config.paced {
            self.line_from_now();
            self.clock += line_time(len, self.baud());
        }
    }

    /// Restarts the line clock at now when the line has been idle.
    fn line_from_now(&mut self) {
        let now = Instant::now();
        if self.clock + Duration::from_millis(2) < now {
            self.clock = now;
        }
    }

    fn reply(&mut self, c: u8, values: &[u8]) {
        let p = Packet::ack(self.shared.config.address, c, values);
        self.send(&[p]);
    }

    fn command(&mut self, ins: u8, params: &[u8]) {
        let faults = &self.shared.faults;
        if faults.is_active(SimFault::Silence.name()) {
            return;
        }
        if self.shared.config.password != 0 && !self.verified && ins != instruction::VFY_PWD {
            self.reply(code::VERIFY_PASSWORD_FIRST, &[]);
            return;
        }
        let r503 = self.shared.config.model == SimModel::R503;
        match ins {
            instruction::VFY_PWD => match params {
                [a, b, c, d]
                    if u32::from_be_bytes([*a, *b, *c, *d]) == self.shared.config.password =>
                {
                    self.verified = true;
                    self.reply(code::OK, &[]);
                }
                [_, _, _, _] => self.reply(code::WRONG_PASSWORD, &[]),
                _ => self.reply(code::PACKET_ERROR, &[]),
            },
            instruction::READ_SYS_PARA => {
                let baud = self.baud();
                let params = SysParams {
                    status: (u16::from(self.verified) << 2)
                        | (u16::from(self.image.is_some()) << 3),
                    system_id: 0x0009,
                    library_size: if r503 { 200 } else { 1000 },
                    security_level: self.security_level,
                    address: self.shared.config.address,
                    packet_size_code: self.packet_size_code,
                    baud_n: u16::from(protocol::baud_code(baud).unwrap_or(6)),
                };
                self.reply(code::OK, &params.encode());
            }
            instruction::SET_SYS_PARA => self.set_sys_para(params),
            instruction::GEN_IMG => self.gen_img(),
            instruction::UP_IMAGE => self.up_image(),
            instruction::READ_PROD_INFO if r503 => {
                let g = SimModel::R503.geometry();
                let info = ProdInfo {
                    model: "R503".into(),
                    batch: "SIM1".into(),
                    serial: format!("{:08X}", self.shared.config.seed as u32),
                    hardware: (1, 2),
                    sensor: "SIM192".into(),
                    width: g.width as u16,
                    height: g.height as u16,
                    template_size: 1536,
                    library_size: 200,
                };
                self.reply(code::OK, &info.encode());
            }
            instruction::AURA_LED_CONFIG if r503 => match LedConfig::from_params(params) {
                Some(led) => {
                    *lock(&self.shared.led) = Some(led);
                    self.reply(code::OK, &[]);
                }
                None => self.reply(code::BAD_REGISTER_VALUE, &[]),
            },
            _ => self.reply(code::PACKET_ERROR, &[]),
        }
    }

    fn set_sys_para(&mut self, params: &[u8]) {
        match params {
            [4, n] if (1..=12).contains(n) => {
                // Acknowledged at the old rate, then the module switches.
                self.reply(code::OK, &[]);
                self.wait_line();
                self.shared
                    .baud
                    .store(9600 * u32::from(*n), Ordering::Relaxed);
            }
            [5, n] if (1..=5).contains(n) => {
                self.security_level = u16::from(*n);
                self.reply(code::OK, &[]);
            }
            [6, n] if *n <= 3 => {
                self.packet_size_code = u16::from(*n);
                self.reply(code::OK, &[]);
            }
            [4..=6, _] => self.reply(code::BAD_REGISTER_VALUE, &[]),
            [_, _] => self.reply(code::INVALID_REGISTER, &[]),
            _ => self.reply(code::PACKET_ERROR, &[]),
        }
    }

    fn gen_img(&mut self) {
        let t = self.shared.config.genimg_time;
        if !t.is_zero() {
            std::thread::sleep(t);
        }
        if !self.shared.finger.load(Ordering::Relaxed) {
            self.reply(code::NO_FINGER, &[]);
            return;
        }
        let placement = self.shared.placements.load(Ordering::Relaxed);
        if self.rendered_for != Some(placement) {
            self.image = Some(self.render(placement));
            self.rendered_for = Some(placement);
        }
        self.reply(code::OK, &[]);
    }

    /// One impression of the simulator's finger, packed 4 bits per pixel.
    fn render(&self, placement: u64) -> Vec<u8> {
        let g = self.shared.config.model.geometry();
        let seed = self.shared.config.seed;
        let finger = rekam_synth::master(splitmix64(seed));
        let imp = rekam_synth::Impression::random(splitmix64(seed ^ placement), 0.25);
        let img = rekam_synth::render_finger(&finger, g.width, g.height, &imp);
        protocol::pack_nibbles(img.as_raw())
    }

    fn up_image(&mut self) {
        let Some(image) = self.image.clone() else {
            self.reply(code::NO_IMAGE, &[]);
            return;
        };
        self.shared.uploads.fetch_add(1, Ordering::Relaxed);
        *lock(&self.shared.last_image) = Some(protocol::unpack_nibbles(&image));
        let address = self.shared.config.address;
        let size = 32usize << self.packet_size_code.min(3);
        let chunks: Vec<&[u8]> = image.chunks(size).collect();
        let n = chunks.len();
        let mut packets = vec![Packet::ack(address, code::OK, &[])];
        for (i, chunk) in chunks.into_iter().enumerate() {
            let id = if i + 1 == n {
                PacketId::EndData
            } else {
                PacketId::Data
            };
            packets.push(Packet::new(address, id, chunk.to_vec()));
        }
        if self.shared.faults.take(SimFault::TruncatedUpload.name()) {
            packets.truncate(1 + n / 2);
        }
        self.send(&packets);
    }

    /// Sends packets, applying the faults and pacing at the line rate.
    fn send(&mut self, packets: &[Packet]) {
        let faults = &self.shared.faults;
        let mut bytes = Vec::new();
        for p in packets {
            if faults.take(SimFault::Garbage.name()) {
                // Noise, a false header with an impossible length, a lone header byte.
                bytes.extend_from_slice(&[
                    0x00, 0xFF, 0x55, 0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0xFF, 0xF0, 0x3C,
                    0xEF,
                ]);
            }
            let mut b = p.encode();
            if faults.take(SimFault::BadChecksum.name())
                || faults.is_active(SimFault::BadChecksums.name())
            {
                let last = b.len() - 1;
                b[last] ^= 0x5A;
            }
            bytes.extend_from_slice(&b);
        }
        self.write_paced(&bytes);
    }

    /// Waits until the line is free (everything sent has left at the line rate).
    fn wait_line(&mut self) {
        let now = Instant::now();
        if self.clock > now {
            std::thread::sleep(self.clock - now);
        }
    }

    fn write_paced(&mut self, bytes: &[u8]) {
        if !self.shared.config.paced {
            self.write(bytes);
            return;
        }
        // Chunks of 32 bytes (5.6 ms at 57600 baud), each written when its last byte would
        // have arrived.
        // The schedule is absolute: a sleep that overran is made up by the next chunks, as a
        // UART's bit clock does not drift (a line idle for more than 2 ms starts afresh).
        for chunk in bytes.chunks(32) {
            self.line_from_now();
            self.clock += line_time(chunk.len(), self.baud());
            self.wait_line();
            self.write(chunk);
        }
    }

    /// Writes every byte, waiting (at most 2 s) while the pty's buffer is full because the
    /// driver does not read; what cannot be written is lost, as on a real line.
    fn write(&mut self, bytes: &[u8]) {
        let give_up = Instant::now() + Duration::from_secs(2);
        let mut off = 0;
        while off < bytes.len() && !self.shared.stop.load(Ordering::Relaxed) {
            match self.master.write(&bytes[off..]) {
                Ok(n) => {
                    off += n;
                    self.shared
                        .bytes_sent
                        .fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted
                    ) && Instant::now() < give_up => {}
                Err(_) => return,
            }
        }
    }
}
