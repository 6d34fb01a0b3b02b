//! A simulated Canon EOS-like camera behind [`PtpTransport`]: it reads the driver's real
//! command and data containers from "bulk out" and answers with real data and response
//! containers on "bulk in" and event containers on "interrupt in", so the tests exercise
//! the driver's own bytes.
//!
//! What it does: GetDeviceInfo (a Canon vendor extension with the EOS operations),
//! sessions with transaction-id checking (a wrong id answers Invalid TransactionID),
//! InitiateCapture producing a JPEG object and, after [`SimConfig::capture_delay`], the
//! ObjectAdded and CaptureComplete events, GetObjectInfo, GetObject, DeleteObject, EOS
//! remote and event mode, GetEvent, the EVF output device property through
//! SetDevicePropValueEx and GetViewFinderData answering the JPEG inside EOS viewfinder
//! blocks. Like an EOS it answers Not Ready (0xA102) to the first
//! [`SimConfig::evf_warmup_polls`] polls after live view starts, Device Busy (0x2019) to a
//! poll sooner than [`SimConfig::min_poll_interval`] after the last frame, and Device Busy
//! to InitiateCapture while live view is on and for [`SimConfig::busy_after_evf_off`]
//! after it ends.
//!
//! Faults: [`SimCamera::unplug`] (and [`SimCamera::vanish_after_frames`], mid-stream)
//! until [`SimCamera::replug`]; [`SimCamera::stall_next_response`] (the bulk-in endpoint
//! halts until cleared); [`SimCamera::garbage_next_response`] (a garbled container,
//! until the class Device Reset). [`SimCamera`] is also a [`SimulatorControl`] with
//! those faults by name, for `rekamctl fault`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, RgbImage};
use rekam_core::DeviceError;
use rekam_core::sim::{DISCONNECT, FaultSpec, SimulatorControl, splitmix64};

use crate::container::{Container, ContainerType, ev, format, op, prop, rc, vendor};
use crate::dataset::{self, DeviceInfo, EosEvent, ObjectInfo};
use crate::transport::{Connector, PtpTransport, TransportError};

/// The fault "usb_stall": the next response halts the bulk-in endpoint.
pub const USB_STALL: FaultSpec = FaultSpec {
    name: "usb_stall",
    description: "the camera stalls the bulk-in endpoint on its next answer (the driver \
                  clears the halt; that operation fails)",
};

/// The fault "garbage": the next response is a garbled container.
pub const GARBAGE: FaultSpec = FaultSpec {
    name: "garbage",
    description: "the camera sends a garbled container as its next answer (the driver \
                  resets it and opens a new session)",
};

/// How the simulated camera behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// The USB vendor and product ids (Canon's vendor id by default).
    pub usb_ids: (u16, u16),
    /// The size of a still.
    pub still_size: (u32, u32),
    /// The size of a live view frame.
    pub evf_size: (u32, u32),
    /// A viewfinder poll sooner than this after the last frame answers Device Busy.
    pub min_poll_interval: Duration,
    /// Viewfinder polls answered Not Ready after live view starts.
    pub evf_warmup_polls: u32,
    /// How long InitiateCapture answers Device Busy after live view ends.
    pub busy_after_evf_off: Duration,
    /// The time from InitiateCapture to the ObjectAdded event.
    pub capture_delay: Duration,
    /// Derives the serial number.
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            usb_ids: (0x04A9, 0x32D1),
            still_size: (1200, 800),
            evf_size: (480, 320),
            min_poll_interval: Duration::from_millis(30),
            evf_warmup_polls: 2,
            busy_after_evf_off: Duration::from_millis(60),
            capture_delay: Duration::from_millis(80),
            seed: 1,
        }
    }
}

/// One command the camera handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimOp {
    /// When it arrived.
    pub at: Instant,
    /// The operation code.
    pub code: u16,
    /// Its transaction id.
    pub transaction_id: u32,
    /// Its parameters.
    pub params: Vec<u32>,
    /// Its data phase to the camera, if any.
    pub data_out: Vec<u8>,
    /// The response code.
    pub response: u16,
}

#[derive(Debug)]
struct State {
    config: SimConfig,
    info: DeviceInfo,
    plugged: bool,
    generation: u64,
    session_open: bool,
    expected_tid: u32,
    /// Transfers waiting on bulk in, the front one possibly partly read.
    bulk_in: VecDeque<Vec<u8>>,
    stalled: bool,
    /// Events with the time they become due.
    events: Vec<(Instant, Vec<u8>)>,
    eos_events: Vec<EosEvent>,
    pending_out: Option<Container>,
    objects: BTreeMap<u32, (ObjectInfo, Vec<u8>)>,
    next_handle: u32,
    evf_output: u32,
    evf_polls: u32,
    last_frame_at: Option<Instant>,
    frames: u64,
    busy_until: Option<Instant>,
    remote_mode: u32,
    event_mode: u32,
    stall_next: bool,
    garbage_next: bool,
    vanish_after: Option<u64>,
    resets: u32,
    connects: u32,
    log: Vec<SimOp>,
    still_jpeg: Option<Vec<u8>>,
}

fn encode_jpeg(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    // Encoding an in-memory RGB image of the right size cannot fail.
    let _ = JpegEncoder::new_with_quality(&mut out, 85).encode(
        img.as_raw(),
        img.width(),
        img.height(),
        ExtendedColorType::Rgb8,
    );
    out
}

/// A test picture: a colour gradient with a bar whose position follows `n`.
fn picture(w: u32, h: u32, n: u64) -> RgbImage {
    let bar = (n * 8 % u64::from(w.max(1))) as u32;
    RgbImage::from_fn(w, h, |x, y| {
        if x >= bar && x < bar + 8 {
            image::Rgb([255, 255, 255])
        } else {
            image::Rgb([
                (x * 255 / w.max(1)) as u8,
                (y * 255 / h.max(1)) as u8,
                ((x + y) % 256) as u8,
            ])
        }
    })
}

impl State {
    fn reset_link(&mut self) {
        self.session_open = false;
        self.expected_tid = 1;
        self.bulk_in.clear();
        self.stalled = false;
        self.events.clear();
        self.pending_out = None;
        self.evf_output = 0;
        self.garbage_next = false;
    }

    fn evf_on(&self) -> bool {
        self.evf_output & 2 != 0
    }

    fn queue_event(&mut self, at: Instant, code: u16, tid: u32, params: &[u32]) {
        self.events
            .push((at, Container::event(code, tid, params).encode()));
    }

    /// Handles one command (with its data phase): the response code, its parameters and
    /// a data phase to the host.
    fn handle(&mut self, cmd: &Container, data: &[u8]) -> (u16, Vec<u32>, Option<Vec<u8>>) {
        let now = Instant::now();
        let p0 = cmd.param(0);
        match cmd.code {
            op::GET_DEVICE_INFO => (rc::OK, vec![], Some(self.info.encode())),
            op::OPEN_SESSION => {
                if self.session_open {
                    (rc::SESSION_ALREADY_OPEN, vec![1], None)
                } else if p0 == 0 {
                    (rc::INVALID_PARAMETER, vec![], None)
                } else {
                    self.session_open = true;
                    self.expected_tid = 1;
                    (rc::OK, vec![], None)
                }
            }
            op::CLOSE_SESSION => {
                self.session_open = false;
                self.evf_output = 0;
                (rc::OK, vec![], None)
            }
            op::GET_OBJECT_INFO => match self.objects.get(&p0) {
                Some((info, _)) => (rc::OK, vec![], Some(info.encode())),
                None => (rc::INVALID_OBJECT_HANDLE, vec![], None),
            },
            op::GET_OBJECT => match self.objects.get(&p0) {
                Some((_, bytes)) => (rc::OK, vec![], Some(bytes.clone())),
                None => (rc::INVALID_OBJECT_HANDLE, vec![], None),
            },
            op::DELETE_OBJECT => match self.objects.remove(&p0) {
                Some(_) => (rc::OK, vec![], None),
                None => (rc::INVALID_OBJECT_HANDLE, vec![], None),
            },
            op::INITIATE_CAPTURE => {
                if self.evf_on() || self.busy_until.is_some_and(|t| now < t) {
                    return (rc::DEVICE_BUSY, vec![], None);
                }
                let (w, h) = self.config.still_size;
                let jpeg = self
                    .still_jpeg
                    .get_or_insert_with(|| encode_jpeg(&picture(w, h, 0)))
                    .clone();
                let handle = self.next_handle;
                self.next_handle += 1;
                let info = ObjectInfo {
                    storage_id: 0x0001_0001,
                    object_format: format::EXIF_JPEG,
                    compressed_size: u32::try_from(jpeg.len()).unwrap_or(u32::MAX),
                    image_width: w,
                    image_height: h,
                    filename: format!("IMG_{:04}.JPG", handle & 0xFFFF),
                    capture_date: "20261129T101500".into(),
                };
                self.objects.insert(handle, (info, jpeg));
                let due = now + self.config.capture_delay;
                self.queue_event(due, ev::OBJECT_ADDED, cmd.transaction_id, &[handle]);
                self.queue_event(
                    due + Duration::from_millis(1),
                    ev::CAPTURE_COMPLETE,
                    cmd.transaction_id,
                    &[cmd.transaction_id],
                );
                (rc::OK, vec![], None)
            }
            op::EOS_SET_REMOTE_MODE => {
                self.remote_mode = p0;
                (rc::OK, vec![], None)
            }
            op::EOS_SET_EVENT_MODE => {
                self.event_mode = p0;
                (rc::OK, vec![], None)
            }
            op::EOS_GET_EVENT => {
                let events = std::mem::take(&mut self.eos_events);
                (rc::OK, vec![], Some(dataset::encode_eos_events(&events)))
            }
            op::EOS_SET_DEVICE_PROP_VALUE_EX => {
                let mut r = dataset::Reader::new(data);
                let (Ok(size), Ok(code), Ok(value)) = (r.u32("size"), r.u32("prop"), r.u32("v"))
                else {
                    return (rc::INVALID_PARAMETER, vec![], None);
                };
                if size as usize != data.len() || code != prop::EOS_EVF_OUTPUT_DEVICE {
                    return (rc::INVALID_PARAMETER, vec![], None);
                }
                let was_on = self.evf_on();
                self.evf_output = value;
                if self.evf_on() && !was_on {
                    self.evf_polls = 0;
                    self.last_frame_at = None;
                } else if !self.evf_on() && was_on {
                    self.busy_until = Some(now + self.config.busy_after_evf_off);
                }
                self.eos_events
                    .push(EosEvent::PropChanged { prop: code, value });
                (rc::OK, vec![], None)
            }
            op::EOS_GET_VIEWFINDER_DATA => {
                if !self.evf_on() {
                    return (rc::CANON_NOT_READY, vec![], None);
                }
                self.evf_polls += 1;
                if self.evf_polls <= self.config.evf_warmup_polls {
                    return (rc::CANON_NOT_READY, vec![], None);
                }
                if self
                    .last_frame_at
                    .is_some_and(|t| now.duration_since(t) < self.config.min_poll_interval)
                {
                    return (rc::DEVICE_BUSY, vec![], None);
                }
                self.last_frame_at = Some(now);
                // Only a frame served counts towards vanishing (not a busy answer).
                if let Some(n) = self.vanish_after {
                    self.vanish_after = Some(n.saturating_sub(1));
                }
                let (w, h) = self.config.evf_size;
                let jpeg = encode_jpeg(&picture(w, h, self.frames));
                self.frames += 1;
                // A focus-information block after the frame, as an EOS sends.
                let payload = dataset::encode_eos_viewfinder(&jpeg, &[(4, &[0u8; 16])]);
                (rc::OK, vec![], Some(payload))
            }
            _ => (rc::OPERATION_NOT_SUPPORTED, vec![], None),
        }
    }

    fn command(&mut self, cmd: Container, data: Vec<u8>) {
        let at = Instant::now();
        let tid = cmd.transaction_id;
        // GetDeviceInfo with transaction id 0 is answered in or out of a session.
        let session_less = cmd.code == op::OPEN_SESSION
            || cmd.code == op::CLOSE_SESSION
            || (cmd.code == op::GET_DEVICE_INFO && tid == 0);
        let (code, params, data_in) = if session_less {
            self.handle(&cmd, &data)
        } else if !self.session_open {
            (rc::SESSION_NOT_OPEN, vec![], None)
        } else if tid != self.expected_tid {
            (rc::INVALID_TRANSACTION_ID, vec![], None)
        } else {
            self.expected_tid = if tid >= 0xFFFF_FFFE { 1 } else { tid + 1 };
            self.handle(&cmd, &data)
        };
        self.log.push(SimOp {
            at,
            code: cmd.code,
            transaction_id: tid,
            params: cmd.params.clone(),
            data_out: data,
            response: code,
        });
        if self.stall_next {
            self.stall_next = false;
            self.stalled = true;
            return;
        }
        if self.garbage_next {
            self.garbage_next = false;
            // A length field no container has, a type that does not exist.
            self.bulk_in
                .push_back(vec![0xFF, 0xFF, 0xFF, 0x7F, 9, 0, 0x01, 0x20, 0xDE, 0xAD]);
            return;
        }
        if let Some(d) = data_in {
            self.bulk_in
                .push_back(Container::data(cmd.code, tid, d).encode());
        }
        self.bulk_in
            .push_back(Container::response(code, tid, &params).encode());
    }
}

/// The simulated camera (see the [module docs](self)). Clones share one camera.
#[derive(Debug, Clone)]
pub struct SimCamera {
    state: Arc<Mutex<State>>,
}

impl Default for SimCamera {
    fn default() -> Self {
        SimCamera::new(SimConfig::default())
    }
}

impl SimCamera {
    /// A plugged-in camera.
    pub fn new(config: SimConfig) -> Self {
        let info = DeviceInfo {
            standard_version: 100,
            vendor_extension_id: vendor::CANON,
            vendor_extension_version: 100,
            vendor_extension_desc: String::new(),
            functional_mode: 0,
            operations_supported: vec![
                op::GET_DEVICE_INFO,
                op::OPEN_SESSION,
                op::CLOSE_SESSION,
                op::GET_OBJECT_INFO,
                op::GET_OBJECT,
                op::DELETE_OBJECT,
                op::INITIATE_CAPTURE,
                op::EOS_SET_DEVICE_PROP_VALUE_EX,
                op::EOS_SET_REMOTE_MODE,
                op::EOS_SET_EVENT_MODE,
                op::EOS_GET_EVENT,
                op::EOS_GET_VIEWFINDER_DATA,
            ],
            events_supported: vec![ev::OBJECT_ADDED, ev::STORE_FULL, ev::CAPTURE_COMPLETE],
            device_properties_supported: vec![prop::EOS_EVF_OUTPUT_DEVICE as u16],
            capture_formats: vec![format::EXIF_JPEG],
            image_formats: vec![format::EXIF_JPEG],
            manufacturer: "Canon Inc.".into(),
            model: "Canon EOS (rekam simulator)".into(),
            device_version: "3-1.0.0".into(),
            serial_number: format!("{:012}", splitmix64(config.seed) % 1_000_000_000_000),
        };
        SimCamera {
            state: Arc::new(Mutex::new(State {
                config,
                info,
                plugged: true,
                generation: 0,
                session_open: false,
                expected_tid: 1,
                bulk_in: VecDeque::new(),
                stalled: false,
                events: Vec::new(),
                eos_events: Vec::new(),
                pending_out: None,
                objects: BTreeMap::new(),
                next_handle: 0x9000_0001,
                evf_output: 0,
                evf_polls: 0,
                last_frame_at: None,
                frames: 0,
                busy_until: None,
                remote_mode: 0,
                event_mode: 0,
                stall_next: false,
                garbage_next: false,
                vanish_after: None,
                resets: 0,
                connects: 0,
                log: Vec::new(),
                still_jpeg: None,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between statements: a panic elsewhere cannot break it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connector that opens this camera while it is plugged in.
    pub fn connector(&self) -> SimConnector {
        SimConnector { cam: self.clone() }
    }

    /// Opens a transport directly (as [`SimConnector::connect`]).
    pub fn transport(&self) -> Result<Box<dyn PtpTransport>, TransportError> {
        self.connector().connect()
    }

    /// The DeviceInfo it answers.
    pub fn device_info(&self) -> DeviceInfo {
        self.lock().info.clone()
    }

    /// Unplugs it: every transfer fails with [`TransportError::Disconnected`] and it cannot
    /// be opened until [`SimCamera::replug`].
    pub fn unplug(&self) {
        self.lock().plugged = false;
    }

    /// Plugs it back in, powered up afresh (no session, live view off).
    pub fn replug(&self) {
        let mut s = self.lock();
        s.plugged = true;
        s.vanish_after = None;
        s.reset_link();
    }

    /// True while plugged in.
    pub fn is_plugged(&self) -> bool {
        self.lock().plugged
    }

    /// Unplugs it after `frames` more viewfinder frames.
    pub fn vanish_after_frames(&self, frames: u64) {
        self.lock().vanish_after = Some(frames);
    }

    /// Halts the bulk-in endpoint instead of the next answer, until the host clears it.
    pub fn stall_next_response(&self) {
        self.lock().stall_next = true;
    }

    /// Sends a garbled container instead of the next answer.
    pub fn garbage_next_response(&self) {
        self.lock().garbage_next = true;
    }

    /// Every command handled so far.
    pub fn log(&self) -> Vec<SimOp> {
        self.lock().log.clone()
    }

    /// Forgets the log.
    pub fn clear_log(&self) {
        self.lock().log.clear();
    }

    /// Objects on the memory card.
    pub fn objects_on_card(&self) -> usize {
        self.lock().objects.len()
    }

    /// True while live view (EVF output to the PC) is on.
    pub fn live_view_on(&self) -> bool {
        self.lock().evf_on()
    }

    /// True while a session is open.
    pub fn session_open(&self) -> bool {
        self.lock().session_open
    }

    /// EOS remote mode and event mode as last set.
    pub fn remote_and_event_mode(&self) -> (u32, u32) {
        let s = self.lock();
        (s.remote_mode, s.event_mode)
    }

    /// Device Reset requests received.
    pub fn resets(&self) -> u32 {
        self.lock().resets
    }

    /// Times it was opened.
    pub fn connects(&self) -> u32 {
        self.lock().connects
    }

    /// Viewfinder frames served.
    pub fn frames_served(&self) -> u64 {
        self.lock().frames
    }
}

/// Opens a [`SimCamera`].
#[derive(Debug, Clone)]
pub struct SimConnector {
    cam: SimCamera,
}

impl Connector for SimConnector {
    fn connect(&self) -> Result<Box<dyn PtpTransport>, TransportError> {
        let mut s = self.cam.lock();
        if !s.plugged {
            return Err(TransportError::NotFound(
                "no USB device at the simulated camera's address".into(),
            ));
        }
        s.generation += 1;
        s.connects += 1;
        // A new claim of the interface: whatever was in flight is gone.
        s.bulk_in.clear();
        s.stalled = false;
        s.pending_out = None;
        Ok(Box::new(SimTransport {
            cam: self.cam.clone(),
            generation: s.generation,
        }))
    }

    fn usb_ids(&self) -> (u16, u16) {
        self.cam.lock().config.usb_ids
    }

    fn describe(&self) -> String {
        let (v, p) = self.usb_ids();
        format!("simulated camera usb:{v:04x}:{p:04x}")
    }

    fn simulated(&self) -> bool {
        true
    }
}

/// The longest a simulated read waits for nothing (so a test's timeouts stay short).
const MAX_IDLE_WAIT: Duration = Duration::from_millis(20);

struct SimTransport {
    cam: SimCamera,
    generation: u64,
}

impl SimTransport {
    fn live(&self) -> Result<MutexGuard<'_, State>, TransportError> {
        let s = self.cam.lock();
        if !s.plugged || s.generation != self.generation {
            return Err(TransportError::Disconnected);
        }
        Ok(s)
    }
}

impl PtpTransport for SimTransport {
    fn write_bulk(&mut self, data: &[u8], _timeout: Duration) -> Result<(), TransportError> {
        let mut s = self.live()?;
        let c = match Container::decode(data) {
            Ok(c) => c,
            Err(_) => {
                // A device halts its endpoint on a container it cannot read.
                s.stalled = true;
                return Err(TransportError::Stall);
            }
        };
        match c.kind {
            ContainerType::Command => {
                if c.code == op::EOS_GET_VIEWFINDER_DATA && s.vanish_after == Some(0) {
                    s.plugged = false;
                    return Err(TransportError::Disconnected);
                }
                if c.code == op::EOS_SET_DEVICE_PROP_VALUE_EX {
                    s.pending_out = Some(c);
                } else {
                    s.command(c, Vec::new());
                }
            }
            ContainerType::Data => match s.pending_out.take() {
                Some(cmd) if cmd.transaction_id == c.transaction_id && cmd.code == c.code => {
                    s.command(cmd, c.payload)
                }
                _ => {
                    s.stalled = true;
                    return Err(TransportError::Stall);
                }
            },
            _ => {
                s.stalled = true;
                return Err(TransportError::Stall);
            }
        }
        Ok(())
    }

    fn read_bulk(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let mut s = self.live()?;
        if s.stalled {
            return Err(TransportError::Stall);
        }
        let Some(front) = s.bulk_in.front_mut() else {
            drop(s);
            std::thread::sleep(timeout.min(MAX_IDLE_WAIT));
            return Err(TransportError::Timeout);
        };
        let n = front.len().min(buf.len());
        buf[..n].copy_from_slice(&front[..n]);
        if n == front.len() {
            s.bulk_in.pop_front();
        } else {
            front.drain(..n);
        }
        Ok(n)
    }

    fn read_interrupt(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, TransportError> {
        let until = Instant::now() + timeout;
        loop {
            let mut s = self.live()?;
            let now = Instant::now();
            let next = s
                .events
                .iter()
                .enumerate()
                .min_by_key(|(_, (due, _))| *due)
                .map(|(i, (due, _))| (i, *due));
            match next {
                Some((i, due)) if due <= now => {
                    let (_, bytes) = s.events.remove(i);
                    let n = bytes.len().min(buf.len());
                    buf[..n].copy_from_slice(&bytes[..n]);
                    return Ok(n);
                }
                _ if now >= until => return Err(TransportError::Timeout),
                other => {
                    let wake = other.map_or(until, |(_, due)| due.min(until));
                    drop(s);
                    std::thread::sleep(wake.saturating_duration_since(now).min(MAX_IDLE_WAIT));
                }
            }
        }
    }

    fn clear_halt(&mut self) -> Result<(), TransportError> {
        let mut s = self.live()?;
        s.stalled = false;
        s.bulk_in.clear();
        Ok(())
    }

    fn reset(&mut self) -> Result<(), TransportError> {
        let mut s = self.live()?;
        s.resets += 1;
        s.reset_link();
        Ok(())
    }
}

impl SimulatorControl for SimCamera {
    fn faults(&self) -> Vec<FaultSpec> {
        vec![DISCONNECT, USB_STALL, GARBAGE]
    }

    fn active_faults(&self) -> Vec<String> {
        let s = self.lock();
        let mut out = Vec::new();
        if !s.plugged {
            out.push(DISCONNECT.name.to_string());
        }
        if s.stall_next || s.stalled {
            out.push(USB_STALL.name.to_string());
        }
        if s.garbage_next {
            out.push(GARBAGE.name.to_string());
        }
        out
    }

    fn inject(&self, fault: &str) -> Result<(), DeviceError> {
        match fault {
            "disconnect" => self.unplug(),
            "usb_stall" => self.stall_next_response(),
            "garbage" => self.garbage_next_response(),
            other => {
                return Err(DeviceError::InvalidArgument(format!(
                    "unknown fault {other:?}; this simulator has: disconnect, usb_stall, garbage"
                )));
            }
        }
        Ok(())
    }

    fn clear(&self) {
        let plugged = self.is_plugged();
        {
            let mut s = self.lock();
            s.stall_next = false;
            s.garbage_next = false;
        }
        if !plugged {
            self.replug();
        }
    }
}
