//! rekam's IPP card printer driver: `printer:ipp:ipp://host[:port]/path` drives a card
//! printer that speaks the Internet Printing Protocol (IPP/1.1: RFC 8010 encoding, RFC
//! 8011 semantics), as IPP Everywhere printers, CUPS queues and `ippeveprinter` do. The
//! card's sides go to the printer as `image/png` documents; the job is followed until it
//! is printed, fails or is cancelled, and the printer's `printer-state-reasons` become
//! rekam's failures (`NO_CARDS`, `RIBBON_OUT`, `CARD_JAM`, `COVER_OPEN`,
//! `DEVICE_DISCONNECTED`) with a message the officer can act on.
//!
//! * [`IppPrinter`] implements [`rekam_core::Device`] and [`rekam_core::CardPrinter`]:
//!   jobs, the device state, supplies and the self-test ([`printer`] module docs).
//! * [`IPP_PRINTER_DRIVER`] is its [`rekam_core::DriverFactory`] for the daemon's driver
//!   table (URI check, options).
//! * [`reasons`] maps `printer-state-reasons` keywords (with or without their `-report`,
//!   `-warning`, `-error` suffix, RFC 8011 §5.4.12) to failures.
//! * [`client`] is the IPP client: Get-Printer-Attributes, Print-Job, Create-Job +
//!   Send-Document, Get-Job-Attributes, Cancel-Job (RFC 8011 §4.2–4.3).
//!
//! # The IPP client
//!
//! Encoding and decoding are the [`ipp`] crate's (maintained, RFC 8010 complete), used
//! without its own HTTP clients (`default-features = false`): its async client is built on
//! reqwest 0.13 (a second reqwest beside the workspace's 0.12) and its TLS features pull
//! native-tls or aws-lc. The transport is the workspace's reqwest 0.12 with rustls (ring),
//! no OpenSSL: plain HTTP for `ipp://` (loopback or the station's LAN) and HTTPS for
//! `ipps://` (certificates verified against the Web PKI roots unless the device option
//! `tls = "accept-any"` accepts a printer's self-signed certificate).
//!
//! # Two-sided cards
//!
//! A card's back must print on the same card as its front, so it is never a second job
//! (that would print a second card). A two-sided card is one job of two documents:
//! Create-Job with `sides=two-sided-long-edge` and
//! `multiple-document-handling=single-document`, then Send-Document for the front and the
//! back. Only printers that report `multiple-document-jobs-supported=true` and
//! `two-sided-long-edge` in `sides-supported` can; for others ([`CardPrinter::duplex`] is
//! false, e.g. `ippeveprinter`) a card with a back is refused as unsupported.
//!
//! # Not done
//!
//! No discovery (DNS-SD), no IPP notifications (jobs are polled: CUPS 2.4's
//! ippeveprinter, the tests' printer, has no subscription operation to test them against),
//! no printer test card (`CardJob::test_card` is refused), no authentication.
//!
//! [`CardPrinter::duplex`]: rekam_core::CardPrinter::duplex

pub mod client;
mod driver;
pub mod printer;
pub mod reasons;

pub use client::{IppClient, IppError, PrinterUri, TlsCheck};
pub use driver::{DRIVER_NAME, IPP_PRINTER_DRIVER, IppDriver, parse_options};
pub use printer::{DOCUMENT_FORMAT, IppOptions, IppPrinter};
