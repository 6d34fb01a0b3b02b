//! The virtual KTP-el chip and the virtual SAM that rekam's PC/SC driver is tested
//! against, and a client of vpcd (vsmartcard's virtual reader driver for pcscd) that
//! serves either of them to a real pcscd.
//!
//! Both are pure command processors: [`VirtualCard::process`] and
//! [`VirtualSam::process`] take a command APDU and return the response APDU, following
//! the card protocol of rekam issue 17 (blank card with an ICAO LDS1 application whose FCI
//! lists the suites it has keys for, BAC-style mutual authentication in 3DES or AES-128
//! chosen by P1, secure messaging per [`crate::sm`], CREATE FILE /
//! UPDATE BINARY / READ BINARY, chaining, short-only or extended length; the SAM derives
//! the card keys and runs the station's half of the authentication without revealing
//! them). The [`vpcd`] module connects either one to vpcd over TCP: [`serve_vpcd`] in
//! the calling thread, [`spawn_vpcd`] on a thread of its own with a [`VpcdHandle`] that
//! pulls and re-inserts the card.
//!
//! Faults ([`CardFaults`]) are split between the two: the card's `process` answers
//! `memory_full` and `wrong_sw` (set them with [`VirtualCard::set_faults`]; [`spawn_vpcd`]
//! hands them to the card itself); the vpcd client applies `remove_after` and `slow`.

mod card;
mod sam;
#[cfg(test)]
mod tests;
pub mod vpcd;

use std::time::Duration;

pub use card::{CardConfig, FILE_OVERHEAD, VirtualCard};
pub use sam::{SAM_AID, VirtualSam};
pub use vpcd::{
    VpcdCard, VpcdEnd, VpcdHandle, connect_vpcd, serve_connection, serve_vpcd, spawn_vpcd,
};

/// The development issuer master key (ASCII `rekam-dev-master`): **for tests and the
/// simulators only**, never for a real card or SAM. The simulators and the test cards use
/// it when no key is given.
pub const DEV_MASTER_KEY: [u8; 16] = *b"rekam-dev-master";

/// The AID of the card's application: the ICAO LDS1 AID.
pub const LDS1_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];

/// The faults a virtual card can be given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardFaults {
    /// vpcd client: pull the card (close the socket) right after the N-th APDU of this
    /// insertion has been answered, so the host's next APDU finds no card. Fires once:
    /// [`VpcdHandle`] and `rekam-sim card --reinsert` clear it when it has fired.
    pub remove_after: Option<u64>,
    /// Card: every CREATE FILE is answered 6A84 (not enough memory).
    pub memory_full: bool,
    /// Card: the N-th APDU since the card was made (counting from 1, as
    /// [`VirtualCard::apdu_count`] does) is not processed but answered with this bare
    /// status word; a secure messaging session ends with it, as a real card's does when it
    /// answers outside secure messaging.
    pub wrong_sw: Option<(u64, u16)>,
    /// vpcd client: wait this long before answering each APDU.
    pub slow: Option<Duration>,
}

/// Errors of the vpcd client.
#[derive(Debug, thiserror::Error)]
pub enum VcardError {
    /// vpcd did not accept the connection within the time allowed.
    #[error("cannot connect to vpcd at {addr}: {source}")]
    Connect {
        /// vpcd's address.
        addr: std::net::SocketAddr,
        /// The last connection error.
        source: std::io::Error,
    },
    /// The connection failed after it was made.
    #[error("vpcd connection: {0}")]
    Io(#[from] std::io::Error),
    /// The stop flag was raised before vpcd accepted the connection.
    #[error("stopped before vpcd accepted the connection")]
    Stopped,
}

/// A status word as the two bytes that end a response.
fn sw_bytes(sw: u16) -> Vec<u8> {
    sw.to_be_bytes().to_vec()
}
