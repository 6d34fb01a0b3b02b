//! What a device is and how it is doing.

use std::time::{Duration, SystemTime};

/// The kind of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceClass {
    /// Fingerprint scanner.
    FingerprintScanner,
    /// Face camera.
    Camera,
    /// Signature pad.
    SignaturePad,
    /// Card printer.
    CardPrinter,
    /// Contactless chip encoder.
    ChipEncoder,
    /// Iris camera.
    Iris,
}

impl DeviceClass {
    /// The short name used in device ids and selectors ("fingerprint", "camera", …).
    pub fn short_name(self) -> &'static str {
        match self {
            DeviceClass::FingerprintScanner => "fingerprint",
            DeviceClass::Camera => "camera",
            DeviceClass::SignaturePad => "signature",
            DeviceClass::CardPrinter => "printer",
            DeviceClass::ChipEncoder => "encoder",
            DeviceClass::Iris => "iris",
        }
    }

    /// Parses a short name.
    pub fn from_short_name(s: &str) -> Option<Self> {
        [
            DeviceClass::FingerprintScanner,
            DeviceClass::Camera,
            DeviceClass::SignaturePad,
            DeviceClass::CardPrinter,
            DeviceClass::ChipEncoder,
            DeviceClass::Iris,
        ]
        .into_iter()
        .find(|c| c.short_name() == s)
    }
}

/// Identity of a device: what it is and who drives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Stable id within the daemon, e.g. "printer0".
    pub id: String,
    /// The kind of device.
    pub class: DeviceClass,
    /// Manufacturer.
    pub vendor: String,
    /// Model.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// Firmware version.
    pub firmware: String,
    /// Driver name, e.g. "sim".
    pub driver: String,
    /// True for a simulator.
    pub simulated: bool,
}

/// What a device is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceState {
    /// Connected and idle.
    Ready,
    /// Running an operation.
    Busy,
    /// Unplugged or unreachable.
    Disconnected,
    /// In a fault state, with a reason for a person.
    Error(String),
}

/// What happened to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceEventKind {
    /// Plugged in, or back after a disconnect.
    Attached,
    /// Unplugged or unreachable.
    Detached,
    /// Changed state otherwise.
    StateChanged,
    /// A card arrived in the device (a chip encoder's field); see [`crate::Device::watch_card`].
    CardInserted,
    /// The card left the device.
    CardRemoved,
}

/// One device event.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceEvent {
    /// The station's device event number (1, 2, …, in the order of sending; see
    /// [`crate::Registry::subscribe_after`]).
    pub sequence: u64,
    /// When it happened.
    pub at: SystemTime,
    /// What happened.
    pub kind: DeviceEventKind,
    /// The device.
    pub info: DeviceInfo,
    /// Its state after the event.
    pub state: DeviceState,
}

/// The outcome of one diagnostic check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Passed.
    Pass,
    /// Passed with a warning.
    Warn,
    /// Failed.
    Fail,
}

/// One check of a self-test.
#[derive(Debug, Clone, PartialEq)]
pub struct DiagnosticCheck {
    /// Short name.
    pub name: String,
    /// Outcome.
    pub outcome: CheckOutcome,
    /// What was measured or what to do.
    pub detail: String,
}

impl DiagnosticCheck {
    /// A check with the given outcome.
    pub fn new(name: &str, outcome: CheckOutcome, detail: impl Into<String>) -> Self {
        DiagnosticCheck {
            name: name.to_string(),
            outcome,
            detail: detail.into(),
        }
    }
}

/// A device self-test report.
#[derive(Debug, Clone, PartialEq)]
pub struct DiagnosticReport {
    /// The device tested.
    pub device_id: String,
    /// The checks, in order.
    pub checks: Vec<DiagnosticCheck>,
    /// How long it took.
    pub elapsed: Duration,
}

impl DiagnosticReport {
    /// True when no check failed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.outcome != CheckOutcome::Fail)
    }
}
