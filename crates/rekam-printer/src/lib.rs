//! Card printers for rekam, the KTP-el enrollment station daemon: the drivers behind
//! [`rekam_core::CardPrinter`] that print the personalised card body.
//!
//! Today the crate holds the simulator, [`PrinterSim`]: a dye-sublimation CR-80 printer
//! with a card hopper, a YMCKO ribbon, a job queue that prints one card at a time in the
//! background, and every fault a real printer reports (no cards, ribbon out, jam, cover
//! open, disconnect, hardware error) injectable through
//! [`rekam_core::sim::SimulatorControl`]. [`PRINTER_SIM_DRIVER`] is its
//! [`rekam_core::DriverFactory`] (`printer:sim`), the daemon's one line for it.
//!
//! Where the rest goes: the IPP Everywhere driver (`ipp` module, tested against
//! `ippeveprinter`), the card layout templates and their renderer, and the direct
//! printers with a built-in encoder arrive in later issues, each as a module of this
//! crate beside [`sim`]. [`validate_card_png`] is the check every driver applies to the
//! images it is given.

mod driver;
pub mod sim;
mod test_card;
mod validate;

pub use driver::PRINTER_SIM_DRIVER;
pub use sim::{PrintedCard, PrinterSim};
pub use validate::{CARD_ASPECT, validate_card_png};
