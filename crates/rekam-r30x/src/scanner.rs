//! [`R30xScanner`]: the module as a rekam [`FingerprintScanner`].
//!
//! An actor thread owns the serial line: async methods send it a job over a channel and
//! await the answer on a oneshot, so the runtime never blocks on the port. The actor opens
//! the line, verifies the password and reads the parameters; when the line is lost (the
//! adapter unplugged, the port hung up, or the module silent for
//! [`R30xConfig::silent_limit`] commands in a row) the device is `Disconnected`, and the
//! actor opens the line again every [`R30xConfig::reconnect_interval`] until the module
//! answers, then it is `Ready` again.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use rekam_core::sim::StateCell;
use rekam_core::{
    CheckOutcome, Device, DeviceClass, DeviceError, DeviceInfo, DeviceState, DiagnosticCheck,
    DiagnosticReport, FingerCapture, FingerPosition, FingerPreview, FingerprintScanner, GreyImage,
    MissingFinger,
};
use tokio::sync::{oneshot, watch};

use crate::link::{Link, LinkError, LinkStats, StatsSnapshot, Timeouts};
use crate::protocol::{
    self, DEFAULT_ADDRESS, DEFAULT_PASSWORD, LedColour, LedConfig, LedEffect, ProdInfo, SysParams,
    code,
};
use crate::transport::Connector;

/// The driver's name in selectors (`fingerprint:r30x:/dev/ttyUSB0`).
pub const DRIVER_NAME: &str = "r30x";

/// The size and resolution of a module's images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageGeometry {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Resolution in pixels per inch, as the module's manual states it.
    pub ppi: u32,
}

impl ImageGeometry {
    /// R305, R307, R308, ZFM-20/60, AS608 and their clones: 256 × 288 pixels. Their
    /// manuals and data sheets state a resolution of 500 dpi; it is nominal, not
    /// calibrated (the optics are not specified more closely).
    pub const R30X: ImageGeometry = ImageGeometry {
        width: 256,
        height: 288,
        ppi: 500,
    };
    /// R503 (capacitive): a 192 × 192 sensing array at 508 dpi (R503 manual, specification
    /// table).
    pub const R503: ImageGeometry = ImageGeometry {
        width: 192,
        height: 192,
        ppi: 508,
    };

    /// Pixels.
    pub fn pixels(&self) -> usize {
        self.width as usize * self.height as usize
    }
}

/// Whether the ring light (AuraLedConfig, R503) is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LedMode {
    /// When the module answers ReadProdInfo (newer modules) and accepts AuraLedConfig.
    #[default]
    Auto,
    /// Always (an error from the module is then reported).
    On,
    /// Never.
    Off,
}

/// How the driver talks to a module.
#[derive(Debug, Clone, PartialEq)]
pub struct R30xConfig {
    /// The line's baud rate (the module's N × 9600; 57600 unless changed).
    pub baud: u32,
    /// The handshake password (0 unless changed).
    pub password: u32,
    /// The module address (FFFFFFFF unless changed).
    pub address: u32,
    /// Time limits and retries of each exchange.
    pub timeouts: Timeouts,
    /// How long a capture waits for a finger.
    pub finger_timeout: Duration,
    /// The pause between two GenImg polls while no finger is there.
    pub poll_interval: Duration,
    /// How often a lost line is tried again.
    pub reconnect_interval: Duration,
    /// Commands left unanswered in a row before the module counts as gone.
    pub silent_limit: u32,
    /// The ring light.
    pub led: LedMode,
    /// The image geometry when the module does not tell it (ReadProdInfo); `None`: 256 × 288.
    pub geometry: Option<ImageGeometry>,
    /// The model's name when the module does not tell it.
    pub model: Option<String>,
    /// The pause between preview frames while no finger is there.
    pub preview_interval: Duration,
    /// While idle, a handshake this often, so that an unplug or a module that lost power
    /// is noticed (and shown) without waiting for the next capture; `None`: never.
    pub heartbeat: Option<Duration>,
}

impl Default for R30xConfig {
    fn default() -> Self {
        R30xConfig {
            baud: 57600,
            password: DEFAULT_PASSWORD,
            address: DEFAULT_ADDRESS,
            timeouts: Timeouts::default(),
            finger_timeout: Duration::from_secs(20),
            poll_interval: Duration::from_millis(50),
            reconnect_interval: Duration::from_secs(1),
            silent_limit: 2,
            led: LedMode::Auto,
            geometry: None,
            model: None,
            preview_interval: Duration::from_millis(200),
            heartbeat: Some(Duration::from_secs(3)),
        }
    }
}

/// What the module said about itself when it was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// ReadSysPara's answer.
    pub params: SysParams,
    /// ReadProdInfo's answer, on modules that have it.
    pub product: Option<ProdInfo>,
    /// True when the ring light answers AuraLedConfig.
    pub led: bool,
    /// The image geometry used.
    pub geometry: ImageGeometry,
}

type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// The actor's side: the line and what it knows.
struct Session {
    device_id: String,
    connector: Arc<dyn Connector>,
    config: R30xConfig,
    baud: u32,
    link: Option<Link>,
    stats: Arc<LinkStats>,
    cell: StateCell,
    reason: Arc<Mutex<Option<String>>>,
    silent: u32,
    last_attempt: Instant,
    identity: Option<Identity>,
}

/// Maps a link error to a device error for the operation `what`.
fn device_error(device: &str, e: &LinkError, what: &str) -> DeviceError {
    match e {
        LinkError::Closed(_) | LinkError::Io(_) => DeviceError::Disconnected {
            device: device.to_string(),
        },
        LinkError::Timeout { waited, .. } => DeviceError::Timeout(format!(
            "the fingerprint module did not answer {what} (nothing within {:.1} s, after \
             retries): check its cable and power supply",
            waited.as_secs_f64()
        )),
        LinkError::Checksum => DeviceError::Protocol(format!(
            "damaged packets from the fingerprint module during {what}, even after retries: \
             check the cable (short, shielded, firm contacts) and the baud rate"
        )),
        LinkError::Protocol(m) => DeviceError::Protocol(format!("{what}: {m}")),
        LinkError::Module { code: c, .. } => module_error(*c, what),
    }
}

/// Maps a confirmation code other than success to a device error.
pub fn module_error(c: u8, what: &str) -> DeviceError {
    let text = protocol::describe_code(c);
    match c {
        code::NO_FINGER => DeviceError::Timeout(format!("{what}: {text}")),
        code::IMAGE_FAIL => DeviceError::Hardware(format!(
            "{what}: {text}: ask the applicant to press the finger flat, clean the sensor window \
             and retry"
        )),
        code::WRONG_PASSWORD | code::VERIFY_PASSWORD_FIRST => DeviceError::PermissionDenied {
            path: "the fingerprint module".into(),
            help: format!(
                "{what}: the module refused the handshake password ({text}): set the device \
                 option password to the module's password (8 hex digits; 00000000 unless it \
                 was changed)"
            ),
        },
        code::INVALID_REGISTER | code::BAD_REGISTER_VALUE => {
            DeviceError::InvalidArgument(format!("{what}: {text}"))
        }
        code::PACKET_ERROR => DeviceError::Protocol(format!(
            "{what}: {text}, even after retries: check the cable and the baud rate"
        )),
        code::NO_IMAGE => DeviceError::Protocol(format!("{what}: {text}")),
        code::SENSOR_ABNORMAL => {
            DeviceError::Hardware(format!("{what}: {text}: the module needs service"))
        }
        _ => DeviceError::Hardware(format!("{what}: confirmation code 0x{c:02X}: {text}")),
    }
}

impl Session {
    fn disconnected(&self) -> DeviceError {
        DeviceError::Disconnected {
            device: self.device_id.clone(),
        }
    }

    fn set_reason(&self, reason: Option<String>) {
        *self.reason.lock().unwrap_or_else(|e| e.into_inner()) = reason;
    }

    /// Marks the line lost.
    fn lost(&mut self, why: &str) {
        if self.link.take().is_some() {
            self.stats.count_disconnect();
            tracing::warn!(device = %self.device_id, why, "fingerprint module lost");
        }
        self.silent = 0;
        self.cell.set(DeviceState::Disconnected);
        self.set_reason(Some(why.to_string()));
    }

    /// Runs an exchange on the line, turning its error into a device error (and the line
    /// lost when it is gone or silent too long).
    fn run<T>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut Link) -> Result<T, LinkError>,
    ) -> Result<T, DeviceError> {
        let Some(link) = self.link.as_mut() else {
            return Err(self.disconnected());
        };
        match f(link) {
            Ok(v) => {
                self.silent = 0;
                Ok(v)
            }
            Err(e) => {
                let err = device_error(&self.device_id, &e, what);
                match &e {
                    LinkError::Closed(m) | LinkError::Io(m) => {
                        self.lost(&format!("the serial line {} is gone: {m}", self.address()));
                    }
                    LinkError::Timeout { .. } => {
                        self.silent += 1;
                        if self.silent >= self.config.silent_limit {
                            self.lost(&format!(
                                "the module on {} stopped answering",
                                self.address()
                            ));
                        }
                    }
                    _ => {}
                }
                Err(err)
            }
        }
    }

    fn address(&self) -> String {
        self.connector.address()
    }

    /// Opens the line, verifies the password, reads the parameters (and, the first time,
    /// the product information and whether the ring light answers).
    fn connect(&mut self) -> Result<Identity, DeviceError> {
        self.last_attempt = Instant::now();
        let path = self.address();
        let mut transport = self.connector.connect(self.baud)?;
        transport
            .clear_input()
            .map_err(|e| DeviceError::Hardware(format!("{path}: {e}")))?;
        let mut link = Link::new(
            transport,
            self.config.address,
            self.baud,
            self.config.timeouts,
            self.stats.clone(),
        );
        let address = self.config.address;
        let reply = self.config.timeouts.reply;
        let hello = |e: LinkError| match e {
            LinkError::Timeout { .. } => DeviceError::Timeout(format!(
                "no answer from a fingerprint module on {path} at {} baud: check the wiring \
                 (the module's TX to the adapter's RX and back), its power, and the baud \
                 option (the module's rate is 9600 × N, 57600 unless changed)",
                self.baud
            )),
            LinkError::Closed(_) | LinkError::Io(_) => DeviceError::Disconnected {
                device: self.device_id.clone(),
            },
            e => device_error(&self.device_id, &e, "the password handshake (VfyPwd)"),
        };
        // A module that is still away is already counted as the disconnect.
        link.set_counting(false);
        link.command_ok(&protocol::vfy_pwd(address, self.config.password), reply)
            .map_err(hello)?;
        link.set_counting(true);
        let ack = link
            .command_ok(&protocol::read_sys_para(address), reply)
            .map_err(|e| device_error(&self.device_id, &e, "reading the parameters"))?;
        let params = SysParams::parse(&ack.payload[1..]).ok_or_else(|| {
            DeviceError::Protocol("ReadSysPara answered fewer than 16 bytes".into())
        })?;
        let identity = match &self.identity {
            Some(known) => Identity {
                params,
                ..known.clone()
            },
            None => self.identify(&mut link, params),
        };
        self.link = Some(link);
        self.silent = 0;
        self.identity = Some(identity.clone());
        self.set_reason(None);
        self.cell.set(DeviceState::Ready);
        Ok(identity)
    }

    /// The first time: ReadProdInfo and the ring light, on modules that have them.
    fn identify(&self, link: &mut Link, params: SysParams) -> Identity {
        let address = self.config.address;
        let probe = self.config.timeouts.reply.min(Duration::from_millis(300));
        let product = link
            .probe(&protocol::read_prod_info(address), probe)
            .ok()
            .filter(|a| a.payload.first() == Some(&code::OK))
            .and_then(|a| ProdInfo::parse(&a.payload[1..]));
        let led = match self.config.led {
            LedMode::Off => false,
            LedMode::On => true,
            LedMode::Auto => {
                product.is_some()
                    && link
                        .probe(&LedConfig::OFF.packet(address), probe)
                        .is_ok_and(|a| a.payload.first() == Some(&code::OK))
            }
        };
        let geometry = product
            .as_ref()
            .filter(|p| (64..=512).contains(&p.width) && (64..=512).contains(&p.height))
            .map(|p| {
                let stated = self.config.geometry.unwrap_or(ImageGeometry::R30X);
                ImageGeometry {
                    width: u32::from(p.width),
                    height: u32::from(p.height),
                    ppi: if (p.width, p.height) == (192, 192) {
                        ImageGeometry::R503.ppi
                    } else {
                        stated.ppi
                    },
                }
            })
            .or(self.config.geometry)
            .unwrap_or(ImageGeometry::R30X);
        Identity {
            params,
            product,
            led,
            geometry,
        }
    }

    fn try_reconnect(&mut self) {
        match self.connect() {
            Ok(_) => {
                self.stats.count_reconnect();
                tracing::info!(device = %self.device_id, "fingerprint module back");
            }
            Err(e) => {
                self.cell.set(DeviceState::Disconnected);
                self.set_reason(Some(e.to_string()));
            }
        }
    }

    /// One handshake while idle: its failure marks the line lost (gone, or silent
    /// [`R30xConfig::silent_limit`] times).
    fn heartbeat(&mut self) {
        if let Some(link) = self.link.as_mut() {
            link.mark("heartbeat");
        }
        let reply = self.config.timeouts.reply;
        let address = self.config.address;
        let password = self.config.password;
        if let Err(e) = self.run("the heartbeat handshake (VfyPwd)", |l| {
            l.command_ok(&protocol::vfy_pwd(address, password), reply)
        }) {
            tracing::debug!(device = %self.device_id, error = %e, "heartbeat");
        }
    }

    fn geometry(&self) -> ImageGeometry {
        self.identity
            .as_ref()
            .map_or(ImageGeometry::R30X, |i| i.geometry)
    }

    fn led(&mut self, config: LedConfig) {
        if self.identity.as_ref().is_some_and(|i| i.led) {
            let reply = self.config.timeouts.reply;
            let address = self.config.address;
            // The light is a courtesy: a failure is logged, never the operation's error.
            if let Err(e) = self.run("setting the ring light", |l| {
                l.command_ok(&config.packet(address), reply)
            }) {
                tracing::debug!(error = %e, "ring light");
            }
        }
    }

    /// One GenImg: true when a finger was imaged.
    fn poll_finger(&mut self) -> Result<bool, DeviceError> {
        let reply = self.config.timeouts.reply;
        let address = self.config.address;
        let ack = self.run("imaging the finger (GenImg)", |l| {
            l.command(&protocol::gen_img(address), reply)
        })?;
        match ack.payload[0] {
            code::OK => Ok(true),
            code::NO_FINGER | code::IMAGE_FAIL => Ok(false),
            c => Err(module_error(c, "imaging the finger (GenImg)")),
        }
    }

    fn upload(&mut self) -> Result<GreyImage, DeviceError> {
        let data = self.run("uploading the image (UpImage)", |l| l.upload_image())?;
        decode_image(&data, self.geometry())
    }

    fn capture(
        &mut self,
        finger_timeout: Duration,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<GreyImage, DeviceError> {
        let deadline = Instant::now() + finger_timeout;
        self.led(LedConfig {
            effect: LedEffect::Breathing,
            speed: 0x60,
            colour: LedColour::Blue,
            count: 0,
        });
        let result = (|| {
            loop {
                if cancelled() {
                    return Err(DeviceError::Cancelled);
                }
                if self.poll_finger()? {
                    break;
                }
                if Instant::now() >= deadline {
                    return Err(DeviceError::Timeout(format!(
                        "no finger was placed on the scanner within {} s: ask the applicant \
                         to place the finger flat on the window, then capture again",
                        finger_timeout.as_secs_f64().round()
                    )));
                }
                std::thread::sleep(self.config.poll_interval);
            }
            self.led(LedConfig {
                effect: LedEffect::On,
                speed: 0,
                colour: LedColour::Purple,
                count: 0,
            });
            self.upload()
        })();
        self.led(LedConfig::OFF);
        result
    }

    fn self_test(&mut self) -> Vec<DiagnosticCheck> {
        let mut checks = Vec::new();
        if self.link.is_none() {
            self.try_reconnect();
        }
        if self.link.is_none() {
            let why = self
                .reason
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .unwrap_or_else(|| "the line is closed".into());
            checks.push(DiagnosticCheck::new(
                "link",
                CheckOutcome::Fail,
                format!("no module on {}: {why}", self.address()),
            ));
            return checks;
        }
        let reply = self.config.timeouts.reply;
        let address = self.config.address;
        let password = self.config.password;
        let t = Instant::now();
        match self.run("the password handshake (VfyPwd)", |l| {
            l.command_ok(&protocol::vfy_pwd(address, password), reply)
        }) {
            Ok(_) => {
                let rtt = t.elapsed();
                let ms = rtt.as_secs_f64() * 1000.0;
                // Two 16/12-byte packets take ~5 ms at 57600 baud; far more means retries
                // or a slow adapter.
                let outcome = if rtt > Duration::from_millis(250) {
                    CheckOutcome::Warn
                } else {
                    CheckOutcome::Pass
                };
                checks.push(DiagnosticCheck::new(
                    "handshake",
                    outcome,
                    format!(
                        "VfyPwd answered in {ms:.1} ms on {} at {} baud",
                        self.address(),
                        self.baud
                    ),
                ));
            }
            Err(e) => {
                checks.push(DiagnosticCheck::new(
                    "handshake",
                    CheckOutcome::Fail,
                    e.to_string(),
                ));
                return checks;
            }
        }
        match self.run("reading the parameters (ReadSysPara)", |l| {
            l.command_ok(&protocol::read_sys_para(address), reply)
        }) {
            Ok(ack) => match SysParams::parse(&ack.payload[1..]) {
                Some(p) => {
                    let mut detail = p.to_string();
                    let mut outcome = CheckOutcome::Pass;
                    if p.baud() != self.baud {
                        outcome = CheckOutcome::Warn;
                        detail.push_str(&format!(
                            "; the module's stored rate differs from the line's {} baud",
                            self.baud
                        ));
                    }
                    if let Some(product) = self.identity.as_ref().and_then(|i| i.product.clone()) {
                        detail.push_str(&format!(
                            "; product {} serial {} hardware {}.{} sensor {} {}x{}",
                            product.model,
                            product.serial,
                            product.hardware.0,
                            product.hardware.1,
                            product.sensor,
                            product.width,
                            product.height
                        ));
                    }
                    checks.push(DiagnosticCheck::new("parameters", outcome, detail));
                }
                None => checks.push(DiagnosticCheck::new(
                    "parameters",
                    CheckOutcome::Fail,
                    "ReadSysPara answered fewer than 16 bytes",
                )),
            },
            Err(e) => checks.push(DiagnosticCheck::new(
                "parameters",
                CheckOutcome::Fail,
                e.to_string(),
            )),
        }
        match self.poll_finger() {
            Ok(false) => checks.push(DiagnosticCheck::new(
                "sensor",
                CheckOutcome::Pass,
                "GenImg answered: no finger on the window",
            )),
            Ok(true) => checks.push(DiagnosticCheck::new(
                "sensor",
                CheckOutcome::Warn,
                "GenImg sees a finger with no one capturing: lift the finger, or clean the \
                 window if nothing is on it",
            )),
            Err(e) => checks.push(DiagnosticCheck::new(
                "sensor",
                CheckOutcome::Fail,
                e.to_string(),
            )),
        }
        checks
    }

    fn set_baud(&mut self, baud: u32) -> Result<(), DeviceError> {
        let n = protocol::baud_code(baud).ok_or_else(|| {
            DeviceError::InvalidArgument(format!(
                "{baud} baud: the module runs at 9600 × N with N from 1 to 12"
            ))
        })?;
        let reply = self.config.timeouts.reply;
        let address = self.config.address;
        let password = self.config.password;
        self.run("setting the baud rate (SetSysPara 4)", |l| {
            l.command_ok(
                &protocol::set_sys_para(address, protocol::parameter::BAUD, n),
                reply,
            )?;
            // The acknowledgement left at the old rate; give the module a moment to switch.
            std::thread::sleep(Duration::from_millis(50));
            l.set_baud(baud)?;
            l.command_ok(&protocol::vfy_pwd(address, password), reply)
        })?;
        self.baud = baud;
        Ok(())
    }
}

/// Turns an upload into an image: 4 bits per pixel (two pixels a byte, high nibble first,
/// stretched to 8 bits by `v << 4 | v`) when it has half a byte per pixel, 8 bits when it
/// has one byte per pixel (modules on USB send that).
pub fn decode_image(data: &[u8], geometry: ImageGeometry) -> Result<GreyImage, DeviceError> {
    let pixels = if data.len() * 2 == geometry.pixels() {
        protocol::unpack_nibbles(data)
    } else if data.len() == geometry.pixels() {
        data.to_vec()
    } else {
        return Err(DeviceError::Protocol(format!(
            "the module sent an image of {} bytes; a {}x{} image is {} bytes at 4 bits per \
             pixel (or {} at 8): the upload was cut short, or set the device option model",
            data.len(),
            geometry.width,
            geometry.height,
            geometry.pixels() / 2,
            geometry.pixels()
        )));
    };
    GreyImage::new(geometry.width, geometry.height, geometry.ppi, pixels)
}

/// A frame of `geometry / 2` from an image (2 × 2 box average).
fn downscale(img: &GreyImage) -> GreyImage {
    let (w, h) = (img.width / 2, img.height / 2);
    let src = img.width as usize;
    let mut out = Vec::with_capacity(w as usize * h as usize);
    for y in 0..h as usize {
        for x in 0..w as usize {
            let i = 2 * y * src + 2 * x;
            let sum = u32::from(img.pixels[i])
                + u32::from(img.pixels[i + 1])
                + u32::from(img.pixels[i + src])
                + u32::from(img.pixels[i + src + 1]);
            out.push(((sum + 2) / 4) as u8);
        }
    }
    GreyImage {
        width: w,
        height: h,
        ppi: img.ppi / 2,
        pixels: out,
    }
}

struct Shared {
    info: DeviceInfo,
    cell: StateCell,
    reason: Arc<Mutex<Option<String>>>,
    stats: Arc<LinkStats>,
    identity: Identity,
    config: R30xConfig,
    address: String,
    jobs: mpsc::Sender<Job>,
}

/// An R30x / ZFM fingerprint module on a serial line.
///
/// Single fingers only ([`FingerprintScanner::positions`]); the image is the module's
/// (256 × 288 on R305/R307-class modules, 500 dpi nominal; 192 × 192 at 508 dpi on an
/// R503). A capture polls GenImg until a finger is there (at most
/// [`R30xConfig::finger_timeout`]), then uploads the image (UpImage: 36 864 bytes in 288
/// data packets, about 7 s at 57600 baud). The preview polls GenImg and uploads a frame
/// each time a finger is there, so it is as slow as an upload.
///
/// The actor thread ends, and closes the line, when the scanner and every preview stream
/// it gave are dropped.
pub struct R30xScanner {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for R30xScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("R30xScanner")
            .field("id", &self.shared.info.id)
            .field("address", &self.shared.address)
            .finish_non_exhaustive()
    }
}

impl R30xScanner {
    /// Opens the module behind `connector` as the device `id`: opens the line, verifies the
    /// password, reads the parameters and what the module tells of itself. Blocks until it
    /// has (call it from a blocking thread in async code). A module that does not answer is
    /// not opened.
    pub fn open(
        id: &str,
        connector: Arc<dyn Connector>,
        config: R30xConfig,
    ) -> Result<R30xScanner, DeviceError> {
        let cell = StateCell::new(id);
        cell.set(DeviceState::Disconnected);
        let stats = Arc::new(LinkStats::default());
        let reason = Arc::new(Mutex::new(None));
        let address = connector.address();
        let mut session = Session {
            device_id: id.to_string(),
            connector,
            baud: config.baud,
            config: config.clone(),
            link: None,
            stats: stats.clone(),
            cell: cell.clone(),
            reason: reason.clone(),
            silent: 0,
            last_attempt: Instant::now(),
            identity: None,
        };
        let (jobs, rx) = mpsc::channel::<Job>();
        let (first_tx, first_rx) = mpsc::channel();
        let actor = std::thread::Builder::new()
            .name(format!("r30x-{id}"))
            .spawn(move || {
                let first = session.connect();
                let ok = first.is_ok();
                let _ = first_tx.send(first);
                if ok {
                    actor_loop(&mut session, &rx);
                }
            })
            .map_err(|e| DeviceError::Hardware(format!("cannot start the driver thread: {e}")))?;
        let identity = match first_rx.recv() {
            Ok(Ok(identity)) => {
                drop(actor);
                identity
            }
            Ok(Err(e)) => {
                let _ = actor.join();
                return Err(e);
            }
            Err(_) => {
                let _ = actor.join();
                return Err(DeviceError::Hardware("the driver thread stopped".into()));
            }
        };
        let info = device_info(id, &identity, &config);
        Ok(R30xScanner {
            shared: Arc::new(Shared {
                info,
                cell,
                reason,
                stats,
                identity,
                config,
                address,
                jobs,
            }),
        })
    }

    /// What the module said when it was opened.
    pub fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    /// The image geometry.
    pub fn geometry(&self) -> ImageGeometry {
        self.shared.identity.geometry
    }

    /// The line's counters since the driver started.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// Tells the module to switch to `baud` (SetSysPara parameter 4, 9600 × N) and follows
    /// it. The module keeps the rate in flash: set the device option `baud` to it before the
    /// next start of the daemon.
    pub async fn set_baud(&self, baud: u32) -> Result<(), DeviceError> {
        let _busy = self.shared.cell.busy()?;
        call(&self.shared, move |s| s.set_baud(baud)).await
    }

    /// Sets the ring light (AuraLedConfig, R503). [`DeviceError::Unsupported`] when the
    /// module did not answer AuraLedConfig when opened.
    pub async fn set_led(&self, config: LedConfig) -> Result<(), DeviceError> {
        if !self.shared.identity.led {
            return Err(DeviceError::Unsupported(format!(
                "{} has no ring light (AuraLedConfig) or the option led is off",
                self.shared.info.id
            )));
        }
        call(&self.shared, move |s| {
            let reply = s.config.timeouts.reply;
            let address = s.config.address;
            s.run("setting the ring light (AuraLedConfig)", |l| {
                l.command_ok(&config.packet(address), reply)
            })
            .map(drop)
        })
        .await
    }

    /// Is a finger on the window now (one GenImg)?
    pub async fn finger_present(&self) -> Result<bool, DeviceError> {
        call(&self.shared, |s| s.poll_finger()).await
    }
}

fn device_info(id: &str, identity: &Identity, config: &R30xConfig) -> DeviceInfo {
    let (vendor, model, serial, firmware) = match &identity.product {
        Some(p) => (
            "GROW-compatible".to_string(),
            p.model.clone(),
            p.serial.clone(),
            format!(
                "hardware {}.{}, sensor {}",
                p.hardware.0, p.hardware.1, p.sensor
            ),
        ),
        None => (
            "R30x/ZFM-compatible".to_string(),
            config
                .model
                .clone()
                .unwrap_or_else(|| "R30x/ZFM optical module".to_string()),
            String::new(),
            format!("system id 0x{:04X}", identity.params.system_id),
        ),
    };
    DeviceInfo {
        id: id.to_string(),
        class: DeviceClass::FingerprintScanner,
        vendor,
        model,
        serial,
        firmware,
        driver: DRIVER_NAME.to_string(),
        simulated: false,
    }
}

fn actor_loop(session: &mut Session, rx: &mpsc::Receiver<Job>) {
    loop {
        let wait = if session.link.is_some() {
            session
                .config
                .heartbeat
                .unwrap_or(Duration::from_secs(3600))
        } else {
            session
                .config
                .reconnect_interval
                .saturating_sub(session.last_attempt.elapsed())
        };
        match rx.recv_timeout(wait) {
            Ok(job) => {
                if session.link.is_none()
                    && session.last_attempt.elapsed() >= session.config.reconnect_interval
                {
                    session.try_reconnect();
                }
                if let Some(link) = session.link.as_mut() {
                    link.mark("job");
                }
                job(session);
            }
            Err(RecvTimeoutError::Timeout) => {
                if session.link.is_none() {
                    session.try_reconnect();
                } else if session.config.heartbeat.is_some() {
                    session.heartbeat();
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
}

/// Runs `f` on the actor and awaits its answer.
async fn call<T: Send + 'static>(
    shared: &Shared,
    f: impl FnOnce(&mut Session) -> Result<T, DeviceError> + Send + 'static,
) -> Result<T, DeviceError> {
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move |s: &mut Session| {
        if tx.is_closed() {
            return;
        }
        let _ = tx.send(f(s));
    });
    let sent = shared.jobs.send(job);
    let gone = || DeviceError::Disconnected {
        device: shared.info.id.clone(),
    };
    sent.map_err(|_| gone())?;
    rx.await.map_err(|_| gone())?
}

#[async_trait]
impl Device for R30xScanner {
    fn info(&self) -> &DeviceInfo {
        &self.shared.info
    }

    fn watch_state(&self) -> watch::Receiver<DeviceState> {
        self.shared.cell.subscribe()
    }

    fn state_reason(&self) -> Option<String> {
        self.shared
            .reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn self_test(&self) -> DiagnosticReport {
        let started = Instant::now();
        let mut checks = match call(&self.shared, |s| Ok(s.self_test())).await {
            Ok(c) => c,
            Err(e) => vec![DiagnosticCheck::new(
                "link",
                CheckOutcome::Fail,
                e.to_string(),
            )],
        };
        let s = self.stats();
        let outcome = if s.errors() == 0 && s.disconnects == 0 {
            CheckOutcome::Pass
        } else if s.packets >= 100 && s.errors() * 100 > s.packets {
            CheckOutcome::Fail
        } else {
            CheckOutcome::Warn
        };
        let mut detail = format!("since the driver started: {s}");
        if outcome == CheckOutcome::Fail {
            detail.push_str(
                ": more than 1 error per 100 packets; check the cable and the adapter, and try \
                 a lower baud rate",
            );
        }
        checks.push(DiagnosticCheck::new("packet errors", outcome, detail));
        DiagnosticReport {
            device_id: self.shared.info.id.clone(),
            checks,
            elapsed: started.elapsed(),
        }
    }
}

/// The blank frame of the preview while no finger is there.
fn blank_frame(geometry: ImageGeometry) -> GreyImage {
    let (w, h) = (geometry.width / 2, geometry.height / 2);
    GreyImage {
        width: w,
        height: h,
        ppi: geometry.ppi / 2,
        pixels: vec![255; w as usize * h as usize],
    }
}

#[async_trait]
impl FingerprintScanner for R30xScanner {
    async fn capture(
        &self,
        position: FingerPosition,
        missing: &[MissingFinger],
    ) -> Result<FingerCapture, DeviceError> {
        if position.is_slap() {
            return Err(DeviceError::Unsupported(format!(
                "{} is a single-finger scanner: capture the fingers of {position:?} one by one",
                self.shared.info.id
            )));
        }
        if let Some(m) = missing.iter().find(|m| m.position != position) {
            return Err(DeviceError::InvalidArgument(format!(
                "{:?} is not part of {position:?}",
                m.position
            )));
        }
        if !missing.is_empty() {
            return Err(DeviceError::InvalidArgument(format!(
                "{position:?} is declared missing: there is nothing to capture"
            )));
        }
        let _busy = self.shared.cell.busy()?;
        let finger_timeout = self.shared.config.finger_timeout;
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |s: &mut Session| {
            let cancelled = || tx.is_closed();
            let r = s.capture(finger_timeout, &cancelled);
            let _ = tx.send(r);
        });
        let gone = || DeviceError::Disconnected {
            device: self.shared.info.id.clone(),
        };
        self.shared.jobs.send(job).map_err(|_| gone())?;
        let image = rx.await.map_err(|_| gone())??;
        Ok(FingerCapture {
            position,
            image,
            captured_at: SystemTime::now(),
        })
    }

    fn preview(
        &self,
        position: FingerPosition,
    ) -> BoxStream<'static, Result<FingerPreview, DeviceError>> {
        let _ = position;
        struct St {
            shared: Arc<Shared>,
            sequence: u64,
            done: bool,
        }
        let st = St {
            shared: Arc::clone(&self.shared),
            sequence: 0,
            done: false,
        };
        futures::stream::unfold(st, |mut st| async move {
            if st.done {
                return None;
            }
            if st.sequence > 0 {
                tokio::time::sleep(st.shared.config.preview_interval).await;
            }
            let frame = call(&st.shared, |s| {
                if s.poll_finger()? {
                    Ok(Some(s.upload()?))
                } else {
                    Ok(None)
                }
            })
            .await;
            let geometry = st.shared.identity.geometry;
            let item = frame.map(|img| FingerPreview {
                sequence: st.sequence,
                at: SystemTime::now(),
                finger_present: img.is_some(),
                image: img
                    .as_ref()
                    .map_or_else(|| blank_frame(geometry), downscale),
            });
            st.done = item.is_err();
            st.sequence += 1;
            Some((item, st))
        })
        .boxed()
    }

    fn positions(&self) -> Vec<FingerPosition> {
        FingerPosition::SINGLE.to_vec()
    }

    fn ppi(&self) -> u32 {
        self.shared.identity.geometry.ppi
    }

    /// The module's image: 256 x 288 on R305/R307-class modules (13.0 x 14.6 mm at the
    /// nominal 500 dpi), 192 x 192 on an R503 (9.6 x 9.6 mm at 508 dpi).
    fn single_finger_size(&self) -> Option<(u32, u32)> {
        let g = self.shared.identity.geometry;
        Some((g.width, g.height))
    }

    fn has_preview(&self) -> bool {
        true
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn images_decode_from_4_or_8_bits() {
        let g = ImageGeometry {
            width: 4,
            height: 2,
            ppi: 500,
        };
        let img = decode_image(&[0x0F, 0x12, 0x34, 0xF0], g).unwrap();
        assert_eq!(img.pixels, [0x00, 0xFF, 0x11, 0x22, 0x33, 0x44, 0xFF, 0x00]);
        assert_eq!((img.width, img.height, img.ppi), (4, 2, 500));
        let img = decode_image(&[1, 2, 3, 4, 5, 6, 7, 8], g).unwrap();
        assert_eq!(img.pixels, [1, 2, 3, 4, 5, 6, 7, 8]);
        let e = decode_image(&[1, 2, 3], g).unwrap_err();
        assert!(matches!(e, DeviceError::Protocol(m) if m.contains("3 bytes")));
    }

    #[test]
    fn frames_downscale_by_two() {
        let img = GreyImage::new(4, 2, 500, vec![0, 4, 8, 8, 0, 4, 8, 8]).unwrap();
        let small = downscale(&img);
        assert_eq!((small.width, small.height, small.ppi), (2, 1, 250));
        assert_eq!(small.pixels, [2, 8]);
    }

    #[test]
    fn confirmation_codes_become_clear_errors() {
        assert!(matches!(
            module_error(code::WRONG_PASSWORD, "x"),
            DeviceError::PermissionDenied { help, .. } if help.contains("password")
        ));
        assert!(matches!(
            module_error(code::SENSOR_ABNORMAL, "x"),
            DeviceError::Hardware(m) if m.contains("sensor")
        ));
        assert!(matches!(
            module_error(code::INVALID_REGISTER, "x"),
            DeviceError::InvalidArgument(_)
        ));
        assert!(matches!(
            module_error(0x77, "x"),
            DeviceError::Hardware(m) if m.contains("0x77")
        ));
    }
}
