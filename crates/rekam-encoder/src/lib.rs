//! Contactless chip encoders for rekam, the KTP-el enrollment station daemon: the drivers
//! behind [`rekam_core::ChipEncoder`] that write the chip's files (already encoded as bytes:
//! the profile comes from `rekam-chip`) into the card and read them back for verification.
//!
//! - [`pcsc`]: the PC/SC driver, `encoder:pcsc:"READER"` ([`ENCODER_PCSC_DRIVER`]): readers
//!   through pcscd, a monitor thread on `SCardGetStatusChange`, every personalization inside
//!   `SCardBeginTransaction` on the card and the SAM.
//! - [`personalize`]: what the driver says to the chip and the SAM over any
//!   [`rekam_iso7816::Transport`]: UID, EF.ATR/INFO, SELECT, mutual authentication, the
//!   blank check, CREATE FILE / UPDATE BINARY, SELECT / READ BINARY, each failure named by its
//!   phase.
//! - [`sm`]: ICAO 9303-11 mutual authentication and secure messaging, with 2-key 3DES (BAC's
//!   scheme) or AES-128 (CBC and CMAC), whichever is the strongest the chip and the SAM share.
//! - [`vcard`]: the virtual chip and SAM, and the vpcd client that serves them to pcscd
//!   (`rekam-sim card|sam`, the tests).
//! - [`sim`]: the in-process simulator, [`EncoderSim`] (`encoder:sim`), for tests that need no
//!   pcscd: a simulated ISO/IEC 14443 chip whose card can be missing, pulled out mid-write,
//!   or whose reader can vanish or fail, all injectable through
//!   [`rekam_core::sim::SimulatorControl`]. [`atr`] builds the ATR that PC/SC reports for a
//!   contactless card.
//! - `testbed` (feature `testbed`): a private pcscd with vpcd readers, for tests and benches.

pub mod atr;
mod driver;
pub mod pcsc;
pub mod personalize;
pub mod sim;
pub mod sm;
#[cfg(feature = "testbed")]
pub mod testbed;
pub mod vcard;

pub use driver::ENCODER_SIM_DRIVER;
pub use pcsc::{ENCODER_PCSC_DRIVER, PcscEncoder};
pub use sim::EncoderSim;
