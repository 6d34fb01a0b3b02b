//! A direct driver for Evolis card printers with a contactless encoding station, for
//! rekam, the KTP-el enrollment station daemon, and a simulator of such a printer. The
//! driver speaks the printer's own escape-command protocol over TCP (the raw port 9100)
//! and implements [`rekam_core::CardPrinter`] with an inline encoder: besides ordinary
//! print jobs, it takes a blank card to the contactless station, holds it there while the
//! station's PC/SC reader writes the chip, then prints and ejects it, or rejects it.
//!
//! * [`protocol`]: commands encoded as bytes, answers parsed into types, a streaming
//!   command decoder;
//! * [`transport`]: the [`Transport`] trait (send a command, read an answer with a time
//!   limit) and its TCP implementation; USB is not implemented (see below);
//! * [`panels`]: the Y, M, C, K and O panels of a card side, derived from its PNG;
//! * [`EvolisPrinter`]: the device; [`EVOLIS_PRINTER_DRIVER`] opens it from the selector
//!   `printer:evolis:HOST:PORT`;
//! * [`sim`]: [`EvolisSim`], the printer simulated on TCP (`rekam-sim evolis`).
//!
//! # Print and encode
//!
//! Encode first, then print: a card whose chip fails is rejected blank, so no printed
//! card is ever wasted on a bad chip, and no printed card leaves without a verified chip.
//!
//! ```text
//! let card = printer.load_card_to_encoder().await?;   // Sic: feeder → contactless station
//! match encoder.write_and_verify(...).await {          // the PC/SC reader at the station
//!     Ok(_) => printer.print_and_eject(card, &job).await?,  // Pmi;B Ss Sr Db×5 [Sv Db×5] Se
//!     Err(_) => printer.reject(card).await?,           // Ser: to the reject box
//! }
//! ```
//!
//! [`CardAtEncoder`] is the card at the station: it must be consumed by
//! [`EvolisPrinter::print_and_eject`] or [`EvolisPrinter::reject`]. While it lives, a
//! second load is refused ([`rekam_core::DeviceError::Busy`]), print jobs wait, and the
//! printer is `Busy`. A failure that left the card where it was (ribbon out, cover open)
//! gives the handle back in [`PrintAndEjectError::card`] for a retry or a reject; after a
//! jam, a time-out or a lost connection the card's place is unknown and the officer
//! clears the printer. A handle dropped unconsumed is rejected in the background. Before
//! loading a card, and before each print job, a card found inside the printer (left by a
//! failure) is rejected, so that no card is encoded or printed twice.
//!
//! # Commands
//!
//! The source is the *Evolis Card Printers Programming Guide*, P/N A5013 rev. E (2003-2004,
//! "the guide"; a copy is in the public repository dpavlin/Printer-EVOLIS,
//! `docs/Programming_Guide_A5013_RevE.pdf`), by section; where it is silent, public
//! programs that drive Evolis printers were read (not copied) to learn what printers
//! answer.
//!
//! | command | what it does here | where specified |
//! |---|---|---|
//! | framing `ESC name;p1;…;pn CR` | every command | guide §3 Communication Protocol |
//! | `Pem;2` | sent on every connection: the host manages errors, so the printer answers an error instead of waiting for a person | guide §8 P, `Pem` |
//! | `Rtp` | model (→ [`rekam_core::DeviceInfo::model`], duplex guess) | guide §8 R, `Rtp` |
//! | `Rfv` | firmware version | guide §8 R, `Rfv` |
//! | `Rsn` | serial number | guide §8 R, `Rsn` |
//! | `Rr` | ribbon type (→ [`rekam_core::CardPrinter::ribbon_type`]) | guide §8 R, `Rr` |
//! | `Rco;l` | prints left on the ribbon | guide §8 R, `Rco` (option printed "I": "the number of card that we can print with the ribbon… not accurate"); `l` as Printer-EVOLIS's `evolis-command.pl` sends it |
//! | `Rse;f` | feeder sensor: cards present or not | guide §8 A `Ase` (sensor `f`, input feeder); `Rse` §8 R lists c/m/o/p/r only; `f` and its answer `0,00`/`5,00 Volts` seen in public kiosk code |
//! | `Rse;o` | cover sensor | guide §8 R, `Rse` |
//! | `Rlr;p` | is a card inside, and where (`OK`, `CARD`, `CONTACTLESS CARD`) | guide §8 R, `Rlr` (o1 `p`); the answers from Evolis's public SDK notes and kiosk code |
//! | `Pmi;B` | print the card inside, else take one from the feeder | guide §8 P, `Pmi` |
//! | `Ss` / `Sr` / `Sv` / `Se` | sequence start, front, back, end (print and eject) | guide §8 S, and §21 Programming Example |
//! | `Db;panel;levels;data` | download one panel | guide §8 D, `Db` |
//! | `Sic` | insert a card to the contactless station | guide §8 S, `Sic` |
//! | `Ser` | eject the card inside into the reject box | guide §8 S, `Ser` |
//! | `St` | print the printer's test card ([`rekam_core::CardJob::test_card`]) | guide §8 S, `St` |
//! | ACK/NACK answers and their codes | parsed, never requested | guide §5 |
//!
//! Names in the task's list that the guide gives other meanings: `Pem` is error
//! management, not eject (eject is the end of a sequence, `Se`; rejection is `Ser`/`Seb`);
//! `Ss`/`Sr` are sequence start and front side, not rejection; `Pc` is colour contrast,
//! not print; `Rlr` reads the last answer, not the ribbon; `Psc` changes the framing
//! characters (not used); `Sis` is the *contact* smart card station (not used);
//! `Ppr` is not in the guide; `Pcim` (card insertion mode of later models, seen in public
//! kiosk code) is not in the guide and not used.
//!
//! # Assumptions (to check on a real printer)
//!
//! * **Answers**: every command is answered once; an answer ends with `CR` or `LF`, or,
//!   when none comes, at a pause of [`transport::ANSWER_IDLE`] after its first bytes. The
//!   guide documents only the ACK/NACK codes; text errors start with `ERR` and are
//!   classified by their words ([`protocol::ErrorKind::from_text`]).
//! * **Sensors**: `Rse` answers a voltage; at least [`SENSOR_ON_VOLTS`] means the feeder
//!   holds cards / the cover is closed. The feeder's direction is from public code; the
//!   cover's is a guess.
//! * **Feeder count**: the printer cannot count its cards, so
//!   [`rekam_core::Supplies::cards_remaining`] is the configured capacity while the feeder
//!   is not empty and 0 when it is. The ribbon's capacity is configured too.
//! * **Bitmaps**: see [`panels`] (648 × 1016 pixels, line order, bit order). Colour
//!   panels are sent at 32 levels (5 bits), K and O at 2.
//! * **Duplex**: guessed from the model's name ([`guess_duplex`]) unless configured.
//! * A printer that is not reachable when the station opens it stays a placeholder until
//!   the daemon opens it again.
//!
//! # Not done
//!
//! USB: no `rusb` transport; [`Transport`] and [`Connector`] are what it implements. The
//! compressed downloads (`Dbc`), magnetic and contact smart card commands, and a
//! background status poll (the state is updated by operations and by
//! [`rekam_core::CardPrinter::supplies`]).

pub mod driver;
pub mod panels;
mod printer;
pub mod protocol;
pub mod sim;
pub mod transport;

pub use driver::{EVOLIS_PRINTER_DRIVER, EvolisDriver};
pub use printer::{
    CardAtEncoder, DRIVER_NAME, EvolisConfig, EvolisPrinter, Identity, PrintAndEjectError,
    SENSOR_ON_VOLTS, guess_duplex, identify,
};
pub use sim::{EvolisSim, SimConfig, SimFault};
pub use transport::{Connector, TcpConnector, Transport, TransportError};
