//! How the pad reaches the device: a [`HidTransport`] (the report descriptor, and reports
//! read with a time-out) made by a [`HidOpener`] each time the pad connects. The real ones
//! are [`crate::hidraw::Hidraw`] and [`crate::hidraw::HidrawOpener`]; [`ReplayTransport`]
//! and [`ReplayOpener`] play back a descriptor and a scripted report stream, for tests
//! (no virtual HID device can be made without the `uhid` module).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rekam_core::DeviceError;

/// Who the device says it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HidIdentity {
    /// The bus (`BUS_USB` 0x03, `BUS_BLUETOOTH` 0x05, `BUS_I2C` 0x18, … of
    /// `linux/input.h`).
    pub bus: u16,
    /// USB vendor id.
    pub vendor_id: u16,
    /// USB product id.
    pub product_id: u16,
    /// Its name (`HID_NAME`: manufacturer and product strings).
    pub name: String,
    /// Its serial number (`HID_UNIQ`), often empty.
    pub serial: String,
    /// The node it was opened at, e.g. `/dev/hidraw3`.
    pub node: String,
}

/// A read or descriptor request failed: the device is gone (unplugged) or broken; the pad
/// closes the transport and reconnects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// An open HID device.
pub trait HidTransport: Send {
    /// Its report descriptor, as the kernel holds it (`HIDIOCGRDESC`).
    fn report_descriptor(&mut self) -> Result<Vec<u8>, TransportError>;
    /// Waits up to `timeout` for one input report and copies it into `buf`: its length,
    /// or `None` when none came in time.
    fn read_report(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<Option<usize>, TransportError>;
    /// Who it is.
    fn identity(&self) -> HidIdentity;
    /// Told when a signature starts: the reports read before it were dropped, the ones
    /// from now on are the signature's. Nothing by default; [`ReplayTransport`] holds its
    /// script at each [`ReplayEvent::AwaitCapture`] until then.
    fn capture_started(&mut self) {}
}

/// Opens the device a selector names, each time the pad connects (at open and after an
/// unplug).
pub trait HidOpener: Send + Sync {
    /// Opens it. [`DeviceError::NotFound`] when it is not there,
    /// [`DeviceError::PermissionDenied`] with the fix when rekamd may not open it.
    fn open(&self) -> Result<Box<dyn HidTransport>, DeviceError>;
    /// What it opens, for messages: a node or `VID:PID`.
    fn target(&self) -> String;
}

/// One step of a replayed stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayEvent {
    /// The device sends this report (with its id byte when the descriptor declares ids).
    Report(Vec<u8>),
    /// Nothing for this long.
    Pause(Duration),
    /// The device is unplugged: every read from now on fails.
    Unplug,
    /// Nothing until a signature starts ([`HidTransport::capture_started`]): what follows
    /// is read by the signature, not dropped by the idle pad.
    AwaitCapture,
}

/// A device played back from a descriptor and a script of reports, pauses and an unplug.
/// After the script, it stays silent (or unplugged).
#[derive(Debug)]
pub struct ReplayTransport {
    descriptor: Vec<u8>,
    identity: HidIdentity,
    script: VecDeque<ReplayEvent>,
    /// When the current pause ends.
    pause_until: Option<Instant>,
    unplugged: bool,
}

impl ReplayTransport {
    /// A device with this descriptor and script.
    pub fn new(descriptor: Vec<u8>, script: Vec<ReplayEvent>) -> Self {
        ReplayTransport {
            descriptor,
            identity: HidIdentity {
                bus: 0x03,
                vendor_id: 0x1234,
                product_id: 0x5678,
                name: "Replayed HID pen".into(),
                serial: String::new(),
                node: "replay".into(),
            },
            script: script.into(),
            pause_until: None,
            unplugged: false,
        }
    }

    /// With this identity.
    pub fn with_identity(mut self, identity: HidIdentity) -> Self {
        self.identity = identity;
        self
    }
}

impl HidTransport for ReplayTransport {
    fn report_descriptor(&mut self) -> Result<Vec<u8>, TransportError> {
        if self.unplugged {
            return Err(TransportError("replayed device unplugged".into()));
        }
        Ok(self.descriptor.clone())
    }

    fn read_report(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<Option<usize>, TransportError> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.unplugged {
                return Err(TransportError("replayed device unplugged".into()));
            }
            if let Some(until) = self.pause_until {
                let now = Instant::now();
                if now < until {
                    std::thread::sleep(until.min(deadline) - now);
                    if Instant::now() < until {
                        return Ok(None);
                    }
                }
                self.pause_until = None;
            }
            match self.script.pop_front() {
                Some(ReplayEvent::Report(r)) => {
                    let n = r.len().min(buf.len());
                    buf[..n].copy_from_slice(&r[..n]);
                    return Ok(Some(n));
                }
                Some(ReplayEvent::Pause(d)) => self.pause_until = Some(Instant::now() + d),
                Some(ReplayEvent::Unplug) => self.unplugged = true,
                Some(ReplayEvent::AwaitCapture) => {
                    self.script.push_front(ReplayEvent::AwaitCapture);
                    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                    return Ok(None);
                }
                None => {
                    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                    return Ok(None);
                }
            }
        }
    }

    fn identity(&self) -> HidIdentity {
        self.identity.clone()
    }

    fn capture_started(&mut self) {
        if self.script.front() == Some(&ReplayEvent::AwaitCapture) {
            self.script.pop_front();
        }
    }
}

/// Opens replayed devices in turn: each [`HidOpener::open`] takes the next outcome of its
/// script; once the script is spent, the device is not found.
pub struct ReplayOpener {
    outcomes: Mutex<VecDeque<Result<ReplayTransport, DeviceError>>>,
    opened: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for ReplayOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayOpener").finish_non_exhaustive()
    }
}

impl ReplayOpener {
    /// An opener answering these outcomes in turn.
    pub fn new(outcomes: Vec<Result<ReplayTransport, DeviceError>>) -> Self {
        ReplayOpener {
            outcomes: Mutex::new(outcomes.into()),
            opened: Default::default(),
        }
    }

    /// How many times it was asked to open.
    pub fn attempts(&self) -> usize {
        self.opened.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl HidOpener for ReplayOpener {
    fn open(&self) -> Result<Box<dyn HidTransport>, DeviceError> {
        self.opened
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let next = self
            .outcomes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        match next {
            Some(Ok(t)) => Ok(Box::new(t)),
            Some(Err(e)) => Err(e),
            None => Err(DeviceError::NotFound(
                "the replayed device is not plugged in".into(),
            )),
        }
    }

    fn target(&self) -> String {
        "replay".into()
    }
}
