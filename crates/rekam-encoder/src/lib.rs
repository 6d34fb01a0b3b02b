//! Contactless chip encoders for rekam, the KTP-el enrollment station daemon: the drivers
//! behind [`rekam_core::ChipEncoder`] that write the data groups (already encoded as
//! bytes) into the card's chip and read them back for verification.
//!
//! Today the crate holds the simulator, [`EncoderSim`]: a contactless reader with a
//! simulated ISO/IEC 14443 chip (ATR, UID, EEPROM, file system) whose card can be
//! missing, pulled out mid-write, or whose reader can vanish or fail, all injectable
//! through [`rekam_core::sim::SimulatorControl`]. [`atr`] builds the ATR that PC/SC
//! reports for a contactless card. [`ENCODER_SIM_DRIVER`] is the simulator's
//! [`rekam_core::DriverFactory`] (`encoder:sim`), the daemon's one line for it.
//!
//! Where the rest goes: the PC/SC driver (through pcscd, tested against vpcd), the chip
//! profile with its security object, SAM authentication and secure messaging, and the
//! virtual card that vpcd serves, arrive in later issues as modules of this crate beside
//! [`sim`]; the APDU layer lives in `rekam-iso7816`.

pub mod atr;
mod driver;
pub mod sim;

pub use driver::ENCODER_SIM_DRIVER;
pub use sim::EncoderSim;
