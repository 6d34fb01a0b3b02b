//! `rekamd`, the daemon of a KTP-el enrollment station: it opens the station's devices
//! (fingerprint scanner, camera, signature pad, card printer, chip encoder — real drivers
//! or simulators, chosen by a TOML configuration whose embedded default simulates them
//! all), runs the enrollment procedure over them, and serves both as gRPC services
//! (`rekam.v1`, with standard health checking and server reflection) on a Unix socket
//! and on 127.0.0.1.
//!
//! This crate is the composition root and the API edge: it alone knows every driver and
//! the generated protobuf types; errors become `tonic::Status` in one place
//! ([`status`]); what every HTTP request meets before a service (CORS, the host
//! allowlist, request-body errors) is in [`edge`]. The library form exists so tests can start the daemon in-process.

pub mod access;
pub mod audit;
pub mod authz;
pub mod config;
pub mod console;
pub mod convert;
pub mod datacentre;
pub mod edge;
pub mod fanout;
pub mod idempotency;
pub mod logging;
pub mod metrics;
pub mod names;
pub mod sbi;
pub mod scenario;
pub mod server;
pub mod services;
pub mod status;
pub mod systemd;

pub use config::Config;
pub use server::Daemon;
