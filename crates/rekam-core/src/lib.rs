//! The device model of rekam, the KTP-el enrollment station daemon: what a device is
//! (identity, class, state, diagnostics), the errors every driver reports, the domain
//! types that cross layers (grey images with their resolution, finger positions, pen
//! samples, card jobs, chip files) and one small object-safe trait per device class
//! ([`FingerprintScanner`], [`Camera`], [`IrisCamera`], [`SignaturePad`], [`CardPrinter`],
//! [`ChipEncoder`]). Drivers and simulators implement these traits; the enrollment
//! pipeline and the daemon depend on the traits only, never on a driver.
//!
//! Optional capabilities are default trait methods; [`AnyDevice::capabilities`] gathers
//! them per class ([`Capabilities`]).
//!
//! The [`driver`] module is how devices are named and opened: the [`Selector`]
//! (`class:driver[:address]`), one [`DriverFactory`] per driver (what it can see, how it
//! opens), the [`DriverTable`] a program builds from them, and the [`Unopened`]
//! placeholder that stands for a device that could not be opened. The [`Registry`] holds
//! the open devices and turns their state changes into one stream of [`DeviceEvent`]s. The
//! [`sim`] module holds what every simulator shares: scaled timings, an injectable fault
//! set, a state cell with a busy guard, and the selector rules of simulator drivers.
//!
//! This crate depends on no other rekam crate and knows nothing of gRPC.

mod capabilities;
mod device;
pub mod driver;
mod error;
pub mod events;
pub mod pen;
pub mod recording;
mod registry;
pub mod script;
pub mod sim;
mod traits;
mod types;

pub use capabilities::{
    ApduSize, CameraCapabilities, Capabilities, ChipInterfaces, EncoderCapabilities,
    FingerprintCapabilities, IrisCapabilities, PrinterCapabilities, SignatureCapabilities,
    VideoFormat,
};
pub use device::{
    CheckOutcome, DeviceClass, DeviceEvent, DeviceEventKind, DeviceInfo, DeviceState,
    DiagnosticCheck, DiagnosticReport,
};
pub use driver::{
    Available, DriverFactory, DriverListing, DriverTable, OpenOptions, Opened, OptionReader,
    RecordReplay, Selector, SelectorError, SelectorProblem, UnknownDriver, Unopened,
};
pub use error::{DeviceError, ErrorKind};
pub use registry::{AnyDevice, DEVICE_EVENTS_KEPT, DeviceSubscription, Registry};
pub use traits::{
    Camera, CardPrinter, ChipEncoder, Device, FingerprintScanner, IrisCamera, IrisRequest,
    SignaturePad, StationCard, StationError, write_and_verify,
};
pub use types::*;
