//! A driver for USB HID pen digitizers on Linux hidraw, for rekam, the KTP-el enrollment
//! station daemon: signature pads, pen tablets and pen displays that describe their pen
//! with the standard HID Digitizers usages, reached through their hidraw node
//! (`signature:hid:/dev/hidraw3`) or their USB ids (`signature:hid:056a:0357`). The driver
//! implements [`rekam_core::SignaturePad`] as [`HidPad`], opened through [`HID_DRIVER`].
//!
//! * [`descriptor`]: a HID report descriptor parser, from the Device Class Definition for
//!   HID 1.11, §6.2.2 (short and long items; main, global and local items; usage pages and
//!   usages, logical and physical extents, unit and unit exponent, report size, count and
//!   id, Push and Pop, collections) and §5.8 (how values sit in a report);
//! * [`pen`]: the pen found in a parsed descriptor, from the HID Usage Tables (1.x),
//!   chapter 16 "Digitizers" (Pen and Digitizer applications, Stylus collections, Tip
//!   Pressure, In Range, Tip Switch, Barrel Switch, Invert, Eraser, X/Y Tilt) and chapter 4
//!   "Generic Desktop" (X, Y): where each value sits in its report, its extents and units
//!   (centimetres or inches with an exponent give the pad's size in millimetres), and
//!   reports decoded into pen states;
//! * [`transport`]: the [`HidTransport`] trait the pad reads through (the report
//!   descriptor, one report at a time with a time-out) and a replayed device for tests;
//! * [`hidraw`]: the real transport on a hidraw node, from `include/uapi/linux/hidraw.h`
//!   (`HIDIOCGRDESCSIZE`, `HIDIOCGRDESC`, `HIDIOCGRAWINFO`, `HIDIOCGRAWNAME`, `read()`);
//!   the crate's only unsafe code;
//! * [`sysfs`]: hidraw nodes found from `/sys/class/hidraw/*/device` (`uevent`: `HID_ID`,
//!   `HID_NAME`; `report_descriptor`), without opening them;
//! * [`HidPad`] ([`pad`]): the actor thread that owns the device, the signature rule,
//!   reconnection, counters and the self-test;
//! * [`HID_DRIVER`] ([`driver`]): the [`rekam_core::DriverFactory`] and its options.
//!
//! # Behaviour (as the ISDV4 driver, `rekam-isdv4`)
//!
//! * **Samples.** A sample per pen report while the pen is in range: hovering is pressure
//!   0, touching is the Tip Pressure over its extent (never 0 while touching); leaving
//!   range gives one pen-up sample at the last position. The eraser end never inks.
//! * **The end of a signature.** The pen not touching for `finish_ms` (1500 ms) after ink.
//!   A pen that touched stays down until a report says otherwise (HID pens report their
//!   lift; some report nothing while held still, which must not cut a stroke).
//! * **Unplugging.** A read error makes the pad Disconnected; it opens the device again
//!   every `reconnect_ms` until it is back (a `VID:PID` selector finds it on its new node).
//! * **Damaged reports.** Pen reports shorter than the descriptor says, or in range with a
//!   position outside the logical extents, are skipped and counted; reports of other ids
//!   (buttons, touch, a mouse collection) are ignored. The self-test shows the counts.
//! * **Permissions.** A node rekamd may not open is a permission error whose message says
//!   how to allow it (a udev rule for `/dev/hidraw*` with the pad's vendor id, or the
//!   `plugdev` group); a node that is not there is "not found".
//!
//! # Assumptions (to check on a real pad)
//!
//! * **Size.** From the X and Y physical extents and their unit (centimetre or inch, with
//!   the unit exponent); a descriptor without them needs the `units_per_mm` option. Pad
//!   units are the finer axis's resolution, so axes of different resolutions stay square.
//! * **Timing.** HID reports carry no time: `t_ms` is when the report was read.
//! * **Sample rate.** Not in the descriptor: measured during each signature, or set with
//!   `sample_rate_hz`.
//! * **Vendor pens.** Pads that describe their pen only on a vendor page (Wacom STU
//!   signature pads, most pads in their vendor mode) are refused: rekam reads the standard
//!   usages, and Wacom's page 0xFF0D, which mirrors them.

pub mod descriptor;
pub mod driver;
pub mod hidraw;
pub mod pad;
pub mod pen;
pub mod sysfs;
pub mod transport;

#[cfg(test)]
mod testdata;
#[cfg(test)]
mod tests;

pub use descriptor::{DescriptorError, Field, ReportDescriptor, ReportKind, Usage};
pub use driver::{HID_DRIVER, HidDriver, available_in, config_from_options};
pub use hidraw::{Hidraw, HidrawOpener, PERMISSION_HELP};
pub use pad::{DRIVER_NAME, HidConfig, HidPad, ProbeOutcome, ReportStats};
pub use pen::{Decoded, LayoutError, PenLayout, PenReport, PenScale, PenState};
pub use sysfs::{HidrawNode, Target};
pub use transport::{
    HidIdentity, HidOpener, HidTransport, ReplayEvent, ReplayOpener, ReplayTransport,
    TransportError,
};
