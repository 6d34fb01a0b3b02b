//! `rekam-sim`: rekam's out-of-process simulators in one binary, each speaking the real
//! protocol on its real transport so that tests and technicians can run the daemon against
//! them. The subcommands are the data centre (see [`datacentre`] for what it does, its HTTP
//! API and its faults), SIAK, the population database (see [`siak`]), and the virtual
//! KTP-el chip and SAM served to pcscd through vpcd (see [`card`]).
//!
//! ```sh
//! rekam-sim datacentre --nats nats://127.0.0.1:4222 --http 127.0.0.1:8080 --store /tmp/dc \
//!     --print-delay 2s --fault refuse=3 --fault slow=500ms
//! rekam-sim siak --http 127.0.0.1:8081 --residents crates/rekam-sim/siak-residents.example.json \
//!     --fault unavailable=3 --fault slow=2s --api-key KEY
//! rekam-sim card --vpcd 127.0.0.1:35963 --fault remove-after=12 --reinsert
//! rekam-sim sam --vpcd 127.0.0.1:35964
//! ```
//!
//! Each simulator prints one ready line on stdout when it listens
//! (`rekam-sim datacentre ready http=127.0.0.1:8080 …`,
//! `rekam-sim siak ready http=127.0.0.1:8081 residents=3`,
//! `rekam-sim card ready on 127.0.0.1:35963 uid=…` once vpcd accepted the card) so a test
//! can wait for it.

mod card;
mod datacentre;
mod evolis;
mod fault;
mod serial;
mod siak;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "rekam-sim",
    version,
    about = "rekam's out-of-process simulators"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The central data centre: receives packages over NATS JetStream and HTTP, answers
    /// "received" then "print-ready" (or "duplicate"), with scriptable faults.
    Datacentre(DatacentreArgs),
    /// SIAK, the population database: verifies an applicant's data against a residents
    /// file (match, mismatch with the differing fields, not registered), with scriptable
    /// faults.
    Siak(SiakArgs),
    /// The virtual KTP-el chip, served to pcscd through vpcd: a blank card with its keys,
    /// mutual authentication and secure messaging, with scriptable faults.
    Card(card::CardArgs),
    /// The virtual SAM, served to pcscd through vpcd: derives card keys from the issuer
    /// master key and authenticates cards for the station.
    Sam(card::SamArgs),
    /// The Evolis card printer with its contactless station, on TCP (escape commands),
    /// with scriptable faults.
    Evolis(evolis::EvolisArgs),
    /// An R30x / ZFM optical fingerprint module on a pseudo-terminal (its UART packet
    /// protocol), with a finger placed on command or by itself, and scriptable faults.
    R30x(serial::R30xArgs),
    /// A Wacom ISDV4 serial pen digitizer on a pseudo-terminal, signing by itself, with
    /// scriptable faults.
    Isdv4(serial::Isdv4Args),
}

/// Options of `rekam-sim datacentre`.
#[derive(clap::Args, Debug)]
pub struct DatacentreArgs {
    /// NATS server to consume packages from (JetStream stream REKAM_PACKAGES).
    #[arg(long)]
    pub nats: Option<String>,
    /// Address for the HTTP API (port 0 picks a free port, printed in the ready line).
    #[arg(long)]
    pub http: Option<SocketAddr>,
    /// Folder where received packages and the index are kept (created if missing).
    #[arg(long)]
    pub store: PathBuf,
    /// A separate address for the control API (`/v1/control/faults`); without it the
    /// control API is served on the --http address.
    #[arg(long)]
    pub control: Option<SocketAddr>,
    /// Delay between the "received" answer and the verdict ("print-ready" or "duplicate").
    #[arg(long, default_value = "1s", value_parser = fault::parse_duration)]
    pub print_delay: Duration,
    /// A fault active from the start (repeatable): slow=2s, refuse=3, timeout[=N],
    /// drop-mid-upload=N, duplicate.
    #[arg(long = "fault")]
    pub faults: Vec<String>,
}

/// Options of `rekam-sim siak`.
#[derive(clap::Args)]
pub struct SiakArgs {
    /// Address for the HTTP API, verification and control (port 0 picks a free port,
    /// printed in the ready line).
    #[arg(long)]
    pub http: SocketAddr,
    /// The population: a JSON file with an array of resident records (the JSON of
    /// `rekam_siak::Resident`), NIKs unique.
    #[arg(long)]
    pub residents: PathBuf,
    /// A fault active from the start (repeatable): unavailable[=N], slow=2s, malformed[=N].
    #[arg(long = "fault")]
    pub faults: Vec<String>,
    /// Require `Authorization: Bearer KEY` on verification requests (401 otherwise).
    #[arg(long, env = "REKAM_SIM_SIAK_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // The card and the SAM are synchronous (one vpcd connection each).
    let command = match cli.command {
        Command::Card(args) => return card::run_card(args),
        Command::Sam(args) => return card::run_sam(args),
        Command::R30x(args) => return serial::run_r30x(args),
        Command::Isdv4(args) => return serial::run_isdv4(args),
        other => other,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match command {
        Command::Datacentre(args) => runtime.block_on(datacentre::run(args)),
        Command::Siak(args) => runtime.block_on(siak::run(args)),
        Command::Evolis(args) => runtime.block_on(evolis::run(args)),
        Command::Card(_) | Command::Sam(_) | Command::R30x(_) | Command::Isdv4(_) => Ok(()),
    }
}
