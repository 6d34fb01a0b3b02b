//! The driver table: how a device named in the configuration becomes an open device.
//!
//! A [`Selector`] names a device as `class:driver[:address]` — `printer:sim`,
//! `encoder:pcsc:"ACS ACR1252"`, `fingerprint:r30x:/dev/ttyUSB0` — in the configuration,
//! on the command line and in the API alike. Each driver has a [`DriverFactory`]: its class
//! and name, [`DriverFactory::list`] (what it can see now, each with the selector that
//! opens it) and [`DriverFactory::open`]. The daemon keeps one table of factories, one line
//! per driver, and looks selectors up in it through [`DriverTable`].
//!
//! A device that cannot be opened is not a reason for the station not to start:
//! [`DriverTable::open`] puts an [`Unopened`] placeholder in its place, of the right class
//! and id, disconnected, with the open error as its reason. An unknown driver name, on the
//! other hand, is a mistake in the configuration ([`UnknownDriver`]).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use tokio::sync::watch;

use crate::device::{
    CheckOutcome, DeviceClass, DeviceInfo, DeviceState, DiagnosticCheck, DiagnosticReport,
};
use crate::error::DeviceError;
use crate::registry::AnyDevice;
use crate::sim::Timing;
use crate::traits::*;
use crate::types::*;

// ---------------------------------------------------------------------------------------
// Selector

/// A device named as `class:driver[:address]`.
///
/// * `class` is a [`DeviceClass::short_name`]: `fingerprint`, `camera`, `signature`,
///   `printer`, `encoder` or `iris`;
/// * `driver` is the driver's name (lower-case letters, digits, `-` and `_`), e.g. `sim`,
///   `pcsc`, `r30x`;
/// * `address`, optional, says which device the driver opens: a device node, a reader
///   name, a URL. Everything after the second `:` is the address, colons included; an
///   address in double quotes (`encoder:pcsc:"ACS ACR1252 1S CL Reader"`) is taken
///   without them, which is how an address with spaces is written.
///
/// [`Display`](fmt::Display) writes the same syntax back (quoting an address that has
/// whitespace or starts with a quote), so a selector survives a round trip; serde reads and
/// writes it as that string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Selector {
    /// The device class.
    pub class: DeviceClass,
    /// The driver's name.
    pub driver: String,
    /// Which device the driver opens; `None` lets the driver choose (a simulator has one).
    pub address: Option<String>,
}

/// What is wrong with a selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SelectorProblem {
    /// The class is not one of the five.
    #[error("the class must be fingerprint, camera, signature, printer, encoder or iris")]
    UnknownClass,
    /// No driver after the class.
    #[error("missing driver, e.g. `printer:sim`")]
    MissingDriver,
    /// The driver's name has other characters than lower-case letters, digits, `-`, `_`.
    #[error("a driver name has only lower-case letters, digits, `-` and `_`")]
    InvalidDriver,
    /// An address is given but empty.
    #[error("the address is empty: leave it out, with its `:`, to let the driver choose")]
    EmptyAddress,
    /// An address opens a quote it does not close.
    #[error("the address opens a double quote it does not close")]
    UnclosedQuote,
}

/// A selector that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("device selector {selector:?}: {problem}")]
pub struct SelectorError {
    /// The text as given.
    pub selector: String,
    /// What is wrong with it.
    pub problem: SelectorProblem,
}

impl Selector {
    /// A selector without address.
    pub fn new(class: DeviceClass, driver: impl Into<String>) -> Self {
        Selector {
            class,
            driver: driver.into(),
            address: None,
        }
    }

    /// The same selector with an address.
    pub fn with_address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }

    fn valid_driver(name: &str) -> bool {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    }
}

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |problem| SelectorError {
            selector: s.to_string(),
            problem,
        };
        let mut parts = s.splitn(3, ':');
        let class = parts.next().unwrap_or_default();
        let class = DeviceClass::from_short_name(class)
            .ok_or_else(|| err(SelectorProblem::UnknownClass))?;
        let driver = parts
            .next()
            .filter(|d| !d.is_empty())
            .ok_or_else(|| err(SelectorProblem::MissingDriver))?;
        if !Selector::valid_driver(driver) {
            return Err(err(SelectorProblem::InvalidDriver));
        }
        let address = match parts.next() {
            None => None,
            Some(a) if a.starts_with('"') => {
                let inner = a
                    .strip_prefix('"')
                    .and_then(|a| a.strip_suffix('"'))
                    .ok_or_else(|| err(SelectorProblem::UnclosedQuote))?;
                Some(inner)
            }
            Some(a) => Some(a),
        };
        if address == Some("") {
            return Err(err(SelectorProblem::EmptyAddress));
        }
        Ok(Selector {
            class,
            driver: driver.to_string(),
            address: address.map(str::to_string),
        })
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.class.short_name(), self.driver)?;
        match &self.address {
            None => Ok(()),
            Some(a) if a.is_empty() || a.starts_with('"') || a.chars().any(char::is_whitespace) => {
                write!(f, ":\"{a}\"")
            }
            Some(a) => write!(f, ":{a}"),
        }
    }
}

impl serde::Serialize for Selector {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Selector {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Selector;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a device selector `class:driver[:address]`, e.g. \"printer:sim\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Selector, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

// ---------------------------------------------------------------------------------------
// Factories

/// A device a driver can see now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Available {
    /// The selector that opens it: what goes in the configuration.
    pub selector: Selector,
    /// What it is, for a person choosing (model, port, reader name).
    pub description: String,
}

/// What a driver is given to open a device.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OpenOptions {
    /// The id the device gets in the station, e.g. "printer0".
    pub id: String,
    /// The seed of a simulator (real drivers ignore it).
    pub seed: u64,
    /// The timings of a simulator (real drivers ignore them).
    pub timing: Timing,
    /// The driver's own options (the device's `options` table in the configuration, e.g.
    /// a PC/SC encoder's `sam` reader); a driver refuses one it does not know.
    pub params: std::collections::BTreeMap<String, String>,
}

impl OpenOptions {
    /// Options for the device `id`, seed 0, real-time timings.
    pub fn new(id: impl Into<String>) -> Self {
        OpenOptions {
            id: id.into(),
            seed: 0,
            timing: Timing::REAL,
            params: std::collections::BTreeMap::new(),
        }
    }

    /// With a driver option.
    pub fn with_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.insert(name.into(), value.into());
        self
    }

    /// With a simulator seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// With simulator timings.
    pub fn with_timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }
}

/// One driver: it lists what it can see and opens devices from selectors.
///
/// Both methods may block briefly (enumerating serial ports, asking pcscd for its
/// readers): call them from a blocking thread in async code.
pub trait DriverFactory: Send + Sync {
    /// The class of the devices it opens.
    fn class(&self) -> DeviceClass;
    /// Its name, the `driver` of a selector, e.g. "sim".
    fn name(&self) -> &'static str;
    /// What it drives, for a person, e.g. "simulated 4-4-2 scanner".
    fn description(&self) -> &'static str;
    /// True for a simulator.
    fn simulated(&self) -> bool {
        false
    }
    /// The devices it can see now, each with the selector that opens it (a simulator sees
    /// its one simulated device; a real driver lists its ports, readers or printers).
    /// An error says why it cannot look (a service not running, no permission).
    fn list(&self) -> Result<Vec<Available>, DeviceError>;
    /// Opens the device `selector` names (its class and driver are this factory's) with
    /// the id of `options`.
    fn open(&self, selector: &Selector, options: &OpenOptions) -> Result<AnyDevice, DeviceError>;
}

/// A selector names a driver that is not in the table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "driver {driver:?} is not built in; drivers for {}: {}",
    .class.short_name(),
    known_list(.known)
)]
pub struct UnknownDriver {
    /// The class asked for.
    pub class: DeviceClass,
    /// The driver asked for.
    pub driver: String,
    /// The drivers of that class in the table.
    pub known: Vec<&'static str>,
}

fn known_list(known: &[&str]) -> String {
    if known.is_empty() {
        "none".to_string()
    } else {
        known.join(", ")
    }
}

/// What one driver of the table sees, from [`DriverTable::list`].
#[derive(Debug, Clone, PartialEq)]
pub struct DriverListing {
    /// The class of its devices.
    pub class: DeviceClass,
    /// The driver's name.
    pub driver: &'static str,
    /// What it drives.
    pub description: &'static str,
    /// True for a simulator.
    pub simulated: bool,
    /// The devices it sees, or why it could not look.
    pub available: Result<Vec<Available>, DeviceError>,
}

/// A device from [`DriverTable::open`]: the device itself, or a placeholder with the
/// error that kept it from opening.
#[derive(Clone)]
pub struct Opened {
    /// The device, or an [`Unopened`] placeholder.
    pub device: AnyDevice,
    /// Why it could not be opened (`Some` exactly when `device` is a placeholder).
    pub open_error: Option<DeviceError>,
}

/// The drivers built into a program, one entry per driver, looked up by class and name.
#[derive(Clone, Copy)]
pub struct DriverTable<'a> {
    drivers: &'a [&'a dyn DriverFactory],
}

impl fmt::Debug for DriverTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.drivers
                    .iter()
                    .map(|d| format!("{}:{}", d.class().short_name(), d.name())),
            )
            .finish()
    }
}

impl<'a> DriverTable<'a> {
    /// A table of these drivers.
    pub const fn new(drivers: &'a [&'a dyn DriverFactory]) -> Self {
        DriverTable { drivers }
    }

    /// Every driver, in table order.
    pub fn drivers(&self) -> &'a [&'a dyn DriverFactory] {
        self.drivers
    }

    /// The names of the drivers of a class, in table order.
    pub fn names(&self, class: DeviceClass) -> Vec<&'static str> {
        self.drivers
            .iter()
            .filter(|d| d.class() == class)
            .map(|d| d.name())
            .collect()
    }

    /// The driver of `class` named `name`.
    pub fn find(
        &self,
        class: DeviceClass,
        name: &str,
    ) -> Result<&'a dyn DriverFactory, UnknownDriver> {
        self.drivers
            .iter()
            .copied()
            .find(|d| d.class() == class && d.name() == name)
            .ok_or_else(|| UnknownDriver {
                class,
                driver: name.to_string(),
                known: self.names(class),
            })
    }

    /// What every driver (of `class`, when given) sees now, in table order. Blocks while
    /// the drivers look.
    pub fn list(&self, class: Option<DeviceClass>) -> Vec<DriverListing> {
        self.drivers
            .iter()
            .filter(|d| class.is_none_or(|c| d.class() == c))
            .map(|d| DriverListing {
                class: d.class(),
                driver: d.name(),
                description: d.description(),
                simulated: d.simulated(),
                available: d.list(),
            })
            .collect()
    }

    /// Opens the device `selector` names. A driver that is not in the table is an error; a
    /// device its driver cannot open becomes an [`Unopened`] placeholder (class and id
    /// right, disconnected, the error as reason) so the station runs without it.
    pub fn open(
        &self,
        selector: &Selector,
        options: &OpenOptions,
    ) -> Result<Opened, UnknownDriver> {
        let factory = self.find(selector.class, &selector.driver)?;
        let opened = factory.open(selector, options).and_then(|device| {
            let info = device.info();
            if info.class != selector.class || info.id != options.id {
                Err(DeviceError::Protocol(format!(
                    "driver {} opened a {} with id {:?} for the {} {:?}",
                    factory.name(),
                    info.class.short_name(),
                    info.id,
                    selector.class.short_name(),
                    options.id
                )))
            } else {
                Ok(device)
            }
        });
        Ok(match opened {
            Ok(device) => Opened {
                device,
                open_error: None,
            },
            Err(e) => Opened {
                device: AnyDevice::unopened(selector.class, &options.id, factory.name(), e.clone()),
                open_error: Some(e),
            },
        })
    }
}

// ---------------------------------------------------------------------------------------
// The placeholder of a device that could not be opened

/// The placeholder of a device that could not be opened: it has the class and id the
/// configuration gave, is [`DeviceState::Disconnected`] with the open error as its
/// [`Device::state_reason`], fails its self-test with that error, and answers every
/// operation with [`DeviceError::Disconnected`]. It reports no capabilities.
pub struct Unopened {
    info: DeviceInfo,
    error: DeviceError,
    state: watch::Sender<DeviceState>,
}

impl Unopened {
    /// The placeholder of the device `id` of `class`, which `driver` could not open.
    pub fn new(class: DeviceClass, id: &str, driver: &str, error: DeviceError) -> Self {
        Unopened {
            info: DeviceInfo {
                id: id.to_string(),
                class,
                vendor: String::new(),
                model: String::new(),
                serial: String::new(),
                firmware: String::new(),
                driver: driver.to_string(),
                simulated: false,
            },
            error,
            state: watch::Sender::new(DeviceState::Disconnected),
        }
    }

    /// The error that kept the device from opening.
    pub fn error(&self) -> &DeviceError {
        &self.error
    }

    fn disconnected(&self) -> DeviceError {
        DeviceError::Disconnected {
            device: self.info.id.clone(),
        }
    }

    fn reason(&self) -> String {
        format!("could not be opened: {}", self.error)
    }
}

impl AnyDevice {
    /// An [`Unopened`] placeholder wrapped as the right class.
    pub fn unopened(class: DeviceClass, id: &str, driver: &str, error: DeviceError) -> AnyDevice {
        let p = Arc::new(Unopened::new(class, id, driver, error));
        match class {
            DeviceClass::FingerprintScanner => AnyDevice::Fingerprint(p),
            DeviceClass::Camera => AnyDevice::Camera(p),
            DeviceClass::SignaturePad => AnyDevice::Signature(p),
            DeviceClass::CardPrinter => AnyDevice::Printer(p),
            DeviceClass::ChipEncoder => AnyDevice::Encoder(p),
            DeviceClass::Iris => AnyDevice::Iris(p),
        }
    }
}

#[async_trait]
impl Device for Unopened {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }
    fn watch_state(&self) -> watch::Receiver<DeviceState> {
        self.state.subscribe()
    }
    fn state_reason(&self) -> Option<String> {
        Some(self.reason())
    }
    async fn self_test(&self) -> DiagnosticReport {
        DiagnosticReport {
            device_id: self.info.id.clone(),
            checks: vec![DiagnosticCheck::new(
                "open",
                CheckOutcome::Fail,
                format!("{}; fix it, then restart rekamd", self.reason()),
            )],
            elapsed: Duration::ZERO,
        }
    }
}

#[async_trait]
impl FingerprintScanner for Unopened {
    async fn capture(
        &self,
        _position: FingerPosition,
        _missing: &[MissingFinger],
    ) -> Result<FingerCapture, DeviceError> {
        Err(self.disconnected())
    }
    fn preview(
        &self,
        _position: FingerPosition,
    ) -> BoxStream<'static, Result<FingerPreview, DeviceError>> {
        Box::pin(futures::stream::once(std::future::ready(Err(
            self.disconnected()
        ))))
    }
}

#[async_trait]
impl Camera for Unopened {
    fn preview(&self) -> BoxStream<'static, Result<Frame, DeviceError>> {
        Box::pin(futures::stream::once(std::future::ready(Err(
            self.disconnected()
        ))))
    }
    async fn capture_still(&self) -> Result<Frame, DeviceError> {
        Err(self.disconnected())
    }
}

#[async_trait]
impl SignaturePad for Unopened {
    fn geometry(&self) -> PadGeometry {
        PadGeometry {
            width: 0.0,
            height: 0.0,
            units_per_mm: 0.0,
        }
    }
    fn sign(&self) -> BoxStream<'static, Result<PenSample, DeviceError>> {
        Box::pin(futures::stream::once(std::future::ready(Err(
            self.disconnected()
        ))))
    }
    async fn clear(&self) -> Result<(), DeviceError> {
        Err(self.disconnected())
    }
    async fn take(&self) -> Result<Vec<PenSample>, DeviceError> {
        Err(self.disconnected())
    }
}

#[async_trait]
impl CardPrinter for Unopened {
    async fn submit(&self, _job: CardJob) -> Result<String, DeviceError> {
        Err(self.disconnected())
    }
    fn watch_job(&self, _job_id: &str) -> Result<watch::Receiver<PrintJobStatus>, DeviceError> {
        Err(self.disconnected())
    }
    async fn cancel(&self, _job_id: &str) -> Result<PrintJobStatus, DeviceError> {
        Err(self.disconnected())
    }
    async fn supplies(&self) -> Result<Supplies, DeviceError> {
        Err(self.disconnected())
    }
}

#[async_trait]
impl ChipEncoder for Unopened {
    async fn card_status(&self) -> Result<CardStatus, DeviceError> {
        Err(self.disconnected())
    }
    async fn write_files(&self, _files: &[ChipFile]) -> Result<Vec<u8>, DeviceError> {
        Err(self.disconnected())
    }
    async fn read_files(&self, _fids: &[u16]) -> Result<Vec<ChipFile>, DeviceError> {
        Err(self.disconnected())
    }
}

#[async_trait]
impl IrisCamera for Unopened {
    async fn capture(&self, _eyes: &[Eye], _missing: &[Eye]) -> Result<IrisCapture, DeviceError> {
        Err(self.disconnected())
    }
}

/// A serial driver's record-and-replay options ([`OptionReader::record_replay`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordReplay {
    /// `record`: write the session to this file.
    pub record: Option<std::path::PathBuf>,
    /// `replay`: play this file back instead of opening the port.
    pub replay: Option<std::path::PathBuf>,
    /// `replay_speed`: the recorded timing's scale (1: as recorded, 0: at once).
    pub speed: f64,
}

/// Reads a device's driver options (the configuration's `[[devices]] options`), with
/// errors that name the driver, the option, the value and what it should be, so a
/// technician can correct the file.
#[derive(Debug, Clone, Copy)]
pub struct OptionReader {
    driver: &'static str,
    known: &'static str,
}

impl OptionReader {
    /// A reader for `driver` (as in a selector, e.g. `"signature:isdv4"`), whose options
    /// are `known` (listed in the error for an unknown one).
    pub const fn new(driver: &'static str, known: &'static str) -> OptionReader {
        OptionReader { driver, known }
    }

    /// The error for option `key` with `value`, which is not `what`.
    pub fn invalid(&self, key: &str, value: &str, what: &str) -> DeviceError {
        DeviceError::InvalidArgument(format!(
            "{} option {key} = {value:?} is not {what}",
            self.driver
        ))
    }

    /// The error for an option the driver does not have.
    pub fn unknown(&self, key: &str) -> DeviceError {
        DeviceError::InvalidArgument(format!(
            "{} has no option {key:?} (options: {})",
            self.driver, self.known
        ))
    }

    /// A whole number.
    pub fn whole(&self, key: &str, value: &str) -> Result<u64, DeviceError> {
        value
            .trim()
            .parse::<u64>()
            .map_err(|_| self.invalid(key, value, "a whole number"))
    }

    /// A whole number that fits 32 bits.
    pub fn small(&self, key: &str, value: &str) -> Result<u32, DeviceError> {
        self.whole(key, value)
            .and_then(|n| u32::try_from(n).map_err(|_| self.invalid(key, value, "a small number")))
    }

    /// Milliseconds, as a duration.
    pub fn millis(&self, key: &str, value: &str) -> Result<Duration, DeviceError> {
        self.whole(key, value).map(Duration::from_millis)
    }

    /// The record-and-replay options of a serial driver (`record`, `replay`,
    /// `replay_speed`; see [`crate::recording`]), taken out of `params` so that the
    /// driver reads the rest as its own.
    pub fn record_replay(
        &self,
        params: &mut std::collections::BTreeMap<String, String>,
    ) -> Result<RecordReplay, DeviceError> {
        let speed = match params.remove("replay_speed") {
            None => 1.0,
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .ok_or_else(|| {
                    DeviceError::InvalidArgument(format!(
                        "{} option replay_speed = {v:?}: give a number of 0 or more (1: as \
                         recorded, 0: at once)",
                        self.driver
                    ))
                })?,
        };
        Ok(RecordReplay {
            record: params.remove("record").map(std::path::PathBuf::from),
            replay: params.remove("replay").map(std::path::PathBuf::from),
            speed,
        })
    }

    /// A number above zero.
    pub fn positive(&self, key: &str, value: &str) -> Result<f32, DeviceError> {
        value
            .trim()
            .parse::<f32>()
            .ok()
            .filter(|u| u.is_finite() && *u > 0.0)
            .ok_or_else(|| self.invalid(key, value, "a positive number"))
    }
}

#[cfg(test)]
mod tests {
    use super::OptionReader;

    #[test]
    fn the_option_reader_names_the_driver_the_option_and_what_it_wants() {
        let r = OptionReader::new("signature:x", "a_ms, b");
        assert_eq!(r.whole("a_ms", " 12 ").unwrap(), 12);
        assert_eq!(
            r.millis("a_ms", "250").unwrap(),
            std::time::Duration::from_millis(250)
        );
        assert_eq!(r.small("b", "4294967295").unwrap(), u32::MAX);
        assert_eq!(r.positive("b", "0.5").unwrap(), 0.5);
        let msg = |e: crate::DeviceError| e.to_string();
        assert!(
            msg(r.whole("a_ms", "soon").unwrap_err())
                .contains("signature:x option a_ms = \"soon\" is not a whole number")
        );
        assert!(msg(r.small("b", "4294967296").unwrap_err()).contains("a small number"));
        for bad in ["0", "-1", "NaN", "inf", "x"] {
            assert!(r.positive("b", bad).is_err(), "{bad}");
        }
        let e = msg(r.unknown("c"));
        assert!(
            e.contains("has no option \"c\"") && e.contains("a_ms, b"),
            "{e}"
        );
    }

    use super::*;
    use crate::sim::{StateCell, check_sim_selector, sim_available};
    use futures::StreamExt;

    fn sel(s: &str) -> Selector {
        s.parse().unwrap()
    }

    fn problem(s: &str) -> SelectorProblem {
        s.parse::<Selector>().unwrap_err().problem
    }

    #[test]
    fn selectors_parse() {
        assert_eq!(
            sel("printer:sim"),
            Selector::new(DeviceClass::CardPrinter, "sim")
        );
        assert_eq!(
            sel("fingerprint:r30x:/dev/ttyUSB0"),
            Selector::new(DeviceClass::FingerprintScanner, "r30x").with_address("/dev/ttyUSB0")
        );
        assert_eq!(
            sel("encoder:pcsc:\"ACS ACR1252\"").address.as_deref(),
            Some("ACS ACR1252")
        );
        // Everything after the second colon is the address, colons included.
        assert_eq!(
            sel("printer:ipp:ipp://127.0.0.1:631/ipp/print")
                .address
                .as_deref(),
            Some("ipp://127.0.0.1:631/ipp/print")
        );
        assert_eq!(sel("camera:v4l2:/dev/video0").class, DeviceClass::Camera);
        assert_eq!(
            sel("signature:isdv4:/dev/ttyS0").class,
            DeviceClass::SignaturePad
        );
    }

    #[test]
    fn selector_errors_say_what_is_wrong() {
        assert_eq!(problem("toaster:sim"), SelectorProblem::UnknownClass);
        assert_eq!(problem(""), SelectorProblem::UnknownClass);
        assert_eq!(problem("Printer:sim"), SelectorProblem::UnknownClass);
        assert_eq!(problem("printer"), SelectorProblem::MissingDriver);
        assert_eq!(problem("printer:"), SelectorProblem::MissingDriver);
        assert_eq!(problem("printer:Sim"), SelectorProblem::InvalidDriver);
        assert_eq!(problem("printer:s m"), SelectorProblem::InvalidDriver);
        assert_eq!(problem("printer:sim:"), SelectorProblem::EmptyAddress);
        assert_eq!(problem("printer:sim:\"\""), SelectorProblem::EmptyAddress);
        assert_eq!(
            problem("encoder:pcsc:\"ACS"),
            SelectorProblem::UnclosedQuote
        );
        let e = "toaster:sim".parse::<Selector>().unwrap_err().to_string();
        assert!(
            e.contains("toaster:sim") && e.contains("fingerprint, camera"),
            "{e}"
        );
    }

    #[test]
    fn selectors_display_and_round_trip() {
        assert_eq!(sel("printer:sim").to_string(), "printer:sim");
        assert_eq!(
            sel("encoder:pcsc:\"ACS ACR1252\"").to_string(),
            "encoder:pcsc:\"ACS ACR1252\""
        );
        assert_eq!(
            sel("fingerprint:r30x:/dev/ttyUSB0").to_string(),
            "fingerprint:r30x:/dev/ttyUSB0"
        );
        for class in [
            DeviceClass::FingerprintScanner,
            DeviceClass::Camera,
            DeviceClass::SignaturePad,
            DeviceClass::CardPrinter,
            DeviceClass::ChipEncoder,
        ] {
            for address in [
                None,
                Some("/dev/ttyUSB0"),
                Some("ACS ACR1252 1S CL Reader 00 00"),
                Some("ipp://host:631/a b"),
                Some("\"quoted\""),
                Some("\"half"),
                Some("half\""),
                Some("tab\there"),
                Some("x"),
            ] {
                let mut s = Selector::new(class, "drv_1-x");
                s.address = address.map(str::to_string);
                let text = s.to_string();
                assert_eq!(text.parse::<Selector>(), Ok(s.clone()), "{text}");
            }
        }
    }

    #[test]
    fn selectors_serialise_as_strings() {
        let s = sel("encoder:pcsc:\"ACS ACR1252\"");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#""encoder:pcsc:\"ACS ACR1252\"""#);
        assert_eq!(serde_json::from_str::<Selector>(&json).unwrap(), s);
        #[derive(serde::Deserialize)]
        struct Conf {
            selector: Selector,
        }
        let c: Conf = toml::from_str("selector = \"fingerprint:r30x:/dev/ttyUSB0\"").unwrap();
        assert_eq!(c.selector.address.as_deref(), Some("/dev/ttyUSB0"));
        let e = toml::from_str::<Conf>("selector = \"toaster:sim\"")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("the class must be"), "{e}");
        assert!(serde_json::from_str::<Selector>("42").is_err());
    }

    // A camera that opens, for the table's tests.
    struct Cam {
        info: DeviceInfo,
        cell: StateCell,
    }

    #[async_trait]
    impl Device for Cam {
        fn info(&self) -> &DeviceInfo {
            &self.info
        }
        fn watch_state(&self) -> watch::Receiver<DeviceState> {
            self.cell.subscribe()
        }
        async fn self_test(&self) -> DiagnosticReport {
            DiagnosticReport {
                device_id: self.info.id.clone(),
                checks: vec![],
                elapsed: Duration::ZERO,
            }
        }
    }

    #[async_trait]
    impl Camera for Cam {
        async fn capture_still(&self) -> Result<Frame, DeviceError> {
            Err(DeviceError::Unsupported("fake".into()))
        }
    }

    /// A camera simulator; `wrong_id` makes it open a device with another id.
    struct CamDriver {
        wrong_id: bool,
    }

    impl DriverFactory for CamDriver {
        fn class(&self) -> DeviceClass {
            DeviceClass::Camera
        }
        fn name(&self) -> &'static str {
            if self.wrong_id { "bad" } else { "sim" }
        }
        fn description(&self) -> &'static str {
            "fake camera"
        }
        fn simulated(&self) -> bool {
            true
        }
        fn list(&self) -> Result<Vec<Available>, DeviceError> {
            Ok(sim_available(DeviceClass::Camera, "one fake camera"))
        }
        fn open(
            &self,
            selector: &Selector,
            options: &OpenOptions,
        ) -> Result<AnyDevice, DeviceError> {
            check_sim_selector(selector)?;
            let id = if self.wrong_id { "other" } else { &options.id };
            Ok(AnyDevice::Camera(Arc::new(Cam {
                info: DeviceInfo {
                    id: id.to_string(),
                    class: DeviceClass::Camera,
                    vendor: "v".into(),
                    model: "m".into(),
                    serial: "s".into(),
                    firmware: "f".into(),
                    driver: self.name().into(),
                    simulated: true,
                },
                cell: StateCell::new(id),
            })))
        }
    }

    /// A PC/SC-like encoder driver whose service is not running.
    struct NoService;

    impl DriverFactory for NoService {
        fn class(&self) -> DeviceClass {
            DeviceClass::ChipEncoder
        }
        fn name(&self) -> &'static str {
            "pcsc"
        }
        fn description(&self) -> &'static str {
            "PC/SC readers"
        }
        fn list(&self) -> Result<Vec<Available>, DeviceError> {
            Err(DeviceError::Hardware("pcscd is not running".into()))
        }
        fn open(&self, _: &Selector, _: &OpenOptions) -> Result<AnyDevice, DeviceError> {
            Err(DeviceError::Hardware("pcscd is not running".into()))
        }
    }

    const TABLE: DriverTable<'static> = DriverTable::new(&[
        &CamDriver { wrong_id: false },
        &CamDriver { wrong_id: true },
        &NoService,
    ]);

    #[test]
    fn the_table_finds_drivers_by_class_and_name() {
        assert_eq!(TABLE.names(DeviceClass::Camera), ["sim", "bad"]);
        assert_eq!(
            TABLE.find(DeviceClass::ChipEncoder, "pcsc").unwrap().name(),
            "pcsc"
        );
        let e = TABLE.find(DeviceClass::Camera, "v4l2").err().unwrap();
        assert_eq!(e.known, ["sim", "bad"]);
        assert_eq!(
            e.to_string(),
            "driver \"v4l2\" is not built in; drivers for camera: sim, bad"
        );
        let e = TABLE.find(DeviceClass::CardPrinter, "sim").err().unwrap();
        assert!(e.to_string().ends_with("drivers for printer: none"), "{e}");
        assert_eq!(
            format!("{TABLE:?}"),
            r#"["camera:sim", "camera:bad", "encoder:pcsc"]"#
        );
    }

    #[test]
    fn the_table_lists_what_each_driver_sees() {
        let all = TABLE.list(None);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].driver, "sim");
        assert!(all[0].simulated);
        let seen = all[0].available.as_ref().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].selector.to_string(), "camera:sim");
        assert!(matches!(all[2].available, Err(DeviceError::Hardware(_))));
        let encoders = TABLE.list(Some(DeviceClass::ChipEncoder));
        assert_eq!(encoders.len(), 1);
        assert_eq!(encoders[0].driver, "pcsc");
        assert!(TABLE.list(Some(DeviceClass::CardPrinter)).is_empty());
    }

    #[tokio::test]
    async fn a_device_that_cannot_open_becomes_a_disconnected_placeholder() {
        let opts = OpenOptions::new("camera0").with_seed(7);
        let ok = TABLE.open(&sel("camera:sim"), &opts).unwrap();
        assert!(ok.open_error.is_none());
        assert_eq!(ok.device.info().model, "m");
        assert_eq!(ok.device.device().state(), DeviceState::Ready);

        // The simulator has no device at an address.
        let bad = TABLE.open(&sel("camera:sim:/dev/video9"), &opts).unwrap();
        assert!(matches!(bad.open_error, Some(DeviceError::NotFound(_))));
        let AnyDevice::Camera(cam) = &bad.device else {
            panic!("not a camera");
        };
        assert_eq!(cam.info().id, "camera0");
        assert_eq!(cam.info().driver, "sim");
        assert_eq!(cam.state(), DeviceState::Disconnected);
        let reason = cam.state_reason().unwrap();
        assert!(
            reason.contains("could not be opened") && reason.contains("/dev/video9"),
            "{reason}"
        );
        let report = cam.self_test().await;
        assert!(!report.passed());
        assert!(report.checks[0].detail.contains("/dev/video9"));
        assert!(matches!(
            cam.capture_still().await,
            Err(DeviceError::Disconnected { device }) if device == "camera0"
        ));
        assert!(matches!(
            cam.preview().next().await,
            Some(Err(DeviceError::Disconnected { .. }))
        ));
        assert!(cam.simulator().is_none());

        // A driver that opens a device other than the one asked for is not trusted.
        let wrong = TABLE.open(&sel("camera:bad"), &opts).unwrap();
        assert!(matches!(wrong.open_error, Some(DeviceError::Protocol(_))));
        assert_eq!(wrong.device.info().id, "camera0");

        // An unknown driver is a configuration error, not a placeholder.
        assert!(TABLE.open(&sel("camera:v4l2:/dev/video0"), &opts).is_err());
    }

    #[tokio::test]
    async fn every_class_has_a_placeholder_that_answers_disconnected() {
        let e = || DeviceError::Hardware("gone".into());
        for class in [
            DeviceClass::FingerprintScanner,
            DeviceClass::Camera,
            DeviceClass::SignaturePad,
            DeviceClass::CardPrinter,
            DeviceClass::ChipEncoder,
            DeviceClass::Iris,
        ] {
            let d = AnyDevice::unopened(class, "x0", "drv", e());
            assert_eq!(d.info().class, class);
            assert_eq!(d.device().state(), DeviceState::Disconnected);
            let disconnected = |r: Result<(), DeviceError>| {
                assert!(
                    matches!(r, Err(DeviceError::Disconnected { .. })),
                    "{class:?}: {r:?}"
                );
            };
            match &d {
                AnyDevice::Fingerprint(f) => {
                    disconnected(f.capture(FingerPosition::RightIndex, &[]).await.map(drop));
                    disconnected(
                        f.preview(FingerPosition::RightIndex)
                            .next()
                            .await
                            .unwrap()
                            .map(drop),
                    );
                }
                AnyDevice::Camera(c) => disconnected(c.capture_still().await.map(drop)),
                AnyDevice::Iris(i) => disconnected(i.capture(&Eye::BOTH, &[]).await.map(drop)),
                AnyDevice::Signature(s) => {
                    disconnected(s.sign().next().await.unwrap().map(drop));
                    disconnected(s.clear().await);
                    disconnected(s.take().await.map(drop));
                }
                AnyDevice::Printer(p) => {
                    disconnected(p.supplies().await.map(drop));
                    disconnected(
                        p.submit(CardJob {
                            front_png: vec![],
                            back_png: None,
                            test_card: true,
                            black: None,
                        })
                        .await
                        .map(drop),
                    );
                    disconnected(p.watch_job("j").map(drop));
                    disconnected(p.cancel("j").await.map(drop));
                }
                AnyDevice::Encoder(c) => {
                    disconnected(c.card_status().await.map(drop));
                    disconnected(c.write_files(&[]).await.map(drop));
                    disconnected(c.read_files(&[1]).await.map(drop));
                }
            }
        }
    }

    #[test]
    fn placeholders_report_no_capabilities() {
        let caps = AnyDevice::unopened(DeviceClass::ChipEncoder, "e", "pcsc", DeviceError::NoCard)
            .capabilities();
        assert_eq!(
            caps,
            crate::Capabilities::Encoder(crate::EncoderCapabilities {
                max_apdu_size: None,
                interfaces: Default::default(),
            })
        );
        let caps = AnyDevice::unopened(
            DeviceClass::FingerprintScanner,
            "f",
            "r30x",
            DeviceError::NoCard,
        )
        .capabilities();
        let crate::Capabilities::Fingerprint(f) = caps else {
            panic!("not a scanner's");
        };
        assert!(f.positions.is_empty() && f.ppi == 0 && !f.live_preview);
    }
}
