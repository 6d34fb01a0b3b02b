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
//! What every printer driver shares lives here too: [`validate_card_png`], the check every
//! driver applies to the images it is given, and [`jobs::JobBook`], the job table with its
//! watch channels. The real drivers are crates of their own (`rekam-ipp` for IPP printers,
//! `rekam-evolis` for Evolis printers with a built-in encoder), and the card's layout is
//! `rekam-card`'s.

mod driver;
pub mod jobs;
pub mod sim;
mod test_card;
mod validate;

pub use driver::PRINTER_SIM_DRIVER;
pub use sim::{PrintedCard, PrinterSim};
pub use validate::{CARD_ASPECT, decode_card_png, validate_card_png};
