//! The host side of ISO/IEC 7816-4 for rekam's chip encoder: command and response APDUs in
//! short and extended length, command chaining, GET RESPONSE and Le correction, status words
//! as typed errors, and BER-TLV. It depends on no other rekam crate: any program that talks
//! to a smart card can use it.
//!
//! - [`tlv`]: BER-TLV encoding and borrowing parsers ([`tlv::find_path`] into nested objects).
//! - [`apdu`]: [`Command`] and [`Response`] in the four ISO cases, short and extended;
//!   [`apdu::ins`] instruction bytes.
//! - [`sw`]: [`StatusWord`] and [`CardError`], one variant per meaning.
//! - [`transport`]: the [`Transport`] trait (one round trip), [`Capabilities`] from the ATR
//!   or EF.ATR/INFO, a parsed [`Atr`].
//! - [`channel`]: [`Channel`], which chains, uses extended length, fetches `61xx` with GET
//!   RESPONSE, repeats on `6Cxx` and counts what it transmits.

pub mod apdu;
pub mod channel;
pub mod sw;
pub mod tlv;
pub mod transport;

pub use apdu::{ApduError, Command, Response, ins};
pub use channel::{Channel, ChannelError, Stats};
pub use sw::{CardError, StatusWord};
pub use tlv::{Tlv, TlvError};
pub use transport::{Atr, AtrError, Capabilities, Transport};
