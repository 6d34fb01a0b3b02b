//! A driver for R30x / ZFM optical fingerprint modules (GROW R305, R307, R308, R503, ZFM-20,
//! AS608 and their clones) for rekam, the KTP-el enrollment station daemon, and a simulator
//! of such a module. These are the single-finger modules a low-cost station, or a station
//! whose 4-4-2 scanner is out of order, can capture single fingers with; the driver speaks
//! their UART packet protocol over a serial port (a USB-serial adapter, an on-board UART)
//! and implements [`rekam_core::FingerprintScanner`]. The simulator plays the module on the
//! far side of a real pseudo-terminal, so the driver's own bytes are what its tests test.
//!
//! * [`protocol`]: packets (`EF 01`, address, packet id, length, payload, checksum), the
//!   streaming decoder that resynchronises on the header, commands, parameters,
//!   confirmation codes and the 4-bit image packing;
//! * [`transport`]: the [`Transport`] / [`Connector`] traits (a byte line and what opens
//!   it) and the serial port behind them ([`SerialConnector`]), with open errors a
//!   technician can act on (not found, permission denied, in use);
//! * [`link`]: commands with bounded retries, the image upload, the line's error counters;
//! * [`R30xScanner`]: the device, an actor thread owning the port, reconnecting after an
//!   unplug; [`R30X_DRIVER`] opens it from `fingerprint:r30x:/dev/ttyUSB0`;
//! * [`sim`]: [`R30xSim`], the simulated module (`rekam-sim r30x`);
//! * [`record`]: a session recorded byte for byte with its timing (the option `record`)
//!   and played back into the driver (the option `replay`), so that a recording of a
//!   failing module becomes a regression test.
//!
//! # Commands
//!
//! Sources: the *R30x Series Fingerprint Identification Module User Manual* (SFG/GROW,
//! chapter "Communication Protocol" and "Module Instruction System"; the R307 manual
//! v1.20 has the same chapters) and the *R503 Fingerprint Module User Manual* (GROW,
//! v1.1 2019 and v1.2 2021) for the R503 additions. Section names are the manuals'.
//!
//! | instruction | code | what the driver does with it | where specified |
//! |---|---|---|---|
//! | packet format, checksum | — | every exchange | R30x manual, "Data package format" |
//! | VfyPwd | 0x13 | the handshake when the line opens; the self-test's round trip | R30x manual, "Verify password VfyPwd" |
//! | ReadSysPara | 0x0F | status register, system id, library size, security level, address, packet size, baud N × 9600: device info and self-test | R30x manual, "Read system Parameter ReadSysPara" |
//! | GenImg | 0x01 | polled until a finger is there (0x02 no finger); capture, preview, self-test | R30x manual, "To collect finger image GenImg" |
//! | UpImage | 0x0A | the image: an ack, data packets (0x02), an end packet (0x08); 4 bits per pixel, two pixels a byte, high nibble first | R30x manual, "Upload image UpImage" and "Image buffer" |
//! | SetSysPara | 0x0E | parameter 4, the baud rate ([`R30xScanner::set_baud`]) | R30x manual, "Set module system's basic parameter SetSysPara" |
//! | ReadProdInfo | 0x3C | model, serial, hardware version, sensor and image size, on modules that answer it (probed once) | R503 manual, "Read product information ReadProdInfo" |
//! | AuraLedConfig | 0x35 | the ring light: breathing blue while waiting, purple while uploading, off | R503 manual, "Aura control AuraLedConfig" |
//!
//! Confirmation codes become [`rekam_core::DeviceError`]s ([`scanner::module_error`]):
//! 0x13 wrong password → `PermissionDenied` (with the option to set), 0x01 damaged
//! command → sent again, then `Protocol`; 0x29 sensor abnormal → `Hardware`; 0x1A/0x1B
//! bad parameter → `InvalidArgument`; others → `Hardware` with the manual's meaning.
//!
//! # Images
//!
//! The module transfers 4 bits per pixel on its UART; each value `v` becomes the 8-bit grey
//! `v << 4 | v`, so 0 stays black and 15 becomes full white (255). An upload of one byte per
//! pixel (modules on USB) is taken as 8-bit grey. R305/R307-class images are 256 × 288
//! pixels; their data sheets state 500 dpi, reported by [`FingerprintScanner::ppi`] — a
//! nominal figure, not a calibrated one. The R503 states 508 dpi for its 192 × 192 array.
//! [`FingerprintScanner::single_finger_size`] answers the image size.
//!
//! What that means for enrollment: 256 × 288 pixels at 500 dpi is a capture area of
//! 13.0 × 14.6 mm, wide enough but shorter than the smallest single-finger area the FBI
//! certifies (FAP 10: 0.5 × 0.65 in, 12.7 × 16.5 mm); the R503's 9.6 × 9.6 mm falls short
//! both ways. The enrollment pipeline (`rekam-enrollment`) therefore refuses these modules for the
//! fingerprint step unless the station accepts a substandard scanner
//! (`[station] accept_substandard_scanner = true`), and every capture made with it is
//! marked as below the requirement.
//!
//! [`FingerprintScanner::ppi`]: rekam_core::FingerprintScanner::ppi
//! [`FingerprintScanner::single_finger_size`]: rekam_core::FingerprintScanner::single_finger_size

pub mod driver;
pub mod link;
pub mod protocol;
pub mod record;
pub mod scanner;
pub mod sim;
pub mod transport;

pub use driver::{R30X_DRIVER, R30xDriver, config_from_options};
pub use link::{LinkStats, StatsSnapshot, Timeouts};
pub use protocol::{LedColour, LedConfig, LedEffect, ProdInfo, SysParams};
pub use record::{RecordingConnector, ReplayConnector};
pub use scanner::{DRIVER_NAME, Identity, ImageGeometry, LedMode, R30xConfig, R30xScanner};
pub use sim::{R30xSim, SimConfig, SimError, SimFault, SimModel, SimStats};
pub use transport::{Connector, SerialConnector, Transport, TransportError};
