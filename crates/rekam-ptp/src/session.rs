//! The PTP layer over a [`PtpTransport`]: transactions (command, optional data phase,
//! response) with their transaction ids, sessions, device info, the capture of a still,
//! live view (Canon EOS and Nikon) with bounded exponential back-off while the camera
//! answers busy, and the mapping of PTP answers to [`DeviceError`]s.
//!
//! Blocking: a [`PtpSession`] belongs to one thread (the camera's actor,
//! [`crate::PtpCamera`]).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rekam_core::DeviceError;

use crate::container::{
    Container, ContainerType, HEADER_LEN, ev, format, op, prop, rc, response_name, vendor,
};
use crate::dataset::{self, DeviceInfo, EosEvent, ObjectInfo};
use crate::transport::{PtpTransport, TransportError};

/// USB vendor id of Canon.
pub const USB_VID_CANON: u16 = 0x04A9;
/// USB vendor id of Nikon.
pub const USB_VID_NIKON: u16 = 0x04B0;

/// The largest container the driver accepts (a still of a high-resolution body is tens of
/// megabytes; more is a garbled length field).
pub const MAX_CONTAINER: u32 = 256 << 20;
/// Bytes asked for per bulk read (a multiple of every bulk packet size).
const READ_CHUNK: usize = 256 << 10;

/// Time limits of the transfers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    /// Writing a command or a data phase.
    pub command: Duration,
    /// Each read of a data phase or a response.
    pub response: Duration,
    /// One wait on the interrupt endpoint while waiting for an event.
    pub event_poll: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            command: Duration::from_secs(5),
            response: Duration::from_secs(10),
            event_poll: Duration::from_millis(100),
        }
    }
}

/// Bounded exponential back-off while the camera answers Device Busy (0x2019) or, on
/// EOS, Not Ready (0xA102): wait `initial`, then twice as long each time up to
/// `max_delay`, and give up once the next wait would pass `max_wait` in all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The first wait.
    pub initial: Duration,
    /// The longest single wait.
    pub max_delay: Duration,
    /// The longest time spent waiting in all before giving up.
    pub max_wait: Duration,
}

impl Default for Backoff {
    /// 5 ms, doubling to at most 160 ms, giving up after 3 s (libgphoto2 waits up to 3 s
    /// for an EOS viewfinder frame).
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(5),
            max_delay: Duration::from_millis(160),
            max_wait: Duration::from_secs(3),
        }
    }
}

impl Backoff {
    /// The wait after the `attempt`-th busy answer (from 0).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max_delay)
    }
}

/// How often the camera answered busy and how long the driver waited.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BusyStats {
    /// Busy or not-ready answers received.
    pub busy_answers: u64,
    /// Time slept in back-off.
    pub waited: Duration,
    /// Operations given up after [`Backoff::max_wait`].
    pub gave_up: u64,
    /// The most recent waits, oldest first (at most 64).
    pub recent_delays: VecDeque<Duration>,
}

/// An error of the PTP layer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PtpError {
    /// The USB transfer failed.
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// The camera sent something that is not PTP (a garbled container, the wrong
    /// transaction id, a dataset that does not parse).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The camera answered an operation with a response code other than OK.
    #[error("the camera answered 0x{operation:04X} with {} (0x{code:04X})", response_name(*code))]
    Response {
        /// The operation.
        operation: u16,
        /// The response code.
        code: u16,
    },
    /// The camera kept answering busy for the whole back-off.
    #[error(
        "the camera stayed busy for {waited:?} ({attempts} answers of {}) on 0x{operation:04X}",
        response_name(*code)
    )]
    StillBusy {
        /// The operation.
        operation: u16,
        /// The last busy code.
        code: u16,
        /// Busy answers received.
        attempts: u32,
        /// Time spent waiting.
        waited: Duration,
    },
    /// An awaited event did not come.
    #[error("{0}")]
    Timeout(String),
    /// The camera lacks an operation the driver needs.
    #[error("{0}")]
    Unsupported(String),
}

impl From<dataset::DatasetError> for PtpError {
    fn from(e: dataset::DatasetError) -> Self {
        PtpError::Protocol(e.to_string())
    }
}

impl PtpError {
    /// The [`DeviceError`] a caller of device `device` gets.
    pub fn to_device_error(&self, device: &str) -> DeviceError {
        match self {
            PtpError::Transport(t) => match t {
                TransportError::Disconnected => DeviceError::Disconnected {
                    device: device.to_string(),
                },
                TransportError::Timeout => DeviceError::Timeout(format!(
                    "{device}: the camera did not answer on USB in time"
                )),
                TransportError::Stall => DeviceError::Hardware(format!(
                    "{device}: the camera stalled the transfer (the halt was cleared); retry"
                )),
                TransportError::NotFound(m) => DeviceError::NotFound(format!("{device}: {m}")),
                TransportError::PermissionDenied(m) => DeviceError::PermissionDenied {
                    path: device.to_string(),
                    help: m.clone(),
                },
                TransportError::InUse(m) => DeviceError::Busy(format!("{device} ({m})")),
                TransportError::Io(m) => DeviceError::Hardware(format!("{device}: {m}")),
            },
            PtpError::Protocol(m) => DeviceError::Protocol(format!("{device}: {m}")),
            PtpError::Response { operation, code } => {
                let what = format!(
                    "{device}: operation 0x{operation:04X} answered {} (0x{code:04X})",
                    response_name(*code)
                );
                match *code {
                    rc::DEVICE_BUSY | rc::CANON_NOT_READY => DeviceError::Busy(device.to_string()),
                    rc::OPERATION_NOT_SUPPORTED
                    | rc::PARAMETER_NOT_SUPPORTED
                    | rc::CANON_UNKNOWN_COMMAND => DeviceError::Unsupported(what),
                    rc::STORE_FULL => DeviceError::Hardware(format!(
                        "{what}: the camera's memory card is full; empty or replace it"
                    )),
                    rc::STORE_NOT_AVAILABLE => DeviceError::Hardware(format!(
                        "{what}: no usable memory card in the camera; insert one"
                    )),
                    rc::STORE_READ_ONLY | rc::ACCESS_DENIED => DeviceError::Hardware(format!(
                        "{what}: the memory card is write-protected or the camera refused access"
                    )),
                    rc::CANON_LENS_COVER => {
                        DeviceError::Hardware(format!("{what}: the lens cover is closed; open it"))
                    }
                    rc::CANON_BATTERY_LOW => DeviceError::Hardware(format!(
                        "{what}: the camera's battery is low; charge it or use the mains adapter"
                    )),
                    rc::CANON_OPERATION_REFUSED => DeviceError::Hardware(format!(
                        "{what}: the camera refused (it could not focus, or a dial is not on \
                         a shooting mode)"
                    )),
                    rc::INVALID_OBJECT_HANDLE => DeviceError::NotFound(what),
                    rc::SESSION_NOT_OPEN | rc::INVALID_TRANSACTION_ID => {
                        DeviceError::Protocol(what)
                    }
                    _ => DeviceError::Hardware(what),
                }
            }
            PtpError::StillBusy { .. } => DeviceError::Timeout(format!("{device}: {self}")),
            PtpError::Timeout(m) => DeviceError::Timeout(format!("{device}: {m}")),
            PtpError::Unsupported(m) => DeviceError::Unsupported(format!("{device}: {m}")),
        }
    }

    /// True when the device is gone.
    pub fn is_disconnect(&self) -> bool {
        matches!(self, PtpError::Transport(TransportError::Disconnected))
    }
}

/// A data phase.
#[derive(Debug, Clone, Copy)]
pub enum Phase<'a> {
    /// None: command and response only.
    None,
    /// Data from the camera.
    In,
    /// Data to the camera.
    Out(&'a [u8]),
}

/// The answer to one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The response code.
    pub code: u16,
    /// The response's parameters.
    pub params: Vec<u32>,
    /// The data phase from the camera (empty when none).
    pub data: Vec<u8>,
}

/// Which vendor operations the camera speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    /// Canon EOS (remote mode, GetEvent, EVF live view).
    CanonEos,
    /// Nikon (StartLiveView, GetLiveViewImg).
    Nikon,
    /// Standard PTP only (no live view).
    Generic,
}

impl Vendor {
    /// Decides from the DeviceInfo and the USB vendor id (some cameras report the
    /// Microsoft extension id instead of their own).
    pub fn detect(info: &DeviceInfo, usb_vid: u16) -> Vendor {
        let canon = info.vendor_extension_id == vendor::CANON || usb_vid == USB_VID_CANON;
        let nikon = info.vendor_extension_id == vendor::NIKON || usb_vid == USB_VID_NIKON;
        if canon
            && info.supports(op::EOS_GET_VIEWFINDER_DATA)
            && info.supports(op::EOS_SET_DEVICE_PROP_VALUE_EX)
        {
            Vendor::CanonEos
        } else if nikon && info.supports(op::NIKON_START_LIVE_VIEW) {
            Vendor::Nikon
        } else {
            Vendor::Generic
        }
    }

    /// True when the driver can run live view on it.
    pub fn has_live_view(self) -> bool {
        self != Vendor::Generic
    }
}

/// A captured still, downloaded from the camera.
#[derive(Debug, Clone, PartialEq)]
pub struct Still {
    /// The JPEG.
    pub jpeg: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The object's handle on the camera.
    pub handle: u32,
    /// The object's info.
    pub object: ObjectInfo,
    /// True when it was left on the memory card.
    pub kept: bool,
}

/// The size of a JPEG from its header (the image crate's decoder reads only the header).
pub fn jpeg_size(jpeg: &[u8]) -> Option<(u32, u32)> {
    use image::ImageDecoder;
    let d = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(jpeg)).ok()?;
    Some(d.dimensions())
}

/// The session id the driver opens.
pub const SESSION_ID: u32 = 1;

/// A PTP session with one camera over one transport.
pub struct PtpSession {
    transport: Box<dyn PtpTransport>,
    timeouts: Timeouts,
    backoff: Backoff,
    usb_vid: u16,
    next_tid: u32,
    session_open: bool,
    /// A protocol error reset the device: reopen the session before the next operation.
    reopen: bool,
    info: Option<DeviceInfo>,
    vendor: Vendor,
    live_view: bool,
    stats: BusyStats,
    chunk: Vec<u8>,
}

impl std::fmt::Debug for PtpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PtpSession")
            .field("next_tid", &self.next_tid)
            .field("session_open", &self.session_open)
            .field("vendor", &self.vendor)
            .field("live_view", &self.live_view)
            .finish_non_exhaustive()
    }
}

impl PtpSession {
    /// A session-less connection over `transport` to a camera of USB vendor `usb_vid`.
    pub fn new(
        transport: Box<dyn PtpTransport>,
        usb_vid: u16,
        timeouts: Timeouts,
        backoff: Backoff,
    ) -> Self {
        PtpSession {
            transport,
            timeouts,
            backoff,
            usb_vid,
            next_tid: 1,
            session_open: false,
            reopen: false,
            info: None,
            vendor: Vendor::Generic,
            live_view: false,
            stats: BusyStats::default(),
            chunk: vec![0; READ_CHUNK],
        }
    }

    /// The transaction id the next operation in the session gets.
    pub fn next_transaction_id(&self) -> u32 {
        self.next_tid
    }

    /// Sets the next transaction id (tests of the wrap-around).
    pub fn set_next_transaction_id(&mut self, tid: u32) {
        self.next_tid = tid;
    }

    /// True while a session is open.
    pub fn is_open(&self) -> bool {
        self.session_open
    }

    /// The DeviceInfo read by [`PtpSession::identify`].
    pub fn device_info(&self) -> Option<&DeviceInfo> {
        self.info.as_ref()
    }

    /// The vendor operations in use.
    pub fn vendor(&self) -> Vendor {
        self.vendor
    }

    /// True while live view is on.
    pub fn in_live_view(&self) -> bool {
        self.live_view
    }

    /// The back-off counters.
    pub fn busy_stats(&self) -> &BusyStats {
        &self.stats
    }

    fn take_tid(&mut self) -> u32 {
        let tid = self.next_tid;
        // 0 is OpenSession's and 0xFFFFFFFF is reserved (ISO 15740 clause 9.3.1).
        self.next_tid = if tid >= 0xFFFF_FFFE { 1 } else { tid + 1 };
        tid
    }

    /// Reads one container from bulk in.
    fn read_container(&mut self) -> Result<Container, PtpError> {
        let mut buf: Vec<u8> = Vec::new();
        let mut want: Option<usize> = None;
        let mut zero_reads = 0;
        loop {
            let n = self
                .transport
                .read_bulk(&mut self.chunk, self.timeouts.response)?;
            if n == 0 {
                // A zero-length packet ending the previous transfer.
                zero_reads += 1;
                if zero_reads > 4 {
                    return Err(PtpError::Protocol("only zero-length packets".into()));
                }
                continue;
            }
            buf.extend_from_slice(&self.chunk[..n]);
            if want.is_none() && buf.len() < HEADER_LEN && n < self.chunk.len() {
                // A short transfer ends the container: this one has no whole header.
                return Err(PtpError::Protocol(format!(
                    "garbled container of {} bytes, shorter than its header",
                    buf.len()
                )));
            }
            if want.is_none() && buf.len() >= HEADER_LEN {
                let (len, kind, _, _) =
                    Container::peek_header(&buf).map_err(|e| PtpError::Protocol(e.to_string()))?;
                if (len as usize) < HEADER_LEN
                    || len > MAX_CONTAINER
                    || ContainerType::from_code(kind).is_none()
                {
                    return Err(PtpError::Protocol(format!(
                        "garbled container header (length {len}, type {kind})"
                    )));
                }
                buf.reserve((len as usize).saturating_sub(buf.len()));
                want = Some(len as usize);
            }
            if let Some(w) = want {
                if buf.len() == w {
                    return Container::decode(&buf).map_err(|e| PtpError::Protocol(e.to_string()));
                }
                if buf.len() > w {
                    return Err(PtpError::Protocol(format!(
                        "{} bytes received for a container of {w}",
                        buf.len()
                    )));
                }
            }
        }
    }

    /// After a transport or protocol failure: clear a stall, or reset the device when the
    /// stream is out of step (the session is reopened before the next operation).
    fn after_failure(&mut self, e: &PtpError) {
        match e {
            PtpError::Transport(TransportError::Stall) => {
                let _ = self.transport.clear_halt();
            }
            PtpError::Protocol(_) | PtpError::Transport(TransportError::Timeout) => {
                tracing::warn!("resetting the camera after: {e}");
                let _ = self.transport.reset();
                self.session_open = false;
                self.live_view = false;
                self.reopen = true;
            }
            _ => {}
        }
    }

    /// Runs one transaction and returns the camera's answer, whatever its code.
    pub fn transaction(
        &mut self,
        code: u16,
        params: &[u32],
        phase: Phase<'_>,
    ) -> Result<Response, PtpError> {
        if self.reopen && code != op::OPEN_SESSION && code != op::GET_DEVICE_INFO {
            self.reopen = false;
            self.open_session()?;
        }
        let tid = if code == op::OPEN_SESSION || (!self.session_open && code == op::GET_DEVICE_INFO)
        {
            0
        } else {
            self.take_tid()
        };
        let r = self.exchange(code, tid, params, phase);
        if let Err(e) = &r {
            self.after_failure(e);
        }
        r
    }

    fn exchange(
        &mut self,
        code: u16,
        tid: u32,
        params: &[u32],
        phase: Phase<'_>,
    ) -> Result<Response, PtpError> {
        let cmd = Container::command(code, tid, params).encode();
        self.transport.write_bulk(&cmd, self.timeouts.command)?;
        if let Phase::Out(data) = phase {
            let mut c = Vec::with_capacity(HEADER_LEN + data.len());
            let len = u32::try_from(HEADER_LEN + data.len())
                .map_err(|_| PtpError::Protocol("data phase over 4 GiB".into()))?;
            c.extend_from_slice(&len.to_le_bytes());
            c.extend_from_slice(&ContainerType::Data.code().to_le_bytes());
            c.extend_from_slice(&code.to_le_bytes());
            c.extend_from_slice(&tid.to_le_bytes());
            c.extend_from_slice(data);
            self.transport.write_bulk(&c, self.timeouts.command)?;
        }
        let mut c = self.read_container()?;
        let mut data = Vec::new();
        if c.kind == ContainerType::Data {
            if !matches!(phase, Phase::In) {
                return Err(PtpError::Protocol(format!(
                    "data phase for 0x{code:04X}, which has none"
                )));
            }
            if c.code != code || c.transaction_id != tid {
                return Err(PtpError::Protocol(format!(
                    "data for 0x{:04X}/{} while waiting for 0x{code:04X}/{tid}",
                    c.code, c.transaction_id
                )));
            }
            data = std::mem::take(&mut c.payload);
            c = self.read_container()?;
        }
        if c.kind != ContainerType::Response {
            return Err(PtpError::Protocol(format!(
                "{:?} container while waiting for the response to 0x{code:04X}",
                c.kind
            )));
        }
        if c.transaction_id != tid {
            return Err(PtpError::Protocol(format!(
                "response for transaction {} to 0x{code:04X} sent as transaction {tid}",
                c.transaction_id
            )));
        }
        Ok(Response {
            code: c.code,
            params: c.params,
            data,
        })
    }

    /// A transaction that must answer OK.
    pub fn call(
        &mut self,
        code: u16,
        params: &[u32],
        phase: Phase<'_>,
    ) -> Result<Response, PtpError> {
        let r = self.transaction(code, params, phase)?;
        self.check(code, r)
    }

    fn check(&mut self, code: u16, r: Response) -> Result<Response, PtpError> {
        match r.code {
            rc::OK => Ok(r),
            rc::SESSION_NOT_OPEN => {
                // The camera lost the session (standby, a reset): reopen before the next.
                self.session_open = false;
                self.reopen = true;
                Err(PtpError::Response {
                    operation: code,
                    code: r.code,
                })
            }
            c => Err(PtpError::Response {
                operation: code,
                code: c,
            }),
        }
    }

    /// A transaction retried with [`Backoff`] while the camera answers Device Busy or EOS
    /// Not Ready; any other answer must be OK.
    pub fn call_when_ready(
        &mut self,
        code: u16,
        params: &[u32],
        phase: Phase<'_>,
    ) -> Result<Response, PtpError> {
        let mut attempts = 0u32;
        let mut waited = Duration::ZERO;
        loop {
            let r = self.transaction(code, params, phase)?;
            if r.code != rc::DEVICE_BUSY && r.code != rc::CANON_NOT_READY {
                return self.check(code, r);
            }
            self.stats.busy_answers += 1;
            let d = self.backoff.delay(attempts);
            attempts += 1;
            if waited + d > self.backoff.max_wait {
                self.stats.gave_up += 1;
                return Err(PtpError::StillBusy {
                    operation: code,
                    code: r.code,
                    attempts,
                    waited,
                });
            }
            std::thread::sleep(d);
            waited += d;
            self.stats.waited += d;
            if self.stats.recent_delays.len() == 64 {
                self.stats.recent_delays.pop_front();
            }
            self.stats.recent_delays.push_back(d);
        }
    }

    /// GetDeviceInfo.
    pub fn get_device_info(&mut self) -> Result<DeviceInfo, PtpError> {
        let r = self.call(op::GET_DEVICE_INFO, &[], Phase::In)?;
        Ok(DeviceInfo::parse(&r.data)?)
    }

    /// OpenSession (transaction id 0; the next operation gets 1). A camera that says a
    /// session is already open (one left by a previous program) gets it closed and opened
    /// again. On EOS, remote mode and event mode are set (as libgphoto2 prepares an EOS
    /// for capture) and the event queue drained.
    pub fn open_session(&mut self) -> Result<(), PtpError> {
        self.session_open = false;
        self.live_view = false;
        self.next_tid = 1;
        let r = self.transaction(op::OPEN_SESSION, &[SESSION_ID], Phase::None)?;
        match r.code {
            rc::OK => {}
            rc::SESSION_ALREADY_OPEN => {
                self.session_open = true;
                let _ = self.transaction(op::CLOSE_SESSION, &[], Phase::None)?;
                self.session_open = false;
                self.next_tid = 1;
                let r = self.transaction(op::OPEN_SESSION, &[SESSION_ID], Phase::None)?;
                self.check(op::OPEN_SESSION, r)?;
            }
            _ => {
                self.check(op::OPEN_SESSION, r)?;
            }
        }
        self.session_open = true;
        self.next_tid = 1;
        if self.vendor == Vendor::CanonEos {
            self.call(op::EOS_SET_REMOTE_MODE, &[1], Phase::None)?;
            self.call(op::EOS_SET_EVENT_MODE, &[1], Phase::None)?;
            self.eos_events()?;
        }
        Ok(())
    }

    /// CloseSession, leaving live view first.
    pub fn close_session(&mut self) -> Result<(), PtpError> {
        if !self.session_open {
            return Ok(());
        }
        if self.live_view {
            self.end_live_view()?;
        }
        self.call(op::CLOSE_SESSION, &[], Phase::None)?;
        self.session_open = false;
        Ok(())
    }

    /// Reads the DeviceInfo, decides the vendor and opens the session.
    pub fn identify(&mut self) -> Result<DeviceInfo, PtpError> {
        let info = self.get_device_info()?;
        self.vendor = Vendor::detect(&info, self.usb_vid);
        self.info = Some(info.clone());
        self.open_session()?;
        Ok(info)
    }

    /// One event from the interrupt endpoint, `None` when none came within `timeout`.
    pub fn read_event(&mut self, timeout: Duration) -> Result<Option<Container>, PtpError> {
        let mut buf = [0u8; 64];
        match self.transport.read_interrupt(&mut buf, timeout) {
            Err(TransportError::Timeout) => Ok(None),
            Err(e) => Err(e.into()),
            Ok(0) => Ok(None),
            Ok(n) => {
                let c = Container::decode(&buf[..n])
                    .map_err(|e| PtpError::Protocol(format!("event: {e}")))?;
                if c.kind != ContainerType::Event {
                    return Err(PtpError::Protocol(format!(
                        "{:?} container on the interrupt endpoint",
                        c.kind
                    )));
                }
                Ok(Some(c))
            }
        }
    }

    /// EOS GetEvent: the records queued on the camera.
    pub fn eos_events(&mut self) -> Result<Vec<EosEvent>, PtpError> {
        let r = self.call_when_ready(op::EOS_GET_EVENT, &[], Phase::In)?;
        Ok(dataset::parse_eos_events(&r.data)?)
    }

    fn eos_set_prop(&mut self, prop: u32, value: u32) -> Result<(), PtpError> {
        let mut w = dataset::Writer::new();
        w.u32(12).u32(prop).u32(value);
        self.call_when_ready(op::EOS_SET_DEVICE_PROP_VALUE_EX, &[], Phase::Out(&w.out))?;
        Ok(())
    }

    /// Turns live view on: on EOS the EVF output device property (0xD1B0) to the PC (2)
    /// through SetDevicePropValueEx, on Nikon StartLiveView.
    pub fn start_live_view(&mut self) -> Result<(), PtpError> {
        if self.live_view {
            return Ok(());
        }
        match self.vendor {
            Vendor::CanonEos => self.eos_set_prop(prop::EOS_EVF_OUTPUT_DEVICE, 2)?,
            Vendor::Nikon => {
                self.call_when_ready(op::NIKON_START_LIVE_VIEW, &[], Phase::None)?;
            }
            Vendor::Generic => {
                return Err(PtpError::Unsupported(
                    "this camera has no live view the driver knows (Canon EOS or Nikon)".into(),
                ));
            }
        }
        self.live_view = true;
        Ok(())
    }

    /// One live view frame (JPEG), turning live view on first. A camera that answers
    /// busy or not ready (frames asked for too fast, the mirror still moving) is polled
    /// again with [`Backoff`].
    pub fn live_view_frame(&mut self) -> Result<Vec<u8>, PtpError> {
        self.start_live_view()?;
        match self.vendor {
            Vendor::CanonEos => {
                // Keep the event queue drained, as libgphoto2 does between frames.
                self.eos_events()?;
                let r = self.call_when_ready(
                    op::EOS_GET_VIEWFINDER_DATA,
                    &[0x0020_0000, 0, 0],
                    Phase::In,
                )?;
                Ok(dataset::eos_viewfinder_jpeg(&r.data)?.to_vec())
            }
            Vendor::Nikon => {
                let r = self.call_when_ready(op::NIKON_GET_LIVE_VIEW_IMAGE, &[], Phase::In)?;
                Ok(dataset::nikon_live_view_jpeg(&r.data)?.to_vec())
            }
            Vendor::Generic => Err(PtpError::Unsupported("no live view".into())),
        }
    }

    /// Turns live view off (EOS: EVF output device 0; Nikon: EndLiveView), waiting out a
    /// busy camera.
    pub fn end_live_view(&mut self) -> Result<(), PtpError> {
        if !self.live_view {
            return Ok(());
        }
        self.live_view = false;
        match self.vendor {
            Vendor::CanonEos => self.eos_set_prop(prop::EOS_EVF_OUTPUT_DEVICE, 0),
            Vendor::Nikon => self
                .call_when_ready(op::NIKON_END_LIVE_VIEW, &[], Phase::None)
                .map(drop),
            Vendor::Generic => Ok(()),
        }
    }

    /// Takes a still: leaves live view, InitiateCapture (retried while busy), waits for
    /// ObjectAdded on the interrupt endpoint (on EOS also in GetEvent's ObjectAddedEx),
    /// reads its ObjectInfo, downloads the first JPEG object with GetObject, and deletes
    /// the objects it made unless `keep` is set.
    pub fn capture(&mut self, keep: bool, timeout: Duration) -> Result<Still, PtpError> {
        if !self
            .info
            .as_ref()
            .is_some_and(|i| i.supports(op::INITIATE_CAPTURE))
        {
            return Err(PtpError::Unsupported(
                "the camera does not offer InitiateCapture (0x100E)".into(),
            ));
        }
        self.end_live_view()?;
        // Events left from before are not this capture's.
        while self.read_event(Duration::from_millis(1))?.is_some() {}
        self.call_when_ready(op::INITIATE_CAPTURE, &[0, 0], Phase::None)?;
        let deadline = Instant::now() + timeout;
        let mut others: Vec<u32> = Vec::new();
        let mut complete = false;
        let found = loop {
            if Instant::now() >= deadline {
                return Err(PtpError::Timeout(format!(
                    "no JPEG object was added within {timeout:?} of InitiateCapture"
                )));
            }
            let mut added: Vec<u32> = Vec::new();
            match self.read_event(self.timeouts.event_poll)? {
                Some(e) if e.code == ev::OBJECT_ADDED => added.push(e.param(0)),
                Some(e) if e.code == ev::CAPTURE_COMPLETE => complete = true,
                Some(e) if e.code == ev::STORE_FULL => {
                    return Err(PtpError::Response {
                        operation: op::INITIATE_CAPTURE,
                        code: rc::STORE_FULL,
                    });
                }
                _ => {}
            }
            if added.is_empty() && self.vendor == Vendor::CanonEos {
                for e in self.eos_events()? {
                    if let EosEvent::ObjectAdded { handle, .. } = e {
                        added.push(handle);
                    }
                }
            }
            let mut jpeg = None;
            for h in added {
                if others.contains(&h) || jpeg.is_some() {
                    continue;
                }
                let r = self.call(op::GET_OBJECT_INFO, &[h], Phase::In)?;
                let info = ObjectInfo::parse(&r.data)?;
                if info.object_format == format::EXIF_JPEG {
                    jpeg = Some((h, info));
                } else {
                    others.push(h);
                }
            }
            if let Some(j) = jpeg {
                break j;
            }
            if complete {
                return Err(PtpError::Unsupported(
                    "the camera stored no JPEG (set its image quality to a JPEG format)".into(),
                ));
            }
        };
        let (handle, object) = found;
        let r = self.call(op::GET_OBJECT, &[handle], Phase::In)?;
        let jpeg = r.data;
        if !jpeg.starts_with(&[0xFF, 0xD8]) {
            return Err(PtpError::Protocol(format!(
                "object 0x{handle:08X} is not a JPEG"
            )));
        }
        if !keep {
            for h in std::iter::once(handle).chain(others) {
                if let Err(e) = self.call(op::DELETE_OBJECT, &[h, 0], Phase::None) {
                    tracing::warn!("could not delete object 0x{h:08X} from the camera: {e}");
                }
            }
        }
        let (width, height) = match (object.image_width, object.image_height) {
            (w, h) if w > 0 && h > 0 => (w, h),
            _ => jpeg_size(&jpeg).unwrap_or((0, 0)),
        };
        Ok(Still {
            jpeg,
            width,
            height,
            handle,
            object,
            kept: keep,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap() {
        let b = Backoff {
            initial: Duration::from_millis(5),
            max_delay: Duration::from_millis(40),
            max_wait: Duration::from_secs(1),
        };
        let d: Vec<u64> = (0..6).map(|i| b.delay(i).as_millis() as u64).collect();
        assert_eq!(d, [5, 10, 20, 40, 40, 40]);
        assert_eq!(b.delay(u32::MAX), Duration::from_millis(40));
    }

    #[test]
    fn response_codes_map_to_clear_device_errors() {
        let e = |code| {
            PtpError::Response {
                operation: op::INITIATE_CAPTURE,
                code,
            }
            .to_device_error("camera0")
        };
        assert_eq!(e(rc::DEVICE_BUSY), DeviceError::Busy("camera0".into()));
        assert!(matches!(
            e(rc::OPERATION_NOT_SUPPORTED),
            DeviceError::Unsupported(_)
        ));
        assert!(matches!(e(rc::STORE_FULL), DeviceError::Hardware(m) if m.contains("full")));
        assert!(
            matches!(e(rc::STORE_NOT_AVAILABLE), DeviceError::Hardware(m) if m.contains("memory card"))
        );
        assert!(
            matches!(e(rc::CANON_BATTERY_LOW), DeviceError::Hardware(m) if m.contains("battery"))
        );
        assert!(matches!(
            e(rc::INVALID_OBJECT_HANDLE),
            DeviceError::NotFound(_)
        ));
        assert!(matches!(
            e(rc::INVALID_TRANSACTION_ID),
            DeviceError::Protocol(_)
        ));
        assert!(
            matches!(e(rc::GENERAL_ERROR), DeviceError::Hardware(m) if m.contains("General Error") && m.contains("0x100E"))
        );
        assert_eq!(
            PtpError::Transport(TransportError::Disconnected).to_device_error("camera0"),
            DeviceError::Disconnected {
                device: "camera0".into()
            }
        );
        assert!(matches!(
            PtpError::Transport(TransportError::PermissionDenied("x".into()))
                .to_device_error("camera0"),
            DeviceError::PermissionDenied { .. }
        ));
        assert!(matches!(
            PtpError::StillBusy {
                operation: op::EOS_GET_VIEWFINDER_DATA,
                code: rc::CANON_NOT_READY,
                attempts: 9,
                waited: Duration::from_secs(3)
            }
            .to_device_error("camera0"),
            DeviceError::Timeout(m) if m.contains("Not Ready")
        ));
    }
}
