//! A driver for DSLRs and other still cameras over PTP, the Picture Transfer Protocol
//! (ISO 15740 / PIMA 15740:2000) on USB (the Still Image Capture device class), for rekam,
//! the KTP-el enrollment station daemon: a station can take the applicant's portrait with
//! a tethered Canon EOS or Nikon body instead of a webcam-class face camera. The driver
//! implements [`rekam_core::Camera`] (a still at the camera's full resolution, a live JPEG
//! preview from the camera's live view) and opens as `camera:ptp:usb:VID:PID[:BUS-ADDR]`
//! ([`PTP_DRIVER`]). A simulated EOS-like camera ([`sim::SimCamera`]) speaks real PTP
//! containers behind the same transport trait, so the driver's own bytes are what its
//! tests test.
//!
//! * [`container`]: the USB container (length, type, code, transaction id, parameters or
//!   data) and the operation, response, event and property codes;
//! * [`dataset`]: PTP's simple types and UCS-2 strings, DeviceInfo, ObjectInfo, EOS
//!   viewfinder blocks and GetEvent records, the Nikon live view image;
//! * [`transport`]: [`PtpTransport`] (bulk out, bulk in, interrupt in, clear halt, Device
//!   Reset) and [`Connector`], on libusb through `rusb` ([`UsbConnector`]);
//! * [`session`]: [`PtpSession`], transactions and transaction ids, sessions, capture,
//!   live view with bounded exponential back-off ([`Backoff`]), PTP answers mapped to
//!   [`rekam_core::DeviceError`]s;
//! * [`camera`]: [`PtpCamera`], the device, an actor thread owning the USB handle,
//!   reconnecting after an unplug;
//! * [`driver`]: the driver table entry, [`PTP_DRIVER`];
//! * [`sim`]: the simulated camera and its faults (unplug, stall, garbage).
//!
//! # Operations
//!
//! | operation | code | what the driver does with it | where specified |
//! |---|---|---|---|
//! | containers on bulk and interrupt endpoints | — | every exchange; a zero-length packet after a write of a whole number of packets | USB Still Image Capture Device Definition 1.0, 7.1; ISO 15740 clause 9 |
//! | Device Reset (class request) | 0x66 | after a garbled container: the device is reset and a session opened again | USB Still Image Capture Device Definition 1.0, 5.2.3 |
//! | GetDeviceInfo | 0x1001 | identity (manufacturer, model, version, serial), what the camera supports, which vendor operations to use | ISO 15740 10.5.1; DeviceInfo dataset 5.5.1 |
//! | OpenSession | 0x1002 | session 1, transaction id 0; Session Already Open → closed and opened again | ISO 15740 10.5.2, transaction ids 9.3.1 |
//! | CloseSession | 0x1003 | when the camera is dropped | ISO 15740 10.5.3 |
//! | GetObjectInfo | 0x1008 | format and size of each object a capture adds | ISO 15740 10.5.8; ObjectInfo dataset 5.5.3 |
//! | GetObject | 0x1009 | downloads the still | ISO 15740 10.5.9 |
//! | DeleteObject | 0x100B | removes the still from the card unless `keep_on_card` | ISO 15740 10.5.11 |
//! | InitiateCapture | 0x100E | takes a still (storage and format chosen by the camera), retried while busy | ISO 15740 10.5.14 |
//! | ObjectAdded / CaptureComplete / StoreFull events | 0x4002 / 0x400D / 0x400A | awaited on the interrupt endpoint after InitiateCapture | ISO 15740 12.5.3, 12.5.14, 12.5.11 |
//! | EOS SetDevicePropValueEx | 0x9110 | EVF output device (0xD1B0) = 2 (PC) to start live view, 0 to end it | libgphoto2 `ptp.h` (`PTP_OC_CANON_EOS_SetDevicePropValueEx`, `PTP_DPC_CANON_EOS_EVFOutputDevice`) |
//! | EOS SetRemoteMode / SetEventMode | 0x9114 / 0x9115 | both 1 after OpenSession on an EOS | libgphoto2 `ptp.h`, `config.c` (EOS capture preparation) |
//! | EOS GetEvent | 0x9116 | drained after opening and between live view frames; ObjectAddedEx (0xC181) also ends a capture's wait | libgphoto2 `ptp.h`, `ptp-pack.c` (EOS event records) |
//! | EOS GetViewFinderData | 0x9153 | one live view frame: the JPEG of the first type-1 (or 11) block | libgphoto2 `ptp.h`, `library.c` (EOS preview) |
//! | Nikon StartLiveView / EndLiveView | 0x9201 / 0x9202 | live view on and off | libgphoto2 `ptp.h` |
//! | Nikon GetLiveViewImg | 0x9203 | one live view frame: the JPEG after the model's header | libgphoto2 `ptp.h` |
//!
//! Busy answers — Device Busy (0x2019, ISO 15740 clause 11) and EOS Not Ready (0xA102,
//! libgphoto2 `PTP_RC_CANON_NOT_READY`) — are polled again with bounded exponential
//! back-off (5 ms doubling to 160 ms, at most 3 s in all, then
//! [`rekam_core::DeviceError::Timeout`]). An EOS answers so to viewfinder polls that come
//! too fast or before live view is running, and to InitiateCapture for a while after live
//! view ends: the driver leaves live view before every capture and waits that out.
//! Other response codes map to errors a technician can act on ([`PtpError::to_device_error`]):
//! Store Full and no card to `Hardware` with what to do, Operation Not Supported to
//! `Unsupported`, a garbled container or a wrong transaction id to `Protocol`, an unplug
//! to `Disconnected`.
//!
//! What is not done: EOS RemoteRelease (0x910F / 0x9128) captures (bodies that do not offer
//! InitiateCapture cannot take stills through this driver), reading or setting exposure
//! properties, PTP/IP.

pub mod camera;
pub mod container;
pub mod dataset;
pub mod driver;
pub mod session;
pub mod sim;
pub mod transport;

pub use camera::{DRIVER_NAME, PtpCamera, PtpCameraConfig};
pub use container::{Container, ContainerError, ContainerType};
pub use dataset::{DatasetError, DeviceInfo, EosEvent, ObjectInfo};
pub use driver::{PTP_DRIVER, PtpDriver, config_from_options};
pub use session::{
    Backoff, BusyStats, Phase, PtpError, PtpSession, Response, Still, Timeouts, Vendor,
};
pub use sim::{SimCamera, SimConfig, SimConnector, SimOp};
pub use transport::{
    Connector, FoundDevice, PtpTransport, TransportError, UsbAddress, UsbConnector,
    list_still_image_devices,
};
